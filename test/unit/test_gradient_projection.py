"""method.gradient_projection: the night gradient projected off the day gradient where the two conflict (A-GEM), on
hand-made vectors and on a small network's real losses."""
from __future__ import annotations

import pytest
import torch
from torch import nn

from night_seg_training.config import ConfigError, load_config
from night_seg_training.method.gradient_projection import backward_projected, project_off


def test_a_conflicting_night_gradient_loses_its_component_along_the_day() -> None:
    day, night = torch.tensor([2.0, 0.0, 0.0]), torch.tensor([-3.0, 1.0, 0.5])
    projected, cosine = project_off(night, day)
    assert cosine == pytest.approx(-6.0 / (2.0 * night.norm().item()))
    assert torch.allclose(projected, torch.tensor([0.0, 1.0, 0.5]))


def test_an_agreeing_or_orthogonal_night_gradient_is_left_alone() -> None:
    day = torch.tensor([1.0, 1.0, 0.0])
    for night in (torch.tensor([0.5, -0.2, 3.0]), torch.tensor([1.0, -1.0, 0.0])):
        projected, cosine = project_off(night, day)
        assert cosine >= 0
        assert torch.equal(projected, night)
    projected, cosine = project_off(torch.tensor([1.0, 2.0]), torch.zeros(2))  # no day gradient: nothing to keep
    assert (cosine, projected.tolist()) == (0.0, [1.0, 2.0])


def _network() -> tuple[nn.Module, torch.Tensor]:
    """A small network and its inputs, the same at every call."""
    torch.manual_seed(0)
    return nn.Sequential(nn.Linear(4, 8), nn.Tanh(), nn.Linear(8, 1)), torch.randn(16, 4)


def _losses(network: nn.Module, inputs: torch.Tensor, night_target: float) -> tuple[torch.Tensor, torch.Tensor]:
    """The day loss pulls the output towards 1, the night loss towards `night_target` (far below 1: they conflict)."""
    output = network(inputs)
    return ((output - 1.0) ** 2).mean(), ((output - night_target) ** 2).mean()


def _gradient(network: nn.Module) -> torch.Tensor:
    return torch.cat([p.grad.reshape(-1) for p in network.parameters()])


def test_without_a_conflict_it_is_the_plain_backward() -> None:
    network, inputs = _network()
    day, night = _losses(network, inputs, night_target=5.0)
    (day + night).backward()
    plain = _gradient(network)
    network, inputs = _network()
    scalars = backward_projected(*_losses(network, inputs, night_target=5.0), list(network.parameters()))
    assert scalars['gradient/night_projected'] == 0.0 and scalars['gradient/day_night_cosine'] > 0
    assert torch.allclose(_gradient(network), plain, atol=1e-6)


@pytest.mark.parametrize('project', [False, True])
def test_with_a_conflict_only_the_projected_step_keeps_the_day_loss(project: bool) -> None:
    network, inputs = _network()
    day, night = _losses(network, inputs, night_target=-20.0)
    before = day.item()
    if project:
        scalars = backward_projected(day, night, list(network.parameters()))
        assert scalars['gradient/night_projected'] == 1.0 and scalars['gradient/day_night_cosine'] < 0
    else:
        (day + night).backward()
    with torch.no_grad():
        for parameter in network.parameters():
            parameter -= 1e-4 * parameter.grad
        after, _ = _losses(network, inputs, night_target=-20.0)
    assert (after.item() <= before) == project  # the plain sum's step raises the day loss


def test_every_process_projects_the_averaged_gradients() -> None:
    network, inputs = _network()
    seen = []

    def reduce(flat: torch.Tensor) -> torch.Tensor:  # stands in for Distributed.mean: here, two identical processes
        seen.append(flat.shape)
        return flat * 2.0
    backward_projected(*_losses(network, inputs, night_target=-20.0), list(network.parameters()), reduce)
    doubled = _gradient(network)
    network, inputs = _network()
    backward_projected(*_losses(network, inputs, night_target=-20.0), list(network.parameters()))
    count = sum(p.numel() for p in network.parameters())
    assert seen == [torch.Size([count])] * 2
    assert torch.allclose(doubled, 2.0 * _gradient(network), atol=1e-6)


def test_it_needs_a_night_loss() -> None:
    with pytest.raises(ConfigError, match="project_night_gradient needs a night loss; method 'source_only' has none"):
        load_config('synthetic_demo', ['method.name=source_only', 'method.project_night_gradient=true'])

"""The shipped recipes and the config keys that say how a run is evaluated and trained on real data."""
from __future__ import annotations

import pytest

from night_seg_training.config import ConfigError, load_config, per_process_batch

REAL_RECIPES = ('cityscapes_darkzurich_b0', 'cityscapes_darkzurich_b5')


@pytest.mark.parametrize('recipe', REAL_RECIPES)
def test_real_recipes_evaluate_dark_zurich_at_its_aspect(recipe: str) -> None:
    config = load_config(recipe)
    assert config.data.eval_sizes == {'dark_zurich_val': [540, 960]}  # 1080x1920 halved, not 512x1024
    assert config.data.eval_flip is False


@pytest.mark.parametrize(('override', 'message'), [
    ('data.eval_sizes.nowhere=[540, 960]', "data.eval_sizes names 'nowhere', not an evaluation set"),
    ('data.eval_sizes.night=[540]', 'data.eval_sizes.night is [540]; it must be [height, width]'),
    ('data.eval_sizes.night=[16, 960]', 'each an integer >= 32'),
])
def test_eval_sizes_are_checked(override: str, message: str) -> None:
    with pytest.raises(ConfigError, match=message.replace('[', r'\[').replace(']', r'\]')):
        load_config('synthetic_demo', [override])


@pytest.mark.parametrize(('scaling', 'world_size', 'expected'), [
    ('keep', 1, 8), ('keep', 2, 4), ('keep', 8, 1), ('per_process', 1, 8), ('per_process', 4, 8)])
def test_the_effective_batch_under_torchrun(scaling: str, world_size: int, expected: int) -> None:
    config = load_config('synthetic_demo', ['optim.batch_size=8', f'optim.batch_scaling={scaling}'])
    assert per_process_batch(config.optim, world_size) == expected


def test_a_batch_that_cannot_be_divided_among_the_processes_is_refused() -> None:
    optim = load_config('cityscapes_darkzurich_b0').optim
    assert (optim.batch_size, optim.batch_scaling) == (2, 'keep')  # DAFormer's batch of 2 whatever the GPUs
    with pytest.raises(ConfigError, match='optim.batch_size 2 cannot be divided among 4 processes.*effective batch '
                                          'of 8'):
        per_process_batch(optim, 4)
    with pytest.raises(ConfigError, match="optim.batch_scaling is 'double'; allowed: keep, per_process"):
        load_config('synthetic_demo', ['optim.batch_scaling=double'])


@pytest.mark.parametrize('recipe', REAL_RECIPES)
def test_real_recipes_train_the_baselines_as_daformer_and_full_from_the_same_settings(recipe: str) -> None:
    daformer = {'pseudo_weighting': 'image_fraction', 'pseudo_threshold': 0.968, 'unsup_weight': 1.0,
                'classmix': True, 'classmix_classes': 'half', 'strong_augmentation': True,
                'strong_augmentation_style': 'daformer', 'teacher_relight': 0.0, 'ema_alpha': 0.999}
    for method in ('mean_teacher', 'full'):
        config = load_config(recipe, [f'method.name={method}'])
        assert {key: getattr(config.method, key) for key in daformer} == daformer, method
        assert config.data.rare_class_temperature == 0.01
        assert (config.optim.lr, config.optim.batch_size, config.optim.iterations) == (6e-5, 2, 40000)


def test_the_synthetic_recipe_keeps_its_own_choices() -> None:
    method = load_config('synthetic_demo').method
    assert (method.pseudo_weighting, method.unsup_weight, method.strong_augmentation_style) == (
        'confidence', 0.5, 'night')

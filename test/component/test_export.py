"""Tests for the torch -> ONNX export, its parity check, the Hugging Face converter and the `night-seg` CLI."""
from __future__ import annotations

import contextlib
import io
import json
import shutil
from pathlib import Path

import onnx
import pytest
import torch
import torch.nn.functional as F
from safetensors.torch import load_file, save_file
from transformers import SegformerConfig, SegformerForSemanticSegmentation

from night_seg_ros.bundle import ONNX_FILE, WEIGHTS_FILE, BundleError, read_bundle
from night_seg_ros.classes import CITYSCAPES_CLASSES, CITYSCAPES_PALETTE, generated_palette
from night_seg_ros.cli import main
from night_seg_ros.export import MIN_LABEL_AGREEMENT, check_parity, export_and_check, sample_images
from night_seg_ros.hub import bundle_from_hf
from night_seg_ros.model import load_model

HEIGHT, WIDTH = 64, 128
HF_MEAN, HF_STD = (0.5, 0.4, 0.3), (0.2, 0.25, 0.3)
"""Non-ImageNet statistics in the checkpoint's preprocessor_config.json (0-1 units), so their transfer is visible."""


def _save_tiny_hf(directory: Path, id2label: dict[int, str], seed: int = 0) -> SegformerForSemanticSegmentation:
    """Save a tiny random SegFormer with `id2label` (and a preprocessor config) as `save_pretrained` does."""
    torch.manual_seed(seed)
    config = SegformerConfig(hidden_sizes=[8, 16, 24, 32], depths=[1, 1, 1, 1], num_attention_heads=[1, 1, 2, 2],
                             decoder_hidden_size=16, num_labels=len(id2label), id2label=id2label,
                             label2id={name: index for index, name in id2label.items()})
    network = SegformerForSemanticSegmentation(config).eval()
    network.save_pretrained(directory)
    (directory / 'preprocessor_config.json').write_text(json.dumps(
        {'do_rescale': True, 'image_mean': list(HF_MEAN), 'image_std': list(HF_STD)}))
    return network


@pytest.fixture(scope='module')
def hf_export(tmp_path_factory: pytest.TempPathFactory):
    """`night-seg export --hf DIR --out OUT` on a tiny Cityscapes SegFormer: (exit code, stdout, DIR, OUT, network)."""
    root = tmp_path_factory.mktemp('hf')
    source = root / 'checkpoint'
    network = _save_tiny_hf(source, dict(enumerate(CITYSCAPES_CLASSES)))
    out = root / 'bundle'
    stdout = io.StringIO()
    with contextlib.redirect_stdout(stdout):
        code = main(['export', '--hf', str(source), '--out', str(out), '--height', str(HEIGHT), '--width', str(WIDTH),
                     '--samples', '2'])
    return code, stdout.getvalue(), source, out, network


def test_onnx_graph_has_the_documented_interface(tiny_bundle: Path) -> None:
    model = onnx.load(str(tiny_bundle / ONNX_FILE))
    onnx.checker.check_model(model, full_check=True)
    assert max(entry.version for entry in model.opset_import if entry.domain in ('', 'ai.onnx')) >= 17

    def signature(values) -> list[tuple[str, int, list[int]]]:
        return [(value.name, value.type.tensor_type.elem_type,
                 [dim.dim_value for dim in value.type.tensor_type.shape.dim]) for value in values]

    assert signature(model.graph.input) == [('image', onnx.TensorProto.UINT8, [1, HEIGHT, WIDTH, 3])]
    assert signature(model.graph.output) == [('labels', onnx.TensorProto.UINT8, [1, HEIGHT, WIDTH]),
                                             ('confidence', onnx.TensorProto.FLOAT, [1, HEIGHT, WIDTH])]


def test_onnx_runtime_agrees_with_torch(tiny_bundle: Path) -> None:
    report = check_parity(read_bundle(tiny_bundle), sample_images(3, HEIGHT, WIDTH))
    assert report.images == 3
    assert report.label_agreement >= MIN_LABEL_AGREEMENT
    assert report.max_confidence_diff < 1e-4
    assert report.passed
    assert str(report).endswith('-> ok')


@pytest.mark.parametrize('kwargs, match', [
    ({'opset': 16}, r'opset 16 is too old; allowed: >= 17'),
    ({'samples': 0}, r'samples must be >= 1'),
])
def test_export_refuses_bad_arguments(tiny_bundle: Path, kwargs: dict, match: str) -> None:
    onnx_before = (tiny_bundle / ONNX_FILE).read_bytes()
    with pytest.raises(ValueError, match=match):
        export_and_check(read_bundle(tiny_bundle), **kwargs)
    assert (tiny_bundle / ONNX_FILE).read_bytes() == onnx_before


def test_parity_fails_when_onnx_and_weights_disagree(tiny_bundle: Path, tmp_path: Path) -> None:
    """Weights changed after export (classes of the classifier rotated): every label moves, parity must fail."""
    bundle_dir = shutil.copytree(tiny_bundle, tmp_path / 'bundle')
    state = load_file(bundle_dir / WEIGHTS_FILE)
    for key in ('decode_head.classifier.weight', 'decode_head.classifier.bias'):
        state[key] = torch.roll(state[key], shifts=1, dims=0).contiguous()
    save_file(state, bundle_dir / WEIGHTS_FILE)
    report = check_parity(read_bundle(bundle_dir), sample_images(2, HEIGHT, WIDTH))
    assert report.label_agreement < 0.01
    assert not report.passed
    assert 'FAILED' in str(report)


def test_cli_init_then_export(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    bundle_dir = tmp_path / 'untrained'
    assert main(['init', str(bundle_dir), '--height', '32', '--width', '64', '--seed', '3']) == 0
    assert 'wrote untrained b0 bundle' in capsys.readouterr().out
    assert not (bundle_dir / ONNX_FILE).exists()
    assert main(['export', str(bundle_dir), '--samples', '1']) == 0
    out = capsys.readouterr().out
    assert f'wrote {bundle_dir / ONNX_FILE}' in out
    assert 'label agreement' in out and '-> ok' in out
    bundle = read_bundle(bundle_dir)
    assert (bundle.input.height, bundle.input.width) == (32, 64)
    assert bundle.provenance['recipe'] == 'untrained'
    assert bundle.require_onnx().is_file()


@pytest.mark.parametrize('args, match', [
    (['export', '{empty}'], 'has no model.json'),
    (['export', '{missing}'], 'does not exist or is not a directory'),
    (['export', '{bundle}', '--opset', '16'], 'argument --opset: 16 must be >= 17'),
    (['export', '--hf', '{missing}', '--out', '{new}'], 'neither a directory nor a Hugging Face hub id'),
    (['export', '--hf', '{missing}', '--out', '{empty}'], 'already exists'),
    (['export'], 'export needs a BUNDLE directory, or --hf SOURCE --out DIR'),
    (['export', 'bundle', '--hf', 'checkpoint', '--out', 'out'], 'needs --out DIR, no BUNDLE argument'),
    (['export', '--hf', 'checkpoint'], 'needs --out DIR'),
    (['init', '{new}', '--height', '0'], 'argument --height: 0 must be >= 1'),
], ids=['not-a-bundle', 'missing', 'old-opset', 'hf-missing', 'hf-existing-out', 'no-bundle', 'bundle-and-hf',
        'hf-without-out', 'zero-height'])
def test_cli_errors_are_one_line(tiny_bundle: Path, tmp_path: Path, capsys: pytest.CaptureFixture[str],
                                 args: list[str], match: str) -> None:
    paths = {'empty': tmp_path, 'missing': tmp_path / 'missing', 'bundle': tiny_bundle, 'new': tmp_path / 'new'}
    assert main([arg.format(**paths) for arg in args]) == 1
    captured = capsys.readouterr()
    assert captured.out == ''
    assert captured.err.count('\n') == 1
    assert captured.err.startswith(f'night-seg {args[0]}: error: ')
    assert match in captured.err


def test_cli_export_hf_writes_a_checked_bundle(hf_export) -> None:
    code, out, source, bundle_dir, _ = hf_export
    assert code == 0
    assert f'wrote {bundle_dir / ONNX_FILE}' in out and 'label agreement' in out and '-> ok' in out
    bundle = read_bundle(bundle_dir)
    assert bundle.classes == CITYSCAPES_CLASSES
    assert bundle.palette == CITYSCAPES_PALETTE
    assert (bundle.input.height, bundle.input.width) == (HEIGHT, WIDTH)
    assert bundle.input.mean == pytest.approx(tuple(255.0 * v for v in HF_MEAN))
    assert bundle.input.std == pytest.approx(tuple(255.0 * v for v in HF_STD))
    assert bundle.provenance['recipe'] == 'huggingface'
    assert bundle.provenance['source'] == str(source)
    assert str(source) in bundle.provenance['data']
    assert bundle.require_onnx().is_file()


def test_hf_weights_really_transfer(hf_export) -> None:
    """The bundle's model gives the checkpoint's own predictions, computed here from the HF network by hand."""
    *_, bundle_dir, network = hf_export
    image = sample_images(1, HEIGHT, WIDTH, seed=5)
    pixels = torch.from_numpy(image).permute(0, 3, 1, 2).float()
    mean = 255.0 * torch.tensor(HF_MEAN).view(1, 3, 1, 1)
    std = 255.0 * torch.tensor(HF_STD).view(1, 3, 1, 1)
    with torch.inference_mode():
        logits = network(pixel_values=(pixels - mean) / std).logits
        logits = F.interpolate(logits, size=(HEIGHT, WIDTH), mode='bilinear', align_corners=False)
        expected_confidence, expected_labels = torch.softmax(logits, dim=1).max(dim=1)
        labels, confidence = load_model(bundle_dir)(torch.from_numpy(image))
    assert labels.dtype == torch.uint8 and confidence.dtype == torch.float32
    assert len(torch.unique(expected_labels)) > 1  # a constant map would not show which weights were used
    assert (labels.long() == expected_labels).float().mean().item() >= 0.999
    torch.testing.assert_close(confidence, expected_confidence, atol=1e-5, rtol=0)


def test_hf_without_cityscapes_labels_gets_a_generated_palette(tmp_path: Path) -> None:
    id2label = {0: 'dark', 1: 'lit', 2: 'glare'}
    _save_tiny_hf(tmp_path / 'checkpoint', id2label)
    bundle = bundle_from_hf(str(tmp_path / 'checkpoint'), tmp_path / 'bundle', height=HEIGHT, width=WIDTH)
    assert bundle.classes == ('dark', 'lit', 'glare')
    assert bundle.palette == tuple(generated_palette(3))
    assert bundle.arch['config']['num_labels'] == 3
    labels, _ = load_model(bundle)(torch.from_numpy(sample_images(1, HEIGHT, WIDTH)))
    assert int(labels.max()) < 3


def test_hf_source_that_is_neither_directory_nor_hub_id(tmp_path: Path) -> None:
    with pytest.raises(BundleError, match='neither a directory nor a Hugging Face hub id'):
        bundle_from_hf(str(tmp_path / 'missing'), tmp_path / 'bundle')
    assert not (tmp_path / 'bundle').exists()


def test_half_precision_weights_halve_the_files_and_keep_parity(tiny_bundle: Path, tmp_path: Path) -> None:
    from night_seg_ros.model import load_model, save_bundle

    full = read_bundle(tiny_bundle)
    model = load_model(full)
    half = save_bundle(model, tmp_path / 'half', full.arch, full.classes, full.palette, full.provenance,
                       weights_dtype='float16')
    report = export_and_check(half)
    assert report.passed, report
    assert half.weights_path.stat().st_size < 0.6 * full.weights_path.stat().st_size
    assert half.onnx_path.stat().st_size < 0.6 * full.onnx_path.stat().st_size
    reloaded = load_model(half)  # widened back to float32 for torch
    assert all(p.dtype == torch.float32 for p in reloaded.parameters())
    with pytest.raises(ValueError, match='allowed: float32, float16'):
        save_bundle(model, tmp_path / 'bad', full.arch, full.classes, full.palette, full.provenance,
                    weights_dtype='int8')

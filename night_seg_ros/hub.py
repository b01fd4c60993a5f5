"""Bundles from Hugging Face SegFormer checkpoints: a hub id (needs internet) or a `save_pretrained` directory.

This lets a user run the node with a day Cityscapes model, e.g. `nvidia/segformer-b0-finetuned-cityscapes-1024-1024`,
before training anything. Needs torch and transformers.
"""
from __future__ import annotations

import json
import os
import re
from pathlib import Path
from typing import Any

from night_seg_ros.bundle import MODEL_JSON, ONNX_FILE, Bundle, BundleError, InputSpec, read_bundle
from night_seg_ros.classes import CITYSCAPES_CLASSES, CITYSCAPES_PALETTE, generated_palette
from night_seg_ros.provenance import code_version

HUB_ID = re.compile(r'(?!.*(?:--|\.\.))[A-Za-z0-9][A-Za-z0-9._-]*/[A-Za-z0-9][A-Za-z0-9._-]*')
"""A Hugging Face repository id, 'owner/name' (use `fullmatch`). Like the hub, it refuses '--' and '..' anywhere;
with no absolute path and no newline either, 'owner--name' is one folder name inside the cache, a different one for
each id."""

MODEL_CACHE_DIR = '~/.cache/night_seg_ros/models'
"""Where bundles converted from hub ids are kept, unless the node's model_cache_dir says otherwise."""


def _image_stats(source: str) -> tuple[tuple[float, ...], tuple[float, ...]]:
    """Mean and std in 0-255 units from the checkpoint's preprocessor config, ImageNet's when it has none."""
    spec = InputSpec(height=1, width=1)
    config_path = Path(source) / 'preprocessor_config.json'
    if not config_path.is_file():
        return spec.mean, spec.std
    config = json.loads(config_path.read_text())
    # The processor computes (pixel * rescale_factor - image_mean) / image_std; in 0-255 units that is
    # (pixel - image_mean / rescale_factor) / (image_std / rescale_factor).
    scale = 1.0 / float(config.get('rescale_factor', 1 / 255)) if config.get('do_rescale', True) else 1.0
    if not config.get('do_normalize', True):
        return (0.0, 0.0, 0.0), (scale, scale, scale)
    mean = tuple(float(v) * scale for v in config['image_mean']) if 'image_mean' in config else spec.mean
    std = tuple(float(v) * scale for v in config['image_std']) if 'image_std' in config else spec.std
    return mean, std


def _classes_and_palette(id2label: dict[Any, str]) -> tuple[list[str], list[tuple[int, int, int]]]:
    names = [id2label[key] for key in sorted(id2label, key=int)]
    if [name.lower() for name in names] == list(CITYSCAPES_CLASSES):
        return list(CITYSCAPES_CLASSES), list(CITYSCAPES_PALETTE)
    return names, generated_palette(len(names))


def bundle_from_hf(source: str, out_dir: str | os.PathLike, height: int = 512, width: int = 1024) -> Bundle:
    """Write a bundle (model.json + weights.safetensors) from a Hugging Face SegFormer checkpoint.

    `source` is a local directory written by `save_pretrained` or a hub id; the input size is `height` x `width`.
    Raises BundleError when the checkpoint cannot be loaded (no internet, not a SegFormer, missing files).
    """
    from transformers import SegformerForSemanticSegmentation

    from night_seg_ros.model import SegmentationModel, arch_from_config, save_bundle

    local = Path(source).expanduser()
    if not local.is_dir() and not HUB_ID.fullmatch(source):
        raise BundleError(f'{source!r} is neither a directory nor a Hugging Face hub id (owner/name)')
    try:
        network = SegformerForSemanticSegmentation.from_pretrained(str(local) if local.is_dir() else source)
    except (OSError, ValueError) as error:
        where = 'the directory' if local.is_dir() else 'no such directory here, and the Hugging Face hub id'
        raise BundleError(f'cannot load SegFormer checkpoint {source!r} ({where}): {error}') from error
    mean, std = _image_stats(str(local)) if local.is_dir() else _image_stats(_hub_snapshot(source))
    classes, palette = _classes_and_palette(network.config.id2label)
    model = SegmentationModel(network, InputSpec(height=height, width=width, mean=mean, std=std))
    provenance = {'recipe': 'huggingface', 'data': f'pretrained checkpoint {source}', 'iterations': None,
                  'metrics': {}, 'source': source, 'code_version': code_version()}
    return save_bundle(model, out_dir, arch_from_config(network.config), classes, palette, provenance)


def _hub_snapshot(hub_id: str) -> str:
    """Local cache folder of a hub checkpoint already downloaded by `from_pretrained`."""
    from huggingface_hub import snapshot_download

    return snapshot_download(hub_id, allow_patterns=['*.json'])


def hub_cache_folder(hub_id: str, cache_dir: str | os.PathLike) -> Path:
    """The folder directly inside `cache_dir` that holds the bundle converted from `hub_id` ('owner--name').

    Raises ValueError for anything but a hub id 'owner/name' (see HUB_ID), so no id can point outside the cache.
    """
    if not HUB_ID.fullmatch(hub_id):
        raise ValueError(f'{hub_id!r} is not a Hugging Face hub id (owner/name: letters, digits, ".", "_", "-")')
    return Path(cache_dir).expanduser() / hub_id.replace('/', '--')


def resolve_model(spec: str, cache_dir: str | os.PathLike) -> Path:
    """The bundle directory for a node's `model` parameter: a bundle path, or a hub id converted once into the cache.

    A hub id's bundle lands in `cache_dir/<owner>--<name>` (with its ONNX) and is reused on later starts. Raises
    BundleError when a hub id cannot be converted here (no torch or transformers, no internet, an unwritable cache).
    """
    path = Path(spec).expanduser()
    if path.is_dir() or not HUB_ID.fullmatch(spec):
        return path
    target = hub_cache_folder(spec, cache_dir)
    try:
        from night_seg_ros.export import export_onnx

        if not (target / MODEL_JSON).is_file():
            export_onnx(bundle_from_hf(spec, target))
        elif not (target / ONNX_FILE).is_file():  # an earlier conversion stopped before its export
            export_onnx(read_bundle(target))
    except ImportError as error:
        raise BundleError(f'cannot convert model {spec!r}: {error}; a hub id needs torch and transformers') from error
    except OSError as error:
        raise BundleError(f'cannot convert model {spec!r} into {target}: {error}') from error
    return target

"""Safety: nothing loads a pickle from a file a user passes, and no parameter lets a path escape where it should point.

The source scan covers the runtime, training, scripts and experiments: torch.load only with weights_only=True, no
pickle-family loads, no np.load(allow_pickle=True), YAML through safe_load only. Files that are pickles are refused
where weights or checkpoints are read, without running them. A hub id always maps to one folder directly inside the
model cache, a different one for each id; a training run's name cannot leave runs/.
"""
from __future__ import annotations

import ast
import io
import os
import pickle
import shutil
from pathlib import Path

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from night_seg_ros.bundle import WEIGHTS_FILE, BundleError, read_bundle
from night_seg_ros.hub import hub_cache_folder, resolve_model

ROOT = Path(__file__).resolve().parents[2]
SCANNED = ('night_seg_ros', 'training/night_seg_training', 'scripts', 'experiments')
PICKLE_MODULES = {'pickle', 'cPickle', '_pickle', 'dill', 'joblib', 'shelve', 'cloudpickle'}
UNSAFE_YAML = {'load', 'unsafe_load', 'full_load', 'load_all', 'unsafe_load_all', 'full_load_all'}


def _dotted(node: ast.AST) -> str:
    """'a.b.c' for a Name/Attribute chain, '' otherwise."""
    if isinstance(node, ast.Name):
        return node.id
    if isinstance(node, ast.Attribute):
        base = _dotted(node.value)
        return f'{base}.{node.attr}' if base else ''
    return ''


def _keyword_is(call: ast.Call, name: str, value: object) -> bool:
    return any(k.arg == name and isinstance(k.value, ast.Constant) and k.value.value is value for k in call.keywords)


def unsafe_loads(source: str, filename: str = '<source>') -> list[str]:
    """Every call in `source` that could unpickle a file: 'file:line: call'."""
    found = []
    for node in ast.walk(ast.parse(source, filename)):
        if not isinstance(node, ast.Call):
            continue
        name = _dotted(node.func)
        module, _, function = name.rpartition('.')
        unsafe = (
            (name == 'torch.load' and not _keyword_is(node, 'weights_only', True))
            or _keyword_is(node, 'weights_only', False)
            or (module in PICKLE_MODULES and function in {'load', 'loads', 'Unpickler', 'open'})
            or (name in {'np.load', 'numpy.load'} and _keyword_is(node, 'allow_pickle', True))
            or (module == 'yaml' and function in UNSAFE_YAML)
        )
        if unsafe:
            found.append(f'{filename}:{node.lineno}: {name}(...)')
    return found


def test_the_scanner_finds_each_kind_of_unsafe_load():
    source = '\n'.join(['torch.load(p)', 'torch.load(p, weights_only=False)', 'pickle.loads(b)', 'joblib.load(p)',
                        'np.load(p, allow_pickle=True)', 'yaml.load(text, Loader=yaml.Loader)',
                        'model.from_pretrained(p, weights_only=False)',
                        'torch.load(p, weights_only=True)', 'np.load(p)', 'yaml.safe_load(text)'])
    assert [line.split(':')[1] for line in unsafe_loads(source)] == ['1', '2', '3', '4', '5', '6', '7']


def test_no_source_file_loads_a_pickle():
    sources = {folder: sorted((ROOT / folder).rglob('*.py')) for folder in SCANNED}
    assert all(len(paths) >= 2 for paths in sources.values()), {folder: len(paths) for folder, paths in sources.items()}
    found = [hit for paths in sources.values() for path in paths
             for hit in unsafe_loads(path.read_text(), str(path.relative_to(ROOT)))]
    assert found == []


class _Payload:
    """Unpickling this creates the file named in it: proof that code from the file ran."""

    def __init__(self, marker: Path) -> None:
        self.marker = marker

    def __reduce__(self):
        return (Path.touch, (self.marker,))


def pickle_bomb(marker: Path) -> bytes:
    """A torch-style pickle that, if loaded without weights_only, creates `marker`."""
    import torch

    buffer = io.BytesIO()
    torch.save({'weights': _Payload(marker)}, buffer)
    return buffer.getvalue()


def test_pickled_weights_in_a_bundle_are_refused_without_running_them(tiny_bundle: Path, tmp_path: Path):
    pytest.importorskip('torch')
    bundle = Path(shutil.copytree(tiny_bundle, tmp_path / 'bundle'))
    marker = tmp_path / 'pickle_ran'
    (bundle / WEIGHTS_FILE).write_bytes(pickle_bomb(marker))
    with pytest.raises(BundleError, match='safetensors'):
        read_bundle(bundle)
    from night_seg_ros.model import load_model

    with pytest.raises(BundleError):
        load_model(bundle)
    assert not marker.exists()


def test_pickled_checkpoint_is_refused_without_running_it(tmp_path: Path):
    pytest.importorskip('torch')
    from night_seg_training.checkpoint import CheckpointError, load_checkpoint

    marker = tmp_path / 'pickle_ran'
    path = tmp_path / 'last.pt'
    path.write_bytes(pickle_bomb(marker))
    with pytest.raises(CheckpointError, match='cannot read checkpoint'):
        load_checkpoint(path)
    plain = tmp_path / 'plain.pt'
    plain.write_bytes(pickle.dumps(_Payload(marker)))
    with pytest.raises(CheckpointError):
        load_checkpoint(plain)
    assert not marker.exists()


hub_like = st.one_of(
    st.text(max_size=30),
    st.text(alphabet='ab./-_\n\\', max_size=12),
    st.sampled_from(['../x', 'a/../../b', '/abs/x', 'a/b/c', 'a/..', '../..', 'a--b/c', 'a/b..c', 'owner/name\n',
                     '.', 'a/.', '~/x', 'nvidia/segformer-b0-finetuned-cityscapes-1024-1024']),
)


@settings(max_examples=300, deadline=None)
@given(hub_like)
def test_a_hub_id_maps_to_one_folder_directly_inside_the_cache(text: str):
    cache = Path('/cache/models')
    try:
        folder = hub_cache_folder(text, cache)
    except ValueError:
        return
    assert folder.parent == cache
    assert folder.name not in ('', '.', '..') and os.sep not in folder.name and '\n' not in folder.name
    assert folder.resolve().parent == cache.resolve()


@settings(max_examples=300, deadline=None)
@given(hub_like, hub_like)
def test_different_hub_ids_never_share_a_cache_folder(first: str, second: str):
    try:
        folders = hub_cache_folder(first, '/c'), hub_cache_folder(second, '/c')
    except ValueError:
        return
    assert (folders[0] == folders[1]) == (first == second)


def test_a_model_that_is_not_a_hub_id_is_used_as_the_path_given(tmp_path: Path):
    assert resolve_model('../relative/bundle', tmp_path / 'cache') == Path('../relative/bundle')
    assert resolve_model('owner/name\n', tmp_path / 'cache') == Path('owner/name\n')  # not converted into the cache
    assert not (tmp_path / 'cache').exists()


@pytest.mark.parametrize('name', ['../../outside', 'a/b', '/abs', '.hidden', 'run/../..'])
def test_a_training_run_name_cannot_leave_the_runs_folder(name: str):
    from night_seg_training.config import ConfigError, load_config

    with pytest.raises(ConfigError, match='it names the run folder'):
        load_config('synthetic_demo', [f'name={name}'])

"""Every subcommand of `night-seg` and `night-seg-train`, and `seg_node`, fed its documented arguments with bad
values (missing, wrong type, out of range, an output that exists or cannot be written): each ends with exit code 1,
one line naming what is wrong, no traceback, and every input and output byte for byte as it was (nothing written,
nothing removed). Each case runs the installed command in its own process, in a folder of its own whose files are
hashed before and after; the session's bundle and drive, which the cases read, are hashed too.
"""
from __future__ import annotations

import subprocess
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path

import pytest

pytest.importorskip('rosbags', reason='the bag tools read and write bags with rosbags')
pytest.importorskip('night_seg_training', reason='the training commands are half of the tools')

from cli_runs import assert_user_error, command, tree_digest  # noqa: E402

CAMERA = '/camera/image_raw'
BAG = ['bag', '{drive}', 'out', '--model', '{bundle}', '--topic', CAMERA]
EVAL = ['eval', '{bundle}', '--dataset', 'synthetic_night', '--count', '1']
PAIRS = ['pairs', '--day', '{drive}', '--night', '{drive}', '--out', 'pairs']

# (program, arguments, text of the error line); '{bundle}', '{drive}' are the session's tiny bundle and drive, the
# other paths live in the case's folder: existing/ (a folder with a file), a_file, existing.mp4, empty.yaml,
# zero.yaml, binary.yaml, run/ (a run folder whose config.yaml is broken), broken_bag/ (empty metadata.yaml).
CASES = [
    # night-seg export
    ('night-seg', ['export'], 'export needs a BUNDLE directory'),
    ('night-seg', ['export', 'missing'], 'model bundle missing does not exist'),
    ('night-seg', ['export', '{bundle}', '--opset', '5'], 'argument --opset: 5 must be >= 17'),
    ('night-seg', ['export', '{bundle}', '--samples', '0'], 'argument --samples: 0 must be >= 1'),
    ('night-seg', ['export', '{bundle}', '--input-size', '96by64', '--out', 'new'], "'96by64' is not WIDTHxHEIGHT"),
    ('night-seg', ['export', '{bundle}', '--input-size', '100x70', '--out', 'new'], 'multiples of 32'),
    ('night-seg', ['export', '{bundle}', '--input-size', '96x64', '--out', 'existing'], 'existing already exists'),
    ('night-seg', ['export', '{bundle}', '--input-size', '96x64', '--out', 'a_file/new'], 'a_file is a file'),
    ('night-seg', ['export', '{bundle}', '--input-size', '96x64', '--out', '{bundle}', '--force'],
     'would overwrite the input'),
    ('night-seg', ['export', '--hf', 'nowhere', '--out', 'existing'], 'bundle existing already exists'),
    ('night-seg', ['export', '--hf', 'nowhere', '--out', 'new', '--height', '50'], 'multiples of 32'),
    # night-seg init
    ('night-seg', ['init'], 'the following arguments are required: out'),
    ('night-seg', ['init', 'existing'], 'bundle existing already exists'),
    ('night-seg', ['init', '{bundle}'], 'already exists'),
    ('night-seg', ['init', 'new', '--height', '0'], 'argument --height: 0 must be >= 1'),
    ('night-seg', ['init', 'new', '--height', 'tall'], "argument --height: 'tall' is not an integer"),
    ('night-seg', ['init', 'new', '--width', '100'], 'multiples of 32'),
    ('night-seg', ['init', 'new', '--variant', 'b9'], "argument --variant: invalid choice: 'b9'"),
    ('night-seg', ['init', 'new', '--seed', '-1'], 'argument --seed: -1 must be >= 0'),
    ('night-seg', ['init', 'a_file/new'], 'a_file is a file, not a folder'),
    ('night-seg', ['init', '/proc/new'], 'cannot create files in /proc'),
    # night-seg bag
    ('night-seg', ['bag'], 'the following arguments are required: input, output'),
    ('night-seg', ['bag', 'missing', 'out'], 'argument input: missing does not exist'),
    ('night-seg', ['bag', 'a_file', 'out'], 'argument input: a_file is not a folder'),
    ('night-seg', ['bag', 'broken_bag', 'out'], 'must hold a YAML mapping'),
    ('night-seg', ['bag', '{drive}', 'existing', '--model', '{bundle}'], 'output bag existing already exists'),
    ('night-seg', ['bag', '{drive}', 'a_file/out'], 'a_file is a file, not a folder'),
    ('night-seg', ['bag', '{drive}', '/proc/out'], 'cannot create files in /proc'),
    ('night-seg', ['bag', '{drive}', '{drive}', '--force'], 'would overwrite the input'),
    ('night-seg', ['bag', '{drive}', '{drive}/out'], 'would overwrite the input'),
    ('night-seg', [*BAG, '--threads', '100000'], 'argument --threads: 100000 must be >= 0 and <= 256'),
    ('night-seg', [*BAG, '--threads', '-1'], 'argument --threads: -1 must be >= 0'),
    ('night-seg', [*BAG, '--threads', 'many'], "argument --threads: 'many' is not an integer"),
    ('night-seg', [*BAG, '--confidence-threshold', '2'], 'argument --confidence-threshold: 2.0 must be'),
    ('night-seg', [*BAG, '--alpha', '-0.1'], 'argument --alpha: -0.1 must be >= 0'),
    ('night-seg', [*BAG, '--alpha', 'nan'], 'argument --alpha: nan must be'),
    ('night-seg', [*BAG, '--fps', '0'], 'argument --fps: 0.0 must be > 0'),
    ('night-seg', [*BAG, '--backend', 'potato'], "argument --backend: invalid choice: 'potato'"),
    ('night-seg', [*BAG, '--device', 'potato'], "argument --device: 'potato' is not a device"),
    ('night-seg', [*BAG, '--precision', 'fp8'], "argument --precision: invalid choice: 'fp8'"),
    ('night-seg', [*BAG, '--storage', 'zip'], "argument --storage: invalid choice: 'zip'"),
    ('night-seg', ['bag', '{drive}', 'out', '--topic', 'camera image'], 'is not a valid ROS topic name'),
    ('night-seg', ['bag', '{drive}', 'out', '--topic', '/camera//image'], 'is not a valid ROS topic name'),
    ('night-seg', ['bag', '{drive}', 'out', '--topic', '/no/such/topic'], 'topic /no/such/topic is not in the bag'),
    ('night-seg', ['bag', '{drive}', 'out'], 'the bag has 2 topics of type'),
    ('night-seg', [*BAG, '--gt-topic', '/gps/fix'], 'ground-truth topic /gps/fix is sensor_msgs/msg/NavSatFix'),
    ('night-seg', [*BAG, '--output-prefix', '/1seg'], 'is not a valid ROS topic name'),
    ('night-seg', [*BAG, '--mp4', 'existing.mp4'], 'overlay video existing.mp4 already exists'),
    ('night-seg', [*BAG, '--mp4', 'video.avi'], 'argument --mp4: video.avi does not end in .mp4'),
    ('night-seg', [*BAG, '--contact-sheet', 'a_file'], 'contact sheet a_file already exists'),
    ('night-seg', [*BAG, '--mp4', 'same.mp4', '--contact-sheet', 'same.mp4'], 'overlap'),
    ('night-seg', ['bag', '{drive}', 'out', '--model', 'a_file', '--topic', CAMERA], 'is a file, not a folder'),
    ('night-seg', ['bag', '{drive}', 'out', '--model', 'missing', '--topic', CAMERA], "--model 'missing' does not"),
    # night-seg replay, record
    ('night-seg', ['replay'], 'the following arguments are required: bag'),
    ('night-seg', ['replay', 'missing'], 'argument bag: missing does not exist'),
    ('night-seg', ['replay', '{drive}', '--rate', '0'], 'argument --rate: 0.0 must be > 0'),
    ('night-seg', ['replay', '{drive}', '--wait', '-1'], 'argument --wait: -1.0 must be >= 0'),
    ('night-seg', ['replay', '{drive}', '--topics', 'bad topic'], 'is not a valid ROS topic name'),
    ('night-seg', ['replay', 'broken_bag'], 'must hold a YAML mapping'),
    ('night-seg', ['record', 'new'], 'the following arguments are required: --topics'),
    ('night-seg', ['record', 'existing', '--topics', '/x'], 'output bag existing already exists'),
    ('night-seg', ['record', 'a_file/new', '--topics', '/x'], 'a_file is a file, not a folder'),
    ('night-seg', ['record', 'new', '--topics', '/x/'], 'is not a valid ROS topic name'),
    ('night-seg', ['record', 'new', '--topics', '/x', '--duration', '0'], 'argument --duration: 0.0 must be > 0'),
    ('night-seg', ['record', 'new', '--topics', '/x', '--storage', 'zip'], "invalid choice: 'zip'"),
    # night-seg bench
    ('night-seg', ['bench', '--parts', 'potato'], "argument --parts: invalid choice: 'potato'"),
    ('night-seg', ['bench', '--output-sets', 'labels', 'potato'], "argument --output-sets: invalid choice: 'potato'"),
    ('night-seg', ['bench', '--out', 'existing'], '--out existing already exists'),
    ('night-seg', ['bench', '--out', 'a_file/results'], 'a_file is a file, not a folder'),
    ('night-seg', ['bench', '--markdown', 'a_file'], '--markdown a_file already exists'),
    ('night-seg', ['bench', '--work-dir', 'a_file'], '--work-dir a_file is a file'),
    ('night-seg', ['bench', '--iterations', '0'], 'argument --iterations: 0 must be >= 1'),
    ('night-seg', ['bench', '--threads', '100000'], 'argument --threads: 100000 must be >= 0 and <= 256'),
    ('night-seg', ['bench', '--input-sizes', '100x70'], 'multiples of 32'),
    ('night-seg', ['bench', '--cameras', '0x0'], "argument --cameras: '0x0': width and height must be >= 1"),
    ('night-seg', ['bench', '--cameras', '99999x99999'], 'width and height must be <= 8192'),
    ('night-seg', ['bench', '--seconds', '-1'], 'argument --seconds: -1.0 must be > 0'),
    ('night-seg', ['bench', '--rates', '0'], 'argument --rates: 0.0 must be > 0'),
    ('night-seg', ['bench', '--graphs', 'missing.onnx'], 'argument --graphs: missing.onnx does not exist'),
    ('night-seg', ['bench', '--model', 'missing'], 'argument --model: missing does not exist'),
    ('night-seg', ['bench', '--frame-count', '0'], 'argument --frame-count: 0 must be >= 1'),
    # night-seg build-engine, verify-engine
    ('night-seg', ['build-engine'], 'the following arguments are required: bundle'),
    ('night-seg', ['build-engine', '{bundle}', '--precision', 'fp8'], "invalid choice: 'fp8'"),
    ('night-seg', ['build-engine', '{bundle}', '--dla-core', '-1'], 'argument --dla-core: -1 must be >= 0'),
    ('night-seg', ['build-engine', '{bundle}', '--workspace-mib', '0'], 'argument --workspace-mib: 0 must be'),
    ('night-seg', ['build-engine', '{bundle}', '--camera-size', '0x0'], "'0x0' is not WIDTHxHEIGHT"),
    ('night-seg', ['build-engine', '{bundle}', '--precision', 'int8'], '--precision int8 needs --calibration'),
    ('night-seg', ['build-engine', '{bundle}', '--calibration-topic', 'bad topic'], 'is not a valid ROS topic name'),
    ('night-seg', ['verify-engine', '{bundle}', '--min-agreement', '1.5'], 'argument --min-agreement: 1.5 must be'),
    ('night-seg', ['verify-engine', '{bundle}', '--frames', '0'], 'argument --frames: 0 must be >= 1'),
    ('night-seg', ['verify-engine', '{bundle}', '--topic', '/x//y'], 'is not a valid ROS topic name'),
    # night-seg-train train
    ('night-seg-train', ['train'], 'train needs a recipe'),
    ('night-seg-train', ['train', '/no/such/dir/synthetic_demo.yaml'], 'does not exist'),
    ('night-seg-train', ['train', 'potato'], "recipe 'potato' is neither a file nor a shipped recipe"),
    ('night-seg-train', ['train', 'empty.yaml'], 'it is empty'),
    ('night-seg-train', ['train', 'zero.yaml'], 'not int 0'),
    ('night-seg-train', ['train', 'binary.yaml'], 'is not a text file'),
    ('night-seg-train', ['train', 'synthetic_demo', '--device', 'potato'], "'potato' is not a device"),
    ('night-seg-train', ['train', 'synthetic_demo', '--device', 'cuda:99'], '--device cuda:99: this machine'),
    ('night-seg-train', ['train', 'synthetic_demo', '--set', 'method.name=[1'], 'is not valid YAML'),
    ('night-seg-train', ['train', 'synthetic_demo', '--set', 'novalue'], "override 'novalue' is not KEY=VALUE"),
    ('night-seg-train', ['train', 'synthetic_demo', '--set', 'nokey=1'], "unknown config key 'nokey'"),
    ('night-seg-train', ['train', 'synthetic_demo', '--set', 'optim.iterations=0'], 'optim.iterations must be >= 1'),
    ('night-seg-train', ['train', 'synthetic_demo', '--set', 'optim.iterations=many'], "'optim.iterations' must be"),
    ('night-seg-train', ['train', 'synthetic_demo', '--set', 'data.source.count=abc'], "count is 'abc', not int"),
    ('night-seg-train', ['train', 'synthetic_demo', '--set', 'data.val.night.name=kitti'], "unknown dataset name"),
    ('night-seg-train', ['train', 'synthetic_demo', '--set', 'model.variant=b9'], "model.variant is 'b9'"),
    ('night-seg-train', ['train', 'synthetic_demo', '--run-dir', 'a_file'], '--run-dir a_file is a file'),
    ('night-seg-train', ['train', 'synthetic_demo', '--run-dir', 'a_file/run'], 'a_file is a file, not a folder'),
    ('night-seg-train', ['train', '--resume', 'missing'], 'argument --resume: missing does not exist'),
    ('night-seg-train', ['train', '--resume', 'existing'], 'no config.yaml there'),
    ('night-seg-train', ['train', '--resume', 'run'], 'run config run/config.yaml is not valid YAML'),
    ('night-seg-train', ['train', 'synthetic_demo', '--resume', 'run'], 'give a recipe or --resume RUN_DIR'),
    # night-seg-train eval
    ('night-seg-train', ['eval'], 'the following arguments are required: bundle, --dataset'),
    ('night-seg-train', ['eval', 'missing', '--dataset', 'synthetic_night'], 'argument bundle: missing does not'),
    ('night-seg-train', ['eval', '{bundle}', '--dataset', 'kitti'], "argument --dataset: invalid choice: 'kitti'"),
    ('night-seg-train', ['eval', '{bundle}', '--dataset', 'cityscapes'], '--root is required for cityscapes'),
    ('night-seg-train', ['eval', '{bundle}', '--dataset', 'cityscapes', '--root', 'missing'],
     'argument --root: missing does not exist'),
    ('night-seg-train', [*EVAL, '--split', 'bogus'], "split 'bogus'; allowed: train, val, test"),
    ('night-seg-train', [*EVAL, '--count', '0'], 'argument --count: 0 must be >= 1'),
    ('night-seg-train', [*EVAL, '--gallery', '-1'], 'argument --gallery: -1 must be >= 0'),
    ('night-seg-train', [*EVAL, '--seed', '-5'], 'argument --seed: -5 must be >= 0'),
    ('night-seg-train', [*EVAL, '--device', 'potato'], "'potato' is not a device"),
    ('night-seg-train', [*EVAL, '--device', 'cuda:99'], '--device cuda:99: this machine'),
    ('night-seg-train', [*EVAL, '--out', 'existing'], 'results folder --out existing already exists'),
    ('night-seg-train', [*EVAL, '--out', 'a_file'], 'results folder --out a_file already exists'),
    ('night-seg-train', [*EVAL, '--out', 'a_file/results'], 'a_file is a file, not a folder'),
    ('night-seg-train', [*EVAL, '--out', '/proc/results'], 'cannot create files in /proc'),
    ('night-seg-train', [*EVAL, '--input-size', '540'], "argument --input-size: '540' is not HEIGHTxWIDTH"),
    # night-seg-train predict
    ('night-seg-train', ['predict'], 'predict needs a BUNDLE (or --check ZIP alone)'),
    ('night-seg-train', ['predict', 'missing', '--images', 'existing', '--out', 'new'], 'argument bundle: missing'),
    ('night-seg-train', ['predict', '{bundle}', '--out', 'new'], 'predict needs --dataset NAME --root DIR or --images'),
    ('night-seg-train', ['predict', '{bundle}', '--images', 'missing', '--out', 'new'], 'argument --images: missing'),
    ('night-seg-train', ['predict', '{bundle}', '--images', 'existing', '--out', 'a_file'],
     'output folder --out a_file already exists'),
    ('night-seg-train', ['predict', '{bundle}', '--images', 'existing', '--out', 'existing', '--force'],
     'would overwrite the input'),
    ('night-seg-train', ['predict', '{bundle}', '--images', 'existing', '--out', 'a_file/new'], 'a_file is a file'),
    ('night-seg-train', ['predict', '{bundle}', '--images', 'existing', '--out', 'new', '--invalid-below', '2'],
     'argument --invalid-below: 2.0 must be >= 0 and <= 1'),
    ('night-seg-train', ['predict', '{bundle}', '--images', 'existing', '--out', 'new', '--input-size', '0x9'],
     "argument --input-size: '0x9': height and width must be 1 .. 8192"),
    ('night-seg-train', ['predict', '{bundle}', '--images', 'existing', '--out', 'new', '--device', 'potato'],
     "'potato' is not a device"),
    ('night-seg-train', ['predict', '{bundle}', '--dataset', 'kitti', '--out', 'new'], "invalid choice: 'kitti'"),
    ('night-seg-train', ['predict', '{bundle}', '--dataset', 'dark_zurich', '--root', 'missing', '--out', 'new'],
     'argument --root: missing does not exist'),
    ('night-seg-train', ['predict', '--check', 'missing.zip'], 'argument --check: missing.zip does not exist'),
    ('night-seg-train', ['predict', '--check', 'a_file'], 'not a readable zip'),
    # night-seg-train synth
    ('night-seg-train', ['synth'], 'the following arguments are required: out'),
    ('night-seg-train', ['synth', 'existing', '--count', '1'], 'dataset existing already exists'),
    ('night-seg-train', ['synth', 'a_file/data', '--count', '1'], 'a_file is a file, not a folder'),
    ('night-seg-train', ['synth', 'new', '--count', '0'], 'argument --count: 0 must be >= 1'),
    ('night-seg-train', ['synth', 'new', '--count', '1', '--height', '10'], 'height 10; must be a multiple of 32'),
    ('night-seg-train', ['synth', 'new', '--split', 'bogus'], "argument --split: invalid choice: 'bogus'"),
    ('night-seg-train', ['synth', 'new', '--alignment', 'loose'], "argument --alignment: invalid choice: 'loose'"),
    ('night-seg-train', ['synth', 'new', '--seed', '-1'], 'argument --seed: -1 must be >= 0'),
    ('night-seg-train', ['synth', 'existing', '--real-layouts', '--count', '1'], 'dataset existing already exists'),
    ('night-seg-train', ['synth', 'new', '--real-layouts', '--count', '1', '--height', '100'], 'multiple of 32'),
    # night-seg-train drive
    ('night-seg-train', ['drive'], 'the following arguments are required: out'),
    ('night-seg-train', ['drive', 'existing', '--seconds', '1'], 'drive bag existing already exists'),
    ('night-seg-train', ['drive', 'existing', '--seconds', '1', '--route-pair'], 'folder existing already exists'),
    ('night-seg-train', ['drive', 'a_file/drive', '--seconds', '1'], 'a_file is a file, not a folder'),
    ('night-seg-train', ['drive', 'new', '--seconds', '0'], 'argument --seconds: 0.0 must be > 0'),
    ('night-seg-train', ['drive', 'new', '--seconds', '100'], 'leaves the street'),
    ('night-seg-train', ['drive', 'new', '--rate', '0'], 'argument --rate: 0.0 must be > 0'),
    ('night-seg-train', ['drive', 'new', '--rate', '1000'], 'rate 1000.0 Hz; allowed: > 0 and <= 100'),
    ('night-seg-train', ['drive', 'new', '--height', '4'], 'argument --height: 4 must be >= 8'),
    ('night-seg-train', ['drive', 'new', '--speed', '-3'], 'argument --speed: -3.0 must be > 0'),
    ('night-seg-train', ['drive', 'new', '--gps-sigma', '-1'], 'argument --gps-sigma: -1.0 must be >= 0'),
    ('night-seg-train', ['drive', 'new', '--gps-tau', '0'], 'argument --gps-tau: 0.0 must be > 0'),
    ('night-seg-train', ['drive', 'new', '--pass', '-1'], 'argument --pass: -1 must be >= 0'),
    ('night-seg-train', ['drive', 'new', '--storage', 'zip'], "argument --storage: invalid choice: 'zip'"),
    ('night-seg-train', ['drive', 'new', '--time-of-day', 'dusk'], "invalid choice: 'dusk'"),
    ('night-seg-train', ['drive', 'new', '--route-pair', '--day-speed', '0'], 'argument --day-speed: 0.0 must be'),
    # night-seg-train pairs
    ('night-seg-train', ['pairs'], 'the following arguments are required: --day, --night, --out'),
    ('night-seg-train', ['pairs', '--day', 'missing', '--night', '{drive}', '--out', 'pairs'], 'missing does not'),
    ('night-seg-train', ['pairs', '--day', '{drive}', '--night', '{drive}', '--out', 'existing'],
     'dataset --out existing already exists'),
    ('night-seg-train', ['pairs', '--day', '{drive}', '--night', '{drive}', '--out', '{drive}', '--force'],
     'would overwrite the input'),
    ('night-seg-train', [*PAIRS, '--every', '0'], 'argument --every: 0.0 must be > 0'),
    ('night-seg-train', [*PAIRS, '--max-heading', '200'], 'argument --max-heading: 200.0 must be > 0 and <= 180'),
    ('night-seg-train', [*PAIRS, '--val-fraction', '1'], 'val fraction 1.0; allowed: 0 <= fraction < 1'),
    ('night-seg-train', [*PAIRS, '--match', 'image'], "match 'image' describes images with a model"),
    ('night-seg-train', [*PAIRS, '--match', 'potato'], "argument --match: invalid choice: 'potato'"),
    ('night-seg-train', [*PAIRS, '--image-topic', 'bad topic'], 'is not a valid ROS topic name'),
    ('night-seg-train', [*PAIRS, '--device', 'potato'], "'potato' is not a device"),
    ('night-seg-train', [*PAIRS, '--model', 'missing', '--match', 'image'], 'argument --model: missing does not'),
    ('night-seg-train', ['pairs', '--day', 'broken_bag', '--night', '{drive}', '--out', 'pairs'],
     'must hold a YAML mapping'),
    # night-seg-train bench
    ('night-seg-train', ['bench', '--methods', 'bogus'], "method.name is 'bogus'; allowed: source_only"),
    ('night-seg-train', ['bench', '--variant', 'b9'], "argument --variant: invalid choice: 'b9'"),
    ('night-seg-train', ['bench', '--batch', '0'], 'argument --batch: 0 must be >= 1'),
    ('night-seg-train', ['bench', '--crop', '100'], 'data.crop_height is 100; it must be a multiple of 32'),
    ('night-seg-train', ['bench', '--iterations', '0'], 'argument --iterations: 0 must be >= 1'),
    ('night-seg-train', ['bench', '--warmup', '-1'], 'argument --warmup: -1 must be >= 0'),
    ('night-seg-train', ['bench', '--device', 'potato'], "'potato' is not a device"),
    ('night-seg-train', ['bench', '--json', 'a_file'], '--json file a_file already exists'),
    ('night-seg-train', ['bench', '--json', 'a_file/bench.json'], 'a_file is a file, not a folder'),
    # the command lines themselves
    ('night-seg', ['potato'], "argument COMMAND: invalid choice: 'potato'"),
    ('night-seg-train', [], 'the following arguments are required: COMMAND'),
]


WORKERS = 4
"""Cases run this many at a time (each a process, in a folder of its own); the machine's cores set the pace."""
CASE_TIMEOUT_S = 90
"""A case still running after this long did not refuse its bad value before starting the work."""


def _workspace(root: Path) -> Path:
    """A folder with the existing outputs and broken inputs the cases name."""
    root.mkdir()
    (root / 'existing').mkdir()
    (root / 'existing' / 'keep.txt').write_text('mine')
    (root / 'a_file').write_text('mine')
    (root / 'existing.mp4').write_bytes(b'an earlier video')
    (root / 'empty.yaml').write_text('')
    (root / 'zero.yaml').write_text('0\n')
    (root / 'binary.yaml').write_bytes(bytes(range(256)))
    (root / 'run').mkdir()
    (root / 'run' / 'config.yaml').write_text('optim: {iterations: [\n')
    (root / 'broken_bag').mkdir()
    (root / 'broken_bag' / 'metadata.yaml').write_text('')
    return root


@pytest.fixture(scope='module')
def sweep(tmp_path_factory: pytest.TempPathFactory, tiny_bundle: Path, tiny_drive: Path) -> dict[int, tuple]:
    """Case index -> (the finished process, its folder's digest before, after): every case run in a fresh folder,
    WORKERS at a time; the shared bundle and drive are checked by `shared_inputs_unchanged`."""
    root = tmp_path_factory.mktemp('sweep')

    def one(index: int) -> tuple:
        program, arguments, _ = CASES[index]
        folder = _workspace(root / f'case_{index}')
        before = tree_digest(folder)
        args = [arg.format(bundle=tiny_bundle, drive=tiny_drive) for arg in arguments]
        try:  # a bad value is refused before any work: in seconds
            result = command(program, *args, cwd=folder, timeout=CASE_TIMEOUT_S)
        except subprocess.TimeoutExpired as expired:
            result = subprocess.CompletedProcess(expired.cmd, None, str(expired.stdout),
                                                 f'still running after {CASE_TIMEOUT_S} s: the bad value was not '
                                                 'refused before the work started')
        return result, before, tree_digest(folder)

    with ThreadPoolExecutor(WORKERS) as pool:
        return dict(enumerate(pool.map(one, range(len(CASES)))))


@pytest.fixture(scope='module')
def shared_inputs(tiny_bundle: Path, tiny_drive: Path) -> tuple[list[Path], dict[str, str]]:
    """The session's bundle and the folder of its drive (where a stray output beside it would land), hashed before
    the sweep runs."""
    folders = [tiny_bundle, tiny_drive.parent]
    return folders, tree_digest(*folders)


@pytest.mark.parametrize('index', range(len(CASES)),
                         ids=[' '.join([program, *arguments])[:90] for program, arguments, _ in CASES])
def test_a_bad_value_is_one_line_exit_1_and_changes_nothing(shared_inputs: tuple, sweep: dict[int, tuple],
                                                             index: int) -> None:
    result, before, after = sweep[index]
    assert_user_error(result, 1, CASES[index][2])
    assert after == before, 'the case wrote or removed files in its folder'
    folders, digest = shared_inputs
    assert tree_digest(*folders) == digest, 'the sweep changed the bundle or the drive'


def test_every_subcommand_is_swept() -> None:
    from night_seg_ros.cli import build_parser as runtime_parser
    from night_seg_training.cli import build_parser as training_parser

    for program, build in (('night-seg', runtime_parser), ('night-seg-train', training_parser)):
        subcommands = build()._subparsers._group_actions[0].choices
        swept = {arguments[0] for name, arguments, _ in CASES if name == program and arguments}
        assert set(subcommands) <= swept, program


def test_seg_node_refuses_a_bad_parameter_in_one_line(tmp_path: Path) -> None:
    result = command('seg_node', '--ros-args', '-p', 'num_threads:=100000', cwd=tmp_path, timeout=120)
    output = result.stdout + result.stderr
    assert result.returncode == 1, output
    assert 'Traceback' not in output and "parameter 'num_threads' is 100000; allowed: 0 .. 256" in output

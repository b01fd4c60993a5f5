"""Training configuration: one typed tree of dataclasses, read from a YAML recipe, overridden from the command line.

A recipe names only what differs from the defaults below; unknown keys and values of the wrong type are refused with
the key's dotted path and what is allowed. The `method:` section is `method.options.MethodConfig`; what a recipe
leaves unset there is filled in from the method's preset when the config loads (`load_config`), so the resolved
config every run writes (`config.yaml` in its run folder, and in every checkpoint and bundle) holds every value that
ran.
"""
from __future__ import annotations

import dataclasses
import re
import types
import typing
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import yaml

from night_seg_ros.errors import NightSegError
from night_seg_training.method.options import PRESETS, MethodConfig, resolved
from night_seg_training.method.options import problems as method_problems

RUN_NAME = re.compile(r'[A-Za-z0-9][A-Za-z0-9._-]*')
"""What `name` may be: it starts the run folder's name (runs/NAME-METHOD-TIME), so no '/' and no leading '.'."""

RECIPES_DIR = Path(__file__).parent / 'configs'


class ConfigError(NightSegError, ValueError):
    """A recipe or override is invalid; the message names the key and what is allowed."""


@dataclass
class ModelConfig:
    """The network: a SegFormer variant trained from scratch, or initialised from a Hugging Face checkpoint."""

    variant: str = 'b0'
    """SegFormer size b0..b5 (ignored when `init` is set: the checkpoint's config decides)."""
    init: str | None = None
    """Hugging Face hub id or `save_pretrained` directory to start from (e.g. nvidia/mit-b0); None: random init."""
    input_height: int = 512
    """Bundle input height in pixels: the size the deployed network sees (multiple of 32)."""
    input_width: int = 1024
    """Bundle input width in pixels (multiple of 32)."""
    weights_dtype: str = 'float32'
    """How the bundle stores weights: float32, or float16 (half the size on disk; inference still in float32)."""


def _synthetic(name: str, split: str, count: int) -> dict[str, Any]:
    """A dataset spec for synthetic streets generated on the fly at 256x512."""
    return {'name': name, 'split': split, 'count': count, 'height': 256, 'width': 512, 'seed': 0}


@dataclass
class DataConfig:
    """Where the images come from. Each entry is a dataset spec for `training.datasets.build_dataset`."""

    source: dict[str, Any] = field(default_factory=lambda: _synthetic('synthetic_day', 'train', 2000))
    """Labelled day images."""
    target: dict[str, Any] = field(default_factory=lambda: _synthetic('synthetic_night', 'train', 2000))
    """Unlabelled night images with their day references (labels used only by `oracle`)."""
    val: dict[str, dict[str, Any]] = field(default_factory=lambda: {
        'night': _synthetic('synthetic_night', 'val', 100), 'day': _synthetic('synthetic_day', 'val', 100)})
    """Named evaluation sets (labelled); the first one is the headline metric."""
    eval_sizes: dict[str, list[int]] = field(default_factory=dict)
    """[height, width] the network sees each named evaluation set's images at (e.g. {dark_zurich_val: [540, 960]},
    the dataset's aspect as the published evaluations use); a set not named here is seen at the bundle's input size.
    Logits are upsampled bilinearly to the label's size before the argmax either way (evaluate.segment)."""
    eval_flip: bool = False
    """Evaluate with flip test-time augmentation: the class probabilities averaged with the mirror image's."""
    resize_height: int = 256
    """Images are first resized to this height (keeping aspect ratio), then randomly scaled and cropped."""
    scale_min: float = 0.75
    """Smallest random scale factor applied after the resize."""
    scale_max: float = 1.5
    """Largest random scale factor applied after the resize."""
    crop_height: int = 256
    """Training crop height in pixels (multiple of 32)."""
    crop_width: int = 256
    """Training crop width in pixels (multiple of 32)."""
    workers: int = 1
    """Background processes preparing batches (0: in the training process)."""
    rare_class_temperature: float | None = None
    """Rare-class sampling of the day images (rare_class.py; DAFormer: 0.01): the temperature T of
    P(class) = softmax((1 - pixel share) / T). None: the day images are drawn uniformly."""
    rare_class_min_share: float = 0.0015
    """With rare-class sampling, an image shows a class when it covers at least this share of its labelled pixels
    (DAFormer: 3000 pixels of a GTA frame, about 0.15 %)."""


@dataclass
class OptimConfig:
    """AdamW with linear warm-up then polynomial decay (DAFormer's schedule)."""

    lr: float = 6e-5
    """Learning rate of the encoder; the decode head uses `head_lr_mult` times it."""
    head_lr_mult: float = 10.0
    weight_decay: float = 0.01
    warmup_iterations: int = 150
    poly_power: float = 1.0
    batch_size: int = 2
    """Day crops and night crops per step: of all processes together with `batch_scaling` keep, of each with
    per_process."""
    batch_scaling: str = 'keep'
    """Under torchrun with N processes: keep (the recipe's effective batch stays: each process takes batch_size / N,
    which must divide, so the learning rate and iterations stay right) or per_process (each takes batch_size: the
    effective batch N times larger with the same learning rate and iterations; change those yourself)."""
    iterations: int = 4000
    amp: bool = True
    """Mixed precision (bfloat16 autocast) on CUDA; ignored on CPU."""
    head_statistics_images: int = 64
    """After the last iteration, the decode head's BatchNorm statistics are recomputed over this many whole training
    images of each domain the method reads (head_statistics.py; 0 keeps the running statistics of the crops)."""


@dataclass
class ScheduleConfig:
    """When the loop logs, evaluates and checkpoints (in iterations)."""

    log_every: int = 10
    images_every: int = 250
    eval_every: int = 1000
    checkpoint_every: int = 250
    eval_images: int = 4
    """Gallery rows written per evaluation set."""
    pseudo_label_diagnostics: bool = True
    """Measure the teacher's night pseudo-labels against night ground truth where the target set has it
    (synthetic): accuracy, mIoU, sky IoU in the log. For measurement only; never used in a loss."""


@dataclass
class TrainConfig:
    """A whole training run."""

    name: str = 'run'
    seed: int = 0
    model: ModelConfig = field(default_factory=ModelConfig)
    data: DataConfig = field(default_factory=DataConfig)
    method: MethodConfig = field(default_factory=MethodConfig)
    optim: OptimConfig = field(default_factory=OptimConfig)
    schedule: ScheduleConfig = field(default_factory=ScheduleConfig)

    def to_dict(self) -> dict[str, Any]:
        """Plain nested dict (YAML/JSON friendly)."""
        return dataclasses.asdict(self)


def _type_ok(value: Any, annotation: Any) -> bool:
    """Whether `value` fits a field annotation (int is accepted where float is asked)."""
    origin = typing.get_origin(annotation)
    if origin in (typing.Union, types.UnionType):
        return any(_type_ok(value, arg) for arg in typing.get_args(annotation))
    if annotation is type(None):
        return value is None
    if annotation is float:
        return isinstance(value, (int, float)) and not isinstance(value, bool)
    if annotation is int:
        return isinstance(value, int) and not isinstance(value, bool)
    if origin is dict:
        return isinstance(value, dict)
    if origin is list:
        (item,) = typing.get_args(annotation)
        return isinstance(value, list) and all(_type_ok(element, item) for element in value)
    return isinstance(value, annotation)


def _as_annotated(value: Any, annotation: Any) -> Any:
    """`value` (fitting `annotation`, _type_ok) with an int made float where the field is a float (or float | None)."""
    wants_float = annotation is float or (typing.get_origin(annotation) in (typing.Union, types.UnionType)
                                          and float in typing.get_args(annotation)
                                          and int not in typing.get_args(annotation))
    return float(value) if wants_float and isinstance(value, int) and not isinstance(value, bool) else value


def _deep_update(current: dict[str, Any], values: dict[str, Any]) -> dict[str, Any]:
    """A copy of `current` with `values` merged in, recursing into nested dicts."""
    merged = dict(current)
    for key, value in values.items():
        merged[key] = (_deep_update(merged[key], value) if isinstance(value, dict) and isinstance(merged.get(key), dict)
                       else value)
    return merged


def _merge(target: Any, values: dict[str, Any], where: str, deep: bool = False) -> None:
    """Set the fields of dataclass `target` from `values`, recursing into nested dataclasses.

    A dict-valued field is replaced as a whole (a recipe lists all its datasets), or merged key by key when `deep`
    (a command-line override changes one key, e.g. data.source.count=50).
    """
    if not isinstance(values, dict):
        raise ConfigError(f'{where or "recipe"} must be a mapping, got {values!r}')
    hints = typing.get_type_hints(type(target))
    names = {f.name for f in dataclasses.fields(target)}
    for key, value in values.items():
        path = f'{where}.{key}' if where else key
        if key not in names:
            raise ConfigError(f'unknown config key {path!r}; allowed here: {", ".join(sorted(names))}')
        current = getattr(target, key)
        if dataclasses.is_dataclass(current):
            _merge(current, value, path, deep)
        elif deep and isinstance(current, dict) and isinstance(value, dict):
            setattr(target, key, _deep_update(current, value))
        elif not _type_ok(value, hints[key]):
            raise ConfigError(f'config key {path!r} must be {hints[key]}, got {value!r}')
        else:
            setattr(target, key, _as_annotated(value, hints[key]))


def _validate(config: TrainConfig) -> None:
    """Refuse values no run could use."""
    problems = []
    if not RUN_NAME.fullmatch(config.name):
        problems.append(f'name is {config.name!r}; it names the run folder, so allowed: letters, digits, ".", "_" and '
                        '"-", starting with a letter or digit')
    for key in ('model.input_height', 'model.input_width', 'data.crop_height', 'data.crop_width'):
        section, name = key.split('.')
        value = getattr(getattr(config, section), name)
        if value < 32 or value % 32:
            problems.append(f'{key} is {value}; it must be a multiple of 32 and >= 32')
    if config.model.weights_dtype not in ('float32', 'float16'):
        problems.append(f'model.weights_dtype is {config.model.weights_dtype!r}; allowed: float32, float16')
    if not 0 < config.data.scale_min <= config.data.scale_max:
        problems.append(f'data.scale_min/scale_max are {config.data.scale_min}/{config.data.scale_max}; '
                        'need 0 < scale_min <= scale_max')
    problems.extend(method_problems(config.method))
    for key in ('optim.batch_size', 'optim.iterations', 'schedule.log_every', 'schedule.images_every',
                'schedule.eval_every', 'schedule.checkpoint_every'):
        section, name = key.split('.')
        if getattr(getattr(config, section), name) < 1:
            problems.append(f'{key} must be >= 1')
    if config.optim.batch_scaling not in BATCH_SCALINGS:
        problems.append(f'optim.batch_scaling is {config.optim.batch_scaling!r}; allowed: {", ".join(BATCH_SCALINGS)}')
    if config.optim.head_statistics_images < 0:
        problems.append('optim.head_statistics_images must be >= 0')
    if config.data.workers < 0:
        problems.append('data.workers must be >= 0')
    if config.data.rare_class_temperature is not None and config.data.rare_class_temperature <= 0:
        problems.append(f'data.rare_class_temperature is {config.data.rare_class_temperature}; it must be > 0, or '
                        'null for uniform sampling')
    if not 0.0 < config.data.rare_class_min_share < 1.0:
        problems.append(f'data.rare_class_min_share is {config.data.rare_class_min_share}; allowed: 0 < share < 1')
    if not config.data.val:
        problems.append('data.val needs at least one evaluation set')
    for name, size in config.data.eval_sizes.items():
        if name not in config.data.val:
            problems.append(f'data.eval_sizes names {name!r}, not an evaluation set (data.val: '
                            f'{", ".join(config.data.val)})')
        if not (isinstance(size, list) and len(size) == 2 and all(isinstance(v, int) and v >= 32 for v in size)):
            problems.append(f'data.eval_sizes.{name} is {size!r}; it must be [height, width], each an integer >= 32')
    if problems:
        raise ConfigError('invalid config: ' + '; '.join(problems))


BATCH_SCALINGS = ('keep', 'per_process')
"""The values of optim.batch_scaling."""


def per_process_batch(optim: OptimConfig, world_size: int) -> int:
    """The crops of each domain each of `world_size` processes takes per step (`OptimConfig.batch_scaling`);
    ConfigError when keep cannot divide optim.batch_size among the processes."""
    if optim.batch_scaling == 'per_process':
        return optim.batch_size
    if optim.batch_size % world_size:
        raise ConfigError(f'optim.batch_size {optim.batch_size} cannot be divided among {world_size} processes '
                          f'(optim.batch_scaling keep keeps the effective batch); use a multiple of {world_size}, '
                          'fewer processes, or optim.batch_scaling=per_process (an effective batch of '
                          f'{optim.batch_size * world_size} with the same learning rate and iterations)')
    return optim.batch_size // world_size


def parse_override(text: str) -> tuple[list[str], Any]:
    """'optim.lr=1e-4' -> (['optim', 'lr'], 0.0001); the value is parsed as YAML (numbers, booleans, null, lists),
    and a plain string that reads as a number (YAML 1.1 takes '1e-4' for a string) becomes that number."""
    key, sep, raw = text.partition('=')
    if not sep or not key.strip():
        raise ConfigError(f'override {text!r} is not KEY=VALUE (e.g. method.name=full)')
    value = yaml.safe_load(raw)
    return key.strip().split('.'), _number_or_text(value) if isinstance(value, str) else value


def _number_or_text(text: str) -> float | str:
    """float(text) when it reads as a number, else the text itself."""
    try:
        return float(text)
    except ValueError:
        return text


def resolve_recipe(recipe: str | Path) -> Path:
    """A recipe path, or the name of a recipe shipped in night_seg_training/configs (with or without .yaml)."""
    path = Path(recipe)
    if path.is_file():
        return path
    shipped = RECIPES_DIR / (path.name if path.suffix == '.yaml' else f'{path.name}.yaml')
    if shipped.is_file():
        return shipped
    available = ', '.join(sorted(p.stem for p in RECIPES_DIR.glob('*.yaml')))
    raise ConfigError(f'recipe {str(recipe)!r} is neither a file nor a shipped recipe; shipped: {available}')


def load_config(recipe: str | Path | None = None, overrides: list[str] = (),
                base: dict[str, Any] | None = None) -> TrainConfig:
    """Defaults <- `base` (a resolved config dict, when resuming) <- recipe YAML <- KEY=VALUE overrides."""
    config = TrainConfig()
    if base is not None:
        _merge(config, base, '')
    if recipe is not None:
        path = resolve_recipe(recipe)
        try:
            values = yaml.safe_load(path.read_text()) or {}
        except yaml.YAMLError as error:
            raise ConfigError(f'{path}: not valid YAML ({error})') from error
        _merge(config, values, '')
    for text in overrides:
        keys, value = parse_override(text)
        nested: Any = value
        for key in reversed(keys):
            nested = {key: nested}
        _merge(config, nested, '', deep=True)
    if config.method.name in PRESETS:
        config.method = resolved(config.method)  # the method's own values of what the recipe left unset
    _validate(config)
    return config


def save_config(config: TrainConfig, path: Path) -> None:
    """Write the resolved config as YAML (what the run actually used)."""
    from night_seg_ros.files import atomic_write_bytes

    atomic_write_bytes(path, yaml.safe_dump(config.to_dict(), sort_keys=False).encode())

"""Training configuration: one typed tree of dataclasses, read from a YAML recipe, overridden from the command line.

A recipe names only what differs from the defaults below; unknown keys and values of the wrong type are refused with
the key's dotted path and what is allowed. Every run writes its resolved config (`config.yaml`) to its run folder, and
every checkpoint and bundle carries it.
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

from night_seg_ros.classes import CITYSCAPES_CLASSES
from night_seg_ros.errors import NightSegError

METHODS = ('source_only', 'mean_teacher', 'full', 'oracle')
"""The switch between the method and its baselines (DESIGN.md section 1):
source_only   day supervision only;
mean_teacher  + EMA teacher pseudo-labels on night, confidence weighting, strong augmentation, ClassMix;
full          + the night pseudo-labels refined by the day reference, carried by cross attention (static classes);
oracle        day supervision + night ground truth (synthetic data only: an upper bound)."""
TEACHER_METHODS = ('mean_teacher', 'full')
"""The methods that keep an EMA teacher (and so may anchor classes to the start model)."""
RUN_NAME = re.compile(r'[A-Za-z0-9][A-Za-z0-9._-]*')
"""What `name` may be: it starts the run folder's name (runs/NAME-METHOD-TIME), so no '/' and no leading '.'."""

STUDENT_INPUT = {'mean_teacher': {'classmix': True, 'classmix_classes': 'half', 'strong_augmentation': True},
                 'full': {'classmix': True, 'classmix_classes': 'dynamic', 'strong_augmentation': False}}
"""What each method's student night input goes through unless the config says (chosen on the train split,
experiments/NOTEBOOK.md): the mean teacher's only signal is consistency under mixing and augmentation, so without them
it stays at the source-only level; `full`'s signal is the day reference, which half-class mixing and augmentation
dilute, while the day cars, people and bikes it pastes (the reference cannot show night traffic) keep those classes."""

TEACHER_RELIGHT = {'full': 0.25}
"""The brightness each method's teacher lifts the night view to unless the config says (`method.teacher_relight`;
0 for a method not named). Chosen on the train split (experiments/NOTEBOOK.md point 9): it made `full`'s refined
pseudo-labels more accurate (62.3 -> 65.8 %) and the mean teacher's over a run less so (49.9 -> 46.5 %)."""

STATIC_CLASS_NAMES = ('road', 'sidewalk', 'building', 'wall', 'fence', 'pole', 'traffic light', 'traffic sign',
                      'vegetation', 'terrain', 'sky')
"""Classes whose layout does not change between a day and a night visit of the same place."""


PSEUDO_WEIGHTINGS = ('confidence', 'image_fraction')
"""How a pseudo-labelled pixel is weighted in the consistency loss (teacher.pseudo_label_weight)."""
CLASSMIX_CLASSES = ('half', 'dynamic')
"""Which classes of a day crop ClassMix pastes onto the night crop (augment.classmix_masks): `half`, a random half of
the classes present (DACS); `dynamic`, every dynamic class present (car, person, ...), leaving the night scene whole."""
TRANSFERS = ('attention', 'identity')
"""How `full` carries the day prediction to night positions: matched by cross attention, or copied from the same
pixel (cross_attention)."""

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
class MethodConfig:
    """The adaptation method and its hyper-parameters (DAFormer's values where the paper gives none)."""

    name: str = 'full'
    """One of METHODS."""
    ema_alpha: float = 0.999
    """Teacher = alpha * teacher + (1 - alpha) * student after each step (alpha ramps up from 0 early on)."""
    pseudo_weighting: str = 'confidence'
    """How each pseudo-label pixel is weighted (PSEUDO_WEIGHTINGS): `confidence`, its own (refined)
    confidence, which works from scratch; `image_fraction`, DAFormer's fraction of the image above the threshold."""
    pseudo_threshold: float = 0.968
    """The confidence threshold of `image_fraction` weighting (DAFormer: 0.968)."""
    classmix: bool | None = None
    """Paste classes of a day crop onto the night crop (DACS ClassMix). None: the method's own choice
    (STUDENT_INPUT)."""
    classmix_classes: str | None = None
    """Which classes ClassMix pastes (CLASSMIX_CLASSES). None: the method's own choice (STUDENT_INPUT)."""
    strong_augmentation: bool | None = None
    """Photometric strong augmentation (augment.strong_augment) of the student's night input. None: the method's
    own choice (STUDENT_INPUT)."""
    teacher_relight: float | None = None
    """The night view the teacher (and the frozen start model) labels is first lifted towards this mean brightness
    by one gamma per image (augment.relight; the synthetic night averages about 0.12, the day 0.34): a day-trained
    teacher sees dark cars and people better in a brighter image. The student still learns from the night image as
    it is, so the deployed network is unchanged. 0: off. None: the method's own choice (TEACHER_RELIGHT: 0.25 for
    `full`, off for `mean_teacher`); the own_drives recipe sets 0 (no gain on its routes, docs/OWN_DRIVES.md)."""
    unsup_weight: float = 0.5
    """Weight of the night consistency loss against the day supervised loss (`mean_teacher` and `full`). On the
    synthetic test pairs (400 iterations, three seeds, experiments/NOTEBOOK.md point 11) `full` at 0.5 is 0.7 mIoU below
    `source_only` by day where 1.0 lost 1.5, for 0.4 night mIoU; the own_drives recipe keeps the 1.0 its routes
    were measured with."""
    transfer: str = 'attention'
    """How `full` carries the day reference's prediction to night pixels (TRANSFERS): `attention`,
    matched by cross attention anchored by position; `identity`, the same pixel (the ablation)."""
    reference_weight: float = 0.8
    """Share of the day reference in the refined pseudo-label where night and reference both predict a static
    class: refined = (1 - w) p_night + w p_day. 0 turns the refinement off; 1 takes the reference there."""
    overrule_dynamic_below: float = 0.9
    """A night pixel the teacher labels with a dynamic class (car, person, ...) is refined by a static reference
    only when its confidence is below this: 0 never (a car at night is not in the day reference), 1 always. 0.9:
    chosen by experiments/pseudo_labels on the train split (experiments/NOTEBOOK.md)."""
    anchor_classes: list[str] = field(default_factory=list)
    """Classes the start model keeps labelling at night (names from the bundle's classes): where a frozen copy of
    the start model (`model.init`) labels the night view with one of them, the pseudo-label there is its softmax,
    not the mean teacher's nor the refinement's. The mean teacher forgets thin and rare classes at night along with
    the student (poles, people: docs/OWN_DRIVES.md); the frozen start model does not drift. Costs one forward of the
    start model over the night view per step. Empty (the default): off."""
    attention_stage: int = 2
    """Encoder stage (1..4) whose teacher features the cross attention compares (2: 1/8 resolution)."""
    attention_temperature: float = 0.07
    """Softmax temperature over cosine similarities of night (query) and day (key) features."""
    attention_sigma_px: float = 16.0
    """Std in pixels of the network input of the Gaussian prior on where a night location's match lies, around
    the global shift (the parallax of near objects between the day and the night camera)."""
    attention_search_px: float = 96.0
    """Largest horizontal global shift searched, in pixels (yaw and lateral offset of a GPS-matched pair)."""
    attention_search_vertical_px: float = 16.0
    """Largest vertical global shift searched, in pixels."""
    similarity_weighting: bool = False
    """Weight the consistency loss per pixel by the night-day similarity (normalised to mean 1 per image)."""


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
    """Day crops and night crops per step and per process (DDP multiplies by the number of processes)."""
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
    if config.method.name not in METHODS:
        problems.append(f'method.name is {config.method.name!r}; allowed: {", ".join(METHODS)}')
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
    if not 0.0 <= config.method.ema_alpha < 1.0:
        problems.append(f'method.ema_alpha is {config.method.ema_alpha}; allowed: 0 <= alpha < 1')
    if not 0.0 <= config.method.pseudo_threshold < 1.0:
        problems.append(f'method.pseudo_threshold is {config.method.pseudo_threshold}; allowed: 0 <= t < 1')
    if config.method.pseudo_weighting not in PSEUDO_WEIGHTINGS:
        problems.append(f'method.pseudo_weighting is {config.method.pseudo_weighting!r}; allowed: '
                        f'{", ".join(PSEUDO_WEIGHTINGS)}')
    if config.method.classmix_classes not in (None, *CLASSMIX_CLASSES):
        problems.append(f'method.classmix_classes is {config.method.classmix_classes!r}; allowed: '
                        f'{", ".join(CLASSMIX_CLASSES)}')
    if config.method.transfer not in TRANSFERS:
        problems.append(f'method.transfer is {config.method.transfer!r}; allowed: {", ".join(TRANSFERS)}')
    if config.method.teacher_relight is not None and not 0.0 <= config.method.teacher_relight < 1.0:
        problems.append(f'method.teacher_relight is {config.method.teacher_relight}; allowed: 0 (off), a mean '
                        'brightness below 1, or null (the method\'s own)')
    if not 0.0 <= config.method.overrule_dynamic_below <= 1.0:
        problems.append(f'method.overrule_dynamic_below is {config.method.overrule_dynamic_below}; allowed: 0..1')
    unknown = [name for name in config.method.anchor_classes if name not in CITYSCAPES_CLASSES]
    if unknown:
        problems.append(f'method.anchor_classes names {", ".join(map(repr, unknown))}; allowed: '
                        f'{", ".join(CITYSCAPES_CLASSES)}')
    if config.method.anchor_classes and config.method.name not in TEACHER_METHODS:
        problems.append(f'method.anchor_classes needs a teacher; method {config.method.name!r} has none (allowed: '
                        f'{", ".join(TEACHER_METHODS)})')
    if not 0.0 <= config.method.reference_weight <= 1.0:
        problems.append(f'method.reference_weight is {config.method.reference_weight}; allowed: 0 <= w <= 1')
    for key in ('attention_temperature', 'attention_sigma_px'):
        if getattr(config.method, key) <= 0:
            problems.append(f'method.{key} is {getattr(config.method, key)}; it must be > 0')
    for key in ('attention_search_px', 'attention_search_vertical_px'):
        if getattr(config.method, key) < 0:
            problems.append(f'method.{key} is {getattr(config.method, key)}; it must be >= 0')
    if config.method.attention_stage not in (1, 2, 3, 4):
        problems.append(f'method.attention_stage is {config.method.attention_stage}; allowed: 1, 2, 3, 4')
    for key in ('optim.batch_size', 'optim.iterations', 'schedule.log_every', 'schedule.images_every',
                'schedule.eval_every', 'schedule.checkpoint_every'):
        section, name = key.split('.')
        if getattr(getattr(config, section), name) < 1:
            problems.append(f'{key} must be >= 1')
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
    if problems:
        raise ConfigError('invalid config: ' + '; '.join(problems))


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
    _validate(config)
    return config


def save_config(config: TrainConfig, path: Path) -> None:
    """Write the resolved config as YAML (what the run actually used)."""
    from night_seg_ros.files import atomic_write_bytes

    atomic_write_bytes(path, yaml.safe_dump(config.to_dict(), sort_keys=False).encode())

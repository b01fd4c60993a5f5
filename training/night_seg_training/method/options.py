"""The `method:` section of a recipe, and the methods themselves as presets resolved when the config loads.

A method is a `Preset`: what it learns from (day labels, night ground truth, an EMA teacher's pseudo-labels, the day
reference) and its own values of the options a recipe may leave out (`classmix`, `classmix_classes`,
`strong_augmentation`, `teacher_relight`: null in a recipe). `resolved` fills those in from the method's preset, so
the config a run saves, and the bundle's provenance, hold every value that ran. Nothing else branches on a method's
name: the training code reads the preset's flags and the resolved options.

Torch-free: `night_seg_training.config` reads this module when it loads a recipe.
"""
from __future__ import annotations

import dataclasses
from dataclasses import dataclass, field

from night_seg_ros.classes import CITYSCAPES_CLASSES


@dataclass(frozen=True)
class Preset:
    """One method: what it learns from, and its own values of the options a recipe may leave unset."""

    summary: str
    """What the method is, in one line."""
    reads_night: bool
    """It draws night crops (every method but `source_only`)."""
    night_labels: bool
    """It learns from the night ground truth (`oracle`: synthetic data only, an upper bound)."""
    teacher: bool
    """It keeps an EMA teacher whose night pseudo-labels the student learns (method.teacher.EmaTeacher)."""
    reference: bool
    """The pseudo-labels are refined by each night image's day reference (method.refinement), carried to night pixels
    by cross attention or copied (`transfer`)."""
    classmix: bool
    """Its `classmix` when the recipe leaves it unset."""
    classmix_classes: str
    """Its `classmix_classes` when the recipe leaves it unset."""
    strong_augmentation: bool
    """Its `strong_augmentation` when the recipe leaves it unset."""
    teacher_relight: float
    """Its `teacher_relight` when the recipe leaves it unset."""


PRESETS: dict[str, Preset] = {
    'source_only': Preset('day supervision only', reads_night=False, night_labels=False, teacher=False,
                          reference=False, classmix=False, classmix_classes='half', strong_augmentation=False,
                          teacher_relight=0.0),
    'mean_teacher': Preset('+ EMA teacher pseudo-labels on night, confidence-weighted, learned under ClassMix and '
                           'strong augmentation', reads_night=True, night_labels=False, teacher=True,
                           reference=False, classmix=True, classmix_classes='half', strong_augmentation=True,
                           teacher_relight=0.0),
    'full': Preset('+ the pseudo-labels refined on static classes by the day reference, carried by cross attention',
                   reads_night=True, night_labels=False, teacher=True, reference=True, classmix=True,
                   classmix_classes='dynamic', strong_augmentation=False, teacher_relight=0.25),
    'oracle': Preset('day supervision + night ground truth (synthetic data only: an upper bound)', reads_night=True,
                     night_labels=True, teacher=False, reference=False, classmix=False, classmix_classes='half',
                     strong_augmentation=False, teacher_relight=0.0),
}
"""The method and its baselines, one switch (`method.name`). The student-input choices (chosen on the train split,
experiments/NOTEBOOK.md): the mean teacher's only signal is consistency under mixing and augmentation, so it keeps
both; `full`'s signal is the day reference, which half-class mixing and augmentation dilute, so its student sees the
night crop with only the day crop's dynamic classes pasted in (the reference cannot show night traffic). `full`'s
teacher labels a brighter night view (0.25 mean brightness); the other methods' teachers see the night as it is.
`source_only` and `oracle` keep no teacher, so their student-input values are off: nothing of them runs."""

METHODS = tuple(PRESETS)
"""The names `method.name` may take."""
PSEUDO_WEIGHTINGS = ('confidence', 'image_fraction')
"""How a pseudo-labelled pixel is weighted in the consistency loss (pseudo_label.pseudo_label_weight)."""
CLASSMIX_CLASSES = ('half', 'dynamic')
"""Which classes of a day crop ClassMix pastes onto the night crop (augment.classmix_masks): `half`, a random half of
the classes present (DACS); `dynamic`, every dynamic class present (car, person, ...), leaving the night scene whole."""
TRANSFERS = ('attention', 'identity')
"""How `full` carries the day prediction to night pixels: matched by cross attention (CrossAttentionTransfer), or
copied from the same pixel (IdentityTransfer, the ablation)."""
STRONG_AUGMENTATION_STYLES = ('night', 'daformer')
"""Which strong augmentation the student's night input gets (augment.STRONG_AUGMENTATIONS): `night`, harsh
photometric changes reaching night-like darkness (brightness, contrast, saturation, hue, gamma, blur, sensor noise);
`daformer`, DAFormer's colour jitter 0.2 (skipped with p 0.2) and Gaussian blur (p 0.5)."""
PRESET_OPTIONS = ('classmix', 'classmix_classes', 'strong_augmentation', 'teacher_relight')
"""The options a recipe may leave unset (null): each method's preset gives them."""


@dataclass
class MethodConfig:
    """The adaptation method and its hyper-parameters (DAFormer's values where the paper gives none)."""

    name: str = 'full'
    """One of METHODS (PRESETS)."""
    ema_alpha: float = 0.999
    """Teacher = alpha * teacher + (1 - alpha) * student after each step (alpha ramps up from 0 early on)."""
    pseudo_weighting: str = 'confidence'
    """How each pseudo-label pixel is weighted (PSEUDO_WEIGHTINGS): `confidence`, its own (refined)
    confidence, which works from scratch; `image_fraction`, DAFormer's fraction of the image above the threshold."""
    pseudo_threshold: float = 0.968
    """The confidence threshold of `image_fraction` weighting (DAFormer: 0.968)."""
    classmix: bool | None = None
    """Paste classes of a day crop onto the night crop the student learns from (DACS ClassMix). Unset (null): the
    method's own (PRESETS), filled in when the config loads."""
    classmix_classes: str | None = None
    """Which classes ClassMix pastes (CLASSMIX_CLASSES). Unset (null): the method's own (PRESETS)."""
    strong_augmentation: bool | None = None
    """Photometric strong augmentation (augment.strong_augment) of the student's night input. Unset (null): the
    method's own (PRESETS)."""
    strong_augmentation_style: str = 'night'
    """Which strong augmentation (STRONG_AUGMENTATION_STYLES): `night` (chosen on synthetic streets) or `daformer`
    (DAFormer's, in the real recipes)."""
    teacher_relight: float | None = None
    """The night view the teacher (and the frozen start model) labels is first lifted towards this mean brightness
    by one gamma per image (augment.relight; the synthetic night averages about 0.12, the day 0.34): a day-trained
    teacher sees dark cars and people better in a brighter image. The student still learns from the night image as
    it is, so the deployed network is unchanged. 0: off. Unset (null): the method's own (PRESETS: 0.25 for `full`,
    off for `mean_teacher`); the own_drives recipe sets 0."""
    unsup_weight: float = 0.5
    """Weight of the night consistency loss against the day supervised loss (`mean_teacher` and `full`); at 0.5
    `full` keeps more of the day than at 1.0 (experiments/NOTEBOOK.md); the own_drives recipe keeps the 1.0 its routes
    were measured with."""
    transfer: str = 'attention'
    """How `full` carries the day reference's prediction to night pixels (TRANSFERS): `attention`,
    matched by cross attention anchored by position; `identity`, the same pixel (the ablation)."""
    reference_weight: float = 0.8
    """Share of the day reference in the refined pseudo-label where night and reference both predict a static
    class: refined = (1 - w) p_night + w p_day. 0 turns the refinement off; 1 takes the reference there."""
    overrule_dynamic_below: float = 0.9
    """A night pixel the teacher labels with a dynamic class (car, person, ...) is refined by a static reference
    only when its confidence is below this: 0 never (a car at night is not in the day reference), 1 always. Chosen
    by experiments/pseudo_labels on the train split."""
    anchor_classes: list[str] = field(default_factory=list)
    """Classes the start model keeps labelling at night (names from the bundle's classes): where a frozen copy of
    the start model (`model.init`) labels the night view with one of them, the pseudo-label there is its softmax,
    not the mean teacher's nor the refinement's. The mean teacher forgets thin and rare classes at night along with
    the student (poles, people); the frozen start model does not drift. Costs one forward of the start model over
    the night view per step. Empty (the default): off."""
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
    mic_weight: float = 0.0
    """Weight of MIC's masked image consistency (Hoyer et al., CVPR 2023): the student also learns the teacher's
    pseudo-labels of the whole night crop (before ClassMix) from a view of it with `mic_mask_ratio` of its
    `mic_patch_px` blocks set to the normalisation mean (strongly augmented first when `strong_augmentation` is on),
    each pixel weighted as the consistency loss weighs it. Needs a teacher (`mean_teacher`, `full`). 0: off; MIC: 1."""
    mic_patch_px: int = 64
    """MIC's mask block size in pixels of the crop (MIC: 64 on 512x512 crops)."""
    mic_mask_ratio: float = 0.7
    """The share of blocks MIC masks (MIC: 0.7)."""
    similarity_weighting: bool = False
    """Weight the consistency loss per pixel by the cross attention's night-day similarity (normalised to mean 1 per
    image): the paper's first use of the similarity map. Off: on synthetic pairs it did not help
    (experiments/NOTEBOOK.md)."""


def resolved(config: MethodConfig) -> MethodConfig:
    """`config` with every unset option (PRESET_OPTIONS) taken from its method's preset; ValueError for an unknown
    method name. The options a recipe sets stay as they are."""
    if config.name not in PRESETS:
        raise ValueError(f'method.name is {config.name!r}; allowed: {", ".join(METHODS)}')
    preset = PRESETS[config.name]
    return dataclasses.replace(config, **{key: getattr(preset, key) for key in PRESET_OPTIONS
                                          if getattr(config, key) is None})


def problems(config: MethodConfig) -> list[str]:
    """What is wrong with a resolved `config`, one message per problem, each naming its key (method.KEY)."""
    if config.name not in PRESETS:
        return [f'method.name is {config.name!r}; allowed: {", ".join(METHODS)}']
    found = []
    unset = [key for key in PRESET_OPTIONS if getattr(config, key) is None]
    if unset:
        found.append(f'method.{", method.".join(unset)} unset; resolve the config first (method.options.resolved)')
    if not 0.0 <= config.ema_alpha < 1.0:
        found.append(f'method.ema_alpha is {config.ema_alpha}; allowed: 0 <= alpha < 1')
    if not 0.0 <= config.pseudo_threshold < 1.0:
        found.append(f'method.pseudo_threshold is {config.pseudo_threshold}; allowed: 0 <= t < 1')
    if config.pseudo_weighting not in PSEUDO_WEIGHTINGS:
        found.append(f'method.pseudo_weighting is {config.pseudo_weighting!r}; allowed: {", ".join(PSEUDO_WEIGHTINGS)}')
    if config.classmix_classes is not None and config.classmix_classes not in CLASSMIX_CLASSES:
        found.append(f'method.classmix_classes is {config.classmix_classes!r}; allowed: {", ".join(CLASSMIX_CLASSES)}')
    if config.strong_augmentation_style not in STRONG_AUGMENTATION_STYLES:
        found.append(f'method.strong_augmentation_style is {config.strong_augmentation_style!r}; allowed: '
                     f'{", ".join(STRONG_AUGMENTATION_STYLES)}')
    if config.transfer not in TRANSFERS:
        found.append(f'method.transfer is {config.transfer!r}; allowed: {", ".join(TRANSFERS)}')
    if config.teacher_relight is not None and not 0.0 <= config.teacher_relight < 1.0:
        found.append(f'method.teacher_relight is {config.teacher_relight}; allowed: 0 (off), a mean brightness below '
                     '1, or null (the method\'s own)')
    if not 0.0 <= config.overrule_dynamic_below <= 1.0:
        found.append(f'method.overrule_dynamic_below is {config.overrule_dynamic_below}; allowed: 0..1')
    unknown = [name for name in config.anchor_classes if name not in CITYSCAPES_CLASSES]
    if unknown:
        found.append(f'method.anchor_classes names {", ".join(map(repr, unknown))}; allowed: '
                     f'{", ".join(CITYSCAPES_CLASSES)}')
    if config.anchor_classes and not PRESETS[config.name].teacher:
        teachers = [name for name, preset in PRESETS.items() if preset.teacher]
        found.append(f'method.anchor_classes needs a teacher; method {config.name!r} has none (allowed: '
                     f'{", ".join(teachers)})')
    if config.mic_weight < 0:
        found.append(f'method.mic_weight is {config.mic_weight}; it must be >= 0 (0: off)')
    if config.mic_weight > 0 and not PRESETS[config.name].teacher:
        found.append(f'method.mic_weight needs a teacher\'s pseudo-labels; method {config.name!r} has none')
    if config.mic_patch_px < 1:
        found.append(f'method.mic_patch_px is {config.mic_patch_px}; it must be >= 1')
    if not 0.0 <= config.mic_mask_ratio < 1.0:
        found.append(f'method.mic_mask_ratio is {config.mic_mask_ratio}; allowed: 0 <= ratio < 1')
    if not 0.0 <= config.reference_weight <= 1.0:
        found.append(f'method.reference_weight is {config.reference_weight}; allowed: 0 <= w <= 1')
    for key in ('attention_temperature', 'attention_sigma_px'):
        if getattr(config, key) <= 0:
            found.append(f'method.{key} is {getattr(config, key)}; it must be > 0')
    for key in ('attention_search_px', 'attention_search_vertical_px'):
        if getattr(config, key) < 0:
            found.append(f'method.{key} is {getattr(config, key)}; it must be >= 0')
    if config.attention_stage not in (1, 2, 3, 4):
        found.append(f'method.attention_stage is {config.attention_stage}; allowed: 1, 2, 3, 4')
    return found

"""How good are the night pseudo-labels each variant of the method gives, with a fixed teacher?

Loads a teacher from a model bundle, draws night crops with their day references exactly as training does (train
split: this study chooses settings, so it never looks at the validation split the experiment reports), and measures
the pseudo-labels of each variant against the night ground truth of the synthetic data: `teacher` (mean_teacher's
pseudo-labels), `identity` (full, the reference copied from the same pixel) and `attention` (full, matched by
cross attention), plus any `--set KEY=VALUE` variants of full. Prints mean accuracy, mIoU and the IoU of each
diagnostics.WATCHED_CLASSES (sky, car, pole, sidewalk; percent) over the batches, the share of pixels the refinement
gated and changed, and the mean loss weight of the pixels whose truth is each watched class (`weight/<class>`).
`--student BUNDLE` (repeatable) also measures trained students' own predictions on the same training crops: did
they learn what their pseudo-labels taught?

  .venv/bin/python -m experiments.pseudo_labels.study --teacher models/synthetic_demo_b0
  .venv/bin/python -m experiments.pseudo_labels.study --teacher RUN/bundle --alignment coarse \\
      --variant 'sigma 32=method.attention_sigma_px=32'
  .venv/bin/python -m experiments.pseudo_labels.study --teacher runs/adaptation/source_init/bundle \\
      --student runs/adaptation/aligned/full-seed0/bundle
"""
from __future__ import annotations

import argparse
import contextlib
import json

import numpy as np
import torch

from night_seg_ros.bundle import InputSpec
from night_seg_ros.classes import CITYSCAPES_CLASSES, IGNORE_INDEX
from night_seg_training.config import load_config
from night_seg_training.datasets import build_dataset
from night_seg_training.diagnostics import WATCHED_CLASSES, label_quality, watched_classes
from night_seg_training.method.steps import build_method
from night_seg_training.method.teacher import EmaTeacher
from night_seg_training.run import Datasets, build_run
from night_seg_training.segmenter import Segmenter, initial_network

KEYS = ('accuracy', 'miou', *(f'{name}_iou' for name in WATCHED_CLASSES))


def variants(recipe: str, overrides: list[str], extra: list[str]) -> dict[str, object]:
    """Name -> MethodConfig of every variant measured: each is `recipe`'s method with `overrides` (--set), then
    its method name and transfer, or method.name=full and its own overrides (`extra`: NAME=KEY=VALUE[,KEY=VALUE]);
    each resolved for its own method as the config loads."""
    found = {name: load_config(recipe, [*overrides, *changes]).method for name, changes in (
        ('teacher', ['method.name=mean_teacher']),
        ('identity', ['method.name=full', 'method.transfer=identity']),
        ('attention', ['method.name=full', 'method.transfer=attention']))}
    for text in extra:
        name, _, changes = text.partition('=')
        found[name] = load_config(recipe, [*overrides, 'method.name=full', *changes.split(',')]).method
    return found


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument('--teacher', required=True, help='model bundle directory of the teacher')
    parser.add_argument('--recipe', default='synthetic_demo', help='recipe giving data and method settings')
    parser.add_argument('--set', dest='overrides', action='append', default=[], metavar='KEY=VALUE')
    parser.add_argument('--variant', action='append', default=[], metavar='NAME=KEY=VALUE[,KEY=VALUE]',
                        help="an extra variant of full: its name, then config overrides separated by commas, "
                             "applied after the recipe and --set")
    parser.add_argument('--alignment', default=None, help='pair alignment of the synthetic target (aligned, coarse)')
    parser.add_argument('--student', action='append', default=[], metavar='BUNDLE',
                        help='a trained model bundle whose own predictions on the same crops are measured too')
    parser.add_argument('--batches', type=int, default=8, help='batches measured (8)')
    parser.add_argument('--json', help='also write the results here')
    args = parser.parse_args()

    config = load_config(args.recipe, [*args.overrides, 'method.name=full', f'model.init={args.teacher}',
                                       'schedule.pseudo_label_diagnostics=true'])
    spec = dict(config.data.target)
    if args.alignment:
        spec['alignment'] = args.alignment
    target = build_dataset(spec)
    # the run `full` trains from the teacher's bundle, drawing the night crops (with references and ground truth) as
    # training does; the night set stands in for the day one, whose crops are not measured
    run = build_run(config, datasets=Datasets(target, target, {}))
    if not run.diagnose:
        raise SystemExit(f'{spec["name"]} has no night ground truth to measure the pseudo-labels against')
    teacher = EmaTeacher(run.segmenter.eval(), anchored=True)  # the bundle as it is, and as its own start
    drawn = [run.batches[index]['target'] for index in range(args.batches)]
    input_spec = InputSpec(config.model.input_height, config.model.input_width)
    results = {}
    watched = watched_classes(CITYSCAPES_CLASSES)
    for name, method_config in variants(args.recipe, args.overrides, args.variant).items():
        method = build_method(method_config, CITYSCAPES_CLASSES)
        logged: dict[str, list[float]] = {}
        with torch.no_grad():
            for batch in drawn:
                _, weight, scalars = method.pseudo_labels(teacher, batch, contextlib.nullcontext())
                for class_name, index in watched.items():  # mean loss weight of the class's true pixels
                    truly = batch['label'] == index
                    if truly.any():
                        scalars[f'weight/{class_name}'] = weight[truly].mean().item()
                for key, value in scalars.items():
                    logged.setdefault(key, []).append(value)
        results[name] = {key: float(np.mean(values)) for key, values in logged.items()}
    for path in args.student:
        student = Segmenter(initial_network('b0', path)[0], input_spec).eval()
        with torch.no_grad():
            measured = [label_quality(student(batch['image']).argmax(1), batch['label'], len(CITYSCAPES_CLASSES),
                                      IGNORE_INDEX, watched) for batch in drawn]
        results[f'student {path}'] = {f'pseudo/{key}': float(np.mean([m[key] for m in measured if key in m]))
                                      for key in KEYS}
    print(f'teacher {args.teacher}; target {spec["name"]} {spec.get("split")} alignment '
          f'{spec.get("alignment", "aligned")}; {args.batches} batches of {config.optim.batch_size} crops '
          f'{config.data.crop_height}x{config.data.crop_width}')
    width = max(14, *(len(name) + 1 for name in results))
    weights = [f'weight/{class_name}' for class_name in watched]
    key_width = max(10, *(len(key) + 1 for key in KEYS))
    weight_width = max(14, *(len(key) + 1 for key in weights))
    print(f'{"variant":<{width}}' + ''.join(f'{key:>{key_width}}' for key in KEYS)
          + f'{"gated":>8}{"changed":>9}{"shift_x":>9}' + ''.join(f'{key:>{weight_width}}' for key in weights))
    for name, result in results.items():
        refinement = [100 * result[f'refine/{key}_fraction'] if f'refine/{key}_fraction' in result else None
                      for key in ('gate', 'changed')] + [result.get('attention/shift_x_px')]
        print(f'{name:<{width}}'
              + ''.join(f'{result.get("pseudo/" + key, float("nan")):>{key_width}.1f}' for key in KEYS)
              + ''.join('-'.rjust(size) if value is None else f'{value:>{size}.1f}'
                        for value, size in zip(refinement, (8, 9, 9), strict=True))
              + ''.join('-'.rjust(weight_width) if key not in result else f'{result[key]:>{weight_width}.3f}'
                        for key in weights))
    if args.json:
        with open(args.json, 'w') as stream:
            json.dump({'args': vars(args), 'results': results}, stream, indent=2)


if __name__ == '__main__':
    main()

"""The own-drives adaptation table over routes and training seeds, from the held-out metrics in figures/.

Each run's figure is figures/<route folder>_<run>.json ({'own_night': metrics, 'day': metrics}, as `--collect` copies
them from runs/<route folder>/<run>/eval/), the start's <route folder>_before.json. Prints, per route, night mIoU
before, after each run (the seeds of one setting), their mean and spread (sample standard deviation), the mean gain and
the day mIoU; then the mean over routes. With `--present`, night mIoU counts only the classes with ground-truth pixels
in the route's held-out frames (the standard mIoU also counts, at 0 IoU, a class with none that the model predicts
somewhere), and the classes that drops are named per route.

  .venv/bin/python -m experiments.own_drives.table --collect runs --runs adapt_crop384 adapt_crop384_seed1
  .venv/bin/python -m experiments.own_drives.table --runs adapt_anchor --present
"""
from __future__ import annotations

import argparse
import json
import statistics
from pathlib import Path

import numpy as np

from experiments.stats import mean_spread

FIGURES = Path(__file__).resolve().parent / 'figures'
ROUTES = {'own_r13': 13, 'own2': 11, 'own': 7, 'own_r3': 3, 'own_r5': 5}
"""Route folder -> the generator seed of its route (`night-seg-train drive --route-pair --seed`)."""


def collect(runs: Path, names: list[str]) -> None:
    """Copy the held-out night and day metrics of every finished run runs/<route>/<name> into FIGURES."""
    for folder in ROUTES:
        for name in names:
            evaluation = runs / folder / name / 'eval'
            if not (evaluation / 'own_night' / 'metrics.json').is_file():
                continue
            figure = {split: json.loads((evaluation / split / 'metrics.json').read_text())
                      for split in ('own_night', 'day')}
            (FIGURES / f'{folder}_{name}.json').write_text(json.dumps(figure, indent=1) + '\n')
            print(f'collected {folder}_{name}.json')


def present_miou(metrics: dict) -> tuple[float, list[str]]:
    """mIoU (percent) over the classes with ground-truth pixels (rows of metrics['confusion'], in the order of
    metrics['iou']), and the names of the classes the standard mIoU counts without any."""
    truth = np.asarray(metrics['confusion']).sum(axis=1)
    names = list(metrics['iou'])
    present = [metrics['iou'][name] for name, pixels in zip(names, truth, strict=True) if pixels > 0]
    absent = [name for name, pixels in zip(names, truth, strict=True)
              if pixels == 0 and metrics['iou'][name] is not None]
    return float(np.mean(present)), absent


def table(names: list[str], present: bool = False) -> str:
    """The markdown table of night mIoU per route and run, with night, gain and day means over the runs and routes;
    `present`: night mIoU over the classes with ground truth (present_miou), and the classes that leaves out."""
    def night_miou(metrics: dict) -> float:
        return present_miou(metrics)[0] if present else metrics['miou']

    head = ['route', 'before', *names, 'night mean', 'gain', 'day mean', *(['left out'] if present else [])]
    lines = ['| ' + ' | '.join(head) + ' |', '|' + '---|' * len(head)]
    gains, nights, days = [], [], []
    for folder, seed in ROUTES.items():
        before_metrics = json.loads((FIGURES / f'{folder}_before.json').read_text())
        before = night_miou(before_metrics)
        paths = [FIGURES / f'{folder}_{name}.json' for name in names]
        runs = [json.loads(path.read_text()) if path.is_file() else None for path in paths]
        found = [run for run in runs if run is not None]
        if not found:
            continue
        night = [night_miou(run['own_night']) for run in found]
        day = [run['day']['miou'] for run in found]
        cells = [f'{night_miou(run["own_night"]):.1f}' if run is not None else '-' for run in runs]
        route_gains = [value - before for value in night]
        gains.append(statistics.fmean(route_gains))
        nights.append(statistics.fmean(night))
        days.append(statistics.fmean(day))
        row = (f'| {seed} | {before:.1f} | ' + ' | '.join(cells) + f' | {mean_spread(night)} | '
               f'{mean_spread(route_gains)} (min {min(route_gains):+.1f}) | {mean_spread(day)} |')
        if present:
            left_out = sorted({name for metrics in [before_metrics, *(run['own_night'] for run in found)]
                               for name in present_miou(metrics)[1]})
            row += f' {", ".join(left_out) or "-"} |'
        lines.append(row)
    if not gains:
        raise SystemExit(f'no figure {FIGURES}/<route>_<run>.json for runs {", ".join(names)}; '
                         f'routes: {", ".join(ROUTES)} (--collect RUNS_DIR copies them from finished runs)')
    lines.append('| mean over routes | ' + ' | ' * len(names) + f' | {statistics.fmean(nights):.1f} | '
                 f'{statistics.fmean(gains):+.1f} | {statistics.fmean(days):.1f} |' + (' |' if present else ''))
    return '\n'.join(lines)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument('--runs', nargs='+', required=True, help='run folder names, one per seed of a setting')
    parser.add_argument('--collect', type=Path, metavar='RUNS_DIR',
                        help='first copy the finished runs\' metrics from RUNS_DIR/<route>/<run>/eval/')
    parser.add_argument('--present', action='store_true',
                        help='night mIoU over the classes with ground truth in each route\'s held-out frames')
    args = parser.parse_args()
    if args.collect is not None:
        collect(args.collect, args.runs)
    print(table(args.runs, args.present))


if __name__ == '__main__':
    main()

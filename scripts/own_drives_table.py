#!/usr/bin/env python3
"""The own-drives adaptation table over routes and training seeds, from the held-out metrics in docs/figures.

Each run's figure is docs/figures/own_drives/<route folder>_<run>.json ({'own_night': metrics, 'day': metrics}, as
`--collect` copies them from runs/<route folder>/<run>/eval/), the start's <route folder>_before.json. Prints, per
route, night mIoU before, after each run (the seeds of one setting), their mean and spread (sample standard
deviation), the mean gain and the day mIoU; then the mean over routes.

  .venv/bin/python scripts/own_drives_table.py --collect runs --runs adapt_crop384 adapt_crop384_seed1
"""
from __future__ import annotations

import argparse
import json
import statistics
from pathlib import Path

from night_seg_training.evaluate import mean_spread

FIGURES = Path(__file__).resolve().parent.parent / 'docs' / 'figures' / 'own_drives'
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


def table(names: list[str]) -> str:
    """The markdown table of night mIoU per route and run, with night, gain and day means over the runs and routes."""
    head = ['route', 'before', *names, 'night mean', 'gain', 'day mean']
    lines = ['| ' + ' | '.join(head) + ' |', '|' + '---|' * len(head)]
    gains, nights, days = [], [], []
    for folder, seed in ROUTES.items():
        before = json.loads((FIGURES / f'{folder}_before.json').read_text())['miou']
        paths = [FIGURES / f'{folder}_{name}.json' for name in names]
        runs = [json.loads(path.read_text()) if path.is_file() else None for path in paths]
        found = [run for run in runs if run is not None]
        if not found:
            continue
        night = [run['own_night']['miou'] for run in found]
        day = [run['day']['miou'] for run in found]
        cells = [f'{run["own_night"]["miou"]:.1f}' if run is not None else '-' for run in runs]
        route_gains = [value - before for value in night]
        gains.append(statistics.fmean(route_gains))
        nights.append(statistics.fmean(night))
        days.append(statistics.fmean(day))
        lines.append(f'| {seed} | {before:.1f} | ' + ' | '.join(cells) + f' | {mean_spread(night)} | '
                     f'{mean_spread(route_gains)} (min {min(route_gains):+.1f}) | {mean_spread(day)} |')
    if not gains:
        raise SystemExit(f'no figure {FIGURES}/<route>_<run>.json for runs {", ".join(names)}; '
                         f'routes: {", ".join(ROUTES)} (--collect RUNS_DIR copies them from finished runs)')
    lines.append('| mean over routes | ' + ' | ' * len(names) + f' | {statistics.fmean(nights):.1f} | '
                 f'{statistics.fmean(gains):+.1f} | {statistics.fmean(days):.1f} |')
    return '\n'.join(lines)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument('--runs', nargs='+', required=True, help='run folder names, one per seed of a setting')
    parser.add_argument('--collect', type=Path, metavar='RUNS_DIR',
                        help='first copy the finished runs\' metrics from RUNS_DIR/<route>/<run>/eval/')
    args = parser.parse_args()
    if args.collect is not None:
        collect(args.collect, args.runs)
    print(table(args.runs))


if __name__ == '__main__':
    main()

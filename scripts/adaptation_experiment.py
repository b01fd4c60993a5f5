#!/usr/bin/env python3
"""The adaptation experiment on synthetic streets: source_only, mean_teacher, full and oracle with the same recipe,
budget and seed, evaluated on the synthetic night and day validation splits; writes the table to docs/ADAPTATION.md.

Each method is an ordinary `night-seg-train train` run (the exact command is printed and written to the document);
a method whose run folder already holds metrics.json is not run again (delete the folder to rerun it).

  .venv/bin/python scripts/adaptation_experiment.py        # run folders in runs/adaptation/<method>/
  .venv/bin/python scripts/adaptation_experiment.py --set optim.iterations=50 --out /tmp/quick --doc /tmp/quick.md
"""
from __future__ import annotations

import argparse
import json
import platform
import re
import shlex
import subprocess
import sys
from pathlib import Path

from night_seg_ros.classes import CITYSCAPES_CLASSES
from night_seg_training.evaluate import format_table

METHODS = ('source_only', 'mean_teacher', 'full', 'oracle')


def command(recipe: str, method: str, run_dir: Path, overrides: list[str]) -> list[str]:
    """The night-seg-train command line of one method's run."""
    args = ['night-seg-train', 'train', recipe, '--set', f'method.name={method}', '--run-dir', str(run_dir)]
    for override in overrides:
        args += ['--set', override]
    return args


def seconds_per_iteration(run_dir: Path) -> float | None:
    """The median iteration time the run logged (None if it did not)."""
    found = re.findall(r'median ([0-9.]+) s per iteration', (run_dir / 'train.log').read_text())
    return float(found[-1]) if found else None


def gap_closure(results: dict[str, dict]) -> float:
    """(full - source_only) / (oracle - source_only) on night mIoU."""
    night = {name: results[name]['night']['miou'] for name in ('source_only', 'full', 'oracle')}
    return (night['full'] - night['source_only']) / (night['oracle'] - night['source_only'])


def write_document(path: Path, recipe: str, out: Path, overrides: list[str], results: dict[str, dict]) -> None:
    """docs/ADAPTATION.md: setup, commands, the per-class night table, mIoU night/day, gap closure."""
    night = {name: result['night'] for name, result in results.items()}
    lines = [
        '# Day -> night adaptation on synthetic streets',
        '',
        'Every number below comes from the command at the end of this page (one run per method, same recipe, '
        'iterations and seed). The data are **procedurally generated synthetic streets** (`night_seg_training.synth`): '
        'labelled day images, unlabelled night images of the same places with a small camera shift and other '
        'moving objects, and night ground truth used only by `oracle` and for evaluation. They say how the method '
        'behaves on a controlled day-night gap, not what it reaches on Dark Zurich.',
        '',
        f'Recipe `{recipe}`' + (f' with `{" ".join(overrides)}`' if overrides else '') + '; machine: '
        f'{platform.processor() or platform.machine()}, Python {platform.python_version()}.',
        '',
        '## mIoU (19 classes, percent)',
        '',
        '| method | night val mIoU | day val mIoU | median s / iteration |',
        '|---|---|---|---|',
    ]
    for name, result in results.items():
        seconds = result.get('seconds_per_iteration')
        lines.append(f'| {name} | {result["night"]["miou"]:.1f} | {result["day"]["miou"]:.1f} | '
                     f'{seconds:.2f} |' if seconds else f'| {name} | {result["night"]["miou"]:.1f} | '
                     f'{result["day"]["miou"]:.1f} | - |')
    if all(name in results for name in ('source_only', 'full', 'oracle')):
        source, oracle = results['source_only'], results['oracle']
        gap = oracle['night']['miou'] - source['night']['miou']
        lines += ['', f'**The day-night gap**: source_only reaches {source["day"]["miou"]:.1f} mIoU by day and '
                      f'{source["night"]["miou"]:.1f} by night; the oracle, trained on night labels with the same '
                      f'budget, reaches {oracle["night"]["miou"]:.1f} by night ({gap:.1f} points above source_only).',
                  '', f'**Gap closure** (full - source_only) / (oracle - source_only) on night mIoU: '
                      f'**{gap_closure(results):.2f}**']
    lines += ['', '## Per-class IoU on the synthetic night validation split (percent)', '',
              format_table(night, CITYSCAPES_CLASSES), '',
              '## Commands', '', '```']
    lines += [shlex.join(command(recipe, name, out / name, overrides)) for name in results]
    lines += [shlex.join(['.venv/bin/python', 'scripts/adaptation_experiment.py', '--recipe', recipe, '--out',
                          str(out)] + [item for o in overrides for item in ('--set', o)]), '```', '']
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text('\n'.join(lines))


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument('--recipe', default='synthetic_demo', help='recipe shared by every method (synthetic_demo)')
    parser.add_argument('--methods', nargs='+', default=list(METHODS), choices=METHODS)
    parser.add_argument('--set', dest='overrides', action='append', default=[], metavar='KEY=VALUE',
                        help='config override applied to every method')
    parser.add_argument('--out', type=Path, default=Path('runs/adaptation'), help='run folders (runs/adaptation)')
    parser.add_argument('--doc', type=Path, default=Path('docs/ADAPTATION.md'), help='document to write')
    args = parser.parse_args()

    results = {}
    for method in args.methods:
        run_dir = args.out / method
        if not (run_dir / 'metrics.json').is_file():
            argv = command(args.recipe, method, run_dir, args.overrides)
            print('+', shlex.join(argv), flush=True)
            argv[0:1] = [sys.executable, '-m', 'night_seg_training.cli']
            subprocess.run(argv, check=True)
        results[method] = json.loads((run_dir / 'metrics.json').read_text())
        results[method]['seconds_per_iteration'] = seconds_per_iteration(run_dir)
        print(f'{method}: night mIoU {results[method]["night"]["miou"]:.1f}, '
              f'day mIoU {results[method]["day"]["miou"]:.1f}', flush=True)
    results = {name: results[name] for name in METHODS if name in results}  # table order, whatever the run order
    write_document(args.doc, args.recipe, args.out, args.overrides, results)
    if all(name in results for name in ('source_only', 'full', 'oracle')):
        print(f'gap closure (full - source_only) / (oracle - source_only): {gap_closure(results):.2f}')
    print(f'wrote {args.doc}')
    return 0


if __name__ == '__main__':
    sys.exit(main())

"""The adaptation experiment on synthetic streets: every method from the same source-only start, same budget,
several seeds, evaluated on the synthetic night and day validation splits.

1. `source_init`: one source_only run of `--init-iterations` from scratch (seed 0): the start of every method (the
   usual practice: from scratch the teacher is too weak to give pseudo-labels worth learning).
2. For each seed and method, `--iterations` more from that start (`model.init`): `source_only` (more day
   supervision), `mean_teacher`, `full` (cross-attention transfer), `full_identity` (the same-pixel transfer, the
   ablation), `full_mic` (`full` with MIC's masked image consistency, weight 1) and `oracle` (night labels;
   synthetic data only).
Every run is an ordinary `night-seg-train train` (the commands are printed and written to the summary). A run
whose folder holds metrics.json is not run again (delete the folder to rerun it); one whose folder exists without
it belongs to another copy of this script (two copies on one --out share the runs, one per core). Writes
OUT/summary.md (the tables, mean and spread over seeds, gap closure, pseudo-label quality over training) and
OUT/summary.json (`--summary` renames them). With `--test-count N` every run's bundle is also evaluated on N pairs of
the synthetic **test** split (OUT/test_pairs_N, written once; dataset seed 0, 256x512), which no setting was chosen
on, and the summary gets the same table and comparisons for it.

  .venv/bin/python -m experiments.adaptation.experiment --out runs/adaptation/aligned
  .venv/bin/python -m experiments.adaptation.experiment --out runs/adaptation/coarse --alignment coarse \\
      --methods mean_teacher full full_identity --init-from runs/adaptation/aligned/source_init/bundle
"""
from __future__ import annotations

import argparse
import json
import platform
import re
import shlex
import subprocess
import sys
import time
from pathlib import Path

import numpy as np

from experiments.stats import mean_spread
from night_seg_ros.classes import CITYSCAPES_CLASSES
from night_seg_training.diagnostics import WATCHED_CLASSES
from night_seg_training.evaluate import format_table

METHODS = {  # name in the tables -> overrides of the run
    'source_only': ['method.name=source_only'],
    'mean_teacher': ['method.name=mean_teacher'],
    'full': ['method.name=full', 'method.transfer=attention'],
    'full_identity': ['method.name=full', 'method.transfer=identity'],
    'full_mic': ['method.name=full', 'method.transfer=attention', 'method.mic_weight=1'],
    'oracle': ['method.name=oracle'],
}
COMPARED = {'full': ('mean_teacher', 'full_identity', 'source_only'),
            'full_mic': ('mean_teacher', 'full', 'source_only')}
"""The methods the summary compares -> what each is compared with by night (and by day with source_only); each
also gets its gap closure."""
EXPERIMENT = ['method.ema_alpha=0.99', 'optim.warmup_iterations=50']
"""Overrides every adaptation run shares: an EMA horizon (~100 iterations) well inside the short budget, and a short
warm-up (the runs start from a trained network). Chosen from the budget, not from validation results."""
DIAGNOSTICS = ('pseudo/accuracy', 'pseudo/miou', *(f'pseudo/{name}_iou' for name in WATCHED_CLASSES),
               'teacher/accuracy', 'refine/changed_fraction')


def command(recipe: str, run_dir: Path, overrides: list[str]) -> list[str]:
    """The night-seg-train command line of one run."""
    args = ['night-seg-train', 'train', recipe, '--run-dir', str(run_dir), '--no-progress']
    for override in overrides:
        args += ['--set', override]
    return args


def run(recipe: str, run_dir: Path, overrides: list[str]) -> str:
    """Train one run unless it is done or another process has claimed it (its folder exists without
    metrics.json); returns the command as text."""
    argv = command(recipe, run_dir, overrides)
    text = shlex.join(argv)
    if (run_dir / 'metrics.json').is_file() or not claim(run_dir):
        return text
    print('+', text, flush=True)
    subprocess.run([sys.executable, '-m', 'night_seg_training.cli', *argv[1:]], check=True)
    return text


def claim(folder: Path) -> bool:
    """Create `folder` (and its parents); False when it exists: another copy of this script has claimed that work
    (two copies may share the work of one experiment)."""
    try:
        folder.mkdir(parents=True)
    except FileExistsError:
        return False
    return True


def waited(path: Path, poll_seconds: float) -> Path:
    """`path`, once the process that writes it has written it."""
    while not path.is_file():
        time.sleep(poll_seconds)
    return path


def finished(run_dir: Path, poll_seconds: float = 20.0) -> dict:
    """metrics.json of a run, waiting for the process that trains it to finish."""
    return json.loads(waited(run_dir / 'metrics.json', poll_seconds).read_text())


def seconds_per_iteration(run_dir: Path) -> float | None:
    """The median iteration time the run logged (None if it did not)."""
    found = re.findall(r'median ([0-9.]+) s per iteration', (run_dir / 'train.log').read_text())
    return float(found[-1]) if found else None


def diagnostics(run_dir: Path) -> dict[str, float]:
    """Means over the run of the logged pseudo-label diagnostics (runs/*/scalars.jsonl)."""
    path = run_dir / 'scalars.jsonl'
    if not path.is_file():
        return {}
    rows = [json.loads(line) for line in path.read_text().splitlines() if line]
    return {key: float(np.mean([row[key] for row in rows if key in row])) for key in DIAGNOSTICS
            if any(key in row for row in rows)}


def test_pairs(out: Path, count: int, poll_seconds: float = 5.0) -> Path:
    """OUT/test_pairs_COUNT: `count` synthetic day/night pairs of the test split, written by the first copy of this
    script that gets there (the others wait for its SYNTHETIC.md, written last)."""
    root = out / f'test_pairs_{count}'
    if not claim(root):
        waited(root / 'SYNTHETIC.md', poll_seconds)
        return root
    # --force: the folder is this script's empty claim, replaced once the new dataset is complete.
    subprocess.run([sys.executable, '-m', 'night_seg_training.cli', 'synth', str(root), '--split', 'test',
                    '--count', str(count), '--force'], check=True, stdout=subprocess.DEVNULL)
    return root


def test_metrics(run_dir: Path, root: Path) -> dict[str, dict]:
    """{'night': metrics, 'day': metrics} of the run's bundle on the test pairs under `root`, evaluated once (into
    RUN/test_<root name>/); a copy of this script that finds the folder claimed waits for the other's results."""
    out = run_dir / f'test_{root.name}'
    claimed = claim(out)
    results = {}
    for domain in ('night', 'day'):
        if claimed:
            subprocess.run([sys.executable, '-m', 'night_seg_training.cli', 'eval', str(run_dir / 'bundle'),
                            '--dataset', f'synthetic_{domain}', '--root', str(root), '--split', 'test',
                            '--out', str(out / domain)], check=True, stdout=subprocess.DEVNULL)
        results[domain] = finished(out / domain, poll_seconds=5.0)
    return results


def spread(values: list[float], digits: int = 1) -> str:
    """'mean ± std (v1, v2, ...)' of per-seed values (sample standard deviation); one value alone as itself."""
    if len(values) == 1:
        return mean_spread(values, digits)
    return f'{mean_spread(values, digits)} ({", ".join(f"{value:.{digits}f}" for value in values)})'


def measured(result: dict, domain: str, split: str) -> dict:
    """One run's metrics of `domain` on `split`: 'val', the run's own figures; 'test', the test pairs'."""
    return (result if split == 'val' else result['test'])[domain]


def comparison(results: dict, split: str) -> list[str]:
    """The Markdown table of night and day mIoU per method on `split` ('val': the runs' own figures, 'test': the
    test pairs), with, for each method of COMPARED present: its gap closure and its margins over the methods it is
    compared with."""
    def miou(r: dict, domain: str) -> float:
        return measured(r, domain, split)['miou']

    lines = [f'| method | night {split} mIoU | day {split} mIoU | s / iteration |', '|---|---|---|---|']
    for name, per_seed in results.items():
        seconds = [r['seconds'] for r in per_seed if r['seconds']]
        timing = f'{np.median(seconds):.2f}' if seconds else '-'
        lines.append(f'| {name} | {spread([miou(r, "night") for r in per_seed])} | '
                     f'{spread([miou(r, "day") for r in per_seed])} | {timing} |')
    for adapted, others in COMPARED.items():
        if adapted not in results:
            continue
        if 'source_only' in results and 'oracle' in results:
            closures = [(miou(f, 'night') - miou(s, 'night')) / (miou(o, 'night') - miou(s, 'night'))
                        for s, f, o in zip(results['source_only'], results[adapted], results['oracle'], strict=True)]
            lines += ['', f'Gap closure ({adapted} - source_only) / (oracle - source_only), per seed: '
                      f'{spread(closures, 2)}']
        for other in (other for other in others if other in results):
            for domain in ('night', 'day') if other == 'source_only' else ('night',):
                gains = [miou(f, domain) - miou(m, domain)
                         for f, m in zip(results[adapted], results[other], strict=True)]
                lines += ['', f'{adapted} - {other} {domain} mIoU, per seed: {spread(gains)}']
    return lines


def seed_mean(per_seed: list[dict], domain: str, split: str) -> dict:
    """{'miou', 'iou'} of `domain` on `split` ('val' or 'test') averaged over seeds; a class whose IoU is None
    (never in the truth nor predicted) on every seed stays None."""
    found = [measured(r, domain, split) for r in per_seed]
    iou = {}
    for name in found[0]['iou']:
        values = [f['iou'][name] for f in found if f['iou'].get(name) is not None]
        iou[name] = float(np.mean(values)) if values else None
    return {'miou': float(np.mean([f['miou'] for f in found])), 'iou': iou}


def summary(args: argparse.Namespace, results: dict, commands: list[str], init: dict | None) -> str:
    """The Markdown tables of one setting."""
    lines = [f'Setting: target pairs `{args.alignment}`; recipe `{args.recipe}`; every method starts from '
             f'`{args.init_from or "source_init"}` and trains {args.iterations} more iterations; seeds '
             f'{", ".join(map(str, args.seeds))}; machine {platform.processor() or platform.machine()}, '
             f'Python {platform.python_version()}.', '']
    if init is not None:
        lines += [f'The start: night {init["night"]["miou"]:.1f}, day {init["day"]["miou"]:.1f} mIoU.', '']
    lines += comparison(results, 'val')
    tested = all('test' in r for per_seed in results.values() for r in per_seed)
    if tested:
        lines += ['', f'The same bundles on {args.test_count} pairs of the synthetic **test** split (dataset seed 0; '
                  'no setting was chosen on it):', '', *comparison(results, 'test')]
    lines += ['', 'Night pseudo-labels during training against the night ground truth of the training pairs '
              '(means over the logged windows and seeds; measurement only):', '',
              '| method | pseudo-label accuracy | pseudo-label mIoU | '
              + ''.join(f'{name} IoU | ' for name in WATCHED_CLASSES) + 'teacher accuracy | changed by refinement |',
              '|---' * (len(DIAGNOSTICS) + 1) + '|']
    for name, per_seed in results.items():
        found = [r['diagnostics'] for r in per_seed if r['diagnostics']]
        if not found:
            continue
        cells = []
        for key in DIAGNOSTICS:
            values = [d[key] for d in found if key in d]
            scale = 100.0 if key.endswith('fraction') else 1.0
            cells.append(f'{scale * np.mean(values):.1f}' if values else '-')
        lines.append(f'| {name} | ' + ' | '.join(cells) + ' |')
    first_seed = {name: per_seed[0] for name, per_seed in results.items()}
    lines += ['', f'Per-class IoU on the synthetic night validation split, seed {args.seeds[0]} (percent):', '',
              format_table({name: r['night'] for name, r in first_seed.items()}, CITYSCAPES_CLASSES)]
    split = 'test' if tested else 'val'
    lines += [f'Per-class day IoU on the {split} split, mean over seeds (percent; where the day points go):', '',
              format_table({name: seed_mean(per_seed, 'day', split) for name, per_seed in results.items()},
                           CITYSCAPES_CLASSES), '', 'Commands:', '', '```', *commands, '```', '']
    return '\n'.join(lines)


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument('--recipe', default='synthetic_demo', help='recipe shared by every run (synthetic_demo)')
    parser.add_argument('--methods', nargs='+', default=list(METHODS), choices=list(METHODS))
    parser.add_argument('--seeds', nargs='+', type=int, default=[0, 1, 2])
    parser.add_argument('--iterations', type=int, default=400, help='adaptation iterations per run (400)')
    parser.add_argument('--init-iterations', type=int, default=1200, help='source-only iterations of the start')
    parser.add_argument('--init-from', help='a bundle to start from instead of training source_init')
    parser.add_argument('--alignment', default='aligned', choices=('aligned', 'coarse'),
                        help='day/night alignment of the synthetic training pairs (aligned)')
    parser.add_argument('--set', dest='overrides', action='append', default=[], metavar='KEY=VALUE',
                        help='config override applied to every run')
    parser.add_argument('--out', type=Path, default=Path('runs/adaptation/aligned'), help='run folders')
    parser.add_argument('--summary', default='summary', help='name of the summary files in OUT (summary)')
    parser.add_argument('--test-count', type=int, default=0,
                        help='also evaluate every bundle on this many pairs of the synthetic test split (0: not)')
    args = parser.parse_args()

    commands, init = [], None
    start = args.init_from
    if start is not None:
        provenance = json.loads((Path(start) / 'model.json').read_text())['provenance']
        init = {name: {'miou': metrics['miou']} for name, metrics in provenance['metrics'].items()}
    else:
        init_dir = args.out / 'source_init'
        commands.append(run(args.recipe, init_dir, [
            'method.name=source_only', f'optim.iterations={args.init_iterations}',
            f'schedule.eval_every={args.init_iterations}', 'seed=0', *args.overrides]))
        init = finished(init_dir)
        start = str(init_dir / 'bundle')
    shared = [f'model.init={start}', f'optim.iterations={args.iterations}', f'schedule.eval_every={args.iterations}',
              f'data.target.alignment={args.alignment}', *EXPERIMENT, *args.overrides]
    planned = [(seed, name, args.out / f'{name}-seed{seed}', [*METHODS[name], f'seed={seed}', *shared])
               for seed in args.seeds for name in args.methods]
    for _, _, run_dir, overrides in planned:
        commands.append(run(args.recipe, run_dir, overrides))
    results: dict[str, list[dict]] = {name: [] for name in args.methods}
    root = test_pairs(args.out, args.test_count) if args.test_count else None
    for seed, name, run_dir, _ in planned:
        metrics = finished(run_dir)
        result = {'night': metrics['night'], 'day': metrics['day'], 'seconds': seconds_per_iteration(run_dir),
                  'diagnostics': diagnostics(run_dir)}
        if root is not None:
            result['test'] = {domain: {key: found[key] for key in ('miou', 'iou', 'images')}
                              for domain, found in test_metrics(run_dir, root).items()}
        results[name].append(result)
        print(f'{name} seed {seed}: night mIoU {metrics["night"]["miou"]:.1f}, day {metrics["day"]["miou"]:.1f}'
              + (f'; test {result["test"]["night"]["miou"]:.1f}, {result["test"]["day"]["miou"]:.1f}'
                 if root is not None else ''), flush=True)
    text = summary(args, results, commands, init)
    (args.out / f'{args.summary}.md').write_text(text)
    (args.out / f'{args.summary}.json').write_text(json.dumps({'args': {k: str(v) for k, v in vars(args).items()},
                                                       'init': init, 'results': results}, indent=2))
    print(text)
    return 0


if __name__ == '__main__':
    sys.exit(main())

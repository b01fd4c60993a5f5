"""Part (c): the cost of one training iteration, `full` (the method) against `source_only`, from the training code.

It runs `night-seg-train bench` (the training package's own benchmark, night_seg_training/bench.py) as a subprocess:
the runtime package never imports `night_seg_training` (a vehicle installs night_seg_ros without it), and the
training benchmark's torch settings (threads, seeds, autograd state) stay out of this process. Where night-seg-train
is not installed or the benchmark fails, the part is reported as skipped with the reason.
"""
from __future__ import annotations

import json
import subprocess
import tempfile
from pathlib import Path

from night_seg_ros.bench.probe import console_script
from night_seg_ros.bench.report import Column, Table

SCRIPT = 'night-seg-train'
"""The console script whose `bench` subcommand measures the training iteration."""
COLUMNS = [Column('method', 'method'), Column('median_s', 'median s/iter', '.3f'), Column('p90_s', 'p90 s/iter', '.3f'),
           Column('ratio', 'time / source_only', '.3f')]


def bench_training(methods: list[str], iterations: int, batch: int, crop: int, device: str,
                   timeout_s: float = 3600.0) -> Table:
    """Run the training-iteration benchmark for `methods` (first is the baseline); return the table."""
    table = Table('training', f'(c) one training iteration, SegFormer-B0, batch {batch}, crop {crop}x{crop}, '
                              f'{iterations} timed iterations per method after 2 warm-up, {device}', COLUMNS,
                  ['method'], ['median_s'])
    try:
        script = console_script(SCRIPT)
    except FileNotFoundError as error:
        table.notes.append(f'skipped: {error}')
        return table
    with tempfile.TemporaryDirectory(prefix='bench_train_') as work:
        result_path = Path(work) / 'train.json'
        command = [script, 'bench', '--methods', *methods, '--iterations', str(iterations), '--batch', str(batch),
                   '--crop', str(crop), '--device', device, '--json', str(result_path)]
        done = subprocess.run(command, capture_output=True, text=True, timeout=timeout_s, check=False)
        if done.returncode != 0 or not result_path.is_file():
            tail = (done.stderr or done.stdout).strip().splitlines()[-1:] or ['no output']
            table.notes.append(f'skipped: {SCRIPT} bench exited {done.returncode}: {tail[0]}')
            return table
        figures = json.loads(result_path.read_text())
    table.notes.append(f'measured by {SCRIPT} bench on {figures["machine"]}')
    for method, row in figures['results'].items():
        table.rows.append({'method': method, 'median_s': row['median_s'], 'p90_s': row['p90_s'],
                           'ratio': row['ratio_to_first']})
    return table

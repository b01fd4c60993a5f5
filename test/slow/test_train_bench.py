"""`night-seg-train bench` on a tiny setting: the table it prints and the JSON it writes (the figures themselves are
the benchmark's output, never asserted)."""
from __future__ import annotations

import json
from pathlib import Path

import pytest

pytest.importorskip('torch', reason='the training benchmark runs the training code')

from night_seg_training.cli import main  # noqa: E402

TINY = ['--iterations', '1', '--batch', '1', '--crop', '32']


def test_bench_command_prints_the_table_and_writes_the_json(tmp_path: Path,
                                                            capsys: pytest.CaptureFixture[str]) -> None:
    result = tmp_path / 'bench.json'
    assert main(['bench', '--methods', 'source_only', 'full', *TINY, '--warmup', '0', '--json', str(result)]) == 0
    printed = capsys.readouterr().out.splitlines()
    assert printed[0].startswith('SegFormer-B0, batch 1, crop 32x32, 1 timed iterations each, ')
    assert printed[1].split() == ['method', 'median', 's/iter', 'p90', 's/iter', 'ratio']
    assert [line.split()[0] for line in printed[2:]] == ['source_only', 'full']
    document = json.loads(result.read_text())
    assert document['config'] == {'methods': ['source_only', 'full'], 'batch': 1, 'crop': 32, 'iterations': 1,
                                  'warmup': 0, 'variant': 'b0', 'device': 'cpu', 'json': str(result)}
    assert set(document['results']) == {'source_only', 'full'}
    assert document['results']['source_only']['ratio_to_first'] == 1.0


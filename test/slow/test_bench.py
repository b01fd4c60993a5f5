"""`night-seg bench` end to end on tiny sizes: tables printed, JSON, plot PNG and Markdown written, gaps reported.

Only the plumbing is checked; the figures themselves are the benchmark's output, never asserted.
"""
from __future__ import annotations

import json
from pathlib import Path

import pytest

from night_seg_ros.bench.report import Column, Table, format_text
from night_seg_ros.cli import main


def test_quick_bench_of_the_backends_and_a_bag_writes_json_plot_and_markdown(tiny_bundle: Path, tmp_path: Path,
                                                                             capsys):
    pytest.importorskip('matplotlib')
    pytest.importorskip('rosbags')
    out, markdown = tmp_path / 'out', tmp_path / 'BENCHMARKS.md'
    code = main(['bench', '--parts', 'backends', 'bag', '--input-sizes', '64x32', '--iterations', '2',
                 '--model', str(tiny_bundle), '--cameras', '160x120', '--bag-frames', '3', '--out', str(out),
                 '--markdown', str(markdown), '--work-dir', str(tmp_path / 'work')])
    assert code == 0
    printed = capsys.readouterr().out
    assert '(a) bare backend inference' in printed and '(c) recorded drive' in printed
    document = json.loads((out / 'bench.json').read_text())
    assert set(document['parts']) == {'backends', 'bag'}
    backends = document['parts']['backends']['rows']
    assert {(row['backend'], row['input']) for row in backends} == {('torch', '64x32'), ('onnxruntime', '64x32')}
    assert all(row['median_ms'] > 0 for row in backends)
    assert next(row for row in backends if row['backend'] == 'torch')['ratio'] == 1.0
    bag = document['parts']['bag']['rows']
    assert [(row['camera'], row['processed']) for row in bag] == [('160x120', 3)]
    assert document['machine']['cores'] >= 1 and document['machine']['load_average_end']
    assert (out / 'bench.png').read_bytes().startswith(b'\x89PNG')
    page = markdown.read_text()
    assert 'Machine: ' in page and 'Load average (1/5/15 min)' in page
    assert '| input WxH | backend |' in page and '| 160x120 | 3 | 3 |' in page


def test_text_table_aligns_columns_and_marks_missing_values():
    table = Table('t', 'title', [Column('name', 'name'), Column('ms', 'median ms', '.1f')], ['name'], ['ms'],
                  rows=[{'name': 'a', 'ms': 12.345}, {'name': 'long name'}], notes=['a note'])
    lines = format_text(table).splitlines()
    assert lines == ['== title', '     name  median ms', '        a       12.3', 'long name          -', '   a note']


def test_backends_part_times_two_graphs_of_one_bundle_in_turns(tiny_bundle: Path, tmp_path: Path, capsys):
    pytest.importorskip('matplotlib')
    other = tmp_path / 'other.onnx'
    other.write_bytes((tiny_bundle / 'model.onnx').read_bytes())
    code = main(['bench', '--parts', 'backends', '--model', str(tiny_bundle), '--graphs',
                 str(tiny_bundle / 'model.onnx'), str(other), '--iterations', '2', '--out', str(tmp_path / 'out')])
    assert code == 0
    assert 'time / first graph' in capsys.readouterr().out
    rows = json.loads((tmp_path / 'out' / 'bench.json').read_text())['parts']['backends']['rows']
    assert [(row['backend'], row['graph']) for row in rows] == [
        ('torch', '-'), ('onnxruntime', 'model.onnx'), ('onnxruntime', str(tiny_bundle / 'model.onnx')),
        ('onnxruntime', str(other))]
    assert {row['input'] for row in rows} == {'128x64'}
    assert rows[2]['graph_ratio'] == 1.0 and all(row['graph_ratio'] > 0 for row in rows)


def test_frame_and_node_cpu_parts_measure_the_node_beside_their_references(tmp_path: Path, capsys):
    pytest.importorskip('matplotlib')
    code = main(['bench', '--parts', 'frame', 'node_cpu', '--cameras', '320x240', '--frame-inputs', '64x32',
                 '--frame-count', '2', '--cpu-rates', '5', '--cpu-seconds', '1', '--output-sets', 'network', 'labels',
                 'network', '--out', str(tmp_path / 'out'), '--work-dir', str(tmp_path / 'work')])
    assert code == 0
    printed = capsys.readouterr().out
    assert 'zero-time backend' in printed and 'zero-work node' in printed
    parts = json.loads((tmp_path / 'out' / 'bench.json').read_text())['parts']
    frame = parts['frame']['rows']
    assert [row['outputs'] for row in frame] == ['all, network resolution', 'labels only']  # as asked, each once
    assert all(row['current_ms'] > 0 for row in frame)
    assert 'previous_ms' not in frame[0] and 'previous_ms' in frame[1]  # the code before had no network resolution
    cpu = parts['node_cpu']['rows']
    assert [row['outputs'] for row in cpu] == ['all, network resolution', 'labels only']
    assert all(row['sent'] == 5 for row in cpu)
    assert all(row['seg_answered'] > 0 and row['zero_answered'] > 0 for row in cpu)
    assert all(row['model_cpu_ms'] > 0 and 'own_ms' in row for row in cpu)

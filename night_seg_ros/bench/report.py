"""Benchmark results: one `Table` per part, printed as text, written as JSON, Markdown and a plot PNG.

Every figure is kept with its unit in the column header (ms, Hz, s) and ratios are plain numbers measured in one run.
"""
from __future__ import annotations

import json
import os
import platform
import shlex
import sys
import time
from dataclasses import asdict, dataclass, field
from pathlib import Path
from typing import Any


@dataclass(frozen=True)
class Column:
    """A table column: `key` in each row, `header` printed (with its unit), `fmt` a format spec such as '.1f'."""

    key: str
    header: str
    fmt: str = ''


@dataclass
class Table:
    """One benchmark part's result: rows of figures, the columns to show, notes (how it was measured, gaps).

    The plot names each row by its `label_keys` values and draws one bar per row for each of `plot_keys`.
    """

    part: str
    title: str
    columns: list[Column]
    label_keys: list[str]
    plot_keys: list[str]
    rows: list[dict[str, Any]] = field(default_factory=list)
    notes: list[str] = field(default_factory=list)

    def cells(self) -> list[list[str]]:
        """Every row's formatted cells, in column order ('-' where a row has no value)."""
        return [[_cell(row.get(column.key), column.fmt) for column in self.columns] for row in self.rows]


def _cell(value: Any, fmt: str) -> str:
    if value is None:
        return '-'
    if isinstance(value, float) and fmt:
        return format(value, fmt)
    return str(value)


def format_text(table: Table) -> str:
    """`table` as aligned plain text with its title and notes."""
    headers = [column.header for column in table.columns]
    cells = table.cells()
    widths = [max(len(text) for text in [header] + [row[i] for row in cells]) for i, header in enumerate(headers)]
    lines = [f'== {table.title}', '  '.join(h.rjust(w) for h, w in zip(headers, widths, strict=True))]
    lines += ['  '.join(c.rjust(w) for c, w in zip(row, widths, strict=True)) for row in cells]
    lines += [f'   {note}' for note in table.notes]
    return '\n'.join(lines)


def format_markdown(table: Table) -> str:
    """`table` as a Markdown section: title, pipe table, notes."""
    lines = [f'### {table.title}', '', '| ' + ' | '.join(column.header for column in table.columns) + ' |',
             '|' + '---|' * len(table.columns)]
    lines += ['| ' + ' | '.join(row) + ' |' for row in table.cells()]
    if table.notes:
        lines += [''] + [f'- {note}' for note in table.notes]
    return '\n'.join(lines)


def load_average() -> str:
    """The 1/5/15-minute load averages of this machine, e.g. '1.93 1.60 1.02' ('unknown' where not available)."""
    try:
        return ' '.join(f'{value:.2f}' for value in os.getloadavg())
    except OSError:
        return 'unknown'


def machine_description() -> dict[str, Any]:
    """CPU model and core count, OS, Python and library versions, GPU when torch sees one, load average now."""
    cpu = platform.processor() or platform.machine()
    try:
        for line in Path('/proc/cpuinfo').read_text().splitlines():
            if line.startswith('model name'):
                cpu = line.split(':', 1)[1].strip()
                break
    except OSError:
        pass
    described: dict[str, Any] = {'cpu': cpu, 'cores': os.cpu_count(), 'os': platform.platform(),
                                 'python': platform.python_version()}
    for module in ('onnxruntime', 'torch'):
        try:
            described[module] = __import__(module).__version__
        except ImportError:
            described[module] = None
    if described['torch']:
        import torch

        described['gpu'] = torch.cuda.get_device_name(0) if torch.cuda.is_available() else None
    described['load_average_start'] = load_average()
    return described


def write_json(path: Path, command: list[str], machine: dict[str, Any], tables: list[Table]) -> None:
    """Write the command, machine and every table (rows with raw figures) to `path`."""
    document = {'command': shlex.join(command), 'date': time.strftime('%Y-%m-%d %H:%M:%S %Z'), 'machine': machine,
                'parts': {table.part: asdict(table) for table in tables}}
    path.write_text(json.dumps(document, indent=2) + '\n')


def write_markdown(path: Path, command: list[str], machine: dict[str, Any], tables: list[Table]) -> None:
    """Write a Markdown page (command, machine, every table) to `path`, e.g. docs/BENCHMARKS.md."""
    gpu = machine.get('gpu') or 'none'
    lines = ['# Benchmarks', '', 'Written by `night-seg bench --markdown`; rerun the command to refresh it. Ratios '
             'are measured within one run; absolute times depend on the machine and its load.', '',
             '```', shlex.join(command), '```', '',
             f'Machine: {machine["cpu"]}, {machine["cores"]} cores, GPU {gpu}; {machine["os"]}; Python '
             f'{machine["python"]}, torch {machine["torch"]}, onnxruntime {machine["onnxruntime"]}. Load average '
             f'(1/5/15 min) {machine["load_average_start"]} at the start, {machine.get("load_average_end", "?")} at '
             f'the end. Date {time.strftime("%Y-%m-%d")}.', '']
    for table in tables:
        lines += [format_markdown(table), '']
    path.write_text('\n'.join(lines))


def write_plot(path: Path, tables: list[Table]) -> None:
    """Write one bar chart per table with rows (its `plot_keys` per row) to a PNG at `path`."""
    import matplotlib

    matplotlib.use('Agg')
    import matplotlib.pyplot as plt

    plotted = [table for table in tables if table.rows]
    figure, axes = plt.subplots(max(1, len(plotted)), 1, figsize=(10, 3.4 * max(1, len(plotted))), squeeze=False)
    for axis, table in zip(axes[:, 0], plotted, strict=False):
        headers = {column.key: column.header for column in table.columns}
        width = 0.8 / len(table.plot_keys)
        for index, key in enumerate(table.plot_keys):
            values = [row.get(key) or 0.0 for row in table.rows]
            offset = (index - (len(table.plot_keys) - 1) / 2) * width
            axis.bar([i + offset for i in range(len(values))], values, width, label=headers[key])
        labels = [' '.join(str(row.get(key)) for key in table.label_keys) for row in table.rows]
        axis.set_xticks(range(len(labels)), labels, rotation=20, ha='right', fontsize=8)
        axis.set_title(table.title, fontsize=9, wrap=True)
        axis.legend(fontsize=8)
        axis.grid(axis='y', alpha=0.3)
    figure.tight_layout()
    figure.savefig(path, dpi=100)
    plt.close(figure)


def finish(command: list[str], machine: dict[str, Any], tables: list[Table], out_dir: Path,
           markdown: Path | None) -> list[Path]:
    """Print every table, write bench.json and bench.png into `out_dir` (and `markdown`); return the paths written."""
    machine['load_average_end'] = load_average()
    for table in tables:
        print(format_text(table), end='\n\n')
    print(f'load average (1/5/15 min): {machine["load_average_start"]} at the start, '
          f'{machine["load_average_end"]} at the end', file=sys.stdout)
    out_dir.mkdir(parents=True, exist_ok=True)
    written = [out_dir / 'bench.json', out_dir / 'bench.png']
    write_json(written[0], command, machine, tables)
    write_plot(written[1], tables)
    if markdown is not None:
        markdown.parent.mkdir(parents=True, exist_ok=True)
        write_markdown(markdown, command, machine, tables)
        written.append(markdown)
    return written

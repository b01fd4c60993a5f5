"""The README's markdown tables, for the tests that keep them true to the code."""
from __future__ import annotations

from pathlib import Path

README = Path(__file__).resolve().parents[1] / 'README.md'


def readme_table(heading: str) -> list[list[str]]:
    """Rows (cells without backticks) of the first markdown table after the line `heading` in README.md."""
    text = README.read_text()
    section = text[text.index(heading):]
    rows = []
    for line in section.splitlines()[1:]:
        if line.startswith('|'):
            rows.append([cell.strip().strip('`') for cell in line.strip().strip('|').split('|')])
        elif rows:
            break
    return rows[2:]  # without the header and the separator

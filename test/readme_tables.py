"""The README's markdown tables and the launch arguments the documents name, for the tests that keep them true to
the code."""
from __future__ import annotations

import re
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
README = ROOT / 'README.md'
DOCUMENTS = [README, ROOT / 'launch' / 'seg.launch.py', ROOT / 'config' / 'seg.yaml',
             *sorted((ROOT / 'docs').glob('*.md'))]
"""Where users read launch command lines."""
ROS_ARGS = re.compile(r'(?:-p|-r|--param|--remap)\s+[\w.]+:=')
"""`seg_node --ros-args -p name:=value -r from:=to`: node parameters and remappings, not launch arguments."""
LAUNCH_ARGUMENT = re.compile(r'(?<![\w-])([a-z][a-z0-9_]*):=')


def documented_launch_arguments() -> dict[str, str]:
    """Every `NAME:=` the documents name as a launch argument -> the first document naming it (repository path)."""
    named: dict[str, str] = {}
    for path in DOCUMENTS:
        for line in path.read_text().splitlines():
            for name in LAUNCH_ARGUMENT.findall(ROS_ARGS.sub('', line)):
                named.setdefault(name, str(path.relative_to(ROOT)))
    return named


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

"""Humble stays supported: every rclpy API the runtime (night_seg_ros/, launch/) uses exists in Humble's rclpy, and the
code keeps to Python 3.10 (Humble's Python on Ubuntu 22.04).

Humble cannot be installed here (no apt ROS 2, and no Humble wheels on PyPI), so its rclpy is a record:
test/unit/rclpy_humble_api.json, read from rclpy's Python sources on the humble branch (3.3.15; the file says which
commit and how) by test/rclpy_api.py. The runtime's use of rclpy is read from its sources the same way, and compared:
imported modules and names, `rclpy.x.y` attributes, the methods it calls that rclpy's classes define (in this
installed rclpy) with the keyword arguments it passes, and the attributes a Node subclass reads from rclpy's Node.
Imports guarded by `except ImportError` may be missing in Humble (their fallback is checked instead). Members of enums
that rclpy takes from its C extension are not in the Python sources and are not checked.
"""
from __future__ import annotations

import ast
import importlib.util
import json
import shutil
import subprocess
import sys
from pathlib import Path

import pytest
from rclpy_api import package_api, usage

ROOT = Path(__file__).resolve().parents[2]
RUNTIME = sorted((ROOT / 'night_seg_ros').rglob('*.py')) + sorted((ROOT / 'launch').glob('*.py'))
HUMBLE = json.loads(Path(__file__).with_name('rclpy_humble_api.json').read_text())
MODULES = HUMBLE['modules']
PYTHON_SOURCES = ['night_seg_ros', 'launch', 'scripts', 'training/night_seg_training', 'experiments', 'test']
NOT_RCLPY = {
    ('shutdown', 'night_seg_ros/backends/tensorrt_backend.py'): "concurrent.futures.ThreadPoolExecutor's shutdown",
}
"""(method, file) calls whose receiver is not an rclpy object although rclpy has a method of that name."""


@pytest.fixture(scope='module')
def used():
    return usage(RUNTIME, 'rclpy', ROOT)


@pytest.fixture(scope='module')
def installed():
    """The API of the rclpy installed here (Kilted or Jazzy), read as Humble's was."""
    spec = importlib.util.find_spec('rclpy')
    if spec is None or spec.origin is None:
        pytest.skip('rclpy is not installed here')
    return package_api(Path(spec.origin).parent.parent)


def methods_by_name(modules: dict) -> dict[str, list[list[str]]]:
    """Method name -> the parameter lists of every rclpy class method of that name."""
    found: dict[str, list[list[str]]] = {}
    for module in modules.values():
        for api in module['classes'].values():
            for name, parameters in api['methods'].items():
                found.setdefault(name, []).append(parameters)
    return found


def resolves(dotted: str) -> bool:
    """Whether `dotted` (rclpy.module[.name]) names a module of the record, or a name defined in one."""
    if dotted in MODULES:
        return True
    module, _, name = dotted.rpartition('.')
    return module in MODULES and name in MODULES[module]['names']


def test_the_record_is_humbles_rclpy():
    assert HUMBLE['distribution'] == 'humble' and HUMBLE['version'].startswith('3.3.')
    assert 'rclpy.node' in MODULES and 'create_timer' in MODULES['rclpy.node']['classes']['Node']['methods']
    assert 'rclpy.event_handler' not in MODULES  # Humble has rclpy.qos_event instead: the record is not newer


def test_every_rclpy_import_exists_in_humble(used):
    missing = [f'{module}.{name or ""} ({where})' for module, name, where, guarded in used.imports
               if not guarded and not resolves(f'{module}.{name}' if name else module)]
    assert not missing, f'imports Humble\'s rclpy does not have: {missing}'


def test_every_rclpy_attribute_exists_in_humble(used):
    missing = []
    for dotted, where in used.attributes:
        parts = dotted.split('.')
        prefixes = ['.'.join(parts[:end]) for end in range(len(parts), 0, -1)]
        module = next(prefix for prefix in prefixes if prefix in MODULES or prefix == 'rclpy')
        rest = dotted[len(module) + 1:].split('.')
        if rest[0] and rest[0] not in MODULES.get(module, {}).get('names', []):
            missing.append(f'{dotted} ({where})')
    assert not missing, f'rclpy attributes Humble does not have: {missing}'


def test_every_rclpy_function_called_takes_its_keywords_in_humble(used):
    problems = []
    for dotted, calls in used.function_calls.items():
        module, _, name = dotted.rpartition('.')
        candidates = ([MODULES[module]['functions'][name]] if name in MODULES.get(module, {}).get('functions', {})
                      else [api['functions'][name] for api in MODULES.values() if name in api['functions']])
        for keywords, where in calls:  # a name without a Python function (a class, a C function) takes any
            problems += [f'{dotted}({keyword}=...) ({where})' for keyword in keywords if candidates and not any(
                keyword in parameters or '**' in parameters for parameters in candidates)]
    assert not problems, f'keywords Humble\'s rclpy functions do not take: {problems}'
    assert 'rclpy.ok' in used.function_calls  # the scan sees module-level calls


def own_methods() -> set[str]:
    """Names of the methods the runtime's own classes define (a call of one is the runtime's, not rclpy's)."""
    return {node.name for path in RUNTIME for node in ast.walk(ast.parse(path.read_text()))
            if isinstance(node, ast.ClassDef) for node in node.body if isinstance(node, ast.FunctionDef)}


def test_every_rclpy_method_called_exists_in_humble_with_its_keywords(used, installed):
    here, humble = methods_by_name(installed), methods_by_name(MODULES)
    own = own_methods()
    problems = []
    for method, all_calls in used.calls.items():
        calls = [(keywords, where) for keywords, where in all_calls
                 if (method, where.split(':')[0]) not in NOT_RCLPY]
        if method not in here or method.startswith('__') or method in own or not calls:
            continue  # not an rclpy method (a numpy, threading or own call of another name)
        if method not in humble:
            problems.append(f'{method}() ({calls[0][1]}) is not in Humble\'s rclpy')
            continue
        for keywords, where in calls:
            for keyword in keywords:
                if not any(keyword in parameters or '**' in parameters for parameters in humble[method]):
                    problems.append(f'{method}({keyword}=...) ({where}): Humble\'s {method} has no {keyword}')
    assert not problems, problems


def test_what_a_node_subclass_reads_from_rclpys_node_exists_in_humble(used, installed):
    node = MODULES['rclpy.node']['classes']['Node']
    here = installed['rclpy.node']['classes']['Node']
    missing = sorted({f'{attribute} ({where})' for base, attribute, where in used.self_reads
                      if base == 'rclpy.node.Node' and attribute in here['attributes'] + list(here['methods'])
                      and attribute not in node['attributes'] + list(node['methods'])})
    assert not missing, f'Node attributes Humble does not have: {missing}'
    assert any(attribute == '_parameter_overrides' for _base, attribute, _where in used.self_reads)  # the scan works


def test_the_scan_finds_what_humble_lacks(tmp_path):
    """The checks above on code written against Jazzy's rclpy: each finds what Humble does not have."""
    code = tmp_path / 'newer.py'
    code.write_text('from rclpy.event_handler import SubscriptionEventCallbacks\n'
                    'from rclpy.node import Node\n'
                    'class Late(Node):\n'
                    '    def f(self):\n'
                    '        self.create_timer(1.0, print, autostart=False)\n'
                    'import rclpy\n'
                    'rclpy.shutdown(uninstall_handlers=True)\n')
    found = usage([code], 'rclpy', tmp_path)
    assert not resolves('rclpy.event_handler.SubscriptionEventCallbacks')
    assert not any('autostart' in parameters for parameters in methods_by_name(MODULES)['create_timer'])
    assert ('rclpy.event_handler', 'SubscriptionEventCallbacks') in [(m, n) for m, n, _w, _g in found.imports]
    assert found.calls['create_timer'][0][0] == ('autostart',)
    assert found.function_calls['rclpy.shutdown'][0][0] == ('uninstall_handlers',)
    assert 'uninstall_handlers' not in MODULES['rclpy.utilities']['functions']['shutdown']  # not a keyword of Humble's


def test_the_code_keeps_to_python_3_10():
    vermin = shutil.which('vermin', path=str(Path(sys.executable).parent)) or shutil.which('vermin')
    if vermin is None:
        pytest.skip('vermin is not installed (pip install vermin; it is in the test extra)')
    result = subprocess.run([vermin, '-t=3.10-', '--violations', '--no-tips', '--eval-annotations',
                             *PYTHON_SOURCES], cwd=ROOT, capture_output=True, text=True, timeout=300, check=False)
    assert result.returncode == 0, result.stdout + result.stderr


def test_ruff_targets_python_3_10():
    assert 'target-version = "py310"' in (ROOT / 'ruff.toml').read_text()
    assert "python_requires='>=3.10'" in (ROOT / 'setup.py').read_text()

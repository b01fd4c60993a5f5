"""The public surface of rclpy read from its Python sources (modules, their names, classes with their methods,
parameters and attributes), and the rclpy API a package's code uses, for test/unit/test_humble_api.py.

    python test/rclpy_api.py RCLPY_SOURCE_DIR [KEY=VALUE ...] > test/unit/rclpy_humble_api.json

records a distribution's rclpy (the folder holding rclpy/__init__.py, e.g. `git archive humble rclpy/rclpy` of
github.com/ros2/rclpy; KEY=VALUE: where it came from, kept beside the modules). Names that rclpy takes from its C
extension are recorded as the module names they are assigned to; their members are not (they are not in the Python
sources).
"""
from __future__ import annotations

import ast
import json
import sys
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any


def _top_level(statements: list[ast.stmt]) -> list[ast.stmt]:
    """Statements at module or class level, including those inside try/except and if blocks."""
    found = []
    for statement in statements:
        found.append(statement)
        if isinstance(statement, ast.Try):
            for block in (statement.body, statement.orelse, statement.finalbody,
                          *(handler.body for handler in statement.handlers)):
                found += _top_level(block)
        elif isinstance(statement, ast.If):
            found += _top_level(statement.body) + _top_level(statement.orelse)
    return found


def _defined(statement: ast.stmt) -> list[str]:
    """Names a module- or class-level statement defines."""
    if isinstance(statement, (ast.FunctionDef, ast.AsyncFunctionDef, ast.ClassDef)):
        return [statement.name]
    if isinstance(statement, ast.Assign):
        return [target.id for target in statement.targets if isinstance(target, ast.Name)]
    if isinstance(statement, ast.AnnAssign) and isinstance(statement.target, ast.Name):
        return [statement.target.id]
    if isinstance(statement, (ast.Import, ast.ImportFrom)):
        return [(alias.asname or alias.name).split('.')[0] for alias in statement.names]
    return []


def _parameters(function: ast.FunctionDef | ast.AsyncFunctionDef) -> list[str]:
    """Parameter names of `function`, with '*' and '**' for variadic ones."""
    arguments = function.args
    names = [argument.arg for argument in arguments.posonlyargs + arguments.args + arguments.kwonlyargs]
    if arguments.vararg:
        names.append('*')
    if arguments.kwarg:
        names.append('**')
    return names


def _class_api(node: ast.ClassDef) -> dict[str, Any]:
    methods, attributes = {}, set()
    for statement in _top_level(node.body):
        if isinstance(statement, (ast.FunctionDef, ast.AsyncFunctionDef)):
            methods[statement.name] = _parameters(statement)
            for inner in ast.walk(statement):
                targets = inner.targets if isinstance(inner, ast.Assign) else (
                    [inner.target] if isinstance(inner, (ast.AnnAssign, ast.AugAssign)) else [])
                for target in targets:
                    if (isinstance(target, ast.Attribute) and isinstance(target.value, ast.Name)
                            and target.value.id == 'self'):
                        attributes.add(target.attr)
        else:
            attributes.update(_defined(statement))
    bases = [ast.unparse(base) for base in node.bases]
    return {'bases': bases, 'methods': methods, 'attributes': sorted(attributes)}


def package_api(source: Path, package: str = 'rclpy') -> dict[str, Any]:
    """{module: {'names': [...], 'classes': {name: {'bases', 'methods': {name: [parameters]}, 'attributes'}},
    'functions': {name: [parameters]}}} of the package whose __init__.py is in `source`/`package`."""
    modules = {}
    root = source / package
    for path in sorted(root.rglob('*.py')):
        relative = path.relative_to(source).with_suffix('')
        parts = relative.parts[:-1] if relative.name == '__init__' else relative.parts
        tree = ast.parse(path.read_text(), filename=str(path))
        statements = _top_level(tree.body)
        modules['.'.join(parts)] = {
            'names': sorted({name for statement in statements for name in _defined(statement)}),
            'classes': {statement.name: _class_api(statement) for statement in statements
                        if isinstance(statement, ast.ClassDef)},
            'functions': {statement.name: _parameters(statement) for statement in statements
                          if isinstance(statement, (ast.FunctionDef, ast.AsyncFunctionDef))},
        }
    return modules


@dataclass
class Usage:
    """What code uses of a package: `imports` (module, name or None, where, guarded), `attributes` (dotted names
    read from the package, e.g. 'rclpy.logging.get_logger'), `function_calls` (dotted function of the package ->
    [(keywords, where)], e.g. rclpy.ok(context=...)), `calls` (method name -> [(keywords, where)], on any other
    receiver), and `self_reads` (attributes read on self in subclasses of the package's classes: (class base,
    attribute, where))."""

    imports: list[tuple[str, str | None, str, bool]] = field(default_factory=list)
    attributes: list[tuple[str, str]] = field(default_factory=list)
    function_calls: dict[str, list[tuple[tuple[str, ...], str]]] = field(default_factory=dict)
    calls: dict[str, list[tuple[tuple[str, ...], str]]] = field(default_factory=dict)
    self_reads: list[tuple[str, str, str]] = field(default_factory=list)


def _guarded(tree: ast.Module) -> set[int]:
    """ids of import statements inside a try whose handlers catch ImportError (they have a fallback)."""
    guarded = set()
    for node in ast.walk(tree):
        if isinstance(node, ast.Try) and any(
                handler.type is not None and 'ImportError' in ast.unparse(handler.type) for handler in node.handlers):
            guarded.update(id(statement) for statement in ast.walk(ast.Module(body=node.body, type_ignores=[])))
    return guarded


def _dotted(node: ast.AST) -> str | None:
    parts = []
    while isinstance(node, ast.Attribute):
        parts.append(node.attr)
        node = node.value
    if isinstance(node, ast.Name):
        return '.'.join([node.id, *reversed(parts)])
    return None


def usage(paths: list[Path], package: str = 'rclpy', root: Path | None = None) -> Usage:
    """The use `paths` make of `package` (see Usage); `where` is 'file:line' relative to `root`."""
    found = Usage()
    for path in paths:
        tree = ast.parse(path.read_text(), filename=str(path))
        guarded = _guarded(tree)
        name = str(path.relative_to(root)) if root else str(path)
        imported_classes: dict[str, str] = {}
        for node in ast.walk(tree):
            where = f'{name}:{getattr(node, "lineno", 0)}'
            if isinstance(node, ast.ImportFrom) and node.level == 0 and node.module and (
                    node.module == package or node.module.startswith(package + '.')):
                for alias in node.names:
                    found.imports.append((node.module, alias.name, where, id(node) in guarded))
                    imported_classes[alias.asname or alias.name] = f'{node.module}.{alias.name}'
            elif isinstance(node, ast.Import):
                for alias in node.names:
                    if alias.name == package or alias.name.startswith(package + '.'):
                        found.imports.append((alias.name, None, where, id(node) in guarded))
            elif isinstance(node, ast.Attribute) and not isinstance(node.ctx, ast.Store):
                dotted = _dotted(node)
                if dotted and dotted.startswith(package + '.'):
                    found.attributes.append((dotted, where))
            if isinstance(node, ast.Call) and isinstance(node.func, ast.Attribute):
                keywords = tuple(keyword.arg for keyword in node.keywords if keyword.arg)
                dotted = _dotted(node.func)
                if dotted and dotted.startswith(package + '.'):
                    found.function_calls.setdefault(dotted, []).append((keywords, where))
                else:
                    found.calls.setdefault(node.func.attr, []).append((keywords, where))
        for node in ast.walk(tree):
            if isinstance(node, ast.ClassDef):
                bases = [imported_classes.get(ast.unparse(base), '') for base in node.bases]
                package_bases = [base for base in bases if base]
                if not package_bases:
                    continue
                own = {target.attr for inner in ast.walk(node) if isinstance(inner, (ast.Assign, ast.AnnAssign))
                       for target in (inner.targets if isinstance(inner, ast.Assign) else [inner.target])
                       if isinstance(target, ast.Attribute)} | {
                    item.name for item in node.body if isinstance(item, (ast.FunctionDef, ast.AsyncFunctionDef))}
                for inner in ast.walk(node):
                    if (isinstance(inner, ast.Attribute) and isinstance(inner.value, ast.Name)
                            and inner.value.id == 'self' and inner.attr not in own):
                        found.self_reads.append((package_bases[0], inner.attr, f'{name}:{inner.lineno}'))
    return found


if __name__ == '__main__':
    record = dict(argument.split('=', 1) for argument in sys.argv[2:])
    record['modules'] = package_api(Path(sys.argv[1]))
    json.dump(record, sys.stdout, indent=1, sort_keys=True)
    sys.stdout.write('\n')

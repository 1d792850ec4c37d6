"""The house rules that keep the layers apart: import contracts, no package cycles, no request in domain code."""
from __future__ import annotations

import ast
import subprocess
import sys
from pathlib import Path

import grimp
import pytest

ROOT = Path(__file__).resolve().parents[1]
PACKAGE = ROOT / "network"
DOMAINS = ("geo", "accounts", "directory", "scheduling", "vouchers", "reports")
# Modules at the request boundary: blueprints, their views and JSON APIs; everything else in a domain is domain code.
WEB_MODULE_SUFFIXES = ("routes", "api", "api_write", "views", "blueprint")
REQUEST_NAMES = {"request", "session", "g"}


def _modules(folder: Path):
    for path in sorted(folder.rglob("*.py")):
        yield path, ast.parse(path.read_text(encoding="utf-8"), filename=str(path))


def _is_web_module(path: Path) -> bool:
    return path.stem.endswith(WEB_MODULE_SUFFIXES)


def test_import_contracts_are_kept():
    """.importlinter: admin above the domains, domains in layer order, the core below them all."""
    result = subprocess.run([str(Path(sys.executable).with_name("lint-imports")), "--no-cache"], cwd=ROOT,
                            capture_output=True, text=True, timeout=120)
    assert result.returncode == 0, result.stdout + result.stderr
    assert "broken" in result.stdout and "0 broken" in result.stdout


def test_no_import_cycles_between_packages():
    graph = grimp.build_graph("network", cache_dir=None, exclude_type_checking_imports=True)
    top = {module for module in graph.modules if module.count(".") == 1}
    packages = {m for m in top if (PACKAGE / m.split(".")[1]).is_dir()}
    cycles = []
    for a in sorted(packages):
        for b in sorted(packages):
            if a < b and graph.chain_exists(a, b, as_packages=True) and graph.chain_exists(b, a, as_packages=True):
                cycles.append((a, b))
    assert cycles == []


def test_domain_code_never_touches_the_request():
    offenders = []
    for domain in DOMAINS:
        folder = PACKAGE / domain
        if not folder.is_dir():
            continue
        for path, tree in _modules(folder):
            if _is_web_module(path):
                continue
            for node in ast.walk(tree):
                if isinstance(node, ast.ImportFrom) and node.module == "flask":
                    used = {alias.name for alias in node.names} & REQUEST_NAMES
                    if used:
                        offenders.append(f"{path.relative_to(ROOT)}:{node.lineno} {sorted(used)}")
    assert offenders == []


def test_function_level_imports_say_why():
    """An import inside a function hides a dependency; where one is needed, a comment on its line says why."""
    unexplained = []
    for path, tree in _modules(PACKAGE):
        lines = path.read_text(encoding="utf-8").splitlines()
        for func in ast.walk(tree):
            if not isinstance(func, (ast.FunctionDef, ast.AsyncFunctionDef)):
                continue
            for node in ast.walk(func):
                if isinstance(node, (ast.Import, ast.ImportFrom)) and "#" not in lines[node.lineno - 1]:
                    unexplained.append(f"{path.relative_to(ROOT)}:{node.lineno}")
    assert unexplained == []


@pytest.mark.parametrize("name", ["routes", "coach_routes", "api", "views", "blueprint"])
def test_web_module_names_are_recognised(name):
    assert _is_web_module(Path(f"{name}.py"))


def test_a_service_module_is_domain_code():
    assert not _is_web_module(Path("booking.py"))
    assert not _is_web_module(Path("availability.py"))


ROUTE_DECORATORS = {"get", "post", "route", "put", "patch", "delete"}
MAX_HANDLER_LINES = 30
MAX_ROUTE_MODULE_LINES = 300


def _route_handlers(tree: ast.Module):
    for node in ast.walk(tree):
        if isinstance(node, ast.FunctionDef) and any(
                isinstance(d, ast.Call) and isinstance(d.func, ast.Attribute) and d.func.attr in ROUTE_DECORATORS
                for d in node.decorator_list):
            yield node


def test_route_handlers_and_route_modules_stay_small():
    """Views parse, call one service and respond: a handler over 30 lines (def to its last line, decorators
    excluded) or a module of routes over 300 lines is a sign that rules sit in the web layer."""
    long_handlers, long_modules = [], []
    for path, tree in _modules(PACKAGE):
        handlers = list(_route_handlers(tree))
        long_handlers += [f"{path.relative_to(ROOT)}:{h.name} ({h.end_lineno - h.lineno + 1})"
                          for h in handlers if h.end_lineno - h.lineno + 1 > MAX_HANDLER_LINES]
        lines = len(path.read_text(encoding="utf-8").splitlines())
        if handlers and lines > MAX_ROUTE_MODULE_LINES:
            long_modules.append(f"{path.relative_to(ROOT)} ({lines})")
    assert long_handlers == [] and long_modules == []

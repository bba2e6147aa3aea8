"""The layout rules of ADR 0017: small modules, short functions, one name per module, and an
import contract that covers every module of the profile layer."""

from __future__ import annotations

import ast
import configparser
from collections import defaultdict
from pathlib import Path

REPO = Path(__file__).resolve().parents[2]
PRODUCT = ("infra", "profile", "ml", "nudge")
MAX_MODULE_LINES = 300
MAX_FUNCTION_LINES = 60
# Generated code and migrations are written by tools; the scenario YAML is data.
EXEMPT_PARTS = ("pb", "migrations")


def _modules() -> list[Path]:
    found = []
    for top in PRODUCT:
        for path in sorted((REPO / top).rglob("*.py")):
            if not any(part in EXEMPT_PARTS for part in path.relative_to(REPO).parts):
                found.append(path)
    return found


def _function_lengths(path: Path) -> list[tuple[str, int]]:
    lengths = []
    for node in ast.walk(ast.parse(path.read_text(encoding="utf-8"))):
        if isinstance(node, (ast.FunctionDef, ast.AsyncFunctionDef)):
            first = node.decorator_list[0].lineno if node.decorator_list else node.lineno
            assert node.end_lineno is not None
            lengths.append((node.name, node.end_lineno - first + 1))
    return lengths


def test_no_product_module_is_over_300_lines() -> None:
    too_long = {
        str(p.relative_to(REPO)): n
        for p in _modules()
        if (n := len(p.read_text(encoding="utf-8").splitlines())) > MAX_MODULE_LINES
    }
    assert too_long == {}


def test_no_function_is_over_60_lines() -> None:
    too_long = {
        f"{p.relative_to(REPO)}:{name}": n
        for p in _modules()
        for name, n in _function_lengths(p)
        if n > MAX_FUNCTION_LINES
    }
    assert too_long == {}


def test_no_two_product_modules_share_a_file_name() -> None:
    by_name: dict[str, list[str]] = defaultdict(list)
    for path in _modules():
        if path.name not in ("__init__.py", "__main__.py"):
            by_name[path.name].append(str(path.relative_to(REPO)))
    assert {n: paths for n, paths in by_name.items() if len(paths) > 1} == {}


def test_the_contract_names_every_profile_module() -> None:
    """profile/ is a namespace package, so the contract lists its modules one by one."""
    contract = configparser.ConfigParser()
    contract.read(REPO / ".importlinter")
    layers = contract["importlinter:contract:floors"]["layers"]
    named = {
        module.strip()
        for line in layers.splitlines()
        for module in line.split(":")
        if module.strip().startswith("nudge_profile.")
    }
    shipped = {f"nudge_profile.{p.stem}" for p in (REPO / "profile").glob("*.py")}
    assert named == shipped


def test_the_rules_catch_what_they_forbid(tmp_path: Path) -> None:
    """The length count sees decorators and nested functions."""
    sample = tmp_path / "sample.py"
    body = "\n".join(f"    x{n} = {n}" for n in range(60))
    sample.write_text(f"@decorator\ndef f():\n{body}\n    def inner():\n        pass\n")
    assert dict(_function_lengths(sample)) == {"f": 64, "inner": 2}


def test_the_contract_places_every_part_of_the_shell() -> None:
    """nudge/ is split across floors (the CLI on top, settings at the bottom): each of its
    modules and packages must be on one, or it would escape the contract."""
    contract = configparser.ConfigParser()
    contract.read(REPO / ".importlinter")
    layers = contract["importlinter:contract:floors"]["layers"]
    named = {
        module.strip()
        for line in layers.splitlines()
        for module in line.replace("|", ":").split(":")
        if module.strip().startswith("nudge.")
    }
    shell = REPO / "nudge"
    children = {f"nudge.{p.stem}" for p in shell.glob("*.py") if p.name != "__init__.py"}
    children |= {f"nudge.{p.parent.name}" for p in shell.glob("*/__init__.py")}
    assert named == children

"""The layout's import rules, checked by reading every module's imports.

- ``remediate`` (the core) never imports ``flows`` or ``tasks``;
- ``tasks`` never imports ``flows``;
- no module imports a private name (``_x``) from another module;
- no flow module shares its name with a top-level package it could shadow;
- run tags are written only through ``remediate.runs.tags``.
"""

from __future__ import annotations

import ast
import re
from collections.abc import Iterator
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parent.parent
PACKAGES = ("remediate", "tasks", "flows")


def modules(package: str) -> list[Path]:
    return sorted((ROOT / package).rglob("*.py"))


def imported(path: Path) -> Iterator[tuple[str, list[str]]]:
    """(module, names) for every import in ``path``, nested and relative ones included."""
    package = list(path.relative_to(ROOT).parts[:-1])
    for node in ast.walk(ast.parse(path.read_text(encoding="utf-8"))):
        if isinstance(node, ast.Import):
            for alias in node.names:
                yield alias.name, []
        elif isinstance(node, ast.ImportFrom):
            base = package[: len(package) - node.level + 1] if node.level else []
            module = ".".join([*base, *([node.module] if node.module else [])])
            yield module, [alias.name for alias in node.names]


def top(module: str) -> str:
    return module.split(".", 1)[0]


def relative(path: Path) -> str:
    return str(path.relative_to(ROOT))


@pytest.mark.parametrize(
    ("package", "forbidden"),
    [("remediate", {"flows", "tasks"}), ("tasks", {"flows"})],
)
def test_layers_import_only_downwards(package: str, forbidden: set[str]) -> None:
    wrong = [
        f"{relative(path)} imports {module}"
        for path in modules(package)
        for module, _ in imported(path)
        if top(module) in forbidden
    ]
    assert wrong == []


def test_no_private_name_crosses_modules() -> None:
    wrong = [
        f"{relative(path)} imports {name} from {module}"
        for package in PACKAGES
        for path in modules(package)
        for module, names in imported(path)
        if top(module) in PACKAGES
        for name in names
        if name.startswith("_")
    ]
    assert wrong == []


def test_no_flow_module_shadows_a_package() -> None:
    flow_modules = {path.stem for path in modules("flows")}
    assert flow_modules.isdisjoint({*PACKAGES, "prefect"})


def test_tasks_hold_tasks_and_flows_orchestrate() -> None:
    """Every public function of a ``tasks`` module is a Prefect task (or a helper its tasks
    share, named in ``ALLOWED``); no ``tasks`` module defines a flow."""
    allowed = {"expect_undo", "undo_result", "log_action_run"}
    loose = []
    for path in modules("tasks"):
        tree = ast.parse(path.read_text(encoding="utf-8"))
        for node in tree.body:
            if not isinstance(node, ast.FunctionDef | ast.AsyncFunctionDef):
                continue
            decorators = {ast.unparse(d).split("(", 1)[0] for d in node.decorator_list}
            if "flow" in decorators:
                loose.append(f"{relative(path)}: {node.name} is a flow")
            elif not ("task" in decorators or node.name in allowed or node.name.startswith("_")):
                loose.append(f"{relative(path)}: {node.name} is not a task")
    assert loose == []


TAG_LITERAL = re.compile(
    r"""["'](alert|check|severity|service|fingerprint|verdict|occurrences|issue|fix|approval"""
    r"""|action|action-approval|action-status|rollback|rollback-from|rollback-to"""
    r"""|resolved-before|flapping-transitions|flapping-window-s):"""
)
TAG_FLAGS = re.compile(r"""["'](awaiting-approval|awaiting-capacity-approval|alert-resolved)["']""")


def test_run_tags_are_built_in_one_module() -> None:
    vocabulary = ROOT / "remediate" / "runs" / "tags.py"
    wrong = [
        f"{relative(path)}:{number}: {line.strip()}"
        for package in PACKAGES
        for path in modules(package)
        if path != vocabulary
        for number, line in enumerate(path.read_text(encoding="utf-8").splitlines(), 1)
        if ("tag" in line.lower() and TAG_LITERAL.search(line)) or TAG_FLAGS.search(line)
    ]
    assert wrong == []


def test_the_command_line_starts_without_importing_prefect() -> None:
    """Importing Prefect takes seconds; `remediate silence`, `audit --help` and the like
    must not pay it (the commands that talk to Prefect import it when they run)."""
    import subprocess
    import sys

    probe = "import sys, remediate.cli; print(sorted(m for m in sys.modules if m == 'prefect'))"
    done = subprocess.run(
        [sys.executable, "-c", probe], capture_output=True, text=True, check=True, timeout=120
    )
    assert done.stdout.strip() == "[]"

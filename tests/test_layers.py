"""The core's architecture, checked: the import-linter contracts in pyproject.toml (layers, and
no cycle inside any package) hold, and every module opens with a docstring saying what it owns."""

from __future__ import annotations

import ast
import os
import shutil
import subprocess
from pathlib import Path

import pytest

ROOT = Path(__file__).parents[1]
CORE = ROOT / "core" / "zoo"


def test_the_import_linter_contracts_hold(capsys):
    from importlinter.cli import lint_imports

    before = os.getcwd()
    os.chdir(ROOT)  # the contracts read `root_package` from pyproject.toml here
    try:
        status = lint_imports(config_filename="pyproject.toml", no_cache=True, no_logo=True)
    finally:
        os.chdir(before)
    out = capsys.readouterr().out
    assert status == 0, out
    assert "2 kept, 0 broken" in out


@pytest.mark.parametrize(
    ("module", "line", "broken"),
    [
        ("training/loop.py", "from . import trainer", "No cycles are allowed in zoo.training"),
        ("runs/directory.py", "import zoo", "zoo.runs is not allowed to import zoo.api"),
    ],
)
def test_a_cycle_or_a_facade_import_would_be_caught(tmp_path, module, line, broken):
    """The contracts can fail: a copy of the core with one bad import added, linted in a
    process that imports that copy."""
    import shutil
    import sys

    copy = tmp_path / "zoo"
    shutil.copytree(CORE, copy, ignore=shutil.ignore_patterns("__pycache__"))
    path = copy / module
    path.write_text(path.read_text() + f"\n{line}  # noqa\n")
    shutil.copy(ROOT / "pyproject.toml", tmp_path / "pyproject.toml")
    code = (
        "from importlinter.cli import lint_imports\n"
        "raise SystemExit(lint_imports(config_filename='pyproject.toml', no_cache=True))"
    )
    result = subprocess.run(
        [sys.executable, "-c", code],
        cwd=tmp_path,
        env={**os.environ, "PYTHONPATH": str(tmp_path)},
        capture_output=True,
        text=True,
    )
    assert result.returncode == 1 and broken in result.stdout, result.stdout + result.stderr


@pytest.mark.parametrize(
    "module", sorted(str(p.relative_to(CORE)) for p in CORE.rglob("*.py")), ids=str
)
def test_every_module_says_what_it_owns(module):
    source = (CORE / module).read_text()
    if module.endswith("__main__.py"):
        return
    docstring = ast.get_docstring(ast.parse(source))
    assert docstring and len(docstring.split()) >= 5, f"{module} has no opening docstring"


def test_no_source_file_is_hidden_from_git():
    """A .gitignore pattern such as `runs/` once hid core/zoo/runs/ from commits: the tree worked
    here and failed to import everywhere else."""
    git = shutil.which("git")
    if git is None or not (ROOT / ".git").exists():
        pytest.skip("not a git checkout")
    sources = [
        str(p.relative_to(ROOT))
        for top in ("core", "plugins")
        for p in (ROOT / top).rglob("*")
        if p.suffix in {".py", ".yaml", ".json", ".safetensors", ".toml"}
        and "__pycache__" not in p.parts
        and not any(part.endswith(".egg-info") or part == "build" for part in p.parts)
    ]
    result = subprocess.run(
        [git, "check-ignore", "--no-index", *sources], cwd=ROOT, capture_output=True, text=True
    )
    assert result.stdout == "", f"ignored by .gitignore:\n{result.stdout}"


#: Names outside zoo.runs that are not a run's files, though they read alike.
NOT_A_RUNS_FILE = {("plugins/settings.py", "config.yaml")}  # zoo's own settings, in $ZOO_HOME


def test_nothing_outside_zoo_runs_names_a_runs_files():
    """A run folder has one owner (zoo.runs.rundir.RunDir, and the modules behind it): no other
    module spells the name of a file zoo keeps in a run."""
    from zoo.runs.directory import OWN_FILES

    found = []
    for path in sorted(CORE.rglob("*.py")):
        relative = path.relative_to(CORE).as_posix()
        if relative.startswith("runs/"):
            continue
        for node in ast.walk(ast.parse(path.read_text())):
            if isinstance(node, ast.Constant) and node.value in OWN_FILES:
                if (relative, node.value) not in NOT_A_RUNS_FILE:
                    found.append(f"{relative}:{node.lineno}: {node.value!r}")
    assert not found, found

"""How `zoo list` scales with what plugins register: the built-ins alone against one generated
plugin registering 1,000, 3,000 and 10,000 models (what a plugin wrapping a large model library
would do), each `zoo list` a fresh process, taking turns, in the same run.

    python benchmarks/registry.py [--repeat 7]

The plugin is a real distribution (a package and its dist-info with a `zoo` entry point) in a temp
folder put on PYTHONPATH, found the way pip-installed plugins are. Target: `zoo list` with 10,000
names within 1.5x of the built-ins alone, and torch never imported.
"""

from __future__ import annotations

import argparse
import os
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path

PLUGIN = '''
import zoo

def generated(num_classes: int = 10, width: int = 8):
    """A generated model (benchmarks/registry.py)."""

@zoo.hookimpl
def register_models(register):
    for i in range({count}):
        register(f"gen_{{i:05d}}", generated)
'''


def install(site: Path, count: int) -> Path:
    """A distribution zoo-gen<count> with one entry point, in its own folder."""
    folder = site / f"gen{count}"
    package = folder / f"zoo_gen{count}"
    package.mkdir(parents=True)
    (package / "__init__.py").write_text(PLUGIN.format(count=count))
    info = folder / f"zoo_gen{count}-1.0.dist-info"
    info.mkdir()
    (info / "METADATA").write_text(f"Metadata-Version: 2.1\nName: zoo-gen{count}\nVersion: 1.0\n")
    (info / "entry_points.txt").write_text(f"[zoo]\ngen{count} = zoo_gen{count}\n")
    return folder


def time_list(pythonpath: str | None, home: str) -> tuple[float, int]:
    env = {**os.environ, "ZOO_HOME": home}
    if pythonpath:
        env["PYTHONPATH"] = pythonpath
    start = time.perf_counter()
    out = subprocess.run(
        [sys.executable, "-m", "zoo", "list"], env=env, capture_output=True, text=True, check=True
    ).stdout
    return time.perf_counter() - start, out.count("\n")


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--repeat", type=int, default=7)
    args = parser.parse_args()
    with tempfile.TemporaryDirectory() as tmp:
        site, home = Path(tmp), str(Path(tmp) / "home")
        cases = {"built-ins alone": None}
        for count in (1_000, 3_000, 10_000):
            cases[f"+ {count:,} generated models"] = str(install(site, count))
        check = (
            "import sys\nfrom zoo.cli import cli\n"
            "cli(['list'], prog_name='zoo', standalone_mode=False)\n"
            "assert 'torch' not in sys.modules, 'torch was imported'\n"
        )
        env = {**os.environ, "PYTHONPATH": cases["+ 10,000 generated models"], "ZOO_HOME": home}
        subprocess.run([sys.executable, "-c", check], env=env, check=True, capture_output=True)
        for path in cases.values():  # warm the bytecode caches
            time_list(path, home)
        times: dict[str, list[float]] = {name: [] for name in cases}
        lines: dict[str, int] = {}
        for _ in range(args.repeat):  # the cases take turns, so drift hits them alike
            for name, path in cases.items():
                seconds, lines[name] = time_list(path, home)
                times[name].append(seconds)
    base = statistics.median(times["built-ins alone"])
    title = f"zoo list (median of {args.repeat})"
    print(f"{title:<34} {'lines':>7} {'seconds':>8} ratio")
    for name in cases:
        median = statistics.median(times[name])
        print(f"{name:<34} {lines[name]:>7,} {median:>8.3f} {median / base:.2f}x")
    print("torch imported by zoo list with 10,000 models: no")


if __name__ == "__main__":
    main()

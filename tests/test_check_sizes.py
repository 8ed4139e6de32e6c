"""tools/check_sizes.py, the size check `make lint` runs: it flags an over-long module or function and
passes short ones, with data literals not counted."""

from __future__ import annotations

import importlib.util
import subprocess
import sys
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
SCRIPT = ROOT / "tools" / "check_sizes.py"

spec = importlib.util.spec_from_file_location("check_sizes", SCRIPT)
assert spec is not None and spec.loader is not None
check_sizes = importlib.util.module_from_spec(spec)
sys.modules["check_sizes"] = check_sizes  # its dataclass looks its module up there
spec.loader.exec_module(check_sizes)


def function(name: str, body_lines: int) -> str:
    body = "".join(f"    x{i} = {i}\n" for i in range(body_lines))
    return f"def {name}() -> None:\n    \"\"\"A docstring counts too.\"\"\"\n{body}"


def test_a_short_function_in_a_short_module_passes(tmp_path: Path) -> None:
    path = tmp_path / "short.py"
    path.write_text(function("short", 50))
    assert check_sizes.check_source(path.read_text(), path) == []
    assert check_sizes.main([str(path)]) == 0


def test_an_over_long_function_is_flagged_with_its_line(tmp_path: Path) -> None:
    path = tmp_path / "long_function.py"
    path.write_text("import os\n\n\n" + function("long", 60))  # def + docstring + 60 lines = 62
    [found] = check_sizes.check_source(path.read_text(), path)
    assert (found.line, found.what, found.counted, found.limit) == (4, "function long()", 62, 60)
    assert check_sizes.main([str(path)]) == 1


def test_an_over_long_module_is_flagged(tmp_path: Path) -> None:
    path = tmp_path / "long_module.py"
    path.write_text("\n\n".join(function(f"f{i}", 40) for i in range(10)))
    found = check_sizes.check_source(path.read_text(), path)
    assert [(f.line, f.what) for f in found] == [(1, "module")]
    assert found[0].counted > 400


def test_data_literals_are_not_counted(tmp_path: Path) -> None:
    words = "".join(f'    "word{i}",\n' for i in range(500))
    table = "".join(f'        "key{i}": ({i}, "value", None),\n' for i in range(100))
    path = tmp_path / "data.py"
    path.write_text(f"WORDS = (\n{words})\n\n\ndef lookup() -> dict:\n    return {{\n{table}    }}\n")
    assert check_sizes.check_source(path.read_text(), path) == []


def test_the_tree_passes_and_the_script_runs_as_make_lint_runs_it() -> None:
    done = subprocess.run([sys.executable, str(SCRIPT)], cwd=ROOT, capture_output=True, text=True, timeout=120)
    assert (done.returncode, done.stdout) == (0, "")

"""The notebook harness: every notebook opens the same way and is collected by nbval."""

import json
import subprocess
import sys
from pathlib import Path

import pytest

from kdtrack_lite.notebook import STANDARD_CELL, colab_badge

ROOT = Path(__file__).resolve().parents[1]
NOTEBOOKS = sorted((ROOT / "notebooks").glob("*.ipynb"))


def _source(cell) -> str:
    src = cell["source"]
    return "".join(src) if isinstance(src, list) else src


def test_there_are_notebooks():
    assert NOTEBOOKS, "notebooks/ has no .ipynb"


@pytest.mark.parametrize("path", NOTEBOOKS, ids=lambda p: p.name)
def test_notebook_opens_with_badge_and_standard_cell(path):
    cells = json.loads(path.read_text())["cells"]
    assert cells[0]["cell_type"] == "markdown" and colab_badge(path.name) in _source(cells[0]), (
        f"{path.name}: the first cell must be markdown with the Colab badge {colab_badge(path.name)}"
    )
    first_code = next(c for c in cells if c["cell_type"] == "code")
    assert _source(first_code) == STANDARD_CELL, (
        f"{path.name}: the first code cell must be kdtrack_lite.notebook.STANDARD_CELL, word for word"
    )


@pytest.mark.parametrize("path", NOTEBOOKS, ids=lambda p: p.name)
def test_notebook_has_no_saved_errors(path):
    cells = json.loads(path.read_text())["cells"]
    errors = [o for c in cells if c["cell_type"] == "code" for o in c.get("outputs", [])
              if o.get("output_type") == "error"]
    assert not errors, f"{path.name} has an error output saved in it"


def test_notebooks_are_numbered_and_listed_in_readme():
    readme = (ROOT / "README.md").read_text()
    for path in NOTEBOOKS:
        assert path.name[:2].isdigit() and path.name[2] == "_", f"{path.name}: name it NN_topic.ipynb"
        assert path.name in readme, f"{path.name} is missing from the README's notebook table"


def test_nbval_collects_every_notebook():
    out = subprocess.run(
        [sys.executable, "-m", "pytest", "--collect-only", "-q", "--nbval-lax", "-p", "no:cacheprovider",
         str(ROOT / "notebooks")],
        capture_output=True, text=True, cwd=ROOT,
    )
    assert out.returncode == 0, out.stdout + out.stderr
    for path in NOTEBOOKS:
        assert f"notebooks/{path.name}::" in out.stdout, f"nbval did not collect {path.name}\n{out.stdout}"

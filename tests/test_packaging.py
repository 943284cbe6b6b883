"""The install story: pyproject and environment.yml agree, the CLI answers, CI runs the README."""

import re
import subprocess
import sys
import tomllib
from pathlib import Path

import kdtrack_lite
from kdtrack_lite.cli import main

ROOT = Path(__file__).resolve().parents[1]
NAMED = ["jupyterlab", "torch", "torchvision", "ipywidgets", "matplotlib", "opencv-python",
         "motmetrics", "nbval", "open_clip_torch"]


def _pyproject_requirements() -> set[str]:
    project = tomllib.loads((ROOT / "pyproject.toml").read_text())["project"]
    return set(project["dependencies"]) | set(project["optional-dependencies"]["dev"])


def _environment_pip_requirements() -> set[str]:
    lines = (ROOT / "environment.yml").read_text().splitlines()
    start = next(i for i, line in enumerate(lines) if line.strip() == "- pip:")
    reqs = set()
    for line in lines[start + 1:]:
        m = re.match(r"^\s+- (.+)$", line)
        if m and not m.group(1).startswith("-e"):
            reqs.add(m.group(1).strip())
    return reqs


def test_environment_yml_matches_pyproject():
    assert _environment_pip_requirements() == _pyproject_requirements()


def test_named_dependencies_declared():
    names = {re.split(r"[<>=!~\[ ]", r)[0].lower().replace("_", "-") for r in _pyproject_requirements()}
    assert {n.lower().replace("_", "-") for n in NAMED} <= names


def test_torch_ranges_admit_local_wheels_and_numpy2():
    reqs = {re.split(r"[<>=!~ ]", r)[0]: r for r in _pyproject_requirements()}
    from packaging.requirements import Requirement

    for name, version in [("torch", "2.14.1"), ("torchvision", "0.29.1"), ("numpy", "2.1.0")]:
        assert Requirement(reqs[name]).specifier.contains(version), reqs[name]


def test_ci_runs_the_readme_test_command():
    readme = (ROOT / "README.md").read_text()
    ci = (ROOT / ".ci" / "run").read_text()
    assert "make test" in readme and "make lab" in readme
    assert re.search(r"^make test$", ci, re.M)


def test_cli_version_and_help(capsys):
    assert main(["version"]) == 0
    assert capsys.readouterr().out.strip() == kdtrack_lite.__version__
    out = subprocess.run([sys.executable, "-m", "kdtrack_lite.cli", "--help"], capture_output=True, text=True)
    assert out.returncode == 0 and "version" in out.stdout


def test_cli_env_reports_profile(monkeypatch, capsys):
    monkeypatch.setenv("KDTRACK_FAST", "1")
    assert main(["env"]) == 0
    assert '"profile": "fast (KDTRACK_FAST=1)"' in capsys.readouterr().out

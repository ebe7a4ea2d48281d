"""The wheel `pip install .` builds holds everything the assistant reads at run time (every module, the prompt
templates, the answerability model) and the `brief` command."""

from __future__ import annotations

import shutil
import subprocess
import sys
import zipfile

import pytest

from tests.support import ROOT

pytestmark = pytest.mark.slow  # builds a wheel

SHIPPED = ("pyproject.toml", "README.md", "assistant", "index", "kernel", "prompts", "shells", "ui", "workbench")


def test_the_wheel_ships_every_module_the_prompts_and_the_model(tmp_path):
    source = tmp_path / "src"
    for name in SHIPPED:
        if (ROOT / name).is_dir():
            shutil.copytree(ROOT / name, source / name, ignore=shutil.ignore_patterns("__pycache__"))
        else:
            source.mkdir(exist_ok=True)
            shutil.copy(ROOT / name, source / name)
    built = subprocess.run(
        [sys.executable, "-m", "build", "--wheel", "--no-isolation", "--outdir", str(tmp_path / "dist"), str(source)],
        capture_output=True,
        text=True,
        timeout=300,
    )
    assert built.returncode == 0, built.stderr[-2000:]
    (wheel,) = (tmp_path / "dist").glob("brief-*.whl")
    names = set(zipfile.ZipFile(wheel).namelist())

    modules = {str(p.relative_to(ROOT)) for name in SHIPPED[2:] for p in (ROOT / name).rglob("*.py")}
    assert modules - names == set(), "modules missing from the wheel"
    templates = {str(p.relative_to(ROOT)) for p in (ROOT / "prompts").glob("*.txt")}
    data = {str(p.relative_to(ROOT)) for p in (ROOT / "assistant" / "data").iterdir()}
    assert templates and data and (templates | data) - names == set()
    (entry_points,) = [n for n in names if n.endswith(".dist-info/entry_points.txt")]
    assert "brief = shells.cli:main" in zipfile.ZipFile(wheel).read(entry_points).decode()

"""The layer order in pyproject.toml ([tool.importlinter]) holds, and `lint-imports` catches an upward import."""
import shutil
import subprocess
import sys

from engine.paths import ROOT

LINT = [sys.executable, "-c", "from importlinter.cli import lint_imports_command; lint_imports_command()"]


def lint(tree):
    return subprocess.run(LINT, cwd=tree, capture_output=True, text=True, env={"PYTHONPATH": str(tree)})


def copy_of_the_code(tmp_path):
    for name in ("engine", "dashboard", "views"):
        shutil.copytree(ROOT / name, tmp_path / name, ignore=shutil.ignore_patterns("__pycache__"))
    shutil.copy(ROOT / "pyproject.toml", tmp_path)
    return tmp_path


def test_the_project_keeps_its_layers(tmp_path):
    result = lint(copy_of_the_code(tmp_path))
    assert result.returncode == 0, result.stdout
    assert "0 broken" in result.stdout


def test_an_upward_import_breaks_the_contract(tmp_path):
    tree = copy_of_the_code(tmp_path)
    tokenizer = tree / "engine" / "data" / "tokenizer.py"  # the data layer reaching up into the models layer
    tokenizer.write_text(tokenizer.read_text() + "\nfrom engine.models import build_model  # noqa\n")
    result = lint(tree)
    assert result.returncode != 0
    assert "engine.data.tokenizer -> engine.models" in result.stdout


def test_the_engine_may_not_import_streamlit(tmp_path):
    tree = copy_of_the_code(tmp_path)
    translate = tree / "engine" / "inference" / "translate.py"
    translate.write_text(translate.read_text() + "\nimport streamlit  # noqa\n")
    result = lint(tree)
    assert result.returncode != 0 and "The engine never imports Streamlit BROKEN" in result.stdout


def test_an_import_circle_inside_a_layer_breaks_the_contract(tmp_path):
    tree = copy_of_the_code(tmp_path)
    decoding = tree / "engine" / "inference" / "decoding.py"  # translate imports decoding: now each the other
    decoding.write_text(decoding.read_text() + "\nfrom engine.inference import translate  # noqa\n")
    result = lint(tree)
    assert result.returncode != 0
    assert "No import circle among the modules (or packages) of any package BROKEN" in result.stdout

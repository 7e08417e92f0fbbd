"""The project's promises to newcomers: layout, commands, documented settings."""

from __future__ import annotations

import ast
import importlib
import re
from pathlib import Path

from typer.testing import CliRunner

from pipelines.cli import app
from pipelines.settings import Settings
from tests.conftest import REPO


def test_packages_resolve_inside_the_repo():
    for name in ("features", "models", "pipelines", "synthetic"):
        module = importlib.import_module(name)
        assert Path(module.__file__).resolve().is_relative_to(REPO / name), module.__file__


def test_cli_lists_every_command():
    result = CliRunner().invoke(app, ["--help"])
    assert result.exit_code == 0
    for command in (
        "generate",
        "ingest",
        "features",
        "train",
        "backtest",
        "score",
        "nightly",
        "backfill",
        "serve",
        "demo",
    ):
        assert re.search(rf"\b{command}\b", result.output), command


def test_every_setting_is_documented_in_env_example():
    documented = set(re.findall(r"^(LATEPAY_[A-Z_]+)=", (REPO / ".env.example").read_text(), re.M))
    assert documented == {f"LATEPAY_{name.upper()}" for name in Settings.model_fields}


def test_public_setting_names_and_defaults():
    settings = Settings(_env_file=None)
    assert str(settings.warehouse_path) == "data/warehouse.duckdb"
    assert settings.mlflow_tracking_uri == "sqlite:///data/mlflow.db"
    assert str(settings.outputs_dir) == "data/outputs"


def test_settings_read_the_environment(monkeypatch):
    monkeypatch.setenv("LATEPAY_WAREHOUSE_PATH", "/tmp/elsewhere.duckdb")
    assert str(Settings().warehouse_path) == "/tmp/elsewhere.duckdb"


def test_ci_runs_the_readme_commands_word_for_word():
    readme = (REPO / "README.md").read_text()
    block = readme.split("## Two commands", 1)[1].split("```bash", 1)[1].split("```", 1)[0]
    commands = [line.split("#")[0].strip() for line in block.strip().splitlines()]
    assert commands == ["make demo", "make test"]
    ci = [line.strip() for line in (REPO / ".ci" / "run").read_text().splitlines()]
    assert [line for line in ci if line in commands] == commands


SOURCE_PACKAGES = ("pipelines", "features", "models", "synthetic")
MAX_FILE_LINES = 700
MAX_FUNCTION_LINES = 60
# A function longer than MAX_FUNCTION_LINES says why in a comment starting with this.
LONG_FUNCTION_REASON = "# long because"


def _sources():
    for package in SOURCE_PACKAGES:
        yield from sorted((REPO / package).rglob("*.py"))


def test_pipelines_is_grouped_by_concern():
    top = sorted(p.name for p in (REPO / "pipelines").glob("*.py"))
    assert len(top) <= 8, top
    for package in (p for p in (REPO / "pipelines").iterdir() if (p / "__init__.py").exists()):
        docstring = ast.get_docstring(ast.parse((package / "__init__.py").read_text()))
        assert docstring, f"{package.name}/__init__.py says what the package owns"


def test_no_source_file_is_too_long():
    long = {
        str(p.relative_to(REPO)): n
        for p in _sources()
        if (n := len(p.read_text().splitlines())) > MAX_FILE_LINES
    }
    assert long == {}


def test_long_functions_are_split_or_say_why():
    unexplained = []
    for path in _sources():
        text = path.read_text()
        lines = text.splitlines()
        for node in ast.walk(ast.parse(text)):
            if isinstance(node, (ast.FunctionDef, ast.AsyncFunctionDef)):
                length = node.end_lineno - node.lineno + 1
                body = "\n".join(lines[node.lineno - 1 : node.end_lineno])
                if length > MAX_FUNCTION_LINES and LONG_FUNCTION_REASON not in body:
                    unexplained.append(
                        f"{path.relative_to(REPO)}:{node.lineno} {node.name} {length}"
                    )
    assert unexplained == []


def test_nothing_below_pipelines_reads_the_environment_or_the_clock():
    forbidden = re.compile(r"os\.environ|getenv|date\.today\(|datetime\.now\(|current_date|now\(\)")
    for package in ("features", "models", "synthetic"):
        for path in (REPO / package).rglob("*"):
            if path.suffix in (".py", ".sql"):
                assert not forbidden.search(path.read_text()), path

"""The project's promises to newcomers: layout, commands, documented settings."""

from __future__ import annotations

import importlib
import re
from pathlib import Path

from typer.testing import CliRunner

from pipelines.cli import app
from pipelines.settings import Settings
from tests.conftest import REPO


def test_packages_resolve_inside_the_repo():
    for name in ("features", "models", "pipelines"):
        module = importlib.import_module(name)
        assert Path(module.__file__).resolve().is_relative_to(REPO / name), module.__file__


def test_cli_lists_every_command():
    result = CliRunner().invoke(app, ["--help"])
    assert result.exit_code == 0
    for command in ("generate", "ingest", "features", "train", "backtest", "score", "demo"):
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


def test_readme_and_ci_run_the_same_commands():
    readme = (REPO / "README.md").read_text()
    assert "make demo" in readme and "make test" in readme
    assert "make test" in (REPO / ".ci" / "run").read_text()


def test_nothing_below_pipelines_reads_the_environment_or_the_clock():
    forbidden = re.compile(r"os\.environ|getenv|date\.today\(|datetime\.now\(|current_date|now\(\)")
    for package in ("features", "models"):
        for path in (REPO / package).rglob("*"):
            if path.suffix in (".py", ".sql"):
                assert not forbidden.search(path.read_text()), path

"""The one settings object. Read at the edge (CLI, flows); nothing below `pipelines/` reads the
environment: `features/` and `models/` take explicit arguments."""

from __future__ import annotations

from datetime import date
from pathlib import Path

from pydantic import Field, ValidationError, field_validator
from pydantic_settings import BaseSettings, SettingsConfigDict

from pipelines.publish.locale import DEFAULT_LOCALE, parse_locale


class Settings(BaseSettings):
    """latepay settings; every field can be set as an environment variable `LATEPAY_<FIELD>`
    or in a `.env` file in the working directory (see `.env.example`)."""

    model_config = SettingsConfigDict(env_prefix="LATEPAY_", env_file=".env", extra="ignore")

    warehouse_path: Path = Field(
        Path("data/warehouse.duckdb"), description="DuckDB file holding raw, staging, scoring."
    )
    mlflow_tracking_uri: str = Field(
        "sqlite:///data/mlflow.db", description="MLflow tracking and registry store."
    )
    outputs_dir: Path = Field(
        Path("data/outputs"), description="Published worklists, one folder per as-of date."
    )
    sample_dir: Path = Field(Path("data/sample"), description="Bundled sample book for the demo.")
    mlflow_artifacts_dir: Path = Field(
        Path("data/mlartifacts"), description="Where MLflow stores run artifacts and models."
    )
    experiment_name: str = Field("latepay", description="MLflow experiment for training runs.")
    model_name: str = Field("latepay", description="Registered MLflow model name.")
    late_grace_days: int = Field(
        0, ge=0, description="An invoice is late when settled more than this many days after due."
    )
    serious_late_days: int = Field(
        30,
        ge=1,
        description="Serious lateness: unpaid this many days after the due date (or as-of date).",
    )
    snapshot_every_days: int = Field(
        7, ge=1, description="Spacing of training snapshot dates (one as-of date every N days)."
    )
    max_training_snapshots: int = Field(
        2_000_000,
        ge=10_000,
        description="Above this many training snapshots, keep each invoice's first snapshot and a "
        "hashed share of the others, then a hashed sample of customers.",
    )
    seed: int = Field(0, description="Random seed for sampling and model training.")
    # The nightly run and the worklist.
    inbox_dir: Path = Field(
        Path("data/inbox"),
        description="Folder where exports are dropped for the nightly run (loaded files move to "
        "inbox/loaded/<date>/, files that fail to load to inbox/failed/<date>/).",
    )
    inbox_mapping: Path | None = Field(
        None, description="Column mapping file for the inbox exports (none: canonical format)."
    )
    nightly_cron: str = Field("0 2 * * *", description="Schedule of the nightly run (cron).")
    nightly_timezone: str = Field("Europe/Paris", description="Time zone of the nightly cron.")
    publish_processes: int | None = Field(
        None,
        ge=0,
        description="Processes that write the collectors' workbooks and drafts: 0, the nightly's "
        "own; N, at most N; empty: one per core when the day's writing is large.",
    )
    capacity_per_collector: int = Field(
        30, ge=1, description="Customers per collector in the daily list (the worklist cut)."
    )
    coming_up_days: int = Field(
        14,
        ge=1,
        description="The workbooks' Coming up sheet: customers whose next action is due within "
        "this many days after the list's date (all of them stay in scoring.worklist).",
    )
    high_risk_threshold: float = Field(
        0.5,
        ge=0,
        le=1,
        description="Probability of lateness from which pre-due reminders come earlier.",
    )
    recovery_fee: float = Field(
        40.0, ge=0, description="Flat recovery indemnity owed per late invoice (EUR 40 in France)."
    )
    ledger_start: date | None = Field(
        None,
        description="Before this date every dunning step is assumed taken on its date (a new "
        "install cannot know better); from it, a step is taken only when the ledger says so. "
        "Empty: the date of the ledger's first action (or, with no ledger, the list's date).",
    )
    business_country: str = Field(
        "FR",
        description="Country whose weekends and public holidays date the collectors' list (a "
        "list dated on a holiday covers the next business day); customers' actions follow "
        "their own country's holidays.",
    )
    locale: str = Field(
        DEFAULT_LOCALE,
        description="Language and territory of the people reading the outputs (e.g. fr_FR, "
        "en_GB): the report's words (French for a French locale, English otherwise), the "
        "reasons, and how amounts, numbers and dates are written (Babel).",
    )
    max_stale_days: int = Field(
        7,
        ge=1,
        description="Refuse to publish when the latest payment or invoice in the warehouse is "
        "older than this many days before the as-of date (a missing export).",
    )

    # On a Dask cluster (README, "Scale"): features, training and scoring on its workers.
    dask_address: str | None = Field(
        None,
        description="Scheduler address of a Dask cluster (tcp://host:8786) to build features, "
        "train and score on; `local` starts a LocalCluster on this machine; empty: one machine.",
    )
    shared_dir: Path = Field(
        Path("data/shared"),
        description="Folder every Dask worker can read (a shared file system) where the staging "
        "tables are exported as Parquet, partitioned by customer.",
    )
    dask_partitions: int = Field(
        16, ge=1, description="Customer partitions of the export (each one task per stage)."
    )
    dask_local_workers: int = Field(
        2, ge=1, description="Worker processes of the `local` cluster (one thread each)."
    )

    # The drafts published with each list (letters, emails, call sheets, agency packs).
    company_name: str = Field("Your company", description="Sender of the drafts.")
    company_address: str = Field(
        "", description="Sender's postal address, one line per ';' (letters and notices)."
    )
    company_siren: str = Field("", description="SIREN number, printed in the legal mentions.")
    company_iban: str = Field("", description="IBAN to pay to, printed on every draft.")
    company_email: str = Field("", description="From address of the email drafts.")
    company_signature: str = Field(
        "The credit management team", description="Signature of the drafts."
    )
    templates_dir: Path | None = Field(
        None,
        description="Folder of Jinja templates overriding the drafts' (same file names as "
        "pipelines/publish/templates/drafts/<language>/); empty: latepay's own.",
    )
    french_law_countries: str = Field(
        "FR",
        description="Customers in these countries (comma-separated ISO codes) owe the French "
        "statutory penalties: the 40 euro recovery indemnity and interest at the ECB rate + 10.",
    )
    french_language_countries: str = Field(
        "FR,MC,LU",
        description="Customers in these countries get their drafts in French; the others in "
        "English.",
    )
    payment_deadline_days: int = Field(
        8, ge=1, description="Days a formal notice gives the customer to pay."
    )

    @field_validator("locale")
    @classmethod
    def _known_locale(cls, value: str) -> str:
        return str(parse_locale(value))

    @field_validator(
        "warehouse_path", "outputs_dir", "sample_dir", "mlflow_artifacts_dir", "inbox_dir",
        "inbox_mapping", "shared_dir", "templates_dir",
    )  # fmt: skip
    @classmethod
    def _no_nul(cls, value: Path | None) -> Path | None:
        # (a .env file can hold one; every file call would raise ValueError later)
        if value is not None and "\x00" in str(value):
            raise ValueError("a path cannot hold a NUL character")
        return value

    @field_validator(
        "inbox_mapping",
        "ledger_start",
        "templates_dir",
        "dask_address",
        "publish_processes",
        mode="before",
    )
    @classmethod
    def _empty_is_none(cls, value: object) -> object:
        return None if value == "" else value


def invalid_settings(exc: ValidationError) -> str:
    """One line naming each LATEPAY_ variable whose value is not valid, and what to do."""
    problems = [
        f"LATEPAY_{'_'.join(map(str, e['loc'])).upper()} = {e.get('input')!r}: "
        f"{e['msg'].removeprefix('Value error, ')}"
        for e in exc.errors()
    ]
    return (
        f"{'; '.join(problems)}; fix it in the environment or in .env (.env.example lists "
        "every setting)"
    )

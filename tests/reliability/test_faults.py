"""Faults as one line, exit code 1, never a traceback (issue #19 item 4), and text from the data
inert in a real run (item 5): a damaged MLflow store for train and score, no champion, a
champion whose files are gone under `train --force-promote`, settings that are not valid, output
options naming a folder or a path under a file, e-mail addresses from the data in the drafts."""

from __future__ import annotations

import csv
import email
import os
import subprocess
import sys
from email import policy
from pathlib import Path

import pandas as pd
import pytest
from typer.testing import CliRunner

from pipelines.cli import app
from pipelines.publish.drafts import DraftContext, write_drafts
from tests.conftest import set_env, settings_in
from tests.reliability.test_tracking_faults import champion_files_gone

INVOICES = "invoice_id,customer_id,issue_date,due_date,amount\nI1,C1,2026-03-01,2026-03-31,10\n"


def _latepay(*args: str):
    result = CliRunner().invoke(app, list(args))
    return result, " ".join(result.output.split())  # (the console wraps long lines)


@pytest.fixture
def one_invoice(tmp_path, monkeypatch):
    """A warehouse holding one invoice, settings as LATEPAY_* variables."""
    settings = settings_in(tmp_path)
    set_env(settings, monkeypatch)
    (tmp_path / "invoices.csv").write_text(INVOICES)
    assert _latepay("ingest", str(tmp_path / "invoices.csv"))[0].exit_code == 0
    return settings


def _one_line_fault(result) -> None:
    assert result.exit_code == 1, result.output
    assert "Traceback" not in result.output and result.exception.__class__ is SystemExit
    assert result.output.startswith("error: ")


@pytest.mark.parametrize("command", ["score", "train"])
def test_a_damaged_store_is_one_line_before_any_work(one_invoice, monkeypatch, command):
    # train said so only after its backtest (here: "too little data" hid the store)
    store = Path(one_invoice.mlflow_tracking_uri.removeprefix("sqlite:///"))
    store.write_bytes(b"\x00garbage, not a database\xff" * 200)
    result, line = _latepay(command, *(["--as-of", "2026-06-30"] if command == "score" else []))
    _one_line_fault(result)
    assert "LATEPAY_MLFLOW_TRACKING_URI must name a store latepay made" in line
    assert store.read_bytes().startswith(b"\x00garbage")  # left alone


def test_no_champion_is_one_line_saying_to_train(one_invoice):
    result, line = _latepay("score", "--as-of", "2026-06-30")
    _one_line_fault(result)
    assert line.endswith("run `latepay train` first")
    assert not (one_invoice.outputs_dir / "2026-06-30").exists()


def test_monitor_json_without_any_published_list_is_written(one_invoice, tmp_path):
    # (the empty realised table had no dates to format: AttributeError after the work)
    result, _ = _latepay("monitor", "--as-of", "2026-06-30", "--json", str(tmp_path / "m.json"))
    assert result.exit_code == 0, result.output
    assert '"realised": []' in (tmp_path / "m.json").read_text()


@pytest.mark.parametrize(
    ("command", "option"),
    [("monitor", "--json"), ("backtest", "--json"), ("backtest", "--predictions"),
     ("features", "--out")],
)  # fmt: skip
@pytest.mark.parametrize("shape", ["a folder", "under a file"])
def test_an_output_option_that_cannot_be_a_file_is_refused_before_the_work(
    one_invoice, tmp_path, command, option, shape
):
    (tmp_path / "notes.txt").write_text("notes\n")
    path = tmp_path if shape == "a folder" else tmp_path / "notes.txt" / "out.csv"
    result, line = _latepay(command, option, str(path))
    _one_line_fault(result)
    assert line.startswith(f"error: {option} {path} ")
    assert line.endswith("give a file path in a folder latepay can write to")
    assert "Realised accuracy" not in line and "AUC" not in line  # refused before the work
    assert (tmp_path / "notes.txt").read_text() == "notes\n"


@pytest.mark.parametrize(
    ("variable", "value", "said"),
    [
        ("LATEPAY_CAPACITY_PER_COLLECTOR", "thirty", "Input should be a valid integer"),
        ("LATEPAY_LOCALE", "xx_YY", "unknown locale 'xx_YY'"),
    ],
)
def test_a_setting_that_is_not_valid_is_one_line_naming_it(
    settings_env, monkeypatch, variable, value, said
):
    monkeypatch.setenv(variable, value)
    for command in (["score"], ["nightly"], ["ingest", "x.csv"], ["monitor"]):
        result, line = _latepay(*command)
        _one_line_fault(result)
        assert line.startswith(f"error: {variable} = {value!r}: {said}")
        assert line.endswith(
            "fix it in the environment or in .env (.env.example lists every setting)"
        )


def test_a_nul_character_in_a_path_setting_is_refused_naming_it(settings_env, tmp_path):
    # (the environment cannot hold one; a .env file can)
    (tmp_path / ".env").write_bytes(b"LATEPAY_OUTPUTS_DIR=out\x00put\n")
    cwd = os.getcwd()
    os.chdir(tmp_path)
    try:
        os.environ.pop("LATEPAY_OUTPUTS_DIR")  # (restored by monkeypatch)
        result, line = _latepay("score")
    finally:
        os.chdir(cwd)
    _one_line_fault(result)
    assert line.startswith("error: LATEPAY_OUTPUTS_DIR = 'out\\x00put': a path cannot hold a NUL")


@pytest.mark.slow
def test_train_force_promote_replaces_a_champion_whose_files_are_gone(
    book_copy, monkeypatch, tmp_path
):
    """The champion's files were deleted; its backtest differs (another snapshot spacing), so
    the gate would load it: `latepay train` says so in one line and to force the promotion, and
    `latepay train --force-promote` (which said the same, for ever) makes the new model champion."""
    champion_files_gone(book_copy, tmp_path)
    settings = book_copy.model_copy(
        update={"snapshot_every_days": 14, "mlflow_artifacts_dir": tmp_path / "deleted"}
    )
    set_env(settings, monkeypatch)
    result, line = _latepay("train")
    _one_line_fault(result)
    assert line.endswith("put them back, or run `latepay train --force-promote`")
    result, line = _latepay("train", "--force-promote")
    assert result.exit_code == 0, result.output
    assert "(now champion)" in line
    assert _latepay("score", "--as-of", "2026-11-01")[0].exit_code == 0


# -- the drafts: addresses and names from the data ------------------------------------------


def _email_drafts(tmp_path: Path, emails: list[object]) -> list[email.message.EmailMessage]:
    ids = [f"UK{i}" for i in range(len(emails))]
    invoices = pd.DataFrame(
        {
            "invoice_id": [f"E{i}" for i in range(len(ids))],
            "customer_id": ids,
            "issue_date": pd.Timestamp("2025-06-01"),
            "due_date": pd.Timestamp("2025-07-01"),
            "open_amount": 100.0,
            "days_past_due": 30,
            "currency": "EUR",
            "is_disputed": 0,
            "with_agency": False,
        }
    )
    published = pd.DataFrame(
        {
            "customer_id": ids,
            "collector": "Laura",
            "next_action_key": "first_reminder",
            "next_action": "first reminder",
            "next_action_channel": "email",
            "action_invoices": invoices["invoice_id"],
        }
    )
    context = DraftContext(
        as_of=pd.Timestamp("2025-07-31").date(),
        company={
            "name": "Acme SAS",
            "email": "ar@acme.example",
            "address": [],
            "siren": "",
            "iban": "FR76",
            "signature": "Credit team",
        },
        customers=pd.DataFrame(
            {"customer_id": ids, "name": "Smith\x1b[31m Ltd\x07", "country": "GB", "email": emails}
        ),
        invoices=invoices,
        history=pd.DataFrame(
            columns=["customer_id", "invoice_id", "action_date", "action", "channel", "note"]
        ),
        rates=pd.DataFrame(
            {"half_year_start": ["2025-01-01"], "ecb_main_refinancing_rate": [2.15]}
        ),
        french_law=set(),
        french_language=set(),
    )
    write_drafts(tmp_path, published, context)
    return [
        email.message_from_bytes(
            (tmp_path / "drafts" / "Laura" / f"{i}_first_reminder.eml").read_bytes(),
            policy=policy.default,
        )
        for i in ids
    ]


def test_an_address_from_the_data_never_adds_a_header_or_a_recipient(tmp_path):
    injected, two, garbage, missing = _email_drafts(
        tmp_path,
        ["ar@smith.example\r\nBcc: thief@evil.example", "a@smith.example; b@smith.example",
         "not an address", None],
    )  # fmt: skip
    for message in (injected, garbage, missing):
        assert message["To"] is None and message["Bcc"] is None
        assert set(message.keys()) == {"Subject", "From", "Date", "X-Unsent", "X-Latepay-Note",
                                       "Content-Type", "Content-Transfer-Encoding", "MIME-Version"}  # fmt: skip
    # ("ar@smith.example Bcc: thief@..." was read as To: ar@smith.example, the rest dropped)
    assert message_note(injected) == (
        "To: left empty: the customer's e-mail 'ar@smith.example Bcc: thief@evil.example' is "
        "not an address"
    )
    assert message_note(garbage).endswith("'not an address' is not an address")
    assert message_note(missing) == "To: left empty: no e-mail address in the customers' export"
    assert [a.addr_spec for a in two["To"].addresses] == ["a@smith.example", "b@smith.example"]
    assert two["X-Latepay-Note"] is None


def message_note(message) -> str:
    return " ".join(str(message["X-Latepay-Note"]).split())


def test_control_characters_from_the_data_never_reach_a_draft(tmp_path):
    [message] = _email_drafts(tmp_path, ["ar@smith.example"])
    body = message.get_content()
    assert "Smith[31m Ltd" in body and "\x1b" not in body and "\x07" not in body


# -- a real run: markup and escape sequences from the data printed as text -------------------

HOSTILE = "[link=http://evil.example]ACME[/link] [/] [bold red]x\x1b[31mRED\x07"


@pytest.mark.slow
def test_a_real_nightly_prints_hostile_names_and_rejected_text_as_text(book_copy, tmp_path):
    """Customers renamed by an export in the inbox, and a rejected row whose text holds an OSC 8
    link and markup: `latepay nightly` (a process, as cron runs it: fpdf2's warnings reached its
    stderr raw) loads, prints the reconciliation and the worklist, exits 0."""
    inbox = book_copy.inbox_dir
    inbox.mkdir(parents=True)
    with (book_copy.sample_dir / "customers.csv").open(newline="") as source:
        rows = list(csv.DictReader(source))
    with (inbox / "customers.csv").open("w", newline="") as out:
        writer = csv.DictWriter(out, list(rows[0]))
        writer.writeheader()
        writer.writerows([{**r, "name": HOSTILE + r["customer_id"]} for r in rows])
    (inbox / "invoices_late.csv").write_text(
        "invoice_id,customer_id,issue_date,due_date,amount\n"
        "X1,C00001,2026-10-01,2026-10-31,\x1b]8;;http://evil/\x1b\\[link=http://x]12[/link]\n"
    )
    env = {**os.environ, "COLUMNS": "200", "PYTHONIOENCODING": "utf-8"}
    env |= {
        f"LATEPAY_{k.upper()}": str(v) for k, v in book_copy.model_dump().items() if v is not None
    }
    latepay = Path(sys.executable).with_name("latepay")
    run = subprocess.run(
        [str(latepay), "nightly", "--as-of", "2026-11-01"], env=env, capture_output=True,
        text=True, cwd=tmp_path, timeout=600,
    )  # fmt: skip
    shown = run.stdout + run.stderr
    assert run.returncode == 0, shown
    assert "\x1b" not in shown and "\x07" not in shown and "\x9d" not in shown
    # the names as written (cut by the table's width), neither a link nor a style
    assert "[link=http:/" in shown and "red]x\\x1b[31" in shown
    assert (
        "[bad_amount]" in shown and "\\x1b]8;;http://evil/\\x1b\\[link=http://x]12[/link]" in shown
    )
    assert "Traceback" not in shown and "missing the following glyphs" not in shown
    assert (book_copy.outputs_dir / "2026-11-01" / "worklist.csv").exists()

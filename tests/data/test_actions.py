"""The collections ledger: actions files and collectors' workbooks, their rules, pending actions,
reloads, and the promises and disputes they feed (README, "Input format")."""

from __future__ import annotations

from datetime import date, datetime
from pathlib import Path

import duckdb
import openpyxl
import pandas as pd
import pytest

from pipelines.ingest import IngestError, ingest_files
from pipelines.warehouse import connect
from pipelines.warehouse.migrations import MIGRATIONS

FIXTURES = Path(__file__).parents[1] / "fixtures" / "ingest"
LOAD_DATE = date(2026, 6, 30)
HEADER = (
    "action_id,customer_id,invoice_id,action_date,action,channel,collector,promised_date,"
    "promised_amount,note\n"
)


def write(folder: Path, name: str, text: str) -> Path:
    path = folder / name
    path.write_text(text, encoding="utf-8")
    return path


def loaded_base() -> duckdb.DuckDBPyConnection:
    """Customer C1 (Laura), invoice I1 (1000, due 2026-02-04, open), I2 (500, paid 2026-02-01)."""
    con = connect(":memory:")
    ingest_files(con, [FIXTURES / "base"], load_date=LOAD_DATE)
    return con


def load(con: duckdb.DuckDBPyConnection, *paths: Path, mapping: Path | None = None):
    results = ingest_files(con, list(paths), mapping, load_date=LOAD_DATE)
    return results[0] if len(results) == 1 else results


def counts(result) -> tuple[int, int, int, int]:
    return (result.rows_read, result.rows_loaded, result.rows_pending, result.rows_rejected)


def rows(con: duckdb.DuckDBPyConnection, sql: str) -> list[tuple]:
    return con.execute(sql).fetchall()


ACTIONS = (
    "select action_id, customer_id, invoice_id, action_date::varchar, action, channel, "
    "collector, promised_date::varchar, promised_amount::double, note, line "
    "from staging.actions order by action_id"
)
PROMISES = (
    "select promise_id, invoice_id, promised_on::varchar, promised_date::varchar, "
    "amount::double from staging.promises order by promise_id"
)
DISPUTES = (
    "select invoice_id, opened_date::varchar, resolved_date::varchar, "
    "export_opened_date::varchar from staging.disputes order by invoice_id"
)


# --------------------------------------------------------------------------- an actions file


def test_a_realistic_ledger_loads_whole_and_feeds_promises_and_disputes():
    con = loaded_base()
    result = load(con, FIXTURES / "actions")
    assert result.kind == "actions"
    assert counts(result) == (9, 9, 0, 0)
    assert [r[:5] for r in rows(con, ACTIONS)] == [
        ("A-0001", "C1", "I1", "2026-02-05", "reminder_sent"),  # "Reminder sent"
        ("A-0002", "C1", "I1", "2026-02-09", "call_no_answer"),  # "call no answer"
        ("A-0003", "C1", "I1", "2026-02-10", "call_made"),
        ("A-0004", "C1", "I1", "2026-02-10", "promise_to_pay"),
        ("A-0005", "C1", "I1", "2026-03-02", "dispute_opened"),  # "dispute-opened"
        ("A-0006", "C1", "I1", "2026-03-16", "dispute_resolved"),
        ("A-0007", "C1", None, "2026-03-18", "payment_plan"),  # the whole customer
        ("A-0008", "C1", "I1", "2026-05-04", "formal_notice_sent"),  # "Formal notice sent"
        ("A-0009", "C1", None, "2026-05-06", "note"),
    ]
    assert rows(con, ACTIONS)[3] == (
        "A-0004", "C1", "I1", "2026-02-10", "promise_to_pay", "phone", "Laura", "2026-02-25",
        1000.0, "will pay by transfer", 5,
    )  # fmt: skip
    assert rows(con, PROMISES) == [
        ("A-0004", "I1", "2026-02-10", "2026-02-25", 1000.0),
        # the plan covers the invoices open on 2026-03-18: I1 (I2 was paid on 2026-02-01)
        ("A-0007/I1", "I1", "2026-03-18", "2026-04-30", None),
    ]
    assert rows(con, DISPUTES) == [("I1", "2026-03-02", "2026-03-16", None)]
    assert rows(
        con,
        "select invoice_id, dispute_opened_date::varchar, dispute_resolved_date::varchar "
        "from staging.invoice_settlements order by 1",
    ) == [("I1", "2026-03-02", "2026-03-16"), ("I2", None, None)]
    assert rows(
        con,
        "select rows_read - rows_loaded - rows_pending - rows_rejected, kind from loads "
        "where kind = 'actions'",
    ) == [(0, "actions")]
    assert rows(con, "select count(*), count(distinct line) from raw.actions") == [(9, 9)]


RULES_CASE = HEADER + (
    "R1,C1,I1,2026-03-01,call_made,phone,Laura,,,\n"  # line 2: fine
    "R2,,I1,2026-03-01,call_made,phone,Laura,,,\n"  # 3: no customer
    "R3,C1,I1,,call_made,phone,Laura,,,\n"  # 4: no date
    "R4,C1,I1,2026-03-01,,phone,Laura,,,\n"  # 5: no action
    "R5,C1,I1,2026-02-30,call_made,phone,Laura,,,\n"  # 6: 30 February
    "R6,C1,I1,2026-03-01,promise_to_pay,phone,Laura,soon,,\n"  # 7: promised 'soon'
    "R7,C1,I1,2026-03-01,promise_to_pay,phone,Laura,2026-03-20,ten,\n"  # 8
    "R8,C1,I1,2026-03-01,sent flowers,phone,Laura,,,\n"  # 9
    "R9,C1,I1,2026-03-01,promise_to_pay,phone,Laura,2026-03-20,-5,\n"  # 10
    "R10,C1,I1,2026-03-10,promise_to_pay,phone,Laura,2026-03-01,,\n"  # 11
    "R11,C1,I1,2026-03-01,promise_to_pay,phone,Laura,,,\n"  # 12
    "R12,C1,,2026-03-01,Payment plan,phone,Laura,,500,\n"  # 13
    "R13,C1,I1,1985-03-01,call_made,phone,Laura,,,\n"  # 14: before 1990
    "R14,C1,I1,2026-07-01,call_made,phone,Laura,,,\n"  # 15: after the load date
    "R15,C1,J1,2026-03-01,call_made,phone,Laura,,,\n"  # 16: J1 is C2's
    "R1,C1,I1,2026-03-02,call_made,phone,Laura,,,\n"  # 17: R1 again
    "R16,C1,I1,2026-03-01,call_made,phone\n"  # 18: four fields short
)


def test_every_action_rule_rejects_its_row_and_counts_reconcile(tmp_path: Path):
    con = loaded_base()
    load(
        con,
        write(
            tmp_path,
            "invoices.csv",
            "invoice_id,customer_id,issue_date,due_date,amount\nJ1,C2,2026-01-05,2026-02-04,80\n",
        ),
    )
    result = load(con, write(tmp_path, "actions.csv", RULES_CASE))
    assert counts(result) == (17, 1, 0, 16)
    assert rows(con, "select line, rule from rejects order by line") == [
        (3, "required_value"),
        (4, "required_value"),
        (5, "required_value"),
        (6, "bad_date"),
        (7, "bad_date"),
        (8, "bad_amount"),
        (9, "unknown_action"),
        (10, "non_positive_amount"),
        (11, "promised_before_made"),
        (12, "missing_promised_date"),
        (13, "missing_promised_date"),
        (14, "absurd_value"),
        (15, "future_date"),
        (16, "invoice_of_another_customer"),
        (17, "duplicate_key"),
        (18, "wrong_field_count"),
    ]
    messages = dict(rows(con, "select line, message from rejects"))
    assert messages[9] == (
        "action sent flowers is not one of: reminder_sent, call_made, call_no_answer, "
        "letter_sent, formal_notice_sent, agency_handover, dispute_opened, dispute_resolved, "
        "promise_to_pay, payment_plan, note"
    )
    assert messages[11] == "promised_date 2026-03-01 is before action_date 2026-03-10"
    assert messages[13] == "a payment_plan needs a promised_date"
    assert messages[15] == "action_date 2026-07-01 is after the load date 2026-06-30"
    assert messages[16] == "invoice J1 belongs to customer C2, not C1"
    assert messages[17] == "action_id R1 appears earlier in the file, line 2"
    assert rows(con, "select row_text from rejects where line = 9") == [
        ("R8,C1,I1,2026-03-01,sent flowers,phone,Laura,,,",)
    ]
    assert rows(con, "select action_id from staging.actions") == [("R1",)]
    assert rows(con, "select count(*) from staging.promises") == [(0,)]


def test_a_mapping_section_reads_a_foreign_ledger(tmp_path: Path):
    con = loaded_base()
    mapping = write(
        tmp_path,
        "mapping.toml",
        '[actions]\ndate_format = "%d/%m/%Y"\n'
        '[actions.columns]\n"Client" = "customer_id"\n"Facture" = "invoice_id"\n'
        '"Date" = "action_date"\n"Action" = "action"\n"Date promesse" = "promised_date"\n'
        '"Commentaire" = "note"\n'
        '[actions.values.action]\n"Relance" = "reminder_sent"\n"Appel" = "call_made"\n'
        '"Promesse" = "promise_to_pay"\n'
        '[actions.constants]\ncollector = "Laura"\nchannel = "phone"\n',
    )
    relances = write(
        tmp_path,
        "relances.csv",
        "Client;Facture;Date;Action;Date promesse;Commentaire\n"
        "C1;I1;05/03/2026;Relance;;\n"
        "C1;I1;06/03/2026;Appel;;répondeur\n"
        "C1;I1;06/03/2026;Promesse;20/03/2026;\n",
    )
    result = load(con, relances, mapping=mapping)
    assert (result.kind, *counts(result)) == ("actions", 3, 3, 0, 0)
    assert [r[:9] for r in rows(con, ACTIONS)] == [
        ("C1/I1/2026-03-05/reminder_sent/1", "C1", "I1", "2026-03-05", "reminder_sent",
         "phone", "Laura", None, None),
        ("C1/I1/2026-03-06/call_made/1", "C1", "I1", "2026-03-06", "call_made", "phone",
         "Laura", None, None),
        ("C1/I1/2026-03-06/promise_to_pay/1", "C1", "I1", "2026-03-06", "promise_to_pay",
         "phone", "Laura", "2026-03-20", None),
    ]  # fmt: skip


# --------------------------------------------------------------------------- pending actions

PENDING_CASE = HEADER + (
    "W1,C9,,2026-03-01,call_made,phone,Laura,,,\n"  # line 2: customer C9 not loaded yet
    "W2,C1,I9,2026-03-01,promise_to_pay,phone,Laura,2026-03-20,250,\n"  # 3: invoice I9 neither
    "W3,C1,N7,2026-03-01,dispute_opened,phone,Laura,,,\n"  # 4: N7 will be C2's
    "W4,C1,I1,2026-03-01,call_made,phone,Laura,,,\n"  # 5: loaded
)


def test_an_action_waits_for_its_customer_or_invoice_and_is_checked_when_they_come(
    tmp_path: Path,
):
    con = loaded_base()
    actions = load(con, write(tmp_path, "actions.csv", PENDING_CASE))
    assert counts(actions) == (4, 1, 3, 0)
    assert rows(con, "select action_id, line from staging.pending_actions order by 1") == [
        ("W1", 2),
        ("W2", 3),
        ("W3", 4),
    ]
    customers = load(
        con, write(tmp_path, "customers.csv", "customer_id,name,collector\nC9,Ninon,Karim\n")
    )
    assert (customers.actions_matched, customers.pending_rejected) == (1, 0)
    invoices = load(
        con,
        write(
            tmp_path,
            "invoices.csv",
            "invoice_id,customer_id,issue_date,due_date,amount\n"
            "I9,C1,2026-02-01,2026-03-03,250\n"
            "N7,C2,2026-02-01,2026-03-03,90\n",
        ),
    )
    assert (invoices.actions_matched, invoices.pending_rejected) == (1, 1)
    assert rows(con, "select count(*) from staging.pending_actions") == [(0,)]
    assert [r[0] for r in rows(con, ACTIONS)] == ["W1", "W2", "W4"]
    # the matched promise feeds staging.promises; the rejected dispute records nothing
    assert rows(con, PROMISES) == [("W2", "I9", "2026-03-01", "2026-03-20", 250.0)]
    assert rows(con, "select count(*) from staging.disputes") == [(0,)]
    # rejected under the load, file and line that read it
    assert con.execute(
        "select load_id = $a, file_name, line, rule, message, row_text from rejects",
        {"a": actions.load_id},
    ).fetchall() == [
        (
            True,
            str(tmp_path / "actions.csv"),
            4,
            "invoice_of_another_customer",
            f"invoice N7 belongs to customer C2, not C1 (checked when it stopped waiting, "
            f"load {invoices.load_id})",
            "W3,C1,N7,2026-03-01,dispute_opened,phone,Laura,,,",
        )
    ]
    assert rows(
        con,
        "select kind, actions_matched, pending_rejected from loads "
        "where kind in ('customers', 'invoices') order by load_id",
    ) == [("customers", 0, 0), ("invoices", 0, 0), ("customers", 1, 0), ("invoices", 1, 1)]


def test_actions_find_the_customers_and_invoices_of_the_same_ingest(tmp_path: Path):
    con = connect(":memory:")
    write(tmp_path, "actions.csv", PENDING_CASE.replace("N7", "I1"))
    for case in ("customers.csv", "invoices.csv", "payments.csv"):
        (tmp_path / case).write_bytes((FIXTURES / "base" / case).read_bytes())
    results = load(con, tmp_path)
    assert [r.kind for r in results] == ["customers", "invoices", "payments", "actions"]
    assert counts(results[-1]) == (4, 2, 2, 0)  # W1 (C9) and W2 (I9) wait; W3, W4 loaded
    assert rows(con, DISPUTES) == [("I1", "2026-03-01", None, None)]


# --------------------------------------------------------------------------- reloads

NO_IDS = (
    "customer_id,invoice_id,action_date,action,promised_date,note\n"
    "C1,I1,2026-03-01,call_made,,\n"
    "C1,I1,2026-03-01,Call made,,called again\n"  # the same key but its rank
    "C1,,2026-03-05,payment_plan,2026-04-30,\n"
    "C1,I1,2026-03-06,dispute_opened,,\n"
)


def snapshot(con: duckdb.DuckDBPyConnection) -> dict[str, list[tuple]]:
    return {
        table: rows(con, f"select * from {table} order by all")
        for table in (
            "staging.actions",
            "staging.pending_actions",
            "staging.promises",
            "staging.promise_versions",
            "staging.disputes",
        )
    }


def test_reloading_the_same_rows_changes_nothing(tmp_path: Path):
    con = loaded_base()
    first = load(con, write(tmp_path, "ledger.csv", NO_IDS))
    assert counts(first) == (4, 4, 0, 0)
    assert [r[0] for r in rows(con, ACTIONS)] == [
        "C1/*/2026-03-05/payment_plan/1",
        "C1/I1/2026-03-01/call_made/1",
        "C1/I1/2026-03-01/call_made/2",
        "C1/I1/2026-03-06/dispute_opened/1",
    ]
    before = snapshot(con)
    assert load(con, tmp_path / "ledger.csv").skipped  # the same file
    # the same rows in another file, French style
    french = (tmp_path / "ledger_fr.csv").open("w", encoding="cp1252", newline="")
    french.write(
        "customer_id;invoice_id;action_date;action;promised_date;note\r\n"
        "C1;I1;01/03/2026;call made;;\r\n"
        "C1;I1;01/03/2026;Call made;;called again\r\n"
        "C1;;05/03/2026;payment_plan;30/04/2026;\r\n"
        "C1;I1;06/03/2026;dispute_opened;;\r\n"
    )
    french.close()
    again = load(con, tmp_path / "ledger_fr.csv")
    assert (again.rows_loaded, again.rows_new, again.rows_unchanged) == (4, 0, 4)
    assert snapshot(con) == before


def test_a_changed_action_replaces_it_and_versions_the_promises_it_made(tmp_path: Path):
    con = loaded_base()
    first = load(
        con,
        write(
            tmp_path,
            "a.csv",
            HEADER + "A1,C1,I1,2026-03-01,promise_to_pay,phone,Laura,2026-03-20,400,\n"
            "A2,C1,,2026-03-02,payment_plan,phone,Laura,2026-04-30,,\n",
        ),
    )
    second = load(
        con,
        write(
            tmp_path,
            "b.csv",
            HEADER + "A1,C1,I1,2026-03-01,promise_to_pay,phone,Laura,2026-03-27,400,moved\n"
            "A2,C1,,2026-03-02,note,phone,Laura,,,plan cancelled\n",
        ),
    )
    assert (second.rows_new, second.rows_updated, second.rows_unchanged) == (0, 2, 0)
    assert [(r[0], r[4], r[9]) for r in rows(con, ACTIONS)] == [
        ("A1", "promise_to_pay", "moved"),
        ("A2", "note", "plan cancelled"),
    ]
    assert rows(con, PROMISES) == [("A1", "I1", "2026-03-01", "2026-03-27", 400.0)]
    assert con.execute(
        "select promise_id, promised_date::varchar, valid_from_load_id = $a, "
        "valid_to_load_id = $b from staging.promise_versions order by 1",
        {"a": first.load_id, "b": second.load_id},
    ).fetchall() == [("A1", "2026-03-20", True, True), ("A2/I1", "2026-04-30", True, True)]


# --------------------------------------------------------------------------- one source of truth


def test_promises_on_an_invoice_and_on_the_whole_customer(tmp_path: Path):
    con = loaded_base()
    load(
        con,
        write(
            tmp_path,
            "invoices.csv",
            "invoice_id,customer_id,issue_date,due_date,amount\n"
            "I3,C1,2026-03-10,2026-04-09,300\n"  # issued after the plan
            "I4,C1,2026-01-20,2026-02-19,200\n"  # paid on the day of the plan: open that day
            "I5,C1,2026-01-25,2026-01-25,-100\n",  # a credit note
        ),
        write(tmp_path, "payments.csv", "invoice_id,payment_date,amount\nI4,2026-03-05,200\n"),
    )
    load(
        con,
        write(
            tmp_path,
            "actions.csv",
            HEADER + "P1,C1,,2026-03-05,payment_plan,phone,Laura,2026-04-30,900,\n"
            "P2,C1,I1,2026-03-06,Promise to pay,phone,Laura,2026-03-20,300,\n",
        ),
    )
    assert rows(con, PROMISES) == [
        ("P1/I1", "I1", "2026-03-05", "2026-04-30", None),
        ("P1/I4", "I4", "2026-03-05", "2026-04-30", None),
        ("P2", "I1", "2026-03-06", "2026-03-20", 300.0),
    ]


DISPUTED_INVOICES = (
    "invoice_id,customer_id,issue_date,due_date,amount,disputed,dispute_opened_date\n"
    "D1,C1,2026-01-05,2026-02-04,100,0,\n"
    "D2,C1,2026-01-05,2026-02-04,100,1,2026-02-10\n"
    "D3,C1,2026-01-05,2026-02-04,100,1,2026-03-20\n"
    "D4,C1,2026-01-05,2026-02-04,100,0,\n"
)


def test_disputes_merge_the_export_and_the_ledger_in_any_order(tmp_path: Path):
    con = loaded_base()
    load(con, write(tmp_path, "invoices.csv", DISPUTED_INVOICES))
    load(
        con,
        write(
            tmp_path,
            "first.csv",
            HEADER + "X1,C1,D1,2026-03-01,dispute_opened,phone,Laura,,,\n"
            "X2,C1,D2,2026-03-01,dispute_opened,phone,Laura,,,\n"  # disputed since 02-10
            "X3,C1,D3,2026-03-01,dispute_opened,phone,Laura,,,\n"  # earlier than the export
            "X4,C1,D2,2026-03-15,dispute_resolved,phone,Laura,,,\n"
            "X5,C1,D4,2026-03-10,dispute_resolved,phone,Laura,,,\n"  # resolved before opened
            "X6,C1,,2026-03-10,dispute_opened,phone,Laura,,,\n",  # the whole customer
        ),
    )
    assert rows(con, DISPUTES) == [
        ("D1", "2026-03-01", None, None),
        ("D2", "2026-02-10", "2026-03-15", "2026-02-10"),
        ("D3", "2026-03-01", None, "2026-03-20"),
    ]
    load(
        con,
        write(
            tmp_path,
            "second.csv",
            HEADER + "X7,C1,D4,2026-03-05,dispute_opened,phone,Laura,,,\n"
            "X8,C1,D1,2026-03-10,dispute_resolved,phone,Laura,,,\n"
            "X9,C1,D1,2026-04-01,dispute_opened,phone,Laura,,,\n",  # disputed again
        ),
    )
    assert rows(con, DISPUTES) == [
        ("D1", "2026-04-01", None, None),
        ("D2", "2026-02-10", "2026-03-15", "2026-02-10"),
        ("D3", "2026-03-01", None, "2026-03-20"),
        ("D4", "2026-03-05", "2026-03-10", None),
    ]


def test_an_invoice_export_that_does_not_know_the_ledgers_dispute_keeps_it(tmp_path: Path):
    con = loaded_base()
    load(con, write(tmp_path, "invoices.csv", DISPUTED_INVOICES))
    load(
        con,
        write(
            tmp_path,
            "actions.csv",
            HEADER + "X1,C1,D1,2026-03-01,dispute_opened,phone,Laura,,,\n"
            "X2,C1,D4,2026-03-01,dispute_opened,phone,Laura,,,\n"
            "X3,C1,D2,2026-03-15,dispute_resolved,phone,Laura,,,\n",
        ),
    )
    before = rows(con, DISPUTES)
    # tonight's export: D1-D3 as before, D4's amount changed (a new version)
    export = load(
        con,
        write(
            tmp_path,
            "invoices_2.csv",
            DISPUTED_INVOICES.replace(
                "D4,C1,2026-01-05,2026-02-04,100", "D4,C1,2026-01-05,2026-02-04,90"
            ),
        ),
    )
    assert (export.rows_unchanged, export.rows_updated) == (3, 1)
    assert (
        rows(con, DISPUTES)
        == before
        == [
            ("D1", "2026-03-01", None, None),
            ("D2", "2026-02-10", "2026-03-15", "2026-02-10"),
            ("D3", "2026-03-20", None, "2026-03-20"),
            ("D4", "2026-03-01", None, None),
        ]
    )
    assert rows(con, "select invoice_id, dispute_opened_date from staging.invoice_versions") == [
        ("D4", None)
    ]  # the export's own version of the dispute: none


def test_a_resolved_dispute_ends_in_the_features(tmp_path: Path):
    from features.runner import build_features

    con = loaded_base()
    load(
        con,
        write(
            tmp_path,
            "invoices.csv",
            "invoice_id,customer_id,issue_date,due_date,amount\nF1,C1,2026-03-01,2026-03-31,100\n",
        ),
    )
    load(
        con,
        write(
            tmp_path,
            "actions.csv",
            HEADER + "X1,C1,F1,2026-03-05,dispute_opened,phone,Laura,,,\n"
            "X2,C1,F1,2026-03-10,dispute_resolved,phone,Laura,,,\n",
        ),
    )
    days = [date(2026, 3, day) for day in range(5, 13)]
    features = build_features(con, days)
    disputed = features[features["invoice_id"] == "F1"].set_index("as_of")["is_disputed"]
    assert {d.day: int(disputed[pd.Timestamp(d)]) for d in days} == {
        5: 0,  # opened on day 5: not before day 5
        6: 1,
        7: 1,
        8: 1,
        9: 1,
        10: 1,  # resolved on day 10: not before day 10
        11: 0,
        12: 0,
    }


# --------------------------------------------------------------------------- the workbook

WORKBOOK_HEADER = [
    "Rank", "Customer", "What to do", "Channel", "Due", "Status", "About invoices", "Overdue",
    "Why", "Outcome", "Done on", "Promised date", "Promised amount", "Note", "Also due",
    "Customer id", "Collector", "Action key",
]  # fmt: skip


def worklist_row(rank: int, invoices: str, key: str, channel: str, *typed) -> list:
    """A row as latepay writes it, then what the collector typed (Outcome .. Note)."""
    outcome, done_on, promised_date, promised_amount, note = (*typed, None, None, None, None, None)[
        :5
    ]
    return [
        rank, "Durand", key.replace("_", " "), channel, datetime(2026, 2, 7), "overdue",
        invoices, 1000.0, "paid 80% of 10 past invoices late", outcome, done_on, promised_date,
        promised_amount, note, None, "C1", "Laura", key,
    ]  # fmt: skip


CALL = "second_reminder_call"


def filled_workbook(path: Path, rows: list[list] | None = None) -> Path:
    """A collector's worklist, filled in and saved as Excel would: dates as dates, amounts as
    numbers; an Invoices sheet (ignored) and the About sheet with the list's date."""
    book = openpyxl.Workbook()
    sheet = book.active
    sheet.title = "Worklist"
    sheet.append(WORKBOOK_HEADER)
    call = CALL
    for row in rows or (
        worklist_row(1, "I1", "first_reminder", "email", "done"),  # line 2: done on the list's date
        worklist_row(2, "I1, I2", call, "phone", "Promise to pay", datetime(2026, 3, 3),
                     datetime(2026, 3, 20), 1500.5, "will pay by transfer"),  # line 3
        worklist_row(3, "I1", "formal_notice", "letter"),  # line 4: left empty
        worklist_row(4, "I1", call, "phone", "no answer", datetime(2026, 3, 3)),  # line 5
        worklist_row(5, "I1", call, "phone", "dispute", datetime(2026, 3, 4), None, None,
                     "says goods damaged"),  # line 6
        worklist_row(6, "I1", call, "phone", "called twice"),  # line 7: not an outcome
        worklist_row(7, "I1", call, "phone", "promise to pay", datetime(2026, 3, 4)),  # line 8
        worklist_row(8, None, call, "phone", "already paid", datetime(2026, 3, 4)),  # line 9
        worklist_row(9, "I1", call, "phone", "no answer", "yesterday"),  # line 10: not a date
    ):  # fmt: skip
        sheet.append(row)
    invoices = book.create_sheet("Invoices")
    invoices.append(["Customer", "Customer id", "Invoice", "Due"])
    invoices.append(["Durand", "C1", "I1", datetime(2026, 2, 4)])
    about = book.create_sheet("About")
    for line in (("Worklist of", "Laura"), ("As of", "2026-03-02"), ("Customers", 8)):
        about.append(line)
    book.save(path)
    return path


WORKBOOK_ACTIONS = [
    ("worklist/C1/*/2026-03-04/note/already_paid", "C1", None, "2026-03-04", "note", "phone",
     "Laura", None, None, "the customer says it is already paid", 9),
    ("worklist/C1/I1/2026-03-02/reminder_sent/done", "C1", "I1", "2026-03-02", "reminder_sent",
     "email", "Laura", None, None, None, 2),
    ("worklist/C1/I1/2026-03-03/call_no_answer/no_answer", "C1", "I1", "2026-03-03",
     "call_no_answer", "phone", "Laura", None, None, None, 5),
    ("worklist/C1/I1/2026-03-03/promise_to_pay/promise_to_pay", "C1", "I1", "2026-03-03",
     "promise_to_pay", "phone", "Laura", "2026-03-20", 1500.5, "will pay by transfer", 3),
    ("worklist/C1/I1/2026-03-04/dispute_opened/dispute", "C1", "I1", "2026-03-04",
     "dispute_opened", "phone", "Laura", None, None, "says goods damaged", 6),
    ("worklist/C1/I2/2026-03-03/promise_to_pay/promise_to_pay", "C1", "I2", "2026-03-03",
     "promise_to_pay", "phone", "Laura", "2026-03-20", 1500.5, "will pay by transfer", 3),
]  # fmt: skip


def test_a_filled_in_workbook_becomes_ledger_rows(tmp_path: Path):
    con = loaded_base()
    result = load(con, filled_workbook(tmp_path / "worklist_Laura.xlsx"))
    assert result.kind == "actions"
    # read: the rows with an outcome (line 3, about two invoices, records two actions)
    assert counts(result) == (8, 5, 0, 3)
    assert result.rows_left_empty == 1
    assert (
        "list of 2026-03-02: 8 rows with an outcome, 1 left empty (not read)"
        in result.source_format
    )
    assert rows(con, ACTIONS) == WORKBOOK_ACTIONS
    assert rows(con, "select line, rule, message from rejects order by line") == [
        (
            7,
            "unknown_outcome",
            "Outcome called twice is not one of: done, no answer, promise to pay, dispute, "
            "already paid, wrong contact, handed to agency",
        ),
        (8, "missing_promised_date", "a promise_to_pay needs a promised_date"),
        (10, "bad_date", "action_date is not a date (YYYY-MM-DD): yesterday"),
    ]
    [(row_text,)] = rows(con, "select row_text from rejects where line = 7")
    assert row_text.startswith("6,Durand,second reminder call,phone,2026-02-07,overdue,I1,")
    assert rows(con, PROMISES) == [
        ("worklist/C1/I1/2026-03-03/promise_to_pay/promise_to_pay", "I1", "2026-03-03",
         "2026-03-20", 1500.5),
        ("worklist/C1/I2/2026-03-03/promise_to_pay/promise_to_pay", "I2", "2026-03-03",
         "2026-03-20", 1500.5),
    ]  # fmt: skip
    assert rows(con, DISPUTES) == [("I1", "2026-03-04", None, None)]
    assert rows(con, "select file_name, rows_left_empty from loads where kind = 'actions'") == [
        (str(tmp_path / "worklist_Laura.xlsx"), 1)
    ]
    assert rows(con, "select distinct source_file from staging.actions") == [
        (str(tmp_path / "worklist_Laura.xlsx"),)
    ]


def test_a_workbook_loaded_twice_records_nothing_new(tmp_path: Path):
    con = loaded_base()
    path = filled_workbook(tmp_path / "worklist_Laura.xlsx")
    load(con, path)
    before = snapshot(con)
    assert load(con, path).skipped  # the same file
    # saved again by the collector (other bytes), dropped in the inbox beside nothing else
    inbox = tmp_path / "inbox"
    inbox.mkdir()
    book = openpyxl.load_workbook(path)
    book["Invoices"]["E1"] = "Checked"  # a sheet latepay does not read back
    book.save(inbox / "worklist_Laura.xlsx")
    again = load(con, inbox)
    assert (again.kind, again.rows_new, again.rows_unchanged, again.rows_rejected) == (
        "actions",
        0,
        6,
        3,
    )
    assert snapshot(con) == before


def test_a_worklist_sheet_without_the_outcome_columns_stops_the_ingest(tmp_path: Path):
    book = openpyxl.Workbook()
    book.active.title = "Worklist"
    book.active.append(["Rank", "Customer", "Customer id", "Collector", "Action key"])
    book.active.append([1, "Durand", "C1", "Laura", "first_reminder"])
    book.save(tmp_path / "worklist_Laura.xlsx")
    with pytest.raises(IngestError, match=r"rule required_column: .*lacks About invoices"):
        load(loaded_base(), tmp_path / "worklist_Laura.xlsx")


# --------------------------------------------------------------------------- the warehouse


def test_a_warehouse_made_before_the_ledger_is_migrated(tmp_path: Path):
    path = tmp_path / "old.duckdb"
    old = duckdb.connect(str(path))
    old.execute((FIXTURES / "schema_v1.sql").read_text())  # the schema latepay 0.1 created
    old.execute(
        "insert into staging.invoices values "
        "('I0', 'C0', '2025-01-01', '2025-01-31', 5, 'EUR', true, null)"
    )
    old.execute("insert into staging.disputes values ('I0', '2025-01-10')")
    old.close()
    con = connect(path)
    assert rows(con, DISPUTES) == [("I0", "2025-01-10", None, "2025-01-10")]
    assert rows(con, "select max(version) from meta.schema_version") == [(MIGRATIONS[-1].version,)]
    assert {"actions_matched", "pending_rejected", "rows_left_empty"} <= {
        c for (c,) in rows(con, "select column_name from information_schema.columns "
                                "where table_name = 'loads'")
    }  # fmt: skip
    result = load(con, FIXTURES / "base", FIXTURES / "actions")
    assert [r.rows_loaded for r in result] == [1, 2, 1, 9]


def test_the_lock_file_excel_leaves_beside_an_open_workbook_is_not_loaded(tmp_path: Path):
    from pipelines.ingest.inbox import inbox_files

    filled_workbook(tmp_path / "worklist_Laura.xlsx")
    (tmp_path / "~$worklist_Laura.xlsx").write_bytes(b"\x06Laura" + b"\x00" * 50)
    assert inbox_files(tmp_path) == [tmp_path / "worklist_Laura.xlsx"]


def test_a_workbook_row_about_several_invoices_is_loaded_or_rejected_whole(tmp_path: Path):
    con = loaded_base()
    load(
        con,
        write(
            tmp_path,
            "invoices.csv",
            "invoice_id,customer_id,issue_date,due_date,amount\nJ1,C2,2026-01-05,2026-02-04,80\n",
        ),
    )
    path = filled_workbook(
        tmp_path / "worklist_Laura.xlsx",
        [
            worklist_row(1, "I1, J1", CALL, "phone", "no answer", datetime(2026, 3, 5)),
            worklist_row(2, "I1, I9", CALL, "phone", "no answer", datetime(2026, 3, 6)),
        ],
    )
    result = load(con, path)
    # line 2: J1 is C2's, so nothing of the row is recorded; line 3: I9 is not loaded yet
    assert counts(result) == (2, 0, 1, 1)
    assert rows(con, "select line, rule, message from rejects") == [
        (2, "invoice_of_another_customer", "invoice J1 belongs to customer C2, not C1")
    ]
    assert [(r[0], r[-1]) for r in rows(con, ACTIONS)] == [
        ("worklist/C1/I1/2026-03-06/call_no_answer/no_answer", 3)
    ]
    assert rows(con, "select action_id, line from staging.pending_actions") == [
        ("worklist/C1/I9/2026-03-06/call_no_answer/no_answer", 3)
    ]

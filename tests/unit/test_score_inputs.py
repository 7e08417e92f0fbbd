"""What the nightly reads beside the scores: the customers, promises and ledger actions of the
scored invoices only, and a plan made from them equal to one made from the whole ledger."""

from __future__ import annotations

import pandas as pd

from models.worklist import plan_invoices
from pipelines.jobs.score import _of_scored
from pipelines.warehouse import connect
from tests.handmade_book import AS_OF, CUSTOMERS, SCORES

# (action_id, customer_id, invoice_id, action_date, action): A1, B1 and C1 are scored (open)
# invoices; A9 was paid long ago; Z has no open invoice
LEDGER = [
    ("a1", "A", "A1", "2026-10-25", "reminder_sent"),
    ("a2", "A", "A9", "2026-10-01", "reminder_sent"),  # a paid invoice: not read
    ("a3", "B", None, "2026-10-20", "call_made"),  # the whole customer
    ("a4", "C", "", "2026-10-21", "letter_sent"),  # the whole customer (an empty id)
    ("a5", "Z", None, "2026-10-20", "call_made"),  # a customer with nothing open: not read
    ("a6", "A", "A1", "2026-11-01", "call_made"),  # on the list's date: not known yet
    ("a7", "C", "C1", "2026-10-02", "formal_notice_sent"),
]


def test_the_ranking_reads_the_scored_invoices_actions_and_the_same_plan_follows(tmp_path):
    con = connect(tmp_path / "warehouse.duckdb")
    con.register("c", pd.concat([CUSTOMERS, CUSTOMERS.head(1).assign(customer_id="Z")]))
    con.execute("insert into staging.customers by name select * from c")
    for action in LEDGER:
        con.execute(
            "insert into staging.actions (action_id, customer_id, invoice_id, action_date, action)"
            " values (?, ?, ?, ?, ?)",
            list(action),
        )
    con.execute(
        "insert into staging.promises (promise_id, invoice_id, promised_on, promised_date) values "
        "('P1', 'E1', '2026-10-20', '2026-10-25'), ('P9', 'A9', '2026-09-01', '2026-09-10')"
    )
    _, customers, promises, actions = _of_scored(con, SCORES, AS_OF.date())
    assert sorted(customers["customer_id"]) == ["A", "B", "C", "D", "E", "F"]
    assert promises["invoice_id"].tolist() == ["E1"]
    read = actions.assign(
        invoice_id=actions["invoice_id"].fillna("(none)"),
        action_date=actions["action_date"].astype(str),
    )
    assert sorted(read.itertuples(index=False, name=None), key=str) == [
        ("A", "A1", "2026-10-25", "reminder_sent"),
        ("B", "(none)", "2026-10-20", "call_made"),
        ("C", "", "2026-10-21", "letter_sent"),
        ("C", "C1", "2026-10-02", "formal_notice_sent"),
    ]
    ledger = con.execute(
        "select customer_id, invoice_id, action_date, action from staging.actions"
    ).df()
    pd.testing.assert_frame_equal(
        plan_invoices(SCORES, customers, AS_OF, actions=actions),
        plan_invoices(SCORES, CUSTOMERS, AS_OF, actions=ledger),
        check_exact=True,
    )

"""The shapes of export a company may have: the same book, written as the files its ERP gives.

``full`` (the default) is every table the generator draws. The others are the shapes the README
documents ("Input format"), each one change away from ``full`` so a test of a shape tests that
change only:

* ``invoice_list``: one invoices file carrying ``settled_date`` and ``paid_amount`` (the
  invoice amount) for invoices paid in full by the end date; no customers, payments, promises
  or actions file (partial payments of invoices never settled are not in such an export).
* ``no_customers``: invoices and payments only (latepay creates the customers from invoices).
* ``no_disputes``: invoices without ``disputed`` and ``dispute_opened_date``.
* ``no_currency``: invoices without ``currency``.
* ``one_segment``: every customer in the same segment.
* ``one_off_customers``: every second customer (by number) becomes one customer per invoice,
  ``<customer_id>-<k>``: customers with a single invoice and no history, beside regular ones.
  Actions follow their invoice's new customer; those about a whole converted customer are
  dropped.
* ``fr_ledger``: invoices and payments as a French accounting package exports them, read with
  no mapping file: a title line above French headers (N° de facture, Code client, Date
  d'échéance...), ``;``, decimal comma with space thousands, ``dd/mm/yyyy``, the amount in a
  ``Débit`` column and credit notes in a ``Crédit`` one, ``Litige`` oui/non, cp1252; no
  customers file (its text is made by ``synthetic.write``).

Pure: frames in, frames out; ``oracle`` is kept in every shape (the pipeline never reads it).
"""

from __future__ import annotations

import numpy as np
import pandas as pd

from synthetic.book import Book

SHAPES: dict[str, str] = {
    "full": "customers, invoices, payments, promises, actions (when drawn)",
    "invoice_list": "invoices with settled_date and paid_amount only",
    "no_customers": "invoices and payments, no customers file",
    "no_disputes": "invoices without the dispute columns",
    "no_currency": "invoices without the currency column",
    "one_segment": "every customer in one segment",
    "one_off_customers": "every second customer split into one customer per invoice",
    "fr_ledger": "invoices and payments as a French ledger exports them (no mapping file)",
}
TABLES = ("customers", "invoices", "payments", "promises", "actions", "oracle")
ONE_SEGMENT = "SME"


def shape_tables(book: Book, shape: str = "full") -> dict[str, pd.DataFrame]:
    """The tables to write for `shape` (SHAPES), by file name without suffix, in TABLES order;
    an empty actions table is left out."""
    if shape not in SHAPES:
        raise ValueError(f"unknown shape {shape!r}; one of {', '.join(SHAPES)}")
    tables = {name: getattr(book, name) for name in TABLES}
    if shape == "invoice_list":
        tables = {"invoices": invoice_list(book.invoices, book.payments), "oracle": book.oracle}
    elif shape == "no_customers":
        tables = {k: tables[k] for k in ("invoices", "payments", "oracle")}
    elif shape == "no_disputes":
        tables["invoices"] = book.invoices.drop(columns=["disputed", "dispute_opened_date"])
    elif shape == "no_currency":
        tables["invoices"] = book.invoices.drop(columns=["currency"])
    elif shape == "one_segment":
        tables["customers"] = book.customers.assign(segment=ONE_SEGMENT)
    elif shape == "one_off_customers":
        tables.update(one_off_customers(book))
    elif shape == "fr_ledger":
        tables = {
            "invoices": fr_invoices(book.invoices),
            "payments": fr_payments(book.payments),
            "oracle": book.oracle,
        }
    return {k: v for k, v in tables.items() if not (k == "actions" and v.empty)}


def invoice_list(invoices: pd.DataFrame, payments: pd.DataFrame) -> pd.DataFrame:
    """Invoices with `settled_date` (the day their payments reached the amount) and
    `paid_amount` (the amount) when paid in full by the end date, both empty otherwise (open
    invoices, bad debts, credit notes)."""
    cents = np.round(payments["amount"].to_numpy(dtype=np.float64) * 100)
    paid = (
        payments.assign(cents=cents)
        .groupby("invoice_id", sort=False)
        .agg(paid_cents=("cents", "sum"), last_payment=("payment_date", "max"))
    )
    frame = invoices.join(paid, on="invoice_id")
    full = frame["paid_cents"].eq(np.round(frame["amount"] * 100)) & (frame["amount"] > 0)
    frame["settled_date"] = frame["last_payment"].where(full)
    frame["paid_amount"] = frame["amount"].where(full)
    return frame.drop(columns=["paid_cents", "last_payment"])


def one_off_customers(book: Book) -> dict[str, pd.DataFrame]:
    """Customers, invoices and actions where every second customer (C00002, C00004, ...) is one
    customer per invoice, `<customer_id>-<k>` (k from 1 in invoice order)."""
    number = book.customers["customer_id"].str[1:].astype(int)
    split = set(book.customers.loc[number % 2 == 0, "customer_id"])
    invoices = book.invoices.copy()
    moved = invoices["customer_id"].isin(split)
    k = invoices[moved].groupby("customer_id").cumcount() + 1
    invoices.loc[moved, "customer_id"] = invoices.loc[moved, "customer_id"] + "-" + k.astype(str)
    owner = invoices.loc[moved, ["invoice_id", "customer_id"]]
    origin = owner["customer_id"].str.rsplit("-", n=1).str[0]
    new = book.customers.set_index("customer_id").loc[origin].reset_index()
    new["customer_id"] = owner["customer_id"].to_numpy()
    new["name"] = new["name"] + " (" + owner["invoice_id"].to_numpy() + ")"
    customers = pd.concat(
        [book.customers[~book.customers["customer_id"].isin(split)], new], ignore_index=True
    )
    actions = book.actions
    if not actions.empty:
        actions = actions[~(actions["customer_id"].isin(split) & actions["invoice_id"].isna())]
        new_owner = owner.set_index("invoice_id")["customer_id"]
        actions = actions.assign(
            customer_id=actions["invoice_id"].map(new_owner).fillna(actions["customer_id"])
        )
    return {"customers": customers, "invoices": invoices, "actions": actions}


def _fr_date(values: pd.Series) -> pd.Series:
    return pd.to_datetime(values).dt.strftime("%d/%m/%Y").fillna("")


def _fr_amount(values: pd.Series) -> pd.Series:
    """1 234,56: a space between thousands, a decimal comma; empty for NaN."""
    text = values.map(lambda v: "" if pd.isna(v) else f"{v:,.2f}")
    return text.str.replace(",", " ").str.replace(".", ",")


def fr_invoices(invoices: pd.DataFrame) -> pd.DataFrame:
    """The invoices as a French ledger lists them: text columns with its names."""
    amount = invoices["amount"]
    return pd.DataFrame(
        {
            "N° de facture": invoices["invoice_id"],
            "Code client": invoices["customer_id"],
            "Date de facture": _fr_date(invoices["issue_date"]),
            "Date d'échéance": _fr_date(invoices["due_date"]),
            "Débit": _fr_amount(amount.where(amount > 0)),
            "Crédit": _fr_amount(-amount.where(amount < 0)),
            "Devise": invoices["currency"],
            "Litige": np.where(invoices["disputed"].astype(bool), "oui", "non"),
            "Date litige": _fr_date(invoices["dispute_opened_date"]),
        }
    )


def fr_payments(payments: pd.DataFrame) -> pd.DataFrame:
    """The payments as a French ledger lists them (règlements)."""
    return pd.DataFrame(
        {
            "N° règlement": payments["payment_id"],
            "Facture": payments["invoice_id"],
            "Date de règlement": _fr_date(payments["payment_date"]),
            "Montant": _fr_amount(payments["amount"]),
        }
    )

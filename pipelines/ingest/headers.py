"""Header names understood without a mapping file: latepay's own field names, and the names
accounting exports commonly give them, in English and in French (compared without case,
accents, punctuation or spaces: "N° de facture" is no_de_facture, "Échéance" echeance).

Three tiers, so that a name never takes a field another column holds more precisely:
- latepay's names and the specific names (`ALIASES`), one column per field (two columns for one
  field: duplicate_column);
- names whose field depends on the other columns (`_in_context`): a settlement date is an
  invoice's `settled_date` beside an issue date, a payment's `payment_date` without one; a
  `Débit` is the amount, and a `Crédit` the credit_amount, only as a pair; a bare `Date` is the
  issue date beside a due date (a ledger's), and nothing otherwise;
- generic words (`GENERIC`: "Facture", "Client", "Montant"), for a field no other column holds.
What was read under another name is said with the file's format (pipelines/ingest/plan.py).
"""

from __future__ import annotations

import re
import unicodedata

ALIASES = {
    # English
    "invoice_number": "invoice_id",
    "invoice_no": "invoice_id",
    "customer_number": "customer_id",
    "customer_no": "customer_id",
    "customer_code": "customer_id",
    "invoice_date": "issue_date",
    "settlement_date": "settled_date",
    "paid_date": "settled_date",
    "amount_paid": "paid_amount",
    # French
    "numero_facture": "invoice_id",
    "numero_de_facture": "invoice_id",
    "no_facture": "invoice_id",
    "no_de_facture": "invoice_id",
    "num_facture": "invoice_id",
    "reference_facture": "invoice_id",
    "ref_facture": "invoice_id",
    "piece": "invoice_id",  # a ledger's document number
    "no_piece": "invoice_id",
    "no_de_piece": "invoice_id",
    "numero_piece": "invoice_id",
    "numero_de_piece": "invoice_id",
    "code_client": "customer_id",
    "numero_client": "customer_id",
    "no_client": "customer_id",
    "compte_client": "customer_id",
    "date_facture": "issue_date",
    "date_de_facture": "issue_date",
    "date_emission": "issue_date",
    "date_d_emission": "issue_date",
    "echeance": "due_date",
    "date_echeance": "due_date",
    "date_d_echeance": "due_date",
    "date_limite_de_paiement": "due_date",
    "montant_ttc": "amount",
    "total_ttc": "amount",
    "devise": "currency",
    "litige": "disputed",
    "en_litige": "disputed",
    "date_litige": "dispute_opened_date",
    "montant_regle": "paid_amount",
    "montant_paye": "paid_amount",
    "reste_du": "open_amount",
    "restant_du": "open_amount",
    "solde": "open_amount",
    "numero_reglement": "payment_id",
    "no_reglement": "payment_id",
    "reference_reglement": "payment_id",
    "ref_reglement": "payment_id",
    "raison_sociale": "customer_name",
    "nom_client": "customer_name",
    "pays": "country",
    "conditions_de_paiement": "payment_terms_days",
    "delai_de_paiement": "payment_terms_days",
    "charge_de_recouvrement": "collector",
    "recouvreur": "collector",
    "canal_prefere": "preferred_channel",
}
# A date a payment was made: an invoice's settlement date, or a payment's date.
SETTLEMENT_WORDS = (
    "date_reglement",
    "date_de_reglement",
    "date_paiement",
    "date_de_paiement",
    "date_encaissement",
    "date_d_encaissement",
)
GENERIC = {"facture": "invoice_id", "client": "customer_id", "montant": "amount"}


def normal(name: str) -> str:
    """A header name compared: lower case, without accents; n°/nº as no; every run of other
    characters an underscore (Date d'échéance: date_d_echeance)."""
    text = unicodedata.normalize("NFKD", name.strip().lower().replace("°", "o").replace("º", "o"))
    text = "".join(c for c in text if not unicodedata.combining(c))
    return re.sub(r"[^a-z0-9]+", "_", text).strip("_")


def field_of(name: str, columns: list[str], fields: set[str]) -> str | None:
    """The field a column of this header holds by its name (latepay's, a specific name or one
    read in context; `fields`: every field latepay reads), or None."""
    word = normal(name)
    if word in fields:
        return word
    return ALIASES.get(word) or _in_context(word, {normal(c) for c in columns})


def _in_context(word: str, words: set[str]) -> str | None:
    if word in SETTLEMENT_WORDS:
        issued = any(w == "issue_date" or ALIASES.get(w) == "issue_date" for w in words)
        return "settled_date" if issued else "payment_date"
    if {"debit", "credit"} <= words and word in ("debit", "credit"):
        return {"debit": "amount", "credit": "credit_amount"}[word]
    if word == "date" and any(w == "due_date" or ALIASES.get(w) == "due_date" for w in words):
        return "issue_date"  # a ledger's Date beside its Échéance: the document's date
    return None

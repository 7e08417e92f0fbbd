"""The words of the managers' report, in English and French (the language of LATEPAY_LOCALE):
one entry per string, `str.format` placeholders filled with values already formatted for the
locale. A test checks that both languages have every string with the same placeholders.

Kept as a dictionary rather than gettext catalogues: about a hundred strings, two languages, no
compilation step, and the test above sees a missing translation at once.
"""

from __future__ import annotations

from dataclasses import dataclass

from babel import Locale

STRINGS: dict[str, dict[str, str]] = {
    # the page
    "title": {"en": "Receivables and today's worklist", "fr": "Créances et liste du jour"},
    "subtitle": {
        "en": "As of {as_of} (facts dated before this day) · generated {generated} · model "
        "version {version}",
        "fr": "Au {as_of} (faits datés d'avant ce jour) · produit le {generated} · modèle "
        "version {version}",
    },
    "contents": {"en": "Contents", "fr": "Sommaire"},
    "footer": {
        "en": "latepay · every amount in its invoice's currency, never added across currencies "
        "(invoices without a currency count in {default}) · dates as of the morning of {as_of}.",
        "fr": "latepay · chaque montant dans la devise de sa facture, jamais additionné entre "
        "devises (les factures sans devise comptent en {default}) · situation au matin du "
        "{as_of}.",
    },
    "none": {"en": "none", "fr": "aucun"},
    # the headline
    "headline": {"en": "The book today", "fr": "Le portefeuille aujourd'hui"},
    "compared_both": {
        "en": "Changes since the previous list ({previous}) and since a week before ({week}).",
        "fr": "Évolution depuis la liste précédente ({previous}) et depuis une semaine plus "
        "tôt ({week}).",
    },
    "compared_previous": {
        "en": "Changes since the previous list ({previous}); no list a week or more before.",
        "fr": "Évolution depuis la liste précédente ({previous}) ; aucune liste d'une semaine "
        "ou plus auparavant.",
    },
    "compared_none": {
        "en": "No earlier list: changes show from the next published list on.",
        "fr": "Aucune liste antérieure : les évolutions apparaîtront dès la prochaine liste.",
    },
    "col_figure": {"en": "Figure", "fr": "Indicateur"},
    "col_today": {"en": "Today", "fr": "Aujourd'hui"},
    "col_since": {"en": "Since {day}", "fr": "Depuis le {day}"},
    "figure_open_amount": {"en": "Open receivables", "fr": "Encours clients"},
    "figure_overdue_amount": {"en": "Overdue", "fr": "Échu non réglé"},
    "detail_overdue_amount": {"en": "past the due date", "fr": "échéance dépassée"},
    "figure_at_risk": {"en": "Expected amount at risk", "fr": "Montant à risque attendu"},
    "detail_at_risk": {
        "en": "open × chance of being unpaid 30 days after due",
        "fr": "encours × probabilité d'impayé 30 jours après l'échéance",
    },
    "figure_disputed_amount": {"en": "In dispute", "fr": "En litige"},
    "figure_promised_amount": {"en": "Promised, pending", "fr": "Promis, en attente"},
    "figure_agency_amount": {"en": "With the agency", "fr": "Confié à l'agence"},
    "figure_dso": {"en": "DSO", "fr": "DSO (délai de paiement)"},
    "detail_dso": {
        "en": "receivables ÷ sales of the last 90 days × 90",
        "fr": "encours ÷ ventes des 90 derniers jours × 90",
    },
    "terms_over_cap": {
        "en": "Payment terms over the French caps (60 days, or 45 days end of month): "
        "{invoices} of {customers} under French law, among the open invoices.",
        "fr": "Délais de paiement au-delà des plafonds légaux (60 jours, ou 45 jours fin de "
        "mois) : {invoices} de {customers} soumis au droit français, parmi les factures "
        "ouvertes.",
    },
    # the aged balance
    "aged": {"en": "Aged balance by collector", "fr": "Balance âgée par chargé de recouvrement"},
    "aged_intro": {
        "en": "Open amount of each collector's customers by days past due; the bar shows the "
        "shares, from not due (green) to more than 90 days (dark red). Their credit notes and "
        "payments not yet applied, if any, are netted in the total (unapplied credit).",
        "fr": "Encours des clients de chaque chargé de recouvrement par jours de retard ; la "
        "barre montre les parts, du non échu (vert) à plus de 90 jours (rouge foncé). Leurs "
        "avoirs et règlements non encore imputés, s'il y en a, sont déduits du total.",
    },
    "col_unapplied_credit": {"en": "Unapplied credit", "fr": "Crédits non imputés"},
    "col_collector": {"en": "Collector", "fr": "Chargé de recouvrement"},
    "all_collectors": {"en": "All collectors", "fr": "Ensemble"},
    "unassigned": {"en": "unassigned", "fr": "non attribué"},
    "bucket_0": {"en": "Not due", "fr": "Non échu"},
    "bucket_1": {"en": "1–30 days", "fr": "1–30 j"},
    "bucket_2": {"en": "31–60 days", "fr": "31–60 j"},
    "bucket_3": {"en": "61–90 days", "fr": "61–90 j"},
    "bucket_4": {"en": "> 90 days", "fr": "> 90 j"},
    "col_total": {"en": "Total", "fr": "Total"},
    "col_split": {"en": "Split", "fr": "Répartition"},
    # disputes, promises, agency
    "disputes": {"en": "Disputes", "fr": "Litiges"},
    "disputes_line": {
        "en": "{invoices} of {customers}; the oldest opened {days} ago.",
        "fr": "{invoices} de {customers} ; le plus ancien ouvert il y a {days}.",
    },
    "no_disputes": {"en": "No invoice in dispute.", "fr": "Aucune facture en litige."},
    "oldest_disputes": {"en": "Oldest disputes", "fr": "Litiges les plus anciens"},
    "col_customer": {"en": "Customer", "fr": "Client"},
    "col_invoice": {"en": "Invoice", "fr": "Facture"},
    "col_invoices": {"en": "Invoices", "fr": "Factures"},
    "col_open": {"en": "Open", "fr": "Restant dû"},
    "col_opened": {"en": "Opened", "fr": "Ouvert le"},
    "col_days_open": {"en": "Days", "fr": "Jours"},
    "promises": {"en": "Promises to pay", "fr": "Promesses de paiement"},
    "promises_due": {
        "en": "Due this week ({start} – {end})",
        "fr": "Attendues cette semaine (du {start} au {end})",
    },
    "promises_broken": {
        "en": "Broken this week ({start} – {end})",
        "fr": "Non tenues cette semaine (du {start} au {end})",
    },
    "promises_later": {"en": "Promised for later", "fr": "Promises pour plus tard"},
    "count_line": {"en": "{invoices}, {customers}", "fr": "{invoices}, {customers}"},
    "no_promises": {
        "en": "No promise to pay due or broken this week.",
        "fr": "Aucune promesse de paiement attendue ou non tenue cette semaine.",
    },
    "col_promised_for": {"en": "Promised for", "fr": "Promis pour le"},
    "agency": {"en": "With the collection agency", "fr": "Confié à l'agence de recouvrement"},
    "agency_intro": {
        "en": "Handed over in the collections ledger; off the collectors' lists.",
        "fr": "Confié selon le journal des actions ; hors des listes des chargés de recouvrement.",
    },
    "no_agency": {"en": "No invoice handed over.", "fr": "Aucune facture confiée."},
    # cash-in
    "cash": {"en": "Expected cash-in by week", "fr": "Encaissements attendus par semaine"},
    "cash_intro": {
        "en": "For each open invoice, the chance it is paid in each week, read from its "
        "predicted payment dates (P10, P50, P90), times its open amount. Invoices in dispute "
        "and at the agency are shown apart. The last row is what is not expected within "
        "these {weeks} weeks: later, or never.",
        "fr": "Pour chaque facture ouverte, la probabilité qu'elle soit payée chaque semaine, "
        "tirée de ses dates de paiement prédites (P10, P50, P90), multipliée par son restant "
        "dû. Les factures en litige et celles confiées à l'agence sont à part. La dernière "
        "ligne est ce qui n'est pas attendu dans ces {weeks} semaines : plus tard, ou jamais.",
    },
    "col_week": {"en": "Week", "fr": "Semaine"},
    "this_week": {"en": "This week (to {end})", "fr": "Cette semaine (jusqu'au {end})"},
    "this_week_short": {"en": "This week", "fr": "Cette semaine"},
    "week_of": {"en": "Week of {day}", "fr": "Semaine du {day}"},
    "later": {"en": "After {day}, or never", "fr": "Après le {day}, ou jamais"},
    "col_expected": {"en": "Expected", "fr": "Attendu"},
    "col_from_disputed": {"en": "In dispute", "fr": "En litige"},
    "col_from_agency": {"en": "At the agency", "fr": "À l'agence"},
    "col_open_total": {"en": "Open amount", "fr": "Encours"},
    "chart_cash": {
        "en": "Expected cash-in by week ({currency})",
        "fr": "Encaissements attendus par semaine ({currency})",
    },
    # today's list
    "worklist": {"en": "Top of today's list", "fr": "Haut de la liste du jour"},
    "worklist_intro": {
        "en": "{listed} for {collectors} (at most {capacity} each), most "
        "money at risk first; one line per customer: the action due and the invoices it is "
        "about. Each collector's full list is in worklist_<collector>.xlsx.",
        "fr": "{listed} pour {collectors} ({capacity} au plus "
        "chacun), le plus d'argent à risque d'abord ; une ligne par client : l'action due et "
        "les factures qu'elle concerne. La liste complète de chacun est dans "
        "worklist_<collector>.xlsx.",
    },
    "not_reached": {
        "en": "Not reached: {customers} with work due did not fit in today's lists ({at_risk} "
        "expected at risk; the oldest action due since {day}). Their actions stay due, and each "
        "night lists the most money at risk first: more capacity, or automated reminders for "
        "the smaller amounts, would reach them.",
        "fr": "Non traités faute de place dans les listes du jour : {customers} avec une action "
        "due ({at_risk} à risque attendu ; l'action la plus ancienne est due depuis le {day}). "
        "Ces actions restent dues, et chaque nuit liste d'abord le plus d'argent à risque : plus "
        "de capacité, ou des relances automatiques pour les petits montants, permettraient de "
        "les traiter.",
    },
    "col_rank": {"en": "#", "fr": "N°"},
    "col_action": {"en": "What to do", "fr": "À faire"},
    "col_status": {"en": "Status", "fr": "Statut"},
    "col_at_risk": {"en": "At risk", "fr": "À risque"},
    "col_why": {"en": "Why", "fr": "Pourquoi"},
    "status_today": {"en": "today", "fr": "aujourd'hui"},
    "status_overdue": {"en": "overdue since {day}", "fr": "en retard depuis le {day}"},
    "status_coming": {"en": "from {day}", "fr": "à partir du {day}"},
    "no_list": {"en": "Nobody is on today's list.", "fr": "Personne sur la liste du jour."},
    # model quality
    "model": {"en": "How good is the list?", "fr": "Que vaut la liste ?"},
    "model_sentence": {
        "en": "Of the money that turned out seriously late (still unpaid 30 days after its due "
        "date), {model} was in the top fifth of the list, against {aging} for an aging list.",
        "fr": "De l'argent finalement payé avec un retard grave (encore impayé 30 jours après "
        "l'échéance), {model} se trouvait dans le premier cinquième de la liste, contre "
        "{aging} pour une balance âgée.",
    },
    "model_how": {
        "en": "Measured on the past as if latepay had run then: model version {version} "
        "retrained with only the data before each of {cuts}, its lists compared with what "
        "happened in the months after. Its data end on {data_end}.",
        "fr": "Mesuré sur le passé comme si latepay avait tourné alors : le modèle version "
        "{version} réentraîné sur les seules données d'avant le {cuts}, ses listes comparées "
        "à ce qui s'est passé les mois suivants. Ses données s'arrêtent au {data_end}.",
    },
    "model_days_late": {
        "en": "Payment dates, predicted at issue: latepay's expected date was {model} days off the "
        "actual days late on average, against {baseline} days for the customer's median delay so "
        "far ({n} invoices; delays capped at {cap} days, so that invoices still unpaid count).",
        "fr": "Dates de paiement prévues à l'émission : la date attendue par latepay s'écartait en "
        "moyenne de {model} jours du retard réel, contre {baseline} jours pour le retard médian "
        "du client jusque-là ({n} factures ; retards plafonnés à {cap} jours, pour compter les "
        "factures encore impayées).",
    },
    "and": {"en": " and ", "fr": " et le "},
    "model_none": {
        "en": "No backtest was logged with this model.",
        "fr": "Aucun backtest n'a été enregistré avec ce modèle.",
    },
    "col_outcome": {"en": "Outcome", "fr": "Issue"},
    "col_ranking": {"en": "Ranking", "fr": "Classement"},
    "metric_auc": {
        "en": "AUC (1 = perfect order, 0.5 = chance)",
        "fr": "AUC (1 = ordre parfait, 0,5 = hasard)",
    },
    "metric_capture_top20": {
        "en": "Late money in the top fifth",
        "fr": "Argent en retard dans le premier cinquième",
    },
    "metric_brier": {"en": "Brier (lower is better)", "fr": "Brier (plus bas = mieux)"},
    "population_late_30": {
        "en": "still unpaid 30 days after due",
        "fr": "impayé 30 jours après l'échéance",
    },
    "population_late": {"en": "paid after the due date", "fr": "payé après l'échéance"},
    "population_late_age_1": {
        "en": "paid late, scored the day after issue",
        "fr": "payé en retard, noté le lendemain de l'émission",
    },
    "block_model": {"en": "latepay", "fr": "latepay"},
    "block_baseline_aging": {
        "en": "aging list (most overdue first)",
        "fr": "balance âgée (plus en retard d'abord)",
    },
    "block_baseline_prior_late_rate": {
        "en": "customer's past late rate",
        "fr": "taux de retard passé du client",
    },
    "realised": {"en": "How the recent lists did", "fr": "Ce qu'ont donné les listes récentes"},
    "realised_sentence": {
        "en": "On the lists of the {window} to {day} whose outcome is now known ({n}), "
        "{model} of the money that turned out seriously late was in the top fifth, against "
        "{aging} for an aging list.",
        "fr": "Sur les listes des {window} jusqu'au {day} dont l'issue est connue ({n}), "
        "{model} de l'argent finalement en retard grave était dans le premier "
        "cinquième, contre {aging} pour une balance âgée.",
    },
}

# Nouns counted in the report: (one, other), chosen by the language's plural rule (CLDR: in
# French 0 and 1 take the singular).
NOUNS: dict[str, dict[str, tuple[str, str]]] = {
    "invoice": {"en": ("invoice", "invoices"), "fr": ("facture", "factures")},
    "customer": {"en": ("customer", "customers"), "fr": ("client", "clients")},
    "collector": {
        "en": ("collector", "collectors"),
        "fr": ("chargé de recouvrement", "chargés de recouvrement"),
    },
    "day": {"en": ("day", "days"), "fr": ("jour", "jours")},
    "week": {"en": ("week", "weeks"), "fr": ("semaine", "semaines")},
}

# What to do, by the plan's action key (models.dunning): {day} is the promised date.
ACTIONS: dict[str, dict[str, str]] = {
    "friendly_reminder": {
        "en": "friendly reminder before the due date",
        "fr": "relance amicale avant l'échéance",
    },
    "due_date_reminder": {"en": "reminder on the due date", "fr": "relance le jour de l'échéance"},
    "first_reminder": {"en": "first reminder", "fr": "première relance"},
    "second_reminder_call": {
        "en": "second reminder: call the customer",
        "fr": "deuxième relance : appeler le client",
    },
    "final_reminder": {
        "en": "final reminder before formal notice",
        "fr": "dernière relance avant mise en demeure",
    },
    "formal_notice": {
        "en": "formal notice by registered letter",
        "fr": "mise en demeure par lettre recommandée",
    },
    "collection_agency": {
        "en": "hand over to a collection agency",
        "fr": "confier à une agence de recouvrement",
    },
    "pre_due_call": {
        "en": "call to confirm the payment is scheduled",
        "fr": "appeler pour confirmer que le paiement est programmé",
    },
    "resolve_dispute": {
        "en": "resolve the dispute (dunning paused)",
        "fr": "résoudre le litige (relances suspendues)",
    },
    "check_promise": {
        "en": "check the payment promised for {day}",
        "fr": "vérifier le paiement promis pour le {day}",
    },
    "broken_promise_call": {
        "en": "call: the promise to pay for {day} was broken",
        "fr": "appeler : la promesse de paiement pour le {day} n'a pas été tenue",
    },
}
CHANNELS: dict[str, dict[str, str]] = {
    "email": {"en": "email", "fr": "e-mail"},
    "letter": {"en": "letter", "fr": "courrier"},
    "sms": {"en": "SMS", "fr": "SMS"},
    "phone": {"en": "phone", "fr": "téléphone"},
    "registered letter": {"en": "registered letter", "fr": "lettre recommandée"},
    "agency": {"en": "agency", "fr": "agence"},
}


@dataclass(frozen=True)
class Words:
    """The report's strings in one language: `words("title")`, `words("days", n="3")`."""

    language: str = "en"

    def __call__(self, key: str, **values: object) -> str:
        text = STRINGS[key][self.language]
        return text.format(**values) if values else text

    def counted(self, noun: str, n: float, written: str) -> str:
        """`written` (n as the locale writes it) and the noun in the right number: "1 invoice",
        "2,415 invoices", "0 facture"."""
        one, other = NOUNS[noun][self.language]
        return f"{written} {one if Locale.parse(self.language).plural_form(n) == 'one' else other}"

    def action(self, key: object, fallback: object, day: str) -> str:
        """What to do, by the plan's action key; the plan's own words for a key not known."""
        entry = ACTIONS.get(key) if isinstance(key, str) else None
        if entry is None:
            return str(fallback or "")
        return entry[self.language].format(day=day)

    def channel(self, value: object) -> str:
        entry = CHANNELS.get(value) if isinstance(value, str) else None
        return entry[self.language] if entry else str(value or "")

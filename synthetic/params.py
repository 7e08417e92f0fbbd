"""Parameters of the generating process: shares, logits, delays, calendars and names.

Every per-archetype array is indexed in ``ARCHETYPES`` order, every per-segment array in
``SEGMENTS`` order, and so on for countries, terms and channels. Logits are on the scale of
P(late | not disputed, not defaulted); days are calendar days; amounts are in EUR (or GBP for
GBP customers, at the same nominal level).
"""

from __future__ import annotations

import numpy as np

# --------------------------------------------------------------------------------------------
# Archetypes: the customer's payment habit.
# --------------------------------------------------------------------------------------------
ARCHETYPES = ("reliable", "habitually_late", "deteriorating", "end_of_month", "disputer")
RELIABLE, HABITUALLY_LATE, DETERIORATING, END_OF_MONTH, DISPUTER = range(5)
ARCH_SHARE = np.array([0.45, 0.20, 0.10, 0.15, 0.10])
# Latent lateness propensity (logit of P(late | not disputed, not defaulted)): mean and spread.
# The spread makes a customer's own history informative beyond its archetype.
LOGIT_MEAN = np.array([-2.6, 0.6, -2.0, -0.9, -1.4])
LOGIT_SD = np.array([0.7, 0.7, 0.6, 0.6, 0.6])
# Mean days late when late (per-customer scale is lognormal around it).
LATE_DAYS_MEAN = np.array([4.0, 20.0, 6.0, 10.0, 8.0])
# Dispute probability per invoice; disputers are the reason the archetype exists.
P_DISPUTE = np.array([0.02, 0.04, 0.03, 0.03, 0.25])
# Probability of never paying (bad debt). Deteriorating customers get a ramp on top of this.
P_DEFAULT = np.array([0.002, 0.02, 0.004, 0.004, 0.01])
# Days early reliable payers may pay: on-time payment = due - term * Beta(1, b); small b = early.
EARLY_BETA_B = np.array([2.0, 6.0, 5.0, 6.0, 5.0])

# Deterioration: after the trouble date the logit, days late and default risk ramp up linearly
# over RAMP_DAYS, so it shows first in the most recent invoices.
RAMP_DAYS = 90
RAMP_LOGIT = 3.0
RAMP_LATE_DAYS = 30.0
RAMP_DEFAULT = 0.12
RAMP_DISPUTE = 0.04
# A dispute makes lateness much more likely and adds 20-60 days of delay.
DISPUTE_LOGIT = 2.5
DISPUTE_DELAY = (20, 60)

# --------------------------------------------------------------------------------------------
# Segments, countries, terms, channels, collectors.
# --------------------------------------------------------------------------------------------
SEGMENTS = ("SME", "Mid-market", "Enterprise", "Public sector")
SEGMENT_SHARE = np.array([0.50, 0.28, 0.12, 0.10])
# Public sector is slow to approve invoices; enterprises have heavier approval workflows.
SEGMENT_LOGIT = np.array([0.0, 0.0, 0.2, 0.6])
SEGMENT_DELAY = np.array([1.0, 1.0, 1.1, 1.5])
# Median invoice amount by segment (EUR) and how much the invoice volume scales.
SEGMENT_AMOUNT = np.array([900.0, 3_500.0, 14_000.0, 6_000.0])
SEGMENT_VOLUME = np.array([1.0, 2.0, 4.0, 2.0])
AMOUNT_SIGMA = 1.0
AMOUNT_LOGIT = 0.15  # per standard deviation of log-amount within the segment

COUNTRIES = ("FR", "BE", "DE", "ES", "IT", "GB", "NL")
COUNTRY_SHARE = np.array([0.55, 0.10, 0.10, 0.07, 0.07, 0.06, 0.05])
LEGAL_FORMS = {
    "FR": ("SARL", "SAS", "SA", "SASU", "EURL"),
    "BE": ("SA", "SRL", "BV", "SC"),
    "DE": ("GmbH", "AG", "KG", "GmbH & Co. KG"),
    "ES": ("SL", "SA"),
    "IT": ("SRL", "SpA"),
    "GB": ("Ltd", "PLC", "LLP"),
    "NL": ("BV", "NV"),
}
# Share of GB customers invoiced in GBP (all their invoices; the rest of the book is EUR).
GB_GBP_SHARE = 0.5

TERMS = ("net30", "45eom", "net60")
EOM_TERMS = 1  # index of "45eom" in TERMS: due at the end of the month of issue + 45 days
TERMS_DAYS = np.array([30, 45, 60])
TERMS_SHARE = np.array([0.50, 0.25, 0.25])
# End-of-month terms confuse approval workflows a little; long terms leave fewer excuses.
TERMS_LOGIT = np.array([0.0, 0.15, -0.1])

CHANNELS = ("email", "phone", "letter", "sms")
CHANNEL_SHARE = np.array([0.60, 0.20, 0.12, 0.08])
COLLECTORS = (
    "Camille",
    "Julien",
    "Sophie",
    "Karim",
    "Laura",
    "Thomas",
    "Inès",
    "Marc",
    "Élodie",
    "Nicolas",
    "Aurélie",
    "Hugo",
)
CUSTOMERS_PER_COLLECTOR = 250

# Company names: "Martin Logistique", "Martin & Rossi", "Martin, Rossi et Fils", "Logistique
# Martin", each followed by a legal form of the customer's country.
NAME_FIRST = (
    "Martin", "Bernard", "Dubois", "Durand", "Lefèvre", "Moreau", "Laurent", "Simon", "Michel",
    "Garnier", "Faure", "Rousseau", "Blanc", "Guérin", "Müller", "Schmidt", "Schäfer", "García",
    "Fernández", "Rossi", "Bianchi", "Smith", "Taylor", "De Vries", "Janssens", "Peeters",
    "Nordhaus", "Atlas", "Horizon", "Vertex", "Alpine", "Boréal", "Cèdre", "Azur", "Orion",
    "Delta", "Méridien", "Polaris", "Saphir", "Hélios",
)  # fmt: skip
NAME_ACTIVITY = (
    "Logistique", "Bâtiment", "Industrie", "Distribution", "Conseil", "Transports", "Énergie",
    "Électricité", "Agroalimentaire", "Ingénierie", "Services", "Négoce", "Matériaux",
    "Informatique", "Emballages", "Santé", "Métallurgie", "Événements", "Systems", "Trading",
)  # fmt: skip
NAME_PARTNER = (
    "Fils", "Associés", "Frères", "Cie", "Partners", "Sons", "Söhne", "Hijos", "Figli",
)  # fmt: skip
NAME_PATTERN_SHARE = [0.45, 0.25, 0.18, 0.12]  # the four patterns above, in that order

# --------------------------------------------------------------------------------------------
# Customer life: arrivals during the period and the deteriorating customers' trouble date.
# --------------------------------------------------------------------------------------------
ALREADY_CUSTOMER_SHARE = 0.6  # customers already active on the first day of the period
LAST_ARRIVAL_DAYS = 60  # latest arrival before the end, so every customer has some history
TROUBLE_WINDOW = (0.5, 0.9)  # trouble starts within this fraction of the period

# --------------------------------------------------------------------------------------------
# Calendar: issue-date seasonality and seasonal lateness.
# --------------------------------------------------------------------------------------------
# Issue-date seasonality: weekday activity, quiet August and year-end holidays.
WEEKDAY_WEIGHT = np.array([1.0, 1.05, 1.05, 1.0, 0.9, 0.12, 0.04])  # Mon..Sun
AUGUST_WEIGHT = 0.55
YEAR_END_WEIGHT = 0.35  # 20-31 December
# Payments due in summer or December slip: holidays, closed accounts payable departments.
SEASON_LOGIT_SUMMER = 0.35  # due in July or August
SEASON_LOGIT_DECEMBER = 0.30

# --------------------------------------------------------------------------------------------
# Invoices and payments.
# --------------------------------------------------------------------------------------------
CREDIT_NOTE_SHARE = 0.02
CREDIT_NOTE_FACTOR = -0.3  # a credit note refunds about 30% of a typical invoice
MIN_INVOICE_CENTS = 1_000  # 10.00
MIN_CREDIT_NOTE_CENTS = 100  # 1.00 (in absolute value)
# End-of-month payers who pay late pay at the next month end, or with this share one later.
EOM_SLIP_SHARE = 0.3
# A dispute is opened between issue and the settlement, at the latest this long after due.
DISPUTE_WINDOW_DAYS = 20
PARTIAL_SHARE = 0.10  # of paid invoices, settled by 2-3 payments
DEFAULT_PARTIAL_SHARE = 0.25  # of bad debts, one partial payment before the customer stops
DEFAULT_PARTIAL_FRACTION = (0.2, 0.6)  # of the amount, paid before the customer stops
DEFAULT_PARTIAL_DAYS = 60  # the bad debt's only payment comes at the latest this long after due

# --------------------------------------------------------------------------------------------
# Promises to pay. A collector chases an overdue invoice 3-21 days after its due date; some
# customers then promise a date. Kept promises are followed by the payment on or a few days
# before the promised date; broken ones promise a date at least a week before the payment comes
# (or a bad debt's, which never comes). Their own stream, so the rest of a seed's book is as it was.
# --------------------------------------------------------------------------------------------
PROMISE_STREAM = 0x50524F4D  # "PROM"
CHASE_DAYS = (3, 21)
PROMISE_SHARE_LATE = 0.40  # of invoices still unpaid when chased
PROMISE_SHARE_DEFAULT = 0.60  # of bad debts (collectors chase them longest)
PROMISE_KEPT = 0.60  # of promises on invoices that are paid later
PROMISE_AMOUNT_SHARE = 0.30  # promises that state an amount (the open amount at the time)

"""rulesets/marketing.yaml written by hand as numpy masks: the same rules, the same outputs.

Columns in memory as numpy arrays (`CohortArrays.from_frame`, done before timing): numbers and integers as
float64 with NaN for missing (every comparison with NaN is false, which is exactly "missing never fires"),
booleans as int8 codes (1 true, 0 false, -1 missing, so `not x` fires on `x == 0` only), the occupation as
int8 category codes (-1 missing). Each rule is one boolean mask of the users it fires for; the first-hit
stage is `np.select` (the first true condition wins); eligibility is "any allow and no block" per action.
numpy runs each operation on one core.
"""

from __future__ import annotations

from dataclasses import dataclass, fields

import numpy as np
import numpy.typing as npt
import polars as pl

from benchmarks.handwritten_polars import ACTIONS, TAGS, TIER_RULES, TIERS

F64 = npt.NDArray[np.float64]
I8 = npt.NDArray[np.int8]
Mask = npt.NDArray[np.bool_]

OCCUPATIONS = ("office_worker", "blue_collar", "business_owner", "student", "freelancer", "retired", "unemployed")
BLUE_COLLAR, BUSINESS_OWNER, STUDENT = (OCCUPATIONS.index(o) for o in ("blue_collar", "business_owner", "student"))
REJECT, WATCH, POTENTIAL, PRIME = range(4)
# tier of each risk_tiers rule, in rule order, then the default's
RULE_TIER = np.array([REJECT] * 4 + [WATCH] * 2 + [PRIME, POTENTIAL, POTENTIAL, WATCH], dtype=np.int8)


@dataclass(frozen=True, slots=True)
class CohortArrays:
    """(N,) arrays, one per cohort field the rules read; see the module docstring for the encodings."""

    on_blacklist: I8
    id_name_match: I8
    phone_id_match: I8
    identities_on_device: F64
    loan_inquiries_30d: F64
    credit_score: F64
    overdue_12m: F64
    max_overdue_days: F64
    monthly_income: F64
    monthly_debt: F64
    existing_loans: F64
    city_tier: F64
    age: F64
    avg_monthly_spend: F64
    has_credit_history: I8
    spend_growth_3m: F64
    app_visits_7d: F64
    occupation: I8
    has_business_license: I8
    assets_estimate: F64
    days_since_last_contact: F64
    marketing_consent: I8
    dnd_listed: I8
    complaints_12m: F64

    @classmethod
    def from_frame(cls, frame: pl.DataFrame) -> CohortArrays:
        columns: dict[str, np.ndarray] = {}
        for f in fields(cls):
            series = frame[f.name]
            if series.dtype == pl.Boolean:
                columns[f.name] = series.cast(pl.Int8).fill_null(-1).to_numpy()
            elif isinstance(series.dtype, pl.Enum):
                assert tuple(series.dtype.categories) == OCCUPATIONS, series.dtype
                columns[f.name] = series.to_physical().cast(pl.Int8).fill_null(-1).to_numpy()
            else:
                columns[f.name] = series.cast(pl.Float64).fill_null(np.nan).to_numpy()
        return cls(**columns)


@dataclass(frozen=True, slots=True)
class NumpyDecisions:
    tier: I8  # (N,) index into TIERS
    tier_rule: I8  # (N,) index into TIER_RULES
    tags: tuple[Mask, ...]  # (T,) of (N,), in the order of TAGS
    credit_limit: F64  # (N,)
    eligible: tuple[Mask, ...]  # (A,) of (N,), in the order of ACTIONS

    def to_frame(self, ids: pl.Series) -> pl.DataFrame:
        """The engine's decisions frame (not timed: only to compare)."""
        return pl.DataFrame([
            ids,
            _categories("tier", self.tier, TIERS),
            _categories("tier_rule", self.tier_rule, TIER_RULES),
            *(pl.Series(f"tag_{t}", m) for t, m in zip(TAGS, self.tags, strict=True)),
            pl.Series("credit_limit", self.credit_limit),
            *(pl.Series(f"eligible_{a}", m) for a, m in zip(ACTIONS, self.eligible, strict=True)),
        ])


def _categories(name: str, codes: I8, dtype: pl.Enum) -> pl.Series:
    categories = list(dtype.categories)
    return pl.Series(name, codes).replace_strict(list(range(len(categories))), categories, return_dtype=dtype)


def _divide(numerator: F64, denominator: F64) -> F64:
    """numerator / denominator, NaN (missing) where the denominator is 0."""
    out = np.full(numerator.shape, np.nan)
    np.divide(numerator, denominator, out=out, where=denominator != 0)
    return out


def _or(*masks: Mask) -> Mask:
    out = masks[0].copy()
    for mask in masks[1:]:
        out |= mask
    return out


@dataclass(frozen=True, slots=True)
class _Fraud:
    blacklisted: Mask
    identity_mismatch: Mask
    multi_identity: Mask
    fraud_suspect: Mask
    multi_lending: Mask


@dataclass(frozen=True, slots=True)
class _Risk:
    rule: I8
    tier: I8
    credit_limit: F64
    debt_to_income: F64


def fraud_stage(a: CohortArrays) -> _Fraud:
    """fraud.yaml (collect): one tag per rule."""
    name_false, phone_false = a.id_name_match == 0, a.phone_id_match == 0
    multi_identity = a.identities_on_device >= 3
    return _Fraud(
        blacklisted=a.on_blacklist == 1,
        identity_mismatch=name_false | phone_false,
        multi_identity=multi_identity,
        fraud_suspect=((a.loan_inquiries_30d >= 5) & (multi_identity | name_false | phone_false)) | (
            (a.identities_on_device >= 2) & name_false),
        multi_lending=a.loan_inquiries_30d >= 8,
    )


def risk_stage(a: CohortArrays, fraud: _Fraud) -> _Risk:
    """risk_tiers.yaml (first hit): np.select takes the first condition that holds, else the default."""
    income = a.monthly_income
    income_or_0 = np.where(np.isnan(income), 0.0, income)
    dti = _divide(a.monthly_debt, income)
    watch_limit = np.clip(income_or_0 * 0.5, 1000.0, 3000.0)
    big_city = a.city_tier <= 2  # NaN (missing) takes the else branch
    conditions = [
        fraud.blacklisted | fraud.multi_identity | fraud.fraud_suspect,
        fraud.identity_mismatch,
        (a.max_overdue_days >= 90) | (a.overdue_12m >= 4),
        a.credit_score < 450,
        a.overdue_12m >= 1,
        (dti > 0.6) | (a.existing_loans >= 5) | fraud.multi_lending,
        (a.credit_score >= 680) & (a.overdue_12m == 0) & (dti <= 0.4) & (income >= np.where(big_city, 8000.0, 5000.0)),
        np.isnan(a.credit_score) & (a.age <= 35),
        a.credit_score >= 600,
    ]
    zero = np.zeros_like(income)
    limits = [zero, zero, zero, zero, watch_limit, watch_limit,
              np.minimum(income * 3, np.where(big_city, 50000.0, 30000.0)),
              np.full_like(income, 2000.0),
              np.clip(income_or_0 * 1.5, 2000.0, 10000.0)]
    rule = np.select(conditions, np.arange(len(conditions), dtype=np.int8), len(conditions)).astype(np.int8)
    return _Risk(rule, RULE_TIER[rule], np.select(conditions, limits, watch_limit), dti)


def segment_stage(a: CohortArrays, risk: _Risk) -> tuple[Mask, ...]:
    """tags.yaml (collect): the 14 segment tags, in file order."""
    spend, income = a.avg_monthly_spend, a.monthly_income
    return (
        (spend >= 6000) | ((_divide(spend, income) >= 0.7) & (spend >= 3000)),
        (a.credit_score >= 680) & (a.overdue_12m == 0),
        (a.loan_inquiries_30d >= 3) | ((a.spend_growth_3m >= 0.5) & (a.app_visits_7d >= 5)),
        (a.has_credit_history == 0) & (a.age <= 35),
        (a.occupation == BUSINESS_OWNER) | (a.has_business_license == 1),
        a.occupation == BLUE_COLLAR,
        (a.assets_estimate >= 5_000_000) | (income >= 50000),
        a.app_visits_7d >= 5,
        a.spend_growth_3m >= 0.3,
        risk.debt_to_income >= 0.5,
        a.existing_loans >= 3,
        np.isnan(a.days_since_last_contact),
        a.occupation == STUDENT,
        a.city_tier >= 3,
    )


def contact_and_channel_stage(a: CohortArrays, risk: _Risk, segment: tuple[Mask, ...]
                              ) -> tuple[tuple[Mask, Mask], tuple[Mask, ...]]:
    """contact_policy.yaml and channel_eligibility.yaml (collect): their two tags, and eligible per action."""
    recent = a.days_since_last_contact < 7
    complained = a.complaints_12m >= 1
    no_consent = a.marketing_consent != 1
    dnd = a.dnd_listed == 1
    repeat_complainer = a.complaints_12m >= 2
    reject, watch, potential, prime = (risk.tier == t for t in (REJECT, WATCH, POTENTIAL, PRIME))
    urgent_need, small_business_owner, student = segment[2], segment[4], segment[12]
    advisor = potential & small_business_owner
    tier4 = a.city_tier == 4
    allow = (
        [prime, potential], [prime, potential], [prime, potential, watch], [prime, potential, watch],
        [prime, potential, watch], [prime, potential], [prime, advisor], [prime, advisor],
    )
    block = (
        [reject, student],
        [no_consent, reject, student],
        [reject, student],
        [no_consent, dnd, repeat_complainer, reject, student],
        [no_consent, dnd, repeat_complainer, reject, student, watch, urgent_need],
        [no_consent, dnd, recent, repeat_complainer, reject, student],
        [no_consent, dnd, recent, complained, reject, student, tier4],
        [no_consent, dnd, recent, complained, reject, student, advisor, watch, urgent_need, tier4],
    )
    eligible = tuple(_or(*allowed) & ~_or(*blocked) for allowed, blocked in zip(allow, block, strict=True))
    return (recent, complained), eligible


def decide(a: CohortArrays) -> NumpyDecisions:
    fraud = fraud_stage(a)
    risk = risk_stage(a, fraud)
    segment = segment_stage(a, risk)
    contact_tags, eligible = contact_and_channel_stage(a, risk, segment)
    tags = (fraud.blacklisted, fraud.identity_mismatch, fraud.multi_identity, fraud.fraud_suspect,
            fraud.multi_lending, *segment, *contact_tags)
    return NumpyDecisions(risk.tier, risk.rule, tags, risk.credit_limit, eligible)

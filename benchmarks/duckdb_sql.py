"""rulesets/marketing.yaml written by hand in DuckDB SQL (CASE WHEN), on the same in-memory cohort.

The validated cohort frame is handed to DuckDB as an Arrow table (`register`, zero-copy; done before timing);
the query returns the engine's columns, fetched as an Arrow table (timed: the result is materialized, as the
engine's is). SQL's three-valued logic is the rule language's: `CASE WHEN` and `COALESCE(cond, false)` take
a missing condition as not firing; division by zero is made missing with NULLIF (DuckDB gives inf).
"""

from __future__ import annotations

import duckdb
import polars as pl
import pyarrow as pa

from benchmarks.handwritten_polars import ACTIONS, TAGS, TIER_RULES, TIERS

TABLE = "cohort"


def _fires(condition: str) -> str:
    return f"COALESCE({condition}, false)"


_FRAUD = {
    "blacklisted": "on_blacklist",
    "identity_mismatch": "NOT id_name_match OR NOT phone_id_match",
    "multi_identity": "identities_on_device >= 3",
    "fraud_suspect": "(loan_inquiries_30d >= 5 AND (identities_on_device >= 3 OR NOT id_name_match OR NOT "
                     "phone_id_match)) OR (identities_on_device >= 2 AND NOT id_name_match)",
    "multi_lending": "loan_inquiries_30d >= 8",
}
# (rule id, tier, condition, credit_limit) in file order; the first that fires decides.
_WATCH_LIMIT = "LEAST(GREATEST(COALESCE(monthly_income, 0) * 0.5, 1000.0), 3000.0)"
_BIG_CITY = "CASE WHEN city_tier <= 2 THEN {} ELSE {} END"
_RISK = [
    ("reject_fraud", "reject", "tag_blacklisted OR tag_multi_identity OR tag_fraud_suspect", "0.0"),
    ("reject_identity", "reject", "tag_identity_mismatch", "0.0"),
    ("reject_severe_overdue", "reject", "max_overdue_days >= 90 OR overdue_12m >= 4", "0.0"),
    ("reject_low_score", "reject", "credit_score < 450", "0.0"),
    ("watch_recent_overdue", "watch", "overdue_12m >= 1", _WATCH_LIMIT),
    ("watch_high_debt", "watch", "debt_to_income > 0.6 OR existing_loans >= 5 OR tag_multi_lending", _WATCH_LIMIT),
    ("prime", "prime",
     "credit_score >= 680 AND overdue_12m = 0 AND debt_to_income <= 0.4 AND monthly_income >= "
     + _BIG_CITY.format("8000.0", "5000.0"),
     "LEAST(monthly_income * 3, " + _BIG_CITY.format("50000.0", "30000.0") + ")"),
    ("potential_thin_file", "potential", "credit_score IS NULL AND age <= 35", "2000.0"),
    ("potential_moderate", "potential", "credit_score >= 600",
     "LEAST(GREATEST(COALESCE(monthly_income, 0) * 1.5, 2000.0), 10000.0)"),
]
_SEGMENT = {
    "high_spend": "avg_monthly_spend >= 6000 OR (avg_monthly_spend / NULLIF(monthly_income, 0) >= 0.7 "
                  "AND avg_monthly_spend >= 3000)",
    "good_credit": "credit_score >= 680 AND overdue_12m = 0",
    "urgent_need": "loan_inquiries_30d >= 3 OR (spend_growth_3m >= 0.5 AND app_visits_7d >= 5)",
    "credit_invisible_young": "NOT has_credit_history AND age <= 35",
    "small_business_owner": "occupation = 'business_owner' OR has_business_license",
    "blue_collar": "occupation = 'blue_collar'",
    "high_net_worth": "assets_estimate >= 5000000 OR monthly_income >= 50000",
    "app_active": "app_visits_7d >= 5",
    "spend_rising": "spend_growth_3m >= 0.3",
    "heavy_debt": "debt_to_income >= 0.5",
    "multi_loan": "existing_loans >= 3",
    "first_time_contact": "days_since_last_contact IS NULL",
    "student": "occupation = 'student'",
    "lower_tier_city": "city_tier >= 3",
}
_CONTACT = {"recently_contacted": "days_since_last_contact < 7", "complained": "complaints_12m >= 1"}
# Eligibility: the tier is never missing; the other conditions are wrapped in COALESCE(…, false).
_PRIME, _POTENTIAL, _WATCH, _REJECT = (f"tier = '{t}'" for t in ("prime", "potential", "watch", "reject"))
_ADVISOR = "(tier = 'potential' AND tag_small_business_owner)"
_NO_CONSENT = "NOT COALESCE(marketing_consent, false)"
_DND, _REPEAT, _TIER4 = (_fires(x) for x in ("dnd_listed", "complaints_12m >= 2", "city_tier = 4"))
_ALLOW = {
    "marketplace": [_PRIME, _POTENTIAL],
    "app_ads": [_PRIME, _POTENTIAL],
    "wechat": [_PRIME, _POTENTIAL, _WATCH],
    "sms": [_PRIME, _POTENTIAL, _WATCH],
    "sms_coupon": [_PRIME, _POTENTIAL, _WATCH],
    "voicebot": [_PRIME, _POTENTIAL],
    "telesales": [_PRIME, _ADVISOR],
    "telesales_coupon": [_PRIME, _ADVISOR],
}
_STUDENT, _RECENT, _COMPLAINED, _URGENT = (
    "tag_student", "tag_recently_contacted", "tag_complained", "tag_urgent_need")
_BLOCK = {
    "marketplace": [_REJECT, _STUDENT],
    "app_ads": [_NO_CONSENT, _REJECT, _STUDENT],
    "wechat": [_REJECT, _STUDENT],
    "sms": [_NO_CONSENT, _DND, _REPEAT, _REJECT, _STUDENT],
    "sms_coupon": [_NO_CONSENT, _DND, _REPEAT, _REJECT, _STUDENT, _WATCH, _URGENT],
    "voicebot": [_NO_CONSENT, _DND, _RECENT, _REPEAT, _REJECT, _STUDENT],
    "telesales": [_NO_CONSENT, _DND, _RECENT, _COMPLAINED, _REJECT, _STUDENT, _TIER4],
    "telesales_coupon": [_NO_CONSENT, _DND, _RECENT, _COMPLAINED, _REJECT, _STUDENT, _ADVISOR, _WATCH, _URGENT,
                         _TIER4],
}


def _case(pairs: list[tuple[str, str]], otherwise: str) -> str:
    whens = " ".join(f"WHEN {cond} THEN {value}" for cond, value in pairs)
    return f"CASE {whens} ELSE {otherwise} END"


def decision_query(table: str = TABLE, id_field: str = "user_id") -> str:
    fraud = ", ".join(f"{_fires(cond)} AS tag_{tag}" for tag, cond in _FRAUD.items())
    conds = [cond for _, _, cond, _ in _RISK]
    tier = _case([(c, f"'{t}'") for c, (_, t, _, _) in zip(conds, _RISK, strict=True)], "'watch'")
    rule = _case([(c, f"'{r}'") for c, (r, _, _, _) in zip(conds, _RISK, strict=True)], "'default'")
    limit = _case([(c, v) for c, (_, _, _, v) in zip(conds, _RISK, strict=True)], _WATCH_LIMIT)
    later_tags = ", ".join(f"{_fires(cond)} AS tag_{tag}" for tag, cond in {**_SEGMENT, **_CONTACT}.items())
    eligible = ", ".join(
        f"({' OR '.join(_ALLOW[a])}) AND NOT ({' OR '.join(_BLOCK[a])}) AS eligible_{a}" for a in ACTIONS)
    tag_columns = ", ".join(f"tag_{t}" for t in TAGS)
    return f"""
WITH fraud AS (
    SELECT *, {fraud}, monthly_debt / NULLIF(monthly_income, 0) AS debt_to_income FROM {table}
), risk AS (
    SELECT *, {tier} AS tier, {rule} AS tier_rule, CAST({limit} AS DOUBLE) AS credit_limit FROM fraud
), tagged AS (
    SELECT *, {later_tags} FROM risk
)
SELECT {id_field}, tier, tier_rule, {tag_columns}, credit_limit, {eligible} FROM tagged
"""


class DuckDBRules:
    """One connection with the cohort registered; `run()` executes the query and fetches the result as Arrow."""

    def __init__(self, cohort: pl.DataFrame, threads: int | None = None, id_field: str = "user_id") -> None:
        self.connection = duckdb.connect()
        if threads is not None:
            self.connection.execute(f"SET threads TO {int(threads)}")
        self.arrow = cohort.to_arrow()
        self.connection.register(TABLE, self.arrow)
        self.query = decision_query(TABLE, id_field)

    def run(self) -> pa.Table:
        return self.connection.sql(self.query).to_arrow_table()

    def close(self) -> None:
        self.connection.close()


def to_decisions_frame(result: pa.Table) -> pl.DataFrame:
    """The query result with the engine's column types (tier and tier_rule as Enum); not timed."""
    frame = pl.from_arrow(result)
    assert isinstance(frame, pl.DataFrame)
    return frame.with_columns(pl.col("tier").cast(TIERS), pl.col("tier_rule").cast(TIER_RULES))

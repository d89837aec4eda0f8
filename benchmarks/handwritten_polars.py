"""rulesets/marketing.yaml written by hand as Polars expressions: the baseline the engine's plan is held to.

The same 42 rules computing the same columns as `CompiledRuleset.apply` (id, tier, tier_rule, 21 tags,
credit_limit, 8 eligible_* columns), written the way an engineer who knows Polars would write them for this
one pipeline: each rule's condition once, as an expression; "fires" is `fill_null(False)` (missing never
fires); the first-hit stage as three `when` chains (tier, tier_rule, credit_limit) that share their
conditions (Polars' common-subexpression elimination evaluates each once); eligibility as "any allow and no
block" per action, the channel names already expanded to action ids. The input is the validated cohort
frame (`Cohort.frame`: categories as pl.Enum, missing values null).
"""

from __future__ import annotations

import polars as pl

TIERS = pl.Enum(["reject", "watch", "potential", "prime"])
TIER_RULES = pl.Enum([
    "reject_fraud", "reject_identity", "reject_severe_overdue", "reject_low_score", "watch_recent_overdue",
    "watch_high_debt", "prime", "potential_thin_file", "potential_moderate", "default",
])
ACTIONS = ("marketplace", "app_ads", "wechat", "sms", "sms_coupon", "voicebot", "telesales", "telesales_coupon")

c = pl.col


def _fires(condition: pl.Expr) -> pl.Expr:
    return condition.fill_null(False)


def _divide(numerator: str, denominator: str) -> pl.Expr:
    """numerator / denominator, missing when the denominator is 0 (the rule language's division)."""
    return c(numerator) / pl.when(c(denominator) != 0).then(c(denominator))


def _fraud_tags() -> dict[str, pl.Expr]:
    name_false, phone_false = ~c("id_name_match"), ~c("phone_id_match")
    return {
        "blacklisted": _fires(c("on_blacklist")),
        "identity_mismatch": _fires(name_false | phone_false),
        "multi_identity": _fires(c("identities_on_device") >= 3),
        "fraud_suspect": _fires(
            ((c("loan_inquiries_30d") >= 5) & ((c("identities_on_device") >= 3) | name_false | phone_false))
            | ((c("identities_on_device") >= 2) & name_false)),
        "multi_lending": _fires(c("loan_inquiries_30d") >= 8),
    }


def _risk_tiers() -> list[pl.Expr]:
    income = c("monthly_income")
    dti = c("debt_to_income")
    watch_limit = (income.fill_null(0.0) * 0.5).clip(1000.0, 3000.0)
    big_city = _fires(c("city_tier") <= 2)  # `a if cond else b` takes b when cond is missing
    rules: list[tuple[str, str, pl.Expr, pl.Expr]] = [
        ("reject_fraud", "reject", c("tag_blacklisted") | c("tag_multi_identity") | c("tag_fraud_suspect"),
         pl.lit(0.0)),
        ("reject_identity", "reject", c("tag_identity_mismatch"), pl.lit(0.0)),
        ("reject_severe_overdue", "reject", (c("max_overdue_days") >= 90) | (c("overdue_12m") >= 4), pl.lit(0.0)),
        ("reject_low_score", "reject", c("credit_score") < 450, pl.lit(0.0)),
        ("watch_recent_overdue", "watch", c("overdue_12m") >= 1, watch_limit),
        ("watch_high_debt", "watch", (dti > 0.6) | (c("existing_loans") >= 5) | c("tag_multi_lending"), watch_limit),
        ("prime", "prime",
         (c("credit_score") >= 680) & (c("overdue_12m") == 0) & (dti <= 0.4)
         & (income >= pl.when(big_city).then(8000.0).otherwise(5000.0)),
         pl.min_horizontal(income * 3, pl.when(big_city).then(50000.0).otherwise(30000.0))),
        ("potential_thin_file", "potential", c("credit_score").is_null() & (c("age") <= 35), pl.lit(2000.0)),
        ("potential_moderate", "potential", c("credit_score") >= 600,
         (income.fill_null(0.0) * 1.5).clip(2000.0, 10000.0)),
    ]
    conds = [_fires(cond) for _, _, cond, _ in rules]
    tier: pl.Expr = pl.lit("watch", dtype=TIERS)
    rule: pl.Expr = pl.lit("default", dtype=TIER_RULES)
    limit: pl.Expr = watch_limit
    for cond, (rule_id, tier_name, _, value) in reversed(list(zip(conds, rules, strict=True))):
        tier = pl.when(cond).then(pl.lit(tier_name, dtype=TIERS)).otherwise(tier)
        rule = pl.when(cond).then(pl.lit(rule_id, dtype=TIER_RULES)).otherwise(rule)
        limit = pl.when(cond).then(value).otherwise(limit)
    return [tier.alias("tier"), rule.alias("tier_rule"), limit.alias("credit_limit")]


def _segment_tags() -> dict[str, pl.Expr]:
    spend = c("avg_monthly_spend")
    return {
        "high_spend": _fires((spend >= 6000) | ((_divide("avg_monthly_spend", "monthly_income") >= 0.7)
                                                & (spend >= 3000))),
        "good_credit": _fires((c("credit_score") >= 680) & (c("overdue_12m") == 0)),
        "urgent_need": _fires((c("loan_inquiries_30d") >= 3) | ((c("spend_growth_3m") >= 0.5)
                                                                & (c("app_visits_7d") >= 5))),
        "credit_invisible_young": _fires(~c("has_credit_history") & (c("age") <= 35)),
        "small_business_owner": _fires((c("occupation") == "business_owner") | c("has_business_license")),
        "blue_collar": _fires(c("occupation") == "blue_collar"),
        "high_net_worth": _fires((c("assets_estimate") >= 5_000_000) | (c("monthly_income") >= 50000)),
        "app_active": _fires(c("app_visits_7d") >= 5),
        "spend_rising": _fires(c("spend_growth_3m") >= 0.3),
        "heavy_debt": _fires(c("debt_to_income") >= 0.5),
        "multi_loan": _fires(c("existing_loans") >= 3),
        "first_time_contact": c("days_since_last_contact").is_null(),
        "student": _fires(c("occupation") == "student"),
        "lower_tier_city": _fires(c("city_tier") >= 3),
    }


def _eligibility() -> list[pl.Expr]:
    # The tier is never missing (risk_tiers has a default), so `tier == x` needs no fill_null.
    prime, potential, watch = c("tier") == "prime", c("tier") == "potential", c("tier") == "watch"
    no_consent = ~c("marketing_consent").fill_null(False)
    dnd = _fires(c("dnd_listed"))
    recent = c("tag_recently_contacted")
    complained = c("tag_complained")
    repeat_complainer = _fires(c("complaints_12m") >= 2)
    reject = c("tier") == "reject"
    student = c("tag_student")
    advisor = potential & c("tag_small_business_owner")
    urgent = c("tag_urgent_need")
    tier4 = _fires(c("city_tier") == 4)
    allow = {
        "marketplace": [prime, potential],
        "app_ads": [prime, potential],
        "wechat": [prime, potential, watch],
        "sms": [prime, potential, watch],
        "sms_coupon": [prime, potential, watch],  # watch_basic allows the sms channel: both sms actions
        "voicebot": [prime, potential],
        "telesales": [prime, advisor],
        "telesales_coupon": [prime, advisor],  # advisor allows the telesales channel…
    }
    block = {
        "marketplace": [reject, student],
        "app_ads": [no_consent, reject, student],
        "wechat": [reject, student],
        "sms": [no_consent, dnd, repeat_complainer, reject, student],
        "sms_coupon": [no_consent, dnd, repeat_complainer, reject, student, watch, urgent],
        "voicebot": [no_consent, dnd, recent, repeat_complainer, reject, student],
        "telesales": [no_consent, dnd, recent, complained, reject, student, tier4],
        "telesales_coupon": [no_consent, dnd, recent, complained, reject, student, advisor, watch, urgent, tier4],
    }
    return [(pl.any_horizontal(allow[a]) & ~pl.any_horizontal(block[a])).alias(f"eligible_{a}") for a in ACTIONS]


FRAUD_TAGS = tuple(_fraud_tags())
SEGMENT_TAGS = tuple(_segment_tags())
CONTACT_TAGS = ("recently_contacted", "complained")
TAGS = (*FRAUD_TAGS, *SEGMENT_TAGS, *CONTACT_TAGS)


def _columns(stages: int, id_field: str) -> list[pl.Expr | str]:
    """The output columns of the first `stages` rulesets (all five: the engine's decisions frame)."""
    tags = [*FRAUD_TAGS, *(SEGMENT_TAGS if stages >= 3 else ()), *(CONTACT_TAGS if stages >= 4 else ())]
    columns: list[pl.Expr | str] = [c(id_field)]
    if stages >= 2:
        columns += ["tier", "tier_rule"]
    columns += [f"tag_{t}" for t in tags]
    if stages >= 2:
        columns.append("credit_limit")
    return columns + (_eligibility() if stages >= 5 else [])


def decision_plan(cohort: pl.LazyFrame, id_field: str = "user_id", stages: int = 5) -> pl.LazyFrame:
    """The whole pipeline, or (for profiling) only its first `stages` rulesets."""
    lf = cohort.with_columns(
        [e.alias(f"tag_{t}") for t, e in _fraud_tags().items()],
        debt_to_income=_divide("monthly_debt", "monthly_income"),
    )
    if stages >= 2:
        lf = lf.with_columns(_risk_tiers())
    if stages >= 3:
        contact = {"recently_contacted": _fires(c("days_since_last_contact") < 7),
                   "complained": _fires(c("complaints_12m") >= 1)} if stages >= 4 else {}
        lf = lf.with_columns([e.alias(f"tag_{t}") for t, e in {**_segment_tags(), **contact}.items()])
    return lf.select(_columns(stages, id_field))


def decide(cohort: pl.DataFrame, id_field: str = "user_id") -> pl.DataFrame:
    """The decisions frame for a validated cohort frame, with the engine's columns in the engine's order."""
    return decision_plan(cohort.lazy(), id_field).collect()

"""A seeded, realistic synthetic cohort of Chinese consumer-loan marketing users.

Every column is drawn with numpy, vectorised over users (no Python loop over users), from a small set of
latent traits so that the observed columns are correlated the way a strategy analyst expects:

- a *risk* trait drives overdue episodes, debt, credit inquiries and (negatively) the credit score;
- a *fraud ring* flag (≈1.2 % of users, twice as likely under 25) drives the blacklist, identity mismatches,
  many identities on one device, bursts of loan inquiries and a worse credit profile;
- an *urgent cash need* flag drives loan inquiries, app visits and a jump in spending;
- a *spend propensity* trait drives spending relative to income;
- the *true* monthly income is drawn for everyone (it shapes debt, spend, assets and score) and then
  hidden for ≈8 % of users, so missingness does not erase the correlations.

The distributions, their parameters and the reasons for them are documented in ``docs/synthetic-cohort.md``.
All values are fake: the 18-character resident ID numbers and the phone numbers are random strings in the
right format (with a valid ID check character), generated for tests and demos only.

Call ``generate_cohort`` once per chunk with a different ``rng`` and ``id_offset`` to build cohorts larger
than memory; each chunk is independent given its generator.
"""

from __future__ import annotations

from collections.abc import Iterator
from typing import Any, Final

import numpy as np
import numpy.typing as npt
import polars as pl

__all__ = [
    "AS_OF",
    "CHANNEL_SOURCES",
    "COHORT_FIELDS",
    "COHORT_SCHEMA",
    "OCCUPATIONS",
    "cohort_chunks",
    "generate_cohort",
]

FloatArray = npt.NDArray[np.float64]
IntArray = npt.NDArray[np.int64]
BoolArray = npt.NDArray[np.bool_]

#: The date the cohort describes: ages, birth dates in ID numbers and "days since" columns refer to it.
AS_OF: Final[np.datetime64] = np.datetime64("2026-11-01", "D")

OCCUPATIONS: Final[tuple[str, ...]] = (
    "office_worker",
    "blue_collar",
    "business_owner",
    "student",
    "freelancer",
    "retired",
    "unemployed",
)
CHANNEL_SOURCES: Final[tuple[str, ...]] = ("marketplace", "app_store", "wechat", "sms", "organic", "referral")

COHORT_SCHEMA: Final[dict[str, pl.DataType]] = {
    "user_id": pl.String(),
    "id_number": pl.String(),
    "phone": pl.String(),
    "age": pl.Int64(),
    "city_tier": pl.Int64(),
    "occupation": pl.String(),
    "monthly_income": pl.Float64(),
    "credit_score": pl.Float64(),
    "has_credit_history": pl.Boolean(),
    "overdue_12m": pl.Int64(),
    "max_overdue_days": pl.Int64(),
    "existing_loans": pl.Int64(),
    "monthly_debt": pl.Float64(),
    "avg_monthly_spend": pl.Float64(),
    "spend_growth_3m": pl.Float64(),
    "loan_inquiries_30d": pl.Int64(),
    "app_visits_7d": pl.Int64(),
    "has_business_license": pl.Boolean(),
    "assets_estimate": pl.Float64(),
    "on_blacklist": pl.Boolean(),
    "id_name_match": pl.Boolean(),
    "phone_id_match": pl.Boolean(),
    "identities_on_device": pl.Int64(),
    "marketing_consent": pl.Boolean(),
    "dnd_listed": pl.Boolean(),
    "days_since_last_contact": pl.Int64(),
    "complaints_12m": pl.Int64(),
    "channel_source": pl.String(),
}
COHORT_FIELDS: Final[tuple[str, ...]] = tuple(COHORT_SCHEMA)

# --- parameters (documented in docs/synthetic-cohort.md) ------------------------------------------------

_CITY_TIER_P: Final = np.array([0.15, 0.30, 0.30, 0.25])

# Occupation probabilities by age band (rows: 18-22, 23-24, 25-54, 55-70; columns: OCCUPATIONS order).
_OCC_BY_AGE: Final = np.array(
    [
        [0.12, 0.20, 0.01, 0.52, 0.07, 0.00, 0.08],
        [0.35, 0.25, 0.02, 0.20, 0.10, 0.00, 0.08],
        [0.42, 0.30, 0.10, 0.005, 0.115, 0.00, 0.06],
        [0.12, 0.15, 0.07, 0.00, 0.05, 0.55, 0.06],
    ]
)
# Multipliers on those probabilities by city tier (rows: tiers 1-4): more office work in big cities,
# more blue-collar work and unemployment in small ones.
_OCC_BY_TIER: Final = np.array(
    [
        [1.40, 0.70, 1.10, 1.00, 1.30, 1.00, 0.80],
        [1.15, 0.90, 1.00, 1.00, 1.10, 1.00, 0.90],
        [0.90, 1.10, 1.00, 1.00, 0.90, 1.00, 1.05],
        [0.70, 1.30, 0.90, 1.00, 0.80, 1.00, 1.20],
    ]
)
_INCOME_MEDIAN: Final = np.array([7500.0, 5200.0, 11000.0, 1500.0, 6000.0, 3800.0, 1800.0])
_INCOME_SIGMA: Final = np.array([0.45, 0.35, 0.85, 0.60, 0.70, 0.45, 0.60])
_INCOME_TIER: Final = np.array([1.55, 1.20, 0.95, 0.78])

_CHANNEL_P: Final = np.array([0.28, 0.18, 0.20, 0.12, 0.14, 0.08])
_CHANNEL_P_FRAUD: Final = np.array([0.45, 0.10, 0.10, 0.30, 0.02, 0.03])
_CONSENT_BY_CHANNEL: Final = np.array([0.88, 0.86, 0.90, 0.78, 0.82, 0.85])
_NEVER_CONTACTED_BY_CHANNEL: Final = np.array([0.35, 0.40, 0.38, 0.30, 0.55, 0.45])

# Six-digit administrative division codes used as the first part of the fake ID numbers, by city tier.
_REGION_CODES: Final[tuple[tuple[int, ...], ...]] = (
    (110101, 110105, 110108, 310101, 310104, 310115, 440103, 440106, 440304, 440305),
    (330106, 330108, 320102, 320106, 510104, 510107, 420102, 420106, 610103, 370202, 500103, 120101),
    (130602, 341602, 411302, 450802, 360302, 370702, 420502, 320802, 430602, 350502),
    (522601, 622701, 532301, 141002, 231002, 452601, 433101, 622901, 513401, 152501),
)
_ID_WEIGHTS: Final = np.array([7, 9, 10, 5, 8, 4, 2, 1, 6, 3, 7, 9, 10, 5, 8, 4, 2], dtype=np.int64)
# Mobile number prefixes of the three carriers (130-139, 15x, 180-189, 19x).
_PHONE_PREFIXES: Final = np.concatenate(
    [
        np.arange(130, 140),
        np.array([150, 151, 152, 153, 155, 156, 157, 158, 159]),
        np.arange(180, 190),
        np.array([191, 193, 195, 196, 197, 198, 199]),
    ]
).astype(np.int64)


def _categorical(rng: np.random.Generator, table: FloatArray, group: IntArray) -> IntArray:
    """Draw one category per user from row ``group[i]`` of ``table`` (rows: probabilities summing to 1).

    Inverse-CDF sampling with a single ``searchsorted``: row g's cumulative probabilities are shifted by g,
    so one sorted array holds every row and the query for user i is ``group[i] + u[i]``.
    """
    groups, k = table.shape
    cum = np.cumsum(table / table.sum(axis=1, keepdims=True), axis=1)
    flat = (cum + np.arange(groups)[:, None]).ravel()
    u = rng.random(group.shape[0])
    idx = np.searchsorted(flat, group + u, side="right") - group * k
    result: IntArray = np.clip(idx, 0, k - 1).astype(np.int64)
    return result


def _bernoulli(rng: np.random.Generator, p: npt.NDArray[np.floating[Any]] | float, n: int) -> BoolArray:
    return rng.random(n) < p


def _with_nulls(name: str, values: npt.NDArray[np.generic], missing: BoolArray, dtype: pl.DataType) -> pl.Series:
    series = pl.Series(name, values, dtype=dtype)
    where = np.flatnonzero(missing)
    return series.scatter(where, None) if where.size else series


def _digit_weight_sum(values: IntArray, width: int, weights: IntArray) -> IntArray:
    """Σ digit × weight over the ``width`` decimal digits of each value (most significant first)."""
    total = np.zeros(values.shape[0], dtype=np.int64)
    for position in range(width):  # a loop over digit positions, each vectorised over the values
        total += (values // 10 ** (width - 1 - position)) % 10 * weights[position]
    return total


def _region_table() -> tuple[IntArray, IntArray, IntArray]:
    """All region codes in one array, with each city tier's first index and number of codes."""
    counts = np.array([len(codes) for codes in _REGION_CODES], dtype=np.int64)
    codes = np.array([code for codes in _REGION_CODES for code in codes], dtype=np.int64)
    starts = np.concatenate([np.zeros(1, dtype=np.int64), np.cumsum(counts)[:-1]])
    return codes, starts, counts


def _id_number_parts(rng: np.random.Generator, age: IntArray, city_tier: IntArray) -> tuple[IntArray, IntArray]:
    """Fake 18-character resident ID numbers: region (6) + birth date (8) + sequence (3) + check char.

    Returns the 17-digit body as an integer and the check value (0-10; 10 is written 'X', ISO 7064 MOD 11-2).
    The birth date is a day in the year before the user's last birthday, so the age is exact on ``AS_OF``.
    The check sum is assembled from small lookup tables (per region code, per birth day, per sequence
    number), never from a per-user loop.
    """
    n = age.shape[0]
    codes, starts, counts = _region_table()
    code_index = starts[city_tier - 1] + (rng.random(n) * counts[city_tier - 1]).astype(np.int64)

    # Every possible birth day, as days since 1970-01-01, and its YYYYMMDD form and check-sum share.
    as_of_day = int(AS_OF.astype(np.int64))
    first_day = int((AS_OF - np.timedelta64(366 * 82, "D")).astype(np.int64))
    days = np.arange(first_day, as_of_day + 1, dtype=np.int64).astype("datetime64[D]")
    months = days.astype("datetime64[M]")
    yyyymmdd = (
        (days.astype("datetime64[Y]").astype(np.int64) + 1970) * 10**4
        + (months.astype(np.int64) % 12 + 1) * 100
        + (days - months).astype(np.int64)
        + 1
    )
    # The last birthday on or before AS_OF for each age 0..80: same month and day, `age` years earlier.
    ages = np.arange(81, dtype=np.int64)
    as_of_month = AS_OF.astype("datetime64[M]")
    years = (as_of_month.astype("datetime64[Y]").astype(np.int64) - ages).astype("datetime64[Y]")
    birthdays = (years.astype("datetime64[M]") + (as_of_month.astype(np.int64) % 12)).astype("datetime64[D]") + (
        AS_OF - as_of_month
    )
    birth = birthdays.astype(np.int64)[age] - rng.integers(0, 365, size=n, dtype=np.int64) - first_day
    seq = rng.integers(1, 1000, size=n, dtype=np.int64)

    total = (
        _digit_weight_sum(codes, 6, _ID_WEIGHTS[:6])[code_index]
        + _digit_weight_sum(yyyymmdd, 8, _ID_WEIGHTS[6:14])[birth]
        + _digit_weight_sum(np.arange(1000, dtype=np.int64), 3, _ID_WEIGHTS[14:])[seq]
    )
    body = codes[code_index] * 10**11 + yyyymmdd[birth] * 10**3 + seq
    return body, (12 - total % 11) % 11


def generate_cohort(n: int, rng: np.random.Generator, *, id_offset: int = 0) -> pl.DataFrame:
    """Generate ``n`` synthetic users with the columns of ``COHORT_FIELDS``.

    ``rng`` makes the draw reproducible; ``id_offset`` is added to the 0-based row index in ``user_id``,
    so chunks generated with different generators and offsets concatenate into one cohort with unique ids.
    Categories are plain strings; missing values are nulls (never NaN).
    """
    if n < 0:
        raise ValueError(f"n must be >= 0, got {n}")
    if id_offset < 0 or id_offset + n > 10**9:
        raise ValueError("user ids must fit in 9 digits: need 0 <= id_offset and id_offset + n <= 1e9")

    # --- demographics ---------------------------------------------------------------------------------
    # 18 + Gamma(2, 8) years, skewed young; the ≈1% drawn past 70 are spread evenly over 55-70 instead
    # of piling up at 70.
    age = (18 + np.floor(rng.gamma(2.0, 8.0, size=n))).astype(np.int64)
    age = np.where(age > 70, rng.integers(55, 71, size=n), age).astype(np.int64)
    city_tier = _categorical(rng, _CITY_TIER_P[None, :], np.zeros(n, dtype=np.int64)) + 1
    band = np.select([age <= 22, age <= 24, age <= 54], [0, 1, 2], default=3).astype(np.int64)
    occ_p = (_OCC_BY_AGE[:, None, :] * _OCC_BY_TIER[None, :, :]).reshape(16, 7)  # (age band × tier, occ.)
    occupation = _categorical(rng, occ_p, band * 4 + city_tier - 1)
    is_student = occupation == 3
    is_business = occupation == 2
    is_blue = occupation == 1

    # --- latent traits --------------------------------------------------------------------------------
    fraud_ring = _bernoulli(rng, np.where(age < 25, 0.02, 0.01), n)
    urgent = _bernoulli(rng, 0.06, n)
    spend_trait = rng.standard_normal(n)

    age_curve = 0.8 + 0.3 * np.exp(-0.5 * ((age - 42) / 12.0) ** 2)
    working = (occupation != 3) & (occupation != 5)
    log_income = (
        np.log(_INCOME_MEDIAN[occupation] * _INCOME_TIER[city_tier - 1])
        + np.where(working, np.log(age_curve), 0.0)
        + _INCOME_SIGMA[occupation] * rng.standard_normal(n)
    )
    income_true = np.maximum(np.round(np.exp(log_income), -1), 300.0)
    rel_income = np.log(income_true / 6000.0)

    risk = (
        rng.standard_normal(n)
        + 0.9 * fraud_ring
        + 0.25 * (occupation == 6)
        + 0.15 * is_blue
        - 0.2 * np.clip(rel_income, -2.0, 2.0)
    )
    urgent = urgent | _bernoulli(rng, np.where(risk > 1.0, 0.05, 0.0), n)

    # --- credit bureau --------------------------------------------------------------------------------
    p_invisible = (
        np.select([age <= 22, age <= 25, age <= 30, age <= 50], [0.60, 0.40, 0.20, 0.07], default=0.12)
        + 0.20 * is_student
        - 0.04 * is_business
        + 0.20 * fraud_ring
    )
    has_history = ~_bernoulli(rng, np.clip(p_invisible, 0.01, 0.95), n)

    overdue = np.where(has_history, rng.poisson(np.exp(-2.4 + 0.95 * risk)), 0).astype(np.int64)
    overdue_log_days = np.log(12.0) + 0.6 * (overdue - 1) + 0.5 * risk + 1.1 * rng.standard_normal(n)
    max_overdue_days = np.where(overdue > 0, np.clip(np.ceil(np.exp(overdue_log_days)), 1, 720), 0).astype(np.int64)

    existing_loans = np.where(
        has_history, rng.poisson(np.exp(0.15 + 0.3 * risk + 0.3 * is_business + 0.2 * fraud_ring)), 0
    ).astype(np.int64)
    debt_share = np.exp(np.log(0.10) + 0.5 * rng.standard_normal(n) + 0.1 * risk)
    monthly_debt = np.round(income_true * existing_loans * debt_share, -1)

    score = (
        640.0
        + 35.0 * np.clip(rel_income, -2.5, 2.5)
        + 1.2 * (np.minimum(age, 55) - 30)
        - 55.0 * risk
        - 25.0 * overdue
        - 0.3 * np.minimum(max_overdue_days, 180)
        - 8.0 * np.maximum(existing_loans - 2, 0)
        + 30.0 * rng.standard_normal(n)
    )
    credit_score = np.round(np.clip(score, 300.0, 900.0))
    score_missing = ~has_history | _bernoulli(rng, 0.005, n)  # + bureau lookup failures

    # --- behaviour ------------------------------------------------------------------------------------
    spend_base = np.where(is_student, 1800.0, income_true)
    avg_monthly_spend = np.round(
        spend_base * np.exp(np.log(0.45) + 0.35 * spend_trait + 0.2 * rng.standard_normal(n)), 0
    )
    spend_growth = np.exp(0.2 * rng.standard_normal(n) + urgent * (0.45 + 0.35 * rng.standard_normal(n))) - 1.0
    spend_growth_3m = np.round(np.clip(spend_growth, -0.9, 5.0), 3)
    loan_inquiries = rng.poisson(0.25 + 0.3 * np.maximum(risk, 0.0) + 4.0 * urgent + 6.0 * fraud_ring).astype(np.int64)
    visits_mean = 1.5 * np.exp(0.3 * spend_trait) + 5.0 * urgent + 3.0 * fraud_ring
    # Negative binomial (over-dispersed counts) as a gamma-Poisson mixture with shape 0.8.
    app_visits = rng.poisson(visits_mean * rng.gamma(0.8, 1.0 / 0.8, size=n)).astype(np.int64)
    has_license = _bernoulli(rng, np.where(is_business, 0.75, np.where(occupation == 4, 0.12, 0.01)), n)

    years_saving = np.clip((age - 20) / 4.0, 0.3, 8.0)
    assets = income_true * 12.0 * years_saving * np.exp(0.9 * rng.standard_normal(n))
    assets = assets * np.where(is_business, 3.0, 1.0)
    wealthy = _bernoulli(rng, 0.02 + 0.04 * is_business, n)
    assets = np.where(wealthy, assets * 3.0 * (1.0 + rng.pareto(1.5, size=n)), assets)
    assets_estimate = np.round(np.minimum(assets, 5e9), -2)

    # --- fraud signals --------------------------------------------------------------------------------
    severe = max_overdue_days >= 90
    on_blacklist = _bernoulli(rng, 0.002 + 0.20 * fraud_ring + 0.05 * severe, n)
    id_name_match = ~_bernoulli(rng, 0.006 + 0.35 * fraud_ring, n)
    phone_id_match = ~_bernoulli(rng, 0.012 + 0.50 * fraud_ring, n)
    ring_device = fraud_ring & _bernoulli(rng, 0.35, n)
    identities_on_device = (1 + np.where(ring_device, 2 + rng.poisson(2.0, size=n), rng.poisson(0.07, size=n))).astype(
        np.int64
    )

    # --- contact history ------------------------------------------------------------------------------
    channel = _categorical(rng, np.stack([_CHANNEL_P, _CHANNEL_P_FRAUD]), fraud_ring.astype(np.int64))
    consent = _bernoulli(rng, _CONSENT_BY_CHANNEL[channel], n)
    dnd = _bernoulli(rng, 0.036 + 0.03 * (age >= 50), n)
    never_contacted = _bernoulli(rng, _NEVER_CONTACTED_BY_CHANNEL[channel], n)
    days_since = np.minimum(np.floor(rng.exponential(40.0, size=n)), 365).astype(np.int64)
    complaints = np.where(never_contacted, 0, rng.poisson(0.025 + 0.30 * dnd + 0.02 * (days_since < 7))).astype(
        np.int64
    )

    # --- assemble -------------------------------------------------------------------------------------
    id_body, id_check = _id_number_parts(rng, age, city_tier)
    phone = rng.choice(_PHONE_PREFIXES, size=n) * 10**8 + rng.integers(0, 10**8, size=n, dtype=np.int64)
    raw = pl.DataFrame(
        [
            pl.Series("user_id", np.arange(id_offset, id_offset + n, dtype=np.int64)),
            pl.Series("id_body", id_body),
            pl.Series("id_check", id_check),
            pl.Series("phone", phone),
            pl.Series("age", age, dtype=pl.Int64),
            pl.Series("city_tier", city_tier, dtype=pl.Int64),
            pl.Series(OCCUPATIONS, dtype=pl.String).gather(occupation).alias("occupation"),
            _with_nulls("monthly_income", income_true, _bernoulli(rng, 0.08, n), pl.Float64()),
            _with_nulls("credit_score", credit_score, score_missing, pl.Float64()),
            pl.Series("has_credit_history", has_history, dtype=pl.Boolean),
            pl.Series("overdue_12m", overdue, dtype=pl.Int64),
            pl.Series("max_overdue_days", max_overdue_days, dtype=pl.Int64),
            pl.Series("existing_loans", existing_loans, dtype=pl.Int64),
            _with_nulls("monthly_debt", monthly_debt, _bernoulli(rng, 0.05, n), pl.Float64()),
            pl.Series("avg_monthly_spend", avg_monthly_spend, dtype=pl.Float64),
            _with_nulls("spend_growth_3m", spend_growth_3m, _bernoulli(rng, 0.05, n), pl.Float64()),
            pl.Series("loan_inquiries_30d", loan_inquiries, dtype=pl.Int64),
            pl.Series("app_visits_7d", app_visits, dtype=pl.Int64),
            pl.Series("has_business_license", has_license, dtype=pl.Boolean),
            _with_nulls("assets_estimate", assets_estimate, _bernoulli(rng, 0.10, n), pl.Float64()),
            pl.Series("on_blacklist", on_blacklist, dtype=pl.Boolean),
            pl.Series("id_name_match", id_name_match, dtype=pl.Boolean),
            pl.Series("phone_id_match", phone_id_match, dtype=pl.Boolean),
            pl.Series("identities_on_device", identities_on_device, dtype=pl.Int64),
            pl.Series("marketing_consent", consent, dtype=pl.Boolean),
            pl.Series("dnd_listed", dnd, dtype=pl.Boolean),
            _with_nulls("days_since_last_contact", days_since, never_contacted, pl.Int64()),
            pl.Series("complaints_12m", complaints, dtype=pl.Int64),
            pl.Series(CHANNEL_SOURCES, dtype=pl.String).gather(channel).alias("channel_source"),
        ]
    )
    # The 17-digit body and the check digit fit in one int64 (< 7e17); 'X' replaces the check digit 10.
    id_digits = (pl.col("id_body") * 10 + pl.col("id_check").clip(upper_bound=9)).cast(pl.String)
    return raw.select(
        pl.format("U{}", (pl.col("user_id") + 10**9).cast(pl.String).str.slice(1)).alias("user_id"),
        pl.when(pl.col("id_check") == 10)
        .then(pl.format("{}X", id_digits.str.head(17)))
        .otherwise(id_digits)
        .alias("id_number"),
        pl.col("phone").cast(pl.String),
        pl.exclude("user_id", "id_body", "id_check", "phone"),
    )


def cohort_chunks(n: int, seed: int, *, chunk_size: int = 1_000_000) -> Iterator[pl.DataFrame]:
    """Yield a cohort of ``n`` users as chunks of at most ``chunk_size`` rows, for cohorts larger than memory.

    Each chunk has its own generator, spawned from ``seed`` with ``numpy.random.SeedSequence``, and its own
    ``id_offset``, so the user ids run from U000000000 without gaps or repeats. The same ``(n, seed,
    chunk_size)`` always gives the same rows; a different ``chunk_size`` gives a different (equally valid) draw.
    """
    if chunk_size <= 0:
        raise ValueError(f"chunk_size must be > 0, got {chunk_size}")
    if n < 0:
        raise ValueError(f"n must be >= 0, got {n}")
    chunks = -(-n // chunk_size)
    for index, child in enumerate(np.random.SeedSequence(seed).spawn(chunks)):
        offset = index * chunk_size
        yield generate_cohort(min(chunk_size, n - offset), np.random.default_rng(child), id_offset=offset)

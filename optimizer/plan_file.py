"""pydantic models of a plan file: what a planner writes to allocate budget and capacity (docs/plan-file.md).

Every number may instead be an expression of the rule language over cohort columns and the rules' decisions
(tier, values such as credit_limit, has_tag(...)): the expressions are type-checked and compiled by the rules
engine, so nothing is evaluated in two dialects.
"""

from __future__ import annotations

import enum
import math
import re
from dataclasses import dataclass
from typing import Annotated, Any

from pydantic import BaseModel, BeforeValidator, ConfigDict, Field, model_validator

from engine.rule_file import FieldSpec, Identifier, Text

# A number, or an expression in a string ("0.08", "2.5 * expected_call_minutes").
Term = float | str


@dataclass(frozen=True, slots=True)
class Range:
    """Where a plan number makes sense. A number outside it would not just be wrong: the optimizer would exploit
    it (a response rate of 2.5, a negative cost or resource use, a negative PD all make contacts look better).
    Numbers written in the file are checked when it loads; expressions are checked per user when the problem is
    built (optimizer/build_problem.py), both with this one definition."""

    what: str  # "a probability", as in "… must be …"
    low: float | None = None  # inclusive
    high: float | None = None  # inclusive

    @property
    def bounds(self) -> str:
        if self.low is not None and self.high is not None:
            return f"from {self.low:g} to {self.high:g}"
        if self.low is not None:
            return f"{self.low:g} or more"
        return ""

    def problem(self, value: float) -> str | None:
        """Why `value` does not fit, or None."""
        if not math.isfinite(value):
            return f"expected a finite number{f' ({self.bounds})' if self.bounds else ''}, got {value}"
        if (self.low is not None and value < self.low) or (self.high is not None and value > self.high):
            return f"{self.what} must be {self.bounds}, got {value:g}"
        return None

    def number(self, value: Any) -> Any:
        """A pydantic before-validator: a number in the file must fit; true/false is not a number."""
        if isinstance(value, bool):
            raise ValueError(f"expected {self.what}{f' ({self.bounds})' if self.bounds else ''}, got "
                             f"{str(value).lower()} (YAML reads true, false, yes and no as true/false)")
        if isinstance(value, int | float):
            why = self.problem(float(value))
            if why is not None:
                raise ValueError(why)
        return value


RATE = Range("a probability", 0.0, 1.0)
AMOUNT = Range("an amount", 0.0)  # yuan, periods, minutes: never negative
MULTIPLIER = Range("a multiplier", 0.0)
NUMBER = Range("a number")
SHARE = Range("a share", 0.0, 1.0)

# A term of the value formula: a number in its range, or an expression checked per user.
RateTerm = Annotated[Term, BeforeValidator(RATE.number)]
AmountTerm = Annotated[Term, BeforeValidator(AMOUNT.number)]
MultiplierTerm = Annotated[Term, BeforeValidator(MULTIPLIER.number)]
NumberTerm = Annotated[Term, BeforeValidator(NUMBER.number)]
Limit = Annotated[float, BeforeValidator(NUMBER.number)]
Share = Annotated[float, BeforeValidator(SHARE.number)]
Capacity = Annotated[float, BeforeValidator(AMOUNT.number)]

# Each term's range, by its name in the file; `use:<resource>` is a resource used per contact.
VALUE_RANGES = {"approval": RATE, "amount": AMOUNT, "margin": NUMBER, "term": AMOUNT, "pd": RATE, "lgd": RATE}
ACTION_RANGES = {"response": RATE, "cost": AMOUNT, "incentive": AMOUNT, "use": AMOUNT}


class Objective(enum.Enum):
    PROFIT = "profit"  # expected profit, the product's value formula (default)
    LOANS = "loans"  # expected number of loans
    ROI = "roi"  # profit / spend, solved exactly as a ratio (Dinkelbach)


class Measure(enum.Enum):
    CONTACTS = "contacts"
    RESPONSES = "responses"
    LOANS = "loans"
    AMOUNT = "amount"  # expected amount lent
    SPEND = "spend"  # cost per contact + expected incentive
    LOSS = "loss"  # expected credit loss: loans × amount × PD × LGD
    PROFIT = "profit"


class _Model(BaseModel):
    model_config = ConfigDict(extra="forbid", frozen=True)


class ValueTerms(_Model):
    """Per user, the terms of  response × approval × amount × (margin × term − PD × LGD) − cost − incentive."""

    approval: RateTerm = 1.0  # P(approve | user)
    amount: AmountTerm  # expected amount drawn, yuan
    margin: NumberTerm  # interest margin per month (or per period of `term`); a promotion may price below cost
    term: AmountTerm = 12.0  # periods
    pd: RateTerm  # probability of default over the loan's life
    lgd: RateTerm = 0.6  # loss given default


class ActionPlan(_Model):
    response: RateTerm  # P(respond and apply | user, action): a number, a model's column, or an expression
    cost: AmountTerm = 0.0  # cost per contact, yuan (a marketplace's price per acquisition: write response × price)
    incentive: AmountTerm = 0.0  # paid per loan drawn (coupon, rate discount), yuan
    uses: dict[Identifier, AmountTerm] = Field(default_factory=dict)  # resource use per contact: {agent_minutes: 6}
    # The shifts this action may be scheduled in; default: every shift, when it uses a resource that has a
    # capacity per shift. Naming shifts also splits an action that uses no such resource.
    shifts: Annotated[list[Identifier], Field(min_length=1)] | None = None
    label: str | None = None


_HOURS = re.compile(r"^\s*(\d{1,2}):(\d{2})\s*[-–]\s*(\d{1,2}):(\d{2})\s*$")


def _hours(value: Any) -> str:
    """"09:00-12:00" (or with an en dash) → "09:00-12:00"; the end is after the start, within one day."""
    if not isinstance(value, str):  # YAML 1.1 reads a lone 18:00 as the number 1080 (base 60)
        raise ValueError("write hours as a range HH:MM-HH:MM, e.g. 18:00-21:00")
    match = _HOURS.match(value)
    if match is None:
        raise ValueError(f"'{value}' is not a time range: write hours as HH:MM-HH:MM, e.g. 09:00-12:00")
    start_h, start_m, end_h, end_m = (int(g) for g in match.groups())
    if start_m > 59 or end_m > 59 or start_h > 23 or end_h * 60 + end_m > 24 * 60:
        raise ValueError(f"'{value}' is not a time of day: hours run from 00:00 to 24:00")
    if end_h * 60 + end_m <= start_h * 60 + start_m:
        raise ValueError(f"'{value}' ends before it starts: a shift lies within one day")
    return f"{start_h:02d}:{start_m:02d}-{end_h:02d}:{end_m:02d}"


# A time range within one day, "09:00-12:00"; the end is exclusive, so 13:00-18:00 and 18:00-21:00 do not overlap.
Hours = Annotated[str, BeforeValidator(_hours)]


def minutes_of_day(hours: str) -> tuple[int, int]:
    """The start and end of a checked `Hours` value, in minutes after midnight."""
    start, end = hours.split("-")
    return int(start[:2]) * 60 + int(start[3:]), int(end[:2]) * 60 + int(end[3:])


class ShiftPlan(_Model):
    """A call-centre shift: when it runs, what it is staffed with, and how reachable users are in it."""

    hours: Hours
    capacity: dict[Identifier, Capacity] = Field(default_factory=dict)  # resource → limit in the shift
    reach: MultiplierTerm = 1.0  # multiplies an action's response in this shift (users who work answer in the evening)
    label: str | None = None


class ConstraintPlan(_Model):
    name: Identifier
    measure: Annotated[str, Field(min_length=1)]  # a Measure, or the name of a resource in actions' `uses`
    channels: list[Identifier] | None = None  # only these channels (or action ids) count
    where: str | None = None  # only users for whom this is true count
    max: Limit | None = None
    min: Limit | None = None
    max_share: Share | None = None  # of the same measure over all users/actions
    min_share: Share | None = None
    share_of: str | None = None  # the denominator's filter for shares: defaults to "everyone in `channels`"
    label: str | None = None

    @model_validator(mode="after")
    def _one_bound(self) -> ConstraintPlan:
        bounds = [b for b in (self.max, self.min, self.max_share, self.min_share) if b is not None]
        if len(bounds) != 1:
            raise ValueError("give exactly one of max, min, max_share, min_share")
        return self


class PlanFile(_Model):
    plan: Identifier
    label: str | None = None
    version: Text = "0"
    description: str | None = None
    rules: str  # the ruleset or pipeline (path relative to this file) that gives eligibility, tiers and tags
    objective: Objective = Objective.PROFIT
    fields: dict[Identifier, FieldSpec] = Field(default_factory=dict)  # cohort columns the plan reads
    value: ValueTerms
    shifts: dict[Identifier, ShiftPlan] = Field(default_factory=dict)  # capacity per call-centre shift
    actions: dict[Identifier, ActionPlan]
    constraints: list[ConstraintPlan] = Field(default_factory=list)

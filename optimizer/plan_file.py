"""pydantic models of a plan file: what a planner writes to allocate budget and capacity (docs/plan-file.md).

Every number may instead be an expression of the rule language over cohort columns and the rules' decisions
(tier, values such as credit_limit, has_tag(...)): the expressions are type-checked and compiled by the rules
engine, so nothing is evaluated in two dialects.
"""

from __future__ import annotations

import enum
import re
from typing import Annotated, Any

from pydantic import BaseModel, BeforeValidator, ConfigDict, Field, NonNegativeFloat, model_validator

from engine.rule_file import FieldSpec, Identifier, Text

# A number, or an expression in a string ("0.08", "2.5 * expected_call_minutes").
Term = float | str


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

    approval: Term = 1.0  # P(approve | user)
    amount: Term  # expected amount drawn, yuan
    margin: Term  # interest margin per month (or per period of `term`)
    term: Term = 12.0  # periods
    pd: Term  # probability of default over the loan's life
    lgd: Term = 0.6  # loss given default


class ActionPlan(_Model):
    response: Term  # P(respond and apply | user, action): a number, a model's column, or an expression
    cost: Term = 0.0  # cost per contact, yuan (a marketplace's price per acquisition: write response × price)
    incentive: Term = 0.0  # paid per loan drawn (coupon, rate discount), yuan
    uses: dict[Identifier, Term] = Field(default_factory=dict)  # resource use per contact: {agent_minutes: 6}
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
    capacity: dict[Identifier, NonNegativeFloat] = Field(default_factory=dict)  # resource → limit in the shift
    reach: Term = 1.0  # multiplies an action's response in this shift (users who work answer in the evening)
    label: str | None = None


class ConstraintPlan(_Model):
    name: Identifier
    measure: Annotated[str, Field(min_length=1)]  # a Measure, or the name of a resource in actions' `uses`
    channels: list[Identifier] | None = None  # only these channels (or action ids) count
    where: str | None = None  # only users for whom this is true count
    max: float | None = None
    min: float | None = None
    max_share: float | None = Field(default=None, ge=0, le=1)  # of the same measure over all users/actions
    min_share: float | None = Field(default=None, ge=0, le=1)
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

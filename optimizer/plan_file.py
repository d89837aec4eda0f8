"""pydantic models of a plan file: what a planner writes to allocate budget and capacity (docs/plan-file.md).

Every number may instead be an expression of the rule language over cohort columns and the rules' decisions
(tier, values such as credit_limit, has_tag(...)): the expressions are type-checked and compiled by the rules
engine, so nothing is evaluated in two dialects.
"""

from __future__ import annotations

import enum
from typing import Annotated

from pydantic import BaseModel, ConfigDict, Field, model_validator

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
    actions: dict[Identifier, ActionPlan]
    constraints: list[ConstraintPlan] = Field(default_factory=list)

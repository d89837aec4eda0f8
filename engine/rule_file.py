"""pydantic models of the two kinds of rule file: a ruleset and a pipeline (docs/rule-language.md).

`extra="forbid"` everywhere, so a misspelt key is an error with its line number, not silently ignored.
"""

from __future__ import annotations

import enum
import keyword
from typing import Annotated, Any

from pydantic import AfterValidator, BaseModel, BeforeValidator, ConfigDict, Field, StringConstraints


def _identifier(value: Any) -> Any:
    # Names become Polars columns and expression names: any Python identifier, Chinese included.
    if isinstance(value, str) and not (value.isidentifier() and not keyword.iskeyword(value)):
        raise ValueError(f"'{value}' is not a valid name: use letters, digits and _, not starting with a digit")
    return value


Identifier = Annotated[str, StringConstraints(max_length=64), AfterValidator(_identifier)]


def _to_text(value: Any) -> Any:
    # `version: 1.0` is a float to YAML; a version is text.
    return str(value) if isinstance(value, int | float) and not isinstance(value, bool) else value


Text = Annotated[str, BeforeValidator(_to_text)]


def _no_booleans(value: Any) -> Any:
    # `values: [no, low, high]` reads as [False, 'low', 'high']: say why, not "Input should be a valid string".
    if isinstance(value, list):
        for item in value:
            if isinstance(item, bool):
                raise ValueError(f"a value read as {str(item).lower()}: YAML reads yes, no, on, off, true and false "
                                 f"as true/false; quote it ('{'yes' if item else 'no'}') to mean the word")
    return value


Values = Annotated[list[str | int], BeforeValidator(_no_booleans)]
Categories = Annotated[list[str], BeforeValidator(_no_booleans)]


class FieldType(enum.Enum):
    NUMBER = "number"
    INTEGER = "integer"
    BOOLEAN = "boolean"
    STRING = "string"
    CATEGORY = "category"


class HitPolicy(enum.Enum):
    FIRST = "first"
    COLLECT = "collect"
    PRIORITY = "priority"


class _Model(BaseModel):
    model_config = ConfigDict(extra="forbid", frozen=True, populate_by_name=True)


# A bound of NaN would silently check nothing (every comparison with NaN is false); one of ±inf checks nothing.
Bound = Annotated[float, Field(allow_inf_nan=False)]


class FieldSpec(_Model):
    type: FieldType
    values: Values | None = Field(default=None, alias="in")
    min: Bound | None = None
    max: Bound | None = None
    nullable: bool = True
    required: bool = True
    pii: bool = False
    label: str | None = None
    description: str | None = None


class OutputSpec(_Model):
    type: FieldType
    values: Categories | None = None
    label: str | None = None
    description: str | None = None


class Rule(_Model):
    id: Identifier
    label: str | None = None
    description: str | None = None
    when: str | bool
    then: dict[str, Any] = Field(default_factory=dict)
    priority: int | None = None


class RuleTest(_Model):
    name: str | None = None
    given: dict[str, Any] = Field(default_factory=dict)
    expect: dict[str, Any]


class RuleFile(_Model):
    ruleset: Identifier
    label: str | None = None
    version: Text = "0"
    description: str | None = None
    hit_policy: HitPolicy
    fields: dict[Identifier, FieldSpec] = Field(default_factory=dict)
    derived: dict[Identifier, str | int | float | bool] = Field(default_factory=dict)
    outputs: dict[Identifier, OutputSpec] = Field(default_factory=dict)
    rules: list[Rule]
    default: dict[str, Any] | None = None
    tests: list[RuleTest] = Field(default_factory=list)


class ActionSpec(_Model):
    id: Identifier
    channel: Identifier
    incentive: Identifier | None = None
    label: str | None = None


class PipelineFile(_Model):
    pipeline: Identifier
    label: str | None = None
    version: Text = "0"
    description: str | None = None
    id_field: Identifier = "user_id"
    rulesets: list[str] = Field(min_length=1)
    actions: list[ActionSpec] = Field(default_factory=list)
    tests: list[RuleTest] = Field(default_factory=list)


RESERVED_THEN_KEYS = frozenset({"tags", "allow", "block"})
RESERVED_NAMES = frozenset({"tags", "allow", "block", "rule", "eligible", "default"})

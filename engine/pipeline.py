"""Load a ruleset or a pipeline file into one CompiledRuleset: stages in order, the cohort schema they read,
the actions they decide about. Every problem in every file is collected before anything is raised."""

from __future__ import annotations

from dataclasses import dataclass, field, replace
from functools import cached_property
from pathlib import Path
from typing import TYPE_CHECKING

from pydantic import ValidationError

from engine.compiled import FieldInfo, RulesetStage, TestCase
from engine.compiler import Reporter, compile_ruleset
from engine.diagnostics import Diagnostic, RuleFileError, Severity, did_you_mean, display_path
from engine.expression_ast import Type
from engine.rule_file import ActionSpec, PipelineFile
from engine.yaml_positions import PositionedDocument, YamlSyntaxError, load_positioned

if TYPE_CHECKING:
    from engine.cohort import Cohort
    from engine.decisions import Decisions


@dataclass(frozen=True)
class CompiledRuleset:
    """Everything needed to turn a cohort into decisions. Immutable; build it with load_ruleset()."""

    name: str
    version: str
    path: str
    stages: tuple[RulesetStage, ...]
    schema: dict[str, FieldInfo]  # the cohort columns the rules read (not the ones bound to earlier outputs)
    actions: tuple[ActionSpec, ...]
    id_field: str = "user_id"
    tests: tuple[TestCase, ...] = ()
    warnings: tuple[Diagnostic, ...] = ()
    sources: dict[str, str] = field(default_factory=dict)

    @cached_property
    def tags(self) -> tuple[str, ...]:
        seen: dict[str, None] = {}
        for stage in self.stages:
            for tag in stage.tags:
                seen.setdefault(tag, None)
        return tuple(seen)

    @cached_property
    def outputs(self) -> dict[str, Type]:
        out: dict[str, Type] = {}
        for stage in self.stages:
            out.update(stage.outputs)
        return out

    @cached_property
    def action_ids(self) -> tuple[str, ...]:
        return tuple(a.id for a in self.actions)

    @cached_property
    def uses_allow(self) -> bool:
        return any(r.outcome.allow for s in self.stages for r in s.rules) or any(
            s.default is not None and s.default.allow for s in self.stages)

    def expand_actions(self, names: tuple[str, ...]) -> tuple[str, ...]:
        """Action ids named directly, or through their channel or incentive."""
        out: dict[str, None] = {}
        for name in names:
            for action in self.actions:
                if name in (action.id, action.channel, action.incentive):
                    out.setdefault(action.id, None)
        return tuple(out)

    @cached_property
    def pii_fields(self) -> frozenset[str]:
        return frozenset(n for n, f in self.schema.items() if f.pii)

    def apply(self, cohort: Cohort) -> Decisions:
        """Decisions for every user of the cohort, through one lazy Polars plan."""
        from engine.evaluate_batch import apply_batch

        return apply_batch(self, cohort)


def _read(path: Path, shown: str) -> PositionedDocument:
    try:
        text = path.read_text(encoding="utf-8")
    except FileNotFoundError:
        raise RuleFileError((Diagnostic("file-not-found", f"no such file: {shown}", shown),)) from None
    except UnicodeDecodeError as err:
        raise RuleFileError((Diagnostic("bad-encoding", f"not UTF-8 text: {err.reason}", shown),)) from None
    try:
        return load_positioned(text, shown)
    except YamlSyntaxError as err:
        raise RuleFileError((err.diagnostic,), {shown: text}) from None


def load_ruleset(path: str | Path) -> CompiledRuleset:
    """Load a ruleset file or a pipeline file. Raises RuleFileError with every problem found."""
    path = Path(path)
    shown = display_path(path)
    doc = _read(path, shown)
    if isinstance(doc.data, dict) and "pipeline" in doc.data:
        return _load_pipeline(path, doc)
    if not isinstance(doc.data, dict) or "ruleset" not in doc.data:
        raise RuleFileError(
            (Diagnostic("not-a-rule-file", "expected a rule file starting with 'ruleset:' or 'pipeline:'",
                        shown, 1, 1),),
            {shown: doc.source})
    stage, diagnostics = compile_ruleset(doc)
    _raise_errors(diagnostics, {shown: doc.source})
    assert stage is not None
    names = stage.action_names()
    actions = tuple(ActionSpec(id=n, channel=n) for n in names)
    return CompiledRuleset(stage.name, stage.version, shown, (stage,), dict(stage.fields), actions,
                           warnings=tuple(diagnostics), sources={shown: doc.source})


def _raise_errors(diagnostics: list[Diagnostic], sources: dict[str, str]) -> None:
    if any(d.severity is Severity.ERROR for d in diagnostics):
        raise RuleFileError(tuple(diagnostics), sources)


def _load_pipeline(path: Path, doc: PositionedDocument) -> CompiledRuleset:
    report = Reporter(doc)
    sources = {doc.path: doc.source}
    try:
        model = PipelineFile.model_validate(doc.data)
    except ValidationError as err:
        report.pydantic(err, PipelineFile)
        raise RuleFileError(tuple(report.diagnostics), sources) from None

    diagnostics: list[Diagnostic] = []
    stages: list[RulesetStage] = []
    known_tags: set[str] = set()
    produced: dict[str, tuple[Type, str]] = {}  # output or derived name → type, and which ruleset made it
    schema: dict[str, FieldInfo] = {}
    for index, relative in enumerate(model.rulesets):
        child = path.parent / relative
        if not child.exists():
            report.at(("rulesets", index), "file-not-found", f"no such ruleset file: {relative}")
            continue
        try:
            child_doc = _read(child, display_path(child))
        except RuleFileError as err:
            diagnostics.extend(err.diagnostics)
            sources.update(err.sources)
            continue
        sources[child_doc.path] = child_doc.source
        stage, found = compile_ruleset(child_doc, frozenset(known_tags))
        diagnostics.extend(found)
        if stage is None:
            continue
        child_report = Reporter(child_doc)
        _bind(stage, produced, schema, child_report)
        for name, typ in [*stage.outputs.items(), *((n, e.t) for n, e in stage.derived)]:
            if name in produced:
                child_report.at(("outputs" if name in stage.outputs else "derived", name), "name-clash",
                                f"'{name}' is already produced by ruleset '{produced[name][1]}'", key=True)
            produced[name] = (typ, stage.name)
        diagnostics.extend(child_report.diagnostics)
        known_tags.update(stage.tags)
        stages.append(stage)

    action_names = {a.id for a in model.actions} | {a.channel for a in model.actions} | {
        a.incentive for a in model.actions if a.incentive}
    ids = [a.id for a in model.actions]
    for i, action_id in enumerate(ids):
        if action_id in ids[:i]:
            report.at(("actions", i, "id"), "duplicate-action", f"action '{action_id}' is listed twice")
    for stage in stages:
        for rule in stage.rules:
            for name in (*rule.outcome.allow, *rule.outcome.block):
                if name not in action_names:
                    guess = did_you_mean(name, action_names)
                    diagnostics.append(Diagnostic(
                        "unknown-action",
                        f"rule '{rule.id}' names '{name}', which is not an action or channel of pipeline "
                        f"'{model.pipeline}'" + (f" (did you mean '{guess}'?)" if guess else ""),
                        stage.path, rule.line, 1))
    if model.id_field in schema and schema[model.id_field].type.kind.value not in ("string", "integer"):
        report.at(("id_field",), "invalid-value", f"id field '{model.id_field}' must be a string or integer field")
    diagnostics.extend(report.diagnostics)
    _raise_errors(diagnostics, sources)
    tests = tuple(
        TestCase(t.given, t.expect, t.name, doc.path, doc.span(("tests", i)).line) for i, t in enumerate(model.tests)
    )
    # Declaring the id field (to mark it pii) is not "unused": the pipeline reads it.
    warnings = tuple(d for d in diagnostics if d.severity is Severity.WARNING
                     and not (d.code == "unused-field" and d.subject == model.id_field))
    return CompiledRuleset(model.pipeline, model.version, doc.path, tuple(stages), schema, tuple(model.actions),
                           model.id_field, tests, warnings, sources)


def _bind(stage: RulesetStage, produced: dict[str, tuple[Type, str]], schema: dict[str, FieldInfo],
          report: Reporter) -> None:
    """Fields named like an earlier output are bound to it; the others join the cohort schema."""
    for name, info in stage.fields.items():
        if name in produced:
            typ, owner = produced[name]
            if typ != info.type:
                report.at(("fields", name), "binding-mismatch",
                          f"'{name}' comes from ruleset '{owner}' as {typ.describe()}, but is declared here as "
                          f"{info.type.describe()}", key=True)
            continue
        earlier = schema.get(name)
        if earlier is None:
            schema[name] = info
            continue
        if earlier.type != info.type:
            report.at(("fields", name), "conflicting-field",
                      f"field '{name}' is {info.type.describe()} here but {earlier.type.describe()} in "
                      f"{earlier.declared_in}", key=True)
            continue
        # The cohort must satisfy every ruleset's declaration: keep the tightest of both.
        schema[name] = replace(
            earlier,
            minimum=_pick(max, earlier.minimum, info.minimum),
            maximum=_pick(min, earlier.maximum, info.maximum),
            nullable=earlier.nullable and info.nullable,
            required=earlier.required or info.required,
            pii=earlier.pii or info.pii,
        )


def _pick(fn: object, a: float | None, b: float | None) -> float | None:
    if a is None:
        return b
    if b is None:
        return a
    return max(a, b) if fn is max else min(a, b)

"""Rule files → decisions. The public surface of the rules engine."""

from engine.apply_files import ApplyResult, apply_file
from engine.cohort import Cohort, CohortError, CohortProblem
from engine.decisions import Decisions, DecisionSummary
from engine.diagnostics import Diagnostic, RuleFileError, Severity
from engine.evaluate_batch import apply_arrow, decision_plan
from engine.evaluate_reference import RecordDecision, evaluate_record
from engine.explain import Explanation, explain_user
from engine.pipeline import CompiledRuleset, load_ruleset
from engine.rule_tests import TestResult, run_tests

__all__ = [
    "ApplyResult",
    "Cohort",
    "CohortError",
    "CohortProblem",
    "CompiledRuleset",
    "DecisionSummary",
    "Decisions",
    "Diagnostic",
    "Explanation",
    "RecordDecision",
    "RuleFileError",
    "Severity",
    "TestResult",
    "apply_arrow",
    "apply_file",
    "decision_plan",
    "evaluate_record",
    "explain_user",
    "load_ruleset",
    "run_tests",
]

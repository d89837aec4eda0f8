"""StreamingHost: the only module that imports durable_rules (2.0.28), and everything we know about it.

durable_rules is a Rete engine written in C. We use it to *match* one record (a fact) against a ruleset of
JSON conditions and to learn which rules fired; what a fired rule does is ours to apply. The facts below
were read from its source (jruizgit/rules: libpy/durable/engine.py, src/rules/) and measured here:

- `durable.lang` keeps module-level globals; we use `durable.engine.Host` with JSON definitions only.
- `Host()` starts two self-re-arming daemon timer threads and has no `close()`: make one per process.
  Re-registering a name raises, so a definition is registered as `name@digest` (digest of its JSON): the
  same definition registered twice is the same ruleset, a changed one gets a new name.
- `Ruleset.__init__` deletes the `run` key of every rule of the dict it is given: we pass a deep copy.
- `post`/`assert_fact` raise `MessageNotHandledException` when no rule matched: for us, "nothing fired".
- An action with two parameters is taken as asynchronous `(c, complete)`; if `complete` is never called the
  session stops firing, silently. Our actions take one parameter and are built by a factory (no loop
  closures with default arguments).
- An event is consumed by the first rule that matches it, so we assert a *fact* (every matching rule
  fires) and retract it at once. A rule whose condition is an `$or` fires once per matching branch: we
  collect rule names into a set. There is no salience we rely on: hit policies are applied by the caller.
- Missing values are sent as explicit `null`. A comparison of `null` with a literal never matches (not even
  `$neq`), but `null == null` does match between two attributes and `x != null` matches: callers that compare
  two attributes must add presence guards (`{"$neq": {"a": null}}`); streaming_translate does.
- Its C JSON reader refuses a number written with an exponent and no decimal point (`1e+21`, `2e-07`:
  error 204, ERR_PARSE_OBJECT), which is how Python's `json.dumps` writes 1e21 and 2e-7; `1.0e+21` is read
  correctly. We give durable's module a JSON writer that always puts a `.0` in such numbers (the only
  difference from `json.dumps`), so every finite float can be matched. NaN and infinity have no JSON form:
  asserting them is a ValueError here.
- An empty `{"$and": []}` hangs the process in registration; nesting `$and`/`$or` 16 levels deep is refused
  (error 113, ERR_EXPRESSION_LIMIT_EXCEEDED, MAX_SEQUENCE_EXPRESSIONS = 32); integer `$div` by zero kills the
  process with SIGFPE. streaming_translate never emits any of these (numbers are always sent as floats).
- It calls `datetime.utcfromtimestamp` for every action, which Python 3.12 deprecates: under
  `-W error` (our pytest setting) the DeprecationWarning would abort the firing, so `fire` ignores exactly
  that warning on 3.12+.
- Throughput is about 12-30 k assert+retract per second: for events and small streams. Batch cohorts go
  through the Polars evaluator.
"""

from __future__ import annotations

import contextlib
import copy
import hashlib
import itertools
import json
import math
import sys
import threading
import warnings
from collections.abc import Callable, Iterator, Mapping
from typing import Any

import durable.engine as durable_engine

FactValue = float | int | str | bool | None

_RESERVED_FACT_KEYS = frozenset({"id", "sid"})
_SESSION = "decide"


class DurableRulesetError(Exception):
    """durable_rules refused a ruleset definition (its message names the error code)."""


def _number_text(value: float) -> str:
    if not math.isfinite(value):
        raise ValueError(f"durable_rules cannot read the number {value!r} (no JSON form)")
    text = repr(value)
    mantissa, exponent_mark, exponent = text.partition("e")
    if exponent_mark and "." not in mantissa:
        return f"{mantissa}.0e{exponent}"
    return text


def durable_json(value: Any) -> str:
    """JSON text as json.dumps(value, ensure_ascii=False) writes it, but with numbers durable can read."""
    try:
        text = json.dumps(value, ensure_ascii=False, allow_nan=False)
    except ValueError:  # NaN or infinity: say so in durable's terms
        return _durable_json(value)
    if "e+" not in text and "e-" not in text:  # no exponent anywhere (the usual case): json's own text
        return text
    return _durable_json(value)


def _durable_json(value: Any) -> str:
    if value is None or isinstance(value, bool | str):
        return json.dumps(value, ensure_ascii=False)
    if isinstance(value, float):
        return _number_text(value)
    if isinstance(value, int):
        return str(value)
    if isinstance(value, Mapping):
        return "{" + ",".join(
            f"{json.dumps(str(key), ensure_ascii=False)}:{_durable_json(item)}" for key, item in value.items()
        ) + "}"
    if isinstance(value, list | tuple):
        return "[" + ",".join(_durable_json(item) for item in value) + "]"
    return json.dumps(value, ensure_ascii=False)  # raises TypeError, as json.dumps would


class _DurableJson:
    """Stands in for the `json` module inside durable.engine (see the module docstring)."""

    @staticmethod
    def dumps(value: Any, **_options: Any) -> str:
        return durable_json(value)

    @staticmethod
    def loads(text: str | bytes) -> Any:
        return json.loads(text)


def _install_json_writer() -> None:
    current = getattr(durable_engine, "json", None)
    if current is _DurableJson:
        return
    if current is not json:
        raise RuntimeError("durable.engine no longer writes JSON through the json module; check its version")
    durable_engine.json = _DurableJson


@contextlib.contextmanager
def _quiet_durable() -> Iterator[None]:
    """Ignore the DeprecationWarning durable's actions raise on Python 3.12+ (utcfromtimestamp), nothing else."""
    if sys.version_info < (3, 12):
        yield
        return
    with warnings.catch_warnings():
        warnings.filterwarnings("ignore", message=r"datetime\.datetime\.utcfromtimestamp\(\) is deprecated",
                                category=DeprecationWarning)
        yield


def definition_digest(definition: Mapping[str, Any]) -> str:
    text = json.dumps(definition, sort_keys=True, ensure_ascii=False, default=str)
    return hashlib.sha256(text.encode("utf-8")).hexdigest()[:12]


class StreamingHost:
    """One durable_rules Host per process. Register JSON rulesets, then ask which rules a fact fires.

    A definition maps rule names to durable antecedents, e.g.
    `{"prime": {"all": [{"m": {"$gte": {"credit_score": 700.0}}}]}}`; the host adds the actions itself.
    Calls are serialized by a lock (durable's sessions are not meant to be shared between threads).
    """

    def __init__(self) -> None:
        _install_json_writer()
        self._host = durable_engine.Host()
        self._lock = threading.Lock()
        self._ids = itertools.count(1)
        self._fired: set[str] = set()
        self._session = _SESSION
        self._registered: dict[str, tuple[str, ...]] = {}

    @property
    def registered(self) -> tuple[str, ...]:
        return tuple(self._registered)

    def rule_names(self, registered_name: str) -> tuple[str, ...]:
        return self._registered[registered_name]

    def register(self, name: str, definition: Mapping[str, Mapping[str, Any]]) -> str:
        """Register a ruleset under `name@digest` and return that name (the same one if already there)."""
        if not definition:
            raise ValueError(f"ruleset '{name}' has no rules; durable_rules needs at least one")
        for rule_name, rule in definition.items():
            if "run" in rule:
                raise ValueError(f"rule '{rule_name}' of '{name}' has a 'run' key; the host adds the actions")
        registered = f"{name}@{definition_digest(definition)}"
        with self._lock:
            if registered in self._registered:
                return registered
            runnable: dict[str, dict[str, Any]] = {}
            for rule_name, rule in copy.deepcopy(dict(definition)).items():
                runnable[rule_name] = {**rule, "run": self._action(rule_name)}
            try:
                self._host.register_rulesets({registered: runnable})
            except Exception as err:  # durable raises bare Exception('Could not create ruleset, error code: …')
                raise DurableRulesetError(f"durable_rules refused ruleset '{registered}': {err}") from err
            self._registered[registered] = tuple(definition)
        return registered

    def _action(self, rule_name: str) -> Callable[[Any], None]:
        # One parameter: durable takes a two-parameter action as asynchronous (see the module docstring).
        def record_firing(closure: Any) -> None:
            self._fired.add(rule_name)

        return record_firing

    def fire(self, registered_name: str, fact: Mapping[str, FactValue]) -> frozenset[str]:
        """Assert `fact`, collect the names of the rules it fires, retract it. Missing values are None."""
        clash = _RESERVED_FACT_KEYS.intersection(fact)
        if clash:
            raise ValueError(f"fact attributes {sorted(clash)} are reserved by durable_rules")
        with self._lock:
            if registered_name not in self._registered:
                raise KeyError(f"no ruleset registered as '{registered_name}'")
            message: dict[str, FactValue] = {**fact, "id": next(self._ids), "sid": self._session}
            self._fired = set()
            try:
                with _quiet_durable():
                    with contextlib.suppress(durable_engine.MessageNotHandledException):  # nothing matched: normal
                        self._host.assert_fact(registered_name, message)
                    with contextlib.suppress(durable_engine.MessageNotHandledException):
                        self._host.retract_fact(registered_name, message)
            except Exception:
                # An error inside durable can leave an action of this session leased (it then stops firing for
                # its lease time, silently): later facts go to a new session.
                self._session = f"{_SESSION}-{next(self._ids)}"
                raise
            fired, self._fired = self._fired, set()
        return frozenset(fired)

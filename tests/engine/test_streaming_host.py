"""StreamingHost: what we rely on from durable_rules 2.0.28, asserted (its own tests print instead)."""

from __future__ import annotations

import threading
from typing import Any

import pytest

import engine.streaming_host as streaming_host_module
from engine.streaming_host import DurableRulesetError, StreamingHost, durable_json


def _rule(condition: dict[str, Any]) -> dict[str, Any]:
    return {"all": [{"m": condition}]}


def test_register_names_by_digest_and_copies(streaming_host: StreamingHost) -> None:
    definition = {"high": _rule({"$gt": {"a": 5.0}})}
    name = streaming_host.register("host_digest", definition)
    assert name.startswith("host_digest@") and len(name) == len("host_digest@") + 12
    assert streaming_host.register("host_digest", {"high": _rule({"$gt": {"a": 5.0}})}) == name
    assert definition == {"high": _rule({"$gt": {"a": 5.0}})}, "durable deletes 'run' from what it is given"
    changed = streaming_host.register("host_digest", {"high": _rule({"$gt": {"a": 6.0}})})
    assert changed != name
    assert streaming_host.rule_names(changed) == ("high",)


def test_register_refuses_what_it_cannot_run(streaming_host: StreamingHost) -> None:
    with pytest.raises(ValueError, match="no rules"):
        streaming_host.register("host_empty", {})
    with pytest.raises(ValueError, match="'run' key"):
        streaming_host.register("host_run", {"r": {**_rule({"a": 1.0}), "run": "act"}})
    sixteen_gates: dict[str, Any] = {"a": 1.0}
    for level in range(16):
        sixteen_gates = {"$or" if level % 2 else "$and": [sixteen_gates, {"$gt": {f"b{level}": 0.0}}]}
    with pytest.raises(DurableRulesetError, match="error code: 113"):
        streaming_host.register("host_too_many_gates", {"r": _rule(sixteen_gates)})


def test_fire_collects_rules_and_retracts(streaming_host: StreamingHost) -> None:
    name = streaming_host.register("host_fire", {
        "big": _rule({"$gt": {"a": 5.0}}),
        "either": _rule({"$or": [{"$gt": {"a": 0.0}}, {"b": "是"}]}),
    })
    assert streaming_host.fire(name, {"a": -1.0, "b": "否"}) == frozenset()  # MessageNotHandled: nothing fired
    assert streaming_host.fire(name, {"a": 6.0, "b": "是"}) == {"big", "either"}  # $or fires twice: one name
    assert streaming_host.fire(name, {"a": 6.0, "b": "是"}) == {"big", "either"}  # the same fact again: retracted
    with pytest.raises(KeyError):
        streaming_host.fire("host_fire@000000000000", {"a": 1.0})
    with pytest.raises(ValueError, match="reserved"):
        streaming_host.fire(name, {"a": 1.0, "id": 3.0})


def test_missing_values_are_explicit_nulls(streaming_host: StreamingHost) -> None:
    """A null never matches a literal, not even $neq; between two attributes durable does match null == null
    and 1 != null, which is why streaming_translate guards such comparisons."""
    name = streaming_host.register("host_nulls", {
        "ne5": _rule({"$neq": {"a": 5.0}}),
        "lt5": _rule({"$lt": {"a": 5.0}}),
        "is_null": _rule({"a": None}),
        "present": _rule({"$neq": {"a": None}}),
        "same": _rule({"a": {"$m": "b"}}),
        "differ": _rule({"$neq": {"a": {"$m": "b"}}}),
    })
    assert streaming_host.fire(name, {"a": None, "b": None}) == {"is_null", "same"}
    assert streaming_host.fire(name, {"a": 1.0, "b": None}) == {"ne5", "lt5", "present", "differ"}


def test_numbers_durable_could_not_read(streaming_host: StreamingHost) -> None:
    assert durable_json({"a": 1e21, "b": [2e-7, 0.5], "c": "1e+5"}) == '{"a":1.0e+21,"b":[2.0e-07,0.5],"c":"1e+5"}'
    name = streaming_host.register("host_exponents", {
        "huge": _rule({"$gt": {"a": 1e20}}),
        "tiny": _rule({"$lt": {"a": 1e-5}}),
    })
    assert streaming_host.fire(name, {"a": 1e21}) == {"huge"}
    assert streaming_host.fire(name, {"a": 2e-7}) == {"tiny"}
    assert streaming_host.fire(name, {"a": -1e300}) == {"tiny"}
    with pytest.raises(ValueError, match="cannot read the number nan"):
        streaming_host.fire(name, {"a": float("nan")})
    assert streaming_host.fire(name, {"a": 1e21}) == {"huge"}, "a refused fact leaves the host usable"


def test_fire_from_several_threads(streaming_host: StreamingHost) -> None:
    name = streaming_host.register("host_threads", {"even": _rule({"n": 0.0}), "odd": _rule({"n": 1.0})})
    errors: list[str] = []

    def work(offset: int) -> None:
        for i in range(300):
            n = float((i + offset) % 2)
            fired = streaming_host.fire(name, {"n": n})
            if fired != {"even" if n == 0.0 else "odd"}:
                errors.append(f"n={n}: {sorted(fired)}")

    threads = [threading.Thread(target=work, args=(k,)) for k in range(4)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    assert errors == []


def test_an_error_inside_durable_does_not_stop_later_firings(streaming_host: StreamingHost,
                                                             monkeypatch: pytest.MonkeyPatch) -> None:
    """An exception while durable runs an action leaves that action leased and its session silent (measured:
    the same session fires nothing afterwards); the host moves on to a new session."""
    name = streaming_host.register("host_recover", {"one": _rule({"a": 1.0})})

    def broken_clock() -> float:
        raise RuntimeError("clock broken")

    monkeypatch.setattr(streaming_host_module.durable_engine, "_unix_now", broken_clock)
    with pytest.raises(RuntimeError, match="clock broken"):
        streaming_host.fire(name, {"a": 1.0})
    monkeypatch.undo()
    assert streaming_host.fire(name, {"a": 1.0}) == {"one"}
    assert streaming_host.fire(name, {"a": 1.0}) == {"one"}

"""Published benchmark families that fit the allocation problem exactly: readers, known optima, and a CLI.

- Generalised assignment (GAP), OR-Library gap1 … gap12 (Osman 1995; Cattrysse, Salomon & Van Wassenhove
  1994) and Chu & Beasley's gapa … gapd (1997), all in OR-Library's format. Jobs are users, agents are actions,
  one ≤ row per agent (its capacity), and one ≥ row "at least n contacts", which with "at most one action per
  user" forces every job to exactly one agent. OR-Library quotes gap1–12's optima for the maximisation form
  (value = cost as a profit); the minimisation form (value = −cost) is the one the later literature and
  gapa–d use.
- Multiple-choice multi-dimensional knapsack (MMKP): groups are users, the items of a group are its actions,
  one ≤ row per resource, and again "at least n contacts" (one item per group). Two layouts: Khan's original
  (`parse_mmkp`) and the one with an item count per group (`parse_mmkp_counted`, in which Khan's I07 … I13 are
  also distributed).

The files themselves, where they were read from, and the sources of every optimum below are in
benchmarks/data/published/ (README.md there). Solve them and compare with the known optima:

    python -m benchmarks.published_instances benchmarks/data/published/gap1.txt --method exact-highs --form both
"""

from __future__ import annotations

import argparse
import enum
import re
import sys
from collections.abc import Iterator, Sequence
from dataclasses import dataclass
from pathlib import Path

import numpy as np

from optimizer.allocation import Allocation, SolveStatus
from optimizer.problem import AllocationProblem, BoolArray, FloatArray

DATA_DIR = Path(__file__).parent / "data" / "published"


class Form(enum.Enum):
    MAX = "max"  # GAP: value = cost, as OR-Library's gapinfo quotes gap1–12; MMKP is always this
    MIN = "min"  # GAP: value = −cost, the literature's form and the only one quoted for gapa–d


@dataclass(frozen=True, slots=True)
class KnownOptimum:
    instance: str  # as the readers name it: c515-1 (gap1–12), a05100 (gapa–d), the file stem for MMKP
    form: Form
    value: float
    proven: bool  # False for a best known value nobody has proven optimal
    source: str


def _gap_table(form: Form, source: str, rows: Sequence[tuple[str, Sequence[int]]]) -> tuple[KnownOptimum, ...]:
    """OR-Library's notation: c{agents}{jobs}-{k}, the k-th problem set of a file."""
    return tuple(KnownOptimum(f"{size}-{k}", form, float(value), True, source)
                 for size, values in rows for k, value in enumerate(values, start=1))


_GAPINFO = "OR-Library gapinfo"
_FONTANF = "fontanf/generalizedassignmentsolver data/data.csv"
KNOWN_OPTIMA: tuple[KnownOptimum, ...] = (
    # OR-Library's gapinfo (people.brunel.ac.uk/~mastjjb/jeb/orlib/gapinfo.html; the same table in
    # edxu96/MatrixOptim.jl examples/readme.txt), maximisation form; gap1's five are also written after each
    # problem set in williamtoohey/gap gap1.txt (commit 22b7c5a).
    *_gap_table(Form.MAX, _GAPINFO, [
        ("c515", (336, 327, 339, 341, 326)), ("c520", (434, 436, 420, 419, 428)),  # gap1, gap2
        ("c525", (580, 564, 573, 570, 564)), ("c530", (656, 644, 673, 647, 664)),  # gap3, gap4
        ("c824", (563, 558, 564, 568, 559)), ("c832", (761, 759, 758, 752, 747)),  # gap5, gap6
        ("c840", (942, 949, 968, 945, 951)), ("c848", (1133, 1134, 1141, 1117, 1127)),  # gap7, gap8
        ("c1030", (709, 717, 712, 723, 706)), ("c1040", (958, 963, 960, 947, 947)),  # gap9, gap10
        ("c1050", (1139, 1178, 1195, 1171, 1171)), ("c1060", (1451, 1449, 1433, 1447, 1446)),  # gap11, gap12
    ]),
    # Minimisation form: the "Optimum" column of fontanf/generalizedassignmentsolver's data/data.csv.
    *_gap_table(Form.MIN, _FONTANF, [
        ("c515", (261, 269, 256, 274, 251)), ("c520", (277, 269, 260, 269, 267)),
        ("c525", (438, 415, 446, 430, 411)), ("c530", (423, 424, 426, 395, 406)),
        ("c824", (403, 389, 383, 384, 396)), ("c832", (525, 527, 519, 516, 521)),
        ("c840", (646, 662, 662, 645, 649)), ("c848", (797, 783, 800, 789, 792)),
        ("c1030", (482, 476, 496, 497, 488)), ("c1040", (638, 638, 654, 635, 639)),
        ("c1050", (573, 583, 589, 578, 581)), ("c1060", (974, 956, 941, 954, 945)),
    ]),
    # Chu & Beasley type A, minimisation: fontanf's data.csv; a05100's also as the cost of fontanf's
    # data/a05100.sol (a feasible assignment of cost 1698 on our file).
    *(KnownOptimum(name, Form.MIN, float(value), True, _FONTANF) for name, value in (
        ("a05100", 1698), ("a05200", 3235), ("a10100", 1360), ("a10200", 2623), ("a20100", 1158),
        ("a20200", 2339))),
    # Khan's I07 (as lucadibello/mmkp's mmkp_a_07.txt): the best value in marcocaserta/mmkp's
    # results/summaryI07.txt (upper bound there 24608); lucadibello/mmkp's data/solutions.csv says 24585.
    KnownOptimum("mmkp_a_07", Form.MAX, 24592.0, False, "marcocaserta/mmkp results/summaryI07.txt"),
)


def known_optimum(instance: str, form: Form) -> KnownOptimum | None:
    return next((k for k in KNOWN_OPTIMA if k.instance == instance and k.form is form), None)


class InstanceFormatError(ValueError):
    """A file that does not follow its format; the message names the file and the number expected."""


class _Numbers:
    """The whitespace-separated numbers of a file, read in order, with errors that say what was expected."""

    def __init__(self, text: str, source: str) -> None:
        self.tokens = text.split()
        self.position = 0
        self.source = source

    def take(self, count: int, what: str) -> FloatArray:
        end = self.position + count
        if end > len(self.tokens):
            raise InstanceFormatError(f"{self.source}: the file ends after {len(self.tokens)} numbers, while "
                                      f"reading {what} ({count} numbers from number {self.position + 1})")
        try:
            values = np.array([float(t) for t in self.tokens[self.position:end]])
        except ValueError as err:
            raise InstanceFormatError(f"{self.source}: {what}: {err}") from err
        self.position = end
        return values

    def integer(self, what: str) -> int:
        value = float(self.take(1, what)[0])
        if value != int(value) or value < 0:
            raise InstanceFormatError(f"{self.source}: {what} must be a non-negative integer, got {value:g}")
        return int(value)

    def positive(self, what: str) -> int:
        value = self.integer(what)
        if value == 0:
            raise InstanceFormatError(f"{self.source}: {what} must be at least 1, got 0")
        return value

    def rest(self) -> list[str]:
        return self.tokens[self.position:]


def _at_least_all(eligible_shape: tuple[int, int]) -> FloatArray:
    ones: FloatArray = np.ones((1, *eligible_shape))
    return ones


@dataclass(frozen=True, slots=True)
class GapInstance:
    name: str  # c515-1 (OR-Library's notation for gap1–12) or a05100 (Chu & Beasley's and Yagiura's, gapa–d)
    cost: FloatArray  # (m, n) cost (or profit) of giving job j to agent i
    resource: FloatArray  # (m, n) capacity agent i uses for job j
    capacity: FloatArray  # (m,)

    @property
    def agents(self) -> int:
        return int(self.cost.shape[0])

    @property
    def jobs(self) -> int:
        return int(self.cost.shape[1])

    def to_problem(self, maximise: bool) -> AllocationProblem:
        """Users = jobs, actions = agents; value = cost (maximise, OR-Library's optima) or −cost (minimise)."""
        m, n = self.agents, self.jobs
        value = (self.cost if maximise else -self.cost).T  # (n, m)
        capacity_rows = np.zeros((m, n, m))
        capacity_rows[np.arange(m), :, np.arange(m)] = self.resource
        weight = np.concatenate([capacity_rows, _at_least_all((n, m))])
        rhs = np.r_[self.capacity, n]
        sense = np.r_[np.full(m, -1), 1].astype(np.int8)
        names = (*(f"capacity_agent_{i + 1}" for i in range(m)), "every_job_assigned")
        return AllocationProblem.from_arrays(value, None, weight, rhs, sense, names,
                                             tuple(f"agent_{i + 1}" for i in range(m)))


def parse_orlib_gap(text: str, source: str = "<gap>", gap_type: str | None = None) -> list[GapInstance]:
    """An OR-Library GAP file: P, then for each problem m n, the m×n costs, the m×n resources, m capacities.
    Names: c{m}{n}-{k} (gap1–12) by default, {gap_type}{m:02}{n} (e.g. a05100) for gapa–d with gap_type="a"."""
    if gap_type is not None and gap_type not in ("a", "b", "c", "d"):
        raise ValueError(f"gap_type must be one of a, b, c, d (Chu & Beasley's types), got {gap_type!r}")
    numbers = _Numbers(text, source)
    count = numbers.positive("the number of problem sets P")
    instances: list[GapInstance] = []
    for p in range(1, count + 1):
        m = numbers.positive(f"problem {p}: the number of agents m")
        n = numbers.positive(f"problem {p}: the number of jobs n")
        cost = numbers.take(m * n, f"problem {p}: the {m}×{n} cost matrix").reshape(m, n)
        resource = numbers.take(m * n, f"problem {p}: the {m}×{n} resource matrix").reshape(m, n)
        capacity = numbers.take(m, f"problem {p}: the {m} agent capacities")
        name = f"c{m}{n}-{p}" if gap_type is None else f"{gap_type}{m:02d}{n}"
        instances.append(GapInstance(name, cost, resource, capacity))
    if numbers.rest():
        raise InstanceFormatError(f"{source}: {len(numbers.rest())} numbers left after {count} problem sets")
    return instances


@dataclass(frozen=True, slots=True)
class MmkpInstance:
    name: str
    value: FloatArray  # (n, l) value of item a of group u
    weight: FloatArray  # (m, n, l) resource k used by item a of group u
    capacity: FloatArray  # (m,)
    eligible: BoolArray | None = None  # (n, l) False for the padding of groups with fewer than l items

    def to_problem(self) -> AllocationProblem:
        n, items = self.value.shape
        m = self.capacity.size
        weight = np.concatenate([self.weight, _at_least_all((n, items))])
        rhs = np.r_[self.capacity, n]
        sense = np.r_[np.full(m, -1), 1].astype(np.int8)
        names = (*(f"resource_{k + 1}" for k in range(m)), "one_item_per_group")
        return AllocationProblem.from_arrays(self.value, self.eligible, weight, rhs, sense, names,
                                             tuple(f"item_{a + 1}" for a in range(items)))


def parse_mmkp(text: str, name: str = "<mmkp>") -> MmkpInstance:
    """Khan's MMKP format: n l m; the m capacities; per group its number, then l lines "value r_1 … r_m".
    Anything after the last group (the solution sections some files carry) is ignored."""
    numbers = _Numbers(text, name)
    n = numbers.positive("the number of groups n")
    items = numbers.positive("the number of items per group l")
    m = numbers.integer("the number of resources m")
    capacity = numbers.take(m, f"the {m} resource capacities")
    value = np.empty((n, items))
    weight = np.empty((m, n, items))
    for group in range(n):
        label = numbers.integer(f"the number of group {group + 1}")
        if label != group + 1:
            raise InstanceFormatError(f"{name}: expected group number {group + 1}, found {label}")
        rows = numbers.take(items * (1 + m), f"group {group + 1}: {items} items × (value + {m} resources)")
        rows = rows.reshape(items, 1 + m)
        value[group] = rows[:, 0]
        weight[:, group, :] = rows[:, 1:].T
    return MmkpInstance(name, value, weight, capacity)


def parse_mmkp_counted(text: str, name: str = "<mmkp>") -> MmkpInstance:
    """MMKP with an item count per group: n m; the m capacities; per group its number of items l_g, then l_g
    lines "value r_1 … r_m". Groups may differ in size: the shorter ones are padded with ineligible items.
    Nothing may follow the last group."""
    numbers = _Numbers(text, name)
    n = numbers.positive("the number of groups n")
    m = numbers.integer("the number of resources m")
    capacity = numbers.take(m, f"the {m} resource capacities")
    groups: list[FloatArray] = []
    for group in range(1, n + 1):
        items = numbers.positive(f"group {group}: its number of items")
        rows = numbers.take(items * (1 + m), f"group {group}: {items} items × (value + {m} resources)")
        groups.append(rows.reshape(items, 1 + m))
    if numbers.rest():
        raise InstanceFormatError(f"{name}: {len(numbers.rest())} numbers left after {n} groups")
    width = max(len(rows) for rows in groups)
    value = np.zeros((n, width))
    weight = np.zeros((m, n, width))
    eligible = np.zeros((n, width), dtype=bool)
    for group, rows in enumerate(groups):
        value[group, :len(rows)] = rows[:, 0]
        weight[:, group, :len(rows)] = rows[:, 1:].T
        eligible[group, :len(rows)] = True
    return MmkpInstance(name, value, weight, capacity, None if eligible.all() else eligible)


@dataclass(frozen=True, slots=True)
class PublishedProblem:
    instance: str
    form: Form
    problem: AllocationProblem


_GAP_FILE = re.compile(r"gap(?P<number>\d+)|gap(?P<type>[a-d])")


def read_published(path: Path, forms: Sequence[Form] = (Form.MAX, Form.MIN)) -> list[PublishedProblem]:
    """Every problem in a file, in each form asked for (MMKP has only the maximisation form). The format comes
    from the file name: gap1.txt … gap12.txt and gapa.txt … gapd.txt are OR-Library GAP files, mmkp_*.txt has
    item counts per group, any other *.mmkp / I01 … I13 file is in Khan's format."""
    text = path.read_text()
    gap = _GAP_FILE.fullmatch(path.stem)
    if gap:
        return [PublishedProblem(instance.name, form, instance.to_problem(maximise=form is Form.MAX))
                for instance in parse_orlib_gap(text, str(path), gap["type"])
                for form in forms]
    if Form.MAX not in forms:
        return []
    if path.stem.startswith("mmkp_"):
        return [PublishedProblem(path.stem, Form.MAX, parse_mmkp_counted(text, path.stem).to_problem())]
    if path.suffix == ".mmkp" or re.fullmatch(r"I\d\d", path.stem):
        return [PublishedProblem(path.stem, Form.MAX, parse_mmkp(text, path.stem).to_problem())]
    raise InstanceFormatError(f"{path}: cannot tell the format from the name; use gap1.txt … gap12.txt or "
                              f"gapa.txt … gapd.txt (OR-Library GAP), mmkp_*.txt (MMKP with item counts) or "
                              f"I01 … I13 / *.mmkp (Khan's MMKP)")


@dataclass(frozen=True, slots=True)
class Comparison:
    instance: str
    form: Form
    method: str
    result: Allocation
    known: KnownOptimum | None
    violations: int  # constraints the plan breaks, by optimizer.feasibility.check_feasible (0 without a plan)

    @property
    def objective(self) -> float:
        """In the instance's own terms: the minimisation form reports the cost, not −cost."""
        return -self.result.objective if self.form is Form.MIN else self.result.objective

    @property
    def bound(self) -> float:
        """The solver's bound in the same terms: an upper bound (max) or a lower bound on the cost (min)."""
        return -self.result.bound if self.form is Form.MIN else self.result.bound

    @property
    def has_plan(self) -> bool:
        return self.result.status in (SolveStatus.OPTIMAL, SolveStatus.FEASIBLE)

    @property
    def equal(self) -> bool | None:
        if self.known is None:
            return None
        return self.has_plan and abs(self.objective - self.known.value) <= 1e-6 * max(1.0, abs(self.known.value))


def compare(problems: Sequence[PublishedProblem], methods: Sequence[str], time_limit: float,
            watchdog: bool) -> Iterator[Comparison]:
    from optimizer.feasibility import check_feasible
    from optimizer.solvers import solve

    for published in problems:
        known = known_optimum(published.instance, published.form)
        for method in methods:
            result = solve(published.problem, method=method, time_limit=time_limit, watchdog=watchdog)
            planned = result.status in (SolveStatus.OPTIMAL, SolveStatus.FEASIBLE)
            violations = len(check_feasible(published.problem, result.action)) if planned else 0
            yield Comparison(published.instance, published.form, method, result, known, violations)


def _known_text(known: KnownOptimum | None) -> str:
    if known is None:
        return "—"
    return f"{known.value:g}" if known.proven else f"{known.value:g} (best known)"


def _cell(row: Comparison) -> str:
    seconds = f"{row.result.seconds:.2f} s"
    if not row.has_plan:
        return f"no plan ({row.result.status.value}) · {seconds}"
    mark = {True: " ✓", False: " ✗", None: ""}[row.equal]
    status = ""
    if row.result.status is not SolveStatus.OPTIMAL:
        bound = f", bound {row.bound:g}" if np.isfinite(row.bound) else ""
        status = f" ({row.result.status.value}{bound})"
    broken = f" INFEASIBLE ({row.violations} constraints broken)" if row.violations else ""
    return f"{row.objective:g}{mark}{status}{broken} · {seconds}"


def markdown_table(rows: Sequence[Comparison], methods: Sequence[str]) -> str:
    """One line per instance and form, one column per method: objective, ✓/✗ against the known optimum, time;
    a plan that fails optimizer.feasibility.check_feasible says so."""
    lines = ["| instance | form | known | " + " | ".join(methods) + " |",
             "|---|---|---|" + "---|" * len(methods)]
    keys = list(dict.fromkeys((row.instance, row.form) for row in rows))
    for instance, form in keys:
        cells = {row.method: row for row in rows if (row.instance, row.form) == (instance, form)}
        known = next(iter(cells.values())).known
        lines.append(f"| {instance} | {form.value} | {_known_text(known)} | "
                     + " | ".join(_cell(cells[m]) if m in cells else "" for m in methods) + " |")
    return "\n".join(lines)


def main(argv: list[str] | None = None) -> int:
    """Exit 1 when an exact method misses a proven optimum (heuristics and best known values never fail) or
    any method returns a plan that breaks a constraint."""
    from optimizer.solvers import registered, solver_info

    parser = argparse.ArgumentParser(description="Solve published GAP / MMKP files and compare with the known "
                                                 "optima (see benchmarks/data/published/README.md).")
    parser.add_argument("files", nargs="+", type=Path)
    parser.add_argument("--method", action="append", choices=["auto", *registered()],
                        help="repeat for several methods (default: exact-highs)")
    parser.add_argument("--form", choices=["max", "min", "both"], default="both",
                        help="GAP objective: max (OR-Library's optima for gap1–12), min, or both")
    parser.add_argument("--time-limit", type=float, default=60.0)
    parser.add_argument("--no-watchdog", action="store_true",
                        help="run exact solvers in this process (their own time, without the ~0.5 s process start)")
    parser.add_argument("--markdown", action="store_true", help="one table row per instance and form")
    args = parser.parse_args(argv)
    methods: list[str] = args.method or ["exact-highs"]
    forms = [Form.MAX, Form.MIN] if args.form == "both" else [Form(args.form)]
    try:
        problems = [p for path in args.files for p in read_published(path, forms)]
    except (InstanceFormatError, OSError) as err:
        print(f"error: {err}", file=sys.stderr)
        return 2
    rows: list[Comparison] = []
    for row in compare(problems, methods, args.time_limit, watchdog=not args.no_watchdog):
        rows.append(row)
        if not args.markdown:
            print(f"{row.instance:>10} {row.form.value} {row.method:<12} {row.result.status.value:<12} "
                  f"{row.objective if row.has_plan else float('nan'):>10g}  known {_known_text(row.known):<18} "
                  f"equal {'—' if row.equal is None else 'yes' if row.equal else 'no':<3} "
                  f"{row.result.seconds:7.2f} s{'  INFEASIBLE' if row.violations else ''}", flush=True)
    if args.markdown:
        print(markdown_table(rows, methods))
    missed = [row for row in rows if row.method != "auto" and solver_info(row.method).exact
              and row.known is not None and row.known.proven and not row.equal]
    return 1 if missed or any(row.violations for row in rows) else 0


if __name__ == "__main__":
    sys.exit(main())

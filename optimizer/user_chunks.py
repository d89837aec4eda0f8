"""Work over users in chunks: every full-size step of the large-scale solver goes through here, so its
temporaries are (chunk, A), never (N, A) or (K, N, A), and memory beyond the problem itself stays flat in N.

Chunks run on a small thread pool: numpy's element-wise kernels, reductions and gathers release the GIL, so
two cores give nearly two times on a pass. Each chunk writes only its own slice of any shared output.
"""

from __future__ import annotations

import os
from collections.abc import Callable, Iterator
from concurrent.futures import ThreadPoolExecutor
from typing import TypeVar

import numpy as np
import numpy.typing as npt

from optimizer.problem import AllocationProblem, FloatArray

CHUNK = 32_768  # 32k users × 8 actions × 8 bytes = 2 MB per temporary: stays in cache; 10⁵ users make 4 chunks
T = TypeVar("T")


def spans(n: int, size: int = CHUNK) -> Iterator[tuple[int, int]]:
    for start in range(0, n, size):
        yield start, min(start + size, n)


def default_threads() -> int:
    try:
        return max(1, len(os.sched_getaffinity(0)))
    except AttributeError:  # not on Linux
        return max(1, os.cpu_count() or 1)


class ChunkRunner:
    """Runs a function over every chunk of N users, in parallel when there is more than one chunk."""

    def __init__(self, threads: int = 0, size: int = CHUNK) -> None:
        self.threads = threads or default_threads()
        self.size = size

    def map(self, n: int, work: Callable[[int, int], T]) -> list[T]:
        chunks = list(spans(n, self.size))
        if self.threads == 1 or len(chunks) <= 1:
            return [work(start, stop) for start, stop in chunks]
        with ThreadPoolExecutor(max_workers=min(self.threads, len(chunks))) as pool:
            return list(pool.map(lambda span: work(*span), chunks))


def reduced_block(problem: AllocationProblem, start: int, stop: int, signed_prices: FloatArray,
                  dtype: npt.DTypeLike = np.float64, nothing_column: bool = False) -> npt.NDArray[np.floating]:
    """value − Σ_k λ_k·sign_k·w_k for users start … stop, −inf where not eligible; (m, A) or (m, A + 1) with a
    last column of 0 for "do nothing". Computed in `dtype` without a full-size copy of the problem."""
    p = problem
    m, a = stop - start, p.actions
    out = np.empty((m, a + 1 if nothing_column else a), dtype=dtype)
    reduced = out[:, :a]
    np.copyto(reduced, p.value[start:stop], casting="same_kind")
    tmp = np.empty((m, a), dtype=dtype)
    for k in range(p.constraints):
        if signed_prices[k] != 0.0:
            np.multiply(p.weight[k, start:stop], signed_prices[k], out=tmp, casting="same_kind")
            np.subtract(reduced, tmp, out=reduced)
    np.copyto(reduced, -np.inf, where=~p.eligible[start:stop])
    if nothing_column:
        out[:, a] = 0.0
    return out


def gather_rows(matrix: npt.NDArray[np.floating], column: npt.NDArray[np.integer]) -> FloatArray:
    """matrix[i, column[i]] for every row i (column A, "do nothing", must exist in `matrix`)."""
    rows = np.arange(matrix.shape[0])
    out: FloatArray = matrix[rows, column]
    return out

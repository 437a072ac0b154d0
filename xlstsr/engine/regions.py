"""The region scheduler of :func:`xlstsr.upscale_to_zarr`: time blocks computed a few at a time.

A region is one time block of the output. Regions are computed ``k`` at a time and each is
marked done as soon as it is written (no barrier between regions), on whichever scheduler is
active: a ``dask.distributed`` client, dask's threads, or the synchronous scheduler. After each
region the heap memory it freed is handed back to the OS.
"""

from __future__ import annotations

import itertools
import os
import uuid
from collections.abc import Callable
from typing import Any

import dask

__all__ = ["parallelism", "run_regions", "trim_heap"]


def active_client() -> Any:
    """The active dask.distributed client, or None."""
    try:
        from distributed import Client

        return Client.current()
    except (ImportError, ValueError):
        return None


def parallelism() -> int:
    """Worker threads of the active scheduler (distributed client, threads, or sync)."""
    client = active_client()
    if client is not None:
        return max(1, sum(client.nthreads().values()))
    sched = dask.config.get("scheduler", None)
    if sched in ("sync", "synchronous", "single-threaded"):
        return 1
    return int(dask.config.get("num_workers", None) or os.cpu_count() or 1)


def _libc_malloc_trim() -> Any:
    """glibc's ``malloc_trim``, or None (other C libraries, other systems)."""
    import ctypes
    import ctypes.util

    try:
        libc = ctypes.CDLL(ctypes.util.find_library("c") or "libc.so.6")
        trim = libc.malloc_trim
    except (OSError, AttributeError):
        return None
    trim.argtypes, trim.restype = [ctypes.c_size_t], ctypes.c_int
    return trim


_MALLOC_TRIM: Any = _libc_malloc_trim() if os.name == "posix" else None


def trim_heap() -> None:
    """Hand the heap memory freed by a finished region back to the OS.

    glibc raises its mmap threshold after large frees, so the next regions' arrays come from the
    per-thread heaps, which keep what they free: without this the peak memory grew with the
    number of regions (measured in docs/results/engine.md), not only with the regions in flight.
    """
    if _MALLOC_TRIM is not None:
        _MALLOC_TRIM(0)


class _Region:
    """A region's lazy write, wrapped so that ``Client.submit`` ships it as one argument instead
    of scheduling its graph on the cluster task by task."""

    def __init__(self, graph: Any) -> None:
        self.graph = graph


def _compute_region(region: _Region) -> Any:
    """On a worker: a whole region with the synchronous scheduler in this worker thread (its
    tiles run one after another; one torch thread, :func:`xlstsr.nn.runtime.set_task_threads`)."""
    try:
        return region.graph.compute(scheduler="sync")
    finally:
        trim_heap()  # in the worker, which holds the region's memory


def run_regions(
    todo: list[int], write: Callable[[int], Any], mark: Callable[[int, Any], None], k: int
) -> None:
    """Compute the region writes ``write(i)`` for ``i`` in ``todo``, at most ``k`` at a time,
    calling ``mark(i, result)`` as each one completes (not in batches: no barrier between
    regions); ``result`` is what the computed ``write(i)`` returns.

    - distributed client: each region one task (computed on a worker with the synchronous
      scheduler: its tiles stay on that worker, the client schedules one task per region instead
      of one per tile; a method's weights travel inside the region's graph once per region and
      are loaded once per worker process), refilled as they complete;
    - threaded scheduler (the default): ``k`` Python threads each computing a region with the
      synchronous scheduler (one torch thread each, see TorchModelMethod);
    - synchronous scheduler or ``k == 1``: one region at a time in this thread;
    - fewer regions than ``k``, or any other scheduler (processes, custom): batches of ``k``
      regions with ``dask.compute`` (parallel inside each region).
    """
    client = active_client()
    sched = dask.config.get("scheduler", None)
    if client is not None:
        from distributed import as_completed

        def submit(i: int) -> Any:  # the whole region as one task on one worker thread
            return client.submit(_compute_region, _Region(write(i)), pure=False,
                                 key=f"xlstsr-region-{i}-{uuid.uuid4().hex[:8]}")

        pending = iter(todo)
        futures = {submit(i): i for i in itertools.islice(pending, k)}
        ac = as_completed(list(futures))
        for fut in ac:
            res = fut.result()  # raises the region's error, if any
            mark(futures.pop(fut), res)
            nxt = next(pending, None)
            if nxt is not None:
                f = submit(nxt)
                futures[f] = nxt
                ac.add(f)
    elif k == 1 or sched in ("sync", "synchronous", "single-threaded"):
        for i in todo:
            mark(i, write(i).compute(scheduler="sync"))
    elif sched in (None, "threads", "threading") and len(todo) >= k:
        from concurrent.futures import FIRST_COMPLETED, ThreadPoolExecutor, wait

        pending = iter(todo)
        with ThreadPoolExecutor(k, thread_name_prefix="xlstsr-region") as ex:

            def submit(i: int) -> Any:
                return ex.submit(lambda: write(i).compute(scheduler="sync"))

            running = {submit(i): i for i in itertools.islice(pending, k)}
            try:
                while running:
                    finished, _ = wait(running, return_when=FIRST_COMPLETED)
                    for fut in finished:
                        res = fut.result()
                        mark(running.pop(fut), res)
                        nxt = next(pending, None)
                        if nxt is not None:
                            running[submit(nxt)] = nxt
            finally:
                for fut in running:
                    fut.cancel()
    else:
        for s in range(0, len(todo), k):
            batch = todo[s : s + k]
            for i, res in zip(batch, dask.compute(*[write(i) for i in batch])):
                mark(i, res)

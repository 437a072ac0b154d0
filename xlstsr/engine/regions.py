"""The region scheduler of :func:`xlstsr.upscale_to_zarr`: time blocks computed a few at a time.

A region is one time block of the output. Regions are computed ``k`` at a time and each is
marked done as soon as it is written (no barrier between regions), on whichever scheduler is
active: a ``dask.distributed`` client, dask's threads, or the synchronous scheduler. After each
region the heap memory it freed is handed back to the OS. While regions compute, buffers up to
32 MiB come from the heap instead of fresh, page-faulted mappings (:func:`region_allocation`).
"""

from __future__ import annotations

import contextlib
import contextvars
import ctypes
import ctypes.util
import itertools
import os
import re
import threading
import uuid
from collections.abc import Callable, Iterator
from concurrent.futures import ThreadPoolExecutor
from typing import Any

import dask
from dask.system import CPU_COUNT

__all__ = [
    "RegionsCancelled",
    "after_regions_thresholds",
    "check_cancelled",
    "parallelism",
    "region_allocation",
    "run_regions",
    "static_malloc_thresholds",
    "trim_heap",
]


class RegionsCancelled(Exception):
    """Raised in a region's tile task once the run it belongs to has stopped (Ctrl-C, or an
    error in another region): the region stops at its next tile instead of computing on."""


#: the stop flag of the run whose region this thread computes (None outside a threaded run)
_CANCEL: contextvars.ContextVar[threading.Event | None] = contextvars.ContextVar(
    "xlstsr_regions_cancel", default=None)


def check_cancelled() -> None:
    """Stop a tile task whose run has stopped (see :class:`RegionsCancelled`); a no-op
    elsewhere (synchronous runs stop where Ctrl-C is raised, distributed ones by their
    futures)."""
    flag = _CANCEL.get()
    if flag is not None and flag.is_set():
        raise RegionsCancelled("the run stopped: this region is left unfinished")


def active_client() -> Any:
    """The dask.distributed client that dask's chosen scheduler is, or None: a client alive
    under ``dask.config.set(scheduler="sync")`` (or "threads", "processes") is not used, as
    dask itself would not use it."""
    try:
        from distributed import Client
    except ImportError:
        return None
    try:
        chosen = dask.base.get_scheduler()
    except (RuntimeError, ValueError):  # "distributed" asked with no client: dask says so
        return None
    owner = getattr(chosen, "__self__", None)  # a client's bound ``get``
    return owner if isinstance(owner, Client) else None


def workers_in_process(client: Any, addresses: Any = None) -> bool:
    """Whether every worker of a dask.distributed client runs in this process (``inproc://``:
    ``LocalCluster(processes=False)``); ``addresses``: the workers' addresses already asked of
    the scheduler (not asked again)."""
    if addresses is None:
        try:
            addresses = client.scheduler_info().get("workers", {})
        except Exception:  # pragma: no cover - a client that cannot answer: assume remote
            return False
    return bool(addresses) and all(str(w).startswith("inproc://") for w in addresses)


def parallelism() -> int:
    """Worker threads of the active scheduler (distributed client, threads, or sync)."""
    client = active_client()
    if client is not None:
        return max(1, sum(client.nthreads().values()))
    sched = dask.config.get("scheduler", None)
    if sched in ("sync", "synchronous", "single-threaded"):
        return 1
    # dask's own count: the CPUs this process may use (affinity, cgroup quota), not the
    # machine's (os.cpu_count: 128 regions in flight in a 4-CPU batch job on a 128-core node)
    return int(dask.config.get("num_workers", None) or dask.system.CPU_COUNT or 1)


def _libc(name: str, argtypes: list[Any], restype: Any) -> Any:
    """The C library's function ``name``, typed, or None (not glibc, not a POSIX system)."""
    if os.name != "posix":
        return None
    try:
        fn = getattr(ctypes.CDLL(ctypes.util.find_library("c") or "libc.so.6"), name)
    except (OSError, AttributeError):
        return None
    fn.argtypes, fn.restype = argtypes, restype
    return fn


_MALLOC_TRIM: Any = _libc("malloc_trim", [ctypes.c_size_t], ctypes.c_int)
_MALLOPT: Any = _libc("mallopt", [ctypes.c_int, ctypes.c_int], ctypes.c_int)
_M_TRIM_THRESHOLD, _M_MMAP_THRESHOLD = -1, -3  # mallopt parameters (glibc's malloc.h)
_GLIBC_DEFAULT_THRESHOLD = 128 * 1024
#: while regions compute: buffers below this come from the heap (glibc's largest mmap threshold)
REGION_MMAP_THRESHOLD = 32 * 1024**2
#: and up to this much freed memory stays at the heap's top until the region's trim_heap
REGION_TRIM_THRESHOLD = 256 * 1024**2


def static_malloc_thresholds(environ: Any = None) -> tuple[int, int] | None:
    """``(mmap, trim)`` thresholds of glibc's malloc when the environment fixes them, else None.

    Setting any of ``MALLOC_TRIM_THRESHOLD_``, ``MALLOC_MMAP_THRESHOLD_``, ``MALLOC_TOP_PAD_``,
    ``MALLOC_MMAP_MAX_`` (or their ``GLIBC_TUNABLES``) turns off glibc's dynamic mmap threshold,
    which otherwise rises to the size of the large buffers a program frees: every buffer above
    128 KiB (a torch activation, an output tile) is then a fresh ``mmap``, page-faulted on every
    use. dask.distributed starts its workers with ``MALLOC_TRIM_THRESHOLD_=65536``.

    Examples
    --------
    >>> static_malloc_thresholds({}) is None
    True
    >>> static_malloc_thresholds({"MALLOC_TRIM_THRESHOLD_": "65536"})
    (131072, 65536)
    """
    env = os.environ if environ is None else environ
    tun = dict(re.findall(r"glibc\.malloc\.(\w+)=(\d+)", str(env.get("GLIBC_TUNABLES", ""))))
    keys = ("TRIM_THRESHOLD", "MMAP_THRESHOLD", "TOP_PAD", "MMAP_MAX")
    if not any(f"MALLOC_{k}_" in env or k.lower() in tun for k in keys):
        return None

    def value(k: str) -> int:
        v = env.get(f"MALLOC_{k}_", tun.get(k.lower()))
        try:
            return int(v) if v is not None else _GLIBC_DEFAULT_THRESHOLD
        except ValueError:
            return _GLIBC_DEFAULT_THRESHOLD

    return value("MMAP_THRESHOLD"), value("TRIM_THRESHOLD")


_ALLOC_LOCK = threading.Lock()
_ALLOC_USERS = 0


def after_regions_thresholds(environ: Any = None) -> tuple[int, int]:
    """The ``(mmap, trim)`` thresholds :func:`region_allocation` leaves behind: the environment's
    values where it fixes them, else those glibc's own adaptive rule reaches after freeing a
    buffer of its largest mmap threshold (32 MiB, and twice that for the trim).

    Examples
    --------
    >>> after_regions_thresholds({"MALLOC_TRIM_THRESHOLD_": "65536"})
    (131072, 65536)
    >>> [v // 2**20 for v in after_regions_thresholds({})]
    [32, 64]
    """
    static = static_malloc_thresholds(environ)
    return static if static is not None else (REGION_MMAP_THRESHOLD, 2 * REGION_MMAP_THRESHOLD)


@contextlib.contextmanager
def region_allocation() -> Iterator[None]:
    """While regions compute, serve buffers up to 32 MiB from glibc's heap and keep up to
    256 MiB freed at its top (handed back by :func:`trim_heap` after each region), instead of
    fresh, page-faulted mappings.

    - dask.distributed's workers start with ``MALLOC_TRIM_THRESHOLD_=65536``, which fixes the
      mmap threshold at 128 KiB (:func:`static_malloc_thresholds`): a ``sisr`` worker
      page-faulted 2.5 million times on two 1200 x 1200 days and spent 1.7x the CPU of the same
      region in a plain process; with these settings, 15-30 thousand times.
    - In a plain process glibc adapts the threshold to the buffers it sees freed, but trims the
      heap's top after each tile's forward: two ``sisr`` days took 5-10 % less CPU with these
      settings (session 5 probes, not rerun in docs/results/engine.md).

    After the last concurrent use (a worker's or the engine's threads count) the thresholds go to
    :func:`after_regions_thresholds`: the environment's, else those glibc's adaptive rule would
    reach itself (mallopt cannot switch the adaptive rule back on). A no-op where glibc is not
    the C library.
    """
    global _ALLOC_USERS
    if _MALLOPT is None:
        yield
        return
    with _ALLOC_LOCK:
        if _ALLOC_USERS == 0:
            _MALLOPT(_M_MMAP_THRESHOLD, REGION_MMAP_THRESHOLD)
            _MALLOPT(_M_TRIM_THRESHOLD, REGION_TRIM_THRESHOLD)
        _ALLOC_USERS += 1
    try:
        yield
    finally:
        with _ALLOC_LOCK:
            _ALLOC_USERS -= 1
            if _ALLOC_USERS == 0:
                mmap, trim = after_regions_thresholds()
                _MALLOPT(_M_MMAP_THRESHOLD, mmap)
                _MALLOPT(_M_TRIM_THRESHOLD, trim)


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


def _held_chunks(graph: Any) -> dict[Any, Any]:
    """``{key: future}``: the chunks a region's lazy write ``graph`` reads that the cluster
    holds (an input persisted on it, ``lst.persist()``, or the guide
    :func:`xlstsr.upscale_to_zarr` reads once); empty when it reads none.

    A persisted collection's graph holds futures, which the worker's synchronous scheduler
    cannot resolve: every region failed with dask's "Missing dependency". Given to
    ``Client.submit`` as an argument, they are the region task's dependencies instead: the
    worker receives their values (only the chunks of its region) before the region runs.
    """
    from distributed import Future

    hlg = graph.__dask_graph__()
    layers = getattr(hlg, "layers", None)
    if layers is None:  # a plain mapping (not a HighLevelGraph): scanned whole
        return {k: v for k, v in hlg.items() if isinstance(v, Future)}
    # a persisted collection is a materialized layer of futures: the others are not scanned
    # (a Blockwise layer materialises when iterated)
    if not any(isinstance(v, Future) for layer in layers.values()
               if layer.is_materialized() for v in layer.values()):
        return {}
    from dask.core import flatten

    culled = hlg.cull(set(flatten(graph.__dask_keys__())))  # the region's own chunks only
    held = {k: v for layer in culled.layers.values() if layer.is_materialized()
            for k, v in layer.items() if isinstance(v, Future)}
    return held


#: an in-memory array in a region's graph from this size on is scattered to the cluster once
#: per run instead of travelling in every region task that reads it (:func:`_shipped_once`)
SCATTER_BYTES = 256 * 1024


def _lifted(value: Any) -> Any:
    """The data a graph value holds that a region task should not carry: a method's state
    (:class:`~xlstsr.engine.shipping.Shipment`) or an in-memory array of at least
    :data:`SCATTER_BYTES`; else None."""
    import numpy as np

    from .shipping import Shipment

    try:  # dask's task spec wraps data in a DataNode (private; absent from other versions)
        from dask._task_spec import DataNode
    except ImportError:
        DataNode = ()  # type: ignore[assignment,misc]
    v = value.value if isinstance(value, DataNode) else value
    if isinstance(v, Shipment):
        # in its travelled form: a worker in this process (which a scatter does not pickle
        # for) loads it too, as the copy of the method its tasks unpickle holds no weights
        return Shipment(v.key, None, v.payload())
    if isinstance(v, np.ndarray) and v.nbytes >= SCATTER_BYTES:
        return v
    return None


def _shipped_once(client: Any, graph: Any, scattered: dict[Any, Any]) -> tuple[Any, set[Any]]:
    """``(graph, keys)``: a region's lazy write ``graph`` cut to the tasks of its own output
    chunks, its heavy data (:func:`_lifted`: an in-memory input's chunks, an in-memory guide, a
    method's weights) as futures of the cluster, scattered once per run (``scattered``:
    ``{key: future}``, shared by the run's regions) instead of pickled into every region task:
    the region task receives them as its dependencies (:func:`_held_chunks`). ``keys``: the
    graph keys of ``scattered`` the region reads (released by :func:`run_regions` once no
    region in flight reads them).

    The whole graph travelled in each region task: an in-memory cube 8 times for 8 regions
    (every region carried all the steps, not its own), a 16 MiB guide and the torch weights
    once per region."""
    from dask.core import flatten
    from dask.highlevelgraph import HighLevelGraph, MaterializedLayer

    hlg = graph.__dask_graph__()
    if not isinstance(hlg, HighLevelGraph):
        return graph, set()
    # the keys of materialized layers the region reads (HighLevelGraph.cull's own graph lost
    # layers that array optimisation then looked up: its layers are only filtered here), taken
    # from every layer of the cut graph whose uncut layer is materialized: a Blockwise layer
    # (a NetCDF's `open_dataset-...`) computed once before the client started holds its keys,
    # while its cut copy is a fresh Blockwise that does not; its keys were all dropped and
    # every region failed on the workers with "Missing dependency"
    culled = hlg.cull(set(flatten(graph.__dask_keys__())))

    def materialized_uncut(name: str) -> bool:  # (the cut layer is named `<name>-<token>`)
        uncut = hlg.layers.get(name) or hlg.layers.get(name.rpartition("-")[0])
        return uncut is not None and uncut.is_materialized()

    needed = {k for name, layer in culled.layers.items()
              if layer.is_materialized() or materialized_uncut(name) for k in layer}
    layers = dict(hlg.layers)
    used: set[Any] = set()
    for name, layer in hlg.layers.items():
        if not layer.is_materialized():
            continue
        own = {k: v for k, v in layer.items() if k in needed}
        heavy = {k: d for k, v in own.items() if (d := _lifted(v)) is not None}
        for k, d in heavy.items():
            if k not in scattered:
                scattered[k] = client.scatter(d, hash=False)
        used.update(heavy)
        if heavy or len(own) < len(layer):
            layers[name] = MaterializedLayer(
                {k: scattered[k] if k in heavy else v for k, v in own.items()},
                annotations=layer.annotations)
    rebuild, args = graph.__dask_postpersist__()
    return rebuild(HighLevelGraph(layers, hlg.dependencies), *args), used


def _with_values(graph: Any, values: dict[Any, Any]) -> Any:
    """``graph`` (a dask collection) with the chunks ``values`` holds as data in place of their
    futures (see :func:`_held_chunks`)."""
    from dask._task_spec import DataNode
    from dask.highlevelgraph import HighLevelGraph, MaterializedLayer

    def filled(mapping: Any) -> dict[Any, Any]:
        return {k: DataNode(k, values[k]) if k in values else v for k, v in mapping.items()}

    hlg = graph.__dask_graph__()
    rebuild, args = graph.__dask_postpersist__()
    if not isinstance(hlg, HighLevelGraph):
        return rebuild(filled(hlg), *args)
    layers = {
        name: MaterializedLayer(filled(layer), annotations=layer.annotations)
        if layer.is_materialized() and any(k in values for k in layer) else layer
        for name, layer in hlg.layers.items()
    }
    return rebuild(HighLevelGraph(layers, hlg.dependencies), *args)


def _compute_region(region: _Region, held: dict[Any, Any] | None = None) -> Any:
    """On a worker: a whole region with the synchronous scheduler in this worker thread (its
    tiles run one after another; one torch thread, :func:`xlstsr.nn.runtime.set_task_threads`).
    ``held``: the values of the persisted chunks it reads (:func:`_held_chunks`), received by
    the worker as the task's dependencies."""
    try:
        with region_allocation():
            graph = _with_values(region.graph, held) if held else region.graph
            return graph.compute(scheduler="sync")
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
      of one per tile; the task carries its region's part of the graph only, a method's
      weights and in-memory arrays are scattered to the cluster once per run
      (:func:`_shipped_once`), released once no region in flight reads them or the run ends
      (:func:`_run_distributed`), and the weights loaded once per worker process; chunks held on
      the cluster are the task's dependencies, :func:`_held_chunks`), refilled as they complete; when one fails (or on
      Ctrl-C) the regions not begun are cancelled and those running are waited for before the
      error is raised;
    - threaded scheduler (the default): ``k`` Python threads each computing a region with the
      synchronous scheduler (one torch thread each, see TorchModelMethod);
    - synchronous scheduler or ``k == 1``: one region at a time in this thread;
    - fewer regions than ``k`` on the threaded scheduler: one ``dask.compute`` of them all
      (parallel inside each region) in a thread pool of the run's own; when a tile fails (or on
      Ctrl-C) the tasks not begun are dropped and those running are waited for before the
      error is raised;
    - any other scheduler (processes, custom, a ``pool`` set in dask's config): batches of
      ``k`` regions with ``dask.compute`` (parallel inside each region).
    """
    client = active_client()
    sched = dask.config.get("scheduler", None)
    if client is not None:
        _run_distributed(client, todo, write, mark, k)
    else:
        with region_allocation():
            _run_local(todo, write, mark, k, sched)


def _run_distributed(client: Any, todo: list[int], write: Callable[[int], Any],
                     mark: Callable[[int, Any], None], k: int) -> None:
    """run_regions on a dask.distributed ``client``: each region one task, refilled as they
    complete.

    Only calls bound to ``client`` are used (not distributed's default client): a client that
    is dask's scheduler through ``dask.config.set(scheduler=client)`` without being the default
    one (``set_as_default=False``) failed with distributed's "No clients found".

    A scattered array (:func:`_shipped_once`) is released once no region in flight reads it:
    the next region is submitted before the finished one's data is released, so data that
    neighbouring regions share (the guide, a method's weights, an input chunk spanning
    regions) stays, and data a later region reads again is scattered again. Every scattered
    array held the run long (the workers ended up holding the whole in-memory cube), and a
    failed run's stayed on the workers until the client closed (its traceback kept them).
    """
    from distributed import as_completed

    scattered: dict[Any, Any] = {}  # {graph key: future}: heavy data sent once
    readers: dict[Any, int] = {}  # {graph key: regions in flight reading it}
    reads: dict[Any, set[Any]] = {}  # {region future: the scattered keys it reads}

    def submit(i: int) -> Any:  # the whole region as one task on one worker thread
        # chunks held on the cluster (persisted, or scattered here): the task's dependencies
        graph, keys = _shipped_once(client, write(i), scattered)
        fut = client.submit(_compute_region, _Region(graph), _held_chunks(graph), pure=False,
                            key=f"xlstsr-region-{i}-{uuid.uuid4().hex[:8]}")
        reads[fut] = keys
        for key in keys:
            readers[key] = readers.get(key, 0) + 1
        return fut

    def finished(fut: Any) -> None:  # release what no region in flight reads any more
        for key in reads.pop(fut, ()):
            readers[key] -= 1
            if not readers[key]:
                del readers[key]
                scattered.pop(key).release()

    pending = iter(todo)
    futures: dict[Any, int] = {}
    try:
        futures.update({submit(i): i for i in itertools.islice(pending, k)})
        ac = as_completed(list(futures), loop=client.loop)
        for fut in ac:
            res = fut.result()  # raises the region's error, if any
            mark(futures.pop(fut), res)
            nxt = next(pending, None)
            if nxt is not None:
                f = submit(nxt)
                futures[f] = nxt
                ac.add(f)
            finished(fut)
    except BaseException:
        # a region's error, Ctrl-C: the other regions in flight kept writing into the
        # store after this call had returned (into the earlier store that mode="w" had
        # put back as "kept as it was")
        _stop_regions(client, list(futures))
        raise
    finally:
        # the error's traceback keeps this frame: nothing it holds may keep data on the cluster
        for held in scattered.values():
            held.release()
        for region in futures:
            region.release()
        scattered.clear()
        futures.clear()
        reads.clear()


def _stop_regions(client: Any, futures: list[Any]) -> None:
    """Stop a distributed run's regions in flight before its error is raised: those no worker
    has begun are cancelled; those a worker computes (a running task cannot be interrupted)
    are waited for, so that nothing writes into the store once the run has returned."""
    futures = [f for f in futures if not f.done()]
    if not futures:
        return
    try:  # the tasks the scheduler has given to a worker (running, or next in its queue)
        processing = {k for keys in client.processing().values() for k in keys}
    except Exception:  # pragma: no cover - a scheduler that cannot answer: wait for them all
        processing = {f.key for f in futures}
    idle = [f for f in futures if f.key not in processing]
    if idle:
        client.cancel(idle)
    for f in futures:
        if f.key in processing:
            # bound to ``client`` (distributed's ``wait`` asks for the default client); does not
            # raise the region's error: the first one is raised by the caller
            f.exception()


def _run_local(todo: list[int], write: Callable[[int], Any], mark: Callable[[int, Any], None],
               k: int, sched: Any) -> None:
    """run_regions on dask's local schedulers (threads, synchronous, others)."""
    if k == 1 or sched in ("sync", "synchronous", "single-threaded"):
        for i in todo:
            mark(i, write(i).compute(scheduler="sync"))
    elif sched in (None, "threads", "threading") and len(todo) >= k:
        from concurrent.futures import FIRST_COMPLETED, wait

        pending = iter(todo)
        cancel = threading.Event()  # set when the run stops: regions in flight stop at a tile

        def region(i: int) -> Any:
            token = _CANCEL.set(cancel)
            try:
                return write(i).compute(scheduler="sync")
            finally:
                _CANCEL.reset(token)

        with ThreadPoolExecutor(k, thread_name_prefix="xlstsr-region") as ex:
            running = {ex.submit(region, i): i for i in itertools.islice(pending, k)}
            try:
                while running:
                    finished, _ = wait(running, return_when=FIRST_COMPLETED)
                    for fut in finished:
                        res = fut.result()
                        mark(running.pop(fut), res)
                        nxt = next(pending, None)
                        if nxt is not None:
                            running[ex.submit(region, nxt)] = nxt
            except BaseException:
                # Ctrl-C or a region's error: the regions in flight stop at their next tile
                # (the executor's exit waits for them; a disr region of 1200^2 took ~20 s)
                cancel.set()
                raise
            finally:
                for fut in running:
                    fut.cancel()
    elif sched in (None, "threads", "threading") and dask.config.get("pool", None) is None:
        # fewer regions than k: computed together on dask's threads (parallel inside each
        # region), in a pool of this run's own that is waited for on an error. dask raises a
        # task's error at once while the writes already running in its shared pool went on,
        # recreating the store the failed run had just removed
        cancel = threading.Event()
        token = _CANCEL.set(cancel)  # seen by the tile tasks: the pool copies the context
        pool = _ContextThreadPool(dask.config.get("num_workers", None) or CPU_COUNT,
                                  thread_name_prefix="xlstsr-tiles")
        try:
            for i, res in zip(todo, dask.compute(*[write(i) for i in todo],
                                                 scheduler="threads", pool=pool)):
                mark(i, res)
        except BaseException:
            cancel.set()  # tasks still running stop at their next tile
            raise
        finally:
            # the flag reset first: a second Ctrl-C during the wait left it set in this thread,
            # and every later run here stopped at once (the tasks hold their own copy)
            _CANCEL.reset(token)
            # tasks not begun are dropped; running ones (a chunk write) end before this returns
            pool.shutdown(wait=True, cancel_futures=True)
    else:
        for s in range(0, len(todo), k):
            batch = todo[s : s + k]
            for i, res in zip(batch, dask.compute(*[write(i) for i in batch])):
                mark(i, res)


class _ContextThreadPool(ThreadPoolExecutor):
    """A thread pool whose tasks run in the submitting thread's context (its stop flag,
    :data:`_CANCEL`), as dask's own pool does on recent versions."""

    def submit(self, fn: Callable[..., Any], /, *args: Any, **kwargs: Any) -> Any:
        return super().submit(contextvars.copy_context().run, fn, *args, **kwargs)

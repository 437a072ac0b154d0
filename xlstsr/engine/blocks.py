"""Graph building: run an upscaling method over (n, y, x) arrays, whole or tile by tile.

On dask inputs the engine runs one task per time chunk and spatial tile. Each task cuts its own
input window from the input blocks that hold it - the tile, the method's receptive field around
it (the model's halo) and the gap filling's reach beyond that, clipped at the image's edges -
fills the gaps on the window, runs the method on the tile and one halo and keeps the tile's
core. The guide's window (the tile and one halo, in fine pixels) is cut the same way from the
guide's own blocks, whatever their chunking, wider by the reach of the method's guide gap
filling (:func:`guide_fill_reach`), filled there and cut back. This reproduces whole-array
inference exactly, in one task per tile: no overlap, concatenation or rechunking tasks around
it (the ``map_overlap`` graph this replaced cost about 17 ms of scheduling per 128-px tile,
docs/results/engine.md).

Gaps (clouds, water) are filled locally before the method runs and re-masked afterwards: an
output pixel is NaN exactly where its parent coarse pixel is. Tiles whose core holds no valid
pixel are skipped (NaN output, no model call).

The halo is the method's receptive field (:meth:`UpscaleMethod.halo`): declared by the method,
or, for torch models that do not declare ``receptive_field``, measured once by an
impulse-response probe (:func:`xlstsr.nn.runtime.measure_receptive_field`). The input window
reaches twice that (the gap filling reads as far again).

Methods that carry heavy state (torch weights) enter the graph once through
:mod:`xlstsr.engine.shipping`.
"""

from __future__ import annotations

import bisect
import contextlib
import gc
import itertools
import re
import sys
import threading
from collections.abc import Callable, Iterator
from functools import partial
from typing import Any

import dask
import dask.array as dsa
import numpy as np
from dask.base import tokenize
from dask.highlevelgraph import HighLevelGraph

from ..errors import XlstsrError
from ..kernels.interp import fill_gaps
from ..methods.base import UpscaleMethod
from .regions import check_cancelled, region_allocation, workers_in_process
from .shipping import Shipment, deliver, ship_state

__all__ = ["GuideWatch", "engine_depth", "guide_fill_reach", "guide_step_stats", "task_prefix",
           "upscale_array"]


def engine_depth(method: UpscaleMethod, factor: int) -> int:
    """Reach (coarse pixels) of the engine's input window beyond a tile: the method's receptive
    field plus the gap-filling radius (equal to it), so tiled results equal whole-array results.

    The method itself runs on the tile and one receptive field (:func:`model_halo`)."""
    return 2 * model_halo(method, factor)


def model_halo(method: UpscaleMethod, factor: int) -> int:
    """Halo (coarse pixels) of the model's window around a tile: the method's receptive field,
    which must be a whole number >= 0 (-1 broke the assembly of the dask result with a raw
    xarray error, None raised int()'s TypeError)."""
    from ..validate import check_whole

    value = method.halo(factor)
    return check_whole(
        f"halo({factor}) of method {method.recorded_name()!r}", value, 0,
        hint="the coarse pixels around an output pixel that it depends on; return 0 for a "
             "pixel-wise method",
    )


def method_tile(method: UpscaleMethod, factor: int) -> int | None:
    """The method's :meth:`~xlstsr.methods.base.UpscaleMethod.tile_size`, which must be a whole
    number >= 1 or None (0 raised ZeroDivisionError, 12.5 or "64" numpy's errors, -8 was taken
    on dask inputs, True was blamed on the caller's ``tile=``)."""
    from ..validate import check_whole

    value = method.tile_size(factor)
    if value is None:
        return None
    return check_whole(
        f"tile_size({factor}) of method {method.recorded_name()!r}", value, 1,
        hint="the spatial tile in coarse pixels the engine splits larger chunks into, or None "
             "to keep the input's chunks",
    )


def guide_fill_reach(method: UpscaleMethod, factor: int) -> int:
    """Reach (fine pixels) of the gap filling a method applies to its guide before it runs (0:
    none, or pixel by pixel): the method's ``guide_fill_radius(factor)`` when it has one (torch
    models, :meth:`~xlstsr.methods.torch_model.TorchModelMethod.guide_fill_radius`).

    A tile's guide is cut this much wider than its model window and filled by the method's
    ``fill_guide_gaps`` before it is cut back: filled on the model window alone, a gap at the
    window's edge lost its outside neighbours, and the model carried that into the tile (0.1 K
    seams next to tile boundaries)."""
    radius = getattr(method, "guide_fill_radius", None)
    return 0 if radius is None else max(0, int(radius(factor)))


def guide_step_stats(lst: np.ndarray, guide: np.ndarray, far: np.ndarray | None,
                     factor: int) -> dict[str, np.ndarray]:
    """Per-step summary of a guide under an LST, what :func:`xlstsr.upscale` judges a guide
    date by (a band with no valid pixel or one value, much of it a model's constant fill):
    ``ok``/``lo``/``hi`` (n, c), whether each band has a valid pixel and its range; ``has_lst``
    (n,), whether the LST has a clear pixel; ``under``/``total`` (n,), the fine pixels of clear
    coarse pixels that ``far`` (n or 1, Y, X; a method's ``guide_constant_mask``, or None)
    marks, and all of them. ``lst`` (n, y, x), ``guide`` (n or 1, c, Y, X). Summaries of
    parts of an image are combined by :func:`merge_guide_stats` (tiles: ``ok``/``lo``/``hi``
    may be of overlapping windows, the counts must be of disjoint cores)."""
    f = int(factor)
    g = np.asarray(guide)
    n, ny, nx = lst.shape
    ok = np.isfinite(g)
    hi = np.where(ok, g, -np.inf).max(axis=(2, 3))
    lo = np.where(ok, g, np.inf).min(axis=(2, 3))
    ok = ok.any(axis=(2, 3))
    clear = np.isfinite(lst)
    under = np.zeros(n, np.int64)
    if far is not None and far.any():
        per_block = far.reshape(far.shape[0], ny, f, nx, f).sum(axis=(2, 4), dtype=np.int64)
        under = (per_block * clear).sum(axis=(1, 2))
    shape = (n, g.shape[1])  # a static guide: the same for every step
    return {"ok": np.broadcast_to(ok, shape), "lo": np.broadcast_to(lo, shape),
            "hi": np.broadcast_to(hi, shape), "has_lst": clear.any(axis=(1, 2)),
            "under": under, "total": clear.sum(axis=(1, 2), dtype=np.int64) * f * f}


def merge_guide_stats(parts: list[dict[str, np.ndarray]]) -> dict[str, np.ndarray]:
    """:func:`guide_step_stats` of an image from those of its parts (tiles)."""
    def fold(key: str, op: Any) -> np.ndarray:
        return op.reduce(np.stack([p[key] for p in parts]), axis=0)

    return {"ok": fold("ok", np.logical_or), "lo": fold("lo", np.minimum),
            "hi": fold("hi", np.maximum), "has_lst": fold("has_lst", np.logical_or),
            "under": fold("under", np.add), "total": fold("total", np.add)}


class GuideWatch:
    """The per-step guide summaries (:func:`guide_step_stats`) of a lazy run, gathered from its
    tile tasks and handed to ``report(step, stats)`` once per time step, when the last of the
    step's tiles is in: the guide's values are at hand only there (read while the graph is
    built, a lazy run read the whole guide). A tile computed again replaces its own summary, so
    a partial compute (a slice of the result) followed by a whole one reports once, whole.

    In this process only (dask's threads or sync scheduler): a copy pickled to a
    dask.distributed worker gathers and reports nothing (each task would hold its own)."""

    def __init__(self, report: Callable[[int, dict[str, np.ndarray]], None]) -> None:
        self.report: Callable[[int, dict[str, np.ndarray]], None] | None = report
        self.tiles = 0
        self._seen: dict[int, dict[Any, dict[str, np.ndarray]]] = {}
        self._lock = threading.Lock()
        self._reporting = threading.Lock()  # one report at a time: each kind said once

    def __getstate__(self) -> dict[str, Any]:
        return {"report": None, "tiles": 0}  # inert where pickled (the lock does not pickle)

    def __setstate__(self, state: dict[str, Any]) -> None:
        self.__init__(state["report"])  # type: ignore[misc]

    @property
    def active(self) -> bool:
        """Whether it gathers (not a copy pickled to another process: the tiles' summaries
        would be computed for nothing)."""
        return self.report is not None and self.tiles > 0

    def add(self, step0: int, tile: Any, stats: dict[str, np.ndarray]) -> None:
        """Record one tile's summaries of steps ``step0``, ``step0 + 1``..."""
        if not self.active:
            return
        done = []
        with self._lock:  # tasks run on dask's threads
            for i in range(len(stats["has_lst"])):
                per = self._seen.setdefault(step0 + i, {})
                per[tile] = {k: v[i:i + 1] for k, v in stats.items()}
                if len(per) == self.tiles:
                    done.append((step0 + i, merge_guide_stats(list(per.values()))))
                    del self._seen[step0 + i]
        for step, merged in done:  # reported one at a time (a kind said once, not per thread)
            with self._reporting:
                self.report(step, merged)


def _tile_guide_stats(method: UpscaleMethod, factor: int, lst: np.ndarray, guide: np.ndarray,
                      guide_crop: tuple[slice, slice] | None, core: tuple[slice, slice],
                      skipped: bool) -> dict[str, np.ndarray]:
    """:func:`guide_step_stats` of one tile: the guide's validity and range on its window, the
    LST and the method's constant fill (its ``guide_constant_mask``, on the window cut wide
    enough for the fill's reach) on the tile's core."""
    cy, cx = core
    far = None
    mask_of = getattr(method, "guide_constant_mask", None)
    if mask_of is not None and not skipped:
        far = mask_of(guide, factor)
        if far is not None:
            if guide_crop is not None:
                far = far[..., guide_crop[0], guide_crop[1]]
            f = int(factor)
            far = far[..., cy.start * f: cy.stop * f, cx.start * f: cx.stop * f]
    return guide_step_stats(lst[:, cy, cx], guide, far, factor)


def _upscale_numpy(
    method: UpscaleMethod,
    lst: np.ndarray,
    guide: np.ndarray | None,
    factor: int,
    filled: np.ndarray | None = None,
) -> np.ndarray:
    """Whole-array inference on (n, y, x) LST and (n, c, Y, X) guide (``filled``: the LST with
    its gaps already filled, e.g. by the engine's first pass)."""
    n, ny, nx = lst.shape
    out_dtype = np.float64 if lst.dtype == np.float64 else np.float32
    valid = np.isfinite(lst)
    keep = valid.reshape(n, -1).any(axis=1)  # all-NaN images are skipped
    if not keep.any():
        return np.full((n, ny * factor, nx * factor), np.nan, dtype=out_dtype)
    sub = lst[keep]
    filled = fill_gaps(sub, model_halo(method, factor)) if filled is None else filled[keep]
    g = None if guide is None else guide[keep]
    res = method.upscale_block(filled, valid[keep], g, factor)
    _check_result(method, res, (sub.shape[0], ny * factor, nx * factor))
    _check_finite(method, res, valid[keep], factor)
    if not (isinstance(res, np.ndarray) and res.dtype == out_dtype
            and (res.flags.owndata or method.returns_new_arrays)
            and res.flags.writeable and res.flags.c_contiguous):
        res = np.array(res, dtype=out_dtype, copy=True)  # never re-mask a method's own array
    # re-mask in place through a (n, y, f, x, f) view, indexed by the gap pixels only: no
    # factor^2-sized mask, and a cost in gaps, not in output pixels
    gi, gy, gx = np.nonzero(~valid[keep])
    if gi.size:
        view = res.reshape(res.shape[0], ny, factor, nx, factor)
        view[gi, gy, :, gx, :] = np.nan
    if keep.all():
        return res
    out = np.full((n, ny * factor, nx * factor), np.nan, dtype=out_dtype)
    out[keep] = res
    return out


class MethodResultError(XlstsrError, RuntimeError):
    """A method's ``upscale_block`` returned something other than the numpy array of Kelvin it
    must return (a torch tensor, a list, another shape). A RuntimeError as well: the wrong
    shape was one before it was an :class:`~xlstsr.errors.XlstsrError`."""


def _check_result(method: UpscaleMethod, res: Any, shape: tuple[int, int, int]) -> None:
    """Refuse a result that is not a numpy array of ``shape``: a torch tensor (a torch-based
    method without ``.numpy()``) or a list reached numpy's reductions as a raw TypeError or
    AttributeError."""
    want = ("upscale_block must return a numpy array of shape (n, y*factor, x*factor) in "
            f"Kelvin, here {shape}")
    if not isinstance(res, np.ndarray):
        kind = f"{type(res).__module__}.{type(res).__qualname__}".removeprefix("builtins.")
        tensor = hasattr(res, "detach") and hasattr(res, "numpy")
        raise MethodResultError(
            f"method {method.recorded_name()!r} returned a {kind}: its {want}"
            + (" (e.g. `.detach().cpu().numpy()` for a tensor)" if tensor
               else " (e.g. `np.asarray(...)`, or `.numpy()` for a tensor)") + "."
        )
    if res.shape != shape:
        raise MethodResultError(
            f"method {method.recorded_name()!r} returned shape {res.shape}, expected {shape}: "
            f"its {want}."
        )
    if res.dtype.kind not in "fiu":
        raise MethodResultError(
            f"method {method.recorded_name()!r} returned an array of {res.dtype}: its {want} "
            "(floating point)."
        )


def _check_finite(method: UpscaleMethod, res: Any, valid: np.ndarray, factor: int) -> None:
    """Refuse NaN or infinite output under observed coarse pixels: re-masked, it would pass on
    as cloud gaps without a word (the output is NaN exactly where the coarse pixel is a gap, and
    a torch model doing the same is refused by :func:`xlstsr.nn.runtime.forward`). One
    reduction of the output when it is finite (a sum is finite iff every Kelvin value is)."""
    # float32 pairwise: ~8 ms on 4800 x 4800, no overflow at 300 K; float16 (whose largest value
    # is 65504) summed in float32 or float64: its own sum overflowed with numpy's warning
    acc = np.float32 if res.dtype == np.float16 else None
    if np.isfinite(np.sum(res, dtype=acc)):
        return
    n, ny, nx = valid.shape
    bad = ~np.isfinite(np.asarray(res)).reshape(n, ny, factor, nx, factor)
    count = int((bad & valid[:, :, None, :, None]).sum())
    if count:
        from ..errors import ImplausibleOutputError

        raise ImplausibleOutputError(
            f"method {method.recorded_name()!r} returned NaN or infinite values at {count} of the "
            f"{int(valid.sum()) * factor * factor} fine pixels under clear coarse pixels of a "
            "block (an image or a tile): they would silently become gaps. Its upscale_block gets gap-filled LST and must return finite "
            "Kelvin wherever the LST is clear (the engine re-masks the gaps itself); check it "
            "on a small input."
        )


def _axis_edges(chunks: tuple[int, ...]) -> list[int]:
    """The block edges along one axis (``0``, then each chunk's end), computed once per array:
    the engine looks a window up in them for every tile task (recomputed per lookup, the
    cumulative sum over all of a 10-year daily cube's 3 650 time chunks made the graph build
    quadratic in the chunks, 37 s for 91 250 tiles)."""
    return [0, *itertools.accumulate(int(c) for c in chunks)]


def _axis_blocks(edges: list[int], start: int, stop: int) -> tuple[range, int]:
    """The blocks along one axis (its :func:`_axis_edges`) that hold ``[start, stop)`` and
    ``start``'s offset in the first."""
    first = bisect.bisect_right(edges, start) - 1
    last = bisect.bisect_left(edges, stop) - 1
    return range(first, last + 1), start - edges[first]


def _axis_window(edges: list[int], start: int, stop: int) -> tuple[range, slice]:
    """The blocks along one axis that hold ``[start, stop)`` and its slice into their
    concatenation."""
    idx, off = _axis_blocks(edges, start, stop)
    return idx, slice(off, off + stop - start)


def _keys(name: str, per_axis: Any) -> Any:
    """The key of the one block, or the nested list of keys (one level per axis), that the
    per-axis block ranges ``per_axis`` (:func:`_axis_window`'s) cover in array ``name``."""
    if all(len(idx) == 1 for idx, _ in per_axis):
        return (name, *(idx[0] for idx, _ in per_axis))

    def nest(prefix: tuple[int, ...]) -> Any:
        if len(prefix) == len(per_axis):
            return (name, *prefix)
        return [nest((*prefix, i)) for i in per_axis[len(prefix)][0]]

    return nest(())


def _assemble(blocks: Any, sl: tuple[slice, ...]) -> np.ndarray:
    """A window from the blocks that hold it (a nested list is joined with ``np.block``)."""
    return (np.block(blocks) if isinstance(blocks, list) else np.asarray(blocks))[sl]


def _tile_task(
    lst_blocks: Any,
    guide_blocks: Any,
    shipment: Shipment | None,
    *,
    method: UpscaleMethod,
    factor: int,
    lst_slice: tuple[slice, ...],
    guide_slice: tuple[slice, ...] | None,
    guide_crop: tuple[slice, slice] | None,
    model: tuple[slice, slice],
    core: tuple[slice, slice],
    fill_radius: int | None,
    out_dtype: Any,
    watch: GuideWatch | None = None,
    step0: int = 0,
    tile: Any = None,
) -> np.ndarray:
    """One output tile: its input window (the tile, the model's halo and the gap filling's halo
    beyond it, clipped at the image's edges) is cut from the input blocks that hold it, gaps are
    filled on the whole window (``fill_radius``; None: by the method's call on the model window),
    the method runs on the model window (the tile and one halo) and the core is kept. The guide's
    window is the model window's (in fine pixels) and, with ``guide_crop`` (its slices into the
    cut), the method's guide gap filling's reach beyond it: filled there, then cut back.
    ``watch``: where the run's guide is judged step by step, the tile's summaries of its steps
    (``step0`` on; ``tile``: its place) are given to it, cloudy tiles' too."""
    check_cancelled()  # the run stopped (Ctrl-C, another region's error): no more tiles
    lst = _assemble(lst_blocks, lst_slice)
    n = lst.shape[0]
    cy, cx = core
    mlst = lst[:, model[0], model[1]]
    skipped = not np.isfinite(mlst[:, cy, cx]).any()
    g = None
    watching = watch is not None and watch.active
    if guide_blocks is not None and (watching or not skipped):
        g = _assemble(guide_blocks, guide_slice)
        if watching:  # a guide date all cloud is judged on every tile of it
            watch.add(step0, tile, _tile_guide_stats(method, factor, mlst, g, guide_crop, core,
                                                     skipped))
    if skipped:  # cloudy tile: nothing to compute
        ny, nx = len(range(*cy.indices(mlst.shape[1]))), len(range(*cx.indices(mlst.shape[2])))
        return np.full((n, ny * factor, nx * factor), np.nan, dtype=out_dtype)
    deliver(method, shipment)
    filled = None
    if fill_radius is not None:  # each filled value depends on data within fill_radius only
        filled = fill_gaps(lst, fill_radius)[:, model[0], model[1]]
    guide = None
    if g is not None:
        if guide_crop is not None:  # gaps filled from the same neighbours as on the whole image
            g = method.fill_guide_gaps(g, factor)[..., guide_crop[0], guide_crop[1]]
        guide = np.broadcast_to(g, (n, *g.shape[1:]))
    res = _upscale_numpy(method, mlst, guide, factor, filled)
    return res[:, cy.start * factor : cy.stop * factor, cx.start * factor : cx.stop * factor]


def _check_travels(method: UpscaleMethod) -> None:
    """Under a dask.distributed client, refuse a method that does not pickle (a lock, an open
    file, a database handle): the client pickles the graph it sends to its scheduler and
    workers (threads in this process included), and every run failed with distributed's "Could
    not serialize object" and pages of tracebacks, naming neither the method nor the attribute.
    Pickled once here, with the state it ships apart left out; a method that is not xlstsr's
    own is then tried on the workers (:func:`_refuse_unloadable`)."""
    from .regions import active_client  # looked up per call (tests stand in a client)

    client = active_client()
    if client is None:  # dask's threads or sync scheduler: nothing is pickled
        return
    import cloudpickle

    try:
        payload = cloudpickle.dumps(method)
    except Exception as err:  # TypeError, PicklingError, anything pickle refuses
        cause = f"{type(err).__name__}: {err}"
    else:
        _refuse_unloadable(client, method, payload)
        return
    culprit = ""
    try:
        state = method.__getstate__()
    except Exception:
        state = None
    if isinstance(state, dict):
        for key, value in state.items():
            try:
                cloudpickle.dumps(value)
            except Exception:
                culprit = f" (its attribute {key!r}, a {type(value).__name__}, does not)"
                break
    raise XlstsrError(
        f"method {method.recorded_name()!r} cannot be pickled{culprit}, and the active "
        f"dask.distributed client sends it pickled to its scheduler and workers ({cause}). "
        "Create what does not pickle inside upscale_block (on first use, where it runs), "
        "or give the class a `__getstate__` that leaves it out (and a `__setstate__` that "
        "makes it again), or run it on dask's threads without the client: "
        "`with dask.config.set(scheduler='threads'): ...`."
    )


#: the largest pickled method that :func:`_refuse_unloadable` sends the workers to unpickle (what
#: every task carries anyway); a larger one (a user's arrays without a ``state_key``) is
#: checked by the modules of its class only
_TRIAL_BYTES = 1 << 20

#: the workers' positive answers, per (client, worker addresses, class, payload size and hash):
#: asking each call cost a round trip carrying the method to every worker (2.8 ms a call, 9.8 ms
#: for a 0.9 MiB method); bounded, oldest dropped first
_LOADABLE: dict[tuple, Any] = {}
_LOADABLE_MAX = 64
_LOADABLE_LOCK = threading.Lock()


def _task_pickle() -> tuple[Callable[[Any], bytes], Callable[[bytes], Any]]:
    """The pickle dask.distributed ships tasks with (the standard pickle, cloudpickle only where
    that fails or the result names ``__main__``): a class of a module registered with
    ``cloudpickle.register_pickle_by_value`` travels by reference in it, so a trial with
    cloudpickle's own payload passed where the tasks then killed the worker."""
    try:
        from distributed.protocol.pickle import dumps, loads
    except ImportError:  # pragma: no cover - no distributed: no client, no trial either
        import pickle

        return pickle.dumps, pickle.loads
    return dumps, loads


def _by_value(cls: type) -> bool:
    """Whether cloudpickle pickles ``cls`` by value (its definition, not its module's name): a
    class defined in a function (``<locals>``), one its module does not hold under its name, or
    one of a module registered with ``cloudpickle.register_pickle_by_value``."""
    if "<locals>" in cls.__qualname__:
        return True
    found: Any = sys.modules.get(cls.__module__)
    for part in cls.__qualname__.split("."):
        found = getattr(found, part, None)
    if found is not cls:
        return True
    return _registered_by_value(cls.__module__)


def _registered_by_value(module: str) -> bool:
    """Whether ``module`` (or a package above it) is registered with
    ``cloudpickle.register_pickle_by_value``."""
    import cloudpickle

    registered = cloudpickle.list_registry_pickle_by_value()
    parts = module.split(".")
    return any(".".join(parts[:i]) in registered for i in range(1, len(parts) + 1))


def _sent_by_value(task: Any) -> bool:
    """Whether distributed's pickle falls back to cloudpickle for ``task`` (the standard pickle
    fails, or its result names ``__main__``): only then do :func:`_by_value` classes travel by
    value."""
    import pickle

    try:
        data = pickle.dumps(task, protocol=pickle.HIGHEST_PROTOCOL)
    except Exception:  # a local class, a lambda: distributed retries with cloudpickle
        return True
    return b"__main__" in data


def _load_error(payload: bytes | None, modules: tuple[str, ...]) -> str | None:
    """Run on each dask worker (by :func:`_refuse_unloadable`): None where this process can
    unpickle the method's trial task (``payload``, pickled as distributed pickles tasks), or find
    the ``modules`` its class comes from when no payload is sent; else the error, as text (plain
    data that travels back to the client)."""
    import importlib.util

    if payload is not None:
        loads = _task_pickle()[1]
        try:
            loads(payload)
        except Exception as err:  # ImportError, AttributeError (another version), __setstate__
            return f"{type(err).__name__}: {err}"
        return None
    for name in modules:
        try:
            found = importlib.util.find_spec(name)
        except Exception as err:  # a parent package that fails to import
            return f"{type(err).__name__}: {err}"
        if found is None:
            return f"ModuleNotFoundError: No module named {name!r}"
    return None


def _upload_advice(module: str) -> str:
    """How to send ``module`` to the workers: its file for a top-level module; for a module of a
    package (its ``__init__.py`` included) the package zipped (``upload_file`` of a single file
    of it does not make the package importable)."""
    path = getattr(sys.modules.get(module), "__file__", None)
    if "." not in module and path and path.endswith(".py") and not path.endswith("__init__.py"):
        return f"`client.upload_file({path!r})`"
    top = module.split(".")[0]
    init = getattr(sys.modules.get(top), "__file__", None)
    if init and init.endswith("__init__.py"):
        import os

        folder = os.path.dirname(init)
        parent = os.path.dirname(folder)
        zipping = (f"`shutil.make_archive({top!r}, 'zip', {parent!r}, "
                   f"{os.path.basename(folder)!r})`")
    else:
        zipping = f"a zip of the folder {top!r} at its root"
    return (f"its package zipped, {zipping} then `client.upload_file({top + '.zip'!r})` (a "
            "single file of a package does not make it importable)")


def _refuse_unloadable(client: Any, method: UpscaleMethod, payload: bytes) -> None:
    """Refuse a user's method that the workers of ``client`` cannot unpickle: its class is
    pickled by reference to a module of the user's that they cannot import (not installed
    there, not sent with ``client.upload_file``). A worker died unpickling the first task, its
    nanny failed to restart it, and the cluster was left with no worker: ``.compute()`` and
    upscale_to_zarr waited for ever, with no message. The workers are asked once (one
    ``client.run``) per cluster, worker set, class and payload (a yes is remembered); xlstsr's
    own methods and in-process workers are not asked, and a worker that cannot answer is not
    taken for one that fails. ``payload``: the method cloudpickled (its size and the test that
    it pickles); the trial is pickled as distributed pickles its tasks."""
    from ..methods.base import _built_in

    cls = type(method)
    if _built_in(cls):
        return
    try:
        info = client.scheduler_info().get("workers", {})
        # each worker by its address and its working folder, which a restarted worker (same
        # port: client.restart(), --worker-port) gets anew: a yes remembered by address alone
        # let a restarted worker without the module die on the first task
        workers = frozenset((str(w), str((v or {}).get("local_directory")))
                            for w, v in info.items())
    except Exception:  # a client that cannot answer: assume remote workers
        workers = None
    # workers in this process share its modules (on the addresses asked once here: the worker
    # set keys the remembered answers too)
    if workers and workers_in_process(client, [w for w, _ in workers]):
        return
    # the cloudpickled method (made already) keys the remembered answers: building the trial
    # on each call cost as much again as the rest (1 MiB pickled twice)
    key = None
    if workers is not None:
        key = (getattr(client, "id", None) or id(client), workers, cls, len(payload),
               hash(payload))
        with _LOADABLE_LOCK:
            ref = _LOADABLE.get(key)
        if ref is not None and ref() is client:
            return
    task = partial(_tile_task, method=method)  # what each task carries, as it is pickled
    modules: tuple[str, ...] = ()
    if len(payload) <= _TRIAL_BYTES:
        payload_sent = _task_pickle()[0](task)
    else:
        payload_sent = None
        # a class of ``__main__`` travels by value, as one of a function or a module registered
        # with cloudpickle where distributed's pickle falls back to cloudpickle (``<locals>``)
        by_value = _sent_by_value(task)
        modules = tuple(dict.fromkeys(
            c.__module__ for c in cls.__mro__
            if c.__module__ not in ("builtins", "__main__") and not _built_in(c)
            and not (by_value and _by_value(c))))
        if not modules:
            return
    try:
        answers = client.run(_load_error, payload_sent, modules, on_error="return")
    except Exception:  # a client that cannot ask: the tasks will tell
        return
    failed = {str(w): err for w, err in answers.items() if isinstance(err, str)}
    if not failed:
        if key is not None and all(err is None for err in answers.values()):
            import weakref

            with _LOADABLE_LOCK:
                _LOADABLE[key] = weakref.ref(client)
                while len(_LOADABLE) > _LOADABLE_MAX:
                    del _LOADABLE[next(iter(_LOADABLE))]
        return
    workers_failed = sorted(failed)
    shown = ", ".join(workers_failed[:4]) + (f" and {len(workers_failed) - 4} more"
                                             if len(workers_failed) > 4 else "")
    module = cls.__module__
    registered = (" (cloudpickle.register_pickle_by_value does not send it: dask.distributed "
                  "pickles tasks with the standard pickle first, by reference)"
                  if _registered_by_value(module) else "")
    raise XlstsrError(
        f"method {method.recorded_name()!r} (class {cls.__qualname__!r} of module {module!r}) "
        f"cannot be loaded on {len(failed)} of the {len(answers)} dask workers ({shown}): "
        f"{failed[workers_failed[0]]}. The active dask.distributed client sends the method "
        "pickled to its workers, which import its class from its module; the computation would "
        "wait for ever (a worker dies on the first task). Send the module to the workers"
        f"{registered} before computing, {_upload_advice(module)}, or install it there (the "
        "same version), or define the class in the script itself (`__main__`), which the "
        "client sends by value."
    )


def task_prefix(method: UpscaleMethod) -> str:
    """Dask key prefix of a method's block tasks, e.g. ``"xlstsr-dms"``.

    Examples
    --------
    >>> from xlstsr.methods import get_method
    >>> task_prefix(get_method("bicubic"))
    'xlstsr-bicubic'
    """
    return "xlstsr-" + re.sub(r"[^A-Za-z0-9_.]+", "_", str(method.name))


def _merge_small_chunks(chunks: tuple[int, ...], minimum: int) -> tuple[int, ...]:
    """Merge chunks smaller than ``minimum`` (the halo) into their neighbours."""
    out: list[int] = []
    for c in chunks:
        if out and (out[-1] < minimum or c < minimum):
            out[-1] += c
        else:
            out.append(c)
    if len(out) > 1 and out[-1] < minimum:
        out[-2] += out.pop()
    return tuple(out)


def _regular(chunks: tuple[int, ...]) -> bool:
    """Whether an axis's chunks are as Zarr writes them: all of one size but a last one no
    larger (a single chunk included)."""
    return len(set(chunks[:-1])) <= 1 and chunks[-1] <= chunks[0]


def _split_large_chunks(chunks: tuple[int, ...], tile: int) -> tuple[int, ...]:
    """Chunks no larger than about ``tile``, regular (all of one size but a last one no larger:
    Zarr's chunking) wherever the input's were.

    A regular axis whose chunks exceed ``tile`` is cut as a whole into parts of one size: the
    input's chunk divided into equal parts where it divides (the tiles stay inside the input's
    chunks), else the axis in near-equal parts of at most ``tile`` (a tile then straddles an
    input chunk's edge, which the tile's task joins from both blocks, as it joins its halo).
    Each chunk split on its own, 512-px chunks cut by a 192-px tile gave 171, 171, 170, 171...:
    an output that ``to_zarr`` refused ("Zarr requires uniform chunk sizes"). An irregular axis
    (not Zarr-writable as it is) has each chunk larger than ``tile`` split on its own.

    Examples
    --------
    >>> _split_large_chunks((1200,), 192), _split_large_chunks((1200,), 128)
    ((172, 172, 172, 172, 172, 172, 168), (120, 120, 120, 120, 120, 120, 120, 120, 120, 120))
    >>> _split_large_chunks((512, 512, 176), 128)  # the chunk divides: tiles inside chunks
    (128, 128, 128, 128, 128, 128, 128, 128, 128, 48)
    >>> _split_large_chunks((512, 512, 176), 192)  # it does not: the axis in near-equal parts
    (172, 172, 172, 172, 172, 172, 168)
    """
    if not chunks or max(chunks) <= tile:
        return tuple(chunks)
    if _regular(chunks):
        n, c = sum(chunks), chunks[0]
        k = -(-c // tile)  # ceil: parts of the input's chunk
        part = c // k if c % k == 0 else -(-n // -(-n // tile))
        full, rest = divmod(n, part)
        return (part,) * full + ((rest,) if rest else ())
    out: list[int] = []
    for c in chunks:
        k = max(1, -(-c // tile))  # ceil
        part = -(-c // k)
        out.extend([part] * (k - 1) + [c - part * (k - 1)])
    return tuple(out)


def resolve_tile(method: UpscaleMethod, factor: int, tile: int | str | None) -> int | None:
    """The spatial tile (coarse pixels) the engine uses: ``"auto"`` asks the method."""
    if tile == "auto":
        return method_tile(method, factor) if method.spatially_local else None
    if tile is None:
        return None
    from ..validate import check_whole

    return int(check_whole("tile", tile, 1, hint="coarse pixels, 'auto' or None"))


def _check_array_args(method: Any, lst: Any, guide: Any, factor: Any) -> None:
    """The array layer's arguments, named: ``factor=0`` returned an empty array, a method
    given by name or a 2-D image raised numpy's or the method's own errors."""
    from ..errors import GridError, InputTypeError
    from ..validate import check_factor

    if not isinstance(method, UpscaleMethod):
        raise InputTypeError(
            f"method must be an UpscaleMethod, got {type(method).__name__} {method!r:.40}: "
            "`xlstsr.methods.get_method(name)` makes one (upscale_array is the array layer; "
            "xlstsr.upscale takes names)."
        )
    check_factor(factor)
    if np.ndim(lst) != 3:
        raise GridError(f"lst must be (n, y, x) (time steps, rows, columns), got shape "
                        f"{np.shape(lst)}: a single image is `lst[None]`")
    if guide is not None and np.ndim(guide) != 4:
        raise GridError(f"guide must be (n or 1, c, y*factor, x*factor), got shape "
                        f"{np.shape(guide)}: a single-band guide is `guide[:, None]`")
    if guide is not None:
        # a dask guide of another size was cut to its top-left corner (tiles read the wrong
        # place) or failed in np.block; a numpy one failed in the method or in broadcasting
        n, ny, nx = np.shape(lst)
        f = int(factor)
        gshape = tuple(np.shape(guide))
        if gshape[2:] != (ny * f, nx * f) or gshape[0] not in (1, n):
            first = "1" if n == 1 else f"{n} or 1"
            raise GridError(
                f"guide must have shape ({first}, c, {ny * f}, {nx * f}) for an lst of shape "
                f"{(n, ny, nx)} and factor {f} (the fine grid, {f} times the LST's), got "
                f"{gshape}: regrid it onto the LST's grid refined {f} times (xlstsr.upscale "
                "does, from georeferenced DataArrays), or pass one guide per time step or one "
                "for all."
            )


def _bounds(chunks: tuple[int, ...]) -> list[tuple[int, int]]:
    edges = np.cumsum((0, *chunks))
    return [(int(a), int(b)) for a, b in itertools.pairwise(edges)]


#: the most output one task of a method that is not spatially local (whole images, one fit
#: each) makes: a time chunk whose output would be larger is split into fewer steps per task
#: (as :func:`xlstsr.upscale_to_zarr` keeps its regions' output under 256 MiB)
WHOLE_IMAGE_TASK_BYTES = 256 * 1024**2


def _time_chunks(chunks: tuple[int, ...], local: bool, step_bytes: int) -> tuple[int, ...]:
    """The engine's time chunks (its tasks' steps and the output's): the input's, split for a
    method that is not spatially local where a chunk's whole images would make more than
    :data:`WHOLE_IMAGE_TASK_BYTES` of output (at least one step per task; regular where the
    input's were, :func:`_split_large_chunks`). Such a method fits each image on its own
    (:attr:`~xlstsr.methods.base.UpscaleMethod.spatially_local`): the steps of one input chunk
    in several tasks give the same images. A Pangeo-usual (30, 600, 600) chunking of 1200 x
    1200 days was refused for dms and tsharp ("each output chunk would hold 2.6 GiB"), and
    smaller y/x chunks, the refusal's advice, changed nothing (whole images).

    Examples
    --------
    >>> t = _time_chunks((30, 30, 5), False, 92 * 1024**2)  # 1200 x 1200 days at x4, float32
    >>> t[:3], t[-1], len(t)
    ((2, 2, 2), 1, 33)
    >>> _time_chunks((30, 30, 5), True, 92 * 1024**2)  # tiles: the input's time chunks
    (30, 30, 5)
    """
    if local:
        return tuple(chunks)
    most = max(1, WHOLE_IMAGE_TASK_BYTES // max(1, int(step_bytes)))
    return _split_large_chunks(tuple(chunks), most)


@contextlib.contextmanager
def _gc_paused() -> Iterator[None]:
    """Python's cyclic garbage collector off while a graph's tasks are made (back on after, as
    it was): they hold no cycles, and its passes over the growing dict of task tuples made a
    large graph's build several times slower."""
    was = gc.isenabled()
    gc.disable()
    try:
        yield
    finally:
        if was:
            gc.enable()


def _tile_axes(method: UpscaleMethod, factor: int, chunks: tuple[tuple[int, ...], ...],
               size: int | None) -> tuple[tuple[int, ...], tuple[int, ...], int,
                                          tuple[tuple[int, ...], tuple[int, ...]]]:
    """The engine's tiles along y and x (coarse pixels), the model's halo, and the output's
    chunks along y and x (coarse pixels): the input's, split as the tiles are, before chunks
    narrower than the halo are merged into their neighbours."""
    if not method.spatially_local:  # a scene-wide fit: whole images, parallel over time
        whole = (sum(chunks[1]),), (sum(chunks[2]),)
        return whole[0], whole[1], 0, whole
    h = model_halo(method, factor)
    tiles, outs = [], []
    for ch in chunks[1:]:
        if size is not None:
            ch = _split_large_chunks(ch, size)
        outs.append(ch)
        # a tile narrower than the halo would cost more in halo than in core
        tiles.append(_merge_small_chunks(ch, h))
    return tiles[0], tiles[1], h, (outs[0], outs[1])


def upscale_array(
    method: UpscaleMethod,
    lst: Any,
    guide: Any | None,
    factor: int,
    *,
    tile: int | str | None = "auto",
    watch: GuideWatch | None = None,
) -> Any:
    """Upscale (n, y, x) LST with an optional (n or 1, c, y*f, x*f) guide; numpy or dask.

    Dask input stays lazy: one task per time chunk and tile, which cuts its input window (the
    tile, the model's receptive field and the gap filling's reach beyond it,
    :func:`engine_depth`) from the input blocks that hold it, or per time chunk on whole images
    for methods that are not spatially local (a time chunk whose output would exceed
    :data:`WHOLE_IMAGE_TASK_BYTES` in fewer steps per task, :func:`_time_chunks`). Tiles are
    the input's chunks split to at most ``tile`` coarse pixels (``"auto"``: the method's
    :meth:`~xlstsr.methods.base.UpscaleMethod.tile_size`, the size it runs fastest at,
    docs/results/engine.md), a regularly chunked axis cut as a whole into parts of one size
    (:func:`_split_large_chunks`); output chunks are the tiles times ``factor`` (where a chunk
    narrower than the model's halo shares its neighbour's tile, the output keeps the split
    chunks, times ``factor``): a Zarr-writable input gives a Zarr-writable output. Numpy
    input larger than two tiles runs the same tiled graph on dask's threads and returns numpy;
    smaller input runs whole-array inference.

    ``watch``: on a dask run with a guide, a :class:`GuideWatch` that the tile tasks give their
    guide summaries to, step by step (ignored in memory, where the caller has the values).

    Examples
    --------
    >>> import dask.array as dsa
    >>> from xlstsr.methods import get_method
    >>> lst = dsa.full((2, 40, 40), 300.0, chunks=(1, 40, 40))
    >>> sr = upscale_array(get_method("bicubic"), lst, None, 4, tile=16)
    >>> sr.chunks[1], float(sr[0, 5, 5].compute())
    ((56, 56, 48), 300.0)
    """
    _check_array_args(method, lst, guide, factor)
    size = resolve_tile(method, factor, tile)
    if not isinstance(lst, dsa.Array) and not isinstance(guide, dsa.Array):
        lst = np.asarray(lst)
        if guide is not None:
            guide = np.broadcast_to(np.asarray(guide), (lst.shape[0], *np.shape(guide)[1:]))
        if size is None or max(lst.shape[1:]) <= 2 * size:
            return _upscale_numpy(method, lst, guide, factor)
        # a large in-memory image: the tiled graph, computed now on threads (built so: a
        # distributed client alive does not run it, nothing is pickled)
        with dask.config.set(scheduler="threads"):
            lazy = upscale_array(method, dsa.from_array(lst, chunks=(1, size, size)),
                                 None if guide is None else dsa.from_array(guide), factor,
                                 tile=size)
        with region_allocation():  # heap-served buffers, as upscale_to_zarr's regions
            return lazy.compute(scheduler="threads")

    lst = dsa.asarray(lst)
    n, ny, nx = lst.shape
    ych, xch, h, (ych_out, xch_out) = _tile_axes(method, factor, lst.chunks, size)
    local = bool(method.spatially_local)
    out_dtype = np.float64 if lst.dtype == np.float64 else np.float32
    step_bytes = ny * nx * factor * factor * np.dtype(out_dtype).itemsize
    tch = _time_chunks(lst.chunks[0], local, step_bytes)
    gn = 0
    if guide is not None:
        # an in-memory guide stays in the graph: scattered under a client, the lazy result was
        # tied to that client (computed with threads, or after close / restart: missing
        # dependency) and every call held its own copy on the cluster; upscale_to_zarr
        # scatters it once per run
        guide = guide if isinstance(guide, dsa.Array) else dsa.asarray(guide)
        gn, gch = guide.shape[:2]
    gr = guide_fill_reach(method, factor) if guide is not None else 0
    if watch is not None and guide is not None:
        watch.tiles = len(ych) * len(xch)  # a step is whole when as many tiles are in
    _check_travels(method)
    shipment = ship_state(method)  # one graph key: fetched once per worker, not pickled per task
    ship_key = None if shipment is None else shipment.key
    name = f"{task_prefix(method)}-" + tokenize(
        method, lst.name, None if guide is None else guide.name, factor, tch, ych, xch, h,
        ship_key)
    dsk: dict[Any, Any] = {}
    # each axis's windows once (the block edges, then each tile's blocks and slices along the
    # axis): a task only combines them (looked up per task, over every chunk, the build was
    # quadratic in the time chunks: 37 s for a 10-year daily cube's 91 250 tiles)
    ledges = [_axis_edges(c) for c in lst.chunks]
    gedges = None if guide is None else [_axis_edges(c) for c in guide.chunks]
    tbounds = _bounds(tch)
    lt = [_axis_window(ledges[0], t0, t1) for t0, t1 in tbounds]
    gt = gcw = None
    if guide is not None:
        gt = [_axis_window(gedges[0], *((t0, t1) if gn == n else (0, gn)))
              for t0, t1 in tbounds]
        gcw = _axis_window(gedges[1], 0, gch)
    axes = []
    for k, (chunks, size_k) in enumerate(((ych, ny), (xch, nx))):
        rows = []
        for a0, a1 in _bounds(chunks):
            # the model's window (one halo) inside the gap filling's (two halos), edges clipped
            m0, m1 = max(0, a0 - h), min(size_k, a1 + h)
            f0, f1 = (max(0, a0 - 2 * h), min(size_k, a1 + 2 * h)) if local else (m0, m1)
            lw = _axis_window(ledges[k + 1], f0, f1)
            gw = crop = None
            if guide is not None:
                # the model window in fine pixels and the guide filling's reach around it
                g0, g1 = max(0, m0 * factor - gr), min(size_k * factor, m1 * factor + gr)
                gw = _axis_window(gedges[k + 2], g0, g1)
                crop = slice(m0 * factor - g0, m1 * factor - g0)
            rows.append((lw, gw, crop, slice(m0 - f0, m1 - f0), slice(a0 - m0, a1 - m0)))
        axes.append(rows)
    # the tasks' tuples (91 250 for a 10-year daily cube): the collector's passes over them, as
    # the dict grew, took 2/3 of the build
    with _gc_paused():
        for it, tw in enumerate(lt):
            for iy, (lyw, gyw, ycrop, ymodel, ycore) in enumerate(axes[0]):
                for ix, (lxw, gxw, xcrop, xmodel, xcore) in enumerate(axes[1]):
                    lkeys = _keys(lst.name, (tw, lyw, lxw))
                    lsl = (tw[1], lyw[1], lxw[1])
                    gkeys = gsl = gcrop = None
                    if guide is not None:
                        gwin = (gt[it], gcw, gyw, gxw)
                        gkeys, gsl = _keys(guide.name, gwin), tuple(w[1] for w in gwin)
                        if gr:
                            gcrop = (ycrop, xcrop)
                    fn = partial(
                        _tile_task, method=method, factor=factor, lst_slice=lsl,
                        guide_slice=gsl, guide_crop=gcrop, model=(ymodel, xmodel),
                        core=(ycore, xcore), fill_radius=h if local else None,
                        out_dtype=out_dtype,
                        **({} if watch is None or guide is None else
                           {"watch": watch, "step0": tbounds[it][0], "tile": (iy, ix)}),
                    )
                    dsk[(name, it, iy, ix)] = (fn, lkeys, gkeys, ship_key)
    deps = [a for a in (lst, guide, shipment) if a is not None]
    graph = HighLevelGraph.from_collections(name, dsk, dependencies=deps)
    chunks = (tch, tuple(c * factor for c in ych), tuple(c * factor for c in xch))
    out = dsa.Array(graph, name, chunks, dtype=out_dtype,
                    meta=np.empty((0, 0, 0), dtype=out_dtype))
    if (ych, xch) != (ych_out, xch_out):
        # a sliver merged into its neighbour's tile (an input's last chunk of 6 pixels, 512
        # before it) made the output's last chunk larger than its first, which `to_zarr`
        # refuses: the output in the input's chunks (split as the tiles), times the factor
        out = out.rechunk((tch, tuple(c * factor for c in ych_out),
                           tuple(c * factor for c in xch_out)))
    return out

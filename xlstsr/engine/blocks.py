"""Graph building: run an upscaling method over (n, y, x) arrays, whole or chunk by chunk.

On dask inputs each chunk is processed with a halo of coarse pixels around it
(``dask.array.map_overlap`` with ``trim=False``); the engine crops ``halo * factor`` fine pixels
itself. A fine guide cannot enter the same ``map_overlap`` call at its own size (dask unifies
chunks by index), so it is viewed space-to-depth as ``(n, c, y, x, f, f)`` with the LST's chunking
on (y, x), and the LST gets trailing length-1 axes. This reproduces whole-array inference exactly.

Gaps (clouds, water) are filled locally before the method runs and re-masked afterwards: an
output pixel is NaN exactly where its parent coarse pixel is. Blocks whose core holds no valid
pixel are skipped (NaN output, no model call).

The halo is the method's receptive field (:meth:`UpscaleMethod.halo`): declared by the method,
or, for torch models that do not declare ``receptive_field``, measured once by an
impulse-response probe (:func:`xlstsr.nn.runtime.measure_receptive_field`). The engine
uses twice that (the gap filling reads as far again).

Methods that carry heavy state (torch weights) enter the graph once through
:mod:`xlstsr.engine.shipping`.
"""

from __future__ import annotations

import re
from functools import partial
from typing import Any

import dask.array as dsa
import numpy as np

from ..kernels.interp import fill_gaps
from ..methods.base import UpscaleMethod
from .shipping import Shipment, deliver, ship_state

__all__ = ["engine_depth", "task_prefix", "upscale_array"]


def engine_depth(method: UpscaleMethod, factor: int) -> int:
    """Halo (coarse pixels) the engine adds around chunks: the method's receptive field plus the
    gap-filling radius (equal to it), so chunked results equal whole-array results.

    The dask graph reaches that far in two passes of :func:`model_halo` each (gaps filled first,
    then the model), so that the model itself runs on a halo of one receptive field."""
    return 2 * model_halo(method, factor)


#: fill gaps in a first pass (True), or fill and run the model in one pass with twice the halo
#: (False; kept for the side-by-side measurement in benchmarks/engine.py)
_TWO_PASS = True


def model_halo(method: UpscaleMethod, factor: int) -> int:
    """Halo (coarse pixels) of each of the engine's two passes: the method's receptive field."""
    return int(method.halo(factor))


def _fill_block(a: np.ndarray, radius: int) -> np.ndarray:
    return fill_gaps(a, radius)


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
    filled = fill_gaps(sub, int(method.halo(factor))) if filled is None else filled[keep]
    g = None if guide is None else guide[keep]
    res = method.upscale_block(filled, valid[keep], g, factor)
    if res.shape != (sub.shape[0], ny * factor, nx * factor):
        raise RuntimeError(
            f"method {method.name!r} returned shape {res.shape}, expected "
            f"{(sub.shape[0], ny * factor, nx * factor)}"
        )
    res = np.array(res, dtype=out_dtype, copy=True)
    # re-mask in place through a (n, y, f, x, f) view: no factor^2-sized mask is materialised
    gap = ~valid[keep][:, :, None, :, None]
    view = res.reshape(res.shape[0], ny, factor, nx, factor)
    np.copyto(view, np.nan, where=np.broadcast_to(gap, view.shape))
    if keep.all():
        return res
    out = np.full((n, ny * factor, nx * factor), np.nan, dtype=out_dtype)
    out[keep] = res
    return out


def _overlap_block(
    lst6: np.ndarray,
    *more: np.ndarray,
    prefilled: bool,
    method: UpscaleMethod,
    factor: int,
    depth: tuple[int, int],
    shipment: Shipment | None = None,
    block_info: dict | None = None,
) -> np.ndarray:
    guide6 = more[1] if prefilled and len(more) > 1 else (more[0] if not prefilled and more else None)
    info = block_info[0]
    (_, _, iy, ix, _, _), (_, _, ny_ch, nx_ch, _, _) = info["chunk-location"], info["num-chunks"]
    # boundary="none": no halo beyond the array edges
    dy, dx = depth
    top, bottom = (dy if iy > 0 else 0), (dy if iy < ny_ch - 1 else 0)
    left, right = (dx if ix > 0 else 0), (dx if ix < nx_ch - 1 else 0)
    lst = lst6[:, 0, :, :, 0, 0]
    n, ny, nx = lst.shape
    cy, cx = ny - top - bottom, nx - left - right
    core = lst[:, top : ny - bottom, left : nx - right]
    out_dtype = np.float64 if lst.dtype == np.float64 else np.float32
    if not np.isfinite(core).any():  # cloudy chunk: nothing to compute
        return np.full((n, 1, cy, cx, factor, factor), np.nan, dtype=out_dtype)
    deliver(method, shipment)
    guide = None
    if guide6 is not None:
        gn, gc = guide6.shape[:2]
        guide = guide6.transpose(0, 1, 2, 4, 3, 5).reshape(gn, gc, ny * factor, nx * factor)
        guide = np.broadcast_to(guide, (n, gc, ny * factor, nx * factor))
    # the LST filled by the first pass (spatially local methods), then the guide, if any
    filled = more[0][:, 0, :, :, 0, 0] if prefilled else None
    res = _upscale_numpy(method, lst, guide, factor, filled)
    res = res[:, top * factor : (ny - bottom) * factor, left * factor : (nx - right) * factor]
    return res.reshape(n, 1, cy, factor, cx, factor).transpose(0, 1, 2, 4, 3, 5)


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
    """Merge chunks smaller than the halo into their neighbours (map_overlap needs depth <= chunk)."""
    out: list[int] = []
    for c in chunks:
        if out and (out[-1] < minimum or c < minimum):
            out[-1] += c
        else:
            out.append(c)
    if len(out) > 1 and out[-1] < minimum:
        out[-2] += out.pop()
    return tuple(out)


def _split_large_chunks(chunks: tuple[int, ...], tile: int) -> tuple[int, ...]:
    """Chunks no larger than about ``tile``: larger ones split into near-equal parts."""
    out: list[int] = []
    for c in chunks:
        k = max(1, -(-c // tile))  # ceil
        base, extra = divmod(c, k)
        out.extend(base + (i < extra) for i in range(k))
    return tuple(out)


def resolve_tile(method: UpscaleMethod, factor: int, tile: int | str | None) -> int | None:
    """The spatial tile (coarse pixels) the engine uses: ``"auto"`` asks the method."""
    if tile == "auto":
        return method.tile_size(factor) if method.spatially_local else None
    if tile is None:
        return None
    tile = int(tile)
    if tile < 1:
        raise ValueError(f"tile must be a positive number of coarse pixels, 'auto' or None, got {tile}")
    return tile


def upscale_array(
    method: UpscaleMethod,
    lst: Any,
    guide: Any | None,
    factor: int,
    *,
    tile: int | str | None = "auto",
) -> Any:
    """Upscale (n, y, x) LST with an optional (n or 1, c, y*f, x*f) guide; numpy or dask.

    Dask input stays lazy: one task per chunk, with a halo of :func:`engine_depth` coarse pixels,
    or per time chunk on whole images for methods that are not spatially local. Chunks larger
    than ``tile`` coarse pixels are split (``"auto"``: the method's
    :meth:`~xlstsr.methods.base.UpscaleMethod.tile_size`; torch models run about twice as fast
    on 128-px tiles than on whole images, docs/results/engine.md); output chunks are the
    input chunks times ``factor``. Numpy input larger than two tiles runs the same tiled graph
    on dask's threads and returns numpy; smaller input runs whole-array inference.
    """
    size = resolve_tile(method, factor, tile)
    if not isinstance(lst, dsa.Array) and not isinstance(guide, dsa.Array):
        lst = np.asarray(lst)
        if guide is not None:
            guide = np.broadcast_to(np.asarray(guide), (lst.shape[0], *np.shape(guide)[1:]))
        if size is None or max(lst.shape[1:]) <= 2 * size:
            return _upscale_numpy(method, lst, guide, factor)
        # a large in-memory image: the tiled graph, computed now on threads
        lazy = upscale_array(method, dsa.from_array(lst, chunks=(1, size, size)),
                             None if guide is None else dsa.from_array(guide), factor, tile=size)
        return lazy.compute(scheduler="threads")

    lst = dsa.asarray(lst)
    n, ny, nx = lst.shape
    if method.spatially_local:
        depth = model_halo(method, factor) * (1 if _TWO_PASS else 2)
        ych0, xch0 = lst.chunks[1], lst.chunks[2]
        if size is not None:
            ych0, xch0 = _split_large_chunks(ych0, size), _split_large_chunks(xch0, size)
        lst = lst.rechunk(
            {1: _merge_small_chunks(ych0, depth), 2: _merge_small_chunks(xch0, depth)}
        )
    else:  # a scene-wide fit: whole images, parallel over time
        depth = 0
        lst = lst.rechunk({1: -1, 2: -1})
    tch, ych, xch = lst.chunks
    # an axis held in one chunk needs no halo (and the array may be smaller than the halo)
    depths = (depth if len(ych) > 1 else 0, depth if len(xch) > 1 else 0)
    args = [lst[:, None, :, :, None, None]]
    prefilled = bool(method.spatially_local) and _TWO_PASS
    if prefilled:  # first pass: gaps filled with a halo of one receptive field
        filled = lst.map_overlap(
            _fill_block, depth={0: 0, 1: depths[0], 2: depths[1]}, boundary="none",
            dtype=lst.dtype, meta=np.empty((0, 0, 0), lst.dtype), radius=depth,
        )
        args.append(filled[:, None, :, :, None, None])
    if guide is not None:
        guide = dsa.asarray(guide)
        gn, gc = guide.shape[:2]
        gt = tch if gn == n else (1,)
        guide = guide.rechunk(
            (gt, -1, tuple(c * factor for c in ych), tuple(c * factor for c in xch))
        )
        g6 = guide.reshape(gn, gc, ny, factor, nx, factor, merge_chunks=False)
        g6 = g6.transpose(0, 1, 2, 4, 3, 5).rechunk((gt, -1, ych, xch, factor, factor))
        args.append(g6)
    out_dtype = np.float64 if lst.dtype == np.float64 else np.float32
    # map_overlap has its own `depth` argument: bind the block function's options first
    block_fn = partial(_overlap_block, method=method, factor=factor, depth=depths,
                       prefilled=prefilled)
    extra: dict[str, Any] = {}
    shipment = ship_state(method)  # one graph key: fetched once per worker, not pickled per task
    if shipment is not None:
        extra["shipment"] = shipment
    out6 = dsa.map_overlap(
        block_fn,
        *args,
        **extra,
        # the tasks' name on the dashboard and in profiles: xlstsr-<method>-<hash of inputs>
        token=task_prefix(method),
        depth={2: depths[0], 3: depths[1]},
        boundary="none",
        trim=False,
        align_arrays=False,
        chunks=(tch, (1,), ych, xch, (factor,), (factor,)),
        dtype=out_dtype,
        meta=np.empty((0, 0, 0, 0, 0, 0), dtype=out_dtype),
    )
    # undo the space-to-depth view: (n, 1, y, x, f, f) -> (n, y*f, x*f), chunks x factor
    out = out6[:, 0].transpose(0, 1, 3, 2, 4)
    return out.reshape(n, ny * factor, nx * factor, merge_chunks=True)

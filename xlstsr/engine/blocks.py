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

from functools import partial
from typing import Any

import dask.array as dsa
import numpy as np

from ..kernels.interp import fill_gaps
from ..methods.base import UpscaleMethod
from .shipping import Shipment, deliver, ship_state

__all__ = ["engine_depth", "upscale_array"]


def engine_depth(method: UpscaleMethod, factor: int) -> int:
    """Halo (coarse pixels) the engine adds around chunks: the method's receptive field plus the
    gap-filling radius (equal to it), so chunked results equal whole-array results."""
    return 2 * int(method.halo(factor))


def _upscale_numpy(
    method: UpscaleMethod, lst: np.ndarray, guide: np.ndarray | None, factor: int
) -> np.ndarray:
    """Whole-array inference on (n, y, x) LST and (n, c, Y, X) guide."""
    n, ny, nx = lst.shape
    out_dtype = np.float64 if lst.dtype == np.float64 else np.float32
    valid = np.isfinite(lst)
    keep = valid.reshape(n, -1).any(axis=1)  # all-NaN images are skipped
    if not keep.any():
        return np.full((n, ny * factor, nx * factor), np.nan, dtype=out_dtype)
    sub = lst[keep]
    filled = fill_gaps(sub, int(method.halo(factor)))
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
    guide6: np.ndarray | None = None,
    *,
    method: UpscaleMethod,
    factor: int,
    depth: tuple[int, int],
    shipment: Shipment | None = None,
    block_info: dict | None = None,
) -> np.ndarray:
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
    res = _upscale_numpy(method, lst, guide, factor)
    res = res[:, top * factor : (ny - bottom) * factor, left * factor : (nx - right) * factor]
    return res.reshape(n, 1, cy, factor, cx, factor).transpose(0, 1, 2, 4, 3, 5)


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


def upscale_array(
    method: UpscaleMethod,
    lst: Any,
    guide: Any | None,
    factor: int,
) -> Any:
    """Upscale (n, y, x) LST with an optional (n or 1, c, y*f, x*f) guide; numpy or dask.

    Numpy input runs whole-array inference. Dask input stays lazy: one task per chunk, with a halo
    of :func:`engine_depth` coarse pixels, or per time chunk on whole images for methods that are
    not spatially local. Output chunks are the input chunks times ``factor``.
    """
    if not isinstance(lst, dsa.Array) and not isinstance(guide, dsa.Array):
        lst = np.asarray(lst)
        if guide is not None:
            guide = np.broadcast_to(np.asarray(guide), (lst.shape[0], *np.shape(guide)[1:]))
        return _upscale_numpy(method, lst, guide, factor)

    lst = dsa.asarray(lst)
    n, ny, nx = lst.shape
    if method.spatially_local:
        depth = engine_depth(method, factor)
        lst = lst.rechunk(
            {
                1: _merge_small_chunks(lst.chunks[1], depth),
                2: _merge_small_chunks(lst.chunks[2], depth),
            }
        )
    else:  # a scene-wide fit: whole images, parallel over time
        depth = 0
        lst = lst.rechunk({1: -1, 2: -1})
    tch, ych, xch = lst.chunks
    # an axis held in one chunk needs no halo (and the array may be smaller than the halo)
    depths = (depth if len(ych) > 1 else 0, depth if len(xch) > 1 else 0)
    args = [lst[:, None, :, :, None, None]]
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
    block_fn = partial(_overlap_block, method=method, factor=factor, depth=depths)
    extra: dict[str, Any] = {}
    shipment = ship_state(method)  # one graph key: fetched once per worker, not pickled per task
    if shipment is not None:
        extra["shipment"] = shipment
    out6 = dsa.map_overlap(
        block_fn,
        *args,
        **extra,
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

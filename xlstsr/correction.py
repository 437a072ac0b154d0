"""Scale-invariance correction of super-resolved stacks (numpy or dask): ``scale_correction=``.

:func:`xlstsr.upscale` calls :func:`apply_scale_correction` when given ``scale_correction=
"auto" | "law" | "law-lst"`` or a fixed detail gain (a number). The law and the per-image correction are numpy kernels in
:mod:`xlstsr.kernels.correction` (their docstring states the law, its assumptions and failure
modes); this layer only maps them over the leading axis of a stack, lazily for dask input.
"""

from __future__ import annotations

from typing import Any

import dask.array as dsa
import numpy as np

from .kernels.correction import SCALE_CORRECTIONS, check_mode, correct_stack

__all__ = ["SCALE_CORRECTIONS", "apply_scale_correction"]


def apply_scale_correction(
    sr: Any, lst: Any, guide: Any, factor: int, mode: str | float = "auto"
) -> Any:
    """Correct a stack of super-resolved images, one gain per image (time step).

    Parameters
    ----------
    sr : ndarray or dask array, (n, Y, X)
        Super-resolved LST on the fine grid (``Y = y * factor``).
    lst : ndarray or dask array, (n, y, x)
        The coarse input (Kelvin, NaN gaps).
    guide : ndarray or dask array, (n | 1, c, Y, X), optional
        Fine guide; its first channel shifts the law below the input resolution.
    factor : int
        Super-resolution factor (power of two).
    mode : {"auto", "law", "law-lst"} or float
        See :func:`xlstsr.kernels.correction.correct_image`; a number is a fixed gain of the
        method's within-block detail (1: unchanged; coarse consistency kept).

    Returns
    -------
    ndarray or dask array, (n, Y, X)
        The corrected stack in ``sr``'s dtype; lazy (one task per chunk of the leading axis,
        whole images) when any input is a dask array.

    Examples
    --------
    >>> from xlstsr.kernels.interp import cubic_upsample
    >>> lst = 300 + np.random.default_rng(0).standard_normal((2, 32, 32))
    >>> sr = dsa.from_array(cubic_upsample(lst, 4), chunks=(1, 128, 128))
    >>> out = apply_scale_correction(sr, lst, None, 4)
    >>> out.chunks[0], bool((out.compute() == sr.compute()).all())   # bicubic: nothing to rescale
    ((1, 1), True)
    """
    mode = check_mode(mode)
    lazy = any(isinstance(a, dsa.Array) for a in (sr, lst, guide))
    if not lazy:
        g = None if guide is None else np.asarray(guide)
        return correct_stack(np.asarray(sr), np.asarray(lst), g, factor, mode)
    sr_d = dsa.asarray(sr).rechunk({1: -1, 2: -1})
    lst_d = dsa.asarray(lst).rechunk((sr_d.chunks[0], -1, -1))
    args: list[Any] = [sr_d, "nij", lst_d, "nkl"]
    if guide is not None:
        g = dsa.asarray(guide)[:, :1]
        if g.shape[0] == 1 and sr_d.shape[0] > 1:
            g = dsa.broadcast_to(g, (sr_d.shape[0], *g.shape[1:]))
        args += [g.rechunk((sr_d.chunks[0], -1, -1, -1)), "ncab"]

    def _block(s, t, g=None):
        return correct_stack(s, t, g, factor, mode)

    # blockwise with separate spatial indices: the three arrays have different spatial sizes
    return dsa.blockwise(
        _block,
        "nij",
        *args,
        dtype=sr_d.dtype,
        align_arrays=False,
        concatenate=True,
        meta=np.empty((0, 0, 0), sr_d.dtype),
    )

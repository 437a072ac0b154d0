"""Figures: side-by-side maps of a super-resolution result (matplotlib, no display needed)."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import numpy as np
import xarray as xr

__all__ = ["comparison", "scaling"]


def _image(da: xr.DataArray, index: dict[str, int]) -> xr.DataArray:
    sel = {d: i for d, i in index.items() if d in da.dims}
    da = da.isel(sel)
    extra = [d for d in da.dims if d not in (da.rio.y_dim, da.rio.x_dim)]
    return da.isel({d: 0 for d in extra})


def comparison(
    coarse: xr.DataArray,
    upscaled: xr.DataArray | dict[str, xr.DataArray],
    truth: xr.DataArray | None = None,
    *,
    index: dict[str, int] | None = None,
    path: str | Path | None = None,
    title: str | None = None,
) -> Any:
    """Maps of the coarse input, one or more upscaled results, the truth and the error.

    Parameters
    ----------
    coarse, truth : DataArray
        Input LST and (optional) fine truth on the upscaled grid.
    upscaled : DataArray or dict of DataArray
        Result(s), keyed by label.
    index : dict
        Which step of leading dims to show, e.g. ``{"time": 0}`` (default: the first).
    path : path, optional
        Write a PNG there.

    Returns
    -------
    matplotlib.figure.Figure
    """
    import matplotlib

    matplotlib.use("Agg", force=False)
    import matplotlib.pyplot as plt

    index = index or {}
    results = upscaled if isinstance(upscaled, dict) else {upscaled.attrs.get("xlstsr_method", "upscaled"): upscaled}
    panels = [("input", _image(coarse, index))] + [(k, _image(v, index)) for k, v in results.items()]
    if truth is not None:
        t = _image(truth, index)
        panels.append(("truth", t))
    vals = np.concatenate([np.asarray(p.values).ravel() for _, p in panels])
    vmin, vmax = np.nanpercentile(vals, [2, 98])
    ncol = len(panels) + (1 if truth is not None else 0)
    fig, axes = plt.subplots(1, ncol, figsize=(3.2 * ncol, 3.4), constrained_layout=True)
    axes = np.atleast_1d(axes)
    for ax, (label, img) in zip(axes, panels):
        im = ax.imshow(img.values, vmin=vmin, vmax=vmax, cmap="inferno", interpolation="nearest")
        ax.set_title(label)
        ax.set_axis_off()
    fig.colorbar(im, ax=axes[: len(panels)].tolist(), shrink=0.8, label="LST (K)")
    if truth is not None:
        best = panels[-2][1]
        err = best.values - panels[-1][1].values
        lim = np.nanpercentile(np.abs(err), 98) or 1.0
        im2 = axes[-1].imshow(err, cmap="RdBu_r", vmin=-lim, vmax=lim, interpolation="nearest")
        axes[-1].set_title(f"{panels[-2][0]} - truth")
        axes[-1].set_axis_off()
        fig.colorbar(im2, ax=axes[-1], shrink=0.8, label="K")
    if title:
        fig.suptitle(title)
    if path is not None:
        fig.savefig(path, dpi=110)
        plt.close(fig)
    return fig


def scaling(stats: xr.Dataset, **kwargs: Any) -> Any:
    """Log-log figures of :func:`xlstsr.scaling_stats` output (see :mod:`xlstsr.plot_scaling`)."""
    from .plot_scaling import scaling as _scaling

    return _scaling(stats, **kwargs)

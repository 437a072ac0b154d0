"""Session 55: rioxarray's transform from the labels, computed from the label arrays."""

from __future__ import annotations

import warnings

import numpy as np
import pytest
import rioxarray  # noqa: F401
import xarray as xr
from affine import Affine

from xlstsr.validate import label_transform


def _both(da: xr.DataArray) -> tuple:
    """(rioxarray's, label_transform's): each a transform or the exception's type."""
    out = []
    for f in (lambda: da.rio.transform(recalc=True), lambda: label_transform(da)):
        with warnings.catch_warnings():
            warnings.simplefilter("ignore")  # rioxarray's "Unable to recalculate" (rotation)
            try:
                out.append(tuple(f()))
            except Exception as exc:  # the same refusal is part of the same behaviour
                out.append(type(exc))
    return tuple(out)


def _variants(y: np.ndarray, x: np.ndarray, r: float, x0: float, y0: float):
    da = xr.DataArray(np.zeros((y.size, x.size), np.float32), dims=("y", "x"),
                      coords={"y": y, "x": x})
    geo = da.rio.write_crs("EPSG:32631")
    stale = geo.copy()
    stale.attrs["transform"] = (r, 0.0, x0, 0.0, -r, y0)
    bad = geo.copy()
    bad.coords["spatial_ref"].attrs["GeoTransform"] = "1,2,3"  # unparseable: rioxarray's say
    yield from (
        da, geo, stale, bad, da.drop_vars("x"), da.rename(x="lon", y="lat"),
        geo.rio.write_transform(Affine(r, 0.0, x0, 0.0, -r, y0)),  # written, north-up
        geo.rio.write_transform(Affine(r, 0.1, x0, 0.1, -r, y0)),  # rotated: kept as written
        geo.rio.write_transform(Affine(r, 0.0, x0, 1e-7, -r, y0)),
    )


@pytest.mark.parametrize("dtype", [np.float64, np.float32])
@pytest.mark.parametrize("shape", [(1, 5), (5, 1), (2, 2), (37, 19), (140, 60)])
def test_label_transform_is_rioxarrays_bit_for_bit(dtype, shape) -> None:
    # before: every fine_grid, coarse_grid and georeference check read the first and last
    # labels through rioxarray's DataArray indexing (~6 ms a call, thousands per run)
    rng = np.random.default_rng(shape[0] * 100 + shape[1])
    ny, nx = shape
    n = 0
    for r in (1000.0, 463.312716527917, 0.004166666666666667, 30.0):
        x0, y0 = rng.uniform(-2e6, 2e6, 2)
        for kind in ("arange", "linspace", "south-up"):
            if kind == "linspace":
                x = np.linspace(x0, x0 + (nx - 1) * r, nx)
                y = np.linspace(y0, y0 - (ny - 1) * r, ny)
            else:
                x, y = x0 + r / 2 + np.arange(nx) * r, y0 - r / 2 - np.arange(ny) * r
            y = y[::-1] if kind == "south-up" else y
            for da in _variants(y.astype(dtype), x.astype(dtype), r, x0, y0):
                want, got = _both(da)
                assert got == want, (kind, r, da.coords, got, want)
                n += isinstance(want, tuple)
    assert n > 0


def test_label_transform_of_the_labels_not_of_a_stale_written_transform() -> None:
    da = xr.DataArray(np.zeros((4, 6)), dims=("y", "x"),
                      coords={"y": 3500.0 - 1000.0 * np.arange(4), "x": 500.0 + 1000.0 * np.arange(6)})
    da = da.rio.write_crs("EPSG:32631").rio.write_transform(Affine(250.0, 0, 0, 0, -250.0, 4000))
    t = label_transform(da)
    assert (t.a, t.c, t.e, t.f) == (1000.0, 0.0, -1000.0, 4000.0)
    assert t != da.rio.transform()  # the written one, which rioxarray gives without recalc

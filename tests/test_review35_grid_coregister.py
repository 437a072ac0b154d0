"""Review 35 (grids and co-registration): a clear 14-16 LST-pixel window whose residual is a
smooth tilt was refused as "the fit is exact whatever the shift" (n_effective, not the pixels,
below the parameters); a cloudy scene was told to give a larger window and a min_pixels= of a
clear one; a reprojected fine field was told the whole LST box and a min_pixels= above the one
it missed; the file-edge pixel search took seconds on a 4096-pixel axis."""

from __future__ import annotations

import re
import time
import warnings

import dask.array as dsa
import numpy as np
import pytest
import xarray as xr
from affine import Affine
from scipy import ndimage

import xlstsr
import xlstsr.grid as G
from xlstsr.errors import CoregistrationError
from xlstsr.kernels import coregister as kc


def _grid(v, px, x0=500000.0, y0=4000000.0):
    ny, nx = v.shape
    x = x0 + (np.arange(nx) + 0.5) * px
    y = y0 - (np.arange(ny) + 0.5) * px
    da = xr.DataArray(v, dims=("y", "x"), coords={"y": y, "x": x}, attrs={"units": "K"})
    return da.rio.write_crs("EPSG:32633").rio.write_transform(Affine(px, 0, x0, 0, -px, y0))


def _field(seed, n):
    rng = np.random.default_rng(seed)
    return 300 + 5 * ndimage.gaussian_filter(rng.standard_normal((n, n)), 2.5)


@pytest.mark.parametrize("side", [14, 16])
def test_smooth_residual_is_not_an_exact_fit(side):
    """A smooth 0.5 K tilt between the fields: n_effective = n / 39 below the 5 parameters; the
    uncertainty was inf and "the fit is exact" with 100-144 pixels compared."""
    n = 40
    f = _field(3, 4 * n)
    coarse = (f.reshape(n, 4, n, 4) ** 4).mean(axis=(1, 3)) ** 0.25
    yy, xx = np.mgrid[0:n, 0:n] / n
    lst = _grid(coarse + 0.75 * (xx - 0.3) * (yy + 0.2), 1000.0)
    fine = _grid(f[: 4 * side, : 4 * side], 250.0)
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        e = xlstsr.estimate_offset(fine, lst, errors="ignore")
        tight = xlstsr.estimate_offset(fine, lst, errors="ignore", max_shift_uncertainty=1.0)
    assert int(e.n_valid) > 5 and np.isfinite(float(e.shift_uncertainty))
    assert abs(float(e.shift_x)) < 50 and abs(float(e.shift_y)) < 50
    assert not bool(tight.reliable)
    with pytest.raises(CoregistrationError) as info:
        xlstsr.estimate_offset(fine, lst, max_shift_uncertainty=1.0)
    assert "fit is exact" not in str(info.value)
    assert "residuals are too correlated" in str(info.value)


def test_kernel_inf_only_with_no_more_pixels_than_parameters():
    f = _field(0, 160)
    coarse = (f.reshape(40, 4, 40, 4) ** 4).mean(axis=(1, 3)) ** 0.25
    yy, xx = np.mgrid[0:16, 0:16] / 16
    e = kc.estimate_shift(f[:64, :64], coarse[:16, :16] + 0.3 * xx * yy, 4, radiometric=True)
    assert e.n_valid > e.n_params and np.isfinite(e.uncertainty)


def test_cloudy_scene_keeps_the_cloud_advice():
    """Three clear patches in a 40 x 40 scene: told "Give a larger window" (it is 40 x 40) and
    min_pixels=1296 (a clear window's count) instead of the clouds / same-ground advice."""
    n = 40
    f = _field(1, 4 * n)
    lst = _grid((f.reshape(n, 4, n, 4) ** 4).mean(axis=(1, 3)) ** 0.25, 1000.0)
    clear = np.zeros((n, n), bool)
    for cy, cx in [(5, 5), (20, 30), (33, 12)]:
        clear[cy:cy + 5, cx:cx + 5] = True
    fine = _grid(np.where(np.kron(clear, np.ones((4, 4))).astype(bool), f, np.nan), 250.0)
    with pytest.raises(CoregistrationError) as info:
        xlstsr.estimate_offset(fine, lst)
    msg = str(info.value)
    assert "same ground and date" in msg and "Give a larger window" not in msg
    assert "min_pixels=" not in msg and "valid in both fields (need 30)" in msg


def test_min_pixels_advice_is_what_is_compared():
    """A clear fine field rotated in the LST box (as a reprojected ASTER window): the advice
    counted the whole box (min_pixels above the 30 missed; "this one is 10 x 10"). Now the
    advised min_pixels is at most what is compared, and followed it passes that check."""
    n = 40
    f = _field(2, 4 * n)
    lst = _grid((f.reshape(n, 4, n, 4) ** 4).mean(axis=(1, 3)) ** 0.25, 1000.0)
    yy, xx = np.mgrid[0:48, 0:48] - 23.5
    diamond = np.abs(yy) + np.abs(xx) <= 26  # a square turned 45 degrees in its 12 x 12 box
    fine = _grid(np.where(diamond, f[:48, :48], np.nan), 250.0)
    with pytest.raises(CoregistrationError) as info:
        xlstsr.estimate_offset(fine, lst)
    msg = str(info.value)
    got = re.search(r"only (\d+) LST pixels are compared \(need 30\)", msg)
    assert got and "search margin" in msg, msg
    assert "lie wholly under the fine field" in msg
    advised = re.search(r"min_pixels=(\d+)", msg)
    assert advised and int(advised.group(1)) <= int(got.group(1)) < 30
    e = xlstsr.estimate_offset(fine, lst, min_pixels=int(advised.group(1)), errors="ignore")
    assert int(e.n_valid) >= int(advised.group(1))
    try:
        xlstsr.estimate_offset(fine, lst, min_pixels=int(advised.group(1)))
    except CoregistrationError as err:
        assert "LST pixels are compared" not in str(err)


def test_pixel_search_is_fast_on_a_long_axis():
    """clip_box of a 1/120-degree grid, 4096 labels: 3-5 s per axis; labels still round-trip."""
    p = 1 / 120
    nx, ny = 43200, 21600
    x = (-180 + p * 0.5) + np.arange(nx) * p
    y = (90 - p * 0.5) + np.arange(ny) * -p
    glob = xr.DataArray(dsa.full((ny, nx), 300.0, dtype=np.float32, chunks=4096),
                        dims=("y", "x"), coords={"y": y, "x": x}, attrs={"units": "K"})
    glob = glob.rio.write_crs("EPSG:4326").rio.write_transform(
        Affine(p, 0, -180.0, 0, -p, 90.0))
    side = 4096
    b = glob.isel(y=slice(3001, 3001 + side), x=slice(5003, 5003 + side)).rio.bounds()
    w = glob.rio.clip_box(*b).isel(y=slice(0, side), x=slice(0, side))
    G._pixel_search.cache_clear()
    G._offset_search.cache_clear()
    t0 = time.perf_counter()
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        up = xlstsr.upscale(xlstsr.coarsen(w, 2), 2, method="nearest")
    assert time.perf_counter() - t0 < 3.0
    for d in ("y", "x"):
        np.testing.assert_array_equal(up[d].values, w[d].values, strict=True)

"""Corpus 35 (grids and co-registration): a window read with ``rio.isel_window`` or cut with
``rio.clip_box`` (then cropped to whole blocks) got coarse labels whose fine labels were an ulp
off its own, so ``upscale(coarsen(w)) - w`` silently dropped rows and columns; a perfect match
(``estimate_offset(fine, coarsen(fine))``) was refused with a NaN uncertainty (r rounded above
1); 4 LST pixels fitted the 5 parameters exactly and were marked reliable with shifts of
100-400 m; a clear window of 8 x 8 LST pixels was refused as having too few pixels "valid in
both fields" (the search margin had left them out).
"""

from __future__ import annotations

import warnings

import numpy as np
import pytest
import rioxarray
import xarray as xr
from affine import Affine
from rasterio.windows import Window
from scipy import ndimage

import xlstsr
from xlstsr.errors import CoregistrationError
from xlstsr.grid import MODIS_SINUSOIDAL
from xlstsr.kernels import coregister as kc

#: The pixel and corner of a MOD11A1 1 km tile's GeoTIFF (h18v04) as GDAL writes them.
_PIXEL = 926.6254331391667
_X0, _Y0 = 0.0, 5559752.598833


def _round_trip(w: xr.DataArray, factor: int = 4) -> None:
    """upscale(coarsen(w)) has ``w``'s labels bit for bit (``up - w`` keeps every pixel), and
    its coarse grid the coarse labels."""
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        co = xlstsr.coarsen(w, factor)
        up = xlstsr.upscale(co, factor, method="bicubic")
        back = xlstsr.coarsen(up, factor)
    for d in ("y", "x"):
        np.testing.assert_array_equal(up[d].values, w[d].values, strict=True)
        np.testing.assert_array_equal(back[d].values, co[d].values, strict=True)
    assert dict((up - w).sizes) == dict(w.sizes)


@pytest.fixture(scope="module")
def tile(tmp_path_factory) -> xr.DataArray:
    """A GeoTIFF on a MOD11A1 tile's grid, read back with rioxarray."""
    rng = np.random.default_rng(0)
    da = xr.DataArray((300 + rng.random((300, 300))).astype(np.float32), dims=("y", "x"),
                      attrs={"units": "K"})
    da = da.rio.write_crs(MODIS_SINUSOIDAL).rio.write_transform(
        Affine(_PIXEL, 0, _X0, 0, -_PIXEL, _Y0))
    path = tmp_path_factory.mktemp("tile") / "lst.tif"
    da.rio.to_raster(path)
    return rioxarray.open_rasterio(path).squeeze("band", drop=True).load()


@pytest.mark.parametrize(("row", "col"), [(101, 203), (100, 200), (64, 128)])
def test_clip_box_window_cropped_to_whole_blocks_round_trips(tile, row, col):
    """rio.clip_box cuts 64 x 65 pixels (its transform recomputed from their labels: the pixel
    100 steps off the file's); cropped to 64 x 64 with isel (as the GridError advises), its
    upscaled coarse field kept 39-58 of 64 rows."""
    b = tile.isel(y=slice(row, row + 64), x=slice(col, col + 64)).rio.bounds()
    w = tile.rio.clip_box(*b).isel(y=slice(0, 64), x=slice(0, 64))
    _round_trip(w)


def test_isel_window_of_a_modis_tile_round_trips(shared_data):
    """A real MOD11A1 window read with rio.isel_window (which writes the transform recomputed
    from its labels, bit for bit): ``up - w`` kept 34 of 64 columns; a bbox cut with clip_box
    49 x 32."""
    files = sorted((shared_data / "modis_h18v04_2020" / "cogs").glob("*LST_Day_1km.tif"))
    if not files:
        pytest.skip("no MOD11A1 GeoTIFF in modis_h18v04_2020/cogs")
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        src = rioxarray.open_rasterio(files[0], mask_and_scale=True).squeeze("band", drop=True)
    for row, col in [(101, 203), (64, 128)]:
        _round_trip(src.rio.isel_window(Window(col, row, 64, 64)).fillna(300.0).load())
    b = src.isel(y=slice(300, 364), x=slice(420, 484)).rio.bounds()
    _round_trip(src.rio.clip_box(*b).isel(y=slice(0, 64), x=slice(0, 64)).fillna(300.0).load())


def _grid(v: np.ndarray, px: float, x0: float = 500000.0, y0: float = 4000000.0) -> xr.DataArray:
    ny, nx = v.shape
    x = x0 + (np.arange(nx) + 0.5) * px
    y = y0 - (np.arange(ny) + 0.5) * px
    da = xr.DataArray(v, dims=("y", "x"), coords={"y": y, "x": x}, attrs={"units": "K"})
    return da.rio.write_crs("EPSG:32633").rio.write_transform(Affine(px, 0, x0, 0, -px, y0))


def _field(seed: int, n: int, noise: float = 0.0) -> np.ndarray:
    rng = np.random.default_rng(seed)
    f = 300 + 70 * ndimage.gaussian_filter(rng.standard_normal((n, n)), 2.5)
    return f + rng.normal(0, noise, f.shape) if noise else f


@pytest.mark.parametrize("seed", [0, 1, 2])
def test_a_perfect_match_is_reliable_with_zero_uncertainty(seed):
    """estimate_offset(fine, coarsen(fine)): r rounded to 1.0000000000000002, 1 - r^2 < 0, the
    uncertainty NaN and the estimate refused as "too flat" on 7 of 8 seeds."""
    fine = _grid(_field(seed, 96), 250.0)
    with warnings.catch_warnings():
        warnings.simplefilter("error", RuntimeWarning)  # no "invalid value in sqrt"
        e = xlstsr.estimate_offset(fine, xlstsr.coarsen(fine, 4), psf=False)
    assert bool(e.reliable)
    # zero up to round-off (1.1e-6 m with seed 0 on another install: 4e-9 of a 250 m pixel)
    assert float(e.shift_uncertainty) == pytest.approx(0.0, abs=1e-3)
    assert abs(float(e.shift_x)) < 1 and abs(float(e.shift_y)) < 1
    assert -1.0 <= float(e.correlation_after) <= 1.0


def test_fit_keeps_r_within_one():
    """The kernel's fit: a prediction equal to the target up to a scale gives |r| <= 1 and an
    unexplained variance >= 0, whatever the round-off."""
    rng = np.random.default_rng(0)
    for _ in range(50):
        t = 300 + 10 * rng.standard_normal((12, 12))
        for p in (t, 1.7 * t + 3, -0.3 * t):
            j, r, rmse, _ = kc._fit(p, t)
            assert -1.0 <= r <= 1.0 and j >= 0.0 and np.isfinite(rmse)
            assert (kc._fit_many(p[None], t) >= 0).all()


@pytest.mark.parametrize("seed", [0, 1, 3, 5])
def test_no_more_pixels_than_parameters_is_not_reliable(seed):
    """4 LST pixels compared (min_pixels=1) and 5 parameters fitted (gain, offset, 2 shifts,
    PSF width): the fit was exact, the uncertainty ~0.01 m and shifts of 100-400 m (truth 0)
    marked reliable."""
    f = _field(seed, 160, noise=0.3)
    lst = _grid((f.reshape(40, 4, 40, 4) ** 4).mean(axis=(1, 3)) ** 0.25, 1000.0)
    fine = _grid(f[:24, :24], 250.0)
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        e = xlstsr.estimate_offset(fine, lst, min_pixels=1, errors="ignore")
        with pytest.raises(CoregistrationError, match="no more than the 5 parameters fitted"):
            xlstsr.estimate_offset(fine, lst, min_pixels=1)
    assert int(e.n_valid) <= 5 and not bool(e.reliable)
    assert float(e.shift_uncertainty) == np.inf


def test_kernel_counts_the_parameters_fitted():
    """estimate_shift: n_effective not above the parameters (4, 5 with the PSF) -> inf."""
    f = _field(0, 160, noise=0.3)
    coarse = (f.reshape(40, 4, 40, 4) ** 4).mean(axis=(1, 3)) ** 0.25
    for psf, k in ((True, 5), (False, 4)):
        e = kc.estimate_shift(f[:24, :24], coarse[:6, :6], 4, psf=psf, radiometric=True)
        assert e.n_params == k and e.n_effective <= k and e.uncertainty == np.inf
    e = kc.estimate_shift(f[:64, :64], coarse[:16, :16], 4, radiometric=True)
    assert e.n_effective > e.n_params and np.isfinite(e.uncertainty)


@pytest.fixture(scope="module")
def pair() -> tuple[np.ndarray, xr.DataArray]:
    f = _field(1, 160)
    return f, _grid((f.reshape(40, 4, 40, 4) ** 4).mean(axis=(1, 3)) ** 0.25, 1000.0)


def test_small_clear_window_is_told_the_margin_and_the_window_needed(pair):
    """8 x 8 clear LST pixels under the fine field: refused as "only 16 LST pixels are valid in
    both fields (need 30)" with "mask clouds in both"; every pixel is valid, the search margin
    left 48 out. The message names the margin and the window needed, and its fixes work."""
    f, lst = pair
    fine = _grid(f[:32, :32], 250.0)
    with pytest.raises(CoregistrationError) as info:
        xlstsr.estimate_offset(fine, lst)
    msg = str(info.value)
    assert "only 16 LST pixels are compared (need 30): 48 of the 64 valid in both" in msg
    assert "search margin" in msg and "at least 10 x 10 clear LST pixels" in msg
    assert "(this one is 8 x 8)" in msg and "Give a larger window" in msg
    assert "same ground and date" not in msg
    # each fix it names works: a smaller margin, fewer compared pixels, a larger window
    shift = float(msg.split("max_shift=")[1].split(" m")[0])
    pixels = int(msg.split("min_pixels=")[1].split(".")[0])
    for kwargs in ({"max_shift": shift}, {"min_pixels": pixels}):
        assert bool(xlstsr.estimate_offset(fine, lst, **kwargs).reliable)
    assert bool(xlstsr.estimate_offset(_grid(f[:40, :40], 250.0), lst).reliable)


def test_the_quoted_minimum_window_holds():
    """The GridError's "in practice 10 x 10 or more": the defaults compare 30 of 10 x 10 clear
    LST pixels whatever the factor (the margin: 2 each side), not of 9 x 9; and the count the
    message uses is the estimate's."""
    for f in (2, 3, 4, 8):
        kw = {"max_shift": 0.5 * f, "max_sigma": 0.75 * f}
        assert kc.smallest_window(f, 30, **kw) == 10
        assert kc.smallest_window(f, 30, psf=False, **kw) == 10
    f = _field(2, 64)
    coarse = f.reshape(16, 4, 16, 4).mean(axis=(1, 3))
    for n, psf in ((8, True), (10, True), (12, False), (9, False)):
        e = kc.estimate_shift(f[: 4 * n, : 4 * n], coarse[:n, :n], 4, psf=psf, max_shift=2.0,
                              max_sigma=3.0)
        assert e.n_valid == kc.compared_count((4 * n, 4 * n), 4, psf=psf, max_shift=2.0,
                                              max_sigma=3.0)
        assert e.n_overlap == n * n

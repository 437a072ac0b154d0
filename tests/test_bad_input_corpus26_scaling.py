"""Round 26c: coarsen's PSF on grids in feet or km, scaling_stats on lon/lat pixels square on the
ground, fit_wavenumbers windows without 2 bins, radiometric=False guide laws, lazy guides with
an undeclared fill."""

from __future__ import annotations

import re
import warnings

import numpy as np
import pytest
import rasterio.enums
import xarray as xr
from helpers import run_cli

import xlstsr
from xlstsr import errors
from xlstsr.datasets import fbm_surface

FOOT = 0.3048006096012192  # metres per US survey foot (EPSG:2263's unit)


def _grid(values: np.ndarray, res: float, crs: str, x0: float = 4e5, y0: float = 5e6,
          **attrs) -> xr.DataArray:
    ny, nx = values.shape[-2:]
    return xr.DataArray(values, dims=("y", "x"), attrs=attrs,
                        coords={"y": y0 - res * (np.arange(ny) + 0.5),
                                "x": x0 + res * (np.arange(nx) + 0.5)}).rio.write_crs(crs)


def _utm(values: np.ndarray, res: float = 1000.0, **attrs) -> xr.DataArray:
    return _grid(values, res, "EPSG:32631", **attrs)


# -- 1. coarsen(psf='modis') in the CRS's unit -----------------------------------------------------

def test_the_modis_psf_is_350_metres_on_grids_in_feet_and_km():
    """psf='modis' blurred by 350 US survey feet (107 m) on EPSG:2263 and was refused as 350 km
    on a km CRS, while the attrs said psf_sigma_m=350."""
    f = 300 + 4 * fbm_surface((64, 96), 0.4, np.random.default_rng(0))
    metres = xlstsr.coarsen(_grid(f, 250.0, "EPSG:32618", units="K"), 4, psf="modis")
    feet = xlstsr.coarsen(_grid(f, 250.0 / FOOT, "EPSG:2263", 9e5, 2e5, units="K"), 4,
                          psf="modis")
    km = xlstsr.coarsen(_grid(f, 0.25, "+proj=utm +zone=31 +datum=WGS84 +units=km +no_defs",
                              400.0, 5000.0, units="K"), 4, psf="modis")
    np.testing.assert_allclose(feet.values, metres.values, atol=1e-9)
    np.testing.assert_allclose(km.values, metres.values, atol=1e-9)
    for out in (metres, feet, km):
        assert "psf_sigma_m=350" in out.attrs["xlstsr_degradation"]
    # a number stays in the CRS's unit, and is recorded in metres
    ft = xlstsr.coarsen(_grid(f, 250.0 / FOOT, "EPSG:2263", 9e5, 2e5, units="K"), 4, psf=1000.0)
    sigma = float(re.search(r"psf_sigma_m=(\S+)", ft.attrs["xlstsr_degradation"]).group(1))
    assert sigma == pytest.approx(1000.0 * FOOT, rel=1e-4)


def test_a_numeric_psf_on_a_lon_lat_grid_is_recorded_in_degrees():
    """psf=0.003 on a lon/lat grid was recorded as psf_sigma_m=0.003."""
    a = 290 + 3 * np.random.default_rng(0).standard_normal((64, 64))
    lst = _grid(a, 0.002, "EPSG:4326", 10.0, 45.0, units="K")
    desc = xlstsr.coarsen(lst, 4, psf=0.003).attrs["xlstsr_degradation"]
    assert "psf_sigma_deg=0.003" in desc and "psf_sigma_m" not in desc


# -- 2. lon/lat pixels judged on the ground --------------------------------------------------------

def _lonlat(ry: float, rx: float, lat0: float = 60.0, n: int = 64) -> xr.DataArray:
    f = 300 + 2 * fbm_surface((n, n), 0.4, np.random.default_rng(0))
    return xr.DataArray(f, dims=("y", "x"), attrs={"units": "K"},
                        coords={"y": lat0 - (np.arange(n) + 0.5) * ry,
                                "x": 10.0 + (np.arange(n) + 0.5) * rx}).rio.write_crs("EPSG:4326")


def test_lon_lat_pixels_square_on_the_ground_are_taken():
    """0.005 x 0.01 degree at 60 N (557 x 559 m) was refused as 'not square', and the fix named
    (0.01 x 0.01 degree, 1113 x 559 m) was then warned about as not square on the ground."""
    with warnings.catch_warnings():
        warnings.filterwarnings("error", message=".*square")
        st = xlstsr.scaling_stats(_lonlat(0.005, 0.01))
    assert np.isfinite(float(st.hurst))
    # scales in degrees of latitude (the y size): one length on the ground
    assert st.attrs["pixel_unit"] == "degree" and st.attrs["pixel_size"] == pytest.approx(0.005)


def test_lon_lat_pixels_square_neither_way_name_a_reprojection_that_works():
    da = _lonlat(0.005, 0.01, lat0=0.3)  # at the equator: 557 x 1113 m
    with pytest.raises(errors.GridError, match=r"not square on the ground .*EPSG:32632") as exc:
        xlstsr.scaling_stats(da)
    res = float(re.search(r"resolution=([\d.]+),", str(exc.value)).group(1))
    assert 1100 < res < 1130  # the longer side on the ground
    fixed = da.rio.reproject("EPSG:32632", resolution=res,
                             resampling=rasterio.enums.Resampling.average)
    with warnings.catch_warnings():
        warnings.filterwarnings("error", message=".*square")
        st = xlstsr.scaling_stats(fixed)
    assert st.attrs["pixel_unit"] == "m" and st.attrs["pixel_size"] == pytest.approx(res)


# -- 3. fit_wavenumbers holding fewer than 2 bins --------------------------------------------------

@pytest.mark.parametrize("window", [(0.1, 0.12), (0.6, 0.9)])
def test_a_wavenumber_window_with_one_bin_is_refused(window):
    """The window held one bin and gave spectral_slope NaN without a word (fit_lags and
    fit_factors were refused so)."""
    da = _utm(300 + 2 * fbm_surface(64, 0.4, np.random.default_rng(0)), units="K")
    with pytest.raises(errors.GridError, match=r"fit_wavenumbers .* holds 1 of the 16 spectral"
                       ) as exc:
        xlstsr.scaling_stats(da, fit_wavenumbers=window)
    lo, hi = map(float, re.search(r"fit_wavenumbers=\(([\d.]+), ([\d.]+)\)",
                                  str(exc.value)).groups())
    st = xlstsr.scaling_stats(da, fit_wavenumbers=(lo, hi))  # the window it names works
    assert np.isfinite(float(st.spectral_slope))
    k = st.power_spectrum_wavenumber.values
    assert ((k >= lo) & (k <= hi)).sum() >= 2


def test_the_bins_counted_before_the_spectrum_are_its_bins():
    from xlstsr.kernels.spectra import log_wavenumber_edges, radial_power_spectrum
    from xlstsr.scaling import _bin_wavenumbers

    rng = np.random.default_rng(1)
    for shape in ((64, 64), (33, 70), (70, 33), (8, 9), (600, 301)):
        for nbins in (4, 16, 40):
            edges = log_wavenumber_edges(shape, nbins)
            k = radial_power_spectrum(rng.standard_normal(shape), edges)[0]
            np.testing.assert_allclose(_bin_wavenumbers(shape, edges), k, rtol=1e-12,
                                       equal_nan=True)


# -- 4. radiometric=False: the guide laws by the plain mean ----------------------------------------

def test_plain_mean_guide_laws_aggregate_the_field_by_its_plain_mean():
    """An anomaly aggregated by (mean T^4)^(1/4) lost its sign: r -0.17 for -1.00 from
    factor 2 up."""
    rng = np.random.default_rng(0)
    g = 0.5 + 0.2 * fbm_surface((64, 64), 0.5, rng)
    anom = -20 * (g - g.mean()) + 0.3 * rng.standard_normal(g.shape)
    st = xlstsr.scaling_stats(_utm(anom), _utm(g), radiometric=False, factors=[1, 2, 4, 8])
    for f in (1, 2, 4, 8):
        a, b = (v.reshape(64 // f, f, 64 // f, f).mean((1, 3)).ravel() for v in (anom, g))
        assert float(st.guide_correlation.sel(factor=f)) == pytest.approx(
            np.corrcoef(a, b)[0, 1], abs=1e-9)
        assert float(st.guide_slope.sel(factor=f)) == pytest.approx(np.polyfit(b, a, 1)[0],
                                                                    rel=1e-9)


# -- 5. dask inputs checked as in-memory ones ------------------------------------------------------

def _fill_scene():
    rng = np.random.default_rng(0)
    ndvi = np.clip(0.5 + 0.15 * fbm_surface((64, 64), 0.4, rng), 0.05, 0.95)
    lst = 320 - 25 * ndvi + 0.5 * rng.standard_normal(ndvi.shape)
    stored = np.where(rng.random(ndvi.shape) < 0.1, -3000.0, ndvi)  # fill written, undeclared
    return _utm(lst, units="K"), _utm(stored)


def test_a_dask_guide_with_an_undeclared_fill_is_refused_as_in_memory():
    """A lazy guide holding MOD13's -3000 was taken as NDVI (r 0 for -0.99), without a word."""
    lst, guide = _fill_scene()
    with pytest.raises(errors.UndeclaredFillError) as mem:
        xlstsr.scaling_stats(lst, guide)
    lazy = xlstsr.scaling_stats(lst, guide.chunk({"y": 32, "x": 32}))  # nothing read yet
    with pytest.raises(errors.UndeclaredFillError) as exc:
        lazy.compute()
    assert str(exc.value) == str(mem.value)
    # a static lazy guide under a stack, and a lazy plain-mean field
    stack = xr.concat([lst, lst + 1], "time").assign_coords(time=[0, 1]).chunk({"time": 1})
    with pytest.raises(errors.UndeclaredFillError, match="the guide holds -3000"):
        xlstsr.scaling_stats(stack, guide.chunk()).compute()
    with pytest.raises(errors.UndeclaredFillError, match="the field holds -3000"):
        xlstsr.scaling_stats(guide.chunk({"y": 32}), radiometric=False).compute()
    # a clean lazy guide gives the in-memory result
    clean = guide.where(guide != -3000)
    np.testing.assert_allclose(
        xlstsr.scaling_stats(lst, clean.chunk({"y": 32})).compute().guide_slope.values,
        xlstsr.scaling_stats(lst, clean).guide_slope.values, rtol=1e-12)


def test_a_constant_dask_guide_warns_when_computed():
    lst, guide = _fill_scene()
    stack = xr.concat([lst, lst + 1], "time").assign_coords(time=[0, 1])
    g = xr.concat([guide.where(guide > 0), guide * 0 + 0.3], "time").assign_coords(time=[0, 1])
    with pytest.warns(UserWarning, match=r"the guide is constant at steps \[1\]"):
        xlstsr.scaling_stats(stack, g)
    lazy = xlstsr.scaling_stats(stack.chunk({"time": 1}), g.chunk({"time": 1}))
    with pytest.warns(UserWarning, match=r"the guide is constant at steps \[1\]"):
        lazy.compute()


def test_the_scaling_command_refuses_a_guide_file_with_an_undeclared_fill(tmp_path, capsys):
    """`xlstsr scaling --guide` reads lazily: it wrote the table, exit 0."""
    lst, guide = _fill_scene()
    lst.astype("float32").rio.to_raster(tmp_path / "lst.tif")
    guide.astype("float32").rio.to_raster(tmp_path / "ndvi.tif")
    code, err = run_cli(capsys, "scaling", tmp_path / "lst.tif", tmp_path / "out.csv",
                        "--guide", tmp_path / "ndvi.tif")
    assert code != 0 and "-3000" in err and "undeclared fill" in err
    assert not (tmp_path / "out.csv").exists()


# -- the smaller points ----------------------------------------------------------------------------

def test_a_step_without_valid_pixels_counts_no_pairs():
    """increment_count ("number of valid pixel pairs") was NaN for an all-gap step."""
    a = 300 + np.random.default_rng(0).standard_normal((3, 32, 32))
    a[1] = np.nan
    da = xr.DataArray(a, dims=("time", "y", "x"), attrs={"units": "K"},
                      coords={"time": [0, 1, 2], "y": _utm(a[0]).y, "x": _utm(a[0]).x}
                      ).rio.write_crs("EPSG:32631")
    for st in (xlstsr.scaling_stats(da), xlstsr.scaling_stats(da.chunk({"time": 1})).compute()):
        assert (st.increment_count.isel(time=1) == 0).all()
        assert (st.increment_count.isel(time=[0, 2]) > 0).all()
        assert np.isnan(float(st.hurst.isel(time=1)))


def test_a_tiny_field_gives_no_numpy_warnings():
    """'Mean of empty slice' from the spectral break fit of an 8 x 8 field."""
    rng = np.random.default_rng(0)
    with warnings.catch_warnings():
        warnings.simplefilter("error", RuntimeWarning)
        warnings.simplefilter("ignore", UserWarning)  # the small-field warning
        xlstsr.scaling_stats(_utm(300 + rng.standard_normal((8, 8)), units="K"),
                             _utm(rng.random((8, 8))))

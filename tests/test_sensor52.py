"""coarsen and the numpy sensor kernels (probe 52d findings 2, 6, 7; probe 52u finding 2):

- coarsen accepted the lazy read (or a loaded copy) of an unfinished upscale_to_zarr store and
  dropped its status mark: a computed copy went to to_cogs with its unwritten dates as all-NaN
  "cloudy" COGs, without a word;
- coarsen(psf='modis') on a lon/lat grid blurred every row with the central latitude's x width
  (210-448 m on the ground over 25-65 N, recorded as 350 m);
- radiometric_mean / gaussian_psf / conserve_radiometric took Celsius and flipped its sign
  (-10 degC everywhere aggregated to +10);
- coarsen relabelled a brightness temperature as a land surface temperature.
"""

import re
import warnings

import numpy as np
import pytest
import xarray as xr
from helpers import unfinished_store

import xlstsr
from xlstsr.errors import XlstsrError

# -- 1. an unfinished store is refused by coarsen, as by upscale and to_cogs -----------------


@pytest.fixture()
def unfinished(tmp_path):
    """A store of 3 one-step regions whose run stopped after 2 were written."""
    lst = xlstsr.datasets.sample_scene(n_times=3, size=16)["lst_1km"].chunk({"time": 1})
    return unfinished_store(lst, tmp_path / "out.zarr")


def test_coarsen_refuses_the_unwritten_steps_of_an_unfinished_store(unfinished):
    sr = xr.open_zarr(unfinished, consolidated=False, decode_coords="all")["lst_1km"]
    # before: coarsened, its third (unwritten) step all NaN and the status mark dropped
    with pytest.raises(XlstsrError, match=r"did not finish \(2 of 3 time blocks") as err:
        xlstsr.coarsen(sr, 2)
    with pytest.raises(XlstsrError, match="did not finish"):
        xlstsr.coarsen(sr.to_dataset(), 2)  # the Dataset form (its LST variable)
    # the advice, followed, coarsens the written steps
    call = re.search(r"select them: `(xr\.open_zarr\(.*?\))`", str(err.value)).group(1)
    out = xlstsr.coarsen(eval(call, {"xr": xr}), 2)
    assert out.sizes["time"] == 2 and bool(out.notnull().any(("y", "x")).all())
    # a copy loaded into memory: refused by its status mark, the dropna advice works
    loaded = sr.compute()
    with pytest.raises(XlstsrError, match=r"copy of the store.*dropna\('time', how='all'\)"):
        xlstsr.coarsen(loaded, 2)
    assert xlstsr.coarsen(loaded.dropna("time", how="all"), 2).sizes["time"] == 2


# -- 2. psf='modis' on a lon/lat grid: 350 m on the ground at every row ----------------------


def _latlon_field(nrows: int = 4000, ncols: int = 16) -> xr.DataArray:
    """A textured 0.01 degree field from 65 N to 25 N (a degree of longitude: 47-101 km)."""
    res = 0.01
    lat = 65 - res / 2 - res * np.arange(nrows)
    lon = res / 2 + res * np.arange(ncols)
    rng = np.random.default_rng(0)
    da = xr.DataArray((290 + 3 * rng.standard_normal((nrows, ncols))).astype(np.float32),
                      dims=("lat", "lon"), coords={"lat": lat, "lon": lon},
                      attrs={"units": "K"}, name="LST")
    return da.rio.set_spatial_dims(x_dim="lon", y_dim="lat").rio.write_crs("EPSG:4326")


def _row_blurred(t: np.ndarray, sy: float, sx: float, rows: slice) -> np.ndarray:
    from scipy import ndimage

    return ndimage.gaussian_filter(t.astype(np.float64) ** 4, (sy, sx), mode="nearest",
                                   truncate=4.0)[rows] ** 0.25


def test_modis_psf_on_a_latlon_grid_has_its_ground_width_at_every_row():
    from xlstsr.grid import MODIS_LST_PSF_SIGMA, metres_per_degree
    from xlstsr.kernels.aggregate import radiometric_mean

    da = _latlon_field()
    out = xlstsr.coarsen(da, 4, psf="modis")
    assert "psf_sigma_m=350" in out.attrs["xlstsr_degradation"]
    t, res = da.values, 0.01
    sy = MODIS_LST_PSF_SIGMA / (res * metres_per_degree(45.0)[0])  # the central latitude's
    for coarse_row in (0, 500, 999):  # 65, 45 and 25 N
        rows = slice(4 * coarse_row, 4 * coarse_row + 4)
        # each fine row seen through the 2-D Gaussian of its own latitude's x width
        seen = np.concatenate([
            _row_blurred(t, sy, MODIS_LST_PSF_SIGMA / (res * metres_per_degree(lat)[1]),
                         slice(r, r + 1))
            for r, lat in zip(range(rows.start, rows.stop), da["lat"].values[rows])])
        want = radiometric_mean(seen, 4)[0]
        # before: 65 N blurred with 45 N's width, 0.2 K off (sx 0.44 px for 0.74)
        np.testing.assert_allclose(out.values[coarse_row], want, atol=2e-3)
    # the same chunk by chunk (the halo covers the widest row, the northern one)
    lazy = xlstsr.coarsen(da.chunk({"lat": 400, "lon": 8}), 4, psf="modis")
    np.testing.assert_array_equal(lazy.values, out.values)


def test_per_row_psf_widths_with_trim_and_emissivity_agree_in_memory_and_on_dask():
    da = _latlon_field(402, 18)
    eps = (da * 0 + 0.97).rename("emis")
    eps.attrs = {}
    eps[::3] = 0.93
    for kwargs in ({}, {"emissivity": eps}):
        out = xlstsr.coarsen(da, 4, psf="modis", boundary="trim", **kwargs)
        chunked = {k: v.chunk({"lat": 40, "lon": 8}) for k, v in kwargs.items()}
        lazy = xlstsr.coarsen(da.chunk({"lat": 40, "lon": 8}), 4, psf="modis",
                              boundary="trim", **chunked)
        assert out.shape == (100, 4)
        np.testing.assert_array_equal(lazy.values, out.values)


def test_gaussian_psf_takes_one_x_width_per_row():
    from scipy import ndimage

    from xlstsr.kernels.aggregate import gaussian_psf, gaussian_psf_emitted

    rng = np.random.default_rng(1)
    t = 290 + 5 * rng.random((2, 12, 10))
    t[0, 3, 4] = np.nan
    sx = np.linspace(0.4, 1.6, 12)
    out = gaussian_psf(t, (0.7, sx))
    ok = np.isfinite(t)
    for r in (0, 5, 11):  # row r: the 2-D Gaussian of its own widths, NaN-aware
        num = ndimage.gaussian_filter(np.where(ok, t, 0) ** 4, (0, 0.7, sx[r]), mode="nearest")
        den = ndimage.gaussian_filter(ok * 1.0, (0, 0.7, sx[r]), mode="nearest")
        np.testing.assert_allclose(out[:, r], (num / den)[:, r] ** 0.25, rtol=1e-12)
    seen, _ = gaussian_psf_emitted(t, np.ones_like(t), (0.7, sx))
    np.testing.assert_allclose(seen, out, rtol=1e-12)
    # one width for every row: as before
    np.testing.assert_array_equal(gaussian_psf(t, (0.7, np.full(12, 1.1))),
                                  gaussian_psf(t, (0.7, 1.1)))
    with pytest.raises(ValueError, match="one width per row"):
        gaussian_psf(t, (0.7, sx[:5]))


# -- 3. the numpy radiometric kernels take Kelvin only ----------------------------------------


def test_radiometric_kernels_refuse_celsius_and_the_advice_works():
    from xlstsr.errors import UnitsError
    from xlstsr.kernels.aggregate import (
        conserve_radiometric,
        gaussian_psf,
        gaussian_psf_emitted,
        radiometric_mean,
    )

    celsius = np.array([[-10.0, 10.0], [-10.0, 10.0]])
    # before: [[10.0]] (T^4 lost the sign), and 10 for -10 degC everywhere
    calls = {"radiometric_mean": lambda a: radiometric_mean(a, 2),
             "gaussian_psf": lambda a: gaussian_psf(a, 1.0),
             "gaussian_psf_emitted": lambda a: gaussian_psf_emitted(a, np.full(a.shape, 0.97),
                                                                    1.0)[0],
             # the probe's case: both in Celsius (fine -5, coarse -10): the target is refused
             "conserve_radiometric": lambda a: conserve_radiometric(a + 5, a[:1, :1], 2)}
    for name, call in calls.items():
        with pytest.raises(UnitsError, match=rf"{name} takes .*Kelvin.*down to -10.*\+ 273\.15"):
            call(celsius)
    kelvin = celsius + 273.15  # the advice followed
    assert radiometric_mean(kelvin, 2)[0, 0] == pytest.approx(
        ((263.15**4 + 283.15**4) / 2) ** 0.25)
    for name in ("gaussian_psf", "gaussian_psf_emitted"):
        seen = calls[name](kelvin)
        assert np.all((seen > 263.15) & (seen < 283.15))
    assert radiometric_mean(calls["conserve_radiometric"](kelvin), 2)[0, 0] == pytest.approx(
        263.15)
    with pytest.raises(UnitsError, match="coarse holds values down to -10"):
        conserve_radiometric(celsius + 273.15, np.array([[-10.0]]), 2)
    with pytest.raises(UnitsError, match="down to 0"):  # a fill of 0 read as 0 K
        radiometric_mean(np.array([[0, 15000], [15100, 15200]], np.uint16), 2)
    # gaps and a whole Kelvin range pass, as before
    t = np.array([[263.15, np.nan], [283.15, 300.0]])
    assert radiometric_mean(t, 2, min_valid=0.5)[0, 0] == pytest.approx(
        np.mean(np.array([263.15, 283.15, 300.0]) ** 4) ** 0.25)
    assert np.isnan(radiometric_mean(np.full((2, 2), np.nan), 2)[0, 0])


# -- 4. a brightness temperature coarsened stays one ------------------------------------------


def _bt(attrs: dict) -> xr.DataArray:
    lst = xlstsr.datasets.sample_scene(n_times=1, size=16)["lst_1km"].isel(time=0)
    out = lst.copy()
    out.attrs = {"units": "K", **attrs}
    return out


def test_coarsen_keeps_a_brightness_temperature_its_name():
    bt = _bt({"standard_name": "brightness_temperature",
              "long_name": "Landsat-8 band 10 TOA brightness temperature"})
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        once = xlstsr.coarsen(bt, 2, min_valid=0.5)
        twice = xlstsr.coarsen(once, 2, min_valid=0.5)
    for out in (once, twice):
        # before: standard_name 'surface_temperature', "land surface temperature (...)"
        assert out.attrs["standard_name"] == "brightness_temperature"
        assert out.attrs["long_name"] == "brightness temperature (radiometrically aggregated)"
        assert out.attrs["source_long_name"] == "Landsat-8 band 10 TOA brightness temperature"
    # said by the long_name alone: no standard_name claimed either way
    plain = xlstsr.coarsen(_bt({"long_name": "band 10 brightness temperature"}), 2, min_valid=0.5)
    assert "standard_name" not in plain.attrs
    assert plain.attrs["long_name"].startswith("brightness temperature")
    # an LST, or a field that says nothing, is labelled LST as before
    for attrs in ({"standard_name": "surface_temperature", "long_name": "MODIS LST"}, {}):
        out = xlstsr.coarsen(_bt(attrs), 2, min_valid=0.5)
        assert out.attrs["standard_name"] == "surface_temperature"
        assert out.attrs["long_name"] == "land surface temperature (radiometrically aggregated)"


def test_a_tsharp_prediction_below_0_k_gets_the_output_check_not_celsius():
    # review 52e/1: the kernel's Kelvin check caught the regression's prediction first and told
    # "degrees Celsius? lst + 273.15" (followed: 549-617 K); the output check names the guide
    import xlstsr
    from xlstsr.errors import ImplausibleOutputError
    from xlstsr.kernels.aggregate import radiometric_mean

    sc = xlstsr.datasets.sample_scene(n_times=1, size=128, seed=3, cloud_fraction=0)
    yy, xx = np.mgrid[0:128, 0:128] / 128
    nd = 0.35 + 0.05 * np.sin(2 * np.pi * yy * 2) * np.cos(2 * np.pi * xx * 3)
    water = np.random.default_rng(3).random(nd.shape) < 0.01
    t = np.where(water, 290.0, 310 + 700 * (nd - 0.35))
    lst = sc["lst_1km"].copy(data=radiometric_mean(t[None], 4).astype(np.float32))
    guide = sc["ndvi_250m"].copy(data=np.where(water, -1.0, nd).astype(np.float32))
    with pytest.raises(ImplausibleOutputError) as err:
        xlstsr.upscale(lst, 4, "tsharp", guide=guide, guide_offset="ignore")
    assert "Celsius" not in str(err.value)

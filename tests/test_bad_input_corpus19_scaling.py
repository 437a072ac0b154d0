"""Nineteenth round of bad inputs, scaling_stats and `xlstsr scaling` (corpus19c).

Each case computed the wrong thing without a word, refused what it should take, or named a
fix the caller could not use (see each test's docstring).
"""

from __future__ import annotations

import warnings

import numpy as np
import pytest
import rioxarray  # noqa: F401
import xarray as xr

from tests.helpers import run_cli
from xlstsr import errors
from xlstsr.datasets import fbm_surface
from xlstsr.kernels import scaling as ks
from xlstsr.scaling import scaling_stats


def _da(a: np.ndarray, res: float = 30.0, res_y: float | None = None,
        crs: str | None = "EPSG:32631") -> xr.DataArray:
    """A (y, x) LST on a projected grid (square pixels unless ``res_y`` is given)."""
    ny, nx = a.shape
    ry = res if res_y is None else res_y
    da = xr.DataArray(a, dims=("y", "x"), name="lst", attrs={"units": "K"},
                      coords={"y": 1000.0 - (np.arange(ny) + 0.5) * ry,
                              "x": (np.arange(nx) + 0.5) * res})
    return da if crs is None else da.rio.write_crs(crs)


@pytest.fixture(scope="module")
def field47() -> np.ndarray:
    f = fbm_surface(64, 0.5, np.random.default_rng(3))[:47, :47]
    return 300.0 + 3.0 * f / f.std()


# -- crops ---------------------------------------------------------------------------------------

def test_a_factors_statistics_do_not_depend_on_the_other_factors(field47):
    """Every coarse-graining statistic was computed on the top-left crop to a multiple of the
    largest factor: adding factor 16 to a 47 x 47 window cut it to 32 x 32 and changed the
    factor-1 variance and LST-guide correlation."""
    rng = np.random.default_rng(4)
    guide = 0.8 - 0.02 * (field47 - 300.0) + 0.05 * rng.standard_normal(field47.shape)
    g = _da(guide).assign_attrs(units="1")
    a = scaling_stats(_da(field47), guide=g, factors=(1, 2, 4))
    b = scaling_stats(_da(field47), guide=g, factors=(1, 2, 4, 8, 16))
    for name in ("coarse_variance", "within_block_variance", "guide_correlation",
                 "guide_slope", "coarse_valid_fraction"):
        xr.testing.assert_allclose(a[name].sel(factor=[1, 2]), b[name].sel(factor=[1, 2]))
    # factor 1 is the whole field; factor 16 its top-left 32 x 32
    assert float(b.coarse_variance.sel(factor=1)) == pytest.approx(np.var(field47))
    var, _, within = ks.coarse_graining(field47, [1, 2, 16])
    assert var[0] == pytest.approx(np.var(field47))
    assert within[0] == pytest.approx(ks.coarse_graining(field47[:46, :46], [1, 2])[2][0])


def test_factors_that_do_not_divide_the_largest_are_computed():
    """factors=(1, 2, 3, 4, 6, 8) raised a raw ValueError 'shape (64, 64) is not a multiple of
    factor 3' from the aggregation kernel (the field was cropped to a multiple of 8)."""
    f = fbm_surface(64, 0.5, np.random.default_rng(5))
    a = 300.0 + 2.0 * f / f.std()
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        st = scaling_stats(_da(a), factors=(1, 2, 3, 4, 6, 8))
        st5 = scaling_stats(_da(a[:16, :16]), factors=(1, 2, 4, 5))
    assert np.all(np.isfinite(st.coarse_variance.values))
    # steps 1->2, 2->4, 3->6, 4->8 exist; 6 and 8 have no 2f
    assert np.isfinite(st.within_block_variance.sel(factor=[1, 2, 3, 4])).all()
    assert np.isnan(st.within_block_variance.sel(factor=[6, 8])).all()
    assert np.isfinite(st5.coarse_variance.values).all()


# -- pixel size and unit -------------------------------------------------------------------------

def test_lat_lon_dims_without_a_crs_are_degrees_not_metres():
    """Dims lat/lon (0.01 degree steps) without a CRS were called metres: pixel_size 0.01 'm',
    lag_m 0.01, 0.02 m ... for ~1 km pixels."""
    a = 300.0 + fbm_surface(64, 0.5, np.random.default_rng(6))
    lat = np.round(45 - 0.01 * np.arange(64), 4)
    lon = np.round(10 + 0.01 * np.arange(64), 4)
    for attrs in ({}, {"units": "degrees"}):
        da = xr.DataArray(a, dims=("lat", "lon"), attrs={"units": "K"},
                          coords={"lat": ("lat", lat, attrs), "lon": ("lon", lon, attrs)})
        st = scaling_stats(da)
        assert st.attrs["pixel_unit"] == "degree" and st.lag_m.attrs["units"] == "degree"
        assert st.attrs["pixel_size"] == pytest.approx(0.01)
    # y/x dims whose coordinates say degrees, no CRS
    da = _da(a, res=0.01, crs=None)
    da["x"].attrs["units"] = "degrees_east"
    assert scaling_stats(da).attrs["pixel_unit"] == "degree"


def test_a_crs_in_us_survey_feet_is_converted_to_metres():
    """A CRS in US survey feet (EPSG:2263, 3000 ft pixels) gave pixel_size 3000 'm'."""
    a = 300.0 + fbm_surface(64, 0.5, np.random.default_rng(7))
    st = scaling_stats(_da(a, res=3000.0, crs="EPSG:2263"))
    assert st.attrs["pixel_unit"] == "m"
    assert st.attrs["pixel_size"] == pytest.approx(3000 * 1200 / 3937)
    np.testing.assert_allclose(st.scale_m, st.factor * 3000 * 1200 / 3937)
    # metres stay metres; coordinates in km without a CRS are converted
    assert scaling_stats(_da(a, res=30.0)).attrs["pixel_size"] == pytest.approx(30.0)
    km = _da(a, res=1.0, crs=None)
    km["x"].attrs["units"] = km["y"].attrs["units"] = "km"
    assert scaling_stats(km).attrs["pixel_size"] == pytest.approx(1000.0)


def test_non_square_pixels_are_refused_naming_the_resampling():
    """500 m x 1000 m pixels: every scale was the x size alone (lag_m 500 m at lag 1 although a
    y increment spans 1000 m) and the isotropic statistics mixed both, without a word."""
    a = 300.0 + fbm_surface(64, 0.5, np.random.default_rng(8))
    with pytest.raises(errors.GridError, match=r"not square .*1000 m along y, 500 m along x.*"
                       r"reproject\(.*resolution=1000"):
        scaling_stats(_da(a, res=500.0, res_y=1000.0))
    # round-off (0.1 %) is square
    assert np.isfinite(float(scaling_stats(_da(a, res=500.0, res_y=500.5)).hurst))


# -- guide dates ---------------------------------------------------------------------------------

def _composite(scene):
    lst, nd = scene["lst_1km"].isel(time=[0, 1]), scene["ndvi_250m"]
    comp = xr.concat([nd, nd], "time").assign_coords(
        time=lst.time.values - np.timedelta64(3, "D"))
    comp.attrs = nd.attrs  # 16-day composites labelled 3 days before the LST dates
    return lst, comp


def test_scaling_stats_takes_guide_time_tolerance(scene):
    """scaling_stats refused 16-day composites advising `guide_time_tolerance=`, which it did
    not take (TypeError: unexpected keyword)."""
    lst, comp = _composite(scene)
    with pytest.raises(errors.GuideTimeError, match="guide_time_tolerance"):
        scaling_stats(lst, guide=comp)
    st = lst.lstsr.scaling_stats(guide=comp, guide_time_tolerance="16D")
    same = scaling_stats(lst, guide=comp.assign_coords(time=lst.time.values))
    xr.testing.assert_allclose(st.guide_correlation, same.guide_correlation)
    with pytest.raises(errors.GuideTimeError, match="no unit"):
        scaling_stats(lst, guide=comp, guide_time_tolerance="16")


def test_scaling_command_takes_guide_time_tolerance(capsys, scene, tmp_path):
    """`xlstsr scaling --guide` refused composites naming `guide_time_tolerance=`, and had no
    --guide-time-tolerance flag."""
    lst, comp = _composite(scene)
    lst.to_netcdf(tmp_path / "lst.nc")
    comp.to_netcdf(tmp_path / "ndvi.nc")
    code, err = run_cli(capsys, "scaling", tmp_path / "lst.nc", tmp_path / "a.csv",
                        "--guide", tmp_path / "ndvi.nc")
    assert code != 0 and "--guide-time-tolerance 15D" in err, err
    code, err = run_cli(capsys, "scaling", tmp_path / "lst.nc", tmp_path / "b.csv",
                        "--guide", tmp_path / "ndvi.nc", "--guide-time-tolerance", "16D")
    assert code == 0, err
    code, err = run_cli(capsys, "scaling", tmp_path / "lst.nc", tmp_path / "c.csv",
                        "--guide-time-tolerance", "16D")
    assert code == 2 and "add --guide" in err


# -- command-line advice -------------------------------------------------------------------------

def test_scaling_command_has_the_scales_its_warning_names(capsys, scene, tmp_path):
    """On a 16 x 16 field `xlstsr scaling` warned "pass lags= and factors=", options it had no
    flag for."""
    scene["lst_1km"].isel(time=0, y=slice(0, 16), x=slice(0, 16)).rio.to_raster(
        tmp_path / "lst.tif")
    code, err = run_cli(capsys, "scaling", tmp_path / "lst.tif", tmp_path / "a.csv")
    assert code == 0 and "`--lags` and `--factors`" in err, err
    code, err = run_cli(capsys, "scaling", tmp_path / "lst.tif", tmp_path / "b.csv",
                        "--lags", "1,2,4", "--factors", "1,2,4")
    assert code == 0 and "not reliable" not in err, err
    code, err = run_cli(capsys, "scaling", tmp_path / "lst.tif", tmp_path / "c.csv",
                        "--lags", "1,2.5")
    assert code == 2 and "--lags takes whole numbers" in err


def test_lags_and_factors_flags_reach_scaling_stats(capsys, scene, tmp_path):
    """The chosen scales are the ones computed (a .nc output holds every statistic)."""
    scene["lst_1km"].isel(time=0).rio.to_raster(tmp_path / "lst.tif")
    code, err = run_cli(capsys, "scaling", tmp_path / "lst.tif", tmp_path / "a.nc",
                        "--lags", "1,2,3", "--factors", "1,2,3,6")
    assert code == 0, err
    st = xr.open_dataset(tmp_path / "a.nc")
    assert st.lag.values.tolist() == [1, 2, 3] and st.factor.values.tolist() == [1, 2, 3, 6]
    st.close()


def test_pixel_size_public_function_reads_lat_lon_dims():
    """pixel_size() of lat/lon-named dims raised NoSpatialDimsError; it now says degrees."""
    da = xr.DataArray(np.zeros((4, 4)), dims=("lat", "lon"),
                      coords={"lat": 45 - 0.5 * np.arange(4), "lon": 0.5 * np.arange(4)})
    from xlstsr.scaling import pixel_size

    assert pixel_size(da) == (0.5, "degree")

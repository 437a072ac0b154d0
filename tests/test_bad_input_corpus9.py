"""Ninth round of bad inputs (session 16).

Each case gave a silent wrong result, a crash or a message that named no fix before its fix.
"""

import warnings

import numpy as np
import pytest
import xarray as xr

import xlstsr
from xlstsr import errors


@pytest.fixture(scope="module")
def scene():
    return xlstsr.datasets.sample_scene(n_times=2, size=64, cloud_fraction=0.0)


def test_upscaling_an_xlstsr_output_again_is_named(scene, tmp_path):
    """A 250 m result fed back as the LST was upscaled to 62.5 m with no word: the second step
    sharpens the first model's detail, and the result's provenance names only the second."""
    sr = xlstsr.upscale(scene["lst_1km"], 4, "bicubic")
    with pytest.warns(errors.ResampledInputWarning, match=r"already super-resolved.*'bicubic'"
                      r".*x4.*sensor's own LST"):
        xlstsr.upscale(sr, 2, "bicubic")
    # read back from its store, as a user does
    sr.to_dataset(name="lst").to_zarr(tmp_path / "sr.zarr", consolidated=False)
    again = xr.open_zarr(tmp_path / "sr.zarr", consolidated=False)["lst"]
    assert again.attrs["xlstsr_method"] == "bicubic"
    with pytest.warns(errors.ResampledInputWarning, match="already super-resolved"):
        xlstsr.upscale(again.rio.write_crs(sr.rio.crs), 2, "bicubic")
    # the sensor's LST is not warned about, and the attribute dropped silences it
    with warnings.catch_warnings():
        warnings.simplefilter("error", errors.ResampledInputWarning)
        xlstsr.upscale(scene["lst_1km"], 4, "bicubic")
        sr.attrs.pop("xlstsr_method")
        xlstsr.upscale(sr, 2, "bicubic")


def _xy(da):
    """The same field with its dims in (..., x, y) order (a NetCDF written longitude-first)."""
    return da.transpose(*[d for d in da.dims if d not in ("x", "y")], "x", "y")


def _south_up(da):
    return da.isel(y=slice(None, None, -1))


@pytest.mark.parametrize("flip", [_xy, _south_up])
def test_gain_and_calibration_pair_pixels_by_place_not_array_position(scene, flip):
    """calibrate_detail_gain and fit_calibration paired pixel (i, j) with (j, i) when one input
    was (time, x, y): a gain of 0.0 or 0.51 for 0.16, a calibration slope 0.92 / offset 26.6 K
    for 1.02 / -6.5 K, silently; a south-up LST was 'off by 0 coarse pixels'."""
    from xlstsr.calibration import fit_calibration
    from xlstsr.correction import calibrate_detail_gain

    lst, truth, g = scene["lst_1km"], scene["lst_250m"], scene["ndvi_250m"]
    sr = lst.lstsr.upscale(4, "tsharp", guide=g, guide_offset="ignore")
    gain = calibrate_detail_gain(sr, lst, truth, 4)
    assert 0 < gain < 1
    for args in ((flip(sr), lst, truth), (sr, flip(lst), truth), (sr, lst, flip(truth))):
        assert calibrate_detail_gain(*args, 4) == pytest.approx(gain, abs=1e-12)
    other = truth + 1.0 + 0.02 * (truth - 300)
    ref = fit_calibration(sr, other, g)
    for args in ((sr, other, flip(g)), (flip(sr), other, g), (sr, flip(other), g)):
        c = fit_calibration(*args)
        assert (c.slope, c.offset, c.ndvi) == pytest.approx((ref.slope, ref.offset, ref.ndvi))


@pytest.mark.parametrize("flip", [_xy, _south_up])
def test_offset_of_a_transposed_or_south_up_field_is_estimated(scene, flip):
    """estimate_offset compared a (time, x, y) LST with the fine field as arrays: a shift at the
    search bound (-463 m) and an error blaming the data; a south-up fine field was 'no overlap'
    in rioxarray's words."""
    lst, fine = scene["lst_1km"], scene["lst_250m"]
    ref = xlstsr.estimate_offset(fine, lst)
    for f, c in ((flip(fine), lst), (fine, flip(lst))):
        est = xlstsr.estimate_offset(f, c)
        assert bool(est.reliable.all())
        np.testing.assert_allclose(est.shift_x, ref.shift_x, atol=1.0)
        np.testing.assert_allclose(est.shift_y, ref.shift_y, atol=1.0)
    # scaling_stats with a south-up guide of the LST's shape: was "off by 0 (0 pixels)"
    a = xlstsr.scaling_stats(fine, guide=scene["ndvi_250m"])
    b = xlstsr.scaling_stats(fine, guide=flip(scene["ndvi_250m"]))
    xr.testing.assert_allclose(a, b)


def _latlon(da, lat0=40.0, lon0=-100.0, res=0.01):
    n = da.sizes["y"]
    return xr.DataArray(
        da.values, dims=("time", "lat", "lon"),
        coords={"time": da.time, "lat": lat0 - (np.arange(n) + 0.5) * res,
                "lon": lon0 + (np.arange(n) + 0.5) * res}, attrs={"units": "K"},
    ).rio.write_crs("EPSG:4326")


def test_a_lat_lon_result_is_taken_back_by_every_entry_point(scene, tmp_path):
    """upscale's own lat/lon result was refused by coarsen, evaluate, scaling_stats (a
    NoSpatialDimsError that said lat/lon were renamed) and to_cogs (rioxarray's raw error)."""
    from xlstsr.io import to_cogs

    lst = _latlon(scene["lst_1km"])
    sr = lst.lstsr.upscale(4, "bicubic")
    assert sr.dims == ("time", "lat", "lon")
    assert xlstsr.coarsen(sr, 4).shape == lst.shape
    assert sr.lstsr.coarsen(4).shape == lst.shape
    fine = _latlon(scene["lst_250m"], res=0.0025)
    assert np.isfinite(xlstsr.evaluate(sr, fine).rmse.values).all()
    assert "hurst" in xlstsr.scaling_stats(sr)
    assert len(to_cogs(sr, tmp_path / "cogs")) == 2


def test_dims_declared_with_set_spatial_dims_are_honoured(scene):
    """The NoSpatialDimsError's own advice, `rio.set_spatial_dims(...)`, gave the same error
    again: rioxarray forgets the declaration on the first isel."""
    lst = scene["lst_1km"].rename(y="northing", x="easting").rio.set_spatial_dims(
        x_dim="easting", y_dim="northing")
    sr = xlstsr.upscale(lst, 4, "bicubic")
    assert sr.dims == ("time", "northing", "easting")
    ref = xlstsr.upscale(scene["lst_1km"], 4, "bicubic")
    np.testing.assert_array_equal(sr.values, ref.values)
    assert xlstsr.coarsen(lst, 2).shape == (2, lst.sizes["northing"] // 2, lst.sizes["easting"] // 2)
    assert "hurst" in xlstsr.scaling_stats(lst)

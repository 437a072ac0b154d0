"""Ninth round of bad inputs (session 16).

Each case gave a silent wrong result, a crash or a message that named no fix before its fix.
"""

import re
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


def test_guide_bands_as_many_as_the_dates_are_named(scene, tmp_path):
    """One NDVI GeoTIFF band per date (the CLI's own convention for LST GeoTIFFs) became two
    regression channels of every date: each date sharpened with both dates' NDVI, 2.3 K off,
    silently."""
    import rioxarray

    lst, g = scene["lst_1km"], scene["ndvi_250m"]
    per_date = xr.concat([g, g * 0.9], "time").assign_coords(time=lst.time.values)
    per_date.rio.to_raster(tmp_path / "ndvi.tif")
    bands = rioxarray.open_rasterio(tmp_path / "ndvi.tif")
    assert bands.dims == ("band", "y", "x")
    with pytest.warns(UserWarning, match=r"2 'band' bands, labelled alike, are used as 2 "
                      r"channels.*rename\(band='time'\)"):
        lst.lstsr.upscale(4, "tsharp", guide=bands, guide_offset="ignore")
    # the fix the message gives is the per-date result
    fixed = bands.rename(band="time").assign_coords(time=lst.time)
    a = lst.lstsr.upscale(4, "tsharp", guide=fixed, guide_offset="ignore")
    b = lst.lstsr.upscale(4, "tsharp", guide=per_date, guide_offset="ignore")
    np.testing.assert_allclose(a.values, b.values, atol=1e-4)
    # labelled channels (NDVI and albedo) are not warned about
    chans = bands.copy()
    chans.attrs["long_name"] = ("NDVI", "albedo")
    with warnings.catch_warnings():
        warnings.simplefilter("error")
        lst.lstsr.upscale(4, "tsharp", guide=chans, guide_offset="ignore")


def _composites(g):
    """Two 16-day NDVI composites labelled by their first day, before the LST's dates."""
    days = np.array(["2020-06-25", "2020-06-26"], "datetime64[ns]")
    return g.expand_dims(time=days).rename("ndvi")


def test_guide_time_tolerance_reaches_the_command_line(scene, tmp_path):
    """The mismatch error said `guide_time_tolerance=`, a flag `xlstsr upscale` did not have."""
    from xlstsr.cli import main

    lst, g = scene["lst_1km"], scene["ndvi_250m"]
    lst.to_dataset(name="lst").to_netcdf(tmp_path / "lst.nc")
    _composites(g).to_netcdf(tmp_path / "ndvi.nc")
    args = ["upscale", str(tmp_path / "lst.nc"), str(tmp_path / "out.nc"), "--method", "tsharp",
            "--guide", str(tmp_path / "ndvi.nc"), "--quiet"]
    assert main(args) == 2
    assert main([*args, "--guide-time-tolerance", "16D"]) == 0
    out = xr.open_dataset(tmp_path / "out.nc")
    assert out.sizes["time"] == 2


def test_guide_time_tolerance_error_names_the_flag(scene, tmp_path, capsys):
    from xlstsr.cli import main

    lst, g = scene["lst_1km"], scene["ndvi_250m"]
    lst.to_dataset(name="lst").to_netcdf(tmp_path / "lst.nc")
    _composites(g).to_netcdf(tmp_path / "ndvi.nc")
    assert main(["upscale", str(tmp_path / "lst.nc"), str(tmp_path / "out.nc"), "--method",
                 "tsharp", "--guide", str(tmp_path / "ndvi.nc"), "--quiet"]) == 2
    assert "`--guide-time-tolerance 15D`" in capsys.readouterr().err
    assert main(["upscale", str(tmp_path / "lst.nc"), str(tmp_path / "o2.nc"), "--method",
                 "bicubic", "--guide-time-tolerance", "16D", "--quiet"]) == 2
    assert "add --guide" in capsys.readouterr().err


def test_a_plain_number_tolerance_against_dates_is_named(scene):
    """guide_time_tolerance=16 against dates was 16 ns, and the error asked for the argument
    the user had passed; '-1D' with a guide of no time passed unchecked."""
    lst, g = scene["lst_1km"], scene["ndvi_250m"]
    comp = g.expand_dims(time=[np.datetime64("2020-06-28", "ns")])
    with pytest.raises(errors.GuideTimeError, match=r"plain number.*dates.*'16D'"):
        lst.lstsr.upscale(4, "tsharp", guide=comp, guide_time_tolerance=16)
    with pytest.raises(errors.GuideTimeError, match=">= 0"):
        lst.lstsr.upscale(4, "tsharp", guide=g, guide_time_tolerance="-1D")


def test_a_much_finer_reference_is_named(scene):
    """A reference 4x finer than sr scored the truth's own aggregate 2.15 K, silently."""
    truth = scene["lst_250m"]
    perfect = xlstsr.coarsen(truth, 4)
    with pytest.warns(UserWarning, match=r"4.0 times finer.*xlstsr.coarsen\(reference, 4\)"):
        xlstsr.evaluate(perfect, truth)
    # on its own scale the perfect product scores 0, without the warning
    with warnings.catch_warnings():
        warnings.simplefilter("error")
        ev = xlstsr.evaluate(perfect, xlstsr.coarsen(truth, 4))
    assert float(ev.rmse.max()) < 1e-4


@pytest.mark.parametrize("lon0", [-100.0, 100.0])
def test_longitude_conventions_apart_are_named(scene, lon0):
    """LST on -180..180 and guide on 0..360 (or the reverse): 'covers 0 %, check both CRS' and
    rioxarray's 'No data found in bounds', with both CRSs right."""
    lst = _latlon(scene["lst_1km"], lon0=lon0)
    other = lon0 + 360 if lon0 < 0 else lon0 - 360  # the same place in the other convention
    ndvi = xr.DataArray(
        scene["ndvi_250m"].values, dims=("lat", "lon"),
        coords={"lat": 40 - (np.arange(64) + 0.5) * 0.0025,
                "lon": other + (np.arange(64) + 0.5) * 0.0025}).rio.write_crs("EPSG:4326")
    fix = "% 360) - 180" if lon0 < 0 else "guide.lon % 360"
    with pytest.raises(errors.GuideCoverageError, match=rf"longitudes run.*{re.escape(fix)}"):
        lst.lstsr.upscale(4, "tsharp", guide=ndvi)
    fine = _latlon(scene["lst_250m"], lon0=other, res=0.0025)
    with pytest.raises(errors.NoOverlapError, match=r"fine field would overlap it"):
        xlstsr.estimate_offset(fine, lst)
    # the fix given works
    if lon0 < 0:
        moved = ndvi.assign_coords(lon=((ndvi.lon + 180) % 360) - 180).sortby("lon")
    else:
        moved = ndvi.assign_coords(lon=ndvi.lon % 360).sortby("lon")
    assert lst.lstsr.upscale(4, "tsharp", guide=moved).shape == (2, 64, 64)


@pytest.mark.realdata
def test_guide_offset_is_estimated_on_the_lst_step_it_goes_with(shared_data):
    """check_alignment compared the guide's first step with the LST's clearest step: two
    dates. Pair 171's NDVI is offset from its LST; here the guide's first step is that NDVI,
    its second the NDVI moved back, and the LST's first step half cloud: the aligned second
    steps were reported offset."""
    from xlstsr.datasets import open_modis_aster_aligned
    from xlstsr.guide import check_alignment

    root = shared_data / "modis_aster"
    offset = open_modis_aster_aligned("171", root)
    moved = open_modis_aster_aligned("171", root, guide_offset="auto")["ndvi"]
    days = np.array(["2020-07-01", "2020-07-02"], "datetime64[ns]")
    lst = xr.concat([offset["lst"], offset["lst"]], "time").assign_coords(time=days)
    lst[0, :, : lst.sizes["x"] // 2] = np.nan  # the second step is the clearest
    guide = xr.concat([offset["ndvi"], moved], "time").assign_coords(time=days)
    with warnings.catch_warnings():
        warnings.simplefilter("error", errors.GuideAlignmentWarning)
        check_alignment(guide, lst, "check", factor=4)
    swapped = xr.concat([moved, offset["ndvi"]], "time").assign_coords(time=days)
    with pytest.warns(errors.GuideAlignmentWarning, match="offset from the LST"):
        check_alignment(swapped, lst, "check", factor=4)

"""Inputs that must not go silently wrong (issue 15): each category's general rule, and that valid
inputs still pass it.

1. a guide off the scale a model was trained on, and any method's implausible output;
2. an undeclared fill value inside the physical range;
3. a guide's time steps matched by label, not position;
4. an evaluation reference decoded through the inputs' front door;
5. the resume fingerprint sees the data;
6. chunk-independent checks, bounded factors, grids (float32, empty, one pixel, lat/lon,
   transform only), options a method ignores, torch errors with their fix.
"""

from __future__ import annotations

import sys
import warnings

import dask
import dask.array as dsa
import numpy as np
import pandas as pd
import pytest
import rioxarray
import torch
import xarray as xr
from affine import Affine
from helpers import make_lst, raise_if_computed

import xlstsr
from xlstsr import errors
from xlstsr.engine.to_zarr import FINGERPRINT_CHUNKS, data_digest
from xlstsr.evaluate import decode_reference
from xlstsr.guide import check_guide_values, match_steps, prepare_guide
from xlstsr.validate import check_output, decode_lst, suspect_fill

UPSCALE = sys.modules["xlstsr.upscale"]  # the module (xlstsr.upscale is the function)


@pytest.fixture(scope="module")
def pair():
    """The real MODIS/ASTER pair embedded in the package: (lst 1 km, ndvi 250 m, aster)."""
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        return xlstsr.datasets.modis_aster_sample()


def _quiet(fn, *args, **kwargs):
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", errors.GuideAlignmentWarning)
        return fn(*args, **kwargs)


# -- 1. guide scale against the model's training statistics; plausibility of every output -------


@pytest.mark.parametrize(
    ("scale", "dtype", "cause"),
    [(100.0, "float32", "NDVI in percent\\? divide it by 100"),
     (10000.0, "int16", "multiply by 0.0001")],
)
def test_guide_off_the_training_scale_is_refused_with_its_cause(pair, scale, dtype, cause):
    lst, ndvi, _ = pair
    bad = (ndvi * scale).astype(dtype)
    with pytest.raises(errors.GuideScaleError, match=cause):
        _quiet(xlstsr.upscale, lst, 4, "disr", guide=bad)
    # lazy: nothing computed to build it, the check raises when the result is computed
    with raise_if_computed():
        lazy = _quiet(xlstsr.upscale, lst.chunk(32), 4, "disr", guide=bad.chunk(64),
                      guide_offset="ignore")
    with pytest.raises(errors.GuideScaleError, match=cause):
        lazy.compute()
    ok = _quiet(xlstsr.upscale, lst, 4, "disr", guide=ndvi)  # the real NDVI passes
    assert 295 < float(ok.min()) and float(ok.max()) < 330


def test_guide_check_reads_whole_images_on_any_chunking():
    # one 8 x 8 chunk 12 training std above the mean: off the scale taken alone, not in its image
    expected = {"mean": [0.6], "std": [0.2], "names": ["ndvi"]}
    g = np.full((1, 1, 64, 64), 0.6, np.float32)
    g[..., :8, :8] = 3.0
    check_guide_values(g, expected)
    check_guide_values(dsa.from_array(g, chunks=(1, 1, 8, 8)), expected).compute()
    g[..., :32, :] = 60.0  # half the image in percent: refused, whatever the chunks
    with pytest.raises(errors.GuideScaleError):
        check_guide_values(g, expected)
    with pytest.raises(errors.GuideScaleError):
        check_guide_values(dsa.from_array(g, chunks=(1, 1, 8, 8)), expected).compute()


def test_without_the_guide_check_the_output_check_still_catches_it(pair, monkeypatch):
    lst, ndvi, _ = pair
    monkeypatch.setattr(UPSCALE, "check_guide_values", lambda g, expected: g)
    # and without the NDVI range check of the guide's front door
    monkeypatch.setattr(sys.modules["xlstsr.guide"], "_refuse_ndvi_range", lambda *a: None)
    raw = _quiet(xlstsr.upscale, lst, 4, "disr", guide=ndvi * 100, output_check=False)
    assert float(raw.min()) < 150 or float(raw.max()) > 400  # what used to come out
    with pytest.raises(errors.ImplausibleOutputError, match=r"'disr'.*NDVI in percent"):
        _quiet(xlstsr.upscale, lst, 4, "disr", guide=ndvi * 100)


@pytest.mark.parametrize("name", ["bicubic", "nearest", "tsharp", "dms", "sisr", "disr"])
def test_every_method_output_is_checked(name, scene, monkeypatch):
    cls = type(xlstsr.methods.get_method(name))
    real = cls.upscale_block

    def broken(self, lst, valid, guide, factor):  # e.g. a model fed the wrong thing
        out = real(self, lst, valid, guide, factor)
        out[..., :3, :3] = -6.0e4
        return out

    monkeypatch.setattr(cls, "upscale_block", broken)
    lst, guide = scene["lst_1km"].isel(time=[0]), scene["ndvi_250m"]
    g = guide if name in ("tsharp", "dms", "disr") else None
    with pytest.raises(errors.ImplausibleOutputError, match=rf"'{name}' produced .* -60000"):
        xlstsr.upscale(lst, 4, name, guide=g)
    with raise_if_computed():
        lazy = xlstsr.upscale(lst.chunk({"y": 32}), 4, name, guide=g)
    with pytest.raises(errors.ImplausibleOutputError):
        lazy.compute()


def test_output_check_is_relative_to_each_image_and_keeps_valid_output():
    lst = np.stack([np.full((2, 2), 250.0), np.full((2, 2), 320.0)])
    out = np.repeat(np.repeat(lst, 4, 1), 4, 2)
    assert check_output(out, lst, "x") is out
    out[1, 0, 0] = 230.0  # plausible in image 0, 90 K below image 1's input
    with pytest.raises(errors.ImplausibleOutputError, match=r"320.00 to 320.00 K"):
        check_output(out, lst, "x")
    with pytest.raises(errors.ImplausibleOutputError):
        check_output(dsa.from_array(out, chunks=(1, 4, 4)), dsa.from_array(lst, chunks=1),
                     "x").compute()


# -- 2. undeclared fill values -------------------------------------------------------------------


def _seviri(shared_data, **attrs):
    da = rioxarray.open_rasterio(shared_data / "seviri_athens" / "LSALST_20180819_Athens_15min.tif")
    da = da.rename(band="time").isel(time=slice(0, 8))
    da.attrs.update(attrs)
    return da


def test_seviri_fill_inside_the_physical_range_is_named(shared_data):
    da = _seviri(shared_data, units="degC")  # -80 degC = 193 K over half the scene
    with pytest.raises(errors.UndeclaredFillError, match=r"value -80 .*_FillValue'\] = -80"):
        xlstsr.upscale(da, 4)
    with raise_if_computed():
        lazy = xlstsr.upscale(da.chunk({"time": 2, "y": 7, "x": 7}), 4)
    with pytest.raises(errors.UndeclaredFillError):
        lazy.compute()
    # declared, it is a gap: the same pixels are NaN in the result
    sr = xlstsr.upscale(_seviri(shared_data, units="degC", _FillValue=-80), 4)
    assert np.isnan(sr.values).mean() == pytest.approx((da.values == -80).mean())
    assert 280 < np.nanmin(sr.values) and np.nanmax(sr.values) < 340
    # without units, the fill is named first, then the units
    with pytest.raises(errors.UndeclaredFillError, match=r"-80"):
        xlstsr.upscale(_seviri(shared_data), 4)
    with pytest.raises(errors.UnitsError, match=r"degC"):
        xlstsr.upscale(_seviri(shared_data, _FillValue=-80), 4)


def test_fill_rule_does_not_flag_real_or_uniform_data(shared_data, scene):
    assert suspect_fill(np.full(10_000, 300.0)) is None  # a uniform scene has no "rest"
    quantised = np.round(np.random.default_rng(0).normal(300, 0.5, 10_000) / 0.02) * 0.02
    assert suspect_fill(quantised) is None  # MODIS DN x 0.02: many repeats, none far below
    cloud = 300 + np.random.default_rng(1).normal(0, 2, 10_000)
    cloud[:1000] = 240 + np.random.default_rng(2).normal(0, 3, 1000)  # cold, but not one value
    assert suspect_fill(cloud) is None
    cloud[:1000] = 240.0  # the same share as one exact value: a fill
    assert suspect_fill(cloud) == (240.0, pytest.approx(0.1))
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        decode_lst(scene["lst_1km"]).compute()
        decode_lst(scene["lst_250m"]).compute()
        ds = xlstsr.datasets.modis_sample()
        decode_lst(ds.lst_day).compute()
        decode_lst(ds.lst_night).compute()
        for pid in xlstsr.datasets.modis_aster_pairs():
            lst, _, aster = xlstsr.datasets.open_modis_aster_pair(pid)
            decode_lst(lst).compute()
            # its truth mask keeps the ASTER data; the border band of stored 2000 (200 K)
            # left beside it is a fill, refused as temperature (scored before as data)
            usable = aster.where(xlstsr.datasets.aster_truth_mask(aster))
            decode_reference(usable).compute()
            with pytest.raises(errors.UndeclaredFillError, match="plateau"):
                decode_reference(aster).compute()
        for f in sorted((shared_data / "yanco_modis_landsat").glob("*.tif")):
            decode_lst(rioxarray.open_rasterio(f)).compute()


# -- 3. guide time steps matched by label ------------------------------------------------------


def test_16_day_composites_matched_by_date_on_real_data():
    ds = xlstsr.datasets.modis_sample()
    lst = ds.lst_day
    # the NDVI as a composite series: one step per 16-day period, labelled by its first day
    comp = ds.ndvi.assign_coords(time=ds.composite_start.values).drop_vars("composite_start")
    comp = comp.groupby("time").first()
    assert comp.sizes["time"] == 8 and not np.array_equal(comp.time.values, lst.time.values)
    matched = match_steps(comp, lst, "time", "16D")
    np.testing.assert_array_equal(matched.values, ds.ndvi.values)
    with pytest.raises(errors.GuideTimeError, match=r"guide_time_tolerance"):
        prepare_guide(comp, lst, 4, ("time",))
    a = _quiet(prepare_guide, comp, lst, 4, ("time",), time_tolerance="16D").compute()
    b = _quiet(prepare_guide, ds.ndvi, lst, 4, ("time",)).compute()
    np.testing.assert_array_equal(a, b)
    with pytest.raises(errors.GuideTimeError, match=r"2 of the LST's 8 steps.*2020-07-08"):
        match_steps(comp, lst, "time", "12D")  # 07-08 and 11-29 are 13 days into their period


def test_guide_steps_follow_labels_not_positions(scene):
    lst = scene["lst_1km"].isel(time=[0, 1])
    lst = lst.assign_coords(time=pd.to_datetime(["2020-07-01", "2020-07-02"]))
    g = scene["ndvi_250m"]
    cube = xr.concat([g, 0.5 * g], dim="time").assign_coords(time=lst.time.values)
    ref = xlstsr.upscale(lst, 4, "tsharp", guide=cube)
    shuffled = cube.isel(time=[1, 0])  # dates in the other order: same pairs
    xr.testing.assert_identical(xlstsr.upscale(lst, 4, "tsharp", guide=shuffled), ref)
    other = cube.assign_coords(time=pd.to_datetime(["2021-07-01", "2021-07-02"]))
    with pytest.raises(errors.GuideTimeError, match=r"2 of the LST's 2 steps"):
        xlstsr.upscale(lst, 4, "tsharp", guide=other)
    unlabelled = cube.drop_vars("time")
    with pytest.raises(errors.GuideTimeError, match=r"no 'time' labels"):
        xlstsr.upscale(lst, 4, "tsharp", guide=unlabelled)
    with pytest.raises(errors.GuideTimeError, match=r"3 steps along 'time' and the LST 2"):
        xlstsr.upscale(lst.drop_vars("time"), 4, "tsharp",
                       guide=xr.concat([g, g, g], dim="time"))


def test_guide_time_dim_without_lst_time_is_not_made_into_bands(scene):
    lst = scene["lst_1km"].isel(time=0, drop=True)
    g = scene["ndvi_250m"]
    cube = xr.concat([g, 0.5 * g], dim="time").assign_coords(
        time=pd.to_datetime(["2020-07-01", "2020-07-17"]))
    with pytest.raises(errors.GuideTimeError, match=r"time dim 'time' \(2 steps\) but the LST"):
        xlstsr.upscale(lst, 4, "tsharp", guide=cube)
    one = xlstsr.upscale(lst, 4, "tsharp", guide=cube.isel(time=[0]))  # one step: unambiguous
    xr.testing.assert_identical(one, xlstsr.upscale(lst, 4, "tsharp", guide=g))


# -- 4. evaluation references decoded as inputs are ---------------------------------------------


def test_reference_units_and_scale_are_decoded_or_refused(scene):
    sr = xlstsr.upscale(scene["lst_1km"].isel(time=[0]), 4)
    truth = scene["lst_250m"].isel(time=0, drop=True)
    base = xlstsr.evaluate(sr, truth)
    celsius = (truth - 273.15).assign_attrs(units="degC")
    xr.testing.assert_allclose(xlstsr.evaluate(sr, celsius), base)  # not 273 K of RMSE
    with pytest.raises(errors.UnitsError, match=r"degC"):
        xlstsr.evaluate(sr, (truth - 273.15).drop_attrs(deep=False))
    with pytest.raises(errors.PhysicalRangeError, match=r"degrees Celsius"):
        xlstsr.evaluate(sr, (truth - 273.15).assign_attrs(units="K"))
    with pytest.raises(errors.PhysicalRangeError, match=r"reference_scale=0.1"):
        xlstsr.evaluate(sr, truth * 10)  # not 2785 K of RMSE
    scaled = (truth * 10).fillna(0)
    with pytest.raises(errors.UndeclaredFillError, match=r"reference_nodata=0"):
        xlstsr.evaluate(sr, scaled, reference_scale=0.1)
    # stored K x 10 in float32: equal to the Kelvin truth to its rounding
    xr.testing.assert_allclose(
        xlstsr.evaluate(sr, scaled, reference_scale=0.1, reference_nodata=0), base, atol=1e-4)
    declared = (truth * 10).fillna(0).assign_attrs(scale_factor=0.1, _FillValue=0)
    xr.testing.assert_allclose(xlstsr.evaluate(sr, declared), base, atol=1e-4)


def test_real_aster_reference_without_its_nodata_is_refused(shared_data, pair):
    lst, _, _ = pair
    raw = rioxarray.open_rasterio(shared_data / "modis_aster" / "002_aster_lst_250m.tif")
    raw = raw.squeeze(drop=True)  # K x 10, 0 outside the scene, no nodata tag
    sr = xlstsr.upscale(lst, 4)
    with pytest.raises(errors.UndeclaredFillError, match=r"reference_nodata=0"):
        xlstsr.evaluate(sr, raw, reference_scale=0.1)
    ds = xlstsr.evaluate(sr, raw, reference_scale=0.1, reference_nodata=0, erode=3,
                         valid_min=230)
    # the same as the reference decoded by hand (0 -> NaN, DN x 0.1 K), and a plausible error
    kelvin = (raw.where(raw != 0) * 0.1).astype("float32")
    kelvin.attrs = {"units": "K"}
    by_hand = xlstsr.evaluate(sr, kelvin, erode=3, valid_min=230)
    assert float(ds.rmse) == pytest.approx(float(by_hand.rmse), abs=1e-4)
    assert int(ds.n_valid) == int(by_hand.n_valid) > 1000
    assert 1.0 < float(ds.rmse) < 4.0


# -- 5. the resume fingerprint sees the data ---------------------------------------------------


def test_resume_refuses_other_values_with_the_same_metadata(tmp_path):
    v = np.random.default_rng(0).uniform(280, 320, (4, 8, 8)).astype(np.float32)
    a = make_lst(v, units="K").assign_coords(time=np.arange(4))
    store = tmp_path / "out.zarr"
    xlstsr.upscale_to_zarr(a, store, 2, time_chunk=1, progress=False)
    b = a.copy(data=v[::-1].copy())  # same dims, coords, attrs, dtype: other values
    with pytest.raises(errors.XlstsrError, match=r"differ in \['input'\]"):
        xlstsr.upscale_to_zarr(b, store, 2, time_chunk=1, mode="resume", progress=False)
    xlstsr.upscale_to_zarr(a.copy(deep=True), store, 2, time_chunk=1, mode="resume",
                           progress=False)  # the same values: resumes


def test_data_digest_reads_only_sampled_chunks():
    seen = []

    def count(block, block_info=None):
        if block_info and block.size:
            seen.append(block_info[0]["chunk-location"])
        return block

    base = dsa.from_array(np.arange(40 * 16.0).reshape(40, 4, 4), chunks=(1, 4, 4))
    lazy = xr.DataArray(base.map_blocks(count, dtype=float), dims=("time", "y", "x"))
    with dask.config.set(scheduler="sync"):
        digest = data_digest(lazy)
    assert len(seen) == FINGERPRINT_CHUNKS and (0, 0, 0) in seen and (39, 0, 0) in seen
    assert digest == data_digest(xr.DataArray(base, dims=("time", "y", "x")))


# -- 6. chunking, factors, grids, options, torch -------------------------------------------------


def test_hot_spot_rule_is_the_same_on_any_chunking():
    v = 300 + np.random.default_rng(0).normal(0, 2, (2, 16, 16))
    v[0, 3, 3] = 402.1  # 1 of 256 pixels: a hot spot in the image, 1 of 16 in a 4x4 chunk
    da = make_lst(v, units="K")
    with pytest.warns(errors.PhysicalRangeWarning):
        eager = decode_lst(da).values
    with pytest.warns(errors.PhysicalRangeWarning):
        lazy = decode_lst(da.chunk({"time": 1, "y": 4, "x": 4})).values
    np.testing.assert_array_equal(eager, lazy)
    assert np.isnan(eager[0, 3, 3]) and np.isfinite(eager).sum() == 511


@pytest.mark.parametrize("factor", [65, 400])
def test_factor_is_bounded(factor):
    with pytest.raises(errors.GridError, match=f"factor {factor} is above 64.*typo"):
        xlstsr.upscale(make_lst(np.full((4, 4), 300.0), units="K"), factor)


def test_output_size_is_checked_before_allocating(monkeypatch):
    monkeypatch.setattr(xlstsr.validate, "_available_memory", lambda: 8 * 1024**3)
    big = make_lst(np.full((2, 500, 500), 300.0, np.float32), units="K")  # 2 MB in, 8 GiB out
    with pytest.raises(errors.GridError, match=r"7\.6 GiB in memory \(8\.0 GiB available\)"):
        xlstsr.upscale(big, 64)
    with pytest.raises(errors.GridError, match=r"each output chunk"):
        xlstsr.upscale(big.chunk({"time": 2}), 64, tile=None)  # one whole-image chunk


def test_float32_coordinates_are_regular(pair):
    lst = pair[0]  # MODIS sinusoidal, y about 5.4e6 m: float32 keeps it to ~0.25 m
    f32 = lst.assign_coords(x=lst.x.astype("float32"), y=lst.y.astype("float32"))
    steps = np.diff(f32.y.values.astype(np.float64))
    assert np.ptp(steps) > 1e-6 * abs(steps.mean())  # rounding a 1e-6 tolerance used to refuse
    np.testing.assert_array_equal(xlstsr.upscale(f32, 4).values, xlstsr.upscale(lst, 4).values)
    irregular = lst.assign_coords(x=lst.x.values + np.r_[0, 0, 100.0, np.zeros(61)])
    with pytest.raises(errors.GridError, match=r"not regularly spaced"):
        xlstsr.upscale(irregular, 4)


def test_empty_one_pixel_latlon_and_transform_only_inputs():
    v = 300 + np.random.default_rng(0).normal(0, 2, (8, 8))
    with pytest.raises(errors.GridError, match=r"empty: 0 pixels along 'y'.*slice\(north, south\)"):
        xlstsr.upscale(make_lst(v, units="K").sel(y=slice(0, 1e9)), 4)
    one = make_lst(np.full((1, 1), 300.0), units="K")
    with pytest.raises(errors.GridError, match=r"single pixel along 'y'.*write_transform"):
        xlstsr.upscale(one, 4)
    one = one.rio.write_transform(Affine(1000, 0, 4e5, 0, -1000, 5e5))
    np.testing.assert_allclose(xlstsr.upscale(one, 4).values, 300.0)
    # lat/lon dims: a CRS is asked for; with it the output keeps the input's names
    ll = xr.DataArray(v, dims=("lat", "lon"), attrs={"units": "K"},
                      coords={"lat": 40 - (np.arange(8) + 0.5) * 0.01,
                              "lon": 2 + (np.arange(8) + 0.5) * 0.01})
    with pytest.raises(errors.MissingCRSError, match=r"EPSG:4326"):
        xlstsr.upscale(ll, 4)
    sr = xlstsr.upscale(ll.rio.write_crs("EPSG:4326"), 4)
    assert sr.dims == ("lat", "lon") and sr.rio.resolution() == pytest.approx((0.0025, -0.0025))
    ref = xlstsr.upscale(make_lst(v, units="K"), 4)
    np.testing.assert_allclose(sr.values, ref.values)
    # a written transform without coordinates: they are made from it
    bare = xr.DataArray(v, dims=("y", "x"), attrs={"units": "K"}).rio.write_crs("EPSG:32631")
    with pytest.raises(errors.MissingCRSError, match=r"no coordinates along 'y' and no transform"):
        xlstsr.upscale(bare, 4)
    bare = bare.rio.write_transform(Affine(1000, 0, 4e5, 0, -1000, 5e5))
    np.testing.assert_allclose(xlstsr.upscale(bare, 4).values, ref.values)
    np.testing.assert_allclose(xlstsr.upscale(bare, 4).x.values, ref.x.values)


def test_conserve_on_a_method_that_ignores_it_is_refused(scene):
    with pytest.raises(errors.MethodOptionError, match=r"'bicubic' has no option 'conserve'.*'dms'"):
        xlstsr.upscale(scene["lst_1km"], 4, "bicubic", conserve=True)
    with pytest.raises(TypeError, match=r"'tsharp' has no option 'gian'.*'gain'"):  # a typo
        xlstsr.upscale(scene["lst_1km"], 4, "tsharp", guide=scene["ndvi_250m"], gian=0.5)


def test_torch_errors_say_what_to_do(pair):
    lst, ndvi, _ = pair
    two = xr.concat([ndvi, ndvi], dim="band")
    with raise_if_computed(), pytest.raises(errors.XlstsrError, match=r"takes 1 guide channel\(s\) \['ndvi'\], but the guide has 2"):
        _quiet(xlstsr.upscale, lst.chunk(32), 4, "disr", guide=two.chunk(64))
    with pytest.raises(errors.DeviceError, match=r"unknown torch device 'gpu'"):
        xlstsr.upscale(lst, 4, "sisr", device="gpu")
    if not torch.cuda.is_available():
        with pytest.raises(errors.DeviceError, match=r"torch sees none here.*device='auto'"):
            xlstsr.upscale(lst, 4, "sisr", device="cuda")
    else:
        with pytest.raises(errors.DeviceError, match=r"does not exist"):
            xlstsr.upscale(lst, 4, "sisr", device=f"cuda:{torch.cuda.device_count()}")


def test_new_errors_are_xlstsr_value_errors():
    for name in ("UndeclaredFillError", "GuideScaleError", "GuideTimeError",
                 "ImplausibleOutputError", "MethodOptionError", "DeviceError"):
        cls = getattr(errors, name)
        assert issubclass(cls, errors.XlstsrError) and issubclass(cls, ValueError)


def test_awkward_arguments_get_messages(scene):
    lst, g = scene["lst_1km"], scene["ndvi_250m"]
    with pytest.raises(TypeError, match="guide is a ndarray, not an xarray DataArray"):
        xlstsr.upscale(lst, 4, "tsharp", guide=g.values)
    with pytest.raises(errors.GridError, match="NaN or infinite"):
        xlstsr.upscale(lst.assign_coords(x=lst.x.values * np.nan), 4)
    for dtype in (bool, complex, object):
        with pytest.raises(errors.UnitsError, match="not numbers of a temperature"):
            xlstsr.upscale(lst.astype(dtype), 4)
    dated = lst.assign_coords(time=pd.to_datetime(["2020-07-01", "2020-07-02", "2020-07-03"]))
    cube = xr.concat([g] * 3, dim="time").assign_coords(time=dated.time.values)
    with pytest.raises(errors.GuideTimeError, match="a duration such as '16D'"):
        xlstsr.upscale(dated, 4, "tsharp", guide=cube, guide_time_tolerance="sixteen days")
    with pytest.raises(errors.XlstsrError, match="unknown method"):
        xlstsr.upscale(lst, 4, "bicubc")

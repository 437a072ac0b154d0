"""Probe 47 (R1 1, 3, 4, 6, 7, 8, 9; R2 2, 4): a cube step's refusal and its advice, followed.

Every advice is applied as the message writes it (the code between backticks run), then the
call is made again.
"""

import re
import warnings

import numpy as np
import pandas as pd
import pytest
import xarray as xr
from affine import Affine

import xlstsr
from xlstsr.errors import (
    GridError,
    MissingCRSError,
    PhysicalRangeError,
    UndeclaredFillError,
    XlstsrError,
)
from xlstsr.validate import decode_lst

T3 = pd.date_range("2020-07-01T10:30", periods=3, freq="D")


def _refusal(call, exc=XlstsrError):
    with pytest.raises(exc) as info:
        call()
    return str(info.value)


def _follow(code, **env):
    """Run the advice ``code`` (as written) with the variables ``env``; return them after."""
    g = {"np": np, "xr": xr, "Affine": Affine, **env}
    exec(code, g)
    return g


def _code(text, pattern):
    m = re.search(pattern, text)
    assert m, text
    return m.group(1)


def _cube(values, **coords):
    return xr.DataArray(values, dims=("time", "y", "x"), coords={"time": T3, **coords})


# R1-1: a step wholly at int16's extreme (undeclared) under a scale: a fill, not 327.67 K
@pytest.mark.parametrize("single", [False, True])
def test_int16_extreme_whole_step_is_a_fill(single):
    rng = np.random.default_rng(0)
    v = (rng.normal(300, 3, (3, 16, 16)) / 0.01).astype("i2")
    v[1] = 32767
    da = _cube(v).assign_attrs(scale_factor=0.01)
    if single:
        da = da.isel(time=1)
    msg = _refusal(lambda: decode_lst(da).load(), UndeclaredFillError)
    assert "32767" in msg and "every valid pixel" in msg
    code = _code(msg, r"declare it: `(da\.attrs\['_FillValue'\] = [^`]+)`")
    assert code.endswith("= 32767")  # as stored
    fixed = _follow(code, da=da.copy())["da"]
    out = decode_lst(fixed)
    assert bool((out.isel(time=1) if not single else out).isnull().all())
    if not single:
        assert int(out.isel(time=[0, 2]).notnull().sum()) == 2 * 256
        drop = _code(msg, r"remove that image: `([^`]+)`")
        dropped = _follow(drop, da=da)["da"]
        assert decode_lst(dropped).sizes["time"] == 2


# R1-7: the step's _FillValue advice gives the value as stored (declared, it was refused again)
@pytest.mark.parametrize("case", ["uint16_x002", "degC_float", "degC_int16_x001", "decoded"])
def test_step_fill_advice_is_as_stored(case):
    rng = np.random.default_rng(1)
    if case == "uint16_x002":
        v = (rng.normal(300, 3, (3, 16, 16)) / 0.02).astype("uint16")
        v[1], attrs, want = 60000, {"scale_factor": 0.02, "_FillValue": 0}, "60000"
    elif case == "degC_float":
        v = rng.normal(27, 3, (3, 16, 16)).astype("float32")
        v[1], attrs, want = 9999, {"units": "degC"}, "9999"
    elif case == "degC_int16_x001":
        v = (rng.normal(27, 3, (3, 16, 16)) * 100).astype("int16")
        v[1], attrs, want = 32000, {"units": "degC", "scale_factor": 0.01}, "32000"
    else:  # the reader decoded it: the value as read, and --nodata as the file stores it
        v = ((rng.normal(300, 3, (3, 16, 16)) / 0.02).astype("uint16").astype("float32")
             * np.float32(0.02))
        v[1], attrs, want = np.float32(1200.0), {}, "1200"
    da = _cube(v).assign_attrs(attrs)
    if case == "decoded":
        da.encoding.update(scale_factor=0.02, add_offset=0.0, dtype="uint16", _FillValue=0)
    msg = _refusal(lambda: decode_lst(da), PhysicalRangeError)
    code = _code(msg, r"Declare it: `(da\.attrs\['_FillValue'\] = [^`]+)`")
    assert code.split("= ")[1] == want, msg
    if case == "decoded":
        assert "`--nodata 60000`" in msg
    fixed = _follow(code, da=da.copy())["da"]
    out = decode_lst(fixed)
    assert bool(out.isel(time=1).isnull().all())
    assert int(out.isel(time=[0, 2]).notnull().sum()) == 2 * 256


def _bad_cube(kind):
    """A cube with one image in K x 10 (wholly out of range) and the index of that image."""
    rng = np.random.default_rng(2)
    if kind == "day_night":  # open_cog's form: dates repeat, an overpass coordinate along time
        t = pd.to_datetime(["2020-07-01", "2020-07-01", "2020-07-02", "2020-07-02"])
        v = rng.normal(300, 3, (4, 16, 16)).astype("float32")
        v[3] = 3000.0 + rng.normal(0, 30, (16, 16))
        return xr.DataArray(v, dims=("time", "y", "x"),
                            coords={"time": t, "overpass": ("time", ["day", "night"] * 2)})
    if kind == "cftime":
        cftime = pytest.importorskip("cftime")
        v = rng.normal(300, 3, (3, 16, 16)).astype("float32")
        v[1] = 3000.0
        return xr.DataArray(v, dims=("time", "y", "x"), coords={
            "time": [cftime.DatetimeNoLeap(2020, 7, d, 10, 30) for d in (1, 2, 3)]})
    v = rng.normal(300, 3, (2, 3, 16, 16)).astype("float32")
    v[1, 2] = 3000.0 + rng.normal(0, 30, (16, 16))
    da = xr.DataArray(v, dims=("overpass", "time", "y", "x"), coords={
        "overpass": ["day", "night"], "time": pd.date_range("2020-07-01", periods=3)})
    if kind == "time_overpass":
        return da.transpose("time", "overpass", "y", "x")
    if kind == "dask":
        return da.chunk({"time": 1})
    if kind == "no_overpass_labels":
        return da.drop_vars("overpass")
    return da


# R1-3, R1-4, R1-6: the advice removes exactly the bad image, and runs
@pytest.mark.parametrize("kind", ["day_night", "cftime", "overpass_time", "time_overpass",
                                  "dask", "no_overpass_labels"])
def test_step_removal_advice_removes_only_that_image(kind):
    da = _bad_cube(kind)
    msg = _refusal(lambda: decode_lst(da).load(), PhysicalRangeError)
    if kind == "day_night":
        assert "overpass='night'" in msg  # named with all its coordinates
    if kind in ("overpass_time", "time_overpass", "dask"):
        assert "overpass='night'" in msg and "time='2020-07-03T00:00:00'" in msg
    code = _code(msg, r"instead(?: \([^)]*\))?: `(da = [^`]+)`")
    fixed = _follow(code, da=da)["da"]
    out = decode_lst(fixed).load()
    images = out.notnull().any(("y", "x"))
    n_before = int(np.prod([da.sizes[d] for d in da.dims if d not in ("y", "x")]))
    assert int(images.sum()) == n_before - 1  # every good image kept, with its values
    if kind in ("overpass_time", "time_overpass", "dask", "no_overpass_labels"):
        assert dict(out.sizes) == dict(da.sizes)
        assert not bool(images.isel(overpass=1, time=2))
        good = out.where(images).sum()
        assert float(good) == pytest.approx(float(da.where(images).sum()), rel=1e-6)


# R1-9: evaluate's reference step advice names `reference` and drops sr's step too
@pytest.mark.parametrize("shift, reverse", [(None, False), ("10min", False), (None, True)])
def test_evaluate_reference_step_advice_followed(shift, reverse):
    # the advice drops sr's step (the reference's is then left out): on the reference, as it
    # was first written, it failed where its labels (10:40 vs 10:30) or order differ (review 47e)
    sr, reference = _pair(seed=0)
    reference[1] = reference[1] * 10
    if shift is not None:
        reference = reference.assign_coords(time=reference.time + pd.Timedelta(shift))
    if reverse:
        reference = reference.isel(time=slice(None, None, -1))
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        msg = _refusal(lambda: xlstsr.evaluate(sr, reference), PhysicalRangeError)
        code = _code(msg, r"so its step is then left out\): `([^`]+)`")
        assert code.startswith("sr = sr.") and "reference" not in code, msg
        env = _follow(code, sr=sr, reference=reference)
        res = xlstsr.evaluate(env["sr"], env["reference"])
    assert env["sr"].sizes["time"] == 2 and np.all(np.isfinite(res["rmse"].values))
    assert 1.0 < float(res["rmse"].max()) < 3.0  # the good pairs (1 K noise, 3 K field)


# R1-8: a date written all 0 in a cube of Kelvin: that image named, with its fill advice
def test_zero_step_named_with_fill_advice():
    rng = np.random.default_rng(3)
    v = rng.normal(300, 3, (3, 16, 16)).astype("f4")
    v[1] = 0.0
    da = _cube(v)
    msg = _refusal(lambda: decode_lst(da), UndeclaredFillError)
    assert "time='2020-07-02T10:30:00'" in msg and "class, mask or QC" not in msg
    code = _code(msg, r"Declare it: `(da\.attrs\['_FillValue'\] = [^`]+)`")
    out = decode_lst(_follow(code, da=da.copy())["da"])
    assert bool(out.isel(time=1).isnull().all())
    assert int(out.isel(time=[0, 2]).notnull().sum()) == 2 * 256
    drop = _code(msg, r"drop it instead: `([^`]+)`")
    assert decode_lst(_follow(drop, da=da)["da"]).sizes["time"] == 2
    # a whole mask layer is still one
    mask = _cube(rng.integers(0, 3, (3, 16, 16)).astype("f4"))
    assert "class, mask or QC" in _refusal(lambda: decode_lst(mask))


def _no_labels(dims):
    da = xr.DataArray(300 + np.random.default_rng(0).random((1, 12, 15)).astype("float32"),
                      dims=dims, coords={"time": np.array(["2020-06-01"], "datetime64[ns]")},
                      attrs={"units": "K"}).rio.write_crs("EPSG:4326")
    if dims[1] == "lat":
        da = da.rio.set_spatial_dims(x_dim="lon", y_dim="lat")
    return da


# R2-2: a written transform is georeference enough for to_cogs; the refusal in the user's dims
@pytest.mark.parametrize("dims", [("time", "y", "x"), ("time", "lat", "lon")])
def test_to_cogs_takes_a_written_transform(tmp_path, dims):
    from xlstsr.io import open_cog, to_cogs

    da = _no_labels(dims)
    msg = _refusal(lambda: to_cogs(da, tmp_path / "a"), MissingCRSError)
    assert f"along '{dims[1]}'" in msg and f"assign_coords({dims[1]}=" in msg
    code = _code(msg, r"`(from affine import Affine; da = [^`]+)`")
    code = code.replace("PIXEL_X", "0.01").replace("PIXEL_Y", "0.01").replace(
        "LEFT", "10").replace("TOP", "45.2")
    fixed = _follow(code, da=da)["da"]
    back = open_cog(to_cogs(fixed, tmp_path / "b"))
    assert back.rio.bounds() == pytest.approx((10.0, 45.08, 10.15, 45.2))
    np.testing.assert_array_equal(back.values, da.values)
    # the coordinate advice, numbers put in, runs too (one dim, then the other)
    cy = _code(msg, r"`(da = da\.assign_coords[^`]+)`")
    g = _follow(cy.replace("EDGE", "45.2").replace("PIXEL", "-0.01"), da=da)["da"]
    msg2 = _refusal(lambda: to_cogs(g, tmp_path / "c"), MissingCRSError)
    cx = _code(msg2, r"`(da = da\.assign_coords[^`]+)`")
    g = _follow(cx.replace("EDGE", "10").replace("PIXEL", "0.01"), da=g)["da"]
    assert open_cog(to_cogs(g, tmp_path / "c")).rio.bounds() == pytest.approx(
        (10.0, 45.08, 10.15, 45.2))


# R2-4: irregular rows: interpolated by their labels, in the user's dim names
@pytest.mark.parametrize("names", [("lat", "lon"), ("y", "x")])
def test_irregular_grid_advice_interpolates_by_labels(names):
    n = 10
    lat = 45 - np.r_[0, np.cumsum(np.random.default_rng(1).uniform(0.006, 0.014, n - 1))]
    # each pixel holds its own latitude (+ 255 K): after the advice, still its row's label
    vals = np.tile(lat[:, None], (1, n))[None] - 45 + 300
    da = xr.DataArray(vals, dims=("time", *names), coords={
        "time": np.array(["2020-06-01"], "datetime64[ns]"), names[0]: lat,
        names[1]: 10 + 0.01 * (np.arange(n) + 0.5)}, attrs={"units": "K"}).rio.write_crs(
        "EPSG:4326")
    msg = _refusal(lambda: da.lstsr.upscale(2, method="bicubic"), GridError)
    code = _code(msg, r"`(da = da\.interp\([^`]+)`")
    assert code.startswith(f"da = da.interp({names[0]}=")
    fixed = _follow(code, da=da)["da"]
    np.testing.assert_allclose(fixed.values[0, :, 0] - 255, fixed[names[0]].values, atol=1e-9)
    assert fixed.lstsr.upscale(2, method="bicubic").sizes[names[0]] == 2 * n


def _pair(seed=5, lead_overpass=False):
    """A super-resolved cube (3 days, UTM, 3 K) and its reference (1 K noise), both Kelvin."""
    rng = np.random.default_rng(seed)
    n = 32
    sr = xr.DataArray(rng.normal(300, 3, (3, n, n)).astype("f4"), dims=("time", "y", "x"),
                      coords={"time": T3, "y": 5e6 - (np.arange(n) + .5) * 250,
                              "x": 5e5 + (np.arange(n) + .5) * 250},
                      attrs={"units": "K"}).rio.write_crs(32633)
    if lead_overpass:
        sr = xr.concat([sr, sr + 1], "overpass").assign_coords(overpass=["day", "night"])
    reference = sr + rng.normal(0, 1, sr.shape).astype("f4")
    reference.attrs = {"units": "K"}
    return sr, reference


def _pair_with_bad_reference(ref_step, lead_overpass=False):
    sr, reference = _pair(lead_overpass=lead_overpass)
    reference[(1, 1) if lead_overpass else 1] = ref_step
    return sr, reference


def test_evaluate_reference_fill_step_declared_on_the_reference():
    # the declare advice names the reference (review 47g: after 4ae1299 it named `sr`)
    sr, reference = _pair_with_bad_reference(9999.0)
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        msg = _refusal(lambda: xlstsr.evaluate(sr, reference), XlstsrError)
        code = _code(msg, r"Declare it: `(reference\.attrs\['_FillValue'\] = [^`]+)`")
        env = _follow(code, sr=sr, reference=reference)
        res = xlstsr.evaluate(sr, env["reference"])
    assert np.isfinite(res["rmse"].values).sum() == 2


def test_evaluate_reference_mask_advice_on_both_for_overpass_time():
    # a mask keeps the step: on the reference and sr both (review 47g/2)
    sr, reference = _pair_with_bad_reference(3000.0, lead_overpass=True)
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        msg = _refusal(lambda: xlstsr.evaluate(sr, reference), PhysicalRangeError)
        code = _code(msg, r"scored in pairs\): `([^`]+)`")
        assert code.startswith("reference = reference.where(") and "sr = sr.where(" in code
        env = _follow(code, sr=sr, reference=reference)
        xlstsr.evaluate(env["sr"], env["reference"])

"""Probe 47 R1 guide advice: dekads and months where no LST step's own period has a composite are
refused without a tolerance that pairs them with the previous period's composite (upscale and
apply_calibration; '30D' / '10D' did so silently), the previous period's offered only by name;
upscale's guide-date advice written for a list or dict guide (``guide['time']`` and
``guide.isel`` of a list failed); band-order advice naming a DataArray's own band dim."""

import re
import warnings

import numpy as np
import pandas as pd
import pytest
import xarray as xr
from test_guide_advice46 import N, _lst, two_band_model  # noqa: F401 (a fixture)

import xlstsr
from xlstsr.calibration import apply_calibration, fit_calibration
from xlstsr.errors import GridError, GuideScaleError, GuideTimeError
from xlstsr.guide import match_steps


def _ndvi(name="ndvi", seed=4):
    rng = np.random.default_rng(seed)
    return xr.DataArray(
        rng.uniform(0.1, 0.8, (N * 4, N * 4)).astype("f4"), dims=("y", "x"),
        coords={"y": np.arange(N * 4)[::-1] * 250.0 + 125, "x": np.arange(N * 4) * 250.0 + 125},
        name=name).rio.write_crs(32633)


def _composites(dates, name="ndvi", seed=4):
    """One image per date, each its own values (to tell which one a step took)."""
    return xr.concat([_ndvi(name, seed + i).assign_coords(time=pd.Timestamp(t))
                      for i, t in enumerate(dates)], "time")


def _codes(msg, start):
    return [c for c in re.findall(r"`([^`]+)`", msg) if c.startswith(start)]


def _tsharp(lst, guide, method="tsharp", **kw):
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        return lst.lstsr.upscale(4, method=method, guide=guide, **kw)


# -- R1-2: no LST step's own dekad / month has a composite ---------------------------------------

NONE_OWN = [
    # monthly: March missing, LST in March (a '30D' took February's)
    (["2021-03-01T10:30", "2021-03-02T10:30"], ["2021-01-01", "2021-02-01"], "month", "30D"),
    # dekads: the 1 March dekad missing (a '10D' paired 1 March with 21 February's)
    (["2021-03-01T10:30", "2021-03-05T10:30"], ["2021-02-11", "2021-02-21"], "dekad", "10D"),
]


@pytest.mark.parametrize("lt, gt, what, reach", NONE_OWN)
def test_upscale_none_own_period_gets_no_tolerance(lt, gt, what, reach):
    lst, g = _lst(pd.to_datetime(lt)), _composites(gt)
    with pytest.raises(GuideTimeError) as err:
        _tsharp(lst, g)
    msg = str(err.value)
    assert f"none of the 2 LST steps' own {what} has a composite" in msg, msg
    assert f"guide_time_tolerance={reach!r}" not in msg, msg
    # the previous period's composite is offered by name only, and works as said
    opt = re.findall(r"`guide_time_tolerance='(\d+D)'` only to use the previous "
                     f"{what}'s composite", msg)
    assert len(opt) == 1, msg
    out = _tsharp(lst, g, guide_time_tolerance=opt[0])
    assert out.sizes["time"] == 2
    used = match_steps(g, lst, "time", opt[0])
    np.testing.assert_array_equal(used.isel(time=0).values, g.isel(time=-1).values)


@pytest.mark.parametrize("lt, gt, what, reach", NONE_OWN)
def test_calibration_none_own_period_gets_no_tolerance(lt, gt, what, reach):
    rng = np.random.default_rng(2)
    y, x = 5e6 - np.arange(12) * 250.0, 5e5 + np.arange(12) * 250.0

    def mk(times, v):
        a = np.full((len(times), 12, 12), v, "f4") + rng.normal(0, 0.05, (len(times), 12, 12))
        return xr.DataArray(a.astype("f4"), dims=("time", "y", "x"),
                            coords={"time": pd.DatetimeIndex(times), "y": y, "x": x}
                            ).rio.write_crs("EPSG:32633")

    da = mk(lt, 300.0) + rng.normal(0, 2, (2, 12, 12)).astype("f4")
    ndvi = mk(gt, 0.5)
    one = ndvi.isel(time=[1]).assign_coords(time=da.time[:1])
    cal = fit_calibration(da.isel(time=[0]), da.isel(time=[0]) + 1 - 2 * one.values, one)
    with pytest.raises(GridError) as err:
        apply_calibration(da, cal, ndvi)
    msg = str(err.value)
    assert f"none of the LST's 2 steps has an NDVI composite of its own {what}" in msg, msg
    assert f"time_tolerance={reach!r}" not in msg and "method='ffill'" not in msg, msg
    opt = re.findall(r"only to use the previous \w+'s composite for them knowingly "
                     r"\(an older NDVI than their own period's\), pass `time_tolerance='(\d+D)'`",
                     msg)
    assert len(opt) == 1, msg
    assert apply_calibration(da, cal, ndvi, time_tolerance=opt[0]).sizes["time"] == 2


def test_partial_own_period_still_kept_then_paired():
    # one step of February's own month (its composite present), one of March (missing)
    lst = _lst(pd.to_datetime(["2021-02-10T10:30", "2021-03-02T10:30"]))
    g = _composites(["2021-01-01", "2021-02-01"])
    with pytest.raises(GuideTimeError) as err:
        _tsharp(lst, g)
    msg = str(err.value)
    assert "after keeping the 1 of the 2 LST steps whose own month" in msg, msg
    env = {"lst": lst, "guide": g, "np": np}
    exec(_codes(msg, "lst = ")[0], env)
    assert _tsharp(env["lst"], g, guide_time_tolerance="30D").sizes["time"] == 1


@pytest.mark.parametrize("gt, lt, tol", [
    # 16-day: the composite of 07-27 missing, each step's own one present: '15D' as before
    (["2020-06-25", "2020-07-11", "2020-08-12"], ["2020-07-12T10:30", "2020-08-20T10:30"], "15D"),
    # 8-day across a year end (MODIS restarts on 1 January)
    (["2020-12-18", "2020-12-26", "2021-01-01"], ["2020-12-20T10:30", "2021-01-05T10:30"], "7D"),
])
def test_rolling_composites_keep_their_tolerance(gt, lt, tol):
    lst, g = _lst(pd.to_datetime(lt)), _composites(gt)
    with pytest.raises(GuideTimeError, match=f"guide_time_tolerance={tol!r}"):
        _tsharp(lst, g)
    assert _tsharp(lst, g, guide_time_tolerance=tol).sizes["time"] == 2


# -- R1-5: the guide-date advice written for the guide as passed ----------------------------------

def _forms(dates):
    nd, al = _composites(dates), _composites(dates, "albedo", 7) * 0.3
    return {"DataArray": nd, "list": [nd, al], "tuple": (nd, al),
            "dict": {"ndvi": nd, "albedo": al}, "Dataset": xr.Dataset({"ndvi": nd, "albedo": al})}


@pytest.mark.parametrize("form", ["DataArray", "list", "tuple", "dict", "Dataset"])
def test_guide_date_advice_runs_on_the_guide_passed(form):
    # dekads with 11 February's missing: keep the steps whose own dekad has one, or use one step
    lst = _lst(pd.to_datetime(["2021-02-03T10:30", "2021-02-14T10:30", "2021-02-25T10:30"]))
    g = _forms(["2021-02-01", "2021-02-21"])[form]
    method = "tsharp" if form == "DataArray" else "dms"
    with pytest.raises(GuideTimeError) as err:
        _tsharp(lst, g, method)
    msg = str(err.value)
    keep = _codes(msg, "lst = ")
    assert len(keep) == 1, msg
    env = {"lst": lst, "guide": g, "np": np}
    exec(keep[0], env)
    assert env["lst"].sizes["time"] == 2
    assert _tsharp(env["lst"], g, method, guide_time_tolerance="10D").sizes["time"] == 2
    one = re.findall(r"`([^`]+)` to use one (?:of its 2 steps|step of each band)", msg)
    assert len(one) == 1, msg
    static = eval(one[0], {"guide": g})
    assert _tsharp(lst, static, method).sizes["time"] == 3


@pytest.mark.parametrize("form", ["list", "dict"])
def test_one_step_guide_squeeze_advice_for_a_list_or_dict(form):
    lst = _lst(pd.to_datetime(["2021-07-01", "2021-07-02"]))
    nd = _composites(["2021-06-20"])
    g = [nd, nd * 0.3] if form == "list" else {"ndvi": nd, "albedo": nd * 0.3}
    with pytest.raises(GuideTimeError) as err:
        _tsharp(lst, g, "dms")
    code = re.findall(r"`([^`]+)` to use one step of each band", str(err.value))
    assert len(code) == 1, err.value
    assert _tsharp(lst, eval(code[0], {"guide": g}), "dms").sizes["time"] == 2


def test_guide_after_the_lst_advice_names_a_list_band():
    lst = _lst(pd.to_datetime(["2021-02-03", "2021-02-14"]))
    nd = _composites(["2021-02-11", "2021-02-21"])
    g = [nd, nd * 0.3]
    with pytest.raises(GuideTimeError) as err:
        _tsharp(lst, g, "dms", guide_time_tolerance="10D")
    code = _codes(str(err.value), "lst.sel(")
    assert len(code) == 1, err.value
    kept = eval(code[0], {"lst": lst, "guide": g})
    assert _tsharp(kept, g, "dms", guide_time_tolerance="10D").sizes["time"] == 1


# -- R1-10: band-order advice names the guide's own band dim -------------------------------------

# the two-band model of test_guide_advice46 (ndvi, red; same scene size N)


@pytest.mark.parametrize("dim, lazy", [("channel", False), ("channel", True),
                                       ("bands", False), ("spectral band", False)])
def test_band_order_advice_names_the_guide_band_dim(two_band_model, dim, lazy):  # noqa: F811
    path, nd, red = two_band_model
    lst = _lst(pd.date_range("2020-07-01", periods=1))
    kw = dict(method="disr", method_options={"model": str(path)}, output_check=False)
    ref = xlstsr.upscale(lst, 4, guide=[nd, red], **kw)
    guide = xr.concat([red, nd], dim).assign_coords({dim: [1, 2]})
    guide = guide.chunk({"x": 32}) if lazy else guide
    with pytest.raises(GuideScaleError) as err:
        out = xlstsr.upscale(lst, 4, guide=guide, **kw)
        np.asarray(out)  # the lazy check runs with the result
    msg = str(err.value)
    assert "another order" in msg and "isel(band=" not in msg, msg
    code = _codes(msg, "guide = ")
    # a dim name that is not an identifier is written as a dict (its braces were taken for a
    # format field: KeyError "'spectral band'" instead of this message, review 47a)
    want = (f"guide = guide.isel({dim}=[1, 0])" if dim.isidentifier() else
            f"guide = guide.isel({{{dim!r}: [1, 0]}})")
    assert code == [want], msg
    env = {"guide": guide}
    exec(code[0], env)
    out = xlstsr.upscale(lst, 4, guide=env["guide"], **kw)
    np.testing.assert_array_equal(out.values, ref.values)


def test_band_order_advice_for_a_one_step_guide_of_a_2d_lst(two_band_model):  # noqa: F811
    # a (time=1, channel, y, x) guide against one image: the one-step time dim is not a band
    # dim (both general codes failed as written, review 47a/5)
    path, nd, red = two_band_model
    lst = _lst(pd.date_range("2020-07-01", periods=1)).isel(time=0)
    kw = dict(method="disr", method_options={"model": str(path)}, output_check=False)
    ref = xlstsr.upscale(lst, 4, guide=[nd, red], **kw)
    guide = xr.concat([red, nd], "channel").expand_dims(time=lst.time.values[None])
    with pytest.raises(GuideScaleError) as err:
        xlstsr.upscale(lst, 4, guide=guide, **kw)
    code = _codes(str(err.value), "guide = ")
    assert code == ["guide = guide.isel(channel=[1, 0])"], err.value
    env = {"guide": guide}
    exec(code[0], env)
    out = xlstsr.upscale(lst, 4, guide=env["guide"], **kw)
    np.testing.assert_array_equal(out.values, ref.values)


@pytest.mark.parametrize("form", ["list", "dict"])
def test_one_guide_advice_for_bands_of_other_step_counts(form):
    # a one-step NDVI beside a two-step albedo: squeeze raised ValueError on the albedo
    lst = _lst(pd.to_datetime(["2021-07-01", "2021-07-02"]))
    nd, alb = _composites(["2021-06-20"]), _composites(["2021-06-18", "2021-06-22"]) * 0.3
    g = [nd, alb] if form == "list" else {"ndvi": nd, "albedo": alb}
    with pytest.raises(GuideTimeError) as err:
        _tsharp(lst, g, "dms")
    code = re.findall(r"`([^`]+)` to use one", str(err.value))
    assert len(code) == 1 and "squeeze" not in code[0], err.value
    assert _tsharp(lst, eval(code[0], {"guide": g}), "dms").sizes["time"] == 2

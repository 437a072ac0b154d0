"""Probe 46 guide advice: swapped bands of a multi-band guide named as such (not "NDVI in percent?
divide it by 100", which ran the model on swapped bands); a list guide band's scalar date dropped
by its index (``guide.drop_vars`` of a list raised AttributeError); upscale's guide-date refusal
squeezes only a one-step guide and tells 8-day ('7D') from 16-day ('15D') composites."""

import re
import warnings

import numpy as np
import pandas as pd
import pytest
import xarray as xr

import xlstsr
from xlstsr.errors import GuideScaleError, GuideTimeError
from xlstsr.guide import check_guide_values, match_steps

N = 16


def _lst(times):
    rng = np.random.default_rng(3)
    return xr.DataArray(
        rng.normal(300, 2, (len(times), N, N)).astype("f4"), dims=("time", "y", "x"),
        coords={"time": pd.DatetimeIndex(times), "y": np.arange(N)[::-1] * 1000.0 + 500,
                "x": np.arange(N) * 1000.0 + 500}, attrs={"units": "K"}).rio.write_crs(32633)


def _ndvi(t=None, name="ndvi", m=4, seed=4):
    rng = np.random.default_rng(seed)
    g = xr.DataArray(
        rng.uniform(0.1, 0.8, (N * m, N * m)).astype("f4"), dims=("y", "x"),
        coords={"y": np.arange(N * m)[::-1] * 250.0 + 125, "x": np.arange(N * m) * 250.0 + 125},
        name=name).rio.write_crs(32633)
    return g if t is None else g.assign_coords(time=pd.Timestamp(t))


def _code(msg, start):
    """The advice's code in backticks that begins with ``start``."""
    found = [c for c in re.findall(r"`([^`]+)`", msg) if c.startswith(start)]
    assert found, msg
    return found[0]


def _tsharp(lst, guide, **kw):
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        return lst.lstsr.upscale(4, method="tsharp", guide=guide, **kw)


# -- 46T/1: bands in another order ------------------------------------------------------------------

STATS = {"mean": [0.69, 0.064], "std": [0.14, 0.029], "names": ["ndvi", "red"]}


def _bands():
    rng = np.random.default_rng(0)
    ndvi = np.clip(rng.normal(0.69, 0.14, (1, 1, 32, 32)), -0.2, 0.95)
    red = np.clip(rng.normal(0.064, 0.029, (1, 1, 32, 32)), 0.0, 0.3)
    return ndvi.astype("f4"), red.astype("f4")


def test_swapped_bands_are_named_not_ndvi_in_percent():
    ndvi, red = _bands()
    with pytest.raises(GuideScaleError) as err:
        check_guide_values(np.concatenate([red, ndvi], 1), STATS)
    msg = str(err.value)
    assert "percent" not in msg and "divide" not in msg
    assert "another order" in msg and "['ndvi', 'red']" in msg
    # the model's order passes
    check_guide_values(np.concatenate([ndvi, red], 1), STATS)


def test_swapped_bands_refused_lazily_too():
    da = pytest.importorskip("dask.array")
    ndvi, red = _bands()
    g = check_guide_values(da.from_array(np.concatenate([red, ndvi], 1)), STATS)
    with pytest.raises(GuideScaleError, match="another order"):
        g.compute()


def test_a_channel_the_model_names_red_is_not_told_ndvi_percent():
    """Three channels, one a swap the others do not complete: no order fits, but the NDVI in
    the 'red' slot fits the model's 'ndvi' better than percent of 'red' does."""
    ndvi, _ = _bands()
    stats = {"mean": [0.69, 0.064, 300.0], "std": [0.14, 0.029, 5.0],
             "names": ["ndvi", "red", "lst_day"]}
    g = np.concatenate([ndvi, ndvi, np.full_like(ndvi, 5000.0)], 1)  # the third off on its own
    with pytest.raises(GuideScaleError) as err:
        check_guide_values(g, stats)
    msg = str(err.value)
    assert "channel 1 ('red')" in msg and "percent" not in msg
    assert "fit the model's channel 0 ('ndvi'" in msg


def test_ndvi_in_percent_still_told_so():
    ndvi, red = _bands()
    with pytest.raises(GuideScaleError, match=r"NDVI in percent\? divide it by 100"):
        check_guide_values(np.concatenate([ndvi * 100, red], 1), STATS)
    with pytest.raises(GuideScaleError, match=r"NDVI in percent\? divide it by 100"):
        check_guide_values(ndvi * 100, {"mean": [0.69], "std": [0.14], "names": ["guide0"]})


@pytest.fixture(scope="module")
def two_band_model(tmp_path_factory):
    torch = pytest.importorskip("torch")
    from xlstsr.nn import GuidedResCNN, save_model

    torch.manual_seed(0)
    m = GuidedResCNN(4, n_guide=2, channels=4, n_blocks=1, fine=4)
    nd, red = _ndvi(), _ndvi(name="red", seed=5) * 0.1
    m.set_normalisation(300.0, 2.0, guide_mean=[float(nd.mean()), float(red.mean())],
                        guide_std=[float(nd.std()), float(red.std())])
    path = tmp_path_factory.mktemp("m46") / "dd.pt"
    save_model(m, path, inputs=["lst", "ndvi", "red"])
    return path, nd, red


@pytest.mark.parametrize("form", ["list", "dataset", "dict", "raster"])
def test_reorder_advice_runs_when_followed(two_band_model, form):
    path, nd, red = two_band_model
    lst = _lst(pd.date_range("2020-07-01", periods=1))
    # unlabelled bands (a 'b1' band, a numbered raster): only their values tell the order
    guide = {"list": [red.rename(None), nd.rename(None)],
             "dataset": xr.Dataset({"b1": red, "b2": nd}),
             "dict": {"b1": red, "b2": nd},
             "raster": xr.concat([red, nd], "band").assign_coords(band=[1, 2])}[form]
    kw = dict(method="disr", method_options={"model": str(path)}, output_check=False)
    ref = xlstsr.upscale(lst, 4, guide=[nd, red], **kw)
    with pytest.raises(GuideScaleError) as err:
        xlstsr.upscale(lst, 4, guide=guide, **kw)
    msg = str(err.value)
    assert "percent" not in msg and "another order" in msg
    code = {"list": "guide = [guide[i]", "raster": "guide = guide.isel(band=",
            "dataset": "bands = list(", "dict": "bands = list("}[form]
    env = {"guide": guide}
    exec(_code(msg, code), env)
    out = xlstsr.upscale(lst, 4, guide=env["guide"], **kw)
    np.testing.assert_array_equal(out.values, ref.values)


# -- 46R/3: a list band's scalar date ---------------------------------------------------------------

@pytest.mark.parametrize("form", ["list", "tuple", "dict", "dataset"])
def test_band_scalar_date_advice_runs_on_the_guide_passed(form):
    lst = _lst(pd.date_range("2020-07-01 10:30", periods=1))
    a, b = _ndvi("2020-07-01"), _ndvi("2020-06-10", name="albedo", seed=6)
    guide = {"list": [a, b], "tuple": (a, b), "dict": {"ndvi": a, "albedo": b},
             "dataset": xr.Dataset({"ndvi": a.drop_vars("time"),
                                    "albedo": b.drop_vars("time")}).assign_coords(
                 time=pd.Timestamp("2019-01-01"))}[form]
    env = {"guide": guide}
    for _ in range(3):  # each band's date in turn
        try:
            out = _tsharp(lst, env["guide"])
            break
        except GuideTimeError as err:
            msg = str(err)
            assert "guide band" in msg
            exec(_code(msg, ("guide =", "guide[")), env)
    else:
        pytest.fail("the advice did not lead to a run")
    assert out.sizes["time"] == 1


def test_list_band_scalar_date_advice_names_its_index():
    lst = _lst(pd.date_range("2020-07-01 10:30", periods=1))
    guide = [_ndvi("2020-07-01"), _ndvi("2020-06-10", name="albedo", seed=6)]
    with pytest.raises(GuideTimeError) as err:
        _tsharp(lst, guide, guide_time_tolerance="1D")
    assert "guide band 'albedo'" in str(err.value)
    assert "`guide = list(guide); guide[1] = guide[1].drop_vars('time')`" in str(err.value)


def test_single_band_list_scalar_date_advice():
    lst = _lst(pd.date_range("2020-07-01 10:30", periods=3))
    guide = [_ndvi("2019-01-01")]
    with pytest.raises(GuideTimeError) as err:
        _tsharp(lst, guide)
    env = {"guide": guide}
    exec(_code(str(err.value), "guide = list(guide); guide[0]"), env)
    assert _tsharp(lst, env["guide"]).sizes["time"] == 3


# -- 46R/5: upscale's guide-date refusal --------------------------------------------------------------

def _composites(dates):
    return xr.concat([_ndvi(), _ndvi(seed=7)][: len(dates)] * (len(dates) // 2 + 1), "time")[
        : len(dates)].assign_coords(time=pd.DatetimeIndex(dates))


@pytest.mark.parametrize("times", ["unique", "nominal", "day_night"])
def test_8_day_composites_get_7D_and_no_squeeze(times):
    days = pd.date_range("2020-07-04", periods=10)
    if times == "day_night":
        lst = _lst(pd.DatetimeIndex([d for d in days for _ in range(2)])).assign_coords(
            overpass=("time", ["day", "night"] * 10))
    else:
        lst = _lst(days + (pd.Timedelta("10h30min") if times == "unique" else pd.Timedelta(0)))
    guide = _composites(["2020-07-04", "2020-07-12"])
    with pytest.raises(GuideTimeError) as err:
        _tsharp(lst, guide)
    msg = str(err.value)
    assert "squeeze" not in msg and "15D" not in msg and "8-day" in msg
    tol = _code(msg, "guide_time_tolerance=").split("=", 1)[1]
    assert eval(tol) == "7D"
    assert _tsharp(lst, guide, guide_time_tolerance=eval(tol)).sizes["time"] == lst.sizes["time"]
    env = {"guide": guide}
    exec("guide = " + _code(msg, "guide.isel("), env)
    assert _tsharp(lst, env["guide"]).sizes["time"] == lst.sizes["time"]


def test_16_day_composites_get_15D():
    lst = _lst(pd.date_range("2020-07-11", periods=20))
    guide = _composites(["2020-06-25", "2020-07-11", "2020-07-27"])
    with pytest.raises(GuideTimeError) as err:
        _tsharp(lst, guide)
    msg = str(err.value)
    assert "16-day" in msg and "squeeze" not in msg
    tol = eval(_code(msg, "guide_time_tolerance=").split("=", 1)[1])
    assert tol == "15D"
    assert _tsharp(lst, guide, guide_time_tolerance=tol).sizes["time"] == 20


def test_one_step_guide_keeps_the_squeeze_advice():
    lst = _lst(pd.date_range("2020-07-05", periods=2))
    guide = _composites(["2020-07-04"])
    with pytest.raises(GuideTimeError) as err:
        match_steps(guide, lst, "time")
    msg = str(err.value)
    env = {"guide": guide}
    exec("guide = " + _code(msg, "guide.squeeze("), env)
    assert _tsharp(lst, env["guide"]).sizes["time"] == 2
    assert "'15D' for 16-day composites" in msg and "'7D' for 8-day" in msg


def test_composite_period_rule():
    from xlstsr.steps import composite_period

    def name(dates):
        p = composite_period(pd.to_datetime(dates))
        return p and p.name

    assert name(["2020-07-04", "2020-07-12"]) == "8-day"
    # one 8-day composite missing: gaps 8 and 16, still 8-day (calibration's rule)
    assert name(["2020-07-04", "2020-07-12", "2020-07-28"]) == "8-day"
    assert name(["2020-06-25", "2020-07-11", "2020-08-12"]) == "16-day"
    assert name(["2020-07-01", "2020-07-02", "2020-07-04"]) is None
    # monthly: told as such (review 46d/4: the calibration called them 16-day), '30D'
    assert name(["2020-01-01", "2020-02-01"]) == "monthly"
    assert name(["2020-07-04"]) is None


def test_band_order_not_asked_of_a_correctly_ordered_guide():
    """Review 46d/1: channel 0 (NDVI) fits its slot and channel 1 (the albedo of a bright
    scene) fits neither its own slot nor a swap: no question about the bands' order."""
    rng = np.random.default_rng(0)
    ndvi = np.clip(rng.normal(0.6, 0.15, (1, 1, 32, 32)), -0.2, 0.95).astype("f4")
    alb = rng.normal(0.45, 0.08, (1, 1, 32, 32)).astype("f4")
    st = {"mean": [0.6, 0.15], "std": [0.15, 0.02], "names": ["ndvi", "albedo"]}
    with pytest.raises(GuideScaleError) as err:
        check_guide_values(np.concatenate([ndvi, alb], 1), st)
    msg = str(err.value)
    assert "another order" not in msg and "channel 1 ('albedo')" in msg, msg
    assert "scale_factor" in msg and "_FillValue" in msg, msg
    # both channels off their slots and each fitting the other's: the order is still asked
    dim = rng.normal(0.15, 0.02, (1, 1, 32, 32)).astype("f4")
    with pytest.raises(GuideScaleError, match="another order"):
        check_guide_values(np.concatenate([dim, ndvi], 1), st)
    # followed (given in the model's order), the guide passes
    check_guide_values(np.concatenate([ndvi, dim], 1), st)


def test_band_order_asked_of_a_swapped_guide_with_a_bright_albedo():
    """Review 46e/3: [bright albedo, ndvi] for a model of ['ndvi', 'albedo']: the albedo fits
    the broad NDVI slot, but worse than the NDVI given in the albedo's slot does: the order is
    asked (it was told "the order is not what is wrong"); followed, the reordered guide is told
    of the albedo's scale, no longer of the order."""
    rng = np.random.default_rng(0)
    ndvi = np.clip(rng.normal(0.6, 0.15, (1, 1, 32, 32)), -0.2, 0.95).astype("f4")
    alb = rng.normal(0.45, 0.08, (1, 1, 32, 32)).astype("f4")
    st = {"mean": [0.6, 0.15], "std": [0.15, 0.02], "names": ["ndvi", "albedo"]}
    with pytest.raises(GuideScaleError) as err:
        check_guide_values(np.concatenate([alb, ndvi], 1), st)
    msg = str(err.value)
    assert "another order" in msg and "['ndvi', 'albedo']" in msg, msg
    assert "the order is not what is wrong" not in msg, msg
    # both causes named: the albedo fits no albedo slot even once reordered
    assert "channel 0's values do not fit the model's 'albedo' either" in msg, msg
    with pytest.raises(GuideScaleError) as err:
        check_guide_values(np.concatenate([ndvi, alb], 1), st)
    msg = str(err.value)
    assert "another order" not in msg and "scale_factor" in msg, msg

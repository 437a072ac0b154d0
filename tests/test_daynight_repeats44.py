"""A day+night series dated by day (MODIS daily dates at 00:00, each date twice) told apart by
an ``overpass`` coordinate along time (probe 44r3): to_cogs -> open_cog round-trips it, and
evaluate pairs it by date and overpass; repeats nothing tells apart are refused with advice
that keeps every step (drop_duplicates kept the day step of each date only)."""
from __future__ import annotations

import warnings

import numpy as np
import pytest
import xarray as xr

import xlstsr
from xlstsr.errors import GridError, XlstsrError
from xlstsr.io import open_cog, to_cogs

DATES = ["2020-01-05", "2020-01-05", "2020-01-06", "2020-01-06"]
OVER = ["day", "night", "day", "night"]


def _series(times=DATES, values=(300, 280, 301, 281), over=OVER, n=16):
    noise = np.random.default_rng(0).normal(0, 0.5, (n, n)).astype("float32")
    da = xr.DataArray(np.stack([np.full((n, n), v, "float32") + noise for v in values]),
                      dims=("time", "y", "x"),
                      coords={"time": np.array(times, dtype="datetime64[ns]"),
                              "y": 4e6 - np.arange(n) * 250.0 - 125,
                              "x": np.arange(n) * 250.0 + 125},
                      name="LST", attrs={"units": "K"})
    if over is not None:
        da = da.assign_coords(overpass=("time", list(over)))
    return da.rio.write_crs("EPSG:32632")


# -- 01: to_cogs names and tags each step by date and overpass -----------------------------------

def test_to_cogs_same_date_day_night_round_trips(tmp_path):
    da = _series()
    paths = to_cogs(da, tmp_path)
    assert [p.name for p in paths] == ["LST_2020-01-05_day.tif", "LST_2020-01-05_night.tif",
                                       "LST_2020-01-06_day.tif", "LST_2020-01-06_night.tif"]
    back = open_cog(sorted(tmp_path.glob("*.tif")))
    assert back.dims == ("time", "y", "x")
    np.testing.assert_array_equal(back["time"].values, da["time"].values)
    assert list(back["overpass"].values) == OVER
    np.testing.assert_allclose(back.values, da.values)


def test_to_cogs_repeats_not_told_apart_refused_without_drop_duplicates(tmp_path):
    da = _series(over=None)
    with pytest.raises(XlstsrError) as err:
        to_cogs(da, tmp_path)
    msg = str(err.value)
    assert "drop_duplicates" not in msg
    assert "assign_coords(overpass=" in msg
    assert not list(tmp_path.glob("*.tif"))


# -- 02: evaluate pairs by date and overpass ----------------------------------------------------

def test_evaluate_night_truth_of_one_date_advises_its_night_step():
    sr = _series()
    truth = _series(["2020-01-05"], [280], None).isel(time=0)
    truth.attrs["day_night"] = "night"
    with pytest.raises(GridError, match=r"sr\.isel\(time=\[1\]\)"):
        xlstsr.evaluate(sr, truth)


def test_evaluate_unmarked_truth_of_one_date_names_both_steps():
    sr = _series()
    truth = _series(["2020-01-05"], [280], None).isel(time=0)
    with pytest.raises(GridError) as err:
        xlstsr.evaluate(sr, truth)
    assert "sr.isel(time=[0])" in str(err.value) and "sr.isel(time=[1])" in str(err.value)


def test_evaluate_same_layout_truth_pairs_date_and_overpass():
    sr = _series()
    # the truth's steps in another order, each 0.5 K below: paired by (date, overpass)
    truth = _series(values=(299.5, 279.5, 300.5, 280.5)).isel(time=[3, 1, 2, 0])
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        scores = xlstsr.evaluate(sr, truth)
    np.testing.assert_allclose(scores["bias"].values, 0.5, atol=1e-5)
    assert list(scores["overpass"].values) == OVER


def test_evaluate_night_truth_series_advises_the_night_steps():
    sr = _series()
    truth = _series(["2020-01-05", "2020-01-06"], [280, 281], None)
    truth.attrs["day_night"] = "night"
    with pytest.raises(GridError) as err:
        xlstsr.evaluate(sr, truth)
    msg = str(err.value)
    assert "drop_duplicates" not in msg
    assert "sr.isel(time=(sr.overpass == 'night').values)" in msg
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        scores = xlstsr.evaluate(sr.isel(time=(sr.overpass == "night").values), truth)
    np.testing.assert_allclose(scores["bias"].values, 0.0, atol=1e-5)


def test_evaluate_repeats_not_told_apart_refused_without_drop_duplicates():
    sr = _series(over=None)
    with pytest.raises(GridError) as err:
        xlstsr.evaluate(sr, sr.copy())
    msg = str(err.value)
    assert "drop_duplicates" not in msg
    assert "2020-01-05" in msg and "assign_coords(overpass=" in msg


def _stacked(over):
    """The series stacked on a (time, overpass) MultiIndex dim 't'."""
    da = _series(over=over)
    return da.assign_coords(t=("time", [0] * 4)).swap_dims(time="t").set_index(
        t=["time", "overpass"])


def test_stacked_repeated_tuples_are_refused_as_repeats():
    """Terra and Aqua both ('2020-01-05', 'day') on a stacked dim: pandas' NotImplementedError
    ('isna is not defined for MultiIndex') came out of the overpass test; refused as repeats."""
    with pytest.raises(GridError, match=r"repeated 't' labels.*truth\.isel\(t="):
        xlstsr.steps.pair_steps(_stacked(["day"] * 4), _stacked(OVER), "truth")


@pytest.mark.parametrize("spelling", [["Day", "Night"] * 2, [b"day", b"night"] * 2])
def test_overpass_labels_spelled_otherwise_pair_and_score(spelling):
    """The truth's 'Day'/'Night' labels paired with the series' 'day'/'night', then clashed with
    them in the scoring, were dropped, and evaluate refused the series' repeats."""
    sr = _series()
    truth = _series(values=(299.5, 279.5, 300.5, 280.5), over=spelling)
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        out = xlstsr.evaluate(sr, truth)
    np.testing.assert_allclose(out["bias"].values, 0.5, atol=1e-5)

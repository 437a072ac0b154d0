"""Probe 45q.

01: a date-only truth (00:00) against sr steps at acquisition times, a day (10:30) and a night
(22:30) step of one date, was refused (rightly: which overpass is it?) with advice that failed
when followed (`truth.sel(time=sr['time'])` raised KeyError; the labels both have were none).
The refusal now says two sr steps share a date and advises selecting one overpass, then pairing.

02: an NDVI of 1-2 nominal dates a day apart was taken for composites by apply_calibration: told
every LST date lacked its NDVI date (two had it) and advised the 16-day tolerance '15D'.
"""
from __future__ import annotations

import re

import numpy as np
import pandas as pd
import pytest
import xarray as xr

from xlstsr.calibration import Calibration, apply_calibration
from xlstsr.errors import GridError
from xlstsr.steps import pair_steps


def _da(times, vals, **coords) -> xr.DataArray:
    n = len(times)
    return xr.DataArray(np.array(vals, float)[:, None, None] * np.ones((n, 2, 2)),
                        dims=("time", "y", "x"),
                        coords={"time": pd.to_datetime(times), "y": [1.0, 0.0], "x": [0.0, 1.0],
                                **coords})


def _follow(msg: str, sr: xr.DataArray, truth: xr.DataArray, first: str) -> tuple:
    """Run the advised `sr = ...` and `truth = ...` statements that follow ``first``."""
    code = re.findall(r"`((?:sr|truth) = [^`]+)`", msg[msg.index(first):])[:2]
    assert [c.split(" = ")[0] for c in code] == ["sr", "truth"], msg
    ns = {"sr": sr, "truth": truth, "pd": pd}
    for c in code:
        exec(c, ns)
    return ns["sr"], ns["truth"]


SR_TIMES = ["2020-07-02T10:30", "2020-07-02T22:30", "2020-07-03T10:30"]


@pytest.mark.parametrize("pick", ["e.g. its", "(or its"])
def test_date_truth_against_day_and_night_steps_advice_pairs(pick):
    sr = _da(SR_TIMES, [0, 0, 0])
    truth = _da(["2020-07-02", "2020-07-03"], [2, 3])
    with pytest.raises(GridError, match="two or more sr steps of its date") as e:
        pair_steps(truth, sr, "truth")
    msg = str(e.value)
    assert "truth.sel(time=sr['time'])" not in msg
    sr2, truth2 = _follow(msg, sr, truth, pick)
    assert sr2.sizes["time"] in (1, 2)
    paired = pair_steps(truth2, sr2, "truth")
    # each step takes the truth of its own date
    assert paired.mean(("y", "x")).values.tolist() == [
        float(t.day) for t in sr2.indexes["time"]]


def test_date_truth_advice_by_overpass_coordinate():
    sr = _da(SR_TIMES, [0, 0, 0], overpass=("time", ["day", "night", "day"]))
    truth = _da(["2020-07-02", "2020-07-03"], [2, 3])
    with pytest.raises(GridError, match=re.escape("sr.overpass == 'day'")) as e:
        pair_steps(truth, sr, "truth")
    sr2, truth2 = _follow(str(e.value), sr, truth, "e.g. its")
    assert list(sr2["overpass"].values) == ["day", "day"]
    assert pair_steps(truth2, sr2, "truth").mean(("y", "x")).values.tolist() == [2.0, 3.0]


def test_date_truth_advice_with_a_day_the_truth_lacks():
    sr = _da(["2020-07-02T10:30", "2020-07-02T22:30", "2020-07-04T10:30"], [0, 0, 0])
    truth = _da(["2020-07-02", "2020-07-03"], [2, 3])
    with pytest.raises(GridError, match="two or more sr steps of its date") as e:
        pair_steps(truth, sr, "truth")
    sr2, truth2 = _follow(str(e.value), sr, truth, "e.g.")
    assert pair_steps(truth2, sr2, "truth").mean(("y", "x")).values.tolist() == [2.0]


def _geo(times, v) -> xr.DataArray:
    a = xr.DataArray(np.full((len(times), 8, 8), v, float), dims=("time", "y", "x"),
                     coords={"time": pd.to_datetime(times),
                             "y": np.arange(8)[::-1] * 1000.0 + 500,
                             "x": np.arange(8) * 1000.0 + 500})
    return a.rio.write_crs("EPSG:32631")


LST3 = ["2020-07-01T10:30", "2020-07-02T10:30", "2020-07-03T10:30"]


@pytest.mark.parametrize("ndvi_days, lst_times", [
    (["2020-07-01", "2020-07-02"], LST3),           # two steps a day apart
    (["2020-07-01"], LST3[:2]),                     # one step, the LST's next day after it
])
def test_per_date_ndvi_of_few_steps_is_not_called_composites(ndvi_days, lst_times):
    lst = _geo(lst_times, 300.0)
    lst.attrs["units"] = "K"
    with pytest.raises(GridError) as e:
        apply_calibration(lst, Calibration(slope=1.0, offset=1.0, ndvi=0.5),
                          _geo(ndvi_days, 0.5))
    msg = str(e.value)
    assert "15D" not in msg and "composites labelled" not in msg, msg
    # the one LST date without its NDVI day is named, not all of them
    assert "1 of the LST's" in msg and "2020-07-0" in msg, msg


def test_two_composites_keep_the_tolerance_advice_counted_by_day():
    lst = _geo(["2020-07-01T10:30", "2020-07-05T10:30", "2020-07-20T10:30"], 300.0)
    lst.attrs["units"] = "K"
    with pytest.raises(GridError, match="time_tolerance='15D'") as e:
        apply_calibration(lst, Calibration(slope=1.0, offset=1.0, ndvi=0.5),
                          _geo(["2020-07-01", "2020-07-17"], 0.5))
    # 07-01 10:30 has its composite's date: 2 of 3 lack one, not 3
    assert "2 of the LST's 3 dates have no ndvi step" in str(e.value)

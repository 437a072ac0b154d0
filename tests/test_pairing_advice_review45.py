"""Review 45e.

1: the advised selection of one overpass compared the coordinate with its read label ('day'),
not its stored value: a NetCDF char (b'day'), 'Day'/'Night' or 'D'/'N' label kept no step, and
the advised truth statement raised (steps._shared_date_hint, steps._one_overpass_fix).
2: 8-day composites with one missing were advised '15D' under the "8-day" label: followed, the
missing composite's days took the one before, 8-15 days old.
3: 16-day composites at 00:00 against LST at 10:30 were advised '16D' (instants rounded up);
by calendar day, as the tolerance matches them, '15D' pairs every date.
4: a daily NDVI with cloudy days dropped (median gap 2 days) was called composites and advised
the 16-day '15D' tolerance, filling each missing day with an older day's NDVI.
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

CAL = Calibration(slope=1.0, offset=0.0, ndvi=1.0)


def _da(times, vals, **coords) -> xr.DataArray:
    return xr.DataArray(np.array(vals, float)[:, None, None] * np.ones((len(times), 2, 2)),
                        dims=("time", "y", "x"),
                        coords={"time": pd.to_datetime(times), "y": [1.0, 0.0], "x": [0.0, 1.0],
                                **{k: ("time", v) for k, v in coords.items()}})


LABELS = {"bytes": np.array([b"day", b"night"]), "Day": np.array(["Day", "Night"]),
          "D/N": np.array(["D", "N"])}


@pytest.mark.parametrize("kind", LABELS)
@pytest.mark.parametrize("pick", ["e.g. its", "(or its"])
@pytest.mark.parametrize("name", ["overpass", "day_night"])
def test_shared_date_advice_selects_stored_overpass_labels(kind, pick, name):
    day, night = LABELS[kind]
    sr = _da(["2020-07-02T10:30", "2020-07-02T22:30", "2020-07-03T10:30", "2020-07-03T22:30"],
             [0, 0, 0, 0], **{name: np.array([day, night, day, night])})
    truth = _da(["2020-07-02", "2020-07-03"], [2, 3])
    with pytest.raises(GridError, match="two or more sr steps of its date") as e:
        pair_steps(truth, sr, "truth")
    msg = str(e.value)
    code = re.findall(r"`((?:sr|truth) = [^`]+)`", msg[msg.index(pick):])[:2]
    assert [c.split(" = ")[0] for c in code] == ["sr", "truth"], msg
    ns = {"sr": sr, "truth": truth}
    for c in code:
        exec(c, ns)
    # one overpass kept: a step of each date, of one stored label
    assert ns["sr"].sizes["time"] == 2, msg
    assert len(set(ns["sr"][name].values.tolist())) == 1
    paired = pair_steps(ns["truth"], ns["sr"], "truth")
    assert paired.mean(("y", "x")).values.tolist() == [2.0, 3.0]


@pytest.mark.parametrize("kind", LABELS)
def test_one_overpass_advice_selects_stored_overpass_labels(kind):
    day, night = LABELS[kind]
    sr = _da(["2020-07-02", "2020-07-02", "2020-07-03", "2020-07-03"], [0, 0, 0, 0],
             overpass=np.array([day, night, day, night]))
    # a truth of no known overpass: the advice names the selection of one
    truth = _da(["2020-07-02", "2020-07-03"], [2, 3])
    with pytest.raises(GridError, match="select the steps of one overpass") as e:
        pair_steps(truth, sr, "truth")
    sel = re.findall(r"`(sr\.isel\([^`]+)`", str(e.value))
    assert sel, str(e.value)
    kept = eval(sel[0], {"sr": sr})
    assert kept.sizes["time"] == 2 and len(set(kept.overpass.values.tolist())) == 1
    # a truth of the day overpass, labelled as the sr is: the sr's steps of that overpass
    truth = _da(["2020-07-02", "2020-07-03"], [2, 3], overpass=np.array([day, day]))
    with pytest.raises(GridError, match="steps of that overpass") as e:
        pair_steps(truth, sr, "truth")
    sel = re.findall(r"`(sr\.isel\([^`]+)`", str(e.value))
    kept = eval(sel[0], {"sr": sr})
    assert kept.overpass.values.tolist() == [day, day]
    assert pair_steps(truth, kept, "truth").mean(("y", "x")).values.tolist() == [2.0, 3.0]


def _field(times, vals) -> xr.DataArray:
    vals = np.broadcast_to(np.asarray(vals, "f4"), (len(times),))
    return xr.DataArray(vals[:, None, None] * np.ones((len(times), 4, 4), "f4"),
                        dims=("time", "y", "x"),
                        coords={"time": times, "y": 4e6 - np.arange(4) * 250.0,
                                "x": np.arange(4) * 250.0})


def _lst(times) -> xr.DataArray:
    da = _field(times, 300.0)
    da.attrs = {"units": "K"}
    return da


def _ndvi(dates) -> xr.DataArray:
    """NDVI steps whose value tells their date (day of year / 1000)."""
    dates = pd.DatetimeIndex(pd.to_datetime(dates))
    return _field(dates, dates.dayofyear / 1000.0)


def _taken(out, da) -> list[pd.Timestamp]:
    """The NDVI date each output step took (its value is the LST's + the NDVI's)."""
    doy = np.rint((out - da).isel(y=0, x=0).values * 1000).astype(int)
    return [pd.Timestamp("2019-12-31") + pd.Timedelta(days=int(d)) for d in doy]


def _follow(msg, da, ndvi) -> tuple:
    ns = {"da": da, "ndvi": ndvi, "np": np, "pd": pd}
    for code in re.findall(r"`(da = [^`]+)`", msg):
        exec(code, ns)
    tol = re.findall(r"time_tolerance='(\d+D)'", msg)
    return ns["da"], (tol[0] if tol else None)


DAYS = pd.date_range("2020-07-01", periods=32, freq="D")


def test_eight_day_composite_missing_keeps_the_covered_steps():
    da = _lst(DAYS + pd.Timedelta("630min"))
    comp = pd.date_range("2020-06-25", periods=6, freq="8D").delete(3)  # 07-19 missing
    nd = _ndvi(comp)
    with pytest.raises(GridError, match="8-day") as e:
        apply_calibration(da, CAL, nd, check=False)
    msg = str(e.value)
    assert "15D" not in msg, msg
    kept, tol = _follow(msg, da, nd)
    assert tol == "7D"
    days = pd.DatetimeIndex(kept["time"].values).normalize()
    assert len(days) == 24 and not days.isin(pd.date_range("2020-07-19", "2020-07-26")).any()
    out = apply_calibration(kept, CAL, nd, check=False, time_tolerance=tol)
    for day, took in zip(days, _taken(out, kept)):
        assert pd.Timedelta(0) <= day - took <= pd.Timedelta("7D") and took in comp
    # the .sel alternative, after the same selection, takes the same composites
    sel = re.findall(r"`(ndvi = ndvi\.sortby[^`]+)`", msg)[0]
    ns = {"da": kept, "ndvi": nd}
    exec(sel, ns)
    assert _taken(ns["ndvi"] + kept, kept) == _taken(out, kept)


def test_complete_eight_day_composites_keep_their_advice():
    da = _lst(DAYS + pd.Timedelta("630min"))
    nd = _ndvi(pd.date_range("2020-06-25", periods=6, freq="8D"))
    with pytest.raises(GridError, match="time_tolerance='7D'") as e:
        apply_calibration(da, CAL, nd, check=False)
    assert "keep the" not in str(e.value)


@pytest.mark.parametrize("times", ["630min", "day+night"])
def test_sixteen_day_composites_are_advised_their_days(times):
    t = (DAYS + pd.Timedelta("630min") if times == "630min" else
         (DAYS + pd.Timedelta("630min")).append(DAYS + pd.Timedelta("1350min")).sort_values())
    da = _lst(t)
    if times != "630min":
        da = da.assign_coords(overpass=("time", ["day", "night"] * len(DAYS)))
    comp = pd.to_datetime(["2020-06-25", "2020-07-11", "2020-07-27"])
    nd = _ndvi(comp)
    with pytest.raises(GridError, match="MODIS 16-day") as e:
        apply_calibration(da, CAL, nd, check=False)
    msg = str(e.value)
    assert "time_tolerance='15D'" in msg and "time_tolerance='16D'" not in msg, msg
    out = apply_calibration(da, CAL, nd, check=False, time_tolerance="15D")
    want = [comp[comp <= d][-1] for d in pd.DatetimeIndex(da["time"].values).normalize()]
    assert _taken(out, da) == want


def test_daily_ndvi_with_cloudy_days_dropped_is_per_date():
    d = pd.date_range("2020-07-01", periods=10, freq="D")
    da = _lst(d + pd.Timedelta("630min"))
    nd = _ndvi(d[[0, 2, 3, 5, 7, 8]])
    with pytest.raises(GridError) as e:
        apply_calibration(da, CAL, nd, check=False)
    msg = str(e.value)
    assert "composites labelled" not in msg and "15D" not in msg, msg
    kept, _ = _follow(msg, da, nd)
    out = apply_calibration(kept, CAL, nd, check=False)
    assert _taken(out, kept) == list(pd.DatetimeIndex(kept["time"].values).normalize())
    assert len(kept["time"]) == 6


def test_composites_sixteen_days_apart_stay_composites():
    """Review 45d's case: 06-25, 07-11, 07-27 against daily LST is composites."""
    da = _lst(pd.date_range("2020-07-01", periods=10, freq="D") + pd.Timedelta("630min"))
    with pytest.raises(GridError, match="time_tolerance='15D'"):
        apply_calibration(da, CAL, _ndvi(["2020-06-25", "2020-07-11", "2020-07-27"]),
                          check=False)

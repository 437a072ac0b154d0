"""Round 43 (probe43r): a resume compares the store's coordinates with the input's by value
even when all their chunks are present: labels another tool changed (x shifted by 1 km, the
dates moved) were kept and the store marked complete, with no warning."""

from __future__ import annotations

import warnings

import numpy as np
import pytest
import xarray as xr
import zarr

# a run stopped while writing a region (bicubic x 2, one step per region)
from test_resume_fixes42 import KW, _interrupted, _lst

import xlstsr
from xlstsr.io.zarr import COMPLETE, STATUS_ATTR


@pytest.mark.parametrize("name", ["x", "y", "time"])
def test_resume_writes_changed_coordinates_again(monkeypatch, tmp_path, name):
    """Every chunk present, values changed by another tool: written again with a warning."""
    lst, store = _lst(), str(tmp_path / "sr.zarr")
    _interrupted(monkeypatch, lst, store)
    arr = zarr.open_group(store, mode="r+")[name]
    assert arr.nchunks_initialized == arr.nchunks
    arr[:] = arr[:] + (1000 if name != "time" else 7)  # 1 km; a week (time in days)
    with pytest.warns(UserWarning, match=r"lost or changed its coordinate\(s\) \['" + name):
        out = xlstsr.upscale_to_zarr(lst, store, mode="resume", **KW)
    ref = xlstsr.upscale(lst, 2, "bicubic")
    back = xr.open_zarr(store, consolidated=False)
    assert back.attrs[STATUS_ATTR] == COMPLETE
    for o in (out, back):
        np.testing.assert_array_equal(o[name].values, ref[name].values)


def _time_kind(lst, kind):
    t = lst["time"]
    if kind == "float_days":  # odd seconds in float days: read back a few ns off
        odd = t.values + np.array([37_123_456_789 * (i + 1) for i in range(t.size)],
                                  dtype="timedelta64[ns]")
        lst = lst.assign_coords(time=odd)
        lst["time"].encoding = {"units": "days since 1970-01-01", "dtype": "float64"}
    elif kind == "undecoded":  # times as numbers with their units (decode_times=False)
        days = (t.values - np.datetime64("2000-01-01")) / np.timedelta64(1, "D")
        lst = lst.assign_coords(time=("time", days, {"units": "days since 2000-01-01"}))
    elif kind == "noleap":
        lst = lst.convert_calendar("noleap")
    elif kind == "nat":  # a date coordinate along time with a gap (an acquisition unknown)
        when = t.values.copy()
        when[1] = np.datetime64("NaT")
        lst = lst.assign_coords(acquired=("time", when))
    return lst


@pytest.mark.parametrize("kind", ["float_days", "undecoded", "noleap", "nat"])
def test_resume_of_a_valid_store_warns_nothing(monkeypatch, tmp_path, kind):
    """Values compared at every resume: labels that a write and read alone turn into others
    are not told changed."""
    lst, store = _time_kind(_lst(), kind), str(tmp_path / "sr.zarr")
    _interrupted(monkeypatch, lst, store)
    with warnings.catch_warnings():
        warnings.simplefilter("error", UserWarning)
        xlstsr.upscale_to_zarr(lst, store, mode="resume", **KW)
    assert zarr.open_group(store).attrs[STATUS_ATTR] == COMPLETE

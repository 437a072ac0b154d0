"""Review 45b/01 and /03.

01: a per-date NDVI (00:00) lacking some of an LST's dates (steps at 10:30) was refused by
fit_calibration / apply_calibration with the composite advice ``time_tolerance='15D'``, which
filled each missing date with an NDVI up to 15 days old; pair_steps advises keeping the LST's
steps of the dates the NDVI has. A per-date NDVI at another time of day was told '15D' as well.
Composites labelled by their period's first day keep their tolerance advice.

03: to_cogs of text or bytes date labels repeated for a day and a night step, told apart by an
``overpass`` coordinate, was refused as if nothing told them apart (advising that coordinate).
"""
from __future__ import annotations

import os
import re
import warnings

import numpy as np
import pytest
import xarray as xr

from xlstsr.calibration import Calibration, apply_calibration, fit_calibration
from xlstsr.errors import GridError
from xlstsr.io import open_cog, to_cogs

N = 8
DAYS = np.arange("2020-07-01", "2020-07-21", dtype="datetime64[D]")


def _field(times, seed=0, lo=300.0, hi=302.0, name="LST") -> xr.DataArray:
    rng = np.random.default_rng(seed)
    return xr.DataArray(
        rng.uniform(lo, hi, (len(times), N, N)).astype("f4"), dims=("time", "y", "x"),
        coords={"time": np.array(times, dtype="datetime64[ns]"),
                "y": 4e6 - np.arange(N) * 250.0 - 125, "x": np.arange(N) * 250.0 + 125},
        name=name, attrs={"units": "K"} if name == "LST" else {})


def _ndvi(times) -> xr.DataArray:
    return _field(times, seed=1, lo=0.1, hi=0.8, name="NDVI")


def _code(err: Exception, var: str) -> str:
    found = re.search(rf"`({var} = [^`]+)`", str(err))
    assert found, str(err)
    return found.group(1).split(" = ", 1)[1]


@pytest.fixture
def missing():
    sr = _field(DAYS + np.timedelta64(630, "m"))
    ndvi = _ndvi([d for i, d in enumerate(DAYS) if i not in (3, 7)])
    return sr, sr + 1.0, ndvi


def test_fit_per_date_ndvi_missing_dates_advises_keeping_steps(missing):
    sr, truth, ndvi = missing
    with pytest.raises(GridError) as info:
        fit_calibration(sr, truth, ndvi, min_pixels=10)
    assert "15D" not in str(info.value) and "time_tolerance" not in str(info.value)
    kept = eval(_code(info.value, "sr"), {}, {"sr": sr, "ndvi": ndvi})
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        cal = fit_calibration(kept, truth, ndvi, min_pixels=10)
    assert cal.n == 18 * N * N  # the two missing dates left out, not filled with older NDVI


def test_apply_per_date_ndvi_missing_dates_advises_keeping_steps(missing):
    da, _, ndvi = missing
    cal = Calibration(slope=1.0, offset=0.5, ndvi=2.0)
    with pytest.raises(GridError) as info:
        apply_calibration(da, cal, ndvi, check=False)
    assert "15D" not in str(info.value)
    kept = eval(_code(info.value, "da"), {}, {"da": da, "ndvi": ndvi})
    out = apply_calibration(kept, cal, ndvi, check=False)
    assert out.sizes["time"] == 18
    want = kept.values + 0.5 + 2.0 * ndvi.values
    np.testing.assert_allclose(out.values, want, rtol=1e-6)


def test_per_date_ndvi_at_another_time_advises_its_own_tolerance():
    da = _field(DAYS + np.timedelta64(630, "m"))
    ndvi = _ndvi(DAYS + np.timedelta64(600, "m"))  # 10:00 of each date
    cal = Calibration(slope=1.0, offset=0.5, ndvi=2.0)
    with pytest.raises(GridError, match="time_tolerance='1D'") as info:
        apply_calibration(da, cal, ndvi, check=False)
    assert "15D" not in str(info.value)
    out = apply_calibration(da, cal, ndvi, check=False, time_tolerance="1D")
    np.testing.assert_allclose(out.values, da.values + 0.5 + 2.0 * ndvi.values, rtol=1e-6)


def test_composites_keep_their_tolerance_advice():
    sr = _field(DAYS + np.timedelta64(630, "m"))
    comp = _ndvi(["2020-06-25", "2020-07-11"])
    with pytest.raises(GridError, match="time_tolerance='15D'"):
        fit_calibration(sr, sr + 1.0, comp, min_pixels=10)
    short = sr.isel(time=slice(0, 10))
    with pytest.raises(GridError, match="time_tolerance='15D'"):
        apply_calibration(short, Calibration(slope=1.0, offset=0.0, ndvi=1.0),
                          _ndvi(["2020-07-01"]), check=False)


@pytest.mark.parametrize("time", [[b"2020-07-01"] * 2, ["2020-07-01"] * 2],
                         ids=["bytes", "text"])
def test_cogs_of_repeated_text_dates_named_by_date_and_overpass(tmp_path, time):
    da = xr.DataArray(
        np.stack([np.full((4, 4), 300.0, "f4"), np.full((4, 4), 280.0, "f4")]),
        dims=("time", "y", "x"), name="lst", attrs={"units": "K"},
        coords={"time": np.array(time), "overpass": ("time", ["day", "night"]),
                "y": 40 - 0.01 * np.arange(4), "x": 10 + 0.01 * np.arange(4)},
    ).rio.write_crs(4326)
    to_cogs(da, tmp_path, prefix="lst")
    names = sorted(os.listdir(tmp_path))
    assert names == ["lst_2020-07-01_day.tif", "lst_2020-07-01_night.tif"]
    back = open_cog([os.path.join(tmp_path, f) for f in names])
    assert back["time"].dtype.kind == "M"
    assert str(back["time"].values[0])[:10] == "2020-07-01"
    assert [str(v) for v in back["overpass"].values] == ["day", "night"]
    np.testing.assert_allclose(back.values.squeeze()[:, 0, 0], [300.0, 280.0])

"""Review 45h/2,3: three 8-day composites with one missing (gaps 8 and 16 days, median 12)
were told 16-day and '15D', filling a missing composite's days with one up to 15 days old;
an NDVI of revisits a few days apart (Sentinel-2's 5) was only told to drop most LST steps."""

from __future__ import annotations

import re

import pandas as pd
import pytest
from test_pairing_advice_review45 import CAL, _follow, _lst, _ndvi, _taken

from xlstsr.calibration import apply_calibration
from xlstsr.errors import GridError

DAYS = pd.date_range("2020-07-03", "2020-08-03", freq="D")


def test_three_eight_day_composites_one_missing_are_eight_day():
    da = _lst(DAYS + pd.Timedelta("630min"))
    comp = pd.DatetimeIndex(["2020-07-03", "2020-07-11", "2020-07-27"])  # 07-19 missing
    nd = _ndvi(comp)
    with pytest.raises(GridError, match="8-day") as e:
        apply_calibration(da, CAL, nd, check=False)
    msg = str(e.value)
    assert "15D" not in msg, msg
    kept, tol = _follow(msg, da, nd)
    assert tol == "7D"
    out = apply_calibration(kept, CAL, nd, check=False, time_tolerance=tol)
    days = pd.DatetimeIndex(kept["time"].values).normalize()
    for day, took in zip(days, _taken(out, kept)):
        assert pd.Timedelta(0) <= day - took <= pd.Timedelta("7D") and took in comp


def test_revisits_a_few_days_apart_offered_their_tolerance():
    da = _lst(DAYS[:20] + pd.Timedelta("630min"))
    nd = _ndvi(pd.date_range("2020-07-03", periods=4, freq="5D"))
    with pytest.raises(GridError, match="single dates") as e:
        apply_calibration(da, CAL, nd, check=False)
    tol = re.findall(r"time_tolerance='(\d+D)'", str(e.value))
    assert tol == ["4D"], str(e.value)
    out = apply_calibration(da, CAL, nd, check=False, time_tolerance=tol[0])
    days = pd.DatetimeIndex(da["time"].values).normalize()
    for day, took in zip(days, _taken(out, da)):
        assert pd.Timedelta(0) <= day - took <= pd.Timedelta("4D")

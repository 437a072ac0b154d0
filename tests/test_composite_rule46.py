"""Review 46d/2-4: one composite-period rule (:func:`xlstsr.steps.composite_period`) for
upscale's guide-date advice (:func:`xlstsr.guide.match_steps`) and the calibration's NDVI-date
advice. Dekads (1st/11th/21st) crossing February (a gap of 8 days) were told 8-day and '7D',
which refused each dekad's last days; monthly composites were told 16-day by the calibration;
the same dates got other tolerances from the two; an LST that merely began before the guide was
told "one missing"."""

from __future__ import annotations

import re

import numpy as np
import pandas as pd
import pytest
from test_pairing_advice_review45 import CAL, _follow, _lst, _ndvi

from xlstsr.calibration import apply_calibration
from xlstsr.errors import GridError, GuideTimeError
from xlstsr.guide import match_steps
from xlstsr.steps import composite_period

DEKADS = ["2021-01-21", "2021-02-01", "2021-02-11", "2021-02-21", "2021-03-01", "2021-03-11"]


def _took(out, da) -> list[pd.Timestamp]:
    """The NDVI date each step took (:func:`_taken`, in the year of each step's date)."""
    doy = np.rint((out - da).isel(y=0, x=0).values * 1000).astype(int)
    years = pd.DatetimeIndex(da["time"].values).year
    return [pd.Timestamp(f"{y - 1}-12-31") + pd.Timedelta(days=int(d)) for y, d in zip(years, doy)]


def _guide_advice(nd, da) -> tuple[str, str | None]:
    with pytest.raises(GuideTimeError) as e:
        match_steps(nd, da, "time")
    msg = str(e.value)
    tol = re.findall(r"guide_time_tolerance='(\d+D)'", msg)
    return msg, (tol[0] if tol else None)


def _calibration_advice(nd, da) -> tuple[str, str | None]:
    with pytest.raises(GridError) as e:
        apply_calibration(da, CAL, nd, check=False)
    msg = str(e.value)
    tol = re.findall(r"time_tolerance='(\d+D)'", msg)
    return msg, (tol[0] if tol else None)


@pytest.mark.parametrize("dates, name", [
    (["2020-07-04", "2020-07-12"], "8-day"),
    (["2020-07-04", "2020-07-12", "2020-07-28"], "8-day"),  # one missing
    (["2019-12-19", "2019-12-27", "2020-01-01", "2020-01-09"], "8-day"),  # year end
    (["2020-06-25", "2020-07-11", "2020-08-12"], "16-day"),  # one missing
    (["2020-06-22", "2020-06-25", "2020-07-11", "2020-07-27"], "16-day"),  # median 16
    (DEKADS, "10-day (dekadal)"),
    (["2020-07-01", "2020-07-11"], "10-day (dekadal)"),
    (["2020-06-01", "2020-07-01", "2020-08-01"], "monthly"),
    (["2020-07-01", "2020-07-02", "2020-07-04"], None),  # single dates
    (["2020-07-04"], None),  # one date: its period is not told
    (["2020-07-04", "2020-07-16"], None),  # 12 days: no period of these
])
def test_composite_period_by_typical_gap(dates, name):
    p = composite_period(pd.to_datetime(dates))
    assert (p and p.name) == name


def test_dekads_across_february_get_their_tolerance_in_the_guide_advice():
    nd = _ndvi(DEKADS)
    da = _lst(pd.date_range("2021-02-22", "2021-03-10"))
    msg, tol = _guide_advice(nd, da)
    assert "8-day" not in msg and "dekadal" in msg and tol == "10D", msg
    # followed: every date (the 9th and 10th days of a dekad too) takes its own dekad
    out = match_steps(nd, da, "time", tol)
    assert out.sizes["time"] == da.sizes["time"]
    doy = np.rint(out.isel(y=0, x=0).values * 1000).astype(int).tolist()
    want = [max(t for t in pd.to_datetime(DEKADS) if t <= d).dayofyear
            for d in pd.DatetimeIndex(da["time"].values)]
    assert doy == want


def test_dekads_across_february_get_their_tolerance_in_the_calibration_advice():
    nd = _ndvi(DEKADS)
    da = _lst(pd.date_range("2021-02-22", "2021-03-10") + pd.Timedelta("630min"))
    msg, tol = _calibration_advice(nd, da)
    assert "8-day" not in msg and "dekadal" in msg and tol == "10D", msg
    kept, tol = _follow(msg, da, nd)
    out = apply_calibration(kept, CAL, nd, check=False, time_tolerance=tol)
    days = pd.DatetimeIndex(kept["time"].values).normalize()
    assert len(days) == da.sizes["time"]
    doy = np.rint((out - kept).isel(y=0, x=0).values * 1000).astype(int).tolist()
    assert doy == [max(t for t in pd.to_datetime(DEKADS) if t <= d).dayofyear for d in days]


@pytest.mark.parametrize("dates, lst_days", [
    (["2020-06-01", "2020-07-01", "2020-08-01"], pd.date_range("2020-07-02", periods=5)),
    (["2020-06-25", "2020-07-11", "2020-08-12"], pd.date_range("2020-07-11", "2020-08-20")),
    (["2020-07-04", "2020-07-12", "2020-07-28"], pd.date_range("2020-07-04", "2020-08-04")),
    (["2020-06-25"], pd.date_range("2020-07-01", periods=3)),
    (["2020-07-01", "2020-07-11"], pd.date_range("2020-07-02", periods=12)),
    (DEKADS, pd.date_range("2021-02-22", "2021-03-10")),
], ids=["monthly", "16-day-missing", "8-day-missing", "one-date", "10-days-apart", "dekads"])
def test_guide_and_calibration_give_the_same_period_advice(dates, lst_days):
    nd, da = _ndvi(dates), _lst(lst_days + pd.Timedelta("630min"))
    gmsg, gtol = _guide_advice(nd, da)
    cmsg, ctol = _calibration_advice(nd, da)
    p = composite_period(pd.to_datetime(dates))
    if p is None:
        # the period is not told: the guide gives both examples, the calibration says so
        assert gtol is None and "'15D' for 16-day" in gmsg, gmsg
        assert "not told" in cmsg, cmsg
        return
    assert gtol == ctol == f"{p.reach}D", (gmsg, cmsg)
    word = "16-day" if p.days == 16 else p.name
    assert word in gmsg and word in cmsg, (gmsg, cmsg)
    # the calibration's advice, followed, pairs each kept step within the period
    kept, tol = _follow(cmsg, da, nd)
    out = apply_calibration(kept, CAL, nd, check=False, time_tolerance=tol)
    days = pd.DatetimeIndex(kept["time"].values).normalize()
    for day, took in zip(days, _took(out, kept)):
        assert pd.Timedelta(0) <= day - took <= pd.Timedelta(days=p.reach)


def test_monthly_composites_not_called_16_day_by_the_calibration():
    nd = _ndvi(["2020-06-01", "2020-07-01", "2020-08-01"])
    da = _lst(pd.date_range("2020-07-02", "2020-07-31") + pd.Timedelta("630min"))
    msg, tol = _calibration_advice(nd, da)
    assert "16-day" not in msg and "monthly" in msg and tol == "30D", msg
    out = apply_calibration(da, CAL, nd, check=False, time_tolerance=tol)
    assert set(_took(out, da)) == {pd.Timestamp("2020-07-01")}


def test_sixteen_day_missing_keeps_the_covered_steps_in_the_calibration():
    """The calibration advised '31D' (filling the missing composite's days with one 16-31
    days old) where upscale advised '15D': both '15D' now, the calibration keeping first the
    steps a composite covers."""
    comp = pd.to_datetime(["2020-06-25", "2020-07-11", "2020-08-12"])
    nd = _ndvi(comp)
    da = _lst(pd.date_range("2020-07-11", "2020-08-20") + pd.Timedelta("630min"))
    msg, tol = _calibration_advice(nd, da)
    assert tol == "15D" and "31D" not in msg and "keep the" in msg, msg
    kept, tol = _follow(msg, da, nd)
    days = pd.DatetimeIndex(kept["time"].values).normalize()
    assert not days.isin(pd.date_range("2020-07-27", "2020-08-11")).any()
    out = apply_calibration(kept, CAL, nd, check=False, time_tolerance=tol)
    for day, took in zip(days, _took(out, kept)):
        assert pd.Timedelta(0) <= day - took <= pd.Timedelta("15D") and took in comp


@pytest.mark.parametrize("case", ["before", "missing"])
def test_guide_note_names_the_cause(case):
    if case == "before":
        nd = _ndvi(["2020-07-04", "2020-07-12", "2020-07-20"])
        da = _lst(pd.date_range("2020-07-02", "2020-07-27"))
    else:
        nd = _ndvi(["2020-07-04", "2020-07-12", "2020-07-28"])
        da = _lst(pd.date_range("2020-07-04", "2020-08-04"))
    msg, tol = _guide_advice(nd, da)
    assert tol == "7D", msg
    if case == "before":
        assert "before the guide's first date" in msg and "one missing" not in msg, msg
    else:
        assert "one missing" in msg and "before the guide's first" not in msg, msg
    with pytest.raises(GuideTimeError) as e:
        match_steps(nd, da, "time", tol)
    follow = str(e.value)
    # the refusal of the advice followed names the cause the note announced
    assert ("begins after" in follow) == (case == "before"), follow
    if case == "before":
        # its own advice, followed, pairs the rest
        sel = da.sel(time=slice(nd["time"][0], None))
        assert match_steps(nd, sel, "time", tol).sizes["time"] == sel.sizes["time"]
    assert np.isfinite(da.values).all()


# -- review 46e ------------------------------------------------------------------------------------

def test_eight_day_across_a_year_without_its_1_january_composite():
    """Review 46e/2: MOD11A2 Dec 19, Dec 27, (Jan 1 missing), Jan 9: the gap Dec 27 -> Jan 9
    (13 days) crosses the year and is left out: still 8-day, '7D' (the calibration advised
    '15D', its period not told)."""
    dates = ["2019-12-19", "2019-12-27", "2020-01-09"]
    assert composite_period(pd.to_datetime(dates)).name == "8-day"
    assert composite_period(pd.to_datetime(["2019-12-27", "2020-01-09", "2020-01-17"])).reach == 7
    nd = _ndvi(dates)
    da = _lst(pd.date_range("2019-12-19", "2020-01-16") + pd.Timedelta("630min"))
    cmsg, ctol = _calibration_advice(nd, da)
    gmsg, gtol = _guide_advice(nd, da)
    assert ctol == gtol == "7D" and "8-day" in cmsg and "8-day" in gmsg, (cmsg, gmsg)
    assert "not told" not in cmsg and "15D" not in cmsg, cmsg


MISSING = {
    "dekad-feb-11": ([t for t in pd.date_range("2021-01-01", "2021-03-31") if t.day in (1, 11, 21)
                      and t != pd.Timestamp("2021-02-11")],
                     pd.date_range("2021-02-01", "2021-02-28"), 18),
    "dekad-mar-1": ([t for t in pd.date_range("2021-01-01", "2021-03-31") if t.day in (1, 11, 21)
                     and t != pd.Timestamp("2021-03-01")],
                    pd.date_range("2021-02-21", "2021-03-10"), 8),
    "month-mar": ([t for t in pd.date_range("2021-01-01", periods=6, freq="MS") if t.month != 3],
                  pd.date_range("2021-02-01", "2021-03-31"), 28),
}


def _own(day, took, dekad) -> bool:
    """Whether ``took`` is the composite of ``day``'s own month (and dekad)."""
    same = (day.year, day.month) == (took.year, took.month)
    return same and (not dekad or min((day.day - 1) // 10, 2) == (took.day - 1) // 10)


@pytest.mark.parametrize("case", list(MISSING))
def test_dekads_and_months_with_one_missing_keep_their_own_period(case):
    """Review 46e/1: a tolerance of 10 / 30 days paired a missing dekad's / month's days with
    the previous composite; both advices now keep the steps whose own period has one first,
    and count them as kept (the calibration said 19 of 28 where 18 are covered)."""
    dates, days, n = MISSING[case]
    dekad = case.startswith("dekad")
    nd, da = _ndvi(dates), _lst(days + pd.Timedelta("630min"))
    cmsg, _ = _calibration_advice(nd, da)
    assert f"keep the {n} of the {len(days)} steps whose own" in cmsg, cmsg
    kept, tol = _follow(cmsg, da, nd)
    assert kept.sizes["time"] == n
    out = apply_calibration(kept, CAL, nd, check=False, time_tolerance=tol)
    kdays = pd.DatetimeIndex(kept["time"].values).normalize()
    assert all(_own(d, t, dekad) for d, t in zip(kdays, _took(out, kept)))
    # the guide's advice, followed, pairs each kept step with its own period's composite
    gmsg, gtol = _guide_advice(nd, da)
    assert f"keeping the {n} of the {len(days)} LST steps" in gmsg, gmsg
    env = {"lst": da, "guide": nd, "np": np}
    exec(re.findall(r"`(lst = [^`]+)`", gmsg)[0], env)
    lst = env["lst"]
    assert lst.sizes["time"] == n
    got = match_steps(nd, lst, "time", gtol)
    doy = np.rint(got.isel(y=0, x=0).values * 1000).astype(int)
    took = [pd.Timestamp(f"{d.year - 1}-12-31") + pd.Timedelta(days=int(v))
            for d, v in zip(pd.DatetimeIndex(lst["time"].values), doy)]
    assert all(_own(d, t, dekad) for d, t in zip(pd.DatetimeIndex(lst["time"].values), took))

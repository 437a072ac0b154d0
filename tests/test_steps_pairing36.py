"""Pairing a scalar truth date, unsorted truth steps and several truth granules of one overpass
(xlstsr.steps): the scalar path follows the indexed path's rules and every refusal gives a fix
that works."""

import re
import warnings

import numpy as np
import pandas as pd
import pytest
import xarray as xr

import xlstsr
from xlstsr.errors import GridError, XlstsrError
from xlstsr.steps import pair_steps


def _field(times, val=300.0, noise=False):
    n = len(times) if times is not None else 3
    data = np.full((n, 8, 8), val)
    if noise:
        data = data + np.random.default_rng(0).normal(0, 1, data.shape)
    d = xr.DataArray(data, dims=("time", "y", "x"), attrs={"units": "K"},
                     coords={"y": 1000 - 250 * (np.arange(8) + .5), "x": 250 * (np.arange(8) + .5)})
    if times is not None:
        d = d.assign_coords(time=pd.to_datetime(times, format="ISO8601"))
    return d.rio.write_crs("EPSG:32631")


@pytest.mark.parametrize("case", ["scalar truth", "scalar sr", "both scalar"])
def test_scalar_date_of_previous_day_overpass_refused(case):
    # sr dated 07-02 (nominal), truth of the 07-01 10:30 overpass: another day, as when indexed
    sr, truth = _field(["2020-07-02"]), _field(["2020-07-01T10:30"], 305.0)
    o, like = {"scalar truth": (truth.isel(time=0), sr), "scalar sr": (truth, sr.isel(time=0)),
               "both scalar": (truth.isel(time=0), sr.isel(time=0))}[case]
    with pytest.raises(GridError):
        pair_steps(o, like, "truth")


def test_scalar_date_same_day_overpass_still_paired():
    sr, truth = _field(["2020-07-01"]), _field(["2020-07-01T10:30"], 305.0)
    with warnings.catch_warnings():
        warnings.simplefilter("error")
        assert pair_steps(truth.isel(time=0), sr, "truth").shape == (8, 8)
        assert pair_steps(truth, sr.isel(time=0), "truth").shape == (1, 8, 8)
        assert pair_steps(truth.isel(time=0), sr.isel(time=0), "truth").shape == (8, 8)


def test_evaluate_previous_day_scalar_truth_refused():
    sr, truth = _field(["2020-07-02"]), _field(["2020-07-01T10:30"], 305.0)
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        with pytest.raises(GridError):
            xlstsr.evaluate(sr, truth.isel(time=0))


def test_unsorted_truth_times_paired_or_refused_with_advice():
    sr = _field(["2020-07-01", "2020-07-02", "2020-07-03"], noise=True)
    ref = _field(["2020-07-03T10:30", "2020-07-01T10:30", "2020-07-02T10:30"], noise=True)
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        out = xlstsr.evaluate(sr, ref)
        assert out["rmse"].size == 3
        with pytest.raises(XlstsrError, match="nearest") as err:
            xlstsr.metrics.rmse(sr, ref)
        # the advice runs (review 36d: its nearest lookup raised pandas' "monotonic" error)
        fix = re.search(r"`(reference = [^`]*method='nearest'[^`]*)`", str(err.value)).group(1)
        ns = {"reference": ref, "sr": sr}
        exec(fix, ns)
        assert xlstsr.metrics.rmse(sr, ns["reference"]).size == 3


def test_a_night_and_a_day_scene_of_one_date_are_not_called_granules():
    """Two acquisitions of one day hours apart are no granules of one overpass: merging them
    (resample().first()) mixed night and day temperatures (review 36d)."""
    sr = _field(["2023-07-09"])
    ref = _field(["2023-07-09T20:10", "2023-07-09T05:41:40"])
    with pytest.raises(GridError, match="hours apart") as err:
        xlstsr.metrics.rmse(sr, ref)
    assert "granules" not in str(err.value) and "resample" not in str(err.value)
    assert "time=[1]" in str(err.value)  # the earliest, not the first in file order


def test_a_one_step_field_of_another_date_is_told_other_dates():
    """A one-step sr of 07-01 against a scalar truth of 06-30 22:00 was advised
    `sr.sel(time=[truth['time'].values])`, which raised KeyError (review 36d)."""
    sr = _field(["2020-07-01"])
    truth = _field(["2020-06-30T22:00"]).isel(time=0)
    with pytest.raises(GridError, match="other dates"):
        pair_steps(truth, sr, "truth")


def _cf(num, units):
    return xr.DataArray(np.zeros((1, 4, 4)), dims=("time", "y", "x"),
                        coords={"time": ("time", [num], {"units": units}),
                                "y": np.arange(4.0), "x": np.arange(4.0)})


def test_scalar_cf_numbers_of_another_epoch_decoded():
    sr = _cf(0, "days since 2020-07-01")
    other_date = _cf(0, "days since 2020-06-01").isel(time=0)  # 2020-06-01
    same_date = _cf(30, "days since 2020-06-01").isel(time=0)  # 2020-07-01
    with pytest.raises(GridError, match="2020-06-01"):
        pair_steps(other_date, sr, "truth")
    with pytest.raises(GridError, match="other dates"):
        pair_steps(other_date, sr.isel(time=0), "truth")
    assert pair_steps(same_date, sr, "truth").shape == (4, 4)
    assert pair_steps(same_date, sr.isel(time=0), "truth").shape == (4, 4)


def test_scalar_tz_aware_truth_named_with_working_fix():
    sr = _cf(0, "days since 2020-07-01").assign_coords(time=pd.to_datetime(["2020-07-01T10:30"]))
    truth = sr.isel(time=0).drop_vars("time").assign_coords(
        time=pd.Timestamp("2020-07-01T12:30", tz="Europe/Paris"))  # the same instant
    with pytest.raises(GridError, match="timezone-aware") as err:
        pair_steps(truth, sr, "truth")
    fix = re.search(r"`(truth = [^`]*tz_convert[^`]*)`", str(err.value)).group(1)
    ns = {"truth": truth, "pd": pd}
    exec(fix, ns)
    assert pair_steps(ns["truth"], sr, "truth").shape == (4, 4)


@pytest.mark.parametrize("n", [1, 3])
def test_scalar_truth_against_unlabelled_steps_refused(n):
    sr = _field(None).isel(time=slice(0, n))
    truth = _field(["2020-07-01", "2020-07-02", "2020-07-03"]).sel(time="2020-07-02")
    for f in (lambda: pair_steps(truth, sr, "truth"), lambda: xlstsr.metrics.rmse(sr, truth)):
        with pytest.raises(GridError, match="no labels") as err:
            f()
        assert "assign_coords(time=dates)" in str(err.value)


@pytest.mark.parametrize("sr_days", [["2023-08-06", "2023-08-07"],
                                     ["2023-08-05", "2023-08-06", "2023-08-07"]])
def test_two_granules_of_one_overpass_named_with_working_fixes(sr_days):
    sr = _field(sr_days, noise=True)
    ref = _field(["2023-08-06T20:00", "2023-08-07T01:47:10", "2023-08-07T01:48:02"], noise=True)
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        with pytest.raises(GridError, match="ambiguous") as err:
            xlstsr.evaluate(sr, ref)
        msg = str(err.value)
        assert "2023-08-07 01:47:10" in msg and "2023-08-07 01:48:02" in msg
        fixes = re.findall(r"`((?:sr|reference) = [^`]*)`", msg)
        sr_fix = [x for x in fixes if x.startswith("sr")]
        ref_fixes = [x for x in fixes if x.startswith("reference")]
        assert len(ref_fixes) == 2
        for ref_fix in ref_fixes:
            ns = {"sr": sr, "reference": ref, "pd": pd, "xr": xr}
            for line in [*sr_fix, ref_fix]:
                exec(line, ns)
            assert xlstsr.evaluate(ns["sr"], ns["reference"])["rmse"].size == 2
            assert xlstsr.metrics.rmse(ns["sr"], ns["reference"]).size == 2

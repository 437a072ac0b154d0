"""Steps of unique dates paired by date are checked for their overpass too (probe 44q/01): a
night truth step against the day sr step of its date (an ``overpass`` coordinate along time)
was paired without a word (20 K RMSE) and its score labelled 'night'."""
from __future__ import annotations

import warnings

import numpy as np
import pandas as pd
import xarray as xr

import xlstsr
from xlstsr.errors import OverpassWarning
from xlstsr.steps import pair_steps


def _da(times, values, over=None, n=8):
    noise = np.random.default_rng(0).normal(0, 1, (len(times), n, n))
    da = xr.DataArray(np.asarray(values, float)[:, None, None] + noise, dims=("time", "y", "x"),
                      coords={"time": pd.to_datetime(times),
                              "y": np.arange(n)[::-1] * 1000.0 + 500,
                              "x": np.arange(n) * 1000.0 + 500}, attrs={"units": "K"})
    if over is not None:
        da = da.assign_coords(overpass=("time", list(over)))
    return da.rio.write_crs("EPSG:32631")


DATES = ["2020-07-01", "2020-07-02"]


def _paired(truth, sr):
    with warnings.catch_warnings(record=True) as caught:
        warnings.simplefilter("always")
        out = pair_steps(truth, sr, "truth")
    return out, [w for w in caught if issubclass(w.category, OverpassWarning)]


def test_night_step_against_day_step_of_its_date_warns_and_carries_sr_labels():
    sr = _da(DATES, [305, 306], ["day", "day"])
    truth = _da(DATES[::-1], [306, 285], ["day", "night"])  # other order: 07-01 is a night step
    out, warned = _paired(truth, sr)
    assert len(warned) == 1
    msg = str(warned[0].message)
    assert "2020-07-01" in msg and "'night'" in msg and "2020-07-02" not in msg
    assert list(out.overpass.values) == ["day", "day"]
    assert np.allclose(out.mean(("y", "x")).values, [285, 306], atol=1)  # still paired by date


def test_agreeing_or_unknown_overpasses_do_not_warn():
    sr = _da(DATES, [305, 285], ["day", "night"])
    out, warned = _paired(_da(DATES, [305, 285], ["Day", "NIGHT"]), sr)
    assert not warned
    assert list(out.overpass.values) == ["day", "night"]  # the sr's spelling
    out, warned = _paired(_da(DATES, [305, 285]), sr)  # an unlabelled truth
    assert not warned and "overpass" not in out.coords
    # no labels on the sr's side: nothing to compare with
    out, warned = _paired(_da(DATES, [305, 285], ["day", "night"]), _da(DATES, [305, 285]))
    assert not warned and list(out.overpass.values) == ["day", "night"]


def test_field_wide_label_against_mixed_steps():
    sr = _da(DATES, [305, 306]).assign_attrs(day_night="day")
    out, warned = _paired(_da(DATES, [285, 306], ["night", "day"]), sr)
    assert len(warned) == 1 and "2020-07-01" in str(warned[0].message)
    assert list(out.overpass.values) == ["day", "day"]


def test_all_night_truth_against_day_series_warns_once():
    sr = _da(DATES, [305, 306], ["day", "day"])
    _, warned = _paired(_da(DATES, [285, 286], ["night", "night"]), sr)
    assert len(warned) == 1


def test_evaluate_warns_and_labels_scores_by_sr_overpass():
    sr = _da(DATES, [305, 306], ["day", "day"])
    truth = _da(DATES, [285, 306], ["night", "day"])
    with warnings.catch_warnings(record=True) as caught:
        warnings.simplefilter("always")
        scores = xlstsr.evaluate(sr, truth)
    assert any(issubclass(w.category, OverpassWarning) and "2020-07-01" in str(w.message)
               for w in caught)
    assert list(scores["overpass"].values) == ["day", "day"]


def test_stacked_time_overpass_cube_pairs_as_before():
    """A (time, overpass) stack: its overpass is a level of the labels it pairs by; reassigning
    it raised xarray's "would corrupt the following index" (evaluate of such cubes crashed)."""
    st = _da(["2020-07-01"] * 2 + ["2020-07-02"] * 2, [305, 285, 306, 286],
             ["day", "night", "day", "night"])
    st = st.assign_coords(t=("time", [0] * 4)).swap_dims(time="t").set_index(t=["time", "overpass"])
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        out = xlstsr.evaluate(st, st + 0.5)
    np.testing.assert_allclose(out["bias"].values, -0.5, atol=1e-9)


def test_the_truths_other_coordinates_are_its_own():
    """Only the field's overpass labels are carried: like[name] brought the field's other
    coordinates along, a truth's band and per-step qc overwritten by the field's."""
    sr = _da(DATES, [305, 306], ["day", "night"]).assign_coords(band=1, qc=("time", [1, 2]))
    truth = _da(DATES, [305, 286], ["day", "night"]).assign_coords(band=2, qc=("time", [5, 6]))
    out, caught = _paired(truth, sr)
    assert not caught
    assert int(out["band"]) == 2 and out["qc"].values.tolist() == [5, 6]
    assert out["overpass"].values.tolist() == ["day", "night"]


def test_an_overpass_of_other_meaning_does_not_replace_day_night_labels():
    sr = _da(DATES, [305, 306], ["terra", "aqua"])
    truth = _da(DATES, [305, 286], ["day", "night"])
    out, caught = _paired(truth, sr)
    assert not caught
    assert out["overpass"].values.tolist() == ["day", "night"]

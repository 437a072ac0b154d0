"""Day/night labels through the pairing checks and to_cogs -> open_cog (probe 43n): a truth of
one overpass labelled by an attribute against a (time, overpass) stack, a night label held by
the layer name only, and a series interleaving day and night steps along time."""
from __future__ import annotations

import random
import warnings

import numpy as np
import pytest
import xarray as xr

import xlstsr
from xlstsr.errors import GridError, OverpassWarning, XlstsrError
from xlstsr.io import open_cog, to_cogs
from xlstsr.steps import _day_night, _overpass_labels, pair_steps

T = np.array(["2020-07-01", "2020-07-02"], dtype="datetime64[ns]")


def _series(base, day_night=None, name="lst", times=T, n=16):
    rng = np.random.default_rng(0)
    attrs = {"units": "K", **({"day_night": day_night} if day_night else {})}
    da = xr.DataArray(base + rng.normal(0, 1, (len(times), n, n)).astype("float32"),
                      dims=("time", "y", "x"),
                      coords={"time": times, "y": 5500000.0 - 250 * np.arange(n) - 125,
                              "x": 1000000.0 + 250 * np.arange(n) + 125},
                      attrs=attrs, name=name)
    return da.rio.write_crs("EPSG:32631")


def _stack():
    day, night = _series(305.0, "day"), _series(285.0, "night")
    return day, night, xr.concat([day, night], dim=xr.DataArray(["day", "night"],
                                                                dims="overpass", name="overpass"))


# -- 01: a truth labelled by its day_night attribute against an overpass stack -----------------

@pytest.mark.parametrize("label", ["attr", "name"])
def test_day_truth_by_label_against_overpass_stack_is_refused(label):
    day, _, sr = _stack()
    truth = (day + 0.3).assign_attrs(units="K")
    if label == "attr":
        truth.attrs["day_night"] = "day"
    else:
        truth.attrs.pop("day_night", None)
        truth.name = "LST_Day_1km"
    with pytest.raises(GridError, match=r"sr\.sel\(overpass='day'\)"):
        xlstsr.evaluate(sr, truth, erode=0)


def test_scalar_coordinate_truth_is_refused_too():
    day, _, sr = _stack()
    truth = (day + 0.3).assign_coords(overpass="day")
    with pytest.raises(GridError):
        xlstsr.evaluate(sr, truth, erode=0)


def test_advised_selection_is_scored_without_warning():
    day, _, sr = _stack()
    truth = (day + 0.3).assign_attrs(units="K", day_night="day")
    with warnings.catch_warnings():
        warnings.simplefilter("error", OverpassWarning)
        r = xlstsr.evaluate(sr.sel(overpass="day"), truth, erode=0)
    np.testing.assert_allclose(r["bias"].values, -0.3, atol=1e-3)


def test_unlabelled_truth_against_overpass_stack_is_not_refused_here():
    day, _, sr = _stack()
    truth = (day + 0.3).assign_attrs(units="K")
    truth.attrs.pop("day_night", None)
    out = pair_steps(truth, sr, "truth")  # no overpass said: broadcast as before
    assert "overpass" not in out.dims


def test_stack_truth_against_one_overpass_sr_advises_its_step():
    day, _, cube = _stack()
    for sr in (day, cube.sel(overpass="day")):
        with pytest.raises(GridError, match=r"truth\.sel\(overpass='day'\)"):
            pair_steps(cube, sr, "truth")


# -- 02: to_cogs writes the overpass of a layer named by da.name only --------------------------

def test_to_cogs_keeps_an_overpass_named_by_the_layer_only(tmp_path):
    # upscale's long_name replaces the one the name was written into: the name alone says it
    night = xlstsr.upscale(_series(285.0, name="LST_Night_1km", n=8), 2)
    assert _day_night(night) == ("night", "layer name 'LST_Night_1km'")
    paths = to_cogs(night, tmp_path)
    assert [open_cog(p).attrs.get("day_night") for p in paths] == ["night", "night"]
    back = open_cog(sorted(paths))
    assert back.attrs.get("day_night") == "night"
    truth = (night + 20).assign_attrs(day_night="day")
    truth.name = "aster"
    with pytest.warns(OverpassWarning):
        xlstsr.evaluate(back, truth, erode=0)


# -- 03: a series interleaving day and night steps along time ----------------------------------

def _interleaved():
    times = np.array(["2020-07-01T10:30", "2020-07-01T22:30", "2020-07-02T10:30",
                      "2020-07-02T22:30"], dtype="datetime64[ns]")
    da = _series(0.0, times=times) + np.array([305, 285, 305, 285], "float32")[:, None, None]
    return da.assign_coords(overpass=("time", ["day", "night", "day", "night"])).assign_attrs(
        units="K").rio.write_crs("EPSG:32631")


def test_interleaved_series_round_trips_with_its_overpass_coordinate(tmp_path):
    sr = _interleaved()
    paths = to_cogs(sr, tmp_path)
    shuffled = [str(p) for p in paths]
    random.Random(1).shuffle(shuffled)  # os.listdir's order: back in time order
    back = open_cog(shuffled)
    assert back["overpass"].dims == ("time",)
    assert back["overpass"].values.tolist() == ["day", "night", "day", "night"]
    np.testing.assert_array_equal(back["time"].values, sr["time"].values)
    np.testing.assert_allclose(back.values, sr.values, atol=1e-4)
    assert _overpass_labels(back) == ({"day", "night"}, "overpass")
    assert _day_night(back.isel(time=1))[0] == "night"


def test_interleaved_series_given_times_keeps_its_overpass(tmp_path):
    sr = _interleaved()
    paths = to_cogs(sr, tmp_path)
    back = open_cog([str(p) for p in paths], times=list(sr["time"].values))
    assert back["overpass"].values.tolist() == ["day", "night", "day", "night"]


def test_day_and_night_series_of_the_same_dates_stay_refused(tmp_path):
    day, night = _series(305.0, "day"), _series(285.0, "night")
    paths = to_cogs(day, tmp_path / "d") + to_cogs(night, tmp_path / "n")
    with pytest.raises(XlstsrError, match=r"different layers|repeat dates"):
        open_cog([str(p) for p in paths])


def test_one_overpass_series_has_no_overpass_coordinate(tmp_path):
    night = _series(285.0, "night")
    back = open_cog(sorted(to_cogs(night, tmp_path)))
    assert "overpass" not in back.coords
    assert back.attrs["day_night"] == "night"


def test_untagged_day_and_night_files_stay_refused(tmp_path):
    day, night = _series(305.0, "day"), _series(285.0, "night")
    paths = []
    for da, label in ((day, "Day"), (night, "Night")):
        p = tmp_path / f"{label}.tif"
        da.isel(time=0, drop=True).assign_attrs(long_name=f"LST_{label}_1km").rio.to_raster(p)
        paths.append(str(p))
    with pytest.raises(XlstsrError, match="different layers"):
        open_cog(paths)


def test_nominal_dates_of_a_day_and_a_night_series_stay_refused(tmp_path):
    # distinct dates, but 00:00: no time of day tells the overpasses apart
    day = _series(305.0, "day").isel(time=[0])
    night = _series(285.0, "night").isel(time=[1])
    paths = to_cogs(day, tmp_path / "d") + to_cogs(night, tmp_path / "n")
    with pytest.raises(XlstsrError, match="different layers"):
        open_cog([str(p) for p in paths])

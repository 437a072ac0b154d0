"""Review 49c/1-3: --scale-correction refuses non-finite gains in its parser; steps whose labels
repeat are named uniquely (by one other coordinate along the dim, else by position)."""
from __future__ import annotations

import warnings

import numpy as np
import pytest
import xarray as xr

import xlstsr
from xlstsr.cli import main
from xlstsr.kernels.correction import check_mode
from xlstsr.scaling import _step_names

DAY = np.datetime64("2020-07-05")


def _field(n: int = 6, seed: int = 0) -> xr.DataArray:
    rng = np.random.default_rng(seed)
    return xr.DataArray(290 + 5 * rng.standard_normal((n, 32, 32)).astype("f4"),
                        dims=("time", "y", "x"), attrs={"units": "K"})


def _constant_step_warnings(field: xr.DataArray) -> list[str]:
    with warnings.catch_warnings(record=True) as caught:
        warnings.simplefilter("always")
        xlstsr.scaling_stats(field)
    return [str(w.message) for w in caught if "constant over their valid pixels" in str(w.message)]


# -- 1: non-finite gains refused by the CLI's parser, with the option's name -----------------------

@pytest.mark.parametrize("gain", ["inf", "nan", "-inf"])
def test_cli_refuses_a_non_finite_gain_as_the_option(tmp_path, capsys, scene, gain):
    src = tmp_path / "lst.tif"
    scene["lst_1km"].isel(time=0).rio.to_raster(src)
    with pytest.raises(SystemExit) as err:
        main(["upscale", str(src), str(tmp_path / "x.nc"), f"--scale-correction={gain}"])
    text = capsys.readouterr().err
    assert err.value.code == 2  # argparse's usage error, before any file is read
    assert "argument --scale-correction: a detail gain must be a finite number >= 0" in text
    assert f"got {gain}" in text and "scale_correction" not in text  # not the Python argument


def test_cli_finite_gain_as_advised_runs(tmp_path, scene):
    src, gsrc = tmp_path / "lst.tif", tmp_path / "ndvi.tif"
    scene["lst_1km"].isel(time=0).rio.to_raster(src)
    scene["ndvi_250m"].rio.to_raster(gsrc)
    # the message's advice followed: a finite number >= 0 parses and runs
    assert main(["upscale", str(src), str(tmp_path / "g.tif"), "--method", "tsharp",
                 "--guide", str(gsrc), "--scale-correction", "0.5"]) == 0


def test_python_nan_gain_is_told_finite():
    with pytest.raises(xlstsr.errors.XlstsrError, match=r"finite number >= 0.*got nan"):
        check_mode(float("nan"))


# -- 2: repeated labels and no other coordinate: the position added --------------------------------

def test_repeated_labels_without_other_coordinate_are_named_by_position():
    # a day and a night series joined along time: each date twice, nothing else along time
    field = _field().assign_coords(time=np.repeat(DAY + np.arange(3), 2))
    field[3] = 290.0  # the night of 2020-07-06
    names = _step_names(field, ["time"])
    assert len(set(names)) == len(names) == 6
    assert names[3] == "(time=2020-07-06, isel(time=3))"
    (msg,) = _constant_step_warnings(field)
    assert "steps (time=2020-07-06, isel(time=3)) of the field" in msg
    # the name followed as written picks the constant step, not its day twin
    assert float(field.isel(time=3).std()) == 0 and float(field.isel(time=2).std()) > 0


def test_repeated_labels_a_coordinate_that_does_not_tell_them_apart():
    field = _field(4).assign_coords(time=[DAY, DAY, DAY + 1, DAY + 2],
                                    platform=("time", ["terra"] * 4))
    names = _step_names(field, ["time"])
    # only the repeated ones get a position; a unique label keeps its plain form
    assert names == ["(time=2020-07-05, isel(time=0))", "(time=2020-07-05, isel(time=1))",
                     "time=2020-07-06", "time=2020-07-07"]


def test_unique_labels_keep_their_plain_names():
    field = _field(3).assign_coords(time=DAY + np.arange(3), platform=("time", ["terra"] * 3))
    field[1] = 300.0
    assert _step_names(field, ["time"]) == ["time=2020-07-05", "time=2020-07-06",
                                            "time=2020-07-07"]
    (msg,) = _constant_step_warnings(field)
    assert "steps time=2020-07-06 of the field" in msg


def test_labels_that_repeat_only_as_text_are_told_apart():
    # two acquisitions 0.4 s apart print as one second: the names still differ
    t = np.array(["2020-07-05T10:30:00.0", "2020-07-05T10:30:00.4"], "datetime64[ms]")
    names = _step_names(_field(2).assign_coords(time=t), ["time"])
    assert len(set(names)) == 2 and names[1].endswith("isel(time=1))")


# -- 3: one coordinate added, the one that tells the steps apart -----------------------------------

def _stack(n: int) -> xr.DataArray:
    """A stackstac-style stack: each datetime twice (day and night items), six coordinates."""
    t = np.repeat(DAY + np.arange(n // 2), 2)
    return _field(n).assign_coords(
        time=t, id=("time", [f"MOD11A1.A{i:07d}.h18v04.061" for i in range(n)]),
        platform=("time", ["terra"] * n), epsg=("time", [6842] * n),
        cloud=("time", np.linspace(0, 1, n).round(3)),
        start=("time", t + np.timedelta64(37, "m")), overpass=("time", ["day", "night"] * (n // 2)))


def test_repeated_labels_take_one_coordinate_overpass_first():
    names = _step_names(_stack(6), ["time"])
    assert names[3] == "(time=2020-07-06, overpass=night)"  # overpass, though listed last
    assert len(set(names)) == 6 and max(map(len, names)) < 40  # was 130 characters


def test_repeated_labels_take_the_first_coordinate_that_tells_them_apart():
    stack = _stack(6).drop_vars("overpass")
    # platform and epsg do not tell the steps apart: skipped; id does
    assert _step_names(stack, ["time"])[1] == "(time=2020-07-05, id=MOD11A1.A0000001.h18v04.061)"


def test_two_lead_dims_with_repeated_labels_stay_unique():
    field = xr.concat([_field(4), _field(4, 1)], "band").assign_coords(
        band=[1, 2], time=[DAY, DAY, DAY + 1, DAY + 1]).transpose("band", "time", "y", "x")
    names = _step_names(field, ["band", "time"])
    assert len(set(names)) == 8
    assert names[5] == "(band=2, time=2020-07-05, isel(time=1))"

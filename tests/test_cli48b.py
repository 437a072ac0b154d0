"""CLI fixes of review 48d (of 258d0a6): a typed scale that makes stored values look like
degrees Celsius offers both readings (SEVIRI's degC x 10 with the right --scale 0.1 was told
"drop --scale"); evaluate's --reference-nodata taken as the file holds it (its own advice,
the decoded value, looped; a 300 K block was scored as stored 300); a typed
--reference-offset named; the gap-fill one-liner beside a read-only input; a granule folder's
layer flag by its role; scaling's step lists capped and built only when a warning names them."""

import os
import re
import shlex
import subprocess
import sys

import numpy as np
import pytest
import rioxarray
import xarray as xr

import xlstsr
import xlstsr.cli
import xlstsr.scaling
from xlstsr.cli import main


@pytest.fixture(autouse=True)
def _logs(caplog):
    caplog.set_level("INFO", logger="xlstsr")


def _err(capsys: pytest.CaptureFixture[str], caplog: pytest.LogCaptureFixture | None = None
         ) -> str:
    """stderr, with the log's lines (pytest takes those)."""
    return capsys.readouterr().err + (caplog.text if caplog is not None else "")


def _flags(err: str, pattern: str) -> list[str]:
    """The flags of an advice quoted as ``pattern`` (a regex with one group)."""
    return re.search(pattern, err)[1].split()


# -- 1. a typed scale that makes the stored values look like degrees Celsius ---------------------

def test_degc_x10_with_its_scale_is_offered_units_degc_first(s, tmp_path, capsys):
    # SEVIRI-like: degrees Celsius x 10 in int16, no units: 270 stored (27 degC) reads as
    # Kelvin too; "drop --scale", followed, ran on a field ~50 K cold (exit 0)
    lst = s["lst_1km"].isel(time=0, drop=True)
    stored = np.round((lst - 273.15) * 10).fillna(-800).astype("int16")  # SEVIRI's fill
    stored.attrs = {}
    stored.rio.to_raster(tmp_path / "c10.tif")
    args = ["upscale", str(tmp_path / "c10.tif"), str(tmp_path / "o.tif"), "--method",
            "bicubic", "--quiet", "--nodata", "-800", "--scale", "0.1"]
    assert main(args) == 2
    err = _err(capsys)
    assert "--units degC" in err
    # read as Kelvin (the typed scale dropped) the stored values span 189-395 "K" (1st-99th
    # percentiles): no land surface's, so that reading is not offered (session 49)
    assert "drop --scale" not in err
    assert main([*args, "--units", "degC"]) == 0  # followed
    out = rioxarray.open_rasterio(tmp_path / "o.tif", masked=True)
    assert abs(float(np.nanmedian(out.values)) - float(np.nanmedian(lst.values))) < 1.0


def test_kelvin_with_a_typed_scale_is_offered_drop_and_that_works(s, sr, tmp_path, capsys):
    # the probe's case: a Kelvin truth without units, --reference-scale 0.1: both readings
    # offered, and the "drop" one, followed, scores
    truth = s["lst_250m"].isel(time=0, drop=True).copy()
    truth.attrs = {}
    truth.rio.to_raster(tmp_path / "t.tif")
    sr.isel(time=0, drop=True).rio.to_raster(tmp_path / "sr.tif")
    args = ["evaluate", str(tmp_path / "sr.tif"), str(tmp_path / "t.tif"),
            str(tmp_path / "e.csv")]
    assert main([*args, "--reference-scale", "0.1"]) == 2
    err = _err(capsys)
    assert "drop --reference-scale" in err and "--reference-units degC" in err
    assert main(args) == 0  # followed: dropped


# -- 2. --reference-nodata as the packed file holds it --------------------------------------------

def _packed(s, tmp_path, name, fill_k, dtype, scale, block=None):
    ref = s["lst_250m"].copy()
    ref = ref.fillna(float(ref.median()))  # (its gaps: no undeclared 0 in the file)
    ref[0, :6, :] = fill_k
    if block is not None:
        ref[0, 6:10, :] = block
    ref.to_dataset(name="lst").to_netcdf(tmp_path / name, encoding={"lst": {
        "dtype": dtype, "scale_factor": scale, "_FillValue": None}})
    return str(tmp_path / name)


def test_reference_nodata_advice_of_a_packed_file_works_when_followed(s, sr, tmp_path, capsys):
    # 65500 stored x 0.02, undeclared: evaluate advised the decoded value (1310), which was
    # then read as stored (26.2 K) and refused again, with the same advice
    ref = _packed(s, tmp_path, "u16.nc", 65500 * 0.02, "uint16", 0.02)
    sr.to_dataset(name="lst").to_netcdf(tmp_path / "sr.nc")
    args = ["evaluate", str(tmp_path / "sr.nc"), ref]
    assert main([*args, str(tmp_path / "a.csv")]) == 2
    err = _err(capsys)
    advice = re.findall(r"--reference-nodata(?: (-?[\d.]+))?", err)
    assert advice and all(advice), err  # never the bare flag
    assert main([*args, str(tmp_path / "b.csv"), "--reference-nodata", advice[-1]]) == 0
    # the same as the stored value (upscale's --nodata)
    assert main([*args, str(tmp_path / "c.csv"), "--reference-nodata", "65500"]) == 0
    assert (tmp_path / "b.csv").read_text() == (tmp_path / "c.csv").read_text()


def test_reference_nodata_300_on_int16_x01_masks_the_300_k_block(s, sr, tmp_path, capsys,
                                                                 caplog):
    # a 300 K block (3000 stored): --reference-nodata 300 masked stored 300 (30 K, absent)
    # and scored the block, exit 0
    ref = _packed(s, tmp_path, "i16.nc", 300.0, "int16", 0.1)
    sr.to_dataset(name="lst").to_netcdf(tmp_path / "sr.nc")
    args = ["evaluate", str(tmp_path / "sr.nc"), ref]
    assert main([*args, str(tmp_path / "a.csv"), "--reference-nodata", "300"]) == 0
    assert "masked (the value as read)" in _err(capsys, caplog)
    assert main([*args, str(tmp_path / "b.csv"), "--reference-nodata", "3000"]) == 0
    assert (tmp_path / "a.csv").read_text() == (tmp_path / "b.csv").read_text()


def test_reference_nodata_both_stored_and_decoded_masks_stored(s, sr, tmp_path, capsys, caplog):
    # int16 x 0.1 holding stored 300 (30 K) and a 300 K block: the stored reading, as --help
    # says (both were masked: real pixels at exactly 300.0 K lost, review 48g/1)
    ref = _packed(s, tmp_path, "i16b.nc", 30.0, "int16", 0.1, block=300.0)
    sr.to_dataset(name="lst").to_netcdf(tmp_path / "sr.nc")
    args = ["evaluate", str(tmp_path / "sr.nc"), ref]
    assert main([*args, str(tmp_path / "a.csv"), "--reference-nodata", "300"]) == 0
    assert "those are masked" not in _err(capsys, caplog)
    # the same scores as the stored 300 masked by hand
    r = xr.open_dataset(ref)["lst"].load()
    r = r.where(~np.isclose(r, 30.0))
    r.attrs["units"] = "K"
    want = xlstsr.evaluate(sr, r)
    got = np.genfromtxt(tmp_path / "a.csv", delimiter=",", names=True)
    assert np.allclose(got["rmse"], np.ravel(want["rmse"].values), rtol=1e-5)


# -- 3. a typed --reference-offset on a Kelvin reference ------------------------------------------

def test_reference_offset_on_kelvin_says_drop_reference_offset(s, sr, tmp_path, capsys):
    s["lst_250m"].isel(time=0, drop=True).rio.to_raster(tmp_path / "k.tif")
    sr.isel(time=0, drop=True).rio.to_raster(tmp_path / "sr.tif")
    args = ["evaluate", str(tmp_path / "sr.tif"), str(tmp_path / "k.tif"),
            str(tmp_path / "e.csv")]
    assert main([*args, "--reference-offset", "273.15"]) == 2
    err = _err(capsys)
    assert "drop --reference-offset" in err and "--reference-scale" not in err
    assert main(args) == 0  # followed


# -- 4. the gap-fill one-liner beside a read-only input -------------------------------------------

def test_gap_fill_command_of_a_read_only_folder_writes_in_the_current_one(s, tmp_path, capsys,
                                                                         monkeypatch):
    lst = s["lst_250m"].isel(time=0, drop=True)
    rng = np.random.default_rng(0)
    shared = tmp_path / "shared"
    shared.mkdir()
    lst.where(rng.random(lst.shape) >= 0.10).rio.to_raster(shared / "speck.tif")
    real = os.access
    # a read-only shared folder (the tests run as root, whom chmod does not stop)
    monkeypatch.setattr(os, "access", lambda p, mode, *a, **k: (
        False if mode == os.W_OK and os.path.samefile(p, shared) else real(p, mode, *a, **k)))
    wd = tmp_path / "wd"
    wd.mkdir()
    monkeypatch.chdir(wd)
    assert main(["scaling", str(shared / "speck.tif"), str(tmp_path / "a.csv")]) == 0
    err = _err(capsys)
    code = shlex.split(re.search(r"`python -c ('[^`]*')`", err)[1])[0]
    assert str(shared) not in code.split("out = pathlib.Path(")[1].split(")")[0]
    subprocess.run([sys.executable, "-c", code], cwd=wd, check=True)
    assert (wd / "speck_filled.tif").is_file()
    assert sorted(p.name for p in shared.iterdir()) == ["speck.tif"]


# -- 5. a folder of HDF granules as evaluate's reference or --coarse ------------------------------

@pytest.mark.parametrize("role", ["reference", "coarse"])
def test_granule_folder_names_its_roles_variable_flag(real_granule, s, sr, tmp_path, capsys,
                                                     role):
    folder = tmp_path / "granules"
    folder.mkdir()
    (folder / real_granule.name).symlink_to(real_granule)
    sr.isel(time=0, drop=True).rio.to_raster(tmp_path / "sr.tif")
    args = ["evaluate", str(tmp_path / "sr.tif")]
    if role == "reference":
        args += [str(folder), str(tmp_path / "e.csv")]
    else:
        s["lst_250m"].isel(time=0, drop=True).rio.to_raster(tmp_path / "t.tif")
        args += [str(tmp_path / "t.tif"), str(tmp_path / "e.csv"), "--coarse", str(folder)]
    assert main(args) == 2
    err = _err(capsys)
    assert f"with `--{role}-variable LST_" in err, err
    assert "with `--variable" not in err


# -- 6. scaling's step lists: capped, and their names built only when a warning names steps -------

def test_constant_steps_warning_lists_a_few_steps_and_the_count(s):
    lst = s["lst_1km"].isel(time=[0] * 24)
    lst = lst.assign_coords(time=np.datetime64("2018-08-19") + np.arange(24)
                            * np.timedelta64(30, "m")).copy()
    lst[::2] = 300.0  # 12 of 24 steps constant
    with pytest.warns(UserWarning, match=r"\(12 in all\) of the field are constant") as rec:
        xlstsr.scaling_stats(lst)
    line = next(str(w.message) for w in rec if "constant" in str(w.message))
    assert len(line) < 400
    # the midnight step in full, as its neighbours
    assert "time=2018-08-19T00:00:00" in line


def test_step_names_not_built_without_a_warning(s, monkeypatch):
    calls = []
    real = xlstsr.scaling._step_names
    monkeypatch.setattr(xlstsr.scaling, "_step_names",
                        lambda *a, **k: calls.append(1) or real(*a, **k))
    xlstsr.scaling_stats(s["lst_1km"])
    assert calls == []


def test_reference_nodata_advice_names_the_stored_value(s, sr, tmp_path, capsys):
    # -10000 stored x 0.1 (-1000 K): the advice gave the decoded -1000, and where that was
    # typed, the bare flag `--reference-nodata`
    ref = _packed(s, tmp_path, "i16c.nc", -1000.0, "int16", 0.1)
    sr.to_dataset(name="lst").to_netcdf(tmp_path / "sr.nc")
    args = ["evaluate", str(tmp_path / "sr.nc"), ref]
    assert main([*args, str(tmp_path / "a.csv")]) == 2
    err = _err(capsys)
    assert "`--reference-nodata -10000`" in err and "`--reference-nodata`" not in err
    assert main([*args, str(tmp_path / "b.csv"), "--reference-nodata", "-10000"]) == 0

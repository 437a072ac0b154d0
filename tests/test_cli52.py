"""Probe 52 (R1 7, 8, 6; S 5): a one-band reference GeoTIFF described by its date was read
undated by ``xlstsr evaluate`` and scored against every step of a dated sr (a row of another
date, exit 0); a reference its reader had decoded, given ``reference_scale``, was told to set
``attrs['scale_factor'] = 1``, which looped; ``xlstsr scaling --fit-lags/--fit-factors`` of
fewer than 2 points was told Python's "pass None"."""

import numpy as np
import pandas as pd
import pytest
import rasterio
from helpers import run_cli

X0, Y0, RES = 1e6, 5.5e6, 1000.0


def _kelvin(seed: int, n: int = 32) -> np.ndarray:
    """A smooth ~300 K scene with detail, float32."""
    rng = np.random.default_rng(seed)
    yy, xx = np.meshgrid(np.arange(n), np.arange(n), indexing="ij")
    return (300 + 2 * np.sin(yy / 5.0) + 2 * np.cos(xx / 4.0)
            + rng.normal(0, 0.5, (n, n))).astype("float32")


def _tif(path, bands: list[np.ndarray], descriptions: list[str] | None = None,
         tags: dict | None = None) -> None:
    n = bands[0].shape[-1]
    with rasterio.open(path, "w", driver="GTiff", height=n, width=n, count=len(bands),
                       dtype="float32", crs="EPSG:32633", nodata=np.nan,
                       transform=rasterio.transform.from_origin(X0, Y0, RES, RES)) as f:
        for i, b in enumerate(bands):
            f.write(b, i + 1)
            if descriptions:
                f.set_band_description(i + 1, descriptions[i])
        if tags:
            f.update_tags(**tags)


@pytest.fixture
def dated(tmp_path):
    """sr of 2 dated steps (band descriptions), the reference of the first date alone (one
    band described by its date) near sr's first step, far (5 K) from its second."""
    a, b = _kelvin(0), _kelvin(1) + 5
    _tif(tmp_path / "sr.tif", [a, b], ["2020-07-27", "2020-07-28"],
         tags={"units": "K"})
    _tif(tmp_path / "ref.tif", [a + 0.3], ["2020-07-27"])
    return tmp_path


# -- 1. a one-band reference dated by its band description ------------------------------------

def test_a_one_band_reference_described_by_its_date_is_scored_against_that_step_alone(
        dated, capsys):
    out = dated / "scores.csv"
    code, err = run_cli(capsys, "evaluate", dated / "sr.tif", dated / "ref.tif", out)
    assert code == 0, err
    table = pd.read_csv(out)
    # one row, of the reference's date (the 07-28 step scored against it gave 5.3 K)
    assert list(table["time"]) == ["2020-07-27"]
    assert table["bias"].iloc[0] == pytest.approx(-0.3, abs=1e-4)


def test_a_time_tagged_one_step_reference_is_scored_against_its_step(dated, capsys):
    # the CLI's own one-step .tif form (a 'time' tag): it was refused with Python-only advice
    # (`sr.sel(time=[...])`), which no flag of `xlstsr evaluate` follows
    _tif(dated / "tagged.tif", [_kelvin(1) + 5.1], tags={"time": "2020-07-28T00:00:00"})
    out = dated / "scores.csv"
    code, err = run_cli(capsys, "evaluate", dated / "sr.tif", dated / "tagged.tif", out)
    assert code == 0, err
    table = pd.read_csv(out)
    assert list(table["time"]) == ["2020-07-28"]
    assert table["bias"].iloc[0] == pytest.approx(-0.1, abs=1e-4)


def test_a_one_band_reference_of_another_date_is_refused(dated, capsys):
    _tif(dated / "other.tif", [_kelvin(0)], ["2020-08-01"])
    code, err = run_cli(capsys, "evaluate", dated / "sr.tif", dated / "other.tif",
                        dated / "scores.csv")
    assert code == 2
    assert "2020-08-01" in err and "drop_vars" not in err, err
    assert not (dated / "scores.csv").exists()
    # its advice for a reference meant for every step, followed: an undated copy
    import re
    import shlex
    import subprocess
    import sys

    m = re.search(r"`(python -c [^`]*)`, and pass that copy", err)
    assert m, err
    subprocess.run([sys.executable, *shlex.split(m[1])[1:]], check=True)
    code, err = run_cli(capsys, "evaluate", dated / "sr.tif", dated / "other_undated.tif",
                        dated / "scores.csv")
    assert code == 0, err
    assert len(pd.read_csv(dated / "scores.csv")) == 2


def test_a_one_band_reference_described_otherwise_still_serves_every_step(dated, capsys):
    # a description that is no date (its variable's name) keeps the field undated
    _tif(dated / "named.tif", [_kelvin(0)], ["LST"])
    out = dated / "scores.csv"
    code, err = run_cli(capsys, "evaluate", dated / "sr.tif", dated / "named.tif", out)
    assert code == 0, err
    assert len(pd.read_csv(out)) == 2


def test_the_aggregate_advice_for_a_one_band_dated_reference_keeps_its_date(dated, capsys,
                                                                            monkeypatch):
    import re
    import shlex
    import subprocess
    import sys
    from pathlib import Path

    # a 4x finer reference of the first date: advised `rio warp`, which drops the band's
    # description; followed, the aggregate was undated again and scored against both steps
    fine = np.kron(_kelvin(0), np.ones((4, 4), "float32"))
    with rasterio.open(dated / "fine.tif", "w", driver="GTiff", height=128, width=128, count=1,
                       dtype="float32", crs="EPSG:32633", nodata=np.nan,
                       transform=rasterio.transform.from_origin(X0, Y0, RES / 4, RES / 4)) as f:
        f.write(fine, 1)
        f.set_band_description(1, "2020-07-27")
    monkeypatch.chdir(dated)
    code, err = run_cli(capsys, "evaluate", "sr.tif", "fine.tif", "first.csv")
    assert code == 0, err
    assert list(pd.read_csv("first.csv")["time"]) == ["2020-07-27"]
    warp = re.search(r"`(rio warp [^`]*)`", err)
    back = re.search(r"`(python -c [^`]*)`", err)
    assert warp and back, err
    bin_ = Path(sys.executable).parent
    subprocess.run([str(bin_ / "rio"), *shlex.split(warp[1])[1:]], check=True)
    subprocess.run([sys.executable, *shlex.split(back[1])[1:]], check=True)
    code, err = run_cli(capsys, "evaluate", "sr.tif", "fine_on_sr.tif", "agg.csv")
    assert code == 0, err
    table = pd.read_csv("agg.csv")
    assert list(table["time"]) == ["2020-07-27"]
    assert table["rmse"].iloc[0] < 1e-3


# -- 2. a reference its reader decoded, given reference_scale ---------------------------------

def test_reference_scale_on_a_reader_decoded_reference_is_told_to_drop_it(tmp_path):
    import re

    import rioxarray

    import xlstsr
    from xlstsr.errors import UnitsError

    truth = _kelvin(2)
    dn = np.round(truth * 10).astype("uint16")
    dn[:4] = 0  # an undeclared fill
    with rasterio.open(tmp_path / "ref.tif", "w", driver="GTiff", height=32, width=32,
                       count=1, dtype="uint16", crs="EPSG:32633",
                       transform=rasterio.transform.from_origin(X0, Y0, RES, RES)) as f:
        f.write(dn, 1)
        f.scales = (0.1,)  # ASTER's K x 10, declared by the file
    _tif(tmp_path / "sr.tif", [truth])
    sr = rioxarray.open_rasterio(tmp_path / "sr.tif", masked=True).squeeze("band", drop=True)
    sr.attrs["units"] = "K"
    ref = rioxarray.open_rasterio(tmp_path / "ref.tif", mask_and_scale=True).squeeze(
        "band", drop=True)
    with pytest.raises(UnitsError) as info:  # was "set attrs['scale_factor'] = 1" (a loop)
        xlstsr.evaluate(sr, ref, reference_scale=0.1, reference_nodata=0)
    text = str(info.value)
    assert re.search(r"decoded already.*drop `reference_scale`", text), text
    assert "scale_factor'] = 1" not in text
    # followed: the same call without reference_scale
    scores = xlstsr.evaluate(sr, ref, reference_nodata=0)
    assert float(scores["rmse"]) < 0.05
    assert int(scores["n_valid"]) == 28 * 32


def test_reference_scale_on_undecoded_digital_numbers_still_applies(tmp_path):
    import rioxarray

    import xlstsr

    truth = _kelvin(2)
    dn = np.round(truth * 10).astype("uint16")
    with rasterio.open(tmp_path / "ref.tif", "w", driver="GTiff", height=32, width=32,
                       count=1, dtype="uint16", crs="EPSG:32633",
                       transform=rasterio.transform.from_origin(X0, Y0, RES, RES)) as f:
        f.write(dn, 1)  # untagged: the reader's scale is 1
    _tif(tmp_path / "sr.tif", [truth])
    sr = rioxarray.open_rasterio(tmp_path / "sr.tif", masked=True).squeeze("band", drop=True)
    sr.attrs["units"] = "K"
    ref = rioxarray.open_rasterio(tmp_path / "ref.tif", mask_and_scale=True).squeeze(
        "band", drop=True)
    scores = xlstsr.evaluate(sr, ref, reference_scale=0.1)
    assert float(scores["rmse"]) < 0.05


# -- 3. xlstsr scaling: a fit window of fewer than 2 points, in the flags' words ---------------

@pytest.fixture
def rough(tmp_path):
    import rioxarray  # noqa: F401
    import xarray as xr

    rng = np.random.default_rng(0)
    n = 128
    f = np.cumsum(np.cumsum(rng.normal(0, 0.3, (n, n)), 0), 1)
    f = 300 + (f - f.mean()) / f.std() * 3
    da = xr.DataArray(f.astype("float32"), dims=("y", "x"), name="LST", attrs={"units": "K"},
                      coords={"y": Y0 - 100 * (np.arange(n) + 0.5),
                              "x": X0 + 100 * (np.arange(n) + 0.5)})
    da.rio.write_crs("EPSG:32633", inplace=True)
    da.to_dataset().to_netcdf(tmp_path / "lst.nc")
    return tmp_path


@pytest.mark.parametrize("flag, window", [("--fit-lags", "5,6"), ("--fit-factors", "20,30"),
                                          ("--fit-factors", "1,1.5")])
def test_a_fit_window_of_too_few_points_is_told_in_flags_and_the_advice_runs(rough, capsys,
                                                                          flag, window):
    import re
    import shlex

    out = rough / "stats.csv"
    code, err = run_cli(capsys, "scaling", rough / "lst.nc", out, flag, window)
    assert code == 2
    assert "pass None" not in err and "fit_" not in err, err
    assert f"or drop {flag}" in err
    m = re.search(rf"`({flag} [^`]*)`", err)
    assert m, err
    # followed: the advised window, then the flag dropped
    code, err = run_cli(capsys, "scaling", rough / "lst.nc", out, *shlex.split(m[1]))
    assert code == 0, err
    code, err = run_cli(capsys, "scaling", rough / "lst.nc", out, "--overwrite")
    assert code == 0, err


# -- 4. the aggregate-first rio warp of a several-band integer reference keeps each fill -------

def test_the_advised_warp_keeps_a_fill_of_one_step_only(dated, capsys, monkeypatch):
    import re
    import shlex
    import subprocess
    import sys
    from pathlib import Path

    # K x 10 uint16 at 4x finer, fill 0 (typed); step 2 has a gap step 1 has not: GDAL's
    # unified nodata averaged step 2 there as valid and wrote 1 (0.1 K) for its 0
    a, b = (np.kron(_kelvin(s), np.ones((4, 4), "float32")) for s in (0, 1))
    b = b + 5
    dn = [np.round(v * 10).astype("uint16") for v in (a, b)]
    dn[0][:8] = 0
    dn[1][:8] = 0
    dn[1][40:80, 40:80] = 0
    with rasterio.open(dated / "fine.tif", "w", driver="GTiff", height=128, width=128, count=2,
                       dtype="uint16", crs="EPSG:32633",
                       transform=rasterio.transform.from_origin(X0, Y0, RES / 4, RES / 4)) as f:
        for i, band in enumerate(dn):
            f.write(band, i + 1)
            f.set_band_description(i + 1, ("2020-07-27", "2020-07-28")[i])
    monkeypatch.chdir(dated)
    flags = ["--reference-scale", "0.1", "--reference-nodata", "0"]
    code, err = run_cli(capsys, "evaluate", "sr.tif", "fine.tif", "first.csv", *flags)
    assert code == 0, err
    warp = re.search(r"`(rio warp [^`]*)`", err)
    back = re.search(r"`(python -c [^`]*)`", err)
    assert warp and back, err
    bin_ = Path(sys.executable).parent
    subprocess.run([str(bin_ / "rio"), *shlex.split(warp[1])[1:]], check=True)
    subprocess.run([sys.executable, *shlex.split(back[1])[1:]], check=True)
    with rasterio.open("fine_on_sr.tif") as f:
        second = f.read(2)
    assert int((second == 1).sum()) == 0  # was 100: the nudged fill
    assert int((second == 0).sum()) == 2 * 32 + 10 * 10
    code, err = run_cli(capsys, "evaluate", "sr.tif", "fine_on_sr.tif", "agg.csv", *flags)
    assert code == 0, err
    assert "Declare the fill" not in err
    table = pd.read_csv("agg.csv")
    assert list(table["time"]) == ["2020-07-27", "2020-07-28"]
    assert (table["rmse"] < 0.05).all()


def test_reference_scale_on_a_packed_netcdf_reference_is_told_to_drop_the_flag(tmp_path,
                                                                             capsys):
    import rioxarray  # noqa: F401
    import xarray as xr

    truth = _kelvin(0)
    da = xr.DataArray(truth.astype("float64"), dims=("y", "x"), name="LST",
                      coords={"y": Y0 - RES * (np.arange(32) + 0.5),
                              "x": X0 + RES * (np.arange(32) + 0.5)})
    da.rio.write_crs("EPSG:32633", inplace=True)
    da.to_dataset().to_netcdf(tmp_path / "packed.nc", encoding={
        "LST": {"dtype": "int16", "scale_factor": 0.1, "_FillValue": -1}})
    _tif(tmp_path / "sr.tif", [truth], tags={"units": "K"})
    out = tmp_path / "scores.csv"
    code, err = run_cli(capsys, "evaluate", tmp_path / "sr.tif", tmp_path / "packed.nc", out,
                        "--reference-scale", "0.1")
    assert code == 2
    # was: "look like degrees Celsius ... set attrs['scale_factor'] = 1", and a rewrite of the
    # file's right tag
    assert "decoded already" in err and "drop --reference-scale" in err, err
    assert "`reference_" not in err and "retagged" not in err
    code, err = run_cli(capsys, "evaluate", tmp_path / "sr.tif", tmp_path / "packed.nc", out)
    assert code == 0, err
    assert float(pd.read_csv(out)["rmse"].iloc[0]) < 0.05


# -- review 52c: the step of a dated reference, the undated copy, the decoded-fill advice ------

def _follow_copy(err: str, folder) -> None:
    """Run the refusal's undated-copy command (in ``folder``, as the user would)."""
    import re
    import shlex
    import subprocess
    import sys

    m = re.search(r"`(python -c [^`]*)`, and pass that copy", err)
    assert m, err
    subprocess.run([sys.executable, *shlex.split(m[1])[1:]], check=True, cwd=folder)


def test_a_date_only_reference_against_a_six_hourly_series_picks_no_step(tmp_path, capsys):
    # its 00:00 label equals the series' midnight step: that step alone was scored (14 K off,
    # exit 0); the library calls the day's 4 steps ambiguous
    steps = [_kelvin(s) + d for s, d in ((0, -8), (1, -2), (2, 6), (3, 1))]
    _tif(tmp_path / "sr.tif", steps, [f"2020-07-27T{h:02d}:00:00" for h in (0, 6, 12, 18)],
         tags={"units": "K"})
    _tif(tmp_path / "desc.tif", [steps[2] + 0.2], ["2020-07-27"])
    _tif(tmp_path / "tag.tif", [steps[2] + 0.2], tags={"time": "2020-07-27"})
    for ref in ("desc.tif", "tag.tif"):
        out = tmp_path / f"{ref}.csv"
        code, err = run_cli(capsys, "evaluate", tmp_path / "sr.tif", tmp_path / ref, out)
        assert code == 2, err
        assert "4 'time' step(s)" in err, err
        assert not out.exists()


@pytest.mark.parametrize("sr_desc, ref_desc", [
    (["2020-07-27", "2020-07-28"], "2020-07-27T20:15:00Z"),  # an ECOSTRESS overpass time
    (["2020-07-27", "2020-07-28"], "ECOSTRESS_L2_LSTE_12345_001_20200727T201500_0601_01_LST"),
    (["2020-07-27T10:30:00", "2020-07-28T10:30:00"], "2020-07-27T10:45:00"),  # other minute
])
def test_a_reference_at_a_time_of_day_is_scored_against_its_overpass_step(
        tmp_path, capsys, sr_desc, ref_desc):
    # no step was selected: refused with Python's `sr.isel`, and the advised undated copy,
    # followed, scored the 07-28 step against it too (4.75 K, exit 0)
    a, b = _kelvin(0), _kelvin(1) + 5
    _tif(tmp_path / "sr.tif", [a, b], sr_desc, tags={"units": "K"})
    _tif(tmp_path / "ref.tif", [a + 0.3], [ref_desc])
    out = tmp_path / "scores.csv"
    code, err = run_cli(capsys, "evaluate", tmp_path / "sr.tif", tmp_path / "ref.tif", out)
    assert code == 0, err
    table = pd.read_csv(out)
    assert len(table) == 1 and str(table["time"].iloc[0]).startswith("2020-07-27")
    assert table["bias"].iloc[0] == pytest.approx(-0.3, abs=1e-4)


def test_the_undated_copy_of_a_cog_reference_is_written_undated(dated, capsys, monkeypatch):
    # GDAL refused to update a COG opened "r+" (no IGNORE_COG_LAYOUT_BREAK) and left the
    # dated copy under the advised name: passed, it was refused again (..._undated_undated)
    from rasterio.shutil import copy

    _tif(dated / "plain.tif", [_kelvin(0)], ["2020-08-01"])
    copy(str(dated / "plain.tif"), str(dated / "cog.tif"), driver="COG")
    monkeypatch.chdir(dated)
    code, err = run_cli(capsys, "evaluate", "sr.tif", "cog.tif", "scores.csv")
    assert code == 2 and "IGNORE_COG_LAYOUT_BREAK" in err, err
    before = set(dated.iterdir())
    _follow_copy(err, dated)
    assert set(dated.iterdir()) - before == {dated / "cog_undated.tif"}  # no temporary left
    with rasterio.open(dated / "cog_undated.tif") as f:
        assert f.descriptions == (None,)
    code, err = run_cli(capsys, "evaluate", "sr.tif", "cog_undated.tif", "scores.csv")
    assert code == 0, err
    assert len(pd.read_csv("scores.csv")) == 2


def test_a_long_name_tag_beside_the_description_does_not_date_the_undated_copy(
        dated, capsys, monkeypatch):
    # rioxarray's to_raster writes long_name as a tag and as the description; the copy cleared
    # the description only, and rioxarray's long_name (from the tag) dated it again: a loop
    import rioxarray  # noqa: F401
    import xarray as xr

    da = xr.DataArray(_kelvin(0) + 0.3, dims=("y", "x"),
                      coords={"y": Y0 - RES * (np.arange(32) + 0.5),
                              "x": X0 + RES * (np.arange(32) + 0.5)},
                      attrs={"long_name": "LST 2019-06-01 ASTER", "units": "K"})
    da.rio.write_crs("EPSG:32633").rio.to_raster(dated / "rxl.tif")
    monkeypatch.chdir(dated)
    code, err = run_cli(capsys, "evaluate", "sr.tif", "rxl.tif", "scores.csv")
    assert code == 2 and "2019-06-01" in err, err
    _follow_copy(err, dated)
    code, err = run_cli(capsys, "evaluate", "sr.tif", "rxl_undated.tif", "scores.csv")
    assert code == 0, err
    assert len(pd.read_csv("scores.csv")) == 2
    # a dated long_name tag alone (no description) leaves the band undated, as before
    _tif(dated / "tagged.tif", [_kelvin(0) + 0.3], tags={"long_name": "LST 2019-06-01"})
    code, err = run_cli(capsys, "evaluate", "sr.tif", "tagged.tif", "tagged.csv")
    assert code == 0, err
    assert len(pd.read_csv("tagged.csv")) == 2


@pytest.fixture
def packed_fill(tmp_path):
    """A packed NetCDF reference (int16 x 0.1, _FillValue -1) with an undeclared stored fill
    -9999 on 4 rows, and an sr of its scene."""
    import rioxarray  # noqa: F401
    import xarray as xr

    truth = _kelvin(0)
    values = truth.astype("float64")
    values[:4] = -999.9
    da = xr.DataArray(values, dims=("y", "x"), name="LST", attrs={"units": "K"},
                      coords={"y": Y0 - RES * (np.arange(32) + 0.5),
                              "x": X0 + RES * (np.arange(32) + 0.5)})
    da.rio.write_crs("EPSG:32633", inplace=True)
    da.to_dataset().to_netcdf(tmp_path / "packed.nc", encoding={
        "LST": {"dtype": "int16", "scale_factor": 0.1, "_FillValue": -1}})
    _tif(tmp_path / "sr.tif", [truth], tags={"units": "K"})
    return tmp_path


def test_the_command_line_keeps_its_stored_reference_nodata_when_told_to_drop_the_scale(
        packed_fill, capsys):
    # "give a fill as decoded" on the command line: --reference-nodata -999.9, followed, was
    # refused (the flag is the value as stored)
    sr, ref, out = packed_fill / "sr.tif", packed_fill / "packed.nc", packed_fill / "s.csv"
    code, err = run_cli(capsys, "evaluate", sr, ref, out, "--reference-scale", "0.1",
                        "--reference-nodata", "-9999")
    assert code == 2
    assert "drop --reference-scale" in err and "as decoded" not in err, err
    assert "as the file stores it" in err, err
    code, err = run_cli(capsys, "evaluate", sr, ref, out, "--reference-nodata", "-9999")
    assert code == 0, err
    assert float(pd.read_csv(out)["rmse"].iloc[0]) < 0.05


def test_python_is_told_the_decoded_fill_that_runs(packed_fill):
    import re

    import rioxarray
    import xarray as xr

    import xlstsr
    from xlstsr.errors import UnitsError

    sr = rioxarray.open_rasterio(packed_fill / "sr.tif", masked=True).squeeze("band", drop=True)
    sr.attrs["units"] = "K"
    with xr.open_dataset(packed_fill / "packed.nc", decode_coords="all") as ds:
        ref = ds["LST"].load().rio.write_crs("EPSG:32633")
    with pytest.raises(UnitsError) as info:
        xlstsr.evaluate(sr, ref, reference_scale=0.1, reference_nodata=-9999)
    m = re.search(r"give (-?[\d.e+-]+), which is -9999 decoded", str(info.value))
    assert m, info.value
    scores = xlstsr.evaluate(sr, ref, reference_nodata=float(m[1]))
    assert float(scores["rmse"]) < 0.05 and int(scores["n_valid"]) == 28 * 32


@pytest.mark.parametrize("flags", [["--reference-scale", "1"],
                                   ["--reference-scale", "1", "--reference-offset", "0"]])
def test_a_reference_scale_of_one_on_a_decoded_reference_is_scored(packed_fill, capsys, flags):
    out = packed_fill / "s.csv"
    code, err = run_cli(capsys, "evaluate", packed_fill / "sr.tif", packed_fill / "packed.nc",
                        out, "--reference-nodata", "-9999", *flags)
    assert code == 0, err
    assert float(pd.read_csv(out)["rmse"].iloc[0]) < 0.05


def test_a_one_band_reference_of_another_date_than_a_one_band_sr_gets_the_copy(tmp_path,
                                                                                capsys,
                                                                                monkeypatch):
    # "drop the coordinate (`reference.drop_vars('time')`) if the dates only look different"
    # was left in Python's words
    _tif(tmp_path / "sr.tif", [_kelvin(0)], ["2020-07-27"], tags={"units": "K"})
    _tif(tmp_path / "ref.tif", [_kelvin(0) + 0.3], ["2020-07-29"])
    monkeypatch.chdir(tmp_path)
    code, err = run_cli(capsys, "evaluate", "sr.tif", "ref.tif", "scores.csv")
    assert code == 2 and "drop_vars" not in err, err
    _follow_copy(err, tmp_path)
    code, err = run_cli(capsys, "evaluate", "sr.tif", "ref_undated.tif", "scores.csv")
    assert code == 0, err
    assert float(pd.read_csv("scores.csv")["rmse"].iloc[0]) == pytest.approx(0.3, abs=1e-4)

"""Round 34 of bad inputs, the command line: a malformed file CRS (no way past it without
Python), options on the wrong side of the command, and train's size refusals in Python names.

Found: a GeoTIFF whose CRS has an ellipsoid that is not Earth-sized (DESIREX's ENVI header
converted) was refused with ``da.rio.write_crs`` only, ``--crs`` was refused because the file
"declares its own CRS", and that refusal advised ``gdalwarp -t_srs`` (which reprojects, and finds
no transformation from the malformed CRS); ``xlstsr upscale in out -v`` and ``xlstsr --overwrite
upscale ...`` were sent to ``xlstsr upscale --help`` without saying where the option goes;
``xlstsr train`` said "lower `window` or `patch`" for its --window / --patch.
"""

from __future__ import annotations

import logging

import numpy as np
import pandas as pd
import pytest
import rioxarray
import xarray as xr
from helpers import MALFORMED_WKT, make_lst, run_cli

from xlstsr.errors import GridError


def _tif(path, crs):
    rng = np.random.default_rng(0)
    da = make_lst((300 + rng.normal(0, 2, (20, 20))).astype("f4"), res=100.0, crs=crs)
    da.rio.to_raster(path)
    return path


@pytest.fixture()
def malformed_tif(tmp_path):
    return _tif(tmp_path / "mad.tif", MALFORMED_WKT)


# -- 1. a malformed file CRS: --crs replaces it; the refusals say so -----------------------------

def test_crs_replaces_a_malformed_file_crs(malformed_tif, tmp_path, capsys):
    rc, err = run_cli(capsys, "upscale", malformed_tif, tmp_path / "a.tif", "--factor", "4",
                      "--quiet")
    assert rc == 2 and "malformed" in err
    assert "`--crs EPSG:32630`" in err and "to replace it" in err, err
    out = tmp_path / "b.tif"
    rc, err = run_cli(capsys, "upscale", malformed_tif, out, "--factor", "4", "--quiet",
                      "--crs", "EPSG:32630")
    assert rc == 0, err
    src, sr = rioxarray.open_rasterio(malformed_tif), rioxarray.open_rasterio(out)
    assert sr.rio.crs.to_epsg() == 32630
    assert sr.rio.bounds() == pytest.approx(src.rio.bounds())  # the transform kept


def test_guide_crs_replaces_a_malformed_guide_crs_and_its_refusal_names_it(malformed_tif):
    from xlstsr.cli import _cli_hints, _declare_crs
    from xlstsr.validate import _check_crs_units

    da = rioxarray.open_rasterio(malformed_tif).squeeze("band", drop=True)
    fixed = _declare_crs(da, "EPSG:32630", "--guide-crs", str(malformed_tif))
    assert fixed.rio.crs.to_epsg() == 32630
    with pytest.raises(GridError) as info:
        _check_crs_units(da, "guide", "y", "x")
    text = _cli_hints(str(info.value), "upscale")
    assert "`--guide-crs EPSG:32630`" in text and "`--crs " not in text, text
    # evaluate has no such flag: the CRS is assigned to the file, not reprojected
    text = _cli_hints(str(info.value), "evaluate")
    assert "rio edit-info --crs EPSG:32630" in text and "gdalwarp" not in text, text


def test_crs_over_a_valid_file_crs_is_refused_with_assigning_advice(tmp_path, capsys):
    tif = _tif(tmp_path / "utm31.tif", "EPSG:32631")
    rc, err = run_cli(capsys, "upscale", tif, tmp_path / "c.tif", "--factor", "4", "--quiet",
                      "--crs", "EPSG:32630")
    assert rc == 2 and "declares its own CRS" in err
    # assigning a CRS is gdal_edit.py -a_srs; gdalwarp only where the data is to be reprojected
    assert "gdal_edit.py -a_srs EPSG:32630" in err, err
    assert "gdalwarp -t_srs EPSG:32630 in.tif out.tif`" not in err.split("reproject it")[0]


# -- 2. options on the wrong side of the command -------------------------------------------------

@pytest.mark.parametrize("argv, where, said", [
    (["upscale", "in.nc", "out.tif", "-v"], "global option", "`xlstsr -v upscale ...`"),
    (["upscale", "in.nc", "out.tif", "--verbose"], "global option",
     "`xlstsr --verbose upscale ...`"),
    (["--overwrite", "upscale", "in.nc", "out.tif"], "put it after the command",
     "`xlstsr upscale ... --overwrite`"),
    (["--overwrite", "scaling", "in.nc", "out.csv"], "put it after the command",
     "`xlstsr scaling ... --overwrite`"),
    (["--crs", "EPSG:4326", "upscale", "in.nc", "out.tif"], "put it after the command",
     "`xlstsr upscale ... --crs EPSG:4326`"),
])
def test_misplaced_options_say_where_they_go(argv, where, said, capsys):
    rc, err = run_cli(capsys, *argv)
    assert rc == 2 and where in err and said in err, err
    assert "invalid choice" not in err


def test_unknown_options_still_unrecognized(capsys):
    rc, err = run_cli(capsys, "upscale", "in.nc", "out.tif", "--no-such-option")
    assert rc == 2 and "unrecognized arguments: --no-such-option" in err
    assert "(see `xlstsr upscale --help`)" in err


# -- 3. train's size refusals and warnings: its flags ---------------------------------------------

@pytest.fixture(scope="module")
def train_cube():
    """The training modules (torch, lightning: seconds to import, once), or a skip."""
    return pytest.importorskip("xlstsr.train.cube")


def test_train_window_refusal_names_the_flags(train_cube, tmp_path, capsys):
    y = 4e6 - 1000 * (np.arange(16) + .5)
    x = 5e5 + 1000 * (np.arange(20) + .5)
    da = xr.DataArray(300 + np.random.default_rng(0).standard_normal((3, 16, 20)).astype("f4"),
                      dims=("time", "y", "x"),
                      coords=dict(time=pd.date_range("2020-07-01", periods=3), y=y, x=x),
                      name="LST", attrs={"units": "K"}).rio.write_crs("EPSG:32631")
    da.to_dataset().to_netcdf(tmp_path / "lst.nc")
    rc, err = run_cli(capsys, "train", "--lst", tmp_path / "lst.nc", "--epochs", "1",
                      "--out", tmp_path / "m.pt")
    assert rc == 2 and "`--window`" in err and "`--patch`" in err, err
    assert "`window`" not in err and "`patch`" not in err


def test_train_log_warnings_name_the_flags(train_cube, caplog):
    from xlstsr.cli import _train_log_flags

    logger = train_cube.log
    with caplog.at_level(logging.WARNING, logger="xlstsr.train.cube"):
        with _train_log_flags():
            logger.warning("training %s; a smaller `window` gives validation positions", "x")
        logger.warning("outside: a smaller `window`")
    inside, outside = (r.getMessage() for r in caplog.records)
    assert "`--window`" in inside and "training x;" in inside
    assert "`window`" in outside  # Python callers keep the argument's name


def test_assigning_advice_for_a_malformed_crs_runs_as_given(malformed_tif, tmp_path, capsys):
    # the advice that assigns the CRS to the file for good (beside --reference-crs for one
    # run) uses rasterio's own `rio` (installed with xlstsr; GDAL's gdal_edit.py often is
    # not), and evaluate then runs
    import re
    import shlex
    import subprocess
    import sys
    from pathlib import Path

    sr = tmp_path / "sr.tif"
    assert run_cli(capsys, "upscale", malformed_tif, sr, "--factor", "2", "--quiet", "--crs",
                   "EPSG:32630")[0] == 0
    ref = tmp_path / "ref.tif"  # a fine reference on the same ground, its header malformed
    rng = np.random.default_rng(1)
    make_lst((300 + rng.normal(0, 2, (40, 40))).astype("f4"), res=50.0,
             crs=MALFORMED_WKT).rio.to_raster(ref)
    table = tmp_path / "scores.csv"
    rc, err = run_cli(capsys, "evaluate", sr, ref, table)
    assert rc == 2, err
    cmd = re.search(r"`(rio edit-info [^`]+)`", err)
    assert cmd, err
    argv = shlex.split(cmd[1].replace("file.tif", str(ref)))
    rio = Path(sys.executable).with_name("rio")
    subprocess.run([str(rio), *argv[1:]], check=True, capture_output=True)
    rc, err = run_cli(capsys, "evaluate", sr, ref, table)
    assert rc == 0, err

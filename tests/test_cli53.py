"""Command-line refusals of review 53: a Landsat Level-1 thermal band file given alone as the
LST or reference, one band (one date) of a multi-band GeoTIFF stored in degrees Celsius, and
the crop of the LST a 250 m guide of its shape asks for, told with the command line's route."""

from __future__ import annotations

import re
import shlex
import subprocess
import sys

import numpy as np
import pytest
import rasterio
from helpers import cli_stderr
from rasterio.transform import from_origin

SCENE = "LC80200392015216LGN00"
MTL = f"""GROUP = L1_METADATA_FILE
  GROUP = METADATA_FILE_INFO
    LANDSAT_SCENE_ID = "{SCENE}"
  END_GROUP = METADATA_FILE_INFO
  GROUP = PRODUCT_METADATA
    DATA_TYPE = "L1T"
    SPACECRAFT_ID = "LANDSAT_8"
    FILE_NAME_BAND_10 = "{SCENE}_B10.TIF"
  END_GROUP = PRODUCT_METADATA
END_GROUP = L1_METADATA_FILE
END
"""


def _tif(path, data, res=30.0, x0=500000.0, y0=3400000.0, scale=None, nodata=None):
    data = np.asarray(data)
    data = data[None] if data.ndim == 2 else data
    with rasterio.open(path, "w", driver="GTiff", width=data.shape[2], height=data.shape[1],
                       count=data.shape[0], dtype=data.dtype, crs="EPSG:32616",
                       transform=from_origin(x0, y0, res, res), nodata=nodata) as f:
        f.write(data)
        if scale is not None:
            f.scales = (scale,) * data.shape[0]
    return path


def _level1_folder(root, prefix):
    """A Level-1 scene folder: its band 10 (digital numbers ~ 24000) and its MTL."""
    root.mkdir()
    rng = np.random.default_rng(0)
    dn = (23000 + rng.integers(0, 2000, (32, 32))).astype("uint16")
    band = _tif(root / f"{prefix}B10.TIF", dn)
    (root / f"{prefix}MTL.txt").write_text(MTL)
    return band


def _command(err):
    """The advised ``python -c '...'`` (run with this interpreter)."""
    words = shlex.split(re.search(r"`(python -c '[^']*')`", err)[1])
    return [sys.executable, *words[1:]]


@pytest.mark.parametrize("prefix", [f"{SCENE}_", "l8_"])
def test_level1_band_file_refused_as_lst(tmp_path, prefix):
    band = _level1_folder(tmp_path / "scene", prefix)
    # the range check's "--scale 0.01" followed: digital numbers x 0.01 were scored as Kelvin
    for argv in (["scaling", band, tmp_path / "o.csv", "--scale", "0.01"],
                 ["upscale", band, tmp_path / "o.tif", "--factor", "2", "--scale", "0.01"]):
        rc, err = cli_stderr(*argv)
        assert rc == 2, err
        assert f"is a band of a Landsat Level-1 scene (DATA_TYPE L1T in {prefix}MTL.txt)" in err
        assert "Read it in Python with `xlstsr.io.open_landsat8_l1(" in err
        # the reader's prefix where its default (l8_) finds no band
        assert (f"prefix='{prefix}'" in err) == (prefix != "l8_")
    assert not (tmp_path / "o.csv").exists() and not (tmp_path / "o.tif").exists()
    # a field of the user's own written into the scene's folder is no band of it
    _tif(tmp_path / "scene" / "bt.tif", np.full((32, 32), 290.0, "float32"))
    rc, err = cli_stderr("scaling", tmp_path / "scene" / "bt.tif", tmp_path / "bt.csv")
    assert "Level-1" not in err


def test_level1_band_file_refused_as_reference(tmp_path):
    band = _level1_folder(tmp_path / "scene", f"{SCENE}_")
    sr = _tif(tmp_path / "sr.tif", np.full((32, 32), 300.0, "float32"))
    rc, err = cli_stderr("evaluate", sr, band, tmp_path / "e.csv", "--reference-scale", "0.01")
    assert rc == 2 and "is a band of a Landsat Level-1 scene" in err, err
    assert not (tmp_path / "e.csv").exists()


def test_shared_level1_band_refused(shared_data, tmp_path):
    band = shared_data / "landsat8_gulf_l1" / "l8_B10.tif"
    rc, err = cli_stderr("scaling", band, tmp_path / "l8.csv", "--scale", "0.01",
                         "--mask-out-of-range")
    assert rc == 2 and "is a band of a Landsat Level-1 scene (DATA_TYPE L1T in l8_MTL.txt)" in err
    # the advice, followed, reads the scene's brightness temperature
    folder = re.search(r"open_landsat8_l1\('([^']+)'\)", err)[1]
    import xlstsr

    bt = xlstsr.io.open_landsat8_l1(folder)["bt"]
    assert 280 < float(np.nanmedian(bt.isel(y=slice(0, None, 50), x=slice(0, None, 50)))) < 300
    assert not (tmp_path / "l8.csv").exists()


def _lone_celsius_band(path):
    """3 dates of MODIS-like LST (uint16 x 0.02), the middle one stored in degrees Celsius."""
    rng = np.random.default_rng(1)
    k = 295.0 + rng.normal(0, 3, (3, 32, 32))
    k[1] -= 273.15
    return _tif(path, np.round(k / 0.02).astype("uint16"), res=1000.0, scale=0.02, nodata=0)


@pytest.mark.parametrize("command", ["scaling", "upscale"])
def test_lone_celsius_band_named_as_a_step(tmp_path, command):
    src = _lone_celsius_band(tmp_path / "lone3.tif")
    out = tmp_path / ("o.csv" if command == "scaling" else "o.tif")
    extra = ["--factor", "2", "--method", "bicubic"] if command == "upscale" else []
    rc, err = cli_stderr(command, src, out, *extra)
    assert rc == 2
    # the lone-step verdict, on that band: no file-wide rescale or units (followed, refused
    # again: the other bands then 10 times too warm)
    assert f"band 2 of {src}" in err and "this image alone reads like degrees Celsius" in err
    assert "scale_factor'] = 0.2" not in err and "--units degC" not in err
    assert "--band" in err
    subprocess.run(_command(err), check=True, cwd=tmp_path)
    copy = tmp_path / "lone3_without_band2.tif"
    with rasterio.open(copy) as f:
        assert f.count == 2 and f.scales == (0.02, 0.02) and f.nodata == 0
    rc, err = cli_stderr(command, copy, out, *extra)
    assert rc == 0, err


def test_guide_of_the_lst_shape_crop_on_the_command_line(tmp_path):
    rng = np.random.default_rng(2)
    lst = _tif(tmp_path / "lst.tif", (300 + rng.normal(0, 2, (64, 64))).astype("float32"),
               res=1000.0)
    # a 250 m guide of the LST's 64 x 64, inside the LST: 16 x 16 LST pixels
    guide = _tif(tmp_path / "ndvi.tif", rng.uniform(0.1, 0.8, (64, 64)).astype("float32"),
                 res=250.0, x0=500000.0 + 20 * 1000.0, y0=3400000.0 - 20 * 1000.0)
    rc, err = cli_stderr("scaling", lst, tmp_path / "o.csv", "--guide", guide)
    assert rc == 2 and "lst.sel(y=slice(" in err
    assert "gdal_translate -projwin 520000.0 3380000.0 536000.0 3364000.0 " in err, err
    subprocess.run(_command(err), check=True, cwd=tmp_path)
    copy = tmp_path / "lst_cropped.tif"
    with rasterio.open(copy) as f:
        assert f.shape == (16, 16)
        assert tuple(f.bounds) == (520000.0, 3364000.0, 536000.0, 3380000.0)
    rc, err = cli_stderr("scaling", copy, tmp_path / "o.csv", "--guide", guide)
    assert rc == 0, err

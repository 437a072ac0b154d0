"""Command-line refusals of Landsat Level-1 band files (review 53, second pass): a field of the
user's own named like a band beside a scene's MTL, Landsat 7's ``B6_VCID_1.TIF``, a Collection 2
Level-1 band (advised the Level-2 product, not a reader that refuses it), and one band (one date)
of a multi-band GeoTIFF ``--lst`` stored in degrees Celsius given to ``xlstsr train``."""

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


def _tif(path, data, res=30.0, scale=None, nodata=None):
    data = np.asarray(data)
    data = data[None] if data.ndim == 2 else data
    with rasterio.open(path, "w", driver="GTiff", width=data.shape[2], height=data.shape[1],
                       count=data.shape[0], dtype=data.dtype, crs="EPSG:32616",
                       transform=from_origin(500000.0, 3400000.0, res, res), nodata=nodata) as f:
        f.write(data)
        if scale is not None:
            f.scales = (scale,) * data.shape[0]
    return path


def _mtl(path, **fields):
    body = "".join(f"    {k} = {v}\n" for k, v in fields.items())
    path.write_text(f"GROUP = L1_METADATA_FILE\n  GROUP = PRODUCT_METADATA\n{body}"
                    "  END_GROUP = PRODUCT_METADATA\nEND_GROUP = L1_METADATA_FILE\nEND\n")


def _dn(n=32):
    rng = np.random.default_rng(0)
    return (23000 + rng.integers(0, 2000, (n, n))).astype("uint16")


@pytest.mark.parametrize("mtl, band", [
    ("l8_MTL.txt", "lst_B10.tif"),  # the user's LST written into the scene's folder
    # a plugin's band in Kelvin beside a Collection 1 MTL whose prefix it does not start with
    ("LC08_L1TP_020039_20150804_20170406_01_T1_MTL.txt",
     "RT_LC08_L1TP_020039_20150804_20170406_01_T1_B10.tif"),
])
def test_own_field_named_like_a_band_is_no_level1_band(tmp_path, mtl, band):
    _mtl(tmp_path / mtl, DATA_TYPE='"L1T"', SPACECRAFT_ID='"LANDSAT_8"')
    rng = np.random.default_rng(1)
    lst = _tif(tmp_path / band, (300 + rng.normal(0, 2, (32, 32))).astype("float32"))
    rc, err = cli_stderr("scaling", lst, tmp_path / "o.csv")
    assert "Level-1" not in err
    assert rc == 0, err


def test_landsat7_vcid_band_refused_with_its_level2_product(tmp_path):
    scene = "LE70200392015208EDC00_"
    _mtl(tmp_path / f"{scene}MTL.txt", DATA_TYPE='"L1T"', SPACECRAFT_ID='"LANDSAT_7"')
    band = _tif(tmp_path / f"{scene}B6_VCID_1.TIF", (_dn() // 200).astype("uint8"))
    rc, err = cli_stderr("scaling", band, tmp_path / "o.csv", "--scale", "1")
    assert rc == 2 and "is a band of a Landsat Level-1 scene (DATA_TYPE L1T in" in err, err
    # the Landsat 8 reader asks a Landsat 7 scene for a B10.tif it has not
    assert "open_landsat8_l1(" not in err and "LE07_L2SP_" in err
    assert not (tmp_path / "o.csv").exists()


def test_collection2_level1_band_advised_its_level2_product(tmp_path):
    scene = "LC08_L1TP_020039_20150804_20200908_02_T1_"
    _mtl(tmp_path / f"{scene}MTL.txt", PROCESSING_LEVEL='"L1TP"', COLLECTION_NUMBER="02",
         SPACECRAFT_ID='"LANDSAT_8"')
    band = _tif(tmp_path / f"{scene}B10.TIF", _dn())
    rc, err = cli_stderr("scaling", band, tmp_path / "o.csv", "--scale", "0.01")
    assert rc == 2 and "PROCESSING_LEVEL L1TP" in err, err
    # open_landsat8_l1 refuses Collection 2 (its QA_PIXEL is no BQA): not the advice
    assert "open_landsat8_l1(" not in err and "open_landsat_c2l2" in err
    import xlstsr
    from xlstsr.errors import XlstsrError

    with pytest.raises(XlstsrError, match="Collection 2"):
        xlstsr.io.open_landsat8_l1(tmp_path, prefix=scene)


def test_train_lone_celsius_band_named_as_a_step(tmp_path):
    rng = np.random.default_rng(1)
    k = 295.0 + rng.normal(0, 3, (3, 32, 32))
    k[1] -= 273.15  # the second date stored in degrees Celsius
    src = _tif(tmp_path / "lone3.tif", np.round(k / 0.02).astype("uint16"), res=1000.0,
               scale=0.02, nodata=0)
    argv = ["--factor", "4", "--epochs", "1", "--patch", "16", "--out", tmp_path / "m.pt"]
    rc, err = cli_stderr("train", "--lst", src, *argv)
    assert rc == 2
    # no file-wide --units degC (followed, the other bands then read 273 K too cold)
    assert f"band 2 of {src}" in err and "--units degC" not in err, err
    assert "--band" in err
    words = shlex.split(re.search(r"`(python -c '[^']*')`", err)[1])
    subprocess.run([sys.executable, *words[1:]], check=True, cwd=tmp_path)
    rc, err = cli_stderr("train", "--lst", tmp_path / "lone3_without_band2.tif", *argv)
    assert rc == 0, err


def test_cli_output_store_a_live_run_writes_is_told_to_wait(tmp_path, capsys):
    # (review 53 fbb92d9/1) the command line told "pass --overwrite ... (or --resume)", both
    # refused on a store another run writes
    import socket

    import zarr
    from helpers import run_cli, unfinished_store

    import xlstsr
    from xlstsr.io.zarr import WRITER_ATTR, _process_start

    s = xlstsr.datasets.sample_scene(n_times=4, size=16)
    src = tmp_path / "in.nc"
    s["lst_1km"].to_dataset(name="lst").to_netcdf(src)
    out = tmp_path / "out.zarr"
    unfinished_store(s["lst_1km"].chunk(time=1), out)  # (a finished store has no writer)
    live = subprocess.Popen([sys.executable, "-c", "import time; time.sleep(60)"])
    try:
        root = zarr.open_group(str(out), mode="r+")
        root.attrs[WRITER_ATTR] = {"host": socket.gethostname(), "pid": live.pid,
                                   "process_start": _process_start(live.pid)}
        code, err = run_cli(capsys, "upscale", src, out, "--factor", "4")
    finally:
        live.kill()
        live.wait()
    assert code == 2 and f"process {live.pid}" in err and "Wait for that run" in err, err
    assert "pass --overwrite" not in err, err


def test_a_store_with_unreadable_metadata_is_told_to_be_overwritten_and_is(tmp_path, capsys):
    # (review 53 f6f2d55/1) a killed run's half-written zarr.json raised a JSONDecodeError
    # traceback through the live-writer check, with and without --overwrite
    from helpers import run_cli

    import xlstsr

    s = xlstsr.datasets.sample_scene(n_times=2, size=16)
    src = tmp_path / "in.nc"
    s["lst_1km"].to_dataset(name="lst").to_netcdf(src)
    store = tmp_path / "corrupt.zarr"
    store.mkdir()
    (store / "zarr.json").write_text("{not json")
    code, err = run_cli(capsys, "upscale", src, store, "--factor", "4")
    assert code == 2 and "exists; pass --overwrite" in err, err
    code, err = run_cli(capsys, "upscale", src, store, "--factor", "4", "--overwrite")
    assert code == 0, err
    assert xlstsr.io.open_zarr(store).notnull().any()

"""Review 51c findings 1-4 (validate's advice for a file's own wrong tag, and a sharpener's
refused output). A band picked with ``drop=True`` gets no command that retags every band of
its file (Emis_31 read 10 times its value), the attribute route told instead; a
tsharp/dms guide of NDVI x 10000 is told its scale, not a mask that blanks it; a ``file://``
source is a local file; one step of a cube read a step per chunk gets no file-wide rewrite.
Every advice is followed as written and the result checked."""

from __future__ import annotations

import re
import subprocess
import sys
from pathlib import Path

import numpy as np
import pytest
import xarray as xr
from test_validate51 import one_bad_step_cube, sharpener_refusal

from xlstsr.errors import XlstsrError


def _dn(seed: int = 52) -> np.ndarray:
    """MOD11A1-like digital numbers (K x 50) of a 64 x 64 summer scene: 300-316 K."""
    rng = np.random.default_rng(seed)
    y, x = np.mgrid[0:64, 0:64]
    k = 302.0 + 0.1 * x + 0.05 * y + rng.normal(0, 0.5, (64, 64))
    return np.round(k * 50).astype("uint16")


def _two_band(path: Path, dn: np.ndarray, offsets: tuple[float, float]) -> Path:
    """A GeoTIFF of LST (band 1) and Emis_31 (band 2), both tagged scale 0.002 (the LST's
    wrong one), with ``offsets``."""
    import rasterio
    from rasterio.transform import from_origin

    with rasterio.open(path, "w", driver="GTiff", width=64, height=64, count=2, dtype="uint16",
                       nodata=0, crs="EPSG:32631",
                       transform=from_origin(500000, 4500000, 1000, 1000)) as f:
        f.write(dn, 1)
        f.write(np.full(dn.shape, 230, "uint16"), 2)
        f.scales, f.offsets = (0.002, 0.002), offsets
        f.descriptions = ("LST_Day_1km", "Emis_31")
    return path


def _command(message: str) -> str:
    m = re.search(r"`(python -c [^`]*)`", message)
    assert m is not None, message
    return sys.executable + m[1][len("python"):]


def _refusal(da: xr.DataArray) -> str:
    with pytest.raises(XlstsrError) as err:
        da.lstsr.upscale(factor=2, method="bicubic").compute()
    return str(err.value)


# -- 51c/1: a band picked with drop=True ------------------------------------------------------

@pytest.mark.parametrize("pick", [lambda a: a.isel(band=0, drop=True),
                                  lambda a: a.sel(band=1).drop_vars("band")],
                         ids=["isel-drop", "sel-drop_vars"])
def test_band_dropped_of_a_same_tagged_file_gets_no_every_band_retag(tmp_path, pick):
    import rioxarray

    dn = _dn()
    src = _two_band(tmp_path / "two.tif", dn, (0.0, 0.0))
    da = pick(rioxarray.open_rasterio(src, mask_and_scale=False))
    msg = _refusal(da)
    # was `f.scales = (0.02,) * f.count`: the copy's Emis_31 read 4.6 for 0.46. Since session
    # 52 the band is told by its values (review 52: the CLI's --band lost its command): the
    # band-only command retags band 1 alone
    assert "f.count" not in msg, msg
    import subprocess

    import rasterio

    subprocess.run(_command(msg), shell=True, check=True)
    copies = [p for p in tmp_path.iterdir() if p != src and p.suffix == ".tif"]
    assert len(copies) == 1, copies
    with rasterio.open(copies[0]) as f:
        assert f.scales == (0.02, 0.002)  # Emis_31 keeps its tag
    assert "set `da.attrs['scale_factor'] = 0.02`" in msg, msg
    # the attribute route, followed, decodes the scene
    da.attrs["scale_factor"] = 0.02
    out = da.lstsr.upscale(factor=2, method="bicubic")
    assert abs(float(out.median()) - float(np.median(dn * 0.02))) < 0.5


# -- 51c/3: a sharpener's guide at another scale -----------------------------------------------

@pytest.mark.parametrize("method", ["tsharp", "dms"])
def test_sharpener_guide_of_ndvi_digital_numbers_is_told_its_scale(method):
    rng = np.random.default_rng(3)
    guide = np.round(rng.uniform(2246, 7594, (8, 8)))  # NDVI x 10000, as MOD13 stores it
    guide[3, 3] = -2000.0  # water
    msg = sharpener_refusal(method, guide)
    # was `guide.where(abs(guide) <= 1)`: followed, no guide pixel was left (refused again)
    assert "abs(guide) <= 1" not in msg, msg
    assert "divide it by 10000" in msg and "guide.where(guide > 0)" in msg, msg
    # followed, either leaves a guide: its scale read, and the water pixel masked
    assert np.all(np.abs(guide / 10000) <= 1)
    assert int(np.isfinite(np.where(guide > 0, guide, np.nan)).sum()) == 63


# -- 51c/4: a file:// source is a local file -----------------------------------------------------

def test_file_url_source_gets_the_rewrite_that_works(tmp_path):
    import rasterio
    import rioxarray
    from rasterio.transform import from_origin

    dn = _dn()
    tif = tmp_path / "url_0002.tif"
    with rasterio.open(tif, "w", driver="GTiff", width=64, height=64, count=1, dtype="uint16",
                       nodata=0, crs="EPSG:32631",
                       transform=from_origin(500000, 4500000, 1000, 1000)) as f:
        f.write(dn, 1)
        f.scales = (0.002,)
    da = rioxarray.open_rasterio(tif.as_uri(), mask_and_scale=False).squeeze(drop=True)
    assert da.encoding["source"].startswith("file://")
    msg = _refusal(da)
    # was "make a local copy of the file first (it is not a local file)"
    assert "not a local file" not in msg, msg
    subprocess.run(_command(msg), shell=True, check=True)
    with rasterio.open(tmp_path / "url_0002_retagged.tif") as f:
        assert f.scales == (0.02,)
        assert abs(float(np.median(f.read(1) * f.scales[0])) - float(np.median(dn * 0.02))) < 0.01


# -- 51c/2: one bad step of a cube read one step per chunk -------------------------------------

def test_one_bad_step_read_a_step_per_chunk_gets_no_file_wide_rewrite(tmp_path):
    src = one_bad_step_cube(tmp_path)
    with xr.open_dataset(src, decode_coords="all", chunks={"time": 1}) as opened:
        msg = _refusal(opened["lst"])
    # was a rewrite of the file's scale_factor to 0.001, which, followed, read the good
    # steps 275.4 K for 296.1 K
    assert "_retagged" not in msg and "python -c" not in msg, msg
    assert "judged alone" in msg, msg

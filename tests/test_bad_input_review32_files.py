"""Review 32e (files): advice of the new input checks (f2c604a) that was wrong or misplaced,
and MODIS granules of two products stacked as one cube (xlstsr/io, xlstsr/cli.py,
xlstsr/train/cube.py)."""

from __future__ import annotations

import glob
import shutil
import subprocess
import warnings
from pathlib import Path

import numpy as np
import pytest
import xarray as xr
from helpers import cli_stderr

import xlstsr
from xlstsr.errors import XlstsrError
from xlstsr.io import open_path
from xlstsr.io.formats import format_of

DATA = Path("/work/shared/data")
GRANULES = sorted(glob.glob(str(DATA / "mod11a1_hdf" / "*.hdf")))
needs_granule = pytest.mark.skipif(not GRANULES, reason="no MOD11A1 granule in "
                                   "/work/shared/data/mod11a1_hdf (real data absent)")


def _lst(size: int = 16) -> xr.DataArray:
    return xlstsr.datasets.sample_scene(n_times=1, size=size)["lst_1km"]


def _cli(*argv: str) -> tuple[int, str]:
    return cli_stderr(*argv)


def _granule_like(real: str, path: Path, layers: dict[str, tuple[str, float, int]]) -> str:
    """A small HDF4 granule with the real one's grid metadata and the given layers
    (name -> (dtype, scale_factor, value))."""
    SD = pytest.importorskip("pyhdf.SD")
    r = SD.SD(real)
    struct = {k: v for k, v in r.attributes().items() if k.startswith("StructMetadata")}
    r.end()
    d = SD.SD(str(path), SD.SDC.WRITE | SD.SDC.CREATE)
    for k, v in struct.items():
        d.attr(k).set(SD.SDC.CHAR8, v)
    for name, (dtype, scale, value) in layers.items():
        kind = SD.SDC.UINT16 if dtype == "uint16" else SD.SDC.INT16
        s = d.create(name, kind, (1200, 1200))
        s.attr("scale_factor").set(SD.SDC.FLOAT64, scale)
        s[:] = np.full((1200, 1200), value, dtype)
        s.endaccess()
    d.end()
    return str(path)


# 04: MOD11A1 + MOD21A1D granules, no variable named: two products stacked as one cube
@needs_granule
def test_open_modis_refuses_granules_of_different_default_layers(tmp_path):
    from xlstsr.io import open_modis

    other = _granule_like(GRANULES[0], tmp_path / "MOD21A1D.A2019306.h14v09.061.2019307000000.hdf",
                          {"LST_1KM": ("uint16", 0.02, 15000)})
    with pytest.raises(XlstsrError) as err:
        open_modis([GRANULES[0], other])
    text = str(err.value)
    assert "'LST_Day_1km'" in text and "'LST_1KM'" in text and "variable=" in text
    assert "--variable" in text


# 02: an output path is not told the input advice (decompress it, open_cog, .hdf)
@pytest.mark.parametrize("out", ["sr.nc.gz", "results", "tifs"])
def test_upscale_output_path_gets_no_input_advice(tmp_path, out):
    _lst().rio.to_raster(tmp_path / "lst.tif")
    (tmp_path / "results").mkdir()
    (tmp_path / "tifs").mkdir()
    shutil.copy(tmp_path / "lst.tif", tmp_path / "tifs" / "a.tif")
    rc, msg = _cli("upscale", str(tmp_path / "lst.tif"), str(tmp_path / out), "--quiet")
    assert rc == 2
    for wrong in ("Decompress it first", "open_cog(", "xlstsr reads", ".hdf"):
        assert wrong not in msg
    assert ".zarr" in msg and ".tif" in msg
    # the same paths as inputs keep their advice
    with pytest.raises(XlstsrError):
        format_of(tmp_path / "tifs", reading=True)


# 03: a Zarr ZipStore: the advice's command gives the store it names
def test_zarr_zip_advice_unzips_into_the_store(tmp_path, monkeypatch):
    if shutil.which("unzip") is None:
        pytest.skip("no unzip command on this machine")
    from zarr.storage import ZipStore

    monkeypatch.chdir(tmp_path)
    st = ZipStore("lst.zarr.zip", mode="w")
    _lst().to_dataset(name="LST").to_zarr(st, zarr_format=3, consolidated=False)
    st.close()
    with pytest.raises(XlstsrError) as err:
        open_path("lst.zarr.zip")
    command = str(err.value).split("`")[1]
    tool, *rest = command.split()
    # (exit 1: zarr's ZipStore writes some names twice, which unzip warns about)
    assert subprocess.run([tool, "-q", *rest], check=False).returncode in (0, 1)
    assert isinstance(open_path("lst.zarr"), xr.Dataset)


# 01: bands of different scales in a --guide / evaluate reference: that file's band flag
def _two_scales(path: Path, like: xr.DataArray, scales: tuple[float, float]) -> None:
    import rasterio

    with rasterio.open(path, "w", driver="GTiff", width=like.sizes["x"],
                       height=like.sizes["y"], count=2, dtype="int16", crs=like.rio.crs,
                       transform=like.rio.transform(), nodata=0) as d:
        d.write(np.full((2, like.sizes["y"], like.sizes["x"]), 4000, "int16"))
        d.scales = scales


def test_guide_of_different_band_scales_names_guide_band(tmp_path):
    s = xlstsr.datasets.sample_scene(n_times=1, size=32, factor=4, seed=1)
    s["lst_1km"].isel(time=0, drop=True).rio.to_raster(tmp_path / "lst.tif")
    _two_scales(tmp_path / "guide.tif", s["ndvi_250m"], (0.0001, 0.0002))
    rc, msg = _cli("upscale", str(tmp_path / "lst.tif"), str(tmp_path / "o.tif"), "--method",
                   "dms", "--guide", str(tmp_path / "guide.tif"), "--quiet")
    assert rc == 2 and "--guide-band N" in msg and "`--band N`" not in msg
    rc, msg = _cli("scaling", str(tmp_path / "lst.tif"), str(tmp_path / "s.csv"),
                   "--guide", str(tmp_path / "guide.tif"), "--guide-band", "5")
    assert rc == 2 and "--guide-band 1 to 2" in msg


def test_evaluate_reference_of_different_band_scales_names_reference_band(tmp_path):
    s = xlstsr.datasets.sample_scene(n_times=1, size=32, factor=4, seed=1)
    s["lst_1km"].isel(time=0, drop=True).rio.to_raster(tmp_path / "lst.tif")
    assert _cli("upscale", str(tmp_path / "lst.tif"), str(tmp_path / "sr.tif"), "--quiet")[0] == 0
    _two_scales(tmp_path / "ref.tif", s["ndvi_250m"], (0.02, 1.0))
    rc, msg = _cli("evaluate", str(tmp_path / "sr.tif"), str(tmp_path / "ref.tif"),
                   str(tmp_path / "m.csv"))
    assert rc == 2 and "--reference-band N" in msg and "`--band N`" not in msg


# 05: --crs equal to the file's CRS but for its axis order
@pytest.mark.parametrize("crs", ["+proj=longlat +datum=WGS84 +no_defs", "OGC:CRS84"])
def test_declare_crs_accepts_other_axis_order(crs):
    from xlstsr.cli import _declare_crs

    da = _lst().rio.write_crs("EPSG:4326")
    assert _declare_crs(da, crs, "--crs", "lst.tif") is da


def test_declare_crs_refusal_names_both_and_quotes_the_example():
    from xlstsr.cli import UsageError, _declare_crs

    da = _lst().rio.write_crs("EPSG:4326")
    with pytest.raises(UsageError) as err:
        _declare_crs(da, "+proj=utm +zone=31 +datum=WGS84", "--crs", "lst.tif")
    assert "-t_srs '+proj=utm +zone=31 +datum=WGS84'" in str(err.value)


# 06: train --guide MOD13A2.hdf: the granule's NDVI layer, as upscale takes it
@needs_granule
def test_train_guide_granule_takes_its_ndvi_layer(tmp_path):
    from xlstsr.train.cube import _guide_layer

    g = _granule_like(GRANULES[0], tmp_path / "MOD13A2.A2019305.h14v09.061.2019322000000.hdf",
                      {"1 km 16 days NDVI": ("int16", 10000.0, 5000),
                       "1 km 16 days EVI": ("int16", 10000.0, 5000)})
    assert _guide_layer(g) == "1 km 16 days NDVI"
    assert _guide_layer(tmp_path / "none.hdf") is None  # a missing file: open_path names it
    _rc, msg = _cli("train", "--lst", GRANULES[0], "--guide", g, "--mode", "degraded_disr",
                   "--out", str(tmp_path / "m.pt"), "--epochs", "1")
    assert "LST layer" not in msg and "'LST_Day_1km'" not in msg


@needs_granule
def test_train_guide_granule_without_ndvi_names_guide_variable(tmp_path):
    rc, msg = _cli("train", "--lst", GRANULES[0], "--guide", GRANULES[0], "--mode",
                   "degraded_disr", "--out", str(tmp_path / "m.pt"), "--epochs", "1")
    assert rc == 2 and "--guide-variable" in msg and "variable='" not in msg


# 07: folder advice: a Landsat C2 L2 scene; a folder of NetCDFs opened with its CRS
def test_landsat_scene_folder_advice_names_its_reader(tmp_path):
    scene = tmp_path / "LC08_L2SP_044034_20200701_20200913_02_T1"
    scene.mkdir()
    for b in ("ST_B10", "QA_PIXEL", "SR_B4"):
        (scene / f"{scene.name}_{b}.TIF").touch()
    with pytest.raises(XlstsrError) as err:
        open_path(scene)
    assert "open_landsat_c2l2" in str(err.value) and "open_cog(" not in str(err.value)


def test_netcdf_folder_advice_keeps_the_crs(tmp_path):
    import re

    lst = xlstsr.datasets.sample_scene(n_times=2, size=32)["lst_1km"]
    (tmp_path / "ncs").mkdir()
    for i in range(2):
        lst.isel(time=[i]).to_dataset(name="LST").to_netcdf(tmp_path / "ncs" / f"lst_{i}.nc",
                                                            engine="h5netcdf")
    with pytest.raises(XlstsrError) as err:
        open_path(tmp_path / "ncs")
    code = re.search(r"`(xr\.open_mfdataset\(.*?\))`", str(err.value)).group(1)
    ds = eval(code, {"xr": xr, "pathlib": __import__("pathlib")})
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        out = xlstsr.upscale(ds["LST"], 2)
    assert out.rio.crs is not None
    ds.close()


def test_format_of_default_is_the_output_message():
    with pytest.raises(XlstsrError) as err:
        format_of("sr.nc.gz")
    assert "write a .zarr" in str(err.value) and "Decompress" not in str(err.value)
    with pytest.raises(XlstsrError) as err:
        format_of("sr.nc.gz", reading=True)
    assert "gunzip sr.nc.gz" in str(err.value)

"""Review 33d: (1) a lon/lat bbox on items in a projected CRS, given with ``resolution=`` (and
``crs=``), is told how to give an area in degrees in the resolution check too
(xlstsr/io/stac.py _check_options), naming the output CRS when ``crs=`` is given; (2) a guide
co-registered already (attrs hold ``xlstsr_coregistration``) with a residual offset is refused
with guide-level advice (``guide_offset='ignore'``, or drop the attribute) on every guide path
(xlstsr/guide.py measure_offset / check_alignment), not apply_offset's bare "fine field"
message."""

import glob
import json
import logging
import re
import warnings
from pathlib import Path

import numpy as np
import pandas as pd
import pytest
import xarray as xr
from scipy.ndimage import gaussian_filter

import xlstsr
from xlstsr import errors

MODIS = Path("/work/shared/data/modis_h18v04_2020")
BOX = (13.0, 49.3, 13.9, 49.9)  # lon/lat around the Sumava, inside tile h18v04


@pytest.fixture(autouse=True)
def _quiet():
    logging.getLogger("xlstsr").setLevel(logging.ERROR)
    yield


# -- 1: the resolution check of a lon/lat bbox on sinusoidal items --------------------------------


@pytest.fixture(scope="module")
def modis_items():
    files = sorted(glob.glob(str(MODIS / "items" / "MOD11A1*.json")))[:2]
    if not files:
        pytest.skip(f"{MODIS} (real MODIS STAC items) is absent")
    pystac = pytest.importorskip("pystac")
    return [pystac.Item.from_file(f) for f in files]


def _refusal(items, **kw):
    from xlstsr.io import open_stac

    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        with pytest.raises(errors.XlstsrError) as info:
            open_stac(items, "LST_Day_1km", **kw)
    return str(info.value)


def test_lonlat_bbox_with_resolution_gets_the_degrees_advice(modis_items):
    msg = _refusal(modis_items, bbox=BOX, resolution=1000)
    # before: only "resolution=1000 is larger than the area loaded (0.9 x 0.6 metres)"
    assert "larger than the area loaded" in msg
    assert "lon=(13, 13.9), lat=(49.3, 49.9)" in msg
    assert "into the items' CRS" in msg and "output CRS with" not in msg


def test_lonlat_bbox_with_crs_and_resolution_names_the_output_crs(modis_items):
    msg = _refusal(modis_items, bbox=BOX, crs="EPSG:32633", resolution=1000)
    assert "larger than the area loaded" in msg
    assert "lon=(13, 13.9), lat=(49.3, 49.9)" in msg
    # the box is read in crs=, not in the items' sinusoidal CRS
    assert "into the output CRS" in msg and "items' CRS" not in msg
    # the overlap check's advice (a resolution small enough to pass) says the same
    msg = _refusal(modis_items, bbox=BOX, crs="EPSG:32633", resolution=0.1)
    assert "meets none of the 2 items" in msg
    assert "into the output CRS" in msg and "items' CRS" not in msg


def test_metre_bbox_too_small_for_the_resolution_gets_no_degrees_advice(modis_items):
    x0, y0 = 900_000.0, 5_500_000.0
    msg = _refusal(modis_items, bbox=(x0, y0, x0 + 500, y0 + 500), resolution=1000)
    assert "larger than the area loaded" in msg and "longitude/latitude" not in msg
    # nor a degrees output CRS (the box there is degrees already)
    msg = _refusal(modis_items, bbox=BOX, crs="EPSG:4326", resolution=1)
    assert "larger than the area loaded" in msg and "lon=(" not in msg


# -- 2: a co-registered guide with a residual offset ----------------------------------------------

RES, N = 250.0, 32


@pytest.fixture(scope="module")
def pair():
    """An LST (2 steps, N x N at 1 km) linear in a smooth NDVI, and the NDVI placed 1.5 fine
    pixels east of where it belongs (a residual offset), marked co-registered already."""
    rng = np.random.default_rng(0)
    nd = gaussian_filter(rng.standard_normal((4 * N, 4 * N)), 3)
    nd = np.clip(0.45 + 0.12 * nd / nd.std(), -0.1, 0.95)
    fy = 3_400_000.0 - RES / 2 - RES * np.arange(4 * N)
    fx = 400_000.0 + RES / 2 + RES * np.arange(4 * N)
    lv = 320 - 60 * nd.reshape(N, 4, N, 4).mean((1, 3)) + 0.3 * rng.standard_normal((N, N))
    lst = xr.DataArray(np.stack([lv, lv]).astype(np.float32), dims=("time", "y", "x"),
                       coords={"time": pd.date_range("2020-07-01", periods=2),
                               "y": fy.reshape(N, 4).mean(1), "x": fx.reshape(N, 4).mean(1)},
                       name="lst", attrs={"units": "K"}).rio.write_crs("EPSG:32616")
    g = xr.DataArray(nd.astype(np.float32), dims=("y", "x"),
                     coords={"y": fy, "x": fx + 1.5 * RES}, name="ndvi").rio.write_crs("EPSG:32616")
    g.attrs["xlstsr_coregistration"] = json.dumps({"applied_shift_x": 10.0,
                                                   "applied_shift_y": 0.0})
    return lst, g


def _guide_advice(msg: str, flag: bool = False) -> None:
    assert "co-registered already" in msg, msg
    assert ("--guide-offset ignore" if flag else "guide_offset='ignore'") in msg, msg
    assert "attrs.pop('xlstsr_coregistration')" in msg, msg
    assert "fine field" not in msg, msg  # apply_offset's own words, not the guide's


def _refused(fn) -> str:
    with warnings.catch_warnings(record=True) as caught:
        warnings.simplefilter("always")
        with pytest.raises(errors.CoregistrationError) as info:
            fn()
    # not told "moved back by it" before the refusal
    assert not any("moved back" in str(w.message) for w in caught)
    return str(info.value)


@pytest.mark.parametrize("form", ["array", "list", "dict", "accessor"])
def test_auto_on_a_coregistered_guide_gives_guide_advice(pair, form):
    lst, g = pair
    if form == "accessor":
        msg = _refused(lambda: lst.lstsr.upscale(4, "tsharp", guide=g, guide_offset="auto"))
    else:
        guide = {"array": g, "list": [g], "dict": {"ndvi": g}}[form]
        msg = _refused(lambda: xlstsr.upscale(lst, 4, "tsharp", guide=guide,
                                              guide_offset="auto"))
    _guide_advice(msg)
    assert "guide_offset='auto'" in msg and "offset from the LST by" in msg


def test_second_band_coregistered_is_named(pair):
    lst, g = pair
    plain = g.copy()
    plain.attrs = {}
    msg = _refused(lambda: xlstsr.upscale(lst, 4, "tsharp", guide={"a": plain, "b": g},
                                          guide_offset="auto"))
    _guide_advice(msg)
    assert "(band 'b')" in msg


def test_offset_dataset_on_a_coregistered_guide_gives_guide_advice(pair):
    lst, g = pair
    off = xlstsr.estimate_offset(g, lst, psf=False, errors="ignore")
    msg = _refused(lambda: xlstsr.upscale(lst, 4, "tsharp", guide=g, guide_offset=off))
    _guide_advice(msg)


def test_upscale_to_zarr_auto_on_a_coregistered_guide_gives_guide_advice(pair, tmp_path):
    lst, g = pair
    msg = _refused(lambda: xlstsr.upscale_to_zarr(lst, tmp_path / "o.zarr", 4, "tsharp",
                                                  guide=g, guide_offset="auto"))
    _guide_advice(msg)


def test_cli_auto_on_a_coregistered_guide_gives_guide_advice(pair, tmp_path, capsys):
    lst, g = pair
    lst.rio.to_raster(tmp_path / "lst.tif")
    g.rio.to_raster(tmp_path / "g.tif")  # the attr is kept as a GeoTIFF tag
    from xlstsr.cli import main

    code = main(["upscale", str(tmp_path / "lst.tif"), str(tmp_path / "sr.tif"),
                 "--factor", "4", "--method", "tsharp", "--guide",
                 str(tmp_path / "g.tif"), "--guide-offset", "auto"])
    assert code != 0
    _guide_advice(capsys.readouterr().err, flag=True)


def test_check_on_a_coregistered_guide_says_how_to_move_it_again(pair):
    lst, g = pair
    with pytest.warns(errors.GuideAlignmentWarning) as caught:
        xlstsr.upscale(lst, 4, "tsharp", guide=g, guide_offset="check")
    said = [str(w.message) for w in caught if "wrong place" in str(w.message)]
    assert said and "co-registered already" in said[0]
    assert "attrs.pop('xlstsr_coregistration')" in said[0]


def test_auto_without_the_record_still_moves_the_guide(pair):
    lst, g = pair
    plain = g.copy()
    plain.attrs = {}
    with pytest.warns(errors.GuideAlignmentWarning, match="moved back"):
        sr = xlstsr.upscale(lst, 4, "tsharp", guide=plain, guide_offset="auto")
    assert sr.shape == (2, 4 * N, 4 * N)


@pytest.mark.parametrize("form", ["Dataset", "dict", "list"])
def test_advice_to_drop_the_record_names_the_band_of_a_keyed_guide(pair, form):
    """The advice to drop the record of one band of a Dataset, dict or list guide pops it
    from that band (``guide.attrs.pop`` raised KeyError / AttributeError when followed)."""
    lst, g = pair
    g = g.copy()  # the advice is followed: the fixture's band keeps its record
    plain = g.copy()
    plain.attrs = {}
    guide = {"Dataset": xr.Dataset({"a": plain, "b": g}) if form == "Dataset" else None,
             "dict": {"a": plain, "b": g}, "list": [plain, g]}[form]
    msg = _refused(lambda: xlstsr.upscale(lst, 4, "tsharp", guide=guide, guide_offset="auto"))
    advice = re.search(r"`(guide\[[^`]+\]\.attrs\.pop\('xlstsr_coregistration'\))`", msg)
    assert advice is not None, msg
    exec(advice.group(1), {"guide": guide})  # followed as written
    assert "xlstsr_coregistration" not in guide[1 if form == "list" else "b"].attrs

"""Sixth round of bad inputs, the file readers (session 10): Landsat, MODIS HDF4, STAC, COG
reading, QC masks, ECOSTRESS scenes.

What the round found still missed after five rounds: a forced ``qc=`` layer of the wrong
overpass (QC_Day for the night LST) or a scaled field (Emis_31) masked pixels by unrelated bits
without a word; an ECOSTRESS LST already in float Kelvin became a scene of NaN (x 0.02 = 6 K),
and the LST_err / QC layers of the same scene in ``LST/`` gave a raw TypeError; STAC bboxes of
numpy integers and items of two products were reported as projection problems; open_cog
dropped ``times`` for one file, kept date strings as text and zone-aware dates as objects, took
repeated dates, and called a folder "not a supported format"; a Landsat 5/7 MTL was a raw
KeyError and ``cloud_confidence=0`` masked every pixel silently. Each test says what happened
before its fix.
"""

from __future__ import annotations

import datetime as dt
import shutil

import numpy as np
import pandas as pd
import pytest
import xarray as xr

import xlstsr
from xlstsr import errors

GRANULE = "mod11a1_hdf/MOD11A1.A2019305.h14v09.006.2019306084028.hdf"


# -- MODIS HDF4 ---------------------------------------------------------------------------------

def test_open_modis_refuses_a_qc_layer_of_the_other_overpass_or_a_scaled_field(shared_data):
    pytest.importorskip("pyhdf")
    g = shared_data / GRANULE
    # before: the night LST masked with the day's clouds (188673 instead of 224088 pixels)
    with pytest.raises(errors.XlstsrError, match=r"day overpass.*qc='QC_Night'"):
        xlstsr.io.open_modis(g, "LST_Night_1km", qc="QC_Day")
    # before: Emis_31 DN read as QC bits, 15398 pixels kept of 333829, no word
    with pytest.raises(errors.XlstsrError, match=r"scaled field.*not a QC bit layer"):
        xlstsr.io.open_modis(g, qc="Emis_31")
    # before: a folder was "no such MODIS granule"; a pattern in a list "no such granule"
    with pytest.raises(errors.InputNotFoundError, match=r"is a folder.*MOD11A1\.\*\.hdf"):
        xlstsr.io.open_modis(g.parent)
    with pytest.raises(errors.InputNotFoundError, match="expanded only when passed alone"):
        xlstsr.io.open_modis([str(g.parent / "*.hdf")])
    assert xlstsr.io.open_modis(g, "LST_Day_1km", qc="QC_Day").shape == (1200, 1200)


# -- QC masks -----------------------------------------------------------------------------------

def test_qc_refuses_a_physical_field_before_computing(shared_data):
    pytest.importorskip("pyhdf")
    from xlstsr import qc

    g = shared_data / GRANULE
    # before: the lazy LST passed for its QC failed only when computed; Emis_31 DN (uint8,
    # scale 0.002) were taken for flags and never failed
    for var, decode in (("LST_Day_1km", True), ("Emis_31", False)):
        with pytest.raises(errors.XlstsrError, match="not a MOD11 8-bit flag layer"):
            qc.modland_mask(xlstsr.io.open_modis(g, var, decode=decode))
    import dask.array as dsa

    with pytest.raises(errors.InputTypeError, match="holds bool values"):  # was lazy
        qc.modland_mask(dsa.from_array(np.array([True, False])))
    assert int(qc.modland_mask(xlstsr.io.open_modis(g, "QC_Day")).sum()) > 0


# -- STAC ---------------------------------------------------------------------------------------

@pytest.fixture(scope="module")
def stac(shared_data):
    pystac = pytest.importorskip("pystac")
    pytest.importorskip("odc.stac")
    cat = pystac.Catalog.from_file(str(shared_data / "modis_h18v04_2020/catalog.json"))
    items = list(cat.get_items(recursive=True))
    lst = [i for i in items if i.collection_id.startswith("modis-11A1")
           and 17 in i.properties["subset:windows"]][:2]
    ndvi = [i for i in items if i.collection_id.startswith("modis-13A2")][:2]
    return lst, ndvi, (1008169, 5500449, 1067472, 5559752)


def test_open_stac_bbox_of_numpy_integers_and_items_of_two_products(stac):
    lst, ndvi, box = stac
    # before: odc-stac's "invalid coordinate 1008169", reported as a projection problem
    out = xlstsr.io.open_stac(lst, "LST_Day_1km", bbox=np.array(box))
    assert out.sizes["x"] == 64 and 260 < float(out.isel(time=0).mean()) < 300
    # before: "No such band/alias: LST_Day_1km ... Items need the projection extension"
    with pytest.raises(errors.XlstsrError, match=r"different assets.*loaded separately"):
        xlstsr.io.open_stac(lst + ndvi, bbox=box)


def test_open_stac_malformed_options_and_codings(stac):
    lst, _, box = stac
    # before: float16 loaded 300 K to 0.25 K and its mean overflowed to inf
    with pytest.raises(errors.XlstsrError, match=r"float16.*0.25 K"):
        xlstsr.io.open_stac(lst, "LST_Day_1km", bbox=box, dtype="float16")
    # before: odc-stac ignored a chunk name that is no dim
    with pytest.raises(errors.XlstsrError, match=r"chunks names \['lat'\]"):
        xlstsr.io.open_stac(lst, "LST_Day_1km", bbox=box, chunks={"lat": 64})
    # before: a raw "'str' object is not callable"
    with pytest.raises(errors.XlstsrError, match="modifier must be a function"):
        xlstsr.io.open_stac(lst, "LST_Day_1km", bbox=box, modifier="sign")
    bad = lst[0].clone()
    bad.assets["LST_Day_1km"].extra_fields["raster:bands"][0]["scale"] = "abc"
    # before: a raw "could not convert string to float: 'abc'"
    with pytest.raises(errors.XlstsrError, match=r"raster:bands scale .* not a number"):
        xlstsr.io.open_stac([bad], "LST_Day_1km", bbox=box)
    bad.assets["LST_Day_1km"].extra_fields["raster:bands"] = {"nodata": 0, "scale": 0.02}
    # before: "has 2 raster:bands" (the dict's two keys)
    with pytest.raises(errors.XlstsrError, match="not a list of band objects"):
        xlstsr.io.open_stac([bad], "LST_Day_1km", bbox=box)


def test_open_stac_takes_a_feature_collection_dict(stac):
    import pystac

    lst, _, box = stac
    fc = pystac.ItemCollection(lst).to_dict()
    # before: iterating the dict gave its keys: "not a STAC item (str: 'type')"
    assert xlstsr.io.open_stac(fc, "LST_Day_1km", bbox=box).sizes["time"] == 2
    assert xlstsr.io.open_stac(lst[0].to_dict(), "LST_Day_1km", bbox=box).sizes["time"] == 1


# -- COG reading --------------------------------------------------------------------------------

def test_open_cog_times_are_dates_once_per_file(shared_data):
    a = shared_data / "modis_aster/001_modis_lst_1km.tif"
    # before: the single file's time was dropped without a word: (y, x)
    one = xlstsr.io.open_cog(a, times=["2020-07-01"])
    assert one.dims == ("time", "y", "x") and one.time.dtype.kind == "M"
    # before: a '<U10' text coordinate
    assert xlstsr.io.open_cog([a, a], times=["2020-07-01", "2020-07-02"]).time.dtype.kind == "M"
    # before: an object coordinate of zone-aware datetimes (now UTC)
    tz = [pd.Timestamp("2020-07-01 12:00", tz="Europe/Paris"),
          dt.datetime(2020, 7, 2, 10, tzinfo=dt.timezone.utc)]
    t = xlstsr.io.open_cog([a, a], times=tz).time.values
    assert t.dtype.kind == "M" and str(t[0])[:16] == "2020-07-01T10:00"
    # before: two steps under one label
    with pytest.raises(errors.XlstsrError, match=r"both .*2020-07-01.*its own time"):
        xlstsr.io.open_cog([a, a], times=["2020-07-01", "2020-07-01"])
    # before: "10 times for 2 paths" (the string's characters)
    with pytest.raises(errors.XlstsrError, match="times must be a list"):
        xlstsr.io.open_cog([a, a], times="2020-07-01")
    assert xlstsr.io.open_cog([a, a], times=[0, 1]).time.values.tolist() == [0, 1]


def test_open_cog_folder_dict_none_and_bool_band(shared_data):
    d = shared_data / "modis_aster"
    # before: "not recognized as being in a supported file format"
    with pytest.raises(errors.InputNotFoundError, match=r"is a folder .*glob\('\*\.tif'\)"):
        xlstsr.io.open_cog(d)
    with pytest.raises(errors.InputTypeError, match=r"got a dict.*times=list"):  # keys as paths
        xlstsr.io.open_cog({"2020-07-01": d / "001_modis_lst_1km.tif"})
    with pytest.raises(errors.InputTypeError, match="a path or a list of paths"):  # TypeError
        xlstsr.io.open_cog(None)
    with pytest.raises(errors.XlstsrError, match="has no band True"):  # raw KeyError
        xlstsr.io.open_cog(d / "001_modis_lst_1km.tif", band=True)


# -- Landsat ------------------------------------------------------------------------------------

def test_landsat_options_and_other_missions(shared_data, tmp_path):
    from xlstsr.io.landsat import open_landsat8_l1

    src = shared_data / "landsat8_gulf_l1"
    # before: every pixel masked as cloud (0) without a word; 2.5 and 4 taken
    for v in (0, 2.5, 4):
        with pytest.raises(errors.XlstsrError, match="cloud_confidence must be"):
            open_landsat8_l1(src, cloud_confidence=v)
    with pytest.raises(errors.XlstsrError, match="must be True or False"):  # "no" was truthy
        open_landsat8_l1(src, mask_water="no")
    # None turns a test off (4 did, unsaid): fewer pixels masked than with the default
    off = open_landsat8_l1(src, cloud_confidence=None, cirrus_confidence=None)
    assert int(off.cloud.sum()) == 0 and int(open_landsat8_l1(src).cloud.sum()) > 0
    # before: a Dataset of NaN only (pre-collection BQA marks clear pixels "low" cloud)
    with pytest.raises(errors.AllNaNError, match=r"every pixel .* Raise the confidences"):
        open_landsat8_l1(src, cloud_confidence=1)
    l7 = tmp_path / "l7"
    shutil.copytree(src, l7)
    mtl = l7 / "l8_MTL.txt"
    mtl.write_text(mtl.read_text().replace("BAND_10", "BAND_6_VCID_1"))
    # before: a raw KeyError 'RADIANCE_MULT_BAND_10'
    with pytest.raises(errors.XlstsrError, match=r"lacks RADIANCE_MULT_BAND_10.*Landsat 5/7"):
        open_landsat8_l1(l7)
    usgs = tmp_path / "usgs"
    usgs.mkdir()
    for f in src.glob("l8_*"):
        shutil.copy(f, usgs / f.name.replace("l8_", "LC08_L1TP_020039_").replace(".tif", ".TIF"))
    # before: "missing .../l8_B10.tif" without the folder's own prefix; then missing for .TIF
    with pytest.raises(errors.InputNotFoundError, match="pass prefix='LC08_L1TP_020039_'"):
        open_landsat8_l1(usgs)
    ds = open_landsat8_l1(usgs, prefix="LC08_L1TP_020039_")
    # the cloud-free 66 % (26 % while BQA "maybe" water, vegetated land here, was masked)
    assert 0.6 < float(ds.bt.notnull().mean()) < 0.7


# -- ECOSTRESS ----------------------------------------------------------------------------------

KEY = "2023172202153"


@pytest.fixture
def eco(shared_data, tmp_path):
    src = shared_data / "ecostress_la"
    for sub in ("LST", "cloud_mask", "water_mask"):
        (tmp_path / sub).mkdir()
        for p in (src / sub).glob(f"*_doy{KEY}_*"):
            shutil.copy(p, tmp_path / sub / p.name)
    return tmp_path


def test_ecostress_other_layers_of_the_scene_in_the_lst_folder(eco):
    from xlstsr.datasets import ecostress

    n = int(ecostress.open_ecostress_scene(KEY, eco).count())
    lst = next((eco / "LST").glob("*.tif"))
    shutil.copy(lst, eco / "LST" / lst.name.replace("_LST_", "_LST_err_"))
    # before: two rows under one key and a raw "TypeError: invalid path or file: key ..."
    assert int(ecostress.open_ecostress_scene(KEY, eco).count()) == n
    assert len(ecostress.ecostress_scenes(eco)) == 1
    lst.unlink()
    with pytest.raises(errors.XlstsrError, match=r"holds no LST layer file.*LST_err"):
        ecostress.ecostress_scenes(eco)


def test_ecostress_float_kelvin_and_scene_by_time(eco):
    import rasterio

    from xlstsr.datasets import ecostress

    ref = ecostress.open_ecostress_scene(KEY, eco)
    p = next((eco / "LST").glob("*.tif"))
    with rasterio.open(p) as s:
        k = s.read(1).astype("float32") * np.float32(0.02)
        prof = s.profile
    k[k == 0] = np.nan
    prof.update(dtype="float32", nodata=np.nan)
    with rasterio.open(p, "w", **prof) as o:
        o.write(k, 1)
        o.scales = (1.0,)
    # before: Kelvin x 0.02 = 6 K, all masked by the bounds: a scene of NaN, no word
    out = ecostress.open_ecostress_scene(KEY, eco)
    xr.testing.assert_allclose(out, ref)
    with rasterio.open(p, "w", **prof) as o:  # Kelvin x 100 in floats: not a temperature
        o.write(k * 100, 1)
    with pytest.raises(errors.XlstsrError, match="not a land temperature"):
        ecostress.open_ecostress_scene(KEY, eco)
    # before: "no ECOSTRESS scene '2023-06-21 13:21:53-07:00'" for the scene's own time
    t = pd.Timestamp("2023-06-21 20:21:53", tz="UTC").tz_convert("America/Los_Angeles")
    with pytest.raises(errors.XlstsrError, match="not a land temperature"):  # found by time
        ecostress.open_ecostress_scene(t, eco)
    assert ecostress._scene_key(t) == ecostress._scene_key("2023-06-21T20:21:53") == KEY


def test_ecostress_masks_of_another_grid(eco):
    import rasterio

    from xlstsr.datasets import ecostress

    p = next((eco / "cloud_mask").glob("*.tif"))
    with rasterio.open(p) as s:
        prof = s.profile
    prof.update(height=10, width=10)
    with rasterio.open(p, "w", **prof) as o:
        o.write(np.zeros((1, 10, 10), prof["dtype"]))
    # before: numpy's raw "operands could not be broadcast together"
    with pytest.raises(errors.GridError, match=r"differ in shape.*not of one granule"):
        ecostress.open_ecostress_scene(KEY, eco)

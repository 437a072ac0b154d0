"""Loaders fed data of other places and damaged or other-collection downloads (corpus 28): the
ECOSTRESS default plausibility bounds on a colder scene, a truncated LST GeoTIFF, a root given
with '~'; the Landsat-8 L1 reader on a Collection 2 folder, its laziness; the DESIREX labels.

The ECOSTRESS scenes are small synthetic granules laid out as AppEEARS delivers them.
"""

from __future__ import annotations

import shutil
import warnings

import numpy as np
import pytest

from xlstsr.datasets import ecostress_scenes, open_ecostress_scene
from xlstsr.datasets.ecostress import ECOSTRESS_BOUNDS
from xlstsr.errors import AllNaNError, InputNotFoundError, XlstsrError
from xlstsr.io.landsat import open_desirex, open_landsat8_l1, read_mtl

DAY, NIGHT = "2024002120000", "2024001010000"  # 12:00, 01:00 UTC: day, night at 18 E


def _write_scene(folder, key, lst_k, *, lon0=18.40, lat0=-33.90):
    """One ECOSTRESS-like granule (uint16 DN = K / 0.02, nodata 0) with clear masks; the LST
    file's path."""
    import rasterio
    from rasterio.transform import from_origin

    t = from_origin(lon0, lat0, 0.00063, 0.00063)
    layers = {"LST": np.round(lst_k / 0.02).astype(np.uint16),
              "cloud_mask": np.zeros(lst_k.shape, np.uint8),
              "water_mask": np.zeros(lst_k.shape, np.uint8)}
    for k, a in layers.items():
        (folder / k).mkdir(exist_ok=True)
        with rasterio.open(folder / k / f"ECO_L2_LSTE.002_{k}_doy{key}_aid0001.tif", "w",
                           driver="GTiff", height=a.shape[0], width=a.shape[1], count=1,
                           dtype=a.dtype, crs="EPSG:4326", transform=t) as dst:
            dst.write(a, 1)
    return folder / "LST" / f"ECO_L2_LSTE.002_LST_doy{key}_aid0001.tif"


def _scene(median, spread=5.0, shape=(60, 80), seed=0):
    return (median + np.random.default_rng(seed).normal(0, spread, shape)).astype(np.float32)


# -- ECOSTRESS ----------------------------------------------------------------------------------

def test_ecostress_default_bounds_warn_or_refuse_on_a_colder_scene(tmp_path):
    """Before: the Los Angeles summer bounds set most (or all) clear pixels of a colder daytime
    scene to NaN without a word."""
    lo, hi = ECOSTRESS_BOUNDS["day"]
    cold = _scene(lo - 3.0)  # most pixels below the default day bound
    _write_scene(tmp_path, DAY, cold)
    removed = float(np.mean((cold < lo) | (cold > hi)))
    assert removed > 0.5
    with pytest.warns(UserWarning, match=rf"{removed:.0%} of its .* clear land pixels.*bounds="):
        da = open_ecostress_scene(DAY, tmp_path)
    assert np.isfinite(da.values).mean() == pytest.approx(1 - removed, abs=0.01)
    with pytest.warns(UserWarning, match="bounds="):  # the common grid too
        open_ecostress_scene(DAY, tmp_path, resolution=280)
    # bounds given: applied without a word
    with warnings.catch_warnings():
        warnings.simplefilter("error")
        wide = open_ecostress_scene(DAY, tmp_path, bounds=(lo - 40, hi))
    assert np.isfinite(wide.values).all()


def test_ecostress_default_bounds_removing_every_pixel_raise(tmp_path):
    lo = ECOSTRESS_BOUNDS["day"][0]
    _write_scene(tmp_path, DAY, _scene(lo - 25.0, spread=2.0))
    with pytest.raises(AllNaNError, match=r"all its \d+ clear land pixels.*bounds="):
        open_ecostress_scene(DAY, tmp_path)
    assert np.isfinite(open_ecostress_scene(DAY, tmp_path, bounds=(150, 400)).values).all()


def test_ecostress_default_bounds_quiet_on_a_scene_they_fit(tmp_path):
    lo, hi = ECOSTRESS_BOUNDS["night"]
    t = _scene((lo + hi) / 2)
    t[0, :3] = lo - 10  # a few undetected cloud edges: what the bounds are for
    _write_scene(tmp_path, NIGHT, t)
    with warnings.catch_warnings():
        warnings.simplefilter("error")
        da = open_ecostress_scene(NIGHT, tmp_path)
    assert np.isnan(da.values[0, :3]).all() and np.isfinite(da.values).sum() == t.size - 3


def _truncate(path):
    data = path.read_bytes()
    path.write_bytes(data[: len(data) // 2])  # header intact, strips cut


def test_ecostress_truncated_lst_file_named_and_left_out_of_the_listing(tmp_path):
    """Before: rasterio's bare "Read failed. See previous exception for details." from the
    listing of the whole folder (no scenes.csv: it counts each scene's clear pixels) and from
    opening the scene."""
    _write_scene(tmp_path, NIGHT, _scene(290.0))
    bad = _write_scene(tmp_path, DAY, _scene(300.0, seed=1))
    _truncate(bad)
    with pytest.warns(UserWarning, match=rf"1 of the 2 scenes .* cannot be read .*{bad.name}"):
        scenes = ecostress_scenes(tmp_path)
    assert list(scenes.index) == [NIGHT]
    for call in (lambda: open_ecostress_scene(DAY, tmp_path),
                 lambda: open_ecostress_scene(bad.name, tmp_path)):
        with pytest.warns(UserWarning, match="cannot be read"), \
                pytest.raises(XlstsrError, match=rf"{bad.name} cannot be read.*Download it again"):
            call()
    with pytest.warns(UserWarning, match="cannot be read"):
        assert np.isfinite(open_ecostress_scene(NIGHT, tmp_path).values).all()


def test_ecostress_truncated_file_listed_in_scenes_csv_is_named(tmp_path):
    good = _write_scene(tmp_path, NIGHT, _scene(290.0))
    bad = _write_scene(tmp_path, DAY, _scene(300.0, seed=1))
    # a full table: the listing reads no file, opening the scene does
    rows = [f"{p.name},{p.name.replace('_LST_', '_cloud_mask_')},"
            f"{p.name.replace('_LST_', '_water_mask_')},{dn},{t},{key},4800"
            for p, dn, t, key in ((good, "night", "2024-01-01T01:00:00Z", NIGHT),
                                  (bad, "day", "2024-01-02T12:00:00Z", DAY))]
    (tmp_path / "scenes.csv").write_text(
        "file,cloud_mask,water_mask,day_night,datetime_utc,overpass,n_valid\n"
        + "\n".join(rows) + "\n")
    _truncate(tmp_path / "cloud_mask" / bad.name.replace("_LST_", "_cloud_mask_"))
    with pytest.raises(XlstsrError, match=r"_cloud_mask_doy\d+_aid0001.tif cannot be read"):
        open_ecostress_scene(DAY, tmp_path)
    _truncate(bad)
    with pytest.raises(XlstsrError, match=rf"{bad.name} cannot be read"):
        open_ecostress_scene(DAY, tmp_path)
    with warnings.catch_warnings():  # the other scene: read as before
        warnings.simplefilter("error")
        assert np.isfinite(open_ecostress_scene(NIGHT, tmp_path).values).all()


def test_ecostress_root_with_tilde_is_the_folder_itself(tmp_path, monkeypatch):
    """Before: '~/eco' (the folder itself) was taken for a data folder holding ecostress_la/
    and refused, advising to pass the folder."""
    (tmp_path / "eco").mkdir()
    lst = _write_scene(tmp_path / "eco", NIGHT, _scene(290.0))
    monkeypatch.setenv("HOME", str(tmp_path))
    assert list(ecostress_scenes("~/eco").index) == [NIGHT]
    assert np.isfinite(open_ecostress_scene(NIGHT, "~/eco").values).all()
    # a scene's file, given with '~', stands for its folder too
    assert list(ecostress_scenes(f"~/eco/LST/{lst.name}").index) == [NIGHT]


# -- Landsat-8 L1 -------------------------------------------------------------------------------

def _mtl(folder, name, collection, level):
    (folder / name).write_text(
        "GROUP = L1_METADATA_FILE\n  GROUP = PRODUCT_CONTENTS\n"
        f'    COLLECTION_NUMBER = {collection}\n    PROCESSING_LEVEL = "{level}"\n'
        "  END_GROUP = PRODUCT_CONTENTS\nEND_GROUP = L1_METADATA_FILE\nEND\n")


def test_landsat8_l1_collection_2_refused_from_the_mtl_before_any_band(tmp_path):
    """Before: the Collection 2 refusal came after every band was opened: a Collection 2
    folder (no BQA) got "missing ..._BQA.tif: check prefix=", a Level-2 one advice flipping
    between its ST_ and SR_ files."""
    l1 = tmp_path / "l1"
    l1.mkdir()
    _mtl(l1, "LC08_L1TP_020039_20150804_20200908_02_T1_MTL.txt", "02", "L1TP")
    for prefix in ("l8_", "LC08_L1TP_020039_20150804_20200908_02_T1_"):
        with pytest.raises(XlstsrError, match=r"Collection 2 .*QA_PIXEL.*open_landsat_c2l2") as e:
            open_landsat8_l1(l1, prefix=prefix)
        assert not isinstance(e.value, InputNotFoundError) and "prefix=" not in str(e.value)
    l2 = tmp_path / "l2"
    l2.mkdir()
    _mtl(l2, "LC08_L2SP_020039_20150804_20200908_02_T1_MTL.txt", "02", "L2SP")
    with pytest.raises(XlstsrError, match=r"Level-2 scene: open it with .*open_landsat_c2l2"):
        open_landsat8_l1(l2)
    # a Level-2 folder told by its files, the MTL not saying the level
    l2b = tmp_path / "l2b"
    l2b.mkdir()
    _mtl(l2b, "LC08_L2SP_020039_20150804_20200908_02_T1_MTL.txt", "02", "")
    (l2b / "LC08_L2SP_020039_20150804_20200908_02_T1_ST_B10.TIF").write_bytes(b"")
    with pytest.raises(XlstsrError, match=r"Level-2 scene: open it with"):
        open_landsat8_l1(l2b)


def test_landsat8_l1_is_lazy_float32_and_equals_the_float64_formula(shared_data):
    """Before: every band read and decoded in float64 at open (numpy, ~77 B/pixel), although
    every reader of xlstsr.io is documented lazy."""
    import dask.array as dsa
    import rasterio

    src = shared_data / "landsat8_gulf_l1"
    ds = open_landsat8_l1(src)
    for v in ("bt", "ndvi", "cloud", "water"):
        assert isinstance(ds[v].data, dsa.Array), v
    assert ds["bt"].dtype == np.float32 and ds["ndvi"].dtype == np.float32
    mtl = read_mtl(src / "l8_MTL.txt")
    band = {b: rasterio.open(src / f"l8_{b}.tif").read(1).astype(np.float64)
            for b in ("B4", "B5", "B10")}
    rad = float(mtl["RADIANCE_MULT_BAND_10"]) * band["B10"] + float(mtl["RADIANCE_ADD_BAND_10"])
    bt = float(mtl["K2_CONSTANT_BAND_10"]) / np.log(float(mtl["K1_CONSTANT_BAND_10"]) / rad + 1)
    r4, r5 = (float(mtl[f"REFLECTANCE_MULT_BAND_{b}"]) * band[f"B{b}"]
              + float(mtl[f"REFLECTANCE_ADD_BAND_{b}"]) for b in (4, 5))
    got_bt, got_ndvi = ds["bt"].values, ds["ndvi"].values
    keep = np.isfinite(got_bt)
    assert 0.3 < keep.mean() < 1 and (np.isfinite(got_ndvi) == keep).all()
    # float32 precision: bt within 2 ulp of ~300 K, NDVI (a ratio in [-1, 1]) within 1e-6
    np.testing.assert_allclose(got_bt[keep], bt[keep], rtol=2.5e-7)
    np.testing.assert_allclose(got_ndvi[keep], ((r5 - r4) / (r5 + r4))[keep], rtol=0, atol=1e-6)


def test_landsat8_l1_collection_1_water_is_lazy(shared_data, tmp_path):
    src = shared_data / "landsat8_gulf_l1"
    prefix = "LC08_L1TP_020039_20150804_20170406_01_T1_"
    for b in ("B4", "B5", "B10", "BQA"):
        shutil.copy(src / f"l8_{b}.tif", tmp_path / f"{prefix}{b}.TIF")
    mtl = (src / "l8_MTL.txt").read_text()
    first = mtl.index("LANDSAT_SCENE_ID")
    (tmp_path / f"{prefix}MTL.txt").write_text(
        mtl[:first] + "COLLECTION_NUMBER = 01\n    " + mtl[first:])
    ds = open_landsat8_l1(tmp_path, prefix=prefix, mask_water=False)
    assert ds["water"].chunks is not None and not bool(ds["water"].any())
    assert ds["cloud"].attrs == {} and ds["water"].attrs == {}


# -- DESIREX ------------------------------------------------------------------------------------

@pytest.mark.parametrize("variable", ["Class", "Albedo", "NDBI"])
def test_desirex_labels_come_from_the_layer_read(shared_data, variable):
    """Before: the Class layer was labelled 'Albedo' and the Albedo layer 'Class' (the swapped
    ENVI headers' band names and descriptions passed through)."""
    da = open_desirex(shared_data / "madrid_desirex", variable, 100)
    assert variable in da.attrs["long_name"]
    other = {"Class": "Albedo", "Albedo": "Class", "NDBI": "Albedo"}[variable]
    assert not any(other in str(v) for v in da.attrs.values())
    assert not {"description", "band_names", "Band_1"} & set(da.attrs)

"""Readers fed files as their producers write them (corpus 25): a MODIS/ASTER pair stored with a
declared GDAL scale, a Collection 2 Level-2 MTL naming its Level-1 source, the embedded MODIS
sample's red / nir attrs, and the Landsat-8 L1 BQA's "maybe" water class.

The MODIS/ASTER files are the embedded pair 002 written again as MODIS distributes its products
(uint16 / int16 with a scale); the Level-2 scenes are small uint16 GeoTIFFs in USGS's layout.
"""

from __future__ import annotations

import shutil
import warnings
from pathlib import Path

import numpy as np
import pytest
import rasterio
from affine import Affine

from xlstsr.datasets import modis_aster_arrays, modis_sample, open_modis_aster_pair
from xlstsr.datasets.sample import SAMPLE_DIR
from xlstsr.errors import InputNotFoundError, XlstsrError
from xlstsr.io import open_landsat8_l1, open_landsat_c2l2

PAIR = "002"
SRC = SAMPLE_DIR / "modis_aster"


def _rewrite(src: Path, dst: Path, values: np.ndarray, dtype: str, *,
             nodata: float | None, scale: float) -> None:
    """``src`` written again as ``dst`` holding ``values`` as ``dtype`` with a declared scale."""
    with rasterio.open(src) as s:
        profile = s.profile
    profile.update(dtype=dtype, nodata=nodata)
    with rasterio.open(dst, "w", **profile) as d:
        d.write(values.astype(dtype), 1)
        d.scales, d.offsets = (scale,), (0.0,)


def _read(path: Path) -> np.ndarray:
    with rasterio.open(path) as s:
        return s.read(1).astype(np.float64)


def _pair_folder(root: Path) -> Path:
    folder = root / "modis_aster"
    folder.mkdir(parents=True)
    shutil.copy(SRC / "pairs.csv", folder)
    for kind in ("modis_lst_1km", "modis_ndvi_250m", "aster_lst_250m"):
        shutil.copy(SRC / f"{PAIR}_{kind}.tif", folder)
    return folder


def _open(root: Path):
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        return open_modis_aster_pair(PAIR, root=root)


def test_a_modis_aster_pair_is_decoded_with_the_scale_its_files_declare(tmp_path: Path) -> None:
    """MODIS LST stored as MOD11A1 does (uint16 x 0.02, nodata 0) and NDVI as MOD13 (int16 x
    0.0001) read in K and NDVI units, as the float32 originals: the declared scale was dropped
    and the DN (~15 000) labelled K, in the training arrays too."""
    lst0, ndvi0, aster0 = _open(SAMPLE_DIR)
    folder = _pair_folder(tmp_path)
    k = _read(SRC / f"{PAIR}_modis_lst_1km.tif")
    _rewrite(SRC / f"{PAIR}_modis_lst_1km.tif", folder / f"{PAIR}_modis_lst_1km.tif",
             np.where(np.isfinite(k), np.round(k / 0.02), 0), "uint16", nodata=0, scale=0.02)
    n = _read(SRC / f"{PAIR}_modis_ndvi_250m.tif")
    _rewrite(SRC / f"{PAIR}_modis_ndvi_250m.tif", folder / f"{PAIR}_modis_ndvi_250m.tif",
             np.where(np.isfinite(n), np.round(n / 1e-4), -3000), "int16", nodata=-3000,
             scale=1e-4)
    lst, ndvi, aster = _open(tmp_path)
    assert lst.attrs["units"] == "K"
    np.testing.assert_allclose(lst.values, lst0.values, atol=0.011)  # half a DN of 0.02 K
    np.testing.assert_array_equal(np.isnan(lst.values), np.isnan(lst0.values))
    np.testing.assert_allclose(ndvi.values, ndvi0.values, atol=6e-5)
    np.testing.assert_array_equal(aster.values, aster0.values)
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        arr = modis_aster_arrays([PAIR], root=tmp_path)
    np.testing.assert_allclose(arr["lst"][0], lst0.values, atol=0.011)


def test_an_aster_file_declaring_its_scale_is_decoded_with_it(tmp_path: Path) -> None:
    """An ASTER truth stored as uint16 K x 10 with that scale declared (0.1) is decoded with it
    (it was refused, with advice naming a reference_scale open_modis_aster_pair does not take);
    one declaring none still gets the K x 10 default."""
    *_, aster0 = _open(SAMPLE_DIR)
    stored = _read(SRC / f"{PAIR}_aster_lst_250m.tif")  # K x 10, 0 outside the scene
    folder = _pair_folder(tmp_path)
    _rewrite(SRC / f"{PAIR}_aster_lst_250m.tif", folder / f"{PAIR}_aster_lst_250m.tif",
             np.round(stored), "uint16", nodata=None, scale=0.1)
    *_, aster = _open(tmp_path)
    assert aster.attrs["units"] == "K"
    np.testing.assert_array_equal(np.isnan(aster.values), np.isnan(aster0.values))
    np.testing.assert_allclose(aster.values, aster0.values, atol=0.051)  # the rounding above
    _rewrite(SRC / f"{PAIR}_aster_lst_250m.tif", folder / f"{PAIR}_aster_lst_250m.tif",
             np.round(stored), "uint16", nodata=None, scale=1.0)
    *_, undeclared = _open(tmp_path)
    np.testing.assert_allclose(undeclared.values, aster.values, atol=1e-4)


L2 = "LC08_L2SP_020039_20150804_20200908_02_T1"
L1 = "LC08_L1TP_020039_20150804_20200908_02_T1"


def _c2l2_scene(folder: Path, product: str, level1: str) -> None:
    """A 6 x 6 Landsat 8 Level-2 scene whose MTL lists LANDSAT_PRODUCT_ID in PRODUCT_CONTENTS,
    LEVEL2_PROCESSING_RECORD and, last, LEVEL1_PROCESSING_RECORD (the Level-1 source), as
    USGS writes it."""
    folder.mkdir(parents=True, exist_ok=True)
    bands = {"ST_B10": np.full((6, 6), 42000), "QA_PIXEL": np.full((6, 6), 1 << 6)}
    for band, values in bands.items():
        with rasterio.open(folder / f"{product}_{band}.TIF", "w", driver="GTiff", height=6,
                           width=6, count=1, dtype="uint16", crs="EPSG:32616",
                           transform=Affine(30.0, 0, 300_000.0, 0, -30.0, 3_400_000.0)) as d:
            d.write(values.astype("uint16"), 1)
    (folder / f"{product}_MTL.txt").write_text(f'''GROUP = LANDSAT_METADATA_FILE
  GROUP = PRODUCT_CONTENTS
    LANDSAT_PRODUCT_ID = "{product}"
    PROCESSING_LEVEL = "L2SP"
  END_GROUP = PRODUCT_CONTENTS
  GROUP = IMAGE_ATTRIBUTES
    SPACECRAFT_ID = "LANDSAT_8"
    DATE_ACQUIRED = 2015-08-04
    SCENE_CENTER_TIME = "16:19:21.7917421Z"
  END_GROUP = IMAGE_ATTRIBUTES
  GROUP = LEVEL2_PROCESSING_RECORD
    LANDSAT_PRODUCT_ID = "{product}"
  END_GROUP = LEVEL2_PROCESSING_RECORD
  GROUP = LEVEL1_PROCESSING_RECORD
    LANDSAT_PRODUCT_ID = "{level1}"
    PROCESSING_LEVEL = "L1TP"
  END_GROUP = LEVEL1_PROCESSING_RECORD
END_GROUP = LANDSAT_METADATA_FILE
END
''')


def test_c2l2_scene_attr_is_the_level2_product_id(tmp_path: Path) -> None:
    """attrs['scene'] is PRODUCT_CONTENTS' Level-2 ID (the flattened MTL gave the last one,
    the Level-1 source's), so prefix=ds.attrs['scene'] reopens the scene in a folder of two."""
    other = L2.replace("0804", "0820")
    _c2l2_scene(tmp_path, L2, L1)
    _c2l2_scene(tmp_path, other, L1.replace("0804", "0820"))
    ds = open_landsat_c2l2(tmp_path, prefix=L2)
    assert ds.attrs["scene"] == L2
    again = open_landsat_c2l2(tmp_path, prefix=ds.attrs["scene"])
    np.testing.assert_array_equal(again["lst"].values, ds["lst"].values)


def test_c2l2_missing_file_hint_names_the_files_with_their_underscore(tmp_path: Path) -> None:
    """A product ID of no file of the folder: the hint names ``{ID}_ST_B10.TIF`` as USGS does
    (it read ``..._T2ST_B10.TIF``)."""
    _c2l2_scene(tmp_path, L2, L1)
    missing = L2.replace("_T1", "_T2")
    with pytest.raises(InputNotFoundError) as e:
        open_landsat_c2l2(tmp_path, prefix=missing)
    msg = str(e.value)
    assert f"{missing}_ST_B10.TIF" in msg and f"{missing}_QA_PIXEL.TIF" in msg
    assert f"{missing}ST_B10" not in msg


def test_modis_sample_red_nir_attrs_describe_the_cube() -> None:
    """red / nir kept one file's tags: source_granule of one of the 8 composites, windows of a
    whole-tile file; they have the LST's kind of attrs now, with reflectance units."""
    ds = modis_sample(chunks=False)
    for v in ("red", "nir"):
        attrs = ds[v].attrs
        assert attrs["units"] == "1" and "MOD13A2" in attrs["long_name"]
        assert not {"source_granule", "windows", "source_subdataset"} & set(attrs)
    assert float(ds.red.max()) <= 1.0  # decoded reflectance, as the units say


def test_landsat8_l1_water_is_high_confidence_by_default(shared_data: Path) -> None:
    """The default water mask takes BQA water confidence 3 only; the "maybe" class (2), which
    on the shared scene is vegetated land (NDVI > 0.2), is masked with water_confidence="medium"
    only; any other value is refused."""
    folder = shared_data / "landsat8_gulf_l1"
    with rasterio.open(folder / "l8_BQA.tif") as s:
        level = (s.read(1).astype(np.uint16) >> 4) & 0b11
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        ds = open_landsat8_l1(folder)
        medium = open_landsat8_l1(folder, water_confidence="medium")
        dry = open_landsat8_l1(folder, mask_water=False)
    np.testing.assert_array_equal(ds["water"].values, level == 3)
    np.testing.assert_array_equal(medium["water"].values, level >= 2)
    maybe = (level == 2) & ~ds["cloud"].values & np.isfinite(dry["ndvi"].values)
    assert maybe.any() and np.median(dry["ndvi"].values[maybe]) > 0.2  # land, not water
    kept = np.isfinite(ds["bt"].values)
    np.testing.assert_array_equal(kept, np.isfinite(dry["bt"].values) & ~(level == 3))
    assert kept.sum() > np.isfinite(medium["bt"].values).sum()
    for bad in ("low", "High", 2, None):
        with pytest.raises(XlstsrError, match="water_confidence must be 'high'"):
            open_landsat8_l1(folder, water_confidence=bad)


@pytest.mark.realdata
def test_landsat8_l1_masks_high_confidence_water(shared_data: Path, tmp_path: Path) -> None:
    """The shared scene has no pixel of water confidence 3, so the default's own masking is
    checked on a copy whose BQA carries a block of them (and a block of "maybe" water): the
    first is water and NaN in bt/ndvi by default, the second only with "medium"."""
    folder = tmp_path / "l1"
    folder.mkdir()
    for f in (shared_data / "landsat8_gulf_l1").iterdir():
        shutil.copyfile(f, folder / f.name)  # contents only: the copies are writable
    with rasterio.open(folder / "l8_BQA.tif") as s:
        q = s.read(1)
    q = q.copy()
    fill = q == 1  # designated fill: left alone
    yes = np.zeros(q.shape, bool)
    yes[100:140, 200:260] = True
    maybe = np.zeros(q.shape, bool)
    maybe[300:330, 300:350] = True
    yes &= ~fill
    maybe &= ~fill
    q[yes] = (q[yes] & ~np.uint16(0x30)) | np.uint16(0x30)
    q[maybe] = (q[maybe] & ~np.uint16(0x30)) | np.uint16(0x20)
    q[~(yes | maybe)] &= ~np.uint16(0x30)  # no other water anywhere
    # in place: GDAL's "w" deletes what it takes for the dataset's sidecar files, the MTL too
    with rasterio.open(folder / "l8_BQA.tif", "r+") as d:
        d.write(q, 1)
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        ds = open_landsat8_l1(folder)
        medium = open_landsat8_l1(folder, water_confidence="medium")
        dry = open_landsat8_l1(folder, mask_water=False)
    assert yes.sum() > 1000
    np.testing.assert_array_equal(ds["water"].values, yes)
    np.testing.assert_array_equal(dry["water"].values, yes)  # the variable, whatever mask_water
    np.testing.assert_array_equal(medium["water"].values, yes | maybe)
    clear = np.isfinite(dry["bt"].values)
    assert (clear & yes).sum() > 1000 and (clear & maybe).sum() > 500
    for name in ("bt", "ndvi"):
        assert np.isnan(ds[name].values[yes]).all()
        np.testing.assert_array_equal(np.isfinite(ds[name].values[maybe]),
                                      np.isfinite(dry[name].values[maybe]))
        assert np.isnan(medium[name].values[maybe]).all()

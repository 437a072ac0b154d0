"""Corpus 34 (f): reader advice for a truncated MODIS HDF4 granule and a Collection 2 Level-1
Landsat scene."""

from __future__ import annotations

from pathlib import Path

import pytest

from xlstsr.errors import InputNotFoundError, XlstsrError

GRANULE = Path("/work/shared/data/mod11a1_hdf/MOD11A1.A2019305.h14v09.006.2019306084028.hdf")


# --- 01: a truncated HDF4 granule is told damaged (download again), not "use xarray" ----------

@pytest.mark.parametrize("cut", [100, 50_000, "half"])
def test_truncated_hdf4_granule_is_told_damaged_not_another_format(tmp_path, cut):
    pytest.importorskip("pyhdf")
    if not GRANULE.is_file():
        pytest.skip(f"the shared MODIS granule {GRANULE} is absent")
    from xlstsr.io import open_modis

    data = GRANULE.read_bytes()
    keep = len(data) // 2 if cut == "half" else len(data) - cut
    p = tmp_path / "MOD11A1.A2019305.h14v09.006.cut.hdf"
    p.write_bytes(data[:keep])  # an interrupted download: the HDF4 signature is still there
    with pytest.raises(XlstsrError) as info:
        open_modis(p)
    msg = str(info.value)
    assert "damaged or truncated" in msg and "Download it again" in msg
    assert str(p) in msg and f"{keep:,} bytes" in msg
    assert "xarray.open_dataset" not in msg and "not a readable HDF4" not in msg


def test_file_without_hdf4_signature_keeps_the_other_format_hint(tmp_path):
    pytest.importorskip("pyhdf")
    from xlstsr.io import open_modis

    p = tmp_path / "MOD11A1.A2019305.h14v09.006.hdf"
    p.write_bytes(b"\x89HDF\r\n\x1a\n" + b"\0" * 2000)  # an HDF5 signature
    with pytest.raises(XlstsrError, match="not a readable HDF4 file") as info:
        open_modis(p)
    assert "xarray.open_dataset" in str(info.value) and "truncated" not in str(info.value)


# --- 02: a Collection 2 Level-1 scene is not sent to open_landsat8_l1 (which refuses it) ------

C2L1 = "LC08_L1TP_044034_20230815_20230822_02_T1_"
C1L1 = "LC08_L1TP_044034_20170815_20170822_01_T1_"


def _mtl(collection: str, product: str) -> str:
    return f"""GROUP = LANDSAT_METADATA_FILE
  GROUP = PRODUCT_CONTENTS
    LANDSAT_PRODUCT_ID = "{product}"
    COLLECTION_NUMBER = {collection}
    PROCESSING_LEVEL = "L1TP"
  END_GROUP = PRODUCT_CONTENTS
END_GROUP = LANDSAT_METADATA_FILE
END
"""


def _scene(folder: Path, prefix: str, bands: tuple[str, ...], mtl: str | None) -> Path:
    folder.mkdir(exist_ok=True)
    for b in bands:  # the names are what tells; no band is read before the refusal
        (folder / f"{prefix}{b}.TIF").write_bytes(b"")
    if mtl is not None:
        (folder / f"{prefix}MTL.txt").write_text(_mtl(mtl, prefix.rstrip("_")))
    return folder


def _advice() -> str:
    """The advice open_landsat8_l1 gives a Collection 2 Level-1 scene (its own words)."""
    return "Download its Level-2 product (LC08_L2SP_..., surface temperature)"


@pytest.mark.parametrize("bands, mtl", [
    (("B4", "B5", "B10", "QA_PIXEL"), "02"),  # as USGS delivers it
    (("B4", "B5", "B10"), "02"),  # told by the MTL alone
    (("B4", "B5", "B10", "QA_PIXEL"), None),  # told by QA_PIXEL (no MTL)
    (("B10",), None),  # told by "_02_" in the product ID alone
])
def test_c2_level1_folder_gets_level2_advice_not_open_landsat8_l1(tmp_path, bands, mtl):
    from xlstsr.io import open_landsat_c2l2

    d = _scene(tmp_path / "scene", C2L1, bands, mtl)
    with pytest.raises(InputNotFoundError) as info:
        open_landsat_c2l2(d)
    msg = str(info.value)
    assert "Collection 2 Level-1" in msg and f"{C2L1}B10.TIF" in msg
    assert "L2SP" in msg and _advice() in msg
    assert "open_landsat8_l1" not in msg


@pytest.mark.parametrize("how", ["prefix", "product_id", "b10_file", "qa_file"])
def test_c2_level1_scene_named_by_prefix_or_file_gets_level2_advice(tmp_path, how):
    from xlstsr.io import open_landsat_c2l2

    d = _scene(tmp_path / "scene", C2L1, ("B4", "B5", "B10", "QA_PIXEL"), "02")
    call = {"prefix": lambda: open_landsat_c2l2(d, prefix=C2L1),
            "product_id": lambda: open_landsat_c2l2(d, prefix=C2L1.rstrip("_")),
            "b10_file": lambda: open_landsat_c2l2(d / f"{C2L1}B10.TIF"),
            "qa_file": lambda: open_landsat_c2l2(d / f"{C2L1}QA_PIXEL.TIF")}[how]
    with pytest.raises(InputNotFoundError) as info:
        call()
    msg = str(info.value)
    assert "Collection 2 Level-1" in msg and _advice() in msg
    assert "open_landsat8_l1" not in msg


def test_both_readers_give_a_c2_level1_scene_the_same_advice(tmp_path):
    from xlstsr.io import open_landsat8_l1, open_landsat_c2l2

    d = _scene(tmp_path / "scene", C2L1, ("B4", "B5", "B10", "QA_PIXEL"), "02")
    with pytest.raises(XlstsrError) as l1:
        open_landsat8_l1(d, prefix=C2L1)
    with pytest.raises(XlstsrError) as l2:
        open_landsat_c2l2(d)
    said = str(l1.value)
    assert _advice() in said
    assert said[said.index(_advice()):] in str(l2.value)  # the whole advice, word for word


def test_collection1_bqa_folder_is_still_sent_to_open_landsat8_l1(tmp_path):
    from xlstsr.io import open_landsat_c2l2

    d = _scene(tmp_path / "scene", C1L1, ("B4", "B5", "B10", "BQA"), "01")
    with pytest.raises(InputNotFoundError) as info:
        open_landsat_c2l2(d)
    msg = str(info.value)
    assert "open_landsat8_l1" in msg and "Collection 2 Level-1" not in msg
    with pytest.raises(InputNotFoundError) as info:
        open_landsat_c2l2(d / f"{C1L1}B10.TIF")
    assert "open_landsat8_l1" in str(info.value)

"""Bad inputs, corpus 27 (upscale_to_zarr's modes, open_stac's keywords): the default mode="w-"
read the input's fingerprint sample and the whole static guide (twice) before refusing a store
that exists; mode="resume" on a folder of the user's other files advised mode="w", which was
then refused; open_stac's default engine (odc-stac) dropped keywords it does not know
(stackstac's ``bounds_latlon=``, a typo) and loaded the whole tile at native resolution.
"""

from __future__ import annotations

import threading
from pathlib import Path

import pytest

import xlstsr
from xlstsr import errors
from xlstsr.engine import to_zarr

DATA = Path("/work/shared/data/modis_h18v04_2020")


@pytest.fixture(scope="module")
def scene():
    return xlstsr.datasets.sample_scene(n_times=4, size=64)


def _counted(da, chunks, reads, key):
    """``da`` chunked, each block read counting into ``reads[key]``."""
    lock = threading.Lock()

    def read(block):
        with lock:
            reads[key] += 1
        return block

    lazy = da.chunk(chunks)
    return lazy.copy(data=lazy.data.map_blocks(read, dtype=lazy.dtype))


def _unreadable(da, chunks):
    """``da`` chunked, each block raising when read."""
    def read(block):
        raise AssertionError("a block was read")

    lazy = da.chunk(chunks)
    return lazy.copy(data=lazy.data.map_blocks(read, dtype=lazy.dtype))


def test_existing_store_refused_before_any_read(scene, tmp_path):
    store = tmp_path / "sr.zarr"
    xlstsr.upscale_to_zarr(scene["lst_1km"], store, factor=4, progress=False)
    lst = _unreadable(scene["lst_1km"], {"time": 1})
    guide = _unreadable(scene["ndvi_250m"], 32)
    with pytest.raises(errors.XlstsrError, match="exists; pass mode='w'"):
        xlstsr.upscale_to_zarr(lst, store, factor=4, method="tsharp", guide=guide,
                               progress=False)


def test_resume_of_a_complete_store_does_not_read_the_whole_guide(scene, tmp_path,
                                                                  monkeypatch):
    # the fingerprint samples a window of the guide, smaller than this small guide
    monkeypatch.setattr(to_zarr, "FINGERPRINT_WINDOW", 16)
    store = tmp_path / "sr.zarr"
    reads = {"guide": 0}
    lst = scene["lst_1km"].chunk({"time": 1})
    guide = _counted(scene["ndvi_250m"], 8, reads, "guide")
    n_chunks = guide.data.npartitions
    xlstsr.upscale_to_zarr(lst, store, factor=4, method="tsharp", guide=guide, progress=False)
    reads["guide"] = 0
    out = xlstsr.upscale_to_zarr(lst, store, factor=4, method="tsharp", guide=guide,
                                 mode="resume", progress=False)
    assert out.shape == (scene["lst_1km"].sizes["time"], *scene["ndvi_250m"].shape[-2:])
    # the fingerprint reads a sample of it; the persist of the cut (for regions that are all
    # written already) read all of it
    assert reads["guide"] < n_chunks, (reads, n_chunks)


@pytest.mark.parametrize("mode", ["resume", "w-"])
def test_plain_folder_is_not_a_store_to_resume_or_overwrite(scene, tmp_path, mode):
    folder = tmp_path / "results"
    folder.mkdir()
    (folder / "notes.txt").write_text("my notes")
    with pytest.raises(errors.XlstsrError, match="not a Zarr store") as err:
        xlstsr.upscale_to_zarr(scene["lst_1km"], folder, factor=2, mode=mode, progress=False)
    assert "mode='w'" not in str(err.value) and "new path" in str(err.value)
    assert (folder / "notes.txt").read_text() == "my notes"
    assert [p.name for p in folder.iterdir()] == ["notes.txt"]


def test_plain_folder_overwrite_still_refused(scene, tmp_path):
    folder = tmp_path / "results"
    folder.mkdir()
    (folder / "notes.txt").write_text("my notes")
    with pytest.raises(errors.XlstsrError, match="holds other files and no Zarr store"):
        xlstsr.upscale_to_zarr(scene["lst_1km"], folder, factor=2, mode="w", progress=False)
    assert (folder / "notes.txt").read_text() == "my notes"


@pytest.fixture(scope="module")
def items():
    if not (DATA / "catalog.json").exists():
        pytest.skip(f"the shared MODIS catalog ({DATA}) is absent")
    pystac = pytest.importorskip("pystac")
    pytest.importorskip("odc.stac")
    cat = pystac.Catalog.from_file(str(DATA / "catalog.json"))
    found = [i for i in cat.get_items(recursive=True)
             if i.collection_id.startswith("modis-11A1")]
    if not found:
        pytest.skip("the shared catalog holds no MOD11A1 items")
    return found[:2]


@pytest.mark.parametrize(("kw", "said"), [
    ({"bounds_latlon": (11.0, 43.0, 12.0, 44.0)}, "engine='stackstac' cannot load these items"),
    ({"resolutoin": 463.3}, "resolution="),
    ({"group_by": "solar_day"}, "groupby="),
])
def test_open_stac_refuses_keywords_odc_does_not_take(items, kw, said):
    name = next(iter(kw))
    with pytest.raises(errors.XlstsrError, match=f"{name}=.*odc.stac.load") as err:
        xlstsr.io.open_stac(items, "LST_Day_1km", **kw)
    assert said in str(err.value)
    assert "bbox=" in str(err.value) and "lon=" in str(err.value)


def test_open_stac_keeps_odc_keywords(items):
    # odc.stac.load's own keywords, named (lon=/lat=) or read from its **kw (nodata=)
    lst = xlstsr.io.open_stac(items, "LST_Day_1km", lon=(14.0, 14.9), lat=(49.5, 50.0),
                              nodata=0)
    assert lst.sizes["time"] == len(items) and lst.sizes["x"] < 1200 and lst.sizes["y"] < 1200

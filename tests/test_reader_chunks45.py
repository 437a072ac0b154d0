"""Round 45: open_modis ignored the ``chunks`` names other than y / x without a word
({'lat': 300, 'lon': 300}, {'band': 1}: the whole granule one chunk; ``time`` of stacked
granules too), now refused or honoured; a resume refused for a cropped input counted the
output (fine) grid's x labels as the input's ("64 labels there, 60 here" for 16 and 15)."""

from __future__ import annotations

import re

import pytest

# a run stopped while writing a region (bicubic x 2, one step per region)
from test_resume_fixes42 import KW, _interrupted, _lst

import xlstsr
from xlstsr.errors import XlstsrError
from xlstsr.io import open_modis


def _granule(path):
    """A 36 x 72 sinusoidal MOD11A1-like granule (the resume tests run without pyhdf)."""
    pytest.importorskip("pyhdf.SD")
    from test_bad_input_corpus28_modis import _granule as write

    return write(path)


# -- open_modis: chunks names ----------------------------------------------------------------

@pytest.mark.parametrize("chunks", [{"lat": 12, "lon": 24}, {"band": 1}, {"y": 12, "lon": 24}])
def test_open_modis_refuses_chunks_of_other_dims(tmp_path, chunks):
    path = _granule(tmp_path / "MOD11A1.A2019305.h14v09.006.hdf")
    odd = sorted(k for k in chunks if k not in ("y", "x"))
    with pytest.raises(XlstsrError, match=re.escape(f"chunks names {odd}")) as info:
        open_modis(path, chunks=chunks)
    assert "['time', 'y', 'x']" in str(info.value) and "chunks={'y'" in str(info.value)


def test_open_modis_chunks_y_x_of_a_granule(tmp_path):
    path = _granule(tmp_path / "MOD11A1.A2019305.h14v09.006.hdf")
    da = open_modis(path, chunks={"y": 12, "x": 24, "time": 1})  # one granule: one step
    assert da.chunks == ((12, 12, 12), (24, 24, 24))


def test_open_modis_chunks_time_of_stacked_granules(tmp_path):
    for day in ("305", "306", "307"):
        _granule(tmp_path / f"MOD11A1.A2019{day}.h14v09.006.hdf")
    pattern = str(tmp_path / "MOD11A1.A2019*.hdf")
    assert open_modis(pattern, chunks={"y": 18}).chunks == ((1, 1, 1), (18, 18), (72,))
    cube = open_modis(pattern, chunks={"time": 2, "y": 18})
    assert cube.chunks == ((2, 1), (18, 18), (72,))


# -- upscale_to_zarr: a refused resume counts the input's pixels -----------------------------

@pytest.mark.parametrize("before", [False, True], ids=["new_store", "store_of_before"])
def test_refused_resume_counts_the_input_pixels_of_a_cropped_input(monkeypatch, tmp_path,
                                                                    before):
    lst, store = _lst(), str(tmp_path / "sr.zarr")  # 8 x 8, upscaled x 2: 16 x 16
    _interrupted(monkeypatch, lst, store)
    if before:  # a store written before coordinates were recorded one by one
        from test_resume_coord_names44 import _as_written_before

        _as_written_before(store)
    with pytest.raises(XlstsrError) as info:
        xlstsr.upscale_to_zarr(lst.isel(x=slice(0, 7)), store, mode="resume", **KW)
    msg = str(info.value)
    assert ("'x' differs (8 input pixels there, 7 here: 16 and 14 labels on the output "
            "grid)") in msg
    assert "16 labels there" not in msg and "'y'" not in msg and "mode='w'" in msg


def test_refused_resume_counts_input_pixels_at_each_run_s_factor(monkeypatch, tmp_path):
    lst, store = _lst(), str(tmp_path / "sr.zarr")
    _interrupted(monkeypatch, lst, store)  # 8 columns x 2: 16
    with pytest.raises(XlstsrError) as info:  # 7 columns x 4: 28
        xlstsr.upscale_to_zarr(lst.isel(x=slice(0, 7)), store, mode="resume",
                               **{**KW, "factor": 4})
    msg = str(info.value)
    assert "factor: 2 there, 4 here" in msg
    assert "'x' differs (8 input pixels there, 7 here: 16 and 28 labels" in msg

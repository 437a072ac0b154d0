"""Round 44 (probe44r1): a resume refused for the input's coordinates named none of them
("the input's coordinates differ"): x labels 1e-6 m off (the same grid re-read with rounding)
or float32 x/y left the user to guess. The refusal names each coordinate that differs, with
its dtypes and largest difference; the comparison stays exact (still refused)."""

from __future__ import annotations

import json
import re
import warnings

import numpy as np
import pytest
import xarray as xr
import zarr

# a run stopped while writing a region (bicubic x 2, one step per region)
from test_resume_fixes42 import KW, _interrupted, _lst

import xlstsr
from xlstsr.engine.to_zarr import INPUT_PARTS_ATTR
from xlstsr.errors import XlstsrError
from xlstsr.io.zarr import COMPLETE, STATUS_ATTR


def _refusal(lst, store):
    with pytest.raises(XlstsrError) as info:
        xlstsr.upscale_to_zarr(lst, store, mode="resume", **KW)
    return str(info.value)


def _as_written_before(store):
    """The store as xlstsr wrote it before coordinates were hashed one by one: its
    ``xlstsr_input_parts`` without the per-coordinate record (the parts' hashes are the same)."""
    g = zarr.open_group(store, mode="r+")
    parts = json.loads(g.attrs[INPUT_PARTS_ATTR])
    assert "coordinates" in parts
    g.attrs[INPUT_PARTS_ATTR] = json.dumps(
        {k: v for k, v in parts.items() if not isinstance(v, dict)}, sort_keys=True)


@pytest.mark.parametrize("before", [False, True], ids=["new_store", "store_of_before"])
def test_refusal_names_a_coordinate_off_by_rounding(monkeypatch, tmp_path, before):
    lst, store = _lst(), str(tmp_path / "sr.zarr")
    _interrupted(monkeypatch, lst, store)
    if before:
        _as_written_before(store)
    msg = _refusal(lst.assign_coords(x=lst.x + 1e-6), store)
    assert "the input's coordinates differ: 'x' differs" in msg
    assert "'y'" not in msg and "'time'" not in msg
    assert "by up to 1e-06" in msg and "rounding" in msg and "mode='w'" in msg


@pytest.mark.parametrize("before", [False, True], ids=["new_store", "store_of_before"])
def test_refusal_names_float32_coordinates(monkeypatch, tmp_path, before):
    lst, store = _lst(), str(tmp_path / "sr.zarr")
    _interrupted(monkeypatch, lst, store)
    if before:
        _as_written_before(store)
    msg = _refusal(lst.assign_coords(x=lst.x.astype("float32"), y=lst.y.astype("float32")),
                   store)
    for c in ("x", "y"):
        assert re.search(rf"'{c}' differs \(float64 there, float32 here; its labels by up to",
                         msg), msg
    assert "another precision" in msg


def test_refusal_names_a_new_coordinate(monkeypatch, tmp_path):
    lst, store = _lst(), str(tmp_path / "sr.zarr")
    _interrupted(monkeypatch, lst, store)
    msg = _refusal(lst.assign_coords(band=np.int64(1)), store)
    assert "'band' is new" in msg


def test_a_date_shift_is_named_with_its_size(monkeypatch, tmp_path):
    lst, store = _lst(), str(tmp_path / "sr.zarr")
    _interrupted(monkeypatch, lst, store)
    msg = _refusal(lst.assign_coords(time=lst.time + np.timedelta64(1, "h")), store)
    assert "'time' differs (its labels by up to 0 days 01:00:00)" in msg


def test_store_of_before_resumes_with_the_same_input(monkeypatch, tmp_path):
    lst, store = _lst(), str(tmp_path / "sr.zarr")
    _interrupted(monkeypatch, lst, store)
    _as_written_before(store)
    with warnings.catch_warnings():
        warnings.simplefilter("error")  # nothing to warn about: the same run, completed
        xlstsr.upscale_to_zarr(lst, store, mode="resume", **KW)
    back = xr.open_zarr(store, consolidated=False)
    assert back.attrs[STATUS_ATTR] == COMPLETE
    np.testing.assert_allclose(back[lst.name].values,
                               xlstsr.upscale(lst, 2, "bicubic").values, equal_nan=True)


def test_equal_dates_are_no_difference():
    """Equal date labels (another part of the coordinate differs) were said to differ "by up
    to 0 days 00:00:00"; numbers already said nothing."""
    from xlstsr.engine.to_zarr import _labels_differ

    t = np.array(["2020-07-01", "2020-07-02"], dtype="datetime64[ns]")
    assert _labels_differ(t, t.copy(), "time") == []
    assert "1 days" in _labels_differ(t, t + np.timedelta64(1, "D"), "time")[0]

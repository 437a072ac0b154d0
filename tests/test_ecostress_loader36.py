"""ECOSTRESS folder listing and common grid (probe 36): the common box follows scenes added to a
folder within the session (it was cached by the folder's path alone, and cropped them), a
scenes.csv none of whose LST files is present is refused (all its scenes were listed as
readable), and a hand-written day_night column ('Day', ' night ') is read (it failed the opening
with a bare KeyError)."""

from __future__ import annotations

import os
import shutil

import numpy as np
import pandas as pd
import pytest

from xlstsr.datasets import ecostress_scenes, open_ecostress_scene
from xlstsr.datasets.ecostress import ecostress_box
from xlstsr.errors import InputNotFoundError, XlstsrError

NARROW, WIDE = "2023199014232", "2023202005411"  # 505 and 1873 columns wide


def _link(src, dst, keys):
    """Symlinks to the shared scenes of ``keys`` (LST and both masks) in ``dst``."""
    for sub in ("LST", "cloud_mask", "water_mask"):
        (dst / sub).mkdir(parents=True, exist_ok=True)
        for k in keys:
            for f in (src / sub).glob(f"*_doy{k}_*"):
                os.symlink(f, dst / sub / f.name)


def test_common_box_follows_a_scene_added_in_the_session(shared_data, tmp_path):
    src = shared_data / "ecostress_la"
    grown, fresh = tmp_path / "grown", tmp_path / "fresh"
    _link(src, grown, [NARROW])
    narrow_box = ecostress_box(grown)  # a first look, before the wide scene is added
    _link(src, grown, [WIDE])
    _link(src, fresh, [NARROW, WIDE])
    assert ecostress_box(grown) == ecostress_box(fresh) != narrow_box
    got = open_ecostress_scene(WIDE, grown, resolution=280)
    want = open_ecostress_scene(WIDE, fresh, resolution=280)
    assert got.shape == want.shape
    assert int(np.isfinite(got).sum()) == int(np.isfinite(want).sum()) > 0
    # removed again: the box shrinks back
    for sub in ("LST", "cloud_mask", "water_mask"):
        for f in (grown / sub).glob(f"*_doy{WIDE}_*"):
            f.unlink()
    assert ecostress_box(grown) == narrow_box


@pytest.mark.parametrize("lst", ["empty", "absent"])
def test_scenes_csv_without_any_lst_file_is_refused(shared_data, tmp_path, lst):
    src = shared_data / "ecostress_la"
    shutil.copy(src / "scenes.csv", tmp_path)
    for sub in ("cloud_mask", "water_mask"):
        (tmp_path / sub).mkdir()
        for f in sorted((src / sub).iterdir()):
            os.symlink(f, tmp_path / sub / f.name)
    if lst == "empty":
        (tmp_path / "LST").mkdir()
    with pytest.raises(InputNotFoundError,
                       match=r"none of the 22 scenes .* has its LST file in .*LST.*copy the LST"):
        ecostress_scenes(tmp_path)


def _hand_written(shared_data, tmp_path, day_night):
    """Two shared scenes with a scenes.csv whose day_night column is ``day_night``."""
    src = shared_data / "ecostress_la"
    t = pd.read_csv(src / "scenes.csv").iloc[:2].copy()
    _link(src, tmp_path, t["file"].str.extract(r"_doy(\d{13})_")[0])
    want = t["day_night"].tolist()
    t["day_night"] = day_night(t["day_night"])
    t[["file", "datetime_utc", "day_night"]].to_csv(tmp_path / "scenes.csv", index=False)
    return want


@pytest.mark.parametrize("spell", [str.capitalize, str.upper, lambda v: f" {v}  "])
def test_day_night_of_a_hand_written_table_is_normalised(shared_data, tmp_path, spell):
    want = _hand_written(shared_data, tmp_path, lambda c: c.map(spell))
    s = ecostress_scenes(tmp_path)
    assert s["day_night"].tolist() == want
    x = open_ecostress_scene(s.index[0], tmp_path)
    assert x.attrs["day_night"] == want[0]


def test_blank_day_night_is_derived(shared_data, tmp_path):
    want = _hand_written(shared_data, tmp_path, lambda c: pd.Series(["  ", "Night"]))
    assert want[1] == "night"
    assert ecostress_scenes(tmp_path)["day_night"].tolist() == want


def test_other_day_night_values_are_refused(shared_data, tmp_path):
    _hand_written(shared_data, tmp_path, lambda c: pd.Series(["dawn", "night"]))
    with pytest.raises(XlstsrError, match=r"day_night must be 'day' or 'night'.*'dawn'"):
        ecostress_scenes(tmp_path)

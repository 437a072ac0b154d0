"""Loaders of the real datasets on held-back layouts: dataset folders of another name, pairs that
pairs.csv does not list or whose files are missing, and the bundled models' whole training
ground (cube windows, Croatia) in apart_from_training. Layouts are symlinked from the shared data
into tmp_path (skipped without it); nothing is written to the shared folder."""

from __future__ import annotations

import os
import warnings
from pathlib import Path

import numpy as np
import pytest

from xlstsr.datasets import (
    apart_from_training,
    ecostress_scenes,
    iter_modis_aster,
    modis_aster_pairs,
    open_mod11a1_granule,
    open_modis_aster_pair,
)
from xlstsr.datasets.modis_aster import MODIS_SINUSOIDAL, TRAIN_PAIR_BOUNDS, training_ground
from xlstsr.errors import InputNotFoundError, XlstsrError

SHARED = Path(__file__).resolve().parents[2] / "shared" / "data"
MA, ECO, HDF = SHARED / "modis_aster", SHARED / "ecostress_la", SHARED / "mod11a1_hdf"
KINDS = ("modis_lst_1km", "modis_ndvi_250m", "aster_lst_250m")
ECO_KEYS = ("2023183080644", "2023219014701", "2023219014752")


def _need(path: Path) -> None:
    if not path.exists():
        pytest.skip(f"shared data {path} absent: these layouts are symlinked from it")


def _pairs(folder: Path, ids: list[str], table_ids: list[str]) -> Path:
    """A modis_aster-like folder: the pairs ``ids`` symlinked, pairs.csv listing ``table_ids``."""
    _need(MA)
    folder.mkdir(parents=True, exist_ok=True)
    for p in ids:
        for k in KINDS:
            os.symlink(MA / f"{p}_{k}.tif", folder / f"{p}_{k}.tif")
    (folder / "pairs.csv").write_text(
        "pair,aster_view_angle_deg\n" + "".join(f"{p},1\n" for p in table_ids))
    return folder


def _scenes(folder: Path) -> Path:
    _need(ECO)
    for k in ECO_KEYS:
        for m in ("LST", "cloud_mask", "water_mask"):
            n = f"ECO_L2_LSTE.002_{m}_doy{k}_aid0001.tif"
            (folder / m).mkdir(parents=True, exist_ok=True)
            os.symlink(ECO / m / n, folder / m / n)
    return folder


def _granule(folder: Path) -> Path:
    _need(HDF)
    granule = sorted(HDF.glob("MOD11A1*.hdf"))[0]
    folder.mkdir(parents=True)
    os.symlink(granule, folder / granule.name)
    return folder


# 1: held-back dataset folders of another name


def test_modis_aster_folder_of_another_name_found(tmp_path):
    held = _pairs(tmp_path / "modis_aster_hb", ["002", "015", "020"], ["002", "015", "020"])
    assert modis_aster_pairs(tmp_path) == ["002", "015", "020"]
    assert modis_aster_pairs(held) == ["002", "015", "020"]  # the folder itself as root
    lst, _, _ = open_modis_aster_pair("015", tmp_path)
    assert lst.shape == (64, 64)
    _pairs(tmp_path / "modis_aster_2021", ["002"], ["002"])
    with pytest.raises(XlstsrError, match=r"modis_aster_2021, modis_aster_hb"):
        modis_aster_pairs(tmp_path)


def test_modis_aster_missing_message_says_the_folder_itself_is_accepted(tmp_path):
    with pytest.raises(FileNotFoundError, match="pairs folder itself"):
        modis_aster_pairs(tmp_path)


def test_ecostress_folder_of_another_name_found(tmp_path):
    held = _scenes(tmp_path / "ecostress_sf")
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", UserWarning)
        assert sorted(ecostress_scenes(tmp_path).index) == sorted(ECO_KEYS)
        assert sorted(ecostress_scenes(held).index) == sorted(ECO_KEYS)
    _scenes(tmp_path / "ecostress_ny")
    with pytest.raises(XlstsrError, match=r"ecostress_ny.*ecostress_sf"):
        ecostress_scenes(tmp_path)


def test_mod11a1_folder_of_another_name_found(tmp_path):
    held = _granule(tmp_path / "mod11a1_2019")
    lst = open_mod11a1_granule("LST_Day_1km", tmp_path)
    assert lst.shape == open_mod11a1_granule("LST_Day_1km", held).shape == (1200, 1200)
    _granule(tmp_path / "mod11a1_2020")
    with pytest.raises(XlstsrError, match=r"mod11a1_2019.*mod11a1_2020"):
        open_mod11a1_granule("LST_Day_1km", tmp_path)


# 2: complete pairs that pairs.csv does not list


def test_unlisted_complete_pair_is_used_with_a_warning(tmp_path):
    folder = _pairs(tmp_path / "held", ["002", "015", "034"], ["002", "015"])
    os.symlink(MA / "044_modis_lst_1km.tif", folder / "044_modis_lst_1km.tif")  # incomplete
    with pytest.warns(UserWarning, match=r"does not list 1 pair.*034.*044.*lacking"):
        ids = modis_aster_pairs(folder)
    assert ids == ["002", "015", "034"] and ids.added == ["034"]
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", UserWarning)
        assert [p for p, *_ in iter_modis_aster(folder)] == ["002", "015", "034"]
        assert open_modis_aster_pair("034", folder)[0].shape == (64, 64)


# 3: listed pairs whose files are missing (a partial copy with the full table)


def test_listed_pairs_without_files_left_out_up_front(tmp_path):
    _need(MA)
    folder = _pairs(tmp_path / "modis_aster", ["001", "002"], [])
    (folder / "pairs.csv").write_text((MA / "pairs.csv").read_text())
    os.remove(folder / "002_aster_lst_250m.tif")  # 002 and 015: the LST alone, kept
    os.symlink(MA / "015_modis_lst_1km.tif", folder / "015_modis_lst_1km.tif")
    with warnings.catch_warnings(record=True) as caught:
        warnings.simplefilter("always")
        ids = modis_aster_pairs(tmp_path)
    left = [w for w in caught if "left out" in str(w.message)]
    assert len(left) == 1 and "020" in str(left[0].message)
    assert ids == ["001", "002", "015"]
    assert "020_modis_lst_1km.tif" in ids.left_out["020"]
    assert len(ids.left_out) == len((MA / "pairs.csv").read_text().split()) - 4
    assert ids.incomplete == {"002": ["002_aster_lst_250m.tif"],
                              "015": ["015_modis_ndvi_250m.tif", "015_aster_lst_250m.tif"]}
    with pytest.warns(UserWarning, match=r"2 of the 3 pairs.*skipped: 002 .*015"):
        assert [p for p, *_ in iter_modis_aster(tmp_path)] == ["001"]
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", UserWarning)
        with pytest.raises(InputNotFoundError, match=r"left out.*020_modis_lst_1km"):
            open_modis_aster_pair("020", tmp_path)


def test_listed_pairs_none_present_refused(tmp_path):
    _need(MA)
    folder = _pairs(tmp_path / "modis_aster", ["001"], ["002", "015"])
    with pytest.raises(FileNotFoundError, match="none of the 2 pairs"):
        modis_aster_pairs(folder)


def test_shared_pairs_unchanged():
    _need(MA)
    with warnings.catch_warnings():
        warnings.simplefilter("error")
        ids = modis_aster_pairs(SHARED)
    assert len(ids) == 55 and ids.left_out == ids.incomplete == {} and ids.added == []


# 4: the whole training ground of the bundled models


def _write_pair(folder: Path, pid: str, box: tuple[float, float, float, float]) -> None:
    """A pair whose MODIS LST covers the 64 x 64 km box (sinusoidal) ``box``."""
    import rasterio
    from rasterio.transform import from_bounds

    folder.mkdir(exist_ok=True)
    for k, n in zip(KINDS, (64, 256, 256)):
        prof = dict(driver="GTiff", width=n, height=n, count=1, dtype="float32",
                    crs=MODIS_SINUSOIDAL, transform=from_bounds(*box, n, n))
        with rasterio.open(folder / f"{pid}_{k}.tif", "w", **prof) as dst:
            dst.write(np.full((1, n, n), 3000.0 if k.startswith("aster") else 300.0,
                              np.float32))
    with open(folder / "pairs.csv", "a") as f:
        f.write(("" if f.tell() else "pair,aster_view_angle_deg\n") + f"{pid},1\n")


@pytest.mark.parametrize("source", ["rescnn", "degraded_cube", "croatia"])
def test_apart_from_training_knows_cube_and_croatia_ground(tmp_path, source):
    ground = training_ground()
    pairs = np.array(list(TRAIN_PAIR_BOUNDS.values()))
    rows = ground[ground.source == source]
    assert len(rows)
    for r in rows.itertuples():  # a window of that source on ground no training pair covers
        w = np.minimum(r.xmax, pairs[:, 2]) - np.maximum(r.xmin, pairs[:, 0])
        h = np.minimum(r.ymax, pairs[:, 3]) - np.maximum(r.ymin, pairs[:, 1])
        if not ((w > 1) & (h > 1)).any():
            break
    else:
        pytest.fail(f"every {source} window overlaps a training pair")
    cx, cy = (r.xmin + r.xmax) / 2, (r.ymin + r.ymax) / 2
    side = 64 * 926.625
    _write_pair(tmp_path, "901", (cx - side / 2, cy - side / 2, cx + side / 2, cy + side / 2))
    far = (-15e6, 0.0, -15e6 + side, side)  # the equatorial Pacific: no training ground
    _write_pair(tmp_path, "902", far)
    assert apart_from_training(None, tmp_path) == ["902"]

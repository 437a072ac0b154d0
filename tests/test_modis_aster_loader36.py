"""The MODIS/ASTER loader on held-back folders (probe 36): pairs in different CRSs, float Kelvin
ASTER truth, a pairs.csv without a 'pair' column, pairs of different sizes, a pairs folder of
another name without its table."""

from __future__ import annotations

import os
from pathlib import Path

import numpy as np
import pytest

from xlstsr.datasets import (
    apart_from_training,
    ground_overlap,
    modis_aster_arrays,
    modis_aster_pairs,
    open_modis_aster_pair,
    pairs_apart,
)
from xlstsr.errors import GridError, XlstsrError

rasterio = pytest.importorskip("rasterio")


def _link(shared: Path, folder: Path, pair: str, kinds: tuple[str, ...] = (
        "modis_lst_1km", "modis_ndvi_250m", "aster_lst_250m")) -> None:
    folder.mkdir(parents=True, exist_ok=True)
    for k in kinds:
        os.symlink(shared / "modis_aster" / f"{pair}_{k}.tif", folder / f"{pair}_{k}.tif")


def test_pairs_in_different_crss_are_compared_on_one_ground(shared_data, tmp_path):
    # before: 084's LST in UTM and 131's in sinusoidal overlapped 0.00 (bounds of two CRSs
    # compared as numbers) and pairs_apart kept 084, which shares 82 % of 131's ground
    from rasterio.warp import Resampling, calculate_default_transform, reproject

    folder = tmp_path / "modis_aster"
    folder.mkdir()
    (folder / "pairs.csv").write_text("pair,aster_view_angle_deg\n084,1\n131,1\n")
    _link(shared_data, folder, "131")
    _link(shared_data, folder, "084", ("modis_ndvi_250m", "aster_lst_250m"))
    with rasterio.open(shared_data / "modis_aster" / "084_modis_lst_1km.tif") as s:
        t, w, h = calculate_default_transform(s.crs, "EPSG:32631", s.width, s.height, *s.bounds)
        prof = {**s.profile, "crs": "EPSG:32631", "transform": t, "width": w, "height": h}
        with rasterio.open(folder / "084_modis_lst_1km.tif", "w", **prof) as o:
            reproject(rasterio.band(s, 1), rasterio.band(o, 1), resampling=Resampling.nearest)
    same = float(ground_overlap(["084", "131"], shared_data).loc["084", "131"])
    mixed = float(ground_overlap(["084", "131"], tmp_path).loc["084", "131"])
    assert same == pytest.approx(0.82, abs=0.01)
    assert mixed > 0.5  # the UTM window's footprint is a little wider: near, not equal
    assert pairs_apart(["084"], ["131"], tmp_path) == []
    assert apart_from_training(["084"], tmp_path) == []  # the two agree


def test_pairs_in_one_crs_keep_their_stored_footprints(shared_data):
    # the shared folder (one MODIS tile) is compared as stored: figures unchanged
    from xlstsr.datasets import EVAL_PAIRS, TRAIN_PAIRS

    assert len(pairs_apart(EVAL_PAIRS, TRAIN_PAIRS, shared_data)) == 12
    assert float(ground_overlap(["084", "015"], shared_data).loc["084", "015"]) == 0.0


def _float_aster(shared: Path, folder: Path, factor: float) -> None:
    """Pair 002 with its ASTER rewritten as float32 stored values x ``factor``."""
    folder.mkdir(parents=True)
    (folder / "pairs.csv").write_text("pair,aster_view_angle_deg\n002,8.7\n")
    _link(shared, folder, "002", ("modis_lst_1km", "modis_ndvi_250m"))
    with rasterio.open(shared / "modis_aster" / "002_aster_lst_250m.tif") as s:
        a, prof = s.read(1).astype("float32"), {**s.profile, "dtype": "float32"}
    with rasterio.open(folder / "002_aster_lst_250m.tif", "w", **prof) as o:
        o.write(a * np.float32(factor), 1)


def test_float_kelvin_aster_is_read_as_kelvin(shared_data, tmp_path):
    # before: x 0.1 made it 31 K, refused with advice (reference_scale=1, da.attrs) that
    # open_modis_aster_pair cannot follow; a file cannot declare scale 1 (GDAL skips it)
    _float_aster(shared_data, tmp_path / "k" / "modis_aster", 0.1)
    _, _, aster = open_modis_aster_pair("002", tmp_path / "k")
    _, _, shipped = open_modis_aster_pair("002", shared_data)
    assert float(aster.median()) == pytest.approx(312.8, abs=0.5)
    np.testing.assert_allclose(aster.values, shipped.values, rtol=1e-6, equal_nan=True)
    assert "float Kelvin" in aster.attrs["comment"]


def test_shipped_k_x_10_reading_unchanged(shared_data, tmp_path):
    # the shared pairs are float32 K x 10: read bit-identically to the documented decoding
    _float_aster(shared_data, tmp_path / "dn" / "modis_aster", 1.0)
    _, _, copy = open_modis_aster_pair("002", tmp_path / "dn")
    _, _, shipped = open_modis_aster_pair("002", shared_data)
    with rasterio.open(shared_data / "modis_aster" / "002_aster_lst_250m.tif") as s:
        stored = s.read(1).astype(np.float64)
    expect = np.where(stored > 0, stored * 0.1, np.nan).astype(np.float32)
    np.testing.assert_array_equal(shipped.values, expect)
    np.testing.assert_array_equal(copy.values, expect)
    assert shipped.attrs["comment"].startswith("decoded from K x 10")


@pytest.mark.parametrize("text", ["002\n084\n", "pair;aster_view_angle_deg\n002;8,7\n084;1,0\n"])
def test_pairs_csv_without_pair_column_is_refused_with_advice(shared_data, tmp_path, text):
    # before: a bare KeyError: 'pair'
    folder = tmp_path / "modis_aster"
    _link(shared_data, folder, "002")
    (folder / "pairs.csv").write_text(text)
    with pytest.raises(XlstsrError, match=r"no 'pair' column.*pair,aster_view_angle_deg"):
        modis_aster_pairs(tmp_path)


def test_blank_row_of_pairs_csv_is_no_pair(shared_data, tmp_path):
    # before: the pair id 'nan'
    folder = tmp_path / "modis_aster"
    _link(shared_data, folder, "002")
    (folder / "pairs.csv").write_text("pair,aster_view_angle_deg\n002,8.7\n,\n")
    assert modis_aster_pairs(tmp_path) == ["002"]


def test_arrays_of_pairs_of_different_sizes_name_them(shared_data, tmp_path):
    # before: numpy's "all input arrays must have the same shape", naming no pair
    from rasterio.windows import Window

    folder = tmp_path / "modis_aster"
    _link(shared_data, folder, "002")
    _link(shared_data, folder, "084", ("aster_lst_250m",))
    (folder / "pairs.csv").write_text("pair,aster_view_angle_deg\n002,1\n084,1\n")
    for k, n in (("modis_lst_1km", 48), ("modis_ndvi_250m", 192)):
        with rasterio.open(shared_data / "modis_aster" / f"084_{k}.tif") as s:
            w = Window(0, 0, n, n)
            a = s.read(1, window=w)
            prof = {**s.profile, "width": n, "height": n, "transform": s.window_transform(w),
                    "tiled": False}
            prof.pop("blockxsize", None), prof.pop("blockysize", None)
        with rasterio.open(folder / f"084_{k}.tif", "w", **prof) as o:
            o.write(a, 1)
    with pytest.raises(GridError, match=r"64 x 64: 002; 48 x 48: 084.*once per size"):
        modis_aster_arrays(["002", "084"], tmp_path)


def test_pairs_folder_of_another_name_without_table_is_told_to_write_it(shared_data, tmp_path):
    # before: "point root to the folder that holds modis_aster/", which it already was
    folder = tmp_path / "heldback_pairs"
    _link(shared_data, folder, "001")
    with pytest.raises(FileNotFoundError) as e:
        modis_aster_pairs(folder)
    msg = str(e.value)
    assert f"write {folder / 'pairs.csv'}" in msg and "pair,aster_view_angle_deg" in msg
    assert "001" in msg and "holds modis_aster/" not in msg
    empty = tmp_path / "nothing"
    empty.mkdir()
    with pytest.raises(FileNotFoundError, match="holds modis_aster/"):  # elsewhere: point root
        modis_aster_pairs(empty)

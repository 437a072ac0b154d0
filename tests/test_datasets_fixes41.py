"""ECOSTRESS / MOD11A1 loaders on hand-made layouts (probe 41): a scenes.csv that lists no file,
a datetime_utc written with a UTC offset, a mistyped granule / scene file path, a blank row, a
listed scene left out for a missing file. Layouts are symlinked from the shared data into
tmp_path (skipped without it, through the ``shared_data`` fixture); nothing is written there."""

from __future__ import annotations

import os
import warnings
from pathlib import Path

import pytest

from xlstsr.datasets import (
    data_root,
    ecostress_scenes,
    open_ecostress_scene,
    open_mod11a1_granule,
)
from xlstsr.errors import InputNotFoundError

KEYS = ("2023183080644", "2023219014701")
MIDDAY = "2023172202153"  # 2023-06-21 20:21:53 UTC, lon -118.1: local solar hour 12.5


def _name(mask: str, key: str) -> str:
    return f"ECO_L2_LSTE.002_{mask}_doy{key}_aid0001.tif"


def _layout(shared: Path, folder: Path, keys=KEYS, table: str | None = None,
            masks=("LST", "cloud_mask", "water_mask")) -> Path:
    """An ecostress_la-like folder: the scenes ``keys`` symlinked (the layers ``masks``), and
    scenes.csv holding ``table`` (None: the shared one)."""
    eco = shared / "ecostress_la"
    for m in ("LST", "cloud_mask", "water_mask"):
        (folder / m).mkdir(parents=True, exist_ok=True)
    for k in keys:
        for m in masks:
            os.symlink(eco / m / _name(m, k), folder / m / _name(m, k))
    text = (eco / "scenes.csv").read_text() if table is None else table
    (folder / "scenes.csv").write_text(text)
    return folder


# 01: a scenes.csv listing no file

def test_header_only_scenes_csv_lists_the_lst_files_with_a_warning(shared_data, tmp_path):
    # before: InputNotFoundError "no ECOSTRESS scene ... needs LST files or a scenes.csv"
    header = (shared_data / "ecostress_la" / "scenes.csv").read_text().splitlines()[0] + "\n"
    d = _layout(shared_data, tmp_path / "eco", table=header)
    with pytest.warns(UserWarning, match="does not list 2 LST file"):
        s = ecostress_scenes(d)
    assert sorted(s.index) == sorted(KEYS) and s.attrs["left_out"] == {}
    assert set(s["day_night"]) <= {"day", "night"} and (s["n_valid"] > 0).all()


def test_scenes_csv_without_file_column_matches_rows_by_key(shared_data, tmp_path):
    table = f"key,note\n{KEYS[0]},kept\n2023999000000,gone\n"
    d = _layout(shared_data, tmp_path / "eco", table=table)
    with pytest.warns(UserWarning, match=f"does not list 1 LST file.*{KEYS[1]}"):
        s = ecostress_scenes(d)
    assert sorted(s.index) == sorted(KEYS)
    assert s.loc[KEYS[0], "note"] == "kept"  # the table's other columns, where a key matches
    assert "no LST file" in s.attrs["left_out"]["2023999000000"]


# 02: day / night from the UTC hour

def test_day_night_derived_from_the_utc_time_of_an_offset_datetime(shared_data, tmp_path):
    # before: the wall-clock hour of 13:21-07:00 (13 + lon/15 = 5.1 h): 'night', night bounds
    table = f"file,datetime_utc,day_night\n{_name('LST', MIDDAY)},2023-06-21T13:21:53-07:00,\n"
    d = _layout(shared_data, tmp_path / "eco", keys=(MIDDAY,), table=table)
    assert ecostress_scenes(d).loc[MIDDAY, "day_night"] == "day"
    naive = f"file,datetime_utc,day_night\n{_name('LST', MIDDAY)},2023-06-21 20:21:53,\n"
    d2 = _layout(shared_data, tmp_path / "eco2", keys=(MIDDAY,), table=naive)
    assert ecostress_scenes(d2).loc[MIDDAY, "day_night"] == "day"  # naive is UTC


# 03: a mistyped file path is no missing data folder

def test_mistyped_granule_path_is_named_as_a_granule(tmp_path):
    # before: "the real benchmark data folder .../x.hdf does not exist ... holding modis_aster/"
    (tmp_path / "MOD11A1.A2019305.h14v09.006.2019306084028.hdf").write_bytes(b"")
    with pytest.raises(InputNotFoundError, match=r"no such MOD11A1 granule file.*did you mean "
                       r"MOD11A1\.A2019305\.h14v09\.006\.2019306084028\.hdf") as e:
        open_mod11a1_granule(root=tmp_path / "MOD11A1.A2019305.h14v09.006.hdf")
    assert "modis_aster" not in str(e.value)


def test_mistyped_scene_file_and_missing_folder_name_their_dataset(tmp_path):
    (tmp_path / "LST").mkdir()
    with pytest.raises(InputNotFoundError, match="no such ECOSTRESS scene file") as e:
        ecostress_scenes(tmp_path / "LST" / _name("LST", KEYS[0]))
    assert "modis_aster" not in str(e.value)
    for call in (ecostress_scenes, open_mod11a1_granule):  # a mistyped folder: its own dataset
        with pytest.raises(FileNotFoundError) as e:
            call(root=tmp_path / "no_such_folder")
        assert "modis_aster" not in str(e.value)
    with pytest.raises(FileNotFoundError, match="holding mod11a1_hdf/"):
        data_root(tmp_path / "nope", dataset="mod11a1_hdf")
    with pytest.raises(FileNotFoundError, match="holding modis_aster/"):  # the default kept
        data_root(tmp_path / "nope")


# 04: a blank row

def test_blank_row_of_scenes_csv_is_skipped(shared_data, tmp_path):
    # before: TypeError "sequence item 0: expected str instance, float found"
    table = "file,day_night\n" + "".join(f"{_name('LST', k)},\n" for k in KEYS) + ",\n  ,\n"
    d = _layout(shared_data, tmp_path / "eco", table=table)
    with warnings.catch_warnings():
        warnings.simplefilter("error")  # nothing to warn about: no file is unlisted
        s = ecostress_scenes(d)
    assert sorted(s.index) == sorted(KEYS)


# 05: a listed scene left out says why

def test_scene_left_out_for_its_mask_or_lst_file_says_why(shared_data, tmp_path):
    # before: VariableNotFoundError "no ECOSTRESS scene ...: a scene is named by the doy key"
    d = _layout(shared_data, tmp_path / "eco")  # the full shared scenes.csv: others left out
    for m in ("LST", "water_mask"):  # the midday scene lacks its cloud mask
        os.symlink(shared_data / "ecostress_la" / m / _name(m, MIDDAY), d / m / _name(m, MIDDAY))
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", UserWarning)
        s = ecostress_scenes(d)
        assert "cloud_mask" in s.attrs["left_out"][MIDDAY]
        with pytest.raises(InputNotFoundError, match=rf"{MIDDAY}.*left out.*cloud_mask"):
            open_ecostress_scene(MIDDAY, d)
        with pytest.raises(InputNotFoundError, match=r"2023175112358.*left out.*no LST file"):
            open_ecostress_scene("2023175112358", d)


# review 41b: mixed offsets, column types after blank rows, the mask named

def test_datetime_utc_of_mixed_offsets_and_naive_times_read_as_utc(shared_data, tmp_path):
    # before: a bare pandas ValueError (naive beside 'Z'), or an object column of mixed zones
    table = (f"file,datetime_utc\n{_name('LST', MIDDAY)},2023-06-21T13:21:53-07:00\n"
             f"{_name('LST', KEYS[0])},2023-07-02 08:06:44\n"
             f"{_name('LST', KEYS[1])},2023-08-07T01:47:01Z\n")
    d = _layout(shared_data, tmp_path / "eco", keys=(MIDDAY, *KEYS), table=table)
    s = ecostress_scenes(d)
    assert str(s["datetime_utc"].dt.tz) == "UTC"
    assert s.loc[MIDDAY, "datetime_utc"].hour == 20 and s.loc[KEYS[0], "datetime_utc"].hour == 8


def test_blank_row_leaves_integer_columns_integer(shared_data, tmp_path):
    full = (shared_data / "ecostress_la" / "scenes.csv").read_text().splitlines()
    rows = [r for r in full[1:] if any(k in r for k in KEYS)]
    d = _layout(shared_data, tmp_path / "eco", table="\n".join([full[0], *rows, ","]) + "\n")
    s = ecostress_scenes(d)
    assert s["width"].dtype.kind == "i" and s["n_valid"].dtype.kind == "i"


def test_unlisted_scene_names_the_one_mask_it_lacks(shared_data, tmp_path):
    d = _layout(shared_data, tmp_path / "eco", keys=(KEYS[0],),
                table=f"file\n{_name('LST', KEYS[0])}\n")
    for m in ("LST", "cloud_mask"):  # an unlisted scene without its water mask only
        os.symlink(shared_data / "ecostress_la" / m / _name(m, MIDDAY), d / m / _name(m, MIDDAY))
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", UserWarning)
        why = ecostress_scenes(d).attrs["left_out"][MIDDAY]
    assert "water_mask" in why and "cloud_mask" not in why

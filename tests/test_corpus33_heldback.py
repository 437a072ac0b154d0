"""Held-back runs (corpus 33 h2): $XLSTSR_DATA naming another folder is held-back data, a
held-back sisr_cube smoke page says it is one, scale_invariance lists the scenes it left out, and
a modis_aster/ without pairs.csv is told to write it."""

from __future__ import annotations

import json
import warnings
from pathlib import Path

import pandas as pd
import pytest
from helpers import ecostress_subset, load_benchmark, results_destination

from xlstsr.datasets import ecostress_scenes, modis_aster_pairs
from xlstsr.datasets.root import (
    _CHECKOUT_DATA,
    HELD_BACK_RESULTS,
    data_root,
    exit_on_missing_data,
    is_project_data,
    results_dir,
)

ROOT = Path(__file__).resolve().parents[1]
PUBLISHED = ROOT / "docs" / "results"


# -- 01. $XLSTSR_DATA naming another folder is held-back data --------------------------------------

def test_xlstsr_data_naming_another_folder_is_not_the_projects_data(tmp_path, monkeypatch):
    # before: is_project_data trusted $XLSTSR_DATA, so a run on held-back data given through it
    # replaced docs/results/<page>, labelled as the shared set
    monkeypatch.setenv("XLSTSR_DATA", str(tmp_path))
    assert data_root() == tmp_path
    assert not is_project_data(tmp_path) and not is_project_data(tmp_path / "modis_aster")
    assert results_dir(None, PUBLISHED, data_root()) == HELD_BACK_RESULTS
    # a benchmark reading through data_root() names no folder: judged by $XLSTSR_DATA (eight of
    # them published over docs/results)
    assert results_dir(None, PUBLISHED) == HELD_BACK_RESULTS
    # the project's own folder, however it is named, still is
    assert is_project_data(_CHECKOUT_DATA / "modis_aster")
    link = tmp_path / "link"
    link.symlink_to(_CHECKOUT_DATA, target_is_directory=True)
    monkeypatch.setenv("XLSTSR_DATA", str(link))
    assert is_project_data(data_root())
    assert results_dir(None, PUBLISHED) == PUBLISHED


def test_accuracy_on_xlstsr_data_elsewhere_writes_held_back_results(tmp_path, monkeypatch):
    monkeypatch.setenv("XLSTSR_DATA", str(tmp_path))
    monkeypatch.chdir(tmp_path)
    acc = load_benchmark("accuracy_modis_aster")
    assert results_destination(acc, [], monkeypatch) == HELD_BACK_RESULTS


def test_sisr_cube_held_back_refusal_does_not_advise_xlstsr_data(tmp_path):
    sisr = load_benchmark("sisr_cube")
    with pytest.raises(SystemExit) as e:
        sisr.check_held_back_cube(tmp_path / "modis_h18v04_2020", ("lst_day",))
    msg = str(e.value.code)
    assert "catalog.json" in msg and "--root" in msg and "XLSTSR_DATA" not in msg


# -- 02. sisr_cube --held-back --smoke says it is a smoke run --------------------------------------

@pytest.mark.slow
def test_sisr_cube_held_back_smoke_page_is_marked(shared_data, tmp_path, monkeypatch):
    # before: the page said every complete window-date is scored, without --smoke; no JSON flag
    src = shared_data / "modis_h18v04_2020"
    cube = tmp_path / "data" / "modis_h18v04_2020"
    cube.mkdir(parents=True)
    for n in ("catalog.json", "collection.json", "collection-13A2.json", "items", "cogs"):
        if (src / n).exists():
            (cube / n).symlink_to(src / n)
    t = pd.read_csv(src / "windows.csv", dtype=str)
    t = t[t.window.astype(int).isin([212, 231])].copy()
    t["window"] = (t.window.astype(int) + 5000).astype(str)
    t.to_csv(cube / "windows.csv", index=False)
    monkeypatch.chdir(tmp_path)
    sisr = load_benchmark("sisr_cube")
    out = tmp_path / "o"
    assert sisr.main(["--held-back", "--smoke", "--root", str(tmp_path / "data"),
                      "--out", str(out)]) == 0
    md = (out / "sisr_cube_held_back.md").read_text()
    js = json.loads((out / "sisr_cube_held_back.json").read_text())
    written = next(line for line in md.splitlines() if line.startswith("Written by"))
    assert "--held-back --smoke" in written
    assert "**Smoke run**" in md and "of those 5 dates" in md
    assert js["smoke"] is True and js["window_dates_scored"] > 0


# -- 03. scale_invariance: scenes left out are listed; the missing-file warning once ---------------

def test_ecostress_missing_lst_file_named_in_attrs_and_warned_once(shared_data, tmp_path):
    # before: a UserWarning at every listing (15 on one benchmark run), the key only there
    folder = tmp_path / "ecostress_la"
    rows = ecostress_subset(shared_data / "ecostress_la", folder, 3)
    (folder / "LST" / rows.file.iloc[0]).unlink()
    key = rows.file.iloc[0].split("_doy")[1][:13]
    with warnings.catch_warnings(record=True) as w:
        warnings.simplefilter("always")
        for _ in range(3):
            s = ecostress_scenes(folder)
    assert sum("have no LST file" in str(x.message) for x in w) == 1
    assert key not in s.index and list(s.attrs["left_out"]) == [key]
    assert "no LST file" in s.attrs["left_out"][key]
    assert ecostress_scenes(shared_data / "ecostress_la").attrs["left_out"] == {}


def test_scale_invariance_page_lists_the_scenes_left_out():
    si = load_benchmark("scale_invariance")
    lines = si.left_out_lines({"2023177175456": "no LST file in X/LST (test folder)"})
    assert lines[0] == "## Scenes left out"
    assert "- `2023177175456`: no LST file in X/LST (test folder)" in lines


# -- 04. modis_aster/ without pairs.csv: write it ---------------------------------------------------

def test_modis_aster_folder_without_pairs_csv_is_told_to_write_it(tmp_path):
    # before: "point root to the folder that holds modis_aster/", which it already was
    folder = tmp_path / "modis_aster"
    folder.mkdir()
    for k in ("modis_lst_1km", "modis_ndvi_250m", "aster_lst_250m"):
        (folder / f"9001_{k}.tif").write_bytes(b"")
    with pytest.raises(FileNotFoundError) as e:
        modis_aster_pairs(tmp_path)
    msg = str(e.value)
    assert f"write {folder / 'pairs.csv'}" in msg and "pair,aster_view_angle_deg" in msg
    assert "9001" in msg and "holds modis_aster/" not in msg
    with pytest.raises(SystemExit) as e:  # through a benchmark: one line, the same fix
        exit_on_missing_data(lambda: modis_aster_pairs(tmp_path), "acc.py", flags="--root DIR")
    line = str(e.value.code)
    assert line.startswith("acc.py: ") and "pair,aster_view_angle_deg" in line
    assert "--root" not in line and "\n" not in line
    # no modis_aster/ at all: still pointed to the folder holding it
    (tmp_path / "empty").mkdir()
    with pytest.raises(FileNotFoundError, match="holds modis_aster/"):
        modis_aster_pairs(tmp_path / "empty")
    # ... and through a benchmark with the script's own flag (it said "point root (or
    # $XLSTSR_DATA)", a flag bench_models does not have)
    for flags, want in (("--root DIR", "with --root DIR"), (None, "set the environment")):
        with pytest.raises(SystemExit) as e:
            exit_on_missing_data(lambda: modis_aster_pairs(tmp_path / "empty"), "b.py",
                                 flags=flags)
        line = str(e.value.code)
        assert want in line and "holds modis_aster/" in line and "point root" not in line

"""Benchmark entry points on held-back folders laid out like ../shared/data (corpus 22c).

Each test builds a small folder of links to (or crops of) shared files in ``tmp_path`` and runs
the smallest mode of an entry point, or the function the fix lives in:

- ``--smoke`` without ``--out`` never writes into ``docs/results`` (a test, not a measurement);
- ``scale_invariance.py``: the second granule of a training overpass is no test date; a fold with
  nothing to score (or nothing to train on) is not run, written ``null`` with its reason, and the
  JSON is strict;
- ``one_level_up.py``: the split of a cube does not depend on how its modis_aster pairs are
  numbered (the shared cube's recorded split unchanged), a ``windows.csv`` without the pair
  columns holds nothing out (with a note), a night-only cube is refused naming the asset;
- ``accuracy_modis_aster.py`` / ``modis_aster_pairs``: a repeated pair is scored once, ids are
  used as written (``01``) and padded only as a fallback.
"""

from __future__ import annotations

import json
import shutil
from pathlib import Path

import numpy as np
import pandas as pd
import pytest
from test_benchmarks import bench_env, load_benchmark  # noqa: F401 (bench_env: a fixture)

from xlstsr.datasets.root import HELD_BACK_RESULTS, results_dir

ROOT = Path(__file__).resolve().parents[1]
PUBLISHED = ROOT / "docs" / "results"
KINDS = ("modis_lst_1km", "modis_ndvi_250m", "aster_lst_250m")


def _stamps() -> dict[str, int]:
    return {p.name: p.stat().st_mtime_ns for p in PUBLISHED.glob("*")}


def _pairs_folder(shared: Path, dst: Path, pairs: dict[str, str], rows: list[str] | None = None
                  ) -> Path:
    """dst/modis_aster: new id -> shared id (links); pairs.csv lists ``rows`` (default: the ids)."""
    folder = dst / "modis_aster"
    folder.mkdir(parents=True)
    for new, old in pairs.items():
        for kind in KINDS:
            (folder / f"{new}_{kind}.tif").symlink_to(shared / "modis_aster" / f"{old}_{kind}.tif")
    (folder / "pairs.csv").write_text(
        "pair,aster_view_angle_deg\n" + "".join(f"{p},10.0\n" for p in rows or pairs))
    return dst


def _eco_folder(shared: Path, dst: Path, keys: list[str], *, csv: bool = True) -> Path:
    """An ecostress_la-like folder with the scenes of the doy ``keys`` (links); without
    ``scenes.csv`` when ``csv`` is false (a folder listed by its files)."""
    src = shared / "ecostress_la"
    sc = pd.read_csv(src / "scenes.csv", dtype={"overpass": str})
    sc["key"] = sc.file.str.extract(r"_doy(\d{13})_")[0]
    rows = sc.set_index("key").loc[keys].reset_index(drop=True)
    for sub, col in (("LST", "file"), ("cloud_mask", "cloud_mask"), ("water_mask", "water_mask")):
        (dst / sub).mkdir(parents=True)
        for f in rows[col]:
            (dst / sub / f).symlink_to(src / sub / f)
    if csv:
        rows.to_csv(dst / "scenes.csv", index=False)
    return dst


def _crop_east(folder: Path, west: float) -> None:
    """Replace the links of an ecostress folder by copies cropped to longitudes >= ``west``."""
    import rasterio
    from rasterio.windows import from_bounds

    for sub in ("LST", "cloud_mask", "water_mask"):
        for f in sorted((folder / sub).glob("*.tif")):
            with rasterio.open(f.resolve()) as src:
                b = src.bounds
                win = from_bounds(west, b.bottom, b.right, b.top, src.transform)
                win = win.round_offsets().round_lengths()
                data = src.read(window=win)
                prof = src.profile | {"width": data.shape[2], "height": data.shape[1],
                                      "transform": src.window_transform(win)}
                scales, offsets = src.scales, src.offsets
            f.unlink()
            with rasterio.open(f, "w", **prof) as dst:
                dst.write(data)
                dst.scales, dst.offsets = scales, offsets


def _cube_folder(shared: Path, dst: Path, table: pd.DataFrame | None = None,
                 items=None) -> Path:
    """dst/modis_h18v04_2020: the shared catalog and COGs linked, ``windows.csv`` from
    ``table`` (default: a copy of the shared one, never a link: a test that rewrites it must not
    write through to the shared data), items rewritten by ``items`` (default: linked)."""
    src = shared / "modis_h18v04_2020"
    cube = dst / "modis_h18v04_2020"
    cube.mkdir(parents=True)
    for name in ("catalog.json", "collection.json", "collection-13A2.json", "cogs"):
        (cube / name).symlink_to(src / name)
    if items is None:
        (cube / "items").symlink_to(src / "items")
    else:
        (cube / "items").mkdir()
        for f in (src / "items").glob("*.json"):
            (cube / "items" / f.name).write_text(json.dumps(items(json.loads(f.read_text()))))
    if table is None:
        shutil.copyfile(src / "windows.csv", cube / "windows.csv")
    else:
        table.to_csv(cube / "windows.csv", index=False)
    return dst


# -- 01: --smoke never writes over the published pages ------------------------------------------


def test_results_dir_sends_smoke_runs_out_of_docs_results(shared_data: Path) -> None:
    assert results_dir(None, PUBLISHED, shared_data) == PUBLISHED
    assert results_dir(None, PUBLISHED, shared_data, smoke=True) == HELD_BACK_RESULTS
    assert results_dir("/tmp/o", PUBLISHED, shared_data, smoke=True) == Path("/tmp/o")


@pytest.mark.usefixtures("bench_env")
def test_accuracy_smoke_on_project_data_keeps_out_of_docs_results(
        shared_data: Path, tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    """--smoke without --out on the project's own pairs wrote its 2-pair page over
    docs/results/accuracy.md (the script's ROOT is moved to tmp_path: the old code writes there)."""
    monkeypatch.setenv("XLSTSR_DATA", str(shared_data))
    monkeypatch.chdir(tmp_path)
    acc = load_benchmark("accuracy_modis_aster")
    monkeypatch.setattr(acc, "ROOT", tmp_path)
    before = _stamps()
    assert acc.main(["--smoke", "--methods", "bicubic"]) == 0
    assert not (tmp_path / "docs").exists()
    assert (tmp_path / HELD_BACK_RESULTS / "accuracy.md").is_file()
    assert _stamps() == before


@pytest.mark.usefixtures("bench_env")
def test_one_level_up_smoke_with_json_writes_beside_it(
        shared_data: Path, tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    """--smoke --json PATH on the project's cube: the page goes beside PATH (was docs/results)."""
    monkeypatch.setenv("XLSTSR_DATA", str(shared_data))
    monkeypatch.chdir(tmp_path)
    mod = load_benchmark("one_level_up")
    monkeypatch.setattr(mod, "ROOT", tmp_path)
    jpath = tmp_path / "res" / "s.json"
    assert mod.main(["--smoke", "--json", str(jpath)]) == 0
    assert not (tmp_path / "docs").exists()
    assert (jpath.parent / "one_level_up.md").is_file()
    json.loads(jpath.read_text(), parse_constant=lambda c: pytest.fail(f"JSON holds {c}"))


# -- 04: a granule of a training overpass is no test date ---------------------------------------


@pytest.mark.usefixtures("bench_env")
def test_scale_invariance_drops_the_second_granule_of_a_training_overpass(
        shared_data: Path, tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    """The test folder (listed by its files) holds 2023219014752, 51 s after the training
    granule 2023219014701 (one overpass): it was loaded and scored as an unseen test date."""
    t = _eco_folder(shared_data, tmp_path / "T", ["2023183080644", "2023184152551",
                                                  "2023190054140", "2023219014701",
                                                  "2023202005411"])
    s = _eco_folder(shared_data, tmp_path / "S", ["2023219014752", "2023205231732",
                                                  "2023194040614", "2023209214058"], csv=False)
    si = load_benchmark("scale_invariance")
    assert si.trained_overpasses(s, ["2023219014752", "2023205231732"], t,
                                 ["2023219014701", "2023183080644"]) == {
        "2023219014752": "2023219014701"}
    loaded: dict[str, list[str]] = {}
    real_load = si.load_280

    class Stop(Exception):
        pass

    def load_280(folder, keys, box=None):
        loaded[Path(folder).name] = list(keys)
        return real_load(folder, keys, box)

    def folds(*a, **k):  # loaded: stop before any training
        raise Stop

    monkeypatch.setattr(si, "load_280", load_280)
    monkeypatch.setattr(si, "folds", folds)
    with pytest.raises(Stop):
        si.main(["--smoke", "--no-stats", "--train", str(t), "--test", str(s),
                 "--out", str(tmp_path / "o")])
    assert "2023219014701" in loaded["T"]
    assert "2023219014752" not in loaded["S"] and len(loaded["S"]) == 3


# -- 10, 11: a fold with nothing to score or to train on ----------------------------------------


def _fields(cols_valid: tuple[int, int], ops: list[str], nx: int = 104, ny: int = 24) -> dict:
    """Fields at 280 m / 1.12 km (``ops``) valid on the 1.12 km columns ``cols_valid`` only."""
    rng = np.random.default_rng(0)
    f1120, f280 = {}, {}
    for op in ops:
        a = 300 + rng.normal(0, 2, (ny * 4, nx * 4)).astype(np.float32)
        a[:, : cols_valid[0] * 4] = np.nan
        a[:, cols_valid[1] * 4:] = np.nan
        f280[op] = a
        b = 300 + rng.normal(0, 1, (ny, nx)).astype(np.float32)
        b[:, : cols_valid[0]] = np.nan
        b[:, cols_valid[1]:] = np.nan
        f1120[op] = b
    return {"280": f280, "1120": f1120}


def test_scale_invariance_names_a_fold_without_test_or_training_ground() -> None:
    si = load_benchmark("scale_invariance")
    (_, w_tr, w_sc), (_, e_tr, e_sc) = si.folds(104, "position")
    train = _fields((0, 104), ["a", "b", "c"])
    test = _fields((60, 104), ["x", "y"])  # only the east: the east fold scores the west
    assert si.fold_problem(train, test, w_tr, w_sc, ["c"]) is None
    why = si.fold_problem(train, test, e_tr, e_sc, ["c"])
    assert why is not None and "scored columns [0, 46)" in why and "[60, 104)" in why
    train = _fields((0, 50), ["a", "b", "c"])  # the training scenes only in the west
    test = _fields((0, 104), ["x", "y"])
    why = si.fold_problem(train, test, e_tr, e_sc, ["c"])
    assert why is not None and "training columns [56, 104)" in why and "[0, 50)" in why
    assert si.fold_problem(train, test, w_tr, w_sc, ["c"]) is None


def test_scale_invariance_json_is_strict() -> None:
    si = load_benchmark("scale_invariance")
    out = si.strict_json({"folds": {"east": {"gap_rmse": np.nan}}, "ci": [np.float32(1.0),
                                                                           np.inf]})
    assert json.loads(json.dumps(out, allow_nan=False)) == {
        "folds": {"east": {"gap_rmse": None}}, "ci": [1.0, None]}


@pytest.mark.usefixtures("bench_env")
def test_scale_invariance_partial_test_ground_leaves_the_empty_fold_out(
        shared_data: Path, tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    """Test scenes covering only the east of the training box: the 'east' fold (scored on the
    west) was trained and written as a bare NaN token; now not run, null with its reason."""
    t = _eco_folder(shared_data, tmp_path / "T", ["2023183080644", "2023184152551",
                                                  "2023190054140", "2023202005411"])
    s = _eco_folder(shared_data, tmp_path / "S", ["2023205231732", "2023194040614"], csv=False)
    _crop_east(s, -118.0)
    monkeypatch.chdir(tmp_path)
    si = load_benchmark("scale_invariance")
    jpath = tmp_path / "o" / "s.json"
    assert si.main(["--smoke", "--no-stats", "--train", str(t), "--test", str(s),
                    "--json", str(jpath)]) == 0
    summ = json.loads(jpath.read_text(),
                      parse_constant=lambda c: pytest.fail(f"JSON holds the token {c}"))
    east = summ["folds"]["east"]
    assert east["gap_rmse"] is None and "hold no test overpass" in east["skipped"]
    assert summ["folds"]["west"]["n_scored"] == 2
    page = (jpath.parent / "scale_invariance.md").read_text()
    assert "fold `east` is **not run**" in page and "nan" not in page.split("Per fold")[1][:200]


# -- 05, 06, 07: one_level_up on another cube ---------------------------------------------------


@pytest.mark.usefixtures("bench_env")
def test_cube_split_does_not_depend_on_pair_numbering(shared_data: Path, tmp_path: Path) -> None:
    """A held-back cube names its own pairs in dev_pairs: the split was decided by the shared
    EVAL_PAIRS ids. The shared cube's split stays the one the bundled weights record."""
    import torch

    rec = load_benchmark("sisr_cube").recipe()
    t = pd.read_csv(shared_data / "modis_h18v04_2020" / "windows.csv", dtype=str)
    ids = sorted({p for v in t.dev_pairs.dropna() for p in v.split(";")})
    new = {p: str(901 + i) for i, p in enumerate(ids)}
    t2 = t.copy()
    t2["dev_pairs"] = t2.dev_pairs.map(
        lambda v: v if pd.isna(v) else ";".join(new[p] for p in v.split(";")))
    a = rec.cube_split(_cube_folder(shared_data, tmp_path / "a", t)).as_dict()
    b = rec.cube_split(_cube_folder(shared_data, tmp_path / "b", t2)).as_dict()
    assert a == b
    shares = t[t.dev_pairs_overlap_px.fillna("0").map(
        lambda v: any(int(n) > 0 for n in v.split(";")))].window.astype(int)
    assert sorted(a["held_out"]) == sorted(shares.tolist())  # every pair's ground held out
    own = rec.cube_split(shared_data).as_dict()
    meta = torch.load(rec.WEIGHTS_DIR / "sisr_rescnn_cube_x4.pt", weights_only=True)["metadata"]
    assert {k: sorted(v) for k, v in meta["positions"].items() if k in own} == {
        k: sorted(v) for k, v in own.items()}


@pytest.mark.usefixtures("bench_env")
def test_cube_split_without_pair_columns(shared_data: Path, tmp_path: Path) -> None:
    """A windows.csv without intersects_dev_pair / dev_pairs / dev_pairs_overlap_px: a raw
    AttributeError in cube_split; now no window held out, and a note saying why."""
    rec = load_benchmark("sisr_cube").recipe()
    t = pd.read_csv(shared_data / "modis_h18v04_2020" / "windows.csv", dtype=str)
    root = _cube_folder(shared_data, tmp_path, t.drop(columns=list(rec.CUBE_PAIR_COLUMNS)))
    split = rec.cube_split(root)
    assert list(split.held_out) == [] and len(split.train) > 0
    held, touching, note = rec.cube_pair_windows(root)
    assert held == touching == [] and "none of the modis_aster columns" in note


@pytest.mark.usefixtures("bench_env")
def test_one_level_up_names_the_missing_day_asset(shared_data: Path, tmp_path: Path) -> None:
    """A night-only cube was refused as 'open_stac got no STAC items; check the search'."""
    def night_only(item: dict) -> dict:
        item["assets"].pop("LST_Day_1km", None)
        return item

    root = _cube_folder(shared_data, tmp_path, items=night_only)
    mod = load_benchmark("one_level_up")
    with pytest.raises(SystemExit, match=r"holds all of \['LST_Day_1km', 'LST_Night_1km'\]"):
        mod.load(root, 5)
    table = root / "modis_h18v04_2020" / "windows.csv"
    assert not table.is_symlink()
    table.write_text("window,row_off,col_off\n72,256,0\n")
    with pytest.raises(SystemExit, match=r"lacks the columns \['n_dates_mod11a1'\]"):
        mod.load(root, 5)


# -- 08, 09: pair ids as written, each once -----------------------------------------------------


def test_pair_ids_are_used_as_written(shared_data: Path, tmp_path: Path) -> None:
    """Ids '01', '02' were padded to '001', '002' (files nobody named: every pair 'missing')."""
    from xlstsr.datasets import modis_aster_pairs, open_modis_aster_pair
    from xlstsr.datasets.modis_aster import _pair_id

    root = _pairs_folder(shared_data, tmp_path / "a", {"01": "015", "02": "084"})
    assert modis_aster_pairs(root) == ["01", "02"]
    assert open_modis_aster_pair("01", root)[0].attrs["pair"] == "01"
    assert _pair_id(2, root) == "02"
    # a table whose leading zeros were dropped still finds its padded files (the fallback)
    root = _pairs_folder(shared_data, tmp_path / "b", {"001": "015"}, rows=["1"])
    assert modis_aster_pairs(root) == ["001"]


def test_repeated_pair_rows_are_listed_once(shared_data: Path, tmp_path: Path) -> None:
    from xlstsr.datasets import modis_aster_pairs

    root = _pairs_folder(shared_data, tmp_path, {"501": "084", "502": "015"},
                         rows=["502", "501", "502"])
    with pytest.warns(UserWarning, match=r"\['502'\] more than once"):
        assert modis_aster_pairs(root) == ["502", "501"]


@pytest.mark.usefixtures("bench_env")
def test_accuracy_scores_a_repeated_pair_once(shared_data: Path, tmp_path: Path) -> None:
    """--pairs 502,502,501: 502 was scored twice, weighing double ('3 real pairs' for 2)."""
    root = _pairs_folder(shared_data, tmp_path / "d", {"501": "084", "502": "015"})
    acc = load_benchmark("accuracy_modis_aster")
    csv = tmp_path / "rows.csv"
    with pytest.warns(UserWarning, match=r"\['502'\] more than once"):
        assert acc.main(["--root", str(root), "--pairs", "502,502,501", "--methods", "bicubic",
                         "--no-figure", "--no-anchor", "--no-corrections", "--out",
                         str(tmp_path / "o"), "--csv", str(csv)]) == 0
    rows = pd.read_csv(csv, dtype={"pair": str})
    counts = rows[(rows.method == "bicubic") & (rows.protocol == "anchor")].pair.value_counts()
    assert counts.to_dict() == {"502": 1, "501": 1}
    assert "(2 real pairs)" in (tmp_path / "o" / "accuracy.md").read_text().splitlines()[0]
    assert acc.as_listed("2", ["001", "002"]) == "002" and acc.as_listed("01", ["01"]) == "01"



def test_every_smoke_benchmark_keeps_off_the_published_pages():
    """Ten scripts hard-coded `--out docs/results`: their `--smoke` run (a test of the code
    path) replaced the published page. Each script with --smoke picks its folder through
    results_dir(..., smoke=...), which never gives docs/results for a smoke run."""
    import re

    from xlstsr.datasets.root import HELD_BACK_RESULTS, results_dir

    bench = Path(__file__).resolve().parents[1] / "benchmarks"
    for path in sorted(bench.glob("*.py")):
        text = path.read_text()
        if '"--smoke"' not in text:
            continue
        assert re.search(r"results_dir\((?:[^()]|\([^()]*\))*smoke=", text), path.name
        assert 'default=ROOT / "docs" / "results"' not in text, path.name
    assert results_dir(None, "docs/results") == Path("docs/results")
    assert results_dir(None, "docs/results", smoke=True) == HELD_BACK_RESULTS

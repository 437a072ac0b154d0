"""The benchmark entry points an independent check runs on held-back data (audit 5).

Each test builds a small folder laid out like ``../shared/data`` with other contents (copies or
links of a few shared files under new ids, some broken on purpose) in ``tmp_path``, runs the
entry point's ``main`` in its smallest mode and checks that it scores what it should, refuses a
folder it cannot use with a message naming the problem, and never writes over the published
pages of ``docs/results`` unless ``--out`` asks for it.
"""

from __future__ import annotations

import shutil
from pathlib import Path

import numpy as np
import pytest
from test_benchmarks import bench_env, load_benchmark  # noqa: F401 (bench_env: a fixture)

from xlstsr.datasets.root import HELD_BACK_RESULTS, is_project_data, results_dir

ROOT = Path(__file__).resolve().parents[1]
PUBLISHED = ROOT / "docs" / "results"
KINDS = ("modis_lst_1km", "modis_ndvi_250m", "aster_lst_250m")


def _pairs_folder(shared: Path, dst: Path, pairs: dict[str, str], *, fill: tuple[str, ...] = (),
                  no_ndvi: tuple[str, ...] = ()) -> Path:
    """A modis_aster folder: ``pairs`` new id -> shared id; ASTER of ``fill`` all fill (0), the
    NDVI of ``no_ndvi`` absent."""
    import rasterio

    folder = dst / "modis_aster"
    folder.mkdir(parents=True)
    for new, src in pairs.items():
        for kind in KINDS:
            if kind == "modis_ndvi_250m" and new in no_ndvi:
                continue
            shutil.copy(shared / "modis_aster" / f"{src}_{kind}.tif", folder / f"{new}_{kind}.tif")
        if new in fill:
            with rasterio.open(folder / f"{new}_aster_lst_250m.tif", "r+") as f:
                f.write(np.zeros((f.height, f.width), f.dtypes[0]), 1)
    (folder / "pairs.csv").write_text(
        "pair,aster_view_angle_deg\n" + "".join(f"{p},10.0\n" for p in pairs))
    return dst


def _stamps() -> dict[str, float]:
    return {p.name: p.stat().st_mtime_ns for p in PUBLISHED.glob("*.md")}


def test_results_dir_keeps_held_back_runs_out_of_docs_results(
        tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    """Another data folder without --out goes to ./heldback_results, never docs/results; the
    project's own folder is ../shared/data only ($XLSTSR_DATA naming another folder is
    held-back data: it published over docs/results)."""
    monkeypatch.setenv("XLSTSR_DATA", str(tmp_path / "own"))
    assert not is_project_data(tmp_path / "own" / "modis_aster")
    assert not is_project_data(tmp_path / "other")
    monkeypatch.delenv("XLSTSR_DATA")
    assert not is_project_data(tmp_path)
    assert results_dir(None, PUBLISHED, tmp_path) == HELD_BACK_RESULTS
    assert results_dir(tmp_path / "o", PUBLISHED, tmp_path) == tmp_path / "o"
    shared = ROOT.parent / "shared" / "data"
    assert is_project_data(shared / "ecostress_la")
    assert results_dir(None, PUBLISHED, shared, shared / "ecostress_la") == PUBLISHED
    assert results_dir(None, PUBLISHED, shared, tmp_path) == HELD_BACK_RESULTS


@pytest.mark.usefixtures("bench_env")
def test_accuracy_held_back_default_output_and_unusable_pairs(
        shared_data: Path, tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    """--smoke --root DIR (ids 901-903, none of 002/015): scores DIR's first pairs, leaves out a
    pair whose ASTER is all fill and one without NDVI (named on the page), and writes into
    ./heldback_results, not over docs/results/accuracy.md."""
    root = _pairs_folder(shared_data, tmp_path / "data", {"901": "015", "902": "084", "903": "044"},
                         fill=("902",), no_ndvi=("903",))
    monkeypatch.chdir(tmp_path)
    before = _stamps()
    acc = load_benchmark("accuracy_modis_aster")
    assert acc.main(["--smoke", "--root", str(root), "--methods", "bicubic",
                     "--pairs", "901,902,903"]) == 0
    assert _stamps() == before
    page = (tmp_path / HELD_BACK_RESULTS / "accuracy.md").read_text()
    assert "| bicubic | 1 |" in page  # 901 scored
    assert "902: no ASTER pixel in the truth mask" in page
    assert "903: missing 903_modis_ndvi_250m.tif" in page
    assert "Held-back data" in page


@pytest.mark.usefixtures("bench_env")
def test_accuracy_refuses_a_folder_with_nothing_to_score(shared_data: Path, tmp_path: Path) -> None:
    acc = load_benchmark("accuracy_modis_aster")
    root = _pairs_folder(shared_data, tmp_path / "a", {"901": "015"}, fill=("901",))
    with pytest.raises(SystemExit, match=r"no usable MODIS/ASTER pair.*901: no ASTER pixel"):
        acc.main(["--smoke", "--root", str(root), "--out", str(tmp_path / "o")])
    with pytest.raises(SystemExit, match=r"pairs \['002'\] are not in .*it lists 1: 901"):
        acc.main(["--root", str(root), "--pairs", "002", "--out", str(tmp_path / "o")])
    empty = tmp_path / "b" / "modis_aster"
    empty.mkdir(parents=True)
    (empty / "pairs.csv").write_text("pair,aster_view_angle_deg\n")
    with pytest.raises(SystemExit, match="lists no pair"):
        acc.main(["--root", str(empty.parent), "--out", str(tmp_path / "o")])


@pytest.mark.usefixtures("bench_env")
def test_sisr_cube_held_back_pairs_and_default_output(
        shared_data: Path, tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    """--held-back on a cube with a modis_aster folder holding an all-fill pair: the pair is left
    out by name (was a per-method failure), the other scored; output in ./heldback_results.
    Without --held-back another cube is refused (its own split would test on ground the bundled
    models trained on)."""
    import json

    root = _pairs_folder(shared_data, tmp_path / "data", {"901": "015", "902": "084"},
                         fill=("901",))
    (root / "modis_h18v04_2020").symlink_to(shared_data / "modis_h18v04_2020")
    monkeypatch.chdir(tmp_path)
    before = _stamps()
    mod = load_benchmark("sisr_cube")
    assert mod.main(["--held-back", "--smoke", "--root", str(root)]) == 0
    assert _stamps() == before
    res = json.loads((tmp_path / HELD_BACK_RESULTS / "sisr_cube_held_back.json").read_text())
    assert "no ASTER pixel" in res["aster_pairs_left_out"]["901"]
    assert set(res["aster_rmse"]) == {"bicubic", "sisr:rescnn (default)"}
    assert np.isfinite(res["aster_rmse"]["bicubic"])
    with pytest.raises(SystemExit, match=r"not the project's own data.*--held-back"):
        mod.main(["--smoke", "--root", str(root)])


@pytest.mark.usefixtures("bench_env")
def test_sisr_cube_offsets_are_cached_per_folder(shared_data: Path, tmp_path: Path) -> None:
    """Held-back folders number pairs anew: pair "901" of two folders is two pairs (the offset
    cache was keyed by id alone, so the second folder was scored with the first one's offset)."""
    a = _pairs_folder(shared_data, tmp_path / "a", {"901": "015"})
    b = _pairs_folder(shared_data, tmp_path / "b", {"901": "084"})
    mod = load_benchmark("sisr_cube")
    acc = mod.accuracy()
    bicubic = {"bicubic": mod.get_method("bicubic")}
    ra = mod.score_aster(["901"], bicubic, a)["bicubic"]
    rb = mod.score_aster(["901"], bicubic, b)["bicubic"]
    lst, ndvi, aster = acc.open_modis_aster_pair("901", b)
    est, _ = acc.pair_offset(lst, aster)
    head = {k: v for k, v in acc.PROTOCOLS[acc.HEADLINE].items() if k != "coregister"}
    want = acc.score(acc.run_method(bicubic["bicubic"], lst, ndvi)[0], lst, aster, coregister=est, **head)
    assert ra and rb and ra[0]["rmse"] != rb[0]["rmse"]
    assert rb[0]["rmse"] == pytest.approx(want["rmse"])


def _ecostress_folder(shared: Path, dst: Path, n_day: int, n_night: int,
                      blank: bool = False) -> Path:
    """An ecostress_la folder of links to the clearest shared scenes (``n_day`` + ``n_night``);
    ``blank``: the first one's LST a copy all fill (0) that scenes.csv still counts as clear."""
    import pandas as pd
    import rasterio

    src = shared / "ecostress_la"
    sc = pd.read_csv(src / "scenes.csv", dtype={"overpass": str})
    sc = sc[sc.n_valid > 300_000].drop_duplicates("overpass")
    rows = pd.concat([sc[sc.day_night == "day"].iloc[:n_day],
                      sc[sc.day_night == "night"].iloc[:n_night]])
    folder = dst / "ecostress_la"
    for sub, col in (("LST", "file"), ("cloud_mask", "cloud_mask"), ("water_mask", "water_mask")):
        (folder / sub).mkdir(parents=True)
        for f in rows[col]:
            (folder / sub / f).symlink_to(src / sub / f)
    rows.to_csv(folder / "scenes.csv", index=False)
    if blank:
        f = folder / "LST" / rows["file"].iloc[0]
        f.unlink()
        shutil.copy(src / "LST" / f.name, f)
        with rasterio.open(f, "r+", IGNORE_COG_LAYOUT_BREAK="YES") as r:
            r.write(np.zeros((r.height, r.width), r.dtypes[0]), 1)
    return folder


@pytest.mark.usefixtures("bench_env")
def test_scale_invariance_refuses_too_few_overpasses(shared_data: Path, tmp_path: Path) -> None:
    """2 scenes: 1 training overpass (then also the validation one) and 1 test overpass. Was
    "no training patches" from the training loop, after loading; now the counts and the fix."""
    folder = _ecostress_folder(shared_data, tmp_path, 1, 1)
    mod = load_benchmark("scale_invariance")
    with pytest.raises(SystemExit, match=r"1 training and 1 test overpasses.*at least 2 of each"):
        mod.main(["--smoke", "--train", str(folder), "--test", str(folder),
                  "--json", str(tmp_path / "s.json")])
    assert not (tmp_path / "s.json").exists()


@pytest.mark.usefixtures("bench_env")
def test_scale_invariance_held_back_writes_beside_its_json(
        shared_data: Path, tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    """--train DIR --test DIR --json PATH on a held-back folder (4 night overpasses and a day
    scene all fill that scenes.csv counts as clear: was an AllNaNError after training, now left
    out before): scores 2 test overpasses, writes the page beside PATH, not over docs/results."""
    import json

    folder = _ecostress_folder(shared_data, tmp_path / "data", 1, 4, blank=True)
    monkeypatch.chdir(tmp_path)
    before = _stamps()
    mod = load_benchmark("scale_invariance")
    jpath = tmp_path / "res" / "summary.json"
    assert mod.main(["--smoke", "--no-stats", "--train", str(folder), "--test", str(folder),
                     "--json", str(jpath)]) == 0
    assert _stamps() == before
    summ = json.loads(jpath.read_text())
    assert summ["n_test"] == 2 and np.isfinite(summ["gap_rmse"])
    assert len(summ["train_overpasses"]) == 2  # the blank day scene left out
    assert (jpath.parent / "scale_invariance.md").is_file()


def test_scale_invariance_best_lowers_the_rmse_when_the_gap_is_negative() -> None:
    """When the invariant model beats the oracle (gap < 0), the largest "fraction closed" is the
    correction that raised the RMSE most: "best" must be the one that lowers it most."""
    mod = load_benchmark("scale_invariance")
    one = np.ones((6, 1))
    ratio = np.full((6, 1), 0.8)
    res = {name: np.hstack([one * r, one * r, ratio]) for name, r in (
        ("invariant", 1.0), ("oracle", 1.1), ("kernel", 1.3), ("multiscale", 0.95))}
    summ = mod.bootstrap(res)
    assert summ["gap_rmse"] < 0 and summ["closed"]["kernel"] > 0
    assert summ["best"] == "multiscale" and summ["best_rmse_change"] < 0
    res["oracle"] = res["oracle"] - 0.2  # a positive gap: the same choice as the closed fraction
    summ = mod.bootstrap(res)
    assert summ["best"] == max(summ["closed"], key=summ["closed"].get) == "multiscale"


def _cube_folder(shared: Path, dst: Path, windows: list[int]) -> Path:
    """A cube folder: the shared catalog, items and COGs linked, ``windows.csv`` cut to
    ``windows`` (other window positions of a held-back cube)."""
    import pandas as pd

    src = shared / "modis_h18v04_2020"
    cube = dst / "modis_h18v04_2020"
    cube.mkdir(parents=True)
    for name in ("catalog.json", "collection.json", "collection-13A2.json", "items", "cogs"):
        (cube / name).symlink_to(src / name)
    table = pd.read_csv(src / "windows.csv", dtype=str)
    table[table.window.astype(int).isin(windows)].to_csv(cube / "windows.csv", index=False)
    return dst


@pytest.mark.usefixtures("bench_env")
def test_one_level_up_refuses_a_cube_too_small_for_its_split(shared_data: Path,
                                                              tmp_path: Path) -> None:
    """3 windows: the split by position leaves no validation (or no training) window-dates. Was
    "no training patches" from the training loop; now the counts, the positions and the fix."""
    root = _cube_folder(shared_data, tmp_path / "data", [72, 128, 231])
    mod = load_benchmark("one_level_up")
    with pytest.raises(SystemExit, match=r"split by window position leaves 0 training"):
        mod.main(["--smoke", "--root", str(root), "--json", str(tmp_path / "s.json")])
    assert not (tmp_path / "s.json").exists()


@pytest.mark.usefixtures("bench_env")
def test_disr_degraded_cube_refuses_another_cube(shared_data: Path, tmp_path: Path) -> None:
    """Its split and EVAL_PAIRS are the shared cube's: on another cube it crashed (no validation
    positions: 'need at least one array to concatenate') or would score the bundled models on
    ground they trained on; now refused, pointing to the held-back entry points."""
    root = _cube_folder(shared_data, tmp_path / "data", [2, 3, 72, 128, 231])
    mod = load_benchmark("disr_degraded_cube")
    with pytest.raises(SystemExit, match=r"not the project's own data.*sisr_cube.py --held-back"):
        mod.main(["--smoke", "--root", str(root), "--out", str(tmp_path / "o")])
    assert not (tmp_path / "o").exists()


@pytest.mark.usefixtures("bench_env")
def test_sisr_cube_held_back_names_what_a_cube_lacks(shared_data: Path, tmp_path: Path) -> None:
    """A day-only cube was refused as "open_stac got no STAC items; check the search" (the
    reader drops items without both assets); now the missing asset is named. A folder without
    the cube, or a windows.csv without bounds, is named too (was a raw FileNotFoundError /
    KeyError)."""
    import json

    mod = load_benchmark("sisr_cube")
    root = _cube_folder(shared_data, tmp_path / "day", [72, 128, 231])
    cube = root / "modis_h18v04_2020"
    (cube / "items").unlink()
    (cube / "items").mkdir()
    for f in (shared_data / "modis_h18v04_2020" / "items").glob("*.json"):
        item = json.loads(f.read_text())
        item["assets"].pop("LST_Night_1km", None)
        (cube / "items" / f.name).write_text(json.dumps(item))
    out = ["--out", str(tmp_path / "o")]
    with pytest.raises(SystemExit, match=r"holds all of \['LST_Day_1km', 'LST_Night_1km'\]"):
        mod.main(["--held-back", "--smoke", "--root", str(root), *out])
    (tmp_path / "none").mkdir()
    with pytest.raises(SystemExit, match=r"no catalog\.json in .*modis_h18v04_2020"):
        mod.main(["--held-back", "--smoke", "--root", str(tmp_path / "none"), *out])
    (cube / "windows.csv").write_text("window,row_off,col_off\n72,256,0\n")
    with pytest.raises(SystemExit, match=r"lacks the columns \['xmin', 'ymin', 'xmax', 'ymax'\]"):
        mod.main(["--held-back", "--smoke", "--root", str(root), *out])


@pytest.mark.usefixtures("bench_env")
def test_accuracy_pairs_with_modis_gaps(shared_data: Path, tmp_path: Path) -> None:
    """A pair whose MODIS LST is all NaN ended the whole run (estimate_offset's AllNaNError);
    one with many NaN pixels ended it in the outside-reading anchor variants. Now the first is
    left out by name and the second scored by every method (its variants skipped)."""
    import pandas as pd
    import rasterio

    root = _pairs_folder(shared_data, tmp_path / "data", {"901": "015", "902": "084"})
    for pid, keep in (("901", lambda a: np.zeros(a.shape, bool)),
                      ("902", lambda a: np.indices(a.shape).sum(0) % 2 == 1)):
        with rasterio.open(root / "modis_aster" / f"{pid}_modis_lst_1km.tif", "r+") as f:
            a = f.read(1)
            f.write(np.where(keep(a), a, np.nan).astype(a.dtype), 1)
    acc = load_benchmark("accuracy_modis_aster")
    csv = tmp_path / "rows.csv"
    assert acc.main(["--root", str(root), "--methods", "bicubic", "--no-corrections",
                     "--no-figure", "--out", str(tmp_path / "o"), "--csv", str(csv)]) == 0
    rows = pd.read_csv(csv, dtype={"pair": str})
    assert set(rows.pair) == {"902"} and rows.rmse.notna().all()
    assert "901: the MODIS LST holds no valid pixel" in (tmp_path / "o" / "accuracy.md").read_text()


def test_engine_reads_the_stac_cube_of_root(bench_env, shared_data, tmp_path):  # noqa: F811
    eng = load_benchmark("engine")
    assert eng.stac_catalog(tmp_path) is None  # no cube there: the page says "not run"
    (tmp_path / "modis_h18v04_2020").symlink_to(shared_data / "modis_h18v04_2020")
    cat = eng.stac_catalog(tmp_path)
    assert cat == tmp_path / "modis_h18v04_2020" / "catalog.json"
    assert eng.stac_catalog(tmp_path / "modis_h18v04_2020") == cat.parent / "catalog.json"
    assert eng._cube_name({"catalog": str(cat)}) == "`modis_h18v04_2020`"

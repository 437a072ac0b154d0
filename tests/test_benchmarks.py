"""Every benchmark script runs as a smoke test (flox style): imported by path, ``main(["--smoke",
"--out", tmp])`` runs the full run's code path on a tiny input and writes its table there.

The numbers are not checked (a smoke run measures nothing); that the script runs end to end on
the code now in the package, and writes a table where it is told, is. ``accuracy_modis_aster.py``
is tested by its own module. Scripts that read ../shared/data take the ``shared_data`` fixture
(skipped, saying so, when the folder is absent).
"""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pytest
from helpers import load_benchmark

BENCH = Path(__file__).resolve().parents[1] / "benchmarks"

#: script -> (reads ../shared/data, files it writes in --out)
SCRIPTS: dict[str, tuple[bool, tuple[str, ...]]] = {
    "zarr_compression": (False, ("compression.md",)),
    "engine": (False, ("engine.md",)),
    "bench_models": (True, ("models.md",)),
    "scaling_report": (True, ("scaling.md", "scaling_compare.png", "scaling_correction.png")),
    "one_level_up": (True, ("one_level_up.md",)),
    "target_scale_sisr": (True, ("target_scale_sisr.md",)),
    "correction_variants": (True, ("correction_variants.md",)),
    "select_disr": (True, ("disr_selection.md",)),
    "spectral_gaps": (True, ("spectral_gaps.md",)),
    "scale_invariance": (True, ("scale_invariance.md", "scale_invariance.json")),
    "sisr_cube": (True, ("sisr_cube.md",)),
    "sisr_ceiling": (True, ("sisr_ceiling.md",)),
    "disr_degraded_cube": (True, ("disr_degraded_cube.md",)),
    "adaptation": (True, ("adaptation.md",)),
    "disr_ground": (True, ("disr_ground.md", "disr_ground.json")),
    "coregistration": (True, ("coregistration.md",)),
    "forward_fold": (True, ("forward_fold.md",)),
    "conserve_forms": (True, ("conserve_forms.md",)),
}
#: start processes or a cluster (the ``slow`` marker's meaning); still part of ``make test``
SLOW = {"engine", "select_disr", "disr_ground"}


@pytest.fixture
def bench_env(monkeypatch: pytest.MonkeyPatch):
    """Benchmarks import their siblings (``gain_bounds``) and set torch's thread count: the
    folder goes on ``sys.path`` and the thread count is put back after the test."""
    torch = pytest.importorskip("torch")
    monkeypatch.syspath_prepend(str(BENCH))
    threads = torch.get_num_threads()
    yield
    torch.set_num_threads(threads)


def _params() -> list:
    out = []
    for name, (real, _) in SCRIPTS.items():
        marks = [pytest.mark.slow] if name in SLOW else []
        if real:  # the shared_data fixture is requested inside the test: mark it here
            marks.append(pytest.mark.realdata)
        out.append(pytest.param(name, real, id=name, marks=marks))
    return out


def test_every_script_is_covered():
    """A new benchmark script gets a smoke test (or is named here as the lead's)."""
    found = {p.stem for p in BENCH.glob("*.py")}
    helpers = {"run_all", "gain_bounds", "accuracy_modis_aster"}
    missing = found - helpers - set(SCRIPTS)
    assert not missing, (
        f"benchmarks {sorted(missing)} have no smoke test: give each main(argv) with --smoke and "
        "--out DIR, and add it to SCRIPTS here (and to run_all.SCRIPTS)"
    )
    assert set(SCRIPTS) <= found, f"listed but absent: {sorted(set(SCRIPTS) - found)}"


def test_run_all_lists_every_script():
    """``make bench`` runs every script but the hours-long DISR selection."""
    run_all = load_benchmark("run_all")
    listed = set(run_all.SCRIPTS) | set(run_all.MANUAL)
    assert listed == {f"{n}.py" for n in SCRIPTS} | {"accuracy_modis_aster.py"}


@pytest.mark.parametrize(("name", "real"), _params())
def test_smoke(name: str, real: bool, tmp_path: Path, request: pytest.FixtureRequest, bench_env,
               monkeypatch: pytest.MonkeyPatch):
    if real:  # the scripts find the data through xlstsr.datasets.data_root ($XLSTSR_DATA)
        monkeypatch.setenv("XLSTSR_DATA", str(request.getfixturevalue("shared_data")))
    module = load_benchmark(name)
    assert module.main(["--smoke", "--out", str(tmp_path)]) == 0
    for fname in SCRIPTS[name][1]:
        assert (tmp_path / fname).is_file(), f"{name}.py --smoke wrote no {fname}"
    text = (tmp_path / SCRIPTS[name][1][0]).read_text()
    assert "--smoke" in text  # a smoke table says so, and is never mistaken for a result
    # the machine of the run is said as it is (these pages wrote "a shared 2-core machine" on
    # any machine; bench_models' "recorded on a 2-core machine" is the training's, a record)
    if name in ("coregistration", "forward_fold", "one_level_up", "scale_invariance"):
        assert "2-core" not in text and "CPU cores" in text
    rows = [line for line in text.splitlines() if line.startswith("|")]
    assert len(rows) >= 3 and rows[1].startswith("|---"), f"{name}.py wrote no table"


@pytest.mark.slow
def test_select_disr_cheaper_networks_round_smoke(shared_data: Path, tmp_path: Path, bench_env,
                                                  monkeypatch: pytest.MonkeyPatch) -> None:
    """``select_disr.py --coarse --smoke``: a cheaper network goes through both steps of the
    default's recipe (cube pre-training, then fine-tuning from that file), is distilled from the
    default, and both are scored and timed."""
    monkeypatch.setenv("XLSTSR_DATA", str(shared_data))
    sel = load_benchmark("select_disr")
    assert sel.main(["--coarse", "--smoke", "--out", str(tmp_path)]) == 0
    meta = __import__("torch").load(
        tmp_path / "disr_selection_smoke" / "rescnn32x4" / sel.COREG_FILE, weights_only=True
    )["metadata"]
    assert meta["initialised_from"]["file"] == "disr_degraded_cube_x4.pt"
    assert meta["settings"]["arch"] == "guided_rescnn"
    text = (tmp_path / "disr_selection.md").read_text()
    assert sel.COARSE_MARK in text and "--coarse --smoke" in text
    row = next(line for line in text.splitlines() if line.startswith("| rescnn32x4"))
    assert float(row.split("|")[-3]) > 0  # forward seconds per Mpx were measured
    # the distilled student: the cheaper network's file trained on the default's output
    distil = __import__("torch").load(
        tmp_path / "disr_selection_smoke" / "rescnn32x4_distil" / "disr_distilled_x4.pt",
        weights_only=True)["metadata"]
    assert distil["distillation"]["teacher"] == sel.COREG_FILE
    assert distil["settings"]["arch"] == "guided_rescnn"
    assert "rescnn32x4_distil" in text and "Issue 16's criterion" not in text  # no control here


@pytest.mark.slow
def test_select_disr_dihedral_distillation_round_smoke(shared_data: Path, tmp_path: Path,
                                                       bench_env,
                                                       monkeypatch: pytest.MonkeyPatch) -> None:
    """``select_disr.py --distil --smoke``: the bundled fast file distilled further on the
    rotated and flipped windows (each labelled by the default), scored beside both shipped files
    and judged by the criteria fixed for the round."""
    monkeypatch.setenv("XLSTSR_DATA", str(shared_data))
    sel = load_benchmark("select_disr")
    assert sel.main(["--distil", "--smoke", "--out", str(tmp_path)]) == 0
    meta = __import__("torch").load(
        tmp_path / "disr_selection_smoke" / sel.DISTIL_CANDIDATE / "disr_distilled_x4.pt",
        weights_only=True)["metadata"]
    assert meta["distillation"]["dihedral"] is True
    assert meta["distillation"]["student_start"] == sel.FAST_FILE
    assert meta["patches"]["n_train"] % 8 == 0 and meta["history"]["epochs_run"] == 1
    text = (tmp_path / "disr_selection.md").read_text()
    assert sel.DISTIL_MARK in text and "Criterion for the default (issue 16)" in text
    assert all(f"| {n}" in text for n in ("unet (shipped)", "fast (shipped)", sel.DISTIL_CANDIDATE))


@pytest.mark.slow
def test_select_disr_guide_offset_round_smoke(shared_data: Path, tmp_path: Path, bench_env,
                                              monkeypatch: pytest.MonkeyPatch) -> None:
    """``select_disr.py --guide-offset --smoke --work DIR``: retrained files found in DIR are
    scored beside the shipped two and judged by the round's criterion (here the shipped files
    themselves: no worse, so met)."""
    import shutil

    monkeypatch.setenv("XLSTSR_DATA", str(shared_data))
    sel = load_benchmark("select_disr")
    work = tmp_path / "work"
    work.mkdir()
    for fname in (sel.COREG_FILE, sel.FAST_FILE):
        shutil.copy2(sel.WEIGHTS_DIR / fname, work / fname)
    assert sel.main(["--guide-offset", "--smoke", "--work", str(work), "--out",
                     str(tmp_path)]) == 0
    text = (tmp_path / "disr_selection.md").read_text()
    assert sel.OFFSET_MARK in text and "--guide-offset --smoke" in text
    rows = {line.split("|")[1].strip(): line.split("|") for line in text.splitlines()
            if line.startswith("| fast")}
    assert rows["fast (shipped)"][3:5] == rows["fast (offset-corrected guides)"][3:5]
    assert "**met: both files replaced**" in text


def test_accuracy_scores_held_back_pairs_by_content_not_id(shared_data: Path, tmp_path: Path,
                                                           bench_env) -> None:
    """A held-back folder numbers its pairs anew: the bundled models' training pairs are known by
    their MODIS LST, so a trained model is scored on every other pair, whatever its id."""
    folder = tmp_path / "data" / "modis_aster"
    folder.mkdir(parents=True)
    # "001" here is the shared evaluation pair 002 (on the ground of training pair 163), "002" the
    # evaluation pair 015 (on ground no training pair covers), "901" the training pair 001
    renamed = {"002": "001", "015": "002", "001": "901"}
    for src, dst in renamed.items():
        for kind in ("modis_lst_1km", "modis_ndvi_250m", "aster_lst_250m"):
            (folder / f"{dst}_{kind}.tif").symlink_to(
                shared_data / "modis_aster" / f"{src}_{kind}.tif")
    (folder / "pairs.csv").write_text("pair,aster_view_angle_deg\n001,8.7\n002,11.9\n901,12.1\n")
    csv = tmp_path / "rows.csv"
    acc = load_benchmark("accuracy_modis_aster")
    assert acc.main(["--root", str(folder.parent), "--methods", "bicubic,disr", "--out",
                     str(tmp_path / "out"), "--csv", str(csv), "--no-anchor", "--no-figure",
                     "--no-corrections"]) == 0
    import pandas as pd

    rows = pd.read_csv(csv, dtype={"pair": str})
    assert set(rows[rows.method == "disr"].pair) == {"001", "002"}
    assert set(rows[rows.method == "bicubic"].pair) == {"001", "002", "901"}
    report = (tmp_path / "out" / "accuracy.md").read_text()
    assert "| disr | 2 |" in report  # the held-out tables hold the renamed evaluation pairs
    assert "the 1 held-out pairs apart from the training ground" in report


def test_sisr_cube_scores_a_held_back_cube(shared_data: Path, tmp_path: Path, bench_env) -> None:
    """``sisr_cube.py --held-back --root DIR``: every window of DIR's cube that shares no pixel with
    the default's training or validation windows is scored; no modis_aster there: ASTER skipped."""
    import json

    import pandas as pd

    root = tmp_path / "data"
    root.mkdir()
    (root / "modis_h18v04_2020").symlink_to(shared_data / "modis_h18v04_2020")
    mod = load_benchmark("sisr_cube")
    assert mod.main(["--held-back", "--smoke", "--root", str(root), "--out",
                     str(tmp_path / "out")]) == 0
    res = json.loads((tmp_path / "out" / "sisr_cube_held_back.json").read_text())
    meta = mod.load_weights(mod.SISR.default_weights).metadata["positions"]
    seen = set(meta["train"]) | set(meta["val"])
    assert res["unseen_windows"] and not seen & set(res["unseen_windows"])
    assert set(meta["test"]) <= set(res["unseen_windows"])
    assert "ASTER part is skipped" in (tmp_path / "out" / "sisr_cube_held_back.md").read_text()
    seen_box = pd.DataFrame({"window": [1], "xmin": [0.0], "ymin": [0.0], "xmax": [64.0],
                             "ymax": [64.0]})
    cube = pd.DataFrame({"window": [1, 7], "xmin": [32.0, 64.0], "ymin": [0.0, 0.0],
                         "xmax": [96.0, 128.0], "ymax": [64.0, 64.0]})
    assert mod.unseen_windows(cube, seen_box) == [7]
    # the recorded positions are placed on the ground without the shared cube: same bounds
    table = pd.read_csv(shared_data / "modis_h18v04_2020" / "windows.csv")
    placed = mod.h18v04_window_bounds(table.window)
    cols = ["xmin", "ymin", "xmax", "ymax"]
    assert abs(placed[cols].to_numpy() - table[cols].to_numpy()).max() < 0.01


def test_sisr_cube_held_back_counts_the_croatia_ground_as_seen(shared_data: Path, bench_env) -> None:
    """The default also trained on Croatia's MOD11A2 windows: the recorded cells are those the
    recipe cuts, and the h18v04 windows that may share their ground are not scored as unseen."""
    import rioxarray

    mod = load_benchmark("sisr_cube")
    rec = mod.recipe()
    cells = {tuple(int(v) for v in p.split("_")[1:])
             for p in rec.croatia_samples(shared_data).position.values}
    assert cells == set(mod.CROATIA_CELLS)
    f = next((shared_data / rec.CROATIA).glob("LST2006_*.tif"))
    with rioxarray.open_rasterio(f) as r:
        left, _, _, top = r.rio.bounds()
        assert r.rio.crs.to_epsg() == int(mod.CROATIA_CRS.split(":")[1])
    assert np.allclose((left, top), mod.CROATIA_UL)
    tile = mod.h18v04_window_bounds(range(324))
    unseen = set(mod.unseen_windows(tile, mod.croatia_window_bounds()))
    # Istria / Trieste: the tile's south-eastern windows reach the raster's north-western cells
    assert {124, 125, 142, 143}.isdisjoint(unseen) and len(unseen) == 320
    # what --held-back compares with: the default's recorded windows and the Croatia ground
    meta = mod.load_weights(mod.SISR.default_weights).metadata
    assert meta["settings"]["croatia"]
    unseen = set(mod.unseen_windows(tile, mod.seen_ground(meta)))
    assert {124, 125, 142, 143}.isdisjoint(unseen)
    assert not unseen & (set(meta["positions"]["train"]) | set(meta["positions"]["val"]))


def test_sisr_cube_held_back_pairs_apart_by_ground(shared_data: Path, bench_env) -> None:
    """The held-back ASTER table also scores the pairs apart from the sisr's training windows:
    every EVAL pair is (the cube split held their ground out), and a window laid on a pair's
    footprint makes it seen."""
    import pandas as pd
    import rioxarray

    from xlstsr.datasets import EVAL_PAIRS

    mod = load_benchmark("sisr_cube")
    seen = mod.seen_ground(mod.load_weights(mod.SISR.default_weights).metadata)
    assert mod.pairs_apart_from(EVAL_PAIRS[:6], seen, shared_data) == \
        list(EVAL_PAIRS[:6])
    with rioxarray.open_rasterio(shared_data / "modis_aster" / "002_modis_lst_1km.tif") as r:
        x0, y0 = r.rio.bounds()[:2]
    on_002 = pd.DataFrame({"window": [0], "xmin": [x0 + 5e3], "ymin": [y0 + 5e3],
                           "xmax": [x0 + 2e4], "ymax": [y0 + 2e4]})
    assert mod.pairs_apart_from(["002", "015"], pd.concat([seen, on_002]), shared_data) == ["015"]

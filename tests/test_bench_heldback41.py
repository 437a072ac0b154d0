"""Benchmarks of the shared split on another data folder ($XLSTSR_DATA, no --root):

- scaling_report.py tells the bundled models' training pairs by content (``seen_in_training``,
  as accuracy_modis_aster.py does with --root), not by their ids in ``EVAL_PAIRS``, and its page
  names the folder it read (it always said ../shared/data);
- spectral_gaps.py, target_scale_sisr.py and disr_ground.py refuse another folder up front, in
  one line (``refuse_held_back_data``, as coregistration / correction_variants do): it ended in
  a raw InputNotFoundError traceback (target_scale_sisr: after training its model).

Folders are symlinked from the shared data under tmp_path (skipped when it is absent).
"""

from __future__ import annotations

import contextlib
import io
from pathlib import Path

import pytest
from helpers import load_benchmark

PAIR_FILES = ("aster_lst_250m", "modis_lst_1km", "modis_ndvi_250m")


def _renumbered(shared: Path, folder: Path, pairs: dict[str, str],
                others: tuple[str, ...] = ()) -> Path:
    """A held-back-like folder: shared pairs under new ids (``{new: shared}``), and ``others``
    (dataset folders) linked as they are."""
    ma = folder / "modis_aster"
    ma.mkdir(parents=True)
    for new, old in pairs.items():
        for f in PAIR_FILES:
            (ma / f"{new}_{f}.tif").symlink_to(shared / "modis_aster" / f"{old}_{f}.tif")
    (ma / "pairs.csv").write_text("pair,aster_view_angle_deg\n"
                                  + "".join(f"{p},10.0\n" for p in pairs))
    for d in others:
        (folder / d).symlink_to(shared / d)
    return folder


# -- 1. scaling_report.py: held-out pairs by content, the folder read named --------------------


@pytest.mark.filterwarnings("ignore::xlstsr.errors.GuideAlignmentWarning")  # as main() does
def test_scaling_report_deep_models_skip_a_renumbered_training_pair(shared_data, tmp_path):
    # before: pair 002 of this folder (the shared training pair 001) was in EVAL_PAIRS by id:
    # disr was scored on its own training pair and the row called held out
    sr = load_benchmark("scaling_report")
    data = _renumbered(shared_data, tmp_path / "d", {"002": "001"})
    pairs = sr.modis_aster_pairs(None, data)
    assert [p[0] for p in pairs] == ["002"] and pairs.held_out == ()
    with contextlib.redirect_stdout(io.StringIO()):
        summary = sr.sr_section(pairs, [], ["disr"], tmp_path)
    assert not any("disr" in k for k in summary), summary


def test_scaling_report_held_back_folder_page(shared_data, tmp_path, monkeypatch):
    # before: both pairs (002 = shared 001, a training pair; 015) scored as "held-out
    # EVAL_PAIRS", and the page said "Data: ../shared/data" though it read another folder
    data = _renumbered(shared_data, tmp_path / "d", {"002": "001", "015": "015"})
    monkeypatch.setenv("XLSTSR_DATA", str(data))
    sr = load_benchmark("scaling_report")
    for part in ("stats_section", "law_section", "resampling_check"):  # other data: not tested
        monkeypatch.setattr(sr, part, lambda *a, **k: None)
    out = tmp_path / "o"
    with contextlib.redirect_stdout(io.StringIO()):
        assert sr.main(["--smoke", "--out", str(out)]) == 0
    md = (out / "scaling.md").read_text()
    assert f"Data: {data}." in md and "../shared/data" not in md.split("\n")[2]
    head = next(x for x in md.splitlines() if x.startswith("Every method uncorrected on"))
    assert "the same 1 held-out pairs of this folder" in head and "EVAL_PAIRS" not in head
    assert "| bicubic | 1 |" in md and "| tsharp | 1 |" in md


def test_scaling_report_project_page_names_the_shared_folder_as_before(shared_data, tmp_path,
                                                                     monkeypatch):
    monkeypatch.delenv("XLSTSR_DATA", raising=False)
    sr = load_benchmark("scaling_report")
    for part in ("stats_section", "law_section", "resampling_check"):
        monkeypatch.setattr(sr, part, lambda *a, **k: None)
    monkeypatch.setattr(sr, "modis_aster_pairs", lambda *a, **k: [])
    monkeypatch.setattr(sr, "sr_section", lambda *a, **k: {})
    with contextlib.redirect_stdout(io.StringIO()):
        assert sr.main(["--methods", "bicubic", "--out", str(tmp_path)]) == 0
    assert "Data: ../shared/data (see its README)." in (tmp_path / "scaling.md").read_text()


# -- 2. scripts reading the shared split by id: another folder refused in one line -------------

SCRIPTS = {
    "spectral_gaps": [],
    "target_scale_sisr": [],
    "disr_ground": ["--work", "w"],
}


@pytest.mark.parametrize("name", list(SCRIPTS))
def test_split_scripts_refuse_another_folder_in_one_line(name, tmp_path, monkeypatch):
    # before: a raw InputNotFoundError ("no MODIS/ASTER pair '002'"), target_scale_sisr only
    # after training its model
    for d in ("modis_aster", "yanco_modis_landsat", "landsat8_gulf_l1"):  # present, but not ours
        (tmp_path / d).mkdir()
    monkeypatch.setenv("XLSTSR_DATA", str(tmp_path))
    module = load_benchmark(name)
    argv = [str(tmp_path / a) if a == "w" else a for a in SCRIPTS[name]]
    with pytest.raises(SystemExit) as e:
        module.main(["--smoke", "--out", str(tmp_path / "o"), *argv])
    msg = str(e.value.code)
    assert msg.startswith(f"{name}.py: {tmp_path} is not the project's own data"), msg
    assert "\n" not in msg and f"benchmarks/accuracy_modis_aster.py --root {tmp_path}" in msg
    assert not (tmp_path / "o").exists()


def test_spectral_gaps_missing_data_named_before_the_refusal(tmp_path, monkeypatch):
    # an empty folder lacks the data first: the missing-data advice ($XLSTSR_DATA), not "not ours"
    monkeypatch.setenv("XLSTSR_DATA", str(tmp_path))
    sg = load_benchmark("spectral_gaps")
    with pytest.raises(FileNotFoundError, match=r"no modis_aster/ .*XLSTSR_DATA"):
        sg.main(["--smoke", "--out", str(tmp_path / "o")])


def test_spectral_gaps_project_folder_not_refused(tmp_path, monkeypatch):
    (tmp_path / "modis_aster").mkdir()
    monkeypatch.setenv("XLSTSR_DATA", str(tmp_path))  # the project's own data, for this test
    monkeypatch.setattr("xlstsr.datasets.root._CHECKOUT_DATA", tmp_path)
    sg = load_benchmark("spectral_gaps")
    monkeypatch.setattr(sg, "ratio_section", lambda n_pairs: [])  # heavy parts: not tested
    monkeypatch.setattr(sg, "slope_section", lambda *a: [])
    with contextlib.redirect_stdout(io.StringIO()):
        assert sg.main(["--smoke", "--out", str(tmp_path / "o")]) == 0
    assert (tmp_path / "o" / "spectral_gaps.md").is_file()


def test_scaling_report_harness_note_follows_the_folder():
    # review 41e: the fixed note named the project's 35 EVAL_PAIRS on another folder's page
    sr = load_benchmark("scaling_report")
    assert sr._PROJECT_SPLIT in sr.DISCUSSION
    other = sr.discussion({}, 55, project=False)
    assert "35 held-out" not in other and "this folder's pairs" in other
    assert sr._PROJECT_SPLIT in sr.discussion({}, 55)

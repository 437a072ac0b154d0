"""Probe 51b (benchmarks and scripts): held-back folders, honest pages, one-line refusals.

Each test names the finding of /work/notes/probe51b/REPORT.md it covers and what the code before
the fix did.
"""

from __future__ import annotations

import json

import numpy as np
import pytest

from tests.helpers import heldback_pairs_folder, load_benchmark, load_script


def _strict_loads(text: str):
    """``json.loads`` that refuses NaN / Infinity tokens, as any non-Python reader does."""
    def refuse(token):
        raise ValueError(f"non-standard token {token}")

    return json.loads(text, parse_constant=refuse)


# -- 1. disr_ground.py: strict JSON, intervals of one pair worded --------------------------------


def _disr_ground_result(dg):
    """A disr_ground result as main() builds it, from scores of one pair per group (a smoke run,
    or a held-back split leaving one pair in a group)."""
    def scores(rmse):
        return {"rmse": rmse, "ubrmse": rmse - 0.1, "spectral_ratio_sym": 1.2, "bias": 0.1,
                "coarse_consistency": 0.3}

    groups = {"apart": ["001"], "sharing": ["002"]}
    every = {m: {p: scores(v + i / 10) for i, p in enumerate(("001", "002"))}
             for m, v in (("bicubic", 2.0), ("dms", 1.8), (dg.DEFAULT, 1.7), (dg.UNET, 1.6),
                          (dg.SCENE_MEAN, 1.75))}
    bic = every["bicubic"]
    runs = {"recipe on TRAIN_PAIRS": ["003"], "recipe on TRAIN_PAIRS + 0 pairs": ["003"]}
    first = next(iter(runs))
    paired = {f"{m} - bicubic, {g}": dg.paired_change(every[m], bic, ps)
              for m in ("dms", dg.DEFAULT, dg.UNET) for g, ps in groups.items()}
    paired.update({f"scene mean restored - default, {g}": dg.paired_change(
        every[dg.SCENE_MEAN], every[dg.DEFAULT], ps) for g, ps in groups.items()})
    paired.update({f"default - unet, {g}": dg.paired_change(every[dg.DEFAULT], every[dg.UNET], ps)
                   for g, ps in groups.items()})
    paired[f"{first} - unet, apart"] = dg.paired_change(every[dg.UNET], every[dg.UNET],
                                                         groups["apart"])
    summ = {m: dg.summary(every[m], ["001"], bic) for m in every}
    result = {
        "pairs": {**groups, "added": []},
        "shipped_by_ground": {m: {g: dg.summary(every[m], ps, bic) for g, ps in groups.items()}
                              for m in every},
        "learning_curve": {**summ, first: summ[dg.UNET], list(runs)[1]: summ[dg.UNET]},
        "consistency_selection": {"val_pairs": ["040"], "chosen": "w_consistency 0", "scores": {
            "w_consistency 0": {**summ["dms"], "abs_bias": 0.1, "coarse_consistency": 0.3}}},
        "paired_rmse_changes": paired,
        "curve_val_pairs": ["040"],
        "jobs": 1,
        "more_pairs_rmse_change": 0.0,
        "more_pairs_rmse_ci": [float("nan")] * 2,
        "more_pairs_ubrmse_change": 0.0,
        "more_pairs_ubrmse_ci": [float("nan")] * 2,
        "better_pairs": 0,
        "train_seconds": 1.0,
        "train_cpu_seconds": {first: 1.0},
        "seconds": 2.0,
    }
    return result, runs


def test_disr_ground_json_is_strict_and_page_words_missing_interval(tmp_path):
    # before: json.dumps wrote bare NaN tokens (26 lines in a smoke run: invalid JSON for any
    # strict reader) and the page printed "[+nan, +nan]"
    dg = load_benchmark("disr_ground")
    result, runs = _disr_ground_result(dg)
    assert np.isnan(result["paired_rmse_changes"]["dms - bicubic, apart"]["ci"][0])
    path = tmp_path / "disr_ground.json"
    dg.write_json(path, result)
    back = _strict_loads(path.read_text())
    assert back["paired_rmse_changes"]["dms - bicubic, apart"]["ci"] == [None, None]
    assert back["more_pairs_rmse_ci"] == [None, None]
    assert back["paired_rmse_changes"]["dms - bicubic, apart"]["mean"] == pytest.approx(-0.2)
    page = tmp_path / "disr_ground.md"
    dg.write_report(page, result, runs, smoke=True)
    text = page.read_text()
    assert "nan" not in text.lower()
    assert "-0.200 K (no interval: 1 pair)" in text
    # a run with no pair scored by both learning-curve models says so
    result["more_pairs_rmse_change"] = float("nan")
    dg.write_report(page, result, runs, smoke=True)
    assert "More pairs: n/a (no pair scored by both models)." in page.read_text()
    assert "nan" not in page.read_text().lower()


# -- 4. run_all.py (make bench): the LA bounds only for the project's own data -------------------


def test_make_bench_passes_la_bounds_only_for_the_projects_data(tmp_path, monkeypatch):
    # before: "--bounds la" (Los Angeles summer, 285-345 K by day) for any $XLSTSR_DATA: a colder
    # held-back place lost clear land pixels or whole scenes, and its kernel / law moved
    ra = load_benchmark("run_all")
    calls = []
    monkeypatch.setattr(ra.subprocess, "call", lambda cmd, **kw: calls.append(cmd[2:]) or 0)
    held = tmp_path / "held"
    (held / "ecostress_city").mkdir(parents=True)
    monkeypatch.setenv("XLSTSR_DATA", str(held))
    assert ra.main(["--only", "scale_invariance.py", "bench_models.py"]) == 0
    assert calls == [[], ["--threads", "1"]]
    calls.clear()
    monkeypatch.setattr(ra, "is_project_data", lambda folder: True)  # the shared folder
    assert ra.main(["--only", "scale_invariance.py"]) == 0
    assert calls == [["--bounds", "la"]]
    assert ra.ARGS["scale_invariance.py"] == ["--bounds", "la"]  # the page's own protocol


# -- 11. scale_invariance.py: an ECOSTRESS folder of another name, as the library reads it -------


class _Stop(Exception):
    """Raised by a spy to stop a benchmark's main once it has decided what to read."""


def _eco_folder(folder):
    """``folder`` laid out like ecostress_la (empty files: the run is stopped before reading)."""
    for d in ("LST", "cloud_mask", "water_mask"):
        (folder / d).mkdir(parents=True)
    (folder / "LST" / "ECO_L2_LSTE.002_LST_doy2023172202153_aid0001.tif").write_bytes(b"")
    return folder


@pytest.mark.parametrize("how", ["flags", "env"])
def test_scale_invariance_reads_an_ecostress_folder_of_another_name(how, tmp_path, monkeypatch):
    # before: "--train DATA: no LST GeoTIFF in DATA/LST or DATA/ecostress_la/LST" (flags) and
    # "no ecostress_la/ in the real benchmark data folder" ($XLSTSR_DATA), although
    # xlstsr.datasets.ecostress_scenes(DATA) reads DATA/eco_city
    si = load_benchmark("scale_invariance")
    data = tmp_path / "data"
    eco = _eco_folder(data / "eco_city")
    (data / "notes").mkdir()  # another folder beside it, not laid out like ecostress_la
    read = []

    def spy(folder):
        read.append(folder)
        raise _Stop

    monkeypatch.setattr(si, "ecostress_apart", spy)
    argv = ["--smoke", "--no-stats", "--json", str(tmp_path / "o" / "si.json")]
    if how == "flags":
        argv += ["--train", str(data), "--test", str(data)]
    else:
        monkeypatch.setenv("XLSTSR_DATA", str(data))
    with pytest.raises(_Stop):
        si.main(argv)
    assert read == [eco.resolve()]
    # a folder itself, or the shared layout, resolve as before
    assert si.check_ecostress_folder("--train", eco) == eco
    assert si.check_ecostress_folder("--test", None) is None


def test_scale_invariance_several_ecostress_folders_named_with_a_working_fix(tmp_path, capsys,
                                                                             monkeypatch):
    # which of two is meant cannot be guessed: refused naming both; the advice, followed, runs
    si = load_benchmark("scale_invariance")
    data = tmp_path / "data"
    _eco_folder(data / "eco_a")
    _eco_folder(data / "eco_b")
    with pytest.raises(SystemExit) as e:
        si.check_ecostress_folder("--train", data)
    msg = str(e.value)
    assert "eco_a, eco_b" in msg and f"--train {data / 'eco_a'}" in msg
    assert si.check_ecostress_folder("--train", data / "eco_a") == data / "eco_a"
    monkeypatch.setenv("XLSTSR_DATA", str(data))
    with pytest.raises(SystemExit) as e:
        si.main(["--smoke", "--no-stats", "--json", str(tmp_path / "o" / "si.json")])
    assert f"--train {data / 'eco_a'} --test {data / 'eco_a'}" in str(e.value)
    empty = tmp_path / "empty"
    empty.mkdir()
    with pytest.raises(SystemExit) as e:
        si.check_ecostress_folder("--train", empty)
    assert f"--train {empty}: no LST GeoTIFF in {empty / 'LST'} or " in str(e.value)


# -- 3. scaling_report.py: a data folder without the single-scene datasets -----------------------


def test_scaling_report_without_landsat_is_one_line_and_leaves_no_folder(shared_data, tmp_path,
                                                                         monkeypatch, capsys):
    # before: InputNotFoundError traceback from open_landsat8_l1 (exit_on_missing_data let the
    # library's own error through) and an empty output folder left behind
    from xlstsr.datasets.root import exit_on_missing_data

    data = heldback_pairs_folder(shared_data, tmp_path / "data", {"501": "002", "502": "015"})
    monkeypatch.setenv("XLSTSR_DATA", str(data))
    monkeypatch.chdir(tmp_path)
    sr = load_benchmark("scaling_report")
    with pytest.raises(SystemExit) as e:
        exit_on_missing_data(lambda: sr.main(["--smoke"]), "scaling_report.py")
    msg = str(e.value.code)
    assert msg.startswith("scaling_report.py: no landsat8_gulf_l1/ in the real benchmark data "
                          f"folder {data} ($XLSTSR_DATA)"), msg
    assert "XLSTSR_DATA to the data folder that holds landsat8_gulf_l1/" in msg
    assert not (tmp_path / "heldback_results").exists()


# -- 6. scaling_report.py --smoke keeps a given --methods ----------------------------------------


@pytest.mark.parametrize("argv, scored", [
    (["--smoke", "--methods", "dms"], ["dms"]),
    (["--smoke"], ["bicubic", "tsharp"]),
    ([], ["bicubic", "tsharp", "dms", "sisr", "disr"]),
])
def test_scaling_report_smoke_keeps_the_methods_asked_for(argv, scored, tmp_path, monkeypatch):
    # before: --smoke replaced --methods dms by bicubic,tsharp silently, the page's command
    # still saying "--methods dms"
    import contextlib
    import io

    sr = load_benchmark("scaling_report")
    got = []
    for heavy in ("stats_section", "law_section", "resampling_check"):
        monkeypatch.setattr(sr, heavy, lambda *a, **k: None)
    monkeypatch.setattr(sr, "discussion", lambda *a, **k: "")
    monkeypatch.setattr(sr, "modis_aster_pairs", lambda *a, **k: [])
    monkeypatch.setattr(sr, "data_root", lambda: tmp_path)
    monkeypatch.setattr(sr, "sr_section", lambda pairs, lines, methods, out: got.append(methods))
    with contextlib.redirect_stdout(io.StringIO()):
        assert sr.main([*argv, "--out", str(tmp_path / "o")]) == 0
    assert got == [scored]
    page = (tmp_path / "o" / "scaling.md").read_text()
    assert " ".join(["benchmarks/scaling_report.py", *argv]) in page


# -- 10 and 2. accuracy_modis_aster.py --smoke: held-out pairs picked, the page says how it ran ---


def test_accuracy_smoke_picks_held_out_pairs_and_page_says_how_it_ran(shared_data, tmp_path,
                                                                      monkeypatch):
    # before (10): the folder's first two pairs (601 = shared 001, 602 = shared 020: training
    # pairs) were taken and refused, advising "leave --pairs out", which the user had done;
    # before (2): the page read "Written by `python benchmarks/accuracy_modis_aster.py`", no
    # smoke note, "All methods on ..." (bicubic and tsharp ran)
    acc = load_benchmark("accuracy_modis_aster")
    root = heldback_pairs_folder(shared_data, tmp_path / "hb",
                                 {"601": "001", "602": "020", "603": "002"})
    monkeypatch.chdir(tmp_path)
    assert acc.smoke_pairs(str(root)) == ["603"]
    rel = "hb"  # a relative --root: the page names it absolute
    assert acc.main(["--smoke", "--root", rel, "--out", "o"]) == 0
    page = (tmp_path / "o" / "accuracy.md").read_text()
    assert (f"Written by `python benchmarks/accuracy_modis_aster.py --smoke --root {root.resolve()}"
            " --out o` (") in page
    assert "**Smoke run** (`--smoke`): a test of the code path on 1 pairs and bicubic, tsharp, " \
           "not a measurement." in page
    assert "## The methods asked for on the 1 evaluation pairs" in page
    assert "All methods" not in page
    assert f"`{(root / 'modis_aster').resolve()}`" in page
    # the shared folder's smoke pairs stay 002 and 015
    assert acc.smoke_pairs(None) == ["002", "015"]


def test_accuracy_smoke_without_held_out_pair_advises_the_folder_not_pairs(shared_data, tmp_path):
    # only training pairs: refused, without "leave --pairs out" (no --pairs was given)
    acc = load_benchmark("accuracy_modis_aster")
    root = heldback_pairs_folder(shared_data, tmp_path / "hb", {"601": "001", "602": "020"})
    with pytest.raises(SystemExit) as e:
        acc.main(["--smoke", "--root", str(root), "--out", str(tmp_path / "o")])
    msg = str(e.value)
    assert "601, 602" in msg and "are training pairs" in msg
    assert "--pairs" not in msg and "add held-out pairs to" in msg


def test_accuracy_run_command_names_the_options_given():
    acc = load_benchmark("accuracy_modis_aster")
    args = acc.parse_args(["--methods", "dms", "--pairs", "002", "--no-figure"])
    assert acc.run_command(args) == ("python benchmarks/accuracy_modis_aster.py --pairs 002 "
                                     "--methods dms --no-figure")
    assert acc.run_command(acc.parse_args([])) == "python benchmarks/accuracy_modis_aster.py"


def test_pages_name_a_data_folder_given_by_the_environment(monkeypatch, tmp_path):
    """(review 51f/1) a held-back run through $XLSTSR_DATA wrote a command without its folder:
    rerun, it read the project's own data."""
    monkeypatch.setenv("XLSTSR_DATA", str(tmp_path))
    acc = load_benchmark("accuracy_modis_aster")
    assert acc.run_command(acc.parse_args(["--smoke"])).endswith(f"--smoke --root {tmp_path}")
    import argparse

    si = load_benchmark("scale_invariance")
    args = argparse.Namespace(smoke=True, train=None, test=None, split="position", psf="none",
                              bounds="land", epochs=1, seed=0, no_stats=False, threads=1,
                              json=None, given_out=None)
    assert si.page_command(args) == (f"XLSTSR_DATA={tmp_path} python "
                                     "benchmarks/scale_invariance.py --smoke")
    monkeypatch.delenv("XLSTSR_DATA")  # the project's own data: no folder named
    assert si.page_command(args) == "python benchmarks/scale_invariance.py --smoke"


# -- 7. accuracy_modis_aster.py: the anchor check on another folder's pairs ----------------------


def _variant_rows(pairs):
    names = ["ours", "raw", "k075", "no-reproject"]
    return [{"pair": p, "variant": v, "rmse": 2.4 + i / 10, "ubrmse": 2.0, "psnr": 31.0 + i}
            for p in pairs for i, v in enumerate(names)]


def test_accuracy_anchor_not_compared_on_held_back_pairs():
    # before: "- anchor" columns (the shared 55 pairs' reading subtracted from another folder's
    # pairs) and "run without --pairs to compare" on a run without --pairs
    acc = load_benchmark("accuracy_modis_aster")
    rows = _variant_rows(["7"])
    table = acc.variants_table(rows, anchored=False)
    assert "- anchor" not in table
    assert table.splitlines()[2] == "| ours | 2.400 | 2.000 | 31.00 | 31.00 | 31.00 |"
    text = acc.variants_reading(rows, anchored=False, pairs_given=False)
    assert "not of this folder's" in text and "--pairs" not in text
    # the shared folder: a --pairs subset is advised to leave it out, a run without --pairs not
    assert "run without --pairs" in acc.variants_reading(rows, anchored=True, pairs_given=True)
    said = acc.variants_reading(rows, anchored=True, pairs_given=False)
    assert "--pairs" not in said and "this run read 1" in said
    assert "- anchor" in acc.variants_table(rows)  # the project's page keeps its columns


# -- 8. train_bundled.py: cube-only jobs without modis_aster/ -------------------------------------


def test_train_bundled_cube_job_runs_without_pairs_and_pair_jobs_are_told(tmp_path, monkeypatch):
    # before: "no modis_aster data under DATA: pass --data or set XLSTSR_DATA" for every job,
    # --only sisr_cube (which reads the cube only) included, to a user who had passed --data
    tb = load_script("train_bundled")
    data = tmp_path / "data"
    (data / "modis_h18v04_2021").mkdir(parents=True)
    for name in ("catalog.json", "windows.csv"):  # what the cube jobs read (refused without)
        (data / "modis_h18v04_2021" / name).write_text("")
    ran = []
    monkeypatch.setattr(tb, "train_sisr_cube", lambda d, out, **kw: ran.append((d, out)))
    monkeypatch.setattr(tb.torch, "set_num_threads", lambda n: None)
    out = tmp_path / "o"
    assert tb.main(["--data", str(data), "--only", "sisr_cube", "--out", str(out),
                    "--no-progress"]) == 0
    assert ran == [(data, out)]
    with pytest.raises(SystemExit) as e:
        tb.main(["--data", str(data), "--only", "sisr_cube", "disr_coreg", "--out", str(out)])
    msg = str(e.value)
    assert msg.startswith(f"--data {data} holds no modis_aster/") and "--only disr_coreg:" in msg
    assert "pass --data the data folder that holds modis_aster/;" in msg
    assert "--only sisr_cube disr_degraded_cube" in msg
    # a pairs folder of another name counts, as the library reads it
    other = data / "pairs_2021"
    other.mkdir()
    (other / "pairs.csv").write_text("pair,aster_view_angle_deg\n")
    (other / "001_modis_lst_1km.tif").write_bytes(b"")
    assert tb.has_pairs(data)


# -- 9 and 12. counts and seeds refused by the parser --------------------------------------------


@pytest.mark.parametrize("script, argv, said", [
    ("scale_invariance", ["--seed", "-1"], "--seed: must be at least 0, got -1"),
    ("one_level_up", ["--seed", "-3"], "--seed: must be at least 0, got -3"),
    ("target_scale_sisr", ["--threads", "0"], "--threads: must be at least 1, got 0"),
    ("target_scale_sisr", ["--stride", "0"], "--stride: must be at least 1, got 0"),
    ("target_scale_sisr", ["--stride", "-8"], "--stride: must be at least 1, got -8"),
    ("target_scale_sisr", ["--epochs", "0"], "--epochs: must be at least 1, got 0"),
])
def test_bad_counts_and_seeds_refused_by_the_parser(script, argv, said, tmp_path, capsys):
    # before: accepted, then a numpy ValueError (negative seed) after every scene was loaded,
    # torch's RuntimeError (--threads 0) or "no patch set to concatenate" (--stride <= 0)
    mod = load_benchmark(script)
    with pytest.raises(SystemExit) as e:
        mod.main([*argv, "--smoke", "--out", str(tmp_path / "o")])
    assert e.value.code == 2
    err = capsys.readouterr().err
    assert said in err and "Traceback" not in err
    assert not (tmp_path / "o").exists()


# -- 5. scale_invariance.py: "run without --smoke" only where it would help ----------------------


def _linked_ecostress(shared, folder, rows):
    """``folder`` holding the shared ecostress_la scenes of ``rows`` (row numbers of its
    scenes.csv), linked, with their scenes.csv rows."""
    src = shared / "ecostress_la"
    lines = (src / "scenes.csv").read_text().splitlines()
    head = lines[0].split(",")
    for d in ("LST", "cloud_mask", "water_mask"):
        (folder / d).mkdir(parents=True)
    kept = [lines[0]]
    for r in rows:
        row = dict(zip(head, lines[1 + r].split(",")))
        for col, d in (("file", "LST"), ("cloud_mask", "cloud_mask"), ("water_mask", "water_mask")):
            (folder / d / row[col]).symlink_to(src / d / row[col])
        kept.append(lines[1 + r])
    (folder / "scenes.csv").write_text("\n".join(kept) + "\n")
    return folder


def test_scale_invariance_smoke_refusal_drops_advice_that_cannot_help(shared_data, tmp_path):
    # before: a one-scene test folder under --smoke was told "or run without --smoke (6
    # overpasses at most)": followed, the same refusal after loading everything
    si = load_benchmark("scale_invariance")
    n = len((shared_data / "ecostress_la" / "scenes.csv").read_text().splitlines()) - 1
    tr = _linked_ecostress(shared_data, tmp_path / "tr", range(n - 1))
    one = _linked_ecostress(shared_data, tmp_path / "one", [n - 1])
    with pytest.raises(SystemExit) as e:
        si.main(["--train", str(tr), "--test", str(one), "--smoke", "--no-stats",
                 "--json", str(tmp_path / "o" / "si.json")])
    msg = str(e.value)
    assert "1 test overpasses" in msg, msg
    assert "without --smoke" not in msg
    # the advice stays where the cap is the cause
    assert "run without --smoke" in str(_refusal(si, ["a"], ["b", "c"], smoke=True))


def _refusal(si, tr, te, smoke):
    with pytest.raises(SystemExit) as e:
        si.enough_overpasses(tr, te, "x", smoke)
    return e.value

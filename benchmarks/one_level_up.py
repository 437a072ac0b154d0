"""One level up, MODIS only: a SISR model trained at 16 km -> 4 km, applied at 4 km -> 1 km.

``python benchmarks/one_level_up.py [--epochs 40] [--root DATA] [--out docs/results] [--json PATH]
[--smoke]``

``--out`` defaults to ``docs/results`` for the project's own data and the published protocol
(``--epochs 40 --seed 0``); for another ``--root``, a ``--smoke`` run or other ``--epochs`` /
``--seed`` to the folder of ``--json`` (unless that is ``docs/results``), else
``./heldback_results`` (never over a published page unless ``--out`` says so; the folder is
printed). A cube whose split by position leaves no
training or validation window-dates, or fewer than 2 test positions, is refused with the counts;
a cube folder without ``catalog.json`` / ``windows.csv``, their columns or items holding both LST
assets is refused naming what is missing (the check of ``sisr_cube.py --held-back``).

The scale-invariance protocol of ``benchmarks/scale_invariance.py`` (ECOSTRESS) one level up,
where the truth is the real MODIS 1 km LST. Data: the daily MOD11A1 datacube
``modis_h18v04_2020`` (day and night LST, 2020, 64 x 64 windows of tile h18v04; ``../shared/data``)
read as a user would (``catalog.json`` -> :func:`xlstsr.io.open_stac` ->
:func:`xlstsr.train.window_samples`, the recipe's ``cube_samples`` in
``scripts/train_bundled.py``). **Split by window position** (:class:`xlstsr.train.PositionSplit`):
the recipe's ``cube_split`` (seeded; about 60 / 15 / 25 % of the window-dates in training,
validation and test positions; the windows sharing ground with the ASTER evaluation pairs held
out: on another cube every window sharing pixels with a pair its ``windows.csv`` names, whatever
its ids, none when it has no modis_aster columns, as the page says); the models train on the
training positions (early stopping on the validation ones) and are scored on the test **and**
held-out positions, which no model saw at any date. Each window is
super-resolved on its own (its 16 x 16 coarse pixels are the whole input), so no prediction reads
a training window's ground and no buffer is needed between positions.

The same network (``ResCNN``, 32 channels, 4 blocks, plain Huber loss, the same number of
patches of 4 x 4 coarse px: at 16 km a 64 km window holds only 4 x 4 pixels, so the patches of
both models are that size) is trained as:

- ``invariant``: ``radiometric_mean(LST_4km, 4) -> LST_4km`` (LST_4km = the 1 km window
  aggregated radiometrically by 4): 16 km -> 4 km, one octave-pair above where it is applied;
- ``oracle``: ``radiometric_mean(LST_1km, 4) -> LST_1km``: 4 km -> 1 km, the scale of use;
- ``kernel`` (correction (a)): as ``invariant`` with the 16 km inputs made by the centred
  Gaussian kernel whose width makes them as rough at their pixel scale as the 4 km inputs
  (``scale_invariance.measure_kernel``, on the training windows);

and ``invariant`` is corrected by the variance law (``correct_image`` ``auto`` and ``law``,
correction (b)) and by the law shift (correction (d): the detail gain ``sqrt(k)`` by day and by
night, ``k`` = within-block variance of the 4 km -> 1 km step in the 1 km truth of the training
windows over what the law fitted on their 4 km fields extrapolates; ``scale_invariance
.measure_law_shift``) and by the gain transferred from the training windows (correction (e):
the invariant model's RMSE-optimal detail gain at 4 km -> 1 km pooled over the training
window-dates by day and by night). (Multi-scale training, correction (c), would need 64 km pixels: one per
window.) All are applied at 4 km -> 1 km to every test window-date (day and night) and scored
against its 1 km LST: RMSE, bias-removed RMSE, spectral ratio. The gap ``RMSE(invariant) -
RMSE(oracle)`` and the corrections' closed fractions are means over test positions (each the
mean of its window-dates) with paired bootstrap 95 % intervals over test positions (2000
resamples); invariant and oracle are trained again with a second seed (training noise).

Writes ``one_level_up.md`` in ``--out`` and a JSON summary at ``--json`` (default
``<out>/one_level_up.json``). ``--smoke``: 5 dates, 1 epoch, 32 patches, one day and one night
window-date per test position (seconds; a test, not a measurement).
"""

from __future__ import annotations

import argparse
import json
import os
import time
from pathlib import Path
from typing import Any

import numpy as np
import torch
from scale_invariance import (
    BOUND,
    FRONTIER,
    FRONTIER_MODELS,
    F,
    bootstrap,
    bootstrap_gap,
    equal_counts,
    frontier_lines,
    frontier_summary,
    gain_bound,
    gain_curve,
    kernel_pairs,
    measure_kernel,
    measure_law_shift,
    method_rows,
    non_negative_int,
    pooled_gain,
    positive_int,
    strict_json,
    summary_line,
    train,
)
from sisr_cube import check_held_back_cube, recipe  # the cube reader, its split by position

from xlstsr.datasets import data_root
from xlstsr.datasets.root import HELD_BACK_RESULTS, check_output, is_project_data, results_dir
from xlstsr.errors import XlstsrError
from xlstsr.kernels.aggregate import radiometric_mean
from xlstsr.kernels.correction import correct_image
from xlstsr.kernels.interp import cubic_upsample
from xlstsr.kernels.spectra import spectral_ratio
from xlstsr.train import PatchSet, degraded_pairs, make_patches

ROOT = Path(__file__).resolve().parents[1]
EPOCHS = 40  # at most, per model: the published page's
PATCH = 16  # fine px of a patch: 4 x 4 coarse px (a whole window at 16 km -> 4 km)
ASSETS = ("LST_Day_1km", "LST_Night_1km")
#: the columns of ``windows.csv`` read here: the window, its pixel offsets, its number of dates
CUBE_COLUMNS = ("window", "row_off", "col_off", "n_dates_mod11a1")


def load(data_dir: Path, max_dates: int | None) -> tuple[np.ndarray, np.ndarray, np.ndarray, Any]:
    """1 km windows (day and night stacked), their positions, day/night labels, and the split.

    The cube folder is checked first as ``sisr_cube.py --held-back`` checks it
    (:func:`sisr_cube.check_held_back_cube`): a missing ``catalog.json`` / ``windows.csv``, a
    ``windows.csv`` without :data:`CUBE_COLUMNS`, or no item holding both LST assets (a
    night-only cube) is refused naming what is missing. The cube is found as every reader of it
    finds it (``train_bundled.cube_dir``): ``data_dir`` holding ``modis_h18v04_2020/`` (or one
    cube folder of another name), or the cube's folder itself."""
    r = recipe()
    check_held_back_cube(r.cube_dir(data_dir), ASSETS, columns=CUBE_COLUMNS)
    samples = r.cube_samples(data_dir, max_dates=max_dates)
    split = r.cube_split(data_dir)
    lst = np.concatenate([samples[v].values for v in ASSETS]).astype(np.float32)
    pos = np.tile(samples.position.values, len(ASSETS))
    dn = np.repeat(["day", "night"], len(samples.position))
    return lst, pos, dn, split


def patch_sets(l1: np.ndarray, pos: np.ndarray, split: Any, kernel_psf: float,
               n_max: int | None, seed: int) -> dict[str, tuple[PatchSet, PatchSet]]:
    """Train/val patches (4 x 4 coarse px) of each model, the same counts (seeded subsampling)."""
    l4 = radiometric_mean(l1, F, min_valid=0.5).astype(np.float32)
    raw = {
        "invariant": make_patches(**degraded_pairs(l4, F, min_valid=0.5), factor=F, patch=PATCH,
                                  stride=PATCH, scene_ids=pos),
        "oracle": make_patches(**degraded_pairs(l1, F, min_valid=0.5), factor=F, patch=PATCH,
                               stride=PATCH, scene_ids=pos),
        "kernel": make_patches(**kernel_pairs(l4, kernel_psf), factor=F, patch=PATCH,
                               stride=PATCH, scene_ids=pos),
    }
    idx = {k: (np.flatnonzero(np.isin(p.scene, split.train)),
               np.flatnonzero(np.isin(p.scene, split.val))) for k, p in raw.items()}
    return equal_counts(raw, idx, n_max, seed)


def forward(model: torch.nn.Module, coarse: np.ndarray) -> np.ndarray:
    """The model on a stack of complete coarse windows (each its own input)."""
    with torch.no_grad():
        x = torch.from_numpy(coarse[:, None].astype(np.float32))
        return model(x)[:, 0].numpy().astype(np.float64)


def metrics(sr: np.ndarray, truth: np.ndarray) -> tuple[float, float, float]:
    e = sr - truth
    return (float(np.sqrt(np.mean(e**2))), float(e.std()), float(spectral_ratio(sr, truth, F)))


def evaluate(models: dict, l1: np.ndarray, dn: np.ndarray, gains: dict[str, float] | None,
             corrections: bool = True,
             transfer: dict[str, float] | None = None) -> dict[str, np.ndarray]:
    """Per test window-date (rows) RMSE, bias-removed RMSE, spectral ratio per method."""
    l4 = radiometric_mean(l1, F, min_valid=0.5)
    truth = l1.astype(np.float64)
    outs = {"bicubic": cubic_upsample(l4.astype(np.float64), F)} if corrections else {}
    outs |= {k: forward(v["model"], l4) for k, v in models.items()}
    if corrections:
        inv = outs["invariant"]
        for mode in ("auto", "law"):
            outs[f"variance_law ({mode})"] = np.stack(
                [correct_image(inv[i], l4[i], F, None, mode=mode) for i in range(len(inv))])
        outs["law_shift"] = np.stack(
            [correct_image(inv[i], l4[i], F, mode=float(np.sqrt(gains[dn[i]])))
             for i in range(len(inv))])
        outs["gain_transfer"] = np.stack(
            [correct_image(inv[i], l4[i], F, mode=transfer[dn[i]]) for i in range(len(inv))])
        outs[BOUND] = np.stack([gain_bound(inv[i], l4[i], truth[i]) for i in range(len(inv))])
    res = {k: np.array([metrics(v[i], truth[i]) for i in range(len(truth))])
           for k, v in outs.items()}
    if corrections:  # the detail-gain frontier's curves (image, gain, [RMSE, ratio])
        res |= {FRONTIER + k: np.stack([gain_curve(outs[k][i], l4[i], truth[i])
                                        for i in range(len(truth))]) for k in FRONTIER_MODELS}
    return res


def by_position(res: dict[str, np.ndarray], pos: np.ndarray) -> tuple[dict[str, np.ndarray], list]:
    """Mean of each test position's window-dates (the bootstrap resamples positions)."""
    keys = sorted(set(pos.tolist()))
    return {k: np.array([v[pos == p].mean(0) for p in keys]) for k, v in res.items()}, keys


def page_dir(args: argparse.Namespace, data_dir: Path) -> Path:
    """The folder of one_level_up.md: ``--out``; else docs/results for the published protocol
    on the project's data; else beside ``--json`` (unless that is docs/results), else
    ``./heldback_results``."""
    published = ROOT / "docs" / "results"
    # another --epochs or --seed is not the published protocol: it never replaces the page
    partial = args.epochs != EPOCHS or args.seed != 0
    out = results_dir(args.out, published, data_dir, smoke=args.smoke, partial=partial)
    if (out == HELD_BACK_RESULTS and args.json is not None
            and args.json.resolve().parent != published.resolve()):
        out = args.json.parent  # the page beside the summary asked for, if not published
    return out


def main(argv: list[str] | None = None) -> int:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--epochs", type=int, default=EPOCHS)
    ap.add_argument("--threads", type=positive_int, default=1)
    ap.add_argument("--seed", type=non_negative_int, default=0)
    ap.add_argument("--out", type=Path, default=None, help="folder of one_level_up.md (default: "
                    "docs/results for the project's own data and the page's --epochs / --seed; "
                    "for another --root, --smoke, --epochs or --seed the folder of --json "
                    "(unless docs/results), else ./heldback_results)")
    ap.add_argument("--json", type=Path, default=None,
                    help="the JSON summary (default: <out>/one_level_up.json)")
    ap.add_argument("--smoke", action="store_true", help="5 dates, 1 epoch, 32 patches (a test)")
    ap.add_argument("--root", type=Path, default=None,
                    help="data folder holding modis_h18v04_2020/ (default: $XLSTSR_DATA or "
                    "../shared/data), or the cube's folder itself; another cube laid out the "
                    "same way (any folder name) is split and scored by its own window "
                    "positions")
    args = ap.parse_args(argv)
    # outputs checked before any work: a folder as --json, a file as --out, a folder without
    # write permission ended the run in a traceback after the training, nothing written
    check_output(args.json, "--json", file_name="one_level_up.json")
    check_output(args.out, "--out")
    args.given_out = args.out  # the page's command names it (args.out becomes the folder used)
    if args.smoke:
        args.epochs = 1
    torch.set_num_threads(args.threads)
    t0 = time.perf_counter()
    data_dir = data_root(args.root)
    args.out = page_dir(args, data_dir)
    l1, pos, dn, split = load(data_dir, 5 if args.smoke else None)
    pair_note = recipe().cube_pair_windows(data_dir)[2]
    if pair_note:
        print(f"held-out positions: {pair_note}", flush=True)
    print(f"loaded {len(l1)} window-dates ({time.perf_counter() - t0:.0f} s); writing to "
          f"{args.out}", flush=True)
    is_tr = np.isin(pos, split.train)
    is_va = np.isin(pos, split.val)
    is_te = np.isin(pos, split.test + split.held_out)
    if args.smoke and not is_te.any():  # 5 dates may hold no test window: a test of the code
        is_te = ~is_tr
    if args.smoke:  # one day and one night window-date per test position (a test of the code)
        first = {}
        for i in np.flatnonzero(is_te):
            first.setdefault((pos[i], dn[i]), i)
        is_te = np.isin(np.arange(len(is_te)), list(first.values()))
    n_te_pos = len(set(pos[is_te].tolist()))
    if not is_tr.any() or not is_va.any() or n_te_pos < 2:
        # each model trains, early-stops and is scored on its own positions; the interval
        # resamples test positions
        raise SystemExit(
            f"{recipe().cube_dir(data_dir)}: the split by window position leaves {int(is_tr.sum())} "
            f"training, {int(is_va.sum())} validation and {int(is_te.sum())} test window-dates "
            f"({n_te_pos} test positions) among {len(l1)} (positions: train {split.train}, val "
            f"{split.val}, test {split.test}, held out {split.held_out}); the protocol needs "
            "training and validation window-dates and at least 2 test positions: give a cube "
            "with more window positions in windows.csv"
            + (" or run without --smoke (5 dates)" if args.smoke else "") + ".")
    l4 = radiometric_mean(l1, F, min_valid=0.5)
    kernel_psf, kinfo = measure_kernel(l4[is_tr])
    gains, krows = measure_law_shift(
        {i: l1[i] for i in np.flatnonzero(is_tr)}, {i: l4[i] for i in np.flatnonzero(is_tr)},
        {i: dn[i] for i in np.flatnonzero(is_tr)})
    print(f"kernel sigma {kernel_psf} px of 4 km; law shift k {gains}", flush=True)
    sets = patch_sets(l1, pos, split, kernel_psf, 32 if args.smoke else None, args.seed)
    models = train(sets, args.epochs, args.seed)
    # correction (e): the invariant model's RMSE-optimal detail gain on the training windows
    inv_tr = forward(models["invariant"]["model"], l4[is_tr])
    transfer = pooled_gain([(inv_tr[j], l4[i], l1[i].astype(np.float64), dn[i])
                            for j, i in enumerate(np.flatnonzero(is_tr))])
    print(f"transferred gain {transfer}", flush=True)
    raw = evaluate(models, l1[is_te], dn[is_te], gains, transfer=transfer)
    curves = {k[len(FRONTIER):]: raw.pop(k) for k in list(raw) if k.startswith(FRONTIER)}
    res, te_pos = by_position(raw, pos[is_te])
    summ = bootstrap(res, args.seed)
    # one gain per window-date; each weighs as its position's mean of window-dates does
    _, per_pos = np.unique(pos[is_te], return_inverse=True)
    summ["frontier"] = frontier_summary(res, curves, 1.0 / np.bincount(per_pos)[per_pos])
    reseed = {} if args.smoke else train({k: sets[k] for k in ("invariant", "oracle")},
                                         args.epochs, args.seed + 1)
    if reseed:
        res2, _ = by_position(evaluate(reseed, l1[is_te], dn[is_te], None, corrections=False),
                              pos[is_te])
        b2 = bootstrap_gap(res2, args.seed)
        summ |= {"gap_rmse_seed2": b2[0], "gap_ci_seed2": b2[1]}
    per_dn = {}
    for d in ("day", "night"):
        sel = dn[is_te] == d
        if sel.any():
            r, _ = by_position({k: v[sel] for k, v in raw.items()}, pos[is_te][sel])
            g = r["invariant"][:, 0] - r["oracle"][:, 0]
            per_dn[d] = {"gap_rmse": float(g.mean()), "n_positions": len(g),
                         "n_images": int(sel.sum())}
    runtime = time.perf_counter() - t0
    summ |= {"per_day_night": per_dn, "kernel_psf_px_4km": kernel_psf, "law_shift_k": gains,
             "transfer_gain": transfer,
             "n_test_positions": len(te_pos), "n_test_images": int(is_te.sum()),
             "test_positions": te_pos, "split": split.as_dict(), "held_out_note": pair_note,
             "epochs": args.epochs,
             "epochs_run": {k: v["epochs"] for k, v in models.items()},
             "n_train_patches": models["invariant"]["n_train"],
             "n_val_patches": models["invariant"]["n_val"],
             "seconds": round(runtime, 1), "smoke": args.smoke,
             # the data the page traces to: the cube read, the data folder when not the
             # project's own (given by --root or $XLSTSR_DATA)
             "cube": str(recipe().cube_dir(data_dir)),
             "root": None if is_project_data(data_dir) else str(data_dir)}
    args.out.mkdir(parents=True, exist_ok=True)
    jpath = args.json or args.out / "one_level_up.json"
    jpath.parent.mkdir(parents=True, exist_ok=True)
    jpath.write_text(json.dumps(strict_json(summ), indent=1, allow_nan=False) + "\n")
    text = report(args, summ, res, kinfo, krows)
    (args.out / "one_level_up.md").write_text(text + "\n")
    print(summary_line(summ))
    return 0


def reading(res: dict[str, np.ndarray], summ: dict) -> str:
    """What the tables say, generated from their numbers (a rerun keeps it true)."""
    m = {k: (v[:, 0].mean(), v[:, 2].mean()) for k, v in res.items()}
    inv, orc, bic = m["invariant"], m["oracle"], m["bicubic"]
    out = [f"trained one octave-pair up, the network scores {inv[0]:.3f} K, "
           + ("worse" if inv[0] > bic[0] else "better") + f" than bicubic ({bic[0]:.3f} K); "
           f"trained at the scale of use, {orc[0]:.3f} K. It injects "
           + ("more" if inv[1] > orc[1] else "less") + f" detail (spectral ratio {inv[1]:.2f} "
           f"against {orc[1]:.2f})."]
    gb = summ["gain_bound_closed"]
    out.append(f"One detail gain per image, chosen with the truth, closes {gb:.0%} of the gap: "
               + ("the cost of the hypothesis here is mostly in the amount of detail, which a "
                  "gain can fix, and the law shift, whose gains come from the training windows' "
                  "own 1 km truth, recovers "
                  f"{summ['closed']['law_shift']:.0%} of it, the gain transferred from the "
                  f"training windows {summ['closed']['gain_transfer']:.0%}." if gb >= 0.5 else
                  "most of the cost is in where the detail is put, which no gain fixes."))
    pdn = summ["per_day_night"]
    if len(pdn) == 2:
        out.append(f"The gap is {pdn['day']['gap_rmse']:+.3f} K by day and "
                   f"{pdn['night']['gap_rmse']:+.3f} K by night.")
    return " ".join(out)


def page_source(args, summ: dict) -> tuple[str, str]:
    """``(command, data)``: the command that wrote the page, with the ``--root`` of a run on a
    held-back folder (given as ``--root`` or by ``$XLSTSR_DATA``: ``summ["root"]``), and the
    cube it read in words: the project's ``modis_h18v04_2020``, or the held-back cube's folder
    (``summ["cube"]``, any name), so that the page traces to the data it scored."""
    root = args.root if args.root is not None else summ.get("root")
    cmd = "python benchmarks/one_level_up.py" + " --smoke" * args.smoke + (
        f" --epochs {args.epochs}" if not args.smoke and args.epochs != 40 else "") + (
        f" --root {root}" if root is not None else "") + (
        f" --seed {args.seed}" if getattr(args, "seed", 0) != 0 else "") + (
        f" --threads {args.threads}" if getattr(args, "threads", 1) != 1 else "") + (
        f" --json {args.json}" if getattr(args, "json", None) is not None else "") + (
        f" --out {args.given_out}" if getattr(args, "given_out", None) is not None else "")
    shared = recipe().CUBE  # the project's cube: modis_h18v04_2020
    cube = Path(summ.get("cube", shared))
    data = (f"the MOD11A1 datacube `{shared}` (64 x 64 windows of 1 km LST, day and night, "
            "2020)" if summ.get("root") is None and cube.name == shared else
            f"the MOD11A1 datacube `{cube}` (held-back data; 64 x 64 windows of 1 km LST, day "
            "and night)")
    return cmd, data


def report(args, summ: dict, res: dict, kinfo: dict, krows: list[dict]) -> str:
    cmd, data = page_source(args, summ)
    sp = summ["split"]
    lines = [
        "# One level up: SISR trained at 16 km -> 4 km, applied at 4 km -> 1 km (MODIS only)",
        "",
        f"Written by `{cmd}` ({summ['seconds']:.0f} s, {args.threads} torch thread(s), "
        f"{os.cpu_count() or '?'} CPU cores). See the script's docstring for the protocol. "
        f"Data: {data}, split "
        f"by window position (the recipe's `cube_split`): {len(sp['train'])} training and "
        f"{len(sp['val'])} validation positions; scored: {summ['n_test_positions']} positions "
        f"({len(sp['test'])} test + {len(sp['held_out'])} held out for the ASTER pairs; "
        f"{summ['n_test_images']} window-dates, day and night), never trained on"
        + (f" (held out: {summ['held_out_note']})" if summ.get("held_out_note") else "")
        + ". Every model: "
        f"ResCNN 32 ch x 4 blocks, plain Huber loss, {summ['n_train_patches']} training and "
        f"{summ['n_val_patches']} validation patches of 4 x 4 coarse px, at most "
        f"{summ['epochs']} epochs (run: "
        + ", ".join(f"{k} {v}" for k, v in summ["epochs_run"].items()) + "). Input "
        "`radiometric_mean(LST_1km, 4)` of each window, truth its 1 km LST.",
        "",
        "Means over test positions (each the mean of its window-dates; median in brackets):",
        "",
        "| method | RMSE (K) | bias-removed RMSE (K) | spectral ratio | mean abs(ratio - 1) |",
        "|---|---|---|---|---|",
    ]
    labels = {"invariant": "invariant (trained 16 -> 4 km)",
              "oracle": "oracle (trained 4 -> 1 km)",
              "kernel": "(a) kernel law (trained 16 -> 4 km, measured kernel)",
              "variance_law (auto)": "(b) invariant + variance law `auto`",
              "variance_law (law)": "(b) invariant + variance law `law`",
              "law_shift": "(d) invariant + law shift (gain sqrt(k) by day / night)",
              "gain_transfer": "(e) invariant + gain transferred from the training windows",
              BOUND: "bound: invariant at its RMSE-optimal detail gain per image (reads the truth)"}
    lines += method_rows(res, labels)
    g, (lo, hi) = summ["gap_rmse"], summ["gap_ci"]
    within = lo <= 0 <= hi
    lines += [
        "",
        f"**Gap** RMSE(invariant) - RMSE(oracle) = {g:+.3f} K, 95 % paired bootstrap interval "
        f"[{lo:+.3f}, {hi:+.3f}] K over {summ['n_test_positions']} test positions"
        + (": **within noise** - for this model, scale invariance holds one level up on ground "
           "it never saw, and the closed fractions below are ratios of noise." if within else ".")
        + " By day / night: " + "; ".join(
            f"{d} {v['gap_rmse']:+.3f} K ({v['n_images']} window-dates)"
            for d, v in summ["per_day_night"].items()) + ".",
        ("" if "gap_rmse_seed2" not in summ else
         f"Training noise: invariant and oracle retrained with another seed give a gap of "
         f"{summ['gap_rmse_seed2']:+.3f} K [{summ['gap_ci_seed2'][0]:+.3f}, "
         f"{summ['gap_ci_seed2'][1]:+.3f}]."),
        "",
        "| correction | fraction of the gap closed [95 % CI] | RMSE change vs invariant (K) "
        "[95 % CI] | change of mean abs(ratio - 1) |",
        "|---|---|---|---|",
    ]
    for k in summ["closed"]:
        c0, (c1, c2) = summ["closed"][k], summ["closed_ci"][k]
        r0, (r1, r2) = summ["rmse_change"][k], summ["rmse_change_ci"][k]
        lines.append(f"| {k} | {c0:+.2f} [{c1:+.2f}, {c2:+.2f}] | {r0:+.3f} [{r1:+.3f}, {r2:+.3f}]"
                     f" | {summ['mismatch_change'][k]:+.0%} |")
    lines += [
        "",
        f"Best correction by closed fraction: `{summ['best']}` (RMSE "
        f"{summ['best_rmse_change']:+.3f} K, |ratio - 1| {summ['best_mismatch_change']:+.0%}). "
        f"Bound: one detail gain per image chosen with the truth closes "
        f"{summ['gain_bound_closed']:+.0%} [{summ['gain_bound_closed_ci'][0]:+.0%}, "
        f"{summ['gain_bound_closed_ci'][1]:+.0%}] of the gap.",
        "",
        "Reading: " + reading(res, summ),
        "",
        *frontier_lines(summ["frontier"], per="window-date", scale="1 km"),
        f"Kernel law: S2(1)/S2(2) of the 4 km training inputs {kinfo['target_s2_ratio']:.3f}, of "
        f"their 16 km box aggregates {kinfo['box_s2_ratio']:.3f}; chosen width "
        f"{summ['kernel_psf_px_4km']:g} px of 4 km. Law shift: k = W(1 km truth) / W(law "
        f"extrapolated from 4 km), median over the training window-dates by day "
        f"{summ['law_shift_k']['day']:.2f} (gain {np.sqrt(summ['law_shift_k']['day']):.2f}), by "
        f"night {summ['law_shift_k']['night']:.2f} (gain "
        f"{np.sqrt(summ['law_shift_k']['night']):.2f}); transferred gain (e): day "
        f"{summ['transfer_gain']['day']:.2f}, night {summ['transfer_gain']['night']:.2f}; "
        "interquartile range of k: "
        + ", ".join(
            f"{d} [{np.percentile(v, 25):.2f}, {np.percentile(v, 75):.2f}]"
            for d in ("day", "night")
            if (v := [r["k"] for r in krows if r["day_night"] == d]))
        + ".",
        "",
        "The previous version of this page (one MOD11A1 granule, h14v09, for training and the 55 "
        "modis_aster MODIS patches as test, plain and texture losses; the figures cited in "
        "docs/results/scaling.md section 5) is in the history: `git show "
        "7d2b773:docs/results/one_level_up.md`.",
    ]
    return "\n".join(lines)


if __name__ == "__main__":
    from xlstsr.datasets.root import exit_on_missing_data

    try:  # missing data: one line naming the fix
        exit_on_missing_data(main, __file__, flags="--root DIR")
    except XlstsrError as err:  # a data folder it cannot use: the message
        raise SystemExit(f"{Path(__file__).name}: {err}") from None

"""Benchmark of the bundled deep models (SISR, DISR) against bicubic; writes docs/results/models.md.

1. Degraded protocol (as MRUNet reports it): MODIS LST 1 km of the modis_aster EVAL_PAIRS (never used
   in training), degraded to 4 km with ``xlstsr.coarsen`` (radiometric mean), super-resolved back to
   1 km and compared with the real 1 km: PSNR (data range = max - min of each reference image),
   SSIM, RMSE.
2. Real truth: MODIS 1 km (+ NDVI 250 m) -> 250 m on the EVAL_PAIRS, scored against ASTER with
   ``xlstsr.evaluate`` (SR reprojected bilinearly onto the ASTER grid; truth = ASTER > 0, eroded
   3 px, > 230 K): RMSE, bias-removed RMSE, spectral ratio, coarse consistency.
3. CPU cost: training seconds per epoch (from the checkpoints' metadata) and inference output pixels
   per second (whole-array inference of a 2 x 128 x 128 coarse cube, x4).

Usage: ``python benchmarks/bench_models.py [--root DIR] [--pairs 002,015] [--threads 2]
[--out docs/results]`` (writes ``models.md`` in ``--out``; a ``--pairs`` subset of the held-out
pairs, the only pairs it accepts, ``--no-classical`` (no tsharp) or another data folder writes
``./heldback_results`` unless ``--out`` is given); ``--smoke``: one pair and a 2 x 16 x 16 speed
cube (seconds; a test, not a measurement).

``--root DIR`` (or ``$XLSTSR_DATA``): a data folder holding ``modis_aster/`` pairs held back
from this repository, numbered as it likes: every pair of it the bundled models did not train
on is scored, the training pairs recognised by their MODIS LST
(``xlstsr.datasets.seen_in_training``, as ``accuracy_modis_aster.py --root`` does); in the
shared folder these are the ``EVAL_PAIRS``. The page names the folder. A pair listed in
``pairs.csv`` that cannot be read (a missing file, no valid pixel:
``accuracy_modis_aster.usable_pairs``) or scored (an ``XlstsrError``, e.g. an ASTER tile that
does not overlap its MODIS window) is left out of both tables and named on the page, as
``accuracy_modis_aster.py --root`` leaves it out (``--smoke`` scores the first pair that can be).
"""

from __future__ import annotations

import argparse
import platform
import sys
import time
import warnings
from pathlib import Path

import numpy as np
import torch
from accuracy_modis_aster import positive_int

import xlstsr
from xlstsr.datasets import EVAL_PAIRS, data_root
from xlstsr.datasets.modis_aster import _modis_aster_dir
from xlstsr.datasets.root import is_project_data, results_dir
from xlstsr.errors import GuideAlignmentWarning, XlstsrError
from xlstsr.kernels import metrics as km
from xlstsr.methods import get_method
from xlstsr.nn import load_model
from xlstsr.nn.weights import BUNDLED, WEIGHTS_DIR, weights_path

ROOT = Path(__file__).resolve().parents[1]
HERE = Path(__file__).resolve().parent
FACTOR = 4
#: the pairs a protocol could not score in this run (filled by :func:`degraded` and
#: :func:`real_truth`, emptied by ``main``): pair -> why, named on the page
LEFT_OUT: dict[str, str] = {}


def _left_out(pid: str, part: str, err: XlstsrError) -> None:
    """Record (and print) a pair ``part`` of the benchmark cannot score, as
    ``sisr_cube.score_aster`` does: one such pair no longer ends the run."""
    msg = (str(err).splitlines() or [""])[0]
    msg = msg if len(msg) <= 400 else msg[:400].rsplit(" ", 1)[0] + " ..."
    LEFT_OUT[pid] = f"{part}: {type(err).__name__}: {msg.rstrip('.')}"
    print(f"  {pid}: left out ({LEFT_OUT[pid]})", flush=True)


def methods(include_classical: bool) -> dict[str, tuple[str, dict]]:
    out = {"bicubic": ("bicubic", {})}
    if include_classical:
        out["tsharp"] = ("tsharp", {})
    for short, fname in BUNDLED.items():
        if (WEIGHTS_DIR / fname).is_file():
            kind = "sisr" if fname.startswith("sisr") else "disr"
            out[f"{kind}:{short}"] = (kind, {"weights": short})
            if kind == "disr" and short == "unet":
                out[f"{kind}:{short} conserve"] = (kind, {"weights": short, "conserve": True})
    return out


def degraded(pairs, meths, root=None) -> dict[str, dict[str, float]]:
    """Means over ``pairs`` of the degraded protocol; a pair it cannot score (an
    :class:`~xlstsr.errors.XlstsrError`) is left out for every method, named in :data:`LEFT_OUT`."""
    res: dict[str, dict[str, list]] = {}
    for pid in pairs:
        got: dict[str, dict[str, float]] = {}  # every method or none: the table compares them
        try:
            lst, _, _ = xlstsr.datasets.open_modis_aster_pair(pid, root)
            lst = lst.where(lst < 350.0)  # pair 015 holds one 402 K pixel
            coarse = xlstsr.coarsen(lst, FACTOR)
            ref = lst.values.astype(np.float64)
            for name, (m, opts) in meths.items():
                if m in ("tsharp",) or name.startswith("disr"):
                    continue
                sr = xlstsr.upscale(coarse, FACTOR, method=m, **opts).values.astype(np.float64)
                got[name] = {"psnr": float(km.psnr(sr, ref)), "ssim": float(km.ssim(sr, ref)),
                             "rmse": float(km.rmse(sr, ref))}
        except XlstsrError as err:
            _left_out(pid, "degraded protocol", err)
            continue
        for name, s in got.items():
            r = res.setdefault(name, {"psnr": [], "ssim": [], "rmse": []})
            for k, v in s.items():
                r[k].append(v)
    return {k: {m: float(np.nanmean(v)) for m, v in d.items()} for k, d in res.items()}


def real_truth(pairs, meths, root=None) -> dict[str, dict[str, float]]:
    """Means over ``pairs`` against ASTER; a pair it cannot score (an
    :class:`~xlstsr.errors.XlstsrError`: e.g. an ASTER tile that does not overlap its MODIS
    window) is left out for every method, named in :data:`LEFT_OUT`, as
    ``accuracy_modis_aster.py`` and ``sisr_cube.py`` leave it out."""
    res: dict[str, dict[str, list]] = {}
    for pid in pairs:
        got: dict[str, dict[str, float]] = {}  # every method or none: the table compares them
        try:
            lst, ndvi, aster = xlstsr.datasets.open_modis_aster_pair(pid, root)
            for name, (m, opts) in meths.items():
                method = get_method(m, **opts)
                guide = ndvi if method.needs_guide else None
                with warnings.catch_warnings():
                    warnings.simplefilter("ignore", GuideAlignmentWarning)
                    sr = xlstsr.upscale(
                        lst, FACTOR, method=method, guide=guide, mask_out_of_range=True
                    ).load()
                ds = xlstsr.evaluate(sr, aster, coarse=lst, factor=FACTOR, erode=3,
                                     valid_min=230.0)
                got[name] = {k: float(ds[k]) for k in ("rmse", "ubrmse", "bias", "spectral_ratio",
                                                       "spectral_ratio_sym", "coarse_consistency")}
        except XlstsrError as err:
            _left_out(pid, "real truth", err)
            continue
        for name, s in got.items():
            r = res.setdefault(name, {})
            for k, v in s.items():
                r.setdefault(k, []).append(v)
    out = {}
    for k, d in res.items():
        out[k] = {m: float(np.nanmean(np.abs(v) if m == "bias" else v)) for m, v in d.items()}
        out[k]["rmse_median"] = float(np.nanmedian(d["rmse"]))
    return out


def speed(meths, size: int = 512) -> dict[str, float]:
    scene = xlstsr.datasets.sample_scene(n_times=2, size=size, cloud_fraction=0.0, seed=1)
    lst, ndvi = scene["lst_1km"], scene["ndvi_250m"]
    out = {}
    for name, (m, opts) in meths.items():
        method = get_method(m, **opts)
        guide = ndvi if method.needs_guide else None
        xlstsr.upscale(
            lst[:, :16, :16],
            FACTOR,
            method=method,
            guide=None if guide is None else guide[:64, :64],
        )  # warm-up
        t0 = time.perf_counter()
        sr = xlstsr.upscale(lst, FACTOR, method=method, guide=guide).load()
        out[name] = sr.size / (time.perf_counter() - t0)
    return out


def _over_bicubic(deg: dict, name: str, short: str) -> str | None:
    """``+0.21 dB PSNR and +0.049 SSIM (`short`)``: a model's gain over bicubic in this run."""
    if name not in deg or "bicubic" not in deg:
        return None
    v, b = deg[name], deg["bicubic"]
    return f"{v['psnr'] - b['psnr']:+.2f} dB PSNR and {v['ssim'] - b['ssim']:+.3f} SSIM (`{short}`)"


def measured_notes(deg: dict, real: dict) -> list[str]:
    """The notes' sentences that quote numbers, formatted from the rows this run measured.

    A model missing from the run (weights not installed) is left out of its sentence.
    """
    lines = [
        "- Degraded protocol: the MODIS patches are 64 x 64 km, so the 4 km input is 16 x 16 pixels;",
        "  MRUNet's anchor (+4.5 dB over bicubic) was on its own, larger MODIS test set and training set.",
    ]
    granule = [g for g in (_over_bicubic(deg, f"sisr:{m}", m) for m in ("rescnn_granule", "mrunet"))
               if g]
    default = _over_bicubic(deg, "sisr:rescnn", "rescnn")
    if granule:
        lines.append("  The granule SISR models (~20 scenes of European summer LST plus one cloudy "
                     f"tropical granule) gain {', '.join(granule)} over bicubic here.")
    if default:
        lines.append(f"  The default, trained on the h18v04 cube split by position: {default}.")
    lines += [
        "- Real truth: MODIS vs ASTER aggregated to 1 km already differ by 1.6 K RMSE (accuracy.md,",
        "  'MODIS vs ASTER at 1 km'), a floor no method can remove.",
    ]
    cc = [f"{real[f'disr:{m}']['coarse_consistency']:.2f} K for {label}"
          for m, label in (("unet", "`unet`"), ("fast", "the default `fast` distilled from it"),
                           ("unet_displaced", "`unet_displaced`")) if f"disr:{m}" in real]
    if cc:
        lines.append("  The cross-sensor DISR models also learned part of the MODIS -> ASTER "
                     f"mismatch (coarse consistency {', '.join(cc)}).")
    c, b = real.get("disr:unet conserve"), real.get("bicubic")
    if c and b:
        lines.append(
            "  `conserve=True` keeps the MODIS radiance (here RMSE "
            f"{c['rmse']:.3f} K against bicubic's {b['rmse']:.3f} K, with "
            f"{c['spectral_ratio'] / b['spectral_ratio']:.1f} times its spectral ratio)."
        )
    return lines


def _accuracy():
    """The sibling script ``accuracy_modis_aster.py`` (its reading of pair ids and folders)."""
    if str(HERE) not in sys.path:
        sys.path.insert(0, str(HERE))
    import accuracy_modis_aster

    return accuracy_modis_aster


def held_out_pairs(root) -> tuple[list[str], list[str], dict[str, str]]:
    """``(held_out, trained, unusable)``: the pairs of the data folder's ``modis_aster/`` that
    none of the bundled models trained on, and those they did, recognised by their MODIS LST
    (:func:`xlstsr.datasets.seen_in_training`, as ``accuracy_modis_aster.py`` does), not by
    their ids: in the shared folder ``EVAL_PAIRS`` and ``TRAIN_PAIRS``; a held-back folder
    numbers its pairs as it likes (its "002" may be a training pair). ``unusable``
    (``{pair: why}``): the pairs listed in ``pairs.csv`` that cannot be read or scored (a
    missing file, no valid pixel: ``accuracy_modis_aster.usable_pairs``), set aside before
    the MODIS LST is compared, neither held out nor trained."""
    from xlstsr.datasets import seen_in_training

    acc = _accuracy()
    usable, unusable = acc.usable_pairs(acc.all_listed(root), root)
    trained = set(seen_in_training(usable, root))
    return ([p for p in usable if p not in trained], [p for p in usable if p in trained],
            unusable)


def select_pairs(ap: argparse.ArgumentParser, asked: str | None, root
                 ) -> tuple[list[str], list[str], dict[str, str]]:
    """``(pairs, held_out, left_out)``: the pairs to score (``--pairs``, ids of the folder, or
    every held-out pair), every held-out pair of the folder, and the pairs asked for (all of the
    folder's without ``--pairs``) that cannot be read or scored, ``{pair: why}``: left out and
    named, as ``accuracy_modis_aster.py --root`` leaves them out. ``--pairs`` naming a pair the
    folder does not hold, or one the bundled models trained on (it would be reported as held
    out), is refused with the folder's own ids."""
    as_listed = _accuracy().as_listed
    held, trained, unusable = held_out_pairs(root)
    folder = _modis_aster_dir(root)
    if not held:
        ap.error(f"every pair of {folder} ({len(trained)}) is a training pair of the bundled "
                 "models (recognised by its MODIS LST): nothing held out to score"
                 if not unusable else
                 f"no pair of {folder} is held out and can be scored: {len(trained)} training "
                 "pair(s) of the bundled models (recognised by their MODIS LST), left out: "
                 + "; ".join(f"{p}: {w}" for p, w in unusable.items())
                 + f": complete those pairs' files or drop them from {folder / 'pairs.csv'}")
    if not asked:
        return list(held), list(held), dict(unusable)
    known = held + trained + list(unusable)
    pairs = list(dict.fromkeys(as_listed(p, known) for p in asked.split(",") if p.strip()))
    left = {p: unusable[p] for p in pairs if p in unusable}
    pairs = [p for p in pairs if p not in left]
    unknown = [p for p in pairs if p not in known]
    seen = [p for p in pairs if p in trained]
    if left and not pairs and not unknown:
        ap.error(f"--pairs {asked!r}: no pair asked for can be scored: "
                 + "; ".join(f"{p}: {w}" for p, w in left.items())
                 + f": pass ids of the {len(held)} held-out pairs of {folder}, e.g. --pairs "
                 f"{','.join(held[:2])}, or complete those pairs' files")
    if not pairs or unknown or seen:
        why = (f"{', '.join(unknown)} not in {folder / 'pairs.csv'}" if unknown else
               f"{', '.join(seen)} trained the bundled models (recognised by the MODIS LST: "
               "xlstsr.datasets.seen_in_training)" if seen else "no pair")
        ap.error(f"--pairs {asked!r}: {why}: pass ids of the {len(held)} held-out pairs of "
                 f"{folder} (the EVAL_PAIRS of the shared folder), e.g. --pairs "
                 f"{','.join(held[:2])}, or leave --pairs out (all of them)")
    return pairs, list(held), left


def pairs_sentence(pairs: list[str], held: list[str], data: Path) -> str:
    """The page's "Pairs:" sentence: which pairs were scored, of which folder."""
    # the shared folder's held-out pairs are its EVAL_PAIRS (a copy of the folder elsewhere:
    # its path named like any other folder's)
    shared = is_project_data(data) and set(held) == set(EVAL_PAIRS)
    what = ("modis_aster EVAL_PAIRS (`xlstsr.datasets.EVAL_PAIRS`)" if shared
            else f"pairs of `{data}` held out from the bundled models' training")
    some = "" if set(pairs) == set(held) else f" ({', '.join(pairs)})"
    count = f"{len(pairs)}" if not some else f"{len(pairs)} of the {len(held)}"
    return (f"{count} {what}{some}, none used in training (training pairs recognised by their "
            "MODIS LST: `xlstsr.datasets.seen_in_training`).")


def main(argv=None) -> int:
    ap = argparse.ArgumentParser()
    ap.add_argument("--pairs", default=None, metavar="ID,ID,...",
                    help="score these held-out pairs only (default: every pair of the folder "
                    "the bundled models did not train on: the 35 EVAL_PAIRS of the shared "
                    "folder); the page goes to ./heldback_results unless --out is given")
    ap.add_argument("--root", default=None, metavar="DIR",
                    help="data folder holding modis_aster/ (default: $XLSTSR_DATA or "
                    "../shared/data); another folder's pairs are numbered as it likes: its "
                    "training pairs are recognised by their MODIS LST")
    ap.add_argument("--threads", type=positive_int, default=2)
    ap.add_argument("--no-classical", action="store_true")
    ap.add_argument("--out", type=Path, default=None,
                    help="output folder (default: docs/results; ./heldback_results with --smoke, "
                    "a --pairs subset, --no-classical or a --root ($XLSTSR_DATA) other than the "
                    "project's data folder)")
    ap.add_argument("--smoke", action="store_true", help="one pair, tiny speed cube (a test)")
    args = ap.parse_args(argv)
    data = data_root(args.root)
    # the folder's own pairs (a held-back folder: not the shared ids), training pairs known by
    # their MODIS LST: a training pair scored here would be reported as held out
    pairs, held, unusable = select_pairs(ap, args.pairs, args.root)
    # a smoke run (a test of the code path), a subset of the pairs, a run without the
    # classical tsharp or on another data folder never replaces the published page (all the
    # EVAL_PAIRS, every method) unless --out asks for it
    args.out = results_dir(args.out, ROOT / "docs" / "results", data, smoke=args.smoke,
                           partial=set(pairs) != set(held) or args.no_classical)
    torch.set_num_threads(args.threads)
    meths = methods(not args.no_classical)
    t0 = time.perf_counter()
    # --root passed on only when given ($XLSTSR_DATA / ../shared/data otherwise, read alike)
    at = {} if args.root is None else {"root": args.root}
    # a pair the real-truth protocol cannot score (e.g. an ASTER tile off its MODIS window) is
    # left out of both tables, named: the tables compare the same pairs
    LEFT_OUT.clear()
    if args.smoke:  # one pair: the first the protocol can score
        for pid in pairs:  # select_pairs returns one pair at least
            real = real_truth([pid], meths, **at)
            if pid not in LEFT_OUT:
                break
        pairs = pairs[: pairs.index(pid) + 1]
    else:
        real = real_truth(pairs, meths, **at)
    deg = degraded([p for p in pairs if p not in LEFT_OUT], meths, **at)
    left = {**unusable, **LEFT_OUT}
    pairs = [p for p in pairs if p not in LEFT_OUT]
    if not pairs:
        raise SystemExit(f"bench_models.py: no pair of {_modis_aster_dir(args.root)} could be "
                         "scored: " + "; ".join(f"{p}: {w}" for p, w in left.items()))
    spd_size = 16 if args.smoke else 128  # coarse px
    spd = speed(meths, 4 * spd_size)
    lines = [
        "# Deep models: accuracy and CPU cost",
        "",
        f"Generated by `python {' '.join(['benchmarks/bench_models.py', *(argv or sys.argv[1:])])}` "
        f"({platform.machine()}, torch {torch.__version__}, {args.threads} torch threads, "
        f"{time.perf_counter() - t0:.0f} s). Pairs: "
        + pairs_sentence(pairs, held, data),
        "",
        *([] if not left else [
            "**Left out** (not in the tables: the pair cannot be read or scored): "
            + "; ".join(f"{p}: {w}" for p, w in left.items()) + ".", ""]),
        *([] if is_project_data(data) else [
            f"**Held-back data**: `{_modis_aster_dir(args.root)}` (not the project's own folder: "
            "its pairs are numbered as it likes; the bundled models' training pairs among them, "
            "recognised by their MODIS LST, are not scored).", ""]),
        "## Degraded protocol: MODIS 4 km -> 1 km (truth: the real MODIS 1 km)",
        "",
        "Coarse input = `xlstsr.coarsen(lst_1km, 4)` (radiometric mean); PSNR data range = max - min of",
        "each reference image; means over the pairs.",
        "",
        "| method | PSNR (dB) | SSIM | RMSE (K) |",
        "|---|---|---|---|",
    ]
    for k, v in deg.items():
        lines.append(f"| {k} | {v['psnr']:.2f} | {v['ssim']:.3f} | {v['rmse']:.3f} |")
    lines += [
        "",
        "## Real truth: MODIS 1 km -> 250 m against ASTER",
        "",
        "`xlstsr.evaluate` (bilinear onto the ASTER grid; ASTER > 0, eroded 3 px, > 230 K); means over",
        "the pairs (|bias| averaged as absolute values); spectral ratio 1 = as much fine detail as ASTER",
        "(on the ASTER grid, where the resampling smooths the SR; `sym.`: the symmetric estimate of",
        "`evaluate`, which cancels that smoothing).",
        "",
        "Spectral ratio: `xlstsr.kernels.spectra.spectral_ratio` (Hann window, plane removed, gaps",
        "apodised), through `xlstsr.evaluate` on the ASTER grid; `sym.`: its symmetric variant",
        "(`spectral_ratio_sym`, the geometric mean of the ratios on the ASTER and the SR grids).",
        "",
        "| method | RMSE (K) | median RMSE (K) | ubRMSE (K) | abs(bias) (K) | spectral ratio | "
        "sym. spectral ratio | coarse consistency (K) |",
        "|---|---|---|---|---|---|---|---|",
    ]
    for k, v in real.items():
        lines.append(
            f"| {k} | {v['rmse']:.3f} | {v['rmse_median']:.3f} | {v['ubrmse']:.3f} | "
            f"{v['bias']:.3f} | {v['spectral_ratio']:.3f} | {v['spectral_ratio_sym']:.3f} | "
            f"{v['coarse_consistency']:.3f} |"
        )
    lines += [
        "",
        "## CPU cost",
        "",
        f"Inference: `xlstsr.upscale` on a 2 x {spd_size} x {spd_size} coarse cube (x4: 2 x "
        f"{4 * spd_size} x {4 * spd_size} output), numpy",
        "input (whole-array), after a warm-up. Training: median seconds per epoch recorded in each",
        "checkpoint by `python scripts/train_bundled.py` (threads as recorded).",
        "",
        "| method | output px / s | train s / epoch | epochs | train threads | training patches "
        "(fine px, stride) | parameters | file (MB) |",
        "|---|---|---|---|---|---|---|---|",
    ]
    for k, v in spd.items():
        _m, opts = meths[k]
        if "weights" in opts:
            path = weights_path(opts["weights"])
            model = load_model(path)
            h = model.metadata.get("history", {})
            npar = sum(p.numel() for p in model.parameters())
            pt = model.metadata.get("patches", {})
            stride = f", stride {pt['stride']}" if "stride" in pt else ""
            lines.append(
                f"| {k} | {v:,.0f} | {h.get('seconds_per_epoch', float('nan')):.1f} | "
                f"{h.get('epochs_run', '')} | {h.get('threads', '')} | "
                f"{pt.get('n_train', '')} ({pt.get('patch_fine_px', '')} px{stride}) | {npar:,} | "
                f"{path.stat().st_size / 1e6:.2f} |"
            )
        else:
            lines.append(f"| {k} | {v:,.0f} | | | | | | |")
    lines += [
        "",
        "`conserve`: the coarse residual added back (`upscale(..., conserve=True)`): the output's",
        "radiometric aggregate equals the MODIS input.",
        "",
        "## Notes",
        "",
        "- Training times were recorded on a 2-core machine shared with other jobs (1 torch thread):",
        "  they are upper bounds. Epoch sizes: the training patches column (from the checkpoints).",
        "  Inference speeds are from the same shared machine.",
        *measured_notes(deg, real),
        "- This table scores against ASTER where its geotransform says (the anchor protocol), ~1",
        "  fine px (~0.7 px in each of x and y) from where MODIS saw the ground: it favours `unet_displaced`, trained on that",
        "  displaced truth. `unet` (the default until round 7 of disr_selection.md) was trained on co-registered truth, and the default `fast` learned from it; compare the",
        "  models under the headline protocol (co-registered + clear) in docs/results/accuracy.md.",
        "- Spectral ratio: `evaluate` measures it after resampling the SR onto the ASTER grid, which",
        "  smooths it (a right amount of detail reads about 0.87 there; see `evaluate`'s docstring and",
        "  docs/results/accuracy.md); compare the symmetric estimate with 1.",
    ]
    args.out.mkdir(parents=True, exist_ok=True)
    (args.out / "models.md").write_text("\n".join(lines) + "\n")
    print("\n".join(lines))
    return 0


if __name__ == "__main__":
    from xlstsr.datasets.root import exit_on_missing_data
    from xlstsr.errors import XlstsrError

    try:  # missing data: one line naming the fix (its own --root among them)
        exit_on_missing_data(main, __file__, flags="--root DIR")
    except XlstsrError as err:  # a data folder it cannot use: the message
        raise SystemExit(f"{Path(__file__).name}: {err}") from None

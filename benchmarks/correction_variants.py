"""Variants of the scale correction's variance law, against real truth (exploration, not the default).

``python benchmarks/correction_variants.py [--methods tsharp,dms,sisr,disr,disr-degraded]``

The correction of :mod:`xlstsr.kernels.correction` rescales a method's detail so that its within-block
variance equals a predicted ``W`` (the variance a factor-4 step restores). ``scale_correction=
"auto"`` predicts ``W`` from the power law fitted over the observed steps (intercept and exponent,
the exponent below shifted by the guide's) and only damps. The variants here keep the gain rule
and change the prediction:

- ``anch+alpha``: anchored on the observed first step ``w_obs`` (the within-block variance of the
  coarse image's 2 x 2 blocks) instead of the fitted intercept, fitted exponent;
- ``anch+flat``: anchored, exponent 0 below the pixel (each octave restores ``w_obs``:
  ``W = 2 w_obs`` for a factor 4);
- ``anch+guide``: anchored, the guide-shifted exponent below;
- ``oracle W``: ``W`` read from the truth (an upper bound for any variance law);
- ``... damp``: the same with the gain capped at 1;
- ``bound per image``: for each image, the gain (0, 0.1, ..., 3) closest to a spectral ratio of 1
  among those that do not raise that image's RMSE (it reads the truth:
  ``best_feasible_gain`` of ``benchmarks/gain_bounds.py``);
- ``bound pooled``: the target's own constraint, on the mean RMSE over the images (gains chosen
  per image by minimising ``|ratio - 1| + lambda RMSE``, with the smallest ``lambda`` on a grid
  that keeps the mean RMSE). No predictor of one gain per image does better on both criteria at
  once (up to the grids of gains and ``lambda``): when this row misses the target, so does every
  detail-gain correction, whatever law predicts its gain.

Cases as in docs/results/scaling.md: one level up (4 km -> 1 km, truth = the real MODIS 1 km,
all 55 pairs) and the real case (1 km -> 250 m, truth = ASTER bilinear on the MODIS 250 m grid);
deep models on the 35 ``EVAL_PAIRS`` only. Writes ``correction_variants.md`` in ``--out``.
``--smoke``: the first held-out pair only, the bounds on 4 gains (seconds; a test, not a
measurement).
"""

from __future__ import annotations

import argparse
import time
import warnings
from pathlib import Path

import numpy as np
from gain_bounds import best_feasible_gain, gain_tradeoff, pooled_feasible_gains

import xlstsr
from xlstsr.datasets import EVAL_PAIRS
from xlstsr.datasets import modis_aster_pairs as pair_ids
from xlstsr.datasets import open_modis_aster_aligned as load_pair
from xlstsr.datasets.root import results_dir
from xlstsr.kernels.aggregate import block_mean, within_block_variance
from xlstsr.kernels.correction import VarianceLaw, correct_image, fit_variance_law
from xlstsr.kernels.spectra import spectral_ratio as k_spectral_ratio

ROOT = Path(__file__).resolve().parents[1]
F = 4


def variants(sr, coarse, guide, truth) -> dict[str, np.ndarray]:
    law = fit_variance_law(coarse, F, guide)
    w_obs = within_block_variance(coarse, 2)
    laws = {
        "anch+alpha": VarianceLaw(w_obs, law.alpha, law.alpha),
        "anch+flat": VarianceLaw(w_obs, 0.0, 0.0),
        "anch+guide": VarianceLaw(w_obs, law.alpha, law.alpha_below),
        "oracle W": VarianceLaw(within_block_variance(truth, F) / 2, 0.0, 0.0),
    }
    out = {"none": sr, "auto": correct_image(sr, coarse, F, guide, mode="auto")}
    for name, lw in laws.items():
        out[name] = correct_image(sr, coarse, F, guide, mode="law", law=lw)
        out[f"{name} damp"] = correct_image(sr, coarse, F, guide, mode="law", law=lw, max_gain=1.0)
    return out


#: a smoke run's grid of detail gains for the bounds (the published page: 0, 0.1, ..., 3)
SMOKE_GAINS = (0.0, 0.5, 1.0, 2.0)
#: the methods of the published page (``--methods`` default)
METHODS = ("tsharp", "dms", "sisr", "disr", "disr-degraded")


def main(argv: list[str] | None = None) -> int:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--methods", default=",".join(METHODS),
                    help="comma-separated methods: xlstsr's, or disr-degraded (disr, degraded weights)")
    ap.add_argument("--out", type=Path, default=None,
                    help="output folder (default: docs/results; ./heldback_results with --smoke)")
    ap.add_argument("--smoke", action="store_true",
                    help="the first held-out pair, the bounds on 4 gains (a test)")
    args = ap.parse_args(argv)
    # checked before any pair is read: an unknown name ended in a traceback after the first pair
    methods = [m.strip() for m in args.methods.split(",") if m.strip()]
    known = [*xlstsr.available_methods(), "disr-degraded"]
    unknown = [m for m in methods if m not in known]
    if unknown or not methods:
        ap.error(f"--methods {args.methods!r}: "
                 + (f"unknown {unknown}" if unknown else "no method named")
                 + f"; available: {', '.join(known)} (comma-separated)")
    from accuracy_modis_aster import refuse_held_back_data  # a sibling script

    # the shared split's pairs by id: another folder ($XLSTSR_DATA) is refused in one line
    refuse_held_back_data("correction_variants.py", "scores the trained models on EVAL_PAIRS")
    # a smoke run (a test of the code path) or a subset of the methods never replaces the
    # published page (every method) unless --out asks for it
    args.out = results_dir(args.out, ROOT / "docs" / "results", smoke=args.smoke,
                           partial=set(methods) != set(METHODS))
    t0 = time.perf_counter()
    res: dict[tuple[str, str, str], list] = {}
    curves: dict[tuple[str, str], list] = {}
    for pid in EVAL_PAIRS[:1] if args.smoke else pair_ids():
        p = load_pair(pid)
        lst = p["lst"]
        lst4 = xlstsr.coarsen(lst, F, min_valid=0.5)
        cases = {
            "4 km -> 1 km": (lst4, lst.copy(data=block_mean(p["ndvi"].values, F, min_valid=0.5))
                             .rename("ndvi_1km"), lst.values),
            "1 km -> 250 m": (lst, p["ndvi"], p["truth"].values),
        }
        for case, (coarse, guide, truth) in cases.items():
            truth = np.asarray(truth, np.float64)
            for m in methods:
                method, kw = (m, {}) if m != "disr-degraded" else ("disr", {"weights": "degraded"})
                if method in ("sisr", "disr") and pid not in EVAL_PAIRS:
                    continue  # the bundled models were trained on the other pairs
                with warnings.catch_warnings():
                    warnings.simplefilter("ignore")
                    sr = xlstsr.upscale(
                        coarse, F, method, guide=guide if method != "sisr" else None,
                        mask_out_of_range=True, **kw,
                    ).values.astype(np.float64)
                for k, v in variants(sr, coarse.values, guide.values, truth).items():
                    ok = np.isfinite(v) & np.isfinite(truth)
                    rmse = float(np.sqrt(np.mean((v[ok] - truth[ok]) ** 2)))
                    res.setdefault((case, m, k), []).append((rmse, k_spectral_ratio(v, truth, F)))
                t = gain_tradeoff(sr, coarse.values, F, truth, SMOKE_GAINS if args.smoke else None)
                curves.setdefault((case, m), []).append(t)
                res.setdefault((case, m, "bound per image"), []).append(best_feasible_gain(t)[1:])
    for (case, m), ts in curves.items():
        res[(case, m, "bound pooled")] = [p[1:] for p in pooled_feasible_gains(ts)]
    lines = [
        "# Scale correction: variants of the variance law (exploration)",
        "",
        f"Written by `python benchmarks/correction_variants.py{' --smoke' * args.smoke}"
        f"{'' if set(methods) == set(METHODS) else ' --methods ' + ','.join(methods)}` "
        f"({time.perf_counter() - t0:.0f} s). "
        "Protocol: the script's docstring. Means over pairs; `change`: against no correction "
        "(RMSE in K, mismatch in %). Target of issue 6: mismatch -50 % or better with no RMSE "
        "increase. Spectral ratio on the SR grid (`xlstsr.kernels.spectra.spectral_ratio`); in the "
        "1 km -> 250 m case ASTER is smoothed by its resampling onto that grid, so ratios read high "
        "there (see docs/results/scaling.md).",
        "",
        "Spectral ratio: `xlstsr.kernels.spectra.spectral_ratio` (Hann window, plane removed, "
        "gaps apodised), on the SR grid.",
        "",
        "| case | method | law | RMSE (K) | change | mean abs(ratio - 1) | change | meets target |",
        "|---|---|---|---|---|---|---|---|",
    ]
    for (case, m, k), v in res.items():
        a, b = np.array(v), np.array(res[(case, m, "none")])
        r, r0 = a[:, 0].mean(), b[:, 0].mean()
        d, d0 = np.abs(a[:, 1] - 1).mean(), np.abs(b[:, 1] - 1).mean()
        ok = "yes" if (k != "none" and d <= d0 / 2 and r <= r0) else ""
        lines.append(
            f"| {case} | {m} | {k} | {r:.3f} | {r - r0:+.3f} | {d:.3f} | {d / d0 - 1:+.0%} | {ok} |"
        )
    args.out.mkdir(parents=True, exist_ok=True)
    (args.out / "correction_variants.md").write_text("\n".join(lines) + "\n")
    print("\n".join(lines))
    return 0


if __name__ == "__main__":
    from xlstsr.datasets.root import exit_on_missing_data

    exit_on_missing_data(main, __file__)  # missing data: one line naming the fix

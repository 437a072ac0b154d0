"""Co-registration speed: the Fourier forward model with its row fold against the whole-field
inverse FFT it replaced, side by side on the real MODIS/ASTER pairs.

Every candidate shift of ``xlstsr.estimate_offset``'s Nelder-Mead refinement (and of its
uncertainty) predicts the coarse field: the fine field is shifted and blurred in the Fourier
domain, cropped, and block-averaged onto the coarse grid. The crop and the block mean along y
are a factor per row frequency and a fold of the spectrum onto the coarse rows, so the inverse
FFT along y runs on ``factor`` times fewer rows, and the one along x on the coarse rows only
(``_Forward.__call__``; the same values to round-off). The "before" side is the same estimator
with the fold switched off (``_Forward._row_fold = None``: the whole padded field's inverse FFT,
the code path kept for paddings the fold does not fit). Two uses: ASTER onto the MODIS LST with
the PSF estimated (``estimate_offset``'s default), and the pair's NDVI onto it with a box PSF
(what ``upscale`` measures of a guide before using it). A B B A per pair, so that load
drifting during the run weighs on both alike. Reported: wall and CPU seconds, their ratio, the
peak of numpy's allocations (tracemalloc) and the largest difference between the two sides'
estimates (metres; numerical noise).

Usage: ``python benchmarks/forward_fold.py [--out docs/results] [--smoke]`` (about 4 min on 2
cores: the 35 evaluation pairs; ``--smoke``: the central 32 x 32 km of one pair, each side
once, a test of the code path).
"""

from __future__ import annotations

import argparse
import contextlib
import os
import platform
import time
import tracemalloc
import warnings
from pathlib import Path
from typing import Any

import xlstsr
from xlstsr.datasets import EVAL_PAIRS, aster_truth_mask, open_modis_aster_pair
from xlstsr.datasets.root import results_dir
from xlstsr.kernels import coregister as kc

ROOT = Path(__file__).resolve().parents[1]
#: use -> estimate_offset's keywords
USES = {"ASTER onto MODIS, PSF estimated": {}, "NDVI onto MODIS, box PSF": {"psf": False}}


@contextlib.contextmanager
def unfolded() -> Any:
    """The forward model as it was: every candidate's inverse FFT on the whole padded field."""
    init = kc._Forward.__init__

    def whole_field(self: Any, *args: Any, **kwargs: Any) -> None:
        init(self, *args, **kwargs)
        self._row_fold = None

    kc._Forward.__init__ = whole_field
    try:
        yield
    finally:
        kc._Forward.__init__ = init


def run_once(fine: Any, lst: Any, options: dict[str, Any], before: bool) -> dict[str, float]:
    mine = not tracemalloc.is_tracing()  # a tracer started by someone else is left running
    if mine:
        tracemalloc.start()
    tracemalloc.reset_peak()
    try:
        t, c = time.perf_counter(), time.process_time()
        with unfolded() if before else contextlib.nullcontext(), warnings.catch_warnings():
            warnings.simplefilter("ignore")
            est = xlstsr.estimate_offset(fine, lst, errors="ignore", **options)
        return {"seconds": time.perf_counter() - t, "cpu_s": time.process_time() - c,
                "peak_mib": tracemalloc.get_traced_memory()[1] / 2**20,
                "shift_x": float(est.shift_x), "shift_y": float(est.shift_y)}
    finally:
        if mine:
            tracemalloc.stop()


def measure(pairs: list[str], smoke: bool) -> dict[str, dict[str, Any]]:
    rows: dict[str, list[dict[str, Any]]] = {use: [] for use in USES}
    for pid in pairs:
        lst, ndvi, aster = open_modis_aster_pair(pid)
        if smoke:  # the central 32 x 32 km of the pair: the code path, in seconds
            lst = lst.isel(y=slice(16, 48), x=slice(16, 48))
            bounds = lst.rio.bounds()
            aster = aster.rio.clip_box(*bounds, crs=lst.rio.crs)
            ndvi = ndvi.rio.clip_box(*bounds, crs=lst.rio.crs)
        aster = aster.where(aster_truth_mask(aster))
        lst.load(), ndvi.load(), aster.load()
        for use, options in USES.items():
            fine = aster if "ASTER" in use else ndvi
            a1 = run_once(fine, lst, options, before=False)
            b1 = run_once(fine, lst, options, before=True)
            if smoke:  # A B: each side once (nothing is measured)
                rows[use].append({"pair": pid, "new": [a1], "old": [b1]})
                continue
            b2 = run_once(fine, lst, options, before=True)
            a2 = run_once(fine, lst, options, before=False)
            rows[use].append({"pair": pid, "new": [a1, a2], "old": [b1, b2]})
            print(f"{use} {pid}: {a1['seconds'] + a2['seconds']:.2f} s vs "
                  f"{b1['seconds'] + b2['seconds']:.2f} s", flush=True)
    res: dict[str, dict[str, Any]] = {}
    for use, rs in rows.items():
        tot = {side: sum(run["seconds"] for r in rs for run in r[side]) for side in ("new", "old")}
        cpu = {side: sum(run["cpu_s"] for r in rs for run in r[side]) for side in ("new", "old")}
        diffs = [max(abs(r["new"][0][c] - r["old"][0][c]) for c in ("shift_x", "shift_y"))
                 for r in rs if r["new"][0]["shift_x"] == r["new"][0]["shift_x"]]
        res[use] = {
            "pairs": len(rs), "seconds": tot, "cpu_s": cpu,
            "ratio": tot["old"] / tot["new"], "cpu_ratio": cpu["old"] / cpu["new"],
            "peak_mib": {side: max(run["peak_mib"] for r in rs for run in r[side])
                         for side in ("new", "old")},
            "max_shift_difference_m": max(diffs) if diffs else float("nan"),
        }
    return res


def render(res: dict[str, dict[str, Any]], seconds: float, smoke: bool) -> str:
    lines = [
        "# Co-registration speed: the forward model's row fold vs the whole-field inverse FFT",
        "",
        f"Written by `python benchmarks/forward_fold.py{' --smoke' * smoke}` in "
        f"{seconds / 60:.1f} min on {platform.node()} ({platform.machine()}, "
        f"{os.cpu_count() or '?'} CPU cores); the protocol is the script's docstring. "
        "`xlstsr.estimate_offset(fine, lst)` on each shared evaluation pair (ASTER "
        "truth-masked), the fold on and off in turn (A B B A per pair); sums over the runs.",
        "",
        "| use | pairs | new: wall s (CPU) | old: wall s (CPU) | old / new wall (CPU) | "
        "peak of numpy allocations new / old, MiB | largest shift difference, m |",
        "|---|---|---|---|---|---|---|",
    ]
    for use, r in res.items():
        lines.append(
            f"| {use} | {r['pairs']} | {r['seconds']['new']:.1f} ({r['cpu_s']['new']:.1f}) | "
            f"{r['seconds']['old']:.1f} ({r['cpu_s']['old']:.1f}) | {r['ratio']:.2f} "
            f"({r['cpu_ratio']:.2f}) | {r['peak_mib']['new']:.0f} / {r['peak_mib']['old']:.0f} "
            f"| {r['max_shift_difference_m']:.2g} |")
    lines += ["", "The fold speeds up each evaluation of the Fourier model (the refinement, the "
              "uncertainty, the choice of the pixels compared); the grid search is separable "
              "matrix products (`benchmarks/coregistration.py`) and is unchanged."]
    return "\n".join(lines) + "\n"


def main(argv: list[str] | None = None) -> int:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--out", type=Path, default=None,
                    help="output folder (default: docs/results; ./heldback_results with --smoke)")
    ap.add_argument("--smoke", action="store_true",
                    help="the centre of one pair, each side once: a test of the code path")
    args = ap.parse_args(argv)
    from accuracy_modis_aster import refuse_held_back_data  # a sibling script

    # the shared split's pairs by id: another folder ($XLSTSR_DATA) is refused in one line
    refuse_held_back_data("forward_fold.py", "measures the offsets of EVAL_PAIRS")
    # a smoke run (a test of the code path) never replaces the published pages
    args.out = results_dir(args.out, ROOT / "docs" / "results", smoke=args.smoke)
    t0 = time.perf_counter()
    res = measure(list(EVAL_PAIRS[:1] if args.smoke else EVAL_PAIRS), args.smoke)
    args.out.mkdir(parents=True, exist_ok=True)
    (args.out / "forward_fold.md").write_text(render(res, time.perf_counter() - t0, args.smoke))
    return 0


if __name__ == "__main__":
    from xlstsr.datasets.root import exit_on_missing_data

    exit_on_missing_data(main, __file__)  # missing data: one line naming the fix

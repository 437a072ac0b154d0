"""Co-registration speed: the separable grid search of ``estimate_shift`` against the per-candidate
Fourier forward model it replaced, side by side on the real MODIS/ASTER pairs.

``xlstsr.estimate_offset`` searches a grid of shifts at the starting PSF width, then refines
``(dy, dx, sigma)`` by Nelder-Mead on the Fourier forward model. The grid now costs a few small
matrix products per row of candidates (``_Forward.surface``: shift, blur and block mean are
separable); before, each candidate cost two inverse FFTs of the padded field. This script runs
both on every shared evaluation pair in turn (A B B A per pair, so that load drifting during
the run weighs on both alike): the "before" side is the same estimator with
``_Forward.surface`` replaced by the loop over ``_Forward.__call__`` + ``_fit`` (the code
removed, kept here as the reference). Two settings: the default grid (``search_step=None``:
17 x 17 candidates) and the finest the estimator allows (``search_step`` = 1 m: capped at 65 x
65). Reported: wall and CPU seconds of ``estimate_offset`` (ASTER onto the MODIS LST, PSF
estimated), their ratio, the peak of numpy's allocations (tracemalloc) and the largest
difference between the two sides' estimates (metres; they should agree to numerical noise).

Usage: ``python benchmarks/coregistration.py [--out docs/results] [--smoke]`` (about 12 min on
2 cores: the default grid on the 35 evaluation pairs, the finest on the first 8; ``--smoke``: the
central 32 x 32 km of one pair, the default grid, each side once, a test of the code path).
"""

from __future__ import annotations

import argparse
import contextlib
import os
import platform
import time
import tracemalloc
import warnings
from collections.abc import Callable
from pathlib import Path
from typing import Any

import numpy as np

import xlstsr
from xlstsr.datasets import EVAL_PAIRS, aster_truth_mask, open_modis_aster_pair
from xlstsr.datasets.root import results_dir
from xlstsr.kernels import coregister as kc

ROOT = Path(__file__).resolve().parents[1]
#: grid -> (search_step in metres, None: the default; pairs of the full run, None: all)
SETTINGS = {"default grid (17 x 17)": (None, None), "finest grid (65 x 65)": (1.0, 8)}


def _loop_surface(self: Any, dys: np.ndarray, dxs: np.ndarray, sigma: float,
                  target: np.ndarray, min_weight: float) -> np.ndarray:
    """The grid search as it was: one Fourier forward model (two inverse FFTs) per candidate."""
    out = np.empty((len(dys), len(dxs)))
    for i, dy in enumerate(dys):
        for j, dx in enumerate(dxs):
            pred, w = self(dy, dx, sigma)
            out[i, j] = kc._fit(np.where(w >= min_weight, pred, np.nan), target)[0]
    return out


@contextlib.contextmanager
def before() -> Any:
    separable = kc._Forward.surface
    kc._Forward.surface = _loop_surface
    try:
        yield
    finally:
        kc._Forward.surface = separable


def run_once(fine: Any, lst: Any, old: Callable[[], Any] | None = None,
             **options: Any) -> dict[str, float]:
    """One ``estimate_offset(fine, lst, **options)``: wall and CPU seconds, the peak of numpy's
    allocations and the shift; inside ``old()`` (the code replaced, patched in) when given."""
    mine = not tracemalloc.is_tracing()  # a tracer started by someone else is left running
    if mine:
        tracemalloc.start()
    tracemalloc.reset_peak()
    try:
        t, c = time.perf_counter(), time.process_time()
        with old() if old else contextlib.nullcontext(), warnings.catch_warnings():
            warnings.simplefilter("ignore")
            est = xlstsr.estimate_offset(fine, lst, errors="ignore", **options)
        return {"seconds": time.perf_counter() - t, "cpu_s": time.process_time() - c,
                "peak_mib": tracemalloc.get_traced_memory()[1] / 2**20,
                "shift_x": float(est.shift_x), "shift_y": float(est.shift_y)}
    finally:
        if mine:
            tracemalloc.stop()


def side_by_side(label: str, fine: Any, lst: Any, old: Callable[[], Any], smoke: bool,
                 **options: Any) -> dict[str, list[dict[str, float]]]:
    """One pair's runs, new and ``old`` in turn: A B B A (load drifting during the run weighs
    on both alike); A B in a smoke run (nothing is measured)."""
    a1 = run_once(fine, lst, **options)
    b1 = run_once(fine, lst, old, **options)
    if smoke:
        return {"new": [a1], "old": [b1]}
    b2 = run_once(fine, lst, old, **options)
    a2 = run_once(fine, lst, **options)
    print(f"{label}: {a1['seconds'] + a2['seconds']:.2f} s vs "
          f"{b1['seconds'] + b2['seconds']:.2f} s", flush=True)
    return {"new": [a1, a2], "old": [b1, b2]}


def summarise(rows: list[dict[str, Any]]) -> dict[str, Any]:
    """Sums over the pairs' runs of each side, their ratios, the peak and the largest
    difference of the two sides' first estimates (metres)."""
    tot = {side: sum(run["seconds"] for r in rows for run in r[side]) for side in ("new", "old")}
    cpu = {side: sum(run["cpu_s"] for r in rows for run in r[side]) for side in ("new", "old")}
    diffs = [max(abs(r["new"][0][c] - r["old"][0][c]) for c in ("shift_x", "shift_y"))
             for r in rows if np.isfinite(r["new"][0]["shift_x"])]
    return {
        "pairs": len(rows), "seconds": tot, "cpu_s": cpu,
        "ratio": tot["old"] / tot["new"], "cpu_ratio": cpu["old"] / cpu["new"],
        "peak_mib": {side: max(run["peak_mib"] for r in rows for run in r[side])
                     for side in ("new", "old")},
        "max_shift_difference_m": max(diffs) if diffs else float("nan"),
        "estimated": len(diffs),
    }


def table_row(label: str, r: dict[str, Any]) -> str:
    """A table row of :func:`summarise`'s figures."""
    return (f"| {label} | {r['pairs']} | {r['seconds']['new']:.1f} ({r['cpu_s']['new']:.1f}) | "
            f"{r['seconds']['old']:.1f} ({r['cpu_s']['old']:.1f}) | {r['ratio']:.2f} "
            f"({r['cpu_ratio']:.2f}) | {r['peak_mib']['new']:.0f} / {r['peak_mib']['old']:.0f} "
            f"| {r['max_shift_difference_m']:.2g} |")


def measure(pairs: list[str], smoke: bool) -> dict[str, dict[str, Any]]:
    res: dict[str, dict[str, Any]] = {}
    for name, (step, n_pairs) in list(SETTINGS.items())[: 1 if smoke else None]:
        rows = []
        for pid in pairs[:n_pairs]:
            lst, _, aster = open_modis_aster_pair(pid)
            if smoke:  # the central 32 x 32 km of the pair: the code path, in seconds
                lst = lst.isel(y=slice(16, 48), x=slice(16, 48))
                aster = aster.rio.clip_box(*lst.rio.bounds(), crs=lst.rio.crs)
            # the mask of the published figures (aster_truth_mask's default became clear=True)
            aster = aster.where(aster_truth_mask(aster, clear=False))
            lst.load(), aster.load()
            rows.append({"pair": pid, **side_by_side(f"{name} {pid}", aster, lst, before, smoke,
                                                     search_step=step)})
        res[name] = summarise(rows)
    return res


def page(title: str, script: str, smoke: bool, seconds: float, protocol: str, column: str,
         res: dict[str, dict[str, Any]], closing: str) -> str:
    """A speed page: ``title``, how it was written, ``protocol``, the table of ``res`` (rows
    named in ``column``), ``closing``."""
    lines = [
        f"# {title}",
        "",
        f"Written by `python benchmarks/{script}{' --smoke' * smoke}` in "
        f"{seconds / 60:.1f} min on {platform.node()} ({platform.machine()}, "
        f"{os.cpu_count() or '?'} CPU cores); the protocol is the script's docstring. "
        f"{protocol}",
        "",
        f"| {column} | pairs | new: wall s (CPU) | old: wall s (CPU) | old / new wall (CPU) | "
        "peak of numpy allocations new / old, MiB | largest shift difference, m |",
        "|---|---|---|---|---|---|---|",
        *[table_row(name, r) for name, r in res.items()],
        "",
        closing,
    ]
    return "\n".join(lines) + "\n"


def render(res: dict[str, dict[str, Any]], seconds: float, smoke: bool) -> str:
    return page(
        "Co-registration speed: separable grid search vs the per-candidate FFT",
        "coregistration.py", smoke, seconds,
        "`xlstsr.estimate_offset(aster, lst)` (PSF estimated, ASTER truth-masked) on each shared "
        "evaluation pair, the new and the old grid search in turn (A B B A per pair); sums over "
        "the runs.", "grid", res,
        "The grid search is one part of each estimate: the Nelder-Mead refinement (which moves "
        "the PSF width too) and the uncertainty still evaluate the Fourier model candidate by "
        "candidate, so the whole estimate gains less than the grid.")


def run(argv: list[str] | None, script: str, description: str, smoke_help: str,
        measure: Callable[[list[str], bool], dict[str, dict[str, Any]]],
        render: Callable[[dict[str, dict[str, Any]], float, bool], str]) -> int:
    """A speed script's command line: ``measure`` on the evaluation pairs (the first in a
    smoke run), the page ``render`` writes in ``--out`` (``script``'s name, ``.md``)."""
    name = script.removesuffix(".py")
    ap = argparse.ArgumentParser(description=description)
    ap.add_argument("--out", type=Path, default=None,
                    help="output folder (default: docs/results; ./heldback_results with --smoke)")
    ap.add_argument("--smoke", action="store_true", help=smoke_help)
    args = ap.parse_args(argv)
    from accuracy_modis_aster import refuse_held_back_data  # a sibling script

    # the shared split's pairs by id: another folder ($XLSTSR_DATA) is refused in one line
    refuse_held_back_data(script, "measures the offsets of EVAL_PAIRS")
    # a smoke run (a test of the code path) never replaces the published pages
    args.out = results_dir(args.out, ROOT / "docs" / "results", smoke=args.smoke)
    t0 = time.perf_counter()
    res = measure(list(EVAL_PAIRS[:1] if args.smoke else EVAL_PAIRS), args.smoke)
    args.out.mkdir(parents=True, exist_ok=True)
    (args.out / f"{name}.md").write_text(render(res, time.perf_counter() - t0, args.smoke))
    return 0


def main(argv: list[str] | None = None) -> int:
    return run(argv, "coregistration.py", __doc__.splitlines()[0], "the centre of one pair, "
               "the default grid, each side once: a test of the code path", measure, render)


if __name__ == "__main__":
    from xlstsr.datasets.root import exit_on_missing_data

    exit_on_missing_data(main, __file__)  # missing data: one line naming the fix

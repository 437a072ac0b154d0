"""Test-time adaptation and the opt-in MODIS -> ASTER calibration, measured on the real pairs.

1. *Selection* (``VAL_PAIRS`` only): the deep methods ``sisr`` and ``disr`` with
   ``upscale(..., adapt={...})`` over a small grid of steps, learning rates and (guided) loss
   weights; the setting with the lowest mean bias-removed RMSE (co-registered + clear protocol
   of ``benchmarks/accuracy_modis_aster.py``) is kept per method.
2. *Report* (``EVAL_PAIRS``, never used for a choice): without and with the chosen adaptation:
   RMSE, bias, bias-removed RMSE, spectral ratio, coarse consistency, seconds per scene (one
   torch thread, wall time of ``upscale(...).load()``, the adapted copy included).
3. *Calibration*: ``xlstsr.calibration.fit_calibration`` of each method's output on
   ``TRAIN_PAIRS`` against co-registered ASTER (at 250 m, and aggregated to 1 km); both products
   (input sensor, calibrated to ASTER) scored on ``EVAL_PAIRS``.

Writes ``adaptation.md`` in ``--out`` (default ``docs/results``), with the numbers as JSON.
Only the published protocol (every method, the selection, not ``--smoke``) writes there by
default; ``--methods`` (a subset) or ``--adapt`` (no selection) runs write ``./heldback_results``
unless ``--out`` says so. The page's sections below the ``HAND`` line are kept when it is
rewritten; a page holding more than one run and no such line is refused up front (it would be
lost), naming the line to add or ``--out``.

Usage::

    nice -n 10 python benchmarks/adaptation.py            # ~15-25 min on one core
    python benchmarks/adaptation.py --smoke --out /tmp/x  # seconds: 1 pair centre each, 1 setting
"""

from __future__ import annotations

import argparse
import datetime as _dt
import json
import platform
import sys
import time
import warnings
from collections.abc import Sequence
from pathlib import Path
from typing import Any

import numpy as np
import torch
import xarray as xr
from rasterio.enums import Resampling

import xlstsr
from xlstsr.calibration import apply_calibration, fit_calibration
from xlstsr.coregister import apply_offset
from xlstsr.datasets import (
    EVAL_PAIRS,
    TRAIN_PAIRS,
    VAL_PAIRS,
    aster_truth_mask,
    open_modis_aster_pair,
)
from xlstsr.datasets.root import results_dir
from xlstsr.errors import GuideAlignmentWarning, XlstsrError
from xlstsr.methods import get_method
from xlstsr.upscale import adapted

HERE = Path(__file__).resolve().parent
ROOT = HERE.parent
FACTOR = 4
METHODS = ("sisr", "disr")
#: adaptation.md keeps what follows this line when the script rewrites the page
HAND = "<!-- Below: written by hand from other runs (kept when the script rewrites the page) -->"
#: the selection grid on VAL_PAIRS: method -> list of adapt settings
_COMMON = ([{"steps": s, "lr": lr} for s in (5, 10, 20) for lr in (1e-5, 3e-5, 1e-4, 3e-4)]
           + [{"steps": 10, "lr": 1e-4, "psf": None}, {"steps": 10, "lr": 3e-4, "anchor": 1.0}])
GRID: dict[str, list[dict[str, Any]]] = {
    "sisr": _COMMON,
    "disr": _COMMON + [{"steps": 10, "lr": lr, "alpha": 0.5} for lr in (3e-5, 1e-4)],
}
SMOKE_GRID = {m: [{"steps": 1, "lr": 1e-4}] for m in METHODS}
#: a smoke run's pairs: their central 40 x 40 km (MODIS 1 km pixels)
SMOKE_CENTRE = 40
KEYS = ("rmse", "bias", "ubrmse", "spectral_ratio", "coarse_consistency")


def accuracy() -> Any:
    """``benchmarks/accuracy_modis_aster.py``: the headline protocol's functions."""
    if str(HERE) not in sys.path:
        sys.path.insert(0, str(HERE))
    import accuracy_modis_aster

    return accuracy_modis_aster


class Pair:
    """One MODIS/ASTER pair with ASTER's offset (estimated once, as the accuracy benchmark)."""

    def __init__(self, pid: str, centre: int | None = None) -> None:
        self.pid = pid
        self.lst, self.ndvi, self.aster = open_modis_aster_pair(pid)
        if centre is not None:  # a smoke run: the central centre x centre km of the pair
            c = (self.lst.sizes["y"] - centre) // 2, (self.lst.sizes["x"] - centre) // 2
            self.lst = self.lst.isel(y=slice(c[0], c[0] + centre), x=slice(c[1], c[1] + centre))
            self.ndvi = self.ndvi.isel(y=slice(FACTOR * c[0], FACTOR * (c[0] + centre)),
                                       x=slice(FACTOR * c[1], FACTOR * (c[1] + centre)))
            self.aster = self.aster.rio.clip_box(*self.lst.rio.bounds(), crs=self.lst.rio.crs)
        est, row = accuracy().pair_offset(self.lst, self.aster)
        self.offset = est if row["reliable"] else None

    def truth_on(self, sr: xr.DataArray) -> xr.DataArray:
        """ASTER (truth mask), co-registered, bilinearly on the SR grid (for fitting)."""
        a = self.aster.where(aster_truth_mask(self.aster, clear=False))
        if self.offset is not None:
            a = apply_offset(a, self.offset, self.lst.rio.crs)
        return a.rio.reproject_match(sr, resampling=Resampling.bilinear, nodata=np.nan)


def run(method: str, pair: Pair, adapt: dict[str, Any] | None) -> tuple[xr.DataArray, float]:
    """Upscale one pair; returns the in-memory result and the wall time (s)."""
    guide = pair.ndvi if get_method(method).needs_guide else None
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", GuideAlignmentWarning)
        t0, c0 = time.perf_counter(), time.process_time()
        sr = xlstsr.upscale(pair.lst, FACTOR, method=method, guide=guide, mask_out_of_range=True,
                            guide_offset="ignore", adapt=adapt).load()
        # CPU time of the (single-threaded) process: the wall time swings with other jobs
        return sr, (time.perf_counter() - t0, time.process_time() - c0)


def score(sr: xr.DataArray, pair: Pair) -> dict[str, float] | None:
    """The headline protocol (co-registered + clear); None without a reliable offset."""
    if pair.offset is None:
        return None
    s = accuracy().score(sr, pair.lst, pair.aster, coregister=pair.offset, clear=True)
    return {k: s[k] for k in KEYS}


def mean_scores(rows: list[dict[str, float]]) -> dict[str, float]:
    return {k: float(np.mean([r[k] for r in rows])) for k in (*KEYS, "seconds", "cpu_seconds")}


def evaluate_setting(method: str, pairs: list[Pair], adapt: dict[str, Any] | None
                     ) -> tuple[dict[str, float], list[dict[str, Any]]]:
    rows = []
    for p in pairs:
        sr, (sec, cpu) = run(method, p, adapt)
        s = score(sr, p)
        if s is not None:
            rows.append({"pair": p.pid, **s, "seconds": sec, "cpu_seconds": cpu})
    return mean_scores(rows), rows


def label(adapt: dict[str, Any] | None) -> str:
    if not adapt:
        return "off"
    return ", ".join(f"{k}={v:g}" if isinstance(v, float) else f"{k}={v}" for k, v in adapt.items())


def table(rows: list[tuple[str, str, dict[str, float]]], n: int) -> list[str]:
    out = ["| method | adaptation | pairs | RMSE (K) | bias (K) | bias-removed RMSE (K) | "
           "spectral ratio | coarse consistency (K) | CPU s / scene | wall s / scene |",
           "|---|---|---:|---:|---:|---:|---:|---:|---:|---:|"]
    for m, lab, s in rows:
        out.append(f"| {m} | {lab} | {n} | {s['rmse']:.3f} | {s['bias']:+.3f} | {s['ubrmse']:.3f} | "
                   f"{s['spectral_ratio']:.3f} | {s['coarse_consistency']:.3f} | {s['cpu_seconds']:.3f} | "
                   f"{s['seconds']:.3f} |")
    return out


def kept_sections(md: Path) -> str:
    """What a rewrite of ``md`` keeps: its text from the ``HAND`` line on ('' for a page that
    is one run of this script, or none).

    Raises SystemExit, naming the fix, for a page of several runs (more than one "Written by")
    without that line: the rewrite would drop the other runs and the hand-written sections.
    """
    old = md.read_text() if md.is_file() else ""
    if HAND in old:
        return old[old.index(HAND):].rstrip("\n")
    if old.count("Written by `") > 1:
        raise SystemExit(
            f"adaptation.py: {md} holds {old.count('Written by `')} runs and hand-written "
            f"sections, which this run would replace: add the line\n{HAND}\nabove what to keep "
            "(the script rewrites what is above it), or pass --out DIR to write elsewhere")
    return ""


def main(argv: Sequence[str] | None = None) -> int:
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument("--out", type=Path, default=None,
                    help="output folder (default: docs/results; ./heldback_results with --smoke, "
                    "--methods or --adapt)")
    ap.add_argument("--methods", default=",".join(METHODS),
                    help=f"comma-separated deep methods, of {', '.join(METHODS)}")
    ap.add_argument("--adapt", default=None, metavar="JSON",
                    help='skip the selection: report this setting, e.g. \'{"steps": 10, "lr": 1e-4}\'')
    ap.add_argument("--smoke", action="store_true",
                    help="1 pair per split, one 1-step setting: the code path in seconds")
    args = ap.parse_args(argv)
    # checked before any work: a typo in the second name ran the first method's whole protocol
    # (minutes), then ended in a traceback with no page; bad JSON was a JSONDecodeError traceback
    methods = [m.strip() for m in args.methods.split(",") if m.strip()]
    adaptable = [m for m in METHODS if m in xlstsr.available_methods()]
    unknown = [m for m in methods if m not in adaptable]
    if unknown or not methods:
        ap.error(f"--methods {args.methods!r}: "
                 + (f"unknown or not adaptable {unknown}" if unknown else "no method named")
                 + f"; available: {', '.join(adaptable)} (the deep methods, comma-separated)")
    forced = None
    if args.adapt is not None:
        try:
            forced = json.loads(args.adapt)
        except json.JSONDecodeError as err:
            ap.error(f"--adapt {args.adapt!r} is not JSON ({err}); give an object, e.g. "
                     '\'{"steps": 10, "lr": 1e-4}\'')
        if not isinstance(forced, dict) or not forced:
            ap.error(f"--adapt {args.adapt!r}: give a non-empty JSON object of adapt= settings, "
                     'e.g. \'{"steps": 10, "lr": 1e-4}\'')
        for m in methods:  # settings the model does not take: refused now, not mid-run
            try:
                adapted(get_method(m), forced)
            except XlstsrError as err:
                ap.error(f"--adapt {args.adapt!r} for {m}: {err}")
    # the shared split's pairs by id: another folder ($XLSTSR_DATA) is refused in one line
    accuracy().refuse_held_back_data("adaptation.py", "selects on VAL_PAIRS, fits on "
                                     "TRAIN_PAIRS and scores EVAL_PAIRS")
    # a smoke run (a test of the code path), a subset of the methods or a forced setting (no
    # selection: the page's second run) never replaces the published page unless --out asks
    args.out = results_dir(args.out, ROOT / "docs" / "results", smoke=args.smoke,
                           partial=set(methods) != set(METHODS) or args.adapt is not None)
    old = kept_sections(args.out / "adaptation.md")  # refused here, not after the run
    torch.set_num_threads(1)
    t_start = time.time()
    grid = SMOKE_GRID if args.smoke else GRID
    if forced is not None:
        grid = {m: [forced] for m in methods}
    # smoke: one pair in every role (the code path only; nothing is measured)
    val_ids = VAL_PAIRS[:1] if args.smoke else VAL_PAIRS
    eval_ids = VAL_PAIRS[:1] if args.smoke else EVAL_PAIRS
    fit_ids = VAL_PAIRS[:1] if args.smoke else TRAIN_PAIRS
    cache: dict[str, Pair] = {}

    def pairs(ids: Sequence[str]) -> list[Pair]:
        for i in ids:
            if i not in cache:
                cache[i] = Pair(i, SMOKE_CENTRE if args.smoke else None)
        return [cache[i] for i in ids]

    results: dict[str, Any] = {"selection": {}, "eval": {}, "calibration": {}}
    sel_rows: list[tuple[str, str, dict[str, float]]] = []
    eval_rows: list[tuple[str, str, dict[str, float]]] = []
    chosen: dict[str, dict[str, Any] | None] = {}
    for m in methods:
        # warm-up outside the timings: weights loaded and cached, autograd's first call
        for adapt in (None, {"steps": 1}) if not args.smoke else ():  # smoke: nothing timed
            run(m, pairs(val_ids)[0], adapt)
        # 1. selection on VAL_PAIRS
        base, _ = evaluate_setting(m, pairs(val_ids), None)
        sel_rows.append((m, "off", base))
        print(f"[select] {m} off: ubRMSE {base['ubrmse']:.3f} RMSE {base['rmse']:.3f}", flush=True)
        best, best_s = None, base
        results["selection"][m] = [{"adapt": None, **base}]
        for adapt in grid[m]:
            s, _ = evaluate_setting(m, pairs(val_ids), adapt)
            sel_rows.append((m, label(adapt), s))
            results["selection"][m].append({"adapt": adapt, **s})
            if s["ubrmse"] < best_s["ubrmse"] - 1e-4:
                best, best_s = adapt, s
            print(f"[select] {m} {label(adapt)}: ubRMSE {s['ubrmse']:.3f} RMSE {s['rmse']:.3f} "
                  f"{s['seconds']:.2f} s", flush=True)
        chosen[m] = forced if forced is not None else (best if best is not None else grid[m][0])
        beats = best is not None
        if forced is not None:
            best = forced
        # 2. report on EVAL_PAIRS: off vs the chosen setting
        off, off_rows = evaluate_setting(m, pairs(eval_ids), None)
        on, on_rows = evaluate_setting(m, pairs(eval_ids), chosen[m])
        eval_rows += [(m, "off", off), (m, label(chosen[m]), on)]
        results["eval"][m] = {"adapt": chosen[m], "selected_beats_off_on_val": beats,
                              "off": off, "on": on, "pairs_off": off_rows, "pairs_on": on_rows}
        print(f"[eval] {m}: off {off} | on {on}", flush=True)
        # 3. calibration fitted on TRAIN_PAIRS, both products on EVAL_PAIRS
        cal_rows: dict[str, Any] = {}
        variants = [("250 m", None, None), ("1 km", FACTOR, None)]
        if best is not None:  # the adapted product, calibrated by a map fitted on adapted output
            variants.append(("1 km, adapted", FACTOR, chosen[m]))
        fitted: dict[Any, tuple[list, list]] = {}
        for name, agg, adapt in variants:
            key = label(adapt)
            if key not in fitted:
                srs, truths = [], []
                for p in pairs(fit_ids):
                    sr, _ = run(m, p, adapt)
                    srs.append(sr)
                    truths.append(p.truth_on(sr))
                fitted[key] = (srs, truths)
            srs, truths = fitted[key]
            cal = fit_calibration(srs, truths, aggregate=agg, target="ASTER",
                                  fitted_on=f"{m} output ({'adaptation ' + key if adapt else 'no adaptation'}) "
                                  f"on TRAIN_PAIRS vs co-registered ASTER, fitted at {name.split(',')[0]}")
            prod = []
            for p in pairs(eval_ids):
                sr, _ = run(m, p, adapt)
                s = score(apply_calibration(sr, cal), p)
                if s is not None:
                    prod.append(s)
            cal_rows[name] = {"calibration": cal.to_dict(),
                              "eval": {k: float(np.mean([r[k] for r in prod])) for k in KEYS}}
        results["calibration"][m] = {"input sensor": off, **cal_rows}
        if best is not None:
            results["calibration"][m]["input sensor, adapted"] = on

    n_val = sum(p.offset is not None for p in pairs(val_ids))
    n_eval = sum(p.offset is not None for p in pairs(eval_ids))
    cmd = ("python benchmarks/adaptation.py" + (" --smoke" if args.smoke else "")
           + ("" if set(methods) == set(METHODS) else f" --methods {','.join(methods)}")
           + (f" --adapt '{args.adapt}'" if args.adapt else ""))
    lines = [
        "# Test-time adaptation and the MODIS -> ASTER calibration",
        "",
        f"Written by `{cmd}` ({_dt.datetime.now(_dt.timezone.utc):%Y-%m-%d %H:%M} UTC, "
        f"{time.time() - t_start:.0f} s, {platform.processor() or platform.machine()}, one torch "
        f"thread{', SMOKE RUN: numbers mean nothing' if args.smoke else ''}). Weights: "
        + ", ".join(f"`{m}` {get_method(m).describe().get('checkpoint')} (sha256 "
                    f"{get_method(m).weights_hash[:12]})" for m in methods) + ".",
        "",
        "Protocol: MODIS 1 km -> 250 m against ASTER, co-registered + clear "
        "(`benchmarks/accuracy_modis_aster.py`), means over the pairs with a reliable offset. "
        "Bias-removed RMSE is the standard deviation of SR - ASTER; coarse consistency is the RMSE "
        "of the box radiometric aggregate of SR against the MODIS input. Seconds: CPU time (and "
        "wall time, which swings with other jobs on the machine) of "
        "`xlstsr.upscale(...).load()` on one 64 x 64 scene, one torch thread, after a warm-up.",
        "",
        f"## Selection on VAL_PAIRS ({n_val} pairs)",
        "",
        *table(sel_rows, n_val),
        "",
        f"## Report on EVAL_PAIRS ({n_eval} pairs): without and with the selected adaptation",
        "",
        *table(eval_rows, n_eval),
        "",
        f"## MODIS -> ASTER calibration (fitted on TRAIN_PAIRS, scored on EVAL_PAIRS, {n_eval} pairs)",
        "",
        "| method | product | slope | offset (K) | RMSE (K) | bias (K) | bias-removed RMSE (K) |",
        "|---|---|---:|---:|---:|---:|---:|",
    ]
    for m, c in results["calibration"].items():
        for prod in ("input sensor", "input sensor, adapted"):
            if prod in c:
                s = c[prod]
                lines.append(f"| {m} | {prod}{' (default)' * (prod == 'input sensor')} | | | "
                             f"{s['rmse']:.3f} | {s['bias']:+.3f} | {s['ubrmse']:.3f} |")
        for name in ("250 m", "1 km", "1 km, adapted"):
            if name not in c:
                continue
            cal, e = c[name]["calibration"], c[name]["eval"]
            lines.append(f"| {m} | calibrated to ASTER (fitted at {name}) | {cal['slope']:.4f} | "
                         f"{cal['offset']:+.2f} | {e['rmse']:.3f} | {e['bias']:+.3f} | "
                         f"{e['ubrmse']:.3f} |")
    lines += ["", "## Numbers", "", "```json", json.dumps(
        {k: v for k, v in results.items()}, indent=1, default=float), "```", ""]
    out = Path(args.out)
    out.mkdir(parents=True, exist_ok=True)
    (out / "adaptation.md").write_text("\n".join(lines) + (f"\n{old}\n" if old else ""))
    print(f"wrote {out / 'adaptation.md'}")
    return 0


if __name__ == "__main__":
    from xlstsr.datasets.root import exit_on_missing_data

    exit_on_missing_data(main, __file__)  # missing data: one line naming the fix

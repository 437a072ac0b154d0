"""Run every benchmark script of this folder in turn, full versions (``make bench``).

Each script also has a ``--smoke`` run on a tiny input, which ``tests/test_benchmarks.py`` runs.
"""

from __future__ import annotations

import argparse
import os
import subprocess
import sys
import time
from pathlib import Path

HERE = Path(__file__).resolve().parent
sys.path.insert(0, str(HERE.parent))

from xlstsr.datasets.root import data_root, is_project_data  # noqa: E402

SCRIPTS = [
    "engine.py",
    "zarr_compression.py",
    "bench_models.py",
    "accuracy_modis_aster.py",
    "scaling_report.py",
    "one_level_up.py",
    "target_scale_sisr.py",
    "correction_variants.py",
    "spectral_gaps.py",
    "scale_invariance.py",
    "sisr_cube.py",
    "disr_degraded_cube.py",
    "adaptation.py",
    "disr_ground.py",
    "coregistration.py",
    "forward_fold.py",
    "conserve_forms.py",
]
#: not run by ``make bench``, run by hand (the README names them, beside ``make bench``)
MANUAL = ["select_disr.py",  # retrains six DISR candidates (hours)
          # nine networks up to 9.5 M parameters: minutes on a GPU, hours on 2 cores
          "sisr_ceiling.py"]
#: arguments of the runs the committed results were written by (the rest: each script's defaults)
ARGS = {"bench_models.py": ["--threads", "1"],
        # the page was measured with the Los Angeles bounds (the default then); today's default,
        # ``land``, keeps a few more pixels of 3 scenes: a rerun must name the page's bounds
        "scale_invariance.py": ["--bounds", "la"]}
#: environment of those runs: the engine's ratios are for one torch thread per process
ENV = {"engine.py": {"OMP_NUM_THREADS": "1"}}
#: of :data:`ARGS`, those that describe the project's own data (the Los Angeles summer bounds):
#: on another data folder ($XLSTSR_DATA) the script's own default reads it (``land``: any place
#: and season; the LA bounds cut a colder place's clear land pixels, or drop whole scenes)
PROJECT_DATA_ARGS = {"scale_invariance.py": ["--bounds", "la"]}


def script_args(name: str) -> list[str]:
    """The arguments ``make bench`` gives ``name``: :data:`ARGS`, less those of
    :data:`PROJECT_DATA_ARGS` when the data folder is not the project's own."""
    args = list(ARGS.get(name, []))
    if name in PROJECT_DATA_ARGS:
        try:
            own = is_project_data(data_root())
        except FileNotFoundError:  # no data folder: the script itself says so, in one line
            own = False
        drop = PROJECT_DATA_ARGS[name]
        at = next((i for i in range(len(args)) if args[i:i + len(drop)] == drop), None)
        if not own and at is not None:
            del args[at:at + len(drop)]
    return args


def main(argv: list[str] | None = None) -> int:
    ap = argparse.ArgumentParser(
        description="Run every benchmark of benchmarks/ in turn, full versions (hours on 2 "
        "cores); each rewrites its page under docs/results/ (./heldback_results for data "
        "other than the project's). " + __doc__.splitlines()[-1].replace("``", ""))
    ap.add_argument("--only", nargs="+", metavar="SCRIPT", choices=SCRIPTS + MANUAL,
                    help="run these scripts only (default: all but " + ", ".join(MANUAL) + ")")
    ap.add_argument("--list", action="store_true", help="list the scripts and exit")
    args = ap.parse_args(argv)
    names = args.only or SCRIPTS
    if args.list:
        print("\n".join(f"{n}{' (manual)' if n in MANUAL else ''}" for n in SCRIPTS + MANUAL))
        return 0
    failed = []
    for name in names:
        path = HERE / name
        if not path.exists():
            continue
        t0 = time.perf_counter()
        extra = script_args(name)
        print(f"== {name} {' '.join(extra)}", flush=True)
        rc = subprocess.call([sys.executable, str(path), *extra], cwd=HERE.parent,
                             env={**os.environ, **ENV.get(name, {})})
        print(f"== {name}: exit {rc} in {time.perf_counter() - t0:.0f} s", flush=True)
        if rc:
            failed.append(name)
    if failed:
        print("failed:", ", ".join(failed))
    return 1 if failed else 0


if __name__ == "__main__":
    raise SystemExit(main())

"""Real-scale benchmark of the streaming engine (issue 16); writes docs/results/engine.md.

Everything a user runs at the scale of MODIS tiles, measured in one run on this machine, with the
limit each figure is judged against measured in the same run:

1. overhead: ``upscale_to_zarr`` Zarr -> Zarr on 1200 x 1200 days at x4 vs the best hand-tiled
   raw forward of the same model on preloaded tensors (tiles with a receptive-field halo,
   channels-last, gaps filled beforehand, 2 processes x 1 torch thread: the machine's ceiling),
   for ``bicubic``, ``sisr`` and ``disr`` (static 250 m NDVI guide); timed raw / engine / raw
   (half the days each raw run) so that both see the same drift of the shared machine's load;
2. memory: peak RSS (VmHWM of a fresh process) of the real-size runs, and of ``disr`` on 4, 16
   and 64 smaller days (flatness in the number of time steps);
3. a year of daily 1200 x 1200 tiles at x4 projected from the real-size days of 1;
4. ``dask.distributed``: 2 workers vs 1 on the same cube, against the machine's own 2-process
   ceiling for the raw forward measured in the same run;
5. the STAC -> Zarr path on the shared MODIS cube (``../shared/data/modis_h18v04_2020``, whole
   1200 x 1200 tiles, mostly fill), with the tiles and regions that held no valid pixel;
6. what the defaults rest on: the raw forward's cost per output pixel for tiles of 64-256 coarse
   px (and ``torch.compile``), the engine with each tile size, and where the engine's time goes
   (cProfile, synchronous scheduler).

Input: synthetic MODIS-like LST (``xlstsr.datasets.sample_scene`` fields, 12 % cloud) on the MODIS
sinusoidal 1 km grid in Zarr v3 (chunks: one whole day), and a static NDVI guide at 250 m.

Usage: ``nice -n 5 python benchmarks/engine.py [--out docs/results] [--smoke]`` (about 30 min on
2 quiet cores). ``--smoke``: every figure's code path on tiny sizes, timings taken once (a test,
not a measurement). ``--render JSON``: rewrite engine.md from the raw figures of an earlier run.

The page is written from the figures: a list item written by hand is kept when the script rewrites
the page only under a line :data:`HAND_ITEM` (placed at the top of "Reading"; ``--render`` /
``--rerun-*`` of an engine.md keep that page's items, the other runs those of the page replaced).
"""

from __future__ import annotations

import argparse
import itertools
import json
import os
import platform
import shlex
import subprocess
import sys
import tempfile
import time
import traceback
from pathlib import Path
from typing import Any

import numpy as np

from xlstsr.methods.torch_model import ONNX_TILE
from xlstsr.nn.onnx_runtime import onnx_available

ROOT = Path(__file__).resolve().parents[1]
BENCH = Path(__file__).resolve().parent
FACTOR = 4
METHODS = ("bicubic", "sisr", "disr")
#: the line above a list item written by hand; the item (its "- " line and the indented lines
#: that continue it) is carried over to the top of "Reading" when the script rewrites the page
HAND_ITEM = "<!-- Written by hand (kept when the script rewrites the page): the list item below -->"
TORCH_METHODS = ("sisr", "disr")
#: ONNX Runtime installed: the sweep measures it beside torch (xlstsr.nn.onnx_runtime)
ORT = onnx_available()
GIB = 1024**3

#: sizes of the full run and of the smoke run
FULL = {
    "real": 1200, "real_days": 8, "raw_splits": 1,
    "flat_size": 256, "flat_steps": (4, 16, 64), "flat_repeats": 2,
    "scale_days": 4, "scale_rounds": 2,
    "stac_days": 4,
    "sweep_tiles": (128, 192, 256, 384), "sweep_area": 3 * 256**2, "sweep_rounds": 2,
    "engine_sweep_days": {"bicubic": 2, "sisr": 2, "disr": 1},
    "profile_days": 1,
}
SMOKE = {
    "real": 64, "real_days": 2, "raw_splits": 1,
    "flat_size": 32, "flat_steps": (2, 4, 8),
    "scale_days": 2, "scale_rounds": 1,
    "stac_days": 1,
    "sweep_tiles": (16, 32), "sweep_area": 2 * 32**2, "sweep_rounds": 1,
    "engine_sweep_days": {"sisr": 1, "disr": 1},
    "profile_days": 1,
}


# -- input ----------------------------------------------------------------------------------------
def make_cube(work: Path, name: str, n_times: int, size: int, seed: int = 0) -> dict[str, str]:
    """A (time, y, x) LST cube of ``n_times`` days of ``size``^2 at 1 km (Zarr v3, one chunk per
    day) and a static NDVI guide at 250 m (``4 size``^2, chunks of at most 1200^2), on the MODIS
    sinusoidal grid; returns the two store paths."""
    import xarray as xr
    from affine import Affine

    import xlstsr
    from xlstsr.grid import MODIS_1KM, MODIS_SINUSOIDAL, grid_coords

    sc = xlstsr.datasets.sample_scene(n_times=n_times, size=size, factor=1, seed=seed)
    ul_x, ul_y = 1_000_000.0, 5_559_752.598833  # inside tile h18v04

    def geo(values, dims, res, coords=None, attrs=None):
        t = Affine(res, 0.0, ul_x, 0.0, -res, ul_y)
        y, x = grid_coords(t, values.shape[-2:])
        da = xr.DataArray(values, dims=dims, coords={**(coords or {}), "y": y, "x": x},
                          attrs=attrs or {})
        return da.rio.write_crs(MODIS_SINUSOIDAL).rio.write_transform(t)

    lst = geo(sc["lst_1km"].values.astype(np.float32), ("time", "y", "x"), MODIS_1KM,
              {"time": sc["lst_1km"].time.values}, {"units": "K"})
    rng = np.random.default_rng(seed)
    nd = np.repeat(np.repeat(sc["ndvi_250m"].values, FACTOR, 0), FACTOR, 1)
    nd = np.clip(nd + rng.normal(0, 0.03, nd.shape).astype(np.float32), -0.3, 0.95)
    guide = geo(nd.astype(np.float32), ("y", "x"), MODIS_1KM / FACTOR, attrs={"units": "1"})
    paths = {"lst": str(work / f"{name}.zarr"), "guide": str(work / f"{name}_ndvi.zarr")}
    gch = min(nd.shape[0], 1200)
    for da, var, path, chunks in ((lst, "lst", paths["lst"], {"time": 1, "y": -1, "x": -1}),
                                  (guide, "ndvi", paths["guide"], {"y": gch, "x": gch})):
        ds = da.chunk(chunks).to_dataset(name=var)
        ds[var].encoding = {}
        ds.to_zarr(path, mode="w", zarr_format=3, consolidated=False)
    return paths


def open_lst(path: str, days: int | None = None):
    import xarray as xr

    lst = xr.open_zarr(path, consolidated=False, decode_coords="all")["lst"]
    return lst if days is None else lst.isel(time=slice(0, days))


def open_guide(path: str):
    import xarray as xr

    return xr.open_zarr(path, consolidated=False, decode_coords="all")["ndvi"]


def tile_grid(n: int, tile: int | None) -> list[tuple[int, int]]:
    """Tiles of at most ``tile`` px covering ``n``, as the engine splits a chunk; None: one."""
    from xlstsr.engine.blocks import _split_large_chunks

    sizes = (n,) if tile is None else _split_large_chunks((n,), int(tile))
    return list(itertools.pairwise(int(e) for e in np.cumsum([0, *sizes])))


def hwm_kib() -> int:
    """Peak RSS of this process image (VmHWM; ru_maxrss would inherit a parent's)."""
    with open("/proc/self/status") as f:
        for line in f:
            if line.startswith("VmHWM:"):
                return int(line.split()[1])
    return 0


def rss_kib() -> int:
    with open("/proc/self/status") as f:
        for line in f:
            if line.startswith("VmRSS:"):
                return int(line.split()[1])
    return 0


# -- the raw limit: hand-tiled forwards on preloaded tensors -------------------------------------
def raw_inputs(method: str, lst_path: str, guide_path: str | None, days: list[int],
               tile: int | None, share: tuple[int, int] = (0, 1), backend: str = "torch"):
    """The work of one raw process: ``(kind, items)`` where items are the preloaded inputs of
    every tile (core with any valid pixel, plus a receptive-field halo) of ``days`` whose global
    index is ``share[0]`` modulo ``share[1]`` (tiles dealt round-robin between processes).
    Gaps are filled beforehand (the engine's first pass, not timed); torch tensors are
    channels-last, as the engine runs them; ONNX Runtime's inputs contiguous numpy arrays."""
    import torch

    from xlstsr.kernels.interp import fill_gaps
    from xlstsr.methods import get_method

    torch_kind = method in TORCH_METHODS
    m = get_method(method, **({"backend": backend} if torch_kind else {}))
    h = int(m.halo(FACTOR))
    lst = open_lst(lst_path)
    g_all = None
    if guide_path is not None and getattr(m, "n_guide", 0):
        g_all = open_guide(guide_path).values.astype(np.float32)
    ort = torch_kind and backend == "onnxruntime"
    cl = torch.channels_last
    items, k, guides = [], 0, {}
    for d in days:
        img = lst.isel(time=d).values.astype(np.float32)
        filled = fill_gaps(img[None], h)[0]
        ny, nx = img.shape
        for y0, y1 in tile_grid(ny, tile):
            for x0, x1 in tile_grid(nx, tile):
                k += 1
                if (k - 1) % share[1] != share[0] or not np.isfinite(img[y0:y1, x0:x1]).any():
                    continue
                ya, yb, xa, xb = max(0, y0 - h), min(ny, y1 + h), max(0, x0 - h), min(nx, x1 + h)
                a = np.ascontiguousarray(filled[None, None, ya:yb, xa:xb])
                if not torch_kind:
                    items.append((a[0], None))
                    continue
                x = a if ort else torch.from_numpy(a).contiguous(memory_format=cl)
                g = None
                if g_all is not None:
                    key = (ya, yb, xa, xb)
                    if key not in guides:  # a static guide: one array per tile position
                        gt = np.ascontiguousarray(
                            g_all[None, None, ya * FACTOR : yb * FACTOR, xa * FACTOR : xb * FACTOR])
                        guides[key] = gt if ort else torch.from_numpy(gt).contiguous(
                            memory_format=cl)
                    g = guides[key]
                items.append((x, g))
    kind = ("onnxruntime" if ort else "torch") if torch_kind else "numpy"
    return kind, items, m


def raw_run(kind: str, items: list, m, model=None, allocation: bool = False) -> None:
    """Run the forward (or the bicubic kernel) over preloaded tile inputs; with ``allocation``
    inside ``xlstsr.engine.regions.region_allocation``, the allocator settings the engine's
    regions run with (glibc's heap serves buffers up to 32 MiB)."""
    import contextlib

    from xlstsr.engine.regions import region_allocation

    with region_allocation() if allocation else contextlib.nullcontext():
        if kind == "torch":
            import torch

            model = m.model() if model is None else model
            with torch.inference_mode():
                for x, g in items:
                    model(x) if g is None else model(x, g)
        elif kind == "onnxruntime":  # the session itself, on preloaded numpy arrays
            sess = (m.model() if model is None else model).session(1)
            for x, g in items:
                sess.run(None, {"lst": x} if g is None else {"lst": x, "guide": g})
        else:
            from xlstsr.kernels.interp import cubic_upsample

            for a, _ in items:
                cubic_upsample(a, FACTOR)


def child_raw(spec: dict) -> dict:
    """One raw process: preload its share, wait for the go file, run, report its timings."""
    import torch

    torch.set_num_threads(1)
    kind, items, m = raw_inputs(spec["method"], spec["lst"], spec.get("guide"), spec["days"],
                                spec["tile"], (spec["worker"], spec["n_workers"]),
                                spec.get("backend", "torch"))
    alloc = bool(spec.get("allocation"))
    if kind != "numpy":
        raw_run(kind, items[:1], m, allocation=alloc)  # load the model, first-call allocations
    Path(spec["ready"]).touch()
    while not os.path.exists(spec["go"]):
        time.sleep(0.005)
    t0, c0 = time.time(), time.process_time()
    raw_run(kind, items, m, allocation=alloc)
    return {"start": t0, "end": time.time(), "cpu_s": time.process_time() - c0,
            "tiles": len(items), "peak_kib": hwm_kib()}


# -- the engine as a user runs it, in a fresh process --------------------------------------------
class _Regions:
    """Collects upscale_to_zarr's per-region log records."""

    def __init__(self) -> None:
        import logging

        self.regions: list[tuple[float, bool]] = []
        self.closing: tuple | None = None
        outer = self

        class H(logging.Handler):
            def emit(self, record):
                msg = str(record.msg)
                if msg.startswith("region ") and record.args:
                    outer.regions.append((float(record.args[4]), not record.args[5]))
                elif msg.startswith("upscale_to_zarr:"):
                    outer.closing = tuple(record.args)

        self._log = logging.getLogger("xlstsr.engine.to_zarr")
        self._level = self._log.level
        self._handler = H()
        self._log.setLevel(logging.INFO)
        self._log.addHandler(self._handler)

    def close(self) -> None:
        """Detach from the logger (a smoke run's children share this process's loggers)."""
        self._log.removeHandler(self._handler)
        self._log.setLevel(self._level)


def child_engine(spec: dict) -> dict:
    """``upscale_to_zarr`` Zarr (or STAC) -> Zarr in this fresh process: its time, peak RSS and
    per-region log."""
    import xlstsr

    out: dict[str, Any] = {}
    if "stac" in spec:
        import pystac

        from xlstsr.io import open_stac

        cat = pystac.Catalog.from_file(spec["stac"])
        items = [it for it in cat.get_items(recursive=True)
                 if it.collection_id.startswith("modis-11A1")]
        items = sorted(items, key=lambda it: -len(it.properties["subset:windows"]))
        items = sorted(items[: spec["days"]], key=lambda it: it.datetime)
        out["dates"] = [it.datetime.strftime("%Y-%m-%d") for it in items]
        out["windows"] = [len(it.properties["subset:windows"]) for it in items]
        t = time.perf_counter()
        lst = open_stac(items, spec.get("asset", "LST_Day_1km"))
        out["open_s"] = time.perf_counter() - t
    else:
        lst = open_lst(spec["lst"])
        lst = lst.isel(time=slice(spec.get("first", 0), spec.get("first", 0) + spec["days"]))
    guide = open_guide(spec["guide"]) if spec.get("guide") else None
    if spec["method"] in TORCH_METHODS:
        # xlstsr imports torch lazily, at the first torch method (about 1.1 s here): imports,
        # which the raw processes also do before their timing, not work of the engine (the
        # timed call still loads its own model, and exports it for ONNX Runtime)
        from xlstsr.methods import get_method

        get_method(spec["method"])
        if ORT:  # the exporter's and the runtime's imports (about 2 s here) likewise
            import onnxruntime  # noqa: F401
            import torch.onnx  # noqa: F401
    base = hwm_kib()
    t, c = time.perf_counter(), time.process_time()
    rec = _Regions()
    try:
        xlstsr.upscale_to_zarr(lst, spec["out"], FACTOR, spec["method"], guide=guide,
                               tile=spec.get("tile", "auto"), mode="w", progress=False,
                               method_options={k: spec[k] for k in ("backend", "weights")
                                               if spec.get(k)} or None)
    finally:
        rec.close()
    out["seconds"] = time.perf_counter() - t
    out["cpu_s"] = time.process_time() - c  # every thread of the process
    out.update(base_kib=base, peak_kib=hwm_kib(), n_times=int(lst.shape[0]),
               shape=[int(s) for s in lst.shape], regions=rec.regions,
               closing=list(rec.closing or ()))
    if "stac" in spec:  # after the timing: how many of the engine's model tiles held data
        t = time.perf_counter()
        v = lst.values
        out["read_s"] = time.perf_counter() - t  # reading the COGs alone

        from xlstsr.methods import get_method

        tile = get_method(spec["method"]).tile_size(FACTOR)

        def grid1(chunks):  # the engine's tiles: each input chunk split into <= tile px
            edges = np.cumsum([0, *chunks])
            return [(int(e0) + a, int(e0) + b) for e0, c in zip(edges[:-1], chunks)
                    for a, b in tile_grid(int(c), tile)]

        grid = [(a, b, c, d) for a, b in grid1(lst.chunks[1]) for c, d in grid1(lst.chunks[2])]
        held = [int(sum(np.isfinite(v[i, a:b, c:d]).any() for a, b, c, d in grid))
                for i in range(v.shape[0])]
        out.update(tiles_per_day=len(grid), tiles_with_data=held,
                   valid_share=float(np.isfinite(v).mean()))
    return out


CHILD = r"""
import json, sys
sys.path.insert(0, {bench!r})
import engine
print("@@" + json.dumps(engine.{fn}(json.loads({spec!r}))))
"""


#: a smoke run's children are threads of this process (``--smoke``): a fresh Python that imports
#: torch and xlstsr costs 5-10 s here, and a smoke run starts dozens; the memory flatness runs
#: stay processes, so that the child code path itself is still run. A thread's CPU time and
#: peak RSS are the whole process's: a smoke run's figures mean nothing (as its timings)
IN_PROCESS = False


class _Thread:
    """A child run in a thread of this process, with the parts of Popen's interface used here."""

    def __init__(self, fn: str, spec: dict) -> None:
        import threading

        self.returncode: int | None = None
        self._out = ""
        self._err = ""

        def run() -> None:
            try:
                self._out = "@@" + json.dumps(globals()[fn](json.loads(json.dumps(spec))))
                self.returncode = 0
            except BaseException:  # reported by collect(), as a child's stderr is
                self._err = traceback.format_exc()
                self.returncode = 1

        self._thread = threading.Thread(target=run, name=f"bench-{fn}", daemon=True)
        self._thread.start()

    def poll(self) -> int | None:
        return self.returncode

    def communicate(self) -> tuple[str, str]:
        self._thread.join()
        return self._out, self._err


def spawn(fn: str, spec: dict, fresh: bool = False) -> subprocess.Popen | _Thread:
    """``fn(spec)`` in a fresh Python process (a thread of this one in a smoke run, unless
    ``fresh``)."""
    if IN_PROCESS and not fresh:
        return _Thread(fn, spec)
    return subprocess.Popen(
        [sys.executable, "-c", CHILD.format(bench=str(BENCH), fn=fn, spec=json.dumps(spec))],
        stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True,
        env={**os.environ, "PYTHONPATH": os.pathsep.join(
            [str(ROOT), *filter(None, [os.environ.get("PYTHONPATH")])])},
    )


def collect(proc: subprocess.Popen | _Thread, what: str) -> dict:
    stdout, stderr = proc.communicate()
    lines = [ln for ln in stdout.splitlines() if ln.startswith("@@")]
    if proc.returncode or not lines:
        raise RuntimeError(f"{what} failed (exit {proc.returncode}):\n{stderr[-4000:]}")
    return json.loads(lines[-1][2:])


def run_engine(spec: dict) -> dict:
    return collect(spawn("child_engine", spec), f"engine run {spec}")


def run_raw(method: str, cube: dict, days: list[int], tile: int | None, n_workers: int,
            work: Path, allocation: bool = False, backend: str = "torch") -> dict:
    """The raw forward in ``n_workers`` fresh single-thread processes started together: the wall
    time from the first start to the last end (preloading not timed); ``allocation``: inside
    ``region_allocation`` (see :func:`raw_run`); ``backend``: torch or ONNX Runtime."""
    go = work / f"go-{time.time_ns()}"
    procs, readies = [], []
    for j in range(n_workers):
        ready = work / f"{go.name}-ready{j}"
        readies.append(ready)
        procs.append(spawn("child_raw", {
            "method": method, "lst": cube["lst"], "guide": cube["guide"], "days": days,
            "tile": tile, "worker": j, "n_workers": n_workers, "ready": str(ready),
            "go": str(go), "allocation": allocation, "backend": backend}))
    while not all(r.exists() for r in readies):
        if any(p.poll() is not None for p in procs):
            break
        time.sleep(0.02)
    go.touch()
    outs = [collect(p, f"raw {method}") for p in procs]
    return {"seconds": max(o["end"] for o in outs) - min(o["start"] for o in outs),
            "cpu_s": sum(o["cpu_s"] for o in outs), "tiles": sum(o["tiles"] for o in outs),
            "peak_kib": max(o["peak_kib"] for o in outs)}


# -- 1-3. real-size days: raw / engine / raw ------------------------------------------------------
def bench_real(cube: dict, n_days: int, tiles: dict, splits: int, work: Path) -> dict:
    """Per method: raw and engine in turn on parts of the days, so that load that drifts or
    comes and goes during the minutes of a run weighs on both sides alike; wall and CPU seconds.
    ``splits`` = 1 (default): raw on the first half of the days, the engine in one call on all
    of them (as a user runs it, and as the issue measured it: its fixed start - fingerprint,
    template, first reads - paid once), raw on the second half; ``splits`` = 2: R E R R E R,
    the engine on half of the days per call."""
    out = {}
    parts = [[int(d) for d in p] for p in np.array_split(np.arange(n_days), splits)]
    for method in METHODS:
        stage(f"  {method}: raw, engine, raw")
        load = os.getloadavg()
        raws, engs, tuned = [], [], []
        for part in parts:
            halves = [[int(d) for d in h] for h in np.array_split(part, 2) if len(h)]
            raws.append(run_raw(method, cube, halves[0], tiles[method], 2, work))
            tuned.append(run_raw(method, cube, halves[0], tiles[method], 2, work, True))
            engs.append(run_engine({"lst": cube["lst"], "first": part[0], "days": len(part),
                                    "method": method,
                                    "guide": cube["guide"] if method == "disr" else None,
                                    "out": str(work / f"real_{method}.zarr")}))
            if len(halves) > 1:
                tuned.append(run_raw(method, cube, halves[1], tiles[method], 2, work, True))
                raws.append(run_raw(method, cube, halves[1], tiles[method], 2, work))
        raw_s, eng_s = sum(r["seconds"] for r in raws), sum(e["seconds"] for e in engs)
        raw_cpu, eng_cpu = sum(r["cpu_s"] for r in raws), sum(e["cpu_s"] for e in engs)
        tuned_s, tuned_cpu = sum(r["seconds"] for r in tuned), sum(r["cpu_s"] for r in tuned)
        out[method] = {
            "raw_tuned_s": tuned_s, "raw_tuned_cpu_s": tuned_cpu, "ratio_tuned": eng_s / tuned_s,
            "cpu_ratio_tuned": eng_cpu / tuned_cpu,
            "raw_s": raw_s, "raw_runs_s": [r["seconds"] for r in raws], "raw_cpu_s": raw_cpu,
            "raw_tiles": sum(r["tiles"] for r in raws), "raw_tile": tiles[method],
            "raw_peak_kib": max(r["peak_kib"] for r in raws),
            "engine_s": eng_s, "engine_runs_s": [e["seconds"] for e in engs],
            "engine_cpu_s": eng_cpu, "ratio": eng_s / raw_s, "cpu_ratio": eng_cpu / raw_cpu,
            "peak_kib": max(e["peak_kib"] for e in engs),
            "base_kib": max(e["base_kib"] for e in engs), "days_per_engine_run": len(parts[0]),
            "regions_s": [r[0] for e in engs for r in e["regions"]], "n_days": n_days,
            "load": load,
        }
        print(f"    {out[method]['ratio']:.2f} ({eng_s:.1f} s / {raw_s:.1f} s; cpu "
              f"{out[method]['cpu_ratio']:.2f}), against the raw in region_allocation "
              f"{out[method]['ratio_tuned']:.2f} (cpu {out[method]['cpu_ratio_tuned']:.2f}), "
              f"peak {out[method]['peak_kib'] / 1024:.0f} MiB", flush=True)
    return out


def bench_real_onnx(cube: dict, n_days: int, tiles: dict, work: Path) -> dict:
    """The deep methods with ``backend="onnxruntime"`` on the same days: raw (ONNX Runtime's
    session on its fastest tile of the sweep), the engine (``tile="auto"``: ONNX_TILE), raw;
    and the engine with the default torch backend in the same turn, for the speed-up."""
    out = {}
    halves = [[int(d) for d in h] for h in np.array_split(np.arange(n_days), 2) if len(h)]
    for method in tiles:
        stage(f"  {method} (onnxruntime): raw, engine, engine (torch), raw")
        spec = {"lst": cube["lst"], "first": 0, "days": n_days, "method": method,
                "guide": cube["guide"] if method == "disr" else None,
                "out": str(work / f"real_onnx_{method}.zarr")}
        raws = [run_raw(method, cube, halves[0], tiles[method], 2, work, backend="onnxruntime")]
        eng = run_engine({**spec, "backend": "onnxruntime"})
        eng_torch = run_engine(spec)
        raws += [run_raw(method, cube, h, tiles[method], 2, work, backend="onnxruntime")
                 for h in halves[1:]]
        raw_s, raw_cpu = sum(r["seconds"] for r in raws), sum(r["cpu_s"] for r in raws)
        out[method] = {
            "raw_s": raw_s, "raw_cpu_s": raw_cpu, "raw_tile": tiles[method],
            "engine_s": eng["seconds"], "engine_cpu_s": eng["cpu_s"],
            "ratio": eng["seconds"] / raw_s, "cpu_ratio": eng["cpu_s"] / raw_cpu,
            "peak_kib": eng["peak_kib"], "torch_engine_s": eng_torch["seconds"],
            "torch_peak_kib": eng_torch["peak_kib"],
            "speedup": eng_torch["seconds"] / eng["seconds"], "n_days": n_days,
        }
        print(f"    {out[method]['ratio']:.2f} ({eng['seconds']:.1f} s / {raw_s:.1f} s); "
              f"{out[method]['speedup']:.2f}x the torch engine ({eng_torch['seconds']:.1f} s), "
              f"peak {eng['peak_kib'] / 1024:.0f} vs {eng_torch['peak_kib'] / 1024:.0f} MiB",
              flush=True)
    return out


def bench_real_fast(cube: dict, n_days: int, work: Path, weights: str = "unet") -> dict:
    """The default ``disr`` (``fast`` since round 7: the coarse-grid network distilled from the
    U-Net) against ``weights`` (``unet``: the U-Net it learned from, the default before), engine
    against engine on the same real-size days, alternated (other, default, default, other): the
    speed-up, peak RSS, and a year's projection of each."""
    spec = {"lst": cube["lst"], "first": 0, "days": n_days, "method": "disr",
            "guide": cube["guide"]}
    runs: dict[str, list[dict]] = {"default": [], weights: []}
    for name in (weights, "default", "default", weights):
        stage(f"  disr ({name} weights)")
        runs[name].append(run_engine({**spec, "out": str(work / f"weights_{name}.zarr"),
                                      **({"weights": weights} if name != "default" else {})}))
    best = {k: min(v, key=lambda x: x["seconds"]) for k, v in runs.items()}
    out = {"other": weights, "n_days": n_days,
           "default_s": [x["seconds"] for x in runs["default"]],
           "other_s": [x["seconds"] for x in runs[weights]],
           "default_peak_kib": max(x["peak_kib"] for x in runs["default"]),
           "other_peak_kib": max(x["peak_kib"] for x in runs[weights]),
           "speedup": best[weights]["seconds"] / best["default"]["seconds"],
           "year_h_default": best["default"]["seconds"] / n_days * 365 / 3600,
           "year_h_other": best[weights]["seconds"] / n_days * 365 / 3600}
    print(f"    default {out['speedup']:.2f}x the speed of weights={weights!r}; a year "
          f"{out['year_h_default']:.2f} h against {out['year_h_other']:.2f} h", flush=True)
    return out


# -- 2. memory flatness ----------------------------------------------------------------------------
def bench_flat(cube: dict, steps: tuple[int, ...], work: Path, concurrent: bool,
               repeats: int = 1) -> dict:
    """Peak RSS of ``upscale_to_zarr`` (default ``disr``) on each number of days, each length
    run ``repeats`` times in turn (fresh processes): the peak of a run moves by several percent
    between identical runs (whether the two regions in flight reach their largest activations
    at the same moment), so each length is judged by its worst run."""
    res: dict[int, list[dict]] = {n: [] for n in steps}
    for r in range(repeats):
        procs = {}
        for n in steps:
            procs[n] = spawn("child_engine", {"lst": cube["lst"], "days": n, "method": "disr",
                                              "guide": cube["guide"],
                                              "out": str(work / f"flat_{n}_{r}.zarr")},
                             fresh=True)  # peak RSS: each its own process
            if not concurrent:  # one at a time: each sees the same machine
                res[n].append(collect(procs.pop(n), f"flat {n}"))
        for n, p in procs.items():
            res[n].append(collect(p, f"flat {n}"))
    worst = {n: max(res[n], key=lambda x: x["peak_kib"]) for n in steps}
    peaks = [worst[n]["peak_kib"] for n in steps]
    return {"runs": {str(n): {k: worst[n][k] for k in ("seconds", "base_kib", "peak_kib")}
                     for n in steps},
            "repeat_peaks_kib": {str(n): [x["peak_kib"] for x in res[n]] for n in steps},
            "spread": max(peaks) / min(peaks),
            "spread_above_imports": max(worst[n]["peak_kib"] - worst[n]["base_kib"] for n in steps)
            / max(1, min(worst[n]["peak_kib"] - worst[n]["base_kib"] for n in steps))}


# -- 4. dask.distributed ---------------------------------------------------------------------------
def _warm_worker() -> None:
    import torch  # noqa: F401

    import xlstsr
    import xlstsr.methods.torch_model  # noqa: F401


def bench_scaling(cube: dict, n_days: int, tile: int, rounds: int, work: Path) -> dict:
    import distributed

    import xlstsr

    lst = open_lst(cube["lst"], n_days)
    clusters, clients = {}, {}
    best: dict[str, float] = {}
    try:
        for n in (1, 2):
            clusters[n] = distributed.LocalCluster(
                processes=True, n_workers=n, threads_per_worker=1, dashboard_address=None,
                worker_dashboard_address=None, silence_logs=40)
            clients[n] = distributed.Client(clusters[n], set_as_default=False)
            clients[n].run(_warm_worker)

        def dist(n, days):
            def go():
                with clients[n].as_current():
                    xlstsr.upscale_to_zarr(lst.isel(time=slice(0, days)),
                                           work / f"dist{n}.zarr", FACTOR, "sisr", mode="w",
                                           progress=False)
            return go

        for n in (1, 2):  # warm-up: the weights shipped, each worker's model loaded
            dist(n, min(2, n_days))()
        fns = {
            "workers_1_s": dist(1, n_days), "workers_2_s": dist(2, n_days),
            "raw_1_process_s": lambda: run_raw("sisr", cube, list(range(n_days)), tile, 1, work),
            "raw_2_processes_s": lambda: run_raw("sisr", cube, list(range(n_days)), tile, 2, work),
        }
        for _ in range(rounds):  # in turn, so that all see the same load
            for k, fn in fns.items():
                t = time.perf_counter()
                r = fn()
                dt = r["seconds"] if isinstance(r, dict) else time.perf_counter() - t
                best[k] = min(best.get(k, float("inf")), dt)
    finally:
        for n in clients:
            clients[n].close()
            clusters[n].close()
    best["speedup"] = best["workers_1_s"] / best["workers_2_s"]
    best["ceiling"] = best["raw_1_process_s"] / best["raw_2_processes_s"]
    best["fraction"] = best["speedup"] / best["ceiling"]
    best["n_days"] = n_days
    sr = xlstsr.upscale(lst.isel(time=slice(0, 1)), FACTOR, "sisr")
    best["tasks_per_day"] = len(sr.data.__dask_graph__())
    best["tile"] = "auto"
    return best


# -- 5. STAC -> Zarr -------------------------------------------------------------------------------
def stac_catalog(root: Path | None) -> Path | None:
    """The MOD11A1 cube's STAC catalog: ``root`` (a data folder holding ``modis_h18v04_2020/``
    or one cube of another name, or that cube's folder itself: the recipe's ``cube_dir``, the
    one lookup of the cube), else the project's data folder; None when there is none."""
    import xlstsr

    if root is None:
        try:
            root = xlstsr.datasets.data_root()
        except FileNotFoundError:
            return None
    if str(BENCH) not in sys.path:  # the sibling script, whatever folder this was loaded from
        sys.path.insert(0, str(BENCH))
    from sisr_cube import recipe  # the cube's one lookup, beside this script

    cat = recipe().cube_dir(Path(root)) / "catalog.json"
    return cat if cat.is_file() else None


def bench_stac(n_days: int, work: Path, root: Path | None = None) -> dict | None:
    cat = stac_catalog(root)
    if cat is None:
        return None
    out = run_engine({"stac": str(cat), "days": n_days, "method": "sisr",
                      "out": str(work / "stac.zarr")})
    return None if out is None else {**out, "catalog": str(cat)}


# -- 6. tile sizes, torch.compile, where the time goes --------------------------------------------
def _spread_tiles(img, g_all, tile: int, h: int, n: int, rng):
    """``n`` interior tiles of ``tile`` px (with a full halo of ``h``) at random places."""
    ny, nx = img.shape
    out = []
    for _ in range(n):
        y0 = int(rng.integers(h, max(h + 1, ny - tile - h)))
        x0 = int(rng.integers(h, max(h + 1, nx - tile - h)))
        sl = (slice(y0 - h, y0 + tile + h), slice(x0 - h, x0 + tile + h))
        gsl = None if g_all is None else g_all[sl[0].start * FACTOR : sl[0].stop * FACTOR,
                                              sl[1].start * FACTOR : sl[1].stop * FACTOR]
        out.append((img[sl], gsl))
    return out


def bench_tiles(cube: dict, tiles: tuple[int, ...], area: int, rounds: int,
                compile_: bool) -> dict:
    """Raw forward cost per million core (coarse) pixels, one thread, for each tile size
    (interior tiles with a full receptive-field halo): torch (channels-last) and ONNX Runtime
    (the session on numpy arrays) in turn, and torch.compile."""
    import torch

    from xlstsr.kernels.interp import fill_gaps
    from xlstsr.methods import get_method

    threads = torch.get_num_threads()
    torch.set_num_threads(1)
    img0 = open_lst(cube["lst"]).isel(time=0).values.astype(np.float32)
    g_all = open_guide(cube["guide"]).values.astype(np.float32)
    res: dict[str, Any] = {}
    try:
        for method in METHODS:
            torch_kind = method in TORCH_METHODS
            m = get_method(method, **({"backend": "torch"} if torch_kind else {}))
            mo = get_method(method, backend="onnxruntime") if torch_kind and ORT else None
            h = int(m.halo(FACTOR))
            img = fill_gaps(img0[None], h)[0]
            sets, osets = {}, {}
            for t in tiles:
                n = max(1, round(area / t**2))
                raw = _spread_tiles(img, g_all if method == "disr" else None, t, h, n,
                                    np.random.default_rng(t))
                if method in TORCH_METHODS:
                    cl = torch.channels_last
                    items = [(torch.from_numpy(np.ascontiguousarray(a[None, None]))
                              .contiguous(memory_format=cl),
                              None if g is None else torch.from_numpy(np.ascontiguousarray(
                                  g[None, None])).contiguous(memory_format=cl))
                             for a, g in raw]
                    osets[t] = ([(np.ascontiguousarray(a[None, None]), None if g is None else
                                  np.ascontiguousarray(g[None, None])) for a, g in raw], n * t * t)
                else:
                    items = [(a[None], None) for a, _ in raw]
                sets[t] = (items, n * t * t)
            if method == "bicubic":  # and the whole image (the engine's before it had tiles)
                sets["whole"] = ([(img[None], None)], img.size)
            kind = "torch" if torch_kind else "numpy"
            if kind == "torch":
                raw_run(kind, sets[tiles[0]][0][:1], m)  # model loaded
            if mo is not None:
                raw_run("onnxruntime", osets[tiles[0]][0][:1], mo)  # exported, session made
            best: dict = {}
            obest: dict = {}
            for _ in range(rounds):  # the two backends in turn, each round
                for t, (items, px) in sets.items():
                    s = time.perf_counter()
                    raw_run(kind, items, m)
                    best[t] = min(best.get(t, float("inf")), (time.perf_counter() - s) / px * 1e6)
                    if t in osets:
                        s = time.perf_counter()
                        raw_run("onnxruntime", osets[t][0], mo)
                        obest[t] = min(obest.get(t, float("inf")),
                                       (time.perf_counter() - s) / px * 1e6)
            res[method] = {"s_per_mpx": {str(t): v for t, v in best.items()}}
            if obest:
                res[method]["onnxruntime_s_per_mpx"] = {str(t): v for t, v in obest.items()}
                x, g = sets[tiles[0]][0][0]
                with torch.inference_mode():
                    a = m.model()(x) if g is None else m.model()(x, g)
                b = mo.model()(x) if g is None else mo.model()(x, g)
                res[method]["onnxruntime_max_abs_diff_k"] = float((a - b).abs().max())
            if compile_ and kind == "torch":
                res[method]["compile"] = _bench_compile(m, sets[128 if 128 in sets else tiles[0]],
                                                        rounds)
    finally:
        torch.set_num_threads(threads)
    return res


def _bench_compile(m, tile_set, rounds: int) -> dict:
    """torch.compile (inductor, default mode) of the channels-last model on one tile shape:
    compile time, and the steady per-pixel cost against eager on the same tiles."""
    import torch

    items, px = tile_set
    model = m.model()
    try:
        cm = torch.compile(model)
        t = time.perf_counter()
        raw_run("torch", items[:1], m, cm)
        compile_s = time.perf_counter() - t
        t = time.perf_counter()  # a second shape (an edge tile) compiles again
        x, g = items[0]
        x2 = x[..., :-3, :-3].contiguous(memory_format=torch.channels_last)
        g2 = None if g is None else g[..., : -3 * FACTOR, : -3 * FACTOR].contiguous(
            memory_format=torch.channels_last)
        raw_run("torch", [(x2, g2)], m, cm)
        recompile_s = time.perf_counter() - t
        best = {"eager": float("inf"), "compiled": float("inf")}
        for _ in range(rounds):
            for k, mm in (("eager", model), ("compiled", cm)):
                t = time.perf_counter()
                raw_run("torch", items, m, mm)
                best[k] = min(best[k], (time.perf_counter() - t) / px * 1e6)
        with torch.inference_mode():  # same outputs?
            a = model(*[v for v in items[0] if v is not None])
            b = cm(*[v for v in items[0] if v is not None])
        diff = float((a - b).abs().max())
        return {"compile_s": compile_s, "second_shape_s": recompile_s,
                "eager_s_per_mpx": best["eager"], "compiled_s_per_mpx": best["compiled"],
                "speedup": best["eager"] / best["compiled"], "max_abs_diff_k": diff}
    except Exception as err:  # no compiler, unsupported op...
        return {"error": f"{type(err).__name__}: {str(err).splitlines()[0][:200]}"}


def bench_engine_tiles(cube: dict, tiles: tuple[int, ...], days: dict, work: Path) -> dict:
    """``upscale_to_zarr`` (a fresh process each, default threaded scheduler) with each
    ``tile``: seconds and peak RSS."""
    out: dict[str, Any] = {}
    runs = [(m, n, None) for m, n in days.items()]
    if ORT:  # the deep methods with backend="onnxruntime" too (its ONNX_TILE is chosen here)
        runs += [(m, n, "onnxruntime") for m, n in days.items() if m in TORCH_METHODS]
    for method, n, backend in runs:
        key = method if backend is None else f"{method} ({backend})"
        out[key] = {"n_days": n, "peak_kib": {}}
        for t in tiles:
            r = run_engine({"lst": cube["lst"], "days": n, "method": method, "tile": t,
                            "guide": cube["guide"] if method == "disr" else None,
                            "out": str(work / f"tile_{method}.zarr"), "backend": backend})
            out[key][str(t)] = r["seconds"]
            out[key]["peak_kib"][str(t)] = r["peak_kib"]
    return out


def bench_write(cube: dict, rounds: int, work: Path) -> dict:
    """What writing one day's output costs alone, against computing it: the ``bicubic`` output
    of a real-size day (in memory) written into a Zarr v3 array with the engine's output chunks,
    with the default codec (Blosc LZ4 + shuffle) and a few others, CPU and wall seconds (best of
    ``rounds``) and size on disk; and the raw tiled bicubic kernel on the same day (CPU)."""
    import shutil

    import zarr
    from zarr.codecs import BloscCodec

    from xlstsr.io.zarr import zarr_compressors
    from xlstsr.kernels.interp import cubic_upsample, fill_gaps
    from xlstsr.methods import get_method

    img = open_lst(cube["lst"]).isel(time=0).values.astype(np.float32)
    h = int(get_method("bicubic").halo(FACTOR))
    filled = fill_gaps(img[None], h)[0]
    tile = get_method("bicubic").tile_size(FACTOR)
    grid = [(y, x) for y in tile_grid(img.shape[0], tile) for x in tile_grid(img.shape[1], tile)]
    out = np.empty((1, img.shape[0] * FACTOR, img.shape[1] * FACTOR), np.float32)
    kernel = float("inf")
    for _ in range(rounds):
        c = time.process_time()
        for (y0, y1), (x0, x1) in grid:
            ya, yb = max(0, y0 - h), min(img.shape[0], y1 + h)
            xa, xb = max(0, x0 - h), min(img.shape[1], x1 + h)
            r = cubic_upsample(filled[ya:yb, xa:xb], FACTOR)
            out[0, y0 * FACTOR:y1 * FACTOR, x0 * FACTOR:x1 * FACTOR] = r[
                (y0 - ya) * FACTOR:(y0 - ya + y1 - y0) * FACTOR,
                (x0 - xa) * FACTOR:(x0 - xa + x1 - x0) * FACTOR]
        kernel = min(kernel, time.process_time() - c)
    out[np.repeat(np.repeat(np.isnan(img[None]), FACTOR, 1), FACTOR, 2)] = np.nan
    ch = (1, (grid[0][0][1] - grid[0][0][0]) * FACTOR, (grid[0][1][1] - grid[0][1][0]) * FACTOR)
    codecs = {"Blosc LZ4 + shuffle (default)": zarr_compressors("auto"),
              "Blosc LZ4 level 1 + shuffle": (BloscCodec(cname="lz4", clevel=1,
                                                         shuffle="shuffle"),),
              "Blosc Zstd 1 + shuffle": (BloscCodec(cname="zstd", clevel=1, shuffle="shuffle"),),
              "none": None}
    res: dict[str, Any] = {"kernel_cpu_s": kernel, "mb": out.nbytes / 1e6, "chunks": ch,
                           "codecs": {}}
    for name, comp in codecs.items():
        best = (float("inf"), float("inf"))
        path = work / "write.zarr"
        for _ in range(rounds):
            shutil.rmtree(path, ignore_errors=True)
            a = zarr.create_array(str(path), shape=out.shape, chunks=ch, dtype="float32",
                                  compressors=comp, fill_value=np.nan)
            c, t = time.process_time(), time.perf_counter()
            a[:] = out
            best = min(best, (time.process_time() - c, time.perf_counter() - t))
        size = sum(f.stat().st_size for f in path.rglob("*") if f.is_file())
        res["codecs"][name] = {"cpu_s": best[0], "wall_s": best[1],
                               "size_ratio": size / out.nbytes}
    shutil.rmtree(work / "write.zarr", ignore_errors=True)
    return res


#: (label, file suffix, function) cumulative times read from the profile
PROFILE_PARTS = (
    ("total: upscale_to_zarr", "xlstsr/engine/to_zarr.py", "upscale_to_zarr"),
    ("model forward", "xlstsr/nn/runtime.py", "forward"),
    ("method: tensors in and out (upscale_block less forward and guide filling)",
     "xlstsr/methods/torch_model.py", "upscale_block"),
    ("guide gap filling (fill_guide)", "xlstsr/methods/torch_model.py", "fill_guide"),
    ("engine tile: re-mask, copies (_upscale_numpy less the method)",
     "xlstsr/engine/blocks.py", "_upscale_numpy"),
    ("engine tile: input and guide windows cut from their blocks, crop (_tile_task less "
     "_upscale_numpy and the gap filling)", "xlstsr/engine/blocks.py", "_tile_task"),
    ("gap filling on the tile's window (fill_gaps, less the guide's)",
     "xlstsr/kernels/interp.py", "fill_gaps"),
    ("Zarr reads (xarray's ZarrArrayWrapper)", "xarray/backends/zarr.py", "__getitem__"),
    ("Zarr writes (compress + store)", "xlstsr/engine/to_zarr.py", "_store_block"),
    ("graph building and checks, their reads included (upscale)", "xlstsr/upscale.py",
     "upscale"),
    ("input fingerprint, its reads included (sampled chunks hashed)",
     "xlstsr/engine/to_zarr.py", "array_fingerprint"),
    ("bicubic kernel", "xlstsr/kernels/interp.py", "cubic_upsample"),
)


def bench_profile(cube: dict, n_days: int, work: Path) -> dict:
    """Where the engine's time goes: cProfile of upscale_to_zarr under the synchronous
    scheduler with one torch thread (cumulative seconds of the engine's parts)."""
    import cProfile
    import pstats

    import dask
    import torch

    import xlstsr
    from xlstsr.engine import array_fingerprint
    from xlstsr.methods import get_method

    threads = torch.get_num_threads()
    torch.set_num_threads(1)
    out = {}
    try:
        for method in METHODS:
            m = get_method(method, **({"num_threads": 1} if method in TORCH_METHODS else {}))
            lst = open_lst(cube["lst"], n_days)
            guide = open_guide(cube["guide"]) if method == "disr" else None
            # the Zarr reads of the fingerprint and of the graph building (guide checks), from
            # the same calls profiled alone: the main profile counts them in all three rows
            pre = {}
            calls = {"fingerprint": (lambda a, g: [array_fingerprint(v) for v in (a, g)
                                                   if v is not None]),
                     "upscale": (lambda a, g, mm: xlstsr.upscale(a, FACTOR, mm, g))}
            for key, fn in calls.items():
                p0 = cProfile.Profile()
                with dask.config.set(scheduler="sync"):
                    p0.runcall(fn, lst, guide, *([m] if key == "upscale" else []))
                pre[key] = _cum(pstats.Stats(p0).stats, *PROFILE_PARTS[7][1:])
            prof = cProfile.Profile()
            with dask.config.set(scheduler="sync"):
                prof.enable()
                xlstsr.upscale_to_zarr(lst, work / f"prof_{method}.zarr", FACTOR, m,
                                       guide=guide, mode="w", progress=False)
                prof.disable()
            st = pstats.Stats(prof).stats
            cum = {label: _cum(st, suffix, fn) for label, suffix, fn in PROFILE_PARTS}
            cum["reads in the fingerprint"] = pre["fingerprint"]
            cum["reads in upscale"] = pre["upscale"]
            out[method] = cum
    finally:
        torch.set_num_threads(threads)
    return out


def _cum(stats: dict, suffix: str, fn: str) -> float:
    """Cumulative seconds of the functions named ``fn`` in files ending with ``suffix``."""
    return sum(v[3] for (f, _, name), v in stats.items()
               if name == fn and f.replace("\\", "/").endswith(suffix))


def profile_rows(cum: dict) -> list[tuple[str, float]]:
    """Exclusive parts (seconds) from the cumulative times of PROFILE_PARTS."""
    lab = [p[0] for p in PROFILE_PARTS]
    total, fwd, ub, gf, un, ob, fb, rd, wr, up, fp, bic = (cum.get(k, 0.0) for k in lab)
    rows = [
        ("the model's forward (`bicubic`: its kernel)", fwd + bic),
        (lab[2], max(0.0, ub - fwd - gf)),
        (lab[3], gf),
        (lab[4], un - (ub if ub > 0 else bic)),
        (lab[5], ob - un - (fb - gf)),
        (lab[6], fb - gf),
        (lab[7] + ", less those below", rd - cum["reads in the fingerprint"]
         - cum["reads in upscale"]),
        (lab[8], wr),
        (lab[9], up),
        (lab[10], fp),
    ]
    rows.append(("the rest: scheduling, output reassembly, region bookkeeping",
                 total - sum(v for _, v in rows)))
    return rows


# -- report ---------------------------------------------------------------------------------------
def ok(v, target, ge=False):
    return "met" if (v >= target if ge else v <= target) else "NOT met"


def cpu(x: dict) -> str:
    """'; CPU time r' when the run measured CPU time."""
    return f"; CPU time {x['cpu_ratio']:.2f}" if "cpu_ratio" in x else ""


def _cube_name(st: dict) -> str:
    """The STAC cube's folder as the page names it (older runs did not record it)."""
    cat = st.get("catalog")
    return "`modis_h18v04_2020`" if cat is None else f"`{Path(cat).parent.name}`"


def kept_items(md: Path) -> list[str]:
    """The lines of ``md`` that a rewrite keeps: each :data:`HAND_ITEM` line with the list item
    under it ([] for no page, or one without that line).

    Examples
    --------
    >>> import tempfile
    >>> with tempfile.TemporaryDirectory() as d:
    ...     md = Path(d) / "engine.md"
    ...     _ = md.write_text(f"## Reading\\n\\n{HAND_ITEM}\\n- by hand\\n  more\\n- generated\\n")
    ...     kept_items(md)[1:]
    ['- by hand', '  more']
    """
    lines = md.read_text().splitlines() if md.is_file() else []
    out: list[str] = []
    for i, line in enumerate(lines):
        if line.strip() != HAND_ITEM or i + 1 >= len(lines) or not lines[i + 1].startswith("- "):
            continue
        j = i + 2
        while j < len(lines) and lines[j].startswith("  "):
            j += 1
        out += [HAND_ITEM, *lines[i + 1:j]]
    return out


def render(r: dict, kept: list[str] | tuple[str, ...] = ()) -> str:
    """engine.md from the raw figures ``r``; ``kept``: lines written by hand (:func:`kept_items`),
    put first under "Reading"."""
    s = r["sizes"]
    real, nd = s["real"], s["real_days"]
    rl, fl, sc, st, tl, et, pf = (r[k] for k in ("real", "flat", "scaling", "stac", "tiles",
                                                 "engine_tiles", "profile"))
    ld = {k: "(" + ", ".join(f"{v:.2f}" for v in x) + ")" for k, x in r["loads"].items()}
    year = {m: 365 * rl[m]["engine_s"] / nd for m in METHODS}
    year_raw = {m: 365 * rl[m]["raw_s"] / nd for m in METHODS}

    def year_cpu_txt(m: str, unit: float, name: str, short: bool = False) -> str:
        """The same projection from the engine's CPU time on 2 free cores, when measured."""
        if "engine_cpu_s" not in rl[m]:
            return ""
        v = 365 * rl[m]["engine_cpu_s"] / nd / 2 / unit
        return (f" ({v:.{2 if unit > 60 else 0}f} {name} from CPU time on 2 free cores)"
                if short else f"; from its CPU time on 2 free cores: {v:.2f} {name}")
    disr_gb = rl["disr"]["peak_kib"] * 1024 / GIB
    scaling_status = (ok(sc["fraction"], 0.9, ge=True) if sc["ceiling"] >= 1.3
                      else "not tested: no spare core in this run (ceiling < 1.3x)")
    flat_steps = [int(k) for k in fl["runs"]]
    fsz = s["flat_size"]
    lines = [
        "# Engine benchmark: real scale",
        "",
        f"Generated by `{r['cmd']}` in {r['total_s'] / 60:.0f} min on {r['host']}, torch "
        f"{r['torch']}, xlstsr {r['xlstsr']}. The machine is shared with other jobs: load average "
        f"(1, 5, 15 min) {ld['start']} at the start, {ld['real']} before the real-size runs, "
        f"{ld['scaling']} before the scaling run, {ld['end']} at the end."
        + (f" The distributed scaling figure was rerun alone afterwards by `{sc['rerun']['cmd']}`"
           f" (load {sc['rerun']['load']} at its start, {sc['rerun']['end_load']} at its end)."
           if "rerun" in sc else ""),
        "",
        f"Input: {nd} synthetic MODIS-like days of {real} x {real} at 1 km (fBm LST, 12 % cloud; "
        f"`xlstsr.datasets.sample_scene` fields on the MODIS sinusoidal grid) in a Zarr v3 store, "
        f"one chunk per day; a static NDVI guide at 250 m ({real * FACTOR} x {real * FACTOR}, "
        "chunks 1200 x 1200) for `disr`. Output x4, Zarr v3, the engine's defaults (tile='auto', "
        "threaded scheduler with 2 workers, one region per worker, one task per tile and "
        "time chunk, Blosc LZ4).",
        "",
        "| figure | value | target | |",
        "|---|---|---|---|",
    ]
    for m in METHODS:
        x = rl[m]
        lines.append(
            f"| `upscale_to_zarr` Zarr -> Zarr / best hand-tiled raw forward, `{m}` ({nd} x "
            f"{real}^2 -> x4) | {x['ratio']:.2f} (engine {x['engine_s']:.1f} s, raw "
            f"{x['raw_s']:.1f} s{cpu(x)}) | <= 1.15 | "
            f"{ok(x['ratio'], 1.15)} |")
        if "ratio_tuned" in x:
            lines.append(
                f"| same, against the raw processes inside `region_allocation` (the engine's "
                f"allocator settings) | {x['ratio_tuned']:.2f} (raw {x['raw_tuned_s']:.1f} s; "
                f"CPU time {x['cpu_ratio_tuned']:.2f}) | <= 1.15 | "
                f"{ok(x['ratio_tuned'], 1.15)} |")
    for m, x in (r.get("real_onnx") or {}).items():
        lines.append(
            f"| `upscale_to_zarr` with `backend='onnxruntime'` (tile {ONNX_TILE}) / best "
            f"hand-tiled ONNX Runtime raw forward (tile {x['raw_tile']}), `{m}` | "
            f"{x['ratio']:.2f} (engine {x['engine_s']:.1f} s, raw {x['raw_s']:.1f} s; CPU time "
            f"{x['cpu_ratio']:.2f}); **{x['speedup']:.2f}x the speed of the default (torch) "
            f"engine** in the same turn ({x['torch_engine_s']:.1f} s); peak RSS "
            f"{x['peak_kib'] / 1024:.0f} MiB against {x['torch_peak_kib'] / 1024:.0f} | report | |")
    fw = r.get("real_fast")
    if fw and "other" in fw:
        lines.append(
            f"| `upscale_to_zarr` default `disr` (coarse-grid network distilled from the U-Net, "
            f"since round 7) against `weights='{fw['other']}'` (the U-Net, the default before), "
            f"{fw['n_days']} x {real}^2 days, best of 2 runs each, alternated | "
            f"**{fw['speedup']:.2f}x** its speed (runs "
            + ", ".join(f"{v:.1f}" for v in fw["default_s"]) + " s against "
            + ", ".join(f"{v:.1f}" for v in fw["other_s"]) + f" s); a year "
            f"{fw['year_h_default']:.2f} h against {fw['year_h_other']:.2f} h; peak RSS "
            f"{fw['default_peak_kib'] / 1024:.0f} MiB against {fw['other_peak_kib'] / 1024:.0f}"
            + (f" (`--rerun-fast`, load {fw['load']})" if "load" in fw else "")
            + " | report | |")
    lines += [
        f"| peak RSS, default `disr`, {rl['disr'].get('days_per_engine_run', nd)} days of "
        f"{real}^2 per run -> x4 | {disr_gb:.2f} GB "
        f"({rl['disr']['peak_kib'] / 1024:.0f} MiB; {rl['disr']['base_kib'] / 1024:.0f} MiB "
        f"after imports) | < 3 GB | {ok(disr_gb, 2.9999)} |",
        f"| peak RSS, `disr` on {', '.join(map(str, flat_steps))} days of {fsz}^2: max / min"
        + (f" of each length's worst of {len(fl['repeat_peaks_kib'][str(flat_steps[0])])} runs"
           f" (runs: " + "; ".join(
               ", ".join(f"{v / 1024:.0f}" for v in fl["repeat_peaks_kib"][str(n)])
               for n in flat_steps) + " MiB)" if "repeat_peaks_kib" in fl else "")
        + f" | {fl['spread']:.3f} ("
        + ", ".join(f"{fl['runs'][str(n)]['peak_kib'] / 1024:.0f}" for n in flat_steps)
        + f" MiB; above the imports {fl['spread_above_imports']:.2f}) | <= 1.10 | "
        f"{ok(fl['spread'], 1.10)} |",
        f"| one year of daily {real}^2 tiles at x4, `disr` (from {nd} days; wall time of this "
        f"run{year_cpu_txt('disr', 3600, 'h')}) | {year['disr'] / 3600:.2f} h | < 1.5 h | "
        f"{ok(year['disr'] / 3600, 1.5)} |",
        f"| same, `sisr` | {year['sisr'] / 60:.1f} min{year_cpu_txt('sisr', 60, 'min', True)} | "
        f"< 20 min | {ok(year['sisr'] / 60, 20)} |",
        f"| same, `bicubic` | {year['bicubic'] / 60:.1f} min"
        f"{year_cpu_txt('bicubic', 60, 'min', True)} | | |",
        f"| dask.distributed 2 workers vs 1 (`sisr`, {sc['n_days']} days of {real}^2) / the "
        f"machine's 2-process ceiling | {sc['fraction']:.2f} (speed-up {sc['speedup']:.2f}x: "
        f"{sc['workers_1_s']:.1f} -> {sc['workers_2_s']:.1f} s; ceiling {sc['ceiling']:.2f}x) | "
        f">= 0.9 | {scaling_status} |",
        f"| dask.distributed, 1 worker of 1 thread / 1 raw process (`sisr`, same days): the "
        f"engine's cost on a worker | {sc['workers_1_s'] / sc['raw_1_process_s']:.2f} "
        f"({sc['workers_1_s']:.1f} s / {sc['raw_1_process_s']:.1f} s) | report | |",
        *([f"| same, the days dealt as whole tasks (each worker runs `upscale_to_zarr` on its "
           f"share, synchronous scheduler) / the ceiling | "
           f"{sc['tasks_speedup'] / sc['ceiling']:.2f} (speed-up {sc['tasks_speedup']:.2f}x: "
           f"{sc['tasks_1_worker_s']:.1f} -> {sc['tasks_2_workers_s']:.1f} s) | report | |"]
          if "tasks_speedup" in sc else []),
    ]
    if st is None:
        lines.append("| STAC -> Zarr (`open_stac`, `sisr`) | not run: no MOD11A1 STAC catalog "
                     "(`modis_h18v04_2020/catalog.json` under `--root` or the data folder) | "
                     "report | |")
    else:
        held = sum(st["tiles_with_data"])
        tot = st["tiles_per_day"] * st["n_times"]
        per_day = st["seconds"] / st["n_times"]
        full_day = rl["sisr"]["engine_s"] / nd
        lines.append(
            f"| STAC -> Zarr, MODIS cube {_cube_name(st)} (`open_stac`, `sisr`, {st['n_times']} whole "
            f"{st['shape'][1]}^2 tiles) | {st['seconds']:.1f} s ({per_day:.1f} s per day; a "
            f"day with no gaps: {full_day:.1f} s; reading the COGs alone: "
            f"{st.get('read_s', float('nan')) / st['n_times']:.2f} s per day); {held} of {tot} "
            "model tiles held data, the "
            f"rest skipped; {st['closing'][3] if st['closing'] else '?'} of {st['n_times']} "
            "regions without a valid pixel | report | |")
    for e in r.get("earlier_runs", []):  # other full runs of the same session, for the spread
        lines += ["", f"An earlier full run of the same session (`{e['cmd']}`, load "
                  f"{e['loads']['start'][0]:.1f}-{max(v[0] for v in e['loads'].values()):.1f}) "
                  "gave, as engine / raw wall (CPU) ratios: "
                  + ", ".join(f"`{m}` {e['real'][m]['ratio']:.2f} ({e['real'][m]['cpu_ratio']:.2f})"
                              for m in METHODS)
                  + f"; distributed {e['scaling']['fraction']:.2f} of a "
                  f"{e['scaling']['ceiling']:.2f}x ceiling. The spread between the runs is the "
                  "precision of these ratios on this shared machine."]
    lines += ["", "Peak RSS of the real-size runs (VmHWM of a fresh process; after imports in "
              "brackets): " + ", ".join(
                  f"`{m}` {rl[m]['peak_kib'] / 1024:.0f} MiB ({rl[m]['base_kib'] / 1024:.0f})"
                  for m in METHODS)
              + "; the raw processes peaked at most at "
              + ", ".join(f"{rl[m].get('raw_peak_kib', 0) / 1024:.0f}" for m in METHODS)
              + " MiB. A year at the raw limit (same projection): "
              + ", ".join(f"`{m}` {year_raw[m] / 60:.0f} min" for m in METHODS) + "."]

    # tile sizes
    ts = [str(t) for t in s["sweep_tiles"]]
    lines += ["", "## Tile size, ONNX Runtime and torch.compile", "",
              "Raw forward (one thread; torch in channels-last, ONNX Runtime's session on numpy "
              "arrays, the two in turn in each round; interior tiles with a full "
              "receptive-field halo, best of "
              f"{s['sweep_rounds']}): seconds per million coarse (input) pixels; the engine "
              f"(`upscale_to_zarr`, threaded, 2 workers) with `tile=` each size: seconds.", "",
              "| | " + " | ".join(f"tile {t}" for t in ts) + " | |", "|---|"
              + "---|" * (len(ts) + 1)]
    for m in METHODS:
        v = tl[m]["s_per_mpx"]
        extra = f"whole image {v['whole']:.2f}" if "whole" in v else ""
        name = "torch " if "onnxruntime_s_per_mpx" in tl[m] else ""
        lines.append(f"| raw `{m}`, {name}s / Mpx | " + " | ".join(f"{v[t]:.2f}" for t in ts)
                     + f" | {extra} |")
        o = tl[m].get("onnxruntime_s_per_mpx")
        if o:
            lines.append(f"| raw `{m}`, ONNX Runtime s / Mpx (speed-up over torch) | "
                         + " | ".join(f"{o[t]:.2f} ({v[t] / o[t]:.2f}x)" for t in ts)
                         + f" | outputs within {tl[m]['onnxruntime_max_abs_diff_k']:.1e} K |")
    for m, v in et.items():
        lines.append(f"| engine `{m}`, {v['n_days']} day(s) of {real}^2, s | "
                     + " | ".join(f"{v[t]:.1f}" for t in ts) + " | |")
    for m, v in et.items():
        if "peak_kib" in v:
            lines.append(f"| engine `{m}`, peak RSS, MiB | "
                         + " | ".join(f"{v['peak_kib'][t] / 1024:.0f}" for t in ts) + " | |")
    lines.append("")
    for m in TORCH_METHODS:
        c = tl[m].get("compile")
        if c is None:
            continue
        if "error" in c:
            lines.append(f"- torch.compile `{m}`: failed here ({c['error']}).")
        else:
            lines.append(
                f"- torch.compile `{m}` (inductor, default mode, tile 128 + halo): "
                f"{c['speedup']:.2f}x eager's speed ({c['compiled_s_per_mpx']:.2f} vs "
                f"{c['eager_s_per_mpx']:.2f} s / Mpx), after {c['compile_s']:.0f} s of "
                f"compilation and {c['second_shape_s']:.0f} s more for a second tile shape (the "
                f"engine's tiles come in up to 9 shapes per image: edge tiles have a one-sided "
                f"halo); outputs within {c['max_abs_diff_k']:.1e} K.")

    # profile
    lines += ["", "## Where the engine's time goes", "",
              f"cProfile of `upscale_to_zarr` on {s['profile_days']} real-size day(s), "
              "synchronous scheduler, one torch thread (the profiler slows Python-heavy parts "
              "more than the forward): seconds, exclusive"
              + (f" (rerun alone: `{r['profile_rerun']}`)" if r.get("profile_rerun") else "")
              + ".", "",
              "| part | " + " | ".join(f"`{m}`" for m in pf) + " |",
              "|---|" + "---|" * len(pf)]
    rows = {m: profile_rows(pf[m]) for m in pf}
    tot = {m: pf[m][PROFILE_PARTS[0][0]] for m in pf}
    for i, (label, _) in enumerate(next(iter(rows.values()))):
        lines.append(f"| {label} | " + " | ".join(
            f"{rows[m][i][1]:.2f} ({rows[m][i][1] / tot[m]:.0%})" for m in pf) + " |")
    lines.append("| total | " + " | ".join(f"{tot[m]:.2f}" for m in pf) + " |")
    raw_tiles = ", ".join(f"`{m}` {rl[m]['raw_tile']}" for m in METHODS)
    lines += ["", "## Reading", "", *kept, *r.get("reading", []),
        "", "## Notes", "",
        "- Raw limit: per method, the same model (`get_method(name).model()`, the bundled "
        "weights in channels-last; for `backend='onnxruntime'` its session called directly "
        "on numpy arrays) called on tiles preloaded as tensors - every tile of the "
        "days whose core holds a valid pixel, with the receptive-field halo, gaps filled "
        "beforehand (not timed), the guide's tiles preloaded too - in 2 fresh processes of one "
        "torch thread each, tiles dealt round-robin, started together; the time from the first "
        "start to the last end. Tile size: the fastest raw tile of the sweep above "
        f"({raw_tiles}; None: whole images), split "
        "near-equally over the image as the engine splits it. `bicubic`'s raw is "
        "`xlstsr.kernels.interp.cubic_upsample`. "
        + ("The raw processes run with glibc's default allocator, as a hand-written loop does "
           "(and as the issue measured its limit); the row below each method's runs the same raw "
           "processes inside `xlstsr.engine.regions.region_allocation`, the settings the "
           "engine's regions run with (glibc's heap serves buffers up to 32 MiB instead of "
           "fresh, page-faulted mappings): a faster limit still." if r.get("raw_allocation")
           else ""),
        ("- Order: raw on a quarter of the days, the engine on half of them, raw on the next "
         "quarter, raw, engine, raw on the rest (each in fresh processes), so that load that "
         "drifts or comes and goes weighs on both sides alike."
         if len(rl["disr"].get("engine_runs_s", [])) > 1
         else "- Order: raw on the first half of the days (default allocator, then inside "
         "`region_allocation`), the engine in one `upscale_to_zarr` call on all of them (as a "
         "user runs it: its fixed start is paid once), raw on the second half (inside "
         "`region_allocation`, then the default allocator), each in fresh processes, so that "
         "load that drifts weighs on both sides alike.") + " The engine runs in a fresh process "
        "too and is timed around the `upscale_to_zarr` call (the model load, the template write, "
        "the input fingerprint and the checks included; imports not). CPU time: "
        "`time.process_time()` of the processes over the same spans (every thread), which other "
        "jobs on the machine hardly change: the engine's work against the raw work.",
        "- Peak RSS: VmHWM from /proc/self/status of that process (imports included).",
        "- Distributed: both `LocalCluster`s (1 x 1 thread, 2 x 1 thread) kept running, workers "
        "warmed up by a first run, then the two and the two raw runs timed in turn "
        f"(best of {s['scale_rounds']}). `upscale_to_zarr` sends each region (here a day) to "
        "the cluster as one task, computed on one worker thread with the synchronous scheduler.",
        "- Engine tiles (`tile='auto'`): "
        + ", ".join(f"`{m}` {t}" for m, t in r.get("engine_tile", {}).items())
        + " coarse px (declared by the method or its model, `tile_size`).",
        "- The xbatcher + DataLoader comparison of the earlier version of this benchmark is "
        "dropped: the hand-tiled raw forward on preloaded tensors is a lower bound for any "
        "hand-written loop.",
        "",
        "Raw figures (JSON):", "", "```json",
        json.dumps({k: v for k, v in r.items() if k != "reading"}, indent=1, default=float),
        "```", "",
    ]
    return "\n".join(lines)


def reading(r: dict) -> list[str]:
    """The readings that follow from the numbers (met or not, by how much, where time goes)."""
    s, rl, sc, pf, tl, et = (r[k] for k in ("sizes", "real", "scaling", "profile", "tiles",
                                           "engine_tiles"))
    nd, real = s["real_days"], s["real"]
    tiles = r.get("engine_tile") or {m: r.get("torch_tile", 128) for m in TORCH_METHODS}
    out = []
    for m in METHODS:
        x = rl[m]
        reg = x["regions_s"]
        cpu_txt = f" and {x['cpu_ratio']:.2f}x its CPU time" if "cpu_ratio" in x else ""
        out.append(
            f"- `{m}`: the engine took {x['ratio']:.2f}x the raw limit's wall time "
            f"({ok(x['ratio'], 1.15)}){cpu_txt}; {x['engine_s'] / nd:.1f} s per day against "
            f"{x['raw_s'] / nd:.1f} s; regions took {min(reg):.1f}-{max(reg):.1f} s each (two in "
            "flight); the runs took "
            + ", ".join(f"{v:.1f}" for v in x.get("engine_runs_s", [x["engine_s"]]))
            + " s (engine) and " + ", ".join(f"{v:.1f}" for v in x["raw_runs_s"])
            + " s (raw), in the order of the notes.")
    for m, target in (("disr", 90.0), ("sisr", 20.0)):
        x = rl[m]
        year_min, raw_min = 365 * x["engine_s"] / nd / 60, 365 * x["raw_s"] / nd / 60
        if year_min >= target and "engine_cpu_s" in x:
            cpu_min = 365 * x["engine_cpu_s"] / nd / 2 / 60
            out.append(
                f"- A year of `{m}` projects to {year_min:.0f} min from this run's wall time, "
                f"over the {target:.0f} min target, where the raw limit itself projects "
                f"{raw_min:.0f} min under the same load: the load, not the engine, sets it; from "
                f"the engine's CPU time on 2 free cores it is {cpu_min:.0f} min.")
    rows = {m: dict(profile_rows(pf[m])) for m in pf}
    tot = {m: pf[m][PROFILE_PARTS[0][0]] for m in pf}
    fwd_key = "the model's forward (`bicubic`: its kernel)"
    fwd = {m: rows[m].get(fwd_key, pf[m].get("model forward", 0.0)) for m in pf}
    for m in TORCH_METHODS:
        if m not in rows:
            continue
        tile = tiles[m]
        n_tiles = len(tile_grid(real, tile)) ** 2
        v = rows[m]
        rest = v["the rest: scheduling, output reassembly, region bookkeeping"]
        wr = v["Zarr writes (compress + store)"]
        out.append(
            f"- Where `{m}`'s time goes (profile, one day, one thread): {tot[m]:.1f} s, the "
            f"forward {fwd[m]:.1f} s ({fwd[m] / tot[m]:.0%}); scheduling, output reassembly and "
            f"bookkeeping {rest:.2f} s ({rest / n_tiles * 1e3:.0f} ms for each of the {n_tiles} "
            f"tiles of {tile} px"
            + (", the guide's windows assembled from its chunks included" if m == "disr"
               else "") + f"), compressing and writing the {real * FACTOR}^2 output "
            f"{wr:.2f} s, the engine's kernels (gap filling, re-masking, tensors in and out, "
            f"guide) {tot[m] - fwd[m] - rest - wr:.2f} s with the fixed costs (graph, checks, "
            "fingerprint). Writing the output alone is "
            f"{wr / fwd[m]:.2f}x the forward: against a raw limit that writes nothing, 1.15 "
            f"leaves {max(0.0, 0.15 - wr / fwd[m]):.2f}x of it for everything else.")
    if "bicubic" in rows:
        v = rows["bicubic"]
        wrp = v["Zarr writes (compress + store)"]
        sp = tl["bicubic"]["s_per_mpx"]
        txt = (f"- Where `bicubic`'s time goes: on tiles of {tiles.get('bicubic')} px (whole "
               f"images cost {sp['whole']:.2f} s / Mpx in the raw sweep against "
               f"{min(v for k, v in sp.items() if k != 'whole'):.2f} on tiles), its kernel took "
               f"{fwd['bicubic']:.2f} s of the {tot['bicubic']:.2f} s of a day in the profile, "
               f"compressing and writing the {real * FACTOR}^2 output {wrp:.2f} s.")
        w = r.get("write")
        if w:
            cd = w["codecs"]
            dflt = cd["Blosc LZ4 + shuffle (default)"]
            floor = (w["kernel_cpu_s"] + dflt["cpu_s"]) / w["kernel_cpu_s"]
            txt += (
                f" Measured alone on one day ({w['mb']:.0f} MB of float32 output, chunks "
                f"{w['chunks'][1]}^2): the tiled kernel {w['kernel_cpu_s']:.2f} s CPU; writing "
                "its output "
                + ", ".join(f"{k} {c['cpu_s']:.2f} s CPU ({c['wall_s']:.2f} s wall) to "
                            f"{c['size_ratio']:.2f} of the raw size" for k, c in cd.items())
                + f". Writing costs {dflt['cpu_s'] / w['kernel_cpu_s']:.2f}x the kernel with the "
                f"default codec and {cd['none']['cpu_s'] / w['kernel_cpu_s']:.2f}x uncompressed:"
                f" kernel plus write alone is {floor:.2f}x a limit that writes nothing"
                + (", so 1.15 is out of reach for `bicubic` by writing to Zarr at all"
                   if floor > 1.15 else "")
                + "; uncompressed would save "
                f"{dflt['cpu_s'] - cd['none']['cpu_s']:.2f} s CPU a day for "
                f"{1 / dflt['size_ratio']:.1f}x the disk, so the default codec stays. What would "
                "reach 1.15: not writing (the lazy `xlstsr.upscale` result consumed in memory), "
                "or a comparison against a raw limit that writes its output too.")
        out.append(txt)
    t_sisr = {int(k): v for k, v in et.get("sisr", {}).items() if k.isdigit()}
    t_disr = {int(k): v for k, v in et.get("disr", {}).items() if k.isdigit()}
    ts, td = tiles.get("sisr"), tiles.get("disr")
    if t_sisr and t_disr and ts in t_sisr and td in t_disr:
        bs = min(t_sisr, key=t_sisr.get)
        pk = et["disr"].get("peak_kib", {})
        mem = ""
        if pk:
            mem = (" `disr`'s peak RSS grew with the tile: "
                   + ", ".join(f"{pk[str(t)] / 1024:.0f} MiB at {t}" for t in sorted(t_disr))
                   + ".")
        out.append(
            f"- Tile size: the engine ran `sisr` fastest with tile {bs} ({t_sisr[bs]:.1f} s; "
            f"{t_sisr[ts]:.1f} s at its declared tile {ts}); `disr` (declared tile {td}) took "
            + ", ".join(f"{t_disr[t]:.1f} s at {t}" for t in sorted(t_disr))
            + " (one day each, in fresh processes: single runs, which the other jobs on the "
            "machine move by tens of percent); the raw `disr` model costs least per pixel at "
            f"{min((k for k in tl['disr']['s_per_mpx']), key=tl['disr']['s_per_mpx'].get)}."
            + mem)
    c = [tl[m].get("compile") for m in TORCH_METHODS]
    if all(isinstance(x, dict) and "speedup" in x for x in c):
        out.append(
            f"- torch.compile: {c[0]['speedup']:.2f}x (`sisr`) and {c[1]['speedup']:.2f}x "
            "(`disr`) the eager channels-last forward, compiled per tile shape (up to 9 per "
            "image; 5 s or less each here with the inductor cache on disk warm from earlier "
            "runs, 28-52 s cold in a smoke run the same day): not made the default; an opt-in "
            f"would save {1 - 1 / c[0]['speedup']:.0%} and {1 - 1 / c[1]['speedup']:.0%} of the "
            "forward at this measurement's precision (single timings on a shared machine).")
    if "tasks_per_day" in sc:
        sisr_day = rl["sisr"]["engine_s"] / nd
        w1 = sc["workers_1_s"] / sc["n_days"]
        r1 = sc["raw_1_process_s"] / sc["n_days"]
        txt = (f"- Distributed: one worker took {w1:.1f} s per day, {w1 / sisr_day:.1f}x the "
               f"threaded engine's {sisr_day:.1f} s per day on 2 threads and {w1 / r1:.2f}x one "
               f"raw process's {r1:.1f} s (workers start with MALLOC_TRIM_THRESHOLD_=65536, "
               "which fixes glibc's mmap threshold at 128 KiB: every torch buffer was then a "
               "fresh mapping, page-faulted anew, and a worker took 1.7x the CPU of the same "
               "region in a plain process before regions ran under "
               "`xlstsr.engine.regions.region_allocation`); 2 workers gave "
               f"{sc['speedup']:.2f}x over one where two raw processes gave "
               f"{sc['ceiling']:.2f}x ({sc['fraction']:.0%} of the ceiling). Each region (a "
               "day) goes to a worker as one task and is computed there with the synchronous "
               f"scheduler; a day's graph is {sc['tasks_per_day']} dask tasks (one per tile, "
               "with its store and checks).")
        if "tasks_speedup" in sc:
            txt += (f" Dealt as whole tasks (each worker computing its days with the "
                    f"synchronous scheduler) the same days took {sc['tasks_1_worker_s']:.1f} s "
                    f"on one worker and {sc['tasks_2_workers_s']:.1f} s on two: "
                    f"{sc['tasks_speedup']:.2f}x, {sc['tasks_speedup'] / sc['ceiling']:.0%} of "
                    "the ceiling.")
        if sc["ceiling"] < 1.3:
            txt += (f" Two raw processes were only {sc['ceiling']:.2f}x one in this run: other "
                    "jobs held the second core (load in the header), so this row does not test "
                    "scaling; rerun on a quiet machine.")
        out.append(txt)
    else:
        out.append(
            f"- Scaling: 2 workers gave {sc['speedup']:.2f}x over 1 where two raw processes "
            f"gave {sc['ceiling']:.2f}x over one: {sc['fraction']:.0%} of the ceiling.")
    return out


_T0 = time.perf_counter()


def stage(what: str) -> None:
    print(f"[{time.perf_counter() - _T0:6.0f} s, load {os.getloadavg()[0]:.1f}] {what} ...",
          flush=True)


def earlier_figures(path: Path) -> dict:
    """The raw figures of an earlier run: a JSON file, or the JSON block of an engine.md.

    Raises SystemExit, naming the fix, for a file that is missing or holds no such figures.
    """
    what = ("pass an engine.md written by this script (it ends with the raw figures in a "
            "```json block) or that block saved as a JSON file")
    if not path.is_file():
        raise SystemExit(f"{Path(__file__).name}: {path}: no such file: {what}")
    text = path.read_text()
    if path.suffix == ".md":  # the raw figures embedded in an earlier engine.md
        if "```json\n" not in text:
            raise SystemExit(f"{Path(__file__).name}: {path} holds no ```json block of raw "
                             f"figures (not an engine.md): {what}")
        text = text.split("```json\n", 1)[1].split("\n```", 1)[0]
    try:
        r = json.loads(text)
    except json.JSONDecodeError as e:
        raise SystemExit(f"{Path(__file__).name}: {path}: its raw figures are not JSON ({e}): "
                         f"{what}") from None
    if not isinstance(r, dict) or not isinstance(r.get("args"), dict) or "sizes" not in r:
        raise SystemExit(f"{Path(__file__).name}: {path}: not the raw figures of an engine.py "
                         f"run (no 'args' / 'sizes'): {what}")
    return r


def earlier_run(md: Path) -> tuple[dict, dict]:
    """The raw figures embedded in an earlier engine.md and the sizes that run used."""
    r = earlier_figures(md)
    return r, (SMOKE if r["args"]["smoke"] else FULL)


def run_command(args: argparse.Namespace) -> str:
    """The command of this run as the page's "Generated by" line records it: environment,
    niceness, ``--smoke`` and ``--root`` (absolute, only when given) as it ran."""
    omp = os.environ.get("OMP_NUM_THREADS")
    return ((f"OMP_NUM_THREADS={omp} " if omp else "")
            + f"nice -n {os.nice(0)} .venv/bin/python benchmarks/engine.py"
            + (" --smoke" if args.smoke else "")
            # the data measured: left out, the command reran the project's cube, not this one
            + ("" if args.root is None else f" --root {shlex.quote(str(Path(args.root).resolve()))}"))


def main(argv: list[str] | None = None) -> int:
    ap = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    ap.add_argument("--smoke", "--quick", dest="smoke", action="store_true",
                    help="tiny sizes, timings taken once (a smoke test)")
    ap.add_argument("--root", type=Path, default=None,
                    help="data folder holding modis_h18v04_2020/ (or that cube's folder) for the "
                    "STAC -> Zarr figure (default: the project's data folder); the rest of the "
                    "benchmark is on synthetic cubes")
    ap.add_argument("--out", type=Path, default=None,
                    help="folder of engine.md (default: docs/results, or ./heldback_results "
                    "with a --root that is not the project's data)")
    ap.add_argument("--render", type=Path, default=None,
                    help="rewrite engine.md from the raw figures of an earlier run (a JSON file, "
                    "or an engine.md with its JSON block); no measurement")
    ap.add_argument("--rerun-scaling", type=Path, default=None, metavar="MD",
                    help="rerun only the distributed scaling figure (on a quieter machine) into "
                    "the raw figures of an earlier engine.md, and rewrite it")
    ap.add_argument("--rerun-profile", type=Path, default=None, metavar="MD",
                    help="rerun only the profile (where the engine's time goes) into the raw "
                    "figures of an earlier engine.md, and rewrite it")
    ap.add_argument("--rerun-fast", type=Path, default=None, metavar="MD",
                    help="run only the comparison of the default disr with weights='unet' "
                    "weights into the raw figures of an earlier engine.md, and rewrite it")
    args = ap.parse_args(argv)
    from xlstsr.datasets.root import results_dir

    if args.root is not None and stac_catalog(args.root) is None:
        # refused up front: the run took minutes of synthetic figures, then wrote "not run"
        raise SystemExit(f"{Path(__file__).name}: --root {args.root}: no MOD11A1 STAC catalog "
                         f"({args.root / 'modis_h18v04_2020' / 'catalog.json'} or "
                         f"{args.root / 'catalog.json'}): pass --root the data folder holding "
                         "modis_h18v04_2020/ (or that cube's folder), or leave --root out (the "
                         "project's data)")
    published = ROOT / "docs" / "results"  # the synthetic figures, and the project's cube

    def out_dir(earlier: dict | None = None) -> Path:
        """engine.md's folder: a smoke run (a test of the code path) or a run on held-back data
        never replaces the published page. --render / --rerun-* judge by the earlier run the
        figures come from (its smoke flag, its --root and the STAC catalog it read), not by
        this command's flags alone."""
        smoke, folders = args.smoke, [args.root] if args.root else []
        if earlier is not None:
            smoke = smoke or bool(earlier["args"]["smoke"])
            folders += [f for f in (earlier["args"].get("root"),
                                    (earlier.get("stac") or {}).get("catalog")) if f]
        return results_dir(args.out, published, *folders, smoke=smoke)

    if args.rerun_profile is not None:
        r, s = earlier_run(args.rerun_profile)
        args.out = out_dir(r)  # checked before the rerun (a file as --out: after it, lost)
        with tempfile.TemporaryDirectory(prefix="xlstsr-bench-") as tmp:
            cube = make_cube(Path(tmp), "real", s["profile_days"], s["real"], seed=0)
            r["profile"] = bench_profile(cube, s["profile_days"], Path(tmp))
        omp = os.environ.get("OMP_NUM_THREADS")
        r["profile_rerun"] = ((f"OMP_NUM_THREADS={omp} " if omp else "")
                              + f"nice -n {os.nice(0)} .venv/bin/python benchmarks/engine.py "
                              f"--rerun-profile {args.rerun_profile}")
        r["reading"] = reading(r)
        args.out.mkdir(parents=True, exist_ok=True)
        (args.out / "engine.md").write_text(render(r, kept_items(args.rerun_profile)))
        print(json.dumps(r["profile"]), flush=True)
        return 0
    if args.rerun_fast is not None:
        r, s = earlier_run(args.rerun_fast)
        args.out = out_dir(r)  # checked before the rerun (a file as --out: after it, lost)
        load = tuple(round(v, 2) for v in os.getloadavg())
        with tempfile.TemporaryDirectory(prefix="xlstsr-bench-") as tmp:
            cube = make_cube(Path(tmp), "real", s["real_days"], s["real"], seed=0)
            r["real_fast"] = bench_real_fast(cube, s["real_days"], Path(tmp))
        r["real_fast"]["load"] = load
        r["reading"] = reading(r)
        args.out.mkdir(parents=True, exist_ok=True)
        (args.out / "engine.md").write_text(render(r, kept_items(args.rerun_fast)))
        return 0
    if args.rerun_scaling is not None:
        r, s = earlier_run(args.rerun_scaling)
        args.out = out_dir(r)  # checked before the rerun (a file as --out: after it, lost)
        with tempfile.TemporaryDirectory(prefix="xlstsr-bench-") as tmp:
            cube = make_cube(Path(tmp), "real", s["scale_days"], s["real"], seed=0)
            load = tuple(round(v, 2) for v in os.getloadavg())
            sc = bench_scaling(cube, s["scale_days"], r["best_tile"]["sisr"], s["scale_rounds"],
                               Path(tmp))
        omp = os.environ.get("OMP_NUM_THREADS")
        sc["rerun"] = {"cmd": (f"OMP_NUM_THREADS={omp} " if omp else "")
                       + f"nice -n {os.nice(0)} .venv/bin/python benchmarks/engine.py "
                       f"--rerun-scaling {args.rerun_scaling}", "load": load,
                       "end_load": tuple(round(v, 2) for v in os.getloadavg())}
        r["scaling"] = sc
        r["reading"] = reading(r)
        args.out.mkdir(parents=True, exist_ok=True)
        (args.out / "engine.md").write_text(render(r, kept_items(args.rerun_scaling)))
        print(json.dumps(sc), flush=True)
        return 0
    if args.render is not None:
        r = earlier_figures(args.render)
        r["reading"] = reading(r)
        args.out = out_dir(r)
        args.out.mkdir(parents=True, exist_ok=True)
        # an engine.md's own hand-written items; from a JSON file, those of the page replaced
        kept = kept_items(args.render if args.render.suffix == ".md" else args.out / "engine.md")
        (args.out / "engine.md").write_text(render(r, kept))
        return 0
    import torch

    import xlstsr
    from xlstsr.methods import get_method
    from xlstsr.methods.torch_model import TORCH_TILE

    args.out = out_dir()
    s = SMOKE if args.smoke else FULL
    global IN_PROCESS
    IN_PROCESS = args.smoke
    loads = {"start": tuple(round(v, 2) for v in os.getloadavg())}
    t0 = time.perf_counter()
    with tempfile.TemporaryDirectory(prefix="xlstsr-bench-") as tmp:
        work = Path(tmp)
        stage("inputs")
        real = make_cube(work, "real", s["real_days"], s["real"], seed=0)
        flat = make_cube(work, "flat", max(s["flat_steps"]), s["flat_size"], seed=1)

        stage("tile sizes: raw forward")
        # torch.compile takes minutes to compile even tiny models: not in a smoke run
        tiles = bench_tiles(real, s["sweep_tiles"], s["sweep_area"], s["sweep_rounds"],
                            compile_=not args.smoke)
        print(json.dumps(tiles, default=float), flush=True)
        best_tile, best_onnx_tile = {}, {}
        for m in METHODS:  # the fastest tile of the sweep, per backend, is the raw limit's
            v = tiles[m]["s_per_mpx"]
            k = min(v, key=v.get)
            best_tile[m] = None if k == "whole" else int(k)
            o = tiles[m].get("onnxruntime_s_per_mpx")
            if o:
                best_onnx_tile[m] = int(min(o, key=o.get))
        stage("tile sizes: engine")
        etiles = bench_engine_tiles(real, s["sweep_tiles"], s["engine_sweep_days"], work)
        print(json.dumps(etiles), flush=True)

        stage(f"real-size days ({s['real_days']} x {s['real']}^2)")
        loads["real"] = tuple(round(v, 2) for v in os.getloadavg())
        rl = bench_real(real, s["real_days"], best_tile, s["raw_splits"], work)
        if best_onnx_tile:
            stage("real-size days with backend='onnxruntime'")
            rl_onnx = bench_real_onnx(real, s["real_days"], best_onnx_tile, work)
            print(json.dumps(rl_onnx), flush=True)
        stage("real-size days: the default disr against weights='unet'")
        rl_fast = bench_real_fast(real, s["real_days"], work)

        stage(f"memory flatness ({s['flat_steps']} x {s['flat_size']}^2)")
        fl = bench_flat(flat, s["flat_steps"], work, concurrent=args.smoke,
                        repeats=s.get("flat_repeats", 1))
        print(json.dumps(fl), flush=True)

        stage("STAC -> Zarr")
        st = bench_stac(s["stac_days"], work, args.root)
        print(json.dumps(st, default=float)[:2000], flush=True)

        stage("scaling")
        loads["scaling"] = tuple(round(v, 2) for v in os.getloadavg())
        sc = bench_scaling(real, s["scale_days"], best_tile["sisr"], s["scale_rounds"], work)
        print(json.dumps(sc), flush=True)

        stage("profile")
        pf = bench_profile(real, s["profile_days"], work)
        print(json.dumps(pf), flush=True)

        stage("writing the output alone")
        wr = bench_write(real, s["sweep_rounds"] + 1, work)
        print(json.dumps(wr), flush=True)
    loads["end"] = tuple(round(v, 2) for v in os.getloadavg())
    r = {
        "cmd": run_command(args), "total_s": time.perf_counter() - t0,
        "host": f"{platform.node()} ({os.cpu_count()} cores, "
                f"{platform.processor() or platform.machine()})",
        "torch": torch.__version__, "xlstsr": xlstsr.__version__, "loads": loads,
        "args": {"smoke": args.smoke,
                 "root": None if args.root is None else str(args.root.resolve())}, "sizes": s, "real": rl, "flat": fl, "stac": st,
        "scaling": sc, "tiles": tiles, "best_tile": best_tile, "best_onnx_tile": best_onnx_tile,
        "real_onnx": rl_onnx if best_onnx_tile else None, "real_fast": rl_fast,
        "engine_tiles": etiles,
        "profile": pf, "torch_tile": TORCH_TILE, "write": wr,
        "engine_tile": {m: get_method(m).tile_size(FACTOR) for m in METHODS},
        "raw_allocation": "region_allocation",
    }
    r["reading"] = reading(r)
    args.out.mkdir(parents=True, exist_ok=True)
    text = render(r, kept_items(args.out / "engine.md"))  # the replaced page's hand-written items
    (args.out / "engine.md").write_text(text)
    print(text)
    return 0


if __name__ == "__main__":
    from xlstsr.datasets.root import exit_on_missing_data

    exit_on_missing_data(main, __file__, flags="--root DIR")  # missing data: one line naming the fix

"""Command line: ``xlstsr demo``, ``xlstsr upscale``, ``xlstsr train`` (parsing only; layer 2 does the work)."""

from __future__ import annotations

import argparse
import sys
import time
from pathlib import Path

__all__ = ["main"]

#: Methods the demo compares on the sample scene; it keeps the one closest to the truth.
DEMO_CANDIDATES = ("bicubic", "tsharp", "dms", "sisr", "disr")


def _demo(args: argparse.Namespace) -> int:
    import numpy as np

    import xlstsr
    from xlstsr.plot import comparison

    out = Path(args.output)
    store = out / "lst_250m.zarr"
    if store.exists() and not args.overwrite:
        print(f"error: {store} exists; pass --overwrite to replace it", file=sys.stderr)
        return 2
    scene = xlstsr.datasets.sample_scene()
    lst, truth, ndvi = scene["lst_1km"], scene["lst_250m"], scene["ndvi_250m"]
    available = xlstsr.available_methods()
    candidates = [args.method] if args.method else [m for m in DEMO_CANDIDATES if m in available]
    results, rmse, lines = {}, {}, []
    for m in dict.fromkeys(["bicubic", *candidates]):
        needs = xlstsr.methods.get_method(m).needs_guide
        t0 = time.perf_counter()
        sr = lst.chunk({"time": 1}).lstsr.upscale(4, method=m, guide=ndvi if needs else None).compute()
        secs = time.perf_counter() - t0
        err = (sr - truth).values
        rmse[m] = float(np.sqrt(np.nanmean(err**2)))
        results[m] = sr
        lines.append(f"{m}: RMSE {rmse[m]:.3f} K, bias {float(np.nanmean(err)):+.3f} K, {secs:.2f} s "
                     f"({lst.sizes['time']} x {lst.sizes['y']}x{lst.sizes['x']} -> x4)")
    method = min(candidates, key=rmse.__getitem__)
    out.mkdir(parents=True, exist_ok=True)
    results[method].to_dataset(name="lst").to_zarr(store, mode="w", zarr_format=3, consolidated=False)
    fig_path = out / "demo.png"
    shown = {m: results[m] for m in dict.fromkeys(["bicubic", method])}
    comparison(lst, shown, truth, path=fig_path,
               title="xlstsr demo on the synthetic sample scene (time 0)")
    metrics_path = out / "metrics.txt"
    metrics_path.write_text("\n".join(lines) + f"\nbest: {method}\n")
    print("xlstsr demo: synthetic sample scene (MODIS sinusoidal, 1 km -> 250 m), RMSE vs its truth")
    for line in lines:
        print("  " + line)
    print(f"wrote {store} (best method: {method}), {fig_path}, {metrics_path}")
    return 0


def _upscale(args: argparse.Namespace) -> int:
    import rioxarray
    import xarray as xr

    import xlstsr

    src = Path(args.input)
    if src.suffix == ".zarr" or src.is_dir():
        ds = xr.open_zarr(src, consolidated=None)
        lst = xlstsr.validate.select_variable(ds, args.variable)
    else:
        lst = rioxarray.open_rasterio(src, chunks={"x": 512, "y": 512}, mask_and_scale=False)
    guide = None
    if args.guide:
        guide = rioxarray.open_rasterio(args.guide, chunks={"x": 2048, "y": 2048}).squeeze(drop=True)
    dst = Path(args.output)
    if dst.exists() and not args.overwrite:
        print(f"error: {dst} exists; pass --overwrite to replace it", file=sys.stderr)
        return 2
    sr = xlstsr.upscale(
        lst, args.factor, args.method, guide, scale_correction=args.scale_correction,
        mask_out_of_range=args.mask_out_of_range,
    )
    if dst.suffix == ".zarr":
        sr.to_dataset(name="lst").to_zarr(dst, mode="w", zarr_format=3, consolidated=False)
    else:
        sr.squeeze(drop=True).rio.to_raster(dst, driver="COG", compress="DEFLATE")
    print(f"wrote {dst}")
    return 0


def _train(argv: list[str]) -> int:
    from xlstsr.train import train_main

    return int(train_main(argv) or 0)


def main(argv: list[str] | None = None) -> int:
    """Entry point of the ``xlstsr`` console script."""
    argv = list(sys.argv[1:] if argv is None else argv)
    if argv[:1] == ["train"]:
        return _train(argv[1:])
    parser = argparse.ArgumentParser(prog="xlstsr", description="Super-resolution of LST datacubes")
    sub = parser.add_subparsers(dest="command", required=True)
    d = sub.add_parser("demo", help="upscale the embedded synthetic sample scene")
    d.add_argument("--output", default="demo_output", help="output folder (default demo_output)")
    d.add_argument("--method", default=None, help="method (default: the best available)")
    d.add_argument("--overwrite", action="store_true", help="replace existing demo outputs")
    u = sub.add_parser("upscale", help="upscale a GeoTIFF/COG or Zarr store")
    u.add_argument("input")
    u.add_argument("output", help="a .zarr store or a .tif (COG)")
    u.add_argument("--factor", type=int, default=4)
    u.add_argument("--method", default="bicubic")
    u.add_argument("--guide", default=None, help="fine guide raster (e.g. NDVI at 250 m)")
    u.add_argument("--variable", default=None, help="LST variable of a Zarr store")
    u.add_argument("--scale-correction", default=None, choices=["auto", "law", "law-lst"],
                   help="correct the scale-invariance assumption of the method's detail "
                   "(xlstsr.correction; 'auto' only damps, uses --guide when given)")
    u.add_argument("--mask-out-of-range", action="store_true",
                   help="mask LST outside 150-400 K instead of stopping with an error")
    u.add_argument("--overwrite", action="store_true")
    sub.add_parser("train", help="train a model (see `xlstsr train --help`)")
    args = parser.parse_args(argv)
    if args.command == "demo":
        return _demo(args)
    return _upscale(args)


if __name__ == "__main__":
    raise SystemExit(main())

"""Command line: ``xlstsr demo``, ``xlstsr upscale``, ``xlstsr train`` (parsing only; layer 2 does the work)."""

from __future__ import annotations

import argparse
import sys
from pathlib import Path

__all__ = ["main"]

def _fail(message: str) -> int:
    print(f"xlstsr: error: {message}", file=sys.stderr)
    return 2


def _demo(args: argparse.Namespace) -> int:
    from xlstsr.demo import run_demo
    from xlstsr.errors import XlstsrError

    try:
        res = run_demo(args.output, method=args.method, overwrite=args.overwrite,
                       progress=not args.quiet)
    except XlstsrError as err:
        return _fail(str(err))
    print("xlstsr demo: real MODIS 1 km LST -> 250 m, scored against co-registered ASTER "
          "(held-out pair 002, cloud edges removed)")
    for line in res.lines():
        print("  " + line)
    print(res.recommendation)
    print(f"wrote {res.store} (8 MOD11A1 days at 250 m, method {res.series_method}), "
          f"{res.figure}, {res.table}")
    return 0


def _upscale(args: argparse.Namespace) -> int:
    import xarray as xr

    import xlstsr
    from xlstsr.errors import XlstsrError
    from xlstsr.io import format_of, open_path
    from xlstsr.validate import select_variable

    try:
        fmt = format_of(args.output)
        src = open_path(args.input)
        guide = None
        if args.guide:
            guide = open_path(args.guide)
            if not isinstance(guide, xr.DataArray):
                guide = select_variable(guide, args.guide_variable, role="guide")
            guide = guide.squeeze(drop=True)
        options = {"mask_out_of_range": args.mask_out_of_range,
                   "scale_correction": args.scale_correction, "variable": args.variable}
        if fmt == "zarr":  # streamed region by region, resumable
            mode = "w" if args.overwrite else ("resume" if args.resume else "w-")
            xlstsr.upscale_to_zarr(src, args.output, args.factor, args.method, guide, mode=mode,
                                   progress=not args.quiet, **options)
        else:
            if Path(args.output).exists() and not args.overwrite:
                return _fail(f"{args.output} exists; pass --overwrite to replace it")
            sr = xlstsr.upscale(src, args.factor, args.method, guide, **options)
            if fmt == "netcdf":
                sr.to_netcdf(args.output)
            else:
                sr.squeeze(drop=True).rio.to_raster(args.output, driver="COG", compress="DEFLATE")
    except (XlstsrError, ValueError, TypeError) as err:
        return _fail(str(err))
    print(f"wrote {args.output}")
    return 0


#: xlstsr.train.MODES, spelled out so that parsing does not import torch (a test keeps them equal)
TRAIN_MODES = ("sisr", "degraded_disr", "sif", "supervised")


def _add_train_parser(sub: argparse._SubParsersAction) -> None:
    t = sub.add_parser(
        "train", help="train a model on an LST cube (and guide/truth), write a checkpoint",
        description="Train a model on an LST cube (and guide/truth) and write a checkpoint, e.g. "
        "`xlstsr train --lst lst_1km.zarr --variable LST --mode sisr --arch rescnn --out sisr.pt`.",
    )
    t.add_argument("--lst", required=True, help="LST cube (Zarr, NetCDF or GeoTIFF), Kelvin")
    t.add_argument("--variable", default=None, help="LST variable name in a Dataset")
    t.add_argument("--guide", default=None, help="fine guide (e.g. NDVI) at factor x the LST grid")
    t.add_argument("--guide-variable", default=None)
    t.add_argument("--truth", default=None, help="fine truth on the output grid (mode supervised)")
    t.add_argument("--truth-variable", default=None)
    t.add_argument("--mode", choices=TRAIN_MODES, default="sisr")
    t.add_argument("--arch", default=None, help="rescnn, mrunet or guided_unet")
    t.add_argument("--factor", type=int, default=4)
    t.add_argument("--patch", type=int, default=64, help="patch size in fine pixels")
    t.add_argument("--epochs", type=int, default=50)
    t.add_argument("--batch-size", type=int, default=16)
    t.add_argument("--lr", type=float, default=1e-3)
    t.add_argument("--patience", type=int, default=10)
    t.add_argument("--val-fraction", type=float, default=0.2)
    t.add_argument("--seed", type=int, default=0)
    t.add_argument("--engine", choices=("auto", "torch", "lightning"), default="auto")
    t.add_argument("--threads", type=int, default=None, help="torch CPU threads")
    t.add_argument("--out", required=True, help="checkpoint file to write (.pt)")


def _train(args: argparse.Namespace, parser: argparse.ArgumentParser) -> int:
    from xlstsr.train import fit_files

    if args.mode == "supervised" and not args.truth:
        parser.error("--mode supervised needs --truth")
    if args.mode == "sif" and not args.guide:
        parser.error("--mode sif needs --guide")
    if args.threads:
        import torch

        torch.set_num_threads(args.threads)
    rec = fit_files(
        args.lst, args.out, variable=args.variable, guide=args.guide,
        guide_variable=args.guide_variable, truth=args.truth, truth_variable=args.truth_variable,
        mode=args.mode, arch=args.arch, factor=args.factor, patch=args.patch,
        val_fraction=args.val_fraction, epochs=args.epochs, batch_size=args.batch_size,
        lr=args.lr, patience=args.patience, seed=args.seed, engine=args.engine,
    )
    hist = rec["history"]
    print(f"wrote {rec['path']}: {hist['epochs_run']} epochs, best validation loss "
          f"{hist['best_val_loss']:.4f}")
    return 0


def main(argv: list[str] | None = None) -> int:
    """Entry point of the ``xlstsr`` console script."""
    argv = list(sys.argv[1:] if argv is None else argv)
    parser = argparse.ArgumentParser(prog="xlstsr", description="Super-resolution of LST datacubes")
    sub = parser.add_subparsers(dest="command", required=True)
    d = sub.add_parser("demo", help="the demo on real MODIS/ASTER data embedded in the package")
    d.add_argument("--output", default="demo_output", help="output folder (default demo_output)")
    d.add_argument("--method", default=None, help="method (default: the best available)")
    d.add_argument("--overwrite", action="store_true", help="replace existing demo outputs")
    d.add_argument("--quiet", action="store_true", help="no progress bar")
    u = sub.add_parser("upscale", help="upscale a GeoTIFF/COG, NetCDF file or Zarr store")
    u.add_argument("input", help="a .tif (GeoTIFF/COG), .nc or .zarr")
    u.add_argument("output", help="a .zarr store (streamed, resumable), a .tif (COG) or a .nc")
    u.add_argument("--factor", type=int, default=4)
    u.add_argument("--method", default="bicubic")
    u.add_argument("--guide", default=None, help="fine guide (e.g. NDVI at 250 m): .tif, .nc or .zarr")
    u.add_argument("--guide-variable", default=None, help="guide variable of a .nc/.zarr guide")
    u.add_argument("--variable", default=None, help="LST variable of a .nc/.zarr input")
    u.add_argument("--scale-correction", default=None, choices=["auto", "law", "law-lst"],
                   help="correct the scale-invariance assumption of the method's detail "
                   "(xlstsr.correction; 'auto' only damps, uses --guide when given)")
    u.add_argument("--mask-out-of-range", action="store_true",
                   help="mask LST outside 150-400 K instead of stopping with an error")
    u.add_argument("--overwrite", action="store_true", help="replace an existing output")
    u.add_argument("--resume", action="store_true",
                   help="complete an interrupted .zarr output (same arguments)")
    u.add_argument("--quiet", action="store_true", help="no progress bar")
    _add_train_parser(sub)
    args = parser.parse_args(argv)
    if args.command == "train":
        return _train(args, sub.choices["train"])
    if args.command == "demo":
        return _demo(args)
    return _upscale(args)


if __name__ == "__main__":
    raise SystemExit(main())

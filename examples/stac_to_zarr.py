"""Workflow 1, a Pangeo analyst: a STAC catalog of MODIS COGs -> 250 m Zarr -> COGs.

The shared catalog (``modis_h18v04_2020``) stores MOD11A1 like Planetary Computer does (uint16
DN x 0.02 K, nodata 0, declared in each asset's ``raster:bands``). ``open_stac`` decodes it into
Kelvin with NaN gaps, ``upscale_to_zarr`` streams the super-resolved cube region by region into a
resumable Zarr store, and the store is reopened with its CRS (``decode_coords="all"``) and cut
into one COG per date. For a remote catalog, pass ``modifier=planetary_computer.sign_inplace``.

Run::

    python examples/stac_to_zarr.py --data ../shared/data --out stac_output
"""

from __future__ import annotations

import argparse
import re
from pathlib import Path

import numpy as np
import pystac
import xarray as xr

import xlstsr
from xlstsr.io import open_stac, to_cogs
from xlstsr.methods import available_methods, get_method

PIXEL = 926.6254331391667  # MODIS 1 km sinusoidal pixel (m)
TOP = 5559752.598833  # upper edge of tile h18v04 (m)


def window_bbox(row: int, col: int, size: int = 64) -> tuple[float, float, float, float]:
    """Bounding box (sinusoidal metres) of the catalog's 64 x 64 window at (row, col)."""
    x0, y1 = col * size * PIXEL, TOP - row * size * PIXEL
    return (x0, y1 - size * PIXEL, x0 + size * PIXEL, y1)


def check_unguided(p: argparse.ArgumentParser, method: str) -> None:
    """This example reads no fine guide (NDVI): a guided method stopped with a traceback asking
    for ``guide=ndvi``, an argument the script has not."""
    if get_method(method).needs_guide:
        unguided = [n for n in available_methods() if not get_method(n).needs_guide]
        p.error(f"--method {method} needs a fine guide (NDVI), which this example does not read: "
                f"use one of {', '.join(unguided)}, or `xlstsr upscale LST OUT --method "
                f"{method} --guide ndvi.tif`")


def main(argv: list[str] | None = None) -> dict:
    p = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    p.add_argument("--data", default="../shared/data", help="folder holding modis_h18v04_2020/")
    p.add_argument("--out", default="stac_output", help="output folder (created)")
    p.add_argument("--window", type=int, default=17, help="window id of the catalog")
    p.add_argument("--dates", type=int, default=4, help="number of dates to upscale")
    p.add_argument("--method", default="sisr", choices=available_methods(),
                   help="xlstsr method needing no guide, this example reads no NDVI (sisr: the "
                   "bundled model)")
    p.add_argument("--overwrite", action="store_true", help="replace outputs of an earlier run")
    args = p.parse_args(argv)
    # a file named as the folder (or above it): mkdir's raw FileExistsError traceback
    blocked = next((q for q in [Path(args.out), *Path(args.out).parents]
                    if q.exists() and not q.is_dir()), None)
    if blocked is not None:
        p.error(f"--out {args.out}: {blocked} is a file, not a folder; give a folder for the "
                "outputs (made if missing)")
    if not (Path(args.data) / "modis_h18v04_2020").is_dir():  # a raw traceback, after an empty --out
        p.error(f"--data {args.data}: no modis_h18v04_2020/ in it; pass the shared data folder "
                "(the one holding modis_h18v04_2020/)")
    check_unguided(p, args.method)

    catalog = pystac.Catalog.from_file(Path(args.data) / "modis_h18v04_2020" / "catalog.json")
    items = sorted(
        (it for it in catalog.get_items(recursive=True)
         if it.collection_id.startswith("modis-11A1")
         and args.window in it.properties["subset:windows"]),
        key=lambda it: it.datetime,
    )[: args.dates]
    windows = {w: (r, c) for w, r, c in np.loadtxt(
        Path(args.data) / "modis_h18v04_2020" / "windows.csv", delimiter=",", skiprows=1,
        usecols=(0, 1, 2), dtype=int)}
    if args.dates < 1:  # "--window 17: no item covers it", or the last date dropped (-1)
        p.error(f"--dates {args.dates}: give 1 or more dates")
    if args.window not in windows or not items:  # a raw KeyError (or an empty search) before
        p.error(f"--window {args.window}: no MOD11A1 item covers it; the catalog's windows are "
                f"{sorted(int(w) for w in windows)}")
    lst = open_stac(items, "LST_Day_1km", bbox=window_bbox(*windows[args.window]))  # lazy, K
    out = Path(args.out)  # made once the inputs are checked: a refused run left it empty
    store, cog_dir = out / "lst_day_250m.zarr", out / "cogs"
    # every output checked before any is written, in one line: checking the store alone wrote
    # it, then to_cogs refused the earlier COGs with a traceback advising overwrite=True
    earlier = [str(store)] if store.exists() else []
    earlier += [f"{cog_dir}/*.tif"] if any(cog_dir.glob("*.tif")) else []
    if earlier and not args.overwrite:
        raise SystemExit(f"an earlier run's output ({', '.join(earlier)}) exists; pass "
                         "--overwrite to replace it, or give another --out")
    out.mkdir(parents=True, exist_ok=True)

    # mode "w-" refuses an existing store ("resume" completes an interrupted one)
    xlstsr.upscale_to_zarr(lst, store, factor=4, method=args.method,
                           mode="w" if args.overwrite else "w-")
    sr = xr.open_zarr(store, consolidated=False, decode_coords="all")["LST_Day_1km"]
    prefix = str(sr.name or "lst")  # to_cogs' default file-name prefix
    cogs = to_cogs(sr, cog_dir, prefix=prefix, overwrite=args.overwrite)  # one COG per date
    if args.overwrite:
        # this example's own COGs of an earlier run's other dates stayed beside the new ones;
        # removed once the new ones are written (a failed write leaves the earlier run whole),
        # and only names to_cogs gives a date (LST_Day_1km_2020-01-01T103000.tif): every *.tif
        # went before, a user's own file in cogs/ included
        written = {c.resolve() for c in cogs}
        dated = re.compile(rf"{re.escape(prefix)}_\d{{4}}-\d{{2}}-\d{{2}}(T\d{{6}})?\.tif")
        for old in cog_dir.glob(f"{prefix}_*.tif"):
            if dated.fullmatch(old.name) and old.resolve() not in written:
                old.unlink()

    # the product stays consistent with its input: aggregated back, it is the MODIS LST
    back = sr.lstsr.coarsen(4)
    rmse = float(np.sqrt(np.nanmean((back.values - lst.values) ** 2)))
    summary = {"input": dict(lst.sizes), "output": dict(sr.sizes), "crs": sr.rio.crs.to_wkt()[:16],
               "cogs": len(cogs), "coarse_consistency_rmse_K": round(rmse, 4)}
    print(summary)
    return summary


if __name__ == "__main__":
    main()

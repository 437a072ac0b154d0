"""Workflow 2, a MODIS user with HDF4 granules: MOD11A1 .hdf -> QC-masked cube -> 250 m COGs.

``open_modis`` opens one granule, a list or a glob pattern of granules of one tile lazily, with a
``time`` coordinate from the granule names, the sinusoidal CRS, the LST decoded to Kelvin and
pixels whose MODLAND QC says "not produced" (or worse than ``max_modland``) masked. The
super-resolved field is lazy until written; here one region of the tile goes to a COG per date
and to NetCDF. The same from the shell::

    xlstsr upscale MOD11A1.A2019305.h14v09.006.2019306084028.hdf lst_250m.zarr --method sisr

Needs ``pip install 'xlstsr[hdf]'`` (pyhdf). Run::

    python examples/modis_granules.py --data ../shared/data --out modis_output
"""

from __future__ import annotations

import argparse
import re
from pathlib import Path

import numpy as np

import xlstsr  # noqa: F401  (registers the .lstsr accessor)
from xlstsr.io import open_modis, to_cogs
from xlstsr.methods import available_methods, get_method


def check_unguided(p: argparse.ArgumentParser, method: str) -> None:
    """This example reads no fine guide (NDVI): a guided method stopped with a traceback asking
    for ``guide=ndvi``, an argument the script has not."""
    if get_method(method).needs_guide:
        unguided = [n for n in available_methods() if not get_method(n).needs_guide]
        p.error(f"--method {method} needs a fine guide (NDVI), which this example does not read: "
                f"use one of {', '.join(unguided)}, or `xlstsr upscale GRANULE OUT --method "
                f"{method} --guide ndvi.tif`")


def main(argv: list[str] | None = None) -> dict:
    p = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    p.add_argument("--data", default="../shared/data", help="folder holding mod11a1_hdf/")
    p.add_argument("--out", default="modis_output", help="output folder (created)")
    p.add_argument("--region", type=int, nargs=4, default=(640, 768, 128, 256),
                   metavar=("Y0", "Y1", "X0", "X1"), help="pixel window of the tile to upscale")
    p.add_argument("--method", default="sisr", choices=available_methods(),
                   help="xlstsr method needing no guide (this example reads no NDVI)")
    p.add_argument("--overwrite", action="store_true", help="replace outputs of an earlier run")
    args = p.parse_args(argv)
    # a file named as the folder (or above it): mkdir's raw FileExistsError traceback
    blocked = next((q for q in [Path(args.out), *Path(args.out).parents]
                    if q.exists() and not q.is_dir()), None)
    if blocked is not None:
        p.error(f"--out {args.out}: {blocked} is a file, not a folder; give a folder for the "
                "outputs (made if missing)")
    if not (Path(args.data) / "mod11a1_hdf").is_dir():  # a raw traceback, after an empty --out
        p.error(f"--data {args.data}: no mod11a1_hdf/ in it; pass the shared data folder "
                "(the one holding mod11a1_hdf/)")
    check_unguided(p, args.method)
    y0, y1, x0, x1 = args.region
    if not (0 <= y0 < y1 and 0 <= x0 < x1):  # a GridError traceback naming .sel slices
        p.error(f"--region {y0} {y1} {x0} {x1}: give pixel rows and columns of the tile with "
                "0 <= Y0 < Y1 and 0 <= X0 < X1 (e.g. --region 640 768 128 256)")

    pattern = str(Path(args.data) / "mod11a1_hdf" / "MOD11A1.A*.hdf")
    var = "LST_Day_1km"  # also the COGs' prefix: {var}_{date}.tif
    lst = open_modis(pattern, var)  # lazy (time, y, x), Kelvin, QC-masked, with CRS
    ny, nx = lst.sizes["y"], lst.sizes["x"]
    if y1 > ny or x1 > nx:  # isel cut it short: fewer pixels upscaled, without a word
        p.error(f"--region {y0} {y1} {x0} {x1}: past the tile, which has {ny} rows and {nx} "
                f"columns; give Y1 <= {ny} and X1 <= {nx}")
    region = lst.isel(y=slice(y0, y1), x=slice(x0, x1))
    out = Path(args.out)  # made once the inputs are checked: a refused run left it empty
    nc, cog_dir = out / "lst_day_250m.nc", out / "cogs"
    # every output checked before any is computed or written: checking the .nc alone wrote it,
    # then to_cogs refused the earlier COGs with a traceback advising overwrite=True
    earlier = [str(nc)] if nc.exists() else []
    earlier += [f"{cog_dir}/*.tif"] if any(cog_dir.glob("*.tif")) else []
    if earlier and not args.overwrite:
        raise SystemExit(f"an earlier run's output ({', '.join(earlier)}) exists; pass "
                         "--overwrite to replace it, or give another --out")
    out.mkdir(parents=True, exist_ok=True)
    sr = region.lstsr.upscale(4, method=args.method)  # lazy, on the 250 m grid

    sr = sr.compute()
    sr.to_netcdf(nc)
    cogs = to_cogs(sr, cog_dir, prefix=var, overwrite=args.overwrite)
    if args.overwrite:
        # this example's own COGs of an earlier run's other dates stayed beside the new ones
        # (the .nc holds the new dates only); removed once the new ones are written, so that a
        # failed write leaves the earlier run whole
        written = {c.resolve() for c in cogs}
        # only names to_cogs gives a date (LST_Day_1km_2020-07-01.tif, ..._2020-07-01T103000):
        # a user's own LST_Day_1km_my_edit.tif is not this example's
        dated = re.compile(rf"{re.escape(var)}_\d{{4}}-\d{{2}}-\d{{2}}(T\d{{6}})?\.tif")
        for old in cog_dir.glob(f"{var}_*.tif"):
            if dated.fullmatch(old.name) and old.resolve() not in written:
                old.unlink()

    valid = float(np.isfinite(region.values).mean())
    summary = {"granules": int(lst.sizes["time"]), "dates": [str(t)[:10] for t in lst.time.values],
               "region": dict(region.sizes), "valid_fraction": round(valid, 3),
               "output": dict(sr.sizes), "cogs": len(cogs),
               "lst_range_K": [round(float(sr.min()), 1), round(float(sr.max()), 1)]}
    print(summary)
    return summary


if __name__ == "__main__":
    main()

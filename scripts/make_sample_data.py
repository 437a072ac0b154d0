"""Cut the small real sample embedded in the package (``xlstsr/datasets/data/``) from ../shared/data.

Run once by a maintainer (``python scripts/make_sample_data.py [--data DIR] [--out DIR]
[--overwrite]``; files already there are replaced only with ``--overwrite``); the package only
reads the result (``xlstsr.datasets.modis_sample``, ``xlstsr.datasets.modis_aster_sample``), so
``make demo`` needs nothing outside the package.

- ``modis_aster/002_*.tif`` and ``pairs.csv``: MODIS/ASTER pair 002 of the held-out split
  (``EVAL_PAIRS``: never used to train the bundled weights) of Ait-Bachir et al. (2025),
  CeCILL-C, in the shared folder's layout (so that ``open_modis_aster_pair`` reads it): the MODIS
  LST and NDVI, and the ASTER LST as stored by the source (K x 10, 0 outside the scene), all
  float32 as the source has them, DEFLATE.
- ``mod11a1_w144_{day,night}.tif``: MOD11A1 v061 LST of window 144 of tile h18v04 (64 x 64 at
  1 km, 45.5 N 0.4 E; it intersects no MODIS/ASTER pair), uint16 DN (K = DN x 0.02, fill 0), one
  band per date; ``mod13a2_w144_{red,nir}.tif``: the MOD13A2 16-day composites matched to those
  dates, int16 DN (reflectance = DN x 0.0001, fill -1000). NASA data, no use restriction.
- ``mod11a1_w144.csv``: the date of each LST band and the start date of its composite.
"""

from __future__ import annotations

import argparse
import csv
import json
import os
from pathlib import Path

import numpy as np
import rioxarray
import xarray as xr

ROOT = Path(__file__).resolve().parents[1]
#: the data folder read by default ($XLSTSR_DATA, else ../shared/data beside the checkout)
DATA = Path(os.environ.get("XLSTSR_DATA", ROOT.parent / "shared" / "data"))
#: the package's embedded sample: the default output folder
OUT = ROOT / "xlstsr" / "datasets" / "data"
PAIR = "002"
WINDOW = 144
N_DATES = 8


def _write(da: xr.DataArray, path: Path, nodata: float | int | None) -> None:
    if nodata is not None:
        da = da.rio.write_nodata(nodata, encoded=False)
    da.rio.to_raster(path, compress="DEFLATE", predictor=2 if da.dtype.kind in "iu" else 3,
                     tiled=False)


def outputs(out_dir: Path) -> list[Path]:
    """Every file :func:`pair` and :func:`window` write under ``out_dir``."""
    names = [f"modis_aster/{PAIR}_{n}.tif" for n in ("modis_lst_1km", "modis_ndvi_250m",
                                                      "aster_lst_250m")]
    names += ["modis_aster/pairs.csv", "modis_aster/LICENSE", f"mod11a1_w{WINDOW}.csv"]
    names += [f"mod11a1_w{WINDOW}_{n}.tif" for n in ("day", "night")]
    names += [f"mod13a2_w{WINDOW}_{n}.tif" for n in ("red", "nir")]
    return [out_dir / n for n in names]


def pair(data: Path = DATA, out_dir: Path = OUT) -> None:
    src = data / "modis_aster"
    out = out_dir / "modis_aster"
    out.mkdir(exist_ok=True)
    for name, dtype in (("modis_lst_1km", "float32"), ("modis_ndvi_250m", "float32"),
                        ("aster_lst_250m", "float32")):
        da = rioxarray.open_rasterio(src / f"{PAIR}_{name}.tif").squeeze(drop=True)
        _write(da.astype(dtype), out / f"{PAIR}_{name}.tif", None)
    rows = [r for r in csv.DictReader(open(src / "pairs.csv")) if r["pair"].zfill(3) == PAIR]
    with open(out / "pairs.csv", "w", newline="") as fh:
        w = csv.DictWriter(fh, list(rows[0]))
        w.writeheader()
        w.writerows(rows)
    (out / "LICENSE").write_text((src / "LICENSE").read_text())


def window(data: Path = DATA, out_dir: Path = OUT) -> None:
    base = data / "modis_h18v04_2020"
    row = next(r for r in csv.DictReader(open(base / "windows.csv")) if int(r["window"]) == WINDOW)
    r0, c0 = int(row["row_off"]), int(row["col_off"])
    lst_items, ndvi_items = [], []
    for f in sorted((base / "items").glob("*.json")):
        item = json.loads(f.read_text())
        if WINDOW not in item["properties"].get("subset:windows", []):
            continue
        (lst_items if item["id"].startswith("MOD11A1") else ndvi_items).append(item)
    lst_items.sort(key=lambda i: i["properties"]["datetime"])
    picks = [lst_items[int(i)] for i in np.linspace(0, len(lst_items) - 1, N_DATES).round()]
    composites = sorted(ndvi_items, key=lambda i: i["properties"]["start_datetime"])
    rows, matched = [], []
    for item in picks:
        day = item["properties"]["datetime"][:10]
        # the composite whose nominal period holds the date, else the latest one starting before
        inside = [c for c in composites
                  if c["properties"]["start_datetime"][:10] <= day <= c["properties"]["end_datetime"][:10]]
        before = [c for c in composites if c["properties"]["start_datetime"][:10] <= day]
        comp = (inside or before or composites)[-1]
        rows.append({"date": day, "composite_start": comp["properties"]["start_datetime"][:10]})
        matched.append(comp)

    def cut(item: dict, asset: str) -> xr.DataArray:
        href = (base / "items" / item["assets"][asset]["href"]).resolve()
        da = rioxarray.open_rasterio(href, mask_and_scale=False).squeeze(drop=True)
        return da.isel(y=slice(r0, r0 + 64), x=slice(c0, c0 + 64))

    for asset, name, fill in (("LST_Day_1km", "day", 0), ("LST_Night_1km", "night", 0)):
        cube = xr.concat([cut(i, asset) for i in picks], "band").assign_coords(
            band=np.arange(1, len(picks) + 1))
        _write(cube.astype("uint16"), out_dir / f"mod11a1_w{WINDOW}_{name}.tif", fill)
    for asset in ("red", "nir"):
        cube = xr.concat([cut(c, asset) for c in matched], "band").assign_coords(
            band=np.arange(1, len(matched) + 1))
        _write(cube.astype("int16"), out_dir / f"mod13a2_w{WINDOW}_{asset}.tif", -1000)
    with open(out_dir / f"mod11a1_w{WINDOW}.csv", "w", newline="") as fh:
        w = csv.DictWriter(fh, ["date", "composite_start"])
        w.writeheader()
        w.writerows(rows)


def main(argv: list[str] | None = None) -> int:
    """Write the sample into ``--out``; refuse to replace files there without ``--overwrite``."""
    ap = argparse.ArgumentParser(prog="python scripts/make_sample_data.py",
                                 description=__doc__.splitlines()[0])
    ap.add_argument("--data", type=Path, default=None,
                    help="data folder holding modis_aster/ and modis_h18v04_2020/ (default: "
                    f"{DATA}: $XLSTSR_DATA, else ../shared/data beside the checkout)")
    ap.add_argument("--out", type=Path, default=None,
                    help=f"output folder (default: the package's embedded sample, {OUT})")
    ap.add_argument("--overwrite", action="store_true",
                    help="replace the files of an earlier run (the package's sample included)")
    args = ap.parse_args(argv)
    data = DATA if args.data is None else args.data
    out = OUT if args.out is None else args.out
    for need in ("modis_aster", "modis_h18v04_2020"):
        if not (data / need).is_dir():
            ap.error(f"no {need}/ under {data}: pass --data (or set XLSTSR_DATA) with the folder "
                     "holding it")
    if out.exists() and not out.is_dir():  # (mkdir's bare FileExistsError traceback)
        ap.error(f"--out {out} is a file: give a folder")
    # checked before anything is written: the package reads these files (xlstsr.datasets)
    there = [p for p in outputs(out) if p.exists()]
    if there and not args.overwrite:
        ap.error(f"{len(there)} output files already exist in {out} (e.g. {there[0].name}): "
                 "pass --overwrite to replace them, or --out DIR to write elsewhere")
    out.mkdir(parents=True, exist_ok=True)
    pair(data, out)
    window(data, out)
    print("wrote", sorted(p.name for p in out.iterdir()))
    return 0


if __name__ == "__main__":
    raise SystemExit(main())

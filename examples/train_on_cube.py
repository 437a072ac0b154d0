"""Workflow 3, a modeller training on their own cube: STAC -> CubeDataModule -> Lightning -> model.

The cube (MOD11A1 day LST over six 64 x 64 windows of the shared catalog, lazy through
``open_stac``) becomes degraded training pairs (4 km -> 1 km), cut into window positions and
split **by position** (a position's every date on one side: the same ground on another date
would leak the landscape into validation). One Lightning loop trains the network: the
``Trainer`` options, a ``ModelCheckpoint`` (to resume with ``ckpt_path=``) and a CSV logger pass
through ``fit``. The model file is what ``upscale`` reads; it is scored on a validation position
against bicubic, one level up (4 km -> 1 km, where the 1 km truth is real).

The same from the shell::

    xlstsr train --lst cube.zarr --patch 32 --window 64 --logger csv --save-checkpoints --out m.pt

Run::

    python examples/train_on_cube.py --data ../shared/data --out train_output
"""

from __future__ import annotations

import argparse
import re
from pathlib import Path

import numpy as np
import pystac
import torch
from lightning.pytorch.callbacks import ModelCheckpoint

import xlstsr  # noqa: F401  (registers the .lstsr accessor)
from xlstsr.io import open_stac
from xlstsr.nn import ResCNN, save_model
from xlstsr.train import CubeDataModule, fit

PIXEL = 926.6254331391667  # MODIS 1 km sinusoidal pixel (m)
TOP = 5559752.598833  # upper edge of tile h18v04 (m)
ROWS, COLS = (0, 2), (15, 18)  # window rows and columns of the cube (64 px windows)


#: the files a run writes: ModelCheckpoint's (save_last, "{epoch}-{step}", -vN when taken) and
#: the CSV logger's, in logs/xlstsr/version_N/
RUN_CKPT = re.compile(r"(last|epoch=\d+-step=\d+)(-v\d+)?\.ckpt")
LOG_FILES = ("metrics.csv", "hparams.yaml")


def _earlier_run(ckpt_dir: Path, log_dir: Path) -> tuple[list[Path], list[Path]]:
    """An earlier run's checkpoint files and log folders (``logs/xlstsr/version_N`` holding a
    log file) in ``--out``; a user's other files there are none of them."""
    ckpts = sorted(f for f in ckpt_dir.glob("*.ckpt") if f.is_file() and RUN_CKPT.fullmatch(f.name))
    logs = sorted(d for d in (log_dir / "xlstsr").glob("version_*")
                  if d.is_dir() and re.fullmatch(r"version_\d+", d.name)
                  and any((d / name).is_file() for name in LOG_FILES))
    return ckpts, logs


def main(argv: list[str] | None = None) -> dict:
    p = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    p.add_argument("--data", default="../shared/data", help="folder holding modis_h18v04_2020/")
    p.add_argument("--out", default="train_output", help="output folder (created)")
    p.add_argument("--dates", type=int, default=12, help="number of dates of the cube")
    p.add_argument("--epochs", type=int, default=4)
    p.add_argument("--overwrite", action="store_true",
                   help="replace outputs of an earlier run (sisr_cube.pt; its checkpoints "
                   "checkpoints/last.ckpt, epoch=*-step=*.ckpt and its logs/xlstsr/version_*/ "
                   "are removed first; other files in those folders are kept)")
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
    for flag, v in (("--dates", args.dates), ("--epochs", args.epochs)):
        if v < 1:  # an empty cube or no training, found after --out was made
            p.error(f"{flag} {v}: give at least 1")
    out = Path(args.out)
    model_file, ckpt_dir, log_dir = out / "sisr_cube.pt", out / "checkpoints", out / "logs"
    # an earlier run's checkpoints and logs kept: Lightning saved the new run as last-v1.ckpt
    # (and logs/xlstsr/version_1), so checkpoints/last.ckpt was the old model beside the new .pt.
    # Only the files a run writes count and go: any file in checkpoints/ or logs/ was called an
    # earlier run's and --overwrite deleted the folders whole, a user's own notes included
    ckpts, logs = _earlier_run(ckpt_dir, log_dir)
    earlier = [str(model_file)] if model_file.exists() else []
    earlier += [f"{d}/" for d, own in ((ckpt_dir, ckpts), (log_dir, logs)) if own]
    if earlier and not args.overwrite:
        named = [f.name for f in ckpts] + [f"{d.relative_to(log_dir)}/" for d in logs]
        raise SystemExit(f"an earlier run's output ({', '.join(earlier)}) exists; pass "
                         "--overwrite to replace it"
                         + (f" ({', '.join(named)}; other files there are kept)" if named else "")
                         + ", or give another --out")
    for f in ckpts:
        f.unlink()
    for d in logs:
        for f in d.iterdir():
            if f.name in LOG_FILES:
                f.unlink()
        if not any(d.iterdir()):  # a user's file in it stays, and its folder with it
            d.rmdir()
    out.mkdir(parents=True, exist_ok=True)
    torch.set_num_threads(1)

    windows = {c + 18 * r for r in range(*ROWS) for c in range(*COLS)}  # catalog window ids
    catalog = pystac.Catalog.from_file(Path(args.data) / "modis_h18v04_2020" / "catalog.json")
    items = sorted(
        (it for it in catalog.get_items(recursive=True)
         if it.collection_id.startswith("modis-11A1")
         and windows & set(it.properties["subset:windows"])),
        key=lambda it: it.datetime,
    )[: args.dates]
    x0, y1 = COLS[0] * 64 * PIXEL, TOP - ROWS[0] * 64 * PIXEL
    bbox = (x0, y1 - 64 * (ROWS[1] - ROWS[0]) * PIXEL, x0 + 64 * (COLS[1] - COLS[0]) * PIXEL, y1)
    cube = open_stac(items, "LST_Day_1km", bbox=bbox)  # lazy (time, 128, 192), Kelvin, NaN gaps

    # 4 km -> 1 km pairs; 64-px positions (the catalog's windows), 32-px patches, split by position
    data = CubeDataModule(cube, mode="sisr", factor=4, patch=32, window=64, val_fraction=0.3,
                          batch_size=16, seed=0)
    torch.manual_seed(0)
    model = ResCNN(4, channels=16, n_blocks=2)
    ckpt = ModelCheckpoint(dirpath=ckpt_dir, monitor="val_loss", save_last=True)
    hist = fit(model, data, mode="sisr", epochs=args.epochs, patience=0, logger="csv",
               log_dir=log_dir, callbacks=[ckpt], trainer_options={"accelerator": "cpu"})
    save_model(model, model_file, mode="sisr", training_data={"stac_items": len(items)},
               split={"by": "window position", **data.split.as_dict()})

    # one level up on a validation position: 1 km truth -> 4 km -> back to 1 km
    r, c = (int(v) for v in data.split.val[0][1:].split("c"))
    truth = cube.isel(y=slice(64 * r, 64 * r + 64), x=slice(64 * c, 64 * c + 64)).load()
    keep = truth.notnull().mean(("y", "x")) > 0.9  # dates where that window is clear
    truth = truth.isel(time=keep.values)
    coarse = truth.lstsr.coarsen(4)
    scores = {}
    for name, opts in (("bicubic", {}), ("trained model", {"model": str(model_file)})):
        method = "bicubic" if name == "bicubic" else "sisr"
        sr = coarse.lstsr.upscale(4, method=method, method_options=opts)
        err = (sr.values - truth.values)[:, 4:-4, 4:-4]  # the edge pixels of both are guesses
        scores[name] = round(float(np.sqrt(np.nanmean(err**2))), 3)
    summary = {"dates": len(items), "train_patches": len(data.train_set),
               "val_patches": len(data.val_set), "val_positions": list(data.split.val),
               "epochs": hist["epochs_run"], "val_loss": [round(v, 4) for v in hist["val_loss"]],
               "log_dir": hist["log_dir"], "checkpoint": str(ckpt.last_model_path),
               "scored_dates": int(truth.sizes["time"]), "rmse_K": scores}
    print(summary)
    return summary


if __name__ == "__main__":
    main()

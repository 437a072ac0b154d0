"""Train the pretrained weights bundled in ``xlstsr/weights/`` (``make weights``).

``python -m xlstsr.train_bundled [--data DIR] [--only NAME ...] [--threads N]``

Data (``../shared/data`` beside the project, or ``--data`` / ``$XLSTSR_DATA``):

- ``modis_aster``: 55 MODIS 1 km LST / MODIS 250 m NDVI / ASTER 250 m LST pairs
  (Ait-Bachir et al. 2025 test set). **Only** :data:`TRAIN_PAIRS` (20 pairs) are used for training
  and validation; :data:`EVAL_PAIRS` (the other 35) are held out for every accuracy figure
  (``benchmarks/`` import these constants).
- ``mod11a1_hdf``: one MOD11A1 C6 granule (h14v09, 2019-11-01, Brazil), daytime LST, QC MODLAND
  good/other quality kept (1200 x 1200, ~23 % clear), cut into 16 spatial scenes of 300 x 300.

Models (all factor 4):

``sisr_rescnn_x4.pt``
    :class:`~xlstsr.nn.models.ResCNN` (32 channels, 4 residual blocks), SISR at degraded resolution:
    ``radiometric_mean(LST_1km, 4) -> LST_1km`` on the granule and the training pairs' MODIS LST.
``sisr_mrunet_x4.pt``
    :class:`~xlstsr.nn.models.MRUNet` (base 12, 2 levels), same data and protocol.
``disr_unet_x4.pt``
    :class:`~xlstsr.nn.models.GuidedUNet` (NDVI guide, base 12, 2 levels), cross-sensor supervised:
    MODIS LST 1 km + MODIS NDVI 250 m -> ASTER LST on the 250 m MODIS grid (invalid ASTER masked),
    with a high-pass detail term and a spectral-energy term (see :func:`xlstsr.nn.losses.supervised_loss`);
    their weights and the learning rate were chosen on ``VAL_PAIRS`` only
    (``benchmarks/select_disr.py``, docs/results/disr_selection.md), as were the patch stride
    (32) and the epoch budget (40).
``disr_degraded_x4.pt``
    :class:`~xlstsr.nn.models.GuidedUNet` (base 12), degraded DISR on the training pairs:
    ``(radiometric_mean(LST_1km, 4), NDVI block-averaged to 1 km) -> LST_1km``.
``disr_sif_x4.pt``
    :class:`~xlstsr.nn.models.GuidedUNet` trained with the scale-invariance-free loss
    (:func:`xlstsr.nn.losses.sif_loss`) on the training pairs: no fine LST used.

Seeds are fixed; with the same data, threads and torch version the weights are reproducible.
"""

from __future__ import annotations

import argparse
import csv
import os
import time
from pathlib import Path
from typing import Any

import numpy as np
import torch

#: the 20 modis_aster pairs used for training (and early-stopping validation)
TRAIN_PAIRS: tuple[str, ...] = (
    "001",
    "020",
    "040",
    "052",
    "068",
    "075",
    "082",
    "093",
    "097",
    "112",
    "117",
    "126",
    "131",
    "136",
    "163",
    "171",
    "176",
    "185",
    "196",
    "202",
)
#: the 35 modis_aster pairs held out for evaluation: never seen in training
EVAL_PAIRS: tuple[str, ...] = (
    "002",
    "015",
    "034",
    "035",
    "044",
    "045",
    "061",
    "073",
    "074",
    "076",
    "077",
    "084",
    "086",
    "096",
    "102",
    "109",
    "113",
    "115",
    "119",
    "124",
    "129",
    "133",
    "135",
    "145",
    "151",
    "164",
    "167",
    "173",
    "177",
    "183",
    "191",
    "193",
    "198",
    "201",
    "216",
)
#: pairs of TRAIN_PAIRS used for early stopping (not for gradient steps)
VAL_PAIRS: tuple[str, ...] = ("040", "117", "171", "202")

FACTOR = 4
#: cross-sensor DISR loss weights and learning rate, chosen on VAL_PAIRS only
#: (``benchmarks/select_disr.py``, docs/results/disr_selection.md)
SUPERVISED_LOSS: dict[str, float] = {"w_detail": 1.0, "w_spectral": 1.0}
SUPERVISED_LR = 5e-4
SUPERVISED_STRIDE = 32  # fine px between 96 px patches
SUPERVISED_EPOCHS = 40
WEIGHTS_DIR = Path(__file__).resolve().parent / "weights"
SPLIT_NOTE = (
    "modis_aster: trained on TRAIN_PAIRS (20; early stopping on VAL_PAIRS among them), the 35 "
    "EVAL_PAIRS never seen (see xlstsr.train_bundled)"
)


def default_data_dir() -> Path:
    """``$XLSTSR_DATA`` or ``../shared/data`` beside the project root."""
    env = os.environ.get("XLSTSR_DATA")
    return Path(env) if env else Path(__file__).resolve().parents[1].parent / "shared" / "data"


def pair_ids(data_dir: Path | None = None) -> list[str]:
    data_dir = data_dir or default_data_dir()
    with open(data_dir / "modis_aster" / "pairs.csv") as fh:
        return [row["pair"] for row in csv.DictReader(fh)]


def aster_truth_mask(
    aster_raw: np.ndarray, erode: int = 3, min_kelvin: float = 230.0
) -> np.ndarray:
    """Valid ASTER pixels: value > 0, eroded by ``erode`` pixels, and value x 0.1 > ``min_kelvin``."""
    from scipy import ndimage

    inside = np.isfinite(aster_raw) & (aster_raw > 0)
    if erode:
        inside = ndimage.binary_erosion(inside, iterations=erode, border_value=0)
    return inside & (np.nan_to_num(aster_raw) * 0.1 > min_kelvin)


def load_pair(pid: str, data_dir: Path | None = None) -> dict[str, Any]:
    """One modis_aster pair: ``lst`` (1 km DataArray), ``ndvi`` and ``truth`` on the 250 m MODIS grid.

    The NDVI (offset by 0-3 fine pixels) is aligned onto the fine grid of the LST with
    :func:`xlstsr.grid.align_guide`; ASTER (K x 10, 0 outside the scene) is decoded, masked
    (:func:`aster_truth_mask`) and reprojected bilinearly onto the same grid. ``aster`` is the
    decoded, masked ASTER on its own grid (for evaluation there).
    """
    import warnings

    import rioxarray
    from rasterio.enums import Resampling

    from .errors import GuideAlignmentWarning
    from .grid import align_guide, fine_grid, with_grid

    d = (data_dir or default_data_dir()) / "modis_aster"
    lst = rioxarray.open_rasterio(d / f"{pid}_modis_lst_1km.tif", masked=True).squeeze(
        "band", drop=True
    )
    ndvi = rioxarray.open_rasterio(d / f"{pid}_modis_ndvi_250m.tif", masked=True).squeeze(
        "band", drop=True
    )
    aster = rioxarray.open_rasterio(d / f"{pid}_aster_lst_250m.tif").squeeze("band", drop=True)
    raw = aster.values.astype(np.float64)
    ok = aster_truth_mask(raw)
    aster_k = aster.copy(data=np.where(ok, raw * 0.1, np.nan).astype(np.float32))
    aster_k = aster_k.rio.write_nodata(np.nan, encoded=False)
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", GuideAlignmentWarning)
        ndvi_f = align_guide(ndvi, lst, FACTOR)
    y, x, t = fine_grid(lst, FACTOR)
    template = with_grid(np.zeros((len(y), len(x)), np.float32), lst, y, x, t, ("y", "x"))
    truth = aster_k.rio.reproject_match(template, resampling=Resampling.bilinear, nodata=np.nan)
    return {"lst": lst, "ndvi": ndvi_f, "truth": truth, "aster": aster_k}


def load_mod11a1_day(data_dir: Path | None = None) -> np.ndarray:
    """Daytime LST (K, NaN = fill or MODLAND QC 'not produced') of the bundled MOD11A1 granule."""
    from pyhdf.SD import SD, SDC

    d = (data_dir or default_data_dir()) / "mod11a1_hdf"
    path = next(d.glob("MOD11A1*.hdf"))
    sd = SD(str(path), SDC.READ)
    try:
        raw = sd.select("LST_Day_1km")[:].astype(np.float64)
        qc = sd.select("QC_Day")[:].astype(np.uint8)
    finally:
        sd.end()
    good = (raw > 0) & ((qc & 0b11) <= 1)
    return np.where(good, raw * 0.02, np.nan).astype(np.float32)


def _granule_scenes(
    lst: np.ndarray, size: int = 300, prefix: str = "mod11a1"
) -> tuple[np.ndarray, list[str]]:
    """Non-overlapping ``size x size`` scenes of a field, ids ``{prefix}_{row}_{col}``."""
    tiles, ids = [], []
    for i in range(0, lst.shape[0] - size + 1, size):
        for j in range(0, lst.shape[1] - size + 1, size):
            tiles.append(lst[i : i + size, j : j + size])
            ids.append(f"{prefix}_{i // size}_{j // size}")
    return np.stack(tiles), ids


def concat_patches(sets: list) -> Any:
    from .train import PatchSet

    def cat(attr):
        vals = [getattr(s, attr) for s in sets]
        return None if any(v is None for v in vals) else torch.cat(vals)

    return PatchSet(
        cat("lst"),
        cat("lst_valid"),
        cat("guide"),
        cat("target"),
        np.concatenate([s.scene for s in sets]),
        sets[0].factor,
    )


def sisr_patches(data_dir: Path, patch: int = 48) -> tuple[Any, Any, dict]:
    """Degraded-resolution SISR patches (train, val) from the granule and the training pairs."""
    from .train import degraded_pairs, make_patches

    sets_tr, sets_va = [], []
    gran = load_mod11a1_day(data_dir)
    tiles, ids = _granule_scenes(gran)
    p = make_patches(
        **degraded_pairs(tiles, FACTOR),
        factor=FACTOR,
        patch=patch,
        stride=patch // 2,
        max_nan_fraction=0.3,
        scene_ids=ids,
    )
    val_tiles = {"mod11a1_0_3", "mod11a1_2_1", "mod11a1_3_2"}
    is_val = np.isin(p.scene, list(val_tiles))
    sets_tr.append(p.subset(np.flatnonzero(~is_val)))
    sets_va.append(p.subset(np.flatnonzero(is_val)))
    lst = np.stack([load_pair(pid, data_dir)["lst"].values for pid in TRAIN_PAIRS])
    p = make_patches(
        **degraded_pairs(lst, FACTOR),
        factor=FACTOR,
        patch=patch,
        stride=patch // 4,
        max_nan_fraction=0.3,
        scene_ids=list(TRAIN_PAIRS),
    )
    is_val = np.isin(p.scene, list(VAL_PAIRS))
    sets_tr.append(p.subset(np.flatnonzero(~is_val)))
    sets_va.append(p.subset(np.flatnonzero(is_val)))
    info = {
        "granule_val_scenes": sorted(val_tiles),
        "pairs_val": list(VAL_PAIRS),
        "patch_fine_px": patch,
    }
    return concat_patches(sets_tr), concat_patches(sets_va), info


def disr_patches(
    data_dir: Path, patch: int = 96, with_truth: bool = True, stride: int = 64
) -> tuple[Any, Any, Any]:
    """Target-scale DISR patches (train, val) from the training pairs (ASTER truth optional)."""
    from .methods.torch_model import _fill_guide
    from .train import make_patches, target_scale_pairs

    pairs = [load_pair(pid, data_dir) for pid in TRAIN_PAIRS]
    lst = np.stack([p["lst"].values for p in pairs])
    ndvi = np.stack([p["ndvi"].values for p in pairs])[:, None]
    # the inference engine fills guide gaps the same way before the forward
    ndvi = _fill_guide(ndvi, FACTOR, float(np.nanmean(ndvi)))
    truth = np.stack([p["truth"].values for p in pairs]) if with_truth else None
    ps = make_patches(
        **target_scale_pairs(lst, FACTOR, ndvi, truth),
        factor=FACTOR,
        patch=patch,
        stride=stride,
        max_nan_fraction=0.5,
        scene_ids=list(TRAIN_PAIRS),
    )
    is_val = np.isin(ps.scene, list(VAL_PAIRS))
    return ps.subset(np.flatnonzero(~is_val)), ps.subset(np.flatnonzero(is_val)), (lst, ndvi)


def _save(model, name: str, hist: dict, out_dir: Path, **meta: Any) -> Path:
    from .nn import save_model

    secs = float(np.median(hist["epoch_seconds"])) if hist["epoch_seconds"] else float("nan")
    path = save_model(
        model,
        out_dir / name,
        split=SPLIT_NOTE,
        train_pairs=list(TRAIN_PAIRS),
        val_pairs=list(VAL_PAIRS),
        eval_pairs=list(EVAL_PAIRS),
        history={
            "epochs_run": hist["epochs_run"],
            "best_val_loss": float(hist["best_val_loss"]),
            "train_loss": [round(v, 5) for v in hist["train_loss"]],
            "val_loss": [round(v, 5) for v in hist["val_loss"]],
            "seconds_per_epoch": secs,
            "engine": hist["engine"],
            "threads": torch.get_num_threads(),
        },
        command="python -m xlstsr.train_bundled",
        **meta,
    )
    print(
        f"{name}: {hist['epochs_run']} epochs, best val loss {hist['best_val_loss']:.4f}, "
        f"{secs:.1f} s/epoch -> {path} ({path.stat().st_size / 1e6:.2f} MB)",
        flush=True,
    )
    return path


def train_sisr(
    arch: str,
    data_dir: Path,
    out_dir: Path,
    *,
    epochs: int,
    seed: int = 0,
    progress: bool = True,
    patience: int = 20,
) -> Path:
    from .nn import build_model
    from .train import fit

    train, val, info = sisr_patches(data_dir)
    cfg = {"rescnn": {"channels": 32, "n_blocks": 4}, "mrunet": {"base": 12, "levels": 2}}[arch]
    torch.manual_seed(seed)  # the weight initialisation draws from torch's global generator
    model = build_model(arch, factor=FACTOR, **cfg)
    hist = fit(
        model,
        train,
        val,
        mode="sisr",
        epochs=epochs,
        batch_size=16,
        lr=1e-3,
        patience=patience,
        seed=seed,
        progress=progress,
        engine="torch",
    )
    return _save(
        model,
        f"sisr_{arch}_x4.pt",
        hist,
        out_dir,
        inputs=["lst"],
        mode="sisr",
        loss="Huber(delta=1 K) to the 1 km LST",
        training_scales="degraded: radiometric_mean(LST 1 km, 4) = 4 km -> 1 km; applied 1 km -> 250 m "
        "(scale-invariance hypothesis)",
        training_data=[
            "mod11a1_hdf MOD11A1.A2019305.h14v09 LST_Day_1km (QC good/other), 13 of 16 "
            "300x300 tiles",
            "modis_aster MODIS LST 1 km of TRAIN_PAIRS",
        ],
        patches={"n_train": len(train), "n_val": len(val), **info},
    )


def train_disr(
    kind: str,
    data_dir: Path,
    out_dir: Path,
    *,
    epochs: int,
    seed: int = 0,
    progress: bool = True,
    loss_options: dict | None = None,
    name: str | None = None,
    lr: float | None = None,
    patience: int = 8,
    stride: int | None = None,
) -> Path:
    from .nn import GuidedUNet
    from .train import fit, fit_guide_gain

    supervised = kind == "supervised"
    stride = stride or (SUPERVISED_STRIDE if supervised else 64)
    train, val, (lst, ndvi) = disr_patches(data_dir, with_truth=supervised, stride=stride)
    lr = lr or (SUPERVISED_LR if supervised else 5e-4)
    torch.manual_seed(seed)
    model = GuidedUNet(FACTOR, n_guide=1, base=12, levels=2)
    if supervised:
        opts = {**SUPERVISED_LOSS, **(loss_options or {})}
        loss = (
            "Huber(SR, ASTER) + w_detail Huber(HP(SR), HP(ASTER)) + w_spectral "
            "log^2(E_HP(SR)/E_HP(ASTER)), HP = x - Gaussian(sigma=2 fine px)"
        )
        scales = "target scale: MODIS 1 km (+ NDVI 250 m) -> ASTER 250 m"
    else:
        gain = fit_guide_gain(lst, ndvi, FACTOR)
        opts = {"alpha": 0.5, "gain": gain, **(loss_options or {})}
        loss = (
            "scale-invariance-free (Ait-Bachir et al. 2025): alpha Huber(radiometric_mean(SR, 4), "
            "LST) + (1-alpha) Huber(HP(SR), gain HP(NDVI)); gain fitted at 1 km"
        )
        scales = "target scale: MODIS 1 km + NDVI 250 m, no fine LST"
    hist = fit(
        model,
        train,
        val,
        mode=kind,
        loss_options=opts,
        epochs=epochs,
        batch_size=8,
        lr=lr,
        patience=patience,
        seed=seed,
        progress=progress,
        engine="torch",
    )
    return _save(
        model,
        name or ("disr_unet_x4.pt" if supervised else "disr_sif_x4.pt"),
        hist,
        out_dir,
        inputs=["lst", "ndvi"],
        mode=kind,
        loss=loss,
        loss_options=opts,
        training_scales=scales,
        training_data=[
            "modis_aster TRAIN_PAIRS: MODIS LST 1 km, MODIS NDVI 250 m (MOD09GQ)"
            + (", ASTER LST 250 m (masked: > 0, eroded 3 px, > 230 K)" if supervised else "")
        ],
        patches={"n_train": len(train), "n_val": len(val), "patch_fine_px": 96, "stride": stride},
    )


def train_disr_degraded(
    data_dir: Path,
    out_dir: Path,
    *,
    epochs: int,
    seed: int = 0,
    progress: bool = True,
    patch: int = 32,
) -> Path:
    """Degraded DISR: (radiometric_mean(LST 1 km, 4), NDVI block-averaged to 1 km) -> LST 1 km."""
    from .methods.torch_model import _fill_guide
    from .nn import GuidedUNet
    from .train import degraded_pairs, fit, make_patches

    pairs = [load_pair(pid, data_dir) for pid in TRAIN_PAIRS]
    lst = np.stack([p["lst"].values for p in pairs])
    ndvi = np.stack([p["ndvi"].values for p in pairs])[:, None]
    dp = degraded_pairs(lst, FACTOR, ndvi)
    dp["guide"] = _fill_guide(np.ascontiguousarray(dp["guide"]), FACTOR, float(np.nanmean(ndvi)))
    ps = make_patches(
        **dp,
        factor=FACTOR,
        patch=patch,
        stride=patch // 4,
        max_nan_fraction=0.3,
        scene_ids=list(TRAIN_PAIRS),
    )
    is_val = np.isin(ps.scene, list(VAL_PAIRS))
    train, val = ps.subset(np.flatnonzero(~is_val)), ps.subset(np.flatnonzero(is_val))
    torch.manual_seed(seed)
    model = GuidedUNet(FACTOR, n_guide=1, base=12, levels=2)
    hist = fit(
        model,
        train,
        val,
        mode="degraded_disr",
        epochs=epochs,
        batch_size=16,
        lr=1e-3,
        patience=15,
        seed=seed,
        progress=progress,
        engine="torch",
    )
    return _save(
        model,
        "disr_degraded_x4.pt",
        hist,
        out_dir,
        inputs=["lst", "ndvi"],
        mode="degraded_disr",
        loss="Huber(delta=1 K) to the 1 km LST",
        training_scales="degraded: LST 4 km + NDVI 1 km -> LST 1 km; applied 1 km + NDVI 250 m -> "
        "250 m (scale-invariance hypothesis)",
        training_data=[
            "modis_aster TRAIN_PAIRS: MODIS LST 1 km, MODIS NDVI 250 m block-averaged to 1 km"
        ],
        patches={"n_train": len(train), "n_val": len(val), "patch_fine_px": patch},
    )


JOBS = ("sisr_rescnn", "sisr_mrunet", "disr_unet", "disr_sif", "disr_degraded")


def main(argv: list[str] | None = None) -> int:
    ap = argparse.ArgumentParser(
        prog="python -m xlstsr.train_bundled", description=__doc__.splitlines()[0]
    )
    ap.add_argument("--data", type=Path, default=None, help="shared data folder")
    ap.add_argument("--out", type=Path, default=WEIGHTS_DIR, help="output folder")
    ap.add_argument("--only", nargs="*", choices=JOBS, default=list(JOBS))
    ap.add_argument(
        "--threads", type=int, default=1, help="torch threads (the bundled files were made with 1)"
    )
    ap.add_argument("--stride", type=int, default=None, help="override the DISR patch stride")
    ap.add_argument("--epochs", type=int, default=None, help="override the epoch budget")
    ap.add_argument("--no-progress", action="store_true")
    ap.add_argument("--lr", type=float, default=None, help="override the DISR learning rate")
    ap.add_argument(
        "--loss-option",
        action="append",
        default=[],
        metavar="KEY=VALUE",
        help="override a DISR loss option (e.g. w_spectral=1.0)",
    )
    args = ap.parse_args(argv)
    torch.set_num_threads(args.threads)
    data = args.data or default_data_dir()
    if not (data / "modis_aster").is_dir():
        raise SystemExit(f"no modis_aster data under {data}: pass --data or set XLSTSR_DATA")
    prog = not args.no_progress
    lopts = {k: float(v) for k, v in (o.split("=", 1) for o in args.loss_option)}
    dkw: dict[str, Any] = {"loss_options": lopts}
    if args.lr:
        dkw["lr"] = args.lr
    if args.stride:
        dkw["stride"] = args.stride
    t0 = time.perf_counter()
    for job in args.only:
        if job.startswith("sisr_"):
            train_sisr(
                job[5:],
                data,
                args.out,
                progress=prog,
                epochs=args.epochs or (120 if job == "sisr_rescnn" else 40),
            )
        elif job == "disr_degraded":
            train_disr_degraded(data, args.out, epochs=args.epochs or 80, progress=prog)
        elif job == "disr_unet":
            train_disr(
                "supervised",
                data,
                args.out,
                epochs=args.epochs or SUPERVISED_EPOCHS,
                progress=prog,
                **dkw,
            )
        else:
            train_disr("sif", data, args.out, epochs=args.epochs or 20, progress=prog, **dkw)
    print(f"done in {time.perf_counter() - t0:.0f} s")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())

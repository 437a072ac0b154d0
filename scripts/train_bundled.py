"""Train the pretrained weights bundled in ``xlstsr/weights/`` (``make weights``): the recipe.

``python scripts/train_bundled.py [--data DIR] [--only NAME ...] [--out DIR] [options]``

Without ``--out`` it writes the package's ``xlstsr/weights/`` (the files ``method="sisr"`` /
``"disr"`` load), and only when the run is the recipe as shipped: the project's own data, no
option but ``--only`` / ``--no-progress`` changed. Any other run (``--epochs``, ``--seed``,
``--threads``, held-back ``--data``...) is refused unless it names ``--out``.

A script, not part of the package: the constants below say how the bundled files were trained.
Data (``../shared/data`` beside the project, or ``--data`` / ``$XLSTSR_DATA``), read with the
package's readers (:mod:`xlstsr.datasets`):

- ``modis_aster``: 55 MODIS 1 km LST / MODIS 250 m NDVI / ASTER 250 m LST pairs
  (Ait-Bachir et al. 2025 test set). **Only** ``TRAIN_PAIRS`` (20 pairs) are used for training
  and validation; ``EVAL_PAIRS`` (the other 35) are held out for every accuracy figure (the split
  is :mod:`xlstsr.datasets.modis_aster`'s, which ``benchmarks/`` and the tests import).
- ``mod11a1_hdf``: one MOD11A1 C6 granule (h14v09, 2019-11-01, Brazil), daytime LST, QC MODLAND
  good/other quality kept (1200 x 1200, ~23 % clear), cut into 16 spatial scenes of 300 x 300.
- ``modis_h18v04_2020``: the daily MOD11A1 v061 datacube (day and night LST, 2020, complete
  64 x 64 windows as COGs + STAC), read with :func:`xlstsr.io.open_stac` and split **by window
  position** (``cube_split``): train / validation / test positions, and the positions sharing
  ground with ``EVAL_PAIRS`` held out of everything.
- ``modis_croatia_8day``: MOD11A2 2006 day and night composites over Croatia (training only:
  no h18v04 window nor modis_aster pair lies in its bounds).

Models (all factor 4):

``sisr_rescnn_cube_x4.pt`` (default of ``method="sisr"``)
    :class:`~xlstsr.nn.ResCNN` (32 channels, 4 blocks), SISR at degraded resolution on the
    datacube's training positions + Croatia, day and night, box degradation; the output head
    scaled by the detail gain (0.4). Settings (``SISR_CUBE``) chosen on the validation positions
    and on ASTER over ``TRAIN_PAIRS`` (``benchmarks/sisr_cube.py --select``).
``sisr_rescnn_x4.pt``
    :class:`~xlstsr.nn.ResCNN` (32 channels, 4 residual blocks), SISR at degraded resolution:
    ``radiometric_mean(LST_1km, 4) -> LST_1km`` on the granule and the training pairs' MODIS LST.
``sisr_mrunet_x4.pt``
    :class:`~xlstsr.nn.MRUNet` (base 12, 2 levels), same data and protocol.
``disr_unet_coreg_x4.pt`` (``--only disr_coreg``; name ``unet``, the default of ``method="disr"`` until round 7, the teacher of ``fast``)
    The cross-sensor DISR below (same network, patches, epochs) with each training pair's
    ASTER truth first co-registered onto its MODIS LST (:func:`coregistered_truth`:
    :func:`xlstsr.estimate_offset` + :func:`xlstsr.coregister.apply_offset`, the estimator of the
    co-registered evaluation protocol); settings chosen on ``VAL_PAIRS`` under that protocol
    (``benchmarks/select_disr.py --coreg``): twice the texture weights (``SUPERVISED_LOSS``).
    Since round 4 (``benchmarks/select_disr.py --finetune``) it starts from the weights and
    normalisation of ``disr_degraded_cube_x4.pt`` (``COREG_INIT``: the same network pre-trained
    on the cube's 4 km -> 1 km MODIS pairs, whose split keeps every position sharing ground with
    ``EVAL_PAIRS`` out) and fine-tunes at ``COREG_LR``; ``make weights`` trains the cube model
    first.
``disr_rescnn_distilled_x4.pt`` (``--only disr_fast``, after ``disr_coreg``; name ``fast``,
    **the default of method "disr"** since round 7 of ``benchmarks/select_disr.py --distil``)
    :class:`~xlstsr.nn.GuidedResCNN` (body on the coarse grid, a third of the U-Net's forward
    time) through the U-Net's two steps (cube pre-training, co-registered fine-tuning), then
    distilled from the U-Net file (:func:`train_disr_distilled`: its output as the target on
    the training pairs' MODIS windows; round 6), then again on those windows under the 8
    rotations and flips, each labelled by the U-Net (``dihedral=True``; round 7: level with the
    U-Net on the validation pairs).
``disr_unet_x4.pt`` (``--only disr_unet``; name ``unet_displaced``, the default before issue 13)
    :class:`~xlstsr.nn.GuidedUNet` (NDVI guide, base 12, 2 levels), cross-sensor supervised:
    MODIS LST 1 km + MODIS NDVI 250 m -> ASTER LST on the 250 m MODIS grid (invalid ASTER masked),
    with a high-pass detail term and a spectral-energy term (see :func:`xlstsr.nn.losses.supervised_loss`);
    their weights and the learning rate were chosen on ``VAL_PAIRS`` only
    (``benchmarks/select_disr.py``, docs/results/disr_selection.md), as were the patch stride
    (32) and the epoch budget (40).
``disr_degraded_x4.pt``
    :class:`~xlstsr.nn.GuidedUNet` (base 12), degraded DISR on the training pairs:
    ``(radiometric_mean(LST_1km, 4), NDVI block-averaged to 1 km) -> LST_1km``.
``disr_degraded_cube_x4.pt`` (``--only disr_degraded_cube``)
    The same degraded DISR on the MOD11A1 datacube, day and night, split by window position
    like the cube SISR (``cube_split``): ``(radiometric_mean(LST 1 km, 4), NDVI 1 km) -> LST
    1 km``, the NDVI from the MOD13A2 red/NIR of the same window, the composite nearest in time
    (``cube_samples_ndvi``; scored by ``benchmarks/disr_degraded_cube.py``).
``disr_sif_x4.pt``
    :class:`~xlstsr.nn.GuidedUNet` trained with the scale-invariance-free loss
    (:func:`xlstsr.nn.losses.sif_loss`) on the training pairs: no fine LST used.

Seeds are fixed; with the same data, threads, library versions and machine the weights are
reproducible bit for bit. Across machines they are not: SIMD code paths change the last bits of
numpy reductions and torch kernels (a rerun on another CPU gave a SIF gain differing in the 8th
digit and losses differing from the first epoch, for the code before and after the move to
``scripts/``, which give identical files on one machine).
"""

from __future__ import annotations

import argparse
import functools
import math
import shlex
import sys
import time
from pathlib import Path
from typing import Any

import numpy as np
import torch

from xlstsr.datasets import (
    EVAL_PAIRS,
    TRAIN_PAIRS,
    VAL_PAIRS,
    data_root,
    modis_aster_arrays,
    modis_aster_pairs,
    open_mod11a1_granule,
)
from xlstsr.datasets.modis_aster import FACTOR, _pairs_folder
from xlstsr.datasets.root import OutputPathError, check_output, is_project_data
from xlstsr.grid import MODIS_1KM, MODIS_LST_PSF_SIGMA
from xlstsr.methods.torch_model import fill_guide
from xlstsr.nn import GuidedUNet, build_model, load_model, save_model
from xlstsr.nn.weights import WEIGHTS_DIR
from xlstsr.train import (
    PatchSet,
    PositionSplit,
    cut_scenes,
    degraded_pairs,
    fit,
    fit_guide_gain,
    make_patches,
    split_by_position,
    split_by_scene,
    split_positions,
    target_scale_pairs,
    window_samples,
)

#: the default cross-sensor DISR (``--only disr_coreg``, ASTER truth co-registered): loss weights
#: chosen on VAL_PAIRS only under the headline protocol (``benchmarks/select_disr.py --coreg``,
#: round 3 of docs/results/disr_selection.md)
SUPERVISED_LOSS: dict[str, float] = {"w_detail": 2.0, "w_spectral": 2.0}
#: the DISR on ASTER as given (``--only disr_unet``, name ``unet_displaced``): round 2's choice
DISPLACED_LOSS: dict[str, float] = {"w_detail": 1.0, "w_spectral": 1.0}
#: learning rate, patch stride and epoch budget of both, chosen on VAL_PAIRS (rounds 1-2)
SUPERVISED_LR = 5e-4
#: the co-registered DISR (``--only disr_coreg``) since round 4 (``benchmarks/select_disr.py
#: --finetune``, chosen on VAL_PAIRS): fine-tuned from the cube's degraded DISR at this rate
COREG_INIT = "disr_degraded_cube_x4.pt"
#: name ``unet``: the default disr of rounds 4-6, since round 7 the teacher of ``fast`` (the
#: default disr now, FAST_FILE) and of ``--only disr_distil`` without ``--teacher``
COREG_FILE = "disr_unet_coreg_x4.pt"
COREG_LR = 2e-4
SUPERVISED_STRIDE = 32  # fine px between 96 px patches
SUPERVISED_EPOCHS = 40
#: ``--smoke`` (the benchmarks' smoke runs, a test of the code path): the cube's first dates and
#: a few modis_aster pairs (training pairs, early-stopping pairs among them)
SMOKE_DATES = 5
SMOKE_PAIRS: tuple[tuple[str, ...], tuple[str, ...]] = (("001", "020", "040"), ("040",))
#: granule scenes (of 16) that validate the SISR models
GRANULE_VAL_SCENES = ("mod11a1_0_3", "mod11a1_2_1", "mod11a1_3_2")
COMMAND = "python scripts/train_bundled.py"
#: the command line of the run in progress (set by :func:`main`): what each checkpoint records
_RUN_COMMAND: str | None = None


def recorded_command(default: str) -> str:
    """The ``command`` a checkpoint records: the command line that ran (``COMMAND`` plus the
    arguments :func:`main` was given, so that ``metadata["command"]`` reproduces the file),
    else ``default`` (a training function called from Python, not through :func:`main`)."""
    return _RUN_COMMAND or default


SPLIT_NOTE = (
    "modis_aster: trained on TRAIN_PAIRS (20; early stopping on VAL_PAIRS among them), the 35 "
    "EVAL_PAIRS never seen (see xlstsr.datasets.modis_aster)"
)


# -- the MOD11A1 datacube (modis_h18v04_2020): SISR split by window position --------------------

#: the daily MOD11A1 datacube: folder, its two LST assets, window size (1 km pixels)
CUBE = "modis_h18v04_2020"
CUBE_ASSETS = ("LST_Day_1km", "LST_Night_1km")
CUBE_WINDOW = 64
#: shares of the window-dates (of the positions not held out) drawn for validation and test
CUBE_VAL_FRACTION, CUBE_TEST_FRACTION, CUBE_SPLIT_SEED = 0.15, 0.25, 0
#: the MODIS LST PSF (Gaussian sigma ~350 m on a 926.6 m pixel: 0.38 coarse pixel) scaled to the
#: training degradation 4 km -> 1 km: 0.38 coarse pixel = 1.51 fine (1 km) pixels
MODIS_PSF_FINE_PX = FACTOR * MODIS_LST_PSF_SIGMA / MODIS_1KM
#: the SIF DISR (``--only disr_sif``) since round 5 (``benchmarks/select_disr.py --sif``, chosen
#: on VAL_PAIRS): its consistency term sees the SR through the MODIS PSF (sigma 350 m, in fine
#: 250 m pixels, rounded as the selection ran it)
SIF_PSF_SIGMA = round(MODIS_PSF_FINE_PX, 3)


def cube_dir(data_dir: Path) -> Path:
    """The folder of the MOD11A1 cube (``catalog.json``, ``items``, ``windows.csv``) that
    ``data_dir`` names: the one place every reader of the cube looks it up.

    - ``data_dir / CUBE``, the shared layout (a data folder holding ``modis_h18v04_2020/``);
    - else ``data_dir`` itself when it holds ``catalog.json`` (the cube's own folder given, as
      ``benchmarks/engine.py --root`` accepts);
    - else the one folder of ``data_dir`` laid out like the cube (``catalog.json`` and
      ``windows.csv``): a held-back cube of another year or tile (``modis_h18v04_2021``);
      several such folders are refused, naming them (pass the one to use);
    - else ``data_dir / CUBE``, whose readers then name what is missing there.

    Examples
    --------
    >>> import tempfile
    >>> d = Path(tempfile.mkdtemp())
    >>> (d / "modis_h18v04_2021").mkdir()
    >>> for f in ("catalog.json", "windows.csv"):
    ...     _ = (d / "modis_h18v04_2021" / f).write_text("")
    >>> cube_dir(d).name, cube_dir(d / "modis_h18v04_2021").name
    ('modis_h18v04_2021', 'modis_h18v04_2021')
    """
    data_dir = Path(data_dir)
    shared = data_dir / CUBE
    if (shared / "catalog.json").is_file():
        return shared
    if (data_dir / "catalog.json").is_file():
        return data_dir
    found = sorted(d for d in data_dir.iterdir()
                   if d.is_dir() and (d / "catalog.json").is_file()
                   and (d / "windows.csv").is_file()) if data_dir.is_dir() else []
    if len(found) > 1:
        raise SystemExit(
            f"{data_dir} holds {len(found)} cubes laid out like {CUBE} ("
            + ", ".join(d.name for d in found) + "): pass the folder of the one to use (e.g. "
            f"{found[0]}) as --root (--data of scripts/train_bundled.py)")
    return found[0] if found else shared


def cube_windows_table(data_dir: Path) -> Any:
    """``windows.csv`` of the cube: window index, pixel offsets, dates, overlap with modis_aster."""
    import pandas as pd

    path = cube_dir(data_dir) / "windows.csv"
    if not path.is_file():  # pandas' bare "No such file" named neither the data nor the fix
        raise FileNotFoundError(
            f"no {path.parent.name}/windows.csv in the data folder {path.parent.parent}: pass "
            f"the folder holding {CUBE}/ or the cube's folder itself (--data of "
            "scripts/train_bundled.py, --root of a benchmark), or set the environment variable "
            "XLSTSR_DATA to it."
        )
    return pd.read_csv(path, dtype={"dev_pairs": str, "dev_pairs_overlap_px": str})


def cube_samples(data_dir: Path, max_dates: int | None = None) -> Any:
    """Every complete 64 x 64 window-date of the cube, day and night LST (K), read the user's way.

    ``catalog.json`` -> :func:`xlstsr.io.open_stac` (a lazy (time, y, x) cube of the whole tile,
    values decoded from the items' ``raster:bands``; :func:`xlstsr.validate.decode_lst` decodes
    whatever is still coded) -> :func:`xlstsr.train.window_samples` at the positions of
    ``windows.csv``: a Dataset ``(sample, y, x)`` with ``position`` (window index) and ``time``.
    ``max_dates``: only the first dates (a smoke run).
    """
    import dask
    import pystac

    from xlstsr.io import open_stac
    from xlstsr.validate import decode_lst

    cat = pystac.Catalog.from_file(str(cube_dir(data_dir) / "catalog.json"))
    items = sorted(
        (it for it in cat.get_items(recursive=True) if set(CUBE_ASSETS) <= set(it.assets)),
        key=lambda it: it.datetime,
    )[:max_dates]
    cube = open_stac(items, list(CUBE_ASSETS), chunks={"time": 1, "y": 1200, "x": 1200})
    cube = cube.map(decode_lst)
    w = cube_windows_table(data_dir)
    wins = {int(r.window): (int(r.row_off), int(r.col_off)) for r in w.itertuples()}
    with dask.config.set(scheduler="synchronous"):  # one tile read at a time, in order
        return window_samples(cube, wins, CUBE_WINDOW)


#: the columns of ``windows.csv`` naming the modis_aster pairs a window shares ground with
CUBE_PAIR_COLUMNS = ("intersects_dev_pair", "dev_pairs", "dev_pairs_overlap_px")


def _empty(value: Any) -> bool:
    """Whether a ``windows.csv`` cell is empty (NaN / None)."""
    import pandas as pd

    return not isinstance(value, str) and bool(pd.isna(value))


def _flag(value: Any) -> bool:
    """A ``windows.csv`` yes/no cell (True/False, "True"/"false", 1/0; empty: no)."""
    if isinstance(value, str):
        return value.strip().lower() in ("true", "1", "1.0", "yes", "y", "t")
    return False if _empty(value) else bool(value)


def _pixel_counts(value: Any) -> list[int]:
    """The ``;``-separated pixel counts of a ``dev_pairs_overlap_px`` cell (empty: none)."""
    if _empty(value):
        return []
    return [int(float(n)) for n in str(value).split(";") if n.strip()]


def cube_pair_windows(data_dir: Path, table: Any = None) -> tuple[list[int], list[int], str | None]:
    """``(held_out, touching, note)``: the windows of the cube's ``windows.csv`` that share 1 km
    pixels with the ASTER evaluation ground (held out of every model), those that touch a
    modis_aster pair otherwise (never test positions), and a note on how they were found.

    - The project's own cube (:func:`xlstsr.datasets.root.is_project_data`): the windows sharing
      pixels with a pair of ``EVAL_PAIRS`` are held out, those touching another pair (the
      ``TRAIN_PAIRS``) are never test: the split the bundled weights record.
    - Another (held-back) cube names its own modis_aster pairs in ``dev_pairs`` (numbered as
      its folder likes): an id says nothing about the shared split, so every window sharing
      pixels with any of its pairs is held out (all of them are evaluation ground there), one
      only sharing an edge is never test. The split does not depend on the pairs' numbering.
    - A ``windows.csv`` without the modis_aster columns (:data:`CUBE_PAIR_COLUMNS`: a cube with
      no ASTER pairs beside it): no window held out, and the note says so.
    """
    w = cube_windows_table(data_dir) if table is None else table
    present = [c for c in CUBE_PAIR_COLUMNS if c in w.columns]
    if not present:
        return [], [], (f"windows.csv has none of the modis_aster columns {list(CUBE_PAIR_COLUMNS)}:"
                        " no window is held out for ASTER pairs")
    held, touching = [], []
    if is_project_data(data_dir) and len(present) == len(CUBE_PAIR_COLUMNS):
        for r in w.itertuples():
            if not r.intersects_dev_pair:
                continue
            pairs = str(r.dev_pairs).split(";")
            px = [int(n) for n in str(r.dev_pairs_overlap_px).split(";")]
            shares_eval = any(p in EVAL_PAIRS and n > 0 for p, n in zip(pairs, px))
            (held if shares_eval else touching).append(int(r.window))
        return held, touching, None
    for _, r in w.iterrows():
        if "intersects_dev_pair" in w.columns:
            meets = _flag(r["intersects_dev_pair"])
        else:  # the pairs named: the window meets them
            meets = not _empty(r["dev_pairs"]) and bool(str(r["dev_pairs"]).strip())
        if not meets:
            continue
        if "dev_pairs_overlap_px" in w.columns:
            shares = any(n > 0 for n in _pixel_counts(r["dev_pairs_overlap_px"]))
        else:  # the shared pixels unknown: held out, to be safe
            shares = True
        (held if shares else touching).append(int(r["window"]))
    missing = [c for c in CUBE_PAIR_COLUMNS if c not in w.columns]
    note = ("every window sharing 1 km pixels with a modis_aster pair named in windows.csv is "
            "held out (a held-back cube's pairs are all evaluation ground; the ids are its own)"
            + (f"; windows.csv lacks {missing}, so a window meeting a pair "
               + ("is taken to share pixels with it" if "dev_pairs_overlap_px" in missing
                  else "is one whose dev_pairs names one") if missing else ""))
    return held, touching, note


def cube_split(data_dir: Path) -> PositionSplit:
    """The split by window position of the cube (seeded; recorded in the checkpoint).

    - ``held_out``: windows sharing 1 km pixels with a modis_aster pair of ``EVAL_PAIRS``: their
      ground is the ASTER truth of the 1 km -> 250 m evaluation, so no model trained here sees
      it; they are scored as a second group of unseen positions. (On a cube other than the
      project's own, with any of the pairs its ``windows.csv`` names; on one whose
      ``windows.csv`` has no modis_aster columns, none: :func:`cube_pair_windows`.)
    - ``test``: drawn among the other windows, never one touching any modis_aster pair (the
      bundled models of 2025 trained on the MODIS LST of ``TRAIN_PAIRS``: a fair comparison
      needs ground none of them saw).
    - ``val``, ``train``: the rest; the sets hold about 15 % and 25 % of the window-dates.
    """
    w = cube_windows_table(data_dir)
    held, touching, _ = cube_pair_windows(data_dir, w)
    return split_positions(
        {int(r.window): int(r.n_dates_mod11a1) for r in w.itertuples()},
        val_fraction=CUBE_VAL_FRACTION,
        test_fraction=CUBE_TEST_FRACTION,
        seed=CUBE_SPLIT_SEED,
        never_test=touching,
        held_out=held,
    )


def cube_pairs(samples: Any, psf: float | None) -> dict[str, Any]:
    """Degraded pairs of every sample, day and night stacked: ``lst_coarse``, ``target``,
    ``scene_ids`` (the window position of each image)."""
    t = np.concatenate([samples[v].values for v in CUBE_ASSETS])
    pairs = degraded_pairs(t, FACTOR, psf=psf)
    pairs["scene_ids"] = np.tile(samples.position.values, len(CUBE_ASSETS))
    return pairs


def cube_patches(
    data_dir: Path, split: PositionSplit, *, psf: float | None, patch: int = 64, samples: Any = None
) -> tuple[PatchSet, PatchSet, dict]:
    """(train, val) SISR patches of the cube, split by window position (test/held-out unused)."""
    samples = cube_samples(data_dir) if samples is None else samples
    ps = make_patches(**cube_pairs(samples, psf), factor=FACTOR, patch=patch, stride=patch)
    keep = np.isin(ps.scene, split.train + split.val + split.test)
    train, val, _ = split_by_position(ps.subset(keep), split)
    info = {"patch_fine_px": patch, "n_train": len(train), "n_val": len(val)}
    return train, val, info


CROATIA = "modis_croatia_8day"


def croatia_samples(data_dir: Path, size: int = CUBE_WINDOW) -> Any:
    """Complete ``size`` x ``size`` windows of the Croatia MOD11A2 composites (day and night, K).

    The files carry neither a nodata tag nor scale metadata (data README): DN x 0.02 K, 0 = no
    data, applied here. Windows are cut on a fixed grid from the raster's corner; ``position``
    is the grid cell (``cro_<row>_<col>``), the same ground at every date. No h18v04 window nor
    modis_aster pair lies within the raster's bounds (checked in the tests): this ground is
    training data only.
    """
    import rioxarray
    import xarray as xr

    arrs, ids = [], []
    for f in sorted((data_dir / CROATIA).glob("LST2006_*.LST_*_1km.tif")):
        with rioxarray.open_rasterio(f) as r:
            a = r.values[0].astype(np.float32)
        a = np.where(a == 0, np.nan, a * np.float32(0.02))
        for i in range(0, a.shape[0] - size + 1, size):
            for j in range(0, a.shape[1] - size + 1, size):
                w = a[i : i + size, j : j + size]
                if np.isfinite(w).all():
                    arrs.append(w)
                    ids.append(f"cro_{i // size}_{j // size}")
    return xr.Dataset(
        {"lst": (("sample", "y", "x"), np.stack(arrs))}, coords={"position": ("sample", ids)}
    )


#: the bundled cube SISR (``sisr_rescnn_cube_x4.pt``, default of ``method="sisr"``): settings
#: chosen on validation data only (``benchmarks/sisr_cube.py --select``, docs/results/sisr_cube.md):
#: the highest pooled gain on the validation positions among the candidates x detail gains whose
#: RMSE against ASTER on TRAIN_PAIRS (headline protocol) is not above bicubic's, at today's
#: inference cost (ResCNN 32 x 4)
SISR_CUBE: dict[str, Any] = {
    "arch": "rescnn",
    "config": {"channels": 32, "n_blocks": 4},
    "psf": None,
    "croatia": True,
    "epochs": 40,
    "lr": 1e-3,
    "batch_size": 16,
    "patience": 15,
    "patch": 64,
    "loss_options": {},
    "input_noise": 0.0,
    "detail_gain": 0.4,
}


def scale_detail(model: torch.nn.Module, gain: float) -> torch.nn.Module:
    """Scale the model's output head by ``gain``: the output becomes
    ``bicubic + gain * (trained output - bicubic)`` (every built-in model is residual over
    bicubic through a final linear layer: ``tail`` of ResCNN, ``out`` of the U-Nets)."""
    head = model.tail if hasattr(model, "tail") else model.out
    with torch.no_grad():
        head.weight.mul_(gain)
        head.bias.mul_(gain)
    return model


def sisr_cube_patches(
    data_dir: Path, settings: dict[str, Any], samples: Any = None
) -> tuple[PatchSet, PatchSet, PositionSplit, dict]:
    """(train, val) patches of a cube SISR setting, its split and what they hold."""
    split = cube_split(data_dir)
    psf = MODIS_PSF_FINE_PX if settings.get("psf") == "modis" else settings.get("psf")
    train, val, info = cube_patches(
        data_dir, split, psf=psf, patch=settings.get("patch", 64), samples=samples
    )
    info["n_train_cube"] = info["n_train"]
    if settings.get("croatia"):
        c = croatia_samples(data_dir, settings.get("patch", 64))
        cro = make_patches(
            **degraded_pairs(c["lst"].values, FACTOR, psf=psf),
            factor=FACTOR,
            patch=settings.get("patch", 64),
            scene_ids=c.position.values,
        )
        train = PatchSet.concat([train, cro])
        info.update(n_train=len(train), n_train_croatia=len(cro))
    return train, val, split, info


def train_sisr_cube(
    data_dir: Path,
    out_dir: Path,
    *,
    name: str = "sisr_rescnn_cube_x4.pt",
    settings: dict[str, Any] | None = None,
    epochs: int | None = None,
    seed: int = 0,
    progress: bool = True,
    samples: Any = None,
) -> Path:
    """SISR 4 km -> 1 km on the MOD11A1 cube (day and night), split by window position."""
    st = {**SISR_CUBE, **(settings or {})}
    if epochs:
        st["epochs"] = epochs
    samples = cube_samples(data_dir) if samples is None else samples
    train, val, split, info = sisr_cube_patches(data_dir, st, samples)
    psf = MODIS_PSF_FINE_PX if st["psf"] == "modis" else st["psf"]
    torch.manual_seed(seed)  # the weight initialisation draws from torch's global generator
    model = build_model(st["arch"], factor=FACTOR, **st["config"])
    cpu0, wall0 = time.process_time(), time.perf_counter()
    hist = fit(model, train, val, mode="sisr", loss_options=st["loss_options"],
               epochs=st["epochs"], batch_size=st["batch_size"], lr=st["lr"],
               patience=st["patience"], input_noise=st["input_noise"], seed=seed,
               progress=progress)
    cpu, wall = time.process_time() - cpu0, time.perf_counter() - wall0
    if st["detail_gain"] != 1.0:
        scale_detail(model, st["detail_gain"])
    pos = samples.position.values
    n_dates = {s: int(np.isin(pos, getattr(split, s)).sum()) for s in split.as_dict()}
    data = [
        f"{CUBE}: MOD11A1 v061 h18v04 2020, LST_Day_1km and LST_Night_1km, complete 64 x 64 "
        f"windows ({n_dates['train']} window-dates of {len(split.train)} training positions, "
        f"day and night; {n_dates['val']} of {len(split.val)} validation positions for early "
        "stopping)"
    ]
    if st["croatia"]:
        data.append(f"{CROATIA}: MOD11A2 2006 day and night, {info['n_train_croatia']} complete "
                    "64 x 64 windows (no h18v04 window or modis_aster pair in its bounds)")
    path = save_model(
        model,
        out_dir / name,
        inputs=["lst"],
        mode="sisr",
        loss="Huber(delta=1 K) to the 1 km LST" if not st["loss_options"] else
        f"supervised_loss{st['loss_options']}",
        loss_options=st["loss_options"],
        training_scales="degraded: radiometric_mean(PSF(LST 1 km), 4) = 4 km -> 1 km; applied "
        "1 km -> 250 m (scale-invariance hypothesis)" if psf else
        "degraded: radiometric_mean(LST 1 km, 4) = 4 km -> 1 km; applied 1 km -> 250 m "
        "(scale-invariance hypothesis)",
        psf={"sigma_fine_px": psf, "sigma_m_at_1km": None if not psf else psf * MODIS_1KM / FACTOR,
             "note": "Gaussian in radiance before the 4 x 4 radiometric mean" if psf else
             "none: a perfect 4 x 4 box (radiometric mean)"},
        detail_gain={
            "value": st["detail_gain"],
            "note": "the output head scaled after training: output = bicubic + gain x (trained "
            "output - bicubic); chosen on validation data (the ASTER RMSE on TRAIN_PAIRS not above "
            "bicubic's at 1 km -> 250 m, the validation gain at 4 km -> 1 km the highest)",
        },
        training_data=data,
        split="by window position (a split by date leaks the landscape): "
        "xlstsr.train.PositionSplit drawn by scripts/train_bundled.py cube_split (seed "
        f"{CUBE_SPLIT_SEED}); held_out = windows sharing ground with modis_aster EVAL_PAIRS",
        positions=split.as_dict(),
        window_dates=n_dates,
        eval_pairs=list(EVAL_PAIRS),
        settings=st,
        patches=info,
        history=cube_history(hist, cpu, wall),
        command=recorded_command(COMMAND + " --only sisr_cube"),
    )
    print(f"{name}: {hist['epochs_run']} epochs, best val loss {hist['best_val_loss']:.4f}, "
          f"{cpu:.0f} s CPU ({wall:.0f} s wall) -> {path}", flush=True)
    return path


def cube_history(hist: dict[str, Any], cpu: float, wall: float) -> dict[str, Any]:
    """The training record a cube-trained checkpoint keeps: losses per epoch, time, threads."""
    return {
        "epochs_run": hist["epochs_run"],
        "best_val_loss": float(hist["best_val_loss"]),
        "train_loss": [round(v, 5) for v in hist["train_loss"]],
        "val_loss": [round(v, 5) for v in hist["val_loss"]],
        "seconds_per_epoch": float(np.median(hist["epoch_seconds"])),
        "cpu_seconds": round(cpu, 1),
        "wall_seconds": round(wall, 1),
        "engine": hist["engine"],
        "threads": torch.get_num_threads(),
    }


def sisr_patches(data_dir: Path, patch: int = 48) -> tuple[PatchSet, PatchSet, dict]:
    """Degraded-resolution SISR patches (train, val) from the granule and the training pairs."""
    tiles, ids = cut_scenes(open_mod11a1_granule(root=data_dir).values, 300, "mod11a1")
    granule = make_patches(
        **degraded_pairs(tiles, FACTOR),
        factor=FACTOR,
        patch=patch,
        stride=patch // 2,
        max_nan_fraction=0.3,
        scene_ids=ids,
    )
    pairs = make_patches(
        **degraded_pairs(modis_aster_arrays(TRAIN_PAIRS, data_dir)["lst"], FACTOR),
        factor=FACTOR,
        patch=patch,
        stride=patch // 4,
        max_nan_fraction=0.3,
        scene_ids=list(TRAIN_PAIRS),
    )
    g_tr, g_va = split_by_scene(granule, val_scenes=GRANULE_VAL_SCENES)
    p_tr, p_va = split_by_scene(pairs, val_scenes=VAL_PAIRS)
    info = {
        "granule_val_scenes": sorted(GRANULE_VAL_SCENES),
        "pairs_val": list(VAL_PAIRS),
        "patch_fine_px": patch,
    }
    return PatchSet.concat([g_tr, p_tr]), PatchSet.concat([g_va, p_va]), info


def _pair_arrays(
    data_dir: Path, pair_ids: tuple[str, ...] = TRAIN_PAIRS, guide_offset: str = "ignore"
) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """LST 1 km, NDVI 250 m (n, 1, Y, X) and ASTER truth of the training pairs
    (``guide_offset``: of :func:`xlstsr.datasets.modis_aster_arrays`)."""
    a = modis_aster_arrays(pair_ids, data_dir, guide_offset=guide_offset)
    return a["lst"], a["ndvi"], a["truth"]


#: the training pairs' NDVI in the default DISR's recipe (``--only disr_coreg disr_fast``):
#: "ignore", as stored (the shipped files). ``--guide-offset auto`` moves it back by its
#: sub-pixel offset from the MODIS LST where one is found (5 of the 20 TRAIN_PAIRS: 082 093 112
#: 171 202), as ``upscale`` does by default since session 15: round 8 of
#: ``benchmarks/select_disr.py`` (docs/results/disr_selection.md) did not choose it
GUIDE_OFFSET = "ignore"


def set_guide_offset(mode: str) -> None:
    """Set :data:`GUIDE_OFFSET` for this run (``--guide-offset``)."""
    global GUIDE_OFFSET
    GUIDE_OFFSET = mode


@functools.lru_cache(maxsize=4)
def guide_offset_record(data_dir: Path, pair_ids: tuple[str, ...], mode: str) -> dict[str, Any]:
    """Which training pairs' NDVI ``mode`` (:data:`GUIDE_OFFSET`) moved (for the file)."""
    if mode == "ignore":
        return {"mode": "ignore", "moved_pairs": [], "method": "the NDVI as stored"}
    base = modis_aster_arrays(pair_ids, data_dir)["ndvi"]
    moved = modis_aster_arrays(pair_ids, data_dir, guide_offset=mode)["ndvi"]
    changed = [pid for pid, a, b in zip(pair_ids, base, moved, strict=True)
               if not np.array_equal(a, b, equal_nan=True)]
    return {"mode": mode, "moved_pairs": changed,
            "method": "xlstsr.guide.check_alignment(ndvi, lst, 'auto', factor=4) before "
            "align_guide, as upscale(guide_offset=None) on in-memory inputs"}


@functools.lru_cache(maxsize=2)
def coregistered_truth(
    data_dir: Path, pair_ids: tuple[str, ...] = TRAIN_PAIRS
) -> tuple[np.ndarray, list[dict[str, Any]]]:
    """ASTER truth of each pair moved onto its MODIS LST, on the LST's 250 m grid (n, Y, X).

    The masked ASTER field (> 0, eroded 3 px, > 230 K) is co-registered with the pair's MODIS
    LST by :func:`xlstsr.estimate_offset` (shift and PSF width fitted jointly, from ASTER and
    the MODIS LST only, as the co-registered evaluation protocol does) and
    :func:`xlstsr.coregister.apply_offset` (its coordinates moved, no resampling), then
    reprojected bilinearly onto the LST's fine grid like
    :func:`xlstsr.datasets.open_modis_aster_aligned`. Without co-registration the truth sits
    ~1 fine pixel (~0.7 px in x and in y) from where MODIS (and its NDVI) saw the ground, and a
    model trained on it learns to smear detail towards that offset. A pair without a reliable estimate keeps its
    truth as given (recorded). Returns the stack and one record per pair (cached: do not
    modify them).
    """
    from xlstsr.datasets import open_modis_aster_aligned, open_modis_aster_pair

    out, records = [], []
    for pid in pair_ids:
        lst, _, aster = open_modis_aster_pair(pid, data_dir, truth_mask=True)
        grid = open_modis_aster_aligned(pid, data_dir)["truth"]  # the LST's 250 m grid
        truth, rec = coregister_truth(aster, lst, grid)
        out.append(truth)
        records.append({"pair": pid, **rec})
    return np.stack(out), records


def coregister_truth(aster: Any, lst: Any, grid: Any) -> tuple[np.ndarray, dict[str, Any]]:
    """One fine truth moved onto its coarse LST and resampled bilinearly onto ``grid``.

    ``aster``: the masked fine truth (DataArray, any CRS), ``lst``: the coarse LST,
    ``grid``: a DataArray on the target fine grid. Returns the array and what was done.
    """
    from rasterio.enums import Resampling

    from xlstsr.coregister import apply_offset, estimate_offset

    est = estimate_offset(aster, lst, errors="ignore")
    rec = {k: round(float(est[k]), 2) for k in (
        "shift_x", "shift_y", "shift_uncertainty", "psf_sigma", "correlation_before",
        "correlation_after")}
    rec["reliable"] = bool(est.reliable)
    moved = apply_offset(aster, est, lst.rio.crs) if rec["reliable"] else aster
    truth = moved.rio.reproject_match(grid, resampling=Resampling.bilinear, nodata=np.nan)
    return np.asarray(truth.values, np.float32), rec


def disr_patches(
    data_dir: Path,
    patch: int = 96,
    with_truth: bool = True,
    stride: int = 64,
    coregister: bool = False,
    pair_ids: tuple[str, ...] = TRAIN_PAIRS,
    val_pairs: tuple[str, ...] = VAL_PAIRS,
    guide_offset: str = "ignore",
) -> tuple[PatchSet, PatchSet, tuple[np.ndarray, np.ndarray]]:
    """Target-scale DISR patches (train, val) from the training pairs (ASTER truth optional;
    ``coregister``: the truth moved onto the MODIS LST first, :func:`coregistered_truth`);
    ``pair_ids`` (``val_pairs`` among them for early stopping): the pairs used;
    ``guide_offset``: the NDVI's (:data:`GUIDE_OFFSET`)."""
    lst, ndvi, truth = _pair_arrays(data_dir, pair_ids, guide_offset)
    if with_truth and coregister:
        truth = coregistered_truth(data_dir, pair_ids)[0].copy()
    # the inference engine fills guide gaps the same way before the forward
    ndvi = fill_guide(ndvi, FACTOR, float(np.nanmean(ndvi)))
    ps = make_patches(
        **target_scale_pairs(lst, FACTOR, ndvi, truth if with_truth else None),
        factor=FACTOR,
        patch=patch,
        stride=stride,
        max_nan_fraction=0.5,
        scene_ids=list(pair_ids),
    )
    return (*split_by_scene(ps, val_scenes=val_pairs), (lst, ndvi))


def degraded_disr_patches(data_dir: Path, patch: int = 32) -> tuple[PatchSet, PatchSet]:
    """Degraded DISR patches (train, val): (LST 4 km, NDVI block-averaged to 1 km) -> LST 1 km."""
    lst, ndvi, _ = _pair_arrays(data_dir)
    dp = degraded_pairs(lst, FACTOR, ndvi)
    dp["guide"] = fill_guide(np.ascontiguousarray(dp["guide"]), FACTOR, float(np.nanmean(ndvi)))
    ps = make_patches(
        **dp,
        factor=FACTOR,
        patch=patch,
        stride=patch // 4,
        max_nan_fraction=0.3,
        scene_ids=list(TRAIN_PAIRS),
    )
    return split_by_scene(ps, val_scenes=VAL_PAIRS)


def _fit_and_save(
    model: torch.nn.Module,
    train: PatchSet,
    val: PatchSet,
    name: str,
    out_dir: Path,
    *,
    fit_options: dict[str, Any],
    **meta: Any,
) -> Path:
    """Train with :func:`xlstsr.train.fit` (seeded) and write the file with its metadata."""
    cpu0, wall0 = time.process_time(), time.perf_counter()
    hist = fit(model, train, val, **fit_options)
    cpu, wall = time.process_time() - cpu0, time.perf_counter() - wall0
    secs = float(np.median(hist["epoch_seconds"])) if hist["epoch_seconds"] else float("nan")
    path = save_model(
        model,
        out_dir / name,
        split=meta.pop("split", SPLIT_NOTE),
        train_pairs=meta.pop("train_pairs", list(TRAIN_PAIRS)),
        val_pairs=meta.pop("val_pairs", list(VAL_PAIRS)),
        eval_pairs=meta.pop("eval_pairs", list(EVAL_PAIRS)),
        history={
            "epochs_run": hist["epochs_run"],
            "best_val_loss": float(hist["best_val_loss"]),
            "train_loss": [round(v, 5) for v in hist["train_loss"]],
            "val_loss": [round(v, 5) for v in hist["val_loss"]],
            "seconds_per_epoch": secs,
            "cpu_seconds": round(cpu, 1),
            "wall_seconds": round(wall, 1),
            "engine": hist.get("engine"),
            "threads": torch.get_num_threads(),
        },
        command=recorded_command(meta.pop("command", COMMAND)),
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
    """SISR at degraded resolution (4 km -> 1 km) on the granule and the training pairs."""
    train, val, info = sisr_patches(data_dir)
    cfg = {"rescnn": {"channels": 32, "n_blocks": 4}, "mrunet": {"base": 12, "levels": 2}}[arch]
    torch.manual_seed(seed)  # the weight initialisation draws from torch's global generator
    model = build_model(arch, factor=FACTOR, **cfg)
    return _fit_and_save(
        model,
        train,
        val,
        f"sisr_{arch}_x4.pt",
        out_dir,
        fit_options={"mode": "sisr", "epochs": epochs, "batch_size": 16, "lr": 1e-3,
                     "patience": patience, "seed": seed, "progress": progress},
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
    coregister: bool = False,
    init: Path | None = None,
    pairs: tuple[tuple[str, ...], tuple[str, ...]] | None = None,
    arch: str | None = None,
    arch_options: dict[str, int] | None = None,
) -> Path:
    """Target-scale DISR: cross-sensor ``"supervised"`` (ASTER truth) or ``"sif"`` (no fine LST).

    ``coregister``: each training pair's ASTER truth is first moved onto its MODIS LST
    (:func:`coregistered_truth`); the default ``disr`` recipe (``--only disr_coreg``).
    ``init``: a model file of the same network whose weights *and normalisation* start the
    training (fine-tuning, e.g. from the degraded DISR trained on the cube's 4 km -> 1 km pairs).
    ``pairs``: (pairs used, validation pairs among them) instead of (``TRAIN_PAIRS``,
    ``VAL_PAIRS``), e.g. for a learning curve (recorded in the file; every other pair counts as
    held out). ``arch``, ``arch_options``: the network of :data:`DISR_NETWORKS` and overrides of
    its arguments (with ``init``: that file's network).
    """
    pair_ids, val_pairs = pairs if pairs is not None else (TRAIN_PAIRS, VAL_PAIRS)
    pair_ids, val_pairs = tuple(pair_ids), tuple(val_pairs)
    if not set(val_pairs) <= set(pair_ids):
        raise ValueError(f"validation pairs {sorted(set(val_pairs) - set(pair_ids))} are not "
                         "among the pairs used")
    start = None if init is None else load_model(init)
    if start is not None and arch not in (None, start.arch):
        raise SystemExit(f"--arch {arch}, but --init {init} is a {start.arch}: pass the "
                         f"{arch} file to start from (e.g. its disr_degraded_cube)")
    supervised = kind == "supervised"
    coregister = coregister and supervised
    stride = stride or (SUPERVISED_STRIDE if supervised else 64)
    train, val, (lst, ndvi) = disr_patches(
        data_dir, with_truth=supervised, stride=stride, coregister=coregister,
        pair_ids=pair_ids, val_pairs=val_pairs,
        guide_offset=GUIDE_OFFSET if coregister else "ignore",
    )
    lr = lr or ((COREG_LR if coregister else SUPERVISED_LR) if supervised else 5e-4)
    arch = start.arch if start is not None else (arch or "guided_unet")
    if start is None:
        config = dict(arch_options or {})
    else:
        config = {k: v for k, v in start.config.items() if k not in ("factor", "n_guide")}
    torch.manual_seed(seed)  # the weight initialisation draws from torch's global generator
    model = disr_network(arch, **config)
    extra: dict[str, Any] = {}
    if start is not None:
        if start.config != model.config or start.n_guide != 1:
            raise SystemExit(f"--init {init}: {start.arch} {start.config} is not a DISR network "
                             "of the recipe (one guide band, factor 4)")
        model.load_state_dict(start.state_dict())
        extra["initialised_from"] = {
            "file": Path(init).name,
            "note": "weights and normalisation of this file start the training (fine-tuning); "
            "the normalisation is kept, not refitted",
        }
    if supervised:
        opts = {**(SUPERVISED_LOSS if coregister else DISPLACED_LOSS), **(loss_options or {})}
        loss = (
            "Huber(SR, ASTER) + w_detail Huber(HP(SR), HP(ASTER)) + w_spectral "
            "log^2(E_HP(SR)/E_HP(ASTER)), HP = x - Gaussian(sigma=2 fine px)"
            + (" + w_consistency Huber(radiometric_mean(SR, 4), MODIS LST)"
               if opts.get("w_consistency") else "")
        )
        scales = "target scale: MODIS 1 km (+ NDVI 250 m) -> ASTER 250 m"
        extra["coregistration"] = _coregistration_record(data_dir, pair_ids) if coregister else {
            "applied": False,
            "note": "ASTER truth where its geotransform says (~0.7 fine px from where MODIS saw "
            "the ground: the model learns that displacement)",
        }
        extra["psf"] = {
            "consistency": "none: a perfect 4 x 4 box (radiometric mean)"
            if opts.get("w_consistency") else "no consistency term",
            "coregistration": "the MODIS PSF (Gaussian) fitted jointly with each pair's shift"
            if coregister else "not used",
        }
        if coregister:
            extra["command"] = COMMAND + " --only disr_coreg"
            extra["guide_offset"] = guide_offset_record(data_dir, pair_ids, GUIDE_OFFSET)
    else:
        gain = fit_guide_gain(lst, ndvi, FACTOR)
        opts = {"alpha": 0.5, "gain": gain, "psf_sigma": SIF_PSF_SIGMA, **(loss_options or {})}
        loss = (
            "scale-invariance-free (Ait-Bachir et al. 2025): alpha Huber(radiometric_mean("
            + ("PSF(SR), 4)" if opts.get("psf_sigma") else "SR, 4)")
            + ", LST) + (1-alpha) Huber(HP(SR), gain HP(NDVI)); gain fitted at 1 km"
            + (f"; PSF: Gaussian sigma {opts['psf_sigma']} fine px in radiance (MODIS 350 m)"
               if opts.get("psf_sigma") else "")
        )
        extra["psf"] = {"consistency": f"Gaussian sigma {opts['psf_sigma']} fine px (MODIS "
                        "LST, 350 m) in radiance, then the 4 x 4 radiometric mean"
                        if opts.get("psf_sigma") else "none: a perfect 4 x 4 box"}
        scales = "target scale: MODIS 1 km + NDVI 250 m, no fine LST"
    if pairs is not None:
        held = [p for p in modis_aster_pairs(data_dir) if p not in pair_ids]
        extra.update(
            split=f"modis_aster: trained on {len(pair_ids)} pairs given by the caller (early "
            f"stopping on {len(val_pairs)} among them), the other {len(held)} never seen",
            train_pairs=list(pair_ids), val_pairs=list(val_pairs), eval_pairs=held,
        )
    return _fit_and_save(
        model,
        train,
        val,
        name or ("disr_unet_x4.pt" if supervised else "disr_sif_x4.pt"),
        out_dir,
        fit_options={"mode": kind, "loss_options": opts, "epochs": epochs, "batch_size": 8,
                     "lr": lr, "patience": patience, "seed": seed, "progress": progress,
                     "normalise": init is None},
        inputs=["lst", "ndvi"],
        mode=kind,
        loss=loss,
        loss_options=opts,
        training_scales=scales,
        training_data=[
            f"modis_aster {'TRAIN_PAIRS' if pairs is None else 'pairs ' + ' '.join(pair_ids)}: "
            "MODIS LST 1 km, MODIS NDVI 250 m (MOD09GQ)"
            + (", ASTER LST 250 m (masked: > 0, eroded 3 px, > 230 K)" if supervised else "")
            + (", co-registered onto the MODIS LST (xlstsr.estimate_offset + apply_offset)"
               if coregister else "")
        ],
        patches={"n_train": len(train), "n_val": len(val), "patch_fine_px": 96, "stride": stride},
        settings={"lr": lr, "epochs": epochs, "patience": patience, "batch_size": 8,
                  "stride": stride, "coregister": coregister, "seed": seed,
                  "init": None if init is None else Path(init).name, "arch": model.arch},
        **extra,
    )


def teacher_targets(teacher: torch.nn.Module, ps: PatchSet, batch: int = 16) -> PatchSet:
    """``ps`` with the teacher's output as its target (every fine pixel: no truth needed)."""
    import dataclasses

    out = []
    with torch.inference_mode():
        for i in range(0, len(ps), batch):
            g = None if ps.guide is None else ps.guide[i : i + batch]
            out.append(teacher(ps.lst[i : i + batch], g))
    return dataclasses.replace(ps, target=torch.cat(out).clone())


def dihedral_patches(ps: PatchSet) -> PatchSet:
    """``ps`` under the 8 rotations and flips of the square (its patches 8 times, inputs
    transformed together; targets dropped: a teacher labels each transformed input itself)."""
    import dataclasses

    def tf(x: torch.Tensor | None, k: int, flip: bool) -> torch.Tensor | None:
        if x is None:
            return None
        x = torch.rot90(x, k, dims=(-2, -1))
        return torch.flip(x, dims=(-1,)) if flip else x

    sets = [dataclasses.replace(ps, lst=tf(ps.lst, k, f), lst_valid=tf(ps.lst_valid, k, f),
                                guide=tf(ps.guide, k, f), target=None)
            for k in range(4) for f in (False, True)]
    return PatchSet.concat(sets)


def train_disr_distilled(
    data_dir: Path,
    out_dir: Path,
    *,
    teacher: Path,
    student: Path,
    epochs: int = SUPERVISED_EPOCHS,
    seed: int = 0,
    progress: bool = True,
    stride: int = SUPERVISED_STRIDE,
    lr: float = COREG_LR,
    dihedral: bool = False,
    patience: int = 8,
    name: str = "disr_distilled_x4.pt",
    command: str = COMMAND + " --only disr_distil --teacher TEACHER --init STUDENT",
    pairs: tuple[tuple[str, ...], tuple[str, ...]] | None = None,
) -> Path:
    """Knowledge distillation: a cheaper DISR network (``student``, a trained file, e.g.
    ``GuidedResCNN`` after the default's recipe) learns to reproduce a costlier one
    (``teacher``, e.g. ``unet``, ``COREG_FILE``, the teacher of the default ``disr``, ``fast``)
    on the training pairs' MODIS LST and NDVI.

    The teacher's output is the target at every fine pixel of the training pairs' windows (no
    ASTER needed: 3-4x the pixels its cloud-masked truth gives), with the default's loss
    (``SUPERVISED_LOSS``); early stopping on ``VAL_PAIRS``' patches, also against the teacher. The
    student keeps its normalisation. The evaluation pairs are not read.

    ``dihedral``: the training windows under the 8 rotations and flips, each labelled by the
    teacher on the transformed input (neither network is equivariant, so ``T(teacher(x))`` is not
    ``teacher(T(x))``: the random flips of the training loop would teach the student a target the
    teacher does not give), and the loop's own augmentation off.
    """
    t_model, s_model = load_model(teacher), load_model(student)
    if s_model.n_guide != 1 or t_model.n_guide != 1 or t_model.factor != s_model.factor:
        raise SystemExit("--teacher and --init must be DISR files of one guide band, factor 4")
    # ``pairs``: (training, early-stopping) pairs instead of TRAIN_PAIRS, VAL_PAIRS (--smoke)
    train, val, _ = disr_patches(data_dir, with_truth=False, stride=stride,
                                 guide_offset=GUIDE_OFFSET,
                                 **({} if pairs is None else
                                    {"pair_ids": pairs[0], "val_pairs": pairs[1]}))
    if dihedral:
        train = dihedral_patches(train)
    train, val = teacher_targets(t_model, train), teacher_targets(t_model, val)
    torch.manual_seed(seed)
    s_model.train()  # load_model gives it in eval mode (no layer here behaves differently)
    return _fit_and_save(
        s_model,
        train,
        val,
        name,
        out_dir,
        fit_options={"mode": "supervised", "loss_options": SUPERVISED_LOSS, "epochs": epochs,
                     "batch_size": 8, "lr": lr, "patience": patience, "seed": seed,
                     "progress": progress, "normalise": False,
                     **({"augmentation": False} if dihedral else {})},
        inputs=["lst", "ndvi"],
        mode="supervised",
        loss="distillation: the default's loss (Huber + w_detail Huber(HP) + w_spectral "
        "log^2 E_HP ratio) against the teacher's output",
        loss_options=SUPERVISED_LOSS,
        training_scales="target scale: MODIS 1 km + NDVI 250 m -> the teacher's 250 m output",
        training_data=["modis_aster TRAIN_PAIRS: MODIS LST 1 km, MODIS NDVI 250 m (MOD09GQ); the "
                       f"target is {Path(teacher).name}'s output at every fine pixel"],
        guide_offset=guide_offset_record(data_dir, TRAIN_PAIRS, GUIDE_OFFSET),
        distillation={"teacher": Path(teacher).name, "student_start": Path(student).name,
                      "teacher_arch": t_model.arch, "teacher_config": t_model.config,
                      "dihedral": dihedral},
        patches={"n_train": len(train), "n_val": len(val), "patch_fine_px": 96,
                 "stride": stride},
        settings={"lr": lr, "epochs": epochs, "patience": patience, "batch_size": 8,
                  "stride": stride, "seed": seed, "arch": s_model.arch},
        command=recorded_command(command),
    )


#: the bundled default DISR (name ``fast``): GuidedResCNN through the U-Net's recipe, distilled
#: from the U-Net (``select_disr.py --coarse``, round 6: ``rescnn32x4_distil``), then on the
#: rotated and flipped windows (``--distil``, round 7: ``fast_dihedral``, 30 epochs, patience 5)
FAST_FILE = "disr_rescnn_distilled_x4.pt"
DIHEDRAL_EPOCHS, DIHEDRAL_PATIENCE = 30, 5


def train_disr_fast(
    data_dir: Path, out_dir: Path, *, seed: int = 0, progress: bool = True,
    epochs: int | None = None,
) -> Path:
    """The default DISR, ``fast`` (``--only disr_fast``): :class:`~xlstsr.nn.GuidedResCNN`
    pre-trained on the cube's degraded pairs, fine-tuned on co-registered ASTER (the U-Net's two
    steps), distilled from the U-Net ``unet`` (``--out``'s, else the package's), then distilled
    further on the training windows under the 8 rotations and flips (``DIHEDRAL_EPOCHS``, round
    7 of docs/results/disr_selection.md). The intermediate files are kept in a temporary folder."""
    import tempfile

    teacher = out_dir / COREG_FILE if (out_dir / COREG_FILE).exists() else WEIGHTS_DIR / COREG_FILE
    with tempfile.TemporaryDirectory() as tmp:
        cube = train_disr_degraded_cube(
            data_dir, Path(tmp), name="disr_degraded_cube_rescnn_x4.pt", epochs=epochs,
            seed=seed, progress=progress,
            settings={"arch": "guided_rescnn", "config": DISR_NETWORKS["guided_rescnn"]},
        )
        student = train_disr(
            "supervised", data_dir, Path(tmp), epochs=epochs or SUPERVISED_EPOCHS, seed=seed,
            progress=progress, coregister=True, name="disr_rescnn_coreg_x4.pt", init=cube,
        )
        distilled = train_disr_distilled(
            data_dir, Path(tmp), teacher=teacher, student=student,
            epochs=epochs or SUPERVISED_EPOCHS, seed=seed, progress=progress, name=FAST_FILE,
            command=COMMAND + " --only disr_fast",
        )
        return train_disr_distilled(
            data_dir, out_dir, teacher=teacher, student=distilled,
            epochs=epochs or DIHEDRAL_EPOCHS, seed=seed, progress=progress, name=FAST_FILE,
            dihedral=True, patience=DIHEDRAL_PATIENCE, command=COMMAND + " --only disr_fast",
        )


def _coregistration_record(
    data_dir: Path, pair_ids: tuple[str, ...] = TRAIN_PAIRS
) -> dict[str, Any]:
    """What :func:`coregistered_truth` did to each training pair (for the checkpoint)."""
    _, recs = coregistered_truth(data_dir, pair_ids)
    ok = [r for r in recs if r["reliable"]]
    return {
        "applied": True,
        "method": "xlstsr.estimate_offset(aster_masked, modis_lst, errors='ignore') (shift and "
        "Gaussian PSF width fitted jointly) + xlstsr.coregister.apply_offset, then bilinear onto "
        "the MODIS 250 m grid; unreliable pairs kept as given",
        "n_reliable": len(ok),
        "n_pairs": len(recs),
        "median_shift_x_m": float(np.median([r["shift_x"] for r in ok])) if ok else None,
        "median_shift_y_m": float(np.median([r["shift_y"] for r in ok])) if ok else None,
        "median_psf_sigma_m": float(np.median([r["psf_sigma"] for r in ok])) if ok else None,
        "pairs": recs,
    }


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
    train, val = degraded_disr_patches(data_dir, patch)
    torch.manual_seed(seed)
    model = GuidedUNet(FACTOR, n_guide=1, base=12, levels=2)
    return _fit_and_save(
        model,
        train,
        val,
        "disr_degraded_x4.pt",
        out_dir,
        fit_options={"mode": "degraded_disr", "epochs": epochs, "batch_size": 16, "lr": 1e-3,
                     "patience": 15, "seed": seed, "progress": progress},
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


# -- the degraded DISR on the cube: 4 km LST + 1 km NDVI (MOD13A2) -> 1 km LST -----------------

#: the MOD13A2 16-day composites of the cube (red, NIR; reflectance) that make its NDVI guide
CUBE_NDVI_ASSETS = ("red", "nir")
#: smallest valid fraction of an NDVI window (the few fill pixels inside windows are filled)
CUBE_NDVI_MIN_VALID = 0.9
#: largest gap (days) between an LST date and the middle of the composite matched to it: a
#: composite whose 16-day period holds the date is at most 8 days away; the source paired each
#: LST patch with a period starting 14 days before to 1 day after the date (data README)
CUBE_NDVI_MAX_DAYS = 16.0
#: the degraded DISR on the cube (``disr_degraded_cube_x4.pt``, name ``degraded_cube``): the
#: granule ``degraded`` model's network (GuidedUNet, base 12, 2 levels), box degradation, Huber;
#: one 64 px window = one patch; the detail gain chosen on the validation positions: a plain
#: run of ``benchmarks/disr_degraded_cube.py`` scores the trained network at the gains of its
#: ``GAINS`` (1, 0.75, 0.5; ``gain_curve``), the highest pooled gain over bicubic wins (g = 1:
#: docs/results/disr_degraded_cube.md, "The cube DISR and its one choice")
DISR_DEGRADED_CUBE: dict[str, Any] = {
    "arch": "guided_unet",
    "config": {"base": 12, "levels": 2},
    "epochs": 50,
    "lr": 1e-3,
    "batch_size": 16,
    "patience": 12,
    "patch": 64,
    "detail_gain": 1.0,
}


#: the DISR networks the recipe trains (``--arch``): constructor arguments besides the factor and
#: the one guide band. ``guided_rescnn`` runs its body on the coarse grid (issue 16: about a third
#: of the U-Net's CPU time per output pixel)
DISR_NETWORKS: dict[str, dict[str, int]] = {
    "guided_unet": {"base": 12, "levels": 2},
    "guided_rescnn": {"channels": 32, "n_blocks": 4, "fine": 8, "fine_blocks": 1},
}


def disr_network(arch: str = "guided_unet", **options: int) -> torch.nn.Module:
    """A seeded-by-the-caller DISR network of :data:`DISR_NETWORKS` (``options`` override its
    constructor arguments)."""
    if arch not in DISR_NETWORKS:
        raise SystemExit(f"--arch {arch}: the recipe trains {sorted(DISR_NETWORKS)}")
    return build_model(arch, factor=FACTOR, n_guide=1, **{**DISR_NETWORKS[arch], **options})


def cube_ndvi_windows(data_dir: Path) -> Any:
    """NDVI windows of the cube's MOD13A2 composites, read the user's way (``open_stac``).

    Returns a Dataset ``ndvi (sample, y, x)`` with ``position``, ``start`` and ``end`` (the
    composite's nominal 16-day period, from its STAC item) per sample; only the window-composites
    the source kept hold data (at least ``CUBE_NDVI_MIN_VALID`` valid; NDVI = (nir - red) /
    (nir + red), NaN where a band is fill or nir + red <= 0).
    """
    import dask
    import pandas as pd
    import pystac

    from xlstsr.io import open_stac

    cat = pystac.Catalog.from_file(str(cube_dir(data_dir) / "catalog.json"))
    items = sorted(
        (it for it in cat.get_items(recursive=True) if set(CUBE_NDVI_ASSETS) <= set(it.assets)),
        key=lambda it: it.datetime,
    )
    cube = open_stac(items, list(CUBE_NDVI_ASSETS), chunks={"time": 1, "y": 1200, "x": 1200})
    w = cube_windows_table(data_dir)
    wins = {int(r.window): (int(r.row_off), int(r.col_off)) for r in w.itertuples()}
    with dask.config.set(scheduler="synchronous"):
        s = window_samples(cube, wins, CUBE_WINDOW, min_valid=CUBE_NDVI_MIN_VALID)
    period = {
        np.datetime64(it.datetime.replace(tzinfo=None), "ns"): (
            pd.Timestamp(it.properties["start_datetime"]).tz_localize(None),
            pd.Timestamp(it.properties["end_datetime"]).tz_localize(None),
        )
        for it in items
    }
    red, nir = s["red"].values, s["nir"].values
    den = nir + red
    with np.errstate(invalid="ignore", divide="ignore"):
        ndvi = np.where(den > 0, (nir - red) / den, np.nan).astype(np.float32)
    t = s.time.values
    return s.drop_vars(list(CUBE_NDVI_ASSETS)).assign(
        ndvi=(("sample", "y", "x"), ndvi),
        start=("sample", np.array([period[v][0] for v in t], "datetime64[ns]")),
        end=("sample", np.array([period[v][1] for v in t], "datetime64[ns]")),
    )


def match_ndvi(
    samples: Any, ndvi: Any, max_days: float = CUBE_NDVI_MAX_DAYS
) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """For each LST window-date, the NDVI window of the same position nearest in time.

    Nearest = the composite whose period's middle is closest to the LST date (so the composite
    whose 16-day period holds the date when there is one; ties: the earlier), within
    ``max_days``. Returns ``(index into ndvi or -1, days from the LST date to that middle
    (signed, NaN without a match), whether the period holds the date)``.

    Examples
    --------
    >>> import xarray as xr
    >>> d = lambda s: np.datetime64(s, "ns")
    >>> lst = xr.Dataset(coords={"position": ("sample", [1, 1, 2]),
    ...                          "time": ("sample", [d("2020-01-05"), d("2020-01-20"), d("2020-01-05")])})
    >>> nd = xr.Dataset(coords={"position": ("sample", [1, 1, 3]),
    ...                         "start": ("sample", [d("2020-01-01"), d("2020-01-17"), d("2020-01-01")]),
    ...                         "end": ("sample", [d("2020-01-16T23:59:59"), d("2020-02-01T23:59:59"),
    ...                                            d("2020-01-16T23:59:59")])})
    >>> idx, days, inside = match_ndvi(lst, nd)
    >>> idx.tolist(), inside.tolist()  # position 2 has no composite
    ([0, 1, -1], [True, True, False])
    """
    one_day = np.timedelta64(86400, "s")
    mid = ndvi.start.values + (ndvi.end.values - ndvi.start.values) / 2
    npos = ndvi.position.values
    idx = np.full(samples.sizes["sample"], -1)
    days = np.full(samples.sizes["sample"], np.nan)
    inside = np.zeros(samples.sizes["sample"], bool)
    for i, (p, t) in enumerate(zip(samples.position.values, samples.time.values)):
        cand = np.flatnonzero(npos == p)
        if not len(cand):
            continue
        dt = (mid[cand] - t) / one_day
        j = cand[np.argmin(np.abs(dt))]  # argmin keeps the first (earlier) of a tie
        d = float((mid[j] - t) / one_day)
        if abs(d) <= max_days:
            idx[i], days[i] = j, d
            inside[i] = bool(ndvi.start.values[j] <= t <= ndvi.end.values[j])
    return idx, days, inside


def cube_samples_ndvi(data_dir: Path, samples: Any = None, max_dates: int | None = None) -> Any:
    """The cube's LST window-dates (:func:`cube_samples`) with the NDVI of the same window.

    Adds ``ndvi (sample, y, x)`` (1 km, the nearest MOD13A2 composite in time of the same
    position: :func:`match_ndvi`; its few fill pixels filled as the inference engine fills guide
    gaps, :func:`xlstsr.methods.torch_model.fill_guide`) and, per sample, ``ndvi_start`` (the
    composite's first day), ``ndvi_days`` (LST date to the composite's middle) and
    ``ndvi_inside`` (its period holds the LST date). Window-dates without a composite within
    ``CUBE_NDVI_MAX_DAYS`` are dropped (``attrs["dropped_no_ndvi"]``).
    """
    samples = cube_samples(data_dir, max_dates) if samples is None else samples
    nd = cube_ndvi_windows(data_dir)
    idx, days, inside = match_ndvi(samples, nd)
    keep = idx >= 0
    raw = nd["ndvi"].values[idx[keep]]
    filled = fill_guide(raw[:, None], FACTOR, float(np.nanmean(nd["ndvi"].values)))[:, 0]
    out = samples.isel(sample=np.flatnonzero(keep)).assign(
        ndvi=(("sample", "y", "x"), filled),
        ndvi_start=("sample", nd.start.values[idx[keep]]),
        ndvi_days=("sample", days[keep]),
        ndvi_inside=("sample", inside[keep]),
    )
    out.attrs.update(
        dropped_no_ndvi=int((~keep).sum()),
        ndvi_filled_pixels=int(np.isnan(raw).sum()),
    )
    return out


def disr_cube_pairs(samples: Any) -> dict[str, Any]:
    """Degraded DISR pairs of every sample, day and night stacked: ``lst_coarse`` (4 km, the
    radiometric mean), ``guide`` (the 1 km NDVI), ``target`` (1 km LST), ``scene_ids``.

    The NDVI is already on the target (1 km) grid, so it is the guide as it is: exactly what
    :func:`xlstsr.train.degraded_pairs` makes of it repeated 4 x 4 by nearest onto a 250 m grid
    (the block mean of 16 equal values; tested), without that 16-fold copy.
    """
    t = np.concatenate([samples[v].values for v in CUBE_ASSETS])
    pairs = degraded_pairs(t, FACTOR)
    g = np.concatenate([samples["ndvi"].values] * len(CUBE_ASSETS))
    pairs["guide"] = g[:, None].astype(np.float32)
    pairs["scene_ids"] = np.tile(samples.position.values, len(CUBE_ASSETS))
    return pairs


def disr_cube_patches(
    samples: Any, split: PositionSplit, patch: int = CUBE_WINDOW
) -> tuple[PatchSet, PatchSet]:
    """(train, val) degraded DISR patches of the cube, split by window position (the test and
    held-out positions' images are dropped here: only their positions' scores use them)."""
    ps = make_patches(**disr_cube_pairs(samples), factor=FACTOR, patch=patch, stride=patch)
    keep = np.isin(ps.scene, split.train + split.val + split.test)
    train, val, _ = split_by_position(ps.subset(keep), split)
    return train, val


def train_disr_degraded_cube(
    data_dir: Path,
    out_dir: Path,
    *,
    name: str = "disr_degraded_cube_x4.pt",
    settings: dict[str, Any] | None = None,
    epochs: int | None = None,
    seed: int = 0,
    progress: bool = True,
    samples: Any = None,
) -> Path:
    """Degraded DISR on the MOD11A1 cube (day and night), split by window position like the
    cube SISR (:func:`cube_split`): ``(radiometric_mean(LST 1 km, 4), NDVI 1 km) -> LST 1 km``,
    the NDVI from the MOD13A2 red/NIR of the same window (:func:`cube_samples_ndvi`)."""
    st = {**DISR_DEGRADED_CUBE, **(settings or {})}
    if epochs:
        st["epochs"] = epochs
    samples = cube_samples_ndvi(data_dir) if samples is None else samples
    split = cube_split(data_dir)
    train, val = disr_cube_patches(samples, split, st["patch"])
    torch.manual_seed(seed)
    model = disr_network(st["arch"], **st["config"])
    cpu0, wall0 = time.process_time(), time.perf_counter()
    hist = fit(model, train, val, mode="degraded_disr", epochs=st["epochs"],
               batch_size=st["batch_size"], lr=st["lr"], patience=st["patience"], seed=seed,
               progress=progress)
    cpu, wall = time.process_time() - cpu0, time.perf_counter() - wall0
    if st["detail_gain"] != 1.0:
        scale_detail(model, st["detail_gain"])
    pos = samples.position.values
    n_dates = {s: int(np.isin(pos, getattr(split, s)).sum()) for s in split.as_dict()}
    tr = np.isin(pos, split.train)
    path = save_model(
        model,
        out_dir / name,
        inputs=["lst", "ndvi"],
        mode="degraded_disr",
        loss="Huber(delta=1 K) to the 1 km LST",
        training_scales="degraded: LST 4 km (radiometric_mean(LST 1 km, 4)) + NDVI 1 km -> LST "
        "1 km; applied 1 km + NDVI 250 m -> 250 m (scale-invariance hypothesis)",
        psf={"sigma_fine_px": None, "sigma_m_at_1km": None,
             "note": "none: a perfect 4 x 4 box (radiometric mean)"},
        training_data=[
            f"{CUBE}: MOD11A1 v061 h18v04 2020, LST_Day_1km and LST_Night_1km, complete 64 x 64 "
            f"windows ({n_dates['train']} window-dates of {len(split.train)} training positions, "
            f"day and night; {n_dates['val']} of {len(split.val)} validation positions for early "
            "stopping)",
            f"{CUBE}: NDVI = (nir - red) / (nir + red) of the MOD13A2 v061 16-day composite "
            "(1 km) of the same window position nearest in time (period middle closest to the "
            f"LST date, within {CUBE_NDVI_MAX_DAYS:g} days; the period holds the date for "
            f"{int(samples.ndvi_inside.values[tr].sum())} of {int(tr.sum())} training "
            "window-dates)",
        ],
        ndvi={
            "source": "MOD13A2 v061 red/NIR (16-day composite, 1 km) of the same window",
            "match": "nearest composite in time: the one whose period's middle is closest to the "
            "LST date (the period holding the date when there is one), same window position",
            "max_days": CUBE_NDVI_MAX_DAYS,
            "on_grid": "the 1 km NDVI is the guide as it is (= degraded_pairs of it repeated "
            "4 x 4 by nearest: the block mean of equal values)",
            "gaps": "fill_guide (local averaging, then the mean NDVI): "
            f"{samples.attrs.get('ndvi_filled_pixels', 0)} fill pixels",
            "dropped_no_ndvi": samples.attrs.get("dropped_no_ndvi", 0),
            "days_to_lst_date_median_abs": float(np.nanmedian(np.abs(samples.ndvi_days.values))),
        },
        detail_gain={"value": st["detail_gain"], "note": "the output head scaled after "
                     "training (output = bicubic + gain x (trained output - bicubic)); chosen "
                     "on the validation positions"},
        split="by window position (a split by date leaks the landscape): the cube SISR's "
        "xlstsr.train.PositionSplit drawn by scripts/train_bundled.py cube_split (seed "
        f"{CUBE_SPLIT_SEED}); held_out = windows sharing ground with modis_aster EVAL_PAIRS",
        positions=split.as_dict(),
        window_dates=n_dates,
        eval_pairs=list(EVAL_PAIRS),
        settings={**st, "seed": seed},
        patches={"patch_fine_px": st["patch"], "n_train": len(train), "n_val": len(val)},
        history=cube_history(hist, cpu, wall),
        command=recorded_command(COMMAND + " --only disr_degraded_cube"),
    )
    print(f"{name}: {hist['epochs_run']} epochs, best val loss {hist['best_val_loss']:.4f}, "
          f"{cpu:.0f} s CPU ({wall:.0f} s wall) -> {path}", flush=True)
    return path


#: the jobs whose network --arch / --arch-option choose
ARCH_JOBS = ("disr_degraded_cube", "disr_coreg", "disr_unet", "disr_sif")
#: the jobs --init starts from a model file
INIT_JOBS = ("disr_coreg", "disr_unet", "disr_sif", "disr_distil")
#: the jobs each option reaches (argparse names; the others take --epochs, --seed): given to
#: jobs that take none, it was dropped, yet recorded in the command line of the files written
OPTION_JOBS = {
    **{k: ("disr_coreg", "disr_unet", "disr_sif", "disr_distil")
       for k in ("lr", "stride", "patience")},
    **{k: ("disr_coreg", "disr_unet", "disr_sif") for k in ("loss_option", "pairs", "val_pairs")},
    **{k: ("disr_distil",) for k in ("teacher", "dihedral")},
    # the training pairs' NDVI of the co-registered recipe (train_disr, train_disr_distilled)
    "guide_offset": ("disr_coreg", "disr_fast", "disr_distil"),
}


def _given(value: Any, default: Any) -> Any:
    """``value`` unless the option was left out (None): 0 is a value, not "unset"."""
    return default if value is None else value


def _key_values(ap: argparse.ArgumentParser, option: str, items: list[str],
                kind: type, example: str) -> dict[str, Any]:
    """``KEY=VALUE`` options as a dict of ``kind`` values, else a usage error naming the item."""
    out: dict[str, Any] = {}
    for item in items:
        key, eq, value = item.partition("=")
        try:
            if not (eq and key.strip()):
                raise ValueError
            out[key.strip()] = kind(value)
        except ValueError:
            what = "a whole number" if kind is int else "a number"
            ap.error(f"{option} {item!r}: give KEY=VALUE with {what} as VALUE (e.g. {option} "
                     f"{example})")
    return out


#: options (argparse names) that leave a run the recipe as shipped: it may write the package's
#: weights without --out (--data is judged apart: the project's own data only)
RECIPE_FREE = ("data", "out", "only", "no_progress")
#: in training order: the cube's degraded DISR starts the default DISR (``COREG_INIT``)
JOBS = ("sisr_cube", "sisr_rescnn", "sisr_mrunet", "disr_degraded_cube", "disr_coreg", "disr_fast",
        "disr_unet", "disr_sif", "disr_degraded")
#: run only when asked (``--only``): they start from files another job wrote
EXTRA_JOBS = ("disr_distil",)
#: the jobs that read only the MOD11A1 cube (and the Croatia composites), no modis_aster pair
CUBE_JOBS = ("sisr_cube", "disr_degraded_cube")


def has_pairs(data: Path) -> bool:
    """Whether the data folder ``data`` holds modis_aster pairs as the library reads them:
    ``modis_aster/``, the pairs folder itself, or one folder of another name laid out like it
    (``pairs.csv`` and ``<pair>_modis_lst_1km.tif`` files)."""
    return ((data / "modis_aster").is_dir() or _pairs_folder(data)
            or any(d.is_dir() and _pairs_folder(d) for d in data.iterdir()))


def has_cube(data: Path) -> bool:
    """Whether the data folder ``data`` holds the MOD11A1 cube the cube jobs read
    (:func:`cube_dir`: ``catalog.json`` and ``windows.csv``)."""
    try:
        folder = cube_dir(data)
    except SystemExit:  # several cubes: one is here (the cube jobs name them, pairs jobs run)
        return True
    return (folder / "catalog.json").is_file() and (folder / "windows.csv").is_file()


def main(argv: list[str] | None = None) -> int:
    """Train the jobs of ``--only``; every file written records this command line."""
    global _RUN_COMMAND
    argv = sys.argv[1:] if argv is None else list(argv)
    _RUN_COMMAND = f"{COMMAND} {shlex.join(argv)}".rstrip()
    try:
        return _main(argv)
    finally:
        _RUN_COMMAND = None


def _main(argv: list[str]) -> int:
    ap = argparse.ArgumentParser(prog=COMMAND, description=__doc__.splitlines()[0])
    ap.add_argument("--data", type=Path, default=None, help="shared data folder")
    ap.add_argument("--out", type=Path, default=None,
                    help="output folder; default: the package's bundled weights "
                    f"({WEIGHTS_DIR}), but only for the recipe as shipped (the project's own "
                    "data; every option other than --only and --no-progress at its default); "
                    "any other run (--epochs, --seed, other --data, ...) must name --out, so "
                    "that it never replaces the shipped files unasked")
    ap.add_argument("--only", nargs="*", choices=JOBS + EXTRA_JOBS, default=list(JOBS))
    ap.add_argument("--teacher", type=Path, default=None,
                    help="--only disr_distil: the DISR file the student (--init) learns to "
                    f"reproduce (default: {COREG_FILE}, name unet, the teacher of the default "
                    "disr, fast)")
    ap.add_argument(
        "--threads", type=int, default=1, help="torch threads (the bundled files were made with 1)"
    )
    ap.add_argument("--stride", type=int, default=None, help="override the DISR patch stride")
    ap.add_argument("--dihedral", action="store_true",
                    help="--only disr_distil: the training windows under the 8 rotations and "
                    "flips, each labelled by the teacher (the loop's augmentation off)")
    ap.add_argument("--patience", type=int, default=None,
                    help="cross-sensor DISR (disr_coreg, disr_unet, disr_sif, disr_distil): "
                    "epochs without improvement before stopping (8; 0: no early stopping)")
    ap.add_argument("--epochs", type=int, default=None, help="override the epoch budget")
    ap.add_argument("--no-progress", action="store_true")
    ap.add_argument("--seed", type=int, default=0,
                    help="weight initialisation and batch order (the bundled files: 0); another "
                    "seed measures the run-to-run spread of a recipe")
    ap.add_argument("--lr", type=float, default=None, help="override the DISR learning rate")
    ap.add_argument("--init", type=Path, default=None,
                    help="cross-sensor DISR: start from this model file's weights and "
                    f"normalisation (a path or a file name in --out or xlstsr/weights; "
                    f"--only disr_coreg: {COREG_INIT} by default; 'none': random weights)")
    ap.add_argument("--arch", choices=sorted(DISR_NETWORKS), default=None,
                    help="DISR network (--only disr_degraded_cube, or a cross-sensor DISR "
                    "without --init; default guided_unet)")
    ap.add_argument("--arch-option", action="append", default=[], metavar="KEY=INT",
                    help="override a constructor argument of --arch's network (e.g. channels=48)")
    ap.add_argument("--pairs", default=None, metavar="ID,ID,...",
                    help="cross-sensor DISR: train on these modis_aster pairs instead of "
                    "TRAIN_PAIRS (with --val-pairs among them for early stopping)")
    ap.add_argument("--val-pairs", default=None, metavar="ID,ID,...",
                    help=f"early-stopping pairs among --pairs (default {','.join(VAL_PAIRS)})")
    ap.add_argument(
        "--loss-option",
        action="append",
        default=[],
        metavar="KEY=VALUE",
        help="override a DISR loss option (e.g. w_spectral=1.0)",
    )
    ap.add_argument("--smoke", action="store_true",
                    help="a test of the code path (the benchmarks' --smoke runs): "
                    f"disr_degraded_cube reads only the cube's first {SMOKE_DATES} dates; "
                    "disr_coreg, disr_unet, disr_sif and disr_distil only the pairs "
                    f"{','.join(SMOKE_PAIRS[0])} ({','.join(SMOKE_PAIRS[1])} for early stopping) "
                    "unless --pairs")
    ap.add_argument("--guide-offset", choices=("ignore", "auto"), default=GUIDE_OFFSET,
                    help="the training pairs' NDVI in the default DISR's recipe: as stored "
                    "('ignore', the shipped files) or moved back by its offset from the LST "
                    "('auto', as upscale sees it; round 8 of select_disr.py)")
    args = ap.parse_args(argv)
    # 0 is a value, not "unset": `x or default` made --patience 0 (no early stopping) 8 and
    # --epochs 0 the job's budget; values that train nothing are refused here instead
    for name, value, least, advice in (
        ("--epochs", args.epochs, 1, "the epoch budget, e.g. 20; leave it out for each job's"),
        ("--stride", args.stride, 1, "the patch stride in fine pixels, e.g. 48"),
        ("--patience", args.patience, 0, "epochs without improvement; 0: no early stopping"),
        ("--threads", args.threads, 1, "torch threads, e.g. 1"),
    ):
        if value is not None and value < least:
            ap.error(f"{name} {value}: give a whole number >= {least} ({advice})")
    if args.lr is not None and not (math.isfinite(args.lr) and args.lr > 0):
        ap.error(f"--lr {args.lr}: give a learning rate > 0 (e.g. 1e-4), or leave it out for "
                 "each job's")
    lopts = _key_values(ap, "--loss-option", args.loss_option, float, "w_spectral=1.0")
    aopts = _key_values(ap, "--arch-option", args.arch_option, int, "channels=48")
    if aopts and not args.arch:
        ap.error("--arch-option needs --arch (the network whose arguments it sets)")
    if args.arch is not None and not set(args.only) & set(ARCH_JOBS):
        ap.error(f"--arch: none of the jobs {' '.join(args.only)} takes a network; it sets that "
                 f"of {', '.join(ARCH_JOBS)}")
    for key, jobs in OPTION_JOBS.items():
        # given: not the parser's default (0 is a value: --patience 0 was dropped unseen)
        if getattr(args, key) != ap.get_default(key) and not set(args.only) & set(jobs):
            flag = "--" + key.replace("_", "-")
            ap.error(f"{flag}: none of the jobs {' '.join(args.only)} takes it (it would be "
                     f"dropped); it sets that of {', '.join(jobs)}")
    if args.init is not None and not set(args.only) & set(INIT_JOBS):
        ap.error(f"--init: none of the jobs {' '.join(args.only)} starts from a model file; it "
                 f"sets that of {', '.join(INIT_JOBS)}")
    try:
        data = data_root(args.data)
    except FileNotFoundError as err:
        raise SystemExit(f"{err} (or pass --data)") from err
    # only the jobs that read pairs need them: a cube-only folder (a held-back cube, with the
    # Croatia composites) was refused for --only sisr_cube too, told to "pass --data" it had
    pair_jobs = [j for j in args.only if j not in CUBE_JOBS]
    cube_jobs = [j for j in args.only if j in CUBE_JOBS]
    given = f"--data {args.data}" if args.data is not None else f"the data folder {data}"
    # the other kind of job is advised only where this folder holds what it reads (the cube
    # jobs were advised to a folder without the cube: a pystac traceback followed)
    pairs_here = has_pairs(data)
    cube_here = has_cube(data) if cube_jobs or not pairs_here else False
    if pair_jobs and not pairs_here:
        raise SystemExit(
            f"{given} holds no modis_aster/ (nor a folder laid out like it: pairs.csv and "
            f"<pair>_modis_lst_1km.tif files), needed by --only {' '.join(pair_jobs)}: "
            + ("pass --data the data folder that holds modis_aster/"
               if args.data is not None else
               "pass --data the data folder that holds modis_aster/, or set XLSTSR_DATA to it")
            + (f"; or run only the jobs that read the cube: --only {' '.join(CUBE_JOBS)}"
               if cube_here else ""))
    if cube_jobs and not cube_here:
        others = [j for j in JOBS if j not in CUBE_JOBS]
        raise SystemExit(
            f"{given} holds no MOD11A1 cube ({CUBE}/ with catalog.json and windows.csv, nor a "
            f"folder laid out like it), needed by --only {' '.join(cube_jobs)}: pass --data the "
            f"data folder that holds {CUBE}/ (or the cube's folder itself)"
            + ("" if args.data is not None else ", or set XLSTSR_DATA to it")
            + (f"; or run only the jobs that read the modis_aster pairs: --only "
               f"{' '.join(pair_jobs or others)}" if pairs_here else ""))
    if args.out is None:
        # the shipped files are what method="sisr"/"disr" load: only the recipe as shipped
        # replaces them by default; a trial (other epochs, seed, data...) must say where it goes
        changed = [f"--{key.replace('_', '-')}" for key, value in vars(args).items()
                   if key not in RECIPE_FREE and value != ap.get_default(key)]
        if not is_project_data(data):
            changed.append(f"--data {data} (not the project's data)")
        if changed:
            ap.error(f"{', '.join(changed)}: not the recipe of the bundled weights, which alone "
                     f"writes {WEIGHTS_DIR} by default; pass --out DIR (--out {WEIGHTS_DIR} to "
                     "replace the shipped files on purpose)")
        args.out = WEIGHTS_DIR
    try:  # a file given as --out failed at the first mkdir, after the data were read
        check_output(args.out, "--out")
    except OutputPathError as err:
        raise SystemExit(str(err)) from None
    if is_project_data(args.out):  # the shared data are read-only by convention
        raise SystemExit(f"--out {args.out} lies inside the project's shared data folder, "
                         "which is kept read-only: write the models elsewhere, e.g. --out "
                         "trained_models")
    # process-wide settings only once the run is accepted (a refused one left them changed)
    set_guide_offset(args.guide_offset)
    torch.set_num_threads(args.threads)
    prog = not args.no_progress
    dkw: dict[str, Any] = {"loss_options": lopts, "seed": args.seed}
    for key in ("lr", "stride", "patience"):
        if getattr(args, key) is not None:
            dkw[key] = getattr(args, key)
    if args.pairs:
        ids = tuple(p.strip().zfill(3) for p in args.pairs.split(","))
        val = tuple(p.strip().zfill(3) for p in (args.val_pairs or ",".join(VAL_PAIRS)).split(","))
        unknown = sorted(set(ids) - set(modis_aster_pairs(data)))
        if unknown:
            raise SystemExit(f"--pairs: no such modis_aster pairs {unknown}")
        if not set(val) <= set(ids) or set(val) == set(ids):
            raise SystemExit("--val-pairs must be some, not all, of --pairs")
        dkw["pairs"] = (ids, val)
    elif args.val_pairs:
        raise SystemExit("--val-pairs needs --pairs")
    elif args.smoke:
        dkw["pairs"] = SMOKE_PAIRS
    def weights_file(name: Path) -> Path:  # a path, or a file name in --out, then the package's
        for cand in (name, args.out / name, WEIGHTS_DIR / name):
            if cand.exists():
                return cand
        raise SystemExit(f"{name}: no such model file here, in {args.out} or in {WEIGHTS_DIR}")
    t0 = time.perf_counter()
    for job in args.only:
        if job == "sisr_cube":
            train_sisr_cube(data, args.out, epochs=args.epochs, progress=prog, seed=args.seed)
        elif job.startswith("sisr_"):
            train_sisr(
                job[5:],
                data,
                args.out,
                progress=prog,
                epochs=_given(args.epochs, 120 if job == "sisr_rescnn" else 40),
                seed=args.seed,
            )
        elif job == "disr_degraded_cube":
            arch = args.arch or DISR_DEGRADED_CUBE["arch"]
            train_disr_degraded_cube(
                data, args.out, epochs=args.epochs, progress=prog, seed=args.seed,
                settings={"arch": arch, "config": {**DISR_NETWORKS[arch], **aopts}},
                samples=cube_samples_ndvi(data, max_dates=SMOKE_DATES) if args.smoke else None,
            )
        elif job == "disr_fast":
            train_disr_fast(data, args.out, seed=args.seed, progress=prog, epochs=args.epochs)
        elif job == "disr_distil":
            if args.init is None:
                raise SystemExit("--only disr_distil needs --init STUDENT (a trained DISR file)")
            train_disr_distilled(
                data, args.out,
                teacher=weights_file(args.teacher) if args.teacher else WEIGHTS_DIR / COREG_FILE,
                student=weights_file(args.init), epochs=_given(args.epochs, SUPERVISED_EPOCHS),
                progress=prog, seed=args.seed, dihedral=args.dihedral,
                patience=_given(args.patience, 8), stride=_given(args.stride, SUPERVISED_STRIDE),
                lr=_given(args.lr, COREG_LR),
                **({"pairs": SMOKE_PAIRS} if args.smoke else {}),
            )
        elif job == "disr_degraded":
            train_disr_degraded(data, args.out, epochs=_given(args.epochs, 80), progress=prog,
                                seed=args.seed)
        elif job in ("disr_unet", "disr_coreg"):
            coreg = job == "disr_coreg"
            init = args.init or (Path(COREG_INIT) if coreg else None)
            if init is not None and str(init).lower() == "none":  # random initialisation
                init = None
            train_disr(
                "supervised",
                data,
                args.out,
                epochs=_given(args.epochs, SUPERVISED_EPOCHS),
                progress=prog,
                coregister=coreg,
                name="disr_unet_coreg_x4.pt" if coreg else "disr_unet_x4.pt",
                init=None if init is None else weights_file(init),
                arch=args.arch,
                arch_options=aopts,
                **dkw,
            )
        else:
            # the network of --arch / --arch-option too (a guided_unet was trained whatever
            # they said)
            # --init too (it was dropped here: a "fine-tuned" SIF started from random weights)
            init = args.init
            if init is not None and str(init).lower() == "none":
                init = None
            train_disr("sif", data, args.out, epochs=_given(args.epochs, 20), progress=prog,
                       arch=args.arch, arch_options=aopts,
                       init=None if init is None else weights_file(init), **dkw)
    print(f"done in {time.perf_counter() - t0:.0f} s")
    return 0


if __name__ == "__main__":
    from xlstsr.datasets.root import exit_on_missing_data

    exit_on_missing_data(main, __file__)  # missing data: one line naming the fix

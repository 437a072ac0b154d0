"""Training from xarray cubes and files: the xarray layer under ``xlstsr train``.

:func:`fit_cube` takes an LST cube (and optionally a guide and a fine truth) as DataArrays,
decodes them through the library's front door (:mod:`xlstsr.validate`), builds the pairs of the
training regime, cuts patches, splits them by scene and calls :func:`xlstsr.train.fit`.
:func:`fit_files` opens files (Zarr, NetCDF, GeoTIFF), calls :func:`fit_cube` and writes the
checkpoint with its provenance.
"""

from __future__ import annotations

import os
from collections.abc import Hashable
from typing import Any

import numpy as np
import torch
import xarray as xr

from ..validate import decode_guide, decode_lst, require_valid_pixels, select_variable, spatial_dims
from .data import degraded_pairs, fit_guide_gain, make_patches, split_by_scene, target_scale_pairs
from .loop import MODES, fit

__all__ = ["fit_cube", "fit_files"]


def _select(obj: xr.DataArray | xr.Dataset, variable: Hashable | None, role: str) -> xr.DataArray:
    """The DataArray of an input: a Dataset's named variable, or its only one."""
    if isinstance(obj, xr.DataArray):
        return obj
    if variable is None and len(obj.data_vars) == 1:
        return obj[next(iter(obj.data_vars))]
    return select_variable(obj, variable, role=role)


def _stack(da: xr.DataArray) -> np.ndarray:
    """``(n, y, x)`` float32 values, every non-spatial dim flattened into the first."""
    ydim, xdim = spatial_dims(da)
    lead = [d for d in da.dims if d not in (ydim, xdim)]
    da = da.transpose(*lead, ydim, xdim)
    return np.asarray(da.values, np.float32).reshape(-1, da.sizes[ydim], da.sizes[xdim])


def fit_cube(
    lst: xr.DataArray | xr.Dataset,
    *,
    variable: Hashable | None = None,
    guide: xr.DataArray | xr.Dataset | None = None,
    truth: xr.DataArray | xr.Dataset | None = None,
    mode: str = "sisr",
    arch: str | None = None,
    factor: int = 4,
    patch: int = 64,
    val_fraction: float = 0.2,
    seed: int = 0,
    **fit_options: Any,
) -> tuple[torch.nn.Module, dict[str, Any]]:
    """Train a model on an LST cube (and guide / truth); returns the model and its training record.

    Every non-spatial dim of the inputs is a scene: patches (``patch`` fine pixels, stride half a
    patch) are split into training and validation by scene (:func:`split_by_scene`, seeded),
    unless there is one scene (no validation then). ``seed`` fixes the weight initialisation,
    the split and the training: the same inputs give the same weights.

    Parameters
    ----------
    lst : DataArray or Dataset
        LST (any units :func:`xlstsr.validate.decode_lst` understands), ``(..., y, x)``; for
        ``"sisr"`` / ``"degraded_disr"`` the target resolution of the degraded pairs, for
        ``"sif"`` / ``"supervised"`` the coarse input.
    variable : str, optional
        The LST variable of a Dataset (default: its only variable, or the one that looks like LST).
    guide : DataArray or Dataset, optional
        Fine guide (e.g. NDVI) at ``factor`` x the LST grid: one band, one per scene, or bands
        shared by all scenes. Needed by ``"sif"``, used by ``"degraded_disr"`` (block-averaged)
        and ``"supervised"``, ignored by ``"sisr"``.
    truth : DataArray or Dataset, optional
        Fine truth on the output grid (mode ``"supervised"``; NaN = invalid).
    mode : str
        One of :data:`xlstsr.train.MODES`.
    arch : str, optional
        ``"rescnn"``, ``"mrunet"`` or ``"guided_unet"`` (default: ``guided_unet`` with a guide,
        else ``rescnn``).
    factor, patch, val_fraction : int, int, float
        Upscaling factor, patch size in fine pixels, share of the scenes kept for validation.
    seed : int
        Seed of the initialisation, the split and the training.
    **fit_options
        Settings of :func:`fit`: ``epochs``, ``batch_size``, ``lr``, ``patience``, ``engine``,
        ``progress``, ``augmentation``...

    Returns
    -------
    model : nn.Module
        The trained model (best validation weights).
    record : dict
        ``history`` (:func:`fit`'s), ``loss_options`` (the fitted guide gain of ``"sif"``),
        ``n_train`` / ``n_val`` patches.

    Examples
    --------
    >>> import numpy as np, xarray as xr
    >>> cube = xr.DataArray(300 + np.random.default_rng(0).normal(0, 2, (2, 32, 32)),
    ...                     dims=("time", "y", "x"))
    >>> model, rec = fit_cube(cube, patch=16, epochs=1, engine="torch", progress=False)
    >>> rec["history"]["epochs_run"], rec["n_train"] > 0 and rec["n_val"] > 0
    (1, True)
    """
    from ..nn import build_model

    if mode not in MODES:
        raise ValueError(f"unknown training mode {mode!r}; choose one of {MODES}")
    if mode == "supervised" and truth is None:
        raise ValueError("mode 'supervised' needs a fine truth (truth=...)")
    if mode == "sif" and guide is None:
        raise ValueError("mode 'sif' needs a guide (guide=...)")
    lst_da = decode_lst(_select(lst, variable, "LST")).load()
    require_valid_pixels(lst_da)
    arr = _stack(lst_da)
    g = None
    if guide is not None:
        g = _stack(decode_guide(_select(guide, None, "guide")))
        g = g[:, None] if g.shape[0] in (1, arr.shape[0]) else g[None]
    if mode in ("sisr", "degraded_disr"):
        pairs = degraded_pairs(arr, factor, g if mode == "degraded_disr" else None)
    else:
        t = None
        if mode == "supervised":
            t = _stack(decode_lst(_select(truth, None, "truth")))  # type: ignore[arg-type]
        pairs = target_scale_pairs(arr, factor, g, t)
    if mode == "sisr":
        pairs["guide"] = None
    n_guide = 0 if pairs["guide"] is None else pairs["guide"].shape[1]
    arch = arch or ("guided_unet" if n_guide else "rescnn")
    torch.manual_seed(seed)  # the weight initialisation draws from torch's global generator
    model = build_model(
        arch, factor=factor, **({"n_guide": n_guide} if arch == "guided_unet" else {})
    )
    patches = make_patches(**pairs, factor=factor, patch=patch, stride=patch // 2)
    if len(np.unique(patches.scene)) > 1:
        train, val = split_by_scene(patches, val_fraction, seed)
    else:
        train, val = patches, None
    opts: dict[str, Any] = {}
    if mode == "sif":
        opts["gain"] = fit_guide_gain(arr, pairs["guide"], factor)
    hist = fit(model, train, val, mode=mode, loss_options=opts, seed=seed, **fit_options)
    record = {
        "history": hist,
        "loss_options": opts,
        "n_train": len(train),
        "n_val": 0 if val is None else len(val),
    }
    return model, record


def fit_files(
    lst: str | os.PathLike[str],
    out: str | os.PathLike[str],
    *,
    variable: Hashable | None = None,
    guide: str | os.PathLike[str] | None = None,
    guide_variable: Hashable | None = None,
    truth: str | os.PathLike[str] | None = None,
    truth_variable: Hashable | None = None,
    mode: str = "sisr",
    **options: Any,
) -> dict[str, Any]:
    """Train on files (Zarr, NetCDF or GeoTIFF) and write the checkpoint ``out`` (``xlstsr train``).

    The files are opened with :func:`xlstsr.io.open_path`; everything else is
    :func:`fit_cube` (``options`` are its settings). The checkpoint records the mode, the loss
    options, the input files and the training history (:func:`xlstsr.nn.save_model`).

    Returns
    -------
    dict
        :func:`fit_cube`'s record, plus ``path`` (the checkpoint written).

    Examples
    --------
    >>> rec = fit_files("lst_1km.zarr", "sisr.pt", variable="LST", epochs=20)  # doctest: +SKIP
    >>> rec["history"]["best_val_loss"]  # doctest: +SKIP
    """
    from ..io import open_path
    from ..nn import save_model

    def opened(path: Any, var: Hashable | None, role: str) -> xr.DataArray | None:
        return None if path is None else _select(open_path(path), var, role)

    model, record = fit_cube(
        opened(lst, variable, "LST"),  # type: ignore[arg-type]
        guide=opened(guide, guide_variable, "guide"),
        truth=opened(truth, truth_variable, "truth"),
        mode=mode,
        **options,
    )
    hist = record["history"]
    record["path"] = save_model(
        model,
        out,
        mode=mode,
        loss=mode,
        loss_options=record["loss_options"],
        training_data={
            "lst": os.fspath(lst),
            "guide": None if guide is None else os.fspath(guide),
            "truth": None if truth is None else os.fspath(truth),
        },
        training_scales=(
            "degraded by factor" if mode in ("sisr", "degraded_disr") else "target scale"
        ),
        history={k: hist[k] for k in ("best_val_loss", "epochs_run", "engine")},
    )
    return record

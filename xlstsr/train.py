"""Training of the super-resolution models from LST datacubes (and guides).

Training regimes (``mode``), all on the same patch machinery:

``"sisr"``
    Degraded-resolution SISR: pairs ``radiometric_mean(LST, f) -> LST`` (the library's degradation
    operator), learned one octave-pair up and applied at the target scale (the scale-invariance
    hypothesis).
``"degraded_disr"``
    Degraded DISR: ``(radiometric_mean(LST, f), guide aggregated by f) -> LST``.
``"sif"``
    Scale-invariance-free DISR (Ait-Bachir et al. 2025): trained at the target scale with no fine
    LST, loss :func:`xlstsr.nn.losses.sif_loss`.
``"supervised"``
    Cross-sensor DISR/SISR: coarse LST (+ guide) -> fine truth from another sensor on the output grid
    (NaN truth masked out of the loss), plus texture/spectral terms
    (:func:`xlstsr.nn.losses.supervised_loss`).

Patches are cut with ``xbatcher`` from an xarray cube on the fine grid (the coarse LST carried on it
by nearest replication), patches mostly NaN are skipped, the split is by scene (never by patch),
batches are augmented by flips and rot90, training stops early on the validation loss and restores
the best weights, seeds are fixed (identical runs give identical weights). :func:`fit` uses
Lightning (``LightningModule`` + ``Trainer``) when ``lightning`` is installed and ``engine="auto"``,
else a plain torch loop; both show a tqdm progress bar.

Examples
--------
>>> import numpy as np
>>> from xlstsr.nn import ResCNN
>>> lst = 300 + np.random.default_rng(0).normal(0, 2, (4, 32, 32)).astype("float32")
>>> train = make_patches(**degraded_pairs(lst, 4), factor=4, patch=16, stride=16)
>>> hist = fit(ResCNN(4, channels=4, n_blocks=1), train, epochs=1, progress=False, engine="torch")
>>> len(hist["train_loss"])
1
"""

from __future__ import annotations

import argparse
import copy
import logging
import math
import time
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import numpy as np
import torch
import xarray as xr

from .kernels.aggregate import block_view, radiometric_mean
from .kernels.interp import fill_gaps, nearest_upsample
from .nn.losses import sif_loss, supervised_loss

__all__ = [
    "PatchSet",
    "degraded_pairs",
    "fit",
    "fit_guide_gain",
    "fit_normalisation",
    "make_loss",
    "make_patches",
    "split_by_scene",
    "target_scale_pairs",
    "train_main",
]

MODES = ("sisr", "degraded_disr", "sif", "supervised")


# --------------------------------------------------------------------------- pairs and patches
def block_nanmean(a: np.ndarray, factor: int) -> np.ndarray:
    """Plain NaN-aware block mean of (..., Y, X) (for guides such as NDVI; LST is radiometric)."""
    with np.errstate(invalid="ignore"):
        import warnings

        with warnings.catch_warnings():
            warnings.simplefilter("ignore", RuntimeWarning)
            return np.nanmean(block_view(np.asarray(a, np.float64), factor), axis=(-3, -1)).astype(
                np.float32
            )


def _crop(a: np.ndarray, m: int) -> np.ndarray:
    return a[..., : a.shape[-2] // m * m, : a.shape[-1] // m * m]


def degraded_pairs(
    lst: np.ndarray, factor: int, guide: np.ndarray | None = None, *, min_valid: float = 1.0
) -> dict[str, Any]:
    """Training pairs one octave-pair up: ``radiometric_mean(LST, f) -> LST``.

    Parameters
    ----------
    lst : ndarray (n, Y, X)
        LST at its native resolution (becomes the target), Kelvin, NaN gaps.
    factor : int
        Degradation (= upscaling) factor.
    guide : ndarray (n or 1, c, Y*f, X*f), optional
        Guide at ``factor`` times the LST resolution; it is block-averaged onto the LST grid (the
        degraded-DISR input).

    Returns
    -------
    dict
        ``lst_coarse`` (n, Y/f, X/f), ``guide`` (n, c, Y, X) or None, ``target`` (n, Y, X): keyword
        arguments of :func:`make_patches`.
    """
    lst = _crop(np.asarray(lst, np.float32), factor)
    if lst.ndim == 2:
        lst = lst[None]
    coarse = radiometric_mean(lst, factor, min_valid=min_valid)
    g = None
    if guide is not None:
        guide = np.asarray(guide, np.float32)
        if guide.ndim == 3:
            guide = guide[:, None]
        g = block_nanmean(guide[..., : lst.shape[-2] * factor, : lst.shape[-1] * factor], factor)
        g = np.broadcast_to(g, (lst.shape[0], *g.shape[1:]))
    return {"lst_coarse": coarse, "guide": g, "target": lst}


def target_scale_pairs(
    lst_coarse: np.ndarray,
    factor: int,
    guide: np.ndarray | None = None,
    target: np.ndarray | None = None,
) -> dict[str, Any]:
    """Pairs at the target scale: coarse LST (+ fine guide) and optional fine truth (NaN = invalid).

    For ``"sif"`` (no truth) and ``"supervised"`` (truth from another sensor, already on the fine
    output grid) training.
    """
    lst_coarse = np.asarray(lst_coarse, np.float32)
    if lst_coarse.ndim == 2:
        lst_coarse = lst_coarse[None]
    g = None if guide is None else np.asarray(guide, np.float32)
    if g is not None and g.ndim == 3:
        g = g[:, None]
    t = None if target is None else np.asarray(target, np.float32)
    if t is not None and t.ndim == 2:
        t = t[None]
    return {"lst_coarse": lst_coarse, "guide": g, "target": t}


@dataclass
class PatchSet:
    """Training patches as tensors.

    Attributes
    ----------
    lst : Tensor (N, 1, h, w)
        Coarse input, gaps filled (the engine's :func:`~xlstsr.kernels.interp.fill_gaps`).
    lst_valid : Tensor (N, 1, h, w) bool
        Observed coarse pixels (False on filled gaps; masked in coarse-consistency terms).
    guide : Tensor (N, c, H, W) or None
        Fine guide (NaN allowed).
    target : Tensor (N, 1, H, W) or None
        Fine truth, NaN where invalid.
    scene : ndarray (N,)
        Scene index of each patch (to split by scene).
    factor : int
    """

    lst: torch.Tensor
    lst_valid: torch.Tensor
    guide: torch.Tensor | None
    target: torch.Tensor | None
    scene: np.ndarray
    factor: int

    def __len__(self) -> int:
        return int(self.lst.shape[0])

    def subset(self, idx: Any) -> PatchSet:
        idx = torch.as_tensor(np.asarray(idx), dtype=torch.long)
        return PatchSet(
            self.lst[idx],
            self.lst_valid[idx],
            None if self.guide is None else self.guide[idx],
            None if self.target is None else self.target[idx],
            self.scene[idx.numpy()],
            self.factor,
        )

    def batch(self, idx: torch.Tensor) -> dict[str, torch.Tensor | None]:
        return {
            "lst": self.lst[idx],
            "lst_valid": self.lst_valid[idx],
            "guide": None if self.guide is None else self.guide[idx],
            "target": None if self.target is None else self.target[idx],
        }


def make_patches(
    lst_coarse: np.ndarray,
    factor: int,
    guide: np.ndarray | None = None,
    target: np.ndarray | None = None,
    *,
    patch: int = 64,
    stride: int | None = None,
    max_nan_fraction: float = 0.5,
    fill_radius: int = 16,
    scene_ids: Sequence[Any] | None = None,
) -> PatchSet:
    """Cut aligned patches from coarse LST (n, h, w), fine guide and truth with ``xbatcher``.

    Everything is put on the fine grid (the coarse LST replicated by nearest neighbour, so windows
    of ``patch`` fine pixels, a multiple of ``factor``, cut whole coarse pixels) in an
    :class:`xarray.Dataset` and windowed with :class:`xbatcher.BatchGenerator`. A patch is skipped
    when more than ``max_nan_fraction`` of its coarse input (or, with a target, of its truth) is
    NaN. Coarse gaps are then filled as the inference engine fills them.

    Parameters
    ----------
    lst_coarse : ndarray (n, h, w)
        Coarse LST, Kelvin, NaN gaps.
    factor : int
    guide : ndarray (n, c, h*f, w*f), optional
    target : ndarray (n, h*f, w*f), optional
        Fine truth (NaN = invalid).
    patch, stride : int
        Window size and step in fine pixels (multiples of ``factor``; stride defaults to patch).
    scene_ids : sequence, optional
        One id per time step (default 0..n-1), kept per patch for splitting by scene.
    """
    import xbatcher

    stride = patch if stride is None else stride
    if patch % factor or stride % factor:
        raise ValueError(
            f"patch ({patch}) and stride ({stride}) must be multiples of factor {factor}"
        )
    lst_coarse = np.asarray(lst_coarse, np.float32)
    n, h, w = lst_coarse.shape
    H, W = h * factor, w * factor
    data = {"lst": (("scene", "y", "x"), nearest_upsample(lst_coarse, factor))}
    if guide is not None:
        guide = np.broadcast_to(np.asarray(guide, np.float32), (n, guide.shape[1], H, W))
        for b in range(guide.shape[1]):  # one variable per band: xbatcher keeps (scene, y, x)
            data[f"guide{b}"] = (("scene", "y", "x"), guide[:, b])
    if target is not None:
        data["target"] = (("scene", "y", "x"), np.asarray(target, np.float32).reshape(n, H, W))
    ids = np.arange(n) if scene_ids is None else np.asarray(scene_ids)
    ds = xr.Dataset(data, coords={"scene": np.arange(n)})
    gen = xbatcher.BatchGenerator(
        ds,
        input_dims={"y": patch, "x": patch},
        input_overlap={"y": patch - stride, "x": patch - stride},
    )
    lst_l, guide_l, tgt_l, sc_l = [], [], [], []
    for win in gen:
        win = win.transpose("scene", "y", "x")
        c = win["lst"].values[:, ::factor, ::factor]  # (n, p/f, p/f)
        keep = np.isnan(c).mean(axis=(1, 2)) <= max_nan_fraction
        if target is not None:
            keep &= np.isnan(win["target"].values).mean(axis=(1, 2)) <= max_nan_fraction
        if not keep.any():
            continue
        lst_l.append(c[keep])
        sc_l.append(ids[win["scene"].values[keep]])
        if guide is not None:
            guide_l.append(
                np.stack([win[f"guide{b}"].values for b in range(guide.shape[1])], 1)[keep]
            )
        if target is not None:
            tgt_l.append(win["target"].values[keep])
    if not lst_l:
        raise ValueError(
            "no patch has enough valid pixels; lower `patch` or raise `max_nan_fraction`"
        )
    lst_all = np.concatenate(lst_l)
    valid = np.isfinite(lst_all)
    filled = fill_gaps(lst_all, fill_radius)
    return PatchSet(
        torch.from_numpy(filled[:, None].astype(np.float32)),
        torch.from_numpy(valid[:, None]),
        torch.from_numpy(np.concatenate(guide_l).astype(np.float32)) if guide_l else None,
        torch.from_numpy(np.concatenate(tgt_l)[:, None].astype(np.float32)) if tgt_l else None,
        np.concatenate(sc_l),
        factor,
    )


def split_by_scene(
    patches: PatchSet, val_fraction: float = 0.2, seed: int = 0
) -> tuple[PatchSet, PatchSet]:
    """Split patches into train/validation by whole scenes (never by patch)."""
    scenes = np.unique(patches.scene)
    if len(scenes) < 2:
        raise ValueError("splitting by scene needs at least 2 scenes")
    rng = np.random.default_rng(seed)
    n_val = min(len(scenes) - 1, max(1, round(val_fraction * len(scenes))))
    val_sc = set(rng.permutation(scenes)[:n_val].tolist())
    is_val = np.array([s in val_sc for s in patches.scene.tolist()])
    return patches.subset(np.flatnonzero(~is_val)), patches.subset(np.flatnonzero(is_val))


# --------------------------------------------------------------------------- statistics
def fit_normalisation(model: torch.nn.Module, patches: PatchSet) -> dict[str, Any]:
    """Set the model's normalisation buffers from training inputs (LST mean/std, guide mean/std)."""
    lst = patches.lst[patches.lst_valid]
    offset = float(lst.mean())
    scale = max(float(lst.std()), 1.0)
    gm = gs = None
    if patches.guide is not None and getattr(model, "n_guide", 0):
        g = patches.guide.transpose(0, 1).reshape(patches.guide.shape[1], -1).numpy()
        gm = np.nanmean(g, axis=1)
        gs = np.maximum(np.nanstd(g, axis=1), 1e-3)
    model.set_normalisation(offset, scale, gm, gs)
    return model.normalisation()


def fit_guide_gain(
    lst_coarse: np.ndarray, guide: np.ndarray, factor: int, *, default: float = -10.0
) -> float:
    """Regression slope (K per guide unit) of coarse LST detail on guide detail, for :func:`sif_loss`.

    Both fields are compared at the coarse scale (the guide block-averaged by ``factor``), after a
    Gaussian high-pass of 1 coarse pixel: the detail law the scale-invariance-free loss transfers to
    the fine scale. Returns ``default`` if the fit is not negative (no usable anti-correlation).
    """
    from scipy import ndimage

    lc = np.asarray(lst_coarse, np.float64)
    gc = block_nanmean(
        np.asarray(guide, np.float64)[..., 0, :, :] if np.ndim(guide) == 4 else guide, factor
    ).astype(np.float64)
    xs, ys = [], []
    for k in range(lc.shape[0]):
        a, b = lc[k], gc[min(k, gc.shape[0] - 1)]
        ok = np.isfinite(a) & np.isfinite(b)
        if ok.sum() < 16:
            continue
        af = np.where(ok, a, np.nanmean(a[ok]))
        bf = np.where(ok, b, np.nanmean(b[ok]))
        ha = af - ndimage.gaussian_filter(af, 1.0, mode="nearest")
        hb = bf - ndimage.gaussian_filter(bf, 1.0, mode="nearest")
        ys.append(ha[ok])
        xs.append(hb[ok])
    if not xs:
        return float(default)
    x, y = np.concatenate(xs), np.concatenate(ys)
    slope = float((x * y).sum() / max((x * x).sum(), 1e-12))
    return slope if slope < 0 and math.isfinite(slope) else float(default)


# --------------------------------------------------------------------------- losses and loop
def make_loss(
    mode: str, factor: int, **options: Any
) -> Callable[[torch.nn.Module, dict], torch.Tensor]:
    """``loss(model, batch) -> scalar`` for a training mode (see the module docstring).

    Options: ``"sif"``: ``alpha``, ``gain``, ``sigma``; ``"sisr"``/``"degraded_disr"``/
    ``"supervised"``: ``w_detail``, ``w_spectral``, ``w_consistency``, ``sigma``; all: ``delta``.
    """
    if mode not in MODES:
        raise ValueError(f"unknown training mode {mode!r}; choose one of {MODES}")

    def loss(model: torch.nn.Module, batch: dict) -> torch.Tensor:
        lst = batch["lst"]
        guide = batch["guide"] if getattr(model, "n_guide", 0) else None
        sr = model(lst, guide)
        coarse = torch.where(batch["lst_valid"], lst, torch.full_like(lst, float("nan")))
        if mode == "sif":
            if batch["guide"] is None:
                raise ValueError("mode 'sif' needs a guide")
            return sif_loss(sr, coarse, batch["guide"], factor, **options)
        if batch["target"] is None:
            raise ValueError(f"mode {mode!r} needs a target (fine truth)")
        return supervised_loss(sr, batch["target"], coarse, factor, **options)

    return loss


def augment(batch: dict, gen: torch.Generator) -> dict:
    """Random rot90 (k = 0..3) and horizontal flip, the same for every tensor of the batch."""
    k = int(torch.randint(0, 4, (1,), generator=gen))
    flip = bool(torch.randint(0, 2, (1,), generator=gen))

    def tf(x: torch.Tensor | None) -> torch.Tensor | None:
        if x is None:
            return None
        x = torch.rot90(x, k, dims=(-2, -1))
        return torch.flip(x, dims=(-1,)) if flip else x

    return {key: tf(v) for key, v in batch.items()}


def _batches(n: int, batch_size: int, gen: torch.Generator | None) -> list[torch.Tensor]:
    order = torch.randperm(n, generator=gen) if gen is not None else torch.arange(n)
    return list(order.split(batch_size))


def _evaluate(model, loss_fn, patches: PatchSet, batch_size: int) -> float:
    model.eval()
    tot, cnt = 0.0, 0
    with torch.no_grad():
        for idx in _batches(len(patches), batch_size, None):
            tot += float(loss_fn(model, patches.batch(idx))) * len(idx)
            cnt += len(idx)
    return tot / max(cnt, 1)


def _fit_torch(
    model, loss_fn, train, val, *, epochs, batch_size, lr, patience, seed, progress, augmentation
):
    from tqdm.auto import tqdm

    gen = torch.Generator().manual_seed(seed)
    opt = torch.optim.Adam(model.parameters(), lr=lr)
    sched = torch.optim.lr_scheduler.CosineAnnealingLR(opt, T_max=max(epochs, 1), eta_min=lr * 0.05)
    hist: dict[str, list] = {"train_loss": [], "val_loss": [], "epoch_seconds": []}
    best, best_state, bad = math.inf, None, 0
    bar = tqdm(range(epochs), desc="train", disable=not progress, leave=False)
    for _ in bar:
        t0 = time.perf_counter()
        model.train()
        tot, cnt = 0.0, 0
        for idx in _batches(len(train), batch_size, gen):
            batch = train.batch(idx)
            if augmentation:
                batch = augment(batch, gen)
            loss = loss_fn(model, batch)
            opt.zero_grad()
            loss.backward()
            opt.step()
            tot += float(loss.detach()) * len(idx)
            cnt += len(idx)
        sched.step()
        hist["train_loss"].append(tot / max(cnt, 1))
        vl = (
            _evaluate(model, loss_fn, val, batch_size)
            if val is not None
            else hist["train_loss"][-1]
        )
        hist["val_loss"].append(vl)
        hist["epoch_seconds"].append(time.perf_counter() - t0)
        bar.set_postfix(train=f"{hist['train_loss'][-1]:.4f}", val=f"{vl:.4f}")
        if vl < best - 1e-6:
            best, best_state, bad = vl, copy.deepcopy(model.state_dict()), 0
        else:
            bad += 1
            if patience and bad >= patience:
                break
    return hist, best_state, best


def _fit_lightning(
    model, loss_fn, train, val, *, epochs, batch_size, lr, patience, seed, progress, augmentation
):
    import lightning as L
    from lightning.pytorch.callbacks import Callback, EarlyStopping

    L.seed_everything(seed, workers=True, verbose=False)

    class _Ds(torch.utils.data.Dataset):
        def __init__(self, p: PatchSet) -> None:
            self.p = p

        def __len__(self) -> int:
            return len(self.p)

        def __getitem__(self, i):
            return i

    def collate(p):
        return lambda idx: p.batch(torch.as_tensor(idx))

    gen = torch.Generator().manual_seed(seed)

    class LitSR(L.LightningModule):
        def __init__(self) -> None:
            super().__init__()
            self.model = model

        def training_step(self, batch, _):
            if augmentation:
                batch = augment(batch, gen)
            loss = loss_fn(self.model, batch)
            self.log("train_loss", loss, on_epoch=True, on_step=False, batch_size=len(batch["lst"]))
            return loss

        def validation_step(self, batch, _):
            loss = loss_fn(self.model, batch)
            self.log("val_loss", loss, on_epoch=True, batch_size=len(batch["lst"]))

        def configure_optimizers(self):
            opt = torch.optim.Adam(self.model.parameters(), lr=lr)
            sched = torch.optim.lr_scheduler.CosineAnnealingLR(
                opt, T_max=max(epochs, 1), eta_min=lr * 0.05
            )
            return [opt], [sched]

    hist: dict[str, list] = {"train_loss": [], "val_loss": [], "epoch_seconds": []}
    state: dict[str, Any] = {"best": math.inf, "best_state": None}

    class _Track(Callback):
        def on_train_epoch_start(self, trainer, pl_module):
            state["t0"] = time.perf_counter()

        def on_train_epoch_end(self, trainer, pl_module):
            m = trainer.callback_metrics
            hist["epoch_seconds"].append(time.perf_counter() - state["t0"])
            hist["train_loss"].append(float(m.get("train_loss", float("nan"))))
            vl = float(m.get("val_loss", m.get("train_loss", float("nan"))))
            hist["val_loss"].append(vl)
            if vl < state["best"] - 1e-6:
                state["best"], state["best_state"] = vl, copy.deepcopy(model.state_dict())

    g = torch.Generator().manual_seed(seed)
    tl = torch.utils.data.DataLoader(
        _Ds(train), batch_size=batch_size, shuffle=True, generator=g, collate_fn=collate(train)
    )
    vl = (
        torch.utils.data.DataLoader(_Ds(val), batch_size=batch_size, collate_fn=collate(val))
        if val is not None
        else None
    )
    callbacks = [_Track()]
    if patience and val is not None:
        callbacks.append(EarlyStopping(monitor="val_loss", patience=patience, mode="min"))
    # Lightning announces the devices at INFO level ("GPU available: False ..."): quiet unless
    # the caller asked for progress output
    quiet = [] if progress else [logging.getLogger(n) for n in ("lightning.pytorch", "lightning")]
    levels = [lg.level for lg in quiet]
    for lg in quiet:
        lg.setLevel(logging.WARNING)
    trainer = L.Trainer(
        max_epochs=epochs,
        accelerator="cpu",
        devices=1,
        deterministic=True,
        logger=False,
        enable_checkpointing=False,
        enable_model_summary=False,
        enable_progress_bar=progress,
        callbacks=callbacks,
        num_sanity_val_steps=0,
    )
    try:
        trainer.fit(LitSR(), tl, vl)
    finally:
        for lg, level in zip(quiet, levels):
            lg.setLevel(level)
    return hist, state["best_state"], state["best"]


def fit(
    model: torch.nn.Module,
    train: PatchSet,
    val: PatchSet | None = None,
    *,
    mode: str = "sisr",
    loss_options: dict[str, Any] | None = None,
    epochs: int = 50,
    batch_size: int = 16,
    lr: float = 1e-3,
    patience: int = 10,
    seed: int = 0,
    augmentation: bool = True,
    normalise: bool = True,
    progress: bool = True,
    engine: str = "auto",
) -> dict[str, Any]:
    """Train ``model`` on patches; early stopping on the validation loss; best weights restored.

    Parameters
    ----------
    model : nn.Module
        An :mod:`xlstsr.nn.models` architecture (trained in place).
    train, val : PatchSet
        Training and validation patches (split by scene: :func:`split_by_scene`).
    mode : str
        ``"sisr"``, ``"degraded_disr"``, ``"sif"`` or ``"supervised"`` (:func:`make_loss`).
    loss_options : dict
        Options of the loss (``alpha``, ``gain``, ``w_detail``, ``w_spectral``...).
    epochs, batch_size, lr, patience, seed : training settings (Adam, cosine decay).
    augmentation : bool
        Random flips and rot90 per batch.
    normalise : bool
        Set the model's normalisation buffers from ``train`` first (:func:`fit_normalisation`).
    engine : {"auto", "torch", "lightning"}
        ``"auto"`` uses Lightning when it is importable, else the plain torch loop.

    Returns
    -------
    dict
        ``train_loss``, ``val_loss``, ``epoch_seconds`` per epoch, ``best_val_loss``,
        ``epochs_run``, ``engine``.
    """
    if engine == "auto":
        try:
            import lightning  # noqa: F401

            engine = "lightning"
        except ImportError:
            engine = "torch"
    if engine not in ("torch", "lightning"):
        raise ValueError(f"engine must be 'auto', 'torch' or 'lightning', got {engine!r}")
    torch.manual_seed(seed)
    np.random.seed(seed)  # noqa: NPY002  (legacy global state used by some libraries)
    if normalise:
        fit_normalisation(model, train)
    loss_fn = make_loss(mode, train.factor, **(loss_options or {}))
    runner = _fit_lightning if engine == "lightning" else _fit_torch
    hist, best_state, best = runner(
        model,
        loss_fn,
        train,
        val,
        epochs=epochs,
        batch_size=batch_size,
        lr=lr,
        patience=patience,
        seed=seed,
        progress=progress,
        augmentation=augmentation,
    )
    if best_state is not None:
        model.load_state_dict(best_state)
    model.eval()
    hist.update(best_val_loss=best, epochs_run=len(hist["train_loss"]), engine=engine)
    return hist


# --------------------------------------------------------------------------- CLI
def _open(path: str, variable: str | None) -> xr.DataArray:
    p = Path(path)
    if p.suffix.lower() in (".tif", ".tiff"):
        import rioxarray

        da = rioxarray.open_rasterio(p, masked=True)
        return da.squeeze("band", drop=True) if da.sizes.get("band", 1) == 1 else da
    ds = xr.open_zarr(p) if p.suffix == ".zarr" or p.is_dir() else xr.open_dataset(p)
    if variable is None:
        if len(ds.data_vars) != 1:
            raise ValueError(f"{path} holds {list(ds.data_vars)}: say which with --variable")
        variable = next(iter(ds.data_vars))
    return ds[variable]


def _as_stack(da: xr.DataArray) -> np.ndarray:
    from .validate import spatial_dims

    ydim, xdim = spatial_dims(da)
    lead = [d for d in da.dims if d not in (ydim, xdim)]
    da = da.transpose(*lead, ydim, xdim)
    return np.asarray(da.values, np.float32).reshape(-1, da.sizes[ydim], da.sizes[xdim])


def train_main(argv: Sequence[str] | None = None) -> int:
    """``xlstsr train``: train a model on an LST cube (and guide/truth) and write a checkpoint.

    Examples
    --------
    ``xlstsr train --lst lst_1km.zarr --variable LST --mode sisr --arch rescnn --out sisr.pt``
    """
    from .nn import build_model, save_model

    ap = argparse.ArgumentParser(
        prog="xlstsr train", description=train_main.__doc__.splitlines()[0]
    )
    ap.add_argument("--lst", required=True, help="LST cube (Zarr, NetCDF or GeoTIFF), Kelvin")
    ap.add_argument("--variable", default=None, help="LST variable name in a Dataset")
    ap.add_argument("--guide", default=None, help="fine guide (e.g. NDVI) at factor x the LST grid")
    ap.add_argument("--guide-variable", default=None)
    ap.add_argument("--truth", default=None, help="fine truth on the output grid (mode supervised)")
    ap.add_argument("--truth-variable", default=None)
    ap.add_argument("--mode", choices=MODES, default="sisr")
    ap.add_argument("--arch", default=None, help="rescnn, mrunet or guided_unet")
    ap.add_argument("--factor", type=int, default=4)
    ap.add_argument("--patch", type=int, default=64, help="patch size in fine pixels")
    ap.add_argument("--epochs", type=int, default=50)
    ap.add_argument("--batch-size", type=int, default=16)
    ap.add_argument("--lr", type=float, default=1e-3)
    ap.add_argument("--patience", type=int, default=10)
    ap.add_argument("--val-fraction", type=float, default=0.2)
    ap.add_argument("--seed", type=int, default=0)
    ap.add_argument("--engine", choices=("auto", "torch", "lightning"), default="auto")
    ap.add_argument("--threads", type=int, default=None, help="torch CPU threads")
    ap.add_argument("--out", required=True, help="checkpoint file to write (.pt)")
    args = ap.parse_args(argv)
    if args.threads:
        torch.set_num_threads(args.threads)
    f = args.factor
    lst = _as_stack(_open(args.lst, args.variable))
    guide = None
    if args.guide:
        g = _as_stack(_open(args.guide, args.guide_variable))
        guide = g[:, None] if g.shape[0] in (1, lst.shape[0]) else g[None]
    if args.mode in ("sisr", "degraded_disr"):
        pairs = degraded_pairs(lst, f, guide if args.mode == "degraded_disr" else None)
    else:
        truth = _as_stack(_open(args.truth, args.truth_variable)) if args.truth else None
        if args.mode == "supervised" and truth is None:
            ap.error("--mode supervised needs --truth")
        pairs = target_scale_pairs(lst, f, guide, truth if args.mode == "supervised" else None)
    n_guide = 0 if pairs["guide"] is None or args.mode == "sisr" else pairs["guide"].shape[1]
    if args.mode == "sisr":
        pairs["guide"] = None
    arch = args.arch or ("guided_unet" if n_guide else "rescnn")
    model = build_model(arch, factor=f, **({"n_guide": n_guide} if arch == "guided_unet" else {}))
    patches = make_patches(**pairs, factor=f, patch=args.patch, stride=args.patch // 2)
    n_sc = len(np.unique(patches.scene))
    train, val = (
        split_by_scene(patches, args.val_fraction, args.seed) if n_sc > 1 else (patches, None)
    )
    opts: dict[str, Any] = {}
    if args.mode == "sif":
        opts["gain"] = fit_guide_gain(lst, pairs["guide"], f)
    hist = fit(
        model,
        train,
        val,
        mode=args.mode,
        loss_options=opts,
        epochs=args.epochs,
        batch_size=args.batch_size,
        lr=args.lr,
        patience=args.patience,
        seed=args.seed,
        engine=args.engine,
    )
    save_model(
        model,
        args.out,
        mode=args.mode,
        loss=args.mode,
        loss_options=opts,
        training_data={"lst": args.lst, "guide": args.guide, "truth": args.truth},
        training_scales=(
            "degraded by factor" if args.mode in ("sisr", "degraded_disr") else "target scale"
        ),
        history={k: hist[k] for k in ("best_val_loss", "epochs_run", "engine")},
    )
    print(
        f"wrote {args.out}: {hist['epochs_run']} epochs, best validation loss "
        f"{hist['best_val_loss']:.4f}"
    )
    return 0


if __name__ == "__main__":  # pragma: no cover
    raise SystemExit(train_main())

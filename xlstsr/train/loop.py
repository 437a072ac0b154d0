"""Training loop: losses per training regime, augmentation, early stopping, torch or Lightning.

Training regimes (``mode``), all on the same patch machinery (:mod:`xlstsr.train.data`):

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

Batches are augmented by flips and rot90, training stops early on the validation loss and restores
the best weights, seeds are fixed (identical runs give identical weights). :func:`fit` uses
Lightning (``LightningModule`` + ``Trainer``) when ``lightning`` is installed and ``engine="auto"``,
else a plain torch loop; both show a tqdm progress bar and share the optimiser (Adam with cosine
decay) and the best-weights bookkeeping.

Examples
--------
>>> import numpy as np
>>> from xlstsr.nn import ResCNN
>>> from xlstsr.train import degraded_pairs, make_patches
>>> lst = 300 + np.random.default_rng(0).normal(0, 2, (4, 32, 32)).astype("float32")
>>> train = make_patches(**degraded_pairs(lst, 4), factor=4, patch=16, stride=16)
>>> hist = fit(ResCNN(4, channels=4, n_blocks=1), train, epochs=1, progress=False, engine="torch")
>>> len(hist["train_loss"])
1
"""

from __future__ import annotations

import copy
import logging
import math
import time
from collections.abc import Callable
from typing import Any

import numpy as np
import torch

from ..nn.losses import sif_loss, supervised_loss
from .data import PatchSet

__all__ = ["MODES", "add_input_noise", "augment", "fit", "fit_normalisation", "make_loss"]

#: The training regimes of :func:`fit` (see the module docstring).
MODES = ("sisr", "degraded_disr", "sif", "supervised")


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


def add_input_noise(batch: dict, sigma: float, gen: torch.Generator) -> dict:
    """The batch with Gaussian noise of ``sigma`` (K) added to its coarse input ``lst``.

    Trains a model not to take the input's pixel-level noise for detail: the real coarse LST
    carries retrieval noise and sensor differences that a degraded-pair input (an exact
    aggregate of the target) does not have. Targets are left as they are.

    Examples
    --------
    >>> b = {"lst": torch.zeros(1, 1, 64, 64), "target": torch.zeros(1, 1, 4, 4)}
    >>> nb = add_input_noise(b, 0.5, torch.Generator().manual_seed(0))
    >>> round(float(nb["lst"].std()), 1), bool(nb["target"].eq(0).all())
    (0.5, True)
    """
    noise = torch.randn(batch["lst"].shape, generator=gen, dtype=batch["lst"].dtype)
    return {**batch, "lst": batch["lst"] + sigma * noise}


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


class _Record:
    """Per-epoch history and the best weights so far (shared by both engines)."""

    def __init__(self) -> None:
        self.hist: dict[str, list] = {"train_loss": [], "val_loss": [], "epoch_seconds": []}
        self.best, self.best_state = math.inf, None

    def epoch(self, model: torch.nn.Module, train_loss: float, val_loss: float, seconds: float) -> bool:
        """Record one epoch; True when ``val_loss`` improves on the best (weights kept)."""
        self.hist["train_loss"].append(train_loss)
        self.hist["val_loss"].append(val_loss)
        self.hist["epoch_seconds"].append(seconds)
        if val_loss < self.best - 1e-6:
            self.best, self.best_state = val_loss, copy.deepcopy(model.state_dict())
            return True
        return False

    def result(self) -> tuple[dict[str, list], dict | None, float]:
        return self.hist, self.best_state, self.best


def _optimiser(
    model: torch.nn.Module, lr: float, epochs: int
) -> tuple[torch.optim.Optimizer, torch.optim.lr_scheduler.LRScheduler]:
    """Adam with a cosine decay to 5 % of ``lr`` over ``epochs``."""
    opt = torch.optim.Adam(model.parameters(), lr=lr)
    sched = torch.optim.lr_scheduler.CosineAnnealingLR(opt, T_max=max(epochs, 1), eta_min=lr * 0.05)
    return opt, sched


def _fit_torch(
    model, loss_fn, train, val, *, epochs, batch_size, lr, patience, seed, progress, augmentation,
    input_noise=0.0,
):
    from tqdm.auto import tqdm

    gen = torch.Generator().manual_seed(seed)
    opt, sched = _optimiser(model, lr, epochs)
    rec, bad = _Record(), 0
    bar = tqdm(range(epochs), desc="train", disable=not progress, leave=False)
    for _ in bar:
        t0 = time.perf_counter()
        model.train()
        tot, cnt = 0.0, 0
        for idx in _batches(len(train), batch_size, gen):
            batch = train.batch(idx)
            if augmentation:
                batch = augment(batch, gen)
            if input_noise:
                batch = add_input_noise(batch, input_noise, gen)
            loss = loss_fn(model, batch)
            opt.zero_grad()
            loss.backward()
            opt.step()
            tot += float(loss.detach()) * len(idx)
            cnt += len(idx)
        sched.step()
        tl = tot / max(cnt, 1)
        vl = _evaluate(model, loss_fn, val, batch_size) if val is not None else tl
        bar.set_postfix(train=f"{tl:.4f}", val=f"{vl:.4f}")
        if rec.epoch(model, tl, vl, time.perf_counter() - t0):
            bad = 0
        else:
            bad += 1
            if patience and bad >= patience:
                break
    return rec.result()


def _fit_lightning(
    model, loss_fn, train, val, *, epochs, batch_size, lr, patience, seed, progress, augmentation,
    input_noise=0.0,
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
            if input_noise:
                batch = add_input_noise(batch, input_noise, gen)
            loss = loss_fn(self.model, batch)
            self.log("train_loss", loss, on_epoch=True, on_step=False, batch_size=len(batch["lst"]))
            return loss

        def validation_step(self, batch, _):
            loss = loss_fn(self.model, batch)
            self.log("val_loss", loss, on_epoch=True, batch_size=len(batch["lst"]))

        def configure_optimizers(self):
            opt, sched = _optimiser(self.model, lr, epochs)
            return [opt], [sched]

    rec = _Record()
    t0 = [0.0]

    class _Track(Callback):
        def on_train_epoch_start(self, trainer, pl_module):
            t0[0] = time.perf_counter()

        def on_train_epoch_end(self, trainer, pl_module):
            m = trainer.callback_metrics
            tl = float(m.get("train_loss", float("nan")))
            vl = float(m.get("val_loss", m.get("train_loss", float("nan"))))
            rec.epoch(model, tl, vl, time.perf_counter() - t0[0])

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
    return rec.result()


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
    input_noise: float = 0.0,
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
    input_noise : float
        Standard deviation (K) of Gaussian noise added to the coarse input of every training
        batch (:func:`add_input_noise`; validation batches stay clean). 0: none.
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
    settings = {"epochs": epochs, "batch_size": batch_size, "lr": lr, "patience": patience,
                "seed": seed, "progress": progress, "augmentation": augmentation,
                "input_noise": float(input_noise)}
    hist, best_state, best = runner(model, loss_fn, train, val, **settings)
    if best_state is not None:
        model.load_state_dict(best_state)
    model.eval()
    hist.update(best_val_loss=best, epochs_run=len(hist["train_loss"]), engine=engine)
    return hist



"""Training loop: one Lightning loop, the losses of the training regimes, augmentation.

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

The pieces are Lightning's: :class:`SuperResolutionModule` (a ``LightningModule``: the network,
the loss of its regime, Adam with cosine decay), :class:`PatchDataModule` (a
``LightningDataModule``: seeded batches of patches, augmented by flips and rot90) and
:class:`BestWeights` (early stopping on the validation loss, best weights restored). :func:`fit`
runs them under a ``lightning.Trainer``, quiet by default, with the Trainer's options, callbacks,
loggers (:func:`make_logger`: CSV or TensorBoard) and checkpoint resume passed through. Seeds are
fixed: identical runs give identical weights. A user with a cube rather than patches starts from
:class:`xlstsr.train.CubeDataModule`.

Examples
--------
>>> import numpy as np
>>> from xlstsr.nn import ResCNN
>>> from xlstsr.train import degraded_pairs, make_patches
>>> lst = 300 + np.random.default_rng(0).normal(0, 2, (4, 32, 32)).astype("float32")
>>> train = make_patches(**degraded_pairs(lst, 4), factor=4, patch=16, stride=16)
>>> hist = fit(ResCNN(4, channels=4, n_blocks=1), train, epochs=1)
>>> len(hist["train_loss"]), hist["engine"]
(1, 'lightning')
"""

from __future__ import annotations

import contextlib
import copy
import hashlib
import logging
import math
import os
import re
import time
import warnings
from collections.abc import Callable, Mapping
from typing import Any

import lightning as L
import numpy as np
import torch
from lightning.pytorch.callbacks import Callback, ModelCheckpoint
from lightning.pytorch.trainer.states import TrainerStatus

from ..errors import GridError, InputNotFoundError, InputTypeError, XlstsrError, warn
from ..nn.checkpoint import check_entries
from ..nn.losses import sif_loss, supervised_loss
from ..validate import check_bool, check_factor, check_number, check_whole
from .data import PatchSet, _shown

__all__ = [
    "MODES",
    "BestWeights",
    "PatchDataModule",
    "SuperResolutionModule",
    "add_input_noise",
    "augment",
    "fit",
    "fit_normalisation",
    "has_fitted_normalisation",
    "make_logger",
    "make_loss",
]

#: The training regimes of :func:`fit` (see the module docstring).
MODES = ("sisr", "degraded_disr", "sif", "supervised")

#: The largest seed numpy's and Lightning's generators take
_MAX_SEED = 2**32 - 1

log = logging.getLogger(__name__)


def check_seed(seed: Any) -> int:
    """A seed as a whole number in [0, 2**32 - 1] (numpy's and Lightning's range: 2**40 reached
    Lightning's raw "not in bounds", 2**70 a numpy TypeError), else an XlstsrError."""
    if isinstance(seed, (int, np.integer)) and not isinstance(seed, bool) and seed > _MAX_SEED:
        raise XlstsrError(f"seed must be a whole number from 0 to {_MAX_SEED} (the range of numpy's "
                          f"and Lightning's generators), got {seed}: e.g. seed=0")
    return check_whole("seed", seed, 0)


def fit_normalisation(model: torch.nn.Module, patches: PatchSet) -> dict[str, Any]:
    """Set the model's normalisation buffers from training inputs (LST mean/std, guide mean/std)."""
    if not isinstance(patches, PatchSet):  # raw AttributeErrors before
        raise InputTypeError(f"patches must be a PatchSet (make_patches), got {type(patches).__name__}")
    if not hasattr(model, "set_normalisation"):
        raise InputTypeError(f"{type(model).__name__} has no normalisation buffers to set: an "
                             "xlstsr.nn architecture has them; train other modules with "
                             "normalise=False")
    lst = patches.lst[patches.lst_valid]
    offset = float(lst.mean())
    scale = max(float(lst.std()), 1.0)
    gm = gs = None
    if patches.guide is not None and getattr(model, "n_guide", 0):
        _require_guide_bands(patches, model)
        g = patches.guide.transpose(0, 1).reshape(patches.guide.shape[1], -1).numpy()
        gm = np.nanmean(g, axis=1)
        gs = np.maximum(np.nanstd(g, axis=1), 1e-3)
    model.set_normalisation(offset, scale, gm, gs)
    return model.normalisation()


def _require_guide_bands(patches: PatchSet, model: torch.nn.Module, data: Any = None) -> None:
    """Refuse a guide band with no finite value in the training ``patches``: its mean and std
    are NaN (set_normalisation's refusal named neither the band nor the split; before it, the
    band trained always flagged invalid and the model saved as NaN weights). make_patches
    refuses a band empty in the whole guide, not one valid only in the validation split (or
    at held-out positions). ``data``: the data module the patches come from, whose own
    options the advice names (a :class:`~xlstsr.train.CubeDataModule`'s window positions,
    ``seed=``, ``val_fraction=``, ``split=``; else :func:`split_by_scene`'s scenes)."""
    if patches.guide is None or not getattr(model, "n_guide", 0):
        return
    n_bands = patches.guide.shape[1]
    finite = torch.isfinite(patches.guide).transpose(0, 1).reshape(n_bands, -1).any(dim=1)
    empty = np.flatnonzero(~finite.numpy())
    if not empty.size:
        return
    from .cube import CubeDataModule

    cube = isinstance(data, CubeDataModule)
    inputs = _model_inputs(model)
    labels = (inputs[1:] if inputs is not None and len(inputs) == n_bands + 1
              else [None] * n_bands)
    many = empty.size > 1
    bands = ", ".join(f"{labels[i]!r}" if labels[i] else f"{i}" for i in empty)
    indices = ", ".join(str(i) for i in empty)
    named = (f"guide band{'s' * many} {bands} (index{'es' * many} {indices} of {n_bands})"
             if any(labels[i] for i in empty)
             else f"guide band{'s' * many} index {indices} (of {n_bands})")
    unit = ("window positions" if cube
            else "images at stack positions" if patches.scenes_by_position else "scenes")

    def listed(ids: list[Any]) -> str:
        ids = list(dict.fromkeys(_shown(v) for v in ids))  # dates shown as dates
        return ", ".join(map(str, ids[:8])) + (f", ... ({len(ids)} in all)" if len(ids) > 8
                                               else "")

    # where the bands are valid among the validation patches (each band somewhere)
    val = getattr(data, "val_set", None)
    valid_at: list[Any] = []
    if val is not None and len(val) and val.guide is not None:
        ok = torch.isfinite(val.guide[:, torch.as_tensor(empty)]).flatten(2).any(dim=2)
        scenes = np.asarray(val.scene)
        every = ok.all(dim=1).numpy()  # a scene holding all of them, else one per band
        valid_at = (list(dict.fromkeys(scenes[every].tolist())) if every.any() else
                    [scenes[ok[:, k].numpy()][0] for k in range(empty.size)
                     if ok[:, k].any()])
    them, it = ("them", "they are") if many else ("it", "it is")
    one = ({"scenes": "scene", "window positions": "window position"}.get(unit, "image at stack "
           "position") if len(set(map(str, valid_at))) == 1 else unit)
    where = (f"valid at the validation {one} {listed(valid_at)}" if valid_at
             else "valid only in the validation split or at held-out positions, if anywhere")
    head = (f"{named} hold{'s' * (not many)} no valid value in the training split "
            f"({len(patches)} patches of {unit} {listed(list(patches.scene))}; {where}): the "
            f"model cannot learn {'their' if many else 'its'} statistics (normalisation) nor "
            f"{'their' if many else 'its'} use.")
    # a constant fill: the guide checks of fit_cube / fit_files (xlstsr train) take a value
    # covering most valid pixels for an undeclared fill and refuse it
    fill = (f"or fill {them} where missing, before training, from a field valid there (a "
            "neighbouring date's band, or an estimate from another band), not with one "
            "constant (fit_cube, fit_files and xlstsr train take a constant over most valid "
            "pixels for an undeclared fill).")
    if not cube:
        raise XlstsrError(
            f"{head} Put {unit} where {it} valid into the training split (e.g. other "
            f"val_scenes= of split_by_scene), drop the band{'s' * many} from the guide (and "
            f"build the model with n_guide {empty.size} fewer), {fill}")
    # valid in no validation patch either: no split of these patches trains on it
    split = (_cube_split_advice(data, patches, val, empty, it) if valid_at else
             f"No split of these patches trains on {them}: none holds {them} valid.")
    raise XlstsrError(f"{head} {split} Or give a "
                      f"guide without {'those bands' if many else 'that band'} (the model is "
                      f"built for the bands given), {fill}")


def _cube_split_advice(data: Any, train: PatchSet, val: PatchSet | None, empty: np.ndarray,
                       it: str) -> str:
    """The advice of :func:`_require_guide_bands` for a CubeDataModule: a seed whose split
    trains on a position where each empty band is valid (searched from the data module's
    own draw), or its given ``split=`` to change."""
    where = "a window position where " + it + " valid"
    given = getattr(data, "_split_given", None)
    if given is not None:  # the user's split: no seed draws another
        return f"Give a split= whose train holds {where} (the split given trains on none)."
    seed = None
    if val is not None and len(val) and val.guide is not None:
        scene = np.concatenate([np.asarray(train.scene), np.asarray(val.scene)])
        guide = torch.cat([train.guide[:, torch.as_tensor(empty)],
                           val.guide[:, torch.as_tensor(empty)]])
        ok = torch.isfinite(guide).flatten(2).any(dim=2).numpy()  # (patches, bands)
        trial = copy.copy(data)
        for s in range(data.seed + 1, data.seed + 101):  # the data module's own draw
            trial.seed = s
            held = np.isin(scene.astype(str), [str(p) for p in trial._draw_split(scene).train])
            if ok[held].any(axis=0).all():
                seed = s
                break
    pick = (f"another seed (seed={seed} does: its split trains on one)" if seed is not None
            else f"(no seed from {data.seed + 1} to {data.seed + 100} draws one)")
    return (f"Draw a split that trains on {where}: {pick}, or another val_fraction (now "
            f"{data.val_fraction:g}; in Python, fit_cube and fit_files also take a split= "
            "naming the positions).")


#: ``normalise`` of :func:`fit` / :class:`SuperResolutionModule` that fits the normalisation
#: even over one a trained model already holds
REFIT = "refit"


def has_fitted_normalisation(model: torch.nn.Module) -> bool:
    """True when the model's normalisation buffers hold statistics set since it was built
    (a trained, loaded or :func:`fit_normalisation`-ed model), False when they still hold the
    values an :mod:`xlstsr.nn` network is built with (or it has no such buffers).

    Examples
    --------
    >>> from xlstsr.nn import ResCNN
    >>> m = ResCNN(4, channels=4, n_blocks=1)
    >>> has_fitted_normalisation(m)
    False
    >>> m.set_normalisation(290.0, 8.0)
    >>> has_fitted_normalisation(m)
    True
    """
    norm = getattr(model, "normalisation", None)
    if not callable(norm):
        return False
    now = norm()
    # the buffers of a fresh network, read from the base class that sets them (no flag is
    # recorded: a value other than these comes from data, a loaded file or the user)
    built = _built_normalisation()
    return not (now.get("lst_offset") == built["lst_offset"]
                and now.get("lst_scale") == built["lst_scale"]
                and all(v == built["guide_mean"] for v in now.get("guide_mean") or ())
                and all(v == built["guide_std"] for v in now.get("guide_std") or ()))


def _built_normalisation() -> dict[str, float]:
    from ..nn.base import _LSTModel

    fresh = _LSTModel(2, 1)
    return {"lst_offset": float(fresh.lst_offset), "lst_scale": float(fresh.lst_scale),
            "guide_mean": float(fresh.guide_mean[0]), "guide_std": float(fresh.guide_std[0])}


def check_normalise(value: Any) -> bool | str:
    """``normalise`` as True, False or ``"refit"`` (:data:`REFIT`), else an XlstsrError."""
    if isinstance(value, str):
        if value == REFIT:
            return value
        raise XlstsrError(f"normalise must be True, False or {REFIT!r}, got {value!r} (True: "
                          "fit the normalisation of a model that has none, keep a trained one's; "
                          f"{REFIT!r}: fit it from these patches in any case)")
    return check_bool("normalise", value)


def _normalisation_to_fit(model: torch.nn.Module, normalise: bool | str) -> bool:
    """Whether training fits the model's normalisation (:func:`fit`'s rule for ``normalise``)."""
    if normalise == REFIT:
        return True
    # a fine-tuned model (loaded, or trained before) keeps its normalisation: its weights were
    # trained on inputs scaled by it; refitted, they saw other inputs from the first step on
    # and "the starting weights are kept" returned another model than the one given
    return bool(normalise) and not has_fitted_normalisation(model)


def make_loss(
    mode: str, factor: int, **options: Any
) -> Callable[[torch.nn.Module, dict], torch.Tensor]:
    """``loss(model, batch) -> scalar`` for a training mode (see the module docstring).

    Options: ``"sif"``: ``alpha``, ``gain``, ``sigma``; ``"sisr"``/``"degraded_disr"``/
    ``"supervised"``: ``w_detail``, ``w_spectral``, ``w_consistency``, ``sigma``; all: ``delta``.
    """
    if mode not in MODES:
        raise XlstsrError(f"unknown training mode {mode!r}; choose one of {MODES}")
    factor = check_factor(factor)  # 0 failed inside the loss at the first step
    _check_loss_options(mode, options)

    def loss(model: torch.nn.Module, batch: dict) -> torch.Tensor:
        lst = batch["lst"]
        guide = batch["guide"] if getattr(model, "n_guide", 0) else None
        sr = model(lst, guide)
        coarse = torch.where(batch["lst_valid"], lst, torch.full_like(lst, float("nan")))
        if mode == "sif":
            if batch["guide"] is None:
                raise XlstsrError("mode 'sif' needs a guide")
            return sif_loss(sr, coarse, batch["guide"], factor, **options)
        if batch["target"] is None:
            raise XlstsrError(f"mode {mode!r} needs a target (fine truth)")
        return supervised_loss(sr, batch["target"], coarse, factor, **options)

    return loss


def merge_loss_options(
    fitted: Mapping[str, Any] | None, given: Mapping[str, Any] | None
) -> dict[str, Any]:
    """The loss options a run uses: those a data module fitted (the SIF guide ``gain``), with
    the user's on top (a user-given ``gain`` wins).

    The user's options replaced the fitted ones whole: ``{"alpha": 0.7}`` trained with the
    loss's default gain while the record reported the fitted one.

    Examples
    --------
    >>> merge_loss_options({"gain": -20.0}, {"alpha": 0.7})
    {'gain': -20.0, 'alpha': 0.7}
    >>> merge_loss_options({"gain": -20.0}, {"gain": -5.0})
    {'gain': -5.0}
    """
    for name, opts in (("fitted loss options", fitted), ("loss_options", given)):
        if opts is not None and not isinstance(opts, Mapping):
            raise InputTypeError(f"{name} must be a dict of the loss's options (e.g. "
                                 f"{{'alpha': 0.5}}), got {type(opts).__name__}")
    return {**(fitted or {}), **(given or {})}


def _check_loss_options(mode: str, options: dict[str, Any]) -> None:
    """Refuse loss options the mode's loss does not take (a typo raised the loss function's
    TypeError at the first training step)."""
    import inspect

    fn = sif_loss if mode == "sif" else supervised_loss
    known = sorted(n for n, p in inspect.signature(fn).parameters.items()
                   if p.kind is p.KEYWORD_ONLY)
    unknown = sorted(set(options) - set(known))
    if unknown:
        raise XlstsrError(f"loss option(s) {unknown} are not options of mode {mode!r}'s loss; it "
                          f"takes {known}")
    for name, value in options.items():  # NaN made every loss NaN; "x" failed at step one
        if name == "fidelity" or (value is None and name in ("sigma", "psf_sigma")):
            continue
        value = check_number(f"loss option {name}", value, hint="a finite number, e.g. 1.0")
        # a wrong sign trained a model to maximise a term (w_detail -5: +-1.5e10 K out) and a
        # non-positive delta failed at the first step with torch's bare RuntimeError
        valid = _LOSS_OPTION_RANGES.get(name)
        if valid is not None and not valid[0](value):
            raise XlstsrError(f"loss option {name} {value!r}: {valid[1]}")


# what each loss option means and the values it takes (``gain`` takes either sign)
_LOSS_OPTION_RANGES: dict[str, tuple[Callable[[float], bool], str]] = {
    "w_detail": (lambda v: v >= 0, "a term's weight, >= 0 (0 leaves the term out)"),
    "w_spectral": (lambda v: v >= 0, "a term's weight, >= 0 (0 leaves the term out)"),
    "w_consistency": (lambda v: v >= 0, "a term's weight, >= 0 (0 leaves the term out)"),
    "alpha": (lambda v: 0 <= v <= 1, "the coarse consistency's share of the loss, between 0 "
              "and 1 (the detail term takes 1 - alpha), e.g. 0.5"),
    "delta": (lambda v: v > 0, "the Huber threshold in Kelvin, > 0, e.g. 1.0"),
    "eps": (lambda v: v >= 0, "the log-MSE floor in K^2, >= 0, e.g. 1e-3"),
    "sigma": (lambda v: v > 0, "the high-pass Gaussian's width in fine pixels, > 0 (None: "
              "factor / 2)"),
    "psf_sigma": (lambda v: v >= 0, "the sensor PSF's width in fine pixels, >= 0 (None or 0: "
                  "no PSF)"),
}


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


def _optimiser(
    model: torch.nn.Module, lr: float, epochs: int
) -> tuple[torch.optim.Optimizer, torch.optim.lr_scheduler.LRScheduler]:
    """Adam with a cosine decay to 5 % of ``lr`` over ``epochs``."""
    opt = torch.optim.Adam(model.parameters(), lr=lr)
    sched = torch.optim.lr_scheduler.CosineAnnealingLR(opt, T_max=max(epochs, 1), eta_min=lr * 0.05)
    return opt, sched


class SuperResolutionModule(L.LightningModule):
    """A network of :mod:`xlstsr.nn` with the loss of its training regime, as a LightningModule.

    The module holds the model (``.model``), the loss of ``mode`` (:func:`make_loss`) and the
    optimiser (Adam, cosine decay to 5 % of ``lr`` over ``epochs``); it logs ``train_loss`` and
    ``val_loss`` per epoch. Its hyper-parameters name the architecture and its configuration, so
    ``SuperResolutionModule.load_from_checkpoint(path)`` rebuilds it from a Lightning checkpoint;
    :func:`xlstsr.nn.save_model` (``module.model``) writes the file ``upscale`` reads.

    Parameters
    ----------
    model : nn.Module or str
        An :mod:`xlstsr.nn` architecture, or its name (built with ``config``).
    config : dict, optional
        Constructor arguments when ``model`` is a name (e.g. ``{"factor": 4}``).
    mode : str
        One of :data:`MODES`.
    factor : int, optional
        Upscaling factor (default: the model's).
    loss_options : dict, optional
        Options of the loss (:func:`make_loss`).
    lr : float
        Learning rate of Adam.
    epochs : int
        Length of the cosine decay, in epochs (the Trainer's ``max_epochs``).
    normalise : bool or "refit"
        At setup, set the model's normalisation buffers from the data module's training patches
        (:func:`fit_normalisation`): True (default) for a model whose buffers hold the values it
        was built with, keeping those of a trained or loaded model (fine-tuning:
        :func:`has_fitted_normalisation`); ``"refit"``: in any case; False: never.

    Examples
    --------
    >>> m = SuperResolutionModule("rescnn", config={"factor": 4, "channels": 4, "n_blocks": 1})
    >>> m.hparams["model"], m.factor, type(m.model).__name__
    ('rescnn', 4, 'ResCNN')
    """

    def __init__(
        self,
        model: torch.nn.Module | str,
        *,
        config: dict[str, Any] | None = None,
        mode: str = "sisr",
        factor: int | None = None,
        loss_options: dict[str, Any] | None = None,
        lr: float = 1e-3,
        epochs: int = 50,
        normalise: bool | str = True,
    ) -> None:
        super().__init__()
        if isinstance(model, str):
            from ..nn import ARCHITECTURES, build_model

            if model not in ARCHITECTURES:
                raise XlstsrError(f"unknown architecture {model!r}; known: {sorted(ARCHITECTURES)}")
            try:
                model = build_model(model, **(config or {}))
            except TypeError as err:  # a misspelt constructor argument
                raise XlstsrError(f"bad config for architecture {model!r}: {err}") from err
        if not isinstance(model, torch.nn.Module):
            raise InputTypeError(f"model must be a torch.nn.Module or an architecture name "
                                 f"(e.g. 'rescnn'), got {type(model).__name__}")
        own = getattr(model, "factor", None)
        if own is None and factor is None:
            raise XlstsrError(f"the model ({type(model).__name__}) has no `factor` attribute: pass "
                              "factor= or set `model.factor` (the protocol of "
                              "xlstsr.methods.torch_model)")
        if factor is not None:  # '4' was reported as "factor='4' but the model upscales by 4"
            factor = check_factor(factor)
        if factor is not None and own is not None and int(own) != factor:
            raise GridError(f"factor={factor!r} but the model upscales by {own}: train it with "
                            f"patches of factor {own}, or build a model for factor {factor}")
        self.model = model
        self.factor = int(factor if factor is not None else own)
        check_number("lr", lr, 0, lo_open=True, hint="the Adam learning rate: e.g. 1e-3")
        check_whole("epochs", epochs, hint="the length of the learning-rate schedule: e.g. 50")
        self.mode, self.lr, self.epochs = mode, float(lr), int(epochs)
        self.normalise = check_normalise(normalise)
        # the user's own options, kept apart from those a data module fitted: merged into
        # loss_options at each setup, a first data module's gain counted as user-given on the next
        self._given_loss_options = merge_loss_options(None, loss_options)
        self.loss_options = dict(self._given_loss_options)
        self.loss_fn = make_loss(mode, self.factor, **self.loss_options)
        # the guide band names (model.metadata["inputs"]) travel in the hyper-parameters: a
        # model rebuilt from a Lightning checkpoint lost them ('guide0', 'guide1') and upscale
        # then took the bands in any order
        self.save_hyperparameters({
            "model": getattr(model, "arch", type(model).__name__),
            "config": dict(getattr(model, "config", {})),
            "mode": mode, "factor": self.factor, "loss_options": dict(self._given_loss_options),
            "lr": self.lr, "epochs": self.epochs, "normalise": self.normalise,
            "inputs": _model_inputs(model),
        })

    def setup(self, stage: str) -> None:
        """Before training: normalisation from the data module's training patches (and the SIF
        guide gain a :class:`~xlstsr.train.CubeDataModule` fitted), so a plain
        ``Trainer().fit(module, datamodule=...)`` trains as :func:`fit` does."""
        data = getattr(self.trainer, "datamodule", None) if self._trainer is not None else None
        if stage != "fit" or data is None:
            return
        train = getattr(data, "train_set", None)
        if train is not None:  # an x2 model or a guided one on these patches failed in torch
            _check_model_fits_patches(self.model, train, self.mode)
        if train is not None and _normalisation_to_fit(self.model, self.normalise):
            # an empty guide band refused in the data module's own terms (fit_cube's seed=,
            # val_fraction=, window positions; fit's split_by_scene) before the generic check
            _require_guide_bands(train, self.model, data)
            fit_normalisation(self.model, train)
        elif train is not None and self.normalise:  # True, on a model fitted already
            log.info("the model's normalisation (lst_offset %.2f K, lst_scale %.2f K) is kept "
                     "(fine-tuning); normalise=%r fits it from these patches",
                     self.model.normalisation()["lst_offset"],
                     self.model.normalisation()["lst_scale"], REFIT)
        # this data module's fitted gain under the user's own options (they replaced it whole);
        # what the loss runs with is recorded in loss_options and the hyper-parameters
        merged = merge_loss_options(getattr(data, "loss_options", None), self._given_loss_options)
        if merged != self.loss_options:
            self.loss_options = merged
            self.loss_fn = make_loss(self.mode, self.factor, **self.loss_options)
        self.hparams["loss_options"] = dict(self.loss_options)

    def on_save_checkpoint(self, checkpoint: dict[str, Any]) -> None:
        """The model's guide band names as they are now (set after the module was built too),
        and where its guide lay in training (``metadata["guide_offset"]``, :func:`fit_cube`'s
        record): a model saved from the checkpoint lost it, and with it the placement it must
        be run with (``guide_offset='ignore'`` after an 'ignore' training). The data module's
        record as it is now: a resume set up again on the guide as stored after fit_cube set
        the model's entry (its checkpoints said 'moved' for a run on the unmoved guide)."""
        live = _model_inputs(self.model)
        hparams = checkpoint.get("hyper_parameters")
        if live is not None and isinstance(hparams, dict):
            hparams["inputs"] = live
        meta = getattr(self.model, "metadata", None) or {}
        offset = meta.get("guide_offset")
        trainer = self._trainer  # the property raises outside a Trainer (a manual save)
        record = getattr(getattr(trainer, "datamodule", None), "guide_offset_record", None)
        if isinstance(offset, dict) and isinstance(record, dict) and record != offset:
            offset = copy.deepcopy(record)
            self.model.metadata = {**dict(meta), "guide_offset": copy.deepcopy(record)}
        if isinstance(offset, dict) and isinstance(hparams, dict):
            hparams["guide_offset"] = copy.deepcopy(offset)

    def on_load_checkpoint(self, checkpoint: dict[str, Any]) -> None:
        """Give the network the guide band names of the checkpoint (older ones have none) and
        its guide placement unless it has its own (a resumed run's model)."""
        hparams = checkpoint.get("hyper_parameters") or {}
        saved = hparams.get("inputs")
        if _valid_inputs(saved) and _model_inputs(self.model) is None:
            meta = dict(getattr(self.model, "metadata", None) or {})
            self.model.metadata = {**meta, "inputs": list(saved)}
            self.hparams["inputs"] = list(saved)
        offset = hparams.get("guide_offset")
        meta = dict(getattr(self.model, "metadata", None) or {})
        if isinstance(offset, dict) and meta.get("guide_offset") is None:
            self.model.metadata = {**meta, "guide_offset": copy.deepcopy(offset)}

    @classmethod
    def load_from_checkpoint(  # type: ignore[override]
        cls, checkpoint_path: str | os.PathLike, map_location: Any = None, **kwargs: Any
    ) -> SuperResolutionModule:
        """The module of a Lightning checkpoint (``.ckpt``), or of an xlstsr model file (``.pt``).

        A Lightning checkpoint goes to ``LightningModule.load_from_checkpoint`` (``kwargs``:
        its ``hparams_file``, ``strict``... and hyper-parameters to override). A model file
        written by :func:`xlstsr.nn.save_model` (``xlstsr train --out``) becomes a module around
        :func:`xlstsr.nn.load_model`'s network, with the training mode and loss options the file
        records (``kwargs`` override them, e.g. ``lr=1e-4``): Lightning raised a raw
        ``KeyError: 'pytorch-lightning_version'`` on it. A missing, empty or damaged file, or
        the checkpoint of another LightningModule, raise an XlstsrError naming the file.

        Examples
        --------
        >>> import tempfile
        >>> from xlstsr.nn import ResCNN, save_model
        >>> p = save_model(ResCNN(4, channels=4, n_blocks=1), tempfile.mkdtemp() + "/m.pt")
        >>> m = SuperResolutionModule.load_from_checkpoint(p)
        >>> type(m.model).__name__, m.mode, m.factor
        ('ResCNN', 'sisr', 4)
        """
        blob = _read_training_file(checkpoint_path, "load")
        checkpoint_path = os.path.expanduser(checkpoint_path)
        if isinstance(blob, dict) and blob.get("format") == "xlstsr-checkpoint":
            from ..nn import load_model

            model = load_model(checkpoint_path, device=map_location or "cpu").train()
            meta = model.metadata
            mode = next((m for m in (meta.get("mode"), meta.get("loss")) if m in MODES), "sisr")
            given = meta.get("loss_options")
            options = {"mode": mode, "loss_options": given if isinstance(given, dict) and given
                       else None, **kwargs}
            return cls(model, **options)
        _require_own_module(blob, checkpoint_path)
        try:
            return L.LightningModule.load_from_checkpoint.__func__(  # type: ignore[attr-defined]
                cls, checkpoint_path, map_location=map_location, **kwargs)
        except (RuntimeError, AssertionError) as err:  # a device torch lacks ("cuda" here)
            if map_location is None or "device" not in str(err).lower():
                raise
            from ..errors import DeviceError

            raise DeviceError(f"cannot load {os.fspath(checkpoint_path)!r} onto {map_location!r} "
                              f"here ({str(err)[:120]}); use map_location='cpu', or a device "
                              "torch sees (torch.cuda.is_available())") from err

    def forward(self, lst: torch.Tensor, guide: torch.Tensor | None = None) -> torch.Tensor:
        return self.model(lst, guide)

    def training_step(self, batch: dict, batch_idx: int) -> torch.Tensor:
        loss = self.loss_fn(self.model, batch)
        self.log("train_loss", loss, on_step=False, on_epoch=True, batch_size=len(batch["lst"]),
                 sync_dist=True)
        return loss

    def validation_step(self, batch: dict, batch_idx: int) -> None:
        loss = self.loss_fn(self.model, batch)
        self.log("val_loss", loss, on_step=False, on_epoch=True, batch_size=len(batch["lst"]),
                 sync_dist=True)

    def predict_step(self, batch: dict, batch_idx: int) -> torch.Tensor:
        guide = batch.get("guide") if getattr(self.model, "n_guide", 0) else None
        return self.model(batch["lst"], guide)

    def configure_optimizers(self) -> dict[str, Any]:
        opt, sched = _optimiser(self.model, self.lr, self.epochs)
        return {"optimizer": opt, "lr_scheduler": sched}


def _valid_inputs(inputs: Any) -> bool:
    """Whether ``inputs`` is a list of input names starting with ``"lst"``."""
    return (isinstance(inputs, (list, tuple)) and len(inputs) >= 1 and inputs[0] == "lst"
            and all(isinstance(v, str) for v in inputs))


def _model_inputs(model: torch.nn.Module) -> list[str] | None:
    """``model.metadata["inputs"]`` (``["lst", *guide band names]``), or None."""
    inputs = (getattr(model, "metadata", None) or {}).get("inputs")
    return list(inputs) if _valid_inputs(inputs) else None


class _Indices(torch.utils.data.Dataset):
    """0..n-1: the batch sampler picks patch indices, the collate function gathers them."""

    def __init__(self, n: int) -> None:
        self.n = n

    def __len__(self) -> int:
        return self.n

    def __getitem__(self, i: int) -> int:
        return i


class _SeededOrder(torch.utils.data.Sampler):
    """A seeded permutation of 0..n-1 per epoch, drawn whole when the epoch starts.

    A plain sampler under the DataLoader's own ``BatchSampler``, so Lightning can put its
    distributed sampler in its place on several devices.
    """

    def __init__(self, n: int, gen: torch.Generator) -> None:
        self.n, self.gen = n, gen

    def __len__(self) -> int:
        return self.n

    def __iter__(self):
        return iter(torch.randperm(self.n, generator=self.gen).tolist())


class _Collate:
    """Gather patches into a batch dict, then augment (flips, rot90) and add input noise."""

    def __init__(
        self, patches: PatchSet, gen: torch.Generator | None, augmentation: bool, noise: float
    ) -> None:
        self.patches, self.gen, self.augmentation, self.noise = patches, gen, augmentation, noise

    def __call__(self, idx: list[int]) -> dict:
        batch = self.patches.batch(torch.as_tensor(idx, dtype=torch.long))
        if self.gen is not None and self.augmentation:
            batch = augment(batch, self.gen)
        if self.gen is not None and self.noise:
            batch = add_input_noise(batch, self.noise, self.gen)
        return batch


#: Trainer options that shape each training step, compared on a resume (as devices and
#: precision are) where both runs recorded them
_SHAPING = ("accumulate_grad_batches", "limit_train_batches", "gradient_clip_val",
            "gradient_clip_algorithm")


def _shaping_of(trainer: Any) -> dict[str, Any]:
    """The :data:`_SHAPING` options ``trainer`` runs with, as plain values (a clipping
    algorithm left unset is Lightning's 'norm'; none where nothing is clipped)."""
    limit = trainer.limit_train_batches
    clip = trainer.gradient_clip_val
    algorithm = getattr(trainer.gradient_clip_algorithm, "value", trainer.gradient_clip_algorithm)
    return {"accumulate_grad_batches": int(trainer.accumulate_grad_batches),
            "limit_train_batches": float(limit) if isinstance(limit, float) else int(limit),
            "gradient_clip_val": None if clip is None else float(clip),
            "gradient_clip_algorithm": None if clip is None else str(algorithm or "norm")}


def _differs(a: Any, b: Any) -> bool:
    """Whether two recorded settings differ; an int and a float of one value do
    (limit_train_batches 1 takes one batch, 1.0 all of them).

    Examples
    --------
    >>> _differs(1, 1.0), _differs(2, 2), _differs(None, 1)
    (True, False, True)
    """
    return a != b or (isinstance(a, (int, float)) and isinstance(b, (int, float))
                      and not isinstance(a, bool) and type(a) is not type(b))


class PatchDataModule(L.LightningDataModule):
    """Training and validation patches (:class:`~xlstsr.train.PatchSet`) as a LightningDataModule.

    Training batches are drawn in a seeded random order and augmented (rot90 and flips, the same
    for every tensor of a batch; optional Gaussian noise on the coarse input) from one generator
    whose state travels with Lightning checkpoints, so a resumed run continues the same sequence.
    Validation batches are in order and left as they are.

    Parameters
    ----------
    train, val : PatchSet
        Training patches; validation patches (optional; split by position or scene).
    batch_size : int
    seed : int
        Seed of the batch order and the augmentation.
    augmentation : bool
        Random rot90 and horizontal flips (:func:`augment`).
    input_noise : float
        Standard deviation (K) of noise added to the training inputs (:func:`add_input_noise`).

    Warns
    -----
    UserWarning
        When ``val`` is ``train``, when validation patches are training patches (the same
        values), or when they share scene ids with the training ones (named scenes:
        make_patches' ``scene_ids``), naming them: early stopping and the best weights would
        be chosen on the data trained on.

    Examples
    --------
    >>> import numpy as np
    >>> from xlstsr.train import degraded_pairs, make_patches
    >>> lst = 300 + np.random.default_rng(0).normal(0, 2, (2, 32, 32)).astype("float32")
    >>> dm = PatchDataModule(make_patches(**degraded_pairs(lst, 4), factor=4, patch=16), batch_size=4)
    >>> batch = next(iter(dm.train_dataloader()))
    >>> tuple(batch["lst"].shape), tuple(batch["target"].shape)
    ((4, 1, 4, 4), (4, 1, 16, 16))
    """

    def __init__(
        self,
        train: PatchSet | None = None,
        val: PatchSet | None = None,
        *,
        batch_size: int = 16,
        seed: int = 0,
        augmentation: bool = True,
        input_noise: float = 0.0,
    ) -> None:
        super().__init__()
        # numpy patches, batch_size 0 and augmentation "no" were kept and failed (or were
        # truthy) only inside the Trainer
        for role, ps in (("train", train), ("val", val)):
            if ps is not None and not isinstance(ps, PatchSet):
                raise InputTypeError(
                    f"{role} must be a PatchSet (or None), got {type(ps).__name__}: cut arrays "
                    "into patches first (`xlstsr.train.make_patches(**degraded_pairs(lst, 4), "
                    "factor=4, patch=64)`), or start from a cube with xlstsr.train.CubeDataModule"
                )
        if train is not None and val is not None and len(val) and val.factor != train.factor:
            raise GridError(f"val patches were cut with factor {val.factor}, train with "
                            f"{train.factor}: cut both with the factor the model upscales by")
        _check_val_apart(train, val)
        self.train_set, self.val_set = train, val
        self.batch_size = check_whole("batch_size", batch_size, hint="patches per step: e.g. 16")
        self.seed = check_seed(seed)
        self.augmentation = check_bool("augmentation", augmentation)
        self.input_noise = check_number("input_noise", input_noise, 0,
                                        hint="a noise sigma in K, e.g. 0.1, or 0")
        self.gen = torch.Generator().manual_seed(self.seed)

    def _require_train(self) -> PatchSet:
        if self.train_set is None:
            raise XlstsrError(f"{type(self).__name__} has no training patches: call "
                              "`setup('fit')` first (a Trainer does), or pass train= patches")
        return self.train_set

    def train_dataloader(self) -> torch.utils.data.DataLoader:
        train = self._require_train()
        return torch.utils.data.DataLoader(
            _Indices(len(train)),
            batch_size=self.batch_size,
            sampler=_SeededOrder(len(train), self.gen),
            collate_fn=_Collate(train, self.gen, self.augmentation, self.input_noise),
        )

    def val_dataloader(self) -> torch.utils.data.DataLoader | list:
        if self.val_set is None or not len(self.val_set):
            return []
        return torch.utils.data.DataLoader(
            _Indices(len(self.val_set)),
            batch_size=self.batch_size,
            shuffle=False,
            collate_fn=_Collate(self.val_set, None, False, 0.0),
        )

    def _batching(self) -> dict[str, Any]:
        out = {"seed": self.seed, "batch_size": self.batch_size,
               "augmentation": self.augmentation, "input_noise": self.input_noise}
        trainer = getattr(self, "trainer", None)
        if trainer is not None:
            # each step trains on batch_size patches per device (the step's batch is devices x
            # batch_size), in the Trainer's precision: a resume on other ones went on without
            # a word, and the model file recorded the resumed run's for the whole run
            out.update(devices=int(trainer.world_size), precision=str(trainer.precision))
            # the Trainer options that shape each step (accumulated batches, the share of the
            # batches an epoch takes, clipping): likewise, and the file recorded the resumed
            # run's accumulate_grad_batches / limit_train_batches for the whole run
            out.update(_shaping_of(trainer))
        return out

    def _patches_record(self) -> dict[str, Any] | None:
        """What the module trains and validates on: patch counts, factor, shapes and a digest of
        the tensors; None before the training patches exist. Computed once per patch set."""
        if self.train_set is None:
            return None
        key = (self.train_set, self.val_set)
        cached = getattr(self, "_patches_cache", None)
        if cached is not None and cached[0][0] is key[0] and cached[0][1] is key[1]:
            return cached[1]
        record = {"n_train": len(self.train_set),
                  "n_val": 0 if self.val_set is None else len(self.val_set),
                  "factor": int(self.train_set.factor),
                  "shapes": _patch_shapes(self.train_set),
                  "lst_mean": _mean_kelvin(self.train_set),
                  "data": _patch_digest(self.train_set, self.val_set)}
        self._patches_cache = (key, record)
        return record

    def state_dict(self) -> dict[str, Any]:
        return {"generator": self.gen.get_state(), "batching": self._batching(),
                "patches": self._patches_record()}

    def load_state_dict(self, state_dict: dict[str, Any]) -> None:
        # another seed was ignored (the checkpoint's generator went on: seed 4 gave seed 3's
        # weights bit for bit) and another batch size or augmentation gave neither run's model
        before, now = state_dict.get("batching"), self._batching()
        # devices and precision are compared where both runs recorded them (checkpoints from
        # before they were, and a module outside a Trainer, do not: unknown, not compared)
        diff = {} if before is None else {
            k: (before.get(k), now[k]) for k in now
            if (k in before or k not in ("devices", "precision", *_SHAPING))
            and (before.get(k) != now[k] if k != "limit_train_batches"
                 else _differs(before.get(k), now[k]))}
        if diff:
            hardware = []
            if "devices" in diff:
                hardware.append(f"the same number of devices ({diff['devices'][0]}: each step's "
                                "batch is devices x batch_size; --devices, "
                                "trainer_options['devices'])")
            if "precision" in diff:
                hardware.append(f"the same precision ({diff['precision'][0]!r}: --precision, "
                                "trainer_options['precision'])")
            shaped = [k for k in _SHAPING if k in diff]
            if shaped:
                hardware.append("the same " + ", ".join(f"trainer_options[{k!r}]"
                                                        for k in shaped))
            raise XlstsrError(
                "the checkpoint was trained with other batch settings ("
                + ", ".join(f"{k} {a!r}, now {b!r}" for k, (a, b) in diff.items())
                + "): resume with the settings of the first run"
                + (", on " + " and ".join(hardware) if hardware else "")
                + ", or start a new training without the checkpoint."
            )
        # other patches resumed silently: the model kept the first run's normalisation and
        # best-so-far state while it trained on data of another temperature range
        before, now = state_dict.get("patches"), self._patches_record()
        if before is not None and now is not None and before != now:
            diff = sorted(k for k in set(before) | set(now) if before.get(k) != now.get(k))
            shown = [f"{k} {before.get(k)!r}, now {now.get(k)!r}" for k in diff if k != "data"]
            raise XlstsrError(
                "the checkpoint was trained on other patches (they differ in "
                + (", ".join(shown) if shown else "their values") + "): resume with the "
                "training and validation patches of the first run, or start a new training "
                "without the checkpoint."
            )
        self.gen.set_state(state_dict["generator"])


def _patch_keys(patches: PatchSet) -> list[bytes]:
    """A digest of each patch's values (shapes, coarse input and target): the same patch in two
    sets has the same key wherever it sits in them."""
    # as bytes: any dtype (bfloat16 has no numpy one)
    parts = [t.detach().cpu().contiguous().reshape(len(patches), -1).view(torch.uint8).numpy()
             for t in (patches.lst, patches.target) if t is not None]
    head = repr([(t.dtype, t.shape[1:]) for t in (patches.lst, patches.target)
                 if t is not None]).encode()
    return [hashlib.blake2b(head + b"".join(p[i].tobytes() for p in parts),
                            digest_size=16).digest() for i in range(len(patches))]


def _scene_keys(scene: np.ndarray) -> set:
    """The distinct scene ids of ``scene`` as Python values (dates as text, in one unit: a date
    in any unit is the same scene)."""
    scene = np.asarray(scene)
    if scene.dtype.kind == "M":
        scene = scene.astype("datetime64[ns]")
    try:
        scene = np.unique(scene)
    except TypeError:  # ids of mixed types do not sort: every one is visited
        scene = scene.ravel()
    return {_shown(v) for v in scene}


def _check_val_apart(train: PatchSet | None, val: PatchSet | None) -> None:
    """Warn when validation patches are (some of) the training patches, or when the sets share
    named scenes. Validated on the data it trains on, early stopping and the
    best weights reward memory (a random split by patch shares every scene): the validation
    loss says nothing of unseen ground."""
    if train is None or val is None or not len(val) or not len(train):
        return
    split = ("split the patches apart first: split_by_scene(patches) (whole scenes) or "
             "split_by_position(patches, split) (window positions)")
    in_train = len(val) if val is train else 0
    if val is not train:
        keys = set(_patch_keys(train))
        in_train = sum(k in keys for k in _patch_keys(val))
    said = []
    if in_train == len(val):
        # warned, not refused: fitting on a batch and validating on it is how one checks that
        # a model can learn at all; it must not pass for a score of unseen ground
        said.append("val is the training PatchSet" if val is train else
                    f"every one of the {len(val)} validation patches is a training patch (the "
                    "same values)")
    elif in_train:
        said.append(f"{in_train} of the {len(val)} validation patches are training patches "
                    "(the same values)")
    # ids that are images' positions in a stack (make_patches without scene_ids) name no
    # place: 0 of one stack and 0 of another are different images
    if in_train < len(val) and not (train.scenes_by_position or val.scenes_by_position):
        shared = sorted(_scene_keys(train.scene) & _scene_keys(val.scene), key=str)
        if shared:
            shown = shared if len(shared) <= 8 else [*shared[:6], f"... {len(shared)} in all"]
            said.append(f"the validation patches share scene(s) {shown} with the training "
                        "patches (a split by patch, not by scene?)")
    if said:
        warn("; ".join(said) + ": early stopping and the best weights are then chosen on "
             f"ground the model trains on. To score unseen ground, {split}; if the shared ids "
             "are different places, give make_patches distinct scene_ids; to train without "
             "validation, pass val=None", UserWarning)


def _patch_shapes(patches: PatchSet) -> dict[str, list[int] | None]:
    """The shape of each tensor of a patch set (None where it has none)."""
    return {name: None if t is None else list(t.shape)
            for name, t in (("lst", patches.lst), ("guide", patches.guide),
                            ("target", patches.target))}


def _mean_kelvin(patches: PatchSet) -> float | None:
    """The mean coarse LST of the patches (K, to 1 mK; None without a finite value)."""
    mean = float(torch.nanmean(patches.lst.double()))
    return None if math.isnan(mean) else round(mean, 3)


def _patch_digest(*sets: PatchSet | None) -> str:
    """A digest of the patches' tensors and scene ids (a fixed cost, small beside training)."""
    import hashlib

    h = hashlib.sha256()
    for ps in sets:
        if ps is None:
            h.update(b"|none")
            continue
        for t in (ps.lst, ps.lst_valid, ps.guide, ps.target):
            h.update(b"|-" if t is None else b"|")
            if t is not None:  # hashed in place: no copy of a large patch set
                h.update(np.ascontiguousarray(t.detach().cpu().numpy()).view(np.uint8))
        h.update("|".join(map(str, np.asarray(ps.scene).tolist())).encode())
    return h.hexdigest()[:32]


class BestWeights(Callback):
    """Early stopping on the validation loss, the best weights kept, the history per epoch.

    After each training epoch the epoch's losses and seconds are recorded (``val_loss``: the
    epoch's last validation). Each validation whose ``val_loss`` improves on the best by more
    than 1e-6 copies the weights it scored, at once (with ``val_check_interval`` it runs before
    the epoch's last batches, which a copy at the epoch's end took in); training stops after
    ``patience`` validated epochs without improvement (0: never; the decision is shared by every
    process of a multi-device run). A run without validation (``validated=False``) ranks epochs
    by the training loss at their end instead; epochs between validations record a NaN
    ``val_loss``. Its state travels with Lightning checkpoints: a run resumed from a checkpoint
    written at the end of an epoch continues exactly, and one that had stopped early stops at
    once.

    With validation, the starting weights are scored once on the validation patches before the
    first epoch (``start``; an untrained network of :mod:`xlstsr.nn` is bicubic), and kept
    (``start_state``) so that a run none of whose epochs beats them (a diverged training) can
    return them rather than a model worse than where it started.
    """

    def __init__(self, patience: int = 10, validated: bool = True) -> None:
        self.patience = check_whole("patience", patience, 0,
                                    hint="epochs without improvement; 0: no early stopping")
        self.validated = check_bool("validated", validated)
        self.hist: dict[str, list] = {"train_loss": [], "val_loss": [], "epoch_seconds": []}
        self.best, self.best_state, self.bad, self._t0 = math.inf, None, 0, 0.0
        self._val: float | None = None
        self._improved = False  # a validation of this epoch improved on the best
        # the validation loss of the starting weights, and those weights
        self.start: float | None = None
        self.start_state: dict[str, torch.Tensor] | None = None
        self.stopped = False  # early stopping decided: a resumed run stops at once

    def on_train_start(self, trainer: L.Trainer, pl_module: L.LightningModule) -> None:
        if self.stopped:  # a checkpoint of a run that had stopped early: it trains no more
            log.warning("the resumed run had already stopped early (no validation gain for "
                        "%d epoch(s)): no epoch is trained; its best weights are returned",
                        self.bad)
            trainer.should_stop = True
            return
        if self.validated and self.start is None:
            self.start = self._score(trainer, pl_module)
            if self.start is not None:
                self.start_state = {k: v.detach().cpu().clone()
                                    for k, v in pl_module.model.state_dict().items()}

    @staticmethod
    def _score(trainer: L.Trainer, pl_module: L.LightningModule) -> float | None:
        """The validation loss of the weights as they are (one pass over the validation
        batches Lightning validates on, as Lightning averages them); None without them."""
        data = getattr(trainer, "datamodule", None)
        loss_fn = getattr(pl_module, "loss_fn", None)
        if data is None or loss_fn is None or not hasattr(data, "val_dataloader"):
            return None
        loader = data.val_dataloader()
        if not isinstance(loader, torch.utils.data.DataLoader) or not len(loader):
            return None
        limit = trainer.limit_val_batches
        n_batches = (int(limit) if isinstance(limit, int)
                     else max(1, int(len(loader) * float(limit))))
        was_training = pl_module.training
        pl_module.eval()
        total, count = 0.0, 0
        try:
            with torch.no_grad(), trainer.precision_plugin.val_step_context():
                for i, batch in enumerate(loader):
                    if i >= n_batches:
                        break
                    batch = pl_module.transfer_batch_to_device(batch, pl_module.device, 0)
                    batch = trainer.precision_plugin.convert_input(batch)
                    n = len(batch["lst"])
                    total += float(loss_fn(pl_module.model, batch)) * n
                    count += n
        finally:
            pl_module.train(was_training)
        return total / count if count else None

    def on_train_epoch_start(self, trainer: L.Trainer, pl_module: L.LightningModule) -> None:
        self._t0, self._val, self._improved = time.perf_counter(), None, False

    def _keep(self, score: float, pl_module: L.LightningModule) -> bool:
        """Copy the weights if ``score`` improves on the best; whether it did."""
        if not score < self.best - 1e-6:
            return False
        self.best = score
        self.best_state = {k: v.detach().cpu().clone()
                           for k, v in pl_module.model.state_dict().items()}
        return True

    def on_validation_epoch_end(self, trainer: L.Trainer, pl_module: L.LightningModule) -> None:
        if trainer.sanity_checking or "val_loss" not in trainer.callback_metrics:
            return
        self._val = float(trainer.callback_metrics["val_loss"])
        # the weights this validation scored, now: with val_check_interval the epoch trains on
        # after it, and a copy at the epoch's end returned weights never validated
        if self.validated and not math.isnan(self._val) and self._keep(self._val, pl_module):
            self._improved = True

    def on_train_epoch_end(self, trainer: L.Trainer, pl_module: L.LightningModule) -> None:
        tl = float(trainer.callback_metrics.get("train_loss", float("nan")))
        vl = self._val if self._val is not None else float("nan")
        self.hist["train_loss"].append(tl)
        # NaN without validation, as documented (the training loss there read as a perfect
        # train/validation match)
        self.hist["val_loss"].append(vl if self.validated else float("nan"))
        self.hist["epoch_seconds"].append(time.perf_counter() - self._t0)
        score = vl if self.validated else tl
        if math.isnan(score):  # no validation this epoch: nothing to rank
            return
        stop = False
        improved = self._improved if self.validated else self._keep(score, pl_module)
        if improved:
            self.bad = 0
        else:
            self.bad += 1
            stop = bool(self.patience and self.bad >= self.patience)
        if trainer.world_size > 1:
            stop = trainer.strategy.reduce_boolean_decision(stop, all=False)
        self.stopped = bool(stop)
        trainer.should_stop = trainer.should_stop or stop

    def beats_start(self) -> bool:
        """Whether the best epoch improves on the starting weights (True when they were not
        scored: no validation)."""
        return self.start is None or math.isnan(self.start) or self.best < self.start - 1e-6

    def state_dict(self) -> dict[str, Any]:
        return {"hist": copy.deepcopy(self.hist), "best": self.best, "bad": self.bad,
                "best_state": self.best_state, "improved": self._improved,
                "start": self.start, "start_state": self.start_state, "stopped": self.stopped}

    def load_state_dict(self, state_dict: dict[str, Any]) -> None:
        self.hist = copy.deepcopy(state_dict["hist"])
        self.best, self.bad = state_dict["best"], state_dict["bad"]
        self.best_state = state_dict["best_state"]
        self._improved = bool(state_dict.get("improved", False))
        # checkpoints written before these were kept: the start unscored, the stop unknown
        self.start = state_dict.get("start")
        self.start_state = state_dict.get("start_state")
        self.stopped = bool(state_dict.get("stopped", False))


def make_logger(logger: Any, save_dir: str | os.PathLike | None = None) -> Any:
    """A Lightning logger from a name: ``"csv"`` (``metrics.csv``), ``"tensorboard"``, or as given.

    ``None`` / ``False``: no logger. ``save_dir`` defaults to ``xlstsr_logs``. TensorBoard needs
    ``tensorboard`` or ``tensorboardX`` installed (``pip install tensorboardX``).

    Examples
    --------
    >>> import tempfile
    >>> type(make_logger("csv", tempfile.mkdtemp())).__name__
    'CSVLogger'
    """
    if logger is None or logger is False:
        return False
    from lightning.pytorch import loggers

    if not isinstance(logger, str):
        many = logger if isinstance(logger, (list, tuple)) else [logger]
        if logger is not True and not all(isinstance(x, loggers.Logger) for x in many):
            # 42 reached the Trainer, which failed on it
            raise InputTypeError(f"logger must be 'csv', 'tensorboard', a Lightning Logger (or a "
                                 f"list of them) or None, got {logger!r}")
        return logger

    save_dir = os.fspath(save_dir) if save_dir is not None else "xlstsr_logs"
    kind = logger.lower()
    if kind == "csv":
        return loggers.CSVLogger(save_dir, name="xlstsr")
    if kind == "tensorboard":
        try:
            return loggers.TensorBoardLogger(save_dir, name="xlstsr")
        except ModuleNotFoundError as err:
            raise ModuleNotFoundError(
                "logger='tensorboard' needs tensorboard or tensorboardX: `pip install tensorboardX`"
                " (or use logger='csv')"
            ) from err
    raise XlstsrError(f"unknown logger {logger!r}: use 'csv', 'tensorboard' or a Lightning Logger")


@contextlib.contextmanager
def _process_state_restored():
    """Put back, on the way out, the process-wide state a Lightning run changes: torch's
    deterministic-algorithms mode (and warn_only), cudnn.benchmark, CUBLAS_WORKSPACE_CONFIG and
    Lightning's seed variables in os.environ, and the random, numpy and torch (CPU, and CUDA
    once initialised) generators that ``seed_everything`` reseeds. Left on after fit, the
    deterministic mode filled every later ``torch.empty`` with NaN and, on a GPU, made ops
    without a deterministic kernel raise in the user's own code."""
    import random

    det = torch.are_deterministic_algorithms_enabled()
    warn_only = torch.is_deterministic_algorithms_warn_only_enabled()
    benchmark = torch.backends.cudnn.benchmark
    env = {k: os.environ.get(k)
           for k in ("CUBLAS_WORKSPACE_CONFIG", "PL_GLOBAL_SEED", "PL_SEED_WORKERS")}
    # the legacy global generator is the one seed_everything reseeds
    np_rng = np.random.get_state()  # noqa: NPY002
    py_rng, torch_rng = random.getstate(), torch.get_rng_state()
    cuda_rng = torch.cuda.get_rng_state_all() if torch.cuda.is_initialized() else None
    try:
        yield
    finally:
        torch.use_deterministic_algorithms(det, warn_only=warn_only)
        torch.backends.cudnn.benchmark = benchmark
        for k, v in env.items():
            if v is None:
                os.environ.pop(k, None)
            else:
                os.environ[k] = v
        random.setstate(py_rng)
        np.random.set_state(np_rng)  # noqa: NPY002
        torch.set_rng_state(torch_rng)
        if cuda_rng is not None:
            torch.cuda.set_rng_state_all(cuda_rng)


@contextlib.contextmanager
def _quiet(progress: bool):
    """Lightning's device banner and data-loader hints off unless progress output is wanted."""
    if progress:
        yield
        return
    names = ("lightning.pytorch", "lightning.fabric", "lightning")
    levels = {n: logging.getLogger(n).level for n in names}
    for n in names:
        logging.getLogger(n).setLevel(logging.WARNING)
    try:
        with warnings.catch_warnings():
            # single-process CPU training on in-memory tensors: workers and sampler hints do not apply
            warnings.filterwarnings("ignore", message=".*does not have many workers.*")
            warnings.filterwarnings("ignore", message=".*Checkpoint directory .* exists.*")
            warnings.filterwarnings("ignore", message=".*log_every_n_steps.*")
            warnings.filterwarnings("ignore", message=".*LeafSpec.*")
            yield
    finally:
        for n, level in levels.items():
            logging.getLogger(n).setLevel(level)


def _read_training_file(ckpt_path: Any, verb: str) -> Any:
    """The contents of a checkpoint file (weights only), or an XlstsrError naming a missing,
    empty, damaged or folder path (Lightning raised fsspec's and torch's raw errors)."""
    if not isinstance(ckpt_path, (str, os.PathLike)):
        raise InputTypeError(f"the checkpoint must be a file path, got {type(ckpt_path).__name__}")
    ckpt_path = os.path.expanduser(ckpt_path)
    where = repr(os.fspath(ckpt_path))
    if os.path.isdir(ckpt_path):
        raise XlstsrError(f"checkpoint {where} is a folder: pass the Lightning checkpoint file in "
                          "it (e.g. 'last.ckpt' written by a ModelCheckpoint)")
    check_entries(ckpt_path)  # a weight damaged on disk loads silently otherwise
    try:
        return torch.load(ckpt_path, map_location="cpu", weights_only=True)
    except FileNotFoundError:
        raise InputNotFoundError(f"no checkpoint to {verb} at {where}: check the path") from None
    except Exception as err:  # empty, truncated, not a torch file
        raise XlstsrError(f"cannot read the checkpoint {where} to {verb} ({type(err).__name__}"
                          f": {str(err)[:120] or 'empty file'}): it is damaged or not a "
                          "checkpoint; use an earlier one") from err


def _require_own_module(blob: Any, ckpt_path: Any) -> None:
    """Refuse the Lightning checkpoint of another LightningModule (its hyper-parameters do not
    name an xlstsr architecture): it failed later on a missing `model` argument or with torch's
    state_dict key lists."""
    if not (isinstance(blob, dict) and "pytorch-lightning_version" in blob):
        raise XlstsrError(
            f"{os.fspath(ckpt_path)!r} is neither a Lightning checkpoint (.ckpt) nor an xlstsr "
            "model file (a bare state_dict or another torch file?): a network's weights load "
            "into their architecture (`m = xlstsr.nn.ResCNN(4); m.load_state_dict(torch.load("
            "path))`), then `SuperResolutionModule(m)`"
        )
    saved = blob.get("hyper_parameters")
    if not (isinstance(saved, dict) and {"model", "config", "mode"} <= set(saved)):
        keys = sorted(saved) if isinstance(saved, dict) else []
        raise XlstsrError(
            f"{os.fspath(ckpt_path)!r} is the Lightning checkpoint of another LightningModule "
            f"(its hyper-parameters {keys} name no xlstsr architecture): load it with the class "
            "that wrote it; SuperResolutionModule reads its own checkpoints and xlstsr model "
            "files (xlstsr.nn.save_model)"
        )


#: Lightning's ``ckpt_path`` keywords (not paths): ``"last"`` is resolved by :func:`fit`
_CKPT_KEYWORDS = ("last", "best", "hpc", "registry")


def _lightning_keyword_checkpoint(ckpt_path: Any, callbacks: list[Any],
                                 trainer_options: Mapping[str, Any] | None = None) -> Any:
    """``ckpt_path`` with Lightning's keyword ``"last"`` resolved as Lightning resolves it: the
    newest of the ModelCheckpoints' last checkpoints (each callback's own
    ``CHECKPOINT_NAME_LAST`` and ``FILE_EXTENSION``: ``last.ckpt``, ``last-v1.ckpt``) in their
    folders (``dirpath``; without one and no logger ``<default_root_dir>/checkpoints``, of the
    Trainer's ``trainer_options``, else the working folder) and an ``OnExceptionCheckpoint``'s
    file. One deliberate difference: no such file is refused (Lightning warns and trains from
    scratch, which a resume meant to continue would not notice); so is a ModelCheckpoint
    without dirpath beside a logger (Lightning looks in the logger's new version folder, which
    holds none). The other keywords are refused naming what to pass (they were refused as a
    missing path: "check the path"). A file of that name is a path."""
    from lightning.pytorch.callbacks import OnExceptionCheckpoint

    if not isinstance(ckpt_path, str) or ckpt_path not in _CKPT_KEYWORDS or os.path.exists(
            ckpt_path):
        return ckpt_path
    if ckpt_path == "last":
        trainer_options = trainer_options or {}
        root = trainer_options.get("default_root_dir")
        root = os.fspath(root) if root is not None else os.getcwd()
        logger = trainer_options.get("logger")  # None: Lightning's default logger
        logged = logger is not False and not (isinstance(logger, (list, tuple)) and not logger)
        folders, found, in_logger = [], [], False
        for cb in callbacks:
            if isinstance(cb, OnExceptionCheckpoint) and os.path.isfile(cb.ckpt_path):
                found.append(cb.ckpt_path)
            if not isinstance(cb, ModelCheckpoint):
                continue
            if cb.dirpath is None and logged:
                in_logger = True
                continue
            folder = (os.fspath(cb.dirpath) if cb.dirpath is not None
                      else os.path.join(root, "checkpoints"))
            folders.append(folder)
            pattern = rf"^{re.escape(cb.CHECKPOINT_NAME_LAST)}(-(\d+))?"
            if os.path.isdir(folder):
                found += [os.path.join(folder, n) for n in os.listdir(folder)
                          if os.path.splitext(n)[1] == cb.FILE_EXTENSION
                          and re.match(pattern, os.path.splitext(n)[0])]
        if found:
            return max(found, key=os.path.getmtime)  # Lightning's choice: the newest
        names = sorted({f"{c.CHECKPOINT_NAME_LAST}{c.FILE_EXTENSION}" for c in callbacks
                        if isinstance(c, ModelCheckpoint)}) or ["last.ckpt"]
        if folders:
            where = (f"the ModelCheckpoint's folder {folders[0]!r} holds no {names[0]} (was it "
                     "given save_last=True, and did a run write it? Lightning would train from "
                     "scratch here; a resume is refused)")
        elif in_logger:
            where = ("the ModelCheckpoint has no dirpath and the run has a logger: Lightning "
                     "would look in the logger's new version folder, which holds none")
        else:
            where = "no ModelCheckpoint is given, whose last.ckpt it would be"
        raise XlstsrError(
            f"ckpt_path='last' (Lightning's keyword for the last checkpoint): {where}; pass the "
            "checkpoint file's path, e.g. ckpt_path='checkpoints/last.ckpt' (`xlstsr train "
            "--save-checkpoints` writes <--log-dir>/checkpoints/last.ckpt)")
    raise XlstsrError(
        f"ckpt_path={ckpt_path!r} (a Lightning keyword) is not taken here: a resume is checked "
        "against the checkpoint before training, so pass the checkpoint file's path (e.g. the "
        "ModelCheckpoint's best_model_path, or 'last' for its last.ckpt)")


def _check_resume(ckpt_path: str | os.PathLike, module: SuperResolutionModule) -> None:
    """Refuse a resume whose network, regime or schedule differ from the checkpoint's."""
    where = repr(os.fspath(ckpt_path))
    blob = _read_training_file(ckpt_path, "resume from")
    if not (isinstance(blob, dict) and "pytorch-lightning_version" in blob):
        kind = ("an xlstsr model file (xlstsr.nn.save_model)"
                if isinstance(blob, dict) and blob.get("format") == "xlstsr-checkpoint"
                else "not a Lightning training checkpoint")
        raise XlstsrError(
            f"ckpt_path {where} is {kind}: resuming needs the Lightning checkpoint written during "
            "training (a ModelCheckpoint's .ckpt, `xlstsr train --save-checkpoints`); to start from "
            "a model's weights, load it (xlstsr.nn.load_model) and pass it to fit without ckpt_path "
            "(it keeps its normalisation; normalise='refit' fits it from the new patches)"
        )
    _require_own_module(blob, ckpt_path)
    saved = blob["hyper_parameters"]
    # lr too: the resumed optimiser state kept the checkpoint's, whatever lr= said; and the
    # loss: under other loss_options the history mixed two losses, the best weights were chosen
    # across them (the new loss's validations against the old one's best) and the record named
    # the new options for the whole run
    keys = ("model", "config", "mode", "factor", "epochs", "lr", "normalise", "loss_options")
    diff = [f"{k}={saved[k]!r} there, {module.hparams[k]!r} here" for k in keys
            if k in saved and saved[k] != module.hparams[k]]
    if diff:
        raise XlstsrError(
            f"the checkpoint {os.fspath(ckpt_path)!r} was trained with other settings ("
            + "; ".join(diff) + "): resume with the first run's (epochs sets the cosine schedule; "
            "to stop a run early and resume it later, lower trainer_options['max_epochs']; to "
            "train its weights further under another loss, start a new run from them: "
            "`SuperResolutionModule.load_from_checkpoint(path).model` to fit without ckpt_path, which "
            "keeps its normalisation; normalise='refit' fits it from the new patches)"
        )


def check_training_settings(*, epochs: Any = 1, batch_size: Any = None, lr: Any = 1e-3,
                            patience: Any = 0, seed: Any = 0) -> None:
    """The training settings of :func:`fit` (``epochs`` / ``batch_size`` whole numbers >= 1, a
    finite ``lr`` > 0, ``patience`` a whole number >= 0, a seed numpy and Lightning take), else
    an XlstsrError naming the argument: checked before any data is read (``xlstsr train``)."""
    check_whole("epochs", epochs, hint="the length of the learning-rate schedule: e.g. 50")
    if batch_size is not None:
        check_whole("batch_size", batch_size, hint="patches per step: e.g. 16")
    check_number("lr", lr, 0, lo_open=True, hint="the Adam learning rate: e.g. 1e-3")
    check_whole("patience", patience, 0, hint="epochs without improvement; 0: no early stopping")
    check_seed(seed)


def _check_fit_args(model: Any, train: Any, val: Any, *, epochs: Any, batch_size: Any, lr: Any,
                    patience: Any, seed: Any, augmentation: Any, input_noise: Any,
                    normalise: Any, progress: Any) -> None:
    """The front door of :func:`fit`: the types of the model and patches, whole positive sizes,
    a finite positive ``lr``, booleans that are booleans (``"no"`` would be truthy)."""
    if not isinstance(model, torch.nn.Module):
        raise InputTypeError(f"model must be a torch.nn.Module (an xlstsr.nn architecture, e.g. "
                             f"`xlstsr.nn.ResCNN(4)`), got {type(model).__name__}")
    params = list(model.parameters())
    if any(p.is_meta for p in params):  # torch's "Cannot copy out of meta tensor"
        raise XlstsrError("the model's weights are on the meta device (no values): materialise "
                          "them first, e.g. `model.to_empty(device='cpu')` and initialise them")
    if not any(p.requires_grad for p in params):  # torch's "does not require grad" at step 1
        raise XlstsrError("the model has no trainable parameter (every one has requires_grad="
                          "False): unfreeze the layers to train, e.g. `for p in model.parameters()"
                          ": p.requires_grad_(True)`")
    if not isinstance(train, (PatchSet, PatchDataModule)):
        raise InputTypeError(
            f"train must be a PatchSet or a PatchDataModule, got {type(train).__name__}: cut "
            "numpy stacks into patches first (`xlstsr.train.make_patches(**degraded_pairs(lst, "
            "4), factor=4, patch=64)`), or train from a cube with `xlstsr.train.fit_cube`"
        )
    if val is not None and not isinstance(val, PatchSet):
        raise InputTypeError(f"val must be a PatchSet (or None), got {type(val).__name__}: "
                             "split it from the patches (`split_by_scene`, `split_by_position`)")
    if isinstance(train, PatchSet) and val is not None and len(val) and val.factor != train.factor:
        raise GridError(f"val patches were cut with factor {val.factor}, train with "
                        f"{train.factor}: cut both with the factor the model upscales by")
    check_training_settings(epochs=epochs, batch_size=batch_size, lr=lr, patience=patience,
                            seed=seed)
    if input_noise is not None:
        check_number("input_noise", input_noise, 0, hint="a noise sigma in K, e.g. 0.1")
    for name, v in (("augmentation", augmentation), ("progress", progress)):
        if v is not None:
            check_bool(name, v)
    if normalise is not None:
        check_normalise(normalise)


#: Trainer options that choose the hardware (a machine without it: a MisconfigurationException)
_HARDWARE_OPTIONS = ("accelerator", "devices", "num_nodes", "strategy", "precision")
# Lightning refuses some hardware values with a TypeError (``devices="0,1"`` with the CPU
# accelerator: "`devices` selected with `CPUAccelerator` should be an int > 0."), not a
# MisconfigurationException; such a TypeError names the option at fault
_HARDWARE_WORDS = re.compile(r"\b(devices|accelerator|precision|strategy)\b", re.IGNORECASE)


def _is_hardware_refusal(err: BaseException) -> bool:
    """Whether the Lightning Trainer's refusal ``err`` is about the hardware options (accelerator,
    devices, precision, strategy) rather than a misspelt or mistyped other option: a
    MisconfigurationException, or a TypeError whose text names one of those options (not
    "unexpected keyword argument", a misspelt option's)."""
    if "Misconfiguration" in type(err).__name__:
        return True
    text = str(err)
    return (isinstance(err, TypeError) and "unexpected keyword" not in text
            and _HARDWARE_WORDS.search(text) is not None)


def _check_trainer_options(options: dict[str, Any]) -> None:
    """Refuse Trainer options that train nothing (``max_steps=0``, ``max_time`` 0: the
    untrained weights came back without a word) or that Lightning divides by
    (``check_val_every_n_epoch=0``, ``val_check_interval=0``: a raw ZeroDivisionError)."""
    import datetime

    if "max_steps" in options:  # Lightning's -1: no limit
        steps = options["max_steps"]
        if not (isinstance(steps, (int, np.integer)) and not isinstance(steps, bool)
                and (steps >= 1 or steps == -1)):
            raise XlstsrError(
                f"trainer_options['max_steps']={steps!r} trains no step (fit would return the "
                "untrained weights): give the most optimiser steps to run, a whole number >= 1 "
                "(e.g. 1000), or -1 for no limit (then `epochs` decides)"
            )
    if options.get("max_time") is not None:
        limit = options["max_time"]
        if isinstance(limit, (bool, int, float, np.number)):
            # Lightning takes no number (its Timer failed on 0 with a raw AttributeError)
            raise XlstsrError(
                f"trainer_options['max_time']={limit!r}: max_time takes a duration, not a number: "
                "'DD:HH:MM:SS' (e.g. '00:02:00:00'), a datetime.timedelta or a dict such as "
                "{'hours': 2}; drop it for no time limit"
                + (" (0 would stop training before its first step)" if limit == 0 else "")
            )
        try:
            if isinstance(limit, str):  # Lightning's "DD:HH:MM:SS"
                d, h, m, sec = (int(v) for v in limit.split(":"))
                limit = datetime.timedelta(days=d, hours=h, minutes=m, seconds=sec)
            elif isinstance(limit, dict):
                limit = datetime.timedelta(**limit)
        except (TypeError, ValueError):
            limit = None  # a form of its own: Lightning judges it
        if isinstance(limit, datetime.timedelta) and limit.total_seconds() <= 0:
            raise XlstsrError(
                f"trainer_options['max_time']={options['max_time']!r} stops training before its "
                "first step (fit would return the untrained weights): give a duration > 0, e.g. "
                "'00:02:00:00' (DD:HH:MM:SS) or {'hours': 2}, or drop it"
            )
    every = options.get("check_val_every_n_epoch")
    if every is not None:
        options["check_val_every_n_epoch"] = check_whole(
            "trainer_options['check_val_every_n_epoch']", every, 1,
            hint="validate every n epochs: e.g. 1, or None to validate by val_check_interval")
    interval = options.get("val_check_interval")
    if interval is not None:
        if isinstance(interval, bool) or not isinstance(interval, (int, float, np.number)) or not (
                interval > 0 and math.isfinite(interval)):
            raise XlstsrError(
                f"trainer_options['val_check_interval']={interval!r}: validate after a share of "
                "each epoch's batches (a number in (0, 1], e.g. 0.5) or after a number of "
                "batches (a whole number >= 1), or drop it (once per epoch)"
            )


def _check_validation_runs(options: dict[str, Any], epochs: int) -> None:
    """With validation patches, refuse Trainer options under which validation never runs
    (``limit_val_batches=0``, which Lightning's own ``val_check_interval`` error recommends;
    ``check_val_every_n_epoch`` larger than the epochs run): fit returned ``validated=True``,
    ``best_val_loss=inf`` and the last, unranked weights."""
    if "limit_val_batches" in options and not isinstance(options["limit_val_batches"], bool) \
            and isinstance(options["limit_val_batches"], (int, float, np.number)) \
            and options["limit_val_batches"] == 0:
        raise XlstsrError(
            f"trainer_options['limit_val_batches']={options['limit_val_batches']!r} validates "
            "never, yet validation patches were given (fit would rank nothing and return the "
            "last weights as validated): drop the option (validate on every batch), give a share "
            "> 0 (e.g. 0.5), or train without validation (val=None; a data module without a "
            "validation set), where the best weights are chosen by the training loss"
        )
    every = options.get("check_val_every_n_epoch")
    run = options.get("max_epochs", epochs)
    # Lightning validates in the epochs whose number is a multiple of it, whatever
    # val_check_interval says: none up to max_epochs
    if every is not None and isinstance(run, (int, np.integer)) and every > run:
        raise XlstsrError(
            f"trainer_options['check_val_every_n_epoch']={every} validates never in the {run} "
            "epoch(s) this run trains, yet validation patches were given (fit would rank "
            f"nothing and return the last weights as validated): give a value <= {run} (e.g. "
            "1), or train without validation (val=None)"
        )


def _check_model_fits_patches(model: torch.nn.Module, train: PatchSet, mode: str) -> None:
    """Refuse a model of another factor, a guided model without guide patches and a SIF run
    without a guide before training (each raised a raw torch error at the first step)."""
    own = getattr(model, "factor", None)
    if own is not None and int(own) != train.factor:
        raise GridError(f"the model upscales by {own} but the patches were cut with factor "
                        f"{train.factor}: cut them with factor={own}, or build the model for "
                        f"factor {train.factor}")
    n_guide = int(getattr(model, "n_guide", 0) or 0)
    have = 0 if train.guide is None else int(train.guide.shape[1])
    if n_guide and have != n_guide:
        raise GridError(f"the model takes {n_guide} guide band(s) but the patches hold {have}: "
                        "cut the patches with the guide (make_patches(..., guide=ndvi)), or train "
                        "a single-image model (e.g. xlstsr.nn.ResCNN)")
    if mode == "sif" and train.guide is None:
        raise XlstsrError("mode 'sif' needs guide patches (its detail term follows the guide): "
                          "cut them with make_patches(..., guide=ndvi)")


def fit(
    model: torch.nn.Module,
    train: PatchSet | PatchDataModule,
    val: PatchSet | None = None,
    *,
    mode: str | None = None,
    loss_options: dict[str, Any] | None = None,
    epochs: int = 50,
    batch_size: int | None = None,
    lr: float = 1e-3,
    patience: int = 10,
    seed: int = 0,
    augmentation: bool | None = None,
    input_noise: float | None = None,
    normalise: bool | str = True,
    progress: bool = False,
    logger: Any = None,
    log_dir: str | os.PathLike | None = None,
    callbacks: list | None = None,
    ckpt_path: str | os.PathLike | None = None,
    trainer_options: dict[str, Any] | None = None,
) -> dict[str, Any]:
    """Train ``model`` on patches with a Lightning ``Trainer``; early stopping, best weights restored.

    :class:`SuperResolutionModule` (model + loss + optimiser) and :class:`PatchDataModule`
    (seeded batches, augmentation) run under one ``lightning.Trainer`` (CPU, one device, quiet by
    default); ``trainer_options`` reach the Trainer as they are (``accelerator``, ``devices``,
    ``precision`` (32 or 64 bits: half precision rounds Kelvin and is refused), ``strategy``,
    ``default_root_dir``, ``max_epochs``...), ``callbacks`` are
    added to the early-stopping one (e.g. a ``ModelCheckpoint``) and ``ckpt_path`` resumes a run
    from a Lightning checkpoint written at the end of an epoch (the same weights as an
    uninterrupted run; the settings and patches must be the first run's). The same seed and
    data give the same weights, also on a data module that served a fit before (its batch order
    and augmentation restart from its seed, unless ``ckpt_path`` resumes them).

    Training is deterministic (Lightning's ``deterministic=True``) and seeded
    (``seed_everything(seed)``: the ``random``, numpy and torch generators); the process-wide
    state this changes (torch's deterministic-algorithms mode, ``cudnn.benchmark``,
    ``CUBLAS_WORKSPACE_CONFIG`` and those generators) is put back as it was when fit returns.

    Parameters
    ----------
    model : nn.Module
        An :mod:`xlstsr.nn` architecture (trained in place, returned on the CPU in eval mode, in
        its own dtype whatever the training precision).
    train : PatchSet or PatchDataModule
        Training patches, or a data module holding both sets (e.g.
        :class:`~xlstsr.train.CubeDataModule`, whose batch size, seed, augmentation, mode and
        fitted loss options apply).
    val : PatchSet, optional
        Validation patches (split from ``train`` by position or scene:
        :func:`split_by_position`, :func:`split_by_scene`). An empty set warns: no validation,
        no early stopping. The training patches themselves, or validation patches that share
        named scenes (or patches) with the training ones, warn.
    mode : str, optional
        ``"sisr"`` (default), ``"degraded_disr"``, ``"sif"`` or ``"supervised"``
        (:func:`make_loss`); a data module's own mode by default.
    loss_options : dict
        Options of the loss (``alpha``, ``gain``, ``w_detail``, ``w_spectral``...), on top of
        those a data module fitted (the SIF guide ``gain``: a ``gain`` given here wins).
    epochs : int
        Length of the cosine learning-rate decay and the most epochs run (stop earlier with
        ``trainer_options={"max_epochs": n}`` and resume later).
    batch_size, lr, patience, seed : training settings (Adam; patience 0: no early stopping;
        batch size 16 by default).
    augmentation : bool
        Random flips and rot90 per batch (default True).
    input_noise : float
        Standard deviation (K) of Gaussian noise added to the coarse input of every training
        batch (:func:`add_input_noise`; validation batches stay clean). Default 0: none.
    normalise : bool or "refit"
        Set the model's normalisation buffers from the training patches first
        (:func:`fit_normalisation`). True (default): a new network's; a model whose buffers
        were set already (trained, loaded with :func:`xlstsr.nn.load_model` or
        ``SuperResolutionModule.load_from_checkpoint(path).model``: fine-tuning) keeps its
        own, which its weights were trained with (:func:`has_fitted_normalisation`).
        ``"refit"``: from these patches in any case (the weights then see inputs scaled
        otherwise than they were trained on). False: never.
    progress : bool
        Show Lightning's progress bar and device messages (default: quiet).
    logger : {"csv", "tensorboard"} or Logger, optional
        Log the losses per epoch (:func:`make_logger`) under ``log_dir``. Default: none.
    log_dir : path-like, optional
        Directory of the logs (default: the Trainer's ``default_root_dir``, else
        ``xlstsr_logs``); given, it is the Trainer's ``default_root_dir`` unless
        ``trainer_options`` name one (Lightning's own logger, ``logger=True``, and a
        ``ModelCheckpoint`` without ``dirpath`` and no logger write there).
    callbacks : list, optional
        More Lightning callbacks (``ModelCheckpoint``, ``LearningRateMonitor``...).
    ckpt_path : path-like, optional
        A Lightning checkpoint to resume from (written by a ``ModelCheckpoint``; that of a run
        which had stopped early trains no more epoch, as the uninterrupted run), or ``"last"``
        (Lightning's keyword): the newest last checkpoint (``last.ckpt``, ``last-v1.ckpt``, or
        the callback's own ``CHECKPOINT_NAME_LAST``) of the ``ModelCheckpoint`` given in
        ``callbacks``, in its ``dirpath`` (without one and no logger:
        ``<default_root_dir>/checkpoints``, ``log_dir`` by default), as Lightning finds it;
        where there is none yet it is refused (Lightning would train from scratch). A resume
        with another network, mode, factor, ``epochs``, ``lr``, ``normalise`` or
        ``loss_options`` than the checkpoint's is refused.
    trainer_options : dict, optional
        Keyword arguments of ``lightning.Trainer``; they override the defaults above. Refused:
        values that train nothing (``max_epochs``, ``max_steps``, ``limit_train_batches`` or
        ``max_time`` of 0; ``max_time`` as a plain number, which Lightning does not take)
        or that validate never (``check_val_every_n_epoch=0``,
        ``val_check_interval=0``; with validation patches, ``limit_val_batches=0`` or a
        ``check_val_every_n_epoch`` larger than the epochs run: to train without validation,
        pass ``val=None``); a ``logger`` given by name (``"csv"``) is made by
        :func:`make_logger`.

    Raises
    ------
    xlstsr.errors.XlstsrError
        Checked before training: a model that is no ``nn.Module``, ``train`` that is no
        PatchSet / PatchDataModule (a numpy array: cut it with :func:`make_patches`),
        ``epochs`` / ``batch_size`` that are not whole numbers >= 1, ``lr`` not > 0, booleans
        given as strings.

    Returns
    -------
    dict
        ``train_loss``, ``val_loss`` (NaN on epochs without validation) and ``epoch_seconds`` per
        epoch, ``best_val_loss``, ``validated`` (False: no validation patches, the best is the
        training loss), ``start_val_loss`` (the validation loss of the starting weights, scored
        once before the first epoch; NaN without validation), ``kept_start_weights`` (True: no
        epoch beat the starting weights, e.g. a diverged run, and those are returned, with a
        warning), ``epochs_run``, ``engine`` (``"lightning"``), ``global_rank`` and
        ``world_size`` (a run on several devices: Lightning runs the caller's script in one
        process per device; save and report on rank 0 only), ``precision`` (the Trainer's,
        e.g. ``"32-true"``), ``log_dir`` when logging.
    """
    _check_fit_args(model, train, val, epochs=epochs, batch_size=batch_size, lr=lr,
                    patience=patience, seed=seed, augmentation=augmentation,
                    input_noise=input_noise, normalise=normalise, progress=progress)
    trainer_options = dict(trainer_options or {})
    if isinstance(train, PatchDataModule):
        if val is not None:
            raise XlstsrError("pass validation patches inside the data module, not as `val`")
        ignored = [k for k, v in (("batch_size", batch_size), ("augmentation", augmentation),
                                  ("input_noise", input_noise)) if v is not None]
        if ignored:
            raise XlstsrError(f"{', '.join(ignored)}: settings of the data module; set them there")
        data = train
        own = getattr(data, "mode", None)
        if mode is not None and own is not None and mode != own:
            raise XlstsrError(f"mode={mode!r} but the data module builds {own!r} pairs")
        mode = mode or own or "sisr"
        data.setup("fit")
        if ckpt_path is None:
            # a data module that served a fit before went on with its generator: the same
            # model, seed and data gave other weights (a resume loads the checkpoint's state)
            data.gen.manual_seed(data.seed)
        train, val = data._require_train(), data.val_set
        # the fitted guide gain stays beside the user's options (a user-given gain wins)
        loss_options = merge_loss_options(getattr(data, "loss_options", None), loss_options)
    else:
        mode = mode or "sisr"
        data = PatchDataModule(
            train, val, batch_size=16 if batch_size is None else batch_size, seed=seed,
            augmentation=True if augmentation is None else augmentation,
            input_noise=input_noise or 0.0,
        )
    if mode not in MODES:
        raise XlstsrError(f"unknown training mode {mode!r}; choose one of {MODES}")
    if not len(train):
        raise XlstsrError("no training patches")
    if val is not None and not len(val):
        # an empty split (a misspelt val scene id) trained on without a word
        warnings.warn(
            "the validation patches hold no patch: training runs without validation and without "
            "early stopping (the best weights are chosen by the training loss). Check the split "
            "that made them (e.g. split_by_scene's val_scenes against the patches' scene ids), "
            "or pass val=None.",
            UserWarning, stacklevel=2,
        )
    if "max_epochs" in trainer_options:  # 0 "trained" nothing and returned a history
        trainer_options["max_epochs"] = check_whole(
            "trainer_options['max_epochs']", trainer_options["max_epochs"],
            hint="epochs to run now (stop early, resume later): e.g. 10")
    _check_trainer_options(trainer_options)
    prec = str(trainer_options.get("precision", "32"))
    if "16" in prec and "32" not in prec and "64" not in prec:
        # bfloat16 steps by 2 K at 300 K: the models' bicubic of raw Kelvin under autocast was
        # 2.8 K off, and early stopping chose on that rounding
        raise XlstsrError(
            f"trainer_options['precision']={trainer_options['precision']!r}: half precision "
            "rounds Kelvin (bfloat16 steps by 2 K at 300 K, float16 by 0.25 K) inside the "
            "models' upsampling of raw temperatures, so the loss measures rounding. Train in "
            "'32-true' (the default)."
        )
    for key in ("limit_train_batches", "accumulate_grad_batches"):
        if key in trainer_options and not isinstance(trainer_options[key], float):
            # 0 trained nothing and returned the untrained weights; 0 accumulation divided by 0
            trainer_options[key] = check_whole(f"trainer_options[{key!r}]",
                                               trainer_options[key], 1)
        elif key in trainer_options and not trainer_options[key] > 0:
            raise XlstsrError(f"trainer_options[{key!r}]={trainer_options[key]!r} trains on no "
                              "batch: give a share > 0 (e.g. 0.5) or a whole number >= 1")
    if trainer_options.get("max_epochs", epochs) > epochs:
        raise XlstsrError(
            f"max_epochs={trainer_options['max_epochs']} runs past the cosine schedule of "
            f"epochs={epochs}: raise `epochs` instead"
        )
    _check_model_fits_patches(model, train, mode)
    has_val = val is not None and len(val) > 0
    if has_val:
        _check_validation_runs(trainer_options, int(epochs))
    extra_callbacks = [*(callbacks or []), *(trainer_options.get("callbacks") or [])] if (
        isinstance(callbacks, (list, tuple, type(None)))) else [callbacks]
    bad = [c for c in extra_callbacks if not isinstance(c, Callback)]
    if bad:  # "x" failed in Lightning with a raw AttributeError after training started
        raise InputTypeError(f"callbacks must be a list of Lightning callbacks (e.g. "
                             f"[ModelCheckpoint(save_last=True)]), got {bad[0]!r}")
    # Lightning's deterministic=True and seed_everything change process-wide state (torch's
    # deterministic mode and CUBLAS_WORKSPACE_CONFIG, the global generators): put back after
    with _process_state_restored():
        L.seed_everything(seed, workers=True, verbose=False)
        dtype = next(model.parameters()).dtype
        # trained in float32 like its patches (a float64 or float16 model failed at the first step:
        # "Input type (float) and bias type (double)"), returned in its own dtype
        model.float()
        module = SuperResolutionModule(
            model, mode=mode, factor=train.factor, loss_options=loss_options, lr=lr, epochs=epochs,
            normalise=normalise,
        )
        best = BestWeights(patience if has_val else 0, validated=has_val)
        if log_dir is None:
            log_dir = trainer_options.get("default_root_dir")
        if log_dir is not None and os.path.exists(log_dir) and not os.path.isdir(log_dir):
            raise XlstsrError(f"log_dir {os.fspath(log_dir)!r} is a file: give a folder for the logs")
        if trainer_options.get("logger") is not None:  # "csv" reached the Trainer as a str
            trainer_options["logger"] = make_logger(trainer_options["logger"], log_dir)
        epochs = int(epochs)  # 2.0 passed check_whole and failed Lightning's assertion
        options: dict[str, Any] = {
            "max_epochs": epochs,
            "accelerator": "cpu",
            "devices": 1,
            "deterministic": True,
            "logger": make_logger(logger, log_dir),
            "enable_checkpointing": False,
            "enable_model_summary": False,
            "enable_progress_bar": progress,
            "num_sanity_val_steps": 0,
            "limit_val_batches": 1.0 if has_val else 0,
            "log_every_n_steps": 1,
        }
        options.update(trainer_options)
        if log_dir is not None:  # logger=True and a ModelCheckpoint without dirpath (and no
            # logger) wrote into the working folder, not log_dir; fit_files' --out check models this
            options.setdefault("default_root_dir", os.fspath(log_dir))
        extra = [*(callbacks or []), *(options.pop("callbacks", None) or [])]
        if any(isinstance(c, ModelCheckpoint) for c in extra):
            options["enable_checkpointing"] = True  # a ModelCheckpoint asked for is a wish to save
        options["callbacks"] = [best, *extra]
        if ckpt_path is not None:  # 'last' where the Trainer built of these options finds it
            ckpt_path = _lightning_keyword_checkpoint(ckpt_path, extra, options)
            _check_resume(ckpt_path, module)
        with _quiet(progress):
            try:
                trainer = L.Trainer(**options)
            except Exception as err:  # a misspelt option, an accelerator this machine lacks...
                if not isinstance(err, TypeError) and "Misconfiguration" not in type(err).__name__:
                    raise
                # the options that choose the hardware where it is about them: all those given
                # named 'default_root_dir' (fit_files' own) beside the accelerator at fault
                hardware = {k: trainer_options[k] for k in _HARDWARE_OPTIONS
                            if k in trainer_options}
                named = (hardware if hardware and _is_hardware_refusal(err)
                         else sorted(trainer_options))
                raise XlstsrError(f"the Lightning Trainer refused trainer_options "
                                  f"{named} ({type(err).__name__}: {err}); check "
                                  "the option names and values (lightning.Trainer's arguments)") from err
            try:
                trainer.fit(module, datamodule=data, ckpt_path=ckpt_path)
            except SystemExit:  # Lightning turns Ctrl-C into sys.exit(1): a script's `except
                # KeyboardInterrupt` missed it and a notebook printed "SystemExit: 1"
                if trainer.state.status != TrainerStatus.INTERRUPTED:
                    raise
                if best.best_state is not None:
                    model.load_state_dict(best.best_state)
                model.to(device="cpu", dtype=dtype).eval()
                raise KeyboardInterrupt(
                    f"training interrupted after {len(best.hist['train_loss'])} of {epochs} epochs: "
                    "nothing was saved; the model holds the best weights so far. To continue a run "
                    "later, train with a ModelCheckpoint (callbacks=[ModelCheckpoint(save_last="
                    "True)], `xlstsr train --save-checkpoints`) and resume with ckpt_path= its "
                    "last.ckpt"
                ) from None
    kept_start = not best.beats_start() and best.start_state is not None
    if kept_start:  # a diverged run: its best epoch is worse than the weights it started from
        model.load_state_dict(best.start_state)
        message = (
            f"training did not improve on the starting model: the best epoch's validation loss "
            f"{best.best:.4g} is not below the starting weights' {best.start:.4g}"
            + (" (an untrained xlstsr.nn network is bicubic)"
               if getattr(model, "arch", None) else "")
            + "; the starting weights are kept and returned. "
            + (f"The training diverged: lower the learning rate (lr={lr:g} now, e.g. "
               f"lr={lr / 10:g})" if best.best > 1.1 * best.start else
               f"The epochs changed little: train longer (more epochs or patches), or check the "
               f"learning rate (lr={lr:g} now)")
        )
        # logged for a log file, and warned (a command line prints the warning: the record is
        # marked so that it can drop the copy)
        log.warning(message, extra={"xlstsr_warned": True})
        warn(message, UserWarning)
    elif best.best_state is not None:
        model.load_state_dict(best.best_state)
    model.to(device="cpu", dtype=dtype).eval()
    hist: dict[str, Any] = copy.deepcopy(best.hist)
    hist.update(best_val_loss=best.start if kept_start else best.best, validated=has_val,
                epochs_run=len(hist["train_loss"]), engine="lightning",
                start_val_loss=float("nan") if best.start is None else float(best.start),
                kept_start_weights=kept_start)
    # the process of a multi-device run (each runs the caller's script): only rank 0 saves
    hist.update(global_rank=int(trainer.global_rank), world_size=int(trainer.world_size),
                precision=str(trainer.precision))
    if trainer.logger is not None:
        hist["log_dir"] = trainer.logger.log_dir
    return hist

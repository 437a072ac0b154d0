"""Test-time adaptation: a few self-supervised steps of a model on the scene it is about to upscale.

No fine LST exists at inference, but the coarse input itself constrains the output: aggregated
under the sensor's point-spread function, in radiance, the super-resolved field must give the
coarse field back (the consistency half of the scale-invariance-free loss of Ait-Bachir et al.
2025, :func:`xlstsr.nn.losses.sif_loss`). :func:`adapt_model` fine-tunes a *copy* of a model for
a few steps on that loss for one scene; for guided models the detail half of the SIF loss (the
output's high-pass follows ``gain`` times the guide's) can be weighted in with ``alpha < 1``.

- :class:`Adaptation`: the settings (steps, learning rate, PSF, loss weights, the sample of the
  scene, the seed); ``Adaptation.parse(True)`` gives the defaults.
- :func:`psf_radiometric_mean`: the torch degradation operator, a Gaussian PSF applied in radiance
  (``T^4``) then the radiometric block mean (:func:`xlstsr.kernels.aggregate.gaussian_psf`
  followed by :func:`~xlstsr.kernels.aggregate.radiometric_mean`, as :func:`xlstsr.coarsen`
  with ``psf=`` does).
- :func:`adaptation_loss`, :func:`adapt_model`, :func:`tiled_forward`.

Determinism: the sample of the scene is drawn from ``seed`` and the valid-pixel mask only, and the
optimisation has no other randomness, so the same scene gives the same adapted model (to float
rounding of the torch build and thread count).

Examples
--------
>>> import numpy as np, torch
>>> from xlstsr.nn import ResCNN
>>> model = ResCNN(4, channels=8, n_blocks=1)
>>> lst = 300 + np.random.default_rng(0).normal(0, 2, (16, 16)).astype(np.float32)
>>> tuned = adapt_model(model, lst, factor=4, config=Adaptation(steps=2, lr=1e-3))
>>> tuned is model, any(not torch.equal(a, b) for a, b in zip(tuned.parameters(), model.parameters()))
(False, True)
"""

from __future__ import annotations

import copy
import dataclasses
import io
import math
import pickle
import warnings
from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any

import numpy as np
import torch

from ..errors import XlstsrError, warn
from .losses import masked_huber, sif_loss
from .ops import T_REF, gaussian_lowpass, radiometric_mean_torch
from .runtime import forward

__all__ = [
    "MODIS_PSF_COARSE",
    "PSF_MAX_COARSE",
    "PSF_SENSOR_COARSE",
    "Adaptation",
    "PSFWidthWarning",
    "adapt_model",
    "adaptation_loss",
    "psf_radiometric_mean",
    "sample_windows",
    "scene_guide_gain",
    "tiled_forward",
]

#: Gaussian PSF width of a MODIS 1 km LST pixel in units of that pixel:
#: ``xlstsr.grid.MODIS_LST_PSF_SIGMA / xlstsr.grid.MODIS_1KM`` (350 m / 926.6 m; tested equal).
#: Kept relative to the coarse pixel so that the nn layer needs no grid: at factor 4 it is
#: 1.51 fine pixels.
MODIS_PSF_COARSE = 350.0 / 926.625433055833

#: Largest Gaussian PSF width (coarse pixels) :class:`Adaptation` takes: training's own bound
#: (``degraded_pairs`` / ``fit_cube(psf=)`` / ``xlstsr train --psf`` take up to 2 coarse pixels,
#: so a model trained under such a PSF adapts with it); a larger one is a width in metres, or in
#: fine pixels (as ``degraded_pairs(psf=1.51)`` and the losses' ``psf_sigma`` give MODIS's).
PSF_MAX_COARSE = 2.0

#: A sensor's PSF sigma is under its pixel (MODIS 0.378; FWHM 2.35 px at this width): a psf
#: between this and :data:`PSF_MAX_COARSE` is taken with a :class:`PSFWidthWarning` naming the
#: unit mix-ups it may be (MODIS in fine pixels at x4 is 1.51)
PSF_SENSOR_COARSE = 1.0


class PSFWidthWarning(UserWarning):
    """An adaptation psf wider than one coarse pixel (no sensor's): kept, as training takes
    it, with the metres and fine-pixel readings of the value named."""

#: The MODIS 1 km pixel (m) the refusal of a psf out of range converts metres with
_MODIS_PIXEL_M = 926.6


@dataclass(frozen=True)
class Adaptation:
    """Settings of test-time adaptation (:func:`adapt_model`).

    Parameters
    ----------
    steps : int
        Optimiser steps per scene (each over the whole sample of the scene).
    lr : float
        Adam learning rate.
    psf : float, "modis" or None
        Gaussian PSF width of the coarse sensor in *coarse* pixels (``"modis"``:
        :data:`MODIS_PSF_COARSE`, 0.378 px, i.e. 350 m on a 926.6 m pixel); None or 0: a box.
        At most :data:`PSF_MAX_COARSE` (2, training's bound; above 1, no sensor's width, a
        :class:`PSFWidthWarning`): a width in metres is ``metres / coarse pixel size``, a
        width in fine pixels (``degraded_pairs``' ``psf=``) is ``that / factor`` (1.51 at x4:
        0.378).
    alpha : float
        Weight of the coarse-consistency term; guided models add ``(1 - alpha)`` times the
        detail term of :func:`~xlstsr.nn.losses.sif_loss`. 1 (default): consistency only;
        the only value for a model without a guide (:meth:`check_guided`).
    gain : float, optional
        K per guide unit of the detail term; default: fitted on the scene at the coarse scale
        (:func:`scene_guide_gain`). Guided models only.
    anchor : float
        Weight of a Huber term keeping the output near the unadapted model's (0: none).
    window : int
        Side (coarse pixels) of the windows the loss is computed on; a scene no larger than
        this is used whole.
    windows : int
        Number of windows drawn (seeded) in a larger scene: the fixed sample adaptation sees.
    seed : int
        Seed of that draw.

    Examples
    --------
    >>> Adaptation.parse(True).steps
    10
    >>> Adaptation.parse({"steps": 3, "lr": 1e-4}).as_dict()["steps"]
    3
    >>> Adaptation.parse(None) is None
    True
    """

    steps: int = 10
    lr: float = 1e-4
    psf: float | str | None = "modis"
    alpha: float = 1.0
    gain: float | None = None
    anchor: float = 0.0
    window: int = 96
    windows: int = 4
    seed: int = 0

    def __post_init__(self) -> None:
        # every setting checked for its type too: 2.5 or "3" steps were taken as 2 or 3, a NaN
        # or negative psf as a box, a NaN anchor or gain poisoned the loss without a word
        _whole("steps", self.steps, 0, "optimiser steps per scene, e.g. 10")
        _number("lr", self.lr, 0.0, lo_open=True, hint="the Adam learning rate, e.g. 1e-4")
        if isinstance(self.psf, str):
            if self.psf.lower() != "modis":
                raise ValueError(f"adaptation psf must be 'modis', a width in coarse pixels or "
                                 f"None, got {self.psf!r}")
        elif self.psf is not None:
            _number("psf", self.psf, 0.0, hint="a Gaussian width in coarse pixels, 'modis' or None")
            if float(self.psf) > PSF_MAX_COARSE:
                # psf=350 (MODIS's 350 m, as coarsen's psf= takes it) ran as 350 coarse
                # pixels, psf=1.51 (MODIS in fine pixels at x4, as degraded_pairs' psf=) as 4x
                # MODIS's width: both further from the coarse input than no adaptation
                raise ValueError(_psf_out_of_range(float(self.psf)))
            if float(self.psf) > PSF_SENSOR_COARSE:
                # a model trained with degraded_pairs(psf=6) at x4 (1.5 coarse pixels) adapts
                # with its own PSF; 1.51 may still be MODIS in fine pixels: its readings told
                warn(_psf_wide(float(self.psf)), PSFWidthWarning)
        _number("alpha", self.alpha, 0.0, 1.0, hint="the weight of the coarse-consistency term")
        if self.gain is not None:
            _number("gain", self.gain, hint="K per guide unit, or None to fit it on the scene")
        _number("anchor", self.anchor, 0.0, hint="0: no anchor")
        _whole("window", self.window, 4, "coarse pixels, e.g. 96")
        _whole("windows", self.windows, 1, "windows drawn in a larger scene, e.g. 4")
        _whole("seed", self.seed, 0)

    @classmethod
    def parse(cls, value: Any) -> Adaptation | None:
        """None/False -> None (off); True -> defaults; a mapping -> those settings."""
        if isinstance(value, np.bool_):  # numpy's bool (a flag from an array) is no `bool`
            value = bool(value)
        if value is None or value is False:
            return None
        if value is True:
            return cls()
        if isinstance(value, cls):
            return value
        if isinstance(value, Mapping):
            known = {f.name for f in dataclasses.fields(cls)}
            unknown = sorted(set(value) - known)
            if unknown:
                raise ValueError(f"unknown adaptation setting(s) {unknown}; known: {sorted(known)}")
            return cls(**dict(value))
        raise TypeError(f"adapt must be True, False, None, a dict of settings or an Adaptation, "
                        f"got {value!r} ({type(value).__module__}.{type(value).__qualname__})")

    def check_guided(self, guided: bool) -> None:
        """Refuse settings that do nothing for a model without a guide: a ``gain`` (it scales
        the guide-detail term, which only a guided model has), ``alpha=0`` (the loss is then
        the anchor to the unadapted output alone, or zero: the output unchanged, yet recorded
        as adapted) and another ``alpha`` than 1 without an ``anchor`` (the consistency alone, scaled:
        nothing to balance it against). With an ``anchor``, ``alpha`` weighs the consistency
        against it, and is kept.

        Raises
        ------
        XlstsrError
            ``guided`` is False and one of these settings is given.
        """
        if guided:
            return
        alpha = float(self.alpha)
        bad = [f"gain={self.gain!r}"] if self.gain is not None else []
        if alpha == 0.0 or (alpha != 1.0 and float(self.anchor) == 0.0):
            bad.append(f"alpha={alpha:g}")
        if bad:
            raise XlstsrError(
                f"adapt setting(s) {', '.join(bad)} do nothing for this model, which takes no "
                "guide: its adaptation loss is alpha x the coarse consistency (+ anchor x the "
                "anchor to the unadapted output); the guide-detail term that gain scales and "
                "1 - alpha weighs exists only for a guided model (e.g. method='disr'). "
                "alpha=0 leaves the output unchanged, and another alpha than 1 without "
                "anchor= only scales the loss. Drop them (alpha=1, gain=None, the defaults), give alpha "
                "with anchor= (their balance), or use a guided model."
            )

    def psf_fine(self, factor: int) -> float:
        """The PSF width in fine pixels at ``factor`` (0.0 for a box)."""
        if self.psf is None:
            return 0.0
        p = MODIS_PSF_COARSE if isinstance(self.psf, str) else float(self.psf)
        return float(p) * int(factor)

    def as_dict(self) -> dict[str, Any]:
        """The settings as plain JSON values (provenance, dask tokens)."""
        return dataclasses.asdict(self)


def _psf_readings(psf: float) -> str:
    """" For psf: if it is metres, ...; if it is fine pixels, ..." (or ""): the conversions
    of ``psf`` that give a sensor's width."""
    # the readings offered with this value are those that land on a plausible PSF (0.1-1 coarse
    # pixel): 3.02 / 926.6 is a valid number but a box, not the MODIS PSF 3.02 fine pixels at x8 is
    plausible = (0.1, PSF_SENSOR_COARSE)
    metres = psf / _MODIS_PIXEL_M
    readings = []
    if plausible[0] <= metres <= plausible[1]:
        readings.append(f"if it is metres on a MODIS 1 km pixel, "
                        f"{{'psf': {psf:g} / {_MODIS_PIXEL_M:g}}} ({metres:.3f})")
    factors = [f for f in (2, 4, 8, 16, 32) if plausible[0] <= psf / f <= plausible[1]]
    if factors:
        shown = ", ".join(f"{psf / f:.3f} at x{f}" for f in factors)
        readings.append(f"if it is fine pixels, {{'psf': {psf:g} / factor}} ({shown})")
    return f" For {psf:g}: {'; '.join(readings)}." if readings else ""


def _psf_units() -> str:
    """The two unit rules (metres, fine pixels) with MODIS's conversions."""
    return ("A width in metres (as coarsen's psf= takes it) is metres / the coarse pixel size "
            f"in metres (MODIS: 350 / {_MODIS_PIXEL_M:g} = {MODIS_PSF_COARSE:.3f}); a width in "
            "fine pixels (as degraded_pairs' psf= and the losses' psf_sigma= take it) is that / "
            f"the factor (MODIS at x4: 1.51 / 4 = {MODIS_PSF_COARSE:.3f}).")


def _psf_out_of_range(psf: float) -> str:
    """The refusal of an adaptation psf above :data:`PSF_MAX_COARSE`, naming the two unit
    mix-ups (metres, fine pixels) with the conversions of ``psf`` that give a sensor's width."""
    return (
        f"adaptation psf is a Gaussian width in coarse pixels, and {psf:g} coarse pixels is no "
        "sensor's PSF (a sensor's sigma is under one coarse pixel, and training takes up to "
        f"{PSF_MAX_COARSE:g}: at most {PSF_MAX_COARSE:g} here; MODIS: psf='modis', "
        f"{MODIS_PSF_COARSE:.3f} px, i.e. 350 m on a 926.6 m pixel). {_psf_units()}"
        f"{_psf_readings(psf)} Or give psf='modis'."
    )


def _psf_wide(psf: float) -> str:
    """The warning of an adaptation psf in (:data:`PSF_SENSOR_COARSE`,
    :data:`PSF_MAX_COARSE`]: kept, with the unit readings of the value."""
    return (
        f"adaptation psf {psf:g} is taken as {psf:g} coarse pixels, wider than any sensor's PSF "
        f"(its sigma is under one coarse pixel; MODIS: psf='modis', {MODIS_PSF_COARSE:.3f} px): "
        "right for a model trained under that PSF (degraded_pairs' / fit_cube's psf= up to 2 "
        f"coarse pixels), not for a sensor's width in other units. {_psf_units()}"
        f"{_psf_readings(psf)}"
    )


def _whole(name: str, value: Any, minimum: int, hint: str = "") -> None:
    ok = (isinstance(value, (int, np.integer)) and not isinstance(value, (bool, np.bool_))
          and value >= minimum)
    if not ok:
        raise ValueError(f"adaptation {name} must be a whole number >= {minimum}, got {value!r}"
                         + (f" ({hint})" if hint else ""))


def _number(name: str, value: Any, lo: float | None = None, hi: float | None = None, *,
            lo_open: bool = False, hint: str = "") -> None:
    ok = (isinstance(value, (int, float, np.integer, np.floating))
          and not isinstance(value, (bool, np.bool_)) and math.isfinite(float(value)))
    if ok and lo is not None:
        ok = float(value) > lo if lo_open else float(value) >= lo
    if ok and hi is not None:
        ok = float(value) <= hi
    if not ok:
        rng = "" if lo is None else f" {'>' if lo_open else '>='} {lo:g}"
        rng += "" if hi is None else f"{' and' if rng else ''} <= {hi:g}"
        raise ValueError(f"adaptation {name} must be a finite number{rng}, got {value!r}"
                         + (f" ({hint})" if hint else ""))


def psf_radiometric_mean(sr: torch.Tensor, factor: int, sigma: float) -> torch.Tensor:
    """Degrade fine LST (B, 1, H, W) as the sensor sees it: a Gaussian PSF of ``sigma`` fine
    pixels in radiance (``T^4``), then the radiometric block mean by ``factor``.

    ``sigma = 0`` is the box (:func:`~xlstsr.nn.ops.radiometric_mean_torch`). Edges replicate.
    The input must be finite (gap-filled model output).

    Examples
    --------
    >>> psf_radiometric_mean(torch.full((1, 1, 8, 8), 300.0), 4, 1.5).shape
    torch.Size([1, 1, 2, 2])
    """
    if sigma and sigma > 0:
        t4 = gaussian_lowpass((sr / T_REF) ** 4, float(sigma))
        sr = t4.clamp_min(1e-12) ** 0.25 * T_REF
    return radiometric_mean_torch(sr, factor)


def adaptation_loss(
    sr: torch.Tensor,
    lst_coarse: torch.Tensor,
    factor: int,
    config: Adaptation,
    *,
    guide: torch.Tensor | None = None,
    gain: float = -10.0,
    reference: torch.Tensor | None = None,
) -> torch.Tensor:
    """The self-supervised loss of one sample: ``alpha`` x Huber(PSF-degraded SR, coarse input)
    [+ ``(1 - alpha)`` x the SIF detail term with the guide] [+ ``anchor`` x Huber(SR, reference)].

    ``lst_coarse`` (B, 1, h, w) holds NaN where the input was a gap: those pixels are ignored.

    Examples
    --------
    >>> sr = torch.full((1, 1, 8, 8), 300.0)
    >>> float(adaptation_loss(sr, torch.full((1, 1, 2, 2), 300.0), 4, Adaptation()))
    0.0
    """
    loss = config.alpha * masked_huber(psf_radiometric_mean(sr, factor, config.psf_fine(factor)),
                                       lst_coarse)
    if guide is not None and config.alpha < 1.0:
        # sif_loss with alpha=0 is its detail term alone
        loss = loss + (1.0 - config.alpha) * sif_loss(sr, lst_coarse, guide, factor, alpha=0.0,
                                                      gain=gain)
    if reference is not None and config.anchor > 0:
        loss = loss + config.anchor * masked_huber(sr, reference)
    return loss


def scene_guide_gain(lst: np.ndarray, guide: np.ndarray, factor: int, default: float = -10.0) -> float:
    """Slope (K per guide unit) of coarse LST detail on block-averaged guide detail, one scene.

    The rule of :func:`xlstsr.train.fit_guide_gain` (Gaussian high-pass of 1 coarse pixel, the
    guide's first band averaged by ``factor``) for a single (h, w) LST and its (c, H, W) or (H, W)
    guide; ``default`` when the slope is not negative or too few pixels are valid. Unlike
    :func:`xlstsr.train.fit_guide_gain`, a weak (|r| < 0.1) negative slope is kept: adaptation
    follows the scene's own law, as measured in docs/results/adaptation.md.

    Examples
    --------
    >>> g = np.random.default_rng(0).uniform(0, 1, (32, 32))
    >>> lst = 300 - 12 * g.reshape(8, 4, 8, 4).mean(axis=(1, 3))
    >>> round(scene_guide_gain(lst, g, 4), 3)
    -12.0
    """
    from scipy import ndimage

    g = np.asarray(guide, np.float64)
    g = g[0] if g.ndim == 3 else g
    h, w = np.shape(lst)
    gc = g[: h * factor, : w * factor].reshape(h, factor, w, factor)
    with np.errstate(invalid="ignore"):
        gc = np.nanmean(gc, axis=(1, 3)) if np.isnan(gc).any() else gc.mean(axis=(1, 3))
    a = np.asarray(lst, np.float64)
    ok = np.isfinite(a) & np.isfinite(gc)
    if ok.sum() < 16:
        return float(default)
    af = np.where(ok, a, a[ok].mean())
    bf = np.where(ok, gc, gc[ok].mean())
    ha = (af - ndimage.gaussian_filter(af, 1.0, mode="nearest"))[ok]
    hb = (bf - ndimage.gaussian_filter(bf, 1.0, mode="nearest"))[ok]
    slope = float((ha * hb).sum() / max(float((hb * hb).sum()), 1e-12))
    return slope if slope < 0 and math.isfinite(slope) else float(default)


def sample_windows(valid: np.ndarray, window: int, n: int, seed: int) -> list[tuple[int, int, int, int]]:
    """The fixed sample of a scene adaptation sees: ``(y0, y1, x0, x1)`` coarse windows.

    The whole scene when it is no larger than ``window``; else ``n`` windows of that size drawn
    with ``seed`` among the positions whose window holds the most valid pixels (of 8 * n
    seeded candidates), so that the sample depends only on the valid mask and the seed.

    Examples
    --------
    >>> sample_windows(np.ones((10, 10), bool), 16, 4, 0)
    [(0, 10, 0, 10)]
    >>> len(sample_windows(np.ones((100, 100), bool), 16, 4, 0))
    4
    """
    h, w = valid.shape
    wy, wx = min(window, h), min(window, w)
    if wy == h and wx == w:
        return [(0, h, 0, w)]
    rng = np.random.default_rng(seed)
    cand = [(int(rng.integers(0, h - wy + 1)), int(rng.integers(0, w - wx + 1)))
            for _ in range(8 * n)]
    frac = [float(valid[y : y + wy, x : x + wx].mean()) for y, x in cand]
    order = sorted(range(len(cand)), key=lambda i: (-frac[i], i))  # stable: index breaks ties
    return [(cand[i][0], cand[i][0] + wy, cand[i][1], cand[i][1] + wx) for i in order[:n]]


def copy_model(model: torch.nn.Module) -> torch.nn.Module:
    """A private copy of ``model`` (structure, weights, devices): ``copy.deepcopy``, or, where
    torch cannot deepcopy the module, a round trip through ``torch.save``/``torch.load`` in
    memory.

    A module wrapped by the legacy ``torch.nn.utils.weight_norm`` holds a derived weight that
    is not a graph leaf, which ``deepcopy`` refuses with a raw RuntimeError; ``torch.save``
    stores it (the copy recomputes it from ``weight_g``/``weight_v`` at each forward).
    :class:`~xlstsr.errors.XlstsrError` naming the fix when neither works (a lock or an open
    file on the module).

    Examples
    --------
    >>> m = torch.nn.Conv2d(1, 1, 3)
    >>> c = copy_model(m)
    >>> c is m, torch.equal(c.weight, m.weight)
    (False, True)
    """
    try:
        return _leaf_parameters(copy.deepcopy(model))
    except (RuntimeError, TypeError, AttributeError, pickle.PicklingError) as err:
        first = err
    try:  # cloudpickle: a model class defined in a script or a function still travels
        import cloudpickle as pickle_module
    except ImportError:  # pragma: no cover - dask depends on cloudpickle
        pickle_module = pickle
    buf = io.BytesIO()
    try:
        torch.save(model, buf, pickle_module=pickle_module)
        return torch.load(io.BytesIO(buf.getvalue()), weights_only=False)
    except Exception as err:
        raise XlstsrError(
            f"xlstsr needs a private copy of the model ({type(model).__name__}) and torch can "
            f"neither deepcopy it ({type(first).__name__}: {str(first)[:120]}) nor save it "
            f"({type(err).__name__}: {str(err)[:120]}): remove what it holds that cannot be "
            "copied (a lock, an open file); for the legacy torch.nn.utils.weight_norm use "
            "torch.nn.utils.parametrizations.weight_norm, or torch.nn.utils.remove_weight_norm "
            "after training."
        ) from err


def _non_leaf(model: torch.nn.Module) -> bool:
    return any(p.is_floating_point() and not p.is_leaf for p in model.parameters())


def _reload_scripted(module: Any) -> Any:
    """``module`` with each TorchScript part (itself included) replaced by a
    ``torch.jit.save``/``torch.jit.load`` round trip of it, on the device its weights are on."""
    if isinstance(module, torch.jit.ScriptModule):
        p = next(iter(module.parameters()), None)
        buf = io.BytesIO()
        with warnings.catch_warnings():  # torch 2.9+: "deprecated, use torch.export"
            warnings.simplefilter("ignore", DeprecationWarning)
            torch.jit.save(module, buf)
            buf.seek(0)
            return torch.jit.load(buf, map_location=None if p is None else p.device)
    if isinstance(module, torch.nn.Module):
        for name, child in list(module._modules.items()):
            if child is not None:
                module._modules[name] = _reload_scripted(child)
    return module


def _leaf_parameters(copied: torch.nn.Module) -> torch.nn.Module:
    """A :func:`copy_model` copy whose floating-point parameters are graph leaves, as the
    optimiser needs: ``copy.deepcopy`` of a TorchScript module (``torch.jit.load``, alone or in
    the wrapper the checkpoint refusal advises) gives non-leaf parameters, and adapt= died in
    torch.optim with "can't optimize a non-leaf Tensor"; its TorchScript parts are reloaded."""
    if not _non_leaf(copied):
        return copied
    try:
        copied = _reload_scripted(copied)
    except Exception as err:
        raise _non_leaf_error(copied, err) from err
    if _non_leaf(copied):
        raise _non_leaf_error(copied, None)
    return copied


def _non_leaf_error(model: Any, err: Exception | None) -> XlstsrError:
    why = "" if err is None else f" (reloading its TorchScript parts failed: {str(err)[:120]})"
    return XlstsrError(
        f"adapt= fine-tunes the model's weights, and a copy of this model "
        f"({type(model).__name__}) has weights that are not trainable leaves{why}: a "
        "TorchScript part held outside the module tree, or weights computed from other tensors. "
        "Drop adapt=, or give an eager torch.nn.Module (an xlstsr architecture loaded with "
        "xlstsr.nn.load_model, or TorchScript parts as attributes of the module)."
    )


def adapt_model(
    model: torch.nn.Module,
    lst: np.ndarray,
    guide: np.ndarray | None = None,
    *,
    factor: int,
    valid: np.ndarray | None = None,
    config: Adaptation | None = None,
) -> torch.nn.Module:
    """A copy of ``model`` fine-tuned for ``config.steps`` steps on one scene (self-supervised).

    Parameters
    ----------
    model : nn.Module
        A model of the protocol of :mod:`xlstsr.methods.torch_model`; never modified.
    lst : ndarray, (h, w)
        The scene's coarse LST (K), gaps filled (the model's input).
    guide : ndarray, (c, h * factor, w * factor), optional
        Its fine guide, gaps filled, for guided models.
    factor : int
        Upscaling factor.
    valid : ndarray of bool, (h, w), optional
        Where ``lst`` was observed; the loss ignores the rest. Default: where it is finite.
    config : Adaptation
        Settings (default ``Adaptation()``).

    Returns
    -------
    nn.Module
        The adapted copy, in eval mode, without gradients, on the model's device.

    Raises
    ------
    XlstsrError
        ``config`` sets ``alpha < 1`` or ``gain`` without a guide (:meth:`Adaptation.check_guided`);
        or the adaptation diverged: its loss ended non-finite or above the unadapted model's
        (beyond :data:`DIVERGENCE_RTOL`), or its output gained NaN pixels; the message names
        ``lr`` (too large for this model) and the default.

    Examples
    --------
    >>> from xlstsr.nn import load_weights
    >>> model = load_weights("rescnn")
    >>> lst = np.full((16, 16), 300.0, np.float32)
    >>> lst[4:8, 4:8] = 310.0                      # a warm field: detail to make consistent
    >>> tuned = adapt_model(model, lst, factor=4, config=Adaptation(steps=3))
    >>> x = torch.from_numpy(lst)[None, None]
    >>> with torch.no_grad():
    ...     before = float(adaptation_loss(model(x), x, 4, Adaptation()))
    ...     after = float(adaptation_loss(tuned(x), x, 4, Adaptation()))
    >>> after < before
    True
    """
    if torch.is_inference_mode_enabled():
        # the caller's `with torch.inference_mode():`, which enable_grad does not leave: the
        # adaptation failed there, blaming the model's forward for a missing gradient
        with torch.inference_mode(False):
            return adapt_model(model, lst, guide, factor=factor, valid=valid, config=config)
    config = config or Adaptation()
    config.check_guided(guide is not None)
    # the cached (shared) model is never touched; weight_norm models cannot be deepcopied
    # (a copy made outside inference mode: normal tensors even from a model loaded inside it)
    tuned = copy_model(model).eval()
    if config.steps == 0:
        return tuned
    params = [p for p in tuned.parameters() if p.is_floating_point()]
    if not params:  # torch's bare "optimizer got an empty parameter list"
        raise XlstsrError(
            "adapt= fine-tunes the model's weights on each scene, and this model has none (no "
            "floating-point parameters): drop adapt=, or give a model with trainable weights."
        )
    dev = params[0].device
    lst = np.asarray(lst, np.float32)
    valid = np.isfinite(lst) if valid is None else np.asarray(valid, bool)
    target = np.where(valid, lst, np.nan).astype(np.float32)
    gain = -10.0
    detail = guide is not None and config.alpha < 1.0  # the loss's guide-detail term
    if detail:
        gain = float(config.gain) if config.gain is not None else scene_guide_gain(
            target, guide, factor)
    wins = sample_windows(valid, int(config.window), int(config.windows), int(config.seed))

    def stack(a: np.ndarray, f: int) -> torch.Tensor:
        return torch.from_numpy(np.stack([np.ascontiguousarray(a[..., y0 * f : y1 * f, x0 * f : x1 * f])
                                          for y0, y1, x0, x1 in wins])).to(dev)

    x = stack(lst, 1)[:, None]
    t = stack(target, 1)[:, None]
    g = None if guide is None else stack(np.asarray(guide, np.float32), factor)
    ref = None
    # the first forward is the engine's (xlstsr.nn.runtime.forward): its checks name a model in
    # float64 / float16 for float32 Kelvin (torch's raw "Input type (float) and bias type
    # (double)" otherwise) and an output of the wrong shape
    if config.anchor > 0:
        with torch.no_grad():
            ref = forward(tuned, x, g, factor=factor, check_finite=False).detach()
    for p in params:
        p.requires_grad_(True)
    opt = torch.optim.Adam(params, lr=float(config.lr))
    start, holes = math.nan, 0
    with torch.enable_grad():
        for step in range(int(config.steps)):
            opt.zero_grad(set_to_none=True)
            sr = (forward(tuned, x, g, factor=factor, check_finite=False) if step == 0
                  else tuned(x) if g is None else tuned(x, g))
            loss = adaptation_loss(sr, t, factor, config, guide=g, gain=gain, reference=ref)
            if not sr.requires_grad:  # torch's raw "element 0 of tensors does not require grad"
                raise XlstsrError(
                    f"adaptation needs a differentiable forward, and the model's "
                    f"({type(tuned).__name__}) output carries no gradient (torch.no_grad() or "
                    ".detach() inside its forward?): drop adapt=, or remove the no_grad from "
                    "the forward (the engine runs it without gradients anyway)."
                )
            value = float(loss.detach())
            if step == 0:  # the unadapted model's loss, and its output's non-finite pixels
                start, holes = value, int((~torch.isfinite(sr.detach())).sum())
            elif math.isfinite(start) and not math.isfinite(value):
                _diverged(config, f"took its loss from {start:.4g} to {value} in {step} steps",
                          detail, ref is not None)
            loss.backward()
            opt.step()
    for p in params:
        p.requires_grad_(False)
    tuned.eval()
    if math.isfinite(start):
        # the adapted model's loss: an adaptation that made its own objective worse (too large
        # a learning rate) gives a result further from the input than no adaptation. The loss
        # skips non-finite outputs: an output that became NaN counts as diverged too. Only the
        # terms that exist at step 0 are compared (consistency and detail): the anchor term is 0
        # there by construction (the reference is the unadapted output), so any adaptation that
        # moves the output would otherwise count as a growth of the loss
        with torch.no_grad():
            sr = tuned(x) if g is None else tuned(x, g)
            end = float(adaptation_loss(sr, t, factor, config, guide=g, gain=gain, reference=None))
            new_holes = int((~torch.isfinite(sr)).sum()) - holes
        if new_holes > 0:
            _diverged(config, f"made {new_holes} output pixel(s) NaN or infinite", detail,
                      ref is not None)
        if not math.isfinite(end) or end > start * (1.0 + DIVERGENCE_RTOL) + DIVERGENCE_ATOL:
            anchor = " (the anchor term left out: it is 0 before adapting)" if ref is not None else ""
            _diverged(config, f"took its loss from {start:.4g} to {end:.4g} in "
                              f"{int(config.steps)} steps{anchor}", detail, ref is not None)
    return tuned


#: an adaptation whose final loss exceeds its start by more than this (relative, plus the
#: absolute below, in the loss's units: ~K) diverged; less is the optimiser's noise around a
#: minimum already reached
DIVERGENCE_RTOL = 0.05
DIVERGENCE_ATOL = 1e-3


def _loss_terms(config: Adaptation, detail: bool, anchor: bool) -> str:
    """The terms of the loss that adaptation minimised, in words (``detail``: the guide-detail
    term is in it, a guided model with ``alpha < 1``; ``anchor``: the anchor term is)."""
    if not detail and not anchor:
        return "the output's consistency with the coarse input"
    alpha = float(config.alpha)
    terms = [f"{alpha:g} x the output's coarse consistency" if detail else
             "the output's coarse consistency"]
    if detail:
        gain = ("its gain fitted on the scene" if config.gain is None
                else f"gain {float(config.gain):g} K per guide unit")
        terms.append(f"{1.0 - alpha:g} x the guide-detail term ({gain})")
    if anchor:
        terms.append(f"{float(config.anchor):g} x the anchor to the unadapted output")
    return " + ".join(terms)


def _suggested(config: Adaptation, lr: float) -> dict[str, Any]:
    """The user's adaptation settings with only ``lr`` changed: steps and lr, and every other
    setting that is not the default (anchor, alpha, window...: rebuilt from steps and lr alone,
    following the advice ran another setting)."""
    default = Adaptation().as_dict()
    given = config.as_dict()
    return {"steps": given["steps"], "lr": lr,
            **{k: v for k, v in given.items() if k not in ("steps", "lr") and v != default[k]}}


def _diverged(config: Adaptation, what: str, detail: bool = False, anchor: bool = False) -> None:
    """Refuse a test-time adaptation whose loss became non-finite or grew: its learning rate is
    too large for this model (the result would be further from the input than without it).
    ``detail`` / ``anchor``: whether the loss held the guide-detail / anchor term."""
    default = Adaptation().lr
    suggest = float(f"{min(float(config.lr) / 10.0, default):g}")
    raise XlstsrError(
        f"test-time adaptation (adapt=) diverged: with lr={float(config.lr):g} it {what}, a "
        "learning rate too large for this model (the loss it minimises: "
        f"{_loss_terms(config, detail, anchor)}). Lower adapt's lr (default {default:g}), e.g. "
        f"adapt={_suggested(config, suggest)!r}, or drop adapt= to upscale with the model as it "
        "is."
    )


def tiled_forward(
    model: torch.nn.Module,
    lst: torch.Tensor,
    guide: torch.Tensor | None,
    factor: int,
    *,
    tile: int,
    halo: int,
) -> torch.Tensor:
    """``model(lst, guide)`` on (B, 1, h, w) computed tile by tile with a ``halo`` (coarse pixels,
    at least the receptive field): equal to the whole-image forward, without its whole-image
    buffers (a 4800^2 guided output needs ~10 GB at once).

    Examples
    --------
    >>> from xlstsr.nn import ResCNN
    >>> m = ResCNN(4, channels=4, n_blocks=1).eval()
    >>> x = 300 + torch.randn(1, 1, 20, 20)
    >>> with torch.no_grad():
    ...     d = (tiled_forward(m, x, None, 4, tile=8, halo=m.receptive_field) - m(x)).abs().max()
    >>> float(d) < 1e-3
    True
    """
    from .runtime import forward

    _, _, h, w = lst.shape
    if h <= tile and w <= tile:
        return forward(model, lst, guide, factor=factor)
    out = lst.new_empty((lst.shape[0], 1, h * factor, w * factor))
    for y0 in range(0, h, tile):
        for x0 in range(0, w, tile):
            y1, x1 = min(y0 + tile, h), min(x0 + tile, w)
            a0, a1, b0, b1 = max(0, y0 - halo), min(h, y1 + halo), max(0, x0 - halo), min(w, x1 + halo)
            xs = lst[..., a0:a1, b0:b1]
            gs = None if guide is None else guide[..., a0 * factor : a1 * factor, b0 * factor : b1 * factor]
            ys = forward(model, xs, gs, factor=factor)
            out[..., y0 * factor : y1 * factor, x0 * factor : x1 * factor] = ys[
                ..., (y0 - a0) * factor : (y1 - a0) * factor, (x0 - b0) * factor : (x1 - b0) * factor]
    return out

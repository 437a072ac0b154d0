"""Training losses for LST super-resolution, NaN-aware (invalid pixels are masked out).

- :func:`masked_huber`: Huber over valid pixels only; NaN targets give neither NaN losses nor NaN
  gradients.
- :func:`patch_log_mse`: the mean over patches of the log of each patch's mean squared error: the
  loss whose gain is the mean PSNR gain over patches (each patch counts by its *relative* error,
  so low-contrast night patches weigh as much as contrasted day ones).
- :func:`coarse_consistency`: Huber between the radiometric aggregate of the SR field
  (:func:`~xlstsr.nn.ops.radiometric_mean_torch`, equal to the library's degradation operator) and
  the coarse input.
- :func:`sif_loss`: the scale-invariance-free DISR loss of Ait-Bachir et al. (2025),
  ``a * Huber(degrade(SR), LST_coarse) + (1 - a) * Huber(HP(SR), g * HP(guide))``, needing no fine
  LST at all.
- :func:`supervised_loss`: cross-sensor supervision (fine truth from another sensor) plus texture
  terms: Huber on high-pass detail, and a spectral term matching the high-pass energy of SR and truth.
"""

from __future__ import annotations

import torch
import torch.nn.functional as F

from .ops import T_REF, gaussian_highpass, gaussian_lowpass, radiometric_mean_torch

__all__ = [
    "coarse_consistency",
    "hp_energy_log_ratio",
    "masked_huber",
    "patch_log_mse",
    "psf_blur",
    "sif_loss",
    "supervised_loss",
]


def masked_huber(
    pred: torch.Tensor, target: torch.Tensor, mask: torch.Tensor | None = None, delta: float = 1.0
) -> torch.Tensor:
    """Mean Huber loss over pixels where ``mask`` is True and both inputs are finite.

    Examples
    --------
    >>> t = torch.tensor([1.0, float("nan")])
    >>> float(masked_huber(torch.zeros(2), t))
    0.5
    """
    ok = torch.isfinite(target) & torch.isfinite(pred)
    if mask is not None:
        ok = ok & mask.bool()
    zero = torch.zeros_like(pred)
    p = torch.where(ok, pred, zero)
    t = torch.where(ok, target, zero)
    per = F.huber_loss(p, t, reduction="none", delta=delta)
    n = ok.sum()
    return torch.where(n > 0, (per * ok).sum() / n.clamp_min(1), per.sum() * 0.0)


def patch_log_mse(
    pred: torch.Tensor, target: torch.Tensor, mask: torch.Tensor | None = None, eps: float = 1e-3
) -> torch.Tensor:
    """Mean over patches of ``log(MSE_patch + eps)`` (valid pixels only; ``eps`` in K^2).

    A patch's PSNR is ``10 log10(range^2 / MSE)``, so lowering this loss by ``d`` raises the mean
    PSNR over patches by ``10 d / ln 10`` dB, whatever each patch's range: minimising it is
    minimising the per-patch PSNR loss of MRUNet's protocol. Its gradient is a patch's MSE
    gradient divided by that patch's error, so well-predicted patches (night, flat ground) are
    not drowned by the contrasted ones. Patches without a valid pixel count as zero.

    Examples
    --------
    >>> t = torch.zeros(2, 1, 2, 2)
    >>> p = torch.stack([torch.full((1, 2, 2), 1.0), torch.full((1, 2, 2), 0.1)])
    >>> round(float(patch_log_mse(p, t, eps=0.0)), 4)  # (log 1 + log 0.01) / 2
    -2.3026
    """
    ok = torch.isfinite(target) & torch.isfinite(pred)
    if mask is not None:
        ok = ok & mask.bool()
    d = torch.where(ok, pred - torch.where(ok, target, torch.zeros_like(target)), torch.zeros_like(pred))
    dims = tuple(range(1, pred.ndim))
    n = ok.sum(dim=dims)
    mse = (d**2).sum(dim=dims) / n.clamp_min(1)
    per = torch.where(n > 0, torch.log(mse + eps), torch.zeros_like(mse))
    return per.mean()


def psf_blur(sr: torch.Tensor, sigma: float) -> torch.Tensor:
    """Gaussian PSF of ``sigma`` fine pixels applied in radiance (T^4) space to (B, C, H, W) LST
    without gaps: torch twin of :func:`xlstsr.kernels.aggregate.gaussian_psf`."""
    r4 = (sr / T_REF) ** 4
    return gaussian_lowpass(r4, sigma).clamp_min(1e-12) ** 0.25 * T_REF


def coarse_consistency(
    sr: torch.Tensor,
    lst_coarse: torch.Tensor,
    factor: int,
    delta: float = 1.0,
    psf_sigma: float | None = None,
) -> torch.Tensor:
    """Huber between the SR seen by the coarse sensor and the coarse LST (valid coarse pixels).

    The sensor model is the radiometric block mean (``radiometric_mean(SR, factor)``), after a
    Gaussian PSF of ``psf_sigma`` fine pixels when given (a MODIS LST pixel is a box blurred by
    a Gaussian of ~350 m: ``psf_sigma=1.51`` at 1 km -> 250 m; :data:`xlstsr.grid.MODIS_LST_PSF_SIGMA`).

    Examples
    --------
    >>> truth = 300 + torch.randn(1, 1, 16, 16)
    >>> seen = radiometric_mean_torch(psf_blur(truth, 1.5), 4)
    >>> float(coarse_consistency(truth, seen, 4, psf_sigma=1.5)) < 1e-6
    True
    """
    if psf_sigma:
        sr = psf_blur(sr, float(psf_sigma))
    return masked_huber(radiometric_mean_torch(sr, factor), lst_coarse, delta=delta)


def _valid_hp(x: torch.Tensor, sigma: float) -> tuple[torch.Tensor, torch.Tensor]:
    """High-pass of a field with gaps: gaps filled by the image mean, then masked (with margin)."""
    ok = torch.isfinite(x)
    mean = torch.where(ok, x, torch.zeros_like(x)).sum(dim=(-2, -1), keepdim=True) / ok.sum(
        dim=(-2, -1), keepdim=True
    ).clamp_min(1)
    filled = torch.where(ok, x, mean.expand_as(x))
    hp = gaussian_highpass(filled, sigma)
    r = max(1, round(2 * sigma))
    bad = F.max_pool2d((~ok).to(x.dtype), 2 * r + 1, stride=1, padding=r) > 0
    return hp, ~bad


def sif_loss(
    sr: torch.Tensor,
    lst_coarse: torch.Tensor,
    guide: torch.Tensor,
    factor: int,
    *,
    alpha: float = 0.5,
    gain: float = -10.0,
    sigma: float | None = None,
    delta: float = 1.0,
    psf_sigma: float | None = None,
) -> torch.Tensor:
    """Scale-invariance-free loss (Ait-Bachir et al. 2025) for guided SR without fine LST.

    ``alpha * Huber(degrade(SR), LST_coarse) + (1 - alpha) * Huber(HP(SR), gain * HP(guide))``,
    with ``degrade`` the radiometric block mean (the operator used to measure coarse consistency),
    after the sensor's Gaussian PSF of ``psf_sigma`` fine pixels when given
    (:func:`coarse_consistency`), and ``HP(x) = x - G_sigma * x`` (default ``sigma = factor / 2`` fine pixels: detail below the
    coarse pixel scale). ``gain`` (K per guide unit) is negative for NDVI: fine LST detail
    anti-correlates with vegetation detail. :func:`xlstsr.train.fit_guide_gain` fits it at the
    coarse scale from the data. Only the first guide band drives the detail term.

    Parameters
    ----------
    sr : Tensor (B, 1, H, W)
        Super-resolved LST, Kelvin.
    lst_coarse : Tensor (B, 1, H/f, W/f)
        Coarse input LST (NaN gaps are ignored).
    guide : Tensor (B, C, H, W)
        Fine guide (NaN gaps are ignored).
    """
    sigma = factor / 2.0 if sigma is None else sigma
    cons = coarse_consistency(sr, lst_coarse, factor, delta, psf_sigma)
    hp_g, ok_g = _valid_hp(guide[:, :1], sigma)
    hp_s = gaussian_highpass(sr, sigma)
    detail = masked_huber(hp_s, gain * hp_g, ok_g, delta)
    return alpha * cons + (1.0 - alpha) * detail


def hp_energy_log_ratio(
    a: torch.Tensor, b: torch.Tensor, mask: torch.Tensor, sigma: float
) -> torch.Tensor:
    """Squared log ratio of the high-pass energies of ``a`` and ``b`` over ``mask`` (per image).

    0 when SR holds as much fine detail as the reference: a differentiable stand-in for the
    spectral ratio of :mod:`xlstsr.metrics`.
    """
    hp_a, hp_b = gaussian_highpass(a, sigma), gaussian_highpass(b, sigma)
    m = mask.to(a.dtype)
    n = m.sum(dim=(-2, -1)).clamp_min(1)
    ea = (hp_a**2 * m).sum(dim=(-2, -1)) / n
    eb = (hp_b**2 * m).sum(dim=(-2, -1)) / n
    has = m.sum(dim=(-2, -1)) > 16
    lr = torch.log((ea + 1e-4) / (eb + 1e-4)) ** 2
    return torch.where(has, lr, torch.zeros_like(lr)).sum() / has.sum().clamp_min(1)


def supervised_loss(
    sr: torch.Tensor,
    target: torch.Tensor,
    lst_coarse: torch.Tensor | None = None,
    factor: int | None = None,
    *,
    w_detail: float = 0.0,
    w_spectral: float = 0.0,
    w_consistency: float = 0.0,
    sigma: float | None = None,
    delta: float = 1.0,
    fidelity: str = "huber",
    eps: float = 1e-3,
    psf_sigma: float | None = None,
) -> torch.Tensor:
    """Huber to a fine truth (NaN truth masked out), plus optional texture and consistency terms.

    ``w_detail`` weighs a Huber between the high-passes of SR and truth, ``w_spectral`` the log
    ratio of their high-pass energies (:func:`hp_energy_log_ratio`), ``w_consistency`` the coarse
    consistency with the input (:func:`coarse_consistency`, through the sensor PSF of
    ``psf_sigma`` fine pixels when given). ``fidelity="log_mse"`` replaces the
    Huber to the truth by :func:`patch_log_mse` (with ``eps``): the mean per-patch PSNR loss.
    """
    if fidelity == "huber":
        loss = masked_huber(sr, target, delta=delta)
    elif fidelity == "log_mse":
        loss = patch_log_mse(sr, target, eps=eps)
    else:
        raise ValueError(f"fidelity must be 'huber' or 'log_mse', got {fidelity!r}")
    if w_detail or w_spectral:
        f = factor or 4
        s = f / 2.0 if sigma is None else sigma
        hp_t, ok_t = _valid_hp(target, s)
        if w_detail:
            loss = loss + w_detail * masked_huber(gaussian_highpass(sr, s), hp_t, ok_t, delta)
        if w_spectral:
            filled = torch.where(torch.isfinite(target), target, sr.detach())
            loss = loss + w_spectral * hp_energy_log_ratio(sr, filled, ok_t, s)
    if w_consistency and lst_coarse is not None and factor:
        loss = loss + w_consistency * coarse_consistency(sr, lst_coarse, factor, delta,
                                                         psf_sigma)
    return loss

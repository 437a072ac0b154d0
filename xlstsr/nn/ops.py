"""Differentiable torch counterparts of the numpy kernels: bicubic upsampling, radiometric
degradation and high-pass filters.

They reproduce :func:`xlstsr.kernels.interp.cubic_upsample` and
:func:`xlstsr.kernels.aggregate.radiometric_mean` (tested equal), so that a model's built-in
upsampling and a loss's coarse-consistency term use exactly the operators the rest of the library
uses to evaluate.

On a GPU they convolve in full float32 (TF32 off, :func:`xlstsr.nn.runtime.full_float32`): they
take raw Kelvin, which TF32's 10-bit mantissa rounds to steps of 0.25 K near 300 K.
"""

from __future__ import annotations

import contextlib
import math
from typing import Any

import numpy as np
import torch
import torch.nn.functional as F

from ..kernels.interp import KEYS_A, _keys_weights
from . import runtime

__all__ = [
    "cubic_kernel_bank",
    "cubic_upsample_torch",
    "gaussian_highpass",
    "gaussian_lowpass",
    "radiometric_mean_torch",
    "sobel",
]

#: Reference temperature (K) used to keep T^4 sums well conditioned in float32.
T_REF = 300.0


def cubic_kernel_bank(factor: int, a: float = KEYS_A) -> np.ndarray:
    """(factor, 5) taps: output phase ``p`` reads input offsets -2..2 around its coarse pixel.

    Fine pixel ``i*f + p`` has its centre at coarse coordinate ``i + (p + 0.5)/f - 0.5``, which is
    in (-0.5, 0.5) of pixel ``i``; its 4 Keys neighbours are offsets ``base-1 .. base+2`` with
    ``base`` = -1 or 0, all inside -2..2.
    """
    bank = np.zeros((factor, 5))
    for p in range(factor):
        x = (p + 0.5) / factor - 0.5
        base = int(np.floor(x))
        w = _keys_weights(x - base, a)
        for m in range(4):
            bank[p, base - 1 + m + 2] = w[m]
    return bank


def _exact(x: torch.Tensor) -> Any:
    """TF32 off while convolving ``x`` on a GPU (cuDNN's default rounds Kelvin to 0.25 K)."""
    return runtime.full_float32() if runtime._on_cuda(x) else contextlib.nullcontext()


def _upsample_last(x: torch.Tensor, weight: torch.Tensor, factor: int) -> torch.Tensor:
    *lead, n = x.shape
    flat = x.reshape(-1, 1, n)
    flat = F.pad(flat, (2, 2), mode="replicate")
    out = F.conv1d(flat, weight)  # (N, f, n)
    return out.transpose(1, 2).reshape(*lead, n * factor)


def cubic_upsample_torch(
    x: torch.Tensor, factor: int, weight: torch.Tensor | None = None
) -> torch.Tensor:
    """Keys (a = -0.5) cubic upsampling of the last two axes, edge replicate, pixel-area aligned.

    Equal (to float rounding) to :func:`xlstsr.kernels.interp.cubic_upsample`. Receptive field:
    2 coarse pixels.

    Examples
    --------
    >>> cubic_upsample_torch(torch.full((1, 1, 2, 2), 300.0), 4).shape
    torch.Size([1, 1, 8, 8])
    """
    if factor == 1:
        return x
    if weight is None:
        weight = torch.as_tensor(cubic_kernel_bank(factor), dtype=x.dtype, device=x.device)[
            :, None, :
        ]
    weight = weight.to(dtype=x.dtype, device=x.device)
    with _exact(x):
        out = _upsample_last(x, weight, factor)
        out = _upsample_last(out.transpose(-1, -2), weight, factor)
    return out.transpose(-1, -2)


def radiometric_mean_torch(
    lst: torch.Tensor, factor: int, *, min_valid: float = 1.0
) -> torch.Tensor:
    """Radiometric block aggregate ``(mean T^4)^(1/4)`` of (..., Y, X) LST, NaN-aware.

    Torch twin of :func:`xlstsr.kernels.aggregate.radiometric_mean` (no emissivity): a coarse pixel
    is NaN when fewer than ``min_valid * f^2`` of its fine pixels are finite. Differentiable, and
    NaN inputs give zero (not NaN) gradients to the valid pixels.

    Examples
    --------
    >>> radiometric_mean_torch(torch.full((4, 4), 300.0), 2).shape
    torch.Size([2, 2])
    """
    *lead, ny, nx = lst.shape
    if ny % factor or nx % factor:
        raise ValueError(f"shape {(ny, nx)} is not a multiple of factor {factor}")
    t = lst.reshape(*lead, ny // factor, factor, nx // factor, factor)
    valid = torch.isfinite(t)
    r = torch.where(valid, t / T_REF, torch.ones_like(t))
    t4 = torch.where(valid, r**4, torch.zeros_like(t))
    n = valid.sum(dim=(-3, -1)).to(lst.dtype)
    s = t4.sum(dim=(-3, -1))
    ok = (n >= min_valid * factor * factor - 1e-9) & (n > 0)
    mean = torch.where(ok, s / n.clamp_min(1.0), torch.ones_like(s))
    out = mean.clamp_min(1e-12) ** 0.25 * T_REF
    return torch.where(ok, out, torch.full_like(out, float("nan")))


def _gauss_taps(sigma: float, dtype, device) -> torch.Tensor:
    r = max(1, int(np.ceil(3 * sigma)))
    k = np.exp(-0.5 * (np.arange(-r, r + 1) / sigma) ** 2)
    return torch.as_tensor(k / k.sum(), dtype=dtype, device=device)


def gaussian_lowpass(x: torch.Tensor, sigma: float) -> torch.Tensor:
    """Separable Gaussian blur of (B, C, H, W), edge replicate; ``sigma`` (pixels) 0: no blur.

    Raises
    ------
    ValueError
        ``sigma`` negative or not finite.

    Examples
    --------
    >>> gaussian_lowpass(torch.full((1, 1, 3, 3), 300.0), 0.0)[0, 0, 0].tolist()
    [300.0, 300.0, 300.0]
    """
    # sigma 0 divided by zero in the taps (all NaN); a negative one gave a blur-free kernel
    s = float(sigma)
    if not math.isfinite(s) or s < 0:
        raise ValueError(f"gaussian sigma must be a finite number >= 0 (pixels; 0: no blur), "
                         f"got {sigma!r}")
    if s == 0:
        return x.clone()
    b, c, h, w = x.shape
    k = _gauss_taps(sigma, x.dtype, x.device)
    r = (k.numel() - 1) // 2
    y = x.reshape(b * c, 1, h, w)
    with _exact(x):
        y = F.conv2d(F.pad(y, (r, r, 0, 0), mode="replicate"), k.view(1, 1, 1, -1))
        y = F.conv2d(F.pad(y, (0, 0, r, r), mode="replicate"), k.view(1, 1, -1, 1))
    return y.reshape(b, c, h, w)


def gaussian_highpass(x: torch.Tensor, sigma: float) -> torch.Tensor:
    """High-pass ``x - G_sigma * x`` (B, C, H, W): the detail a super-resolution step must add
    (0 where ``x`` is finite for ``sigma`` 0; a negative or non-finite ``sigma`` raises
    ValueError, :func:`gaussian_lowpass`)."""
    return x - gaussian_lowpass(x, sigma)


def sobel(x: torch.Tensor) -> torch.Tensor:
    """Sobel derivatives of (B, C, H, W): (B, 2C, H, W) = d/dy and d/dx per channel."""
    b, c, h, w = x.shape
    kx = (
        torch.tensor(
            [[-1.0, 0.0, 1.0], [-2.0, 0.0, 2.0], [-1.0, 0.0, 1.0]], dtype=x.dtype, device=x.device
        )
        / 8.0
    )
    k = torch.stack([kx.T, kx])[:, None]  # (2, 1, 3, 3)
    with _exact(x):
        y = F.conv2d(F.pad(x.reshape(b * c, 1, h, w), (1, 1, 1, 1), mode="replicate"), k)
    return y.reshape(b, 2 * c, h, w)

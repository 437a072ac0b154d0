"""The base every built-in architecture shares: the model protocol, normalisation, bicubic residual.

Every model follows the protocol the inference engine (:class:`xlstsr.methods.torch_model.
TorchModelMethod`) runs:

- int attributes ``factor``, ``n_guide`` (0 for SISR) and ``receptive_field`` (coarse pixels: an
  output pixel depends only on coarse inputs at most this far away; the engine's halo);
- ``forward(lst, guide=None)`` with ``lst`` (B, 1, h, w) Kelvin float32 without gaps and ``guide``
  (B, n_guide, h*f, w*f) or None (may hold NaN: replaced by the guide mean and flagged in an extra
  validity channel), returning (B, 1, h*f, w*f) Kelvin;
- normalisation inside the model (buffers ``lst_offset``, ``lst_scale``, ``guide_mean``,
  ``guide_std``, saved with the weights);
- residual over the built-in bicubic upsampling (:func:`~xlstsr.nn.ops.cubic_upsample_torch`,
  equal to :func:`xlstsr.kernels.interp.cubic_upsample`): an untrained or zeroed head is bicubic;
- class attribute ``arch`` (the name in :data:`xlstsr.nn.registry.ARCHITECTURES`) and property
  ``config`` (constructor arguments): what a checkpoint stores to rebuild the model.

No normalisation layer that mixes pixels (batch or group norm) is used: outputs are local, so the
engine's chunked inference with a halo equals whole-image inference.

Examples
--------
>>> import torch
>>> from xlstsr.nn import ResCNN
>>> m = ResCNN(4, channels=4, n_blocks=1)
>>> isinstance(m, _LSTModel), m.config
(True, {'factor': 4, 'channels': 4, 'n_blocks': 1})
>>> bool(torch.equal(m(torch.full((1, 1, 4, 4), 300.0)), torch.full((1, 1, 16, 16), 300.0)))
True
"""

from __future__ import annotations

import math
import numbers
from typing import Any

import torch
from torch import nn

from ..errors import GridError, XlstsrError
from .ops import cubic_kernel_bank, cubic_upsample_torch

__all__ = ["BICUBIC_RF", "ResBlock"]

#: receptive field of the Keys bicubic upsampling, coarse pixels
BICUBIC_RF = 2


def _arg(arch: str, name: str, value: Any, low: int, hint: str) -> int:
    """A constructor argument of a built-in architecture as an int, or an
    :class:`~xlstsr.errors.XlstsrError` naming it when it is not a whole number >= ``low``
    (``factor=2.5`` reached torch as a convolution error, ``n_blocks=-1`` built a model without
    blocks, ``channels=8.7`` became 8)."""
    ok = (isinstance(value, numbers.Real) and not isinstance(value, bool)
          and math.isfinite(value) and float(value).is_integer() and value >= low)
    if not ok:
        what = "a positive integer" if low == 1 else f"a whole number >= {low}"
        cls = GridError if name == "factor" else XlstsrError
        raise cls(f"{arch}: {name} must be {what}, got {value!r} ({hint})")
    return int(value)


def _stats(name: str, value: Any, size: int, n_guide: int) -> torch.Tensor | None:
    """A guide statistic (one value per band, or one for every band) as a float32 tensor of the
    buffer's ``size``; a list of another length refused (torch's raw broadcast error before).
    None (nothing to set) for the empty list of a model of no guide band: what its own
    ``normalisation()`` gives, so that ``set_normalisation(**other.normalisation())`` copies
    one unguided model's statistics to another (it was refused)."""
    try:
        t = torch.as_tensor(value, dtype=torch.float32).reshape(-1)
    except (TypeError, ValueError, RuntimeError) as err:
        raise XlstsrError(f"set_normalisation: {name} must be numbers, one per guide band, got "
                          f"{value!r}") from err
    if not n_guide and t.numel() == 0:
        return None
    if not n_guide or t.numel() not in (1, size):
        # an unguided model holds one placeholder entry: a single value was taken without a
        # word (guide statistics given to the wrong model), more were refused
        fix = ("give one per band (in the guide's band order), or one for every band"
               if n_guide else f"it takes no guide: leave {name} out (None)")
        raise XlstsrError(f"set_normalisation: {name} holds {t.numel()} value"
                          f"{'s' if t.numel() > 1 else ''}, but the model "
                          f"takes {n_guide} guide band(s): {fix}")
    return t.expand(size).clone()


def _one_number(value: Any) -> float | None:
    """``value`` as a float where it is one real number (a Python or numpy number, a one-value
    array or tensor), else None (None, a string, several values)."""
    if value is None or isinstance(value, (str, bytes, bool)):
        return None
    try:
        a = torch.as_tensor(value, dtype=torch.float64).reshape(-1)
    except (TypeError, ValueError, RuntimeError):
        return None
    return float(a[0]) if a.numel() == 1 else None


def normalisation_problem(lst_offset: Any, lst_scale: Any, guide_mean: Any = None,
                          guide_std: Any = None) -> str | None:
    """What is wrong with a model's normalisation (None: nothing): the offset and means must be
    finite, the scale and stds finite and > 0 (a scale of 0 gave NaN everywhere, a negative one
    flipped the input's sign without a word). :meth:`_LSTModel.set_normalisation` and
    :func:`xlstsr.nn.checkpoint.save_model` refuse it.

    Examples
    --------
    >>> normalisation_problem(300.0, 10.0, [0.5], [0.2]) is None
    True
    >>> normalisation_problem(300.0, 10.0, [0.5], [0.0])
    'guide_std must be finite numbers > 0 (the spread of each guide band), got [0.0]'
    """
    def values(v: Any) -> list[float]:
        return [float(x) for x in torch.as_tensor(v, dtype=torch.float64).reshape(-1)]

    # None or an array reached float() as a raw TypeError
    offset = _one_number(lst_offset)
    if offset is None or not math.isfinite(offset):
        return f"lst_offset must be a finite number (Kelvin, e.g. 300.0), got {lst_offset!r}"
    scale = _one_number(lst_scale)
    if scale is None or not (math.isfinite(scale) and scale > 0):
        return (f"lst_scale must be a finite number > 0 (the LST's spread in K, e.g. 10.0: the "
                f"model divides by it), got {lst_scale!r}")
    if guide_mean is not None and not all(math.isfinite(x) for x in values(guide_mean)):
        return f"guide_mean must be finite numbers, got {values(guide_mean)}"
    if guide_std is not None and not all(math.isfinite(x) and x > 0 for x in values(guide_std)):
        return (f"guide_std must be finite numbers > 0 (the spread of each guide band), got "
                f"{values(guide_std)}")
    return None


class _LSTModel(nn.Module):
    """Shared plumbing: normalisation buffers, bicubic upsampling, config for checkpoints."""

    arch: str = ""

    def __init__(self, factor: int, n_guide: int = 0) -> None:
        super().__init__()
        arch = type(self).__name__
        self.factor = _arg(arch, "factor", factor, 1, "the upscaling factor, e.g. 4")
        self.n_guide = _arg(arch, "n_guide", n_guide, 0, "guide bands, e.g. 1 for NDVI")
        self.register_buffer("lst_offset", torch.tensor(300.0))
        self.register_buffer("lst_scale", torch.tensor(10.0))
        self.register_buffer("guide_mean", torch.zeros(max(self.n_guide, 1)))
        self.register_buffer("guide_std", torch.ones(max(self.n_guide, 1)))
        self.register_buffer(
            "cubic_weight",
            torch.as_tensor(cubic_kernel_bank(self.factor), dtype=torch.float32)[:, None],
        )
        self._config: dict[str, Any] = {"factor": self.factor}

    def _restore_cubic_weight(self) -> None:
        """Rebuild ``cubic_weight`` from ``factor`` (a constant of it, persistent only for
        checkpoints written before): a bfloat16 round trip (``model.to(torch.bfloat16).float()``)
        or a checkpoint saved in bfloat16 left the kernel bank rounded, a bias of the bicubic
        base of every output (+0.3 K) after the advised ``model.float()``. Kept as it is in
        float16/bfloat16 (refused by the engine) or on the meta device (no data)."""
        w = self._buffers.get("cubic_weight")
        if (w is None or w.dtype not in (torch.float32, torch.float64)
                or w.device.type == "meta"):
            return
        exact = torch.as_tensor(cubic_kernel_bank(self.factor), dtype=w.dtype)[:, None]
        exact = exact.to(w.device)
        if exact.shape == w.shape and not torch.equal(w, exact):
            # a new tensor, not copy_: the old one may be an inference-mode tensor
            self._buffers["cubic_weight"] = torch.empty_like(w).copy_(exact)

    def _apply(self, fn: Any, *args: Any, **kwargs: Any) -> Any:
        w = self._buffers.get("cubic_weight")
        # rounded only where it was in half precision before this move (.float() after .to(
        # torch.bfloat16)); a move between devices or layouts keeps it exact, with no rebuild
        rounded = w is not None and w.dtype not in (torch.float32, torch.float64)
        out = super()._apply(fn, *args, **kwargs)  # .to(), .float(), .double(), .cuda()...
        if rounded:
            self._restore_cubic_weight()
        return out

    def _load_from_state_dict(self, state_dict: Any, prefix: str, *args: Any) -> None:
        super()._load_from_state_dict(state_dict, prefix, *args)
        self._restore_cubic_weight()  # a checkpoint saved in bfloat16 held it rounded

    @property
    def config(self) -> dict[str, Any]:
        """Constructor arguments (rebuild with ``ARCHITECTURES[arch](**config)``)."""
        return dict(self._config)

    @property
    def guide_fill_value(self) -> float | tuple[float, ...]:
        """Value the inference engine puts in guide gaps it cannot fill locally: the guide
        mean, one float for one band, one per band for several (band 1's mean filled every
        band: 10 std off for a second band of another scale, flagged valid)."""
        if self.n_guide <= 1:
            return float(self.guide_mean[0]) if self.n_guide else 0.0
        return tuple(float(v) for v in self.guide_mean[: self.n_guide])

    def set_normalisation(
        self,
        lst_offset: float,
        lst_scale: float,
        guide_mean: Any | None = None,
        guide_std: Any | None = None,
    ) -> None:
        """Set the input statistics (Kelvin offset and scale; per-guide-band mean and std: one
        value per guide band, or one for every band).

        Raises
        ------
        XlstsrError
            A value not finite, a scale or std not > 0 (the model then gave NaN everywhere, or
            a negated input), or a guide list of another length than the model's guide bands.

        Examples
        --------
        >>> from xlstsr.nn import ResCNN
        >>> ResCNN(4, channels=4, n_blocks=1).set_normalisation(300.0, 0.0)
        Traceback (most recent call last):
        ...
        xlstsr.errors.XlstsrError: set_normalisation: lst_scale must be a finite number > 0 ...
        """
        n = int(self.guide_mean.numel())
        mean = None if guide_mean is None else _stats("guide_mean", guide_mean, n, self.n_guide)
        std = None if guide_std is None else _stats("guide_std", guide_std, n, self.n_guide)
        problem = normalisation_problem(lst_offset, lst_scale, mean, std)
        if problem:
            raise XlstsrError(f"set_normalisation: {problem}")
        self.lst_offset.fill_(_one_number(lst_offset))  # checked: one finite number each
        self.lst_scale.fill_(_one_number(lst_scale))
        if mean is not None:
            self.guide_mean.copy_(mean)
        if std is not None:
            self.guide_std.copy_(std)

    def normalisation(self) -> dict[str, Any]:
        return {
            "lst_offset": float(self.lst_offset),
            "lst_scale": float(self.lst_scale),
            "guide_mean": self.guide_mean[: self.n_guide].tolist(),
            "guide_std": self.guide_std[: self.n_guide].tolist(),
        }

    def upsample(self, lst: torch.Tensor) -> torch.Tensor:
        """The built-in bicubic upsampling (equal to the numpy ``cubic_upsample``)."""
        return cubic_upsample_torch(lst, self.factor, self.cubic_weight)

    def _check(self, lst: torch.Tensor, guide: torch.Tensor | None) -> None:
        if lst.ndim != 4 or lst.shape[1] != 1:
            raise ValueError(f"lst must be (B, 1, h, w), got {tuple(lst.shape)}")
        if self.n_guide:
            f = self.factor
            want = (lst.shape[0], self.n_guide, lst.shape[2] * f, lst.shape[3] * f)
            if guide is None:
                raise ValueError(f"{type(self).__name__} needs a guide of shape {want}")
            if tuple(guide.shape) != want:
                raise ValueError(f"guide must have shape {want}, got {tuple(guide.shape)}")

    def _norm_guide(self, guide: torch.Tensor) -> torch.Tensor:
        n = self.n_guide
        g = (guide - self.guide_mean[:n, None, None]) / self.guide_std[:n, None, None]
        ok = torch.isfinite(g)
        g = torch.where(ok, g, torch.zeros_like(g))
        return torch.cat([g, ok.to(g.dtype)], dim=1)


class ResBlock(nn.Module):
    """Residual block ``x + conv(leaky_relu(conv(x)))`` (two 3x3 convolutions, same channels)."""

    def __init__(self, ch: int) -> None:
        super().__init__()
        self.c1 = nn.Conv2d(ch, ch, 3, padding=1)
        self.c2 = nn.Conv2d(ch, ch, 3, padding=1)
        self.act = nn.LeakyReLU(0.1)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return x + self.c2(self.act(self.c1(x)))

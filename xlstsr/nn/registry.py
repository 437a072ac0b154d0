"""Architectures by name: what a checkpoint's ``arch`` field refers to.

A checkpoint stores the architecture's *name* and constructor arguments, never a pickled class or
module path (:mod:`xlstsr.nn.checkpoint`), so classes can move between modules without breaking
saved weights; a new architecture is one module plus one line here.

Examples
--------
>>> sorted(ARCHITECTURES)
['guided_rescnn', 'guided_unet', 'mrunet', 'rescnn']
>>> build_model("mrunet", factor=4, base=4).config
{'factor': 4, 'base': 4, 'levels': 2}
"""

from __future__ import annotations

from typing import Any

from .base import _LSTModel
from .rescnn import GuidedResCNN, ResCNN
from .resunet import GuidedUNet, MRUNet

__all__ = ["ARCHITECTURES", "build_model"]

#: architecture name -> class
ARCHITECTURES: dict[str, type[_LSTModel]] = {
    ResCNN.arch: ResCNN,
    MRUNet.arch: MRUNet,
    GuidedUNet.arch: GuidedUNet,
    GuidedResCNN.arch: GuidedResCNN,
}


def build_model(arch: str, **config: Any) -> _LSTModel:
    """Instantiate an architecture by name (``"rescnn"``, ``"mrunet"``, ``"guided_unet"``,
    ``"guided_rescnn"``).

    Parameters
    ----------
    arch : str
        A key of :data:`ARCHITECTURES`.
    **config
        Constructor arguments (a checkpoint's ``config``).

    Returns
    -------
    torch.nn.Module
        The untrained model (its output head starts at zero: it is bicubic).

    Raises
    ------
    KeyError
        Unknown architecture name.
    """
    if arch not in ARCHITECTURES:
        raise KeyError(f"unknown architecture {arch!r}; known: {sorted(ARCHITECTURES)}")
    return ARCHITECTURES[arch](**config)

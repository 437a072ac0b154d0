"""Neural networks for LST super-resolution: models, torch operators, losses and checkpoints.

Examples
--------
>>> import torch
>>> from xlstsr.nn import ResCNN
>>> ResCNN(4)(torch.full((1, 1, 16, 16), 300.0)).shape
torch.Size([1, 1, 64, 64])
"""

from __future__ import annotations

from .checkpoint import load_checkpoint, load_model, save_model
from .models import ARCHITECTURES, GuidedUNet, MRUNet, ResCNN, build_model
from .ops import cubic_upsample_torch, radiometric_mean_torch

__all__ = [
    "ARCHITECTURES",
    "GuidedUNet",
    "MRUNet",
    "ResCNN",
    "build_model",
    "cubic_upsample_torch",
    "load_checkpoint",
    "load_model",
    "radiometric_mean_torch",
    "save_model",
]

"""Training of the super-resolution models from LST datacubes (and guides).

- :mod:`xlstsr.train.data`: training pairs (:func:`degraded_pairs`, :func:`target_scale_pairs`),
  patches cut with xbatcher (:func:`make_patches`, :class:`PatchSet`), splits by scene
  (:func:`split_by_scene`, :func:`cut_scenes`), the guide gain of the SIF loss
  (:func:`fit_guide_gain`).
- :mod:`xlstsr.train.loop`: the one Lightning training loop: :class:`SuperResolutionModule`
  (LightningModule), :class:`PatchDataModule` (LightningDataModule of patches),
  :class:`BestWeights` (early stopping, best weights), :func:`fit` (the Trainer, with its options,
  callbacks, loggers and resume passed through), the losses of the training regimes
  (:data:`MODES`, :func:`make_loss`), augmentation, normalisation.
- :mod:`xlstsr.train.cube`: :class:`CubeDataModule` (a cube -> patches split by window
  position), :func:`fit_cube` (xarray inputs) and :func:`fit_files` (files in, a checkpoint out:
  what ``xlstsr train`` runs).
- :mod:`xlstsr.train.windows`: samples cut from a datacube at fixed window positions
  (:func:`window_samples`) and the split by window position (:class:`PositionSplit`,
  :func:`split_positions`, :func:`split_by_position`).

The recipes of the bundled weights live outside the package, in ``scripts/train_bundled.py``.

Examples
--------
>>> import numpy as np
>>> from xlstsr.nn import ResCNN
>>> from xlstsr.train import degraded_pairs, fit, make_patches, split_by_scene
>>> lst = 300 + np.random.default_rng(0).normal(0, 2, (4, 32, 32)).astype("float32")
>>> places = ["a", "b", "c", "d"]  # four places (dates of one place are one scene)
>>> patches = make_patches(**degraded_pairs(lst, 4), factor=4, patch=16, scene_ids=places)
>>> train, val = split_by_scene(patches)
>>> hist = fit(ResCNN(4, channels=4, n_blocks=1), train, val, epochs=1)
>>> hist["epochs_run"]
1
"""

from __future__ import annotations

from .cube import CubeDataModule, fit_cube, fit_files
from .data import (
    PatchSet,
    cut_scenes,
    degraded_pairs,
    fit_guide_gain,
    make_patches,
    split_by_scene,
    target_scale_pairs,
)
from .loop import (
    MODES,
    BestWeights,
    PatchDataModule,
    SuperResolutionModule,
    augment,
    fit,
    fit_normalisation,
    has_fitted_normalisation,
    make_logger,
    make_loss,
)
from .windows import PositionSplit, split_by_position, split_positions, window_samples

__all__ = [
    "MODES",
    "BestWeights",
    "CubeDataModule",
    "PatchDataModule",
    "PatchSet",
    "PositionSplit",
    "SuperResolutionModule",
    "augment",
    "cut_scenes",
    "degraded_pairs",
    "fit",
    "fit_cube",
    "fit_files",
    "fit_guide_gain",
    "fit_normalisation",
    "has_fitted_normalisation",
    "make_logger",
    "make_loss",
    "make_patches",
    "split_by_position",
    "split_by_scene",
    "split_positions",
    "target_scale_pairs",
    "window_samples",
]

"""Data sets: synthetic fields and the sample scene, and readers of the real benchmark data.

- :mod:`~xlstsr.datasets.synthetic`: :func:`sample_scene` (the embedded synthetic LST/NDVI
  scene) and :func:`fbm_surface` (exact fractional Brownian surfaces).
- :mod:`~xlstsr.datasets.root`: :func:`data_root`, where the real data are
  (``$XLSTSR_DATA`` or ``../shared/data``; never bundled).
- :mod:`~xlstsr.datasets.modis_aster`: the 55 MODIS/ASTER pairs, their truth mask and the
  train/validation/evaluation split of the bundled weights.
- :mod:`~xlstsr.datasets.mod11a1`: the shared MOD11A1 granule.
- :mod:`~xlstsr.datasets.ecostress`: the 22 ECOSTRESS 70 m scenes over Los Angeles, masked, on
  their own grid or a common UTM grid.
- :mod:`~xlstsr.datasets.sample`: the small *real* sample embedded in the package:
  :func:`modis_sample` (a MOD11A1 day/night time series with MOD13A2 NDVI) and
  :func:`modis_aster_sample` (one held-out MODIS/ASTER pair).

Examples
--------
>>> import xlstsr
>>> sorted(xlstsr.datasets.sample_scene(n_times=1, size=32))
['lst_1km', 'lst_250m', 'ndvi_250m']
"""

from __future__ import annotations

from .ecostress import ecostress_grid, ecostress_scenes, open_ecostress_scene
from .mod11a1 import open_mod11a1_granule
from .modis_aster import (
    EVAL_PAIRS,
    TRAIN_PAIRS,
    VAL_PAIRS,
    apart_from_training,
    aster_truth_mask,
    ground_overlap,
    iter_modis_aster,
    modis_aster_arrays,
    modis_aster_pairs,
    open_modis_aster_aligned,
    open_modis_aster_pair,
    pairs_apart,
    seen_in_training,
    training_ground,
)
from .root import DATA_ENV, data_root
from .sample import SAMPLE_DIR, modis_aster_sample, modis_sample
from .synthetic import fbm_surface, sample_scene

__all__ = [
    "DATA_ENV",
    "EVAL_PAIRS",
    "SAMPLE_DIR",
    "TRAIN_PAIRS",
    "VAL_PAIRS",
    "apart_from_training",
    "aster_truth_mask",
    "data_root",
    "ecostress_grid",
    "ecostress_scenes",
    "fbm_surface",
    "ground_overlap",
    "iter_modis_aster",
    "modis_aster_arrays",
    "modis_aster_pairs",
    "modis_aster_sample",
    "modis_sample",
    "open_ecostress_scene",
    "open_mod11a1_granule",
    "open_modis_aster_aligned",
    "open_modis_aster_pair",
    "pairs_apart",
    "sample_scene",
    "seen_in_training",
    "training_ground",
]

"""The streaming engine: dask graphs over chunks with halos, weights shipped once, regions to Zarr.

- :mod:`~xlstsr.engine.blocks`: an upscaling method over (n, y, x) arrays, whole or tile by
  tile (one task per tile, which cuts its window - the method's receptive field and the gap
  filling's reach around it - from the input blocks; exact seams).
- :mod:`~xlstsr.engine.shipping`: a method's heavy state (torch weights) in the graph once.
- :mod:`~xlstsr.engine.regions`: the region scheduler (time blocks a few at a time; on a
  ``dask.distributed`` cluster one task per region).
- :mod:`~xlstsr.engine.to_zarr`: :func:`upscale_to_zarr`, streamed and resumable.
"""

from __future__ import annotations

from .blocks import engine_depth, upscale_array
from .to_zarr import array_fingerprint, upscale_to_zarr

__all__ = ["array_fingerprint", "engine_depth", "upscale_array", "upscale_to_zarr"]

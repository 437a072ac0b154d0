"""The streaming engine: dask graphs over chunks with halos, weights shipped once, regions to Zarr.

- :mod:`~xlstsr.engine.blocks`: an upscaling method over (n, y, x) arrays, whole or chunk by
  chunk (``map_overlap`` with the method's receptive field as halo; exact seams).
- :mod:`~xlstsr.engine.shipping`: a method's heavy state (torch weights) in the graph once.
- :mod:`~xlstsr.engine.regions`: the region scheduler (time blocks a few at a time).
- :mod:`~xlstsr.engine.to_zarr`: :func:`upscale_to_zarr`, streamed and resumable.
"""

from __future__ import annotations

from .blocks import engine_depth, upscale_array
from .to_zarr import array_fingerprint, upscale_to_zarr

__all__ = ["array_fingerprint", "engine_depth", "upscale_array", "upscale_to_zarr"]

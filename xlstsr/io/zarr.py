"""Zarr v3 stores: opening with the CRS, existence checks, default output compression."""

from __future__ import annotations

import os
import warnings
from pathlib import Path
from typing import Any

import xarray as xr

__all__ = ["is_zarr_path", "open_zarr", "store_exists", "zarr_compressors"]


def is_zarr_path(path: str | os.PathLike) -> bool:
    """True if ``path`` names a Zarr store (``.zarr`` suffix, or a folder with Zarr metadata)."""
    p = str(path)
    return (
        p.rstrip("/").endswith(".zarr")
        or (Path(p) / "zarr.json").exists()
        or (Path(p) / ".zgroup").exists()
    )


def open_zarr(path: str | os.PathLike, **kwargs: Any) -> xr.Dataset:
    """Open a Zarr store lazily with its CRS (``spatial_ref`` decoded as a coordinate).

    Examples
    --------
    >>> import tempfile, os, xlstsr
    >>> lst = xlstsr.datasets.sample_scene(n_times=1, size=16)["lst_1km"]
    >>> path = os.path.join(tempfile.mkdtemp(), "lst.zarr")
    >>> lst.to_dataset().to_zarr(path, zarr_format=3, consolidated=False)  # doctest: +ELLIPSIS
    <...>
    >>> open_zarr(path)["lst_1km"].rio.crs is not None
    True
    """
    from ..errors import InputNotFoundError, XlstsrError

    kwargs = {"chunks": {}, "consolidated": None, "decode_coords": "all", **kwargs}
    local = isinstance(path, (str, os.PathLike)) and "://" not in os.fspath(path)
    if local and not Path(path).exists():
        raise InputNotFoundError(f"no such Zarr store: {os.fspath(path)}; check the path.")
    with warnings.catch_warnings():  # v3 stores are usually not consolidated
        warnings.simplefilter("ignore", RuntimeWarning)
        try:
            return xr.open_zarr(os.fspath(path), **kwargs)
        except (FileNotFoundError, KeyError, ValueError) as err:
            # zarr's GroupNotFoundError (a FileNotFoundError): an empty folder or a plain file
            if isinstance(err, XlstsrError):
                raise
            raise XlstsrError(
                f"{os.fspath(path)} is not a readable Zarr store ({type(err).__name__}: {err}); "
                "check the path (a store is a folder holding zarr.json or .zgroup)."
            ) from err


def store_exists(store: Any) -> bool:
    """True if a store (path or zarr store object) exists and is not an empty folder."""
    import zarr

    if isinstance(store, (str, os.PathLike)):
        p = Path(store)
        return p.exists() and (not p.is_dir() or any(p.iterdir()))
    try:
        zarr.open_group(store, mode="r")
        return True
    except Exception:
        return False


def zarr_compressors(spec: Any) -> Any:
    """Zarr v3 codecs for ``compressors=``: ``"auto"`` (Blosc LZ4 + byte shuffle), None or codecs."""
    if isinstance(spec, str):
        if spec != "auto":
            raise ValueError(f"compressors must be 'auto', None or zarr codecs, got {spec!r}")
        from zarr.codecs import BloscCodec

        # byte shuffle groups the similar exponent bytes of neighbouring temperatures
        return (BloscCodec(cname="lz4", clevel=5, shuffle="shuffle"),)
    return spec

"""STAC items -> lazy (time, y, x) cubes, with odc-stac (any CRS) or stackstac (EPSG CRS only).

MODIS sinusoidal has no EPSG code. odc-stac accepts any CRS (``crs=`` as WKT or PROJ string, or
read from the items' ``proj:wkt2`` / ``proj:projjson`` / ``proj:code``), so it is the default.
stackstac 0.5.1 takes an integer EPSG only and reads ``proj:epsg``, which pystac >= 1.12 no
longer writes (it writes ``proj:code``): :func:`open_stac` copies ``proj:code`` = ``EPSG:n`` to
``proj:epsg`` on copies of the items before calling it.
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

import numpy as np
import xarray as xr

from ..errors import XlstsrError

__all__ = ["open_stac"]


def _as_items(items: Any) -> list[Any]:
    import pystac

    if isinstance(items, pystac.Item):
        return [items]
    if isinstance(items, pystac.ItemCollection):
        return list(items)
    out = []
    for it in items:
        out.append(it if isinstance(it, pystac.Item) else pystac.Item.from_dict(it))
    return out


def _epsg_of(crs: Any) -> int | None:
    if crs is None:
        return None
    from pyproj import CRS

    return CRS.from_user_input(crs).to_epsg()


def _with_proj_epsg(item: Any) -> Any:
    """A copy of ``item`` with ``proj:epsg`` set from ``proj:code`` (item and assets)."""
    item = item.clone()
    for d in [item.properties, *(a.extra_fields for a in item.assets.values())]:
        code = d.get("proj:code")
        if (
            d.get("proj:epsg") is None
            and isinstance(code, str)
            and code.upper().startswith("EPSG:")
        ):
            d["proj:epsg"] = int(code.split(":")[1])
    return item


def open_stac(
    items: Any,
    assets: str | Sequence[str] | None = None,
    *,
    crs: Any = None,
    resolution: float | None = None,
    bbox: tuple[float, float, float, float] | None = None,
    chunks: dict[str, int] | None = None,
    dtype: str = "float32",
    engine: str = "odc",
    **kwargs: Any,
) -> xr.DataArray | xr.Dataset:
    """Load STAC items as a lazy, georeferenced (time, y, x) cube.

    Parameters
    ----------
    items : pystac.Item, ItemCollection, or iterable of Items / item dicts
        E.g. the result of a ``pystac_client`` search.
    assets : str or list of str, optional
        Asset keys to load (e.g. ``"LST_Day_1km"``); default: all raster assets.
    crs : CRS-like, optional
        Output CRS: EPSG code, WKT or PROJ string. For MODIS sinusoidal (no EPSG code) pass
        :data:`xlstsr.grid.MODIS_SINUSOIDAL` or its WKT. Default: the items' native CRS.
    resolution : float, optional
        Output pixel size in CRS units (default: native, from ``proj:transform``).
    bbox : (minx, miny, maxx, maxy), optional
        Output bounds in ``crs`` units (odc: ``x``/``y`` ranges; stackstac: ``bounds``).
    chunks : dict, optional
        Dask chunks, e.g. ``{"time": 1, "y": 1024, "x": 1024}`` (default: 1 step, 1024 px).
    dtype : str
        Output dtype (NaN fill for floats).
    engine : {"odc", "stackstac"}
        Loader. stackstac needs an output CRS with an EPSG code.
    **kwargs
        Passed to ``odc.stac.load`` or ``stackstac.stack``.

    Returns
    -------
    DataArray or Dataset
        A DataArray ``(time, y, x)`` for one asset, a Dataset of them for several; CRS written
        (rioxarray), dask-backed.

    Examples
    --------
    >>> import pystac_client  # doctest: +SKIP
    >>> client = pystac_client.Client.open(url)  # doctest: +SKIP
    >>> items = client.search(collections=["modis-11A1-061"], bbox=bbox).item_collection()  # doctest: +SKIP
    >>> lst = open_stac(items, "LST_Day_1km", crs=xlstsr.grid.MODIS_SINUSOIDAL)  # doctest: +SKIP
    """
    items = _as_items(items)
    if not items:
        raise XlstsrError(
            "open_stac got no STAC items; check the search (bbox, datetime, collection)"
        )
    bands = [assets] if isinstance(assets, str) else (list(assets) if assets is not None else None)
    chunks = dict(chunks) if chunks is not None else {"time": 1, "x": 1024, "y": 1024}
    if engine == "odc":
        import odc.stac

        load_kw: dict[str, Any] = dict(bands=bands, chunks=chunks, dtype=dtype, **kwargs)
        if crs is not None:
            load_kw["crs"] = crs
        if resolution is not None:
            load_kw["resolution"] = resolution
        if bbox is not None:
            load_kw["x"] = (bbox[0], bbox[2])
            load_kw["y"] = (bbox[1], bbox[3])
        try:
            ds = odc.stac.load(items, **load_kw)
        except ValueError as err:
            raise XlstsrError(
                f"odc-stac could not load the items ({err}). Items need the projection extension "
                "(proj:code or proj:wkt2, proj:transform, proj:shape), or pass `crs=` and "
                "`resolution=` explicitly."
            ) from err
        crs_out = ds.odc.crs
        for v in ds.data_vars:
            ds[v] = ds[v].rio.write_crs(crs_out.wkt)
        ds = ds.rio.write_crs(crs_out.wkt)
    elif engine == "stackstac":
        import stackstac

        epsg = _epsg_of(crs)
        if crs is not None and epsg is None:
            raise XlstsrError(
                f"stackstac needs an EPSG code and {str(crs)[:60]!r} has none (MODIS sinusoidal "
                "has none); use engine='odc', which takes WKT/PROJ strings."
            )
        st_items = [_with_proj_epsg(it) for it in items]
        stack_kw: dict[str, Any] = dict(
            assets=bands,
            epsg=epsg,
            resolution=resolution,
            bounds=bbox,
            dtype=dtype,
            chunksize=(chunks.get("time", 1), 1, chunks.get("y", 1024), chunks.get("x", 1024)),
            fill_value=np.dtype(dtype).type(np.nan) if np.dtype(dtype).kind == "f" else 0,
            xy_coords="center",
            **{"rescale": False, **kwargs},
        )
        if stack_kw["assets"] is None:
            del stack_kw["assets"]
        try:
            da = stackstac.stack(st_items, **stack_kw)
        except ValueError as err:
            raise XlstsrError(
                f"stackstac could not load the items ({err}). It needs `proj:epsg` (or "
                "`proj:code` = 'EPSG:n'), `proj:transform` and `proj:shape`; for CRS without EPSG "
                "codes use engine='odc'."
            ) from err
        out_epsg = int(da.coords["epsg"].item()) if "epsg" in da.coords else epsg
        keep = ("time", "band", "x", "y")
        da = da.reset_coords([c for c in da.coords if c not in keep], drop=True)
        da = da.rio.write_crs(f"EPSG:{out_epsg}")
        ds = da.to_dataset("band")
        for v in ds.data_vars:
            ds[v].attrs = {}
            ds[v] = ds[v].rio.write_crs(da.rio.crs)
        ds = ds.rio.write_crs(da.rio.crs)
    else:
        raise ValueError(f"engine must be 'odc' or 'stackstac', got {engine!r}")
    names = list(ds.data_vars)
    if len(names) == 1:
        out = ds[names[0]]
        out.name = names[0]
        return out
    return ds

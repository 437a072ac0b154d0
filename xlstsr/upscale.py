"""``upscale``: the single entry point of every super-resolution method (xarray layer)."""

from __future__ import annotations

import warnings
from collections.abc import Hashable, Mapping, Sequence
from typing import Any

import dask.array as dsa
import numpy as np
import xarray as xr

from ._version import __version__
from .engine import upscale_array
from .grid import align_guide, fine_grid, with_grid
from .methods import get_method
from .methods.base import UpscaleMethod
from .validate import (
    check_factor,
    decode_guide,
    decode_lst,
    require_georeferenced,
    require_valid_pixels,
    select_variable,
    spatial_dims,
)

__all__ = ["prepare_guide", "to_stack", "upscale"]

GuideLike = xr.DataArray | Sequence[xr.DataArray] | Mapping[str, xr.DataArray]


def to_stack(da: xr.DataArray) -> tuple[Any, tuple[str, ...]]:
    """(n, y, x) data of ``da`` with its leading dims flattened into one, and the leading dims."""
    ydim, xdim = spatial_dims(da)
    lead = tuple(str(d) for d in da.dims if d not in (ydim, xdim))
    da = da.transpose(*lead, ydim, xdim)
    data = da.variable.data
    n = int(np.prod([da.sizes[d] for d in lead])) if lead else 1
    return data.reshape(n, da.sizes[ydim], da.sizes[xdim]), lead


def _guide_bands(guide: GuideLike) -> xr.DataArray:
    if isinstance(guide, xr.DataArray):
        return guide
    if isinstance(guide, Mapping):
        items = list(guide.items())
    elif isinstance(guide, Sequence) and not isinstance(guide, str):
        items = [(getattr(g, "name", None) or f"band{i}", g) for i, g in enumerate(guide)]
    else:
        raise TypeError(f"guide must be a DataArray, a list or a dict of DataArrays, got {type(guide)}")
    bands = [g.expand_dims(guide_band=[str(k)]) if "guide_band" not in g.dims else g for k, g in items]
    return xr.concat(bands, dim="guide_band", join="exact", coords="minimal", compat="override")


def prepare_guide(guide: GuideLike, lst: xr.DataArray, factor: int, lead: tuple[str, ...]) -> Any:
    """Decode and align a guide onto the fine grid; return (n or 1, c, Y, X) data."""
    g = _guide_bands(guide)
    bands = [decode_guide(g.isel(guide_band=i)) for i in range(g.sizes["guide_band"])] if "guide_band" in g.dims else [decode_guide(g)]
    aligned = [align_guide(b, lst, factor) for b in bands]
    g = xr.concat(aligned, dim="guide_band") if len(aligned) > 1 else aligned[0].expand_dims("guide_band")
    ydim, xdim = spatial_dims(lst)
    extra = [d for d in g.dims if d not in (ydim, xdim, "guide_band") and d not in lead]
    if extra:  # e.g. a 'band' dim of a multi-band raster: more guide channels
        g = g.stack(_ch=("guide_band", *extra)).transpose(..., "_ch", ydim, xdim)
        chdim = "_ch"
    else:
        chdim = "guide_band"
    shared = [d for d in lead if d in g.dims]
    if shared and shared != list(lead):
        raise ValueError(
            f"the guide varies along {shared} but not along all of the LST's leading dims {lead}; "
            "give it all of them, or none (a guide shared by every time step)."
        )
    if shared:
        g = g.transpose(*lead, chdim, ydim, xdim)
        data = g.variable.data
        n = int(np.prod([g.sizes[d] for d in lead]))
        return data.reshape(n, g.sizes[chdim], g.sizes[ydim], g.sizes[xdim]).astype(np.float32)
    g = g.transpose(chdim, ydim, xdim)
    return g.variable.data[None].astype(np.float32)


def upscale(
    lst: xr.DataArray | xr.Dataset,
    factor: int = 4,
    method: str | UpscaleMethod = "bicubic",
    guide: GuideLike | Hashable | None = None,
    *,
    variable: Hashable | None = None,
    mask_out_of_range: bool = False,
    scale_correction: str | None = None,
    **method_options: Any,
) -> xr.DataArray:
    """Super-resolve LST by an integer ``factor`` with a registered method.

    Parameters
    ----------
    lst : DataArray or Dataset
        LST with spatial dims (y/x or as rioxarray finds them), any leading dims (time...), a CRS
        and transform. Kelvin, degrees Celsius (``units`` attr) or scaled integers with their
        scale metadata. NaN (or declared fill values) mark gaps.
    factor : int
        Integer upscaling factor (4: MODIS 1 km -> 250 m).
    method : str or UpscaleMethod
        A name from :func:`xlstsr.available_methods` or a method instance.
    guide : DataArray, list/dict of DataArrays, or str
        Fine guide bands (e.g. NDVI at 250 m) for guided methods; a name selects a Dataset variable.
        Reprojected onto the fine grid when it does not nest exactly (with a warning).
    variable : str, optional
        The LST variable when ``lst`` is a Dataset.
    mask_out_of_range : bool
        Mask values outside 150-400 K after decoding instead of raising.
    scale_correction : {None, "auto", "law", "law-lst"}
        Correct the scale-invariance assumption of the method's fine detail with the fitted
        within-block variance law (see :mod:`xlstsr.correction`); ``"auto"`` uses the guide,
        when given, to adapt the law below the LST resolution. None (default): off.
    **method_options
        Passed to the method's constructor.

    Returns
    -------
    DataArray
        Fine LST in Kelvin on the grid ``factor`` times finer with the same bounds, CRS and
        transform written, CF attributes and provenance (``xlstsr_method``, ``xlstsr_factor``,
        ``xlstsr_version``). Lazy if the input is dask-backed. Output pixels are NaN exactly
        where their coarse pixel is a gap.

    Examples
    --------
    >>> import xlstsr
    >>> scene = xlstsr.datasets.sample_scene()
    >>> sr = xlstsr.upscale(scene["lst_1km"].chunk({"time": 1}), factor=4)
    >>> sr.rio.resolution()[0] * 4 == scene["lst_1km"].rio.resolution()[0]
    True
    """
    if isinstance(lst, xr.Dataset):
        ds = lst
        lst = select_variable(ds, variable)
        if isinstance(guide, Hashable) and not isinstance(guide, xr.DataArray) and guide is not None:
            guide = select_variable(ds, guide, role="guide")
        if lst.rio.crs is None and ds.rio.crs is not None:
            lst = lst.rio.write_crs(ds.rio.crs)
    elif guide is not None and isinstance(guide, str):
        raise TypeError("a guide given by name needs a Dataset input; pass the guide DataArray instead")
    factor = check_factor(factor)
    require_georeferenced(lst, "LST")
    m = get_method(method, **method_options)
    if m.needs_guide and guide is None:
        raise ValueError(
            f"method {m.name!r} needs a fine guide (e.g. NDVI at 250 m): pass `guide=ndvi`."
        )
    cguide = guide if scale_correction is not None else None  # the correction's law may use it
    if guide is not None and not m.needs_guide:
        if cguide is None:
            warnings.warn(f"method {m.name!r} does not use a guide; it is ignored", stacklevel=2)
        guide = None
    kelvin = decode_lst(lst, mask_out_of_range=mask_out_of_range)
    require_valid_pixels(kelvin)
    ydim, xdim = spatial_dims(kelvin)
    data, lead = to_stack(kelvin)
    gdata = prepare_guide(guide, kelvin, factor, lead) if guide is not None else None
    out = upscale_array(m, data, gdata, factor)
    if scale_correction is not None:
        from .correction import apply_scale_correction

        if gdata is not None:  # already aligned for the method
            cg = gdata
        else:
            cg = prepare_guide(cguide, kelvin, factor, lead) if cguide is not None else None
        out = apply_scale_correction(out, data, cg, factor, scale_correction)
    fy, fx, ft = fine_grid(kelvin, factor)
    shape = (*tuple(kelvin.sizes[d] for d in lead), fy.size, fx.size)
    out = out.reshape(shape) if not isinstance(out, dsa.Array) else out.reshape(shape, merge_chunks=True)
    template = kelvin.transpose(*lead, ydim, xdim)
    result = with_grid(out, template, fy, fx, ft, (*lead, ydim, xdim))
    result.name = lst.name
    result.attrs = {
        "standard_name": "surface_temperature",
        "long_name": "land surface temperature (super-resolved)",
        "units": "K",
        "xlstsr_method": m.name,
        "xlstsr_factor": factor,
        "xlstsr_version": __version__,
        "xlstsr_options": repr(m.describe()),
        "xlstsr_scale_correction": str(scale_correction).lower(),
        "history": (str(lst.attrs.get("history", "")) + "\n" if lst.attrs.get("history") else "")
        + f"xlstsr {__version__}: upscale(factor={factor}, method={m.name!r})",
    }
    return result

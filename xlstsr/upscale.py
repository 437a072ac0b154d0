"""``upscale``: the single entry point of every super-resolution method (xarray layer)."""

from __future__ import annotations

import warnings
from collections.abc import Hashable, Mapping
from typing import Any

import dask.array as dsa
import xarray as xr

from ._version import __version__
from .engine.blocks import upscale_array
from .grid import fine_grid, with_grid
from .guide import GuideLike, check_alignment, prepare_guide, to_stack
from .methods import get_method
from .methods.base import UpscaleMethod
from .validate import check_factor, prepare_lst, select_lst, spatial_dims

__all__ = ["upscale"]


def upscale(
    lst: xr.DataArray | xr.Dataset,
    factor: int = 4,
    method: str | UpscaleMethod = "bicubic",
    guide: GuideLike | Hashable | None = None,
    *,
    variable: Hashable | None = None,
    method_options: Mapping[str, Any] | None = None,
    mask_out_of_range: bool = False,
    scale_correction: str | None = None,
    guide_offset: str | xr.Dataset = "check",
    **options: Any,
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
    method_options : dict, optional
        Options of the method's constructor, e.g. ``{"gain": 0.5}`` for DMS or, for the deep
        methods, ``{"model": ...}`` (a checkpoint path, an ``nn.Module`` or bundled weights by
        name) and ``{"conserve": True}``.
    mask_out_of_range : bool
        Mask values outside 150-400 K after decoding instead of raising.
    scale_correction : {None, "auto", "law", "law-lst"}
        Correct the scale-invariance assumption of the method's fine detail with the fitted
        within-block variance law (see :mod:`xlstsr.correction`); ``"auto"`` uses the guide,
        when given, to adapt the law below the LST resolution. None (default): off.
    guide_offset : {"check", "auto", "ignore"} or Dataset
        Sub-pixel alignment of the guide with the LST (:func:`xlstsr.guide.check_alignment`):
        ``"check"`` (default) estimates it on in-memory inputs and warns when the guide is off by
        more than a quarter of a fine pixel; ``"auto"`` corrects it (also on dask inputs, from
        one time step); ``"ignore"`` skips it; an :func:`xlstsr.estimate_offset` result is
        applied. The check reads one window of at most 96 x 96 LST pixels (about 0.3 s here):
        pass ``"ignore"`` for many small scenes whose guide is known to be aligned.
    **options
        Shorthand for ``method_options`` (``upscale(lst, 4, "dms", guide=ndvi, gain=0.5)``);
        merged into it.

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
    >>> round(scene["lst_1km"].rio.resolution()[0] / sr.rio.resolution()[0], 9)  # pixel size ratio
    4.0
    >>> sr.shape, scene["lst_1km"].shape
    ((3, 256, 256), (3, 64, 64))
    """
    lst, guide = select_lst(lst, variable, guide)
    factor = check_factor(factor)
    m = get_method(method, **{**dict(method_options or {}), **options})
    if m.needs_guide and guide is None:
        raise ValueError(
            f"method {m.name!r} needs a fine guide (e.g. NDVI at 250 m): pass `guide=ndvi`."
        )
    cguide = guide if scale_correction is not None else None  # the correction's law may use it
    if guide is not None and not m.needs_guide:
        if cguide is None:
            warnings.warn(f"method {m.name!r} does not use a guide; it is ignored", stacklevel=2)
        guide = None
    kelvin = prepare_lst(lst, mask_out_of_range=mask_out_of_range)
    if guide is not None:
        guide = check_alignment(guide, kelvin, guide_offset)
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

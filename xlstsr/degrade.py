"""``coarsen``: radiometric degradation of LST to a coarser grid (xarray layer)."""

from __future__ import annotations

import threading
from collections.abc import Hashable
from typing import Literal

import dask.array as dsa
import numpy as np
import xarray as xr

from ._version import __version__
from .attrs import COARSE_LONG_NAME, UPSCALE_ATTRS, grid_attr, source_long_name, storage_attr
from .errors import AllNaNError, GridError, InputTypeError, XlstsrError, warn
from .grid import (
    MODIS_LST_PSF_SIGMA,
    coarse_grid_attrs,
    grid_unit,
    metres_per_degree,
    require_whole_blocks,
    same_axis,
    with_grid,
)
from .io.zarr import refuse_incomplete_inputs
from .kernels.aggregate import gaussian_psf, gaussian_psf_emitted, radiometric_mean
from .validate import (
    OUTPUT_MARGIN_K,
    PHYSICAL_RANGE_K,
    _decode_scaled,
    check_bool,
    check_factor,
    check_number,
    decode_lst,
    georeference,
    north_up_flips,
    require_georeferenced,
    require_latlon_crs,
    require_valid_pixels,
    select_lst,
    spatial_dims,
    spatial_names,
    stored_values,
    temperature_units,
)

__all__ = ["EMISSIVITY_DAYS", "coarsen", "psf_pixels"]

#: a static emissivity dated further than this (days) from every LST date warns: an 8-day
#: composite, or the neighbouring one, is close; a season away the surface (vegetation, snow,
#: wet soil) may have changed
EMISSIVITY_DAYS = 16


def psf_pixels(psf: float | str | None, pixel: float) -> float | None:
    """A PSF width given in metres (or ``"modis"``) in pixels of size ``pixel``; None for none.

    Examples
    --------
    >>> psf_pixels("modis", 231.656) > 1.5
    True
    """
    if psf is None:
        return None
    if isinstance(psf, str):
        if psf.lower() != "modis":
            raise XlstsrError(f"psf must be a width in metres, 'modis' or None, got {psf!r}")
        psf = MODIS_LST_PSF_SIGMA
    if isinstance(psf, (bool, np.bool_)) or not isinstance(psf, (int, float, np.number)):
        raise XlstsrError(f"psf must be a width in metres, 'modis' or None, got {psf!r}")
    if not np.isfinite(psf) or psf < 0:
        raise XlstsrError(f"psf must be a width >= 0 in metres, got {psf!r}")
    return float(psf) / float(pixel) or None


def _psf_on_grid(psf: float | str | None, kelvin: xr.DataArray, ydim: str, xdim: str,
                 nrows: int | None = None
                 ) -> tuple[tuple[float, float | np.ndarray] | None, str]:
    """The PSF's ``(sigma_y, sigma_x)`` in pixels of ``kelvin``'s grid (or None), and its width
    as recorded in the attrs (``psf_sigma_m=...``, or ``psf_sigma_deg=...`` for a number on a
    lon/lat grid).

    A number is in the CRS's units; the ``"modis"`` preset is a physical width (350 m), so it is
    converted to the grid's unit: with the axes' unit on a projected grid (it read as 350 US
    survey feet on EPSG:2263, 107 m, and as 350 km on a km CRS), to degrees on a lon/lat one
    (it read as 350 degrees and was refused). There a degree of longitude is cos(latitude) of
    one of latitude, so ``sigma_x`` is one width per row, of the ``nrows`` rows from
    ``kelvin``'s first (north) one on (default: its own; more for the rows ``boundary="trim"``
    cuts): the central latitude's width for every row blurred 210-448 m on the ground over
    25-65 N, recorded as 350 m. ``sigma_y`` is that of the central latitude (a degree of
    latitude varies by under 1 % from the equator to the poles).
    """
    t = kelvin.rio.transform()
    py, px = abs(float(t.e)), abs(float(t.a))
    # metres per CRS unit of a projected grid (the US survey foot: 0.3048006)
    metres, unit = grid_unit(kelvin, ydim, xdim, False)
    if unit == "degree":
        m_lat, m_lon = metres_per_degree(float(np.clip(kelvin[ydim].mean(), -89.0, 89.0)))
        py_m, px_m = py * m_lat, px * m_lon
    else:
        py_m, px_m = py * metres, px * metres
    if isinstance(psf, str):
        sy, sx = psf_pixels(psf, py_m), psf_pixels(psf, px_m)
    else:
        sy, sx = psf_pixels(psf, py), psf_pixels(psf, px)
    if sy is None or sx is None:
        return None, ""
    if unit == "degree" and not isinstance(psf, str):
        # a width in degrees is not one length on the ground (a degree of longitude is
        # cos(latitude) of one of latitude): recorded as given, in its unit
        return (sy, sx), f"psf_sigma_deg={sx * px:g}"
    if unit == "degree":
        ground = sx * px_m  # the preset's width in metres, at every row
        sx = np.array([ground / (px * metres_per_degree(lat)[1])
                       for lat in _row_latitudes(kelvin, ydim, py, nrows)])
    return (sy, sx), f"psf_sigma_m={sx * px_m if np.ndim(sx) == 0 else ground:g}"


def _row_latitudes(kelvin: xr.DataArray, ydim: str, py: float, nrows: int | None
                   ) -> np.ndarray:
    """The latitude of each of ``nrows`` rows of ``kelvin``'s regular lon/lat grid from its
    first one on (those past its last continue its spacing), clipped to +-89 degrees."""
    lat = np.asarray(kelvin[ydim].values, np.float64)
    step = lat[1] - lat[0] if lat.size > 1 else -py  # north-up (coarsen's front door)
    n = lat.size if nrows is None else nrows
    return np.clip(lat[0] + step * np.arange(n), -89.0, 89.0)


def _widest(sigma: tuple[float, float | np.ndarray]) -> float:
    """The largest of the PSF's widths in pixels (a per-row ``sigma_x``'s widest row)."""
    return max(float(sigma[0]), float(np.max(sigma[1])))


def _kernel(block: np.ndarray, eps: np.ndarray | None, factor: int, min_valid: float,
            sigma: tuple[float, float | np.ndarray] | None) -> np.ndarray:
    # eps: broadcastable to block, its values already checked (in memory by _emissivity, on
    # dask per block by _checked_block): a check here copied the full (time, y, x) broadcast
    # blurred, the field may hold the rows / columns boundary="trim" cuts (south, east): the
    # sensor sees them beside the kept edge; cut after the blur, before the box mean
    if sigma and eps is not None:
        # the sensor blurs the emitted radiance eps T^4, not T^4 weighted afterwards
        seen, eps_seen = gaussian_psf_emitted(block, eps, sigma)
        return radiometric_mean(_whole_blocks(seen.astype(block.dtype), factor), factor,
                                min_valid=min_valid, emissivity=_whole_blocks(eps_seen, factor))
    if sigma:
        block = _whole_blocks(gaussian_psf(block, sigma), factor)
    return radiometric_mean(block, factor, min_valid=min_valid, emissivity=eps)


def _whole_blocks(a: np.ndarray, factor: int) -> np.ndarray:
    """``a`` without its last rows / columns beyond whole ``factor`` x ``factor`` blocks."""
    return a[..., : a.shape[-2] // factor * factor, : a.shape[-1] // factor * factor]


def coarsen(
    lst: xr.DataArray,
    factor: int = 4,
    *,
    min_valid: float = 1.0,
    emissivity: xr.DataArray | str | None = None,
    psf: float | str | None = None,
    boundary: Literal["exact", "trim"] = "exact",
    variable: Hashable | None = None,
    mask_out_of_range: bool = False,
) -> xr.DataArray:
    """Degrade LST by an integer factor through radiance: ``T_c = (mean T^4)^(1/4)``.

    Parameters
    ----------
    lst : DataArray or Dataset
        LST (any leading dims), georeferenced; decoded to Kelvin as :func:`xlstsr.upscale` does.
        ``lat``/``lon`` dims (ECOSTRESS on its own grid) are kept. A Dataset gives its LST
        variable (``variable``) with the Dataset's CRS, as :func:`xlstsr.upscale` takes it.
        The unwritten steps of an unfinished :func:`xlstsr.upscale_to_zarr` store (or of a
        copy loaded from it) are refused, as by :func:`xlstsr.upscale`: select its written
        steps.
    factor : int
        Aggregation factor (4: 250 m -> 1 km).
    min_valid : float
        Fraction of valid fine pixels a coarse pixel needs (1.0: any gap makes it a gap). An
        in-memory result without any valid pixel from a field with data raises
        :class:`~xlstsr.errors.AllNaNError`; one keeping under half the blocks that hold data
        warns (scattered cloud: pass ``min_valid=0.5``).
    emissivity : DataArray or str, optional
        Broadband emissivity on the same grid (with a Dataset ``lst``, the name of one of its
        variables may be given; stored integers with their ``scale_factor`` / ``add_offset`` /
        ``_FillValue`` attributes, MOD11 ``Emis_31`` read with ``mask_and_scale=False``, are
        decoded, and so are in-memory floats still holding them whose values other than the
        fill are whole numbers outside (0, 1] and inside it decoded; a median below 0.7 warns
        (on dask, that of the first block showing one)): radiance-weighted aggregate
        ``(sum eps T^4 / sum eps)^(1/4)`` (with ``psf``, of the blurred emitted radiance and
        emissivity: ``(sum G*(eps T^4) / sum G*eps)^(1/4)``). Its steps are paired with the
        LST's by label (``time``, or any other non-spatial dim): a time-varying emissivity must
        hold each of the LST's dates (in any order; others are left out). One without a step dim
        of the LST (dims ``(y, x)``, or a size-1 ``band``) is static: used for every step, a date
        it carries as a scalar coordinate (``emis.isel(time=0)``, an 8-day composite's date)
        dropped, with a warning when that date is more than :data:`EMISSIVITY_DAYS` days from
        every LST date.
    psf : float or "modis", optional
        Blur first with a Gaussian point-spread function of this width (in the CRS's units:
        metres on most projected grids, degrees on a lon/lat one), as a real sensor does: a
        MODIS 1 km LST pixel is a box blurred by a Gaussian of ~350 m (``"modis"``:
        :data:`xlstsr.grid.MODIS_LST_PSF_SIGMA`, measured with :func:`xlstsr.estimate_offset` on
        real MODIS/ASTER pairs; converted to the grid's unit, feet or degrees included: on a
        lon/lat grid the x width of each row at its own latitude, so that it is 350 m on the
        ground at every row, the y width at the central latitude's). The width is recorded in
        metres (``psf_sigma_m``; a number on a lon/lat grid in degrees,
        ``psf_sigma_deg``) in ``xlstsr_degradation``. None: a perfect box average.
    boundary : {"exact", "trim"}
        ``"exact"`` raises if the size is not a multiple of ``factor``; ``"trim"`` drops the rest:
        the last rows (south) and columns (east) of the north-up grid, the blocks anchored on its
        upper-left corner whatever the storage order (an emissivity is trimmed the same way).
        With ``psf``, the field is blurred before it is trimmed: the cut pixels are seen beside
        the kept edge, as by the sensor. They only feed the blur: decoded as the LST, but their
        values outside 150-400 K (a fill) and emissivities outside (0, 1] are gaps, neither
        refused nor warned about (the kept pixels are checked as without ``psf``).
    variable : str, optional
        The LST variable when ``lst`` is a Dataset (default: the one that looks like LST).
    mask_out_of_range : bool
        Mask LST values outside 150-400 K after decoding (gaps, as :func:`xlstsr.upscale`
        does) instead of raising :class:`~xlstsr.errors.PhysicalRangeError`.

    Returns
    -------
    DataArray
        Coarse LST in Kelvin on the grid ``factor`` times coarser, CRS and transform written,
        north-up (a grid stored south-up or running west is flipped first, as
        :func:`xlstsr.upscale` takes it). Lazy for dask input. The input's attributes kept
        but those of its storage and grid; its own ``long_name`` (the only record of the
        overpass, 'MOD11A1 nighttime LST') as ``source_long_name``, as upscale keeps it.
        Labelled a land surface temperature (``standard_name='surface_temperature'``) unless
        the input is a temperature of another kind (``brightness_temperature``: kept, and
        its long_name 'brightness temperature (radiometrically aggregated)').

    Examples
    --------
    >>> import xlstsr
    >>> fine = xlstsr.datasets.sample_scene()["lst_250m"]
    >>> xlstsr.coarsen(fine, 4).shape[-2:] == (fine.shape[-2] // 4, fine.shape[-1] // 4)
    True
    """
    if isinstance(lst, xr.Dataset) and isinstance(emissivity, str):
        # a variable of the Dataset by name, as ds.lstsr.coarsen takes it (the function
        # counted it among the LST candidates: "cannot tell which variable holds LST")
        return lst.lstsr.coarsen(factor, variable=variable, emissivity=emissivity,
                                 min_valid=min_valid, psf=psf, boundary=boundary,
                                 mask_out_of_range=mask_out_of_range)
    # the front door upscale uses: a Dataset's CRS (a CF grid_mapping data variable of a plain
    # xr.open_dataset) carried onto its variable (select_variable lost it); anything else
    # refused as InputTypeError (an ndarray raised "has no attribute 'dims'")
    lst = select_lst(lst, variable, operation="coarsen")[0]
    # an unfinished upscale_to_zarr store's unwritten steps read as NaN: coarsened, they lost
    # the store's status mark and a computed copy went to to_cogs as all-NaN "cloudy" dates
    refuse_incomplete_inputs(lst, None, roles=("LST", "guide"))
    check_bool("mask_out_of_range", mask_out_of_range)  # "no" is truthy: it would mean True
    if emissivity is not None:
        # before the lat/lon rename below: an ndarray there raised "has no attribute 'rename'"
        _require_emissivity_dataarray(emissivity, lst)
    names = spatial_names(lst)
    if names:  # lat/lon dims (ECOSTRESS on its own grid), as the other entry points take them
        back = {v: k for k, v in names.items()}
        # checked before the rename, as upscale's georeference does: renamed y/x without a
        # CRS were advised a projected (UTM) CRS for degrees; a wrapped longitude's advice
        # names the user's dim
        require_latlon_crs(lst, "LST")
        if all(d in lst.coords for d in names):
            require_georeferenced(lst.rename(names), "LST", user_dims=back)
        if boundary == "exact":  # its crop advice in the user's dims (lat/lon), not y/x
            require_whole_blocks(lst.rename(names), factor, user_dims=back)
        out = coarsen(lst.rename(names), factor, min_valid=min_valid, emissivity=emissivity
                      if emissivity is None else emissivity.rename(spatial_names(emissivity)),
                      psf=psf, boundary=boundary, mask_out_of_range=mask_out_of_range)
        # declared, as upscale does: rioxarray did not find lat/lon dims for .rio.bounds()
        return out.rename(back).rio.set_spatial_dims(x_dim=back["x"], y_dim=back["y"])
    factor = check_factor(factor, example="4 for 250 m -> 1 km")
    lst, flips = _front_door(lst)
    check_number("min_valid", min_valid, 0, 1, lo_open=True,
                 hint="the share of valid fine pixels a coarse pixel needs, e.g. 1.0")
    ydim, xdim = spatial_dims(lst)
    if min(lst.sizes[ydim], lst.sizes[xdim]) < factor:
        raise GridError(
            f"the grid ({lst.sizes[ydim]} x {lst.sizes[xdim]}) is smaller than one coarse pixel "
            f"of factor {factor}: coarsen a larger field, or use a smaller factor."
        )
    keep: dict[Hashable, slice] = {}
    if boundary == "trim":
        keep = {ydim: slice(0, lst.sizes[ydim] // factor * factor),
                xdim: slice(0, lst.sizes[xdim] // factor * factor)}
    elif boundary != "exact":
        raise XlstsrError(f"boundary must be 'exact' or 'trim', got {boundary!r}")
    cut = any(lst.sizes[d] != k.stop for d, k in keep.items())
    whole, lst = lst, lst.isel(keep) if keep else lst
    kelvin = decode_lst(lst, mask_out_of_range=mask_out_of_range)
    lead = tuple(d for d in kelvin.dims if d not in (ydim, xdim))
    kelvin = kelvin.transpose(*lead, ydim, xdim)
    # from the input's own written transform: decode_lst rewrites one that the labels run
    # against (a south-up field's north-up one) or give only to float32's precision from the
    # labels, whose coarse labels were then 1e-9 m off those of the field stored north-up
    cy, cx, ct, cay, cax = coarse_grid_attrs(lst, factor)  # a crop's fine origin
    require_valid_pixels(kelvin)  # an all-NaN field aggregates to nothing: a fill or QC problem
    pixel = abs(float(kelvin.rio.transform().a))
    sigma, psf_record = _psf_on_grid(psf, kelvin, ydim, xdim, whole.sizes[ydim])
    if sigma is not None and _widest(sigma) > 2 * factor:
        # a Gaussian this wide ran for hours (1e9 m) and blurs the field into one value; on a
        # lon/lat grid 350 (meant as metres) is 350 degrees
        raise XlstsrError(
            f"psf {psf!r} is {_widest(sigma):.3g} fine pixels ({pixel:g} CRS units each), wider "
            f"than 2 coarse pixels of factor {factor}: a sensor's PSF is about one coarse pixel "
            "wide (MODIS 1 km: psf='modis', 350 m). A number is in the CRS's units: metres on "
            "most projected grids (the CRS's own unit otherwise: US feet, km), degrees on a "
            "lon/lat one (psf='modis' is converted to the grid's unit)"
        )
    # with a PSF the rows / columns "trim" cuts are neighbours of the kept edge, which the
    # sensor sees: blurred with the kept field, cut before the box mean (cut first, the blur
    # replicated the edge instead: 0.3 K on the last coarse row)
    margin = bool(cut and sigma is not None)
    if sigma is not None and np.ndim(sigma[1]) and not margin:
        # per-row widths of the whole grid: the rows coarsened without the cut ones
        sigma = (sigma[0], sigma[1][: kelvin.sizes[ydim]])
    data = kelvin.variable.data
    if margin:
        data = _with_margin(data, _lenient_kelvin(whole, lead, ydim, xdim), keep, ydim, xdim)
    eps = None
    if emissivity is not None:
        # at its own dims (a static one: (y, x)), size-1 axes for the LST's others, broadcast
        # by the kernels / inside dask: broadcast_like's (time, y, x) view was copied in full
        # by dask.array.asarray while the graph was built (a year of 4800^2 tiles: ~34 GB)
        # checked against the LST's whole grid, then trimmed as the LST is (checked against the
        # trimmed LST, an emissivity on the LST's own grid was "not on the LST's grid")
        eps = _emissivity_axes(_emissivity(emissivity, whole, ydim, xdim, keep, flips,
                                           margin=margin), (*lead, ydim, xdim))
    if isinstance(data, dsa.Array):
        out = _coarsen_dask(data, eps, factor, min_valid, sigma)
    else:
        if isinstance(eps, dsa.Array):  # checked per block as it is computed
            eps = _checked_emissivity(eps).compute()
        out = _kernel(np.asarray(data), eps, factor, min_valid, sigma)
    if not isinstance(out, dsa.Array):
        _check_kept(np.asarray(data), out, factor, min_valid, emissivity is not None)
    result = with_grid(out, kelvin, cy, cx, ct, (*lead, ydim, xdim), (cay, cax))
    result.name = lst.name
    degradation = (f"radiometric_mean factor={factor} min_valid={min_valid}"
                   + (_emissivity_record(emissivity, lst.name) if emissivity is not None else "")
                   + (f" {psf_record}" if sigma else ""))
    # the input's attributes kept (source, history; xlstsr_product / xlstsr_calibration, which
    # guard against calibrating twice: a calibrated field coarsened and upscaled with the same
    # calibration got it a second time), but not its encoding nor an upscale's description
    # (the values are no longer that method's output; the history says what was done)
    # nor GDAL's band statistics (STATISTICS_MAXIMUM...): the fine field's, not the result's
    history = lst.attrs.get("history")
    result.attrs = {str(k): v for k, v in lst.attrs.items()
                    if not storage_attr(k) and str(k) not in UPSCALE_ATTRS
                    and not grid_attr(k)}  # the input's grid, no longer the output's
    # what the field is: a brightness temperature stays one (it was relabelled land surface
    # temperature, which differs from it by the atmosphere and emissivity, several K)
    standard, long_name = _coarse_names(lst.attrs)
    result.attrs.pop("standard_name", None)
    result.attrs.update({
        **({"standard_name": standard} if standard else {}),
        "units": "K",
        "long_name": long_name,
        "xlstsr_degradation": degradation,
        "xlstsr_version": __version__,
        "history": (str(history) + "\n" if history else "")
        + f"xlstsr {__version__}: coarsen({degradation})",
    })
    # the input's own long_name kept as upscale keeps it: the only record of the overpass
    # ('MOD11A1 v061 nighttime LST'), so a coarsened night field scored against a day one was
    # not warned; an earlier coarsen's (or upscale's) own long_name passes on its
    # source_long_name instead (attrs.source_long_name)
    result.attrs.pop("source_long_name", None)  # an earlier one, or a non-text one: set below
    named = dict(lst.attrs)
    if _own_long_name(named.get("long_name")):  # an earlier coarsen's (of a BT field too)
        named.pop("long_name")
    source = source_long_name(named)
    if source is not None:
        result.attrs["source_long_name"] = source
    # its gaps declared, as upscale's: a GeoTIFF written from it had no nodata, and a masked
    # reader counted the gaps as data
    return result.rio.write_nodata(np.nan, encoded=True)


#: CF standard names of a land surface temperature: coarsened, labelled as such
_LST_STANDARD_NAMES = frozenset({"surface_temperature", "land_surface_temperature"})
_AGGREGATED = " (radiometrically aggregated)"


def _coarse_names(attrs: dict) -> tuple[str | None, str]:
    """The coarse field's ``(standard_name, long_name)``: those of a land surface temperature
    (:data:`~xlstsr.attrs.COARSE_LONG_NAME`) unless the input says it is a temperature of
    another kind, whose name is kept and worded into the long_name: a ``standard_name`` such
    as ``brightness_temperature`` (Landsat band 10 TOA, :func:`xlstsr.io.open_landsat8_l1`),
    or, without one, a long_name naming a brightness temperature (no standard_name claimed)."""
    std = attrs.get("standard_name")
    std = std.strip() if isinstance(std, str) else ""
    if std and std not in _LST_STANDARD_NAMES and "temperature" in std:
        return std, std.replace("_", " ") + _AGGREGATED
    text = attrs.get("long_name")
    if not std and isinstance(text, str) and "brightness temperature" in text.lower() \
            and not _own_long_name(text):
        return None, "brightness temperature" + _AGGREGATED
    if not std and _own_long_name(text) and text != COARSE_LONG_NAME:
        return None, text  # an earlier coarsen's of such a field: its kind kept
    return "surface_temperature", COARSE_LONG_NAME


def _own_long_name(text: object) -> bool:
    """Whether ``text`` is a long_name coarsen wrote (of an LST or of another temperature)."""
    return isinstance(text, str) and (text == COARSE_LONG_NAME or text.endswith(_AGGREGATED))


def _front_door(lst: xr.DataArray) -> tuple[xr.DataArray, dict[Hashable, slice]]:
    """``lst`` georeferenced and north-up, as upscale's front door takes it, with the ``isel``
    reversals that made it so (for an emissivity without coordinates, stored as the LST was).

    Without ``y``/``x`` coordinates, they come from its written transform
    (:func:`~xlstsr.validate.georeference`; refused as "no coordinates and no transform").
    Flipped north-up, so that ``boundary="trim"`` drops the same (southern, eastern) pixels
    whatever the storage order (a south-up field kept its southern rows: a coarse grid half a
    coarse pixel off) and the result is north-up. The written transform is kept as it is (a
    window of a file keeps the file's, mirrored or not, which :func:`coarse_grid_attrs` reads:
    rewritten from a flipped window's labels, its coarse labels came 1e-10 m off the file's).
    """
    ydim, xdim = spatial_dims(lst)
    if ydim not in lst.coords or xdim not in lst.coords:
        out = georeference(lst, "LST")  # labels from its written transform, put north-up
        t = lst.rio.transform()
        return out, {d: slice(None, None, -1) for d, runs_back in (
            (ydim, t.e > 0), (xdim, t.a < 0)) if runs_back and lst.sizes[d] > 1}
    require_georeferenced(lst, "LST")
    flips = north_up_flips(lst, ydim, xdim)
    return (lst.isel(flips) if flips else lst), flips


def _lenient_kelvin(whole: xr.DataArray, lead: tuple[Hashable, ...], ydim: str, xdim: str
                    ) -> xr.DataArray:
    """``whole`` decoded to Kelvin as :func:`~xlstsr.validate.decode_lst` does (fill and valid
    range masked, scale, offset, Celsius units), its values outside the physical range NaN and
    nothing refused or warned: only the rows / columns ``boundary="trim"`` cuts are used, which
    feed the blur beside the kept edge (a fill of 0 K or 9999 there, dropped unread without a
    PSF, was refused). Elementwise: the same whatever the chunks."""
    lo, hi = PHYSICAL_RANGE_K
    if whole.attrs.get("xlstsr_method") is not None:  # upscale's output, as decode_lst widens
        lo, hi = lo - OUTPUT_MARGIN_K, hi + OUTPUT_MARGIN_K
    out = _decode_scaled(whole, (lo, hi))[0]
    if temperature_units(out.attrs.get("units")) == "C":
        out = out + out.dtype.type(273.15)
    out = out.where((out >= lo) & (out <= hi))
    return out.transpose(*lead, ydim, xdim)


def _with_margin(kept, lenient: xr.DataArray, keep: dict[Hashable, slice], ydim: str,
                 xdim: str):
    """The data of the strictly decoded kept field ``kept`` with the cut rows (south) and
    columns (east) of ``lenient`` beside it: the whole grid, to be blurred."""
    ny, nx = keep[ydim].stop, keep[xdim].stop
    rest = lenient.variable.data.astype(kept.dtype)
    cat = dsa.concatenate if isinstance(kept, dsa.Array) or isinstance(rest, dsa.Array) \
        else np.concatenate
    if rest.shape[-1] > nx:
        kept = cat([kept, rest[..., :ny, nx:]], axis=-1)
    if rest.shape[-2] > ny:
        kept = cat([kept, rest[..., ny:, :]], axis=-2)
    return kept


def _check_kept(fine: np.ndarray, out: np.ndarray, factor: int, min_valid: float,
                with_eps: bool) -> None:
    """Refuse an all-gap result of a field with data, and warn when most of the blocks that
    hold data become gaps: with the default ``min_valid=1.0`` one cloud pixel per block (20 %
    scattered cloud) left 2 % of the coarse pixels, or none, without a word."""
    ny, nx = (fine.shape[-2] // factor) * factor, (fine.shape[-1] // factor) * factor
    blocks = np.isfinite(fine[..., :ny, :nx]).reshape(
        *fine.shape[:-2], ny // factor, factor, nx // factor, factor).any(axis=(-3, -1))
    n_data, n_kept = int(blocks.sum()), int(np.isfinite(out).sum())
    why = (f"min_valid={min_valid:g} makes a coarse pixel a gap when less than {min_valid:.0%} of "
           f"its {factor} x {factor} fine pixels are valid"
           + (" (in the LST and the emissivity)" if with_eps else ""))
    if n_data and not n_kept:
        raise AllNaNError(
            f"every coarse pixel is a gap: {why}, and every block of the field has gaps. Pass a "
            "lower min_valid (e.g. min_valid=0.5: blocks at least half valid) or fill the gaps."
        )
    if n_data and n_kept < 0.5 * n_data:
        warn(
            f"coarsen kept {n_kept} of the {n_data} coarse pixels that hold data: {why}. Pass "
            "min_valid=0.5 to keep the blocks at least half valid (a cloudy scene).",
            UserWarning,
        )


def _emissivity_record(eps: xr.DataArray, lst_name: Hashable | None) -> str:
    """How the emissivity weighting is recorded in ``xlstsr_degradation`` (and the history):
    ``emissivity_weighted``, ``=its name`` when it has one other than the LST's (an emissivity
    made with ``lst.copy(data=eps)`` carries the LST's name); without it a weighted and an
    unweighted coarse field (0.27 K apart) carried the same provenance."""
    name = getattr(eps, "name", None)
    return " emissivity_weighted" + (f"={name}" if name is not None and name != lst_name
                                     else "")


def _require_emissivity_dataarray(eps: object, lst: xr.DataArray) -> None:
    """Refuse an emissivity that is not a DataArray, with advice fitting the LST's dims (the
    advice ``lst.isel(time=0, drop=True)`` failed on an LST without a time dim)."""
    if isinstance(eps, xr.DataArray):
        return
    if isinstance(eps, str):
        raise InputTypeError(
            f"emissivity must be a DataArray on the LST's grid, got the name {eps!r}: pass the "
            f"variable itself (`emissivity=ds[{eps!r}]`), or call the Dataset accessor "
            f"(`ds.lstsr.coarsen(..., emissivity={eps!r})`), which looks the name up"
        )
    space = set(spatial_names(lst)) or {d for d in lst.dims if d in ("y", "x")}
    lead = [str(d) for d in lst.dims if d not in space and d not in ("y", "x")]
    pick = (f".isel({', '.join(f'{d}=0' for d in lead)}, drop=True)" if lead
            and all(d.isidentifier() for d in lead) else "")
    raise InputTypeError(
        f"emissivity must be a DataArray on the LST's grid, got {type(eps).__name__}: wrap it "
        f"with the LST's coordinates, e.g. `lst{pick}.copy(data=eps).rename('emissivity')` "
        f"(a static emissivity of the LST's spatial dims, used for every step)"
    )


def _emissivity_axes(eps: xr.DataArray, dims: tuple[Hashable, ...]):
    """The emissivity's data with its axes in the order of ``dims`` (the LST's), a size-1 axis
    for each dim it lacks: broadcastable to the LST without being copied to its size."""
    own = [d for d in dims if d in eps.dims]
    data = eps.transpose(*own).variable.data
    return data.reshape(tuple(eps.sizes[d] if d in eps.dims else 1 for d in dims))


def _checked_block(block: np.ndarray, warned: list[bool] | None = None) -> np.ndarray:
    v = np.asarray(block, np.float64)
    _check_emissivity_values(v)
    # a low median warned about once per emissivity (the first block showing one), not per block
    if warned is not None and not warned:
        with _WARN_LOCK:  # blocks are checked in parallel threads
            if not warned and _warn_low_emissivity(v, " in a block"):
                warned.append(True)
    return block


_WARN_LOCK = threading.Lock()


def _checked_emissivity(eps: dsa.Array) -> dsa.Array:
    """A dask emissivity whose values are checked per block as it is read, a low median warned
    about in the first block showing one (in memory they are checked once, by
    :func:`_emissivity`; a sample read at call time would compute a lazy emissivity there)."""
    warned: list[bool] = []

    def check(block: np.ndarray) -> np.ndarray:
        return _checked_block(block, warned)

    return eps.map_blocks(check, dtype=eps.dtype, meta=np.empty((0,) * eps.ndim, eps.dtype))


def _emissivity(eps: xr.DataArray, lst: xr.DataArray, ydim: str, xdim: str,
                keep: dict[Hashable, slice] | None = None,
                flips: dict[Hashable, slice] | None = None, margin: bool = False
                ) -> xr.DataArray:
    """The emissivity, checked: a DataArray on the LST's grid (xarray's broadcast_like filled
    another grid's missing part with NaN, a shifted one raised numpy's error), with values in
    (0, 1] when in memory (0 or NaN everywhere gave an all-NaN result, an LST passed as
    emissivity went through). ``keep``: the ``isel`` of the LST's grid that is coarsened
    (``boundary="trim"``), applied once the emissivity is on the LST's grid. ``flips``: the
    reversals that put the LST north-up, applied to the axes the emissivity has no labels on
    (paired by position with the LST as stored: with the flipped LST's labels, each block was
    weighted by its mirror image's emissivity). ``margin``: the rows / columns ``keep`` cuts
    are kept for the blur, their values outside (0, 1] (a fill) NaN, not refused; only the
    kept part is checked."""
    _require_emissivity_dataarray(eps, lst)
    mirror = {d: f for d, f in (flips or {}).items() if d in eps.dims and d not in eps.coords}
    if mirror:
        eps = eps.isel(mirror)
    for d in (ydim, xdim):
        if d not in eps.dims:
            raise GridError(f"emissivity has dims {eps.dims}, not the LST's spatial dims "
                            f"({ydim}, {xdim}); rename them or reproject it onto the LST's grid")
        same = eps.sizes[d] == lst.sizes[d]
        if same and d in eps.coords and d in lst.coords:
            same = same_axis(lst[d].values, eps[d].values)
            if not same and same_axis(lst[d].values, eps[d].values[::-1]):
                # the same grid stored the other way (NetCDF products: latitude ascending)
                eps, same = eps.isel({d: slice(None, None, -1)}), True
        if not same:
            raise GridError(
                f"emissivity is not on the LST's grid (its {d!r}: {eps.sizes[d]} values from "
                f"{float(eps[d][0]):.6g}, the LST's: {lst.sizes[d]} from {float(lst[d][0]):.6g}); "
                "reproject it first (`emissivity.rio.reproject_match(lst)`)"
            )
        if d in lst.coords:  # the LST's labels exactly: broadcast_like joins on them
            eps = eps.assign_coords({d: lst[d].values})
    eps = _decoded_emissivity(eps, ydim, xdim)
    if keep and not margin:
        eps, lst = eps.isel(keep), lst.isel(keep)
    eps = _emissivity_steps(eps, lst, ydim, xdim)
    kept = eps.isel(keep) if keep and margin else eps
    if not isinstance(eps.variable.data, dsa.Array):
        v = np.asarray(kept.values, np.float64)
        if not np.isfinite(v).any():
            raise AllNaNError("the emissivity holds no valid value: every coarse pixel would be a "
                              "gap; check its fill value")
        _check_emissivity_values(v)
        _warn_low_emissivity(v)
    if keep and margin:
        inside = ((xr.DataArray(np.arange(eps.sizes[ydim]), dims=ydim) < keep[ydim].stop)
                  & (xr.DataArray(np.arange(eps.sizes[xdim]), dims=xdim) < keep[xdim].stop))
        # the kept part as it is (checked, per block on dask); the margin only feeds the blur
        eps = eps.where(inside | ((eps > 0) & (eps <= 1))).transpose(*eps.dims)
    return eps


def _decoded_emissivity(eps: xr.DataArray, ydim: str, xdim: str) -> xr.DataArray:
    """An emissivity stored as packed numbers with their CF attributes decoded as the LST
    beside it is (fill and valid range masked, scale and offset applied); anything else as it
    is. Integers (MOD11A1 ``Emis_31`` opened with ``mask_and_scale=False``: uint8, scale_factor
    0.002, add_offset 0.49, _FillValue 0) always; floats in memory still holding them
    (``.where(eps != 0)``, ``.astype('float32')``, rioxarray's ``masked=True``) when their
    values other than the fill are whole numbers outside (0, 1] and decoded inside it: a float
    emissivity made from a packed band (``lst.copy(data=eps)``) keeps that band's
    scale_factor, which it does not hold. A dask float is not read here: refused per block
    (:func:`_check_emissivity_values`) with the CF recipe."""
    if all(eps.attrs.get(k) is None for k in ("scale_factor", "add_offset")):
        return eps
    if eps.dtype.kind in "iu":
        return _decode_scaled(eps)[0]
    if eps.dtype.kind != "f" or isinstance(eps.variable.data, dsa.Array):
        # a lazy float is not read at call time (a window of it could be all fill, and judged
        # otherwise than in memory): refused per block, with the CF recipe
        return eps
    raw = stored_values(eps)
    # packed values are whole numbers: an emissivity in (0, 1] with an LST's scale_factor
    # copied along and one value past 1 (a bicubic overshoot) is no stored band
    if not raw.size or _in_unit(raw) or not np.array_equal(raw, np.round(raw)):
        return eps
    decoded = _decode_scaled(eps)[0]
    new = np.asarray(decoded.values, np.float64)
    new = new[np.isfinite(new)]
    return decoded if new.size and _in_unit(new) else eps


def _in_unit(v: np.ndarray) -> bool:
    return bool(v.min() > 0 and v.max() <= 1)


def _emissivity_steps(eps: xr.DataArray, lst: xr.DataArray, ydim: str, xdim: str
                      ) -> xr.DataArray:
    """The emissivity's steps paired with the LST's by label (:func:`xlstsr.steps.pair_steps`),
    its size-1 dims the LST lacks (``band=1`` of a GeoTIFF read by rioxarray) dropped.

    Paired by xarray's broadcast_like, an emissivity lacking one of the LST's dates made that
    date all gaps without a word, one of other dates raised numpy's broadcast error, a ``band``
    dim or a time-varying emissivity against one LST date xarray's transpose error.
    """
    from .steps import _shown, pair_steps

    var, like_var = "emissivity", "lst"
    static = (f"or pass a static emissivity (dims ({ydim}, {xdim}), e.g. "
              f"`{var}.isel({{dim}}=0, drop=True)` or `{var}.mean('{{dim}}')`) for every step")
    lead = [d for d in lst.dims if d not in (ydim, xdim)]
    extra = [d for d in eps.dims if d not in (ydim, xdim)]
    if not lead and any(eps.sizes[d] > 1 for d in extra):
        d = next(d for d in extra if eps.sizes[d] > 1)
        on = (f" (its {d}={_shown(lst[d].values)}: `{var}.sel({d}={like_var}['{d}'].values)`)"
              if d in lst.coords and lst[d].ndim == 0 else "")
        raise GridError(
            f"the emissivity has a dim {d!r} ({eps.sizes[d]} steps) but the LST has one step "
            f"(dims {lst.dims}): select the emissivity of the LST's step{on}, "
            + static.format(dim=d) + "."
        )
    eps = _static_emissivity(eps, lst, lead)
    try:
        eps = pair_steps(eps, lst, "emissivity", "LST", var=var, like_var=like_var)
    except GridError as err:
        # a date the emissivity lacks (of other dates): besides the common dates, one
        # emissivity for every date
        lacking = [d for d in extra if d in lead and d in eps.indexes and d in lst.indexes
                   and len(lst.indexes[d].difference(eps.indexes[d]))]
        if not lacking or any(eps.sizes[d] > 1 for d in extra if d not in lead):
            raise
        raise GridError(f"{str(err).rstrip('.')}; {static.format(dim=lacking[0])}.") from err
    eps = eps.squeeze([d for d in eps.dims if d not in lst.dims], drop=True)
    for d in eps.dims:  # dims without labels pair by position: their sizes must agree
        if d in lead and eps.sizes[d] != lst.sizes[d]:
            raise GridError(
                f"the emissivity has {eps.sizes[d]} '{d}' steps, the LST {lst.sizes[d]}, and "
                "they are not both labelled, so they pair by position: give the emissivity of "
                "the LST's steps, " + static.format(dim=d) + "."
            )
    return eps


def _static_emissivity(eps: xr.DataArray, lst: xr.DataArray, lead: list[Hashable]
                       ) -> xr.DataArray:
    """The emissivity without its scalar coordinates of the LST's step dims it lacks (and of
    the LST's own scalar dates): a static emissivity is used for every step, whatever date
    labels it (``emis.isel(time=0)``, an 8-day composite dated 2020-06-25 for an LST of
    2020-07-01) - :func:`xlstsr.steps.check_scalar_steps` refused it as a truth of one date
    compared with every step. Warns when its date is more than :data:`EMISSIVITY_DAYS` days
    from every LST date."""
    from .steps import _scalar_date, _shown

    # the LST's dates, whatever they are called: its dated step dims and scalar dates
    dated = [d for d in lst.coords if lst[d].ndim <= 1 and (lst[d].ndim == 0 or d in lead)
             and lst[d].size and _scalar_date(np.asarray(np.ravel(lst[d].values)[0])) is not None]
    steps = [d for d in dated if lst[d].ndim == 1]
    for c in [c for c in eps.coords if eps[c].ndim == 0 and c not in eps.dims]:
        t = eps[c].values
        # any scalar date of its own (composite_start, date): the pairing of steps refused a
        # date under another name than the LST's steps as a field of one date
        own_date = _scalar_date(t) is not None and c not in lst.coords
        if c not in lead and not own_date and not (
                c in lst.coords and lst[c].ndim == 0 and _scalar_date(t) is not None
                and _scalar_date(lst[c].values) is not None):
            continue
        if c in lst.coords:
            days = _days_apart(t, lst[c].values)
        else:  # its own date: against every LST date (a scalar time, a band before time)
            near = [x for x in (_days_apart(t, lst[d].values) for d in dated) if x is not None]
            days = min(near) if near else None
        # the dim a per-date emissivity is paired along: the LST's own (its date's name was
        # refused as a dim the LST lacks)
        by = c if c in lst.coords else (steps or dated or [c])[0]
        if days is not None and days > EMISSIVITY_DAYS:
            warn(f"the emissivity is of {c}={_shown(t)}, {days:.0f} days from the LST's nearest "
                 f"date: a static emissivity (without a '{by}' dim) is used for every step. Pass "
                 f"the emissivity of the LST's dates (`{by}` as a dim, paired by label) if the "
                 "surface changed in between (vegetation, snow, wet soil).", UserWarning)
        eps = eps.drop_vars(c)
    return eps


def _days_apart(t: object, labels: object) -> float | None:
    """Days from the date ``t`` to the nearest of ``labels``; None for labels that are not dates
    comparable with it (another calendar, numbers)."""
    from .steps import _scalar_date

    t = _scalar_date(np.asarray(t))
    values = np.atleast_1d(np.asarray(labels))
    if t is None or not values.size:
        return None
    try:
        if values.dtype.kind == "M" and np.asarray(t).dtype.kind == "M":
            days = np.abs((values - t) / np.timedelta64(1, "D")).astype(np.float64)
        else:  # cftime dates of one calendar subtract to timedeltas
            days = np.array([abs((v - t).total_seconds()) / 86400 for v in values.ravel()])
    except (TypeError, ValueError, AttributeError):
        return None
    days = days[np.isfinite(days)]
    return float(days.min()) if days.size else None


def _check_emissivity_values(v: np.ndarray) -> None:
    """Refuse emissivities outside (0, 1]; on dask, per block as it is read (a zero block
    became a gap and mixed signs gave an infinite coarse LST, without a word)."""
    ok = v[np.isfinite(v)]
    if ok.size and (ok.min() <= 0 or ok.max() > 1):
        raise XlstsrError(
            f"emissivity values from {ok.min():.4g} to {ok.max():.4g}: a broadband "
            "emissivity lies in (0, 1] (about 0.9-1 over land); percent? divide by 100; "
            "stored integers? pass them with their scale_factor, add_offset and _FillValue "
            "attributes (coarsen decodes them; a lazy float still holding them is not), or "
            "decode them as CF says: "
            "`eps.where(eps != _FillValue) * scale_factor + add_offset` (MOD11 Emis_31: "
            "0.49 + 0.002 * DN, fill 0)"
        )


#: the median emissivity below which a field is not a land surface's broadband emissivity
#: (water 0.99, vegetation 0.98, bare soil 0.9-0.97; quartz sand, the lowest, about 0.8)
_LOW_EMISSIVITY = 0.7


def _warn_low_emissivity(v: np.ndarray, where: str = "") -> bool:
    """Warn when most emissivities are below :data:`_LOW_EMISSIVITY`: MOD11 Emis_31 decoded
    with its scale_factor but not its add_offset (0.002 * DN: 0.40-0.50) weighted the
    aggregate wrongly, without a word. ``where``: which part ``v`` is (a dask block's).
    Returns whether it warned."""
    ok = v[np.isfinite(v)]
    if not ok.size:
        return False
    med = float(np.median(ok))
    if med < _LOW_EMISSIVITY:
        warn(
            f"the emissivity's median{where} is {med:.3g}: a land surface's broadband emissivity is "
            "about 0.9-1 (water 0.99, bare soil 0.9-0.97). Stored integers scaled without "
            "their add_offset (MOD11 Emis_31 is 0.49 + 0.002 * DN)? Decode them as CF says "
            "(`eps.where(eps != _FillValue) * scale_factor + add_offset`), or pass the stored "
            "integers with their attributes, which coarsen decodes.",
            UserWarning,
        )
        return True
    return False


def _coarsen_dask(data, eps, factor: int, min_valid: float,
                  sigma: tuple[float, float | np.ndarray] | None):
    nd = data.ndim
    # the PSF needs neighbours: a halo of whole coarse pixels covering the Gaussian's 4 sigma
    # per axis (a per-row x width: its widest row's); chunks at least that wide (narrower ones
    # failed inside dask's overlap)
    ch = [0, 0] if not sigma else [-(-int(np.ceil(4 * float(np.max(s)))) // factor)
                                   for s in sigma]
    data = data.rechunk({nd - 2: _multiple(data.chunks[-2], factor, ch[0] * factor),
                         nd - 1: _multiple(data.chunks[-1], factor, ch[1] * factor)})
    # one chunk along an axis needs no halo there: the array's edge is the kernel's edge
    ch = [c if len(data.chunks[nd - 2 + i]) > 1 else 0 for i, c in enumerate(ch)]
    args = [data] + ([_broadcast_emissivity(eps, data)] if eps is not None else [])
    rows = sigma is not None and np.ndim(sigma[1]) > 0
    if rows:
        # a lon/lat grid's per-row x widths, (1, ..., Y, 1) chunked along y as the data:
        # each block meets the widths of its own rows (halo included)
        args.append(dsa.from_array(np.asarray(sigma[1]).reshape((1,) * (nd - 2) + (-1, 1)),
                                   chunks=((1,) * (nd - 2) + (data.chunks[-2], (1,)))))
    out_chunks = (*data.chunks[:-2], tuple(c // factor for c in data.chunks[-2]),
                  tuple(c // factor for c in data.chunks[-1]))
    meta = np.empty((0,) * nd, data.dtype)

    def block_kernel(b, *rest):
        e = rest[0] if eps is not None else None
        s = (sigma[0], np.asarray(rest[-1]).reshape(-1)) if rows else sigma
        return _kernel(b, e, factor, min_valid, s)

    if not sigma or not any(ch):
        return dsa.map_blocks(block_kernel, *args, chunks=out_chunks, dtype=data.dtype,
                              meta=meta)
    # boundary="nearest" reproduces gaussian_filter(mode="nearest") at the array edges
    depth = {nd - 2: ch[0] * factor, nd - 1: ch[1] * factor}
    keep = tuple(slice(c, -c if c else None) for c in ch)

    def fn(b, *rest):
        return block_kernel(b, *rest)[(..., *keep)]

    depths = [depth] * (len(args) - rows) + ([{**depth, nd - 1: 0}] if rows else [])
    return dsa.map_overlap(fn, *args, depth=depths, boundary="nearest", trim=False,
                           chunks=out_chunks, dtype=data.dtype, meta=meta)


def _broadcast_emissivity(eps, data: dsa.Array) -> dsa.Array:
    """The emissivity (its own axes, size 1 where it lacks one of the LST's) as a dask array of
    the LST's shape and chunks, broadcast block by block inside dask: a static (y, x) one is
    held once, not once per step (``dask.array.asarray`` of a broadcast view copied it all)."""
    chunks = tuple(c if n == s else (n,) for c, n, s in zip(data.chunks, eps.shape, data.shape))
    if isinstance(eps, dsa.Array):
        eps = _checked_emissivity(eps.rechunk(chunks))
    else:  # checked by _emissivity
        eps = dsa.from_array(np.asarray(eps), chunks=chunks)
    return dsa.broadcast_to(eps, data.shape, chunks=data.chunks)


def _multiple(chunks: tuple[int, ...], factor: int, minimum: int = 0) -> tuple[int, ...]:
    """Rechunk sizes so every chunk is a multiple of ``factor`` and, where the total allows,
    at least ``minimum`` (same total)."""
    size = max(factor, minimum, (max(chunks) // factor) * factor)
    total = sum(chunks)
    out = [size] * (total // size)
    rest = total % size
    if rest and out and rest < minimum:
        out[-1] += rest  # a narrow last chunk joins its neighbour
    elif rest:
        out.append(rest)
    return tuple(out)

"""Training from xarray cubes and files: the xarray layer under ``xlstsr train``.

:class:`CubeDataModule` (a ``LightningDataModule``) takes an LST cube (and optionally a guide and
a fine truth) as DataArrays, decodes them through the library's front door
(:mod:`xlstsr.validate`), builds the pairs of the training regime, cuts patches with xbatcher and
splits them by window position. :func:`fit_cube` trains a model on it with
:func:`xlstsr.train.fit`.
:func:`fit_files` opens files (Zarr, NetCDF, GeoTIFF), calls :func:`fit_cube` and writes the
checkpoint with its provenance.
"""

from __future__ import annotations

import dataclasses
import gc
import hashlib
import logging
import math
import numbers
import os
import re
import shlex
from collections.abc import Hashable, Mapping
from pathlib import Path
from typing import Any

import numpy as np
import torch
import xarray as xr

from ..errors import (
    CheckpointError,
    GridError,
    GuideScaleError,
    InputTypeError,
    PhysicalRangeError,
    ScaledIntegerError,
    UndeclaredFillError,
    UnitsError,
    VariableNotFoundError,
    XlstsrError,
    warn,
)
from ..validate import (
    check_bool,
    check_declarations,
    check_factor,
    check_number,
    check_whole,
    declare_lst,
    decode_lst,
    image_order,
    require_valid_pixels,
    select_variable,
    spatial_dims,
    spatial_names,
)
from .data import (
    _gain_default_message,
    _guide_gain_fit,
    degraded_pairs,
    make_patches,
    target_scale_pairs,
)
from .loop import MODES, PatchDataModule, check_seed, fit, merge_loss_options
from .windows import (
    GRID_KEYS,
    PositionSplit,
    _check_known_positions,
    _few,
    split_by_position,
    split_positions,
)

__all__ = ["CubeDataModule", "fit_cube", "fit_files"]

log = logging.getLogger(__name__)


def _select(obj: xr.DataArray | xr.Dataset, variable: Hashable | None, role: str) -> xr.DataArray:
    """The DataArray of an input: a Dataset's named variable, or its only one."""
    if isinstance(obj, xr.DataArray):
        return obj
    if variable is None and len(obj.data_vars) == 1:
        return obj[next(iter(obj.data_vars))]
    return select_variable(obj, variable, role=role)


def _half_stride(patch: int, factor: int) -> int:
    """Half a patch, in whole coarse pixels (patch=12 at factor 4 was refused for its stride
    of 6, a value the user never set): the patch itself is checked by make_patches."""
    return max(factor, patch // 2 // factor * factor) if patch % factor == 0 else patch // 2


def _stack(da: xr.DataArray) -> np.ndarray:
    """``(n, y, x)`` float32 values, every non-spatial dim flattened into the first."""
    ydim, xdim = spatial_dims(da)
    lead = [d for d in da.dims if d not in (ydim, xdim)]
    da = da.transpose(*lead, ydim, xdim)
    return np.asarray(da.values, np.float32).reshape(-1, da.sizes[ydim], da.sizes[xdim])


def _finite_range(arr: np.ndarray) -> tuple[float, float]:
    """The smallest and largest finite value of ``arr`` (NaN, NaN without one), without a copy
    of its valid values (one more cube in memory during :meth:`CubeDataModule.setup`)."""
    if not arr.size:
        return math.nan, math.nan
    lo, hi = float(np.fmin.reduce(arr, axis=None)), float(np.fmax.reduce(arr, axis=None))
    if math.isinf(lo) or math.isinf(hi):  # an inf among the values: the finite ones only
        valid = arr[np.isfinite(arr)]
        return (float(valid.min()), float(valid.max())) if valid.size else (math.nan, math.nan)
    return lo, hi


def _not_a_temperature(guide: Any) -> Any:
    """Refuse a guide labelled as a temperature: the fine LST (or the truth) given as the guide
    trained a model that reads the answer from its input (a SIF run on the 250 m LST trained
    without a word); at inference a model's normalisation names it, here nothing else would."""
    from ..errors import UnitsError
    from ..validate import _units_kind

    units = getattr(guide, "attrs", {}).get("units")
    try:
        kind = _units_kind(units)
    except UnitsError:
        return guide  # NDVI, reflectance, elevation...: any other guide
    if kind is not None:
        raise XlstsrError(
            f"the guide's units are {units!r}, a temperature: the guide is a fine surface "
            "property (NDVI, reflectance), not an LST. Is the fine LST or the truth given as "
            "`guide=`? Pass the NDVI there (and a fine truth as `truth=` with "
            "mode='supervised')."
        )
    return guide


def _check_guide_offset(value: Any) -> Any:
    """``guide_offset`` as upscale takes it (refused before any data is read)."""
    from ..guide import GUIDE_OFFSET_MODES

    if value is None or isinstance(value, xr.Dataset) or (
            isinstance(value, str) and value in GUIDE_OFFSET_MODES):
        return value
    raise XlstsrError(f"guide_offset must be one of {GUIDE_OFFSET_MODES}, an "
                      f"xlstsr.estimate_offset Dataset or None (the default: 'auto' where the "
                      f"LST and the guide have a CRS), got {value!r}")


def _same_labels(truth: xr.DataArray, lst: xr.DataArray) -> xr.DataArray:
    """The truth with its dates in the LST's order: truth and LST were paired by position, so a
    truth of the same dates in another order trained every input on another day's truth."""
    from ..steps import pair_steps

    return pair_steps(truth, lst, "truth", "LST", like_var="lst")


def _bands_as_steps(truth: xr.DataArray | None, lst: xr.DataArray,
                    path: Any, lst_path: Any = None) -> xr.DataArray | None:
    """An undated GeoTIFF truth's bands as the LST's steps, by position, where their counts
    match (as ``--truth-band``'s help says: every band, as time steps); the truth otherwise.

    A dated NetCDF LST beside an undated multi-band GeoTIFF truth was refused with Python-only
    advice (``assign_coords``/``swap_dims``) a command-line user could not follow, while the
    same two files as GeoTIFFs trained (their bands paired by number). The pairing is by
    position, as for two GeoTIFFs: a warning names it, and bands whose mean temperatures match
    the LST's steps clearly better in another order are refused with that order
    (:func:`_check_band_order`; a reversed truth trained at validation loss 4.36 for 0.32).
    Bands of another count than the LST's steps are refused with advice a shell can follow,
    as are bands beside an LST of several lead dims (``(overpass, time)``: which band is which
    image is not known), whose advice writes the truth with those dims (``lst_path``: the LST
    file, whose labels the advised command reads).
    """
    if truth is None or "band" not in truth.dims or not str(path).lower().endswith(
            (".tif", ".tiff")):
        return truth
    ydim, xdim = spatial_dims(lst)
    steps = [d for d in lst.dims if d not in (ydim, xdim)]
    if steps == ["band"] and truth.sizes["band"] == lst.sizes["band"] > 1:
        # two GeoTIFFs: their bands pair by number (as the help says), checked alike
        _check_band_order(truth, lst, "band", path)
        return truth
    if "band" in truth.coords and truth["band"].dtype.kind not in "iu":
        return truth  # labelled bands (not GeoTIFF band numbers): paired by their labels
    if len(steps) > 1 and "band" not in steps and not set(steps) & set(truth.dims) \
            and all(d in lst.indexes for d in steps):
        # pair_steps' advice (an 'overpass' label per band, assign_coords/swap_dims) was
        # Python only, and cannot pair 8 bands with 2 overpass labels (probe 50 R2/3)
        raise XlstsrError(_lead_dims_advice(truth, lst, steps, path, lst_path))
    if len(steps) != 1 or steps[0] == "band" or steps[0] in truth.dims \
            or steps[0] not in lst.coords:
        return truth  # pair_steps says what is wrong
    step = steps[0]
    labels = lst[step].values
    shown = np.datetime_as_string(labels, unit="D") if labels.dtype.kind == "M" else labels
    n = truth.sizes["band"]
    if n != labels.size:
        if n == 1:
            return truth  # pair_steps says what is wrong
        # pair_steps' advice (assign_coords/swap_dims) was Python only
        stem = Path(str(path))
        out = shlex.quote(str(stem.with_name(f"{stem.stem}_steps.tif")))
        first = ",".join(map(str, range(1, labels.size + 1)))
        fewer = (f"keep the bands of the LST's steps, in its order (rasterio's command, "
                 f"installed with xlstsr, picks and orders bands: `rio stack "
                 f"{shlex.quote(str(path))} --bidx {first} -o {out}` keeps the first "
                 f"{labels.size}){_tags_to_declare(path)}" if n > labels.size else
                 "give an LST of the truth's dates only")
        raise XlstsrError(
            f"the truth {path} has {n} bands and no dates, the LST {labels.size} {step!r} "
            f"steps ({shown[0]} .. {shown[-1]}): an undated GeoTIFF's bands pair with the LST's "
            "steps by position only where their counts match. Write the truth with the LST's "
            "dates (a NetCDF with a 'time' coordinate, or GeoTIFFs written by xlstsr's to_cogs, "
            f"whose bands are named by date), or {fewer}, or train on one band (--truth-band N; "
            "truth_band=N in Python) beside an LST of that one date.")
    if n > 1:
        _check_band_order(truth, lst, step, path)
        log.warning("the truth's %d bands taken as the LST's %d %r steps in order (%s .. %s): "
                    "an undated GeoTIFF's bands pair by position", n, labels.size, step,
                    shown[0], shown[-1])
    return truth.assign_coords({step: ("band", labels)}).swap_dims({"band": step})


def _lead_dims_advice(truth: xr.DataArray, lst: xr.DataArray, lead: list[Hashable],
                      path: Any, lst_path: Any) -> str:
    """The refusal of an undated GeoTIFF truth's bands beside an LST of several lead dims
    (``(overpass, time)``): a command that writes the truth as a NetCDF with those dims, its
    bands read in the LST's image order (the last lead dim fastest), where the counts match
    and the LST is a file xarray opens; else what to write."""
    n = truth.sizes["band"]
    sizes = [lst.sizes[d] for d in lead]
    total = int(np.prod(sizes))
    dims = " x ".join(f"{lst.sizes[d]} {d!r}" for d in lead)
    head = (f"the truth {path} has {n} bands and no dates or overpasses, the LST {total} "
            f"images along {tuple(lead)} ({dims}): which band is which image is not known. ")
    one = ("or train on one band (--truth-band N; truth_band=N in Python) beside an LST of "
           "that one image")
    stem = Path(str(path))
    out = stem.with_name(f"{stem.stem}_steps.nc")
    opened = lst_path is not None and isinstance(lst_path, (str, os.PathLike)) and \
        Path(str(lst_path)).suffix.lower() in (".nc", ".nc4", ".cdf", ".h5", ".zarr")
    if n != total or not opened:
        return (head + f"Write the truth with the LST's {tuple(lead)} dims and labels (a "
                f"NetCDF whose truth variable has {tuple(lead)} coordinates as the LST's), "
                + one + ".")
    names = [str(d) for d in lead]
    code = ("import pandas as pd, rioxarray, xarray as xr; "
            f"s = xr.open_dataset({str(lst_path)!r}); "
            f"i = pd.MultiIndex.from_product([s.indexes[d] for d in {names!r}], "
            f"names={names!r}); t = rioxarray.open_rasterio({str(path)!r}); "
            "t.assign_coords(xr.Coordinates.from_pandas_multiindex(i, 'band'))"
            f".unstack('band').rename('truth').to_netcdf({str(out)!r})")
    quoted = f'"{code}"' if not re.search(r'["$`\\!]', code) else shlex.quote(code)
    order = ", ".join(f"band {k + 1}: " + ", ".join(
        f"{d}={_shown(lst[d].values[j])}" for d, j in zip(names, idx))
        for k, idx in enumerate(np.ndindex(*sizes)) if k < 2)
    return (head + f"If its bands are the LST's images in the LST's order ({order}, ...: "
            f"the last of {tuple(names)} fastest), write it with those dims and labels "
            f"(`python -c {quoted}`) and train on {out} (--truth {shlex.quote(str(out))}); "
            "else write it so in its own order, " + one + ".")


def _shown(v: Any) -> str:
    """A lead label for a message: a date by its day."""
    if isinstance(v, np.datetime64):
        return str(np.datetime_as_string(v, unit="D"))
    return str(v)


def _tags_to_declare(path: Any) -> str:
    """For advice that rewrites the GeoTIFF ``path`` with ``rio stack`` (which drops band scale
    and offset tags): the declaration that gives them back, else ''."""
    import rasterio

    try:
        with rasterio.open(path) as src:
            scale, offset = src.scales[0], src.offsets[0]
    except (OSError, rasterio.errors.RasterioError, IndexError):
        return ""
    if scale in (None, 1) and offset in (None, 0):
        return ""
    flags = f"--truth-scale {scale!r}" + (f" --truth-offset {offset!r}" if offset else "")
    python = f"'scale_factor': {scale!r}" + (f", 'add_offset': {offset!r}" if offset else "")
    return (f", declaring the scale its tags gave (rio stack drops them: {flags}; "
            f"truth_declare={{{python}}} in Python)")


#: how far (K, median over the steps) a truth's band means may be from its LST steps' before
#: its band order is judged, and how many times closer another order must bring them
_ORDER_GAP_K = 2.0
_ORDER_RATIO = 4.0


def _check_band_order(truth: xr.DataArray, lst: xr.DataArray, step: Hashable,
                      path: Any) -> None:
    """Refuse an undated truth whose bands' mean temperatures match the LST's steps clearly
    better in another order than by position (a median gap over :data:`_ORDER_GAP_K` and
    :data:`_ORDER_RATIO` times that of the best one-to-one matching, a steady offset between
    truth and LST removed first), naming that order and a command that writes it. One mean per band and step: cheap beside the training."""
    try:  # in Kelvin (a GeoTIFF's scale tag is applied later, in fit_cube)
        truth, lst = (decode_lst(x.rename(spatial_names(x)), keep_out_of_range=True,
                                 check_fill=False, what=role)
                      for x, role in ((truth, "truth"), (lst, "LST")))
    except (XlstsrError, ValueError, TypeError):
        return  # (the run itself names what is wrong)
    ty, tx = spatial_dims(truth)
    ly, lx = spatial_dims(lst)
    with np.errstate(all="ignore"):
        a = np.asarray(truth.mean((ty, tx), skipna=True).transpose("band").values, float)
        b = np.asarray(lst.mean((ly, lx), skipna=True).transpose(step).values, float)
    from scipy.optimize import linear_sum_assignment

    own_diff = a - b
    if not np.isfinite(own_diff).any():
        return
    # a steady offset (another sensor or overpass hour: a summer truth 3 K warm) is no
    # misorder: removed first. Bands matched to steps one to one (each band to its nearest
    # step, several bands took one step, and right-order truths were refused)
    a = a - float(np.nanmedian(own_diff))
    gap = np.abs(a[:, None] - b[None, :])
    finite = np.isfinite(gap)
    band_of, step_of = linear_sum_assignment(np.where(finite, gap, 1e6))
    matched = gap[band_of, step_of]
    own = np.diagonal(gap)
    position = float(np.nanmedian(own))
    closest = float(np.median(matched[np.isfinite(matched)])) if np.isfinite(matched).any() \
        else np.inf
    if not (position > _ORDER_GAP_K and position > _ORDER_RATIO * closest):
        return
    # for each LST step, the band matched to it (1-based, GeoTIFF numbering)
    order = [0] * b.size
    for i, j in zip(band_of, step_of):
        order[j] = int(i) + 1
    labels = lst[step].values if step in lst.coords else np.arange(1, b.size + 1)
    shown = np.datetime_as_string(labels, unit="D") if labels.dtype.kind == "M" else labels
    pairs = ", ".join(f"{shown[j]}: band {k}" for j, k in enumerate(order[:6]))
    pairs += ", ..." if len(order) > 6 else ""
    stem = Path(str(path))
    out = stem.with_name(f"{stem.stem}_ordered.tif")
    fix = (f"write its bands in the LST's order (rasterio's command, installed with "
           f"xlstsr: `rio stack {shlex.quote(str(path))} --bidx {','.join(map(str, order))} "
           f"-o {shlex.quote(str(out))}`) and train on that file{_tags_to_declare(path)}"
           if sorted(order) == list(range(1, b.size + 1)) else
           "write the truth with the LST's dates (a NetCDF with a 'time' coordinate, or "
           "GeoTIFFs written by xlstsr's to_cogs)")
    if fix.startswith("write its bands"):
        fix += ", or write the truth with its dates"
    raise XlstsrError(
        f"the truth {path} has no dates, so its {a.size} bands pair with the LST's {b.size} "
        f"{step!r} steps by position, but their mean temperatures differ from those steps' by "
        f"{position:.1f} K (median over the steps, their steady offset removed) while matched "
        f"one to one they differ by {closest:.1f} K: its bands look to be in another order "
        f"(by mean temperature, {pairs}). If it is in another order, {fix}.")


def _grid_of(da: xr.DataArray) -> tuple[tuple[float, float], tuple[float, float]] | None:
    """``(origin, pixel_size)`` of a north-up cube (x, y of its upper-left pixel centre and its
    steps), None without numeric coordinates on both axes."""
    ydim, xdim = spatial_dims(da)
    if ydim not in da.coords or xdim not in da.coords:
        return None
    try:
        y = np.asarray(da[ydim].values, float)
        x = np.asarray(da[xdim].values, float)
    except (TypeError, ValueError):
        return None
    if not (y.size and x.size and np.isfinite(y[0]) and np.isfinite(x[0])):
        return None
    dx = float(x[1] - x[0]) if x.size > 1 else math.nan
    dy = float(y[1] - y[0]) if y.size > 1 else math.nan
    return (float(x[0]), float(y[0])), (dx, dy)


def _close(a: float, b: float, rel: float = 1e-3) -> bool:
    """Equal within ``rel`` of ``b`` (True where either is not finite: nothing to compare)."""
    return not (math.isfinite(a) and math.isfinite(b)) or abs(a - b) <= rel * abs(b)


def _pixels_named(pixel: float, lst_pixel: float) -> str | None:
    """What pixels of this step are beside the LST's: its own (the windows of the degraded
    modes) or ``k`` times finer (the output pixels of the target-scale modes at factor k)."""
    if not (math.isfinite(pixel) and math.isfinite(lst_pixel)) or not pixel:
        return None
    k = abs(lst_pixel) / abs(pixel)
    if abs(k - 1) < 1e-3:
        return "LST pixels (the windows of mode 'sisr' or 'degraded_disr')"
    if k > 1.5 and abs(k - round(k)) < 1e-3 * k:
        return (f"output pixels of a run at factor {round(k)} (LST pixels / {round(k)}: the "
                "windows of mode 'sif' or 'supervised')")
    return None


def _window_message(split_window: int, window: int) -> str:
    return (
        f"the split was made for window positions of {split_window} px, not window="
        f"{window}: its 'r{{row}}c{{col}}' ids name other ground with another "
        f"window (its validation positions would be trained on). Pass window="
        f"{split_window} (or leave window= unset to take the split's), or drop split= "
        "to draw a new one."
    )


def _check_split_grid(
    split: PositionSplit,
    grid: Any,
    window: int,
    *,
    lst_grid: Any = None,
    mode: str = "sisr",
    factor: int = 1,
    patch: int | None = None,
) -> PositionSplit:
    """The reused split on this run's windows: refuse one whose ids count windows from another
    origin, on pixels of another size than this run's windows count (another cube's resolution,
    or another mode or factor: the degraded modes count LST pixels, the target-scale ones output
    pixels, the LST's / factor) or of another window (:class:`~xlstsr.errors.GridError`); warn
    where nothing can be checked (a split recorded before its grid was, on a cube with
    coordinates). ``grid``: the (origin, pixel_size) of the pixels this run's windows count,
    ``lst_grid`` the LST's. A split naming the same ground in other pixels (a sif split at
    factor 4 of 32-px windows, reused in mode 'sisr' with window=8) is returned in this run's."""
    if split.origin is None:
        if split.window is not None and split.window != window:
            raise GridError(_window_message(split.window, window))
        if grid is not None and split.window is not None:
            warn(
                "the split records no grid origin (made before xlstsr recorded it): its "
                "'r{row}c{col}' ids are taken to count windows from this cube's upper-left "
                "pixel, which only holds if the cube is cropped as in the first run (otherwise "
                "its validation ground is trained on). Crop it so, or drop split= to draw a "
                "new one.",
                UserWarning,
            )
        return split
    if grid is None:  # plain arrays: nothing to compare, the ids are positions in the array
        if split.window is not None and split.window != window:
            raise GridError(_window_message(split.window, window))
        return split
    lst_grid = grid if lst_grid is None else lst_grid
    (x0, y0), (dx, dy) = grid
    (lx, ly), (ldx, ldy) = lst_grid
    (sx, sy), (sdx, sdy) = split.origin, split.pixel_size or (math.nan, math.nan)
    sw = window if split.window is None else split.window
    steps = [abs(v) for v in (dx, dy, sdx, sdy, ldx, ldy) if math.isfinite(v)]
    step = max(steps) if steps else 0.0
    tol = 0.01 * step if step else 1e-9 * max(1.0, abs(sx), abs(sy))
    same_pixel = _close(sdx, dx) and _close(sdy, dy)
    lst_pixel = _close(sdx, ldx) and _close(sdy, ldy)
    if not same_pixel and lst_pixel and split.pixel_size is not None and mode in (
            "sif", "supervised") and abs(sx - lx) <= tol and abs(sy - ly) <= tol and sw == window:
        # the LST's grid in a target-scale mode: a split of such a run made before xlstsr
        # recorded the pixels its windows count (taken as before), or one of a degraded mode
        # (LST pixels: other ground); nothing tells them apart
        warn(
            f"the split records the LST's pixels ({sdx:g} x {sdy:g}), not the output pixels "
            f"this run's windows count (mode {mode!r}, factor {factor}: {dx:g} x {dy:g}): made "
            "by a sif or supervised run before xlstsr recorded them, it names the same ground "
            "and is taken so; made by a sisr or degraded_disr run (windows of LST pixels), its "
            "ids name other ground here (its validation ground would be trained on). Reuse "
            "a split in the mode and at the factor it was made in, or drop split= to draw a "
            "new one.",
            UserWarning,
        )
        return dataclasses.replace(split, window=window, origin=grid[0], pixel_size=grid[1])
    if split.pixel_size is None or same_pixel:
        # pixels of this run's size (or not recorded): the ids count from its origin
        if not (abs(x0 - sx) <= tol and abs(y0 - sy) <= tol) and not (
                split.pixel_size is None and abs(lx - sx) <= tol and abs(ly - sy) <= tol):
            raise GridError(
                f"the split was made on a cube with its upper-left pixel at x={sx:.10g}, "
                f"y={sy:.10g}; this cube's is at x={x0:.10g}, y={y0:.10g}: its "
                f"'r{{row}}c{{col}}' ids count {sw}-px windows from there, so on this cube "
                "they name other ground (its validation positions would be trained on). Crop "
                "the cube as in the first run (the same upper-left pixel and resolution), or "
                "drop split= to draw a new split."
            )
        if sw != window:
            raise GridError(_window_message(sw, window))
        return split
    # pixels of another size: the same ground only with the same upper-left corner and windows
    # of the same extent
    corner = (abs((sx - sdx / 2) - (x0 - dx / 2)) <= tol
              and abs((sy - sdy / 2) - (y0 - dy / 2)) <= tol)
    extent = _close(window * abs(dx), sw * abs(sdx)) and _close(window * abs(dy), sw * abs(sdy))
    if corner and extent:
        return dataclasses.replace(split, window=window, origin=grid[0], pixel_size=grid[1])
    theirs, ours = _pixels_named(sdx, ldx), _pixels_named(dx, ldx)
    if theirs is None or ours is None:  # another cube's resolution
        raise GridError(
            f"the split was made on a cube with pixels of {sdx:.6g} x {sdy:.6g} (x, y), this "
            f"cube's {dx:.6g} x {dy:.6g}: its 'r{{row}}c{{col}}' ids count {sw}-px windows "
            "there, so on this cube they name other ground (its validation positions would be "
            "trained on). Crop the cube as in the first run (the same upper-left pixel and "
            "resolution), or drop split= to draw a new split."
        )
    same = sw * abs(sdx) / abs(dx) if dx else math.nan
    if corner and math.isfinite(same) and abs(same - round(same)) < 1e-6 and round(same) >= 1:
        n = round(same)
        fix = (f"Pass window={n} (the same ground in this run's pixels"
               + (")" if patch is None or n % patch == 0 else
                  f", with a patch that divides it: patch={patch} does not)")
               + ", or drop split= to draw a new split.")
    else:
        fix = ("Reuse it in the mode and at the factor it was made in, or drop split= to draw "
               "a new split.")
    raise GridError(
        f"the split's 'r{{row}}c{{col}}' ids count windows of {sw} {theirs}; this run's "
        f"(mode {mode!r}, factor {factor}) windows of {window} count {ours}: with the same "
        f"ids they name other ground (its validation positions would be trained on; "
        f"pixels {sdx:g} x {sdy:g} in the split, {dx:g} x {dy:g} here). " + fix
    )


def _truth_on_fine_grid(truth: xr.DataArray, lst: xr.DataArray, factor: int) -> xr.DataArray:
    """The truth north-up and checked to lie on the LST's grid ``factor`` times finer, pixel
    for pixel, when both have coordinates: it was paired by position only (a south-up truth
    trained upside down, one 8 km away on the wrong ground, without a word). Along an axis the
    LST has no coordinates for, nothing says the LST's order: the truth is kept as stored
    there (flipping it alone trained a south-up pair stored alike upside down), as the guide
    is (:func:`xlstsr.guide._same_shape_guide`). A truth whose CRS means another than the LST's
    is refused (:func:`~xlstsr.validate.crs_mismatch`: its numbers were compared alone)."""
    from ..grid import fine_grid, same_axis
    from ..validate import crs_mismatch, image_order

    try:
        ty, tx = spatial_dims(truth)
        ly, lx = spatial_dims(lst)
    except XlstsrError:
        return image_order(truth)
    unordered = [t for t, d in ((ty, ly), (tx, lx)) if t in truth.coords and d not in lst.coords]
    truth = image_order(truth.drop_vars(unordered))
    if not all(d in c.coords for d, c in ((ty, truth), (tx, truth), (ly, lst), (lx, lst))):
        return truth  # plain arrays: paired by position, as documented
    other = crs_mismatch(truth, lst)  # what the CRSs mean, not how they are spelled
    if other is not None:
        # its coordinates were compared as numbers only: a truth labelled UTM on the LST's
        # sinusoidal grid numbers trained on mismatched ground without a word
        tcrs, lcrs = other
        raise GridError(
            f"the truth's CRS ({tcrs.to_string()[:60]}) is not the LST's "
            f"({lcrs.to_string()[:60]}): it is paired with the LST pixel for pixel on the LST's "
            f"grid {factor} times finer. Put it there first, e.g. `truth.rio.reproject_match("
            f"fine)` with `fine = lst.lstsr.upscale({factor}, 'nearest')` (for `xlstsr train`: "
            "write the truth file on that grid, e.g. with gdalwarp), or fix a wrong CRS label "
            "(`truth.rio.write_crs(lst.rio.crs)`)."
        )
    fy, fx, ft = fine_grid(image_order(lst), factor)
    y, x = np.asarray(truth[ty].values, float), np.asarray(truth[tx].values, float)
    # each axis to its own pixel (was x's step for both: a grid of non-square pixels)
    if not (same_axis(fy, y, tol=0.01) and same_axis(fx, x, tol=0.01)):
        # 10 significant digits: 6 showed 0.001 and 0.000999999 degrees alike
        lpx, lpy = abs(ft.a) * factor, abs(ft.e) * factor
        tpx, tpy = (abs(float(v[1] - v[0])) if v.size > 1 else np.nan for v in (x, y))
        pixels = f"LST pixels {lpx:.10g} x {lpy:.10g}, truth pixels {tpx:.10g} x {tpy:.10g}"
        known = [(t, lp) for t, lp in ((tpx, lpx), (tpy, lpy)) if np.isfinite(t)]
        if known and all(t >= lp * 0.99 for t, lp in known):
            # the LST on the truth's own grid (a coarse product resampled onto the fine one):
            # reprojecting the truth 'factor' times finer invents its detail by interpolation
            raise GridError(
                f"the LST is not coarser than the truth ({pixels}): mode 'supervised' learns "
                f"to upscale an LST {factor} times coarser onto the truth's grid. Coarsen the "
                f"LST first (`lst = lst.lstsr.coarsen({factor})` for one on the truth's grid), "
                "or pass the LST at its own, coarser resolution."
            )
        raise GridError(
            f"the truth is not on the LST's grid {factor} times finer (its x from {x[0]:.10g}, y "
            f"from {y[0]:.10g}; the fine grid's from {fx[0]:.10g} and {fy[0]:.10g}, {fx.size} x "
            f"{fy.size} pixels; {pixels}): it is paired with the LST pixel for pixel. Put it "
            "there first, e.g. `truth.rio.reproject_match(fine)` with `fine = "
            "lst.lstsr.upscale(factor, 'nearest')`."
        )
    return truth


class CubeDataModule(PatchDataModule):
    """Training patches of an LST datacube, split by window position (a LightningDataModule).

    The cube (a lazy Zarr, STAC or NetCDF DataArray is fine: it is read in :meth:`setup`) goes
    through the library's front door (:func:`xlstsr.validate.decode_lst`: units, fill values,
    scaled integers; guides through :func:`xlstsr.guide.prepare_guide`: steps matched to the
    LST's by label, bands as channels), is cut into square **window positions** of ``window``
    output pixels on a fixed grid, and each window becomes the pairs of the training regime
    (``"sisr"`` and ``"degraded_disr"``: :func:`degraded_pairs`, optionally under a Gaussian PSF
    that sees only its window; ``"sif"`` and ``"supervised"``: :func:`target_scale_pairs`),
    cut into patches with xbatcher (:func:`make_patches`, stride about half a patch). Whole positions,
    with all their dates, go to training or validation (:func:`split_positions`, seeded; at
    least one validation position when there are two or more): the same ground on another date
    never crosses the split, since it would let a network recall the landscape. The SIF guide
    gain is fitted on training positions only; it falls back to the loss's default, with a
    warning, where they show no clear anti-correlation of LST and guide detail
    (:func:`fit_guide_gain`; ``gain_fit`` says which).

    Memory: :meth:`setup` peaks at about 3.5 times the cube as float32, plus the guide's share
    (measured on a 48 x 512 x 512 float32 cube with the defaults: the decoded cube, its windows
    and the patches, which overlap by half a patch and stay held after it, 2.4 times the cube);
    train a tile-year in date ranges (``lst.sel(time=...)``) on a small machine.

    Parameters
    ----------
    lst : DataArray or Dataset
        LST ``(..., y, x)``; every non-spatial dim is a date. For ``"sisr"``/``"degraded_disr"``
        the target resolution of the degraded pairs, for ``"sif"``/``"supervised"`` the coarse
        input.
    variable : str, optional
        The LST variable of a Dataset; with a named DataArray, its name (another is refused:
        the DataArray's own field would be trained on).
    guide, truth : DataArray or Dataset, optional
        Fine guide (e.g. NDVI: one field, one per date matched by label, or several bands) and
        fine truth (one per date), at ``factor`` x the LST grid. The guide is aligned by
        coordinates when both have a CRS; otherwise it, like the truth, is paired pixel for
        pixel and must lie on that grid (put north-up, checked by coordinates where both have
        them: :class:`~xlstsr.errors.GridError`); without coordinates both must be exactly
        ``factor`` x the LST's shape.
    mode : str
        One of :data:`xlstsr.train.MODES`.
    factor, patch : int
        Upscaling factor; patch size in output pixels (a multiple of ``factor``).
    window : int, optional
        Side of a window position in output pixels (a multiple of ``patch``; default
        ``2 * patch``). Pixels beyond the last whole window are not used.
    split : PositionSplit, optional
        Positions (``"r{row}c{col}"`` ids) of training and validation; default: drawn with
        ``val_fraction`` and ``seed``. A split that records its ``window`` (a checkpoint's
        ``metadata["split"]``) gives ``window`` when it is not given and refuses another one
        (:class:`~xlstsr.errors.GridError`): its ids name windows of that size. Its
        ``origin`` and ``pixel_size`` are those of the pixels its window counts (the LST's in
        the degraded modes, the output pixels, LST / factor, in sif and supervised): a split
        reused on another cube, in another mode or at another factor is refused unless its ids
        name the same ground (a sif split of 32-px windows at factor 4 in mode 'sisr' with
        ``window=8``).
    val_fraction : float
        Share of the patches whose positions go to validation (0: none).
    psf : float, optional
        Gaussian PSF width (pixels of ``lst``) of the degradation (:func:`degraded_pairs`):
        modes ``"sisr"`` and ``"degraded_disr"`` only (the others degrade nothing; it is
        refused there).
    max_nan_fraction : float
        Largest share of NaN in a patch's coarse input (and truth) for it to be kept.
    min_valid : float
        Modes ``"sisr"`` and ``"degraded_disr"``: the smallest valid share of a ``factor`` x
        ``factor`` block for its degraded (coarse) pixel to be valid (:func:`degraded_pairs`).
        Default 1: every pixel of the block. A cube with scattered gaps (QC-masked pixels, scan
        lines) may hold no complete block (:class:`~xlstsr.errors.AllNaNError` says so): e.g.
        0.5 then takes the radiometric mean of the valid half.
    guide_time_tolerance : timedelta-like, optional
        How far back a guide step may lie from an LST date (e.g. ``"15D"`` for 16-day NDVI
        composites; :func:`xlstsr.guide.match_steps`). Default: equal labels only.
    guide_offset : {"auto", "check", "ignore"}, Dataset or None
        Sub-pixel alignment of the guide with the LST, as :func:`xlstsr.upscale`'s
        ``guide_offset`` (:func:`xlstsr.guide.check_alignment` at ``factor``): ``"auto"`` moves
        the guide back by its measured offset (more than a quarter of a fine pixel by more than
        twice its uncertainty), ``"check"``
        only warns, ``"ignore"`` uses it as stored, an :func:`xlstsr.estimate_offset` result is
        applied. ``None`` (default): ``"auto"`` where the LST and the guide have a CRS (a lazy
        cube too: training reads it whole), the guide as stored without one (paired by
        position). That is the placement of ``xlstsr upscale`` (its ``--guide-offset``
        default) and of ``upscale(guide_offset="auto")``; Python's ``upscale`` with its
        default ``None`` measures nothing on lazy (dask) inputs: pass it
        ``guide_offset="auto"`` there (or train and upscale both with ``"ignore"``). A model
        applied to another placement of the guide than it was trained on sees other inputs
        (0.37 K apart on a real pair). What was done is :attr:`guide_offset_record` (recorded
        with the model and in the checkpoints' data state). Resuming a checkpoint from before
        training placed the guide, without ``guide_offset``, uses the guide as stored, as that
        run did (a warning says so).
    batch_size, seed, augmentation, input_noise
        As :class:`~xlstsr.train.PatchDataModule`.

    Examples
    --------
    >>> import numpy as np, xarray as xr
    >>> cube = xr.DataArray(300 + np.random.default_rng(0).normal(0, 2, (3, 64, 64)),
    ...                     dims=("time", "y", "x"), attrs={"units": "K"})
    >>> dm = CubeDataModule(cube, patch=16, batch_size=8)
    >>> dm.setup("fit")
    >>> sorted(dm.split.val), len(dm.train_set), len(dm.val_set)
    (['r1c0'], 81, 27)
    >>> set(dm.train_set.scene) & set(dm.val_set.scene)
    set()
    """

    def __init__(
        self,
        lst: xr.DataArray | xr.Dataset,
        *,
        variable: Hashable | None = None,
        guide: xr.DataArray | xr.Dataset | None = None,
        truth: xr.DataArray | xr.Dataset | None = None,
        mode: str = "sisr",
        factor: int = 4,
        patch: int = 64,
        window: int | None = None,
        split: PositionSplit | None = None,
        val_fraction: float = 0.2,
        psf: float | None = None,
        max_nan_fraction: float = 0.5,
        min_valid: float = 1.0,
        guide_time_tolerance: Any = None,
        batch_size: int = 16,
        seed: int = 0,
        augmentation: bool = True,
        input_noise: float = 0.0,
        guide_offset: str | xr.Dataset | None = None,
    ) -> None:
        # the front door: factor or patch 0 divided by zero, a negative window reached numpy as
        # "object values", val_fraction -1 silently meant no validation, batch_size 0 and
        # augmentation "no" were kept, a path or numpy cube failed on .data_vars
        for role, obj in (("lst", lst), ("guide", guide), ("truth", truth)):
            if obj is not None and not isinstance(obj, (xr.DataArray, xr.Dataset)):
                raise InputTypeError(
                    f"{role} must be an xarray DataArray or Dataset, got {type(obj).__name__}: "
                    "open files with xlstsr.io.open_path (or train from files with "
                    "xlstsr.train.fit_files); wrap arrays as `xr.DataArray(a, dims=('time', 'y', "
                    "'x'), attrs={'units': 'K'})`"
                )
        if mode not in MODES:
            raise XlstsrError(f"unknown training mode {mode!r}; choose one of {MODES}")
        if mode == "supervised" and truth is None:
            raise XlstsrError("mode 'supervised' needs a fine truth (truth=...)")
        if mode in ("sif", "degraded_disr") and guide is None:  # degraded_disr trained a SISR
            raise XlstsrError(f"mode {mode!r} needs a guide (guide=...); without one, train "
                              "mode 'sisr'")
        # left unused without a word (the command line refused both)
        if mode == "sisr" and guide is not None:
            raise XlstsrError("mode 'sisr' trains without a guide and would not use guide=: "
                              "pass mode='degraded_disr' (or 'sif', 'supervised') to train a "
                              "guided model, or drop guide=")
        if mode != "supervised" and truth is not None:
            # sif trains on the LST at its own scale, not on degraded pairs
            trains = ("the LST at its own scale" if mode == "sif" else "degraded pairs")
            raise XlstsrError(f"truth= is the target of mode 'supervised'; mode {mode!r} trains "
                              f"on {trains} and would not use it: pass mode='supervised', "
                              "or drop truth=")
        if mode not in ("sisr", "degraded_disr") and psf is not None:
            if isinstance(psf, numbers.Real) and not isinstance(psf, bool) and psf == 0:
                psf = None  # no blur: what these modes train with anyway
            else:
                # it blurs only the degraded pairs: sif and supervised trained the same
                # weights, while the checkpoint recorded the psf as if they had used it
                where = ("with w_consistency > 0, " if mode == "supervised" else "")
                raise XlstsrError(
                    f"psf= blurs the degraded pairs of modes 'sisr' and 'degraded_disr'; mode "
                    f"{mode!r} trains on the LST at its own scale and would not use it: drop "
                    f"psf= (a sensor PSF in the loss's coarse consistency is, {where}"
                    "loss_options={'psf_sigma': sigma in output pixels})"
                )
        if split is not None and not isinstance(split, PositionSplit):
            if not isinstance(split, Mapping):
                raise InputTypeError(
                    f"split must be a PositionSplit (or its as_dict()), got {type(split).__name__}"
                    ": e.g. PositionSplit(train=('r0c0', 'r0c1'), val=('r1c0',))")
            split = PositionSplit.from_dict(split)  # a checkpoint's metadata holds as_dict()
        factor = check_factor(factor)
        patch = check_whole("patch", patch, hint="output pixels, a multiple of factor: e.g. 64")
        if window is None and split is not None and split.window is not None:
            window = split.window  # the windows its ids name
        window = 2 * patch if window is None else check_whole(
            "window", window, hint="output pixels, a multiple of patch, or None (2 * patch)")
        min_valid = check_number(
            "min_valid", min_valid, 0, 1,
            hint="the smallest valid share of a factor x factor block: e.g. 1.0, or 0.5 for a "
            "cube with scattered gaps")
        if mode not in ("sisr", "degraded_disr") and min_valid != 1:
            # it shapes only the degraded pairs' coarse LST: unused, yet recorded
            raise XlstsrError(
                f"min_valid= sets which blocks of the degraded pairs of modes 'sisr' and "
                f"'degraded_disr' are valid; mode {mode!r} trains on the LST at its own scale "
                "and would not use it: drop min_valid= (max_nan_fraction= keeps patches with "
                "gaps)")
        check_number("val_fraction", val_fraction, 0, 1, hi_open=True,
                     hint="the share of window positions kept for validation: e.g. 0.2, or 0")
        check_whole("batch_size", batch_size, hint="patches per step: e.g. 16")
        check_seed(seed)
        check_bool("augmentation", augmentation)
        check_number("input_noise", input_noise, 0, hint="a noise sigma in K, e.g. 0.1, or 0")
        if patch % factor:
            raise GridError(f"patch ({patch}) must be a multiple of factor ({factor}): e.g. "
                            f"patch={max(1, patch // factor) * factor}")
        if window % patch:  # named alone: "patch must be a multiple of factor" for patch=12
            raise GridError(f"window ({window}) must be a multiple of patch ({patch}): e.g. "
                            f"window={max(1, window // patch) * patch}")
        super().__init__(
            batch_size=batch_size, seed=seed, augmentation=augmentation, input_noise=input_noise
        )
        self.lst, self.variable, self.guide, self.truth = lst, variable, guide, truth
        self.mode, self.factor, self.patch, self.window = mode, int(factor), int(patch), window
        self.split: PositionSplit | None = split
        self.val_fraction, self.psf = float(val_fraction), psf
        self.max_nan_fraction = float(max_nan_fraction)
        self.min_valid = float(min_valid)
        self.guide_time_tolerance = guide_time_tolerance
        self.guide_offset = _check_guide_offset(guide_offset)
        # what guide_offset did (upscale's xlstsr_guide_offset record), set by setup
        self.guide_offset_record: dict[str, Any] | None = None
        self.loss_options: dict[str, Any] = {}
        #: mode "sif", after setup: the guide gain (``gain``), whether it was ``"fitted"`` or
        #: the ``"default"`` (``source``: a fit with no clear anti-correlation falls back,
        #: :func:`~xlstsr.train.fit_guide_gain`), the fit's ``slope``, ``correlation``, ``reason``
        self.gain_fit: dict[str, Any] | None = None
        # the user gives the loss's gain (fit's loss_options): the fallback is not theirs to hear
        self.gain_given = False
        self.n_guide = 0

    def _inputs(self) -> tuple[np.ndarray, np.ndarray | None, np.ndarray | None]:
        """Decoded LST ``(n, Y, X)``, guide ``(n or 1, c, Yf, Xf)`` and truth ``(n, Yf, Xf)``."""
        from ..guide import guide_fields, prepare_guide

        # north-up, as the truth is put: a south-up cube (ascending latitude) was paired with
        # its truth upside down (each input with the mirror place's truth, without a word)
        # lat/lon dims (a NetCDF cube in EPSG:4326) renamed as upscale's front door does:
        # rioxarray forgets a set_spatial_dims declaration, and the cube was refused
        name, var = getattr(self.lst, "name", None), self.variable
        if isinstance(self.lst, xr.DataArray) and var is not None and name is not None \
                and str(name) != str(var):
            # a DataArray has one field: variable= named another, and the model trained on
            # this one without a word (the night LST asked for, the day LST trained on)
            raise XlstsrError(
                f"variable={var!r} but the LST given is the DataArray {str(name)!r}: "
                "variable= selects a field of a Dataset. Pass the Dataset holding "
                f"{var!r}, or that field itself (`ds[{var!r}]`) without variable="
            )
        lst_in = _select(self.lst, self.variable, "LST")
        lst_da = image_order(decode_lst(lst_in.rename(spatial_names(lst_in)))).load()
        require_valid_pixels(lst_da)
        # the grid the window ids count on (a reused split is checked against it)
        self._grid = _grid_of(lst_da)
        arr = _stack(lst_da)
        ydim, xdim = spatial_dims(lst_da)
        lead = tuple(str(d) for d in lst_da.dims if d not in (ydim, xdim))
        g = None
        if self.guide is not None and self.mode != "sisr":
            guide = guide_fields(self.guide)  # a Dataset's fields, as upscale takes them
            if isinstance(guide, dict):
                # its variables are bands, as documented (refused with advice to name
                # `variable=`, this class's LST); a grid mapping or quality layer is no band
                for band in guide.values():
                    _not_a_temperature(band)
                if len(guide) == 1:
                    guide = next(iter(guide.values()))
            else:
                guide = _not_a_temperature(_select(guide, None, "guide"))
            # placed as upscale places it by default (moved back by its measured offset): a
            # model trained on the guide as stored ran on another placement of it
            guide = self._placed_guide(guide, lst_da)
            try:
                # degraded DISR pairs average the guide onto the LST's grid, where a guide on
                # that grid (the degraded_cube recipe's 1 km NDVI) holds all they need: not
                # advised against as for inference ("no better than bicubic")
                g = prepare_guide(
                    guide, lst_da, self.factor, lead,
                    time_tolerance=self.guide_time_tolerance, require_crs=False,
                    averaged_to_lst=self.mode == "degraded_disr",
                )
                g = np.asarray(g, np.float32)  # a lazy guide's checks run as it is read
            except (UnitsError, ScaledIntegerError, UndeclaredFillError, PhysicalRangeError,
                    GuideScaleError) as err:
                # fit_files' hint names the guide's declarations (it named the LST's: an
                # undeclared -3000 fill of the guide was told to declare the LST's fill)
                err.input_role = "guide"  # type: ignore[attr-defined]
                raise
        t = None
        if self.mode == "supervised":
            try:  # the decoding checks run when the truth is read, in _stack
                truth_in = _select(self.truth, None, "truth")
                truth = _same_labels(decode_lst(truth_in.rename(spatial_names(truth_in)),
                                                what="truth"), lst_da)  # type: ignore[arg-type]
                t = _stack(_truth_on_fine_grid(truth, lst_da, self.factor))
            except (UnitsError, ScaledIntegerError, UndeclaredFillError,
                    PhysicalRangeError) as err:
                err.input_role = "truth"  # type: ignore[attr-defined]  # fit_files' hint
                raise
            want = (arr.shape[0], arr.shape[1] * self.factor, arr.shape[2] * self.factor)
            if t.shape != want:
                raise XlstsrError(
                    f"the truth is {t.shape} (dates, y, x), not the LST's dates on a grid "
                    f"{self.factor} x finer {want}: give one fine truth per LST date"
                )
        return arr, g, t

    def _placed_guide(self, guide: Any, lst_da: xr.DataArray) -> Any:
        """The guide placed as ``guide_offset`` says (upscale's own code: ``_aligned_guide``),
        its record in :attr:`guide_offset_record`; the guide as given where it is not moved."""
        from ..guide import georeference_guide
        from ..upscale import _aligned_guide

        mode = self.guide_offset
        given = mode if mode is None or isinstance(mode, str) else "offset Dataset"
        if mode is None and getattr(self, "_as_stored_on_resume", False):
            # resuming a checkpoint from before training placed the guide: its run used the
            # guide as stored (load_state_dict); moved, the same run was refused
            self.guide_offset_record = {"mode": "ignore", "given": None, "moved": False,
                                        "resumed": "as the checkpoint's run (guide as stored)"}
            return guide
        if isinstance(mode, str) and mode == "ignore":
            self.guide_offset_record = {"mode": "ignore", "given": given, "moved": False}
            return guide
        bands = list(guide.values()) if isinstance(guide, Mapping) else [guide]
        if lst_da.rio.crs is None or any(b.rio.crs is None for b in bands):
            if mode is None:  # paired by position: nothing to measure the offset in
                self.guide_offset_record = {"mode": "not measured (no CRS)", "given": None,
                                            "moved": False}
                return guide
            raise GridError(
                f"guide_offset={'<offset Dataset>' if given == 'offset Dataset' else given!r} "
                "measures (or applies) the guide's offset in the LST's CRS, but the "
                f"{'LST' if lst_da.rio.crs is None else 'guide'} has none: write it "
                "(`.rio.write_crs(...)`) on both, or pass guide_offset='ignore' to train on the "
                "guide as stored (as xlstsr.upscale then needs to be run)."
            )
        # training reads a lazy cube whole anyway: the default measures it (upscale's default
        # reads nothing while a graph is built, but its command line passes 'auto')
        run = "auto" if mode is None else mode
        moved, record = _aligned_guide(georeference_guide(guide), lst_da, run,
                                       factor=self.factor,
                                       time_tolerance=self.guide_time_tolerance, stored=None)
        self.guide_offset_record = {**record, "given": given}
        return moved if record["moved"] else guide

    def _windows(
        self, arr: np.ndarray, g: np.ndarray | None, t: np.ndarray | None
    ) -> tuple[dict[str, np.ndarray | None], list[str]]:
        """The inputs cut into window positions (dates x positions), with their position ids."""
        f, w = self.factor, self.window
        step = self._step()  # output pixels per LST pixel
        wl = w // step  # LST pixels per window; the guide and the truth are f times finer
        n, h, wid = arr.shape
        rows, cols = h // wl, wid // wl
        if not rows or not cols:
            most = min(h, wid) * step
            patch = most // f * f  # a patch is a whole number of LST pixels (f output pixels)
            # the largest window accepted: a multiple of the patch (the cube's side, 40 with
            # patch 32, was advised and then refused)
            fits = most // self.patch * self.patch
            fix = (f"lower `window` (a multiple of the patch, {self.patch}) to {most} at most: "
                   f"window={fits}, the largest multiple of the patch within {most}"
                   if most >= self.patch else
                   f"lower `patch` to {patch} at most and `window` to a multiple of it within "
                   f"{most} (no multiple of the patch {self.patch} fits)" if patch else
                   f"give a larger LST: a patch is at least {f} output pixels")
            raise XlstsrError(
                f"the LST ({h * step} x {wid * step} output pixels) is smaller than one window "
                f"({w}); {fix}"
            )
        out: dict[str, list] = {"lst": [], "guide": [], "truth": []}
        ids: list[str] = []
        for k in range(n):
            for i in range(rows):
                for j in range(cols):
                    out["lst"].append(arr[k, i * wl : (i + 1) * wl, j * wl : (j + 1) * wl])
                    fine = (slice(i * wl * f, (i + 1) * wl * f), slice(j * wl * f, (j + 1) * wl * f))
                    if g is not None:
                        out["guide"].append(g[min(k, g.shape[0] - 1), :, fine[0], fine[1]])
                    if t is not None:
                        out["truth"].append(t[k, fine[0], fine[1]])
                    ids.append(f"r{i}c{j}")
        return {key: np.stack(v) if v else None for key, v in out.items()}, ids

    def _pairs(self, win: dict[str, np.ndarray | None]) -> dict[str, Any]:
        """The pairs of the regime, window by window (a PSF sees only its own window)."""
        f = self.factor
        if self.mode in ("sisr", "degraded_disr"):
            guide = win["guide"] if self.mode == "degraded_disr" else None
            pairs = degraded_pairs(win["lst"], f, guide, psf=self.psf,  # type: ignore[arg-type]
                                   min_valid=self.min_valid)
        else:
            pairs = target_scale_pairs(win["lst"], f, win["guide"], win["truth"])  # type: ignore[arg-type]
        if self.mode == "sisr":
            pairs["guide"] = None
        return pairs

    def _step(self) -> int:
        """Output pixels per LST pixel: the pixels ``window`` counts are the LST's in the
        degraded modes, ``factor`` times finer in the target-scale ones (sif, supervised)."""
        return 1 if self.mode in ("sisr", "degraded_disr") else self.factor

    def _window_grid(self) -> Any:
        """``(origin, pixel_size)`` of the pixels the windows count (the LST's, or the output
        grid ``factor`` times finer: its upper-left pixel centre and steps); None without
        coordinates. Recorded with a split, it says what its ``window`` counts: the same ids of
        a sif run at factor 4 named other ground in mode 'sisr' or at factor 2."""
        grid = getattr(self, "_grid", None)
        s = self._step()
        if grid is None or s == 1:
            return grid
        (x0, y0), (dx, dy) = grid
        ox, px = (x0 + dx * (1 / (2 * s) - 0.5), dx / s) if math.isfinite(dx) else (x0, dx)
        oy, py = (y0 + dy * (1 / (2 * s) - 0.5), dy / s) if math.isfinite(dy) else (y0, dy)
        return (ox, oy), (px, py)

    def _grid_record(self) -> dict[str, Any]:
        """``origin`` and ``pixel_size`` of the pixels the windows count, on the cube read by
        setup (empty without them)."""
        grid = self._window_grid()
        return {} if grid is None else {"origin": grid[0], "pixel_size": grid[1]}

    def _draw_split(self, scene: np.ndarray, every: Any = ()) -> PositionSplit:
        """The split drawn on the patches' positions (``scene``), weighted by their patches;
        ``every``: the id of every window of the cube. A window without a patch (cloud on
        every date) is given a set too: a split reused on other dates, where it has patches,
        was refused as made in another mode or at another factor. It goes where the draw rule
        sends a position of weight 0 (validation, with a validation share; else training),
        after the draw, so the others are drawn as they were."""
        positions, counts = np.unique(scene, return_counts=True)
        weights = dict(zip(positions.tolist(), counts.tolist()))
        empty = tuple(sorted({str(p) for p in every} - {str(p) for p in weights}))
        if len(positions) < 2 or self.val_fraction <= 0:
            return PositionSplit(
                train=tuple(weights) + (empty if self.val_fraction <= 0 else ()),
                val=() if self.val_fraction <= 0 else empty,
                window=self.window, **self._grid_record())
        split = split_positions(
            weights, val_fraction=self.val_fraction, test_fraction=0.0, seed=self.seed
        )
        if not split.val:  # one position's weight exceeded the share: validate on the smallest
            smallest = min(split.train, key=lambda p: (weights[p], str(p)))
            split = PositionSplit(train=tuple(p for p in split.train if p != smallest),
                                  val=(smallest,))
        split = dataclasses.replace(split, val=tuple(split.val) + empty)
        # the window its ids name and the grid they count on travel with it (as_dict(), a
        # checkpoint's metadata): the same ids on another window or origin name other ground
        return dataclasses.replace(split, window=self.window, **self._grid_record())

    @staticmethod
    def _check_split(patches: Any, split: PositionSplit, positions: Any = None) -> Any:
        """The patches without the held-out positions, after checking that the split gives every
        window position of the cube a set (a split of other ids raised split_by_position's bare
        "positions outside the sets", without the ids this module uses) and that its held-out
        ids name positions of the cube (``positions``: every window's id, also of windows
        whose patches were all dropped; the patches' positions by default)."""
        have = sorted({str(p) for p in patches.scene})
        missing = [p for p in have if split.assign(p) is None]
        if missing:
            named = sorted(str(p) for s in ("train", "val", "test", "held_out")
                           for p in getattr(split, s))
            unknown = [p for p in named if p not in have]
            raise GridError(
                f"the split gives no set to the cube's window position(s) {_few(missing)}"
                + (f" and names position(s) {_few(unknown)} the cube does not have" if unknown
                   else "")
                + f": CubeDataModule names window positions 'r{{row}}c{{col}}' (this cube: "
                f"{_few(have)}). A split made in another mode or at another factor counts "
                "windows of other pixels (mode 'sisr' and 'degraded_disr' LST pixels, 'sif' "
                "and 'supervised' output pixels, the LST's / factor): reuse it in its mode, at "
                "its factor and with its window; a split written by hand: put each position in "
                "train, val, test or held_out"
            )
        if split.held_out:
            # held-out ids of no window ('R1C1' for 'r1c1', a window of another cube) kept
            # nothing out: the ground meant to stay unseen was trained on without a word
            cube_ids = sorted({str(p) for p in (have if positions is None else positions)})
            _check_known_positions("held_out", sorted({str(p) for p in split.held_out}),
                                   cube_ids, fmt="'r{row}c{col}'")
            held = {str(p) for p in split.held_out}
            patches = patches.subset(np.array([str(p) not in held for p in patches.scene]))
        return patches

    def setup(self, stage: str | None = None) -> None:
        """Read the cube, cut it into window positions, build the pairs and patches, split them."""
        if self.train_set is not None:
            return
        # the split given (None: drawn here), for a setup again on resume (load_state_dict)
        self._split_given = self.split
        split = self.split
        if split is not None and split.window is not None and split.window != self.window \
                and split.pixel_size is None:
            # its 'r{row}c{col}' ids name other ground with another window: a split of 64-px
            # windows applied with window=128 trained on the first run's validation ground
            # (a split recording its pixels is checked on the cube: the same ground in other
            # pixels, another mode's or factor's, is another window)
            raise GridError(_window_message(split.window, self.window))
        if split is not None and split.window is None:  # recorded with the ids it names
            self.split = dataclasses.replace(split, window=self.window)
        try:
            arr, g, t = self._inputs()
        except (UnitsError, ScaledIntegerError, UndeclaredFillError, PhysicalRangeError) as err:
            raise _without_mask_advice(err) from None
        # memory: no copy of the cube beside it (tobytes() and the valid values were one each)
        h = hashlib.sha256()
        for a in (arr, g, t):  # the decoded arrays: a fixed cost, small beside training
            h.update(b"-" if a is None else np.ascontiguousarray(a))
        self._digest = h.hexdigest()[:32]
        lo, hi = _finite_range(arr)
        if lo == hi:
            # trained silently to a loss of 0 (evaluate and scaling_stats say so of such a field)
            raise XlstsrError(
                f"the LST cube is constant ({lo:g} K on every valid pixel): there "
                "is no detail to learn (a fill value or a gap-filled constant taken as data?). "
                "Mask it (NaN, or declare `_FillValue`) and give real LST."
            )
        if self.split is not None:
            # ids counted from another origin name other ground (the first run's validation
            # windows were trained on): checked, then this cube's grid recorded with them
            self.split = _check_split_grid(
                self.split, self._window_grid(), self.window, lst_grid=getattr(self, "_grid", None),
                mode=self.mode, factor=self.factor, patch=self.patch)
            if self.split.origin is None:
                self.split = dataclasses.replace(self.split, **self._grid_record())
        win, ids = self._windows(arr, g, t)
        del arr, g, t  # the windows are copies: the decoded stacks are not needed beside them
        # the decoded DataArray behind them sits in a reference cycle (xarray's): without a
        # collection it stayed, one more cube, until setup returned
        gc.collect()
        pairs = self._pairs(win)
        if self.mode != "sif":  # the pairs hold what is needed of the windows (sif: the gain)
            del win
        self.n_guide = 0 if pairs["guide"] is None else int(pairs["guide"].shape[1])
        patches = make_patches(
            **pairs, factor=self.factor, patch=self.patch, stride=_half_stride(self.patch, self.factor), scene_ids=ids,
            max_nan_fraction=self.max_nan_fraction,
        )
        del pairs
        if self.split is None:
            self.split = self._draw_split(patches.scene, ids)
        # the windows without a patch here: a split recorded before they were given a set
        # lacks them (compared on resume without them)
        self._empty_positions = sorted(set(ids) - {str(p) for p in patches.scene})
        patches = self._check_split(patches, self.split, ids)
        train, val, _ = split_by_position(patches, self.split)
        if not len(train):
            n_pos = len(np.unique(patches.scene))
            given = self._split_given
            if given is not None:
                # the split, not val_fraction or the cube's size, left training empty
                have = sorted({str(p) for p in patches.scene})
                named = ", ".join(have[:6]) + (", ..." if len(have) > 6 else "")
                what = ("names no training position (its `train` list is empty)"
                        if not given.train else
                        f"names training positions {list(given.train)[:6]} that hold no "
                        "patch here")
                raise XlstsrError(
                    f"no training patch: the split given {what}; put some of the cube's "
                    f"positions with patches ({named}) in its `train` list, or leave `split` "
                    "out to draw one.")
            raise XlstsrError(
                f"no training patch: the split puts every one of the {n_pos} window position(s) "
                f"elsewhere (val_fraction={self.val_fraction}, or a split= without training "
                "positions): lower val_fraction, or give a larger cube or a smaller `window` "
                "for more positions.")
        given = self._split_given
        if not len(val) and (self.val_fraction <= 0 if given is None else not given.val):
            # asked for (val_fraction 0, or a split without validation positions): no cube or
            # window would give validation patches, so no advice of one
            log.info("no validation asked for (%s): training without validation or early "
                     "stopping", "val_fraction 0" if given is None
                     else "the split given has no validation position")
        elif not len(val):
            log.warning(
                "no validation patches (%d window position(s) of %d px): training without early "
                "stopping; a larger cube or a smaller `window` gives validation positions",
                len(np.unique(patches.scene)), self.window,
            )
        if self.mode == "sif":  # the detail law of the SIF loss, from training ground only
            keep = np.isin(np.asarray(ids), list(self.split.train))
            fitted = _guide_gain_fit(win["lst"][keep], win["guide"][keep], self.factor)  # type: ignore[index]
            # a weak fit's slope is noise (150x apart between splits): the default, said,
            # unless the user gives the gain (fit_cube's loss_options), which replaces both
            if not fitted["fitted"] and not self.gain_given:
                warn(_gain_default_message(fitted), UserWarning)
            # whether the loss runs with the fitted slope or the default, and the fit behind it
            # (loss_options holds the loss's own options only: make_loss refuses others)
            self.gain_fit = {"gain": float(fitted["gain"]),
                             "source": "fitted" if fitted["fitted"] else "default",
                             "slope": float(fitted["slope"]),
                             "correlation": float(fitted["correlation"]),
                             "reason": fitted["reason"]}
            self.loss_options = {"gain": float(fitted["gain"])}
        self.train_set = train
        self.val_set = val if len(val) else None

    def _inputs_record(self) -> dict[str, Any] | None:
        """What the patches were cut from: a digest of the decoded cube (and guide, truth) and
        the settings that shape the pairs; None before :meth:`setup`."""
        digest = getattr(self, "_digest", None)
        if digest is None:
            return None
        psf = self.psf if self.psf is None or isinstance(self.psf, str) else float(self.psf)
        rec = self.guide_offset_record if self.n_guide else None
        return {"data": digest, "patch": self.patch, "psf": psf,
                "max_nan_fraction": self.max_nan_fraction, "min_valid": self.min_valid,
                "mode": self.mode,
                # where the guide lay (the data digest says that it differs, this says why: a
                # resume is told the first run's guide_offset); None without a guide
                "guide_offset": None if rec is None else {
                    "mode": rec.get("mode"), "moved": bool(rec.get("moved"))}}

    def state_dict(self) -> dict[str, Any]:
        return {**super().state_dict(),
                "split": None if self.split is None else self.split.as_dict(),
                "inputs": self._inputs_record()}

    def load_state_dict(self, state_dict: dict[str, Any]) -> None:
        before = state_dict.get("inputs")
        rec = self.guide_offset_record or {}
        placed = None if before is None else before.get("guide_offset")
        old = before is not None and "guide_offset" not in before
        stored = old or (isinstance(placed, Mapping) and placed.get("moved") is False)
        if stored and self.guide_offset is None and self.n_guide and rec.get("moved"):
            # a run that used the guide as stored (a checkpoint from before training placed the
            # guide, or one recorded so, a resume of such a one included): the default moved
            # it, and the same run was refused as trained on other data. Set up again on the
            # guide as stored, as the run was (a resume continues it)
            log.warning(
                ("the checkpoint was written before training placed the guide as upscale does: "
                 "its run used the guide as stored" if old else
                 "the checkpoint's run used the guide as stored")
                + ", and so does this resumed run (guide_offset='ignore', --guide-offset ignore "
                "on the command line; the default would move it by its measured offset). "
                "Upscale with guide_offset='ignore' too.")
            self._as_stored_on_resume = True
            self.split = self._split_given
            self.train_set = self.val_set = None
            self.setup("fit")
        saved = state_dict.get("split")
        now_split = None if self.split is None else self.split.as_dict()
        if saved is not None and now_split is not None:
            for key in ("window", *GRID_KEYS):  # a checkpoint from before they were recorded
                if key not in saved:
                    now_split.pop(key, None)
            grid = getattr(self, "_grid", None)
            if grid is not None and self._step() > 1 and all(
                    saved.get(k) == [float(v) for v in g] for k, g in zip(GRID_KEYS, grid)):
                # a target-scale run from before the split recorded its output pixels: the LST's
                now_split.update({k: [float(v) for v in g] for k, g in zip(GRID_KEYS, grid)})
        if saved is not None and now_split is not None:
            # a checkpoint from before a window without patches was given a set: not in it
            named = {str(p) for k in ("train", "val", "test", "held_out")
                     for p in saved.get(k, ())}
            absent = set(getattr(self, "_empty_positions", ())) - named
            if absent:
                now_split = {k: ([p for p in v if str(p) not in absent]
                                 if k in ("train", "val", "test", "held_out") else v)
                             for k, v in now_split.items()}
        if saved is not None and now_split is not None and saved != now_split:
            raise XlstsrError(
                "the checkpoint was trained on another split by position (another seed, "
                "val_fraction, window or cube): resume with the settings of the first run"
            )
        # another cube of the same size resumed silently: the model file named the new cube
        # and held the first one's weights and normalisation
        now = self._inputs_record()
        if before is not None and self.mode not in ("sisr", "degraded_disr"):
            # runs of the modes without degraded pairs recorded a psf they never used: resumed
            # without it (psf= is refused there now)
            before = {**before, "psf": None}
        if before is not None:  # a checkpoint from before min_valid was an option: 1
            before = {"min_valid": 1.0, **before}
        # where the guide lay is compared through the data digest (the same data, another
        # mode that moved nothing, resumes); the record says why the data differ
        placed_before = None if before is None else before.get("guide_offset", "absent")
        placed_now = None if now is None else now.get("guide_offset")
        if before is not None:
            before = {k: v for k, v in before.items() if k != "guide_offset"}
        if now is not None:
            now = {k: v for k, v in now.items() if k != "guide_offset"}
        if before is not None and now is not None and before != now:
            diff = sorted(k for k in set(before) | set(now) if before.get(k) != now.get(k))
            raise XlstsrError(
                f"the checkpoint was trained on other inputs or settings (they differ in "
                f"{diff}): resume with the cube, guide, truth and settings of the first run, or "
                "start a new training without the checkpoint."
                + (_placement_advice(placed_before, placed_now) if "data" in diff else "")
            )
        super().load_state_dict(state_dict)


def _placement_advice(before: Any, now: Any) -> str:
    """Why a resume's data may differ where the guide was placed otherwise: the first run's
    ``guide_offset`` (its inputs record; ``"absent"``: a checkpoint from before it was recorded,
    whose run used the guide as stored) against this run's."""
    if not isinstance(now, Mapping):
        return ""
    if before == "absent":  # training used the guide as stored before guide_offset
        if now.get("mode") == "ignore":
            return ""
        moved = ", this one moved it by its measured offset" if now.get("moved") else ""
        return (" The checkpoint was written before training placed the guide: its run used "
                f"the guide as stored{moved}: pass guide_offset='ignore'.")
    if not isinstance(before, Mapping) or (before.get("mode"), bool(before.get("moved"))) == (
            now.get("mode"), bool(now.get("moved"))):
        return ""
    first = before.get("mode")

    def placed(rec: Mapping[str, Any]) -> str:
        return "moved by its measured offset" if rec.get("moved") else "as stored"

    advice = (f"pass guide_offset={first!r}" if first in ("auto", "check", "ignore") else
              "pass the same xlstsr.estimate_offset Dataset as guide_offset"
              if first == "offset" else "pass guide_offset='ignore'")
    return (f" The first run placed the guide with guide_offset {first!r} ({placed(before)}), "
            f"this one with {now.get('mode')!r} ({placed(now)}): {advice}.")


def fit_cube(
    lst: xr.DataArray | xr.Dataset,
    *,
    variable: Hashable | None = None,
    guide: xr.DataArray | xr.Dataset | None = None,
    truth: xr.DataArray | xr.Dataset | None = None,
    mode: str = "sisr",
    arch: str | None = None,
    factor: int = 4,
    patch: int = 64,
    window: int | None = None,
    split: PositionSplit | Mapping[str, Any] | None = None,
    val_fraction: float = 0.2,
    psf: float | None = None,
    max_nan_fraction: float = 0.5,
    min_valid: float = 1.0,
    guide_time_tolerance: Any = None,
    seed: int = 0,
    batch_size: int = 16,
    augmentation: bool = True,
    input_noise: float = 0.0,
    guide_offset: str | xr.Dataset | None = None,
    **fit_options: Any,
) -> tuple[torch.nn.Module, dict[str, Any]]:
    """Train a model on an LST cube (and guide / truth); returns the model and its training record.

    The cube becomes patches split by window position (:class:`CubeDataModule`), a model of
    ``arch`` is built (seeded) and trained by :func:`fit` (one Lightning loop). ``seed`` fixes the
    weight initialisation, the split and the training: the same inputs give the same weights.

    Parameters
    ----------
    lst : DataArray or Dataset
        LST (any units :func:`xlstsr.validate.decode_lst` understands), ``(..., y, x)``; for
        ``"sisr"`` / ``"degraded_disr"`` the target resolution of the degraded pairs, for
        ``"sif"`` / ``"supervised"`` the coarse input.
    variable : str, optional
        The LST variable of a Dataset (default: its only variable, or the one that looks like
        LST). With a DataArray: its name, if it has one (another name is refused).
    guide : DataArray or Dataset, optional
        Fine guide (e.g. NDVI) at ``factor`` x the LST grid: one band, one per scene, or bands
        shared by all scenes. Needed by ``"sif"`` and ``"degraded_disr"`` (block-averaged onto
        the LST grid: a guide on the LST's own grid serves too), used by ``"supervised"``;
        refused with ``"sisr"``, which trains without a guide.
    truth : DataArray or Dataset, optional
        Fine truth on the output grid (mode ``"supervised"``; NaN = invalid).
    mode : str
        One of :data:`xlstsr.train.MODES`.
    arch : str, optional
        ``"rescnn"``, ``"mrunet"``, ``"guided_unet"`` or ``"guided_rescnn"`` (default:
        ``guided_unet`` with a guide, else ``rescnn``).
    factor, patch, window, split, val_fraction, psf, max_nan_fraction, min_valid
        As :class:`CubeDataModule`. ``split`` reuses a run's positions: a record's ``split``
        or a checkpoint's ``metadata["split"]`` (e.g. a night model trained on the day
        model's training ground).
    guide_time_tolerance : timedelta-like, optional
        How far back a guide step may lie from an LST date (e.g. ``"15D"`` for 16-day NDVI
        composites), as :class:`CubeDataModule`'s. Default: equal labels only.
    guide_offset : {"auto", "check", "ignore"}, Dataset or None
        As :class:`CubeDataModule` (default: moved back by its measured offset where the LST
        and the guide have a CRS, as ``xlstsr upscale`` and ``upscale(guide_offset="auto")``
        place it; Python's ``upscale`` default measures nothing on lazy inputs: pass it
        ``"auto"``, or ``"ignore"`` to both). What was done is the record's ``guide_offset``
        and ``model.metadata["guide_offset"]``.
    seed : int
        Seed of the initialisation, the split and the training.
    batch_size, augmentation, input_noise
        As :class:`~xlstsr.train.PatchDataModule`.
    **fit_options
        Settings of :func:`fit`: ``epochs``, ``lr``, ``patience``, ``progress``, ``logger``,
        ``log_dir``, ``callbacks``, ``ckpt_path``, ``trainer_options``...

    Returns
    -------
    model : nn.Module
        The trained model (best validation weights).
    record : dict
        ``history`` (:func:`fit`'s), ``loss_options`` (those the loss ran with: the fitted
        guide gain of ``"sif"`` under the ``loss_options`` given, a given ``gain`` winning),
        ``n_train`` / ``n_val`` patches, ``split`` (the window positions of each set), ``window``;
        mode ``"sif"``: ``guide_gain`` (the gain the loss ran with and its ``source``:
        ``"fitted"``, ``"default"`` where the fit showed no clear anti-correlation, or
        ``"given"`` in ``loss_options``; the fit's ``slope`` and ``correlation``). With a
        guide the model uses: ``guide_offset`` (``mode`` run, value ``given``, whether the
        guide was ``moved`` and by how much, as upscale's ``xlstsr_guide_offset``).

    Examples
    --------
    >>> import numpy as np, xarray as xr
    >>> from xlstsr.train import fit_cube
    >>> cube = xr.DataArray(300 + np.random.default_rng(0).normal(0, 2, (2, 64, 64)),
    ...                     dims=("time", "y", "x"), attrs={"units": "K"})
    >>> model, rec = fit_cube(cube, patch=16, epochs=1)
    >>> rec["history"]["epochs_run"], rec["n_train"] > 0 and rec["n_val"] > 0
    (1, True)
    """
    import inspect

    from ..nn import build_model

    known = set(inspect.signature(fit).parameters) - {"model", "train", "val", "seed"}
    unknown = sorted(set(fit_options) - known)
    if unknown:  # they reached fit after the whole data preparation (or failed before it)
        own = sorted(set(inspect.signature(fit_cube).parameters) - {"lst", "fit_options"})
        raise XlstsrError(f"unknown training option(s) {unknown}; fit_cube takes its own "
                          f"(those of CubeDataModule and the arch): {own}, and those of fit: "
                          f"{sorted(known)}")
    data = CubeDataModule(
        lst, variable=variable, guide=guide, truth=truth, mode=mode, factor=factor, patch=patch,
        window=window, split=split, val_fraction=val_fraction, psf=psf,
        max_nan_fraction=max_nan_fraction, min_valid=min_valid,
        guide_time_tolerance=guide_time_tolerance, batch_size=batch_size, seed=seed,
        augmentation=augmentation, input_noise=input_noise, guide_offset=guide_offset,
    )
    from ..nn import ARCHITECTURES

    if arch is not None and arch not in ARCHITECTURES:  # build_model's KeyError: a CLI traceback
        raise XlstsrError(f"unknown architecture {arch!r}; choose one of {sorted(ARCHITECTURES)}")
    _check_arch_mode(arch, mode, guide)  # before setup: nothing read, nothing trained
    data.gain_given = (fit_options.get("loss_options") or {}).get("gain") is not None
    data.setup("fit")
    arch = arch or ("guided_unet" if data.n_guide else "rescnn")
    guided = _takes_guide(arch)  # a DISR network
    if guided and not data.n_guide:
        raise XlstsrError(f"arch {arch!r} needs a guide, but mode {data.mode!r} trains "
                          "without one: use arch 'rescnn' or 'mrunet', or give a guide with a "
                          "guided mode ('degraded_disr', 'sif', 'supervised')")
    # the weight initialisation draws from torch's global generator: seeded, then put back
    # (the caller's stream is theirs; fit does the same)
    with torch.random.fork_rng(devices=[]):
        torch.manual_seed(seed)
        model = build_model(arch, factor=factor, **({"n_guide": data.n_guide} if guided else {}))
    # the inputs the network takes: a guide-less network of mode 'sif' (the guide feeds only
    # its loss) takes the LST alone; its guide recorded as an input could not be saved
    uses_guide = bool(guided and data.n_guide)
    inputs = _input_labels(guide if uses_guide else None, data.n_guide if uses_guide else 0)
    # the guide's band labels travel with the model (in memory, through fit_files in its model
    # file, and in the Lightning checkpoints a ModelCheckpoint writes during fit: set before
    # training): recorded as 'guide0', 'guide1', upscale could not refuse swapped bands
    model.metadata = {**dict(getattr(model, "metadata", {}) or {}), "inputs": inputs}
    if uses_guide and data.guide_offset_record is not None:
        # where the guide lay when trained on: upscale places it by its own guide_offset
        model.metadata["guide_offset"] = dict(data.guide_offset_record)
    hist = fit(model, data, seed=seed, **fit_options)
    if uses_guide and data.guide_offset_record is not None:
        # a resume of a checkpoint from before the guide was placed uses it as stored
        model.metadata["guide_offset"] = dict(data.guide_offset_record)
    record = {
        "history": hist,
        # what the loss ran with: the fitted SIF gain under the user's options (as fit merges
        # them); the fitted gain alone was recorded while the user's alpha trained unrecorded
        "loss_options": merge_loss_options(data.loss_options, fit_options.get("loss_options")),
        "n_train": len(data.train_set),  # type: ignore[arg-type]
        "n_val": 0 if data.val_set is None else len(data.val_set),
        "split": data.split.as_dict(),  # type: ignore[union-attr]
        "window": data.window,
        "inputs": inputs,
    }
    if uses_guide and data.guide_offset_record is not None:
        record["guide_offset"] = dict(data.guide_offset_record)
    if data.gain_fit is not None:  # fitted or defaulted (a weak fit), or the user's
        given = (fit_options.get("loss_options") or {}).get("gain")
        record["guide_gain"] = dict(data.gain_fit) if given is None else {
            **data.gain_fit, "gain": float(given), "source": "given", "reason": None}
    return model, record


def _takes_guide(arch: str) -> bool:
    """Whether the network ``arch`` takes guide bands beside the LST (a DISR network)."""
    import inspect

    from ..nn import ARCHITECTURES

    return "n_guide" in inspect.signature(ARCHITECTURES[arch]).parameters


def _check_arch_mode(arch: str | None, mode: str, guide: Any) -> None:
    """Refuse a guide-less ``arch`` for a mode whose network is fed the guide given
    (``degraded_disr``, ``supervised``): trained, its guide went unused (a SISR model recorded
    as guided, whose file could not be written). Mode ``sif`` may train one: there the guide
    drives only the loss's detail term."""
    from ..nn import ARCHITECTURES

    if (arch is None or arch not in ARCHITECTURES or guide is None
            or mode not in ("degraded_disr", "supervised") or _takes_guide(arch)):
        return
    guided = " or ".join(repr(a) for a in sorted(ARCHITECTURES) if _takes_guide(a))
    other = ("mode 'sisr' without a guide (the same degraded pairs)" if mode == "degraded_disr"
             else "drop the guide to train it on the truth from the LST alone")
    raise XlstsrError(f"arch {arch!r} takes no guide, but mode {mode!r} trains a network fed "
                      f"the LST and its guide (guide=, --guide): use arch {guided}, or {other}")


def _input_labels(guide: Any, n_guide: int) -> list[str]:
    """``["lst", *the guide's channel labels]`` (:func:`xlstsr.guide.guide_labels`), ``guide<i>``
    where a channel has none or the labels do not match the channels. A dict or Dataset's bands
    are recorded by their descriptions where the keys say nothing (``band_1`` of
    ``band_as_variable=True``, ``band_data`` of ``engine="rasterio"``), as
    :func:`xlstsr.guide.check_guide_labels` reads them: recorded as 'band_1' or 'guide0', the
    model took a swapped (red, NDVI) file silently."""
    from ..guide import guide_fields, guide_labels

    labels = guide_labels(guide_fields(guide)) if guide is not None else []
    labels = getattr(labels, "described", None) or labels
    if len(labels) != n_guide:
        labels = [None] * n_guide
    return ["lst", *(str(v) if v else f"guide{i}" for i, v in enumerate(labels))]


def _band_of(path: Any, band: int, role: str, key: str) -> xr.DataArray:
    """Band ``band`` (from 1) of the GeoTIFF ``path``, as ``open_path(path, band=band)`` reads
    it (``--band`` of ``xlstsr upscale``); a file that is not a GeoTIFF refused naming the
    variable argument of that file instead."""
    from ..io import format_of, open_path

    if format_of(path, reading=True) != "cog":
        raise XlstsrError(f"`{key}={band}` selects a band of a GeoTIFF, and {os.fspath(path)} is "
                          f"not one: name a variable of a .nc/.zarr/.hdf {role} with "
                          f"`{key.replace('band', 'variable')}=` instead, and drop `{key}=`.")
    return open_path(path, band=band)


def _band_advice(err: XlstsrError, key: str) -> XlstsrError:
    """``err`` of opening a file, its advice of a band (open_cog's "pass `band=` 1 to N", "`--band
    N` on the command line" of bands of different scales) naming that file's own argument and
    flag (``guide_band=``, ``--guide-band``: the LST's ``band=`` selected nothing of a guide)."""
    if key == "band":
        return err
    flag = "--" + key.replace("_", "-")
    text = str(err).replace("pass `band=` 1 to", f"pass `{key}=` 1 to").replace(
        "Select one band with `band=` (`--band N` on the command line)",
        f"Select one band with `{key}=` (`{flag} N` on the command line)")
    if text == str(err):
        return err
    new = type(err)(text)
    new.__dict__.update(err.__dict__)
    return new


def _guide_layer(path: Any) -> str | None:
    """The layer of a MODIS HDF4 granule given as the guide with none named (its only NDVI
    layer, MOD13A2's ``1 km 16 days NDVI``); None for any other file. A granule without one is
    refused naming its layers and one to pass as ``guide_variable=``."""
    from ..io.formats import format_of
    from ..io.modis import _no_layer, default_layer, granule_layers

    if not isinstance(path, (str, os.PathLike)) or not os.path.isfile(path):
        return None  # a missing file is refused by open_path, which names it
    try:
        if format_of(path, reading=True) != "hdf4":
            return None
    except XlstsrError:
        return None
    layers = granule_layers(path)
    picked = default_layer(layers, "guide")
    if picked is None:
        text = _no_layer(Path(os.fspath(path)), None, layers, "guide")
        raise VariableNotFoundError(text.replace("`variable=", "`guide_variable="))
    return picked


def fit_files(
    lst: str | os.PathLike[str],
    out: str | os.PathLike[str],
    *,
    variable: Hashable | None = None,
    guide: str | os.PathLike[str] | None = None,
    guide_variable: Hashable | None = None,
    truth: str | os.PathLike[str] | None = None,
    truth_variable: Hashable | None = None,
    mode: str = "sisr",
    declare: Mapping[str, Any] | None = None,
    truth_declare: Mapping[str, Any] | None = None,
    guide_declare: Mapping[str, Any] | None = None,
    band: int | None = None,
    guide_band: int | None = None,
    truth_band: int | None = None,
    command: str | None = None,
    **options: Any,
) -> dict[str, Any]:
    """Train on files (Zarr, NetCDF or GeoTIFF) and write the checkpoint ``out`` (``xlstsr train``).

    The files are opened with :func:`xlstsr.io.open_path`; everything else is
    :func:`fit_cube` (``options`` are its settings). The checkpoint records the mode, the loss
    options, the input files (their variables, ``guide_time_tolerance``, and what ``declare``,
    ``truth_declare``, ``guide_declare`` said of them), the degradation of the pairs (``psf``:
    the Gaussian's sigma in LST pixels, or a plain box), the training ``settings`` (``arch``,
    ``patch``, ``psf``, ``epochs``, ``lr``, ``seed``..., ``devices``, ``global_batch_size``
    (batch x devices x ``accumulate_grad_batches``), the Trainer's ``precision`` and those
    ``trainer_options`` given that change what a step or an epoch trains on
    (``accumulate_grad_batches``, ``limit_train_batches``, ``gradient_clip_val``,
    ``gradient_clip_algorithm``); ``patience`` 0 where no validation position allowed
    early stopping), the split (with its ``window``), ``guide_offset`` (where
    the guide was placed: :func:`fit_cube`'s record) and the training history
    (``validated``, and ``best_val_loss`` or, without validation, ``best_train_loss``;
    :func:`xlstsr.nn.save_model`).

    Parameters
    ----------
    lst, out : path-like
        The LST file and the checkpoint to write (an existing file is replaced only if it is
        an xlstsr checkpoint). Refused before training: an ``out`` that the run's logs or
        Lightning checkpoints make a folder or fill (``log_dir`` itself, the logger's tree in
        it, a ModelCheckpoint's folder or a ``.ckpt`` there, e.g. ``last.ckpt``).
    variable, guide, guide_variable, truth, truth_variable, mode
        As :func:`fit_cube` (``guide`` and ``truth`` as file paths).
    declare : dict, optional
        Attributes of the LST that its file lacks, set before the front door reads it (the
        ``--units`` / ``--nodata`` / ``--scale`` of ``xlstsr train``): ``"units"`` (``"K"``,
        ``"degC"``), ``"_FillValue"`` (the stored value of missing pixels), ``"scale_factor"``
        and ``"add_offset"`` (stored value x scale + offset = LST), e.g. ``{"units": "degC"}``
        for a Celsius GeoTIFF, ``{"scale_factor": 0.02, "_FillValue": 0}`` for MODIS digital
        numbers stored without scale metadata. A scale the file declares itself is not replaced.
    truth_declare : dict, optional
        The same for the truth file (``--truth-units`` / ``--truth-nodata`` / ``--truth-scale``
        of ``xlstsr train``), e.g. ``{"units": "degC"}`` for a Celsius truth beside a Kelvin LST.
    guide_declare : dict, optional
        The same for the guide file (``--guide-nodata`` / ``--guide-scale`` of ``xlstsr
        train``, as of ``xlstsr upscale``): ``"_FillValue"``, ``"scale_factor"``,
        ``"add_offset"`` (stored value x scale + offset = NDVI or reflectance), e.g.
        ``{"scale_factor": 0.0001, "_FillValue": -3000}`` for a MOD13 NDVI GeoTIFF stored as
        x 10000 integers without scale metadata. No ``"units"``: a guide is no temperature.
    band, guide_band, truth_band : int, optional
        One band (from 1) of a multi-band GeoTIFF LST, guide or truth (the ``--band`` /
        ``--guide-band`` / ``--truth-band`` of ``xlstsr train``, as of ``xlstsr upscale``),
        e.g. ``band=1`` for the LST band of a stack holding QC beside it; default: every band,
        as time steps. Refused for a file that is not a GeoTIFF (name its variable instead).
        Recorded in the checkpoint's ``training_data`` (``band``, ``guide_band``,
        ``truth_band``) beside the variables.
    command : str, optional
        The command line that ran the training, recorded as ``metadata["command"]`` (``xlstsr
        train`` gives its own).
    **options
        Settings of :func:`fit_cube` (``factor``, ``patch``, ``epochs``...).

    Returns
    -------
    dict
        :func:`fit_cube`'s record, plus ``path`` (the checkpoint written; None in the other
        processes of a run on several devices, where only global rank 0 writes it).

    Examples
    --------
    >>> rec = fit_files("lst_1km.zarr", "sisr.pt", variable="LST", epochs=20)  # doctest: +SKIP
    >>> rec["history"]["best_val_loss"]  # doctest: +SKIP
    """
    from ..io.formats import open_with_variable
    from ..nn import save_model

    trainer_options = options.get("trainer_options") or {}
    _check_output(out, {"lst": lst, "guide": guide, "truth": truth},
                  {"log_dir": options.get("log_dir"),
                   "trainer_options['default_root_dir']": trainer_options.get("default_root_dir")
                   if isinstance(trainer_options, Mapping) else None})
    _refuse_out_in_run_folders(out, options, trainer_options)

    _check_arch_mode(options.get("arch"), mode, guide)  # before a file is opened
    declared = check_declarations(declare)
    truth_declared = check_declarations(truth_declare)
    if truth_declared and truth is None:
        raise XlstsrError("truth_declare describes the truth file, but no truth= is given: "
                          "drop truth_declare, or give the truth (mode 'supervised')")
    guide_declared = _check_guide_declarations(guide_declare)
    if guide_declared and guide is None:
        raise XlstsrError("guide_declare describes the guide file, but no guide= is given: "
                          "drop guide_declare, or give the guide (mode 'degraded_disr', 'sif' "
                          "or 'supervised')")

    for role, key, value in (("LST", "band", band), ("guide", "guide_band", guide_band),
                             ("truth", "truth_band", truth_band)):
        # any integer (a numpy one, np.int64(1) from an array, was refused as not 1), no bool
        if value is not None and (isinstance(value, (bool, np.bool_))
                                  or not isinstance(value, numbers.Integral) or value < 1):
            raise XlstsrError(f"{key}={value!r}: a band is numbered from 1 (1 = the first band "
                              f"of the {role} GeoTIFF), e.g. {key}=1")
    # Python ints from here on: the checkpoint's metadata records them
    band, guide_band, truth_band = (None if v is None else int(v)
                                    for v in (band, guide_band, truth_band))
    bands = {"LST": band, "guide": guide_band, "truth": truth_band}
    if guide_band is not None and guide is None:
        raise XlstsrError("guide_band selects a band of the guide file, but no guide= is given: "
                          "drop guide_band (band= selects the LST's), or give the guide")
    if truth_band is not None and truth is None:
        raise XlstsrError("truth_band selects a band of the truth file, but no truth= is given: "
                          "drop truth_band (band= selects the LST's), or give the truth")

    def opened(path: Any, var: Hashable | None, role: str) -> xr.DataArray | None:
        if path is None:
            return None
        key = {"LST": "band", "guide": "guide_band", "truth": "truth_band"}[role]
        try:
            if bands[role] is not None:  # one band of a GeoTIFF, as upscale's --band takes it
                return _band_of(path, bands[role], role, key)
            # a NetCDF-4 group's variable (ECOSTRESS's SDS/LST) opens its group, an HDF4
            # granule the layer named (its Day LST was read whatever was asked)
            if var is None and role == "guide":  # a MODIS granule as the guide (MOD13A2): its
                # NDVI layer, as upscale takes it (refused as having no LST layer)
                var = _guide_layer(path)
            obj, name = open_with_variable(path, var)
            return _select(obj, name, role)
        except XlstsrError as err:  # open_cog's advice of a band: this file's own argument
            raise _band_advice(err, key) from None

    try:
        lst_da = declare_lst(opened(lst, variable, "LST"), declared)  # type: ignore[arg-type]
        guide_da = _declare_guide(opened(guide, guide_variable, "guide"), guide_declared)
        truth_da = None if truth is None else declare_lst(
            opened(truth, truth_variable, "truth"), truth_declared, what="truth")  # type: ignore[arg-type]
        truth_da = _bands_as_steps(truth_da, lst_da, truth, lst)
        model, record = fit_cube(lst_da, guide=guide_da, truth=truth_da, mode=mode, **options)
    except (UnitsError, ScaledIntegerError, UndeclaredFillError, PhysicalRangeError,
            GuideScaleError) as err:
        err = _without_mask_advice(err)
        role = getattr(err, "input_role", "LST")
        if role == "guide" and not _GUIDE_DECLARABLE.search(str(err)):
            raise err from None  # not a fill or a scale the file lacks (e.g. one it has)
        if role != "guide" and isinstance(err, GuideScaleError):
            raise err from None
        hint = {"truth": TRUTH_HINT, "guide": GUIDE_HINT}.get(role, FIT_FILES_HINT)
        if hint in str(err):
            raise err from None
        new = type(err)(f"{err}{hint}")
        new.__dict__.update(err.__dict__)
        raise new from None
    hist = record["history"]
    if hist.get("global_rank", 0):
        # the other processes of a multi-device run (Lightning re-runs the script in each):
        # every one wrote the same file
        record["path"] = None
        return record
    settings = _training_settings(options, model)
    devices = int(hist.get("world_size", 1) or 1)
    shaping = _shaping_trainer_options(trainer_options)
    # each step trained on batch_size patches per device, summed over the accumulated batches
    # (accumulate_grad_batches 4 stepped on 64 patches; the file said 16)
    settings.update(shaping, devices=devices,
                    global_batch_size=settings["batch_size"] * devices
                    * int(shaping.get("accumulate_grad_batches", 1)),
                    precision=hist.get("precision"))
    validated = bool(hist.get("validated", True))
    if not validated:  # fit ran without early stopping: the patience given was not in effect
        settings["patience"] = 0
    degraded = mode in ("sisr", "degraded_disr")
    psf = settings["psf"]
    f = settings["factor"]
    record["path"] = save_model(
        model,
        out,
        mode=mode,
        loss=mode,
        loss_options=record["loss_options"],
        training_data={
            "lst": _recorded_path(lst),
            "lst_declared": declared or None,
            "truth_declared": truth_declared or None,
            "guide_declared": guide_declared or None,
            "guide": None if guide is None else _recorded_path(guide),
            "truth": None if truth is None else _recorded_path(truth),
            # the variable of each file trained on: a MOD11A1 file holds LST_Day_1km and
            # LST_Night_1km, and day and night checkpoints recorded the same provenance
            **_recorded_variables(lst_da, guide_da, truth_da,
                                  options.get("guide_time_tolerance")),
            # the band of a multi-band GeoTIFF read (where one was selected): a stack's LST,
            # QC and view-time bands gave the same file path
            **{key: value for key, value in (("band", band), ("guide_band", guide_band),
                                             ("truth_band", truth_band)) if value is not None},
        },
        training_scales=(
            ("degraded by factor" + (" under a Gaussian PSF" if psf else ""))
            if degraded else "target scale"
        ),
        # the degradation a model learned decides what it does to real sensor data: a box and
        # a PSF-blurred model were indistinguishable from their files (the bundled ones say it)
        **({"psf": {
            "sigma_fine_px": psf,
            "note": f"Gaussian in radiance before the {f} x {f} radiometric mean" if psf
            else f"none: a perfect {f} x {f} box (radiometric mean)",
        }} if degraded else {}),
        settings={**settings, "window": record["window"]},
        split={"by": "window position", "window": record["window"], **record["split"]},
        **({"guide_gain": record["guide_gain"]} if "guide_gain" in record else {}),
        # what guide_offset did to the guide trained on (upscale's xlstsr_guide_offset record)
        **({"guide_offset": record["guide_offset"]} if "guide_offset" in record else {}),
        inputs=record["inputs"],
        history=_recorded_history(hist),
        **({"command": str(command)} if command is not None else {}),
    )
    return record


def _recorded_variables(lst: Any, guide: Any, truth: Any, tolerance: Any) -> dict[str, Any]:
    """``variable``, ``guide_variable``, ``truth_variable`` (the name of the field read from
    each file, where it has one) and ``guide_time_tolerance`` (as given, where given)."""
    out: dict[str, Any] = {}
    for key, da in (("variable", lst), ("guide_variable", guide), ("truth_variable", truth)):
        name = getattr(da, "name", None)
        if name is not None:
            out[key] = str(name)
    if tolerance is not None:
        out["guide_time_tolerance"] = tolerance if isinstance(tolerance, str) else str(tolerance)
    return out


def _recorded_history(hist: Mapping[str, Any]) -> dict[str, Any]:
    """The history a checkpoint records: ``validated`` and the best loss under its own name,
    ``best_val_loss`` or, without validation positions, ``best_train_loss`` (a run without
    them recorded its best training loss as ``best_val_loss``), ``epochs_run``, ``engine``,
    and per epoch ``train_loss``, ``val_loss`` (with validation only) and ``epoch_seconds``
    (docs/models.md promised them; only the best loss was recorded)."""
    validated = bool(hist.get("validated", True))
    best = "best_val_loss" if validated else "best_train_loss"
    per_epoch = ("train_loss", "val_loss", "epoch_seconds") if validated else (
        "train_loss", "epoch_seconds")
    return {best: hist["best_val_loss"], "validated": validated,
            **{k: hist[k] for k in ("epochs_run", "engine")},
            **{k: [float(v) for v in hist[k]] for k in per_epoch if k in hist}}


def _recorded_path(path: Any) -> str:
    """A training file as a checkpoint records it: absolute (a relative path names nothing once
    the checkpoint leaves the folder it was trained in); a URL as given."""
    text = os.fspath(path)
    return text if "://" in text else os.path.abspath(os.path.expanduser(text))


#: Trainer options that change what a step or an epoch trains on, recorded where given (a run
#: of limit_train_batches 0.1 or accumulate_grad_batches 4 was not told from a plain one)
_SHAPING_TRAINER_OPTIONS = ("accumulate_grad_batches", "limit_train_batches",
                            "gradient_clip_val", "gradient_clip_algorithm")


def _shaping_trainer_options(trainer_options: Any) -> dict[str, Any]:
    """The :data:`_SHAPING_TRAINER_OPTIONS` of ``trainer_options`` as plain values (a
    checkpoint is read with ``weights_only``: numpy scalars would not load).

    Examples
    --------
    >>> _shaping_trainer_options({"accumulate_grad_batches": 4, "logger": False})
    {'accumulate_grad_batches': 4}
    >>> _shaping_trainer_options({"limit_train_batches": 0.1, "gradient_clip_val": None})
    {'limit_train_batches': 0.1}
    """
    if not isinstance(trainer_options, Mapping):
        return {}
    out: dict[str, Any] = {}
    for key in _SHAPING_TRAINER_OPTIONS:
        value = trainer_options.get(key)
        if value is None:
            continue
        if isinstance(value, str):
            out[key] = value
        elif key == "gradient_clip_val" or isinstance(value, (float, np.floating)):
            out[key] = float(value)  # limit_train_batches: a float is a share of the batches
        else:
            out[key] = int(value)  # a count (limit_train_batches 1: one batch)
    return out


#: fit_cube's and fit's settings a checkpoint of :func:`fit_files` records (as the bundled
#: checkpoints' ``settings``)
_RECORDED_SETTINGS = ("arch", "factor", "patch", "psf", "val_fraction", "max_nan_fraction",
                      "min_valid", "epochs", "lr", "batch_size", "patience", "seed", "augmentation",
                      "input_noise")


def _training_settings(options: Mapping[str, Any], model: Any) -> dict[str, Any]:
    """The training settings of a :func:`fit_files` run: those given, else the defaults of
    :func:`fit_cube` and :func:`fit` (what the run used)."""
    import inspect

    given: dict[str, Any] = {}
    for fn in (fit, fit_cube):  # fit_cube's defaults win where both have one
        given.update({k: p.default for k, p in inspect.signature(fn).parameters.items()
                      if p.default is not inspect.Parameter.empty})
    given.update(options)
    given["arch"] = getattr(model, "arch", given.get("arch"))
    out = {k: given.get(k) for k in _RECORDED_SETTINGS}
    out["psf"] = None if out["psf"] is None else float(out["psf"])
    return out


#: the front door's advice to pass ``mask_out_of_range=True`` (and upscale's flag for it), an
#: option no training entry point takes: fit_cube refused it as an unknown training option
_MASK_ADVICE = re.compile(
    r"(?P<sentence>\s*To mask such pixels instead, pass `mask_out_of_range=True`"
    r"(?: \(`--mask-out-of-range`[^)]*\))?\.?)"
    r"|[,;] or pass `mask_out_of_range=True`(?: \(`--mask-out-of-range`[^)]*\))?"
    # a scale's advice for a reading leaving stray pixels out of range names the option with
    # it (validate._scale_fix, _stray_text): dropped, the strays to be set to NaN instead
    r"| with `mask_out_of_range=True`| --mask-out-of-range(?=`)"
    r"|(?<=outside )(?P<stray>[\d.]+-[\d.]+ K), masked"
)
#: what training says instead: it masks nothing, the pixels are set to NaN first
TRAIN_MASK_NOTE = (" Training masks nothing itself (it takes no mask_out_of_range): to leave "
                   "such pixels out, set them to NaN first, e.g. "
                   "`da.where((da > 150) & (da < 400))` on Kelvin values.")


def _without_mask_advice(err: Exception) -> Exception:
    """``err`` (same type and attributes) without the advice to pass ``mask_out_of_range=True``,
    which training does not take: its sentence becomes :data:`TRAIN_MASK_NOTE`, a clause of
    another sentence ("..., or pass ...") is dropped. ``err`` itself when it has none."""
    text = str(err)
    if not _MASK_ADVICE.search(text):
        return err
    text = _MASK_ADVICE.sub(lambda m: TRAIN_MASK_NOTE if m.group("sentence") else
                            f"{m['stray']}: set to NaN first" if m.group("stray") else "", text)
    new = type(err)(text)
    new.__dict__.update(err.__dict__)  # input_role: whose declarations fit_files names
    return new


#: the end of a front-door message about the LST file's encoding, from :func:`fit_files`
FIT_FILES_HINT = (" In fit_files: declare what the LST file lacks, e.g. declare={'units': 'degC'} "
                  "or declare={'scale_factor': 0.02, '_FillValue': 0}.")
#: the same for the truth file: its own declarations (the LST's would convert the LST)
TRUTH_HINT = (" In fit_files: declare what the truth file lacks with truth_declare=, e.g. "
              "truth_declare={'units': 'degC'} or truth_declare={'scale_factor': 0.02, "
              "'_FillValue': 0}.")

#: the same for the guide file: its fill and scale (the LST's would decode the LST)
GUIDE_HINT = (" In fit_files: declare what the guide file lacks with guide_declare=, e.g. "
              "guide_declare={'scale_factor': 0.0001} (NDVI x 10000 stored without scale "
              "metadata) or guide_declare={'_FillValue': -3000}.")
#: a guide refusal that a declaration of the file's fill or scale answers
_GUIDE_DECLARABLE = re.compile(r"write_nodata\(|attrs\['_FillValue'\] =|multiply by|divide (?:it|"
                               r"them) by")


def _check_guide_declarations(declare: Any) -> dict[str, Any]:
    """``guide_declare`` checked (:func:`~xlstsr.validate.check_declarations`): a fill, a scale,
    an offset; no units (a guide is no temperature: a declared 'K' was refused as the LST given
    as the guide)."""
    try:
        declared = check_declarations(declare)
    except XlstsrError as err:
        raise type(err)(str(err).replace("declare", "guide_declare", 1)) from None
    if "units" in declared:
        raise XlstsrError(
            f"guide_declare: units {declared['units']!r}: a guide (NDVI, reflectance) has no "
            "temperature units; declare its '_FillValue', 'scale_factor' or 'add_offset' only "
            "(the LST's units are declare={'units': ...})"
        )
    return declared


def _declare_guide(guide: xr.DataArray | None, declared: Mapping[str, Any]) -> Any:
    """The opened guide with ``guide_declare``'s attributes, for the guide's decoding to read
    (:func:`~xlstsr.validate.declare_lst`, its advice naming the guide's declarations)."""
    if guide is None or not declared:
        return guide
    try:
        guide = declare_lst(guide, declared, what="guide")
    except XlstsrError as err:
        text = str(err).replace("--scale on", "--guide-scale on").replace(
            "declare['", "guide_declare['")
        raise type(err)(text) from None
    scale = declared.get("scale_factor")
    if scale is not None and scale < 1 and guide.dtype.kind == "f":
        _refuse_scale_on_decoded_guide(guide, scale)
    return guide


def _refuse_scale_on_decoded_guide(guide: xr.DataArray, scale: float) -> None:
    """Refuse a declared scale below 1 on a float guide whose values lie within [-1, 1] already
    (an NDVI, or values its reader decoded): scaled again it is NDVI x 0.0001, which the
    guide's decoding does not see on a lazily read file. Judged on the central
    pixels square of the first step
    (:func:`~xlstsr.validate.central_window`)."""
    from ..validate import central_window, stored_values

    guide = guide.rename(spatial_names(guide))
    try:
        ydim, xdim = spatial_dims(guide)
    except XlstsrError:  # the guide's preparation names a guide without a grid
        return
    window = central_window(guide, ydim, xdim)
    v = stored_values(window)
    if not v.size or float(np.abs(v).max()) > 1.05:
        return  # stored numbers (or no evidence): the declaration may be what they need
    raise GuideScaleError(
        f"guide_declare['scale_factor'] = {scale:g} (--guide-scale on the command line): the "
        f"guide file holds floats within [-1, 1] already ({float(v.min()):.3g} to "
        f"{float(v.max()):.3g} on its central {window.sizes[ydim]} x {window.sizes[xdim]} "
        f"pixels): an NDVI, or values its reader decoded. Scaled again they would be "
        f"{1 / scale:.0f}x too small, and the model would learn from them without a word. Drop "
        "the declared scale (it is for stored integers, e.g. an int16 NDVI x 10000 without a "
        "scale tag)."
    )


def _input_holding(target: str, inputs: dict[str, Any]) -> tuple[str, Any, bool] | None:
    """``(role, path, inside)`` of the local input that is ``target`` (a resolved path) or holds
    it (a Zarr store is a folder), None where none does."""
    for role, path in inputs.items():
        if path is None or not isinstance(path, (str, os.PathLike)):
            continue
        src = os.path.realpath(os.path.expanduser(os.fspath(path)))
        if target == src or target.startswith(src.rstrip(os.sep) + os.sep):
            return role, path, target != src
    return None


def _refuse_inside_input(what: str, given: Any, inputs: dict[str, Any], why: str) -> None:
    """Refuse ``given`` (an output path) where it is one of the local ``inputs`` or lies
    inside one, saying ``why``."""
    hit = _input_holding(os.path.realpath(os.path.expanduser(os.fspath(given))), inputs)
    if hit is not None:
        role, path, inside = hit
        raise XlstsrError(
            f"{what} {os.fspath(given)!r} is the {role} input {os.fspath(path)!r}"
            + (" (or inside it)" if inside else "") + f": {why}"
        )


def _check_output(out: Any, inputs: dict[str, Any],
                  log_dirs: Mapping[str, Any] | None = None) -> None:
    """Refuse, before any training, a checkpoint path that is one of the inputs (or inside one:
    a Zarr store is a folder), a folder, or another existing file: the checkpoint was written
    over the training data after the whole run (the CLI refused it, the function did not).
    ``log_dirs`` (name: folder) are refused as well where they are an input or lie inside one:
    the logs and Lightning checkpoints are written there."""
    log_dirs = dict(log_dirs or {})
    from ..nn.checkpoint import _is_checkpoint_file, bundled_name_clash

    if not isinstance(out, (str, os.PathLike)):
        raise InputTypeError(f"out must be a file path (e.g. 'model.pt'), got {type(out).__name__}")
    clash = bundled_name_clash(out)  # save_model refused it only after the whole run
    if clash is not None:
        raise CheckpointError(f"out {clash}")
    target = os.path.realpath(os.path.expanduser(os.fspath(out)))
    _refuse_inside_input("the checkpoint path", out, inputs,
                         "it would be written over the training data; write it to another "
                         "path, e.g. 'model.pt'")
    # the logs and Lightning checkpoints (MBs) of the run went into an input Zarr store given
    # as log_dir (or a folder in it), which the checkpoint path was refused for
    for name, folder in log_dirs.items():
        if isinstance(folder, (str, os.PathLike)):
            _refuse_inside_input(name, folder, inputs,
                                 "the training's logs and checkpoints would be written into "
                                 "the training data; give a folder outside it, e.g. "
                                 "'xlstsr_logs'")
    if os.path.isdir(target):
        raise XlstsrError(f"out {os.fspath(out)!r} is a folder: give the checkpoint's file name, "
                          f"e.g. {os.path.join(os.fspath(out), 'model.pt')!r}")
    if os.path.exists(target) and not _is_checkpoint_file(Path(target)):
        raise XlstsrError(
            f"out {os.fspath(out)!r} exists and is not an xlstsr checkpoint: training writes only "
            "over its own checkpoints; pick another path or delete that file first"
        )


def _run_folders(options: Mapping[str, Any],
                 trainer_options: Any) -> tuple[list[str], list[str], list[str]]:
    """``(folders, trees, ckpt_folders)`` the Lightning run of :func:`fit_cube` ``options``
    writes into (real paths), as :func:`xlstsr.train.fit` builds its Trainer: the loggers'
    save folders (a str logger's: ``log_dir``, else ``default_root_dir``, else ``xlstsr_logs``;
    ``logger=True``'s: the Trainer's ``default_root_dir``, which is ``log_dir`` unless
    ``trainer_options`` name one, else the working folder; a Logger's own ``save_dir``) and
    their trees (``xlstsr``, ``lightning_logs``, a Logger's ``name``), and the ModelCheckpoints'
    folders (their ``dirpath``; without one and no logger ``<default_root_dir>/checkpoints``,
    with a logger inside its tree), those holding ``.ckpt`` files (``last.ckpt``, an epoch's)."""
    from lightning.pytorch.callbacks import ModelCheckpoint
    from lightning.pytorch.loggers import Logger

    trainer_options = trainer_options if isinstance(trainer_options, Mapping) else {}
    given_root = trainer_options.get("default_root_dir")
    log_dir = options.get("log_dir") if options.get("log_dir") is not None else given_root
    trainer_root = given_root if given_root is not None else log_dir  # fit's default_root_dir
    if not isinstance(trainer_root, (str, os.PathLike)):
        trainer_root = "."  # Lightning's default: the working folder
    # fit hands trainer_options' logger to the Trainer over its own logger argument
    logger = (trainer_options["logger"] if trainer_options.get("logger") is not None
              else options.get("logger"))

    def real(path: Any) -> str:
        return os.path.realpath(os.path.expanduser(os.fspath(path)))

    folders: list[str] = []
    trees: list[str] = []
    if isinstance(logger, str):  # make_logger's save_dir: xlstsr_logs by default
        base = real(log_dir if isinstance(log_dir, (str, os.PathLike)) else "xlstsr_logs")
        folders.append(base)
        trees.append(os.path.join(base, "xlstsr"))
    elif logger is True:  # Lightning's own logger: <default_root_dir>/lightning_logs
        folders.append(real(trainer_root))
        trees.append(os.path.join(real(trainer_root), "lightning_logs"))
    else:
        many = logger if isinstance(logger, (list, tuple)) else [logger]
        for lg in many:
            save_dir = getattr(lg, "save_dir", None) if isinstance(lg, Logger) else None
            if isinstance(save_dir, (str, os.PathLike)):
                folders.append(real(save_dir))
                name = getattr(lg, "name", None)
                if isinstance(name, str) and name:  # unnamed: version_N right in save_dir
                    trees.append(os.path.join(real(save_dir), name))
    has_logger = logger is True or isinstance(logger, str) or (
        isinstance(logger, (list, tuple)) and len(logger) > 0) or isinstance(logger, Logger)
    callbacks: list[Any] = []
    for given in (options.get("callbacks"), trainer_options.get("callbacks")):
        callbacks += list(given) if isinstance(given, (list, tuple)) else (
            [given] if given is not None else [])
    ckpt_folders = []
    for cb in callbacks:
        if not isinstance(cb, ModelCheckpoint):
            continue
        if cb.dirpath is not None:
            ckpt_folders.append(real(cb.dirpath))
        elif not has_logger:  # with a logger: <save_dir>/<name>/version_N/checkpoints (its tree)
            ckpt_folders.append(real(os.path.join(os.fspath(trainer_root), "checkpoints")))
            folders.append(real(trainer_root))  # it becomes a folder during the run
    return folders, trees, ckpt_folders


def _refuse_out_in_run_folders(out: Any, options: Mapping[str, Any], trainer_options: Any) -> None:
    """Refuse, before any training, an ``out`` that the run itself makes a folder or fills: the
    log folder, a logger's tree in it, a ModelCheckpoint's folder or a ``.ckpt`` file in it
    (``last.ckpt``). The run trained every epoch and then could not write the model there ("is
    a folder", "exists and is not an xlstsr checkpoint"): the whole training was lost."""
    if not isinstance(out, (str, os.PathLike)):
        return  # _check_output names the type
    target = os.path.realpath(os.path.expanduser(os.fspath(out)))
    folders, trees, ckpt_folders = _run_folders(options, trainer_options)
    name = os.path.basename(target) or "model.pt"
    example = "model.pt" if name.endswith(".pt") else os.path.splitext(name)[0] + ".pt"
    for folder in [*folders, *trees, *ckpt_folders]:
        if target == folder:
            # a file in the log folder is fine; in a logger's or a ModelCheckpoint's, not
            inside = folder in folders and folder not in trees and folder not in ckpt_folders
            raise XlstsrError(
                f"out {os.fspath(out)!r} is the folder the training writes its logs or Lightning "
                "checkpoints into (log_dir / --log-dir, trainer_options['default_root_dir'] or a "
                "ModelCheckpoint's dirpath): it becomes a folder during the run and the model "
                f"could not be written there after it; give the model a file name, e.g. "
                + repr(os.path.join(os.fspath(out) if inside
                                    else os.path.dirname(os.fspath(out)), "model.pt"))
            )
    for folder in trees:  # a logger's own tree (xlstsr/version_0/...): its files go there
        if target.startswith(folder + os.sep):
            raise XlstsrError(
                f"out {os.fspath(out)!r} lies inside the logger's folder {folder!r}, where the "
                "training writes its logs (version_0/, ...); write the model outside it, e.g. "
                f"{os.path.join(os.path.dirname(folder), example)!r}"
            )
    for folder in ckpt_folders:
        if os.path.dirname(target) == folder and target.endswith(".ckpt"):
            raise XlstsrError(
                f"out {os.fspath(out)!r} is a .ckpt file in the folder the ModelCheckpoint "
                "writes its Lightning checkpoints into (last.ckpt, the best epoch's: "
                "--save-checkpoints writes <--log-dir>/checkpoints): the run writes there, and "
                "the model could not replace that file after it; give the model its own file, "
                + repr(os.path.join(os.path.dirname(os.path.dirname(os.fspath(out))), example))
            )

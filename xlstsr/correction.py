"""Scale-invariance correction of super-resolved stacks (numpy or dask): ``scale_correction=``.

:func:`xlstsr.upscale` calls :func:`apply_scale_correction` when given ``scale_correction=
"auto" | "law" | "law-lst"`` or a fixed detail gain (a number). The law and the per-image correction are numpy kernels in
:mod:`xlstsr.kernels.correction` (their docstring states the law, its assumptions and failure
modes); this layer only maps them over the leading axis of a stack, lazily for dask input.
"""

from __future__ import annotations

from typing import Any

import dask
import dask.array as dsa
import numpy as np
import xarray as xr

from .errors import AllNaNError, GridError, InputTypeError, XlstsrError, warn
from .grid import same_axis
from .kernels.correction import (
    MIN_LAW_DOF,
    MIN_LAW_STEPS,
    SCALE_CORRECTIONS,
    check_law_applicable,
    check_mode,
    correct_stack,
    optimal_detail_gain,
)
from .scaling import whole_images

__all__ = ["SCALE_CORRECTIONS", "apply_scale_correction", "calibrate_detail_gain"]


def apply_scale_correction(
    sr: Any, lst: Any, guide: Any, factor: int, mode: str | float = "auto",
    guide_time_tolerance: Any = None,
) -> Any:
    """Correct a stack of super-resolved images, one gain per image (each step of the lead dims).

    Parameters
    ----------
    sr : ndarray, dask array or DataArray, (..., Y, X)
        Super-resolved LST on the fine grid (``Y = y * factor``), any number of lead dims
        (``(overpass, time, Y, X)``: each image corrected on its own), Kelvin (a DataArray may be
        Celsius with its ``units``). An ``sr`` already corrected is corrected again: give the
        method's own output (``upscale(..., scale_correction=None)``). A DataArray already
        calibrated to another sensor (its ``xlstsr_product`` attribute) is refused: correct
        before calibrating.
    lst : ndarray, dask array or DataArray, (..., y, x)
        The coarse input (Kelvin, NaN gaps; a DataArray may be Celsius with its ``units``), the
        lead dims of ``sr`` (an array: the same shape, by position).
    guide : ndarray, dask array or DataArray, (n | 1, c, Y, X), (n | 1, Y, X) or (Y, X), optional
        Fine guide on ``sr``'s grid (an array: its last two axes in ``sr``'s order of its
        spatial dims and orientation, ``n`` the number of images, ``sr``'s lead dims
        flattened in their order); its first channel shifts the law below the input
        resolution. With ``sr`` and ``lst`` DataArrays, a DataArray guide (or a list, dict or
        Dataset of bands) is aligned onto ``lst``'s fine grid as :func:`xlstsr.upscale` aligns
        it (by coordinates; pixel for pixel without a CRS), its steps matched by label
        (``guide_time_tolerance``); one coarser than ``sr``'s grid, interpolated onto it, shifts
        the law with its steps from two of its own pixels up only (finer ones are the
        interpolation's; :func:`xlstsr.kernels.correction.fit_variance_law`).
    factor : int
        Super-resolution factor (power of two).
    mode : {"auto", "law", "law-lst"} or float
        See :func:`xlstsr.kernels.correction.correct_image`; a number is a fixed gain of the
        method's within-block detail (1: the detail unchanged). In every mode the output is made
        coarse-consistent with ``lst`` at every gain, 1 included; left as the method made them,
        in every mode (a fixed gain too): images of a method that adds no detail (bicubic;
        nearest, constant in each block) and, in the law modes, images whose law could not be
        fitted (too few clear blocks: cloud; a warning names them).
    guide_time_tolerance : str, timedelta or number, optional
        How a DataArray guide's steps are matched with those of a DataArray ``lst``, as
        :func:`xlstsr.upscale` matches them (:func:`xlstsr.guide.match_steps`): default equal
        labels; a duration such as ``"15D"`` takes, for each LST date, the latest guide step at
        most that long before it (a 16-day composite labelled by the first day of its period).

    Returns
    -------
    ndarray or dask array, ``sr``'s shape
        The corrected stack in ``sr``'s shape, dtype and units (Kelvin; degrees Celsius for a
        DataArray ``sr`` whose ``units`` say so: corrected in Kelvin, converted back); lazy
        (whole images, a few per task: :func:`xlstsr.scaling.whole_images`) when any input is
        a dask array. An array for a DataArray ``sr`` too, in ``sr``'s own dim order and
        orientation (it is ``sr`` corrected); its coordinates and attributes are not kept
        (wrap them back with ``sr.copy(data=out)``); :func:`xlstsr.upscale` with
        ``scale_correction=`` gives the labelled, attributed result.

    Raises
    ------
    GridError
        DataArrays that do not pair: ``lst`` lacking one of ``sr``'s steps, or not on the
        coarse grid of ``sr`` (another place, a shift, another CRS).
    XlstsrError
        Values that are not Kelvin: a DataArray is decoded as :func:`xlstsr.upscale`'s input
        (:func:`xlstsr.validate.decode_lst`: ``units`` degC converted), an array of Celsius or
        digital numbers is refused (:func:`xlstsr.validate.check_kelvin_array`; when computed
        if any input is dask); a law mode at a factor that is not a power of two or on an image under
        16 x 16 coarse pixels (:func:`xlstsr.kernels.correction.check_law_applicable`); an
        ``sr`` already calibrated to another sensor (``xlstsr_product``).
    GuideTimeError
        A step of ``lst`` with no guide step within ``guide_time_tolerance`` (the error names
        the tolerance to pass), or a tolerance that is not a duration.

    Notes
    -----
    Pairing: when ``sr`` and ``lst`` are both DataArrays with spatial dims they are paired by
    their labels, as in :func:`calibrate_detail_gain`: any dim order, north-up or south-up
    (:func:`xlstsr.validate.image_order`), ``lst``'s steps taken in ``sr``'s order of labels
    (:func:`xlstsr.steps.pair_steps`) and its lead dims in ``sr``'s order, ``sr`` checked to
    lie on ``lst``'s factor-``factor`` fine grid (:func:`xlstsr.metrics.check_coarse_grid`).
    Arrays (and a DataArray given with an array) are paired by position: ``sr[i]`` with
    ``lst[i]``, pixel for pixel. Each image (each step of the lead dims, flattened in their
    order) is corrected on its own, with its own law and gain.

    Examples
    --------
    >>> from xlstsr.kernels.interp import cubic_upsample
    >>> lst = 300 + np.random.default_rng(0).standard_normal((2, 32, 32))
    >>> sr = dsa.from_array(cubic_upsample(lst, 4), chunks=(1, 128, 128))
    >>> out = apply_scale_correction(sr, lst, None, 4)
    >>> out.chunks[0], bool((out.compute() == sr.compute()).all())   # bicubic: nothing to rescale
    ((1, 1), True)
    """
    from .validate import check_factor

    _refuse_calibrated(sr, lst, "apply_scale_correction")
    mode = check_mode(mode)
    factor = check_factor(factor)
    check_law_applicable(mode, factor, _image_shape(lst))  # before any work, dask too
    if guide is not None:  # named even where the guide has no time dim to match, as upscale
        from .guide import _as_timedelta

        _as_timedelta(guide_time_tolerance)
    # Kelvin, as calibrate_detail_gain's inputs: the coarse-consistency step takes T^4 means,
    # which on Celsius moved the result by up to 3.7 K without a word. DataArrays are decoded
    # (lazily on dask), arrays checked by _correct
    celsius = _in_celsius(sr)
    back = names = None
    if _labelled(sr) and _labelled(lst):
        sr, lst, guide, back = _aligned(sr, lst, guide, factor, guide_time_tolerance)
        names = _image_names(lst)
    sr, lst = (_decoded(a, name) for a, name in ((sr, "sr"), (lst, "lst")))
    # every image on its own, whatever the number of lead dims: a (overpass, time, y, x) stack
    # went whole to the per-image kernel, which pooled each overpass' images into one law (a
    # cloudy image it leaves alone changed by 21 K), and crashed on dask. Flattened as upscale
    # flattens them; one image (y, x) is a stack of one, given back 2-D
    lead = tuple(np.shape(sr)[:-2])
    if np.ndim(sr) < 2 or np.ndim(lst) < 2 or (  # a stack of one beside one image: as before
            not _same_images(np.shape(sr), np.shape(lst))):
        raise GridError(
            f"sr {tuple(np.shape(sr))} must be the coarse stack {tuple(np.shape(lst))} "
            f"upscaled by factor {factor}: the same leading dims, (..., y * {factor}, "
            f"x * {factor})"
        )
    if names is None and len(lead) > 1:  # arrays: each image by its index in the stack
        names = lambda: [str(i) for i in np.ndindex(*lead)]  # noqa: E731
    sr, lst = (a.reshape((-1, *np.shape(a)[-2:])) for a in (sr, lst))
    out = _correct(sr, lst, guide, factor, mode, checked=False, names=names)
    out = out.reshape((*lead, *out.shape[-2:]))
    if back is not None:
        out = back(out)
    # a bare array comes back: in the units sr was given in, not Kelvin under a degC label
    return (out - 273.15).astype(out.dtype, copy=False) if celsius else out


def _refuse_calibrated(sr: Any, lst: Any, what: str) -> None:
    """Refuse an ``sr`` calibrated to another sensor than its ``lst`` (``xlstsr_product`` not
    the LST's, by default the input sensor's): the correction makes it coarse-consistent with
    that LST, so it silently undid the calibration (a 2 K offset came back 0.00 K, still
    labelled calibrated), and a detail gain calibrated on it was off by the calibration's
    slope. An sr of an LST calibrated before upscaling (both labelled alike) is corrected as
    any."""
    from .calibration import INPUT_PRODUCT

    def product(a: Any) -> str:
        v = a.attrs.get("xlstsr_product") if isinstance(a, xr.DataArray) else None
        return INPUT_PRODUCT if v is None else str(v)

    done = product(sr)
    if done == product(lst):
        return
    raise XlstsrError(
        f"{what}: sr is already {done!r} (its xlstsr_product attribute), but the scale "
        "correction works on the LST's own sensor (it makes sr consistent with the coarse "
        "input, which would undo the calibration): correct before calibrating, on the method's "
        "own output, `upscale(lst, factor, method, scale_correction=..., calibration=...)` "
        "(which corrects, then calibrates), or `apply_calibration(corrected_sr, calibration)` "
        "after the correction."
    )


def _aligned(sr: xr.DataArray, lst: xr.DataArray, guide: Any, factor: int,
             time_tolerance: Any = None) -> tuple:
    """``sr`` and ``lst`` paired by their labels, as :func:`calibrate_detail_gain` pairs them:
    both ``(..., y, x)`` and north-up (:func:`xlstsr.validate.image_order`), ``lst``'s steps in
    ``sr``'s order of labels, ``sr`` checked to be on ``lst``'s fine grid; a DataArray guide
    aligned onto that grid as :func:`xlstsr.upscale` aligns it. Paired by position, a south-up
    LST against upscale's north-up output, an ``sr`` stored (time, x, y) or the LST's steps in
    another order were corrected silently 8-20 K off. Also returns the function that puts a
    result computed on the aligned ``sr`` back in ``sr``'s own order (it is ``sr`` corrected)."""
    from .guide import georeference_guide, prepare_guide
    from .metrics import check_coarse_grid
    from .steps import pair_steps
    from .validate import (
        image_order,
        in_image_order,
        north_up_flips,
        spatial_dims,
        spatial_names,
    )

    sr, lst = (a.rename(spatial_names(a)) for a in (sr, lst))  # lat/lon dims: y/x here
    dims = sr.dims
    ydim, xdim = spatial_dims(sr)
    flips = north_up_flips(sr, ydim, xdim)  # reversals are their own inverse
    sr_o, lst_o = image_order(sr), image_order(lst)
    lst_o = pair_steps(lst_o, sr_o, "coarse input", "sr", var="lst")
    # lead dims in sr's order too: (time, overpass) against sr's (overpass, time) paired
    # (day, t1) with (t0, night), 27.6 K off with a fixed gain
    lst_o = _lead_as(lst_o, sr_o)
    check_coarse_grid(sr_o, lst_o, factor, "sr", "lst", optional=False)
    if isinstance(guide, (xr.DataArray, xr.Dataset, list, dict)):
        # by coordinates onto lst's fine grid (= sr's, checked above), steps matched by label:
        # as positional arrays, a south-up or transposed guide shifted the law silently
        sy, sx = spatial_dims(lst_o)
        lead = tuple(d for d in lst_o.dims if d not in (sy, sx))
        if not isinstance(guide, xr.DataArray) or guide.rio.crs is not None:
            guide = georeference_guide(guide)
        # without a CRS (either side) pixel for pixel on the fine grid, put north-up and
        # checked against lst's labels where both have them, as for training arrays
        guide = prepare_guide(guide, lst_o, factor, lead, time_tolerance=time_tolerance,
                              require_crs=False)
    elif guide is not None and np.ndim(guide) >= 2:
        # an array guide is given on sr's grid in sr's layout: put it as sr was put (its
        # spatial axes swapped back where sr is stored (x, y), then north-up); left as given,
        # a guide in sr's (time, x, y) layout was refused naming the aligned shape. Its
        # leading axes are its own ((n | 1, c, Y, X)), not sr's
        guide = in_image_order(sr, guide, lead_first=True)[1]

    def back(out: Any) -> Any:
        return sr_o.copy(data=out).isel(flips).transpose(*dims).data

    return sr_o, lst_o, guide, back


def _lead_as(a: xr.DataArray, ref: xr.DataArray) -> xr.DataArray:
    """``a`` (in image order) with the lead dims it shares with ``ref`` in ``ref``'s order,
    spatial dims last: the stacks are flattened image by image, each in its own order, so
    lead dims in another order paired images of other labels."""
    lead = [d for d in ref.dims[:-2] if d in a.dims[:-2]]
    rest = [d for d in a.dims[:-2] if d not in lead]
    order = (*lead, *rest, *a.dims[-2:])
    return a if tuple(a.dims) == order else a.transpose(*order)


def _image_names(lst: xr.DataArray) -> Any:
    """The call that names ``lst``'s images (in image order) by their labels, flattened as
    the correction flattens them (:func:`xlstsr.scaling._step_names`): a warning of "step(s)
    [2] of 4" was an index into an order the user never sees."""
    import functools

    from .scaling import _step_names

    lead = list(lst.dims[:-2])
    return functools.partial(_step_names, lst, lead) if lead else None


def _image_shape(a: Any) -> tuple[int, ...]:
    """``a``'s shape as the law reads it, (..., y, x): a labelled ``a`` by its spatial dims'
    sizes (a (y, x, time) lst was refused as a "32 x 3" image), an array by its last two."""
    if not _labelled(a):
        return tuple(np.shape(a))
    from .validate import spatial_dims, spatial_names

    ydim, xdim = spatial_dims(a.rename(spatial_names(a)))
    names = {v: k for k, v in spatial_names(a).items()}  # y/x back to the array's own names
    return (a.sizes[names.get(ydim, ydim)], a.sizes[names.get(xdim, xdim)])


def _same_images(a: tuple[int, ...], b: tuple[int, ...]) -> bool:
    """Whether stacks of shapes ``a`` and ``b`` (``(..., y, x)``) hold the same images, one to
    one, whatever 1-step dims one of them keeps: their leading dims are equal, or the longer's
    become the shorter's by dropping size-1 entries ((1, 2) and (2,), (2, 1) and (2,)). Equal
    ranks must be equal: dropping every 1 from both paired (2, 1) with (1, 2), a (day, night)
    of one date with two dates of one overpass (gain 0.519 for 0.500, silently)."""
    la, lb = tuple(a[:-2]), tuple(b[:-2])
    if len(la) == len(lb):
        return la == lb
    long, short = (la, lb) if len(la) > len(lb) else (lb, la)
    j = 0
    for n in long:  # short must be long with some of its 1s left out, in order
        if j < len(short) and n == short[j]:
            j += 1
        elif n != 1:
            return False
    return j == len(short)


def _labelled(a: Any) -> bool:
    """Whether ``a`` is a DataArray with spatial dims (y/x, lat/lon...), paired by its labels;
    arrays, and DataArrays without spatial dims, pair by position."""
    from .errors import NoSpatialDimsError
    from .validate import spatial_dims, spatial_names

    if not isinstance(a, xr.DataArray):
        return False
    try:
        spatial_dims(a.rename(spatial_names(a)))
    except NoSpatialDimsError:  # no labels to pair by
        return False
    return True


def _in_celsius(a: Any) -> bool:
    """Whether ``a`` is a DataArray whose ``units`` say degrees Celsius."""
    from .validate import _units_kind

    return isinstance(a, xr.DataArray) and _units_kind(a.attrs.get("units"), "sr") == "C"


def _correct(sr: Any, lst: Any, guide: Any, factor: int, mode: str | float,
             *, checked: bool = True, names: Any = None) -> Any:
    """:func:`apply_scale_correction` on stacks ``(n, Y, X)`` and ``(n, y, x)`` (numpy or dask)
    known to be Kelvin (``checked``: :func:`xlstsr.upscale`'s own method output and decoded
    input); with ``checked=False`` their values are checked to be Kelvin
    (:func:`xlstsr.validate.check_kelvin_array`): now in memory, block by block as they are
    computed when any input is dask (nothing is read while the graph is built). ``names``:
    the images' names for the unfitted warning (:data:`xlstsr.scaling.StepNames`), else
    their positions. A guide :func:`xlstsr.guide.prepare_guide` interpolated onto the fine grid
    (coarser than it) is read from two of its own pixels up (:func:`xlstsr.guide.guide_pixel`)."""
    from .guide import guide_pixel
    from .validate import check_kelvin_array

    check_law_applicable(mode, factor, tuple(lst.shape))
    if sr.ndim != 3 or lst.ndim != 3 or tuple(sr.shape[-2:]) != (lst.shape[-2] * factor, lst.shape[-1] * factor) or (
            sr.shape[0] != lst.shape[0]):
        raise GridError(f"sr {tuple(sr.shape)} must be the coarse stack {tuple(lst.shape)} "
                        f"upscaled by factor {factor}: (n, y * {factor}, x * {factor})")
    sr, lst = _unwrapped(sr), _unwrapped(lst)  # a dask-backed DataArray is lazy input too
    # the side of the guide's own pixel, where prepare_guide interpolated it onto the fine grid:
    # the law reads its detail from there up only
    pixel = guide_pixel(guide)
    guide = _guide_stack(guide, tuple(sr.shape))
    lazy = any(isinstance(a, dsa.Array) for a in (sr, lst, guide))
    if not lazy:
        if not checked:
            check_kelvin_array(sr, "sr")
            check_kelvin_array(lst, "lst")
        g = None if guide is None else np.asarray(guide)
        unfitted: list[int] = []
        out = correct_stack(np.asarray(sr), np.asarray(lst), g, factor, mode, unfitted=unfitted,
                            guide_pixel=pixel)
        _warn_unfitted(unfitted, mode, sr.shape[0], names)
        return out
    # whole images, a few per task: a stack chunked for time series, (time=-1, 256, 256), was
    # one task holding every image
    sr_d = whole_images(dsa.asarray(sr))
    lst_d = dsa.asarray(lst).rechunk((sr_d.chunks[0], -1, -1))
    args: list[Any] = [sr_d, "nij", lst_d, "nkl"]
    if guide is not None:
        g = dsa.asarray(guide)[:, :1]
        if g.shape[0] == 1 and sr_d.shape[0] > 1:
            g = dsa.broadcast_to(g, (sr_d.shape[0], *g.shape[1:]))
        args += [g.rechunk((sr_d.chunks[0], -1, -1, -1)), "ncab"]

    def _block(s, t, g=None):
        if not checked:
            check_kelvin_array(s, "sr")
            check_kelvin_array(t, "lst")
        unfitted: list[int] = []
        out = correct_stack(s, t, g, factor, mode, unfitted=unfitted, guide_pixel=pixel)
        _warn_unfitted(unfitted, mode, None)  # indices within a chunk: not named
        return out

    # blockwise with separate spatial indices: the three arrays have different spatial sizes
    return dsa.blockwise(
        _block,
        "nij",
        *args,
        dtype=sr_d.dtype,
        align_arrays=False,
        concatenate=True,
        meta=np.empty((0, 0, 0), sr_d.dtype),
    )


def _decoded(a: Any, name: str) -> Any:
    """A DataArray decoded as upscale's input is (Celsius units, scale, fill; lazily on dask),
    to its array; anything else unchanged (:func:`_correct` checks arrays are Kelvin)."""
    from .validate import decode_lst

    if isinstance(a, xr.DataArray):
        return decode_lst(a, keep_out_of_range=True, check_fill=False, what=name).data
    return a


def _unwrapped(a: Any) -> Any:
    """An xarray object's array (dask or numpy), anything else unchanged: a dask-backed
    DataArray is not a dask array, and ``np.asarray`` of it read it whole at the call."""
    return a.data if isinstance(a, (xr.DataArray, xr.Variable)) else a


def _guide_stack(guide: Any, shape: tuple[int, ...]) -> Any:
    """The guide as (n | 1, c, Y, X) for an ``sr`` of ``shape`` (n, Y, X), in memory or dask
    alike: a (Y, X) or (n | 1, Y, X) guide gets its missing axes. A guide of another fine size
    was used silently (one of 64 x 64 pixels for a 128 x 128 sr moved the output by 3.7 K), a
    2-D one died with a raw IndexError and a 3-D one with a raw dask error."""
    if guide is None:
        return None
    guide = _unwrapped(guide)
    if dask.is_dask_collection(guide) and not isinstance(guide, dsa.Array):
        guide = dsa.asarray(guide)  # another lazy container: kept lazy, not read at the call
    elif not isinstance(guide, dsa.Array):
        guide = np.asarray(guide)
    n, yx = shape[0], tuple(shape[-2:])
    want = f"(Y, X), ({n} | 1, Y, X) or ({n} | 1, c, Y, X) with (Y, X) = {yx}"
    if guide.ndim not in (2, 3, 4) or 0 in guide.shape:
        raise GridError(f"the guide's shape {tuple(guide.shape)} is not a fine guide for sr "
                        f"{shape}: give it as {want}")
    if tuple(guide.shape[-2:]) != yx:
        raise GridError(
            f"the guide {tuple(guide.shape)} is not on sr's fine grid {shape}: its last two "
            f"dimensions must be sr's (Y, X) = {yx}; put the guide on the output grid first "
            f"(shapes accepted: {want})"
        )
    if guide.ndim == 2:
        guide = guide[None, None]
    elif guide.ndim == 3:
        guide = guide[:, None]
    if guide.shape[0] not in (1, n):
        raise GridError(
            f"the guide {tuple(guide.shape)} has {guide.shape[0]} images for the {n} of sr "
            f"{shape}: give one guide for all images or one per image ({want})"
        )
    return guide


def _warn_unfitted(steps: list[int], mode: Any, n: int | None, names: Any = None) -> None:
    """Name the images the law could not be fitted on: left as the method gave them, under an
    output labelled as corrected (a 97 % cloudy day changed by 0 K, the other by 4 K). That
    includes a law the clouds leave too few blocks to determine (fewer than
    :data:`~xlstsr.kernels.correction.MIN_LAW_STEPS` steps with
    :data:`~xlstsr.kernels.correction.MIN_LAW_DOF` degrees of freedom): fitted on what was left, one scene's predicted variance went from 0.6 to
    14.5 K² with the cloud pattern, without a word. ``names``: the images' names by label
    (:data:`xlstsr.scaling.StepNames`), else their positions."""
    from .scaling import _named_steps, _names_of

    if not steps:
        return
    if n is None:
        which = f"{len(steps)} image(s) of a chunk"
    elif (named := _names_of(names)) is not None:  # built only now that a warning names them
        which = f"step(s) {_named_steps(steps, named)} of {n}"
    else:
        which = f"step(s) {steps[:8]}{' ...' if len(steps) > 8 else ''} of {n}"
    warn(
        f"scale_correction={mode!r}: the variance law could not be fitted on {which} (fewer "
        f"than {MIN_LAW_STEPS} aggregation steps with {-(-MIN_LAW_DOF // 3)} or more clear 2 x 2 "
        "blocks of coarse pixels, or as many degrees of freedom: cloud?); they are left "
        "uncorrected, as the method made them. "
        "Pass a fixed detail gain (scale_correction=0.8, from "
        "xlstsr.correction.calibrate_detail_gain) to correct every step alike.",
        UserWarning,
    )


def calibrate_detail_gain(sr: Any, lst: Any, truth: Any, factor: int) -> float:
    """The detail gain for ``upscale(..., scale_correction=gain)``, calibrated with fine truth.

    The RMSE-optimal gain of the method's within-block detail pooled over the images of ``sr``
    (:func:`xlstsr.kernels.correction.optimal_detail_gain`): run the method where fine truth
    exists (an ECOSTRESS or ASTER scene on the output grid), calibrate, then pass the gain when
    upscaling elsewhere. Measured in docs/results/scale_invariance.md: it closes most of the
    RMSE cost of a model trained one octave-pair up, at the price of a smoother output; see
    :mod:`xlstsr.kernels.correction` ("A fixed gain") for where it fails.

    Parameters
    ----------
    sr : DataArray or array, (..., Y, X)
        The method's own output on the fine grid (``upscale(..., scale_correction=None)``):
        an output already corrected (``attrs["xlstsr_scale_correction"]`` not ``"none"``) or
        calibrated to another sensor (``attrs["xlstsr_product"]`` not the input sensor's) is
        refused.
    lst : DataArray or array, (..., y, x)
        Its coarse input (``Y = y * factor``).
    truth : DataArray or array, like ``sr``
        Fine truth on the same grid (NaN where invalid).
    factor : int
        Super-resolution factor.

    Returns
    -------
    float
        The RMSE-optimal gain, to pass as ``scale_correction=``.

    Notes
    -----
    DataArrays are paired by their labels (any dim order, north-up or south-up: each put in
    :func:`xlstsr.validate.image_order`; steps by label, lead dims put in ``sr``'s order). An array given with a DataArray is
    paired by position in that DataArray's layout (its dim order and orientation: ``sr``'s
    where ``sr`` is one) and put as it is put (:func:`xlstsr.validate.in_image_order`).

    Examples
    --------
    >>> from xlstsr.kernels.aggregate import block_mean
    >>> from xlstsr.kernels.correction import split_detail
    >>> truth = 300 + np.random.default_rng(0).standard_normal((2, 32, 32))
    >>> lst = block_mean(truth, 4)
    >>> parts = [split_detail(t, c, 4) for t, c in zip(truth, lst)]
    >>> sr = np.stack([b + m + 2 * d for b, m, d in parts])   # twice the true detail
    >>> round(calibrate_detail_gain(sr, lst, truth, 4), 3)
    0.5
    """
    from .validate import check_factor, image_order, in_image_order

    factor = check_factor(factor)
    for name, a in (("sr", sr), ("lst", lst), ("truth", truth)):
        if not isinstance(a, (xr.DataArray, np.ndarray, dsa.Array)):
            raise InputTypeError(f"{name} must be a DataArray or an array, got {type(a).__name__}")
    _refuse_calibrated(sr, lst, "calibrate_detail_gain")
    done = sr.attrs.get("xlstsr_scale_correction", "none") if isinstance(sr, xr.DataArray) \
        else "none"
    if str(done).lower() != "none":
        # the gain is relative to the detail it is given, and upscale(scale_correction=gain)
        # multiplies the method's own: calibrated on an output corrected by 0.5 it came back
        # twice too large
        raise XlstsrError(
            f"sr was already scale-corrected (its xlstsr_scale_correction attribute is "
            f"{str(done)!r}), but the gain is applied by upscale(..., scale_correction=gain) to "
            "the method's own detail: calibrate on the method's output, "
            "`upscale(..., scale_correction=None)`, then pass the gain to upscale"
        )
    # pixels are paired by array position: a (x, y) or south-up field paired (i, j) with (j, i)
    # or its mirror image; arrays given beside a DataArray, in its layout, are put as it is put
    sr, lst, truth = in_image_order(sr, lst, truth)
    # lead dims in sr's order as well as its labels: each stack is flattened in its own order
    # below, so a truth (time, overpass) against sr (overpass, time) paired (day, t1) with
    # (t0, night): 0.69 for 1.28, without a word
    if isinstance(sr, xr.DataArray) and isinstance(truth, xr.DataArray):
        truth = _lead_as(image_order(_check_same_fields(sr, truth)), sr)
    if isinstance(sr, xr.DataArray) and isinstance(lst, xr.DataArray):
        from .metrics import check_coarse_grid
        from .steps import pair_steps

        # the coarse input's dates by label too: paired by position, the same dates in
        # another order gave 0.22 for 0.14, and a third date was dropped without a word
        lst = _lead_as(image_order(pair_steps(lst, sr, "coarse input", "sr", var="lst")), sr)
        # the coarse input of another place (same shape) gave a gain without a word
        check_coarse_grid(sr, lst, factor, "sr", "lst", optional=False)
    s, c, t = (_kelvin(a, name) for a, name in ((sr, "sr"), (lst, "lst"), (truth, "truth")))
    if not np.isfinite(t).any():
        raise AllNaNError("the truth holds no valid pixel: the gain cannot be calibrated (check "
                          "its fill value, its mask, or that it covers the sr field)")
    if (s.shape != t.shape and s.shape[-2:] == t.shape[-2:]
            and _same_images(s.shape, t.shape)):
        # lead dims that differ by size-1 dims only: the step advice's own
        # `sr.sel(time=[truth['time'].values])` keeps a 1-step dim that a one-date truth
        # lacks (refused as "put the truth on the output grid first", grids equal), as
        # apply_scale_correction takes it
        t = t.reshape(s.shape)
    if s.shape[-2:] == t.shape[-2:] and s.shape != t.shape:
        raise GridError(
            f"sr {s.shape} and truth {t.shape} hold other images (their leading dims differ): "
            "give the truth of every sr image, or select the sr images the truth has"
        )
    if s.shape != t.shape or s.shape[-2:] != (c.shape[-2] * factor, c.shape[-1] * factor):
        raise GridError(
            f"sr {s.shape} and truth {t.shape} must share the fine grid, factor {factor} times "
            f"the coarse input {c.shape}: put the truth on the output grid first"
        )
    s, c, t = (a.reshape(-1, *a.shape[-2:]) for a in (s, c, t))
    if c.shape[0] != s.shape[0]:  # zip() kept the shorter list without a word
        raise GridError(
            f"the coarse input holds {c.shape[0]} image(s) and sr {s.shape[0]}: give the coarse "
            "input of every sr image (the same steps, in the same order)"
        )
    return optimal_detail_gain(list(zip(s, c, t)), factor)


def _kelvin(a: Any, name: str) -> np.ndarray:
    """Values in Kelvin: a DataArray decoded as the inputs are (Celsius units, scale, fill),
    then every field checked: Celsius or digital numbers without metadata, and values no
    temperature takes (clouds written as 0 or -9999 on a few pixels gave a gain of 10441)."""
    from .evaluate import check_possible_kelvin
    from .validate import check_kelvin_array, decode_lst

    if isinstance(a, xr.Variable):
        a = a.data
    if isinstance(a, xr.DataArray):
        a = decode_lst(a, keep_out_of_range=True, check_fill=False, what=name).values
    v = np.asarray(a, np.float64)
    check_kelvin_array(v, name)
    check_possible_kelvin(v, name, "would dominate the gain")
    return v


def _check_same_fields(sr: xr.DataArray, truth: xr.DataArray) -> xr.DataArray:
    """The truth with ``sr``'s steps in ``sr``'s order of labels, on ``sr``'s grid: paired by
    position, other dates (or another order) or a field elsewhere gave a gain of 0 or a wrong
    one silently."""
    from .steps import pair_steps
    from .validate import spatial_dims

    truth = pair_steps(truth, sr, "truth", "sr")  # a truth of one other date, or other steps
    for d in set(spatial_dims(sr)) & set(truth.dims):
        if d in sr.indexes and d in truth.indexes and sr.sizes[d] == truth.sizes[d]:
            a, b = sr.indexes[d], truth.indexes[d]
            if a.equals(b) or same_axis(a, b):
                continue
            raise GridError(
                f"truth's '{d}' labels differ from sr's ({b[0]} .. {b[-1]} against "
                f"{a[0]} .. {a[-1]}), but the fields are paired by position: put the truth on "
                f"sr's grid (`truth.rio.reproject_match(sr)`)"
            )
    return truth

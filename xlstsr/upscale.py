"""``upscale``: the single entry point of every super-resolution method (xarray layer)."""

from __future__ import annotations

import copy
from collections.abc import Hashable, Mapping, Sequence
from functools import partial
from typing import Any

import dask.array as dsa
import numpy as np
import xarray as xr

from ._version import __version__
from .attrs import GUIDE_OFFSET_ATTR, SR_LONG_NAME, grid_attr, source_long_name, storage_attr
from .calibration import INPUT_PRODUCT
from .engine.blocks import GuideWatch, guide_step_stats, upscale_array
from .errors import GridError, MethodOptionError, XlstsrError, warn
from .grid import fine_grid, noting_coarse_guide, with_grid
from .guide import (
    GuideLike,
    band_reorder_code,
    check_alignment,
    check_guide_labels,
    check_guide_values,
    check_model_ndvi,
    georeference_guide,
    guide_labels,
    prepare_guide,
    to_stack,
)
from .io.zarr import refuse_incomplete_inputs
from .kernels.correction import check_law_applicable, check_mode
from .methods import get_method
from .methods.base import UpscaleMethod
from .methods.bicubic import Bicubic, Nearest
from .validate import (
    _LAT_NAMES,
    _LON_NAMES,
    MAX_FACTOR,
    MAX_OUTPUT_CHUNK_BYTES,
    check_bool,
    check_factor,
    check_output,
    check_output_size,
    georeference,
    prepare_lst,
    select_lst,
    spatial_dims,
    spatial_names,
    warn_if_resampled,
    warn_if_super_resolved,
)

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
    scale_correction: str | float | None = None,
    guide_offset: str | xr.Dataset | None = None,
    guide_time_tolerance: Any = None,
    output_check: bool = True,
    keep_attrs: bool = True,
    tile: int | str | None = "auto",
    adapt: bool | Mapping[str, Any] | None = None,
    calibration: Any = None,
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
        A name from :func:`xlstsr.available_methods` or a method instance. On lazy (dask)
        input a shallow copy of an instance runs (its options as at this call: changing them
        later changes no result of this call; its model and weights are shared).
    guide : DataArray, list/dict of DataArrays, or str
        Fine guide bands (e.g. NDVI at 250 m) for guided methods; a name selects a Dataset variable.
        Reprojected onto the fine grid when it does not nest exactly (with a warning). A date
        whose guide band is empty or of one value, or (a gap-filling model) mostly beyond its
        gap filling's reach, where the LST is clear, is warned about: in memory at the call; on
        dask inputs as each step's last tile is computed, each kind of warning once, for the
        first step that calls for it (with dask's threads or sync scheduler; under a
        dask.distributed client, not at all).
    variable : str, optional
        The LST variable when ``lst`` is a Dataset.
    method_options : dict, optional
        Options of the method's constructor, e.g. ``{"gain": 0.5}`` for DMS or, for the deep
        methods, ``{"model": ...}`` (a checkpoint path, an ``nn.Module`` or bundled weights by
        name) and ``{"conserve": True}``.
    mask_out_of_range : bool
        Mask values outside 150-400 K after decoding instead of raising.
    scale_correction : {None, "auto", "law", "law-lst"} or float
        Correct the scale-invariance assumption of the method's fine detail with the fitted
        within-block variance law (see :mod:`xlstsr.correction`); ``"auto"`` (shrink only) and
        ``"law"`` use the guide, when given, to adapt the law below the LST resolution;
        ``"law-lst"`` and a fixed gain do not (given to a method that takes no guide, the guide
        is then ignored, with a warning). The output is coarse-consistent
        with the input at every gain (an offset the method added at the input scale is
        removed); an image whose law cannot be fitted (too few clear 2 x 2 blocks: cloud) is
        left as the method made it, with a warning. ``"bicubic"`` has no fine detail of its
        own to rescale: under a law (``"auto"``, ``"law"``, ``"law-lst"``) its output is left
        as it is, with a warning (at any factor: the laws are not run on it; the result
        records ``xlstsr_scale_correction="none"``), and a fixed gain is refused (it would only
        add block edges); ``"nearest"`` takes ``"auto"`` alone, which leaves its output as it
        is in the same way (its within-block "detail" is its block edges: the other modes
        are refused).
        The laws need a power-of-two factor and an LST of at least 16 x 16 pixels (refused
        before any work, dask included). A number is a fixed detail gain
        (e.g. one calibrated on fine truth of other ground by
        :func:`xlstsr.correction.calibrate_detail_gain`; docs/results/scale_invariance.md says
        where it holds). None (default): off.
    guide_offset : {"auto", "check", "ignore"}, Dataset or None
        Sub-pixel alignment of the guide with the LST (:func:`xlstsr.guide.check_alignment`),
        estimated on one window of at most 96 x 96 LST pixels of one time step: ``"auto"``
        moves the guide back when it is off by more than a quarter of a fine pixel by more than
        twice its uncertainty, with a
        :class:`~xlstsr.errors.GuideAlignmentWarning` that says by how much (real MODIS NDVI
        was, against MODIS LST, on a fifth of the pairs tried, and moving it back helped every
        guided method there); ``"check"`` only warns; ``"ignore"`` skips it; an
        :func:`xlstsr.estimate_offset` result is applied (``"auto"`` measures without the
        blur fit, ``estimate_offset(guide, lst, psf=False)``; the default ``psf=True`` also
        fits the MODIS footprint's blur, so its shift may differ by a fraction of a fine
        pixel). ``None`` (default): ``"auto"`` on
        in-memory inputs, nothing read on dask inputs (pass ``"auto"``, or ``"check"`` to be
        warned only, to measure it while the graph is built: one compute reads the central window of at
        most 8 steps spread over the cube - the input chunks that hold them, decoded on their
        own, not through the whole-image value checks - and the one with the most valid pixels
        is measured; when all 8 are mostly empty, those 8 steps are read whole to find a
        clearer window). The estimate costs about
        0.2 s on a 64 x 64 scene, 1-2 s on a 1200 x 1200 one: pass
        ``"ignore"`` for many small scenes whose guide is known to be aligned. A guide of
        several bands is measured on its first band and every band is moved by that offset:
        bands from other sources are co-registered each beforehand (:func:`xlstsr.coregister`),
        then passed with ``"ignore"``. What it did is recorded in the result's
        ``xlstsr_guide_offset`` attribute (see Returns).
    guide_time_tolerance : str, timedelta or number, optional
        How a guide with a time dim is matched with the LST's steps: by label, never by
        position (:func:`xlstsr.guide.match_steps`); a guide's scalar date (kept by
        ``guide.sel(time=t)``) is matched as a one-step dim (``guide.drop_vars('time')``
        makes it static). Default: equal labels. A duration such as
        ``"15D"`` takes, for each LST date, the latest guide step at most that long before it
        (a 16-day composite labelled by the first day of its period covers that day and the 15
        after it: :func:`xlstsr.guide.match_steps`). A guide time dim the LST
        lacks is refused (:class:`~xlstsr.errors.GuideTimeError`), not made into bands. An
        equal label is always the match: a composite merged into the LST's Dataset
        (``xr.merge``) is all-NaN at the LST's own dates, so pass it without those steps,
        ``guide=ds["ndvi"].dropna("time", how="all")``, for the tolerance to reach its dates.
    output_check : bool
        Refuse an output that is not physical (:func:`xlstsr.validate.check_output`, default);
        False returns whatever the method produced (to debug a model).
    keep_attrs : bool
        Keep the input's attributes (``source``, ``platform``...) on the result, except those
        that describe how the input was stored (``scale_factor``, ``_FillValue``,
        ``valid_range``...) or its grid (``AREA_OR_POINT``, ``transform``, its resolution:
        ``resolution``, ``spatial_resolution``, ``geospatial_lat_resolution``...); the CF and
        provenance attributes below replace theirs. False: only the attributes below.
    tile : int, "auto" or None
        Spatial tile of the engine in coarse pixels (chunks larger than it are split, a large
        in-memory input is tiled): ``"auto"`` asks the method (its ``tile_size``: 256 for
        bicubic and the bundled ResCNN, 192 for the default ``disr`` (GuidedResCNN), 128 for
        the U-Nets and other torch models; whole chunks
        for scene-wide methods); None keeps the input's chunks. Results do not depend on it
        (halos make seams exact).
    adapt : bool or dict, optional
        Test-time adaptation of the deep methods (``sisr``, ``disr``, torch models): before
        upscaling each time step, a copy of the model takes a few Adam steps on that scene's
        self-supervised loss (the output, aggregated under the MODIS PSF in radiance, must give
        the coarse input back; :func:`xlstsr.nn.adapt.adapt_model`). True: the defaults; a dict
        sets :class:`xlstsr.nn.adapt.Adaptation` fields (``{"steps": 10, "lr": 1e-4}``).
        Once per time step on the whole image (or a fixed seeded sample of windows of it),
        inside the engine's task for that image: lazy, deterministic, no seams, the cached
        model untouched. None (default): off. Gain and cost: ``docs/results/adaptation.md``.
    calibration : Calibration, dict, JSON text or path of a .json file, optional
        A learned sensor mapping (:func:`xlstsr.calibration.fit_calibration`, e.g. MODIS ->
        ASTER) applied to the result: exactly ``apply_calibration(upscale(...), calibration)``.
        None (default): the output stays in the input sensor's calibration
        (``attrs["xlstsr_product"] == "input sensor"``).
    **options
        Shorthand for ``method_options`` (``upscale(lst, 4, "dms", guide=ndvi, gain=0.5)``);
        merged into it.

    Returns
    -------
    DataArray
        Fine LST in Kelvin on the grid ``factor`` times finer with the same bounds, CRS and
        transform written, CF attributes and provenance (``xlstsr_method``, ``xlstsr_factor``,
        ``xlstsr_version``, ``xlstsr_options`` as JSON, ``history``; with a guide,
        ``xlstsr_guide_offset``: JSON of the guide_offset ``mode`` run, the value ``given``, and
        whether the guide was ``moved``, with the shift applied, ``shift_x``/``shift_y`` in the
        LST's CRS ``units`` and ``shift_x_fine_px``/``shift_y_fine_px`` in output pixels,
        which ``history`` also names). Lazy if the input is dask-backed. Output pixels are NaN exactly
        where their coarse pixel is a gap, declared as its nodata (``rio.nodata``, an encoded
        ``_FillValue`` of NaN, which ``rio.to_raster`` writes; to write integers, declare an
        integer nodata first: ``sr.rio.write_nodata(-9999, encoded=True)``). Coordinates of
        the input along its spatial dims other than the dims' own (2-D ``lat``/``lon``) are
        of the input grid: they are dropped, with a warning that says how to recompute them.

    Raises
    ------
    XlstsrError
        Every input problem, with what is wrong and how to fix it (subclasses in
        :mod:`xlstsr.errors`): the input's checks (:func:`xlstsr.validate.prepare_lst`:
        georeferencing, units, scale, undeclared fill values, physical range), a factor above
        :data:`~xlstsr.validate.MAX_FACTOR` or a result too large for memory, options the method
        does not take, a guide whose steps do not match the LST's, whose channels or scale are
        not what the model was trained on (:func:`xlstsr.guide.check_guide_values`), and an
        output that is not physical (:func:`xlstsr.validate.check_output`, every method). On
        dask inputs the value checks raise when the result is computed.

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
    lst, guide = select_lst(lst, variable, guide, operation="upscale")
    # an unfinished store's unwritten steps read as NaN (named "the LST": upscale has no source)
    refuse_incomplete_inputs(lst, guide, roles=("LST", "guide"))
    factor = check_factor(factor, maximum=MAX_FACTOR, example="4 for 1 km -> 250 m")
    _check_tile(tile)
    for name, flag in (("mask_out_of_range", mask_out_of_range), ("output_check", output_check),
                       ("keep_attrs", keep_attrs)):
        check_bool(name, flag)  # "no" is truthy: it would silently mean True
    if method_options is not None and not isinstance(method_options, Mapping):
        raise XlstsrError(
            f"method_options must be a dict of the method's options (e.g. {{'gain': 0.5}}), got "
            f"{type(method_options).__name__}"
        )
    both = sorted(set(method_options or {}) & set(options))
    if both:  # the keyword silently won over the dict
        raise MethodOptionError(
            f"option(s) {both} given twice, in method_options and as keywords of upscale "
            f"(method_options={dict(method_options or {})}, "
            f"{', '.join(f'{k}={options[k]!r}' for k in both)}): give each once, e.g. only "
            f"`method_options={{**method_options, {both[0]!r}: ...}}`."
        )
    names = spatial_names(lst)  # lat/lon dims: renamed y/x inside, given back to the output
    m = get_method(method, **{**dict(method_options or {}), **options})
    if m is method and _any_lazy(lst, guide):
        # the caller's instance: a lazy graph ran it live, so an option changed on it after
        # the call (a sweep reusing one object) changed this result, whose keys and provenance
        # name the old setting. A shallow copy: models and weights are shared. In memory the
        # instance itself runs now (what it caches on itself stays the caller's)
        m = copy.copy(m)
    m = adapted(m, adapt)
    if m.needs_guide and guide is None:
        raise XlstsrError(
            f"method {m.recorded_name()!r} needs a fine guide (e.g. NDVI at 250 m): pass "
            "`guide=ndvi`."
        )
    mode = None if scale_correction is None else check_mode(scale_correction)
    # by class, not by name: a subclass (bicubic plus an unsharp mask) inherits the name
    # 'bicubic' but adds detail, as does a user's class registered in place of it
    nearest, bicubic = type(m) is Nearest, type(m) is Bicubic
    if (nearest and mode not in (None, "auto")) or (bicubic and isinstance(mode, float)):
        # they add no detail: nearest's within-block "detail" is its block edges, which the law
        # amplified (18.6 K changes, RMSE 2.29 -> 3.83 K); bicubic made coarse-consistent block
        # by block by a fixed gain gained edges (up to 1.65 K, whatever the gain, 1 included;
        # the laws leave it as it is)
        raise XlstsrError(
            f"scale_correction={scale_correction!r} rescales a method's within-block detail, and "
            f"method {m.recorded_name()!r} adds none: use it with a method that adds detail "
            "('sisr', 'disr', 'tsharp', 'dms'), or drop scale_correction."
        )
    # the laws leave bicubic's and nearest's outputs as they are (no detail of their own): not
    # run at all, so at a factor or size the laws cannot take it is the same no-op, not a
    # refusal whose advice (a fixed gain) they refuse; recorded as not done (nearest's "auto"
    # was recorded and its law fitted for nothing, without a word)
    skip_correction = (bicubic or nearest) and isinstance(mode, str)
    applied = None if skip_correction else scale_correction
    if calibration is not None:  # before any work
        from .calibration import Calibration

        calibration = Calibration.parse(calibration)
        done = lst.attrs.get("xlstsr_product") if isinstance(lst, xr.DataArray) else None
        if done is not None and str(done) != INPUT_PRODUCT:  # apply_calibration's refusal, early
            raise XlstsrError(
                f"the LST is already {str(done)!r} (its xlstsr_product attribute): a calibration "
                "maps the input sensor's LST, apply it once; drop calibration=, or give the LST "
                "as the sensor measured it"
            )
        # the method, factor, settings and overpass the result will record, checked now: a
        # calibration of another kind was refused by apply_calibration only after the upscale
        from .calibration import _check_provenance

        # the attributes the result will record (the input's only where the result keeps
        # them: keep_attrs=False records no overpass, and apply_calibration of such a result
        # checks none), its options and scale correction included, which move the bias too
        # (conserve=True was refused only after the whole upscale)
        ahead = provenance_attrs(lst.attrs if keep_attrs else {}, m, factor, applied)
        # with the LST's overpass coordinates, which the result keeps and _day_night reads
        # first: a night field selected from a (time, overpass) stack kept the day field's
        # name, and a coordinate-less stand-in was refused a night calibration as 'day'
        marks = {k: lst.coords[k].variable for k in ("overpass", "day_night") if k in lst.coords}
        on = list(dict.fromkeys(d for v in marks.values() for d in v.dims))
        stand_in = xr.DataArray(np.zeros([lst.sizes[d] for d in on]), dims=on, coords=marks,
                                name=lst.name, attrs=ahead)
        _check_provenance(stand_in, calibration)
        if calibration.ndvi:  # apply_calibration's "pass ndvi=", which upscale does not take
            raise XlstsrError(
                "this calibration has an NDVI term, which needs the NDVI on the output grid: "
                "apply it to the result yourself, `apply_calibration(upscale(...), calibration, "
                "ndvi=ndvi_on_the_output_grid)` (from xlstsr.calibration), or fit one without "
                "the NDVI term (`fit_calibration(sr, truth)`)."
            )
    if not skip_correction:
        # the laws' own limits, before any work (they were raised by the correction after the
        # method had run, and on dask only at compute)
        check_law_applicable(mode, factor, _spatial_shape(lst, names), advice=(
            "pass a fixed detail gain instead (scale_correction=0.8, calibrated with "
            "xlstsr.correction.calibrate_detail_gain) or None"))
    else:  # the law modes (a fixed gain is refused above)
        warn(
            f"scale_correction={scale_correction!r} leaves method {m.recorded_name()!r}'s "
            "output as it is: it adds no within-block detail to rescale (recorded as "
            "xlstsr_scale_correction='none'). Use it with a method that adds detail "
            "('sisr', 'disr', 'tsharp', 'dms'), or drop scale_correction."
        )
    # the guide the correction reads, for a method that does not take one: only the laws that
    # are shifted below by a guide read it, and only on a method whose detail they rescale
    # (kept for every mode, an unused guide was prepared, reprojected with a warning, and its
    # dates refused the run, while the "ignored" warning was skipped)
    cguide = guide if _correction_reads_guide(m, mode) else None
    if guide is not None and not m.needs_guide:
        if cguide is None:
            warn(f"method {m.recorded_name()!r} does not use a guide; it is ignored")
        guide = None
    if guide is not None:  # named even when the guide has no time dim to match ('-1D')
        from .guide import _as_timedelta

        _as_timedelta(guide_time_tolerance)
    kelvin = prepare_lst(lst, mask_out_of_range=mask_out_of_range)
    back = {v: k for k, v in names.items()}
    # an LST placed by its transform only: the advice selects by pixel positions
    warn_if_resampled(kelvin, user_dims=back,
                      user_coords=all(back.get(d, d) in lst.coords for d in ("y", "x")),
                      user_flips=_flips(lst))
    warn_if_super_resolved(kelvin)
    _warn_dropped_coords(kelvin, back)
    offset_record = None  # what guide_offset did, for the provenance (no guide: nothing)
    if guide is not None:
        guide, offset_record = _aligned_guide(
            georeference_guide(guide), kelvin, guide_offset, factor=factor,
            time_tolerance=guide_time_tolerance,
            stored=_stored_for_offset(lst, kelvin, guide_offset))
    ydim, xdim = spatial_dims(kelvin)
    data, lead = to_stack(kelvin)
    if not isinstance(data, dsa.Array):
        check_output_size(data, factor)  # before anything is allocated
    data = _warn_lst_temperature(m, data)
    gdata = None
    if guide is not None:
        with noting_coarse_guide() as coarse:
            gdata = prepare_guide(guide, kelvin, factor, lead, time_tolerance=guide_time_tolerance)
        if coarse:
            m = _coarse_guide_warned(m)
        _warn_guide_gaps(gdata, data, lead)
        n_guide = getattr(m, "n_guide", None)
        if n_guide is not None and gdata.shape[1] != n_guide:
            message = getattr(m, "channel_message", None)
            raise XlstsrError(
                message(gdata.shape[1], guide_labels(guide)) if message else
                f"method {m.recorded_name()!r} takes {n_guide} guide channel(s), the guide has "
                f"{gdata.shape[1]}; pass the bands it expects."
            )
        stats = m.guide_statistics()
        # labels first: bands in another order ('nir', 'red' for a model of 'red', 'nir') were
        # told "divide them by 10" by the statistics check, which compares channel by channel;
        # a band labelled 'red' for a model trained on 'ndvi' is named as such
        reorder = band_reorder_code(guide, lead) if stats else None
        if stats and stats.get("names"):
            check_guide_labels(guide_labels(guide), stats["names"], m.recorded_name(),
                               reorder=reorder)
        if stats:  # the band-order advice in code for the guide's form as passed
            stats = {**stats, "reorder": reorder}
        gdata = check_guide_values(gdata, stats)  # its messages name the values' cause
        gdata = check_model_ndvi(gdata, stats)  # an unlabelled NDVI x 3 passes the one above
        _warn_guide_constant_fill(m, gdata, data, factor)
    out = upscale_array(m, data, gdata, factor, tile=tile,
                        watch=_guide_watch(m, gdata, data, factor, lead))
    if isinstance(out, dsa.Array):
        _check_whole_image_size(m, out)
        check_output_size(out, 1)  # the engine's output chunks
    if mode is not None and not skip_correction:
        from .correction import _correct
        from .scaling import _step_names

        if gdata is not None:  # already aligned for the method
            cg = gdata
        else:
            cg = None
            if cguide is not None:
                cg = prepare_guide(georeference_guide(cguide), kelvin, factor, lead,
                                   time_tolerance=guide_time_tolerance)
        # Kelvin: decoded input, method output; images named by their labels in a warning
        # (an (overpass, time) cube's "step(s) [2] of 4" counted the flattened stack)
        out = _correct(out, data, cg, factor, mode,
                       names=partial(_step_names, kelvin, lead) if lead else None)
    if output_check:
        out = check_output(out, data, m.recorded_name(), guided=gdata is not None,
                           scale_correction=scale_correction, guide=gdata,
                           adapt=getattr(m, "adapt", None))
    fy, fx, ft = fine_grid(kelvin, factor)
    shape = (*tuple(kelvin.sizes[d] for d in lead), fy.size, fx.size)
    out = out.reshape(shape) if not isinstance(out, dsa.Array) else out.reshape(shape, merge_chunks=True)
    template = kelvin.transpose(*lead, ydim, xdim)
    result = with_grid(out, template, fy, fx, ft, (*lead, ydim, xdim))
    if names:
        back = {v: k for k, v in names.items()}
        result = result.rename(back).rio.set_spatial_dims(x_dim=back["x"], y_dim=back["y"])
    result.name = lst.name
    result.attrs = provenance_attrs(
        lst.attrs if keep_attrs else {}, m, factor, applied,
        history=lst.attrs.get("history"), guide_offset=offset_record,
    )
    from .calibration import apply_calibration

    # the product the values are: an LST calibrated before upscaling stays calibrated (labelled
    # 'input sensor', a second calibration was let through)
    product = str(lst.attrs.get("xlstsr_product", INPUT_PRODUCT))
    result.attrs["xlstsr_product"] = product
    if product != INPUT_PRODUCT and "xlstsr_calibration" in lst.attrs:
        result.attrs["xlstsr_calibration"] = lst.attrs["xlstsr_calibration"]
    if calibration is not None:  # the opt-in sensor mapping, exactly as apply_calibration does it
        result = apply_calibration(result, calibration)
    # its gaps are NaN: declared (rio.nodata), `result.rio.to_raster(...)` wrote no nodata tag
    # and masked reads took them as data. As an encoding, not an attribute: a user's
    # `to_netcdf(encoding={name: {"_FillValue": ...}})` replaces it (one in attrs made xarray
    # refuse it), and writers that keep only the grid link (to_cogs, upscale_to_zarr) drop it
    # (in place on a shallow copy: rioxarray's own copy is a deep one, the output twice)
    result = result.copy(deep=False)
    result.rio.write_nodata(np.nan, encoded=True, inplace=True)
    return result


def _check_whole_image_size(m: UpscaleMethod, out: Any) -> None:
    """Refuse, naming why, a method that fits whole images (not spatially local) whose output
    image alone exceeds :data:`~xlstsr.validate.MAX_OUTPUT_CHUNK_BYTES`: the engine gives such a
    method one image per task at the least (:func:`xlstsr.engine.blocks._time_chunks`), so the
    general advice, smaller y/x chunks, would change nothing."""
    if m.spatially_local or not out.chunks[0] or max(out.chunks[0]) > 1:
        return
    nbytes = int(out.shape[1]) * int(out.shape[2]) * out.dtype.itemsize
    if nbytes <= MAX_OUTPUT_CHUNK_BYTES:
        return
    raise GridError(
        f"method {m.recorded_name()!r} fits each image whole (a scene-wide regression, not "
        f"spatially local), and one output image of {out.shape[1]} x {out.shape[2]} pixels "
        f"would hold {nbytes / 1024**3:.1f} GiB, more than one task may make "
        f"({MAX_OUTPUT_CHUNK_BYTES / 1024**3:.0f} GiB): smaller chunks cannot help. Upscale "
        "the area in parts (e.g. `lst.isel(y=slice(0, n // 2))` and the rest), or use a "
        "spatially local method (run in tiles: 'bicubic', 'sisr', 'disr')."
    )


def _aligned_guide(guide: GuideLike, kelvin: xr.DataArray, guide_offset: Any, *, factor: int,
                   time_tolerance: Any, stored: xr.DataArray | None,
                   ) -> tuple[GuideLike, dict[str, Any]]:
    """The guide as :func:`xlstsr.guide.check_alignment` places it, and the record of what
    ``guide_offset`` did (:func:`_offset_record`): the shift measured and applied changes the
    output by several K, and the attributes did not say it (an "auto" run and an "ignore" one
    had the same provenance)."""
    guide, est = check_alignment(guide, kelvin, guide_offset, factor=factor,
                                 time_tolerance=time_tolerance, stored=stored,
                                 with_estimate=True)
    if isinstance(guide_offset, xr.Dataset):
        return guide, _offset_record("offset", guide_offset, est, kelvin, factor, guide)
    mode = guide_offset
    if mode is None:  # measure_offset's default: nothing read where a graph is built
        bands = (list(guide.values()) if isinstance(guide, Mapping) else
                 list(guide) if isinstance(guide, (list, tuple)) else [guide])
        lazy = any(isinstance(b.variable.data, dsa.Array) for b in [kelvin, *bands])
        mode = "not measured (lazy input)" if lazy else "auto"
    return guide, _offset_record(mode, guide_offset, est, kelvin, factor, guide)


def _flips(lst: xr.DataArray | xr.Dataset) -> tuple[bool, bool]:
    """Whether the user's array runs south-up (y) and east-to-west (x) by its written
    transform, which the front door turns north-up: (False, False) where none is written."""
    from rioxarray.exceptions import RioXarrayError

    try:
        t = lst.rio.transform(recalc=False)
    except (RioXarrayError, ValueError):  # none readable: a grid of coordinates, as it runs
        return False, False
    return bool(t.e > 0), bool(t.a < 0)


def _applied_shift(est: xr.Dataset, moved: GuideLike, kelvin: xr.DataArray,
                   ) -> tuple[float, float]:
    """The shift :func:`xlstsr.coregister.apply_offset` applied to the (first band of the)
    guide, in the LST's CRS: an offset estimated on another CRS (``est.attrs["crs"]``, e.g.
    EPSG:4326 degrees) was converted before it moved the guide, and its raw ``shift_x`` read in
    the LST's units said "+0.002182 m" of a guide moved by 175.6 m."""
    import json

    band = (next(iter(moved.values())) if isinstance(moved, Mapping) else
            moved[0] if isinstance(moved, (list, tuple)) else moved)
    raw = band.attrs.get("xlstsr_coregistration")
    if not isinstance(raw, str):  # not moved by apply_offset: the estimate as it is
        ok = np.atleast_1d(est["reliable"].values).astype(bool)
        sx, sy = (float(np.median(np.atleast_1d(est[v].values)[ok])) for v in ("shift_x",
                                                                                "shift_y"))
        return sx, sy
    rec = json.loads(raw)
    dx, dy = float(rec["applied_shift_x"]), float(rec["applied_shift_y"])  # the guide's CRS
    if band.rio.crs is None or band.rio.crs == kelvin.rio.crs:
        return dx, dy
    from pyproj import Transformer

    # the guide's move at its centre (as apply_offset converted it there), in the LST's axes
    gy, gx = spatial_dims(band)
    cx, cy = float(band[gx].mean()) - dx, float(band[gy].mean()) - dy
    to_lst = Transformer.from_crs(band.rio.crs, kelvin.rio.crs, always_xy=True)
    (x0, x1), (y0, y1) = to_lst.transform([cx, cx + dx], [cy, cy + dy])
    return x1 - x0, y1 - y0


def _offset_record(mode: str, given: Any, est: xr.Dataset | None, kelvin: xr.DataArray,
                   factor: int, moved: GuideLike) -> dict[str, Any]:
    """What ``guide_offset`` did, as the ``xlstsr_guide_offset`` attribute holds it: the mode
    run (``"offset"``: a Dataset given), the value given (``None``: the default), and where the
    guide was moved, the shift applied as :func:`xlstsr.coregister.apply_offset` applies it
    (the median of the reliable steps' ``shift_x``/``shift_y``, added to the guide's
    coordinates; as applied to ``moved``, the guide as moved: :func:`_applied_shift`)
    in the LST's CRS units and in output (fine) pixels."""
    record: dict[str, Any] = {
        "mode": mode,
        "given": given if given is None or isinstance(given, str) else "offset Dataset",
        "moved": est is not None,
    }
    if est is None:
        return record
    sx, sy = _applied_shift(est, moved, kelvin)
    crs = kelvin.rio.crs
    units = "deg" if crs.is_geographic else {"metre": "m"}.get(crs.linear_units,
                                                                 str(crs.linear_units))
    rx, ry = (abs(float(r)) / int(factor) for r in kelvin.rio.resolution())
    record.update({"shift_x": sx, "shift_y": sy, "units": units,
                   "shift_x_fine_px": round(sx / rx, 4), "shift_y_fine_px": round(sy / ry, 4)})
    return record


def _offset_history(record: Mapping[str, Any] | None) -> str:
    """The ``history`` words for guide_offset: the value given (the default, None, unnamed)
    and, where the guide was moved, by how much."""
    if not record or (record.get("given") is None and not record.get("moved")):
        return ""
    given = record.get("given")
    text = ("guide_offset=<offset Dataset>" if record.get("mode") == "offset" else
            f"guide_offset={given!r}" if given is not None else
            f"guide_offset=None, i.e. {record.get('mode')!r}")
    if record.get("moved"):
        text += (f" (guide moved by {record['shift_x']:+.4g}, {record['shift_y']:+.4g} "
                 f"{record['units']}: {record['shift_x_fine_px']:+.2f}, "
                 f"{record['shift_y_fine_px']:+.2f} fine px)")
    return text + ", "


def restate_guide_offset(attrs: Mapping[str, Any], mode: str, given: Any) -> dict[str, Any]:
    """``attrs`` of a result :func:`upscale` made with an offset its caller measured
    (``upscale_to_zarr`` passes an offset Dataset or ``"ignore"``), its ``xlstsr_guide_offset``
    record and ``history`` restated with the caller's ``mode`` and the user's ``given`` value:
    the store said "offset Dataset" or "'ignore'" for the default "auto" (review 38f). The
    shift recorded is kept."""
    import json

    out = dict(attrs)
    raw = out.get(GUIDE_OFFSET_ATTR)
    if not isinstance(raw, str):
        return out
    old = json.loads(raw)
    new = {**old, "mode": mode,
           "given": given if given is None or isinstance(given, str) else "offset Dataset"}
    out[GUIDE_OFFSET_ATTR] = json.dumps(new)
    history, was = out.get("history"), _offset_history(old)
    if isinstance(history, str) and was and history.count(was) == 1:
        out["history"] = history.replace(was, _offset_history(new))
    return out


def _stored_for_offset(lst: xr.DataArray, kelvin: xr.DataArray, guide_offset: Any,
                       ) -> xr.DataArray | None:
    """The LST as stored (georeferenced, not yet decoded) whose windows ``guide_offset="auto"``
    reads on a dask input (:func:`xlstsr.guide.check_alignment`'s ``stored``): decoded on their
    own, they are not read through ``kelvin``'s whole-image value checks, which computed every
    image of each window's chunks whole (and again for the step chosen). None where nothing is
    read while the graph is built (in memory, or another mode)."""
    if not (isinstance(guide_offset, str) and guide_offset == "auto"
            and isinstance(kelvin.variable.data, dsa.Array)):
        return None
    import warnings

    with warnings.catch_warnings():  # said by prepare_lst already
        warnings.simplefilter("ignore")
        return georeference(lst, "LST")


def _spatial_shape(lst: xr.DataArray, names: Mapping[Hashable, Any]) -> tuple[int, ...]:
    """The LST's (y, x) sizes, read from its dims before it is prepared (lat/lon ``names``
    renamed as upscale does); () when its spatial dims are not found (prepare_lst says why)."""
    try:
        da = lst.rename(names) if names else lst
        yd, xd = spatial_dims(da)
        return int(da.sizes[yd]), int(da.sizes[xd])
    except (XlstsrError, KeyError, ValueError):
        return ()


def _coarse_guide_warned(m: UpscaleMethod) -> UpscaleMethod:
    """``m`` for a call whose guide the alignment advised against (its pixels not finer than the
    LST's, :func:`xlstsr.grid.noting_coarse_guide`): a copy with ``_guide_warned_coarse`` set,
    so that a method that checks the guide's content (a guided sharpener: "constant within
    every LST pixel") does not give the same advice a second time. The caller's instance is
    left as it is; a method that declares no such attribute is returned unchanged."""
    if getattr(type(m), "_guide_warned_coarse", None) is not False:
        return m
    import copy

    m = copy.copy(m)
    m._guide_warned_coarse = True  # type: ignore[attr-defined]
    return m


def _correction_reads_guide(m: UpscaleMethod, mode: str | float | None) -> bool:
    """Whether ``scale_correction=mode`` reads the guide on ``m``'s output: the laws
    ``"auto"`` and ``"law"`` shift the LST law below its resolution with the guide
    (:func:`xlstsr.kernels.correction.fit_variance_law`); ``"law-lst"`` ignores it, a fixed gain
    fits no law, and bicubic's and nearest's outputs, with no detail of their own, are left as
    they are."""
    return mode in ("auto", "law") and type(m) not in (Bicubic, Nearest)


def adapted(m: UpscaleMethod, adapt: bool | Mapping[str, Any] | None) -> UpscaleMethod:
    """The method with test-time adaptation (``adapt=`` of :func:`upscale`), or as it is for
    None / False; a method that cannot adapt, or bad settings, refused."""
    if isinstance(adapt, np.bool_):  # a flag read from an array or table: refused as "bool"
        adapt = bool(adapt)
    if adapt is None or adapt is False:
        return m
    with_adaptation = getattr(m, "with_adaptation", None)
    if with_adaptation is None:
        raise XlstsrError(
            f"method {m.recorded_name()!r} cannot adapt to the scene (adapt=...): test-time "
            "adaptation fine-tunes a torch model; use method='sisr', 'disr' or a torch model."
        )
    try:
        return with_adaptation(adapt)
    except (TypeError, ValueError) as err:
        raise XlstsrError(f"bad adapt= settings: {err}") from err


def _warn_lst_temperature(m: UpscaleMethod, data: Any) -> Any:
    """Warn when the LST lies far outside the temperatures a model was trained on and its
    output depends on them (:func:`~xlstsr.methods.torch_model.lst_range_message`: the default
    disr at a 340 K scene mean, -2.7 K bias, without a word). In memory: checked now. Dask:
    each block is checked as it is computed (nothing is read while the graph is built), with
    one warning per call at most (per process); returns ``data`` (for dask, the same values
    through the check)."""
    norm = getattr(m, "lst_normalisation", None)
    if norm is None or getattr(m, "conserve", False) or getattr(m, "adapt", None) is not None:
        return data  # conserve=True removes the bias (the advice); adapt= fits the scene
    from .methods.torch_model import lst_range_message

    said = partial(lst_range_message, norm=norm, dep=getattr(m, "temperature_dependence", None),
                   name=getattr(m, "name", "torch"))
    if not isinstance(data, dsa.Array):
        message = said(data)
        if message:
            warn(message, UserWarning)
        return data
    return data.map_blocks(_lst_range_block, said=said, warned=[], dtype=data.dtype,
                           meta=np.empty((0,) * data.ndim, data.dtype))


def _lst_range_block(block: np.ndarray, said: Any, warned: list[bool],
                     block_info: Any = None) -> np.ndarray:
    """One block of :func:`_warn_lst_temperature`'s check, passed through (``warned``: shared by
    the call's blocks in one process, so that one warning is given). The message names the
    block it was decided on: its median is that block's, not the LST's (the chunking decides
    whether a scene near the limit is warned of; the whole cube is never read at once)."""
    if not warned:
        message = said(block)
        if message and not warned:
            warned.append(True)
            warn(_block_message(message, block_info), UserWarning)
    return block


def _block_message(message: str, block_info: Any) -> str:
    """:func:`lst_range_message`'s text for one dask block at ``block_info``'s location: 'the
    LST's median' made that block's (its steps and its y, x offsets in the stacked LST)."""
    # dask's map_blocks gives {0: {"array-location": [(start, stop), ...], ...}, None: {...}}
    first = block_info.get(0) if isinstance(block_info, dict) else None
    loc = first.get("array-location") if isinstance(first, dict) else None
    if loc and len(loc) >= 3:
        (t0, t1), (y0, y1), (x0, x1) = loc[-3], loc[-2], loc[-1]
        steps = f"step {t0}" if t1 - t0 == 1 else f"steps {t0}-{t1 - 1}"
        where = f" ({steps}, y {y0}:{y1}, x {x0}:{x1})"
    else:
        where = ""
    block = (f"the median of one dask block of the LST{where} (checked block by block as "
             "they are computed; other blocks, and the whole LST, may lie within the range)")
    if "the LST's median" in message:
        return message.replace("the LST's median", block, 1)
    return f"{message} (decided on {block})"


def _warn_guide_gaps(gdata: Any, data: Any, lead: Sequence[Hashable] = ("time",)) -> None:
    """Say which steps run without guidance: a guide band with no valid pixel, or one value on
    all its valid pixels, on a step whose LST has some (a daily NDVI all cloud on a clear LST
    day: disr ran from a constant fill, up to 9 K off its guided result, without a word). In
    memory; on dask inputs the engine's tasks judge each step as it is computed
    (:func:`_guide_watch`). A step cloudy in both is NaN anyway. ``lead``: the LST's leading
    dims (the first names the dates in the advice)."""
    if isinstance(gdata, dsa.Array) or isinstance(data, dsa.Array):
        return
    g = np.asarray(gdata)
    if g.ndim != 4 or g.shape[0] < 2:  # a static guide with no valid pixel is refused
        return
    lst = np.asarray(data).reshape(-1, *np.shape(data)[-2:])
    if lst.shape[0] != g.shape[0]:
        return
    stats = guide_step_stats(lst, g, None, 1)
    _warn_guide_steps(None, stats, np.arange(g.shape[0]), g.shape[0], lead, factor=1,
                      static=False, gaps=True, constant=False)


def _warn_guide_steps(m: UpscaleMethod | None, stats: Mapping[str, np.ndarray], steps: Any,
                      n: int, lead: Sequence[Hashable], *, factor: int, static: bool,
                      gaps: bool, constant: bool, said: set[str] | None = None) -> None:
    """The warnings of :func:`_warn_guide_gaps` (``gaps``) and :func:`_warn_guide_constant_fill`
    (``constant``, ``m``'s) from per-step summaries (:func:`xlstsr.engine.blocks.guide_step_stats`)
    of the steps numbered ``steps`` of ``n`` at ``factor``; ``static``: one guide for every
    step (its empty band was refused, and one value of it is the guide's own check's).
    ``said``: the kinds of warning a lazy run gave already (step by step, each kind is said
    for its first step only: a year of daily steps under one gappy guide gave 365 warnings)."""
    steps = np.asarray(steps)
    later = "" if said is None else (" (said for the first such step this run computes; "
                                     "later steps like it are not named)")

    def first(kind: str) -> bool:
        if said is None:
            return True
        if kind in said:
            return False
        said.add(kind)
        return True

    ok, has_lst = stats["ok"], stats["has_lst"]
    empty = ~ok.all(axis=1)  # a band without a valid pixel
    if gaps and not static:
        # a band of one value (a fill read as data on that date) guides no more than an empty one
        flat = ((stats["hi"] == stats["lo"]) & np.isfinite(stats["hi"])).all(axis=1)
        at = empty & has_lst
        if at.any() and first("empty"):
            sel = steps[at]
            # another band with data on the same steps: bands on different dates, not cloud (a
            # Dataset of a 16-day NDVI and an 8-day albedo merged on the union of their dates)
            other = ok.any(axis=1)[at].any()
            dim = str(lead[0]) if lead else "time"
            warn(
                f"a guide band holds no valid pixel at step(s) {sel[:8].tolist()}"
                f"{' ...' if sel.size > 8 else ''} of {n} where the LST has data (all "
                "cloud?): guided methods run there without guidance (a constant fill or their "
                "bicubic fallback), up to several K from a guided result. "
                # (only where the method may not conserve: tsharp, dms and disr with
                # conserve=True keep each coarse pixel's radiance already)
                + ("" if getattr(m, "conserve", False) else
                   "A method that does not conserve (disr by default) keeps each coarse "
                   "pixel's radiance there with method_options={'conserve': True}; or drop "
                   "those dates, ")
                + ("Drop those dates, " if getattr(m, "conserve", False) else "")
                + f"or give a composite guide matched with guide_time_tolerance{later}."
                + (" Another band has data there: if the bands are on different dates (a Dataset "
                   "merged on the union of their dates, each band NaN on the other's), pass each "
                   "band on its own dates as a dict, with guide_time_tolerance (each band is then "
                   f"matched to the LST's dates on its own): `guide={{k: ds[k].dropna({dim!r}, "
                   "how='all') for k in ds}`." if other else ""),
                UserWarning,
            )
        at = flat & ~empty & has_lst
        if at.any() and first("flat"):
            sel = steps[at]
            warn(
                f"a guide band holds one value over all its valid pixels at step(s) "
                f"{sel[:8].tolist()}{' ...' if sel.size > 8 else ''} of {n} (a fill "
                "read as data, or a band cast to integers?): guided methods run there without "
                "guidance. Declare the fill (guide.attrs['_FillValue'] = value), drop those "
                f"dates, or give a composite guide matched with guide_time_tolerance{later}.",
                UserWarning,
            )
    if not constant or m is None:
        return
    under, total = stats["under"], stats["total"]
    share = under / np.maximum(total, 1)
    # a static guide with an empty band is refused before; a step with one is said above
    at = (share > GUIDE_CONSTANT_WARN) & (total > 0) & (True if static else ~empty)
    if not at.any() or not first("constant"):
        return
    sel = steps[at]
    worst = float(share[at].max())
    where = ("" if n == 1 else f" at step(s) {sel[:8].tolist()}"
             f"{' ...' if sel.size > 8 else ''} of {n}")
    value = getattr(m, "guide_fill_value", None)
    radius = getattr(m, "guide_fill_radius", lambda _f: None)(int(factor))
    warn(
        f"method {m.recorded_name()!r}: {'up to ' if sel.size > 1 else ''}{worst:.0%} of the "
        f"guide under the LST's clear pixels is missing{where}, beyond the reach of the model's "
        f"local gap filling ({radius} fine pixels): the model gets a constant there "
        f"(its guide_fill_value{f', {value:g}' if value is not None else ''}) and runs as if "
        "guided, typically worse than bicubic (a MODIS/ASTER pair with 95 % of its NDVI "
        "missing: RMSE 2.70 K, bicubic 2.42 K, the whole NDVI 2.18 K). Give a guide without "
        "large gaps (a composite of several dates, e.g. a 16-day NDVI matched with "
        f"guide_time_tolerance='15D'), or use method='sisr', which needs no guide{later}.",
        UserWarning,
    )


#: share of the guide under the clear LST that a gap-filling model may get as a constant before
#: :func:`upscale` warns. On MODIS/ASTER pairs 044 and 002 (disr, the NDVI's top rows set to NaN)
#: the RMSE against ASTER grew about in proportion to that share: at 25 % pair 044 had lost 40 %
#: of disr's 0.24 K gain over bicubic (2.27 K; the whole NDVI 2.18 K, bicubic 2.42 K), from
#: about 50 % it was worse than bicubic, at 95 % 2.70 K; scattered gaps within the filling's
#: reach (NDVI speckle, up to 60 % of the pixels) cost at most 0.04 K, so they do not count.
GUIDE_CONSTANT_WARN = 0.25


def _warn_guide_constant_fill(m: UpscaleMethod, gdata: Any, data: Any, factor: int) -> None:
    """Warn when a model fills much of its guide under the clear LST with a constant: gaps
    beyond its local gap filling's reach (a cloud-masked daily NDVI) get its
    ``guide_fill_value`` and the model runs as if guided, from nothing (RMSE worse than bicubic,
    without a word). Share per step, over the fine pixels of clear coarse pixels; more than
    :data:`GUIDE_CONSTANT_WARN` warns. Steps whose guide band is empty are
    :func:`_warn_guide_gaps`'s. In memory; on dask inputs the engine's tasks judge each step as
    it is computed (:func:`_guide_watch`)."""
    mask_of = getattr(m, "guide_constant_mask", None)
    if mask_of is None or isinstance(gdata, dsa.Array) or isinstance(data, dsa.Array):
        return
    g = np.asarray(gdata)
    lst = np.asarray(data)
    f = int(factor)
    if g.ndim != 4 or lst.ndim != 3 or g.shape[0] not in (1, lst.shape[0]) \
            or g.shape[2:] != (lst.shape[1] * f, lst.shape[2] * f):
        return
    far = mask_of(g, f)
    if far is None or not far.any():
        return
    _warn_guide_steps(m, guide_step_stats(lst, g, far, f), np.arange(lst.shape[0]),
                      lst.shape[0], (), factor=f, static=g.shape[0] == 1, gaps=False,
                      constant=True)


def _guide_watch(m: UpscaleMethod, gdata: Any, data: Any, factor: int,
                 lead: Sequence[Hashable]) -> GuideWatch | None:
    """On a dask input with a guide, the engine's :class:`~xlstsr.engine.blocks.GuideWatch`
    that gives :func:`_warn_guide_gaps`'s and :func:`_warn_guide_constant_fill`'s warnings step
    by step, as each step's last tile is computed (read while the graph is built, a lazy run
    read the whole guide): each kind of warning for the first step that calls for it, with
    dask's threads or sync scheduler (under a dask.distributed client, nothing is said). None
    in memory (said now)."""
    if gdata is None or not (isinstance(gdata, dsa.Array) or isinstance(data, dsa.Array)):
        return None
    n, static = int(data.shape[0]), int(gdata.shape[0]) == 1
    constant = getattr(m, "guide_constant_mask", None) is not None
    return GuideWatch(partial(_report_guide_step, m, n=n, factor=int(factor), lead=tuple(lead),
                              static=static, constant=constant, said=set()))


def _report_guide_step(m: UpscaleMethod, step: int, stats: Mapping[str, np.ndarray], *, n: int,
                       factor: int, lead: Sequence[Hashable], static: bool,
                       constant: bool, said: set[str]) -> None:
    """:func:`_guide_watch`'s report of one step (its index ``step`` of ``n``)."""
    _warn_guide_steps(m, stats, [step], n, lead, factor=factor, static=static, gaps=True,
                      constant=constant, said=said)


def _warn_dropped_coords(kelvin: xr.DataArray, back: Mapping[Hashable, Hashable]) -> None:
    """Warn, naming them and how to have them on the output grid, of the LST's coordinates
    along its spatial dims other than the dims' own (2-D ``lat(y, x)``/``lon(y, x)``, a 1-D
    ``row(y)``): they hold the coarse grid's values, which the output cannot keep, and they
    were dropped without a word (1-D and scalar coordinates of other dims are kept).
    ``back``: the user's names of dims renamed ``y``/``x``."""
    ydim, xdim = spatial_dims(kelvin)
    dropped = [k for k, v in kelvin.coords.items()
               if k not in (ydim, xdim) and (ydim in v.dims or xdim in v.dims)]
    if not dropped:
        return
    y, x = (str(back.get(d, d)) for d in (ydim, xdim))
    first = dropped[0]
    on = ", ".join(f"{back.get(d, d)}=sr[{str(back.get(d, d))!r}]"
                   for d in kelvin[first].dims if d in (ydim, xdim))
    geo = [str(k).lower() for k in dropped]
    lonlat = (any(k in _LAT_NAMES for k in geo) and any(k in _LON_NAMES for k in geo))
    lat_name = next(k for k in dropped if str(k).lower() in _LAT_NAMES) if lonlat else None
    lon_name = next(k for k in dropped if str(k).lower() in _LON_NAMES) if lonlat else None
    warn(
        f"upscale drops the LST's coordinate(s) {[str(k) for k in dropped]} along its "
        f"'{y}'/'{x}' dims: they hold the input grid's values, not the output's. Recompute "
        "them on the result (`sr` below; `lst`, the LST given)"
        + (f": {lon_name}/{lat_name} from its CRS, `from pyproj import Transformer; lon, lat = "
           "Transformer.from_crs(sr.rio.crs, 'EPSG:4326', always_xy=True).transform("
           f"*np.meshgrid(sr[{x!r}], sr[{y!r}])); sr = sr.assign_coords({lon_name}=(({y!r}, "
           f"{x!r}), lon), {lat_name}=(({y!r}, {x!r}), lat))`, or any of them by interpolation"
           if lonlat else " by interpolation")
        + f", `sr = sr.assign_coords({first}=lst[{str(first)!r}].reset_coords(drop=True)."
        f"interp({on}, kwargs={{'fill_value': 'extrapolate'}}))`.",
        UserWarning,
    )


def _any_lazy(*objs: Any) -> bool:
    """Whether any of the DataArrays / Datasets (or lists / dicts of them) holds dask data."""
    for o in objs:
        if isinstance(o, Mapping) and not isinstance(o, xr.Dataset):
            if _any_lazy(*o.values()):
                return True
        elif isinstance(o, (list, tuple)):
            if _any_lazy(*o):
                return True
        elif isinstance(o, xr.Dataset):
            if any(isinstance(v.data, dsa.Array) for v in o.data_vars.values()):
                return True
        elif isinstance(o, xr.DataArray) and isinstance(o.data, dsa.Array):
            return True
    return False


def _check_tile(tile: Any) -> None:
    """Refuse a tile that is not "auto", None or a positive whole number of coarse pixels (the
    engine would raise a bare ValueError, or take 2.5 or True as 2 or 1)."""
    if tile is None or (isinstance(tile, str) and tile == "auto"):
        return
    if isinstance(tile, bool) or not isinstance(tile, (int, np.integer)) or tile < 1:
        raise GridError(
            f"tile must be 'auto', None or a positive whole number of coarse pixels (e.g. 256), "
            f"got {tile!r}"
        )


def provenance_attrs(
    kept: Mapping[Hashable, Any],
    method: UpscaleMethod,
    factor: int,
    scale_correction: str | float | None,
    *,
    history: Any = None,
    guide_offset: Mapping[str, Any] | None = None,
) -> dict[str, Any]:
    """Attributes of an upscaled field: ``kept`` input attributes, CF, provenance (JSON values).

    Every value is a string or a number, so that Zarr, NetCDF and GeoTIFF writers keep them;
    ``xlstsr_options`` is JSON (``json.loads`` gives the method's options back).
    ``guide_offset``: what the guide's offset check did (a guided run), kept as JSON in
    ``xlstsr_guide_offset`` and named in ``history`` when not the default or when the guide
    was moved. ``long_name`` is 'land surface temperature (super-resolved)'; the input's own
    one (text) is kept as ``source_long_name`` (absent when the input has none).

    Examples
    --------
    >>> import json
    >>> from xlstsr.methods import get_method
    >>> a = provenance_attrs({"source": "MOD11A1", "scale_factor": 0.02}, get_method("dms"), 4, None)
    >>> a["source"], "scale_factor" in a, json.loads(a["xlstsr_options"])["gain"] > 0
    ('MOD11A1', False, True)
    >>> b = provenance_attrs({"long_name": "MOD11A1 nighttime LST"}, get_method("dms"), 4, None)
    >>> b["long_name"], b["source_long_name"]
    ('land surface temperature (super-resolved)', 'MOD11A1 nighttime LST')
    """
    import json

    options = json.dumps(method.describe(), sort_keys=True, default=repr)
    # an unregistered class (name "") or a variant of a built-in (a subclass of Bicubic) is
    # recorded by its qualified name, not as nothing or as the built-in
    name = method.recorded_name()
    # the input's grid (a reader's ``resolution_m=280``, ACDD's ``geospatial_lat_resolution``,
    # a legacy ``transform`` rioxarray falls back to) is not the upscaled field's
    # (an input's own xlstsr_guide_offset, from an earlier run, is not this run's)
    attrs = {str(k): v for k, v in kept.items()
             if not storage_attr(k) and not grid_attr(k) and str(k) != GUIDE_OFFSET_ATTR}
    attrs.update({
        "standard_name": "surface_temperature",
        "long_name": SR_LONG_NAME,
        "units": "K",
        "xlstsr_method": name,
        "xlstsr_factor": int(factor),
        "xlstsr_version": __version__,
        "xlstsr_options": options,
        "xlstsr_scale_correction": str(scale_correction).lower(),
        "history": (str(history) + "\n" if history else "")
        + f"xlstsr {__version__}: upscale(factor={factor}, method={name!r}, "
        # the correction moves values by several K: a history without it remade another field
        + ("" if scale_correction is None else f"scale_correction={scale_correction!r}, ")
        # the guide moved by a measured offset changes the output by several K
        + _offset_history(guide_offset)
        + f"options={options})",
    })
    attrs.pop("source_long_name", None)  # an earlier one, or a non-text one: set below
    source = source_long_name(kept)
    if source is not None:
        attrs["source_long_name"] = source
    if guide_offset is not None:
        attrs[GUIDE_OFFSET_ATTR] = json.dumps(dict(guide_offset))
    return attrs

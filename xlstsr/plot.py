"""Figures (matplotlib, no display needed): maps of super-resolution results, log-log figures of
:func:`xlstsr.scaling_stats` output. The user's matplotlib backend is never switched: figures
that need no display are drawn on a :class:`matplotlib.figure.Figure` of their own.

- :func:`comparison`: side-by-side maps of the input, results, truth and error;
- :func:`truth_maps`: results against fine truth on another grid (another sensor): maps and
  error maps on the truth's grid, with scores in the titles;
- :func:`scaling`: the panels of one ``scaling_stats`` result;
- :func:`compare`: several ``scaling_stats`` results on shared axes in metres.
"""

from __future__ import annotations

from collections.abc import Iterator, Mapping
from contextlib import contextmanager
from pathlib import Path
from typing import Any

import numpy as np
import pandas as pd
import xarray as xr
from affine import Affine

from .errors import (
    AllNaNError,
    GridError,
    InputTypeError,
    PhysicalRangeError,
    UndeclaredFillError,
    XlstsrError,
)
from .grid import same_axis
from .validate import decoded_label, north_up_flips, require_latlon_crs, spatial_names

__all__ = ["compare", "comparison", "scaling", "truth_maps"]

#: file suffixes a figure may be written to (matplotlib's formats, rasters such as .tif left out:
#: a figure must never land on an LST raster)
FIGURE_SUFFIXES = (".png", ".pdf", ".svg", ".jpg", ".jpeg", ".eps", ".ps", ".webp")

#: variables a :func:`xlstsr.scaling_stats` result holds that the figures draw
_STATS_VARS = ("structure_function", "power_spectrum", "within_block_variance")


def _subplots(headless: bool, nrows: int, ncols: int, *, squeeze: bool = True,
              **fig_kw: Any) -> tuple[Any, Any]:
    """A new figure and its axes (matplotlib, an optional dependency, imported lazily).

    ``headless``: a :class:`matplotlib.figure.Figure` with its own canvas, outside pyplot, so
    the user's backend is never touched (``matplotlib.use("Agg", force=False)`` switched a
    notebook's or Qt session's backend to Agg for good) and figures drawn in a loop are freed
    with their last reference; it is saved with ``fig.savefig`` and shown by notebooks.
    Otherwise ``pyplot.subplots`` on whatever backend the user has (``plt.show()`` shows it).
    """
    if headless:
        from matplotlib.figure import Figure

        fig = Figure(**fig_kw)
        return fig, fig.subplots(nrows, ncols, squeeze=squeeze)
    import matplotlib.pyplot as plt

    return plt.subplots(nrows, ncols, squeeze=squeeze, **fig_kw)


def _load(arrays: list[xr.DataArray]) -> list[xr.DataArray]:
    """The arrays in memory, lazy (dask) ones computed together in one pass: each ``.values``
    computed them again (a lazy model result ran three times for one figure, a lazily read
    truth was read twice). A lazy truth refused as it is computed is told the attrs to set on
    ``truth`` as one in memory is: :func:`_decoded` fixes that advice in the graph."""
    if not any(a.chunks is not None for a in arrays):
        return arrays
    import dask

    return list(dask.compute(*arrays))


def _step(da: xr.DataArray, index: dict[str, int]) -> str:
    """The step of ``da`` a map shows (``" at time=0"``), for messages."""
    lead = [d for d in da.dims if d not in (da.rio.y_dim, da.rio.x_dim)]
    return f" at {', '.join(f'{d}={index.get(d, 0)}' for d in lead)}" if lead else ""


def _yx(da: xr.DataArray, what: str, *,
        need_crs: bool = False) -> tuple[xr.DataArray, dict[Any, Any]]:
    """``da`` with lat/lon-named dims (or dims declared with ``rio.set_spatial_dims``) renamed
    ``y``/``x``, as the entry points rename them (:func:`xlstsr.validate.georeference`): a
    lat/lon cube that upscale takes, and upscale's own result, were refused "rename them
    first"; and the way back (``{"y": "lat", "x": "lon"}``), for messages and advice in the
    user's names (``coarse.sel(x=...)`` failed on a (time, lat, lon) array).

    ``need_crs``: lat/lon dims without a CRS refused naming EPSG:4326, where the fields are
    reprojected (:func:`truth_maps`); maps drawn side by side need no CRS (:func:`comparison`
    drew latitude/longitude fields without one)."""
    names = spatial_names(da)
    if not names:
        return da, {}
    if need_crs:
        require_latlon_crs(da, what)
    return da.rename(names), {v: k for k, v in names.items()}


def _users(dims: Any, back: Mapping[Any, Any]) -> tuple[Any, ...]:
    """``dims`` in the user's names (``back``: from :func:`_yx`)."""
    return tuple(back.get(d, d) for d in dims)


def _is_date(v: Any) -> bool:
    """Whether ``v`` (a label) is a date: numpy's datetime64 or a cftime date (a noleap or
    360-day calendar)."""
    if np.asarray(v).dtype.kind == "M":
        return True
    try:
        import cftime
    except ImportError:  # pragma: no cover - cftime comes with xarray's time decoding
        return False
    return isinstance(v, cftime.datetime)


def _date_text(v: Any) -> str:
    """A label for a title: a date as YYYY-MM-DD, with the time of day when it has one
    (datetime64 and cftime alike: a cftime date read '2020-07-03 00:00:00'); a missing date
    (NaT) as ``no date (NaT)``; others as they are."""
    if np.asarray(v).dtype.kind == "M":
        t = pd.Timestamp(v)
        if t is pd.NaT:  # a date that failed to decode (a CF fill): NaT has no normalize()
            return "no date (NaT)"
        return t.strftime("%Y-%m-%d") if t == t.normalize() else t.strftime("%Y-%m-%d %H:%M")
    if _is_date(v):
        day = (v.hour, v.minute, v.second, getattr(v, "microsecond", 0)) == (0, 0, 0, 0)
        return v.strftime("%Y-%m-%d" if day else "%Y-%m-%d %H:%M")
    return str(v.item() if hasattr(v, "item") else v)


def _is_date_coord(da: xr.DataArray | xr.Dataset, name: Any) -> bool:
    """Whether the coordinate ``name`` of ``da`` holds dates."""
    if name not in da.coords or not da[name].size:
        return False
    return _is_date(da[name].values.flat[0]) if da[name].dtype.kind == "O" else (
        da[name].dtype.kind == "M")


def _label(da: xr.DataArray | xr.Dataset, dim: Any, i: int) -> str:
    """The label of step ``i`` along ``dim`` (or of the scalar coordinate ``dim``) for a title:
    a date as YYYY-MM-DD (with the time of day when it has one), other labels as they are, the
    position without a coordinate."""
    if dim not in da.coords:
        return str(i)
    c = da[dim]
    if c.ndim == 0:
        return _date_text(c.values[()])
    if c.ndim != 1 or not c.size:
        return str(i)
    return _date_text(c.values[i])


def _steps_drawn(arrays: list[xr.DataArray] | list[xr.Dataset], index: Mapping[Any, int],
                 skip: Any = None) -> list[str]:
    """``dim=label`` of each step a figure shows, once per name: each leading dim (time...)
    of ``arrays`` at the step drawn (``index``, default the first), a dim of one step only
    when its labels are dates (a raster's ``band=1`` says nothing), and each scalar coordinate
    holding a date (a field of one date, ``isel(time=1)``). ``skip``: the dims that are not
    steps (default: each array's spatial dims). The one rule of every figure's title."""
    out: dict[Any, str] = {}
    for da in arrays:
        not_steps = skip if skip is not None else (da.rio.y_dim, da.rio.x_dim)
        for d in da.dims:
            if d in out or d in not_steps:
                continue
            n = da.sizes[d]
            if n > 1 or (n == 1 and _is_date_coord(da, d)):
                i = int(index.get(d, 0)) % n
                out[d] = f"{d}={_label(da, d, i)}{_overpass_drawn(da, (d,), i)}"
        for c in da.coords:
            if c not in out and c not in da.dims and da[c].ndim == 0 and _is_date_coord(da, c):
                out[c] = f"{c}={_label(da, c, 0)}{_overpass_drawn(da, (), 0)}"
    return list(out.values())


def _overpass_drawn(da: xr.DataArray | xr.Dataset, dims: tuple, i: int) -> str:
    """`` (night)``: the overpass of the step drawn (an ``overpass`` or ``day_night``
    coordinate along ``dims``, or a scalar one), else ''; the day and the night
    figure of one date (a day+night series) carried the same title."""
    for name in ("overpass", "day_night"):
        c = da.coords.get(name)
        if c is not None and c.dims in (dims, ()) and name not in dims:
            # (a scalar one: a night series' every step, drawn along time)
            v = decoded_label(c.values[i] if c.dims else c.values[()])
            return f" ({str(v).strip()})"
    return ""


def _titled(title: str | None, steps: list[str]) -> str | None:
    """The suptitle: the user's ``title`` and the step drawn (``time=2020-07-03``), which no
    panel named: the figures of two dates carried the same text."""
    step = ", ".join(steps)
    if not step:
        return title or None
    return f"{title} ({step})" if title else step


def _check_path(path: str | Path | None, create: bool = True) -> Path | None:
    """The figure's path, checked before anything is drawn: a figure format's suffix (a .tif or
    .nc path was written over, or refused by matplotlib after the drawing), not a folder; missing
    parent folders are created (``create``). The figures check with ``create=False`` and
    :func:`_finish` makes the folders once the figure is drawn: a refused call (an input of
    the wrong type, an empty map) left empty folders behind. A ``file://`` URL is its local
    path; another URL (``s3://``, ``gs://``, ``https://``) is refused: figures are saved to
    local files (``Path`` made ``s3://b/f.png`` a local ``s3:/b/f.png``)."""
    if path is None:
        return None
    if not isinstance(path, (str, Path)):
        raise InputTypeError(f"path must be a file path (e.g. 'figure.png'), got {type(path).__name__}")
    from .io.zarr import file_uri_path

    local = file_uri_path(path)  # raises for another host's file URL
    if local is None and "://" in str(path):
        name = Path(str(path).split("://", 1)[1]).name or "figure.png"
        raise XlstsrError(
            f"the figure path {str(path)!r} is a URL: figures are saved to local files only; "
            f"save it to a local path (e.g. {name!r}), then copy it there (e.g. `aws s3 cp`, "
            "`gsutil cp`, or fsspec's `put_file`)"
        )
    # "~" expanded as the writers of data do (it was a folder named "~")
    p = (local if local is not None else Path(path)).expanduser()
    if p.is_dir():
        raise XlstsrError(f"path {str(p)!r} is a folder: give the figure's file name, e.g. "
                          f"{str(p / 'figure.png')!r}")
    if p.suffix.lower() not in FIGURE_SUFFIXES:
        what = "has no suffix" if not p.suffix else f"ends with {p.suffix!r}"
        raise XlstsrError(
            f"the figure path {str(p)!r} {what}: write figures to {', '.join(FIGURE_SUFFIXES)} "
            "(a raster or data suffix would put a picture where data is expected, or over it)"
        )
    blocked = next((q for q in [p.parent, *p.parent.parents] if q.exists() and not q.is_dir()),
                   None)
    if blocked is not None:  # mkdir's raw FileExistsError
        raise XlstsrError(f"the figure path {str(p)!r} cannot be made: {str(blocked)!r} is a "
                          "file, not a folder. Choose a path in a folder.")
    if create:
        p.parent.mkdir(parents=True, exist_ok=True)
    return p


def _finish(fig: Any, path: str | Path | None) -> Any:
    """Save the figure to ``path`` (110 dpi), its missing parent folders made now that the
    inputs are checked, and, if pyplot manages it, close it. A file at ``path`` is replaced; a
    symbolic link there is replaced itself, as the other outputs replace theirs: savefig wrote
    through it, over the file it pointed to (a user's own file outside the output path)."""
    if path is not None:
        Path(path).parent.mkdir(parents=True, exist_ok=True)
        if Path(path).is_symlink():
            Path(path).unlink()
        fig.savefig(path, dpi=110)
        if getattr(fig.canvas, "manager", None) is not None:  # a pyplot figure (not headless)
            import matplotlib.pyplot as plt

            plt.close(fig)
    return fig


def _need_dataarray(name: str, value: Any) -> xr.DataArray:
    if not isinstance(value, xr.DataArray):
        hint = " (pick its variable, e.g. ds['LST'])" if isinstance(value, xr.Dataset) else ""
        raise InputTypeError(f"{name} must be an xarray DataArray, got {type(value).__name__}"
                             f"{hint}")
    return value


def _need_stats(name: str, value: Any) -> xr.Dataset:
    if not isinstance(value, xr.Dataset) or not all(v in value for v in _STATS_VARS):
        raise InputTypeError(
            f"{name} must be the Dataset xlstsr.scaling_stats returns (with "
            f"{', '.join(_STATS_VARS)}), got {type(value).__name__}: compute it first, e.g. "
            "`xlstsr.scaling_stats(lst)`"
        )
    return value


def _check_reduce(reduce: Any) -> None:
    if reduce not in ("median", "mean", None):
        raise XlstsrError(f"reduce must be 'median', 'mean' or None (the first index), got {reduce!r}")


def _check_index(index: dict[str, int], arrays: list[xr.DataArray],
                 backs: list[Mapping[Any, Any]] | None = None) -> None:
    """Each key a dim of some array, each value a position inside it (a typo was ignored, a
    position past the end raised xarray's IndexError, a date was read as a position); a map
    axis refused (``index={'y': 0}`` raised rioxarray's bare MissingSpatialDimensionError).
    ``backs``: each array's way back to the user's dim names (:func:`_yx`), in which the keys
    are read and the dims listed (``index={'lat': 0}`` was refused as no dim of maps of
    dims ['time', 'x', 'y'])."""
    if not isinstance(index, Mapping):
        raise InputTypeError(f"index must be a dict such as {{'time': 0}}, got {type(index).__name__}")
    backs = backs if backs is not None else [{} for _ in arrays]
    axes = {back.get(d, d) for a, back in zip(arrays, backs) for d in (a.rio.y_dim, a.rio.x_dim)}
    for dim, i in index.items():
        if dim in axes:
            steps = sorted({str(back.get(d, d)) for a, back in zip(arrays, backs) for d in a.dims
                            if d not in (a.rio.y_dim, a.rio.x_dim)})
            raise XlstsrError(
                f"index picks steps such as time; {dim!r} is a map axis, drawn whole "
                f"(the maps' steps: {steps or 'none'}): drop it from index, or crop the fields "
                f"first (e.g. `da.isel({dim}=slice(0, 100))`)")
        sizes = [a.sizes[d] for a, back in zip(arrays, backs) for d in a.dims
                 if back.get(d, d) == dim]
        if not sizes:
            raise XlstsrError(f"index names dim {dim!r}, which none of the maps has (their dims: "
                              f"{sorted({str(back.get(d, d)) for a, back in zip(arrays, backs) for d in a.dims})})")
        if isinstance(i, bool) or not isinstance(i, (int, np.integer)) or not -min(sizes) <= i < min(sizes):
            raise XlstsrError(f"index {dim}={i!r} must be a position 0..{min(sizes) - 1} along "
                              f"{dim!r} (for a label, use its position, e.g. "
                              f"`int(da.indexes[{dim!r}].get_loc(label))`)")


def _north_up_order(da: xr.DataArray) -> xr.DataArray:
    """``da`` with its y labels descending and x ascending, by exact reversal of the axes that
    run the other way (no resampling): a south-up input (a NetCDF's ascending latitude) was
    drawn upside down beside upscale's north-up result, and subtracted from it mirrored."""
    flip = north_up_flips(da, da.rio.y_dim, da.rio.x_dim)
    return da.isel(flip) if flip else da


@contextmanager
def _in_step_drawn(steps: list[str]) -> Iterator[None]:
    """Refusals of the values of a field's step drawn (an undeclared fill, values out of the
    physical range) with that step named: "covers 23% of the valid pixels of an image" did not
    say which, and a user drawing another date was told that *its* figure held a fill."""
    try:
        yield
    except (UndeclaredFillError, PhysicalRangeError) as err:
        text = str(err)
        if not steps or " of an image" not in text:
            raise
        raise type(err)(text.replace(" of an image", f" of the image drawn ({', '.join(steps)})",
                                     1)) from None


def _image(da: xr.DataArray, index: dict[str, int]) -> xr.DataArray:
    sel = {d: i for d, i in index.items() if d in da.dims}
    da = da.isel(sel)
    extra = [d for d in da.dims if d not in (da.rio.y_dim, da.rio.x_dim)]
    # (y, x) whatever the order of the dims: a (time, x, y) result was drawn transposed and
    # subtracted from the (y, x) truth; north-up, as imshow draws row 0 at the top
    return _north_up_order(da.isel({d: 0 for d in extra}).transpose(da.rio.y_dim, da.rio.x_dim))


def _decoded(truth: xr.DataArray) -> xr.DataArray:
    """The truth in Kelvin as :func:`xlstsr.evaluate` decodes it (Celsius labelled ``degC``,
    scaled integers with their attrs, a declared fill): an error map of degrees Celsius or of
    digital numbers against Kelvin was drawn without a word; undecodable values are refused,
    scaled integers told the attrs to set on ``truth`` (the figures take no evaluate's
    ``reference_scale``: its advice raised a TypeError). Values outside
    :data:`~xlstsr.validate.PHYSICAL_RANGE_K` are NaN, as evaluate never scores them (a hand-
    decoded Landsat fill, 149 K, set the error maps' limit to +-145 K)."""
    from .evaluate import decode_reference
    from .validate import PHYSICAL_RANGE_K

    out = decode_reference(truth, attrs_of="truth")
    lo, hi = PHYSICAL_RANGE_K
    return out.where((out >= lo) & (out <= hi)).rio.write_nodata(np.nan, encoded=False)


def _drawn_kelvin(lst: xr.DataArray, *, check_fill: bool = False, what: str = "LST",
                  mask_out_of_range: bool = True) -> xr.DataArray:
    """An LST field in Kelvin for drawing, decoded as upscale decodes it (digital numbers or
    Celsius were drawn as they are, on one colour scale with Kelvin).

    ``check_fill``: refuse an undeclared fill value as upscale refuses it
    (:class:`~xlstsr.errors.UndeclaredFillError`, naming ``_FillValue`` / ``--nodata``), for
    the coarse input: a SEVIRI -80 degC fill was drawn at 193 K and flattened the shared
    colour scale. ``what``: how messages name the field (``"LST"`` adds the command line's
    options to the advice). ``mask_out_of_range``: values out of the physical range are left
    out of the picture (the coarse input: upscale takes them with ``mask_out_of_range=True``);
    False refuses them (:class:`~xlstsr.errors.PhysicalRangeError`), as
    :func:`xlstsr.evaluate` refuses a result: a result diverged to 450 K over a third of the
    scene was drawn blank, as if cloud, beside scores that refused it."""
    from .validate import decode_lst

    # a result refused (mask_out_of_range=False) is told to mask by hand: no figure function
    # takes the option its refusals named
    return decode_lst(lst, mask_out_of_range=mask_out_of_range, check_fill=check_fill,
                      what=what, maskable=mask_out_of_range)


def _drawn_result(result: xr.DataArray, name: str) -> xr.DataArray:
    """A result in Kelvin for drawing, checked as :func:`xlstsr.evaluate` checks its ``sr``
    (values out of the physical range refused, not hidden; an undeclared fill value refused:
    a 200 K fill band was drawn, the colour scale from 200 K and the error limits +-108 K,
    where evaluate refused it), refusals naming the result (``result 'disr'``: with several
    results, "the LST" did not say which, and gave the command line's ``--units``, which no
    figure function takes)."""
    return _drawn_kelvin(result, check_fill=True, what=f"result {name!r}",
                         mask_out_of_range=False)


def _limits(values: np.ndarray) -> tuple[float, float]:
    """Colour limits shared by panels: the 2nd and 98th percentiles, widened by 0.5 K either
    way where they meet (a uniform field): equal limits left each panel's norm singular, and
    the colour bar widened the last panel's alone, so one 300 K value was drawn in two
    colours (the bottom of the scale, and mid-scale under the bar's 270-330 K)."""
    lo, hi = (float(v) for v in np.nanpercentile(values, [2, 98]))
    return (lo - 0.5, hi + 0.5) if lo == hi else (lo, hi)


def _same_steps(result: xr.DataArray, other: xr.DataArray, name: str,
                index: dict[str, int], like_var: str = "upscaled") -> xr.DataArray:
    """``other`` with the result's steps (time...) in the result's order of labels: a truth in
    another order, or of one date (a scalar coordinate) other than the step drawn, was drawn
    and subtracted by position. ``like_var``: the result's variable in the advice
    (``upscaled['disr']`` for a dict of results: ``upscaled['time']`` raised a KeyError)."""
    from .steps import pair_steps

    for d in [c for c in other.coords if other[c].ndim == 0 and c in result.dims
              and c in result.indexes]:
        # the index checked first, as a cube input has it: a position past the end (a date
        # label) raised a bare IndexError (ValueError) below
        _check_index(index if not isinstance(index, Mapping) else
                     {k: v for k, v in index.items() if k == d}, [result])
        i = int(index.get(d, 0))
        shown = result.indexes[d][i] if result.sizes[d] else None
        # np.atleast_1d: a 0-d ndarray in a list (band=1 after .squeeze()) is unhashable
        at = result.indexes[d].get_indexer(pd.Index(np.atleast_1d(other[d].values)))[0]
        if shown is not None and at != i % result.sizes[d]:
            mine = other[d].values
            mine = pd.Timestamp(mine) if np.asarray(mine).dtype.kind == "M" else mine
            raise GridError(
                f"the {name} is of {d}={mine} but the step drawn is {d}={shown}: "
                f"choose that step (`index={{'{d}': ...}}`) or pass the {name} of the step drawn."
            )
        other = other.drop_vars(d)
    return pair_steps(other, result, name if name == "truth" else "coarse input",
                      "upscaled result", like_var=like_var)


def _check_same_dates(fields: list[tuple[str, str, xr.DataArray]]) -> None:
    """Refuse fields drawn as one step whose scalar coordinates (time...) are other dates, in
    the words of :func:`comparison`'s refusal (:func:`xlstsr.steps.check_scalar_steps`).
    ``fields``: (name in the message, variable of its fix, field). truth_maps drew a result of
    one date minus the truth of another as an error map, without a word."""
    from .steps import check_scalar_steps

    for i, (like_what, like_var, like) in enumerate(fields):
        for what, var, other in fields[i + 1:]:
            check_scalar_steps(like, other, what, like_what, var, like_var)


#: share of the coarser pixel by which the edges of maps drawn side by side may differ
_GROUND_TOLERANCE = 0.5


def _edges(da: xr.DataArray) -> dict[str, tuple[float, float, float]] | None:
    """The outer edges and pixel size along y and x, ``{"y": (low, high, pixel)...}``, from
    the labels (pixel centres, either direction); an axis of one label takes its pixel size
    from the stored transform when that fits the labels (a one-row strip drawn beside a result
    26 km away was not compared). None without labels, or with one label and no transform that
    fits them."""
    dims = {"y": da.rio.y_dim, "x": da.rio.x_dim}
    if any(d not in da.coords or da[d].ndim != 1 or da.sizes[d] < 1 for d in dims.values()):
        return None
    labels = {a: np.asarray(da[d].values, np.float64) for a, d in dims.items()}
    steps = {a: abs(float(v[-1] - v[0])) / (v.size - 1) if v.size >= 2 else None
             for a, v in labels.items()}
    if None in steps.values():
        steps = _transform_steps(da, labels, steps)
        if steps is None:
            return None
    return {a: (float(v.min()) - steps[a] / 2, float(v.max()) + steps[a] / 2, steps[a])
            for a, v in labels.items()}


def _transform_steps(da: xr.DataArray, labels: dict[str, np.ndarray],
                     steps: dict[str, float | None]) -> dict[str, float] | None:
    """The pixel sizes of :func:`_edges` with those of one-label axes from the stored
    ``GeoTransform`` (rioxarray's ``transform()`` moves it onto the labels), when it fits
    them: north-up, each label on one of its pixel centres, and the label spacing of the
    other axis its pixel size; else None. A transform kept from a finer grid (xarray's
    ``coarsen`` keeps it) gave a 1000 m row a 250 m pixel, and refused it."""
    gm = da.coords.get(da.rio.grid_mapping)
    gt = None if gm is None else gm.attrs.get("GeoTransform")
    try:
        t = Affine.from_gdal(*(float(g) for g in str(gt).split()))
    except (TypeError, ValueError):
        return None  # not compared, as fields without labels
    if t.b != 0 or t.d != 0:
        return None
    out = {}
    for axis, (origin, px) in (("y", (t.f, t.e)), ("x", (t.c, t.a))):
        step, v = steps[axis], labels[axis]
        if not np.isfinite(px) or px == 0:
            return None
        k = (v[0] - origin) / px - 0.5  # the pixel index of the first label
        if abs(k - round(k)) > 1e-6 or (step is not None and abs(step - abs(px)) > 1e-6 * step):
            return None
        out[axis] = abs(float(px)) if step is None else step
    return out


def _crop_advice(fields: list[tuple[str, str, xr.DataArray, Any, Mapping[Any, Any]]],
                 crs: Any) -> str:
    """The selections that crop ``fields`` ((name, variable of its fix, field, :func:`_edges`,
    way back to the user's dim names, :func:`_yx`: ``coarse.sel(x=...)`` failed on the user's
    (time, lat, lon) array))
    in ``crs`` to their common ground: for each field with labels outside it, by labels
    (``coarse = coarse.sel(x=slice(x0, x1), y=slice(y1, y0))``, each slice ordered as that
    field's labels run), exact whichever way y runs; '' when they share no ground. The advised
    ``rio.clip_box(*upscaled.rio.bounds())`` kept an extra coarse row, raised rasterio's
    WindowError on a south-up input flipped by ``isel``, and cropped the input to one result
    of several."""
    same = [(var, da, e, back) for _, var, da, e, back in fields if e is not None
            and (crs is None or da.rio.crs is None or da.rio.crs == crs)]
    common = {axis: (max(e[axis][0] for _, _, e, _ in same),
                     min(e[axis][1] for _, _, e, _ in same))
              for axis in ("y", "x")}
    if any(lo >= hi for lo, hi in common.values()):
        return ""
    # to a hundredth of the finest pixel: labels (pixel centres) lie half a pixel from edges
    fine = min(e[axis][2] for _, _, e, _ in same for axis in ("y", "x"))
    dec = max(0, int(np.ceil(-np.log10(0.01 * fine)))) if fine > 0 else 6
    fixes = []
    for var, da, _, back in same:
        dims = {"y": da.rio.y_dim, "x": da.rio.x_dim}
        labels = {axis: np.asarray(da[d].values, np.float64) for axis, d in dims.items()}
        if all(((v >= common[a][0]) & (v <= common[a][1])).all() for a, v in labels.items()):
            continue  # within the common ground already
        parts = []
        for axis in ("x", "y"):
            lo, hi = common[axis]
            v = labels[axis]
            a, b = (lo, hi) if v[-1] >= v[0] else (hi, lo)  # as its labels run
            d = back.get(dims[axis], dims[axis])  # in the user's name
            parts.append((d, f"slice({a:.{dec}f}, {b:.{dec}f})"))
        if all(isinstance(d, str) and d.isidentifier() for d, _ in parts):
            sel = ", ".join(f"{d}={sl}" for d, sl in parts)
        else:
            sel = "{" + ", ".join(f"{d!r}: {sl}" for d, sl in parts) + "}"
        fixes.append(f"`{var} = {var}.sel({sel})`")
    return "; ".join(fixes)


def _check_same_ground(fields: list[tuple[str, str, xr.DataArray, Mapping[Any, Any]]]) -> None:
    """Refuse maps drawn side by side that cover other ground: their edges differ by more than
    :data:`_GROUND_TOLERANCE` of the coarser pixel (the input against each result, results
    against each other; a x2 and a x4 result of one input pass). ``fields``: (name in the
    message, variable of its fix, field, way back to the user's dim names, :func:`_yx`). A result of half the scene, or of a window 8 pixels
    east, filled its panel beside the whole input, without a word. Fields without labels (or
    with one label on an axis and no transform to give its pixel size), or in other CRSs, are
    not compared. The fix crops every field to the ground all share
    (:func:`_crop_advice`)."""
    edges = [(what, var, da, _edges(da), back) for what, var, da, back in fields]
    for i, (wa, _, a, ea, ba) in enumerate(edges):
        for wb, _, b, eb, bb in edges[i + 1:]:
            if ea is None or eb is None or (
                    a.rio.crs is not None and b.rio.crs is not None and a.rio.crs != b.rio.crs):
                continue
            for axis in ("y", "x"):
                (alo, ahi, apx), (blo, bhi, bpx) = ea[axis], eb[axis]
                px = max(apx, bpx)
                off = max(abs(alo - blo), abs(ahi - bhi))
                if px > 0 and off > _GROUND_TOLERANCE * px:
                    d = a.rio.y_dim if axis == "y" else a.rio.x_dim
                    na = ba.get(d, d)  # the axis in the user's names
                    nb = bb.get(b.rio.y_dim if axis == "y" else b.rio.x_dim, na)
                    along = str(na) if nb == na else f"{na} ({nb} of the {wb})"
                    crop = _crop_advice(edges, a.rio.crs if a.rio.crs is not None else b.rio.crs)
                    ydim = ba.get(a.rio.y_dim, a.rio.y_dim)
                    fix = (f"Crop them to the ground they share, by labels (whichever way "
                           f"{ydim} runs): {crop}; or upscale the window the {wa} shows."
                           if crop else
                           f"They share no ground: pass fields of one place, or upscale the "
                           f"window the {wa} shows.")
                    raise GridError(
                        f"the {wa} and the {wb} do not cover the same ground: along {along} the "
                        f"{wa} spans {alo:.10g} to {ahi:.10g}, the {wb} {blo:.10g} to {bhi:.10g} "
                        f"(edges {off / px:.1f} of the coarser pixels apart), so the maps would "
                        f"show different places side by side. {fix}"
                    )


def comparison(
    coarse: xr.DataArray,
    upscaled: xr.DataArray | dict[str, xr.DataArray],
    truth: xr.DataArray | None = None,
    *,
    index: dict[str, int] | None = None,
    path: str | Path | None = None,
    title: str | None = None,
) -> Any:
    """Maps of the coarse input, one or more upscaled results, the truth and the error.

    Parameters
    ----------
    coarse, truth : DataArray
        Input LST and (optional) fine truth on the upscaled grid.
    upscaled : DataArray or dict of DataArray
        Result(s), keyed by label.
    index : dict
        Which step of leading dims to show, e.g. ``{"time": 0}`` (default: the first).
    path : path, optional
        Write a PNG there: a local file (or a ``file://`` URL of one); another URL
        (``s3://...``) raises XlstsrError.
        An existing file there is replaced without asking, as matplotlib's ``savefig``
        replaces it (``xlstsr scaling --figure`` asks for ``--overwrite``); a symbolic link
        there is replaced itself, the file it points to left as it is.
    title : str, optional
        Figure title; the step drawn (``time=2020-07-03``) is appended in parentheses, and
        is the title alone without one.

    Returns
    -------
    matplotlib.figure.Figure
        With ``path``, drawn off pyplot (the matplotlib backend is left as it is); without,
        made with pyplot on the user's backend (``plt.savefig`` / ``plt.show()`` work). Lazy
        (dask) inputs are computed once, together.
        Only the step drawn of each field is read and checked, in memory or lazy (values
        of another step do not stop it); a truth needs only that step.

    Raises
    ------
    AllNaNError
        A map (the input, a result or the truth, at the step drawn) or the error map would be
        empty: its message names it.
    UndeclaredFillError
        The coarse input holds an undeclared fill value (upscale refuses it too), or a result
        does (:func:`xlstsr.evaluate` refuses it too): declare it (``_FillValue``,
        ``--nodata``) or mask it.
    PhysicalRangeError
        A result holds values out of the physical range (:func:`xlstsr.evaluate` refuses it
        too); the message names the result. Out-of-range pixels of the coarse input are left
        out of its map, as upscale masks them.
    """
    path = _check_path(path, create=False)  # folders made by _finish, once drawn
    _need_dataarray("coarse", coarse)
    if isinstance(upscaled, Mapping):
        if not upscaled:
            raise XlstsrError("upscaled is an empty dict: give at least one result")
        for k, v in upscaled.items():
            _need_dataarray(f"upscaled[{k!r}]", v)
    else:
        _need_dataarray("upscaled (a DataArray or a dict of them)", upscaled)
    index = index or {}
    results = dict(upscaled) if isinstance(upscaled, Mapping) else {
        upscaled.attrs.get("xlstsr_method", "upscaled"): upscaled}
    # lat/lon dims renamed y/x, as upscale renames them (its own result of a lat/lon cube,
    # named lat/lon again, was refused); no CRS needed for maps side by side. ``backs``: the
    # user's names, for the messages and the advice
    coarse, coarse_back = _yx(coarse, "coarse input")
    renamed = {k: _yx(v, f"result {k!r}") for k, v in results.items()}
    results = {k: v for k, (v, _) in renamed.items()}
    backs = {k: b for k, (_, b) in renamed.items()}
    truth_back: dict[Any, Any] = {}
    if truth is not None:
        truth, truth_back = _yx(_need_dataarray("truth", truth), "truth")
    last = list(results.values())[-1]
    from .steps import pair_steps

    # the variables the advice names: with a dict, its entries (`upscaled['time']` and
    # `result.sel(...)` of a dict, advised before, raised a KeyError / NameError)
    many = isinstance(upscaled, Mapping)
    last_var = f"upscaled[{list(results)[-1]!r}]" if many else "upscaled"
    # every result on the last one's steps by label (the others were drawn by position: two
    # dates side by side as one step)
    results = {k: v if v is last else pair_steps(v, last, f"result {k!r}", "last result",
                                                  var=f"upscaled[{k!r}]", like_var=last_var)
               for k, v in results.items()}
    # the input on the result's steps by label (labels only: no value read yet)
    coarse = _same_steps(last, coarse, "coarse", index, last_var)
    # the step drawn of each field picked before any value is decoded and checked: an
    # in-memory cube was checked whole, a good step refused for another step's fill or
    # diverged values (the same cube lazy drew it), and the check's time grew with the cube.
    # Kept as steps of one label each (the pairing and the messages read them); ``local``: the
    # index along those fields
    lead = [d for d in last.dims if d not in (last.rio.y_dim, last.rio.x_dim)]
    _check_index(index if not isinstance(index, Mapping) else
                 {k: v for k, v in index.items() if k in lead}, list(results.values()),
                 list(backs.values()))
    pick = {d: [int(index.get(d, 0)) % last.sizes[d]] for d in lead if last.sizes[d]}
    local = {k: v for k, v in index.items() if k not in pick}
    whole = [coarse, *results.values()]  # every step's labels, for the title
    at = {d: p[0] for d, p in pick.items()}
    drawn = _steps_drawn(whole, at)

    def step_of(da: xr.DataArray) -> xr.DataArray:
        return da.isel({d: p for d, p in pick.items() if d in da.dims})

    with _in_step_drawn(drawn):
        # results in Kelvin too: one in degC was drawn at 40 beside a 313 K input
        results = {k: _drawn_result(step_of(v), k) for k, v in results.items()}
        # the input in Kelvin as upscale decodes it (digital numbers or Celsius were drawn as
        # they are, on one colour scale with the Kelvin results)
        coarse = _drawn_kelvin(step_of(coarse), check_fill=True, what="coarse input")
    last_whole, last = whole[-1], list(results.values())[-1]
    # the input and the results side by side: the same ground (the truth's grid is checked
    # against the last result's below)
    _check_same_ground([("coarse input", "coarse", coarse, coarse_back)] + [
        (f"result {k!r}", "upscaled" if not isinstance(upscaled, Mapping) else f"upscaled[{k!r}]",
         v, backs[k]) for k, v in results.items()])
    if truth is not None:
        _need_dataarray("truth", truth)
        # paired on the step drawn only: a truth of some of the result's dates (ASTER or
        # Landsat scenes exist on few) was refused even for a step it has
        try:
            truth = _same_steps(last, truth, "truth", local, last_var)
        except GridError:
            # refused in the whole result's terms where it refuses too (its counts of steps,
            # and the steps both have, which work when followed)
            _same_steps(last_whole, truth, "truth", index, last_var)
            raise
        with _in_step_drawn(drawn):
            truth = _decoded(truth)
        ty, tx = truth.rio.y_dim, truth.rio.x_dim
        ly, lx = last.rio.y_dim, last.rio.x_dim
        # compared as drawn, both north-up (_image): a south-up truth of the result's grid is
        # the same grid
        nt, nl = _north_up_order(truth), _north_up_order(last)
        same = truth.sizes[ty] == last.sizes[ly] and truth.sizes[tx] == last.sizes[lx] and (
            # to a small fraction of a pixel (rtol=0), as the metrics test it: np.allclose's
            # default rtol took a truth one pixel off at a UTM northing of 4,000 km
            same_axis(nl[lx].values, nt[tx].values) and same_axis(nl[ly].values, nt[ty].values)
            if tx in truth.coords and lx in last.coords and ty in truth.coords and ly in last.coords else True)
        if not same:
            raise GridError(
                f"truth ({truth.sizes[ty]} x {truth.sizes[tx]}) is not on the grid of the "
                f"upscaled result ({last.sizes[ly]} x {last.sizes[lx]}): the error map subtracts "
                "them pixel by pixel; put the truth on the result's grid first "
                "(`truth.rio.reproject_match(result)`), or draw it with xlstsr.plot.truth_maps"
            )
    _check_index(local, [coarse, *results.values(), *([truth] if truth is not None else [])],
                 [coarse_back, *backs.values(), *([truth_back] if truth is not None else [])])
    shown = [("input", "the coarse input", coarse)] + [
        (k, f"the result {k!r}", v) for k, v in results.items()]
    if truth is not None:
        shown.append(("truth", "the truth", truth))
    with _in_step_drawn(drawn):  # each lazy input computed once (its checks run there)
        images = _load([_image(da, local) for _, _, da in shown])
    for (_, name, da), img in zip(shown, images):
        if not np.isfinite(np.asarray(img.values, np.float64)).any():  # a blank map, NaN limits
            raise AllNaNError(
                f"{name} has no valid pixel{_step(da, index)} (all NaN): check its nodata "
                "value, scale and mask, or draw another step (`index=`); the map would be empty")
    panels = [(label, np.asarray(img.values)) for (label, _, _), img in zip(shown, images)]
    err = None
    if truth is not None:
        err = panels[-2][1] - panels[-1][1]
        if not np.isfinite(err).any():
            raise AllNaNError(
                f"the result {panels[-2][0]!r} and the truth have no valid pixel in common: the "
                "error map would be empty; check their masks (do they cover the same ground?)")
    vmin, vmax = _limits(np.concatenate([p.ravel() for _, p in panels]))
    ncol = len(panels) + (1 if truth is not None else 0)
    # with a path, off pyplot; without, on the user's backend (`plt.savefig` after the call
    # saved a blank figure when drawn off pyplot)
    fig, axes = _subplots(path is not None, 1, ncol, squeeze=False, figsize=(3.2 * ncol, 3.4),
                          layout="constrained")
    axes = axes[0]
    for ax, (label, img) in zip(axes, panels):
        im = ax.imshow(img, vmin=vmin, vmax=vmax, cmap="inferno", interpolation="nearest")
        ax.set_title(label)
        ax.set_axis_off()
    fig.colorbar(im, ax=axes[: len(panels)].tolist(), shrink=0.8, label="LST (K)")
    if err is not None:
        lim = np.nanpercentile(np.abs(err), 98) or 1.0
        im2 = axes[-1].imshow(err, cmap="RdBu_r", vmin=-lim, vmax=lim, interpolation="nearest")
        axes[-1].set_title(f"{panels[-2][0]} - truth")
        axes[-1].set_axis_off()
        fig.colorbar(im2, ax=axes[-1], shrink=0.8, label="K")
    # the step drawn named: the figures of two dates carried the same text
    heading = _titled(title, _steps_drawn([*whole, *([truth] if truth is not None else [])], at))
    if heading:
        fig.suptitle(heading)
    return _finish(fig, path)


#: the dims of a :func:`xlstsr.scaling_stats` result that are not its field's steps (time...)
_STATS_DIMS = ("lag", "moment", "direction", "factor", "wavenumber", "bound")


def _reduce(stats: xr.Dataset, reduce: str | None, name: str = "stats") -> xr.Dataset:
    """One set of statistics from ``stats``: its leading dims (time...) summarised by
    ``reduce`` (None: the first step), with its attrs (``pixel_size``, ``pixel_unit``, the units;
    a reduction under xarray's ``keep_attrs=False``, the default before 2025, dropped them: the
    figures fell back to pixels, compare raised a bare KeyError). Raises :class:`AllNaNError`
    when what is drawn holds no statistic (a blank figure, without a word).

    A lazy (dask) ``stats`` is computed here, once, and with ``reduce=None`` only its first
    step: computed before the step was picked, every step of a year-long cube was read and
    analysed to draw one day."""
    lead = [d for d in stats.dims if d not in _STATS_DIMS]
    if lead and reduce is None:  # the step drawn, picked before anything is computed
        where = " at the step drawn (reduce=None: the first), " + ", ".join(
            f"{d}={_label(stats, d, 0)}" for d in lead)
        stats = stats.isel({d: 0 for d in lead})
    stats = stats.compute()
    if not lead:
        out, where = stats, ""
    elif reduce is None:
        out = stats
    elif reduce == "median":
        out, where = stats.median(lead, skipna=True, keep_attrs=True), " in any step"
    elif reduce == "mean":
        out, where = stats.mean(lead, skipna=True, keep_attrs=True), " in any step"
    if not any(np.isfinite(np.asarray(out[v].values, np.float64)).any() for v in _STATS_VARS):
        fix = (f"draw a step with data (`{name}.isel({lead[0]}=...)`) or summarise the steps "
               "(reduce='median')" if lead and reduce is None
               else "check the field's fill value and mask")
        raise AllNaNError(
            f"{name} holds no statistic{where} (all NaN: no valid pixel there, all cloud?): the "
            f"figure would be blank; {fix}."
        )
    return out


def _stats_steps(stats: xr.Dataset, reduce: str | None) -> list[str]:
    """The step a figure of ``stats`` shows, named as the maps name theirs
    (:func:`_steps_drawn`): with ``reduce=None`` the first step, and whatever ``reduce``, the
    one step of a one-date cube or the date of a field of one date (a scalar coordinate); a
    summary of several steps names none."""
    lead = [d for d in stats.dims if d not in _STATS_DIMS]
    if reduce is not None and any(stats.sizes[d] > 1 for d in lead):
        return []
    return _steps_drawn([stats], {}, skip=_STATS_DIMS)


def _variance_unit(datasets: list[xr.Dataset]) -> str | None:
    """The units of the variances of ``scaling_stats`` results (``K^2`` for an LST, the
    field's own with ``radiometric=False``: an NDVI's axes said K^2); None when unknown or
    different."""
    units = {str(d["coarse_variance"].attrs.get("units", "")) for d in datasets}
    u = units.pop() if len(units) == 1 else ""
    return u or None


def _power_unit(var_unit: str | None, unit: str) -> str:
    """Units of the power spectrum's axis: the variance's units times ``unit^2``."""
    if var_unit is None:
        return "power"
    return f"power ({unit}^2)" if var_unit == "1" else f"power ({var_unit} {unit}^2)"


def _x(stats: xr.Dataset, name: str, metres: bool) -> tuple[np.ndarray, str]:
    unit = stats.attrs.get("pixel_unit", "pixel")
    if metres and unit != "pixel":
        return np.asarray(stats[name + "_m"] if name != "factor" else stats["scale_m"]), unit
    return np.asarray(stats[name]), "pixel"


def _draw_break(ax: Any, s: xr.Dataset, k: np.ndarray, metres: bool, color: str = "r") -> None:
    """The fitted two-segment spectrum: both slopes, meeting at the break (dotted line).

    Solid segments and a labelled break when the break is significant (dBIC > 10), thin
    dashed ones otherwise; nothing when no break was fitted.
    """
    kb = float(s.spectral_break_wavenumber)
    lo, hi = float(s.spectral_slope_low), float(s.spectral_slope_high)
    if not (np.isfinite(kb) and np.isfinite(lo) and np.isfinite(hi)):
        return
    dbic = float(s.spectral_break_delta_bic)
    kbx = kb / (float(s.attrs["pixel_size"]) if metres else 1.0)
    power = np.asarray(s.power_spectrum.values, dtype=float)
    ok = np.isfinite(power) & (power > 0) & np.isfinite(k) & (k > 0)
    if ok.sum() < 2:
        return
    # the break's power on the measured spectrum (log-log interpolation), both laws through it
    order = np.argsort(k[ok])
    pb = np.exp(np.interp(np.log(kbx), np.log(k[ok][order]), np.log(power[ok][order])))
    significant = np.isfinite(dbic) and dbic > 10
    style = {"color": color, "lw": 1.2 if significant else 0.8, "ls": "-" if significant else "--"}
    k_lo = np.geomspace(np.nanmin(k[ok]), kbx, 20)
    k_hi = np.geomspace(kbx, np.nanmax(k[ok]), 20)
    ax.loglog(k_lo, pb * (k_lo / kbx) ** lo, **style, label=f"fit {lo:.2f} | {hi:.2f}")
    ax.loglog(k_hi, pb * (k_hi / kbx) ** hi, **style)
    ax.axvline(kbx, color=color, ls=":", lw=0.8,
               label=f"break ({dbic:.0f} dBIC{'' if significant else ', not significant'})")


def scaling(
    stats: xr.Dataset,
    *,
    reduce: str | None = "median",
    metres: bool = True,
    title: str | None = None,
    path: str | Path | None = None,
) -> Any:
    """Four (five with a guide) log-log panels of one ``scaling_stats`` result.

    Panels: structure functions ``S_q(l)^(1/q)`` with the fitted ``S_2`` law; flatness and
    skewness of increments; the radially averaged spectrum with its fitted slope and the fitted
    two-segment law (both slopes and the break; solid when significant, dBIC > 10);
    coarse and within-block variance versus scale with the fitted within-block law; LST-guide
    correlation and slope versus scale (with a guide).

    Parameters
    ----------
    stats : Dataset
        Output of :func:`xlstsr.scaling_stats`, in memory or lazy (dask: computed once here).
    reduce : {"median", "mean", None}
        How leading dims (time...) are summarised (None: the first index).
    metres : bool
        Scales in the CRS unit (True) or pixels.
    title : str, optional
        Figure title.
    path : str or Path, optional
        Save the figure there (drawn off pyplot, so the matplotlib backend is left as it is):
        a local file (or a ``file://`` URL of one); another URL (``s3://...``) raises
        XlstsrError. Without a path the figure is made with pyplot, on the user's backend.
        An existing file there is replaced without asking, as matplotlib's ``savefig``
        replaces it (``xlstsr scaling --figure`` asks for ``--overwrite``); a symbolic link
        there is replaced itself, the file it points to left as it is.

    Returns
    -------
    matplotlib.figure.Figure
        Computed without 2 in ``moments``, the structure functions asked for are drawn and
        ``H`` named in the legend, without its ``S_2`` law. Axes of variances are in the
        statistics' own units (K^2 for an LST).

    Raises
    ------
    AllNaNError
        What is drawn holds no statistic (``reduce=None`` and a first step without valid
        pixels, or every step empty): the figure would be blank.

    Examples
    --------
    >>> import xlstsr
    >>> lst = xlstsr.datasets.sample_scene(size=128)["lst_1km"]  # 3 x 32 x 32
    >>> st = xlstsr.scaling_stats(lst)
    >>> len(scaling(st, path=None).axes)
    4
    >>> lazy = xlstsr.scaling_stats(lst.chunk())
    >>> len(scaling(lazy).axes)
    4
    """
    from .validate import check_bool

    path = _check_path(path, create=False)  # folders made by _finish, once drawn
    _need_stats("stats", stats)
    _check_reduce(reduce)
    metres = check_bool("metres", metres)
    s = _reduce(stats, reduce)  # a lazy (dask) result computed once, there (reduce=None: one step)
    var_unit = _variance_unit([s])
    has_guide = "guide_correlation" in s
    n = 5 if has_guide else 4
    # with a path, off pyplot; without, on the user's backend (plt.show() shows it)
    fig, axes = _subplots(path is not None, 1, n, figsize=(4.2 * n, 3.8))
    lag, unit = _x(s, "lag", metres)
    ax = axes[0]
    for q in s.moment.values:
        sq = s.structure_function.sel(moment=q).values
        ax.loglog(lag, sq ** (1.0 / q), "o-", ms=3, label=f"q={q}")
    h = float(s.hurst)
    if np.isfinite(h) and 2 in s.moment.values:
        s2 = s.structure_function.sel(moment=2).values
        i0 = int(np.nanargmin(np.abs(np.asarray(s.lag) - s.attrs.get("fit_lags_px", [1])[0])))
        ax.loglog(lag, np.sqrt(s2[i0]) * (lag / lag[i0]) ** h, "k--", lw=1, label=f"H={h:.2f}")
    elif np.isfinite(h):  # fitted on S_2 all the same: named, its law has no curve to sit on
        ax.plot([], [], "k--", lw=1, label=f"H={h:.2f} (S_2 law not drawn: 2 not in moments)")
    ax.set(xlabel=f"lag ({unit})", ylabel="S_q^(1/q)", title="structure functions")
    ax.legend(fontsize=7)
    ax = axes[1]
    ax.semilogx(lag, s.increment_flatness, "o-", label="flatness S4/S2^2")
    ax.semilogx(lag, s.increment_skewness, "s-", label="skewness")
    ax.axhline(3.0, color="grey", lw=0.8, ls=":")
    ax.axhline(0.0, color="grey", lw=0.8, ls=":")
    ax.set(xlabel=f"lag ({unit})", title="intermittency")
    ax.legend(fontsize=7)
    ax = axes[2]
    k = np.asarray(s.wavenumber_m if (metres and unit != "pixel") else s.wavenumber)
    ax.loglog(k, s.power_spectrum, "o-", ms=3)
    beta = float(s.spectral_slope)
    ok = np.isfinite(s.power_spectrum.values)
    if np.isfinite(beta) and ok.any():
        j = np.flatnonzero(ok)[len(np.flatnonzero(ok)) // 2]
        ax.loglog(
            k,
            s.power_spectrum.values[j] * (k / k[j]) ** beta,
            "k--",
            lw=1,
            label=f"slope {beta:.2f}",
        )
    _draw_break(ax, s, k, metres and unit != "pixel")
    ax.set(xlabel=f"wavenumber (cycles/{unit})", ylabel="power", title="spectrum")
    ax.legend(fontsize=7)
    ax = axes[3]
    sc, _ = _x(s, "factor", metres)
    ax.loglog(sc, s.coarse_variance, "o-", label="variance of aggregate")
    ax.loglog(sc, s.within_block_variance, "s-", label="within-block (step f->2f)")
    a, w1 = float(s.within_block_exponent), float(s.within_block_prefactor)
    if np.isfinite(a):
        ax.loglog(sc, w1 * (np.asarray(s.factor, float)) ** a, "k--", lw=1, label=f"alpha={a:.2f}")
    ax.set(xlabel=f"scale ({unit})", ylabel=var_unit or "variance", title="coarse-graining")
    ax.legend(fontsize=7)
    if has_guide:
        ax = axes[4]
        ax.semilogx(sc, s.guide_correlation, "o-", label="corr(LST, guide)")
        ax2 = ax.twinx()
        ax2.semilogx(sc, s.guide_slope, "s-", color="C1", label="slope")
        ax2.set_ylabel(f"slope ({s.guide_slope.attrs.get('units', 'per guide unit')})",
                       color="C1")
        ax.set(xlabel=f"scale ({unit})", title="LST-guide law", ylim=(-1, 1))
        ax.legend(fontsize=7, loc="lower left")
    # the step drawn named (the figures of a cube and of its first date carried the same text)
    heading = _titled(title, _stats_steps(stats, reduce))
    if heading:
        fig.suptitle(heading)
    fig.tight_layout()
    return _finish(fig, path)


def compare(
    stats: Mapping[str, xr.Dataset], *, reduce: str | None = "median", path: str | Path | None = None
) -> Any:
    """Several ``scaling_stats`` results on shared axes in metres.

    Four panels: ``S_2`` (K^2 for LST) with each field's ``H``, the flatness of increments, the
    power spectral density (K^2 m^2, each field's own pixel size taken out) with its slope and its
    significant fitted break (dotted, dBIC > 10), and the within-block variance per step with
    its exponent. Lazy (dask) results are computed here.

    Parameters
    ----------
    stats : mapping of str to Dataset
        Outputs of :func:`xlstsr.scaling_stats` by label; their scales must be in the same unit
        (metres).
    reduce : {"median", "mean", None}
        How leading dims (time...) are summarised (None: the first index).
    path : str or Path, optional
        Save the figure there (drawn off pyplot, so the matplotlib backend is left as it is):
        a local file (or a ``file://`` URL of one); another URL (``s3://...``) raises
        XlstsrError. Without a path the figure is made with pyplot, on the user's backend.
        An existing file there is replaced without asking, as matplotlib's ``savefig``
        replaces it (``xlstsr scaling --figure`` asks for ``--overwrite``); a symbolic link
        there is replaced itself, the file it points to left as it is.

    Returns
    -------
    matplotlib.figure.Figure
        A result computed without 2 in ``moments`` is named in the ``S_2`` panel's legend
        (with its ``H``), without a curve.

    Raises
    ------
    AllNaNError
        A result holds no statistic in what is drawn (``reduce=None`` and a first step
        without valid pixels, or every step empty): its curves would be blank.

    Examples
    --------
    >>> import xlstsr
    >>> s = xlstsr.datasets.sample_scene(size=128)
    >>> st = {"1 km": xlstsr.scaling_stats(s["lst_1km"]), "250 m": xlstsr.scaling_stats(s["lst_250m"])}
    >>> len(compare(st).axes)
    4
    """
    path = _check_path(path, create=False)  # folders made by _finish, once drawn
    if not isinstance(stats, Mapping) or not stats:
        raise InputTypeError(f"stats must be a non-empty dict of scaling_stats results by label "
                             f"(e.g. {{'1 km': st1, '250 m': st2}}), got "
                             f"{type(stats).__name__ if not isinstance(stats, Mapping) else 'an empty dict'}")
    for name, st in stats.items():
        _need_stats(f"stats[{name!r}]", st)
        if st.attrs.get("pixel_unit", "pixel") == "pixel":
            raise GridError(
                f"stats[{name!r}] has its scales in pixels (its field had no CRS in metres): "
                "compare draws every field on shared axes in CRS units; write the field's CRS "
                "(`da.rio.write_crs(...)`) before scaling_stats, or draw it alone with "
                "xlstsr.plot.scaling(st, metres=False)"
            )
    units = {str(st.attrs.get("pixel_unit", "pixel")) for st in stats.values()}
    if len(units) > 1:
        raise GridError(f"the results' scales are in different units ({sorted(units)}): compare "
                        "draws them on shared axes; reproject the fields to one CRS first")
    _check_reduce(reduce)
    # lazy (dask) results are computed once, in _reduce (with reduce=None, only the step
    # drawn); a blank one refused before drawing
    reduced = {name: _reduce(st, reduce, f"stats[{name!r}]")
               for name, st in stats.items()}
    var_unit = _variance_unit(list(reduced.values()))
    # with a path, off pyplot; without, on the user's backend (plt.show() shows it)
    fig, axes = _subplots(path is not None, 1, 4, figsize=(17, 4))
    for i, (name, s) in enumerate(reduced.items()):
        c = f"C{i}"
        lag = np.asarray(s.lag_m)
        h = float(s.hurst)
        if 2 in s.moment.values:
            s2 = s.structure_function.sel(moment=2).values
            axes[0].loglog(lag, s2, "o-", ms=3, color=c, label=f"{name} (H={h:.2f})")
        else:  # computed with moments= without 2: named in the legend, nothing to draw
            axes[0].plot([], [], "o-", ms=3, color=c,
                         label=f"{name} (H={h:.2f}; S_2 not drawn: 2 not in moments)")
        axes[1].semilogx(lag, s.increment_flatness, "o-", ms=3, color=c, label=name)
        k = np.asarray(s.wavenumber_m)
        axes[2].loglog(
            k,
            s.power_spectrum * float(s.attrs["pixel_size"]) ** 2,
            "o-",
            ms=3,
            color=c,
            label=f"{name} ({float(s.spectral_slope):.2f})",
        )
        kb, dbic = float(s.spectral_break_wavenumber), float(s.spectral_break_delta_bic)
        if np.isfinite(kb) and np.isfinite(dbic) and dbic > 10:  # the fitted (significant) break
            axes[2].axvline(kb / float(s.attrs["pixel_size"]), color=c, ls=":", lw=0.8)
        sc = np.asarray(s.scale_m)
        axes[3].loglog(
            sc,
            s.within_block_variance,
            "s-",
            ms=3,
            color=c,
            label=f"{name} (alpha={float(s.within_block_exponent):.2f})",
        )
    # the scales' own unit: degrees on a lon/lat grid were labelled metres
    u = units.pop()
    u = {"metre": "m", "meter": "m"}.get(u, u)
    axes[0].set(xlabel=f"lag ({u})", ylabel=f"S_2 ({var_unit})" if var_unit else "S_2",
                title="second-order structure function")
    axes[1].axhline(3, color="grey", ls=":")
    axes[1].set(xlabel=f"lag ({u})", ylabel="S_4 / S_2^2", title="flatness of increments")
    axes[2].set(xlabel=f"wavenumber (cycles/{u})", ylabel=_power_unit(var_unit, u),
                title="spectrum")
    axes[3].set(xlabel=f"scale ({u})", ylabel=var_unit or "variance",
                title="within-block variance, step s -> 2s")
    for ax in axes:
        ax.legend(fontsize=6)
    # the step drawn named (reduce=None drew the first step of each result without a word)
    steps = {name: ", ".join(_stats_steps(st, reduce)) for name, st in stats.items()}
    if len(set(steps.values())) == 1:
        heading = next(iter(steps.values()))
    else:
        heading = "; ".join(f"{name}: {v or 'all steps'}" for name, v in steps.items())
    if heading:
        fig.suptitle(heading)
    fig.tight_layout()
    return _finish(fig, path)


#: source pixels kept around the truth's ground by :func:`_truth_window`: the bilinear
#: kernel's reach (one pixel) and the rounding of a reprojected box, with room to spare
_TRUTH_MARGIN_PX = 3


def _truth_window(da: xr.DataArray, truth: xr.DataArray) -> xr.DataArray:
    """``da`` (a 2-D field in (y, x) order) cropped, by exact selection of its own pixels, to
    the truth's bounds in ``da``'s CRS, :data:`_TRUTH_MARGIN_PX` pixels wider each way: what
    its resampling onto the truth's grid reads (the maps are the same). Left whole where the
    bounds cannot be told (no CRS, no labels, bounds that do not transform) or where none of
    its pixels lies there (refused later, in the words of that check)."""
    if da.rio.crs is None or truth.rio.crs is None:
        return da
    te, de = _edges(truth), _edges(da)
    if te is None or de is None:
        return da
    bounds = (te["x"][0], te["y"][0], te["x"][1], te["y"][1])
    if truth.rio.crs != da.rio.crs:
        from rasterio.warp import transform_bounds

        bounds = transform_bounds(truth.rio.crs, da.rio.crs, *bounds, densify_pts=21)
    if not np.isfinite(bounds).all():
        return da
    keep = {}
    for axis, lo, hi in (("x", bounds[0], bounds[2]), ("y", bounds[1], bounds[3])):
        dim = da.rio.x_dim if axis == "x" else da.rio.y_dim
        m = _TRUTH_MARGIN_PX * de[axis][2]
        at = np.flatnonzero((np.asarray(da[dim].values, np.float64) >= lo - m)
                            & (np.asarray(da[dim].values, np.float64) <= hi + m))
        if not at.size:
            return da
        keep[dim] = slice(int(at[0]), int(at[-1]) + 1)  # labels run one way: one run of pixels
    return da.isel(keep)


def truth_maps(
    coarse: xr.DataArray,
    results: Mapping[str, xr.DataArray],
    truth: xr.DataArray,
    *,
    scores: Mapping[str, str] | None = None,
    path: str | Path | None = None,
    title: str | None = None,
) -> Any:
    """Two rows on the truth's grid: the input, each result and the truth; then each result's
    error (result - truth). Inputs and results are resampled onto the truth grid (nearest for
    the coarse input, bilinear for the results) and shown where the truth is valid.

    Parameters
    ----------
    coarse : DataArray
        The coarse input (2-D, georeferenced).
    results : dict of DataArray
        Super-resolved fields by label (2-D, georeferenced).
    truth : DataArray
        Fine truth (2-D, georeferenced, NaN outside its mask), e.g. a co-registered ASTER field.
    scores : dict of str, optional
        Text appended to each result's title (e.g. its RMSE).
    path : path, optional
        Write a PNG there: a local file (or a ``file://`` URL of one); another URL
        (``s3://...``) raises XlstsrError.
        An existing file there is replaced without asking, as matplotlib's ``savefig``
        replaces it (``xlstsr scaling --figure`` asks for ``--overwrite``); a symbolic link
        there is replaced itself, the file it points to left as it is.
    title : str, optional
        Figure title; the step drawn (``time=2020-07-03``) is appended in parentheses, and
        is the title alone without one.

    Returns
    -------
    matplotlib.figure.Figure
        With ``path``, drawn off pyplot (the matplotlib backend is left as it is); without,
        made with pyplot on the user's backend (``plt.savefig`` / ``plt.show()`` work). Lazy
        (dask) inputs are computed once, together.
        Only each field's pixels around the truth's ground are read and checked (a lazy
        result of a whole tile is computed there only).

    Raises
    ------
    AllNaNError
        The truth, the coarse input, or a result where the truth is valid has no valid pixel.
    UndeclaredFillError
        The coarse input holds an undeclared fill value (upscale refuses it too), or a result
        does (:func:`xlstsr.evaluate` refuses it too): declare it (``_FillValue``,
        ``--nodata``) or mask it.
    PhysicalRangeError
        A result holds values out of the physical range (:func:`xlstsr.evaluate` refuses it
        too); the message names the result. Out-of-range pixels of the coarse input are left
        out of its map, as upscale masks them.
    """
    from rasterio.enums import Resampling

    from .validate import image_order, north_up

    path = _check_path(path, create=False)  # folders made by _finish, once drawn
    _need_dataarray("coarse", coarse)
    _need_dataarray("truth", truth)
    if not isinstance(results, Mapping) or not results:
        raise InputTypeError("results must be a non-empty dict of DataArrays by label, e.g. "
                             "{'disr': sr}")
    for k, v in results.items():
        _need_dataarray(f"results[{k!r}]", v)
    # lat/lon dims renamed y/x, as upscale and evaluate rename them
    # (reprojected onto the truth: a CRS needed, EPSG:4326 named for lat/lon dims)
    (coarse, coarse_back), (truth, truth_back) = (_yx(coarse, "coarse input", need_crs=True),
                                                  _yx(truth, "truth", need_crs=True))
    renamed = {k: _yx(v, f"result {k!r}", need_crs=True) for k, v in results.items()}
    results = {k: v for k, (v, _) in renamed.items()}
    for name, da, back in (("coarse", coarse, coarse_back), ("truth", truth, truth_back),
                           *((f"results[{k!r}]", v, b) for k, (v, b) in renamed.items())):
        if da.ndim != 2:  # its dims in the user's names (a lat/lon cube was told y/x)
            lead = [d for d in _users(da.dims, back) if d not in _users(("y", "x"), back)]
            pick = f"da.isel({lead[0]}=0)" if lead and str(lead[0]).isidentifier() else (
                "da.isel(time=0)")
            raise GridError(f"{name} has dims {_users(da.dims, back)}: truth_maps draws one "
                            f"2-D field each; select a step first, e.g. `{pick}`")
    # (..., y, x) and north-up, as comparison's _image and evaluate (image_order) put them: a
    # truth stored (x, y) (a NetCDF written longitude-first) was drawn transposed, its error map
    # wrong; an (x, y) input or result raised rioxarray's bare InvalidDimensionOrder
    coarse, truth = image_order(coarse), image_order(truth)
    results = {k: image_order(v) for k, v in results.items()}
    # one date: a result of one date minus the truth of another was drawn as its error map
    _check_same_dates([("truth", "truth", truth), ("coarse input", "coarse", coarse),
                       *((f"result {k!r}", f"results[{k!r}]", v) for k, v in results.items())])
    # only the ground the truth covers read, decoded and checked (as drawn): a lazy result of
    # a whole tile was computed whole for a truth of a few km (and the input read whole)
    coarse = _truth_window(coarse, truth)
    results = {k: _truth_window(v, truth) for k, v in results.items()}
    # north-up first: every field is reprojected onto the truth's grid as stored, so a
    # south-up truth (ascending y) turned every panel upside down
    truth = north_up(_decoded(truth))
    # results and the input in Kelvin, as the truth: a degC result drew a -275 K error map
    results = {k: _drawn_result(v, k) for k, v in results.items()}
    # as upscale reads it: an undeclared fill refused, not drawn as data
    coarse = _drawn_kelvin(coarse, check_fill=True, what="coarse input")
    for name, da in (("coarse", coarse), ("truth", truth),
                     *((f"results[{k!r}]", v) for k, v in results.items())):
        if da.rio.crs is None:  # reprojected onto the truth: rioxarray's bare MissingCRS
            raise GridError(f"{name} has no CRS: truth_maps puts every field on the truth's "
                            "grid; write it (`da.rio.write_crs(...)`, the CRS of its input)")
    # each lazy field computed once (the truth was read twice: its mask, then its map)
    coarse, truth, *loaded = _load([coarse, truth, *results.values()])
    results = dict(zip(results, loaded))
    valid = np.isfinite(truth.values)
    if not valid.any():  # "other places, or another CRS label" sent the user looking elsewhere
        raise AllNaNError("the truth has no valid pixel (all NaN): check its nodata value, "
                          "scale and mask; the maps would be empty")

    def on_truth(da: xr.DataArray, resampling: Resampling) -> np.ndarray:
        src = da.astype(np.float64).rio.write_nodata(np.nan, encoded=False)
        v = src.rio.reproject_match(truth, resampling=resampling, nodata=np.nan).values
        return np.where(valid, v, np.nan)

    # decoded: digital numbers all fill (0, finite as stored) were told "not the same ground"
    if not np.isfinite(np.asarray(coarse.values, np.float64)).any():
        raise AllNaNError("the coarse input has no valid pixel (all NaN): check its nodata "
                          "value and mask; the maps would be empty")
    first = on_truth(coarse, Resampling.nearest)
    valid &= np.isfinite(first)  # where the input covers the truth
    if not valid.any():
        raise GridError("the truth has no valid pixel where the coarse input lies (other "
                        "places, or another CRS label): the maps would be empty; check that "
                        "both fields cover the same ground")
    rows, cols = np.where(valid)
    box = (slice(rows.min(), rows.max() + 1), slice(cols.min(), cols.max() + 1)) if rows.size else (
        slice(None), slice(None))
    top = [("input", np.where(valid, first, np.nan))]
    top += [(f"{k} {(scores or {}).get(k, '')}".strip(), on_truth(v, Resampling.bilinear))
            for k, v in results.items()]
    for k, (_, img) in zip(results, top[1:]):  # its error map was blank, with NaN limits
        if not np.isfinite(img).any():
            raise AllNaNError(f"results[{k!r}] has no valid pixel where the truth is valid (all "
                              "NaN there): check its nodata value and mask, and that it covers "
                              "the truth's ground; its error map would be empty")
    top.append(("truth", np.where(valid, truth.values, np.nan)))
    vmin, vmax = _limits(top[-1][1])
    errs = [(k, top[i + 1][1] - top[-1][1]) for i, k in enumerate(results)]
    lim = float(np.nanpercentile(np.abs(np.concatenate([e.ravel() for _, e in errs])), 98)) or 1.0
    ncol = len(top)
    fig, axes = _subplots(path is not None, 2, ncol, squeeze=False,
                          figsize=(2.6 * ncol + 1.0, 5.6),
                          layout="constrained")
    for ax in axes.ravel():
        ax.set_axis_off()
    for ax, (label, img) in zip(axes[0], top):
        im = ax.imshow(img[box], vmin=vmin, vmax=vmax, cmap="inferno", interpolation="nearest")
        ax.set_title(label, fontsize=8)
    fig.colorbar(im, ax=axes[0].tolist(), shrink=0.8, label="LST (K)")
    for ax, (label, err) in zip(axes[1, 1:], errs):
        im2 = ax.imshow(err[box], vmin=-lim, vmax=lim, cmap="RdBu_r", interpolation="nearest")
        ax.set_title(f"{label} - truth", fontsize=8)
    fig.colorbar(im2, ax=axes[1].tolist(), shrink=0.8, label="error (K)")
    # the date drawn named, as comparison names it (2-D fields of one date: a scalar time)
    heading = _titled(title, _steps_drawn([truth, coarse, *results.values()], {}))
    if heading:
        fig.suptitle(heading, fontsize=10)
    return _finish(fig, path)

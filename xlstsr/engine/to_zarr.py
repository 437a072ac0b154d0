"""Stream a super-resolved cube into a Zarr v3 store, region by region, resumably.

How it works: the lazy result of :func:`xlstsr.upscale` is written as a template
(``to_zarr(compute=False)``: metadata, coordinates, CRS), then computed one time block
(``time_chunk`` steps, a "region") at a time and stored into the template's Zarr array
(whole chunks, each written by the task that computed it). After each region its done flag is set in
a small side array, ``xlstsr_progress/done`` (one Zarr chunk per region, so setting a flag is one
small file write; 2 for a region without a valid pixel, so that a resumed run of an all-NaN input
is refused as a fresh one is). A run killed mid-way leaves the flags of the completed regions; rerunning with
``mode="resume"`` computes only the regions whose flag is unset, and the finished store is the same
as an uninterrupted run's. ``xr.open_zarr`` ignores the side group. The store's
``xlstsr_status`` attribute reads "incomplete: ..." from the template on and "complete" once
every region is written: xlstsr's readers (:func:`xlstsr.io.open_zarr`, the command line) and
``upscale_to_zarr`` itself refuse an unfinished store as input, whose unwritten steps read as NaN
(a selection of its written steps, opened with ``xr.open_zarr``, passes; the variable carries the
status too until complete, so that a copy loaded into memory is still told).

The store's attributes hold a fingerprint of the arguments (factor, method and its options -
including a torch model's weights hash -, time chunk, xlstsr version) and of the input's and
guide's metadata (dims, shape, dtype, coordinates, CRS, transform, attrs) and values: a checksum
of a sample of each (:func:`data_digest`: eight time steps, first, last and evenly spread, in a
centred window of at most 512 x 512 pixels, the same whatever the chunks), so that an input with
the same metadata but other values (a re-processed cube) is refused. Only the chunks under the
sample are read. ``mode="resume"`` refuses a store whose fingerprint differs. A Dataset input's
global attributes (``source``, ``title``, ``Conventions``...) are the store's too, and the
variable's under its own; ``history`` ends with the run's line.

Memory is set by the chunks, not the length of the cube: a region holds ``time_chunk`` steps and
``regions_in_flight`` regions (default: one per worker thread) are computed together.
On a ``dask.distributed`` cluster (the active client) each region is one task, computed on a
worker with the synchronous scheduler (the client schedules one task per region, not one per
tile; docs/results/engine.md); a worker lost mid-region has its region
recomputed elsewhere by the scheduler (whole Zarr chunks are rewritten, idempotently); if the
client itself dies, rerun with ``mode="resume"``.
"""

from __future__ import annotations

import errno
import hashlib
import itertools
import json
import logging
import os
import posixpath
import shutil
import time
import warnings
from collections.abc import Hashable, Mapping, Sequence
from pathlib import Path
from typing import Any, NoReturn

import dask
import dask.array as dsa
import numpy as np
import pandas as pd
import xarray as xr
from rioxarray.exceptions import RioXarrayError

from .._version import __version__
from ..attrs import GUIDE_OFFSET_ATTR, output_global_attrs, with_global_attrs
from ..errors import AllNaNError, InputTypeError, MethodOptionError, XlstsrError, warn
from ..grid import _semantic_encoding
from ..io.formats import absolute_path, open_with_variable
from ..io.zarr import (
    COMPLETE,
    INCOMPLETE,
    NO_DATA_STATUS,
    STATUS_ATTR,
    WRITER_ATTR,
    ZARR_MARKERS,
    advice_while_written,
    aside_path,
    file_uri_path,
    files_read,
    holds_zarr_metadata,
    is_zarr_array,
    latest_finished_aside,
    live_writer,
    local_path,
    move_advice,
    refuse_incomplete_inputs,
    restore_advice,
    root_attrs_at,
    store_exists,
    store_url_key,
    stores_left_aside,
    url_key,
    urls_read,
    writer_stamp,
    zarr_compressors,
    zarr_stores_read,
)
from ..methods import get_method
from ..methods.base import MODEL_LABELS as _MODEL_LABELS
from ..methods.base import MODEL_NAMES as _MODEL_NAMES
from ..methods.base import RUNTIME_OPTIONS, UpscaleMethod, option_names
from ..validate import (
    all_nan_advice,
    check_bool,
    check_factor,
    check_whole,
    select_lst,
    spatial_dims,
    spatial_names,
)
from .regions import active_client, parallelism, run_regions, trim_heap, workers_in_process

__all__ = ["array_fingerprint", "data_digest", "holds_data", "upscale_to_zarr"]

log = logging.getLogger(__name__)

PROGRESS_GROUP = "xlstsr_progress"
#: a region's flag in ``xlstsr_progress/done``: 0 not written, DONE written (with a valid pixel;
#: every written region of stores made before NO_DATA), NO_DATA written without a valid pixel
DONE, NO_DATA = 1, 2


MODES = ("w-", "w", "resume")


def _store_block(block: np.ndarray, target: Any, offset: tuple[int, ...],
                 block_info: dict | None = None) -> np.ndarray:
    """Write one output chunk where it belongs in the Zarr array ``target`` (``offset``: the
    region's start along the leading axes); return whether it holds a valid pixel, as a block of
    ones along every axis."""
    loc = block_info[0]["array-location"]
    off = (*offset, *(0,) * (len(loc) - len(offset)))
    target[tuple(slice(lo + o, hi + o) for (lo, hi), o in zip(loc, off))] = block
    return np.full((1,) * block.ndim, holds_data(block))


def holds_data(block: np.ndarray, rows: int = 64) -> bool:
    """Whether ``block`` holds a finite value, scanned ``rows`` rows at a time along its
    second-last axis: a block with data answers at its first valid slab (a 960 x 960 chunk of
    clear sky in ~1 % of a whole-block ``np.isfinite(block).any()``), an all-NaN one costs one
    pass.

    Examples
    --------
    >>> holds_data(np.array([[np.nan, np.nan], [np.nan, 1.0]])), holds_data(np.full((3, 3), np.nan))
    (True, False)
    """
    if block.ndim < 2:
        return bool(np.isfinite(block).any())
    n = block.shape[-2]
    return any(bool(np.isfinite(block[..., a : a + rows, :]).any()) for a in range(0, n, rows))


#: time steps (first-axis indices) of an input whose values enter the resume fingerprint
FINGERPRINT_CHUNKS = 8
#: the fingerprint reads at most this many pixels along each of the last two axes (centred)
FINGERPRINT_WINDOW = 512


def _sample_index(shape: tuple[int, ...], n: int) -> tuple[Any, ...]:
    """Where :func:`data_digest` samples an array of ``shape``, whatever its chunks: ``n``
    first-axis indices evenly spread (the first and the last included) when there are more
    than two axes, every index of the middle axes, and a centred window of at most
    :data:`FINGERPRINT_WINDOW` along each of the last two."""
    index: list[Any] = []
    for axis, size in enumerate(shape):
        if axis == 0 and len(shape) > 2:
            index.append(np.unique(np.linspace(0, size - 1, min(n, size)).round().astype(int))
                         if size else slice(None))
        elif axis >= len(shape) - 2 and size > FINGERPRINT_WINDOW:
            a = (size - FINGERPRINT_WINDOW) // 2
            index.append(slice(a, a + FINGERPRINT_WINDOW))
        else:
            index.append(slice(None))
    return tuple(index)


def data_digest(da: xr.DataArray, n_chunks: int = FINGERPRINT_CHUNKS) -> str:
    """SHA-256 (hex, 32 chars) of sampled values of an array: ``n_chunks`` time steps (first
    axis; the first, the last and evenly spread ones), each a centred window of at most
    :data:`FINGERPRINT_WINDOW` x :data:`FINGERPRINT_WINDOW` pixels. The sample is the same
    whatever the array's chunks (dask or in memory), and of a dask array only the chunks it
    touches are read.

    It tells two inputs with the same metadata apart when they differ in the sample (a
    re-processed cube differs everywhere; an edit outside the sample is not seen), and the same
    input opened with other chunks apart from nothing (before, the digest hashed whole chunks,
    so a cube reopened with other chunks could not be resumed). Cost: reading the chunks under
    eight windows and hashing 8 MiB at most; a fixed cost per run, whatever the length of the
    cube.

    Examples
    --------
    >>> import xarray as xr
    >>> a = xr.DataArray(np.arange(6.0).reshape(2, 3)).chunk(1)
    >>> data_digest(a) == data_digest(a.compute()), data_digest(a) == data_digest(a + 1)
    (True, False)
    """

    h = hashlib.sha256()
    data = da.variable.data
    index = _sample_index(tuple(data.shape), n_chunks)
    if isinstance(data, dsa.Array):
        # each sampled step a plain slice, computed on its own: dask merges a slice into the
        # read of the chunk under it when that chunk has no other use, which neither a list
        # index along time nor the steps of one graph sharing a chunk allow (a contiguous
        # NetCDF cube, one chunk, was read whole for its 8 steps)
        if not index or isinstance(index[0], slice):
            (sample,) = dask.compute(data[index])
        else:
            sample = np.concatenate(
                [dask.compute(data[(slice(int(i), int(i) + 1), *index[1:])])[0] for i in index[0]],
                axis=0)
    else:
        sample = np.asarray(data)[np.ix_(*[
            np.arange(n)[ix] if isinstance(ix, slice) else ix for ix, n in zip(index, data.shape)
        ])] if data.ndim else np.asarray(data)
    b = np.ascontiguousarray(np.asarray(sample))
    h.update(repr((b.shape, str(b.dtype))).encode())
    h.update(b.reshape(-1).view(np.uint8))  # the buffer itself: the bytes, without a copy
    return h.hexdigest()[:32]


#: CF encoding attributes left out of the fingerprint: xarray moves them between ``attrs`` and
#: ``encoding`` with how a file is opened (``grid_mapping`` with ``decode_coords="all"``), so
#: the same file opened two ways could not resume a store. Not ``_FillValue`` or
#: ``missing_value``: on an undecoded input xlstsr decodes with them, so declaring one changes
#: the result (a resume then mixed pixels kept as temperatures with the same pixels masked)
CF_ENCODING_ATTRS = frozenset({"grid_mapping", "coordinates"})


def array_fingerprint(da: xr.DataArray | xr.Dataset, *, values: bool = True) -> str:
    """SHA-256 (hex, 32 chars) of an array's metadata (dims, shape, dtype, coordinate values,
    CRS, transform and attributes, without the CF encoding ones of :data:`CF_ENCODING_ATTRS`)
    and, with ``values``, of sampled pixel values (:func:`data_digest`: a few chunks are read,
    the rest stays lazy)."""
    return _array_fingerprints(da, values=values)[0]


#: attributes a reader derives from what the fingerprint holds already (the layer's name),
#: left out of it
_LABEL_ATTRS = frozenset({"day_night"})


def _array_fingerprints(da: xr.DataArray | xr.Dataset, *, values: bool = True,
                        parts: dict[str, Any] | None = None) -> tuple[str, ...]:
    """:func:`array_fingerprint` and two that xlstsr computed before it left the CF encoding
    attributes out (all attributes hashed: the same when there are none), computed together
    (the values are sampled once) so that a store started then resumes: of the attributes as
    they are, and with ``grid_mapping`` put back from the encoding (the store started on the
    file opened with xarray's default ``decode_coords``, resumed with ``"all"``). ``parts``,
    given, is filled with a hash of each part (:data:`_INPUT_PARTS`) and of each coordinate
    (:data:`_EACH_COORDINATE`), which a refused resume compares to say which one differs.
    Then the same three with dates hashed in their own unit, as before they were put in
    nanoseconds (:func:`_ns_dates`; equal to the first three when
    every date is in nanoseconds): a store started from ``datetime64[s]`` dates resumes."""
    h, old, moved = hashlib.sha256(), hashlib.sha256(), hashlib.sha256()
    raw_h, raw_old, raw_moved = h.copy(), old.copy(), moved.copy()
    part = {k: hashlib.sha256() for k in _INPUT_PARTS}
    # each coordinate's own hash too: a refused resume names the one that differs
    each: dict[str, list[Any]] = {}
    named: dict[str, str] = {}

    def both(b: bytes, where: str, raw: bytes | None = None) -> None:
        # all but the attributes go into every hash; ``raw``: the bytes hashed before
        h.update(b)
        old.update(b)
        moved.update(b)
        for r in (raw_h, raw_old, raw_moved):
            r.update(b if raw is None else raw)
        part[where].update(b)

    def attrs_into(pairs: list[Any], *hashes: Any) -> None:
        for x in hashes:
            x.update(repr(pairs).encode())

    objs = [da[v] for v in da.data_vars] if isinstance(da, xr.Dataset) else [da]
    for a in objs:
        both(repr((a.name, a.dims, a.shape, str(a.dtype))).encode(), "name, dims, shape or dtype")
        if values:
            both(data_digest(a).encode(), "values")
        for k in sorted(a.coords, key=str):
            c = a.coords[k]
            if c.ndim <= 1 and c.size <= 10_000_000:
                both(str(k).encode(), "coordinates")
                raw = np.asarray(c.values)
                v = _ns_dates(raw)
                # object coordinates (cftime dates, granule names) by value: their bytes are
                # addresses, new at each open (a resume of the same cube was refused)
                b = ("\x1f".join(map(repr, v.ravel())).encode() if v.dtype == object
                     else np.ascontiguousarray(v).tobytes())
                both(b, "coordinates", None if v is raw else np.ascontiguousarray(raw).tobytes())
                each.setdefault(str(k), [str(v.dtype), hashlib.sha256()])[1].update(b)
        try:
            crs = a.rio.crs
        except (ValueError, RuntimeError):  # a CRS rioxarray cannot read: attrs hashed below
            crs = None
        both((crs.to_wkt() if crs is not None else "").encode(), "CRS")
        # (a reader's day/night label, which open_modis writes since session 41, is not hashed:
        # the layer's name and values say the same, and stores started before it resume)
        attrs = sorted((str(k), repr(v)) for k, v in a.attrs.items()
                       if str(k) not in _LABEL_ATTRS)
        # nor the status of the store the input was read from (a selection of its written
        # steps carries it until that store is completed; a store started from one could then
        # not be resumed): the fingerprints of before keep it (stores started then resume)
        hashed = [kv for kv in attrs if kv[0] not in CF_ENCODING_ATTRS and kv[0] != STATUS_ATTR]
        attrs_into(hashed, h, raw_h, part["attributes"])
        for k, v in hashed:  # each attribute's own hash: a refused resume names those that differ
            named[k] = hashlib.sha256(f"{k}\x1f{v}".encode()).hexdigest()[:16]
        attrs_into(attrs, old, raw_old)
        gm = a.encoding.get("grid_mapping")
        attrs_into(sorted([*attrs, ("grid_mapping", repr(gm))])
                   if gm is not None and "grid_mapping" not in a.attrs else attrs,
                   moved, raw_moved)
    if parts is not None:
        parts.update({k: v.hexdigest()[:16] for k, v in part.items()})
        parts[_EACH_COORDINATE] = {k: [d, x.hexdigest()[:16]] for k, (d, x) in each.items()}
        parts[_EACH_ATTRIBUTE] = named
    return tuple(x.hexdigest()[:32] for x in (h, old, moved, raw_h, raw_old, raw_moved))


#: the parts of an input's fingerprint hashed apart too (recorded in the store's
#: :data:`INPUT_PARTS_ATTR`): a refused resume says which differ ("they differ in ['input']"
#: left the user to guess between values, dates and attributes)
_INPUT_PARTS = ("name, dims, shape or dtype", "values", "coordinates", "CRS", "attributes")
INPUT_PARTS_ATTR = "xlstsr_input_parts"
#: the key of :data:`INPUT_PARTS_ATTR` holding each coordinate's ``[dtype, hash]`` (absent from
#: stores written before, which recorded one hash for all: their coordinates are then named by
#: comparing the store's labels with those this input gives)
_EACH_COORDINATE = "each coordinate"
#: the key of :data:`INPUT_PARTS_ATTR` holding each attribute's hash (absent from stores
#: written before: "the input's attributes differ" then names none)
_EACH_ATTRIBUTE = "each attribute"


def _ns_dates(v: np.ndarray) -> np.ndarray:
    """Dates and durations in nanoseconds, the unit a file's are decoded in: the same cube in
    memory (xarray keeps ``datetime64[s]`` from a date array) and read back from its file
    (``[ns]``) has other bytes, and its store could not be resumed. ``[ns]`` is returned as it
    is (the fingerprints of stores written before stay); values outside the ``[ns]`` range keep
    their unit."""
    if v.dtype.kind not in "mM" or np.datetime_data(v.dtype)[0] == "ns":
        return v
    ns = v.astype(v.dtype.str[:3] + "[ns]")
    return ns if np.array_equal(ns.astype(v.dtype), v, equal_nan=True) else v


def _input_parts_differ(recorded: Any, parts: Mapping[str, Any], store: Any = None,
                        ds: xr.Dataset | None = None,
                        scaled: Mapping[Hashable, tuple[Any, Any]] | None = None) -> str:
    """Which parts of the input differ from those a store recorded (:data:`INPUT_PARTS_ATTR`),
    as a clause of the refusal; "" for a store that recorded none (written before). With the
    ``store`` and the output Dataset this input gives (``ds``), differing coordinates are
    named (:func:`_coordinates_differ`, which takes ``scaled``)."""
    try:
        before = json.loads(recorded) if isinstance(recorded, str) else None
    except ValueError:
        before = None
    if not isinstance(before, dict):
        return ""
    differ = [k for k in _INPUT_PARTS if k in before and before[k] != parts.get(k)]
    if not differ:
        return ""
    said = f"the input's {', '.join(differ)} differ"
    if "coordinates" in differ and store is not None and ds is not None:
        which = _coordinates_differ(store, before.get(_EACH_COORDINATE),
                                    parts.get(_EACH_COORDINATE), ds, scaled)
        said += f": {which}" if which else ""
    if "attributes" in differ:
        said += _attributes_differ(before.get(_EACH_ATTRIBUTE), parts.get(_EACH_ATTRIBUTE))
    return said


def _attributes_differ(before: Any, now: Any) -> str:
    """The attributes that differ between two per-attribute records (:data:`_EACH_ATTRIBUTE`),
    as ": 'units' (changed), 'source' (only in the store's input)", or "" where either record
    is missing (a store written before).

    Examples
    --------
    >>> _attributes_differ({"units": "a", "source": "b"}, {"units": "c", "title": "d"})
    ": 'units' (changed), 'source' (only in the store's input), 'title' (only in this input)"
    """
    if not isinstance(before, Mapping) or not isinstance(now, Mapping):
        return ""
    said = [f"{k!r} (changed)" for k in sorted(before) if k in now and before[k] != now[k]]
    said += [f"{k!r} (only in the store's input)" for k in sorted(before) if k not in now]
    said += [f"{k!r} (only in this input)" for k in sorted(now) if k not in before]
    return f": {', '.join(said)}" if said else ""


def _coordinates_differ(store: Any, before: Any, now: Any, ds: xr.Dataset,
                        scaled: Mapping[Hashable, tuple[Any, Any]] | None = None) -> str:
    """The input's coordinates that differ from those the store was written from, each with
    how (dtype, number of labels, largest difference of the labels the store holds from it and
    those this input gives, ``ds``'s), or "". ``before`` and ``now``: the per-coordinate
    records (:data:`_EACH_COORDINATE`); a store written before, which has none, is compared by
    its labels alone. Only the small (0-D, 1-D) coordinates are read. ``scaled``: the output
    dims (y, x) with the factors (the store's, this run's) their input was upscaled by: their
    labels are the output grid's, counted as the input's pixels they come from."""
    try:
        stored = xr.open_zarr(store, consolidated=False, chunks=None, decode_coords=False)
    except Exception:  # a store that cannot be read: the coordinates are named by record only
        stored = None
    small = [str(c) for c, v in ds.coords.items() if v.ndim <= 1]
    if isinstance(before, dict) and isinstance(now, dict):
        names = [c for c in sorted(set(before) | set(now)) if before.get(c) != now.get(c)]
    elif stored is not None:
        names = [c for c in small if c not in stored.variables
                 or not _same_stored(stored[c].values, ds[c])]
        before = now = None
    else:
        return ""
    said = []
    for c in names:
        if before is not None and c not in before:
            said.append(f"{c!r} is new (the store's input had none)")
            continue
        if now is not None and c not in now:
            said.append(f"{c!r} is missing (the store's input had one)")
            continue
        how = []
        if before is not None and now is not None and before[c][0] != now[c][0]:
            how.append(f"{before[c][0]} there, {now[c][0]} here")
        if stored is not None and c in stored.variables and c in small:
            old, new = np.asarray(stored[c].values), np.asarray(ds[c].values)
            dim = ds[c].dims[0] if ds[c].ndim == 1 else None
            if old.shape != new.shape and scaled and dim in scaled:
                # the labels of the output (fine) grid: "64 there, 60 here" for 16 and 15 input
                # columns was told as the input's
                how.append(_grid_counts_differ(old.size, new.size, *scaled[dim]))
            else:
                how += _labels_differ(old, new, c, dtypes=before is None)
        said.append(f"{c!r} differs" + (f" ({'; '.join(how)})" if how else ""))
    return "; ".join(said)


def _grid_counts_differ(old: int, new: int, factor_old: Any, factor_new: Any) -> str:
    """How many labels an output grid dim has in the store (``old``) and here (``new``), as the
    input pixels they come from (each upscaled by its ``factor``), where whole.

    Examples
    --------
    >>> _grid_counts_differ(64, 60, 4, 4)
    '16 input pixels there, 15 here: 64 and 60 labels on the output grid'
    >>> _grid_counts_differ(64, 60, None, 4)
    "the output grid's 64 labels there, 60 here"
    """
    whole = [n // f for n, f in ((old, factor_old), (new, factor_new))
             if isinstance(f, (int, np.integer)) and not isinstance(f, bool) and f > 0
             and n % f == 0]
    if len(whole) < 2:
        return f"the output grid's {old} labels there, {new} here"
    return (f"{whole[0]} input pixels there, {whole[1]} here: {old} and {new} labels on the "
            "output grid")


def _labels_differ(old: np.ndarray, new: np.ndarray, name: str,
                   dtypes: bool = True) -> list[str]:
    """How a coordinate's labels the store holds (``old``) differ from those this input gives
    (``new``): their number, or their largest difference (numbers and dates) and, with
    ``dtypes``, their dtypes, with a hint for float labels off by less than a thousandth of
    their spacing or a few float32 steps (a grid re-read with rounding or in another
    precision, not another grid)."""
    if old.shape != new.shape:
        return [f"{old.size} labels there, {new.size} here"]
    if old.size == 0:
        return []
    if old.dtype.kind == "M" and new.dtype.kind == "M":
        a, b = old.astype("datetime64[ns]"), new.astype("datetime64[ns]")
        ok = ~(np.isnat(a) | np.isnat(b))
        gap = int(np.abs(a[ok] - b[ok]).max()) if ok.any() else 0
        # equal dates (another part differs: their NaT, their dtype) are no "up to 0 days"
        return [f"its labels by up to {pd.Timedelta(gap, 'ns')}"] if gap else []
    if old.dtype.kind not in "fiu" or new.dtype.kind not in "fiu":
        return []
    a, b = old.astype("float64"), new.astype("float64")
    ok = ~(np.isnan(a) | np.isnan(b))
    if not ok.any():
        return []
    d = float(np.abs(a[ok] - b[ok]).max())
    if d == 0:
        return []
    told = [f"its labels by up to {d:.3g}"]
    if dtypes and old.dtype != new.dtype:  # (a store written before recorded no dtype)
        told.insert(0, f"{old.dtype} there, {new.dtype} here")
    step = np.abs(np.diff(b.ravel()))
    step = float(np.median(step[step > 0])) if (step > 0).any() else 0.0
    # a float label's rounding: a thousandth of the spacing, or a few float32 steps (float32
    # x/y in metres are 0.5 m apart at 5e6 m)
    floats = [x.dtype for x in (old, new) if x.dtype.kind == "f"]
    tol = max([1e-3 * step] + [4 * float(np.spacing(np.abs(b).max().astype(t)))
                               for t in floats if t.itemsize <= 4])
    if floats and (step == 0 or d <= tol):
        told.append(f"the same grid re-read with rounding or in another precision? pass "
                    f"{name!r} as the first run read it")
    return told


def _guide_order_differs(recorded: Any, now: Any) -> str:
    """A clause of a refused resume whose dict guide holds the same bands in another order
    (the methods see the bands in the dict's order: DMS's trees differ), else ""."""
    def names(fp: Any) -> list[str] | None:
        pairs = isinstance(fp, list) and all(isinstance(p, list) and len(p) == 2 for p in fp)
        return [str(p[0]) for p in fp] if pairs and fp else None

    a, b = names(recorded), names(now)
    if a is None or b is None or a == b or sorted(map(repr, recorded)) != sorted(map(repr, now)):
        return ""
    return (f"the guide's bands are the same in another order ({a} there, {b} here): give the "
            "dict in the store's order")


def _offset_summary_recorded(recorded: Any, now: Any) -> str:
    """A clause of a refused resume whose store recorded a guide_offset Dataset by its printed
    summary (xlstsr before it was hashed by content: 4 digits, the middle values elided), which
    cannot tell whether this one is the same, else ""."""
    a = recorded.get("guide_offset") if isinstance(recorded, dict) else None
    b = now.get("guide_offset") if isinstance(now, dict) else None
    if not (isinstance(a, str) and a.startswith("<xarray.") and isinstance(b, str)
            and "sha256:" in b):
        return ""
    return ("the store recorded its guide_offset Dataset by a rounded, abbreviated summary "
            "(an older xlstsr), which cannot show that this one is the same: write the store "
            "again with mode='w'")


#: how many fingerprints :func:`_array_fingerprints` gives (today's first, then those of before)
_N_FINGERPRINTS = 6


def _guide_fingerprints(guide: Any) -> list[Any]:
    """The guide's fingerprint (its arrays' :func:`array_fingerprint`, in its structure; a
    dict of bands as ``[name, fingerprint]`` pairs in its order, which the methods see its
    bands in) and those of before (:func:`_array_fingerprints`; then the same with a dict as
    ``{name: fingerprint}``, as stores written before recorded it, whose order was lost), from
    one read of its sampled values."""
    now, before = _guide_fingerprint_forms(guide)
    return now + before


def _guide_fingerprint_forms(guide: Any) -> tuple[list[Any], list[Any]]:
    """:func:`_guide_fingerprints` as two lists of :data:`_N_FINGERPRINTS`: with dicts as
    ordered pairs, and as mappings (the record of before)."""
    n = _N_FINGERPRINTS
    if guide is None:
        return [None] * n, [None] * n
    if isinstance(guide, (xr.DataArray, xr.Dataset)):
        fps = list(_array_fingerprints(guide))
        return fps, list(fps)
    if isinstance(guide, dict):
        parts = [(str(k), _guide_fingerprint_forms(v)) for k, v in guide.items()]
        return ([[[k, p[0][j]] for k, p in parts] for j in range(n)],
                [{k: p[1][j] for k, p in parts} for j in range(n)])
    if isinstance(guide, (list, tuple)):
        items = [_guide_fingerprint_forms(g) for g in guide]
        return ([[p[0][j] for p in items] for j in range(n)],
                [[p[1][j] for p in items] for j in range(n)])
    return [repr(guide)] * n, [repr(guide)] * n


def _remove_local_store(store: Any) -> bool:
    """Delete a Zarr store given as a local folder path; False for anything else."""
    if not isinstance(store, (str, os.PathLike)) or "://" in os.fspath(store):
        return False
    p = Path(store)
    if not p.is_dir():
        return False
    shutil.rmtree(p)
    return True


def _local_folder(store: Any) -> Path | None:
    """The local folder of a store: a path as given (not resolved: a link stays a link), the
    folder of a local store object (zarr's ``LocalStore``, an fsspec mapper on the local file
    system; :func:`xlstsr.io.zarr.local_path`), else None (a URL, an in-memory or remote
    store)."""
    if isinstance(store, (str, os.PathLike)):
        return None if "://" in os.fspath(store) else Path(store)
    return local_path(store)


def _remove_new_store(store: Any, was_folder: bool) -> bool:
    """Remove what this call wrote of a local store it started (a path or a local store
    object): the folder, or, when it was an empty folder before (the user's), its contents.
    False for anything else (a URL, an in-memory or remote store: left as it is)."""
    p = _local_folder(store)
    if p is None or not p.is_dir() or p.is_symlink():
        return False
    if not was_folder:
        return _remove_local_store(p)
    for child in p.iterdir():
        if child.is_dir() and not child.is_symlink():
            shutil.rmtree(child)
        else:
            child.unlink()
    return True


class _StoreTakenOver(XlstsrError):
    """The store this run writes no longer records it as its writer: another run took it over
    (or it was removed or replaced); this run leaves it as it is."""


def _claim_local_store(p: Path, stamp: Mapping[str, Any]) -> bool:
    """Claim a new local store for this run, atomically: create its folder if it is missing,
    then its root ``zarr.json`` (a group marked incomplete, stamped with this run) with
    ``O_EXCL``, which exactly one of several runs started together on the same path creates.
    False if another run did (the store is theirs: nothing here touches it); an OSError when
    the folder cannot be written.

    (Two runs both passed the "exists" check before either wrote its template; the second's
    ``mode="w"`` template deleted the first's under it, and both "finished" one store mixing
    their results.)"""
    p.mkdir(parents=True, exist_ok=True)
    try:
        fd = os.open(p / "zarr.json", os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o666)
    except FileExistsError:
        return False
    with os.fdopen(fd, "w") as f:
        json.dump({"zarr_format": 3, "node_type": "group",
                   "attributes": {STATUS_ATTR: INCOMPLETE, WRITER_ATTR: dict(stamp)}}, f)
    return True


def _same_writer(w: Any, stamp: Mapping[str, Any]) -> bool:
    return isinstance(w, Mapping) and all(w.get(k) == stamp.get(k)
                                          for k in ("host", "pid", "process_start"))


def _refuse_taken_over(store: Any, stamp: Mapping[str, Any], aside: Path | None) -> None:
    """Refuse to go on (mark a region done, or the store complete) when the store's writer
    stamp is no longer this run's: another run took it over, and marking it would declare
    complete a store that mixes the two runs' results."""
    import zarr

    try:
        w = zarr.open_group(store, mode="r").attrs.get(WRITER_ATTR)
    except (FileNotFoundError, zarr.errors.BaseZarrError):
        w = None
    if _same_writer(w, stamp):
        return
    who = (f"process {w.get('pid')} on {w.get('host')}" if isinstance(w, Mapping)
           else "another run, or it was removed or replaced")
    kept = (f" The store this run was to replace is kept at {aside}." if aside is not None
            and aside.exists() else "")
    raise _StoreTakenOver(
        f"the store {_store_label(store)} is no longer written by this run (it records {who}): "
        "two runs wrote one output, and its values may mix both. This run stops and leaves the "
        "store as it is. Let one run write each output: once the other run has finished, "
        "check its result, or write this one to another path (or again with mode='w')." + kept
    )


def _without_storage_encoding(ds: xr.Dataset) -> xr.Dataset:
    """``ds`` (a shallow copy) with the storage encodings of its variables and coordinates
    dropped: the data variable's are given to the writer anew, the coordinates keep the CF
    date encoding only (:func:`xlstsr.grid._semantic_encoding`: an input store's others, a Zarr
    v2 store's numcodecs ``compressors``, its ``chunks``, describe that store: zarr refused a v2
    codec in the v3 template)."""
    ds = ds.copy(deep=False)
    for name, var in ds.variables.items():
        if name in ds.data_vars:
            var.encoding = {k: v for k, v in var.encoding.items()
                            if k in ("grid_mapping", "coordinates")}
        else:
            var.encoding = _semantic_encoding(var.encoding)
    return ds


def _set_aside(store: Any) -> Path | None:
    """Move an existing local store out of the way of a ``mode="w"`` run (a rename, instant):
    returned to its place if the run fails before a region is written, deleted once one is
    (a rerun with a refused input had deleted the earlier result before reading any value).
    A local store object (``LocalStore``, an fsspec local mapper) is its folder: given so, the
    earlier result was deleted at once.

    An unfinished store is set aside like any other (put back on failure, deleted once a region
    lands): it may hold hours of written regions, another input's only copy. Only one that
    records no written region, beside a store an interrupted overwrite set aside (that
    overwrite's own start), is removed at once: it holds nothing, and kept it made a second
    hidden copy per killed rerun (the advice then names one copy back and this one to delete)."""
    p = _local_folder(store)
    if p is None or not p.is_dir() or p.is_symlink():  # a link: replaced in place, as before
        return None
    if _status_of(p) not in (None, COMPLETE) and _nothing_written(p) and stores_left_aside(p):
        shutil.rmtree(p)
        log.info("upscale_to_zarr: removed the unfinished store at %s (an interrupted "
                 "overwrite's, no region written; the store it replaced stays set aside)", p)
        return None
    aside = aside_path(p)
    p.rename(aside)
    return aside


#: a lazy guide without time steps up to this size is read once per call and held (in memory,
#: or on the workers): each region read it again (13 reads of it for 12 dates)
STATIC_GUIDE_HELD_BYTES = 2 * 1024**3


def _static_guide_read_once(guide: Any, lst: xr.DataArray, tdim: Hashable | None) -> Any:
    """A lazy guide shared by every time step, cut to the LST's extent (with a margin of a few
    LST pixels) and persisted when that is small enough to hold; else as given (streamed tile
    by tile, as before). Held whole, a guide larger than the LST cost its whole size.

    Under a dask.distributed client it is held on the workers (read there, where the regions
    run, not pulled through the client): each region task receives the chunks it reads as its
    dependencies (:func:`xlstsr.engine.regions.run_regions`)."""
    if not isinstance(guide, (xr.DataArray, xr.Dataset)) or not _lazy(guide):
        return guide
    if tdim is not None and tdim in guide.dims:
        return guide  # each region reads its own steps
    try:
        left, bottom, right, top = lst.rio.bounds()
        pad = 4 * max(abs(v) for v in lst.rio.resolution(recalc=True))
        cut = guide.rio.clip_box(left - pad, bottom - pad, right + pad, top + pad,
                                 crs=lst.rio.crs)
    except (RioXarrayError, ValueError):
        return guide  # no CRS, no overlap: the checks of upscale say so
    if cut.nbytes > STATIC_GUIDE_HELD_BYTES:
        return guide
    return cut.persist()


def _all_written(store: Any) -> bool:
    """True if the progress record of an upscale_to_zarr store says every region is written
    (a resume then computes nothing); False if it has none, or it cannot be read."""
    import zarr

    try:
        done = zarr.open_array(store, path=f"{PROGRESS_GROUP}/done", mode="r")[:]
    except Exception:  # no record, or none readable: the checks below say so
        return False
    return bool(np.size(done)) and bool(np.all(np.isin(np.asarray(done), (DONE, NO_DATA))))


def _nothing_written(p: Path) -> bool:
    """True if the progress record of the store folder ``p`` records no region (written or
    without data); False if it records one, or has none that can be read (kept, to be safe)."""
    import zarr

    try:
        done = zarr.open_array(str(p), path=f"{PROGRESS_GROUP}/done", mode="r")[:]
    except Exception:  # no record, or none readable: not known to be empty
        return False
    return not np.any(np.asarray(done))


def _status_of(p: Path) -> Any:
    """The ``xlstsr_status`` of the store folder ``p`` (None: not an xlstsr store, or none)."""
    return root_attrs_at(p).get(STATUS_ATTR)


def _warn_left_aside(store: Any, mode: str) -> None:
    """Name the stores an interrupted ``mode="w"`` run left set aside (a process killed by the
    OOM killer or a wall-time limit): each is a hidden copy as large as the earlier result,
    which nothing else would ever report or remove.

    Each is told finished or not, and only one is advised back to the path: the latest finished
    result (else the latest unfinished store), never over a finished store at the path. Two
    copies each advised back, run in turn, deleted the result the first had restored.
    ``mode`` is this run's: a resume of the store at the path is about to complete it, and
    ``mode="w"`` - or any mode on a path where no store exists (``"w-"``, a resume started
    afresh) - is about to write this run's result there, so that no copy is advised back over
    it: each is advised a path of its own (a restore, followed after the run, failed on the
    new result or deleted it). While another process writes the store at the path (a resume),
    none is advised back: the removal of that store a restore begins with deleted its work."""
    if not isinstance(store, (str, os.PathLike)) or "://" in os.fspath(store):
        return
    p = Path(store)
    asides = stores_left_aside(p)
    if not asides:
        return
    attrs = root_attrs_at(p) if p.is_dir() else {}
    here = attrs.get(STATUS_ATTR)
    writer = live_writer(attrs)  # (this run is refused below: the store is another's now)
    resumed = mode == "resume" and here is not None
    overwritten = mode == "w" or (mode in ("w-", "resume") and not store_exists(p))
    status = {a: _status_of(a) for a in asides}
    back = latest_finished_aside(p, asides) or asides[-1]
    for aside in asides:
        done = status[aside] in (None, COMPLETE)
        what = (" (a finished result)" if status[aside] == COMPLETE else "" if done
                else " (an unfinished store, an earlier interrupted run's: no finished result)")
        gone = f"`import shutil; shutil.rmtree({str(aside)!r})`"
        if writer is not None:
            advice = (f"{advice_while_written(p, aside, writer['pid'])}, or delete it ({gone}) "
                      "to free its space.")
        elif overwritten or here == COMPLETE or resumed:
            now = (f"to hold the result this run (mode={mode!r}) writes" if overwritten
                   else "a finished result" if here == COMPLETE
                   else "being completed by this resume")
            advice = (f"The store at {p} is {now}, which this copy must not replace: to keep "
                      f"both, {move_advice(p, aside)}, or delete it ({gone}) to free its space.")
        elif aside is back:
            advice = (f"{restore_advice(p, aside, here not in (None, COMPLETE))}"
                      + (", then complete it with mode='resume'" if not done else "")
                      + f", or delete it ({gone}) to free its space.")
        elif done:
            advice = (f"The later result kept at {back} is the one to restore; to keep this "
                      "one too, " + move_advice(p, aside) + f", or delete it ({gone}) to "
                      "free its space.")
        else:
            advice = f"Delete it ({gone}): it holds no finished result."
            if not _nothing_written(aside):  # (a store of another input it replaced, resumable)
                advice += (" To complete it instead, " + move_advice(p, aside) + " and "
                           "complete it there with mode='resume' and its own input.")
        warn(
            f"an earlier overwrite of {p} was interrupted: the store it replaced is kept, "
            f"hidden, at {aside}{what}. {advice}",
            UserWarning,
        )


def _release_writer(store: Any) -> None:
    """Remove this process's writer stamp (:data:`WRITER_ATTR`) from a store whose run has
    stopped; best effort (a store removed, put back, or no longer writable is left as it is)."""
    import zarr

    try:
        root = zarr.open_group(store, mode="r+")
        w = root.attrs.get(WRITER_ATTR)
        if isinstance(w, Mapping) and w.get("pid") == os.getpid() \
                and w.get("host") == writer_stamp().get("host"):
            root.attrs.pop(WRITER_ATTR, None)  # zarr writes the attributes back at once
    except Exception as err:  # best effort: the error being raised is the one that matters
        log.debug("upscale_to_zarr: writer stamp of %s not removed (%s)", _store_label(store),
                  err)


def _put_back(store: Any, aside: Path | None) -> bool:
    """The set-aside store back in its place, the new one removed (True if one was)."""
    if aside is None or not aside.exists():
        return False
    p = _local_folder(store)
    if p is None:  # pragma: no cover - only a local store is set aside
        return False
    _remove_local_store(p)
    aside.rename(p)
    return True


def _whole(name: str, value: Any, default: Any = None) -> Any:
    """``value`` as a positive whole number (None: ``default``), or an XlstsrError naming it
    (2.5, "2" or True are not taken as 2 or 1)."""
    if value is None:
        return default
    return check_whole(name, value, 1, hint="or None for the default")


def _normal_store(store: Any) -> Any:
    """The store as upscale_to_zarr uses it: ``~`` expanded and ``file://`` URLs made local
    paths (so that the checks on local folders see them, and zarr, which does not expand ``~``,
    finds the store xarray created), an fsspec mapper on the local file system, a zarr
    ``LocalStore`` and an ``FsspecStore`` on the local file system their folder; a read-only
    store and anything that is no store refused."""
    if store is None:
        raise InputTypeError("store is None: pass the output Zarr store's path (e.g. "
                             "'out.zarr') or a zarr store object.")
    if isinstance(store, (str, os.PathLike)) and not isinstance(store, bytes):
        s = os.fspath(store)
        if not s.strip():
            raise XlstsrError("store is an empty path: pass the output Zarr store's path "
                              "(e.g. 'out.zarr').")
        url_path = file_uri_path(s)  # percent-decoded, as the readers decode it
        if url_path is not None:
            s = os.fspath(url_path)
        # absolute: the regions are written by dask workers, which on a batch cluster start
        # in another folder (a relative store got every region there, and came back NaN)
        return absolute_path(s) if "://" not in s else s
    from zarr.abc.store import Store
    from zarr.storage import FsspecStore, LocalStore

    root = getattr(store, "root", None)
    if isinstance(store, Mapping) and isinstance(root, str) and getattr(store, "fs", None) \
            is not None and local_path(store) is not None:
        # an fsspec mapper on the local file system: its folder, as a path (zarr's mode="w"
        # removed the folder, and the mapper, which does not create folders, could not write
        # the template into it)
        return absolute_path(root)
    if isinstance(store, Mapping) and isinstance(root, str) and getattr(store, "fs", None) \
            is not None:
        # a remote fsspec mapper (get_mapper('s3://...'), s3fs.S3Map): as zarr's own fsspec
        # store (zarr takes no path= into a mapper: its arrays' writes failed after the
        # template was written, and so did a resume)
        return FsspecStore.from_mapper(store)
    if isinstance(store, Store) and store.read_only:
        # (a path would drop the setting, and zarr refused only once the data were computed)
        raise XlstsrError(
            f"the store {_store_label(store)} was opened read only (read_only=True): "
            "upscale_to_zarr writes it. Pass its path, or the store opened for writing "
            "(read_only=False)."
        )
    if type(store) in (LocalStore, FsspecStore) and local_path(store) is not None:
        # a local store object: its folder, as a path, so that the checks of a path (a folder
        # of other files, an array of another store, a file, a link), the claim of a new store
        # and the set-aside of one replaced apply (given as an object, mode="w" deleted a
        # folder of the user's files; such a store carries no other setting). A subclass or
        # a wrapper stays an object (its behaviour is its own): _check_store checks its folder
        return absolute_path(store.root if isinstance(store, LocalStore) else store.path)
    if isinstance(store, (Store, Mapping)):
        return store
    raise InputTypeError(
        f"store must be a path (str or pathlib.Path, e.g. 'out.zarr'), a URL such as "
        f"'s3://bucket/out.zarr' or a zarr store object, got {type(store).__name__} "
        f"{store!r:.60}."
    )


def _store_label(store: Any) -> str:
    """The store as messages name it: a path or URL as given; an in-memory store by its type
    and size (a dict's repr printed every chunk it held)."""
    if isinstance(store, (str, os.PathLike)):
        return str(store)
    root = getattr(store, "root", None)  # an fsspec mapper (FSMap): its location
    fs = getattr(store, "fs", None)
    if isinstance(root, str) and fs is not None:
        proto = fs.protocol if isinstance(fs.protocol, str) else fs.protocol[0]
        return root if "://" in root or proto in ("file", "local") else f"{proto}://{root}"
    key = store_url_key(store)  # a remote FsspecStore: its URL, not its repr
    if key is not None:
        return key
    if isinstance(store, dict):  # counting a remote mapping's keys would list the store
        return f"(a {type(store).__name__} of {len(store)} keys, in memory)"
    return f"{type(store).__name__} {repr(store)[:60]}"


def _in_memory(store: Any) -> bool:
    """Whether ``store`` lives in this process's memory (a MemoryStore, a dict, memory://)."""
    import zarr

    if isinstance(store, str):
        return store.startswith("memory://")
    if isinstance(store, zarr.storage.MemoryStore):
        return True
    return isinstance(store, dict)


def _refuse_unseen_store(client: Any, folder: Path, label: str) -> None:
    """Refuse a local store that a dask.distributed client's workers do not see: each worker
    is asked (one ``client.run``) whether the store's metadata, which this process has just
    written, is there. Workers on other machines (a Pangeo hub, dask-gateway, a batch
    cluster without a shared file system) wrote every region into a folder of their own disk,
    and the store came back all NaN, marked complete. In-process workers share this
    process's disk and are not asked; a worker that cannot answer is not taken for one that
    does not see the store."""
    if workers_in_process(client):
        return
    meta = os.path.join(os.fspath(folder), "zarr.json")
    try:
        seen = client.run(os.path.exists, meta, on_error="return")
    except Exception:  # pragma: no cover - a client that cannot ask: the regions will tell
        return
    blind = sorted(str(w) for w, ok in seen.items() if ok is False)
    if blind:
        shown = ", ".join(blind[:4]) + (f" and {len(blind) - 4} more" if len(blind) > 4 else "")
        raise XlstsrError(
            f"the store {label} is a local folder that {len(blind)} of the {len(seen)} dask "
            f"workers do not see ({shown}): they run on other machines (or file systems), and "
            "would write their regions into a folder of their own disk, leaving this one "
            "empty. Write to a folder on a file system shared by this process and the workers, "
            "or to a URL that all of them reach (e.g. 's3://bucket/out.zarr', "
            "'gs://bucket/out.zarr')."
        )


#: dask's local schedulers that compute in this process (an in-memory store is shared with them)
_IN_PROCESS_SCHEDULERS = (None, "threads", "threading", "sync", "synchronous", "single-threaded")


def _scheduler_in_process() -> bool:
    """Whether dask's active local scheduler computes in this process (threads, synchronous):
    not "processes"/"multiprocessing", nor a custom get function other than dask's own
    threaded and synchronous ones."""
    from concurrent.futures import ThreadPoolExecutor

    import dask.local
    import dask.threaded

    sched = dask.config.get("scheduler", None)
    if isinstance(sched, str) or sched is None:
        return sched in _IN_PROCESS_SCHEDULERS
    return isinstance(sched, ThreadPoolExecutor) or sched in (dask.threaded.get,
                                                                dask.local.get_sync)


def _check_url(store: str) -> None:
    """Refuse a URL store that cannot be written, with the fix: a protocol fsspec does not
    know or whose package is missing, HTTP (read only), a zip archive."""
    import fsspec

    protocols = [part.split("://")[0] for part in store.split("::") if "://" in part]
    if "zip" in protocols:
        raise XlstsrError(_ZIP_MESSAGE.format(store=_store_label(store)))
    for proto in protocols:
        if proto in ("http", "https"):
            raise XlstsrError(
                f"cannot write the store {_store_label(store)}: HTTP(S) is read only. Write to a local path "
                "or to object storage (e.g. 's3://bucket/out.zarr', 'gs://...')."
            )
        try:
            fsspec.get_filesystem_class(proto)
        except ImportError as err:
            raise XlstsrError(
                f"cannot write the store {_store_label(store)}: {err} (fsspec's package for '{proto}://'), "
                f"e.g. `pip install {_FSSPEC_PACKAGES.get(proto, proto + 'fs')}`."
            ) from None
        except ValueError:
            raise XlstsrError(
                f"cannot write the store {_store_label(store)}: '{proto}://' is not a protocol fsspec knows; "
                "check the URL (e.g. 's3://bucket/out.zarr') or give a local path."
            ) from None


#: fsspec protocols and the package that provides them
_FSSPEC_PACKAGES = {"s3": "s3fs", "s3a": "s3fs", "gs": "gcsfs", "gcs": "gcsfs", "az": "adlfs",
                    "abfs": "adlfs", "abfss": "adlfs"}

_ZIP_MESSAGE = (
    "cannot write the store {store} as a zip archive: upscale_to_zarr writes region by region "
    "and marks each one done, and a zip entry cannot be rewritten. Write a folder store "
    "(e.g. 'out.zarr'), then zip it once finished (`cd out.zarr && zip -r -0 ../out.zarr.zip .`), "
    "which `zarr.storage.ZipStore` and `xr.open_zarr` read."
)


def _refuse_live_writer(store: Any) -> None:
    """Refuse a store another upscale_to_zarr run on this machine is writing now: a second
    run would delete it under the first (mode="w") or write the same regions beside it
    (mode="resume"), and each would mark the store finished over the other's work."""
    import zarr

    try:
        attrs = dict(zarr.open_group(store, mode="r").attrs)
    except (OSError, ValueError, KeyError, zarr.errors.BaseZarrError):
        # not a group (an array path, a user's folder) or unreadable metadata (a killed run's
        # half-written zarr.json: no writer can be read, and it raised a JSONDecodeError
        # through the command line): the checks below say so
        return
    w = live_writer(attrs)
    if w is not None:
        raise XlstsrError(
            f"the store {_store_label(store)} is being written now by another upscale_to_zarr run (process "
            f"{w['pid']} on this machine): a second run would write over it. Wait for that run "
            f"to finish, or stop it (`kill {w['pid']}`) and complete the store with "
            "mode='resume' (`xlstsr upscale ... --resume`), or write to another path."
        )


def _refuse_existing(store: Any) -> NoReturn:
    """Refuse ``mode="w-"`` (the default) on a store that exists (one another run writes now
    told so: mode='w' and mode='resume', advised here, are refused on it)."""
    _refuse_live_writer(store)
    raise XlstsrError(
        f"the store {_store_label(store)} exists; pass mode='w' to overwrite it, mode='resume' to complete "
        "an interrupted run, or choose another path."
    )


def _check_store(store: Any, mode: str) -> None:
    """Refuse a store that is no place for this call's Zarr output before anything is written:
    a path to a file or of another format's name (a zip archive included), a URL that cannot
    be written, an in-memory store with a dask.distributed client or dask's processes scheduler
    (each worker would write into its own copy), and - with ``mode="w"``, which deletes what is there - a non-empty folder
    that is not a Zarr store (a user's other files)."""
    import zarr

    from .regions import active_client

    if isinstance(store, zarr.storage.ZipStore):
        raise XlstsrError(_ZIP_MESSAGE.format(store=_store_label(store)))
    client = active_client()
    if _in_memory(store) and client is not None and not (
            isinstance(store, str) and workers_in_process(client)):
        # (fsspec's memory:// is one per process: shared with in-process workers only; a
        # MemoryStore object is copied into the tasks even then - the store came back NaN)
        raise XlstsrError(
            f"the store {_store_label(store)} is held in this process's memory, and a dask.distributed "
            "client is active: each worker would write its regions into its own copy of it, "
            "and the store returned would hold none of them. Write to a path (local or "
            "'s3://...'), or close the client (`client.close()`) for an in-memory store."
        )
    if _in_memory(store) and client is None and not _scheduler_in_process():
        # dask's "processes" scheduler (or another custom one): each worker process writes
        # into its own copy of the store, and the store came back all NaN, marked complete
        raise XlstsrError(
            f"the store {_store_label(store)} is held in this process's memory, and dask's "
            f"scheduler ({dask.config.get('scheduler', None)!r}) computes in other processes: "
            "each would write its regions into its own copy of it, and the store returned "
            "would hold none of them. Write to a path (local or 's3://...'), or use the "
            "threads scheduler for an in-memory store (`with dask.config.set(scheduler="
            "'threads'):`)."
        )
    if not isinstance(store, (str, os.PathLike)):
        # a local store object kept as one (a subclass, a wrapper): its folder gets the checks
        # of a path (else mode="w" deleted a folder of the user's files)
        folder = local_path(store)
        if folder is None:
            return
        store = folder
    if "://" in os.fspath(store):
        _check_url(os.fspath(store))
        _check_url_contents(os.fspath(store), mode)
        return
    p = Path(store)
    if p.suffix.lower() == ".zip":
        raise XlstsrError(_ZIP_MESSAGE.format(store=_store_label(store)))
    if p.suffix.lower() in (".nc", ".tif", ".tiff", ".nc4", ".h5"):
        raise XlstsrError(
            f"{_store_label(store)} names a {p.suffix} file but upscale_to_zarr writes a Zarr store: give it "
            "a '.zarr' path, or write other formats with `xlstsr.upscale(...).to_netcdf(...)` / "
            "`.rio.to_raster(...)` (or the command line: `xlstsr upscale in out.tif`)."
        )
    if mode == "w" and p.is_symlink():
        # the store is set aside (renamed) before it is replaced, which a link is not: the
        # refusal came late, in shutil's words, with advice about permissions and free space
        raise XlstsrError(
            f"{_store_label(store)} is a symbolic link (to {os.path.realpath(p)}): mode='w' "
            "replaces a store, not a link. Give the store's own path "
            f"({os.path.realpath(p)}), or remove the link first."
        )
    if p.exists() and not p.is_dir():
        raise XlstsrError(f"{_store_label(store)} is a file, not a Zarr store (a folder): choose another path "
                          "or remove the file yourself.")
    for parent in p.absolute().parents:  # the nearest existing folder above it must be one
        if parent.exists():
            if not parent.is_dir():
                raise XlstsrError(
                    f"the store {_store_label(store)} cannot be created: {parent} is a file, not a folder. "
                    "Choose a path in a folder."
                )
            break
    store_root = (next((q for q in p.absolute().parents if holds_zarr_metadata(q)), None)
                  if p.is_dir() and is_zarr_array(p) else None)
    if store_root is not None:
        _refuse_array_of_store(store, store_root)
    if p.is_dir() and any(p.iterdir()) and not holds_zarr_metadata(p):
        _refuse_other_files(store, mode)


def _refuse_other_files(store: Any, mode: str) -> NoReturn:
    """Refuse a folder (or URL prefix) that holds other files and no Zarr store."""
    if mode == "w":
        raise XlstsrError(
            f"{_store_label(store)} is a folder that holds other files and no Zarr store: mode='w' would "
            "delete them. Choose a new path (or an existing Zarr store to overwrite)."
        )
    # mode='resume' or 'w-': advice to overwrite it (the refusal of a store that exists)
    # was itself refused, as above
    what = ("was not written by upscale_to_zarr: it is a folder of other files, not a Zarr "
            "store, so there is nothing to resume" if mode == "resume" else
            "exists and is a folder of other files, not a Zarr store")
    raise XlstsrError(
        f"{_store_label(store)} {what}. Choose a new path for the output (or an empty "
        "folder)."
    )


def _refuse_array_of_store(store: Any, store_root: Any) -> NoReturn:
    """Refuse a path that is an array (a variable) of another Zarr store."""
    # mode="w" deleted a variable of the user's store and nested a group in its place (an
    # array that is a store of its own, zarr.save_array's, is overwritten as before)
    raise XlstsrError(
        f"{_store_label(store)} is an array (a variable) of the Zarr store {store_root}, not a store: upscale_to_zarr writes a whole store (coordinates, progress record), and "
        "mode='w' would delete that variable. Write to a store of its own (e.g. "
        "'lst_250m.zarr'), and add it to the other store afterwards if you want it there."
    )


def _check_url_contents(store: str, mode: str) -> None:
    """:func:`_check_store`'s refusals of a folder of other files and of an array of another
    store, for a URL (``s3://bucket/project``): with fsspec, as for a local folder (mode="w"
    deleted every object under the prefix, or a variable of the user's store). Read-only
    listing; a URL that cannot be listed (no credentials yet, HTTP) is left to the write."""
    import fsspec

    try:
        fs, root = fsspec.core.url_to_fs(store)
        root = root.rstrip("/")
        names = {posixpath.basename(n.rstrip("/")) for n in fs.ls(root, detail=False)} \
            if fs.isdir(root) else set()
    except Exception as err:  # not listable (no credentials yet, a file system without
        # listing): the refusals are a courtesy, the write reports such a store itself
        log.debug("upscale_to_zarr: %s not listed (%s)", _store_label(store), err)
        return
    if not names:  # a new store, or an empty prefix
        return
    if not names & set(ZARR_MARKERS):
        _refuse_other_files(store, mode)
    holder = None
    try:
        if not _url_is_zarr_array(fs, root):
            return
        parent = posixpath.dirname(root)
        while holder is None and parent.strip("/") and parent != root:
            if any(fs.exists(f"{parent}/{m}") for m in ZARR_MARKERS):
                holder = parent
            root, parent = parent, posixpath.dirname(parent)
    except OSError as err:  # a folder above that cannot be read (access denied): as above
        log.debug("upscale_to_zarr: the folders above %s not read (%s)", _store_label(store),
                  err)
        return
    if holder is not None:
        scheme = store.split("://")[0]
        _refuse_array_of_store(store, f"{scheme}://{holder.lstrip('/')}"
                               if "::" not in store else holder)


def _url_is_zarr_array(fs: Any, root: str) -> bool:
    """:func:`is_zarr_array` for a path of an fsspec file system."""
    if fs.exists(f"{root}/.zarray"):
        return True
    try:
        return json.loads(fs.cat_file(f"{root}/zarr.json")).get("node_type") == "array"
    except (OSError, ValueError, AttributeError):  # none, unreadable or not a mapping
        return False


def _refuse_store_over_inputs(store: Any, source: Any, guide: Any) -> None:
    """Refuse a store that is, holds, or lies inside a file or store the source or the guide
    reads (given as paths, or lazy arrays opened from them): mode="w" deletes the store before
    the inputs are read (the user's data would be lost, and the run would see only NaN), and a
    store written inside an input changes that input."""
    s = local_path(store)
    if s is None:
        _refuse_url_over_inputs(store, source, guide)
        return
    for role, obj in (("source", source), ("guide", guide)):
        direct = local_path(obj)
        paths = {direct} if direct is not None else files_read(obj)
        how = "" if direct is not None else " (the lazy array given reads it)"
        for p in sorted(paths):
            if p == s:
                # the wording of the path case, which callers match
                raise XlstsrError(
                    f"the store {_store_label(store)} is the {role} being read{how}: writing it would destroy "
                    "the input; choose another path for the output."
                )
            if s in p.parents:
                raise XlstsrError(
                    f"the store {_store_label(store)} holds the {role} being read ({p}){how}: writing the "
                    "store would delete or change the input; choose another path for the output."
                )
            if p in s.parents:
                raise XlstsrError(
                    f"the store {_store_label(store)} lies inside the {role} being read ({p}){how}: writing "
                    "there would change the input; choose a path outside it."
                )


def _refuse_url_over_inputs(store: Any, source: Any, guide: Any) -> None:
    """:func:`_refuse_store_over_inputs` for a store given as a URL (``s3://``...), a remote
    store object (``FsspecStore``, an fsspec mapper: keyed by its URL) or an in-memory one
    (a ``MemoryStore`` or dict: the same dict as a store the inputs read): the same store as
    the source destroyed the input cube, then blamed its fill value."""
    if isinstance(store, str):
        key = url_key(store) if "://" in store else None
    else:
        key = store_url_key(store)
    held = _memory_dict(store)
    for role, obj in (("source", source), ("guide", guide)):
        given = ({url_key(obj)} if isinstance(obj, str) and "://" in obj else urls_read(obj)) \
            if key is not None else set()
        for u in sorted(given):
            if u == key or u.startswith(key + "/") or key.startswith(u + "/"):
                raise XlstsrError(
                    f"the store {_store_label(store)} is, holds or lies inside the {role} being read ({u}): "
                    "writing it would destroy or change the input; choose another URL for the "
                    "output."
                )
        if held is not None and any(_memory_dict(z) is held for z in zarr_stores_read(obj)):
            raise XlstsrError(
                f"the store {_store_label(store)} is, holds or lies inside the {role} being read (the "
                "same in-memory store): writing it would destroy or change the input; choose "
                "another store for the output."
            )


def _memory_dict(store: Any) -> dict | None:
    """The dict an in-memory store holds its keys in (a ``MemoryStore``'s, or a dict given as
    the store), which identifies it: xarray reopens a MemoryStore as another object over the
    same dict."""
    import zarr

    if isinstance(store, zarr.storage.MemoryStore):
        return store._store_dict
    return store if isinstance(store, dict) else None


def _refuse_damaged(store: Any, root: Any, vname: str, done: np.ndarray,
                    ds: xr.Dataset) -> None:
    """Refuse to resume a store that lost chunks of its data after it was written (a copy that
    dropped some): a chunk missing under a finished region (every chunk is written, all-NaN
    ones too), which resumed was marked complete with a finished day reading all NaN. Lost,
    damaged or changed coordinates are written again from the input (:func:`_restore_coords`)."""
    lost, expected = _lost_finished_chunks(root[vname], done)
    if lost:
        raise XlstsrError(
            f"the store {_store_label(store)} has lost {lost} of the {expected} chunks its "
            "finished regions wrote since it was written (a copy or a clean-up that dropped "
            "files?): resuming would mark it complete with gaps. Write it again with mode='w'."
        )
    _restore_coords(store, ds, vname)


def _restore_coords(store: Any, ds: xr.Dataset, vname: str) -> None:
    """Write again the coordinates (and the grid mapping) of the store to resume that are
    missing or differ from the input's, ``ds``'s: a copy that lost ``time/c/0`` or the
    ``spatial_ref`` folder was resumed and marked complete with every date the first one, NaN
    x/y or no CRS. The input is the truth: the resume fingerprint matched it. Only the small
    coordinates (0-D, 1-D) are read; the data are not."""
    import zarr

    coords = [str(c) for c, v in ds.coords.items() if v.ndim <= 1]
    try:
        group = zarr.open_group(store, mode="r")
        bad = [c for c in coords if c not in group or not isinstance(group[c], zarr.Array)]
        # every coordinate present is compared by value, its chunks all written or not: a
        # lost chunk reads back as the fill value, and labels another tool changed (x shifted
        # by 1 km) were resumed to 'complete' with a wrong georeferencing
        kept = [c for c in coords if c not in bad]
        stored = (xr.open_zarr(store, consolidated=False, chunks=None, decode_coords=False)
                  if kept else None)
        values = {c: stored[c].values for c in kept}
    except Exception as err:  # metadata that cannot be read
        raise XlstsrError(
            f"the store {_store_label(store)} cannot be read ({err}): its metadata "
            "were damaged since it was written (a copy that dropped files?); write it again "
            "with mode='w'."
        ) from err
    # compared outside the store's reads: a failure on the input's side is not the store's
    bad += [c for c in kept if not _same_stored(values[c], ds[c])]
    if not bad:
        return
    warn(
        f"upscale_to_zarr: the store {_store_label(store)} had lost or changed its "
        f"coordinate(s) {bad} since it was written (a copy that dropped files? another tool's "
        "edit? or the input's are stored otherwise than the first run's, e.g. dates in another "
        "encoding): written again from the input, which the resume matched."
    )
    fix = xr.Dataset(coords={c: ds[c].variable for c in bad})
    # xarray's mode="a" puts the Dataset's attributes on the group: the store's own, as they are
    fix.attrs = dict(zarr.open_group(store, mode="r").attrs)
    fix.to_zarr(store, mode="a", consolidated=False, zarr_format=3)


def _same_stored(stored: np.ndarray, coord: xr.DataArray) -> bool:
    """Whether a coordinate's values read back from the store (``stored``) are the input's
    ``coord``: compared as they are, then as the input's read back from a store of its own
    (a write and read of xarray's alone turn valid labels into others: undecoded times decoded,
    dates in float days a few ns off), so that only labels changed in the store differ."""
    import zarr

    if _same_labels(stored, coord.values):
        return True
    try:
        own = zarr.storage.MemoryStore()
        xr.Dataset(coords={coord.name: coord.variable}).to_zarr(
            own, mode="w", consolidated=False, zarr_format=3)
        back = xr.open_zarr(own, consolidated=False, chunks=None, decode_coords=False)
        return _same_labels(stored, back[coord.name].values)
    except (ValueError, TypeError, NotImplementedError, KeyError) as err:
        # labels xarray cannot write on their own (a MultiIndex level): by their values alone
        log.debug("coordinate %r compared by value only: %s", coord.name, err)
        return False


def _same_labels(a: Any, b: Any) -> bool:
    """Whether two coordinates' values are the same labels (dates of any unit alike)."""
    a, b = np.asarray(a), np.asarray(b)
    if {a.dtype.kind, b.dtype.kind} == {"M", "O"}:
        # cftime dates of a standard calendar, read back as datetime64 (or the other way)
        try:
            a, b = (np.array([np.datetime64(v.isoformat()) for v in x.ravel()]).reshape(x.shape)
                    if x.dtype.kind == "O" else x for x in (a, b))
        except (AttributeError, ValueError, TypeError):  # no dates: compared as they are
            pass
    if a.dtype.kind == "M" and b.dtype.kind == "M":
        a, b = a.astype("datetime64[ns]"), b.astype("datetime64[ns]")
    try:
        # NaN and NaT are missing labels alike (a date coordinate with a gap was 'changed')
        return a.shape == b.shape and bool(np.array_equal(a, b, equal_nan=a.dtype.kind in "fcmM"))
    except TypeError:  # labels of kinds that cannot be compared
        return False


def _lost_finished_chunks(arr: Any, done: np.ndarray) -> tuple[int, int]:
    """How many of the chunks the finished regions (``done``) wrote are missing from the
    store, and how many they wrote: the keys under the array are listed (no data is read) and
    compared region by region. A count of the whole array's stored chunks was fooled by the
    chunks of a region stopped before its flag was set, which hid those a finished one lost."""
    from zarr.core.sync import sync

    # a region is one Zarr chunk along time (a 2-D field: one region of all chunks)
    # a sharded array stores one key per shard, not per inner chunk
    stored = getattr(arr, "shards", None) or arr.chunks
    grid = [range(-(-n // c)) for n, c in zip(arr.shape, stored)]
    finished = [i for i, d in enumerate(np.asarray(done).ravel()) if d]
    if arr.ndim == 2:
        coords = list(itertools.product(*grid)) if finished else []
    else:
        coords = [(i, *rest) for i in finished for rest in itertools.product(*grid[1:])]
    wanted = {arr.metadata.encode_chunk_key(c) for c in coords}
    path = arr.store_path.path
    prefix = f"{path}/" if path else ""

    async def keys() -> set[str]:
        return {k[len(prefix):] async for k in arr.store_path.store.list_prefix(prefix)}

    return len(wanted - sync(keys())), len(wanted)


def _object_value(v: Any) -> bool:
    """Whether a coordinate's value is a Python object Zarr cannot store: a list, tuple, dict,
    set or None (stackstac's STAC metadata). Text, numbers, dates (``datetime``, cftime) are
    stored."""
    return v is None or isinstance(v, (list, tuple, dict, set, frozenset))


def _unstorable_coord(v: xr.DataArray) -> bool:
    """Whether an object-dtype coordinate holds what Zarr cannot store: a Python object
    (:func:`_object_value`), or types xarray's encoding for Zarr refuses to infer one dtype for
    (a float beside a str: "object array contains mixed native types"). cftime and
    ``datetime`` dates, numbers and text kept as Python objects are stored."""
    values = np.asarray(v.values, dtype=object)
    if any(_object_value(x) for x in values.ravel()):
        return True
    try:
        from xarray.backends.zarr import encode_zarr_variable as encode
    except ImportError:  # pragma: no cover - older xarray
        from xarray.conventions import encode_cf_variable as encode
    try:
        encode(v.variable.copy(deep=False), name=str(v.name))
    except Exception:
        return True
    return False


def _without_object_coords(lst: xr.DataArray) -> xr.DataArray:
    """``lst`` without its non-index coordinates Zarr cannot store (stackstac's STAC metadata:
    'subset:windows' lists per date, a 'raster:bands' dict, 'proj:code' None; mixed types),
    with a warning naming them. upscale carries them through; the chunking and the write
    failed on them deep in dask ("tuple index out of range") and xarray ("unable to infer
    dtype"). Object coordinates Zarr stores (cftime dates, numbers, text) are kept. Dropped
    before the resume fingerprint: the same input resumes."""
    drop = [c for c, v in lst.coords.items()
            if c not in lst.indexes and v.dtype == object and _unstorable_coord(v)]
    if not drop:
        return lst
    warn(
        f"upscale_to_zarr: the coordinates {[str(c) for c in drop]} hold Python objects Zarr "
        "cannot store (lists, dicts, None, or values of mixed types: e.g. stackstac's STAC "
        "metadata): they are left out of the store. Keep what you need as text or numbers "
        "first (e.g. each value as text: `da = da.assign_coords({c: (da[c].dims, "
        "np.vectorize(str, otypes=[object])(da[c].values).astype(str)) for c in "
        f"{[str(c) for c in drop]}}})`), "
        f"or drop them yourself: `da = da.drop_vars({[str(c) for c in drop]})`."
    )
    return lst.drop_vars(drop)


def _output_name(lst: xr.DataArray) -> str:
    """The output variable's name (the input's, else "lst"), refused where Zarr or the store's
    own layout cannot take it."""
    vname = str(lst.name) if lst.name is not None else "lst"
    bad = None
    if not vname or "/" in vname or vname.startswith("."):
        bad = "is no Zarr array name (empty, a '/' or a leading '.')"
    elif vname in lst.coords:
        bad = "is also the name of one of its coordinates"
    elif vname == PROGRESS_GROUP:
        bad = "is the name of the store's progress record"
    if bad:
        raise XlstsrError(
            f"the LST's name {vname!r} {bad}: the output variable takes the input's name; "
            "rename it first, e.g. `da.rename('lst')`."
        )
    return vname


def _zarr_attrs(attrs: Mapping[Any, Any]) -> dict[str, Any]:
    """Attributes Zarr can store (JSON): values that are not (a numpy datetime, a set) are
    written as their text, as the command line does for NetCDF, rather than failing at the
    template with xarray's "Invalid attribute in Dataset.attrs"."""
    out: dict[str, Any] = {}
    for k, v in attrs.items():
        try:
            json.dumps(v.tolist() if isinstance(v, (np.ndarray, np.generic)) else v,
                       allow_nan=True)
            if isinstance(v, np.generic) and v.dtype.kind in "mMO":
                raise TypeError
            out[str(k)] = v
        except (TypeError, ValueError):
            log.info("upscale_to_zarr: attribute %r (%s) written as text", k, type(v).__name__)
            out[str(k)] = str(v)
    return out


#: input chunks narrower than this (pixels) along y or x, and at least SMALL_CHUNK_TASKS of
#: them per time step, make a warning: tasks and Zarr chunks too many and too small (a 64 x 64
#: cube in 1-pixel chunks took 5.5 s a time step, in 8-pixel chunks 0.25 s)
SMALL_CHUNK = 32
SMALL_CHUNK_TASKS = 256


def _warn_small_chunks(lst: xr.DataArray, ydim: Hashable, xdim: Hashable) -> None:
    if not _dask(lst.variable):
        return
    small = {str(d): min(lst.chunks[lst.get_axis_num(d)]) for d in (ydim, xdim)
             if min(lst.chunks[lst.get_axis_num(d)]) < SMALL_CHUNK}
    n = int(np.prod([len(lst.chunks[lst.get_axis_num(d)]) for d in (ydim, xdim)]))
    if small and n >= SMALL_CHUNK_TASKS:
        warn(
            f"the input's spatial chunks are tiny ({small} pixels): {n} tasks per time step, "
            "and the output's Zarr chunks follow them (one small file each); this runs "
            "hundreds of times slower than it needs to. Rechunk first, e.g. "
            f"`da.chunk({{{str(ydim)!r}: 512, {str(xdim)!r}: 512}})` (`--chunks 512` on the "
            "command line).", UserWarning,
        )


#: fingerprint arguments whose stored and given values a refused resume shows
_SHOWN_ARGUMENTS = ("factor", "method", "time_chunk", "variable")


def _stored_argument(store: Any, key: str) -> Any:
    """An argument recorded in an existing store's fingerprint, or None."""
    import zarr

    try:
        return json.loads(zarr.open_group(store, mode="r").attrs["xlstsr_arguments"]).get(key)
    except Exception:  # no store, or not one of upscale_to_zarr's: the checks below say so
        return None


def _stacked_levels(obj: xr.DataArray | xr.Dataset, dim: Hashable | None) -> list[Hashable]:
    """The level names of ``dim`` when it is stacked (a pandas MultiIndex), else ``[]``."""
    index = obj.indexes.get(dim) if dim is not None else None
    return list(index.names) if isinstance(index, pd.MultiIndex) else []


def _other_steps(store: Any, lst: xr.DataArray, tdim: Hashable | None) -> str:
    """A hint when a refused resume is an attempt to add time steps to a finished store."""
    if tdim is None:
        return ""
    # a stacked dim is stored as its levels' coordinates (upscale_to_zarr): compared level by
    # level
    levels = _stacked_levels(lst, tdim)
    labels = levels or [tdim]
    given = lst.reset_index(tdim) if levels else lst
    try:
        stored = xr.open_zarr(store, consolidated=False)
        old = [np.asarray(stored[c].values) for c in labels]
        new = [np.asarray(given[c].values) for c in labels]
    except Exception:  # no such coordinate there, or labels that cannot be read
        return ""
    if all(o.shape == n.shape and np.array_equal(o, n) for o, n in zip(old, new)):
        return ""
    differ = (f" The input's {str(tdim)!r} labels differ from the store's ({old[0].size} steps "
              f"there, {new[0].size} here): ")
    try:
        known = set(zip(*(o.tolist() for o in old)))
        added = any(t not in known for t in zip(*(n.tolist() for n in new)))
    except TypeError:  # labels that cannot be compared as a set: told as new ones
        added = True
    if added:
        return differ + _extend_advice(tdim)
    # a subset of the store's steps, or them in another order: nothing to add (the advice for
    # new steps wrote these again to a second store, and concatenated duplicates)
    sel = (f"`lst.sel({tdim!s}=store[{str(tdim)!r}])`" if not levels else
           f"the steps its level coordinates {[str(v) for v in levels]} list, in their order")
    return differ + (
        f"none of its steps is new (it holds "
        f"{'only some of' if new[0].size < old[0].size else 'them in another order than'} the "
        f"store's). Resume with the whole original series, in its order (select the store's steps, e.g. "
        f"{sel} with `store = xr.open_zarr(path, consolidated=False)`), or pass mode='w' to "
        "write a store of these steps only."
    )


def _input_time_dim(source: Any, variable: Hashable | None = None,
                    store: Any = None) -> Hashable:
    """The time dim of an input not yet read (its leading dim beside the spatial ones: 'date'
    in a series so labelled), for the advice on adding steps (:func:`_extend_advice`, whose
    concat_dim='time' built a (time 2, date 4) half-NaN cube of such a series). Where the input
    cannot tell it without being opened (a path, a Dataset of several cubes), the time dim of
    ``store``'s variable, the store it would extend (metadata only); else 'time'.

    Examples
    --------
    >>> da = xr.DataArray(np.zeros((2, 3, 3)), dims=("date", "y", "x"))
    >>> _input_time_dim(da), _input_time_dim(da.to_dataset(name="LST")), _input_time_dim("a.nc")
    ('date', 'date', 'time')
    """
    told = _source_time_dim(source, variable)
    if told is None:
        told = _store_time_dim(store) if store is not None else None
    return "time" if told is None else told


def _store_time_dim(store: Any) -> Hashable | None:
    """The leading dim of the 3-D variables of an existing Zarr store (an upscale_to_zarr
    output: its steps' dim), read from its metadata; None where there is none, the variables
    disagree, or the store cannot be read (the advice then names 'time')."""
    try:
        store = _normal_store(store)
        if not store_exists(store):
            return None
        with xr.open_zarr(store, consolidated=False, chunks=None, decode_times=False,
                          decode_coords=False) as ds:
            lead = {v.dims[0] for v in ds.data_vars.values() if v.ndim == 3}
    except Exception as err:  # (any store that cannot be read: the advice keeps 'time')
        log.debug("no time dim read from the store %r (%s)", store, err)
        return None
    return lead.pop() if len(lead) == 1 else None


def _source_time_dim(source: Any, variable: Hashable | None = None) -> Hashable | None:
    """:func:`_input_time_dim` from the input alone: None where it cannot be told."""
    da = source
    if isinstance(source, xr.Dataset):
        # (a list given as variable is refused later, by name: not hashable here)
        named = isinstance(variable, Hashable) and variable in source.data_vars
        cubes = ([source[variable]] if variable is not None and named
                 else [v for v in source.data_vars.values() if v.ndim == 3])
        da = cubes[0] if len({v.dims for v in cubes}) == 1 else None
    if not isinstance(da, xr.DataArray) or da.ndim != 3:
        return None
    try:
        names = spatial_names(da)
        back = {v: k for k, v in names.items()}  # lat/lon dims keep their names
        space = {back.get(d, d) for d in spatial_dims(da.rename(names))}
    except (XlstsrError, ValueError):  # dims named otherwise: rows and columns last
        space = set(da.dims[1:])
    lead = [d for d in da.dims if d not in space]
    return lead[0] if len(lead) == 1 else None


def _extend_advice(tdim: Hashable) -> str:
    """What to do instead of adding time steps to a store (which nothing does)."""
    return ("a store cannot be extended with new steps; write them to a store of their own "
            "(then `xr.open_mfdataset([old, new], engine='zarr', consolidated=False, "
            f"decode_coords='all', combine='nested', concat_dim={str(tdim)!r})` reads both "
            "with their CRS), or rerun the whole series with mode='w'.")


# what a resume may change: methods.base's RUNTIME_OPTIONS, MODEL_NAMES and MODEL_LABELS
# (the same weights in memory and in a file saved with mode="sisr" were refused as another
# run), shared with the calibration's check


#: an array an option holds is hashed whole up to this many bytes; a larger lazy one by the
#: sample of :func:`data_digest` (reading it whole would cost a run's worth)
_CONTENT_WHOLE_BYTES = 64 * 2**20


def _content_digest(obj: np.ndarray | xr.DataArray | xr.Dataset) -> str:
    """SHA-256 (hex, 32 chars) of an option's array by content: an ndarray's shape, dtype and
    bytes; an xarray object's variables (data and coordinates: name, dims and values), name
    and attributes. Object values by their repr (their bytes are addresses)."""
    h = hashlib.sha256()

    def values(data: Any) -> None:
        if isinstance(data, dsa.Array) and data.nbytes > _CONTENT_WHOLE_BYTES:
            h.update(data_digest(xr.DataArray(data)).encode())
            return
        v = _ns_dates(np.asarray(data))
        h.update(repr((v.shape, str(v.dtype))).encode())
        h.update("\x1f".join(map(repr, v.ravel())).encode() if v.dtype == object
                 else np.ascontiguousarray(v).tobytes())

    if isinstance(obj, np.ndarray):
        values(obj)
        return h.hexdigest()[:32]
    h.update(repr((type(obj).__name__, str(obj.name) if isinstance(obj, xr.DataArray)
                   else None)).encode())
    variables = ({"": obj.variable, **{k: c.variable for k, c in obj.coords.items()}}
                 if isinstance(obj, xr.DataArray) else dict(obj.variables))
    for k in sorted(variables, key=str):
        var = variables[k]
        h.update(repr((str(k), var.dims, sorted((str(a), repr(b)) for a, b in var.attrs.items())
                       )).encode())
        values(var.data)
    h.update(repr(sorted((str(a), repr(b)) for a, b in obj.attrs.items())).encode())
    return h.hexdigest()[:32]


def _fingerprint_value(obj: Any) -> Any:
    """A value JSON cannot hold, as the resume fingerprint records it (``json.dumps``'s
    ``default``): the same in every process. A function or class by its module and qualified
    name (its repr, ``<function f at 0x7f...>``, holds a memory address: a resume of the same
    run in a new process was refused), a :func:`functools.partial` by its function and
    arguments, another object whose repr holds an address by its type; else its repr."""
    import functools

    if isinstance(obj, functools.partial):
        return {"partial": obj.func, "args": list(obj.args), "keywords": dict(obj.keywords)}
    if isinstance(obj, (np.ndarray, xr.DataArray, xr.Dataset)):
        # by content: their repr rounds values to 4 digits and elides the middle ones (a resume
        # with another estimate_offset Dataset was accepted and mixed two guide offsets)
        return f"<{type(obj).__module__.split('.')[0]}.{type(obj).__name__} sha256:{_content_digest(obj)}>"
    qualname, module = getattr(obj, "__qualname__", None), getattr(obj, "__module__", None)
    if callable(obj) and isinstance(qualname, str) and isinstance(module, str):
        kind = "class" if isinstance(obj, type) else type(obj).__name__
        return f"<{kind} {module}.{qualname}>"
    text = repr(obj)
    if " at 0x" in text:
        cls = type(obj)
        return f"<{cls.__module__}.{cls.__qualname__} object>"
    return text


def _fingerprinted_options(described: Mapping[str, Any]) -> dict[str, Any]:
    """A method's :meth:`describe` as the resume fingerprint records it: without the
    :data:`RUNTIME_OPTIONS` (a resume with backend='torch' after one with 'onnxruntime' ran out
    of memory, or of the same checkpoint under another file name, was refused). Names of the
    model, and its :data:`_MODEL_LABELS`, are dropped only where a weights hash identifies it."""
    opts = json.loads(json.dumps(dict(described), default=_fingerprint_value))
    hashed = "weights_sha256" in opts
    return {k: v for k, v in opts.items()
            if not (hashed and k in _MODEL_LABELS)
            and (k not in RUNTIME_OPTIONS or (k in _MODEL_NAMES and not hashed))}


#: errno values of a failed write (disk full, quota, read-only file system, permission)
_WRITE_ERRNOS = {errno.ENOSPC, errno.EDQUOT, errno.EROFS, errno.EACCES, errno.EPERM}


def _write_failure(err: OSError, store: Any) -> bool:
    """Whether an OSError raised while the regions ran is the store's write failing (its file
    under the store, or a disk-full/permission errno), not an input's read."""
    target = local_path(store)
    name = getattr(err, "filename", None)
    if target is not None and isinstance(name, (str, os.PathLike)):
        path = Path(name).resolve()
        return path == target or target in path.parents
    return err.errno in _WRITE_ERRNOS


def _dask(var: xr.Variable) -> bool:
    """Whether a Variable holds a dask array, peeking: its ``.data`` reads (and caches, in the
    user's Dataset) an array that xr.open_dataset indexes lazily, the whole cube at once."""
    return isinstance(var._data, dsa.Array)


def _on_disk(var: xr.Variable) -> bool:
    """Whether a Variable's values are still a backend's, unread: ``xr.open_dataset(f)`` (and
    ``engine='zarr'``) without ``chunks`` indexes lazily, not with dask. Metadata only."""
    from xarray.backends import BackendArray
    from xarray.core import indexing

    data = var._data
    while isinstance(data, indexing.ExplicitlyIndexed):
        if isinstance(data, (BackendArray, indexing.LazilyIndexedArray,
                             indexing.LazilyVectorizedIndexedArray)):
            return True
        data = getattr(data, "array", None)
    return isinstance(data, BackendArray)


def _chunk_on_disk(obj: Any, tdim: Hashable | None) -> Any:
    """``obj`` (a DataArray, Dataset, list or dict of them) with the arrays xarray indexes
    lazily from a file (:func:`_on_disk`) chunked, one step of ``tdim`` a chunk (whole along
    the other dims): streamed by the regions as a dask input is. Taken as an input in memory,
    such a cube was read whole, in one read, before any region ran (a multi-year NetCDF
    opened with ``xr.open_dataset(f)``), and the user's Dataset kept the loaded copy."""
    if isinstance(obj, (xr.DataArray, xr.Dataset)):
        variables = [obj.variable] if isinstance(obj, xr.DataArray) else obj.variables.values()
        if not any(_on_disk(v) for v in variables):
            return obj
        return obj.chunk({tdim: 1} if tdim is not None and tdim in obj.dims else {})
    if isinstance(obj, Mapping):
        return type(obj)({k: _chunk_on_disk(v, tdim) for k, v in obj.items()}) \
            if isinstance(obj, dict) else obj
    if isinstance(obj, (list, tuple)):
        return type(obj)(_chunk_on_disk(v, tdim) for v in obj)
    return obj


def _lazy(obj: Any) -> bool:
    """Whether any array of ``obj`` (a DataArray, Dataset, list or dict of them) is dask
    (peeking: nothing is read)."""
    if isinstance(obj, xr.DataArray):
        return _dask(obj.variable)
    if isinstance(obj, xr.Dataset):
        return any(_dask(v) for v in obj.variables.values())
    if isinstance(obj, Mapping):
        return any(_lazy(v) for v in obj.values())
    if isinstance(obj, (list, tuple)):
        return any(_lazy(v) for v in obj)
    return isinstance(obj, dsa.Array)


def _spatial_chunk(n: int, chunks: tuple[int, ...] | None) -> int:
    """The output's Zarr chunk along a spatial axis: its largest chunk (a study area cut off
    the input's chunk grid starts with a sliver, which made every Zarr chunk 8 x 12 pixels)."""
    return int(max(chunks)) if chunks else n


#: a region's output is kept under this by the default time_chunk (a 1200 x 1200 day at x4 in
#: float32 is 92 MB: two of them); a region's peak memory is a few times its output
REGION_OUTPUT_BYTES = 256 * 1024**2
#: steps of a region by default where the input holds its whole series in one time chunk (a
#: contiguous NetCDF, a pixel-interleaved GeoTIFF: how the file is laid out, not a chunking
#: chosen for time): a 64-band GeoTIFF was one region of all 64 bands
WHOLE_SERIES_STEPS = 8


#: the largest buffer Blosc (the default codec) encodes: a larger Zarr chunk fails at its write
#: (Zstd alone, or no compression, has no such limit)
ZARR_CHUNK_MAX_BYTES = 2**31 - 1


def _check_chunk_bytes(time_chunk: int, cy: int, cx: int, itemsize: int,
                       codecs: Any = None) -> None:
    """Refuse, before any work, Zarr chunks of ``time_chunk`` x ``cy`` x ``cx`` values over
    :data:`ZARR_CHUNK_MAX_BYTES` when ``codecs`` hold Blosc (the default): numcodecs' "Codec
    does not support buffers of > 2147483647 bytes" came after the first region's compute
    (minutes), for a ``time_chunk=30`` of 4800 x 4800 images (scene-wide methods store whole
    images).

    Examples
    --------
    >>> from zarr.codecs import BloscCodec, ZstdCodec
    >>> _check_chunk_bytes(8, 4800, 4800, 4, (BloscCodec(),))
    >>> _check_chunk_bytes(30, 4800, 4800, 4, (ZstdCodec(),))  # no limit
    >>> _check_chunk_bytes(30, 4800, 4800, 4, (BloscCodec(),))  # doctest: +ELLIPSIS
    Traceback (most recent call last):
    ...
    xlstsr.errors.XlstsrError: time_chunk=30 makes Zarr chunks of 30 x 4800 x 4800 ...
    """
    from zarr.codecs import BloscCodec

    if not any(isinstance(c, BloscCodec) for c in (codecs or ())):
        return
    size = int(time_chunk) * int(cy) * int(cx) * int(itemsize)
    if size <= ZARR_CHUNK_MAX_BYTES:
        return
    most = max(1, ZARR_CHUNK_MAX_BYTES // (int(cy) * int(cx) * int(itemsize)))
    raise XlstsrError(
        f"time_chunk={time_chunk} makes Zarr chunks of {time_chunk} x {cy} x {cx} values "
        f"({size / 2**30:.2f} GiB), over the 2 GiB Blosc (the default compressor) encodes: the "
        f"write would fail after the region's compute. Pass time_chunk={most} or less "
        "(time_chunk=None picks one that keeps each region's output small), or a compressor "
        "without that limit, `compressors=(zarr.codecs.ZstdCodec(level=3),)`.")


def _default_time_chunk(lst: xr.DataArray, tdim: Hashable, ydim: Hashable, xdim: Hashable,
                        factor: Any) -> int:
    """The default ``time_chunk``: the input's time chunk (1 in memory), at most
    :data:`WHOLE_SERIES_STEPS` where that chunk is the whole series (how a file is laid out,
    not a chunking chosen for time), and at most what keeps a region's output under
    :data:`REGION_OUTPUT_BYTES` (at least one step). A 64-band GeoTIFF read as one chunk was
    one region of all 64 bands: 3x the memory of regions of one step, no progress, nothing to
    resume after a crash."""
    nt = lst.sizes[tdim]
    if not _dask(lst.variable):
        return 1
    tchunks = lst.chunks[lst.get_axis_num(tdim)]
    steps = int(tchunks[0])
    why = []
    if len(tchunks) == 1 and nt > WHOLE_SERIES_STEPS:
        steps = WHOLE_SERIES_STEPS
        why.append(f"the input holds its {nt} steps in one chunk")
    try:  # the factor upscale will use: 4.0 is 4 (it counted as 1: regions 16x the bound)
        f = check_factor(factor)
    except XlstsrError:
        f = 1  # a bad factor is refused by upscale, with its message
    itemsize = np.result_type(lst.dtype, np.float32).itemsize if lst.dtype.kind == "f" else 4
    step_bytes = lst.sizes[ydim] * lst.sizes[xdim] * f * f * itemsize
    most = max(1, REGION_OUTPUT_BYTES // max(1, step_bytes))
    if steps > most:
        why.append(f"a region of {steps} steps would hold "
                   f"{steps * step_bytes / 1024**2:.0f} MiB of output")
        steps = most
    if why:
        log.info("upscale_to_zarr: time_chunk=%d by default (the input's time chunk is %d: "
                 "%s); pass time_chunk= to choose", steps, tchunks[0], "; ".join(why))
    return steps


#: the output's Zarr chunk is at least this many fine pixels (or the whole image) along y and x
#: when a small ``tile=`` splits the input's chunks
STORE_CHUNK_MIN = 512


def _store_chunk(chunk: int, n: int, input_chunk: int) -> int:
    """The Zarr chunk along a spatial axis of a result computed in ``tile=`` tiles of ``chunk``
    fine pixels that split the input's chunks (``input_chunk`` fine pixels): whole tiles merged
    up to :data:`STORE_CHUNK_MIN` (not beyond the input's own chunk), or the whole image (the
    store's chunks followed the compute tile: tile=1 wrote 4 x 4 px chunks, 8 205 files and
    50x the time). The rechunk before the store joins whole tiles (and, where the merged
    chunk crosses an input chunk, the tiles on either side): each store chunk is still made
    and written by one task."""
    if chunk >= min(STORE_CHUNK_MIN, input_chunk, n):
        return chunk
    return min(n, chunk * -(-min(STORE_CHUNK_MIN, input_chunk) // chunk))


def _offset_in_memory(lst: xr.DataArray, guide: Any, mode: str, factor: int,
                      mask_out_of_range: bool, tolerance: Any) -> Any:
    """The guide's offset as :func:`xlstsr.upscale` measures it on an in-memory input (the
    clearest of all steps), for the upscale of the chunked input: an offset Dataset, or
    ``"ignore"`` when the guide is used as it is. Chunked first, the input was measured on 8
    sampled steps: with the one clear day not among them the offset guide was not moved, and
    the store differed from upscale's result by 12 K. ``mode`` when the inputs are refused here
    (upscale then says why, in its own order)."""
    from ..guide import georeference_guide, measure_offset
    from ..validate import prepare_lst

    try:
        with warnings.catch_warnings():
            warnings.simplefilter("ignore")  # upscale gives the inputs' own warnings
            kelvin = prepare_lst(lst, mask_out_of_range=mask_out_of_range)
            g = georeference_guide(guide)
        est = measure_offset(g, kelvin, mode, factor=int(factor), time_tolerance=tolerance)
    except (XlstsrError, TypeError, ValueError):
        return mode
    return "ignore" if est is None else est


def _offset_summary(off: xr.Dataset) -> list[float]:
    """An offset Dataset as the resume fingerprint records it (``guide_offset_measured``)."""
    return [round(float(np.median(np.atleast_1d(off[v].values))), 3)
            for v in ("shift_x", "shift_y")]


def _offset_record(off: xr.Dataset) -> str | None:
    """The offset Dataset as :data:`~xlstsr.attrs.GUIDE_OFFSET_ATTR` holds it, or None when it
    would not come back as the same offset (a coordinate JSON cannot hold)."""
    try:
        text = json.dumps(off.to_dict(data="list"), default=str)
        back = xr.Dataset.from_dict(json.loads(text))
        same = back.attrs.get("crs") == off.attrs.get("crs") and all(
            np.array_equal(np.asarray(back[v].values), np.asarray(off[v].values),
                           equal_nan=v != "reliable") for v in ("shift_x", "shift_y", "reliable"))
    except (TypeError, ValueError, KeyError):
        return None
    return text if same else None


def _recorded_offset(store: Any, recorded: Any) -> str | xr.Dataset:
    """The guide offset a store's run applied, for a resume whose inputs are not measured as
    that run's were (opened lazily, where upscale measures 8 sampled steps, not the clearest of
    all): ``recorded`` is the fingerprint's ``guide_offset_measured``; a string (``"ignore"``)
    is passed as it was, a measured shift is rebuilt from
    :data:`~xlstsr.attrs.GUIDE_OFFSET_ATTR`."""
    import zarr

    if isinstance(recorded, str):
        return recorded
    try:
        off = xr.Dataset.from_dict(json.loads(zarr.open_group(store, mode="r").attrs[
            GUIDE_OFFSET_ATTR]))
        same = _offset_summary(off) == list(recorded)
    except Exception:  # absent (a store started before it was recorded), or damaged
        same = False
    if same:
        return off
    shift = (f" by ({recorded[0]:+.3f}, {recorded[1]:+.3f}) (x, y, the LST's CRS units)"
             if isinstance(recorded, list) and len(recorded) == 2 else "")
    raise XlstsrError(
        f"the store {_store_label(store)} was started on inputs in memory, its guide moved "
        f"back{shift} as measured on the clearest of all their steps, and it does not record "
        "that offset exactly enough to apply it again; this input is dask-backed, where the "
        "offset is measured on 8 sampled steps only, so the resumed steps would use another "
        "guide position than the written ones. Resume with the inputs in memory as the first "
        "run had them (`lst.load()`, `guide.load()`), or write the store again with mode='w' "
        "(guide_offset='ignore', or an `xlstsr.estimate_offset` result, fixes the offset "
        "whatever the input)."
    )


def _foreign_word_advice(k: str, value: Any, tdim: Hashable = "time") -> str | None:
    """The advice for a keyword of the command line, of ``to_zarr`` or of other streaming
    writers given to upscale_to_zarr (``overwrite=``, ``chunks=``, ``max_memory=``,
    ``storage_options=``, ``zarr_format=``, ``encoding=``, ``append_dim=``): what does
    its job here, by its value (``overwrite=False`` was told `mode='w'`, which replaces the
    store it asked to keep). None for other keywords."""
    if k in ("overwrite", "resume"):
        if value is True:
            return f"did you mean `mode={'w' if k == 'overwrite' else 'resume'!r}`?"
        return ("drop it: the default, mode='w-', already refuses an existing store (mode='w' "
                "replaces it, mode='resume' completes an interrupted run).")
    if k == "append":
        return f"there is no such mode: {_extend_advice(tdim)}"
    if k in ("chunks", "chunk", "chunk_size", "chunksize"):
        return ("the input is streamed in its own chunks: chunk it first, e.g. "
                "`lst.chunk({'y': 512, 'x': 512})` (`--chunks 512` on the command line); "
                "`tile=` sets the compute tile (coarse pixels) within them, `time_chunk=` the "
                "time steps per region.")
    if k in ("append_dim", "region"):
        return _extend_advice(value if k == "append_dim" and isinstance(value, str) else tdim)
    if k == "storage_options":
        # (an fsspec URL string is opened with fsspec's defaults: no way to pass credentials)
        return ("pass the store as a zarr store object that carries them, e.g. "
                "`zarr.storage.FsspecStore.from_url('s3://bucket/out.zarr', "
                "storage_options={...})`, instead of the URL.")
    if k in ("zarr_format", "consolidated"):
        return ("drop it: the store is always written as Zarr v3 without consolidated metadata "
                "(zarr_format=3, consolidated=False: its regions land one by one). Once it is "
                "complete, `zarr.consolidate_metadata(store)` consolidates it; "
                "`xr.open_zarr(store, decode_coords='all').drop_encoding().to_zarr(other, "
                "zarr_format=2)` "
                "copies it to a Zarr v2 store.")
    if k == "encoding":
        return ("the output's compression is set by `compressors=` (e.g. "
                "`compressors=(zarr.codecs.ZstdCodec(level=3),)`, None for none), its chunks by "
                "the input's chunks and `time_chunk=`, its dtype by the input's (cast it first, "
                "e.g. `lst.astype('float32')`).")
    if k in ("max_memory", "memory_limit", "memory", "max_mem"):
        return ("memory is set by `time_chunk=` (time steps per region) and "
                "`regions_in_flight=` (regions computed at once): it scales with "
                "regions_in_flight * time_chunk and the input's spatial chunks (or `tile=`), "
                "not with the length of the cube.")
    return None


def _not_own_argument(method: Any, options: Mapping[str, Any],
                      tdim: Hashable = "time") -> None:
    """Refuse a keyword that is not an option of ``method`` but reads as upscale_to_zarr's own
    argument mistyped (a close name), or is another writer's word for one of them
    (:func:`_foreign_word_advice`): with **options, `overwrite=True` was blamed on the method
    ("method 'bicubic' has no option 'overwrite'"). Other unknown keywords are left to the
    method's refusal, which lists its options."""
    import difflib
    import inspect

    takes = option_names(method)
    own = [n for n in inspect.signature(upscale_to_zarr).parameters if n != "options"]
    for k in sorted(options):
        if takes is None or k in takes:
            continue
        fix = _foreign_word_advice(k, options[k], tdim)
        if fix is None:
            near = difflib.get_close_matches(k, own + sorted(takes), n=1, cutoff=0.75)
            fix = f"did you mean `{near[0]}=`?" if near else None
        if fix:
            raise MethodOptionError(
                f"upscale_to_zarr has no argument {k!r} (nor is it an option of method "
                f"{method!r}, which takes {sorted(takes)}): {fix} Its arguments: {own}."
            )


def _merged_options(method_options: Any, options: Mapping[str, Any]) -> dict[str, Any]:
    """``method_options`` with the keywords given as its shorthand (``conserve=True``), as
    :func:`xlstsr.upscale` merges them: refused where one is given both ways (the keyword
    silently won over the dict)."""
    if method_options is not None and not isinstance(method_options, Mapping):
        raise XlstsrError(
            f"method_options must be a dict of the method's options (e.g. {{'gain': 0.5}}), got "
            f"{type(method_options).__name__}"
        )
    both = sorted(set(method_options or {}) & set(options))
    if both:
        raise MethodOptionError(
            f"option(s) {both} given twice, in method_options and as keywords of "
            f"upscale_to_zarr (method_options={dict(method_options or {})}, "
            f"{', '.join(f'{k}={options[k]!r}' for k in both)}): give each once, e.g. only "
            f"`method_options={{**method_options, {both[0]!r}: ...}}`."
        )
    return {**dict(method_options or {}), **options}


def _eta(walls: Sequence[float], running: Sequence[float], left: int, k: int) -> float:
    """Seconds until the ``left`` regions still to finish are written, ``k`` computed at once:
    the regions in flight (``running``: seconds each has run) end after the mean region wall
    time ``walls``; each queued region starts in the first slot to free (a slot without a
    region in flight, as the one of the region just written, is free now) and takes that mean
    time. (Elapsed time / regions finished counted the first of ``k`` regions finishing
    together as if it had taken the whole time alone: 3x the remaining time at the first line,
    a third of it at the last; then queued regions counted in waves of ``k`` after the regions
    in flight, those starting at once in free slots too: twice the remaining time.)

    Examples
    --------
    >>> _eta([6.0], [6.0, 6.0], 3, 3)  # 3 in flight together, one done: one wave left
    6.0
    >>> _eta([8.0], [8.0], 3, 2)  # 2 in flight, one done: the other ends now, then one wave
    8.0
    >>> _eta([3.0], [0.0], 2, 2)  # 1 just started, 1 queued starts now in the free slot
    3.0
    """
    if not walls or left <= 0:
        return 0.0
    mean = sum(walls) / len(walls)
    in_flight = sorted(max(0.0, mean - t) for t in running)[:left]
    queued = max(0, left - len(in_flight))
    # every slot frees within `mean`, so the queued regions take the slots in turn, earliest
    # first (slot i gets the i-th, (i + n)-th, ... of them): its end, with no per-region loop
    slots = sorted(in_flight + [0.0] * max(0, k - len(in_flight)))
    n = len(slots)
    if not n:
        return 0.0
    return max(s + mean * (queued // n + (i < queued % n)) for i, s in enumerate(slots))


def upscale_to_zarr(
    source: Any,
    store: Any,
    factor: int = 4,
    method: str | UpscaleMethod = "bicubic",
    guide: Any = None,
    *,
    variable: Hashable | None = None,
    method_options: Mapping[str, Any] | None = None,
    adapt: bool | Mapping[str, Any] | None = None,
    mask_out_of_range: bool = False,
    scale_correction: str | None = None,
    guide_offset: str | xr.Dataset | None = None,
    guide_time_tolerance: Any = None,
    tile: int | str | None = "auto",
    mode: str = "w-",
    time_chunk: int | None = None,
    progress: bool = True,
    regions_in_flight: int | None = None,
    compressors: Any = "auto",
    calibration: Any = None,
    **options: Any,
) -> xr.DataArray:
    """Super-resolve a (time, y, x) cube into a Zarr v3 store, one time block at a time.

    Parameters
    ----------
    source : DataArray, Dataset or path
        The LST cube (dask-backed or not), or a path to a Zarr store, a NetCDF file or a COG.
        One opened lazily without dask (``xr.open_dataset(f)`` with no ``chunks``), and such
        a guide, is chunked one time step a chunk and streamed as a dask one is (not read
        whole, and the guide offset default is a streamed input's).
    store : path or zarr store
        Output Zarr v3 store (written with ``zarr_format=3, consolidated=False``): a local path
        (``~`` and ``file://`` taken as local), an fsspec URL (``s3://...``, its package
        installed) or a zarr store object. Not a zip archive (regions are rewritten), nor an
        in-memory store under a dask.distributed client with worker processes or dask's
        processes scheduler, nor a local path the client's dask.distributed workers do not
        see (workers on other machines: refused before any region). xarray and zarr read it (``xr.open_zarr(store,
        consolidated=False, decode_coords="all")`` keeps the CRS); GIS tools need GeoTIFFs:
        GDAL 3.10 (rasterio's wheels, QGIS) refuses its v3 codecs ("Unsupported codec:
        bytes"), so write COGs from it (:func:`xlstsr.io.to_cogs`, or ``xlstsr upscale IN
        OUT.tif``).
    factor, method, guide, variable, method_options, adapt, mask_out_of_range, scale_correction, guide_offset, guide_time_tolerance, tile
        As for :func:`xlstsr.upscale` (``method`` may be a method instance; a ``tile`` whose
        output is smaller than 512 fine pixels has its tiles stored together in chunks of at
        least 512 - or the input's chunk, or the image -, not one small Zarr chunk each). An
        input in
        memory (LST and guide) gets upscale's default ``guide_offset="auto"``, measured as
        upscale measures it (on the clearest of all its steps) before the input is chunked; a
        streamed
        (dask) one the check that reads nothing: pass
        ``guide_offset="auto"`` to measure a guide's offset on one window of one time step and
        move the guide back by it (the moved guide is then reprojected onto the fine grid, a
        cost on every time step: +20 % for the default `disr` on 1200^2 days). The offset
        measured on inputs in memory is recorded in the store (attribute
        ``xlstsr_guide_offset``): a resume on the same data opened lazily applies it again.
    mode : {"w-", "w", "resume"}
        ``"w-"`` (default): fail if the store exists (a new local store is claimed at once:
        of two runs started together on one output, the second is refused). ``"w"``:
        overwrite it (a local store is
        first renamed aside, ``.<name>.replaced-...``, and put back if the run stops before a
        region with data is written: an input refused while computing keeps the earlier
        result; it is deleted once the new one begins to land). ``"resume"``:
        complete an interrupted run - only regions not yet marked done are computed; the store
        must have been started with the same arguments and input (else
        :class:`~xlstsr.errors.XlstsrError`); an absent store is started afresh; without
        ``time_chunk``, the store's own is taken. The input is
        recognised by its metadata and a checksum of a sample of its values (and the
        guide's): eight time steps in a centred window of at most 512 x 512 pixels, whatever
        its chunks, read once per call (:func:`data_digest`). A store this call started (a local folder) is removed
        again when an input problem found while computing (the value checks of a dask input run
        with the regions: units, fill values, scaling) stops it before any region finished.
    time_chunk : int, optional
        Time steps per region and per Zarr chunk. Default: the input's time chunk (1 for an
        input in memory); at most 8 where the input holds its whole series in one chunk (a
        contiguous NetCDF, a pixel-interleaved multi-band GeoTIFF); and no more steps than
        keep a region's output under 256 MiB (at least one step). Given, it is taken as is
        (refused, naming the largest that fits, when a Zarr chunk would exceed the codec's
        2 GiB: scene-wide methods store whole images).
        Memory scales with it, not with the length of the cube.
    progress : bool
        Show a tqdm progress bar over regions.
    regions_in_flight : int, optional
        Regions computed at the same time (default: the scheduler's worker threads, so that a
        region of one task per time step still keeps every worker busy). Memory scales with
        ``regions_in_flight * time_chunk``. Each region's done flag is set as soon as it is
        written; a new region starts as soon as one ends.
    compressors : "auto", None or tuple of zarr codecs
        Compression of the output. ``"auto"``: Blosc LZ4 with byte shuffle, which on
        super-resolved LST writes in 0.48x the time of zarr's default Zstd and to 0.52 instead
        of 0.68 of the raw size (``benchmarks/zarr_compression.py``,
        ``docs/results/compression.md``); ``None``: uncompressed. A resume keeps the
        store's own (its arrays were created with it; the values do not depend on it).
    calibration : None
        Not applied here (a store is written region by region, and an NDVI term needs the NDVI
        on the output grid): given, it is refused with the way to do it, which the command
        line gives for ``--calibration``: :func:`xlstsr.calibration.apply_calibration` to the
        opened result.
    **options
        Shorthand for ``method_options``, as for :func:`xlstsr.upscale`
        (``upscale_to_zarr(lst, store, 4, "sisr", conserve=True)``); merged into it.

    Returns
    -------
    DataArray
        The written variable, lazily opened from the store (with its CRS: open such stores with
        ``xr.open_zarr(store, decode_coords="all")`` so that ``spatial_ref`` is a coordinate).

    Raises
    ------
    XlstsrError
        On a bad input or arguments (its subclasses name the problem and the fix); among them
        :class:`~xlstsr.errors.AllNaNError` when no time block of the input holds a valid pixel
        (checked as the regions run: the store this call started is removed; a resumed one,
        whose earlier run recorded its regions without data, stays incomplete).

    Examples
    --------
    >>> import xlstsr, tempfile, os
    >>> lst = xlstsr.datasets.sample_scene(n_times=2, size=64)["lst_1km"]
    >>> out = xlstsr.upscale_to_zarr(lst, os.path.join(tempfile.mkdtemp(), "sr.zarr"),
    ...                              factor=4, time_chunk=1, progress=False)
    >>> out.shape
    (2, 64, 64)
    """
    import zarr
    from tqdm.auto import tqdm

    from ..upscale import adapted, restate_guide_offset, upscale

    # the input's time dim as the advice on adding steps names it (a series along 'date'
    # concatenated along 'time' built a (time, date) cube): told without reading the input
    # (a path tells it from the store it would extend: read only where the advice is given)
    extends = mode not in MODES or bool({"append", "append_dim", "region"} & set(options))
    adds_dim = _input_time_dim(source, variable, store if extends else None)
    if mode not in MODES:
        # xarray's append modes ('a', 'a-', 'r+'): what adding steps to a store takes here
        adds = isinstance(mode, str) and (mode.startswith("a") or mode == "r+")
        raise XlstsrError(
            f"mode must be one of {MODES}, got {mode!r}"
            + (f": {_extend_advice(adds_dim)} (mode='resume' completes an interrupted run of "
               "the same series.)" if adds else "")
        )
    if calibration is not None:  # upscale's opt-in: a bare TypeError here, with no way to do it
        raise XlstsrError(
            "upscale_to_zarr does not apply a calibration (calibration= is upscale's, for a "
            "result in memory): write the store without it, then apply it to the opened result, "
            "`apply_calibration(upscale_to_zarr(...), calibration)` (from xlstsr.calibration; "
            "`ndvi=` the NDVI on the output grid for a calibration with an NDVI term), and write "
            "that where you need it, e.g. `.to_dataset(name='LST').to_zarr(...)`."
        )
    _not_own_argument(method, options, adds_dim)
    method_options = _merged_options(method_options, options)
    store = _normal_store(store)
    _check_store(store, mode)
    # every mode that starts a store at the path (mode="w-" on a path left free, a resume of an
    # absent store) writes its own result there: a copy advised back to it then failed
    _warn_left_aside(store, mode)
    progress = False if progress is None else check_bool("progress", progress)
    _refuse_store_over_inputs(store, source, guide)
    refuse_incomplete_inputs(source, guide)
    regions_in_flight = _whole("regions_in_flight", regions_in_flight)
    time_chunk = _whole("time_chunk", time_chunk)
    if mode == "w-" and store_exists(store):
        # before any data is read: the guide's persist and the fingerprint's samples read the
        # whole guide twice, minutes for a remote one, for a refusal that needs none
        _refuse_existing(store)
    if isinstance(source, (xr.DataArray, xr.Dataset)):
        src, name = source, variable
    else:  # an HDF4 granule opens one layer: the one asked for (the Day LST by default); a
        # NetCDF-4 group's variable (SDS/LST) its group; anything but a path (a list of
        # files) is refused by open_path, naming its readers
        src, name = open_with_variable(source, variable)
    # the variable's own attributes: the resume fingerprint hashes them as before (a store
    # started before the Dataset's global attributes were carried resumes); those go to
    # upscale and the store's root below
    lst, guide = select_lst(src, name, guide, dataset_attrs=False,
                            operation="xlstsr.upscale_to_zarr")  # no ds.lstsr method
    src_attrs = src.attrs if isinstance(src, xr.Dataset) else {}
    lst = _without_object_coords(lst)
    up_kw = {"mask_out_of_range": mask_out_of_range, "scale_correction": scale_correction,
             "guide_offset": guide_offset, "tile": tile}
    if guide_time_tolerance is not None:  # absent from older fingerprints: only when given
        up_kw["guide_time_tolerance"] = guide_time_tolerance
    m = adapted(get_method(method, **dict(method_options or {})), adapt)
    names = spatial_names(lst)
    back = {v: k for k, v in names.items()}  # lat/lon dims keep their names
    ydim, xdim = (back.get(d, d) for d in spatial_dims(lst.rename(names)))
    lead = [d for d in lst.dims if d not in (ydim, xdim)]
    if len(lead) > 1:
        ones = [str(d) for d in lead if lst.sizes[d] == 1]
        drop = (f" A length-1 dim such as a raster's band is dropped with "
                f"`da.squeeze({ones[0]!r}, drop=True)`." if ones else "")
        raise XlstsrError(
            f"upscale_to_zarr streams along one leading dim; the input has {lead} (sizes "
            f"{[lst.sizes[d] for d in lead]}). Stack or select the others first (e.g. "
            f"`da.stack(t=(...))`, or `da.sel({lead[-1]}=...)`).{drop}"
        )
    tdim = lead[0] if lead else None
    # an input or guide opened the xarray default way (xr.open_dataset, no chunks: lazily
    # indexed, not dask) chunked by time before anything reads it: streamed like a dask one
    lst, guide = _chunk_on_disk(lst, tdim), _chunk_on_disk(guide, tdim)
    if time_chunk is None and mode == "resume":
        # the store's own: the same input opened with other time chunks resumes (its regions
        # are the store's chunks; the default from the input's chunks was refused as a change)
        time_chunk = _stored_argument(store, "time_chunk")
    if time_chunk is None:
        time_chunk = _default_time_chunk(lst, tdim, ydim, xdim, factor) if tdim else 1
    # at most the whole series: a larger Zarr chunk holds nothing more (and 10**12 steps
    # would be allocated)
    time_chunk = min(int(time_chunk), lst.sizes[tdim]) if tdim else int(time_chunk)
    vname = _output_name(lst)
    _warn_small_chunks(lst, ydim, xdim)
    # the input's spatial chunks (coarse pixels; whole in memory): what a small tile= may not
    # shrink the store's chunks below
    in_chunk = {d: _spatial_chunk(lst.sizes[d], lst.chunks[lst.get_axis_num(d)] if _lazy(lst)
                                  else None) for d in (ydim, xdim)}
    # dims declared with `rio.set_spatial_dims` (the refusal of unknown dims suggests it): the
    # declaration lives on the array's accessor, which the chunking below and upscale's steps
    # do not carry over ("no spatial dimensions" again). Renamed y/x for the run and given
    # back to the output, as upscale does (lat/lon dims are found by name: they stay)
    declared = {k: v for k, v in names.items() if k not in spatial_names(lst.copy(deep=False))}
    if declared:
        lst = lst.rename(declared)
    # in memory, upscale's default for the guide's offset ("auto": its window is read for
    # nothing); chunked below, it would check nothing, and the store differed from upscale's
    # result by up to 11 K on a real pair. Recorded (a resume takes the store's, whatever the
    # input: the same data opened lazily moved no guide, and the store mixed the two)
    if guide_offset is None and guide is not None:
        # a store to resume (a missing one is a fresh write): its recorded value
        stored = ((_stored_argument(store, "upscale_options") or {})
                  if mode == "resume" and store_exists(store) else None)
        if stored is not None:
            # any mode it recorded ('ignore' and 'check' too: the command line's --resume
            # without --guide-offset was refused for them); a user's offset Dataset cannot be
            # rebuilt from its record: the refusal asks for it
            if stored.get("guide_offset") in ("auto", "ignore", "check"):
                up_kw["guide_offset"] = stored["guide_offset"]
        elif not _lazy(lst) and not _lazy(guide):
            up_kw["guide_offset"] = "auto"
    call_kw = dict(up_kw)
    measured: Any = None
    offset_record: str | None = None
    # (an offset Dataset is applied as given: `Dataset in ("auto", "check")` is True, and an
    # explicit estimate_offset result was taken for a mode and the guide left where it was)
    given = call_kw.get("guide_offset")
    measures = isinstance(given, str) and given in ("auto", "check") and guide is not None \
        and m.needs_guide
    resuming = mode == "resume" and store_exists(store)
    recorded = _stored_argument(store, "guide_offset_measured") if resuming else None
    if measures and recorded is not None and (_lazy(lst) or _lazy(guide)):
        # a store started on the inputs in memory, resumed on the same data opened lazily (as
        # the command line's --resume does): its recorded offset is applied, not the one
        # upscale measures on 8 sampled steps (taking only its record into the fingerprint, the
        # resumed steps were computed without moving the guide: 7 K off the written ones)
        call_kw["guide_offset"] = _recorded_offset(store, recorded)
        measured = recorded
    elif measures and not _lazy(lst) and not _lazy(guide) and (recorded is not None
                                                                  or not resuming):
        # (a store to resume that records no measurement had its offset measured by upscale
        # on the chunked input, 8 sampled steps: the same here, from the chunks made below)
        call_kw["guide_offset"] = _offset_in_memory(
            lst, guide, call_kw["guide_offset"], factor, mask_out_of_range, guide_time_tolerance)
        off = call_kw["guide_offset"]
        measured = off if isinstance(off, str) else _offset_summary(off)
        if not isinstance(off, str):
            offset_record = _offset_record(off)
    # input time chunks = regions, so that a region reads and computes only its own steps
    lst = lst.chunk({tdim: time_chunk}) if tdim else lst.chunk()
    given_guide = guide  # the resume fingerprint is of the guide as given
    if not (resuming and _all_written(store)):  # else no region reads it
        guide = _static_guide_read_once(guide, lst, tdim)

    sr = upscale(with_global_attrs(lst, src_attrs, as_netcdf=False), factor, m, guide, **call_kw)
    if measures:  # measured here, applied by upscale: recorded as the user's run
        sr.attrs = restate_guide_offset(sr.attrs, given, guide_offset)
    if declared:
        sr = sr.rename({v: k for k, v in declared.items()})
    sr.name = vname
    sr.attrs = _zarr_attrs(sr.attrs)
    cy = _spatial_chunk(sr.sizes[ydim], sr.chunks[sr.get_axis_num(ydim)])
    cx = _spatial_chunk(sr.sizes[xdim], sr.chunks[sr.get_axis_num(xdim)])
    if isinstance(tile, (int, np.integer)) and not isinstance(tile, bool):
        # the store's chunks are not the compute tile's (tile= changes how, not what): small
        # tiles are merged into chunks of at least STORE_CHUNK_MIN fine pixels
        tiled = (cy, cx)
        cy, cx = (_store_chunk(c, sr.sizes[d], in_chunk[d] * int(factor))
                  for c, d in ((cy, ydim), (cx, xdim)))
        if (cy, cx) != tiled:
            log.info("upscale_to_zarr: tile=%d gives %d x %d px tiles; stored in chunks of "
                     "%d x %d px", tile, *tiled, cy, cx)
    rechunk = {ydim: cy, xdim: cx}
    if tdim:
        rechunk[tdim] = time_chunk
        _check_chunk_bytes(time_chunk, cy, cx, sr.dtype.itemsize, zarr_compressors(compressors))
    sr = sr.chunk(rechunk)  # uniform chunks = the Zarr chunks: each region writes whole chunks
    nt = sr.sizes[tdim] if tdim else 1
    regions = [(a, min(a + time_chunk, nt)) for a in range(0, nt, time_chunk)]

    # (a store started before the CF encoding attributes were left out recorded the other)
    input_parts: dict[str, Any] = {}
    input_fp, *input_fp_before = _array_fingerprints(lst, parts=input_parts)
    guide_fp, *guide_fp_before = _guide_fingerprints(given_guide)
    arguments = {
        "factor": int(factor),
        # a class not registered under its name (a user's variant of Bicubic inherits
        # "bicubic", an unregistered one has ""): its qualified name, another class's run is
        # not this one's to resume
        "method": m.recorded_name(),
        "method_options": _fingerprinted_options(m.describe()),
        # tile= changes how, not what (the seams are exact): a resume with smaller tiles after
        # running out of memory was refused
        "upscale_options": json.loads(json.dumps(
            {k: v for k, v in up_kw.items() if k != "tile"}, default=_fingerprint_value)),
        "time_chunk": time_chunk,
        "variable": vname,
        "input": input_fp,
        "guide": guide_fp,
        "xlstsr_version": __version__,
    }
    if measured is not None:
        # the offset the guide was moved back by, measured on all steps of the input in memory
        # (a store started when 8 sampled steps were measured, resumed after, mixed the two: 15
        # K between identical days); absent where upscale measured the chunked input (a lazy
        # first run, or an older one), which a resume then measures the same way, above
        arguments["guide_offset_measured"] = measured
    # the options given that describe() does not record and that change the output: a custom
    # method whose describe() omits one resumed a run with another value of it, two settings in
    # one "complete" store (runtime settings, e.g. a smaller batch_size after running out of
    # memory, and the model file, recorded by its hash, may change; absent from older
    # fingerprints: only when given)
    extra_options = {k: v for k, v in dict(method_options or {}).items()
                     if k not in RUNTIME_OPTIONS and k not in arguments["method_options"]}
    if extra_options:
        arguments["given_method_options"] = json.loads(
            json.dumps(extra_options, sort_keys=True, default=_fingerprint_value))
    fingerprint = hashlib.sha256(json.dumps(arguments, sort_keys=True).encode()).hexdigest()[:32]
    ds = sr.to_dataset()
    # a stacked leading dim (`da.stack(t=("scene", "time"))`, as the refusal of several leading
    # dims suggests): Zarr stores no MultiIndex (xarray raised NotImplementedError), so its
    # levels are stored as coordinates along it and the returned array has the index back
    levels = _stacked_levels(ds, tdim)
    if levels:
        ds = ds.reset_index(tdim)
    # coordinates along time made lazy by the chunking (a composite's start date, a day of
    # year): computed now, they are small; the template's write left them as fill (1970-01-01)
    lazy = {c: ds[c].compute() for c in ds.coords
            if c not in ds.dims and _dask(ds[c].variable)}
    if lazy:
        ds = ds.assign_coords(lazy)
    # text labels (MODIS '2020183') as variable-length strings: numpy's fixed-length UTF-32
    # has no Zarr v3 specification (zarr warned that other libraries may not read the store);
    # bytes (a NetCDF char overpass read back, b'day') too, decoded as UTF-8: stored as they
    # were (NullTerminatedBytes, no v3 specification either) they read back as bytes
    text = {c: ds[c].copy(data=np.char.decode(ds[c].values, "utf-8", errors="replace"))
            if ds[c].dtype.kind == "S" else ds[c] for c in ds.coords
            if ds[c].dtype.kind in "US"}
    text = {c: v.astype(object) for c, v in text.items()}
    if text:
        ds = ds.assign_coords(text)
    ds = _without_storage_encoding(ds)
    stamp = writer_stamp()  # read back before marking: the store is still this run's
    ds.attrs = {
        # a Dataset input's own (source, title, Conventions), history with this run's line
        **_zarr_attrs(output_global_attrs(src_attrs, sr, as_netcdf=False)),
        "xlstsr_fingerprint": fingerprint,
        "xlstsr_arguments": json.dumps(arguments, sort_keys=True),
        # set to "complete" once every region is written: a store of an interrupted run
        # says so to xr.open_zarr users, and xlstsr's readers refuse it (io.zarr.open_zarr)
        STATUS_ATTR: INCOMPLETE,
        WRITER_ATTR: stamp,  # a second run on this store while this one writes is refused
        INPUT_PARTS_ATTR: json.dumps(input_parts, sort_keys=True),  # outside the fingerprint
    }
    if offset_record is not None:
        ds.attrs[GUIDE_OFFSET_ATTR] = offset_record
    chunks = ((time_chunk,) if tdim else ()) + (cy, cx)
    keep_enc = {k: v for k, v in sr.encoding.items() if k in ("grid_mapping", "coordinates")}
    encoding = {vname: {**keep_enc, "chunks": chunks, "compressors": zarr_compressors(compressors)}}

    exists = store_exists(store)
    # an empty folder is no store (it is written into) but the user's: emptied, not removed,
    # if the template fails
    folder = _local_folder(store)
    was_folder = folder is not None and folder.is_dir()
    if exists and mode != "w-":
        _refuse_live_writer(store)
    if exists and mode == "w-":  # (created since the check at the start)
        _refuse_existing(store)
    fresh = mode == "w" or not exists
    if not fresh:
        try:
            root = zarr.open_group(store, mode="r")
            old = root.attrs.get("xlstsr_fingerprint")
            done_arr = root[f"{PROGRESS_GROUP}/done"]
        except Exception as err:
            if isinstance(err, XlstsrError):
                raise
            started = "root" in locals() and root.attrs.get(STATUS_ATTR) == INCOMPLETE
            raise XlstsrError(
                f"the store {_store_label(store)} was started by upscale_to_zarr but stopped before its "
                "progress record was made: nothing to resume; pass mode='w' to write it again."
                if started else
                f"the store {_store_label(store)} was not written by upscale_to_zarr (no progress record): "
                "resume only works on a store it started; pass mode='w' to overwrite it."
            ) from err
        prev_args: dict[str, Any] = {}
        if old != fingerprint:
            try:
                prev_args = json.loads(root.attrs.get("xlstsr_arguments", "{}"))
            except ValueError:
                prev_args = {}
            if isinstance(prev_args.get("upscale_options"), dict):
                # stores that recorded tile= (which changes no value) resume as the same run
                prev_args["upscale_options"].pop("tile", None)
            if isinstance(prev_args.get("method_options"), dict):
                # and those that recorded a runtime option (backend, the checkpoint's name)
                prev_args["method_options"] = _fingerprinted_options(prev_args["method_options"])
            # and those whose input's or guide's fingerprint hashed its CF encoding attributes
            if prev_args.get("input") in input_fp_before:
                prev_args["input"] = input_fp
            if prev_args.get("guide") in guide_fp_before:
                prev_args["guide"] = guide_fp
            if prev_args == arguments:
                old = fingerprint
        if old != fingerprint:
            diff = sorted(
                k for k in set(arguments) | set(prev_args) if arguments.get(k) != prev_args.get(k)
            )
            shown = [f"{k}: {prev_args.get(k)!r} there, {arguments.get(k)!r} here"
                     for k in diff if k in _SHOWN_ARGUMENTS]
            for k in diff:  # options recorded as a mapping: which of them, and their values
                a, b = prev_args.get(k), arguments.get(k)
                if isinstance(a, dict) and isinstance(b, dict):
                    shown += [f"{k}[{o!r}]: {a.get(o)!r} there, {b.get(o)!r} here"
                              for o in sorted(set(a) | set(b)) if a.get(o) != b.get(o)]
            if "input" in diff:
                factors = (prev_args.get("factor"), int(factor))
                shown.append(_input_parts_differ(root.attrs.get(INPUT_PARTS_ATTR), input_parts,
                                                 store, ds, {ydim: factors, xdim: factors}))
            if "guide" in diff:
                shown.append(_guide_order_differs(prev_args.get("guide"), guide_fp))
            if "upscale_options" in diff:
                shown.append(_offset_summary_recorded(prev_args.get("upscale_options"),
                                                      arguments["upscale_options"]))
            shown = "; ".join(s for s in shown if s)
            if diff == ["xlstsr_version"]:
                raise XlstsrError(
                    f"the store {_store_label(store)} was started by xlstsr {prev_args.get('xlstsr_version')} "
                    f"and this is {__version__}: another version may give other values, so it "
                    "does not complete the store. Resume with that version installed (the "
                    "release, `pip install "
                    f"xlstsr=={prev_args.get('xlstsr_version')}`, or the source checkout that "
                    "wrote it, `pip install -e .` there), or pass mode='w' to write it again."
                )
            raise XlstsrError(
                f"the store {_store_label(store)} was written with different arguments or input (they differ in "
                f"{diff}{'; ' + shown if shown else ''}); resume with the original arguments, or "
                "pass mode='w' to overwrite it."
                + _other_steps(store, lst, tdim)
            )
        try:
            root[vname]
        except Exception:  # its data array removed or renamed: nothing to complete
            raise XlstsrError(
                f"the store {_store_label(store)} has a progress record but no array {vname!r} (deleted, or "
                "renamed): it cannot be resumed; pass mode='w' to write it again."
            ) from None
        if done_arr.shape != (len(regions),):
            raise XlstsrError(f"the store's progress record does not match {len(regions)} regions")
        recorded = np.asarray(done_arr[:])
        done = recorded.astype(bool)
        _refuse_damaged(store, root, vname, done, ds)
        aside = None
    else:
        # the template (metadata and coordinates) from a stand-in of the output's shape and
        # chunks: xarray builds and optimises the whole graph it is given to return its writes,
        # which are not used (the output's graph of a year of tiles took seconds; zeros' none)
        template = ds.copy()
        template[vname] = ds[vname].copy(
            data=dsa.zeros(sr.shape, chunks=sr.data.chunks, dtype=sr.dtype))
        # on the variable too, until complete: a copy loaded into memory (`.load()`) keeps it,
        # while the store's own attribute and the store read stay behind (to_cogs wrote its
        # unwritten dates as all-NaN COGs); io.zarr.refuse_incomplete_inputs reads it
        template[vname].attrs[STATUS_ATTR] = INCOMPLETE
        aside = _set_aside(store) if exists else None
        claimed = False
        if folder is not None:
            # a new local store is claimed before anything is written into it (two runs started
            # together on one output both passed the checks above)
            try:
                claimed = _claim_local_store(folder, stamp)
            except OSError as err:
                if not was_folder and folder.is_dir() and not any(folder.iterdir()):
                    folder.rmdir()  # the folder the claim made (a rerun is then "new" again)
                _put_back(store, aside)
                raise XlstsrError(
                    f"cannot write the store {_store_label(store)}: {err.strerror or err}. "
                    "Choose a folder you can write to (check its permissions and free space)."
                ) from err
            if not claimed:
                kept = (f" The store mode='w' was to replace is kept at {aside}: "
                        f"{restore_advice(folder, aside, True)} once that run has finished, if "
                        "you want it back." if aside is not None else "")
                raise XlstsrError(
                    f"the store {_store_label(store)} was started just now by another run "
                    "(an upscale_to_zarr run started at the same time on the same output): this "
                    "run leaves it to that one. Write this one to another path, or wait for "
                    "that run to finish." + kept
                )
        try:
            # into the claimed folder: mode="w" would delete what another run wrote there
            template.to_zarr(
                store, mode="a" if claimed else "w", compute=False, zarr_format=3,
                consolidated=False, encoding=encoding,
            )
            root = zarr.open_group(store, mode="r+", zarr_format=3)
            prog = root.require_group(PROGRESS_GROUP)
            prog.create_array(
                "done", shape=(len(regions),), chunks=(1,), dtype="uint8", fill_value=0,
                overwrite=True,
            )
        except BaseException as err:  # the earlier store back, whatever stopped the template
            # a half-written store, marked incomplete without a progress record, which a
            # resume cannot complete and a rerun was told exists: the one this call started
            # goes (a store it replaces comes back; one it did not start stays)
            if not _put_back(store, aside) and not exists and _remove_new_store(store,
                                                                                was_folder):
                err.add_note(f"upscale_to_zarr: the store {_store_label(store)} this call "
                             "started is removed (its metadata could not be written).")
            if not isinstance(err, OSError):
                raise
            raise XlstsrError(
                f"cannot write the store {_store_label(store)}: {err.strerror or err}. Choose a folder you can "
                "write to (check its permissions and free space)."
            ) from err
        done = np.zeros(len(regions), bool)
        recorded = np.zeros(len(regions), np.uint8)

    if not fresh:  # this process completes it now
        zarr.open_group(store, mode="r+").attrs[WRITER_ATTR] = stamp
    done_arr = zarr.open_array(store, path=f"{PROGRESS_GROUP}/done", mode="r+")
    todo = [i for i in range(len(regions)) if not done[i]]
    k = max(1, int(regions_in_flight or parallelism()))
    bar = tqdm(
        total=len(regions),
        initial=len(regions) - len(todo),
        disable=not progress,
        unit="region",
        desc=f"upscale_to_zarr x{factor} {m.recorded_name()}",
    )

    # regions go straight into the Zarr array the template created (its coordinates, attrs and
    # encoding are already written): whole chunks, no per-region xarray setup
    target = zarr.open_array(store, path=vname, mode="r+")
    # all-NaN chunks are written too (15 kB each, Blosc LZ4) instead of zarr scanning every
    # chunk for fill values to leave those out: about a fifth of the write's CPU; and a resume
    # counts a missing chunk of a finished region as lost (_refuse_damaged)
    target = target.with_config({"write_empty_chunks": True})
    data = sr.transpose(*([tdim] if tdim else []), ydim, xdim).variable.data
    if target.dtype != data.dtype:  # pragma: no cover - xarray keeps float32/float64 as is
        data = data.astype(target.dtype)
    if any(c[0] != z for c, z in zip(data.chunks, target.chunks)):
        # a resume of the same input opened with other chunks: its tiles in the store's own
        # chunks (two tiles each writing part of one chunk at once lost 143 000 of 225 000
        # pixels of a store then marked complete)
        data = data.rechunk(tuple(target.chunks))

    started: dict[int, float] = {}
    cloudy: list[int] = []
    # the regions an interrupted run recorded without a valid pixel: counted with this call's
    # (a resume's log and bar said 1 where the store held 2)
    cloudy_before = int(np.count_nonzero(recorded == NO_DATA))
    finished: list[int] = []  # regions this call completed
    walls: list[float] = []  # their wall times, start to written (for the log's ETA)

    def write(i: int) -> Any:  # the lazy write of region i, returning whether it held data
        a, b = regions[i]
        started[i] = time.perf_counter()
        part = data if tdim is None else data[a:b]
        # each output chunk is written by the task that made it, which also says whether it holds
        # a valid pixel (the output is NaN exactly where the input is): no second decoding of the
        # input, no read-back of the stored chunks
        flags = part.map_blocks(
            _store_block, target=target, offset=(a,) if tdim is not None else (),
            chunks=tuple((1,) * len(c) for c in part.chunks), dtype=bool,
            meta=np.empty((0,) * part.ndim, bool),
        )
        return flags.any()

    def mark(i: int, held_data: Any) -> None:
        nonlocal aside
        if folder is not None:  # (a read per region: local stores only)
            _refuse_taken_over(store, stamp, aside)
        # the marker is written only after the region's data; NO_DATA records a region without
        # a valid pixel, so that a resume still knows whether any region held data
        done_arr[i] = DONE if held_data else NO_DATA
        finished.append(i)
        if not held_data:
            cloudy.append(i)
        elif aside is not None:  # the new result has begun to land: the replaced one goes
            shutil.rmtree(aside)
            aside = None
        bar.update(1)
        bar.set_postfix(all_cloud=cloudy_before + len(cloudy), refresh=False)
        a, b = regions[i]
        now = time.perf_counter()
        walls.append(now - started.pop(i, now))
        log.info("region %d/%d (steps %d-%d) written in %.2f s%s; %d of %d done, ETA %.0f s",
                 i + 1, len(regions), a, b - 1, walls[-1],
                 "" if held_data else " (no valid pixel: all cloud or fill)",
                 len(finished), len(todo),
                 _eta(walls, [now - t for t in started.values()],
                      len(todo) - len(finished), k))
        trim_heap()

    t_run = time.perf_counter()
    stopped = True  # until the regions ran through: the writer stamp goes with the error

    def drop_unfinished() -> bool:
        """Remove the store this call started if it holds no finished region (True if it
        did): nothing in it to resume, and a rerun (corrected or not) then needs no
        mode='w'. A store with finished regions stays (resume)."""
        if not (fresh and not finished and _remove_new_store(store, was_folder)):
            return False
        log.info("upscale_to_zarr: removed %s, started by this call (no region finished)",
                 _store_label(store))
        return True

    def said_with(err: BaseException, then: str) -> None:
        """What a failed run left, as a note on its error: the replaced store back if nothing
        landed, a store this call started removed if it holds no finished region (so that the
        rerun needs no mode='w'), else the store left incomplete and ``then``."""
        if _put_back(store, aside):
            err.add_note(f"upscale_to_zarr: the store {_store_label(store)} that mode='w' was to "
                         "replace is kept as it was (no region of the new one was written).")
        elif drop_unfinished():
            err.add_note(f"upscale_to_zarr: the store {_store_label(store)} this call started is "
                         "removed (no time block was written).")
        else:
            done_now = int(done.sum()) + len(finished)
            err.add_note(f"upscale_to_zarr: the store {_store_label(store)} is left incomplete "
                         f"({done_now} of the {len(regions)} time blocks written); {then}.")

    client = active_client()
    if folder is not None and client is not None:
        try:  # before the first region: workers that do not see it wrote it elsewhere
            _refuse_unseen_store(client, folder, _store_label(store))
        except XlstsrError as err:
            bar.close()
            said_with(err, "complete it with mode='resume' from a client whose workers see "
                      "this folder")
            _release_writer(store)
            raise
    try:
        run_regions(todo, write, mark, k)
        stopped = False
    except _StoreTakenOver:  # another run's now: neither put back nor removed
        raise
    except XlstsrError as err:
        # an input problem found while computing (the value checks run with the regions): a
        # corrected input is another input, which resume refuses
        said_with(err, "once the input is corrected, write it again with mode='w' (mode='resume' "
                  "completes only the same input)")
        raise
    except OSError as err:  # a full disk, a lost mount, a revoked permission: the store stays
        done_now = int(done.sum()) + len(finished)
        kept = (f"{done_now} of the {len(regions)} time blocks are written and kept")
        then = ("complete the store with mode='resume' and the same arguments (`xlstsr "
                "upscale ... --resume`)")
        if _put_back(store, aside):  # nothing of the new result landed: the earlier one back
            aside = None
            kept = "the store that mode='w' was to replace is kept as it was"
            then = "run it again"
        if not _write_failure(err, store):  # an input file that failed to read (a COG, a URL)
            raise XlstsrError(
                f"reading the input failed while upscaling: {err} ({kept}). Check the input "
                f"files (complete, readable), then {then}."
            ) from err
        raise XlstsrError(
            f"cannot write the store {_store_label(store)}: {err.strerror or err} ({kept}). Free space (or fix "
            f"the folder's permissions), then {then}."
        ) from err
    except Exception as err:  # a method's or dask's own error (a worker lost, a bug)
        said_with(err, "complete it with mode='resume' and the same arguments")
        raise
    except BaseException:  # interrupted: the replaced store back if nothing landed (a store
        # this call started stays, resumable: a rerun is told so)
        _put_back(store, aside)
        raise
    finally:
        bar.close()
        if stopped:
            # nothing writes the store any more: a resume from another process (the advice
            # given with the error) was refused as "being written now" while this one lived
            _release_writer(store)
    log.info("upscale_to_zarr: %d regions in %.1f s (%d already done, %d without valid pixels)",
             len(todo), time.perf_counter() - t_run, len(regions) - len(todo),
             cloudy_before + len(cloudy))
    done[finished] = True
    # every region without a valid pixel, this run's and those an interrupted one recorded (a
    # resume counted its own regions only: an all-NaN input interrupted, then resumed, ended
    # a 'complete' store of NaN)
    no_data = recorded == NO_DATA
    no_data[cloudy] = True
    all_nan = bool(done.all() and no_data.all())
    if done.all() and not all_nan:  # (a run stopped by an error does not get here)
        _refuse_taken_over(store, stamp, aside)  # marked complete only by its own writer
        root = zarr.open_group(store, mode="r+")
        root.attrs[STATUS_ATTR] = COMPLETE
        root.attrs.pop(WRITER_ATTR, None)
        if STATUS_ATTR in root[vname].attrs:  # (stores made before it was put there lack it)
            del root[vname].attrs[STATUS_ATTR]
    if all_nan:
        # as upscale refuses an in-memory input without a valid pixel: a store of NaN only is
        # almost always a wrong variable, fill value or QC mask, not a result
        stays = False
        if _put_back(store, aside):
            kept = f"the store {_store_label(store)} that mode='w' was to replace is kept as it was"
        elif fresh and _remove_new_store(store, was_folder):
            # (an empty folder of the user's stays, emptied, as on the other failures)
            kept = "no store is kept"
        else:  # a resumed store (an earlier run started it), or one that could not be removed
            stays = True
            kept = (f"the store {_store_label(store)} holds NaN only and stays incomplete "
                    "(remove it)")
        if stays:  # its readers say so (not "complete it with mode='resume'", refused again)
            zarr.open_group(store, mode="r+").attrs[STATUS_ATTR] = NO_DATA_STATUS
            _release_writer(store)
        raise AllNaNError(
            f"the input holds no valid pixel in any of its {len(regions)} time block(s) (all NaN "
            f"or fill), so nothing was upscaled and {kept}. Check the variable, the fill "
            f"value and the QC mask; {all_nan_advice(lst)}."
        )
    out = xr.open_zarr(store, consolidated=False, decode_coords="all")[vname]
    if levels:
        out = out.set_index({tdim: levels})
    if declared:  # as upscale gives them (xr.open_zarr does not know them)
        out = out.rio.set_spatial_dims(x_dim=xdim, y_dim=ydim)
    return out

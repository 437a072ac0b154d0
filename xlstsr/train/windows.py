"""Training samples cut from a datacube at fixed window positions, split by position.

A datacube of daily tiles (e.g. MOD11A1 opened with :func:`xlstsr.io.open_stac`) holds the same
ground at many dates. :func:`window_samples` cuts square windows at fixed pixel offsets out of
every time step and keeps the complete ones: one sample per (position, date), the position kept
as a coordinate. :class:`PositionSplit` assigns whole **window positions** to training,
validation and test (and optionally a held-out group scored separately), and refuses a position
in two sets; :func:`split_positions` draws one (seeded), :func:`split_by_position` applies it to
patches whose scene ids are positions.

Why by position and not by date: the landscape (relief, land cover, rivers, towns) fixes most of
the sub-pixel LST pattern and comes back at every date, so test dates of a position seen in
training let a network recall that ground instead of predicting it. A split by date (or a random
split of patches) measures how well a model remembers places; a split by position measures how
well it super-resolves ground it has never seen, which is what a user's new scene is.

Examples
--------
>>> split = PositionSplit(train=(1, 2, 3), val=(4,), test=(5, 6))
>>> split.assign(5), split.assign(9)
('test', None)
>>> PositionSplit(train=(1, 2), val=(2,), test=(3,))
Traceback (most recent call last):
...
xlstsr.errors.XlstsrError: window positions in two sets (a split by position must keep them apart): 2 in train and val; put each position in one set
"""

from __future__ import annotations

import math
from collections.abc import Hashable, Iterable, Mapping, Sequence
from dataclasses import dataclass, field
from typing import Any

import numpy as np
import xarray as xr

from ..errors import GridError, InputTypeError, XlstsrError, warn
from ..validate import check_number, check_whole
from .data import PatchSet

__all__ = ["PositionSplit", "split_by_position", "split_positions", "window_samples"]

#: the sets of a :class:`PositionSplit`, in order
SETS = ("train", "val", "test", "held_out")
#: the grid a split's window ids count on (:class:`PositionSplit`'s ``origin``, ``pixel_size``)
GRID_KEYS = ("origin", "pixel_size")


def _ids(values: Iterable[Any], name: str = "positions") -> tuple:
    """Position ids as a tuple of plain Python scalars (ints stay ints), sorted, unique; a str
    (``train="r0c0"`` became the ids 'r', '0', 'c'), a scalar or unhashable ids refused."""
    if isinstance(values, (str, bytes)) or not isinstance(values, Iterable):
        raise InputTypeError(
            f"{name} must be a sequence of position ids, got {values!r}: e.g. "
            f"{name}=('r0c0', 'r0c1') (a single id as a 1-tuple: ('r0c0',))"
        )
    try:
        out = {v.item() if isinstance(v, np.generic) else v for v in values}
        return tuple(sorted(out, key=lambda v: (str(type(v)), v)))
    except TypeError as err:  # an unhashable id (a list), ids that do not sort
        raise InputTypeError(f"{name} must hold hashable position ids (str or int), got "
                             f"{list(values)[:4]!r} ({err})") from None


def _few(ids: Sequence[Any]) -> str:
    """Ids as a message lists them: all of a few, the first six of many (a cube of 4096
    positions listed every one)."""
    ids = list(ids)
    return (repr(ids) if len(ids) <= 8 else
            f"[{', '.join(map(repr, ids[:6]))}, ... {len(ids)} in all]")


def _check_known_positions(name: str, given: Sequence[Any], positions: Sequence[Any],
                           *, fmt: str = "") -> None:
    """Warn naming the ``given`` ids (``name``: e.g. ``held_out``) that are none of
    ``positions``: a misspelt held-out id ('R1C1' for 'r1c1') matched nothing and its ground
    went to training without a word.
    Ids match exactly, type included (7 is not '7'), as :func:`split_by_scene`'s val_scenes;
    ``fmt`` says how the positions are named (e.g. CubeDataModule's 'r{row}c{col}')."""
    have = set(positions)
    unknown = [p for p in given if p not in have]
    if not unknown:
        return
    shown = {str(p) for p in have}
    typed = [p for p in unknown if str(p) in shown]  # 7 for '7': only the type differs
    said = (f"{name} id(s) {_few(unknown)} match no window position (the positions"
            + (f", named {fmt}" if fmt else "") + f": {_few(sorted(have, key=str))})"
            + (f"; {_few(typed)} differ only in type from a position id" if typed else ""))
    keep = "kept out" if name == "held_out" else "kept from the test set"
    # warned, not refused: ids of ground outside these positions (a list shared by several
    # cubes or splits) are legitimate and keep nothing out here; a misspelt one must not
    # pass without a word
    warn(f"{said}: " + (f"no position of these is {keep} by them" if len(unknown) == len(given)
                        else f"only the other {name} positions are {keep}")
         + ". If they name positions of this data, give them exactly as the positions are "
         "named (case and type included)", UserWarning)


@dataclass(frozen=True)
class PositionSplit:
    """Window positions of the training, validation and test sets (and a held-out group).

    Construction fails (``ValueError``) when a position is in two sets: no position can be
    trained on and scored. ``held_out`` holds positions kept out of training and selection for
    another reason (e.g. their ground is the truth of another benchmark); they are scored
    separately.

    Parameters
    ----------
    train, val, test, held_out : sequences of hashable ids
    window : int, optional
        Side, in pixels, of the window positions the ids name (the ``"r{row}c{col}"`` ids of
        :class:`~xlstsr.train.CubeDataModule` count windows of its ``window``): the same ids
        with another window name other ground, so a module refuses a split of another window.
        None: not recorded (ids of any other kind, or a split written by hand).
    origin, pixel_size : (float, float), optional
        The grid those window ids count on: x, y of the upper-left window's upper-left pixel
        centre (CRS units, north-up) and the x, y pixel steps. The same ids on a cube cropped
        at another origin name other ground (a second run trained on the first run's
        validation windows): :class:`~xlstsr.train.CubeDataModule` records them and refuses a
        cube of another grid. None: not recorded (a cube without coordinates, an older split).
    """

    train: tuple = ()
    val: tuple = ()
    test: tuple = ()
    held_out: tuple = field(default=())
    window: int | None = None
    origin: tuple[float, float] | None = None
    pixel_size: tuple[float, float] | None = None

    def __post_init__(self) -> None:
        for name in SETS:
            object.__setattr__(self, name, _ids(getattr(self, name), name))
        if self.window is not None:
            object.__setattr__(self, "window", check_whole(
                "the split's window", self.window,
                hint="the side in pixels of the window positions its ids name, e.g. 128"))
        for key in GRID_KEYS:
            value = getattr(self, key)
            if value is None:
                continue
            try:
                pair = tuple(float(v) for v in value)
            except (TypeError, ValueError):
                pair = ()
            if len(pair) != 2 or not all(math.isfinite(v) for v in pair):
                raise InputTypeError(
                    f"the split's {key} must be two finite numbers (x, y), got {value!r}: pass "
                    "the split a run recorded (its as_dict(), a checkpoint's "
                    "metadata['split']), or drop the key")
            object.__setattr__(self, key, pair)
        clashes = []
        for i, a in enumerate(SETS):
            for b in SETS[i + 1 :]:
                both = sorted(set(getattr(self, a)) & set(getattr(self, b)), key=str)
                if both:
                    clashes.append(f"{', '.join(map(str, both))} in {a} and {b}")
        if clashes:
            raise XlstsrError(
                "window positions in two sets (a split by position must keep them apart): "
                + "; ".join(clashes) + "; put each position in one set"
            )

    def assign(self, position: Hashable) -> str | None:
        """The set holding ``position`` (``"train"``, ``"val"``, ``"test"``, ``"held_out"``)."""
        if isinstance(position, np.generic):
            position = position.item()
        return next((s for s in SETS if position in getattr(self, s)), None)

    def as_dict(self) -> dict[str, Any]:
        """The split as plain lists (checkpoint metadata, JSON), with its ``window``,
        ``origin`` and ``pixel_size`` when it has them."""
        out: dict[str, Any] = {s: list(getattr(self, s)) for s in SETS}
        if self.window is not None:
            out["window"] = self.window
        for key in GRID_KEYS:
            if getattr(self, key) is not None:
                out[key] = list(getattr(self, key))
        return out

    @classmethod
    def from_dict(cls, d: Mapping[str, Sequence]) -> PositionSplit:
        """Rebuild from :meth:`as_dict` (checks disjointness again).

        Examples
        --------
        >>> s = PositionSplit(train=(1,), test=(2,))
        >>> PositionSplit.from_dict(s.as_dict()) == s
        True
        >>> PositionSplit.from_dict({"by": "window position", "window": 64, "train": ["r0c0"]}).window
        64
        """
        if not isinstance(d, Mapping):
            raise InputTypeError(f"a split must be a mapping of {SETS} to positions (as_dict()), "
                                 f"got {type(d).__name__}")
        # "by" and "window" describe the split in a checkpoint's metadata (fit_files); the
        # window is kept: dropped, a split of 64-px windows was applied to 128-px ones, whose
        # ids name other ground (the first run's validation ground went to training)
        unknown = sorted(str(k) for k in d if k not in (*SETS, "by", "window", *GRID_KEYS))
        if unknown:  # a misspelt "trian" dropped its positions silently
            raise XlstsrError(f"unknown set(s) {unknown} in the split; the sets are {SETS}")
        return cls(**{s: tuple(d.get(s, ()) or ()) for s in SETS}, window=d.get("window"),
                   **{k: d.get(k) for k in GRID_KEYS})


def split_positions(
    positions: Mapping[Hashable, float] | Sequence[Hashable],
    *,
    val_fraction: float = 0.15,
    test_fraction: float = 0.25,
    seed: int = 0,
    never_test: Iterable[Hashable] = (),
    held_out: Iterable[Hashable] = (),
) -> PositionSplit:
    """Draw a seeded split of window positions into train / validation / test.

    Positions are visited in a seeded random order; each goes to the test set until it holds
    ``test_fraction`` of the total weight (e.g. the number of dates of each position, so that
    the sets hold the wanted share of *samples*), then to validation until ``val_fraction``,
    then to training. ``never_test`` positions can only go to training or validation;
    ``held_out`` ones go to the held-out group.

    Parameters
    ----------
    positions : mapping position -> weight, or sequence of positions (weight 1 each)
    val_fraction, test_fraction : float
        Shares of the total weight (of the positions not held out).
    seed : int
    never_test : iterable
        Positions that must not be test positions.
    held_out : iterable
        Positions kept out of all three sets.

    Warns
    -----
    UserWarning
        Naming the ids of ``held_out`` (or of ``never_test``) that are none of ``positions``
        (ids match exactly, type and case included): a misspelt id keeps nothing out.

    Examples
    --------
    >>> s = split_positions(range(20), val_fraction=0.2, test_fraction=0.3, seed=0)
    >>> len(s.train), len(s.val), len(s.test)
    (10, 4, 6)
    >>> s = split_positions({1: 5, 2: 1, 3: 1, 4: 1}, test_fraction=0.3, never_test=[1])
    >>> 1 in s.test
    False
    """
    if not isinstance(positions, Mapping):
        positions = dict.fromkeys(_ids(positions), 1.0)
    val_fraction = check_number("val_fraction", val_fraction, 0, 1, hi_open=True)
    test_fraction = check_number("test_fraction", test_fraction, 0, 1, hi_open=True)
    if val_fraction + test_fraction >= 1:
        raise XlstsrError(f"val_fraction + test_fraction must be below 1 (training needs the "
                          f"rest), got {val_fraction} + {test_fraction}")
    from .loop import check_seed

    seed = check_seed(seed)
    for k, w in positions.items():  # a negative or NaN weight skewed the shares silently
        check_number(f"the weight of position {k!r}", w, 0,
                     hint="e.g. its number of dates or samples")
    held, barred = _ids(held_out, "held_out"), _ids(never_test, "never_test")
    for name, ids in (("held_out", held), ("never_test", barred)):
        if ids:  # unknown ids kept nothing out: that ground went to training or test silently
            _check_known_positions(name, ids, _ids(positions))
    held, barred = set(held), set(barred)
    keys = [k for k in _ids(positions) if k not in held]
    total = float(sum(positions[k] for k in keys))
    order = np.random.default_rng(seed).permutation(len(keys))
    sets: dict[str, list] = {"train": [], "val": [], "test": []}
    got = {"val": 0.0, "test": 0.0}
    for i in order:
        k, w = keys[i], float(positions[keys[i]])
        if k not in barred and got["test"] + w / 2 <= test_fraction * total:
            dest = "test"
        elif got["val"] + w / 2 <= val_fraction * total:
            dest = "val"
        else:
            dest = "train"
        sets[dest].append(k)
        if dest in got:
            got[dest] += w
    return PositionSplit(**sets, held_out=tuple(held))


def split_by_position(
    patches: PatchSet, split: PositionSplit
) -> tuple[PatchSet, PatchSet, PatchSet]:
    """The (train, val, test) patches of a split whose ``scene`` ids are window positions.

    Every patch must belong to exactly one set of ``split`` (a patch of a held-out position or
    of a position the split does not know raises): patches never cross sets.

    Examples
    --------
    >>> from xlstsr.train import degraded_pairs, make_patches
    >>> lst = 300 + np.random.default_rng(0).normal(0, 2, (4, 16, 16)).astype("float32")
    >>> ps = make_patches(**degraded_pairs(lst, 4), factor=4, patch=8, scene_ids=[7, 7, 8, 9])
    >>> tr, va, te = split_by_position(ps, PositionSplit(train=[7], val=[8], test=[9]))
    >>> len(tr), len(va), len(te)
    (8, 4, 4)
    """
    if not isinstance(patches, PatchSet):
        raise InputTypeError(f"patches must be a PatchSet (make_patches(..., scene_ids=positions))"
                             f", got {type(patches).__name__}")
    if not isinstance(split, PositionSplit):
        if not isinstance(split, Mapping):
            raise InputTypeError(f"split must be a PositionSplit, got {type(split).__name__}")
        split = PositionSplit.from_dict(split)
    where = np.array([split.assign(p) for p in patches.scene], dtype=object)
    bad = sorted({str(p) for p, w in zip(patches.scene, where) if w not in ("train", "val", "test")})
    if bad:
        raise GridError(
            f"patches of positions outside the train/val/test sets of the split: {', '.join(bad)}"
            f" (the patches' positions: {sorted({str(p) for p in patches.scene})[:12]}); give "
            "each position a set, or drop the held-out patches first"
        )
    return tuple(patches.subset(where == s) for s in ("train", "val", "test"))  # type: ignore[return-value]


def _check_cube(
    cube: Any, windows: Any, size: Any, min_valid: Any, time_dim: Any
) -> tuple[xr.Dataset, list, Hashable, Hashable]:
    """The front door of :func:`window_samples`: an xarray cube whose variables are all
    (time_dim, y, x) on one grid, window offsets as whole (row, col) pairs >= 0, a whole ``size``
    >= 1, ``min_valid`` in [0, 1]; an :mod:`xlstsr.errors` error naming the fix otherwise."""
    if not isinstance(cube, (xr.DataArray, xr.Dataset)):
        raise InputTypeError(
            f"cube must be an xarray DataArray or Dataset (time, y, x), got {type(cube).__name__}:"
            " wrap a numpy stack with `xr.DataArray(a, dims=('time', 'y', 'x'), name='LST')`"
        )
    ds = cube.to_dataset(name=cube.name or "LST") if isinstance(cube, xr.DataArray) else cube
    names = list(ds.data_vars)
    if not names:
        raise XlstsrError("cube is a Dataset without variables: give the LST (and guides)")
    if time_dim not in ds.dims:
        raise GridError(
            f"cube has no {time_dim!r} dimension (dims {tuple(ds.dims)}): pass "
            f"`time_dim=` the name of its time axis, or `cube.expand_dims('{time_dim}')` for one "
            "image"
        )
    dims = {n: ds[n].dims for n in names}
    first = dims[names[0]]
    if len(first) != 3 or time_dim not in first or any(
            set(d) != set(first) for d in dims.values()):
        raise GridError(
            f"every variable of the cube must be ({time_dim}, y, x) on one grid, got "
            f"{dims}: select or squeeze the other dimensions (e.g. `.isel(band=0)`)"
        )
    size = check_whole("size", size, hint="window size in pixels: e.g. 64")
    check_number("min_valid", min_valid, 0, 1, hint="the smallest valid share of a window")
    if not isinstance(windows, Mapping):
        raise InputTypeError(
            "windows must be a mapping position -> (row offset, column offset), e.g. "
            f"{{'a': (0, 0)}}, got {type(windows).__name__}"
        )
    if not windows:  # it was told to lower `min_valid`: no window was given at all
        raise XlstsrError(
            "windows is empty: there is no window to cut; give at least one position -> (row "
            "offset, column offset), e.g. {'a': (0, 0)}"
        )
    if ds.sizes[time_dim] == 0:
        raise XlstsrError(
            f"cube has no time step (its {time_dim!r} dimension is empty): nothing to cut; check "
            "the selection that made it (a date range outside the data?)"
        )
    for k, off in windows.items():
        ok = isinstance(off, (tuple, list, np.ndarray)) and len(off) == 2
        if not ok or any(isinstance(v, bool) or not isinstance(v, (int, np.integer)) or v < 0
                         for v in off):
            raise GridError(
                f"window {k!r}: its offset must be a (row, column) pair of whole numbers >= 0 "
                f"(the upper-left pixel in the cube's grid), got {off!r}"
            )
    return ds, names, *_yx_dims(cube, first, time_dim)


#: dim names of rows and of columns that only the positional reading of a cube meets: one in
#: the other's place ((time, col, row)) is refused, not cut transposed
_Y_LIKE = ("y", "lat", "latitude", "nav_lat", "row", "rows", "line", "lines", "northing")
_X_LIKE = ("x", "lon", "long", "longitude", "nav_lon", "col", "cols", "column", "columns",
           "easting")


def _yx_dims(
    cube: xr.DataArray | xr.Dataset, dims: tuple[Hashable, ...], time_dim: Hashable
) -> tuple[Hashable, Hashable]:
    """The (y, x) dims of the cube's (time, ., .) variables ``dims``, read on the cube the user
    passed: rioxarray forgets a ``rio.set_spatial_dims`` declaration after ``to_dataset`` or
    any indexing, and a declared (time, northing, easting) cube was refused.

    Found by name as CubeDataModule and upscale find them (y/x, lat/lon, latitude/longitude,
    CF axis attributes, rioxarray's declaration), whatever their order: taken by position, a
    (time, x, y) cube had its (row, column) offsets applied as (x, y). Dims without such names
    (``(time, row, col)``) are taken by position, rows then columns, as before; refused when
    a name says that order is wrong (``(time, col, row)``)."""
    from ..errors import NoSpatialDimsError
    from ..validate import spatial_dims, spatial_names

    space = [d for d in dims if d != time_dim]
    try:
        rename = spatial_names(cube)
        back = {v: k for k, v in rename.items()}
        ydim, xdim = spatial_dims(cube.rename(rename) if rename else cube)
        ydim, xdim = back.get(ydim, ydim), back.get(xdim, xdim)
    except NoSpatialDimsError:
        # no names: (time, rows, columns) by position, unless a name says otherwise
        ydim, xdim = space
        if str(ydim).lower() in _X_LIKE or str(xdim).lower() in _Y_LIKE:
            yd, xd = str(ydim), str(xdim)
            raise NoSpatialDimsError(
                f"cannot tell the cube's rows from its columns: dims {tuple(map(str, dims))} hold "
                "no y/x (or lat/lon) pair, and their names do not read as (time, rows, "
                "columns), which window offsets (row, column) take them as. Name them: "
                f"`cube.rename({{{yd!r}: 'y', {xd!r}: 'x'}})` if {yd!r} runs along the rows, "
                f"else `cube.rename({{{yd!r}: 'x', {xd!r}: 'y'}})`."
            ) from None
        return ydim, xdim
    if time_dim in (ydim, xdim):
        raise GridError(f"time_dim {time_dim!r} is one of the cube's spatial dims ({ydim!r}, "
                        f"{xdim!r}): pass `time_dim=` the name of its time axis")
    if {ydim, xdim} != set(space):
        raise GridError(
            f"the cube's spatial dims are ({ydim!r}, {xdim!r}) but its variables are "
            f"{tuple(map(str, dims))}: give variables on the cube's ({time_dim}, y, x) grid"
        )
    return ydim, xdim


def _refuse_scale_applied_twice(ds: xr.Dataset, names: Sequence[Hashable], time_dim: str) -> None:
    """A temperature stored as float Kelvin that kept a ``scale_factor`` (a file opened with
    ``mask_and_scale`` and saved with its attributes) would be scaled again by the CF decoding:
    6 K windows labelled Kelvin. Judged on the first step that holds data (one image read,
    more only while steps are all cloud: a cloudy first step skipped the check)."""
    from ..errors import UnitsError
    from ..validate import PHYSICAL_RANGE_K, _units_kind

    lo, hi = PHYSICAL_RANGE_K
    for n in names:
        da = ds[n]
        try:
            kelvin = _units_kind(da.attrs.get("units")) == "K"
        except UnitsError:  # not a temperature (NDVI, reflectance): CF decoding as it is
            kelvin = False
        scale, offset = da.attrs.get("scale_factor", 1.0), da.attrs.get("add_offset", 0.0)
        if not kelvin or da.dtype.kind != "f" or (scale == 1.0 and offset == 0.0):
            continue
        steps = da.sizes.get(time_dim, 1)
        raw = np.empty(0)
        for i in range(steps):
            img = da.isel({time_dim: i}) if time_dim in da.dims else da
            raw = np.asarray(img.values, np.float64)
            raw = raw[np.isfinite(raw)]
            if raw.size:
                break
        if raw.size == 0:
            continue
        med = float(np.median(raw))
        if lo <= med <= hi and not lo <= med * float(scale) + float(offset) <= hi:
            raise XlstsrError(
                f"{n!r} holds Kelvin already (median {med:.2f} K on its first clear step) but keeps "
                f"the 'scale_factor' {scale:g} / 'add_offset' {offset:g} attributes: decoding "
                f"would apply them a second time ({med * float(scale) + float(offset):.2f} K). "
                "Drop them: `da.attrs.pop('scale_factor', None); "
                "da.attrs.pop('add_offset', None)`."
            )


def _refuse_overlap(windows: Mapping[Hashable, tuple[int, int]], size: int) -> None:
    """Refuse windows that share pixels: a split by position put one in training and the other
    in validation, the same ground on the same dates on both sides, without a word."""
    keys = list(windows)
    offs = np.asarray([windows[k] for k in keys], dtype=np.int64).reshape(-1, 2)
    for i in range(len(keys) - 1):
        near = np.flatnonzero((np.abs(offs[i + 1:] - offs[i]) < size).all(axis=1))
        if near.size:
            j = i + 1 + int(near[0])
            raise GridError(
                f"windows {keys[i]!r} at {tuple(map(int, offs[i]))} and {keys[j]!r} at "
                f"{tuple(map(int, offs[j]))} overlap (size {size}): split by position, their "
                "shared ground would be in training and validation at once. Give windows at "
                f"least {size} pixels apart in rows or columns (e.g. a grid of step {size})."
            )


def window_samples(
    cube: xr.DataArray | xr.Dataset,
    windows: Mapping[Hashable, tuple[int, int]],
    size: int,
    *,
    min_valid: float = 1.0,
    time_dim: str = "time",
) -> xr.Dataset:
    """Cut ``size x size`` windows at fixed pixel offsets from every time step of a cube.

    Each time step is loaded once (one read of a lazy cube per step and variable) and every
    window whose valid fraction is at least ``min_valid`` in every variable becomes a sample.

    Parameters
    ----------
    cube : DataArray or Dataset, (time, y, x)
        E.g. :func:`xlstsr.io.open_stac` of a STAC catalog of daily tiles (decoded values).
    windows : mapping position -> (row offset, column offset)
        Upper-left pixel of each window in the cube's grid: rows along its ``y`` dim, columns
        along its ``x`` dim, found by name (y/x, lat/lon, latitude/longitude, or declared with
        ``rio.set_spatial_dims``) whatever the dims' order. Dims without such names (e.g.
        ``(time, row, col)``) are taken by position: the first spatial dim holds the rows
        (a cube whose names say otherwise, e.g. ``(time, col, row)``, is refused).
    size : int
        Window size in pixels.
    min_valid : float
        Smallest valid fraction of a window (1.0: complete windows only), in [0, 1].
    time_dim : str
        Name of the time dimension.

    Returns
    -------
    Dataset
        The cube's variables as ``(sample, y, x)`` float32 (``y``/``x`` = pixel index in the
        window; declared fill values are NaN and declared scales applied, as xarray's CF
        decoding does; the variables keep their other attributes, e.g. ``units``) with coordinates ``position``, ``time``, ``row_off`` and ``col_off`` along
        ``sample``; samples ordered by time, then position.

    Raises
    ------
    xlstsr.errors.XlstsrError
        Checked before any read: a cube that is not xarray or has no ``time_dim``, variables
        that are not (time, y, x) or whose unrecognised dims are named in the wrong order
        (``(time, col, row)``, :class:`~xlstsr.errors.NoSpatialDimsError`), offsets that are not whole pairs >= 0, a
        ``size`` that is not a whole number >= 1, ``min_valid`` outside [0, 1], no window or no
        time step; a window outside
        the cube; windows that overlap (a split by position would put their shared ground on
        both sides).

    Examples
    --------
    >>> cube = xr.DataArray(np.arange(2 * 4 * 4, dtype="float32").reshape(2, 4, 4),
    ...                     dims=("time", "y", "x"), coords={"time": [10, 11]}, name="lst")
    >>> cube[1, :2, :2] = np.nan
    >>> s = window_samples(cube, {"a": (0, 0), "b": (2, 2)}, 2)
    >>> s.position.values.tolist(), s.time.values.tolist(), s["lst"].shape
    (['a', 'b', 'b'], [10, 10, 11], (3, 2, 2))
    """
    ds, names, ydim, xdim = _check_cube(cube, windows, size, min_valid, time_dim)
    _refuse_overlap(windows, int(size))
    # stored values with their fill and scale declared as attributes (a file opened without
    # mask_and_scale) were cut as they are: fills counted as valid pixels, digital numbers kept
    _refuse_scale_applied_twice(ds, names, time_dim)
    ds = xr.decode_cf(ds, decode_times=False, decode_coords=False, decode_timedelta=False)
    keys = list(windows)
    vals: dict[str, list[np.ndarray]] = {n: [] for n in names}
    pos, times, offs = [], [], []
    for t in range(ds.sizes[time_dim]):
        step = {n: np.asarray(ds[n].isel({time_dim: t}).transpose(ydim, xdim).values) for n in names}
        for k in keys:
            r, c = windows[k]
            cut = {n: step[n][r : r + size, c : c + size] for n in names}
            if any(a.shape != (size, size) for a in cut.values()):
                raise GridError(
                    f"window {k!r} at ({r}, {c}) is not inside the cube ({step[names[0]].shape[0]}"
                    f" x {step[names[0]].shape[1]} pixels) with size {size}: move it or drop it"
                )
            if all(np.isfinite(a).mean() >= min_valid for a in cut.values()):
                for n in names:
                    vals[n].append(cut[n].astype(np.float32))
                pos.append(k)
                times.append(ds[time_dim].values[t])
                offs.append((r, c))
    if not pos:
        raise XlstsrError("no window of the cube is valid enough: lower `min_valid`, or check "
                          "the cube's fill values (all NaN?)")
    o = np.asarray(offs)
    return xr.Dataset(
        {n: (("sample", "y", "x"), np.stack(v), dict(ds[n].attrs)) for n, v in vals.items()},
        coords={
            "position": ("sample", np.asarray(pos)),
            "time": ("sample", np.asarray(times)),
            "row_off": ("sample", o[:, 0]),
            "col_off": ("sample", o[:, 1]),
        },
        attrs={"window_size": int(size), "min_valid": float(min_valid)},
    )

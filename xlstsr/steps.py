"""Pairing two fields' steps (time, or any other non-spatial dim) by label, not by position.

Every function that compares or fits two fields pixel by pixel - a super-resolved field and its
truth (:func:`xlstsr.evaluate`, the metrics of :mod:`xlstsr.metrics`,
:func:`xlstsr.plot.comparison`, :func:`xlstsr.calibration.fit_calibration`,
:func:`xlstsr.correction.calibrate_detail_gain`),
an LST and a fine image (:func:`xlstsr.estimate_offset`), an LST cube and its training truth
(:class:`xlstsr.train.CubeDataModule`) - goes through :func:`pair_steps` first. Paired by
position, a truth of the same dates in another order, of other dates, or of one date selected
with ``.sel(time=t)`` was compared with the wrong step without a word.

A guide whose composites serve a period of LST dates is matched with a tolerance instead
(:func:`xlstsr.guide.match_steps`).
"""

from __future__ import annotations

import datetime
import re
from typing import Any, NamedTuple

import numpy as np
import pandas as pd
import xarray as xr

from .errors import GridError, OverpassWarning, XlstsrError, warn
from .validate import decoded_label, spatial_dims

__all__ = ["calendar", "calendar_fix", "check_scalar_steps", "pair_steps", "same_overpass"]


def same_overpass(a: Any, b: Any) -> bool:
    """Two datetime labels less than a day apart: one overpass dated two ways (its nominal
    date and its acquisition time, or another time zone).

    Examples
    --------
    >>> same_overpass(np.datetime64("2020-07-01"), np.datetime64("2020-07-01T10:30"))
    True
    >>> same_overpass(np.datetime64("2020-07-01"), np.datetime64("2020-07-02T10:30"))
    False
    >>> same_overpass("granule a", "granule a")  # not dates
    False
    """
    gap = _gap(a, b)
    return gap is not None and gap < datetime.timedelta(days=1)


def _gap(a: Any, b: Any) -> datetime.timedelta | None:
    """How far apart two date labels are (a timedelta), or None for labels that do not
    subtract (not dates, two calendars, a timezone against none)."""
    try:
        gap = abs(pd.Timestamp(a) - pd.Timestamp(b))
        return None if pd.isna(gap) else gap
    except (TypeError, ValueError):
        pass
    a, b = _scalar_date(a), _scalar_date(b)
    if a is None or b is None:
        return None
    ta, tb = _gregorian_timestamp(a), _gregorian_timestamp(b)
    if ta is not None and tb is not None:
        # a cftime date of the standard calendar (xr.decode_cf with use_cftime) against a numpy
        # date of the same day: cftime and pandas do not subtract, so the same overpass read
        # as "other dates"
        return abs(ta - tb)
    if not hasattr(a, "calendar"):
        return None
    try:  # cftime dates (climate-model calendars) of one calendar subtract to a timedelta
        return abs(a - b)
    except (TypeError, ValueError):
        return None


#: cftime calendars whose dates are numpy's (proleptic Gregorian; 'standard' and 'gregorian'
#: differ before 1582 only)
_GREGORIAN = frozenset({"standard", "gregorian", "proleptic_gregorian"})


def _gregorian_timestamp(value: Any) -> Any:
    """A scalar date as a pandas Timestamp: numpy dates and Python datetimes as they are, cftime
    dates of a Gregorian calendar (:data:`_GREGORIAN`) by their fields; None for other
    calendars (a 'noleap' day is no numpy day) and dates pandas cannot hold."""
    try:
        if hasattr(value, "calendar"):
            if str(value.calendar).lower() not in _GREGORIAN:
                return None
            return pd.Timestamp(value.year, value.month, value.day, value.hour, value.minute,
                                value.second, value.microsecond)
        t = pd.Timestamp(value[()] if isinstance(value, np.ndarray) else value)  # 0-d arrays
    except (TypeError, ValueError, OverflowError, AttributeError):
        return None
    return None if pd.isna(t) or t.tzinfo is not None else t


def _scalar_date(value: Any) -> Any:
    """A date held as a scalar (numpy datetime64, a cftime date, a Python datetime), or None."""
    v = np.asarray(value)
    if v.ndim != 0:
        return None
    if v.dtype.kind == "M":
        return v
    x = v.item() if v.dtype == object else None
    return x if hasattr(x, "calendar") or isinstance(x, datetime.date) else None


def _shown(value: Any) -> Any:
    return pd.Timestamp(value) if np.asarray(value).dtype.kind == "M" else value


def _date_only(value: Any) -> bool | None:
    """Whether a date label has no time of day (00:00: a nominal date of a daily product);
    None for labels that are not dates."""
    try:
        t = pd.Timestamp(value[()] if isinstance(value, np.ndarray) else value)
        return None if pd.isna(t) else bool(t == t.normalize())
    except (TypeError, ValueError, OverflowError):
        pass
    v = _scalar_date(value)
    if v is None or not hasattr(v, "hour"):
        return None
    return (v.hour, v.minute, v.second, v.microsecond) == (0, 0, 0, 0)


def _day_of(value: Any) -> tuple[Any, int, int, int] | None:
    """(calendar, year, month, day) of a date label; None for labels that are not dates."""
    try:
        t = pd.Timestamp(value[()] if isinstance(value, np.ndarray) else value)
        return None if pd.isna(t) else ("numpy", t.year, t.month, t.day)
    except (TypeError, ValueError, OverflowError):
        pass
    v = _scalar_date(value)
    if v is None or not hasattr(v, "day"):
        return None
    cal = str(getattr(v, "calendar", "")).lower()
    return ("numpy" if cal in _GREGORIAN else cal, v.year, v.month, v.day)


def _all_dates_only(labels: Any) -> bool:
    """Whether every label is a date at 00:00 (nominal dates of a daily product): a 00:00 step
    of a series at times of day (SEVIRI every 15 min) is an acquisition at midnight, not a
    date (the rule of :func:`xlstsr.guide._by_day`)."""
    labels = list(labels)
    return bool(labels) and all(_date_only(t) for t in labels)


def _overpass_matches(label: Any, labels: Any, own: Any = None) -> list[int]:
    """The positions in ``labels`` of the overpass of the date ``label``: a date-only label
    pairs with the step(s) of its own day only; two times of day with the nearest one less
    than a day away (:func:`same_overpass`) when it is the only one within
    :data:`OVERPASS_HOURS` (its own day's 10:40, not yesterday's 23 h 50 min away), or, none
    being within that, one within 6 h with the others 12 h away or more (a truth of 13:30 each
    day: its own day's, 3 h away, not yesterday's, 21 h away), else with
    all those less than a day away (the caller calls that ambiguous: granules minutes apart,
    the steps of a 15-min series). The nominal date 2020-07-02
    against a 10:30 overpass of 07-01 only (13.5 h away) is no pair: that is the truth of
    another day.

    A label at 00:00 is a date only when every label of its side is (``own``, the labels of
    ``label``'s side, default ``[label]``; ``labels`` for the other side): a 00:00 step of a
    15-min series is an acquisition at midnight.

    Examples
    --------
    >>> t = pd.to_datetime(["2020-07-01T10:30", "2020-07-03T10:30"])
    >>> [_overpass_matches(np.datetime64(d), t) for d in ("2020-07-01", "2020-07-02")]
    [[0], []]
    >>> t = pd.to_datetime(["2020-07-01T10:40", "2020-07-02T10:40"])
    >>> _overpass_matches(np.datetime64("2020-07-02T10:30"), t)  # not yesterday's, 23h50 away
    [1]
    """
    day = _day_of(label)
    dates = _date_only(label) and _all_dates_only([label] if own is None else own)
    their_dates = _all_dates_only(labels)
    same = [j for j, t in enumerate(labels)
            if day is not None and (dates or their_dates) and _day_of(t) == day]
    if same:
        return same
    if dates or their_dates:
        return []
    near = [(gap, j) for j, t in enumerate(labels)
            if (gap := _gap(label, t)) is not None and gap < datetime.timedelta(days=1)]
    if len(near) > 1:
        near.sort(key=lambda g: g[0])
        (g0, j0), (g1, _) = near[0], near[1]
        within = datetime.timedelta(hours=OVERPASS_HOURS)
        quarter, half = datetime.timedelta(hours=6), datetime.timedelta(hours=12)
        if g0 <= within < g1 or (within < g0 <= quarter and half <= g1):
            # the only one of its overpass, or (none within the overpass window) the one
            # within a few hours, the others half a day away or more, as one step of each is
            # paired with the hours-apart warning (Terra's 10:30 against Aqua's 13:30):
            # the others are other days' (yesterday's, 23 h 50 min or 21 h away) or the
            # night's; granules minutes apart stay ambiguous (each covers other ground: the
            # user merges or picks)
            return [j0]
    return sorted(j for _, j in near)


def _written(t: pd.Timestamp) -> str:
    return repr(t.strftime("%Y-%m-%d") if t == t.normalize() else t.isoformat())


def check_scalar_steps(like: xr.DataArray, other: xr.DataArray, what: str = "reference",
                       like_what: str = "super-resolved field", var: str | None = None,
                       like_var: str = "sr", *, overpass_free: bool = False) -> None:
    """Refuse an ``other`` that carries a dim of ``like`` as a scalar coordinate (a truth
    selected with ``.sel(time=t)``) of another label, or while ``like`` has several steps:
    a field without that dim is compared with every step of ``like``. Dates are paired by the
    rule of :func:`pair_steps` (:func:`_overpass_matches`): a date-only label (00:00) with an
    overpass of its own day, two times of day less than a day apart; two scalar dates that are
    not one overpass are refused too. Steps of ``like`` without labels, timezone-aware dates and
    CF numbers (decode_times=False) that cannot be decoded are refused; CF numbers of other
    units on each side are compared as the dates they are. A scalar date of a name ``like``
    lacks is refused while ``like``'s steps are dated along another dim (a truth of time=t
    against an sr of dim 'date'), unless that is one step of its overpass. Two scalar text
    labels that differ (``.sel(overpass='night')`` against ``.sel(overpass='day')``) are
    refused; numbers (band=1 against band=2) are not compared. A day acquisition against a
    night one is warned about: read from the ``day_night`` attributes, else from the layer
    names ('LST_Day_1km' / 'LST_Night_1km'), as ``da.name`` or in ``long_name``,
    ``source_subdataset`` or ``source_long_name``, or those attributes' 'daytime' / 'nighttime'.
    An ``other`` of one overpass so labelled against a ``like`` with an ``overpass`` dim of
    day and night is refused, as a scalar ``overpass`` coordinate is.

    ``what``/``like_what`` name the fields in the message, ``var``/``like_var`` the variables of
    its fix.

    Examples
    --------
    >>> import pandas as pd
    >>> t = pd.to_datetime(["2020-07-01", "2020-07-02"])
    >>> sr = xr.DataArray(np.zeros((2, 3, 3)), dims=("time", "y", "x"), coords={"time": t})
    >>> check_scalar_steps(sr.isel(time=[0]), sr.isel(time=0))  # the same date: fine
    >>> check_scalar_steps(sr, sr.isel(time=0))
    Traceback (most recent call last):
    ...
    xlstsr.errors.GridError: the reference is of time=2020-07-01 00:00:00 (a scalar coordinate), ...
    """
    var = var or what.split()[0]
    try:
        sy, sx = spatial_dims(like)
    except XlstsrError:
        sy = sx = None
    for d in [c for c in other.coords if other[c].ndim == 0 and c not in other.dims]:
        if d not in like.coords and d not in like.dims:
            _refuse_date_off_steps(other, like, d, other[d].values, "a scalar coordinate",
                                   what, like_what, var, like_var)
            continue
        t = other[d].values
        _refuse_scalar_tz(other, d, what, var)
        if d in like.coords and like[d].ndim == 0:
            _refuse_scalar_tz(like, d, like_what, like_var)
        if d in like.dims and d not in (sy, sx) and d not in like.indexes:
            # like's steps have no labels (xr.concat(..., dim='time')): the one date would meet
            # every step, and the metrics crashed with xarray's bare "dimension 'time' already
            # exists as a scalar variable"
            raise GridError(
                f"the {what} is of {d}={_shown(t)} (a scalar coordinate), but the {like_what}'s "
                f"{like.sizes[d]} '{d}' step(s) have no labels (a cube made with `xr.concat(..., "
                f"dim='{d}')`?), so it cannot be paired with one of them: give {like_var} the "
                f"labels of its steps (`{like_var} = {like_var}.assign_coords({d}=dates)`) to pair "
                f"them by label, or select the step that goes with it and drop the {what}'s label "
                f"(`{like_var}.isel({d}=[i])` and `{var}.drop_vars('{d}')`). The grid is not the "
                "cause: reprojecting does not change the steps."
            )
        t, like_t = _scalar_cf_dates(like, other, d, what, like_what, var, like_var)
        if d in like.dims and d not in (sy, sx) and d in like.indexes:
            _refuse_bad_labels(like, d, like_what, like_var)
            labels = like.indexes[d] if like_t is None else pd.Index(like_t)
            if labels.has_duplicates:  # get_indexer raised pandas' bare InvalidIndexError
                _refuse_scalar_over_repeats(like, other, d, t, labels, what, like_what, var,
                                            like_var, overpass_free)
            try:
                # a 1-d Index of the value: pd.Index([t]) of a 0-d ndarray (band=1 after
                # .squeeze()) raised "unhashable", read as "not found"
                found = bool((labels.get_indexer(pd.Index(np.atleast_1d(t))) >= 0).all())
            except (TypeError, ValueError):
                found = False
            # the same-day rule of pair_steps (_overpass_matches): "less than a day apart"
            # paired a truth of 07-01 10:30 with an sr dated 07-02 (13.5 h later)
            if len(labels) == 1 and (found or (_scalar_date(labels[0]) is not None
                                               and _overpass_matches(t, [labels[0]]))):
                _warn_other_hours(labels[0], t, what, like_what)
                continue  # one step each: the same label, or one overpass dated two ways
            head = f"{list(labels[:3])}{'...' if len(labels) > 3 else ''}"
            # not the exact label: the step of the same overpass by position (a Landsat scene
            # at 16:19 against a daily cube labelled 00:00: `.sel` of its time raised KeyError)
            dated = [] if found else [i for i, label in enumerate(labels)
                                      if _scalar_date(label) is not None]
            near = _overpass_matches(t, [labels[i] for i in dated])
            near = [dated[i] for i in near]
            if (len(labels) == 1 and not (found or near) and _scalar_date(t) is not None
                    and _scalar_date(labels[0]) is not None):
                # one step of another date: there is no step to select (the advised `.sel`
                # raised KeyError), as when both dates are scalars
                raise GridError(
                    f"the {what} is of {d}={_shown(t)} (a scalar coordinate), the {like_what} "
                    f"of {d}={_shown(labels[0])} (its one step): other dates; pair the fields "
                    f"of the same date, or drop the coordinate (`{var}.drop_vars('{d}')`) if "
                    "the dates only look different."
                )
            if (len(near) > 1 and overpass_free and _date_only(t)
                    and _day_night(other)[0] not in ("day", "night")):
                # a field of no overpass (NDVI) of that date serves each of its steps (as
                # pair_steps does for them alone): advising one of them left the others unpaired
                raise GridError(
                    f"the {what} is of {d}={_shown(t)} (a scalar coordinate), but the "
                    f"{like_what}'s {len(labels)} '{d}' steps are of several dates: give the "
                    f"{what} of each of them (`{var}.sel({d}=[...])`, one step per date), or "
                    f"keep the {like_what}'s steps of that date (`{like_var} = "
                    f"{like_var}.isel({d}={near})`); or, when the {what} is meant for every "
                    f"step, drop its coordinate (`{var}.drop_vars('{d}')`)."
                )
            if len(near) > 1:
                # a date-only truth against a day and a night overpass of its day: the advised
                # `.sel` of its label raised KeyError, and which step is meant is the user's pick
                steps = "; ".join(f"{_shown(labels[i])}: `{like_var}.isel({d}=[{i}])`"
                                  for i in near)
                raise GridError(
                    f"the {what} is of {d}={_shown(t)} (a scalar coordinate), and the "
                    f"{like_what} has {len(near)} '{d}' steps of that overpass or day ({steps}), "
                    f"so which one it goes with is ambiguous (a day and a night acquisition?): "
                    f"select the step of the overpass the {what} was acquired at, by its time "
                    f"of day, with the `isel` above; or, when the {what} is meant for every "
                    f"step, drop its coordinate (`{var}.drop_vars('{d}')`)."
                )
            if not (found or near):
                # no step of that date: the advised `.sel` of its label raised KeyError
                raise GridError(
                    f"the {what} is of {d}={_shown(t)} (a scalar coordinate), but the "
                    f"{like_what} has {len(labels)} '{d}' step(s) ({head}), none of them that "
                    f"one (nor of its overpass): pair it with the {like_what} of its own "
                    f"{d}, or, when the {what} is meant for every step (the labels only look "
                    f"different), drop its coordinate (`{var}.drop_vars('{d}')`)."
                )
            pick = (f"`{like_var}.sel({d}=[{var}['{d}'].values])`" if found or len(near) != 1
                    else f"`{like_var}.isel({d}=[{near[0]}])`, its step of that overpass "
                    f"({_shown(labels[near[0]])})")
            raise GridError(
                f"the {what} is of {d}={_shown(t)} (a scalar coordinate), but the {like_what} has "
                f"{len(labels)} '{d}' step(s) ({head}): each would be compared with it. Select "
                f"the matching step ({pick}), or, when the {what} is meant for every step, drop "
                f"its coordinate (`{var}.drop_vars('{d}')`)."
            )
        # cftime dates too: a truth of another day of a 'noleap' cube was scored (3.5 K RMSE
        # for 2.0) where the same numpy dates were refused
        if (d in like.coords and like[d].ndim == 0 and _scalar_date(t) is not None
                and _scalar_date(like_t) is not None and not _overpass_matches(t, [like_t])):
            raise GridError(
                f"the {what} is of {d}={_shown(t)}, the {like_what} of {d}="
                f"{_shown(like_t)} (scalar coordinates): other dates; pair the fields of "
                f"the same date, or drop the coordinate (`{var}.drop_vars('{d}')`) if the dates "
                "only look different."
            )
        if d in like.coords and like[d].ndim == 0:
            _refuse_other_text(t, like_t, d, "scalar coordinates", what, like_what, var)
            _warn_other_hours(like_t, t, what, like_what)
    (a, how_a), (b, how_b) = _day_night(like), _day_night(other)
    if a is None and b is not None:
        _refuse_one_overpass_over_both(like, other, b, how_b, what, like_what, like_var)
    if a is not None and b is not None and a != b:
        said = ("'day_night' attributes" if how_a == how_b == "'day_night' attribute"
                else f"the {what}'s {how_b}, the {like_what}'s {how_a}")
        warn(f"the {what} is a {b} acquisition and the {like_what} a {a} one ({said}): LST "
             "differs by many K between day and night; pair acquisitions of the same "
             "overpass.", OverpassWarning)


def _step_overpasses(da: xr.DataArray, dim: Any) -> tuple[list[str] | None, str | None]:
    """Each ``dim`` step's overpass: its ``overpass`` (or ``day_night``) coordinate along
    ``dim`` (a series interleaving day and night steps of the same dates), with that name,
    else the field's own one ('day' / 'night', :func:`_day_night`) at every step, with None;
    (None, None) where it is not known."""
    for name in ("overpass", "day_night"):
        c = da.coords.get(name)
        if c is not None and c.dims == (dim,):
            return [_label_text(v) for v in c.values], name
    own, _ = _day_night(da)
    return ([own] * da.sizes[dim] if own in ("day", "night") else None), None


def _overpass_values(da: xr.DataArray, dim: Any) -> Any:
    """The values of the coordinate :func:`_step_overpasses` reads along ``dim`` (b'day', 'D'),
    as stored; None where there is none."""
    for name in ("overpass", "day_night"):
        c = da.coords.get(name)
        if c is not None and c.dims == (dim,):
            return c.values
    return None


def _one_overpass_fix(da: xr.DataArray, dim: Any, var: str, name: str | None,
                      over: list[str] | None, pick: str | None = None) -> str:
    """The selection of one overpass of ``da``'s steps (`sr.isel(time=(sr.overpass ==
    'night').values)`), or of its steps by position where no coordinate names them."""
    if name is None or over is None:
        return f"`{var}.isel({dim}=[...])`"
    pick = pick or sorted(set(over))[-1]
    return f"`{var}.isel({dim}={_overpass_expr(var, name, da.coords[name].values, pick)})`"


def _overpass_expr(var: str, name: str, raw: Any, label: str) -> str:
    """The mask of the steps whose overpass is ``label`` (as :func:`_label_text` reads them),
    compared with the coordinate's own values (``raw``): `(sr.overpass == b'day').values`.
    The read label ('day') selected no step of a NetCDF char (b'day'), 'Day' or 'D' label."""
    values: list[Any] = []
    for v in np.asarray(raw).ravel():
        v = v.item() if isinstance(v, np.generic) else v  # repr b'day', not np.bytes_(b'day')
        if _label_text(v) == label and v not in values:
            values.append(v)
    if len(values) == 1:
        return f"({var}.{name} == {values[0]!r}).values"
    return f"{var}.{name}.isin({values!r}).values"


def _repeats(labels: pd.Index) -> str:
    """The first repeated label and its steps, as a message shows them."""
    first = labels[labels.duplicated()][0]
    at = [i for i, v in enumerate(labels) if v == first]
    return f"{_shown(first)} at steps {', '.join(map(str, at))}"


def _refuse_repeats(da: xr.DataArray, dim: Any, labels: pd.Index, what: str, var: str) -> None:
    """Refuse ``da``'s repeated ``dim`` labels that its overpass labels (:func:`_step_overpasses`)
    do not tell apart, with advice that keeps every step: `drop_duplicates` kept the first
    step of each date, every night step of a day+night series lost."""
    # a stacked dim's overpass is a level of its labels: repeated tuples are told by nothing
    over, name = ((None, None) if isinstance(labels, pd.MultiIndex)
                  else _step_overpasses(da, dim))
    if labels.has_duplicates and (over is None
                                  or pd.MultiIndex.from_arrays([labels, over]).has_duplicates):
        raise GridError(
            f"the {what} has repeated '{dim}' labels ({_repeats(labels)}) that no 'overpass' "
            f"coordinate along '{dim}' tells apart, so its steps cannot be paired with the "
            f"other's: select the steps of one series ({_one_overpass_fix(da, dim, var, name, over)}"
            f"), or label each step's overpass (`{var} = {var}.assign_coords(overpass=('{dim}', "
            "['day', 'night', ...]))`) to pair them by date and overpass."
        )


def _refuse_scalar_over_repeats(like: xr.DataArray, other: xr.DataArray, d: Any, t: Any,
                                labels: pd.Index, what: str, like_what: str, var: str,
                                like_var: str, overpass_free: bool = False) -> None:
    """Refuse a scalar date of ``other`` against ``like``'s steps whose ``d`` labels repeat (a
    day and a night step of each date, told apart by an ``overpass`` coordinate along ``d``),
    advising its step of that date and of ``other``'s overpass (:func:`_day_night`) where
    there is one, else naming the steps of that date."""
    _refuse_repeats(like, d, labels, like_what, like_var)
    over, name = _step_overpasses(like, d)
    mine, how = _day_night(other)
    same = _overpass_matches(t, list(labels))
    pick = [i for i in same if over is not None and over[i] == mine]
    if len(pick) == 1:
        raise GridError(
            f"the {what} is of {d}={_shown(t)} (a scalar coordinate), a {mine} acquisition "
            f"(its {how}), but the {like_what} has {len(labels)} '{d}' steps, its dates "
            f"repeated ({_repeats(labels)}, told apart by its '{name or 'overpass'}'): each "
            f"would be compared with it. Select its step of that date and overpass "
            f"(`{like_var}.isel({d}=[{pick[0]}])`), or, when the {what} is meant for every "
            f"step, drop its coordinate (`{var}.drop_vars('{d}')`)."
        )
    if not same:
        raise GridError(
            f"the {what} is of {d}={_shown(t)} (a scalar coordinate), but the {like_what} has "
            f"no '{d}' step of that date (nor of its overpass) among its {len(labels)}: pair "
            f"it with the {like_what} of its own {d}, or, when the {what} is meant for every "
            f"step, drop its coordinate (`{var}.drop_vars('{d}')`)."
        )
    if overpass_free:
        # a field of no overpass (NDVI) serves both steps of its date: marking it 'day' or
        # 'night' (the advice below) would leave the other unpaired
        raise GridError(
            f"the {what} is of {d}={_shown(t)} (a scalar coordinate), but the {like_what}'s "
            f"{len(labels)} '{d}' steps are of {len(labels.unique())} dates: give the {what} "
            f"of each of them (`{var}.sel({d}=[...])`, one step per date), or, when the "
            f"{what} is meant for every step, drop its coordinate (`{var}.drop_vars('{d}')`)."
        )
    # no advice to mark its overpass (attrs['day_night']) and pass it again: the marked field
    # is refused by the first raise above, the other steps of like having no pair
    steps = "; ".join(f"{over[i] if over else i}: `{like_var}.isel({d}=[{i}])`" for i in same)
    raise GridError(
        f"the {what} is of {d}={_shown(t)} (a scalar coordinate), and the {like_what} has "
        f"{len(same)} '{d}' steps of that date ({steps}), so which one it goes with cannot be "
        f"told by date: select the {like_what}'s step of the overpass the {what} was "
        f"acquired at (the `isel` above) and pass that step."
    )


def _by_day(lab: pd.Index, like_lab: pd.Index) -> bool:
    """Whether two sides' date labels pair by calendar day: one side's are all nominal dates
    (00:00, a daily product), as :func:`_overpass_matches` pairs unique dates; exact labels
    paired the 00:00 steps of a day+night series with no truth dated 10:45 / 22:30."""
    if isinstance(lab, pd.MultiIndex) or isinstance(like_lab, pd.MultiIndex):
        return False
    dated = all(_day_of(t) is not None and _scalar_date(t) is not None
                for t in (*lab, *like_lab))
    return dated and (_all_dates_only(lab) or _all_dates_only(like_lab))


def _step_keys(labels: pd.Index, by_day: bool) -> list[Any]:
    """Each step's label, or its calendar day (:func:`_day_of`) where ``by_day``."""
    return [_day_of(t) for t in labels] if by_day else list(labels)


def _pair_by_date(other: xr.DataArray, like: xr.DataArray, dim: Any, lab: pd.Index,
                  like_lab: pd.Index, what: str, like_what: str, var: str, like_var: str,
                  lname: str | None) -> xr.DataArray:
    """``other`` (a field of no overpass: an NDVI, a fine image) with, for each step of
    ``like``, its step of that date (its calendar day where one side's labels are nominal
    dates, :func:`_by_day`), and ``like``'s labels; refused where a date of ``like`` has none
    (advising ``like``'s steps of the dates ``other`` has), or ``other``'s steps of one date
    differ (nothing tells which goes with which of ``like``'s steps)."""
    by_day = _by_day(lab, like_lab)
    lazy = other.chunks is not None and _is_dask(other.data)
    first: dict[Any, int] = {}
    unsure: dict[Any, list[int]] = {}  # a lazy field's repeats, checked as its blocks are read
    for j, k in enumerate(_step_keys(lab, by_day)):
        if k not in first:
            first[k] = j
            continue
        a, b = other.isel({dim: first[k]}).variable, other.isel({dim: j}).variable
        if lazy:
            # equals() computed the dask data: a lazy NDVI was read while the graph was built
            if _lazy_same(a, b) is not True:
                unsure.setdefault(k, [first[k]]).append(j)
        elif not a.equals(b):
            # repeats that are copies (match_steps' for a day and a night step) serve both;
            # others would be a guess
            raise GridError(_other_copies_message(lab, first[k], j, dim, what, like_what, var))
    want = _step_keys(like_lab, by_day)
    missing = [i for i, k in enumerate(want) if k not in first]
    if missing:
        keep = [i for i, k in enumerate(want) if k in first]
        if len(keep) > 12 and {like[dim].dtype.kind, other[dim].dtype.kind} <= set("MO"):
            # the positions would fill the message: the dates that match (not of CF numbers)
            day = ".dt.floor('D')" if by_day else ""
            keep = (f"{like_var}['{dim}']{day}.isin({var}['{dim}']{day}).values")
        rest = (f", or keep the {like_what}'s steps of the dates it has (`{like_var} = "
                f"{like_var}.isel({dim}={keep})`)" if keep else "")
        raise GridError(
            f"the {what}'s '{dim}' steps differ from the {like_what}'s, paired by date: "
            f"{len(missing)} of the {like_what}'s {len(want)} steps have no {what} step of "
            f"that date (e.g. {_shown(like_lab[missing[0]])}); give the {what} of each of the "
            f"{like_what}'s dates{rest}."
        )
    if any(k in unsure for k in want):
        out = _checked_copies(other, dim, [unsure.get(k, [first[k]]) for k in want], lab,
                              what, like_what, var)
    else:
        out = other.isel({dim: [first[k] for k in want]})
    out = out.assign_coords({dim: (dim, like[dim].values, dict(like[dim].attrs))})
    return _with_labels(out, like, lname, dim) if lname else out


def _other_copies_message(lab: pd.Index, i: int, j: int, dim: Any, what: str,
                          like_what: str, var: str) -> str:
    return (
        f"the {what} has {dim}={_shown(lab[j])} at steps {i} and {j}, with other values, and "
        f"no 'overpass' coordinate along '{dim}' tells which goes with which of the "
        f"{like_what}'s steps: give one {what} step per date (`{var}.isel({dim}=[...])`), or "
        f"label each step's overpass (`{var} = {var}.assign_coords(overpass=('{dim}', ['day', "
        "'night', ...]))`)."
    )


def _is_dask(data: Any) -> bool:
    try:
        from dask.base import is_dask_collection
    except ImportError:
        return False
    return bool(is_dask_collection(data))


def _lazy_same(a: xr.Variable, b: xr.Variable) -> bool | None:
    """Whether two lazy steps are the same without reading them (xarray's test of their dask
    tokens): True, False (other shapes), or None where that cannot tell."""
    try:
        from xarray.core.duck_array_ops import lazy_array_equiv
    except ImportError:  # a private helper of xarray: without it, nothing is known
        return None
    return lazy_array_equiv(a.data, b.data)


def _checked_copies(other: xr.DataArray, dim: Any, copies: list[list[int]], lab: pd.Index,
                    what: str, like_what: str, var: str) -> xr.DataArray:
    """``other``'s (dask) steps ``copies[i][0]`` along ``dim``, each checked against its other
    copies ``copies[i][1:]`` as its blocks are computed: a GridError then, as an eager field's
    repeats of other values are refused at the call. Reading them at the call broke the
    laziness apply_calibration documents; taking the first unchecked would apply one of two
    different steps (two granules of a date) to both overpasses without a word."""
    import dask.array as dsa

    parts = [other.isel({dim: [c[min(r, len(c) - 1)] for c in copies]})
             for r in range(max(map(len, copies)))]
    chunks = dict(zip(parts[0].dims, parts[0].chunks))
    axis = parts[0].get_axis_num(dim)

    def same(*blocks: np.ndarray, block_info: Any = None) -> np.ndarray:
        start = block_info[0]["array-location"][axis][0] if block_info else 0
        for p in range(blocks[0].shape[axis]):
            ref = np.take(blocks[0], p, axis=axis)
            for r, b in enumerate(blocks[1:], 1):
                if not _same_values(ref, np.take(b, p, axis=axis)):
                    c = copies[start + p]
                    raise GridError(_other_copies_message(lab, c[0], c[min(r, len(c) - 1)],
                                                          dim, what, like_what, var))
        return blocks[0]

    data = dsa.map_blocks(same, *[x.chunk(chunks).data for x in parts],
                          dtype=parts[0].dtype, meta=parts[0].data._meta)
    return parts[0].copy(data=data)


def _same_values(a: np.ndarray, b: np.ndarray) -> bool:
    """Equal values, NaN equal to NaN (as ``Variable.equals`` compares)."""
    return bool(np.all((a == b) | (pd.isna(a) & pd.isna(b))))


def _scalar_over_one_date(other: xr.DataArray, like: xr.DataArray, what: str,
                          like_what: str, var: str, like_var: str) -> xr.DataArray:
    """``other`` (an ``overpass_free`` field) with a scalar date of a dim of ``like`` made a
    dim of one labelled as ``like``'s steps, where those are one date repeated (a day and a
    night step) and the scalar is of that date by the rule of :func:`check_scalar_steps` for
    one step (:func:`_overpass_matches`), or where the scalar is a nominal date (00:00) and
    ``like``'s steps are at times of that calendar day (:func:`_times_of_its_day`; then with
    ``like``'s labels, one copy per step): it then serves each overpass, as ``.sel(time=[t])``
    does (``.sel(time=t)`` was refused, with advice to split the LST by overpass). A scalar
    of another date, or against steps of several dates, is left to :func:`check_scalar_steps`
    to refuse; so is a field of a known overpass."""
    if _day_night(other)[0] in ("day", "night"):
        return other  # a day or a night acquisition: its own step, as check_scalar_steps says
    for d in [c for c in other.coords if other[c].ndim == 0 and c not in other.dims]:
        labels = like.indexes.get(d) if d in like.dims else None
        if labels is None or isinstance(labels, pd.MultiIndex):
            continue
        if _times_of_its_day(other[d].values, labels):
            # a nominal date (00:00) against steps at times of that day (10:30 and 22:30):
            # it serves each, as a field of that date along the dim does (pair_steps)
            _refuse_scalar_tz(other, d, what, var)
            _refuse_bad_labels(like, d, like_what, like_var)
            _refuse_repeats(like, d, labels, like_what, like_var)
            other = other.drop_vars(d).expand_dims(d).isel({d: np.zeros(len(labels), int)})
            other = other.assign_coords({d: (d, like[d].values, dict(like[d].attrs))})
            lname = _step_overpasses(like, d)[1]
            other = _with_labels(other, like, lname, d) if lname else other
            continue
        if not labels.has_duplicates or len(labels.unique()) != 1:
            continue
        _refuse_scalar_tz(other, d, what, var)
        _refuse_bad_labels(like, d, like_what, like_var)
        t, like_t = _scalar_cf_dates(like, other, d, what, like_what, var, like_var)
        label = labels[0] if like_t is None else pd.Index(like_t)[0]
        if _scalar_date(t) is None or _scalar_date(label) is None:
            continue
        if not _overpass_matches(t, [label]):
            continue  # another date: refused with its advice
        _warn_other_hours(label, t, what, like_what)
        other = other.drop_vars(d).expand_dims(d).assign_coords(
            {d: (d, like[d].values[:1], dict(like[d].attrs))})
    return other


def _times_of_its_day(t: Any, labels: pd.Index) -> bool:
    """Whether ``t`` is a nominal date (00:00) and ``labels`` several steps at times of that
    calendar day (:func:`_day_of`): a day and a night acquisition of the date."""
    if len(labels) < 2 or _scalar_date(t) is None or not _date_only(t):
        return False
    day = _day_of(t)
    return (not _all_dates_only(labels)
            and all(_scalar_date(x) is not None and _day_of(x) == day for x in labels))


def _pair_repeats(other: xr.DataArray, like: xr.DataArray, dim: Any, lab: pd.Index,
                  like_lab: pd.Index, what: str, like_what: str, var: str,
                  like_var: str, overpass_free: bool = False) -> xr.DataArray:
    """``other``'s steps in ``like``'s order where the ``dim`` labels of one of them repeat (a
    day and a night step of each date): paired by date and overpass
    (:func:`_step_overpasses`: an ``overpass`` coordinate along ``dim``, or the field's own
    ``day_night``), a date-only side by calendar day (:func:`_by_day`); refused where the
    repeats are not told apart, the overpasses of the other side are not known, or a step of
    ``like`` has no step of ``other`` of its date and overpass. An ``overpass_free`` ``other``
    without overpass labels along ``dim`` is paired by date alone (:func:`_pair_by_date`)."""
    _refuse_repeats(like, dim, like_lab, like_what, like_var)
    lo, lname = _step_overpasses(like, dim)
    oo, oname = _step_overpasses(other, dim)
    if overpass_free and oo is None:  # a field of its own overpass (day_night) is paired by it
        return _pair_by_date(other, like, dim, lab, like_lab, what, like_what, var, like_var,
                             lname)
    _refuse_repeats(other, dim, lab, what, var)
    rep = like_lab.has_duplicates
    if lo is None or oo is None:
        rda, rv, rw, rover, rname = ((like, like_var, like_what, lo, lname) if rep
                                     else (other, var, what, oo, oname))
        w, v = (what, var) if rep else (like_what, like_var)
        raise GridError(
            f"the {rw}'s '{dim}' labels repeat ({_repeats(like_lab if rep else lab)}), told "
            f"apart by its '{rname}' ({sorted(set(rover or []))}), but the {w}'s steps are of "
            f"no known overpass, so which go together cannot be told: select the steps of one "
            f"overpass ({_one_overpass_fix(rda, dim, rv, rname, rover)}) and pair them with "
            f"the {w} of that overpass, or label the {w}'s steps (`{v} = {v}.assign_coords("
            f"overpass=('{dim}', [...]))`)."
        )
    by_day = _by_day(lab, like_lab)
    want = list(zip(_step_keys(like_lab, by_day), lo))
    wanted = set(want)
    keys: dict[Any, int] = {}
    for j, k in enumerate(zip(_step_keys(lab, by_day), oo)):
        if k in keys and k in wanted:
            # two steps of one day and overpass (granules of other times): which one is meant
            # is the user's pick, not the first one's (steps like has no use for are left out)
            raise GridError(
                f"the {what} has two steps of the date {_shown(lab[keys[k]])} and overpass "
                f"{k[1]!r} ({_shown(lab[keys[k]])} and {_shown(lab[j])}, steps {keys[k]} and "
                f"{j}), paired with the {like_what}'s date-only steps by day and overpass: "
                f"keep one step of each (`{var}.isel({dim}=[...])`)."
            )
        keys.setdefault(k, j)
    missing = [i for i, k in enumerate(want) if k not in keys]
    if missing:
        only = set(oo) if len(set(oo)) == 1 and set(oo) < set(lo) else None
        fix = (f"select the {like_what}'s steps of that overpass "
               f"({_one_overpass_fix(like, dim, like_var, lname, lo, next(iter(only)))})"
               if only and lname else
               f"give the {what} of the same dates and overpasses")
        raise GridError(
            f"the {what}'s '{dim}' steps differ from the {like_what}'s, paired by date and "
            f"overpass (its dates repeat): {len(missing)} of the {like_what}'s {len(want)} "
            f"steps have no {what} step of that date and overpass (e.g. "
            f"{_shown(like_lab[missing[0]])} {lo[missing[0]]!r}; the {what}'s overpasses: "
            f"{sorted(set(oo))}); {fix}."
        )
    out = other.isel({dim: [keys[k] for k in want]}).assign_coords(
        {dim: (dim, like[dim].values, dict(like[dim].attrs))})
    # like's overpass labels, as paired: another spelling ('Night', b'night') clashed with
    # like's in the metrics' arithmetic, dropped, and the next pairing told nothing apart
    out = out.drop_vars([oname] if oname in out.coords else [])
    return _with_labels(out, like, lname, dim) if lname else out


def _with_labels(other: xr.DataArray, like: xr.DataArray, name: str, dim: Any) -> xr.DataArray:
    """``other`` with ``like``'s per-step ``name`` labels along ``dim`` (values and attrs
    only: ``like[name]`` brought ``like``'s other coordinates, a truth's band and qc
    overwritten by the field's)."""
    return other.assign_coords({name: (dim, like[name].values, dict(like[name].attrs))})


def _refuse_one_overpass_over_both(like: xr.DataArray, other: xr.DataArray, b: str, how_b: str,
                                   what: str, like_what: str, like_var: str) -> None:
    """Refuse an ``other`` of one overpass ``b`` (read by :func:`_day_night` from its
    ``day_night`` attribute or layer name) against a ``like`` with an ``overpass`` (or
    ``day_night``) dim of day and night that ``other`` lacks: it would be compared with each
    overpass, a day truth with the night fields too (a -20 K bias, not a word), where the same
    truth labelled by a scalar ``overpass='day'`` coordinate is refused."""
    for name in ("overpass", "day_night"):
        if name not in like.dims or name in other.dims:
            continue
        labels, of = _overpass_labels(like)
        if of != name or not labels - {b}:
            continue
        shown = [str(v) for v in np.asarray(like[name].values).ravel()]
        pick = (f"select {like_var}'s step of its overpass (`{like_var}.sel({name}={b!r})`)"
                if b in labels else f"pair it with a {like_what} of its ({b}) overpass")
        raise GridError(
            f"the {what} is a {b} acquisition (its {how_b}) but the {like_what} holds the "
            f"'{name}' steps {shown}: each would be compared with it, and LST differs by many K "
            f"between day and night; {pick}, or give a {what} of each overpass along the same "
            f"'{name}' dim."
        )


def _text(value: Any) -> str | None:
    """A scalar text label ('day', an overpass or a granule name) as str, or None."""
    v = np.asarray(value)
    if v.ndim != 0:
        return None
    x = decoded_label(v.item())
    return x if isinstance(x, str) else None


#: a date or date-time written as ISO 8601 text (with a 'T' or a space, seconds optional)
_ISO_DATE = re.compile(r"\d{4}-\d{2}-\d{2}(?:[T ]\d{2}:\d{2}(?::\d{2}(?:\.\d+)?)?Z?)?")


def _refuse_other_text(t: Any, like_t: Any, d: Any, how: str, what: str, like_what: str,
                       var: str) -> None:
    """Refuse two text labels of ``d`` that differ, as differing labels along a dim are
    refused: a truth of ``.sel(overpass='night')`` was scored against an sr of
    ``.sel(overpass='day')`` (15 K RMSE) without a word. Numbers (band=1 against band=2 of
    one-band files) are let through, dates written as ISO text are compared as dates, and
    :func:`xlstsr.io.open_cog`'s ``band_description`` (a file's own text for each band,
    which an sr and its truth never share)."""
    from .io.cog import DESCRIPTION_COORD

    a, b = _text(like_t), _text(t)
    if a is None or b is None or a == b or str(d) == DESCRIPTION_COORD:
        return
    if _ISO_DATE.fullmatch(a) and _ISO_DATE.fullmatch(b):
        # dates written as text ('2020-07-01', '2020-07-01T10:30:00'): compared as dates (the
        # same overpass dated two ways passes, with the hours-apart warning; other dates are
        # refused). Other text pandas parses ('Jan', '2020', '0930') stays text
        ta, tb = pd.Timestamp(a), pd.Timestamp(b)
        if _overpass_matches(tb, [ta]):
            _warn_other_hours(ta, tb, what, like_what)
            return
        raise GridError(
            f"the {what} is of {d}={b!r}, the {like_what} of {d}={a!r} ({how}): other dates; "
            f"pair the fields of the same date, or drop the coordinate (`{var}.drop_vars("
            f"'{d}')`) if the dates only look different."
        )
    raise GridError(
        f"the {what} is of {d}={b!r}, the {like_what} of {d}={a!r} ({how}): other "
        f"'{d}' labels, so other fields would be compared; select the {what} of the same "
        f"{d} (`.sel({d}={a!r})` of the field it was taken from), or, when the labels only "
        f"name the same thing differently, drop the {what}'s (`{var} = {var}.drop_vars('{d}')`)."
    )


#: day/night markers of a layer name (MODIS 'LST_Day_1km', 'LST_Night_1KM') and of a long_name
#: ('Daily daytime 1km grid Land-surface Temperature'): only these clear ones
_DN_NAME = re.compile(r"(?:^|[^a-z])lst_(day|night)(?:[^a-z]|$)", re.IGNORECASE)
_DN_LONG = re.compile(r"\b(day|night)time\b", re.IGNORECASE)

#: where a field's layer is named besides ``da.name``: a GeoTIFF's tags ('LST_Night_1km' as
#: its long_name and source_subdataset, which a COG loses its name to) and upscale's
#: ``source_long_name`` (its own long_name replaces the input's), in this order
_DN_ATTRS = ("long_name", "source_subdataset", "source_long_name")


def _overpass_labels(da: xr.DataArray) -> tuple[set[str], str | None]:
    """The distinct 'day' / 'night' labels of a field's ``overpass`` (or ``day_night``)
    coordinate, of any ndim (a scalar, a dim of both, or a non-dim coordinate along time: a
    series interleaving Terra's day and night steps), and the coordinate's name; an empty set
    and None where there is no such coordinate or it holds other labels only."""
    for name in ("overpass", "day_night"):
        c = da.coords.get(name)
        if c is None:
            continue
        found = set()
        for value in np.asarray(c.values).ravel():
            if isinstance(value, (str, bytes)) and _label_text(value) in ("day", "night"):
                found.add(_label_text(value))
        if found:
            return found, name
    return set(), None


def _label_text(value: Any) -> str:
    """An overpass label as compared: text (a NetCDF char label's bytes decoded), stripped,
    lower case ('Night', b'night ' -> 'night')."""
    return str(decoded_label(value)).strip().lower()


def _day_night(da: xr.DataArray) -> tuple[str | None, str]:
    """'day', 'night' or None for a field, and where that was read: a scalar ``overpass`` (or
    ``day_night``) coordinate 'day' / 'night' (a field selected from a stack of both) or a
    non-dim one along time of that one label at every step (a dim of labels, or both along
    time: None, see :func:`_overpass_labels`), else
    its ``day_night`` attribute (the ECOSTRESS loader, :func:`xlstsr.io.open_modis`), else its layer name
    ('LST_Day_1km') or else its ``long_name``, ``source_subdataset`` or ``source_long_name``
    attribute when it names a layer ('LST_Night_1km') or says '... daytime ...', and one
    overpass only."""
    # a field selected from a (time, overpass) stack (`cube.sel(overpass='night')`): the stack
    # kept its first field's name and attributes, the day one's, so they said "day" of it
    for name in ("overpass", "day_night"):
        c = da.coords.get(name)
        if c is None:
            continue
        if c.size == 1:  # a scalar, or a dim of one ('overpass=["night"]')
            value = decoded_label(c.values.ravel()[0])
            if isinstance(value, str) and _label_text(value) in ("day", "night"):
                return _label_text(value), f"'{name}' coordinate {value!r}"
        elif name in da.dims:
            return None, ""  # both overpasses (or other labels) along a dim: no one label
        else:
            # a non-dim coordinate along time (day and night steps interleaved): its labels,
            # not the name the series kept from its first field ('LST_Day_1km')
            labels, of = _overpass_labels(da)
            if of == name and len(labels) > 1:
                return None, ""
            if of == name and len(set(map(str, np.asarray(c.values).ravel()))) == 1:
                label = labels.pop()
                return label, f"'{name}' coordinate ({label!r} at every step)"
    v = da.attrs.get("day_night")
    if isinstance(v, str) and v.strip():
        return v.strip().lower(), "'day_night' attribute"
    texts = [(da.name, (_DN_NAME,), "layer name")]
    texts += [(da.attrs.get(k), (_DN_NAME, _DN_LONG), k) for k in _DN_ATTRS]
    for text, patterns, how in texts:
        if isinstance(text, str):
            found = {m.lower() for pattern in patterns for m in pattern.findall(text)}
            if len(found) == 1:
                return found.pop(), f"{how} {text!r}"
    return None, ""


def _refuse_scalar_tz(da: xr.DataArray, d: Any, what: str, var: str) -> None:
    """Refuse a timezone-aware scalar date, as :func:`_refuse_bad_labels` refuses such labels:
    it was read as another date ("none of them that one") with advice that raised TypeError."""
    v = np.asarray(da[d].values)
    tz = getattr(v.item(), "tzinfo", None) if v.ndim == 0 and v.dtype == object else None
    if tz is not None:
        raise GridError(
            f"the {what}'s '{d}' date ({v.item()}, a scalar coordinate) is timezone-aware ({tz}); "
            f"xlstsr works with naive UTC dates: convert the instant with `{var} = "
            f"{var}.assign_coords({d}=pd.Timestamp({var}['{d}'].item()).tz_convert(None))`, or, "
            f"for a day dated in local time (a daily product), drop the zone: `{var} = "
            f"{var}.assign_coords({d}=pd.Timestamp({var}['{d}'].item()).tz_localize(None))`."
        )


def _scalar_cf_dates(like: xr.DataArray, other: xr.DataArray, d: Any, what: str,
                     like_what: str, var: str, like_var: str) -> tuple[Any, Any]:
    """``other``'s scalar ``d`` and ``like``'s ``d`` labels (None when ``like`` has no ``d``
    coordinate), decoded to dates where they are numbers in CF time units (decode_times=False)
    of other units or calendars on each side: the raw numbers paired a truth of 2020-06-01
    with an sr of 2020-07-01 ('days since' each its own month). Refused when they cannot be
    decoded."""
    t = other[d].values
    like_t = like[d].values if d in like.coords else None
    okey = _cf_time_key(other[d])
    lkey = _cf_time_key(like[d]) if d in like.coords else None
    if not (okey or lkey) or okey == lkey:
        return t, like_t  # no CF numbers, or the same units on both sides: numbers compare
    if okey:
        t = _decode_cf_labels(other[d])
        t = t if t is None else t[()]  # a numpy scalar, as .values of a date: pd.Timestamp
    if lkey:                            # refuses 0-d arrays
        like_t = _decode_cf_labels(like[d])
        like_t = like_t if like_t is None or like_t.ndim else like_t[()]
    if t is None or (like_t is None and lkey):
        name, v = (what, var) if t is None else (like_what, like_var)
        units = (okey if t is None else lkey)[0]
        raise GridError(
            f"the {name}'s '{d}' labels are numbers in {units!r} (CF time units) that cannot be "
            f"decoded to dates, so they cannot be paired: decode them, {_cf_decode_fix(v)}."
        )
    return t, like_t


#: acquisition times further apart than this are not one overpass (LST moves by K per hour
#: in the morning); a date without a time of day (00:00) is a nominal date and not compared
OVERPASS_HOURS = 2.0


def _warn_other_hours(a: Any, b: Any, what: str, like_what: str) -> None:
    """Warn when two dates with real times of day are hours apart: "less than a day" took a
    night ECOSTRESS scene for the day MODIS overpass (bias +4.4 K), without a word."""
    # cftime dates too (_gap, _date_only): pd.Timestamp refused them, and a night truth was
    # scored against a day field of a cftime calendar without the warning
    if any(getattr(_scalar_date(t), "tzinfo", None) for t in (a, b)):
        return
    if _date_only(a) is not False or _date_only(b) is not False:
        return  # a nominal date (00:00), or not a date
    gap = _gap(a, b)
    if gap is None:
        return  # two calendars, or labels that do not subtract
    hours = abs(gap.total_seconds()) / 3600
    if hours > OVERPASS_HOURS:
        ta, tb = (d if hasattr(d := _scalar_date(t), "calendar")
                  else pd.Timestamp(d[()] if isinstance(d, np.ndarray) else d) for t in (a, b))
        warn(f"the {what} was acquired at {tb}, the {like_what} at {ta}: {hours:.1f} h apart, "
             "not one overpass (LST changes by several K in a few hours, and day and night "
             "differ most); pair acquisitions within about an hour.", OverpassWarning)


def calendar(labels: Any) -> str | None:
    """The calendar of cftime date labels (climate-model calendars), None for any other kind.

    Examples
    --------
    >>> calendar(pd.to_datetime(["2020-01-01"])) is None
    True
    """
    v = np.asarray(labels, dtype=object).ravel()
    return str(v[0].calendar) if v.size and hasattr(v[0], "calendar") else None


def calendar_fix(cal: str | None, dim: str, var: str, source: str | None = None) -> str:
    """The line that puts ``var``'s dates, of calendar ``source`` (None: numpy dates), on
    calendar ``cal`` (None: numpy dates). To or from '360_day' it aligns the dates by month and
    day (``align_on='date'``: the dates no calendar of the two has are dropped); without it
    xarray raised "align_on must be specified".

    Examples
    --------
    >>> calendar_fix("noleap", "time", "truth", "360_day")
    "`truth = truth.convert_calendar('noleap', dim='time', use_cftime=True, align_on='date')`"
    """
    align = (", align_on='date'" if "360_day" in {str(cal).lower(), str(source).lower()}
             else "")
    return (f"`{var} = {var}.convert_calendar('{cal}', dim='{dim}', use_cftime=True{align})`"
            if cal else f"`{var} = {var}.convert_calendar('standard', dim='{dim}'{align})`")


def _cf_time_units(coord: Any) -> str | None:
    """The CF time units ('days since 2020-07-01') of number labels, as a file opened with
    ``decode_times=False`` (or ``decode_cf=False``) keeps them in the coordinate's attrs; None
    for labels of any other kind or without such units.

    Examples
    --------
    >>> c = xr.DataArray([0, 1], dims="time", attrs={"units": "days since 2020-07-01"})
    >>> _cf_time_units(c)
    'days since 2020-07-01'
    >>> _cf_time_units(c.assign_attrs(units="K")) is None
    True
    """
    v = np.asarray(getattr(coord, "values", coord))
    units = getattr(coord, "attrs", {}).get("units")
    if v.dtype.kind not in "iuf" or not isinstance(units, str) or " since " not in units:
        return None
    return units.strip()


def _cf_time_key(coord: Any) -> tuple[str, str] | None:
    """The CF units and calendar of number labels (:func:`_cf_time_units`), or None."""
    units = _cf_time_units(coord)
    if units is None:
        return None
    return units, str(coord.attrs.get("calendar", "standard")).lower()


def _decode_cf_labels(coord: Any) -> np.ndarray | None:
    """Number labels with CF time units (:func:`_cf_time_units`) as the dates they are
    (``xr.decode_cf``: numpy dates, cftime dates for model calendars); None when they have no
    such units or cannot be decoded.

    Examples
    --------
    >>> c = xr.DataArray([0, 1], dims="time", attrs={"units": "days since 2020-07-01"})
    >>> [str(d)[:10] for d in _decode_cf_labels(c)]
    ['2020-07-01', '2020-07-02']
    """
    units = _cf_time_units(coord)
    if units is None:
        return None
    attrs = {"units": units}
    if coord.attrs.get("calendar"):
        attrs["calendar"] = coord.attrs["calendar"]
    values = np.asarray(coord.values)
    import warnings

    try:
        with warnings.catch_warnings():
            warnings.simplefilter("ignore")
            out = xr.decode_cf(xr.Dataset({"t": (("n",), values.ravel(), attrs)}))["t"].values
    except Exception:  # units xarray cannot read (a bad epoch): the caller names them
        return None
    if out.dtype.kind != "M" and calendar(out) is None:
        return None
    return out.reshape(values.shape)


def _cf_decode_fix(var: str) -> str:
    """The line that decodes a field's CF time units (a file opened with decode_times=False)."""
    return (f"`xr.decode_cf(ds)` on the Dataset opened with decode_times=False (or open it "
            f"with decode_times=True, the default), or `{var} = xr.decode_cf("
            f"{var}.to_dataset(name='v'))['v']`")


def _refuse_bad_labels(da: xr.DataArray, dim: Any, what: str, var: str,
                       error: type[XlstsrError] = GridError) -> None:
    """Refuse timezone-aware and missing (NaT/NaN) labels along ``dim``, as
    :func:`xlstsr.validate.require_georeferenced` refuses them before ``upscale``: matched
    (:func:`xlstsr.guide.match_steps`, ``fit_calibration(time_tolerance=)``), tz-aware labels
    were shown as nanosecond integers with advice that failed, a NaT guide label dropped its
    composite silently and a NaT LST label raised AttributeError; paired (:func:`pair_steps`,
    the metrics), a tz-aware truth raised pandas' bare "Cannot compare dtypes". ``error`` is
    the class raised (:class:`~xlstsr.errors.GuideTimeError` for a guide's steps)."""
    idx = da.indexes.get(dim)
    tz = getattr(idx, "tz", None)
    if tz is not None:
        raise error(
            f"the {what}'s '{dim}' labels are timezone-aware ({tz}); xlstsr works with naive "
            f"UTC dates: convert instants with `{var} = {var}.assign_coords({dim}="
            f"{var}.indexes['{dim}'].tz_convert(None))`, or, for days dated in local time (a "
            f"daily product), drop the zone: `{var} = {var}.assign_coords({dim}="
            f"{var}.indexes['{dim}'].tz_localize(None))`."
        )
    if dim in da.coords and da[dim].dtype.kind in "fcmM" and bool(da[dim].isnull().any()):
        raise error(
            f"the {what}'s '{dim}' coordinate holds NaN/NaT labels (a date that failed to "
            f"parse?), which match no step: drop those steps (`{var} = {var}.isel({dim}="
            f"{var}['{dim}'].notnull().values)`) or assign their labels."
        )


def _cf_label_hint(like: xr.DataArray, other: xr.DataArray, dim: Any, what: str,
                   like_what: str, var: str, like_var: str) -> str:
    """The fix for number labels with CF time units (a file opened with decode_times=False)
    on one side against dates on the other: decode them ("give the reference of the same
    steps, `reference.sel(time=sr['time'])`" raised KeyError when followed); "" otherwise."""
    lkey, okey = _cf_time_key(like[dim]), _cf_time_key(other[dim])
    if bool(lkey) == bool(okey):
        return ""
    num_what, num_var, dated, dated_what = ((like_what, like_var, other, what) if lkey else
                                            (what, var, like, like_what))
    v = np.asarray(dated[dim].values)
    if v.dtype.kind != "M" and calendar(v) is None:
        return ""
    units = (lkey or okey)[0]
    return (f"the {num_what}'s '{dim}' labels are numbers in {units!r} (CF time units: a file "
            f"opened with decode_times=False?) and the {dated_what}'s are dates: they never match. "
            f"Decode them to dates, {_cf_decode_fix(num_var)}.")


def _number_label_hint(like_lab: pd.Index, lab: pd.Index, dim: str, what: str, var: str,
                       like_var: str) -> str:
    """The fix for number labels against ``like``'s dates: dates written as numbers
    (20200701, 2020183) are parsed; others (band numbers) take ``like``'s dates."""
    text = [str(v) for v in lab]
    for pattern, fmt, kind in ((r"\d{8}", "%Y%m%d", "YYYYMMDD"), (r"\d{7}", "%Y%j", "YYYYDDD")):
        if all(re.fullmatch(pattern, t) for t in text):
            try:
                pd.to_datetime(text, format=fmt)
            except (TypeError, ValueError):
                continue
            return (f"the {what}'s '{dim}' labels are numbers ({kind}: e.g. {text[0]}), "
                    f"{like_var}'s are dates: convert them, `{var}['{dim}'] = pd.to_datetime("
                    f"{var}['{dim}'].values.astype(str), format='{fmt}')`.")
    same = len(lab) == len(like_lab)
    return (f"the {what}'s '{dim}' labels are numbers ({lab.dtype}: e.g. {text[0]}; band "
            f"numbers?), {like_var}'s are dates: give the {what} the dates of its steps"
            + (f", e.g. {like_var}'s when they are the same dates in the same order (check "
               f"that first): `{var} = {var}.assign_coords({dim}={like_var}['{dim}'].values)`."
               if same else
               f" (`{var} = {var}.assign_coords({dim}=dates)`), then select {like_var}'s "
               f"(`{var}.sel({dim}={like_var}['{dim}'])`).")
            )


def _label_hint(like_lab: pd.Index, lab: pd.Index, dim: str, what: str, var: str,
                like_var: str,
                like_over: tuple[list[str] | None, str | None] = (None, None),
                like_raw: Any = None) -> str:
    """The fix for labels that share no step but name the same dates: text against dates, dates
    of two calendars, or times of day that differ (an acquisition time against a nominal date);
    "" otherwise. ``like_over`` is ``like``'s :func:`_step_overpasses`, which names the
    selection of one overpass where two steps of ``like`` fall on one date of ``other``;
    ``like_raw`` that coordinate's own values, which the selection compares."""
    if len(like_lab.intersection(lab)):
        return ""
    if not isinstance(like_lab, pd.MultiIndex) and not isinstance(lab, pd.MultiIndex):
        shared = _shared_date_hint(like_lab, lab, dim, what, var, like_var, *like_over,
                                   raw=like_raw)
        if shared:
            return shared
    lc, oc = calendar(like_lab), calendar(lab)
    if lc != oc and all(c or isinstance(i, pd.DatetimeIndex) for c, i in ((lc, like_lab),
                                                                           (oc, lab))):
        def kind(c: str | None) -> str:
            return f"cftime dates of the '{c}' calendar" if c else "numpy dates"

        return (f"the {what}'s '{dim}' labels are {kind(oc)} and {like_var}'s are {kind(lc)}: "
                f"they never match; put them on one calendar, {calendar_fix(lc, dim, var, oc)}.")
    if (isinstance(like_lab, pd.DatetimeIndex) and not isinstance(lab, pd.DatetimeIndex)
            and pd.api.types.is_numeric_dtype(lab.dtype)):
        # band numbers of a multi-band GeoTIFF (1, 2, 3): pd.to_datetime read them as
        # nanoseconds after 1970, refused again
        return _number_label_hint(like_lab, lab, dim, what, var, like_var)
    if isinstance(like_lab, pd.DatetimeIndex) and not isinstance(lab, pd.DatetimeIndex):
        try:
            pd.to_datetime(np.asarray(lab, dtype=object))
        except (TypeError, ValueError):
            return ""
        return (f"the {what}'s '{dim}' labels are {lab.dtype} (text?), {like_var}'s are dates: "
                f"convert them, `{var}['{dim}'] = pd.to_datetime({var}['{dim}'])`.")
    if isinstance(like_lab, pd.DatetimeIndex) and isinstance(lab, pd.DatetimeIndex):
        # the nearest lookup needs sorted labels: a truth in file order raised pandas' bare
        # "index must be monotonic increasing or decreasing"
        order = np.argsort(lab.asi8, kind="stable")
        near = order[lab[order].get_indexer(like_lab, method="nearest")]
        gap = pd.Series(abs(like_lab - lab[near])).max()
        # a date-only label pairs with its own day's overpass: "the nearest within a day" paired
        # a day without one with the previous day's overpass (13.5 h away), scored silently
        own = [_overpass_matches(t, lab, like_lab) for t in like_lab]
        lone = [t for t, o in zip(like_lab, own) if not o]
        multi = [(t, o) for t, o in zip(like_lab, own) if len(o) > 1]
        if multi:
            return _several_steps_hint(like_lab, lab, own, multi, dim, what, var, like_var)
        pairs = [(t, o[0]) for t, o in zip(like_lab, own) if len(o) == 1]
        nearest = {t: j for t, j in zip(like_lab, near)}
        if lone and gap < pd.Timedelta("1D") and any(nearest[t] != j for t, j in pairs):
            # the same-day steps are not the nearest ones: times on another clock than the
            # labels (UTC acquisitions against local dates) - neither pairing is safe to paste
            return (f"{len(lone)} of {like_var}'s {len(like_lab)} '{dim}' steps "
                    f"{'has' if len(lone) == 1 else 'have'} no {what} step on its own day "
                    f"(e.g. {lone[0]}), and the {what} step of the same day is not the nearest "
                    f"one (up to {gap} away): the two are probably on different clocks (UTC "
                    "acquisition times against local dates). Put them on one first, e.g. "
                    f"`{var}['{dim}'] = {var}['{dim}'] + pd.Timedelta(hours=H)` with the "
                    "place's UTC offset H, then evaluate again.")
        if (lone and pairs and len(pairs) + len(lone) == len(like_lab)
                and len({j for _, j in pairs}) == len(pairs)):
            days = ", ".join(_written(t) for t, _ in pairs)
            return (f"{len(lone)} of {like_var}'s {len(like_lab)} '{dim}' steps "
                    f"{'has' if len(lone) == 1 else 'have'} no {what} step on its own day "
                    f"(e.g. {lone[0]}), and a date-only label pairs with its own day's "
                    f"overpass only (the nearest {what} step is another day's): keep the days both have, `{like_var} = {like_var}.sel({dim}="
                    f"[{days}])`, then pair each step with its day's overpass, `{var} = "
                    f"{var}.isel({dim}={[int(j) for _, j in pairs]}).assign_coords({dim}="
                    f"{like_var}['{dim}'])`.")
        if gap < pd.Timedelta("1D") and all(len(o) == 1 and o[0] == j
                                            for o, j in zip(own, near)):
            # labels out of order: pandas' nearest lookup needs them sorted (the advice raised
            # "index must be monotonic increasing or decreasing")
            src = var if lab.is_monotonic_increasing or lab.is_monotonic_decreasing \
                else f"{var}.sortby('{dim}')"
            return (f"the labels differ by up to {gap} (an acquisition time against a nominal "
                    f"date, or a time zone?): pair each step with the nearest one, "
                    f"`{var} = {src}.sel({dim}={like_var}['{dim}'], method='nearest', "
                    f"tolerance='1D').assign_coords({dim}={like_var}['{dim}'])`, after checking "
                    "that they are the same overpasses.")
    own = [_overpass_matches(t, lab, like_lab) for t in like_lab]
    if all(len(o) == 1 and _day_of(lab[o[0]]) == _day_of(t) is not None
           for t, o in zip(like_lab, own)) and len({o[0] for o in own}) == len(own):
        # each step has one truth step on its own day, but not the nearest one (overpasses
        # late in the UTC day: 23:30 is nearer the next date) or of cftime dates: "give the
        # reference of the same steps, `.sel(time=sr['time'])`" raised KeyError when followed
        return (f"the {what}'s '{dim}' labels are other times of the same days (acquisition "
                "times against nominal dates?): pair each step with its day's, `"
                f"{var} = {var}.isel({dim}={[int(o[0]) for o in own]}).assign_coords({dim}="
                f"{like_var}['{dim}'])`, after checking that they are the same overpasses "
                "(dates on one clock, e.g. UTC).")
    return ""


def _shared_date_hint(like_lab: pd.Index, lab: pd.Index, dim: str, what: str, var: str,
                      like_var: str, over: list[str] | None, name: str | None,
                      raw: Any = None) -> str:
    """The fix for two or more steps of ``like`` at times of day (a day and a night overpass,
    10:30 and 22:30) on one calendar day of a date-only ``other`` step: which overpass that
    date is cannot be told, so select one overpass of ``like`` (by its overpass coordinate
    ``name``, read ``over``, of values ``raw``, else by time of day) and pair each of its steps
    with its day's; "" where no date is shared.
    "Give the truth of the same steps" raised KeyError when followed, and the steps both have
    were none."""
    if not _all_dates_only(lab) or _all_dates_only(like_lab):
        return ""
    own = [_overpass_matches(t, lab, like_lab) for t in like_lab]
    by_step: dict[int, list[int]] = {}
    for i, o in enumerate(own):
        if len(o) == 1:
            by_step.setdefault(o[0], []).append(i)
    shared = {j: i for j, i in by_step.items() if len(i) > 1}
    if not shared:
        return ""
    j0, i0 = next(iter(shared.items()))
    steps = ", ".join(f"{_shown(like_lab[i])} ({over[i] if over else f'step {i}'})"
                      for i in i0)
    # one overpass: by its coordinate where there is one, else by the hour that splits the
    # times of day at their widest gap (10:30 | 22:30 at 16:00); kept where it leaves one step
    # per date and each has its date's step, else the positions of each date's first step
    picks = []
    if over is not None and name is not None and raw is not None:
        for label in sorted(set(over)):
            mask = [v == label for v in over]
            picks.append((_overpass_expr(like_var, name, raw, label), mask,
                          f"its {label!r} steps"))
    else:
        minutes = sorted({t.hour * 60 + t.minute for t in like_lab})
        if len(minutes) > 1:
            k = int(np.argmax(np.diff(minutes)))
            h = max(minutes[k] // 60 + 1, (minutes[k] + minutes[k + 1]) // 120)
            if h * 60 <= minutes[k + 1]:
                for op, keep in (("<", lambda m: m < h * 60), (">=", lambda m: m >= h * 60)):
                    mask = [keep(t.hour * 60 + t.minute) for t in like_lab]
                    picks.append((f"({like_var}['{dim}'].dt.hour {op} {h}).values", mask,
                                  f"its steps {'before' if op == '<' else 'from'} {h}:00"))
    picks = [(expr, m, how) for expr, m, how in picks
             if all(len(own[i]) == 1 for i in range(len(m)) if m[i])
             and len({own[i][0] for i in range(len(m)) if m[i]}) == sum(m) > 0]
    if not picks:  # each date's first step (by_step lists them in order)
        kept = sorted(i[0] for i in by_step.values())
        picks = [(f"{kept}", [i in kept for i in range(len(like_lab))], "each date's first step")]

    def pair(expr: str, mask: list[bool]) -> str:
        js = [own[i][0] for i in range(len(mask)) if mask[i]]
        return (f"`{like_var} = {like_var}.isel({dim}={expr})`, then pair each step with the "
                f"{what} of its date, `{var} = {var}.isel({dim}={js}).assign_coords({dim}="
                f"{like_var}['{dim}'])`")

    expr, mask, how = picks[0]
    other_pick = (f" (or {picks[1][2]}: {pair(*picks[1][:2])})" if len(picks) > 1 else "")
    return (f"{len(shared)} of the {what}'s {len(lab)} '{dim}' steps (dates without a time of "
            f"day) {'has' if len(shared) == 1 else 'have'} two or more {like_var} steps of its "
            f"date (e.g. {_shown(lab[j0])}: {like_var}'s {steps}; a day and a night overpass?), "
            f"so which one it goes with cannot be told by date: select one overpass of "
            f"{like_var}, e.g. {how}: {pair(expr, mask)}{other_pick}; or give the {what} its "
            "acquisition times, which tell its overpass.")


def _several_steps_hint(like_lab: pd.Index, lab: pd.Index, own: list[list[int]],
                        multi: list[tuple[Any, list[int]]], dim: str, what: str, var: str,
                        like_var: str) -> str:
    """The fix for a ``like`` step with two or more ``other`` steps of its overpass (one
    overpass delivered as two granules, ECOSTRESS 52 s apart): which one to score is the
    user's choice; "give the reference of the same steps" raised KeyError when followed."""
    t, o = multi[0]
    steps = ", ".join(str(lab[j]) for j in o)
    # granules of one overpass lie minutes apart; a day's night and day scenes hours apart:
    # merged, those mixed night and day temperatures
    granules = all(
        (max(lab[j] for j in m) - min(lab[j] for j in m)) <= pd.Timedelta(hours=OVERPASS_HOURS)
        for _, m in multi)
    # the nearest (a date-only label's: its day's earliest); the earliest of "less than a day
    # away" gave sr's 07-02 10:30 the truth of 07-01 10:40, not 07-02's
    far = datetime.timedelta.max
    keep = [(u, min(m, key=lambda j: (_gap(u, lab[j]) or far, j)))
            for u, m in zip(like_lab, own) if m]
    fix = ""
    if len(keep) < len(like_lab):
        fix = (f"keep the days both have, `{like_var} = {like_var}.sel({dim}="
               f"[{', '.join(_written(u) for u, _ in keep)}])`, then ")
    nearest = ("each day's earliest" if _all_dates_only(like_lab) else "the nearest in time")
    fix += (f"keep one {what} step per {like_var} step (here {nearest}), `{var} = "
            f"{var}.isel({dim}={[int(j) for _, j in keep]}).assign_coords({dim}="
            f"{like_var}['{dim}'])`")
    if granules and all(_date_only(u) for u in like_lab):
        # granules of one overpass cover different parts of the scene: merged, none is lost
        fix += (f"; or merge each day's granules into one step first (the first valid value of "
                f"each pixel): `{var} = {var}.resample({dim}='1D').first()`")
    return (f"{len(multi)} of {like_var}'s {len(like_lab)} '{dim}' steps "
            f"{'has' if len(multi) == 1 else 'have'} two or more {what} steps "
            + ("of its day" if _all_dates_only(like_lab) else "less than a day away")
            + f" (e.g. {t}: {steps}; "
            + ("granules of one overpass?" if granules else
               "acquisitions hours apart: choose the one of the overpass you upscaled, by its "
               "time of day")
            + f"), so which one to score is ambiguous: {fix}.")


def _check_one_step(other: xr.DataArray, like: xr.DataArray, dim: str, what: str,
                    like_what: str, var: str, like_var: str) -> None:
    """Refuse a size-1 ``dim`` of ``other`` whose date is not that of ``like``'s scalar ``dim``
    coordinate (the test of :func:`check_scalar_steps`): sr of 2020-07-01 (``.sel(time=t)``)
    was scored against a truth of ``time=[2020-07-03]``, and labelled 07-03, where the mirror
    case was refused."""
    if dim not in like.coords or like[dim].ndim != 0 or dim not in other.indexes:
        return
    mine, theirs = other.indexes[dim][0], like[dim].values
    _refuse_other_text(mine, theirs, dim, f"its one '{dim}' step against a scalar coordinate",
                       what, like_what, var)
    if _scalar_date(np.asarray(mine)) is None or _scalar_date(theirs) is None:
        return  # not dates (band=1 against band=2 of a one-band file): nothing to compare
    # the same-day rule of pair_steps: "less than a day apart" paired 07-01 10:30 with 07-02
    if not _overpass_matches(theirs, [mine]):
        raise GridError(
            f"the {what} is of {dim}={_shown(mine)} (its one '{dim}' step), the {like_what} of "
            f"{dim}={_shown(theirs)} (a scalar coordinate): other dates, but the {what} would be "
            f"compared with it; pair the fields of the same date, or drop the {what}'s labels "
            f"(`{var} = {var}.drop_vars('{dim}')`) if the dates only look different."
        )
    _warn_other_hours(theirs, mine, what, like_what)


def _refuse_date_off_steps(other: xr.DataArray, like: xr.DataArray, d: Any, t: Any, how: str,
                           what: str, like_what: str, var: str, like_var: str) -> None:
    """Refuse ``other``'s one date ``t`` on a dim ``d`` that ``like`` lacks (a size-1 dim or a
    scalar coordinate, ``how``) while ``like``'s dated steps lie along a dim of another name
    that ``other`` lacks, unless that is one step of the same overpass: a truth of
    time=2020-07-03 against an sr of dim 'date' was scored against all three of its dates,
    without a word. Labels that are not dates (band=1 of a GeoTIFF) are let through."""
    if _scalar_date(np.asarray(t)) is None:
        return
    try:
        sy, sx = spatial_dims(like)
    except XlstsrError:
        sy = sx = None
    for step in like.dims:
        if (step in (sy, sx, d) or step in other.dims or step in other.coords
                or step not in like.indexes):
            continue
        labels = like.indexes[step]
        if not len(labels) or any(_scalar_date(np.asarray(v, dtype=object)) is None
                                  for v in labels):
            continue  # steps without dates (scenes, bands): nothing says they differ
        near = _overpass_matches(t, list(labels))
        if len(labels) == 1 and near:
            return  # one step each, of one overpass: it broadcasts harmlessly
        head = ", ".join(str(_shown(v)) for v in labels[:3]) + (", ..." if len(labels) > 3
                                                                 else "")
        drop = (f"`{var}.drop_vars('{d}')`" if d not in other.dims
                else f"`{var}.squeeze('{d}', drop=True)`")
        fix = (f"select {like_var}'s step of that date and give the {what} its dim name: "
               f"`{like_var} = {like_var}.isel({step}=[{near[0]}])` ({_shown(labels[near[0]])}) "
               f"and `{var} = {var}.rename({{{d!r}: {step!r}}})`" if len(near) == 1
               # no step of that date: a rename or a selection only met the next refusal
               else f"pair the {what} with the {like_what} of its own date" if not near
               else _rename_fix(other, like, d, step, var, like_var)[:-1])
        raise GridError(
            f"the {what} is of {d}={_shown(t)} ({how}), a dim the {like_what} lacks: its steps "
            f"are dated along '{step}' ({len(labels)} step(s): {head}"
            f"{'' if near else '; none of them that date'}), so each would be compared with "
            f"the {what} of that one date; {fix}; or, when the {what} is meant for every "
            f"step, drop its date ({drop})."
        )


def _rename_fix(other: xr.DataArray, like: xr.DataArray, dim: str, to: str, var: str,
                like_var: str) -> str:
    """How to make ``other``'s dim ``dim`` the dim ``to`` of ``like``: a rename when its labels
    are ``like``'s (or either side has none); with other labels (a multi-band GeoTIFF's band
    numbers 1, 2, 3) the rename alone was refused again, so ``like``'s labels are given, the
    old ones kept beside them to check the pairing."""
    if (dim not in other.indexes or to not in like.indexes
            or not len(like.indexes[to].difference(other.indexes[dim]))):
        return f"rename it to {like_var}'s (e.g. `{var}.rename({{{dim!r}: {to!r}}})`) or select one step."
    head = f"{list(other.indexes[dim][:3])}{'...' if other.sizes[dim] > 3 else ''}"
    if other.sizes[dim] == like.sizes[to]:
        labels, what = (f"{like_var}['{to}'].values", f"{like_var}'s '{to}' labels, once you "
                        f"have checked that its steps are {like_var}'s in that order")
    else:
        labels, what = "labels", f"the '{to}' label of each of its {other.sizes[dim]} steps"
    return (f"its labels ({head}) are not {like_var}'s, so a rename alone does not pair them: "
            f"give it {what}, as its dim: `{var} = {var}.assign_coords({to}=({dim!r}, {labels}))"
            f".swap_dims({{{dim!r}: {to!r}}})` (its '{dim}' labels stay beside them); or select "
            "one step.")


def _unlabelled_steps_message(other: xr.DataArray, like: xr.DataArray, dim: str, what: str,
                              like_what: str, var: str, like_var: str) -> str:
    """The refusal of ``dim`` steps of other counts on a side without labels (a cube made with
    ``xr.concat(scenes, dim="time")``): without labels the steps pair by position, and other
    counts cannot be paired at all."""
    n, m = other.sizes[dim], like.sizes[dim]
    bare = [(name, v) for name, da, v in ((f"the {what}", other, var),
                                          (f"the {like_what}", like, like_var))
            if dim not in da.indexes]
    who = "neither has" if len(bare) > 1 else f"{bare[0][0]} has no"
    fixes = " and ".join(f"`{v} = {v}.assign_coords({dim}=dates)`" for _, v in bare)
    return (
        f"the {what} has {n} '{dim}' step(s) and the {like_what} {m}, and {who} '{dim}' "
        f"labels (a cube made with `xr.concat(..., dim='{dim}')`?), so their steps cannot be "
        f"paired: give {'each' if len(bare) > 1 else 'it'} the labels of its steps ({fixes}) "
        f"to pair them by label, or select the steps that go "
        f"together (e.g. `{like_var}.isel({dim}=[...])` and `{var}.isel({dim}=[...])`, "
        f"{min(n, m)} each, in the same order). The grid is not the cause: reprojecting does "
        "not change the steps."
    )


def pair_steps(other: xr.DataArray, like: xr.DataArray, what: str = "reference",
               like_what: str = "super-resolved field", *, var: str | None = None,
               like_var: str = "sr", overpass_free: bool = False) -> xr.DataArray:
    """``other`` with its steps (every non-spatial dim) in ``like``'s order of labels, or an error.

    - a scalar coordinate of one of ``like``'s dims (a truth of one date) is checked by
      :func:`check_scalar_steps`;
    - a dim ``like`` lacks would be broadcast against all of ``like``'s steps: refused unless
      of size 1 (``band=1``), and a size-1 dim holding a date is refused too while ``like``'s
      steps are dated along a dim of another name, unless that is one step of its overpass
      (an ``overpass`` dim against a field of one overpass: its step of that one is advised);
    - labels: the same steps in another order are put in ``like``'s order, steps ``like`` does
      not have are left out, a step of ``like`` with no ``other`` step of that label is refused.
      Repeated labels (a day and a night step of each date) pair by label and overpass (an
      ``overpass`` coordinate along the dim, or a field's own ``day_night``), a side of
      date-only labels (00:00) with the other's steps of that day and overpass, and are refused
      where nothing tells them apart. Unique labels paired by date are checked for their
      overpass too: a step of a day / night label other than ``like``'s step of its date gets an
      :class:`~xlstsr.errors.OverpassWarning`, and the result carries ``like``'s labels. Dims
      without labels on either side pair by position, and are refused when their sizes differ.

    ``what``/``like_what`` name the fields in the messages, ``var``/``like_var`` the variables
    of their fixes (``var`` defaults to ``what``'s first word).

    ``overpass_free=True`` is for an ``other`` that does not depend on the overpass (an NDVI,
    a fine image or guide, not an LST truth): where ``like``'s dates repeat (a day and a night
    step of each date), or ``other``'s labels are nominal dates (00:00) and ``like``'s carry
    times of day (10:30 and 22:30 of each date), and ``other`` has no overpass labels along
    the dim, each step of ``like`` takes ``other``'s step of its date (its calendar day
    against nominal dates; repeats of one date must be identical copies: those of dask data
    are checked when computed, not read here), and the result carries ``like``'s overpass
    labels. A scalar date of ``other`` (``ndvi.sel(time=t)``) serves every step of ``like``
    where those are all of that date (all of that calendar day for a nominal date), as
    ``ndvi.sel(time=[t])`` does.

    Examples
    --------
    >>> import pandas as pd
    >>> t = pd.to_datetime(["2020-07-01", "2020-07-02"])
    >>> sr = xr.DataArray(np.zeros((2, 3, 3)), dims=("time", "y", "x"), coords={"time": t})
    >>> truth = (sr + [[[1.0]], [[2.0]]]).isel(time=[1, 0])  # the same dates, other order
    >>> pair_steps(truth, sr, "truth").mean(("y", "x")).values.tolist()
    [1.0, 2.0]
    >>> pair_steps(truth.isel(time=[0]), sr, "truth")
    Traceback (most recent call last):
    ...
    xlstsr.errors.GridError: the truth's 'time' labels differ from the super-resolved field's: ...
    """
    var = var or what.split()[0]
    if overpass_free:
        other = _scalar_over_one_date(other, like, what, like_what, var, like_var)
    check_scalar_steps(like, other, what, like_what, var, like_var, overpass_free=overpass_free)
    ly, lx = spatial_dims(like)
    oy, ox = spatial_dims(other)
    lead = [d for d in like.dims if d not in (ly, lx)]
    for dim in [d for d in other.dims if d not in (oy, ox)]:
        if dim not in lead:
            if other.sizes[dim] == 1:
                _check_one_step(other, like, dim, what, like_what, var, like_var)
                if dim not in like.coords and dim in other.indexes:
                    _refuse_date_off_steps(other, like, dim, other.indexes[dim][0],
                                           f"its one '{dim}' step", what, like_what, var,
                                           like_var)
                continue  # a size-1 dim (band=1) broadcasts harmlessly
            mine, _ = _day_night(like)
            if dim in ("overpass", "day_night") and mine in _overpass_labels(other)[0]:
                # a stack of both overpasses against a field of one: its step of that
                # overpass, not a rename to the time dim
                raise GridError(
                    f"the {what} has a dim {dim!r} ({other.sizes[dim]} steps) that the "
                    f"{like_what} lacks, and the {like_what} is a {mine} acquisition: select "
                    f"the {what}'s step of that overpass (`{var}.sel({dim}={mine!r})`).")
            raise GridError(
                f"the {what} has a dim {dim!r} ({other.sizes[dim]} steps) that the {like_what} "
                f"lacks (its dims: {like.dims}), so each of its steps would be compared with "
                f"every step of {like_var}; "
                + _rename_fix(other, like, dim, lead[0], var, like_var)
                if lead else
                f"the {what} has a dim {dim!r} ({other.sizes[dim]} steps) that the {like_what} "
                f"lacks; select the step that goes with it ("
                + _scalar_step_fix(other, like, dim, var) + ")."
            )
        if dim not in other.indexes or dim not in like.indexes:
            if other.sizes[dim] != like.sizes[dim]:
                # paired by position, other step counts raised xarray's bare AlignmentError
                # (or "not on the same grid ... reproject", which changed nothing)
                raise GridError(_unlabelled_steps_message(other, like, dim, what, like_what,
                                                          var, like_var))
            continue
        _refuse_bad_labels(like, dim, like_what, like_var)
        _refuse_bad_labels(other, dim, what, var)
        like_lab, lab = like.indexes[dim], other.indexes[dim]
        lkey, okey = _cf_time_key(like[dim]), _cf_time_key(other[dim])
        decoded = bool(lkey and okey and lkey != okey)
        if decoded:
            # two files opened with decode_times=False, each 'days since' its own first date:
            # their raw numbers paired each date with the truth of another day, silently
            ld, od = _decode_cf_labels(like[dim]), _decode_cf_labels(other[dim])
            if ld is None or od is None or calendar(ld) != calendar(od):
                raise GridError(
                    f"the {what}'s '{dim}' labels are numbers in {okey[0]!r} ({okey[1]} "
                    f"calendar) and the {like_what}'s in {lkey[0]!r} ({lkey[1]} calendar): "
                    "the same number is another date in each, so they cannot be paired as "
                    f"they are. Decode both to dates, e.g. {_cf_decode_fix(var)} (and the "
                    f"same for {like_var})."
                )
            like_lab, lab = pd.Index(ld), pd.Index(od)
        if lab.has_duplicates or like_lab.has_duplicates:
            # a day and a night step of each date: paired by date and overpass, or refused
            other = _pair_repeats(other, like, dim, lab, like_lab, what, like_what, var,
                                  like_var, overpass_free)
            continue
        if (overpass_free and _step_overpasses(other, dim)[0] is None
                and _by_day(lab, like_lab) and not _all_dates_only(like_lab)):
            # a per-date field (NDVI) against steps at their acquisition times (10:30 and 22:30
            # of one date): each takes its calendar day's step, as where the labels repeat;
            # the exact labels refused it, advising a `.sel` that raised KeyError
            other = _pair_by_date(other, like, dim, lab, like_lab, what, like_what, var,
                                  like_var, _step_overpasses(like, dim)[1])
            continue
        missing = like_lab.difference(lab)
        if len(missing):
            head = f"{list(lab[:3])}{'...' if len(lab) > 3 else ''}"
            raise GridError(
                f"the {what}'s '{dim}' labels differ from the {like_what}'s: {len(missing)} of "
                f"the {like_what}'s {len(like_lab)} '{dim}' labels have no {what} step with that label (e.g. "
                f"{_shown(missing[0])}; {what}: {head}); "
                + (_cf_label_hint(like, other, dim, what, like_what, var, like_var)
                   or _label_hint(like_lab, lab, dim, what, var, like_var,
                                  _step_overpasses(like, dim), _overpass_values(like, dim)) or
                   _missing_steps_fix(like_lab, lab, dim, what, like_what, var, like_var))
            )
        if isinstance(like_lab, pd.MultiIndex) or isinstance(lab, pd.MultiIndex):
            if not like_lab.equals(lab):
                other = other.sel({dim: like_lab})
        elif not like_lab.equals(lab) or like_lab.dtype != lab.dtype or decoded:
            # the same steps in another order, or a superset: taken by position and labelled
            # with like's labels (the same dates at another resolution, datetime64[s] against
            # [ns], or in other CF units, failed the exact alignment after: "not on the same
            # grid", with advice to reproject)
            other = other.isel({dim: lab.get_indexer(like_lab)}).assign_coords(
                {dim: (dim, like[dim].values, dict(like[dim].attrs))})
        other = _check_step_overpasses(other, like, dim, what, like_what, var)
    return other


def _missing_steps_fix(like_lab: pd.Index, lab: pd.Index, dim: Any, what: str,
                       like_what: str, var: str, like_var: str) -> str:
    """The fix for ``like`` steps that ``other`` lacks (where no hint on the labels' kind
    applies): keep the steps both have, both variables assigned; none shared, no selection.
    "Give the truth of the same steps (`truth = truth.sel(time=sr['time'])`)" was offered
    first, and raised KeyError whenever it was followed: the refusal fires exactly where some
    of those labels are missing."""
    if not len(like_lab.intersection(lab)):
        return (f"they share no step: give the {what} of the {like_what}'s steps (read it again "
                f"from its source), or pair it with a {like_what} of its own steps.")
    return (f"keep the steps both have: `common = {like_var}.indexes['{dim}'].intersection("
            f"{var}.indexes['{dim}'])`, then `{like_var} = {like_var}.sel({dim}=common)` and "
            f"`{var} = {var}.sel({dim}=common)`.")


def _scalar_step_fix(other: xr.DataArray, like: xr.DataArray, dim: Any, var: str) -> str:
    """The selection of ``other``'s ``dim`` step that goes with ``like``'s scalar ``dim``
    coordinate: where ``other``'s labels repeat (a day and a night step of each date), its step
    of that date and of ``like``'s overpass (a scalar ``overpass`` / ``day_night`` coordinate,
    else :func:`_day_night`) by position, or those of that date named by overpass:
    `.sel(time=t)` gave both overpasses back, refused again."""
    plain = f"`{var}.sel({dim}=...)`"
    lab = other.indexes.get(dim)
    c = like.coords.get(dim)
    if (lab is None or isinstance(lab, pd.MultiIndex) or not lab.has_duplicates or c is None
            or c.ndim != 0 or _scalar_date(c.values) is None):
        return plain
    over, _ = _step_overpasses(other, dim)
    same = _overpass_matches(c.values, list(lab))
    if over is None or len(same) < 2:
        return plain
    mine = next((_text(like[n].values) for n in ("overpass", "day_night")
                 if n in like.coords and like[n].ndim == 0), None)
    mine = (mine or _day_night(like)[0] or "").strip().lower()
    pick = [i for i in same if over[i] == mine]
    if len(pick) == 1:
        return (f"its step of that date and overpass, {mine!r}: `{var}.isel({dim}={pick[0]})`;"
                f" `{var}.sel({dim}=...)` gives each overpass of the date")
    steps = "; ".join(f"{over[i]}: `{var}.isel({dim}={i})`" for i in same)
    return f"its steps of that date, by overpass: {steps}"


def _check_step_overpasses(other: xr.DataArray, like: xr.DataArray, dim: Any, what: str,
                           like_what: str, var: str) -> xr.DataArray:
    """``other`` (its steps already in ``like``'s order of unique labels) with an
    :class:`~xlstsr.errors.OverpassWarning` where a step's overpass differs from ``like``'s
    step of its label (:func:`_step_overpasses`, one side at least labelled along ``dim``),
    and ``like``'s per-step overpass labels in place of its own: the dates alone paired a
    night truth step with a day sr step without a word (20 K RMSE), and the scores carried
    the truth's 'night' label."""
    if any(isinstance(da.indexes.get(dim), pd.MultiIndex) for da in (like, other)):
        return other  # a stacked dim: its overpass is a level of the labels it paired by
    lo, lname = _step_overpasses(like, dim)
    oo, oname = _step_overpasses(other, dim)
    if lo is None or oo is None or (lname is None and oname is None):
        return other  # unknown on a side, or one label each: check_scalar_steps' warning
    off = [i for i, (a, b) in enumerate(zip(lo, oo))
           if a != b and {a, b} <= {"day", "night"}]
    # a field-wide label on both sides (one overpass at every step) was warned about already
    if off and (_day_night(like)[0] is None or _day_night(other)[0] is None):
        shown = ", ".join(f"{_shown(like[dim].values[i])} ({what} {oo[i]!r}, {like_what} "
                          f"{lo[i]!r})" for i in off[:3])
        warn(f"{len(off)} of the {what}'s {len(oo)} '{dim}' steps are of another overpass "
             f"than the {like_what}'s step of their {dim}: {shown}{', ...' if len(off) > 3 else ''}"
             f". LST differs by many K between day and night; pair acquisitions of the same "
             f"overpass (select the {what}'s steps of the {like_what}'s overpasses, or "
             f"correct {var}'s '{oname or 'overpass'}' labels if they are wrong).",
             OverpassWarning)
    if lname is not None and set(lo) <= {"day", "night"}:
        # like's labels, as _pair_repeats carries: the scores are of the field's steps (an
        # 'overpass' of other meaning, 'terra' or 10.5 h, does not replace day / night ones)
        out = other.drop_vars([oname] if oname in other.coords else [])
        return _with_labels(out, like, lname, dim)
    if off and oname is not None:
        # like's overpass is its own field-wide one: the step's scores are of that overpass
        # (other's field-wide label, an attribute, has no coordinate to relabel)
        return other.assign_coords({oname: (dim, np.asarray(lo, dtype=object).astype(str))})
    return other


class CompositePeriod(NamedTuple):
    """The period of composites labelled by the first day of their period
    (:func:`composite_period`).

    Attributes
    ----------
    name : str
        Its name in the field's words: '8-day', '16-day', '10-day (dekadal)', 'monthly'.
    days : int
        Its nominal length in days.
    reach : int
        The days after its first day a composite covers, at most: the tolerance of days
        (``guide_time_tolerance``, ``time_tolerance``) that pairs each date with its own
        composite (7 for 8-day ones; 10 for dekads, the 21st to the 31st; 30 for months).
    fixed : bool
        Whether every composite covers ``reach`` days after its first (not dekads, months).
    """

    name: str
    days: int
    reach: int
    fixed: bool


_EIGHT_DAY = CompositePeriod("8-day", 8, 7, True)
_SIXTEEN_DAY = CompositePeriod("16-day", 16, 15, True)
_DEKADAL = CompositePeriod("10-day (dekadal)", 10, 10, False)
_MONTHLY = CompositePeriod("monthly", 30, 30, False)


def _cftime_labels(v: np.ndarray) -> bool:
    """Whether labels are cftime dates (an object array of them: non-standard calendars)."""
    return v.dtype == object and v.size > 0 and all(
        hasattr(t, "calendar") and hasattr(t, "year") for t in v)


def date_fields(labels: Any) -> tuple[np.ndarray, np.ndarray, np.ndarray] | None:
    """The year, month and day of each date label, numpy dates or cftime dates (read in their
    own calendar: a noleap or 360-day month), or None for other labels or NaT."""
    v = np.asarray(labels).ravel()
    if np.issubdtype(v.dtype, np.datetime64):
        if np.isnat(v).any():
            return None
        t = pd.DatetimeIndex(v)
        return (np.asarray(t.year), np.asarray(t.month), np.asarray(t.day))
    if _cftime_labels(v):
        return (np.array([t.year for t in v]), np.array([t.month for t in v]),
                np.array([t.day for t in v]))
    return None


def day_numbers(labels: Any) -> np.ndarray:
    """Whole days of date labels since a fixed day, numpy dates or cftime dates (counted in
    their own calendar: 28 Feb -> 1 Mar is one day on a noleap calendar), for gaps by
    calendar day (the time of day dropped)."""
    v = np.asarray(labels).ravel()
    if _cftime_labels(v):
        import cftime  # present wherever cftime labels are

        cal = v[0].calendar
        return np.floor(np.asarray(cftime.date2num(list(v), "days since 0001-01-01",
                                                   calendar=cal), dtype=float)).astype(np.int64)
    return v.astype("datetime64[D]").astype(np.int64)


def calendar_period_key(labels: Any, period: CompositePeriod) -> np.ndarray:
    """The calendar period (dekad, month) of each date, for composites whose period is not
    fixed (``period.fixed`` False): ``year * 1000 + month * 10 + dekad`` (dekad 0, 1, 2: days
    1-10, 11-20, 21-end; 0 for months). A date is covered by the composite of its own key
    only: a tolerance of days pairs it with the previous period's where its own is missing.
    Numpy or cftime dates (:func:`date_fields`)."""
    fields = date_fields(labels)
    if fields is None:  # NaT: as pandas read it before
        t = pd.DatetimeIndex(np.asarray(labels).ravel())
        fields = (np.asarray(t.year), np.asarray(t.month), np.asarray(t.day))
    year, month, day = fields
    dekad = np.minimum((day - 1) // 10, 2) if period.days == 10 else 0
    return np.asarray(year * 1000 + month * 10 + dekad)


def calendar_period_names(labels: Any, period: CompositePeriod) -> str:
    """The calendar periods of dates, for messages: months as '2021-03', dekads by their first
    day ('2021-03-11'); the first four, sorted."""
    fields = date_fields(labels)
    if fields is None:
        t = pd.DatetimeIndex(np.asarray(labels).ravel())
        fields = (np.asarray(t.year), np.asarray(t.month), np.asarray(t.day))
    year, month, day = fields
    if period.days != 10:
        names = sorted({f"{y:04d}-{m:02d}" for y, m in zip(year, month)})
    else:
        first = np.minimum((day - 1) // 10, 2) * 10 + 1
        names = sorted({f"{y:04d}-{m:02d}-{d:02d}" for y, m, d in zip(year, month, first)})
    return ", ".join(names[:4]) + (" ..." if len(names) > 4 else "")


def calendar_keep_code(period: CompositePeriod, var: str, dim: Any, other: str) -> str:
    """The expression that keeps ``var``'s steps whose own calendar period (dekad, month:
    :func:`calendar_period_key`) has a composite in ``other``, as advised."""
    if period.days != 10:
        key = "{0}['{1}'].dt.strftime('%Y-%m')"
    else:
        key = ("({0}['{1}'].dt.year * 1000 + {0}['{1}'].dt.month * 10 "
               "+ np.minimum(({0}['{1}'].dt.day - 1) // 10, 2))")
    return (f"{var} = {var}.isel({dim}={key.format(var, dim)}.isin("
            f"{key.format(other, dim)}.values).values)")


def composite_period(labels: Any) -> CompositePeriod | None:
    """The period of composites labelled by the first day of their period, told by their
    dates: the one rule of :func:`xlstsr.guide.match_steps`'s advice and of
    :func:`xlstsr.calibration.fit_calibration`'s / ``apply_calibration``'s.

    - every date on the 1st of a month, a month or more apart: monthly (MOD13A3);
    - every date on the 1st, 11th or 21st: dekads (10-day, Copernicus / SPOT VGT; the last one
      of a month runs 8-11 days, so that '21 Feb -> 1 Mar' is no 8-day gap);
    - else by the typical (median) gap, those into a new year left out (MODIS restarts its
      periods on 1 January: the year's last one is shorter, or longer where 1 January's
      composite is missing): 8-day (MOD11A2, MOD09A1) where it is 7-9 days, or
      where every gap is a multiple of 8 within a day (one composite missing: 8 and 16);
      16-day (MOD13) where it is 15-17 days, or every gap is a multiple of 16 within a day.

    None for one date, dates under 7 days apart (median: single dates, cloudy days dropped),
    another spacing, or labels that are not dates. cftime dates are read in their own calendar
    (:func:`date_fields`, :func:`day_numbers`).

    Parameters
    ----------
    labels : array-like
        The composites' date labels (any order; several on a day count once).

    Returns
    -------
    CompositePeriod or None

    Examples
    --------
    >>> import pandas as pd
    >>> composite_period(pd.to_datetime(["2020-07-04", "2020-07-12", "2020-07-28"])).name
    '8-day'
    >>> composite_period(pd.to_datetime(["2021-02-11", "2021-02-21", "2021-03-01"])).reach
    10
    >>> composite_period(pd.to_datetime(["2020-07-01", "2020-07-02"])) is None
    True
    """
    v = np.asarray(labels).ravel()
    fields = date_fields(v) if v.size else None
    if fields is None:
        return None
    # one entry per calendar day, in order (cftime labels too: their calendar's days; a
    # cftime dekad/monthly guide fell back to the 8-/16-day examples)
    num, first = np.unique(day_numbers(v), return_index=True)
    year, day = fields[0][first], fields[2][first]
    if num.size < 2:
        return None  # one composite: its period is not told
    gaps = np.diff(num).astype(int)
    if (day == 1).all() and (gaps >= 28).all():
        return _MONTHLY
    if np.isin(day, [1, 11, 21]).all() and not (day == 1).all():
        return _DEKADAL
    # gaps into a new year (MODIS's last composite of a year is shorter, and the 1 January
    # one may be missing: Dec 27 -> Jan 9 is 13 days), where others remain
    inner = gaps[year[1:] == year[:-1]] if len(gaps) > 1 else gaps
    inner = inner if inner.size else gaps
    med = float(np.median(inner))
    if med < 7:
        return None
    for period in (_EIGHT_DAY, _SIXTEEN_DAY):
        n = period.days
        if n - 1 <= med <= n + 1:
            return period
        near = np.round(inner / n)
        if (near >= 1).all() and (np.abs(inner - near * n) <= 1).all() and (near == 1).any():
            return period
    return None

"""Fixes of review 48a (findings 1-4) of commit e235cec in xlstsr.io.

- to_cogs' leftover warning still took a sibling series for leftovers where this run's stamps
  are numbers or two-part labels (``sr_day_<date>`` beside ``sr_bicubic_<date>``, day-of-year
  ``sr_2020001`` beside ``sr_2_2020001``, positions beside ``sr_4_<date>``), and its advice,
  followed, deleted that series.
- open_stac refused two collections whose files differ only in the scale the items give.
- A ``file://`` href counted as remote: its file's own scale was not read.
- The remote refusal's advice named the scale only.
"""

from __future__ import annotations

import pathlib
import re
import warnings

import numpy as np
import pytest
import xarray as xr
from test_cog_overwrite47 import LEFT
from test_io48 import DN, FULL, _files, _items, _open

import xlstsr
from xlstsr.errors import XlstsrError
from xlstsr.io import to_cogs


@pytest.fixture(scope="module")
def lst():
    return xlstsr.datasets.sample_scene(n_times=4, size=16)["lst_1km"].load()


def _sr(lst, method, steps=slice(None)):
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        return lst.isel(time=steps).lstsr.upscale(2, method)


def _left(fn, *args, **kwargs):
    """``fn``'s result and its leftover warnings."""
    with warnings.catch_warnings(record=True) as caught:
        warnings.simplefilter("always")
        out = fn(*args, **kwargs)
    return out, [str(w.message) for w in caught if LEFT in str(w.message)]


def _names(folder):
    return sorted(p.name for p in pathlib.Path(folder).glob("*.tif"))


def _stacked_day_night(x):
    """``x``'s steps as day and night, stacked (overpass, time): files sr_day_<date>.tif."""
    both = xr.concat([x, x], "time").assign_coords(
        overpass=("time", ["day"] * x.sizes["time"] + ["night"] * x.sizes["time"]))
    return both.rename({"time": "step"}).assign_coords(
        time=("step", np.r_[x.time.values, x.time.values])).set_index(step=["overpass", "time"])


DOY = [2020001, 2020002, 2020003, 2020004]


def _sibling_cases(lst):
    """(title, first run, its prefix, second run): the first a sibling series of prefix
    ``sr_...`` (another method), the second the ``sr`` run beside it."""
    b, n = _sr(lst, "bicubic"), _sr(lst, "nearest")
    return [
        ("overpass-stacked", b, "sr_bicubic", _stacked_day_night(n.isel(time=[0, 1]))),
        ("day-of-year", b.assign_coords(time=DOY), "sr_2", n.assign_coords(time=DOY)),
        ("positions", b, "sr_4", n.drop_vars("time")),
        ("two-part labels", b, "sr_bicubic",
         n.assign_coords(time=["jan_2020", "feb_2020", "mar_2020", "apr_2020"])),
    ]


@pytest.mark.parametrize("case", range(4), ids=["stacked", "doy", "positions", "labels"])
def test_a_sibling_series_is_no_leftover(lst, tmp_path, case):
    """Review 48a/1: a sibling series (its prefix begins with 'sr_') beside the sr run is not
    told as the sr run's leftovers (the advice, followed, deleted it)."""
    _, first, prefix, second = _sibling_cases(lst)[case]
    base = to_cogs(first, tmp_path, prefix=prefix)
    paths, msgs = _left(to_cogs, second, tmp_path, prefix="sr")
    assert not msgs, msgs
    assert _names(tmp_path) == sorted(p.name for p in base + paths)


def _follow(msg, paths):
    """Run the removal the warning advises, as it spells it."""
    code = [c for c in re.findall(r"`([^`]*)`", msg) if c.startswith(("import ", "[p.unlink()"))]
    assert code[0].startswith("import ") and code[-1].startswith("[p.unlink()"), msg
    scope = {"keep": set(paths)}
    for c in code:
        exec(c, scope)


def test_stacked_day_night_leftovers_beside_a_sibling_are_told_and_only_they_removed(
        lst, tmp_path):
    """Guard of 48a/1's fix: an earlier overpass-stacked sr run by another method (4 dates),
    rerun for 2 dates, beside a sibling sr_bicubic date series: the 4 stale files are told,
    and the advice removes them and keeps the sibling."""
    b, n = _sr(lst, "bicubic"), _sr(lst, "nearest")
    base = to_cogs(b, tmp_path, prefix="sr_bicubic")
    to_cogs(_stacked_day_night(b), tmp_path, prefix="sr")
    paths, msgs = _left(to_cogs, _stacked_day_night(n.isel(time=[0, 1])), tmp_path,
                        prefix="sr", overwrite=True)
    assert len(msgs) == 1 and "4 files" in msgs[0], msgs
    _follow(msgs[0], paths)
    assert _names(tmp_path) == sorted(p.name for p in base + paths)


@pytest.mark.parametrize("kind", ["positions", "doy", "sub-daily", "day-night"])
def test_real_leftovers_are_still_told(lst, tmp_path, kind):
    """Guard: an earlier run of the same prefix by another method, rerun for fewer steps (or
    as day and night steps), beside a sibling series sr_4_<date>: its stale files told, the
    advice removes them only."""
    b, n = _sr(lst, "bicubic"), _sr(lst, "nearest")
    sibling = to_cogs(b, tmp_path, prefix="sr_4")
    if kind == "positions":
        first, second = b.drop_vars("time"), n.drop_vars("time").isel(time=[0, 1])
    elif kind == "doy":
        first, second = b.assign_coords(time=DOY), n.assign_coords(time=DOY).isel(time=[0, 1])
    elif kind == "sub-daily":
        t = np.array(["2020-01-05T10:30", "2020-01-05T22:30", "2020-01-06T10:30",
                      "2020-01-06T22:30"], "M8[ns]")
        first, second = b.assign_coords(time=t), n.assign_coords(time=t).isel(time=[0, 1])
    else:  # an earlier date-only run, now day and night steps of 2 dates
        x = n.isel(time=[0, 1])
        first = b
        second = xr.concat([x, x], "time").assign_coords(
            overpass=("time", ["day", "day", "night", "night"]))
    to_cogs(first, tmp_path, prefix="sr")
    paths, msgs = _left(to_cogs, second, tmp_path, prefix="sr", overwrite=True)
    assert len(msgs) == 1, msgs
    assert "sr_4_" not in msgs[0]
    _follow(msgs[0], paths)
    assert _names(tmp_path) == sorted(p.name for p in sibling + paths)


# -- 48a/2-4: open_stac and the files' own scale ----------------------------------------------

NO_SCALE = {k: v for k, v in FULL.items() if k != "scale"}


def _two_collections(tmp_path, band):
    """Items of collection c1 over files with GDAL scale 0.02 and of c2 over files without a
    scale, both with ``band`` as their raster:bands."""
    a = _items(_files(tmp_path, name="a"), band)
    b = _items(_files(tmp_path, n=1, scale=1.0, units=None, name="b"), band)
    b[0].id, b[0].datetime = "other", b[0].datetime.replace(day=9)
    for it in a:
        it.collection_id = "c1"
    b[0].collection_id = "c2"
    return a + b


@pytest.mark.parametrize("engine", ["odc", "stackstac"])
def test_collections_differing_only_in_the_scale_the_items_give_load(tmp_path, engine):
    """Review 48a/2: the items give scale 0.02 (and no offset); c1's files say 0.02, c2's
    none: the items' scale is used and the files' offsets agree, so it loads (was refused
    'declare different scalings ... the items give none')."""
    band = {k: v for k, v in FULL.items() if k != "offset"}
    got = _open(_two_collections(tmp_path, band), engine=engine)
    assert got.sizes["time"] == 3 and got.attrs["units"] == "K"
    assert 269 < float(got.min()) and float(got.max()) < 280


def test_collections_differing_in_the_offset_the_items_do_not_give_are_refused(tmp_path):
    """Guard: the items give the scale, the files differ in their offset: refused, the
    message names the offset as what differs and the scale as the items'."""
    band = {k: v for k, v in FULL.items() if k != "offset"}
    a = _items(_files(tmp_path, name="a", offset=1.0), band)
    b = _items(_files(tmp_path, n=1, name="b"), band)
    b[0].id, b[0].datetime = "other", b[0].datetime.replace(day=9)
    for it in a:
        it.collection_id = "c1"
    b[0].collection_id = "c2"
    with pytest.raises(XlstsrError, match="declare different scalings") as err:
        _open(a + b)
    msg = str(err.value)
    assert "offset 1" in msg and "scale 0.02" not in msg and "give its scale" in msg


@pytest.mark.parametrize("engine", ["odc", "stackstac"])
def test_file_url_hrefs_are_local_files(tmp_path, engine):
    """Review 48a/3: file:// hrefs are local: the files' scale 0.02 is read (was refused as
    'not local'), the same cube as with plain paths."""
    paths = _files(tmp_path)
    plain = _open(_items(paths, NO_SCALE), engine=engine)
    urls = _items(paths, NO_SCALE)
    for it in urls:
        it.assets["LST"].href = "file://" + it.assets["LST"].href
    got = _open(urls, engine=engine)
    assert 269 < float(got.min()) and float(got.max()) < 280
    np.testing.assert_array_equal(got.values, plain.values)


def test_remote_refusal_names_scale_and_offset_and_its_advice_works(tmp_path):
    """Review 48a/4: the remote refusal names scale and offset, the products' documented
    factors, and that a header without a scale is no proof of whole Kelvin; its modifier,
    followed, sets both (a Landsat-like offset-coded file then decodes with its factors)."""
    paths = _files(tmp_path, scale=1.0, offset=0.0, units=None)
    remote = _items(paths, NO_SCALE)
    for it in remote:
        it.assets["LST"].href = "https://example.invalid/" + pathlib.Path(
            it.assets["LST"].href).name
    with pytest.raises(XlstsrError, match="labelled 'K'") as err:
        _open(remote)
    msg = str(err.value)
    assert "scale and offset" in msg and "0.00341802" in msg and "149" in msg
    assert "0.02" in msg and "no proof" in msg
    code = re.search(r"`modifier=(lambda it: [^`]*)`", msg).group(1)
    assert "offset=" in code
    got = _open(_items(paths, NO_SCALE), modifier=eval(code))
    assert 269 < float(got.min()) and float(got.max()) < 280
    # the same advice with Landsat's documented factors: DN x 0.00341802 + 149, not DN 'K'
    landsat = code.replace("0.02", "0.00341802").replace("offset=0.0", "offset=149.0")
    got = _open(_items(paths, NO_SCALE), modifier=eval(landsat))
    np.testing.assert_allclose(got.isel(time=0).values, DN * 0.00341802 + 149.0, rtol=1e-6)


def test_many_word_labels_keep_the_advice_short():
    """48a/1's literal label matching: above _STAMP_LITERALS labels at a position, each is
    matched by its letters and its digits' form (the advice's code holds the expression)."""
    from xlstsr.io.cog import _names_form

    names = [f"sr_t{i:04d}.tif" for i in range(1000)]
    form = _names_form("sr", names)
    assert len(form) < 40, form
    assert all(re.fullmatch(form, n) for n in names)
    assert not re.fullmatch(form, "sr_bicubic_t0001.tif")
    assert not re.fullmatch(form, "sr_mask.tif")

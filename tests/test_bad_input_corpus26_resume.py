"""Twenty-sixth round of bad inputs, the resume of a Zarr store: a store started on inputs in
memory (the guide's offset measured on the clearest of all steps and moved back) and resumed on
the same data opened lazily (as the command line's --resume always does) was accepted as the same
run, but its resumed steps were computed with the offset upscale measures on 8 sampled steps
(none on the real pair 077: 7.25 K off an uninterrupted run). A resume must produce the store an
uninterrupted run produces, whichever way the inputs are opened."""

from __future__ import annotations

import json
import warnings

import numpy as np
import pytest
import xarray as xr
import zarr

import xlstsr
import xlstsr.engine.to_zarr as tz
from xlstsr.attrs import GUIDE_OFFSET_ATTR
from xlstsr.errors import XlstsrError
from xlstsr.io.zarr import COMPLETE, STATUS_ATTR

N_STEPS = 10
CLEAR = 2  # the one clear step: not among the 8 a dask input is sampled on (0, 1, 3, ..., 9)
KILLED_AT = 5


def _cube(one: xr.DataArray) -> xr.DataArray:
    """``N_STEPS`` copies of a (y, x) LST, 85 % cloud on every step but :data:`CLEAR`."""
    times = np.array([np.datetime64("2020-07-01") + np.timedelta64(t, "D")
                      for t in range(N_STEPS)], "datetime64[ns]")
    lst = xr.concat([one + 0.1 * t for t in range(N_STEPS)], "time").assign_coords(time=times)
    lst = lst.rename("lst").assign_attrs(one.attrs).rio.write_crs(one.rio.crs)
    rng = np.random.default_rng(0)
    for t in range(N_STEPS):
        if t != CLEAR:
            lst.values[t][rng.random(one.shape) < 0.85] = np.nan
    return lst


@pytest.fixture(scope="module")
def shifted():
    """A synthetic LST made from the sample NDVI (its 1 km block means of 330 - 40 NDVI) and
    that NDVI moved by (+0.7, -0.4) fine pixel: a guide with a known sub-pixel offset, measured
    otherwise on the clear step (in memory) than on the 8 cloudy sampled ones (dask)."""
    s = xlstsr.datasets.sample_scene(n_times=1, size=256)
    g = s["ndvi_250m"].load()
    one = s["lst_1km"].isel(time=0, drop=True).load()
    ny, nx = one.shape
    coarse = (330.0 - 40.0 * g.values).reshape(ny, 4, nx, 4).mean((1, 3))
    one = one.copy(data=coarse.astype(one.dtype))
    res = abs(g.rio.resolution()[0])
    guide = g.assign_coords(x=g.x + 0.7 * res, y=g.y - 0.4 * res)
    guide = guide.rio.write_transform(guide.rio.transform(recalc=True))
    return _cube(one), guide


KW = dict(factor=4, method="tsharp", progress=False, regions_in_flight=1, time_chunk=1)


def _interrupted(monkeypatch, lst, guide, store, **kw):
    """A run that dies while writing the region of step :data:`KILLED_AT`."""
    orig = tz._store_block

    def flaky(block, target, offset, block_info=None):
        if offset == (KILLED_AT,):
            raise OSError(5, "Input/output error", "/nowhere/c/5/0/0")
        return orig(block, target, offset, block_info)

    with monkeypatch.context() as mp:
        mp.setattr(tz, "_store_block", flaky)
        with pytest.raises(XlstsrError):
            xlstsr.upscale_to_zarr(lst, store, guide=guide, **KW, **kw)
    assert zarr.open_group(store, mode="r").attrs[STATUS_ATTR] != COMPLETE


def _same(store, reference) -> None:
    """The stores hold the same values: to a float32 ulp (3e-5 K), by which the same data
    upscaled in memory and chunked differ, whatever the guide's offset."""
    b, a = (xr.open_zarr(s, consolidated=False)["lst"].values for s in (store, reference))
    np.testing.assert_allclose(b, a, rtol=0, atol=1e-4)


def _lazy(lst, guide):
    """The same data opened lazily (as after a kernel restart, or by the command line)."""
    return lst.chunk({"time": 1}), guide.chunk()


def _resume(lst, guide, store, **kw):
    xlstsr.upscale_to_zarr(lst, store, guide=guide, mode="resume", **KW, **kw)


def _measured(lst, guide):
    from xlstsr.engine.to_zarr import _offset_in_memory

    with warnings.catch_warnings():
        warnings.simplefilter("ignore")  # the GuideAlignmentWarning that says by how much
        off = _offset_in_memory(lst, guide, "auto", 4, False, None)
    return off if isinstance(off, str) else [float(off.shift_x), float(off.shift_y)]


def test_the_data_is_measured_otherwise_in_memory_and_lazily(shifted):
    """The premise of the tests below: otherwise they could not fail."""
    lst, guide = shifted
    eager, lazy = _measured(lst, guide), _measured(*_lazy(lst, guide))
    assert not isinstance(eager, str)
    assert eager != lazy


@pytest.mark.parametrize("given", [None, "auto"])
def test_a_store_started_in_memory_resumes_lazily_as_an_uninterrupted_run(
        shifted, tmp_path, monkeypatch, given):
    lst, guide = shifted
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        xlstsr.upscale_to_zarr(lst, tmp_path / "a.zarr", guide=guide, guide_offset=given, **KW)
        _interrupted(monkeypatch, lst, guide, tmp_path / "b.zarr", guide_offset=given)
        _resume(*_lazy(lst, guide), tmp_path / "b.zarr", guide_offset=given)
    assert zarr.open_group(tmp_path / "b.zarr", mode="r").attrs[STATUS_ATTR] == COMPLETE
    _same(tmp_path / "b.zarr", tmp_path / "a.zarr")


def test_the_store_records_the_offset_it_applied_exactly(shifted, tmp_path):
    lst, guide = shifted
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        xlstsr.upscale_to_zarr(lst, tmp_path / "a.zarr", guide=guide, **KW)
    attrs = zarr.open_group(tmp_path / "a.zarr", mode="r").attrs
    off = xr.Dataset.from_dict(json.loads(attrs[GUIDE_OFFSET_ATTR]))
    assert [float(off.shift_x), float(off.shift_y)] == _measured(lst, guide)
    # the fingerprint's rounded record is the same offset
    assert json.loads(attrs["xlstsr_arguments"])["guide_offset_measured"] == \
        [round(v, 3) for v in _measured(lst, guide)]


@pytest.mark.parametrize("given", [None, "auto"])
def test_a_store_started_lazily_resumes_in_memory_as_an_uninterrupted_run(
        shifted, tmp_path, monkeypatch, given):
    """The reverse: with guide_offset='auto' the in-memory resume measured all steps where the
    first run measured 8 sampled ones, and was refused as another run."""
    lst, guide = shifted
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        lazy, lazy_guide = _lazy(lst, guide)
        xlstsr.upscale_to_zarr(lazy, tmp_path / "a.zarr", guide=lazy_guide, guide_offset=given,
                               **KW)
        _interrupted(monkeypatch, lazy, lazy_guide, tmp_path / "b.zarr", guide_offset=given)
        _resume(lst, guide, tmp_path / "b.zarr", guide_offset=given)
    _same(tmp_path / "b.zarr", tmp_path / "a.zarr")


@pytest.mark.parametrize("given", ["check", "ignore", "dataset"])
def test_a_store_started_with_an_explicit_guide_offset_resumes_lazily(
        shifted, tmp_path, monkeypatch, given):
    lst, guide = shifted
    if given == "dataset":
        given = xlstsr.estimate_offset(guide, lst.isel(time=CLEAR), psf=False)
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        xlstsr.upscale_to_zarr(lst, tmp_path / "a.zarr", guide=guide, guide_offset=given, **KW)
        _interrupted(monkeypatch, lst, guide, tmp_path / "b.zarr", guide_offset=given)
        _resume(*_lazy(lst, guide), tmp_path / "b.zarr", guide_offset=given)
    _same(tmp_path / "b.zarr", tmp_path / "a.zarr")


@pytest.mark.parametrize("lazy", [False, True], ids=["in-memory", "lazy"])
def test_an_explicit_offset_dataset_is_applied_to_inputs_in_memory(shifted, tmp_path, lazy):
    """An estimate_offset result on inputs in memory was taken for a mode (`Dataset in ("auto",
    "check")` is True), measured as such and the guide left where it was: 33 K from upscale
    with the same offset, and from the same store written on the data opened lazily."""
    lst, guide = shifted
    off = xlstsr.estimate_offset(guide, lst.isel(time=CLEAR), psf=False)
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        ref = xlstsr.upscale(lst, 4, "tsharp", guide=guide, guide_offset=off)
        as_is = xlstsr.upscale(lst, 4, "tsharp", guide=guide, guide_offset="ignore")
        data = _lazy(lst, guide) if lazy else (lst, guide)
        out = xlstsr.upscale_to_zarr(data[0], tmp_path / "a.zarr", guide=data[1],
                                     guide_offset=off, **KW)
    assert float(np.nanmax(np.abs(ref.values - as_is.values))) > 1.0  # the offset matters
    np.testing.assert_allclose(out.values, ref.values, rtol=0, atol=1e-4)


def test_a_store_without_the_exact_offset_is_refused_lazily_and_resumes_in_memory(
        shifted, tmp_path, monkeypatch):
    """A store started before the offset was recorded exactly (its fingerprint holds it to the
    millimetre): a lazy resume cannot apply the same offset, so it says how to resume."""
    lst, guide = shifted
    store = tmp_path / "b.zarr"
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        xlstsr.upscale_to_zarr(lst, tmp_path / "a.zarr", guide=guide, **KW)
        _interrupted(monkeypatch, lst, guide, store)
        del zarr.open_group(store, mode="r+").attrs[GUIDE_OFFSET_ATTR]
        with pytest.raises(XlstsrError, match="does not record that offset") as info:
            _resume(*_lazy(lst, guide), store)
        assert "load()" in str(info.value) and "mode='w'" in str(info.value)
        assert zarr.open_group(store, mode="r").attrs[STATUS_ATTR] != COMPLETE
        _resume(lst, guide, store)
    _same(store, tmp_path / "a.zarr")


def test_real_pair_resumed_lazily_matches_the_uninterrupted_run(shared_data, tmp_path,
                                                               monkeypatch):
    """Pair 077: the MODIS NDVI offset by ~0.7 fine pixel; the lazy resume did not move it."""
    import rioxarray

    d = shared_data / "modis_aster"
    one = rioxarray.open_rasterio(d / "077_modis_lst_1km.tif").squeeze("band", drop=True).load()
    guide = rioxarray.open_rasterio(d / "077_modis_ndvi_250m.tif").squeeze("band",
                                                                         drop=True).load()
    lst = _cube(one)
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        xlstsr.upscale_to_zarr(lst, tmp_path / "a.zarr", guide=guide, **KW)
        _interrupted(monkeypatch, lst, guide, tmp_path / "b.zarr")
        _resume(*_lazy(lst, guide), tmp_path / "b.zarr")
    _same(tmp_path / "b.zarr", tmp_path / "a.zarr")


@pytest.mark.parametrize("choice", ["ignore", "check"])
def test_a_resume_without_guide_offset_keeps_the_stores_mode(tmp_path, choice):
    """A resume with no guide_offset (the command line's --resume without --guide-offset) takes
    the mode the store recorded: only 'auto' was taken, and stores written with 'ignore' or
    'check' were refused ("'ignore' there, None here")."""
    s = xlstsr.datasets.sample_scene(n_times=2, size=32)
    lst, ndvi = s["lst_1km"], s["ndvi_250m"]
    store = tmp_path / f"{choice}.zarr"
    kw = {"guide": ndvi, "progress": False, "time_chunk": 1}
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        ref = xlstsr.upscale_to_zarr(lst, store, 4, "tsharp", guide_offset=choice, **kw)
        out = xlstsr.upscale_to_zarr(lst.chunk({"time": 1}), store, 4, "tsharp", mode="resume",
                                     **kw)
    np.testing.assert_array_equal(out.values, ref.values)
    # another mode given explicitly is still another run
    with pytest.raises(XlstsrError, match="guide_offset"):
        xlstsr.upscale_to_zarr(lst, store, 4, "tsharp", mode="resume",
                               guide_offset="auto" if choice == "ignore" else "ignore", **kw)

"""Provenance of the guide's offset (probe 38, 02): ``guide_offset="auto"`` moved a real NDVI by
0.62 fine pixel and changed the output by up to 2.8 K, but the result's attributes (and so the
.tif/.nc/.zarr written from them) were those of a ``guide_offset="ignore"`` run: neither the
mode nor the shift applied was recorded, and ``history`` could not reproduce the file."""

from __future__ import annotations

import json
import warnings

import numpy as np
import pytest
import xarray as xr

import xlstsr

SHIFT = (0.7, -0.4)  # the guide's offset from the LST, fine pixels (x, y)


@pytest.fixture(scope="module")
def shifted():
    """An LST made from the sample NDVI (1 km block means of 330 - 40 NDVI) and that NDVI moved
    by :data:`SHIFT`: a guide with a known sub-pixel offset."""
    s = xlstsr.datasets.sample_scene(n_times=1, size=256)
    g = s["ndvi_250m"].isel(time=0, drop=True).load() if "time" in s["ndvi_250m"].dims \
        else s["ndvi_250m"].load()
    one = s["lst_1km"].isel(time=0, drop=True).load()
    ny, nx = one.shape
    one = one.copy(data=(330.0 - 40.0 * g.values).reshape(ny, 4, nx, 4).mean((1, 3))
                   .astype(one.dtype))
    res = abs(g.rio.resolution()[0])
    guide = g.assign_coords(x=g.x + SHIFT[0] * res, y=g.y + SHIFT[1] * res)
    guide = guide.rio.write_transform(guide.rio.transform(recalc=True))
    return one, g, guide


def _run(lst, guide, **kw):
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")  # the GuideAlignmentWarning of "auto"
        return xlstsr.upscale(lst, 4, "tsharp", guide=guide, **kw)


def _record(da):
    return json.loads(da.attrs["xlstsr_guide_offset"])


def test_auto_records_the_shift_it_applied_and_history_names_it(shifted):
    lst, _, guide = shifted
    auto, plain = _run(lst, guide, guide_offset="auto"), _run(lst, guide, guide_offset="ignore")
    assert float(np.nanmax(abs(auto.values - plain.values))) > 0.1  # the shift matters
    rec = _record(auto)
    assert rec["mode"] == "auto" and rec["given"] == "auto" and rec["moved"] is True
    # moved back: the opposite of the guide's offset, in fine pixels and in metres
    assert rec["shift_x_fine_px"] == pytest.approx(-SHIFT[0], abs=0.15)
    assert rec["shift_y_fine_px"] == pytest.approx(-SHIFT[1], abs=0.15)
    px = abs(lst.rio.resolution()[0]) / 4
    assert rec["units"] == "m" and rec["shift_x"] == pytest.approx(-SHIFT[0] * px, abs=0.15 * px)
    assert "guide_offset='auto' (guide moved by" in auto.attrs["history"]
    assert _record(plain) == {"mode": "ignore", "given": "ignore", "moved": False}
    assert "guide_offset='ignore'" in plain.attrs["history"]
    assert auto.attrs["history"] != plain.attrs["history"]


def test_the_default_names_guide_offset_only_when_it_moved_the_guide(shifted):
    lst, aligned, guide = shifted
    quiet = _run(lst, aligned)  # default (None): "auto" in memory, nothing to move
    assert _record(quiet) == {"mode": "auto", "given": None, "moved": False}
    assert "guide_offset" not in quiet.attrs["history"]
    moved = _run(lst, guide)
    assert _record(moved)["moved"] is True and _record(moved)["given"] is None
    assert "guide_offset=None, i.e. 'auto' (guide moved by" in moved.attrs["history"]


def test_an_offset_dataset_given_is_recorded_as_applied(shifted):
    lst, _, guide = shifted
    est = xlstsr.estimate_offset(guide, lst, psf=False)
    out = _run(lst, guide, guide_offset=est)
    rec = _record(out)
    assert rec["mode"] == "offset" and rec["given"] == "offset Dataset" and rec["moved"]
    assert rec["shift_x"] == float(est.shift_x) and rec["shift_y"] == float(est.shift_y)
    assert "guide_offset=<offset Dataset> (guide moved by" in out.attrs["history"]


def test_unguided_runs_record_none_and_drop_an_inherited_record(shifted):
    lst, _, guide = shifted
    # an input holding an earlier run's record (a result written and read back): not this run's
    stale = lst.assign_attrs(xlstsr_guide_offset=_run(lst, guide, guide_offset="auto")
                             .attrs["xlstsr_guide_offset"])
    assert "xlstsr_guide_offset" not in xlstsr.upscale(stale, 4, "bicubic").attrs
    assert "xlstsr_guide_offset" not in xlstsr.upscale(lst, 4, "bicubic").attrs


def test_written_files_keep_the_record(shifted, tmp_path):
    lst, _, guide = shifted
    auto = _run(lst, guide, guide_offset="auto")
    auto.rename("lst").to_netcdf(tmp_path / "sr.nc")
    with xr.open_dataset(tmp_path / "sr.nc") as nc:
        assert json.loads(nc["lst"].attrs["xlstsr_guide_offset"]) == _record(auto)
    auto.rio.to_raster(tmp_path / "sr.tif")
    import rioxarray

    tif = rioxarray.open_rasterio(tmp_path / "sr.tif")
    assert json.loads(tif.attrs["xlstsr_guide_offset"]) == _record(auto)


def test_upscale_to_zarr_variable_records_the_store_s_offset(shifted, tmp_path):
    zarr = pytest.importorskip("zarr")
    lst, _, guide = shifted
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        out = xlstsr.upscale_to_zarr(lst, tmp_path / "a.zarr", 4, "tsharp", guide=guide,
                                     progress=False)
    root = zarr.open_group(tmp_path / "a.zarr", mode="r").attrs
    off = xr.Dataset.from_dict(json.loads(root["xlstsr_guide_offset"]))  # the resume record
    rec = _record(out)
    assert rec["moved"] and rec["shift_x"] == float(np.median(off.shift_x.values))
    assert rec["shift_y"] == float(np.median(off.shift_y.values))
    assert rec["shift_x_fine_px"] == pytest.approx(-SHIFT[0], abs=0.15)
    # the user's run, as upscale records it: not the offset Dataset the engine passed on
    # (recorded "offset Dataset", or "'ignore'" where nothing moved: review 38f)
    assert rec["mode"] == "auto" and rec["given"] is None
    assert "guide_offset=None, i.e. 'auto' (guide moved by" in out.attrs["history"]
    assert "offset Dataset" not in out.attrs["history"]


def test_an_explicit_check_on_lazy_inputs_measures_and_warns(shifted):
    # before: an explicit "check" on dask read nothing and said nothing (the command line,
    # which reads lazily, passed it), while its record said a check ran (probe 38k)
    lst, _, guide = shifted
    with pytest.warns(xlstsr.errors.GuideAlignmentWarning, match="offset from the LST"):
        out = xlstsr.upscale(lst.chunk(), 4, "tsharp", guide=guide.chunk(),
                             guide_offset="check")
    assert _record(out)["mode"] == "check" and not _record(out)["moved"]
    # the default on lazy inputs still reads nothing, and says it measured nothing
    from dask import config

    def refuse(*args, **kwargs):
        raise AssertionError("computed while the graph was built")

    with config.set(scheduler=refuse):
        quiet = xlstsr.upscale(lst.chunk(), 4, "tsharp", guide=guide.chunk())
    assert _record(quiet)["mode"] == "not measured (lazy input)"

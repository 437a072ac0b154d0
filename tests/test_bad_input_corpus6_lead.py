"""Sixth round of bad inputs (session 10): each case below gave a silent wrong result or an
unhelpful error before its fix."""

import numpy as np
import pytest
import xarray as xr

from xlstsr import errors
from xlstsr.train import window_samples


def _cube(values, **attrs):
    return xr.DataArray(values, dims=("time", "y", "x"), coords={"time": [1, 2]}, name="lst",
                        attrs={"units": "K", **attrs})


def test_window_samples_does_not_scale_kelvin_twice():
    v = 290 + 10 * np.random.default_rng(0).random((2, 8, 8)).astype("float32")
    # before: 5.9 K windows labelled Kelvin (the kept scale_factor applied again)
    with pytest.raises(errors.XlstsrError, match=r"holds Kelvin already.*scale_factor.*pop"):
        window_samples(_cube(v, scale_factor=0.02), {"a": (0, 0)}, 4)
    # digital numbers with their scale are decoded once
    dn = _cube(np.round(v / 0.02).astype("uint16"), scale_factor=0.02)
    out = window_samples(dn, {"a": (0, 0)}, 4)["lst"]
    np.testing.assert_allclose(out.values, v[:, :4, :4], atol=0.011)
    # a float NDVI with a scale is not a temperature: decoded as CF says
    ndvi = _cube(np.full((2, 8, 8), 5000.0, "float32"), scale_factor=1e-4).assign_attrs(units="1")
    assert float(window_samples(ndvi, {"a": (0, 0)}, 4)["lst"].mean()) == pytest.approx(0.5)


def test_a_temperature_is_not_trained_on_as_the_guide():
    import xlstsr
    from xlstsr.train import fit_cube

    s = xlstsr.datasets.sample_scene(n_times=2, size=64)
    opts = {"mode": "sif", "patch": 16, "window": 16, "epochs": 1}
    # before: the 250 m LST as the SIF guide trained without a word
    with pytest.raises(errors.XlstsrError, match=r"guide's units are 'K', a temperature.*NDVI"):
        fit_cube(s["lst_1km"], guide=s["lst_250m"], **opts)
    _, info = fit_cube(s["lst_1km"], guide=s["ndvi_250m"], **opts)
    assert np.isfinite(info["history"]["best_val_loss"])


def test_a_store_being_written_by_another_run_is_not_written_over(tmp_path):
    import socket
    import subprocess
    import sys

    import zarr

    import xlstsr
    from xlstsr.io import zarr as xz

    lst = xlstsr.datasets.sample_scene(n_times=2, size=32)["lst_1km"].chunk({"time": 1})
    store = tmp_path / "out.zarr"
    xlstsr.upscale_to_zarr(lst, store, 2, "bicubic")
    attrs = dict(zarr.open_group(store, mode="r").attrs)
    assert attrs[xz.STATUS_ATTR] == xz.COMPLETE and xz.WRITER_ATTR not in attrs
    # another process (here a sleeper) recorded as writing it: as a second notebook would find it
    other = subprocess.Popen([sys.executable, "-c", "import time; time.sleep(60)"])
    try:
        root = zarr.open_group(store, mode="r+")
        root.attrs[xz.STATUS_ATTR] = xz.INCOMPLETE
        root.attrs[xz.WRITER_ATTR] = {"host": socket.gethostname(), "pid": other.pid,
                                      "process_start": xz._process_start(other.pid)}
        # before: mode="w" deleted the store under the running process, resume wrote beside it
        for mode in ("w", "resume"):
            with pytest.raises(errors.XlstsrError, match=rf"being written now.*process {other.pid}"
                                                         rf".*kill {other.pid}"):
                xlstsr.upscale_to_zarr(lst, store, 2, "bicubic", mode=mode)
        with pytest.raises(errors.XlstsrError, match=rf"process {other.pid} on this machine is writing"):
            xlstsr.io.open_zarr(store)
    finally:
        other.kill()
        other.wait()
    # once that process is gone, the store is an interrupted one: resume completes it
    out = xlstsr.upscale_to_zarr(lst, store, 2, "bicubic", mode="resume")
    assert out.shape == (2, 2 * lst.shape[1], 2 * lst.shape[2])
    assert zarr.open_group(store, mode="r").attrs[xz.STATUS_ATTR] == xz.COMPLETE


def test_ctrl_c_stops_the_regions_in_flight_at_their_next_tile(tmp_path):
    import os
    import signal
    import time

    from helpers import restore_method_registry

    import xlstsr
    from xlstsr.methods import get_method
    from xlstsr.methods.base import UpscaleMethod, register_method

    log = str(tmp_path / "calls.txt")  # the engine ships a copy of the method: count in a file

    with restore_method_registry():
        @register_method("slow_tiles")
        class SlowTiles(UpscaleMethod):
            def tile_size(self, factor):
                return 8

            def upscale_block(self, lst, valid, guide, factor):
                with open(log, "a") as f:
                    f.write("x")
                if os.path.getsize(log) == 4:  # Ctrl-C while both regions run
                    os.kill(os.getpid(), signal.SIGINT)
                time.sleep(0.05)
                return get_method("bicubic").upscale_block(lst, valid, guide, factor)

        lst = xlstsr.datasets.sample_scene(n_times=2, size=256)["lst_1km"].chunk({"time": 1})
        with pytest.raises(KeyboardInterrupt):
            xlstsr.upscale_to_zarr(lst, tmp_path / "out.zarr", 2, "slow_tiles",
                                   regions_in_flight=2, progress=False)
    # 2 regions of 64 tiles of 0.05 s: before, both ran to their end after Ctrl-C (128 tiles)
    assert 4 <= os.path.getsize(log) < 40, os.path.getsize(log)


@pytest.mark.parametrize("erode", ["3", 2.5, True, -1])
def test_evaluate_erode_must_be_a_whole_number(erode):
    import xlstsr

    s = xlstsr.datasets.sample_scene(n_times=1, size=64)
    sr = xlstsr.upscale(s["lst_1km"], 4)
    # before: erode="3" was taken for 3 (float("3").is_integer())
    with pytest.raises(errors.XlstsrError, match=r"erode must be a whole number >= 0"):
        xlstsr.evaluate(sr, s["lst_250m"], erode=erode)
    assert int(xlstsr.evaluate(sr, s["lst_250m"], erode=None).n_valid.sum()) > 0


def test_a_calibration_file_is_read_and_a_missing_one_named(tmp_path):
    import xlstsr
    from xlstsr.calibration import Calibration, apply_calibration

    sr = xlstsr.datasets.sample_scene(n_times=1, size=64)["lst_250m"]
    f = tmp_path / "modis_aster.json"
    f.write_text(Calibration(offset=0.9).to_json())
    # before: the path was parsed as JSON text ("is not a calibration's JSON text")
    for given in (f, str(f)):
        out = apply_calibration(sr, given)
        assert float((out - sr).mean()) == pytest.approx(0.9, abs=1e-4)
    with pytest.raises(errors.XlstsrError, match=r"calibration file .*missing.json.* does not exist"):
        xlstsr.upscale(xlstsr.datasets.sample_scene(n_times=1, size=64)["lst_1km"], 4,
                       calibration=str(tmp_path / "missing.json"))


def test_the_demo_does_not_replace_a_users_figure(tmp_path):
    from xlstsr.demo import run_demo

    (tmp_path / "demo.png").write_bytes(b"my own figure")
    # before: only lst_250m.zarr was checked, and the user's demo.png was replaced
    with pytest.raises(errors.XlstsrError, match=r"demo.png exist.*overwrite=True"):
        run_demo(tmp_path, method="bicubic", progress=False, n_times=1)
    assert (tmp_path / "demo.png").read_bytes() == b"my own figure"


def test_unregister_method_is_where_the_guide_says():
    import xlstsr.methods

    assert callable(xlstsr.methods.unregister_method)  # docs/index.md: was an AttributeError


def test_stac_items_differing_only_in_thumbnails_load_together(shared_data):
    pystac = pytest.importorskip("pystac")
    from xlstsr.io import open_stac

    cat = pystac.Catalog.from_file(str(shared_data / "modis_h18v04_2020" / "catalog.json"))
    items = [i.clone() for i in cat.get_items(recursive=True)
             if i.collection_id.startswith("modis-11A1")][:2]
    items[1].add_asset("thumbnail", pystac.Asset("x.png", roles=["thumbnail"], media_type="image/png"))
    items[1].add_asset("metadata", pystac.Asset("x.xml", roles=["metadata"]))
    # review of round 6: refused as "items of several products" (and the missing x.xml named)
    ds = open_stac(items)
    assert sorted(ds.data_vars) == ["LST_Day_1km", "LST_Night_1km"] and ds.sizes["time"] == 2


def test_one_multiband_geotiff_with_a_time_per_band(tmp_path):
    import pandas as pd

    from xlstsr.io import open_cog

    da = xr.DataArray(290 + np.arange(3 * 4 * 4, dtype="float32").reshape(3, 4, 4) / 10,
                      dims=("band", "y", "x"),
                      coords={"band": [1, 2, 3], "y": [3.5, 2.5, 1.5, 0.5], "x": np.arange(4) + 0.5})
    f = tmp_path / "quarter_hours.tif"
    da.rio.write_crs("EPSG:32631").rio.to_raster(f)
    t = pd.date_range("2018-08-19", periods=3, freq="15min")
    # review of round 6: "3 times for 1 paths; give one time per path" (no list of paths fixes it)
    out = open_cog(f, times=t)
    assert out.dims == ("time", "y", "x") and list(out.time.values) == list(t.values)
    np.testing.assert_allclose(out.isel(time=2).values, da.isel(band=2).values)
    with pytest.raises(errors.XlstsrError, match=r"2 times for one file of 3 band\(s\)"):
        open_cog(f, times=t[:2])


def test_a_data_file_given_as_the_model_is_named(tmp_path):
    import xlstsr
    from xlstsr.nn import load_model

    s = xlstsr.datasets.sample_scene(n_times=1, size=64)
    s["lst_1km"].to_netcdf(tmp_path / "lst.nc")
    s["lst_1km"].isel(time=0).rio.to_raster(tmp_path / "lst.tif")
    # before: "holds pickled Python objects (e.g. a whole module written by torch.save(model))"
    for f, kind in (("lst.nc", "NetCDF/HDF5"), ("lst.tif", "GeoTIFF")):
        with pytest.raises(errors.XlstsrError, match=rf"is a {kind} data file, not a model"):
            load_model(tmp_path / f)


def test_open_modis_takes_bytes_paths_and_names_other_types(shared_data):
    pytest.importorskip("pyhdf")
    import os

    from xlstsr.io import open_modis

    g = shared_data / "mod11a1_hdf" / "MOD11A1.A2019305.h14v09.006.2019306084028.hdf"
    # before: b"path" was iterated into integers, "TypeError: expected str, bytes or os.PathLike
    # object, not int"; open() and os.path take bytes
    assert open_modis(os.fsencode(g)).shape == (1200, 1200)
    assert open_modis([os.fsencode(g)]).sizes["time"] == 1
    with pytest.raises(errors.InputTypeError, match=r"got int 5 among the granules.*Path"):
        open_modis([g, 5])
    with pytest.raises(errors.InputTypeError, match=r"glob pattern or a list of paths, got float"):
        open_modis(3.0)
    with pytest.raises(errors.InputTypeError, match=r"list of paths, got bytearray"):
        open_modis(bytearray(os.fsencode(g)))


def test_ecostress_scenes_names_a_list_of_folders(tmp_path):
    from xlstsr.datasets import ecostress_scenes

    # before: "TypeError: expected str, bytes or os.PathLike object, not list" from pathlib
    with pytest.raises(errors.InputTypeError, match=r"one folder.*got list.*one call per folder"):
        ecostress_scenes([tmp_path])
    # a bytes path is a path (os.fsencode): the empty folder's own error, not a type error
    import os

    with pytest.raises(errors.InputNotFoundError, match="no ECOSTRESS scene"):
        ecostress_scenes(os.fsencode(tmp_path))


def test_evaluate_clear_without_thresholds_warns_that_it_changes_nothing():
    import warnings

    import xlstsr

    s = xlstsr.datasets.sample_scene(n_times=1, size=64)
    sr = xlstsr.upscale(s["lst_1km"], 4)
    # before: clear=True alone was taken without a word and changed nothing (the CLI refuses
    # --clear without --valid-min/--valid-max)
    with pytest.warns(UserWarning, match=r"clear=True.*neither is given.*valid_min=230"):
        ev = xlstsr.evaluate(sr, s["lst_250m"], erode=2, clear=True)
    np.testing.assert_array_equal(ev.rmse, xlstsr.evaluate(sr, s["lst_250m"], erode=2).rmse)
    with warnings.catch_warnings():
        warnings.simplefilter("error", UserWarning)
        xlstsr.evaluate(sr, s["lst_250m"], erode=2, valid_min=230, clear=True)


def test_guide_steps_of_cftime_dates_match_within_the_tolerance():
    pytest.importorskip("cftime")
    from xlstsr.guide import match_steps

    times = xr.date_range("2020-01-01", periods=3, freq="D", calendar="noleap", use_cftime=True)
    lst = xr.DataArray(np.zeros(3), dims="time", coords={"time": times})
    ndvi = xr.DataArray([0.1, 0.3], dims="time", coords={"time": times[[0, 2]]})
    # before: cftime labels were matched by equality only and the tolerance ignored: "1 of the
    # LST's 3 steps along 'time' have no guide step at most 2D before them" (2020-01-02)
    assert match_steps(ndvi, lst, "time", "2D").values.tolist() == [0.1, 0.1, 0.3]
    with pytest.raises(errors.GuideTimeError, match="no guide step"):
        match_steps(ndvi, lst, "time")  # equal labels only: 2020-01-02 has none
    with pytest.raises(errors.GuideTimeError, match="is a plain number, but the 'time' labels are dates"):
        match_steps(ndvi, lst, "time", 2)
    # before: datetime64 guide dates against cftime LST dates all failed as "no guide step at
    # most 2D before them"; now the calendars are named, and the fix given works
    dt64 = ndvi.assign_coords(time=np.array(["2020-01-01", "2020-01-03"], dtype="datetime64[ns]"))
    with pytest.raises(errors.GuideTimeError, match=r"'noleap' calendar.*datetime64\[ns\] dates"
                                                    r".*convert_calendar\('noleap'"):
        match_steps(dt64, lst, "time", "2D")
    fixed = dt64.convert_calendar("noleap", dim="time", use_cftime=True)
    assert match_steps(fixed, lst, "time", "2D").values.tolist() == [0.1, 0.1, 0.3]
    other = ndvi.convert_calendar("360_day", dim="time", align_on="year")
    with pytest.raises(errors.GuideTimeError, match=r"'noleap' calendar.*'360_day' calendar"):
        match_steps(other, lst, "time", "2D")


def test_evaluate_names_dates_of_two_calendars():
    pytest.importorskip("cftime")
    import xlstsr

    s = xlstsr.datasets.sample_scene(n_times=2, size=64)
    cf = xr.date_range("2020-07-01", periods=2, freq="D", calendar="noleap", use_cftime=True)
    lst = s["lst_1km"].assign_coords(time=cf)
    sr = xlstsr.upscale(lst, 4)
    # before: "2020-07-01 has no reference step with that label (reference: [Timestamp(
    # '2020-07-01') ...])": the same dates, one side cftime
    with pytest.raises(errors.GridError, match=r"numpy dates and sr's are cftime dates of the "
                                               r"'noleap' calendar.*convert_calendar\('noleap'"):
        xlstsr.evaluate(sr, s["lst_250m"], coarse=lst)
    truth = s["lst_250m"].convert_calendar("noleap", dim="time", use_cftime=True)
    assert xlstsr.evaluate(sr, truth, coarse=lst).sizes["time"] == 2


@pytest.mark.parametrize("calendar", [None, "noleap"])
def test_to_cogs_dates_come_back_with_open_cog(tmp_path, calendar):
    import xlstsr
    from xlstsr.io import open_cog, to_cogs

    if calendar:
        pytest.importorskip("cftime")
    s = xlstsr.datasets.sample_scene(n_times=2, size=32)
    lst = s["lst_1km"]
    if calendar:
        lst = lst.convert_calendar(calendar, dim="time", use_cftime=True)
    files = to_cogs(lst, tmp_path)
    # before: the dates were in the file names only and came back as times 0, 1
    back = open_cog(files)
    assert back.indexes["time"].equals(lst.indexes["time"])
    assert "time" not in back.attrs and open_cog(files[1]).time.values[()] == lst.time.values[1]
    # dates given win; files of other programs (no tag) still stack by position
    assert open_cog(files, times=["2021-01-01", "2021-01-02"]).time.dt.year.values.tolist() == [
        2021, 2021]
    lst.isel(time=0).rio.to_raster(tmp_path / "plain.tif")
    assert open_cog([tmp_path / "plain.tif", files[1]]).time.values.tolist() == [0, 1]

"""Bad inputs, fifth round (the front door: xlstsr.validate, xlstsr.upscale). Before its fix each
case was upscaled silently: an LST resampled by nearest neighbour onto a grid finer than its own
(the Yanco MODIS files, 10 x 10 blocks of equal pixels) gave an output of enlarged blocks, and a
CRS whose ellipsoid is a tenth of the Earth's (DESIREX's ENVI header) was carried into the output.
"""

from __future__ import annotations

import errno
import warnings
from pathlib import Path

import numpy as np
import pytest
import rioxarray
import xarray as xr
from helpers import raise_if_computed

import xlstsr
from xlstsr import errors
from xlstsr.validate import nearest_block_size


def _blocky(lst: xr.DataArray, k: int) -> xr.DataArray:
    """``lst`` averaged over k x k blocks and put back on its grid by nearest neighbour."""
    coarse = lst.coarsen(y=k, x=k).mean().values
    return lst.copy(data=np.kron(coarse, np.ones((1, k, k))))


@pytest.mark.parametrize("k", [2, 4])
def test_lst_made_of_equal_blocks_is_named_with_its_fix(s, k):
    lst = s["lst_1km"]
    with pytest.warns(errors.ResampledInputWarning, match=rf"blocks of {k} x {k} equal.*coarsen\(y={k}, x={k}\)"):
        xlstsr.upscale(_blocky(lst, k), 4)


def test_native_lst_and_uniform_fields_raise_no_block_warning(s):
    lst = s["lst_1km"]
    with warnings.catch_warnings():
        warnings.simplefilter("error", errors.ResampledInputWarning)
        xlstsr.upscale(lst, 4)
        xlstsr.upscale(lst.copy(data=np.full(lst.shape, 290.0)), 4)  # a uniform field is no block image
    # NaN gaps count as equal to anything: a cloudy blocky image is still found
    cloudy = _blocky(lst, 4).values[0]
    cloudy[:5, :7] = np.nan
    assert nearest_block_size(cloudy) == 4


def test_block_check_does_not_compute_a_lazy_lst(s):
    lazy = _blocky(s["lst_1km"], 4).chunk({"time": 1})
    with raise_if_computed(), warnings.catch_warnings():
        warnings.simplefilter("error", errors.ResampledInputWarning)
        xlstsr.upscale(lazy, 4)


def test_yanco_modis_resampled_onto_the_landsat_grid_is_named(shared_data: Path):
    f = shared_data / "yanco_modis_landsat/MOD11A1_LST_cloudrm_20160205.tif"
    lst = rioxarray.open_rasterio(f, masked=True).squeeze("band", drop=True)
    lst.attrs["units"] = "K"
    with pytest.warns(errors.ResampledInputWarning, match="blocks of 10 x 10"):
        xlstsr.upscale(lst.isel(y=slice(0, 100), x=slice(0, 100)), 2)


def test_crs_with_an_ellipsoid_not_the_earths_is_refused(s, shared_data: Path):
    lst = s["lst_1km"]
    crs = lst.rio.crs.to_wkt().replace("6371007.181", "637100.7181")  # a tenth of the Earth, as DESIREX's header
    assert crs != lst.rio.crs.to_wkt()
    with pytest.raises(errors.GridError, match=r"semi-major axis 637101 m.*write_crs"):
        xlstsr.upscale(lst.rio.write_crs(crs), 4)
    raw = rioxarray.open_rasterio(shared_data / "madrid_desirex/LST_100m.img").squeeze("band", drop=True)
    raw.attrs["units"] = "K"
    with pytest.raises(errors.GridError, match="ellipsoid"):
        xlstsr.upscale(raw, 2)
    # the reader writes the zone's EPSG code
    from xlstsr.io.landsat import open_desirex

    assert open_desirex(shared_data / "madrid_desirex").rio.crs.to_epsg() == 32630


def test_numbers_beyond_int64_are_named_not_a_numpy_type_error():
    from xlstsr.validate import check_number

    # before: numpy's "ufunc 'isfinite' not supported for the input types"
    with pytest.raises(errors.XlstsrError, match=r"lr must be a finite number > 0 and <= 1"):
        check_number("lr", 2**70, 0, 1, lo_open=True)
    with pytest.raises(errors.XlstsrError, match="factor"):
        xlstsr.upscale(xlstsr.datasets.sample_scene(n_times=1, size=16)["lst_1km"], 2**70)


def test_class_layer_with_units_na_is_named_a_mask_not_units(s):
    lst = s["lst_1km"]
    mask = lst.copy(data=(lst.values > float(lst.median())).astype("float32"))
    mask.attrs["units"] = "NA"  # AppEEARS' label of ECOSTRESS cloud and water masks
    # before: "unknown LST units 'NA' ... set units 'K' after converting"
    with pytest.raises(errors.UnitsError, match=r"whole numbers \(0, 1\): a class, mask or QC layer"):
        xlstsr.upscale(mask, 4)


def test_fahrenheit_values_are_named_fahrenheit(s):
    lst = s["lst_1km"]
    f = lst.copy(data=(lst.values - 273.15) * 9 / 5 + 32)
    del f.attrs["units"]
    # before: "values look like degrees Celsius: set units 'degC'" (358 K as Celsius)
    with pytest.raises(errors.PhysicalRangeError, match=r"Fahrenheit.*\(da - 32\) \* 5 / 9"):
        xlstsr.upscale(f, 4)


def test_upscale_refuses_a_lazy_input_from_an_unfinished_store(s, tmp_path):
    lst = s["lst_1km"].copy()
    lst[1] = lst[1] - 273.15  # refused while computing, after the first region was written
    store = tmp_path / "sr.zarr"
    with pytest.raises(errors.PhysicalRangeError):
        xlstsr.upscale_to_zarr(lst.chunk({"time": 1}), store, time_chunk=1, regions_in_flight=1,
                               progress=False)
    lazy = xr.open_zarr(store, consolidated=False, decode_coords="all")["lst_1km"]
    # before: upscaled, its unwritten step streamed on as NaN (as if all cloud)
    with raise_if_computed(), pytest.raises(errors.XlstsrError, match=r"did not finish \(1 of 2"):
        xlstsr.upscale(lazy, 2)


def test_variable_asked_of_a_dataarray_of_another_name_is_named(s):
    lst = s["lst_1km"]
    with pytest.raises(errors.VariableNotFoundError, match=r"'nope'.*DataArray 'lst_1km'"):
        xlstsr.upscale(lst, 4, variable="nope")  # before: ignored, lst_1km upscaled
    assert xlstsr.upscale(lst, 4, variable="lst_1km").shape == (2, 64, 64)


def test_upscale_to_zarr_reads_the_hdf_layer_asked_for(shared_data: Path, tmp_path):
    pytest.importorskip("pyhdf")
    granule = next((shared_data / "mod11a1_hdf").glob("*.hdf"))
    store = tmp_path / "night.zarr"
    # review of round 5: refused ("pass the Dataset"); before it, the Day LST was upscaled
    xlstsr.upscale_to_zarr(granule, store, 2, "bicubic", variable="LST_Night_1km",
                           progress=False)
    out = xr.open_zarr(store, decode_coords="all")
    assert "LST_Night_1km" in out.data_vars


def test_one_overpass_dated_two_ways_is_scored(sr, s):
    truth = s["lst_250m"].isel(time=0)
    late = truth.assign_coords(time=truth.time.values + np.timedelta64(12, "m"))
    # review of round 5: a nominal date against an acquisition time 12 min later was refused
    assert np.isfinite(float(xlstsr.evaluate(sr.isel(time=0), late)["rmse"]))
    other_day = truth.assign_coords(time=truth.time.values + np.timedelta64(1, "D"))
    with pytest.raises(errors.GridError, match="other dates"):
        xlstsr.evaluate(sr.isel(time=0), other_day)


def test_guide_on_float32_coordinates_is_the_lsts_grid(shared_data: Path):
    cog = shared_data / "modis_h18v04_2020/cogs/MOD11A1.A2020001.h18v04.061_LST_Day_1km.tif"
    lst = xlstsr.io.open_cog(cog).squeeze(drop=True).isel(y=slice(0, 64), x=slice(960, 1024)).load()
    step = xlstsr.grid.MODIS_250M  # a 250 m field: float32 rounding is then a larger part of a pixel
    lst = lst.assign_coords(y=float(lst.y[0]) - step * np.arange(64), x=float(lst.x[0]) + step * np.arange(64))
    guide = lst.copy(data=np.linspace(0.1, 0.8, lst.size).reshape(lst.shape))
    guide = guide.assign_coords(y=guide.y.astype("float32"), x=guide.x.astype("float32"))
    guide.attrs = {"long_name": "NDVI"}
    # review of round 5: "the guide has the LST's shape but not its grid" (0.001 px tolerance)
    xlstsr.scaling_stats(lst, guide=guide)


def test_input_read_failure_while_streaming_is_not_called_a_write_failure(s, tmp_path,
                                                                          monkeypatch):
    import xlstsr.engine.to_zarr as to_zarr

    def unreadable(*args, **kwargs):
        raise OSError(errno.EIO, "Read failed", "/data/cube/LST_2020001.tif")

    monkeypatch.setattr(to_zarr, "_store_block", unreadable)
    # review of round 5: "cannot write the store ... check free space" for a failing input read
    with pytest.raises(errors.XlstsrError, match=r"reading the input failed.*Read failed.*resume"):
        xlstsr.upscale_to_zarr(s["lst_1km"], tmp_path / "r.zarr", 4, time_chunk=1, progress=False)


def test_cli_input_read_failure_is_not_called_a_write_failure(s, tmp_path, capsys, monkeypatch):
    from xlstsr.cli import main

    tif = tmp_path / "in.tif"
    s["lst_1km"].isel(time=0).rio.to_raster(tif)

    def unreadable(*args, **kwargs):
        raise OSError(errno.EIO, "Read failed", str(tif))

    monkeypatch.setattr(xr.DataArray, "to_netcdf", unreadable)
    assert main(["upscale", str(tif), str(tmp_path / "o.nc"), "--quiet"]) == 2
    err = capsys.readouterr().err
    assert "was not written: " in err and "input file may be unreadable" in err
    assert not (tmp_path / "o.nc").exists()


def test_to_cogs_takes_driver_cog_it_writes_anyway(sr, tmp_path):
    # review of round 5: refused as "another driver" (rasterio got driver twice before round 5)
    paths = xlstsr.io.to_cogs(sr, tmp_path / "cogs", driver="COG")
    assert len(paths) == 2
    with pytest.raises(errors.XlstsrError, match="driver='GTiff'"):
        xlstsr.io.to_cogs(sr, tmp_path / "other", driver="GTiff")

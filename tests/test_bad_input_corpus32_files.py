"""Corpus 32 (files): inputs the readers refused or read wrongly (xlstsr/io, xlstsr/cli.py)."""

from __future__ import annotations

import gzip
import shutil
import warnings

import numpy as np
import pytest
import xarray as xr
from helpers import cli_stderr

import xlstsr
from xlstsr.errors import VariableNotFoundError, XlstsrError
from xlstsr.io import open_cog, open_path
from xlstsr.io.formats import format_of, open_with_variable


def _lst(size: int = 16) -> xr.DataArray:
    return xlstsr.datasets.sample_scene(n_times=1, size=size)["lst_1km"]


def _cli(*argv: str) -> tuple[int, str]:
    return cli_stderr(*argv)


# 01: a Zarr store whose fields sit in a group (to_zarr(group="day"))
@pytest.fixture()
def grouped_store(tmp_path):
    store = tmp_path / "grp.zarr"
    _lst().to_dataset(name="LST").to_zarr(store, group="day", zarr_format=3, consolidated=False)
    return store


def test_zarr_empty_root_with_groups_is_refused_naming_them(grouped_store):
    with pytest.raises(VariableNotFoundError, match=r"day/LST"):
        open_path(grouped_store)


def test_zarr_group_variable_opens_as_netcdf_does(grouped_store, tmp_path):
    obj, name = open_with_variable(grouped_store, "day/LST")
    assert name == "LST" and "LST" in obj.data_vars
    da = open_path(grouped_store, variable="day/LST")
    assert isinstance(da, xr.DataArray) and da.name == "LST"
    with pytest.raises(VariableNotFoundError, match=r"day/LST"):
        open_path(grouped_store, variable="night/LST")
    rc, err = _cli("upscale", str(grouped_store), str(tmp_path / "o.nc"), "--quiet",
                   "--variable", "day/LST")
    assert rc == 0, err


# 08: a path to an array inside a v2 store, named as v3's is
def test_zarr_v2_array_path_is_named_as_an_array(tmp_path):
    store = tmp_path / "v2.zarr"
    _lst().to_dataset(name="LST").to_zarr(store, zarr_format=2, consolidated=False)
    with pytest.raises(XlstsrError, match=r"array inside the Zarr store.*--variable LST"):
        open_path(store / "LST")


# 05: HDF5 granules named .h5 / .he5 / .hdf5 (ECOSTRESS L2 LSTE) read as NetCDF-4
@pytest.mark.parametrize("suffix", [".h5", ".he5", ".hdf5"])
def test_hdf5_suffixes_open_as_netcdf(tmp_path, suffix):
    h5py = pytest.importorskip("h5py")
    p = tmp_path / f"ECOSTRESS_L2_LSTE{suffix}"
    with h5py.File(p, "w") as f:
        d = f.create_dataset("SDS/LST", data=np.full((20, 30), 15000, "uint16"))
        d.attrs["scale_factor"] = np.float64(0.02)
        d.attrs["units"] = "K"
    assert format_of(p) == "netcdf"
    da = open_path(p, variable="SDS/LST")
    assert da.shape == (20, 30) and float(da.max()) == pytest.approx(300.0)


# 06: a contiguous NetCDF variable is read in bounded chunks, not as one chunk
def test_netcdf_contiguous_variable_gets_bounded_chunks(tmp_path):
    nt, ny, nx = 3, 1100, 1000
    da = xr.DataArray(np.full((nt, ny, nx), 300, "f4"), dims=("time", "y", "x"),
                      coords={"time": np.arange(nt).astype("M8[D]").astype("M8[ns]"),
                              "y": np.arange(ny) * -1000.0, "x": np.arange(nx) * 1000.0},
                      attrs={"units": "K"})
    path = tmp_path / "cube.nc"
    da.to_dataset(name="LST").to_netcdf(path, engine="h5netcdf")  # contiguous
    lst = open_path(path)["LST"]
    assert max(lst.chunks[0]) == 1 and max(lst.chunks[1]) <= 1024  # one step of a large grid
    assert float(lst.isel(time=2, y=slice(0, 5), x=slice(0, 5)).mean()) == 300
    # a file chunked by its writer keeps its own chunks
    chunked = tmp_path / "chunked.nc"
    da.isel(x=slice(0, 8)).to_dataset(name="LST").to_netcdf(
        chunked, engine="h5netcdf", encoding={"LST": {"chunksizes": (3, 550, 8)}})
    assert open_path(chunked)["LST"].chunks[:2] == ((3,), (550, 550))


# 02: a multi-band GeoTIFF whose bands declare their own scales
@pytest.fixture()
def stack(tmp_path):
    rasterio = pytest.importorskip("rasterio")
    from rasterio.transform import from_origin

    p = tmp_path / "stack.tif"
    v = (14500 + np.random.default_rng(0).integers(0, 500, (3, 16, 16))).astype("uint16")
    v[2] = 3
    with rasterio.open(p, "w", driver="GTiff", width=16, height=16, count=3, dtype="uint16",
                       crs="EPSG:32632", transform=from_origin(5e5, 5e6, 1000, 1000),
                       nodata=0) as d:
        d.write(v)
        d.descriptions = ("LST_Day", "LST_Night", "QC")
        d.scales = (0.02, 0.02, 1.0)
    return p


def test_selected_band_takes_its_own_scale(stack, tmp_path):
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        da = open_cog(stack, band=1)
        qc = open_cog(stack, band=3)
    assert da.attrs["scale_factor"] == pytest.approx(0.02) and "scales" not in da.attrs
    assert qc.attrs.get("scale_factor", 1.0) == pytest.approx(1.0)
    sr = xlstsr.upscale(da, 2)
    assert 280 < float(sr.max()) < 320
    rc, err = _cli("upscale", str(stack), str(tmp_path / "o.tif"), "--band", "1",
                   "--factor", "2", "--quiet")
    assert rc == 0, err


def test_bands_of_different_scales_unselected_are_refused(stack):
    with warnings.catch_warnings(), pytest.raises(XlstsrError, match=r"band="):
        warnings.simplefilter("ignore")
        open_cog(stack)


# 03: a folder of COGs and a compressed NetCDF
def test_folder_of_cogs_gets_open_cogs_advice(tmp_path, stack):
    folder = tmp_path / "cogs"
    folder.mkdir()
    shutil.copy(stack, folder / "a.tif")
    with pytest.raises(XlstsrError, match=r"is a folder \(1 \.tif files in it\).*open_cog"):
        open_path(folder)
    rc, err = _cli("upscale", str(folder), str(tmp_path / "o.zarr"))
    assert rc != 0 and "is a folder" in err
    renamed = tmp_path / "cogs.zarr"
    folder.rename(renamed)  # renamed to .zarr: not a store either, said so
    with pytest.raises(XlstsrError, match=r"is a folder .*renaming a folder to \.zarr"):
        open_path(renamed)


def test_gzipped_netcdf_says_decompress(tmp_path):
    nc = tmp_path / "x.nc"
    _lst().to_dataset().to_netcdf(nc, engine="h5netcdf")
    with open(nc, "rb") as f, gzip.open(tmp_path / "x.nc.gz", "wb") as g:
        g.write(f.read())
    with pytest.raises(XlstsrError, match=r"gzip-compressed.*gunzip x\.nc\.gz"):
        open_path(tmp_path / "x.nc.gz")
    shutil.copy(tmp_path / "x.nc.gz", tmp_path / "y.nc")  # a compressed file named .nc
    with pytest.raises(XlstsrError, match=r"gzip-compressed"):
        open_path(tmp_path / "y.nc")


# 04: a CF lat/lon NetCDF without a grid mapping: --crs declares its CRS
@pytest.fixture()
def latlon_nc(tmp_path):
    lat = np.linspace(45.495, 45.005, 20)
    lon = np.linspace(10.005, 10.495, 20)
    v = (290 + np.random.default_rng(0).normal(0, 2, (1, 20, 20))).astype("f4")
    p = tmp_path / "lst_latlon.nc"
    xr.Dataset({"LST": (("time", "lat", "lon"), v, {"units": "K"})},
               coords={"time": np.array(["2020-07-01"], "M8[ns]"),
                       "lat": ("lat", lat, {"units": "degrees_north",
                                            "standard_name": "latitude"}),
                       "lon": ("lon", lon, {"units": "degrees_east",
                                            "standard_name": "longitude"})}
               ).to_netcdf(p, engine="h5netcdf")
    return p


def test_cli_crs_declares_a_missing_crs(latlon_nc, tmp_path):
    rc, err = _cli("upscale", str(latlon_nc), str(tmp_path / "a.nc"), "--quiet")
    assert rc != 0 and "--crs EPSG:4326" in err
    rc, err = _cli("upscale", str(latlon_nc), str(tmp_path / "b.nc"), "--quiet",
                   "--crs", "EPSG:4326")
    assert rc == 0, err


def test_cli_crs_refuses_another_crs_than_the_files(stack, tmp_path):
    rc, err = _cli("upscale", str(stack), str(tmp_path / "c.tif"), "--band", "1", "--quiet",
                   "--crs", "EPSG:4326")
    assert rc != 0 and "declares its own CRS" in err
    rc, err = _cli("upscale", str(stack), str(tmp_path / "d.tif"), "--band", "1", "--quiet",
                   "--crs", "not-a-crs")
    assert rc != 0 and "not a CRS" in err


# 07: a MODIS granule without LST_Day_1km, as the LST or as the guide
def _granule(path, layers):
    SD = pytest.importorskip("pyhdf.SD")
    d = SD.SD(str(path), SD.SDC.WRITE | SD.SDC.CREATE)
    kinds = {SD.SDC.UINT16: "uint16", SD.SDC.UINT8: "uint8", SD.SDC.INT16: "int16"}
    for name, dtype, value in layers:
        v = d.create(name, dtype, (8, 8))
        v[:] = np.full((8, 8), value, kinds[dtype])
        v.endaccess()
    d.end()


def test_modis_default_layer_and_names_of_the_choices(tmp_path):
    SD = pytest.importorskip("pyhdf.SD")
    from xlstsr.io.modis import default_layer, granule_layers

    one = tmp_path / "MOD21A1D.A2019305.h14v09.061.2019306000000.hdf"
    _granule(one, [("LST_1KM", SD.SDC.UINT16, 15000), ("LST_err_1KM", SD.SDC.UINT8, 1)])
    assert default_layer(granule_layers(one)) == "LST_1KM"
    two = tmp_path / "MOD13A2.A2019305.h14v09.006.2019322000000.hdf"
    _granule(two, [("1 km 16 days NDVI", SD.SDC.INT16, 5000),
                   ("1 km 16 days EVI", SD.SDC.INT16, 4000)])
    assert default_layer(granule_layers(two), "guide") == "1 km 16 days NDVI"
    with pytest.raises(VariableNotFoundError, match=r"variable="):
        xlstsr.io.open_modis(two)  # no LST layer: named with the way to name one


def test_cli_hdf_guide_without_ndvi_names_guide_variable(tmp_path):
    SD = pytest.importorskip("pyhdf.SD")
    from xlstsr.cli import _open_field

    g = tmp_path / "MOD09.A2019305.h14v09.006.2019322000000.hdf"
    _granule(g, [("sur_refl_b01", SD.SDC.INT16, 500), ("sur_refl_b02", SD.SDC.INT16, 400)])
    with pytest.raises(Exception, match=r"--guide .*--guide-variable"):
        _open_field(str(g), None, "guide", "--guide-variable")
    lst = tmp_path / "MOD21A1D.A2019305.h14v09.061.2019306000000.hdf"
    _granule(lst, [("LST_A", SD.SDC.UINT16, 1), ("LST_B", SD.SDC.UINT16, 1)])
    with pytest.raises(Exception, match=r"--variable LST_A"):
        _open_field(str(lst), None, "LST", "--variable")

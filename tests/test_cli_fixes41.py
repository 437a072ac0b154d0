"""CLI fixes of probe 41s: a float32 meshgrid read in its own dtype (was refused as rows "out of
order", which a sorted grid never is), an undated guide GeoTIFF's bands read as a .nc LST's
steps, --crs refused on pixel-index coordinates (and no rename advice for 2-D lat/lon), a
--reference-mask on a meshgrid, one --factor message below 2."""

import numpy as np
import pytest
import rasterio
import xarray as xr

import xlstsr
from xlstsr.cli import main
from xlstsr.errors import GridError


def _meshgrid(da: xr.DataArray, dtype: str) -> xr.Dataset:
    """``da`` stored as a GDAL/MATLAB export writes it: 2-D x/y over rows/cols."""
    xx, yy = np.meshgrid(da.x.values, da.y.values)
    crs = da.rio.crs
    ds = xr.Dataset(
        {"lst": (("time", "rows", "cols"), da.values.astype("float32"),
                 {"units": "K", "grid_mapping": "crs"})},
        coords={"time": da.time.values, "x": (("rows", "cols"), xx.astype(dtype)),
                "y": (("rows", "cols"), yy.astype(dtype))})
    ds["crs"] = xr.DataArray(0, attrs={"crs_wkt": crs.to_wkt(), "spatial_ref": crs.to_wkt()})
    return ds


def _one_d(da: xr.DataArray, dtype: str) -> xr.Dataset:
    crs = da.rio.crs
    ds = xr.Dataset({"lst": (("time", "y", "x"), da.values.astype("float32"),
                             {"units": "K", "grid_mapping": "crs"})},
                    coords={"time": da.time.values, "x": da.x.values.astype(dtype),
                            "y": da.y.values.astype(dtype)})
    ds["crs"] = xr.DataArray(0, attrs={"crs_wkt": crs.to_wkt(), "spatial_ref": crs.to_wkt()})
    return ds


# -- 1. float32 meshgrid ---------------------------------------------------------------------------

def test_float32_meshgrid_upscaled_as_its_1d_twin(s, tmp_path):
    lst = s["lst_1km"]
    _meshgrid(lst, "float32").to_netcdf(tmp_path / "mesh.nc")
    _one_d(lst, "float32").to_netcdf(tmp_path / "one.nc")
    # before: exit 2, "its rows are out of order ... sortby" (the grid cast to float64)
    assert main(["upscale", str(tmp_path / "mesh.nc"), str(tmp_path / "a.nc"), "--quiet"]) == 0
    assert main(["upscale", str(tmp_path / "one.nc"), str(tmp_path / "b.nc"), "--quiet"]) == 0
    a, b = xr.open_dataset(tmp_path / "a.nc"), xr.open_dataset(tmp_path / "b.nc")
    np.testing.assert_array_equal(a.lst.values, b.lst.values)
    np.testing.assert_array_equal(a.y.values, b.y.values)


def test_sorted_jittered_coordinates_not_called_out_of_order(s):
    lst = s["lst_1km"].isel(time=0)
    n = lst.sizes["y"]
    # sorted, regular but for a jitter of 0.01 m far from the origin (float32-like rounding)
    y = 1e6 - 1000.0 * np.arange(n) + 0.01 * (np.arange(n) % 2)
    with pytest.raises(GridError) as exc:
        xlstsr.upscale(lst.assign_coords(y=y), 4)
    assert "out of order" not in str(exc.value) and "sortby" not in str(exc.value)
    assert "Snap them" in str(exc.value)


def test_shuffled_regular_coordinates_still_called_out_of_order(s):
    lst = s["lst_1km"].isel(time=0)
    y = lst.y.values.copy()
    y[[2, 5]] = y[[5, 2]]
    with pytest.raises(GridError, match=r"out of order.*sortby"):
        xlstsr.upscale(lst.assign_coords(y=y), 4)


# -- 2. guide GeoTIFF bands beside a .nc LST ---------------------------------------------------------

def test_undescribed_guide_bands_stay_channels_with_a_warning(s, tmp_path, capsys):
    # review 41f: reading an undescribed band stack as the LST's steps whenever the counts
    # matched took a red/nir/mir stack for three dates, silently (1.08 K); the bands stay
    # channels of every date, and the warning naming both readings is shown
    lst, g = s["lst_1km"], s["ndvi_250m"]
    xr.concat([g, g * 0.5], "band").assign_coords(band=[1, 2]).rio.to_raster(tmp_path / "c.tif")
    lst.to_dataset(name="lst").to_netcdf(tmp_path / "lst.nc")
    assert main(["upscale", str(tmp_path / "lst.nc"), str(tmp_path / "a.nc"), "--method",
                 "tsharp", "--guide-offset", "ignore", "--guide", str(tmp_path / "c.tif")]) == 0
    assert "xlstsr: warning:" in capsys.readouterr().err
    with rasterio.open(tmp_path / "c.tif", "r+") as f:
        f.set_band_description(1, "NDVI")
        f.set_band_description(2, "albedo")
    assert main(["upscale", str(tmp_path / "lst.nc"), str(tmp_path / "b.nc"), "--method",
                 "tsharp", "--guide-offset", "ignore", "--quiet", "--guide",
                 str(tmp_path / "c.tif")]) == 0
    np.testing.assert_array_equal(xr.open_dataset(tmp_path / "a.nc").lst.values,
                                  xr.open_dataset(tmp_path / "b.nc").lst.values)


# -- 3. --crs on pixel indices; 2-D lat/lon ---------------------------------------------------------

def _latlon_file(tmp_path, rename: bool):
    lat = 45.0 - 0.01 * np.arange(16)
    lon = 10.0 + 0.01 * np.arange(16)
    lo, la = np.meshgrid(lon, lat)
    v = 290 + np.random.default_rng(0).random((1, 16, 16)).astype("float32")
    ds = xr.Dataset({"lst": (("time", "rows", "cols"), v, {"units": "K"})},
                    coords={"time": [np.datetime64("2020-01-01")],
                            "lon": (("rows", "cols"), lo), "lat": (("rows", "cols"), la),
                            "rows": ("rows", np.arange(16)), "cols": ("cols", np.arange(16))})
    if rename:
        ds = ds.rename(rows="y", cols="x")
    path = tmp_path / f"ll{int(rename)}.nc"
    ds.to_netcdf(path)
    return path


def test_crs_flag_refuses_pixel_indices_beside_2d_latlon(tmp_path, capsys):
    # before: exit 0, written as 1-degree pixels at 0..16 degrees, the file's own lat/lon
    # dropped; the regridding advice now
    assert main(["upscale", str(_latlon_file(tmp_path, True)), str(tmp_path / "o.nc"),
                 "--crs", "EPSG:4326"]) == 2
    err = capsys.readouterr().err
    assert "--crs EPSG:4326" in err and "pixel indices" in err
    assert "2-D arrays" in err and "regular lat/lon grid" in err
    assert not (tmp_path / "o.nc").exists()


def test_crs_flag_on_a_real_one_degree_grid_runs(tmp_path):
    # review 41f: a 1-degree grid's centres (0.5 ... 9.5) look like pixel indices: refused
    v = 290 + np.random.default_rng(0).random((10, 10)).astype("float32")
    xr.Dataset({"lst": (("y", "x"), v, {"units": "K"})},
               coords={"y": 9.5 - np.arange(10.0), "x": 0.5 + np.arange(10.0)}
               ).to_netcdf(tmp_path / "g.nc")
    assert main(["upscale", str(tmp_path / "g.nc"), str(tmp_path / "o.nc"), "--crs", "EPSG:4326",
                 "--quiet"]) == 0


def test_crs_flag_on_degrees_still_runs(tmp_path):
    v = 290 + np.random.default_rng(0).random((16, 16)).astype("float32")
    xr.Dataset({"lst": (("y", "x"), v, {"units": "K"})},
               coords={"y": 45.0 - 0.01 * np.arange(16), "x": 10.0 + 0.01 * np.arange(16)}
               ).to_netcdf(tmp_path / "d.nc")
    assert main(["upscale", str(tmp_path / "d.nc"), str(tmp_path / "o.nc"), "--crs", "EPSG:4326",
                 "--quiet"]) == 0


def test_2d_latlon_refusal_has_no_rename_advice(tmp_path, capsys):
    assert main(["upscale", str(_latlon_file(tmp_path, False)), str(tmp_path / "o.nc")]) == 2
    err = capsys.readouterr().err
    assert "are 2-D: a swath or curvilinear grid" in err
    assert "ncrename" not in err and "ncatted" not in err and "set_spatial_dims" not in err


# -- 4. --reference-mask on a meshgrid ---------------------------------------------------------------

def test_reference_mask_on_a_meshgrid(s, sr, tmp_path):
    sr1 = sr.isel(time=[0])
    sr1.to_dataset(name="lst").to_netcdf(tmp_path / "sr.nc")
    ref = _meshgrid(sr1 + 0.3, "float64")
    ref.to_netcdf(tmp_path / "ref.nc")
    cloud = np.zeros(sr1.shape[1:], "uint8")
    cloud[:8] = 1
    mask = ref.drop_vars("lst").assign(cloud_mask=(("rows", "cols"), cloud))
    mask["cloud_mask"].attrs["grid_mapping"] = "crs"
    mask.to_netcdf(tmp_path / "mask.nc")
    one = _one_d(sr1 + 0.3, "float64").drop_vars("lst").assign(cloud_mask=(("y", "x"), cloud))
    one.to_netcdf(tmp_path / "mask1.nc")
    base = ["evaluate", str(tmp_path / "sr.nc"), str(tmp_path / "ref.nc")]
    # before: exit 2, "--reference-mask ... holds no raster"
    assert main([*base, str(tmp_path / "a.csv"), "--reference-mask", str(tmp_path / "mask.nc")]) == 0
    assert main([*base, str(tmp_path / "b.csv"), "--reference-mask", str(tmp_path / "mask1.nc")]) == 0
    assert (tmp_path / "a.csv").read_text() == (tmp_path / "b.csv").read_text()


# -- 5. --factor below 2 -----------------------------------------------------------------------------

@pytest.mark.parametrize("value", ["0", "-3", "1"])
def test_factor_below_two_one_message(value, tmp_path, capsys):
    with pytest.raises(SystemExit) as exc:
        main(["upscale", str(tmp_path / "in.tif"), str(tmp_path / "out.nc"), "--factor", value])
    err = capsys.readouterr().err
    assert exc.value.code == 2 and f"--factor: must be >= 2, got {value}" in err
    assert ">= 1" not in err

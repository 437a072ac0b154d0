"""open_cog / to_cogs fixes of review 39: mixed units in a stack, a NetCDF named .tif, the
order of to_cogs' paths."""
import numpy as np
import pytest
import rasterio
import rioxarray  # noqa: F401
import xarray as xr
from rasterio.transform import from_origin

from xlstsr import errors
from xlstsr.io import open_cog, to_cogs


def _tif(path, values, units=None):
    with rasterio.open(path, "w", driver="GTiff", width=8, height=8, count=1, dtype="float32",
                       crs="EPSG:32633", transform=from_origin(1e6, 5.5e6, 1000, 1000)) as f:
        f.write(np.full((8, 8), values, "float32"), 1)
        if units:
            f.units = (units,)
    return path


def _grid(n):
    x = 1e6 + 1000 * (np.arange(8) + 0.5)
    y = 5.5e6 - 1000 * (np.arange(8) + 0.5)
    return xr.DataArray(300 + np.arange(n * 64, dtype="float32").reshape(n, 8, 8) / 64,
                        dims=("time", "y", "x"), coords={"y": y, "x": x},
                        attrs={"units": "K"}).rio.write_crs("EPSG:32633")


@pytest.mark.parametrize("first, second", [(None, "degC"), ("degC", None), ("K", "degC")])
def test_open_cog_refuses_files_of_different_or_missing_units(tmp_path, first, second):
    """A Kelvin file without units stacked with a degC file came out labelled degC for both,
    and upscale's advice then flipped between K and degC step by step."""
    a = _tif(tmp_path / "k.tif", 300.0, first)
    b = _tif(tmp_path / "c.tif", 26.85, second)
    with pytest.raises(errors.XlstsrError, match=r"different units .*k\.tif.*c\.tif.*"
                       r"Set the units of each file.*separately"):
        open_cog([a, b], times=["2020-07-01", "2020-07-02"])


def test_open_cog_keeps_stacks_whose_units_agree_or_are_absent(tmp_path):
    none = [_tif(tmp_path / f"n{i}.tif", 300.0) for i in range(2)]
    assert "units" not in open_cog(none, times=["2020-07-01", "2020-07-02"]).attrs
    same = [_tif(tmp_path / "a.tif", 27.0, "degC"), _tif(tmp_path / "b.tif", 28.0, "Celsius")]
    assert open_cog(same, times=["2020-07-01", "2020-07-02"]).attrs["units"] == "degC"
    # a file without units beside Kelvin ones is Kelvin like them (the range check refuses a
    # Celsius step there): the stack keeps Kelvin
    kelvin = [_tif(tmp_path / "k1.tif", 300.0, "K"), _tif(tmp_path / "k2.tif", 301.0)]
    assert open_cog(kelvin, times=["2020-07-01", "2020-07-02"]).attrs["units"] == "K"


def test_open_cog_names_a_netcdf_saved_with_a_tif_name(tmp_path):
    """GDAL read it as an HDF5 image without coordinates or CRS, and the advice was to
    georeference it with gdal_translate."""
    da = _grid(1).assign_coords(time=np.array(["2020-07-01"], "datetime64[ns]"))
    p = tmp_path / "lst.tif"
    da.to_dataset(name="LST").to_netcdf(p)
    with pytest.raises(errors.XlstsrError, match=r"lst\.tif is a NetCDF.*not a GeoTIFF.*"
                       r"mv lst\.tif lst\.nc.*open_path.*xr\.open_dataset"):
        open_cog(p)
    # the advice holds: renamed, it opens with its coordinates and CRS
    import xlstsr.io

    back = xlstsr.io.open_path(p.rename(tmp_path / "lst.nc"))
    back = back["LST"] if isinstance(back, xr.Dataset) else back
    np.testing.assert_allclose(back["x"].values, da["x"].values)


def test_open_cog_still_reads_a_geotiff(tmp_path):
    da = open_cog(_tif(tmp_path / "a.tif", 300.0, "K"))
    assert da.attrs["units"] == "K" and da.rio.crs is not None


def test_to_cogs_returns_paths_in_the_arrays_order_as_documented(tmp_path):
    """The docstring said "in time order"; the paths follow the array's steps, so zipping
    them with da.time pairs each date with its file."""
    times = np.array(["2020-05-20", "2020-01-05", "2020-04-10"], "datetime64[ns]")
    da = _grid(3).assign_coords(time=times)
    paths = to_cogs(da, tmp_path)
    for t, p in zip(da["time"].values, paths):
        one = open_cog(p)
        assert one["time"].values == t
        np.testing.assert_allclose(one.values, da.sel(time=t).values)


def test_open_cog_stacks_guides_with_units_that_are_not_temperatures(tmp_path):
    """Files with units '1' (an NDVI) failed as "unknown LST units" when stacked (review 39b);
    one with '1' beside one without units is no conflict of temperatures."""
    a = _tif(tmp_path / "a.tif", 0.5, "1")
    b = _tif(tmp_path / "b.tif", 0.6, "1")
    c = _tif(tmp_path / "c.tif", 0.7)
    assert open_cog([a, b], times=["2020-07-01", "2020-07-02"]).attrs["units"] == "1"
    assert open_cog([a, c], times=["2020-07-01", "2020-07-02"]).sizes["time"] == 2


def test_open_cog_names_a_real_netcdf_without_a_rename(tmp_path):
    da = _grid(1).assign_coords(time=np.array(["2020-07-01"], "datetime64[ns]"))
    p = tmp_path / "lst.nc"
    da.to_dataset(name="LST").to_netcdf(p)
    with pytest.raises(errors.XlstsrError, match=r"lst\.nc is a NetCDF") as e:
        open_cog(p)
    assert "mv " not in str(e.value) and "open_path" in str(e.value)

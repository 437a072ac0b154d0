"""The refusal of dims named lat/lon where y/x are needed said "xlstsr looks for y/x, lat/lon
or latitude/longitude" of dims named lat/lon: it must say they need renaming, and how."""

from __future__ import annotations

import numpy as np
import pytest
import xarray as xr

from xlstsr.errors import NoSpatialDimsError
from xlstsr.validate import spatial_dims


def test_lat_lon_dims_are_told_to_be_renamed_without_contradiction():
    da = xr.DataArray(np.zeros((3, 4)), dims=("lat", "lon"),
                      coords={"lat": [3.0, 2.0, 1.0], "lon": [1.0, 2.0, 3.0, 4.0]})
    with pytest.raises(NoSpatialDimsError) as err:
        spatial_dims(da)
    text = str(err.value)
    assert "lat/lon" not in text.split("rename")[0]  # no "looks for ... lat/lon" of lat/lon
    fix = text.split("`")[1]
    assert fix == "da.rename({'lat': 'y', 'lon': 'x'})"
    assert spatial_dims(eval(fix, {"da": da})) == ("y", "x")


def test_other_dims_keep_their_rename_advice():
    da = xr.DataArray(np.zeros((3, 4)), dims=("row", "col"))
    with pytest.raises(NoSpatialDimsError, match=r"da.rename\(\{'row': 'y', 'col': 'x'\}\)"):
        spatial_dims(da)


def test_cli_scaling_masks_out_of_range_pixels_as_its_refusal_advises(tmp_path, capsys, scene):
    """`xlstsr scaling` had no --mask-out-of-range: its refusal of a few 500 K pixels dropped
    the advice, and the Python API's advice named an option scaling_stats lacked."""
    from xlstsr.cli import main

    lst = scene["lst_1km"].isel(time=0).copy()
    lst[:2, :3] = 500.0
    src = tmp_path / "lst_hot.tif"
    lst.rio.to_raster(src)
    out = tmp_path / "s.nc"
    assert main(["scaling", str(src), str(out)]) == 2
    err = capsys.readouterr().err
    assert "--mask-out-of-range" in err
    assert main(["scaling", str(src), str(out), "--mask-out-of-range"]) == 0
    assert out.exists()


def test_a_list_of_hdf_granules_is_sent_to_open_modis(tmp_path):
    """open_path (upscale_to_zarr's reader) told a list of MODIS HDF granules to use open_cog,
    which cannot read HDF4."""
    from xlstsr.errors import InputTypeError
    from xlstsr.io.formats import open_path

    files = [str(tmp_path / f"MOD11A1.A2020{d:03d}.h18v04.061.hdf") for d in (1, 2)]
    with pytest.raises(InputTypeError, match=r"open_modis\(files") as err:
        open_path(files)
    assert "open_cog" not in str(err.value)
    with pytest.raises(InputTypeError, match="open_cog"):
        open_path([str(tmp_path / "a.tif"), str(tmp_path / "b.tif")])


@pytest.mark.parametrize("value", [{"collection": "mod11a1"}, True, ["a", "b"]])
def test_a_datasets_json_global_attrs_do_not_stop_a_netcdf_write(tmp_path, scene, value):
    """A Zarr store's global attributes may hold dicts or bools; carried onto the result since
    session 28, they made its to_netcdf fail (TypeError / boolean dtypes not supported)."""
    import xlstsr

    ds = scene["lst_1km"].rename("LST").to_dataset().assign_attrs(extra=value, title="t")
    for i, out in enumerate((ds.lstsr.upscale(4, "bicubic", variable="LST"),
                             xlstsr.coarsen(ds["LST"].assign_attrs(units="K"), 2),
                             xlstsr.upscale(ds, 4, "bicubic", variable="LST"))):
        out.to_netcdf(tmp_path / f"o{i}.nc")
    back = xr.open_dataarray(tmp_path / "o2.nc", decode_coords="all")
    assert back.attrs["title"] == "t"

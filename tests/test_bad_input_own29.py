"""Own findings of session 29, each pinned by a test that fails on the code before it."""
from __future__ import annotations

import h5py
import numpy as np
import xarray as xr

from xlstsr.cli import main


def test_cli_netcdf_output_is_compressed_losslessly(tmp_path, small_scene):
    """A .nc output was written raw: a year at 250 m is 16x its input's pixels on disk."""
    import xlstsr

    cube = small_scene["lst_1km"].copy()
    cube[0, :3, :5] = np.nan  # a cloud
    cube.to_dataset(name="LST").to_netcdf(tmp_path / "in.nc")
    assert main(["upscale", str(tmp_path / "in.nc"), str(tmp_path / "out.nc"),
                 "--method", "bicubic", "--quiet"]) == 0
    with h5py.File(tmp_path / "out.nc") as f:
        var = f["LST"]
        assert var.compression == "gzip" and var.shuffle
        assert var.chunks == (1, *var.shape[1:])  # one chunk per time step
    got = xr.open_dataset(tmp_path / "out.nc")["LST"]
    want = xlstsr.upscale(cube, 4, "bicubic")
    np.testing.assert_array_equal(got.values, want.values)  # lossless, NaN kept

"""Session-32 review of evaluate --reference-offset: the bias check's refusal of a Landsat ST
reference decoded without its 149 K offset names the flag on the command line."""

from __future__ import annotations

import numpy as np
import pandas as pd
import pytest
import xarray as xr
from helpers import run_cli

pytest.importorskip("rioxarray")
ST_SCALE, ST_OFFSET = 0.00341802, 149.0


def test_a_netcdf_reference_decoded_without_its_offset_is_told_the_flag(capsys, tmp_path):
    yy, xx = np.mgrid[:96, :96]
    lst = 300 + 5 * np.sin(xx / 7) + 3 * np.cos(yy / 9)
    y = 4200000 - 15 - 30 * np.arange(96)
    x = 500000 + 15 + 30 * np.arange(96)
    sr = lst.reshape(12, 8, 12, 8).mean((1, 3)).astype("float32")
    xr.DataArray(sr, dims=("y", "x"), attrs={"units": "K"},
                 coords={"y": 4200000 - 120 - 240 * np.arange(12),
                         "x": 500000 + 120 + 240 * np.arange(12)}
                 ).rio.write_crs("EPSG:32611").rio.to_raster(tmp_path / "sr.tif")
    # digital numbers whose file declares the scale only: xarray decodes them to ~153 "K"
    st = xr.DataArray(lst - ST_OFFSET, dims=("y", "x"), coords={"y": y, "x": x}, name="ST",
                      attrs={"units": "K"}).rio.write_crs("EPSG:32611")
    ds = st.to_dataset()
    ds["ST"].attrs["grid_mapping"] = "spatial_ref"
    ds.set_coords("spatial_ref").to_netcdf(tmp_path / "dn.nc", encoding={
        "ST": {"scale_factor": ST_SCALE, "dtype": "uint16", "_FillValue": 0}})
    code, err = run_cli(capsys, "evaluate", tmp_path / "sr.tif", tmp_path / "dn.nc",
                        tmp_path / "o.csv")
    assert code != 0 and "plus 149 K match sr" in err
    # before: "Read the scene with `xlstsr.io.open_landsat_c2l2`, or add the offset" (Python)
    assert "--reference-offset 149" in err and "open_landsat_c2l2" not in err
    code, err = run_cli(capsys, "evaluate", tmp_path / "sr.tif", tmp_path / "dn.nc",
                        tmp_path / "o.csv", "--reference-offset", 149)
    assert code == 0, err
    assert abs(float(pd.read_csv(tmp_path / "o.csv")["bias"].iloc[0])) < 0.5

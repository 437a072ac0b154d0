"""Review 41c: the session's new refusals let real data through: a float LST with an alpha band
(gdalwarp -dstalpha) opens; MODIS's stored 9999 (199.98 K) at a scene's cold end is data; the
command line's guide-name refusal gives its own flag, not a Python call."""

import subprocess
import sys
import warnings

import numpy as np
import pytest
import rasterio
import xarray as xr
from rasterio.enums import ColorInterp
from rasterio.transform import from_origin

from xlstsr.errors import UndeclaredFillError
from xlstsr.io import open_cog
from xlstsr.validate import decode_lst, prepare_lst

T = from_origin(500000, 4000000, 1000, 1000)


def test_float_lst_with_an_alpha_band_opens(tmp_path):
    lst = (290 + np.random.default_rng(0).random((16, 16)) * 10).astype("float32")
    path = tmp_path / "alpha.tif"
    with rasterio.open(path, "w", driver="GTiff", width=16, height=16, count=2,
                       dtype="float32", crs="EPSG:32633", transform=T) as r:
        r.write(lst, 1)
        r.write(np.full((16, 16), 255, "float32"), 2)
        r.colorinterp = [ColorInterp.gray, ColorInterp.alpha]
    da = open_cog(path)
    np.testing.assert_array_equal(prepare_lst(da.isel(band=0)).values, lst)


def _stored(b, dtype, attrs):
    y = 4000000 - 1000 * (np.arange(b.shape[0]) + 0.5)
    x = 500000 + 1000 * (np.arange(b.shape[1]) + 0.5)
    return xr.DataArray(b.astype(dtype), dims=("y", "x"), coords={"y": y, "x": x},
                        attrs=attrs).rio.write_crs("EPSG:32633")


def test_positive_sentinel_at_the_cold_end_is_data():
    rng = np.random.default_rng(0)
    b = rng.integers(11000, 12500, (20, 20))
    b[3:5, 4:6] = 9999  # MODIS DN x 0.02: 199.98 K, 20 K below a polar scene
    out = decode_lst(_stored(b, "uint16", {"scale_factor": 0.02, "units": "K"}))
    assert float(out.min()) == pytest.approx(199.98) and not out.isnull().any()
    # the negative one below the data stays a fill (int16 degC x 100's -9999)
    b = rng.integers(-2000, 1000, (20, 20))
    b[3, 4] = -9999
    with pytest.raises(UndeclaredFillError, match="-9999"):
        decode_lst(_stored(b, "int16", {"scale_factor": 0.01, "units": "degC"}))


def test_cli_guide_name_refusal_gives_the_flag(tmp_path):
    y = 4000000 - 1000 * (np.arange(8) + 0.5)
    x = 500000 + 1000 * (np.arange(8) + 0.5)
    lst = xr.DataArray(290 + np.random.default_rng(0).random((8, 8)), dims=("y", "x"),
                       coords={"y": y, "x": x}, attrs={"units": "K"}).rio.write_crs("EPSG:32633")
    lst.to_dataset(name="LST").to_netcdf(tmp_path / "lst.nc")
    yg = 4000000 - 250 * (np.arange(32) + 0.5)
    xg = 500000 + 250 * (np.arange(32) + 0.5)
    g = xr.DataArray(np.random.default_rng(1).random((32, 32)), dims=("y", "x"),
                     coords={"y": yg, "x": xg}).rio.write_crs("EPSG:32633")
    xr.Dataset({"NDVI": g, "LST_fine": g * 10 + 290}).to_netcdf(tmp_path / "guide.nc")
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        r = subprocess.run([sys.executable, "-m", "xlstsr", "upscale", str(tmp_path / "lst.nc"),
                            str(tmp_path / "out.nc"), "--guide", str(tmp_path / "guide.nc"),
                            "--guide-variable", "NDVl", "--factor", "4"],
                           capture_output=True, text=True)
    assert r.returncode == 2
    assert "--guide-variable NDVI" in r.stderr and "ds.lstsr" not in r.stderr

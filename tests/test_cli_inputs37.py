"""Probe 37 (findings 2, 5, 6, 7): bad input files through the command line.

Found: the ``--crs`` example of a file without a CRS followed the dims' names, not the
coordinates (x/y dims holding degrees got a UTM example, lat/lon dims holding metres
EPSG:4326); ``xlstsr scaling --guide`` took an NDVI x 10000 guide that upscale refuses
(guide_slope 10000 times too small); a ``--reference-mask`` in another CRS than the reference
was applied pixel by pixel, and one of other dates on the reference's grid was told its
coordinates differ (gdalwarp advice).
"""

from __future__ import annotations

import numpy as np
import pytest
import xarray as xr
from helpers import run_cli

from xlstsr.errors import GuideScaleError

T2 = np.array(["2020-01-01", "2020-01-02"], "datetime64[ns]")


def _grid(n, res, x0=1e6, y0=5.5e6):
    return x0 + res * (np.arange(n) + 0.5), y0 - res * (np.arange(n) + 0.5)


def _field(values, x, y, dims=("time", "y", "x"), times=T2):
    return xr.DataArray(values, dims=dims, coords={dims[0]: times[: values.shape[0]],
                                                   dims[1]: y, dims[2]: x})


# -- 2. the --crs example of a file without a CRS: from its coordinates -------------------------

def test_xy_dims_in_degrees_without_crs_are_advised_epsg4326(tmp_path, capsys):
    x, y = _grid(16, 0.01, 10.0, 45.0)
    rng = np.random.default_rng(0)
    p = tmp_path / "lst_deg.nc"
    _field(300 + rng.normal(0, 2, (1, 16, 16)), x, y).to_dataset(name="LST").to_netcdf(p)
    rc, err = run_cli(capsys, "upscale", p, tmp_path / "o.nc", "--factor", "2")
    assert rc == 2 and "no CRS" in err, err
    assert "On the command line: `--crs EPSG:4326`" in err, err
    assert "--crs EPSG:32631" not in err, err


def test_latlon_dims_in_metres_without_crs_are_not_advised_epsg4326(tmp_path, capsys):
    x, y = _grid(16, 1000.0)
    rng = np.random.default_rng(0)
    p = tmp_path / "lst_m.nc"
    _field(300 + rng.normal(0, 2, (1, 16, 16)), x, y, ("time", "lat", "lon")
           ).to_dataset(name="LST").to_netcdf(p)
    rc, err = run_cli(capsys, "upscale", p, tmp_path / "o.nc", "--factor", "2")
    assert rc == 2 and "no CRS" in err, err
    cli = err[err.index("On the command line"):]
    assert "EPSG:4326" not in cli and "--crs EPSG:32631" in cli and "+proj=sinu" in cli, err


def test_crs_hint_follows_the_coordinates_not_the_dims_names():
    from xlstsr.cli import _crs_hint

    # the library's reading of lat/lon dims (degrees) against coordinates in metres
    said = ("the LST has lat/lon dims ('lat', 'lon') but no CRS; for degrees on WGS 84: "
            "`da = da.rio.write_crs('EPSG:4326')`.")
    metres = (False, "x 1.0005e+06 to 1.0155e+06, y 5.4845e+06 to 5.4995e+06")
    text = _crs_hint(said, {"LST": metres})
    cli = text[len(said):]
    assert "EPSG:4326" not in cli and "--crs EPSG:32631" in cli and "1.0005e+06" in cli, text
    # a guide whose x/y coordinates are degrees: its own flag, EPSG:4326
    said = "the guide has no CRS. Set it with rioxarray, e.g. `da = da.rio.write_crs('EPSG:32631')`."
    text = _crs_hint(said, {"guide": (True, "x 10 to 10.2, y 44.8 to 45")})
    assert text.endswith("`--guide-crs EPSG:4326`: its coordinates (x 10 to 10.2, y 44.8 to 45) "
                         "are lon/lat degrees."), text
    # coordinates not known: the message's own reading, as before
    assert "`--guide-crs EPSG:32631`" in _crs_hint(said)


# -- 5. scaling --guide: the NDVI range check upscale runs -------------------------------------

def _lst_and_ndvi(tmp_path):
    rng = np.random.default_rng(0)
    x, y = _grid(32, 1000.0)
    ndvi = 0.3 + 0.4 * rng.random((1, 32, 32))
    lst = _field(310 - 20 * ndvi + rng.normal(0, 1, (1, 32, 32)), x, y)
    L = tmp_path / "lst.nc"
    lst.rio.write_crs("EPSG:32633").to_dataset(name="LST").to_netcdf(L)
    return L, lst.rio.write_crs("EPSG:32633"), _field(ndvi, x, y).rio.write_crs("EPSG:32633")


def test_scaling_refuses_an_ndvi_x10000_guide_as_upscale_does(tmp_path, capsys):
    L, _, ndvi = _lst_and_ndvi(tmp_path)
    G = tmp_path / "ndvi_x10000.nc"
    (ndvi * 10000).astype("int16").to_dataset(name="NDVI").to_netcdf(G)
    rc, err = run_cli(capsys, "scaling", L, tmp_path / "s.nc", "--guide", G)
    assert rc == 2 and "declared as NDVI" in err, err
    assert "--guide-scale 0.0001" in err, err
    # following the advice, the NDVI's slope (about -20 K per NDVI unit)
    rc, err = run_cli(capsys, "scaling", L, tmp_path / "s.nc", "--guide", G,
                      "--guide-scale", "0.0001")
    assert rc == 0, err
    slope = float(xr.open_dataset(tmp_path / "s.nc")["guide_slope"].mean())
    assert -25 < slope < -15


def test_scaling_stats_refuses_an_ndvi_x10000_guide_in_memory(tmp_path):
    import xlstsr

    _, lst, ndvi = _lst_and_ndvi(tmp_path)
    with pytest.raises(GuideScaleError, match="declared as NDVI"):
        xlstsr.scaling_stats(lst, (ndvi * 10000).astype("int16").rename("NDVI"))
    # a guide not declared as NDVI (another band) is not held to [-1, 1], as in upscale
    stats = xlstsr.scaling_stats(lst, (ndvi * 10000).rename("band")).compute()
    assert np.isfinite(stats["guide_slope"].values).all()


# -- 6, 7. --reference-mask: its CRS, then its dates, then its grid ----------------------------

@pytest.fixture
def eval_files(tmp_path):
    rng = np.random.default_rng(0)
    x, y = _grid(32, 500.0)
    sr = _field(300 + rng.normal(0, 2, (2, 32, 32)), x, y)
    ref = sr + rng.normal(0, 1, sr.shape)
    S, R = tmp_path / "sr.nc", tmp_path / "ref.nc"
    sr.rio.write_crs("EPSG:32633").to_dataset(name="LST").to_netcdf(S)
    ref.rio.write_crs("EPSG:32633").to_dataset(name="LST").to_netcdf(R)
    mask = xr.zeros_like(sr, dtype="uint8")
    mask[:, :16, :] = 1
    return S, R, mask


def test_reference_mask_in_another_crs_is_refused(tmp_path, capsys, eval_files):
    S, R, mask = eval_files
    M = tmp_path / "mask_utm32.nc"
    mask.rio.write_crs("EPSG:32632").to_dataset(name="cloud").to_netcdf(M)
    rc, err = run_cli(capsys, "evaluate", S, R, tmp_path / "m.csv", "--reference-mask", M)
    assert rc == 2 and "another CRS ('WGS 84 / UTM zone 32N')" in err, err
    assert "UTM zone 33N" in err and "gdalwarp -t_srs EPSG:32633" in err, err
    # the same mask in the reference's CRS is applied
    M2 = tmp_path / "mask_utm33.nc"
    mask.rio.write_crs("EPSG:32633").to_dataset(name="cloud").to_netcdf(M2)
    rc, err = run_cli(capsys, "evaluate", S, R, tmp_path / "m2.csv", "--reference-mask", M2)
    assert rc == 0, err


def test_reference_mask_of_other_dates_names_them_not_the_grid(tmp_path, capsys, eval_files):
    S, R, mask = eval_files
    M = tmp_path / "mask_2021.nc"
    mask.assign_coords(time=np.array(["2021-01-01", "2021-01-02"], "datetime64[ns]")
                       ).rio.write_crs("EPSG:32633").to_dataset(name="cloud").to_netcdf(M)
    rc, err = run_cli(capsys, "evaluate", S, R, tmp_path / "m.csv", "--reference-mask", M)
    assert rc == 2 and "'time' labels differ" in err and "2021-01-01" in err, err
    assert "gdalwarp" not in err and "not on the reference's grid" not in err, err
    assert "`mask" not in err, err  # the library's Python fixes left out


def test_reference_mask_on_another_grid_keeps_the_grid_message(tmp_path, capsys, eval_files):
    S, R, mask = eval_files
    M = tmp_path / "mask_shifted.nc"
    mask.assign_coords(x=mask.x + 250.0).rio.write_crs("EPSG:32633").to_dataset(
        name="cloud").to_netcdf(M)
    rc, err = run_cli(capsys, "evaluate", S, R, tmp_path / "m.csv", "--reference-mask", M)
    assert rc == 2 and "not on the reference's grid" in err and "gdalwarp" in err, err

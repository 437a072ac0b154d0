"""Bad input files of probe 37 (openers, validation):

- a NetCDF whose scale_factor is text ("0.02") opened as strings ('<U1'), refused as "holds <U1
  values", and raised numpy's UFuncTypeError from open_path;
- a file without a CRS was advised from its dims' names only: lat/lon dims holding metres got
  EPSG:4326 (refused when followed), x/y dims holding degrees a UTM example only;
- a uint8 guide's undeclared fill 255 was used as data (255 is 2 inter-quartile ranges above
  NDVI x 250), though the guide-fill check names 255 as a fill it catches;
- the variable picker took LST_err (the only name holding "lst") as the LST beside
  surface_temp.
"""
from __future__ import annotations

import contextlib
import io

import numpy as np
import pytest
import rioxarray  # noqa: F401
import xarray as xr

import xlstsr
from xlstsr import cli, errors
from xlstsr.io import open_path
from xlstsr.validate import require_latlon_crs, select_variable, suspect_guide_fill

_T = np.array(["2020-01-01"], "datetime64[ns]")
_X = 1e6 + 1000 * (np.arange(16) + 0.5)
_Y = 5.5e6 - 1000 * (np.arange(16) + 0.5)


def _cli(*args: str) -> tuple[int, str]:
    err = io.StringIO()
    with contextlib.redirect_stderr(err), contextlib.redirect_stdout(io.StringIO()):
        rc = cli.main(list(args))
    return rc, err.getvalue()


def _dn_file(path, **attrs):
    dn = xr.DataArray(np.full((1, 16, 16), 15000, "uint16"), dims=("time", "y", "x"),
                      coords={"time": _T, "y": _Y, "x": _X})
    if "missing_value" in attrs:
        dn[0, 0, 0] = 0
    dn.attrs.update(attrs)
    dn.rio.write_crs("EPSG:32633").to_dataset(name="LST").to_netcdf(path)
    return path


# -- 1: text scale/fill attributes ------------------------------------------------------------

def test_text_scale_factor_and_fill_are_decoded_as_numbers(tmp_path):
    p = _dn_file(tmp_path / "lst_dn.nc", scale_factor="0.02", missing_value=" 0 ")
    lst = open_path(p)["LST"]
    assert lst.dtype.kind == "f"  # was '<U1'
    v = lst.values
    assert np.isnan(v[0, 0, 0]) and np.allclose(v[0, 1:], 300.0)
    assert lst.rio.crs.to_epsg() == 32633  # decode_coords='all' kept


def test_text_scale_factor_file_upscales_on_the_command_line(tmp_path):
    p = _dn_file(tmp_path / "lst_dn.nc", scale_factor="0.02")
    out = tmp_path / "out.nc"
    rc, err = _cli("upscale", str(p), str(out), "--factor", "2", "--quiet")
    assert rc == 0, err
    assert "<U1" not in err


def test_text_scale_factor_that_is_no_number_is_named(tmp_path):
    p = _dn_file(tmp_path / "lst_dn.nc", scale_factor="0,02")
    with pytest.raises(errors.XlstsrError, match=r"scale_factor='0,02' of the variable 'LST'"
                       r".*ncatted"):
        open_path(p)


# -- 2: the no-CRS advice follows the coordinates' values ---------------------------------------

def _field(dims, ys, xs):
    return xr.DataArray(300 + np.random.default_rng(0).normal(0, 2, (1, 16, 16)),
                        dims=("time", *dims), coords={"time": _T, dims[0]: ys, dims[1]: xs},
                        attrs={"units": "K"})


def test_latlon_dims_holding_metres_are_advised_a_projected_crs():
    da = _field(("lat", "lon"), _Y, _X)
    with pytest.raises(errors.MissingCRSError, match=r"beyond the ranges of degrees") as info:
        require_latlon_crs(da, "LST")
    assert "4326" not in str(info.value) and "EPSG:32631" in str(info.value)


def test_latlon_dims_holding_metres_cli_advice_is_not_epsg4326(tmp_path):
    p = tmp_path / "lst.nc"
    _field(("lat", "lon"), _Y, _X).to_dataset(name="LST").to_netcdf(p)
    rc, err = _cli("upscale", str(p), str(tmp_path / "o.nc"), "--factor", "2")
    assert rc != 0 and "no CRS" in err
    assert "EPSG:4326" not in err  # followed, it was refused as "not degrees"


def test_xy_dims_holding_degrees_are_advised_epsg4326(tmp_path):
    xs = 10.0 + 0.01 * (np.arange(16) + 0.5)
    ys = 45.0 - 0.01 * (np.arange(16) + 0.5)
    with pytest.raises(errors.MissingCRSError, match=r"within the ranges of degrees.*"
                       r"write_crs\('EPSG:4326'\)"):
        xlstsr.upscale(_field(("y", "x"), ys, xs), 2)
    p = tmp_path / "lst_deg.nc"
    _field(("y", "x"), ys, xs).to_dataset(name="LST").to_netcdf(p)
    rc, err = _cli("upscale", str(p), str(tmp_path / "o.nc"), "--factor", "2")
    assert rc != 0 and "--crs EPSG:4326" in err


def test_latlon_dims_holding_degrees_still_advised_epsg4326():
    da = _field(("lat", "lon"), 45.0 - 0.01 * np.arange(16), 10.0 + 0.01 * np.arange(16))
    with pytest.raises(errors.MissingCRSError, match=r"write_crs\('EPSG:4326'\)"):
        require_latlon_crs(da, "LST")


# -- 3: a uint8 guide's fill 255 --------------------------------------------------------------

def _ndvi_u8(seed=0):
    rng = np.random.default_rng(seed)
    return np.floor((0.3 + 0.4 * rng.random((32, 32))) * 250)


def test_uint8_guide_fill_255_is_suspected():
    u8 = _ndvi_u8()
    u8[:10, :10] = 255  # 9.8 %, 2 inter-quartile ranges above the quartiles
    found = suspect_guide_fill(u8)
    assert found is not None and found[0] == 255.0


def test_uint8_band_saturating_at_255_is_data():
    rng = np.random.default_rng(1)
    sat = np.clip(rng.normal(200, 40, (100, 100)), 0, 255).round()  # runs on up to 255
    assert (sat == 255).mean() > 0.05
    assert suspect_guide_fill(sat) is None


def test_int32_extremes_apart_from_the_data_are_suspected():
    """Fills only the integer-type rule catches (not FILL_SENTINELS; within FILL_FAR_IQR of a
    wide band: review 37c)."""
    rng = np.random.default_rng(2)
    i32 = rng.normal(0, 3e8, (100, 100)).round()
    i32[0, :20] = 2147483647  # 0.2 %: below the share a fill of any value needs
    assert suspect_guide_fill(i32)[0] == 2147483647.0


def test_one_brightest_pixel_at_255_is_data():
    """A min-max stretched 8-bit band maps its brightest pixel to 255 (review 37c)."""
    rng = np.random.default_rng(3)
    u8 = np.clip(rng.normal(100, 15, (100, 100)), 0, 160).round()
    u8[0, 0], u8[0, 1] = 255, 0  # stretched: the darkest pixel 0, the brightest 255
    assert suspect_guide_fill(u8) is None


def test_a_few_255_in_an_ndvi_band_that_does_not_span_uint8_are_suspected():
    """12 scattered 255s in an NDVI x 250 band (review 37d: missed once 16 pixels were asked)."""
    rng = np.random.default_rng(4)
    u8 = np.floor(rng.uniform(0.3, 0.7, (100, 100)) * 250)
    u8.flat[rng.choice(u8.size, 12, replace=False)] = 255
    assert suspect_guide_fill(u8)[0] == 255.0


def test_text_variables_with_text_fills_still_open(tmp_path):
    """A char/string variable's fill is text (CF: its own type): the whole file was refused
    (review 37c)."""
    from xlstsr.io import open_path

    v = np.full((4, 4), 300.0)
    ds = xr.Dataset({"LST": (("y", "x"), v, {"units": "K"}),
                     "station": (("s",), np.array(["a", "b"], dtype=object))},
                    coords={"y": np.arange(4.0) * 1000, "x": np.arange(4.0) * 1000})
    ds["station"].encoding["_FillValue"] = "NA"
    ds.to_netcdf(tmp_path / "f.nc")
    assert float(open_path(tmp_path / "f.nc", variable="LST").max()) == 300.0


def test_a_raster_without_georeferencing_is_not_told_epsg4326(tmp_path):
    """Pixel indices (0.5, 1.5, ...) lie in the degree ranges: told --crs EPSG:4326, the run
    wrote 1-degree pixels at 0-32 E (review 37c)."""
    v = 300 + np.random.default_rng(0).normal(0, 2, (32, 32))
    xr.Dataset({"LST": (("y", "x"), v, {"units": "K"})},
               coords={"y": np.arange(32.0) + 0.5, "x": np.arange(32.0) + 0.5}
               ).to_netcdf(tmp_path / "pix.nc")
    rc, err = _cli("upscale", str(tmp_path / "pix.nc"), str(tmp_path / "o.nc"), "--method",
                   "bicubic")
    assert rc != 0 and "no CRS" in err and "EPSG:4326`: its coordinates" not in err


def test_tsharp_refuses_uint8_guide_with_undeclared_255():
    rng = np.random.default_rng(0)
    lst = xr.DataArray(300 + rng.normal(0, 2, (1, 16, 16)), dims=("time", "y", "x"),
                       coords={"time": _T, "y": _Y, "x": _X}, attrs={"units": "K"}
                       ).rio.write_crs("EPSG:32633")
    u8 = _ndvi_u8().astype("uint8")
    u8[:10, :10] = 255
    guide = xr.DataArray(u8, dims=("y", "x"),
                         coords={"y": 5.5e6 - 500 * (np.arange(32) + 0.5),
                                 "x": 1e6 + 500 * (np.arange(32) + 0.5)}
                         ).rio.write_crs("EPSG:32633")
    with pytest.raises(errors.UndeclaredFillError, match=r"holds 255"):
        xlstsr.upscale(lst, 2, method="tsharp", guide=guide)


# -- 4: an uncertainty layer is not taken as the LST ------------------------------------------

def _scene(**names):
    rng = np.random.default_rng(0)
    co = {"time": _T, "y": _Y, "x": _X}
    return xr.Dataset({n: xr.DataArray(f(rng), dims=("time", "y", "x"), coords=co,
                                       attrs={"units": "K"}) for n, f in names.items()})


def test_lst_err_is_not_picked_beside_surface_temp():
    ds = _scene(surface_temp=lambda r: 300 + r.normal(0, 2, (1, 16, 16)),
                LST_err=lambda r: r.uniform(0.3, 1.5, (1, 16, 16)))
    with pytest.raises(errors.VariableNotFoundError,
                       match=r"cannot tell which.*variable='surface_temp'"):
        select_variable(ds, None)


def test_lst_err_listed_first_is_not_the_example():
    ds = _scene(LST_uncertainty=lambda r: r.uniform(0.3, 1.5, (1, 16, 16)),
                surface_temp=lambda r: 300 + r.normal(0, 2, (1, 16, 16)))
    with pytest.raises(errors.VariableNotFoundError, match=r"variable='surface_temp'"):
        select_variable(ds, None, operation="upscale")


def test_lst_beside_its_error_and_qc_is_picked():
    ds = _scene(LST=lambda r: 300 + r.normal(0, 2, (1, 16, 16)),
                LST_err=lambda r: r.uniform(0.3, 1.5, (1, 16, 16)),
                QC_LST=lambda r: r.integers(0, 4, (1, 16, 16)))
    assert select_variable(ds, None).name == "LST"


def test_cli_asks_for_variable_for_surface_temp_and_lst_err(tmp_path):
    p = tmp_path / "scene.nc"
    _scene(surface_temp=lambda r: 300 + r.normal(0, 2, (1, 16, 16)),
           LST_err=lambda r: r.uniform(0.3, 1.5, (1, 16, 16))
           ).rio.write_crs("EPSG:32633").to_netcdf(p)
    rc, err = _cli("upscale", str(p), str(tmp_path / "o.nc"), "--factor", "2")
    assert rc != 0 and "--variable surface_temp" in err
    assert "degC" not in err

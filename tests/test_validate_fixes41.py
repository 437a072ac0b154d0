"""Fixes of probe 41 in validate: a product's fill as stored (-9999) on a few pixels decoded
within the range, a zero scale_factor the reader applied, a GCP-only GeoTIFF, projected x/y in
km under a metre CRS, and packed units ('K*100', 'degF') with the command line's flags."""
from __future__ import annotations

import numpy as np
import pytest
import rasterio
import xarray as xr
from helpers import make_lst, paste_da_advice, run_cli
from rasterio.control import GroundControlPoint
from rasterio.transform import from_origin

from xlstsr import errors
from xlstsr.validate import _units_kind, decode_lst, georeference

#: test files written as int16 without a _FillValue: xarray says so
pytestmark = pytest.mark.filterwarnings("ignore:saving variable LST with floating point data")


def _scene(shape=(2, 16, 16), seed=0):
    return 300 + np.random.default_rng(seed).normal(0, 2, shape)


def _int16_celsius_tif(path, fill_pixels=2):
    """int16 degC x 100 with scale/offset tags to Kelvin, -9999 on a corner, no nodata."""
    raw = ((_scene() - 273.15) * 100).round().astype("int16")
    raw[:, :fill_pixels, :fill_pixels] = -9999
    with rasterio.open(path, "w", driver="GTiff", width=16, height=16, count=2, dtype="int16",
                       crs="EPSG:32633", transform=from_origin(1e6, 5.5e6, 1000, 1000)) as f:
        f.write(raw)
        f.scales = (0.01, 0.01)
        f.offsets = (273.15, 273.15)
    return path


# -- 02: -9999 as stored on a few pixels, 173.16 K decoded ---------------------------------------

def test_stored_fill_on_few_pixels_is_named_and_nodata_fixes_it(tmp_path, capsys):
    # before: 4 pixels of -9999 decoded to 173.16 K (within 150-400 K) were upscaled as data
    src = _int16_celsius_tif(tmp_path / "lst.tif")
    code, err = run_cli(capsys, "upscale", src, tmp_path / "a.nc", "--factor", "2", "--quiet")
    assert code == 2 and "-9999" in err and "undeclared" in err, err
    assert "`--nodata -9999`" in err and "173.16 K decoded" in err, err
    code, err = run_cli(capsys, "upscale", src, tmp_path / "b.nc", "--factor", "2",
                        "--nodata", "-9999", "--quiet")
    assert code == 0, err
    with xr.open_dataset(tmp_path / "b.nc") as out:
        field = next(v for v in out.data_vars.values() if v.ndim >= 2)
        assert float(field.min()) > 280 and int(field.isnull().sum()) > 0


def _packed(stored):
    raw = ((_scene() - 273.15) * 100).round().astype("int16")
    raw[:, :2, :2] = stored
    return make_lst(raw, scale_factor=0.01, add_offset=273.15)


def test_stored_fill_decoded_by_the_reader_named_as_in_file(tmp_path):
    # a NetCDF read with mask_and_scale: the scale in the encoding, -9999 the file's value
    _packed(-9999).to_dataset(name="LST").to_netcdf(tmp_path / "lst.nc")
    with xr.open_dataset(tmp_path / "lst.nc") as f:
        lst = f.LST.load()
    assert "scale_factor" in lst.encoding and lst.dtype.kind == "f"
    with pytest.raises(errors.UndeclaredFillError, match=r"\(-9999 as stored, 173\.16 K"):
        decode_lst(lst)


def test_a_cold_pixel_that_is_no_sentinel_stays_data():
    # the same few cold pixels stored as -9998: no product's fill, data as before
    with pytest.raises(errors.UndeclaredFillError, match="-9999"):
        decode_lst(_packed(-9999))
    out = decode_lst(_packed(-9998))
    assert float(out.min()) == pytest.approx(173.17, abs=1e-3)


# -- 10: a zero scale_factor applied by the reader -----------------------------------------------

def test_zero_scale_factor_in_the_file_is_named_not_celsius(tmp_path, capsys):
    # before: every value decoded to 0.0, "look like degrees Celsius: --units degC", which wrote
    # a constant 273.15 K field
    raw = make_lst((_scene() / 0.01).round().astype("int16"), units="K", scale_factor=0.0)
    raw.to_dataset(name="LST").to_netcdf(tmp_path / "lst.nc")
    code, err = run_cli(capsys, "upscale", tmp_path / "lst.nc", tmp_path / "o.nc", "--factor",
                        "2", "--quiet")
    assert code == 2 and "scale_factor=0.0" in err and "degC" not in err, err
    assert "mask_and_scale=False" in err and "scale_factor,LST,o,d" in err, err
    with xr.open_dataset(tmp_path / "lst.nc", mask_and_scale=False) as f:  # the advice
        da = f.LST.load()
    da.attrs["scale_factor"] = 0.01
    assert float(decode_lst(da).mean()) == pytest.approx(300, abs=1)


# -- 04: GCP-only GeoTIFF ---------------------------------------------------------------------

def test_gcp_only_geotiff_names_gcps_and_gdalwarp(tmp_path, capsys):
    p = tmp_path / "gcps.tif"
    with rasterio.open(p, "w", driver="GTiff", width=16, height=16, count=1,
                       dtype="float32") as f:
        f.write(_scene((1, 16, 16)).astype("float32"))
        G = GroundControlPoint
        f.gcps = ([G(0, 0, 1e6, 5.5e6), G(0, 16, 1.016e6, 5.5e6), G(16, 0, 1e6, 5.484e6),
                   G(16, 16, 1.016e6, 5.484e6)], rasterio.crs.CRS.from_epsg(32633))
    code, err = run_cli(capsys, "upscale", p, tmp_path / "o.nc", "--factor", "2", "--quiet")
    assert code == 2 and "4 ground control points" in err, err
    assert "`gdalwarp -t_srs EPSG:32633 in.tif out.tif`" in err and "pixel indices" not in err


# -- 06: x/y in km under a metre CRS ------------------------------------------------------------

def _km_field():
    da = make_lst(_scene((16, 16)), units="K", crs="EPSG:32633")
    return da.assign_coords(x=(da.x / 1000).assign_attrs(units="km"),
                            y=(da.y / 1000).assign_attrs(units="km"))


def test_km_coordinates_under_a_metre_crs_are_refused_with_a_fix_that_runs():
    # before: written as metres, 1 m pixels 1000x too close to the origin, exit 0
    with pytest.raises(errors.GridError, match=r"in 'km' .* CRS .* is in metres") as e:
        georeference(_km_field(), "LST")
    fixed = georeference(paste_da_advice(str(e.value), _km_field()), "LST")
    assert fixed.rio.resolution() == (1000.0, -1000.0)


def test_km_netcdf_refused_on_the_command_line(tmp_path, capsys):
    _km_field().to_dataset(name="LST").to_netcdf(tmp_path / "km.nc")
    code, err = run_cli(capsys, "upscale", tmp_path / "km.nc", tmp_path / "o.tif", "--factor",
                        "2", "--quiet")
    assert code == 2 and "'km'" in err and "assign_coords" in err, err


@pytest.mark.parametrize("crs, units", [("EPSG:32633", "metre"), ("EPSG:32633", "m"),
                                        ("EPSG:2263", "0.3048006096012192 metre")])
def test_coordinate_units_of_the_crs_pass(crs, units):
    # rioxarray labels a feet CRS's coordinates '0.3048006096012192 metre'
    da = make_lst(_scene((8, 8)), units="K", crs=crs)
    da = da.assign_coords(x=da.x.assign_attrs(units=units), y=da.y.assign_attrs(units=units))
    georeference(da, "LST")


# -- 07: packed units ---------------------------------------------------------------------------

@pytest.mark.parametrize("units, flags", [
    ("K*100", "`--units K --scale 0.01`"),
    ("0.01 K", "`--units K --scale 0.01`"),
    ("centi-K", "`--units K --scale 0.01`"),
    ("degC x 10", "`--units degC --scale 0.1`"),
    ("degF", "`--units degC --scale 0.5555556 --offset -17.77778`"),
])
def test_packed_units_name_the_flags(units, flags):
    with pytest.raises(errors.UnitsError, match="unknown LST units") as e:
        _units_kind(units, "LST")
    assert flags in str(e.value)
    with pytest.raises(errors.UnitsError) as e:  # another input: no flags of the LST
        _units_kind(units, "reference")
    assert "--units" not in str(e.value) and "da.attrs.update(" in str(e.value)


def test_unknown_units_get_no_guessed_flags():
    with pytest.raises(errors.UnitsError) as e:
        _units_kind("furlongs", "LST")
    assert "--units" not in str(e.value) and "update(" not in str(e.value)


def test_degf_flags_give_kelvin(tmp_path, capsys):
    k = _scene((16, 16))
    make_lst(((k - 273.15) * 9 / 5 + 32).astype("float32"),
             units="degF").rio.to_raster(tmp_path / "f.tif")
    code, err = run_cli(capsys, "upscale", tmp_path / "f.tif", tmp_path / "a.nc", "--factor", "2",
                        "--quiet")
    assert code == 2 and "--units K" not in err and "--offset -17.77778" in err, err
    code, err = run_cli(capsys, "upscale", tmp_path / "f.tif", tmp_path / "b.nc", "--units",
                        "degC", "--scale", "0.5555556", "--offset", "-17.77778", "--factor", "2",
                        "--quiet")
    assert code == 0, err
    with xr.open_dataset(tmp_path / "b.nc") as out:
        field = next(v for v in out.data_vars.values() if v.ndim >= 2)
        assert float(field.mean()) == pytest.approx(k.mean(), abs=0.05)


def test_scaling_stats_refuses_km_coordinates_under_a_metre_crs():
    # before: grid_unit took the CRS's metres alone, so every scale was 1000x too small
    import xlstsr

    da = make_lst(_scene((2, 32, 32)), units="K", crs="EPSG:32633")
    km = da.assign_coords(x=(da.x / 1000).assign_attrs(units="km"),
                          y=(da.y / 1000).assign_attrs(units="km"))
    with pytest.raises(errors.GridError, match=r"'km'.*assign_coords"):
        xlstsr.scaling_stats(km)
    assert xlstsr.scaling_stats(paste_da_advice(
        "`da = da.assign_coords(x=(da.x * 1000).assign_attrs(units='m'), "
        "y=(da.y * 1000).assign_attrs(units='m'))`", km)) is not None

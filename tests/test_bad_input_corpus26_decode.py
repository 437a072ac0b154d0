"""Round 26 (decoding): CF valid_min / valid_max, `_Unsigned` integers, valid ranges left in
packed units on decoded values, GDAL's text valid_range, continuous tails taken for fill values,
the scale named for integers without metadata, Fahrenheit labelled Kelvin."""

from __future__ import annotations

import re
import warnings

import numpy as np
import pytest
import rasterio
import rioxarray
import xarray as xr
from helpers import make_lst, run_cli
from rasterio.transform import from_origin

import xlstsr
from xlstsr import errors
from xlstsr.validate import decode_lst


def _kelvin(n: int = 32, mean: float = 290.0, seed: int = 0) -> np.ndarray:
    return mean + 3 * np.random.default_rng(seed).standard_normal((n, n))


# -- 1. valid_min / valid_max ----------------------------------------------------------------

def test_valid_min_and_valid_max_mask_like_valid_range():
    """-90 degC junk (stored -9000, below valid_min -7000) came out as 183 K: valid_min /
    valid_max were dropped without being applied; valid_range masked it."""
    dn = np.round((_kelvin() - 273.15) / 0.01).astype("int16")
    dn.flat[:10] = -9000
    common = {"units": "degC", "scale_factor": 0.01, "_FillValue": np.int16(-32768)}
    as_range = decode_lst(make_lst(dn, **common, valid_range=np.array([-7000, 7000], "int16")))
    as_minmax = decode_lst(make_lst(dn, **common, valid_min=np.int16(-7000),
                                    valid_max=np.int16(7000)))
    assert int(as_minmax.isnull().sum()) == int(as_range.isnull().sum()) == 10
    np.testing.assert_array_equal(as_minmax.values, as_range.values)
    assert "valid_min" not in as_minmax.attrs and "valid_max" not in as_minmax.attrs
    only_max = decode_lst(make_lst(np.where(dn == -9000, 9000, dn).astype("int16"), **common,
                                   valid_max=np.int16(7000)))  # one bound alone applies too
    assert int(only_max.isnull().sum()) == 10


# -- 2. _Unsigned ------------------------------------------------------------------------------

def test_unsigned_int16_is_read_as_uint16(tmp_path):
    """NetCDF-3 stores uint16 as int16 with `_Unsigned = "true"`: read undecoded, Landsat C2 ST
    digital numbers above 32767 went negative, were called degrees Celsius, and the suggested
    `units = 'degC'` gave 334 K for a 285 K field."""
    kelvin = _kelvin(mean=285.0)
    dn = np.round((kelvin - 149.0) / 0.00341802).astype("uint16")
    dn[:2, :2] = 0
    ds = xr.Dataset({"ST": (("y", "x"), dn.view("int16"),
                            {"units": "K", "_Unsigned": "true", "scale_factor": 0.00341802,
                             "add_offset": 149.0})},
                    coords={"y": 5e6 - 15 - 30 * np.arange(32), "x": 15 + 30 * np.arange(32)})
    ds["ST"].encoding = {"_FillValue": np.int16(0)}
    path = tmp_path / "st.nc"
    ds.rio.write_crs("EPSG:32631").to_netcdf(path, engine="scipy")  # NetCDF-3: no uint16
    raw = xr.open_dataset(path, decode_coords="all", mask_and_scale=False)["ST"]
    assert raw.dtype == np.int16 and int(raw.min()) < 0  # as stored
    decoded = xr.open_dataset(path, decode_coords="all")["ST"]
    out = decode_lst(raw)
    assert np.isnan(out.values[:2, :2]).all() and "_Unsigned" not in out.attrs
    np.testing.assert_allclose(out.values, decoded.values, atol=1e-3, equal_nan=True)
    # an unsigned fill written in the signed dtype (-1 is 65535) is matched too
    filled = np.where(dn == 0, 65535, dn).astype("uint16")
    minus_one = make_lst(filled.view("int16"), units="K", _Unsigned="true",
                         scale_factor=0.00341802, add_offset=149.0, _FillValue=np.int16(-1))
    got = decode_lst(minus_one).values
    assert np.isnan(got[:2, :2]).all() and np.nanmin(got) > 250


# -- 3. a CF valid_range in packed units on decoded values -------------------------------------

def _cf_packed(tmp_path, n: int = 32, res: float = 1000.0, name: str = "MOD11A1.nc"):
    k = _kelvin(n, mean=305.0)[None].astype("float32")
    k[0, :4, :4] = np.nan  # cloud: the fill 0
    k[0, 4, 4] = 140.0     # below valid_range's 7500 x 0.02 = 150 K: masked by CF
    ds = xr.DataArray(k, dims=("time", "y", "x"), coords={
        "time": np.array(["2020-07-01"], "datetime64[ns]"),
        "y": 5e5 - (np.arange(n) + .5) * res, "x": 4e5 + (np.arange(n) + .5) * res,
    }).rio.write_crs("EPSG:32631").to_dataset(name="LST_Day_1km")
    ds["LST_Day_1km"].attrs.update(units="K", valid_range=np.array([7500, 65535], "uint16"))
    path = tmp_path / name
    ds.to_netcdf(path, encoding={"LST_Day_1km": {"dtype": "uint16", "scale_factor": 0.02,
                                                 "add_offset": 0.0, "_FillValue": 0,
                                                 "grid_mapping": "spatial_ref"}})
    return path


def test_a_packed_valid_range_on_decoded_values_is_converted(tmp_path, capsys):
    """xarray's default decoding moves scale_factor to .encoding and leaves valid_range (packed
    units, as CF says) in .attrs: refused as 'above 400 K and no scale_factor', by upscale, the
    CLI (where --scale 0.02 is refused as declared already) and evaluate."""
    path = _cf_packed(tmp_path)
    opened = xr.open_dataset(path, decode_coords="all")
    lst = opened["LST_Day_1km"]
    assert lst.encoding["scale_factor"] == 0.02 and "valid_range" in lst.attrs
    out = decode_lst(lst)
    undecoded = decode_lst(xr.open_dataset(path, decode_coords="all",
                                           mask_and_scale=False)["LST_Day_1km"])
    np.testing.assert_allclose(out.values, undecoded.values, atol=1e-3, equal_nan=True)
    assert np.isnan(out.values[0, 4, 4]) and np.isfinite(out.values[0, 5:, 5:]).all()
    sr = xlstsr.upscale(opened, 4, "bicubic", variable="LST_Day_1km")
    assert float(sr.mean()) == pytest.approx(float(np.nanmean(out.values)), abs=0.1)
    code, err = run_cli(capsys, "upscale", path, tmp_path / "a.tif", "--quiet", "--method",
                        "bicubic")
    assert code == 0, err
    fine = _cf_packed(tmp_path, 128, 250.0, "fine.nc")  # a reference from such a file
    ref = xr.open_dataset(fine, decode_coords="all")["LST_Day_1km"]
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        assert np.isfinite(xlstsr.evaluate(sr, ref)["rmse"].values).all()
    # a bound in Kelvin set after decoding (it meets 150-400 K, its packed reading does not)
    kelvin_range = lst.assign_attrs(valid_range=[200.0, 350.0])
    assert np.isnan(decode_lst(kelvin_range).values[0, 4, 4])
    # a stale range with no scale anywhere is still refused (the encoding is gone)
    stale = (lst + 0).assign_attrs(lst.attrs)
    assert not stale.encoding
    with pytest.raises(errors.UnitsError, match=r"above 400 K.*encoding.*attrs\.pop"):
        decode_lst(stale)


def test_a_packed_valid_range_tag_with_rioxarray_mask_and_scale(tmp_path):
    """A GeoTIFF with band scale 0.02 and a valid_range tag, opened with mask_and_scale=True
    (the scale moved to .encoding), was refused the same way."""
    dn = np.round(_kelvin(mean=305.0) / 0.02).astype("uint16")
    dn[:4, :4] = 0
    path = tmp_path / "lst.tif"
    with rasterio.open(path, "w", driver="GTiff", width=32, height=32, count=1, dtype="uint16",
                       crs="EPSG:32631", nodata=0,
                       transform=from_origin(4e5, 5e5, 1000, 1000)) as dst:
        dst.write(dn, 1)
        dst.update_tags(1, valid_range="{7500,65535}", units="K")
        dst.scales, dst.offsets = (0.02,), (0.0,)
    tif = rioxarray.open_rasterio(path, mask_and_scale=True)
    out = decode_lst(tif)
    np.testing.assert_allclose(out.values[0], np.where(dn > 0, dn * 0.02, np.nan), atol=1e-3)


# -- 4. valid_range as GDAL's text -------------------------------------------------------------

@pytest.mark.parametrize("text", ["7500, 65535", "[7500, 65535]", "7500 65535", "{7500,65535}"])
def test_a_text_valid_range_is_read_as_numbers(text):
    """gdal_translate of a MOD11A1 HDF granule writes valid_range="7500, 65535": refused as
    'not 2 numbers' everywhere, the CLI included."""
    dn = np.round(_kelvin() / 0.02).astype("uint16")
    dn[0, 0] = 0
    dn[0, 1] = 7000  # 140 K: below the range
    out = decode_lst(make_lst(dn, units="K", scale_factor=0.02, _FillValue=0, valid_range=text))
    assert np.isnan(out.values[0, :2]).all() and np.isfinite(out.values[1:]).all()
    with pytest.raises(errors.UnitsError, match="'valid_range' attribute 'abc, 1' is not 2 numbers"):
        decode_lst(make_lst(dn, units="K", scale_factor=0.02, valid_range="abc, 1"))


def test_cli_reads_a_gdal_translated_modis_geotiff(tmp_path, capsys):
    dn = np.round(_kelvin() / 0.02).astype("uint16")
    dn[:6, :6] = 0
    path = tmp_path / "MOD11A1.tif"
    with rasterio.open(path, "w", driver="GTiff", width=32, height=32, count=1, dtype="uint16",
                       crs="EPSG:32631", nodata=0,
                       transform=from_origin(4e5, 5e5, 1000, 1000)) as dst:
        dst.write(dn, 1)
        dst.scales, dst.offsets = (0.02,), (0.0,)
        dst.update_tags(1, units="K", valid_range="7500, 65535", _FillValue="0",
                        scale_factor="0.02", add_offset="0")
    code, err = run_cli(capsys, "upscale", path, tmp_path / "out.tif", "--quiet", "--method",
                        "nearest")
    assert code == 0, err
    out = rioxarray.open_rasterio(tmp_path / "out.tif", masked=True).squeeze()
    back = out.coarsen(y=4, x=4).mean().values
    np.testing.assert_allclose(back, np.where(dn > 0, dn * 0.02, np.nan), atol=1e-3)


# -- 5. a continuous tail past 400 is not a fill value -----------------------------------------

def _degc_x10(n: int = 64) -> xr.DataArray:
    rng = np.random.default_rng(0)
    yy, xx = np.mgrid[0:n, 0:n] / n
    degc = 36 + 6 * np.sin(4 * xx) * np.cos(3 * yy) + 1.5 * rng.standard_normal((n, n))
    return make_lst(np.round(degc * 10).astype("int16"))  # 282..465, no metadata


def test_a_continuous_tail_past_the_range_is_not_called_a_fill_value():
    """A degC x 10 scene (11 % of pixels over ~50 values past 400) was refused as 'an
    undeclared fill value' 407, then 406, 404... for ~40 rounds."""
    da = _degc_x10()
    with pytest.raises(errors.PhysicalRangeError) as err:
        xlstsr.upscale(da, 4)
    msg = str(err.value)
    assert "undeclared fill" not in msg and "_FillValue" not in msg, msg
    assert re.search(r"not a fill value.*da\.attrs\.update\(scale_factor=0\.1, units='degC'\)",
                     msg), msg
    fixed = da.assign_attrs(scale_factor=0.1, units="degC")  # the message's fix works
    degc = da.values * 0.1
    assert float(xlstsr.upscale(fixed, 4).mean()) == pytest.approx(degc.mean() + 273.15, abs=0.1)


def test_an_isolated_fill_beside_a_continuous_tail_is_still_named():
    da = _degc_x10()
    v = da.values.copy()
    v[:3, :3] = 32767  # a fill apart from the data (a few pixels: the fill test of the values
    v[-1, -2:] = 900   # does not see them) and another isolated value
    with pytest.raises(errors.PhysicalRangeError, match=r"hold 32767 \(as stored\).*undeclared "
                                                        r"fill value"):
        xlstsr.upscale(da.copy(data=v), 4)
    k = np.full((32, 32), 300.0) + np.random.default_rng(1).standard_normal((32, 32))
    k[:2] = 407.0  # one value repeated, far from a plausible scene: a fill, as before
    with pytest.raises(errors.PhysicalRangeError, match=r"hold 407 .*undeclared fill value"):
        xlstsr.upscale(make_lst(k, units="K"), 4)


# -- 6. the scale named for integers without metadata -------------------------------------------

@pytest.mark.parametrize("stored, mean, scale, celsius, n", [
    # ASTER's K x 10: first; as degC x 100 (30.5 degC) too, flagged ambiguous (no units)
    (lambda k: k * 10, 305.0, 0.1, False, 2),
    (lambda k: k / 0.02, 305.0, 0.02, False, 1),       # MODIS
    (lambda k: k * 100, 305.0, 0.01, False, 1),        # K x 100
    # degC x 100 of a hot scene (as K x 10: 366 K); a cooler one reads as K x 10 just as well
    (lambda k: (k - 273.15) * 100, 310.0, 0.01, True, 1),
])
def test_integers_without_scale_metadata_are_told_the_scale_that_fits(stored, mean, scale,
                                                                      celsius, n):
    """Always told MODIS's scale_factor=0.02: K x 10 then read 62 K and 'looks like degC'."""
    k = _kelvin(mean=mean)
    values = np.round(stored(k)).astype("uint16")
    with pytest.raises(errors.ScaledIntegerError) as err:
        xlstsr.upscale(make_lst(values), 4)
    msg = str(err.value)
    m = re.search(r"da\.attrs\.update\(scale_factor=([\d.]+)(, units='degC')?", msg)
    assert m and float(m.group(1)) == scale and bool(m.group(2)) == celsius, msg
    assert msg.count("scale_factor=") == n, msg  # only the scales that fit
    assert ("ambiguous" in msg) == (n > 1), msg
    attrs = {"scale_factor": scale, **({"units": "degC"} if celsius else {})}
    out = xlstsr.upscale(make_lst(values, **attrs), 4, "bicubic")  # the fix works
    assert float(out.mean()) == pytest.approx(k.mean(), abs=0.1)


def test_an_integer_reference_is_told_its_scale(capsys):
    sr = make_lst(_kelvin(8, mean=300.0), units="K")
    ref = make_lst(np.round(_kelvin(32, mean=300.0) * 100).astype("uint16"), res=250.0)
    with pytest.raises(errors.ScaledIntegerError, match=r"reference_scale=0\.01"):
        xlstsr.evaluate(sr, ref)


# -- 7. Fahrenheit labelled Kelvin -------------------------------------------------------------

def test_fahrenheit_labelled_kelvin_is_still_told_fahrenheit():
    """A Fahrenheit field relabelled 'K' (after 'set units K') was blamed on a missing Landsat
    offset (238 K, a frozen scene) instead of Fahrenheit (305 K)."""
    fahr = (_kelvin(16, mean=305.0) - 273.15) * 9 / 5 + 32
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        with pytest.raises(errors.PhysicalRangeError) as err:
            xlstsr.upscale(make_lst(fahr.astype("float32"), units="K"), 4)
    msg = str(err.value)
    assert re.search(r"look like degrees Fahrenheit.*\(da - 32\) \* 5 / 9 \+ 273\.15", msg), msg
    assert msg.index("Fahrenheit") < msg.index("without its offset")
    fixed = make_lst(((fahr - 32) * 5 / 9 + 273.15).astype("float32"), units="K")
    assert float(xlstsr.upscale(fixed, 4).mean()) == pytest.approx(305.0, abs=0.5)
    # Landsat DN x scale without its offset on an ordinary scene stays named so first
    landsat = make_lst((_kelvin(16, mean=300.0) - 149.0).astype("float32"), units="K")
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        with pytest.raises(errors.PhysicalRangeError, match=r"^[^;]*;[^;]*without its offset"):
            xlstsr.upscale(landsat, 4)

"""Fixes of probe 39 in validate / guide: a stale scale that the reader applied (LST and guide),
an int16 extreme fill within the physical range, a shuffled axis, Zarr's global attributes kept
as they are, a pixel-interleaved (Y, X, Band) store's rename advice."""
from __future__ import annotations

import numpy as np
import pytest
import rasterio
import xarray as xr

from xlstsr import errors
from xlstsr.attrs import global_attrs, netcdf_attr, output_global_attrs, with_global_attrs
from xlstsr.guide import check_guide_values
from xlstsr.validate import decode_guide, decode_lst, require_regular, spatial_dims

#: a test file written as int16 without a _FillValue (the probes' files): xarray says so
pytestmark = pytest.mark.filterwarnings("ignore:saving variable LST with floating point data")

_Y = 5.5e6 - 1000 * (np.arange(16) + 0.5)
_X = 1e6 + 1000 * (np.arange(16) + 0.5)


def _field(values, **attrs):
    return xr.DataArray(values, dims=("time", "y", "x"),
                        coords={"time": np.array(["2020-07-01", "2020-07-02"][:values.shape[0]],
                                                 "datetime64[ns]"), "y": _Y, "x": _X},
                        attrs=attrs)


def _written(tmp_path, da, name, **encoding):
    ds = da.to_dataset(name=name)
    ds[name].encoding.update(encoding)
    p = tmp_path / f"{name}.nc"
    ds.to_netcdf(p)
    return p


# X04 -------------------------------------------------------------------------------------------
def _stale_kelvin(tmp_path, **attrs):
    rng = np.random.default_rng(0)
    da = _field(300 + rng.normal(0, 2, (1, 16, 16)), **attrs)
    da.attrs["scale_factor"] = 0.02  # stale: the values are Kelvin already
    ds = da.to_dataset(name="LST")
    p = tmp_path / "lst_k.nc"
    ds.to_netcdf(p)
    return xr.open_dataset(p)["LST"]


def test_a_stale_float_scale_is_named_not_celsius(tmp_path):
    """Float Kelvin saved with the product's scale_factor 0.02 read back at ~6: told "degrees
    Celsius, set degC", which wrote 279 K for a 300 K scene."""
    da = _stale_kelvin(tmp_path)
    assert "scale_factor" not in da.attrs and da.encoding["scale_factor"] == 0.02
    with pytest.raises(errors.UnitsError, match=r"stored as floats with scale_factor=0\.02") as e:
        decode_lst(da)
    assert "median is 300.0" in str(e.value)
    # the advice, followed, gives the Kelvin back
    fixed = decode_lst(da / 0.02)
    assert abs(float(fixed.mean()) - 300) < 1


def test_a_stale_float_scale_with_kelvin_units_is_named(tmp_path):
    da = _stale_kelvin(tmp_path, units="K")
    with pytest.raises(errors.PhysicalRangeError, match=r"scale_factor=0\.02.*`da = da / 0\.02`"):
        decode_lst(da)


def test_decoded_integers_are_not_called_stale(tmp_path):
    """A real product decoded (int16 stored, 0.02): its scale is no stale one."""
    rng = np.random.default_rng(0)
    da = _field(6 + rng.normal(0, 0.05, (1, 16, 16)))
    p = _written(tmp_path, da, "LST", dtype="int16", scale_factor=0.02)
    with pytest.raises(errors.UnitsError) as e:
        decode_lst(xr.open_dataset(p)["LST"])
    assert "stored as floats" not in str(e.value)


# X05 -------------------------------------------------------------------------------------------
def _ndvi(tmp_path, scale):
    rng = np.random.default_rng(0)
    g = xr.DataArray(0.3 + 0.4 * rng.random((16, 16)), dims=("y", "x"),
                     coords={"y": _Y, "x": _X})
    ds = g.to_dataset(name="NDVI")
    if scale is not None:
        ds["NDVI"].attrs["scale_factor"] = scale
    p = tmp_path / f"ndvi_{scale}.nc"
    ds.to_netcdf(p)
    return p


def test_an_inherited_guide_scale_applied_on_reading_is_refused(tmp_path):
    """An NDVI NetCDF with its bands' scale_factor 1e-4: xarray applies it (it moves to
    .encoding) and the refusal, reading .attrs, let NDVI x 1e-4 through."""
    p = _ndvi(tmp_path, 1e-4)
    for g in (xr.open_dataset(p)["NDVI"], xr.open_dataset(p, chunks={})["NDVI"]):
        with pytest.raises(errors.GuideScaleError, match=r"reader applied.*10000x too small"):
            decode_guide(g)
    clean = _ndvi(tmp_path, None)
    assert float(decode_guide(xr.open_dataset(clean, chunks={})["NDVI"]).max()) < 1


def test_a_lazy_guide_with_an_inherited_scale_attribute_is_refused(tmp_path):
    """A lazily read guide (the command line's) was never checked."""
    p = _ndvi(tmp_path, 1e-4)
    g = xr.open_dataset(p, chunks={}, mask_and_scale=False)["NDVI"]
    assert g.attrs["scale_factor"] == 1e-4 and g.chunks is not None
    with pytest.raises(errors.GuideScaleError, match=r"central 16 x 16 pixels"):
        decode_guide(g)


def test_a_guide_smaller_than_an_ndvi_training_guide_is_not_blamed_on_the_model():
    """The hint said the model 'was trained on the guide as stored (NDVI x 10000?)' for a guide
    1e4 too small against a model trained on NDVI."""
    g = np.random.default_rng(0).uniform(0, 1, (1, 1, 16, 16)).astype(np.float32)
    with pytest.raises(errors.GuideScaleError, match="times smaller") as e:
        check_guide_values(g * 1e-4, {"mean": [0.5], "std": [0.29], "names": ["ndvi"]})
    assert "trained on the guide as stored" not in str(e.value)
    with pytest.raises(errors.GuideScaleError, match="trained on the guide as stored"):
        check_guide_values(g, {"mean": [5000.0], "std": [2890.0], "names": ["ndvi"]})


# X01 -------------------------------------------------------------------------------------------
def _with_top_fill():
    rng = np.random.default_rng(0)
    v = 300 + rng.normal(0, 2, (2, 16, 16))
    v[0, :4, :4] = 327.67  # stored 32767: the int16 fill
    return v


def test_an_int16_top_fill_decoded_within_the_range_is_refused(tmp_path):
    p = _written(tmp_path, _field(_with_top_fill()), "LST", dtype="int16", scale_factor=0.01)
    da = xr.open_dataset(p)["LST"]
    with pytest.raises(errors.UndeclaredFillError,
                       match=r"holds 32767 as stored \(327\.67 K decoded\).*int16's largest"):
        decode_lst(da)
    # the advice, followed, masks it
    out = decode_lst(da.assign_attrs(_FillValue=327.67))
    assert int(out.isnull().sum()) == 16


def test_an_int16_top_fill_in_stored_integers_is_refused():
    raw = np.round(_with_top_fill() / 0.01).astype("int16")
    da = _field(raw, scale_factor=0.01, units="K")
    with pytest.raises(errors.UndeclaredFillError, match=r"`da.attrs\['_FillValue'\] = 32767`"):
        decode_lst(da)
    assert int(decode_lst(da.assign_attrs(_FillValue=32767)).isnull().sum()) == 16
    # a uint16 field's 32767 is no extreme of its type: data
    ok = _field(np.round(_with_top_fill() / 0.01).astype("uint16"), scale_factor=0.01,
                units="K")
    assert int(decode_lst(ok).isnull().sum()) == 0


def test_an_int16_top_fill_in_a_geotiff_read_by_open_path_is_refused(tmp_path):
    """xlstsr's GeoTIFF reader (the command line's route) gives float32 stored integers with
    the scale still in attrs: the top fill went on as 327.67 K there (review 39a)."""
    import xlstsr.io

    raw = np.round(_with_top_fill() / 0.01).astype("int16")
    da = _field(raw).rio.write_crs("EPSG:32633")
    p = tmp_path / "lst.tif"
    da.isel(time=0).rio.to_raster(p)
    with rasterio.open(p, "r+") as r:
        r.scales = (0.01,)
    back = xlstsr.io.open_path(p)
    with pytest.raises(errors.UndeclaredFillError, match=r"holds 32767 as stored.*16 pixels"):
        decode_lst(back).compute()  # (read lazily: judged when computed)


def test_a_few_clipped_pixels_at_the_top_stay_data():
    """A hot spot clipped at int16's largest value on a few pixels is no fill (fewer than
    suspect_fill's FILL_MIN_PIXELS): the run went on before and must still."""
    v = _with_top_fill()
    v[0] = 300 + np.random.default_rng(1).normal(0, 2, (16, 16))
    v[0, 0, :3] = 327.67
    da = _field(np.round(v / 0.01).astype("int16"), scale_factor=0.01, units="K")
    out = decode_lst(da)
    assert int(out.isnull().sum()) == 0
    np.testing.assert_allclose(float(out[0, 0, 0]), 327.67, atol=1e-4)


# X03 -------------------------------------------------------------------------------------------
def test_a_shuffled_regular_axis_is_told_to_sort():
    da = _field(np.zeros((1, 16, 16)) + 300)
    east_west = xr.concat([da.isel(x=slice(8, None)), da.isel(x=slice(None, 8))], "x")
    with pytest.raises(errors.GridError, match=r"out of order.*`da = da.sortby\('x'\)`"):
        require_regular(east_west)
    north_up = xr.concat([da.isel(y=slice(8, None)), da.isel(y=slice(None, 8))], "y")
    with pytest.raises(errors.GridError, match=r"sortby\('y', ascending=False\)"):
        require_regular(north_up)
    require_regular(north_up.sortby("y", ascending=False))
    irregular = da.assign_coords(x=da.x.values + np.r_[0, 0, 100.0, np.zeros(13)])
    with pytest.raises(errors.GridError, match="not regularly spaced"):
        require_regular(irregular)


# Z2 --------------------------------------------------------------------------------------------
def test_global_attrs_kept_as_they_are_for_zarr():
    given = {"cloud_masked": True, "platforms": ["Terra", "Aqua"], "qc_applied": np.bool_(True),
             "title": "t"}
    assert global_attrs(given, as_netcdf=False) == given
    assert global_attrs(given)["qc_applied"] == "true"  # not '"True"'
    assert netcdf_attr(np.bool_(False)) == "false"
    assert netcdf_attr([np.bool_(True), "a"]) == '[true, "a"]'
    da = xr.DataArray(np.zeros((2, 2)), dims=("y", "x"), attrs={"history": "b"})
    assert with_global_attrs(da, given, as_netcdf=False).attrs["platforms"] == ["Terra", "Aqua"]
    out = output_global_attrs(given, da, as_netcdf=False)
    assert out["cloud_masked"] is True and out["history"] == "b"


# Z3 --------------------------------------------------------------------------------------------
def test_rename_advice_of_pixel_interleaved_dims_names_y_and_x():
    """GDAL's Zarr of a pixel-interleaved GeoTIFF is (Y, X, Band): the advice renamed X to y and
    Band to x."""
    da = xr.DataArray(np.zeros((4, 5, 2)), dims=("Y", "X", "Band"))
    with pytest.raises(errors.NoSpatialDimsError,
                       match=r"rename\(\{'Y': 'y', 'X': 'x'\}\).*x_dim='X', y_dim='Y'"):
        spatial_dims(da)
    rows = xr.DataArray(np.zeros((2, 4, 5)), dims=("Rows", "Cols", "band"))
    with pytest.raises(errors.NoSpatialDimsError, match=r"rename\(\{'Rows': 'y', 'Cols': 'x'\}"):
        spatial_dims(rows)
    plain = xr.DataArray(np.zeros((2, 4, 5)), dims=("band", "r", "c"))
    with pytest.raises(errors.NoSpatialDimsError, match=r"rename\(\{'r': 'y', 'c': 'x'\}"):
        spatial_dims(plain)

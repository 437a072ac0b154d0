"""Input validation and decoding: every bad input gets a message naming the problem and the fix."""

from __future__ import annotations

import dask.array as dsa
import numpy as np
import pytest
import xarray as xr
from helpers import make_lst, raise_if_computed

import xlstsr
from xlstsr import errors
from xlstsr.qc import lst_error_k, modland_mask
from xlstsr.validate import check_factor, decode_lst, spatial_dims


def _field(shape=(8, 8), base=300.0, seed=0):
    return base + np.random.default_rng(seed).normal(0, 2, shape).astype(np.float32)


def test_kelvin_passes_unchanged():
    da = make_lst(_field(), units="K")
    out = decode_lst(da)
    np.testing.assert_array_equal(out.values, da.values)
    assert out.attrs["units"] == "K"


@pytest.mark.parametrize("units", ["degC", "C", "celsius", "Celsius", "deg_C", "degrees_Celsius", "°C"])
def test_celsius_converted(units):
    da = make_lst(_field(base=25.0), units=units)
    out = decode_lst(da)
    np.testing.assert_allclose(out.values, da.values + 273.15, rtol=1e-6)
    assert out.attrs["units"] == "K"


def test_unknown_units_named():
    with pytest.raises(errors.UnitsError, match="unknown LST units 'furlongs'"):
        decode_lst(make_lst(_field(), units="furlongs"))


def test_celsius_without_units_suggests_setting_them():
    da = make_lst(_field(base=25.0))
    with pytest.raises(errors.UnitsError, match=r"units'\] = 'degC'"):
        xlstsr.upscale(da, 4)


def test_modis_scaled_integers_decoded():
    dn = np.full((8, 8), 15000, dtype=np.uint16)
    dn[0, 0] = 0  # MOD11A1 fill
    da = make_lst(dn, scale_factor=0.02, _FillValue=0, valid_range=[7500, 65535])
    out = decode_lst(da)
    assert np.isnan(out.values[0, 0])
    np.testing.assert_allclose(out.values[1:, 1:], 300.0)
    assert out.dtype == np.float32


def test_scaled_integers_without_metadata_rejected():
    da = make_lst(np.full((8, 8), 15000, dtype=np.uint16))
    with pytest.raises(errors.ScaledIntegerError, match=r"scale_factor=0\.02"):
        xlstsr.upscale(da, 4)


def test_fill_value_in_float_becomes_nan_and_does_not_leak():
    vals = _field((8, 8))
    vals[2:4, 2:4] = -9999.0
    da = make_lst(vals, _FillValue=-9999.0)
    sr = xlstsr.upscale(da, 4)
    assert np.isnan(sr.values[8:16, 8:16]).all()
    finite = sr.values[np.isfinite(sr.values)]
    assert finite.min() > 250  # no fill value leaked into valid pixels


def test_out_of_range_rejected_or_masked():
    vals = _field()
    vals[0, 0] = 3000.0  # e.g. Kelvin x 10
    da = make_lst(vals, units="K")
    with pytest.raises(errors.PhysicalRangeError, match="scaled"):
        decode_lst(da)
    out = decode_lst(da, mask_out_of_range=True)
    assert np.isnan(out.values[0, 0]) and np.isfinite(out.values[1:, 1:]).all()


def test_value_checks_are_lazy_on_dask():
    da = make_lst(_field(base=25.0)).chunk({"y": 4})
    with raise_if_computed():
        out = decode_lst(da)  # no error yet: nothing computed
    assert isinstance(out.data, dsa.Array)
    with pytest.raises(errors.UnitsError):
        out.compute()


def test_no_crs():
    da = make_lst(_field())
    da = da.drop_vars("spatial_ref")
    with pytest.raises(errors.MissingCRSError, match="write_crs"):
        xlstsr.upscale(da, 4)


def test_no_spatial_dims():
    da = xr.DataArray(_field(), dims=("row", "col"))
    with pytest.raises(errors.NoSpatialDimsError, match="set_spatial_dims"):
        xlstsr.upscale(da, 4)


def test_latitude_longitude_dims_found():
    da = make_lst(_field()).rename(y="latitude", x="longitude")
    assert spatial_dims(da) == ("latitude", "longitude")
    sr = xlstsr.upscale(da, 2)
    assert sr.dims == ("latitude", "longitude") and sr.shape == (16, 16)


@pytest.mark.parametrize("factor", [0, -4, 2.5, "4", None, True, 1])
def test_factor_must_be_positive_integer(factor):
    with pytest.raises(errors.GridError, match="factor"):
        check_factor(factor)


def test_all_nan_input():
    with pytest.raises(errors.AllNaNError, match="no valid pixel"):
        xlstsr.upscale(make_lst(np.full((8, 8), np.nan, np.float32)), 4)


def test_dataset_without_named_lst_variable():
    a = make_lst(_field())
    ds = xr.Dataset({"band1": a, "band2": a})
    with pytest.raises(errors.VariableNotFoundError, match="variable="):
        ds.lstsr.upscale(4)
    sr = ds.lstsr.upscale(4, variable="band2")
    assert sr.shape == (32, 32)


def test_dataset_single_lst_variable_found():
    a = make_lst(_field(), units="K")
    ds = xr.Dataset({"LST_Day_1km": a, "QC": a.astype("uint8")})
    assert ds.lstsr.upscale(2).shape == (16, 16)


def test_modis_qc_bits():
    qc = np.array([0b00000000, 0b00000001, 0b00000010, 0b01000000, 0b11000011], dtype=np.uint8)
    np.testing.assert_array_equal(modland_mask(qc), [True, False, False, True, False])
    np.testing.assert_array_equal(modland_mask(qc, accept_other_quality=True), [True, True, False, True, False])
    np.testing.assert_allclose(lst_error_k(qc), [1.0, 1.0, np.inf, 2.0, np.inf])


def test_isolated_hot_spot_masked_with_warning():
    vals = _field((16, 16))
    vals[3, 3] = 402.1  # a real MODIS pair has such a pixel (fire or artefact)
    with pytest.warns(errors.PhysicalRangeWarning, match="402.10 K"):
        out = decode_lst(make_lst(vals, units="K"))
    assert np.isnan(out.values[3, 3]) and np.isfinite(out.values).sum() == 255
    vals[:4] = 420.0  # many: not a hot spot, an error
    with pytest.raises(errors.PhysicalRangeError):
        decode_lst(make_lst(vals, units="K"))

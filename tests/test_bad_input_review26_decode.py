"""Review of round 26 (decoding): a few stray pixels past the range told 'degrees Celsius x 10'
on decoded Kelvin; a guide's valid bounds left in packed units by xarray applied unconverted;
`_Unsigned` in the encoding of a decoded LST ignored for its packed valid_range."""

from __future__ import annotations

import numpy as np
import pytest
import rioxarray
import xarray as xr
from helpers import make_lst
from scipy.io import netcdf_file

from xlstsr import errors
from xlstsr.validate import decode_guide, decode_lst, prepare_lst

# mixed pixels at a scene's border: two below 150 K, the others running on into the range
_BORDER_K = (140.0, 145.0, 152.0, 165.0, 180.0, 200.0, 230.0, 260.0)


def _refusal(da: xr.DataArray) -> str:
    with pytest.raises(errors.PhysicalRangeError) as err:
        prepare_lst(da)
    return str(err.value)


# -- 1. a few stray pixels are not a field in other units or scale ------------------------------

def _aster_x10(n: int = 64, border: tuple[float, ...] = _BORDER_K) -> np.ndarray:
    k = 305.0 + 3 * np.random.default_rng(0).standard_normal((n, n))
    dn = np.round(k * 10).astype("uint16")
    dn[:4] = 0  # the fill beyond the scene
    dn[4, : len(border)] = np.round(np.asarray(border) * 10)
    return dn


@pytest.mark.parametrize("case", ["aster_k_x10", "float_kelvin"])
def test_a_few_stray_pixels_keep_the_fill_or_corrupt_pixel_message(case):
    """ASTER K x 10 declared (scale 0.1, fill 0) with 2 border pixels at 140-145 K was told
    "a field in other units or scale: scale_factor=0.1, units='degC'" (a 273 K error)."""
    if case == "aster_k_x10":
        da = make_lst(_aster_x10(), units="K", scale_factor=0.1, _FillValue=0)
    else:
        k = 300.0 + 3 * np.random.default_rng(1).standard_normal((64, 64))
        k[0, : len(_BORDER_K)] = _BORDER_K
        da = make_lst(k.astype("float32"), units="K")
    msg = _refusal(da)
    assert "Celsius" not in msg and "degC" not in msg, msg
    assert "other units or scale" not in msg, msg
    assert "fill value may not be declared" in msg and "mask the corrupt pixels" in msg, msg


def test_a_substantial_tail_of_decoded_values_is_told_no_scale():
    """A real share of the pixels past the range is still a field in other units or scale, but
    values a declared scale made are not told another scale (the median is decoded Kelvin)."""
    border = tuple(np.linspace(120.0, 260.0, 60))
    dn = _aster_x10(border=())
    dn[4:8, :] = np.round(np.resize(np.asarray(border), (4, 64)) * 10)  # ~6 % of the pixels
    msg = _refusal(make_lst(dn, units="K", scale_factor=0.1, _FillValue=0))
    assert "other units or scale" in msg, msg
    assert "scale_factor=" not in msg and "degC" not in msg, msg


def test_aster_scenes_declared_as_the_readme_says_are_not_told_celsius(shared_data):
    """52 of the 55 real ASTER fields declared K x 10 / fill 0 were told degrees Celsius x 10."""
    told = []
    for f in sorted((shared_data / "modis_aster").glob("*_aster_lst_250m.tif"))[:6]:
        da = rioxarray.open_rasterio(f).load().assign_attrs(scale_factor=0.1, _FillValue=0)
        try:
            prepare_lst(da)
        except errors.XlstsrError as err:
            if "Celsius" in str(err) or "other units or scale" in str(err):
                told.append(f"{f.name}: {err}")
    assert not told, told[0]


# -- 2. a guide's valid bounds left in packed units by xarray -----------------------------------

def _ndvi(n: int = 32) -> np.ndarray:
    v = 0.2 + 0.6 * np.random.default_rng(2).random((n, n))
    v[:6, :6] = -0.05  # a lake
    return v


def _written(tmp_path, values, name, attrs, encoding) -> xr.DataArray:
    da = make_lst(values).rename(name)
    da.attrs = attrs
    path = tmp_path / f"{name}.nc"
    da.to_dataset().to_netcdf(path, encoding={name: encoding})
    with xr.open_dataset(path, decode_coords="all") as ds:
        return ds[name].load()


def test_a_decoded_guide_converts_its_packed_valid_bounds(tmp_path):
    """An emissivity packed as MOD11's Emis_31 (uint8 x 0.002 + 0.49, valid_min 1 / valid_max
    255) was refused as empty; an NDVI packed with an offset lost its water silently."""
    emis = _written(tmp_path, 0.95 + 0.04 * np.clip(_ndvi(), 0, 1), "Emis_31",
                    {"valid_min": np.uint8(1), "valid_max": np.uint8(255)},
                    {"dtype": "uint8", "scale_factor": 0.002, "add_offset": 0.49,
                     "_FillValue": 0})
    assert emis.encoding["scale_factor"] == 0.002 and "valid_min" in emis.attrs
    out = decode_guide(emis)
    assert np.isfinite(out.values).all() and "valid_min" not in out.attrs
    np.testing.assert_allclose(out.values, emis.values, atol=1e-6)

    ndvi = _written(tmp_path, _ndvi(), "NDVI",
                    {"valid_min": np.uint8(0), "valid_max": np.uint8(250)},
                    {"dtype": "uint8", "scale_factor": 0.004, "add_offset": -0.08,
                     "_FillValue": 255})
    assert float(ndvi.min()) < 0
    for g in (ndvi, ndvi.chunk(16)):  # a lazy guide is read as CF says too
        out = decode_guide(g).values
        assert np.isfinite(out).all(), int(np.isnan(out).sum())
        np.testing.assert_allclose(out, ndvi.values, atol=1e-6)
    # bounds set in the guide's units after decoding still apply as they stand
    own = decode_guide(ndvi.assign_attrs(valid_min=-0.02, valid_max=1.0)).values
    assert np.isnan(own[:6, :6]).all() and np.isfinite(own[6:]).all()


# -- 3. _Unsigned in the encoding of a decoded LST ---------------------------------------------

def test_an_unsigned_valid_range_on_a_decoded_lst(tmp_path):
    """NetCDF-3 int16 LST with `_Unsigned = "true"`, valid_range short {7500, -1} (7500..65535)
    and scale 0.02, opened the ordinary way: xarray moves `_Unsigned` to the encoding, the range
    read signed was -0.02..150 K and every pixel was refused."""
    k = 310.0 + 3 * np.random.default_rng(3).standard_normal((32, 32))
    dn = np.round(k / 0.02).astype("uint16")  # above 32767: negative as int16
    dn[:3, :3] = 0      # the fill
    dn[5, 5] = 7000     # 140 K, below valid_range: masked by CF
    path = tmp_path / "lst_nc3.nc"
    nc = netcdf_file(path, "w", version=2)
    nc.createDimension("y", 32)
    nc.createDimension("x", 32)
    nc.createVariable("y", "f8", ("y",))[:] = 5e5 - (np.arange(32) + 0.5) * 1000
    nc.createVariable("x", "f8", ("x",))[:] = 4e5 + (np.arange(32) + 0.5) * 1000
    v = nc.createVariable("LST", "i2", ("y", "x"))
    v._FillValue = np.int16(0)
    v._Unsigned = "true"
    v.scale_factor = 0.02
    v.add_offset = 0.0
    v.valid_range = np.array([7500, -1], np.int16)
    v.units = "K"
    v[:] = dn.view("int16")
    nc.close()
    decoded = xr.open_dataset(path)["LST"].load()
    assert decoded.encoding.get("_Unsigned") == "true" and "_Unsigned" not in decoded.attrs
    out = decode_lst(decoded)
    undecoded = decode_lst(xr.open_dataset(path, mask_and_scale=False)["LST"].load())
    np.testing.assert_allclose(out.values, undecoded.values, atol=1e-3, equal_nan=True)
    assert np.isnan(out.values[:3, :3]).all() and np.isnan(out.values[5, 5])
    assert int(np.isfinite(out.values).sum()) == 32 * 32 - 10

"""coarsen fixes of probe 38: ascending-latitude grids round-trip, a packed emissivity is decoded,
boundary='trim' with a PSF sees the cut pixels."""

from __future__ import annotations

import warnings

import numpy as np
import pytest
import rioxarray  # noqa: F401
import xarray as xr
from affine import Affine

import xlstsr
from xlstsr.grid import FINE_ORIGIN, MODIS_SINUSOIDAL
from xlstsr.kernels.aggregate import gaussian_psf, gaussian_psf_emitted, radiometric_mean
from xlstsr.validate import decode_guide


# -- 1. latitude stored ascending from the south edge (a NetCDF's) -----------------------------
def _ascending(px: float, n: int, south: float, written: bool) -> xr.DataArray:
    lat = (south + px / 2) + np.arange(n) * px  # as np.arange / CDO write it
    lon = (5.0 + px / 2) + np.arange(n) * px
    t = xr.DataArray(290 + np.random.default_rng(0).random((n, n)), dims=("lat", "lon"),
                     coords={"lat": lat, "lon": lon}, attrs={"units": "K"}
                     ).rio.write_crs("EPSG:4326")
    return t.rio.write_transform(Affine(px, 0, 5.0, 0, px, south)) if written else t


@pytest.mark.parametrize("written", [False, True])
@pytest.mark.parametrize(("px", "factor", "south"), [
    (0.05, 5, -30.0), (1 / 120, 3, -30.0), (0.0025, 6, -30.0), (0.01, 3, 40.0)])
def test_ascending_latitude_round_trips(px: float, factor: int, south: float,
                                        written: bool) -> None:
    n = 20 * factor
    t = _ascending(px, n, south, written)
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        c = xlstsr.coarsen(t, factor)
        up = xlstsr.upscale(c, factor, method="nearest")
        c2 = xlstsr.coarsen(up, factor)
        up2 = xlstsr.upscale(c2, factor, method="nearest")
    # the coarse labels are a coarse file's of the same layout (north-up: reversed)
    d = px * factor
    np.testing.assert_array_equal(c.lat.values, ((south + d / 2) + np.arange(20) * d)[::-1])
    # before: 1 ulp off on most rows, `up - t` kept 17-47 % of the pixels
    np.testing.assert_array_equal(np.sort(up.lat.values), t.lat.values)
    assert (up - t).size == t.size
    np.testing.assert_array_equal(c2.lat.values, c.lat.values)  # a second round too
    assert (up2 - t).size == t.size


def test_ascending_origin_is_kept_only_where_needed() -> None:
    # labels that round-trip without it get no attribute (a north-up file flipped south-up)
    lat = 50.0 - (np.arange(60) + 0.5) * 0.01
    t = xr.DataArray(np.full((60, 60), 300.0), dims=("lat", "lon"),
                     coords={"lat": lat[::-1], "lon": 5.005 + np.arange(60) * 0.01},
                     attrs={"units": "K"}).rio.write_crs("EPSG:4326")
    c = xlstsr.coarsen(t, 3)
    assert FINE_ORIGIN not in c.lat.attrs
    assert (xlstsr.upscale(c, 3, method="nearest") - t).size == t.size


# -- 2. a packed emissivity (MOD11A1 Emis_31 with mask_and_scale=False) --------------------------
def _packed_pair(n: int = 16) -> tuple[xr.DataArray, xr.DataArray]:
    y = 5e6 - (np.arange(n) + 0.5) * 1000.0
    x = 1e6 + (np.arange(n) + 0.5) * 1000.0
    rng = np.random.default_rng(0)
    lst = xr.DataArray(300 + 15 * rng.random((n, n)), dims=("y", "x"), coords={"y": y, "x": x},
                       attrs={"units": "K"}).rio.write_crs(MODIS_SINUSOIDAL)
    dn = np.where(rng.random((n, n)) < 0.5, 230, 250).astype(np.uint8)  # soil 0.95, water 0.99
    dn[0, 0] = 0  # fill
    emis = lst.copy(data=dn).rename("Emis_31")
    emis.attrs = {"scale_factor": 0.002, "add_offset": 0.49, "_FillValue": 0,
                  "valid_range": [1, 255]}
    return lst, emis


def test_packed_emissivity_is_decoded_as_the_lst() -> None:
    lst, emis = _packed_pair()
    right = xlstsr.coarsen(lst, 4, emissivity=decode_guide(emis), min_valid=0.5)
    with warnings.catch_warnings():
        warnings.simplefilter("error")  # decoded: no low-emissivity warning either
        got = xlstsr.coarsen(lst, 4, emissivity=emis, min_valid=0.5)
    np.testing.assert_array_equal(got.values, right.values)
    lazy = xlstsr.coarsen(lst.chunk(8), 4, emissivity=emis.chunk(8), min_valid=0.5)
    np.testing.assert_allclose(lazy.values, right.values, rtol=0, atol=1e-5)
    assert "emissivity_weighted=Emis_31" in got.attrs["xlstsr_degradation"]


def test_emissivity_scaled_without_its_offset_warns() -> None:
    lst, emis = _packed_pair()
    scaled = (emis.where(emis != 0) * 0.002).drop_attrs()  # 0.46-0.50: the offset left out
    with pytest.warns(UserWarning, match=r"median is 0\.[45].*add_offset.*Emis_31"):
        xlstsr.coarsen(lst, 4, emissivity=scaled, min_valid=0.5)


def test_stored_integers_without_attributes_name_offset_and_fill() -> None:
    lst, emis = _packed_pair()
    with pytest.raises(xlstsr.errors.XlstsrError,
                       match=r"emissivity values from 0 to 250.*add_offset.*_FillValue"):
        xlstsr.coarsen(lst, 4, emissivity=emis.drop_attrs(), min_valid=0.5)


# -- 3. boundary='trim' with a PSF ------------------------------------------------------------
def _trim_field(n: int = 67, m: int = 70) -> xr.DataArray:
    rng = np.random.default_rng(0)
    d = 300 + np.cumsum(np.cumsum(rng.standard_normal((2, n, m)), 1), 2) * 0.3
    y = 5e6 - (np.arange(n) + 0.5) * 250.0
    x = 1e6 + (np.arange(m) + 0.5) * 250.0
    return xr.DataArray(d, dims=("time", "y", "x"), coords={"time": [0, 1], "y": y, "x": x},
                        attrs={"units": "K"}).rio.write_crs("EPSG:32633")


def test_trim_blurs_the_cut_pixels_beside_the_kept_edge() -> None:
    da = _trim_field()
    d, s = da.values, 350.0 / 250.0
    # the sensor sees the cut pixels too: blurred whole, then cut to 16 x 17 blocks
    ref = radiometric_mean(gaussian_psf(d, (s, s))[..., :64, :68], 4)
    got = xlstsr.coarsen(da, 4, psf="modis", boundary="trim")
    np.testing.assert_allclose(got.values, ref, rtol=0, atol=1e-9)  # before: 0.3 K at the edge
    np.testing.assert_array_equal(got.y.values, xlstsr.coarsen(da.isel(y=slice(0, 64),
                                                                       x=slice(0, 68)), 4).y)
    for ch in (8, 20, 33):  # lazy equals eager, the cut pixels in the last chunk
        lazy = xlstsr.coarsen(da.chunk({"y": ch, "x": ch}), 4, psf="modis", boundary="trim")
        np.testing.assert_array_equal(lazy.values, got.values)


def test_trim_with_emissivity_blurs_the_cut_emitted_radiance() -> None:
    da = _trim_field()
    eps = da.isel(time=0, drop=True).copy(
        data=0.9 + 0.09 * np.random.default_rng(1).random(da.shape[1:])).drop_attrs()
    s = 350.0 / 250.0
    seen, eps_seen = gaussian_psf_emitted(da.values, eps.values, (s, s))
    ref = radiometric_mean(seen[..., :64, :68], 4, emissivity=eps_seen[..., :64, :68])
    got = xlstsr.coarsen(da, 4, psf="modis", boundary="trim", emissivity=eps)
    np.testing.assert_allclose(got.values, ref, rtol=0, atol=1e-9)
    lazy = xlstsr.coarsen(da.chunk({"y": 20, "x": 20}), 4, psf="modis", boundary="trim",
                          emissivity=eps.chunk({"y": 20}))
    np.testing.assert_array_equal(lazy.values, got.values)


def test_trim_without_psf_ignores_the_cut_pixels() -> None:
    # nothing blurred: the cut pixels are not read (a fill there is no error)
    da = _trim_field()
    bad = da.copy(data=da.values.copy())
    bad.values[:, 64:, :] = 9999.0
    np.testing.assert_array_equal(xlstsr.coarsen(bad, 4, boundary="trim").values,
                                  xlstsr.coarsen(da, 4, boundary="trim").values)


# -- review 38b ---------------------------------------------------------------------------------
@pytest.mark.parametrize("fill", [0.0, 9999.0])
def test_trim_psf_fill_in_the_cut_rows_only_feeds_the_blur(fill: float) -> None:
    # an undeclared fill in the rows trim drops: masked there (as NaN), not refused, no warning
    da = _trim_field()
    bad, gap = da.copy(data=da.values.copy()), da.copy(data=da.values.copy())
    bad.values[:, 64:, :] = fill
    bad.values[:, :, 69] = fill  # the cut column too
    gap.values[:, 64:, :] = np.nan
    gap.values[:, :, 69] = np.nan
    with warnings.catch_warnings():
        warnings.simplefilter("error")
        got = xlstsr.coarsen(bad, 4, psf="modis", boundary="trim")
    np.testing.assert_array_equal(got.values, xlstsr.coarsen(gap, 4, psf="modis",
                                                             boundary="trim").values)
    assert np.isfinite(got.values).all()
    lazy = xlstsr.coarsen(bad.chunk({"y": 20, "x": 20}), 4, psf="modis", boundary="trim")
    np.testing.assert_array_equal(lazy.values, got.values)


def test_trim_psf_fill_in_the_kept_rows_is_still_refused() -> None:
    da = _trim_field()
    bad = da.copy(data=da.values.copy())
    bad.values[:, 60:, :] = 0.0  # rows 60-63 are kept
    with pytest.raises(xlstsr.errors.XlstsrError) as plain:  # as without a PSF
        xlstsr.coarsen(bad, 4, boundary="trim")
    for field in (bad, bad.chunk({"y": 20, "x": 20})):
        with pytest.raises(type(plain.value), match="value 0 "):
            xlstsr.coarsen(field, 4, psf="modis", boundary="trim").compute()


def test_trim_psf_emissivity_fill_in_the_cut_rows_is_masked() -> None:
    da = _trim_field()
    e = 0.9 + 0.09 * np.random.default_rng(1).random(da.shape[1:])
    e0, en = e.copy(), e.copy()
    e0[64:] = 0.0
    en[64:] = np.nan
    eps = da.isel(time=0, drop=True).drop_attrs()
    got = xlstsr.coarsen(da, 4, psf="modis", boundary="trim", emissivity=eps.copy(data=e0))
    ref = xlstsr.coarsen(da, 4, psf="modis", boundary="trim", emissivity=eps.copy(data=en))
    np.testing.assert_array_equal(got.values, ref.values)
    lazy = xlstsr.coarsen(da.chunk({"y": 20, "x": 20}), 4, psf="modis", boundary="trim",
                          emissivity=eps.copy(data=e0).chunk({"y": 20}))
    np.testing.assert_array_equal(lazy.values, got.values)
    e0[63, 5] = 0.0  # a kept row: refused as before, eager and lazy
    for e_ in (eps.copy(data=e0), eps.copy(data=e0).chunk({"y": 20})):
        with pytest.raises(xlstsr.errors.XlstsrError, match="emissivity values from 0 "):
            xlstsr.coarsen(da.chunk({"y": 20, "x": 20}) if e_.chunks else da, 4, psf="modis",
                           boundary="trim", emissivity=e_).compute()


def test_float_emissivity_with_its_scale_attributes_is_decoded() -> None:
    lst, emis = _packed_pair()
    right = xlstsr.coarsen(lst, 4, emissivity=emis, min_valid=0.5)
    for f in (emis.where(emis != 0), emis.astype("float32")):
        assert f.attrs.get("scale_factor") == 0.002
        got = xlstsr.coarsen(lst, 4, emissivity=f, min_valid=0.5)
        np.testing.assert_allclose(got.values, right.values, rtol=0, atol=1e-5)
    # a lazy float is not read at call time: refused as computed, told the CF recipe
    with pytest.raises(xlstsr.errors.XlstsrError, match=r"a lazy float still holding them is not.*"
                                          r"scale_factor \+ add_offset"):
        xlstsr.coarsen(lst, 4, emissivity=emis.astype("float32").chunk(8),
                       min_valid=0.5).compute()
    # a float emissivity in (0, 1] carrying an LST's scale_factor, one value past 1 (an
    # overshoot): not whole numbers, no stored band, refused as before (review 38e)
    e = decode_guide(emis).fillna(0.98).values
    e[0, 0] = 1.0001
    over = lst.copy(data=e).assign_attrs(scale_factor=0.02, add_offset=0.0)
    with pytest.raises(xlstsr.errors.XlstsrError, match=r"emissivity values from .* to 1"):
        xlstsr.coarsen(lst, 4, emissivity=over, min_valid=0.5)


def test_float_emissivity_already_decoded_keeps_an_lsts_scale_attributes() -> None:
    # lst.copy(data=eps) of a packed LST: values in (0, 1] (a fill 0 among them) with the
    # LST's scale_factor, which they do not hold
    lst, emis = _packed_pair()
    e = decode_guide(emis).values
    packed = lst.copy(data=np.where(np.isfinite(e), e, 0.0))
    packed.attrs = {"scale_factor": 0.02, "add_offset": 0.0, "_FillValue": 0}
    got = xlstsr.coarsen(lst, 4, emissivity=packed.where(packed != 0), min_valid=0.5)
    ref = xlstsr.coarsen(lst, 4, emissivity=packed.where(packed != 0).drop_attrs(), min_valid=0.5)
    np.testing.assert_array_equal(got.values, ref.values)


def test_low_emissivity_warns_for_a_dask_emissivity_too() -> None:
    lst, emis = _packed_pair()
    scaled = (emis.where(emis != 0) * 0.002).drop_attrs().chunk(8)
    # warned as it is computed (not read at call time), once, not once per block
    with pytest.warns(UserWarning, match=r"median in a block is 0\.[45].*add_offset") as w:
        xlstsr.coarsen(lst.chunk(8), 4, emissivity=scaled, min_valid=0.5).compute()
    assert sum("median" in str(x.message) for x in w) == 1
    with pytest.warns(UserWarning, match=r"median in a block is 0\.[45]"):  # an in-memory LST
        xlstsr.coarsen(lst, 4, emissivity=scaled, min_valid=0.5)


def test_guide_offset_warnings_give_one_sign() -> None:
    # a guide moved by +2 fine pixels east (nested) and by +2.5 (reprojected): both warnings
    # give the guide's position on the fine grid with the same sign (probe 38a)
    import re

    s = xlstsr.datasets.sample_scene(n_times=1, size=32, seed=1)
    lst, ndvi = s["lst_1km"].isel(time=0, drop=True), s["ndvi_250m"]
    px = float(ndvi.x[1] - ndvi.x[0])
    said = []
    for k in (2.0, 2.5):
        moved = ndvi.assign_coords(x=ndvi.x + k * px)
        with warnings.catch_warnings(record=True) as w:
            warnings.simplefilter("always")
            xlstsr.upscale(lst, 4, "tsharp", guide=moved, guide_offset="ignore")
        found = [re.search(r"offset by \(([-+0-9.]+), ([-+0-9.]+)\) fine pixels",
                           str(x.message)) for x in w]
        said.append(next(float(m.group(2)) for m in found if m))
    assert said[0] == pytest.approx(2.0) and said[1] == pytest.approx(2.5)

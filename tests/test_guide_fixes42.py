"""Session 42 (g): a multi-band guide whose bands have their own scales (rioxarray's `scales` /
`offsets`, no `scale_factor`) is decoded band by band; a band described 'NDVI' among a
multi-band file's descriptions (a tuple long_name) is range-checked as NDVI; a quality layer
made float by masking the Dataset (`ds.where(ds.pixel_reliability <= 1)`) is still refused as a
predictor."""
import warnings

import numpy as np
import pytest
import rasterio
import rioxarray
import xarray as xr

import xlstsr
from xlstsr.errors import GuideScaleError, XlstsrError
from xlstsr.guide import guide_fields, prepare_guide
from xlstsr.validate import decode_guide


@pytest.fixture(scope="module")
def scene():
    s = xlstsr.datasets.sample_scene(n_times=1, size=64, seed=3)
    return s["lst_1km"].isel(time=0, drop=True), s["ndvi_250m"]


def _write(path, ndvi, bands, **tags):
    prof = dict(driver="GTiff", width=ndvi.sizes["x"], height=ndvi.sizes["y"],
                count=len(bands), dtype="int16", crs=ndvi.rio.crs,
                transform=ndvi.rio.transform(), nodata=-3000)
    with rasterio.open(path, "w", **prof) as f:
        for i, b in enumerate(bands):
            f.write(b, i + 1)
        for k, v in tags.items():
            setattr(f, k, v)
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", UserWarning)  # rioxarray: "Scales differ across bands"
        return rioxarray.open_rasterio(path)


def _two_scales(tmp_path, ndvi, offsets=(0.0, 0.0)):
    dn = np.round(ndvi.values * 10000).astype(np.int16)
    el = np.round((200 + ndvi.values * 300) / 0.5).astype(np.int16)
    g = _write(tmp_path / "two.tif", ndvi, [dn, el], scales=(0.0001, 0.5), offsets=offsets,
               descriptions=("NDVI", "elevation"))
    return g, ndvi.values, 200 + ndvi.values * 300


def test_per_band_scales_decode_each_band(scene, tmp_path):
    lst, ndvi = scene
    g, want_ndvi, want_el = _two_scales(tmp_path, ndvi)
    assert "scales" in g.attrs and "scale_factor" not in g.attrs
    d = decode_guide(g)
    assert d.dims == g.dims and d["band"].values.tolist() == [1, 2]
    np.testing.assert_allclose(d.sel(band=1).values, want_ndvi, atol=1e-4)
    np.testing.assert_allclose(d.sel(band=2).values, want_el, atol=0.3)
    assert "scales" not in d.attrs and "scale_factor" not in d.attrs
    # one band selected (the attrs still list both scales): placed by its band number
    np.testing.assert_allclose(decode_guide(g.sel(band=2)).values, want_el, atol=0.3)
    np.testing.assert_allclose(decode_guide(g.isel(band=[1, 0])).sel(band=1).values,
                               want_ndvi, atol=1e-4)
    # the channels upscale sharpens with are the decoded bands (they were NDVI x 10000 and
    # the elevation x 2)
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        p = np.asarray(prepare_guide(g, lst, 4, ()))
    assert p.shape[:2] == (1, 2)
    assert abs(np.nanmean(p[0, 0]) - np.nanmean(want_ndvi)) < 1e-3
    assert abs(np.nanmean(p[0, 1]) - np.nanmean(want_el)) < 0.5
    # scaling_stats on the NDVI band alone equals the decoded file's
    ref = rioxarray.open_rasterio(tmp_path / "two.tif", mask_and_scale=True).sel(band=1)
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        a = xlstsr.scaling_stats(lst, guide=g.sel(band=1))
        b = xlstsr.scaling_stats(lst, guide=ref)
    np.testing.assert_allclose(float(a["guide_slope_trend"]), float(b["guide_slope_trend"]),
                               rtol=1e-3)


def test_per_band_offsets_and_unplaceable_bands(scene, tmp_path):
    _, ndvi = scene
    g, _, want_el = _two_scales(tmp_path, ndvi, offsets=(0.0, -100.0))
    np.testing.assert_allclose(decode_guide(g).sel(band=2).values, want_el - 100, atol=0.3)
    # bands that cannot be placed among the file's (no band numbers, not all of them)
    lone = g.isel(band=0, drop=True)
    with pytest.raises(GuideScaleError, match="mask_and_scale=True"):
        decode_guide(lone)


def test_shared_scale_still_decoded(scene, tmp_path):
    _, ndvi = scene
    dn = np.round(ndvi.values * 10000).astype(np.int16)
    g = _write(tmp_path / "one.tif", ndvi, [dn, dn], scales=(0.0001, 0.0001))
    assert g.attrs.get("scale_factor") == 0.0001 and "scales" not in g.attrs
    np.testing.assert_allclose(decode_guide(g).isel(band=1).values, ndvi.values, atol=1e-4)


def test_multiband_description_declares_ndvi(scene, tmp_path):
    lst, ndvi = scene
    dn = np.round(ndvi.values * 10000).astype(np.int16)
    g = _write(tmp_path / "desc.tif", ndvi, [dn, (dn * 0.6).astype(np.int16)],
               descriptions=("NDVI", "EVI"))
    assert g.attrs["long_name"] == ("NDVI", "EVI")
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        with pytest.raises(GuideScaleError, match="NDVI"):
            prepare_guide(g, lst, 4, ())
        with pytest.raises(GuideScaleError, match="NDVI"):
            xlstsr.scaling_stats(lst, guide=g.sel(band=1))
        # the band described 'EVI' is not declared NDVI: scaled integers are its own business
        xlstsr.scaling_stats(lst, guide=g.sel(band=2))
        # the decoded NDVI described so is accepted, as one band or as a band of two
        ok = g.astype("float32").copy(data=np.stack([ndvi.values, ndvi.values * 0.6]))
        assert prepare_guide(ok, lst, 4, ()).shape[:2] == (1, 2)
        xlstsr.scaling_stats(lst, guide=ok.sel(band=1))


def _mod13(ndvi):
    rel = xr.zeros_like(ndvi, dtype=np.int8)
    rel.values[:, : ndvi.sizes["x"] // 2] = 1
    rel.values[40:44] = 2
    qa = xr.full_like(ndvi, 2116, dtype=np.uint16)
    qa.values[:, ::3] = 2112
    return xr.Dataset({"NDVI": ndvi.astype("float32"), "pixel_reliability": rel,
                       "VI_Quality": qa})


def test_masked_quality_layer_refused(scene):
    lst, ndvi = scene
    ds = _mod13(ndvi)
    masked = ds.where(ds.pixel_reliability <= 1)
    assert all(masked[v].dtype.kind == "f" for v in masked.data_vars)
    for guide in (masked, masked.chunk({"y": 16}), masked[["NDVI", "pixel_reliability"]]):
        with pytest.raises(XlstsrError, match="quality or class layers") as e:
            guide_fields(guide)
        assert "pixel_reliability" in str(e.value) and "guide=ds[['NDVI']]" in str(e.value)
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        with pytest.raises(XlstsrError, match="quality or class layers"):
            xlstsr.upscale(lst, 4, "dms", guide=masked, guide_offset="ignore")


def test_float_continuous_predictors_not_refused(scene):
    _, ndvi = scene
    # whole-metre elevations and a float albedo are predictors; a continuous cloud probability
    # named as a quality layer is not made of few whole numbers either
    ds = xr.Dataset({"NDVI": ndvi, "elevation": np.round(200 + ndvi * 300),
                     "albedo": 0.1 + ndvi * 0.2})
    assert set(guide_fields(ds)) == {"NDVI", "elevation", "albedo"}
    both = ds.assign(cloud_probability=ndvi * 0.37)
    assert "cloud_probability" in guide_fields(both)


# -- review 42a: one band of a stack of dates; floats carrying the bands' scales ---------------
def test_one_band_of_a_stack_of_dates_is_placed_by_its_band_number(scene, tmp_path):
    _, ndvi = scene
    g, want_ndvi, want_el = _two_scales(tmp_path, ndvi)
    # two dates of one file: the scales must not be laid out along time
    stack = xr.concat([g, g], dim="time").assign_coords(time=[1, 2])
    np.testing.assert_allclose(decode_guide(stack.sel(band=2)).values,
                               np.stack([want_el, want_el]), atol=0.3)
    np.testing.assert_allclose(decode_guide(stack.sel(band=1)).values,
                               np.stack([want_ndvi, want_ndvi]), atol=1e-4)
    # without a band coordinate the bands cannot be told from the dates: refused
    with pytest.raises(GuideScaleError, match="cannot be told"):
        decode_guide(stack.sel(band=2).drop_vars("band"))


def test_floats_carrying_the_bands_scales_are_refused_naming_scales(scene, tmp_path):
    _, ndvi = scene
    g, _, _ = _two_scales(tmp_path, ndvi)
    by_hand = g.sel(band=1) / 10000.0  # decoded by hand: xarray kept `scales`
    with pytest.raises(GuideScaleError, match=r"carries scales=\(0\.0001, 0\.5\)") as err:
        decode_guide(by_hand)
    assert "g.attrs.pop('scales', None)" in str(err.value)
    assert "pop('scale_factor')" not in str(err.value)
    for k in ("scales", "offsets"):  # the advice followed: accepted as it is
        by_hand.attrs.pop(k, None)
    np.testing.assert_allclose(decode_guide(by_hand).values, ndvi.values, atol=1e-4)

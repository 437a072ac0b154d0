"""Session 36 (g): a guide coarser than the output pixel is interpolated bilinearly (it was
replicated in blocks while the warning said "interpolation"); quality layers named the Earth
Engine way (SummaryQA, DetailedQA, state_1km) or only by their band descriptions are refused
as predictors."""
import re
import warnings

import numpy as np
import pytest
import rasterio
import rioxarray
import xarray as xr
from rasterio.enums import Resampling

import xlstsr
from xlstsr.errors import XlstsrError
from xlstsr.grid import align_guide
from xlstsr.guide import guide_fields


@pytest.fixture(scope="module")
def scene():
    s = xlstsr.datasets.sample_scene(n_times=1, size=32, seed=3)
    return s["lst_1km"], s["ndvi_250m"]


def _align(guide, lst, **kw):
    with warnings.catch_warnings(record=True) as w:
        warnings.simplefilter("always")
        out = align_guide(guide, lst, 4, **kw)
    return np.asarray(out.values), " ".join(str(x.message) for x in w)


def _block_share(a):
    """Share of the 2 x 2 fine blocks (on the guide's 463 m grid lines) holding one value."""
    blk = a[-2 * (a.shape[-2] // 2):, :].reshape(a.shape[-2] // 2, 2, a.shape[-1] // 2, 2)
    return float(np.mean(np.nanmax(blk, axis=(1, 3)) == np.nanmin(blk, axis=(1, 3))))


def test_coarser_than_output_guide_is_interpolated_bilinear(scene):
    lst, ndvi = scene
    g500 = ndvi.coarsen(x=2, y=2).mean().rio.write_crs(ndvi.rio.crs)  # 463 m on 1 km LST, f=4
    out, said = _align(g500, lst)
    assert "interpolated (bilinear)" in said and "coarser than the output" in said
    assert _block_share(out) < 0.2  # the average replicated each guide pixel: share 1.0
    assert np.isfinite(out).all()
    # the lazy path reprojects with the same resampling (GDAL's two calls differ by 1 ulp)
    lazy, _ = _align(g500.chunk({"y": 4}), lst)
    np.testing.assert_allclose(lazy, out, rtol=1e-6, atol=0)
    # the footprint average asked for: said as blocks, not as an interpolation (review 36b)
    _, said = _align(g500, lst, resampling=Resampling.average)
    assert "repeated over a block" in said and "interpolated" not in said


def test_coarser_guide_in_another_crs_is_interpolated(scene):
    lst, ndvi = scene
    g500 = ndvi.coarsen(x=2, y=2).mean().rio.write_crs(ndvi.rio.crs)
    geo = g500.rio.reproject("EPSG:4326", resampling=Resampling.bilinear)
    _, said = _align(geo, lst, min_coverage=0.5)
    assert "in another CRS" in said and "interpolated (bilinear)" in said


@pytest.mark.parametrize("how", ["offset", "finer", "other_crs"])
def test_guides_at_or_finer_than_output_keep_footprint_average(scene, how):
    lst, ndvi = scene
    if how == "offset":  # at the fine resolution, a third of a pixel off: resampled
        g = ndvi.assign_coords(x=ndvi.x + 77.0, y=ndvi.y - 77.0)
    elif how == "finer":
        g = ndvi.rio.reproject(ndvi.rio.crs, resolution=231.65635826395825 / 2,
                               resampling=Resampling.bilinear)
    else:
        g = ndvi.rio.reproject("EPSG:4326", resampling=Resampling.nearest)
    g = g.rio.write_crs(g.rio.crs)
    default, said = _align(g, lst, min_coverage=0.5)
    average, _ = _align(g, lst, min_coverage=0.5, resampling=Resampling.average)
    np.testing.assert_array_equal(default, average)
    assert "interpolated" not in said


def _ndvi_qa(ndvi):
    qa = xr.where(ndvi > 0.5, 0, 1).astype("int8").rio.write_crs(ndvi.rio.crs)
    detailed = (qa.astype("int32") * 2113 + 2116).astype("uint16").rio.write_crs(ndvi.rio.crs)
    return qa, detailed


def test_earth_engine_quality_names_refused(scene):
    lst, ndvi = scene
    qa, detailed = _ndvi_qa(ndvi)
    ds = xr.Dataset({"NDVI": ndvi, "DetailedQA": detailed, "SummaryQA": qa})
    with pytest.raises(XlstsrError, match=r"quality or class layers \['DetailedQA', 'SummaryQA'\]") as e:
        xlstsr.upscale(lst, 4, "dms", guide=ds, guide_offset="ignore")
    # the advice runs
    sel = re.search(r"`guide=(ds\[[^`]*\])`", str(e.value)).group(1)
    assert list(guide_fields(eval(sel, {"ds": ds}))) == ["NDVI"]


@pytest.mark.parametrize("name", ["SummaryQA", "DetailedQA", "StateQA", "state_1km", "QC_500m",
                                  "gflags", "cloudMask", "NDVIQuality"])
def test_quality_names_refused(scene, name):
    _, ndvi = scene
    qa, _ = _ndvi_qa(ndvi)
    with pytest.raises(XlstsrError, match="quality or class layers"):
        guide_fields(xr.Dataset({"NDVI": ndvi, name: qa}))


@pytest.mark.parametrize("name", ["EVI", "albedo", "elevation", "Aqua", "aquatic", "Qatar",
                                  "AquaLST", "landscape_1", "statewide"])
def test_predictor_names_accepted(scene, name):
    _, ndvi = scene
    qa, _ = _ndvi_qa(ndvi)
    assert list(guide_fields(xr.Dataset({"NDVI": ndvi, name: qa}))) == ["NDVI", name]


def _two_band_tif(ndvi, path, second="250m 16 days pixel reliability", scales=(0.0001, 1.0)):
    q = (ndvi * 10000).round().astype("int16")
    rel = xr.where(ndvi > 0.5, 0, 1).astype("int16")
    st = xr.concat([q, rel], "band").assign_coords(band=[1, 2]).rio.write_crs(ndvi.rio.crs)
    st.attrs = {}
    st.rio.write_nodata(-3000).rio.to_raster(path)
    with rasterio.open(path, "r+") as f:
        f.set_band_description(1, "250m 16 days NDVI")
        f.set_band_description(2, second)
        f.scales = scales
    return path


@pytest.mark.parametrize("masked", [False, True])
def test_quality_band_by_description_refused(scene, tmp_path, masked):
    lst, ndvi = scene
    path = _two_band_tif(ndvi, tmp_path / "mod13q1.tif")
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")  # rioxarray: scales differ across bands
        da = rioxarray.open_rasterio(path, masked=masked)
        ds = rioxarray.open_rasterio(path, masked=masked, band_as_variable=True)
    with pytest.raises(XlstsrError, match=r"'band' dim holds quality or class layers "
                                          r"\['250m 16 days pixel reliability'\]") as e:
        xlstsr.upscale(lst, 4, "dms", guide=da, guide_offset="ignore")
    sel = re.search(r"`guide=(guide\.sel\([^`]*\))`", str(e.value)).group(1)
    assert eval(sel, {"guide": da}).sizes["band"] == 1
    with pytest.raises(XlstsrError, match=r"quality or class layers \['band_2'\]"):
        xlstsr.upscale(lst, 4, "dms", guide=ds, guide_offset="ignore")
    # labelled by a text coordinate (a Dataset stacked with to_array)
    named = da.assign_coords(band=["NDVI", "pixel_reliability"]).drop_attrs()
    from xlstsr.guide import prepare_guide
    with pytest.raises(XlstsrError, match=r"\['pixel_reliability'\]"):
        prepare_guide(named, lst, 4, ("time",))


def test_predictor_bands_by_description_accepted(scene, tmp_path):
    _, ndvi = scene
    path = _two_band_tif(ndvi, tmp_path / "two.tif", second="250m 16 days EVI", scales=(1.0, 1.0))
    da = rioxarray.open_rasterio(path)
    assert guide_fields(da) is da
    ds = rioxarray.open_rasterio(path, band_as_variable=True)
    assert list(guide_fields(ds)) == ["band_1", "band_2"]


_MODIS_1KM = 926.625433055833


def _sinusoidal_lst_and_utm_guide(lon: float, lat: float, epsg: int, step: float):
    """A 16 x 16 MODIS-sinusoidal LST at (lon, lat) and a random guide of ``step`` m pixels
    in the UTM zone ``epsg`` over it."""
    from pyproj import Transformer
    from rasterio.crs import CRS

    sin = CRS.from_proj4("+proj=sinu +lon_0=0 +x_0=0 +y_0=0 +R=6371007.181 +units=m +no_defs")
    p, n = _MODIS_1KM, 16
    x0, y0 = Transformer.from_crs(4326, sin, always_xy=True).transform(lon, lat)
    x0, y0 = np.floor(x0 / p) * p, np.floor(y0 / p) * p
    lst = xr.DataArray(np.full((1, n, n), 290.0), dims=("time", "y", "x"),
                       coords={"time": [np.datetime64("2020-06-01")],
                               "y": y0 - (np.arange(n) + .5) * p,
                               "x": x0 + (np.arange(n) + .5) * p}).rio.write_crs(sin)
    b = lst.rio.transform_bounds(epsg)
    gx = np.arange(b[0] - 2000, b[2] + 2000, step)
    gy = np.arange(b[3] + 2000, b[1] - 2000, -step)
    g = xr.DataArray(np.random.default_rng(0).random((gy.size, gx.size)), dims=("y", "x"),
                     coords={"y": gy, "x": gx}).rio.write_crs(epsg)
    return lst, g


def test_a_sheared_finer_guide_in_another_crs_keeps_the_footprint_average():
    """A 200 m UTM guide over a sinusoidal LST at 60 N (output 231.7 m): GDAL's bounding-box
    resolution rated it 385 m, and it was interpolated as "coarser than the output" (review
    36b); the side of its pixel's area is 200 m: the footprint average stays."""
    from xlstsr.grid import align_guide, pixel_side

    lst, g = _sinusoidal_lst_and_utm_guide(100, 60, 32647, 200.0)
    assert pixel_side(g, lst) < _MODIS_1KM / 4  # the premise: finer than the output
    with warnings.catch_warnings(record=True) as caught:
        warnings.simplefilter("always")
        got = align_guide(g, lst, 4)
    assert not any("coarser than the output" in str(w.message) for w in caught)
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        ref = align_guide(g, lst, 4, resampling=Resampling.average)
    np.testing.assert_array_equal(got.values, ref.values)


def test_a_250m_utm_guide_over_modis_at_x4_is_interpolated():
    """A 250 m UTM guide over a sinusoidal LST at x4 (output 231.7 m, 8 % finer) is coarser
    than the output, as the same guide on the LST's CRS is: a 10 % margin for the mapping
    rated it not coarser and its blocks were kept (review 36c)."""
    from xlstsr.grid import align_guide

    lst, g = _sinusoidal_lst_and_utm_guide(3, 45, 32631, 250.0)
    with warnings.catch_warnings(record=True) as caught:
        warnings.simplefilter("always")
        got = align_guide(g, lst, 4)
    assert any("interpolated (bilinear)" in str(w.message) for w in caught)
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        bil = align_guide(g, lst, 4, resampling=Resampling.bilinear)
    np.testing.assert_array_equal(got.values, bil.values)

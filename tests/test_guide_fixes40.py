"""Session 40 (guide): latitude / longitude data variables of a guide Dataset (a NetCDF without
the CF `coordinates` attribute) are refused, set_coords advised; HLS Fmask, Sentinel-2 SCL /
MSK_* and Landsat C1 BQA are quality layers; MOD13's -3000 fill in an int16 NDVI x 10000 band
(only ~2.7 inter-quartile ranges out) is named."""
import numpy as np
import pytest
import xarray as xr

import xlstsr
from xlstsr.errors import UndeclaredFillError, XlstsrError
from xlstsr.guide import guide_fields
from xlstsr.validate import FILL_IQR, suspect_guide_fill


@pytest.fixture(scope="module")
def one():
    s = xlstsr.datasets.sample_scene(n_times=1, size=64, seed=3)
    return s["lst_1km"].isel(time=0, drop=True), s["ndvi_250m"]


def _latlon(ndvi):
    yy, xx = np.meshgrid(ndvi.y.values, ndvi.x.values, indexing="ij")
    return (40.0 + yy * 1e-5).astype("float32"), (-100.0 + xx * 1e-5).astype("float32")


# -- 1: geolocation data variables -----------------------------------------------------------------

@pytest.mark.parametrize("names, attrs", [
    (("lat", "lon"), ({}, {})),
    (("latitude", "longitude"), ({}, {})),
    # named otherwise, told by their CF standard_name or units
    (("g1", "g2"), ({"standard_name": "latitude"}, {"standard_name": "longitude"})),
    (("g1", "g2"), ({"units": "degrees_north"}, {"units": "degrees_east"})),
])
def test_latlon_data_variables_are_refused_with_set_coords(one, names, attrs):
    _, ndvi = one
    lat, lon = _latlon(ndvi)
    ds = xr.Dataset({"NDVI": ndvi,
                     names[0]: (ndvi.dims, lat, attrs[0]),
                     names[1]: (ndvi.dims, lon, attrs[1])})
    with pytest.raises(XlstsrError, match=r"geolocation fields.*beside its bands \['NDVI'\]"
                                          r".*ds\.set_coords\(.*guide=ds\[\['NDVI'\]\]"):
        guide_fields(ds)
    # as coordinates (what set_coords makes) they are no field
    assert list(guide_fields(ds.set_coords(list(names)))) == ["NDVI"]


def test_latlon_data_variables_are_not_dms_predictors(one):
    lst, ndvi = one
    lat, lon = _latlon(ndvi)
    ds = xr.Dataset({"NDVI": ndvi, "lat": (ndvi.dims, lat), "lon": (ndvi.dims, lon)})
    with pytest.raises(XlstsrError, match=r"geolocation fields \['lat', 'lon'\]"):
        xlstsr.upscale(lst, 4, "tsharp", guide=ds, guide_offset="ignore")
    out = xlstsr.upscale(lst, 4, "tsharp", guide=ds.set_coords(["lat", "lon"]),
                         guide_offset="ignore")
    assert np.isfinite(out).any()


def test_geolocation_alone_names_no_band(one):
    _, ndvi = one
    lat, lon = _latlon(ndvi)
    ds = xr.Dataset({"lat": (ndvi.dims, lat), "lon": (ndvi.dims, lon)},
                    coords={"y": ndvi.y, "x": ndvi.x})
    with pytest.raises(XlstsrError, match=r"geolocation fields.*and no band"):
        guide_fields(ds)


def test_bands_named_like_geolocation_words_stay(one):
    _, ndvi = one
    ds = xr.Dataset({"NDVI": ndvi, "lateral_flow": ndvi * 2, "longwave_albedo": ndvi + 1})
    assert list(guide_fields(ds)) == ["NDVI", "lateral_flow", "longwave_albedo"]


# -- 2: HLS / Sentinel-2 / Landsat C1 quality layers ---------------------------------------------

@pytest.mark.parametrize("name, dtype", [
    ("Fmask", "uint8"), ("SCL", "uint8"), ("BQA", "uint16"), ("MSK_CLDPRB", "uint8"),
    ("cloud-mask", "uint8"), ("Cloud_Probability", "uint8"),
])
def test_hls_s2_landsat_quality_layers_are_refused(one, name, dtype):
    _, ndvi = one
    q = xr.where(ndvi > 0.4, 4, 5).astype(dtype)
    with pytest.raises(XlstsrError, match=rf"quality or class layers \['{name}'\] beside its "
                                          r"bands \['NDVI'\]"):
        guide_fields(xr.Dataset({"NDVI": ndvi, name: q}))


@pytest.mark.parametrize("name", ["scale_height", "bands_scaled", "landscape", "bqa_like_ndvi"])
def test_words_holding_the_quality_names_stay_bands(one, name):
    _, ndvi = one
    if name == "bqa_like_ndvi":  # named as a part, but a float band (a scaled one) is none
        band = ndvi * 1.0
    else:
        band = (ndvi * 100).round().astype("int16")
    assert list(guide_fields(xr.Dataset({"NDVI": ndvi, name: band}))) == ["NDVI", name]


def test_quality_descriptions_in_a_band_dim_are_refused(one):
    _, ndvi = one
    g = xr.concat([(ndvi * 1e4).round().astype("int16"),
                   xr.where(ndvi > 0.4, 4, 5).astype("int16")], "band")
    g = g.assign_coords(band=[1, 2])
    g.attrs["long_name"] = ("NDVI", "SCL")
    with pytest.raises(XlstsrError, match=r"quality or class layers \['SCL'\]"):
        guide_fields(g)


# -- 3: MOD13's -3000 fill in an int16 NDVI x 10000 band -------------------------------------------

def _ndvi_x10000(share_rows=3, n=128, seed=0):
    rng = np.random.default_rng(seed)
    # an NDVI x 10000 scene from water (-0.15) to forest (0.9): inter-quartile range ~4000
    v = np.round(rng.uniform(-1500, 9000, (n, n))).astype("int16")
    v[:share_rows] = -3000
    return v


def test_mod13_fill_inside_three_iqr_is_named():
    v = _ndvi_x10000()
    rest = v[v != -3000].astype(float)
    q25, q75 = np.percentile(rest, [25, 75])
    assert (q25 + 3000) / (q75 - q25) < FILL_IQR  # the spread rule alone missed it
    assert suspect_guide_fill(v) == (-3000.0, pytest.approx(3 / 128))
    # read masked-as-float (whole numbers in float32) as well
    assert suspect_guide_fill(v.astype("float32"))[0] == -3000.0


def test_mod13_fill_refused_by_upscale(one):
    lst, ndvi = one
    # a GeoTIFF band without name, scale or nodata tags (NDVI by name was told by its range)
    raw = (ndvi * 1e4).round().astype("int16").rename("band_1")
    raw[:6, :6] = -3000  # a cloud block of the composite, fill undeclared
    raw.attrs = {}
    with pytest.raises(UndeclaredFillError, match=r"-3000"):
        xlstsr.upscale(lst, 4, "tsharp", guide=raw.rio.write_crs(ndvi.rio.crs),
                       guide_offset="ignore")


@pytest.mark.parametrize("case", ["dem_below_range", "float_ndvi", "inside_range"])
def test_legitimate_values_near_the_sentinel_stay(case):
    rng = np.random.default_rng(1)
    if case == "dem_below_range":  # bathymetry and land in metres, down to -2800 m
        v = np.round(rng.uniform(-2800, 3000, (128, 128)))
        v[:3] = -3000
    elif case == "float_ndvi":  # decoded floats: the product's range is of whole numbers
        v = rng.uniform(-0.15, 0.9, (128, 128)) * 1e4
        v[:3] = -3000.0
    else:  # a value apart above the range that is no product's fill
        v = np.round(rng.uniform(-1500, 9000, (128, 128)))
        v[:3] = 12000  # above, but not a sentinel
    assert suspect_guide_fill(v) is None

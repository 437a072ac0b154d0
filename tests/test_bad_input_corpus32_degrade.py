"""coarsen's front door as upscale's: boundary="trim" with an emissivity on the LST's grid, the
same trim (north-up, upper-left anchored) whatever the storage order, an LST with a written
transform and no y/x coordinates, ``mask_out_of_range`` as the range refusal advises; GDAL's
STATISTICS_* attributes of the input not carried to coarsen's nor upscale's output."""

import warnings

import dask.array as dsa
import numpy as np
import pytest
import rasterio
import rioxarray  # noqa: F401
import xarray as xr
from affine import Affine

import xlstsr
from xlstsr.errors import PhysicalRangeError

RES, X0, Y0 = 250.0, 500000.0, 4000000.0


def _field(ny=30, nx=30, seed=0):
    rng = np.random.default_rng(seed)
    x = X0 + RES * (np.arange(nx) + 0.5)
    y = Y0 - RES * (np.arange(ny) + 0.5)
    return xr.DataArray(290 + 10 * rng.random((ny, nx)), dims=("y", "x"),
                        coords={"y": y, "x": x}, name="lst",
                        attrs={"units": "K"}).rio.write_crs("EPSG:32633")


def _radiometric(v, f, eps=None):
    """Independent ``(sum eps T^4 / sum eps)^(1/4)`` over f x f blocks (no gaps)."""
    ny, nx = v.shape[0] // f * f, v.shape[1] // f * f
    v = v[:ny, :nx]
    e = np.ones_like(v) if eps is None else eps[:ny, :nx]
    b = (e * v ** 4).reshape(ny // f, f, nx // f, f).sum(axis=(1, 3))
    w = e.reshape(ny // f, f, nx // f, f).sum(axis=(1, 3))
    return (b / w) ** 0.25


def _quiet(fn, *args, **kwargs):
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        return fn(*args, **kwargs)


def test_trim_with_an_emissivity_on_the_lsts_grid():
    """An emissivity on the LST's own grid was refused as "not on the LST's grid" with
    boundary="trim" (checked against the trimmed LST), the advice (reproject_match) too."""
    lst = _field()
    eps = lst.copy(data=0.9 + 0.1 * np.random.default_rng(3).random(lst.shape)).rename("emis")
    expected = _radiometric(lst.values, 4, eps.values)
    out = _quiet(xlstsr.coarsen, lst, 4, boundary="trim", emissivity=eps)
    assert out.shape == expected.shape
    np.testing.assert_allclose(out.values, expected, rtol=0, atol=1e-9)
    # the weighting is used (not silently dropped): the unweighted aggregate differs
    assert np.abs(out.values - _radiometric(lst.values, 4)).max() > 1e-6
    # stored south-up, the emissivity is trimmed as the LST (the same north-up result)
    south = _quiet(xlstsr.coarsen, lst, 4, boundary="trim",
                   emissivity=eps.isel(y=slice(None, None, -1)))
    np.testing.assert_allclose(south.values, expected, rtol=0, atol=1e-9)
    ds = xr.Dataset({"lst": lst, "emis": eps})
    acc = _quiet(ds.lstsr.coarsen, 4, boundary="trim", emissivity="emis")
    np.testing.assert_allclose(acc.values, expected, rtol=0, atol=1e-9)
    # lazy: still lazy, same values
    lazy = _quiet(xlstsr.coarsen, lst.chunk({"y": 8}), 4, boundary="trim",
                  emissivity=eps.chunk({"y": 8}))
    assert isinstance(lazy.data, dsa.Array)
    np.testing.assert_allclose(lazy.values, expected, rtol=0, atol=1e-9)


@pytest.mark.parametrize("chunked", [False, True])
def test_trim_drops_the_same_pixels_whatever_the_storage_order(chunked):
    """boundary="trim" kept the southern rows of a field stored south-up (a coarse grid 500 m
    off the north-up one's), and coarsen returned south-up grids (the docs: north-up)."""
    north = _field(30, 29)
    expected = _radiometric(north.values, 4)  # north-up: the last (southern/eastern) rows dropped
    flips = ({"y": slice(None, None, -1)}, {"x": slice(None, None, -1)},
             {"y": slice(None, None, -1), "x": slice(None, None, -1)})
    ref = _quiet(xlstsr.coarsen, north, 4, boundary="trim")
    for flip in flips:
        stored = north.isel(flip)
        if chunked:
            stored = stored.chunk({"y": 8, "x": 8})
        out = _quiet(xlstsr.coarsen, stored, 4, boundary="trim")
        assert isinstance(out.data, dsa.Array) == chunked
        assert out.y.values[0] > out.y.values[-1] and out.x.values[0] < out.x.values[-1]
        np.testing.assert_array_equal(out.y.values, ref.y.values)
        np.testing.assert_array_equal(out.x.values, ref.x.values)
        np.testing.assert_allclose(out.values, expected, rtol=0, atol=1e-9)
        assert out.rio.transform() == ref.rio.transform()
        assert out.rio.transform() == Affine(4 * RES, 0, X0, 0, -4 * RES, Y0)


def test_coarsen_takes_a_written_transform_without_coordinates():
    """An LST with a written transform and no y/x coordinates (what the refusals advise, and
    upscale takes) was refused as having "no transform"."""
    v = 290 + 10 * np.random.default_rng(0).random((16, 16))
    t = Affine(RES, 0, X0, 0, -RES, Y0)
    bare = (xr.DataArray(v, dims=("y", "x"), attrs={"units": "K"})
            .rio.write_crs("EPSG:32633").rio.write_transform(t))
    assert "y" not in bare.coords and "x" not in bare.coords
    out = _quiet(xlstsr.coarsen, bare, 4)
    assert out.rio.transform().almost_equals(t * Affine.scale(4))
    np.testing.assert_allclose(out.values, _radiometric(v, 4), rtol=0, atol=1e-9)
    np.testing.assert_allclose(out.x.values, X0 + 4 * RES * (np.arange(4) + 0.5))


@pytest.mark.parametrize("how", ["function", "dataarray", "dataset", "dataset_emissivity"])
def test_mask_out_of_range_as_the_refusal_advises(how):
    """The range refusal says "pass `mask_out_of_range=True`": coarsen and its accessors raised
    TypeError on it."""
    lst = _field(32, 32)
    v = lst.values.copy()
    v[3, 3], v[10, 10] = 120.0, 420.0  # two corrupt pixels, in blocks (0, 0) and (2, 2)
    bad = lst.copy(data=v)
    with pytest.raises(PhysicalRangeError, match="mask_out_of_range=True"):
        _quiet(xlstsr.coarsen, bad, 4)
    eps = xr.full_like(lst, 0.97).rename("emis")
    calls = {
        "function": lambda: xlstsr.coarsen(bad, 4, mask_out_of_range=True),
        "dataarray": lambda: bad.lstsr.coarsen(4, mask_out_of_range=True),
        "dataset": lambda: bad.to_dataset().lstsr.coarsen(4, mask_out_of_range=True),
        "dataset_emissivity": lambda: xr.Dataset({"lst": bad, "emis": eps}).lstsr.coarsen(
            4, emissivity="emis", mask_out_of_range=True),
    }
    out = _quiet(calls[how])
    expected = _radiometric(v, 4)
    expected[0, 0] = expected[2, 2] = np.nan  # min_valid=1: a masked pixel makes a gap
    np.testing.assert_allclose(out.values, expected, rtol=0, atol=1e-9)
    with pytest.raises(xlstsr.errors.XlstsrError, match="mask_out_of_range"):
        _quiet(xlstsr.coarsen, bad, 4, mask_out_of_range="no")


_STATS = {"STATISTICS_MAXIMUM": 999.0, "STATISTICS_MINIMUM": 1.0, "STATISTICS_MEAN": 500.0,
          "STATISTICS_STDDEV": 50.0, "STATISTICS_VALID_PERCENT": 100.0}


@pytest.mark.parametrize("op", ["coarsen", "upscale"])
def test_gdal_statistics_of_the_input_are_not_carried(op, tmp_path):
    """The input GeoTIFF's STATISTICS_* (rioxarray reads them as attrs) were kept: the output
    claimed the fine field's maximum, and rio.to_raster wrote it into the new file."""
    lst = _field(16, 16)
    lst.attrs.update(_STATS, source="a GeoTIFF")
    if op == "coarsen":
        out = _quiet(xlstsr.coarsen, lst, 4)
    else:
        out = _quiet(xlstsr.upscale, lst, 2, method="bicubic")
    assert not [k for k in out.attrs if k.upper().startswith("STATISTICS_")]
    assert out.attrs["source"] == "a GeoTIFF"  # the other attributes are kept
    path = tmp_path / f"{op}.tif"
    out.rio.to_raster(path)
    with rasterio.open(path) as src:
        tags = src.tags(1) | src.tags()
    for k in _STATS:
        assert tags.get(k) is None or abs(float(tags[k]) - _STATS[k]) > 1e-6, (k, tags.get(k))

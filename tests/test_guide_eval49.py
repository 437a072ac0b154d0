"""Session 49 fixes (probe 49 R2 findings 2, 4, 7): grid advice for a Dataset guide runs when
followed (it was written on one variable, which the Dataset aligned back onto its irregular
labels, blanking a column); a GeoTIFF guide read with plain rioxarray has its band
descriptions (the tuple long_name) read as labels by the swapped-bands check; evaluate warns
of a partly fill-mixed border kept at erode=1 (a sharp cold step against the pixels 4-5 px
in, under the 20 K bound against the rest), not of colder land along a masked sea."""

from __future__ import annotations

import re
import warnings

import numpy as np
import pytest
import xarray as xr
from test_datasets_eval48 import _grid

import xlstsr
from xlstsr.errors import GridError, GuideScaleError
from xlstsr.guide import check_guide_labels, guide_labels


def _codes(msg: str) -> list[str]:
    return re.findall(r"`([^`]+)`", msg)


# -- R2/2: grid advice for a Dataset guide -------------------------------------------------------

def _scene():
    s = xlstsr.datasets.sample_scene(n_times=1, size=32)
    lst = s["lst_1km"].isel(time=0, drop=True)
    ndvi = s["ndvi_250m"]
    ndvi = ndvi.isel(time=0, drop=True) if "time" in ndvi.dims else ndvi
    return lst, ndvi


@pytest.mark.parametrize("extra", [False, True])
def test_dataset_guide_grid_advice_runs_when_followed(extra):
    lst, ndvi = _scene()
    x = ndvi.x.values.copy()
    x[10] += 60.0  # one label moved: an irregular grid
    ds = xr.Dataset({"ndvi": ndvi.assign_coords(x=x)})
    if extra:  # a second band on the same grid, and a non-field (grid mapping) variable
        ds["dem"] = ds["ndvi"] * 100 + 50.0
        ds["crs"] = xr.DataArray(0)
    with pytest.raises(GridError) as err:
        xlstsr.upscale(lst, 4, "dms", guide=ds)
    msg = str(err.value)
    codes = [c for c in _codes(msg) if "interp" in c]
    assert codes and all(c.startswith("guide = ") for c in codes), msg
    ns = {"guide": ds, "np": np}
    for c in codes:
        exec(c, ns)
    guide = ns["guide"]
    for k in ["ndvi"] + (["dem"] if extra else []):
        band = guide[k]
        assert float(np.ptp(np.diff(band.x.values))) < 1e-6  # regular now
        assert not bool(band.isnull().all("y").any())  # no column blanked
    out = xlstsr.upscale(lst, 4, "dms", guide=guide)
    assert out.sizes["x"] == 4 * lst.sizes["x"]


# -- R2/7: band descriptions of a GeoTIFF read with plain rioxarray -----------------------------

@pytest.fixture
def described_tif(tmp_path):
    rasterio = pytest.importorskip("rasterio")
    rioxarray = pytest.importorskip("rioxarray")
    _, ndvi = _scene()
    g = xr.concat([0.1 + 0 * ndvi, ndvi], "band").assign_coords(band=[1, 2])
    path = str(tmp_path / "guide2.tif")
    g.rio.to_raster(path)
    with rasterio.open(path, "r+") as f:
        f.set_band_description(1, "red")
        f.set_band_description(2, "ndvi")
    return rioxarray.open_rasterio(path)


def test_rioxarray_band_descriptions_are_guide_labels(described_tif):
    g = described_tif
    assert tuple(g.attrs["long_name"]) == ("red", "ndvi") and "band_description" not in g.coords
    assert guide_labels(g) == ["red", "ndvi"]
    # the same labels as open_cog gives; a reordering keeps rioxarray's tuple whole
    assert guide_labels(xlstsr.io.open_cog(g.encoding["source"])) == ["red", "ndvi"]
    assert guide_labels(g.isel(band=[1, 0])) == ["ndvi", "red"]


def test_rioxarray_described_swap_is_refused_and_its_advice_runs(described_tif):
    g = described_tif
    with pytest.raises(GuideScaleError) as err:
        check_guide_labels(guide_labels(g), ["ndvi", "red"], "disr")
    code = [c for c in _codes(str(err.value)) if "isel(band" in c or "sel(band" in c]
    assert code, str(err.value)
    ns = {"guide": g}
    exec(code[0], ns)
    check_guide_labels(guide_labels(ns["guide"]), ["ndvi", "red"], "disr")


def test_partial_or_absent_descriptions_label_nothing(described_tif):
    g = described_tif.copy()
    g.attrs["long_name"] = ("red", "")
    assert guide_labels(g) == [None, None]
    g.attrs.pop("long_name")
    assert guide_labels(g) == [None, None]


# -- R2/4: the partly mixed border at erode=1 --------------------------------------------------

RING = "reference pixels kept next to its gaps"
ASTER = {"reference_scale": 0.1, "reference_nodata": 0, "valid_min": 230, "clear": True}


def _aster_like(n: int = 128, shape: str = "square"):
    """(stored K x 10 with a 0 fill outside a square or diamond scene whose 3 outer pixels are mixed
    with it: 40 % (under valid_min), 20 %, then 3 % (about 9 K colder, under the 20 K bound);
    a diamond's border runs diagonally; sr in K on the same grid)."""
    rng = np.random.default_rng(0)
    y, x = np.mgrid[0:n, 0:n] / n
    t = 305 + 6 * np.sin(6 * x) * np.cos(4 * y) + rng.normal(0, 1.0, (n, n))
    yy, xx = np.mgrid[0:n, 0:n] - (n - 1) / 2
    # > 0 inside: px from the fill (by 4-neighbours)
    depth = (0.42 * n - np.maximum(np.abs(xx), np.abs(yy)) if shape == "square"
             else 0.62 * n - (np.abs(xx) + np.abs(yy)))
    mix = np.select([depth < 1, depth < 2, depth < 3], [0.6, 0.8, 0.97], 1.0)
    stored = np.where(depth > 0, mix * t, 0.0) * 10
    sr = _grid(t + rng.normal(0, 1.0, t.shape))
    sr.attrs["units"] = "K"
    return _grid(np.round(stored).astype("int16")), sr


def _evaluate(sr, ref, **kw):
    with warnings.catch_warnings(record=True) as rec:
        warnings.simplefilter("always")
        ds = xlstsr.evaluate(sr, ref, **kw)
    return ds, [str(w.message) for w in rec if RING in str(w.message)]


@pytest.mark.parametrize("shape", ["square", "diamond"])
def test_partly_mixed_border_at_erode_1_warns_and_the_advice_works(shape):
    ref, sr = _aster_like(shape=shape)
    ds1, w1 = _evaluate(sr, ref, erode=1, **ASTER)
    assert len(w1) == 1 and "colder than those 4-5 px further in" in w1[0], w1
    code = re.findall(r"erode=(\d+)\)", w1[0])
    assert code == ["3"], w1[0]
    ds3, w3 = _evaluate(sr, ref, erode=int(code[0]), **ASTER)
    assert w3 == []
    assert float(ds1["rmse"]) > float(ds3["rmse"]) + 0.3  # the band it warned of
    _, w2 = _evaluate(sr, ref, erode=2, **ASTER)  # the mixed band dropped: no word
    assert w2 == []


def _coast(n: int = 96, sharp: bool = True):
    """Land beside a masked sea (NaN, a quarter of the scene), colder along the coast: a 12 px
    strip 12 K colder (``sharp``), or 20 K colder at the coast fading over 10 px."""
    rng = np.random.default_rng(3)
    t = 305 + rng.normal(0, 1.0, (n, n))
    d = np.arange(n)[None, :] - n // 4 + 0.0  # px from the coast, > 0 on land
    t = t - (np.where(d < 12, 12.0, 0.0) if sharp else 20 * np.exp(-d / 10))
    ref = _grid(np.where(np.broadcast_to(d, t.shape) > 0, t, np.nan))
    ref.attrs["units"] = "K"
    return ref, ref.fillna(305.0) + 0.3


@pytest.mark.parametrize("sharp", [True, False])
@pytest.mark.parametrize("erode", [0, 1, 3])
def test_colder_land_along_a_masked_sea_is_not_taken_for_a_mixed_ring(sharp, erode):
    ref, sr = _coast(sharp=sharp)
    _, w = _evaluate(sr, ref, erode=erode)
    assert w == []


@pytest.mark.parametrize("pid", ["115", "082", "102"])
def test_real_aster_border_kept_at_erode_1_warns(shared_data, pid):
    rioxarray = pytest.importorskip("rioxarray")
    folder = shared_data / "modis_aster"
    lst = rioxarray.open_rasterio(folder / f"{pid}_modis_lst_1km.tif").isel(band=0, drop=True)
    ast = rioxarray.open_rasterio(folder / f"{pid}_aster_lst_250m.tif").isel(band=0, drop=True)
    sr = xlstsr.upscale(lst.load(), 4, "bicubic")
    ds1, w1 = _evaluate(sr, ast.load(), erode=1, **ASTER)
    ds3, w3 = _evaluate(sr, ast, erode=3, **ASTER)
    assert len(w1) == 1 and w3 == []
    assert float(ds1["rmse"]) > float(ds3["rmse"]) + 0.4  # what went unsaid (115: 2.02 vs 1.39 K)

"""open_stac (probe 41w): a kernel resampling onto another grid gave values that changed with
chunks=, items of two CRSs were put on the most common one without a word, the bbox refusal
did not name the output CRS, and time=slice(a, b) got advice with made-up dates."""

from __future__ import annotations

import datetime as dt
import warnings

import numpy as np
import pystac
import pytest
import rasterio
from affine import Affine
from pyproj import Transformer

from xlstsr.errors import NoOverlapError, XlstsrError
from xlstsr.io import open_stac

N = 40  # pixels per side of each file, 1 km


def _item(tmp_path, epsg: int, day: int, name: str | None = None) -> pystac.Item:
    """A uint16 item (DN x 0.02 = K, nodata 0, every pixel its own value) of the ground near
    12 E, 45 N in UTM zone ``epsg``, at 10:30 UTC on 2020-08-``day``."""
    x, y = Transformer.from_crs(4326, epsg, always_xy=True).transform(12.0, 45.0)
    x0, y0 = round(x, -3) - N * 500, round(y, -3) + N * 500
    transform = Affine(1000, 0, x0, 0, -1000, y0)
    path = tmp_path / f"{name or epsg}.tif"
    if not path.exists():
        data = 14000 + np.random.default_rng(epsg).integers(0, 1000, (N, N)).astype(np.uint16)
        with rasterio.open(path, "w", driver="GTiff", width=N, height=N, count=1,
                           dtype="uint16", crs=f"EPSG:{epsg}", transform=transform,
                           nodata=0) as dst:
            dst.write(data, 1)
    w, s, e, n = Transformer.from_crs(epsg, 4326, always_xy=True).transform_bounds(
        x0, y0 - N * 1000, x0 + N * 1000, y0, densify_pts=21)
    geom = {"type": "Polygon", "coordinates": [[[w, s], [e, s], [e, n], [w, n], [w, s]]]}
    it = pystac.Item(f"I{epsg}-{day}", geom, [w, s, e, n],
                     dt.datetime(2020, 8, day, 10, 30, tzinfo=dt.timezone.utc),
                     {"proj:code": f"EPSG:{epsg}", "proj:transform": list(transform)[:6],
                      "proj:shape": [N, N]})
    band = {"nodata": 0, "scale": 0.02, "offset": 0.0, "unit": "K", "data_type": "uint16"}
    it.add_asset("lst", pystac.Asset(str(path), media_type="image/tiff", roles=["data"],
                                     extra_fields={"raster:bands": [band]}))
    it.stac_extensions = ["https://stac-extensions.github.io/projection/v2.0.0/schema.json",
                          "https://stac-extensions.github.io/raster/v1.1.0/schema.json"]
    return it


@pytest.mark.parametrize("resampling", ["bilinear", "cubic"])
def test_kernel_resampling_does_not_depend_on_chunks(tmp_path, resampling):
    """GDAL sized the kernel by each chunk's warp: up to 0.2 K apart between chunk layouts."""
    items = [_item(tmp_path, 32633, 2)]
    # 0.012 degrees: finer than 1 km east-west, coarser north-south (the kernel is widened)
    kw = dict(crs="EPSG:4326", resolution=0.012, bbox=(11.85, 44.88, 12.15, 45.12),
              resampling=resampling)
    whole = open_stac(items, "lst", chunks={"y": -1, "x": -1}, **kw)
    small = open_stac(items, "lst", chunks={"y": 7, "x": 5}, **kw)
    assert small.chunks[-1][0] == 5 and small.chunks[-2][0] == 7  # the chunks asked for
    assert np.isfinite(whole.values).sum() > 300
    np.testing.assert_array_equal(small.values, whole.values)


def test_nearest_still_warped_by_chunks(tmp_path):
    """Nearest resampling is loaded as before: each chunk warped on its own."""
    items = [_item(tmp_path, 32633, 2)]
    kw = dict(crs="EPSG:4326", resolution=0.012, bbox=(11.85, 44.88, 12.15, 45.12))
    a = open_stac(items, "lst", chunks={"y": 7, "x": 5}, **kw)
    assert a.chunks[-1][0] == 5 and a.chunks[-2][0] == 7
    assert len(a.data.dask) > len(open_stac(items, "lst", **kw).data.dask)  # more reads


def test_items_of_two_crs_are_said(tmp_path):
    """The EPSG:32632 item was nearest-resampled onto EPSG:32633 without a word."""
    items = [_item(tmp_path, 32633, 2), _item(tmp_path, 32632, 3), _item(tmp_path, 32633, 4)]
    with pytest.warns(UserWarning, match=r"2 CRSs \(EPSG:32633: 2 items, EPSG:32632: 1 item\)"
                      r".* most common one, EPSG:32633.*resampling='nearest'.*Pass `crs=`"):
        da = open_stac(items, "lst")
    assert da.rio.crs.to_epsg() == 32633  # the most common CRS, as before
    with warnings.catch_warnings():  # an output CRS chosen: nothing to say
        warnings.simplefilter("error", UserWarning)
        open_stac(items, "lst", crs="EPSG:32633", resampling="bilinear")
        open_stac(items[::2], "lst")  # one CRS


def test_bbox_refusal_names_the_output_crs(tmp_path):
    """"meets none of the items ... in the output CRS" did not say which one the output got."""
    items = [_item(tmp_path, 32632, 3), _item(tmp_path, 32633, 2), _item(tmp_path, 32633, 4)]
    x, y = Transformer.from_crs(4326, 32632, always_xy=True).transform(12.0, 45.0)
    bbox = (x - 3000, y - 3000, x + 3000, y + 3000)  # in the first item's CRS
    with pytest.raises(NoOverlapError, match=r"in the output CRS, EPSG:32633 \(the items are in "
                       r"2 CRSs: EPSG:32633: 2 items, EPSG:32632: 1 item"):
        open_stac(items, "lst", bbox=bbox)


def test_time_slice_advice_quotes_the_slice(tmp_path):
    """time=slice(a, b) was advised .sel(time=slice('2020-04-01', '2020-04-30'))."""
    items = [_item(tmp_path, 32633, 2), _item(tmp_path, 32633, 4, name="b")]
    with pytest.raises(XlstsrError, match=r"sel\(time=slice\('2020-08-01', '2020-08-03'\)\)"):
        open_stac(items, "lst", time=slice("2020-08-01", "2020-08-03"))
    with pytest.raises(XlstsrError, match=r"slice\(None, '2020-08-03'\)"):
        open_stac(items, "lst", time=slice(None, "2020-08-03"))
    with pytest.raises(XlstsrError) as err:  # not dates: no made-up ones either
        open_stac(items, "lst", time=slice("soon", "later"))
    assert "2020-04" not in str(err.value) and "'YYYY-MM-DD'" in str(err.value)

"""open_stac on items that declare a NaN nodata ("nan", the raster extension's spelling for
float assets): identical codings were counted as different (NaN equals no NaN) and refused as
'the items disagree on how asset ... is stored'."""

from __future__ import annotations

import datetime

import numpy as np
import pystac
import pytest
import rasterio
from rasterio.transform import from_origin

from xlstsr.io.stac import band_coding, open_stac

pytest.importorskip("odc.stac", reason="odc-stac is not installed")

TRANSFORM = from_origin(500000, 4000000, 1000, 1000)


def _items(tmp_path, nodata="nan", v2=False):
    items = []
    for day in (1, 2):
        path = tmp_path / f"lst_{day}.tif"
        a = np.full((8, 8), 300.0 + day, "float32")
        a[0, 0] = np.nan
        with rasterio.open(path, "w", driver="GTiff", width=8, height=8, count=1,
                           dtype="float32", crs="EPSG:32631", transform=TRANSFORM,
                           nodata=np.nan) as dst:
            dst.write(a, 1)
        item = pystac.Item(f"i{day}", {"type": "Point", "coordinates": [3, 36]},
                           [2.9, 36, 3.1, 36.1], datetime.datetime(2020, 1, day, 10, 30),
                           properties={"proj:code": "EPSG:32631", "proj:shape": [8, 8],
                                       "proj:transform": list(TRANSFORM)[:6]})
        item.stac_extensions = [
            "https://stac-extensions.github.io/projection/v2.0.0/schema.json",
            "https://stac-extensions.github.io/raster/v1.1.0/schema.json"]
        coding = {"nodata": nodata, "data_type": "float32", "unit": "K"}
        extra = coding if v2 else {"raster:bands": [coding]}
        item.add_asset("lst", pystac.Asset(str(path), extra_fields=extra))
        items.append(item)
    return items


@pytest.mark.parametrize("v2", [False, True], ids=["raster:bands", "v2 fields"])
def test_nan_nodata_of_several_items_is_one_coding(tmp_path, v2):
    coding = band_coding(_items(tmp_path, v2=v2), "lst")
    assert coding is not None and np.isnan(coding.nodata) and coding.unit == "K"


def test_nan_nodata_items_open_with_their_gaps(tmp_path):
    da = open_stac(_items(tmp_path), "lst")
    assert da.sizes["time"] == 2
    v = da.values
    assert np.isnan(v[:, 0, 0]).all()  # the files' NaN pixels stay gaps
    assert np.allclose(np.nanmean(v, axis=(1, 2)), [301.0, 302.0])


def test_items_of_other_nodata_still_disagree(tmp_path):
    items = _items(tmp_path)
    items[1].assets["lst"].extra_fields["raster:bands"][0]["nodata"] = -9999
    with pytest.raises(Exception, match="disagree"):
        band_coding(items, "lst")

"""open_cog takes a file's overpass from its MODIS-style name when its tags do not give one
(probe 45n2/01: untagged ``..._LST_Night_1km.tif`` files came back of no overpass, and a night
field scored against a day truth was not warned)."""

from __future__ import annotations

import numpy as np
import pytest
import rasterio
from rasterio.transform import from_origin

from xlstsr.io import open_cog


def _write(path, count=1, descriptions=None):
    with rasterio.open(path, "w", driver="GTiff", height=8, width=8, count=count,
                       dtype="uint16", nodata=0, crs="EPSG:32633",
                       transform=from_origin(1e6, 5.5e6, 1000, 1000)) as ds:
        for b in range(1, count + 1):
            ds.write(np.full((8, 8), 14500, "uint16"), b)
            if descriptions:
                ds.set_band_description(b, descriptions[b - 1])
        ds.scales = (0.02,) * count
        ds.offsets = (0.0,) * count
    return path


@pytest.mark.parametrize("name, want", [
    ("MOD11A1.A2020208.h18v04.061_LST_Night_1km.tif", "night"),
    ("MOD11A1.A2020208.h18v04.061_LST_Day_1km.tif", "day"),
    ("MOD21A1N.A2020208.h18v04.061_LST_1KM.tif", "night"),
    ("MOD21A1D.A2020208.h18v04.061_LST_1KM.tif", "day"),
    ("scene_2020-07-26.tif", None),
])
def test_untagged_file_overpass_from_its_name(tmp_path, name, want):
    da = open_cog(_write(tmp_path / name))
    assert da.attrs.get("day_night") == want


def test_band_descriptions_of_both_overpasses_not_labelled_by_the_name(tmp_path):
    path = _write(tmp_path / "MOD11A1.A2020208.h18v04.061_LST_Night_1km.tif", count=2,
                  descriptions=["LST_Day_1km", "LST_Night_1km"])
    assert "day_night" not in open_cog(path).attrs

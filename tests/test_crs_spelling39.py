"""The same CRS spelled two ways (GDAL's '+nadgrids=@null +wktext' MODIS sinusoidal against the
plain one) is one CRS: a guide on the fine grid was resampled as "in another CRS" instead of
nested, and the output moved by up to 4.7 K (probe 39x)."""

from __future__ import annotations

import warnings

import numpy as np
import pytest

import xlstsr
from xlstsr.errors import GuideAlignmentWarning
from xlstsr.validate import crs_mismatch

SINU_GDAL = "+proj=sinu +lon_0=0 +x_0=0 +y_0=0 +R=6371007.181 +units=m +nadgrids=@null +wktext +no_defs"


@pytest.fixture
def scene():
    # as the MODIS GeoTIFFs hold it (GDAL's WKT of the sphere, "Custom spheroid")
    wkt = ('PROJCS["unnamed",GEOGCS["Unknown datum based upon the custom spheroid",DATUM['
           '"Not specified (based on custom spheroid)",SPHEROID["Custom spheroid",6371007.181,'
           '0]],PRIMEM["Greenwich",0],UNIT["degree",0.0174532925199433,AUTHORITY["EPSG","9122"]'
           ']],PROJECTION["Sinusoidal"],PARAMETER["longitude_of_center",0],PARAMETER['
           '"false_easting",0],PARAMETER["false_northing",0],UNIT["metre",1,AUTHORITY["EPSG",'
           '"9001"]],AXIS["Easting",EAST],AXIS["Northing",NORTH]]')
    s = xlstsr.datasets.sample_scene(n_times=1, size=32)
    return s["lst_1km"].rio.write_crs(wkt), s["ndvi_250m"].rio.write_crs(wkt)


def test_gdal_spelling_of_sinusoidal_is_the_same_crs(scene):
    lst, ndvi = scene
    assert lst.rio.crs != ndvi.rio.write_crs(SINU_GDAL).rio.crs  # two spellings (precondition)
    assert crs_mismatch(lst, ndvi.rio.write_crs(SINU_GDAL)) is None
    # another sinusoidal (on the WGS84 ellipsoid) is another CRS
    assert crs_mismatch(lst, ndvi.rio.write_crs("ESRI:54008")) is not None


def test_guide_in_gdal_spelling_is_nested_not_resampled(scene):
    lst, ndvi = scene
    ref = xlstsr.upscale(lst, 4, "tsharp", ndvi)
    with warnings.catch_warnings():
        warnings.simplefilter("error", GuideAlignmentWarning)
        out = xlstsr.upscale(lst, 4, "tsharp", ndvi.rio.write_crs(SINU_GDAL))
    np.testing.assert_array_equal(out.values, ref.values)


def test_cli_crs_flag_in_gdal_spelling_of_the_files_own_crs_is_accepted(scene, tmp_path):
    """`--crs` naming the file's own CRS in GDAL's spelling was refused as "another" CRS
    (probe 39k): the flag follows crs_mismatch's rule."""
    from xlstsr.cli import main

    lst, _ = scene
    p = tmp_path / "lst.tif"
    lst.isel(time=0).rio.to_raster(p)
    assert main(["upscale", str(p), str(tmp_path / "out.tif"), "--factor", "2", "--quiet",
                 "--crs", SINU_GDAL]) == 0
    # another CRS is still refused
    assert main(["upscale", str(p), str(tmp_path / "out2.tif"), "--factor", "2", "--quiet",
                 "--crs", "EPSG:32631"]) == 2
    assert not (tmp_path / "out2.tif").exists()

"""Review 30b of grid.py: bare labels of short axes, and the 'pixel' unit of swaths only."""
import warnings

import numpy as np
import pytest
import xarray as xr
from affine import Affine

rioxarray = pytest.importorskip("rioxarray")
from rioxarray.rioxarray import affine_to_coords  # noqa: E402

from xlstsr.grid import fine_grid  # noqa: E402
from xlstsr.scaling import pixel_size  # noqa: E402

# a 15 arc-second grid (1/240 degree), and a MODIS 1 km strip (pair 001's transform: its y pixel
# is 2 floats off the round -926.625433055)
MODIS_001 = Affine(926.6254330558334, 0.0, 46331.27165279167, 0.0, -926.6254330550003, 4902775.1662970055)


def _bare(t: Affine, ny: int, nx: int, crs: str) -> xr.DataArray:
    """A field whose labels rioxarray computed from ``t``, read back without the transform."""
    c = affine_to_coords(t, nx, ny)
    da = xr.DataArray(np.zeros((ny, nx), "f4"), dims=("y", "x"),
                      coords={"y": c["y"], "x": c["x"]}).rio.write_crs(crs)
    da.coords["spatial_ref"].attrs.pop("GeoTransform", None)
    return da


@pytest.mark.parametrize(("t", "ny", "nx", "crs"), [
    (Affine(1 / 240, 0, 0.0, 0, -1 / 240, 60.0), 16, 16, "EPSG:4326"),
    (Affine(1 / 240, 0, 7.3, 0, -1 / 240, 60.0), 16, 16, "EPSG:4326"),
    (Affine(1 / 240, 0, -180.0, 0, -1 / 240, 60.0), 16, 16, "EPSG:4326"),
    (MODIS_001, 4, 64, "EPSG:4326"),
    (MODIS_001, 8, 64, "EPSG:4326"),
    (MODIS_001, 64, 64, "EPSG:4326"),
])
def test_bare_short_axis_fine_labels_are_rioxarrays(t, ny, nx, crs):
    """On 4-16 labels many pixel sizes give them: the middle of that range gave fine labels
    1 ulp off rioxarray's of the fine grid where the file's (round) pixel gives them all."""
    f = 4
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        y, x, _ = fine_grid(_bare(t, ny, nx, crs), f)
    want = affine_to_coords(t * Affine.scale(1 / f), nx * f, ny * f)
    np.testing.assert_array_equal(np.asarray(y), want["y"])
    np.testing.assert_array_equal(np.asarray(x), want["x"])


def test_projected_grid_with_2d_latlon_is_in_metres():
    """x / y in metres (no units attribute, no CRS) with 2-D lat/lon auxiliaries (a CF NetCDF of
    a projected grid): placed by its 1-D coordinates, not a swath of unknown pixel size."""
    n = 16
    x = 500000.0 + 1000.0 * (np.arange(n) + 0.5)
    y = 4000000.0 - 1000.0 * (np.arange(n) + 0.5)
    lon2, lat2 = np.meshgrid(3.0 + 0.0118 * np.arange(n), 36.1 - 0.009 * np.arange(n))
    da = xr.DataArray(np.full((n, n), 300.0), dims=("y", "x"), coords={
        "y": y, "x": x,
        "lat": (("y", "x"), lat2, {"units": "degrees_north", "standard_name": "latitude"}),
        "lon": (("y", "x"), lon2, {"units": "degrees_east", "standard_name": "longitude"})})
    size, unit = pixel_size(da)
    assert unit == "m"
    assert size == pytest.approx(x[1] - x[0])
    # a swath's index coordinates (or none) with the same 2-D lat/lon: pixels
    swath = da.assign_coords(y=np.arange(n), x=np.arange(n))
    assert pixel_size(swath)[1] == "pixel"
    assert pixel_size(swath.drop_vars(["y", "x"]))[1] == "pixel"

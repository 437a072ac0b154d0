"""align_guide: float32 coordinates on the fine grid, an other-CRS guide's real footprint,
and the coverage refusal's share (probe 40)."""

from __future__ import annotations

import re
import warnings

import numpy as np
import pytest
import xarray as xr
from helpers import make_lst, raise_if_computed
from pyproj import Transformer

from xlstsr.errors import GuideAlignmentWarning, GuideCoverageError
from xlstsr.grid import MODIS_1KM, MODIS_SINUSOIDAL, align_guide, fine_grid


def _north_lst(n: int = 16) -> xr.DataArray:
    """An LST of MODIS 1 km pixels at northings of 4.9e6 m (float32 rounds them to 0.25 m)."""
    lst = make_lst(np.full((n, n), 300.0), res=MODIS_1KM)
    return lst.assign_coords(y=lst.y + 4.4e6 + 0.3, x=lst.x + 0.7)


def _fine_guide(lst: xr.DataArray, res: float | None = None) -> xr.DataArray:
    fy, fx, _ = fine_grid(lst, 4)
    vals = np.random.default_rng(0).random((fy.size, fx.size))
    g = xr.DataArray(vals, dims=("y", "x"), coords={"y": fy, "x": fx})
    if res is not None:  # the same origin, another pixel
        g = g.assign_coords(y=fy[0] - res * np.arange(fy.size), x=fx[0] + res * np.arange(fx.size))
    return g.rio.write_crs(lst.rio.crs)


def _as_float32(g: xr.DataArray) -> xr.DataArray:
    g32 = g.assign_coords(x=g.x.astype("float32"), y=g.y.astype("float32"))
    return g32.drop_vars("spatial_ref").rio.write_crs(g.rio.crs)


def test_float32_guide_on_the_fine_grid_is_nested_not_resampled():
    lst = _north_lst()
    guide = _fine_guide(lst)
    g32 = _as_float32(guide)
    assert np.abs(g32.y.values.astype(float) - guide.y.values).max() > 0.05  # rounded
    with warnings.catch_warnings():
        warnings.simplefilter("error")  # it was resampled, with a GuideAlignmentWarning
        out = align_guide(g32, lst, 4)
    np.testing.assert_array_equal(out.values, guide.values)
    np.testing.assert_array_equal(out.y.values, fine_grid(lst, 4)[0])


def test_float32_tolerance_still_resamples_a_sub_pixel_offset():
    lst = _north_lst()
    g32 = _as_float32(_fine_guide(lst).pipe(lambda g: g.assign_coords(x=g.x + 23.0)))
    with pytest.warns(GuideAlignmentWarning, match=r"offset by .*not a whole number"):
        align_guide(g32, lst, 4)


def test_float32_pixel_size_difference_below_shown_digits_names_float32():
    lst = _north_lst()
    g32 = _as_float32(_fine_guide(lst, res=MODIS_1KM / 4 + 0.03))
    with pytest.warns(GuideAlignmentWarning) as rec:
        align_guide(g32, lst, 4)
    msg = next(str(w.message) for w in rec if "reprojected" in str(w.message))
    k = re.search(r"at ([\d.]+) x ([\d.]+) m instead of the fine grid's ([\d.]+) x ([\d.]+) m", msg)
    assert k and k.group(1, 2) != k.group(3, 4), msg  # never "250 x 250 instead of 250 x 250"
    assert "float32" in msg


def test_label_rounding_only_for_narrow_labels():
    from xlstsr.grid import label_rounding

    y = 4.9e6 - np.arange(4) * 250.0
    assert label_rounding(y, step=250.0) == 0.0
    assert label_rounding(y.astype(np.float32), step=250.0) == 1.0  # 2 float32 steps of 0.5 m
    assert label_rounding(y.astype(np.float32), step=10.0) == 0.5   # never 5 % of the pixel


def _sheared_case(chunked: bool = False) -> tuple[xr.DataArray, xr.DataArray, np.ndarray]:
    """A MODIS-sinusoidal LST at 44 N, 11 E and a lon/lat guide spanning its longitudes at its
    centre latitude: the shear leaves triangles at the corners without guide, though the
    guide's bounds transformed to the LST's CRS enclose the LST. Also the outside mask."""
    to_sin = Transformer.from_crs("EPSG:4326", MODIS_SINUSOIDAL, always_xy=True)
    x0, y0 = to_sin.transform(11.0, 44.0)
    n, res = 16, 1000.0
    lst = xr.DataArray(np.full((n, n), 300.0), dims=("y", "x"),
                       coords={"y": y0 - (np.arange(n) + 0.5) * res,
                               "x": x0 + (np.arange(n) + 0.5) * res}).rio.write_crs(MODIS_SINUSOIDAL)
    to_ll = Transformer.from_crs(MODIS_SINUSOIDAL, "EPSG:4326", always_xy=True)
    (w, s, e, nb) = lst.rio.bounds()
    lon0, _ = to_ll.transform(w, (s + nb) / 2)
    lon1, _ = to_ll.transform(e, (s + nb) / 2)
    _, lat0 = to_ll.transform(x0, s)
    _, lat1 = to_ll.transform(x0, nb)
    d = 0.002
    lons = np.arange(lon0 + d / 2, lon1, d)
    lats = np.arange(lat1 + 0.02 - d / 2, lat0 - 0.02, -d)
    vals = np.ones((lats.size, lons.size), np.float32)
    guide = xr.DataArray(vals, dims=("y", "x"), coords={"y": lats, "x": lons}).rio.write_crs("EPSG:4326")
    if chunked:
        guide = guide.chunk({"y": 8, "x": 8})
    gb = guide.rio.bounds()
    fy, fx, _ = fine_grid(lst, 4)
    X, Y = np.meshgrid(fx, fy)
    lon, lat = to_ll.transform(X, Y)
    outside = (lon < gb[0]) | (lon > gb[2]) | (lat < gb[1]) | (lat > gb[3])
    return lst, guide, outside


def test_other_crs_guide_footprint_gap_is_warned_and_nan():
    lst, guide, outside = _sheared_case()
    assert 0.01 < outside.mean() < 0.1
    with pytest.warns(GuideAlignmentWarning, match=r"another CRS.*It misses \d+ fine pixel"):
        out = align_guide(guide, lst, 4)
    assert np.isnan(out.values[outside]).all()
    assert np.isfinite(out.values[~outside]).mean() > 0.99


def test_other_crs_footprint_of_a_lazy_guide_reads_no_values():
    lst, guide, outside = _sheared_case(chunked=True)
    with raise_if_computed(0), pytest.warns(GuideAlignmentWarning, match="It misses"):
        out = align_guide(guide, lst, 4)
    assert np.isnan(out.values[outside]).all()


def test_other_crs_refusal_advice_works_when_followed():
    # review 40b: refused by the footprint's share, the advised crop (to the guide's box in the
    # LST's CRS) was refused again: a sheared footprint never fills its enclosing box
    import rioxarray  # noqa: F401

    to_utm = Transformer.from_crs("EPSG:4326", "EPSG:32635", always_xy=True)
    cx, cy = to_utm.transform(30.0, 60.0)
    r = 240.0
    guide = xr.DataArray(np.full((250, 250), 0.5, np.float32), dims=("y", "x"), coords={
        "y": cy + 30000 - (np.arange(250) + 0.5) * r,
        "x": cx - 30000 + (np.arange(250) + 0.5) * r}).rio.write_crs("EPSG:32635")
    to_sin = Transformer.from_crs("EPSG:4326", MODIS_SINUSOIDAL, always_xy=True)
    sx, sy = to_sin.transform(30.0, 60.0)
    res = 926.625433
    lst = xr.DataArray(np.full((130, 130), 300.0), dims=("y", "x"), coords={
        "y": sy + 60000 - (np.arange(130) + 0.5) * res,
        "x": sx - 60000 + (np.arange(130) + 0.5) * res}).rio.write_crs(MODIS_SINUSOIDAL)
    with pytest.raises(GuideCoverageError, match="transform_bounds"):
        align_guide(guide, lst, 4)
    rx, ry = (0.999 * abs(v) for v in lst.rio.resolution())  # the advice, as written
    w, s, e, n = guide.rio.transform_bounds(lst.rio.crs)
    cropped = lst.rio.clip_box(w + rx, s + ry, e - rx, n - ry)
    with pytest.warns(UserWarning, match="It misses"):  # the corners without guide: said
        out = align_guide(guide, cropped, 4)
    assert 0 < float(np.isnan(out.values).mean()) < 0.5


def test_coverage_refusal_states_share_and_minimum():
    lst = make_lst(np.full((64, 64), 300.0))
    guide = _fine_guide(lst).isel(x=slice(0, 230))  # 230 of 256 fine columns: 89.8 %
    with pytest.raises(GuideCoverageError) as exc:
        align_guide(guide, lst, 4)
    msg = str(exc.value)
    assert "covers 89.8%" in msg and "less than the 90% needed" in msg

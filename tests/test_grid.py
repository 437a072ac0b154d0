"""Fine/coarse grids and guide alignment."""

from __future__ import annotations

import warnings

import numpy as np
import pytest
import rioxarray
from helpers import make_lst, raise_if_computed

from xlstsr.errors import GuideAlignmentWarning, GuideCoverageError
from xlstsr.grid import MODIS_1KM, MODIS_SINUSOIDAL, align_guide, coarse_grid, fine_grid


def test_fine_grid_keeps_bounds_and_centres():
    lst = make_lst(np.full((5, 7), 300.0))
    y, x, t = fine_grid(lst, 4)
    assert (y.size, x.size) == (20, 28)
    assert t.a == pytest.approx(250.0) and t.e == pytest.approx(-250.0)
    assert x[0] == pytest.approx(lst.x.values[0] - 375.0)  # first fine centre 1.5 fine px left
    fine = lst.reindex(y=y, x=x, method="nearest")
    fine = fine.rio.write_transform(t)
    assert fine.rio.bounds() == pytest.approx(lst.rio.bounds())


def test_coarse_grid_roundtrip():
    lst = make_lst(np.full((8, 8), 300.0))
    _y, x, t = coarse_grid(lst, 4)
    assert np.allclose(x, [lst.x.values[:4].mean(), lst.x.values[4:].mean()])
    assert t.a == pytest.approx(4000.0)


def test_guide_nested_exactly_is_sliced_without_warning():
    lst = make_lst(np.full((4, 4), 300.0))
    y, x, _ = fine_grid(lst, 4)
    rng = np.random.default_rng(0)
    big = make_lst(rng.random((20, 20)), res=250.0)
    # a larger guide whose grid contains the fine grid with whole-pixel offset (2, 3)
    big = big.assign_coords(y=np.concatenate([y[0] + 250.0 * np.arange(2, 0, -1), y, y[-1] - 250 * np.arange(1, 3)]),
                            x=np.concatenate([x[0] - 250.0 * np.arange(3, 0, -1), x, [x[-1] + 250.0]]))
    with warnings.catch_warnings():
        warnings.simplefilter("error")
        g = align_guide(big, lst, 4)
    np.testing.assert_array_equal(g.values, big.values[2:18, 3:19])
    np.testing.assert_allclose(g.x.values, x)


def test_guide_subpixel_offset_is_reprojected_with_warning():
    lst = make_lst(np.full((4, 4), 300.0))
    guide = make_lst(np.random.default_rng(1).random((18, 18)), res=250.0)
    guide = guide.assign_coords(x=guide.x - 500.0 - 100.0, y=guide.y + 500 + 60.0)
    with pytest.warns(GuideAlignmentWarning, match=r"offset by \(.*fine pixels"):
        g = align_guide(guide, lst, 4)
    assert g.shape == (16, 16) and np.isfinite(g.values).all()


def test_guide_other_crs_is_reprojected():
    lst = make_lst(np.full((4, 4), 300.0), crs="EPSG:32631")
    guide = make_lst(np.ones((40, 40)), res=200.0, crs="EPSG:32631")
    guide = guide.assign_coords(x=guide.x - 2000, y=guide.y + 2000).rio.reproject("EPSG:4326")
    with pytest.warns(GuideAlignmentWarning, match="another CRS"):
        g = align_guide(guide, lst, 4)
    assert g.rio.crs == lst.rio.crs and g.shape == (16, 16)
    assert np.nanmean(g.values) == pytest.approx(1.0)


def test_guide_not_covering_extent():
    lst = make_lst(np.full((4, 4), 300.0))
    guide = make_lst(np.ones((16, 16)), res=250.0)
    guide = guide.assign_coords(x=guide.x + 100_000.0)
    with pytest.raises(GuideCoverageError, match="covers 0%"):
        align_guide(guide, lst, 4)


def test_real_modis_aster_ndvi_offsets_work(shared_data):
    d = shared_data / "modis_aster"
    for pid in ("001", "035"):
        lst = rioxarray.open_rasterio(d / f"{pid}_modis_lst_1km.tif").squeeze("band", drop=True)
        ndvi = rioxarray.open_rasterio(d / f"{pid}_modis_ndvi_250m.tif").squeeze("band", drop=True)
        with pytest.warns(GuideAlignmentWarning, match="offset by"):
            g = align_guide(ndvi, lst, 4)
        assert g.shape == (256, 256)
        assert g.rio.transform().c == pytest.approx(lst.rio.transform().c)
        finite = np.isfinite(g.values)
        assert 0.95 < finite.mean() < 1.0  # a strip of 0-3 fine pixels is uncovered
        # values are the NDVI's own (sliced, not resampled)
        assert np.isin(g.values[finite][:100], ndvi.values).all()


def test_modis_constants():
    assert MODIS_1KM * 1200 == pytest.approx(1111950.5197, rel=1e-9)
    assert "+R=6371007.181" in MODIS_SINUSOIDAL


def test_guide_other_crs_without_overlap(scene):
    # an NDVI in UTM far from the (sinusoidal) LST: a clear error through upscale
    lst = scene["lst_1km"]
    guide = make_lst(np.full((64, 64), 0.5), res=250.0, crs="EPSG:32633")
    with pytest.raises(GuideCoverageError, match=r"covers 0% .*check both CRS"):
        lst.lstsr.upscale(4, method="tsharp", guide=guide)


def test_dask_guide_cube_is_reprojected_lazily_per_time_chunk():
    # an NDVI datacube (time, y, x) in another CRS: each time chunk is read and reprojected only
    # when computed, and the result equals rioxarray's eager reprojection
    import dask

    lst = make_lst(np.full((3, 4, 4), 300.0), crs="EPSG:32631").assign_coords(time=[0, 1, 2])
    rng = np.random.default_rng(2)
    cube = make_lst(rng.random((3, 40, 40)), res=200.0, crs="EPSG:32631")
    cube = cube.assign_coords(x=cube.x - 2000, y=cube.y + 2000, time=[0, 1, 2])
    cube = cube.rio.reproject("EPSG:3857")
    calls = []

    def counting(block):
        if block.size:  # not dask's meta probe
            calls.append(block.shape[0])
        return block

    lazy_src = cube.chunk({"time": 1}).copy()
    lazy_src.data = lazy_src.data.map_blocks(counting, dtype=lazy_src.dtype)
    with pytest.warns(GuideAlignmentWarning, match="another CRS"):
        eager = align_guide(cube, lst, 4)
    with pytest.warns(GuideAlignmentWarning, match="another CRS"), raise_if_computed():
        lazy = align_guide(lazy_src, lst, 4)
    assert isinstance(lazy.data, dask.array.Array) and calls == []  # nothing read yet
    assert lazy.data.chunks[0] == (1, 1, 1)
    assert lazy.dims == eager.dims and lazy.rio.crs == lst.rio.crs
    assert lazy.rio.transform() == eager.rio.transform()
    with dask.config.set(scheduler="synchronous"):
        np.testing.assert_allclose(lazy.isel(time=1).values, eager.isel(time=1).values)
        assert calls == [1]  # one time step read for one time step computed
        np.testing.assert_allclose(lazy.values, eager.values)
    np.testing.assert_array_equal(lazy.time.values, [0, 1, 2])

"""Probe 47E findings 4, 5, 2: a fill-mixed reference border scored with erode=0 is warned
about; clear=True without erode says it drops nothing; a coarse input in another CRS is named
as such."""

from __future__ import annotations

import warnings

import numpy as np
import pytest
import rioxarray as rxr
import xarray as xr
from scipy import ndimage

import xlstsr
from xlstsr.errors import GridError

RING = "reference pixels kept next to its gaps"


def _grid(values: np.ndarray, res: float = 250.0) -> xr.DataArray:
    ny, nx = values.shape
    da = xr.DataArray(values, dims=("y", "x"),
                      coords={"y": 5_000_000.0 - res * (np.arange(ny) + 0.5),
                              "x": 500_000.0 + res * (np.arange(nx) + 0.5)})
    return da.rio.write_crs("EPSG:32631")


def _field(n: int = 128, seed: int = 0) -> np.ndarray:
    """A smooth temperate LST field (K), 300-320 K."""
    rng = np.random.default_rng(seed)
    y, x = np.mgrid[0:n, 0:n] / n
    return 310 + 6 * np.sin(6 * x) * np.cos(4 * y) + rng.normal(0, 1.0, (n, n))


def _aster_like(n: int = 128) -> tuple[xr.DataArray, xr.DataArray]:
    """(stored K x 10 with a 0 fill outside a rotated scene whose border pixels are mixed
    with the fill, sr in K on the same grid)."""
    t = _field(n)
    yy, xx = np.mgrid[0:n, 0:n] - (n - 1) / 2
    r = np.abs(xx * np.cos(0.4) + yy * np.sin(0.4)) + np.abs(-xx * np.sin(0.4) + yy * np.cos(0.4))
    inside = r < 0.62 * n
    border = inside & (r >= 0.62 * n - 2)  # the two outer pixels: 80 % scene, 20 % fill
    stored = np.where(inside, np.where(border, 0.8, 1.0) * t, 0.0) * 10
    ref = _grid(np.round(stored).astype("int16"))
    sr = _grid(t + np.random.default_rng(1).normal(0, 1.0, t.shape))
    sr.attrs["units"] = "K"
    return ref, sr


def _ring_warnings(rec) -> list[str]:
    return [str(w.message) for w in rec if RING in str(w.message)]


def _evaluate(sr, ref, **kw):
    with warnings.catch_warnings(record=True) as rec:
        warnings.simplefilter("always")
        ds = xlstsr.evaluate(sr, ref, **kw)
    return ds, [str(w.message) for w in rec]


# -- finding 4: the fill-mixed border kept by erode=0 -----------------------------------------


def test_fill_mixed_border_with_erode_0_warns_and_the_advice_works():
    ref, sr = _aster_like()
    kw = {"reference_scale": 0.1, "reference_nodata": 0, "valid_min": 230}
    ds0, said = _evaluate(sr, ref, **kw)
    ring = [m for m in said if RING in m]
    assert len(ring) == 1, said
    assert "colder" in ring[0] and "erode=3" in ring[0]
    # the advice followed: no warning, and the border no longer weighs on the scores
    ds3, said3 = _evaluate(sr, ref, erode=3, clear=True, **kw)
    assert not [m for m in said3 if RING in m], said3
    assert float(ds3.rmse) < 0.5 * float(ds0.rmse)


def test_genuine_cool_edges_do_not_warn():
    # masked clouds whose clear neighbours are a few K cooler (shadow, cool land): real
    t = _field()
    rng = np.random.default_rng(3)
    gap = np.zeros(t.shape, bool)
    for cy, cx in rng.integers(10, 118, (12, 2)):
        gap[cy - 3:cy + 3, cx - 3:cx + 3] = True
    near = ndimage.binary_dilation(gap, iterations=2) & ~gap
    t = np.where(near, t - 8.0, t)
    ref = _grid(np.where(gap, np.nan, t))
    ref.attrs["units"] = "K"
    sr = _grid(_field(seed=5))
    sr.attrs["units"] = "K"
    _, said = _evaluate(sr, ref, valid_min=230)
    assert not [m for m in said if RING in m], said


def test_border_check_runs_on_each_step_of_a_stack():
    ref, sr = _aster_like()
    refs = xr.concat([ref, ref], "time").assign_coords(time=[np.datetime64("2020-07-01"),
                                                              np.datetime64("2020-07-02")])
    srs = xr.concat([sr, sr], "time").assign_coords(time=refs.time.values)
    _, said = _evaluate(srs, refs, reference_scale=0.1, reference_nodata=0, valid_min=230)
    ring = [m for m in said if RING in m]
    assert len(ring) == 1 and "in 2 of 2 images" in ring[0]


def test_real_aster_border_warns_documented_workflow_does_not(shared_data):
    d = shared_data / "modis_aster"
    lst = rxr.open_rasterio(d / "020_modis_lst_1km.tif").squeeze("band", drop=True)
    aster = rxr.open_rasterio(d / "020_aster_lst_250m.tif",
                              mask_and_scale=False).squeeze("band", drop=True)
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        sr = xlstsr.upscale(lst, 4)
    kw = {"coarse": lst, "reference_scale": 0.1, "reference_nodata": 0, "valid_min": 230}
    ds0, said = _evaluate(sr, aster, **kw)
    ring = [m for m in said if RING in m]
    assert len(ring) == 1 and "colder" in ring[0] and "erode=3" in ring[0], said
    # the README's / data README's mask: no such warning, and the RMSE of the probe (1.55 K)
    ds3, said3 = _evaluate(sr, aster, erode=3, clear=True, **kw)
    assert not [m for m in said3 if RING in m], said3
    assert float(ds3.rmse) == pytest.approx(1.55, abs=0.01)
    assert float(ds0.rmse) > 2 * float(ds3.rmse)


def test_real_clear_coast_does_not_warn(shared_data):
    # ECOSTRESS (70 m) over Los Angeles, day, water and cloud masks applied: the land along the
    # coast is genuinely 19 K cooler than the rest, below the warning's bound
    d = shared_data / "ecostress_la"
    stem = "ECO_L2_LSTE.002_{}_doy2023209214058_aid0001.tif"
    lst = rxr.open_rasterio(d / "LST" / stem.format("LST"), mask_and_scale=True).squeeze()
    cloud = rxr.open_rasterio(d / "cloud_mask" / stem.format("cloud_mask")).squeeze()
    water = rxr.open_rasterio(d / "water_mask" / stem.format("water_mask")).squeeze()
    ref = lst.where((lst > 0) & (cloud.values == 0) & (water.values == 0))
    from xlstsr.evaluate import _check_gap_ring

    with warnings.catch_warnings(record=True) as rec:
        warnings.simplefilter("always")
        _check_gap_ring(ref, ref.notnull(), 0)
    assert not _ring_warnings(rec)


# -- finding 5: clear=True with erode=0 ------------------------------------------------------


def test_clear_without_erode_warns_and_attrs_say_no_erosion():
    ref, sr = _aster_like()
    kw = {"reference_scale": 0.1, "reference_nodata": 0, "valid_min": 230}
    ds, said = _evaluate(sr, ref, clear=True, **kw)
    assert any("clear=True" in m and "erode is 0" in m and "erode=3" in m for m in said), said
    assert "clear-sky erosion" not in ds.attrs["reference_mask"]
    assert "eroded by 0 px" in ds.attrs["reference_mask"]
    # the advice followed: erosion said and done
    ds3, said3 = _evaluate(sr, ref, clear=True, erode=3, **kw)
    assert not any("erode is 0" in m for m in said3)
    assert "clear-sky erosion around threshold gaps" in ds3.attrs["reference_mask"]
    assert int(ds3.n_valid) < int(ds.n_valid)


# -- finding 2: the coarse input in another CRS ----------------------------------------------


def test_coarse_in_another_crs_is_named_not_sr():
    s = xlstsr.datasets.sample_scene(n_times=1)
    lst, truth = s["lst_1km"], s["lst_250m"]
    sr = xlstsr.upscale(lst, 4)
    moved = lst.rio.reproject("EPSG:32631")
    with pytest.raises(GridError) as e:
        xlstsr.evaluate(sr, truth, coarse=moved)
    msg = str(e.value)
    assert "the coarse input is in another CRS (EPSG:32631)" in msg
    assert "before any reprojection" not in msg and len(msg) < 400
    from xlstsr.metrics import coarse_consistency

    with pytest.raises(GridError, match=r"coarse input is in another CRS \(EPSG:32631\)"):
        coarse_consistency(sr, moved, 4)
    # the advice followed: the coarse input on its own grid
    ds = xlstsr.evaluate(sr, truth, coarse=lst)
    assert np.isfinite(ds.coarse_consistency.values).all()

"""Review of round 26 (grid): making south-up axes take the mirrored exact transform (1cb9fec)
also changed NORTH-UP grids. Labels built with ``np.linspace`` fit both ways; fitted as the axis
run the other way, a north-up axis got the mirror of a rounded transform: fine labels and pixel
an ulp off the start commit's (1b27ba7), and ``upscale(lst) - truth`` against a truth built the
same way kept 35800 of 75600 pixels (42960 before). A north-up axis keeps the start commit's
computation; the mirror is only for an axis running south-up or west.
"""

from __future__ import annotations

import importlib.util
import subprocess
import sys
import warnings
from pathlib import Path

import numpy as np
import pytest
import rioxarray
import xarray as xr
from affine import Affine

import xlstsr
from xlstsr.grid import MODIS_1KM, MODIS_250M, MODIS_SINUSOIDAL, coarse_grid, fine_grid

#: The commit before south-up axes were mirrored, whose north-up grids results must keep.
_START = "1b27ba7"
_ROOT = Path(__file__).resolve().parents[1]

#: (pixel, x edge, y edge, crs): the reviewer's MODIS-like UTM grid, a MODIS 1 km and 250 m
#: tile's, the SEVIRI Athens file's (pixel a round-off from 0.05) and a Landsat one.
_GRIDS = {
    "modis_like_utm": (463.3127165279165, 1241097.41, 2708973.62, "EPSG:32631"),
    "modis_1km": (MODIS_1KM, -20015109.354 + 17 * 4800 * MODIS_1KM,
                  10007554.677 - 12 * 4800 * MODIS_1KM - 7 * MODIS_1KM, MODIS_SINUSOIDAL),
    "modis_250m": (MODIS_250M, -20015109.354 + 17 * 4800 * MODIS_1KM + 333 * MODIS_250M,
                   10007554.677 - 12 * 4800 * MODIS_1KM - 3 * MODIS_250M, MODIS_SINUSOIDAL),
    "seviri": (0.05000000000000003, 23.175000763, 38.525, "EPSG:4326"),
    "landsat": (30.0, 399985.0, 4300015.0, "EPSG:32611"),
}


def _labels(kind: str, edge: float, a: float, n: int) -> np.ndarray:
    """``n`` pixel-centre labels of size ``a`` from ``edge``, built the way a script builds them."""
    if kind == "linspace":
        return np.linspace(edge + a / 2, edge + (n - 0.5) * a, n)
    if kind == "arange":
        return np.arange(edge + a / 2, edge + n * a, a)[:n]
    rio = (edge + a * 0.5) + np.arange(n) * a  # rioxarray's
    return rio.astype(np.float32) if kind == "float32" else rio


def _north_up(grid: str, kind: str, ny: int, nx: int, written: bool = True) -> xr.DataArray:
    """A north-up field on ``grid`` with ``kind`` labels, its exact transform written (as a
    NetCDF a script wrote carries it) or not."""
    a, x0, y0, crs = _GRIDS[grid]
    da = xr.DataArray(np.full((ny, nx), 300.0, np.float32), dims=("y", "x"), coords={
        "y": _labels(kind, y0, -a, ny), "x": _labels(kind, x0, a, nx)}).rio.write_crs(crs)
    return da.rio.write_transform(Affine(a, 0.0, x0, 0.0, -a, y0)) if written else da


@pytest.fixture(scope="module")
def start_grid():
    """The start commit's ``xlstsr/grid.py``, imported beside the current package (its imports
    are the current ones); skipped where the repository's history is not there."""
    try:
        src = subprocess.run(["git", "-C", str(_ROOT), "show", f"{_START}:xlstsr/grid.py"],
                             capture_output=True, text=True, check=True, timeout=60).stdout
    except (OSError, subprocess.SubprocessError):
        pytest.skip(f"the start commit {_START} is not in this checkout's history")
    name = "xlstsr._grid_at_start"
    spec = importlib.util.spec_from_loader(name, loader=None)
    mod = importlib.util.module_from_spec(spec)
    mod.__package__ = "xlstsr"
    sys.modules[name] = mod
    try:
        exec(compile(src, f"{_START}:xlstsr/grid.py", "exec"), mod.__dict__)
        yield mod
    finally:
        sys.modules.pop(name, None)


def _assert_same(got, want) -> None:
    """Same labels (values and dtype, bit for bit) and transform."""
    for g, w in zip(got[:2], want[:2]):
        assert g.dtype == w.dtype
        np.testing.assert_array_equal(g, w, strict=True)
    assert tuple(got[2]) == tuple(want[2])


def test_north_up_linspace_labels_keep_the_written_transform():
    """The reproducer review26/07: the fine x pixel was 463.312716527917 / 3 (a rounded pixel
    mirrored), 154.43757217597235 for the written 154.43757217597218, the labels an ulp off."""
    r, x0, y0, _ = _GRIDS["modis_like_utm"]
    da = _north_up("modis_like_utm", "linspace", 140, 60)
    fy, fx, ft = fine_grid(da, 3)
    assert (ft.a, ft.c, ft.e, ft.f) == (r / 3, x0, -r / 3, y0)
    # and a field on the fine grid gets the input's labels back
    fine = xlstsr.grid.with_grid(np.zeros((fy.size, fx.size), np.float32), da, fy, fx, ft,
                                 ("y", "x"))
    cy, cx, _ = coarse_grid(fine, 3)
    np.testing.assert_array_equal(cy, da.y.values)
    np.testing.assert_array_equal(cx, da.x.values)

@pytest.mark.parametrize("factor", [2, 3, 4, 8])
@pytest.mark.parametrize("kind", ["linspace", "arange", "rioxarray", "float32"])
@pytest.mark.parametrize("grid", sorted(_GRIDS))
def test_north_up_grids_are_the_start_commits(start_grid, grid, kind, factor):
    """fine_grid and coarse_grid of north-up fields (exact transform written, recomputed, or
    none) equal the start commit's bit for bit: 1cb9fec changed those of np.linspace labels."""
    for ny, nx, written in ((140, 60, True), (48, 24, True), (24, 40, False), (37, 19, True)):
        da = _north_up(grid, kind, ny, nx, written)
        if not written:
            da = da.rio.write_transform(da.rio.transform(recalc=True))
        _assert_same(fine_grid(da, factor), start_grid.fine_grid(da, factor))
        if ny % factor == 0 and nx % factor == 0:
            want, got = start_grid.coarse_grid(da, factor), coarse_grid(da, factor)
            if written or _same(got, want):
                _assert_same(got, want)
            else:
                # the transform written is the one recomputed from the labels (as
                # rio.isel_window writes it): the start commit's coarse labels, the block
                # centres, gave fine labels an ulp off these (corpus35g/02); now other ones,
                # which give them back
                assert not _start_round_trips(start_grid, da, want, factor)
                up = xlstsr.upscale(xlstsr.coarsen(da, factor), factor, method="bicubic")
                for d in ("y", "x"):
                    np.testing.assert_array_equal(up[d].values, da[d].values, strict=True)


def _same(got, want) -> bool:
    try:
        _assert_same(got, want)
    except AssertionError:
        return False
    return True


def _start_round_trips(start_grid, da, coarse, factor) -> bool:
    """Whether the start commit's fine grid of its coarse grid ``coarse`` of ``da`` is ``da``'s."""
    cy, cx, ct = coarse
    c = xr.DataArray(np.zeros((cy.size, cx.size), np.float32), dims=("y", "x"),
                     coords={"y": cy, "x": cx}).rio.write_crs(da.rio.crs).rio.write_transform(ct)
    fy, fx, _ = start_grid.fine_grid(c, factor)
    return np.array_equal(fy, da.y.values) and np.array_equal(fx, da.x.values)


@pytest.mark.parametrize(("path", "factor"), [
    ("seviri_athens/LSALST_20180819_Athens_15min.tif", 2),
    ("seviri_athens/LSALST_20180819_Athens_15min.tif", 3),
    ("madrid_desirex/LST_100m.img", 4),
    ("modis_aster/001_modis_lst_1km.tif", 4),
    ("modis_croatia_8day/LST2006_01_01.LST_Day_1km.tif", 3),
    ("landsat8_gulf_l1/l8_B10.tif", 8),
    ("ecostress_la/LST/ECO_L2_LSTE.002_LST_doy2023172202153_aid0001.tif", 2),
])
def test_real_north_up_grids_are_the_start_commits(shared_data, start_grid, path, factor):
    """Real files' grids (a corner of each): fine_grid and coarse_grid as the start commit's."""
    if not (shared_data / path).is_file():
        pytest.skip(f"{path} is absent")
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        src = rioxarray.open_rasterio(shared_data / path).isel(band=0, drop=True)
    n = min(src.sizes["y"], src.sizes["x"], 96) // factor * factor
    src = src.isel(y=slice(0, n), x=slice(0, n))
    da = xr.DataArray(np.zeros(src.shape, np.float32), dims=src.dims,
                      coords={"y": src.y, "x": src.x}).rio.write_crs(src.rio.crs)
    da = da.rio.write_transform(src.rio.transform())
    _assert_same(fine_grid(da, factor), start_grid.fine_grid(da, factor))
    _assert_same(coarse_grid(da, factor), start_grid.coarse_grid(da, factor))


@pytest.mark.parametrize("flip", [("y",), ("x",), ("y", "x")])
def test_south_up_fields_still_follow_the_north_up_fields(flip):
    """The gain of 1cb9fec kept: a field stored south-up (or east-to-west) under the north-up
    GeoTransform gets the north-up field's fine grid reversed, also where its labels are
    np.linspace's, and a field on it gets the south-up labels back from coarse_grid."""
    north = _north_up("modis_like_utm", "linspace", 42, 42)
    south = north.isel({d: slice(None, None, -1) for d in flip})
    ny, nx, nt = fine_grid(north, 3)
    sy, sx, st = fine_grid(south, 3)
    np.testing.assert_array_equal(sy[::-1] if "y" in flip else sy, ny)
    np.testing.assert_array_equal(sx[::-1] if "x" in flip else sx, nx)
    assert st.e == (-nt.e if "y" in flip else nt.e) and st.a == (-nt.a if "x" in flip else nt.a)
    fine = xlstsr.grid.with_grid(np.zeros((sy.size, sx.size), np.float32), south, sy, sx, st,
                                 ("y", "x"))
    cy, cx, _ = coarse_grid(fine, 3)
    np.testing.assert_array_equal(cy, south.y.values)
    np.testing.assert_array_equal(cx, south.x.values)

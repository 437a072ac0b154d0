"""review33e: to_cogs over a folder of the unpadded names of earlier versions, evaluate's
coregister=True refused before reading the reference, LOCAL_CS grids in the units check, NaN
shifts never marked reliable."""

import glob
import threading
import warnings

import dask.array as dsa
import numpy as np
import pytest
import xarray as xr
from rasterio.crs import CRS

import xlstsr
from tests.helpers import moved as _moved
from tests.helpers import textured_pair
from xlstsr.coregister import _other_units
from xlstsr.errors import CoregistrationError, XlstsrError
from xlstsr.io import open_cog, to_cogs


@pytest.fixture(scope="module")
def scene() -> tuple[xr.DataArray, xr.DataArray]:
    return textured_pair()


def _series(n: int, labels: bool) -> xr.DataArray:
    da = xr.DataArray(np.full((n, 8, 8), 300.0, "float32") + np.arange(n)[:, None, None],
                      dims=("time", "y", "x"),
                      coords={"y": np.arange(8)[::-1] * 1000.0 + 500,
                              "x": np.arange(8) * 1000.0 + 500},
                      attrs={"units": "K"}).rio.write_crs("EPSG:32631")
    return da.assign_coords(time=np.arange(1, n + 1)) if labels else da


def _as_old_version(paths) -> list:
    """The files renamed to the unpadded names earlier versions wrote (lst_01 -> lst_1)."""
    out = []
    for p in paths:
        prefix, _, num = p.stem.rpartition("_")
        old = p.with_name(f"{prefix}_{int(num)}.tif")
        p.rename(old)
        out.append(old)
    return out


@pytest.mark.parametrize("labels", [True, False], ids=["int-labels", "positions"])
def test_to_cogs_over_a_folder_of_unpadded_names_refuses_then_replaces_them(tmp_path, labels):
    da = _series(12, labels)
    old = _as_old_version(to_cogs(da, tmp_path))
    assert any(len(p.stem.rpartition("_")[2]) == 1 for p in old)  # some names were unpadded
    with pytest.raises(XlstsrError, match="overwrite=True") as err:
        to_cogs(da, tmp_path)
    assert "unpadded" in str(err.value) and any(p.name in str(err.value) for p in old)
    assert sorted(p.name for p in tmp_path.iterdir()) == sorted(p.name for p in old)
    new = to_cogs(da, tmp_path, overwrite=True)
    assert sorted(tmp_path.iterdir()) == sorted(new)  # the old names removed, none left beside
    back = open_cog(sorted(glob.glob(str(tmp_path / "lst_*.tif"))))
    assert back.sizes["time"] == 12
    np.testing.assert_array_equal(back.values, da.values)  # in order


def test_to_cogs_keeps_an_unpadded_file_that_is_another_steps_name(tmp_path):
    da = _series(3, True).assign_coords(time=[5, 40, 180])  # lst_005, lst_040, lst_180
    (tmp_path / "lst_180.tif").write_bytes(b"x")  # the new name of a step, not a stale one
    with pytest.raises(XlstsrError, match=r"lst_180\.tif exists"):
        to_cogs(da, tmp_path)
    paths = to_cogs(da, tmp_path, overwrite=True)
    assert sorted(p.name for p in tmp_path.iterdir()) == sorted(p.name for p in paths)


def test_evaluate_coregister_without_coarse_refused_before_reading_the_reference(scene):
    fine, lst = scene
    sr = xlstsr.upscale(lst, 4, "bicubic")
    reads = []
    lock = threading.Lock()

    def count(b):
        with lock:
            reads.append(1)
        return b

    ref = fine.copy(data=dsa.from_array(fine.values, chunks=40).map_blocks(count,
                                                                            dtype=fine.dtype))
    n_blocks = ref.data.npartitions
    reads.clear()  # dask's meta inference at construction
    with pytest.raises(XlstsrError, match="pass `coarse=lst`"):
        xlstsr.evaluate(sr, ref, coregister=True)
    assert len(reads) < n_blocks, f"{len(reads)} of {n_blocks} blocks read before the refusal"


_LOCAL = ('LOCAL_CS["arbitrary",LOCAL_DATUM["x",0],UNIT["{u}",{f}],AXIS["X",EAST],'
          'AXIS["Y",NORTH]]')


def test_evaluate_with_coarse_on_a_local_cs_grid_infers_the_factor(scene):
    fine, lst = scene
    wkt = _LOCAL.format(u="metre", f=1)
    fine, lst = fine.rio.write_crs(wkt), lst.rio.write_crs(wkt)
    sr = xlstsr.upscale(lst, 4, "bicubic").rio.write_crs(wkt)
    sr.attrs.pop("xlstsr_factor", None)
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        ev = xlstsr.evaluate(sr, fine, coarse=lst)
    assert np.isfinite(float(ev.rmse))


def test_other_units_reads_the_units_of_local_cs_grids():
    metre = CRS.from_wkt(_LOCAL.format(u="metre", f=1))
    feet = CRS.from_wkt(_LOCAL.format(u="US survey foot", f=0.304800609601219))
    assert not _other_units(metre, metre)
    assert _other_units(metre, feet)  # metres against feet: other units, as projected ones
    assert not _other_units(metre, CRS.from_epsg(32631))


@pytest.mark.parametrize("min_pixels", [1, 2])
def test_nan_shift_of_two_valid_pixels_is_never_reliable(scene, min_pixels):
    fine, lst = scene
    moved = _moved(fine, 75.0, -125.0)
    two = lst.where(False).copy()
    two.values[10, 10:12] = lst.values[10, 10:12]
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        est = xlstsr.estimate_offset(moved, two, min_pixels=min_pixels, errors="ignore")
    assert not np.isfinite(float(est.shift_x))
    assert not bool(est.reliable)
    with pytest.raises(CoregistrationError, match="only 2 LST pixels") as err:
        xlstsr.estimate_offset(moved, two, min_pixels=min_pixels)
    assert "as it is" not in str(err.value)

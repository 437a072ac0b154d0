"""Review 27 (xlstsr/guide.py _same_shape_guide, training with a guide without a CRS): a guide
with coordinates is put north-up only when the LST has coordinates to be put north-up by too, and
the refusal of a guide off the fine grid says which input lacks a CRS and gives advice that works
when followed (each input's case, pixel-index coordinates)."""

import logging
import re
import warnings
from pathlib import Path

import numpy as np
import pytest
import torch
import xarray as xr

import xlstsr
from xlstsr import errors

pytestmark = pytest.mark.filterwarnings("ignore")

DATA = Path("/work/shared/data/modis_aster")


@pytest.fixture(autouse=True)
def _quiet():
    torch.set_num_threads(1)
    logging.getLogger("xlstsr").setLevel(logging.ERROR)
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        yield


def _dm(lst, guide, patch=8, window=16):
    from xlstsr.train import CubeDataModule

    dm = CubeDataModule(lst, guide=guide, mode="degraded_disr", factor=4, patch=patch,
                        window=window, batch_size=4, val_fraction=0.0)
    dm.setup("fit")
    return dm.train_set


def _guide_patches(lst, guide):
    return _dm(lst, guide).guide.numpy()


def _no_crs(da):
    return da.drop_vars("spatial_ref", errors="ignore")


def _follow(message, **names):
    """Run the advice's code (each backticked assignment of ``message``) on ``names``."""
    code = [c for c in re.findall(r"`([^`]*)`", message) if re.match(r"^[\w, ]+ = ", c)]
    assert code, message
    ns = {"xlstsr": xlstsr, "np": np, **names}
    for line in code:
        exec(line, ns)
    return ns


def _shifted_pair(size=64, shift=3):
    """An LST and a guide, both without a CRS, the guide ``shift`` fine pixels east of the
    LST's fine grid, and the CRS they are in."""
    s = xlstsr.datasets.sample_scene(n_times=2, size=size, seed=1)
    lst, nd = s["lst_1km"], s["ndvi_250m"]
    res = float(nd.x[1] - nd.x[0])
    shifted = nd.assign_coords(x=nd.x.values + shift * res)
    return lst, shifted, lst.rio.crs


# -- 1: the guide is reordered only together with its LST ----------------------------------------


def test_south_up_pair_whose_lst_has_no_coordinates_keeps_the_guide_as_stored():
    s = xlstsr.datasets.sample_scene(n_times=2, size=64, seed=1)
    lst = _no_crs(s["lst_1km"])
    from xlstsr.grid import fine_grid

    fy, fx, _ = fine_grid(s["lst_1km"], 4)
    # a guide that is a known function of its LST: each 4 x 4 block is (LST - 280) / 50
    g = (lst.isel(time=0, drop=True) - 280.0) / 50.0
    g = xr.DataArray(np.repeat(np.repeat(g.values, 4, 0), 4, 1), dims=("y", "x"),
                     coords={"y": fy, "x": fx})
    # both stored south-up (a NetCDF in ascending latitude); the LST given without coordinates
    lst_su, g_su = lst.isel(y=slice(None, None, -1)), g.isel(y=slice(None, None, -1))
    lst_plain = xr.DataArray(lst_su.values, dims=("time", "y", "x"),
                             coords={"time": lst.time.values}, attrs=lst.attrs)
    ts = _dm(lst_plain, g_su)
    # before: the guide alone was put north-up, upside down against its LST
    np.testing.assert_array_equal(ts.guide.numpy(),
                                  _guide_patches(lst_plain, g_su.drop_vars(["y", "x"])))
    gm, tgt = ts.guide[:, 0].numpy(), ts.target.numpy().reshape(ts.guide[:, 0].shape)
    want = (tgt - 280.0) / 50.0
    ok = np.isfinite(gm) & np.isfinite(want)
    assert np.corrcoef(gm[ok], want[ok])[0, 1] > 0.9
    # an LST with coordinates is put north-up by the caller: the guide with it (unchanged)
    np.testing.assert_array_equal(_guide_patches(lst_su, g_su), _guide_patches(lst, g))


# -- 2: the refusal of a guide off the fine grid, and its advice -----------------------------------


def test_neither_crs_off_grid_message_and_both_advices_work():
    lst, shifted, crs = _shifted_pair()
    L, G = _no_crs(lst), _no_crs(shifted)
    with pytest.raises(errors.GridError, match=r"not on the LST's grid 4 times finer") as info:
        _guide_patches(L, G)
    msg = str(info.value)
    # before: "neither the guide nor the LST has no CRS", and advice that failed when followed
    assert "neither the guide nor the LST has a CRS" in msg and "has no CRS" not in msg
    ref = _guide_patches(lst, shifted.rio.write_crs(crs))  # the guide aligned by coordinates
    # advice 1: the CRS of the data written on both
    crs_part, select_part = msg.split("or select it onto that grid first")
    ns = _follow(crs_part, lst=L, guide=G, crs=crs)
    np.testing.assert_array_equal(_guide_patches(ns["lst"], ns["guide"]), ref)
    # advice 2: the guide selected onto the fine grid (NaN where it does not cover the LST)
    ns = _follow(select_part, lst=L, guide=G)
    got = _guide_patches(L, ns["guide"])
    ok = np.isfinite(ref) & np.isfinite(got)
    assert ok.mean() > 0.9 and np.array_equal(np.isfinite(ref), np.isfinite(got))
    np.testing.assert_allclose(got[ok], ref[ok])


def test_neither_crs_off_grid_south_up_selection_advice_works():
    lst, shifted, crs = _shifted_pair()
    ref = _guide_patches(lst, shifted.rio.write_crs(crs))
    flip = {"y": slice(None, None, -1)}
    L, G = _no_crs(lst).isel(flip), _no_crs(shifted).isel(flip)
    with pytest.raises(errors.GridError, match=r"neither the guide nor the LST has a CRS") as info:
        _guide_patches(L, G)
    ns = _follow(str(info.value).split("or select it onto that grid first")[1], lst=L, guide=G)
    got = _guide_patches(L, ns["guide"])
    ok = np.isfinite(ref) & np.isfinite(got)
    assert ok.mean() > 0.9
    np.testing.assert_allclose(got[ok], ref[ok])


def test_one_crs_off_grid_advice_names_the_input_without_it_and_works():
    lst, shifted, crs = _shifted_pair()
    ref = _guide_patches(lst, shifted.rio.write_crs(crs))
    for L, G, lacks in ((lst, _no_crs(shifted), "the guide"), (_no_crs(lst), shifted, "the LST")):
        with pytest.raises(errors.GridError, match=rf"{lacks} has no CRS") as info:
            _guide_patches(L, G)
        # before: `guide.rio.write_crs(lst.rio.crs)` also where the LST had none
        ns = _follow(str(info.value).split("or select it onto")[0], lst=L, guide=G)
        np.testing.assert_array_equal(_guide_patches(ns["lst"], ns["guide"]), ref)


def test_pixel_index_coordinates_are_refused_with_advice_to_drop_them():
    s = xlstsr.datasets.sample_scene(n_times=2, size=64, seed=1)
    lst, nd = _no_crs(s["lst_1km"]), _no_crs(s["ndvi_250m"])
    L = lst.assign_coords(y=np.arange(lst.sizes["y"]), x=np.arange(lst.sizes["x"]))
    G = nd.assign_coords(y=np.arange(nd.sizes["y"]), x=np.arange(nd.sizes["x"]))
    ref = _guide_patches(lst.drop_vars(["y", "x"]), nd.drop_vars(["y", "x"]))
    for lst_in, want in ((L, "the guide and the LST's"), (lst, "the guide's")):
        with pytest.raises(errors.GridError, match=r"pixel indices") as info:
            _guide_patches(lst_in, G)
        msg = str(info.value)
        # before: advised writing a CRS (the indices then placed as 1 m pixels at the origin)
        assert want in msg and "write_crs(lst.rio.crs)" not in msg
        ns = _follow(msg.split("; or give both")[0], lst=lst_in, guide=G)
        np.testing.assert_array_equal(_guide_patches(ns["lst"], ns["guide"]), ref)


@pytest.mark.skipif(not DATA.exists(), reason="needs /work/shared/data/modis_aster")
def test_real_modis_pair_without_crs_off_grid_advice_works():
    import rioxarray

    lst = rioxarray.open_rasterio(DATA / "001_modis_lst_1km.tif").squeeze("band", drop=True)
    nd = rioxarray.open_rasterio(DATA / "001_modis_ndvi_250m.tif").squeeze("band", drop=True)
    crs = lst.rio.crs
    lst = _no_crs(lst).expand_dims(time=[np.datetime64("2020-07-01")])
    nd = _no_crs(nd)  # 3 fine pixels off the LST's fine grid
    with pytest.raises(errors.GridError, match=r"neither the guide nor the LST has a CRS") as info:
        _dm(lst, nd, patch=16, window=32)
    crs_part, select_part = str(info.value).split("or select it onto that grid first")
    ns = _follow(crs_part, lst=lst, guide=nd, crs=crs)
    assert _dm(ns["lst"], ns["guide"], patch=16, window=32).guide.shape[0] > 0
    ns = _follow(select_part, lst=lst, guide=nd)
    assert _dm(lst, ns["guide"], patch=16, window=32).guide.shape[0] > 0

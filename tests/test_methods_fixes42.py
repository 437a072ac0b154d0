"""Fixes of probe 42 (methods, guide offset record): the shift recorded for an offset estimated
on another CRS, DMS's floor of 2 x min_samples_leaf, a user method named in refusals and
warnings, and the fallback count said to be per call (per dask time chunk)."""

import json
import warnings

import numpy as np
import pytest
import xarray as xr

import xlstsr
from xlstsr.coregister import apply_offset
from xlstsr.errors import XlstsrError
from xlstsr.kernels.interp import nearest_upsample
from xlstsr.methods import UpscaleMethod
from xlstsr.methods.guided import GuidedSharpener


@pytest.fixture(scope="module")
def scene():
    return xlstsr.datasets.sample_scene(n_times=1, size=64)


def _small(scene, n=4):
    """A 4 x 4 coarse window: 16 usable pixels, fewer than DMS's 2 x min_samples_leaf (20)."""
    lst = scene["lst_1km"].isel(y=slice(0, n), x=slice(0, n)).fillna(300.0)
    return lst, scene["ndvi_250m"].isel(y=slice(0, 4 * n), x=slice(0, 4 * n))


def _too_few(w):
    return [str(x.message) for x in w if "too few clear coarse pixels" in str(x.message)]


# -- 1. the offset record: the shift applied, in the LST's units ------------------------------
def test_offset_estimated_in_degrees_is_recorded_as_the_metres_applied(scene):
    lst, ndvi = scene["lst_1km"], scene["ndvi_250m"]
    # an estimate_offset result made against a lon/lat LST: its shifts are degrees
    est = xr.Dataset({"shift_x": ("time", [0.002]), "shift_y": ("time", [-0.001]),
                      "reliable": ("time", [True])}, attrs={"crs": "EPSG:4326"})
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        out = xlstsr.upscale(lst, 4, "tsharp", guide=ndvi, guide_offset=est)
    rec = json.loads(out.attrs["xlstsr_guide_offset"])
    moved = json.loads(apply_offset(ndvi, est, lst.rio.crs).attrs["xlstsr_coregistration"])
    assert abs(moved["applied_shift_x"]) > 100  # ~0.002 degrees: some 200 m
    assert rec["units"] == "m"
    assert rec["shift_x"] == pytest.approx(moved["applied_shift_x"])
    assert rec["shift_y"] == pytest.approx(moved["applied_shift_y"])
    fine = abs(lst.rio.resolution()[0]) / 4
    assert rec["shift_x_fine_px"] == pytest.approx(moved["applied_shift_x"] / fine, abs=1e-3)
    assert f"{rec['shift_x']:+.4g}" in out.attrs["history"]


# -- 2. DMS: fewer than 2 x min_samples_leaf pixels cannot split a tree ------------------------
def test_dms_advice_lowers_min_samples_leaf_and_following_it_fits(scene):
    lst, ndvi = _small(scene)
    with warnings.catch_warnings(record=True) as w:
        warnings.simplefilter("always")
        xlstsr.upscale(lst, 4, method="dms", guide=ndvi)
    (msg,) = _too_few(w)
    assert "2 x min_samples_leaf = 20" in msg
    assert "(e.g. min_samples_leaf=4, min_samples=16;" in msg
    with warnings.catch_warnings(record=True) as w:  # the advice followed: guided, no warning
        warnings.simplefilter("always")
        xlstsr.upscale(lst, 4, method="dms", guide=ndvi, min_samples=16, min_samples_leaf=4)
    assert not _too_few(w)
    # and the trees split: the prediction follows the guide (leaves of 8, half the pixels,
    # left nearly every tree one constant leaf)
    dms = xlstsr.methods.get_method("dms", min_samples=16, min_samples_leaf=4)
    v = lst.values[0].astype(float)
    pred = dms.predict(v, np.isfinite(v), ndvi.values[None].astype(float), 4)
    assert pred is not None and np.unique(np.round(pred, 3)).size > 2
    assert abs(np.corrcoef(pred.ravel(), ndvi.values.ravel())[0, 1]) > 0.5


def test_dms_bagging_keeps_its_ridge_on_one_leaf(scene):
    # "bagging" fits a ridge on the guide in each leaf: one leaf still uses the guide
    lst, ndvi = _small(scene)
    dms = xlstsr.methods.get_method("dms", regressor="bagging", min_samples=10)
    v = lst.values[0].astype(float)
    pred = dms.predict(v, np.isfinite(v), ndvi.values[None].astype(float), 4)
    assert pred is not None and np.unique(np.round(pred, 3)).size > 16


def test_dms_below_two_leaves_falls_back_with_a_warning_not_a_constant_tree(scene):
    lst, ndvi = _small(scene)
    dms = xlstsr.methods.get_method("dms", min_samples=16)  # min_samples_leaf 10: no split
    v = lst.values[0].astype(float)
    assert dms.predict(v, np.isfinite(v), ndvi.values[None].astype(float), 4) is None
    with pytest.warns(UserWarning, match=r"min_samples=16, and the fit needs at least 20"):
        xlstsr.upscale(lst, 4, method="dms", guide=ndvi, min_samples=16)


# -- 3. a user method instance is named -----------------------------------------------------
class Celsius(UpscaleMethod):  # forgot to return Kelvin
    def upscale_block(self, lst, valid, guide, factor):
        return nearest_upsample(lst, factor) - 273.15


class NeverFits(GuidedSharpener):
    def predict(self, lst, valid, guide, factor):
        return None


def test_user_methods_are_named_in_the_range_refusal_and_sharpener_warnings(scene):
    with pytest.raises(XlstsrError, match=r"method '[\w.]*Celsius'"):
        xlstsr.upscale(scene["lst_1km"], 4, method=Celsius())
    with pytest.warns(UserWarning, match=r"method '[\w.]*NeverFits': 1 of 1 image"):
        xlstsr.upscale(scene["lst_1km"], 4, method=NeverFits(), guide=scene["ndvi_250m"])


# -- 4. the fallback count is said to be of the call (one dask time chunk) ---------------------
def test_fallback_count_says_it_is_per_time_chunk_on_dask(scene):
    lst, ndvi = _small(scene)
    two = xr.concat([lst, lst + 1], dim="time").rio.write_crs(lst.rio.crs)
    two["time"] = np.array(["2020-07-01", "2020-07-02"], dtype="datetime64[ns]")
    with warnings.catch_warnings(record=True) as w:
        warnings.simplefilter("always")
        xlstsr.upscale(two.chunk({"time": 1}), 4, "dms", guide=ndvi,
                       guide_offset="ignore").compute()
    msgs = _too_few(w)
    assert msgs and all("1 of 1 image(s)" in m for m in msgs)
    assert all("one time chunk of a dask input or of a tiled run, each chunk counting" in m
               for m in msgs)

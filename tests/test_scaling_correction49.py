"""Scale correction and scaling statistics on multi-dim stacks (probe 49 S, findings 1-6).

A day/night stack (overpass, time, y, x) was corrected with one law per overpass (a cloudy image
changed by 21 K), crashed on dask, and was paired by position when the lead dims came in
another order (apply_scale_correction 27.6 K off, calibrate_detail_gain 0.69 for 1.28); warnings
named repeated dates or flattened positions; an infinite gain was "too small".
"""

from __future__ import annotations

import warnings

import numpy as np
import pytest
import xarray as xr

import xlstsr
from xlstsr.correction import apply_scale_correction, calibrate_detail_gain
from xlstsr.errors import XlstsrError


@pytest.fixture(scope="module")
def scene():
    ds = xlstsr.datasets.sample_scene(n_times=2, size=128)
    lst, truth = ds["lst_1km"], ds["lst_250m"]
    sr = xlstsr.upscale(lst, 4, "dms", guide=ds["ndvi_250m"], scale_correction=None)
    return sr, lst, truth


def _dn(a: xr.DataArray) -> xr.DataArray:
    """Day and night along `overpass`: the night the day scene mirrored east-west, 8 K cooler."""
    night = a.copy(data=a.values[..., ::-1] - 8.0)
    return xr.concat([a, night], xr.DataArray(["day", "night"], dims="overpass"))


def _cloudy(lst4: xr.DataArray) -> xr.DataArray:
    a = lst4.values.copy()
    a[1, 0, :12, :] = np.nan  # night of the first date: too cloudy for a law
    return lst4.copy(data=a)


def _per_image(sr4, lst4, mode):
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        return np.stack([[np.asarray(apply_scale_correction(sr4[i, j], lst4[i, j], None, 4, mode))
                          for j in range(sr4.sizes["time"])] for i in range(2)])


def test_law_on_4d_stack_fits_each_image_alone(scene):
    sr, lst, _ = scene
    sr4, lst4 = _dn(sr), _cloudy(_dn(lst))
    with pytest.warns(UserWarning, match="could not be fitted") as rec:
        out = np.asarray(apply_scale_correction(sr4, lst4, None, 4, "law"))
    assert out.shape == sr4.shape
    np.testing.assert_allclose(out, _per_image(sr4, lst4, "law"), atol=1e-4)
    # the cloudy image is left as the method made it, and named by its labels
    np.testing.assert_array_equal(out[1, 0], sr4.values[1, 0])
    msg = " ".join(str(w.message) for w in rec if "could not be fitted" in str(w.message))
    day0 = np.datetime_as_string(lst4.time.values[0], unit="D")
    assert f"(overpass=night, time={day0}) of 4" in msg, msg


def test_4d_arrays_named_by_index(scene):
    sr, lst, _ = scene
    sr4, lst4 = _dn(sr), _cloudy(_dn(lst))
    with pytest.warns(UserWarning, match=r"step\(s\) \(1, 0\) of 4"):
        out = apply_scale_correction(sr4.values, lst4.values, None, 4, "law")
    np.testing.assert_array_equal(out[1, 0], sr4.values[1, 0])


def test_4d_dask_stack_as_in_memory(scene):
    sr, lst, _ = scene
    sr4, lst4 = _dn(sr), _dn(lst)
    lazy = apply_scale_correction(sr4.chunk({"overpass": 1}), lst4, None, 4, "law")
    assert lazy.shape == sr4.shape
    np.testing.assert_allclose(np.asarray(lazy), _per_image(sr4, lst4, "law"), atol=1e-4)


def test_lst_lead_dims_in_another_order_paired_by_label(scene):
    sr, lst, _ = scene
    sr4, lst4 = _dn(sr), _dn(lst)
    same = np.asarray(apply_scale_correction(sr4, lst4, None, 4, 0.5))
    other = np.asarray(apply_scale_correction(sr4, lst4.transpose("time", "overpass", "y", "x"),
                                              None, 4, 0.5))
    np.testing.assert_allclose(other, same, atol=1e-5)
    # and sr stored (time, overpass, ...) comes back in its own order
    sr_t = sr4.transpose("time", "overpass", "y", "x")
    back = np.asarray(apply_scale_correction(sr_t, lst4, None, 4, 0.5))
    np.testing.assert_allclose(back, same.transpose(1, 0, 2, 3), atol=1e-5)


def test_upscale_scale_correction_on_4d_still_per_image(scene):
    """A guard (right before the fix too): upscale's own correction of a 4-D stack."""
    _, lst, _ = scene
    lst4 = _dn(lst)
    ds = xlstsr.datasets.sample_scene(n_times=2, size=128)
    u = xlstsr.upscale(lst4, 4, "dms", guide=ds["ndvi_250m"], scale_correction=0.5)
    u0 = xlstsr.upscale(lst4, 4, "dms", guide=ds["ndvi_250m"], scale_correction=None)
    np.testing.assert_allclose(u.values, _per_image(u0, lst4, 0.5), atol=1e-4)



def test_upscale_unfitted_warning_names_images_by_label(scene):
    # upscale's own correction of an (overpass, time) cube named "step(s) [2] of 4": a position
    # in the flattened stack the user never sees
    _, lst, _ = scene
    lst4 = _cloudy(_dn(lst))
    ds = xlstsr.datasets.sample_scene(n_times=2, size=128)
    with pytest.warns(UserWarning, match="could not be fitted") as rec:
        xlstsr.upscale(lst4, 4, "dms", guide=ds["ndvi_250m"], scale_correction="law")
    msg = " ".join(str(w.message) for w in rec if "could not be fitted" in str(w.message))
    day0 = np.datetime_as_string(lst4.time.values[0], unit="D")
    assert f"(overpass=night, time={day0}) of 4" in msg, msg

def test_calibrate_detail_gain_lead_dims_in_another_order(scene):
    sr, lst, truth = scene
    sr4, lst4, truth4 = _dn(sr), _dn(lst), _dn(truth)
    g = calibrate_detail_gain(sr4, lst4, truth4, 4)
    order = ("time", "overpass", "y", "x")
    assert calibrate_detail_gain(sr4, lst4, truth4.transpose(*order), 4) == pytest.approx(g)
    assert calibrate_detail_gain(sr4, lst4.transpose(*order), truth4, 4) == pytest.approx(g)
    # the same pairs stacked one by one give that gain
    flat = [a.stack(s=("overpass", "time")).transpose("s", "y", "x").values
            for a in (sr4, lst4, truth4)]
    assert calibrate_detail_gain(*flat, 4) == pytest.approx(g)


def _repeated_dates() -> xr.DataArray:
    rng = np.random.default_rng(0)
    n = 64
    t = np.array(["2020-07-01", "2020-07-01", "2020-07-02", "2020-07-02"], "datetime64[ns]")
    a = 300 + rng.standard_normal((4, n, n))
    a[1] = 290.0  # the night of 07-01 constant
    a[3, rng.random((n, n)) < 0.06] = np.nan  # the night of 07-02 speckled
    return xr.DataArray(
        a, dims=("time", "y", "x"),
        coords={"time": t, "overpass": ("time", ["day", "night", "day", "night"]),
                "y": 1e5 - 70 * np.arange(n), "x": 3e5 + 70 * np.arange(n)},
        attrs={"units": "K"},
    ).rio.write_crs("EPSG:32611")


def test_scaling_warnings_name_overpass_of_repeated_dates():
    with warnings.catch_warnings(record=True) as rec:
        warnings.simplefilter("always")
        xlstsr.scaling_stats(_repeated_dates())
    text = [str(w.message) for w in rec]
    constant = [m for m in text if "constant over their valid pixels" in m]
    speckle = [m for m in text if "isolated gap pixels" in m]
    assert constant and "(time=2020-07-01, overpass=night)" in constant[0], constant
    assert speckle and "(time=2020-07-02, overpass=night)" in speckle[0], speckle


def test_step_names_repeated_labels_with_stacked_lead():
    from xlstsr.scaling import _step_names

    da = _repeated_dates()
    names = _step_names(da, ["time"])
    assert names == ["(time=2020-07-01, overpass=day)", "(time=2020-07-01, overpass=night)",
                     "(time=2020-07-02, overpass=day)", "(time=2020-07-02, overpass=night)"]
    # unique labels: named as before, the other coordinate not added
    assert _step_names(da.isel(time=[0, 2]), ["time"]) == ["time=2020-07-01", "time=2020-07-02"]
    # with a second lead dim: each part named, the overpass with its date
    two = xr.concat([da, da + 1], "band").assign_coords(band=[1, 2])
    assert _step_names(two, ["band", "time"])[1] == "(band=1, time=2020-07-01, overpass=night)"


@pytest.mark.parametrize("gain", [np.inf, float("inf"), -np.inf])
def test_infinite_gain_told_finite(scene, gain):
    sr, lst, _ = scene
    with pytest.raises(XlstsrError, match="finite number"):
        apply_scale_correction(sr, lst, None, 4, gain)


def test_negative_gain_still_refused(scene):
    sr, lst, _ = scene
    with pytest.raises(XlstsrError, match=r">= 0, got -0\.5"):
        apply_scale_correction(sr, lst, None, 4, -0.5)


def test_scaling_stats_docstring_names_isolated_gap_warning():
    doc = xlstsr.scaling_stats.__doc__
    warns = doc[doc.index("Warns\n"):doc.index("Examples\n")]
    assert "isolated gap pixels" in warns

"""Session 51 fixes of the classical sharpeners (tsharp, dms): probe 51m findings."""

from __future__ import annotations

import re
import tracemalloc
import warnings

import numpy as np
import pytest

import xlstsr
import xlstsr.methods.tsharp
from xlstsr.errors import GridError, GuideCoverageError, XlstsrError
from xlstsr.kernels.aggregate import radiometric_mean
from xlstsr.methods import get_method


def _scene(n: int = 32, factor: int = 4, seed: int = 3) -> tuple[np.ndarray, np.ndarray]:
    """A fine NDVI (N, N) and the coarse LST (n, n) a linear law on it aggregates to."""
    rng = np.random.default_rng(seed)
    fine = n * factor
    yy, xx = np.mgrid[0:fine, 0:fine] / fine
    ndvi = 0.45 + 0.3 * np.sin(7 * xx + 3 * yy) * np.cos(5 * yy) + 0.05 * rng.standard_normal(
        (fine, fine))
    lst = radiometric_mean(315.0 - 20.0 * ndvi, factor)
    return lst, ndvi


def _run(method, lst, valid, guide, factor=4):
    with warnings.catch_warnings(record=True) as caught:
        warnings.simplefilter("always")
        out = method.upscale_block(lst[None], valid[None], guide[None, None], factor)[0]
    return out, [str(w.message) for w in caught]


# -- finding 1: bagging with min_samples=1 -----------------------------------------------------
def test_bagging_one_pixel_windows_do_not_drop_the_guide():
    """One clear coarse pixel per local window: its one-sample model (a constant) fitted that
    pixel exactly and won the blend, so the result was the unguided one. Windows under two
    pixels are left to the global model, which carries the guide."""
    lst, ndvi = _scene()
    valid = np.zeros(lst.shape, bool)
    valid[2::8, 2::8] = True  # 16 pixels, one per extended 4-pixel window (6 x 6)
    filled = np.where(valid, lst, np.nan)
    filled = np.where(np.isfinite(filled), filled, np.nanmean(filled))
    kw = dict(regressor="bagging", window=4)
    local, msgs = _run(get_method("dms", min_samples=1, **kw), filled, valid, ndvi)
    assert not msgs
    global_only, _ = _run(get_method("dms", min_samples=1, **{**kw, "window": 0}),
                          filled, valid, ndvi)
    unguided, _ = _run(get_method("dms", min_samples=1, gain=0.0, **kw), filled, valid, ndvi)
    assert np.abs(global_only - unguided).max() > 1.0  # the guide's detail, several K
    np.testing.assert_allclose(local, global_only, atol=1e-9)


def test_bagging_floor_is_two_pixels_and_one_pixel_is_told_so():
    m = get_method("dms", regressor="bagging", min_samples=1)
    assert m.min_fit_samples(1) == 2
    lst, ndvi = _scene(n=8)
    valid = np.zeros(lst.shape, bool)
    valid[3, 3] = True
    filled = np.full(lst.shape, lst[3, 3])
    _, msgs = _run(m, filled, valid, ndvi)
    assert len(msgs) == 1
    assert "1 usable" in msgs[0] and "at least 2" in msgs[0]
    assert "detail layer" not in msgs[0]  # the cause is one pixel, not the guide
    assert "e.g. min_samples=1" not in msgs[0]  # the advice that cannot work is not given


# -- finding 6: working-set guard --------------------------------------------------------------
@pytest.mark.parametrize("name,options,bands", [
    ("tsharp", {}, 1), ("tsharp", {}, 3), ("tsharp", {"quadratic": True}, 2),
    ("dms", {}, 1), ("dms", {}, 3), ("dms", {"features": "mean_std", "t4": True}, 2),
])
def test_working_set_estimate_matches_the_measured_peak(name, options, bands):
    """The guard's estimate against tracemalloc's peak of one upscale_block call of two
    images (its result stack is float64: 8 of the RESULT_BYTES; the engine's copy is not in
    the call). The output-size guards budgeted 4 bytes per fine pixel for ~20x that."""
    lst, ndvi = _scene(n=100)
    rng = np.random.default_rng(0)
    guide = np.stack([ndvi + 0.1 * k * rng.random(ndvi.shape) for k in range(bands)])
    if name == "dms":  # few trees and windows (the time): memory is the image's, not theirs
        options = {**options, "n_estimators": 2, "window": 40}
    m = get_method(name, **options)
    stack = np.stack([lst, lst + 1.0])
    valid = np.ones(stack.shape, bool)
    warm = (stack[:, :20, :20], valid[:, :20, :20], np.stack([guide[:, :80, :80]] * 2))
    m.upscale_block(*warm, 4)  # first-call imports (sklearn) out of the measure
    tracemalloc.start()
    try:
        m.upscale_block(stack, valid, np.stack([guide, guide]), 4)
        peak = tracemalloc.get_traced_memory()[1]
    finally:
        tracemalloc.stop()
    px = ndvi.size
    estimate = (2 * 8 + m.work_bytes_per_pixel(bands)) * px
    assert 0.75 < estimate / peak < 1.4, (estimate / px, peak / px)


def _budget(monkeypatch, nbytes):
    monkeypatch.setattr(xlstsr.methods.guided, "_available_memory", lambda: nbytes)


@pytest.mark.parametrize("name", ["tsharp", "dms"])
def test_stack_over_the_working_set_is_refused_and_the_advice_runs(monkeypatch, name):
    s = xlstsr.datasets.sample_scene(n_times=2, size=64)
    lst, ndvi = s["lst_1km"], s["ndvi_250m"]
    m = get_method(name)
    px = 64 * 64
    one = (m.work_bytes_per_pixel(1) + xlstsr.methods.guided.RESULT_BYTES) * px
    _budget(monkeypatch, one + px)  # one image fits, two do not
    with pytest.raises(GridError, match=r"lst.chunk\(\{'time': 1\}\)") as err:
        xlstsr.upscale(lst, 4, method=name, guide=ndvi)
    assert "GiB" in str(err.value) and "upscale_to_zarr" in str(err.value)
    # followed: one image per task
    out = xlstsr.upscale(lst.chunk({"time": 1}), 4, method=name, guide=ndvi).compute()
    monkeypatch.undo()
    whole = xlstsr.upscale(lst, 4, method=name, guide=ndvi)
    np.testing.assert_allclose(out.values, whole.values, atol=1e-4)


@pytest.mark.parametrize("name", ["tsharp", "dms"])
def test_image_over_the_working_set_is_told_to_split_the_area(monkeypatch, name):
    s = xlstsr.datasets.sample_scene(n_times=1, size=64)
    lst, ndvi = s["lst_1km"], s["ndvi_250m"]
    m = get_method(name)
    one = (m.work_bytes_per_pixel(1) + xlstsr.methods.guided.RESULT_BYTES) * 64 * 64
    _budget(monkeypatch, one // 2)
    with pytest.raises(GridError, match="one image does not fit") as err:
        xlstsr.upscale(lst, 4, method=name, guide=ndvi)
    text = str(err.value)
    assert "'bicubic', 'sisr', 'disr'" in text
    # followed: the window it names runs
    ys, xs = re.search(r"lst\.isel\(y=slice\(0, (\d+)\), x=slice\(0, (\d+)\)\)", text).groups()
    part = xlstsr.upscale(lst.isel(y=slice(0, int(ys)), x=slice(0, int(xs))), 4, method=name,
                          guide=ndvi, method_options={"min_samples": 3} if name == "tsharp"
                          else {"min_samples": 3, "min_samples_leaf": 1})
    assert part.shape == (1, 4 * int(ys), 4 * int(xs)) and np.isfinite(part.values).any()


def test_existing_sizes_stay_accepted():
    """1200 x 1200 LST days at factor 4 (~1.7 GB for the fit, 0.28 GB per day of result) on
    a 16 GB machine: accepted as before."""
    for name in ("tsharp", "dms"):
        m = get_method(name)
        with pytest.MonkeyPatch.context() as mp:
            _budget(mp, 16 * 1024**3)
            xlstsr.methods.guided.check_working_set(m, 10, 1200, 1200, 1, 4)


# -- finding 3: upscale_block's guide shape ------------------------------------------------------
@pytest.mark.parametrize("name", ["tsharp", "dms"])
def test_block_guide_without_its_channel_axis_is_told_the_shape(name):
    lst, ndvi = _scene(n=16)
    m = get_method(name, min_samples=10, **({"min_samples_leaf": 2} if name == "dms" else {}))
    stack, valid = lst[None], np.ones((1, *lst.shape), bool)
    with pytest.raises(GuideCoverageError, match=r"\(1, c, 64, 64\)") as err:
        m.upscale_block(stack, valid, ndvi[None], 4)
    assert "guide[:, None]" in str(err.value)
    followed = m.upscale_block(stack, valid, ndvi[None][:, None], 4)
    with pytest.raises(GuideCoverageError, match=r"guide\[None, None\]"):
        m.upscale_block(stack, valid, ndvi, 4)
    np.testing.assert_array_equal(m.upscale_block(stack, valid, ndvi[None, None], 4), followed)
    with pytest.raises(XlstsrError, match=r"\(n, y, x\)"):
        m.upscale_block(lst, valid[0], ndvi[None, None], 4)


@pytest.mark.parametrize("name", ["tsharp", "dms"])
def test_block_guide_of_one_image_serves_every_image(name):
    lst, ndvi = _scene(n=16)
    m = get_method(name, min_samples=10, **({"min_samples_leaf": 2} if name == "dms" else {}))
    stack = np.stack([lst, lst + 1.0, lst - 2.0])
    valid = np.ones(stack.shape, bool)
    out = m.upscale_block(stack, valid, ndvi[None, None], 4)
    np.testing.assert_array_equal(out, m.upscale_block(stack, valid, np.stack([ndvi[None]] * 3),
                                                       4))
    with pytest.raises(GuideCoverageError, match=r"\(3, c, 64, 64\)"):
        m.upscale_block(stack, valid, np.stack([ndvi[None]] * 2), 4)


# -- finding 4: the flat-guide warning's cause ---------------------------------------------------
@pytest.mark.parametrize("name", ["tsharp", "dms"])
def test_guide_one_value_under_every_clear_pixel_is_named_a_fill(name):
    """East half of the LST cloudy, the guide 0 over the west half (a tile's undeclared fill;
    the guide as a whole varies, so the guide checks pass): the warning said "a detail layer
    ... give the band itself (e.g. NDVI)" for an NDVI."""
    lst, ndvi = _scene(n=16)
    valid = np.zeros(lst.shape, bool)
    valid[:, :8] = True
    guide = ndvi.copy()
    guide[:, : 8 * 4] = 0.0
    m = get_method(name)
    _, msgs = _run(m, lst, valid, guide)
    assert len(msgs) == 1
    assert "one value (0)" in msgs[0] and "undeclared fill" in msgs[0]
    assert "128 clear pixels" in msgs[0]
    assert "detail layer" not in msgs[0]
    # followed: the fill masked, the cause is now told as no usable pixel
    masked = np.where(guide != 0, guide, np.nan)
    _, msgs = _run(m, lst, valid, masked)
    assert len(msgs) == 1 and "No clear coarse pixel has a complete guide block" in msgs[0]


def test_detail_layer_keeps_its_text():
    """A band minus its own block mean still gets the detail-layer text (not the fill's)."""
    lst, ndvi = _scene(n=16)
    detail = ndvi - np.repeat(np.repeat(ndvi.reshape(16, 4, 16, 4).mean(axis=(1, 3)), 4, 0), 4, 1)
    _, msgs = _run(get_method("tsharp"), lst, np.ones(lst.shape, bool), detail)
    assert len(msgs) == 1 and "detail layer" in msgs[0]


def test_unknown_available_memory_skips_the_check(monkeypatch):
    """(review 51b/1) without psutil the check took 16 GiB as measured: it refused calls that
    fit on larger machines and passed others; now it reads /proc/meminfo or skips."""
    m = get_method("tsharp")
    _budget(monkeypatch, None)
    xlstsr.methods.guided.check_working_set(m, 1000, 1200, 1200, 1, 4)  # not judged
    monkeypatch.undo()
    monkeypatch.setitem(__import__("sys").modules, "psutil", None)  # import fails
    avail = xlstsr.methods.guided._available_memory()
    assert avail is None or avail > 0


def test_stack_refusal_names_the_command_line_route(monkeypatch):
    s = xlstsr.datasets.sample_scene(n_times=2, size=64)
    m = get_method("tsharp")
    one = (m.work_bytes_per_pixel(1) + xlstsr.methods.guided.RESULT_BYTES) * 64 * 64
    _budget(monkeypatch, one + 64 * 64)
    with pytest.raises(GridError, match=r"--chunks time=1.*\.zarr") as err:
        xlstsr.upscale(s["lst_1km"], 4, method="tsharp", guide=s["ndvi_250m"])
    assert "a guide with a time dim alike" in str(err.value)

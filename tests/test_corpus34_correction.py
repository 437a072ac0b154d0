"""Corpus 34 (scale correction): Celsius taken by apply_scale_correction, the correction missing
from history, a gain calibrated on a corrected output, law refusals after the method ran (with
advice bicubic refused), stale figures in the kernel's docstring."""

from __future__ import annotations

import re
import time
import warnings
from pathlib import Path

import numpy as np
import pytest

import xlstsr
from xlstsr import errors
from xlstsr.correction import apply_scale_correction, calibrate_detail_gain

DOCS = Path(__file__).resolve().parents[1] / "docs" / "results"


@pytest.fixture(scope="module")
def scene():
    return xlstsr.datasets.sample_scene(n_times=2, size=64, seed=3)


@pytest.fixture(scope="module")
def sisr_sr(scene):
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        return xlstsr.upscale(scene["lst_1km"], 4, "sisr")


@pytest.mark.parametrize("mode", [0.5, "auto", "law"])
def test_apply_scale_correction_refuses_celsius_arrays_and_decodes_celsius_dataarrays(
        scene, sisr_sr, mode):
    lst, sr = scene["lst_1km"], sisr_sr
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        kelvin = apply_scale_correction(sr.values, lst.values, None, 4, mode)
        with pytest.raises(errors.PhysicalRangeError, match="degrees Celsius"):
            apply_scale_correction(sr.values - 273.15, lst.values - 273.15, None, 4, mode)
        # lazy: refused when computed, nothing read at the call
        lazy = apply_scale_correction(sr.chunk({"time": 1}).data - 273.15, lst.values, None, 4,
                                      mode)
        with pytest.raises(errors.PhysicalRangeError, match="degrees Celsius"):
            lazy.compute()
        src = (sr - 273.15).assign_attrs(units="degC")
        lc = (lst - 273.15).assign_attrs(units="degC")
        celsius = apply_scale_correction(src, lc, None, 4, mode)
        # Kelvin sr with a degC coarse input: decoded, the same Kelvin result
        mixed = apply_scale_correction(sr, lc, None, 4, mode)
    # given in Celsius, returned in Celsius: the Kelvin result less 273.15 (T^4 means of
    # Celsius moved it by up to 3.7 K)
    np.testing.assert_allclose(np.asarray(celsius) + 273.15, kelvin, atol=1e-3)
    np.testing.assert_allclose(np.asarray(mixed), kelvin, atol=1e-3)


def test_history_records_the_scale_correction(scene):
    lst = scene["lst_1km"]
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        plain = xlstsr.upscale(lst, 4, "sisr")
        for mode in (0.5, "law"):
            out = xlstsr.upscale(lst, 4, "sisr", scale_correction=mode)
            assert f"scale_correction={mode!r}" in out.attrs["history"], out.attrs["history"]
    assert "scale_correction" not in plain.attrs["history"]


def test_calibrate_detail_gain_refuses_a_corrected_sr(scene, sisr_sr):
    lst, truth = scene["lst_1km"], scene["lst_250m"]
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        corrected = xlstsr.upscale(lst, 4, "sisr", scale_correction=0.5)
    with pytest.raises(errors.XlstsrError, match=r"already scale-corrected.*scale_correction=None"):
        calibrate_detail_gain(corrected, lst, truth, 4)
    assert calibrate_detail_gain(sisr_sr, lst, truth, 4) > 0  # the method's own output: taken


def _guide3(lst, ndvi):
    dx = float(lst.x[1] - lst.x[0])
    dy = float(lst.y[1] - lst.y[0])
    xs = np.concatenate([float(x) - dx / 2 + (np.arange(3) + 0.5) * dx / 3 for x in lst.x.values])
    ys = np.concatenate([float(y) - dy / 2 + (np.arange(3) + 0.5) * dy / 3 for y in lst.y.values])
    return ndvi.interp(x=xs, y=ys, kwargs={"fill_value": "extrapolate"}).rio.write_crs(
        ndvi.rio.crs)


def test_law_limits_refused_before_any_work_with_advice_for_the_method(scene, monkeypatch):
    lst, ndvi = scene["lst_1km"], scene["ndvi_250m"]
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        # bicubic: the laws leave it as it is, at any factor (the refusal advised a fixed gain,
        # which bicubic refuses)
        b3 = xlstsr.upscale(lst, 3, "bicubic", scale_correction="auto")
        np.testing.assert_array_equal(b3.values, xlstsr.upscale(lst, 3, "bicubic").values)
        small = lst.isel(y=slice(0, 12), x=slice(0, 12))
        xlstsr.upscale(small, 4, "bicubic", scale_correction="law")
        # nearest: as bicubic, left as it is at any factor (review 53: the law was fitted, or
        # its limits refused, for an output it leaves as it is)
        n3 = xlstsr.upscale(lst, 3, "nearest", scale_correction="auto")
        np.testing.assert_array_equal(n3.values, xlstsr.upscale(lst, 3, "nearest").values)
    # a detail-adding method: refused before the method runs, advising a fixed gain
    import importlib

    up = importlib.import_module("xlstsr.upscale")

    def no_run(*a, **k):
        raise AssertionError("the method ran before the refusal")

    monkeypatch.setattr(up, "upscale_array", no_run)
    g3 = _guide3(lst, ndvi)
    with pytest.raises(errors.GridError, match=r"not 3; pass a fixed detail gain"):
        xlstsr.upscale(lst, 3, "dms", guide=g3, scale_correction="law")
    # dask: a too-small LST known from its shape, refused when the graph is built
    t = time.perf_counter()
    with pytest.raises(errors.GridError, match=r"12 x 12 .*too small.*fixed detail gain"):
        xlstsr.upscale(small.chunk({"time": 1}), 4, "dms",
                       guide=ndvi.isel(y=slice(0, 48), x=slice(0, 48)), scale_correction="auto")
    assert time.perf_counter() - t < 5
    # apply_scale_correction too, on dask, at the call
    import dask.array as dsa

    sr = dsa.zeros((2, 48, 48), chunks=(1, 48, 48)) + 300.0
    with pytest.raises(errors.GridError, match="too small"):
        apply_scale_correction(sr, small.values, None, 4, "auto")


def test_kernel_docstring_quotes_the_result_pages():
    import xlstsr.kernels.correction as kc

    si = (DOCS / "scale_invariance.md").read_text()
    olu = (DOCS / "one_level_up.md").read_text()
    m_si = re.search(r"gain_transfer` \(RMSE [^,]+, \|ratio - 1\| \+(\d+)%\): it closes (\d+)%", si)
    m_olu = re.search(r"gain_transfer` \(RMSE [^,]+, \|ratio - 1\| \+(\d+)%\)", olu)
    assert m_si and m_olu, "the result pages' summary lines changed: update this test"
    doc = " ".join(kc.__doc__.split())
    assert f"closes {m_si.group(2)} % of the RMSE gap" in doc
    assert f"+{m_si.group(1)} % and +{m_olu.group(1)} %" in doc

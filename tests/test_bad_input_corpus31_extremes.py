"""Corpus 31e: a deep model run far from the temperatures it was trained on, and a cloud
threshold that drops a cold scene's truth, both warned about."""

import warnings

import numpy as np
import pytest
import xarray as xr

import xlstsr


def _messages(record):
    return [str(w.message) for w in record]


@pytest.fixture(scope="module")
def scene():
    return xlstsr.datasets.sample_scene(n_times=1, size=32, seed=3, cloud_fraction=0)


def _shifted(scene, mean_k):
    base = scene["lst_1km"]
    v = base.values.astype(np.float64)
    return base.copy(data=(v - np.nanmean(v) + mean_k).astype(np.float32))


def _temperature_warnings(da, method, guide):
    with warnings.catch_warnings(record=True) as rec:
        warnings.simplefilter("always")
        out = xlstsr.upscale(da, 4, method, guide=guide)
        if hasattr(out.data, "dask"):
            out.compute()
    return [m for m in _messages(rec) if "trained on" in m and "absolute temperature" in m]


@pytest.mark.parametrize("lazy", [False, True])
def test_disr_far_from_training_temperature_warns(scene, lazy):
    """disr's default weights normalise the LST as ~290 +- 11 K; at a 340 K scene mean their
    output was 2.7 K too cold without a word."""
    from xlstsr.methods import get_method

    m = get_method("disr")
    offset, scale = m.lst_normalisation
    hot = _shifted(scene, offset + 4.5 * scale)
    if lazy:
        hot = hot.chunk({"y": 16, "x": 16})
    found = _temperature_warnings(hot, "disr", scene["ndvi_250m"])
    assert len(found) == 1  # once per call, not once per block
    assert "conserve=True" in found[0]
    # inside the range: no warning
    assert not _temperature_warnings(_shifted(scene, offset), "disr", scene["ndvi_250m"])


def test_lazy_lst_not_read_at_graph_build(scene):
    from xlstsr.methods import get_method

    offset, scale = get_method("disr").lst_normalisation
    cold = _shifted(scene, offset - 6 * scale).chunk({"y": 16, "x": 16})
    with warnings.catch_warnings(record=True) as rec:
        warnings.simplefilter("always")
        out = xlstsr.upscale(cold, 4, "disr", guide=scene["ndvi_250m"])
    assert not [m for m in _messages(rec) if "absolute temperature" in m]
    assert hasattr(out.data, "dask")


def test_sisr_not_warned_for_temperature(scene):
    """sisr's bundled model keeps its detail whatever the mean (probe well under the limit):
    no warning for it, though it also records an LST normalisation."""
    from xlstsr.methods import get_method
    from xlstsr.methods.torch_model import TEMPERATURE_PROBE_K

    m = get_method("sisr")
    assert m.lst_normalisation is not None
    assert m.temperature_dependence is not None
    assert m.temperature_dependence <= TEMPERATURE_PROBE_K
    offset, scale = m.lst_normalisation
    assert not _temperature_warnings(_shifted(scene, offset + 6 * scale), "sisr", None)


def _cold_truth(scene, mean_k):
    f = scene["lst_250m"]
    return f.copy(data=((f.values - float(f.mean())) * 0.8 + mean_k).astype(np.float32))


def _threshold_warnings(truth, valid_min):
    coarse = xlstsr.coarsen(truth, 4)
    sr = xlstsr.upscale(coarse, 4)
    with warnings.catch_warnings(record=True) as rec:
        warnings.simplefilter("always")
        s = xlstsr.evaluate(sr, truth, coarse=coarse, valid_min=valid_min, clear=True)
    return s, [m for m in _messages(rec) if "otherwise valid pixels" in m]


def test_valid_min_dropping_cold_truth_warns(scene):
    truth = _cold_truth(scene, 225.0)
    s, found = _threshold_warnings(truth, 230)
    n = int(np.asarray(s["n_valid"].values).ravel()[0])
    assert n < truth.size / 2
    assert len(found) == 1 and "lower valid_min" in found[0]
    # a lower threshold keeps the scene: no warning
    assert not _threshold_warnings(truth, 190)[1]
    # a temperate scene with the same threshold: no warning
    assert not _threshold_warnings(_cold_truth(scene, 295.0), 230)[1]


def test_valid_min_warning_counts_match(scene):
    truth = _cold_truth(scene, 225.0)
    assert isinstance(truth, xr.DataArray)
    _, found = _threshold_warnings(truth, 230)
    from xlstsr.evaluate import reference_mask

    kept = int(reference_mask(truth, valid_min=230, clear=True).sum())
    assert f"removes {truth.size - kept} of the reference's {truth.size}" in found[0]

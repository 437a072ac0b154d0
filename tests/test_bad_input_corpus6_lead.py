"""Sixth round of bad inputs (session 10): each case below gave a silent wrong result or an
unhelpful error before its fix."""

import numpy as np
import pytest
import xarray as xr

from xlstsr import errors
from xlstsr.train import window_samples


def _cube(values, **attrs):
    return xr.DataArray(values, dims=("time", "y", "x"), coords={"time": [1, 2]}, name="lst",
                        attrs={"units": "K", **attrs})


def test_window_samples_does_not_scale_kelvin_twice():
    v = 290 + 10 * np.random.default_rng(0).random((2, 8, 8)).astype("float32")
    # before: 5.9 K windows labelled Kelvin (the kept scale_factor applied again)
    with pytest.raises(errors.XlstsrError, match=r"holds Kelvin already.*scale_factor.*pop"):
        window_samples(_cube(v, scale_factor=0.02), {"a": (0, 0)}, 4)
    # digital numbers with their scale are decoded once
    dn = _cube(np.round(v / 0.02).astype("uint16"), scale_factor=0.02)
    out = window_samples(dn, {"a": (0, 0)}, 4)["lst"]
    np.testing.assert_allclose(out.values, v[:, :4, :4], atol=0.011)
    # a float NDVI with a scale is not a temperature: decoded as CF says
    ndvi = _cube(np.full((2, 8, 8), 5000.0, "float32"), scale_factor=1e-4).assign_attrs(units="1")
    assert float(window_samples(ndvi, {"a": (0, 0)}, 4)["lst"].mean()) == pytest.approx(0.5)


def test_a_temperature_is_not_trained_on_as_the_guide():
    import xlstsr
    from xlstsr.train import fit_cube

    s = xlstsr.datasets.sample_scene(n_times=2, size=64)
    opts = {"mode": "sif", "patch": 16, "window": 16, "epochs": 1}
    # before: the 250 m LST as the SIF guide trained without a word
    with pytest.raises(errors.XlstsrError, match=r"guide's units are 'K', a temperature.*NDVI"):
        fit_cube(s["lst_1km"], guide=s["lst_250m"], **opts)
    _, info = fit_cube(s["lst_1km"], guide=s["ndvi_250m"], **opts)
    assert np.isfinite(info["history"]["best_val_loss"])

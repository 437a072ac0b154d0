"""Thirty-first review (of the thirtieth round's changes): a Dataset's named reference is not a
second LST candidate (as a named emissivity was not); the co-registration misfit's safety
threshold no longer drops pixels of the compared set when ``min_weight`` is below it.
"""

from __future__ import annotations

import warnings

import numpy as np
import pytest
import xarray as xr

import xlstsr
from xlstsr.datasets import sample_scene
from xlstsr.kernels.coregister import forward_model, misfit_surface


def test_dataset_evaluate_named_reference_is_not_an_lst_candidate() -> None:
    fine = sample_scene(n_times=1, size=32)["lst_1km"].isel(time=0)
    ds = xr.Dataset({"sr": fine, "truth": fine + 0.5})
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        named = ds.lstsr.evaluate("truth")
        explicit = xlstsr.evaluate(ds["sr"], ds["truth"])
    assert float(named["bias"]) == pytest.approx(-0.5, abs=1e-5)
    xr.testing.assert_allclose(named, explicit)


def test_dataset_evaluate_unknown_reference_names_the_variables() -> None:
    fine = sample_scene(n_times=1, size=32)["lst_1km"].isel(time=0)
    ds = xr.Dataset({"sr": fine})
    with pytest.raises(xlstsr.errors.VariableNotFoundError, match=r"'truth'.*\['sr'\]"):
        ds.lstsr.evaluate("truth")


def _reference_misfit(fine: np.ndarray, coarse: np.ndarray, dys: np.ndarray, dxs: np.ndarray,
                      min_weight: float) -> np.ndarray:
    """1 - r^2 over one fixed set: the pixels observed >= min_weight at the search's corners."""
    base = np.ones(coarse.shape, bool)
    for dy in (dys.min(), dys.max()):
        for dx in (dxs.min(), dxs.max()):
            base &= np.isfinite(forward_model(fine, 4, dy, dx, min_weight=min_weight))
    out = np.empty((dys.size, dxs.size))
    for i, dy in enumerate(dys):
        for j, dx in enumerate(dxs):
            pred = forward_model(fine, 4, dy, dx, min_weight=0.0)
            ok = base & np.isfinite(coarse) & np.isfinite(pred)
            assert ok.sum() == (base & np.isfinite(coarse)).sum()  # the set is the same
            r = np.corrcoef(pred[ok], coarse[ok])[0, 1]
            out[i, j] = 1 - r * r
    return out


@pytest.mark.parametrize("min_weight", [0.95, 0.3])
def test_misfit_surface_compares_one_set_at_every_shift(min_weight: float) -> None:
    rng = np.random.default_rng(1)
    fine = rng.normal(0.5, 0.1, (128, 128))
    fine[rng.random(fine.shape) < 0.05] = np.nan  # scattered gaps
    fine[40:52, 40:52] = np.nan  # a block gap of 3 x 3 coarse pixels
    coarse = forward_model(np.nan_to_num(fine, nan=0.5), 4, 0.6, -0.4, min_weight=0.0)
    dys = dxs = np.arange(-2.0, 2.01, 0.5)
    got = misfit_surface(fine, coarse, 4, dys, dxs, min_weight=min_weight)
    np.testing.assert_allclose(got, _reference_misfit(fine, coarse, dys, dxs, min_weight),
                               rtol=2e-3)  # separable operators vs FFT: 1e-4 apart


def test_coarsen_function_takes_a_dataset_emissivity_by_name() -> None:
    # the accessor took emissivity='emis'; the function counted it among the LST candidates
    lst = sample_scene(n_times=1, size=32)["lst_250m"]
    ds = xr.Dataset({"lst": lst, "emis": lst * 0 + 0.97})
    named = xlstsr.coarsen(ds, 4, emissivity="emis")
    xr.testing.assert_identical(named, xlstsr.coarsen(ds["lst"], 4, emissivity=ds["emis"]))
    with pytest.raises(xlstsr.errors.VariableNotFoundError, match="'nope'"):
        xlstsr.coarsen(ds, 4, emissivity="nope")


def test_run_demo_refuses_more_dates_than_the_series_has(tmp_path) -> None:
    # n_times=20 wrote the 8 dates there are, as if 20 had been streamed
    from xlstsr.demo import run_demo

    with pytest.raises(xlstsr.errors.XlstsrError, match="has 8 dates"):
        run_demo(tmp_path / "out", method="bicubic", progress=False, n_times=20)
    assert not (tmp_path / "out").exists()  # refused before any work

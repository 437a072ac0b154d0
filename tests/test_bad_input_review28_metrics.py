"""Review 28: the unitless Kelvin/Celsius guard of the metrics refused fields that declare a
non-temperature unit (NDVI '1', a DEM in 'm') and correlation; an alias of a registered method
was a dynamic subclass that the standard pickle refused."""

from __future__ import annotations

import pickle
import warnings

import numpy as np
import pytest
import xarray as xr

import xlstsr
from xlstsr import metrics as M
from xlstsr.errors import UnitsError
from xlstsr.methods import get_method, register_method
from xlstsr.methods.bicubic import Bicubic


@pytest.fixture(scope="module")
def scene() -> xr.Dataset:
    return xlstsr.datasets.sample_scene(n_times=1, size=32, cloud_fraction=0)


def _field(like: xr.DataArray, values: np.ndarray, units: str | None) -> xr.DataArray:
    da = like.copy(data=values)
    da.attrs = {} if units is None else {"units": units}
    return da


def test_metrics_take_a_declared_non_temperature_field(scene):
    # before: correlation(LST, NDVI units '1') and (LST, DEM units 'm') refused "looks like
    # Celsius ... the units attribute of one or both is missing"
    lst = scene["lst_250m"]
    rng = np.random.default_rng(0)
    ndvi = _field(lst, rng.uniform(0.1, 0.8, lst.shape), "1")
    dem = _field(lst, 40.0 + 10 * rng.random(lst.shape), "m")
    for other in (ndvi, dem):
        r = float(M.correlation(lst, other).squeeze())
        assert -1.0 <= r <= 1.0
    assert np.isfinite(float(M.rmse(lst, dem).squeeze()))  # a declared 'm': no guess by median
    # correlation is unit-free: a unitless Celsius copy of the field correlates perfectly
    celsius = _field(lst, lst.values - 273.15, None)
    np.testing.assert_allclose(float(M.correlation(lst, celsius).squeeze()), 1.0, atol=1e-9)
    # the guard still refuses a unitless Celsius reference against Kelvin
    with pytest.raises(UnitsError, match="look like degrees Celsius"):
        M.rmse(lst, celsius)
    with pytest.raises(UnitsError, match="look like degrees Celsius"):
        M.rmse(lst, _field(lst, lst.values - 273.15, " "))  # an empty units attribute


def test_alias_of_a_registered_method_pickles(scene, method_registry):
    # before: a dynamic subclass under Bicubic's qualname: "not the same object as
    # xlstsr.methods.bicubic.Bicubic" from pickle, for the method and for a lazy result
    assert register_method("cubic")(Bicubic) is Bicubic
    m = get_method("cubic")
    assert type(m) is Bicubic and m.name == "bicubic" and Bicubic.name == "bicubic"
    assert type(pickle.loads(pickle.dumps(m))) is Bicubic
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        lazy = xlstsr.upscale(scene["lst_1km"].chunk(), 4, "cubic")
        again = pickle.loads(pickle.dumps(lazy))
        np.testing.assert_array_equal(again.values, lazy.values)
        assert lazy.attrs["xlstsr_method"] == "bicubic"

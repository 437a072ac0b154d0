"""Corpus 34s (the docs after the session's changes): a built-in replaced by a user's class
(register_method(..., replace=True)) resumed the built-in's store with its own values; the
advice for the object coordinates upscale_to_zarr leaves out failed when pasted."""

import re
import warnings

import numpy as np
import pytest
import xarray as xr

import xlstsr
from tests.helpers import restore_method_registry
from xlstsr.errors import XlstsrError
from xlstsr.methods import register_method
from xlstsr.methods.bicubic import Bicubic


@pytest.fixture(scope="module")
def lst():
    return xlstsr.datasets.sample_scene(n_times=2, size=32, seed=4)["lst_1km"]


def test_store_of_a_builtin_is_not_resumed_by_its_replacement(lst, tmp_path):
    store = str(tmp_path / "out.zarr")
    xlstsr.upscale_to_zarr(lst, store, 4, "bicubic", progress=False)
    with restore_method_registry():

        @register_method("bicubic", replace=True)
        class Warmer(Bicubic):
            def upscale_block(self, lst, valid, guide, factor):
                return super().upscale_block(lst, valid, guide, factor) + 10.0

        with pytest.raises(XlstsrError, match="different arguments") as err:
            xlstsr.upscale_to_zarr(lst, store, 4, "bicubic", progress=False, mode="resume")
        assert "<locals>.Warmer" in str(err.value)  # the class, named as recorded
    # the built-in itself still resumes its store
    xlstsr.upscale_to_zarr(lst, store, 4, "bicubic", progress=False, mode="resume")


def test_advice_for_object_coordinates_keeps_them_as_text(lst, tmp_path):
    windows = np.empty(lst.sizes["time"], dtype=object)
    windows[:] = [[0, 1], [2]]  # one list per date, as stackstac's subset:windows
    bbox = np.empty((), dtype=object)
    bbox[()] = [0.0, 1.0, 2.0, 3.0]  # a scalar coordinate holding a list (stackstac's proj:bbox)
    da = lst.assign_coords({"subset:windows": ("time", windows), "proj:bbox": ((), bbox)})
    with warnings.catch_warnings(record=True) as rec:
        warnings.simplefilter("always")
        xlstsr.upscale_to_zarr(da, str(tmp_path / "a.zarr"), 4, "bicubic", progress=False)
    said = [str(w.message) for w in rec if "Python objects" in str(w.message)]
    assert len(said) == 1, said
    code = re.search(r"`(da = da\.assign_coords[^`]+)`", said[0])
    assert code, said[0]
    env = {"da": da, "np": np}
    exec(code[1], env)  # the advice, pasted (numpy imported as np, as a user has it)
    out = str(tmp_path / "b.zarr")
    with warnings.catch_warnings(record=True) as rec:
        warnings.simplefilter("always")
        xlstsr.upscale_to_zarr(env["da"], out, 4, "bicubic", progress=False)
    assert not [w for w in rec if "Python objects" in str(w.message)]
    kept = xr.open_zarr(out, consolidated=False)["subset:windows"].values
    assert list(kept) == ["[0, 1]", "[2]"]
    assert str(xr.open_zarr(out, consolidated=False)["proj:bbox"].values) == "[0.0, 1.0, 2.0, 3.0]"

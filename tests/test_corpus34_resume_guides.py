"""Corpus 34: resume fingerprints of unregistered methods and of callable options; one warning
for a guide not finer than the LST."""

import importlib.util
import json
import sys
import warnings

import numpy as np
import pytest
import xarray as xr
import zarr

import xlstsr
from xlstsr.errors import XlstsrError
from xlstsr.methods import UpscaleMethod, register_method, unregister_method
from xlstsr.methods.bicubic import Bicubic
from xlstsr.methods.tsharp import TsHARP


@pytest.fixture(scope="module")
def scene():
    return xlstsr.datasets.sample_scene(n_times=2, size=64, seed=3)


class _Nearestish(UpscaleMethod):
    def halo(self, factor):
        return 0

    def upscale_block(self, lst, valid, guide, factor):
        return lst.repeat(factor, -2).repeat(factor, -1)


class _Warmer(_Nearestish):
    def upscale_block(self, lst, valid, guide, factor):
        return super().upscale_block(lst, valid, guide, factor) + 1.0


class _MyBicubic(Bicubic):  # a user's variant of bicubic, not registered
    def upscale_block(self, lst, valid, guide, factor):
        return super().upscale_block(lst, valid, guide, factor) + 0.5


def _stored_method(store):
    return json.loads(zarr.open_group(store, mode="r").attrs["xlstsr_arguments"])["method"]


@pytest.mark.parametrize("first, second", [(_Nearestish, _Warmer), (Bicubic, _MyBicubic)])
def test_resume_with_another_unregistered_method_is_refused(scene, tmp_path, first, second):
    lst = scene["lst_1km"]
    store = str(tmp_path / "out.zarr")
    xlstsr.upscale_to_zarr(lst, store, 4, first(), progress=False)
    with pytest.raises(XlstsrError, match="different arguments") as err:
        xlstsr.upscale_to_zarr(lst, store, 4, second(), progress=False, mode="resume")
    # the refusal names both methods
    assert repr(first().recorded_name()) in str(err.value)
    assert repr(second().recorded_name()) in str(err.value)
    # the same method resumes
    xlstsr.upscale_to_zarr(lst, store, 4, first(), progress=False, mode="resume")


def test_store_of_a_builtin_method_records_its_name(scene, tmp_path):
    store = str(tmp_path / "out.zarr")
    xlstsr.upscale_to_zarr(scene["lst_1km"], store, 4, "bicubic", progress=False)
    assert _stored_method(store) == "bicubic"  # unchanged: older stores still resume
    xlstsr.upscale_to_zarr(scene["lst_1km"], store, 4, Bicubic(), progress=False, mode="resume")


def _helper_module(path, name):
    """The helper module at ``path`` imported afresh (a new process's function objects: same
    module and qualified name, another address)."""
    spec = importlib.util.spec_from_file_location(name, path)
    mod = importlib.util.module_from_spec(spec)
    sys.modules[name] = mod
    spec.loader.exec_module(mod)
    return mod


@pytest.mark.parametrize("described", [False, True], ids=["given", "described"])
def test_resume_with_a_callable_option_in_a_new_process(scene, tmp_path, described):
    helper = tmp_path / "corpus34_helper.py"
    helper.write_text("def identity(x):\n    return x\n\n\ndef warmer(x):\n    return x + 1.0\n")
    name = f"corpus34_helper_{described}"

    class WithTransform(UpscaleMethod):
        def __init__(self, transform=None):
            self.transform = transform

        def halo(self, factor):
            return 0

        def upscale_block(self, lst, valid, guide, factor):
            return self.transform(lst.repeat(factor, -2).repeat(factor, -1))

        if described:
            def describe(self):
                return {"transform": self.transform}

    register_method("corpus34_transform")(WithTransform)
    try:
        lst = scene["lst_1km"]
        store = str(tmp_path / "out.zarr")
        one = _helper_module(helper, name)
        xlstsr.upscale_to_zarr(lst, store, 4, "corpus34_transform", progress=False,
                               method_options={"transform": one.identity})
        two = _helper_module(helper, name)
        assert two.identity is not one.identity and repr(two.identity) != repr(one.identity)
        # the same function, at another address: the same run
        xlstsr.upscale_to_zarr(lst, store, 4, "corpus34_transform", progress=False,
                               mode="resume", method_options={"transform": two.identity})
        # another function: another run
        with pytest.raises(XlstsrError, match="warmer"):
            xlstsr.upscale_to_zarr(lst, store, 4, "corpus34_transform", progress=False,
                                   mode="resume", method_options={"transform": two.warmer})
    finally:
        unregister_method("corpus34_transform")
        sys.modules.pop(name, None)


def test_fingerprint_of_objects_holds_no_address():
    from xlstsr.engine.to_zarr import _fingerprint_value

    class Thing:
        pass

    for value in (len, Thing, Thing(), _helper_module, np.log):
        recorded = json.dumps(value, default=_fingerprint_value)
        assert " at 0x" not in recorded, recorded
    assert "Thing" in json.dumps(Thing, default=_fingerprint_value)


def _guide_warnings(lst, guide, method, **kw):
    with warnings.catch_warnings(record=True) as caught:
        warnings.simplefilter("always")
        xlstsr.upscale(lst, 4, method=method, guide=guide, **kw)
    text = [str(w.message) for w in caught if issubclass(w.category, UserWarning)]
    coarse = [t for t in text if "not finer than the LST" in t
              or "constant within every LST pixel" in t]
    return coarse


def test_guide_given_at_the_lst_resolution_is_advised_against_once(scene):
    lst = scene["lst_1km"]
    coarse = scene["ndvi_250m"].coarsen(y=4, x=4).mean()
    guide = lst.isel(time=0, drop=True).copy(data=coarse.values)
    guide.name, guide.attrs = "ndvi", {}
    method = TsHARP()
    found = _guide_warnings(lst, guide, method, guide_offset="ignore")
    assert len(found) == 1, found
    assert "not finer than the LST" in found[0]
    # the caller's instance is not changed, nor what it records
    assert method._guide_warned_coarse is False
    assert method.describe() == TsHARP().describe()


@pytest.mark.parametrize("kw", [{"guide_offset": "ignore"}, {}])
def test_blocky_guide_on_the_fine_grid_is_still_advised_against_once(scene, kw):
    lst, fine = scene["lst_1km"], scene["ndvi_250m"]
    block = fine.coarsen(y=4, x=4).mean().values
    guide = xr.DataArray(np.repeat(np.repeat(block, 4, 0), 4, 1), dims=fine.dims,
                         coords=fine.coords, name="ndvi")
    found = _guide_warnings(lst, guide, "tsharp", **kw)
    assert len(found) == 1, found
    assert "constant within every LST pixel" in found[0]

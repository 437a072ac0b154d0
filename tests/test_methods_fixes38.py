"""Fixes 38 (methods):

- two NDVI bands (Terra and Aqua) given to the one-NDVI ``disr`` were told to compute NDVI from
  the red and NIR bands, which, followed, ran the model on (ndvi_b - ndvi_a) / (ndvi_b + ndvi_a);
- a class registered under two names kept the first as its ``name`` once that one was
  unregistered: outputs recorded the removed name in ``xlstsr_method`` (provenance, resume
  fingerprints), and a rerun from that record failed as an unknown method.
"""

from __future__ import annotations

import re
import warnings

import numpy as np
import pytest
import xarray as xr

import xlstsr
from xlstsr.errors import XlstsrError
from xlstsr.kernels.interp import cubic_upsample
from xlstsr.methods import UpscaleMethod, available_methods, register_method, unregister_method


@pytest.fixture(scope="module")
def scene():
    return xlstsr.datasets.sample_scene(n_times=1, size=32, seed=3)


def _two_ndvi(scene, form):
    g = scene["ndvi_250m"]
    terra, aqua = g.rename("ndvi_terra"), (g * 0.9).rename("ndvi_aqua")
    if form == "dict":
        return {"ndvi_terra": terra, "ndvi_aqua": aqua}
    if form == "list":
        return [terra, aqua]
    if form == "to_array":  # its 'variable' dim, labels of object dtype (reviews 38a, 38f)
        return xr.Dataset({"ndvi_terra": terra, "ndvi_aqua": aqua}).to_array()
    return xr.concat([terra, aqua], dim="band").assign_coords(band=["ndvi_terra", "ndvi_aqua"])


@pytest.mark.parametrize("form", ["dict", "list", "raster", "to_array"])
def test_two_ndvi_bands_are_told_to_pick_one_and_the_advice_runs(scene, form):
    lst, guide = scene["lst_1km"], _two_ndvi(scene, form)
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        with pytest.raises(XlstsrError) as info:
            xlstsr.upscale(lst, 4, method="disr", guide=guide, guide_offset="ignore")
    msg = str(info.value)
    assert "red and NIR" not in msg and "not reflectances" not in msg, msg
    assert "2 NDVI bands" in msg and "'ndvi_terra'" in msg and "--guide" in msg, msg
    code = re.search(r"pick one, `([^`]*)`", msg).group(1)
    env = {"guide": guide}
    exec(code, env)
    picked = env["guide"]
    np.testing.assert_array_equal(np.asarray(picked.values).squeeze(),
                                  np.asarray(scene["ndvi_250m"].values).squeeze())
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        out = xlstsr.upscale(lst, 4, method="disr", guide=picked, guide_offset="ignore")
    assert out.notnull().any()


def test_two_ndvi_bands_beside_another_name_it(scene):
    g = scene["ndvi_250m"]
    guide = {"ndvi_terra": g, "ndvi_aqua": g * 0.9, "lai": g * 3}
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        with pytest.raises(XlstsrError, match=r"2 NDVI bands .* beside \['lai'\]") as info:
            xlstsr.upscale(scene["lst_1km"], 4, method="disr", guide=guide,
                           guide_offset="ignore")
    assert "guide=guide['ndvi_terra']" in str(info.value)


def test_red_nir_still_told_to_compute_ndvi(scene):
    g = scene["ndvi_250m"]
    with pytest.raises(XlstsrError, match="red and NIR"):
        xlstsr.upscale(scene["lst_1km"], 4, method="disr",
                       guide={"red": g * 0.1, "nir": g * 0.4})


class _Smooth(UpscaleMethod):
    def upscale_block(self, lst, valid, guide, factor):
        return cubic_upsample(lst, factor)


def test_unregistering_a_methods_own_name_makes_its_alias_its_name(scene):
    cls = type("Smooth38", (_Smooth,), {"__module__": __name__})
    register_method("smooth38_v1")(cls)
    register_method("smooth38")(cls)
    try:
        assert cls.name == "smooth38_v1"  # an alias keeps the class's own name
        unregister_method("smooth38_v1")
        assert cls.name == "smooth38"
        out = xlstsr.upscale(scene["lst_1km"], 4, method="smooth38")
        rec = out.attrs["xlstsr_method"]
        assert rec == "smooth38" and rec in available_methods()
        again = xlstsr.upscale(scene["lst_1km"], 4, method=rec)  # rerun from provenance
        xr.testing.assert_identical(again, out)
    finally:
        for n in ("smooth38_v1", "smooth38"):
            if n in available_methods():
                unregister_method(n)


def test_unregistering_an_alias_keeps_the_methods_own_name():
    from xlstsr.methods.bicubic import Bicubic

    register_method("cubic38")(Bicubic)
    unregister_method("cubic38")
    assert Bicubic.name == "bicubic" and "bicubic" in available_methods()
    assert Bicubic().recorded_name() == "bicubic"


def test_reregistering_a_methods_own_name_gives_it_back():
    from xlstsr.methods.bicubic import Bicubic

    class Cubic(Bicubic):
        pass

    register_method("cubic_own")(Cubic)
    register_method("cubic_alias")(Cubic)
    try:
        unregister_method("cubic_own")
        assert Cubic.name == "cubic_alias"
        # before: the alias stayed its name, recorded in every output made as 'cubic_own'
        register_method("cubic_own")(Cubic)
        assert Cubic.name == "cubic_own"
    finally:
        for n in ("cubic_own", "cubic_alias"):
            if n in available_methods():
                unregister_method(n)


def test_compute_ndvi_advice_selects_along_the_rasters_own_dim():
    import re as _re

    from xlstsr.guide import guide_labels
    from xlstsr.methods.torch_model import _ndvi_advice

    y = x = np.arange(8.0)
    rng = np.random.default_rng(0)
    ds = xr.Dataset({n: (("y", "x"), rng.random((8, 8)) + 0.1) for n in ("red", "nir")},
                    coords={"y": y, "x": x})
    guide = ds.to_array()  # its dim is 'variable': the advice said `g.sel(band=...)` (38f)
    code = _re.search(r"`([^`]*)`", _ndvi_advice(guide_labels(guide))).group(1)
    env = {"guide": guide, "NIR": "nir", "RED": "red"}
    exec(code, env)
    want = (ds["nir"] - ds["red"]) / (ds["nir"] + ds["red"])
    np.testing.assert_allclose(env["ndvi"].values, want.values, atol=1e-6)  # float32

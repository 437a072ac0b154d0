"""Probe 53k (deep methods and training):

- ``--method disr --model sisr.pt`` was told "or, if its forward takes a guide, declare how many
  channels: `model.n_guide = 1`": advice no checkpoint or xlstsr architecture can follow.
- ``--method sisr --model disr.pt`` was told "use method='disr'", which followed failed again for
  want of a guide: the advice now names the guide and its bands in one go.
- a two-band guide with no band labels (two NDVIs) was told "it takes NDVI, not reflectances.
  Compute it from the red and NIR bands", advice for a red/NIR guide only.
- make_patches gave the networks guide gaps as NaN (flagged invalid) where upscale fills them
  from their neighbours first (flagged valid): training now sees the guide upscale gives.
"""

from __future__ import annotations

import re
import warnings

import pytest
import torch
import xarray as xr

import xlstsr
from xlstsr.errors import CheckpointError, XlstsrError
from xlstsr.methods import get_method
from xlstsr.nn import GuidedResCNN, ResCNN, save_model


@pytest.fixture(scope="module")
def scene():
    return xlstsr.datasets.sample_scene(n_times=1, size=32, seed=3)


def _tiny(cls, **kw):
    torch.manual_seed(0)
    return cls(4, channels=4, n_blocks=1, **kw)


def test_single_image_checkpoint_for_disr_is_not_told_to_declare_n_guide(tmp_path, scene):
    path = save_model(_tiny(ResCNN), tmp_path / "sisr.pt")
    for given in (str(path), _tiny(ResCNN)):  # a checkpoint, an xlstsr architecture
        with pytest.raises(CheckpointError) as info:
            get_method("disr", model=given)
        msg = str(info.value)
        assert "n_guide = 1" not in msg and "method='sisr'" in msg, msg
    # the advice followed: the checkpoint runs as sisr
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        out = xlstsr.upscale(scene["lst_1km"], 4, method="sisr",
                             method_options={"model": str(path)})
    assert out.notnull().any()

    class Own(torch.nn.Module):  # a user's module: its forward may take a guide
        factor, n_guide, receptive_field = 4, 0, 0

        def forward(self, lst, guide=None):
            return torch.nn.functional.interpolate(lst, scale_factor=4)

    with pytest.raises(CheckpointError, match=r"`model\.n_guide = 1`"):
        get_method("disr", model=Own())


def test_guided_checkpoint_for_sisr_is_told_the_guide_it_needs(tmp_path, scene):
    path = save_model(_tiny(GuidedResCNN, n_guide=1), tmp_path / "disr.pt",
                      inputs=["lst", "ndvi"])
    with pytest.raises(CheckpointError) as info:
        get_method("sisr", model=str(path))
    msg = str(info.value)
    # the command line with the model (without --model it ran the bundled weights, 5 K off)
    assert "['ndvi']" in msg and f"--method disr --model {path} --guide ndvi.tif" in msg, msg
    options = re.search(r"method='disr' with method_options=(\{[^}]*\})", msg).group(1)
    assert "guide=ndvi" in msg, msg
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")  # the advice, followed, runs
        out = xlstsr.upscale(scene["lst_1km"], 4, method="disr", guide=scene["ndvi_250m"],
                             method_options=eval(options))
    assert out.notnull().any()


def test_unlabelled_guide_bands_are_not_told_they_are_reflectances(scene):
    m = get_method("disr")
    ndvi = scene["ndvi_250m"]
    with pytest.raises(XlstsrError) as info:
        xlstsr.upscale(scene["lst_1km"], 4, method="disr",
                       guide=xr.concat([ndvi, ndvi * 0.5], "band"))
    msg = str(info.value)
    names = m.guide_statistics()["names"]
    generic = f"pass exactly the bands it was trained with: {names}"
    # the generic advice first; computing NDVI only if they are red and NIR
    assert msg.index(generic) < msg.index("If they are red and NIR"), msg
    # labelled bands that are no reflectances: the generic advice alone
    msg = m.channel_message(2, ["lai", "albedo"])
    assert generic in msg and "red and NIR" not in msg, msg
    # labelled red/NIR bands: still told to compute NDVI
    assert m.channel_message(2, ["sur_refl_b01", "sur_refl_b02"]).count("not reflectances")

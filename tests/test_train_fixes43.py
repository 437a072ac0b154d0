"""Probe 43t: a supervised truth in another CRS than the LST's was paired pixel for pixel by
its coordinates' numbers alone; save_model dropped the guide_offset record fit_cube puts on
the model."""

from __future__ import annotations

import warnings

import numpy as np
import pytest
import torch

import xlstsr
from xlstsr.errors import GridError
from xlstsr.nn import ResCNN, save_model
from xlstsr.nn.checkpoint import load_checkpoint


def test_supervised_truth_in_another_crs_is_refused():
    from xlstsr.train import fit_cube

    lst = xlstsr.datasets.sample_scene(n_times=2, size=64)["lst_1km"].fillna(290.0)
    fine = xlstsr.upscale(lst, 4, "bicubic")
    other = fine.rio.write_crs("EPSG:4087")  # the same numbers, labelled another CRS
    with warnings.catch_warnings(), pytest.raises(GridError, match=r"truth's CRS .* is not"):
        warnings.simplefilter("ignore")
        fit_cube(lst, truth=other, mode="supervised", patch=16, window=32, epochs=1,
                 progress=False, logger=False)


def test_supervised_truth_of_the_same_crs_spelled_otherwise_trains():
    """EPSG:4326 beside OGC:CRS84 (a NetCDF written by rioxarray reads back so) is one CRS: the
    first check compared the spellings (review 43g)."""
    from xlstsr.train import fit_cube

    s = xlstsr.datasets.sample_scene(n_times=2, size=64)["lst_1km"].fillna(290.0)
    lst = s.rio.write_crs("EPSG:4326").assign_coords(
        y=14.0 - 0.01 * np.arange(s.sizes["y"]), x=2.0 + 0.01 * np.arange(s.sizes["x"]))
    fine = xlstsr.upscale(lst, 4, "bicubic").rio.write_crs("OGC:CRS84")
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        model, _ = fit_cube(lst, truth=fine, mode="supervised", patch=16, window=32, epochs=1,
                            progress=False, logger=False)
    assert model.factor == 4


def test_save_model_keeps_the_guide_offset_record(tmp_path):
    torch.manual_seed(0)
    model = ResCNN(4, channels=4, n_blocks=1)
    record = {"mode": "ignore", "given": "ignore", "moved": False}
    model.metadata = {"guide_offset": dict(record)}
    meta = load_checkpoint(save_model(model, tmp_path / "m.pt"))["metadata"]
    assert meta["guide_offset"] == record
    # the caller's own metadata still wins
    meta = load_checkpoint(save_model(model, tmp_path / "n.pt",
                                      guide_offset={"mode": "auto"}))["metadata"]
    assert meta["guide_offset"] == {"mode": "auto"}


def test_val_scenes_naming_every_scene_refused():
    """The random split keeps a scene for training; a val_scenes list naming all of them left
    none, and the fit stopped later at 'no training patches' (probe 43l)."""
    import numpy as np

    from xlstsr.errors import XlstsrError
    from xlstsr.train import degraded_pairs, make_patches, split_by_scene

    lst = 300 + np.random.default_rng(0).normal(0, 2, (3, 16, 16)).astype("float32")
    ps = make_patches(**degraded_pairs(lst, 4), factor=4, patch=8, stride=8, scene_ids=list("abc"))
    with pytest.raises(XlstsrError, match=r"names every scene .*none is left for training"):
        split_by_scene(ps, val_scenes=["a", "b", "c"])
    train, val = split_by_scene(ps, val_scenes=["c"])
    assert len(train) and len(val)


class _Up(torch.nn.Module):
    factor, n_guide, receptive_field = 4, 0, 0

    def forward(self, lst, guide=None):
        return torch.nn.functional.interpolate(lst, scale_factor=4)


def test_save_model_advice_for_a_custom_module_can_be_followed(tmp_path):
    """It advised torch.save and upscale(model=...): the default method has no model option,
    and a torch.save file is refused by path (probe 43n)."""
    from xlstsr.errors import CheckpointError

    module = _Up()
    with pytest.raises(CheckpointError, match=r"method='sisr', method_options=\{'model': module\}"):
        save_model(module, tmp_path / "m.pt")
    lst = xlstsr.datasets.sample_scene(n_times=1, size=32)["lst_1km"]
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        out = xlstsr.upscale(lst, 4, method="sisr", method_options={"model": module})
    assert out.shape[-2:] == (lst.shape[-2] * 4, lst.shape[-1] * 4)

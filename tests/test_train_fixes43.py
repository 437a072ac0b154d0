"""Probe 43t: a supervised truth in another CRS than the LST's was paired pixel for pixel by
its coordinates' numbers alone; save_model dropped the guide_offset record fit_cube puts on
the model."""

from __future__ import annotations

import warnings

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

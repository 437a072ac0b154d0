"""Twelfth round of bad inputs (session 16): training from numpy arrays, Trainer options,
pair ids, CF grid mappings, the synthetic scene's arguments, an ONNX export that froze a branch
on the values.

Each case trained or ran silently on wrong input, or failed with a message naming no fix.
"""

import numpy as np
import pytest
import torch
import xarray as xr

import xlstsr
from xlstsr import errors
from xlstsr.train import fit, fit_guide_gain, make_patches, target_scale_pairs


@pytest.fixture(scope="module")
def scene():
    return xlstsr.datasets.sample_scene(n_times=2, size=64, cloud_fraction=0.0)


def test_numpy_training_guides_are_checked_as_upscale_checks_them(scene):
    """An undeclared -3000 on 10 % of a numpy guide trained silently (guide_std 911, which then
    let any guide through upscale) and gave a guide gain of -0.0005 K for -13.7; an all-NaN
    band trained to NaN statistics and was blamed on the learning rate at save_model."""
    lc, ndvi = scene["lst_1km"].values, scene["ndvi_250m"].values
    fill = ndvi.copy()
    fill[np.random.default_rng(0).random(ndvi.shape) < 0.1] = -3000
    with pytest.raises(errors.UndeclaredFillError, match="-3000"):
        make_patches(**target_scale_pairs(lc, 4, guide=fill[None, None]), factor=4, patch=16)
    with pytest.raises(errors.UndeclaredFillError, match="-3000"):
        fit_guide_gain(lc, fill[None], 4)
    with pytest.raises(errors.AllNaNError, match="guide channel 0 holds no valid value"):
        target_scale_pairs(lc, 4, guide=np.full((1, 1, 64, 64), np.nan, np.float32))
    assert fit_guide_gain(lc, ndvi[None], 4) < -1  # the clean guide: a real slope


@pytest.mark.parametrize("options, match", [
    ({"precision": "bf16-mixed"}, "half precision rounds Kelvin"),
    ({"precision": 16}, "half precision"),
    ({"limit_train_batches": 0}, "limit_train_batches"),
    ({"limit_train_batches": 0.0}, "trains on no batch"),
    ({"accumulate_grad_batches": 0}, "accumulate_grad_batches"),
])
def test_trainer_options_that_train_nothing_or_round_kelvin_are_refused(scene, options, match):
    """bf16 autocast put the models' bicubic of raw Kelvin 2.8 K off; limit_train_batches=0
    returned the untrained weights as trained; accumulate_grad_batches=0 divided by zero
    inside Lightning."""
    from xlstsr.nn import ResCNN

    ps = make_patches(**target_scale_pairs(scene["lst_1km"].values, 4,
                                           target=scene["lst_250m"].values), factor=4, patch=16)
    torch.manual_seed(0)
    with pytest.raises(errors.XlstsrError, match=match):
        fit(ResCNN(4, channels=4, n_blocks=1), ps, epochs=1, trainer_options=options,
            progress=False)


def test_pair_ids_are_normalised_and_checked(shared_data):
    """'12' was read as pairs '1' and '2'; '15' did not meet '015'; an unknown id was a
    missing-file error; a repeated one pandas' 'truth value is ambiguous'."""
    from xlstsr.datasets import TRAIN_PAIRS, apart_from_training, pairs_apart, seen_in_training

    root = shared_data / "modis_aster"
    with pytest.raises(errors.InputTypeError, match=r"list of pair ids, got '12'"):
        seen_in_training("12", root)
    with pytest.raises(ValueError, match="in both lists"):
        pairs_apart(["15"], ["015"], root)
    with pytest.raises(errors.InputNotFoundError, match="no MODIS/ASTER pair 'abc'"):
        apart_from_training(["abc"], root)
    assert pairs_apart(["015", "015"], TRAIN_PAIRS, root) == pairs_apart(["015"], TRAIN_PAIRS,
                                                                          root)
    assert seen_in_training([1, "020"], root) == ["001", "020"]


def test_a_cf_grid_mapping_variable_gives_the_crs(scene, tmp_path):
    """A NetCDF opened with a plain xr.open_dataset keeps spatial_ref as a data variable: the
    Dataset's LST was 'no CRS, write_crs(...)'."""
    lst = scene["lst_1km"]
    lst.to_dataset(name="LST").to_netcdf(tmp_path / "lst.nc")
    ds = xr.open_dataset(tmp_path / "lst.nc")
    assert "spatial_ref" in ds.data_vars
    sr = ds.lstsr.upscale(4, "bicubic")
    assert sr.rio.crs == lst.rio.crs


@pytest.mark.parametrize("kw", [{"n_times": -1}, {"n_times": 0}, {"size": 0}, {"factor": 0},
                                {"cloud_fraction": 1.5}, {"seed": "a"}, {"size": 10}])
def test_sample_scene_arguments_are_checked(kw):
    """numpy's OverflowError, a ZeroDivisionError, a quantile error or an empty scene before."""
    with pytest.raises(errors.XlstsrError):
        xlstsr.datasets.sample_scene(**kw)


def test_an_onnx_export_that_froze_a_branch_on_values_is_refused(scene):
    """A model switching day/night on the scene's mean ran its day branch on every night scene
    with backend='onnxruntime' (2 K off torch), silently: the export's check used ~295 K only."""
    pytest.importorskip("onnxruntime")
    pytest.importorskip("onnx")
    from xlstsr.nn import ResCNN
    from xlstsr.nn.onnx_runtime import OnnxModel

    class DayNight(ResCNN):
        def forward(self, lst, *guide):
            out = super().forward(lst, *guide)
            return out + 1.0 if float(lst.mean()) > 285 else out - 1.0

    m = DayNight(4, channels=4, n_blocks=1).eval()
    with pytest.raises(errors.XlstsrError, match="differs from torch by 2 K on an input of a "
                       "cold"):
        OnnxModel(m)


def test_review_of_the_round_s_checks_keeps_valid_input(scene, tmp_path):
    """The session's own checks, reviewed: none refuses valid input."""
    from xlstsr.validate import _refuse_other_quantity

    # an LST labelled with its QC is an LST
    for name in ("LST_Day_1km (QC filtered)", "LST, QC applied", "Land_surface_temperature"):
        _refuse_other_quantity(xr.DataArray([1.0], attrs={"long_name": name}), "LST")
    # a 2-D guide in fit_guide_gain: a shape message, not numpy's AxisError
    with pytest.raises(errors.XlstsrError, match="guide"):
        fit_guide_gain(scene["lst_1km"].values[0], scene["ndvi_250m"].values, 4)
    assert xlstsr.datasets.sample_scene(n_times=1, size=16, factor=1)["lst_1km"].shape == (1, 16, 16)

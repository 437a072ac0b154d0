"""Bad inputs, fourth round: models and optional steps (notes: /work/notes/audit4_models.md).

Each case was found by probing the model side of the public API (user checkpoints and modules,
devices, test-time adaptation, scale correction, calibration, coarsen, QC, plots, training) and,
before its fix, destroyed a user's file (a checkpoint or a figure written over a raster or the
training data), gave a silent wrong result (a model returning NaN, three channels or NaN weights;
fields of other grids paired by position; a QC fill read as "good"; the variance law of another
factor), hung (a PSF of a billion metres), or raised a raw or misleading error (a pickled module
or a TorchScript file called "corrupt"). Now each is an error that names the problem and the fix.
"""

from __future__ import annotations

import numpy as np
import pytest
import torch
import xarray as xr

import xlstsr
from xlstsr import errors
from xlstsr.nn import ResCNN, load_checkpoint, save_model, weights_path


class _Up(torch.nn.Module):
    """A protocol-following x4 model: nearest upsampling (``out`` transforms its output)."""

    factor, n_guide, receptive_field = 4, 0, 0

    def __init__(self, out=lambda y: y):
        super().__init__()
        self.out = out

    def forward(self, lst, guide=None):
        return self.out(torch.nn.functional.interpolate(lst, scale_factor=4, mode="nearest"))


def _tiny(factor=4):
    return ResCNN(factor, channels=4, n_blocks=1)


# -- checkpoints -------------------------------------------------------------------------------


def test_files_that_are_not_checkpoints_are_named_with_their_fix(s, tmp_path):
    lst = s["lst_1km"]
    (tmp_path / "empty.pt").write_bytes(b"")
    torch.save(_tiny().state_dict(), tmp_path / "sd.pt")
    torch.save(_tiny(), tmp_path / "whole.pt")
    cases = {
        "empty.pt": r"is empty \(0 bytes\).*interrupted",
        "sd.pt": r"bare state_dict.*load_state_dict.*save_model",
        "whole.pt": r"pickled Python objects.*torch\.save\(model\).*weights_only=False",
    }
    for name, msg in cases.items():
        with pytest.raises(errors.CheckpointError, match=msg):
            xlstsr.upscale(lst, 4, "sisr", model=str(tmp_path / name))
    (tmp_path / "folder.pt").mkdir()
    with pytest.raises(errors.CheckpointError, match="is a folder, not a file"):
        load_checkpoint(tmp_path / "folder.pt")


def test_damaged_or_edited_checkpoints_are_refused(s, tmp_path):
    blob = load_checkpoint(weights_path("rescnn"))
    edits = {
        "config": ({**blob, "config": "junk"}, r"'config' is a str, not a dict"),
        "version": ({**blob, "format_version": "x"}, r"format_version 'x', not a whole number"),
        "factor": ({**blob, "metadata": {**blob["metadata"], "factor": 2}},
                   r"metadata says factor=2 but the model it builds has factor=4"),
        "guide": ({**blob, "metadata": {**blob["metadata"], "n_guide": 1}},
                  r"metadata says n_guide=1 but the model it builds has n_guide=0"),
        "nan": ({**blob, "state_dict": {k: v * float("nan") for k, v in blob["state_dict"].items()}},
                r"NaN or infinite weights.*diverged"),
    }
    for name, (edited, msg) in edits.items():
        torch.save(edited, tmp_path / f"{name}.pt")
        with pytest.raises(errors.CheckpointError, match=msg):
            xlstsr.upscale(s["lst_1km"], 4, "sisr", model=str(tmp_path / f"{name}.pt"))


def test_save_model_never_replaces_a_file_it_did_not_write(tmp_path):
    raster = tmp_path / "lst.tif"
    raster.write_bytes(b"user raster")
    with pytest.raises(errors.CheckpointError, match="exists and is not an xlstsr checkpoint"):
        save_model(_tiny(), raster)
    assert raster.read_bytes() == b"user raster"
    save_model(_tiny(), tmp_path / "m.pt")
    save_model(_tiny(), tmp_path / "m.pt")  # its own file: replaced, as before
    with pytest.raises(errors.CheckpointError, match="is a folder"):
        save_model(_tiny(), tmp_path)
    with pytest.raises(errors.CheckpointError, match="factor=2 contradicts the model's factor=4"):
        save_model(_tiny(), tmp_path / "x.pt", factor=2)
    nan = _tiny()
    with torch.no_grad():
        nan.tail.bias.fill_(float("nan"))
    with pytest.raises(errors.CheckpointError, match="NaN or infinite weights"):
        save_model(nan, tmp_path / "nan.pt")


# -- what a model returns ----------------------------------------------------------------------


@pytest.mark.parametrize("out, err, msg", [
    (lambda y: y * float("nan"), errors.ImplausibleOutputError, r"NaN or infinite values \(8192 of 8192"),
    (lambda y: torch.where(y > 300, float("nan"), y), errors.ImplausibleOutputError, "for finite inputs"),
    (lambda y: y.repeat(1, 3, 1, 1), errors.XlstsrError, r"returned shape \(2, 3, 64, 64\).*wants \(2, 1, 64, 64\)"),
    (lambda y: y[:, 0], errors.XlstsrError, r"returned shape \(2, 64, 64\)"),
    (lambda y: (y,), errors.XlstsrError, r"returned a tuple, not a torch.Tensor.*out\[0\]"),
    (lambda y: y.numpy(), errors.XlstsrError, "returned a ndarray"),
])
def test_a_model_output_that_is_not_one_finite_kelvin_channel_is_refused(s, out, err, msg):
    lst = s["lst_1km"].fillna(300.0)
    with pytest.raises(err, match=msg):
        xlstsr.upscale(lst, 4, "sisr", model=_Up(out))


def test_a_model_that_follows_the_protocol_keeps_its_output(s):
    lst = s["lst_1km"]
    out = xlstsr.upscale(lst, 4, "sisr", model=_Up())  # gaps in the input stay gaps, no error
    np.testing.assert_array_equal(out.values, np.repeat(np.repeat(lst.values, 4, 1), 4, 2))


def test_torchscript_and_meta_modules(s):
    ts = torch.jit.trace(_tiny(), torch.full((1, 1, 8, 8), 300.0))
    ts.factor, ts.n_guide, ts.receptive_field = 4, 0, 4
    out = xlstsr.upscale(s["lst_1km"], 4, "sisr", model=ts)  # hashing it raised AttributeError
    np.testing.assert_allclose(out.values, xlstsr.upscale(s["lst_1km"], 4, "sisr", model=_tiny()).values)
    with pytest.raises(errors.XlstsrError, match=r"on the 'meta' device.*to_empty"):
        xlstsr.upscale(s["lst_1km"], 4, "sisr", model=_tiny().to("meta"))


@pytest.mark.parametrize("device, msg", [("mps", r"no working 'mps' backend"), ("meta", "holds shapes without data")])
def test_devices_torch_cannot_use_here_are_named(s, device, msg):
    if device == "mps" and torch.backends.mps.is_available():
        pytest.skip("this machine has MPS")
    with pytest.raises(errors.DeviceError, match=msg):
        xlstsr.upscale(s["lst_1km"], 4, "sisr", device=device)


def test_num_threads_below_one_is_an_xlstsr_error():
    from xlstsr.nn import runtime

    with pytest.raises(errors.XlstsrError, match="num_threads must be a whole number >= 1"):
        runtime.set_task_threads(0)  # torch's raw RuntimeError before


def test_two_custom_models_that_differ_only_in_an_attribute_are_not_confused(s):
    class Scaled(torch.nn.Module):
        factor, n_guide, receptive_field = 4, 0, 0

        def __init__(self, offset):
            super().__init__()
            self.offset = offset  # a plain attribute: not a parameter, buffer or submodule

        def forward(self, lst, guide=None):
            return torch.nn.functional.interpolate(lst, scale_factor=4) + self.offset

    lst = s["lst_1km"]
    a = xlstsr.upscale(lst, 4, "sisr", model=Scaled(0.0))
    b = xlstsr.upscale(lst, 4, "sisr", model=Scaled(1.0))  # was served a's cached model
    np.testing.assert_allclose((b - a).values[np.isfinite(a.values)], 1.0)
    c = xlstsr.upscale(lst, 4, "sisr", model=_Up(lambda y: y + 2.0))
    np.testing.assert_allclose((c - a).values[np.isfinite(a.values)], 2.0)


# -- test-time adaptation ----------------------------------------------------------------------


@pytest.mark.parametrize("setting, msg", [
    ({"steps": 2.5}, r"steps must be a whole number >= 0, got 2.5"),  # was 2 steps
    ({"steps": "3"}, r"steps must be a whole number >= 0, got '3'"),  # was 3 steps
    ({"steps": True}, r"steps must be a whole number"),  # was 1 step
    ({"psf": -1}, r"psf must be a finite number >= 0"),  # was a box
    ({"psf": float("nan")}, r"psf must be a finite number >= 0"),
    ({"anchor": float("nan")}, r"anchor must be a finite number >= 0"),  # a NaN loss term
    ({"gain": float("nan")}, r"gain must be a finite number"),
    ({"gain": "x"}, r"gain must be a finite number"),
    ({"seed": 2.5}, r"seed must be a whole number >= 0"),
    ({"lr": "fast"}, r"lr must be a finite number > 0, got 'fast'"),  # float()'s bare message
])
def test_adaptation_settings_are_checked_before_anything_runs(s, setting, msg):
    with pytest.raises(errors.XlstsrError, match=r"bad adapt= settings: adaptation " + msg):
        xlstsr.upscale(s["lst_1km"], 4, "sisr", adapt=setting)


# -- training ----------------------------------------------------------------------------------


def _cube():
    return xr.DataArray(300 + np.random.default_rng(0).normal(0, 2, (2, 32, 32)).astype("float32"),
                        dims=("time", "y", "x"), attrs={"units": "K"})


def test_fit_files_never_writes_its_checkpoint_over_an_input_or_a_user_file(tmp_path):
    from xlstsr.train import fit_files

    cube = tmp_path / "cube.nc"
    _cube().to_dataset(name="LST").to_netcdf(cube)
    data = cube.read_bytes()
    with pytest.raises(errors.XlstsrError, match=r"is the lst input.*written over the training data"):
        fit_files(cube, cube, patch=16, epochs=1)  # the cube was replaced by the checkpoint
    assert cube.read_bytes() == data
    raster = tmp_path / "user.tif"
    raster.write_bytes(b"user raster")
    with pytest.raises(errors.XlstsrError, match="exists and is not an xlstsr checkpoint"):
        fit_files(cube, raster, patch=16, epochs=1)
    assert raster.read_bytes() == b"user raster"
    with pytest.raises(errors.XlstsrError, match="is a folder"):
        fit_files(cube, tmp_path, patch=16, epochs=1)


@pytest.mark.parametrize("options, err, msg", [
    ({"factor": 0}, errors.GridError, "factor must be a positive integer"),  # ZeroDivisionError
    ({"patch": 0}, errors.XlstsrError, "patch must be a whole number >= 1"),  # ZeroDivisionError
    ({"window": -32}, errors.XlstsrError, "window must be a whole number >= 1"),  # "object values"
    ({"val_fraction": -1}, errors.XlstsrError, r"val_fraction must be a finite number >= 0"),  # no val
    ({"batch_size": 0}, errors.XlstsrError, "batch_size must be a whole number >= 1"),  # kept
    ({"seed": -1}, errors.XlstsrError, "seed must be a whole number >= 0"),  # numpy's error
    ({"augmentation": "no"}, errors.XlstsrError, "augmentation must be True or False"),  # truthy
    ({"input_noise": -1}, errors.XlstsrError, "input_noise must be a finite number >= 0"),  # kept
])
def test_cube_data_module_arguments_are_checked(options, err, msg):
    from xlstsr.train import CubeDataModule

    with pytest.raises(err, match=msg):
        CubeDataModule(_cube(), **{"patch": 8, **options}).setup("fit")


def test_cube_data_module_takes_xarray_only():
    from xlstsr.train import CubeDataModule

    with pytest.raises(errors.InputTypeError, match=r"lst must be an xarray DataArray.*open_path"):
        CubeDataModule("cube.nc", patch=8)  # AttributeError: 'str' object has no 'data_vars'


def test_fit_refuses_what_would_fail_at_the_first_step(tmp_path):
    from xlstsr.nn import GuidedUNet
    from xlstsr.train import degraded_pairs, fit, make_patches

    p = make_patches(**degraded_pairs(_cube().values, 4), factor=4, patch=16)
    cases = [
        ({"model": _tiny(2)}, errors.GridError, "upscales by 2 but the patches were cut with factor 4"),
        ({"model": GuidedUNet(4, n_guide=1, base=4, levels=1)}, errors.GridError,
         "takes 1 guide band.*patches hold 0"),
        ({"mode": "sif"}, errors.XlstsrError, "mode 'sif' needs guide patches"),
        ({"loss_options": {"gian": 1}}, errors.XlstsrError, r"loss option\(s\) \['gian'\]"),
        ({"trainer_options": {"max_epoch": 1}}, errors.XlstsrError, "Trainer refused trainer_options"),
    ]
    for kw, err, msg in cases:
        with pytest.raises(err, match=msg):
            fit(kw.pop("model", _tiny()), p, epochs=1, **kw)
    model_file = save_model(_tiny(), tmp_path / "m.pt")
    (tmp_path / "empty.ckpt").write_bytes(b"")
    for ckpt, msg in ((model_file, "is an xlstsr model file.*Lightning checkpoint"),
                      (tmp_path / "empty.ckpt", "cannot read the checkpoint"),
                      (tmp_path, "is a folder")):
        with pytest.raises(errors.XlstsrError, match=msg):
            fit(_tiny(), p, epochs=1, ckpt_path=ckpt)


def test_super_resolution_module_arguments():
    from xlstsr.train import SuperResolutionModule

    for kw, msg in (({"model": "resnet"}, "unknown architecture 'resnet'"),  # KeyError
                    ({"model": "rescnn", "config": {"factr": 4}}, "bad config for architecture"),
                    ({"model": "rescnn", "mode": "bogus"}, "unknown training mode"),
                    ({"model": "rescnn", "lr": "fast"}, "lr must be a finite number > 0"),
                    ({"model": "rescnn", "normalise": "no"}, "normalise must be True, False or 'refit'"),
                    ({"model": _tiny(), "factor": 2}, "factor=2 but the model upscales by 4"),
                    ({"model": torch.nn.Conv2d(1, 1, 3)}, "has no `factor` attribute")):
        with pytest.raises(errors.XlstsrError, match=msg):
            SuperResolutionModule(**kw)


# -- figures -----------------------------------------------------------------------------------


def test_a_figure_is_never_written_over_a_raster_and_its_folders_are_made(s, sr, tmp_path):
    from xlstsr import plot

    raster = tmp_path / "lst.tif"
    raster.write_bytes(b"user raster")
    with pytest.raises(errors.XlstsrError, match=r"ends with '\.tif': write figures to \.png"):
        plot.comparison(s["lst_1km"], sr, s["lst_250m"], path=raster)  # was a PNG-in-TIFF
    assert raster.read_bytes() == b"user raster"
    with pytest.raises(errors.XlstsrError, match=r"ends with '\.tif'"):
        plot.scaling(xlstsr.scaling_stats(s["lst_1km"]), path=raster)
    with pytest.raises(errors.XlstsrError, match="has no suffix"):
        plot.comparison(s["lst_1km"], sr, path=tmp_path / "figure")  # wrote figure.png
    out = tmp_path / "new" / "fig.png"
    plot.comparison(s["lst_1km"], sr, path=out)  # FileNotFoundError before
    assert out.read_bytes()[:4] == b"\x89PNG"


def test_figure_inputs_are_checked(s, sr):
    from xlstsr import plot

    lst, truth = s["lst_1km"], s["lst_250m"]
    cases = [
        (lambda: plot.comparison(lst.values, sr), errors.InputTypeError, "coarse must be an xarray DataArray"),
        (lambda: plot.comparison(lst, [sr, sr]), errors.InputTypeError, "must be an xarray DataArray, got list"),
        (lambda: plot.comparison(lst, sr, lst), errors.GridError, r"truth \(16 x 16\) is not on the grid"),
        (lambda: plot.comparison(lst, sr, truth.assign_coords(x=truth.x + 5e4)), errors.GridError,
         "not on the grid"),  # a shifted truth was subtracted pixel by pixel
        (lambda: plot.comparison(lst, sr, index={"tiem": 1}), errors.XlstsrError, "names dim 'tiem'"),
        (lambda: plot.comparison(lst, sr, index={"time": 5}), errors.XlstsrError, "position 0..1"),
        (lambda: plot.scaling(xlstsr.scaling_stats(lst), reduce="max"), errors.XlstsrError,
         "reduce must be"),  # was the first index, silently
        (lambda: plot.scaling(lst), errors.InputTypeError, "the Dataset xlstsr.scaling_stats returns"),
        (lambda: plot.compare([1]), errors.InputTypeError, "non-empty dict"),
        (lambda: plot.truth_maps(lst, {"a": sr}, truth), errors.GridError, "draws one 2-D field each"),
        (lambda: plot.truth_maps(lst[0], {"a": sr[0]}, truth[0].assign_coords(x=truth.x + 1e6)),
         errors.GridError, "no valid pixel where the coarse input lies"),  # empty maps
    ]
    for fn, err, msg in cases:
        with pytest.raises(err, match=msg):
            fn()


# -- calibration and scale correction ----------------------------------------------------------


def test_calibration_fields_on_other_grids_are_not_paired_by_position(s, sr):
    from xlstsr.calibration import fit_calibration

    truth, ndvi = s["lst_250m"], s["ndvi_250m"]
    ref = fit_calibration(sr, truth)
    with pytest.raises(errors.XlstsrError, match=r"truth is not on sr's grid: its 'x' runs from"):
        fit_calibration(sr, truth.assign_coords(x=truth.x + 5e4))  # was the same fit as ref
    # a south-up truth is the same field (its coordinates flipped with it): fitted as such
    assert fit_calibration(sr, truth.isel(y=slice(None, None, -1))) == ref
    with pytest.raises(errors.XlstsrError, match=r"truth is not on sr's grid: its 'y'"):
        fit_calibration(sr, truth.assign_coords(y=truth.y - 5e4))
    with pytest.raises(errors.XlstsrError, match="ndvi is not on sr's grid"):
        fit_calibration(sr, truth, ndvi=ndvi.assign_coords(x=ndvi.x + 5e4))
    with pytest.raises(errors.XlstsrError, match=r"ndvi \(64, 32\) is not on the sr grid"):
        fit_calibration(sr, truth, ndvi=ndvi.isel(x=slice(0, 32)))  # numpy's broadcast error
    # a transposed truth is the same field: now fitted as such (a meaningless slope before)
    assert fit_calibration(sr, truth.transpose("time", "x", "y")) == ref
    for kw, msg in (({"min_pixels": "x"}, "min_pixels must be a whole number >= 2"),
                    ({"target": 3}, "target must be text")):
        with pytest.raises(errors.XlstsrError, match=msg):
            fit_calibration(sr, truth, **kw)
    with pytest.raises(errors.InputTypeError, match=r"got Dataset \(pick its variable"):
        fit_calibration(sr.to_dataset(name="LST"), truth)
    with pytest.raises(errors.XlstsrError, match="no fields to fit on"):
        fit_calibration([], [])


def test_calibration_values_and_its_ndvi_term_are_checked(s):
    from xlstsr.calibration import Calibration, apply_calibration

    fine, ndvi = s["lst_250m"], s["ndvi_250m"]
    for cal, msg in (({"slope": "1.0"}, "slope must be a finite number, got '1.0'"),  # raw numpy
                     ({}, "holds no mapping"),  # labelled 'calibrated to ASTER', unchanged
                     ('"text"', r"JSON holds an object .* not a str"),  # fields 'e', 't', 'x'
                     ("[1, 2]", "not a list")):
        with pytest.raises(errors.XlstsrError, match=msg):
            apply_calibration(fine, cal)
    cal = Calibration(offset=1.0, ndvi=-2.0)
    with pytest.raises(errors.XlstsrError, match=r"ndvi \(64 x 32\) is not on the LST's grid"):
        apply_calibration(fine, cal, ndvi=ndvi.isel(x=slice(0, 32)))  # was cropped to 32 columns
    with pytest.raises(errors.XlstsrError, match="not on the LST's grid"):
        apply_calibration(fine, cal, ndvi=ndvi.assign_coords(x=ndvi.x + 500))  # was 0 columns
    with pytest.raises(errors.XlstsrError, match=r"ndvi values reach 9500.*scale_factor 0\.0001"):
        apply_calibration(fine, cal, ndvi=ndvi * 10000)  # was -18000 K
    out = apply_calibration(fine, cal, ndvi=ndvi)
    np.testing.assert_allclose(out.values, (fine + 1.0 - 2.0 * ndvi).values, rtol=1e-6)


def test_scale_correction_law_needs_a_power_of_two_and_aligned_truth(s, sr):
    from xlstsr.correction import apply_scale_correction, calibrate_detail_gain

    lst, truth = s["lst_1km"], s["lst_250m"]
    ndvi = s["ndvi_250m"].isel(y=slice(0, 96), x=slice(0, 96))
    lst3 = lst.isel(y=slice(0, 32), x=slice(0, 32))
    with pytest.raises(errors.GridError, match=r"factor must be a power of two.*not 3"):
        xlstsr.upscale(lst3, 3, "tsharp", guide=ndvi, scale_correction="law")  # silently x4's law
    xlstsr.upscale(lst3, 3, "tsharp", guide=ndvi, scale_correction=0.8)  # a fixed gain: any factor
    with pytest.raises(errors.GridError, match="factor must be a positive integer"):
        apply_scale_correction(sr.values, lst.values, None, 0)  # OverflowError
    with pytest.raises(errors.GridError, match="'time' labels differ"):  # other dates
        calibrate_detail_gain(sr, lst, truth.assign_coords(time=truth.time + np.timedelta64(1, "D")), 4)
    # the same dates in another order (a gain of 0 before) are paired by label
    assert calibrate_detail_gain(sr, lst, truth.isel(time=[1, 0]), 4) == pytest.approx(
        calibrate_detail_gain(sr, lst, truth, 4), abs=1e-9)
    with pytest.raises(errors.GridError, match="'x' labels differ"):
        calibrate_detail_gain(sr, lst, truth.assign_coords(x=truth.x + 5e4), 4)
    with pytest.raises(errors.AllNaNError, match="truth holds no valid pixel"):
        calibrate_detail_gain(sr, lst, truth * np.nan, 4)  # a gain of 1 before


# -- QC flags and coarsen ----------------------------------------------------------------------


def test_qc_layers_that_are_not_8_bit_flags_are_refused_and_missing_qc_is_not_good(s):
    from xlstsr import qc

    # a QC read with its fill masked holds NaN: it was cast to 0 and read as "good"
    assert qc.modland_mask(np.array([0.0, np.nan, 2.0])).tolist() == [True, False, False]
    assert qc.lst_error_k(np.array([np.nan, 0.0])).tolist() == [np.inf, 1.0]
    for layer, msg in ((s["lst_1km"], "not a MOD11 8-bit flag.*the LST"),  # wrapped to bits
                       (np.array([256, 512], np.uint16), "16-bit QC of another product"),
                       (np.array([-1], np.int16), "not a MOD11 8-bit flag"),
                       (np.array([0.5]), "not a MOD11 8-bit flag")):
        with pytest.raises(errors.XlstsrError, match=msg):
            np.asarray(qc.modland_mask(layer))
    for kw, msg in (({"max_error_k": 0.5}, "max_error_k must be a number >= 1"),  # all False
                    ({"max_error_k": "2"}, "max_error_k must be a number >= 1"),  # raw numpy
                    ({"accept_other_quality": "no"}, "must be True or False")):  # truthy
        with pytest.raises(errors.XlstsrError, match=msg):
            qc.modland_mask(np.array([0, 1], np.uint8), **kw)
    with pytest.raises(errors.InputTypeError, match=r"pick its QC variable"):
        qc.modland(xr.Dataset({"QC_Day": ("x", np.zeros(2, np.uint8))}))


def test_coarsen_psf_emissivity_and_min_valid_are_checked(s):
    fine = s["lst_250m"]
    eps = (s["ndvi_250m"] * 0 + 0.97).rename("eps")
    with pytest.raises(errors.XlstsrError, match=r"wider than 2 coarse pixels.*degrees on a lon/lat"):
        xlstsr.coarsen(fine, 4, psf=1e9)  # ran for hours
    with pytest.raises(errors.XlstsrError, match="psf must be a width in metres"):
        xlstsr.coarsen(fine, 4, psf=True)  # a 1 m PSF
    with pytest.raises(errors.XlstsrError, match="min_valid must be a finite number > 0"):
        xlstsr.coarsen(fine, 4, min_valid="0.5")  # raw TypeError
    with pytest.raises(errors.GridError, match="emissivity is not on the LST's grid"):
        xlstsr.coarsen(fine, 4, emissivity=eps.isel(x=slice(0, 32)))  # NaN-padded, silently
    with pytest.raises(errors.GridError, match="emissivity is not on the LST's grid"):
        xlstsr.coarsen(fine, 4, emissivity=eps.assign_coords(x=eps.x + 5e4))  # numpy's error
    with pytest.raises(errors.InputTypeError, match="emissivity must be a DataArray"):
        xlstsr.coarsen(fine, 4, emissivity=np.full((64, 64), 0.97))  # AttributeError
    with pytest.raises(errors.XlstsrError, match=r"emissivity values from 0 to 0.*\(0, 1\]"):
        xlstsr.coarsen(fine, 4, emissivity=eps * 0)  # an all-NaN result
    out = xlstsr.coarsen(fine.to_dataset(name="LST"), 4)  # a Dataset's LST (AttributeError)
    np.testing.assert_array_equal(out.values, xlstsr.coarsen(fine, 4).values)


def test_load_model_on_a_device_torch_lacks_is_a_device_error():
    from xlstsr.nn import load_model

    if torch.backends.mps.is_available():
        pytest.skip("this machine has MPS")
    with pytest.raises(errors.DeviceError, match="cannot be put on device 'mps'"):
        load_model(weights_path("rescnn"), device="mps")  # torch's RuntimeError


@pytest.mark.parametrize("dtype", [torch.float16, torch.float64])
def test_a_model_in_another_float_type_is_named(s, dtype):
    with pytest.raises(errors.XlstsrError, match=rf"weights are {dtype}.*model.float\(\)"):
        xlstsr.upscale(s["lst_1km"], 4, "sisr", model=_tiny().to(dtype))  # torch's dtype error


def test_a_bfloat16_module_is_hashed_and_an_unknown_training_option_is_named(s):
    from xlstsr.train import fit_cube

    with pytest.raises(errors.XlstsrError, match=r"weights are torch.bfloat16.*model.float\(\)"):
        xlstsr.upscale(s["lst_1km"], 4, "sisr", model=_tiny().to(torch.bfloat16))  # numpy's error
    with pytest.raises(errors.XlstsrError, match=r"unknown training option\(s\) \['patchsize'\]"):
        fit_cube(_cube(), patch=8, patchsize=16, epochs=1)  # reached fit after the data work


def test_num_threads_of_one_call_does_not_stay_for_the_session(s):
    """upscale(..., num_threads=1) left the main thread's torch on one thread afterwards."""
    before = torch.get_num_threads()
    try:
        torch.set_num_threads(2)
        xlstsr.upscale(s["lst_1km"], 4, "sisr", num_threads=1)
        assert torch.get_num_threads() == 2
    finally:
        torch.set_num_threads(before)


@pytest.mark.parametrize("attr, value", [("factor", 4.5), ("factor", "4"), ("n_guide", "one"),
                                         ("receptive_field", -3), ("receptive_field", float("nan")),
                                         ("tile_size", 0)])
def test_a_custom_model_s_protocol_attributes_are_checked(attr, value):
    """'one' or NaN gave raw ValueErrors, a factor of 4.5 became 4, a receptive field of -3
    broke the dask result's assembly with a raw xarray error."""

    class Up(torch.nn.Module):
        factor, n_guide, receptive_field = 4, 0, 0

        def forward(self, lst, guide=None):
            return torch.nn.functional.interpolate(lst, scale_factor=4, mode="nearest")

    m = Up()
    setattr(m, attr, value)
    with pytest.raises(errors.XlstsrError, match=rf"the model's `{attr}` must be a whole number"):
        xlstsr.methods.torch_model.TorchModelMethod(m)


def test_a_bundled_file_name_or_a_folder_as_the_model(s, tmp_path):
    """'sisr_rescnn_cube_x4.pt' (the file names docs/models.md lists) was 'no bundled weights of
    that name'; a folder was called a missing checkpoint file."""
    from xlstsr.methods.torch_model import resolve_model

    assert resolve_model("rescnn")[1] == resolve_model("sisr_rescnn_cube_x4.pt")[1]
    out = xlstsr.upscale(s["lst_1km"], 4, "sisr", weights="sisr_rescnn_cube_x4.pt")
    xr.testing.assert_identical(out, xlstsr.upscale(s["lst_1km"], 4, "sisr"))
    (tmp_path / "models").mkdir()
    with pytest.raises(errors.CheckpointError, match=r"is a folder, not a checkpoint file"):
        resolve_model(tmp_path / "models")

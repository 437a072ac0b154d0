"""Round 22b of bad inputs: backends, user models, training entry points, CLI messages.

Each case gave a silently wrong result, left process-wide state changed, or gave a raw error or
wrong advice (reproducers in notes/corpus22b).
"""

from __future__ import annotations

import json
import os
import random
import shutil
import threading

import numpy as np
import pytest
import torch
import xarray as xr

import xlstsr
from xlstsr import errors
from xlstsr.nn import ResCNN, runtime

QUIET = {"enable_progress_bar": False, "enable_model_summary": False}


@pytest.fixture(scope="module")
def small():
    """Two dates of the sample scene at 128 x 128 (1 km) and 512 x 512 (250 m)."""
    return xlstsr.datasets.sample_scene(n_times=2, size=128)


def _patches(small):
    from xlstsr.train import degraded_pairs, make_patches

    lst = small["lst_1km"].values.astype("float32")
    return make_patches(**degraded_pairs(lst, 4), factor=4, patch=16, stride=16)


def _tiny(seed=0):
    torch.manual_seed(seed)
    return ResCNN(4, channels=4, n_blocks=1)


def _up(lst):
    return torch.nn.functional.interpolate(lst, scale_factor=4, mode="nearest")


class _Buffer(torch.nn.Module):
    factor, n_guide, receptive_field = 4, 0, 0

    def __init__(self, offset):
        super().__init__()
        self.register_buffer("offset", torch.tensor(float(offset)), persistent=False)

    def forward(self, lst, guide=None):
        return _up(lst) + self.offset


class _Held(torch.nn.Module):
    """A model whose offset is held in a plain attribute (a list, dict, array or tensor)."""

    factor, n_guide, receptive_field = 4, 0, 0

    def __init__(self, held):
        super().__init__()
        self.held = held

    def forward(self, lst, guide=None):
        h = self.held
        while isinstance(h, (list, tuple, dict)):
            h = next(iter(h.values())) if isinstance(h, dict) else h[0]
        return _up(lst) + float(np.asarray(h).reshape(-1)[0])


# -- 1. the weights hash -----------------------------------------------------------------------

@pytest.mark.parametrize("make", [
    _Buffer,
    lambda v: _Held([v]),
    lambda v: _Held({"offset": v}),
    lambda v: _Held(np.array([v], dtype=np.float32)),
    lambda v: _Held(torch.tensor([v])),
    lambda v: _Held([{"bands": (np.array([v]),)}]),
], ids=["non-persistent buffer", "list", "dict", "ndarray", "tensor", "nested"])
def test_models_differing_in_buffers_or_held_values_get_their_own_hash(make):
    """weights_hash left out non-persistent buffers and list/dict/array/tensor attributes: the
    process cache served the first model's copy for the second (silently wrong output)."""
    assert runtime.weights_hash(make(0.0)) != runtime.weights_hash(make(5.0))
    assert runtime.weights_hash(make(5.0)) == runtime.weights_hash(make(5.0))  # stable


def test_upscale_runs_each_models_own_buffers_and_attributes():
    lst = xlstsr.datasets.sample_scene(n_times=1, size=32)["lst_1km"]
    for make in (_Buffer, lambda v: _Held([v])):
        a, b = (xlstsr.upscale(lst, 4, method="sisr", method_options={"model": make(v)}).values
                for v in (0.0, 5.0))
        np.testing.assert_allclose(np.nanmean(b - a), 5.0, atol=1e-3)


# -- 2. fit leaves the process as it found it ------------------------------------------------------

def test_fit_restores_deterministic_mode_environment_and_generators(small):
    """fit left torch.use_deterministic_algorithms(True) on (every later torch.empty filled with
    NaN; on a GPU, ops without a deterministic kernel raised), CUBLAS_WORKSPACE_CONFIG set and
    the user's random, numpy and torch streams reseeded to its seed."""
    from xlstsr.train import fit

    patches = _patches(small)
    env = os.environ.get("CUBLAS_WORKSPACE_CONFIG")
    saved = (torch.are_deterministic_algorithms_enabled(),
             torch.is_deterministic_algorithms_warn_only_enabled())
    try:
        for det, warn_only in ((False, False), (True, True)):
            torch.use_deterministic_algorithms(det, warn_only=warn_only)
            os.environ.pop("CUBLAS_WORKSPACE_CONFIG", None)
            random.seed(7)
            np.random.seed(7)  # noqa: NPY002 - the user's legacy stream fit reseeded
            torch.manual_seed(7)
            want = (random.random(), np.random.rand(), float(torch.rand(1)))  # noqa: NPY002
            model = _tiny()  # seeds torch itself: before the user's streams are set
            random.seed(7)
            np.random.seed(7)  # noqa: NPY002
            torch.manual_seed(7)
            fit(model, patches, epochs=1, trainer_options=QUIET)
            assert torch.are_deterministic_algorithms_enabled() is det
            assert torch.is_deterministic_algorithms_warn_only_enabled() is warn_only
            assert "CUBLAS_WORKSPACE_CONFIG" not in os.environ
            assert (random.random(), np.random.rand(), float(torch.rand(1))) == want  # noqa: NPY002
    finally:
        torch.use_deterministic_algorithms(saved[0], warn_only=saved[1])
        if env is not None:
            os.environ["CUBLAS_WORKSPACE_CONFIG"] = env


# -- 3. a data module served twice ------------------------------------------------------------------

def test_a_second_fit_on_the_same_data_module_gives_the_same_weights(small):
    """The data module's batch-order generator went on from the first fit: the same model,
    seed and data gave other weights."""
    from xlstsr.train import CubeDataModule, fit

    def train(data):
        m = _tiny()
        fit(m, data, epochs=1, trainer_options=QUIET)
        return m.state_dict()

    dm = CubeDataModule(small["lst_1km"], patch=16, window=16, batch_size=8)
    first, again = train(dm), train(dm)
    for k in first:
        torch.testing.assert_close(first[k], again[k], rtol=0, atol=0)


# -- 4. torch threads after a dask upscale -----------------------------------------------------------

def _fresh_thread_count():
    out = []
    t = threading.Thread(target=lambda: out.append(torch.get_num_threads()))
    t.start()
    t.join()
    return out[0]


def test_a_dask_upscale_leaves_new_threads_torchs_thread_count():
    """set_task_threads(1) in the engine's worker threads also set the count torch gives every
    thread started afterwards: later thread pools ran torch on one thread."""
    import dask.array as dsa

    from xlstsr.engine import upscale_array
    from xlstsr.methods.torch_model import TorchModelMethod

    main_before = torch.get_num_threads()
    try:
        torch.set_num_threads(2)
        before = _fresh_thread_count()
        m = TorchModelMethod(_Buffer(1.0), device="cpu")
        x = dsa.from_array(np.full((2, 8, 8), 300.0, np.float32), chunks=(1, 4, 4))
        upscale_array(m, x, None, 4).compute(scheduler="threads", num_workers=2)
        assert _fresh_thread_count() == before == 2
        assert torch.get_num_threads() == 2
    finally:
        torch.set_num_threads(main_before)


# -- 5. resume after a runtime-only change -------------------------------------------------------

def _interrupted(lst, store, opts):
    import zarr

    from xlstsr.engine.to_zarr import PROGRESS_GROUP

    xlstsr.upscale_to_zarr(lst, store, factor=4, method="sisr", method_options=opts,
                           progress=False, time_chunk=1)
    g = zarr.open_group(store, mode="r+")
    g[f"{PROGRESS_GROUP}/done"][1:] = 0
    g.attrs["xlstsr_status"] = "incomplete"


def test_resume_takes_another_backend_or_file_name_but_not_other_weights(tmp_path):
    """RUNTIME_OPTIONS says a resume may change the backend and the model file (recorded by its
    hash); describe() put both into the fingerprint, and such resumes were refused."""
    from xlstsr.nn import save_model
    from xlstsr.nn.onnx_runtime import onnx_available

    lst = xlstsr.datasets.sample_scene(n_times=2, size=32)["lst_1km"].chunk({"time": 1})
    model = _tiny()
    save_model(model, tmp_path / "mine.pt", mode="sisr")
    shutil.copy(tmp_path / "mine.pt", tmp_path / "mine_copy.pt")
    store = tmp_path / "renamed.zarr"
    _interrupted(lst, store, {"model": str(tmp_path / "mine.pt")})
    xlstsr.upscale_to_zarr(lst, store, factor=4, method="sisr", time_chunk=1, progress=False,
                           method_options={"model": str(tmp_path / "mine_copy.pt")},
                           mode="resume")
    assert xr.open_zarr(store, consolidated=False).attrs["xlstsr_status"] == "complete"
    # other weights under the first file's name: still refused
    other = _tiny(seed=1)
    save_model(other, tmp_path / "other.pt", mode="sisr")
    store2 = tmp_path / "other.zarr"
    _interrupted(lst, store2, {"model": str(tmp_path / "mine.pt")})
    shutil.copy(tmp_path / "other.pt", tmp_path / "mine.pt")
    with pytest.raises(errors.XlstsrError, match="weights_sha256"):
        xlstsr.upscale_to_zarr(lst, store2, factor=4, method="sisr", time_chunk=1,
                               progress=False, method_options={"model": str(tmp_path / "mine.pt")},
                               mode="resume")
    if onnx_available():
        store3 = tmp_path / "backend.zarr"
        _interrupted(lst, store3, {"model": model, "backend": "onnxruntime"})
        xlstsr.upscale_to_zarr(lst, store3, factor=4, method="sisr", time_chunk=1,
                               progress=False, method_options={"model": model, "backend": "torch"},
                               mode="resume")


def test_a_store_that_recorded_a_runtime_option_still_resumes(tmp_path):
    """Stores written before the runtime options left the fingerprint recorded them (a model's
    class path, its file name): they resume as the same run."""
    import zarr

    lst = xlstsr.datasets.sample_scene(n_times=2, size=32)["lst_1km"].chunk({"time": 1})
    model = _tiny()
    store = tmp_path / "old.zarr"
    _interrupted(lst, store, {"model": model})
    g = zarr.open_group(store, mode="r+")
    args = json.loads(g.attrs["xlstsr_arguments"])
    args["method_options"].update(checkpoint="mine.pt", model="xlstsr.nn.rescnn.ResCNN")
    g.attrs["xlstsr_arguments"] = json.dumps(args, sort_keys=True)
    g.attrs["xlstsr_fingerprint"] = "0" * 32  # an older fingerprint
    xlstsr.upscale_to_zarr(lst, store, factor=4, method="sisr", time_chunk=1, progress=False,
                           method_options={"model": model}, mode="resume")


# -- 6. guide bands in another order ----------------------------------------------------------------

def test_guide_bands_in_another_order_are_named_as_such_not_as_values_to_rescale(small):
    """A model of ['red', 'nir'] given {'nir', 'red'} was told to divide its values by 10."""
    from xlstsr.nn import GuidedResCNN

    ndvi = small["ndvi_250m"]
    red = (0.1 - 0.05 * ndvi).rename("red")
    nir = (0.3 + 0.2 * ndvi).rename("nir")
    red.attrs, nir.attrs = {}, {}
    model = GuidedResCNN(4, n_guide=2, channels=4, n_blocks=1, fine=4)
    lst = small["lst_1km"].isel(time=[0])
    model.set_normalisation(float(lst.mean()), float(lst.std()),
                            [float(red.mean()), float(nir.mean())],
                            [float(red.std()), float(nir.std())])
    model.metadata = {"inputs": ["lst", "red", "nir"]}
    with pytest.raises(errors.XlstsrError, match="in that order") as err:
        xlstsr.upscale(lst, 4, method="disr", guide=xr.Dataset({"nir": nir, "red": red}),
                       method_options={"model": model})
    assert "divide" not in str(err.value) and "too large" not in str(err.value)


# -- 7. trainer options that train nothing or break Lightning ----------------------------------

@pytest.mark.parametrize("opts, match", [
    ({"max_steps": 0}, r"max_steps'\]=0 trains no step"),
    ({"max_time": "00:00:00:00"}, r"max_time'\]='00:00:00:00' stops training"),
    ({"max_time": {"seconds": 0}}, r"max_time'\]"),
    ({"check_val_every_n_epoch": 0}, r"check_val_every_n_epoch'\] must be a whole number >= 1"),
    ({"val_check_interval": 0}, r"val_check_interval'\]=0"),
    ({"val_check_interval": 0.0}, r"val_check_interval'\]=0.0"),
])
def test_trainer_options_that_train_nothing_or_divide_by_zero_are_refused(small, opts, match):
    """max_steps=0 / max_time 0 returned the untrained weights silently;
    check_val_every_n_epoch=0 / val_check_interval=0 raised Lightning's ZeroDivisionError."""
    from xlstsr.train import fit

    with pytest.raises(errors.XlstsrError, match=match):
        fit(_tiny(), _patches(small), epochs=1, trainer_options={**QUIET, **opts})


def test_a_logger_named_in_trainer_options_is_made(small, tmp_path):
    """trainer_options={'logger': 'csv'} raised a raw AttributeError after the data work."""
    from xlstsr.train import fit

    hist = fit(_tiny(), _patches(small), epochs=1,
               trainer_options={**QUIET, "logger": "csv", "default_root_dir": tmp_path})
    assert os.path.isfile(os.path.join(hist["log_dir"], "metrics.csv"))
    with pytest.raises(errors.XlstsrError, match="unknown logger 'cvs'"):
        fit(_tiny(), _patches(small), epochs=1, trainer_options={**QUIET, "logger": "cvs"})


# -- 8. fit_files / xlstsr train --psf record the PSF; 10. CLI messages name flags ---------------

@pytest.fixture(scope="module")
def files(small, tmp_path_factory):
    d = tmp_path_factory.mktemp("corpus22b")
    small["lst_1km"].to_dataset(name="LST").to_netcdf(d / "lst.nc")
    small["ndvi_250m"].to_dataset(name="NDVI").to_netcdf(d / "ndvi.nc")
    return d


def test_fit_files_records_the_psf_and_the_settings(files, tmp_path):
    """fit_files(psf=1.5) wrote a checkpoint indistinguishable from a box-degraded one."""
    from xlstsr.nn import load_checkpoint
    from xlstsr.train import fit_files

    fit_files(files / "lst.nc", tmp_path / "psf.pt", patch=16, window=16, epochs=1, lr=2e-3,
              psf=1.5, trainer_options=QUIET)
    meta = load_checkpoint(tmp_path / "psf.pt")["metadata"]
    assert meta["psf"]["sigma_fine_px"] == 1.5 and "Gaussian" in meta["psf"]["note"]
    assert "PSF" in meta["training_scales"]
    st = meta["settings"]
    assert (st["psf"], st["patch"], st["lr"], st["epochs"], st["seed"], st["arch"]) == (
        1.5, 16, 2e-3, 1, 0, "rescnn")
    fit_files(files / "lst.nc", tmp_path / "box.pt", patch=16, window=16, epochs=1,
              trainer_options=QUIET)
    box = load_checkpoint(tmp_path / "box.pt")["metadata"]
    assert box["psf"]["sigma_fine_px"] is None and box["settings"]["psf"] is None
    assert box["psf"] != meta["psf"]


def test_cli_records_psf_and_its_messages_name_flags(files, tmp_path, capsys, monkeypatch):
    """`xlstsr train --psf` recorded no PSF; `xlstsr upscale --method disr --model sisr.pt` said
    "use method='sisr'", a resume with other --epochs "lower trainer_options['max_epochs']"."""
    from xlstsr.cli import main
    from xlstsr.nn import load_checkpoint

    monkeypatch.chdir(tmp_path)
    shutil.copy(files / "lst.nc", "lst.nc")
    shutil.copy(files / "ndvi.nc", "ndvi.nc")
    common = ["train", "--lst", "lst.nc", "--patch", "16", "--window", "16", "--log-dir", "logs"]
    assert main([*common, "--epochs", "3", "--max-epochs", "1", "--psf", "1.2",
                 "--save-checkpoints", "--out", "m.pt"]) == 0
    assert load_checkpoint("m.pt")["metadata"]["psf"]["sigma_fine_px"] == 1.2
    capsys.readouterr()
    assert main(["upscale", "lst.nc", "sr.nc", "--method", "disr", "--guide", "ndvi.nc",
                 "--model", "m.pt"]) == 2
    err = capsys.readouterr().err
    assert "`--method sisr`" in err and "method='" not in err
    assert main([*common, "--epochs", "2", "--resume", "logs/checkpoints/last.ckpt",
                 "--out", "m2.pt"]) == 2
    err = capsys.readouterr().err
    assert "`--max-epochs`" in err and "trainer_options[" not in err


# -- 9. the ONNX export of a float64 model ---------------------------------------------------------

def test_onnx_export_of_a_float64_model_names_model_float():
    """The export failed and said "run it with backend='torch'", which fails as well."""
    from xlstsr.nn.onnx_runtime import onnx_available

    if not onnx_available():
        pytest.skip("onnxruntime is not installed")
    lst = xlstsr.datasets.sample_scene(n_times=1, size=16)["lst_1km"]
    with pytest.raises(errors.XlstsrError, match=r"torch\.float64.*model\.float\(\)") as err:
        xlstsr.upscale(lst, 4, method="sisr",
                       method_options={"model": _tiny().double(), "backend": "onnxruntime"})
    assert "backend='torch'" not in str(err.value)


def test_resume_takes_another_dms_thread_count(tmp_path):
    """DMS's n_jobs (forest threads: the same trees) is a runtime setting: a resume with another
    count was refused ('given_method_options['n_jobs']: 1 there, 2 here'); its trees' settings
    still are."""
    s = xlstsr.datasets.sample_scene(n_times=2, size=32)
    lst, ndvi = s["lst_1km"], s["ndvi_250m"]
    kw = {"factor": 4, "method": "dms", "guide": ndvi, "guide_offset": "ignore",
          "progress": False, "time_chunk": 1}
    store = tmp_path / "dms.zarr"
    xlstsr.upscale_to_zarr(lst, store, method_options={"n_jobs": 1}, **kw)
    xlstsr.upscale_to_zarr(lst, store, method_options={"n_jobs": 2}, mode="resume", **kw)
    assert xr.open_zarr(store, consolidated=False).attrs["xlstsr_status"] == "complete"
    with pytest.raises(errors.XlstsrError, match="min_samples_leaf"):
        xlstsr.upscale_to_zarr(lst, store, method_options={"n_jobs": 2, "min_samples_leaf": 3},
                               mode="resume", **kw)

"""Checkpoints: round trip, metadata, each compatibility error; the bundled weights."""

from __future__ import annotations

import numpy as np
import pytest
import torch

from xlstsr.errors import CheckpointError
from xlstsr.nn import GuidedUNet, ResCNN, load_checkpoint, load_model, save_model

torch.set_num_threads(1)


def _trained_like(model: torch.nn.Module) -> torch.nn.Module:
    g = torch.Generator().manual_seed(0)
    with torch.no_grad():
        for p in model.parameters():
            p.copy_(torch.randn(p.shape, generator=g) * 0.1)
    model.set_normalisation(
        295.0, 7.0, [0.4] * model.n_guide or None, [0.2] * model.n_guide or None
    )
    return model.eval()


@pytest.fixture
def sisr_file(tmp_path):
    m = _trained_like(ResCNN(4, channels=4, n_blocks=1))
    return m, save_model(m, tmp_path / "sisr.pt", loss="huber", training_data=["unit test"])


@pytest.fixture
def disr_file(tmp_path):
    m = _trained_like(GuidedUNet(4, n_guide=1, base=4))
    return m, save_model(m, tmp_path / "disr.pt", inputs=["lst", "ndvi"])


def test_round_trip_same_outputs_and_metadata(sisr_file, disr_file):
    lst = 300 + torch.randn(2, 1, 8, 8)
    for m, path in (sisr_file, disr_file):
        m2 = load_model(path, factor=4, n_guide=m.n_guide)
        g = torch.rand(2, 1, 32, 32) if m.n_guide else None
        with torch.no_grad():
            assert torch.equal(m(lst, g), m2(lst, g))
        meta = m2.metadata
        assert meta["factor"] == 4 and meta["n_guide"] == m.n_guide
        assert meta["receptive_field"] == m.receptive_field
        assert meta["normalisation"]["lst_offset"] == pytest.approx(295.0)
        assert "xlstsr_version" in meta
        assert not m2.training
    assert load_model(sisr_file[1]).metadata["loss"] == "huber"
    assert load_model(disr_file[1]).metadata["inputs"] == ["lst", "ndvi"]


def test_wrong_factor(sisr_file):
    with pytest.raises(CheckpointError, match="factor 4, not 2"):
        load_model(sisr_file[1], factor=2)


def test_missing_and_extra_guide(sisr_file, disr_file):
    with pytest.raises(CheckpointError, match=r"guided .*pass guide"):
        load_model(disr_file[1], n_guide=0)
    with pytest.raises(CheckpointError, match="SISR model taking no guide"):
        load_model(sisr_file[1], n_guide=1)
    with pytest.raises(CheckpointError, match="expects 1 guide"):
        load_model(disr_file[1], n_guide=3)


def test_unknown_architecture(tmp_path, sisr_file):
    blob = load_checkpoint(sisr_file[1])
    blob["arch"] = "swin_transformer"
    torch.save(blob, tmp_path / "x.pt")
    with pytest.raises(CheckpointError, match="unknown architecture 'swin_transformer'"):
        load_model(tmp_path / "x.pt")


def test_corrupt_files(tmp_path, sisr_file):
    data = sisr_file[1].read_bytes()
    (tmp_path / "trunc.pt").write_bytes(data[: len(data) // 2])
    with pytest.raises(CheckpointError, match="corrupt"):
        load_model(tmp_path / "trunc.pt")
    (tmp_path / "junk.pt").write_bytes(b"not a checkpoint at all")
    with pytest.raises(CheckpointError, match="corrupt"):
        load_model(tmp_path / "junk.pt")
    torch.save({"weights": torch.zeros(3)}, tmp_path / "other.pt")
    with pytest.raises(CheckpointError, match="not an xlstsr checkpoint"):
        load_model(tmp_path / "other.pt")
    with pytest.raises(CheckpointError, match="does not exist"):
        load_model(tmp_path / "missing.pt")
    blob = load_checkpoint(sisr_file[1])
    blob["state_dict"].pop("tail.weight")
    torch.save(blob, tmp_path / "partial.pt")
    with pytest.raises(CheckpointError, match="does not match architecture"):
        load_model(tmp_path / "partial.pt")


def test_custom_module_refused(tmp_path):
    with pytest.raises(CheckpointError, match="not an xlstsr architecture"):
        save_model(torch.nn.Conv2d(1, 1, 3), tmp_path / "c.pt")


# ---------------------------------------------------------------------------- bundled weights
def _scene_metrics(method: str, **kw):
    import xlstsr

    scene = xlstsr.datasets.sample_scene(n_times=2, size=128, cloud_fraction=0.1, seed=7)
    truth = scene["lst_250m"].values
    guide = scene["ndvi_250m"] if method == "disr" else None
    out = {}
    for name in ("bicubic", method):
        sr = xlstsr.upscale(
            scene["lst_1km"],
            4,
            method=name,
            guide=guide if name == method else None,
            **(kw if name == method else {}),
        )
        err = sr.values - truth
        out[name] = float(np.sqrt(np.nanmean(err**2)))
    return out


@pytest.mark.parametrize("weights", ["rescnn", "mrunet"])
def test_bundled_sisr_loads_and_beats_bicubic(weights):
    from xlstsr.nn.weights import weights_path

    m = load_model(weights_path(weights), factor=4, n_guide=0)
    assert m.metadata["mode"] == "sisr" and m.metadata["eval_pairs"]
    rmse = _scene_metrics("sisr", weights=weights)
    assert rmse["sisr"] < rmse["bicubic"], rmse


def test_bundled_degraded_disr_beats_bicubic():
    """The degraded DISR (trained 4 km -> 1 km, consistent with its input) on the synthetic scene."""
    from xlstsr.nn.weights import weights_path

    m = load_model(weights_path("degraded"), factor=4, n_guide=1)
    assert m.metadata["mode"] == "degraded_disr"
    rmse = _scene_metrics("disr", weights="degraded")
    assert rmse["disr"] < rmse["bicubic"], rmse


@pytest.mark.parametrize("weights", ["unet", "sif"])
def test_bundled_disr_loads(weights):
    from xlstsr.nn.weights import weights_path

    m = load_model(weights_path(weights), factor=4, n_guide=1)
    assert m.metadata["inputs"] == ["lst", "ndvi"]
    assert not set(m.metadata["train_pairs"]) & set(m.metadata["eval_pairs"])


def test_bundled_disr_is_what_make_weights_trains():
    """The shipped cross-sensor file records the loss settings `make weights` uses now.

    Guards against changing the chosen settings (benchmarks/select_disr.py) without retraining.
    """
    from helpers import load_script

    from xlstsr.datasets import TRAIN_PAIRS, VAL_PAIRS
    from xlstsr.nn.weights import weights_path

    recipe = load_script("train_bundled")
    SUPERVISED_LOSS, SUPERVISED_STRIDE = recipe.SUPERVISED_LOSS, recipe.SUPERVISED_STRIDE

    meta = load_model(weights_path("unet"), factor=4, n_guide=1).metadata
    assert meta["mode"] == "supervised"
    assert meta["loss_options"] == SUPERVISED_LOSS
    assert meta["patches"]["stride"] == SUPERVISED_STRIDE
    # round 4: fine-tuned from the cube's degraded DISR at COREG_LR (select_disr.py --finetune)
    assert meta["settings"]["lr"] == recipe.COREG_LR
    assert meta["initialised_from"]["file"] == recipe.COREG_INIT == meta["settings"]["init"]
    assert recipe.JOBS.index("disr_degraded_cube") < recipe.JOBS.index("disr_coreg")
    # round 5: the SIF file's consistency term sees the SR through the MODIS PSF
    sif = load_model(weights_path("sif"), factor=4, n_guide=1).metadata
    assert sif["loss_options"]["psf_sigma"] == recipe.SIF_PSF_SIGMA
    assert "Gaussian" in sif["psf"]["consistency"]
    assert meta["train_pairs"] == list(TRAIN_PAIRS)
    assert meta["val_pairs"] == list(VAL_PAIRS)


@pytest.mark.parametrize("weights", ["unet", "fast"])
def test_bundled_disr_beats_bicubic_on_aster(shared_data, weights):
    """The default (cross-sensor) DISR, and the fast one distilled from it, against ASTER on two
    held-out pairs: lower RMSE, more detail.

    It learned the MODIS -> ASTER mismatch, so it is judged against real truth, not against the
    synthetic scene (whose truth is consistent with its input by construction).
    """
    import warnings

    import xlstsr
    from xlstsr.datasets import EVAL_PAIRS
    from xlstsr.errors import GuideAlignmentWarning

    got = {"bicubic": [], "disr": []}
    for pid in EVAL_PAIRS[:2]:
        lst, ndvi, aster = xlstsr.datasets.open_modis_aster_pair(pid, shared_data)
        for name in got:
            with warnings.catch_warnings():
                warnings.simplefilter("ignore", GuideAlignmentWarning)
                sr = xlstsr.upscale(
                    lst,
                    4,
                    method=name,
                    guide=ndvi if name == "disr" else None,
                    mask_out_of_range=True,
                    **({"weights": weights} if name == "disr" else {}),
                )
            ds = xlstsr.evaluate(sr, aster, coarse=lst, factor=4, erode=3, valid_min=230.0)
            got[name].append((float(ds["rmse"]), float(ds["spectral_ratio"])))
    b, d = np.mean(got["bicubic"], axis=0), np.mean(got["disr"], axis=0)
    assert d[0] < b[0], got
    assert d[1] > b[1], got


def test_weights_small():
    from xlstsr.nn.weights import WEIGHTS_DIR

    total = sum(p.stat().st_size for p in WEIGHTS_DIR.glob("*.pt"))
    assert 0 < total < 5e6


# ---------------------------------------------------------------------------- methods sisr / disr
def test_methods_accept_checkpoint_and_module(sisr_file, disr_file):
    import xlstsr
    from xlstsr.methods import get_method

    scene = xlstsr.datasets.sample_scene(n_times=1, size=32, cloud_fraction=0.0)
    sr_path = xlstsr.upscale(scene["lst_1km"], 4, method="sisr", checkpoint=str(sisr_file[1]))
    sr_mod = xlstsr.upscale(scene["lst_1km"], 4, method="sisr", model=sisr_file[0])
    np.testing.assert_allclose(sr_path.values, sr_mod.values, atol=1e-4)
    assert sr_path.shape == (1, 32, 32)
    d = xlstsr.upscale(
        scene["lst_1km"], 4, method="disr", checkpoint=str(disr_file[1]), guide=scene["ndvi_250m"]
    )
    assert np.isfinite(d.values).all()
    assert get_method("disr", model=disr_file[0]).needs_guide
    with pytest.raises(CheckpointError, match="use method='disr'"):
        get_method("sisr", checkpoint=str(disr_file[1]))
    with pytest.raises(CheckpointError, match="use method='sisr'"):
        get_method("disr", model=sisr_file[0])
    with pytest.raises(TypeError, match="give the model once"):
        get_method("sisr", checkpoint=str(sisr_file[1]), model=sisr_file[0])
    with pytest.raises(CheckpointError, match="are installed"):
        get_method("sisr", weights="nonexistent")
    # one argument for every kind of model: a path, a module or bundled weights by name
    by_name = xlstsr.upscale(scene["lst_1km"], 4, "sisr", method_options={"model": "mrunet"})
    by_alias = xlstsr.upscale(scene["lst_1km"], 4, "sisr", weights="mrunet")
    np.testing.assert_array_equal(by_name.values, by_alias.values)
    assert "mrunet" in by_name.attrs["xlstsr_options"].lower()


def test_conserve_enforces_coarse_consistency(disr_file):
    import dask.array as dsa
    from dask.base import tokenize

    import xlstsr
    from xlstsr.engine import upscale_array
    from xlstsr.kernels.aggregate import radiometric_mean
    from xlstsr.methods import get_method

    scene = xlstsr.datasets.sample_scene(n_times=1, size=64, cloud_fraction=0.1)
    lst = scene["lst_1km"].values
    guide = scene["ndvi_250m"].values[None, None]
    plain = get_method("disr", model=disr_file[0])
    cons = get_method("disr", model=disr_file[0], conserve=True)
    assert tokenize(plain) != tokenize(cons)
    out = upscale_array(cons, lst, guide, 4)
    err = np.abs(radiometric_mean(out.astype(np.float64), 4) - lst)
    assert np.nanmax(err) < 1e-3
    assert np.nanmax(np.abs(radiometric_mean(upscale_array(plain, lst, guide, 4), 4) - lst)) > 0.01
    lazy = upscale_array(cons, dsa.from_array(lst, chunks=(1, 8, 8)), guide, 4)
    np.testing.assert_allclose(lazy.compute(scheduler="sync"), out, atol=1e-3, equal_nan=True)

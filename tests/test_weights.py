"""The bundled weights API (xlstsr.nn.weights): names, metadata, loading, and pinned outputs."""

from __future__ import annotations

import numpy as np
import pytest
import torch

import xlstsr
from xlstsr.errors import CheckpointError
from xlstsr.nn import ARCHITECTURES
from xlstsr.nn.weights import BUNDLED, WEIGHTS_DIR, list_weights, load_weights, weights_path

# Outputs of xlstsr.upscale(sample_scene()["lst_1km"], 4, method, weights=...) recorded with the
# shipped files before the architectures were split into one module each (commit fca393c):
# (nanmean, nanstd, values at (t, y, x) = (0, 10, 20), (1, 100, 150), (2, 200, 250)). A change
# means the weights or the architectures no longer compute what was trained.
PINNED = {
    # the default since issue 13 (sisr_rescnn_cube_x4.pt), recorded when it was installed
    ("sisr", "rescnn"): (302.0788179, 4.7455570, [298.0849, 311.2910, 309.9753]),
    ("sisr", "rescnn_granule"): (302.1004526, 4.8386391, [298.0308, 311.2379, 309.9503]),
    ("sisr", "mrunet"): (302.0735705, 4.8436083, [298.0475, 311.2469, 309.9376]),
    # the default from issue 13 item 2 to round 7 (disr_unet_coreg_x4.pt; round 4: pre-trained on
    # the cube, fine-tuned on co-registered ASTER), recorded when it was installed
    ("disr", "unet"): (302.9190597, 5.1801549, [300.4234, 313.1124, 308.0909]),
    # the default before it (disr_unet_x4.pt, trained on displaced ASTER), renamed
    ("disr", "unet_displaced"): (302.9545591, 5.1094972, [299.4848, 312.4900, 311.5115]),
    # the default since round 7 (disr_rescnn_distilled_x4.pt: GuidedResCNN distilled from "unet",
    # then on the rotated and flipped windows), recorded when installed; round 6's file gave
    # (301.9468588, 4.6943160, [299.9875, 309.5578, 308.9737])
    ("disr", "fast"): (302.6904300, 5.0029377, [300.3002, 312.2415, 308.2938]),
    # round 5 of docs/results/disr_selection.md: the consistency term through the MODIS PSF
    ("disr", "sif"): (302.0563793, 4.9511988, [298.0542, 311.0883, 309.8095]),
    ("disr", "degraded"): (302.1061325, 4.8595579, [298.0963, 311.3423, 310.2041]),
    # the degraded DISR trained on the MOD11A1 cube (disr_degraded_cube_x4.pt), recorded when installed
    ("disr", "degraded_cube"): (302.0830335, 4.8421479, [298.0838, 311.1960, 310.0521]),
}


def test_every_bundled_name_is_installed_and_listed():
    info = list_weights()
    assert set(info) == set(BUNDLED)
    for name, d in info.items():
        assert weights_path(name) == WEIGHTS_DIR / BUNDLED[name] == WEIGHTS_DIR / d["file"]
        assert d["arch"] in ARCHITECTURES and d["factor"] == 4
        sisr = d["file"].startswith("sisr")
        assert d["n_guide"] == (0 if sisr else 1)
        assert d["inputs"] == (["lst"] if sisr else ["lst", "ndvi"])
        assert d["training_data"] and d["mode"]  # what it was trained on is recorded


def test_weights_path_by_file_name_and_unknown_name():
    assert weights_path("sisr_rescnn_cube_x4.pt") == weights_path("rescnn")
    assert weights_path("sisr_rescnn_x4.pt") == weights_path("rescnn_granule")
    assert weights_path("disr_unet_coreg_x4.pt") == weights_path("unet")
    assert weights_path("disr_unet_x4.pt") == weights_path("unet_displaced")
    with pytest.raises(CheckpointError, match=r"known: .*rescnn"):
        weights_path("no_such_model")


@pytest.mark.parametrize("name", sorted(BUNDLED))
def test_load_weights_restores_the_stored_tensors(name):
    """The file stores an architecture name and tensors (no pickled class path), so moving the
    classes between modules cannot change what is loaded: every tensor comes back bit-equal."""
    blob = torch.load(weights_path(name), map_location="cpu", weights_only=True)
    model = load_weights(name)
    assert type(model) is ARCHITECTURES[blob["arch"]]
    assert model.config == blob["config"]
    state = model.state_dict()
    assert state.keys() == blob["state_dict"].keys()
    for k, v in blob["state_dict"].items():
        assert torch.equal(state[k], v), k
    assert model.metadata == blob["metadata"]


def test_load_weights_checks_the_request():
    with pytest.raises(CheckpointError, match="guide"):
        load_weights("unet", n_guide=0)
    with pytest.raises(CheckpointError, match="factor 4"):
        load_weights("rescnn", factor=2)


@pytest.fixture(scope="module")
def sample():
    return xlstsr.datasets.sample_scene()


@pytest.mark.parametrize(("method", "weights"), sorted(PINNED))
def test_bundled_outputs_on_the_sample_scene_are_pinned(sample, method, weights):
    kw = {"guide": sample["ndvi_250m"]} if method == "disr" else {}
    sr = xlstsr.upscale(sample["lst_1km"], 4, method=method, weights=weights, **kw).values
    mean, std, pixels = PINNED[(method, weights)]
    v = sr.astype(np.float64)
    assert np.nanmean(v) == pytest.approx(mean, abs=1e-4)
    assert np.nanstd(v) == pytest.approx(std, abs=1e-4)
    np.testing.assert_allclose(v[[0, 1, 2], [10, 100, 200], [20, 150, 250]], pixels, atol=1e-3)
    # the default weights of each method are the named ones, through the same loader
    if weights == {"sisr": "rescnn", "disr": "fast"}[method]:
        default = xlstsr.upscale(sample["lst_1km"], 4, method=method, **kw).values
        mine = xlstsr.upscale(sample["lst_1km"], 4, method=method, model=load_weights(weights), **kw)
        np.testing.assert_array_equal(default, sr)
        np.testing.assert_array_equal(mine.values, sr)


def test_default_sisr_records_its_data_split_psf_and_settings():
    """The default SISR (trained on the MOD11A1 cube) says what it was trained on, how the window
    positions were split (no position in two sets), its degradation (PSF) and settings."""
    from xlstsr.train import PositionSplit

    meta = load_weights("rescnn").metadata
    assert meta["mode"] == "sisr" and meta["inputs"] == ["lst"]
    assert any("modis_h18v04_2020" in d for d in meta["training_data"])
    assert "window position" in meta["split"]
    split = PositionSplit.from_dict(meta["positions"])  # raises if a position is in two sets
    assert split.train and split.val and split.test and split.held_out
    assert meta["window_dates"]["test"] > 0 and meta["eval_pairs"]
    assert set(meta["psf"]) >= {"sigma_fine_px", "note"}
    st = meta["settings"]
    assert {"arch", "config", "psf", "epochs", "lr", "detail_gain"} <= set(st)
    assert meta["detail_gain"]["value"] == st["detail_gain"]
    h = meta["history"]
    assert h["epochs_run"] >= 1 and h["cpu_seconds"] > 0 and h["threads"] >= 1
    assert list_weights()["rescnn"]["psf"] == meta["psf"]

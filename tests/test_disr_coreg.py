"""The cross-sensor DISR recipe on co-registered truth (scripts/train_bundled.py --only disr_coreg)."""

from __future__ import annotations

import numpy as np
import pytest
from affine import Affine
from helpers import load_script
from rasterio.enums import Resampling

import xlstsr
from xlstsr.nn.weights import BUNDLED, WEIGHTS_DIR, load_weights


def _displaced(fine, dx: float, dy: float):
    """``fine`` with its content moved by (dx, dy) metres (coordinates shifted, no resampling)."""
    out = fine.assign_coords(x=fine.x + dx, y=fine.y + dy)
    return out.rio.write_transform(Affine.translation(dx, dy) * fine.rio.transform(recalc=True))


def test_recipe_moves_a_displaced_truth_back_onto_the_lst():
    """A synthetic fine truth displaced by (+150 m, -110 m) is put back where the coarse LST saw
    it: the shift is found to within 15 m and the truth on the LST's grid is close to the
    undisplaced one, much closer than the displaced truth as given."""
    recipe = load_script("train_bundled")
    s = xlstsr.datasets.sample_scene(n_times=1)
    fine, lst = s["lst_250m"].isel(time=0), s["lst_1km"].isel(time=0)
    dx, dy = 150.0, -110.0
    moved = _displaced(fine, dx, dy)
    back, rec = recipe.coregister_truth(moved, lst, fine)
    assert rec["reliable"]
    assert rec["shift_x"] == pytest.approx(-dx, abs=15) and rec["shift_y"] == pytest.approx(-dy, abs=15)
    given = moved.rio.reproject_match(fine, resampling=Resampling.bilinear, nodata=np.nan).values
    inner = (slice(8, -8), slice(8, -8))  # both defined, away from the shifted edges
    truth = fine.values[inner]
    err_given = np.sqrt(np.nanmean((given[inner] - truth) ** 2))
    err_back = np.sqrt(np.nanmean((back[inner] - truth) ** 2))
    # the sample's own gaps (water) move with it: as many defined pixels as the truth has
    assert np.isfinite(back[inner]).mean() > np.isfinite(truth).mean() - 0.03
    assert err_back < 0.3 * err_given, (err_back, err_given)


def test_default_disr_records_its_coregistered_training():
    """The default DISR says it was trained on co-registered truth (per pair shift and PSF),
    with its data, split, PSF, loss, epochs and CPU time; the displaced model stays loadable
    under its own name and says it was not co-registered."""
    if BUNDLED["unet"] != "disr_unet_coreg_x4.pt":
        pytest.skip("the co-registered DISR is not the default")
    from xlstsr.datasets import EVAL_PAIRS, TRAIN_PAIRS

    recipe = load_script("train_bundled")
    meta = load_weights("unet").metadata
    co = meta["coregistration"]
    assert co["applied"] and co["n_pairs"] == len(TRAIN_PAIRS) == len(co["pairs"])
    assert [r["pair"] for r in co["pairs"]] == list(TRAIN_PAIRS)
    assert co["n_reliable"] >= 18 and 100 < co["median_psf_sigma_m"] < 600
    assert 50 < np.hypot(co["median_shift_x_m"], co["median_shift_y_m"]) < 400
    assert meta["train_pairs"] == list(TRAIN_PAIRS) and not set(meta["train_pairs"]) & set(EVAL_PAIRS)
    assert "co-registered" in meta["training_data"][0]
    assert meta["loss_options"] == recipe.SUPERVISED_LOSS and meta["mode"] == "supervised"
    assert set(meta["psf"]) == {"consistency", "coregistration"}
    assert meta["settings"]["coregister"] is True
    h = meta["history"]
    assert h["epochs_run"] >= 1 and h["cpu_seconds"] > 0 and h["threads"] == 1
    assert "disr_coreg" in meta["command"]
    old = load_weights("unet_displaced").metadata
    assert old["loss_options"] == recipe.DISPLACED_LOSS
    assert (WEIGHTS_DIR / BUNDLED["unet_displaced"]).name == "disr_unet_x4.pt"
    assert "coregistration" not in old or not old["coregistration"]["applied"]


def test_recipe_networks_and_a_start_file_of_another_network(tmp_path):
    """``--arch`` picks the network (arguments overridable); fine-tuning takes the started file's
    network, and refuses an ``--arch`` that contradicts it before reading any pair."""
    from xlstsr.nn import GuidedResCNN, GuidedUNet, save_model

    recipe = load_script("train_bundled")
    assert type(recipe.disr_network()) is GuidedUNet
    assert recipe.disr_network().config["base"] == 12  # the default disr's network
    fast = recipe.disr_network("guided_rescnn", channels=16)
    assert type(fast) is GuidedResCNN and fast.config["channels"] == 16 and fast.n_guide == 1
    with pytest.raises(SystemExit, match="trains"):
        recipe.disr_network("transformer")
    start = save_model(recipe.disr_network("guided_rescnn", channels=8, n_blocks=1),
                       tmp_path / "start.pt")
    with pytest.raises(SystemExit, match=r"--arch guided_unet, but --init .* guided_rescnn"):
        recipe.train_disr("supervised", tmp_path / "no data", tmp_path, epochs=1,
                          init=start, arch="guided_unet")


def test_fast_disr_is_the_coarse_grid_network_distilled_from_the_default():
    """``weights="fast"`` is a GuidedResCNN that records its recipe (the default's two steps, then
    distillation from the default file), its pairs (the evaluation pairs never read), and that
    `make weights` writes it after the default it learns from."""
    from xlstsr.datasets import EVAL_PAIRS, TRAIN_PAIRS
    from xlstsr.nn import GuidedResCNN

    recipe = load_script("train_bundled")
    m = load_weights("fast")
    assert type(m) is GuidedResCNN and m.n_guide == 1 and m.factor == 4
    meta = m.metadata
    assert meta["distillation"]["teacher"] == BUNDLED["unet"] == recipe.COREG_FILE
    # the student: GuidedResCNN after the default's two steps (cube, then co-registered ASTER)
    assert meta["distillation"]["student_start"] == "disr_rescnn_coreg_x4.pt"
    assert meta["settings"]["arch"] == "guided_rescnn" and meta["loss_options"] == recipe.SUPERVISED_LOSS
    assert meta["train_pairs"] == list(TRAIN_PAIRS) and not set(meta["train_pairs"]) & set(EVAL_PAIRS)
    assert meta["command"].endswith("--only disr_fast")
    assert BUNDLED["fast"] == recipe.FAST_FILE
    assert recipe.JOBS.index("disr_coreg") < recipe.JOBS.index("disr_fast")
    h = meta["history"]
    assert h["epochs_run"] >= 1 and h["cpu_seconds"] > 0 and h["threads"] == 1

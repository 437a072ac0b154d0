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


def test_default_disr_is_the_coarse_grid_network_distilled_from_the_unet():
    """The default ``disr`` (``weights="fast"``) is a GuidedResCNN that records its recipe (the
    U-Net's two steps, distillation from the U-Net file, round 6's file then distilled again on
    the rotated and flipped windows: round 7), its pairs (the evaluation pairs never read), and
    that `make weights` writes it after the U-Net it learns from, by the same steps."""
    import inspect

    from xlstsr.datasets import EVAL_PAIRS, TRAIN_PAIRS
    from xlstsr.methods import get_method
    from xlstsr.nn import GuidedResCNN

    recipe = load_script("train_bundled")
    m = load_weights("fast")
    assert type(m) is GuidedResCNN and m.n_guide == 1 and m.factor == 4
    assert get_method("disr").weights_hash == get_method("disr", weights="fast").weights_hash
    meta = m.metadata
    assert meta["distillation"]["teacher"] == BUNDLED["unet"] == recipe.COREG_FILE
    # round 7: round 6's file (GuidedResCNN after the U-Net's two steps and a distillation)
    # distilled again, on the 8 rotations and flips of the training windows
    assert meta["distillation"]["student_start"] == recipe.FAST_FILE
    assert meta["distillation"]["dihedral"] is True and meta["patches"]["n_train"] % 8 == 0
    assert meta["settings"]["patience"] == recipe.DIHEDRAL_PATIENCE
    assert meta["settings"]["epochs"] == recipe.DIHEDRAL_EPOCHS
    assert meta["settings"]["arch"] == "guided_rescnn" and meta["loss_options"] == recipe.SUPERVISED_LOSS
    assert meta["train_pairs"] == list(TRAIN_PAIRS) and not set(meta["train_pairs"]) & set(EVAL_PAIRS)
    assert BUNDLED["fast"] == recipe.FAST_FILE
    assert recipe.JOBS.index("disr_coreg") < recipe.JOBS.index("disr_fast")
    # `make weights` runs the same chain: the last step distils on the rotated windows
    src = inspect.getsource(recipe.train_disr_fast)
    assert "dihedral=True" in src and "DIHEDRAL_EPOCHS" in src
    h = meta["history"]
    assert h["epochs_run"] >= 1 and h["cpu_seconds"] > 0 and h["threads"] == 1


def test_dihedral_distillation_labels_each_transformed_input_with_the_teacher():
    """``dihedral_patches``: every patch under the 8 rotations and flips, the coarse input, its
    validity and the guide moved together; ``teacher_targets`` then labels each transformed input
    with the teacher's own output on it, which for a network that is not equivariant differs
    from the transformed label (what the training loop's random flips would have taught)."""
    import torch

    from xlstsr.nn import GuidedResCNN
    from xlstsr.train import PatchSet

    recipe = load_script("train_bundled")
    gen = torch.Generator().manual_seed(0)
    lst = 290 + 5 * torch.rand((2, 1, 6, 6), generator=gen)
    guide = torch.rand((2, 1, 24, 24), generator=gen)
    valid = torch.rand((2, 1, 6, 6), generator=gen) > 0.2
    ps = PatchSet(lst, valid, guide, None, np.array(["a", "b"]), 4)
    out = recipe.dihedral_patches(ps)
    assert len(out) == 16 and out.target is None and list(out.scene).count("a") == 8
    # the 8 versions of one patch are the 8 distinct elements of the square's symmetry group
    versions = out.lst[out.scene == "a"]
    assert len({tuple(v.flatten().tolist()) for v in versions}) == 8
    for k in range(8):  # input, validity and guide moved by the same transform
        i = np.flatnonzero(out.scene == "a")[k]
        v, g = out.lst[i, 0], out.guide[i, 0]
        j = next(j for j in range(8) if torch.equal(v, _d4(lst[0, 0], j)))
        assert torch.equal(g, _d4(guide[0, 0], j)) and torch.equal(out.lst_valid[i, 0],
                                                                    _d4(valid[0, 0], j))
    teacher = GuidedResCNN(4, n_guide=1, channels=4, n_blocks=1, fine=4).eval()
    with torch.no_grad():  # weights far from the (near-equivariant) initial residual of zero
        for w in teacher.parameters():
            w.copy_(torch.randn(w.shape, generator=gen) * 0.3)
    labelled = recipe.teacher_targets(teacher, out)
    i = 2 * 5 + 1  # patch "b" under the 6th transform (a flip): the sets come transform by transform
    assert out.scene[i] == "b" and torch.equal(out.lst[i, 0], _d4(lst[1, 0], 5))
    with torch.inference_mode():
        own = teacher(out.lst[i : i + 1], out.guide[i : i + 1])[0, 0]
        moved = _d4(teacher(lst[1:2], guide[1:2])[0, 0], 5)
    assert torch.allclose(labelled.target[i, 0], own, atol=1e-3)  # batched vs alone
    assert not torch.allclose(own, moved, atol=1e-3)  # not equivariant: a moved label is wrong

def _d4(x, j: int):
    """The ``j``-th (0..7) rotation/flip of a 2-D tensor, in ``dihedral_patches``' order."""
    import torch

    y = torch.rot90(x, j // 2, dims=(-2, -1))
    return torch.flip(y, dims=(-1,)) if j % 2 else y


@pytest.mark.realdata
def test_recipe_guide_offset_option_moves_the_offset_training_guides(shared_data):
    """``train_bundled.py --guide-offset auto`` (round 8, not chosen) gives the recipe the
    training pairs' NDVI as upscale sees it by default: the offset pairs' patches change, the
    others do not; the shipped recipe ('ignore') keeps the NDVI as stored."""
    recipe = load_script("train_bundled")
    assert recipe.GUIDE_OFFSET == "ignore"  # the recipe of the shipped files
    pairs = ("001", "171")  # 171's NDVI is offset from its LST (round 8's moved pairs)
    kw = {"with_truth": False, "stride": 160, "pair_ids": pairs, "val_pairs": ("001",)}
    tr_a, val_a, _ = recipe.disr_patches(shared_data / "modis_aster", **kw)
    tr_b, val_b, _ = recipe.disr_patches(shared_data / "modis_aster", guide_offset="auto", **kw)
    assert np.array_equal(val_a.guide.numpy(), val_b.guide.numpy())  # 001: not offset
    assert not np.allclose(tr_a.guide.numpy(), tr_b.guide.numpy(), equal_nan=True)  # 171 moved
    rec = recipe.guide_offset_record(shared_data / "modis_aster", pairs, "auto")
    assert rec["moved_pairs"] == ["171"]
    recipe.set_guide_offset("auto")
    try:
        assert recipe.GUIDE_OFFSET == "auto"
    finally:
        recipe.set_guide_offset("ignore")

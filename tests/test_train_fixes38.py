"""Validation patches kept apart from the training ones, and held-out / never-test ids that name
no window position (probe38t 03 and 04)."""

import warnings

import numpy as np
import pytest
import torch

import xlstsr
from xlstsr.nn import ResCNN
from xlstsr.train import (
    CubeDataModule,
    PatchDataModule,
    PositionSplit,
    degraded_pairs,
    fit,
    make_patches,
    split_by_scene,
    split_positions,
)


def _stack(n=4, seed=0):
    return 300 + np.random.default_rng(seed).normal(0, 2, (n, 32, 32)).astype("float32")


def _named(seed=0):
    return make_patches(**degraded_pairs(_stack(seed=seed), 4), factor=4, patch=16, stride=8,
                        scene_ids=list("abcd"))


def _said(caught, word):
    return [str(w.message) for w in caught if word in str(w.message)]


# -- 1. fit / PatchDataModule: validation on the training patches ----------------------------


def test_fit_warns_val_that_is_the_training_patches():
    ps = _named()
    # before: trained and early-stopped on the patches it trained on, without a word; warned,
    # not refused: overfitting one batch validated on itself is a legitimate check
    with pytest.warns(UserWarning, match=r"val is the training PatchSet.*split_by_scene.*"
                                         r"split_by_position.*val=None"):
        fit(ResCNN(4, channels=4, n_blocks=1), ps, ps, epochs=1)
    copy = ps.subset(np.arange(len(ps)))  # the same patches in another PatchSet
    with pytest.warns(UserWarning, match=rf"every one of the {len(ps)} validation patches is a "
                                         "training patch"):
        fit(ResCNN(4, channels=4, n_blocks=1), ps, copy, epochs=1)
    with pytest.warns(UserWarning, match="every one of the 2 validation patches"):
        fit(ResCNN(4, channels=4, n_blocks=1), ps, copy.subset([0, 3]), epochs=1)
    with pytest.warns(UserWarning, match="val is the training PatchSet"):
        PatchDataModule(ps, ps)


def test_val_sharing_scenes_with_train_warns_naming_them():
    ps = _named()
    idx = np.random.default_rng(0).permutation(len(ps))
    tr, va = ps.subset(idx[:-6]), ps.subset(idx[-6:])  # a random split by patch
    shared = sorted(set(tr.scene.tolist()) & set(va.scene.tolist()))
    assert shared
    with warnings.catch_warnings(record=True) as caught:
        warnings.simplefilter("always")
        PatchDataModule(tr, va)
    said = _said(caught, "share scene(s)")
    assert len(said) == 1 and str(shared) in said[0] and "split_by_scene" in said[0]
    # through fit too, before training (a warning: ids shared by different places are legal)
    torch.manual_seed(0)
    with warnings.catch_warnings(record=True) as caught:
        warnings.simplefilter("always")
        fit(ResCNN(4, channels=4, n_blocks=1), tr, va, epochs=1, batch_size=16)
    assert len(_said(caught, "share scene(s)")) == 1
    # some shared patches (val padded with training ones) are said
    with warnings.catch_warnings(record=True) as caught:
        warnings.simplefilter("always")
        t2, v2 = split_by_scene(ps, val_scenes=["d"])
        PatchDataModule(t2, xlstsr.train.PatchSet.concat([v2, t2.subset([0, 1])]))
    assert _said(caught, f"2 of the {len(v2) + 2} validation patches are training patches")


def test_val_apart_from_train_is_quiet():
    ps = _named()
    tr, va = split_by_scene(ps, val_scenes=["a"])
    # two stacks cut without scene_ids: their ids are positions in each stack, not places
    other = make_patches(**degraded_pairs(_stack(seed=1), 4), factor=4, patch=16, stride=8)
    own = make_patches(**degraded_pairs(_stack(seed=2), 4), factor=4, patch=16, stride=8)
    with warnings.catch_warnings(record=True) as caught:
        warnings.simplefilter("always")
        PatchDataModule(tr, va)
        PatchDataModule(own, other)
        PatchDataModule(tr, None)
    assert not _said(caught, "share scene") and not _said(caught, "training patches")


# -- 2. held_out / never_test ids that match no position ------------------------------------


def test_split_positions_warns_unknown_held_out_and_never_test_ids():
    ids = ["r0c0", "r0c1", "r1c0", "r1c1"]
    # before: 'R1C1' kept nothing out and r1c1 went to training without a word
    # warned, not refused: ids of ground outside these positions (a shared reserved list) are
    # legitimate, and are recorded as held out
    with pytest.warns(UserWarning, match=r"held_out id\(s\) \['R1C1'\] match no window position"
                                         r".*'r1c1'.*no position of these is kept out"):
        s = split_positions(ids, val_fraction=0.25, test_fraction=0.0, held_out=["R1C1"])
    assert s.held_out == ("R1C1",)
    with pytest.warns(UserWarning, match=r"never_test id\(s\) \['x'\]"):
        split_positions(ids, never_test=["x"])
    with pytest.warns(UserWarning, match=r"\['7'\] differ only in type"):
        split_positions(range(10), held_out=["7"])
    with pytest.warns(UserWarning, match=r"held_out id\(s\) \['R1C1'\] match no window"):
        s = split_positions(ids, val_fraction=0.25, test_fraction=0.0,
                            held_out=["r0c0", "R1C1"])
    assert "r0c0" in s.held_out and s.assign("r0c0") == "held_out"
    with pytest.warns(UserWarning, match=r"never_test id\(s\) \[99\]"):
        split_positions(range(10), never_test=[1, 99])
    with warnings.catch_warnings():
        warnings.simplefilter("error")
        split_positions(ids, held_out=["r1c1"], never_test=["r0c0"])  # known ids: quiet


@pytest.mark.filterwarnings("ignore:the split records no grid origin")
def test_cube_data_module_warns_unknown_held_out_ids():
    lst = xlstsr.datasets.modis_sample()["lst_day"].load()  # 64 x 64: 2 x 2 positions
    split = PositionSplit(train=("r0c0", "r0c1", "r1c1"), val=("r1c0",), held_out=("r1c2",))
    # before: trained on every position, the held-out one of another cube kept nothing out
    with pytest.warns(UserWarning, match=r"held_out id\(s\) \['r1c2'\] match no window "
                                         r"position.*'r\{row\}c\{col\}'.*'r1c1'"):
        CubeDataModule(lst, patch=16, split=split).setup("fit")
    split = PositionSplit(train=("r0c0", "r0c1"), val=("r1c0",), held_out=("r1c1", "r1c2"))
    dm = CubeDataModule(lst, patch=16, split=split)
    with pytest.warns(UserWarning, match=r"held_out id\(s\) \['r1c2'\] match no window"):
        dm.setup("fit")
    assert "r1c1" not in set(dm.train_set.scene) | set(dm.val_set.scene)


def test_fit_files_refuses_a_bundled_weights_name_before_reading(tmp_path):
    from xlstsr.errors import CheckpointError
    from xlstsr.train import fit_files

    # before: trained the whole run, then save_model refused 'rescnn' and the model was lost;
    # refused first, before the (here missing) input is even opened
    with pytest.raises(CheckpointError, match=r"out 'rescnn' is the name of bundled weights"):
        fit_files(str(tmp_path / "missing.zarr"), "rescnn")

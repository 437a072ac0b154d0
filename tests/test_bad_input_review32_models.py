"""Session-32 review of the checkpoint CRC check and upscale_to_zarr's keywords: files saved
without CRCs, Lightning checkpoints read for training, upscale_to_zarr's own mistyped arguments."""

from __future__ import annotations

import zipfile

import pytest
import torch
from helpers import damage_largest_entry

import xlstsr
from xlstsr.errors import CheckpointError, MethodOptionError
from xlstsr.nn.checkpoint import load_checkpoint, save_model


@pytest.fixture
def no_crc():
    if not hasattr(torch.serialization, "set_crc32_options"):
        pytest.skip("this torch cannot save without CRCs")
    torch.serialization.set_crc32_options(False)
    yield
    torch.serialization.set_crc32_options(True)


def test_a_file_saved_without_crcs_loads(tmp_path, no_crc):
    """torch >= 2.6 saves CRC 0 for every entry with set_crc32_options(False): it was refused
    as corrupt, and saving again writes the same file."""
    torch.manual_seed(0)
    p = save_model(xlstsr.nn.ResCNN(4, channels=4, n_blocks=1), tmp_path / "m.pt")
    with zipfile.ZipFile(p) as z:
        assert all(i.CRC == 0 for i in z.infolist() if i.file_size)
    assert load_checkpoint(p)["state_dict"]


def test_a_damaged_lightning_checkpoint_is_refused_where_training_reads_it(tmp_path):
    from xlstsr.train.loop import _read_training_file

    good = tmp_path / "last.ckpt"
    torch.save({"state_dict": {"model.w": torch.ones(4096)}, "epoch": 3}, good)
    assert _read_training_file(good, "resume")["epoch"] == 3
    bad = tmp_path / "bad.ckpt"
    damage_largest_entry(good, bad)
    assert torch.load(bad, weights_only=True)  # torch reads it without a word
    with pytest.raises(CheckpointError, match="CRC-32"):
        _read_training_file(bad, "resume")


@pytest.mark.parametrize(("kw", "fix"), [({"overwrite": True}, "mode='w'"),
                                         ({"time_chunks": 1}, "time_chunk=")])
def test_upscale_to_zarr_names_its_own_mistyped_argument(tmp_path, kw, fix):
    lst = xlstsr.datasets.sample_scene(n_times=1, size=32)["lst_1km"]
    store = tmp_path / "sr.zarr"
    with pytest.raises(MethodOptionError, match="upscale_to_zarr has no argument") as e:
        xlstsr.upscale_to_zarr(lst, store, 4, "bicubic", progress=False, **kw)
    assert fix in str(e.value)
    assert not store.exists()
    # an unknown word unlike its arguments is the method's to refuse, listing its options
    with pytest.raises(MethodOptionError, match="method 'bicubic' has no option 'conserve'"):
        xlstsr.upscale_to_zarr(lst, store, 4, "bicubic", progress=False, conserve=True)

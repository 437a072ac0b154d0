"""Review of probe 40's training guide_offset: the inputs record names where the guide lay, a
checkpoint from before training placed the guide (guide as stored) resumes with the default
settings, and a recorded placement tells a resume which guide_offset to pass."""

import logging
import warnings

import pytest
import rioxarray
import torch

from xlstsr.errors import XlstsrError
from xlstsr.train import CubeDataModule


@pytest.fixture(autouse=True)
def _one_thread():
    before = torch.get_num_threads()
    torch.set_num_threads(1)
    yield
    torch.set_num_threads(before)


@pytest.fixture(scope="module")
def pair_082(shared_data):
    folder = shared_data / "modis_aster"
    lst = rioxarray.open_rasterio(folder / "082_modis_lst_1km.tif").rename(band="time")
    ndvi = rioxarray.open_rasterio(folder / "082_modis_ndvi_250m.tif").squeeze("band", drop=True)
    return lst, ndvi


def _setup(lst, guide, **kw):
    dm = CubeDataModule(lst, guide=guide, mode="degraded_disr", patch=16, window=32,
                        batch_size=8, **kw)
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        dm.setup("fit")
    return dm


def test_old_checkpoint_resumes_with_the_guide_as_stored(pair_082, caplog):
    """Pair 082's NDVI is moved by the default: a checkpoint from before (guide as stored, no
    guide_offset in its record) was refused as trained on other data."""
    lst, ndvi = pair_082
    first = _setup(lst, ndvi, guide_offset="ignore")
    state = first.state_dict()
    assert state["inputs"]["guide_offset"] == {"mode": "ignore", "moved": False}
    del state["inputs"]["guide_offset"]  # as written before it was recorded
    resumed = _setup(lst, ndvi)
    assert resumed.guide_offset_record["moved"]
    with caplog.at_level(logging.WARNING, logger="xlstsr.train.cube"):
        resumed.load_state_dict(state)
    assert "used the guide as stored" in caplog.text
    rec = resumed.guide_offset_record
    assert rec["mode"] == "ignore" and not rec["moved"] and rec["given"] is None
    assert resumed.state_dict()["inputs"] == first.state_dict()["inputs"]
    assert torch.equal(resumed.train_set.guide, first.train_set.guide)


def test_recorded_placement_is_kept_and_named_on_resume(pair_082):
    lst, ndvi = pair_082
    auto = _setup(lst, ndvi)
    state = auto.state_dict()
    assert state["inputs"]["guide_offset"] == {"mode": "auto", "moved": True}
    # a recorded 'auto' run resumed with 'ignore': refused, naming the first run's value
    with pytest.raises(XlstsrError, match=r"guide_offset 'auto' \(moved by its measured "
                                          r"offset\).*pass guide_offset='auto'"):
        _setup(lst, ndvi, guide_offset="ignore").load_state_dict(state)
    # a recorded 'ignore' run is not switched silently by the default
    kept = _setup(lst, ndvi, guide_offset="ignore").state_dict()
    with pytest.raises(XlstsrError, match="pass guide_offset='ignore'"):
        _setup(lst, ndvi).load_state_dict(kept)
    # an old checkpoint resumed with an explicit guide_offset='auto': told what its run did
    del kept["inputs"]["guide_offset"]
    with pytest.raises(XlstsrError, match=r"before training placed the guide: its run used the "
                                          r"guide as stored.*pass guide_offset='ignore'"):
        _setup(lst, ndvi, guide_offset="auto").load_state_dict(kept)
    # the same run resumes
    _setup(lst, ndvi).load_state_dict(state)

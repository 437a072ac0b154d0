"""A resumed upscale_to_zarr's closing log counts every region without a valid pixel, those
the interrupted run recorded too (probe 45e2/01)."""

from __future__ import annotations

import logging
import re

import numpy as np
import pytest
import zarr

import xlstsr
from xlstsr.datasets import sample_scene
from xlstsr.kernels.interp import cubic_upsample
from xlstsr.methods.base import UpscaleMethod, register_method

CALLS = {"n": 0, "fail_at": 3}


class Flaky(UpscaleMethod):
    """Bicubic that fails at its ``fail_at``-th block (an interrupted run)."""

    def upscale_block(self, lst, valid, guide, factor):
        CALLS["n"] += 1
        if CALLS["n"] == CALLS["fail_at"]:
            raise RuntimeError("interrupted")
        return cubic_upsample(lst, factor)


def test_resume_log_counts_the_regions_without_data_of_both_runs(tmp_path, caplog,
                                                                  method_registry):
    register_method("flaky45")(Flaky)  # (registered for this test only)
    lst = sample_scene(n_times=8, size=32)["lst_1km"].copy()
    lst[1] = np.nan  # written by the first run, before it stops
    lst[5] = np.nan  # written by the resume
    store = tmp_path / "r.zarr"
    kw = dict(factor=2, method="flaky45", progress=False, regions_in_flight=1)
    CALLS.update(n=0, fail_at=3)
    with pytest.raises(RuntimeError, match="interrupted"):
        xlstsr.upscale_to_zarr(lst, store, time_chunk=1, **kw)
    CALLS.update(fail_at=-1)
    caplog.clear()
    with caplog.at_level(logging.INFO, logger="xlstsr"):
        xlstsr.upscale_to_zarr(lst, store, mode="resume", **kw)
    stored = int((zarr.open_group(store)["xlstsr_progress/done"][:] == 2).sum())
    assert stored == 2
    line = [r.getMessage() for r in caplog.records if "regions in" in r.getMessage()][-1]
    found = re.search(r"\((\d+) already done, (\d+) without valid pixels\)", line)
    assert found is not None, line
    assert int(found.group(1)) >= 1 and int(found.group(2)) == stored

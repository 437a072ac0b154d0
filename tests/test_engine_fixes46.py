"""Round 46 (probe 46U): the output's y/x kept the input's ``resolution`` attribute;
upscale_to_zarr's log ETA ignored the regions in flight."""

from __future__ import annotations

import logging
import re
import time
import types

import pytest

import xlstsr
from xlstsr.engine import to_zarr as tz

KW = dict(progress=False, regions_in_flight=1, time_chunk=1)


def test_output_coordinate_resolution_attr_is_the_new_pixel_size():
    lst = xlstsr.datasets.sample_scene(n_times=1, size=32)["lst_1km"].load()
    rx = float(lst.x[1] - lst.x[0])
    ry = float(lst.y[1] - lst.y[0])
    lst.x.attrs["resolution"], lst.y.attrs["resolution"] = rx, ry  # odc-stac's attrs
    up = xlstsr.upscale(lst, 4)
    assert up.x.attrs["resolution"] == pytest.approx(rx / 4)
    assert up.y.attrs["resolution"] == pytest.approx(ry / 4)
    down = lst.lstsr.coarsen(4)
    assert down.x.attrs["resolution"] == pytest.approx(rx * 4)
    assert down.y.attrs["resolution"] == pytest.approx(ry * 4)
    lst.x.attrs["resolution"] = "1 km"  # not a number: dropped, not carried wrong
    assert "resolution" not in xlstsr.upscale(lst, 4).x.attrs


def test_eta_counts_the_regions_in_flight(monkeypatch, tmp_path, caplog):
    """k regions run together and end together (a batch): the first line's ETA is one more
    batch, not k (elapsed / finished x left said 3x the remaining time)."""
    lst = xlstsr.datasets.sample_scene(n_times=4, size=16)["lst_1km"].load()
    clock = {"t": 0.0}
    fake = types.SimpleNamespace(perf_counter=lambda: clock["t"], time_ns=time.time_ns)
    monkeypatch.setattr(tz, "time", fake)  # the engine's clock only

    def batches(todo, write, mark, k):  # k regions start together, take 10 s, end together
        for j in range(0, len(todo), k):
            wave = todo[j:j + k]
            lazy = [write(i) for i in wave]
            clock["t"] += 10.0
            for i, w in zip(wave, lazy):
                mark(i, w.compute(scheduler="sync"))

    monkeypatch.setattr(tz, "run_regions", batches)
    with caplog.at_level(logging.INFO, logger=tz.log.name):
        xlstsr.upscale_to_zarr(lst, str(tmp_path / "e.zarr"), 2, progress=False,
                               regions_in_flight=2, time_chunk=1)
    etas = [int(m) for m in re.findall(r"done, ETA (\d+) s", caplog.text)]
    assert etas == [10, 10, 0, 0], etas  # the time left at each line (was 30, 10, 7, 0)

"""Round 46 (probe 46U): a cube with one step wholly out of range got advice that failed when
followed (mask_out_of_range, then refused; units for the whole cube); the output's y/x kept the
input's ``resolution`` attribute; upscale_to_zarr's log ETA ignored the regions in flight."""

from __future__ import annotations

import logging
import re
import time
import types

import numpy as np
import pandas as pd
import pytest
import xarray as xr
from helpers import paste_da_advice

import xlstsr
from xlstsr.engine import to_zarr as tz
from xlstsr.errors import PhysicalRangeError

KW = dict(progress=False, regions_in_flight=1, time_chunk=1)


def _cube(bad: str) -> xr.DataArray:
    lst = xlstsr.datasets.sample_scene(n_times=3, size=32)["lst_1km"].load()
    lst = lst.astype(np.float32)
    if bad == "degC":  # one date stored in degrees Celsius
        lst[1] = lst[1] - np.float32(273.15)
    else:  # one missing date written as uint16's 65535 x 0.02, undeclared
        lst[1] = lst[1] * 0 + np.float32(1310.7)
    return lst


def _label(lst: xr.DataArray) -> str:
    return pd.Timestamp(lst.time.values[1]).isoformat()


@pytest.mark.parametrize("bad", ["degC", "fill"])
@pytest.mark.parametrize("mask", [False, True])
def test_step_wholly_out_of_range_is_named_and_its_advice_runs(bad, mask, tmp_path):
    lst = _cube(bad)
    with pytest.raises(PhysicalRangeError) as e:
        xlstsr.upscale(lst, 2, mask_out_of_range=mask)
    msg = str(e.value)
    assert f"time='{_label(lst)}'" in msg  # the step at fault, named
    assert "pass `mask_out_of_range=True`" not in msg  # refused when followed
    fixed = paste_da_advice(msg, lst)  # drop_sel of that date
    assert fixed.sizes["time"] == 2
    out = xlstsr.upscale(fixed, 2, mask_out_of_range=mask)
    assert np.isfinite(out.values).any(axis=(1, 2)).all()  # both steps kept (some cloud)
    # the same refusal while streaming (per region), and its advice runs there too
    with pytest.raises(PhysicalRangeError, match=re.escape(_label(lst))):
        xlstsr.upscale_to_zarr(lst.chunk({"time": 1}), str(tmp_path / "a.zarr"), 2,
                               mask_out_of_range=mask, **KW)
    z = xlstsr.upscale_to_zarr(fixed.chunk({"time": 1}), str(tmp_path / "b.zarr"), 2,
                               mask_out_of_range=mask, **KW)
    np.testing.assert_allclose(z.values, out.values, atol=1e-4)  # NaN where NaN


def test_constant_step_fill_advice_runs():
    lst = _cube("fill")
    with pytest.raises(PhysicalRangeError) as e:
        xlstsr.upscale(lst, 2)
    code = re.search(r"`(da\.attrs\['_FillValue'\] = [^`]+)`", str(e.value))
    assert code, str(e.value)
    da = lst.copy()
    exec(code.group(1), {"da": da, "np": np})
    out = xlstsr.upscale(da, 2)
    assert np.isnan(out.values[1]).all()  # the missing date: all gaps
    assert np.isfinite(out.values[[0, 2]]).any(axis=(1, 2)).all()


def test_a_whole_cube_out_of_range_is_told_its_cause_first():
    """Lead review of 46U: every step in degC is the common case: its units advice leads; the
    drop of one step is not offered where no other step is in range (probe 50 R1/6: followed,
    the next step was refused the same way)."""
    lst = _cube("degC")
    lst = lst - np.float32(273.15) * (lst.time != lst.time[1])  # every step in degC
    with pytest.raises(PhysicalRangeError) as e:
        xlstsr.upscale(lst, 2)
    msg = str(e.value)
    assert "degC" in msg and "drop it instead" not in msg, msg


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


def test_each_check_task_carries_only_its_own_steps_names():
    """Read-through 46h/1: every verdict task carried the whole cube's step names (641 KB a
    task at 8000 steps, 5 GB pickled in all): a task's size must not grow with the steps."""
    import pickle

    import dask.array as dsa

    from xlstsr.validate import decode_lst

    def biggest_task(n: int) -> int:
        data = 300.0 + dsa.random.random((n, 8, 8), chunks=(1, 8, 8))
        da = xr.DataArray(data, dims=("time", "y", "x"), attrs={"units": "K"}, coords={
            "time": pd.date_range("2000-01-01", periods=n), "y": np.arange(8.0)[::-1] * 1e3,
            "x": np.arange(8.0) * 1e3}).rio.write_crs("EPSG:32631")
        graph = dict(decode_lst(da).data.__dask_graph__())
        return max(len(pickle.dumps(v)) for v in graph.values())

    assert biggest_task(1000) < 2 * biggest_task(50)

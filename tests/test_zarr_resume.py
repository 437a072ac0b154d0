"""Streaming Zarr output: refusal to overwrite, resume after a kill, identical final store."""

from __future__ import annotations

import json
import os
import signal
import subprocess
import sys
import textwrap
import time
from pathlib import Path

import numpy as np
import pytest
import xarray as xr
import zarr
from helpers import make_lst, restore_method_registry

import xlstsr
from xlstsr.errors import XlstsrError

SLOW_METHOD = '''
import time
from xlstsr.methods import get_method
from xlstsr.methods.base import UpscaleMethod, register_method

@register_method("slow_bicubic")
class SlowBicubic(UpscaleMethod):
    """Bicubic that sleeps, to be killed mid-run; counts the images it upscaled."""
    calls = 0
    delay = 0.0

    def upscale_block(self, lst, valid, guide, factor):
        type(self).calls += lst.shape[0]
        time.sleep(self.delay)
        return get_method("bicubic").upscale_block(lst, valid, guide, factor)
'''


@pytest.fixture(scope="module")
def slow_bicubic():
    """The class the subprocess defines, registered in this process for this module only."""
    with restore_method_registry():
        ns: dict = {}
        exec(SLOW_METHOD, ns)  # the same class in this process and in the subprocess
        yield ns["SlowBicubic"]


N_T = 8


@pytest.fixture
def source(tmp_path) -> Path:
    rng = np.random.default_rng(5)
    v = rng.uniform(280, 320, (N_T, 12, 12)).astype(np.float32)
    v[2, 3:8, 2:9] = np.nan
    da = make_lst(v, units="K").assign_coords(time=np.arange(N_T))
    path = tmp_path / "src.zarr"
    da.to_dataset(name="lst").to_zarr(path, zarr_format=3, consolidated=False)
    return path


def _done(store: Path) -> np.ndarray:
    return np.asarray(zarr.open_array(store, path="xlstsr_progress/done", mode="r")[:])


def test_refuses_to_overwrite_and_mode_w_overwrites(source, tmp_path):
    store = tmp_path / "out.zarr"
    xlstsr.upscale_to_zarr(source, store, 2, time_chunk=3, progress=False)
    with pytest.raises(XlstsrError, match="exists"):
        xlstsr.upscale_to_zarr(source, store, 2, time_chunk=3, progress=False)
    other = tmp_path / "not_ours.zarr"
    other.mkdir()
    (other / "precious.txt").write_text("keep me")
    with pytest.raises(XlstsrError, match="exists"):
        xlstsr.upscale_to_zarr(source, other, 2, progress=False)
    with pytest.raises(XlstsrError, match="not written by upscale_to_zarr"):
        xlstsr.upscale_to_zarr(source, other, 2, mode="resume", progress=False)
    assert (other / "precious.txt").read_text() == "keep me"
    out = xlstsr.upscale_to_zarr(source, store, 2, method="nearest", mode="w", progress=False)
    assert out.attrs["xlstsr_method"] == "nearest"


def test_resume_refuses_other_arguments(source, tmp_path):
    store = tmp_path / "out.zarr"
    xlstsr.upscale_to_zarr(source, store, 2, time_chunk=2, progress=False)
    for kwargs in ({"method": "nearest"}, {"time_chunk": 4}):
        args = {"time_chunk": 2, **kwargs}
        with pytest.raises(XlstsrError, match="different arguments"):
            xlstsr.upscale_to_zarr(source, store, 2, mode="resume", progress=False, **args)
    with pytest.raises(XlstsrError, match="different arguments"):  # another input
        ds = xr.open_zarr(source, consolidated=False, decode_coords="all")
        xlstsr.upscale_to_zarr(
            ds.isel(time=slice(0, 4)), store, 2, mode="resume", time_chunk=2, progress=False
        )


@pytest.mark.slow  # a subprocess killed mid-run
def test_resume_after_kill_matches_uninterrupted_run(source, tmp_path, slow_bicubic):
    SlowBicubic = slow_bicubic
    store = tmp_path / "killed.zarr"
    script = SLOW_METHOD + textwrap.dedent(f"""
        import xlstsr
        SlowBicubic.delay = 0.4
        xlstsr.upscale_to_zarr({str(source)!r}, {str(store)!r}, 2, method="slow_bicubic",
                               time_chunk=1, progress=False)
    """)
    env = {**os.environ, "PYTHONPATH": str(Path(xlstsr.__file__).parents[1])}
    proc = subprocess.Popen([sys.executable, "-c", script], env=env)
    try:
        deadline = time.monotonic() + 60
        while time.monotonic() < deadline:
            if (store / "xlstsr_progress" / "done" / "zarr.json").exists() and _done(
                store
            ).sum() >= 2:
                break
            assert proc.poll() is None, "the run ended before it could be killed"
            time.sleep(0.05)
        proc.send_signal(signal.SIGKILL)
        proc.wait(10)
    finally:
        if proc.poll() is None:
            proc.kill()
    done_before = _done(store).astype(bool)
    assert 2 <= done_before.sum() < N_T, "the kill should land mid-run"
    with pytest.raises(XlstsrError, match="exists"):  # default mode never touches it
        xlstsr.upscale_to_zarr(
            source, store, 2, method="slow_bicubic", time_chunk=1, progress=False
        )

    SlowBicubic.calls, SlowBicubic.delay = 0, 0.0
    out = xlstsr.upscale_to_zarr(
        source, store, 2, method="slow_bicubic", time_chunk=1, mode="resume", progress=False
    )
    # only the missing regions were computed (a region in flight at the kill is redone)
    assert SlowBicubic.calls == N_T - done_before.sum()
    assert _done(store).all()

    ref_store = tmp_path / "ref.zarr"
    ref = xlstsr.upscale_to_zarr(
        source, ref_store, 2, method="slow_bicubic", time_chunk=1, progress=False
    )
    xr.testing.assert_identical(out.to_dataset(), ref.to_dataset())
    a = json.loads((store / "zarr.json").read_text())
    b = json.loads((ref_store / "zarr.json").read_text())
    assert a == b
    # and it equals in-memory inference
    lst = xr.open_zarr(source, consolidated=False, decode_coords="all")["lst"]
    np.testing.assert_array_equal(out.values, xlstsr.upscale(lst, 2).values)
    # resuming a complete store computes nothing
    SlowBicubic.calls = 0
    xlstsr.upscale_to_zarr(
        source, store, 2, method="slow_bicubic", time_chunk=1, mode="resume", progress=False
    )
    assert SlowBicubic.calls == 0


def test_memory_is_per_region_and_output_is_georeferenced(source, tmp_path):
    out = xlstsr.upscale_to_zarr(source, tmp_path / "o.zarr", 2, time_chunk=3, progress=False)
    assert out.encoding["chunks"][0] == 3
    assert out.rio.crs is not None and out.rio.resolution() == (500.0, -500.0)
    assert out.attrs["units"] == "K"


def test_upscale_keywords_pass_through_and_enter_the_fingerprint(tmp_path):
    v = np.full((2, 6, 6), 300.0, np.float32)
    v[1, 2, 3] = 500.0  # out of the physical range
    da = make_lst(v, units="K").assign_coords(time=[0, 1])
    with pytest.raises(XlstsrError, match="physical range"):
        xlstsr.upscale_to_zarr(da, tmp_path / "a.zarr", 2, time_chunk=1, progress=False)
    out = xlstsr.upscale_to_zarr(
        da, tmp_path / "b.zarr", 2, time_chunk=1, progress=False, mask_out_of_range=True
    )
    assert np.isnan(out.values[1, 4:6, 6:8]).all() and np.isfinite(out.values[0]).all()
    with pytest.raises(XlstsrError, match="upscale_options"):
        xlstsr.upscale_to_zarr(
            da, tmp_path / "b.zarr", 2, time_chunk=1, progress=False, mode="resume"
        )


def test_output_compression_default_and_override(tmp_path):
    import zarr

    import xlstsr

    lst = xlstsr.datasets.sample_scene(n_times=1, size=32)["lst_1km"]
    xlstsr.upscale_to_zarr(lst, tmp_path / "a.zarr", factor=4, progress=False)
    (codec,) = zarr.open_group(tmp_path / "a.zarr")["lst_1km"].compressors
    assert type(codec).__name__ == "BloscCodec" and codec.cname.value == "lz4"
    xlstsr.upscale_to_zarr(lst, tmp_path / "b.zarr", factor=4, progress=False, compressors=None)
    assert zarr.open_group(tmp_path / "b.zarr")["lst_1km"].compressors == ()
    with pytest.raises(ValueError, match="compressors"):
        xlstsr.upscale_to_zarr(lst, tmp_path / "c.zarr", factor=4, progress=False, compressors="fast")


def test_regions_are_logged_with_time_and_cloudy_ones_counted(tmp_path, caplog):
    import logging

    da = xlstsr.datasets.sample_scene(n_times=3, size=32, seed=1)["lst_1km"].copy()
    da[1] = np.nan  # a fully cloudy day
    with caplog.at_level(logging.INFO, logger="xlstsr.engine.to_zarr"):
        xlstsr.upscale_to_zarr(da, tmp_path / "c.zarr", 2, time_chunk=1, progress=False)
    lines = [r.getMessage() for r in caplog.records]
    assert sum("written in" in m for m in lines) == 3
    assert sum("no valid pixel" in m for m in lines) == 1
    assert "1 without valid pixels" in lines[-1]


def test_overwrite_leaves_no_stale_chunk_where_the_new_input_is_all_cloud(tmp_path):
    # mode="w" over an earlier run's store must not keep that run's values where the new input
    # has no valid pixel (whether the engine writes all-NaN chunks or zarr leaves them out)
    da = xlstsr.datasets.sample_scene(n_times=2, size=32, seed=1)["lst_1km"]
    xlstsr.upscale_to_zarr(da, tmp_path / "s.zarr", 2, time_chunk=1, progress=False)
    cloudy = da.copy()
    cloudy[1] = np.nan
    out = xlstsr.upscale_to_zarr(cloudy, tmp_path / "s.zarr", 2, time_chunk=1, progress=False,
                                 mode="w")
    assert np.isnan(out[1].values).all() and np.isfinite(out[0].values).any()


def test_holds_data_finds_a_value_in_the_last_slab_only():
    from xlstsr.engine.to_zarr import holds_data

    block = np.full((2, 200, 30), np.nan, np.float32)
    assert not holds_data(block)
    block[1, 199, 29] = 290.0
    assert holds_data(block) and holds_data(block, rows=7)
    assert holds_data(np.array([np.nan, 1.0])) and not holds_data(np.array([np.inf, np.nan]))


def test_a_store_started_by_a_run_refused_while_computing_is_removed(tmp_path):
    # Celsius labelled K on a dask input: the value check runs with the first region, after the
    # template was written; nothing finished, so the store goes and a corrected rerun needs no
    # mode="w"
    lst = xlstsr.datasets.sample_scene(n_times=2, size=32, seed=1)["lst_1km"].chunk({"time": 1})
    bad = (lst - 273.15).assign_attrs(units="K")
    with pytest.raises(XlstsrError, match="Celsius"):
        xlstsr.upscale_to_zarr(bad, tmp_path / "c.zarr", 2, time_chunk=1, progress=False)
    assert not (tmp_path / "c.zarr").exists()
    out = xlstsr.upscale_to_zarr(lst, tmp_path / "c.zarr", 2, time_chunk=1, progress=False)
    assert np.isfinite(out.values).any()


def test_a_refused_run_keeps_a_store_it_did_not_start(tmp_path):
    lst = xlstsr.datasets.sample_scene(n_times=2, size=32, seed=1)["lst_1km"].chunk({"time": 1})
    xlstsr.upscale_to_zarr(lst, tmp_path / "k.zarr", 2, time_chunk=1, progress=False)
    bad = (lst - 273.15).assign_attrs(units="K")
    with pytest.raises(XlstsrError, match="different arguments or input"):
        xlstsr.upscale_to_zarr(bad, tmp_path / "k.zarr", 2, time_chunk=1, progress=False,
                               mode="resume")
    assert (tmp_path / "k.zarr").exists()


def test_an_input_without_any_valid_pixel_is_refused_and_leaves_no_store(tmp_path):
    from xlstsr.errors import AllNaNError

    lst = xlstsr.datasets.sample_scene(n_times=2, size=32, seed=1)["lst_1km"].chunk({"time": 1})
    with pytest.raises(AllNaNError, match="no valid pixel in any of its 2 time block"):
        xlstsr.upscale_to_zarr(lst * np.nan, tmp_path / "n.zarr", 2, time_chunk=1, progress=False)
    assert not (tmp_path / "n.zarr").exists()

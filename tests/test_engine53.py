"""Streaming engine and readers (probe 53 r2): a mode="w-" run on a path an interrupted overwrite
had left free (its unfinished store removed) - or a resume started afresh there - was advised
to rename the set-aside result back onto the path its own result then held (OSError: not
empty); a set-aside store named with this process's pid, or a pid a later process was given
(a container's PID 1), was taken for a run going on and never named; open_modis named a
granule listed once as a path and once as a file:// URL "twice", and its de-duplication advice
kept both; coarsen called its LST "the source"; open_zarr told an unfinished store to be
completed without naming the finished result it had replaced."""

import os
import re
import subprocess
import sys
import time
import warnings
from pathlib import Path

import numpy as np
import pytest
import xarray as xr
from helpers import GRANULE, make_lst, unfinished_store

import xlstsr
from xlstsr.errors import XlstsrError
from xlstsr.io.zarr import _process_start


def _cube(n_t: int = 2, size: int = 16) -> xr.DataArray:
    rng = np.random.default_rng(0)
    base = 290 + rng.standard_normal((size, size)).cumsum(0) / 6
    v = np.stack([base + 0.05 * i for i in range(n_t)]).astype("float32")
    return make_lst(v, units="K").assign_coords(time=np.arange(n_t))


def _dead_pid() -> int:
    proc = subprocess.Popen([sys.executable, "-c", "pass"])
    proc.wait()
    return proc.pid


def _values(store: Path) -> np.ndarray:
    ds = xr.open_zarr(store, consolidated=False)
    return next(v for v in ds.data_vars.values() if v.ndim == 3).values


def _refused_run(p: Path):
    """A call on ``p`` that writes nothing (its time_chunk refused)."""
    def run():
        with pytest.raises(XlstsrError, match="time_chunk"):
            xlstsr.upscale_to_zarr(_cube(), p, 4, progress=False, time_chunk=0)
    return run


def _set_aside_result(tmp_path: Path, who: str) -> tuple[Path, Path, np.ndarray]:
    """A finished store of ``_cube()`` at ``out.zarr``, moved where a killed mode='w' run of
    process ``who`` (``<pid>`` or ``<pid>-<start>``) set it aside."""
    p = tmp_path / "out.zarr"
    first = xlstsr.upscale_to_zarr(_cube(), p, 4, progress=False).values
    aside = tmp_path / f".out.zarr.replaced-{who}-{time.time_ns()}"
    os.rename(p, aside)
    return p, aside, first


def _left_aside_warnings(run) -> list[str]:
    with warnings.catch_warnings(record=True) as w:
        warnings.simplefilter("always")
        run()
    return [str(m.message) for m in w if "replaced-" in str(m.message)]


# -- 1. every mode that writes its result at the path is advised a path of its own --------------

@pytest.mark.parametrize("mode, folder", [("w-", False), ("w-", True), ("resume", False)])
def test_a_run_on_a_freed_path_advises_a_path_of_its_own_for_the_set_aside_result(
        tmp_path, mode, folder):
    p, aside, first = _set_aside_result(tmp_path, str(_dead_pid()))
    if folder:
        p.mkdir()  # an empty folder: no store, written into
    said = _left_aside_warnings(
        lambda: xlstsr.upscale_to_zarr(_cube() + 5, p, 4, mode=mode, progress=False))
    assert len(said) == 1 and f"(mode={mode!r})" in said[0], said
    code = re.findall(r"`(import os[^`]*)`", said[0])
    assert code, said[0]
    exec(code[0], {})  # as the user would follow it, after the run
    assert not aside.exists()
    kept = next(tmp_path.glob("out.earlier-*.zarr"))
    np.testing.assert_array_equal(_values(kept), first)
    np.testing.assert_allclose(_values(p), first + 5, atol=1e-3)  # this run's result stays


# -- 2. a set-aside store's writer told by its pid and start time -----------------------------

def test_a_store_set_aside_under_this_process_pid_is_named(tmp_path):
    # the killed run's pid given to this process (a container's PID 1, a batch job's pid)
    p, aside, _ = _set_aside_result(tmp_path, str(os.getpid()))
    said = _left_aside_warnings(_refused_run(p))
    assert len(said) == 1 and str(aside) in said[0] and "(a finished result)" in said[0]


def test_a_store_set_aside_by_an_earlier_process_of_a_live_pid_is_named(tmp_path):
    other = subprocess.Popen([sys.executable, "-c", "import time; time.sleep(60)"])
    try:
        start = round(_process_start(other.pid))
        p, aside, _ = _set_aside_result(tmp_path, f"{other.pid}-{start - 1000}")
        said = _left_aside_warnings(_refused_run(p))
        assert len(said) == 1 and str(aside) in said[0], said
        # the same pid with its own start time: a run going on, not named
        running = aside.with_name(f".out.zarr.replaced-{other.pid}-{start}-{time.time_ns()}")
        os.rename(aside, running)
        assert not _left_aside_warnings(_refused_run(p))
    finally:
        other.kill()
        other.wait()


def test_an_overwrite_names_the_store_it_sets_aside_with_its_start_time(tmp_path, monkeypatch):
    import xlstsr.engine.to_zarr as tz

    p = tmp_path / "out.zarr"
    xlstsr.upscale_to_zarr(_cube(), p, 4, progress=False)
    names = []
    real = tz._set_aside

    def spy(store):
        aside = real(store)
        names.append(aside.name)
        raise RuntimeError("stopped after the set-aside")

    monkeypatch.setattr(tz, "_set_aside", spy)
    with pytest.raises(RuntimeError, match="stopped"):
        xlstsr.upscale_to_zarr(_cube() + 5, p, 4, mode="w", progress=False)
    pid, start, _ = names[0].rsplit("replaced-", 1)[1].split("-")
    assert int(pid) == os.getpid()
    assert abs(int(start) - _process_start(os.getpid())) <= 1


# -- 3. open_modis: a granule listed as a path and as a file:// URL --------------------------

def _dedup(msg: str, files: list) -> list:
    code = re.search(r"`(import os; from xlstsr[^`]*)`", msg)
    assert code, msg
    ns = {"files": files}  # as a user without `import os` would run it
    exec(code.group(1), ns)
    return ns["files"]


@pytest.mark.parametrize("first_as_url", [False, True])
def test_a_granule_listed_as_path_and_url_is_named_as_given_and_the_advice_keeps_the_first(
        tmp_path, first_as_url):
    from xlstsr.io import open_modis

    f = tmp_path / "MOD11A1.A2020001.h18v04.061.2020002000000.hdf"
    f.write_bytes(b"")  # refused before any read
    files = [f.as_uri(), str(f)] if first_as_url else [str(f), f.as_uri()]
    with pytest.raises(XlstsrError) as err:
        open_modis(files)
    msg = str(err.value)
    assert f"{files[0]} and {files[1]}, the same file" in msg
    assert _dedup(msg, files) == files[:1]


def test_the_de_duplication_advice_opens_the_real_granule(real_granule):
    from xlstsr.io import open_modis

    files = [str(real_granule), real_granule.as_uri()]
    with pytest.raises(XlstsrError) as err:
        open_modis(files)
    kept = _dedup(str(err.value), files)
    assert kept == [str(real_granule)]
    assert open_modis(kept, chunks={}).sizes["time"] == 1
    assert GRANULE in str(real_granule)


# -- 4. messages about unfinished stores -------------------------------------------------------

def test_coarsen_calls_an_unfinished_stores_variable_the_lst(tmp_path):
    store = unfinished_store(_cube(4).chunk(time=1), tmp_path / "u.zarr")
    da = xr.open_zarr(store, consolidated=False, decode_coords="all")
    lst = next(v for v in da.data_vars.values() if v.ndim == 3)
    with pytest.raises(XlstsrError, match=r"^the LST is read from"):
        xlstsr.coarsen(lst, 4)


def test_open_zarr_names_the_result_an_interrupted_overwrite_set_aside(tmp_path):
    p, aside, first = _set_aside_result(tmp_path, str(_dead_pid()))
    unfinished_store(_cube().chunk(time=1) + 5, p, crash_at=1)  # the killed run's own store
    with pytest.raises(XlstsrError, match="incomplete") as err:
        xlstsr.io.open_zarr(p)
    msg = str(err.value)
    assert f"kept, hidden, at {aside} (a finished result)" in msg
    exec(re.findall(r"`(import os[^`]*)`", msg)[0], {})
    np.testing.assert_array_equal(_values(p), first)
    assert xlstsr.io.open_zarr(p) is not None  # restored: finished

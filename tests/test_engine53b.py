"""Set-aside stores and repeated granules (review of session 53): open_zarr and upscale_to_zarr
advised `shutil.rmtree(OUT); os.rename(ASIDE, OUT)` for the finished result an interrupted
overwrite set aside while another process (a resume) was writing OUT - followed, it deleted
that run's work; open_modis on a glob pattern matching a granule and a link to it advised the
de-duplication of a list, which run on the pattern's string split it into characters; that
advice used `os` without importing it; to_cogs called its array "the source"."""

import glob
import os
import re
import socket
import subprocess
import sys
import time
import warnings
from pathlib import Path

import numpy as np
import pytest
import xarray as xr
import zarr
from helpers import unfinished_store
from test_engine53 import _cube, _dead_pid, _values

import xlstsr
from xlstsr.errors import XlstsrError
from xlstsr.io.zarr import WRITER_ATTR, _process_start


@pytest.fixture
def resumed_over_aside(tmp_path):
    """A finished result at out.zarr set aside by a killed mode='w' run (a dead pid), and at
    out.zarr an unfinished store a live process (a resume) is recorded as writing."""
    p = tmp_path / "out.zarr"
    first = xlstsr.upscale_to_zarr(_cube(), p, 4, progress=False).values
    aside = tmp_path / f".out.zarr.replaced-{_dead_pid()}-{time.time_ns()}"
    os.rename(p, aside)
    unfinished_store(_cube(4).chunk(time=1) + 5, p)
    live = subprocess.Popen([sys.executable, "-c", "import time; time.sleep(60)"])
    try:
        root = zarr.open_group(str(p), mode="r+")
        root.attrs[WRITER_ATTR] = {"host": socket.gethostname(), "pid": live.pid,
                                   "process_start": _process_start(live.pid)}
        yield p, aside, first, live.pid
    finally:
        live.kill()
        live.wait()


def _no_removal_of(p: Path, msg: str) -> None:
    assert "rmtree" not in msg.split("or delete it")[0], msg  # (the copy's own removal: fine)
    assert f"rmtree({str(p)!r})" not in msg, msg


def _follow_move(msg: str, p: Path, first: np.ndarray) -> None:
    code = re.findall(r"`(import os; os\.rename[^`]*)`", msg)
    assert code, msg
    exec(code[0], {})
    np.testing.assert_array_equal(_values(next(p.parent.glob("out.earlier-*.zarr"))), first)
    assert zarr.open_group(str(p), mode="r").attrs[WRITER_ATTR]  # the running store untouched


def test_open_zarr_advises_no_restore_over_a_store_a_live_process_writes(resumed_over_aside):
    p, aside, first, pid = resumed_over_aside
    with pytest.raises(XlstsrError, match="incomplete") as err:
        xlstsr.io.open_zarr(p)
    msg = str(err.value)
    assert str(aside) in msg and f"only once process {pid} has finished" in msg
    assert "that run (mode='w')" not in msg  # the writer now is not the run that set it aside
    assert "mode='resume'" not in msg  # (refused while that process writes)
    _no_removal_of(p, msg)
    _follow_move(msg, p, first)


@pytest.mark.parametrize("mode", ["w-", "w", "resume"])
def test_upscale_to_zarr_warns_no_restore_over_a_store_a_live_process_writes(
        resumed_over_aside, mode):
    p, aside, first, pid = resumed_over_aside
    with warnings.catch_warnings(record=True) as w:
        warnings.simplefilter("always")
        with pytest.raises(XlstsrError, match=f"being written now .*process {pid}"):
            xlstsr.upscale_to_zarr(_cube(), p, 4, mode=mode, progress=False)
    said = [str(m.message) for m in w if "replaced-" in str(m.message)]
    assert len(said) == 1 and str(aside) in said[0], said
    assert f"only once process {pid} has finished" in said[0]
    _no_removal_of(p, said[0])
    _follow_move(said[0], p, first)


def test_latest_finished_aside_skips_a_later_unfinished_copy(tmp_path):
    from xlstsr.io.zarr import latest_finished_aside

    p = tmp_path / "out.zarr"
    xlstsr.upscale_to_zarr(_cube(), p, 4, progress=False)
    done = tmp_path / f".out.zarr.replaced-{_dead_pid()}-1"
    os.rename(p, done)
    unfinished_store(_cube(4).chunk(time=1), tmp_path / ".out.zarr.replaced-1-2")
    asides = [done, tmp_path / ".out.zarr.replaced-1-2"]
    assert latest_finished_aside(p, asides) == done
    assert latest_finished_aside(p, asides[1:]) is None


# -- open_modis: a pattern matching a granule and a link to it ---------------------------------

def _pattern_and_link(folder: Path, granule: Path) -> str:
    (folder / granule.name.replace(".hdf", ".link.hdf")).symlink_to(granule)
    return str(folder / (granule.name.split(".h")[0] + "*.hdf"))


def _glob_advice(pattern: str) -> list:
    from xlstsr.io import open_modis

    with pytest.raises(XlstsrError, match=r"the pattern .* matches") as err:
        open_modis(pattern)
    code = re.search(r"`(import glob, os;[^`]*)`", str(err.value))
    assert code, str(err.value)
    ns: dict = {}
    exec(code.group(1), ns)  # as a user would, nothing imported
    return ns["files"]


def test_a_pattern_matching_a_granule_and_its_link_is_advised_a_glob(tmp_path):
    g = tmp_path / "MOD11A1.A2020001.h18v04.061.2020002000000.hdf"
    g.write_bytes(b"")  # refused before any read
    files = _glob_advice(_pattern_and_link(tmp_path, g))
    assert len(files) == 1 and os.path.realpath(files[0]) == str(g)


def test_the_pattern_advice_opens_the_real_granule(real_granule, tmp_path):
    from xlstsr.io import open_modis

    g = tmp_path / real_granule.name
    g.symlink_to(real_granule)
    files = _glob_advice(_pattern_and_link(tmp_path, g))
    assert open_modis(files, chunks={}).sizes["time"] == 1


def test_the_list_advice_runs_without_an_import_of_os(tmp_path):
    from xlstsr.io import open_modis

    g = tmp_path / "MOD11A1.A2020001.h18v04.061.2020002000000.hdf"
    g.write_bytes(b"")
    files = [g, g.as_uri()]  # a pathlib user: no `import os`
    with pytest.raises(XlstsrError, match="De-duplicate") as err:
        open_modis(files)
    code = re.search(r"`(import os; from xlstsr[^`]*)`", str(err.value))
    assert code, str(err.value)
    ns = {"files": files}
    exec(code.group(1), ns)
    assert ns["files"] == [g]
    assert glob.glob(str(tmp_path / "*.hdf")) == [str(g)]  # nothing removed


# -- to_cogs: what it calls its array -----------------------------------------------------------

def test_to_cogs_calls_an_unfinished_stores_variable_its_array(tmp_path):
    store = unfinished_store(_cube(4).chunk(time=1), tmp_path / "u.zarr")
    ds = xr.open_zarr(store, consolidated=False, decode_coords="all")
    lst = next(v for v in ds.data_vars.values() if v.ndim == 3)
    with pytest.raises(XlstsrError, match=r"^the array given to to_cogs is read from"):
        xlstsr.io.to_cogs(lst, tmp_path / "cogs")

"""upscale_to_zarr: local store objects get the checks of a path (probe 37z), and a new store is
claimed by one run only, whose writer stamp is read back before it marks a region or the store
(probe 37r: two runs started together on one output both "finished" a store mixing them)."""
import json
import os
import subprocess
import sys
import textwrap

import dask
import dask.array as dsa
import numpy as np
import pytest
import xarray as xr
import zarr

import xlstsr
from xlstsr.errors import XlstsrError


@pytest.fixture(scope="module")
def lst():
    return xlstsr.datasets.modis_sample()["lst_day"].isel(
        time=slice(0, 2), y=slice(0, 16), x=slice(0, 16)).load()


@pytest.fixture(autouse=True)
def synchronous():
    with dask.config.set(scheduler="synchronous"):
        yield


def _user_folder(path):
    os.makedirs(path)
    with open(os.path.join(path, "thesis.docx"), "w") as f:
        f.write("years of work")
    return str(path)


@pytest.mark.parametrize("mode", ["w", "w-", "resume"])
@pytest.mark.parametrize("kind", ["LocalStore", "FsspecStore"])
def test_local_store_object_over_a_folder_of_files_is_refused(lst, tmp_path, kind, mode):
    folder = _user_folder(tmp_path / "mine")
    store = (zarr.storage.LocalStore(folder) if kind == "LocalStore"
             else zarr.storage.FsspecStore.from_url("file://" + folder))
    with pytest.raises(XlstsrError, match="other files"):
        xlstsr.upscale_to_zarr(lst, store, factor=2, mode=mode, progress=False)
    assert sorted(os.listdir(folder)) == ["thesis.docx"]


def test_failed_run_on_local_store_object_keeps_the_users_files(lst, tmp_path):
    # default mode: the folder was taken for a new store, then emptied when the run failed
    folder = _user_folder(tmp_path / "mine")
    cloudy = lst.chunk({"time": 1}) * np.nan
    cloudy.attrs = lst.attrs
    with pytest.raises(XlstsrError):
        xlstsr.upscale_to_zarr(cloudy, zarr.storage.LocalStore(folder), factor=2, progress=False)
    assert sorted(os.listdir(folder)) == ["thesis.docx"]


def test_local_store_object_on_an_array_of_another_store_is_refused(lst, tmp_path):
    s = xlstsr.datasets.modis_sample()[["ndvi", "red"]].isel(
        time=slice(0, 2), y=slice(0, 16), x=slice(0, 16))
    user = tmp_path / "user.zarr"
    s.to_zarr(user, zarr_format=3, consolidated=False)
    with pytest.raises(XlstsrError, match="array"):
        xlstsr.upscale_to_zarr(lst, zarr.storage.LocalStore(user / "ndvi"), factor=2, mode="w",
                               progress=False)
    assert "ndvi" in xr.open_zarr(user, consolidated=False).data_vars


def test_local_fsspec_store_overwrites_an_earlier_store(lst, tmp_path):
    p = str(tmp_path / "old.zarr")
    xlstsr.upscale_to_zarr(lst, p, factor=2, progress=False)
    out = xlstsr.upscale_to_zarr(lst + 1.0, zarr.storage.FsspecStore.from_url("file://" + p),
                                 factor=2, mode="w", progress=False)
    ref = xlstsr.upscale(lst + 1.0, 2).values
    np.testing.assert_allclose(out.values, ref, rtol=0, atol=1e-4)
    assert zarr.open_group(p, mode="r").attrs["xlstsr_status"] == "complete"


def test_read_only_store_object_is_refused_with_advice(lst, tmp_path):
    p = tmp_path / "out.zarr"
    with pytest.raises(XlstsrError, match=r"read only.*read_only=False"):
        xlstsr.upscale_to_zarr(lst, zarr.storage.LocalStore(p, read_only=True), factor=2,
                               progress=False)
    assert not p.exists()


def test_local_store_subclass_kept_but_its_folder_checked(lst, tmp_path):
    class Logged(zarr.storage.LocalStore):  # a user's store: its behaviour is kept
        pass

    folder = _user_folder(tmp_path / "mine")
    with pytest.raises(XlstsrError, match="other files"):
        xlstsr.upscale_to_zarr(lst, Logged(folder), factor=2, mode="w", progress=False)
    assert sorted(os.listdir(folder)) == ["thesis.docx"]
    out = xlstsr.upscale_to_zarr(lst, Logged(tmp_path / "new.zarr"), factor=2, progress=False)
    assert out.shape == (2, 32, 32)


def test_store_taken_over_while_writing_is_not_marked_complete(lst, tmp_path):
    """Another run's stamp appears in the store while this one writes its regions (as when a
    second run takes the output over): this run stops without marking the store complete and
    without removing it (it is the other run's now)."""
    p = str(tmp_path / "out.zarr")
    other = {"host": "elsewhere", "pid": 1, "process_start": 0.0}

    def take_over(block, block_info=None):
        if block_info[0]["array-location"][0][0] == 1 and os.path.exists(p):
            zarr.open_group(p, mode="r+").attrs["xlstsr_writer"] = other
        return block

    lazy = lst.copy(data=dsa.from_array(lst.values, chunks=(1, 16, 16)).map_blocks(
        take_over, dtype=lst.dtype))
    with pytest.raises(XlstsrError, match="no longer written by this run"):
        xlstsr.upscale_to_zarr(lazy, p, factor=2, progress=False, regions_in_flight=1)
    attrs = zarr.open_group(p, mode="r").attrs
    assert attrs["xlstsr_status"] != "complete"
    assert attrs["xlstsr_writer"] == other


_RACES = textwrap.dedent('''
    import json, os, sys, time, traceback
    import torch; torch.set_num_threads(1)
    import dask; dask.config.set(scheduler="synchronous")
    import xlstsr
    import xlstsr.engine.to_zarr as tz

    def run(meth, p, mode, barrier):
        lst = xlstsr.datasets.modis_sample()["lst_day"].isel(time=slice(0, 2), y=slice(0, 16),
                                                             x=slice(0, 16)).load()
        # both runs wait, once past their "exists" checks, until the other is too (the
        # interleaving of two runs started together; the wrapped function itself is unchanged)
        orig, first = tz._local_folder, [True]
        def waiting(store):
            if first[0]:
                first[0] = False
                open(os.path.join(barrier, meth), "w").close()
                t = time.time() + 60
                while len(os.listdir(barrier)) < 2 and time.time() < t:
                    time.sleep(0.01)
            return orig(store)
        tz._local_folder = waiting
        try:
            xlstsr.upscale_to_zarr(lst, p, 2, meth, progress=False, mode=mode)
            return "finished OK"
        except xlstsr.errors.XlstsrError as e:
            return "refused: " + str(e).replace("\\n", " ")

    # one race per (mode, folder): two processes (forked from this one, which paid the imports
    # once) run upscale_to_zarr on one new store at the same time
    said = {}
    for mode, root in zip(sys.argv[1::2], sys.argv[2::2]):
        p, barrier = os.path.join(root, "same.zarr"), os.path.join(root, "barrier")
        os.makedirs(barrier)
        pids = {}
        for meth in ("bicubic", "nearest"):
            sys.stdout.flush(); sys.stderr.flush()
            pid = os.fork()
            if pid == 0:
                code = 1
                try:
                    with open(os.path.join(root, meth + ".said"), "w") as f:
                        f.write(run(meth, p, mode, barrier))
                    code = 0
                except BaseException:
                    traceback.print_exc()
                finally:
                    sys.stderr.flush()
                    os._exit(code)
            pids[meth] = pid
        said[mode] = {}
        for meth, pid in pids.items():
            status = os.waitstatus_to_exitcode(os.waitpid(pid, 0)[1])
            f = os.path.join(root, meth + ".said")
            said[mode][meth] = (open(f).read().strip() if os.path.exists(f)
                                else f"exit {status}")
    print(json.dumps(said))
''')


_MODES = ("w-", "resume")


@pytest.fixture(scope="module")
def races(tmp_path_factory):
    """For each mode, what two runs started together on one new store said (one child process
    pays the imports; each race's two runs are two processes forked from it)."""
    base = tmp_path_factory.mktemp("races")
    script = base / "races.py"
    script.write_text(_RACES)
    roots = {m: base / f"race{i}" for i, m in enumerate(_MODES)}
    args = [a for m in _MODES for a in (m, str(roots[m]))]
    r = subprocess.run([sys.executable, str(script), *args], capture_output=True, text=True,
                       timeout=300)
    assert r.returncode == 0, r.stderr[-4000:]
    said = json.loads(r.stdout.strip().splitlines()[-1])
    return {m: (said[m], str(roots[m] / "same.zarr"), r.stderr[-4000:]) for m in _MODES}


@pytest.mark.parametrize("mode", _MODES)
def test_two_runs_started_together_on_one_new_store(lst, races, mode):
    said, p, err = races[mode]
    winners = [m for m, s in said.items() if s == "finished OK"]
    assert len(winners) == 1, (said, err)
    loser = next(m for m in said if m not in winners)
    assert "started just now by another run" in said[loser]
    assert "another path" in said[loser]
    stored = xr.open_zarr(p, consolidated=False)["lst_day"].values
    np.testing.assert_allclose(stored, xlstsr.upscale(lst, 2, winners[0]).values, rtol=0,
                               atol=1e-4)
    assert zarr.open_group(p, mode="r").attrs["xlstsr_status"] == "complete"

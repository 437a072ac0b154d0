"""Streaming engine (probes 52 U and R2): two killed mode='w' runs left two set-aside copies,
each advised back to the path, so that following the advice in turn deleted the finished
result the first had restored (the command line's --overwrite alike); the unfinished-store
check matched a day+night series' steps by time label only (its advised isel was refused
when followed); relabelled steps (an even coarsen window, shifted labels) were advised a
selection that was refused again; a store made from an unfinished store's written steps
could not be resumed once that store was completed (its status attribute fingerprinted)."""

import os
import re
import subprocess
import sys
import warnings
from pathlib import Path

import numpy as np
import pytest
import xarray as xr
import zarr
from helpers import make_lst, unfinished_store

import xlstsr
from xlstsr.errors import XlstsrError
from xlstsr.io.zarr import COMPLETE, STATUS_ATTR


def _cube(n_t: int = 2, size: int = 16) -> xr.DataArray:
    rng = np.random.default_rng(0)
    base = 290 + rng.standard_normal((size, size)).cumsum(0) / 6
    v = np.stack([base + 0.05 * i for i in range(n_t)]).astype("float32")
    return make_lst(v, units="K").assign_coords(time=np.arange(n_t))


# -- 1. two killed overwrites: one set-aside copy, advice that keeps the finished result ------

#: a process that writes the store given with mode='w' (or the command line's --overwrite) and
#: is killed (SIGKILL, as the OOM killer does) as its first region is about to land
_KILLED_RUN = """
import os, signal, sys
import numpy as np
sys.path.insert(0, {tests!r})
os.environ["OMP_NUM_THREADS"] = "1"
import xlstsr.engine.to_zarr as t

def killed(*args, **kwargs):
    os.kill(os.getpid(), signal.SIGKILL)

t._store_block = killed
if sys.argv[1] == "cli":
    from xlstsr.cli import main
    main(["upscale", sys.argv[2], sys.argv[3], "--factor", "4", "--overwrite", "--quiet"])
else:
    from test_engine52 import _cube
    t.upscale_to_zarr(_cube() + 5, sys.argv[3], 4, mode="w", progress=False)
"""


def _killed_overwrite(how: str, source: Path, store: Path) -> None:
    code = _KILLED_RUN.format(tests=str(Path(__file__).parent))
    env = dict(os.environ, OMP_NUM_THREADS="1", PYTHONWARNINGS="ignore")
    proc = subprocess.run([sys.executable, "-c", code, how, str(source), str(store)], env=env,
                          capture_output=True, text=True, timeout=300)
    assert proc.returncode == -9, proc.stderr[-2000:]
    assert zarr.open_group(store, mode="r").attrs[STATUS_ATTR] != COMPLETE  # the run's own


def _asides(store: Path) -> list[Path]:
    return sorted(store.parent.glob(f".{store.name}.replaced-*"))


def _snippets(text: str) -> list[str]:
    return re.findall(r"`(import os[^`]*)`", text)


@pytest.mark.parametrize("how", ["python", "cli"])
def test_two_killed_overwrites_keep_the_finished_result_and_advice_restores_it(tmp_path, how,
                                                                               capsys):
    lst = _cube()
    source = tmp_path / "lst.nc"
    lst.to_dataset(name="LST").to_netcdf(source)
    store = tmp_path / "out.zarr"
    first = xlstsr.upscale_to_zarr(lst, store, 4, progress=False).values
    _killed_overwrite(how, source, store)
    _killed_overwrite(how, source, store)
    kept = _asides(store)
    assert len(kept) == 1  # the finished result only (the unfinished store was set aside too)
    assert zarr.open_group(kept[0], mode="r").attrs[STATUS_ATTR] == COMPLETE
    if how == "cli":
        from xlstsr.cli import main

        # the resume completes the store: the copy is not advised back over it
        assert main(["upscale", str(source), str(store), "--factor", "4", "--quiet",
                     "--resume"]) in (0, None)
        said = [ln for ln in capsys.readouterr().err.splitlines() if "interrupted" in ln]
        assert len(said) == 1 and "a finished result" in said[0]
        assert "rmtree" not in _snippets(said[0])[0]
        exec(_snippets(said[0])[0], {})  # kept beside it
        assert not _asides(store)
        moved = xr.open_zarr(next(tmp_path.glob("out.earlier-*.zarr")), consolidated=False)
        np.testing.assert_array_equal(_values(moved), first)
        np.testing.assert_array_equal(_values(xr.open_zarr(store, consolidated=False)), first)
        return
    else:
        with warnings.catch_warnings(record=True) as w:
            warnings.simplefilter("always")
            with pytest.raises(XlstsrError, match="exists"):
                xlstsr.upscale_to_zarr(lst, store, 4, progress=False, mode="w-")
        said = [str(m.message) for m in w if "interrupted" in str(m.message)]
    assert len(said) == 1 and "a finished result" in said[0]
    for text in said:  # every advice, as the user would run it, in the order given
        exec(_snippets(text)[0], {})
    assert not _asides(store)
    again = xr.open_zarr(store, consolidated=False)
    assert again.attrs[STATUS_ATTR] == COMPLETE
    np.testing.assert_array_equal(_values(again), first)


def test_copies_left_by_earlier_versions_are_told_apart_and_advised_safely(tmp_path):
    """Copies set aside by a version that kept every one (a finished result, a later unfinished
    store): one advised back, the other deleted; followed in turn, the result is back."""
    lst = _cube()
    store = tmp_path / "out.zarr"
    first = xlstsr.upscale_to_zarr(lst, store, 4, progress=False).values
    old = tmp_path / f".out.zarr.replaced-{_dead_pid()}-100"
    os.rename(store, old)
    unfinished_store(lst.chunk(time=1), store, crash_at=1)  # an interrupted run's
    later = tmp_path / f".out.zarr.replaced-{_dead_pid()}-200"
    os.rename(store, later)
    unfinished_store(lst.chunk(time=1), store, crash_at=1)
    with warnings.catch_warnings(record=True) as w:
        warnings.simplefilter("always")
        with pytest.raises(XlstsrError, match="exists"):
            xlstsr.upscale_to_zarr(lst, store, 4, progress=False, mode="w-")
    said = [str(m.message) for m in w if "interrupted" in str(m.message)]
    assert len(said) == 2
    assert "a finished result" in said[0] and "unfinished store" in said[1]
    for text in said:
        exec(re.findall(r"`(import [^`]*)`", text)[0], {})
    assert not _asides(store)
    again = xr.open_zarr(store, consolidated=False)
    np.testing.assert_array_equal(_values(again), first)


def _values(ds: xr.Dataset) -> np.ndarray:
    return next(v for v in ds.data_vars.values() if v.ndim == 3).values


def _dead_pid() -> int:
    proc = subprocess.Popen([sys.executable, "-c", "pass"])
    proc.wait()
    return proc.pid


# -- 2. a day+night series (repeated time labels): steps matched by position ------------------

_DDNN = ["2020-01-01T10:30", "2020-01-01T10:30", "2020-01-02T10:30", "2020-01-02T10:30"]


def _day_night_store(store: Path, done: list[int], overpass: bool = True,
                     labels: list[str] = _DDNN) -> xr.DataArray:
    """A finished store of [D1 day, D1 night, D2 day, D2 night] (or of ``labels``) whose
    progress record and status are then set as an interrupted run's: the steps of ``done`` 0
    unwritten."""
    from xlstsr.io.zarr import INCOMPLETE

    lst = _cube(4)
    t = np.array(labels, "datetime64[ns]")
    lst = lst.assign_coords(time=t)
    if overpass:
        lst = lst.assign_coords(overpass=("time", ["day", "night", "day", "night"]))
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        xlstsr.upscale_to_zarr(lst, store, 4, progress=False, time_chunk=1)
    root = zarr.open_group(store, mode="r+")
    root.attrs[STATUS_ATTR] = INCOMPLETE
    name = next(k for k in root.array_keys() if root[k].ndim == 3)
    root[name].attrs[STATUS_ATTR] = INCOMPLETE
    zarr.open_array(store, path="xlstsr_progress/done", mode="r+")[:] = np.array(done, "u1")
    return xr.open_zarr(store, consolidated=False, decode_coords="all")[name]


def _advised(msg: str) -> xr.DataArray:
    code = re.search(r"select (?:and load )?them: `([^`]*)`", msg).group(1)
    return eval(code, {"xr": xr, "np": np})


@pytest.mark.parametrize("done", [[1, 0, 1, 1], [1, 0, 0, 0]])
def test_day_night_steps_are_matched_by_position_and_the_advice_runs(tmp_path, done):
    from xlstsr.io import to_cogs

    sr = _day_night_store(tmp_path / "dn.zarr", done)
    with pytest.raises(XlstsrError) as err:
        to_cogs(sr, tmp_path / "all")
    unwritten = 4 - sum(done)
    assert f"{unwritten} of the 4 steps selected (2020-01-01T10:30:00 night" in str(err.value)
    sel = _advised(str(err.value))
    assert list(sel["overpass"].values) == [o for o, d in zip(["day", "night"] * 2, done) if d]
    files = to_cogs(sel, tmp_path / "written")
    assert len(files) == sum(done)
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")  # (an upscaled input is warned of)
        assert xlstsr.upscale(sel, 2).sizes["time"] == sum(done)


def test_repeated_labels_without_an_overpass_are_advised_a_loaded_copy_that_runs(tmp_path):
    sr = _day_night_store(tmp_path / "dn.zarr", [1, 0, 1, 1], overpass=False)
    # (the two steps of 2020-01-01 are not told apart by their labels: 52d/3)
    with pytest.raises(XlstsrError, match=r"2 of the 4 steps .* share their label") as err:
        xlstsr.upscale(sr, 2)
    assert ".load()" in str(err.value)  # the lazy selection cannot be told by its labels
    sel = _advised(str(err.value))
    assert sel.sizes["time"] == 3
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        assert int(xlstsr.upscale(sel, 2).notnull().all(("y", "x")).sum()) == 3


# -- 3. relabelled steps (an even coarsen window, shifted labels): advice that runs -----------

@pytest.fixture()
def six_steps(tmp_path):
    """A store of 6 daily one-step regions whose run stopped after 3 were written."""
    import pandas as pd

    lst = _cube(6).assign_coords(time=pd.date_range("2020-01-01", periods=6, freq="D"))
    return unfinished_store(lst.chunk(time=1), tmp_path / "six.zarr", crash_at=3)


@pytest.mark.parametrize("how", ["coarsen", "shift"])
def test_relabelled_steps_are_advised_a_loaded_copy_that_runs(six_steps, how):
    def relabel(da: xr.DataArray) -> xr.DataArray:
        if how == "coarsen":
            return da.coarsen(time=2, boundary="trim").mean()
        return da.assign_coords(time=da["time"] + np.timedelta64(12, "h"))

    sr = xr.open_zarr(six_steps, consolidated=False, decode_coords="all")
    sr = next(v for v in sr.data_vars.values() if v.ndim == 3)
    for obj in (sr, sr.isel(time=slice(0, 3))):  # the whole store, its written steps
        with pytest.raises(XlstsrError, match="select and load them") as err:
            xlstsr.upscale(relabel(obj), 2)
        copy = relabel(_advised(str(err.value)))
        with warnings.catch_warnings():
            warnings.simplefilter("ignore")
            out = xlstsr.upscale(copy, 2)
        assert out.sizes["time"] == copy.sizes["time"] and bool(out.notnull().all())


# -- 4. a store of an unfinished store's written steps resumes once that store is completed ----

def test_store_of_written_steps_resumes_after_its_source_is_completed(tmp_path):
    lst = _cube(4).chunk(time=1)
    source = unfinished_store(lst, tmp_path / "a.zarr", crash_at=2)

    def written() -> xr.DataArray:
        ds = xr.open_zarr(source, consolidated=False, decode_coords="all")
        return next(v for v in ds.data_vars.values() if v.ndim == 3).isel(time=slice(0, 2))

    sel = written()
    assert STATUS_ATTR in sel.attrs  # (the source's status, until it is completed)
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")  # (an upscaled input is warned of)
        unfinished_store(sel.chunk(time=1), tmp_path / "b.zarr", crash_at=1)
        xlstsr.upscale_to_zarr(lst, source, 4, mode="resume", progress=False)  # the source done
        assert STATUS_ATTR not in written().attrs
        out = xlstsr.upscale_to_zarr(written(), tmp_path / "b.zarr", 4, mode="resume",
                                     progress=False)
        whole = xlstsr.upscale(written(), 4)
    assert zarr.open_group(tmp_path / "b.zarr", mode="r").attrs[STATUS_ATTR] == COMPLETE
    np.testing.assert_allclose(out.values, whole.values, rtol=0, atol=1e-5)


def test_a_refused_resume_names_the_attribute_that_differs(tmp_path):
    lst = _cube(4).chunk(time=1)
    store = unfinished_store(lst.assign_attrs(source="MOD11A1"), tmp_path / "a.zarr")
    with pytest.raises(XlstsrError, match=r"attributes differ: 'source' \(changed\)"):
        xlstsr.upscale_to_zarr(lst.assign_attrs(source="MYD11A1"), store, 4, mode="resume",
                               progress=False)


# -- review 52d ----------------------------------------------------------------------------------

def _store_beside_an_old_copy(tmp_path: Path, crash_at: int) -> tuple[Path, Path, np.ndarray]:
    """A finished result A set aside by a killed overwrite (a dead pid), and at the path an
    unfinished store of another input (``crash_at`` of its 4 regions written)."""
    lst = _cube(4)
    store = tmp_path / "out.zarr"
    first = xlstsr.upscale_to_zarr(lst, store, 4, progress=False).values
    old = tmp_path / f".out.zarr.replaced-{_dead_pid()}-100"
    os.rename(store, old)
    unfinished_store((lst + 5).chunk(time=1), store, crash_at=crash_at)
    return store, old, first


@pytest.mark.parametrize("how", ["python", "cli"])
def test_a_refused_overwrite_puts_back_the_unfinished_store_it_replaced(tmp_path, how, capsys):
    """52d/1: a mode='w' (--overwrite) run refused before its first region deleted the unfinished
    store at the path (3 of 4 regions, another input's only copy) when an old copy was set
    aside: it is put back, resumable, and the old copy stays."""
    from helpers import run_cli

    store, old, _ = _store_beside_an_old_copy(tmp_path, crash_at=3)
    bad = _cube(4) * np.nan
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        if how == "python":
            with pytest.raises(XlstsrError, match="kept as it was"):
                xlstsr.upscale_to_zarr(bad, store, 4, progress=False, mode="w")
        else:
            src = tmp_path / "allnan.nc"
            bad.to_dataset(name="LST").to_netcdf(src)
            assert run_cli(capsys, "upscale", src, store, "--factor", "4", "--overwrite",
                           "--quiet")[0] != 0
    assert _asides(store) == [old]
    done = zarr.open_array(store, path="xlstsr_progress/done", mode="r")[:]
    assert done.tolist() == [1, 1, 1, 0]
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        out = xlstsr.upscale_to_zarr((_cube(4) + 5).chunk(time=1), store, 4, progress=False,
                                     mode="resume")
    assert bool(out.notnull().all())


def test_an_overwrite_that_lands_removes_the_unfinished_store_it_set_aside(tmp_path):
    """52d/1: the unfinished store set aside goes once the new result lands (as any replaced
    store); the finished copy an earlier overwrite left stays, for the user."""
    store, old, _ = _store_beside_an_old_copy(tmp_path, crash_at=2)
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        new = xlstsr.upscale_to_zarr(_cube(4) + 7, store, 4, progress=False, mode="w")
    assert _asides(store) == [old]
    assert bool(new.notnull().all())


def test_an_overwrites_start_warning_advises_no_restore_over_its_result(tmp_path):
    """52d/2: the warning a mode='w' run gives at its start advised restoring the old copy over
    the path (rmtree, rename): followed after the run, it deleted the run's new result."""
    store, old, first = _store_beside_an_old_copy(tmp_path, crash_at=1)
    with warnings.catch_warnings(record=True) as w:
        warnings.simplefilter("always")
        new = xlstsr.upscale_to_zarr(_cube(4) + 7, store, 4, progress=False, mode="w").values
    said = [str(m.message) for m in w if "interrupted" in str(m.message)]
    assert len(said) == 1 and "a path of its own" in said[0]
    for text in said:  # followed after the run, as the user would
        code = _snippets(text)[0]
        assert "rmtree" not in code
        exec(code, {})
    np.testing.assert_array_equal(_values(xr.open_zarr(store, consolidated=False)), new)
    moved = xr.open_zarr(next(tmp_path.glob("out.earlier-*.zarr")), consolidated=False)
    np.testing.assert_array_equal(_values(moved), first)
    assert not old.exists()


@pytest.mark.parametrize("pick", [[-1, 0], [1, 0]])
def test_repeated_labels_selected_out_of_order_are_refused(tmp_path, pick):
    """52d/3: a day series then a night series (labels D1 D2 D1 D2, no overpass), the first step
    unwritten, selected out of order: matched by position, the unwritten step passed (to_cogs
    wrote an all-NaN file)."""
    from xlstsr.io import to_cogs

    labels = ["2020-01-01", "2020-01-02", "2020-01-01", "2020-01-02"]
    sr = _day_night_store(tmp_path / "dn.zarr", [0, 1, 1, 1], overpass=False, labels=labels)
    with pytest.raises(XlstsrError, match="cannot be told from them") as err:
        to_cogs(sr.isel(time=pick), tmp_path / "cogs")
    assert not list((tmp_path / "cogs").glob("*.tif"))
    sel = _advised(str(err.value))
    assert sel.sizes["time"] == 3 and bool(sel.notnull().all())


def test_a_nan_in_a_per_step_coordinate_does_not_hide_written_steps(tmp_path):
    """52d/4: a float coordinate along time holding NaN (a per-scene cloud cover): the step of
    the NaN matched no store step (NaN != NaN), and the written selection was refused."""
    import pandas as pd

    from xlstsr.io import to_cogs

    lst = _cube(4).assign_coords(time=pd.date_range("2020-01-01", periods=4, freq="D"),
                                 cloud_cover=("time", [0.1, np.nan, 0.3, 0.4]))
    store = unfinished_store(lst.chunk(time=1), tmp_path / "u.zarr", crash_at=3)
    sr = xr.open_zarr(store, consolidated=False, decode_coords="all")["lst"]
    with pytest.raises(XlstsrError, match="1 of the 4 steps") as err:
        to_cogs(sr, tmp_path / "all")
    assert "select them:" in str(err.value)  # no loaded copy needed
    sel = _advised(str(err.value))
    assert len(to_cogs(sel, tmp_path / "written")) == 3
    assert len(to_cogs(sr.isel(time=[2, 1]), tmp_path / "two")) == 2


def test_an_unfinished_copy_with_written_regions_is_advised_a_resume_of_its_own(tmp_path):
    """52d/1: an overwrite killed between setting aside an unfinished store (another input's,
    3 of 4 regions written) and its first region leaves it beside the finished copy: advised
    deleted only, its regions were lost; moved as advised, it resumes."""
    store, _, first = _store_beside_an_old_copy(tmp_path, crash_at=3)
    later = tmp_path / f".out.zarr.replaced-{_dead_pid()}-200"
    os.rename(store, later)
    unfinished_store(_cube(4).chunk(time=1), store, crash_at=1)  # the killed run's own start:
    zarr.open_array(store, path="xlstsr_progress/done", mode="r+")[:] = 0  # no region landed
    with warnings.catch_warnings(record=True) as w:
        warnings.simplefilter("always")
        with pytest.raises(XlstsrError, match="exists"):
            xlstsr.upscale_to_zarr(_cube(4), store, 4, progress=False, mode="w-")
    said = [str(m.message) for m in w if "interrupted" in str(m.message)]
    assert len(said) == 2 and "a finished result" in said[0]
    exec(_snippets(said[0])[0], {})  # the finished result back at the path
    exec(_snippets(said[1])[0], {})  # the unfinished one to a path of its own
    assert not _asides(store)
    np.testing.assert_array_equal(_values(xr.open_zarr(store, consolidated=False)), first)
    moved = next(tmp_path.glob("out.earlier-*.zarr"))
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        out = xlstsr.upscale_to_zarr((_cube(4) + 5).chunk(time=1), moved, 4, progress=False,
                                     mode="resume")
    assert bool(out.notnull().all())

"""Remote (fsspec URL) stores and remote or in-memory store objects get the guards local paths
get (probe 42x): an unfinished store read lazily, a store object over the source, a URL prefix
of other files or a variable of another store. fsspec's ``memory://`` stands in for s3/gs: no
network."""
import uuid

import dask.array as da
import fsspec
import numpy as np
import pytest
import xarray as xr
import zarr
from fsspec.implementations.memory import MemoryFileSystem

import xlstsr
from xlstsr.errors import XlstsrError
from xlstsr.io.zarr import COMPLETE, INCOMPLETE, PROGRESS_DONE, STATUS_ATTR

# (the stores read back are xlstsr's output: upscaling it again is warned about, and meant here)
pytestmark = pytest.mark.filterwarnings("ignore:the LST is already super-resolved")


@pytest.fixture
def lst():
    return xlstsr.datasets.sample_scene(n_times=2, size=32)["lst_1km"]


@pytest.fixture
def mem():
    """A fresh memory:// prefix, removed afterwards."""
    fs = fsspec.filesystem("memory")
    prefix = f"/fixes42_{uuid.uuid4().hex}"
    yield fs, prefix
    if fs.exists(prefix):
        fs.rm(prefix, recursive=True)


def _lazy(url):
    return xr.open_zarr(url, consolidated=False, decode_coords="all")["lst_1km"]


def _mark_unfinished(url):
    """The store as an interrupted run leaves it: status incomplete, one block not done."""
    root = zarr.open_group(url, mode="r+")
    root.attrs[STATUS_ATTR] = INCOMPLETE
    done = zarr.open_array(url, path=PROGRESS_DONE, mode="r+")
    flags = np.asarray(done[:]).astype(bool)
    flags[-1] = False
    done[:] = flags.astype(done.dtype)


def test_lazy_input_from_unfinished_url_store_refused(lst, mem, tmp_path):
    _, prefix = mem
    url = f"memory://{prefix}/run.zarr"
    xlstsr.upscale_to_zarr(lst, url, 2, progress=False, time_chunk=1)
    assert zarr.open_group(url, mode="r").attrs[STATUS_ATTR] == COMPLETE
    xlstsr.upscale_to_zarr(_lazy(url), tmp_path / "ok.zarr", 2, progress=False)  # complete: taken
    _mark_unfinished(url)
    with pytest.raises(XlstsrError, match=r"did not finish .*mode='resume'"):
        _lazy(url).lstsr.upscale(factor=2)
    with pytest.raises(XlstsrError, match="did not finish"):
        xlstsr.upscale_to_zarr(_lazy(url), tmp_path / "o.zarr", 2, progress=False)
    # an array opened at its own path (dask.array.from_zarr): the group above it is judged
    ref = _lazy(url)
    arr = xr.DataArray(da.from_zarr(f"{url}/lst_1km"), dims=ref.dims, coords=ref.coords)
    with pytest.raises(XlstsrError, match="did not finish"):
        xlstsr.upscale_to_zarr(arr, tmp_path / "p.zarr", 2, progress=False)


@pytest.mark.parametrize("kind", ["fsspec", "memorystore"])
def test_store_object_over_source_refused(lst, mem, kind):
    _, prefix = mem
    if kind == "fsspec":
        url = f"memory://{prefix}/cube.zarr"
        lst.to_dataset().to_zarr(url, zarr_format=3, consolidated=False)
        store = zarr.storage.FsspecStore.from_url(url)
    else:
        store = zarr.storage.MemoryStore()
        lst.to_dataset().to_zarr(store, zarr_format=3, consolidated=False)
    lazy = xr.open_zarr(store, consolidated=False, decode_coords="all")["lst_1km"]
    before = lazy.values.copy()
    with pytest.raises(XlstsrError, match="is, holds or lies inside the source being read"):
        xlstsr.upscale_to_zarr(lazy, store, 2, progress=False, mode="w")
    after = xr.open_zarr(store, consolidated=False)["lst_1km"].values
    np.testing.assert_array_equal(after, before)  # the input is untouched


def test_url_prefix_of_other_files_refused(lst, mem):
    fs, prefix = mem
    names = [f"{prefix}/project/{n}" for n in ("report.pdf", "raw/2020_001.tif", "notes.txt")]
    for n in names:
        fs.pipe_file(n, b"user data")
    url = f"memory://{prefix}/project"
    with pytest.raises(XlstsrError, match="holds other files and no Zarr store: mode='w' would"):
        xlstsr.upscale_to_zarr(lst, url, 2, progress=False, mode="w")
    with pytest.raises(XlstsrError, match="folder of other files") as err:
        xlstsr.upscale_to_zarr(lst, url, 2, progress=False)  # mode='w-'
    assert "pass mode='w'" not in str(err.value)
    with pytest.raises(XlstsrError, match="nothing to resume"):
        xlstsr.upscale_to_zarr(lst, url, 2, progress=False, mode="resume")
    assert all(fs.cat_file(n) == b"user data" for n in names)


def test_url_variable_of_other_store_refused(lst, mem):
    _, prefix = mem
    url = f"memory://{prefix}/user.zarr"
    xr.Dataset({"ndvi": lst.rename("ndvi"), "lst": lst}).to_zarr(url, zarr_format=3,
                                                                   consolidated=False)
    with pytest.raises(XlstsrError, match="is an array \\(a variable\\) of the Zarr store"):
        xlstsr.upscale_to_zarr(lst, f"{url}/ndvi", 2, progress=False, mode="w")
    assert "ndvi" in xr.open_zarr(url, consolidated=False)


def test_url_overwrite_and_new_store_still_written(lst, mem):
    _, prefix = mem
    url = f"memory://{prefix}/out.zarr"
    first = xlstsr.upscale_to_zarr(lst, url, 2, progress=False)  # a new URL
    again = xlstsr.upscale_to_zarr(lst, url, 2, progress=False, mode="w")  # over an xlstsr store
    assert zarr.open_group(url, mode="r").attrs[STATUS_ATTR] == COMPLETE
    assert first.shape == again.shape


# -- review 42d: a store readable only under its own prefix (an access policy on its path) ----
class _DenyFS(MemoryFileSystem):
    """Memory, but every path outside ``allowed`` answers 403 (PermissionError)."""

    protocol = ("denytest",)
    allowed = ""

    @classmethod
    def _strip_protocol(cls, path):
        if path.startswith("denytest://"):
            path = path[len("denytest://"):]
        return MemoryFileSystem._strip_protocol(path)

    def _guard(self, path):
        p = self._strip_protocol(path)
        if not (p == self.allowed or p.startswith(self.allowed + "/")):
            raise PermissionError(f"403 AccessDenied {p}")

    def cat_file(self, path, start=None, end=None, **kw):
        self._guard(path)
        return super().cat_file(path, start, end, **kw)

    def info(self, path, **kw):
        self._guard(path)
        return super().info(path, **kw)


def test_input_readable_under_its_own_prefix_only_is_accepted(lst):
    fsspec.register_implementation("denytest", _DenyFS, clobber=True)
    allowed = f"/deny{uuid.uuid4().hex}/data/a.zarr"
    _DenyFS.allowed = allowed
    lst.to_dataset().to_zarr(f"memory://{allowed}", zarr_format=3, consolidated=False)
    src = xr.open_zarr(f"denytest://{allowed}", consolidated=False, decode_coords="all")["lst_1km"]
    assert src.lstsr.upscale(2).isel(time=0).notnull().any()
    out = xlstsr.upscale_to_zarr(src, {}, 2, progress=False)
    assert out is not None

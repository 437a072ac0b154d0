"""Round 37: a dask worker that dies (an out-of-memory kill: distributed's KilledWorker) ended
the command line in a 25-line traceback; it is one ``xlstsr: error:`` line with what to do."""

from __future__ import annotations

import contextlib
import io
from types import SimpleNamespace

import numpy as np
import pytest
import xarray as xr
from helpers import restore_method_registry

import xlstsr
from xlstsr import cli

distributed = pytest.importorskip("distributed")


@pytest.mark.parametrize("suffix", [".zarr", ".nc"])
def test_a_worker_lost_is_one_line_with_advice(tmp_path, suffix):
    from distributed.scheduler import KilledWorker

    with restore_method_registry():
        @xlstsr.register_method("probe37_killed")
        class Killed(xlstsr.methods.UpscaleMethod):  # as a worker past its memory limit
            def upscale_block(self, lst, valid, guide, factor):
                raise KilledWorker("upscale-block-0", SimpleNamespace(address="tcp://127.0.0.1:1"),
                                   allowed_failures=0)

        lst = xr.DataArray(300 + np.random.default_rng(0).normal(0, 1, (2, 16, 16)),
                           dims=("time", "y", "x"), attrs={"units": "K"},
                           coords={"time": np.array(["2020-01-01", "2020-01-02"],
                                                    dtype="datetime64[ns]"),
                                   "y": 5e6 - 1000 * np.arange(16.0),
                                   "x": 5e5 + 1000 * np.arange(16.0)}).rio.write_crs("EPSG:32631")
        lst.to_dataset(name="LST").to_netcdf(tmp_path / "in.nc")
        err = io.StringIO()
        with contextlib.redirect_stderr(err), contextlib.redirect_stdout(io.StringIO()):
            rc = cli.main(["upscale", str(tmp_path / "in.nc"), str(tmp_path / f"out{suffix}"),
                           "--method", "probe37_killed", "--factor", "2", "--quiet"])
    text = err.getvalue()
    assert rc == 2 and "Traceback" not in text
    assert text.startswith("xlstsr: error: the dask cluster lost the computation (KilledWorker")
    # nothing was written: the store this call started is removed, so no --resume
    assert "--chunks" in text and "--resume" not in text


def test_a_worker_lost_after_some_regions_advises_resume(tmp_path):
    from distributed.scheduler import KilledWorker

    with restore_method_registry():
        @xlstsr.register_method("probe37_killed_later")
        class KilledLater(xlstsr.methods.UpscaleMethod):
            calls = 0

            def upscale_block(self, lst, valid, guide, factor):
                type(self).calls += 1
                if type(self).calls > 2:  # the first regions land, then the worker dies
                    raise KilledWorker("upscale-block-2",
                                       SimpleNamespace(address="tcp://127.0.0.1:1"),
                                       allowed_failures=3)
                return lst.repeat(factor, -2).repeat(factor, -1)

        lst = xr.DataArray(300 + np.random.default_rng(0).normal(0, 1, (4, 16, 16)),
                           dims=("time", "y", "x"), attrs={"units": "K"},
                           coords={"time": np.arange("2020-01-01", "2020-01-05",
                                                     dtype="datetime64[D]").astype("datetime64[ns]"),
                                   "y": 5e6 - 1000 * np.arange(16.0),
                                   "x": 5e5 + 1000 * np.arange(16.0)}).rio.write_crs("EPSG:32631")
        lst.to_dataset(name="LST").to_netcdf(tmp_path / "in.nc")
        err = io.StringIO()
        with contextlib.redirect_stderr(err), contextlib.redirect_stdout(io.StringIO()):
            rc = cli.main(["upscale", str(tmp_path / "in.nc"), str(tmp_path / "out.zarr"),
                           "--method", "probe37_killed_later", "--factor", "2", "--quiet",
                           "--scheduler", "sync", "--chunks", "time=1"])
    text = err.getvalue()
    assert rc == 2 and "Traceback" not in text
    assert "run it again with --resume" in text and "left incomplete" in text

"""Probe 45d2/01: a user's method whose module the dask.distributed workers cannot import (on
the client's sys.path only, not installed there, not sent with ``client.upload_file``). The
graph built, the worker died unpickling the first task, its nanny failed to restart it, and
``.compute()`` and upscale_to_zarr waited for ever, with no message. The workers are now asked
once, at graph building, whether they can unpickle the method."""

from __future__ import annotations

import importlib.machinery
import sys
import textwrap
import types

import dask
import dask.array as dsa
import numpy as np
import pytest

from xlstsr.engine import regions
from xlstsr.engine.blocks import upscale_array
from xlstsr.errors import XlstsrError
from xlstsr.methods import get_method

_HIDDEN = textwrap.dedent("""
    import numpy as np
    from xlstsr.methods.base import UpscaleMethod

    class Hidden(UpscaleMethod):
        name = "hidden45"

        def halo(self, factor):
            return 0

        def upscale_block(self, lst, valid, guide, factor):
            return np.repeat(np.repeat(lst, factor, axis=-2), factor, axis=-1)
""")


def _lst(n=1, size=16):
    return np.full((n, size, size), 300.0, dtype=np.float32)


class _StandInClient:
    """Three remote workers, as ``client.run(..., on_error="return")`` answers for them: one
    without the method's module (run with it out of sys.modules, so unpickling imports it and
    finds none), one with it, one that cannot answer (the exception object)."""

    def __init__(self, hidden_module: str | None) -> None:
        self.hidden_module = hidden_module  # None: every worker has the module
        self.runs = 0

    def scheduler_info(self):
        return {"workers": {w: {} for w in ("tcp://10.0.0.1:1", "tcp://10.0.0.2:1",
                                            "tcp://10.0.0.3:1")}}

    def run(self, function, *args, on_error="raise"):
        assert on_error == "return"
        self.runs += 1
        module = sys.modules.pop(self.hidden_module) if self.hidden_module else None
        try:
            without = function(*args)
        finally:
            if module is not None:
                sys.modules[self.hidden_module] = module
        return {"tcp://10.0.0.1:1": without, "tcp://10.0.0.2:1": function(*args),
                "tcp://10.0.0.3:1": OSError("Timed out trying to connect")}


@pytest.fixture
def hidden_module():
    """A module of the user's in this process only (no file a worker could import)."""
    name = "xlstsr_probe45_hidden"
    module = types.ModuleType(name)
    module.__spec__ = importlib.machinery.ModuleSpec(name, None)  # as an imported one has
    sys.modules[name] = module
    exec(compile(_HIDDEN, name, "exec"), module.__dict__)  # the class's __module__: name
    yield module
    sys.modules.pop(name, None)


def test_method_the_workers_cannot_import_refused_at_build(monkeypatch, hidden_module):
    client = _StandInClient(hidden_module.__name__)
    # the client is dask's scheduler unless dask.config picks another (as active_client)
    monkeypatch.setattr(regions, "active_client",
                        lambda: client if dask.config.get("scheduler", None) is None else None)
    lst = dsa.from_array(_lst(), chunks=(1, 16, 16))
    with pytest.raises(XlstsrError) as err:
        upscale_array(hidden_module.Hidden(), lst, None, 2)
    msg = str(err.value)
    assert "'hidden45'" in msg and "'xlstsr_probe45_hidden'" in msg
    # the worker that cannot answer is not taken for one that fails
    assert "1 of the 3 dask workers (tcp://10.0.0.1:1)" in msg
    assert "No module named 'xlstsr_probe45_hidden'" in msg
    assert "client.upload_file(" in msg and "install it" in msg and "__main__" in msg
    assert client.runs == 1
    # a method pickling to more than 1 MiB (arrays it does not ship apart): its class's
    # modules are looked for instead
    big = hidden_module.Hidden()
    big.table = np.zeros(300_000)
    with pytest.raises(XlstsrError, match=r"1 of the 3 dask workers \(tcp://10.0.0.1:1\): "
                                          r"ModuleNotFoundError: No module named "
                                          r"'xlstsr_probe45_hidden'"):
        upscale_array(big, lst, None, 2)
    assert client.runs == 2

    # xlstsr's own methods are not asked about (no round trip to the workers)
    upscale_array(get_method("nearest"), lst, None, 2)
    assert client.runs == 2
    # a method every answering worker loads: built, after one question
    client.hidden_module = None
    upscale_array(hidden_module.Hidden(), lst, None, 2)
    assert client.runs == 3
    # workers in this process (processes=False) share its modules: not asked
    monkeypatch.setattr(client, "scheduler_info",
                        lambda: {"workers": {"inproc://10.0.0.1/1/1": {}}})
    upscale_array(hidden_module.Hidden(), lst, None, 2)
    assert client.runs == 3


def test_method_the_workers_cannot_import_on_a_local_cluster(tmp_path):
    """The real case: a worker process spawned before the module's folder joined sys.path. The
    refusal comes before any task (the cluster keeps its worker, which runs the method once
    the module is uploaded); the old code waited for ever (bounded here by a timeout)."""
    import logging

    distributed = pytest.importorskip("distributed")
    (tmp_path / "hidmod45.py").write_text(_HIDDEN.replace('"hidden45"', '"hidden45b"'))
    with distributed.LocalCluster(n_workers=1, threads_per_worker=1, processes=True,
                                  dashboard_address=None, silence_logs=logging.CRITICAL) as cl, \
            distributed.Client(cl) as client:
        sys.path.insert(0, str(tmp_path))
        try:
            import hidmod45

            lst = dsa.from_array(_lst(), chunks=(1, 16, 16))
            with pytest.raises(XlstsrError, match=r"'hidmod45'.*1 of the 1 dask workers.*"
                                                  r"No module named 'hidmod45'"):
                out = upscale_array(hidmod45.Hidden(), lst, None, 2)
                client.compute(out).result(timeout=20)  # the old code: no answer
            assert len(client.scheduler_info()["workers"]) == 1
            client.upload_file(str(tmp_path / "hidmod45.py"))
            out = upscale_array(hidmod45.Hidden(), lst, None, 2)
            assert np.array_equal(client.compute(out).result(timeout=30), _lst(1, 32))
        finally:
            sys.path.remove(str(tmp_path))
            sys.modules.pop("hidmod45", None)

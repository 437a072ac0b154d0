"""Review 45c of the trial of a user's method on the dask.distributed workers (fdd4ebc):

1. a method pickling to more than 1 MiB was checked by its class's module even where the class
   travels by value (defined in a function): a valid method was refused;
2. the trial was cloudpickled, but distributed pickles tasks with the standard pickle first: a
   module registered with ``cloudpickle.register_pickle_by_value`` passed, then killed the worker;
3. a class of a package's ``__init__.py`` was told ``client.upload_file('.../__init__.py')``,
   which does not make the package importable;
4. every call asked the workers again (one round trip, the method sent to each worker).
"""

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

_CODE = textwrap.dedent("""
    import numpy as np
    from xlstsr.methods.base import UpscaleMethod

    class Hidden(UpscaleMethod):
        name = "hidden45r"

        def halo(self, factor):
            return 0

        def upscale_block(self, lst, valid, guide, factor):
            return np.repeat(np.repeat(lst, factor, axis=-2), factor, axis=-1)

    def make_local(size):
        class Local(UpscaleMethod):
            name = "local45r"

            def halo(self, factor):
                return 0

            def upscale_block(self, lst, valid, guide, factor):
                return np.repeat(np.repeat(lst, factor, axis=-2), factor, axis=-1)

        method = Local()
        method.table = np.zeros(size)
        return method
""")

_BIG = 300_000  # float64: 2.4 MB pickled, over the 1 MiB trial


def _lst():
    return dsa.from_array(np.full((1, 16, 16), 300.0, dtype=np.float32), chunks=(1, 16, 16))


class _StandInClient:
    """Two remote workers, as ``client.run(..., on_error="return")`` answers for them: the first
    without the module ``hidden`` (run with it out of sys.modules: unpickling imports it and
    finds none), the second with it."""

    def __init__(self, hidden: str | None) -> None:
        self.hidden, self.runs = hidden, 0
        self.workers = ["tcp://10.0.0.1:1", "tcp://10.0.0.2:1"]
        self.restarts = 0  # each restart gives every worker a new working folder

    def scheduler_info(self):
        return {"workers": {w: {"local_directory": f"/tmp/dask-scratch/{w[-8:]}-{self.restarts}"}
                            for w in self.workers}}

    def run(self, function, *args, on_error="raise"):
        assert on_error == "return"
        self.runs += 1
        module = sys.modules.pop(self.hidden) if self.hidden else None
        try:
            without = function(*args)
        finally:
            if module is not None:
                sys.modules[self.hidden] = module
        return {self.workers[0]: without, **{w: function(*args) for w in self.workers[1:]}}


@pytest.fixture
def hidden(monkeypatch):
    """A module of the user's in this process only (no file a worker could import), and a
    stand-in client the workers of which lack it."""
    name = "xlstsr_review45_hidden"
    module = types.ModuleType(name)
    module.__spec__ = importlib.machinery.ModuleSpec(name, None)
    sys.modules[name] = module
    exec(compile(_CODE, name, "exec"), module.__dict__)
    client = _StandInClient(name)
    monkeypatch.setattr(regions, "active_client",
                        lambda: client if dask.config.get("scheduler", None) is None else None)
    yield module, client
    sys.modules.pop(name, None)


def test_big_method_of_a_class_sent_by_value_not_refused(hidden):
    """Finding 1: the old code looked for the module of a class defined in a function (sent by
    value, the workers need no module for it) and refused it."""
    module, client = hidden
    out = upscale_array(module.make_local(_BIG), _lst(), None, 2)
    assert out.shape == (1, 32, 32)
    assert client.runs == 0  # no module to look for: not asked
    # a class its module does not hold under its name (redefined since) travels by value too
    renamed = module.make_local(_BIG)
    type(renamed).__qualname__ = "Hidden"
    upscale_array(renamed, _lst(), None, 2)
    assert client.runs == 0
    # the small one is tried as distributed pickles it (cloudpickle: the class by value)
    upscale_array(module.make_local(10), _lst(), None, 2)
    assert client.runs == 1


def test_module_registered_by_value_refused_as_tasks_travel(hidden):
    """Finding 2: the trial is pickled as distributed pickles tasks (standard pickle first, the
    class by reference): a module registered with cloudpickle.register_pickle_by_value passed
    the old cloudpickle trial, then the tasks killed the worker."""
    cloudpickle = pytest.importorskip("cloudpickle")
    pytest.importorskip("distributed")
    module, client = hidden
    cloudpickle.register_pickle_by_value(module)
    try:
        for size in (10, _BIG):  # tried, or looked for by module over 1 MiB
            method = module.Hidden()
            method.table = np.zeros(size)
            with pytest.raises(XlstsrError) as err:
                upscale_array(method, _lst(), None, 2)
            msg = str(err.value)
            assert "1 of the 2 dask workers (tcp://10.0.0.1:1)" in msg
            assert "No module named 'xlstsr_review45_hidden'" in msg
            assert "register_pickle_by_value does not send it" in msg
        assert client.runs == 2
    finally:
        cloudpickle.unregister_pickle_by_value(module)


def test_positive_answer_remembered_per_worker_set_and_payload(hidden):
    """Finding 4: a method the workers load is asked about once per worker set and payload,
    not on every call."""
    module, client = hidden
    client.hidden = None  # every worker has the module
    for _ in range(3):
        upscale_array(module.Hidden(), _lst(), None, 2)
    assert client.runs == 1
    client.workers.append("tcp://10.0.0.3:1")  # a worker joined: asked again
    upscale_array(module.Hidden(), _lst(), None, 2)
    upscale_array(module.Hidden(), _lst(), None, 2)
    assert client.runs == 2
    changed = module.Hidden()
    changed.table = np.ones(5)  # another payload: asked again
    upscale_array(changed, _lst(), None, 2)
    assert client.runs == 3
    # a refusal is not remembered: the user uploads the module, the next call asks again
    client.hidden = module.__name__
    refused = module.Hidden()
    refused.table = np.zeros(7)  # a payload not asked about yet
    for runs in (4, 5):
        with pytest.raises(XlstsrError, match="No module named"):
            upscale_array(refused, _lst(), None, 2)
        assert client.runs == runs


def test_remembered_yes_forgotten_when_the_workers_restart(hidden):
    """Review 45f/1: workers restarted on the same addresses (client.restart(),
    --worker-port) are asked again: a yes remembered by address let a restarted worker without
    the module die on the first task."""
    module, client = hidden
    client.hidden = None
    upscale_array(module.Hidden(), _lst(), None, 2)
    upscale_array(module.Hidden(), _lst(), None, 2)
    assert client.runs == 1
    client.restarts += 1  # same addresses, new processes: the module uploaded before is gone
    client.hidden = module.__name__
    with pytest.raises(XlstsrError, match="No module named"):
        upscale_array(module.Hidden(), _lst(), None, 2)
    assert client.runs == 2


def test_package_advice_zips_the_package_and_asks_once(tmp_path):
    """Findings 3 and 4 on a LocalCluster: a class of a package's ``__init__.py`` is advised a
    zip of the package (followed, the method runs; the old advice, the ``__init__.py``, left it
    refused), and the workers are asked once per worker set."""
    import logging
    import shutil

    distributed = pytest.importorskip("distributed")
    pkg = tmp_path / "src" / "pkg45r"
    pkg.mkdir(parents=True)
    (pkg / "__init__.py").write_text(_CODE.replace('"hidden45r"', '"inpkg45r"'))
    with distributed.LocalCluster(n_workers=1, threads_per_worker=1, processes=True,
                                  dashboard_address=None, silence_logs=logging.CRITICAL) as cl, \
            distributed.Client(cl) as client:
        sys.path.insert(0, str(pkg.parent))  # after the worker started: it lacks the package
        try:
            import pkg45r

            with pytest.raises(XlstsrError) as err:
                upscale_array(pkg45r.Hidden(), _lst(), None, 2)
            msg = str(err.value)
            assert "No module named 'pkg45r'" in msg
            assert "__init__.py" not in msg
            assert (f"shutil.make_archive('pkg45r', 'zip', {str(pkg.parent)!r}, 'pkg45r')"
                    in msg)
            assert "client.upload_file('pkg45r.zip')" in msg
            # the advice followed (the archive written under tmp_path, not the working dir)
            archive = shutil.make_archive(str(tmp_path / "pkg45r"), "zip", str(pkg.parent),
                                          "pkg45r")
            client.upload_file(archive)

            runs = []
            run = client.run

            def counted(*args, **kwargs):
                runs.append(args[0])
                return run(*args, **kwargs)

            client.run = counted  # counts the questions (the client is not under test)
            for _ in range(3):
                out = upscale_array(pkg45r.Hidden(), _lst(), None, 2)
            assert len(runs) == 1
            assert np.array_equal(client.compute(out).result(timeout=30),
                                  np.full((1, 32, 32), 300.0, dtype=np.float32))
            cl.scale(2)  # a changed worker set: asked again (the upload reaches the new one)
            client.wait_for_workers(2, timeout=60)
            upscale_array(pkg45r.Hidden(), _lst(), None, 2)
            upscale_array(pkg45r.Hidden(), _lst(), None, 2)
            assert len(runs) == 2
        finally:
            sys.path.remove(str(pkg.parent))
            sys.modules.pop("pkg45r", None)

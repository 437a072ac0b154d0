"""deserialize_model in a process that cannot import the model's class (a dask worker without
the user's module): an XlstsrError naming the module and the fixes, not a bare
ModuleNotFoundError; the error survives pickling (dask sends it back to the client)."""

from __future__ import annotations

import importlib
import pickle
import sys
import textwrap

import pytest

torch = pytest.importorskip("torch")

from xlstsr.errors import XlstsrError  # noqa: E402
from xlstsr.nn.runtime import deserialize_model, serialize_model  # noqa: E402

_SOURCE = textwrap.dedent(
    """
    import torch

    class {cls}(torch.nn.Module):
        def __init__(self):
            super().__init__()
            self.c = torch.nn.Conv2d(1, 1, 3, padding=1)

        def forward(self, x):
            return self.c(x)
    """
)


def _payload_from_user_module(tmp_path, monkeypatch, modname: str) -> bytes:
    """serialize_model of a model whose class lives in ``modname`` (a file in tmp_path on
    sys.path, importable while serialising: cloudpickle sends the class by reference)."""
    (tmp_path / f"{modname}.py").write_text(_SOURCE.format(cls="Net"))
    monkeypatch.syspath_prepend(str(tmp_path))
    mod = importlib.import_module(modname)
    try:
        return serialize_model(mod.Net())
    finally:
        sys.modules.pop(modname, None)


def test_missing_module_names_module_and_fixes(tmp_path, monkeypatch):
    modname = "xlstsr_fixes39_usermodels"
    payload = _payload_from_user_module(tmp_path, monkeypatch, modname)
    monkeypatch.setattr(sys, "path", [p for p in sys.path if p != str(tmp_path)])
    importlib.invalidate_caches()
    with pytest.raises(XlstsrError) as info:
        deserialize_model(payload, "cpu")
    msg = str(info.value)
    assert repr(modname) in msg
    assert "client.upload_file" in msg and "torch.jit.script" in msg
    assert isinstance(info.value.__cause__, ModuleNotFoundError)

    # dask pickles a task's exception back to the client: type and message survive
    back = pickle.loads(pickle.dumps(info.value))
    assert type(back) is type(info.value) and str(back) == msg


def test_class_missing_from_module_is_clear(tmp_path, monkeypatch):
    # the worker has the module but another version of it (the class renamed or not yet there)
    modname = "xlstsr_fixes39_oldmodels"
    payload = _payload_from_user_module(tmp_path, monkeypatch, modname)
    (tmp_path / f"{modname}.py").write_text(_SOURCE.format(cls="Other"))
    importlib.invalidate_caches()
    with pytest.raises(XlstsrError, match=r"client\.upload_file") as info:
        deserialize_model(payload, "cpu")
    assert "Net" in str(info.value)
    sys.modules.pop(modname, None)


def test_importable_module_still_loads(tmp_path, monkeypatch):
    modname = "xlstsr_fixes39_okmodels"
    payload = _payload_from_user_module(tmp_path, monkeypatch, modname)
    back = deserialize_model(payload, "cpu")  # still on sys.path: imported again
    assert type(back).__module__ == modname and not back.training
    sys.modules.pop(modname, None)

"""A model's fingerprint: the SHA-256 of everything that decides its outputs.

:func:`weights_hash` names a model in the per-process model cache, in dask's task keys and in
the resume record of :func:`xlstsr.upscale_to_zarr`: the same model built twice, in any
process, gets one hash; two models that compute different outputs never share one (weights,
buffers, structure, forward code, what any module's functions and attributes hold, and the
module-level constants and helper functions the user's code reads), with two exceptions: a
global the user's code reads that holds a list, a dict or another object is not hashed
(:func:`_globals_bytes`), and neither is a private attribute holding a tensor, an array or a
list, dict or tuple of data (a cache or a log the forward may fill): those are warned of, with
advice that makes them part of the hash (:func:`_warn_private_data`).

Examples
--------
>>> import torch
>>> weights_hash(torch.nn.Conv2d(1, 1, 3)) == weights_hash(torch.nn.Conv2d(1, 1, 3))
False
>>> torch.manual_seed(0); a = torch.nn.Conv2d(1, 1, 3)  # doctest: +ELLIPSIS
<...>
>>> torch.manual_seed(0); b = torch.nn.Conv2d(1, 1, 3)  # doctest: +ELLIPSIS
<...>
>>> weights_hash(a) == weights_hash(b)
True
"""

from __future__ import annotations

import contextlib
import copy
import copyreg
import functools
import hashlib
import inspect
import os
import re
import sys
import sysconfig
import threading
import types
import weakref
from typing import Any

import numpy as np

__all__ = ["weights_hash"]


def _closure_bytes(fn: Any, depth: int, walk: _Walk) -> bytes:
    """The values a library module's forward closure holds: plain values by their repr (as
    before: the hashes of the bundled models, whose forwards hold none other, stay as they
    were), any other value (a numpy scalar, a tensor, a function) by :func:`_value_bytes` - it
    was left out, and two models one factory made with different such values shared one cache
    entry. (A user's class is hashed whole, closures included: :func:`_class_bytes`.)"""
    import torch

    plain = (bool, int, float, complex, str, bytes, type(None), torch.dtype)
    vals, others = [], []
    for cell in getattr(fn, "__closure__", None) or ():
        try:
            v = cell.cell_contents
        except ValueError:  # an empty cell
            continue
        if isinstance(v, plain) or (isinstance(v, tuple) and all(isinstance(x, plain) for x in v)):
            vals.append(repr(v))
        else:
            others.append(_value_bytes(v, depth + 1, walk))
    out = ";".join(vals).encode()
    return out + (b"closure(" + b",".join(others) + b")" if others else b"")


def weights_hash(model: Any) -> str:
    """SHA-256 (32 hex chars) of a module's class, structure, protocol attributes, forward code,
    every parameter and buffer (non-persistent ones too), the settings of torch's modules their
    repr hides (:func:`_hidden_settings`), TorchScript modules' code and attributes
    (:func:`_script_bytes`, :func:`_script_attributes`), the functions any module holds, its
    forward hooks (:func:`_hooks`) and the values modules hold in attributes
    (:func:`_attributes`): the same for the same model built in any process (same code, same
    weights), so it keys caches and resume checks.

    Attributes hashed by value: every public attribute of a user-defined module (a number, a list, a
    dict, a tensor...); a value set from outside on one of torch's or xlstsr's modules, one its
    class's code never names (``self.c.gain = 5.0``; :func:`_extras`), public, or private as below;
    and a private attribute that holds a plain value, a number, string, bool or a flat tuple of
    them, where the code names it: a user module's own class's code, or for a value set on torch's
    module the code of any of the model's own classes (``self._offset = 3.0``, ``self.c._gain =
    5.0``: :func:`_private_bytes`). Any other private value is left out, so that the hash stays the
    same before and after the model ran (``self._val_losses`` that a forward appends to,
    ``self._grid`` it builds, ``self._x = self._x.to(device)``) and for a fresh instance loaded with
    the same weights (a resume job): ``None``, a module (hashed as a submodule), an object, and the
    data the code may use as a constant. A private tensor or array, or a private list, dict or tuple
    holding numbers, tensors or arrays (nested ones too), the model's code names, is warned of once
    per user's class (:func:`_warn_private_data`), with advice that makes it part of the hash: a
    buffer, a public attribute, a tuple of numbers. The other private attributes of torch's and
    xlstsr's modules are theirs (in repr, the weights, :func:`_hidden_settings`).

    A quantized model's packed weights (``torch.ao.quantization.quantize_dynamic``) are hashed
    by their stored integers and quantization parameters (:func:`_quantized_bytes`). A
    framework's modules (:data:`_LIBRARY_MODULES`: a ``torchmetrics`` metric a LightningModule
    holds) are library modules. A metric's running state (its ``add_state`` values, filled in
    each validation step or by a forward through it) is not the model's, in torchmetrics' own
    classes and the user's subclasses alike (:func:`_metric_states`); the values those states
    start from and torchmetrics' own metrics' settings (``squared``, :func:`_metric_settings`)
    are. A scripted quantized model's packed weights are hashed by their state
    (:func:`_script_object_bytes`).

    A user's module class (not torch's, xlstsr's or a framework's) is hashed whole
    (:func:`_class_bytes`): every method, the class's data and the values its methods' closures
    hold, so that a class redefined in a notebook with an edited constant or helper method gets
    a hash of its own. The
    module-level globals the user's functions read (``GAIN = 1.0``, a helper function, a tuple
    of coefficients, an array) are hashed too, recursively through the user's helper functions;
    globals holding lists, dicts or other objects are not (:func:`_globals_bytes`).

    Values are hashed by their content (:func:`_value_bytes`): functions by their code,
    defaults and closure values (``functools.partial`` by its function and arguments, builtins
    such as ``torch.tanh`` by name), tensors and arrays by dtype, shape and values, sets by their
    sorted elements, modules held in lists or dicts by their content, other objects by their
    class and attributes (:func:`_object_bytes`). Each module or object is hashed once per call:
    a second reference to it, or one back to an object being hashed, is hashed by its order of
    first appearance (blocks holding plain lists of their siblings cost one pass over the
    weights, and cycles end the same way in every process). Only an object nothing describes (a
    generator, an open file) is hashed by its identity in this process: two models holding
    different such objects never share a cache entry, but the hash then differs between
    processes (a resume check refuses it) and between copies of the model.

    A traced module (``torch.jit.trace``) is hashed as its saved archive loads
    (:func:`_as_loaded`): the same before and after ``torch.jit.save``/``load`` and
    :func:`~xlstsr.nn.runtime.serialize_model`/``deserialize_model``, inside a plain module too."""
    _warn_private_data(model)
    return _module_hash(_as_loaded(model), 0, _Walk())


def _as_loaded(model: Any) -> Any:
    """``model`` with each traced module (``torch.jit.trace``'s ``TracedModule``) in the form its
    saved archive loads as (a ``RecursiveScriptModule`` over the same compiled module): the
    in-memory trace's Python class, repr and wrapper forward are not what ``torch.jit.load``
    gives, and a traced model's hash changed across a save and load. A plain module holding
    one is a shallow copy with that child replaced (the model itself is left as it is); a
    model without a trace is returned as it is, so other hashes do not change."""
    import torch

    traced = getattr(getattr(torch.jit, "_trace", None), "TracedModule", None)
    if traced is None or not isinstance(model, torch.nn.Module):
        return model
    if isinstance(model, traced):
        return torch.jit._recursive.wrap_cpp_module(model._c)
    if isinstance(model, torch.jit.ScriptModule) or not any(
            isinstance(s, traced) for s in model.modules()):
        return model
    out = copy.copy(model)
    object.__setattr__(out, "_modules", {k: None if v is None else _as_loaded(v)
                                         for k, v in model._modules.items()})
    return out


#: the user's module classes already warned of by :func:`_warn_private_data` (a class
#: redefined in a notebook is warned of again)
_WARNED_CLASSES: weakref.WeakSet[type] = weakref.WeakSet()
_WARNED_LOCK = threading.Lock()


def _warn_private_data(model: Any) -> None:
    """Warn, once per user's module class, where a module of ``model`` holds data that
    :func:`_private_bytes` leaves out in a private attribute the code of the model's own classes
    names (:func:`_own_code_names`: not a framework's bookkeeping): a tensor or a numpy array, or a
    list, dict or tuple holding numbers, tensors or arrays (nested ones too; a tuple of plain
    numbers is hashed). The same for a private attribute set on one of torch's or xlstsr's modules
    the user's module holds (``self.c._gain = torch.tensor(5.0)``: :func:`_extras`), warned of under
    the user's class. Two models differing only there share a fingerprint (the model cache, the
    resume check of ``upscale_to_zarr``). Telling a constant (``self._offset = torch.tensor(5.0)``,
    ``self._coef = [5.0, 0.0]``) from a cache or a log the forward fills (``self._val_losses``) is
    not reliable from the code (aliases, ``getattr``, helpers, ``self._x = self._x.to(device)``), so
    the author is told how to make it part of the model: a buffer, or a public attribute
    (:func:`_attributes` hashes its value), and hashing them stays as it was: a forward that fills
    them leaves the hash alone."""
    import torch

    if not isinstance(model, torch.nn.Module):
        return
    # each module's owner: itself when it is the user's, else the user's module holding it (a
    # parent's code reads its child's private value: ``self.c._gain``)
    owners: dict[str, tuple[type, str] | None] = {}
    # the model's own parameters and buffers are hashed as weights: a private list or tuple
    # holding only them (``list(self.backbone.parameters())``) holds no unhashed data
    weights = {id(t) for t in model.parameters()} | {id(t) for t in model.buffers()}
    found: dict[type, list[tuple[str, str, Any, Any]]] = {}
    own_classes: dict[type, None] = {}
    for path, m in model.named_modules():
        values = list(vars(m).items())
        if _own(m):
            own_classes[type(m)] = None
            owners[path] = (type(m), path)
            keys: Any = {k for k, _ in values if k not in _module_bookkeeping()}
        else:
            owners[path] = owners.get(path.rpartition(".")[0]) if path else None
            keys = set(_extras(m))
        owner = owners[path]
        if owner is None or owner[0] in _WARNED_CLASSES:
            continue
        rel = path[len(owner[1]):].lstrip(".")  # the module's path from its owner
        for k, v in sorted(values, key=lambda kv: kv[0]):
            if k.startswith("_") and k in keys and _unhashed_data(v, weights=weights):
                found.setdefault(owner[0], []).append((rel, k, v, m))
    if not found:
        return
    named: frozenset[str] = frozenset().union(*(_own_code_names(c) for c in own_classes))
    for cls, attrs in found.items():
        attrs = [a for a in attrs if a[1] in named]
        with _WARNED_LOCK:
            if not attrs or cls in _WARNED_CLASSES:
                continue
            _WARNED_CLASSES.add(cls)
        from ..errors import warn

        warn(_private_data_message(cls, attrs), UserWarning)


def _unhashed_data(v: Any, depth: int = 0, budget: list[int] | None = None,
                   weights: set[int] | frozenset[int] = frozenset()) -> bool:
    """Whether a private attribute's value holds data :func:`_private_bytes` leaves out: a
    tensor or an array (not a parameter: registered ones are hashed), or a list, dict, tuple
    or set holding a number, a tensor or an array (nested ones too; not a tuple of plain
    numbers, which is hashed). ``budget``: the values left to look at (10,000 in all);
    ``weights``: the ids of the model's parameters and buffers (hashed as weights: a list of
    them, ``list(self.backbone.parameters())``, holds no unhashed data)."""
    import torch

    if isinstance(v, torch.Tensor) and id(v) in weights:
        return False
    if isinstance(v, (torch.Tensor, np.ndarray)):
        # a parameter set directly is registered (hashed); one in a plain list is not
        return depth > 0 or not isinstance(v, torch.nn.Parameter)
    if depth == 0 and _private_plain(v):
        return False  # hashed
    if depth > 0 and _number(v):
        return True
    if depth >= 8 or not isinstance(v, (list, tuple, dict, set, frozenset)):
        return False
    budget = [10_000] if budget is None else budget
    # a copy (in one step): a forward running in another thread may fill a dict or a set
    items = v if isinstance(v, (list, tuple)) else list(v.values() if isinstance(v, dict) else v)
    for x in items:
        budget[0] -= 1
        if budget[0] < 0:
            return False
        if _unhashed_data(x, depth + 1, budget, weights):
            return True
    return False


def _number(v: Any) -> bool:
    """Whether ``v`` is a plain number (a bool or a numpy scalar too)."""
    return isinstance(v, _PRIVATE_PLAIN) and not isinstance(v, (str, bytes))


def _private_data_message(cls: type, attrs: list[tuple[str, str, Any, Any]]) -> str:
    """The warning of :func:`_warn_private_data` for the private attributes ``attrs`` (each as
    the path of its module from ``cls``'s, its name, its value and its module), with advice
    for each that works when followed: a tensor or an array registered as a buffer, a list,
    dict or tuple made a public attribute (hashed by content: :func:`_attributes`), a list of
    plain numbers also a tuple (hashed)."""
    import torch

    what = ", ".join(repr(f"{rel}.{k}" if rel else k) for rel, k, _, _ in attrs)
    direct = [isinstance(v, (torch.Tensor, np.ndarray)) for _, _, v, _ in attrs]
    kinds = [k for k, on in (("a tensor or numpy array", any(direct)),
                             ("numbers, tensors or arrays in a list, dict or tuple",
                              not all(direct))) if on]
    advice = []
    for (rel, k, v, m), is_direct in list(zip(attrs, direct))[:3]:
        # a child of an nn.Sequential or nn.ModuleList is indexed (``self.body[0]``); a name
        # that is no identifier (an nn.ModuleDict's key) is reached by its path
        parts = rel.split(".") if rel else []
        if all(p.isdigit() or p.isidentifier() for p in parts):
            self = "self" + "".join(f"[{p}]" if p.isdigit() else f".{p}" for p in parts)
        else:
            self = f"self.get_submodule({rel!r})"
        if is_direct:
            value = "tensor" if isinstance(v, torch.Tensor) else "torch.as_tensor(array)"
            advice.append(f"register {k!r} as a buffer: {self}.register_buffer({k!r}, {value})")
            continue
        public = k.lstrip("_") or "value"
        known = _torch_code_names(type(m)) if not _own(m) else frozenset()
        while not public.isidentifier() or hasattr(m, public) or public in known:
            public += "_value"  # `_bias` on a Conv2d: `bias` is its parameter
        tip = f"make {k!r} public: {self}.{public} (in __init__ and where it is read)"
        if isinstance(v, (list, tuple)) and v and all(_number(x) for x in v):
            numbers = repr(tuple(v)) if len(v) <= 6 else "tuple(...)"
            tip += f", or a tuple of numbers: {self}.{k} = {numbers}"
        advice.append(tip)
    more = "; ..." if len(attrs) > 3 else ""
    return (
        f"{cls.__qualname__} holds {' and '.join(kinds)} in the private attribute(s) {what}, "
        "which is not part of the model's fingerprint (xlstsr.nn.fingerprint.weights_hash: the "
        "model cache and upscale_to_zarr's resume check key on the weights, buffers, code, "
        "public attributes and plain private values): two models differing only there share a "
        "cache entry and a resume. If it decides the output (a calibration constant), make it "
        "part of the fingerprint in __init__: " + "; ".join(advice) + more + " (buffers and "
        "public attributes are hashed; persistent=False keeps a buffer out of the state_dict); "
        "a cache or a log the forward fills needs nothing."
    )


#: how deep :func:`_value_bytes` follows nested values (a bound on the recursion); deeper
#: values are hashed by their identity
_MAX_DEPTH = 32

#: the values (containers, objects, functions, modules) one :func:`weights_hash` call follows
#: before hashing the rest by identity: a bound on the cost of pathological object graphs
#: (tuples sharing sub-tuples, sets of objects holding sets of each other)
_MAX_NODES = 100_000


class _Walk:
    """The state of one :func:`weights_hash` call: the modules, objects, functions and classes
    met so far, each numbered in order of first appearance and kept alive (no other object can
    take its id during the call), and the count of values followed (shared with forks)."""

    def __init__(self, parent: _Walk | None = None) -> None:
        self.parent = parent
        self.seen: dict[int, tuple[int, Any]] = {}
        self.next = 0 if parent is None else parent.next
        self.nodes = [0] if parent is None else parent.nodes

    def ref(self, v: Any) -> bytes | None:
        """The reference to ``v`` when it was met before in this walk (or a parent), else None."""
        walk: _Walk | None = self
        while walk is not None:
            hit = walk.seen.get(id(v))
            if hit is not None:
                return f"<ref #{hit[0]}>".encode()
            walk = walk.parent
        return None

    def add(self, v: Any) -> None:
        self.seen[id(v)] = (self.next, v)
        self.next += 1

    def fork(self) -> _Walk:
        """A walk for one element of a set or one key of a dict: it sees what this one has met,
        and what it meets is forgotten after, so that an element's bytes do not depend on the
        order the set is iterated in (string hashing: different in each process)."""
        return _Walk(self)

    def spend(self) -> bool:
        """Count one value followed; False once the call has followed ``_MAX_NODES``."""
        self.nodes[0] += 1
        return self.nodes[0] <= _MAX_NODES


#: the protocol attributes (:mod:`xlstsr.methods.torch_model`), hashed for every module
_PROTOCOL = ("factor", "n_guide", "receptive_field", "spatially_local", "accepts_nan_guide")


def _module_hash(model: Any, depth: int, walk: _Walk) -> str:
    """:func:`weights_hash` of a module met at ``depth`` of ``walk``."""
    import torch

    h = hashlib.sha256()
    h.update(f"{type(model).__module__}.{type(model).__qualname__}".encode())
    h.update(repr(model).encode())
    for attr in _PROTOCOL:
        h.update(f"{attr}={getattr(model, attr, None)!r};".encode())
    subs = list(model.modules())
    script_names = (_script_attribute_table(model)
                    if any(isinstance(s, torch.jit.ScriptModule) for s in subs) else {})
    user_names: frozenset[str] | None = None
    for sub in subs:  # its weights are hashed below: a value naming one refers to it by number
        if walk.ref(sub) is None:
            walk.add(sub)
    for sub in subs:  # the code: two classes with one name differ here
        if _own(sub):
            # the user's class whole: every method (forward and the helpers it calls), the
            # class's data (a constant edited in a notebook cell that is run again) and the
            # values the methods' closures hold (a factory's numpy scalar or tensor), each by
            # its content; a class met before (blocks of one class) by its number
            cls = type(sub)
            ref = walk.ref(cls)
            if ref is None:
                walk.add(cls)
                ref = _class_bytes(cls, depth, walk, user=True)
            h.update(b"class:" + ref)
            h.update(_attributes(sub, depth, walk))
            continue
        if isinstance(sub, torch.jit.ScriptModule):
            # scripted, traced (in memory too: a TracedModule has a Python forward) or loaded:
            # their repr shows no code
            h.update(_script_bytes(sub))
            attrs = _script_attributes(sub, depth, walk, script_names.get(id(sub)))
            if attrs:  # only then: the hashes of scripts without such values stay as they were
                h.update(b"script-attributes:" + attrs)
        try:
            code = getattr(type(sub).forward, "__code__", None)
        except AttributeError:  # TorchScript modules: their code is hashed above
            code = None
        if code is not None:
            if any(_special_const(c) for c in code.co_consts):
                h.update(_code_bytes(code))  # a generator's code, a set: repr is unstable
            else:  # as before: the hashes of the bundled models stay as they were
                h.update(code.co_code)
                h.update(repr(code.co_consts).encode())
            h.update(_closure_bytes(type(sub).forward, depth, walk))
        if user_names is None and any(k.startswith("_") for k in _extras(sub)):
            # a private value set on torch's module is hashed where the user's code names it
            user_names = frozenset().union(
                *(_own_code_names(c) for c in {type(s): None for s in subs if _own(s)}))
        h.update(_attributes(sub, depth, walk, user_names or frozenset()))
        h.update(_hidden_settings(sub))
    state = model.state_dict()
    for k, v in state.items():
        if not isinstance(v, torch.Tensor):
            # a quantized module's packed parameters (a tuple of its quantized weight and
            # bias) and their dtype: by content (they crashed the hash), keyed by name
            h.update(k.encode())
            h.update(_value_bytes(v, depth, walk))
            continue
        if v.is_meta:
            from ..errors import XlstsrError

            raise XlstsrError(
                f"the model's weights are on the 'meta' device (shapes without data, e.g. {k!r}): "
                "load its weights first (`model.to_empty(device='cpu')` then "
                "`model.load_state_dict(...)`)."
            )
        h.update(k.encode())
        h.update(_tensor_bytes(v))
    # buffers registered with persistent=False are not in state_dict() but change the output
    # (two user models differing only there shared one cache entry); only when there are any,
    # so the hashes of models without them (the bundled ones) stay as they were
    for k, v in model.named_buffers():
        if k not in state and v is not None and not v.is_meta:
            h.update(f"buffer:{k}".encode())
            h.update(_tensor_bytes(v))
    return h.hexdigest()[:32]


#: TorchScript's per-process numbering of the classes it compiles (``___torch_mangle_7``): the
#: same archive loaded twice gets other numbers
_MANGLE = re.compile(r"___torch_mangle_\d+\.?")


def _script_bytes(sub: Any) -> bytes:
    """A TorchScript module's code: every method's TorchScript source (mangled class names
    left out) and the tensor constants a traced forward holds (``CONSTANTS.c0``). Its repr
    shows neither: two archives of one network with another forward (nearest against bilinear
    upsampling, the same weights) shared one hash, and the model cache ran the first for the
    second."""
    c = getattr(sub, "_c", None)
    names = c._method_names() if hasattr(c, "_method_names") else ["forward"]
    parts = []
    for name in sorted(names):
        try:
            # from the compiled module: a traced submodule's own `forward` is a Python wrapper
            code, consts = c._get_method(name).code_with_constants
        except (AttributeError, RuntimeError):  # not compiled: no code to hash
            continue
        parts.append(f"script:{name}:".encode() + _MANGLE.sub("", code).encode())
        # a method's constants come as a dict, a module's as a ConstMap holding one
        mapping = getattr(consts, "const_mapping", consts)
        if not isinstance(mapping, dict):
            mapping = {}
        for k in sorted(mapping):
            v = mapping[k]
            parts.append(f"const:{k}=".encode()
                         + (_tensor_bytes(v) if hasattr(v, "detach") else repr(v).encode()))
    return b"".join(parts)


def _script_attributes(sub: Any, depth: int, walk: _Walk,
                       names: list[str] | None = None) -> bytes:
    """A TorchScript module's own attributes that are not parameters, buffers or submodules
    (``self.k = k``, read by the compiled code, neither code, constant nor weight), hashed as a
    user's module's are (:func:`_attributes`): a public one by its value, a private one when it
    holds a plain value (:func:`_private_bytes`; a private list or tensor may be a cache the
    forward fills); on a scripted torch, xlstsr or framework module, only the values its class's
    code never names (set from outside, as :func:`_extras`). Two scripts differing only there
    shared one hash: the second upscale returned the first model's output. An attribute
    holding a TorchScript object with a state (a scripted quantized ``Conv2d``'s or ``Linear``'s
    ``_packed_params``: its weights) is hashed by that state whatever its name
    (:func:`_script_object_bytes`), and so is its output ``scale`` and ``zero_point`` (in the
    Python form's ``state_dict``). Empty when there are none (``training`` and the
    bookkeeping every module has are not hashed), so the hashes of such scripts stay as they
    were. ``names``: the module's attribute names (:func:`_script_attribute_table`), else
    listed here."""
    c = getattr(sub, "_c", None)
    if c is None or not hasattr(c, "getattr"):
        return b""
    skip = {"training", *_module_bookkeeping()}
    library = _script_library_class(c)
    if library is not None:
        # a scripted torch/xlstsr module: its class's own settings (``Conv2d.transposed``) as
        # for its Python form (repr, code); a value set on it from outside is hashed
        skip.update(_torch_code_names(library))
    quantized = library is not None and ".quantized" in library.__module__
    weights = set()
    for table in ("_parameters", "_buffers", "_modules"):
        table = getattr(sub, table, None)
        if table is not None:
            weights.update(table.keys())
    parts = []
    for k in _script_attribute_names(c) if names is None else names:
        if k in weights or k == "training":
            continue
        v = c.getattr(k)
        if _script_object(v):
            # a scripted quantized module's packed weights (``_packed_params``, a name its
            # class's code uses): neither parameters nor buffers, so hashed here by their
            # state; two scripted quantized models with other weights shared one hash
            parts.append(f"{k}:script-object=".encode() + _script_object_bytes(v, depth, walk)
                         + b";")
            continue
        if k in skip and not (k in _QUANTIZED_SETTINGS and quantized):
            continue
        if k.startswith("_"):
            parts.append(_private_bytes(k, v, depth, walk))
        else:
            parts.append(f"{k}=".encode() + _value_bytes(v, depth, walk) + b";")
    return b"".join(parts)


#: the output quantization of a scripted quantized torch module (``torch.ao.nn.quantized``'s
#: ``Conv2d``, ``Linear``): in its Python form's ``state_dict``, a plain attribute when scripted
_QUANTIZED_SETTINGS = frozenset({"scale", "zero_point"})


def _script_object(v: Any) -> bool:
    """Whether an attribute of a compiled module holds a TorchScript object (not a module) with
    a state: ``torch.classes.quantized.Conv2dPackedParamsBase`` and the like."""
    import torch

    if not isinstance(v, torch.ScriptObject) or isinstance(v, torch._C.ScriptModule):
        return False
    kind = getattr(v, "_type", None)
    try:
        return "__getstate__" in kind().method_names()
    except (AttributeError, RuntimeError, TypeError):  # another torch: no class listing
        return False


def _script_object_bytes(v: Any, depth: int, walk: _Walk) -> bytes:
    """A TorchScript object by its class's name and its ``__getstate__()`` (packed quantized
    parameters: their version, quantized weight and bias tensors and settings; quantized tensors
    by :func:`_quantized_bytes`)."""
    kind = _MANGLE.sub("", str(v._type().qualified_name()))
    return kind.encode() + b"(" + _value_bytes(v.__getstate__(), depth, walk) + b")"


def _script_library_class(c: Any) -> type | None:
    """The class of torch's, xlstsr's or a framework's (:data:`_LIBRARY_MODULES`) a compiled
    module ``c`` was scripted from (``__torch__.torch.nn.modules.conv.Conv2d``), when its module
    is imported; None for the user's classes."""
    name = _MANGLE.sub("", str(getattr(c, "qualified_name", ""))).removeprefix("__torch__.")
    module, _, qual = name.rpartition(".")
    if module.split(".")[0] not in _LIBRARY_MODULES:
        return None
    cls = getattr(sys.modules.get(module), qual, None)
    return cls if isinstance(cls, type) else None


def _script_attribute_table(model: Any) -> dict[int, list[str]]:
    """The attribute names of every TorchScript module in ``model`` (by ``id``), sorted, from one
    call of torch's debug listing per outermost scripted module: each call lists the whole
    subtree, and one per submodule took 14.8 s on a chain 300 modules deep (0.6 s before
    scripts' attributes were hashed). Empty without that listing (another torch: each module
    is then listed on its own by :func:`_script_attribute_names`)."""
    import torch

    iterators = getattr(torch._C, "_jit_debug_module_iterators", None)
    table: dict[int, list[str]] = {}
    if iterators is None:
        return table
    for _, top in model.named_modules():
        c = getattr(top, "_c", None)
        if not isinstance(top, torch.jit.ScriptModule) or id(top) in table or c is None:
            continue
        groups: dict[str, list[str]] = {}
        for name, _ in iterators(c)["named_attributes_r"]:  # dotted: ``next.c.weight``
            path, _, k = name.rpartition(".")
            groups.setdefault(path, []).append(k)
        for path, sub in top.named_modules():
            if path in groups:  # else (a path the listing does not have) listed on its own
                table.setdefault(id(sub), sorted(groups[path]))
    return table


def _script_attribute_names(c: Any) -> list[str]:
    """The attribute names of a compiled module ``c`` (a ScriptModule's ``_c``), sorted: its
    ClassType's listing has no Python binding; torch's debug listing, or else the names its
    ``dump_to_str`` prints in the module's own ``attributes`` block."""
    import torch

    iterators = getattr(torch._C, "_jit_debug_module_iterators", None)
    if iterators is not None:
        return sorted(name for name, _ in iterators(c)["named_attributes"])
    names, inside = [], False
    for line in c.dump_to_str(False, False, False).splitlines():
        if line == "  attributes {":
            inside = True
        elif inside and line == "  }":
            break
        elif inside:
            m = re.match(r"    (\w+) = ", line)
            if m:
                names.append(m.group(1))
    return sorted(names)


def _hidden_settings(sub: Any) -> bytes:
    """The settings of a torch module that its repr does not show: plain public
    values (bools, numbers, strings, None, tuples of them) that are arguments of its class's
    ``__init__`` and differ from their default there, e.g. ``nn.Upsample(align_corners=True)``
    or ``nn.AvgPool2d(count_include_pad=False)``. Two user models differing only there shared
    one hash (and one cache entry). Values the repr shows (``padding=(1, 1)``) and defaults are
    left out, so the hashes of models without such settings (the bundled ones) stay as they
    were; the user's own modules' values are hashed whole (:func:`_attributes`)."""
    if type(sub).__module__.split(".")[0] != "torch":
        # the user's modules are hashed whole; xlstsr's own settings are fixed by their layers'
        # shapes, and hashing them changed the hashes (resume records) of trained models
        return b""
    try:
        params = inspect.signature(type(sub).__init__).parameters
    except (TypeError, ValueError):  # a builtin __init__: no arguments to read
        return b""
    shown = None
    parts = []
    for k, v in sorted(vars(sub).items()):
        p = params.get(k)
        if k.startswith("_") or k == "training" or p is None or p.default is p.empty:
            continue
        if not (isinstance(v, _PLAIN) or (
                isinstance(v, tuple) and all(isinstance(x, _PLAIN) for x in v))):
            continue
        d = p.default
        if _same(v, d) or (isinstance(v, tuple) and not isinstance(d, tuple)
                           and all(_same(x, d) for x in v)):
            continue  # the default (a tuple of it: ``dilation=1`` is stored as ``(1, 1)``)
        if shown is None:
            shown = sub.extra_repr()
        if any(re.search(r"(?:^|[^\w.])" + re.escape(f"{k}={r}") + r"(?=$|[,)\s])", shown)
               for r in (repr(v), str(v))):
            continue  # in repr already: hashed with it
        parts.append(f"setting:{k}={v!r};".encode())
    return b"".join(parts)


def _same(a: Any, b: Any) -> bool:
    """``a == b`` of the same type family (``True`` is not the default ``1``)."""
    return isinstance(a, bool) == isinstance(b, bool) and a == b


def _own(module: Any) -> bool:
    """Whether a module's class is the user's: not torch's, xlstsr's or a framework's
    (:data:`_LIBRARY_MODULES`: a ``torchmetrics`` metric a LightningModule holds is a library
    module, hashed by its class, weights and the values set on it from outside (:func:`_extras`),
    not by its running state: ``update()`` in each validation step changed the model's hash, and a
    resume with the same weights was refused)."""
    return type(module).__module__.split(".")[0] not in _LIBRARY_MODULES


def _special_const(c: Any) -> bool:
    """Whether a code constant's repr is unstable: a nested function's code (it names a memory
    address) or a frozenset (``x in {"a", "b"}``: its order follows string hashing)."""
    if isinstance(c, tuple):
        return any(_special_const(x) for x in c)
    return isinstance(c, (types.CodeType, frozenset))


def _const_bytes(c: Any) -> bytes:
    """A code constant as stable bytes (see :func:`_special_const`), else its repr."""
    if isinstance(c, types.CodeType):
        return _code_bytes(c)
    if isinstance(c, frozenset):
        return b"frozenset{" + b",".join(sorted(_const_bytes(x) for x in c)) + b"}"
    if isinstance(c, tuple) and _special_const(c):
        return b"(" + b",".join(_const_bytes(x) for x in c) + b")"
    return repr(c).encode()


def _code_bytes(code: Any) -> bytes:
    """A code object's bytecode, constants (nested functions' code too, by their bytes: their
    repr names a memory address) and the names it reads (``torch.tanh`` and ``torch.sigmoid``
    differ only there)."""
    consts = b",".join(_const_bytes(c) for c in code.co_consts)
    return (code.co_code + b"consts(" + consts + b")names("
            + ",".join(code.co_names).encode() + b")")


def _tensor_bytes(v: Any) -> bytes:
    """A tensor's dtype, shape and values as bytes (bfloat16 by its bits: numpy has none; a
    quantized tensor by :func:`_quantized_bytes`)."""
    t = v.detach().cpu()
    if t.is_quantized:
        return _quantized_bytes(t)
    t = t.contiguous()
    if t.dtype == torch_bfloat16():
        t = t.view(torch_int16())
    head = f"{t.dtype}{tuple(t.shape)}".encode()
    return head + (t.reshape(-1).view(-1).numpy().tobytes() if t.numel() else b"")


def _quantized_bytes(t: Any) -> bytes:
    """A quantized tensor (``torch.ao.quantization``: a dynamically quantized ``Linear``'s
    weight) by its dtype, shape, scheme, quantization parameters (scale and zero point, per
    tensor or per channel with its axis) and stored integers: numpy has no quantized dtype."""
    import torch

    scheme = t.qscheme()
    if scheme in (torch.per_tensor_affine, torch.per_tensor_symmetric):
        params = f"scale={t.q_scale()!r},zero_point={t.q_zero_point()!r}".encode()
    else:  # per channel
        params = (f"axis={t.q_per_channel_axis()},scales=".encode()
                  + _tensor_bytes(t.q_per_channel_scales()) + b",zero_points="
                  + _tensor_bytes(t.q_per_channel_zero_points()))
    head = f"quantized{t.dtype}{tuple(t.shape)}{scheme}(".encode() + params + b")"
    return head + _tensor_bytes(t.int_repr())


_PLAIN = (bool, int, float, str, type(None))


def torch_bfloat16() -> Any:
    import torch

    return torch.bfloat16


def torch_int16() -> Any:
    import torch

    return torch.int16


#: builtin callables (torch.tanh, a Tensor method, np.tanh): named by module and name, the
#: same object in every process
_BUILTIN_CALLABLES = (types.BuiltinFunctionType, types.MethodDescriptorType,
                      types.WrapperDescriptorType, types.MethodWrapperType,
                      types.ClassMethodDescriptorType, np.ufunc)


def _callable(v: Any) -> bool:
    """Whether ``v`` is a function any module's attribute is hashed by: a Python function or
    method, a ``functools.partial``, a builtin."""
    return isinstance(v, (types.FunctionType, types.MethodType, functools.partial,
                          *_BUILTIN_CALLABLES))


def _attributes(module: Any, depth: int, walk: _Walk,
                user_names: frozenset[str] = frozenset()) -> bytes:
    """The instance attributes that change what a module computes without being parameters,
    buffers or submodules, as stable bytes: functions stored on any module (their code,
    defaults and closure values; a partial's function and arguments; a builtin's name), the
    values of user-defined modules (:func:`_value_bytes`), and the values set on one of torch's
    or xlstsr's modules from outside (:func:`_extras`: ``self.c.gain = 5.0``), hashed as a user
    module's are (public ones by value; private ones that ``user_names``, the names the model's
    own classes' code names, holds, by :func:`_private_bytes`). Two custom models that differ
    only there (a lambda, ``torch.tanh`` for ``torch.sigmoid``, ``self.scale = 2.0``,
    ``self.offsets = [0.5]``, an array of coefficients) must not share a cache entry. Their
    other values contribute nothing here (their state is in repr(), the weights and
    :func:`_hidden_settings`), so the hashes of the bundled models do not depend on this."""
    own = _own(module)
    parts = [_hooks(module, depth, walk)]
    names = _own_code_names(type(module)) if own else frozenset()
    extras = frozenset() if own else frozenset(_extras(module)) | _metric_settings(module)
    states = _metric_states(module)  # a metric's running state, the user's subclass's too
    if states:  # by the values its states start from (``data_range``, a state never updated)
        parts.append(b"metric-defaults:" + _value_bytes(module._defaults, depth, walk) + b";")
    for k, v in sorted(getattr(module, "__dict__", {}).items()):
        if k == "training" or k in _module_bookkeeping() or k in states:
            continue
        if k.startswith("_"):
            # a user's private constant (``self._offset = 3.0``) changes its output as a
            # public one does; other private state (a cache filled on the first forward, a
            # framework's bookkeeping) must not: see :func:`_private_bytes`
            if (k in names) if own else (k in extras and k in user_names):
                parts.append(_private_bytes(k, v, depth, walk))
            continue
        if _callable(v):
            parts.append(f"{k}:".encode() + _value_bytes(v, depth, walk) + b";")
        elif own and (isinstance(v, _PLAIN) or (
                isinstance(v, tuple) and all(isinstance(x, _PLAIN) for x in v))):
            parts.append(f"{k}={v!r};".encode())  # as before: the hashes of such models stay
        elif own or k in extras:
            parts.append(f"{k}=".encode() + _value_bytes(v, depth, walk) + b";")
    return b"".join(parts)


#: packages whose classes' code does not decide which private attributes of a user's module
#: are hashed (:func:`_own_code_names`): their private state is bookkeeping (Lightning's
#: ``_current_fx_name``, ``_device``, ``_trainer`` change with every ``Trainer.fit``)
_FRAMEWORKS = frozenset({"torch", "xlstsr", "lightning", "pytorch_lightning",
                         "lightning_fabric", "torchmetrics", "builtins"})

#: the packages whose modules are library modules, not the user's (:func:`_own`): not
#: ``builtins``, the module of a class defined by ``exec`` in a namespace without ``__name__``
_LIBRARY_MODULES = _FRAMEWORKS - {"builtins"}

#: the plain values a private attribute is hashed by (:func:`_private_bytes`)
_PRIVATE_PLAIN = (bool, int, float, complex, str, bytes, np.bool_, np.number)


def _private_bytes(k: str, v: Any, depth: int, walk: _Walk) -> bytes:
    """A private attribute of a user's module (one its own class code names, see
    :func:`_own_code_names`), hashed only when it holds a plain value: a number, a string, a
    bool, or a tuple of them (``self._offset = 3.0``, ``self._pads = (1, 2)``). Any other
    value is left out: ``None`` (a cache not built yet: ``self._grid = None``, filled on the
    first forward), a tensor or array (a cache once built), a list (mutable: a log the model's
    own steps append to, ``self._val_losses``), a dict, a module (hashed as a submodule), any
    other object. The model's hash then stays the same before and after it
    ran, and for the same weights loaded into a fresh instance (a resume job), which is what
    the model cache and ``upscale_to_zarr(mode='resume')`` key on. (Tensors that decide the
    output belong in buffers, which are hashed; a private tensor, array, or list, dict or tuple
    of data is warned of with that advice: :func:`_warn_private_data`.)"""
    if _private_plain(v):
        return f"{k}=".encode() + _value_bytes(v, depth, walk) + b";"
    return b""


def _private_plain(v: Any) -> bool:
    """Whether :func:`_private_bytes` hashes a private attribute's value: a plain value or a
    non-empty tuple of them."""
    return isinstance(v, _PRIVATE_PLAIN) or (
        isinstance(v, tuple) and bool(v) and all(isinstance(x, _PRIVATE_PLAIN) for x in v))


def _own_code_names(cls: type) -> frozenset[str]:
    """The attribute names (and string constants: ``getattr(self, "_offset")``) the code of a
    user's module class names: the methods, static and class methods and properties of the
    classes in its MRO that are the user's (not torch's, Lightning's, xlstsr's or the standard
    library's; the module's own class always), nested functions and comprehensions included.
    A private attribute is hashed only when one of these names it: Lightning's
    ``_current_fx_name`` or ``_device``, set by ``Trainer.fit`` and read by Lightning's code
    only, are not."""
    names: set[str] = set()
    for i, c in enumerate(cls.__mro__):
        top = str(c.__module__).split(".")[0]
        if i and (top in _FRAMEWORKS or top in sys.stdlib_module_names):
            continue
        _class_code_names(c, names)
    return frozenset(names)


def _class_code_names(c: type, names: set[str]) -> None:
    """Add to ``names`` the names (and string constants) the code of one class's methods, static
    and class methods and properties names, nested functions and comprehensions included."""
    def visit(code: types.CodeType) -> None:
        names.update(code.co_names)
        for x in code.co_consts:
            if isinstance(x, types.CodeType):
                visit(x)
            elif isinstance(x, str):
                names.add(x)

    for x in vars(c).values():
        if isinstance(x, (staticmethod, classmethod)):
            x = x.__func__
        fns = (x.fget, x.fset, x.fdel) if isinstance(x, property) else (x,)
        for fn in fns:
            fn = getattr(fn, "__wrapped__", fn)  # functools.wraps decorators
            code = getattr(fn, "__code__", None)
            if isinstance(code, types.CodeType):
                visit(code)


@functools.lru_cache(maxsize=512)
def _torch_code_names(cls: type) -> frozenset[str]:
    """The names the code of a torch or xlstsr module class names, every class of its MRO
    included (``nn.Module``'s too): the attributes the library's own code sets and reads on its
    instances."""
    names: set[str] = set()
    for c in cls.__mro__:
        _class_code_names(c, names)
    return frozenset(names)


def _extras(module: Any) -> list[str]:
    """The instance attributes of one of torch's or xlstsr's modules that its class's code never
    names: set on it from outside (``self.c.gain = 5.0`` in a user's ``__init__``,
    ``self.net.offset = 2.0`` on a bundled ``ResCNN``; a fresh instance of its class has none),
    sorted. The same for a framework's modules (:data:`_LIBRARY_MODULES`: a torchmetrics metric,
    its states left out). Empty for the user's modules (hashed whole) and for TorchScript
    modules (their state is in their code, weights and attributes: :func:`_script_bytes`,
    :func:`_script_attributes`); the bookkeeping every module has,
    ``training``, the protocol attributes (``nn.Sequential(...).factor = 4``: hashed as such,
    the hashes of such models stay as they were), the ``metadata`` xlstsr records on a model it
    trains or loads (band names, not what the forward computes) and the tensors a forward
    pre-hook recomputes from registered parameters (:func:`_hook_owned`) are never extras."""
    import torch

    if _own(module) or isinstance(module, torch.jit.ScriptModule):
        return []
    known = _torch_code_names(type(module))
    skip = _module_bookkeeping()
    # a torchmetrics metric's states (``add_state``: named in ``_defaults``) are its running
    # state, reset and filled by each epoch, not the model's (persistent ones are weights)
    states = _metric_states(module)
    names = [k for k in getattr(module, "__dict__", {})
             if k not in known and k not in skip and k not in _NOT_EXTRAS and k not in states]
    if names:
        owned = _hook_owned(module)
        names = [k for k in names if k not in owned]
    return sorted(names)


def _metric(module: Any) -> bool:
    """Whether a module is a ``torchmetrics.Metric`` (torchmetrics is imported when it is)."""
    metric = getattr(sys.modules.get("torchmetrics"), "Metric", None)
    return isinstance(metric, type) and isinstance(module, metric)


def _metric_states(module: Any) -> frozenset[str]:
    """The running state of a ``torchmetrics.Metric`` (torchmetrics' own classes and the user's
    subclasses): the names its ``add_state`` calls recorded in ``_defaults``, reset and filled
    in each epoch (and by a forward through the metric), not what the model computes; empty for
    any other module. The values they start from (``_defaults``: ``PeakSignalNoiseRatio``'s
    ``data_range`` is such a state, never updated) are hashed (:func:`_attributes`)."""
    if not _metric(module):
        return frozenset()
    states = getattr(module, "_defaults", None)
    return frozenset(states) if isinstance(states, dict) else frozenset()


def _metric_settings(module: Any) -> frozenset[str]:
    """The settings of one of torchmetrics' own metrics: its public instance values other than
    its running state (:func:`_metric_states`) and functions (hashed as any module's), fixed
    at construction (``MeanSquaredError(squared=False)``, ``PeakSignalNoiseRatio(data_range=
    255)``). Its class's code names them, so they are no extras, and its repr shows none:
    two models whose forward uses a metric with other settings shared one hash."""
    if not _metric(module):
        return frozenset()
    states = _metric_states(module)
    return frozenset(k for k, v in getattr(module, "__dict__", {}).items()
                     if not k.startswith("_") and k not in states and k not in _NOT_EXTRAS
                     and k not in _module_bookkeeping() and not _callable(v))


def _hook_owned(module: Any) -> frozenset[str]:
    """The attributes of a module that a forward pre-hook rewrites from its registered
    parameters: ``spectral_norm``'s and ``weight_norm``'s ``weight`` (the hook's ``.name``;
    recomputed from ``weight_orig``, or ``weight_g`` and ``weight_v``), ``prune``'s (its
    ``._tensor_name``; ``weight_orig`` and ``weight_mask``). On an RNN, whose code builds its
    weights' names at run time (``weight_hh_l0``), they looked set from outside and were hashed
    by value: the normalized weight a forward writes changed the hash, and a fresh instance
    loaded with the same weights no longer matched a model that ran. Their content is hashed
    with the parameters they are computed from."""
    owned: set[str] = set()
    for hook in (getattr(module, "_forward_pre_hooks", None) or {}).values():
        for attr in ("name", "_tensor_name"):
            name = getattr(hook, attr, None) if not isinstance(hook, types.FunctionType) else None
            if isinstance(name, str):
                owned.add(name)
    params = getattr(module, "_parameters", None) or {}
    for k in getattr(module, "__dict__", {}):
        if f"{k}_orig" in params or (f"{k}_g" in params and f"{k}_v" in params):
            owned.add(k)
    return frozenset(owned)


#: the attributes set on torch's or xlstsr's modules that are never extras (:func:`_extras`)
_NOT_EXTRAS = frozenset({"training", "metadata", *_PROTOCOL})


@functools.cache
def _module_bookkeeping() -> frozenset[str]:
    """The instance attributes every ``torch.nn.Module`` has (``_parameters``, ``_buffers``,
    ``_modules``, the hook dicts...): their content is hashed by the weights, the structure and
    :func:`_hooks`, never as attributes (the handles' ids differ in each process)."""
    import torch

    return frozenset(vars(torch.nn.Module()))


#: the hook dicts that change what a module's forward returns (pre-hooks may change its input,
#: hooks its output); each with the dicts that flag its hooks' options (by handle id)
_FORWARD_HOOKS = (
    ("_forward_pre_hooks", ("_forward_pre_hooks_with_kwargs",)),
    ("_forward_hooks", ("_forward_hooks_with_kwargs", "_forward_hooks_always_called")),
)


def _hooks(module: Any, depth: int, walk: _Walk) -> bytes:
    """A module's forward hooks and pre-hooks (``register_forward_hook``: a calibration offset,
    a clamp), in the order they run, each by its function's content (:func:`_value_bytes`) and
    its options: two models that differ only by a hook must not share a cache entry. Empty for
    a module without hooks (the hashes of such models stay as they were). The hooks torch
    registers on every module (``torch.nn.modules.module.register_module_forward_hook``) are
    not the model's and are not hashed."""
    parts = []
    for name, flags in _FORWARD_HOOKS:
        hooks = getattr(module, name, None)
        if not hooks:
            continue
        items = []
        for handle, fn in hooks.items():
            opts = [f for f in flags if handle in (getattr(module, f, None) or {})]
            items.append(_value_bytes(fn, depth, walk) + ("[" + ",".join(opts) + "]").encode())
        parts.append(f"{name}:".encode() + b"|".join(items) + b";")
    return b"".join(parts)


def _value_bytes(v: Any, depth: int, walk: _Walk) -> bytes:
    """A stable byte form of a value: a plain value, a numpy array or a tensor (dtype, shape and
    values), a module (its :func:`weights_hash`), a function (:func:`_function_bytes`), a class
    (:func:`_class_bytes`), a list, tuple or dict of them (a dict's items sorted by their key's
    bytes), a set (its elements' bytes sorted), any other object (:func:`_object_bytes`). Never
    repr() of an object nor its pickle: they may name a memory address or follow string
    hashing, different in each process. A module, function, class or object met before in
    ``walk`` is hashed by its number there."""
    import torch

    if isinstance(v, (*_PLAIN, complex, bytes)):
        return repr(v).encode()
    if isinstance(v, np.generic):  # np.float32(2.0): its value, not an object
        v = np.asarray(v)
    if isinstance(v, np.ndarray):
        if v.dtype.hasobject:
            return _nested(v.tolist(), depth, walk)
        a = np.ascontiguousarray(v)
        return f"ndarray{a.dtype.str}{a.shape}".encode() + a.tobytes()
    if isinstance(v, torch.Tensor):
        if v.is_meta:
            return f"tensor<meta>{v.dtype}{tuple(v.shape)}".encode()
        return b"tensor" + _tensor_bytes(v)
    if isinstance(v, _BUILTIN_CALLABLES):
        owner = getattr(v, "__self__", None)
        cls = getattr(v, "__objclass__", None)  # a method descriptor: its class names it
        module = getattr(v, "__module__", None) or getattr(cls, "__module__", None)
        name = getattr(v, "__qualname__", None) or getattr(v, "__name__", None)
        out = f"builtin {type(v).__name__} {module}.{name}".encode()
        if owner is None or isinstance(owner, (types.ModuleType, type)):
            return out
        return out + b" of " + _nested(owner, depth, walk)  # a bound method: `t.add`
    ref = walk.ref(v)  # a module, object, function or class met before (or being hashed)
    if ref is not None:
        return ref
    if depth >= _MAX_DEPTH or not walk.spend():
        return _identity_bytes(v)
    if isinstance(v, torch.nn.Module):
        return b"module" + _module_hash(v, depth + 1, walk).encode()
    if isinstance(v, functools.partial):
        return (b"partial(" + _nested(v.func, depth, walk) + b"," + _nested(v.args, depth, walk)
                + b"," + _nested(v.keywords, depth, walk) + b")")
    if isinstance(v, types.MethodType):
        return (b"method(" + _nested(v.__func__, depth, walk) + b" of "
                + _nested(v.__self__, depth, walk) + b")")
    if isinstance(v, types.FunctionType):
        walk.add(v)
        return _function_bytes(v, depth, walk)
    if isinstance(v, type):
        walk.add(v)
        return _class_bytes(v, depth, walk)
    if isinstance(v, (list, dict, set)):  # mutable: it may hold itself, or be shared
        walk.add(v)
    if isinstance(v, dict):
        # keys first, each on its own (a dict built from a set iterates in a per-process
        # order), then the values in the keys' order: the numbers objects get do not follow
        # the insertion order
        keyed = sorted(((_nested(k, depth, walk.fork()), x) for k, x in v.items()),
                       key=lambda kx: kx[0])
        pairs = sorted(k + b":" + _nested(x, depth, walk) for k, x in keyed)
        return b"dict{" + b",".join(pairs) + b"}"
    if isinstance(v, (list, tuple)):
        return (f"{type(v).__name__}[".encode()
                + b",".join(_nested(x, depth, walk) for x in v) + b"]")
    if isinstance(v, (set, frozenset)):
        items = sorted(_nested(x, depth, walk.fork()) for x in v)
        return f"{type(v).__name__}{{".encode() + b",".join(items) + b"}"
    return _object_bytes(v, depth, walk)


def _nested(v: Any, depth: int, walk: _Walk) -> bytes:
    """:func:`_value_bytes` of a value inside another (one level deeper)."""
    return _value_bytes(v, depth + 1, walk)


def _function_bytes(fn: Any, depth: int, walk: _Walk) -> bytes:
    """A Python function by its name, code, defaults and closure values: the functions one
    factory makes differ only in the values their closure captured."""
    cells = []
    for cell in fn.__closure__ or ():
        try:
            cells.append(_nested(cell.cell_contents, depth, walk))
        except ValueError:  # an empty cell (a name assigned after the function was made)
            cells.append(b"<empty>")
    return (f"function {fn.__module__}.{fn.__qualname__}:".encode() + _code_bytes(fn.__code__)
            + b"defaults=" + _nested(fn.__defaults__, depth, walk)
            + b"kwdefaults=" + _nested(fn.__kwdefaults__, depth, walk)
            + b"closure=" + b",".join(cells) + _globals_bytes(fn, depth, walk))


def _globals_bytes(fn: Any, depth: int, walk: _Walk) -> bytes:
    """The module-level globals a user's function reads (``GAIN = 1.0`` that its forward adds,
    a helper function it calls), by name and value: a constant edited and the cell run again
    changed the output, not the hash, and a dask cluster served the model cached with the old
    value. Only the names its bytecode loads as globals (nested functions and comprehensions
    included), and only for a function of the user's code (:func:`_user_code`): a library's
    functions add nothing (the hashes of the bundled models stay as they were). Hashed: plain
    values (numbers, strings, bools, None, bytes, numpy scalars, ``torch.dtype``), tuples,
    numpy arrays and tensors (by content), functions and classes (a user's by their code and,
    recursively, the globals they read; a library's by name) and builtins by name. Not hashed:
    modules (their functions are named by the code), and any other object (a list, a dict, an
    instance: mutable state, or state with no stable form) - edit such a value and the model's
    hash stays the same (``xlstsr.nn.runtime.clear_model_cache()`` drops the loaded copies)."""
    if not _user_code(fn.__module__):
        return b""
    import torch

    g = fn.__globals__
    parts = []
    for name in _global_names(fn.__code__):
        if name not in g:  # a builtin, or a name not defined (yet)
            continue
        v = g[name]
        if _global_hashed(v, torch):
            parts.append(name.encode() + b"=" + _nested(v, depth, walk))
    return b"globals(" + b";".join(parts) + b")" if parts else b""


def _global_hashed(v: Any, torch: Any) -> bool:
    """Whether a global a user's function reads is hashed (see :func:`_globals_bytes`)."""
    if isinstance(v, tuple):
        return all(_global_hashed(x, torch) for x in v)
    if isinstance(v, (types.FunctionType, type)) and not _user_code(v.__module__):
        return False  # a library's function or class: its name in the code says which
    return isinstance(v, (*_PLAIN, complex, bytes, np.generic, np.ndarray, torch.Tensor,
                          torch.dtype, types.FunctionType, functools.partial, type,
                          *_BUILTIN_CALLABLES))


_GLOBAL_OPS = frozenset({"LOAD_GLOBAL", "LOAD_NAME", "STORE_GLOBAL", "DELETE_GLOBAL"})


@functools.lru_cache(maxsize=4096)
def _global_names(code: types.CodeType) -> tuple[str, ...]:
    """The global names a code object (its nested code objects too) loads, sorted."""
    import dis

    names: set[str] = set()
    for ins in dis.get_instructions(code):
        if ins.opname in _GLOBAL_OPS and isinstance(ins.argval, str):
            names.add(ins.argval)
    for c in code.co_consts:
        if isinstance(c, types.CodeType):
            names.update(_global_names(c))
    return tuple(sorted(names))


@functools.lru_cache(maxsize=1024)
def _user_code(module: str | None) -> bool:
    """Whether the module a function or class was defined in is the user's: not torch's,
    numpy's or xlstsr's, nor a file of the standard library or of an installed package
    (site-packages); a script, a notebook (``__main__``) or a module of the user's project."""
    name = str(module)
    if name.split(".")[0] in _LIBRARIES or name in sys.builtin_module_names:
        return False
    mod = sys.modules.get(name)
    path = getattr(mod, "__file__", None)
    if path is None:  # a notebook's __main__, a module cloudpickle rebuilt
        return name == "__main__" or name.split(".")[0] not in sys.stdlib_module_names
    path = os.path.realpath(path)
    import site

    # the standard library and every site-packages folder (the user's `pip install --user`,
    # a distribution's dist-packages) hold libraries
    roots = {os.path.realpath(p) for p in (
        *(sysconfig.get_paths().get(k) for k in ("stdlib", "platstdlib", "purelib", "platlib")),
        *getattr(site, "getsitepackages", list)(), getattr(site, "getusersitepackages", str)())
        if p}
    return not any(path.startswith(r + os.sep) for r in roots)


#: packages whose classes are hashed by their name alone (the installed library's code)
_LIBRARIES = frozenset({"torch", "xlstsr", "numpy"})

#: class attributes hashed by value (others by their type's name: a class holds many objects
#: with no stable form, e.g. abc's cache)
_CLASS_DATA = (*_PLAIN, complex, bytes, tuple, list, dict, set, frozenset, np.ndarray,
               np.generic, type, functools.partial, *_BUILTIN_CALLABLES)


def _class_bytes(cls: type, depth: int, walk: _Walk, user: bool = False) -> bytes:
    """A class by its qualified name; a user's class (not the standard library's, torch's,
    numpy's or xlstsr's) also by its bases, methods and data attributes: a class redefined in a
    notebook keeps its name. ``user``: the class of a user's module (:func:`_own`), hashed whole
    even when its file's name is a standard library module's (a script named ``test.py``)."""
    import torch

    name = f"class {cls.__module__}.{cls.__qualname__}".encode()
    top = str(cls.__module__).split(".")[0]
    if top in _LIBRARIES or (top in sys.stdlib_module_names and not user):
        return name
    parts = [name + b"(" + b",".join(_nested(b, depth, walk) for b in cls.__bases__) + b")"]
    for k, x in sorted(vars(cls).items()):
        code = isinstance(x, (types.FunctionType, staticmethod, classmethod, property))
        if isinstance(x, (staticmethod, classmethod)):
            x = x.__func__
        elif isinstance(x, property):
            x = (x.fget, x.fset, x.fdel)
        dunder = k.startswith("__") and k.endswith("__")
        if code or (not dunder and isinstance(x, (*_CLASS_DATA, torch.Tensor))):
            parts.append(f"{k}=".encode() + _nested(x, depth, walk))
        elif not dunder:
            parts.append(f"{k}:<{type(x).__qualname__}>".encode())
    return b";".join(parts)


#: objects whose state changes no model's output: hashed by their class's name
_STATELESS = (type(threading.Lock()), type(threading.RLock()))


def _object_bytes(v: Any, depth: int, walk: _Walk) -> bytes:
    """Any other object, by its class and state: a plain object (its class pickles it by its
    ``__dict__`` and ``__slots__``) by those attributes' values; a ``torch.Generator`` by its
    state (the numbers it draws next); a lock by its class; a Python module by its name; an
    object that pickles itself (a logger, a dtype, a deque) by the parts it pickles as, each
    hashed by :func:`_value_bytes` (a pickle itself names a tensor's memory address and orders
    a set by string hashing); an object none of these describe (a generator, an open file) by
    its identity in this process, the last resort: two different objects never share a
    hash."""
    import torch

    name = f"<{type(v).__module__}.{type(v).__qualname__}>".encode()
    if isinstance(v, _STATELESS):
        return name
    if isinstance(v, types.ModuleType):
        return name + v.__name__.encode()
    walk.add(v)
    if isinstance(v, torch.Generator):
        return name + str(v.device).encode() + _tensor_bytes(v.get_state())
    if isinstance(v, weakref.ReferenceType):
        target = v()
        return name + (b"<dead>" if target is None else _nested(target, depth, walk))
    state = _plain_state(v)
    if state is not None:
        return (name + b"(" + _nested(type(v), depth, walk) + b"){"
                + b";".join(f"{k}=".encode() + _nested(x, depth, walk) for k, x in state) + b"}")
    try:
        reducer = copyreg.dispatch_table.get(type(v))  # re.Pattern's is there
        reduced = reducer(v) if reducer is not None else v.__reduce_ex__(4)
    except Exception:  # TypeError, PicklingError...: anything pickle refuses
        reduced = None
    if isinstance(reduced, str):  # a global, pickled by its name
        wrapped = getattr(v, "__wrapped__", None)  # an lru_cache: the function it wraps
        return (name + b"global " + reduced.encode()
                + (b"" if wrapped is None else b" of " + _nested(wrapped, depth, walk)))
    if isinstance(reduced, tuple):  # (callable, args, state, list items, dict items...)
        parts = [*reduced[:3], *(None if it is None else list(it) for it in reduced[3:5])]
        return name + b"reduce" + _nested(tuple(parts), depth, walk)
    return _identity_bytes(v)


def _plain_state(v: Any) -> list[tuple[str, Any]] | None:
    """A plain object's attributes (``__dict__`` and ``__slots__``) sorted by name; None for an
    object whose class pickles it another way (``__reduce__``, ``__getstate__``) or that has
    neither."""
    cls = type(v)
    if (cls in copyreg.dispatch_table or cls.__reduce_ex__ is not object.__reduce_ex__
            or cls.__reduce__ is not object.__reduce__
            or getattr(cls, "__getstate__", None) is not object.__getstate__):
        return None
    state = dict(getattr(v, "__dict__", None) or {})
    has_slots = False
    for c in cls.__mro__:
        slots = c.__dict__.get("__slots__", ())
        for s in (slots,) if isinstance(slots, str) else slots:
            if s in ("__dict__", "__weakref__"):
                continue
            has_slots = True
            if s.startswith("__") and not s.endswith("__"):  # name-mangled
                s = f"_{c.__name__.lstrip('_')}{s}"
            with contextlib.suppress(AttributeError):  # an unset slot
                state[s] = getattr(v, s)
    if not has_slots and not hasattr(v, "__dict__"):
        return None
    return sorted(state.items(), key=lambda kv: str(kv[0]))


#: objects hashed by their identity (:func:`_identity_bytes`), kept alive so that no later
#: object takes the id of one a cached model was keyed by
_IDENTIFIED: dict[int, Any] = {}


def _identity_bytes(v: Any) -> bytes:
    """The last resort: an object by its identity in this process (see :func:`weights_hash`)."""
    _IDENTIFIED.setdefault(id(v), v)
    return f"<{type(v).__module__}.{type(v).__qualname__}>id{id(v)}".encode()

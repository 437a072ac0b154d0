"""Running torch models in worker processes: identity, serialisation, per-process cache, threads.

torch only (no xarray, no dask): the engine (:mod:`xlstsr.engine`) ships a model's bytes once to
each worker; this module turns a module into those bytes and back, keeps one loaded copy per
process and device, and sets the intra-op thread count a task should use.

Examples
--------
>>> import torch
>>> m = torch.nn.Conv2d(1, 1, 3)
>>> weights_hash(m) == weights_hash(deserialize_model(serialize_model(m), "cpu"))
True
"""

from __future__ import annotations

import contextlib
import copy
import copyreg
import functools
import hashlib
import io
import pickle
import sys
import threading
import types
import weakref
from collections.abc import Callable, Iterator
from typing import Any

import numpy as np

__all__ = [
    "cached_model",
    "deserialize_model",
    "full_float32",
    "measure_receptive_field",
    "model_cache",
    "resolve_device",
    "serialize_model",
    "set_task_threads",
    "task_threads",
    "weights_hash",
]

#: models loaded in this process, keyed by (weights hash, device)
_MODEL_CACHE: dict[tuple[str, str], Any] = {}
_CACHE_LOCK = threading.Lock()


def resolve_device(device: str = "auto") -> str:
    """``"auto"`` -> ``"cuda"`` when a GPU is visible to torch, else ``"cpu"``; others unchanged."""
    import torch

    if device == "auto":
        return "cuda" if torch.cuda.is_available() else "cpu"
    device = str(device)
    _check_backend(device)
    return device


_USABLE: dict[str, bool] = {}


def _check_backend(device: str) -> None:
    """Refuse a device torch parses but cannot use in this process ("mps", "xla" on a build
    without them; "meta", which holds no data) with a :class:`~xlstsr.errors.DeviceError`, instead
    of torch's error when the model is moved. CUDA has its own checks (the method's constructor,
    and the worker that loads the model)."""
    import torch

    from ..errors import DeviceError

    kind = device.split(":")[0]
    if kind in ("cpu", "cuda"):
        return
    if kind == "meta":
        raise DeviceError(
            "device 'meta' holds shapes without data: nothing can be computed on it; use "
            "device='auto' (the GPU when there is one, else the CPU) or device='cpu'."
        )
    if kind not in _USABLE:
        try:
            torch.empty(1, device=device)
            _USABLE[kind] = True
        except Exception:  # not compiled in, no such hardware...
            _USABLE[kind] = False
    if not _USABLE[kind]:
        raise DeviceError(
            f"device {device!r} cannot be used here: this torch ({torch.__version__}) has no "
            f"working {kind!r} backend in this process; use device='auto' (the GPU when there is "
            "one, else the CPU) or device='cpu'."
        )


def _closure_values(fn: Any) -> bytes:
    """The plain values a forward's closure holds (two classes made by one factory differ only
    there: one the float16 model, the other the bfloat16 one, served from one cache entry).
    Other objects are left out: their repr may name a memory address, unstable across the
    processes a resume check compares."""
    import torch

    plain = (bool, int, float, complex, str, bytes, type(None), torch.dtype)
    vals = []
    for cell in getattr(fn, "__closure__", None) or ():
        try:
            v = cell.cell_contents
        except ValueError:  # an empty cell
            continue
        if isinstance(v, plain) or (isinstance(v, tuple) and all(isinstance(x, plain) for x in v)):
            vals.append(repr(v))
    return ";".join(vals).encode()


def weights_hash(model: Any) -> str:
    """SHA-256 (32 hex chars) of a module's class, structure, protocol attributes, forward code,
    every parameter and buffer (non-persistent ones too), the functions any module holds and
    the values a user-defined module holds in attributes: the same for the same model built in
    any process (same code, same weights), so it keys caches and resume checks.

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
    processes (a resume check refuses it) and between copies of the model."""
    return _module_hash(model, 0, _Walk())


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


def _module_hash(model: Any, depth: int, walk: _Walk) -> str:
    """:func:`weights_hash` of a module met at ``depth`` of ``walk``."""
    h = hashlib.sha256()
    h.update(f"{type(model).__module__}.{type(model).__qualname__}".encode())
    h.update(repr(model).encode())
    for attr in ("factor", "n_guide", "receptive_field", "spatially_local", "accepts_nan_guide"):
        h.update(f"{attr}={getattr(model, attr, None)!r};".encode())
    subs = list(model.modules())
    for sub in subs:  # its weights are hashed below: a value naming one refers to it by number
        if walk.ref(sub) is None:
            walk.add(sub)
    for sub in subs:  # the forward code: two classes with one name differ here
        try:
            code = getattr(type(sub).forward, "__code__", None)
        except AttributeError:  # TorchScript modules: their code is hashed by repr() and weights
            code = None
        if code is not None:
            if _own(sub):  # the names it calls too (F.relu -> F.gelu in a notebook's class)
                h.update(_code_bytes(code))
            elif any(_special_const(c) for c in code.co_consts):
                h.update(_code_bytes(code))  # a generator's code, a set: repr is unstable
            else:  # as before: the hashes of the bundled models stay as they were
                h.update(code.co_code)
                h.update(repr(code.co_consts).encode())
            h.update(_closure_values(type(sub).forward))
        h.update(_attributes(sub, depth, walk))
    state = model.state_dict()
    for k, v in state.items():
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


def _own(module: Any) -> bool:
    """Whether a module's class is the user's (not torch's or xlstsr's)."""
    return type(module).__module__.split(".")[0] not in ("torch", "xlstsr")


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
    """A tensor's dtype, shape and values as bytes (bfloat16 by its bits: numpy has none)."""
    t = v.detach().cpu().contiguous()
    if t.dtype == torch_bfloat16():
        t = t.view(torch_int16())
    head = f"{t.dtype}{tuple(t.shape)}".encode()
    return head + (t.reshape(-1).view(-1).numpy().tobytes() if t.numel() else b"")


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


def _attributes(module: Any, depth: int, walk: _Walk) -> bytes:
    """The instance attributes that change what a module computes without being parameters,
    buffers or submodules, as stable bytes: functions stored on any module (their code,
    defaults and closure values; a partial's function and arguments; a builtin's name), and the
    values of user-defined modules (:func:`_value_bytes`). Two custom models that differ only
    there (a lambda, ``torch.tanh`` for ``torch.sigmoid``, ``self.scale = 2.0``,
    ``self.offsets = [0.5]``, an array of coefficients) must not share a cache entry. The other
    values of torch's and xlstsr's modules contribute nothing here (their state is in repr() and
    the weights), so the hashes of the bundled models do not depend on this."""
    own = _own(module)
    parts = []
    for k, v in sorted(getattr(module, "__dict__", {}).items()):
        if k.startswith("_") or k == "training":
            continue
        if _callable(v):
            parts.append(f"{k}:".encode() + _value_bytes(v, depth, walk) + b";")
        elif own and (isinstance(v, _PLAIN) or (
                isinstance(v, tuple) and all(isinstance(x, _PLAIN) for x in v))):
            parts.append(f"{k}={v!r};".encode())  # as before: the hashes of such models stay
        elif own:
            parts.append(f"{k}=".encode() + _value_bytes(v, depth, walk) + b";")
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
            + b"closure=" + b",".join(cells))


#: packages whose classes are hashed by their name alone (the installed library's code)
_LIBRARIES = frozenset({"torch", "xlstsr", "numpy"})

#: class attributes hashed by value (others by their type's name: a class holds many objects
#: with no stable form, e.g. abc's cache)
_CLASS_DATA = (*_PLAIN, complex, bytes, tuple, list, dict, set, frozenset, np.ndarray,
               np.generic, type, functools.partial, *_BUILTIN_CALLABLES)


def _class_bytes(cls: type, depth: int, walk: _Walk) -> bytes:
    """A class by its qualified name; a user's class (not the standard library's, torch's,
    numpy's or xlstsr's) also by its bases, methods and data attributes: a class redefined in a
    notebook keeps its name."""
    import torch

    name = f"class {cls.__module__}.{cls.__qualname__}".encode()
    top = str(cls.__module__).split(".")[0]
    if top in _LIBRARIES or top in sys.stdlib_module_names:
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


def serialize_model(model: Any) -> bytes:
    """The whole module (structure and weights) as bytes, on the CPU; cloudpickle when available
    so that models whose class is defined in a script or a function still travel."""
    import torch

    try:
        import cloudpickle as pickle_module
    except ImportError:  # pragma: no cover - dask depends on cloudpickle
        import pickle as pickle_module
    try:
        cpu = copy.deepcopy(model).cpu()
    except (RuntimeError, TypeError, AttributeError, pickle.PicklingError):
        # a legacy weight_norm module after a forward: deepcopy refuses its derived weight
        from .adapt import copy_model

        cpu = copy_model(model).cpu()
    buf = io.BytesIO()
    torch.save(cpu, buf, pickle_module=pickle_module)
    return buf.getvalue()


def deserialize_model(payload: bytes, device: str) -> Any:
    """The module written by :func:`serialize_model`, on ``device``, in eval mode."""
    import torch

    model = torch.load(io.BytesIO(payload), map_location="cpu", weights_only=False)
    return model.to(device).eval()


def model_cache() -> dict[tuple[str, str], Any]:
    """This process's loaded models by (weights hash, device) (for inspection and tests)."""
    return _MODEL_CACHE


def cached_model(key: str, device: str, load: Callable[[str], Any]) -> Any:
    """The model cached under ``(key, device)`` in this process, loaded by ``load(device)`` once
    (thread-safe: concurrent tasks of one worker load it once)."""
    k = (key, device)
    m = _MODEL_CACHE.get(k)
    if m is not None:
        return m
    with _CACHE_LOCK:
        m = _MODEL_CACHE.get(k)
        if m is None:
            m = _MODEL_CACHE[k] = load(device)
    return m


def set_task_threads(num_threads: int | None = None) -> None:
    """Set torch's intra-op threads for the task running in this thread.

    ``num_threads`` when given; else one thread inside a worker thread (dask threads, region
    threads: several tasks run at once, more torch threads would oversubscribe the cores), and
    torch's default (all cores) in the main thread (synchronous scheduler, numpy input). The
    setting is per thread with the OpenMP build of torch, but ``torch.set_num_threads`` also
    sets the count every thread started afterwards gets: use :func:`task_threads`, which
    restores it.
    """
    import torch

    num_threads = _task_count(num_threads)
    if num_threads is not None and torch.get_num_threads() != num_threads:
        torch.set_num_threads(int(num_threads))


def _task_count(num_threads: int | None) -> int | None:
    """The thread count a task sets (None: leave torch's), checked."""
    if num_threads is None:
        if threading.current_thread() is threading.main_thread():
            return None
        num_threads = 1
    if isinstance(num_threads, bool) or not isinstance(num_threads, int) or num_threads < 1:
        from ..errors import XlstsrError

        raise XlstsrError(f"num_threads must be a whole number >= 1 (torch threads per task, "
                          f"e.g. 1), got {num_threads!r}")
    return num_threads


def _new_thread_count() -> int:
    """The intra-op thread count torch gives a thread started now (it copies the count last
    set by ``torch.set_num_threads`` in any thread when the thread first uses torch)."""
    import torch

    out: list[int] = []
    t = threading.Thread(target=lambda: out.append(torch.get_num_threads()))
    t.start()
    t.join()
    return out[0]


#: tasks inside :func:`task_threads` now, and the count new threads got before the first began
_TASKS = {"running": 0, "default": None}
_TASKS_LOCK = threading.Lock()


@contextlib.contextmanager
def task_threads(num_threads: int | None = None) -> Iterator[None]:
    """:func:`set_task_threads` for the duration of a block, then torch's counts as they were.

    ``torch.set_num_threads`` in one thread also sets the count of every thread started
    afterwards (torch 2.x, OpenMP build): after a dask upscale (one torch thread per task) new
    threads, a web server's handlers or a later thread pool, ran torch on one thread. The
    count new threads get is read before the first of the concurrent tasks starts and set back
    when the last ends; in the main thread its own count is restored too
    (``upscale(..., num_threads=1)`` left the whole session on one torch thread). A worker
    thread that ends a task while others run keeps the task's count (it runs the engine's
    tasks). Reading that count starts a short-lived thread (~0.1 ms) when no task runs.

    Examples
    --------
    >>> import torch
    >>> before = torch.get_num_threads()
    >>> with task_threads(1):
    ...     torch.get_num_threads()
    1
    >>> torch.get_num_threads() == before
    True
    """
    import torch

    count = _task_count(num_threads)
    if count is None:  # the main thread without a count: torch's own
        yield
        return
    before = torch.get_num_threads()
    with _TASKS_LOCK:
        if _TASKS["running"] == 0:
            _TASKS["default"] = _new_thread_count()
        _TASKS["running"] += 1
    try:
        if before != count:
            torch.set_num_threads(count)
        yield
    finally:
        with _TASKS_LOCK:
            _TASKS["running"] -= 1
            if _TASKS["running"] == 0:
                torch.set_num_threads(int(_TASKS["default"]))  # what new threads get
                _TASKS["default"] = None
            if (threading.current_thread() is threading.main_thread()
                    and torch.get_num_threads() != before):
                torch.set_num_threads(before)


#: forwards inside :func:`full_float32` now, and the settings they found when the first began
_FP32 = {"running": 0, "saved": None}
_FP32_LOCK = threading.Lock()
#: torch >= 2.9 keeps per-operator precisions ("ieee", "tf32") beside the legacy flags: the
#: GPU's are set to "ieee"; the CPU's matmul is restored too (the legacy matmul setting sets it)
_FP32_LEAVES = (("cudnn", "conv"), ("cudnn", "rnn"), ("cuda", "matmul"))
_FP32_RESTORED = (*_FP32_LEAVES, ("mkldnn", "matmul"))


def _fp32_leaf(path: tuple[str, str]) -> Any:
    import torch

    return getattr(getattr(torch.backends, path[0]), path[1])


def _has_fp32_api() -> bool:
    """Whether this torch has the per-operator ``fp32_precision`` settings (torch >= 2.9)."""
    import torch

    return hasattr(getattr(torch.backends.cudnn, "conv", None), "fp32_precision")


def _tf32_settings() -> dict[str, Any]:
    """The TF32 settings :func:`full_float32` changes, as they are now (None: unreadable, which
    torch >= 2.9 answers for the legacy flags after a mix of its old and new APIs)."""
    import torch

    def read(get: Callable[[], Any]) -> Any:
        try:
            return get()
        except RuntimeError:  # "you have used a mix of the legacy and new APIs"
            return None

    saved = {
        "cudnn": read(lambda: torch.backends.cudnn.allow_tf32),
        "matmul": read(torch.get_float32_matmul_precision),
    }
    if _has_fp32_api():
        saved["leaves"] = [_fp32_leaf(p).fp32_precision for p in _FP32_RESTORED]
    return saved


def _set_tf32_off() -> None:
    import torch

    torch.backends.cudnn.allow_tf32 = False
    torch.set_float32_matmul_precision("highest")  # = cuda.matmul.allow_tf32 = False, readable
    if _has_fp32_api():
        # the legacy flags leave a "tf32" set by the new API on a parent (torch.backends
        # .fp32_precision = "tf32") in force: set each operator's own precision too
        for p in _FP32_LEAVES:
            _fp32_leaf(p).fp32_precision = "ieee"


def _restore_tf32(saved: dict[str, Any]) -> None:
    import torch

    if saved["cudnn"] is not None:
        torch.backends.cudnn.allow_tf32 = saved["cudnn"]
    if saved["matmul"] is not None:  # "medium" and "high" differ; allow_tf32 knows one of them
        try:
            now = torch.get_float32_matmul_precision()
        except RuntimeError:  # mixed legacy and new settings: unreadable
            now = None
        if now != saved["matmul"]:
            torch.set_float32_matmul_precision(saved["matmul"])
    for p, v in zip(_FP32_RESTORED, saved.get("leaves", ())):
        _fp32_leaf(p).fp32_precision = v


@contextlib.contextmanager
def full_float32() -> Iterator[None]:
    """Run float32 convolutions and matrix products in full float32 (no TF32) inside a block,
    then restore torch's settings as they were.

    On an Ampere or newer GPU torch lets cuDNN run float32 convolutions in TF32 by default
    (``torch.backends.cudnn.allow_tf32``): inputs rounded to a 10-bit mantissa, steps of 0.25 K
    for Kelvin near 300 K, the precision :func:`forward` refuses in float16 outputs (the bundled
    models' bicubic convolves raw Kelvin). The settings are process-wide: they are read before
    the first of concurrent or nested blocks begins and set back when the last ends (a setting
    changed by another thread meanwhile is overwritten). A CPU computes in full float32 anyway
    (unless ``torch.set_float32_matmul_precision`` said otherwise: then in it too, meanwhile).

    Examples
    --------
    >>> import torch
    >>> before = torch.backends.cudnn.allow_tf32
    >>> with full_float32():
    ...     torch.backends.cudnn.allow_tf32, torch.backends.cuda.matmul.allow_tf32
    (False, False)
    >>> torch.backends.cudnn.allow_tf32 == before
    True
    """
    with _FP32_LOCK:
        if _FP32["running"] == 0:
            saved = _tf32_settings()
            try:
                _set_tf32_off()
            except BaseException:
                _restore_tf32(saved)
                raise
            _FP32["saved"] = saved
        _FP32["running"] += 1
    try:
        yield
    finally:
        with _FP32_LOCK:
            _FP32["running"] -= 1
            if _FP32["running"] == 0:
                saved, _FP32["saved"] = _FP32["saved"], None
                _restore_tf32(saved)


def _on_cuda(t: Any) -> bool:
    """Whether a tensor is on a CUDA device (where TF32 can apply)."""
    return bool(getattr(t, "is_cuda", False))


def forward(model: Any, lst: Any, guide: Any, *, factor: int | None = None,
            check_finite: bool = True) -> Any:
    """``model(lst)`` or ``model(lst, guide)``: the model protocol's call, with its output checked.

    The output must be a tensor of shape ``(B, 1, h * factor, w * factor)`` for an ``lst`` of
    ``(B, 1, h, w)`` (``factor``: the model's ``factor`` attribute when not given), and finite
    wherever the inputs are (the engine fills LST gaps before the forward): anything else raises
    an :class:`~xlstsr.errors.XlstsrError` naming what the model returned, since the engine would
    otherwise take one channel of several, or pass NaN on as gaps, without a word. An error
    raised inside the model's forward propagates as it is (the model's own code). On a CUDA
    device the model runs in full float32, TF32 off (:func:`full_float32`).

    Examples
    --------
    >>> import torch
    >>> class Twice(torch.nn.Module):
    ...     factor = 2
    ...     def forward(self, lst, guide=None):
    ...         return torch.nn.functional.interpolate(lst, scale_factor=2) * float("nan")
    >>> forward(Twice(), torch.full((1, 1, 2, 2), 300.0), None)
    Traceback (most recent call last):
    ...
    xlstsr.errors.ImplausibleOutputError: the model (Twice) returned NaN or infinite values ...
    """
    import torch

    from ..errors import ImplausibleOutputError, XlstsrError

    # on a GPU, cuDNN's default TF32 rounds Kelvin to 0.25 K steps (the bundled bicubic
    # convolves raw Kelvin): full float32 while the model runs
    fp32 = full_float32() if _on_cuda(lst) else contextlib.nullcontext()
    try:
        with fp32:
            out = model(lst) if guide is None else model(lst, guide)
    except RuntimeError as err:
        params = getattr(model, "parameters", None)
        p = next((t for t in params() if t.is_floating_point()), None) if params else None
        if p is not None and p.dtype != lst.dtype:  # "Input type (float) and bias type (c10::Half)"
            raise XlstsrError(
                f"the model's weights are {p.dtype} but the engine feeds {lst.dtype} Kelvin "
                "(and the model does not convert it): convert the model, `model.float()`, or "
                "cast the input inside its forward"
            ) from err
        raise
    except TypeError as err:
        if guide is None and "guide" in str(err):  # forward(self, lst, guide): n_guide not set
            raise XlstsrError(
                f"the model ({type(model).__name__}) was called without a guide, as its "
                f"`n_guide` (0 or absent) says, and its forward failed for the want of one "
                f"({err}): declare the guide channels, `model.n_guide = 1`, and use "
                "method='disr' with guide=..."
            ) from err
        raise
    name = type(model).__name__
    if not isinstance(out, torch.Tensor):
        raise XlstsrError(
            f"the model ({name}) returned a {type(out).__name__}, not a torch.Tensor: its forward "
            "must return the (B, 1, H, W) Kelvin tensor itself (the protocol of "
            "xlstsr.methods.torch_model)"
            + ("; return `out[0]`" if isinstance(out, (tuple, list)) else "")
        )
    f = factor if factor is not None else getattr(model, "factor", None)
    b, _, h, w = lst.shape
    want = (b, 1, h * int(f), w * int(f)) if f is not None else None
    if out.ndim != 4 or out.shape[0] != b or out.shape[1] != 1 or (
            want is not None and tuple(out.shape) != want):
        expected = want if want is not None else f"({b}, 1, H, W)"
        raise XlstsrError(
            f"the model ({name}) returned shape {tuple(out.shape)} for an input of "
            f"{tuple(lst.shape)}; the protocol of xlstsr.methods.torch_model wants {expected}: "
            "one Kelvin channel, `factor` times the input's size (check its `factor` attribute "
            "and that it is a super-resolution model)"
        )
    if out.dtype in (torch.float16, torch.bfloat16):
        # training refuses half precision for this reason: the output, cast back to float32,
        # came out in steps without a word
        raise XlstsrError(
            f"the model ({name}) returned {out.dtype}: Kelvin near 300 K is rounded to steps of "
            f"{'0.25' if out.dtype == torch.float16 else '2'} K in it. Run it in float32 "
            "(`model.float()`, and no `.half()` or autocast inside its forward)."
        )
    # one reduction of the output per tile (a sum is finite iff every value is, for Kelvin):
    # the inputs are only read when it is not (isfinite passes cost ~4 % of a sisr run)
    if check_finite and not bool(torch.isfinite(out.sum(dtype=torch.float64))) and bool(
            torch.isfinite(lst).all()) and (guide is None or bool(torch.isfinite(guide).all())):
        n = int((~torch.isfinite(out)).sum())
        raise ImplausibleOutputError(
            f"the model ({name}) returned NaN or infinite values ({n} of {out.numel()} pixels) for "
            "finite inputs: its weights hold NaN (a diverged training?) or its forward divides "
            "by zero; the output would silently become gaps. Check the model on a small input."
        )
    return out


#: the largest receptive field :func:`measure_receptive_field` measures (coarse pixels): a
#: response that reaches it depends on the whole image
MAX_MEASURED_RF = 64


def measure_receptive_field(
    model: Any, factor: int | None = None, n_guide: int | None = None,
    max_rf: int = MAX_MEASURED_RF,
) -> int:
    """Measure a model's receptive field (coarse pixels) with impulse-response probes.

    An impulse (+/-1 K and +/-10 K on the LST, +/-1 on each guide channel) at the centre of a
    square input is compared with the same input without it, on three backgrounds (zeros, a
    constant 300 K, 280-320 K noise; several backgrounds guard against ReLUs that are dead on one
    of them). The receptive field is the largest distance, in coarse pixels and rounded up, from
    the impulse's pixel to an output pixel that changed. The probe grows until the response no
    longer reaches its edge (up to ``max_rf``).

    A response can be missed only if it is exactly zero for every probe; declare
    ``receptive_field`` on the model to skip the measurement.

    Examples
    --------
    >>> import torch
    >>> class Conv(torch.nn.Module):
    ...     factor, n_guide = 2, 0
    ...     def __init__(self):
    ...         super().__init__()
    ...         self.c = torch.nn.Conv2d(1, 4, 5, padding=2)
    ...     def forward(self, lst, guide=None):
    ...         return torch.nn.functional.pixel_shuffle(self.c(lst), 2)
    >>> measure_receptive_field(Conv())
    2
    """
    import torch

    f = int(factor if factor is not None else model.factor)
    ng = int(n_guide if n_guide is not None else getattr(model, "n_guide", 0))
    param = next(iter(model.parameters()), None)
    device = param.device if param is not None else torch.device("cpu")
    was_training = model.training
    model.eval()
    rng = np.random.default_rng(0)
    half = 4
    try:
        while True:
            size = 2 * half + 1
            c = half
            found = 0
            bgs = [
                np.zeros((size, size)),
                np.full((size, size), 300.0),
                rng.uniform(280, 320, (size, size)),
            ]
            for bg in bgs:
                lst0 = torch.tensor(bg[None, None], dtype=torch.float32, device=device)
                g0 = None
                if ng:
                    gbg = rng.uniform(0, 1, (1, ng, size * f, size * f))
                    g0 = torch.tensor(gbg, dtype=torch.float32, device=device)
                with torch.inference_mode():
                    base = forward(model, lst0, g0, factor=f, check_finite=False)[0, 0].double().cpu().numpy()
                probes: list[tuple[Any, Any]] = []
                for amp in (1.0, -1.0, 10.0, -10.0):
                    lst1 = lst0.clone()
                    lst1[0, 0, c, c] += amp
                    probes.append((lst1, g0))
                for ch in range(ng):
                    for amp in (1.0, -1.0):
                        g1 = g0.clone()
                        g1[0, ch, c * f : (c + 1) * f, c * f : (c + 1) * f] += amp
                        probes.append((lst0, g1))
                for lst1, g1 in probes:
                    with torch.inference_mode():
                        out = forward(model, lst1, g1, factor=f, check_finite=False)[0, 0].double().cpu().numpy()
                    changed = np.argwhere(np.abs(out - base) > 0)
                    if changed.size:
                        coarse = changed // f  # coarse pixel of each changed fine pixel
                        found = max(found, int(np.abs(coarse - c).max()))
            if found < half or half >= max_rf:
                return min(found, max_rf)
            half *= 2
    finally:
        model.train(was_training)

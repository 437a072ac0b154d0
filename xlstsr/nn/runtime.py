"""Running torch models in worker processes: serialisation, per-process cache, threads, forward.

torch only (no xarray, no dask): the engine (:mod:`xlstsr.engine`) ships a model's bytes once to
each worker; this module turns a module into those bytes and back, keeps one loaded copy per
process and device (keyed by :func:`~xlstsr.nn.fingerprint.weights_hash`, re-exported here), and
sets the intra-op thread count a task should use.

The model cache holds the :data:`MODEL_CACHE_ENTRIES` models used last (4; set the attribute to
change it): scoring a model after each training epoch or a sweep loads a new copy per call, and
without a bound each stayed alive for the life of the process. :func:`clear_model_cache` empties
it (in a worker too: ``client.run(clear_model_cache)``). A model evicted while a task still holds
it (a forward running, or the task of this thread that loaded it) stays usable: it is found
again under its key until it is released.

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
import inspect
import io
import pickle
import threading
import warnings
import weakref
from collections import OrderedDict
from collections.abc import Callable, Iterator
from typing import Any

import numpy as np

from .fingerprint import weights_hash

__all__ = [
    "cached_model",
    "clear_model_cache",
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

#: how many loaded models the per-process cache keeps (the least recently used go first)
MODEL_CACHE_ENTRIES = 4

#: models loaded in this process, keyed by (weights hash, device), least recently used first
_MODEL_CACHE: OrderedDict[tuple[str, str], Any] = OrderedDict()
#: held while a model loads: concurrent tasks of one worker load it once
_CACHE_LOCK = threading.Lock()
#: held while the cache's order or content changes (never during a load)
_LRU_LOCK = threading.Lock()
#: models evicted from the cache that something still holds (a running forward), by key: found
#: again instead of loaded twice (and a worker's task that loaded its shipped model does not
#: lose it to another task's load before its forward)
_EVICTED: weakref.WeakValueDictionary[tuple[str, str], Any] = weakref.WeakValueDictionary()
#: the model each thread got last from :func:`cached_model`: a task's model stays alive from
#: its load (``load_state``) to its forward even if other tasks evict it meanwhile. By thread
#: (dropped with it), under ``_LRU_LOCK``: :func:`clear_model_cache` empties it from any thread
#: (``client.run`` runs in none of the workers' task threads, whose pins kept their models)
_PINNED: weakref.WeakKeyDictionary[threading.Thread, tuple[Any, Any]] = weakref.WeakKeyDictionary()


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
    cpu = _pack_scripted(cpu)
    buf = io.BytesIO()
    try:
        torch.save(cpu, buf, pickle_module=pickle_module)
    except (RuntimeError, TypeError, AttributeError, pickle.PicklingError) as err:
        # a TorchScript part held outside the module tree (a list, a dict, a function), a lock,
        # an open file: torch's "Tried to serialize ... __getstate__" named no way out
        from ..errors import XlstsrError

        raise XlstsrError(
            f"the model ({type(model).__name__}) cannot be sent to worker processes: pickling "
            f"it failed ({type(err).__name__}: {str(err)[:160]}). Run it with the threads "
            "scheduler (`.compute(scheduler='threads')`, dask's default for arrays), or make it "
            "picklable: an eager torch.nn.Module whose submodules (TorchScript ones from "
            "torch.jit.load included) are attributes of the module"
        ) from err
    return buf.getvalue()


class _ScriptedPart:
    """A TorchScript submodule in a :func:`serialize_model` payload: its ``torch.jit.save``
    bytes (a ScriptModule has no pickle support: torch.save of a module holding one, the
    wrapper the TorchScript refusal of xlstsr.nn.checkpoint advises, failed)."""

    def __init__(self, data: bytes) -> None:
        self.data = data

    def load(self) -> Any:
        import torch

        with warnings.catch_warnings():
            warnings.simplefilter("ignore", DeprecationWarning)
            return torch.jit.load(io.BytesIO(self.data), map_location="cpu")


def _pack_scripted(module: Any) -> Any:
    """``module`` (a copy) with its TorchScript submodules replaced by :class:`_ScriptedPart`
    (in place; the module itself when it is one)."""
    import torch

    if isinstance(module, torch.jit.ScriptModule):
        buf = io.BytesIO()
        with warnings.catch_warnings():  # torch 2.9+: "deprecated, use torch.export" (the
            warnings.simplefilter("ignore", DeprecationWarning)  # user's own TorchScript)
            torch.jit.save(module, buf)
        return _ScriptedPart(buf.getvalue())
    if isinstance(module, torch.nn.Module):
        for name, child in list(module._modules.items()):
            if child is not None:
                module._modules[name] = _pack_scripted(child)
    return module


def _unpack_scripted(module: Any) -> Any:
    """The inverse of :func:`_pack_scripted`."""
    if isinstance(module, _ScriptedPart):
        return module.load()
    modules = getattr(module, "_modules", None)
    if isinstance(modules, dict):
        for name, child in list(modules.items()):
            if child is not None:
                modules[name] = _unpack_scripted(child)
    return module


def deserialize_model(payload: bytes, device: str) -> Any:
    """The module written by :func:`serialize_model`, on ``device``, in eval mode.

    Raises
    ------
    XlstsrError
        The model's class (or something it holds) cannot be imported in this process: cloudpickle
        sends an importable class by reference (its module's name), so a worker without the
        user's module failed with a bare ``ModuleNotFoundError``.
    """
    import torch

    try:
        model = torch.load(io.BytesIO(payload), map_location="cpu", weights_only=False)
    except (ImportError, AttributeError) as err:  # ModuleNotFoundError is an ImportError
        raise _unimportable_model_error(err) from err
    return _unpack_scripted(model).to(device).eval()


def _unimportable_model_error(err: BaseException) -> Exception:
    """The :class:`~xlstsr.errors.XlstsrError` for a model payload whose class cannot be found
    here (``err``: unpickling's ImportError, or AttributeError for a class missing from the
    module this process has). A plain message argument: dask pickles it back to the client."""
    from ..errors import XlstsrError

    missing = getattr(err, "name", None) if isinstance(err, ImportError) else None
    what = (f"module {missing!r}" if missing else
            f"the model's class or one of its parts ({type(err).__name__}: {str(err)[:200]})")
    return XlstsrError(
        f"the model cannot be loaded in this process (a dask worker?): {what} cannot be "
        "imported here. A model whose class is importable where it was built is sent by "
        "reference to its module, which every worker must be able to import too. Install that "
        "module (the same version) on the workers, or send it to them with "
        "`client.upload_file('path/to/module.py')` before computing; or pass a TorchScript "
        "model (`torch.jit.script(model)`, which carries its code) or an xlstsr architecture "
        "from a checkpoint (`xlstsr.nn.save_model`; its code ships with xlstsr)."
    )


def model_cache() -> dict[tuple[str, str], Any]:
    """This process's loaded models by (weights hash, device), least recently used first (for
    inspection and tests; at most :data:`MODEL_CACHE_ENTRIES` after a load)."""
    return _MODEL_CACHE


def clear_model_cache() -> None:
    """Drop this process's cached models, those its threads got last included (their memory,
    a GPU's too, is freed once no running forward holds them; the next upscale loads its model
    again). Call it between runs: a worker's task that had its model shipped but not yet run
    fails ("not shipped to this process").

    Examples
    --------
    >>> clear_model_cache()
    >>> len(model_cache())
    0
    """
    with _LRU_LOCK:
        _MODEL_CACHE.clear()
        _EVICTED.clear()
        _PINNED.clear()


def _lookup(k: tuple[str, str]) -> Any:
    """The model cached (or evicted but still held) under ``k``, now the most recently used;
    None when there is none."""
    with _LRU_LOCK:
        m = _MODEL_CACHE.get(k)
        if m is not None:
            _MODEL_CACHE.move_to_end(k)
            return m
        m = _EVICTED.get(k)
        if m is not None:
            _store(k, m)
        return m


def _store(k: tuple[str, str], m: Any) -> None:
    """Cache ``m`` under ``k`` (the most recently used) and evict the least recently used beyond
    :data:`MODEL_CACHE_ENTRIES` (under ``_LRU_LOCK``)."""
    _MODEL_CACHE[k] = m
    _MODEL_CACHE.move_to_end(k)
    while len(_MODEL_CACHE) > max(int(MODEL_CACHE_ENTRIES), 1):
        old_k, old = _MODEL_CACHE.popitem(last=False)
        with contextlib.suppress(TypeError):  # an object without weak references: let it go
            _EVICTED[old_k] = old


def cached_model(key: str, device: str, load: Callable[[str], Any]) -> Any:
    """The model cached under ``(key, device)`` in this process, loaded by ``load(device)`` once
    (thread-safe: concurrent tasks of one worker load it once). The cache keeps the
    :data:`MODEL_CACHE_ENTRIES` models used last; the model a thread got last stays alive (and
    is found again under its key) until that thread asks for another."""
    k = (key, device)
    m = _lookup(k)
    if m is None:
        with _CACHE_LOCK:
            m = _lookup(k)
            if m is None:
                m = load(device)
                with _LRU_LOCK:
                    _store(k, m)
    with _LRU_LOCK:
        _PINNED[threading.current_thread()] = (k, m)
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


def _mismatch(model: Any, args: tuple[Any, ...]) -> str | None:
    """The signature of the model's forward when ``args`` do not fit it (the call's TypeError
    came from the call, not from inside the forward); None when they fit or it cannot be read
    (a TorchScript or builtin forward)."""
    fn = getattr(model, "forward", model)
    try:
        sig = inspect.signature(fn)
    except (TypeError, ValueError):
        return None
    try:
        sig.bind(*args)
    except TypeError:
        return str(sig)
    return None


def _takes_two(model: Any) -> bool:
    """Whether the model's forward takes a second argument (a guide, under any name)."""
    try:
        params = list(inspect.signature(getattr(model, "forward", model)).parameters.values())
    except (TypeError, ValueError):
        return False
    positional = [p for p in params if p.kind in (p.POSITIONAL_ONLY, p.POSITIONAL_OR_KEYWORD)]
    return len(positional) >= 2 or any(p.kind == p.VAR_POSITIONAL for p in params)


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
        args = (lst,) if guide is None else (lst, guide)
        sig = _mismatch(model, args)
        # a forward with a second parameter (named guide or not: `forward(self, lst, ndvi)`)
        if guide is None and ("guide" in str(err) or (sig is not None and _takes_two(model))):
            # forward(self, lst, guide): n_guide not set
            raise XlstsrError(
                f"the model ({type(model).__name__}) was called without a guide, as its "
                f"`n_guide` (0 or absent) says, and its forward failed for the want of one "
                f"({err}): declare the guide channels, `model.n_guide = 1`, and use "
                "method='disr' with guide=..."
            ) from err
        if sig is not None:  # the call itself failed, not the forward's own code
            call = "forward(lst)" if guide is None else "forward(lst, guide)"
            shapes = (f"lst the ({', '.join(map(str, lst.shape))}) Kelvin tensor (B, 1, h, w)"
                      + ("" if guide is None else f", guide the ({', '.join(map(str, guide.shape))}"
                         ") guide channels (B, n_guide, h * factor, w * factor)"))
            raise XlstsrError(
                f"the model ({type(model).__name__}) cannot be called as xlstsr calls it, "
                f"{call} with {shapes}: its forward{sig} does not take these arguments ({err}). "
                "Wrap it in a torch.nn.Module whose forward(lst, guide=None) builds the input it "
                "expects (e.g. `torch.cat([F.interpolate(lst, scale_factor=factor, "
                "mode='bicubic'), guide], 1)` for a network fed one stacked tensor) and returns "
                "its (B, 1, h * factor, w * factor) Kelvin output."
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
    # each submodule's own mode, not only the top one's: a BatchNorm the user froze in eval
    # mode while fine-tuning came back in train mode and updated its statistics on the next step
    modes = [(m, m.training) for m in model.modules()]
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
        for m, training in modes:
            m.training = training

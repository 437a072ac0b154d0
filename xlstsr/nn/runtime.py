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
import hashlib
import io
import threading
from collections.abc import Callable, Iterator
from typing import Any

import numpy as np

__all__ = [
    "cached_model",
    "deserialize_model",
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
    every parameter and buffer (non-persistent ones too) and the values a user-defined module
    holds in plain attributes (numbers, strings, arrays, tensors, lists and dicts of them):
    stable across processes, so it keys caches and resume checks."""
    h = hashlib.sha256()
    h.update(f"{type(model).__module__}.{type(model).__qualname__}".encode())
    h.update(repr(model).encode())
    for attr in ("factor", "n_guide", "receptive_field", "spatially_local", "accepts_nan_guide"):
        h.update(f"{attr}={getattr(model, attr, None)!r};".encode())
    for sub in model.modules():  # the forward code: two classes with one name differ here
        try:
            code = getattr(type(sub).forward, "__code__", None)
        except AttributeError:  # TorchScript modules: their code is hashed by repr() and weights
            code = None
        if code is not None:
            h.update(code.co_code)
            h.update(repr(code.co_consts).encode())
            h.update(_closure_values(type(sub).forward))
        h.update(_attributes(sub))
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


def _attributes(module: Any) -> bytes:
    """The instance attributes that change what a module computes without being parameters,
    buffers or submodules, as stable bytes: functions stored on any module (their code), and the
    values of user-defined modules: numbers, strings, numpy arrays and tensors (their bytes),
    and lists, tuples and dicts of them. Two custom models that differ only there (a lambda,
    ``self.scale = 2.0``, ``self.offsets = [0.5]``, an array of coefficients) must not share a
    cache entry. The modules of torch and xlstsr contribute nothing here (their state is in
    repr() and the weights), so the hashes of the bundled models do not depend on this."""
    own = type(module).__module__.split(".")[0] not in ("torch", "xlstsr")
    parts = []
    for k, v in sorted(getattr(module, "__dict__", {}).items()):
        if k.startswith("_") or k == "training":
            continue
        code = getattr(v, "__code__", None)
        if code is not None:
            parts.append(f"{k}:".encode() + code.co_code + repr(code.co_consts).encode())
        elif own and (isinstance(v, _PLAIN) or (
                isinstance(v, tuple) and all(isinstance(x, _PLAIN) for x in v))):
            parts.append(f"{k}={v!r};".encode())  # as before: the hashes of such models stay
        elif own:
            value = _value_bytes(v)
            if value is not None:
                parts.append(f"{k}=".encode() + value + b";")
    return b"".join(parts)


#: how deep :func:`_value_bytes` follows nested lists and dicts (a bounded cost per attribute)
_MAX_DEPTH = 4


def _value_bytes(v: Any, depth: int = 0) -> bytes | None:
    """A stable byte form of a plain value, a numpy array, a tensor, or a list, tuple or dict
    of them (``_MAX_DEPTH`` levels deep); None for anything else (other objects' repr may
    name a memory address, unstable across the processes a resume check compares)."""
    import torch

    if isinstance(v, (*_PLAIN, complex, bytes)):
        return repr(v).encode()
    if isinstance(v, np.generic):  # np.float32(2.0): its value, not an object
        v = np.asarray(v)
    if isinstance(v, np.ndarray):
        if v.dtype.hasobject:
            return None if depth >= _MAX_DEPTH else _value_bytes(v.tolist(), depth + 1)
        a = np.ascontiguousarray(v)
        return f"ndarray{a.dtype.str}{a.shape}".encode() + a.tobytes()
    if isinstance(v, torch.Tensor):
        return None if v.is_meta else b"tensor" + _tensor_bytes(v)
    if depth >= _MAX_DEPTH or not isinstance(v, (list, tuple, dict)):
        return None

    def item(x: Any) -> bytes:  # another object inside: its type only
        b = _value_bytes(x, depth + 1)
        return b if b is not None else f"<{type(x).__qualname__}>".encode()

    if isinstance(v, dict):
        pairs = sorted(item(k) + b":" + item(x) for k, x in v.items())
        return b"dict{" + b",".join(pairs) + b"}"
    return f"{type(v).__name__}[".encode() + b",".join(item(x) for x in v) + b"]"


def serialize_model(model: Any) -> bytes:
    """The whole module (structure and weights) as bytes, on the CPU; cloudpickle when available
    so that models whose class is defined in a script or a function still travel."""
    import torch

    try:
        import cloudpickle as pickle_module
    except ImportError:  # pragma: no cover - dask depends on cloudpickle
        import pickle as pickle_module
    buf = io.BytesIO()
    torch.save(copy.deepcopy(model).cpu(), buf, pickle_module=pickle_module)
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


def forward(model: Any, lst: Any, guide: Any, *, factor: int | None = None,
            check_finite: bool = True) -> Any:
    """``model(lst)`` or ``model(lst, guide)``: the model protocol's call, with its output checked.

    The output must be a tensor of shape ``(B, 1, h * factor, w * factor)`` for an ``lst`` of
    ``(B, 1, h, w)`` (``factor``: the model's ``factor`` attribute when not given), and finite
    wherever the inputs are (the engine fills LST gaps before the forward): anything else raises
    an :class:`~xlstsr.errors.XlstsrError` naming what the model returned, since the engine would
    otherwise take one channel of several, or pass NaN on as gaps, without a word. An error
    raised inside the model's forward propagates as it is (the model's own code).

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

    try:
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

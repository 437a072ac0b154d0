"""Run a PyTorch super-resolution model as an upscaling method (streamed by the engine).

The model protocol
------------------
A model is an :class:`torch.nn.Module` with

- ``factor`` (int): the upscaling factor it was trained for;
- ``n_guide`` (int): number of fine guide channels (0 for single-image SISR);
- ``receptive_field`` (int, optional): how far, in coarse pixels, an output pixel can see. When
  absent it is measured by an impulse-response probe (:func:`measure_receptive_field`);
- ``spatially_local`` (bool, optional, default True): False if the forward uses scene-wide
  statistics (per-image normalisation...), which makes the engine feed whole images;
- ``guide_fill_value`` (float, optional, default 0.0): what guide gaps the engine cannot fill
  locally become; ``accepts_nan_guide`` (bool, optional, default False): True if the forward
  handles NaN in the guide itself (per pixel), in which case the guide is passed unfilled;
- ``forward(lst, guide=None)``: ``lst`` (B, 1, h, w) Kelvin float32, ``guide``
  (B, n_guide, h*f, w*f) float32 or None; returns (B, 1, h*f, w*f) Kelvin.

Models on dask workers
----------------------
The live module is never pickled into tasks. A :class:`TorchModelMethod` pickles to a few bytes
(the weights hash, device, options); the serialized model travels once as a single graph key
that every block task depends on (:meth:`TorchModelMethod.shipment`), so a distributed worker
receives it once and caches the loaded model per process, keyed by the weights hash and device.
Inside a dask worker thread ``torch.set_num_threads(1)`` (the setting is per thread with the
OpenMP build of torch); in the main thread (synchronous scheduler, numpy input) torch keeps its
default (all cores), unless ``num_threads`` is given.

Examples
--------
>>> import torch
>>> class Up(torch.nn.Module):
...     factor, n_guide, receptive_field = 2, 0, 0
...     def forward(self, lst, guide=None):
...         return torch.nn.functional.interpolate(lst, scale_factor=2, mode="nearest")
>>> m = TorchModelMethod(Up(), device="cpu")
>>> m.upscale_block(np.full((1, 2, 2), 300.0), np.ones((1, 2, 2), bool), None, 2).shape
(1, 4, 4)
"""

from __future__ import annotations

import hashlib
import io
import os
import threading
from typing import Any

import numpy as np

from ..errors import XlstsrError
from ..kernels.interp import fill_gaps
from .base import UpscaleMethod

__all__ = ["TorchModelMethod", "measure_receptive_field", "resolve_device"]

#: models loaded in this process, keyed by (weights hash, device)
_MODEL_CACHE: dict[tuple[str, str], Any] = {}
_CACHE_LOCK = threading.Lock()


def resolve_device(device: str = "auto") -> str:
    """``"auto"`` -> ``"cuda"`` when a GPU is visible to torch, else ``"cpu"``; others unchanged."""
    import torch

    if device == "auto":
        return "cuda" if torch.cuda.is_available() else "cpu"
    return str(device)


def _weights_hash(model: Any) -> str:
    """SHA-256 of the model's class, structure, protocol attributes, forward code and every
    parameter/buffer (bytes): stable across processes, so it keys caches and resume checks."""
    h = hashlib.sha256()
    h.update(f"{type(model).__module__}.{type(model).__qualname__}".encode())
    h.update(repr(model).encode())
    for attr in ("factor", "n_guide", "receptive_field", "spatially_local", "accepts_nan_guide"):
        h.update(f"{attr}={getattr(model, attr, None)!r};".encode())
    for sub in model.modules():  # the forward code: two classes with one name differ here
        code = getattr(type(sub).forward, "__code__", None)
        if code is not None:
            h.update(code.co_code)
            h.update(repr(code.co_consts).encode())
    for k, v in model.state_dict().items():
        h.update(k.encode())
        t = v.detach().cpu().contiguous()
        h.update(str(t.dtype).encode())
        h.update(str(tuple(t.shape)).encode())
        h.update(t.reshape(-1).view(-1).numpy().tobytes() if t.numel() else b"")
    return h.hexdigest()[:32]


def _serialize(model: Any) -> bytes:
    """The whole module (structure and weights) as bytes, on the CPU; cloudpickle when available
    so that models whose class is defined in a script or a function still travel."""
    import copy

    import torch

    try:
        import cloudpickle as pickle_module
    except ImportError:  # pragma: no cover - dask depends on cloudpickle
        import pickle as pickle_module
    buf = io.BytesIO()
    torch.save(copy.deepcopy(model).cpu(), buf, pickle_module=pickle_module)
    return buf.getvalue()


class _Shipment:
    """A model on its way to dask workers: serialized only when pickled (never under the threaded
    or synchronous schedulers), deserialized once per process by :meth:`TorchModelMethod.receive`."""

    def __init__(self, key: str, model: Any = None, payload: bytes | None = None) -> None:
        self.key, self.model, self._payload = key, model, payload

    def payload(self) -> bytes:
        if self._payload is None:
            self._payload = _serialize(self.model)
        return self._payload

    def __reduce__(self) -> tuple:
        return (_Shipment, (self.key, None, self.payload()))

    def __dask_tokenize__(self) -> tuple:
        return ("xlstsr-shipment", self.key)


def _deserialize(payload: bytes, device: str) -> Any:
    import torch

    model = torch.load(io.BytesIO(payload), map_location="cpu", weights_only=False)
    return model.to(device).eval()


def _forward(model: Any, lst: Any, guide: Any) -> Any:
    return model(lst) if guide is None else model(lst, guide)


def measure_receptive_field(
    model: Any, factor: int | None = None, n_guide: int | None = None, max_rf: int = 64
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
                    base = _forward(model, lst0, g0)[0, 0].double().cpu().numpy()
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
                        out = _forward(model, lst1, g1)[0, 0].double().cpu().numpy()
                    changed = np.argwhere(np.abs(out - base) > 0)
                    if changed.size:
                        coarse = changed // f  # coarse pixel of each changed fine pixel
                        found = max(found, int(np.abs(coarse - c).max()))
            if found < half or half >= max_rf:
                return min(found, max_rf)
            half *= 2
    finally:
        model.train(was_training)


def _fill_guide(guide: np.ndarray, radius: int, fill_value: float) -> np.ndarray:
    """Fill guide NaN locally (``radius`` rounds of valid-neighbour averaging), then a constant.

    Purely local (a filled value depends only on data within ``radius`` fine pixels), so chunked
    inference stays identical to whole-array inference.
    """
    return fill_gaps(np.asarray(guide, dtype=np.float32), radius, far_value=fill_value)


class TorchModelMethod(UpscaleMethod):
    """A PyTorch model (see the module's protocol) as an :class:`UpscaleMethod`.

    Parameters
    ----------
    model : nn.Module or path
        A model following the protocol, or a checkpoint path loaded with
        :func:`xlstsr.nn.checkpoint.load_model`.
    device : str
        ``"auto"`` (GPU if torch sees one, else CPU), ``"cpu"``, ``"cuda"``, ``"cuda:1"``...
        Resolved on each worker process.
    batch_size : int, optional
        Images per forward pass; default: all images of a block in one pass.
    num_threads : int, optional
        Torch intra-op threads per task; default 1 inside dask worker threads, torch's default
        (all cores) in the main thread.

    Notes
    -----
    Guide NaN are filled before the forward: ``factor`` rounds of local neighbour averaging,
    then the model's ``guide_fill_value`` attribute (default 0.0), unless the model sets
    ``accepts_nan_guide = True``. Both keep chunked inference exact (local operations only).
    LST gaps are filled by the engine and re-masked afterwards.

    Examples
    --------
    >>> import torch, xlstsr
    >>> class Up(torch.nn.Module):
    ...     factor, n_guide, receptive_field = 4, 0, 0
    ...     def forward(self, lst, guide=None):
    ...         return torch.nn.functional.interpolate(lst, scale_factor=4, mode="nearest")
    >>> scene = xlstsr.datasets.sample_scene(n_times=1, size=32)
    >>> sr = xlstsr.upscale(scene["lst_1km"], 4, method=TorchModelMethod(Up()))
    >>> sr.shape
    (1, 32, 32)
    """

    name = "torch"

    def __init__(
        self,
        model: Any,
        *,
        device: str = "auto",
        batch_size: int | None = None,
        num_threads: int | None = None,
    ) -> None:
        import torch

        self._path: str | None = None
        if isinstance(model, (str, os.PathLike)):
            from ..nn.checkpoint import load_model  # lazy: written by the models module

            self._path = os.fspath(model)
            model = load_model(self._path, device="cpu")
        if not isinstance(model, torch.nn.Module):
            raise TypeError(
                f"model must be a torch.nn.Module or a checkpoint path, got {type(model).__name__}"
            )
        for attr in ("factor",):
            if not hasattr(model, attr):
                raise XlstsrError(
                    f"the model ({type(model).__name__}) has no `{attr}` attribute; set e.g. "
                    f"`model.{attr} = 4` (the protocol is in xlstsr.methods.torch_model)."
                )
        if batch_size is not None and int(batch_size) < 1:
            raise ValueError(f"batch_size must be >= 1, got {batch_size}")
        self.factor = int(model.factor)
        self.n_guide = int(getattr(model, "n_guide", 0) or 0)
        self.needs_guide = self.n_guide > 0  # instance attribute shadows the class default
        self.spatially_local = bool(getattr(model, "spatially_local", True))
        self.guide_fill_value = float(getattr(model, "guide_fill_value", 0.0))
        self.accepts_nan_guide = bool(getattr(model, "accepts_nan_guide", False))
        self.device = str(device)
        self.batch_size = None if batch_size is None else int(batch_size)
        self.num_threads = None if num_threads is None else int(num_threads)
        rf = getattr(model, "receptive_field", None)
        self.receptive_field_measured = rf is None
        model = model.eval()
        if rf is None:
            rf = measure_receptive_field(model, self.factor, self.n_guide)
        self.receptive_field = int(rf)
        self.model_class = f"{type(model).__module__}.{type(model).__qualname__}"
        self.weights_hash = _weights_hash(model)
        self._shipment: _Shipment | None = None
        self._local_model = model  # in-process only; dropped when pickled

    # -- pickling / tokenizing: a few bytes, never the module ------------------------------------
    def __getstate__(self) -> dict[str, Any]:
        state = dict(self.__dict__)
        state["_local_model"] = None
        state["_shipment"] = None
        return state

    def __dask_tokenize__(self) -> tuple:
        return (
            type(self).__name__,
            self.weights_hash,
            self.device,
            self.batch_size,
            self.num_threads,
        )

    # -- shipping weights once -------------------------------------------------------------------
    def shipment(self) -> tuple[str, _Shipment]:
        """(key, shipment): the model, serialized once when the graph leaves this process."""
        if self._shipment is None:
            if self._local_model is None:
                raise XlstsrError("this TorchModelMethod was unpickled without its model")
            self._shipment = _Shipment(self.weights_hash, self._local_model)
        return self.weights_hash, self._shipment

    def receive(self, shipment: _Shipment | bytes | None) -> None:
        """Load a shipped model into this process's cache (no-op when already there)."""
        if self._local_model is not None or shipment is None:
            return  # in the process that built it: model() uses the live module
        key = (self.weights_hash, resolve_device(self.device))
        if key in _MODEL_CACHE:
            return
        with _CACHE_LOCK:
            if key not in _MODEL_CACHE:
                if isinstance(shipment, _Shipment):
                    model = shipment.model if shipment.model is not None else None
                    payload = shipment.payload() if model is None else None
                else:
                    model, payload = None, shipment
                if model is not None:
                    _MODEL_CACHE[key] = model.to(key[1]).eval()
                else:
                    _MODEL_CACHE[key] = _deserialize(payload, key[1])

    def model(self) -> Any:
        """The loaded model on this process's device (cached per process)."""
        dev = resolve_device(self.device)
        key = (self.weights_hash, dev)
        m = _MODEL_CACHE.get(key)
        if m is not None:
            return m
        with _CACHE_LOCK:
            m = _MODEL_CACHE.get(key)
            if m is None:
                if self._local_model is not None:
                    import copy

                    m = self._local_model if dev == "cpu" else copy.deepcopy(self._local_model)
                    m = m.to(dev).eval()
                elif self._path is not None:
                    from ..nn.checkpoint import load_model

                    m = load_model(self._path, device=dev).eval()
                else:
                    raise XlstsrError(
                        "the model's weights were not shipped to this process; run it through "
                        "xlstsr.upscale / xlstsr.engine.upscale_array, which ship them once."
                    )
                _MODEL_CACHE[key] = m
        return m

    # -- UpscaleMethod ---------------------------------------------------------------------------
    def _check_factor(self, factor: int) -> None:
        if int(factor) != self.factor:
            raise XlstsrError(
                f"the model was built for factor {self.factor}, not {factor}; call "
                f"upscale(..., factor={self.factor}) or use a model trained for x{factor}."
            )

    def halo(self, factor: int) -> int:
        self._check_factor(factor)
        return self.receptive_field

    def _threads(self) -> int | None:
        if self.num_threads is not None:
            return self.num_threads
        if threading.current_thread() is threading.main_thread():
            return None  # synchronous scheduler / numpy input: torch's default (all cores)
        return 1  # a dask worker thread: one torch thread per task avoids oversubscription

    def upscale_block(self, lst, valid, guide, factor):
        import torch

        self._check_factor(factor)
        if self.needs_guide:
            if guide is None:
                raise XlstsrError(
                    f"the model needs {self.n_guide} guide channel(s) (e.g. NDVI at the fine "
                    "resolution): pass `guide=...`."
                )
            if guide.shape[1] != self.n_guide:
                raise XlstsrError(
                    f"the model expects {self.n_guide} guide channel(s), got {guide.shape[1]}; "
                    "pass the bands it was trained with."
                )
        model = self.model()
        dev = torch.device(resolve_device(self.device))
        threads = self._threads()
        if threads is not None and torch.get_num_threads() != threads:
            torch.set_num_threads(threads)
        n = lst.shape[0]
        bs = self.batch_size or n
        x = np.ascontiguousarray(lst, dtype=np.float32)[:, None]
        g = None
        if self.needs_guide and self.accepts_nan_guide:
            g = np.asarray(guide, dtype=np.float32)
        elif self.needs_guide:
            g = _fill_guide(
                guide, min(factor, self.receptive_field * factor), self.guide_fill_value
            )
        outs = []
        with torch.inference_mode():
            for s in range(0, n, bs):
                xt = torch.from_numpy(x[s : s + bs]).to(dev)
                gt = (
                    None
                    if g is None
                    else torch.from_numpy(np.ascontiguousarray(g[s : s + bs])).to(dev)
                )
                y = _forward(model, xt, gt)
                outs.append(y[:, 0].float().cpu().numpy())
        return np.concatenate(outs, axis=0)

    def describe(self) -> dict[str, Any]:
        return {
            "model": self.model_class,
            "weights_sha256": self.weights_hash,
            "factor": self.factor,
            "n_guide": self.n_guide,
            "receptive_field": self.receptive_field,
            "receptive_field_measured": self.receptive_field_measured,
        }

"""Running a model of the protocol through ONNX Runtime on the CPU: export, check, run.

torch only (no xarray, no dask), like :mod:`xlstsr.nn.runtime`; the deep methods' opt-in
``backend="onnxruntime"`` (``pip install xlstsr[onnx]``). ONNX Runtime's CPU kernels fuse each
convolution with its activation and run the small-channel convolutions of the bundled networks
in a blocked layout, at a fixed cost per call: on this project's 2-core CPU its best tile (256
coarse px) ran the bundled U-Net's forward 1.3x faster than torch's best (128 px,
channels-last), and no faster than torch on 128 px tiles (``benchmarks/engine.py``,
docs/results/engine.md). :class:`OnnxModel` exports a module once per process (input sizes
free), checks the export against torch on a second input shape, and is then called like the
module: ``model(lst, guide)`` -> a (B, 1, H, W) torch tensor.

Examples
--------
>>> import torch
>>> from xlstsr.nn import ResCNN
>>> m = ResCNN(4, channels=4, n_blocks=1).eval()
>>> fast = OnnxModel(m)
>>> lst = torch.full((1, 1, 6, 5), 300.0)
>>> bool((fast(lst) - m(lst)).abs().max() < 1e-3)
True
"""

from __future__ import annotations

import importlib.util
import io
import threading
import warnings
from typing import Any

import numpy as np

__all__ = ["ONNX_TOLERANCE_K", "OnnxModel", "onnx_available"]

#: largest difference (K) allowed between the exported model and torch on the check input
ONNX_TOLERANCE_K = 1e-3
_OPSET = 17


def onnx_available() -> bool:
    """Whether ONNX Runtime and the ``onnx`` package (torch's exporter needs it) are installed.

    Examples
    --------
    >>> isinstance(onnx_available(), bool)
    True
    """
    return all(importlib.util.find_spec(p) is not None for p in ("onnxruntime", "onnx"))


class OnnxModel:
    """A model of the protocol run by ONNX Runtime on the CPU.

    Parameters
    ----------
    module : torch.nn.Module
        The model (see :mod:`xlstsr.methods.torch_model`), on the CPU, in eval mode.
    factor, n_guide, accepts_nan_guide : optional
        The protocol's attributes where the caller holds them; default: read from ``module``.

    Raises
    ------
    xlstsr.errors.XlstsrError
        When ONNX Runtime is not installed, the model cannot be exported (code torch's tracer
        cannot follow), or the exported model differs from torch by more than
        :data:`ONNX_TOLERANCE_K` on an input of another shape than the export's (a shape-dependent
        branch the trace froze): run the model with torch (``backend="torch"``). A model whose
        weights are not float32 (the engine's inputs are) is told to convert, ``model.float()``:
        torch fails on it too.

    Notes
    -----
    The protocol's attributes (``factor``, ``n_guide``, ``receptive_field``...) are read from the
    module unless given. One ONNX Runtime session per intra-op thread count: a call runs with
    torch's current thread count (:func:`xlstsr.nn.runtime.set_task_threads`), so the engine's worker threads run
    one thread each on the same session (ONNX Runtime's ``run`` is thread-safe).
    """

    def __init__(self, module: Any, *, factor: int | None = None, n_guide: int | None = None,
                 accepts_nan_guide: bool | None = None) -> None:
        from ..errors import XlstsrError

        if not onnx_available():
            raise XlstsrError(
                "backend='onnxruntime' needs the onnxruntime and onnx packages: "
                "`pip install onnxruntime onnx`, or use backend='torch'."
            )
        self.module = module
        # given by the caller where it holds them: a copy of a TorchScript module (deepcopy,
        # torch.jit.load) loses the attributes set on it in Python (`ts.factor = 4`)
        if factor is None:
            factor = getattr(module, "factor", None)
        if factor is None:
            raise XlstsrError(
                f"the model ({type(module).__name__}) has no `factor` attribute; set it, e.g. "
                "`model.factor = 4`, or pass OnnxModel(model, factor=4)."
            )
        self.factor = int(factor)
        self.n_guide = int(n_guide if n_guide is not None
                           else getattr(module, "n_guide", 0) or 0)
        for attr in ("receptive_field", "metadata"):
            if hasattr(module, attr):
                setattr(self, attr, getattr(module, attr))
        self._names = ["lst", "guide"][: 1 + bool(self.n_guide)]
        self._accepts_nan = bool(accepts_nan_guide if accepts_nan_guide is not None
                                 else getattr(module, "accepts_nan_guide", False))
        self._sessions: dict[int, Any] = {}
        self._lock = threading.Lock()
        self.onnx_bytes = self._export()
        self._check()

    # -- export and check ------------------------------------------------------------------------
    def _example(self, b: int, h: int, w: int, seed: int, level: float = 295.0) -> tuple[Any, ...]:
        import torch

        rng = np.random.default_rng(seed)
        lst = torch.from_numpy((level + 8 * rng.standard_normal((b, 1, h, w))).astype(np.float32))
        if not self.n_guide:
            return (lst,)
        f = self.factor
        g = rng.uniform(-0.1, 0.9, (b, self.n_guide, h * f, w * f)).astype(np.float32)
        if self._accepts_nan:
            g[:, :, :f, :f] = np.nan
        return lst, torch.from_numpy(g)

    def _export(self) -> bytes:
        import torch

        from ..errors import XlstsrError

        # sizes free; the fine inputs and output get their own names (a shared name tells
        # ONNX Runtime the coarse and fine sizes are equal: it then plans buffers wrongly)
        coarse = {0: "batch", 2: "height", 3: "width"}
        fine = {0: "batch", 2: "fine_height", 3: "fine_width"}
        axes = {n: coarse if n == "lst" else fine for n in [*self._names, "lst_fine"]}
        buf = io.BytesIO()
        try:
            with warnings.catch_warnings():
                # the tracer's notes on shape arithmetic and the legacy exporter's deprecation:
                # the check on another shape below is what decides
                warnings.simplefilter("ignore")
                torch.onnx.export(
                    self.module, self._example(1, 12, 16, 0), buf, input_names=self._names,
                    output_names=["lst_fine"], opset_version=_OPSET, dynamo=False,
                    dynamic_axes=axes,
                )
        except Exception as err:  # any failure of the tracer or exporter: the caller's choice
            dtype = _weights_dtype(self.module)
            if dtype is not None and dtype != torch.float32:
                # the example inputs are float32, as the engine's: "run it with
                # backend='torch'" failed there too, on the same dtypes
                raise XlstsrError(
                    f"the model ({type(self.module).__name__}) could not be exported to ONNX: its "
                    f"weights are {dtype} but the engine feeds torch.float32 Kelvin "
                    f"({type(err).__name__}: {str(err)[:160]}); convert the model, "
                    "`model.float()`, or cast the input inside its forward."
                ) from err
            raise XlstsrError(
                f"the model ({type(self.module).__name__}) could not be exported to ONNX "
                f"({type(err).__name__}: {str(err)[:200]}); run it with backend='torch'."
            ) from err
        return buf.getvalue()

    def _check(self) -> None:
        """The export against torch on inputs of another batch, odd sizes and other
        temperatures (a cold night, a hot day): a branch on a size or on the values that the
        trace froze shows up here as a wrong shape or value (a day/night switch on the scene's
        mean ran the day branch on every night, 2 K off, silently)."""
        import torch

        from ..errors import XlstsrError

        for args, what in ((self._example(2, 13, 11, 1), "another size"),
                           (self._example(1, 9, 7, 2, level=262.0), "a cold (night) scene"),
                           (self._example(1, 9, 7, 3, level=318.0), "a hot scene")):
            with torch.inference_mode():
                want = self.module(*args)
            if isinstance(want, torch.Tensor) and not bool(torch.isfinite(want).all()):
                # NaN in torch's own output made the difference below NaN, blamed on the export
                # (which was exact), with advice (backend='torch') that then failed on the NaN
                self._refuse_nonfinite(want, what)
            try:
                got = self(*args, threads=1)
                diff = float((got - want).abs().max()) if got.shape == want.shape else np.inf
            except Exception as err:  # ONNX Runtime's own errors (a shape op the trace fixed)
                raise XlstsrError(
                    f"the ONNX export of the model ({type(self.module).__name__}) fails on an "
                    f"input of {what} ({type(err).__name__}: {str(err)[:200]}); run it with "
                    "backend='torch'."
                ) from err
            if not diff <= ONNX_TOLERANCE_K:
                raise XlstsrError(
                    f"the ONNX export of the model ({type(self.module).__name__}) differs from "
                    f"torch by {diff:.3g} K on an input of {what} (its forward branches on sizes "
                    "or values the export froze); run it with backend='torch'."
                )

    def _refuse_nonfinite(self, out: Any, what: str) -> None:
        """Refuse a model whose own (torch) output ``out`` on the check's input of ``what``
        holds NaN or infinite values: upscale needs finite Kelvin wherever the LST is clear,
        with either backend."""
        import torch

        from ..errors import ImplausibleOutputError

        n = int((~torch.isfinite(out)).sum())
        name = type(self.module).__name__
        if self._accepts_nan:
            given = (f"a finite LST and a guide with NaN in its first {self.factor} x "
                     f"{self.factor} pixels (the model sets accepts_nan_guide)")
            fix = ("fill the guide's gaps inside its forward, or drop `accepts_nan_guide` so "
                   "that xlstsr fills them before the forward")
        else:
            given = "finite inputs"
            fix = ("its weights hold NaN (a diverged training?) or its forward divides by zero; "
                   "check the model on a small input")
        raise ImplausibleOutputError(
            f"the model ({name}) itself, in torch, returned NaN or infinite values ({n} of "
            f"{out.numel()} pixels) for {given}, on the ONNX export's check input of {what}: "
            "upscale needs finite Kelvin wherever the LST is clear, with either backend (the "
            f"output would silently become gaps); {fix}."
        )

    # -- running ---------------------------------------------------------------------------------
    def session(self, threads: int) -> Any:
        """The ONNX Runtime session with ``threads`` intra-op threads (made once)."""
        s = self._sessions.get(threads)
        if s is not None:
            return s
        import onnxruntime as ort

        with self._lock:
            s = self._sessions.get(threads)
            if s is None:
                so = ort.SessionOptions()
                so.intra_op_num_threads = int(threads)
                so.inter_op_num_threads = 1
                so.graph_optimization_level = ort.GraphOptimizationLevel.ORT_ENABLE_ALL
                s = self._sessions[threads] = ort.InferenceSession(
                    self.onnx_bytes, so, providers=["CPUExecutionProvider"])
        return s

    def __call__(self, lst: Any, guide: Any = None, *, threads: int | None = None) -> Any:
        """``module(lst, guide)`` through ONNX Runtime: torch tensors in, a torch tensor out."""
        import torch

        if threads is None:
            threads = torch.get_num_threads()
        feed = {"lst": np.ascontiguousarray(lst.detach().cpu().numpy(), dtype=np.float32)}
        if self.n_guide:
            if guide is None:
                raise ValueError(f"{type(self.module).__name__} needs a guide")
            feed["guide"] = np.ascontiguousarray(guide.detach().cpu().numpy(), dtype=np.float32)
        (out,) = self.session(int(threads)).run(None, feed)
        return torch.from_numpy(out)

    def parameters(self) -> Any:
        """The module's parameters (what :func:`xlstsr.nn.runtime.forward` inspects on errors)."""
        return self.module.parameters()

    def __repr__(self) -> str:
        return f"OnnxModel({type(self.module).__name__})"


def _weights_dtype(module: Any) -> Any:
    """The dtype of a module's first floating-point parameter (or buffer), None without one."""
    tensors = [*module.parameters(), *module.buffers()]
    return next((t.dtype for t in tensors if t.is_floating_point()), None)

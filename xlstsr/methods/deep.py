"""Deep super-resolution methods ``"sisr"`` and ``"disr"``, backed by the bundled weights.

``upscale(lst, 4, method="sisr")`` runs the bundled single-image model (LST only);
``upscale(lst, 4, method="disr", guide=ndvi)`` the bundled guided model (NDVI at the fine
resolution). ``method_options={"model": ...}`` replaces the bundled weights with a checkpoint
(written by :func:`xlstsr.nn.save_model` or ``xlstsr train``), any :class:`torch.nn.Module`
following the protocol of :mod:`xlstsr.methods.torch_model`, or other bundled weights by name
(:func:`xlstsr.nn.weights.list_weights`). Inference is
streamed by the engine (:class:`~xlstsr.methods.torch_model.TorchModelMethod`). Which data and
split each bundled model was trained on: ``docs/models.md`` and the checkpoint's ``metadata``.

Examples
--------
>>> import xlstsr
>>> scene = xlstsr.datasets.sample_scene(n_times=1, size=64)
>>> sr = xlstsr.upscale(scene["lst_1km"], 4, method="sisr")
>>> sr.shape
(1, 64, 64)
"""

from __future__ import annotations

import os
import shlex
from pathlib import Path
from typing import Any, ClassVar

import numpy as np

from ..errors import CheckpointError
from ..kernels.aggregate import conserve_radiometric
from .base import option_bool, register_method
from .torch_model import TorchModelMethod, _model_metadata, _own_network, resolve_model

__all__ = ["DISR", "SISR", "conserve_radiance"]


def conserve_radiance(sr: np.ndarray, lst: np.ndarray, factor: int) -> np.ndarray:
    """Make ``radiometric_mean(sr, f)`` equal ``lst`` (per-block scaling in T^4).

    Local to each coarse pixel, so chunked inference stays exact; see
    :func:`xlstsr.kernels.aggregate.conserve_radiometric`.
    """
    return conserve_radiometric(sr, lst, factor).astype(sr.dtype, copy=False)


def _guideless_message(name: str, model: Any, checkpoint: str | None) -> str:
    """What to say when a model without a guide is given to a guided method. Declaring
    ``model.n_guide`` is advice for a user's own module whose forward takes a guide only: a
    checkpoint or an xlstsr architecture (single-image networks, whose forward takes none)
    cannot follow it, nor can the command line."""
    say = (f"method {name!r} needs a guided (DISR) model, this one takes no guide (its "
           "`n_guide` is 0 or absent); use method='sisr' for it, without a guide (--guide)")
    if checkpoint is not None or _own_network(model):
        return say + (f", or keep method={name!r} with its default guided weights: leave the "
                      "model (--model) out")
    return say + (", or, if its forward takes a guide, declare how many channels: "
                  "`model.n_guide = 1`")


def _guided_message(name: str, model: Any, n_guide: int, checkpoint: str | None) -> str:
    """What to say when a guided model is given to a single-image method: the guided method
    and the guide it needs, in one go ("use method='disr'" alone, followed, failed again for
    want of a guide), its bands named from the model's recorded inputs. ``checkpoint``: the
    model's path or bundled name as given, None for a module."""
    inputs = _model_metadata(model).get("inputs")
    names = ([str(v) for v in inputs[1:1 + n_guide]]
             if isinstance(inputs, (list, tuple)) and len(inputs) == 1 + n_guide else [])
    var = names[0] if len(names) == 1 and names[0].isidentifier() else "guide"
    given = repr(checkpoint) if checkpoint is not None else "<the module>"
    what = "that band" if n_guide == 1 else "those bands, in that order"
    # phrased so that the command line's rewriting of method= and method_options= into its
    # flags reads (a Python call with them inside became `upscale(..., --model m.pt)`)
    # the command line with the model given (without --model it ran the bundled weights, 5 K
    # off); none for a module, which no command takes
    cli = ("" if checkpoint is None else
           f"; on the command line --method disr --model {shlex.quote(str(checkpoint))} "
           f"--guide {var}.tif (a raster of {what})")
    return (f"method {name!r} runs single-image models; this one needs {n_guide} guide "
            f"band(s){f' {names}' if names else ''}: use method='disr' with "
            f"method_options={{'model': {given}}} and guide= holding {what} on the fine grid "
            f"(factor times finer than the LST), e.g. guide={var}{cli}")


class _DeepMethod(TorchModelMethod):
    default_weights: ClassVar[str] = ""
    guided: ClassVar[bool] = False

    def __init__(
        self,
        model: Any | None = None,
        *,
        checkpoint: str | Path | None = None,
        weights: str | None = None,
        conserve: bool = False,
        device: str = "auto",
        batch_size: int | None = None,
        num_threads: int | None = None,
        channels_last: bool = True,
        backend: str = "torch",
    ) -> None:
        self.conserve = option_bool(self.name, "conserve", conserve)
        given = [x for x in (model, checkpoint, weights) if x is not None]
        if len(given) > 1:
            raise TypeError(
                "give the model once: model= takes a checkpoint path, an nn.Module or bundled "
                "weights by name (checkpoint= and weights= are aliases of it)"
            )
        model, self.checkpoint = resolve_model(given[0] if given else self.default_weights)
        n_guide = int(getattr(model, "n_guide", 0) or 0)
        if self.guided and n_guide == 0:
            raise CheckpointError(_guideless_message(self.name, model, self.checkpoint))
        if not self.guided and n_guide:
            # the model as the user named it (a bundled name, not the file it resolved to)
            named = given[0] if given and isinstance(given[0], (str, os.PathLike)) else None
            raise CheckpointError(_guided_message(
                self.name, model, n_guide, None if named is None else os.fspath(named)))
        super().__init__(model, device=device, batch_size=batch_size, num_threads=num_threads,
                         channels_last=channels_last, backend=backend)
        self.metadata = _model_metadata(model)  # {} for a user's metadata that is no mapping

    def __dask_tokenize__(self) -> tuple:
        return (*super().__dask_tokenize__(), self.name, self.conserve)

    def upscale_block(self, lst, valid, guide, factor):
        out = super().upscale_block(lst, valid, guide, factor)
        if self.conserve:
            out = conserve_radiance(out, lst, factor)
        return out

    def describe(self) -> dict[str, Any]:
        d = super().describe()
        d["conserve"] = self.conserve
        if self.checkpoint is not None:
            d["checkpoint"] = Path(self.checkpoint).name
        # provenance labels of the model (free-form): shown, but no part of a resume's
        # fingerprint, where the weights hash identifies the model (methods.base.MODEL_LABELS)
        for k in ("mode", "inputs"):
            if k in self.metadata:
                d[k] = self.metadata[k]
        return d


@register_method("sisr")
class SISR(_DeepMethod):
    """Single-image deep SR (LST only). Default: the bundled ResCNN x4 (``weights="rescnn"``,
    trained at degraded resolution, 4 km -> 1 km, on the MOD11A1 datacube split by window
    position); ``weights="rescnn_granule"`` for the earlier granule model, ``"mrunet"`` for the
    bundled MRUNet (docs/models.md).

    Parameters
    ----------
    model : path, nn.Module or str, optional
        The model: a checkpoint written by :func:`xlstsr.nn.save_model`, any module following
        the protocol of :mod:`xlstsr.methods.torch_model`, or bundled weights by name
        (:func:`xlstsr.nn.weights.list_weights`: ``"rescnn"``, ``"mrunet"``...). Default: the
        method's bundled weights.
    checkpoint, weights
        Aliases of ``model`` (a path; a bundled name).
    conserve : bool
        Enforce coarse consistency: add each coarse pixel's residual back so that the radiometric
        aggregate of the output equals the input (:func:`conserve_radiance`).
    device, batch_size, num_threads, channels_last, backend
        As :class:`~xlstsr.methods.torch_model.TorchModelMethod` (``backend="onnxruntime"``:
        ONNX Runtime on the CPU, ``pip install xlstsr[onnx]``; ``channels_last=False``: the
        contiguous memory layout).
    """

    default_weights = "rescnn"
    guided = False


@register_method("disr")
class DISR(_DeepMethod):
    """Guided deep SR (LST + fine guide, e.g. NDVI). Default: the bundled coarse-grid network x4
    (``weights="fast"``, :class:`~xlstsr.nn.GuidedResCNN` distilled from the guided U-Net
    ``weights="unet"``: level with it on the validation pairs at a third of its CPU time; the
    U-Net is cross-sensor MODIS -> ASTER, trained on ASTER truth co-registered with the MODIS
    LST); ``weights="unet_displaced"`` for the earlier U-Net trained on ASTER as given
    (about one 250 m pixel off), ``"sif"`` for the scale-invariance-free one, ``"degraded_cube"``
    for the degraded-resolution one trained on the MOD11A1 cube (4 km LST + 1 km NDVI -> 1 km,
    +1.4 dB over bicubic on unseen ground), ``"degraded"`` for the earlier granule one
    (docs/models.md). Same parameters as :class:`SISR`.
    """

    default_weights = "fast"
    guided = True
    needs_guide = True

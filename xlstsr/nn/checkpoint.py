"""Model checkpoints: one file holding the weights and everything needed to use them safely.

A checkpoint is a ``torch.save`` dictionary::

    {"format": "xlstsr-checkpoint", "format_version": 1,
     "arch": "guided_unet", "config": {...constructor args...},
     "state_dict": {...}, "metadata": {...}}

``metadata`` always holds ``factor``, ``n_guide``, ``inputs`` (ordered input names, e.g.
``["lst", "ndvi"]``), ``normalisation``, ``receptive_field`` and ``xlstsr_version``; training code
adds ``training_scales``, ``loss``, ``training_data``, ``split``... (free-form, JSON-like).
:func:`load_model` checks the file and the request and raises
:class:`~xlstsr.errors.CheckpointError` saying what is wrong and what to do.
"""

from __future__ import annotations

import io
import os
from pathlib import Path
from typing import Any

import torch
from torch import nn

from .._version import __version__
from ..errors import CheckpointError
from .registry import ARCHITECTURES

__all__ = ["load_checkpoint", "load_model", "save_model"]

FORMAT = "xlstsr-checkpoint"
FORMAT_VERSION = 1


def _plain(obj: Any) -> Any:
    """JSON-like copy (dict, list, str, int, float, bool, None) that ``weights_only`` loading accepts."""
    import numpy as np

    if isinstance(obj, dict):
        return {str(k): _plain(v) for k, v in obj.items()}
    if isinstance(obj, (list, tuple, set)):
        return [_plain(v) for v in obj]
    if isinstance(obj, (bool, np.bool_)):
        return bool(obj)
    if isinstance(obj, (int, np.integer)):
        return int(obj)
    if isinstance(obj, (float, np.floating)):
        return float(obj)
    if obj is None or isinstance(obj, str):
        return None if obj is None else str(obj)
    if isinstance(obj, (os.PathLike, torch.Tensor, np.ndarray)):
        return obj.tolist() if hasattr(obj, "tolist") else os.fspath(obj)
    return repr(obj)


def save_model(model: nn.Module, path: str | os.PathLike, **metadata: Any) -> Path:
    """Write ``model`` (an :mod:`xlstsr.nn.registry` architecture) and ``metadata`` to one file.

    Parameters
    ----------
    model : nn.Module
        A model with ``arch`` and ``config`` (the built-in architectures have them).
    path : path-like
        Output file (``.pt``); parent folders are created.
    **metadata
        Free-form provenance: ``inputs``, ``training_scales``, ``loss``, ``training_data``...

    Returns
    -------
    Path
        The written file.

    Examples
    --------
    >>> import tempfile
    >>> from xlstsr.nn import ResCNN
    >>> p = save_model(ResCNN(4, channels=4, n_blocks=1), tempfile.mkdtemp() + "/m.pt", loss="l1")
    >>> load_model(p).factor
    4
    """
    arch = getattr(model, "arch", None)
    if arch not in ARCHITECTURES or not hasattr(model, "config"):
        raise CheckpointError(
            f"{type(model).__name__} is not an xlstsr architecture (known: {sorted(ARCHITECTURES)}); "
            "save custom modules with torch.save and pass them to upscale(model=...) directly"
        )
    n_guide = int(getattr(model, "n_guide", 0))
    meta: dict[str, Any] = {
        "factor": int(model.factor),
        "n_guide": n_guide,
        "inputs": ["lst"] + ([f"guide{i}" for i in range(n_guide)] if n_guide else []),
        "receptive_field": int(model.receptive_field),
        "normalisation": model.normalisation(),
        "xlstsr_version": __version__,
        "torch_version": str(torch.__version__),
    }
    meta.update(metadata)
    meta = _plain(meta)
    if len(meta["inputs"]) != 1 + n_guide:
        raise CheckpointError(
            f"metadata inputs {meta['inputs']} must list 'lst' then the {n_guide} guide band(s)"
        )
    state = {k: v.detach().cpu().clone() for k, v in model.state_dict().items()}
    blob = {
        "format": FORMAT,
        "format_version": FORMAT_VERSION,
        "arch": arch,
        "config": model.config,
        "state_dict": state,
        "metadata": meta,
    }
    path = Path(path)
    path.parent.mkdir(parents=True, exist_ok=True)
    buf = io.BytesIO()
    torch.save(blob, buf)
    path.write_bytes(buf.getvalue())
    return path


def load_checkpoint(path: str | os.PathLike) -> dict[str, Any]:
    """Read and validate a checkpoint file into its dictionary (no model built)."""
    path = Path(path)
    if not path.is_file():
        raise CheckpointError(f"checkpoint {str(path)!r} does not exist; check the path")
    try:
        blob = torch.load(path, map_location="cpu", weights_only=True)
    except Exception as err:  # truncated, not a torch file, pickled code...
        raise CheckpointError(
            f"checkpoint {str(path)!r} is corrupt or not an xlstsr checkpoint ({type(err).__name__}: "
            f"{str(err)[:200]}); re-download it or re-run training"
        ) from err
    if isinstance(blob, dict) and "pytorch-lightning_version" in blob:
        raise CheckpointError(
            f"{str(path)!r} is a Lightning training checkpoint (to resume training with "
            "`fit(..., ckpt_path=...)` or `xlstsr train --resume`), not a model file; write the "
            "model with `xlstsr train --out model.pt`, or xlstsr.nn.save_model("
            "SuperResolutionModule.load_from_checkpoint(path).model, 'model.pt')"
        )
    if not isinstance(blob, dict) or blob.get("format") != FORMAT:
        raise CheckpointError(
            f"{str(path)!r} is not an xlstsr checkpoint (no 'format': {FORMAT!r}); write checkpoints "
            "with xlstsr.nn.save_model"
        )
    if int(blob.get("format_version", 0)) > FORMAT_VERSION:
        raise CheckpointError(
            f"{str(path)!r} has checkpoint format {blob['format_version']}, newer than this xlstsr "
            f"({__version__}) reads ({FORMAT_VERSION}); upgrade xlstsr"
        )
    for key in ("arch", "config", "state_dict", "metadata"):
        if key not in blob:
            raise CheckpointError(f"checkpoint {str(path)!r} lacks {key!r}: the file is incomplete")
    return blob


def load_model(
    path: str | os.PathLike,
    *,
    device: str | torch.device = "cpu",
    factor: int | None = None,
    n_guide: int | None = None,
) -> nn.Module:
    """Load a checkpoint into its architecture, checking it fits the request.

    Parameters
    ----------
    path : path-like
        File written by :func:`save_model`.
    device : str or torch.device
        Where to put the model (``"cpu"``, ``"cuda"``...).
    factor : int, optional
        Upscaling factor the caller needs: a model trained for another factor is refused.
    n_guide : int, optional
        Number of guide bands the caller provides (0 for none): a guided model without its guide,
        or guide bands a SISR model cannot use, are refused.

    Returns
    -------
    nn.Module
        The model in eval mode, with ``metadata`` attached (``model.metadata``).

    Raises
    ------
    CheckpointError
        Missing or corrupt file, unknown architecture, mismatching weights, wrong factor, missing
        or extra guide.
    """
    blob = load_checkpoint(path)
    arch, meta = blob["arch"], blob["metadata"]
    if arch not in ARCHITECTURES:
        raise CheckpointError(
            f"checkpoint {str(path)!r} uses unknown architecture {arch!r} (this xlstsr knows "
            f"{sorted(ARCHITECTURES)}); upgrade xlstsr or register the architecture"
        )
    m_factor = int(meta.get("factor", blob["config"].get("factor", 0)))
    if factor is not None and int(factor) != m_factor:
        raise CheckpointError(
            f"checkpoint {str(path)!r} was trained for factor {m_factor}, not {factor}; use "
            f"factor={m_factor} or a checkpoint trained for factor {factor}"
        )
    m_guide = int(meta.get("n_guide", 0))
    if n_guide is not None and int(n_guide) != m_guide:
        inputs = meta.get("inputs", [])
        if m_guide and int(n_guide) == 0:
            msg = (
                f"checkpoint {str(path)!r} is a guided (DISR) model needing {m_guide} guide "
                f"band(s) {inputs[1:]}; pass guide=..."
            )
        elif m_guide == 0:
            msg = (
                f"checkpoint {str(path)!r} is a SISR model taking no guide, but {n_guide} guide "
                "band(s) were given; drop the guide or use a guided checkpoint"
            )
        else:
            msg = (
                f"checkpoint {str(path)!r} expects {m_guide} guide band(s) {inputs[1:]}, got "
                f"{n_guide}; pass exactly these bands in this order"
            )
        raise CheckpointError(msg)
    try:
        model = ARCHITECTURES[arch](**blob["config"])
        model.load_state_dict(blob["state_dict"], strict=True)
    except (TypeError, RuntimeError, ValueError) as err:
        raise CheckpointError(
            f"checkpoint {str(path)!r} does not match architecture {arch!r} ({str(err)[:300]}); "
            "the file is corrupt or from an incompatible xlstsr version"
        ) from err
    model.metadata = dict(meta)
    return model.to(device).eval()

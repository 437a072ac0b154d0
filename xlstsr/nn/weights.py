"""Bundled pretrained weights, reached by short name: list, locate, load.

The checkpoints installed in ``xlstsr/weights/`` (written by :func:`xlstsr.nn.save_model`; the
recipes that trained them live outside the package) are named by what they are:

============== ================== ====== =======================================================
name           architecture       guide  trained as
============== ================== ====== =======================================================
rescnn         ``rescnn``         none   SISR at degraded resolution (4 km -> 1 km) on the daily
                                         MOD11A1 cube, split by window position (the default)
rescnn_granule ``rescnn``         none   SISR 4 km -> 1 km: a granule + TRAIN_PAIRS' MODIS LST
mrunet         ``mrunet``         none   SISR 4 km -> 1 km: a granule + TRAIN_PAIRS' MODIS LST
fast           ``guided_rescnn``  NDVI   the default DISR: ``unet``'s recipe on a network whose
                                         body runs on the coarse grid, then distilled from
                                         ``unet`` (also on the rotated and flipped windows):
                                         level with it on validation, ~0.5x its engine time
unet           ``guided_unet``    NDVI   cross-sensor supervised (MODIS 1 km -> ASTER 250 m),
                                         ASTER co-registered onto MODIS first (the default
                                         before round 7 of docs/results/disr_selection.md)
unet_displaced ``guided_unet``    NDVI   the same on ASTER as given (~1 fine px displaced)
sif            ``guided_unet``    NDVI   scale-invariance-free loss at the target scale
degraded       ``guided_unet``    NDVI   DISR at degraded resolution (4 km + NDVI 1 km -> 1 km)
degraded_cube  ``guided_unet``    NDVI   the same on the daily MOD11A1 cube, day and night, NDVI
                                         of MOD13A2, split by window position
============== ================== ====== =======================================================

What each was trained on, with which split and loss, is in the checkpoint's metadata
(:func:`list_weights` summarises it; ``load_weights(name).metadata`` holds all of it).
``upscale(method="sisr", weights=name)`` and ``method="disr"`` use these names.

Importing this module does not import torch (``import xlstsr`` stays light); loading does.

Examples
--------
>>> sorted(BUNDLED)  # doctest: +NORMALIZE_WHITESPACE
['degraded', 'degraded_cube', 'fast', 'mrunet', 'rescnn', 'rescnn_granule', 'sif', 'unet',
 'unet_displaced']
>>> weights_path("unet").name
'disr_unet_coreg_x4.pt'
>>> weights_path("rescnn").name
'sisr_rescnn_cube_x4.pt'
>>> info = list_weights()["unet"]
>>> info["arch"], info["inputs"], info["factor"]
('guided_unet', ['lst', 'ndvi'], 4)
>>> load_weights("rescnn").receptive_field
10
"""

from __future__ import annotations

from pathlib import Path
from typing import TYPE_CHECKING, Any

from ..errors import CheckpointError

if TYPE_CHECKING:
    import torch

__all__ = ["BUNDLED", "WEIGHTS_DIR", "list_weights", "load_weights", "weights_path"]

#: the folder the bundled checkpoints are installed in (inside the package)
WEIGHTS_DIR = Path(__file__).resolve().parents[1] / "weights"

#: bundled checkpoints: short name -> file name in :data:`WEIGHTS_DIR`
BUNDLED: dict[str, str] = {
    "rescnn": "sisr_rescnn_cube_x4.pt",
    "rescnn_granule": "sisr_rescnn_x4.pt",
    "mrunet": "sisr_mrunet_x4.pt",
    "unet": "disr_unet_coreg_x4.pt",
    "unet_displaced": "disr_unet_x4.pt",
    "fast": "disr_rescnn_distilled_x4.pt",
    "sif": "disr_sif_x4.pt",
    "degraded": "disr_degraded_x4.pt",
    "degraded_cube": "disr_degraded_cube_x4.pt",
}

#: metadata keys :func:`list_weights` reports (when the checkpoint has them)
_SUMMARY_KEYS = ("mode", "training_data", "training_scales", "loss", "split", "psf")


def weights_path(name: str) -> Path:
    """Path of a bundled checkpoint.

    Parameters
    ----------
    name : str
        Short name (a key of :data:`BUNDLED`) or the file name itself.

    Returns
    -------
    Path
        The installed ``.pt`` file.

    Raises
    ------
    CheckpointError
        The name is unknown or the file is not installed.
    """
    fname = BUNDLED.get(name, name)
    path = WEIGHTS_DIR / fname
    if not path.is_file() and name not in BUNDLED and name not in BUNDLED.values():
        raise CheckpointError(
            f"no bundled weights named {name!r}; known: {sorted(BUNDLED)}"
            f"{_near_match(name)}. Pass one of those, or checkpoint=... / model=... for "
            f"your own weights"
        )
    if not path.is_file():
        raise CheckpointError(
            f"bundled weights {fname!r} are not installed in {WEIGHTS_DIR} (known: "
            f"{sorted(BUNDLED)}); run `make weights` or pass checkpoint=... / model=..."
        )
    return path


def _near_match(name: str) -> str:
    """`` (did you mean 'x'?)`` for the bundled name closest to ``name``, or ``""``."""
    import difflib

    text = str(name)
    lowered = {k.lower(): k for k in BUNDLED}
    if text.lower() in lowered:
        return f" (did you mean {lowered[text.lower()]!r}?)"
    close = difflib.get_close_matches(text.lower(), list(lowered), n=1, cutoff=0.6)
    return f" (did you mean {lowered[close[0]]!r}?)" if close else ""


def list_weights() -> dict[str, dict[str, Any]]:
    """The installed bundled weights and what they are, read from each checkpoint's metadata.

    Returns
    -------
    dict
        Short name -> ``{"file", "arch", "config", "factor", "n_guide", "inputs",
        "receptive_field"}`` plus, where recorded, ``"mode"``, ``"training_data"``,
        ``"training_scales"``, ``"loss"``, ``"split"`` and ``"psf"``. Names whose file is not
        installed are left out (:func:`weights_path` says how to get them).
    """
    from .checkpoint import load_checkpoint

    out: dict[str, dict[str, Any]] = {}
    for name, fname in BUNDLED.items():
        path = WEIGHTS_DIR / fname
        if not path.is_file():
            continue
        blob = load_checkpoint(path)
        meta = blob["metadata"]
        info: dict[str, Any] = {
            "file": fname,
            "arch": blob["arch"],
            "config": dict(blob["config"]),
            "factor": int(meta["factor"]),
            "n_guide": int(meta.get("n_guide", 0)),
            "inputs": list(meta.get("inputs", [])),
            "receptive_field": meta.get("receptive_field"),
        }
        info.update({k: meta[k] for k in _SUMMARY_KEYS if k in meta})
        out[name] = info
    return out


def load_weights(
    name: str,
    *,
    device: str | torch.device = "cpu",
    factor: int | None = None,
    n_guide: int | None = None,
) -> torch.nn.Module:
    """Load a bundled checkpoint into its architecture (:func:`xlstsr.nn.load_model`).

    Parameters
    ----------
    name : str
        Short name (a key of :data:`BUNDLED`) or file name.
    device, factor, n_guide
        As :func:`xlstsr.nn.load_model`: where to put it, and the factor and number of guide
        bands the caller needs (a mismatch raises :class:`~xlstsr.errors.CheckpointError`).

    Returns
    -------
    torch.nn.Module
        The model in eval mode, its checkpoint metadata in ``model.metadata``.
    """
    from .checkpoint import load_model

    return load_model(weights_path(name), device=device, factor=factor, n_guide=n_guide)

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

import contextlib
import datetime
import errno
import importlib
import io
import math
import numbers
import os
import pickle
import re
import stat
import uuid
import zipfile
import zlib
from pathlib import Path
from typing import Any

import torch
from torch import nn

from .._version import __version__
from ..errors import CheckpointError, DeviceError, warn
from .base import normalisation_problem
from .registry import ARCHITECTURES

__all__ = ["load_checkpoint", "load_model", "save_model"]

FORMAT = "xlstsr-checkpoint"
FORMAT_VERSION = 1


def _same_numbers(a: Any, b: Any) -> bool:
    """Whether two plain records (dicts, lists, numbers) agree, numbers to float32's precision
    (a normalisation read back from a model's float32 buffers, or typed by hand).

    Examples
    --------
    >>> _same_numbers({"lst_offset": 300.0, "guide_mean": [0.5]}, {"lst_offset": 300.00001,
    ...                                                           "guide_mean": [0.5]})
    True
    >>> _same_numbers({"lst_offset": 0.0}, {"lst_offset": 300.0})
    False
    """
    if isinstance(a, dict) and isinstance(b, dict):
        return a.keys() == b.keys() and all(_same_numbers(a[k], b[k]) for k in a)
    if isinstance(a, list) and isinstance(b, list):
        return len(a) == len(b) and all(_same_numbers(x, y) for x, y in zip(a, b))
    if isinstance(a, (int, float)) and isinstance(b, (int, float)) \
            and not isinstance(a, bool) and not isinstance(b, bool):
        return math.isclose(a, b, rel_tol=1e-6, abs_tol=1e-6)
    return a == b


def _plain(obj: Any) -> Any:
    """JSON-like copy (dict, list, str, int, float, bool, None) that ``weights_only`` loading accepts."""
    import numpy as np

    if isinstance(obj, dict):
        return {str(k): _plain(v) for k, v in obj.items()}
    if isinstance(obj, (list, tuple, set)):
        return [_plain(v) for v in obj]
    if isinstance(obj, (np.timedelta64, datetime.timedelta)) or (
            isinstance(obj, np.ndarray) and obj.dtype.kind == "m"):
        import pandas as pd

        # one form for every kind of duration ('1 days 00:00:00', as pandas writes them)
        if isinstance(obj, np.ndarray):
            return _plain(np.array([str(pd.Timedelta(v)) for v in obj.ravel()],
                                   dtype=object).reshape(obj.shape).tolist())
        return str(pd.Timedelta(obj))
    if isinstance(obj, np.datetime64) or (isinstance(obj, np.ndarray) and obj.dtype.kind == "M"):
        # as ISO strings: tolist() gave datetime objects (a file load_model refused as pickled
        # objects) or, for [ns], bare integers
        return _plain(np.datetime_as_string(obj))
    if isinstance(obj, (bool, np.bool_)):
        return bool(obj)
    if isinstance(obj, (int, np.integer)):
        return int(obj)
    if isinstance(obj, (float, np.floating)):
        return float(obj)
    if obj is None or isinstance(obj, str):
        return None if obj is None else str(obj)
    if isinstance(obj, (datetime.date, datetime.time)):
        return obj.isoformat()
    if isinstance(obj, (torch.Tensor, np.ndarray)):
        return _plain(obj.tolist())  # items made plain too (an object array's, a date's)
    if isinstance(obj, os.PathLike):
        return os.fspath(obj)
    return repr(obj)


def _recorded_inputs(model: Any, n_guide: int) -> list[str]:
    """``model.metadata["inputs"]`` when it lists ``lst`` and ``n_guide`` names, else generic."""
    inputs = (getattr(model, "metadata", None) or {}).get("inputs")
    if isinstance(inputs, list) and len(inputs) == 1 + n_guide and inputs[:1] == ["lst"] \
            and all(isinstance(v, str) for v in inputs):
        return list(inputs)
    return ["lst"] + [f"guide{i}" for i in range(n_guide)]


def bundled_name_clash(path: Any) -> str | None:
    """Why ``path`` cannot be an output model file (None: it can): a bare ``str`` that is a
    bundled weights short name (``"rescnn"``, a key of :data:`xlstsr.nn.weights.BUNDLED`),
    which :func:`xlstsr.methods.torch_model.resolve_model` reads as the bundled weights even
    where that file lies in the working folder, so the model written there would never load
    by that name. ``"./rescnn"``, a ``Path`` or a name with a suffix is a file's path."""
    from .weights import BUNDLED

    if not isinstance(path, str) or path not in BUNDLED:
        return None
    return (f"{path!r} is the name of bundled weights ({BUNDLED[path]}): a model written "
            f"there would be read back as those bundled weights, not as this file (`--model "
            f"{path}`, upscale(model={path!r})); name the file e.g. {path + '.pt'!r} or "
            f"{'./' + path!r}")


def save_model(model: nn.Module, path: str | os.PathLike, **metadata: Any) -> Path:
    """Write ``model`` (an :mod:`xlstsr.nn.registry` architecture) and ``metadata`` to one file.

    Parameters
    ----------
    model : nn.Module
        A model with ``arch`` and ``config`` (the built-in architectures have them).
    path : path-like
        Output file (``.pt``); parent folders are created. A bundled weights short name
        (``"rescnn"``), which a model name is read as, is refused.
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
    inner = getattr(model, "_orig_mod", None)  # torch.compile's wrapper prefixes every weight
    if isinstance(inner, nn.Module):  # with "_orig_mod.": the file did not load
        model = inner
    if isinstance(model, (nn.DataParallel, nn.parallel.DistributedDataParallel)):
        model = model.module  # multi-GPU training's wrapper ("not an xlstsr architecture")
    inner = getattr(model, "model", None)  # a training wrapper (SuperResolutionModule)
    if hasattr(model, "training_step") and getattr(inner, "arch", None) in ARCHITECTURES:
        model = inner
    arch = getattr(model, "arch", None)
    if arch not in ARCHITECTURES or not hasattr(model, "config"):
        raise CheckpointError(
            f"{type(model).__name__} is not an xlstsr architecture (known: {sorted(ARCHITECTURES)}); "
            "run a custom module by passing the module itself: `upscale(lst, factor, "
            "method='sisr', method_options={'model': module})` (or 'disr' with `guide=`); to keep "
            "it on disk, `torch.save(module, path)` and pass `torch.load(path, "
            "weights_only=False)` (a file you trust)"
        )
    n_guide = int(getattr(model, "n_guide", 0))
    meta: dict[str, Any] = {
        "factor": int(model.factor),
        "n_guide": n_guide,
        # the labels a model trained by fit_cube carries (a plain save dropped them)
        "inputs": _recorded_inputs(model, n_guide),
        "receptive_field": int(model.receptive_field),
        "normalisation": model.normalisation(),
        "xlstsr_version": __version__,
        "torch_version": str(torch.__version__),
    }
    # how fit_cube placed the guide (a model trained on the guide as stored runs with
    # guide_offset='ignore'): kept where the model carries it, as its inputs are (a plain save
    # dropped it; fit_files added it back by hand)
    offset = (getattr(model, "metadata", None) or {}).get("guide_offset")
    if offset is not None:
        meta["guide_offset"] = offset
    # the file's 'arch' is the model's; a metadata 'arch' of another network would contradict it
    for key, own in (*((k, meta[k]) for k in ("factor", "n_guide", "receptive_field")),
                     ("arch", arch)):
        if key in metadata and _plain(metadata[key]) != own:
            raise CheckpointError(
                f"metadata {key}={metadata[key]!r} contradicts the model's {key}={own!r}: "
                f"{key} is written from the model itself; drop it from the metadata (or build "
                f"the model with {key}={metadata[key]!r})"
            )
    # the normalisation written is the model's buffers (what upscale applies): another one in
    # the file misdescribed what the weights were trained on (0 K / 1 K for 300 K / 10 K)
    if "normalisation" in metadata and not _same_numbers(_plain(metadata["normalisation"]),
                                                         meta["normalisation"]):
        raise CheckpointError(
            f"metadata normalisation={metadata['normalisation']!r} contradicts the model's "
            f"{meta['normalisation']!r}: the normalisation is written from the model itself "
            "(its lst_offset, lst_scale, guide_mean, guide_std buffers); drop it from the "
            "metadata, or set those buffers on the model (e.g. `model.lst_offset.fill_(300.0)`)"
        )
    meta.update(metadata)
    meta = _plain(meta)
    inputs = meta["inputs"]
    if not isinstance(inputs, list) or len(inputs) != 1 + n_guide or inputs[0] != "lst":
        raise CheckpointError(
            f"metadata inputs {meta['inputs']} must list 'lst' then the {n_guide} guide band(s)"
        )
    clash = bundled_name_clash(path)
    if clash is not None:
        raise CheckpointError(clash)
    # "~/m.pt" made a folder named "~" in the working directory
    path = Path(path).expanduser() if isinstance(path, (str, os.PathLike)) else path
    if not isinstance(path, Path):
        raise CheckpointError(f"path must be a file path (e.g. 'model.pt'), got {type(path).__name__}")
    if path.is_dir():
        raise CheckpointError(f"{str(path)!r} is a folder: give the checkpoint's file name, e.g. "
                              f"{str(path / 'model.pt')!r}")
    if path.exists() and not _is_checkpoint_file(path):
        raise CheckpointError(
            f"{str(path)!r} exists and is not an xlstsr checkpoint: save_model replaces only its "
            "own files, never another file (a raster, the training data...); pick another path "
            "or delete that file first"
        )
    low: dict[str, str] = {}
    for k, v in model.state_dict().items():
        if v.dtype in (torch.float16, torch.bfloat16):
            low.setdefault(str(v.dtype).removeprefix("torch."), k)
    if low:
        # a bfloat16 model (Lightning precision="bf16-true", model.half()) was written without
        # a word and loaded back into float32: the engine refuses such weights in memory.
        # float64 is kept: it loads into the float32 architecture without a loss that matters
        kinds = ", ".join(f"{d} (e.g. {k!r})" for d, k in sorted(low.items()))
        raise CheckpointError(
            f"the model holds {kinds} tensors: xlstsr model files are float32 (Kelvin near "
            "300 K is rounded to 0.25-2 K steps in half precision). Convert it first, "
            "`save_model(model.float(), path)`; weights already rounded to half precision "
            "stay so (save the float32 model they came from where you have it: Lightning's "
            "precision='bf16-mixed' keeps float32 weights, 'bf16-true' does not)"
        )
    bad = [k for k, v in model.state_dict().items()
           if v.is_floating_point() and not bool(torch.isfinite(v).all())]
    if bad:
        raise CheckpointError(
            f"the model holds NaN or infinite weights ({len(bad)} tensor(s), e.g. {bad[0]!r}): "
            "the training diverged (lower the learning rate, check the inputs for NaN); such a "
            "checkpoint would only give NaN"
        )
    norm = model.normalisation()
    problem = normalisation_problem(norm["lst_offset"], norm["lst_scale"], norm["guide_mean"],
                                    norm["guide_std"])
    if problem:
        # a scale of 0 was written and upscale then blamed NaN weights
        raise CheckpointError(
            f"the model's normalisation is not usable: {problem}; set it first, "
            "`model.set_normalisation(lst_offset, lst_scale, guide_mean, guide_std)` (training "
            "fits it: xlstsr.train.fit_normalisation)"
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
    path.parent.mkdir(parents=True, exist_ok=True)
    buf = io.BytesIO()
    torch.save(blob, buf)
    _write_atomic(path, buf.getvalue())
    return path


def _write_atomic(path: Path, data: bytes) -> None:
    """Write ``data`` to a new file beside ``path``, then rename it over ``path``: a write that
    fails midway (a full disk, a quota, a killed job) leaves the old checkpoint as it was (it
    was written in place: re-saving over the usual ``model.pt`` left a truncated file).

    A read-only checkpoint (``chmod 444``) is refused with a PermissionError, as the plain
    write did (the rename would replace it: a folder's write permission allows that). In a
    folder where no new file can be made (a shared folder holding a checkpoint the user may
    write), the file is written in place, as before, without that protection."""
    target = path.resolve() if path.is_symlink() else path  # a link keeps pointing at the file
    if target.exists() and not os.access(target, os.W_OK):
        raise PermissionError(
            errno.EACCES,
            "the checkpoint exists and is read-only for this user: save_model does not replace "
            "it; save to another path, or make it writable first (chmod u+w) if it is meant to "
            "be replaced", str(path))
    tmp = target.with_name(f".{target.name}.{os.getpid()}-{uuid.uuid4().hex[:8]}.tmp")
    try:
        f = open(tmp, "xb")  # the umask's permissions, as a plain write
    except OSError:  # no new file in that folder (its permissions, a quota on inodes)
        target.write_bytes(data)
        return
    try:
        with f:
            f.write(data)
            f.flush()
            os.fsync(f.fileno())
        if target.exists():  # keep the permissions the old file was given
            os.chmod(tmp, stat.S_IMODE(target.stat().st_mode))
        os.replace(tmp, target)
    except BaseException:
        with contextlib.suppress(OSError):
            os.unlink(tmp)
        raise


def _is_checkpoint_file(path: Path) -> bool:
    """True if ``path`` reads as an xlstsr checkpoint (save_model may replace those)."""
    try:
        blob = torch.load(path, map_location="cpu", weights_only=True)
    except Exception:
        return False
    return isinstance(blob, dict) and blob.get("format") == FORMAT


#: how to bring a Keras/TensorFlow model to xlstsr (it was told to give the file as the input)
_KERAS_ADVICE = (
    "Convert it to PyTorch: rebuild the network as a torch.nn.Module and copy its weights "
    "(h5py reads them), or go through ONNX (`python -m tf2onnx.convert`, then onnx2torch); "
    "pass the module as model=... (it must follow the protocol of xlstsr.methods.torch_model: "
    "`factor`, `n_guide`, forward(lst, guide)), or save an xlstsr architecture with "
    "xlstsr.nn.save_model."
)


def _keras_hdf5(path: Path) -> bool:
    """Whether an HDF5 file is a Keras model (its root attributes ``keras_version`` and
    ``model_config`` sit in the first object headers)."""
    try:
        with open(path, "rb") as f:
            head = f.read(1 << 20)
    except OSError:
        return False
    return b"keras_version" in head or b"model_config" in head


def _unreadable(path: Path, err: Exception) -> CheckpointError:
    """What a file ``torch.load(weights_only=True)`` refused is, and what to do with it."""
    text = re.sub(r"\x1b\[[0-9;]*m", "", str(err))  # torch colours its hint
    name = repr(str(path))
    try:
        with open(path, "rb") as f:
            head = f.read(8)
    except OSError:
        head = b""
    suffix = path.suffix.lower()
    hdf5 = head.startswith(b"\x89HDF")
    if suffix == ".keras" or (hdf5 and _keras_hdf5(path)):
        return CheckpointError(
            f"{name} is a Keras/TensorFlow model, not an xlstsr checkpoint: xlstsr runs PyTorch "
            "models only. " + _KERAS_ADVICE
        )
    if hdf5 and suffix in (".h5", ".hdf5", ".he5"):  # Keras' old format, or data (ECOSTRESS)
        return CheckpointError(
            f"{name} is an HDF5 file, not an xlstsr checkpoint: xlstsr runs PyTorch models only "
            "(a .pt written by xlstsr.nn.save_model, a bundled weights name from "
            "xlstsr.nn.weights.list_weights(), or a torch.nn.Module). If it is a Keras/TensorFlow "
            "model: " + _KERAS_ADVICE + " If it holds LST or guide data (ECOSTRESS, VIIRS), pass "
            "it as the input or the guide, not as model="
        )
    data = ("a NetCDF/HDF5" if head.startswith((b"CDF", b"\x89HDF")) else
            "a GeoTIFF" if head[:4] in (b"II*\x00", b"MM\x00*") else None)
    if data:  # `--model lst.nc` was called "pickled Python objects"
        return CheckpointError(
            f"{name} is {data} data file, not a model: give it as the input (or guide), and as "
            "the model a .pt written by xlstsr.nn.save_model or a bundled weights name "
            "(xlstsr.nn.weights.list_weights())"
        )
    if not head.startswith((b"PK", b"\x80")):  # neither torch's zip nor a pickle
        onnx = path.suffix.lower() == ".onnx"
        return CheckpointError(
            f"{name} is not a PyTorch file" + (" but an ONNX model" if onnx else "") + ": "
            "give a .pt written by xlstsr.nn.save_model or a bundled weights name "
            "(xlstsr.nn.weights.list_weights())"
            + ("; xlstsr runs ONNX Runtime on its own export of such a model "
               "(method_options={'backend': 'onnxruntime'})" if onnx else "")
        )
    if "TorchScript" in text:
        return CheckpointError(
            f"{name} is a TorchScript archive, not an xlstsr checkpoint: load it with "
            "`m = torch.jit.load(path)` and pass a torch.nn.Module that calls it and declares "
            "`factor` and `n_guide` (the protocol of xlstsr.methods.torch_model) as model=..."
        )
    if "Weights only load failed" in text or "Unsupported global" in text:
        return CheckpointError(
            f"{name} holds pickled Python objects (e.g. a whole module written by "
            "`torch.save(model)`), which xlstsr does not unpickle: unpickling runs code from the "
            "file. If you trust it, `m = torch.load(path, weights_only=False)` and pass the module "
            "as model=... (it must follow the protocol of xlstsr.methods.torch_model), or write "
            "an xlstsr architecture with xlstsr.nn.save_model"
        )
    return CheckpointError(
        f"checkpoint {name} is corrupt or not an xlstsr checkpoint ({type(err).__name__}: "
        f"{text[:200]}); re-download it or re-run training"
    )


def check_entries(path: str | os.PathLike) -> None:
    """Refuse a zip-format file (torch.save's) one of whose entries fails its CRC-32 check:
    torch's zip reader does not check them, and a checkpoint damaged inside a weight tensor (a
    lost disk block, a bad copy) loaded silently and gave results off by kelvins. Entries
    written without a CRC (``torch.serialization.set_crc32_options(False)``: a CRC of 0) are
    not checked. Files that are not zip archives, or whose zip structure itself is broken, are
    left to torch.load, whose error :func:`_unreadable` explains (truncated, not a torch
    file...)."""
    bad = None
    try:
        with open(path, "rb") as f:
            if f.read(2) != b"PK":
                return
        with zipfile.ZipFile(path) as z:
            for info in z.infolist():
                if info.CRC == 0 and info.file_size:
                    continue  # no CRC recorded (a real 0 has a 2**-32 chance)
                try:
                    with z.open(info) as entry:
                        while entry.read(1 << 22):
                            pass
                except zipfile.BadZipFile:  # "Bad CRC-32 for file ..."
                    bad = info.filename
                    break
    except (OSError, zipfile.BadZipFile, EOFError, ValueError, RuntimeError, zlib.error):
        return  # unreadable as a zip: torch.load says how
    if bad is not None:
        raise CheckpointError(
            f"checkpoint {str(path)!r} is corrupt: its entry {bad!r} fails its CRC-32 check (the "
            "file was damaged after it was written: a bad copy or download, a failing disk); "
            "copy or download it again from its source, or re-run training"
        )


#: globals a hand-written loop's checkpoint holds beside its tensors (a metric's numpy scalar,
#: the script's argparse arguments), which torch.load(weights_only=True) refuses but whose
#: unpickling runs no code of the file: numpy scalars, dtypes and arrays, argparse.Namespace
_HARMLESS_GLOBALS = re.compile(
    r"numpy(\._core|\.core)?\.multiarray\.(scalar|_reconstruct)|numpy\.(ndarray|dtype)"
    r"|numpy\.dtypes\.\w+DType|argparse\.Namespace")


def _load_harmless(path: Path, err: Exception) -> tuple[Any, list[str]] | None:
    """The file torch.load(weights_only=True) refused, loaded again allowing the harmless
    globals it names (:data:`_HARMLESS_GLOBALS`), when those are all it holds beyond what
    weights_only loads, with those globals' names; None otherwise (any other class, a module, code: :func:`_unreadable`
    says what it is). Never unpickles a class not on that list."""
    if not isinstance(err, pickle.UnpicklingError) and "Weights only load failed" not in str(err):
        return None
    try:
        names = torch.serialization.get_unsafe_globals_in_checkpoint(str(path))
    except Exception:  # not the zip format (a legacy torch.save), unreadable...
        return None
    if not names or not all(_HARMLESS_GLOBALS.fullmatch(n) for n in names):
        return None
    found = []
    for n in names:
        mod, _, attr = n.rpartition(".")
        try:
            found.append((getattr(importlib.import_module(mod), attr), n))
        except (ImportError, AttributeError):  # another numpy's layout
            return None
    if any(n.startswith("numpy") for n in names):  # a dtype's class is named while loading
        import numpy as np

        found += [getattr(np.dtypes, n) for n in dir(np.dtypes)
                  if _HARMLESS_GLOBALS.fullmatch(f"numpy.dtypes.{n}")]
    try:
        with torch.serialization.safe_globals(found):
            blob = torch.load(path, map_location="cpu", weights_only=True)
    except Exception:
        return None
    return blob, names


def _check_fields(path: Path, blob: dict[str, Any]) -> None:
    """Refuse a checkpoint whose fields have the wrong types, or whose metadata contradicts the
    configuration the model is built from (a hand-edited or damaged file): the factor and guide
    count checks of :func:`load_model` read the metadata, the model is built from the config."""
    name = repr(str(path))
    for key, kind in (("arch", str), ("config", dict), ("state_dict", dict), ("metadata", dict)):
        if not isinstance(blob[key], kind):
            raise CheckpointError(
                f"checkpoint {name}: its {key!r} is a {type(blob[key]).__name__}, not a "
                f"{kind.__name__}: the file is damaged or was not written by "
                "xlstsr.nn.save_model; re-download it or re-run training"
            )
    meta, config = blob["metadata"], blob["config"]
    for key in ("factor", "n_guide"):
        if key in meta and key in config and meta[key] != config[key]:
            raise CheckpointError(
                f"checkpoint {name}: its metadata says {key}={meta[key]!r} but the model it "
                f"builds has {key}={config[key]!r}: the file was edited or is damaged; re-save "
                "the model with xlstsr.nn.save_model (which writes both from the model)"
            )
    bad = [k for k, v in blob["state_dict"].items()
           if isinstance(v, torch.Tensor) and v.is_floating_point() and not bool(torch.isfinite(v).all())]
    if bad:
        raise CheckpointError(
            f"checkpoint {name} holds NaN or infinite weights ({len(bad)} tensor(s), e.g. "
            f"{bad[0]!r}): every output would be NaN. The training diverged (lower the learning "
            "rate) or the file is damaged; use an earlier checkpoint"
        )


def load_checkpoint(path: str | os.PathLike) -> dict[str, Any]:
    """Read and validate a checkpoint file into its dictionary (no model built)."""
    path = Path(path).expanduser()  # "~/m.pt" was reported as missing
    if path.is_dir():
        raise CheckpointError(
            f"checkpoint {str(path)!r} is a folder, not a file: pass the .pt file inside it "
            "(written by xlstsr.nn.save_model or `xlstsr train --out`)"
        )
    if not path.is_file():
        raise CheckpointError(f"checkpoint {str(path)!r} does not exist; check the path")
    if path.stat().st_size == 0:
        raise CheckpointError(
            f"checkpoint {str(path)!r} is empty (0 bytes): the download or the save was "
            "interrupted; re-download it or re-run training"
        )
    check_entries(path)
    extra: list[str] = []  # harmless globals beside the tensors (a loop's np.float64 metric)
    try:
        blob = torch.load(path, map_location="cpu", weights_only=True)
    except Exception as err:  # truncated, not a torch file, pickled code...
        loaded = _load_harmless(path, err)
        if loaded is None:
            raise _unreadable(path, err) from err
        blob, extra = loaded
    if isinstance(blob, dict) and "pytorch-lightning_version" in blob:
        saved = blob.get("hyper_parameters")
        if not (isinstance(saved, dict) and {"model", "config", "mode"} <= set(saved)):
            # another LightningModule's (the user's own): SuperResolutionModule refuses it
            # (xlstsr.train's _require_own_module reads the same hyper-parameters)
            keys = sorted(map(str, saved)) if isinstance(saved, dict) else []
            raise CheckpointError(
                f"{str(path)!r} is the Lightning training checkpoint of your own LightningModule "
                f"(its hyper-parameters {keys} name no xlstsr architecture), not a model file: "
                "load it with the class that wrote it, take the network it holds and save that, "
                "e.g. `net = MyModule.load_from_checkpoint(path).model; "
                "xlstsr.nn.save_model(net, 'model.pt')` (an xlstsr architecture), or pass the "
                "network as model=... (a module following the protocol of "
                "xlstsr.methods.torch_model)"
            )
        raise CheckpointError(
            f"{str(path)!r} is a Lightning training checkpoint (to resume training with "
            "`fit(..., ckpt_path=...)` or `xlstsr train --resume`), not a model file; write the "
            "model with `xlstsr train --out model.pt`, or xlstsr.nn.save_model("
            "SuperResolutionModule.load_from_checkpoint(path).model, 'model.pt')"
        )
    if isinstance(blob, dict) and blob and "format" not in blob and all(
            isinstance(v, torch.Tensor) for v in blob.values()):
        if all(str(k).startswith("module.") for k in blob):
            # saved from nn.DataParallel / DistributedDataParallel: the load below failed
            # on every key
            raise CheckpointError(
                f"{str(path)!r} is not an xlstsr checkpoint but a bare state_dict saved from "
                f"a multi-GPU wrapper (nn.DataParallel / DistributedDataParallel: every key "
                f"starts with 'module.', e.g. {next(iter(blob))!r}): build the architecture, "
                "load the weights without the prefix and save it, e.g. `m = xlstsr.nn.ResCNN(4); "
                "m.load_state_dict({k.removeprefix('module.'): v for k, v in "
                "torch.load(path).items()}); xlstsr.nn.save_model(m, 'model.pt')`"
            )
        raise CheckpointError(
            f"{str(path)!r} is not an xlstsr checkpoint but a bare state_dict ({len(blob)} tensors, e.g. "
            f"{next(iter(blob))!r}) without the architecture and metadata a checkpoint holds: "
            "build the architecture it belongs to, load the weights and save it, e.g. `m = "
            "xlstsr.nn.ResCNN(4); m.load_state_dict(torch.load(path)); "
            "xlstsr.nn.save_model(m, 'model.pt')`, or pass that module as model=..."
        )
    inner = [k for k in ("model_state_dict", "state_dict", "model")
             if isinstance(blob, dict) and "format" not in blob and isinstance(blob.get(k), dict)
             and blob[k] and all(isinstance(v, torch.Tensor) for v in blob[k].values())]
    if inner:  # a hand-written loop's checkpoint ({"epoch", "model_state_dict", ...})
        # torch.load(path) refuses the numpy scalars / argparse.Namespace beside the weights
        load = "torch.load(path, weights_only=False)" if extra else "torch.load(path)"
        raise CheckpointError(
            f"{str(path)!r} is a training checkpoint of a hand-written loop (keys "
            f"{sorted(map(str, blob))[:6]}), not an xlstsr checkpoint: its weights are "
            f"blob[{inner[0]!r}]. Build the architecture they belong to, load them and save it, "
            f"e.g. `m = xlstsr.nn.ResCNN(4); m.load_state_dict({load}[{inner[0]!r}]); "
            "xlstsr.nn.save_model(m, 'model.pt')`, or pass that module as model=..."
            + (" (weights_only=False: besides the tensors it holds "
               + " and ".join(sorted({"numpy values" if n.startswith("numpy") else n
                                      for n in extra}))
               + ", which plain torch.load refuses; xlstsr checked that it holds no other "
               "Python objects)" if extra else "")
        )
    if not isinstance(blob, dict) or blob.get("format") != FORMAT:
        raise CheckpointError(
            f"{str(path)!r} is not an xlstsr checkpoint (no 'format': {FORMAT!r}); write checkpoints "
            "with xlstsr.nn.save_model"
        )
    version = blob.get("format_version", 0)
    if isinstance(version, bool) or not isinstance(version, int):
        raise CheckpointError(
            f"checkpoint {str(path)!r} has format_version {version!r}, not a whole number: the "
            "file is damaged; re-download it or re-run training"
        )
    if version > FORMAT_VERSION:
        raise CheckpointError(
            f"{str(path)!r} has checkpoint format {blob['format_version']}, newer than this xlstsr "
            f"({__version__}) reads ({FORMAT_VERSION}); upgrade xlstsr"
        )
    for key in ("arch", "config", "state_dict", "metadata"):
        if key not in blob:
            raise CheckpointError(f"checkpoint {str(path)!r} lacks {key!r}: the file is incomplete")
    _check_fields(path, blob)
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
        Where to put the model (``"cpu"``, ``"cuda"``..., or ``"auto"``: a GPU when torch sees
        one, else the CPU).
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
    half = sorted({str(v.dtype).removeprefix("torch.") for v in blob["state_dict"].values()
                   if isinstance(v, torch.Tensor) and v.dtype in (torch.float16, torch.bfloat16)})
    if half:  # written before save_model refused half precision
        warn(f"checkpoint {str(path)!r} holds {'/'.join(half)} weights, loaded into float32: "
             "they stay rounded to half precision (the bicubic kernel, a constant of the "
             "factor, is rebuilt exactly); re-save the float32 model they came from where you "
             "have it", UserWarning)
    try:
        model = ARCHITECTURES[arch](**blob["config"])
        model.load_state_dict(blob["state_dict"], strict=True)
    except (TypeError, RuntimeError, ValueError) as err:
        raise CheckpointError(
            f"checkpoint {str(path)!r} does not match architecture {arch!r} ({str(err)[:300]}); "
            "the file is corrupt or from an incompatible xlstsr version"
        ) from err
    for key, built in (("factor", model.factor), ("n_guide", model.n_guide)):
        if key in meta and meta[key] != built:
            raise CheckpointError(
                f"checkpoint {str(path)!r}: its metadata says {key}={meta[key]!r} but the model it "
                f"builds has {key}={built!r}: the file was edited or is damaged; re-save the model "
                "with xlstsr.nn.save_model (which writes both from the model)"
            )
    for key, value, low in (("factor", factor, 1), ("n_guide", n_guide, 0)):
        # int() took factor 4.5 as 4 (nn does not import the xarray layer's checks)
        ok = isinstance(value, numbers.Real) and not isinstance(value, bool) and math.isfinite(
            value) and float(value).is_integer() and value >= low
        if value is not None and not ok:
            raise CheckpointError(f"{key} must be a whole number >= {low}, got {value!r}: e.g. "
                                  f"{key}={4 if key == 'factor' else 0}")
    m_factor = int(model.factor)
    if factor is not None and int(factor) != m_factor:
        raise CheckpointError(
            f"checkpoint {str(path)!r} was trained for factor {m_factor}, not {factor}; use "
            f"factor={m_factor} or a checkpoint trained for factor {factor}"
        )
    m_guide = int(model.n_guide)
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
    model.metadata = dict(meta)
    from .runtime import resolve_device

    # "auto", every deep method's default device, reached torch as a device name it refused
    device = resolve_device(device) if device == "auto" else device
    try:
        return model.to(device).eval()
    except (RuntimeError, AssertionError) as err:  # a backend not compiled in, no GPU...
        raise DeviceError(
            f"the model cannot be put on device {str(device)!r} here ({type(err).__name__}: "
            f"{str(err)[:160]}); use device='cpu', or a device torch sees "
            "(torch.cuda.is_available())"
        ) from err

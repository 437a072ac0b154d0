"""Run a PyTorch super-resolution model as an upscaling method (streamed by the engine).

The model protocol
------------------
A model is an :class:`torch.nn.Module` with

- ``factor`` (int): the upscaling factor it was trained for;
- ``n_guide`` (int): number of fine guide channels (0 for single-image SISR);
- ``receptive_field`` (int, optional): how far, in coarse pixels, an output pixel can see. When
  absent it is measured by an impulse-response probe (:func:`xlstsr.nn.runtime.measure_receptive_field`);
- ``spatially_local`` (bool, optional, default True): False if the forward uses scene-wide
  statistics (per-image normalisation...) or is not shift-equivariant (a pooled or strided
  level, as in a U-Net: the tiles' windows start anywhere), which makes the engine feed whole
  images. A model that does not declare it is checked once when the method is built (two
  forwards on a small window, one shifted by a coarse pixel): one whose output then changes
  runs on whole images, with a warning;
- ``guide_fill_value`` (float, or one float per guide band; optional, default 0.0): what guide
  gaps the engine cannot fill locally become; ``accepts_nan_guide`` (bool, optional, default False): True if the forward
  handles NaN in the guide itself (per pixel), in which case the guide is passed unfilled;
- ``tile_size`` (int, optional): the spatial tile (coarse pixels) the engine cuts images into
  for this model with ``tile="auto"`` (the size it runs fastest at; default :data:`TORCH_TILE`);
- ``forward(lst, guide=None)``: ``lst`` (B, 1, h, w) Kelvin float32, ``guide``
  (B, n_guide, h*f, w*f) float32 or None; returns (B, 1, h*f, w*f) Kelvin, each image
  independently of the others in the batch (a model that mixes them, checked once when the
  method is built, runs one image per forward, with a warning). Its weights are
  float32 (float16/bfloat16 ones are refused: Kelvin in them comes in 0.25-2 K steps); an
  attribute ``metadata`` that is not a mapping is ignored.

Models on dask workers
----------------------
The live module is never pickled into tasks: a :class:`TorchModelMethod` pickles to a few bytes
(the weights hash, device, options) and declares its weights as the method's state
(:meth:`~xlstsr.methods.base.UpscaleMethod.state_key`), which the engine ships once per worker;
the loaded model is cached per process and device, and each task runs with the thread count of
:func:`xlstsr.nn.runtime.set_task_threads` (see :mod:`xlstsr.nn.runtime`).

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

import contextlib
import os
import threading
import weakref
from collections.abc import Iterator, Mapping, Sequence
from pathlib import Path
from typing import Any

import numpy as np

from ..errors import CheckpointError, DeviceError, XlstsrError, warn
from ..kernels.interp import fill_gaps
from ..nn import runtime
from ..nn.onnx_runtime import OnnxModel, _weights_dtype, onnx_available
from ..validate import check_whole
from .base import UpscaleMethod, option_bool, option_whole

__all__ = ["BACKENDS", "ONNX_TILE", "TORCH_TILE", "TorchModelMethod", "check_device",
           "fill_guide", "resolve_model"]

#: what runs a model's forward (TorchModelMethod's ``backend``)
BACKENDS = ("torch", "onnxruntime")


def _distributed_client() -> bool:
    """Whether dask's chosen scheduler is a distributed client (one alive under
    ``scheduler="sync"`` runs nothing on its workers: the device is this process's)."""
    from ..engine.regions import active_client  # at call time: the engine imports methods

    return active_client() is not None


def check_device(device: str) -> str:
    """``device`` if torch can use it here, else :class:`~xlstsr.errors.DeviceError` naming the
    fix. ``"auto"`` always passes. With an active ``dask.distributed`` client the CUDA check is
    left to the workers (they may have GPUs this process lacks).

    Examples
    --------
    >>> check_device("cpu")
    'cpu'
    >>> check_device("gpu")
    Traceback (most recent call last):
    ...
    xlstsr.errors.DeviceError: unknown torch device 'gpu' ...
    """
    import torch

    device = str(device)
    if device == "auto":
        return device
    try:
        dev = torch.device(device)
    except (RuntimeError, TypeError, ValueError) as err:
        raise DeviceError(
            f"unknown torch device {device!r} ({err}); use 'auto' (a GPU when there is one), "
            "'cpu', 'cuda' or 'cuda:N'."
        ) from err
    if dev.type == "cuda" and not _distributed_client():
        if not torch.cuda.is_available():
            raise DeviceError(
                f"device {device!r} asks for a GPU, but torch sees none here (torch "
                f"{torch.__version__}, built with CUDA {torch.version.cuda}); use device='auto' "
                "(the GPU when there is one, else the CPU) or device='cpu'."
            )
        count = torch.cuda.device_count()
        if dev.index is not None and dev.index >= count:
            raise DeviceError(
                f"device {device!r} does not exist: torch sees {count} GPU(s) (cuda:0 to "
                f"cuda:{count - 1}); pick one of those, or device='auto'."
            )
    return device

#: spatial tile (coarse pixels) of torch models in the engine (measured: benchmarks/engine.py)
TORCH_TILE = 128
#: fine (output) pixels one forward runs at most with the default ``batch_size=None``: one
#: image of a :data:`TORCH_TILE` tile at factor 4. Peak memory grows with the pixels of a
#: forward: measured (ru_maxrss, 16 images of 60 x 60 coarse px at x4 in one forward against
#: one at a time) 0.41 GB per million fine pixels for the bundled U-Net (``weights="unet"``),
#: 0.36 for ``mrunet``, 0.23 for the default ``disr`` (``"fast"``), 0.06 for ``sisr``: about
#: 0.1 GB for the U-Net here, where all the dates of a block in one forward took 0.43 GB for
#: 16 dates of that size (~45 GB for a 365-day block of a 128 px tile), and no faster
BATCH_PIXELS = 2**18
#: the same under backend="onnxruntime": its fastest tile in the same sweep (about twice the
#: memory of TORCH_TILE for the U-Net's fine-grid feature maps)
ONNX_TILE = 256


def resolve_model(model: Any) -> tuple[Any, str | None]:
    """A model given as an ``nn.Module``, a checkpoint path or a bundled weights name, loaded on
    the CPU; returns ``(module, path or None)``.

    A short bundled name (``"rescnn"``) is the bundled weights even where a file of that name
    lies in the working folder (``"./rescnn"`` names that file); a bundled file's own name
    (``"sisr_rescnn_x4.pt"``) is the file of that name where one exists, else the bundled one.

    Examples
    --------
    >>> module, path = resolve_model("rescnn")  # bundled weights by name
    >>> module.factor, path.endswith(".pt")
    (4, True)
    """
    import torch

    if isinstance(model, torch.nn.Module):
        return _network(model), None
    if isinstance(model, str) and not model.strip():
        # Path("") is the working folder: an unset config value or an empty --method-option
        # was told "'' is a folder, not a checkpoint file"
        raise CheckpointError(
            f"the model name is empty ({model!r}): pass a checkpoint path, a bundled name "
            "(xlstsr.nn.weights.list_weights()) or a torch.nn.Module, or leave the option out "
            "for the method's default weights."
        )
    if isinstance(model, (str, os.PathLike)):
        from ..nn.checkpoint import load_model
        from ..nn.weights import BUNDLED, weights_path

        path = Path(model).expanduser()  # as save_model and load_model expand "~"
        # a short bundled name (a str without a folder, "rescnn") is the bundled one even if a
        # file of that name lies in the working folder: that file silently replaced the default
        # (or, not a checkpoint, made `method="sisr"` fail); "./rescnn" or a Path names the
        # local file. A bundled file's own name (as docs/models.md lists them) means that file
        # only where no such file exists here: a user's checkpoint saved under it (fine-tuned
        # and written back as "sisr_rescnn_x4.pt") silently ran the bundled weights instead
        by_file = {f: n for n, f in BUNDLED.items()}
        bare = isinstance(model, str) and os.sep not in model and "/" not in model
        if str(model) in BUNDLED and (bare or not path.is_file()):
            path = weights_path(str(model))
        elif str(model) in by_file and not path.is_file():
            path = weights_path(by_file[str(model)])
        if path.is_dir():
            found = sorted(p.name for p in path.glob("*.pt"))[:5]
            raise CheckpointError(
                f"{os.fspath(model)!r} is a folder, not a checkpoint file: pass the .pt file "
                + (f"(e.g. {found})" if found else "(there is none in it)") + "."
            )
        if not path.is_file():
            raise CheckpointError(
                f"no checkpoint file {os.fspath(model)!r}, and no bundled weights of that name "
                f"are installed (bundled: {sorted(BUNDLED)}); pass a path written by "
                "xlstsr.nn.save_model, a bundled name or a torch.nn.Module."
            )
        return load_model(path, device="cpu"), os.fspath(path)
    advice = _state_dict_advice(model)
    raise TypeError(
        "model must be a torch.nn.Module, a checkpoint path or a bundled weights name, got "
        f"{type(model).__name__}" + (f": {advice}" if advice else "")
    )


def _state_dict_advice(obj: Any) -> str:
    """What a dict of weights given as the model is and how to use it (``model=torch.load(p)``,
    the usual first try, was refused without a word of either), as a bare state_dict file's path
    is told (:func:`xlstsr.nn.checkpoint.load_checkpoint`); "" for any other object."""
    import torch

    def weights(d: Any) -> bool:
        return (isinstance(d, dict) and bool(d)
                and all(isinstance(v, torch.Tensor) for v in d.values()))

    if not isinstance(obj, dict) or "format" in obj:
        return ""
    if weights(obj):
        load = "m.load_state_dict(state)"  # state: the dict passed here
        if all(str(k).startswith("module.") for k in obj):  # saved from nn.DataParallel
            load = "m.load_state_dict({k.removeprefix('module.'): v for k, v in state.items()})"
        return (
            f"a bare state_dict ({len(obj)} tensors, e.g. {next(iter(obj))!r}): the weights "
            "without the architecture they belong to. Build that architecture, load them into "
            f"it and pass the module, e.g. `state = torch.load(path); m = xlstsr.nn.ResCNN(4); "
            f"{load}`, then model=m "
            "(or `xlstsr.nn.save_model(m, 'model.pt')` and pass that path)"
        )
    inner = [k for k in ("model_state_dict", "state_dict", "model") if weights(obj.get(k))]
    if inner:  # a hand-written loop's checkpoint ({"epoch", "model_state_dict", ...})
        return (
            f"a training checkpoint of a hand-written loop (keys {sorted(map(str, obj))[:6]}): "
            f"its weights are ckpt[{inner[0]!r}]. Build the architecture they belong to, load them "
            f"into it and pass the module, e.g. `m = xlstsr.nn.ResCNN(4); "
            f"m.load_state_dict(ckpt[{inner[0]!r}])`, then model=m"
        )
    return ""


def _network(module: Any) -> Any:
    """The network inside a training wrapper (``SuperResolutionModule``, any LightningModule
    holding an xlstsr network as ``.model``, ``nn.DataParallel``): the wrapper was taken for a network without a
    guide ("use method='sisr'"), then failed inside the network."""
    import torch

    if isinstance(module, (torch.nn.DataParallel, torch.nn.parallel.DistributedDataParallel)):
        module = module.module  # multi-GPU training's wrapper: "set `model.factor = 4`"
    inner = getattr(module, "model", None)
    if (hasattr(module, "training_step") and isinstance(inner, torch.nn.Module)
            and hasattr(inner, "factor")):
        return inner
    return module


def _refuse_half_weights(model: Any) -> None:
    """Refuse a model whose weights are float16/bfloat16 (its first floating-point parameter or
    buffer), naming the fix: a forward that casts the input to them and its output back to
    float32 passed every check of the output, which then came in 0.25 K (float16) or 2 K
    (bfloat16) steps, up to 2.7 K off the float32 model, without a word (training refuses half
    precision for the same reason)."""
    import torch

    dtype = _weights_dtype(model)
    if dtype in (torch.float16, torch.bfloat16):
        raise XlstsrError(
            f"the model's ({type(model).__name__}) weights are {dtype}: Kelvin near 300 K is "
            f"rounded to steps of {'0.25' if dtype == torch.float16 else '2'} K in it. Convert "
            "it to float32, `model.float()`, and run it so (no `.half()` or autocast inside "
            "its forward); its weights stay rounded (xlstsr's architectures rebuild their "
            "bicubic kernel exactly): the float32 model it came from, where you have it, is "
            "better."
        )


def _probe_receptive_field(model: Any, factor: int, n_guide: int) -> int:
    """:func:`xlstsr.nn.runtime.measure_receptive_field`, its failures named: the probe feeds
    the model square inputs of odd sizes (9, 17, ...) the user never gave, and a U-Net that
    needs multiples of 4 failed there in torch's words ("Expected size 9 but got size 8")."""
    try:
        return runtime.measure_receptive_field(model, factor, n_guide)
    except XlstsrError:
        raise
    except Exception as err:
        text = f"{type(err).__name__}: {err}"
        hint = ""
        if n_guide == 0 and isinstance(err, TypeError) and "guide" in str(err):
            hint = (" Its forward wants a guide: declare how many channels, "
                    "`model.n_guide = 1`, and use method='disr' (or pass guide=...).")
        raise XlstsrError(
            f"the model has no `receptive_field` attribute, and measuring it failed: xlstsr "
            f"probes it with small odd-sized inputs (9 x 9 coarse pixels first, a (1, 1, h, w) "
            f"LST{f' and a (1, {n_guide}, h*f, w*f) guide' if n_guide else ''}) and the "
            f"model's forward raised {text[:300]}.{hint} Declare the receptive field on the "
            "model (`model.receptive_field = N`, the coarse pixels around an input pixel that "
            "its output depends on), which skips the probe."
        ) from err


def fill_guide(guide: np.ndarray, radius: int,
               fill_value: float | Sequence[float]) -> np.ndarray:
    """Fill guide NaN locally (``radius`` rounds of valid-neighbour averaging), then a constant:
    ``fill_value``, one float for every band or one per band (axis 1 of the (n, c, Y, X)
    ``guide``).

    Purely local (a filled value depends only on data within ``radius`` fine pixels), so chunked
    inference stays identical to whole-array inference.

    Examples
    --------
    >>> g = np.full((1, 2, 1, 4), np.nan, np.float32)
    >>> fill_guide(g, 1, [0.5, 5.0])[0, :, 0, 0].tolist()
    [0.5, 5.0]
    """
    guide = np.asarray(guide, dtype=np.float32)
    values = np.atleast_1d(np.asarray(fill_value, dtype=np.float64))
    if values.size == 1:
        return fill_gaps(guide, radius, far_value=float(values[0]))
    if guide.ndim < 3 or guide.shape[-3] != values.size:
        raise XlstsrError(f"fill_guide: {values.size} fill values for a guide of shape "
                          f"{guide.shape}; give one per band (axis -3) or a single one")
    out = np.empty(guide.shape, dtype=np.result_type(guide, np.float32))
    for c, v in enumerate(values.tolist()):
        out[..., c, :, :] = fill_gaps(guide[..., c, :, :], radius, far_value=v)
    return out


def _fill_values(value: Any, n_guide: int) -> tuple[float, ...]:
    """A model's ``guide_fill_value`` as one float per guide band (a single one for every band
    when it gives one), or an :class:`~xlstsr.errors.XlstsrError` naming the fix."""
    try:
        values = tuple(float(v) for v in np.atleast_1d(np.asarray(value, dtype=np.float64)))
    except (TypeError, ValueError) as err:
        raise XlstsrError(f"the model's `guide_fill_value` must be a number or one number per "
                          f"guide band, got {value!r}") from err
    if len(values) not in (1, max(n_guide, 1)):
        raise XlstsrError(f"the model's `guide_fill_value` holds {len(values)} values for "
                          f"{n_guide} guide band(s): give one per band, or a single number")
    return values


def beyond_fill_reach(guide: np.ndarray, radius: int) -> np.ndarray:
    """Where :func:`fill_guide` gives a guide gap its constant: NaN farther than ``radius`` fine
    pixels (Chebyshev, the reach of its neighbour averaging) from any valid value of its band.

    Examples
    --------
    >>> g = np.full((1, 1, 1, 8), np.nan); g[..., 0] = 0.5
    >>> beyond_fill_reach(g, 2)[0, 0, 0].astype(int).tolist()
    [0, 0, 0, 1, 1, 1, 1, 1]
    """
    from scipy.ndimage import maximum_filter

    ok = np.isfinite(np.asarray(guide)).view(np.uint8)
    if int(radius) > 0:
        size = (1,) * (ok.ndim - 2) + (2 * int(radius) + 1,) * 2
        ok = maximum_filter(ok, size=size, mode="constant", cval=0)
    return ok == 0


@contextlib.contextmanager
def _device_errors(dev: str) -> Iterator[None]:
    """Turn torch's error when a model cannot be put on a CUDA ``dev`` in this process (no GPU,
    a torch built without CUDA: a bare ``AssertionError``) into a
    :class:`~xlstsr.errors.DeviceError` naming the fix; other errors pass unchanged."""
    try:
        yield
    except (RuntimeError, AssertionError) as err:
        if not ("cuda" in str(dev) or "CUDA" in str(err)):
            raise
        raise DeviceError(
            f"the model cannot be put on device {dev!r} in this process ({type(err).__name__}: "
            f"{str(err)[:200]}); use device='auto' or device='cpu', or run on workers with "
            "a GPU."
        ) from err


def _ndvi_advice(labels: Sequence[Any] | None) -> str:
    """How to compute NDVI from a red/NIR guide, in the form of the guide passed (``labels``:
    :func:`xlstsr.guide.guide_labels`'s, whose ``form`` says a dict or Dataset, a list or a
    raster): a raster's `guide.sel(band=...)` failed on a Dataset or dict, which have no 'band'
    dim."""
    given = [None if v is None else str(v) for v in labels or ()]
    nir = next((i for i, v in enumerate(given) if v and "nir" in v.lower()), None)
    red = next((i for i, v in enumerate(given) if v and i != nir and "red" in "".join(
        c if c.isalpha() else " " for c in v.lower()).split()), None)
    form = getattr(labels, "form", "raster")
    if form == "keyed":
        n, r = ((repr(given[nir]), repr(given[red])) if nir is not None and red is not None
                else ("NIR", "RED"))
        return (f"`nir, red = guide[{n}].astype('float32'), guide[{r}].astype('float32'); "
                "ndvi = (nir - red) / (nir + red)`"
                + ("" if nir is not None and red is not None else " (NIR, RED: their keys)"))
    if form == "list":
        n, r = (str(nir), str(red)) if nir is not None and red is not None else ("NIR", "RED")
        return (f"`nir, red = guide[{n}].astype('float32'), guide[{r}].astype('float32'); "
                "ndvi = (nir - red) / (nir + red)`"
                + ("" if nir is not None and red is not None
                   else " (NIR, RED: their positions in the list)"))
    # a raster's labels may be its band descriptions, not the values sel takes; along its own
    # band dim (ds.to_array()'s 'variable': `sel(band=...)` failed there)
    d = getattr(labels, "dim", "band")
    return (f"`g = guide.astype('float32'); ndvi = (g.sel({d}=NIR) - g.sel({d}=RED)) / "
            f"(g.sel({d}=NIR) + g.sel({d}=RED))` (NIR, RED: their {d} labels)")


#: dated bands a message writes the dates of into its code (more: read with open_cog)
_DATES_IN_CODE = 8


def _dated_bands_advice(labels: Sequence[Any] | None) -> str | None:
    """What to say when a guide's bands (channels) are described by dates, one per band, as
    :func:`xlstsr.io.open_cog` and the command line read them (a per-date NDVI GeoTIFF read
    with rioxarray or xarray's rasterio engine): they are steps, not channels; the code that
    makes them the guide's time dim, in the form of the guide passed. None where a label is
    not one date. Such a file was told "it takes NDVI, not reflectances"."""
    from ..io.cog import _description_dates

    given = getattr(labels, "described", None) or labels or ()
    texts = [str(v) for v in given if v is not None]
    if len(texts) < 2 or len(texts) != len(given):
        return None
    dates = _description_dates(texts)
    if dates is None:
        return None
    days = [str(np.datetime_as_string(d, unit="s")).replace("T00:00:00", "") for d in dates]
    shown = f"{days[0]} ... {days[-1]}" if len(days) > 3 else ", ".join(days)
    say = (f"its {len(days)} bands are described by dates ({shown}): they are one guide per "
           "date (time steps), not channels. Read the file with `guide = "
           "xlstsr.io.open_cog(path)` (path: the GeoTIFF's), which makes date-described bands "
           "time steps (as --guide does on the command line)")
    form = getattr(labels, "form", "raster")
    keyed = getattr(labels, "described", None) is not None and form == "keyed"
    if len(days) > _DATES_IN_CODE or form == "list" or (form == "keyed" and not keyed):
        return say + "."
    time = f"time=np.array({days}, dtype='datetime64[ns]')"
    if form == "keyed" and len(labels) == 1:  # xr.open_dataset(..., engine="rasterio")
        code = (f"guide = guide[{str(labels[0])!r}].rename(band='time')"
                f".assign_coords({time})")
    elif form == "keyed":  # one variable per band (band_as_variable=True)
        code = ("guide = xr.concat([guide[k] for k in "
                f"{[str(k) for k in labels]}], 'time').assign_coords({time})")
    else:
        code = f"guide = guide.rename({{{getattr(labels, 'dim', 'band')!r}: 'time'}})" \
               f".assign_coords({time})"
    return say + (f", or give them that time dim: `{code}` (`import numpy as np"
                  f"{', xarray as xr' if 'xr.' in code else ''}`).")


#: words of a band label that name a reflectance band, not an index computed from them
_REFLECTANCE_WORDS = frozenset({"red", "nir", "swir", "swir1", "swir2", "green", "blue"})


def _reflectance_like(label: str) -> bool:
    """Whether a guide band's label names a reflectance ('red', 'nir', 'sur_refl_b01',
    '250m Surface Reflectance Band 2'), for the advice to compute NDVI from red and NIR: given
    to bands labelled otherwise (two unlabelled NDVIs, an LAI) it was advice for another guide.

    Examples
    --------
    >>> [_reflectance_like(v) for v in ("red", "B4_nir", "sur_refl_b01", "lai", "ndvi_terra")]
    [True, True, True, False, False]
    """
    text = str(label).lower()
    words = "".join(c if c.isalnum() else " " for c in text).split()
    return "refl" in text or any(w in _REFLECTANCE_WORDS for w in words)


def _pick_band_advice(labels: Sequence[Any], label: str) -> str:
    """How to pass the guide's band labelled ``label`` alone, in the form of the guide passed
    (``labels``: :func:`xlstsr.guide.guide_labels`'s): by key, by list position, or by band
    position in a raster (whose labels may be its band descriptions, which `sel` does not
    take)."""
    form = getattr(labels, "form", "raster")
    if form == "keyed":
        return f"guide=guide[{label!r}]"
    i = [None if v is None else str(v) for v in labels].index(label)
    if form == "list":
        return f"guide=guide[{i}]"
    return f"guide=guide.isel({getattr(labels, 'dim', 'band')}={i})"


class TorchModelMethod(UpscaleMethod):
    """A PyTorch model (see the module's protocol) as an :class:`UpscaleMethod`.

    Parameters
    ----------
    model : nn.Module, path or str
        A model following the protocol, a checkpoint written by :func:`xlstsr.nn.save_model`, or
        the name of bundled weights (:func:`xlstsr.nn.weights.list_weights`).
    device : str
        ``"auto"`` (GPU if torch sees one, else CPU), ``"cpu"``, ``"cuda"``, ``"cuda:1"``...
        Resolved on each worker process.
    batch_size : int, optional
        Images per forward pass; default: as many as fit :data:`BATCH_PIXELS` output pixels
        (at least one), so that the memory does not grow with the number of dates of a block
        (all of them in one forward took ~45 GB for a 365-day block of a 128 px tile with the
        U-Net). Outputs equal those of one pass (to float rounding: ~1e-5 K). A user's model
        whose forward mixes the images of a batch (checked once, on two small images) runs one
        image per forward with a warning; with ``batch_size`` > 1 given, it is refused.
    num_threads : int, optional
        Torch intra-op threads per task; default 1 inside dask worker threads, torch's default
        (all cores) in the main thread.
    channels_last : bool
        Run convolutions in the channels-last memory format (default True): 1.1-1.4x faster on
        this CPU for the bundled models, outputs equal within 1e-4 K (float rounding). Torch
        backend only. A user's model whose forward fails in that layout where it runs in the
        usual one (a ``.view`` of a weight or a feature map) runs in the usual one: checked
        on one small image when the method is built (:func:`_runs_channels_last`). One that
        fails in channels-last at other sizes only raises an error at compute naming
        ``channels_last=False`` (no second run: a rerun on dask.distributed workers, with
        test-time adaptation or after running out of memory cost more than it saved).
    backend : {"torch", "onnxruntime"}
        What runs the forward. ``"torch"`` (default). ``"onnxruntime"`` (CPU only; ``pip install
        xlstsr[onnx]``): the model exported to ONNX once per process and run by ONNX Runtime
        (:class:`xlstsr.nn.onnx_runtime.OnnxModel`), on tiles of :data:`ONNX_TILE` with
        ``tile="auto"``: on this project's 2-core CPU ``upscale_to_zarr`` ran the U-Net `disr`
        (``weights="unet"``) 1.24x as fast as with torch for about twice the peak memory, the
        default `disr` and `sisr` 0.89x and 0.97x (docs/results/engine.md); outputs within
        1e-3 K of torch's (checked at export).
        ``device="auto"`` means the CPU with it. Test-time adaptation runs in torch either way.

    Notes
    -----
    Guide NaN are filled before the forward: ``factor`` rounds of local neighbour averaging,
    then the model's ``guide_fill_value`` attribute (default 0.0; one value per band where it
    gives several), unless the model sets
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
    returns_new_arrays = True  # upscale_block's arrays come from the forward's new tensors

    def __init__(
        self,
        model: Any,
        *,
        device: str = "auto",
        batch_size: int | None = None,
        num_threads: int | None = None,
        channels_last: bool = True,
        backend: str = "torch",
    ) -> None:
        model, self._path = resolve_model(model)
        if not hasattr(model, "factor"):
            raise XlstsrError(
                f"the model ({type(model).__name__}) has no `factor` attribute; set e.g. "
                "`model.factor = 4` (the protocol is in xlstsr.methods.torch_model)."
            )
        name = getattr(self, "name", "torch")
        _refuse_half_weights(model)
        # 2.5 / "4" were taken as 2 / 4; num_threads 0 reached torch as a raw RuntimeError
        batch_size = option_whole(name, "batch_size", batch_size, 1, allow_none=True, example=8)
        num_threads = option_whole(name, "num_threads", num_threads, 1, allow_none=True, example=2)
        channels_last = option_bool(name, "channels_last", channels_last)
        if backend not in BACKENDS:
            raise XlstsrError(f"backend must be one of {', '.join(map(repr, BACKENDS))}, got "
                              f"{backend!r}")
        if backend == "onnxruntime" and not onnx_available():
            raise XlstsrError("backend='onnxruntime' needs the onnxruntime and onnx packages: "
                              "`pip install xlstsr[onnx]` (or `pip install onnxruntime onnx`), "
                              "or use backend='torch'.")
        # the protocol's attributes, set by the model's author: "one" or NaN gave raw errors,
        # 4.5 became 4, a negative receptive field broke the assembly of the dask result
        fix = "set it on the model (the protocol is in xlstsr.methods.torch_model)"
        self.factor = check_whole("the model's `factor`", model.factor, 1, fix)
        self.n_guide = check_whole("the model's `n_guide`", getattr(model, "n_guide", 0) or 0, 0,
                                   fix)
        self.spatially_local = bool(getattr(model, "spatially_local", True))
        # one value per guide band: band 1's mean filled a second band's gaps (10 std off)
        fills = _fill_values(getattr(model, "guide_fill_value", 0.0), self.n_guide)
        self.guide_fill_values = fills
        # the one value of every band (None where they differ: per band in guide_fill_values)
        self.guide_fill_value = fills[0] if len(set(fills)) == 1 else None
        self.accepts_nan_guide = bool(getattr(model, "accepts_nan_guide", False))
        self.model_tile = getattr(model, "tile_size", None)  # the engine's tile="auto"
        if self.model_tile is not None:
            self.model_tile = check_whole("the model's `tile_size`", self.model_tile, 1, fix)
        self.device = check_device(device)
        self.batch_size = None if batch_size is None else int(batch_size)
        self.num_threads = None if num_threads is None else int(num_threads)
        self.channels_last = bool(channels_last)
        self.backend = str(backend)
        rf = getattr(model, "receptive_field", None)
        self.receptive_field_measured = rf is None
        # a private copy: the user's module keeps its train()/eval() mode and layout, and a
        # module changed in place later (fine-tuned) is not what this method's weights hash
        # names (the default 'sisr' was served a user's fine-tuned module from the cache)
        # (through torch.save where torch cannot deepcopy it: weight_norm's derived weights)
        from ..nn.adapt import copy_model

        try:
            model = copy_model(model)
            self._shared_module = False
        except XlstsrError:
            # a module torch can neither copy nor save (a lock): used as it is, as before,
            # and cached under a key of its own object (never the default's); it runs in eval
            # mode only inside _borrowed (then back in the user's mode) and keeps its layout
            self._shared_module = True
        else:
            model = model.eval()
        self._local_model = model  # in-process only; dropped when pickled
        self.adapt: Any = None  # test-time adaptation settings (with_adaptation), off by default
        with self._borrowed(model):
            self._probe_model(model, rf, fix)
        # a user's forward that needs contiguous tensors (a weight-standardised conv's
        # `w.view(out, -1)`, `feat.view(b, -1)`) ran in every probe above, then failed at
        # compute with torch's raw "view size is not compatible": such a model runs in the
        # contiguous layout (channels-last is speed only). Decided here, once, in the process
        # that builds the method: a switch at compute neither reached dask.distributed workers
        # (each task unpickles the method) nor the adapted path. xlstsr's own networks run in it
        if (self.channels_last and self.backend == "torch" and not _own_network(model)
                and not self._shared_module):
            self.channels_last = _runs_channels_last(model, self.factor, self.n_guide,
                                                     self.model_tile)

    def _probe_model(self, model: Any, rf: Any, fix: str) -> None:
        """The constructor's part that runs the model (in eval mode): its receptive field
        (``rf`` when declared, else probed), weights hash, normalisation and temperature
        dependence."""
        if rf is None:
            rf = _probe_receptive_field(model, self.factor, self.n_guide)
            if rf >= runtime.MAX_MEASURED_RF and self.spatially_local:
                # the response reached the edge of the largest probe: a whole-image layer
                # (InstanceNorm, a normalisation by the image's mean): tiles with a 64 px
                # margin gave 0.6-4 K off the whole-image forward, without a word
                warn(
                    f"the model's response to one input pixel reaches {rf} coarse pixels, the "
                    "whole probe: it depends on the whole image (InstanceNorm or an image-wide "
                    "normalisation?), so it runs on whole images, untiled. Declare "
                    "`receptive_field` on the model if it is local after all.",
                    UserWarning,
                )
                self.spatially_local = False
        self.receptive_field = check_whole("the model's `receptive_field`", rf, 0, fix)
        self.model_class = f"{type(model).__module__}.{type(model).__qualname__}"
        # a user's model with a pooled or strided level (a U-Net) is local in reach but not
        # shift-equivariant: its tiles (each window starts at tile_start - halo) moved the
        # pooling grid, 8.7 K off the whole-image forward, silently. xlstsr's own networks
        # declare what they are (a U-Net off its sizes: nn/resunet.py), so they skip the check
        # (a torch.compile'd one too: its wrapper's class is torch's, the network _orig_mod)
        own = type(getattr(model, "_orig_mod", model)).__module__.split(".")[0] == "xlstsr"
        declared = getattr(model, "spatially_local", None) is not None  # its author's word
        if (self.spatially_local and not own and not declared
                and self.receptive_field < runtime.MAX_MEASURED_RF):
            shift = _shift_variance(model, self.factor, self.n_guide, self.receptive_field)
            if shift is not None and shift > SHIFT_TOLERANCE_K:
                warn(
                    f"the model ({type(model).__name__}) is not shift-equivariant: its output "
                    f"over the same pixels changed by {shift:.3g} K when its input window moved "
                    "by one coarse pixel (a pooling or strided level, an image-wide statistic, "
                    "or a `receptive_field` declared too small), so tiles of it would differ "
                    "from the whole-image forward. It runs on whole images, untiled (tile= and "
                    "dask's spatial chunks then cost memory, not accuracy); declare "
                    "`model.spatially_local = False` to skip this check (True runs it in "
                    "tiles, where you know its output does not depend on where a window "
                    "starts).",
                    UserWarning,
                )
                self.spatially_local = False
        # a forward that mixes the images of a batch (a statistic over the whole batch,
        # `lst.mean()`, written for one image at a time) made a date's result depend on the
        # dates beside it in its block (17.8 K), silently: such a model runs one image per
        # forward. Not needed for xlstsr's own networks, nor with batch_size=1
        if not own and self.batch_size != 1:
            mixed = _batch_dependence(model, self.factor, self.n_guide, self.model_tile)
            if mixed is not None and mixed > SHIFT_TOLERANCE_K:
                why = (f"the model ({type(model).__name__}) mixes the images of a batch: an "
                       f"image's output changed by {mixed:.3g} K when a second image shared its "
                       "forward (a statistic over the whole batch, e.g. `lst.mean()` instead of "
                       "`lst.mean(dim=(1, 2, 3), keepdim=True)`), so a date's result would "
                       "depend on the dates beside it")
                if self.batch_size is not None:
                    raise XlstsrError(
                        f"{why}; batch_size={self.batch_size} would do that: use batch_size=1 "
                        "(or None, which then runs one image per forward), or make its "
                        "statistics per image.")
                warn(f"{why}: it runs one image per forward (batch_size=1; make its "
                     "statistics per image to batch it, or pass batch_size=1 to skip this "
                     "check).", UserWarning)
                self.batch_size = 1
        self.weights_hash = runtime.weights_hash(model)
        self._guide_stats = _guide_statistics(model, self.n_guide)
        self.lst_normalisation = _lst_normalisation(model)
        # only a model whose output moves with the absolute temperature is warned for: the
        # default disr ("fast") changed its detail by 7.3 K under the probe, sisr ("rescnn")
        # by 0.34 K (both normalise the LST the same way: the training made the difference)
        self.temperature_dependence = (
            None if self.lst_normalisation is None
            else _temperature_dependence(model, self.factor, self.n_guide,
                                         *self.lst_normalisation, self._guide_stats))

    @property
    def needs_guide(self) -> bool:
        return self.n_guide > 0

    def lst_range_message(self, values: Any) -> str | None:
        """What to say when the LST ``values`` lie far outside the temperatures the model
        normalises for (:func:`lst_range_message`); None otherwise."""
        return lst_range_message(values, getattr(self, "lst_normalisation", None),
                                 getattr(self, "temperature_dependence", None),
                                 getattr(self, "name", "torch"))

    def guide_statistics(self) -> dict[str, Any] | None:
        """The per-channel guide mean and std the model normalises with (its ``guide_mean`` /
        ``guide_std`` buffers, or its checkpoint's ``normalisation`` metadata), with the input
        names of its checkpoint; None for a model that records none."""
        return None if self._guide_stats is None else dict(self._guide_stats)

    # -- pickling / tokenizing: a few bytes, never the module ------------------------------------
    def __getstate__(self) -> dict[str, Any]:
        state = dict(self.__dict__)
        state["_local_model"] = None
        return state

    def __copy__(self) -> Any:
        return self._copied_with_model(None)

    def __deepcopy__(self, memo: dict[int, Any]) -> Any:
        return self._copied_with_model(memo)

    def _copied_with_model(self, memo: dict[int, Any] | None) -> Any:
        """A copy that keeps the live model (:meth:`__getstate__` drops it from pickles: a
        user's module, not loadable by name, was lost to ``copy.copy``), as
        :meth:`with_adaptation` does; ``copy.deepcopy`` copies the model too."""
        import copy

        new = object.__new__(type(self))
        if memo is not None:
            memo[id(self)] = new
        state = dict(self.__dict__)
        if memo is not None:
            state = copy.deepcopy(state, memo)
        new.__dict__.update(state)
        return new

    def __dask_tokenize__(self) -> tuple:
        return (
            type(self).__name__,
            self.weights_hash,
            self.device,
            self.batch_size,
            self.num_threads,
            self.channels_last,
            self.backend,
            None if getattr(self, "adapt", None) is None else sorted(self.adapt.as_dict().items()),
        )

    # -- the weights as the method's state (shipped once per worker by the engine) --------------
    def state_key(self) -> str:
        return self.weights_hash

    def dump_state(self) -> bytes:
        if self._local_model is None:
            raise XlstsrError("this TorchModelMethod was unpickled without its model")
        return runtime.serialize_model(self._local_model)

    def load_state(self, payload: bytes) -> None:
        if self._local_model is not None:
            return  # in the process that built it: model() uses the live module
        dev = self._device()
        # a worker without the GPU device="cuda" asks for (the constructor leaves that check to
        # the workers under a dask.distributed client) gave torch's bare AssertionError here
        with _device_errors(dev):
            runtime.cached_model(self._cache_key(dev), dev,
                                 lambda d: self._prepare(runtime.deserialize_model(payload, d), d))

    def model(self) -> Any:
        """The loaded model on this process's device (cached per process)."""
        import torch

        dev = self._device()

        def load(dev: str) -> Any:
            if self._local_model is not None and getattr(self, "_shared_module", False):
                return self._shared_on(dev)
            if self._local_model is not None:  # the method's own copy
                if torch.device(dev).type == "cpu":
                    return self._local_model.to(dev).eval()
                from ..nn.adapt import copy_model

                # copied, not moved: the CPU module stays as it is (weight_norm's derived
                # weights refuse deepcopy: copied through torch.save, or an error naming why)
                return copy_model(self._local_model).to(dev).eval()
            if self._path is not None:
                from ..nn.checkpoint import load_model

                return load_model(self._path, device=dev).eval()
            raise XlstsrError(
                "the model's weights were not shipped to this process; run it through "
                "xlstsr.upscale / xlstsr.engine.upscale_array, which ship them once."
            )

        with _device_errors(dev):
            return runtime.cached_model(self._cache_key(dev), dev,
                                        lambda d: self._prepare(load(d), d))

    @property
    def cache_key(self) -> str:
        """Key of the loaded model in this process's cache (weights, backend, memory layout)."""
        return self._cache_key(self._device())

    def _cache_key(self, dev: str) -> str:
        own = (f"-module{id(self._local_model)}"
               if getattr(self, "_shared_module", False) and self._local_model is not None else "")
        if self._backend_on(dev) == "onnxruntime":
            return self.weights_hash + own + "-onnxruntime"
        return self.weights_hash + own + ("-cl" if self.channels_last else "")

    def _device(self) -> str:
        """This process's device: ``device="auto"`` is the CPU under ONNX Runtime."""
        if getattr(self, "backend", "torch") == "onnxruntime" and self.device == "auto":
            return "cpu"
        return runtime.resolve_device(self.device)

    def _backend_on(self, dev: str) -> str:
        """The backend that runs the forward on ``dev`` (refused: ONNX Runtime off the CPU)."""
        backend = getattr(self, "backend", "torch")  # methods pickled before the option
        import torch

        # by type: "cpu:0" is the CPU too (it was refused as "the CPU only, not 'cpu:0'")
        if backend == "onnxruntime" and torch.device(dev).type != "cpu":
            raise DeviceError(f"backend='onnxruntime' runs on the CPU only, not {dev!r}: use "
                              "device='cpu', or backend='torch' on a GPU.")
        return backend

    def _prepare(self, model: Any, dev: str) -> Any:
        """The loaded module as it will run: exported to ONNX Runtime, or torch's layout."""
        import torch

        # a copy of a TorchScript module (deepcopy here, torch.jit.load on a worker) lost the
        # protocol's attributes set on it in Python (`ts.factor = 4`), which the forward's
        # output-shape check reads: the method's own values, where missing
        for attr, value in (("factor", self.factor), ("n_guide", self.n_guide)):
            if not hasattr(model, attr):
                setattr(model, attr, value)
        if self._backend_on(dev) == "onnxruntime":
            with self._borrowed(model):  # the export runs the forward
                # the method's own attributes: the copy of a TorchScript module lost those
                # set on it in Python (`ts.factor = 4`), a raw AttributeError at compute
                return OnnxModel(model, factor=self.factor, n_guide=self.n_guide,
                                 accepts_nan_guide=getattr(self, "accepts_nan_guide", None))
        if getattr(self, "_shared_module", False):
            return model  # the user's own module: its layout stays (channels-last is speed only)
        return model.to(memory_format=torch.channels_last) if self.channels_last else model

    def _borrowed(self, model: Any) -> contextlib.AbstractContextManager[Any]:
        """``model`` in eval mode for a forward: the method's own copy is already; the user's
        module (one torch cannot copy) goes back to its own mode afterwards
        (:func:`_in_eval_mode`)."""
        if getattr(self, "_shared_module", False) and model is self._local_model:
            return _in_eval_mode(model)
        return contextlib.nullcontext(model)

    def _shared_on(self, dev: str) -> Any:
        """The user's own module (one torch cannot copy) where it may run on ``dev``: only where
        it already lies (moved, it would leave the user's device with it)."""
        import torch

        module = self._local_model
        want = torch.device(dev)
        have = {t.device for t in [*module.parameters(), *module.buffers()]}
        if all(d.type == want.type and (want.index is None or d.index in (None, want.index))
               for d in have):
            return module
        where = ", ".join(sorted(map(str, have)))
        raise DeviceError(
            f"the model ({type(module).__name__}) cannot be copied (torch can neither deepcopy "
            f"nor save it: a lock or an open file on it), so xlstsr runs the module itself, "
            f"where it lies ({where}), not on {dev!r}: pass device={where.split(', ')[0]!r}, "
            "or remove what cannot be copied so that xlstsr can copy it to another device."
        )

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

    def guide_fill_radius(self, factor: int) -> int:
        """Reach (fine pixels) of the guide's gap filling before the forward: ``factor``, 0 for
        models without a guide or that take NaN.

        The same for every receptive field: capped at it, a per-pixel model (receptive field 0)
        got the constant ``guide_fill_value`` in every gap (NDVI 0 at each missing NDVI pixel:
        5 K off there, silently) where one of receptive field 1 got its neighbours' values.
        The engine cuts a tile's guide this much wider than the model's window and fills it with
        :meth:`fill_guide_gaps` before cutting it back
        (:func:`xlstsr.engine.blocks.guide_fill_reach`, independent of the halo): a gap at the
        window's edge is filled from the same neighbours as on the whole image.
        """
        if not self.needs_guide or self.accepts_nan_guide:
            return 0
        return int(factor)

    def fill_guide_gaps(self, guide: np.ndarray, factor: int) -> np.ndarray:
        """The guide (n, c, Y, X) as the forward gets it: float32, a new array, its NaN filled
        (:func:`fill_guide` over :meth:`guide_fill_radius`, then the model's
        ``guide_fill_value``) unless the model sets ``accepts_nan_guide``."""
        if self.accepts_nan_guide:
            return np.array(guide, dtype=np.float32, copy=True)
        # methods pickled before the per-band values hold guide_fill_value alone
        fills = getattr(self, "guide_fill_values", None) or (self.guide_fill_value,)
        return fill_guide(guide, self.guide_fill_radius(factor), fills)

    def guide_constant_mask(self, guide: np.ndarray, factor: int) -> np.ndarray | None:
        """Where (n, Y, X) :meth:`fill_guide_gaps` gives the forward a constant (the model's
        ``guide_fill_value``) in some band instead of the guide: gaps beyond the reach of its
        local filling (:func:`beyond_fill_reach`). None for a model without a guide or that
        takes NaN itself. :func:`xlstsr.upscale` warns when much of the guide under the clear
        LST is such a constant: the model then runs as if guided, from nothing."""
        if not self.needs_guide or self.accepts_nan_guide:
            return None
        return beyond_fill_reach(guide, self.guide_fill_radius(factor)).any(axis=1)

    def channel_message(self, got: int, labels: Sequence[Any] | None = None) -> str:
        """What to say when ``got`` guide channels reach a model that takes :attr:`n_guide`;
        ``labels``: the guide's channel labels where known (:func:`xlstsr.guide.guide_labels`)."""
        names = (self._guide_stats or {}).get("names") or []
        which = f" {names}" if names else ""
        head = (f"the model takes {self.n_guide} guide channel(s){which}, but the guide has "
                f"{got}: ")
        given = [str(v) for v in labels or () if v is not None]
        ndvi_given = [v for v in given if "ndvi" in v.lower()]
        # bands described by their dates ('NDVI_2020_07_01'...): steps, not channels, and no
        # NDVI band to pick for every step
        dated = _dated_bands_advice(labels)
        if dated is not None:
            return head + dated
        if (names and all("ndvi" in str(n).lower() for n in names) and self.n_guide == 1
                and len(ndvi_given) == 1):
            # NDVI beside other bands ([ndvi, lai]) was told to compute NDVI from red and NIR
            others = [v for v in given if v != ndvi_given[0]]
            return head + (
                f"the guide holds NDVI ({ndvi_given[0]!r}) beside {others or 'other bands'}: "
                "pass the NDVI band alone (`guide=ndvi`; a raster's band by label, "
                "`guide.sel(band=...)`); on the command line, give only that band's file as "
                "--guide.")
        if (names and all("ndvi" in str(n).lower() for n in names) and self.n_guide == 1
                and len(ndvi_given) > 1):
            # two NDVI bands (Terra and Aqua) were told to compute NDVI from red and NIR, which
            # followed ran the model on (ndvi_b - ndvi_a) / (ndvi_b + ndvi_a)
            others = [v for v in given if v not in ndvi_given]
            beside = f" beside {others}" if others else ""
            return head + (
                f"the guide holds {len(ndvi_given)} NDVI bands {ndvi_given}{beside}, and the "
                f"model takes one: pick one, `{_pick_band_advice(labels, ndvi_given[0])}` "
                "(or upscale with each in turn); on the command line, give only that band's "
                "file as --guide.")
        compute = (
            "it takes NDVI, not reflectances. Compute it from the red and NIR bands, "
            f"{_ndvi_advice(labels)}, and pass `ndvi`; on the command line, write that "
            "NDVI to a one-band file (`ndvi.rio.to_raster('ndvi.tif')`) and pass it as "
            "--guide.")
        ndvi_model = bool(names) and all("ndvi" in str(n).lower() for n in names) \
            and self.n_guide == 1
        if ndvi_model and any(_reflectance_like(v) for v in given):
            # a red/NIR raster: the first band is red, which the advice to select one band
            # ran as NDVI (2 K off, up to 7 K, without a word)
            return head + compute
        trained = f": {names}" if names else ""
        generic = (
            f"pass exactly the bands it was trained with{trained}, in that order (a multi-band "
            "raster's 'band' dim and the entries of a guide list or dict each count as one "
            "channel; select them by label, `guide.sel(band=[...])`, knowing which band holds "
            "what; on the command line, write them to their own file and pass it as --guide).")
        from ..guide import _KEY_WITHOUT_MEANING

        if ndvi_model and all(_KEY_WITHOUT_MEANING.fullmatch(v) or v.isdigit() for v in given):
            # bands that no label names (a GeoTIFF's numbered bands, an xr.concat without a band
            # coordinate) may be red/NIR or anything else: two NDVIs were told "not
            # reflectances, compute it from red and NIR", which followed ran on nonsense
            return head + generic + " If they are red and NIR reflectances: " + compute
        return head + generic

    def tile_size(self, factor: int) -> int | None:
        # per-layer tensors of whole images are freshly allocated and page-faulted: tiles with a
        # receptive-field halo ran about 2x faster here; the model may declare the tile it runs
        # fastest at (its ``tile_size``, measured in docs/results/engine.md), else TORCH_TILE.
        # ONNX Runtime pays a fixed cost per call (layout changes): it ran fastest on larger ones
        if getattr(self, "backend", "torch") == "onnxruntime":
            return ONNX_TILE
        return int(self.model_tile or TORCH_TILE)

    def with_adaptation(self, adapt: Any) -> TorchModelMethod:
        """A copy of this method that adapts the model to each scene before upscaling it.

        ``adapt``: True (the defaults), a dict of :class:`xlstsr.nn.adapt.Adaptation` settings
        (``{"steps": 10, "lr": 1e-4, ...}``) or an ``Adaptation``; None/False returns ``self``.

        For each image (time step) a copy of the model is fine-tuned for a few steps on the
        self-supervised loss of :func:`xlstsr.nn.adapt.adapt_model` (the output, aggregated
        under the sensor's PSF in radiance, must give the coarse input back), computed on the
        whole image or a fixed seeded sample of windows of it, then the copy upscales that image
        (in tiles with a receptive-field halo; whole, if the model is not spatially local).
        The cached model is never modified.

        Where it runs: inside the engine's chunk function, once per time step, on the whole
        image. The copy declares itself not spatially local, so the engine hands it whole images
        (chunked along time only): there are no spatial seams, the result does not depend on
        the chunking or ``tile``, and it stays lazy on dask inputs. Deterministic: the sample of
        the scene is seeded and the optimisation has no other randomness.

        Examples
        --------
        >>> from xlstsr.methods import get_method
        >>> m = get_method("sisr").with_adaptation({"steps": 2})
        >>> m.spatially_local, m.describe()["adapt"]["steps"]
        (False, 2)
        """
        from ..nn.adapt import Adaptation

        config = Adaptation.parse(adapt)
        if config is None:
            return self
        # refused here, when the method is built: at adapt time a dask input failed at compute
        config.check_guided(self.needs_guide)
        new = object.__new__(type(self))  # not copy.copy: __getstate__ drops the live model
        new.__dict__.update(self.__dict__)
        new.adapt = config
        # the model's own locality decides whether its adapted copy may run in tiles
        new.model_spatially_local = self.spatially_local
        new.spatially_local = False  # one adaptation per whole image: the engine feeds those
        return new

    def _upscale_adapted(self, model: Any, x: np.ndarray, valid: np.ndarray, g: np.ndarray | None,
                         factor: int, dev: Any) -> np.ndarray:
        """Adapt a copy of ``model`` to each image of the block, then upscale it with the copy."""
        import torch

        from ..nn.adapt import adapt_model, tiled_forward

        outs = []
        for i in range(x.shape[0]):
            # the copy keeps the cached model's layout: channels-last weights run channels-last
            with self._layout_errors(model):
                tuned = adapt_model(model, x[i, 0], None if g is None else g[i], factor=factor,
                                    valid=valid[i], config=self.adapt)
            with torch.inference_mode():
                xt = torch.from_numpy(np.ascontiguousarray(x[i : i + 1])).to(dev)
                gt = None if g is None else torch.from_numpy(np.ascontiguousarray(g[i : i + 1])).to(dev)
                # a model that is not spatially local (scene-wide statistics, a U-Net off its
                # sizes) sees the whole image, as without adaptation: tiles changed it by 0.9 K
                tile = (TORCH_TILE if getattr(self, "model_spatially_local", True)
                        else max(xt.shape[-2:]))
                with self._layout_errors(model):
                    y = tiled_forward(tuned, xt, gt, factor, tile=tile, halo=self.receptive_field)
            outs.append(_kept(y, x.shape[0] > 1))
        return np.concatenate(outs, axis=0)

    def upscale_block(self, lst, valid, guide, factor):
        with runtime.task_threads(self.num_threads):
            return self._upscale_block(lst, valid, guide, factor)

    def _upscale_block(self, lst, valid, guide, factor):
        import torch

        self._check_factor(factor)
        if self.needs_guide:
            if guide is None:
                raise XlstsrError(
                    f"the model needs {self.n_guide} guide channel(s) (e.g. NDVI at the fine "
                    "resolution): pass `guide=...`."
                )
            if guide.shape[1] != self.n_guide:
                raise XlstsrError(self.channel_message(guide.shape[1]))
        model = self.model()
        dev = torch.device(self._device())
        n = lst.shape[0]
        bs = self.batch_size or _default_batch(n, lst.shape[-2] * lst.shape[-1] * factor**2)
        # copies: on the CPU the tensors share memory with these arrays, and a model that
        # normalises its input in place would change the user's LST and what conserve= reads
        x = np.array(lst, dtype=np.float32, order="C", copy=True)[:, None]
        # a guide the engine already filled on a wider window has no NaN left: copied as it is
        g = self.fill_guide_gaps(guide, factor) if self.needs_guide else None
        if getattr(self, "adapt", None) is not None:
            module = model.module if isinstance(model, OnnxModel) else model
            return self._upscale_adapted(module, x, np.asarray(valid, bool), g, factor, dev)
        outs = []
        with torch.inference_mode():
            for s in range(0, n, bs):
                y = self._forward_batch(model, x[s : s + bs],
                                        None if g is None else g[s : s + bs], dev)
                # a user's model may return one buffer of its own on every call: the next
                # block's forward overwrote this block's result (12 K off), batch or not
                outs.append(_kept(y, n > bs or type(model).__module__.split(".")[0] != "xlstsr"))
        # one batch: the forward's own new tensor, no copy (returns_new_arrays); a tensor made
        # outside inference mode (a parameter or buffer a custom model returns) is copied
        if len(outs) == 1 and y.is_inference():
            return outs[0]
        return np.concatenate(outs, axis=0)

    def _forward_batch(self, model: Any, x: np.ndarray, g: np.ndarray | None, dev: Any) -> Any:
        """One batch's forward (:func:`runtime.forward`) in the method's memory layout; a user's
        model failing in channels-last raises :meth:`_layout_errors`' error."""
        import torch

        cl = (self.channels_last and not isinstance(model, OnnxModel)
              and not getattr(self, "_shared_module", False))
        fmt = torch.channels_last if cl else torch.contiguous_format
        xt = torch.from_numpy(x).to(dev).contiguous(memory_format=fmt)
        gt = (None if g is None else torch.from_numpy(np.ascontiguousarray(g)).to(dev)
              .contiguous(memory_format=fmt))
        with self._borrowed(model), self._layout_errors(model):
            return runtime.forward(model, xt, gt)  # the output checked against model.factor

    @contextlib.contextmanager
    def _layout_errors(self, model: Any) -> Iterator[None]:
        """A ``RuntimeError`` of a user's model run channels-last (``feat.view(b, -1)`` at a
        size the build-time check (:func:`_runs_channels_last`) did not try) as an
        :class:`XlstsrError` naming ``channels_last=False``, chained to it. Not rerun in the
        usual layout: on dask.distributed each task would fail and rerun anew, and a rerun
        reloaded or converted the cached model. xlstsr's own networks, the ONNX backend, a
        module run as it is and out-of-memory errors: raised as they are."""
        import torch

        cl = (self.channels_last and not isinstance(model, OnnxModel)
              and not getattr(self, "_shared_module", False))
        try:
            yield
        except RuntimeError as err:
            if (not cl or _own_network(model) or isinstance(err, torch.OutOfMemoryError)
                    or "can't allocate memory" in str(err)):  # the CPU allocator's
                raise
            first = str(err).splitlines()[0] if str(err) else ""
            raise XlstsrError(
                f"the model ({type(getattr(model, '_orig_mod', model)).__name__}) raised in "
                "the channels-last memory layout xlstsr runs it in for speed "
                f"({type(err).__name__}: {first}). A forward that needs contiguous tensors "
                "(a .view of a feature map or of a weight) fails so at some input sizes only, "
                "which the check when the method was built did not try: run it in the usual "
                "layout with method_options={'channels_last': False} (method='sisr' or 'disr' "
                "with 'model'), or TorchModelMethod(..., channels_last=False); an error of the "
                "model's own is then raised as it is."
            ) from err

    def describe(self) -> dict[str, Any]:
        return {
            "model": self.model_class,
            "weights_sha256": self.weights_hash,
            "factor": self.factor,
            "n_guide": self.n_guide,
            "receptive_field": self.receptive_field,
            "receptive_field_measured": self.receptive_field_measured,
            **({"backend": self.backend} if getattr(self, "backend", "torch") != "torch" else {}),
            **({} if getattr(self, "adapt", None) is None else {"adapt": self.adapt.as_dict()}),
        }


def _kept(y: Any, more: bool) -> np.ndarray:
    """The first channel of a forward's output as a numpy array to keep while ``more`` forwards
    run: then a copy when it is still a view of the model's output (on the CPU in float32), as
    a model that writes every output into one buffer of its own (a static-output model) would
    overwrite the earlier batches with the next (every date became the last one)."""
    out = y[:, 0].float().cpu()
    if more and out.untyped_storage().data_ptr() == y.untyped_storage().data_ptr():
        out = out.clone()
    return out.numpy()


#: a lock per user's module run as it is (one torch cannot copy: TorchModelMethod's
#: ``_shared_module``), held from its switch to eval mode to its return to the user's mode
_SHARED_LOCKS: weakref.WeakKeyDictionary[Any, threading.RLock] = weakref.WeakKeyDictionary()
_SHARED_LOCKS_GUARD = threading.Lock()


@contextlib.contextmanager
def _in_eval_mode(module: Any) -> Iterator[Any]:
    """``module`` in eval mode, then each of its submodules back in its own train/eval mode.

    Under a lock per module: dask threads run forwards on the one module at once, and one
    thread's return to train mode (dropout on) would reach another's forward; those forwards
    run one at a time (only modules torch cannot copy are run this way)."""
    with _SHARED_LOCKS_GUARD:
        lock = _SHARED_LOCKS.get(module)
        if lock is None:
            lock = _SHARED_LOCKS[module] = threading.RLock()
    with lock:
        modes = [(m, m.training) for m in module.modules()]
        module.eval()
        try:
            yield module
        finally:
            for m, training in modes:
                m.training = training


def _default_batch(n: int, pixels: int) -> int:
    """Images per forward with ``batch_size=None``: as many of ``n`` as fit
    :data:`BATCH_PIXELS` output pixels (``pixels`` per image), at least one."""
    return max(1, min(int(n), BATCH_PIXELS // max(int(pixels), 1)))


#: how far (in the model's ``lst_scale``) from its ``lst_offset`` the LST's median may lie
#: before :func:`xlstsr.upscale` warns (:meth:`TorchModelMethod.lst_range_message`). The default
#: disr (offset 290.5 K, scale 10.8 K) on one synthetic scene moved to other means (the 250 m
#: truth's RMSE; bicubic 1.68 K throughout): 280-310 K bias within 0.5 K, 320 K -1.1 K (2.7
#: scales), 330 K -1.9 K and RMSE 2.45 K (3.7), 340 K -2.7 K and 3.26 K (4.6); on the cold side
#: its detail shrinks (x0.23 at 230 K). Beyond 3 scales (about 258-323 K) the error grows fast.
LST_RANGE_SCALES = 3.0
#: a model whose output, less the shift, changes by more than this (K, the largest pixel) when
#: its whole input moves by :data:`LST_RANGE_SCALES` ``lst_scale`` depends on the absolute
#: temperature (:func:`_temperature_dependence`). Bundled: sisr ("rescnn") 0.34 K, every other
#: 1.5-7.3 K, the default disr ("fast") 7.3 K; sisr stays within 0.6 K of its 300 K detail on
#: the same scene at 230-380 K.
TEMPERATURE_PROBE_K = 0.6


def lst_range_message(values: Any, norm: tuple[float, float] | None, dep: float | None,
                  name: str = "torch") -> str | None:
    """What to say when the LST ``values`` lie far outside the temperatures a model normalises
    for: their median more than :data:`LST_RANGE_SCALES` ``lst_scale`` from its
    ``lst_offset`` (``norm``), for a model whose output depends on the absolute temperature
    (``dep``, its :func:`_temperature_dependence`, above :data:`TEMPERATURE_PROBE_K`, or None:
    unmeasured). Plain numbers, so that a dask task carries no model. None otherwise (no
    normalisation, no finite value)."""
    if norm is None or (dep is not None and dep <= TEMPERATURE_PROBE_K):
        return None
    v = np.asarray(values, dtype=np.float64)
    v = v[np.isfinite(v)]
    if not v.size:
        return None
    offset, scale = norm
    median = float(np.median(v))
    if abs(median - offset) <= LST_RANGE_SCALES * scale:
        return None
    lo, hi = offset - LST_RANGE_SCALES * scale, offset + LST_RANGE_SCALES * scale
    return (
        f"method {name!r}: the LST's median, {median:.1f} K, lies far outside the "
        f"temperatures the model was trained on (it normalises the LST as {offset:.1f} "
        f"+- {scale:.1f} K; warned beyond {lo:.0f}-{hi:.0f} K), and its output depends on "
        f"the absolute temperature (its detail moved by "
        f"{'an unmeasured amount' if dep is None else f'{dep:.1f} K'} when the whole LST "
        f"was shifted by {LST_RANGE_SCALES:g} x {scale:.1f} K): the default 'disr' gave a "
        "-2.7 K bias at a 340 K scene mean (RMSE 3.3 K, bicubic 1.7 K) and a quarter of its "
        "detail at 230 K. Use conserve=True (" + _conserve_advice(name)
        + ": the output keeps the input's coarse means, which removes the bias), adapt=True "
        "(the model fitted to the scene first), or "
        + ("sisr's default weights (drop method_options' 'model'), or method='tsharp', which "
           if name == "sisr" else "method='sisr' or 'tsharp', which ")
        + "do not depend on the absolute temperature."
    )


def _conserve_advice(name: str) -> str:
    """How to give ``conserve=True`` to the method registered as ``name``, for
    :func:`lst_range_message`, whichever way the method was given (the message gets its name
    only): by name through ``method_options``, an instance through its constructor
    (``method_options`` with an instance is refused). A method whose constructor takes no
    ``conserve`` (TorchModelMethod, a user's subclass) is told to run its module as 'sisr' or
    'disr', which take it."""
    import inspect

    from .base import _REGISTRY

    cls = _REGISTRY.get(name)
    try:
        takes = cls is not None and "conserve" in inspect.signature(cls.__init__).parameters
    except (TypeError, ValueError):  # a constructor without a signature: as if it took none
        takes = False
    if takes:
        return (f"method='{name}' with method_options={{'conserve': True}}; a method instance "
                f"takes it in its constructor: {cls.__name__}(conserve=True), with its other "
                "arguments")
    return ("run the module as method='sisr', or 'disr' for a guided one, with "
            "method_options={'model': <the module>, 'conserve': True}")


def _model_metadata(model: Any) -> dict[str, Any]:
    """A copy of a model's ``metadata`` (what :func:`xlstsr.nn.save_model` records), or ``{}``
    where it has none or one that is not a mapping: the protocol never mentions the attribute,
    and a user's own ``metadata`` (a description string, a dataclass) was refused with a raw
    "dictionary update sequence" error.

    Examples
    --------
    >>> import torch
    >>> m = torch.nn.Identity()
    >>> m.metadata = "trained on MODIS 2020"
    >>> _model_metadata(m)
    {}
    """
    meta = getattr(model, "metadata", None)
    return dict(meta) if isinstance(meta, Mapping) else {}


def _normalisation(model: Any) -> dict[str, Any] | None:
    """A model's normalisation record: its :meth:`normalisation` (xlstsr's models), else its
    checkpoint's ``normalisation`` metadata; None where neither is a dict."""
    norm = None
    if hasattr(model, "normalisation"):
        try:
            norm = model.normalisation()
        except (AttributeError, TypeError, ValueError, RuntimeError):
            norm = None  # buffers of another kind: the checkpoint's metadata
    norm = norm or _model_metadata(model).get("normalisation")
    return norm if isinstance(norm, dict) else None


def _lst_normalisation(model: Any) -> tuple[float, float] | None:
    """The model's LST ``(lst_offset, lst_scale)`` (its :meth:`normalisation`, or its
    checkpoint's ``normalisation`` metadata); None for a model that records none."""
    norm = _normalisation(model)
    if norm is None:
        return None
    try:
        offset, scale = float(norm["lst_offset"]), float(norm["lst_scale"])
    except (KeyError, TypeError, ValueError):
        return None
    if not (np.isfinite(offset) and np.isfinite(scale) and scale > 0):
        return None
    return offset, scale


def _temperature_dependence(model: Any, factor: int, n_guide: int, offset: float, scale: float,
                            guide_stats: dict[str, Any] | None) -> float | None:
    """How much the model's output (less the shift) changes, in K at the worst pixel, when its
    whole input moves by :data:`LST_RANGE_SCALES` ``scale`` either way from ``offset``: a fixed
    seeded 16 x 16 coarse field (2 K noise) and a guide of the model's own statistics. None when
    the probe fails (taken as dependent)."""
    import torch

    try:
        rng = np.random.default_rng(0)
        h = 16
        dev = next((p.device for p in model.parameters()), "cpu")  # a module given on a GPU
        x = torch.as_tensor(offset + 2.0 * rng.standard_normal((1, 1, h, h)),
                            dtype=torch.float32, device=dev)
        g = None
        if n_guide:
            mean = np.asarray((guide_stats or {}).get("mean") or [0.0] * n_guide, np.float64)
            std = np.asarray((guide_stats or {}).get("std") or [1.0] * n_guide, np.float64)
            noise = rng.standard_normal((1, n_guide, h * factor, h * factor))
            g = torch.as_tensor(mean[None, :, None, None] + std[None, :, None, None] * noise,
                                dtype=torch.float32, device=dev)
        from ..nn.runtime import forward  # model(lst) or model(lst, guide), as the engine calls

        with torch.inference_mode():
            ref = forward(model, x, g, factor=factor).float()
            worst = 0.0
            for s in (LST_RANGE_SCALES * scale, -LST_RANGE_SCALES * scale):
                y = forward(model, x + s, g, factor=factor).float() - s
                worst = max(worst, float((y - ref).abs().max()))
        return worst if np.isfinite(worst) else None
    except (RuntimeError, ValueError, TypeError, AttributeError, StopIteration, XlstsrError):
        return None  # a model that cannot run the probe: taken as dependent


#: output change (K) over the same pixels, beyond float rounding, that makes a model of the
#: protocol shift-variant (:func:`_shift_variance`)
SHIFT_TOLERANCE_K = 1e-3


def _shift_variance(model: Any, factor: int, n_guide: int, receptive_field: int) -> float | None:
    """How much (K, worst pixel) the model's output over the same pixels changes when its input
    window moves by one coarse pixel in both axes, away from the windows' edges (farther than
    ``receptive_field``): 0 up to float rounding for a model whose tiles equal its whole-image
    forward. Two forwards on a seeded window of a multiple of 16 coarse pixels (sizes a U-Net
    takes) just over twice the receptive field, 295 K +- 5 K noise, a 0-1 guide. None where the
    forward fails on it (the engine's forward then names the error) or where two forwards of
    the same window differ (a model with randomness: MC dropout, noise), which no shift can
    be told from."""
    import torch

    h = 16 * -(-(2 * receptive_field + 10) // 16)
    rng = np.random.default_rng(0)
    try:
        dev = next((t.device for t in model.parameters()), torch.device("cpu"))
        x = torch.as_tensor(295.0 + 5.0 * rng.standard_normal((1, 1, h + 1, h + 1)),
                            dtype=torch.float32, device=dev)
        g = None
        if n_guide:
            g = torch.as_tensor(rng.uniform(0.0, 1.0, (1, n_guide, (h + 1) * factor,
                                                       (h + 1) * factor)),
                                dtype=torch.float32, device=dev)
        f, m = factor, receptive_field + 1  # margin: the windows' edges (padding) differ
        outs = []
        with torch.inference_mode():
            for s in (0, 0, 1):
                # inputs and output copied: a model may normalise its input in place, or
                # return one buffer of its own on every call (as the engine copies them)
                xs = x[..., s : s + h, s : s + h].clone()
                gs = None if g is None else g[..., s * f : (s + h) * f, s * f : (s + h) * f].clone()
                outs.append(runtime.forward(model, xs, gs, factor=f).double())
        if float((outs[0] - outs[1]).abs().max()) > SHIFT_TOLERANCE_K:
            return None  # not deterministic: a shift cannot be told from its own noise
        # the output pixel (i, j) of the shifted window is (i + f, j + f) of the first
        a = outs[0][..., (m + 1) * f : (h - m) * f, (m + 1) * f : (h - m) * f]
        b = outs[2][..., m * f : (h - m - 1) * f, m * f : (h - m - 1) * f]
        diff = float((a - b).abs().max())
    except Exception:  # an advisory check of a user's forward, which may raise
        # anything on a window it was not written for (a U-Net's `assert h % 32 == 0`): the
        # model is then taken at its word, and the engine's own forward names any real error
        return None
    return diff if np.isfinite(diff) else None


def _batch_dependence(model: Any, factor: int, n_guide: int,
                      tile: int | None = None) -> float | None:
    """How much (K, worst pixel) the model's output for an image changes when a second,
    different image shares its forward (a batch of 2 against each image alone): 0 up to float
    rounding for a model that treats the images of a batch independently. Two seeded images,
    285 K and 305 K +- 5 K noise, 0-1 guides, of the model's own ``tile`` size where it declares
    one, else of the first of 32, 64 and 128 coarse pixels (multiples of 16 and 64, which
    U-Nets take) its forward runs on. None where it runs on none of them or where two forwards
    of the same image differ (a model with randomness): not judged."""
    for size in ([tile] if tile else [32, 64, 128]):
        try:
            return _batch_dependence_at(model, factor, n_guide, size)
        except Exception:  # an advisory check of a user's forward (see _shift_variance): a
            continue  # model that runs at other sizes only (a deeper U-Net) is tried larger
    return None


def _batch_dependence_at(model: Any, factor: int, n_guide: int, size: int) -> float | None:
    """:func:`_batch_dependence` on images of ``size`` coarse pixels; raises where the model's
    forward fails on them."""
    import torch

    rng = np.random.default_rng(1)
    dev = next((t.device for t in model.parameters()), torch.device("cpu"))
    x = torch.as_tensor(np.array([285.0, 305.0])[:, None, None, None]
                        + 5.0 * rng.standard_normal((2, 1, size, size)),
                        dtype=torch.float32, device=dev)
    g = None
    if n_guide:
        g = torch.as_tensor(rng.uniform(0.0, 1.0, (2, n_guide, size * factor, size * factor)),
                            dtype=torch.float32, device=dev)

    def run(sl: slice) -> Any:
        # inputs and output copied, as in _shift_variance (in-place normalisation, one
        # output buffer of the model's own)
        return runtime.forward(model, x[sl].clone(), None if g is None else g[sl].clone(),
                               factor=factor).double()

    with torch.inference_mode():
        alone = [run(slice(0, 1)), run(slice(1, 2))]
        if float((run(slice(0, 1)) - alone[0]).abs().max()) > SHIFT_TOLERANCE_K:
            return None  # not deterministic: the batch cannot be told from its own noise
        both = run(slice(0, 2))
        diff = float((both - torch.cat(alone)).abs().max())
    return diff if np.isfinite(diff) else None


def _own_network(model: Any) -> bool:
    """Whether ``model`` (or the module ``torch.compile`` wrapped) is one of xlstsr's own
    networks, which run in channels-last."""
    return type(getattr(model, "_orig_mod", model)).__module__.split(".")[0] == "xlstsr"


def _runs_channels_last(model: Any, factor: int, n_guide: int,
                        tile: int | None = None) -> bool:
    """Whether the model's forward runs in the channels-last memory format (a copy of it
    converted, its inputs too) on an image it runs on in the contiguous one: two images of the
    model's ``tile`` size, else of the first of 32, 64 and 128 coarse pixels that works (as
    :func:`_batch_dependence`). True where it runs on none of them (nothing to judge: its own
    error comes at compute, as without the check); False where only the channels-last forward
    raises (``w.view(w.size(0), -1)`` on a weight converted to channels-last)."""
    import torch

    from ..nn.adapt import copy_model

    rng = np.random.default_rng(2)
    dev = next((t.device for t in model.parameters()), torch.device("cpu"))
    for size in ([tile] if tile else [32, 64, 128]):
        x = torch.as_tensor(300.0 + 5.0 * rng.standard_normal((2, 1, size, size)),
                            dtype=torch.float32, device=dev)
        g = None
        if n_guide:
            g = torch.as_tensor(rng.uniform(0.0, 1.0, (2, n_guide, size * factor, size * factor)),
                                dtype=torch.float32, device=dev)
        with torch.inference_mode():
            try:  # copies of the inputs: a model may normalise them in place
                runtime.forward(model, x.clone(), None if g is None else g.clone(),
                                factor=factor)
            except Exception:  # an advisory check of a user's forward (see _shift_variance):
                continue  # a model that runs at other sizes only is tried larger
            fmt = torch.channels_last
            try:
                runtime.forward(copy_model(model).to(memory_format=fmt),
                                x.contiguous(memory_format=fmt),
                                None if g is None else g.contiguous(memory_format=fmt),
                                factor=factor)
            except Exception:  # any failure the usual layout does not have: run in that one
                return False
        return True
    return True


def _guide_statistics(model: Any, n_guide: int) -> dict[str, Any] | None:
    """The guide normalisation a model records, as :meth:`TorchModelMethod.guide_statistics`."""
    if not n_guide:
        return None
    norm = _normalisation(model)
    if norm is None:
        return None
    mean, std = norm.get("guide_mean"), norm.get("guide_std")
    if mean is None or std is None or len(mean) < n_guide or len(std) < n_guide:
        return None
    inputs = list(_model_metadata(model).get("inputs") or [])
    names = [str(v) for v in inputs[1:1 + n_guide]] or [f"guide{i}" for i in range(n_guide)]
    return {"mean": [float(v) for v in mean[:n_guide]], "std": [float(v) for v in std[:n_guide]],
            "names": names}

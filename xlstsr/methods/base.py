"""The method contract and the registry of upscaling methods.

A method is a class with a block-level numpy kernel (:meth:`UpscaleMethod.upscale_block`); the
engine (:mod:`xlstsr.engine`) fills gaps before calling it, re-masks after, and streams it over
dask chunks with a halo of :meth:`UpscaleMethod.halo` coarse pixels. Options are constructor
keyword arguments (``upscale(..., method_options={...})``).

A method with heavy state (torch weights) declares it through :meth:`UpscaleMethod.state_key`,
:meth:`~UpscaleMethod.dump_state` and :meth:`~UpscaleMethod.load_state`: the engine then puts the
state into the dask graph once (one key every block task depends on), a distributed worker
receives it once, and the method object itself pickles to a few bytes when it names the
attributes :meth:`~UpscaleMethod.load_state` restores (:attr:`UpscaleMethod.state_attributes`,
e.g. ``("table",)``): pickled while :meth:`~UpscaleMethod.state_key` is not None, it leaves them
out, and the engine delivers the state to it where it runs.

Examples
--------
>>> import numpy as np
>>> @register_method("double_nearest")
... class DoubleNearest(UpscaleMethod):
...     def halo(self, factor):
...         return 0
...     def upscale_block(self, lst, valid, guide, factor):
...         return lst.repeat(factor, -2).repeat(factor, -1)
>>> get_method("double_nearest").upscale_block(np.ones((1, 2, 2)), None, None, 2).shape
(1, 4, 4)
>>> unregister_method("double_nearest")
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any, ClassVar, TypeVar

import numpy as np

from ..errors import MethodOptionError, XlstsrError

__all__ = [
    "UpscaleMethod",
    "available_methods",
    "get_method",
    "option_bool",
    "option_whole",
    "register_method",
    "unregister_method",
]

_REGISTRY: dict[str, type[UpscaleMethod]] = {}


def _object_state(obj: Any) -> Any:
    """``obj``'s state as :meth:`object.__getstate__` gives it (Python >= 3.11) and pickle
    takes it on 3.10: its ``__dict__`` (a copy), or ``(dict or None, slots)`` where its class
    has ``__slots__`` holding values."""
    import copyreg

    attrs = getattr(obj, "__dict__", None)
    attrs = dict(attrs) if attrs else None
    slots = {}
    for name in copyreg._slotnames(type(obj)):  # type: ignore[attr-defined]
        try:
            slots[name] = getattr(obj, name)
        except AttributeError:
            pass
    if slots:
        return (attrs, slots)
    return attrs if attrs is not None else {}


def _set_object_state(obj: Any, state: Any) -> None:
    """Restore what :func:`_object_state` gave (pickle's default for objects without
    ``__setstate__``): the dict part into ``__dict__``, slots with ``setattr``."""
    attrs, slots = state if isinstance(state, tuple) else (state, None)
    if attrs:
        obj.__dict__.update(attrs)
    for k, v in (slots or {}).items():
        object.__setattr__(obj, k, v)


#: an attribute absent, or a value no JSON holds (:func:`_json_value`)
_MISSING = object()


def _constructor_option_names(cls: type) -> list[str]:
    """The named keyword options of ``cls``'s constructor (not ``*args``/``**kwargs``, not
    private ``_names``)."""
    import inspect

    if cls.__init__ is object.__init__:
        return []
    try:
        params = inspect.signature(cls.__init__).parameters
    except (TypeError, ValueError):  # pragma: no cover - builtins
        return []
    return [n for n, p in params.items() if n != "self" and not n.startswith("_")
            and p.kind in (p.POSITIONAL_OR_KEYWORD, p.KEYWORD_ONLY)]


def _json_value(value: Any) -> Any:
    """``value`` as a plain JSON value (numpy scalars as Python's), or :data:`_MISSING` where it
    is not one (an object, an array, a NaN): provenance attributes stay JSON."""
    import math

    if isinstance(value, np.generic):
        value = value.item()
    if value is None or isinstance(value, (bool, int, str)):
        return value
    if isinstance(value, float):
        return value if math.isfinite(value) else _MISSING
    if isinstance(value, (list, tuple)):
        items = [_json_value(v) for v in value]
        return _MISSING if any(v is _MISSING for v in items) else items
    if isinstance(value, dict) and all(isinstance(k, str) for k in value):
        out = {k: _json_value(v) for k, v in value.items()}
        return _MISSING if any(v is _MISSING for v in out.values()) else out
    return _MISSING


def _method_state_token(method: Any) -> tuple:
    """A user method's state (what it pickles with, :meth:`UpscaleMethod.__getstate__`: the
    heavy state shipped apart is named by its state key) normalised for dask's tokenize
    without pickling it: equal settings give equal tokens, any attribute that differs (an
    option describe() leaves out) another."""
    try:
        state = method.__getstate__()
    except Exception:  # a state that cannot be read: the identity tells instances apart
        return ("xlstsr-state-id", id(method))
    return ("xlstsr-state", _state_token(state, {id(method)}, 0))


def _state_token(value: Any, stack: set[int], depth: int) -> Any:
    """``value`` normalised for dask's tokenize: plain values as themselves, arrays and
    tensors by content, containers and objects (a torch module) through their contents,
    functions and classes by identity (dask pickled them, and cloudpickle loaded a
    script's classes back over the live ones), anything else dask normalises."""
    import sys
    import types
    from functools import partial

    from dask.tokenize import normalize_object, normalize_token

    if value is None or isinstance(value, (bool, int, float, complex, str, bytes)):
        return (type(value).__name__, repr(value) if isinstance(value, float) else value)
    if isinstance(value, (np.ndarray, np.generic)):
        return ("array", normalize_token(value))
    torch = sys.modules.get("torch")  # a tensor exists only once torch is imported
    if torch is not None and isinstance(value, torch.Tensor):
        try:
            flat = value.detach().reshape(-1).cpu().contiguous()
            try:
                data = flat.numpy()
            except TypeError:  # bfloat16 and others numpy lacks: their bytes
                data = flat.view(torch.uint8).numpy()
            return ("tensor", str(value.dtype), tuple(value.shape), normalize_token(data))
        except (RuntimeError, TypeError, NotImplementedError):  # meta, sparse...: the identity
            return ("tensor-id", id(value))
    if isinstance(value, type):
        return ("class", _qualname(value), id(value))
    if isinstance(value, types.MethodType):
        return ("method", id(value.__func__), id(value.__self__))
    if isinstance(value, (types.FunctionType, types.BuiltinFunctionType, partial)):
        return ("callable", getattr(value, "__qualname__", ""), id(value))
    if id(value) in stack or depth > 32:  # a cycle, or nested too deep: the identity
        return ("ref", id(value))
    if isinstance(value, UpscaleMethod):
        return ("method-object", value.__dask_tokenize__())
    inner = stack | {id(value)}
    if isinstance(value, dict):
        items = [(_state_token(k, inner, depth + 1), _state_token(v, inner, depth + 1))
                 for k, v in value.items()]
        return (type(value).__name__, sorted(items, key=repr))
    if isinstance(value, (list, tuple)):
        return (type(value).__name__, [_state_token(v, inner, depth + 1) for v in value])
    if isinstance(value, (set, frozenset)):
        return (type(value).__name__,
                sorted((_state_token(v, inner, depth + 1) for v in value), key=repr))
    if hasattr(value, "__dask_tokenize__") or normalize_token.dispatch(type(value)) \
            is not normalize_object:  # xarray, dask and pandas objects: dask's own token
        return ("dask", normalize_token(value))
    if hasattr(value, "__dict__") or getattr(type(value), "__slots__", None):
        return ("object", _qualname(type(value)),
                _state_token(_object_state(value), inner, depth + 1))
    return ("object-id", _qualname(type(value)), id(value))


M = TypeVar("M", bound=type["UpscaleMethod"])


class UpscaleMethod:
    """Base class of upscaling methods.

    Subclasses implement :meth:`upscale_block` on numpy arrays and declare how much context
    they need. Options are constructor keyword arguments.

    Attributes
    ----------
    name : str
        Registry name (``upscale(method=name)``).
    guided : bool
        Class default of :attr:`needs_guide`.
    spatially_local : bool
        True if an output pixel depends only on inputs within :meth:`halo` coarse pixels; False
        for methods fitted on the whole scene (a regression), which the engine runs per time step
        on whole images.
    returns_new_arrays : bool
        True if :meth:`upscale_block` always returns a new array that nothing else holds (the
        engine then re-masks it in place instead of copying it first).
    conservative : bool
        True if the output's radiometric aggregate equals the input by construction (nearest:
        every block repeats its coarse value). Such a method without a ``conserve`` option
        accepts ``conserve=True`` (or False) as a no-op: it conserves already.
    state_attributes : tuple of str or None
        The attributes holding the heavy state that :meth:`load_state` restores, left out when
        the method is pickled while :meth:`state_key` is not None (the engine ships the state
        once, apart). None (the default): none left out, the state travels in every pickle
        of the method too. A class with its own ``__getstate__`` decides for itself.
    """

    name: ClassVar[str] = ""
    conservative: ClassVar[bool] = False
    guided: ClassVar[bool] = False
    spatially_local: ClassVar[bool] = True
    returns_new_arrays: ClassVar[bool] = False
    state_attributes: ClassVar[tuple[str, ...] | None] = None

    def recorded_name(self) -> str:
        """The name provenance (``xlstsr_method``) and resume fingerprints record for this
        method: its :attr:`name` when the instance's class is the one registered under that
        name or a copy of it (same module and qualified name, naming itself so in its body: a
        cloudpickled instance on a distributed worker, whose registered class is the worker's
        own), or names itself in its own body (``name = "torch"``, a name no other class is
        registered under); else its class's qualified name (``module.QualName``): an
        unregistered class (whose name is ``""``), a subclass of a registered one (a variant
        of ``Bicubic``, which inherits ``"bicubic"``) or a user's class registered in place of
        a built-in (``replace=True``) is not that method.

        Examples
        --------
        >>> from xlstsr.methods.bicubic import Bicubic
        >>> Bicubic().recorded_name()
        'bicubic'
        >>> class MyBicubic(Bicubic):
        ...     pass
        >>> MyBicubic().recorded_name()
        'xlstsr.methods.base.MyBicubic'
        """
        cls = type(self)
        name = getattr(self, "name", "")
        if isinstance(name, str) and name.strip():
            registered = _REGISTRY.get(name)
            replaced = name in _BUILT_IN_NAMES and not _built_in(cls)
            # the registered class or a copy of it (same module and qualname, naming itself in
            # its body): on a distributed worker the registered class is the worker's own
            # ('__mp_main__.Shape' for a script's) and the instance's a cloudpickled copy
            # ('__main__.Shape'): errors raised there named the method '__main__.Shape'
            copy = (registered is not None and cls.__dict__.get("name") == name
                    and _redefined(registered, cls))
            if not replaced and (registered is cls or copy
                                 or (registered is None and cls.__dict__.get("name") == name)):
                return name
        return _qualname(cls)

    def __init_subclass__(cls, **kwargs: Any) -> None:
        super().__init_subclass__(**kwargs)
        # a user's subclass of a built-in that identifies itself without this class's
        # __dask_tokenize__ (TorchModelMethod: its model and runtime settings) would share the
        # built-in's keys whatever its own options: its state is added to the built-in's token
        if _built_in(cls) or "__dask_tokenize__" in cls.__dict__:
            return
        owner = next(c for c in cls.__mro__ if "__dask_tokenize__" in c.__dict__)
        if owner is UpscaleMethod or not _built_in(owner):
            return
        inherited = owner.__dict__["__dask_tokenize__"]

        def __dask_tokenize__(self: UpscaleMethod) -> tuple:
            return (*inherited(self), _method_state_token(self))

        __dask_tokenize__.__doc__ = inherited.__doc__
        cls.__dask_tokenize__ = __dask_tokenize__  # type: ignore[method-assign]

    def __dask_tokenize__(self) -> tuple:
        """The method's identity in dask graph names, without pickling it: dask's own tokenize
        pickled a method defined in a script or notebook (``__main__``) with cloudpickle and
        loaded it back in this process, which replaced the live class's functions by copies
        bound to a snapshot of the script's globals. Its class, options (:meth:`describe`)
        and state key: two identical calls of a registered method share their graph keys
        (dask computes the shared work once). A class that is not xlstsr's own adds its whole
        state (the attributes it pickles with, arrays and tensors by content): its describe()
        need not list every option (the default lists only plain values; a subclass of TsHARP
        inherits TsHARP's), and two settings sharing keys were computed as one. The identity
        in this process is added where these cannot tell instances apart: a describe() that
        fails, or a class that is not the one registered under its name."""
        import json

        try:
            options = json.dumps(self.describe(), sort_keys=True, default=repr)
        except Exception:  # a describe() that fails: the identity tells instances apart
            options = None
        recorded = self.recorded_name()
        registered = recorded == getattr(self, "name", None) and _REGISTRY.get(recorded) is type(self)
        ident = None if options is not None and registered else id(self)
        state = None if _built_in(type(self)) else _method_state_token(self)
        return ("xlstsr-method", _qualname(type(self)), recorded, options,
                self.state_key(), ident, state)

    def __getstate__(self) -> Any:
        """The instance's attributes, less those holding the heavy state
        (:attr:`state_attributes`) while :meth:`state_key` is not None: the engine ships the
        state once per worker and :meth:`load_state` restores it there, so the method object
        travels in every task as a few bytes. A class with ``__slots__`` keeps its slot
        values (object's own ``(dict, slots)`` state)."""
        state = _object_state(self)
        drop = _state_attributes(type(self))
        if drop and self.state_key() is not None:
            attrs = state[0] if isinstance(state, tuple) else state
            if isinstance(attrs, dict) and any(k in attrs for k in drop):
                attrs = {k: v for k, v in attrs.items() if k not in drop}
                state = (attrs, state[1]) if isinstance(state, tuple) else attrs
        return state

    def __copy__(self) -> Any:
        return self._copied(None)

    def __deepcopy__(self, memo: dict[int, Any]) -> Any:
        return self._copied(memo)

    def _copied(self, memo: dict[int, Any] | None) -> Any:
        """A copy that keeps the heavy state :meth:`__getstate__` leaves out of a pickle (copied
        through it, a method lost its weights), slot values included; a class with its own
        ``__getstate__`` is copied through it as before."""
        import copy

        new = object.__new__(type(self))
        if memo is not None:
            memo[id(self)] = new
        own = type(self).__getstate__ is UpscaleMethod.__getstate__
        state = _object_state(self) if own else self.__getstate__()
        if memo is not None:
            state = copy.deepcopy(state, memo)
        setstate = getattr(new, "__setstate__", None)
        if setstate is not None:
            setstate(state)
        else:
            _set_object_state(new, state)
        return new

    @property
    def needs_guide(self) -> bool:
        """True if this configuration requires a fine guide (NDVI...)."""
        return self.guided

    def halo(self, factor: int) -> int:
        """Receptive field in coarse pixels: an output pixel depends on inputs this far away."""
        return 2

    def tile_size(self, factor: int) -> int | None:
        """Spatial tile (coarse pixels) the engine splits larger chunks into, or None to keep
        the input's chunks. A method whose cost per pixel grows with the block (large per-layer
        buffers) asks for tiles."""
        return None

    def upscale_block(
        self,
        lst: np.ndarray,
        valid: np.ndarray,
        guide: np.ndarray | None,
        factor: int,
    ) -> np.ndarray:
        """Upscale a gap-filled block.

        Parameters
        ----------
        lst : ndarray, (n, y, x)
            Coarse LST in Kelvin with gaps filled (by :func:`xlstsr.kernels.interp.fill_gaps`).
        valid : ndarray of bool, (n, y, x)
            Where ``lst`` was observed (False on filled gaps): fit models on these only.
        guide : ndarray, (n, c, y * factor, x * factor), or None
            Fine guide bands; may hold NaN.
        factor : int
            Upscaling factor.

        Returns
        -------
        ndarray, (n, y * factor, x * factor)
            Fine LST in Kelvin. The engine re-masks gaps afterwards.
        """
        raise NotImplementedError

    def describe(self) -> dict[str, Any]:
        """Options that identify this configuration (written into provenance attributes).

        By default the constructor's options held in attributes of the same name
        (``self.offset`` for ``offset=``) whose values are plain JSON values (numbers, strings,
        booleans, None, lists and string-keyed dicts of them); a method holding its options
        otherwise, or taking objects (a model), overrides it to name them.
        """
        found: dict[str, Any] = {}
        for name in _constructor_option_names(type(self)):
            value = _json_value(getattr(self, name, _MISSING))
            if value is not _MISSING:
                found[name] = value
        return found

    def guide_statistics(self) -> dict[str, Any] | None:
        """What the method expects of its guide, or None (no expectation).

        A method trained on guides of a given scale (a torch model normalising its guide)
        returns per-channel ``{"mean": [...], "std": [...], "names": [...]}``;
        :func:`xlstsr.upscale` then refuses a guide far from them
        (:func:`xlstsr.guide.check_guide_values`: NDVI in percent, reflectance digital numbers).
        Regression sharpeners (TsHARP, DMS) fit the guide on each scene and need none.
        """
        return None

    # -- heavy state shipped once to workers (torch weights); none by default ------------------
    def state_key(self) -> str | None:
        """Identity of the heavy state (e.g. a weights hash), or None when there is none."""
        return None

    def dump_state(self) -> bytes:
        """The heavy state as bytes; called only when the graph leaves this process."""
        raise NotImplementedError(f"method {self.name!r} declares no state to ship")

    def load_state(self, payload: bytes) -> None:
        """Install state received from :meth:`dump_state` (in a worker process; cache it)."""
        raise NotImplementedError(f"method {self.name!r} declares no state to receive")


def _state_attributes(cls: type) -> tuple[str, ...]:
    """The attributes an instance of ``cls`` leaves out when pickled with its state declared:
    its :attr:`~UpscaleMethod.state_attributes` (a name or names; None: none)."""
    declared = getattr(cls, "state_attributes", None)
    if declared is None:
        return ()
    return (declared,) if isinstance(declared, str) else tuple(declared)


def register_method(name: str, *, replace: bool = False) -> Callable[[M], M]:
    """Class decorator adding an :class:`UpscaleMethod` subclass to the registry under ``name``.

    Parameters
    ----------
    name : str
        The name ``upscale(method=name)`` takes (non-empty). It becomes the class's
        :attr:`~UpscaleMethod.name`, which provenance (``xlstsr_method``) records.
    replace : bool
        Replace a method already registered under ``name`` (default False: refused, so that a
        user's class never silently takes the place of a built-in such as ``"bicubic"``). A class
        defined again under the same module and name (a notebook cell run twice) replaces its
        former self without it.

    Notes
    -----
    A class that is registered already (a built-in such as ``Bicubic``) is registered under a
    second name as an alias: ``get_method(name)`` gives the same class, which keeps its own
    name, the one provenance records (renamed, ``method='bicubic'`` was recorded under the alias
    and lost its own checks), until that name is unregistered (:func:`unregister_method`: then
    a name it is still registered under becomes its own).

    Examples
    --------
    >>> from xlstsr.methods.bicubic import Bicubic
    >>> _ = register_method("cubic")(Bicubic)
    >>> type(get_method("cubic")) is Bicubic, get_method("cubic").name
    (True, 'bicubic')
    >>> unregister_method("cubic")
    >>> class Smooth(Bicubic):
    ...     pass
    >>> register_method("bicubic")(Smooth)
    Traceback (most recent call last):
    ...
    xlstsr.errors.XlstsrError: a method named 'bicubic' is registered already (xlstsr.methods.bicubic.Bicubic, built in): pick another name for xlstsr.methods.base.Smooth, or pass `register_method('bicubic', replace=True)` to replace it
    """
    if isinstance(name, type) or callable(name):
        # `@register_method` without its name: the class became the decorator's inner function
        what = getattr(name, "__name__", None) or "my_method"
        raise XlstsrError(
            f"register_method takes the method's name, got the "
            f"{'class' if isinstance(name, type) else 'callable'} {what} itself (the decorator "
            f"written without its name?): write `@register_method(\"{what.lower()}\")` above "
            "the class, with the name `upscale(method=...)` will take"
        )
    if not isinstance(name, str) or not name.strip():
        raise XlstsrError(
            f"a method's name must be a non-empty string, got {type(name).__name__} {name!r}: "
            "e.g. `@register_method(\"my_method\")`"
        )
    if name != name.strip():
        # registered with its spaces, it was found by no `method=` but its spaced text (and
        # listed as ' mine ' beside the unknown-method error for 'mine')
        raise XlstsrError(
            f"a method's name has no spaces around it, got {name!r}: register it as "
            f"{name.strip()!r} (`@register_method({name.strip()!r})`)"
        )
    if not isinstance(replace, (bool, np.bool_)):
        raise XlstsrError(f"replace must be True or False, got {replace!r}")

    def deco(cls: M) -> M:
        if not (isinstance(cls, type) and issubclass(cls, UpscaleMethod)):
            raise XlstsrError(
                f"register_method({name!r}) registers a subclass of "
                f"xlstsr.methods.UpscaleMethod, got {type(cls).__name__} {cls!r:.60}: define "
                "`class MyMethod(UpscaleMethod)` with an `upscale_block(lst, valid, guide, "
                "factor)`"
            )
        old = _REGISTRY.get(name)
        if old is not None and old is not cls and not replace and not _redefined(old, cls):
            builtin = old.__module__.split(".")[0] == __name__.split(".")[0]
            raise XlstsrError(
                f"a method named {name!r} is registered already ({_qualname(old)}"
                f"{', built in' if builtin else ''}): pick another name for {_qualname(cls)}, "
                f"or pass `register_method({name!r}, replace=True)` to replace it"
            )
        if not any(c is cls for n, c in _REGISTRY.items() if n != name):
            # registered under another name already: an alias of the same class, not renamed
            # (renamed, `method='bicubic'` was recorded under the alias and lost its own checks;
            # a dynamic subclass under the parent's qualname could not be pickled)
            cls.name = name
        elif cls.__dict__.get("_unregistered_name") == name:
            # its own name registered again after unregister_method gave it an alias's: that
            # alias stayed its name (a user alias 'cubic' recorded every bicubic output)
            cls.name = name
        if _built_in(cls):
            _BUILT_IN_NAMES.add(name)
        _REGISTRY[name] = cls
        return cls

    return deco


def _qualname(cls: type) -> str:
    return f"{cls.__module__}.{cls.__qualname__}"


def _built_in(cls: type) -> bool:
    """Whether ``cls`` is one of xlstsr's own methods (defined in the package)."""
    return cls.__module__.split(".")[0] == __name__.split(".")[0]


#: the names xlstsr's own methods are registered under: a user's class registered in place of
#: one (``replace=True``) is recorded by its qualified name, not as the built-in
_BUILT_IN_NAMES: set[str] = set()

#: method options (of :meth:`UpscaleMethod.describe`) that change how a result is computed, not
#: what it is: a resume may change them (upscale_to_zarr's fingerprint), a calibration carries
#: over them (``n_jobs``: DMS's forest threads, which give the same trees); a model's names
#: only where its weights are hashed (:data:`MODEL_NAMES`)
RUNTIME_OPTIONS = frozenset({"device", "batch_size", "num_threads", "threads", "n_jobs",
                             "backend", "model", "checkpoint", "weights"})

#: what a method's describe() records of its model's file and class: the model is identified
#: by its weights (``weights_sha256``) where they are hashed, not by these names
MODEL_NAMES = frozenset({"model", "checkpoint", "weights"})

#: the model's free-form provenance labels a deep method's describe() shows (its metadata's
#: training ``mode`` and guide band names ``inputs``): they change no value where the weights
#: identify the model
MODEL_LABELS = frozenset({"mode", "inputs"})


def _redefined(old: type, new: type) -> bool:
    """``new`` is ``old`` defined again (same module and name: a module reloaded, a notebook
    cell run twice, a script's class on a spawned worker), not another method taking its
    name. A script is ``__main__`` where it runs and ``__mp_main__`` on the workers that
    multiprocessing spawns (a distributed ``LocalCluster``): the same module."""
    def module(cls: type) -> str:
        return "__main__" if cls.__module__ == "__mp_main__" else cls.__module__

    return (module(old), old.__qualname__) == (module(new), new.__qualname__)


def unregister_method(name: str) -> None:
    """Remove ``name`` from the registry (methods registered for a session or a test).

    A class registered under other names too (an alias, :func:`register_method`) stays
    registered under them; where ``name`` was its own :attr:`~UpscaleMethod.name`, the first
    of those it was registered under becomes its name, the one provenance (``xlstsr_method``)
    records, until ``name`` is registered for it again.

    Examples
    --------
    >>> from xlstsr.methods.bicubic import Bicubic
    >>> class Smooth(Bicubic):
    ...     pass
    >>> _ = register_method("smooth_v1")(Smooth)
    >>> _ = register_method("smooth")(Smooth)
    >>> Smooth.name
    'smooth_v1'
    >>> unregister_method("smooth_v1")
    >>> Smooth.name
    'smooth'
    >>> unregister_method("smooth")
    """
    if name not in _REGISTRY:
        raise XlstsrError(f"no method {name!r} is registered; registered: {available_methods()}")
    cls = _REGISTRY.pop(name)
    remaining = [n for n, c in _REGISTRY.items() if c is cls]
    if remaining and cls.__dict__.get("name") == name:
        # kept, the removed name was recorded in provenance and resume fingerprints, and a
        # rerun from that record failed as an unknown method
        cls._unregistered_name = name  # given back if registered under it again
        cls.name = remaining[0]


def available_methods() -> list[str]:
    """Names accepted by ``upscale(method=...)``."""
    return sorted(_REGISTRY)


#: suffixes of model files (a trained checkpoint given as the method's name)
_MODEL_SUFFIXES = (".pt", ".pth", ".ckpt")


def _model_file_method(method: str) -> tuple[str, bool | None, bool] | None:
    """Where ``method`` names a model file: ``(deep method, guided, exists)``, the deep method
    that takes it as its ``model`` option (``"disr"`` for a guided checkpoint, its metadata's
    ``n_guide``, else ``"sisr"``), whether it is guided (None: not read) and whether the file
    exists. A model file is a name ending in .pt, .pth or .ckpt, or a file that
    ``load_checkpoint`` reads (a NetCDF or GeoTIFF given as method is not one). None otherwise.
    Shared by get_method's advice (Python words) and the CLI's (``--method sisr --model``)."""
    import os

    path = os.path.expanduser(method.strip())
    suffixed = path.lower().endswith(_MODEL_SUFFIXES)
    exists = os.path.isfile(path)
    if not (exists or suffixed):
        return None
    guided: bool | None = None
    if exists:
        from ..nn.checkpoint import load_checkpoint

        try:  # its metadata says whether it takes a guide (read without building the model)
            meta = load_checkpoint(path).get("metadata") or {}
        except (XlstsrError, OSError, RuntimeError, ValueError, TypeError, KeyError,
                AttributeError):
            meta = None  # not a readable checkpoint: upscale's own loading says why
        if isinstance(meta, dict):
            guided = int(meta.get("n_guide", 0) or 0) > 0
        elif not suffixed:  # a data file (cube.nc) or any other file: no model to advise
            return None
    return ("disr" if guided else "sisr"), guided, exists


def _model_file_advice(method: str) -> str | None:
    """Where ``method`` names a model file (see :func:`_model_file_method`): the advice to give
    it as the deep method's ``model`` option. None otherwise."""
    found = _model_file_method(method)
    if found is None:
        return None
    name, guided, exists = found
    other = (" (`method='disr'` for a guided model, with `guide=`)" if guided is None
             else " with its `guide=`" if guided else "")
    missing = "" if exists else " (no such file yet: check the path)"
    return (
        f": a trained model is not a method name but the `model` option of a deep method{missing}"
        f": `upscale(da, factor, method={name!r}, method_options={{'model': {method!r}}})`"
        f"{other}."
    )


def _bundled_weights_advice(method: str) -> str | None:
    """Where ``method`` names bundled weights (:data:`xlstsr.nn.weights.BUNDLED`, any case):
    the advice to select them with the ``weights`` option of the deep method their checkpoint
    was trained for ('disr' with ``guide=`` when it declares ``n_guide > 0``). None otherwise."""
    from ..nn.weights import BUNDLED, WEIGHTS_DIR

    text = method.strip()
    key = next((k for k in BUNDLED if k == text), None) or next(
        (k for k in BUNDLED if k.casefold() == text.casefold()), None)
    if key is None:
        return None
    try:  # the installed checkpoint's metadata says which method it is trained for
        from ..nn.checkpoint import load_checkpoint

        meta = load_checkpoint(WEIGHTS_DIR / BUNDLED[key])["metadata"]
        guided: bool | None = int(meta.get("n_guide", 0) or 0) > 0
    except Exception:  # not installed / unreadable: advise both
        guided = None
    name, guide = ("disr", ", guide=guide") if guided else ("sisr", "")
    return (
        f": {key!r} names bundled weights (xlstsr.nn.weights.list_weights()), not a method; "
        f"they are the `weights` option of a deep method: "
        f"`upscale(lst, factor, method={name!r}{guide}, weights={key!r})` "
        f"(or `method_options={{'weights': {key!r}}}`)"
        + (" ('disr' with `guide=` where the weights are guided)" if guided is None else "")
        + "."
    )


def _torch_module_advice(method: Any) -> str | None:
    """Where ``method`` is a torch.nn.Module (a trained model given as the method): the advice
    to give it as the ``model`` option of a deep method ('disr' with ``guide=`` when it declares
    ``n_guide > 0``). None otherwise; torch is not imported for the check (a module exists only
    once torch is)."""
    import sys

    torch = sys.modules.get("torch")
    nn = getattr(torch, "nn", None)
    if nn is None or not isinstance(method, nn.Module):
        return None
    try:
        guided = int(getattr(method, "n_guide", 0) or 0) > 0
    except (TypeError, ValueError):
        guided = False
    name, guide = ("disr", ", guide=guide") if guided else ("sisr", "")
    return (
        f"method is a torch model ({type(method).__name__}), not a method: a model is the `model` "
        f"option of a deep method, `upscale(lst, factor, method={name!r}{guide}, model=m)` "
        f"(or `method_options={{'model': m}}`)"
        + ("" if guided else "; 'disr' with `guide=` for a model that declares n_guide > 0")
        + "."
    )


def get_method(method: str | UpscaleMethod, **options: Any) -> UpscaleMethod:
    """Instantiate a registered method by name (or pass an instance through)."""
    if isinstance(method, UpscaleMethod):
        if options:
            raise MethodOptionError(
                f"options {sorted(options)} cannot be given together with a method instance: "
                "pass them to its constructor, or give the method by name"
            )
        return method
    module = _torch_module_advice(method)
    if module is not None:  # its 26-line repr was printed as "method must be a name"
        raise XlstsrError(module)
    if not isinstance(method, str):  # a list raised a bare "unhashable type"
        raise XlstsrError(
            f"method must be a method's name or an UpscaleMethod instance, got "
            f"{type(method).__name__} {method!r}; available names: {available_methods()} "
            "(e.g. `method='tsharp'`)"
            + (f"; a method class: give an instance, `method={method.__name__}(...)`"
               if isinstance(method, type) and issubclass(method, UpscaleMethod) else "")
            + "."
        )
    if method not in _REGISTRY:
        near = [n for n in _REGISTRY if n.casefold() == method.strip().casefold()]
        model = _bundled_weights_advice(method) or _model_file_advice(method)
        raise XlstsrError(
            f"unknown method {method!r}; available: {available_methods()}"
            + (f" (names are exact, lower case: `method={near[0]!r}`)" if near else "")
            + (model or ". Register new ones with `xlstsr.register_method`.")
        )
    cls = _REGISTRY[method]
    accepted = _accepted_options(cls)
    if "conserve" in options and cls.conservative and "conserve" not in (accepted or ()):
        # conservative by construction (nearest): the option asks for what it does already
        option_bool(method, "conserve", options["conserve"])
        options = {k: v for k, v in options.items() if k != "conserve"}
    if accepted is not None:
        unknown = sorted(k for k in options if k not in accepted)
        if unknown:
            raise MethodOptionError(_option_message(method, unknown, accepted))
    try:
        return cls(**options)
    except MethodOptionError:  # already names the option and the method
        raise
    except TypeError as err:
        raise MethodOptionError(f"bad options for method {method!r}: {err}") from err


def option_names(method: Any) -> set[str] | None:
    """The options a registered method's constructor takes (``conserve`` included for a
    method conservative by construction, which :func:`get_method` takes); None for a method
    instance, an unknown name, or a method taking ``**kwargs``. For the entry points whose
    keywords double as method options, to tell their own mistyped argument as such.

    Examples
    --------
    >>> sorted(option_names("nearest")), sorted(option_names("bicubic"))
    (['conserve'], [])
    """
    cls = _REGISTRY.get(method) if isinstance(method, str) else None
    accepted = _accepted_options(cls) if cls is not None else None
    if accepted is not None and cls.conservative:
        accepted = accepted | {"conserve"}
    return accepted


def _accepted_options(cls: type) -> set[str] | None:
    """Keyword options of a method's constructor, or None when it takes ``**kwargs``."""
    import inspect

    if cls.__init__ is object.__init__:
        return set()
    try:
        params = inspect.signature(cls.__init__).parameters
    except (TypeError, ValueError):  # pragma: no cover - builtins
        return None
    if any(p.kind is p.VAR_KEYWORD for p in params.values()):
        return None
    return {n for n, p in params.items() if n != "self" and p.kind is not p.VAR_POSITIONAL}


def _option_message(method: str, unknown: list[str], accepted: set[str]) -> str:
    takes = f"it takes {sorted(accepted)}" if accepted else "it takes no options"
    msg = f"method {method!r} has no option {', '.join(map(repr, unknown))}: {takes}."
    if "conserve" in unknown:
        keeps = sorted(n for n, c in _REGISTRY.items() if "conserve" in (_accepted_options(c) or ()))
        built = sorted(n for n, c in _REGISTRY.items() if c.conservative)
        msg += (
            f" It does not enforce its output's radiometric aggregate equal to the input; "
            f"methods that do: {keeps} (`conserve=True`)"
            + (f", and {built}, whose output conserves it by construction" if built else "")
            + "."
        )
    model = [k for k in unknown if k in ("model", "weights", "checkpoint")]
    if model:  # method_options={"model": path} with the default method='bicubic'
        deep = sorted(n for n, c in _REGISTRY.items() if "model" in (_accepted_options(c) or ()))
        msg += (f" A trained model runs through a deep method: pass `method='sisr'` (or "
                f"'disr' for a guided model, with `guide=`) with `method_options={{'model': "
                f"...}}`; methods that take a model: {deep}.")
    if "adapt" in unknown:  # an argument of the entry points, not of a method's options
        adapts = sorted(n for n, c in _REGISTRY.items() if hasattr(c, "with_adaptation"))
        if method in adapts:
            msg += (" Test-time adaptation is an argument of upscale and upscale_to_zarr "
                    f"(`adapt=True`), or `get_method({method!r}).with_adaptation(True)`.")
        else:  # bicubic was told sisr's with_adaptation, as if it adapted
            msg += (f" Test-time adaptation is of the deep methods {adapts} only, not of "
                    f"{method!r} (`upscale(..., method='sisr', adapt=True)`).")
    if "calibration" in unknown:  # an argument of upscale, not of a method's options
        msg += (" A calibration is an argument of upscale (`upscale(..., calibration=cal)`), "
                "applied to the result; or apply it yourself, `apply_calibration(result, cal)` "
                "(from xlstsr.calibration).")
    return msg


def option_bool(method: str, name: str, value: Any) -> bool:
    """A method option that must be True or False (numpy bools and 0/1 too), or a
    :class:`~xlstsr.errors.MethodOptionError`: ``"no"`` or ``2`` would silently mean True.

    Examples
    --------
    >>> option_bool("tsharp", "quadratic", np.True_)
    True
    >>> option_bool("tsharp", "quadratic", "no")
    Traceback (most recent call last):
    ...
    xlstsr.errors.MethodOptionError: option quadratic of method 'tsharp' must be True or False, got 'no' (a string is truthy: pass the bool itself)
    """
    v = value.item() if isinstance(value, np.generic) else value
    if isinstance(v, bool) or (isinstance(v, int) and v in (0, 1)):
        return bool(v)
    raise MethodOptionError(
        f"option {name} of method {method!r} must be True or False, got {value!r}"
        + (" (a string is truthy: pass the bool itself)" if isinstance(value, str) else "")
    )


def option_whole(method: str, name: str, value: Any, minimum: int | None = 1, *,
                 allow_none: bool = False, nonzero: bool = False, example: Any = None) -> int | None:
    """A method option that must be a whole number >= ``minimum`` (``nonzero``: any but 0), or a
    :class:`~xlstsr.errors.MethodOptionError` (2.5, "10" or True would be taken as 2, 10 or 1;
    0 or a negative count reaches sklearn or torch as a raw error, or is silently ignored).

    Examples
    --------
    >>> option_whole("dms", "n_estimators", np.int64(10))
    10
    >>> option_whole("dms", "n_estimators", 2.5, example=10)
    Traceback (most recent call last):
    ...
    xlstsr.errors.MethodOptionError: option n_estimators of method 'dms' must be a whole number >= 1 (e.g. 10), got 2.5
    """
    if value is None and allow_none:
        return None
    v = value.item() if isinstance(value, np.generic) else value
    if isinstance(v, float) and v.is_integer():
        v = int(v)
    ok = isinstance(v, int) and not isinstance(v, bool)
    if ok and ((minimum is not None and v < minimum) or (nonzero and v == 0)):
        ok = False
    if not ok:
        want = ("a whole number other than 0" if nonzero and minimum is None
                else f"a whole number >= {minimum}")
        raise MethodOptionError(
            f"option {name} of method {method!r} must be {want}"
            + (" or None" if allow_none else "") + (f" (e.g. {example})" if example is not None else "")
            + f", got {value!r}"
        )
    return int(v)

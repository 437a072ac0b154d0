"""Error and warning classes of xlstsr.

Every error says what is wrong with the input and how to fix it. They subclass ``ValueError``
(or ``TypeError``) so that generic handlers keep working.
"""

from __future__ import annotations

import os
import sys
import warnings

__all__ = [
    "AllNaNError",
    "CheckpointError",
    "CoregistrationError",
    "DeviceError",
    "GridError",
    "GuideAlignmentWarning",
    "GuideCoverageError",
    "GuideScaleError",
    "GuideTimeError",
    "ImplausibleOutputError",
    "InputNotFoundError",
    "InputTypeError",
    "MethodOptionError",
    "MissingCRSError",
    "NoOverlapError",
    "NoSpatialDimsError",
    "OverpassWarning",
    "PhysicalRangeError",
    "PhysicalRangeWarning",
    "ResampledInputWarning",
    "ScaledIntegerError",
    "UndeclaredFillError",
    "UnitsError",
    "VariableNotFoundError",
    "XlstsrError",
]


class XlstsrError(ValueError):
    """Base class of every xlstsr input error."""


class NoSpatialDimsError(XlstsrError):
    """The array has no recognisable spatial dimensions (y/x, lat/lon...)."""


class MissingCRSError(XlstsrError):
    """A geospatial operation was asked of an array without a CRS or transform."""


class GridError(XlstsrError):
    """The grid is not regular, the factor is invalid, or the shape does not fit the factor."""


class GuideCoverageError(XlstsrError):
    """The guide (e.g. NDVI) does not cover the LST extent."""


class NoOverlapError(XlstsrError):
    """Two georeferenced fields (e.g. a super-resolved field and its reference) do not overlap."""


class UnitsError(XlstsrError):
    """Units are missing, unknown, or do not match the values."""


class ScaledIntegerError(XlstsrError):
    """Integers that look like scaled digital numbers, without scale metadata."""


class PhysicalRangeError(XlstsrError):
    """Decoded values outside the physical range of land surface temperature."""


class UndeclaredFillError(XlstsrError):
    """One value repeated over a large part of an image far below the rest: an undeclared fill."""


class GuideScaleError(XlstsrError):
    """A guide's values are not in the units or scale the model was trained on (NDVI in percent,
    reflectance digital numbers...)."""


class GuideTimeError(XlstsrError):
    """A guide's time steps cannot be matched with the LST's by their labels."""


class ImplausibleOutputError(XlstsrError):
    """A method produced temperatures that are not physical or far outside the input's range."""


class MethodOptionError(XlstsrError, TypeError):
    """An option a method does not take (e.g. ``conserve`` for bicubic)."""


class InputTypeError(XlstsrError, TypeError):
    """An input of a type xlstsr cannot georeference (a numpy array instead of a DataArray)."""


class InputNotFoundError(XlstsrError, FileNotFoundError):
    """A path to an input (file, Zarr store) that does not exist."""


class DeviceError(XlstsrError):
    """The requested torch device does not exist on this machine (e.g. CUDA without a GPU)."""


class AllNaNError(XlstsrError):
    """The input holds no valid pixel."""


class VariableNotFoundError(XlstsrError, KeyError):
    """A Dataset does not say which variable holds LST (or the guide)."""

    def __str__(self) -> str:  # KeyError would quote the message
        return str(self.args[0]) if self.args else ""


class CheckpointError(XlstsrError):
    """A model checkpoint is missing, corrupt or incompatible with the request."""


class CoregistrationError(XlstsrError):
    """A co-registration estimate is unreliable (too few pixels, flat surface, shift at bound)."""


class PhysicalRangeWarning(UserWarning):
    """A few implausibly hot LST pixels (fires, artefacts) were masked."""


class ResampledInputWarning(UserWarning):
    """The LST is made of blocks of equal pixels (resampled by nearest neighbour onto a grid
    finer than its own, so its pixel size is not its resolution), or is an xlstsr output
    already."""


class GuideAlignmentWarning(UserWarning):
    """The guide was reprojected onto the fine LST grid (offset, other resolution or CRS)."""


class OverpassWarning(UserWarning):
    """Two fields paired as one step are of other overpasses: hours apart, or a day against a
    night acquisition."""


def warn(message: str, category: type[Warning] = UserWarning) -> None:
    """Issue a warning attributed to the first caller outside xlstsr.

    A fixed ``stacklevel`` points at a line of xlstsr whenever the warning is reached through
    another layer (the accessor, the CLI, a method); walking out of the package points at the
    user's own line whichever way they came in.

    Examples
    --------
    >>> import warnings
    >>> with warnings.catch_warnings(record=True) as caught:
    ...     warnings.simplefilter("always")
    ...     warn("the guide was reprojected", GuideAlignmentWarning)
    >>> caught[0].category.__name__
    'GuideAlignmentWarning'
    """
    package = os.path.dirname(os.path.abspath(__file__)) + os.sep
    frame = sys._getframe(1)
    level = 2  # stacklevel 1 is this function, 2 its caller
    while frame is not None and os.path.abspath(frame.f_code.co_filename).startswith(package):
        frame = frame.f_back
        level += 1
    if _on_worker():  # a task on a dask.distributed worker: sent to the client
        _send_to_client(message, category)
        return
    warnings.warn(message, category, stacklevel=level)


def _send_to_client(message: str, category: type[Warning]) -> None:
    """Send a warning from a dask.distributed worker's task to the clients of its scheduler,
    which warn it (distributed's ``"warn"`` event, as ``distributed.warn`` sends it). Not
    warned here as well, as ``distributed.warn`` does: a LocalCluster's workers print to the
    script's terminal, which showed it twice (once attributed to dask's _task_spec.py)."""
    import pickle

    from distributed import get_worker

    # pickled to bytes, as distributed.warn does (msgpack cannot carry the category class)
    get_worker().log_event("warn", {"message": pickle.dumps(message),
                                    "category": pickle.dumps(category)})


def _on_worker() -> bool:
    """Whether this runs in a task of a ``dask.distributed`` worker in a process of its own
    (whose warnings otherwise stay in the worker's log: a notebook user never learnt that,
    e.g., a date was sharpened without its guide). A worker sharing its process with a client
    of its scheduler (``LocalCluster(processes=False)``) is not: its warnings are the client's
    already, and sent again they were shown twice."""
    if "distributed" not in sys.modules:  # never imported: no worker in this process
        return False
    from distributed import client as _client
    from distributed import get_worker

    try:
        worker = get_worker()
    except ValueError:
        return False
    address = getattr(worker.scheduler, "address", None)
    here = getattr(_client, "_global_clients", {})  # private: without it, send (not lose) them
    # the clients workers make for their tasks (get_client, a nested compute) are not a user's
    own = set(map(id, getattr(type(worker), "_initialized_clients", ())))
    own.add(id(getattr(worker, "_client", None)))
    return not any(getattr(c.scheduler, "address", None) == address
                   for c in list(here.values())
                   if getattr(c, "scheduler", None) is not None and id(c) not in own)

"""Where the real benchmark data live: :func:`data_root` (``$XLSTSR_DATA`` or ``../shared/data``)."""

from __future__ import annotations

import os
from pathlib import Path

__all__ = ["DATA_ENV", "data_root"]

#: Environment variable naming the real-data folder (the one holding ``modis_aster/``).
DATA_ENV = "XLSTSR_DATA"

# ../shared/data beside the repository that holds this package (a development checkout)
_CHECKOUT_DATA = Path(__file__).resolve().parents[2].parent / "shared" / "data"


def data_root(root: str | os.PathLike[str] | None = None) -> Path:
    """The folder of real benchmark data.

    Looked up in this order: ``root`` if given; else the environment variable ``XLSTSR_DATA`` if
    set; else ``../shared/data`` beside the repository holding this package (a development
    checkout). An explicitly given place that does not exist is an error (no silent fallback).
    The data are never bundled with the package.

    Raises
    ------
    FileNotFoundError
        When the folder does not exist, naming it and how to point to the data.

    Examples
    --------
    >>> data_root("/nonexistent")
    Traceback (most recent call last):
    ...
    FileNotFoundError: the real benchmark data folder /nonexistent (the root argument) does not exist; pass root=..., or set the environment variable XLSTSR_DATA to the folder holding modis_aster/.
    """
    if root is not None:
        path, how = Path(root).expanduser(), "the root argument"
    elif os.environ.get(DATA_ENV):
        path, how = Path(os.environ[DATA_ENV]).expanduser(), f"${DATA_ENV}"
    else:
        path, how = _CHECKOUT_DATA, "../shared/data"
    if not path.is_dir():
        raise FileNotFoundError(
            f"the real benchmark data folder {path} ({how}) does not exist; pass root=..., or set "
            f"the environment variable {DATA_ENV} to the folder holding modis_aster/."
        )
    return path

"""Helpers shared by the test modules (fixtures live in conftest.py).

- :func:`make_lst`: a small georeferenced LST DataArray;
- :func:`raise_if_computed`: a dask scheduler that fails the test if anything is computed
  (more than ``max_computes`` times) inside its block, flox style: a function that claims to
  build a lazy graph must not compute, not even a min/max for a check;
- :func:`restore_method_registry`: methods registered inside the block are removed after it;
- :func:`load_script`: a module of ``scripts/`` (the training recipes live outside the package);
- :func:`damage_largest_entry`: a torch.save file damaged inside its largest tensor entry;
- :func:`cli_streams` / :func:`cli_stderr`: ``xlstsr`` run in this process without capsys.
"""

from __future__ import annotations

from collections.abc import Iterator
from contextlib import contextmanager

import dask
import numpy as np
import rioxarray  # noqa: F401  (registers .rio)
import xarray as xr

__all__ = [
    "ComputeRaised",
    "RaisingScheduler",
    "cli_stderr",
    "cli_streams",
    "damage_largest_entry",
    "load_script",
    "make_lst",
    "raise_if_computed",
    "restore_method_registry",
]


def make_lst(
    values: np.ndarray, res: float = 1000.0, crs: str = "EPSG:32631", **attrs
) -> xr.DataArray:
    """A georeferenced (.., y, x) DataArray for tests: ``res`` metre pixels, cell-centre coords.

    Examples
    --------
    >>> da = make_lst(np.full((2, 3), 300.0), units="K")
    >>> da.dims, da.rio.resolution(), str(da.rio.crs)
    (('y', 'x'), (1000.0, -1000.0), 'EPSG:32631')
    """
    ny, nx = values.shape[-2:]
    dims = ("time", "y", "x")[-values.ndim :] if values.ndim <= 3 else None
    da = xr.DataArray(values, dims=dims, attrs=attrs)
    da = da.assign_coords(
        y=500_000.0 - (np.arange(ny) + 0.5) * res, x=400_000.0 + (np.arange(nx) + 0.5) * res
    )
    return da.rio.write_crs(crs)


class ComputeRaised(AssertionError):
    """Raised by :class:`RaisingScheduler` when a graph is computed more often than allowed."""


class RaisingScheduler:
    """A dask scheduler (``dask.config.set(scheduler=...)``) that counts computations and raises
    :class:`ComputeRaised` on the one beyond ``max_computes``; allowed ones run synchronously."""

    def __init__(self, max_computes: int = 0) -> None:
        self.max_computes = int(max_computes)
        self.count = 0

    def __call__(self, dsk, keys, **kwargs):
        self.count += 1
        if self.count > self.max_computes:
            raise ComputeRaised(
                f"dask computed {self.count} time(s), at most {self.max_computes} allowed: "
                "something evaluated eagerly while building a lazy result"
            )
        return dask.get(dsk, keys, **kwargs)


@contextmanager
def raise_if_computed(max_computes: int = 0) -> Iterator[RaisingScheduler]:
    """Fail if the block computes a dask graph more than ``max_computes`` times.

    Raises inside the offending ``compute`` (the traceback shows who computed) and checks the
    count again on exit, in case the code under test swallowed the error. A ``compute`` given
    an explicit ``scheduler=`` (the Zarr writer's) bypasses it.

    Examples
    --------
    >>> import dask.array as da
    >>> x = da.ones(4, chunks=2)
    >>> with raise_if_computed():
    ...     y = x + 1  # building a graph is fine
    >>> with raise_if_computed(max_computes=1) as s:
    ...     _ = y.sum().compute()
    >>> s.count
    1
    >>> with raise_if_computed():  # doctest: +IGNORE_EXCEPTION_DETAIL
    ...     y.compute()
    Traceback (most recent call last):
    ComputeRaised: dask computed 1 time(s), at most 0 allowed: ...
    """
    sched = RaisingScheduler(max_computes)
    with dask.config.set(scheduler=sched):
        yield sched
    if sched.count > sched.max_computes:
        raise ComputeRaised(
            f"dask computed {sched.count} time(s) (an error was swallowed), at most "
            f"{sched.max_computes} allowed"
        )


@contextmanager
def restore_method_registry() -> Iterator[None]:
    """Put the global method registry back as it was: no test method leaks into later tests.

    Examples
    --------
    >>> import xlstsr
    >>> with restore_method_registry():
    ...     @xlstsr.register_method("doctest_only")
    ...     class M(xlstsr.methods.UpscaleMethod): ...
    ...     "doctest_only" in xlstsr.available_methods()
    True
    >>> "doctest_only" in xlstsr.available_methods()
    False
    """
    from xlstsr.methods import base

    saved = dict(base._REGISTRY)
    try:
        yield
    finally:
        base._REGISTRY.clear()
        base._REGISTRY.update(saved)


def load_script(name: str):
    """Import ``scripts/<name>.py`` (not a package module) once, e.g. ``load_script("train_bundled")``."""
    import importlib.util
    import sys
    from pathlib import Path

    key = f"_xlstsr_scripts_{name}"
    if key not in sys.modules:
        path = Path(__file__).resolve().parents[1] / "scripts" / f"{name}.py"
        spec = importlib.util.spec_from_file_location(key, path)
        module = importlib.util.module_from_spec(spec)
        sys.modules[key] = module
        spec.loader.exec_module(module)
    return sys.modules[key]


def run_cli(capsys, *argv) -> tuple[int, str]:
    """``xlstsr`` run in this process: its exit code and stderr, which must hold no traceback
    (a user error is one line)."""
    from xlstsr.cli import main

    try:
        code = main([str(a) for a in argv])
    except SystemExit as exc:  # argparse's usage errors
        code = exc.code
    err = capsys.readouterr().err
    assert "Traceback" not in err
    return code, err


def damage_largest_entry(src, dst):
    """``src`` (a torch.save zip file) written to ``dst`` with every bit of its largest tensor
    entry flipped: torch still reads it, its CRC-32 no longer matches. Returns the entry's
    name."""
    import io
    import zipfile
    from pathlib import Path

    data = bytearray(Path(src).read_bytes())
    with zipfile.ZipFile(io.BytesIO(bytes(data))) as z:
        info = max((i for i in z.infolist() if "/data/" in i.filename), key=lambda i: i.file_size)
    # the local header's name and extra-field lengths (its extra field pads for alignment)
    n_name, n_extra = np.frombuffer(bytes(data[info.header_offset + 26:info.header_offset + 30]),
                                    "<u2")
    start = info.header_offset + 30 + int(n_name) + int(n_extra)
    for i in range(start, start + info.file_size):
        data[i] ^= 0xFF
    Path(dst).write_bytes(bytes(data))
    return info.filename


def cli_streams(*argv) -> tuple[int, str, str]:
    """``xlstsr *argv`` run in this process: its exit code, stdout and stderr (for tests
    without the capsys fixture; :func:`run_cli` takes it)."""
    import contextlib
    import io

    from xlstsr.cli import main

    err, out = io.StringIO(), io.StringIO()
    with contextlib.redirect_stderr(err), contextlib.redirect_stdout(out):
        try:
            rc = main([str(a) for a in argv])
        except SystemExit as e:  # argparse's usage errors
            rc = e.code
    return rc, out.getvalue(), err.getvalue()


def cli_stderr(*argv) -> tuple[int, str]:
    """:func:`cli_streams` with warnings silenced: the exit code (an int) and stderr."""
    import warnings

    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        rc, _, err = cli_streams(*argv)
    return int(rc or 0), err

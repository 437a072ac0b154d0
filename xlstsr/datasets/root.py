"""Where the real benchmark data live: :func:`data_root` (``$XLSTSR_DATA`` or ``../shared/data``)."""

from __future__ import annotations

import difflib
import os
from collections.abc import Callable
from pathlib import Path
from typing import NoReturn

from ..errors import InputNotFoundError, XlstsrError

__all__ = [
    "DATA_ENV",
    "HELD_BACK_RESULTS",
    "OutputPathError",
    "check_output",
    "data_root",
    "exit_on_missing_data",
    "is_project_data",
    "require_data",
    "results_dir",
]

#: Environment variable naming the real-data folder (the one holding ``modis_aster/``).
DATA_ENV = "XLSTSR_DATA"

# ../shared/data beside the repository that holds this package (a development checkout)
_CHECKOUT_DATA = Path(__file__).resolve().parents[2].parent / "shared" / "data"


def data_root(root: str | os.PathLike[str] | None = None, *,
              dataset: str | None = None) -> Path:
    """The folder of real benchmark data.

    Looked up in this order: ``root`` if given; else the environment variable ``XLSTSR_DATA`` if
    set; else ``../shared/data`` beside the repository holding this package (a development
    checkout). An explicitly given place that does not exist is an error (no silent fallback).
    The data are never bundled with the package.

    Parameters
    ----------
    root : path, optional
        The data folder; None: ``$XLSTSR_DATA`` or ``../shared/data``.
    dataset : str, optional
        The dataset folder the caller reads from the data folder (``"ecostress_la"``,
        ``"mod11a1_hdf"``...), named in the error's advice (the MOD11A1 reader's error advised
        pointing to the folder holding ``modis_aster/``); None: ``modis_aster``, the benchmarks'
        main dataset.

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
    holding = dataset or "modis_aster"
    if path.is_file():  # "does not exist" sent the user looking for a path that is there
        raise _missing_data(
            f"the real benchmark data folder {path} ({how}) is a file, not a folder: pass the "
            f"data folder (the one holding {holding}/, e.g. {path.parent.parent}), as root=... "
            f"or in {DATA_ENV}.",
            path, f"the real benchmark data folder {path} ({how}) is a file, not a folder",
            dataset)
    if not path.is_dir():
        raise _missing_data(
            f"the real benchmark data folder {path} ({how}) does not exist; pass root=..., or set "
            f"the environment variable {DATA_ENV} to the folder holding {holding}/.",
            path, f"the real benchmark data folder {path} ({how}) does not exist", dataset)
    return path


def _missing_data(message: str, path: str | os.PathLike[str], problem: str,
                  needed: str | None = None, fix: str | None = None) -> FileNotFoundError:
    """The error of a missing data folder or dataset (:func:`data_root`, :func:`require_data`,
    a dataset reader's): a plain :class:`FileNotFoundError` whose ``message`` advises the
    library's ``root=``; :func:`exit_on_missing_data` words the fix with the script's own
    options from what it carries: ``data_path`` (the missing path), ``data_problem`` (what is
    missing) and ``data_needed`` (the dataset folder the data folder must hold, None when
    unknown), or ``data_fix``, the fix itself when pointing to another folder is not it (e.g.
    a file to write in the right folder; None: the script's options). ``filename`` is left
    unset: OSError's message would become ``[Errno None] ...``."""
    err = FileNotFoundError(message)
    err.data_path, err.data_problem, err.data_needed = (  # type: ignore[attr-defined]
        os.fspath(path), problem, needed)
    err.data_fix = fix  # type: ignore[attr-defined]
    return err


def _no_such_file(path: Path, what: str, pattern: str, fix: str) -> InputNotFoundError:
    """The error of a mistyped file path given as ``root`` (a granule, a scene file): named as
    the ``what`` it is, with the near names of its folder (matching ``pattern``), and ``fix``
    (:func:`data_root` called it a missing data folder and advised the one holding
    ``modis_aster/``). It carries :func:`_missing_data`'s attributes, for
    :func:`exit_on_missing_data` to print in one line."""
    names = sorted(p.name for p in path.parent.glob(pattern)) if path.parent.is_dir() else []
    near = difflib.get_close_matches(path.name, names, n=3, cutoff=0.6)
    where = (f"did you mean {', '.join(near)}?" if near else
             f"{path.parent} holds {len(names)} {pattern} file(s)" if path.parent.is_dir()
             else f"{path.parent} does not exist either")
    problem = f"no such {what} {path} ({where})"
    err = InputNotFoundError(f"{problem}: {fix}.")
    err.data_path, err.data_problem, err.data_needed = (  # type: ignore[attr-defined]
        os.fspath(path), problem, None)
    err.data_fix = fix  # type: ignore[attr-defined]
    return err


def _how(root: str | os.PathLike[str] | None) -> str:
    """How :func:`data_root` found its folder (for messages)."""
    if root is not None:
        return "the root argument"
    return f"${DATA_ENV}" if os.environ.get(DATA_ENV) else "../shared/data"


_FIX = (f"pass the data folder that holds it as root=..., or set the environment variable "
        f"{DATA_ENV} to that folder")


def _script_fix(flags: str | None, needed: str | None) -> str:
    """How to point a benchmark to the data: with its own options ``flags`` (none: only the
    environment variable), naming the dataset folder ``needed`` when known."""
    folder = f"the data folder that holds {needed}/" if needed else "the real benchmark data folder"
    if flags:
        return f"pass {folder} with {flags}, or set the environment variable {DATA_ENV} to it"
    return f"set the environment variable {DATA_ENV} to {folder}"


def require_data(*parts: str, root: str | os.PathLike[str] | None = None) -> Path:
    """``data_root(root) / parts``, checked to exist before a benchmark reads it.

    Raises
    ------
    FileNotFoundError
        When the data folder or the path inside it is missing, naming the path and how to point
        to the data (not a reader's bare ``No such file`` deep in the run).

    Examples
    --------
    >>> require_data("no_such_dataset", root="/tmp")
    Traceback (most recent call last):
    ...
    FileNotFoundError: no no_such_dataset/ in the real benchmark data folder /tmp (the root argument): pass the data folder that holds it as root=..., or set the environment variable XLSTSR_DATA to that folder.
    """
    base = data_root(root)
    path = base.joinpath(*parts)
    if not path.exists():
        name = "/".join(parts) + ("" if Path(*parts).suffix else "/")
        problem = f"no {name} in the real benchmark data folder {base} ({_how(root)})"
        raise _missing_data(f"{problem}: {_FIX}.", path, problem, parts[0])
    return path


def exit_on_missing_data(main: Callable[[], int | None], script: str,
                         flags: str | None = None) -> NoReturn:
    """Run a benchmark's ``main()`` and exit with its status; data it cannot find end the run
    with one line (``script: message``) rather than a traceback.

    Only a :class:`FileNotFoundError` about the data is shortened: one from :func:`data_root` or
    :func:`require_data` (a missing data folder or dataset), one whose message already says how
    to point to the data (names ``XLSTSR_DATA``), or one whose file lies in the data folder (a
    reader's bare ``No such file or directory``), reworded to name that file. The fix named is
    the script's own: ``flags``, the options that point it to a data folder (e.g. ``"--root
    DIR"``; None, a script without one: only ``XLSTSR_DATA``), and the dataset folder the data
    folder must hold when known. Any other (a missing tool, a file outside the data folder)
    propagates with its traceback, which shows where it came from. An output path it cannot
    write (:class:`OutputPathError`, from :func:`check_output` before any work) ends the run
    with its one line too.
    """
    try:
        code = main()
    except OutputPathError as err:
        raise SystemExit(f"{Path(script).name}: {err}") from None
    except FileNotFoundError as err:
        msg = str(err)
        if getattr(err, "data_problem", None):  # data_root's, require_data's, a reader's
            fix = (getattr(err, "data_fix", None)
                   or _script_fix(flags, getattr(err, "data_needed", None)))
            msg = f"{err.data_problem}: {fix}."
        elif DATA_ENV not in msg:
            missing = _in_data_folder(err.filename)
            if missing is None:
                raise  # not the data: the traceback says where it came from
            needed = missing[0].relative_to(missing[1].resolve()).parts[0]
            msg = (f"{missing[0]} is missing from the real benchmark data folder {missing[1]} "
                   f"({_how(None)}): {_script_fix(flags, needed)}.")
        raise SystemExit(f"{Path(script).name}: {msg}") from None
    raise SystemExit(code)


def _in_data_folder(filename: object) -> tuple[Path, Path] | None:
    """``(file, data folder)`` when ``filename`` (an error's) lies in the data folder that
    :func:`data_root` finds, else None (no file named, no data folder, a file elsewhere)."""
    if filename is None:
        return None
    try:
        base = data_root()
        missing = Path(os.fsdecode(filename)).expanduser().resolve()  # type: ignore[arg-type]
    except (FileNotFoundError, TypeError, ValueError):
        return None
    return (missing, base) if base.resolve() in missing.parents else None


#: Where a benchmark run on a data folder other than the project's own, or a ``--smoke`` run,
#: writes by default (relative to the current directory): never over the published pages of
#: docs/results.
HELD_BACK_RESULTS = Path("heldback_results")


def is_project_data(folder: str | os.PathLike[str]) -> bool:
    """Whether ``folder`` is the project's own real-data folder or a folder inside it: the data
    whose figures ``docs/results`` publishes.

    The project's own folder is ``../shared/data`` beside the checkout (resolved: a link or
    ``$XLSTSR_DATA`` naming that same folder is it too). Any other folder is held-back data,
    whether given as ``--root`` / ``root=`` or through ``$XLSTSR_DATA``, even when laid out the
    same way: its results are written apart (:func:`results_dir`), never as the published ones.

    Examples
    --------
    >>> is_project_data("/tmp")
    False
    """
    path = Path(folder).expanduser().resolve()
    own = _CHECKOUT_DATA.resolve()
    return path == own or own in path.parents


def results_dir(
    out: str | os.PathLike[str] | None,
    published: str | os.PathLike[str],
    *folders: str | os.PathLike[str],
    smoke: bool = False,
    partial: bool = False,
) -> Path:
    """The folder a benchmark writes its pages to.

    ``out`` when given; else ``published`` (the repository's ``docs/results``) when every data
    folder it read is the project's own (:func:`is_project_data`; no folder: a benchmark that
    reads through :func:`data_root`, judged by ``$XLSTSR_DATA`` when set) and the run is a
    measurement;
    else :data:`HELD_BACK_RESULTS` in the current directory, so that neither a run on held-back
    data nor a ``smoke`` run (a test of the code path on a few dates / pairs and one epoch, not
    a measurement) replaces the published figures unless ``--out`` asks for it. A ``partial``
    run (a subset of the published protocol: some of its pairs or methods, ``--pairs``,
    ``--quick``) is a measurement, but not the one the published page reports: it too writes
    :data:`HELD_BACK_RESULTS` unless ``--out`` is given.

    The folder returned is checked (:func:`check_output`: not a file, writable), so that a
    benchmark calling this before its work is refused up front, in one line, rather than
    failing after the run. Raises :class:`OutputPathError`.

    Examples
    --------
    >>> results_dir(None, "docs/results", "/tmp/held_back")
    PosixPath('heldback_results')
    >>> results_dir("/tmp/out", "docs/results", "/tmp/held_back")
    PosixPath('/tmp/out')
    >>> results_dir(None, "docs/results", smoke=True)
    PosixPath('heldback_results')
    >>> results_dir(None, "docs/results", partial=True)
    PosixPath('heldback_results')
    >>> results_dir(None, "docs/results")
    PosixPath('docs/results')
    """
    if out is not None:
        return check_output(Path(out), "--out")
    if not folders and os.environ.get(DATA_ENV):
        # a benchmark that reads through data_root(): $XLSTSR_DATA is the folder it read (a
        # held-back one there published over docs/results)
        folders = (os.environ[DATA_ENV],)
    if not smoke and not partial and all(is_project_data(f) for f in folders):
        return check_output(Path(published), None)
    return check_output(HELD_BACK_RESULTS, None)


class OutputPathError(XlstsrError):
    """An output path given to a benchmark that it cannot write (a file where its pages' folder
    goes, a folder where a file goes, a folder without write permission), found before any work
    by :func:`check_output`: the run used to end in a traceback once computed, writing nothing.
    :func:`exit_on_missing_data` prints it in one line."""


def check_output(path: str | os.PathLike[str] | None, flag: str | None = "--out", *,
                 file_name: str | None = None) -> Path | None:
    """``path``, an output of a benchmark (``--out DIR``, ``--json FILE``...), checked before any
    work: a folder (``file_name`` None) must not be an existing file, a file (``file_name``: the
    name it has by default, for the advice) must not be an existing folder, and the nearest
    existing folder on the way to it must be writable (:func:`xlstsr.io.formats.check_writable`;
    the missing folders are made when writing). None passes (an option not given).

    ``flag``: the option that gave ``path``, named in the message; None: a default folder
    (:func:`results_dir`'s), for which ``--out`` is the fix.

    Raises
    ------
    OutputPathError
        Naming the option, the path and the fix.

    Examples
    --------
    >>> import tempfile
    >>> with tempfile.NamedTemporaryFile() as f:
    ...     check_output(f.name, "--out")
    Traceback (most recent call last):
    ...
    xlstsr.datasets.root.OutputPathError: --out /tmp/... is a file, not a folder: ...
    >>> check_output("/tmp", "--json", file_name="summary.json")
    Traceback (most recent call last):
    ...
    xlstsr.datasets.root.OutputPathError: --json /tmp is a folder: give a file path, e.g. /tmp/summary.json.
    """
    if path is None:
        return None
    from ..io.formats import check_writable  # the io layer: only when checking

    path = Path(path)
    what = (f"{flag} {path}" if flag else
            f"the default output folder {path} (--out DIR writes elsewhere)")
    if file_name is None and path.exists() and not path.is_dir():
        raise OutputPathError(f"{what} is a file, not a folder: give a folder path (it is "
                              "created), or move the file away.")
    if file_name is not None and path.is_dir():
        raise OutputPathError(f"{what} is a folder: give a file path, e.g. "
                              f"{path / file_name}.")
    try:
        check_writable(path if file_name is None else path.parent)
    except XlstsrError as err:
        raise OutputPathError(f"{what}: {err}") from None
    return path

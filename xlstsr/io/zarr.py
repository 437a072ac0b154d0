"""Zarr v3 stores: opening with the CRS, existence checks, default output compression."""

from __future__ import annotations

import glob
import json
import logging
import os
import time
import warnings
from collections.abc import Hashable, Mapping
from pathlib import Path
from typing import Any

import dask.array as dsa
import numpy as np
import xarray as xr

from ..attrs import STATUS_ATTR
from ..errors import VariableNotFoundError, XlstsrError

log = logging.getLogger(__name__)

__all__ = [
    "file_uri_path",
    "files_read",
    "holds_zarr_metadata",
    "incomplete_regions",
    "is_zarr_path",
    "live_writer",
    "local_path",
    "open_zarr",
    "refuse_incomplete_inputs",
    "store_exists",
    "writer_stamp",
    "zarr_compressors",
    "zarr_group_variables",
]

#: root attribute of a store written by :func:`xlstsr.upscale_to_zarr`: INCOMPLETE from the
#: template on, COMPLETE once every region is written (:data:`xlstsr.attrs.STATUS_ATTR`: not
#: carried into outputs)
INCOMPLETE = ("incomplete: an upscale_to_zarr run that has not finished (interrupted, or still "
              "running); complete it with mode='resume' (`xlstsr upscale ... --resume`)")
COMPLETE = "complete"
#: the status of a store whose every time block was written without a valid pixel (its input
#: all NaN or fill): not a result, and nothing a resume could complete
NO_DATA_STATUS = ("incomplete: its input holds no valid pixel (all NaN or fill): not a "
                  "result; remove it, or write it again with mode='w' from a corrected input")
PROGRESS_DONE = "xlstsr_progress/done"
#: root attribute of an unfinished store: the process writing it (host, pid, start time)
WRITER_ATTR = "xlstsr_writer"


def _process_start(pid: int) -> float | None:
    """When process ``pid`` started (seconds; to tell it from a later process given the same
    pid), or None when no such process runs."""
    try:
        import psutil
    except ImportError:  # Linux without psutil: /proc, in clock ticks since boot
        try:
            return float(Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()[19])
        except (OSError, IndexError, ValueError):
            return None
    try:
        return float(psutil.Process(pid).create_time())
    except (psutil.Error, ValueError):  # NoSuchProcess, AccessDenied, a negative pid
        return None


def process_runs(pid: int, start: Any = None) -> bool:
    """True if process ``pid`` runs on this machine and, where its start time ``start`` (as
    :func:`writer_stamp` records it) is given, is the process that recorded it: a later
    process given the same pid (a container's PID 1, a recycled pid) is not."""
    now = _process_start(pid)
    if now is None:
        return False
    return not (isinstance(start, (int, float)) and abs(now - float(start)) > 1)


def writer_stamp() -> dict[str, Any]:
    """This process, as recorded in the store it writes (:data:`WRITER_ATTR`)."""
    import socket

    return {"host": socket.gethostname(), "pid": os.getpid(),
            "process_start": _process_start(os.getpid())}


def live_writer(attrs: Any) -> dict[str, Any] | None:
    """The process recorded as writing an unfinished store when it still runs on this machine
    (and is not this process), else None: a stopped run, a finished store, another machine
    (which cannot be checked), or no record.

    Examples
    --------
    >>> from xlstsr.io.zarr import live_writer, writer_stamp
    >>> live_writer({"xlstsr_status": "complete", "xlstsr_writer": writer_stamp()}) is None
    True
    """
    import socket

    w = attrs.get(WRITER_ATTR)
    status = attrs.get(STATUS_ATTR)
    if not isinstance(w, Mapping) or status is None or status == COMPLETE:
        return None
    pid = w.get("pid")
    if w.get("host") != socket.gethostname() or not isinstance(pid, int) or pid == os.getpid():
        return None
    # a pid given to another process since is not the writer
    return dict(w) if process_runs(pid, w.get("process_start")) else None


def _process_alive(pid: int) -> bool:
    """True if a process ``pid`` runs (any process given that pid: a name without the start
    time, written before it was recorded, cannot tell a later one)."""
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    except OSError:  # another user's process: alive
        return True
    return True


def aside_path(p: Path) -> Path:
    """Where an upscale_to_zarr ``mode="w"`` run sets the store at ``p`` aside:
    ``.<name>.replaced-<pid>-<start>-<ns>``, this process with its start time as
    :func:`writer_stamp` records it, rounded (``<pid>-<ns>`` where that is unknown). The pid
    alone was taken for a run still going on when a later process got the same pid (a
    container's PID 1): its set-aside result stayed hidden and unnamed."""
    start = writer_stamp().get("process_start")
    who = f"{os.getpid()}" + (f"-{round(start)}" if isinstance(start, (int, float)) else "")
    return p.with_name(f".{p.name}.replaced-{who}-{time.time_ns()}")


def _aside_process(p: Path, aside: Path) -> tuple[int, int | None] | None:
    """The process (pid, start time or None) that set ``aside`` aside from the store at ``p``
    (:func:`aside_path`), or None for a name not of that form."""
    parts = aside.name[len(f".{p.name}.replaced-"):].split("-")
    if len(parts) not in (2, 3) or not all(x.isdigit() for x in parts):
        return None
    return int(parts[0]), (int(parts[1]) if len(parts) == 3 else None)


def aside_time(aside: Path) -> int:
    """When ``aside`` (:func:`aside_path`) was set aside, in ns (0 if unknown)."""
    ns = aside.name.rsplit("-", 1)[-1]
    return int(ns) if ns.isdigit() else 0


def root_attrs_at(p: Path) -> dict[str, Any]:
    """The root attributes of the store folder ``p`` ({} when it is no readable Zarr group)."""
    import zarr

    try:
        return dict(zarr.open_group(str(p), mode="r").attrs)
    except (OSError, ValueError, zarr.errors.BaseZarrError):
        return {}


def stores_left_aside(p: Path) -> list[Path]:
    """The stores interrupted upscale_to_zarr ``mode="w"`` runs set aside for the store at
    ``p``, oldest first: those of a run still going on (one on another machine included) are
    not counted. This process's own are (a call sets its own aside only after asking): an
    earlier call's, left."""
    import socket

    attrs = root_attrs_at(p)  # the run that set a store aside records itself in the new store
    w = attrs.get(WRITER_ATTR) if isinstance(attrs.get(WRITER_ATTR), Mapping) else {}
    running = attrs.get(STATUS_ATTR) not in (None, COMPLETE)
    left = []
    for aside in p.parent.glob(f".{glob.escape(p.name)}.replaced-*"):
        who = _aside_process(p, aside)
        if who is None:
            continue
        pid, start = who
        if running and w.get("pid") == pid:
            if w.get("host") != socket.gethostname() or live_writer(attrs) is not None:
                continue  # that run goes on (on another machine, it cannot be checked)
        elif pid != os.getpid() and (process_runs(pid, start) if start is not None
                                     else _process_alive(pid)):
            continue  # a run in progress sets its own aside
        left.append(aside)
    return sorted(left, key=lambda a: (aside_time(a), a.name))


def latest_finished_aside(p: Path, asides: list[Path] | None = None) -> Path | None:
    """The latest of the stores set aside for ``p`` (``asides``, oldest first; by default
    :func:`stores_left_aside`) that holds a finished result (complete, or not an xlstsr store),
    or None: the one copy advised back to ``p``."""
    done = [a for a in (stores_left_aside(p) if asides is None else asides)
            if root_attrs_at(a).get(STATUS_ATTR) in (None, COMPLETE)]
    return done[-1] if done else None


def move_advice(p: Path, aside: Path) -> str:
    """Code that moves a set-aside store to a path of its own beside ``p``."""
    to = p.with_name(f"{p.stem}.earlier-{aside_time(aside)}{p.suffix}")
    return f"move it to a path of its own (`import os; os.rename({str(aside)!r}, {str(to)!r})`)"


def advice_while_written(p: Path, aside: Path, pid: Any) -> str:
    """What to do with a store set aside from ``p`` while process ``pid`` (a resume) writes
    the store at ``p``: no restore, whose removal of that store deleted the running work."""
    return (f"Process {pid} on this machine is writing the store at {p} now: remove nothing "
            f"there, and restore this copy only once process {pid} has finished (its store "
            f"at {p} is then a result of its own); to keep both, {move_advice(p, aside)}")


def _replaced_result(p: Path) -> str:
    """The store an interrupted ``mode="w"`` run set aside from ``p`` (the latest finished
    one), with how to put it back, as a sentence; "" if none. The unfinished store such a run
    leaves at ``p`` was told to be completed only: the earlier result, kept hidden beside it,
    was not named. While a process writes ``p`` (a resume, maybe not of the run that set the
    copy aside) no restore is advised: its removal of ``p`` deleted that run's work."""
    back = latest_finished_aside(p)
    if back is None:
        return ""
    what = " (a finished result)" if root_attrs_at(back).get(STATUS_ATTR) else ""
    w = live_writer(root_attrs_at(p))
    return (f" An interrupted overwrite (mode='w') of this path set the store it replaced "
            f"aside: it is kept, hidden, at {back}{what}. "
            + (advice_while_written(p, back, w["pid"]) if w
               else restore_advice(p, back, True)) + ".")


def restore_advice(p: Path, aside: Path, unfinished: bool) -> str:
    """How to put a set-aside store back at ``p``: a rename, after removing what sits there now
    (the interrupted run's unfinished store: a rename onto a folder that is not empty fails)."""
    back = f"os.rename({str(aside)!r}, {str(p)!r})"
    if not (p.exists() or p.is_symlink()):
        return f"Restore that result with `import os; {back}`"
    what = "the unfinished store" if unfinished else "the store"
    gone = (f"shutil.rmtree({str(p)!r})" if p.is_dir() and not p.is_symlink()
            else f"os.remove({str(p)!r})")
    return (f"To restore that result, remove {what} at {p} first, then rename it back: "
            f"`import os, shutil; {gone}; {back}`")


#: files at the root of a Zarr store (v3, v2 group, v2 array)
ZARR_MARKERS = ("zarr.json", ".zgroup", ".zarray")


def holds_zarr_metadata(folder: str | os.PathLike) -> bool:
    """True if ``folder`` is the root of a Zarr store (group or array, v2 or v3)."""
    return any((Path(folder) / m).exists() for m in ZARR_MARKERS)


def is_zarr_array(folder: str | os.PathLike) -> bool:
    """True if ``folder`` holds a Zarr array (v2 or v3): a variable of a store, not a store."""
    f = Path(folder)
    if (f / ".zarray").exists():
        return True
    try:
        return json.loads((f / "zarr.json").read_text()).get("node_type") == "array"
    except (OSError, ValueError, AttributeError):  # none, unreadable or not a mapping
        return False


def is_zarr_path(path: str | os.PathLike) -> bool:
    """True if ``path`` names a Zarr store (``.zarr`` suffix, or a folder with Zarr metadata)."""
    p = str(path)
    return (
        p.rstrip("/").lower().endswith(".zarr")  # "out.Zarr" too, as ".NC" is NetCDF
        or holds_zarr_metadata(p)
    )


def open_zarr(path: str | os.PathLike, **kwargs: Any) -> xr.Dataset:
    """Open a Zarr store lazily with its CRS (``spatial_ref`` decoded as a coordinate).

    A store written by GDAL (``gdal_translate -of Zarr``, rasterio's ``driver="Zarr"``) keeps
    its CRS in each array's ``_CRS`` attribute (WKT / PROJJSON) and names its dims ``Y`` /
    ``X``: that CRS is written as the variables' grid mapping (the attribute dropped) and
    ``Y`` / ``X`` are tagged as the spatial coordinates (CF ``axis``), which xlstsr and
    rioxarray find as they find ``y`` / ``x``. A store whose arrays name no dims (written by
    zarr-python, not xarray) or a bare array store is refused with the way to name them.

    A local store is read from its arrays' own metadata (``consolidated=False``): consolidated
    metadata (``.zmetadata``, or the root ``zarr.json``'s ``consolidated_metadata``) is not
    updated by a later ``to_zarr(append_dim=..., consolidated=False)``, a variable added with
    ``mode='a'`` or zarr-python, or an attribute edited since, and was read stale (appended
    dates silently dropped); a store whose arrays have no metadata of their own (copied with its
    ``.zmetadata`` only) is read from its consolidated metadata. A store on a URL (``s3://``, ``https://``...) or a store object
    is read from its consolidated metadata when it has some (listing it costs requests, and
    an HTTP server cannot list): re-consolidate such a store after changing it
    (``zarr.consolidate_metadata(store)``), or pass ``consolidated=False``.

    Examples
    --------
    >>> import tempfile, os, xlstsr
    >>> from xlstsr.io import open_zarr
    >>> lst = xlstsr.datasets.sample_scene(n_times=1, size=16)["lst_1km"]
    >>> path = os.path.join(tempfile.mkdtemp(), "lst.zarr")
    >>> lst.to_dataset().to_zarr(path, zarr_format=3, consolidated=False)  # doctest: +ELLIPSIS
    <...>
    >>> open_zarr(path)["lst_1km"].rio.crs is not None
    True
    """
    from ..errors import InputNotFoundError, XlstsrError

    url_path = file_uri_path(path)
    if url_path is not None:  # percent-decoded, as upscale_to_zarr wrote it (fsspec did not
        # decode: a store written to Path.as_uri() was "not a readable Zarr store")
        path = url_path
    variable = kwargs.pop("variable", None)
    if variable is not None and "/" in str(variable).strip("/") and "group" not in kwargs:
        # a variable inside a group (an xarray DataTree's / EOPF product's `day/LST`), as a
        # NetCDF-4 file's ECOSTRESS `SDS/LST`
        group, _, variable = str(variable).strip("/").rpartition("/")
        kwargs["group"] = group
    local = isinstance(path, (str, os.PathLike)) and "://" not in os.fspath(path)
    own_metadata = local and "consolidated" not in kwargs
    # local: the arrays' own metadata, as listing costs nothing there (consolidated metadata
    # goes stale when a store is appended to or edited without re-consolidating)
    kwargs = {"chunks": {}, "consolidated": False if local else None, "decode_coords": "all",
              **kwargs}
    if local:  # absolute: a dask.distributed worker may start in another folder
        from .formats import absolute_path  # (formats imports this module)

        path = absolute_path(path)
    from .formats import _grouped_example, _groups_hold
    if local and not Path(path).exists():
        raise InputNotFoundError(f"no such Zarr store: {os.fspath(path)}; check the path.")
    with warnings.catch_warnings():  # v3 stores are usually not consolidated
        warnings.simplefilter("ignore", RuntimeWarning)
        try:
            ds = xr.open_zarr(os.fspath(path), **kwargs)
            if own_metadata and not ds.variables:
                # arrays described in the consolidated metadata only (copied without their
                # own .zarray): read from it, as before (the store opened empty); not when
                # some arrays have theirs (a variable deleted since: stale metadata, all fill)
                ds = xr.open_zarr(os.fspath(path), **{**kwargs, "consolidated": None})
        except ImportError as err:  # fsspec: "Install s3fs to access S3"
            raise XlstsrError(f"cannot open {os.fspath(path)}: {err} (`pip install` it)."
                              ) from None
        except (FileNotFoundError, KeyError, ValueError) as err:
            # zarr's GroupNotFoundError (a FileNotFoundError): an empty folder or a plain file
            if isinstance(err, XlstsrError):
                raise
            parent = Path(path).parent
            grouped = [] if kwargs.get("group") is None else zarr_group_variables(path)
            if grouped:  # a group that is not in the store
                raise VariableNotFoundError(
                    f"{os.fspath(path)} has no group {kwargs['group']!r}; "
                    f"{_groups_hold(grouped)}: name one as GROUP/VARIABLE, e.g. "
                    f"`variable='{_grouped_example(grouped)}'`."
                ) from None
            if local and is_zarr_array(path) and holds_zarr_metadata(parent):
                # an array of a store (out.zarr/LST): xarray opens groups
                raise XlstsrError(
                    f"{os.fspath(path)} is an array inside the Zarr store {parent}, not a "
                    f"store: open the store and select the variable (`open_zarr({str(parent)!r})"
                    f"[{Path(path).name!r}]`; on the command line the store and "
                    f"`--variable {Path(path).name}`)."
                ) from err
            if local and Path(path).is_dir() and not holds_zarr_metadata(path):
                from .formats import _folder_files_advice

                files = _folder_files_advice(path)
                if "without Zarr metadata" not in files:  # a folder of GeoTIFFs named .zarr
                    raise XlstsrError(files) from err
            _refuse_undimensioned(path, kwargs.get("group"), err)
            raise XlstsrError(
                f"{os.fspath(path)} is not a readable Zarr store ({type(err).__name__}: {err}); "
                "check the path (a store is a folder holding zarr.json or .zgroup)."
            ) from err
    if kwargs.get("decode_coords") in ("all", "coordinates", True):
        ds = _gdal_crs(ds)
    if ds.attrs.get(STATUS_ATTR) == NO_DATA_STATUS:
        # (told to complete it with mode='resume', which refused it again as all NaN)
        raise XlstsrError(
            f"the store {os.fspath(path)} holds NaN only: the upscale_to_zarr run that wrote it "
            "found no valid pixel in its input. Remove it, check the input's variable, fill "
            "value and QC mask, and write it again (mode='w')."
        )
    regions = incomplete_regions(ds.attrs, path)
    if regions is not None:
        w = live_writer(ds.attrs)
        raise XlstsrError(
            f"the store {os.fspath(path)} is incomplete: "
            + (f"{regions[0]} of its {regions[1]} time blocks were" if regions[1] else "nothing was")
            + " written by an upscale_to_zarr run that did not finish (interrupted, "
            "stopped by an error, or still running"
            + (f": process {w['pid']} on this machine is writing it now"
               if w else "")
            + "); the others read as NaN. "
            # (a resume of a store that process writes is refused: wait for it)
            + (f"Open it again once process {w['pid']} has finished; to look at the part "
               "written now, open it with `xr.open_zarr`." if w else
               "Complete it with `xlstsr.upscale_to_zarr(..., mode='resume')` and the same "
               "arguments (`xlstsr upscale IN OUT --resume`), or, to look at the part written, "
               "open it with `xr.open_zarr`.")
            + (_replaced_result(Path(path)) if local else "")
        )
    group = kwargs.get("group")
    where = f"group {group!r} of the store" if group else "store"
    if variable is not None:
        if variable in ds.data_vars:
            return ds[variable]
        held = [f"{group}/{v}" if group else str(v) for v in ds.data_vars]
        if not held:
            _refuse_unreadable_arrays(path, group, ds)
        grouped = [] if held else zarr_group_variables(path, group)
        example = _grouped_example(held or grouped) if (held or grouped) else None
        raise VariableNotFoundError(
            f"variable {variable!r} is not in the {where} {os.fspath(path)}; it has {held}"
            + (f" ({_groups_hold(grouped)})" if grouped else "")
            + (f": name one, e.g. `variable='{example}'`." if example else ".")
        )
    if not ds.data_vars:
        grouped = zarr_group_variables(path, group)
        if grouped:  # xarray opens an empty root without a word; its groups hold the fields
            example = _grouped_example(grouped)
            raise VariableNotFoundError(
                f"{os.fspath(path)} holds no variable at its "
                f"{'group ' + repr(group) if group else 'root'}; {_groups_hold(grouped)}: name "
                f"one as GROUP/VARIABLE, e.g. `variable='{example}'` (or open the group: "
                f"`group='{example.rpartition('/')[0]}'`)."
            )
        _refuse_unreadable_arrays(path, group, ds)
    return ds


def _dims_of(a: Any) -> Any:
    """The dimension names a zarr array declares for xarray (v3 ``dimension_names``, v2
    ``_ARRAY_DIMENSIONS``), None without."""
    names = getattr(a.metadata, "dimension_names", None)
    if names and all(n is not None for n in names):
        return names
    return a.attrs.get("_ARRAY_DIMENSIONS") or None


def _refuse_undimensioned(path: Any, group: str | None, err: Exception) -> None:
    """Refuse a store zarr reads but xarray cannot: one written by zarr-python (or another
    non-xarray tool) whose arrays have no dimension names, or a bare array at the store's root
    (``zarr.create_array(path)``); these were told to "check the path", which was right.
    Returns for a store zarr cannot read either (the caller's path advice stands)."""
    import zarr

    try:
        with warnings.catch_warnings():
            warnings.simplefilter("ignore")
            node = zarr.open(os.fspath(path), mode="r", path=group or "")
            arrays = ([("", node)] if isinstance(node, zarr.Array)
                      else [(n, a) for n, a in node.arrays() if _dims_of(a) is None])
    except Exception:  # zarr's own error on a store it cannot read, whatever its kind
        return
    if not arrays:
        return
    name, a = arrays[0]
    dims = ("time", "y", "x")[-a.ndim:] if a.ndim <= 3 else tuple(f"dim_{i}" for i in range(a.ndim))
    wrap = (f"`a = zarr.open_array({os.fspath(Path(path) / name) if name else os.fspath(path)!r}, "
            f"mode='r'); lst = xr.DataArray(dask.array.from_zarr(a), dims={dims}, coords={{'y': "
            "..., 'x': ...}, attrs=dict(a.attrs)).rio.write_crs(...)` and pass `lst` to "
            "xlstsr.upscale")
    if not name:
        raise XlstsrError(
            f"{os.fspath(path)} is a bare Zarr array {a.shape} (no group, no dimension names), "
            "not a store of named variables that xarray reads: name its dims and coordinates: "
            f"{wrap}, or write it as a store with xarray "
            "(`lst.to_dataset(name='LST').to_zarr('lst.zarr')`) and pass that."
        ) from err
    shown = ", ".join(f"{n!r} {x.shape}" for n, x in arrays)
    raise XlstsrError(
        f"the array(s) {shown} of the Zarr store {os.fspath(path)} have no dimension names "
        "(written by zarr-python or another tool, not xarray), which xarray needs to read "
        "them. Name them: write the store with xarray (`ds.to_zarr(...)`), or with "
        f"zarr's `dimension_names={dims}` (Zarr v3; `attrs['_ARRAY_DIMENSIONS']` in v2); or "
        f"open it with zarr and wrap it: {wrap}."
    ) from err


def _refuse_unreadable_arrays(path: Any, group: str | None, ds: xr.Dataset) -> None:
    """Refuse a local store that opened with no variable while array folders are in it: zarr
    skips an array whose metadata it cannot read with only a warning (a Zarr v3 store written
    by GDAL 3.10 lacks the arrays' required ``codecs``), and the refusal then said the variable
    was absent, "it has []". Names each such array with zarr's reason; returns for others."""
    if not isinstance(path, (str, os.PathLike)) or "://" in os.fspath(path):
        return  # (listing a remote store costs requests)
    import zarr

    root = Path(path) / (group.strip("/") if group else "")
    try:
        folders = sorted(f for f in root.iterdir() if f.is_dir() and str(f.name) not in ds.variables
                         and _array_folder(f))
    except OSError:
        return
    reasons = []
    for f in folders:
        with warnings.catch_warnings(record=True) as said:
            warnings.simplefilter("always")
            try:
                zarr.open_array(os.fspath(f), mode="r")
                continue  # readable: not what emptied the Dataset (a coordinate of none)
            except Exception as err:  # zarr's error on its metadata, whatever its kind
                why = f"{type(err).__name__}: {err}"
        warned = [str(w.message) for w in said]
        reasons.append(f"{f.name!r} ({why}" + (f"; zarr warned: {warned[0]}" if warned else "")
                       + ")")
    if reasons:
        raise XlstsrError(
            f"{os.fspath(path)} opens with no variable: zarr could not read its array(s) "
            f"{', '.join(reasons)}. A store written by GDAL as Zarr v3 (`-co FORMAT=ZARR_V3`, "
            "rasterio's FORMAT='ZARR_V3'; GDAL 3.10 leaves out the arrays' required 'codecs'): "
            "write it again as Zarr v2, GDAL's default (`gdal_translate -of Zarr -co "
            "FORMAT=ZARR_V2 IN OUT.zarr`); otherwise fix the arrays' zarr.json (or .zarray)."
        )


def _array_folder(folder: Path) -> bool:
    """Whether ``folder`` holds a Zarr array's metadata (v2 ``.zarray``, or a v3 ``zarr.json``
    whose node type is not a group: groups are named by :func:`zarr_group_variables`)."""
    if (folder / ".zarray").is_file():
        return True
    meta = folder / "zarr.json"
    if not meta.is_file():
        return False
    try:
        node = json.loads(meta.read_text()).get("node_type")
    except (OSError, ValueError, AttributeError):
        return True  # unreadable metadata: zarr's reason is named
    return node != "group"


def zarr_group_variables(store: Any, group: str | None = None) -> list[str]:
    """The variables held in the groups of a Zarr store (under ``group``), as
    ``group/variable`` paths from the store's root (``day/LST`` of a store written with
    ``to_zarr(store, group='day')``), dimension coordinates and xlstsr's own progress record
    left out; [] for a store without groups or that zarr cannot read."""
    import zarr

    found: list[str] = []

    def walk(g: Any, prefix: str) -> None:
        for name, sub in g.groups():
            here = f"{prefix}{name}"
            if here == PROGRESS_DONE.split("/")[0]:
                continue
            arrays = list(sub.arrays())
            dims: set[str] = set()
            for _, a in arrays:
                dims |= set(getattr(a.metadata, "dimension_names", None)
                            or a.attrs.get("_ARRAY_DIMENSIONS", ()) or ())
            found.extend(f"{here}/{k}" for k, a in arrays if k not in dims and a.ndim >= 1)
            walk(sub, f"{here}/")

    local = isinstance(store, (str, os.PathLike)) and "://" not in os.fspath(store)
    try:  # a local store's own metadata, as open_zarr reads it (consolidated may be stale)
        root = zarr.open_group(os.fspath(store) if isinstance(store, os.PathLike) else store,
                               mode="r", path=group or "",
                               use_consolidated=False if local else None)
        walk(root, f"{group.strip('/')}/" if group else "")
    except Exception:  # not a group, unreadable: nothing to name
        return []
    return found


#: the attribute in which GDAL's Zarr driver keeps an array's CRS ({"wkt": ..., "projjson": ...})
GDAL_CRS_ATTR = "_CRS"


def _crs_of_gdal_attr(value: Any) -> Any:
    """The CRS of a GDAL ``_CRS`` attribute (its ``wkt``, else ``projjson``, else ``url``; or
    a text), or None when it holds none that pyproj reads."""
    from pyproj import CRS
    from pyproj.exceptions import CRSError

    forms = ([value.get("wkt"), value.get("projjson"), value.get("url")]
             if isinstance(value, Mapping) else [value])
    for form in forms:
        if not form:
            continue
        try:
            return CRS.from_json_dict(form) if isinstance(form, Mapping) else CRS.from_user_input(
                str(form))
        except (CRSError, TypeError, ValueError):
            continue
    return None


def _gdal_crs(ds: xr.Dataset) -> xr.Dataset:
    """A store written by GDAL's Zarr driver read with its CRS: each array keeps it in the
    attribute ``_CRS`` (no CF grid mapping, so xarray and rioxarray saw none, and upscale
    stopped with "no CRS" after the advice to rename the dims) and names its dims ``Y`` /
    ``X``. A variable with ``_CRS`` and no grid mapping gets the CRS written
    (``rio.write_crs``) and the attribute dropped; its ``Y`` / ``X`` coordinates are tagged
    with CF's ``axis`` (rioxarray's ``write_coordinate_system``), which rioxarray and xlstsr
    find as spatial dims (a NoSpatialDimsError asked to rename them)."""
    found = {k: _crs_of_gdal_attr(v.attrs[GDAL_CRS_ATTR]) for k, v in ds.data_vars.items()
             if GDAL_CRS_ATTR in v.attrs and "grid_mapping" not in v.attrs
             and "grid_mapping" not in v.encoding}
    found = {k: c for k, c in found.items() if c is not None}
    if not found:
        return ds
    crss = list(dict.fromkeys(c.to_wkt() for c in found.values()))
    for k, crs in found.items():
        # one grid mapping for one CRS (GDAL writes one array); one per CRS otherwise
        name = "spatial_ref" if len(crss) == 1 else f"spatial_ref_{crss.index(crs.to_wkt())}"
        var = ds[k].copy()
        var.attrs = {a: v for a, v in var.attrs.items() if a != GDAL_CRS_ATTR}
        ds = ds.assign({k: var.rio.write_crs(crs, grid_mapping_name=name)})
    dims = {d for k in found for d in ds[k].dims}
    if {"Y", "X"} <= dims and not {"y", "x"} & set(map(str, ds.dims)) \
            and all(c in ds.coords and ds[c].dims == (c,) for c in ("Y", "X")):
        from rioxarray.exceptions import RioXarrayError

        try:
            ds = ds.rio.set_spatial_dims(x_dim="X", y_dim="Y").rio.write_coordinate_system()
        except RioXarrayError:  # rioxarray cannot tag them: its NoSpatialDimsError names them
            return ds
    return ds


def incomplete_regions(attrs: Any, store: Any) -> tuple[int, int] | None:
    """``(written, total)`` time blocks of a store :func:`xlstsr.upscale_to_zarr` has not
    finished (its ``xlstsr_status`` attribute), or None for a finished store or any other.

    Examples
    --------
    >>> from xlstsr.io.zarr import incomplete_regions
    >>> incomplete_regions({"xlstsr_status": "complete"}, "out.zarr") is None
    True
    """
    status = attrs.get(STATUS_ATTR)
    if status is None or status == COMPLETE:
        return None
    import zarr

    try:
        done = np.asarray(zarr.open_array(store, path=PROGRESS_DONE, mode="r")[:])
    except (FileNotFoundError, KeyError, zarr.errors.BaseZarrError):
        # stopped before its progress record was made (other read errors propagate: a
        # transient failure is not "nothing written")
        return (0, 0)
    return int(done.astype(bool).sum()), int(done.size)


def local_path(p: Any) -> Path | None:
    """``p`` as a resolved local path, or None (a URL, a remote store, anything else).

    A local store object (zarr 3 ``LocalStore``, zarr 2 ``DirectoryStore``, an fsspec mapper on
    the local file system) is its folder: given as an object, a store over the input was not
    recognised and ``mode="w"`` deleted the user's input before reading it."""
    if isinstance(p, (xr.DataArray, xr.Dataset)):
        return None  # its attrs ('path', 'root') are no store: files_read finds what it reads
    if not isinstance(p, (str, os.PathLike)):
        for attr in ("root", "path"):  # LocalStore, DirectoryStore
            v = getattr(p, attr, None)
            if isinstance(v, (str, os.PathLike)) and not _remote(p):
                return local_path(v)
        fs = getattr(p, "fs", None)  # fsspec FSMap
        if fs is not None and "file" in _protocols(fs) and isinstance(getattr(p, "root", None), str):
            return local_path(p.root)
        return None
    try:
        url_path = file_uri_path(p)
    except XlstsrError:  # another host's file (a catalogue's source attr): none of this machine
        return None
    if url_path is not None:  # decoded: 'file:///my%20data' is the folder 'my data'
        return url_path.resolve()
    if "://" in os.fspath(p):
        return None
    return Path(p).resolve()


def file_uri_path(text: Any) -> Path | None:
    """The local path a ``file://`` URL names, percent-decoded; None for anything else.

    A file URL is percent-encoded (``Path.as_uri()`` writes a space as ``%20``, ``é`` as
    ``%C3%A9``): read as it is, ``file:///my%20data/out.zarr`` named a folder literally called
    ``my%20data``, not the ``my data`` the URL was made from. ``file://localhost/...`` is local
    too; a chained fsspec URL (``file://...::...``) is left to fsspec (None).

    Parameters
    ----------
    text : str, os.PathLike or any
        A path, a URL, or anything else (None for whatever is no ``file://`` URL).

    Returns
    -------
    pathlib.Path or None
        The decoded path (not resolved, ``~`` not expanded), or None.

    Raises
    ------
    XlstsrError
        For a ``file://`` URL naming another host (``file://server/data``), which is not a
        file of this machine, or holding an unencoded ``#`` or ``?`` (which end a URL's path).

    Examples
    --------
    >>> from xlstsr.io.zarr import file_uri_path
    >>> file_uri_path("file:///tmp/my%20data%20%C3%A9/out.zarr")
    PosixPath('/tmp/my data é/out.zarr')
    >>> file_uri_path("/tmp/out.zarr") is None
    True
    """
    if not isinstance(text, (str, os.PathLike)):
        return None
    s = os.fspath(text)
    if not isinstance(s, str) or not s.startswith("file://") or "::" in s:
        return None
    from urllib.parse import unquote, urlparse

    u = urlparse(s)
    if u.netloc not in ("", "localhost"):
        raise XlstsrError(
            f"{s!r} names another host ({u.netloc}): a file:// URL names a file of this "
            "machine, as file:///absolute/path (three slashes). Give a local path, or the URL "
            "of a remote store fsspec reads (e.g. 's3://bucket/cube.zarr')."
        )
    if u.query or u.fragment:  # 'run#1.zarr' read as the folder 'run' (a URL's fragment)
        raise XlstsrError(
            f"{s!r} holds '#' or '?', which end a URL's path: it named "
            f"{unquote(u.path)!r}. Encode them ('%23', '%3F', as Path.as_uri() writes them) "
            "or give the local path itself."
        )
    return Path(unquote(u.path))


def _protocols(fs: Any) -> tuple[str, ...]:
    proto = getattr(fs, "protocol", ())
    return (proto,) if isinstance(proto, str) else tuple(proto)


def _remote(store: Any) -> bool:
    """A store object on a remote file system (its fsspec ``fs`` is not the local one)."""
    fs = getattr(store, "fs", None)
    return fs is not None and "file" not in _protocols(fs) and "local" not in _protocols(fs)


def _backend_array(a: Any) -> Any:
    """The backend array under xarray's indexing adapters (ImplicitToExplicitIndexingAdapter >
    CopyOnWriteArray > LazilyIndexed...)."""
    for _ in range(12):
        if not hasattr(a, "array"):
            break
        a = a.array
    return a


def _zarr_store(a: Any) -> Any:
    """The Zarr store a backend array reads: a ``zarr.Array`` (``dask.array.from_zarr`` holds
    one) or xarray's ZarrArrayWrapper around one; else None."""
    import zarr

    for z in (a, getattr(a, "_array", None)):
        if isinstance(z, zarr.Array):
            return z.store
    return None


# what a task's argument can hold that reads no file (skipped without a look at attributes)
_PLAIN = (str, bytes, int, float, complex, bool, slice, type(None), type(Ellipsis), range)


def _task_values(t: Any, depth: int = 0) -> Any:
    """The literal values a dask task holds (dask's Task args and kwargs, DataNode values,
    nested containers, legacy tuple tasks): an array opened with ``inline_array=True`` sits
    there, not in an ``original-*`` layer. References to other tasks are skipped; nothing
    is computed."""
    from dask._task_spec import DataNode, GraphNode, TaskRef

    if depth > 6 or isinstance(t, (*_PLAIN, TaskRef)):
        return
    if isinstance(t, DataNode):
        yield from _task_values(t.value, depth + 1)
    elif isinstance(t, GraphNode):  # Task, List/Tuple/Dict containers; Alias/TaskRef: none
        for v in (*getattr(t, "args", ()), *dict(getattr(t, "kwargs", None) or {}).values()):
            yield from _task_values(v, depth + 1)
    elif isinstance(t, (tuple, list)):  # a legacy task (func, *args) or a literal sequence
        for v in (t[1:] if isinstance(t, tuple) and t and callable(t[0]) else t):
            yield from _task_values(v, depth + 1)
    elif isinstance(t, dict):
        for v in t.values():
            yield from _task_values(v, depth + 1)
    elif not isinstance(t, (np.ndarray, np.generic)) and not callable(t):  # not a task's function
        yield t


def _graph_arrays(raw: Any) -> list[Any]:
    """The backend arrays a dask array's graph holds, for :func:`files_read` and
    :func:`urls_read`: the objects of dask's ``original-*`` layers (``from_array``), the
    template of every Blockwise layer (``inline_array=True``, ``from_zarr``: read without
    building its tasks) and the literals in one task of every other materialised layer (a
    hand-built graph: every task of a layer holds the same array). Other layers that are not
    materialised (map_overlap's and rolling's ArrayOverlapLayer) only rearrange other layers'
    chunks: looking at one of their tasks would build them all (seconds and hundreds of MiB
    on a long cube), so they are skipped."""
    from dask.blockwise import Blockwise

    found: list[Any] = []
    graph = raw.__dask_graph__()
    for name, layer in getattr(graph, "layers", {"": graph}).items():
        if str(name).startswith("original-"):  # dask's from_array keeps the array object here
            found += list(layer.values())
        elif isinstance(layer, Blockwise):
            found += list(_task_values(layer.task))
            found += [v for v, ind in layer.indices if ind is None]  # the inlined literals
        elif getattr(layer, "is_materialized", lambda: True)():  # a plain dict graph: is
            first = next(iter(layer.values()), None)
            found += list(_task_values(first)) if first is not None else []
    return [a for v in found for a in _task_values(v)]


def _backend_file(a: Any) -> Any:
    """The file or store path a lazily loaded backend array reads (xarray's Zarr, NetCDF and
    rioxarray's GeoTIFF wrappers, under their indexing adapters), or None."""
    a = _backend_array(a)
    zstore = _zarr_store(a)
    # zarr 3 LocalStore (an FsspecStore's path), zarr 2 DirectoryStore; a remote store's path
    # is no local one (urls_read's)
    for attr in ("root", "path") if not _remote(zstore) else ():
        v = getattr(zstore, attr, None)
        if isinstance(v, (str, os.PathLike)):
            return v
    datastore = getattr(a, "datastore", None)  # NetCDF (netCDF4, h5netcdf, scipy)
    for manager in (getattr(datastore, "_manager", None), getattr(a, "manager", None)):
        args = getattr(manager, "_args", None)  # xarray's CachingFileManager (rioxarray too)
        if args and isinstance(args[0], (str, os.PathLike)):
            return args[0]
    return None


def files_read(obj: Any) -> set[Path]:
    """Local files and stores a (lazy) DataArray, Dataset, guide list or dict reads: its
    ``encoding['source']`` and the paths of the backend arrays in its dask graph or behind its
    lazy indexing. Metadata only: nothing is read."""
    found: set[Any] = set()
    if isinstance(obj, xr.Dataset):
        for v in obj.data_vars.values():
            found |= files_read(v)
        return found
    if isinstance(obj, Mapping):
        return set().union(*(files_read(v) for v in obj.values())) if obj else found
    if isinstance(obj, (list, tuple)):
        return set().union(*(files_read(v) for v in obj)) if obj else found
    if not isinstance(obj, xr.DataArray):
        return found
    found.add(obj.encoding.get("source"))
    raw = obj.variable._data  # peeking: `.data` would load a lazily indexed array
    found.add(_backend_file(raw))
    if isinstance(raw, dsa.Array):
        found |= {_backend_file(a) for a in _graph_arrays(raw)}
    return {p for p in (local_path(f) for f in found if f is not None) if p is not None}


def url_key(url: str) -> str:
    """A store URL as compared with others: ``scheme://path`` without trailing slashes."""
    scheme, _, rest = url.partition("://")
    return f"{scheme.lower()}://{rest.strip('/')}"


def urls_read(obj: Any) -> set[str]:
    """The remote stores (fsspec: ``s3://``, ``gs://``, ``memory://``...) a lazy DataArray,
    Dataset, guide list or dict reads, as :func:`url_key`; local files are
    :func:`files_read`'s. Metadata only."""
    if isinstance(obj, xr.Dataset):
        return set().union(*(urls_read(v) for v in obj.data_vars.values()))
    if isinstance(obj, Mapping):
        return set().union(*(urls_read(v) for v in obj.values())) if obj else set()
    if isinstance(obj, (list, tuple)):
        return set().union(*(urls_read(v) for v in obj)) if obj else set()
    if not isinstance(obj, xr.DataArray):
        return set()
    found = set()
    src = obj.encoding.get("source")
    if isinstance(src, str) and "://" in src and not src.startswith("file://"):
        found.add(url_key(src))
    for zstore in zarr_stores_read(obj):
        key = store_url_key(zstore)
        if key is not None:
            found.add(key)
    return found


def store_url_key(store: Any) -> str | None:
    """A remote store object (zarr's ``FsspecStore``, an fsspec mapper) as :func:`url_key`
    (``protocol://path``), or None for a local or in-memory object store."""
    fs = getattr(store, "fs", None)
    path = getattr(store, "path", None)
    if not isinstance(path, str):
        path = getattr(store, "root", None)  # an fsspec mapper (FSMap)
    if fs is None or not isinstance(path, str) or not _remote(store):
        return None
    return url_key(path if "://" in path else f"{_protocols(fs)[0]}://{path}")


def zarr_stores_read(obj: Any) -> list[Any]:
    """The Zarr store objects a lazy DataArray, Dataset, guide list or dict reads (the stores
    of the ``zarr.Array`` objects behind its lazy indexing and in its dask graph), each once.
    Metadata only."""
    if isinstance(obj, xr.Dataset):
        return zarr_stores_read(list(obj.data_vars.values()))
    if isinstance(obj, Mapping):
        return zarr_stores_read(list(obj.values()))
    if isinstance(obj, (list, tuple)):
        found: dict[int, Any] = {}
        for v in obj:
            found.update((id(s), s) for s in zarr_stores_read(v))
        return list(found.values())
    if not isinstance(obj, xr.DataArray):
        return []
    raw = obj.variable._data
    arrays = [raw]
    if isinstance(raw, dsa.Array):
        arrays += _graph_arrays(raw)
    stores = (_zarr_store(_backend_array(a)) for a in arrays)
    return list({id(s): s for s in stores if s is not None}.values())


def _arrays_of(obj: Any) -> list[tuple[xr.DataArray, Mapping]]:
    """The DataArrays of an input or guide (a DataArray, a Dataset's variables, a guide list or
    dict), each with the attributes of the Dataset that holds it (``{}`` for none)."""
    if isinstance(obj, xr.DataArray):
        return [(obj, {})]
    if isinstance(obj, xr.Dataset):
        return [(v, obj.attrs) for v in obj.data_vars.values()]
    if isinstance(obj, Mapping):
        return [a for v in obj.values() for a in _arrays_of(v)]
    if isinstance(obj, (list, tuple)):
        return [a for v in obj for a in _arrays_of(v)]
    return []


def refuse_incomplete_inputs(source: Any, guide: Any,
                             roles: tuple[str, str] = ("source", "guide")) -> None:
    """Refuse a lazy input or guide that reads unwritten time steps of the store of an
    unfinished upscale_to_zarr run (``xr.open_zarr`` opens it; its unwritten steps are NaN and
    would be streamed on, or exported, as if cloudy), be the store local, on a URL
    (``s3://``...) or in memory; a selection of its written steps only passes. A copy in memory
    (``.load()``) carries the variable's ``xlstsr_status`` attribute: its steps without a valid
    pixel are refused (the store, which tells unwritten from cloudy, is no longer read). A path
    is checked when it is opened (:func:`xlstsr.io.open_zarr`). ``roles``: what the refusal
    calls the two (upscale_to_zarr reads a "source"; the LST given to coarsen is no source)."""
    import zarr

    for role, obj in zip(roles, (source, guide)):
        if isinstance(obj, (str, os.PathLike)):
            continue
        for da, holder in _arrays_of(obj):
            stores: list[tuple[Any, Mapping, Any]] = []
            for read in sorted(files_read(da)):
                if not (read / "zarr.json").exists():
                    continue
                # the store read, or the group holding an array opened at its own path
                # (`zarr.open_array("out.zarr/lst")` given to dask.array.from_zarr)
                attrs = p = None
                for p in (read, read.parent):
                    try:
                        attrs = dict(zarr.open_group(p, mode="r").attrs)
                        break
                    except Exception:  # an array path, or not a group: nothing to say
                        continue
                if attrs is not None:
                    stores.append((p, attrs, p))
            # a store on a URL (s3://, gs://, memory://) or in memory: no local file, but as
            # unfinished (its unwritten steps were streamed on as cloud, into a store marked
            # complete)
            for (label, zstore), parent in _object_stores(da):
                attrs = _root_attrs(zstore)
                if attrs is None and parent is not None:
                    # an array opened at its own path: the group holding it, as for a local one
                    # (only then: the folder above a readable store may be another's, or denied)
                    label, zstore = parent
                    attrs = _root_attrs(zstore)
                if attrs is not None:
                    stores.append((label, attrs, zstore))
            for label, attrs, zstore in stores:
                _refuse_incomplete(role, label, attrs, zstore, da)
            if not stores and INCOMPLETE in (da.attrs.get(STATUS_ATTR),
                                             holder.get(STATUS_ATTR)):
                _refuse_unwritten_copy(role, da)


def _store_steps(store: Any, da: xr.DataArray
                 ) -> tuple[Hashable, Hashable, np.ndarray, np.ndarray, tuple[int, ...],
                            dict[Hashable, np.ndarray]] | None:
    """``(variable, time dim, labels, written, shape, others)`` of the store of an unfinished
    upscale_to_zarr run: the store's own name of the variable read (the DataArray's may be
    another, renamed or None), every step's label, whether its time block (region) is written,
    the variable's shape, and its other coordinates along the time dim (a day+night series'
    ``overpass``, which tells apart steps of one date); None where it cannot be told (no time
    dim, no progress record, a layout of another kind)."""
    import zarr

    try:
        ds = xr.open_zarr(store, consolidated=False, decode_coords="all", chunks=None)
        done = np.asarray(zarr.open_array(store, path=PROGRESS_DONE, mode="r")[:])
    except Exception as err:  # (an unreadable store: judged whole, as before)
        log.debug("no steps read from %r (%s)", store, err)
        return None
    names = [da.name] if da.name in ds.data_vars else list(ds.data_vars)
    var = ds[names[0]] if len(names) == 1 else None
    if var is None or var.ndim != 3 or not done.size:
        return None
    tdim = var.dims[0]
    chunk = (var.encoding.get("chunks") or var.encoding.get("preferred_chunks", {}).get(tdim)
             or (None,))
    chunk = chunk[0] if isinstance(chunk, (tuple, list)) else chunk
    n = var.sizes[tdim]
    if not isinstance(chunk, (int, np.integer)) or chunk < 1 or -(-n // chunk) != done.size:
        return None
    written = done.astype(bool)[np.arange(n) // chunk]
    others = {k: np.asarray(c.values) for k, c in ds.coords.items()
              if k != tdim and c.dims == (tdim,)}
    return names[0], tdim, np.asarray(ds[tdim].values), written, tuple(var.shape), others


def _steps_advice(written: np.ndarray) -> str:
    """An ``isel`` indexer of the steps ``written`` marks, as code: a slice, or ``np.r_`` of
    the runs of written steps (regions finish nearly in order: few runs).

    Examples
    --------
    >>> _steps_advice(np.array([True, True, False]))
    'slice(0, 2)'
    >>> _steps_advice(np.array([True, False, True, True]))
    'np.r_[0:1, 2:4]'
    """
    idx = np.flatnonzero(written)
    cuts = np.flatnonzero(np.diff(idx) > 1)
    starts, ends = idx[np.r_[0, cuts + 1]], idx[np.r_[cuts, idx.size - 1]] + 1
    if starts.size == 1:
        return f"slice({int(starts[0])}, {int(ends[0])})"
    return "np.r_[" + ", ".join(f"{int(a)}:{int(b)}" for a, b in zip(starts, ends)) + "]"


#: what :func:`_step_states` says of a selected step
WRITTEN, UNWRITTEN, UNTOLD, NOT_STORED = 1, 0, -1, -2


def _step_states(chosen: list[tuple], steps: list[tuple], written: np.ndarray) -> np.ndarray:
    """Each selected step's state (:data:`WRITTEN`, :data:`UNWRITTEN`, :data:`NOT_STORED`: its
    label is none of the store's, or :data:`UNTOLD`: it is one of several steps of one label,
    some written and some not), judged by its label and other coordinates (a tuple, e.g. with
    an overpass) against every store step of them. A lazy selection keeps no positions: one
    matched by position (the earliest and latest way the selection fitted the store's order)
    passed an unwritten step of a repeated label, selected out of order (``isel(time=[-1,
    0])`` of day, night, day, night steps written as an all-NaN file).

    Examples
    --------
    >>> _step_states([("a",), ("b",), ("b",)], [("a",), ("a",), ("b",), ("b",)],
    ...              np.array([True, False, True, True])).tolist()
    [-1, 1, 1]
    >>> _step_states([("a", "day"), ("z", "day")], [("a", "day"), ("a", "night")],
    ...              np.array([True, False])).tolist()
    [1, -2]
    """
    ids: dict[tuple, list[int]] = {}
    for i, k in enumerate(steps):
        ids.setdefault(k, []).append(i)
    out = np.full(len(chosen), NOT_STORED)
    for j, k in enumerate(chosen):
        if k in ids:
            w = written[ids[k]]
            out[j] = WRITTEN if w.all() else UNWRITTEN if not w.any() else UNTOLD
    return out


#: a NaN coordinate value in a step's key (NaN != NaN: a step of a NaN cloud cover matched
#: none of the store's, and was refused as relabelled)
_NAN_KEY = ("nan",)


def _key_value(v: Any) -> Any:
    """A step coordinate's value as a key: numpy scalars as Python values (which hash as the
    values), NaN as :data:`_NAN_KEY`."""
    v = v.item() if isinstance(v, np.generic) else v
    return _NAN_KEY if isinstance(v, (float, complex)) and v != v else v


def _step_keys(labels: np.ndarray, others: Mapping[Hashable, np.ndarray], n: int) -> list[tuple]:
    """Each step as a tuple of its label and other coordinates (:func:`_key_value`)."""
    cols = [np.broadcast_to(np.atleast_1d(v), (n,)) for v in (labels, *others.values())]
    # dates of either side in one unit (a loaded copy's may be in seconds)
    cols = [c.astype(c.dtype.str[:3] + "[ns]") if c.dtype.kind in "mM" else c for c in cols]
    return [tuple(_key_value(c[i]) for c in cols) for i in range(n)]


def _written_untold(labels: np.ndarray, others: Mapping[Hashable, np.ndarray],
                    written: np.ndarray) -> bool:
    """Whether the store's written steps, selected lazily, are not told by their labels (and
    other coordinates) from its unwritten ones: their selection, advised, was refused again."""
    try:
        keys = _step_keys(labels, others, labels.size)
        chosen = [k for k, w in zip(keys, written) if w]
        return bool((_step_states(chosen, keys, written) == UNTOLD).any())
    except (TypeError, ValueError):  # labels of another kind: the selection judged whole
        return False


def _refuse_incomplete(role: str, label: Any, attrs: Mapping, store: Any,
                       da: xr.DataArray | None = None) -> None:
    regions = incomplete_regions(attrs, store)
    if regions is None:
        return
    selected = ""
    steps = (_store_steps(store, da) if da is not None and regions[1]
             and attrs.get(STATUS_ATTR) == INCOMPLETE else None)
    if steps is not None:
        vname, tdim, labels, written, _, others = steps
        state = chosen = None
        if tdim in da.coords:
            try:
                chosen = np.atleast_1d(np.asarray(da[tdim].values))
                # the other coordinates along the time dim both hold (an overpass)
                both = {k: v for k, v in others.items()
                        if k in da.coords and da[k].dims in ((tdim,), ())}
                state = _step_states(
                    _step_keys(chosen, {k: da[k].values for k in both}, chosen.size),
                    _step_keys(labels, both, labels.size), written)
                names = _step_names(chosen, {k: da[k].values for k in both})
            except (TypeError, ValueError):  # labels of another kind: judged whole
                state = None
        if state is not None and (state == WRITTEN).all():
            return  # only written steps selected (open_zarr's own advice)
        if state is not None:
            # a step not in the store (resampled, relabelled) may average unwritten ones
            bad = (state == UNWRITTEN) | (state == NOT_STORED)
            if bad.any():
                selected = (f"; {int(bad.sum())} of the {int(chosen.size)} steps selected "
                            f"({_label_list(names[bad], full=True)}) are not among the written "
                            "ones")
            untold = state == UNTOLD
            if untold.any():
                selected += (f"; {int(untold.sum())} of the {int(chosen.size)} steps selected "
                             f"({_label_list(names[untold], full=True)}) share their label "
                             "with unwritten steps, and cannot be told from them by label")
        elif tdim not in da.coords:
            # (a reduction's dask graph may hold unwritten steps however it was selected:
            # loaded, persisted, concatenated; not told from it)
            selected = (f"; its {str(tdim)!r} dim is gone (a reduction over time?), so which "
                        "steps it holds cannot be told")
        if written.any():
            # the store's name of the variable: the DataArray's own (renamed, or None for
            # an arithmetic result) raised KeyError when the advice was followed
            pick = f"[{str(vname)!r}].isel({tdim}={_steps_advice(written)})"
            opened = (f"xr.open_zarr({str(label)!r}, consolidated=False, decode_coords='all')"
                      if isinstance(label, Path) or "://" in str(label) else "(the store opened)")
            relabelled = state is not None and bool(((state == NOT_STORED)
                                                     | (state == UNTOLD)).any())
            if relabelled or tdim not in da.coords or _written_untold(labels, others, written):
                # (a reduction of a loaded copy is no longer the store's: not judged by it;
                # the same selection reduced or relabelled lazily, its labels not the store's,
                # is refused again, advised what it did)
                then = ("reduce that copy in memory" if tdim not in da.coords
                        else "relabel or reduce that copy in memory"
                        if state is not None and (state == NOT_STORED).any()
                        else "use that copy (the store's labels repeat: a lazy selection of "
                        "its steps is not told from the unwritten ones by them)")
                selected += (". To use the steps written, select and load them: "
                             f"`{opened}{pick}.load()`, and {then}")
            else:
                selected += f". To use the steps written, select them: `{opened}{pick}`"
    raise XlstsrError(
        f"the {role} is read from {label}, the store of an upscale_to_zarr run that did "
        f"not finish ({regions[0]} of {regions[1]} time blocks written; the others "
        f"read as NaN){selected}. Complete that store first (mode='resume', or `xlstsr upscale "
        "... --resume`), then use it."
    )


def _step_names(labels: np.ndarray, others: Mapping[Hashable, Any]) -> np.ndarray:
    """Each step's label as text, with its other coordinates (a day+night series' overpass)."""
    names = [str(v)[:19] for v in labels]
    for v in others.values():
        v = np.broadcast_to(np.atleast_1d(np.asarray(v)), (len(names),))
        names = [f"{a} {b.decode(errors='replace') if isinstance(b, bytes) else b}"
                 for a, b in zip(names, v)]
    return np.asarray(names, dtype=object)


def _label_list(labels: np.ndarray, n: int = 4, full: bool = False) -> str:
    """Up to ``n`` labels as text (cut to a date and time unless ``full``), with how many
    more."""
    shown = ", ".join(str(v) if full else str(v)[:19] for v in labels[:n])
    return shown + (f", ... {labels.size - n} more" if labels.size > n else "")


def _refuse_unwritten_copy(role: str, da: xr.DataArray) -> None:
    """Refuse a copy of a store of an unfinished upscale_to_zarr run (its variable's
    ``xlstsr_status`` attribute), read from elsewhere (``.load()``, a file saved from it),
    whose steps without a valid pixel may be unwritten ones, read as NaN: the store is not
    read, so they are told by their values."""
    ydim, xdim = da.dims[-2:] if da.ndim >= 2 else (None, None)
    if ydim is None:
        return
    empty = da.isnull().all((ydim, xdim))
    empty = np.atleast_1d(np.asarray(empty.values))  # (a chunked copy: computed here)
    if not empty.any():
        return
    lead = [d for d in da.dims if d not in (ydim, xdim)]
    where = ""
    if len(lead) == 1:
        tdim = lead[0]
        labels = (np.asarray(da[tdim].values) if tdim in da.coords
                  else np.arange(da.sizes[tdim]))
        where = (f" at {int(empty.sum())} of its {empty.size} steps ({_label_list(labels[empty])})"
                 f"; select the others, e.g. `da.dropna({str(tdim)!r}, how='all')`, or")
    else:
        where = ";"
    raise XlstsrError(
        f"the {role} is a copy of the store of an upscale_to_zarr run that did not finish (its "
        f"attribute {STATUS_ATTR!r}), read without the store (loaded into memory, saved to a "
        f"file): it holds no valid pixel{where} complete that store (mode='resume', or `xlstsr "
        "upscale ... --resume`) and open it again. Its unwritten steps read as NaN, like "
        "all-cloud ones."
    )


def _object_stores(obj: Any) -> list[tuple[tuple[str, Any], tuple[str, Any] | None]]:
    """``((label, store), parent)`` for the remote and in-memory Zarr stores ``obj`` reads
    (local ones are :func:`files_read`'s), each once; ``parent``: for a remote one, the
    ``(label, store)`` of the folder above it (the group of an array opened at its own path,
    ``dask.array.from_zarr("s3://b/out.zarr/lst")``), else None."""
    import posixpath

    from zarr.storage import FsspecStore, MemoryStore

    found: dict[str, tuple[tuple[str, Any], tuple[str, Any] | None]] = {}
    for zstore in zarr_stores_read(obj):
        key = store_url_key(zstore)
        if key is not None and isinstance(zstore, FsspecStore):
            parent = posixpath.dirname(zstore.path.rstrip("/"))
            up = None
            if parent.strip("/"):
                up = (url_key(f"{key.partition('://')[0]}://{parent}"),
                      FsspecStore(zstore.fs, read_only=True, path=parent))
            found.setdefault(key, ((key, zstore), up))
        elif isinstance(zstore, MemoryStore):
            found.setdefault(f"id:{id(zstore._store_dict)}",
                             ((f"an in-memory store ({type(zstore).__name__})", zstore), None))
    return list(found.values())


def _root_attrs(store: Any) -> dict | None:
    """The attributes of the group at the root of a store object, or None (an array, no Zarr
    node there, or one that cannot be read: access denied, a server error; the check is a
    courtesy, the read of the data itself reports those)."""
    import zarr

    try:
        return dict(zarr.open_group(store, mode="r").attrs)
    except (OSError, KeyError, ValueError, zarr.errors.BaseZarrError) as err:
        log.debug("no group attributes read from %r (%s)", store, err)
        return None


def store_exists(store: Any) -> bool:
    """True if a store (path or zarr store object) exists and is not an empty folder."""
    import zarr

    if not isinstance(store, (str, os.PathLike, xr.DataArray, xr.Dataset)) \
            and local_path(store) is not None:
        # a local store object (LocalStore, DirectoryStore, an fsspec local mapper or store):
        # its folder, as a path (zarr.open_group took a folder of the user's files for none)
        store = local_path(store)
    url_path = file_uri_path(store)
    if url_path is not None:  # 'file:///my%20data': the folder 'my data'
        store = url_path
    if isinstance(store, (str, os.PathLike)) and "://" not in os.fspath(store):
        p = Path(os.path.expanduser(os.fspath(store)))
        return p.exists() and (not p.is_dir() or any(p.iterdir()))
    if isinstance(store, str):  # a URL: an existing store, or any object under the path
        import fsspec

        try:
            fs, root = fsspec.core.url_to_fs(store)
            if fs.exists(root) and (not fs.isdir(root) or bool(fs.ls(root))):
                return True
        except Exception:  # not listable (HTTP): ask zarr below
            pass
    try:
        zarr.open_group(store, mode="r")
        return True
    except Exception:
        return False


def zarr_compressors(spec: Any) -> Any:
    """Zarr v3 codecs for ``compressors=``: ``"auto"`` (Blosc LZ4 + byte shuffle), None or codecs."""
    from zarr.abc.codec import BytesBytesCodec

    from ..errors import XlstsrError

    how = ("use 'auto' (Blosc LZ4), None (uncompressed) or Zarr v3 codecs, e.g. "
           "`compressors=(zarr.codecs.ZstdCodec(level=3),)` or "
           "`(zarr.codecs.BloscCodec(cname='zstd'),)`")
    if isinstance(spec, str):
        if spec != "auto":
            raise XlstsrError(f"compressors={spec!r} is not a compression setting: {how}.")
        from zarr.codecs import BloscCodec

        # byte shuffle groups the similar exponent bytes of neighbouring temperatures
        return (BloscCodec(cname="lz4", clevel=5, shuffle="shuffle"),)
    if spec is None:
        return spec
    codecs = (spec,) if isinstance(spec, (BytesBytesCodec, Mapping)) else spec
    if isinstance(codecs, (tuple, list)) and any(isinstance(c, Mapping) for c in codecs):
        # the JSON form zarr and xarray's encoding take ({"name": "zstd", "configuration": ...})
        from zarr.registry import get_codec_class

        try:
            codecs = [get_codec_class(str(c["name"])).from_dict(dict(c))
                      if isinstance(c, Mapping) else c for c in codecs]
        except (KeyError, TypeError, ValueError) as err:
            raise XlstsrError(f"compressors={spec!r:.80}: not a Zarr v3 codec ({err}): {how}.") \
                from err
    if not isinstance(codecs, (tuple, list)) or not all(
            isinstance(c, BytesBytesCodec) for c in codecs):
        bad = next((c for c in (codecs if isinstance(codecs, (tuple, list)) else [codecs])
                    if not isinstance(c, BytesBytesCodec)), codecs)
        v2 = type(bad).__module__.startswith("numcodecs")
        raise XlstsrError(
            f"compressors={spec!r:.80}: {type(bad).__name__} is not a Zarr v3 compression codec"
            + (" (numcodecs codecs are Zarr v2's; the stores here are v3)" if v2 else "")
            + f": {how}."
        )
    return tuple(codecs)

"""Command line: ``xlstsr demo | upscale | evaluate | scaling | train`` (parsing only; layer 2 works).

Input errors (what xlstsr raises as :class:`xlstsr.errors.XlstsrError`, missing files, bad option
values, an unreachable dask scheduler) print one line, ``xlstsr: error: ...``, and exit with
status 2; anything else is a bug and keeps its traceback. Library warnings print as one line each.
"""

from __future__ import annotations

import argparse
import contextlib
import contextvars
import functools
import importlib
import json
import logging
import math
import os
import re
import shlex
import sys
import warnings
from collections.abc import Iterator
from pathlib import Path
from typing import Any, NamedTuple, NoReturn

from .errors import warn

__all__ = ["main"]

log = logging.getLogger("xlstsr")


class UsageError(Exception):
    """A command-line value that cannot be used (printed as one line, exit status 2)."""


def _fail(message: str) -> int:
    print(f"xlstsr: error: {message}", file=sys.stderr)
    return 2


#: optional dependencies and the extra that installs each
_EXTRAS = {"pyhdf": "hdf", "tensorboardX": "tensorboard", "tensorboard": "tensorboard",
           "distributed": "distributed"}


def _missing_dependency(err: ImportError) -> str | None:
    """One line for a missing optional dependency (None: an ImportError that is a bug). The
    HDF4 reader raised a plain ImportError (a traceback); a bare "No module named
    'tensorboardX'" did not say which extra installs it."""
    name = (err.name or "").split(".")[0]
    if name in _EXTRAS and "pip install" not in str(err):
        return f"{err}: pip install 'xlstsr[{_EXTRAS[name]}]'"
    return str(err) if "pip install" in str(err) else None


def _user_errors() -> tuple[type[BaseException], ...]:
    """What a user's input or environment raises: one line, exit 2 (not bare Exception)."""
    from xlstsr.errors import XlstsrError

    return (
        UsageError, XlstsrError, FileNotFoundError, NotADirectoryError, IsADirectoryError,
        PermissionError, ModuleNotFoundError,
    )


def _cluster_errors() -> tuple[type[BaseException], ...]:
    """What a dask cluster raises when a worker dies (an out-of-memory kill: ``KilledWorker``)
    or the scheduler goes (``FutureCancelledError``): the run's fault, not the code's, told in
    one line (a 25-line traceback before); () without distributed."""
    found: list[type[BaseException]] = []
    for module, name in (("distributed.scheduler", "KilledWorker"),
                         ("distributed.client", "FutureCancelledError")):
        try:  # each on its own: one moved in another version leaves the other handled
            found.append(getattr(importlib.import_module(module), name))
        except (ImportError, AttributeError):
            continue
    return tuple(found)


@contextlib.contextmanager
def _one_line_warnings(command: str | None = None,
                       typed: dict[str, Any] | None = None) -> Iterator[None]:
    """Library warnings as ``xlstsr: warning: ...`` lines (no source line, no file path), their
    Python options named as the command's flags too (not with the values typed, ``typed``)."""
    saved = warnings.showwarning

    def show(message: Any, category: Any, filename: str, lineno: int, file: Any = None,
             line: Any = None) -> None:
        print(f"xlstsr: warning: {_cli_hints(str(message), command, typed)}", file=sys.stderr)

    warnings.showwarning = show
    try:
        yield
    finally:
        warnings.showwarning = saved


# -- shared helpers ------------------------------------------------------------------------------


def _refuse_existing(path: str, overwrite: bool) -> None:
    if Path(path).exists() and not overwrite:
        if str(path).rstrip("/").lower().endswith(".zarr"):
            # a store another run writes now: told to wait (--overwrite and --resume, advised
            # below, are refused on it)
            from xlstsr.engine.to_zarr import _refuse_live_writer

            _refuse_live_writer(path)
        more = (" (or --resume to complete it)"
                if str(path).rstrip("/").lower().endswith(".zarr") and _resumable(path) else "")
        raise UsageError(f"{path} exists; pass --overwrite to replace it{more}")


def _resumable(path: str) -> bool:
    """Whether ``path`` is a Zarr store upscale_to_zarr started (its progress record), which
    --resume completes: any other was refused ("not written by upscale_to_zarr")."""
    import zarr

    from xlstsr.engine.to_zarr import PROGRESS_GROUP

    try:
        zarr.open_group(path, mode="r")[f"{PROGRESS_GROUP}/done"]
    except Exception:  # not a store, or not one of upscale_to_zarr's
        return False
    return True


def _refuse_no_store(path: str, mode: str) -> None:
    """Refuse a Zarr output path that is a file, a folder of other files, a symbolic link or
    a variable of another store before any work, in the library's words with the command's
    flags: "exists; pass --overwrite (or --resume)" was advised there, and both flags were
    then refused ("is a file, not a Zarr store", "nothing to resume")."""
    from xlstsr.engine.to_zarr import _check_store
    from xlstsr.errors import XlstsrError

    p = Path(path)
    if "://" in str(path) or not (p.exists() or p.is_symlink()):
        return
    try:
        # mode "w" for the default too: the refusal of an existing store advises --overwrite
        _check_store(path, "resume" if mode == "resume" else "w")
    except XlstsrError as err:
        # not "--overwrite would delete them": a flag named in a refusal reads as advice
        msg = str(err).replace("mode='w' would", "replacing it would").replace(
            "mode='w' replaces", "an overwrite replaces")
        if mode == "w-" and _resumable(path):  # a link to a store that --resume completes
            msg += " (--resume completes it where it is.)"
        raise UsageError(_cli_hints(msg, "upscale")) from None


def _made_by_xlstsr(path: str) -> bool:
    """Whether a file is an xlstsr upscale output (its ``xlstsr_method`` attribute)."""
    from xlstsr.errors import XlstsrError
    from xlstsr.io import open_path

    try:
        obj = open_path(path)
    except (XlstsrError, OSError, ValueError, RuntimeError):  # unreadable: say nothing of it
        return False
    fields = [obj, *getattr(obj, "data_vars", {}).values()]
    return any("xlstsr_method" in f.attrs for f in fields)


def _refuse_swapped(input: str, output: str, overwrite: bool) -> None:
    """INPUT and OUTPUT swapped (``xlstsr upscale out.tif lst.tif`` after a first run): the
    refusal said "pass --overwrite", which replaced the user's LST with the upscaled result."""
    if overwrite or "://" in f"{input}{output}" or not (Path(output).exists()
                                                       and Path(input).exists()):
        return
    if _made_by_xlstsr(input) and not _made_by_xlstsr(output):
        raise UsageError(
            f"{output} exists and is not an xlstsr output, while the input {input} is one: "
            f"INPUT and OUTPUT swapped? The order is `xlstsr upscale INPUT OUTPUT`, e.g. "
            f"`xlstsr upscale {output} {input} --overwrite` (--overwrite alone would replace "
            f"{output} with a result computed from {input}; pass it if that is what you want)"
        )


#: --guide-band of upscale and train: a guide's bands are read as the LST's dates ask
#: (xlstsr.guide.prepare_guide): its time steps beside a multi-date LST, but predictor channels
#: of the one date beside a one-date LST (the help said "as time steps" for both)
_GUIDE_BAND_HELP = (
    "one band (from 1) of a multi-band GeoTIFF guide (default: every band: the time steps of a "
    "multi-date LST; beside a one-date LST, predictor channels of that one date)")


def _refuse_input(output: str | None, *inputs: str | None) -> None:
    """An output that is one of the inputs: writing it would destroy the data being read (a
    Zarr output is deleted before the input is read), whatever --overwrite says."""
    if not output or "://" in str(output):
        return
    out = Path(output).resolve()
    for path in inputs:
        if path and "://" not in str(path) and Path(path).resolve() == out:
            raise UsageError(
                f"the output {output} is also an input ({path}): writing it would destroy the "
                "data being read, even with --overwrite; write to another path."
            )
        if path and "://" not in str(path) and Path(path).resolve() in out.parents:
            from xlstsr.io.formats import folder_advice

            # a folder that is no input at all (`xlstsr upscale . out.tif`): its own refusal
            # first (only a store, or a scene folder read as one, contains the output)
            advice = folder_advice(path)
            if advice is not None and "Landsat Collection 2 Level-2 scene" not in advice:
                raise UsageError(advice)
            # a file written into an input Zarr store changes that store (zarr then warns of
            # an unknown object on every open)
            raise UsageError(
                f"the output {output} lies inside the input {path}: writing there would change "
                "the input; write to a path outside it."
            )


def _refuse_url_output(path: str | None, what: str, zarr: str = "",
                       folder: bool = False) -> None:
    """Refuse a URL (``s3://``, ``gs://``, ``https://``, ``memory://``) where a command writes a
    local file (or ``folder``), before any work: it was taken as a relative path, written into
    a stray local folder ``./s3:/b/...`` and reported as written to the URL. Only a .zarr
    output goes through fsspec (``zarr``: that advice); ``file://`` URLs are decoded in main."""
    if not path or "://" not in str(path):
        return
    scheme, rest = str(path).split("://", 1)
    name = Path(rest).name or "out"
    tool = {"s3": "aws s3 cp --recursive" if folder else "aws s3 cp",
            "gs": "gsutil cp -r" if folder else "gsutil cp"}.get(scheme.lower())
    copy = (f"`{tool} {name} {path}`" if tool else
            f"fsspec: `fsspec.filesystem({scheme!r}).put({name!r}, {str(path)!r}"
            f"{', recursive=True' if folder else ''})`")
    raise UsageError(
        f"{what} {path} is a URL: xlstsr writes it as a local {'folder' if folder else 'file'} "
        f"only; write it to a local path (e.g. {name}), then copy it there (e.g. {copy}){zarr}"
    )


def _parent_folder(path: str) -> None:
    """Create an output's missing folders (as upscale_to_zarr does), not a traceback."""
    Path(path).parent.mkdir(parents=True, exist_ok=True)


#: the files of a Landsat Collection 2 Level-2 scene that name it (in any case)
_C2L2_SCENE_FILE = re.compile(r"_(st_b10|st_b6)\.tiff?$|_mtl\.txt$", re.IGNORECASE)


#: a band file of a Landsat scene as USGS names it (``LC80200392015216LGN00_B10.TIF``,
#: ``LC08_L1TP_..._B10.TIF``, ``..._BQA.TIF``, Landsat 7's ``..._B6_VCID_1.TIF``) or as
#: open_landsat8_l1's default prefix does (``l8_B10.tif``)
_SCENE_BAND_FILE = re.compile(r"(?:^|_)B(?:\d{1,2}(?:_VCID_[12])?|QA)\.tiff?$", re.IGNORECASE)


def _band_mtls(p: Path) -> list[Path]:
    """The MTL of the scene whose band file ``p`` is: the MTL beside it whose name starts as
    ``p``'s does (``l8_MTL.txt`` for ``l8_B10.tif``); none for any other file. Not the
    folder's only MTL whatever the file's name: a field of the user's own named like a band
    (``lst_B10.tif``, a plugin's ``RT_LC08_..._B10.tif`` in Kelvin) was refused as radiance."""
    if not _SCENE_BAND_FILE.search(p.name) or not p.is_file():
        return []
    return [q for q in p.parent.iterdir() if q.name.lower().endswith("_mtl.txt")
            and p.name.lower().startswith(q.name[:-len("MTL.txt")].lower())]


def _level1_scene(p: Path) -> tuple[Path, str] | None:
    """A Landsat Level-1 scene's MTL (the file given, the MTL of a folder holding no surface
    temperature band, or that of a band file beside it: :func:`_band_mtls`) and the level it
    declares (``DATA_TYPE = "L1T"``, a Collection 2 ``PROCESSING_LEVEL = "L1TP"``); None for
    anything else. Its MTL's name matched the Level-2 scene files: the Level-2 reader then asked
    for an ST_B10.TIF a Level-1 scene has not; its thermal band given alone was read as an LST
    (digital numbers x 0.01 as advised: a 290 K scene read 237 K, exit 0)."""
    from xlstsr.io.landsat import read_mtl

    if p.is_dir():
        names = [q for q in p.iterdir() if _C2L2_SCENE_FILE.search(q.name)]
        if any(_C2L2_ST_BAND.search(q.name) for q in names):
            return None
        mtls = [q for q in names if q.name.lower().endswith("_mtl.txt")]
    elif p.name.lower().endswith("_mtl.txt"):
        mtls = [p] if p.is_file() else []
    else:
        mtls = _band_mtls(p)
    for mtl in mtls:
        try:
            meta = read_mtl(mtl)
        except (OSError, UnicodeDecodeError):
            continue
        for key in ("PROCESSING_LEVEL", "DATA_TYPE"):
            level = str(meta.get(key, "")).strip().upper()
            if level:
                return (mtl, f"{key} {level}") if level.startswith("L1") else None
    return None


def _refuse_level1(path: str, command: str) -> None:
    """Refuse a Landsat Level-1 scene (its MTL, folder or a band file of it) as an LST or a
    reference: it holds radiance, read by :func:`xlstsr.io.open_landsat8_l1` in Python (a
    Landsat 8 scene before Collection 2), not by a command; any other scene's advice is its
    Level-2 product."""
    if "://" in path:
        return
    found = _level1_scene(Path(path))
    if found is None:
        return
    mtl, level = found
    folder = mtl.parent
    what = ("a band of a Landsat Level-1 scene" if Path(path).is_file() and Path(path) != mtl
            else "a Landsat Level-1 scene")
    head = (f"{path} is {what} ({level} in {mtl.name}): its thermal band holds "
            f"top-of-atmosphere radiance, not surface temperature, and `xlstsr {command}` reads "
            "no Level-1 scene.")
    from xlstsr.io.landsat import _C2_L1_ADVICE, read_mtl

    meta = read_mtl(mtl)
    level2 = ("read by `xlstsr.io.open_landsat_c2l2`." if command == "train" else
              "which this command reads.")
    # a Collection 2 scene: open_landsat8_l1 refuses it (its QA_PIXEL is no BQA), so it is not
    # the reader to advise (followed, it advised the Level-2 product)
    if str(meta.get("COLLECTION_NUMBER", "")).strip().lstrip("0") == "2":
        raise UsageError(f"{head} {_C2_L1_ADVICE}" + (
            "" if command == "train" else f" `xlstsr {command}` reads that Level-2 scene too."))
    # Landsat 4-7 (band 6, Landsat 7's B6_VCID_1.TIF): open_landsat8_l1 reads TIRS band 10 only
    # (followed, it asked for a B10.tif the scene has not)
    craft = re.search(r"(\d)\s*$", str(meta.get("SPACECRAFT_ID", "")))
    if craft is not None and int(craft[1]) < 8:
        product = {"7": "LE07"}.get(craft[1], f"LT0{craft[1]}")
        raise UsageError(
            f"{head} xlstsr's Level-1 reader (open_landsat8_l1) takes Landsat 8 scenes only "
            f"(band 10), not this {meta['SPACECRAFT_ID']} scene: download the scene's Level-2 "
            f"product (surface temperature, {product}_L2SP_...), {level2}")
    # the reader's prefix= where the files are not named l8_B10.tif... (USGS's LC08_...): its
    # default found none of them
    prefix = mtl.name[:-len("MTL.txt")]
    given = "" if prefix == "l8_" else f", prefix={prefix!r}"
    raise UsageError(
        f"{head} Read it in Python with `xlstsr.io.open_landsat8_l1"
        f"({str(folder)!r}{given})` (band-10 brightness temperature `bt`, NDVI, cloud and water "
        "masks) and write the field to use, e.g. `.bt.to_dataset().to_zarr('bt.zarr')`; or "
        f"download the scene's Level-2 product (surface temperature, LC08_L2SP_...), {level2}"
    )


def _landsat_c2l2(path: str) -> Any:
    """A Landsat Collection 2 Level-2 scene given as the reference (its folder, its ST band or
    its MTL): its ``lst`` as :func:`xlstsr.io.open_landsat_c2l2` decodes it (scale and 149 K
    offset, fill, clouds and water masked); None for any other input. The folder was refused
    as of unknown format, the ST band pointed at a Python function."""
    p = Path(path)
    if p.is_dir():
        if not any(_C2L2_SCENE_FILE.search(q.name) for q in p.iterdir()):
            return None
    elif not _C2L2_SCENE_FILE.search(p.name):
        return None
    _refuse_level1(path, "evaluate")
    from xlstsr.errors import XlstsrError
    from xlstsr.io import open_landsat_c2l2

    try:
        return open_landsat_c2l2(p)["lst"]
    except XlstsrError as err:
        raise _c2l2_cli_error(err) from None


#: a scene's surface temperature band, the file a user gives as the LST
_C2L2_ST_BAND = re.compile(r"_(st_b10|st_b6)\.tiff?$", re.IGNORECASE)


def _c2l2_cli_error(err: Exception) -> Exception:
    """A refusal of :func:`xlstsr.io.open_landsat_c2l2` in the command line's words: its advice
    ``prefix=`` is a Python argument that no command has; a scene's ``*_ST_B10.TIF`` named
    instead of its folder stands for that scene. Any other error unchanged."""
    folder, files = getattr(err, "folder", None), getattr(err, "scene_files", None)
    if folder is None or files is None:
        return err
    lacking = getattr(err, "lacking", None)
    example = f"`{Path(folder) / files[0].name}`" if files else ""
    if lacking is None:  # several scenes in the folder
        return UsageError(
            f"{folder} holds {len(files)} Landsat Collection 2 Level-2 scenes "
            f"({', '.join(q.name for q in files[:3])}{'...' if len(files) > 3 else ''}): name "
            f"one scene's surface temperature file instead of the folder, e.g. {example}")
    there = (f" The folder holds the scene(s) {', '.join(q.name for q in files[:3])}: name one "
             f"of those files instead, e.g. {example}." if files else "")
    return UsageError(
        f"{folder} lacks {', '.join(lacking)}: the Landsat reader needs the scene's surface "
        f"temperature band and QA_PIXEL (fill, clouds, water); download them.{there}")


def _lacks_qa(p: Path, band: re.Match[str]) -> bool:
    """Whether the thermal band ``p`` has no ``QA_PIXEL`` (fill, clouds, water) beside it, in
    any case."""
    qa = f"{p.name[: band.start() + 1]}qa_pixel.tif".lower()
    return not any(q.name.lower() in (qa, qa + "f") for q in p.parent.iterdir())


def _lone_st_band(p: Path, flag: str, given: dict[str, float | None]) -> bool:
    """Whether ``p`` is a Landsat C2 L2 thermal band alone (no ``QA_PIXEL`` beside it) that
    ``given`` (its ``scale``, ``offset``, ``nodata`` flags, named ``--{flag}scale``...) decodes;
    refused when they do not: its digital numbers read as Kelvin, or scaled without the 149 K
    offset, were scored without a word. False for any other input."""
    from xlstsr.io.landsat import C2L2_ST_OFFSET, C2L2_ST_SCALE

    band = _C2L2_ST_BAND.search(p.name)
    if band is None or not p.is_file() or not _lacks_qa(p, band):
        return False
    decoding = (f"--{flag}scale {C2L2_ST_SCALE:g} --{flag}offset {C2L2_ST_OFFSET:g} "
                f"--{flag}nodata 0")
    scale, offset = given.get("scale"), given.get("offset")
    if scale is not None and offset is not None:
        return True
    qa = f"{p.name[: band.start() + 1]}QA_PIXEL.TIF"
    if scale is None and offset is None:
        raise UsageError(
            f"{p} is a Landsat Collection 2 Level-2 surface temperature band, and its folder "
            f"lacks {qa} (fill, clouds, water): download it beside the band for the Landsat "
            f"reader to decode and mask the scene, or decode the band alone, clouds unmasked: "
            f"`{decoding}`")
    have, lack = (("scale", "offset") if offset is None else ("offset", "scale"))
    raise UsageError(
        f"--{flag}{have} {given[have]:g} without --{flag}{lack}: {p.name} is a Landsat "
        f"Collection 2 Level-2 surface temperature band, stored as DN x {C2L2_ST_SCALE:g} + "
        f"{C2L2_ST_OFFSET:g} K; pass both: `{decoding}` (or put {qa} beside it: the Landsat "
        "reader then decodes it and masks clouds and water)")


def _c2l2_lst(path: str, command: str, units: str | None, nodata: float | None,
              scale: float | None, offset: float | None) -> Any:
    """The LST of a Landsat Collection 2 Level-2 scene given as the input of ``upscale`` or
    ``scaling`` (its folder, its ``*_ST_B10.TIF``, its MTL), decoded by
    :func:`xlstsr.io.open_landsat_c2l2` as ``evaluate`` reads a reference; None for any other
    input, or for a thermal band alone (no ``QA_PIXEL`` beside it) that the user decodes with
    ``--scale`` and ``--offset`` (both: the scale alone gave 166 K for a 315 K scene, exit 0).
    ``xlstsr train`` opens files itself (``command`` "train": None, or a refusal)."""
    from xlstsr.io.landsat import C2L2_ST_OFFSET, C2L2_ST_SCALE

    p = Path(path)
    # a Level-1 scene's band given alone too (l8_B10.tif: its digital numbers passed as an LST
    # once scaled as the range check advised)
    _refuse_level1(path, command)
    if "://" in path or not (
            _C2L2_SCENE_FILE.search(p.name) if not p.is_dir()
            else any(_C2L2_SCENE_FILE.search(q.name) for q in p.iterdir())):
        return None  # not a scene's file, nor a folder holding one (a .zarr store)
    band = _C2L2_ST_BAND.search(p.name) if p.is_file() else None
    alone = False
    if band is not None:  # its QA_PIXEL (fill, clouds, water) beside it, in any case
        qa = f"{p.name[: band.start() + 1]}qa_pixel.tif".lower()
        alone = not any(q.name.lower() in (qa, qa + "f") for q in p.parent.iterdir())
    decoding = f"--scale {C2L2_ST_SCALE:g} --offset {C2L2_ST_OFFSET:g} --nodata 0"
    given = [f"--{k} {v:g}" if isinstance(v, float) else f"--{k} {v}" for k, v in (
        ("scale", scale), ("offset", offset), ("nodata", nodata)) if v is not None]
    if alone and given:  # the user's own decoding of the band alone: whole, or refused
        if scale is not None and offset is None:
            raise UsageError(
                f"--scale {scale:g} without --offset: {p.name} is a Landsat Collection 2 Level-2 "
                f"surface temperature band, stored as DN x {C2L2_ST_SCALE:g} + "
                f"{C2L2_ST_OFFSET:g} K; the scale alone reads it {C2L2_ST_OFFSET:g} K too cold. "
                f"Pass both: `{decoding}` (or put its QA_PIXEL.TIF beside it: the Landsat reader "
                "then decodes it and masks clouds and water)"
            )
        return None
    if units not in (None, "K"):
        given.insert(0, f"--units {units}")
    if given:
        raise UsageError(
            f"{' '.join(given)}: {path} is a Landsat Collection 2 Level-2 scene, which its "
            f"reader decodes to Kelvin (scale {C2L2_ST_SCALE:g}, offset {C2L2_ST_OFFSET:g} K, "
            "fill; clouds and water masked with its QA_PIXEL): drop "
            + ("them" if len(given) > 1 else given[0].split()[0])
        )
    if alone:
        raise UsageError(
            f"{path} is a Landsat Collection 2 Level-2 surface temperature band, and its folder "
            f"lacks {p.name[: band.start() + 1]}QA_PIXEL.TIF (fill, clouds, water): download it "
            "beside the band for the Landsat reader to decode and mask the scene, or decode the "
            f"band alone, clouds unmasked: `{decoding}`"
        )
    if command == "train":  # fit_files reads its --lst with open_path: not the decoded scene
        raise UsageError(
            f"--lst {path} is a Landsat Collection 2 Level-2 scene, which `xlstsr train` does not "
            "decode (scale, 149 K offset, clouds): write its decoded LST first, e.g. in Python "
            f"`xlstsr.io.open_landsat_c2l2({str(path)!r})['lst'].to_dataset().to_zarr("
            "'lst_landsat.zarr')`, then `--lst lst_landsat.zarr`"
        )
    return _landsat_c2l2(path)


def _open_lst(args: argparse.Namespace) -> Any:
    """The LST input of ``upscale`` / ``scaling`` with the user's declarations, and its file's
    global attributes: a Landsat Collection 2 Level-2 scene through its reader (as evaluate
    reads one), anything else through :func:`_open_field_and_globals`."""
    lst = _c2l2_lst(args.input, args.command, args.units, args.nodata, args.scale, args.offset)
    if lst is not None:
        return lst, {}
    field, globs = _open_field_and_globals(args.input, args.variable, "LST", band=args.band,
                                           link_crs=getattr(args, "crs", None) is None)
    field = _declare_crs(field, getattr(args, "crs", None), "--crs", args.input)
    return _declare(field, args.units, args.nodata, args.scale, offset=args.offset), globs


#: validate's refusal of a multi-band LST whose bands it checks as images (other layers, QC or
#: angles, may stand beside the LST), not as steps
_BANDS_AS_IMAGES = re.compile(r"^the LST has a 'band' dim of \d+ bands, each checked as an image")


def _band_steps(lst: Any) -> bool:
    """Whether the command line reads ``lst``'s bands as its time steps (one field: bands not
    described, or all described alike), not as layers each described by its own name."""
    import numpy as np

    from xlstsr.io.cog import DESCRIPTION_COORD

    if "band" not in lst.dims or lst.sizes["band"] < 2:
        return False
    if DESCRIPTION_COORD not in lst.coords:
        return True
    return len({str(v) for v in np.ravel(lst[DESCRIPTION_COORD].values) if v}) <= 1


def _band_step_error(err: Exception, lst: Any, path: str, mask_out_of_range: bool) -> Exception:
    """``err``, validate's refusal of one band of a multi-band GeoTIFF LST checked as an image,
    checked again with the bands as the time steps the command line reads them as: a refusal
    naming one step (a date stored in degrees Celsius among dates in Kelvin, validate's lone-step
    verdict) told as that band and a copy of the file without it. Checked as images, the bands
    got a file-wide rescale (or --units degC) as advice, refused again once followed (the other
    bands then 10 times too warm). Any other error as it is."""
    from xlstsr.errors import XlstsrError
    from xlstsr.validate import decode_lst

    if not _BANDS_AS_IMAGES.match(str(err)) or "://" in path or not _band_steps(lst):
        return err
    try:  # (only on a refusal: what it costs, one more read of the file, is a failed run's)
        decode_lst(lst.rename(band="time"), mask_out_of_range=mask_out_of_range).compute()
    except XlstsrError as step_err:
        text = str(step_err)
        kind = type(step_err)
    else:
        return err
    labels = [str(v) for v in lst["band"].values] if "band" in lst.coords else []
    m = re.search(r"\bthe image at time=([^\s,:()]+)", text)
    if m is None or m[1] not in labels or not re.search(r"`da = da\.drop_\w+\(time=", text):
        return err
    n = labels.index(m[1]) + 1  # (rasterio's bands count from 1)
    keep = [i for i in range(1, len(labels) + 1) if i != n]
    src = Path(path)
    folder = src.parent
    name = f"{src.stem}_without_band{n}{src.suffix}"
    target = str(_unused_name(folder / name if os.access(folder, os.W_OK) else Path(name)))
    # each band's description, scale, offset, unit and tags kept (the scale is the file's own,
    # right for the other bands), under a name no file has
    code = _tiff_copy_code(path, target, keep)
    text = text.replace(m[0], f"band {n} of {path}", 1)
    text = re.sub(r"`da = da\.drop_\w+\(time=[^`]*`", lambda _: (
        f"write a copy of the file without band {n} (no flag drops a band), "
        f"`python -c {shlex.quote(code)}`, and give {shlex.quote(target)}; or read one good band "
        f"alone with --band (e.g. --band {keep[0]})"), text, count=1)
    new = kind(text)
    for note in getattr(err, "__notes__", ()):
        new.add_note(note)
    return new


@contextlib.contextmanager
def _band_step_refusal(lst: Any, path: str, mask_out_of_range: bool = False) -> Iterator[None]:
    """A refusal of one band of the LST (``path``), a multi-band GeoTIFF read as time steps, as
    a refusal of that step (:func:`_band_step_error`). ``lst`` is the LST read, or a function
    reading it (``xlstsr train``, whose fit_files opens the file itself: read again only on
    such a refusal)."""
    from xlstsr.errors import XlstsrError

    try:
        yield
    except XlstsrError as err:
        if callable(lst):
            if not _BANDS_AS_IMAGES.match(str(err)):
                raise
            lst = lst()
        new = _band_step_error(err, lst, path, mask_out_of_range)
        if new is err:
            raise
        raise new from err


def _declare_crs(da: Any, crs: str | None, flag: str, path: str) -> Any:
    """``da`` with the CRS ``crs`` (``--crs``, ``--guide-crs``, evaluate's
    ``--reference-crs``, ``--coarse-crs``) declared when its file has
    none, or in place of a malformed one (an ellipsoid that is not Earth-sized); refused when
    the file declares another valid CRS (the flag declares, it does not reproject)."""
    if crs is None:
        return da
    from pyproj import CRS
    from pyproj.exceptions import CRSError

    try:
        wanted = CRS.from_user_input(crs)
    except CRSError as err:
        raise UsageError(f"{flag} {crs}: not a CRS pyproj reads ({str(err).splitlines()[0]}); "
                         "give an EPSG code (e.g. EPSG:4326 for lat/lon degrees, EPSG:32631 "
                         "for UTM zone 31N), a WKT or a PROJ string") from None
    own = da.rio.crs
    if own is None:
        return _flag_crs_fits(da.rio.write_crs(wanted), crs, flag, path)
    if _malformed_crs(own):  # a header the library refuses (DESIREX's ENVI): the flag's CRS
        log.info("%s %s replaces the malformed CRS of %s", flag, crs, path)
        return _flag_crs_fits(da.rio.write_crs(wanted), crs, flag, path)
    mine = CRS.from_user_input(own.to_wkt())
    # the same CRS but for its axis order (EPSG:4326 vs OGC:CRS84 or +proj=longlat): xlstsr's
    # grids are x/y whatever the CRS's axis order says, so nothing differs
    if mine.equals(wanted, ignore_axis_order=True) or own == wanted:
        return da
    from xlstsr.validate import _same_mapping

    # spelled otherwise but the same mapping of this file's ground (GDAL's '+nadgrids=@null
    # +wktext' MODIS sinusoidal): the rule crs_mismatch follows (it was "another CRS")
    if _same_mapping(da, own, wanted):
        return da
    import shlex

    raise UsageError(
        f"{flag} {crs}: {path} declares its own CRS ({mine.name!r}), and {flag} names another "
        f"({wanted.name!r}): {flag} only declares a CRS a file lacks (or replaces a malformed "
        f"one), it does not reproject. Drop {flag}; if the file's CRS is wrong, assign the right "
        f"one to the file (`rio edit-info --crs {shlex.quote(crs)} in.tif`, installed with "
        f"xlstsr, or `gdal_edit.py -a_srs {shlex.quote(crs)} in.tif`); to have the data in "
        f"another CRS, reproject it first (`gdalwarp -t_srs {shlex.quote(crs)} in.tif out.tif`)"
    )


#: the input each CRS flag declares (its name in validate's refusals)
_FLAG_ROLES = {"--crs": "LST", "--guide-crs": "guide", "--reference-crs": "reference",
               "--coarse-crs": "coarse LST"}


def _flag_crs_fits(da: Any, crs: str, flag: str, path: str) -> Any:
    """``da`` (its CRS the flag's), refused naming the flag when that CRS cannot be the one its
    coordinates are in (validate's check: metres under a geographic CRS, degrees under a
    projected one): the refusal blamed "the CRS written on it" with Python's write_crs; or a
    geographic CRS on pixel-index coordinates (:func:`_refuse_flag_on_pixel_indices`)."""
    from xlstsr.errors import XlstsrError
    from xlstsr.grid import MODIS_SINUSOIDAL
    from xlstsr.validate import _check_crs_units, spatial_dims

    try:
        ydim, xdim = spatial_dims(da)
        _check_crs_units(da, _FLAG_ROLES.get(flag, "input"), ydim, xdim)
    except XlstsrError as err:
        span = re.search(r"coordinates \(([^)]*)\)", str(err))
        where = f"{path}'s coordinates ({span[1]})" if span else f"{path}'s coordinates"
        if "is geographic" in str(err):
            raise UsageError(
                f"{flag} {crs} is a geographic CRS (degrees), but {where} are not degrees "
                f"(metres): {flag} declares the CRS the file's coordinates are in; give that "
                f"one, e.g. `{flag} EPSG:32631` for UTM zone 31N (the UTM zone's EPSG code: "
                f"326NN north, 327NN south) or `{flag} '{MODIS_SINUSOIDAL}'` for MODIS "
                f"sinusoidal tiles") from None
        if "is projected" in str(err):
            raise UsageError(
                f"{flag} {crs} is a projected CRS (metres), but {where} look like longitude/"
                f"latitude degrees: {flag} declares the CRS the file's coordinates are in; "
                f"give that one, `{flag} EPSG:4326`") from None
        # anything else (no spatial dims, pixel indices): refused later in its own words
        return da
    _refuse_flag_on_pixel_indices(da, crs, flag, path, ydim, xdim)
    return da


def _refuse_flag_on_pixel_indices(da: Any, crs: str, flag: str, path: str, ydim: str,
                                  xdim: str) -> None:
    """Refuse a geographic CRS declared by ``flag`` on coordinates that are pixel indices
    (0, 1, 2... n-1): the library refuses them without a CRS ("no CRS alone can place it")
    and under a projected one, but the flag supplied a geographic CRS first, and the file was
    written as 1-degree pixels at 0..n degrees (its own 2-D lat/lon, where it held them,
    dropped), exit 0."""
    import numpy as np

    from xlstsr.validate import _LAT_NAMES, _LON_NAMES, _pixel_indices

    if not da.rio.crs.is_geographic or ydim not in da.coords or xdim not in da.coords:
        return
    try:
        y = np.asarray(da[ydim].values, dtype=np.float64)
        x = np.asarray(da[xdim].values, dtype=np.float64)
    except (TypeError, ValueError):
        return
    if not (y.ndim == 1 and x.ndim == 1 and _pixel_indices(y) and _pixel_indices(x)):
        return
    two_d = [str(k) for k, c in da.coords.items()
             if c.ndim >= 2 and str(k).lower() in (*_LAT_NAMES, *_LON_NAMES)]
    if not two_d:
        # only beside the file's own 2-D lat/lon (a swath whose dims were renamed): a real
        # 1-degree grid's centres (0.5 ... 9.5) look like indices too, and were refused
        return
    where = (f" The file's own lat/lon ({', '.join(two_d)}) are 2-D arrays: put the field on a "
             "regular lat/lon grid with 1-D lat and lon coordinates first (e.g. CDO's `cdo "
             "remapbil,GRID in.nc out.nc`, or GDAL warping with its geolocation arrays), and "
             f"give that file (with {flag} EPSG:4326 if it has no CRS)." if two_d else
             " Georeference the file first: give it 1-D pixel-centre coordinates in degrees "
             "(or write its transform, e.g. `gdal_translate -a_srs EPSG:4326 -a_ullr ULX ULY "
             "LRX LRY in.tif out.tif` with its corners), then give it.")
    raise UsageError(
        f"{flag} {crs}: {path}'s {ydim!r}/{xdim!r} coordinates are pixel indices (0, 1, 2... "
        f"{max(y.size, x.size) - 1}), not positions: declared in degrees they would place it "
        f"as 1-degree pixels at 0..{max(y.size, x.size)} degrees. {flag} declares the CRS of "
        f"coordinates that are positions; it cannot place pixel indices.{where}")


def _malformed_crs(crs: Any) -> bool:
    """Whether the library refuses ``crs`` as malformed: an ellipsoid that is not Earth-sized
    (DESIREX's ENVI headers, 637813 m; :func:`xlstsr.validate.earth_sized`)."""
    from xlstsr.validate import crs_name_and_axis, earth_sized

    return not earth_sized(crs_name_and_axis(crs)[1])


def _open_field(path: str, variable: str | None, role: str, flag: str = "--variable",
                band: int | None = None, link_crs: bool = True) -> Any:
    """One DataArray from a file: a Dataset's variable (named, or its only one), or one band of
    a GeoTIFF (``band``, or the one ``variable`` names among its band descriptions, a name
    matching none refused; else its bands are its time steps). ``link_crs``: take the file's
    lone unlinked CRS variable (:func:`_link_lone_crs`); False where a CRS flag declares it."""
    return _open_field_and_globals(path, variable, role, flag, band, link_crs)[0]


def _open_field_and_globals(path: str, variable: str | None, role: str,
                            flag: str = "--variable", band: int | None = None,
                            link_crs: bool = True) -> tuple[Any, dict[Any, Any]]:
    """:func:`_open_field` and the file's global attributes that describe it (a NetCDF or
    Zarr input's ``source``, ``title``, ``history``...; none for a GeoTIFF or HDF granule)."""
    import xarray as xr

    from xlstsr.attrs import global_attrs
    from xlstsr.errors import VariableNotFoundError, XlstsrError
    from xlstsr.io import format_of, open_path
    from xlstsr.validate import select_variable

    kwargs: dict[str, Any] = ({"variable": variable} if (variable and format_of(path, reading=True) == "hdf4")
                              else {})
    if not variable and role == "guide" and format_of(path, reading=True) == "hdf4":
        # a MODIS granule as the guide (MOD13A2): its NDVI layer, not the LST's default
        # LST_Day_1km (refused as "'LST_Day_1km' is not in ..." naming neither role nor flag)
        from xlstsr.io.modis import _no_layer, default_layer, granule_layers

        layers = granule_layers(path)
        picked = default_layer(layers, "guide")
        if picked is None:
            text = _no_layer(Path(path), None, layers, "guide")
            raise UsageError(f"{flag.replace('-variable', '')} {path}: "
                             + _flag_example(text, flag)) from None
        kwargs["variable"] = picked
    if variable and "/" in variable.strip("/") and format_of(path, reading=True) in ("netcdf", "zarr"):
        # a variable inside a NetCDF-4 group (ECOSTRESS's SDS/LST) or a Zarr store's group (a
        # DataTree's day/LST): that group, opened as a Dataset (its attributes kept), then its
        # variable
        group, _, variable = variable.strip("/").rpartition("/")
        kwargs["group"] = group
    band_flag = flag.replace("variable", "band")  # --reference-band beside --reference-variable
    if band is not None:
        if format_of(path, reading=True) != "cog":
            raise UsageError(f"{band_flag} selects a band of a GeoTIFF, and {path} is not one: "
                             f"name a variable of a .nc/.zarr/.hdf input with {flag}.")
        kwargs["band"] = band
    try:
        obj = open_path(path, **kwargs)
    except VariableNotFoundError as err:  # a NetCDF-4 file's groups: named as the flag takes them
        text = _flag_example(str(err), flag)
        text = re.sub(r"\s*\(or open the group: `group='[^']*'`\)", "", text)
        raise UsageError(f"{path}: {text}" if path not in text else text) from None
    except XlstsrError as err:  # open_cog's "pass `band=` 1 to N": this file's own flag
        text = re.sub(r"pass `band=` 1 to (\d+)", rf"pass {band_flag} 1 to \1", str(err))
        # bands of different scales: this file's band flag (--guide-band, --reference-band),
        # not the LST's --band
        text = text.replace("`--band N` on the command line",
                            f"`{band_flag} N` on the command line")
        if text == str(err):
            raise
        raise UsageError(text) from None
    globs: dict[Any, Any] = {}
    if isinstance(obj, xr.Dataset):
        # as they are: the .nc and .tif writers convert them, a .zarr store keeps booleans and
        # lists (written as JSON text they came back as strings)
        globs = global_attrs(obj.attrs, as_netcdf=False)
        names = list(obj.data_vars)
        if variable is None and len(names) == 1:
            variable = names[0]
        ds = obj
        try:
            obj = select_variable(obj, variable, role=role)
            if link_crs:  # a CRS flag declares it otherwise (it was refused as "another")
                obj = _link_lone_crs(obj, ds, path, role)
        except VariableNotFoundError as err:
            # the Python example (`variable='LST_Day_1km'` of the LST) read as --variable for
            # a guide: the file's own flag only
            has = re.search(r"it has \[([^\]]*)\]", str(err))
            names_ = re.findall(r"'([^']+)'", has.group(1)) if has else []
            # the library's own example first (an LST-looking variable for the LST, the NDVI
            # for a guide); the first listed was the example, an NDVI refused as the LST
            # (a guide's example names guide=, the LST's variable=)
            ex = re.search(r"`[^`]*(?:variable|guide)='([^']+)'\)`", str(err))
            if ex and ex.group(1) in names_:
                names_.insert(0, names_.pop(names_.index(ex.group(1))))
            elif role == "guide":  # not an LST's name as the guide's example
                names_ = [n for n in names_ if not re.search(r"lst|temp", n, re.I)] or names_
            text = re.sub(r"\s*Name it, e\.g\. `[^`]*` or `(?:variable|guide)=` of the "
                          r"function\.", "", str(err))
            if "group" in kwargs:  # a group's variable is named as GROUP/VARIABLE (SDS/LST;
                # `--variable LST` was advised, which looks at the file's empty root)
                names_ = [f"{kwargs['group']}/{n}" for n in names_]
                text = re.sub(r"is not in the Dataset; it has \[[^\]]*\]",
                              f"is not in its group {kwargs['group']!r}; it has {names_}",
                              text)
            example = f" (e.g. {flag} {names_[0]})" if names_ else ""
            raise UsageError(f"{path}: {text} Name it with {flag} NAME{example}.") from None
    elif variable is not None and not kwargs and variable != obj.name:
        from xlstsr.io.cog import DESCRIPTION_COORD

        described = ([str(v) for v in obj[DESCRIPTION_COORD].values.ravel()]
                     if DESCRIPTION_COORD in obj.coords else [])
        if variable in described:
            # a multi-band GeoTIFF whose band is described by that name (LST beside QC): that
            # band; it was "ignored: holds a single field", and every band read as a time step
            log.info("%s %s: band %d of %s", flag, variable, described.index(variable) + 1, path)
            obj = open_path(path, band=described.index(variable) + 1)
        elif described and obj[DESCRIPTION_COORD].dims == ("band",):
            # named bands (LST_Day_1km, LST_Night_1km): a name matching none (a typo, another
            # case) was "ignored" and every band, day and night alike, read as a time step.
            # Refused, with the exact name to use: a case-insensitive match taken silently
            # would make the name's meaning depend on the file. Bands described by their
            # dates (an Earth Engine stack) are time steps of one field: warned below
            near = [d for d in described if d.casefold() == variable.casefold()]
            fix = (f"names are case-sensitive: pass {flag} {near[0]}" if len(near) == 1
                   else f"name one of them exactly (e.g. {flag} {described[0]})")
            raise UsageError(f"{flag} {variable}: {path} has no band described {variable!r}; "
                             f"its {len(described)} bands are described {described}: "
                             f"{fix}.")
        else:
            # a GeoTIFF without band descriptions (or described by its steps' dates) holds one
            # field (its bands, if several, its time steps): the name was dropped without a word
            warn(f"{flag} {variable} ignored: {path} holds a single field (a GeoTIFF's "
                 f"bands are its time steps); drop {flag}", UserWarning)
    return _grid_from_2d_xy(obj, path, role), globs


def _link_lone_crs(da: Any, ds: Any, path: str, role: str) -> Any:
    """``da`` (a variable of ``ds``, the file's Dataset) without a CRS, given the CRS of the
    file's one CRS variable (a scalar ``spatial_ref`` / ``crs`` with ``crs_wkt``) that no
    ``grid_mapping`` attribute links to it, as ``xr.concat`` of rioxarray arrays or a
    ``to_zarr(encoding=...)`` leaves a file: it was refused as "the LST has no CRS". Several such
    variables: which one is the field's is not said; left to the refusal's --crs."""
    from pyproj import CRS
    from pyproj.exceptions import CRSError

    if da.rio.crs is not None:
        return da
    found = []
    for name, var in ds.variables.items():
        wkt = var.attrs.get("crs_wkt", var.attrs.get("spatial_ref"))
        if name == da.name or var.ndim != 0 or not isinstance(wkt, str):
            continue
        try:
            found.append((name, CRS.from_wkt(wkt)))
        except CRSError:
            continue
    if len(found) != 1:
        return da
    name, crs = found[0]
    if not crs.is_geographic and _degree_dims(da):
        # a projected CRS for lon/lat degrees: not this field's (a UTM crs of another
        # variable was taken for a lat/lon LST, and --crs then refused); one that another
        # variable of the file's grid names is taken (a QC layer's), as before 47
        return da
    if crs.is_geographic and _degree_span_of(da) is False:
        # a geographic CRS for coordinates beyond degrees (a sinusoidal grid in metres): not
        # this field's either; left to the refusal "no CRS" and its --crs (the CRS taken, the
        # refusal blamed "the CRS written on it", which the user never wrote, in Python only)
        return da
    log.info("%s: the CRS of its variable %r, which no grid_mapping attribute links to %r, "
             "taken as the %s's", path, name, da.name, role)
    return da.rio.write_crs(crs)


def _degree_dims(da: Any) -> bool:
    """Whether ``da``'s spatial coordinates are named or read as lon/lat degrees."""
    return bool(_degree_span_of(da))


def _degree_span_of(da: Any) -> bool | None:
    """Whether ``da``'s spatial coordinates lie where lon/lat degrees can; None when there are
    none to judge (no spatial dims, pixel indices, no coordinates)."""
    from xlstsr.errors import XlstsrError
    from xlstsr.validate import _degree_span

    try:
        return _degree_span(da, *_spatial_dims(da))[0]
    except (XlstsrError, ValueError, KeyError, TypeError):
        return None


def _grid_from_2d_xy(da: Any, path: str, role: str) -> Any:
    """``da`` on 1-D ``y``/``x`` read from the 2-D ``x``/``y`` arrays of its file (GDAL, QGIS
    and MATLAB exports write meshgrids over dims such as rows/cols): on a regular north-up grid
    each column of ``x`` holds one value and each row of ``y`` one, so ``x[0, :]`` and
    ``y[:, 0]`` are the grid. The library takes 1-D coordinates only: such a file was refused
    with a rename advice that, followed, crashed (2-D coords on dims y/x, or dims renamed onto
    the coordinates' own names). 2-D arrays that are no such grid (rotated, curvilinear) are
    refused with a regridding advice."""
    import numpy as np

    if not all(n in da.coords and da[n].ndim == 2 for n in ("x", "y")):
        return da
    if set(da["x"].dims) != set(da["y"].dims) or not set(da["x"].dims) <= set(da.dims):
        return da  # not a grid of the field's own dims: the library names what it sees
    # the stored arrays give the 1-D grid in their own dtype: float32 ones cast to float64
    # lost validate's float32 tolerance and were refused as irregular ("out of order")
    x_raw = np.asarray(da["x"].values)
    y_raw = np.asarray(da["y"].transpose(*da["x"].dims).values)
    xv, yv = x_raw.astype(np.float64), y_raw.astype(np.float64)
    d0, d1 = (str(d) for d in da["x"].dims)
    # the tolerance of a float32-stored meshgrid (7 digits of the largest coordinate)
    tol = 1e-6 * max(float(np.nanmax(np.abs(xv), initial=0)), float(np.nanmax(np.abs(yv), initial=0)),
                     1.0)

    def const(a: np.ndarray, axis: int) -> bool:
        return bool(np.all(np.isfinite(a))) and bool(
            np.all(np.abs(a - a.take([0], axis=axis)) <= tol))

    if const(xv, 0) and const(yv, 1):  # x along d1, y along d0 (the usual rows, cols)
        ydim, xdim, x1, y1 = d0, d1, x_raw[0, :], y_raw[:, 0]
    elif const(xv, 1) and const(yv, 0):  # stored transposed (cols, rows)
        ydim, xdim, x1, y1 = d1, d0, x_raw[:, 0], y_raw[0, :]
    else:
        raise UsageError(
            f"{path}: the {role}'s x/y coordinates are 2-D arrays over {(d0, d1)} that are not "
            "a regular north-up grid (x changes along both dims, y too, or they hold gaps): a "
            "rotated or curvilinear grid. xlstsr works on regular grids with 1-D x and y: "
            "regrid the file onto one first (e.g. with CDO's `cdo remapbil,GRID in.nc out.nc` "
            "or GDAL's `gdalwarp -t_srs EPSG:XXXX`), and give that one.")
    x_attrs, y_attrs = dict(da["x"].attrs), dict(da["y"].attrs)
    # the dims' own coordinates (pixel indices 0..n-1, CF axis marks) give way to the grid
    out = da.drop_vars([n for n in {"x", "y", ydim, xdim} if n in da.coords])
    out = out.rename({d: n for d, n in ((ydim, "y"), (xdim, "x")) if d != n})
    out = out.assign_coords(y=("y", y1, y_attrs), x=("x", x1, x_attrs))
    # the variable's `coordinates` encoding named the 2-D arrays, which are dim coordinates now
    out.encoding = {k: v for k, v in out.encoding.items() if k != "coordinates"}
    log.info("%s: 1-D y/x read from the %s's 2-D x/y arrays over %s", path, role, (d0, d1))
    return out


def _flag_example(text: str, flag: str) -> str:
    """A message's ``variable='NAME'`` example as the flag takes it (``--guide-variable "1 km
    16 days NDVI"``: quoted for the shell when it holds spaces)."""
    import shlex

    return re.sub(r"`variable='([^']+)'`", lambda m: f"`{flag} {shlex.quote(m.group(1))}`", text)


def _open_guide(path: str, variable: str | None, nodata: float | None = None,
                scale: float | None = None, crs: str | None = None,
                band: int | None = None) -> Any:
    """The --guide file's field, its length-1 dims dropped (a GeoTIFF's one band) except a time
    dim: a one-step guide keeps its date, matched with the LST's as the library matches it
    (``squeeze(drop=True)`` dropped it: a January guide was applied to July LST, exit 0, and
    --guide-time-tolerance was ignored). ``nodata`` and ``scale`` (``--guide-nodata``,
    ``--guide-scale``) declare what the file does not say, as attributes that the library's
    guide decoding applies (an int16 NDVI x 10000 GeoTIFF without a scale tag was refused with
    Python-only fixes)."""
    from xlstsr.guide import _is_time_like

    guide = _declare_crs(_open_field(path, variable, "guide", "--guide-variable", band,
                                     link_crs=crs is None), crs, "--guide-crs", path)
    ones = [d for d in guide.dims if guide.sizes[d] == 1 and not _is_time_like(guide, d)]
    guide = guide.squeeze(ones, drop=True) if ones else guide
    if nodata is None and scale is None:
        return guide
    guide = _declare(guide, None, nodata, scale, role="guide")
    if scale is not None:
        _refuse_scale_on_decoded_guide(guide, path, scale, nodata)
    return guide


def _refuse_scale_on_decoded_guide(guide: Any, path: str, scale: float,
                                   nodata: float | None) -> None:
    """Refuse ``--guide-scale`` below 1 on a float guide whose values lie within [-1, 1]
    already (an NDVI, or a product the reader decoded, as ``open_modis`` does an .hdf): scaled
    again it is NDVI x 0.0001, which the library's own refusal of an inherited scale
    (``_refuse_inherited_scale``) does not see on the lazily read file (disr ran, up to 8 K
    off, exit 0). Judged on the central pixels of the first step
    (:func:`~xlstsr.validate.central_window`); integers (stored numbers, which the flag is
    for) are never refused."""
    import numpy as np

    from xlstsr.errors import XlstsrError
    from xlstsr.validate import central_window

    if not 0 < scale < 1 or guide.dtype.kind != "f":
        return
    try:
        ydim, xdim = _spatial_dims(guide)
    except XlstsrError:  # the library names a guide without a grid
        return
    window = central_window(guide, ydim, xdim)
    v = np.asarray(window.values, dtype=np.float64).ravel()
    fills = [f for f in (nodata, guide.attrs.get("_FillValue"), guide.attrs.get("nodata"),
                         guide.encoding.get("_FillValue")) if f is not None]
    keep = np.isfinite(v)
    for f in fills:
        try:
            keep &= v != float(np.ravel(f)[0])
        except (TypeError, ValueError):
            continue
    v = v[keep]
    if not v.size or float(np.abs(v).max()) > 1.05:
        return  # stored numbers (or no evidence): the flag may be what they need
    raise UsageError(
        f"--guide-scale {scale:g}: the --guide file {path} holds floats within [-1, 1] already "
        f"({float(v.min()):.3g} to {float(v.max()):.3g} on its central "
        f"{window.sizes[ydim]} x {window.sizes[xdim]} pixels): an NDVI, or values its reader "
        f"decoded. Scaled again they would be {1 / scale:.0f}x too small, and a guided method "
        "would sharpen with them without a word. Drop --guide-scale (it is for stored "
        "integers, e.g. an int16 NDVI x 10000 without a scale tag)."
    )


def _spatial_dims(da: Any) -> tuple[str, str]:
    """The (y, x) dims of a file's field as the library's entry points find them: lat/lon
    names included (``spatial_dims`` alone refused them after the work was done, advising a
    Python rename)."""
    from xlstsr.validate import spatial_dims, spatial_names

    names = spatial_names(da)
    back = {v: k for k, v in names.items()}
    ydim, xdim = spatial_dims(da.rename(names) if names else da)
    return back.get(str(ydim), str(ydim)), back.get(str(xdim), str(xdim))


def _parse_chunks(spec: str | None, dims: tuple[str, ...], ydim: str, xdim: str) -> Any:
    """``auto``, ``512`` (y and x) or ``time=1,y=512,x=512`` (``-1``: whole dim)."""
    if spec is None:
        return None
    if spec == "auto":
        return "auto"
    try:
        out: dict[str, int] = {}
        if "=" not in spec:  # one size for y and x, checked below too: 0 divided by zero
            out = {ydim: int(spec), xdim: int(spec)}
        for part in (spec.split(",") if "=" in spec else []):
            key, _, val = part.partition("=")
            if key.strip() in out:  # the last one silently won
                raise UsageError(f"--chunks {spec!r} names {key.strip()!r} twice: give each "
                                 "dim once, e.g. time=1,y=512,x=512")
            out[key.strip()] = int(val)
    except ValueError:
        raise UsageError(
            f"--chunks {spec!r}: use 'auto', one size for y and x ('512') or per dim "
            "('time=1,y=512,x=512')"
        ) from None
    lead = [d for d in dims if d not in (ydim, xdim)]
    if "time" in out and "time" not in dims and len(lead) == 1:
        # a multi-band raster's bands are its time steps (--help says so): time= means them
        out[lead[0]] = out.pop("time")
    unknown = sorted(set(out) - set(dims))
    if unknown:
        raise UsageError(f"--chunks names {unknown}, which are not dims of the input {list(dims)}")
    from xlstsr.io.cog import check_chunks

    try:  # 0 or -2: dask's own error is a traceback
        check_chunks(out, "--chunks")
    except ValueError as err:
        raise UsageError(str(err).split("; e.g.")[0] + "; e.g. --chunks time=1,y=512,x=512"
                         ) from None
    return out


def _declare(da: Any, units: str | None, nodata: float | None,
             scale: float | None = None, role: str = "", offset: float | None = None) -> Any:
    """The user's declarations about the input, as the attributes the front door reads
    (``role`` "coarse": those of evaluate's ``--coarse-units``, ``--coarse-nodata``...; "guide":
    ``--guide-nodata``, ``--guide-scale``, which the guide's decoding reads; "reference":
    evaluate's ``--reference-units``, its fill and scale being evaluate's own arguments)."""
    from xlstsr.errors import XlstsrError
    from xlstsr.validate import declare_lst

    flag = f"--{role}-" if role else "--"
    if nodata is not None and math.isnan(nodata):
        # NaN is a gap already (as evaluate's --reference-nodata nan says): nothing to
        # declare; it was refused as "declare: _FillValue must be a finite number"
        import numpy as np

        stored = np.dtype(da.encoding.get("dtype", da.dtype))  # as stored (read as float)
        if stored.kind in "iub":
            raise UsageError(
                f"{flag}nodata nan: the {role or 'LST'} file stores integers ({stored}), "
                f"which hold no NaN: give its fill value as stored (e.g. {flag}nodata 0), or "
                f"drop {flag}nodata")
        log.info("%snodata nan: NaN is a gap already in a float file; nothing declared", flag)
        nodata = None
    if scale is not None and not (math.isfinite(scale) and scale > 0):
        example = "0.0001" if role == "guide" else "0.02"
        raise UsageError(f"{flag}scale must be a number > 0, e.g. {example}, got {scale!r}")
    if offset is not None and not math.isfinite(offset):
        raise UsageError(f"{flag}offset must be a finite number, e.g. 149 (Landsat Collection 2 "
                         f"Level-2 surface temperature), got {offset!r}")
    # value x scale + offset, as CF's add_offset (the front door decodes both)
    declared = {"units": units, "_FillValue": nodata, "scale_factor": scale, "add_offset": offset}
    if not role:
        return declare_lst(da, declared)
    try:
        return declare_lst(da, declared, what=role)
    except XlstsrError as err:  # its advice names the LST's flags and fit_files' argument
        text = re.sub(r",\s*(truth_)?declare\['\w+'\] in fit_files", "", str(err))
        raise UsageError(re.sub(r"(?<![\w-])--(units|nodata|scale|offset)\b", rf"{flag}\1",
                                text)) from None


#: a refusal that tells a Python user to set the scale attribute: the command line's way
_SET_SCALE = re.compile(r"[Ss]et (`da\.attrs\.update\()?scale_factor")


#: upscale's flag that ``xlstsr train`` lacks, which the messages of the front door name
_DECLARATION_FLAG = re.compile(r"\(?`--mask-out-of-range[^`]*` on the command line\)?")
_TRAIN_NOTE = "`xlstsr train` trains on valid pixels only"


def _no_space_before_stop(message: str) -> str:
    """A space left before a full stop by a removed phrase, removed (not the one before a
    suffix: "use .csv or .nc" read "use.csv or.nc")."""
    return re.sub(r" \.(?=\s|$)", ".", message)


def _train_hints(message: str, typed: dict[str, Any] | None = None) -> str:
    """``xlstsr train`` declares units, fill and scale like upscale (``--units``, ``--nodata``,
    ``--scale``) but does not mask out-of-range pixels: a message naming
    ``--mask-out-of-range`` (or ``mask_out_of_range=True``) points to an option train does not
    have; fit_files' Python hint (``declare=``) gives way to the flags. Idempotent: a
    UsageError passes here twice (in ``_train`` and in ``main``)."""
    from xlstsr.train.cube import FIT_FILES_HINT, GUIDE_HINT, TRAIN_MASK_NOTE, TRUTH_HINT

    message = _scale_flag_hint(message, "train", typed)  # --scale's, before the masking note
    # train masks nothing: the options offered, then said not to exist, give way to one note
    scaled = re.search(r" declares? applied them a second time: drop --", message) is not None
    masks = _TRAIN_NOTE not in message and not scaled and bool(
        TRAIN_MASK_NOTE in message or _DECLARATION_FLAG.search(message)
        or _MASKING_OPTION.search(message))
    message = _MASKING_OPTION.sub("", message.replace(TRAIN_MASK_NOTE, ""))
    message = _DECLARATION_FLAG.sub("", message).replace(" ;", ";").replace(" ,", ",")
    message = _no_space_before_stop(message)
    # fit_files' band of a file that is no GeoTIFF: the flags of that file (as upscale's)
    message = re.sub(
        r"`(?:(guide|truth)_)?band=\d+` selects a band of a GeoTIFF, and (.+?) is not one: name a "
        r"variable of a \.nc/\.zarr/\.hdf (?:LST|guide|truth) with `\w*variable=` instead, and "
        r"drop `\w*band=`\.",
        lambda m: (f"--{m[1] + '-' if m[1] else ''}band selects a band of a GeoTIFF, and {m[2]} "
                   "is not one: name a variable of a .nc/.zarr/.hdf input with "
                   f"--{m[1] + '-' if m[1] else ''}variable."), message)
    # a band not in the file (fit_files names the argument of that file): its own flag, as
    # upscale says it (the guide's or truth's band is not the LST's --band)
    message = re.sub(r"pass `(?:(guide|truth)_)?band=` 1 to (\d+)",
                     lambda m: f"pass --{m[1] + '-' if m[1] else ''}band 1 to {m[2]}", message)
    # a GeoTIFF truth's (or guide's) bands beside a one-date LST: its band flag, not Python
    message = _RASTER_BANDS_BESIDE.sub(lambda m: _band_flag_advice(m, typed), message)
    # fit_files' guide layer example (a MODIS granule as --guide): the flag that names it
    message = _flag_example(message.replace("`guide_variable='", "`variable='"),
                            "--guide-variable") if "`guide_variable='" in message else message
    if TRUTH_HINT in message:  # the truth's own flags: --units would convert the LST
        message = _cli_hints(message.replace(TRUTH_HINT, ""), "train", typed)
        message = _with_flags(message, [(re.compile(r"attrs\['_FillValue'\] = ([-+\w.]+)"),
                                         "--truth-nodata {0}")], typed)
        message = re.sub(r"(?<![\w-])--(units|nodata|scale|offset|band)\b", r"--truth-\1",
                         message)
    elif "`--truth-" not in message:  # (completed already: a UsageError passes here twice)
        # the guide's hint gives way to --guide-nodata / --guide-scale (_cli_hints)
        message = _cli_hints(message.replace(FIT_FILES_HINT, "").replace(GUIDE_HINT, ""),
                             "train", typed)
    if not masks:
        return message
    return (f"{message} {_TRAIN_NOTE} (no --mask-out-of-range): mask such pixels in the file "
            "first, e.g. in Python `da.where((da > 150) & (da < 400))`.")


#: pair_steps' refusal of a truth's (guide's) leading dim the LST lacks, advised in Python
_RASTER_BANDS_BESIDE = re.compile(
    r"the (truth|guide) has a dim 'band' \((\d+) steps\) that the LST lacks; select the step "
    r"that goes with it \(`\w+\.sel\(band=\.\.\.\)`\)\.")


def _band_flag_advice(m: re.Match[str], typed: dict[str, Any] | None) -> str:
    """:data:`_RASTER_BANDS_BESIDE` for ``xlstsr train``: the bands of a GeoTIFF given with
    --truth (--guide) are selected with --truth-band N (--guide-band N); a band dim of another
    file (a .nc, .zarr) keeps the Python selection (its flag refuses a file that is no GeoTIFF)."""
    role, n = m[1], int(m[2])
    path = str((typed or {}).get(f"--{role}", "")).lower()
    if path and not path.endswith((".tif", ".tiff")):
        return m[0]
    return (f"the {role} has a dim 'band' ({n} bands) that the LST lacks; select the band that "
            f"goes with it: `--{role}-band 1` (bands 1 to {n}).")


#: the front door's Python option to mask out-of-range pixels, as its sentence or its clause
_MASKING_OPTION = re.compile(
    r"\s*To mask such pixels instead, pass `mask_out_of_range=True`"
    r"(?: \(`--mask-out-of-range`[^)]*\))?\.?"
    r"|[,;] or pass `mask_out_of_range=True`(?: \(`--mask-out-of-range`[^)]*\))?"
)


#: ``attrs['units'] = 'K'`` as a declaration of what the values are (--units relabels them), not
#: as the label to set once they are converted ("set `da.attrs['units'] = 'K'` (or 'degC') after
#: converting", "`(da - 32) * 5 / 9 + 273.15` with `da.attrs['units'] = 'K'`"): --units K
#: offered for a Fahrenheit LST relabelled its values as Kelvin, and the next refusal blamed them
#: on a missing Landsat offset
_UNITS_DECLARED = re.compile(
    r"(?<!with `)(?<!with `da\.)attrs\['units'\] = '(K|degC)'(?![^.;:]*\bafter convert)")

#: Python options that messages of the front door name -> ``xlstsr upscale``'s flags
_UPSCALE_FLAGS = (
    (re.compile(r"\bfactor=(\d+)"), "--factor {0}"),
    (re.compile(r"\bmask_out_of_range=True"), "--mask-out-of-range"),
    (re.compile(r"\bbackend='(torch|onnxruntime)'"), "--backend {0}"),
    (re.compile(r"\bconserve=True"), "--conserve"),
    (re.compile(r"\bvariable=['\"](\w+)['\"]"), "--variable {0}"),
    (_UNITS_DECLARED, "--units {0}"),
    (re.compile(r"\bguide_time_tolerance=`? \(e\.g\. '(\w+)'"), "--guide-time-tolerance {0}"),
    (re.compile(r"\bguide_time_tolerance='(\w+)'"), "--guide-time-tolerance {0}"),
    (re.compile(r"give a longer duration \(e\.g\. '(\w+)'"), "--guide-time-tolerance {0}"),
    (re.compile(r"\b[Pp]ass guide_offset='(auto|check|ignore)'"), "--guide-offset {0}"),
)


#: Python arguments that messages of any command name -> the command line's flags
_COMMON_FLAGS = (
    # advice only ("pass mode='w' to overwrite it"), not "mode='w' would delete them"
    (re.compile(r"\b(?:pass|with|write it again with) mode='w'"), "--overwrite"),
    (re.compile(r"mode='resume' to complete|\b(?:pass|with) mode='resume'"), "--resume"),
    (re.compile(r"pass `band=` 1 to (\d+)"), "--band 1 to {0}"),
)
#: evaluate's Python arguments -> ``xlstsr evaluate``'s flags
_EVALUATE_FLAGS = (
    (re.compile(r"the reference has a dim 'band'"), "--reference-band N"),
    (re.compile(r"\breference_nodata=([-\w.]+)"), "--reference-nodata {0}"),
    (re.compile(r"\breference_scale=([\d.]+)"), "--reference-scale {0}"),
    (re.compile(r"\bvalid_min=([\d.]+)"), "--valid-min {0}"),
    (re.compile(r"\bvalid_max=([\d.]+)"), "--valid-max {0}"),
    (re.compile(r"\berode=(\d+)"), "--erode {0}"),
    # advice, not "drop clear=True" (a no-op's warning)
    (re.compile(r"(?<!drop )\bclear=True\b"), "--clear"),
    (re.compile(r"\bfactor=(\d+)"), "--factor {0}"),
    (re.compile(r"\bmade with factor (\d+)"), "--factor {0}"),
)
#: the reference's declarations that are not an argument of evaluate (its units: a Python user
#: sets the attribute), for the refusals of the reference only: "set `da.attrs['units'] =
#: 'degC'`" of the sr is its --units (:data:`_SR_FLAGS`), not --reference-units
_REFERENCE_FLAGS = ((_UNITS_DECLARED, "--reference-units {0}"),)
#: the super-resolved field's declarations (``xlstsr evaluate``'s --units, --nodata, --scale,
#: --offset, as upscale's of its input): its refusals name Python attrs only
_SR_FLAGS = (
    (_UNITS_DECLARED, "--units {0}"),
    (re.compile(r"attrs\['_FillValue'\] = ([-+\w.]+)"), "--nodata {0}"),
    (re.compile(r"scale_factor=([\d.]+)"), "--scale {0}"),
    (re.compile(r"add_offset=([-\d.]+)"), "--offset {0}"),
)
#: the refusal of Landsat Collection 2 surface temperature's scale given to the reference
#: without its offset (xlstsr.validate): its advice is Python's (``reference_scale`` declares
#: no offset; open_landsat_c2l2; ``dn.where(...)``), after the sentence that says why
_REFERENCE_LANDSAT_NO_OFFSET = re.compile(
    r"(the reference's scale_factor ([\d.]+) is Landsat Collection 2 Level-2 surface "
    r"temperature's, declared without its offset ([\d.]+) K.*?too cold\.)(.*)$", re.DOTALL)


def _reference_offset_hint(message: str, typed: dict[str, Any] | None = None) -> str:
    """The refusal of a reference declared at Landsat ST's scale without its offset, with the
    command line's ways instead of Python's: ``--reference-offset`` (its fill, 0, as
    ``--reference-nodata``; ``--reference-scale`` where the user typed it, not where the file
    declares the scale), or the scene's ``*_ST_B10.TIF`` / folder, which evaluate reads with
    :func:`xlstsr.io.open_landsat_c2l2`."""
    if "--reference-offset" in message:
        return message
    python = "Read the scene with `xlstsr.io.open_landsat_c2l2`, or add the offset"
    if python in message:  # evaluate's bias check: values 149 K below sr's
        return message.replace(python, (
            "Add `--reference-offset 149`, or pass the scene's *_ST_B10.TIF (as USGS names it) "
            "or its folder as the reference (read as a Landsat Collection 2 Level-2 scene)"))
    m = _REFERENCE_LANDSAT_NO_OFFSET.search(message)
    if m is None:
        return message
    typed = typed or {}
    keep = [f"--reference-scale {m.group(2)}"] if "--reference-scale" in typed else []
    if "--reference-nodata" not in typed:
        keep.append("--reference-nodata 0")
    with_ = (f" (with `{' '.join(keep)}`" + (": 0 is the product's fill" if typed.get(
        "--reference-nodata") is None else "") + ")") if keep else ""
    return (f"{message[:m.start()]}{m.group(1)} Add `--reference-offset {m.group(3)}`{with_}, "
            "or pass the scene's *_ST_B10.TIF (as USGS names it) or its folder as the "
            "reference: it is then read as a Landsat Collection 2 Level-2 scene, decoded, its "
            "fill and clouds masked.")


#: the subject of a refusal of the super-resolved field (evaluate's ``what``)
_SR_SUBJECT = re.compile(r"^(?:the |every valid )?super-resolved\b")
#: the subject of a refusal of the reference (decode_lst's ``what="reference"``)
_REFERENCE_SUBJECT = re.compile(r"(?:the |every valid )?reference\b")
#: scaling_stats' Python arguments -> ``xlstsr scaling``'s flags
_SCALING_FLAGS = (
    (re.compile(r"\blags=\(([\d, ]+)\)"), "--lags {0}"),
    (re.compile(r"\bfactors=\(([\d, ]+)\)"), "--factors {0}"),
    (re.compile(r"\bfit_lags=\(([\d., ]+)\)"), "--fit-lags {0}"),
    (re.compile(r"\bfit_factors=\(([\d., ]+)\)"), "--fit-factors {0}"),
)


#: Python arguments that have a flag of their own: replaced in the message by the flag, which
#: the command line takes (appending "On the command line: ..." left "use method='sisr'")
#: ``method='X'`` as an argument of upscale, not inside a call's parentheses (xarray's
#: ``da.reindex(x=..., method='nearest')`` became broken code naming the upscaling method)
_METHOD_ARG = re.compile(r"(?<![(,]\s)(?<![(,])\bmethod='(\w+)'")

_RENAMED_FLAGS = {
    "upscale": ((_METHOD_ARG, "`--method {0}`"),),
    "demo": ((_METHOD_ARG, "`--method {0}`"),),
    "train": (
        (re.compile(r"\btrainer_options\['max_epochs'\]"), "`--max-epochs`"),
        (re.compile(r"\btrainer_options\['precision'\]=['\"]?([\w-]+)['\"]?"),
         "`--precision {0}`"),
        (re.compile(r"\bmax_epochs=(\d+) runs past the cosine schedule of epochs=(\d+): raise "
                    r"`epochs`"),
         "`--max-epochs {0}` runs past the cosine schedule of `--epochs {1}`: raise `--epochs`"),
        # fit_cube's and make_patches' sizes ("lower `window` or `patch`"): train's flags; the
        # stride is no flag of train's (half a patch)
        (re.compile(r"`patch` or `stride`"), "`--patch` (its stride is half a patch)"),
        (re.compile(r"`(window|patch|max_nan_fraction)`"),
         lambda m: f"`--{m[1].replace('_', '-')}`"),
        (re.compile(r"\b(?<!`)val_fraction\b"), "--val-fraction"),
        # the training settings' checks ("lr must be a finite number > 0") and name=value advice
        # ("e.g. patch=15", "lower the learning rate (lr=0.005)"): the flags as typed
        (re.compile(r"(?<![\w'`\[.-])(lr|batch_size|epochs|patience|seed|max_nan_fraction)"
                    r"(?= must\b)"), lambda m: f"--{m[1].replace('_', '-')}"),
        (re.compile(r"(?<![\w'`\[.-])(lr|batch_size|epochs|patience|seed|max_nan_fraction|patch|"
                    r"window)=([\w.+-]*\w)"),
         lambda m: f"--{m[1].replace('_', '-')} {m[2]}"),
    ),
}


def _renamed_flags(message: str, command: str | None) -> str:
    """``message`` with the Python arguments of :data:`_RENAMED_FLAGS` written as flags."""
    for pattern, flag in _RENAMED_FLAGS.get(command or "", ()):
        message = pattern.sub(flag if callable(flag)
                              else lambda m, flag=flag: flag.format(*m.groups()), message)
    return message


class _FlagNames(logging.Filter):
    """The library's log warnings during ``xlstsr train`` (fit_cube's "no validation patches
    ... a smaller `window`"), their Python arguments written as the command's flags."""

    def filter(self, record: logging.LogRecord) -> bool:
        if getattr(record, "xlstsr_warned", False):  # also a Python warning: printed as one
            return False
        text = record.getMessage()
        renamed = _renamed_flags(text, "train")
        if renamed != text:
            record.msg, record.args = renamed, ()
        return True


@contextlib.contextmanager
def _train_log_flags() -> Iterator[None]:
    """:class:`_FlagNames` on the training modules' loggers while ``xlstsr train`` runs."""
    loggers = [logging.getLogger("xlstsr.train.cube"), logging.getLogger("xlstsr.train.loop")]
    flt = _FlagNames()
    for logger in loggers:
        logger.addFilter(flt)
    try:
        yield
    finally:
        for logger in loggers:
            logger.removeFilter(flt)


def _typed_values(args: argparse.Namespace) -> dict[str, Any]:
    """The values the user typed, by option name (``--valid-min`` -> 10.0): what a hint must
    not offer back as the fix of the error it rejected."""
    given = vars(args).get("_given", {})
    return {f"--{dest.replace('_', '-')}": value for dest, (_, value) in given.items()}


def _same_value(text: str, value: Any) -> bool:
    """Whether a hint's value (text) is ``value`` (typed: a number, a string)."""
    try:
        return float(text) == float(value)
    except (TypeError, ValueError):
        return str(text).strip("'\"") == str(value).strip("'\"")


def _with_flags(message: str, table: Any, typed: dict[str, Any] | None = None) -> str:
    """``message`` with "On the command line: ..." naming the flags its Python names map to:
    for each flag, the first value the message gives that is not the one the user typed
    (``typed``, by option name), else the flag alone: "valid_min=10 is not a temperature ...
    (10 degC is valid_min=283.15)" offered `--valid-min 10`, the value just rejected, as the
    fix."""
    typed = typed or {}
    flags: dict[str, str] = {}  # flag name -> its hint, one each
    for pattern, flag in table:
        name = flag.split()[0]
        if name in flags or name in message:
            continue
        for m in pattern.finditer(message):
            # a list of values as the flag takes it: "lags=(1, 2, 4)" is `--lags 1,2,4`
            # (a one-element tuple's trailing comma dropped: `--lags 2,` is refused)
            values = [re.sub(r",\s+", ",", g).rstrip(",") if g else g for g in m.groups()]
            if values and name in typed and _same_value(values[0], typed[name]):
                flags.setdefault(f"typed {name}", f"`{name}`")  # named, not offered back
                continue
            flags[name] = f"`{flag.format(*values)}`"
            flags.pop(f"typed {name}", None)
            break
    if flags:
        message += f" On the command line: {', '.join(dict.fromkeys(flags.values()))}."
    return message


#: the guide's refusals that give the factor its values need (Python fixes only: "multiply by
#: 0.0001") -> that factor, ``--guide-scale`` on the command line (``upscale``, ``scaling``,
#: ``train``)
_GUIDE_SCALES = (
    (re.compile(r"MODIS stores NDVI[^)]* x 10000\): multiply by 0\.0001\b"), 0.0001),
    (re.compile(r"NDVI in percent\? divide it by 100\b"), 0.01),
    *((re.compile(rf"look {k} times too large: divide them by {re.escape(k)}\b"), 1 / float(k))
      for k in ("10", "100", "1000", "0.01", "0.0001")),
)
#: the guide's refusals that name its fill value -> ``--guide-nodata``
_GUIDE_NODATA = (
    (re.compile(r"\bguide\.attrs\['_FillValue'\] = ([-+\w.]+)`"), "--guide-nodata {0}"),
    (re.compile(r"\bguide\.rio\.write_nodata\(([-+\w.]+)\)"), "--guide-nodata {0}"),
)


def _guide_flags(typed: dict[str, Any]) -> list[tuple[Any, str]]:
    """:data:`_GUIDE_SCALES` and :data:`_GUIDE_NODATA` as a table of :func:`_with_flags`: a
    factor found on values the user scaled already (``--guide-scale``) is a factor of that scale
    ("divide them by 10" after ``--guide-scale 0.001`` is ``--guide-scale 0.0001``, not 0.1)."""
    typed_scale = typed.get("--guide-scale")
    done = float(typed_scale) if typed_scale is not None else 1.0
    return [*((p, f"--guide-scale {k * done:g}") for p, k in _GUIDE_SCALES), *_GUIDE_NODATA]


#: the coarse input's declarations (``evaluate --coarse``): its refusals name Python attrs only
_COARSE_FLAGS = (
    (re.compile(r"attrs\.update\(scale_factor=([\d.]+)\)"), "--coarse-scale {0}"),
    (_UNITS_DECLARED, "--coarse-units {0}"),
    (re.compile(r"attrs\['_FillValue'\] = ([-+\w.]+)"), "--coarse-nodata {0}"),
)


#: the front door's refusal of values scaled a second time: its fix drops attributes in Python,
#: and the rest of that refusal (mask them, check the method's inputs) does not apply
_SCALED_TWICE = re.compile(
    r"the '?scale_factor'? ([\d.e+-]+) / '?add_offset'? ([-\d.e+]+) attributes applied them a "
    r"second time: the scale was applied before \(e\.g\. by `mask_and_scale=True`\) and the "
    r"attributes kept\. Drop them: `[^`]*`\.?")
_METHOD_OUTPUT_NOTE = re.compile(r"\s*A method's output out of range is not a temperature: .*?"
                                 r"\(`da\.where\([^`]*`\)\.")


#: the refusal of values without units that look like Celsius where one scale, 1, makes them
#: Kelvin of a land surface: the stored values are Kelvin and a typed scale shrank them
_SCALED_INTO_CELSIUS = re.compile(
    r"the (LST|truth|reference|super-resolved field|coarse LST) has no 'units' attribute and its "
    r"values \(median ([-\d.]+)\) look like degrees Celsius\. Set `\w+\.attrs\['units'\] = "
    r"'degC'` to convert, or 'K' if they are Kelvin(?: \([^)]*\))?; or the scale \("
    r"(?:`reference_scale`, or )?(?:the )?'scale_factor' attribute\) ([\d.e+-]+) is [\d.e+]+ "
    r"times too small: with 1 the median would be ([\d.]+) K \([^)]*\); (?:pass "
    r"`reference_scale=1`|set `[^`]*`|drop it: `[^`]*`)\.")


def _declaration_flags(message: str, command: str | None, subject: str | None = None
                       ) -> tuple[str, str] | None:
    """The scale and offset flags of the input a refusal is about (``subject``, else read from
    the message): the LST's ``--scale``/``--offset``, evaluate's --coarse-/--reference- ones
    and train's --truth- ones; None where that input has no such flags."""
    if subject is None:
        subject = ("coarse LST" if "coarse LST" in message
                   else "super-resolved field" if _SR_SUBJECT.search(message)
                   else "truth" if re.match(r"(?:the |every valid )?truth\b", message)
                   else "reference" if _REFERENCE_SUBJECT.match(message) else "LST")
    prefix = {"coarse LST": "--coarse-", "truth": "--truth-", "reference": "--reference-"
              }.get(subject, "--")
    if (prefix == "--truth-" and command != "train") or (
            prefix in ("--coarse-", "--reference-") and command != "evaluate"):
        return None
    if command == "evaluate" and prefix == "--":
        if subject != "super-resolved field":
            return None  # evaluate's --scale/--offset are the sr's
    return f"{prefix}scale", f"{prefix}offset"


def _scale_flag_hint(message: str, command: str | None,
                     typed: dict[str, Any] | None) -> str:
    """A refusal of values already Kelvin that a scale or offset applied again, where that
    scale or offset is the one the user typed (``--scale``, ``--offset``; evaluate's
    ``--coarse-scale`` for the --coarse file, train's ``--truth-scale`` for the truth): "drop
    --scale" ("drop --offset"), not Python's ``da.attrs.pop('scale_factor')`` (the file has no
    such attribute), nor ``--mask-out-of-range`` (every pixel) or "check the method's inputs".
    Also a typed scale that made Kelvin look like Celsius (``--truth-scale 0.1`` on a Kelvin
    truth): "drop" it, not ``--truth-units degC`` (followed, it ran on a truth ~10 K cold)."""
    message = _scaled_into_celsius_hint(message, command, typed)
    if command == "evaluate":
        message = _reference_scaled_twice_hint(message, typed)
    m = _SCALED_TWICE.search(message)
    if m is None:
        return message
    if command == "evaluate" and not ("coarse LST" in message or _SR_SUBJECT.search(message)):
        return message  # the reference's: its own advice (above)
    flags = _declaration_flags(message, command)
    if flags is None:
        return message
    typed = typed or {}
    # the typed scale/offset that the refusal quotes (a typed --offset 273.15 on Kelvin was
    # told to pop attributes the file lacks, and offered --mask-out-of-range, then refused)
    parts = [(what, value, flag) for what, value, flag, neutral in (
        ("scale", m[1], flags[0], 1.0), ("offset", m[2], flags[1], 0.0))
        if typed.get(flag) is not None and _same_value(value, typed[flag])
        and float(value) != neutral]
    if not parts:
        return message  # the file's own attributes: Python's advice stands
    if len(parts) == 1:
        (what, value, flag), = parts
        said = f"the {what} {value} that {flag} declares"
        drop = flag
    else:
        said = (f"the scale {parts[0][1]} and offset {parts[1][1]} that {parts[0][2]} and "
                f"{parts[1][2]} declare")
        drop = f"{parts[0][2]} and {parts[1][2]}"
    message = (f"{message[:m.start()]}{said} applied them a second time: drop {drop}."
               f"{message[m.end():]}")
    message = _METHOD_OUTPUT_NOTE.sub("", _MASKING_OPTION.sub("", message))
    return _no_space_before_stop(message)


#: the reference's "already Kelvin" refusal (validate's wording, reference_scale mapped)
_REFERENCE_SCALED_TWICE = re.compile(
    r"a scale of ([\d.e+-]+) \(offset ([-\d.e+]+)\) applied them a second time: drop "
    r"(?:--reference-scale|`reference_scale`) \(or the reference's 'scale_factor' / "
    r"'add_offset' attributes\)")


def _reference_scaled_twice_hint(message: str, typed: dict[str, Any] | None) -> str:
    """The reference's "already Kelvin, a scale (offset) applied them a second time: drop
    --reference-scale", where the user typed --reference-offset (or both): the flags typed are
    named (a typed ``--reference-offset 273.15`` was told to drop --reference-scale, which it
    had not typed: followed, the same command and the same refusal)."""
    m = _REFERENCE_SCALED_TWICE.search(message)
    if m is None:
        return message
    typed = typed or {}
    parts = [(what, value, flag) for what, value, flag, neutral in (
        ("scale", m[1], "--reference-scale", 1.0),
        ("offset", m[2], "--reference-offset", 0.0)) if float(value) != neutral]
    mine = [p for p in parts if typed.get(p[2]) is not None and _same_value(p[1], typed[p[2]])]
    if not mine:
        return message  # the file's own attributes: validate's advice stands
    said = " and ".join(f"{what} {value}" for what, value, _ in mine)
    flags = " and ".join(flag for _, _, flag in mine)
    rest = (" (and the reference's 'scale_factor' / 'add_offset' attributes)"
            if len(mine) < len(parts) else "")
    return (f"{message[:m.start()]}the {said} that {flags} "
            f"{'declares' if len(mine) == 1 else 'declare'} applied them a second time: drop "
            f"{flags}{rest}{message[m.end():]}")


#: a median of the stored values within which they may be degrees Celsius (validate's test
#: of Celsius-looking values), and Kelvin of a land surface
_CELSIUS_MEDIAN = (-60.0, 70.0)
_KELVIN_MEDIAN = (180.0, 350.0)


def _scaled_into_celsius_hint(message: str, command: str | None,
                              typed: dict[str, Any] | None) -> str:
    """The refusal "no units, and the values look like degrees Celsius; or the scale X is N
    times too small: with 1 ..." where X is the scale the user typed. The stored numbers
    cannot tell degrees Celsius x 10 (SEVIRI's, with the right ``--scale 0.1``) from Kelvin
    (a Kelvin truth typed ``--truth-scale 0.1``): where the scaled median is plausible Celsius
    both readings are offered, ``--units degC`` first (dropping the scale of a degC x 10
    scene ran, exit 0, on a 52 K cold field); "drop" alone only where the scaled values
    cannot be Celsius and those without the scale are Kelvin."""
    m = _SCALED_INTO_CELSIUS.search(message)
    if m is None:
        return message
    flags = _declaration_flags(message, command, m[1])
    value = (typed or {}).get(flags[0]) if flags else None
    if value is None or not _same_value(m[3], value):
        return message  # the file's own scale: its attribute's advice stands
    scaled, unscaled = float(m[2]), float(m[4])
    kelvin = _KELVIN_MEDIAN[0] <= unscaled <= _KELVIN_MEDIAN[1]
    celsius = _CELSIUS_MEDIAN[0] <= scaled <= _CELSIUS_MEDIAN[1]
    if not kelvin:
        return message
    units = flags[0].replace("scale", "units")
    subject = f"the {m[1]}'s values (median {m[2]}) with the scale {m[3]} that {flags[0]} declares"
    if not celsius:
        return (f"{message[:m.start()]}{subject} are no land surface's degrees Celsius, and its "
                f"stored values (median {m[4]}) are already Kelvin: drop {flags[0]}."
                f"{message[m.end():]}")
    return (f"{message[:m.start()]}{subject} look like degrees Celsius, and its stored values "
            f"(median {m[4]}) like Kelvin; the numbers cannot tell which (the file's producer "
            f"can): if they are degrees Celsius x {1 / float(m[3]):g}, keep {flags[0]} "
            f"{m[3]} and add {units} degC; if they are Kelvin already, drop {flags[0]}."
            f"{message[m.end():]}")


#: evaluate's warning of a reference much finer than sr, whose advice is Python's only
_AGGREGATE_FIRST = "aggregate the reference onto sr's grid first:"


class _ReferenceRead(NamedTuple):
    """How an ``xlstsr evaluate`` run read its reference file: its ``--reference-mask`` files
    (``masks``; an appended option, not among the typed values), its ``variable``, whether the
    file packs it (``scale_factor``/``add_offset`` in the variable's own encoding, whatever the
    file's suffix), ``fill``, the ``--reference-nodata`` it compared with the values as read
    (:func:`_stored_reference_nodata`'s resolution), and ``steps``, its dim of dated steps
    (a series reference, (time, y, x)), which an aggregate keeps as dated band descriptions."""

    masks: tuple[str, ...] = ()
    variable: str | None = None
    packed: bool = False
    fill: float | None = None
    steps: str | None = None


#: the reading of the evaluate run in progress (:func:`_evaluate`), for its advice
#: (:func:`_aggregate_hint`): the advice opened the file again to count its fill a second time
#: (review 50a/4) and judged packing by a .nc suffix (a packed .zarr's fill was missed, 50a/2)
_REFERENCE_READ: contextvars.ContextVar[_ReferenceRead | None] = contextvars.ContextVar(
    "xlstsr_reference_read", default=None)


def _aggregate_hint(message: str, typed: dict[str, Any] | None) -> str:
    """evaluate's warning of a much finer reference, with the command line's way: no flag of
    ``xlstsr evaluate`` aggregates it (this run scores on the reference's grid, as the warning
    says); rasterio's ``rio warp --like SR --resampling average`` (installed with xlstsr) puts
    the reference file on sr's grid, its fill kept out of the means (``--src-nodata``; a
    scaled or packed reference, packed as the run read it (:data:`_REFERENCE_READ`: its
    variable's encoding, whatever the suffix), is decoded in Python first, a typed
    ``--reference-nodata`` masked there as this run read it, stored or decoded, as its readers
    mask only a fill the file declares; a Landsat Collection 2 Level-2 scene is written as its
    reader decodes and masks it, its ``--reference-mask`` GeoTIFFs applied)."""
    if _AGGREGATE_FIRST not in message or "rio warp" in message:
        return message
    typed = typed or {}
    # (the positional paths are typed values too: --sr, --reference)
    sr, ref = str(typed.get("--sr", "SR")), str(typed.get("--reference", "REFERENCE"))
    fill = typed.get("--reference-nodata")
    if _c2l2_reference(ref):
        return _c2l2_aggregate_hint(message, typed, sr, ref)
    # the fill in full (`:g` wrote float32's lowest as -3.40282e+38: averaged in as data)
    # each band's fill its own (UNIFIED_SRC_NODATA=NO): GDAL's warper of several bands takes
    # a pixel valid where any band is, and writes a mean equal to the fill as fill + 1: a step
    # filled where another is not became 1 (0.1 K, warned of as an undeclared fill, declared)
    nodata = (f" --src-nodata {float(fill)!r} --dst-nodata {float(fill)!r} "
              "--wo UNIFIED_SRC_NODATA=NO"
              if fill is not None and math.isfinite(fill) else "")
    # a name with a quote or a space; one no file has (followed again, for another sr,
    # `rio warp` refused to overwrite the first aggregate, then named "the file to pass")
    aggregate = _unused_name(Path(f"{Path(ref).stem}_on_sr.tif"))
    out = shlex.quote(str(aggregate))
    # a placeholder named outside the code (inside it, the command failed as written)
    template = shlex.quote(sr) if sr.lower().endswith((".tif", ".tiff")) else "SR.tif"
    like = "" if template != "SR.tif" else " (SR.tif: a GeoTIFF on sr's grid)"
    var = typed.get("--reference-variable")
    crs = None
    if ref.lower().endswith(".nc") and var is None:
        # a .nc whose CRS GDAL does not see (a lone CRS variable no grid_mapping names, a
        # spatial_ref coordinate without grid_mapping): `rio warp` of it raised "no affine
        # transformation" and left an all-0 file, then refused as "no valid pixel"
        var, crs = _crs_gdal_misses(ref, typed.get("--reference-crs"))
    # a GeoTIFF's scale/offset tags are dropped by `rio warp` too (its aggregate of ASTER's
    # K x 10 was refused as 2047-3241 K, a Landsat-coded one got Python-only advice)
    tagged = ref.lower().endswith((".tif", ".tiff")) and _tif_scaled(ref)
    # GDAL's warp drops a packed variable's scale_factor/add_offset: the aggregate held the
    # stored numbers (2047-3241 'K' for uint16 x 0.1), refused with the same flags. Packed as
    # the run read the variable (its encoding), whatever the suffix: a packed .zarr was taken
    # for plain (its typed stored fill went to `rio warp`, matching nothing decoded: RMSE 2.34 K
    # for 1.77 K on ASTER pair 001); the file's own encoding where no run is in progress
    read = _REFERENCE_READ.get()  # (None outside a run)
    # a series reference's dated steps: GDAL's warp writes them as undated bands (and reads a
    # .nc's time as bands without its dates), refused when followed against sr's dated steps
    steps = read.steps if read is not None else None
    if ref.lower().endswith((".tif", ".tiff")):
        packed_var = None
    elif read is not None:
        packed_var = (var or read.variable) if read.packed else None
    else:
        packed_var = _packed_variable(ref, var)
    var = var or packed_var or (read.variable if steps and read is not None else None)
    packed = tagged or packed_var is not None
    if packed:
        nodata = ""  # decoded: the fill is NaN (the typed stored value is no more in the file)
    tif = ref.lower().endswith((".tif", ".tiff"))
    if tagged or (steps and not tif) or not (tif or (ref.lower().endswith(".nc")
                                                     and var is None)):
        # rasterio warps one raster: a store or a file of several variables failed
        # (TypeError: invalid dtype 'float_') and wrote nothing
        if crs is None and not typed.get("--reference-crs"):
            crs = _reference_crs(ref, var)
        crs = crs or typed.get("--reference-crs")
        # the CRS xlstsr read, written: decode_coords='all' does not link a lone CRS
        # variable either (the GeoTIFF had none, and `rio warp` wrote all 0)
        written = f".rio.write_crs({json.dumps(str(crs))})" if crs else ""
        # written decoded (float32, NaN fill): a packed variable was re-encoded with its
        # encoding, stored numbers without the scale; under a name no file has, beside the
        # reference where its folder is writable, never over a file (./ref.tif was replaced)
        folder = Path(ref).parent
        name = f"{Path(ref).stem}_ref.tif"
        target = _unused_name(folder / name if os.access(folder, os.W_OK) else Path(name))
        opened = (f"rioxarray.open_rasterio({json.dumps(ref)}, mask_and_scale=True)"
                  if tagged else f"xr.open_dataset({json.dumps(ref)}, decode_coords=\"all\")"
                  f"[{json.dumps(var or 'VARIABLE')}]")
        if packed and fill is not None and math.isfinite(fill):
            # the typed fill masked as the run read it: the readers mask only a fill the file
            # declares (ASTER's undeclared 0 was written as 0 K and averaged in). As stored,
            # before decoding, where the run read it so; where the run kept the value typed (a
            # packed file's decoded value, 273.15 typed for a stored 0 of x 0.01 + 273.15, or
            # one both readings give alike), on the decoded values in their own type, as
            # evaluate compares them (compared as stored it matched nothing; in float64, a file
            # of float32 scale_factor/add_offset decodes to float32, whose 273.15 is
            # 273.1499939: 49,958 pixels of 273.15 K were averaged in, RMSE 2.34 K for 1.77 K)
            decoded = read is not None and read.fill is not None and read.fill == float(fill)
            raw = (f"rioxarray.open_rasterio({json.dumps(ref)})" if tagged
                   else f"xr.open_dataset({json.dumps(ref)})[{json.dumps(var)}]" if decoded
                   else f"xr.open_dataset({json.dumps(ref)}, mask_and_scale=False)"
                   f"[{json.dumps(var)}]")
            opened += f".where({raw} != {float(fill)!r})"
        opened += written
        # each step's date as its band's description, the form the reader takes for dated
        # steps (written as the CLI writes its own dated .tif); a GeoTIFF's own descriptions
        # are kept by rioxarray (its bands are no dim of dates there)
        dates = ("" if not steps or tif else
                 ".pipe(lambda da: da.assign_attrs(long_name=tuple(str(t)[:19].removesuffix("
                 f"\"T00:00:00\") for t in da[{json.dumps(steps)}].values.astype("
                 "\"datetime64[s]\"))))")
        code = ("import pathlib, sys, xarray as xr, rioxarray; out = pathlib.Path("
                f"{json.dumps(str(target))}); out.exists() and sys.exit(f\"{{out}} exists: "
                "remove it or pick another name\"); "
                f"{opened}.astype(\"float32\"){dates}"
                ".rio.write_nodata(float(\"nan\"), encoded=False).rio.to_raster(out)")
        place = "" if var or tagged else " (VARIABLE: the reference's variable)"
        but = {"--reference-variable": "a GeoTIFF of one band",
               # (a typed --reference-scale / --reference-offset is not: the Python step
               # applies the file's own tags only, and they apply to the aggregate's means
               # alike; dropped "(decoded now)", the followed run read degrees Celsius)
               "--reference-nodata": "its fill is NaN now",
               # (on the reference's grid: refused beside the aggregate). Where the warp
               # declares the typed fill (--src-nodata), the masked pixels take the fill, not
               # NaN: GDAL's average then kept NaN in (every cell a masked pixel touched: 400
               # of 400 NaN for 180, review 50j/1)
               "--reference-mask": ("on the reference's own grid: set its non-0 pixels to the "
                                    f"fill in the Python step, `.where(MASK == 0, {fill!r})`, "
                                    "before aggregating" if nodata else
                                    "on the reference's own grid: set its non-0 pixels NaN in "
                                    "the Python step, `.where(MASK == 0)`, before aggregating")}
        given = {**typed, "--reference-mask": (read.masks or None) if read else None}
        drop = [flag for flag in but if given.get(flag) is not None
                and (flag in ("--reference-variable", "--reference-mask") or packed)]
        return message + (
            " On the command line no flag of `xlstsr evaluate` aggregates the reference: this "
            "run scores on the reference's grid, as said. To score at sr's scale, write the "
            + ("reference decoded as a GeoTIFF of Kelvin first (its scale/offset tags are "
               "dropped by GDAL's warp; " if tagged else "reference variable as a GeoTIFF first"
               + (", decoded (the file packs it with a scale that GDAL's warp would drop; "
                  if packed else " ("))
            + "in Python, "
            + f"`{code}`){place}, aggregate it onto sr's grid with "
            "rasterio's command (installed with xlstsr), "
            f"`rio warp {shlex.quote(str(target))} {out} --like {template} --resampling "
            f"average{nodata}`{like}, {_dates_back(target, aggregate) if steps else ''}and "
            "pass that file as the reference with the same flags"
            + (" but " + " and ".join(f"{flag} ({but[flag]})" for flag in drop)
               if drop else "") + ".")
    return message + (
        " On the command line no flag of `xlstsr evaluate` aggregates the reference: this run "
        "scores on the reference's grid, as said. To score at sr's scale, aggregate the file "
        "first with rasterio's command (installed with xlstsr), `rio warp "
        f"{shlex.quote(ref)} {out} --like {template} --resampling average{nodata}`{like} (a "
        "plain mean of T, not of T^4: lower by about 1.5 var/T, 0.03 K for a 2.5 K spread within a pixel; "
        f"partly covered pixels kept), {_dates_back(Path(ref), aggregate) if steps else ''}"
        "then pass that file as the reference with the same "
        "flags; a --reference-mask is on the reference's own grid: apply it to the reference "
        "before aggregating (its non-0 pixels set to the fill), not beside the aggregate.")


#: a guide's bands in another order than the model's (guide.check_guide_labels): Python's code
_GUIDE_REORDER = re.compile(r"reorder them into the model's order \(channels ([\d, ]+)\): "
                            r"`guide = guide\.isel\((\w+)=\[[\d, ]+\]\)`\.")


def _guide_reorder_hint(message: str, typed: dict[str, Any] | None) -> str:
    """The refusal of a ``--guide`` file whose bands are in another order than the model's,
    with the command line's way: a copy of the file with its bands in the model's order (a
    GeoTIFF's with rasterio, installed with xlstsr, keeping each band's description, scale,
    offset and unit, so that its labels are checked again; a NetCDF's with xarray), under a
    name no file has, then given as ``--guide``. Python's ``guide.isel(band=[1, 0])`` was the
    only advice, which the command line cannot run."""
    m = _GUIDE_REORDER.search(message)
    path = (typed or {}).get("--guide")
    if (m is None or not isinstance(path, str) or "://" in path
            or "bands in the model's order to a new file" in message):
        return message
    order = [int(v) for v in m[1].split(",")]
    suffix = Path(path).suffix.lower()
    folder = Path(path).parent
    name = f"{Path(path).stem}_reordered{Path(path).suffix}"
    target = str(_unused_name(folder / name if os.access(folder, os.W_OK) else Path(name)))
    def head(modules: str) -> str:  # (no str.format over the paths: braces in them are text)
        return (f"import os, sys{modules}; q = {json.dumps(target)}; os.path.exists(q) and "
                "sys.exit(q + \" exists: remove it or pick another name\"); ")

    if suffix in (".tif", ".tiff"):
        # (rasterio's bands count from 1)
        code = _tiff_copy_code(path, target, [i + 1 for i in order])
    elif suffix in (".nc", ".nc4"):
        code = (head(", xarray as xr") + f"xr.open_dataset({json.dumps(path)})"
                f".isel({m[2]}={order}).to_netcdf(q)")
    else:
        return message
    return message + (
        " On the command line, write the file's bands in the model's order to a new file, "
        f"`python -c {shlex.quote(code)}`, then give --guide {shlex.quote(target)}.")


def _dates_back(described: Path, aggregate: Path) -> str:
    """The advice's step that gives ``aggregate`` (written by ``rio warp``, which drops band
    descriptions) the band descriptions of ``described``: a series reference's dates, which
    the reader takes as its dated steps (its undated bands were refused against sr's steps)."""
    code = (f"import rasterio; d = rasterio.open({json.dumps(str(described))}).descriptions; "
            f"f = rasterio.open({json.dumps(str(aggregate))}, \"r+\"); "
            "[f.set_band_description(i + 1, t) for i, t in enumerate(d)]; f.close()")
    return ("give it back its steps' dates as band descriptions (GDAL's warp drops them; "
            f"undated bands are not sr's steps), `python -c {shlex.quote(code)}`, ")


def _dated_steps(ref: Any) -> str | None:
    """The reference's dim of dated steps (a lead dim labelled by datetimes), or None."""
    from xlstsr.validate import spatial_dims

    try:
        space = set(spatial_dims(ref))
    except (*_user_errors(), ValueError, KeyError):
        return None
    for dim in ref.dims:
        if dim not in space and dim in ref.coords and ref[dim].dtype.kind == "M":
            return str(dim)
    return None


def _date_from_description(da: Any, path: str) -> Any:
    """``da`` of a one-band GeoTIFF ``path`` with the date its band description holds
    (``2020-07-27``, ``LST_Day_2020_07_27``) as its scalar ``time`` coordinate, as the reader
    gives a described band of several (``--reference-band``) and a ``time`` tag: its
    description was dropped, and the undated field was scored against every step of a dated
    sr (a row of another date, exit 0). Unchanged where it has a time already or no date.
    The band's description only: rioxarray's ``long_name`` is also read from a ``long_name``
    tag (its ``to_raster`` writes both), which the undated copy (:func:`_undated_copy_hint`)
    keeps, so the copy was refused again (a loop); an undescribed band is undated, as before."""
    import rasterio

    from xlstsr.io import format_of
    from xlstsr.io.cog import _described_date as date_in

    if ("time" in da.coords or "band" in da.dims or not isinstance(da.attrs.get("long_name"), str)
            or "://" in path or format_of(path, reading=True) != "cog"):
        return da
    with rasterio.open(path) as f:
        text = f.descriptions[0] if f.count == 1 else da.attrs["long_name"]
    date = None if not text else date_in(text)
    if date is None:
        return da
    log.info("%s: its band is described %r: read as of time=%s", path, text, date)
    return da.assign_coords(time=date)


def _reference_date_step(sr: Any, ref: Any, path: str) -> Any:
    """``sr``'s one step of the reference's date, where the reference holds one date (a scalar
    ``time``: its band description, ``--reference-band N`` of dated bands, a ``time`` tag) and
    ``sr`` several steps: the command line cannot select a step of ``sr`` (the library's
    ``sr.sel(time=[...])`` advice), and each other step would be compared with another date.
    The step is the library's pairing (:func:`xlstsr.steps._overpass_matches`: a date-only
    label its day's step, a time of day its overpass's), or the step of exactly a timed label;
    ``sr`` unchanged where none or several match (evaluate refuses it, naming them): an exact
    match of a date-only label picked a 6-hourly series' midnight step (14 K off, exit 0)."""
    import numpy as np

    from xlstsr.steps import _date_only, _overpass_matches

    if ("time" not in ref.coords or ref["time"].ndim != 0 or "time" not in sr.dims
            or sr.sizes["time"] < 2 or ref["time"].dtype.kind != "M"
            or sr["time"].dtype.kind != "M"):
        return sr
    when = ref["time"].values.astype("datetime64[ns]")
    labels = sr.indexes["time"]
    hits = _overpass_matches(when, list(labels))
    if len(hits) != 1 and not _date_only(when):
        # granules minutes apart are one overpass; the reference's own time tells its step
        hits = np.flatnonzero(labels.values.astype("datetime64[ns]") == when).tolist()
    if len(hits) != 1:
        return sr
    log.info("the reference %s is of time=%s: scored against that step of the super-resolved "
             "field alone (of its %d)", path, str(when)[:19], sr.sizes["time"])
    return sr.isel(time=[int(hits[0])])


#: the library's advice for a reference of one date meant for every step of sr: Python's, in
#: each of its wordings ("drop the coordinate (...) if the dates only look different": one sr
#: step or scalar of another date)
_DROP_REFERENCE_DATE = re.compile(
    r"drop (?:its|the) coordinate \(`reference\.drop_vars\('time'\)`\)")


def _undated_copy_hint(err: Exception, ref: str, described: bool) -> Exception:
    """``err`` whose advice drops the reference's date in Python, told to a reference dated by
    its band's description (:func:`_date_from_description`) as an undated copy to write (no flag
    drops a date); other errors as they are. The copy is written as validate's retag
    (:func:`xlstsr.validate._retag_command`) writes one: in a temporary folder beside it,
    renamed once rewritten, a COG opened with ``IGNORE_COG_LAYOUT_BREAK`` (GDAL refused the
    update and left the still-dated copy under the advised name)."""
    from xlstsr.validate import _copy_code, _tiff_update_code

    text = str(err)
    if not described or not _DROP_REFERENCE_DATE.search(text):
        return err
    copy = _unused_name(Path(ref).with_name(f"{Path(ref).stem}_undated{Path(ref).suffix}"))
    folder = json.dumps(os.path.dirname(os.path.abspath(copy)))
    code = (_copy_code(folder, json.dumps(str(copy)), Path(ref).suffix)
            + _tiff_update_code(json.dumps(ref), ["f.set_band_description(1, \"\")"]))
    return type(err)(_DROP_REFERENCE_DATE.sub(lambda _: (
        "write a copy without the band description that dates it (the command line has no "
        f"flag to drop a date), `python -c {shlex.quote(code)}`, and pass that copy"), text))


def _c2l2_reference(ref: str) -> bool:
    """Whether the reference path ``ref`` is one the run reads as a Landsat Collection 2 Level-2
    scene (:func:`_landsat_c2l2`: its folder, its MTL, or its thermal band with ``QA_PIXEL``
    beside it), not a thermal band alone, which is read as any raster with the user's flags."""
    if "://" in ref:
        return False
    p = Path(ref)
    try:
        if p.is_dir():
            return any(_C2L2_SCENE_FILE.search(q.name) for q in p.iterdir())
        band = _C2L2_ST_BAND.search(p.name)
        return bool(_C2L2_SCENE_FILE.search(p.name)) and not (
            band is not None and p.is_file() and _lacks_qa(p, band))
    except OSError:
        return False  # (the run itself opened it: named there if anything fails)


def _c2l2_aggregate_hint(message: str, typed: dict[str, Any], sr: str, ref: str) -> str:
    """:func:`_aggregate_hint` for a Landsat Collection 2 Level-2 scene given as the reference:
    its ``lst`` as :func:`xlstsr.io.open_landsat_c2l2` decodes and masks it, written as a
    GeoTIFF of Kelvin first. The folder was advised ``xr.open_dataset`` (no backend reads a
    folder), its ST band a ``rio warp`` of the digital numbers, whose fill column and clouds
    were averaged in (RMSE 7.03 K for 1.10 K)."""
    p = Path(ref)
    scene = p if p.is_dir() else p.parent
    # beside the scene's folder, not in it (another file among the scene's)
    folder = scene.parent
    name = f"{p.stem}_ref.tif"
    target = _unused_name(folder / name if os.access(folder, os.W_OK) else Path(name))
    out = shlex.quote(str(_unused_name(Path(f"{p.stem}_on_sr.tif"))))
    template = shlex.quote(sr) if sr.lower().endswith((".tif", ".tiff")) else "SR.tif"
    like = "" if template != "SR.tif" else " (SR.tif: a GeoTIFF on sr's grid)"
    # a --reference-mask is on the scene's grid: refused beside the aggregate ("the same
    # flags", review 50a/3), so applied before aggregating, as the run does (0 = clear), by
    # coordinates (a south-up mask, a full-scene mask of a window); a GeoTIFF's, as stored
    read = _REFERENCE_READ.get()  # (None outside a run)
    masks = list(read.masks) if read is not None else []
    coded = bool(masks) and all(m.lower().endswith((".tif", ".tiff")) for m in masks)
    clear = "".join(
        f".where(rioxarray.open_rasterio({json.dumps(m)}).squeeze(drop=True).reindex_like("
        "lst, method=\"nearest\") == 0)" for m in masks) if coded else ""
    code = ("import pathlib, sys, rioxarray; from xlstsr.io import open_landsat_c2l2; "
            f"out = pathlib.Path({json.dumps(str(target))}); out.exists() and sys.exit("
            "f\"{out} exists: remove it or pick another name\"); "
            f"lst = open_landsat_c2l2({json.dumps(ref)})[\"lst\"]; lst{clear}.astype(\"float32\")"
            ".rio.write_nodata(float(\"nan\"), encoded=False).rio.to_raster(out)")
    but = (["--reference-nodata (its fill is NaN now)"]
           if typed.get("--reference-nodata") is not None else [])
    if masks:
        but.append("--reference-mask (applied now: its non-0 pixels are NaN)" if coded else
                   "--reference-mask (on the scene's grid: set its non-0 pixels NaN in the "
                   "Python step, `.where(MASK == 0)`, before aggregating)")
    drop = f" but {' and '.join(but)}" if but else ""
    return message + (
        " On the command line no flag of `xlstsr evaluate` aggregates the reference: this run "
        "scores on the reference's grid, as said. To score at sr's scale, write the scene's "
        "surface temperature as this run reads it (decoded to Kelvin, its fill, clouds and "
        "water NaN from QA_PIXEL" + (", and where --reference-mask is not 0" if coded else "")
        + ") as a GeoTIFF first (in Python, "
        f"`{code}`), aggregate it onto sr's grid with rasterio's command (installed with "
        f"xlstsr), `rio warp {shlex.quote(str(target))} {out} --like {template} --resampling "
        f"average`{like}, and pass that file as the reference with the same flags{drop}.")


def _tif_scaled(ref: str) -> bool:
    """Whether the GeoTIFF ``ref`` has a band with a scale or offset tag (not 1 / 0)."""
    import rasterio

    try:
        with rasterio.open(ref) as src:
            return (any(v not in (None, 1) for v in src.scales)
                    or any(v not in (None, 0) for v in src.offsets))
    except (OSError, rasterio.errors.RasterioError):
        return False  # (the run itself opened it: named there if anything fails)


def _packed_variable(ref: str, variable: str | None = None) -> str | None:
    """The variable of a reference file xarray reads (``variable``, or its one data variable)
    where the file packs it (CF ``scale_factor``/``add_offset`` in its encoding: a .nc, a
    .zarr store...), else None; for an advice given outside an evaluate run."""
    import xarray as xr

    if "://" in ref and not ref.lower().endswith(".nc"):
        return None  # (not fetched for a hint)
    try:
        with xr.open_dataset(ref) as ds:
            names = [variable] if variable else [
                n for n, v in ds.data_vars.items() if v.ndim >= 2]
            if len(names) != 1 or names[0] not in ds:
                return None
            enc = ds[names[0]].encoding
    except (OSError, ValueError, TypeError, KeyError):
        return None  # (no backend reads it: the run itself named it if anything fails)
    return str(names[0]) if ("scale_factor" in enc or "add_offset" in enc) else None


def _reference_crs(ref: str, variable: str | None) -> str | None:
    """The CRS xlstsr reads for ``variable`` of the reference file ``ref`` (its lone CRS
    variable taken, :func:`_link_lone_crs`), as text; None where none is read."""
    try:
        crs = _open_field(ref, variable, "reference", "--reference-variable").rio.crs
    except (*_user_errors(), OSError, ValueError, KeyError):
        return None  # (the run itself opened it: named there if anything fails)
    if crs is None:
        return None
    return crs.to_string() if crs.to_epsg() is not None else crs.to_wkt()


def _crs_gdal_misses(ref: str, typed_crs: str | None) -> tuple[str | None, str | None]:
    """For a one-variable .nc reference: ``(variable, crs)`` where GDAL (``rio warp``) does
    not see the CRS xlstsr reads (or ``typed_crs``, --reference-crs), else ``(None, None)``:
    the direct ``rio warp`` works."""
    import warnings

    import rasterio
    import xarray as xr
    from affine import Affine

    try:
        with warnings.catch_warnings():
            warnings.simplefilter("ignore")  # NotGeoreferencedWarning: what is tested here
            with rasterio.open(ref) as src:
                seen, placed = src.crs, src.transform != Affine.identity()
        with xr.open_dataset(ref) as ds:
            names = [n for n, v in ds.data_vars.items() if v.ndim >= 2]  # not a CRS variable
    except (rasterio.errors.RasterioError, OSError, ValueError):
        return None, None
    crs = typed_crs or _reference_crs(ref, None)
    if crs is None or len(names) != 1:
        return None, None
    from pyproj import CRS

    if seen is not None and placed and CRS.from_user_input(seen.to_wkt()).equals(
            CRS.from_user_input(crs), ignore_axis_order=True):
        return None, None
    return str(names[0]), str(crs)


#: scaling_stats' warning of isolated gaps, whose fill is Python's only
_FILL_GAPS = "Fill the isolated gaps first, those alone"


def _fill_gaps_hint(message: str, typed: dict[str, Any] | None) -> str:
    """``xlstsr scaling``'s warning of isolated gaps, with the command line's way: no flag
    fills gaps, so the file is filled first (the same fill, one line of Python on a GeoTIFF
    with rioxarray), or the H column is read (not biased by them)."""
    if _FILL_GAPS not in message or "_filled" in message:
        return message
    path = str((typed or {}).get("--input", "IN.tif"))  # the positional INPUT as typed
    if not path.lower().endswith((".tif", ".tiff")):
        return message + (
            " On the command line no flag fills gaps: fill them in the file first (that fill "
            "on its variable in Python, written back with to_netcdf / to_zarr), then run "
            "`xlstsr scaling` on the filled file; or read the H (hurst) column, which they do "
            "not bias.")
    # double-quoted Python strings: the shell's single quotes stay whole
    fill = (typed or {}).get("--nodata")
    # a --nodata the file does not declare masked too (the file's own tag only: its 764
    # zeros were kept as data, and the filled file warned again)
    unmask = (f"da = da.where(da != {float(fill)!r}); "
              if fill is not None and math.isfinite(fill) else "")
    name = f"{Path(path).stem}_filled.tif"
    # beside the input where its folder is writable (a shared read-only data folder failed:
    # "Read-only file system"), else in the current folder; under a name no file has
    # (./filled.tif replaced an existing file, or the input itself when so named), and never
    # written over: the one-liner refuses then
    folder = Path(path).parent
    filled = _unused_name(folder / name if os.access(folder, os.W_OK) else Path(name))
    code = (f"import pathlib, sys, rioxarray; out = pathlib.Path({json.dumps(str(filled))}); "
            "out.exists() and sys.exit(f\"{out} exists: remove it or pick another name\"); "
            f"da = rioxarray.open_rasterio({json.dumps(path)}, masked=True); "
            f"{unmask}da.fillna(da.rolling(y=3, x=3, center=True, min_periods=1).mean()"
            ".where(sum(da.notnull().shift({d: s}, fill_value=False).astype(int) for d in "
            "(\"y\", \"x\") for s in (1, -1)) >= 3))"
            ".rio.to_raster(out)")
    return message + (
        " On the command line no flag fills gaps: fill them in the file first, e.g. "
        f"`python -c {shlex.quote(code)}`, then run `xlstsr scaling "
        f"{shlex.quote(str(filled))} ...` with the same flags; or read the H (hurst) column, "
        "which they do not bias.")


#: scaling_stats' refusal of a guide of the LST's shape at another pixel size (a 250 m guide
#: cropped to the 1 km LST's 64 x 64), whose crop of the LST is Python's
_CROP_LST = re.compile(r"crop the LST to its pixels inside the guide \(`lst = lst\.sel\("
                       r"(\w+)=slice\(([^,()]+), ([^,()]+)\), (\w+)=slice\(([^,()]+), "
                       r"([^,()]+)\)\)`\)")


def _crop_lst_hint(message: str, typed: dict[str, Any] | None) -> str:
    """The refusal of a guide of the LST's shape at another pixel size, its crop of the LST
    (``lst.sel(y=slice(...), x=slice(...))``, pixel centres) written for a GeoTIFF input as the
    command line crops it: a copy of those pixels (rasterio, installed with xlstsr: the
    window, scale, offset, fill, descriptions and tags kept), or GDAL's ``gdal_translate
    -projwin`` with their outer edges, given as the input after. Other messages and inputs as
    they are."""
    m = _CROP_LST.search(message)
    path = (typed or {}).get("--input")
    if (m is None or not isinstance(path, str) or "://" in path
            or not path.lower().endswith((".tif", ".tiff")) or not Path(path).is_file()):
        return message
    import rasterio
    from rasterio.windows import Window

    try:
        centres = {m[1]: (float(m[2]), float(m[3])), m[4]: (float(m[5]), float(m[6]))}
        with rasterio.open(path) as src:
            inverse = ~src.transform
            ys = centres.get("y")
            xs = centres.get("x")
            if ys is None or xs is None or src.transform.b or src.transform.d:
                return message  # (dims other than a GeoTIFF's y/x, or a rotated grid)
            # the pixels of those centres (at whole + 0.5 in the inverse transform)
            cols = sorted((inverse * (x, ys[0]))[0] for x in xs)
            rows = sorted((inverse * (xs[0], y))[1] for y in ys)
            window = Window(math.floor(cols[0]), math.floor(rows[0]),
                            math.floor(cols[1]) - math.floor(cols[0]) + 1,
                            math.floor(rows[1]) - math.floor(rows[0]) + 1)
            left, bottom, right, top = src.window_bounds(window)
    except (ValueError, OSError, rasterio.errors.RasterioError):
        return message
    src_p = Path(path)
    folder = src_p.parent
    name = f"{src_p.stem}_cropped{src_p.suffix}"
    target = str(_unused_name(folder / name if os.access(folder, os.W_OK) else Path(name)))
    code = _tiff_copy_code(path, target, window=window)
    gdal = (f"gdal_translate -projwin {left!r} {top!r} {right!r} {bottom!r} "
            f"{shlex.quote(path)} {shlex.quote(target)}")
    return message.replace(m[0], (
        f"{m[0]}; on the command line, write those pixels of {path} to a new file, "
        f"`python -c {shlex.quote(code)}` (or with GDAL, `{gdal}`), and give "
        f"{shlex.quote(target)} as the input"), 1)


def _tiff_copy_code(path: str, target: str, bands: list[int] | None = None,
                    window: Any = None) -> str:
    """A ``python -c`` program writing a copy of the GeoTIFF ``path`` to ``target`` (it stops
    where ``target`` exists): its bands ``bands`` (counted from 1, in that order; every band by
    default), the pixels of the rasterio ``window`` only where given (untiled: a COG's 512 px
    blocks do not fit a crop of a few pixels), with the file's tags and each band's
    description, scale, offset, unit and tags kept, so that the copy is read and checked as
    the file is (one builder: the reorder copy kept no tags where the others did)."""
    code = (f"import os, sys, rasterio, rasterio.windows; q = {json.dumps(target)}; "
            "os.path.exists(q) and sys.exit(q + \" exists: remove it or pick another name\"); "
            f"s = rasterio.open({json.dumps(path)}); "
            + (f"b = {list(bands)}; " if bands is not None else "b = list(s.indexes); "))
    if window is None:
        code += "p = dict(s.profile, count=len(b)); r = s.read(b); "
    else:
        code += (f"w = rasterio.windows.Window({window.col_off}, {window.row_off}, "
                 f"{window.width}, {window.height}); "
                 "p = {k: v for k, v in s.profile.items() if k not in "
                 "(\"blockxsize\", \"blockysize\", \"tiled\")}; "
                 "p.update(count=len(b), width=w.width, height=w.height, "
                 "transform=s.window_transform(w)); r = s.read(b, window=w); ")
    return code + ("f = rasterio.open(q, \"w\", **p); f.write(r); f.update_tags(**s.tags()); "
                   "[f.update_tags(j + 1, **s.tags(i)) for j, i in enumerate(b)]; "
                   "f.descriptions = tuple(s.descriptions[i - 1] for i in b); "
                   "f.scales = tuple(s.scales[i - 1] for i in b); "
                   "f.offsets = tuple(s.offsets[i - 1] for i in b); "
                   "f.units = tuple(s.units[i - 1] for i in b); f.close()")


def _unused_name(path: Path) -> Path:
    """``path``, or ``stem_2``, ``stem_3``... beside it: the first name no file has."""
    k, out = 1, path
    while out.exists() or out.is_symlink():
        k += 1
        out = path.with_name(f"{path.stem}_{k}{path.suffix}")
    return out


#: open_path's refusal of a folder of MODIS granules, whose advice is Python's (open_modis)
_GRANULE_FOLDER = re.compile(r"^(.+?) is a folder \((\d+) \.hdf files in it\), not a Zarr store: "
                             r".*?variable='(\w+)'\)`, or pass one granule\.")


#: the layer flag of each input a folder may be typed as (the positional INPUT / sr: --variable)
_VARIABLE_FLAG_OF = {"--reference": "--reference-variable", "--coarse": "--coarse-variable",
                     "--truth": "--truth-variable", "--guide": "--guide-variable"}


def _granule_folder_hint(message: str, typed: dict[str, Any] | None = None) -> str:
    """A folder of MODIS granules given as an input, with the command line's way: a command
    reads one file, so one granule in the folder's place (its first named), the layer with
    that input's flag (--variable; evaluate's reference --reference-variable, --coarse
    --coarse-variable...: `--variable` there, followed, set sr's layer). The Python call's
    ``variable='LST_Day_1km'`` was offered as `--variable LST_Day_1km` alone, which, followed,
    got the same refusal (the folder was still the input)."""
    m = _GRANULE_FOLDER.search(message)
    if m is None or "On the command line a command reads one file" in message:
        return message
    granules = sorted(Path(m[1]).glob("*.hdf")) if Path(m[1]).is_dir() else []
    example = f" (e.g. `{shlex.quote(str(granules[0]))}`)" if granules else ""
    # the input typed as that folder (its path as typed, or the same folder spelled otherwise)
    role = next((flag for flag, value in (typed or {}).items()
                 if flag in _VARIABLE_FLAG_OF and isinstance(value, str)
                 and (value == m[1] or Path(value).resolve() == Path(m[1]).resolve())), None)
    variable = _VARIABLE_FLAG_OF.get(role, "--variable")
    return (f"{message} On the command line a command reads one file, not a folder: pass one "
            f"granule in its place{example}, with `{variable} {m[3]}` for that layer; or "
            "write the cube opened as above to one .zarr store in Python and pass that.")


#: evaluate's refusal naming a packed reference's fill decoded and as stored
_STORED_FILL = re.compile(r"\bvalue (-?[\d.]+(?:e[-+]?\d+)?) \((-?\d+) as stored[;)]")


def _stored_nodata_advice(message: str) -> str:
    """``--reference-nodata`` advised with the value as stored, as upscale's --nodata (the
    decoded value, mapped from ``reference_nodata=``, was read as stored and refused again),
    and never the bare flag (offered where the typed value was the message's)."""
    m = _STORED_FILL.search(message)
    if m is None:
        return message
    return re.sub(rf"`--reference-nodata(?: {re.escape(m[1])})?`",
                  f"`--reference-nodata {m[2]}`", message)


#: evaluate's advice on a typed fill beside a dropped reference_scale: the decoded value
_DECODED_FILL = re.compile(r"\(a typed `reference_nodata` is then compared with the decoded "
                           r"values: [^()]*\)")


def _cli_hints(message: str, command: str | None = None,
               typed: dict[str, Any] | None = None,
               crs_spans: dict[str, tuple[bool, str] | None] | None = None) -> str:
    """Messages written for Python callers, completed with the command line's flags (never the
    value the user typed, ``typed`` by option name, which the message may be rejecting).
    ``crs_spans``: the inputs' coordinates, for the example of ``--crs`` (:func:`_crs_hint`)."""
    message = _renamed_flags(message, command)
    message = _granule_folder_hint(message, typed)  # (its flag named: not mapped below)
    message = _with_flags(message, _COMMON_FLAGS, typed)
    message = _scale_flag_hint(message, command, typed)
    if command == "evaluate":
        message = _aggregate_hint(message, typed)
        message = _reference_offset_hint(message, typed)
        # validate's "drop `reference_scale`": its flag (no hint pattern maps a bare name)
        message = message.replace("drop `reference_scale`", "drop --reference-scale")
        # (its fill as decoded is Python's: --reference-nodata is the value as stored)
        message = _DECODED_FILL.sub(
            "(--reference-nodata, where given, is the value as the file stores it)", message)
        message = _with_flags(message, _EVALUATE_FLAGS, typed)
        message = _stored_nodata_advice(message)
        if "coarse LST" in message:  # a refusal of the --coarse file: its own flags
            message = _with_flags(message, _COARSE_FLAGS, typed)
        elif _SR_SUBJECT.search(message):  # one of the sr: --units, --nodata, --scale, --offset
            message = _with_flags(message, _SR_FLAGS, typed)
        elif _REFERENCE_SUBJECT.match(message):  # one of the reference: --reference-units
            message = _with_flags(message, _REFERENCE_FLAGS, typed)
    if command == "scaling":
        message = _with_flags(message, _SCALING_FLAGS, typed)
        message = _crop_lst_hint(message, typed)
        message = _fill_gaps_hint(message, typed)
        message = _FEW_FIT_POINTS.sub(_fit_window_flags, message)
    if _SET_SCALE.search(message) and "--scale" not in message and (
            command != "evaluate" or _SR_SUBJECT.search(message)):
        # (evaluate's --scale is the sr's: the reference's and coarse input's are their own)
        message += (" On the command line: `--scale FACTOR` (e.g. `--scale 0.02 --nodata 0` "
                    "for MODIS LST digital numbers stored without scale metadata).")
    message = _malformed_crs_hint(message, command)
    message = _grid_file_hint(message)
    if command in _CRS_FLAGS:
        message = _crs_hint(message, crs_spans, command)
    if command in ("upscale", "scaling", "train") and re.search(r"\bguide\b", message):
        message = _with_flags(message, _guide_flags(typed or {}), typed)
    if command == "upscale":  # Python's method_options: its --method-option flags
        message = _method_option_flags(message)
        message = _guide_reorder_hint(message, typed)
    if command in ("upscale", "scaling", "train"):
        message = _with_flags(message, [
            (p, f) for p, f in _UPSCALE_FLAGS
            if command == "upscale" or f.split()[0] in _SHARED_FLAGS.get(command, ())], typed)
        # once each: train's messages pass here twice (in _train and in main)
        if ("to use one guide for every step" in message  # guide.squeeze('time', drop=True)
                and _ONE_GUIDE_NOTE not in message):
            message += _ONE_GUIDE_NOTE
        # "give the LST its time dim": no flag does that
        if "but the LST has none" in message and _NO_DATES_NOTE not in message:
            message += _NO_DATES_NOTE
    return message


#: validate's refusals of a grid whose fix is Python's: dims it does not know as spatial
#: (``da.rio.set_spatial_dims(x_dim='col', y_dim='row')``), longitudes wrapped across Greenwich
#: or the antimeridian (``da = da.assign_coords(lon=...)``)
_UNKNOWN_DIMS = re.compile(r"\bno spatial dimensions found in dims .*?`da\.rio\.set_spatial_dims"
                           r"\(x_dim='([^']+)', y_dim='([^']+)'\)`")
_WRAPPED_LON = re.compile(r"\(longitude\) coordinates jump from [^:]*: the grid crosses (the prime "
                          r"meridian|the antimeridian)")


#: scaling_stats' refusal of a fit window holding fewer than 2 of its points, whose "or pass
#: None" and Python names no flag follows
_FEW_FIT_POINTS = re.compile(r"\b(fit_lags|fit_factors) \(([^)]*)\) holds (\d+) of the "
                             r"([^(]*) \(([\d., ]+)\): a power law needs at least 2 points\. "
                             r"Widen it to cover 2 or more of them, or pass None\.")


def _fit_window_flags(m: re.Match[str]) -> str:
    """:data:`_FEW_FIT_POINTS` in the flag's words, with a window of the two neighbouring
    points nearest the one given (``--fit-lags 5,6`` of lags 1..64: ``--fit-lags 4,8``)."""
    from itertools import pairwise

    flag = "--" + m[1].replace("_", "-")
    points = sorted(float(v) for v in m[5].split(",") if v.strip())
    try:
        lo, hi = (float(v) for v in m[2].split(","))
    except ValueError:
        lo = hi = math.nan
    example = ""
    if len(points) >= 2:
        mid = math.sqrt(lo * hi) if lo > 0 and hi > 0 else points[0]
        a, b = min(pairwise(points),  # the pair whose geometric middle is nearest
                   key=lambda ab: abs(math.log(max(ab[0] * ab[1], 1e-12) / max(mid**2, 1e-12))))
        example = f" (e.g. `{flag} {a:g},{b:g}`)"
    given = m[2].replace(" ", "") if math.isnan(lo) else f"{lo:g},{hi:g}"
    return (f"{flag} {given} holds {m[3]} of the {m[4]} ({m[5]}): a power law "
            f"needs at least 2 points. Widen it to cover 2 or more of them{example}, or drop "
            f"{flag} (its default window).")


def _grid_file_hint(message: str) -> str:
    """A refusal of a file's grid whose fix is Python's, with the command line's way: NCO's
    ``ncrename`` (or ``ncatted``'s CF axis attributes) for dims named otherwise than y/x, CDO's
    ``sellonlatbox`` for longitudes wrapped across Greenwich (to -180..180) or the antimeridian
    (to 0..360). Python's advice is kept (for a Zarr store, or a caller with xarray)."""
    if "ncrename" in message or "cdo sellonlatbox" in message:  # (train's pass twice)
        return message
    if "are 2-D: a swath or curvilinear grid" in message:
        # 2-D lat/lon: renaming the dims onto y/x made pixel indices the grid (with --crs
        # EPSG:4326, 1-degree pixels at 0..n degrees): the resampling advice is the fix
        return message
    m = _UNKNOWN_DIMS.search(message)
    if m is not None:
        xd, yd = m[1], m[2]
        return message + (
            f" On the command line, for a NetCDF file, with the NCO tools: rename them, "
            f"`ncrename -d {yd},y -v .{yd},y -d {xd},x -v .{xd},x in.nc` (in place), or mark "
            f"them with CF axis attributes, `ncatted -a axis,{yd},o,c,Y -a axis,{xd},o,c,X in.nc`.")
    m = _WRAPPED_LON.search(message)
    if m is not None:
        west, east = ("-180", "180") if "prime meridian" in m[1] else ("0", "360")
        return message + (
            f" On the command line, for a NetCDF file, with the CDO tools: "
            f"`cdo sellonlatbox,{west},{east},-90,90 in.nc out.nc` writes them in order in "
            f"{west}..{east}; then give out.nc.")
    return message


#: a refusal of an input without a CRS (xlstsr.validate: "the LST has lat/lon dims ... but no
#: CRS; ... `da = da.rio.write_crs('EPSG:4326')`", "the guide has no CRS. Set it with
#: rioxarray..."): its fixes are Python's
_NO_CRS = re.compile(r"\bthe (LST|guide|reference|super-resolved field|coarse LST) has "
                     r"(?:lat/lon dims [^;.]*? but )?no CRS\b")
#: per command, the flag declaring the CRS of each input validate names (evaluate's: the sr,
#: the reference, the --coarse file, which had no flag: a Python-only fix)
_CRS_FLAGS = {
    "upscale": {"LST": "--crs", "guide": "--guide-crs"},
    "scaling": {"LST": "--crs", "guide": "--guide-crs"},
    "evaluate": {"super-resolved field": "--crs", "reference": "--reference-crs",
                 "coarse LST": "--coarse-crs"},
}


def _crs_hint(message: str, spans: dict[str, tuple[bool, str] | None] | None = None,
              command: str = "upscale") -> str:
    """A refusal of a file without a CRS, with the flag that declares it (``--crs``,
    ``--guide-crs`` of upscale and scaling; evaluate's ``--crs``, ``--reference-crs``,
    ``--coarse-crs``): the command line had no way to run it at all.

    ``spans``: per refused input (validate's name: "LST", "guide", "reference"...), whether its
    coordinates are lon/lat degrees and their ranges (:func:`_coordinate_span`; None: not
    known). The example CRS follows them, not the dims' names: x/y dims holding degrees were
    given a UTM example, lat/lon dims holding metres EPSG:4326, and following either advice was
    refused in turn."""
    m = _NO_CRS.search(message)
    flag = _CRS_FLAGS.get(command, {}).get(m.group(1)) if m is not None else None
    if flag is None or flag in message:
        return message
    span = (spans or {}).get(m.group(1))
    if span is None:  # the coordinates unknown: the message's reading of the dims' names
        degrees, where = "write_crs('EPSG:4326')" in message, ""
    else:
        degrees, where = span[0], f" ({span[1]})"
    if degrees:
        return message + (f" On the command line: `{flag} EPSG:4326`: its coordinates{where} "
                          "are lon/lat degrees.")
    from xlstsr.grid import MODIS_SINUSOIDAL

    said = (f"; they{where} are not degrees, whatever the dims are named" if span is not None
            and "write_crs('EPSG:4326')" in message else "")
    return message + (f" On the command line: `{flag} CRS` with the projected CRS its "
                      f"coordinates are in{said} (e.g. `{flag} EPSG:32631` for UTM zone 31N, or "
                      f"`{flag} '{MODIS_SINUSOIDAL}'` for MODIS sinusoidal tiles).")


def _coordinate_span(path: str | None, variable: str | None, role: str, flag: str,
                     band: int | None) -> tuple[bool, str] | None:
    """Whether the spatial coordinates of ``path``'s field (opened as the command opened it)
    are lon/lat degrees, and their ranges as text, as validate reads them
    (:func:`xlstsr.validate._degree_span`); None where that is not known (no coordinates,
    pixel indices 0, 1, 2..., a file that does not open)."""
    from xlstsr.errors import XlstsrError
    from xlstsr.validate import _degree_span

    if path is None:
        return None
    try:
        da = _open_field(path, variable, role, flag, band)
        degrees, text = _degree_span(da, *_spatial_dims(da))
    except (XlstsrError, UsageError, OSError, ValueError, KeyError, TypeError):
        return None  # the refusal keeps its own advice
    return None if degrees is None else (degrees, text)


#: validate's refusal of a malformed CRS (an ellipsoid not Earth-sized), whose fix is Python's
#: (``da.rio.write_crs('EPSG:32630')``)
_MALFORMED_CRS = re.compile(
    r"\bthe (\w[\w -]*?)'s CRS \(.*?\) has an ellipsoid of semi-major axis [^:]*: its file's "
    r"header is malformed\b")


def _malformed_crs_hint(message: str, command: str | None) -> str:
    """A refusal of a malformed file CRS, with the command line's way past it: ``--crs``
    (``--guide-crs``) replaces it in upscale and scaling; elsewhere the CRS is assigned to the
    file (``gdal_edit.py -a_srs``, which assigns: ``gdalwarp`` would reproject, and finds no
    transformation from a malformed CRS); evaluate's ``--crs``, ``--reference-crs``,
    ``--coarse-crs`` replace it for one run, beside that advice (the file fixed for good)."""
    m = _MALFORMED_CRS.search(message)
    if m is None or "On the command line: pass `--" in message or "gdal_edit.py" in message:
        return message
    example = re.search(r"write_crs\('([^']+)'\)", message[m.start():])
    crs = example[1] if example else "EPSG:NNNN"
    flag = _CRS_FLAGS.get(command or "", {}).get(m[1])
    if flag and command != "evaluate":
        return message + (f" On the command line: pass `{flag} {crs}` (the CRS it is really in) "
                          "to replace it.")
    return message + (" On the command line: "
                      + (f"pass `{flag} {crs}` (the CRS it is really in) to replace it, or "
                         if flag else "")
                      + f"assign the CRS it is really in to the file first, "
                      f"e.g. `rio edit-info --crs {crs} file.tif` for a GeoTIFF (rasterio's "
                      f"command, installed with xlstsr; or GDAL's `gdal_edit.py -a_srs {crs} "
                      "file.tif`).")


#: upscale's flags (of :data:`_UPSCALE_FLAGS`) that other commands have too
_SHARED_FLAGS = {"scaling": ("--units", "--variable", "--mask-out-of-range"),
                 "train": ("--units", "--variable", "--guide-time-tolerance",
                           "--guide-offset")}
_ONE_GUIDE_NOTE = (" On the command line a guide file without a time dim or dates (e.g. a "
                   "GeoTIFF of one field) is used for every step.")
_NO_DATES_NOTE = (" On the command line the bands of a GeoTIFF LST carry no dates: give the LST "
                  "as a .nc or .zarr with its time coordinate, or a guide of one date.")


@contextlib.contextmanager
def _scheduler(spec: str) -> Iterator[None]:
    """``threads``, ``sync``, ``processes`` or the address of a dask.distributed scheduler."""
    import dask

    if spec in ("threads", "sync", "synchronous", "processes"):
        name = "synchronous" if spec == "sync" else spec
        with dask.config.set(scheduler=name):
            yield
        return
    try:
        from distributed import Client
    except ModuleNotFoundError:
        raise UsageError(
            f"--scheduler {spec!r} needs dask.distributed: pip install 'xlstsr[distributed]'"
        ) from None
    if "://" not in spec and ":" not in spec:
        # a misspelt name ('thread'): refused before a Client tries it as an address (which
        # printed the error, hung 20 s at exit and then a Client.__del__ traceback)
        import difflib

        near = difflib.get_close_matches(spec, ["threads", "sync", "processes"], n=1)
        raise UsageError(
            f"--scheduler {spec!r} is not threads, sync, processes or a scheduler address such "
            f"as tcp://host:8786{f' (did you mean {near[0]!r}?)' if near else ''}"
        )
    saved = dask.config.get("scheduler", None)
    try:
        # not the process's default client: a Client that fails to connect stayed registered as
        # the default, and the next computation in this process (a notebook, a test) hung on it
        client = Client(spec, timeout=10, set_as_default=False)
    except OSError as err:  # refused, unreachable, timed out
        dask.config.set(scheduler=saved)  # a failed Client leaves dask set to distributed
        raise UsageError(f"cannot reach the dask scheduler at {spec!r} ({err})") from None
    except (ValueError, TypeError) as err:  # not an address at all ('bogus': no port)
        dask.config.set(scheduler=saved)
        raise UsageError(
            f"--scheduler {spec!r} is not threads, sync, processes or a scheduler address such "
            f"as tcp://host:8786 ({err})"
        ) from None
    log.info("running on %s", client)
    try:
        with client.as_current(), dask.config.set(scheduler=client):
            yield
    finally:
        client.close()


def _table_suffix(path: str) -> None:
    """Refuse a table output other than .csv/.nc before any work (and before "exists")."""
    if Path(path).suffix.lower() not in (".csv", ".nc", ".nc4"):
        raise UsageError(f"cannot write a table to {path!r}: use .csv or .nc")
    if Path(path).is_dir():  # was "exists", then with --overwrite "check the free space"
        raise UsageError(f"{path} is a folder, not a table file: --overwrite replaces files "
                         f"only; give the file's name, e.g. {Path(path) / 'scores.csv'}")


@contextlib.contextmanager
def _written_whole(path: str) -> Iterator[str]:
    """A temporary name beside ``path`` to write to, renamed to ``path`` once written: an
    interrupted write (Ctrl-C, a full disk) leaves no partial file that looks complete."""
    import os

    from rasterio.errors import RasterioError

    try:
        from rasterio._err import CPLE_BaseError
    except ImportError:  # pragma: no cover - rasterio's private module moved
        CPLE_BaseError = RasterioError

    p = Path(path)
    # not ending in the output's suffix: a run killed hard (no clean-up) leaves a hidden file
    # that `glob('*.tif')` would read as a step (the writers name their format, not the suffix)
    part = p.with_name(f".{p.name}.partial")
    try:
        yield str(part)
        os.replace(part, p)
    except (OSError, RasterioError, CPLE_BaseError) as err:  # a full disk, a lost mount
        import errno

        name = getattr(err, "filename", None)
        writing = (getattr(err, "errno", None) in (errno.ENOSPC, errno.EDQUOT, errno.EROFS,
                                                    errno.EACCES, errno.EPERM)
                   or (isinstance(name, str) and Path(name).name in (p.name, part.name)))
        if not writing:  # the output is computed while written: an input's read may fail here
            raise UsageError(
                f"{path} was not written: {err}. An input file may be unreadable (check it) or "
                "the output's folder full or read-only; nothing was written."
            ) from err
        raise UsageError(
            f"cannot write {path}: {getattr(err, 'strerror', None) or err}. Check the free "
            "space and permissions of its folder, or choose another one; nothing was written."
        ) from None
    finally:
        part.unlink(missing_ok=True)


def _check_writable(*paths: str | None) -> None:
    """Check that a file can be made where each output goes (in its nearest existing folder:
    missing ones are created when writing), before any work: an unwritable or read-only folder
    stopped a run only once it was computed (or with rasterio's traceback)."""
    from .errors import XlstsrError
    from .io.formats import check_writable
    from .io.zarr import holds_zarr_metadata

    for path in paths:
        if not path or "://" in str(path):
            continue
        for parent in Path(path).absolute().parents:  # any store, not only an input's
            if holds_zarr_metadata(parent):
                raise UsageError(f"{path} lies inside the Zarr store {parent}: writing there "
                                 "would change that store; write to a path outside it.")
        try:
            check_writable(Path(path).absolute().parent)
        except XlstsrError as err:
            raise UsageError(f"cannot write {path}: {err}") from None


def _write_table(ds: Any, path: str, lead: list[str]) -> None:
    """A Dataset of per-step values as CSV (one row per leading index, with the step's other
    labels along the leading dims, its overpass among them) or NetCDF."""
    from .validate import decoded_label

    suffix = Path(path).suffix.lower()
    if suffix in (".csv", ".nc", ".nc4"):
        _parent_folder(path)
    if suffix == ".csv":
        scalar = [v for v in ds.data_vars if set(ds[v].dims) <= set(lead)]
        # a label per row besides the index (the overpass of a day+night series, whose dates
        # repeat): its rows were not told apart without it; first, before the values
        # (a stacked dim's levels are indexed: the frame's index holds them already)
        labels = [c for c in ds.coords if c not in ds.dims and ds[c].ndim
                  and set(ds[c].dims) <= set(lead) and c not in ds.xindexes]
        table = ds[scalar].drop_vars([c for c in ds.coords if c not in lead and c not in labels
                                      and c not in ds.xindexes], errors="ignore")
        if lead:
            frame = table.to_dataframe()[labels + scalar]
            for c in labels:  # a NetCDF char label read back as bytes: b'night' in the file
                if frame[c].dtype.kind in "SO":
                    frame[c] = frame[c].map(decoded_label)
            with _written_whole(path) as part:
                frame.to_csv(part)
        else:  # one row; a scalar time coordinate (one MODIS granule) as its first column
            import numpy as np
            import pandas as pd

            row = {str(c): np.datetime_as_string(ds[c].values, unit="s") for c in ds.coords
                   if ds[c].ndim == 0 and ds[c].dtype.kind == "M"}
            # and its overpass (one step of a day+night series: the date alone is both)
            row.update({c: decoded_label(ds[c].values.item()) for c in ("overpass", "day_night")
                        if c in ds.coords and ds[c].ndim == 0})
            row.update({v: float(table[v]) for v in scalar})
            with _written_whole(path) as part:
                pd.DataFrame([row]).to_csv(part, index=False)
        return
    if suffix in (".nc", ".nc4"):
        table_ds = _netcdf_safe(ds.compute())
        with _written_whole(path) as part:
            table_ds.to_netcdf(part)
        return
    raise UsageError(f"cannot write a table to {path!r}: use .csv or .nc")


def _netcdf_deflate(field: Any) -> dict:
    """Lossless deflate + shuffle encoding for a field's NetCDF variable (its values and NaN
    exactly kept: no scale/offset packing); one chunk per time step, as xlstsr reads it."""
    chunks = tuple(1 if d not in field.dims[-2:] else n for d, n in field.sizes.items())
    enc = {"zlib": True, "complevel": 4, "shuffle": True, "chunksizes": chunks}
    # the given encoding replaces the variable's: rioxarray's grid_mapping (the link to the
    # CRS's spatial_ref) kept, nothing else (a source's int16 packing would be lossy)
    if "grid_mapping" in field.encoding:
        enc["grid_mapping"] = field.encoding["grid_mapping"]
    return {field.name: enc}


def _netcdf_safe(obj: Any) -> Any:
    """Attribute values NetCDF can hold (strings, numbers, lists of numbers); others as text
    (:func:`xlstsr.attrs.netcdf_attr`)."""
    from .attrs import netcdf_attr

    def clean(attrs: dict) -> dict:
        return {k: netcdf_attr(v) for k, v in attrs.items()}

    obj = obj.copy()
    obj.attrs = clean(obj.attrs)
    names = list(obj.coords) + (list(obj.data_vars) if hasattr(obj, "data_vars") else [])
    for name in names:
        obj[name].attrs = clean(obj[name].attrs)
    return obj


def _interrupted_output(args: argparse.Namespace) -> str:
    """What an interrupted command leaves: a .zarr output is incomplete (its readers refuse
    it until resumed); other outputs are written whole at the end, so none was written."""
    out = getattr(args, "output", None)
    if args.command == "upscale" and out and str(out).rstrip("/").lower().endswith(".zarr"):
        return (f": {out} is incomplete (xlstsr's readers refuse it); complete it by running "
                "the same command with --resume (without --overwrite)")
    return f": {out} was not written" if out and args.command != "demo" else ""


# -- subcommands ---------------------------------------------------------------------------------


def _demo(args: argparse.Namespace) -> int:
    from xlstsr.demo import check_output, run_demo
    from xlstsr.errors import XlstsrError

    _no_stream(args.output)
    out = Path(args.output)
    try:  # run_demo's own checks (a URL, a file, a Zarr store), in the flag's words, before
        # any work; given as text: a Path has lost a URL's "//"
        check_output(args.output)
    except XlstsrError as err:
        msg = str(err)
        named = next((t for t in (args.output, str(out)) if msg.startswith(f"output {t}")), None)
        if named is not None:
            msg = f"--output {args.output}{msg[len(f'output {named}'):]}"
        raise UsageError(msg) from None
    existing = [n for n in ("lst_250m.zarr", "demo.png", "metrics.txt") if (out / n).exists()]
    if existing and not args.overwrite:  # only the store was checked: a demo.png was replaced
        raise UsageError(f"--output {args.output} already holds {', '.join(existing)}, which "
                         "the demo writes: pass --overwrite to replace them, or another "
                         "--output folder")
    _check_writable(str(out / "demo.png"))
    res = run_demo(args.output, method=args.method, overwrite=args.overwrite,
                   progress=not args.quiet)
    print("xlstsr demo: real MODIS 1 km LST -> 250 m, scored against co-registered ASTER "
          "(held-out pair 002, cloud edges removed)")
    for line in res.lines():
        print("  " + line)
    print(res.recommendation)
    print(f"wrote {res.store} (8 MOD11A1 days at 250 m, method {res.series_method}), "
          f"{res.figure}, {res.table}")
    return 0


def _method(args: argparse.Namespace) -> Any:
    """The method instance with its command-line options (bad options: a usage error)."""
    from xlstsr.methods import get_method

    options: dict[str, Any] = {}
    if args.model is not None:
        deep = [n for n in ("sisr", "disr") if n == args.method]
        if not deep:  # the library's advice is in Python's words (method_options=)
            raise UsageError(
                f"--model is an option of the deep methods, not of --method {args.method}: add "
                f"--method sisr (a single-image model) or --method disr --guide GUIDE (a guided "
                f"one) with --model {args.model}")
        options["model"] = args.model
    if args.conserve:
        options["conserve"] = True
    if getattr(args, "backend", None) is not None:
        options["backend"] = args.backend
    for key, value in _method_options(getattr(args, "method_option", None)).items():
        # an option with its own flag is taken here too (conserve=false has no flag: tsharp and
        # dms conserve by default), but not given both ways
        if key in options or (key == "checkpoint" and "model" in options):
            flag = {"checkpoint": "model"}.get(key, key)
            raise UsageError(f"--method-option {key}=... and --{flag} given together: give "
                             "it once")
        options[key] = value
    try:
        m = get_method(args.method, **options)
    except (ValueError, TypeError) as err:  # constructor arguments the method does not take
        extra = (" (--model and --backend are options of the deep methods sisr/disr; "
                 "--conserve of sisr, disr, tsharp and dms)")
        deep = args.method in ("sisr", "disr")  # not said of a deep method's own errors
        # said where the refusal is of one of those options (`bicubic --conserve`, tsharp's
        # backend=): it was added to every value refusal of tsharp/dms ("gain must be a
        # number in [0, 1], got 2"), none of which used them
        theirs = [k for k in ("model", "checkpoint", "backend", "conserve") if k in options]
        named = any(f"'{k}'" in str(err) for k in theirs)
        raise UsageError(f"{err}{extra if named and not deep else ''}") from None
    if getattr(args, "adapt", False):
        if not hasattr(m, "with_adaptation"):
            raise UsageError(f"--adapt is an option of the deep methods (sisr, disr), not of "
                             f"{args.method!r}")
        m = m.with_adaptation(True)
    return m


def _method_options(given: list[str] | None) -> dict[str, Any]:
    """``--method-option KEY=VALUE`` flags as the method's keyword arguments (Python's
    ``method_options``): VALUE read as JSON or a Python literal (``16``, ``0.5``, ``false``,
    ``True``, ``[1, 2]``), else as text (``extratrees``).

    Examples
    --------
    >>> _method_options(["min_samples=16", "regressor=bagging", "quadratic=false"])
    {'min_samples': 16, 'regressor': 'bagging', 'quadratic': False}
    """
    import ast

    out: dict[str, Any] = {}
    for item in given or []:
        key, sep, text = item.partition("=")
        key = key.strip()
        if not sep or not key.isidentifier():
            raise UsageError(f"--method-option {item!r}: give KEY=VALUE, e.g. --method-option "
                             "min_samples=16")
        if key in out:
            raise UsageError(f"--method-option {key} given twice: give it once")
        text = text.strip()
        try:
            value = json.loads(text)
        except ValueError:
            try:
                value = ast.literal_eval(text)
            except (ValueError, SyntaxError):
                value = text  # a word: a choice such as regressor=bagging
        out[key] = value
    return out


#: Python's ``method_options={'k': v, ...}`` in a message, and its "in method_options (e.g.
#: k=v, k=v; ...)": the command line's --method-option flags
_METHOD_OPTIONS_DICT = re.compile(r"method_options=\{([^{}]*)\}")
_METHOD_OPTIONS_EG = re.compile(r"in method_options \(e\.g\. ((?:\w+=[^,;)]+(?:, )?)+)")


#: the methods' advice for ``method_options={'adapt': ...}`` (methods.base._option_message):
#: Python's argument, which the command line gives as --adapt, or of a method without
#: adaptation the deep methods that have it
_ADAPT_ADVICE = re.compile(
    r"Test-time adaptation is an argument of upscale and upscale_to_zarr \(`adapt=True`\), "
    r"or `get_method\('\w+'\)\.with_adaptation\(True\)`\."
    r"|Test-time adaptation is of the deep methods \[[^\]]*\] only, not of '\w+' "
    r"\(`upscale\(\.\.\., method='sisr', adapt=True\)`\)\.")
_NO_OPTION_OF = re.compile(r"\bmethod '(\w+)' has no option\b")


def _adapt_flag(message: str) -> str:
    """The methods' Python advice for an ``adapt`` method option told as the command line's
    --adapt flag, for a deep method (which adapts); of any other method, that it has no
    adaptation (the advice named sisr's ``with_adaptation`` for bicubic).

    Examples
    --------
    >>> _adapt_flag("method 'sisr' has no option 'adapt'. Test-time adaptation is an argument "
    ...             "of upscale and upscale_to_zarr (`adapt=True`), or "
    ...             "`get_method('sisr').with_adaptation(True)`.").split(". ")[1]
    'Test-time adaptation has a flag of its own: pass --adapt instead of --method-option adapt=...'
    """
    found = _ADAPT_ADVICE.search(message)
    if found is None:
        return message
    from xlstsr.methods.base import _REGISTRY

    named = _NO_OPTION_OF.search(message)
    method = named.group(1) if named else None
    deep = sorted(n for n, c in _REGISTRY.items() if hasattr(c, "with_adaptation"))
    if method is not None and method in deep:
        advice = ("Test-time adaptation has a flag of its own: pass --adapt instead of "
                  "--method-option adapt=...")
    else:
        advice = (f"Test-time adaptation (--adapt) is of the deep methods {' and '.join(deep)} "
                  f"only{f', not of {method!r}' if method else ''}: drop --method-option "
                  "adapt=...")
    return message[:found.start()] + advice + message[found.end():]


def _method_option_flags(message: str) -> str:
    """:func:`_cli_hints` for the method's options: ``--method-option KEY=VALUE`` (those with
    a flag of their own, ``--backend``, ``--model``, ``--conserve``, ``--adapt``, as that flag).

    Examples
    --------
    >>> _method_option_flags("pass method_options={'quadratic': False, 'min_samples': 5}")
    'pass --method-option quadratic=false --method-option min_samples=5'
    >>> _method_option_flags("a lower `min_samples` in method_options (e.g. min_samples=16; x)")
    'a lower `min_samples` with --method-option (e.g. --method-option min_samples=16; x)'
    >>> _method_option_flags("(method_options={'backend': 'onnxruntime'})")
    '(--backend onnxruntime)'
    """
    import ast

    message = _adapt_flag(message)

    def flag(k: str, v: Any) -> str:
        # the options with their own flag told as those flags (what _UPSCALE_FLAGS names)
        if k == "conserve" and v is True:
            return "--conserve"
        if k in ("backend", "model", "checkpoint") and isinstance(v, str):
            return f"--{'model' if k == 'checkpoint' else k} {shlex.quote(v)}"
        text = v if isinstance(v, str) else json.dumps(v, separators=(",", ":"))
        return f"--method-option {shlex.quote(f'{k}={text}')}"  # one shell word

    def flags(pairs: list[tuple[str, Any]]) -> str:
        return " ".join(flag(k, v) for k, v in pairs)

    def from_dict(m: re.Match) -> str:
        try:
            d = ast.literal_eval("{" + m.group(1) + "}")
        except (ValueError, SyntaxError):
            return m.group(0)
        return flags(list(d.items())) if isinstance(d, dict) else m.group(0)

    def from_eg(m: re.Match) -> str:
        pairs = [p.split("=", 1) for p in m.group(1).rstrip(", ").split(", ")]
        return "with --method-option (e.g. " + " ".join(
            f"--method-option {k}={v}" for k, v in pairs)

    return _stored_option_flags(
        _METHOD_OPTIONS_EG.sub(from_eg, _METHOD_OPTIONS_DICT.sub(from_dict, message)), flag)


#: a refused resume's differing option: ``method_options['k']: 5 there, 10 here``
_STORED_OPTION = re.compile(
    r"\b(method_options|upscale_options)\['(\w+)'\]: (.+?) there, (.+?) here(?=[;)]|$)")
#: upscale_to_zarr's ``upscale_options`` -> ``xlstsr upscale``'s flags
_UPSCALE_OPTION_FLAGS = {"guide_offset": "--guide-offset", "scale_correction": "--scale-correction",
                         "guide_time_tolerance": "--guide-time-tolerance",
                         "mask_out_of_range": "--mask-out-of-range"}


def _stored_option_flags(message: str, flag: Any) -> str:
    """A refused resume's options told as the flags that give them (``flag``: the
    ``--method-option`` spelling of :func:`_method_option_flags`): the store's value is the
    one to resume with (``--method-option min_samples=5``), which Python's words did not say.

    Examples
    --------
    >>> f = lambda k, v: f"--method-option {k}={v}"
    >>> _stored_option_flags("x; method_options['min_samples']: 5 there, 10 here); y", f)
    'x; --method-option min_samples=5 there, --method-option min_samples=10 here); y'
    >>> _stored_option_flags("upscale_options['guide_offset']: 'check' there, 'auto' here", f)
    '--guide-offset check there, --guide-offset auto here'
    """
    import ast

    def told(group: str, k: str, text: str) -> str | None:
        try:
            v = ast.literal_eval(text)
        except (ValueError, SyntaxError):
            return None
        if group == "method_options":
            return f"no --method-option {k}" if v is None else flag(k, v)
        name = _UPSCALE_OPTION_FLAGS.get(k)
        if name is None:
            return None
        if isinstance(v, bool):  # a switch: given or not
            return name if v else f"no {name}"
        return f"no {name}" if v is None else f"{name} {shlex.quote(str(v))}"

    def sub(m: re.Match) -> str:
        there, here = (told(m.group(1), m.group(2), m.group(i)) for i in (3, 4))
        if there is None or here is None:
            return m.group(0)
        return f"{there} there, {here} here"

    return _STORED_OPTION.sub(sub, message)


def _calibration(path: str | None) -> Any:
    """The --calibration JSON file as a Calibration (a clear one-line error otherwise)."""
    if path is None:
        return None
    from xlstsr.calibration import Calibration
    from xlstsr.errors import XlstsrError

    if not Path(path).exists():
        raise UsageError(f"--calibration {path}: no such file")
    if Path(path).is_dir():
        raise UsageError(f"--calibration {path} is a folder: give the JSON file written by "
                         "Calibration.to_json(), e.g. --calibration modis_aster.json")
    try:
        # as Calibration.parse reads it: a calibrated field's netCDF / GeoTIFF gives its
        # xlstsr_calibration attribute (read as text, it failed to decode)
        return Calibration.parse(Path(path))
    except (XlstsrError, ValueError, TypeError, KeyError) as err:
        raise UsageError(f"--calibration {path} is not a Calibration saved as JSON "
                         f"(Calibration.to_json()) nor a calibrated field's file: {err}") from None


def _mask_layers(path: str) -> list[Any]:
    """The rasters of a ``--reference-mask`` file: its one field, or every variable of a
    Dataset with both spatial dims (a grid mapping or bounds variable left out). A declared
    nodata / fill of 0 is not masked: a 0/1 mask that declares nodata=0 (gdal_calc's
    ``--NoDataValue=0``) had its clear pixels read as NaN, "no pixel is 0"."""
    import xarray as xr

    from xlstsr.errors import XlstsrError
    from xlstsr.io import open_path
    from xlstsr.io.formats import format_of
    from xlstsr.validate import raster_fields

    try:
        fmt = format_of(path, reading=True)
    except XlstsrError:
        fmt = None  # open_path refuses it in its own words
    # a GeoTIFF's nodata is read as stored; NetCDF / Zarr are decoded (packed masks and
    # coordinates: add_offset, scale_factor), and a fill of 0 alone given back below
    obj = open_path(path, **({"masked": False} if fmt == "cog" else {}))
    # a mask on the reference's own 2-D x/y meshgrid is read as the reference is
    obj = _grid_from_2d_xy(obj, path, "reference mask")
    if isinstance(obj, xr.DataArray):
        return [_fill_zero_back(obj.squeeze(drop=True))]
    layers = [_fill_zero_back(v.squeeze(drop=True)) for v in raster_fields(obj).values()]
    if not layers:
        raise UsageError(f"--reference-mask {path} holds no raster (variables: "
                         f"{list(map(str, obj.data_vars))})")
    return layers


def _fill_zero_back(layer: Any) -> Any:
    """A decoded mask layer whose declared fill is 0, unscaled (``_FillValue = 0`` on a 0/1
    mask), with its 0 given back: decoding made its clear pixels NaN, "no pixel is 0"."""
    enc = layer.encoding
    fill = enc.get("_FillValue", enc.get("missing_value"))
    scaled = any(enc.get(k) not in (None, 1, 0) for k in ("scale_factor", "add_offset"))
    try:
        zero = fill is not None and float(fill) == 0
    except (TypeError, ValueError):  # a fill of several values or text: not one 0
        zero = False
    return layer.fillna(0) if zero and not scaled else layer


def _clear_on_reference(ok: Any, ref: Any, path: str) -> Any:
    """A ``--reference-mask`` layer's clear pixels on the reference's grid, by coordinates (a
    south-up layer flipped): layers combined by array position applied a south-up water mask
    upside down, without a word. A layer in another CRS than the reference's is refused (its
    coordinates are other places: it was applied pixel by pixel), and so is one whose steps
    (dates) do not pair with the reference's, naming them (a grid refusal advised gdalwarp)."""
    from xlstsr.errors import GridError, XlstsrError
    from xlstsr.evaluate import _clear_on
    from xlstsr.steps import pair_steps
    from xlstsr.validate import crs_mismatch, crs_name_and_axis, spatial_dims, spatial_names

    ref = ref.rename(spatial_names(ref))  # lat/lon dims, as evaluate renames them
    crs = crs_mismatch(ok, ref)
    if crs is not None:
        own, theirs = (crs_name_and_axis(c)[0] for c in crs)
        target = crs[1].to_string()
        raise UsageError(
            f"--reference-mask {path} is in another CRS ({own!r}) than the reference "
            f"({theirs!r}): its coordinates are other places, so it cannot be applied pixel by "
            f"pixel. Reproject the mask onto the reference's grid first, e.g. `gdalwarp -t_srs "
            f"{target} -r near -te XMIN YMIN XMAX YMAX -tr XRES YRES mask.tif mask_ref.tif` with "
            "the reference's extent and pixel size (or, if its CRS is written wrongly, assign "
            f"the right one: `rio edit-info --crs {target} mask.tif`)."
        )
    mask = ok.rename(spatial_names(ok))
    try:
        my, mx = spatial_dims(mask)
    except XlstsrError:  # no spatial dims: _clear_on's refusal below
        my = mx = None
    steps = [str(d) for d in mask.dims if d not in (my, mx)]
    if my is not None and steps:
        # the steps first: a mask on the reference's grid but of other dates was told its
        # coordinates differ (gdalwarp advice, which changes no date)
        try:
            pair_steps(mask, ref, "mask", "reference", var="mask", like_var="reference")
        except GridError as err:
            # the problem as the library words it, without its Python fixes
            said = re.split(r"; (?=[^;]*`)", str(err), maxsplit=1)[0].rstrip(" .;")
            raise UsageError(
                f"--reference-mask {path} does not pair with the reference along "
                f"{', '.join(repr(d) for d in steps)}: {said}. Give a mask of the reference's "
                f"steps (the same {', '.join(repr(d) for d in steps)} labels: its dates), one "
                "file per reference, or a mask of one step without dates, used for every step."
            ) from None
    try:
        return _clear_on(ok, ref)
    except GridError:
        ry, rx = _spatial_dims(ref)
        sizes = " x ".join(str(n) for n in ok.shape)
        raise UsageError(
            f"--reference-mask {path} ({sizes} pixels) is not on the reference's grid "
            f"({ref.sizes[ry]} x {ref.sizes[rx]} pixels): its y/x coordinates differ. Give masks on "
            "the reference's grid (resample one there first, e.g. `gdalwarp -r near -te XMIN "
            "YMIN XMAX YMAX -tr XRES YRES` with the reference's extent and pixel size)."
        ) from None
    except XlstsrError as err:  # its steps against the reference's
        raise UsageError(f"--reference-mask {path}: {err}") from None


#: options that qualify another one (name a variable of its file, match its dates, describe
#: it): given without it, each was ignored without a word (an unguided result, exit 0). Its
#: dest -> (the option it needs, what it does with it)
_QUALIFIERS = {
    "guide_variable": ("--guide", "names a variable of the --guide file"),
    "guide_band": ("--guide", "selects a band of the --guide file (--band selects the LST's)"),
    "guide_time_tolerance": ("--guide", "matches guide dates to LST dates"),
    "guide_offset": ("--guide", "measures the offset of the --guide file from the LST"),
    "guide_nodata": ("--guide", "describes the --guide file (--nodata describes the LST)"),
    "guide_scale": ("--guide", "describes the --guide file (--scale describes the LST)"),
    "guide_crs": ("--guide", "describes the --guide file (--crs describes the LST)"),
    "coarse_variable": ("--coarse", "names a variable of the --coarse file"),
    "coarse_units": ("--coarse", "describes the --coarse file"),
    "coarse_nodata": ("--coarse", "describes the --coarse file"),
    "coarse_scale": ("--coarse", "describes the --coarse file"),
    "coarse_offset": ("--coarse", "describes the --coarse file"),
    "coarse_crs": ("--coarse", "describes the --coarse file (--crs describes the sr)"),
    "truth_variable": ("--truth", "names a variable of the --truth file"),
    "truth_units": ("--truth", "describes the --truth file (--units describes the LST)"),
    "truth_nodata": ("--truth", "describes the --truth file (--nodata describes the LST)"),
    "truth_scale": ("--truth", "describes the --truth file (--scale describes the LST)"),
    "truth_offset": ("--truth", "describes the --truth file (--offset describes the LST)"),
}

#: what the message adds to "add --truth"
_NEEDED_HINTS = {"--truth": " (with --mode supervised)"}


def _given(args: argparse.Namespace, dest: str) -> bool:
    """Whether the user typed the option stored in ``dest``: what the parser recorded
    (:class:`_StoreOnce`), not its value, which may be a default that is not None."""
    return dest in vars(args).get("_given", {})


def _check_dependent_flags(args: argparse.Namespace) -> None:
    """Options given without the option they qualify (``--guide-variable`` without ``--guide``,
    ``--coarse-variable`` without ``--coarse``...): a usage error naming the missing option,
    before any read; and ``--guide-time-tolerance`` as a duration."""
    if getattr(args, "guide_time_tolerance", None) is not None:
        from xlstsr.errors import GuideTimeError
        from xlstsr.guide import _as_timedelta

        try:
            _as_timedelta(args.guide_time_tolerance)
        except GuideTimeError as err:
            raise UsageError(f"--guide-time-tolerance: {err}") from None
    unused: dict[str, list[str]] = {}
    for dest, (needed, _) in _QUALIFIERS.items():
        if _given(args, dest) and not getattr(args, needed[2:].replace("-", "_"), None):
            unused.setdefault(needed, []).append(dest)
    for needed, dests in unused.items():
        said = "; ".join(f"--{d.replace('_', '-')} {_QUALIFIERS[d][1]}" for d in dests)
        drop = "them" if len(dests) > 1 else f"--{dests[0].replace('_', '-')}"
        raise UsageError(f"{said}, and no {needed} is given: add {needed}"
                         f"{_NEEDED_HINTS.get(needed, '')}, or drop {drop}")


def _upscale(args: argparse.Namespace) -> int:
    import xlstsr
    from xlstsr.attrs import output_global_attrs, with_global_attrs
    from xlstsr.io import WRITABLE, format_of
    from xlstsr.io.zarr import store_exists
    from xlstsr.validate import require_valid_pixels

    _no_stream(args.input, args.output, args.guide)
    fmt = format_of(args.output)
    if fmt not in WRITABLE:
        raise UsageError(f"cannot write {fmt} ({args.output}): write .zarr, .tif or .nc")
    if fmt != "zarr":  # a .zarr URL is written through fsspec; a .tif/.nc is a local file
        _refuse_url_output(args.output, "the output", "; or write a .zarr output (e.g. "
                           f"{str(args.output).rsplit('.', 1)[0]}.zarr), which is written "
                           "to the URL directly")
    # every file read (a --model checkpoint, a --calibration JSON too; not a bundled model's
    # name, nor a folder, which its own check names)
    read = [p for p in (args.calibration, args.model) if p and Path(p).is_file()]
    _refuse_input(args.output, args.input, args.guide, *read)
    if args.resume and fmt != "zarr":
        raise UsageError(f"--resume completes an interrupted .zarr output; {args.output} is "
                         f"written whole ({fmt}): drop --resume (and pass --overwrite to "
                         "replace an existing file)")
    if fmt == "zarr":  # a file or a folder of other files: neither flag makes it a store
        _refuse_no_store(args.output, "w" if args.overwrite else
                         ("resume" if args.resume else "w-"))
    if fmt != "zarr" or not args.resume:  # before any work
        _refuse_swapped(args.input, args.output, args.overwrite)
        _refuse_existing(args.output, args.overwrite)
    if args.resume and args.overwrite:
        raise UsageError("--resume completes an output, --overwrite replaces it: pass one")
    if fmt != "zarr" and Path(args.output).is_dir():
        raise UsageError(f"{args.output} is a folder, not a {fmt} file: --overwrite replaces "
                         "files only; choose another path or remove the folder yourself")
    _check_writable(args.output)
    m = _method(args)
    if m.needs_guide and not args.guide:
        raise UsageError(f"method {m.name!r} needs a fine guide: pass --guide ndvi.tif")
    _check_dependent_flags(args)
    lst, globs = _open_lst(args)
    ydim, xdim = _spatial_dims(lst)
    lead = [d for d in lst.dims if d not in (ydim, xdim)]
    if len(lead) > 1:
        # a raster's band of length 1 beside time: dropped, as the .tif output drops it (the
        # .zarr output refused it with a Python-only fix); the time dim stays
        keep = next((d for d in lead if d == "time" or (
            d in lst.coords and lst[d].dtype.kind == "M")), None)
        if keep is None and all(lst.sizes[d] == 1 for d in lead):
            keep = lead[0]
        ones = [d for d in lead if lst.sizes[d] == 1 and d != keep]
        if ones:
            # another dim's label (overpass='night') kept as a scalar coordinate: dropped, the
            # output no longer said which field it holds; a raster's band number says nothing
            lst = lst.squeeze(ones, drop=False)
            lst = lst.drop_vars([d for d in ones if d == "band" and d in lst.coords])
            lead = [d for d in lst.dims if d not in (ydim, xdim)]
    if fmt == "cog" and len([d for d in lead if lst.sizes[d] > 1]) > 1:
        raise UsageError(
            f"a .tif holds one stack of bands, and {args.input} has the leading dims "
            f"{ {str(d): lst.sizes[d] for d in lead} }: write .nc or .zarr, or select one "
            "band of a GeoTIFF input with --band (or one variable with --variable)."
        )
    chunks = _parse_chunks(args.chunks, tuple(map(str, lst.dims)), str(ydim), str(xdim))
    if chunks is not None:
        lst = lst.chunk(chunks)
    guide = None
    if args.guide:
        guide = _open_guide(args.guide, args.guide_variable, args.guide_nodata, args.guide_scale,
                            args.guide_crs, args.guide_band)
    options = {"mask_out_of_range": args.mask_out_of_range,
               "scale_correction": args.scale_correction}
    if args.guide_time_tolerance is not None:
        options["guide_time_tolerance"] = args.guide_time_tolerance
    resuming = args.resume and store_exists(args.output)
    if guide is not None and (args.guide_offset is not None or not resuming):
        # files are read lazily, where upscale only checks the offset: the CLI measured and
        # moved nothing (1.40 K for 1.24 K RMSE on a real pair); a resume keeps the store's
        options["guide_offset"] = args.guide_offset or "auto"
    calibration = _calibration(args.calibration)
    if calibration is not None and fmt == "zarr":
        raise UsageError("--calibration applies to .tif/.nc outputs; for a .zarr store apply "
                         "xlstsr.calibration.apply_calibration to the opened result")
    if calibration is not None and calibration.ndvi:
        # upscale's refusal told the command-line user to call Python: the term needs the NDVI
        # the calibration was fitted with, on the output grid; the --guide is the method's
        # (any band, possibly moved by its measured offset or matched to other dates), not
        # that NDVI, and a reflectance or emissivity guide within [0, 1] would be taken for it
        raise UsageError(
            f"--calibration {args.calibration} has an NDVI term ({calibration.ndvi:g} K per "
            "NDVI unit), which needs the NDVI it was fitted with on the output grid: `xlstsr "
            "upscale` does not apply it (the --guide is the method's guide, not necessarily "
            "that NDVI). Run without --calibration, then apply it to the written output in "
            f"Python: `apply_calibration(sr, {str(args.calibration)!r}, ndvi=ndvi_on_the_"
            "output_grid)` (from xlstsr.calibration); or fit a calibration without the NDVI "
            "term (`fit_calibration(sr, truth)`) and pass that as --calibration."
        )
    with _scheduler(args.scheduler), _band_step_refusal(lst, args.input, args.mask_out_of_range):
        if fmt == "zarr":  # streamed region by region, resumable
            mode = "w" if args.overwrite else ("resume" if args.resume else "w-")
            # a NetCDF/Zarr input's global attributes (source, title, history) as the
            # library keeps a Dataset's: on the variable and as the store's own
            src = lst.to_dataset().assign_attrs(globs) if globs else lst
            xlstsr.upscale_to_zarr(src, args.output, args.factor, m, guide, mode=mode,
                                   variable=lst.name if globs else None,
                                   progress=not args.quiet, **options)
        else:  # computed whole, then written: an input error found while computing (the value
            # checks of a lazily read file run with it) leaves no half-written file behind
            sr = xlstsr.upscale(with_global_attrs(lst, globs), args.factor, m, guide,
                                calibration=calibration, **options).compute()
            # NaN exactly where the input is: none valid means an input without data, refused as
            # upscale refuses one in memory (a lazily read file is not checked before)
            require_valid_pixels(sr, "input")
            _parent_folder(args.output)
            with _written_whole(args.output) as part:
                if fmt == "netcdf":  # an unnamed field (a GeoTIFF's) was written as
                    # xarray's `__xarray_dataarray_variable__`; the input's global attributes
                    # (history with this run's line) are the file's
                    named = sr if sr.name is not None else sr.rename("lst")
                    glob = output_global_attrs(globs, sr)
                    # compressed losslessly, as the .zarr and .tif outputs are: a field 16x
                    # its input's pixels written raw filled disks (deflate + shuffle, h5netcdf)
                    _netcdf_safe(named.to_dataset().assign_attrs(glob) if glob
                                 else named).to_netcdf(part, encoding=_netcdf_deflate(named))
                else:
                    _to_raster(sr, part)
    print(f"wrote {args.output}")
    return 0


def _to_raster(sr: Any, path: Any) -> None:
    """The upscaled field as one COG, its steps as bands, their dates kept in tags that
    ``open_cog`` reads back (a dated cube came back as bands 1..N, one date as nothing); bands
    along another dim (``overpass``) keep its name and the field's scalar date."""
    import numpy as np

    from xlstsr.grid import _transform
    from xlstsr.io.cog import (
        DESCRIPTION_COORD,
        _iso_date,
        band_dim_tags,
        band_time_tags,
        exact_raster,
    )
    from xlstsr.steps import _day_night
    from xlstsr.validate import spatial_names

    sr = sr.rename(spatial_names(sr))  # lat/lon dims: rioxarray writes y/x only
    lead = [d for d in sr.dims if d not in ("y", "x")]
    # each step's overpass (day and night steps interleaved, an `overpass` coordinate along
    # time): the bands kept their dates but not it, so a night band scored against a day
    # truth was not warned about; tagged per band, as to_cogs tags each file
    overpasses = None
    if lead == ["time"] and any(c in sr.coords and sr[c].dims == ("time",)
                                for c in ("overpass", "day_night")):
        overpasses = [_day_night(sr.isel(time=i))[0] for i in range(sr.sizes["time"])]
    # a raster's own band numbers are positions, not labels: tagged, they came back as 'time'
    tags = (band_time_tags(sr[lead[0]].values, overpasses)
            if len(lead) == 1 and lead[0] in sr.coords and lead[0] != "band" else {})
    if not lead and "time" in sr.coords and sr["time"].ndim == 0:
        tags = band_time_tags(sr["time"].values)  # one day's field (`ds.sel(time=t)` saved)
    elif len(lead) == 1 and lead[0] not in ("time", "band"):
        # bands along another dim (one date's day and night, `overpass`): its name and the
        # field's date too (they came back as 'time' steps 'day', 'night', the date dropped)
        tags = band_dim_tags(sr, lead[0])
    if overpasses is None:
        # one overpass for the whole field, told by its layer name only (`--variable
        # LST_Night_1km`, long_name 'LST'): the name is not written, so it was lost from the .tif
        # and open_cog read it back with none (to_cogs tags it the same way)
        one = _day_night(sr)[0]
        if one in ("day", "night"):
            tags = {**tags, "day_night": one}
    named = sr.coords.get(DESCRIPTION_COORD)
    if named is not None and named.ndim == 1 and len(lead) == 1 and named.dims == (lead[0],):
        # the input's band descriptions (an Earth Engine stack's 'LST_2020-07-01'...), not
        # 'land surface temperature (super-resolved)' of every band: the only record of which
        # band is which date or name
        sr = sr.assign_attrs(long_name=tuple(str(v) for v in named.values))
    elif (len(lead) == 1 and lead[0] in sr.coords and sr.sizes[lead[0]] > 1
          and sr[lead[0]].dtype.kind == "M"):
        # dated steps of an input without band descriptions: each band described by its ISO
        # date (every band said 'land surface temperature (super-resolved)': in QGIS/gdalinfo
        # no band told its date, kept only in the JSON tag that open_cog decodes)
        stamps = [_iso_date(np.datetime64(v)) for v in sr[lead[0]].values]
        sr = sr.assign_attrs(long_name=tuple(t[:10] if t.endswith("T00:00:00") else t
                                             for t in stamps))
    sr = sr.squeeze(drop=True)
    # an input store's encoding (its _FillValue, dtype, codecs) is not the GeoTIFF's
    sr.encoding = {k: v for k, v in sr.encoding.items() if k == "grid_mapping"}
    if np.issubdtype(sr.dtype, np.floating):  # the gaps: a masked read counted NaN as data
        sr = sr.rio.write_nodata(np.nan, encoded=False)
    # the exact transform (the written one upscale computed), not rioxarray's default rebuilt
    # from the labels: 1e-12 m off, it moved read-back labels ~1e-9 m, and xarray's label
    # joins then dropped rows against the in-memory result or a 250 m file on the same grid
    # written with the labels dropped (rioxarray's writer still took the origin from them, an
    # ulp off), and the tag that gives the result's labels back to open_cog
    transform = _transform(sr)
    sr, forms = exact_raster(sr, transform)
    # averaged overviews, as xlstsr.io.to_cogs writes them: GDAL's COG default (cubic) put
    # overview pixels off their block's mean and NaN over every block a gap touched
    sr.rio.to_raster(path, driver="COG", compress="DEFLATE", tags={**tags, **forms},
                     recalc_transform=False, overview_resampling="AVERAGE")


def _evaluate(args: argparse.Namespace) -> int:
    """``xlstsr evaluate``: :func:`_evaluate_scores`, its reading of the reference kept for its
    warnings' advice (:data:`_REFERENCE_READ`) for the time of the run."""
    token = _REFERENCE_READ.set(None)
    try:
        return _evaluate_scores(args)
    finally:
        _REFERENCE_READ.reset(token)


def _evaluate_scores(args: argparse.Namespace) -> int:
    import numpy as np

    import xlstsr
    from xlstsr.errors import AllNaNError, GridError

    masks = args.reference_mask or []
    _REFERENCE_READ.set(_ReferenceRead(tuple(masks)))
    described = False  # the reference dated by its one band's description (a refusal's copy)
    _no_stream(args.sr, args.reference, args.output, args.coarse, *masks)
    _refuse_url_output(args.output, "the output table")
    _check_dependent_flags(args)
    _refuse_input(args.output, args.sr, args.reference, args.coarse, *masks)
    _table_suffix(args.output)
    if args.clear and args.valid_min is None and args.valid_max is None:
        raise UsageError("--clear erodes around the gaps that --valid-min/--valid-max make, and "
                         "none is given: it would change nothing; add e.g. --valid-min 230 (cold "
                         "cloud pixels), or drop --clear")
    _refuse_existing(args.output, args.overwrite)
    _check_writable(args.output)
    # a Landsat Level-1 scene (or a band of it) as any input: radiance, not LST
    for path in (args.sr, args.reference, args.coarse):
        if path:
            _refuse_level1(path, "evaluate")
    if "://" not in args.sr and Path(args.sr).resolve() == Path(args.reference).resolve():
        raise UsageError(f"the reference {args.reference} is the super-resolved file itself: "
                         "its scores would be perfect by construction; pass the fine truth "
                         "(e.g. ASTER or Landsat LST) as the reference")
    # the sr's own declarations, as upscale's of its input (another tool's output in degC
    # without a tag, or with an undeclared fill)
    sr = _declare_crs(_open_field(args.sr, args.variable, "LST", link_crs=args.crs is None),
                      args.crs, "--crs", args.sr)
    sr = _declare(_date_from_description(sr, args.sr), args.units, args.nodata, args.scale,
                  offset=args.offset)
    # a scene's thermal band alone (no QA_PIXEL), which the user decodes with the reference
    # flags, is read as any raster; it was refused for the missing QA_PIXEL, flags or not
    lone = "://" not in args.reference and _lone_st_band(
        Path(args.reference), "reference-", {"scale": args.reference_scale,
                                             "offset": args.reference_offset,
                                             "nodata": args.reference_nodata})
    ref = None if lone else _landsat_c2l2(args.reference)
    if ref is not None and args.reference_units not in (None, "K"):
        raise UsageError(f"--reference-units {args.reference_units}: {args.reference} is a "
                         "Landsat Collection 2 Level-2 scene, which its reader decodes to Kelvin "
                         "(scale, offset and fill): drop --reference-units")
    # the scale and offset refused alike (applied a second time): one left out was refused by
    # evaluate with "add --reference-offset 149", which this refuses
    decoded = [f"--reference-{k} {v:g}" for k, v in (
        ("scale", args.reference_scale), ("offset", args.reference_offset)) if v is not None]
    if ref is not None and decoded:
        raise UsageError(f"{', '.join(decoded)}: {args.reference} is a Landsat Collection 2 "
                         "Level-2 scene, which its reader decodes to Kelvin (scale, offset and "
                         f"fill): drop {', '.join(f.split()[0] for f in decoded)}")
    if ref is not None and args.reference_nodata is not None:
        # the fill is the reader's (0, applied before decoding): a stored value, which the
        # decoded Kelvin never holds. `--reference-nodata 0`, the scene's own, scored as
        # without it; another is named, not refused, and left out alike
        if not (args.reference_nodata == 0 or np.isnan(args.reference_nodata)):
            log.warning("--reference-nodata %g ignored: %s is a Landsat Collection 2 Level-2 "
                        "scene, whose reader masks its own fill (0) and decodes it to Kelvin",
                        args.reference_nodata, args.reference)
        args.reference_nodata = None
    if ref is None:
        ref = _open_field(args.reference, args.reference_variable, "reference",
                          "--reference-variable", band=args.reference_band,
                          link_crs=args.reference_crs is None)
        ref = _date_from_description(ref, args.reference)
        # the variable read and its packing, as read: for the advice (:func:`_aggregate_hint`)
        variable = None if ref.name is None else str(ref.name)
        packed = any(k in ref.encoding for k in ("scale_factor", "add_offset"))
        own = ref.attrs.get("add_offset", ref.encoding.get("add_offset"))
        if (args.reference_offset is not None and own is not None
                and float(np.ravel(own)[0]) != 0.0):  # replaced, or applied twice
            raise UsageError(
                f"--reference-offset {args.reference_offset:g}: the reference file declares "
                f"add_offset={float(np.ravel(own)[0]):g} already, which is applied: drop "
                "--reference-offset")
        # the units the file does not say (a SEVIRI / LSA-SAF GeoTIFF in degrees Celsius
        # without a tag), or says wrongly, and its offset (Landsat ST digital numbers: x
        # 0.00341802 + 149), an add_offset attribute that decoding applies after the scale;
        # its fill and scale are evaluate's reference_nodata and reference_scale, which apply
        # to the stored values first
        ref = _declare(ref, args.reference_units, None, role="reference",
                       offset=args.reference_offset)
        ref, args.reference_nodata = _stored_reference_nodata(ref, args.reference_nodata)
        # a one-band GeoTIFF dated by its band description: the aggregate is given it back
        # (dropped by GDAL's warp, it was undated again and scored against every sr step)
        undated = ref.drop_vars("time") if "time" in ref.coords and ref["time"].ndim == 0 \
            else None
        described = (undated is not None and args.reference.lower().endswith((".tif", ".tiff"))
                     and "time" in _date_from_description(undated, args.reference).coords)
        dated = "time" if described else None
        _REFERENCE_READ.set(_ReferenceRead(tuple(masks), variable, packed,
                                           args.reference_nodata, _dated_steps(ref) or dated))
    # (a Landsat scene's own CRS: the flag is refused if it names another)
    ref = _declare_crs(ref, args.reference_crs, "--reference-crs", args.reference)
    steps = sr.sizes.get("time")
    sr = _reference_date_step(sr, ref, args.reference)
    coarse = None
    if args.coarse:
        coarse = _declare_crs(
            _open_field(args.coarse, args.coarse_variable, "LST", "--coarse-variable",
                        link_crs=args.coarse_crs is None),
            args.coarse_crs, "--coarse-crs", args.coarse)
        coarse = _declare(_date_from_description(coarse, args.coarse), args.coarse_units,
                          args.coarse_nodata, args.coarse_scale, role="coarse",
                          offset=args.coarse_offset)
        if (sr.sizes.get("time") != steps and "time" in coarse.dims
                and coarse.sizes["time"] == steps
                and sr.indexes["time"].isin(coarse.indexes["time"]).all()):
            # its step of sr's one kept (its other steps were refused as unpaired)
            coarse = coarse.sel(time=sr["time"].values)
    clear = None
    for path in masks:
        # a cloud / water / QC layer: 0 is clear, anything else (its fill too) is not scored;
        # every raster of a file of several (cloud_mask and water_mask in one NetCDF)
        for layer in _mask_layers(path):
            ok = _clear_on_reference((layer == 0) & layer.notnull(), ref, path)
            clear = ok if clear is None else clear & ok
    with _scheduler(args.scheduler):
        # read into memory where they fit, as evaluate's reprojection reads them anyway: its
        # checks of the scored pixels (a truth 70 K off, a threshold that drops the scene, a
        # constant truth, a few pixels) run in memory only, and inputs on one grid, read
        # lazily, were scored without them (RMSE 70 K, exit 0)
        sr, ref, coarse, clear = _loaded(sr, ref, coarse, clear)
        # checked on the loaded mask: checked before, the lazy mask was read once for it and
        # again by _loaded's compute
        if clear is not None and not bool(clear.any()):
            raise UsageError(
                f"--reference-mask: no pixel is 0 in {' and '.join(args.reference_mask)}, so "
                "none would be scored (0 = clear, scored; any other value = not scored). A "
                "bit-field QA layer is not 0 where clear (Landsat's QA_PIXEL: 21824 on clear "
                "land): write a 0/1 mask of it first, e.g. "
                "`(((qa >> 6) & 1) == 0).astype('uint8')`."
            )
        try:
            scores = xlstsr.evaluate(
                sr, ref, coarse=coarse, factor=args.factor, erode=args.erode,
                valid_min=args.valid_min, valid_max=args.valid_max,
                reference_scale=args.reference_scale, reference_nodata=args.reference_nodata,
                coregister=args.coregister, clear=args.clear, reference_clear=clear,
            ).compute()
        except GridError as err:
            raise _undated_copy_hint(err, args.reference, described) from None
        except AllNaNError as err:
            # its advice named the flags given (--reference-scale, --erode 0), not the range
            # that left nothing
            empty = _range_leaves_none(ref, args) if str(err).startswith(
                "the reference has no valid pixel after masking") else None
            if empty is None:
                raise
            raise AllNaNError(empty) from err
    if "n_valid" in scores and not bool((scores["n_valid"] > 0).any()):
        # a lazily read reference is not checked before computing: a table of NaN, exit 0
        given = [f"--{k.replace('_', '-')} {v}" for k, v in (
            ("erode", args.erode or None), ("valid_min", args.valid_min),
            ("valid_max", args.valid_max), ("reference_nodata", args.reference_nodata),
            ("reference_scale", args.reference_scale)) if v is not None]
        raise AllNaNError(
            f"no reference pixel of {args.reference} is left to score after masking"
            f"{' (' + ', '.join(given) + ')' if given else ''}: relax --erode / --valid-min, or "
            "check the nodata value and the scale (e.g. --reference-scale 0.1 for K x 10); "
            "nothing was written."
        )
    # the rows: the steps the metrics have (a reference's one dated step against a 2-D sr
    # gave metrics along 'time', left out of a table of sr's dims: an empty CSV, exit 0)
    lead = [str(d) for d in scores["rmse"].dims]
    _write_table(scores, args.output, lead)
    rmse = scores["rmse"].values.ravel()
    print(f"wrote {args.output}: RMSE {', '.join(f'{v:.2f}' for v in rmse[:5])} K"
          + (" ..." if rmse.size > 5 else ""))
    return 0


def _stored_reference_nodata(ref: Any, nodata: float | None) -> tuple[Any, float | None]:
    """``--reference-nodata`` as the reference holds it once read, and the reference: the value
    as stored (its help, and upscale's --nodata), through the scale/offset the reader applied
    to a packed file (a .nc of uint16 x 0.02: 65535 was refused, its decoded 1310.7 worked).
    A whole number is both a stored value and a decoded one: the stored reading where the file
    holds it (or declares it its fill), else the decoded one where the file holds that
    (evaluate's own advice names the decoded value: 1310 for 65500 x 0.02, refused again when
    read as stored; a 300 K block of an int16 x 0.1 file was scored when 300 was read as
    stored 30 K), said in a warning."""
    import numpy as np

    enc = getattr(ref, "encoding", {})
    scale = float(np.ravel(enc.get("scale_factor", 1.0))[0])
    offset = float(np.ravel(enc.get("add_offset", 0.0))[0])
    try:
        stored = np.dtype(enc.get("dtype", ref.dtype))
    except TypeError:
        return ref, nodata
    if (nodata is None or not math.isfinite(nodata) or (scale, offset) == (1.0, 0.0)
            or stored.kind not in "iu" or np.dtype(ref.dtype).kind != "f"  # (not decoded)
            or nodata != round(nodata)):
        return ref, nodata
    info = np.iinfo(stored)
    if not info.min <= nodata <= info.max:
        return ref, nodata
    # in the reader's arithmetic (float64 x the file's scale), as the values it decoded
    decoded = float(np.float64(nodata) * np.float64(scale) + np.float64(offset))
    if decoded == nodata:  # (0 of a file without offset: one value either way)
        return ref, nodata
    declared = [enc.get(k) for k in ("_FillValue", "missing_value")]
    if any(d is not None and nodata in np.ravel(d) for d in declared):
        return ref, decoded  # the file's own fill, masked by the reader already

    def _count(value: float) -> int:
        # float32 decoding rounds: within its precision of the value; lazily, chunk by chunk
        # for a dask reference (its values were read whole: 857 MB for 222 MB, review 48g/4)
        return int((abs(ref - value) <= 1e-6 * abs(value)).sum())

    n_stored = _count(decoded)
    if not n_stored:
        n_read = _count(nodata)
        if n_read:
            log.warning(
                "--reference-nodata %g: %s holds no value stored as %g (%r decoded), "
                "but %d pixels decoded as %g: those are masked (the value as read)",
                nodata, getattr(ref, "name", None) or "the reference", nodata,
                decoded, n_read, nodata)
            return ref, nodata
    # the value as stored, as --help says (both were masked: real pixels reading exactly the
    # same Kelvin were lost, review 48g/1)
    log.info(
        "--reference-nodata %g (as stored) is %r as read (x %g + %g)", nodata, decoded,
        scale, offset)
    return ref, decoded


def _range_leaves_none(ref: Any, args: argparse.Namespace) -> str | None:
    """The refusal of an evaluate run whose --valid-min / --valid-max leave no reference pixel
    (none of its valid values, decoded with --reference-scale and --reference-nodata, lies in
    that range), naming those flags; None where the range is not the cause (or not given)."""
    import numpy as np

    from xlstsr.errors import XlstsrError
    from xlstsr.evaluate import decode_reference

    vmin, vmax = args.valid_min, args.valid_max
    if vmin is None and vmax is None:
        return None
    try:
        with warnings.catch_warnings():
            warnings.simplefilter("ignore")  # evaluate gave its warnings already
            decoded = decode_reference(ref, scale=args.reference_scale,  # as evaluate does
                                       nodata=args.reference_nodata, valid_min=vmin,
                                       valid_max=vmax)
        values = np.asarray(decoded.values, np.float64)
    except (XlstsrError, ValueError):
        return None  # evaluate's own refusal stands
    values = values[np.isfinite(values)]
    if not values.size:
        return None
    inside = np.ones(values.shape, bool)
    if vmin is not None:
        inside &= values >= vmin
    if vmax is not None:
        inside &= values <= vmax
    if inside.any():
        return None
    lo, hi = float(values.min()), float(values.max())
    given = " ".join(f"--{k} {v:g}" for k, v in (("valid-min", vmin), ("valid-max", vmax))
                     if v is not None)
    applied = [f for f, v in (("--reference-nodata", args.reference_nodata),
                              ("--reference-scale", args.reference_scale)) if v is not None]
    applied_text = f" ({' and '.join(applied)} applied)" if applied else ""
    fix = []
    if vmin is not None and vmin > lo:
        eg = " (e.g. `--valid-min 230`, which drops cold cloud pixels)" if 230 < hi else ""
        fix.append(f"lower --valid-min below {hi:.2f}{eg} or drop it")
    if vmax is not None and vmax < hi:
        fix.append(f"raise --valid-max above {lo:.2f} or drop it")
    return (f"no reference pixel of {args.reference} lies within {given}: its valid values run "
            f"from {lo:.2f} to {hi:.2f} K{applied_text}: "
            f"{'; '.join(fix)}; nothing was written.")


#: In-memory ``evaluate``'s peak allocation over its inputs' size as float64 (8 bytes a pixel):
#: measured with tracemalloc, 152 MiB for a 1000 x 1000 float32 pair on one grid with
#: valid_min and erode=1 (15 MiB as float64): 10. Budgeting for the inputs alone loaded ones
#: taking 5-50 % of the memory, which evaluate then ran out of (they were scored in chunks).
_EVALUATE_PEAK_PER_INPUT = 10


def _loaded(*fields: Any) -> tuple[Any, ...]:
    """``fields`` (DataArrays or None) read into memory when in-memory ``evaluate``'s peak
    (:data:`_EVALUATE_PEAK_PER_INPUT` times their size as float64, the dtype it scores in)
    takes less than :data:`xlstsr.validate.OUTPUT_MEMORY_FRACTION` of the memory available;
    else as they are, lazy."""
    from xlstsr.validate import OUTPUT_MEMORY_FRACTION, _available_memory

    nbytes = sum(8 * int(f.size) for f in fields if f is not None)
    if _EVALUATE_PEAK_PER_INPUT * nbytes > OUTPUT_MEMORY_FRACTION * _available_memory():
        log.warning("inputs of %.1f GiB scored lazily: evaluate's in-memory checks are skipped",
                 nbytes / 1024**3)
        return fields
    import dask

    # one compute: fields of one file or graph (a clear mask of the reference's file) read once
    return dask.compute(*fields)


def _scaling(args: argparse.Namespace) -> int:
    import dask
    import dask.array as dsa
    import numpy as np
    import xarray as xr

    import xlstsr
    from xlstsr.errors import AllNaNError, GuideTimeError, XlstsrError

    _no_stream(args.input, args.output, args.guide, args.figure)
    _refuse_url_output(args.output, "the output table")
    _refuse_url_output(args.figure, "--figure")
    scales = {}
    for flag, name in (("--lags", "lags"), ("--factors", "factors")):
        text = getattr(args, name)
        if text is None:
            continue
        try:
            scales[name] = tuple(int(v) for v in text.replace(" ", "").split(","))
        except ValueError:
            raise UsageError(f"{flag} takes whole numbers of pixels separated by commas, e.g. "
                             f"{flag} 1,2,4,8; got {text!r}") from None
        if min(scales[name]) < 1:  # scaling_stats' refusal named `lags=`, not the flag
            raise UsageError(f"{flag} takes numbers of pixels >= 1, e.g. {flag} 1,2,4,8; got "
                             f"{text!r}")
    for flag, name in (("--fit-lags", "fit_lags"), ("--fit-factors", "fit_factors")):
        text = getattr(args, name)
        if text is None:
            continue
        try:
            win = tuple(float(v) for v in text.replace(" ", "").split(","))
        except ValueError:
            win = ()
        if len(win) != 2:  # the bounds themselves are checked by scaling_stats (its flags)
            raise UsageError(f"{flag} takes two numbers of pixels LO,HI, e.g. {flag} 1,8; got "
                             f"{text!r}")
        scales[name] = win
    if "factors" in scales and 1 not in scales["factors"]:
        raise UsageError(f"--factors must include 1 (the native resolution), e.g. --factors "
                         f"1,{','.join(str(f) for f in scales['factors'])}")
    _check_dependent_flags(args)
    _refuse_input(args.output, args.input, args.guide)
    if (args.figure and "://" not in f"{args.figure}{args.output}"
            and Path(args.figure).resolve() == Path(args.output).resolve()):
        # _refuse_input's words called the output table "an input"
        png = Path(args.output).with_suffix(".png")
        png = png if png.resolve() != Path(args.output).resolve() else png.with_name("scaling.png")
        raise UsageError(f"--figure {args.figure} is the output table too: the figure would "
                         f"replace the table; give the figure its own path, e.g. --figure {png}")
    _refuse_input(args.figure, args.input, args.guide, args.output)
    _table_suffix(args.output)
    if args.figure:  # checked when drawing: after the table was written, left behind
        from xlstsr.plot import _check_path

        try:
            _check_path(args.figure, create=False)
        except XlstsrError as err:
            raise UsageError(f"--figure: {err}") from None
    _refuse_existing(args.output, args.overwrite)
    if args.figure:
        _refuse_existing(args.figure, args.overwrite)
    _check_writable(args.output, args.figure)
    lst = _open_lst(args)[0]
    guide = None
    if args.guide:
        guide = _open_guide(args.guide, args.guide_variable, args.guide_nodata, args.guide_scale,
                            args.guide_crs, args.guide_band)
    with _scheduler(args.scheduler), _band_step_refusal(lst, args.input, args.mask_out_of_range):
        try:
            stats = xlstsr.scaling_stats(lst, guide, radiometric=not args.plain_mean,
                                         guide_time_tolerance=args.guide_time_tolerance,
                                         mask_out_of_range=args.mask_out_of_range,
                                         **scales)
            spread = None
            if isinstance(getattr(lst, "data", None), dsa.Array):
                # each step's range, read in the same pass as the statistics: scaling_stats
                # refuses a constant field (a fill taken as data) in memory only, and a
                # constant file gave an all-NaN table with exit status 0 here
                from xlstsr.guide import decode_guide
                from xlstsr.scaling import _decode_lst_field

                # decoded as scaling_stats decodes it (--nodata masked)
                field = (decode_guide(lst) if args.plain_mean
                         else _decode_lst_field(lst, args.mask_out_of_range))
                sdims = _spatial_dims(field)
                # and the isolated gaps scaling_stats warns about in memory (spectral slope)
                from xlstsr.kernels.spectra import isolated_gap_share

                iso = xr.apply_ufunc(isolated_gap_share, field.chunk({d: -1 for d in sdims}),
                                     input_core_dims=[list(sdims)], dask="parallelized",
                                     output_dtypes=[np.float64])
                # the valid values as stored, for the --nodata a constant file is advised
                stored = lst.where(field.notnull()).max([d for d in sdims if d in lst.dims])
                spread = (field.min(sdims), field.max(sdims), iso, stored)
            stats, spread = dask.compute(stats, spread)
            if spread is not None and not np.isfinite(spread[1].values).any():
                # the check below read the raw values: a file all --nodata passed it
                raise AllNaNError(
                    f"the input {args.input} holds no valid pixel (all NaN or fill): check its "
                    "fill value (`--nodata`) and QC mask, or select time steps with data."
                )
            if spread is not None:
                from xlstsr.scaling import (
                    _check_constant_steps,
                    _step_names,
                    _warn_scattered_gaps,
                )

                # the steps by their labels (a GeoTIFF's bands from 1, as the table's rows),
                # made only where a message names steps
                steps = functools.partial(_step_names, spread[0], spread[0].dims)
                try:
                    _check_constant_steps(spread[0].values, spread[1].values, "field", steps)
                except XlstsrError as err:  # its fix named the Python call only
                    # --nodata takes the value as stored (a scaled file's 15000, not 300 K:
                    # the decoded value, advised, was refused again)
                    stored = np.unique(spread[3].values[np.isfinite(spread[3].values)])
                    if stored.size != 1:  # steps of different values: one --nodata masks one
                        raise
                    raise XlstsrError(f"{err} On the command line: `--nodata {stored[0]:g}` "
                                      "(the value as stored).") from err
                _warn_scattered_gaps(spread[2].values, tuple(str(d) for d in spread[2].dims),
                                     _spatial_dims(lst),
                                     functools.partial(_step_names, spread[2], spread[2].dims))
        except GuideTimeError as err:
            # its advice names the Python option: add the flag (upscale's table, its one row)
            raise GuideTimeError(_with_flags(str(err), [
                (p, f) for p, f in _UPSCALE_FLAGS if f.startswith("--guide-time-tolerance")
            ], _typed_values(args))) from err
        if "hurst" in stats and not np.isfinite(stats["hurst"].values).any() \
                and not bool(np.isfinite(lst).any()):
            # statistics of nothing: a lazily read input without a valid pixel, refused as
            # scaling_stats refuses one in memory (checked only then: one more streamed pass)
            raise AllNaNError(
                f"the input {args.input} holds no valid pixel (all NaN or fill): check its fill "
                "value (`--nodata`) and QC mask, or select time steps with data."
            )
    ydim, xdim = _spatial_dims(lst)
    lead = [str(d) for d in lst.dims if d not in (ydim, xdim)]
    if any(isinstance(getattr(a, "data", None), dsa.Array) for a in (lst, guide)):
        # the checks scaling_stats runs in memory only: the input was read lazily and the
        # result is computed now (a step of 9 valid pixels gave its H without a word)
        from xlstsr.scaling import _warn_few_pairs, _warn_flat_spectrum

        fit_lags = stats.attrs.get("fit_lags_px")
        if fit_lags is not None and "increment_count" in stats:
            _warn_few_pairs(stats, tuple(lead), (float(fit_lags[0]), float(fit_lags[1])))
        if "power_spectrum" in stats:
            _warn_flat_spectrum(stats, tuple(lead))
    _write_table(stats, args.output, lead)
    if args.figure:
        from xlstsr.plot import scaling

        _parent_folder(args.figure)
        scaling(stats, path=args.figure, title=Path(args.input).name)
    h = stats["hurst"].values.ravel()
    print(f"wrote {args.output}" + (f", {args.figure}" if args.figure else "")
          + f": H {', '.join(f'{v:.2f}' for v in h[:5])}" + (" ..." if h.size > 5 else ""))
    return 0


#: xlstsr.train.MODES, spelled out so that parsing does not import torch (a test keeps them equal)
TRAIN_MODES = ("sisr", "degraded_disr", "sif", "supervised")


def _add_train_parser(sub: argparse._SubParsersAction) -> None:
    t = sub.add_parser(
        "train", help="train a model on an LST cube (and guide/truth), write a checkpoint",
        description="Train a model on an LST cube (and guide/truth) and write a checkpoint, e.g. "
        "`xlstsr train --lst lst_1km.zarr --variable LST --mode sisr --arch rescnn --out sisr.pt`.",
        formatter_class=_Formatter,
    )
    t.add_argument("--lst", required=True, help="LST cube (Zarr, NetCDF or GeoTIFF), Kelvin")
    t.add_argument("--variable", default=None, help="LST variable name in a Dataset")
    t.add_argument("--band", type=_positive_int, default=None,
                   help="one band (from 1) of a multi-band GeoTIFF LST (default: every band, "
                   "as time steps)")
    t.add_argument("--guide", default=None, help="fine guide (e.g. NDVI) at factor x the LST grid")
    t.add_argument("--guide-variable", default=None,
                   help="guide variable of a .nc/.zarr guide (default: its only variable)")
    t.add_argument("--guide-band", type=_positive_int, default=None, help=_GUIDE_BAND_HELP)
    t.add_argument("--truth", default=None, help="fine truth on the output grid (mode supervised)")
    t.add_argument("--truth-variable", default=None,
                   help="truth variable of a .nc/.zarr truth (default: its only variable)")
    t.add_argument("--truth-band", type=_positive_int, default=None,
                   help="one band (from 1) of a multi-band GeoTIFF truth (default: every band, "
                   "as time steps)")
    _add_input_declarations(t)
    _add_input_declarations(t, "truth")
    _add_guide_declarations(t)
    t.add_argument("--mode", choices=TRAIN_MODES, default="sisr",
                   help="sisr: degraded LST pairs, no guide; degraded_disr, sif: with --guide; "
                   "supervised: against --truth")
    t.add_argument("--arch", default=None, help="rescnn, mrunet, guided_unet or guided_rescnn "
                   "(default: guided_unet with --guide, else rescnn)")
    t.add_argument("--factor", type=_factor, default=4, help="upscaling factor learned")
    t.add_argument("--patch", type=_positive_int, default=64, help="patch size in fine pixels")
    t.add_argument("--window", type=_positive_int, default=None,
                   help="side of a window position in fine pixels (split unit; default 2 x patch)")
    t.add_argument("--psf", type=float, default=None,
                   help="Gaussian PSF sigma (LST pixels) of the degraded pairs of --mode sisr "
                   "and degraded_disr (default: none: radiometric block means)")
    t.add_argument("--max-nan-fraction", type=float, default=0.5,
                   help="largest NaN share of a patch's input (and truth) for it to be used")
    t.add_argument("--min-valid", type=float, default=1.0,
                   help="smallest valid share of a factor x factor block for its degraded pixel "
                   "to be valid (--mode sisr, degraded_disr; e.g. 0.5 for scattered gaps)")
    t.add_argument("--guide-time-tolerance", default=None, metavar="DELTA",
                   help="how far back a guide date may lie from an LST date, e.g. 15D for "
                   "16-day composites labelled by their first day (default: equal dates only)")
    t.add_argument("--guide-offset", default=None, choices=("auto", "check", "ignore"),
                   help="sub-pixel offset of the guide from the LST, as `xlstsr upscale "
                   "--guide-offset` (the model is applied there to the guide so placed): 'auto' "
                   "moves the guide back when it is off by more than a quarter of a fine pixel "
                   "by more than twice its uncertainty, "
                   "'check' only warns, 'ignore' trains on the guide as stored (then upscale "
                   "with --guide-offset ignore too); default: auto where the LST and the guide "
                   "have a CRS, as stored without one. Recorded in the model file")
    t.add_argument("--epochs", type=int, default=50,
                   help="length of the cosine learning-rate schedule (and most epochs run)")
    t.add_argument("--max-epochs", type=_positive_int, default=None,
                   help="stop after this many epochs, to continue later with --resume "
                   "(default: --epochs)")
    t.add_argument("--batch-size", type=int, default=16, help="patches per training step")
    t.add_argument("--lr", type=float, default=1e-3, help="Adam learning rate")
    t.add_argument("--patience", type=int, default=10, help="epochs without gain before stopping")
    t.add_argument("--val-fraction", type=float, default=0.2,
                   help="share of patches whose window positions go to validation")
    t.add_argument("--seed", type=int, default=0,
                   help="seed of the initialisation, the split and the training")
    t.add_argument("--accelerator", default="cpu", help="Lightning accelerator (cpu, gpu, auto...)")
    t.add_argument("--devices", default=1, type=_devices,
                   help="Lightning devices: a count, a list of indices (0,1) or auto")
    t.add_argument("--precision", default=None,
                   choices=("32-true", "32", "64-true"),
                   help="Lightning precision (default 32-true); 16-bit precisions are not "
                        "offered: half precision rounds Kelvin (bfloat16 steps by 2 K at "
                        "300 K), so the loss would measure rounding")
    t.add_argument("--logger", choices=("csv", "tensorboard"), default=None,
                   help="log the losses per epoch under --log-dir")
    t.add_argument("--log-dir", default="xlstsr_logs", help="directory of logs and checkpoints")
    t.add_argument("--save-checkpoints", action="store_true",
                   help="keep Lightning checkpoints under --log-dir/checkpoints: last.ckpt (what "
                   "--resume continues from) and the epoch of the best validation loss (a run "
                   "without validation positions keeps last.ckpt only)")
    t.add_argument("--resume", default=None, metavar="CKPT",
                   help="resume from a Lightning checkpoint (.ckpt)")
    t.add_argument("--progress", action="store_true", help="show the progress bar")
    t.add_argument("--threads", type=_positive_int, default=None,
                   help="torch CPU threads (default: torch's, all cores)")
    t.add_argument("--out", required=True, help="model file to write (.pt, what upscale reads)")
    t.add_argument("--overwrite", action="store_true", help="replace an existing --out file")


def _devices(text: str) -> int | str | list[int]:
    """``--devices``: ``auto``, a count (``2``) or a list of indices (``0,1``)."""
    if text == "auto":
        return text
    try:
        value: int | list[int] = (
            [int(v) for v in text.split(",") if v] if "," in text else int(text)
        )
    except ValueError:
        raise argparse.ArgumentTypeError(
            f"{text!r}: use a count (1), a list of device indices (0,1) or auto") from None
    if value == 0 or value == []:
        raise argparse.ArgumentTypeError("0 devices: use at least 1")
    return value


def _best_and_last_checkpoints(dirpath: Path) -> Any:
    """``--save-checkpoints``: a ModelCheckpoint keeping ``last.ckpt`` and the epoch of the best
    ``val_loss`` (the key :class:`xlstsr.train.SuperResolutionModule` logs); in a run without
    validation (the Trainer validates on no batch) the last only (Lightning warned each epoch
    that it found no ``val_loss``, and a top-1 by nothing was the last epoch twice)."""
    from lightning.pytorch.callbacks import ModelCheckpoint

    class BestAndLast(ModelCheckpoint):
        def setup(self, trainer: Any, pl_module: Any, stage: str) -> None:
            if trainer.limit_val_batches == 0:
                self.monitor, self.save_top_k = None, 0
            super().setup(trainer, pl_module, stage)

        @property
        def state_key(self) -> str:
            # a ModelCheckpoint's key: a Python resume with the same ModelCheckpoint reads it
            return "ModelCheckpoint" + super().state_key[len(type(self).__qualname__):]

    return BestAndLast(dirpath=dirpath, monitor="val_loss", mode="min", save_top_k=1,
                       save_last=True)


#: Lightning's advice, on a resume without a ModelCheckpoint, to add one in Python
_RESUME_CALLBACKS = r"Be aware that when using `ckpt_path`, callbacks used to create the checkpoint"


def _train(args: argparse.Namespace, parser: argparse.ArgumentParser,
           argv: list[str] | None = None) -> int:
    import shlex

    from xlstsr.train import fit_files

    _no_stream(args.lst, args.guide, args.truth, args.out)
    _refuse_url_output(args.out, "--out")  # save_model writes a local file
    # the CLI reads its checkpoints back from a local folder (--save-checkpoints, --resume)
    _refuse_url_output(args.log_dir, "--log-dir", folder=True)
    if args.mode == "supervised" and not args.truth:
        parser.error("--mode supervised needs --truth")
    if args.truth and args.mode != "supervised":  # the truth was left unused without a word
        parser.error(f"--truth is the target of --mode supervised; --mode {args.mode} trains on "
                     "degraded pairs and would not use it: add --mode supervised, or drop --truth")
    if args.min_valid != 1 and args.mode in ("sif", "supervised"):  # unused, yet recorded
        parser.error(f"--min-valid sets the valid blocks of the degraded pairs of --mode sisr and "
                     f"degraded_disr; --mode {args.mode} trains on the LST at its own scale and "
                     "would not use it: drop --min-valid (--max-nan-fraction keeps patches with "
                     "gaps)")
    if args.psf and args.mode in ("sif", "supervised"):  # unused, yet recorded (0: no blur)
        parser.error(f"--psf blurs the degraded pairs of --mode sisr and degraded_disr; --mode "
                     f"{args.mode} trains on the LST at its own scale and would not use it: drop "
                     "--psf (those modes cut 4 km -> 1 km pairs from the LST alone, "
                     + ("without --truth)" if args.mode == "supervised" else
                        "--mode degraded_disr with the same --guide)"))
    if args.guide and args.mode == "sisr":  # the guide was left unused without a word
        parser.error("--mode sisr trains without a guide and would not use --guide: add --mode "
                     "degraded_disr (or sif, supervised) to train a guided model, or drop --guide")
    try:  # 'banana' as a tolerance; a --guide-variable, --truth-units... of a file not given
        _check_dependent_flags(args)
    except UsageError as err:
        parser.error(str(err))
    if args.mode == "sif" and not args.guide:
        parser.error("--mode sif needs --guide")
    if args.truth_band is not None and not args.truth:  # (fit_files names its Python argument)
        parser.error("--truth-band selects a band of the --truth file (--band selects the "
                     "LST's), and no --truth is given: add --truth (with --mode supervised), or "
                     "drop --truth-band")
    if args.resume and not Path(args.resume).is_file():
        parser.error(f"--resume {args.resume}: no such checkpoint file")
    from xlstsr.errors import XlstsrError
    from xlstsr.train.loop import check_training_settings

    try:  # the library's own checks, before any data is opened (--lr 0 failed after reading it)
        check_training_settings(epochs=args.epochs, batch_size=args.batch_size, lr=args.lr,
                                patience=args.patience, seed=args.seed)
    except XlstsrError as err:
        parser.error(_renamed_flags(str(err), "train"))
    for flag, value in (("--scale", args.scale), ("--truth-scale", args.truth_scale),
                        ("--guide-scale", args.guide_scale)):
        if value is not None and not (math.isfinite(value) and value > 0):
            example = "0.0001" if flag == "--guide-scale" else "0.02"
            parser.error(f"{flag} must be a number > 0, e.g. {example}, got {value!r}")
    for flag, value in (("--offset", args.offset), ("--truth-offset", args.truth_offset)):
        if value is not None and not math.isfinite(value):
            parser.error(f"{flag} must be a finite number, e.g. 149, got {value!r}")
    _refuse_input(args.out, args.lst, args.guide, args.truth, args.resume)
    # the logs and Lightning checkpoints (MBs) are written under --log-dir: into an input Zarr
    # store given there, while an --out inside it was refused
    logs = Path(args.log_dir).resolve()
    for flag, path in (("--lst", args.lst), ("--guide", args.guide), ("--truth", args.truth)):
        if path and "://" not in str(path) and (
                Path(path).resolve() == logs or Path(path).resolve() in logs.parents):
            raise UsageError(
                f"--log-dir {args.log_dir} is (or lies inside) the {flag} input {path}: the "
                "training's logs and checkpoints would be written into that data; give a "
                "folder outside it, e.g. --log-dir xlstsr_logs"
            )
    # a Landsat Collection 2 Level-2 scene: its scale without the 149 K offset, or not decoded
    _c2l2_lst(args.lst, "train", args.units, args.nodata, args.scale, args.offset)
    if args.truth:  # a Landsat Level-1 scene (or a band of it): radiance, not a fine truth
        _refuse_level1(args.truth, "train")
    from xlstsr.io.formats import DATA_SUFFIXES
    from xlstsr.plot import FIGURE_SUFFIXES

    # data, tables and figures: a model file named like one is a swapped argument
    if Path(args.out).suffix.lower() in (*DATA_SUFFIXES, ".csv", ".json", *FIGURE_SUFFIXES):
        parser.error(f"--out {args.out}: a model file is written there (what `xlstsr upscale "
                     f"--model` reads), not {Path(args.out).suffix} data; name it e.g. "
                     f"{Path(args.out).with_suffix('.pt')}")
    from xlstsr.nn.checkpoint import bundled_name_clash

    clash = bundled_name_clash(args.out)  # refused by save_model only after the training
    if clash is not None:
        parser.error(f"--out {clash}")
    if Path(args.out).is_dir():  # "exists; pass --overwrite", which then refused a folder
        parser.error(f"--out {args.out} is a folder: give the model file's name, e.g. "
                     f"{Path(args.out) / 'model.pt'}")
    _refuse_existing(args.out, args.overwrite)
    _check_writable(args.out)
    if args.threads:
        import torch

        torch.set_num_threads(args.threads)
    from lightning.fabric.utilities.exceptions import MisconfigurationException

    from xlstsr.train.loop import _is_hardware_refusal

    trainer: dict = {"accelerator": args.accelerator, "devices": args.devices,
                     "default_root_dir": args.log_dir}
    if args.precision:
        trainer["precision"] = args.precision
    if args.max_epochs:
        trainer["max_epochs"] = args.max_epochs
    callbacks = []
    ckpt = None
    if args.save_checkpoints:
        # the last epoch's state, whatever the validation (what --resume continues from), and
        # the best epoch's by the validation loss the training module logs
        ckpt = _best_and_last_checkpoints(Path(args.log_dir) / "checkpoints")
        callbacks.append(ckpt)
    for dest in ("nodata", "truth_nodata", "guide_nodata"):
        # NaN is a gap already (as upscale's --nodata nan): nothing to declare; it was refused
        # as "declare: _FillValue must be a finite number"
        value = getattr(args, dest)
        if value is not None and math.isnan(value):
            log.info("--%s nan: NaN is a gap already; nothing declared", dest.replace("_", "-"))
            setattr(args, dest, None)
    try:
        with warnings.catch_warnings():
            # Lightning asks a resume without a ModelCheckpoint for one in Python: said below in
            # this command's words (--save-checkpoints)
            warnings.filterwarnings("ignore", message=_RESUME_CALLBACKS)
            # one band (a date) of a multi-band GeoTIFF --lst refused: told as that band, as
            # scaling and upscale tell it (a file-wide --units degC was advised, then refused)
            with _band_step_refusal(lambda: _declare(_open_field_and_globals(
                    args.lst, args.variable, "LST", band=args.band)[0], args.units,
                    args.nodata, args.scale, offset=args.offset), args.lst):
                rec = fit_files(
                    args.lst, args.out, variable=args.variable, guide=args.guide,
                    guide_variable=args.guide_variable, truth=args.truth,
                    truth_variable=args.truth_variable, mode=args.mode, arch=args.arch,
                    factor=args.factor, patch=args.patch, window=args.window, psf=args.psf,
                    max_nan_fraction=args.max_nan_fraction, min_valid=args.min_valid,
                    guide_time_tolerance=args.guide_time_tolerance, val_fraction=args.val_fraction,
                    epochs=args.epochs, batch_size=args.batch_size, lr=args.lr, patience=args.patience,
                    seed=args.seed, progress=args.progress, logger=args.logger, log_dir=args.log_dir,
                    callbacks=callbacks, ckpt_path=args.resume, trainer_options=trainer,
                    declare={"units": args.units, "_FillValue": args.nodata, "scale_factor": args.scale,
                             "add_offset": args.offset},
                    truth_declare={"units": args.truth_units, "_FillValue": args.truth_nodata,
                                   "scale_factor": args.truth_scale, "add_offset": args.truth_offset},
                    guide_declare={"_FillValue": args.guide_nodata, "scale_factor": args.guide_scale},
                    band=args.band, guide_band=args.guide_band, truth_band=args.truth_band,
                    guide_offset=args.guide_offset,
                    command=shlex.join(["xlstsr", *(sys.argv[1:] if argv is None else argv)]),
                )
    except KeyboardInterrupt as err:  # Ctrl-C: fit stopped the Trainer, nothing was written
        print(f"xlstsr: interrupted: {err}", file=sys.stderr)
        return 130
    except MisconfigurationException as err:  # accelerator, devices, precision on this machine
        raise UsageError(f"{err} (check --accelerator, --devices, --precision)") from None
    except ValueError as err:  # settings the data or a resumed checkpoint cannot take
        # fit wrapped it (in Python); a TypeError naming --devices' value is such a refusal too
        if err.__cause__ is not None and _is_hardware_refusal(err.__cause__):
            devices = (",".join(map(str, args.devices)) if isinstance(args.devices, list)
                       else args.devices)  # as typed: --devices 0,1, not [0, 1]
            given = " ".join(f"{flag} {value}" for flag, value in (
                ("--accelerator", args.accelerator), ("--devices", devices),
                ("--precision", args.precision)) if value is not None)
            raise UsageError(f"the Lightning Trainer refused {given} on this machine "
                             f"({type(err.__cause__).__name__}: {err.__cause__}) (check "
                             "--accelerator, --devices, --precision)") from None
        raise UsageError(_train_hints(str(err), _typed_values(args))) from None
    if rec["path"] is None:  # another process of a run on several devices: rank 0 reports
        return 0
    if args.resume and not args.save_checkpoints:
        print("xlstsr: warning: --resume without --save-checkpoints: this run wrote no "
              "checkpoint to resume from (only --out); add --save-checkpoints to keep writing "
              "checkpoints", file=sys.stderr)
    hist = rec["history"]
    which = "validation" if hist.get("validated", True) else "training (no validation position)"
    more = f"; logs in {hist['log_dir']}" if "log_dir" in hist else ""
    if ckpt is not None and ckpt.best_model_path:
        # no epoch beat the starting weights: those were written to --out, and the best
        # epoch's checkpoint holds other (worse) weights than the model reported as best
        more += (f"; {rec['path']} holds the starting weights (no epoch beat them), not the "
                 f"best epoch's checkpoint {ckpt.best_model_path}"
                 if hist.get("kept_start_weights") else
                 f"; best checkpoint {ckpt.best_model_path}")
    if ckpt is not None and ckpt.last_model_path:
        more += f"; resume from {ckpt.last_model_path}"
    print(f"wrote {rec['path']}: {hist['epochs_run']} epochs, best {which} loss "
          f"{hist['best_val_loss']:.4f}{more}")
    return 0


# -- the parser ----------------------------------------------------------------------------------


class _StoreOnce(argparse._StoreAction):
    """An option given twice with different values: argparse kept the last one without a word
    (``--factor 2 ... --factor 4``, ``--model a.pt --checkpoint b.pt``). The last still wins (a
    script's defaults overridden by its user's options), but a warning says so."""

    def __call__(self, parser: argparse.ArgumentParser, namespace: argparse.Namespace,
                 values: Any, option_string: str | None = None) -> None:
        given = namespace.__dict__.setdefault("_given", {})
        if self.dest in given and given[self.dest][1] != values:
            first, before = given[self.dest]
            print(f"xlstsr: warning: {first} {before} and {option_string} {values}: the option "
                  f"is given twice; the last one, {option_string} {values}, is used",
                  file=sys.stderr)
        given[self.dest] = (option_string, values)
        setattr(namespace, self.dest, values)


class _Parser(argparse.ArgumentParser):
    """Usage errors in one line too (argparse prints the usage block first)."""

    def __init__(self, *args: Any, **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        self.register("action", None, _StoreOnce)
        self.register("action", "store", _StoreOnce)
        # negative numbers with an exponent are values too: `--nodata -3.4e+38` (what the fill
        # messages suggest) stopped on "expected one argument"
        self._negative_number_matcher = re.compile(
            r"^-\d+$|^-\d*\.\d+$|^-(?:\d+\.?\d*|\.\d+)[eE][-+]?\d+$|^-inf(?:inity)?$", re.IGNORECASE)

    def error(self, message: str) -> NoReturn:
        self.exit(2, f"{self.prog}: error: {message} (see `{self.prog} --help`)\n")


class _Formatter(argparse.ArgumentDefaultsHelpFormatter):
    """Defaults in the help, except where there is none (None, a flag off) or the help says it."""

    def _get_help_string(self, action: argparse.Action) -> str | None:
        text = action.help or ""
        if action.default is None or action.default is False or "default" in text:
            return action.help
        return super()._get_help_string(action)


def _scale_correction(text: str) -> str | float:
    """``--scale-correction``: a law (auto, law, law-lst) or a fixed detail gain (a finite
    number >= 0)."""
    if text in ("auto", "law", "law-lst"):
        return text
    try:
        gain = float(text)
    except ValueError:
        raise argparse.ArgumentTypeError(
            f"{text!r}: use auto, law, law-lst or a detail gain (a number >= 0)") from None
    if not (math.isfinite(gain) and gain >= 0):  # inf passed ">= 0"; nan was told ">= 0"
        raise argparse.ArgumentTypeError(
            f"a detail gain must be a finite number >= 0 (1: the method's detail unchanged), "
            f"got {text}")
    return gain


def _positive_int(text: str) -> int:
    try:
        value = int(text)
    except ValueError:
        raise argparse.ArgumentTypeError(f"{text!r} is not an integer") from None
    if value < 1:
        raise argparse.ArgumentTypeError(f"must be >= 1, got {value}")
    return value


def _upscale_method(text: str) -> str:
    """``xlstsr upscale --method``: a model file given as the method (``--method m.pt``) met
    argparse's bare "invalid choice"; it is the deep method's --model (the advice of
    get_method's, in this command's flags)."""
    from xlstsr import available_methods
    from xlstsr.methods.base import _model_file_method

    if text in available_methods():
        return text
    weights = _bundled_weights_method(text)
    if weights is not None:
        raise argparse.ArgumentTypeError(weights)
    found = _model_file_method(text)
    if found is None:
        return text  # argparse's "invalid choice" lists the methods
    name, guided, exists = found
    missing = "" if exists else " (no such file yet: check the path)"
    guide = (" (--method disr --guide GUIDE for a guided model)" if guided is None
             else " --guide GUIDE" if guided else "")
    raise argparse.ArgumentTypeError(
        f"{text!r} is a trained model, not a method name{missing}: give it to a deep method's "
        f"--model: --method {name} --model {text}{guide}")


def _bundled_weights_method(text: str) -> str | None:
    """``--method unet``: bundled weights (:data:`xlstsr.nn.weights.BUNDLED`, any case) given as
    the method; the advice to give them to the deep method their checkpoint's metadata says
    (``disr`` with ``--guide`` where it declares ``n_guide > 0``). None for another name."""
    from xlstsr.nn.weights import BUNDLED, weights_path

    key = next((k for k in BUNDLED if k == text.strip()), None) or next(
        (k for k in BUNDLED if k.casefold() == text.strip().casefold()), None)
    if key is None:
        return None
    try:
        from xlstsr.nn.checkpoint import load_checkpoint

        guided: bool | None = int(
            load_checkpoint(weights_path(key))["metadata"].get("n_guide", 0) or 0) > 0
    except Exception:  # not installed / unreadable: both ways
        guided = None
    use = (f"--method disr --model {key} --guide GUIDE" if guided
           else f"--method sisr --model {key}")
    also = (f" (--method disr --model {key} --guide GUIDE where they are guided)"
            if guided is None else "")
    return (f"{text!r} names bundled weights (xlstsr.nn.weights), not a method: give them "
            f"to a deep method's --model: {use}{also}")


def _factor(text: str) -> int:
    """``--factor``: an integer >= 2 (1 passed the parser and was refused after the input was
    read, naming no flag). One message for every value below 2 (0 was told ">= 1", and 1
    then refused)."""
    try:
        value = int(text)
    except ValueError:
        raise argparse.ArgumentTypeError(f"{text!r} is not an integer") from None
    if value < 2:
        raise argparse.ArgumentTypeError(
            f"must be >= 2, got {value}: give an integer factor such as 2 or 4 (below 2 "
            "it would not raise the resolution)")
    return value


def _non_negative_int(text: str) -> int:
    try:
        value = int(text)
    except ValueError:
        raise argparse.ArgumentTypeError(f"{text!r} is not an integer") from None
    if value < 0:
        raise argparse.ArgumentTypeError(f"must be >= 0, got {value}")
    return value


def _add_run_options(p: argparse.ArgumentParser) -> None:
    p.add_argument("--scheduler", default="threads", metavar="threads|sync|processes|ADDRESS",
                   help="dask scheduler: local threads, synchronous (debugging), local processes, "
                   "or a dask.distributed scheduler address such as tcp://host:8786")
    p.add_argument("--overwrite", action="store_true", help="replace existing outputs")


def _add_input_declarations(p: argparse.ArgumentParser, role: str = "",
                            what: str | None = None) -> None:
    """``--units``, ``--nodata``, ``--scale`` of the LST (``role`` "truth": ``--truth-units``...
    of train's truth file; "coarse": evaluate's --coarse file, ``what`` it is called)."""
    flag = f"--{role}-" if role else "--"
    what = what or (f"the {role}" if role else "the LST")
    p.add_argument(f"{flag}units", default=None, choices=("K", "degC"),
                   help=f"units of {what} when the file does not say (or says wrongly); "
                   "default: the file's `units` attribute")
    p.add_argument(f"{flag}nodata", type=float, default=None,
                   help=f"stored value marking missing pixels of {what} when the file does not "
                   "declare it (e.g. -80 for SEVIRI degC, 0 for MODIS DN)")
    p.add_argument(f"{flag}scale", type=float, default=None,
                   help=f"factor turning stored values into the units of {what} when the file "
                   "does not declare it (e.g. 0.02 for MODIS LST digital numbers, 0.1 for "
                   "Kelvin x 10)")
    p.add_argument(f"{flag}offset", type=float, default=None,
                   help=f"added to stored values after {flag}scale (value x scale + offset, as "
                   f"CF add_offset) to give the units of {what} when the file does not declare "
                   f"it (e.g. 149 with {flag}scale 0.00341802 for Landsat Collection 2 Level-2 "
                   "surface temperature digital numbers)")


def _add_crs_declarations(p: argparse.ArgumentParser) -> None:
    """``--crs``, ``--guide-crs``: the CRS of an input whose file does not declare one (a CF
    NetCDF on a regular lat/lon grid without a grid_mapping: ERA5-Land, Copernicus GLS), which
    was refused with a Python-only fix (``da.rio.write_crs('EPSG:4326')``)."""
    p.add_argument("--crs", default=None, metavar="CRS",
                   help="CRS of the LST when its file does not declare one, e.g. EPSG:4326 for "
                   "lat/lon degrees (any EPSG code, WKT or PROJ string); replaces a malformed one "
                   "(ellipsoid not Earth-sized), refused when the file declares another")
    p.add_argument("--guide-crs", default=None, metavar="CRS",
                   help="CRS of the --guide file when it does not declare one (as --crs)")


def _add_guide_declarations(p: argparse.ArgumentParser) -> None:
    """``--guide-nodata``, ``--guide-scale``: what a --guide file does not say (an NDVI stored as
    int16 x 10000 without a scale tag, as MOD13Q1 GeoTIFFs are often distributed)."""
    p.add_argument("--guide-nodata", type=float, default=None,
                   help="stored value marking missing pixels of the --guide file when it does "
                   "not declare it (e.g. -3000 for MOD13 NDVI)")
    p.add_argument("--guide-scale", type=float, default=None,
                   help="factor turning stored --guide values into NDVI (or reflectance) when "
                   "the file does not declare it (e.g. 0.0001 for MODIS NDVI x 10000)")


def build_parser() -> argparse.ArgumentParser:
    """The ``xlstsr`` argument parser (choices of ``--method``: the registered methods)."""
    from xlstsr import available_methods
    from xlstsr._version import __version__

    fmt = _Formatter
    parser = _Parser(
        prog="xlstsr", description="Super-resolution of LST datacubes (xarray/dask).",
        epilog="Outputs are never overwritten without --overwrite. Input errors print one line "
        "and exit with status 2.", formatter_class=fmt,
    )
    parser.add_argument("--version", action="version", version=f"xlstsr {__version__}")
    parser.add_argument("-v", "--verbose", action="store_true", help="log what xlstsr does (INFO)")
    sub = parser.add_subparsers(dest="command", required=True, metavar="COMMAND")

    d = sub.add_parser("demo", help="the demo on real MODIS/ASTER data embedded in the package",
                       formatter_class=fmt)
    d.add_argument("--output", default="demo_output", help="output folder")
    d.add_argument("--method", default=None, choices=available_methods(),
                   help="compare only this method with bicubic and write the time series "
                   "with it (a guided one cannot: bicubic writes it); default: every candidate, "
                   "the best scored that needs no guide writes the series")
    d.add_argument("--overwrite", action="store_true", help="replace existing demo outputs")
    d.add_argument("--quiet", action="store_true", help="no progress bar")

    u = sub.add_parser(
        "upscale", help="upscale a GeoTIFF/COG, NetCDF, Zarr store or MODIS HDF4 granule",
        description="Super-resolve an LST field or cube. The output format follows the "
        "extension: .zarr is streamed region by region (resumable, any size); .tif (a COG, one "
        "band per time step, dates kept in its tags) and .nc are computed in memory first.",
        formatter_class=fmt,
    )
    u.add_argument("input", help="a .tif (GeoTIFF/COG), .nc, .zarr or MODIS .hdf granule")
    u.add_argument("output", help="a .zarr store (streamed, resumable), a .tif (COG) or a .nc")
    u.add_argument("--factor", type=_factor, default=4, help="integer upscaling factor")
    u.add_argument("--method", default="bicubic", choices=available_methods(),
                   type=_upscale_method,
                   help="super-resolution method (xlstsr.available_methods())")
    u.add_argument("--guide", default=None,
                   help="fine guide (e.g. NDVI at 250 m) for guided methods: .tif, .nc or .zarr")
    u.add_argument("--guide-variable", default=None,
                   help="guide variable of a .nc/.zarr guide (default: its only variable)")
    u.add_argument("--guide-band", type=_positive_int, default=None, help=_GUIDE_BAND_HELP)
    u.add_argument("--guide-time-tolerance", default=None, metavar="DELTA",
                   help="match each LST date with the latest guide date at most DELTA before it "
                   "(e.g. '15D' for 16-day NDVI composites labelled by their first day); "
                   "default: the same dates. A guide without dates (a single-band GeoTIFF) "
                   "serves every date")
    u.add_argument("--guide-offset", default=None, choices=("auto", "check", "ignore"),
                   help="sub-pixel offset of the guide from the LST, measured on one window of "
                   "one date: 'auto' moves the guide back when it is off by more than a quarter "
                   "of a fine pixel by more than twice its uncertainty (with a warning), 'check' only warns, 'ignore' skips it "
                   "(default: auto; a --resume keeps the store's choice)")
    _add_guide_declarations(u)
    _add_crs_declarations(u)
    u.add_argument("--variable", default=None,
                   help="LST variable of a .nc/.zarr/.hdf input (default: the one that says LST)")
    u.add_argument("--band", type=_positive_int, default=None,
                   help="one band (from 1) of a multi-band GeoTIFF input (default: every band, "
                   "each a time step)")
    u.add_argument("--model", "--checkpoint", dest="model", default=None,
                   help="deep methods: a checkpoint file (.pt) or bundled weights by name "
                   "(default: the method's bundled weights)")
    u.add_argument("--adapt", action="store_true",
                   help="test-time adaptation of a deep method to each scene (sisr/disr; off: "
                   "docs/results/adaptation.md measured 0.016 K for the default disr at ~15x "
                   "the CPU time)")
    u.add_argument("--calibration", default=None, metavar="JSON",
                   help="opt-in sensor mapping (a Calibration saved as JSON, e.g. MODIS -> "
                   "ASTER); default: the input sensor's LST")
    u.add_argument("--method-option", action="append", default=None, metavar="KEY=VALUE",
                   help="an option of the method (Python's method_options), repeated for "
                   "several, e.g. --method-option min_samples=16 --method-option "
                   "regressor=bagging for dms; VALUE read as JSON (16, 0.5, false), else as text")
    u.add_argument("--conserve", action="store_true",
                   help="keep the input's radiance (coarse consistency): an option of the deep "
                   "methods sisr/disr (off without it) and of tsharp/dms (on already)")
    u.add_argument("--backend", default=None, choices=("torch", "onnxruntime"),
                   help="deep methods: what runs the model (default torch; onnxruntime: CPU "
                   "only, pip install 'xlstsr[onnx]'; docs/results/engine.md compares them)")
    u.add_argument("--scale-correction", default=None, type=_scale_correction,
                   metavar="auto|law|law-lst|GAIN",
                   help="correct the scale-invariance assumption of the method's detail "
                   "(xlstsr.correction; 'auto' only damps, uses --guide when given; a number is a "
                   "fixed detail gain, e.g. from xlstsr.correction.calibrate_detail_gain)")
    u.add_argument("--mask-out-of-range", action="store_true",
                   help="mask LST outside 150-400 K instead of stopping with an error")
    _add_input_declarations(u)
    u.add_argument("--chunks", default=None,
                   help="dask chunks of the input: 'auto', '512' (y and x) or 'time=1,y=512,x=512' "
                   "(default: the file's own: COG tiles, Zarr chunks)")
    _add_run_options(u)
    u.add_argument("--resume", action="store_true",
                   help="complete an interrupted .zarr output (same arguments)")
    u.add_argument("--quiet", action="store_true", help="no progress bar")

    e = sub.add_parser(
        "evaluate", help="score a super-resolved field against a fine reference (xlstsr.evaluate)",
        description="Accuracy metrics (RMSE, bias, SSIM, spectral ratio...) of a super-resolved "
        "field against fine truth from another sensor, one row per time step. .csv: a table; "
        ".nc: the Dataset.", formatter_class=fmt,
    )
    e.add_argument("sr", help="super-resolved LST (.zarr, .tif, .nc), e.g. xlstsr upscale's output")
    e.add_argument("reference", help="fine reference LST (.tif, .nc, .zarr, or a Landsat "
                   "Collection 2 Level-2 scene: its folder or its *_ST_B10.TIF, decoded and "
                   "cloud-masked), any CRS")
    e.add_argument("output", help="metrics table: .csv or .nc")
    e.add_argument("--variable", default=None, help="LST variable of a .nc/.zarr input")
    e.add_argument("--reference-variable", default=None, help="variable of a .nc/.zarr reference")
    e.add_argument("--reference-band", type=_positive_int, default=None,
                   help="band of a multi-band reference GeoTIFF (1 = the first), e.g. its LST "
                   "band beside emissivity or QC")
    e.add_argument("--coarse", default=None,
                   help="the coarse input (adds coarse consistency; needed by --coregister)")
    e.add_argument("--coarse-variable", default=None, help="variable of a .nc/.zarr --coarse")
    _add_input_declarations(e, "", "the super-resolved LST (sr)")
    _add_input_declarations(e, "coarse", "the --coarse LST")
    # a reference on a CF lat/lon grid without a grid_mapping (ERA5-Land, Copernicus GLS,
    # gridded ECOSTRESS) was refused with a Python-only fix
    e.add_argument("--crs", default=None, metavar="CRS",
                   help="CRS of the super-resolved LST when its file does not declare one, e.g. "
                   "EPSG:4326 for lat/lon degrees (any EPSG code, WKT or PROJ string); replaces "
                   "a malformed one (ellipsoid not Earth-sized), refused when the file declares "
                   "another")
    e.add_argument("--reference-crs", default=None, metavar="CRS",
                   help="CRS of the reference when its file does not declare one (as --crs), "
                   "e.g. EPSG:4326 for a CF NetCDF on a lat/lon grid without a grid_mapping")
    e.add_argument("--coarse-crs", default=None, metavar="CRS",
                   help="CRS of the --coarse file when it does not declare one (as --crs)")
    e.add_argument("--factor", type=_factor, default=None,
                   help="upscaling factor (default: the sr's xlstsr_factor attribute)")
    e.add_argument("--erode", type=_non_negative_int, default=0,
                   help="pixels removed along the border of the reference's valid region")
    e.add_argument("--valid-min", type=float, default=None, help="lowest valid reference K")
    e.add_argument("--valid-max", type=float, default=None, help="highest valid reference K")
    e.add_argument("--reference-units", default=None, choices=("K", "degC"),
                   help="units of the reference when the file does not say (or says wrongly), "
                   "e.g. degC for a SEVIRI / LSA-SAF GeoTIFF; default: the file's `units` "
                   "attribute")
    e.add_argument("--reference-scale", type=float, default=None,
                   help="factor turning stored reference values into its units (K, or "
                   "--reference-units: 0.1 for K x 10)")
    e.add_argument("--reference-offset", type=float, default=None,
                   help="added to stored reference values after --reference-scale (value x "
                   "scale + offset, as CF add_offset) when the file does not declare it (e.g. "
                   "149 with --reference-scale 0.00341802 --reference-nodata 0 for a Landsat "
                   "Collection 2 Level-2 surface temperature GeoTIFF of digital numbers)")
    e.add_argument("--reference-nodata", type=float, default=None,
                   help="stored reference value marking missing data (as in the file, "
                   "before its scale_factor: 65535 of a uint16 x 0.02 .nc, as upscale's --nodata)")
    e.add_argument("--coregister", action="store_true",
                   help="align the reference with --coarse first (sub-pixel offset and PSF)")
    e.add_argument("--clear", action="store_true",
                   help="erode around the gaps --valid-min/--valid-max make (cloud edges)")
    e.add_argument("--reference-mask", action="append", default=None, metavar="FILE",
                   help="a cloud / water / QC layer on the reference's grid: only its pixels "
                   "equal to 0 are scored (e.g. ECOSTRESS cloud_mask and water_mask; repeat "
                   "the flag for several); --erode also drops the pixels along its gaps")
    _add_run_options(e)

    s = sub.add_parser(
        "scaling", help="statistics across scales of an LST field (xlstsr.scaling_stats)",
        description="Structure functions, spectrum, coarse-graining variance and fitted "
        "exponents per time step. .csv: the per-step fits (H, slopes, breaks, alpha); .nc: "
        "every statistic.", formatter_class=fmt,
    )
    s.add_argument("input", help="LST (.tif, .nc, .zarr, .hdf)")
    s.add_argument("output", help="statistics: .csv (fits per time step) or .nc (everything)")
    s.add_argument("--variable", default=None, help="LST variable of a .nc/.zarr/.hdf input")
    s.add_argument("--band", type=_positive_int, default=None,
                   help="one band (from 1) of a multi-band GeoTIFF input (default: every band, "
                   "as time steps)")
    s.add_argument("--guide", default=None, help="a guide (e.g. NDVI) for LST-guide laws")
    s.add_argument("--guide-variable", default=None, help="variable of a .nc/.zarr guide")
    s.add_argument("--guide-band", type=_positive_int, default=None,
                   help="one band (from 1) of a multi-band GeoTIFF guide (default: every band, "
                   "as time steps)")
    s.add_argument("--guide-time-tolerance", default=None, metavar="DELTA",
                   help="match each LST date with the latest guide date at most DELTA before it "
                   "(e.g. '15D' for 16-day NDVI composites labelled by their first day); "
                   "default: the same dates. A guide without dates (a single-band GeoTIFF) "
                   "serves every date")
    _add_guide_declarations(s)
    _add_crs_declarations(s)
    s.add_argument("--lags", default=None, metavar="L1,L2,...",
                   help="increment lags in pixels, e.g. 1,2,4,8 (default: powers of two up to a "
                   "quarter of the smaller side)")
    s.add_argument("--factors", default=None, metavar="F1,F2,...",
                   help="coarse-graining factors in pixels including 1, e.g. 1,2,4,8 (default: "
                   "powers of two up to a quarter of the smaller side)")
    s.add_argument("--fit-lags", default=None, metavar="LO,HI",
                   help="the lags (pixels, inclusive) the Hurst exponent is fitted over, e.g. "
                   "1,32 (default: 1 to a sixteenth of the smaller side, at least 4)")
    s.add_argument("--fit-factors", default=None, metavar="LO,HI",
                   help="the factors (pixels, inclusive) the within-block exponent is fitted "
                   "over, e.g. 1,8 (default: every factor given)")
    s.add_argument("--plain-mean", action="store_true",
                   help="aggregate by the plain mean (fields that are not LST)")
    s.add_argument("--mask-out-of-range", action="store_true",
                   help="mask LST outside 150-400 K instead of stopping with an error")
    s.add_argument("--figure", default=None, help="also draw the statistics into this .png")
    _add_input_declarations(s)
    _add_run_options(s)

    _add_train_parser(sub)
    sub.choices["train"].set_defaults(train_parser=sub.choices["train"])
    return parser


#: the arguments that are paths (of every command)
_PATH_ARGS = ("input", "output", "guide", "calibration", "model", "sr", "reference", "coarse",
              "figure", "lst", "truth", "out", "resume", "log_dir", "reference_mask")


def _expand_home(args: argparse.Namespace) -> None:
    """``~`` in a path the shell did not expand (quoted, or an ``--opt=~/x`` form): it made a
    folder named ``~`` in the current one (which ``rm -rf ~`` would then take for the home)."""
    import os

    for name in _PATH_ARGS:
        value = getattr(args, name, None)
        if isinstance(value, str) and value.startswith("~"):
            setattr(args, name, os.path.expanduser(value))
        elif isinstance(value, list):  # a repeatable one (--reference-mask)
            setattr(args, name, [os.path.expanduser(v) if isinstance(v, str) else v
                                 for v in value])


def _decode_file_urls(args: argparse.Namespace) -> None:
    """A ``file://`` URL as a path argument, decoded once to the local path it names (as
    ``Path.as_uri()`` encodes it): the readers decode one, but the checks and writers took the
    text as a relative path, writing ``./file:/d/out%20x.tif`` (exit 0), and the refusal to
    overwrite an input skipped it as remote (``upscale file:///d/in.nc /d/in.nc`` replaced
    the input with its own result)."""
    import os

    from xlstsr.io.zarr import file_uri_path

    def local(value: Any) -> Any:
        path = file_uri_path(value)  # raises for another host's file URL
        if path is None:
            return value
        if path == Path():  # "file://" alone: "." would write into the current folder
            raise UsageError(f"{value!r} names no file: give a local path, or a file URL with "
                             "its absolute path (e.g. file:///data/lst.tif)")
        return os.fspath(path)

    for name in _PATH_ARGS:
        value = getattr(args, name, None)
        if isinstance(value, str):
            setattr(args, name, local(value))
        elif isinstance(value, list):  # a repeatable one (--reference-mask)
            setattr(args, name, [local(v) if isinstance(v, str) else v for v in value])


#: an example of each path argument, for the refusal of an empty one (by command, then any)
_PATH_EXAMPLES = {("demo", "output"): "demo_output", ("upscale", "output"): "sr.tif",
                  ("evaluate", "output"): "scores.csv", ("scaling", "output"): "stats.csv",
                  "input": "lst.tif", "guide": "ndvi.tif", "calibration": "calibration.json",
                  "model": "model.pt", "sr": "sr.tif", "reference": "aster.tif",
                  "coarse": "lst.tif", "figure": "scaling.png", "lst": "lst.zarr",
                  "truth": "truth.zarr", "out": "model.pt", "resume": "last.ckpt",
                  "log_dir": "xlstsr_logs", "reference_mask": "aster_cloud_mask.tif"}

#: the path arguments that name a folder
_FOLDER_ARGS = (("demo", "output"), ("train", "log_dir"))


def _refuse_empty_paths(parser: argparse.ArgumentParser, args: argparse.Namespace) -> None:
    """Refuse an empty path argument (an unset shell variable: ``--output "$OUT"``), naming it:
    ``--figure ""`` was ignored (exit 0, no figure), ``demo --output ""`` wrote into the
    current folder, other commands failed later in other words."""
    sub = _command_parser(parser, args.command)
    for action in sub._actions:
        value = getattr(args, action.dest, None)
        values = value if isinstance(value, list) else [value]  # each of a repeatable one
        if action.dest not in _PATH_ARGS or not any(isinstance(v, str) and not v.strip()
                                                    for v in values):
            continue
        key = (args.command, action.dest)
        example = _PATH_EXAMPLES.get(key) or _PATH_EXAMPLES.get(action.dest, "path")
        kind = "folder" if key in _FOLDER_ARGS else "file"
        flag = next((o for o in action.option_strings if o.startswith("--")), None)
        if flag:
            raise UsageError(f"{flag} is empty: give a {kind} path, e.g. {flag} {example}")
        raise UsageError(f"the {action.dest} argument of `xlstsr {args.command}` is empty: "
                         f"give a {kind} path, e.g. {example}")


def _command_parser(parser: argparse.ArgumentParser, command: str) -> argparse.ArgumentParser:
    """The sub-parser of ``command`` (``xlstsr upscale``), whose errors point at its own help."""
    for action in parser._actions:
        if isinstance(action, argparse._SubParsersAction) and command in action.choices:
            return action.choices[command]
    return parser


def _no_stream(*paths: str | None) -> None:
    """``-`` (stdin/stdout) was read as a file name without a suffix ("cannot tell the format")."""
    if "-" in paths:
        raise UsageError("xlstsr reads and writes files, not stdin/stdout ('-'): give a file "
                         "path instead of '-' (e.g. lst.tif, sr.tif, scores.csv)")


def _unrecognized(parser: argparse.ArgumentParser, command: str, unknown: list[str]) -> NoReturn:
    """The refusal of arguments no parser took, saying where an option that is on the wrong
    side of the command goes: a global option after it (``xlstsr upscale ... -v``), or the
    command's option before it (``xlstsr --overwrite upscale ...``), which were both sent to
    ``xlstsr upscale --help`` (not listing -v, listing --overwrite)."""
    sub = _command_parser(parser, command)
    notes, rest, global_only = [], [], True
    for token in unknown:
        name = re.split(r"[= ]", token, maxsplit=1)[0]
        if name in ("-h", "--help") or not name.startswith("-"):
            rest.append(token)
        elif name == "--version":
            notes.append("`--version` is a global option: `xlstsr --version`")
        elif _option_action(parser, name) is not None:
            notes.append(f"`{name}` is a global option: put it before the command: "
                         f"`xlstsr {name} {command} ...`")
        elif _option_action(sub, name) is not None:
            global_only = False
            notes.append(f"`{name}` is an option of `xlstsr {command}`: put it after the "
                         f"command: `xlstsr {command} ... {token}`")
        else:
            rest.append(token)
    if not notes:
        sub.error(f"unrecognized arguments: {' '.join(unknown)}")
    text = "; ".join(notes)
    if rest:
        text = f"unrecognized arguments: {' '.join(rest)}; {text}"
    # the help that lists the misplaced option: `xlstsr --help` for -v, the command's for its own
    (parser if global_only and not rest else sub).error(text)


def _option_action(parser: argparse.ArgumentParser, token: str) -> argparse.Action | None:
    """The action of ``parser`` that ``token`` (``--opt``, ``--opt=value``) names, as argparse
    itself reads it: the exact option string, or a unique prefix of a long one
    (``--verb`` for ``--verbose``, its ``allow_abbrev``); None when it names none."""
    name = token.split("=", 1)[0]
    if name in parser._option_string_actions:
        return parser._option_string_actions[name]
    if not (name.startswith("--") and len(name) > 2 and parser.allow_abbrev):
        return None
    found = {id(a): a for o, a in parser._option_string_actions.items() if o.startswith(name)}
    return next(iter(found.values())) if len(found) == 1 else None


def _options_before_command(parser: argparse.ArgumentParser, argv: list[str]) -> None:
    """Refuse a command's options given before it (``xlstsr --crs EPSG:4326 upscale ...``: its
    value was read as the command, "invalid choice: 'EPSG:4326'"), saying where they go with
    their values. An option that takes a value in any command takes the next token as its value
    before the command is looked for (``xlstsr --variable demo upscale ...``: the command is
    ``upscale``, not ``demo``); the global options (abbreviated as argparse allows) stay."""
    commands = next((a.choices for a in parser._actions
                     if isinstance(a, argparse._SubParsersAction)), {})
    before: list[str] = []  # each option with the values that follow it
    at, i = None, 0
    while i < len(argv):
        token = argv[i]
        if token == "--":
            break
        if token.startswith("-") and not parser._negative_number_matcher.match(token):
            before.append(token)
            known = _option_action(parser, token)
            takes = ([known] if known is not None else
                     [a for a in map(lambda c: _option_action(c, token), commands.values()) if a])
            if "=" not in token and any(a.nargs != 0 for a in takes) and i + 1 < len(argv):
                i += 1
                before[-1] += f" {argv[i]}"
        elif token in commands:
            at = i
            break
        elif before:
            before[-1] += f" {token}"
        i += 1
    if at is None:
        return
    before = [t for t in before if _option_action(parser, t.split(" ", 1)[0]) is None]
    if before:
        _unrecognized(parser, argv[at], before)


def _crs_spans(args: argparse.Namespace, message: str) -> dict[str, tuple[bool, str] | None]:
    """For a refusal of an upscale / scaling / evaluate input without a CRS, that input's
    coordinates (:func:`_coordinate_span`), read again from its file: the refusal names only its
    dims."""
    m = _NO_CRS.search(message)
    if m is None or m.group(1) not in _CRS_FLAGS.get(args.command, {}):
        return {}
    if args.command == "evaluate":
        path, variable, flag, band = {
            "super-resolved field": (args.sr, args.variable, "--variable", None),
            "reference": (args.reference, args.reference_variable, "--reference-variable",
                          args.reference_band),
            "coarse LST": (args.coarse, args.coarse_variable, "--coarse-variable", None),
        }[m.group(1)]
        role = "reference" if m.group(1) == "reference" else "LST"
        return {m.group(1): _coordinate_span(path, variable, role, flag, band)}
    if m.group(1) == "guide":
        return {"guide": _coordinate_span(getattr(args, "guide", None),
                                          getattr(args, "guide_variable", None), "guide",
                                          "--guide-variable", getattr(args, "guide_band", None))}
    return {"LST": _coordinate_span(args.input, args.variable, "LST", "--variable",
                                    getattr(args, "band", None))}


def main(argv: list[str] | None = None) -> int:
    """Entry point of the ``xlstsr`` console script."""
    argv = list(sys.argv[1:] if argv is None else argv)
    parser = build_parser()
    _options_before_command(parser, argv)
    args, unknown = parser.parse_known_args(argv)
    if unknown:  # through the command's parser: `xlstsr --help` lists none of its options
        _unrecognized(parser, args.command, unknown)
    _expand_home(args)
    try:
        _refuse_empty_paths(parser, args)
        _decode_file_urls(args)
    except _user_errors() as err:  # (a file URL of another host: an XlstsrError)
        return _fail(str(err))
    if args.verbose:
        logging.basicConfig(format="xlstsr: %(message)s")
        log.setLevel(logging.INFO)
    commands = {"demo": _demo, "upscale": _upscale, "evaluate": _evaluate, "scaling": _scaling}
    typed = _typed_values(args)
    from xlstsr.guide import READ_GUIDE_EDGES

    # every command reads its --guide lazily (streamed) but its user chose no dask: a guide's
    # edges are read at once for the constant-border check a guide in memory gets (a warp's 0
    # border ran: upscale 7.7 K off, scaling's guide statistics changed)
    token = READ_GUIDE_EDGES.set(True)
    with _one_line_warnings(args.command, typed):
        try:
            if args.command == "train":
                try:
                    with _train_log_flags():
                        return _train(args, args.train_parser, argv)
                except _user_errors() as err:
                    if isinstance(err, ImportError) and _missing_dependency(err):
                        return _fail(str(_missing_dependency(err)))
                    return _fail(_train_hints(str(err) or type(err).__name__, typed))
            return commands[args.command](args)
        except _user_errors() as err:
            if isinstance(err, ImportError) and _missing_dependency(err):
                return _fail(str(_missing_dependency(err)))
            # with the error's notes (what became of the output: kept, left incomplete)
            notes = " ".join(str(n).removeprefix("upscale_to_zarr: ")
                             for n in getattr(err, "__notes__", ()))
            text = (str(err) or type(err).__name__) + (f" ({notes})" if notes else "")
            return _fail(_cli_hints(text, args.command, typed, _crs_spans(args, text)))
        except ImportError as err:  # a plain ImportError naming the package to install
            if _missing_dependency(err) is None:
                raise
            return _fail(str(_missing_dependency(err)))
        except _cluster_errors() as err:
            notes = " ".join(str(n).removeprefix("upscale_to_zarr: ")
                             for n in getattr(err, "__notes__", ()))
            out = str(getattr(args, "output", "") or "")
            # a .zarr left incomplete is completed by --resume; one removed is written anew
            resume = out.endswith(".zarr") and Path(out).exists()
            smaller = (" or pass smaller --chunks (e.g. 'time=1,y=512,x=512')"
                       if args.command == "upscale" else "")  # (the others have no --chunks)
            text = (
                f"the dask cluster lost the computation ({type(err).__name__}: "
                f"{str(err).split('. ')[0]}): a worker died, most often past its memory limit, "
                f"or the scheduler went. Give the workers more memory{smaller}, then run it "
                "again" + (" with --resume" if resume else "") + "."
                + (f" ({notes})" if notes else "")
            )
            return _fail(_cli_hints(text, args.command, typed))
        except KeyboardInterrupt:  # Ctrl-C: one line saying what was left, not a traceback
            print(f"xlstsr: interrupted{_interrupted_output(args)}", file=sys.stderr)
            return 130
        finally:
            READ_GUIDE_EDGES.reset(token)


if __name__ == "__main__":
    raise SystemExit(main())

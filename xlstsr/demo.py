"""The demo job behind ``make demo`` / ``xlstsr demo``, on real data embedded in the package.

1. Every method upscales a real MODIS 1 km LST scene by 4 (:func:`xlstsr.datasets.modis_aster_sample`,
   a pair the bundled weights were not trained on) and is scored against the near-simultaneous ASTER LST
   with the protocol that measures super-resolution: the ASTER field co-registered with the
   MODIS LST (:func:`xlstsr.estimate_offset`, once for all methods) and cleared of cloud edges
   (``evaluate(..., coregister=..., clear=True)``).
2. The user's main job: a MODIS LST time series (:func:`xlstsr.datasets.modis_sample`, 8 dates of
   MOD11A1) streamed into a Zarr store by :func:`xlstsr.upscale_to_zarr` with the best method
   that needs no 250 m guide (the series has none), with a progress bar.
3. A figure (input, methods, truth, error maps), a table and a recommendation.
"""

from __future__ import annotations

import json
import os
import time
import warnings
from dataclasses import dataclass, field
from pathlib import Path

from .coregister import apply_offset, estimate_offset
from .datasets import modis_aster_sample, modis_sample
from .datasets.modis_aster import ASTER_ERODE, ASTER_VALID_MIN, aster_truth_mask
from .engine import upscale_to_zarr
from .errors import GuideAlignmentWarning, XlstsrError
from .evaluate import evaluate, reference_mask
from .io.formats import check_writable
from .io.zarr import file_uri_path, holds_zarr_metadata
from .methods import available_methods, get_method
from .upscale import upscale
from .validate import check_whole

__all__ = ["DEMO_CANDIDATES", "DemoResult", "run_demo"]

#: Methods the demo compares on the real pair.
DEMO_CANDIDATES = ("bicubic", "tsharp", "dms", "sisr", "disr")


@dataclass
class DemoResult:
    """What :func:`run_demo` wrote and measured."""

    store: Path
    figure: Path
    table: Path
    best: str
    series_method: str
    scores: dict[str, dict[str, float]] = field(default_factory=dict)
    recommendation: str = ""

    def lines(self) -> list[str]:
        """The score table, one line per method (RMSE first)."""
        out = ["method    RMSE (K)  ubRMSE (K)  bias (K)  spectral ratio  time (s)"]
        for m, s in sorted(self.scores.items(), key=lambda kv: kv[1]["rmse"]):
            out.append(f"{m:9} {s['rmse']:8.2f}  {s['ubrmse']:10.2f}  {s['bias']:+8.2f}  "
                       f"{s['spectral_ratio']:14.2f}  {s['seconds']:8.2f}")
        return out


def _recommend(scores: dict[str, dict[str, float]], best: str, series: str,
               method: str | None = None) -> str:
    s = scores[best]
    base = scores.get("bicubic")
    facts = [f"{s['rmse']:.2f} K RMSE against co-registered ASTER"]
    if base and best != "bicubic":  # bicubic the best: "0.00 K below bicubic", itself
        facts.append(f"{base['rmse'] - s['rmse']:.2f} K below bicubic")
    if "spectral_ratio" in s:
        facts.append(f"spectral ratio {s['spectral_ratio']:.2f}")
    needs = get_method(best).needs_guide
    return (
        f"Recommended: `{best}` ({', '.join(facts)})"
        + (", with a 250 m NDVI guide. " if needs else ". ")
        + (f"The time series here has no 250 m guide: it was written with `{series}` ("
           + (f"`{method}`, asked for, needs a guide; " if method and method != series else "")
           + (f"the method asked for, {scores[series]['rmse']:.2f} K" if method == series
              else f"{scores[series]['rmse']:.2f} K, the best of the methods compared that "
              "need none")
           if method else
           f"Without a 250 m guide (the time series here), `{series}` scored best of the "
           f"methods that need none ({scores[series]['rmse']:.2f} K")
        + (f", bicubic {base['rmse']:.2f} K" if base and series != "bicubic" else "")
        + "). One scene and "
        "one date, on ground a training pair of the bundled models also covers: the benchmark "
        "over 35 held-out pairs, and over the 12 of them on ground no training pair covers, is "
        "docs/results/accuracy.md."
    )


def _local_folder(output: str | os.PathLike) -> Path:
    """The demo's output folder as a local path: a ``file://`` URL decoded, ``~`` expanded;
    another URL (``s3://b/demo``) refused, as the figure and the table are local files (``Path``
    made it a local folder ``s3:/b/demo``, the store included)."""
    local = file_uri_path(output)  # raises for another host's file URL
    if local is None and "://" in os.fspath(output):
        raise XlstsrError(
            f"output {os.fspath(output)} is a URL: the demo writes a folder of local files "
            "(lst_250m.zarr, demo.png, metrics.txt); pass a local folder, e.g. 'demo_output', "
            "then copy it there (e.g. `aws s3 cp --recursive`, `gsutil cp -r`, or fsspec's "
            "`put(..., recursive=True)`)"
        )
    return (local if local is not None else Path(output)).expanduser()


def check_output(output: str | os.PathLike) -> None:
    """The demo's output folder, checked before any work (a file or a Zarr store given as the
    folder failed only once every method was scored, with mkdir's raw FileExistsError), and
    the outputs in it that overwrite cannot replace: a ``lst_250m.zarr`` that is not a store
    the demo wrote (an empty folder is taken), a ``demo.png`` or ``metrics.txt`` that is a
    folder or a link (a link to a file elsewhere was written through). A URL other than
    ``file://`` is refused (given as text: a ``Path`` has lost its
    ``//``)."""
    out = _local_folder(output)
    if out.exists() and not out.is_dir():
        raise XlstsrError(f"output {out} is a file: the demo writes a folder of outputs "
                          "(lst_250m.zarr, demo.png, metrics.txt); pass a folder path")
    if holds_zarr_metadata(out):
        raise XlstsrError(f"output {out} is a Zarr store: the demo would write its outputs "
                          "into it; pass another folder")
    for parent in out.absolute().parents:
        if holds_zarr_metadata(parent):
            raise XlstsrError(f"output {out} lies inside the Zarr store {parent}: writing there "
                              "would change that store; pass a folder outside it")
    check_writable(out)  # a parent that is a file, a read-only folder: named, before any work
    # outputs the demo cannot replace, even with overwrite: they were refused only once every
    # method was scored (the store) or the store written (the figure), with advice for paths
    # the demo has no option for
    store = out / "lst_250m.zarr"
    not_ours = None
    if store.is_symlink() or (store.exists() and not store.is_dir()):
        not_ours = "a link or a file, not the Zarr store the demo writes"
    elif store.is_dir() and any(store.iterdir()) and not _demo_store(store):
        not_ours = ("a folder of other files, not a Zarr store the demo wrote"
                    if not holds_zarr_metadata(store) else "a Zarr store the demo did not write")
    if not_ours:
        raise XlstsrError(f"output {out} holds lst_250m.zarr, {not_ours}: overwriting would "
                          "delete it. Move it away, or pass another output folder "
                          "(`output=`, --output)")
    for name in ("demo.png", "metrics.txt"):
        if (out / name).is_symlink():
            # refused as the store's link is, not replaced: savefig and write_text followed it
            # and replaced the linked file outside the folder; deleting the link instead would
            # drop, unasked, a link the user made on purpose
            raise XlstsrError(f"output {out} holds {name}, a link (to {os.readlink(out / name)}): "
                              "the demo would write through it, replacing the file it links to; "
                              "move or delete the link, or pass another output folder "
                              "(`output=`, --output)")
        if (out / name).is_dir():
            raise XlstsrError(f"output {out} holds a folder {name}, where the demo writes its "
                              f"{'figure' if name == 'demo.png' else 'score table'} (a file): "
                              "move it away, or pass another output folder (`output=`, --output)")


def _demo_store(store: Path) -> bool:
    """True if ``store`` is a Zarr store of the demo's (upscale_to_zarr's record of its
    arguments, with the demo's variable): only those does overwrite replace."""
    try:
        meta = json.loads((store / "zarr.json").read_text())  # upscale_to_zarr writes Zarr v3
        return json.loads(meta["attributes"]["xlstsr_arguments"]).get("variable") == "lst"
    except (OSError, ValueError, KeyError, TypeError, AttributeError):
        return False  # no v3 metadata, or no record of upscale_to_zarr's: not the demo's


def run_demo(
    output: str | os.PathLike = "demo_output",
    *,
    method: str | None = None,
    overwrite: bool = False,
    progress: bool = True,
    n_times: int | None = None,
) -> DemoResult:
    """Run the demo: score the methods on a real pair, stream a real time series to Zarr.

    Parameters
    ----------
    output : path
        Output folder: ``lst_250m.zarr`` (the time series at 250 m), ``demo.png`` and
        ``metrics.txt``. A local folder (or a ``file://`` URL of one): another URL
        (``s3://...``) is refused.
    method : str, optional
        Compare only this method with bicubic (the baseline) and write the time series with
        it (a method that needs a guide cannot: the series has none, and bicubic writes it);
        default: compare :data:`DEMO_CANDIDATES`, the best scored of those that need no guide
        writes the series.
    overwrite : bool
        Replace the demo's existing outputs; otherwise any of the three already in
        ``output`` raises :class:`XlstsrError` and nothing is written.
    progress : bool
        Show the Zarr writer's progress bar.
    n_times : int, optional
        Stream only the first ``n_times`` dates of the series (a whole number from 1 to 8;
        default: all 8).

    Raises
    ------
    XlstsrError
        Before any work: ``method`` is not a registered method's name, ``n_times`` is not a
        whole number from 1 to the series' dates, ``output`` is a URL (not ``file://``), a
        file, a Zarr store or cannot be written, holds the demo's outputs without ``overwrite``, or holds what
        ``overwrite`` cannot replace (a ``lst_250m.zarr`` that is not a store the demo wrote,
        a ``demo.png`` or ``metrics.txt`` that is a folder or a link).

    Examples
    --------
    >>> import tempfile
    >>> res = run_demo(tempfile.mkdtemp(), method="bicubic", progress=False, n_times=1)
    >>> res.best, sorted(res.scores), bool(res.scores["bicubic"]["rmse"] < 4)
    ('bicubic', ['bicubic'], True)
    """
    from .plot import truth_maps

    if method is not None and (not isinstance(method, str) or method not in available_methods()):
        # checked before any work: a typo was refused only once the pair was loaded, the
        # offset estimated and bicubic scored (the CLI's choices guard only the command line)
        get_method(method)  # its refusal: the names available, a near miss, a model file
        raise XlstsrError(f"method must be a registered method's name, got "
                          f"{type(method).__name__} {method!r}: the demo scores methods by "
                          f"name; available: {available_methods()}")
    if n_times is not None:  # -1 streamed 7 of the 8 dates, 2.7 two, True one; 0 failed late
        n_times = check_whole("n_times", n_times, 1,
                              "how many of the series' first dates to stream, e.g. 1")
        n_all = modis_sample()["lst_day"].sizes["time"]  # lazy: the files' headers only
        if n_times > n_all:  # 20 wrote the 8 dates there are, as if asked for
            raise XlstsrError(f"n_times={n_times}, but the sample series has {n_all} dates: "
                              f"pass at most {n_all} (or leave it out for all).")
    if isinstance(output, (str, os.PathLike)) and not os.fspath(output).strip():
        # Path("") is the current folder: the three outputs landed there
        raise XlstsrError("output is empty: give a folder path, e.g. 'demo_output'")
    out = _local_folder(output)  # as the store and the figure are ("~" made a folder "~")
    check_output(out)
    store = out / "lst_250m.zarr"
    existing = [p for p in (store, out / "demo.png", out / "metrics.txt") if p.exists()]
    if existing and not overwrite:  # a user's own demo.png was replaced: only the store was checked
        raise XlstsrError(f"{', '.join(map(str, existing))} exist(s); pass overwrite=True "
                          "(--overwrite) to replace the demo's outputs, or another folder")
    lst, ndvi, aster = modis_aster_sample()
    truth = aster.where(aster_truth_mask(aster))
    offset = estimate_offset(truth, lst)  # once: every method meets the same truth
    available = available_methods()
    candidates = [method] if method else [m for m in DEMO_CANDIDATES if m in available]
    results, scores = {}, {}
    # one untimed call first: the first upscale pays the set-up every method shares (dask,
    # numba, rasterio), which was charged to bicubic, run first (0.17 s beside sisr's 0.05 s)
    upscale(lst, 4, "bicubic", mask_out_of_range=True).compute()
    for m in dict.fromkeys(["bicubic", *candidates]):
        guide = ndvi if get_method(m).needs_guide else None
        t0 = time.perf_counter()
        with warnings.catch_warnings():
            # this pair's NDVI is offset by 3 whole fine pixels from its LST (a quirk of the
            # source): the uncovered strip falls back to bicubic, as the warning says
            warnings.simplefilter("ignore", GuideAlignmentWarning)
            sr = upscale(lst, 4, m, guide, mask_out_of_range=True).compute()
        secs = time.perf_counter() - t0
        ev = evaluate(sr, aster, coarse=lst, erode=ASTER_ERODE, valid_min=ASTER_VALID_MIN,
                      coregister=offset, clear=True)
        scores[m] = {"rmse": float(ev.rmse), "ubrmse": float(ev.ubrmse), "bias": float(ev.bias),
                     "spectral_ratio": float(ev.spectral_ratio_sym), "seconds": secs}
        results[m] = sr
    best = min(scores, key=lambda m: scores[m]["rmse"])
    unguided = [m for m in scores if not get_method(m).needs_guide]
    # the method asked for writes the series (the best scored wrote it: --method nearest gave
    # a bicubic store); a guided one cannot (no 250 m guide for the daily series)
    series = (method if method and method in unguided
              else min(unguided, key=lambda m: scores[m]["rmse"]))

    out.mkdir(parents=True, exist_ok=True)
    cube = modis_sample()["lst_day"]
    if n_times is not None:
        cube = cube.isel(time=slice(0, n_times))
    upscale_to_zarr(cube.rename("lst"), store, 4, series, mode="w" if overwrite else "w-",
                    progress=progress)
    figure = out / "demo.png"
    # the truth drawn masked as evaluate masked it for the scores in the titles (clear=True:
    # cloud edges too): the error maps showed ~155 cloud-edge pixels off by 10-25 K that the
    # scores leave out ("disr 1.45 K" over a map of RMSE 1.88 K)
    scored = aster.where(reference_mask(aster, erode=ASTER_ERODE, valid_min=ASTER_VALID_MIN,
                                        clear=True))
    truth_maps(lst, results, apply_offset(scored, offset, lst.rio.crs), path=figure,
               scores={m: f"{s['rmse']:.2f} K" for m, s in scores.items()},
               title="MODIS 1 km -> 250 m on a held-out MODIS/ASTER pair (002), scored against "
                     "co-registered ASTER without cloud edges")
    res = DemoResult(store=store, figure=figure, table=out / "metrics.txt", best=best,
                     series_method=series, scores=scores,
                     recommendation=_recommend(scores, best, series, method))
    res.table.write_text("\n".join([*res.lines(), "", res.recommendation, ""]))
    return res

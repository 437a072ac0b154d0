"""The demo job behind ``make demo`` / ``xlstsr demo``: every method on the sample scene, scored.

Upscales the embedded synthetic scene (:func:`xlstsr.datasets.sample_scene`) with each
candidate method, scores it against the scene's 250 m truth with :func:`xlstsr.evaluate`,
streams the best one into Zarr through the resumable writer
(:func:`xlstsr.upscale_to_zarr`) and draws a comparison figure.
"""

from __future__ import annotations

import os
import time
from dataclasses import dataclass, field
from pathlib import Path

from .datasets import sample_scene
from .engine import upscale_to_zarr
from .errors import XlstsrError
from .evaluate import evaluate
from .methods import available_methods, get_method
from .upscale import upscale

__all__ = ["DEMO_CANDIDATES", "DemoResult", "run_demo"]

#: Methods the demo compares on the sample scene; it keeps the one closest to the truth.
DEMO_CANDIDATES = ("bicubic", "tsharp", "dms", "sisr", "disr")


@dataclass
class DemoResult:
    """What :func:`run_demo` wrote and measured."""

    store: Path
    figure: Path
    table: Path
    best: str
    scores: dict[str, dict[str, float]] = field(default_factory=dict)

    def lines(self) -> list[str]:
        """One line per method: RMSE, bias and run time."""
        return [
            f"{m}: RMSE {s['rmse']:.3f} K, bias {s['bias']:+.3f} K, {s['seconds']:.2f} s"
            for m, s in self.scores.items()
        ]


def run_demo(
    output: str | os.PathLike = "demo_output",
    *,
    method: str | None = None,
    overwrite: bool = False,
    progress: bool = False,
) -> DemoResult:
    """Run the demo: score the candidate methods, write the best one's Zarr store and a figure.

    Parameters
    ----------
    output : path
        Output folder: ``lst_250m.zarr``, ``demo.png`` and ``metrics.txt``.
    method : str, optional
        Run only this method (and bicubic, the baseline); default: :data:`DEMO_CANDIDATES`.
    overwrite : bool
        Replace existing outputs; otherwise an existing store raises :class:`XlstsrError` and
        nothing is written.
    progress : bool
        Show the Zarr writer's progress bar.

    Examples
    --------
    >>> import tempfile
    >>> res = run_demo(tempfile.mkdtemp(), method="bicubic")
    >>> res.best, sorted(res.scores)
    ('bicubic', ['bicubic'])
    """
    from .plot import comparison

    out = Path(output)
    store = out / "lst_250m.zarr"
    if store.exists() and not overwrite:
        raise XlstsrError(f"{store} exists; pass overwrite=True (--overwrite) to replace it")
    scene = sample_scene()
    lst, truth, ndvi = scene["lst_1km"], scene["lst_250m"], scene["ndvi_250m"]
    available = available_methods()
    candidates = [method] if method else [m for m in DEMO_CANDIDATES if m in available]
    results, scores = {}, {}
    for m in dict.fromkeys(["bicubic", *candidates]):
        guide = ndvi if get_method(m).needs_guide else None
        t0 = time.perf_counter()
        sr = upscale(lst.chunk({"time": 1}), 4, m, guide).compute()
        secs = time.perf_counter() - t0
        ev = evaluate(sr, truth, coarse=lst)
        scores[m] = {"rmse": float(ev.rmse.mean()), "bias": float(ev.bias.mean()), "seconds": secs}
        results[m] = sr
    best = min(candidates, key=lambda m: scores[m]["rmse"])
    out.mkdir(parents=True, exist_ok=True)
    guide = ndvi if get_method(best).needs_guide else None
    upscale_to_zarr(
        lst.rename("lst").chunk({"time": 1}), store, 4, best, guide,
        mode="w" if overwrite else "w-", progress=progress,
    )
    figure = out / "demo.png"
    shown = {m: results[m] for m in dict.fromkeys(["bicubic", best])}
    comparison(lst, shown, truth, path=figure,
               title="xlstsr demo on the synthetic sample scene (time 0)")
    res = DemoResult(store=store, figure=figure, table=out / "metrics.txt", best=best,
                     scores={m: scores[m] for m in dict.fromkeys(["bicubic", *candidates])})
    res.table.write_text("\n".join(res.lines()) + f"\nbest: {best}\n")
    return res

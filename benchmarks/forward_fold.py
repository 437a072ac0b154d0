"""Co-registration speed: the Fourier forward model with its row fold against the whole-field
inverse FFT it replaced, side by side on the real MODIS/ASTER pairs.

Every candidate shift of ``xlstsr.estimate_offset``'s Nelder-Mead refinement (and of its
uncertainty) predicts the coarse field: the fine field is shifted and blurred in the Fourier
domain, cropped, and block-averaged onto the coarse grid. The crop and the block mean along y
are a factor per row frequency and a fold of the spectrum onto the coarse rows, so the inverse
FFT along y runs on ``factor`` times fewer rows, and the one along x on the coarse rows only
(``_Forward.__call__``; the same values to round-off). The "before" side is the same estimator
with the fold switched off (``_Forward._row_fold = None``: the whole padded field's inverse FFT,
the code path kept for paddings the fold does not fit). Two uses: ASTER onto the MODIS LST with
the PSF estimated (``estimate_offset``'s default), and the pair's NDVI onto it with a box PSF
(what ``upscale`` measures of a guide before using it). A B B A per pair, so that load
drifting during the run weighs on both alike. Reported: wall and CPU seconds, their ratio, the
peak of numpy's allocations (tracemalloc) and the largest difference between the two sides'
estimates (metres; numerical noise).

Usage: ``python benchmarks/forward_fold.py [--out docs/results] [--smoke]`` (about 4 min on 2
cores: the 35 evaluation pairs; ``--smoke``: the central 32 x 32 km of one pair, each side
once, a test of the code path).
"""

from __future__ import annotations

import contextlib
from typing import Any

from xlstsr.datasets import aster_truth_mask, open_modis_aster_pair
from xlstsr.kernels import coregister as kc

#: use -> estimate_offset's keywords
USES = {"ASTER onto MODIS, PSF estimated": {}, "NDVI onto MODIS, box PSF": {"psf": False}}


@contextlib.contextmanager
def unfolded() -> Any:
    """The forward model as it was: every candidate's inverse FFT on the whole padded field."""
    init = kc._Forward.__init__

    def whole_field(self: Any, *args: Any, **kwargs: Any) -> None:
        init(self, *args, **kwargs)
        self._row_fold = None

    kc._Forward.__init__ = whole_field
    try:
        yield
    finally:
        kc._Forward.__init__ = init


def measure(pairs: list[str], smoke: bool) -> dict[str, dict[str, Any]]:
    from coregistration import side_by_side, summarise  # a sibling script

    rows: dict[str, list[dict[str, Any]]] = {use: [] for use in USES}
    for pid in pairs:
        lst, ndvi, aster = open_modis_aster_pair(pid)
        if smoke:  # the central 32 x 32 km of the pair: the code path, in seconds
            lst = lst.isel(y=slice(16, 48), x=slice(16, 48))
            bounds = lst.rio.bounds()
            aster = aster.rio.clip_box(*bounds, crs=lst.rio.crs)
            ndvi = ndvi.rio.clip_box(*bounds, crs=lst.rio.crs)
        aster = aster.where(aster_truth_mask(aster))
        lst.load(), ndvi.load(), aster.load()
        for use, options in USES.items():
            fine = aster if "ASTER" in use else ndvi
            rows[use].append({"pair": pid, **side_by_side(f"{use} {pid}", fine, lst, unfolded,
                                                          smoke, **options)})
    return {use: summarise(rs) for use, rs in rows.items()}


def render(res: dict[str, dict[str, Any]], seconds: float, smoke: bool) -> str:
    from coregistration import page  # a sibling script

    return page(
        "Co-registration speed: the forward model's row fold vs the whole-field inverse FFT",
        "forward_fold.py", smoke, seconds,
        "`xlstsr.estimate_offset(fine, lst)` on each shared evaluation pair (ASTER "
        "truth-masked), the fold on and off in turn (A B B A per pair); sums over the runs.",
        "use", res,
        "The fold speeds up each evaluation of the Fourier model (the refinement, the "
        "uncertainty, the choice of the pixels compared); the grid search is separable matrix "
        "products (`benchmarks/coregistration.py`) and is unchanged.")


def main(argv: list[str] | None = None) -> int:
    from coregistration import run  # a sibling script

    return run(argv, "forward_fold.py", __doc__.splitlines()[0], "the centre of one pair, each "
               "side once: a test of the code path", measure, render)


if __name__ == "__main__":
    from xlstsr.datasets.root import exit_on_missing_data

    exit_on_missing_data(main, __file__)  # missing data: one line naming the fix

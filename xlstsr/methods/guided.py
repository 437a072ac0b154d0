"""The frame shared by the classical guided sharpeners (TsHARP, DMS).

Per image: a prediction of the fine LST from the guide, an optional detail gain, then residual
correction and radiometric conservation. Subclasses implement :meth:`GuidedSharpener.predict`.
"""

from __future__ import annotations

from typing import Any

import numpy as np

from ..errors import GridError, GuideAlignmentWarning, GuideCoverageError, XlstsrError, warn
from ..kernels.interp import cubic_upsample, fill_gaps
from ..kernels.sharpen import bicubic_fallback, residual_correct, roundoff_constant
from .base import UpscaleMethod

__all__ = ["GuidedSharpener"]

_RESIDUALS = ("nearest", "bicubic", "none")


def _require_guide(name: str, guide: np.ndarray | None) -> np.ndarray:
    if guide is None:
        raise GuideCoverageError(
            f"method {name!r} needs a fine guide (e.g. NDVI at 250 m): pass `guide=ndvi` to "
            "xlstsr.upscale, or a (n, c, y*factor, x*factor) array to upscale_block."
        )
    return np.asarray(guide)


class FlatAtLstScale(Exception):
    """Raised by :meth:`GuidedSharpener.predict` when the guide's aggregates onto the LST grid
    are constant up to float32 round-off over the training pixels (a guide with detail inside the
    LST's pixels but none between them): no LST-guide law can be fitted at the LST scale. The
    sharpener then upscales that image without the guide and warns with :attr:`reason`."""

    def __init__(self, reason: str) -> None:
        super().__init__(reason)
        self.reason = reason


def flat_at_lst_scale(scale: np.ndarray, coarse: np.ndarray, factor: int) -> None:
    """Raise :class:`FlatAtLstScale` when every column of ``coarse`` (n training pixels, k: the
    block means of k fine regressors) is constant up to float32 round-off of fine values of
    size ``scale`` (k,) (:func:`fine_scale`, :func:`~xlstsr.kernels.sharpen.roundoff_constant`).
    """
    scale = np.asarray(scale, dtype=np.float64)
    spread = np.std(coarse, axis=0) if len(coarse) else np.zeros(len(scale))
    if len(scale) and roundoff_constant(spread, scale).all():
        raise FlatAtLstScale(
            f"the guide's block means on the LST grid (its {factor} x {factor} averages) vary "
            f"only at float32 round-off over the {len(coarse)} clear pixels (spread "
            f"{float(spread.max()):.2g} against values of size {float(scale.max()):.2g}): it "
            "has detail inside the LST's pixels but none between them, so there is no LST-guide "
            "law to fit at the LST scale. A detail layer (a band minus its own block mean) "
            "cannot guide a regression: give the band itself (e.g. NDVI), or use "
            "method='bicubic' to silence this."
        )


def fine_scale(feats: np.ndarray) -> np.ndarray:
    """RMS of each fine regressor (k, Y, X) over its finite pixels: the size of the values whose
    float32 round-off the block means carry (a detail layer has a block mean ~ 0)."""
    ok = np.isfinite(feats)
    sq = np.sum(np.where(ok, feats * feats, 0.0), axis=(-2, -1))
    return np.sqrt(sq / np.maximum(ok.sum(axis=(-2, -1)), 1))


def _usable_samples(lst: np.ndarray, valid: np.ndarray, guide: np.ndarray, factor: int) -> int:
    """Coarse pixels of one image a regression can train on: clear (``valid``, finite) and under
    a guide block valid in every fine pixel and band (the sharpeners' training pixels,
    :func:`~xlstsr.kernels.sharpen.block_stats`)."""
    ny, nx = np.shape(lst)
    g = np.isfinite(np.asarray(guide)).all(axis=0)[: ny * factor, : nx * factor]
    full = g.reshape(ny, factor, nx, factor).all(axis=(1, 3))
    return int((np.asarray(valid, bool) & full & np.isfinite(lst)).sum())


#: Said after the count of a warning of :meth:`GuidedSharpener.upscale_block`: on a dask input
#: (or an in-memory one with a ``tile=`` that splits it) the engine calls it once per time
#: chunk, and each chunk counts (and warns) on its own ("1 of 1 image(s)" per chunk of one
#: step), which the method cannot see past without a compute of the whole cube.
_CALL_COUNT = ("counted per engine task: the whole stack in memory, one time chunk of a "
               "dask input or of a tiled run, each chunk counting and warning on its own; "
               "images without a clear pixel not counted")


def constant_in_blocks(guide: np.ndarray, valid: np.ndarray, factor: int) -> bool:
    """Whether a guide (c, Y, X) is constant, in every band, within each ``factor`` x ``factor``
    block of the training pixels (``valid`` coarse pixels whose guide block is complete), with
    at least one of them: a coarser product resampled onto the fine grid by nearest neighbour
    (each 1 km value repeated), no detail below the LST's resolution.

    Block rows are compared in strips and the first block with detail ends the scan: a guide
    with detail costs one strip, a blocky one a pass of comparisons.

    Examples
    --------
    >>> g = np.arange(4.0).reshape(1, 2, 2).repeat(2, 1).repeat(2, 2)  # 2 x 2 blocks of 4 values
    >>> constant_in_blocks(g, np.ones((2, 2), bool), 2)
    True
    >>> g[0, 0, 0] += 0.5
    >>> constant_in_blocks(g, np.ones((2, 2), bool), 2)
    False
    """
    g = np.asarray(guide)
    valid = np.asarray(valid, dtype=bool)
    ny, nx = valid.shape
    c = g.shape[0]
    seen = False
    step = 16  # block rows per strip
    for r0 in range(0, ny, step):
        r1 = min(r0 + step, ny)
        b = g[:, r0 * factor : r1 * factor, : nx * factor].reshape(c, r1 - r0, factor, nx, factor)
        train = valid[r0:r1] & np.isfinite(b).all(axis=(0, 2, 4))
        if not train.any():
            continue
        same = (b == b[:, :, :1, :, :1]).all(axis=(0, 2, 4))
        if (train & ~same).any():
            return False
        seen = True
    return seen


#: Bytes per fine pixel and image of the result stack :meth:`GuidedSharpener.upscale_block`
#: fills (float64) and of the engine's float32 copy of it.
RESULT_BYTES = 8 + 4


def _available_memory() -> int | None:
    """Bytes of memory available now: psutil's reading (it comes with dask.distributed), else
    Linux's MemAvailable; None where neither tells (the working-set check is then skipped: a
    guessed figure refused calls that fit, and passed ones that did not)."""
    try:
        import psutil

        return int(psutil.virtual_memory().available)
    except ImportError:
        pass
    try:
        with open("/proc/meminfo") as f:
            for line in f:
                if line.startswith("MemAvailable:"):
                    return int(line.split()[1]) * 1024
    except OSError:
        pass
    return None


def block_guide(method: GuidedSharpener, lst: Any, guide: Any, factor: int) -> Any:
    """The guide of ``upscale_block`` checked against the LST stack (n, y, x): (n, c, y *
    factor, x * factor), or (1, c, ...) for every image (broadcast here, as the engine does).
    Other shapes were bare IndexError / ValueError from inside the fit."""
    name = method.recorded_name()
    shape = np.shape(lst)
    if len(shape) != 3:
        raise XlstsrError(
            f"{type(method).__name__}.upscale_block takes a stack of coarse images (n, y, x), "
            f"got an LST of shape {shape}: add the leading axis (`lst[None]`), or use "
            "sharpen() for one image"
        )
    if guide is None:  # GuidedSharpener.upscale_block names it
        return guide
    n, ny, nx = shape
    want = (ny * factor, nx * factor)
    g = np.asarray(guide)
    if g.ndim != 4 or g.shape[0] not in (1, n) or g.shape[2:] != want:
        hint = ""
        if g.ndim == 3 and g.shape[1:] == want:
            hint = (f": the {g.shape[0]} leading entries look like images or bands without the "
                    "other axis; add the channel axis (`guide[:, None]` for one band per "
                    "image)")
        elif g.ndim == 2 and g.shape == want:
            hint = ": one band of one image, give it as `guide[None, None]`"
        every = f", or (1, c, {want[0]}, {want[1]}) for every image" if n > 1 else ""
        raise GuideCoverageError(
            f"the guide of method {name!r} (upscale_block) must be (n, c, y * {factor}, x * "
            f"{factor}) = ({n}, c, {want[0]}, {want[1]}) (images, guide bands, fine rows, "
            f"fine columns){every}; got shape {g.shape}{hint}"
        )
    return np.broadcast_to(g, (n, *g.shape[1:])) if g.shape[0] != n else g


def one_value_under(guide: np.ndarray, train: np.ndarray, factor: int) -> None:
    """Raise :class:`~xlstsr.methods.guided.FlatAtLstScale` naming the value when every band of
    the fine guide (c, Y, X) holds one value under all the training pixels ``train`` (ny, nx):
    an undeclared fill (0 over a tile's missing part), or a single usable pixel of a flat
    block. Its block means are flat too, and the round-off check's text (a detail layer: "give
    the band itself (e.g. NDVI)") was given for an NDVI with a fill."""
    train = np.asarray(train, dtype=bool)
    ny, nx = train.shape
    n = int(train.sum())
    if not n:
        return
    g = np.asarray(guide)[:, : ny * factor, : nx * factor]
    blocks = g.reshape(g.shape[0], ny, factor, nx, factor).transpose(0, 1, 3, 2, 4)[:, train]
    lo = blocks.min(axis=(1, 2, 3))
    if not (lo == blocks.max(axis=(1, 2, 3))).all():
        return
    values = ", ".join(f"{v:.6g}" for v in lo)
    where = "the one clear pixel" if n == 1 else f"every one of the {n} clear pixels"
    mask = (f"`guide.where(guide != {values})`" if len(lo) == 1 else
            "`guide.where(guide != value)` per band")
    raise FlatAtLstScale(
        f"the guide holds one value ({values}) in all its {factor} x {factor} fine pixels under "
        f"{where} the fit could use (LST clear, guide block complete), so there is no LST-guide "
        "law to fit. Most likely an undeclared fill (a tile's missing part, a water or no-data "
        f"code): declare it as the file's nodata or mask it ({mask}); or the clear LST lies "
        "where the guide is truly uniform. Use method='bicubic' to silence this."
    )


def check_working_set(method: Any, n: int, ny: int, nx: int, n_bands: int, factor: int) -> None:
    """Refuse a call of ``upscale_block`` whose working memory cannot fit in the memory
    available: the result stack (:data:`RESULT_BYTES` per fine pixel and image) and one image's
    scene-wide fit (``method.work_bytes_per_pixel(n_bands)``: ~70-100 bytes per fine pixel,
    ~20x the float32 output; the output-size guards let 4800 x 4800 LST through at factor 4,
    which needed ~31 GB). The advice keeps the fit scene-wide where one image fits (one image
    per task), else splits the area."""
    px = ny * nx * factor * factor
    one = method.work_bytes_per_pixel(n_bands) * px
    need = n * RESULT_BYTES * px + one
    avail = _available_memory()
    if avail is None or need <= avail:
        return
    gib = 1024**3
    name = method.recorded_name()
    head = (f"method {name!r} fits each image whole (a scene-wide regression) and would need "
            f"about {need / gib:.1f} GiB of memory for {n} image(s) of {ny * factor} x "
            f"{nx * factor} fine pixels ({one / gib:.1f} GiB for one image's fit, "
            f"{RESULT_BYTES * px / gib:.2f} GiB per result image), {avail / gib:.1f} GiB "
            "available")
    if n > 1 and RESULT_BYTES * px + one <= avail:
        raise GridError(
            head + ": give a dask input of one image per task (`lst.chunk({'time': 1})`, "
            "and a guide with a time dim alike) and stream the result with "
            "`xlstsr.upscale_to_zarr`, or upscale fewer steps at a time (`lst.isel(time="
            "slice(0, k))`); on the command line, `--chunks time=1` with a .zarr output."
        )
    parts = int(np.ceil(np.sqrt((one + RESULT_BYTES * px) / max(avail, 1)))) + 1
    raise GridError(
        head + f": one image does not fit. Upscale the area in parts of about 1/{parts**2} of "
        f"it (e.g. {parts} x {parts} windows, `lst.isel(y=slice(0, {-(-ny // parts)}), x="
        f"slice(0, {-(-nx // parts)}))` and the others, one step per task), each fitted on its "
        "own, or use a spatially local method that runs in tiles ('bicubic', 'sisr', 'disr')."
    )


class GuidedSharpener(UpscaleMethod):
    """Frame shared by the regression sharpeners; subclasses implement :meth:`predict`.

    Per image: ``pred = predict(...)`` (the guide-driven fine LST, NaN where it cannot say),
    NaN filled with bicubic, the fine detail ``pred - bicubic`` scaled by the detail gain,
    then :func:`~xlstsr.kernels.sharpen.residual_correct` (coarse residual added back,
    radiometric aggregate conserved if asked).

    The **detail gain** (``gain``, in [0, 1]) is 1 for the published methods; smaller values
    shrink the guide-driven detail towards the bicubic field (0 gives bicubic made
    conservative). On real MODIS/ASTER pairs, where NDVI explains only part of the 250 m LST
    structure, a gain below 1 lowers the RMSE; on scenes where the law holds it costs accuracy.
    """

    guided = True
    spatially_local = False

    residual: str = "bicubic"
    conserve: bool = True
    gain: float = 1.0
    #: set (on the copy :func:`xlstsr.upscale` runs) when the guide's alignment already advised
    #: against a guide not finer than the LST: the check of its content does not say it again.
    #: Not an option: :meth:`describe` (provenance, resume fingerprints) leaves it out
    _guide_warned_coarse: bool = False

    @staticmethod
    def _check_common(residual: str, gain: float) -> float:
        if residual not in _RESIDUALS:
            raise XlstsrError(f"residual must be one of {_RESIDUALS}, got {residual!r}")
        v = gain.item() if isinstance(gain, np.generic) else gain
        if isinstance(v, (str, bool)) or not isinstance(v, (int, float)) or not 0.0 <= v <= 1.0:
            # None raised float()'s TypeError; True passed as 1
            raise XlstsrError(f"gain must be a number in [0, 1], got {gain!r}")
        return float(v)

    def predict(
        self, lst: np.ndarray, valid: np.ndarray, guide: np.ndarray, factor: int
    ) -> np.ndarray | None:
        """Guide-driven fine LST (Y, X) of one image (NaN allowed), or None if it cannot fit."""
        raise NotImplementedError

    def work_bytes_per_pixel(self, n_bands: int) -> int:
        """Peak bytes per fine pixel of one image's fit on ``n_bands`` guide bands (the
        working-set check, :func:`check_working_set`); each sharpener measures its own, this
        default is the order of TsHARP's and DMS's (float64 features and predictions)."""
        return 8 * 12

    def upscale_block(self, lst, valid, guide, factor):
        guide = block_guide(self, lst, guide, factor)  # (a guide of another shape: named)
        guide = _require_guide(self.recorded_name(), guide)
        check_working_set(self, *np.shape(lst), guide.shape[1], factor)
        out = np.empty((lst.shape[0], lst.shape[1] * factor, lst.shape[2] * factor))
        unguided: list[int] = []  # usable coarse pixels of each image fitted without the guide
        flat: list[str] = []  # why the guide of each image had no law at the LST scale
        blocky = 0  # images whose guide is constant within every LST pixel
        for i in range(lst.shape[0]):  # one scene-wide fit per image (time step)
            out[i], why = self._sharpen(lst[i], valid[i], guide[i], factor)
            if why is None and constant_in_blocks(guide[i], valid[i], factor):
                blocky += 1
            if why == "samples":
                unguided.append(_usable_samples(lst[i], valid[i], guide[i], factor))
            elif why is not None:
                flat.append(why)
        if unguided:
            # a small or cloudy image: documented, but a time series would otherwise lose its
            # sharpening on some dates without a word (output still labelled with the method)
            warn(self._fallback_message(unguided, lst.shape[0], factor, guide.shape[1]),
                 UserWarning)
        if blocky and not self._guide_warned_coarse:
            # a 1 km product resampled onto the fine grid: the guide's own pixel size passes
            # the alignment's check, its content says it (a guide given at 1 km is warned about
            # there, in the same words: upscale then sets _guide_warned_coarse)
            warn(
                f"method {self.recorded_name()!r}: the guide is constant within every LST "
                f"pixel in {blocky} of {lst.shape[0]} image(s) ({_CALL_COUNT}), a coarser "
                "product resampled onto the fine grid (e.g. by nearest neighbour): it holds no "
                "detail below the LST's resolution, so a guided method only adds the guide's "
                "block edges (the result is no better than bicubic). Give a guide at the output "
                "resolution, e.g. 250 m NDVI (MOD09GQ) rather than a 1 km product (MOD13A2), or "
                "use method='bicubic' / 'sisr'.",
                GuideAlignmentWarning,
            )
        if flat:
            warn(
                f"method {self.recorded_name()!r}: {len(flat)} of {lst.shape[0]} image(s) "
                f"({_CALL_COUNT}) were upscaled without the guide (bicubic, with the residual "
                f"correction): {flat[0]}",
                UserWarning,
            )
        return out

    def terms_floor(self, n_bands: int) -> int:
        """Fewest usable coarse pixels the fit itself needs on ``n_bands`` guide bands, whatever
        ``min_samples`` (a regression: its terms + 2); 1 by default."""
        return 1

    def min_fit_samples(self, n_bands: int) -> int:
        """Fewest usable coarse pixels a fit on ``n_bands`` guide bands needs: the larger of
        ``min_samples`` and :meth:`terms_floor`."""
        return max(int(getattr(self, "min_samples", 1) or 1), self.terms_floor(n_bands))

    def _fewer_terms_advice(self, usable: int, n_bands: int) -> str | None:
        """Options that bring :meth:`terms_floor` down to ``usable`` pixels, or None."""
        return None

    def _fallback_message(self, usable: list[int], n: int, factor: int, n_bands: int = 1) -> str:
        """Why ``len(usable)`` of ``n`` images were upscaled without the guide, and the fix that
        can work for them: a lower ``min_samples`` only helps where it is what the usable
        pixels miss (advised with none, or below the regression's own floor of its terms + 2,
        it was followed and the same warning came back)."""
        need = getattr(self, "min_samples", None)
        floor = self.min_fit_samples(n_bands)
        own = self.terms_floor(n_bands)
        lo, hi = min(usable), max(usable)
        count = f"{lo}" if lo == hi else f"{lo} to {hi}"
        needs = f"min_samples={need if need else '?'}"
        if need is not None and floor > need:
            needs += f", and the fit needs at least {floor}"
        msg = (
            f"method {self.recorded_name()!r}: {len(usable)} of {n} image(s) had too few "
            f"clear coarse pixels under a full guide to fit ({count} usable, {needs}; "
            f"images {_CALL_COUNT}): they were upscaled without the guide (bicubic, with the "
            "residual correction). A coarse pixel is usable where the LST is clear and its "
            f"whole {factor} x {factor} guide block is valid, in every band."
        )
        if hi == 0:  # nothing to fit whatever min_samples: the guide's gaps are the cause
            return msg + (
                " No clear coarse pixel has a complete guide block: fill the guide's small gaps "
                "(a composite of several dates, or an interpolation, e.g. "
                "`guide.interpolate_na('x', limit=2)`), or use method='disr', which fills small "
                "guide gaps itself."
            )
        if need is not None and hi >= own:  # min_samples is what they miss
            return msg + (
                " Pass a larger area, fill the guide's gaps, or a lower `min_samples` in "
                f"method_options (e.g. min_samples={hi}; a fit on fewer pixels is noisier)."
            )
        fewer = self._fewer_terms_advice(hi, n_bands)
        return msg + (
            f" {self._terms_text(n_bands)}: "
            + (f"{fewer}; or " if fewer else "")
            + "pass a larger area, or fill the guide's gaps (a composite of several dates, or an "
            "interpolation)."
        )

    def _terms_text(self, n_bands: int) -> str:
        """How many pixels the fit's terms need, in words (for the fallback warning)."""
        return f"The fit needs at least {self.terms_floor(n_bands)} usable pixels"

    def sharpen(
        self, lst: np.ndarray, valid: np.ndarray | None, guide: np.ndarray, factor: int
    ) -> np.ndarray:
        """Sharpen one gap-filled image with its guide; returns (Y, X) float64.

        Parameters
        ----------
        lst : ndarray, (y, x)
            Coarse LST (K), gaps filled; NaN pixels are gaps, filled here as
            :func:`xlstsr.upscale` fills them (:func:`~xlstsr.kernels.interp.fill_gaps`) and
            NaN again in the output (their ``factor`` x ``factor`` blocks).
        valid : ndarray of bool, (y, x), or None
            Where ``lst`` was observed (the fit trains there only); None: every finite pixel.
        guide : ndarray, (c, Y, X) or (Y, X)
            Fine guide bands, ``Y = y * factor`` and ``X = x * factor``; a 2-D array is one band.
        factor : int
            Upscaling factor.

        Returns
        -------
        ndarray, (Y, X)
            The sharpened image (float64), NaN on the blocks of ``lst``'s gaps.

        Notes
        -----
        Unlike :meth:`upscale_block` it does not warn when the image falls back to bicubic, nor
        when the guide is constant within every LST pixel (:func:`constant_in_blocks`).
        """
        lst = np.asarray(lst, dtype=np.float64)
        if lst.ndim != 2:
            raise XlstsrError(
                f"{type(self).__name__}.sharpen takes one coarse image (y, x), got an array of "
                f"shape {lst.shape}: for a stack (n, y, x) use upscale_block, or "
                "xlstsr.upscale for a DataArray"
            )
        guide = np.asarray(_require_guide(self.recorded_name(), guide), dtype=np.float64)
        want = (lst.shape[0] * factor, lst.shape[1] * factor)
        if guide.ndim == 2:
            guide = guide[None]  # one band (Y, X)
        if guide.ndim != 3 or guide.shape[-2:] != want:
            raise GuideCoverageError(
                f"the guide of {type(self).__name__}.sharpen must be (c, {want[0]}, {want[1]}) "
                f"(bands, LST y * {factor}, LST x * {factor}) or one band ({want[0]}, "
                f"{want[1]}), got shape {guide.shape}"
            )
        gaps = ~np.isfinite(lst)
        if valid is None:
            valid = ~gaps
        else:
            valid = np.asarray(valid, dtype=bool)
            if valid.shape != lst.shape:
                raise XlstsrError(
                    f"valid must be a boolean mask of the LST's shape {lst.shape} (or None: "
                    f"every finite pixel observed), got shape {valid.shape}"
                )
            valid = valid & ~gaps
        if not gaps.any():
            return self._sharpen(lst, valid, guide, factor)[0]
        if gaps.all():  # nothing observed to fill from (the engine skips such an image)
            return np.full(want, np.nan)
        # NaN gaps unfilled spread over the 4 x 4 coarse neighbourhood (the bicubic and the
        # cubic residual): filled as the engine fills them, then NaN again in their own blocks
        out = self._sharpen(fill_gaps(lst, int(self.halo(factor))), valid, guide, factor)[0]
        out[np.repeat(np.repeat(gaps, factor, axis=0), factor, axis=1)] = np.nan
        return out

    def _sharpen(
        self, lst: np.ndarray, valid: np.ndarray, guide: np.ndarray, factor: int
    ) -> tuple[np.ndarray, str | None]:
        """:meth:`sharpen`, and why the guide was not used: None (it was), ``"samples"`` (too
        few samples to fit) or the reason of a :class:`FlatAtLstScale`."""
        lst = np.asarray(lst, dtype=np.float64)
        valid = np.asarray(valid, dtype=bool)
        guide = np.asarray(guide, dtype=np.float64)
        bic = cubic_upsample(lst, factor)
        why = None
        try:
            pred = self.predict(lst, valid, guide, factor)
        except FlatAtLstScale as err:
            pred, why = None, err.reason
        fallback = None
        if pred is None:
            pred = bic
            why = why or "samples"
        else:
            fallback = ~np.isfinite(pred)  # no guide there: bicubic, as the warnings say
            pred = bicubic_fallback(pred, lst, factor)
            if self.gain != 1.0:
                pred = bic + self.gain * (pred - bic)
        # the residual from the observed pixels only: the filled gaps' invented LST stays out of
        # the clear pixels beside them
        return residual_correct(pred, lst, factor, residual=self.residual, conserve=self.conserve,
                                fixed=fallback, valid=valid), why

"""Scale-invariance correction of super-resolved LST by a within-block variance law (numpy).

The per-image law and correction; :func:`xlstsr.correction.apply_scale_correction` maps
:func:`correct_stack` over (dask) stacks for ``xlstsr.upscale(..., scale_correction=...)``.

The law
-------
Coarse-graining LST by factors of two removes, at each step ``s -> 2s`` (``s`` in pixels of the
input grid), a **within-block variance** ``w(s)`` (see :func:`xlstsr.scaling_stats`). Over the
observed scales (the input resolution and up: 1, 2, 4... km for MODIS) it is fitted as a power
law ``w(s) = w_1 s^alpha``. A super-resolution step by ``f`` must restore
``W = sum_{j=1..log2 f} w(2^-j)``: the within-block variance of the fine field over ``f x f``
blocks (the steps add up by the law of total variance: exactly for plain means, within about
2 % for the radiometric aggregates of LST).

Below the input resolution the law is **extrapolated** (``s < 1``). Scale invariance is the
assumption that ``alpha`` stays the same; a guide observed at the fine resolution (NDVI at
250 m) tells how its own exponent changes below the LST resolution, and the LST exponent below
is shifted by the same amount (``alpha_below = alpha_LST + alpha_guide_below -
alpha_guide_above``): the guide's change of scaling is taken as a proxy of the surface's. A
guide coarser than the output, interpolated onto its grid, is read from two of its own pixels
up only (``guide_pixel`` of :func:`fit_variance_law`): read below, the interpolation's
smoothness passed for the guide's (a 250 m NDVI at factor 8 restored a third of the variance
factor 4 restores with it; a 240 m Landsat NDVI for a 120 m output 0.53 K² against 4.8 in the
truth, now 2.6 from the LST's law alone).

The correction
--------------
The method's injected detail ``D = SR - B`` (``B``: bicubic upsampling of the input; only the
part of ``D`` with zero mean in each coarse block) is scaled by one gain ``g >= 0`` per image so
that the within-block variance of ``B + g D`` equals the predicted ``W`` (a quadratic in ``g``),
then the coarse residual is put back blockwise so that the radiometric aggregate equals the
input again (coarse consistency). This holds at every gain, 1 included (as for a fixed gain,
below): a gain of exactly 1 used to return the method's output as it was and 0.999 a conserved
one (5.5 K apart for the default ``disr``, which carries a learned offset at the input scale),
so one option gave coarse-consistent and unconserved images in the same series. The output of
every image the law was fitted on is therefore coarse-consistent with the input, whatever its
gain: any offset the method added at the input scale is removed. ``scale_correction="auto"``
only damps (``g <= 1``): measured on real truth, amplifying a method's detail to the predicted
variance raised RMSE (the detail is only partly right: the RMSE-optimal gain is
``rho sigma_true / sigma_detail``, below the variance-matching one), while damping
over-injected detail lowered both RMSE and the spectral mismatch. A method whose output already
carries the predicted variance keeps its detail (``g = 1``, made coarse-consistent only) - in
particular the exact fine field of a process whose within-block law is an exact power law is
left unchanged. Two cases are returned exactly as the method made them, in every mode (a fixed
gain too): a method that injects no detail (bicubic: nothing to rescale; nearest:
block-constant, its block edges are no detail), and an image the law could not be fitted on
(below).

Support of the law
------------------
Each step's within-block variance is a mean over the ``2 x 2`` blocks of that step, and one
block's variance scatters as much as the mean itself (coefficient of variation 1.0-1.4 per
block on the real MODIS/ASTER pairs; 0.82 for Gaussian noise), so a step is fitted only with
:data:`MIN_LAW_DOF` degrees of freedom (the valid pixels of its blocks less one per block; a
clear block has 3), and the law only on at least :data:`MIN_LAW_STEPS` such steps (fewer only
where the image's size allows fewer: 16-31 pixels a side give 2). Otherwise it is not fitted (NaN)
and the correction leaves the image as the method made it, with a warning: on a 90 % cloudy
scene the few blocks left at the coarse steps moved the predicted variance from 0.6 to
14.5 K² with the cloud pattern (clear sky 3.6). A clear image is always fitted.

A fixed gain
------------
``scale_correction=g`` (a number) multiplies the method's within-block detail by ``g`` with no
law fitted, then restores coarse consistency (an image of a method that adds no detail is left
as it is, as in the law modes). Measured (docs/results/scale_invariance.md,
docs/results/one_level_up.md; ground and dates never trained on): a SISR network trained one
octave-pair up injects more detail at the target scale than its skill supports, and the gain
:func:`optimal_detail_gain` calibrates with fine truth on *other* ground (the training half of
the ECOSTRESS scenes; the training windows of the MODIS cube) closes 94 % of the RMSE gap to the
same network trained at the target scale on ECOSTRESS (1.12 km -> 280 m;
docs/results/scale_invariance.md, quoted in docs/index.md) and all of it on MODIS (4 -> 1 km:
111 %, docs/results/one_level_up.md). Where it fails: it is one model's and one scale pair's
(recalibrate after retraining, per day and night); it makes the output smoother (spectral
mismatch |ratio - 1| +64 % and +32 % on those two pages: it trades spectrum for RMSE, as the
target-scale model does); the gains
scatter with the ground (0.15-0.26 by day between the two ECOSTRESS halves); it needs fine
truth somewhere. A gain derived from the variance law alone (the ``law_shift`` ``sqrt(k)``, ``k``
the departure of the within-block variance below the input pixel from the law's extrapolation)
closes only 2 % on ECOSTRESS and 39 % on MODIS: ``k`` scatters from about 0.5 to 1.4 between
scenes, and the amount of detail worth injecting is set by the model's skill, not by the field.

Assumptions and failure modes (see docs/results/scaling.md for measurements): one power law per
image over the observed steps (few points on small images: the fitted exponent is uncertain);
the guide's change of exponent transfers to LST (it does not where LST fine structure is not
driven by the guide: water, topography, soil moisture); the gain is global per image (spatially
uniform); methods that inject no detail (bicubic, ``D = 0``; nearest, constant in each block)
cannot be corrected: they are left as they are.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

import numpy as np

from ..errors import GridError, XlstsrError
from .aggregate import (
    block_mean,
    block_moments,
    conserve_radiometric,
    crop_to_multiple,
    within_block_covariance,
    within_block_variance,
)
from .interp import cubic_upsample, fill_gaps, nearest_upsample
from .scaling import coarse_graining, fit_power_law

__all__ = [
    "MIN_LAW_DOF",
    "MIN_LAW_STEPS",
    "SCALE_CORRECTIONS",
    "VarianceLaw",
    "check_law_applicable",
    "check_mode",
    "correct_image",
    "correct_stack",
    "detail_gain",
    "fit_variance_law",
    "optimal_detail_gain",
    "rescale_detail",
    "split_detail",
]

SCALE_CORRECTIONS = ("auto", "law", "law-lst")


def check_mode(mode: str | float) -> str | float:
    """``mode`` if it is one of :data:`SCALE_CORRECTIONS` or a fixed detail gain (a finite number
    >= 0, returned as float), else an :class:`~xlstsr.errors.XlstsrError` (a ValueError) naming them.

    Examples
    --------
    >>> check_mode("auto"), check_mode(0.8)
    ('auto', 0.8)
    """
    if isinstance(mode, (int, float, np.number)) and not isinstance(mode, bool):
        if not np.isfinite(mode):  # "must be >= 0, got inf" read as if inf were too small
            raise XlstsrError(f"a fixed detail gain (scale_correction) must be a finite number "
                              f">= 0 (1: the method's detail unchanged), got {mode!r}")
        if mode < 0:
            raise XlstsrError(f"a fixed detail gain (scale_correction) must be >= 0, got {mode!r}")
        return float(mode)
    if mode not in SCALE_CORRECTIONS:
        raise XlstsrError(
            f"scale_correction must be one of {SCALE_CORRECTIONS}, a detail gain >= 0 or None, "
            f"got {mode!r}"
        )
    return mode


def check_law_applicable(
    mode: str | float | None, factor: int, shape: tuple[int, ...], *, advice: str | None = None
) -> None:
    """Refuse, before any work, a law mode (:data:`SCALE_CORRECTIONS`) the coarse LST of
    ``shape`` (..., y, x) at ``factor`` cannot be corrected with: the law restores variance in
    steps of 2 (:meth:`VarianceLaw.restore`), so the factor must be a power of two, and it is
    fitted on at least two coarse steps (:func:`fit_variance_law`: 16 x 16 pixels or more). A
    fixed gain (a number) or None passes. ``advice`` ends the message (default: a fixed detail
    gain or None); raises :class:`~xlstsr.errors.GridError`.

    Examples
    --------
    >>> check_law_applicable("auto", 4, (2, 64, 64))
    >>> check_law_applicable(0.8, 3, (2, 8, 8))                # a fixed gain fits no law
    >>> check_law_applicable("law", 3, (2, 64, 64))  # doctest: +ELLIPSIS
    Traceback (most recent call last):
    ...
    xlstsr.errors.GridError: scale_correction='law' restores the variance law in steps of 2, ...
    """
    if not isinstance(mode, str):
        return
    if advice is None:
        advice = ("pass a fixed detail gain instead (scale_correction=0.8, calibrated with "
                  "xlstsr.correction.calibrate_detail_gain) or None")
    if factor & (factor - 1):
        # the law adds within-block variances of steps by 2 (round(log2 f) of them): at factor 3
        # it silently restored the variance of factor 4
        # the factors it takes named, and which methods take them: its fixed-gain advice,
        # followed with sisr at factor 3, was refused in turn (the model takes 4 only)
        lo = 1 << (int(factor).bit_length() - 1)
        raise GridError(
            f"scale_correction={mode!r} restores the variance law in steps of 2, so the factor must "
            f"be a power of two (2, 4, 8...), not {factor}; {advice}. Or upscale by {lo} or "
            f"{2 * lo} with it: the bundled 'sisr' and 'disr' models take factor 4 only (a fixed "
            f"gain at factor {factor} too), 'tsharp' and 'dms' (with a guide) any factor."
        )
    if len(shape) >= 2 and _max_steps(tuple(shape)) < 2:  # fit_variance_law's own refusal
        raise GridError(
            f"a {shape[-2]} x {shape[-1]} LST image is too small to fit the within-block variance "
            f"law of scale_correction={mode!r} (at least 16 x 16 pixels); {advice}, or give a "
            "larger area"
        )


@dataclass(frozen=True)
class VarianceLaw:
    """``w(s) = w1 * s^alpha`` for ``s >= 1``; ``w1 * s^alpha_below`` below (``s`` in input px)."""

    w1: float
    alpha: float
    alpha_below: float

    def within(self, s: float) -> float:
        """Within-block variance of the step ``s -> 2s``."""
        a = self.alpha if s >= 1 else self.alpha_below
        return float(self.w1 * s**a)

    def restore(self, factor: int) -> float:
        """Within-block variance over ``factor x factor`` blocks a factor-``factor`` step restores."""
        n = round(np.log2(factor))
        return float(sum(self.within(2.0**-j) for j in range(1, n + 1)))

    @property
    def scale_invariant(self) -> bool:
        return bool(np.isclose(self.alpha, self.alpha_below))


#: fewest degrees of freedom a step of the law is fitted on: a ``2 x 2`` block with ``k`` valid
#: level-``s`` pixels gives ``k - 1`` (its variance is about its own mean), a clear block 3. A
#: step's within-block variance is a mean of block variances, known (chi-square) to
#: ``sqrt(2 / d)`` for Gaussian detail and to about 1.5 times that for real LST, whose block
#: variances scatter more (coefficient of variation 1.0-1.4 per clear block on the MODIS/ASTER
#: pairs, against 0.82). At 32 that is +-37 %: about what the law itself is worth below the
#: input pixel (its departure there scatters from 0.5 to 1.4 between scenes), so a step with
#: less support adds more error than it removes. A clear image always passes: its coarsest step
#: has at least 4 x 4 whole blocks (:func:`_max_steps`), 48. Counting blocks instead let a step
#: of 20 blocks of two valid pixels each through (20 degrees of freedom): their variance
#: scattered by a factor 5 with the cloud pattern.
MIN_LAW_DOF = 32
#: fewest supported steps the law is fitted on (fewer only where the image's size allows fewer:
#: 16-31 pixels a side give 2, the documented small-image case). Through two points the line is
#: exact, with no residual to judge it by, and extrapolated to the steps a factor 4 restores
#: (1/2 and 1/4 of the input pixel) the predicted variance carries 2.9 times one step's sampling
#: error in log; through three (1, 2, 4) 1.9 times. With the few blocks clouds left, one scene's
#: exponent ranged from -1.4 to 1.1 (clear sky -0.4).
MIN_LAW_STEPS = 3
#: relative tolerance on the side of the guide's pixel (:func:`fit_variance_law`'s
#: ``guide_pixel``): :func:`xlstsr.grid.align_guide`'s for a pixel mapped from another CRS
_PIXEL_TOLERANCE = 1.02
#: the side (in output pixels) from which a guide counts as interpolated onto the output grid
#: (:func:`fit_variance_law`): a guide a few % coarser (a 250 m NDVI reprojected for a 232 m
#: output, 1.03-1.08) holds its own detail at the two-pixel step; restricted from 2 % coarser,
#: such a guide lost its whole shift below (the law jumped on a 3 % change of its pixel)
_INTERPOLATED_GUIDE = 1.5
#: smallest valid fraction of a level-``s`` pixel (as :func:`coarse_graining` aggregates)
_LEVEL_MIN_VALID = 0.5


def _steps_within(a: np.ndarray, nsteps: int, radiometric: bool) -> np.ndarray:
    """Within-block variances of steps 1, 2, ..., 2^(nsteps-1) (pixels of ``a``)."""
    factors = [2**j for j in range(nsteps + 1)]
    return coarse_graining(a, factors, min_valid=_LEVEL_MIN_VALID,
                           radiometric=radiometric)[2][:nsteps]


def _steps_dof(a: np.ndarray, nsteps: int) -> np.ndarray:
    """Degrees of freedom of each step's within-block variance (:func:`_steps_within`): the sum
    over its ``2 x 2`` blocks of the valid level-``s`` pixels less one, blocks with at least two
    (those :func:`within_block_variance` averages); a level-``s`` pixel is valid where
    :func:`coarse_graining` aggregates one (a fraction ``_LEVEL_MIN_VALID`` of it valid)."""
    valid = np.where(np.isfinite(np.asarray(a, np.float64)), 1.0, np.nan)
    out = np.zeros(nsteps, dtype=int)
    for j in range(nsteps):
        f = 2**j
        c = crop_to_multiple(valid, f)
        if f > 1:  # block_mean and radiometric_mean share the rule: it depends on the count
            c = block_mean(c, f, min_valid=_LEVEL_MIN_VALID)
        n = block_moments(crop_to_multiple(c, 2), 2)[0]
        out[j] = int((n[n >= 2] - 1).sum())
    return out


def _supported(a: np.ndarray, nsteps: int) -> np.ndarray:
    """Which steps of :func:`_steps_within` rest on :data:`MIN_LAW_DOF` degrees of freedom."""
    return _steps_dof(a, nsteps) >= MIN_LAW_DOF


def _max_steps(shape: tuple[int, ...], min_blocks: int = 4) -> int:
    n = min(shape[-2:])
    k = 0
    while n // (2 ** (k + 1)) >= min_blocks:
        k += 1
    return k


def fit_variance_law(
    lst: np.ndarray,
    factor: int,
    guide: np.ndarray | None = None,
    *,
    max_steps: int | None = None,
    guide_pixel: float = 1.0,
) -> VarianceLaw:
    """Fit the within-block variance law of a coarse LST image (and shift it below with a guide).

    Parameters
    ----------
    lst : ndarray (y, x)
        The coarse LST (Kelvin, NaN gaps).
    factor : int
        The super-resolution factor (power of two).
    guide : ndarray (y * factor, x * factor), optional
        A fine guide (NDVI...). Its exponent below the LST pixel (steps ``1/factor .. 1/2``) minus
        its exponent above (steps ``1, 2, ...``) is added to the LST exponent below.
    max_steps : int, optional
        Number of coarse steps fitted (default: all with at least 4 x 4 blocks).
    guide_pixel : float, default 1.0
        The side of the guide's own pixel in fine pixels (:func:`xlstsr.guide.guide_pixel`):
        above 1 for a guide coarser than the output, interpolated onto the fine grid. From
        1.5 (:data:`_INTERPOLATED_GUIDE`; a guide a few % coarser is read as a native one) its
        steps are read only from pixels of two guide pixels up (to 2 %, the tolerance of a
        pixel mapped from another CRS): finer steps hold the interpolation's smoothness, not
        the guide's. Where that leaves no step below the LST's pixel (at factor 4, any guide
        read as interpolated) no step is shifted (``alpha_below = alpha``, as
        ``"law-lst"``).

    Returns
    -------
    VarianceLaw
        All NaN (not fitted: the correction leaves the image as it is, with a warning) when
        fewer than :data:`MIN_LAW_STEPS` steps (or all ``max_steps``, when fewer) rest on
        :data:`MIN_LAW_DOF` degrees of freedom each (a clear image's coarsest step has 48): the
        few blocks clouds leave do not determine the law. Steps with less support are left
        out of the fit, the guide's too. A clear image is always fitted.

    Examples
    --------
    >>> rng = np.random.default_rng(0)
    >>> law = fit_variance_law(300 + rng.standard_normal((64, 64)), 4)
    >>> round(law.alpha), law.scale_invariant       # white noise: w(s) ~ s^-2
    (-2, True)
    """
    n = _max_steps(lst.shape) if max_steps is None else max_steps
    if n < 2:
        raise GridError(
            f"a {lst.shape[-2]} x {lst.shape[-1]} LST image is too small to fit the within-block "
            "variance law of the scale correction (at least 16 x 16 pixels); pass "
            "scale_correction=None or a larger area."
        )
    ok = _supported(lst, n)
    if ok.sum() < min(MIN_LAW_STEPS, n):  # cloud: not fitted (NaN), see MIN_LAW_* for why
        return VarianceLaw(np.nan, np.nan, np.nan)
    w = _steps_within(lst, n, True)
    s = 2.0 ** np.arange(n)
    alpha, c, _, _ = fit_power_law(s[ok], w[ok])
    alpha_below = alpha
    if guide is not None and np.isfinite(guide).sum() > 16:
        nf = round(np.log2(factor))
        ng = _max_steps(guide.shape)
        wg = _steps_within(guide, ng, False)
        sg = 2.0 ** np.arange(ng) / factor  # in coarse pixels
        okg = _supported(guide, ng)  # a cloudy guide's steps as the LST's
        # a guide interpolated onto the fine grid holds its own detail from two of its pixels
        # up: read below that (MODIS/ASTER pairs 1, 2, 15, a 250 m NDVI interpolated onto the
        # 125 m grid of factor 8) alpha_below was 1.5/1.6/1.2 against 0.1/0.2/-0.2 from the
        # NDVI on its own grid at factor 4; from its own pixel up (the step between one and two
        # of its pixels, which the interpolation smooths) still 0.7/0.8/0.4; from two -0.0/0.2/-0.2
        if guide_pixel >= _INTERPOLATED_GUIDE:
            okg &= 2.0 ** np.arange(ng) * _PIXEL_TOLERANCE >= 2.0 * guide_pixel
        below, above = (sg < 1) & okg, (sg >= 1) & okg
        if nf >= 1 and below.sum() >= 1 and above.sum() >= 2:
            a_up = fit_power_law(sg[above], wg[above])[0]
            if below.sum() >= 2:
                a_lo = fit_power_law(sg[below], wg[below])[0]
            else:  # one step below: its slope to the first step above
                a_lo = (np.log(wg[above][0]) - np.log(wg[below][-1])) / np.log(2.0)
            if np.isfinite(a_lo) and np.isfinite(a_up):
                alpha_below = alpha + (a_lo - a_up)
    return VarianceLaw(float(np.exp(c)), float(alpha), float(alpha_below))


def detail_gain(
    base: np.ndarray, detail: np.ndarray, factor: int, target: float, *, max_gain: float = 4.0
) -> float:
    """Gain ``g`` with ``within_var(base + g detail) = target`` (closest achievable, in [0, max]).

    Examples
    --------
    >>> b = np.zeros((4, 4)); d = np.tile([[1.0, -1.0], [-1.0, 1.0]], (2, 2))
    >>> detail_gain(b, d, 2, 4.0)
    2.0
    """
    # block (co)variances over the pixels valid in both
    valid = np.isfinite(base) & np.isfinite(detail)
    b, d = np.where(valid, base, np.nan), np.where(valid, detail, np.nan)
    vb = within_block_variance(b, factor)
    cbd = within_block_covariance(b, d, factor)
    vd = within_block_variance(d, factor)
    # no detail to rescale (bicubic, nearest: float round-off only): leave the output as it is
    if not np.isfinite(target) or _no_detail(vb, vd):
        return 1.0
    disc = cbd**2 - vd * (vb - target)
    g = (-cbd + np.sqrt(disc)) / vd if disc >= 0 else -cbd / vd
    g = float(np.clip(g, 0.0, max_gain))
    return 1.0 if abs(g - 1.0) < 1e-9 else g


def _no_detail(vb: float, vd: float) -> bool:
    """Whether a within-block detail variance ``vd`` is float round-off only (bicubic, nearest)
    next to the base's ``vb``: no detail for a gain to rescale."""
    return not np.isfinite(vd) or vd <= 1e-8 + 1e-6 * max(vb, 0.0)


def _adds_no_detail(sr: np.ndarray, base: np.ndarray, detail: np.ndarray, factor: int) -> bool:
    """Whether ``sr`` carries no within-block detail of a method (:func:`_no_detail`): none off
    the bicubic ``base`` (bicubic) or none within its own blocks (nearest: block-constant)."""
    valid = np.isfinite(base) & np.isfinite(detail)
    vb = within_block_variance(np.where(valid, base, np.nan), factor)
    return _no_detail(vb, within_block_variance(np.where(valid, detail, np.nan), factor)) or (
        _no_detail(vb, within_block_variance(np.where(valid, sr, np.nan), factor)))


def split_detail(
    sr: np.ndarray, lst: np.ndarray, factor: int
) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """``sr = base + bm + detail``: bicubic of the input, the detail's block means, the rest.

    ``base`` is the Keys-cubic upsampling of the (gap-filled) coarse input, ``bm`` the block
    means of ``sr - base`` replicated over each block (the coarse information the method added),
    ``detail`` the rest: the part with zero mean in every block, the only one a gain rescales.

    Examples
    --------
    >>> lst = 300 + np.random.default_rng(0).standard_normal((8, 8))
    >>> sr = cubic_upsample(lst, 2) + np.tile([[0.5, -0.5], [-0.5, 0.5]], (8, 8))
    >>> base, bm, detail = split_detail(sr, lst, 2)
    >>> float(np.abs(bm).max()), float(np.abs(detail).max())
    (0.0, 0.5)
    """
    base = cubic_upsample(fill_gaps(lst, max(lst.shape)), factor)
    d = sr - base
    # only the part of the detail with zero block mean is rescaled: block means (the coarse
    # information) stay as the method made them
    bm = nearest_upsample(block_mean(d, factor, min_valid=1e-9), factor)
    bm = np.where(np.isfinite(bm), bm, 0.0)
    return base, bm, d - bm


def rescale_detail(
    base: np.ndarray, bm: np.ndarray, detail: np.ndarray, gain: float, lst: np.ndarray, factor: int
) -> np.ndarray:
    """``base + bm + gain * detail`` (the parts of :func:`split_detail`), made coarse-consistent
    with ``lst`` again (:func:`~xlstsr.kernels.aggregate.conserve_radiometric`)."""
    return conserve_radiometric(base + bm + gain * detail, lst, factor)


def optimal_detail_gain(images: Any, factor: int) -> float:
    """The RMSE-optimal gain of a method's detail pooled over images with fine truth.

    For ``(sr, lst, truth)`` triples (fine SR, its coarse input, fine truth on the SR's grid):
    ``sum <d e> / sum <d d>``, ``d`` the within-block detail of :func:`split_detail` and ``e`` the
    truth minus the rest of ``sr``, clipped at 0 (1.0 when no image has detail: a mean square
    below 1e-8 K², the threshold of :func:`detail_gain`, is float round-off). Calibrate it
    where fine truth exists (e.g. ECOSTRESS or ASTER scenes) and pass it to
    ``xlstsr.upscale(..., scale_correction=gain)`` elsewhere: the gain a model trained one
    octave-pair up needs at the target scale (docs/results/scale_invariance.md). It is a
    property of one model and one pair of scales: recalibrate after retraining.

    Examples
    --------
    >>> rng = np.random.default_rng(0)
    >>> truth = 300 + rng.standard_normal((32, 32))
    >>> lst = block_mean(truth, 4)
    >>> base, bm, detail = split_detail(truth, lst, 4)
    >>> sr = base + bm + 2.0 * detail                   # twice the true detail
    >>> round(optimal_detail_gain([(sr, lst, truth)], 4), 3)
    0.5
    """
    num = den = 0.0
    n = 0
    for sr, lst, truth in images:
        base, bm, detail = split_detail(np.asarray(sr, np.float64), np.asarray(lst, np.float64),
                                        factor)
        e = np.asarray(truth, np.float64) - base - bm
        ok = np.isfinite(detail) & np.isfinite(e)
        num += float((detail[ok] * e[ok]).sum())
        den += float((detail[ok] ** 2).sum())
        n += int(ok.sum())
    # bicubic's float32 output left ~1e-5 K of round-off "detail": a gain of 112 came back
    return max(num / den, 0.0) if den > 1e-8 * n else 1.0


def correct_image(
    sr: np.ndarray,
    lst: np.ndarray,
    factor: int,
    guide: np.ndarray | None = None,
    *,
    mode: str | float = "auto",
    law: VarianceLaw | None = None,
    max_gain: float | None = None,
    return_info: bool = False,
    guide_pixel: float = 1.0,
) -> Any:
    """Correct one super-resolved image ``sr`` (Y, X) of the coarse ``lst`` (y, x).

    ``mode``:

    - ``"auto"``: law shifted below by the guide (when given), gain capped at 1 ("shrink
      only": detail is damped where the method injects more within-block variance than the law
      predicts, never amplified - amplifying also amplifies the part of the detail that is
      wrong, see docs/results/scaling.md);
    - ``"law"``: the same law, gain in [0, 4] (full variance matching);
    - ``"law-lst"``: the LST law extrapolated as it is (guide ignored), gain in [0, 4];
    - a number ``g >= 0``: a fixed detail gain, no law fitted (e.g. the ``law_shift`` gain
      ``sqrt(k)`` of a departure from scale invariance ``k`` measured on other ground with fine
      truth: ``benchmarks/scale_invariance.py``, docs/results/scale_invariance.md); the output
      is made coarse-consistent with ``lst`` at every gain, 1 included (continuous in ``g``),
      but for an image of a method that injects no detail (below).

    In the law modes too the output is made coarse-consistent with ``lst`` at every gain, 1
    included (``"auto"`` when the method injects no more than the law predicts: its detail is
    kept, any offset it added at the input scale removed), so the output is continuous in the
    gain and every image of a series is the same product. Returned as the method made them, in
    every mode: an image whose method injects no detail (bicubic: nothing to rescale; nearest:
    constant in each block, its edges no detail to amplify) and, in the law modes, one whose law
    could not be fitted (too few clear blocks, :func:`fit_variance_law`; its ``target`` is
    NaN and :func:`correct_stack` reports it).

    ``guide_pixel``: the side of the guide's own pixel in pixels of ``sr``'s grid (above 1 for
    a guide interpolated onto it), see :func:`fit_variance_law`.
    ``law`` overrides the fitted law and ``max_gain`` the mode's cap. With ``return_info`` also
    returns ``{"gain", "target", "injected", "alpha", "alpha_below", "w1"}``.
    """
    mode = check_mode(mode)
    sr = np.asarray(sr, np.float64)
    lst = np.asarray(lst, np.float64)
    info: dict[str, float] = {}
    if not np.isfinite(lst).any():
        return (sr, info) if return_info else sr
    base, bm, detail = split_detail(sr, lst, factor)
    # a method that adds no detail is left as it made it in every mode: bicubic (no detail
    # off the base) changed by 3.8 K under a fixed gain, 1 included (coarse consistency block
    # by block adds block edges), and nearest (block-constant: its "detail" is the base's
    # slopes with the sign flipped) by 14.5 K under "law", which amplified its block edges
    nothing = _adds_no_detail(sr, base, detail, factor)
    if isinstance(mode, float):  # a fixed detail gain: no law
        # made coarse-consistent at every gain, 1 included: a gain of 1 returned the method's
        # output as it was and 1 + 1e-9 a conserved one (0.97 K apart for sisr), so a
        # calibrated gain near 1 jumped
        if nothing:
            out = sr
        else:
            out = rescale_detail(base, bm, detail, mode, lst, factor)
        out = np.where(np.isfinite(sr), out, np.nan)
        info = {"gain": 1.0 if nothing else mode, "injected": within_block_variance(sr, factor)}
        return (out, info) if return_info else out
    if law is None:
        g2d = None
        if guide is not None and mode != "law-lst":
            g2d = np.asarray(guide, np.float64)
            if g2d.ndim == 3:
                g2d = g2d[0]
        law = fit_variance_law(lst, factor, g2d, guide_pixel=guide_pixel)
    target = law.restore(factor)
    cap = max_gain if max_gain is not None else (1.0 if mode == "auto" else 4.0)
    gain = 1.0 if nothing else detail_gain(base, detail, factor, target, max_gain=cap)
    out = sr
    if np.isfinite(target) and not nothing:
        # conserved at every gain, 1 included, as the fixed-gain branch: `if gain != 1` returned
        # the method's output at 1 and a conserved one at 0.999 (5.5 K apart for disr), so
        # "auto" conserved 2 of 8 real scenes and left 6 as the method made them
        out = rescale_detail(base, bm, detail, gain, lst, factor)
    out = np.where(np.isfinite(sr), out, np.nan)
    info = {
        "gain": gain,
        "target": target,
        "injected": within_block_variance(sr, factor),
        "alpha": law.alpha,
        "alpha_below": law.alpha_below,
        "w1": law.w1,
    }
    return (out, info) if return_info else out


def correct_stack(
    sr: np.ndarray, lst: np.ndarray, guide: np.ndarray | None, factor: int,
    mode: str | float = "auto", *, unfitted: list[int] | None = None, guide_pixel: float = 1.0,
) -> np.ndarray:
    """:func:`correct_image` over a stack: ``sr`` (n, Y, X), ``lst`` (n, y, x), ``guide``
    (n | 1, c, Y, X), (n | 1, Y, X) or None (first channel used); output in ``sr``'s dtype.
    ``unfitted``, a list, receives the indices of the images with data whose law could not be
    fitted (too few clear blocks): those are left as the method gave them. ``guide_pixel``: the
    side of the guide's own pixel in pixels of ``sr``'s grid (:func:`fit_variance_law`).

    Examples
    --------
    >>> lst = 300 + np.random.default_rng(0).standard_normal((2, 32, 32))
    >>> sr = cubic_upsample(lst, 4)                 # bicubic injects no detail: left as it is
    >>> bool(np.array_equal(correct_stack(sr, lst, None, 4), sr))
    True
    """
    out = np.empty(sr.shape, dtype=sr.dtype)
    for i in range(sr.shape[0]):
        g = None
        if guide is not None:
            g = guide[i if guide.shape[0] > 1 else 0]
            g = g[0] if g.ndim == 3 else g
        out[i], info = correct_image(sr[i], lst[i], factor, g, mode=mode, return_info=True,
                                     guide_pixel=guide_pixel)
        if (unfitted is not None and isinstance(mode, str) and np.isfinite(lst[i]).any()
                and not np.isfinite(info.get("target", np.nan))):
            unfitted.append(i)
    return out

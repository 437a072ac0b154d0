"""Training data: input/target pairs, patches cut with xbatcher, splits by scene.

Arrays here are numpy stacks ``(n, Y, X)`` (LST, Kelvin, NaN gaps) and ``(n, c, Y, X)`` (guides);
:class:`PatchSet` holds the patches as torch tensors for :func:`xlstsr.train.fit`.

Examples
--------
>>> import numpy as np
>>> lst = 300 + np.random.default_rng(0).normal(0, 2, (4, 32, 32)).astype("float32")
>>> ps = make_patches(**degraded_pairs(lst, 4), factor=4, patch=16, stride=16)
>>> len(ps), tuple(ps.lst.shape[1:]), tuple(ps.target.shape[1:])
(16, (1, 4, 4), (1, 16, 16))
>>> train, val = split_by_scene(ps, val_scenes=[3])
>>> len(train), len(val), sorted(set(val.scene.tolist()))
(12, 4, [3])
"""

from __future__ import annotations

import math
from collections.abc import Iterable, Sequence
from dataclasses import dataclass
from typing import Any

import numpy as np
import torch
import xarray as xr

from ..errors import AllNaNError, GridError, InputTypeError, XlstsrError, warn
from ..kernels.aggregate import block_mean, gaussian_psf, radiometric_mean
from ..kernels.interp import fill_gaps, nearest_upsample
from ..validate import check_factor, check_kelvin_array, check_number, check_whole

__all__ = [
    "PatchSet",
    "cut_scenes",
    "degraded_pairs",
    "fit_guide_gain",
    "make_patches",
    "split_by_scene",
    "target_scale_pairs",
]


def _numbers(a: Any, name: str) -> np.ndarray:
    """``a`` as a float32 numpy array (a DataArray: its values, as np.asarray gives them), or an
    InputTypeError: a Dataset, complex / text / dates are not temperatures."""
    if isinstance(a, xr.Dataset):
        raise InputTypeError(
            f"{name} is an xarray Dataset: the training arrays are numpy stacks. Pass one "
            f"variable's decoded values (`xlstsr.validate.decode_lst(ds['LST']).values` for LST, "
            "`ds['NDVI'].values` for a guide), or train from the cube with "
            "`xlstsr.train.fit_cube` / `CubeDataModule`."
        )
    arr = np.asarray(a)
    if arr.dtype.kind not in "fiu":
        raise InputTypeError(
            f"{name} holds {arr.dtype} values, not real numbers: pass a float array "
            "(`.astype('float32')` of the decoded values; NaN for gaps)."
        )
    return arr.astype(np.float32, copy=False)


#: Pixels of the images that :func:`_by_steps` hands a float64 kernel at once (1 Mpx: ~25 MB
#: of its temporaries). The PSF and the radiometric mean work in float64 with several
#: temporaries, ~7x a float32 stack at once: the largest part of CubeDataModule.setup's peak.
_STEP_PIXELS = 1 << 20


def _by_steps(fn: Any, a: np.ndarray) -> np.ndarray:
    """``fn(a)`` for a per-image kernel ``fn`` (n, Y, X) -> (n, ...), run on groups of whole
    images along the first axis (:data:`_STEP_PIXELS` at a time) and concatenated: the same
    values, a bounded peak of temporaries."""
    n = max(1, _STEP_PIXELS // max(1, int(np.prod(a.shape[1:]))))
    if a.shape[0] <= n:
        return fn(a)
    return np.concatenate([fn(a[i : i + n]) for i in range(0, a.shape[0], n)])


def _kept(parts: list[tuple[list[np.ndarray], np.ndarray]]) -> np.ndarray:
    """Patches ``(n, c, p, p)`` float32 from windows given as ``(bands, keep)``: each band a
    ``(steps, p, p)`` window (a view of the input) and ``keep`` the steps kept; one copy, into
    an array allocated once."""
    n = sum(int(keep.sum()) for _, keep in parts)
    bands, _ = parts[0]
    out = np.empty((n, len(bands), *bands[0].shape[1:]), np.float32)
    i = 0
    for bands, keep in parts:
        m = int(keep.sum())
        for b, band in enumerate(bands):
            out[i : i + m, b] = band[keep]
        i += m
    return out


def _shape_error(name: str, want: str, got: tuple[int, ...], fix: str) -> GridError:
    return GridError(f"{name} must have the shape {want}, got {got}; {fix}")


def _check_pairs(
    lst_coarse: Any, factor: Any, guide: Any, target: Any
) -> tuple[np.ndarray, int, np.ndarray | None, np.ndarray | None]:
    """The front door of the pairs and patches: ``lst_coarse`` (n, h, w) Kelvin, ``guide``
    (n or 1, [c,] h*f, w*f) as (n or 1, c, h*f, w*f), ``target`` (n, [1,] h*f, w*f) Kelvin as
    (n, h*f, w*f), ``factor`` a whole number >= 2; an :mod:`xlstsr.errors` error naming the
    argument and the fix otherwise."""
    factor = check_factor(factor)
    lst = _numbers(lst_coarse, "lst_coarse")
    if lst.ndim != 3:
        raise _shape_error("lst_coarse", "(n, h, w) (time steps, rows, columns)", lst.shape,
                           "a single image is `lst[None]`" if lst.ndim == 2 else
                           "give one stack of 2-D images")
    n, h, w = lst.shape
    if not (n and h and w):
        raise GridError(f"lst_coarse is empty (shape {lst.shape}): give at least one image")
    check_kelvin_array(lst, "lst_coarse")
    H, W = h * factor, w * factor
    g = None
    if guide is not None:
        g = _numbers(guide, "guide")
        if g.ndim == 3:
            g = g[:, None]
        if g.ndim != 4 or g.shape[0] not in (1, n) or g.shape[-2:] != (H, W):
            raise _shape_error(
                "guide", f"(n, c, h*f, w*f) = ({n}, c, {H}, {W}) or (n, {H}, {W}) (a first axis "
                "of 1 is used for every step)", g.shape,
                f"the guide must be on the fine grid, factor {factor} times the coarse LST's "
                f"{h} x {w} pixels, with one image per LST step",
            )
        # as upscale checks a guide: a band with no valid pixel (trained to NaN statistics,
        # then blamed on the learning rate) or an undeclared fill (MOD13's -3000 on 10 % gave
        # a guide_std of 911 that later let any guide through) is refused before training
        from ..guide import _require_valid_guide

        _require_valid_guide(g)
        inf = np.isinf(g).any(axis=(0, 2, 3))
        if inf.any():  # the guide statistics became inf: trained with no guide at all
            c = int(np.flatnonzero(inf)[0])
            raise XlstsrError(
                f"guide channel {c} holds {int(np.isinf(g[:, c]).sum())} infinite value(s): a "
                "gap or fill written as inf; make them NaN (`guide.where(np.isfinite(guide))`)."
            )
    t = None
    if target is not None:
        t = _numbers(target, "target")
        if t.ndim == 4 and t.shape[1] == 1:
            t = t[:, 0]
        if t.shape != (n, H, W):
            raise _shape_error(
                "target", f"(n, h*f, w*f) = ({n}, {H}, {W})", t.shape,
                f"the truth must be on the fine grid, factor {factor} times the coarse LST's "
                f"{h} x {w} pixels, with one image per LST step",
            )
        check_kelvin_array(t, "target")
    return lst, factor, g, t


def _guide_block_mean(guide: np.ndarray, factor: int) -> np.ndarray:
    """A guide (NDVI...) averaged over blocks, any valid pixel counting, carried as float32."""
    return block_mean(guide, factor, min_valid=0.0).astype(np.float32)


def _crop(a: np.ndarray, m: int) -> np.ndarray:
    return a[..., : a.shape[-2] // m * m, : a.shape[-1] // m * m]


def degraded_pairs(
    lst: np.ndarray,
    factor: int,
    guide: np.ndarray | None = None,
    *,
    min_valid: float = 1.0,
    psf: float | None = None,
) -> dict[str, Any]:
    """Training pairs one octave-pair up: ``radiometric_mean(LST, f) -> LST``.

    Parameters
    ----------
    lst : ndarray (n, Y, X)
        LST at its native resolution (becomes the target), Kelvin, NaN gaps.
    factor : int
        Degradation (= upscaling) factor.
    guide : ndarray (n or 1, c, Y*f, X*f), optional
        Guide at ``factor`` times the LST resolution; it is block-averaged onto the LST grid (the
        degraded-DISR input; a block with any valid pixel is valid). It covers the LST: Y*f, X*f
        of the LST as given, or of the LST cropped to whole blocks of ``factor`` (any other size
        raises).
    min_valid : float
        Smallest valid fraction of a block for its coarse LST to be valid
        (:func:`~xlstsr.kernels.aggregate.radiometric_mean`; default 1: every pixel). No
        block that valid in any image raises :class:`~xlstsr.errors.AllNaNError` naming it.
    psf : float, optional
        Width (sigma, in pixels of ``lst``) of a Gaussian point-spread function applied in
        radiance before the radiometric mean (:func:`~xlstsr.kernels.aggregate.gaussian_psf`,
        as :func:`xlstsr.coarsen` with ``psf=``): a sensor-like degradation instead of a perfect
        box. The MODIS LST PSF (~350 m on a 926 m pixel, 0.38 coarse pixel) at 4 km from 1 km is
        ``psf=4 * 350 / 926.6 = 1.51``. Each scene is blurred whole (edges: nearest), so cut
        scenes before patches.

    Returns
    -------
    dict
        ``lst_coarse`` (n, Y/f, X/f), ``guide`` (n, c, Y, X) or None, ``target`` (n, Y, X): keyword
        arguments of :func:`make_patches`.

    Raises
    ------
    xlstsr.errors.XlstsrError
        Arrays that are not real numbers, LST that is not Kelvin, images smaller than ``factor``,
        a guide of the wrong shape, ``min_valid`` outside [0, 1], a negative ``psf``.

    Examples
    --------
    >>> p = degraded_pairs(np.full((1, 8, 8), 300.0), 4)
    >>> p["lst_coarse"].shape, p["target"].shape, p["guide"] is None
    ((1, 2, 2), (1, 8, 8), True)
    >>> edge = np.tile(np.r_[np.full(4, 290.0), np.full(4, 310.0)], (8, 1))[None]
    >>> box, blur = degraded_pairs(edge, 4)["lst_coarse"], degraded_pairs(edge, 4, psf=1.5)["lst_coarse"]
    >>> bool(box[0, 0, 1] - box[0, 0, 0] > blur[0, 0, 1] - blur[0, 0, 0] > 0)  # the PSF blurs
    True
    """
    factor = check_factor(factor)
    min_valid = check_number("min_valid", min_valid, 0, 1,
                             hint="the smallest valid share of a block: e.g. 1.0")
    if psf is not None:
        psf = check_number("psf", psf, 0, hint="a Gaussian sigma in LST pixels, or None")
        if psf > 2 * factor:  # as xlstsr.coarsen: psf=1e6 ran for hours, one value per image
            raise XlstsrError(
                f"psf {psf:g} is wider than 2 coarse pixels ({2 * factor} pixels of lst at factor "
                f"{factor}): a sensor PSF is about one coarse pixel wide; give its sigma in pixels "
                f"of lst, e.g. psf={1.51 * factor / 4:.2f} (MODIS: 350 m on 926.6 m pixels, x {factor})"
            )
    lst = _numbers(lst, "lst")
    if lst.ndim == 2:
        lst = lst[None]
    if lst.ndim != 3:
        raise _shape_error("lst", "(n, Y, X) or (Y, X)", lst.shape, "give a stack of 2-D images")
    if lst.shape[-2] < factor or lst.shape[-1] < factor:
        raise GridError(
            f"lst ({lst.shape[-2]} x {lst.shape[-1]} pixels) is smaller than one block of factor "
            f"{factor}: give larger images or a smaller factor"
        )
    check_kelvin_array(lst, "lst")
    full = lst.shape[-2:]  # before the crop to whole blocks: the guide may cover the whole LST
    lst = _crop(lst, factor)
    coarse = _by_steps(
        lambda a: radiometric_mean(gaussian_psf(a, float(psf)) if psf else a, factor,
                                   min_valid=min_valid), lst)
    if not np.isfinite(coarse).any() and np.isfinite(lst).any():
        # scattered gaps (every other row, QC-masked pixels): make_patches then blamed the
        # fill value ("lst_coarse holds no valid pixel") of a correctly decoded cube
        share = float(np.isfinite(lst).mean())
        raise AllNaNError(
            f"no {factor} x {factor} block of the LST holds at least {min_valid:.0%} valid "
            f"pixels (min_valid={min_valid:g}; the LST is {share:.0%} valid, its gaps scattered "
            "over every block), so the degraded pairs hold no coarse pixel: pass a lower "
            "min_valid, e.g. min_valid=0.5 (`--min-valid 0.5` of xlstsr train; a coarse pixel "
            "is then the radiometric mean of the block's valid pixels)"
        )
    g = None
    if guide is not None:
        guide = _numbers(guide, "guide")
        if guide.ndim == 3:
            guide = guide[:, None]
        need = (lst.shape[-2] * factor, lst.shape[-1] * factor)
        most = (full[0] * factor, full[1] * factor)
        # only the LST's crop to whole blocks of `factor` explains a guide larger than `need`
        # (it covers the uncropped LST); a larger one was cropped to its top-left corner: a
        # guide 8x finer, or covering 4x the area, paired with the wrong ground
        if guide.ndim != 4 or guide.shape[0] not in (1, lst.shape[0]) or not (
            need[0] <= guide.shape[-2] <= most[0] and need[1] <= guide.shape[-1] <= most[1]
        ):
            span = f"{need}" if need == most else f"{need} to {most}"
            raise _shape_error(
                "guide", f"(n or 1, c, Y*f, X*f) with Y*f, X*f = {span} (lst {tuple(full)} "
                f"pixels, factor {factor})", guide.shape,
                f"the guide must be factor {factor} times finer than the LST and cover the same "
                "area, one image per step (or one for all); resample or cut it onto the LST's "
                "fine grid",
            )
        g = _guide_block_mean(guide[..., : lst.shape[-2] * factor, : lst.shape[-1] * factor], factor)
        g = np.broadcast_to(g, (lst.shape[0], *g.shape[1:]))
    return {"lst_coarse": coarse, "guide": g, "target": lst}


def target_scale_pairs(
    lst_coarse: np.ndarray,
    factor: int,
    guide: np.ndarray | None = None,
    target: np.ndarray | None = None,
) -> dict[str, Any]:
    """Pairs at the target scale: coarse LST (+ fine guide) and optional fine truth (NaN = invalid).

    For ``"sif"`` (no truth) and ``"supervised"`` (truth from another sensor, already on the fine
    output grid) training. A 2-D coarse LST or target is one step; the shapes and units are
    checked as :func:`make_patches` checks them.

    Examples
    --------
    >>> p = target_scale_pairs(np.full((4, 4), 300.0), 4, target=np.full((16, 16), 300.0))
    >>> p["lst_coarse"].shape, p["target"].shape
    ((1, 4, 4), (1, 16, 16))
    """
    lst_coarse = _numbers(lst_coarse, "lst_coarse")
    if lst_coarse.ndim == 2:
        lst_coarse = lst_coarse[None]
    if target is not None:
        target = _numbers(target, "target")
        if target.ndim == 2:
            target = target[None]
    lst_coarse, _, g, t = _check_pairs(lst_coarse, factor, guide, target)
    return {"lst_coarse": lst_coarse, "guide": g, "target": t}


def cut_scenes(
    field: np.ndarray, size: int, prefix: str = "scene"
) -> tuple[np.ndarray, list[str]]:
    """Non-overlapping ``size x size`` scenes of one large field, ids ``{prefix}_{row}_{col}``.

    A way to split one granule by scene (:func:`split_by_scene`): patches of different scenes
    never share pixels. Rows and columns that do not fill a whole scene are dropped.

    Examples
    --------
    >>> tiles, ids = cut_scenes(np.zeros((7, 9)), 3, "g")
    >>> tiles.shape, ids
    ((6, 3, 3), ['g_0_0', 'g_0_1', 'g_0_2', 'g_1_0', 'g_1_1', 'g_1_2'])
    """
    size = check_whole("size", size, hint="scene side in pixels, e.g. 64")
    field = _numbers(field, "field")
    if field.ndim != 2:  # a (time, y, x) stack gave numpy's "need at least one array to stack"
        raise _shape_error("field", "(Y, X)", field.shape, "cut one 2-D field at a time")
    if size > min(field.shape):
        raise GridError(f"size {size} is larger than the field ({field.shape[0]} x "
                        f"{field.shape[1]} pixels): lower `size`")
    tiles, ids = [], []
    for i in range(0, field.shape[0] - size + 1, size):
        for j in range(0, field.shape[1] - size + 1, size):
            tiles.append(field[i : i + size, j : j + size])
            ids.append(f"{prefix}_{i // size}_{j // size}")
    return np.stack(tiles), ids


@dataclass
class PatchSet:
    """Training patches as tensors.

    Attributes
    ----------
    lst : Tensor (N, 1, h, w)
        Coarse input, gaps filled (the engine's :func:`~xlstsr.kernels.interp.fill_gaps`).
    lst_valid : Tensor (N, 1, h, w) bool
        Observed coarse pixels (False on filled gaps; masked in coarse-consistency terms).
    guide : Tensor (N, c, H, W) or None
        Fine guide (NaN allowed).
    target : Tensor (N, 1, H, W) or None
        Fine truth, NaN where invalid.
    scene : ndarray (N,)
        Scene id of each patch (to split by scene).
    factor : int
    scenes_by_position : bool
        True when the scene ids are the images' positions in the stack (make_patches without
        ``scene_ids``): the dates of one place, if the stack is a cube.
    """

    lst: torch.Tensor
    lst_valid: torch.Tensor
    guide: torch.Tensor | None
    target: torch.Tensor | None
    scene: np.ndarray
    factor: int
    scenes_by_position: bool = False

    def __len__(self) -> int:
        return int(self.lst.shape[0])

    def subset(self, idx: Any) -> PatchSet:
        """The patches at positions ``idx`` (indices or a boolean mask)."""
        idx = np.asarray(idx)
        if idx.dtype == bool:
            idx = np.flatnonzero(idx)
        t = torch.as_tensor(idx, dtype=torch.long)
        return PatchSet(
            self.lst[t],
            self.lst_valid[t],
            None if self.guide is None else self.guide[t],
            None if self.target is None else self.target[t],
            self.scene[t.numpy()],
            self.factor,
            self.scenes_by_position,
        )

    def batch(self, idx: torch.Tensor) -> dict[str, torch.Tensor | None]:
        """The tensors of the patches ``idx`` as the batch dict the losses take."""
        return {
            "lst": self.lst[idx],
            "lst_valid": self.lst_valid[idx],
            "guide": None if self.guide is None else self.guide[idx],
            "target": None if self.target is None else self.target[idx],
        }

    @classmethod
    def concat(cls, sets: Sequence[PatchSet]) -> PatchSet:
        """Patch sets of several sources (same factor) as one; guide/target only if all have them.

        The sets must be cut with the same patch size, and (when all have guides) with guides of
        the same bands; otherwise an :class:`~xlstsr.errors.XlstsrError` names each set's.

        The result's ``scenes_by_position`` is True when any set's is: its ids are still the
        positions in a stack (dates of one place), and :func:`split_by_scene` keeps warning.

        Examples
        --------
        >>> lst = 300 + np.random.default_rng(0).normal(0, 2, (2, 16, 16)).astype("float32")
        >>> ps = make_patches(**degraded_pairs(lst, 4), factor=4, patch=8, stride=8)
        >>> len(PatchSet.concat([ps, ps.subset([0])]))
        9
        """
        if not sets:
            raise ValueError("no patch set to concatenate")
        if len({s.factor for s in sets}) > 1:
            raise ValueError(f"patch sets of different factors: {[s.factor for s in sets]}")
        # patch size and guide bands must agree, or torch.cat raised its raw "Sizes of tensors
        # must match" (a guide is kept only when every set has one: only then must they agree)
        guided = all(s.guide is not None for s in sets)
        if len({(tuple(s.lst.shape[1:]), tuple(s.guide.shape[1:]) if guided else None)
                for s in sets}) > 1:
            desc = "; ".join(
                f"set {i}: {len(s)} patches of {s.lst.shape[-2] * s.factor} fine pixels "
                f"(coarse {s.lst.shape[-2]} x {s.lst.shape[-1]}), "
                + ("no guide" if s.guide is None else f"guide of {s.guide.shape[1]} band(s)")
                for i, s in enumerate(sets)
            )
            raise XlstsrError(
                f"patch sets of different patch sizes or guide bands cannot be concatenated "
                f"({desc}): cut every set with the same `patch` and guides of the same bands "
                "(make_patches(..., patch=...))"
            )

        def cat(attr: str) -> torch.Tensor | None:
            vals = [getattr(s, attr) for s in sets]
            return None if any(v is None for v in vals) else torch.cat(vals)

        return cls(
            cat("lst"),
            cat("lst_valid"),
            cat("guide"),
            cat("target"),
            np.concatenate([s.scene for s in sets]),
            sets[0].factor,
            # dropped before: a day and a night cube of one place, concatenated, split by date
            # without split_by_scene's warning
            any(s.scenes_by_position for s in sets),
        )


def make_patches(
    lst_coarse: np.ndarray,
    factor: int,
    guide: np.ndarray | None = None,
    target: np.ndarray | None = None,
    *,
    patch: int = 64,
    stride: int | None = None,
    max_nan_fraction: float = 0.5,
    fill_radius: int = 16,
    scene_ids: Sequence[Any] | None = None,
) -> PatchSet:
    """Cut aligned patches from coarse LST (n, h, w), fine guide and truth with ``xbatcher``.

    Everything is put on the fine grid (the coarse LST replicated by nearest neighbour, so windows
    of ``patch`` fine pixels, a multiple of ``factor``, cut whole coarse pixels) in an
    :class:`xarray.Dataset` and windowed with :class:`xbatcher.BatchGenerator`. A patch is skipped
    when more than ``max_nan_fraction`` of its coarse input (or, with a target, of its truth) is
    NaN, and always when its coarse input has no valid pixel (even at ``max_nan_fraction=1``):
    there is nothing to fill its gaps from. Coarse gaps are then filled as the inference engine
    fills them.

    Parameters
    ----------
    lst_coarse : ndarray (n, h, w)
        Coarse LST, Kelvin (median within 150-400 K), NaN gaps.
    factor : int
        Whole number >= 2.
    guide : ndarray (n or 1, c, h*f, w*f) or (n, h*f, w*f), optional
        Fine guide (a first axis of 1 serves every step; 3-D: one band).
    target : ndarray (n, h*f, w*f) or (n, 1, h*f, w*f), optional
        Fine truth, Kelvin (NaN = invalid).
    patch, stride : int
        Window size and step in fine pixels (multiples of ``factor``; stride defaults to patch;
        ``patch`` at most the fine image size).
    max_nan_fraction : float
        In [0, 1]. A patch without any valid coarse pixel is dropped whatever its value.
    fill_radius : int
        Radius (coarse pixels, >= 0) of the gap filling.
    scene_ids : sequence, optional
        One id per time step (default 0..n-1, the positions in the stack), kept per patch for
        splitting by scene. Name the places: images of one place on several dates are one
        scene, or a split by scene is a split by date.

    Raises
    ------
    xlstsr.errors.XlstsrError
        Checked before any work: arrays that are not real numbers or xarray objects
        (:class:`~xlstsr.errors.InputTypeError`), shapes that do not fit ``factor`` or a
        ``patch`` / ``stride`` that is not a whole multiple of it (:class:`~xlstsr.errors.GridError`),
        LST or truth that is not Kelvin (:class:`~xlstsr.errors.PhysicalRangeError`), options
        out of range, no valid pixel.
    """
    import xbatcher

    lst_coarse, factor, guide, target = _check_pairs(lst_coarse, factor, guide, target)
    patch = check_whole("patch", patch, hint=f"fine pixels, a multiple of factor: e.g. {16 * factor}")
    stride = patch if stride is None else check_whole(
        "stride", stride, hint=f"fine pixels, a multiple of factor: e.g. patch // 2 = {patch // 2}")
    if patch % factor or stride % factor:
        bad = [f"{n}={v}" for n, v in (("patch", patch), ("stride", stride)) if v % factor]
        raise GridError(
            f"{' and '.join(bad)} must be multiples of factor {factor}, so that windows cut "
            f"whole coarse pixels: e.g. "
            + ", ".join(f"{n}={max(1, v // factor) * factor}" for n, v in
                        (("patch", patch), ("stride", stride)) if v % factor)
        )
    max_nan_fraction = check_number("max_nan_fraction", max_nan_fraction, 0, 1,
                                    hint="the largest NaN share of a kept patch: e.g. 0.5")
    fill_radius = check_whole("fill_radius", fill_radius, 0, hint="coarse pixels: e.g. 16")
    n, h, w = lst_coarse.shape
    H, W = h * factor, w * factor
    if patch > min(H, W):
        raise GridError(
            f"patch {patch} is larger than the fine images ({H} x {W} pixels): lower `patch` "
            f"(a multiple of {factor} up to {min(H, W) // factor * factor}) or give larger images"
        )
    if scene_ids is not None and len(scene_ids) != n:
        raise XlstsrError(f"scene_ids holds {len(scene_ids)} ids for {n} time steps: give one "
                          "id per step of lst_coarse")
    if not np.isfinite(lst_coarse).any():
        raise AllNaNError("lst_coarse holds no valid pixel (all NaN): check the fill value and "
                          "the decoding of the LST")
    data = {"lst": (("scene", "y", "x"), nearest_upsample(lst_coarse, factor))}
    if guide is not None:
        guide = np.broadcast_to(guide, (n, guide.shape[1], H, W))
        for b in range(guide.shape[1]):  # one variable per band: xbatcher keeps (scene, y, x)
            data[f"guide{b}"] = (("scene", "y", "x"), guide[:, b])
    if target is not None:
        data["target"] = (("scene", "y", "x"), target)
    ids = np.arange(n) if scene_ids is None else np.asarray(scene_ids)
    ds = xr.Dataset(data, coords={"scene": np.arange(n)})
    gen = xbatcher.BatchGenerator(
        ds,
        input_dims={"y": patch, "x": patch},
        input_overlap={"y": patch - stride, "x": patch - stride},
    )
    lst_l, guide_l, tgt_l, sc_l = [], [], [], []
    for win in gen:
        win = win.transpose("scene", "y", "x")
        c = win["lst"].values[:, ::factor, ::factor]  # (n, p/f, p/f)
        keep = np.isnan(c).mean(axis=(1, 2)) <= max_nan_fraction
        # an all-cloud patch (kept at max_nan_fraction=1) was filled with fill_gaps' 0 K and
        # asked the network to turn 0 K into ~300 K: a loss ~500x a clear patch's
        keep &= np.isfinite(c).any(axis=(1, 2))
        if target is not None:
            keep &= np.isnan(win["target"].values).mean(axis=(1, 2)) <= max_nan_fraction
        if not keep.any():
            continue
        lst_l.append(c[keep])
        sc_l.append(ids[win["scene"].values[keep]])
        # the fine windows as they are (views of the inputs) with their kept steps, copied once
        # into the patches below: copies here, their concatenation and a float32 copy of that
        # were held at once (3x the patches, the largest part of CubeDataModule.setup's peak)
        if guide is not None:
            guide_l.append(([win[f"guide{b}"].values for b in range(guide.shape[1])], keep))
        if target is not None:
            tgt_l.append(([win["target"].values], keep))
    if not lst_l:
        if max_nan_fraction < 1:
            raise XlstsrError(
                "no patch has enough valid pixels; lower `patch` or raise `max_nan_fraction` "
                f"(now {max_nan_fraction:g})"
            )
        raise XlstsrError(
            "no patch has a valid coarse pixel (a patch needs one: an all-NaN patch has nothing "
            "to fill its gaps from); lower `patch` or `stride` so that windows reach the valid "
            "pixels"
        )
    del ds, gen, data, win, c  # the upsampled LST: no longer needed beside the patches
    lst_all = np.concatenate(lst_l)
    valid = np.isfinite(lst_all)
    filled = fill_gaps(lst_all, fill_radius)
    guide_all = _kept(guide_l) if guide_l else None
    if guide_all is not None:
        _warn_guideless(guide_all)
    # the fine patches (guide, target: most of the memory) joined part by part
    return PatchSet(
        torch.from_numpy(filled[:, None].astype(np.float32)),
        torch.from_numpy(valid[:, None]),
        torch.from_numpy(guide_all) if guide_all is not None else None,
        torch.from_numpy(_kept(tgt_l)) if tgt_l else None,
        np.concatenate(sc_l),
        factor,
        scene_ids is None,
    )


def _warn_guideless(guide: np.ndarray) -> None:
    """Warn when more than half of the patches have no valid guide pixel (a guide that misses
    most of the LST's area or dates): the networks take such patches (a validity flag per guide
    pixel), but a guided model trained mostly without its guide learns little from it."""
    none = ~np.isfinite(guide.reshape(len(guide), -1)).any(axis=1)
    share = float(none.mean()) if len(none) else 0.0
    if share > 0.5:
        warn(f"{int(none.sum())} of {len(none)} patches ({share:.0%}) have no valid guide pixel "
             "(the guide is NaN over them): a guided model would train mostly without its "
             "guide. Crop the LST to the guide's cover (area and dates), or fill the guide's "
             "gaps first", UserWarning)


def split_by_scene(
    patches: PatchSet,
    val_fraction: float = 0.2,
    seed: int = 0,
    *,
    val_scenes: Iterable[Any] | None = None,
) -> tuple[PatchSet, PatchSet]:
    """Split patches into (train, validation) by whole scenes, never by patch.

    The validation scenes are ``val_scenes`` when given (e.g. a data set's fixed split), else a
    seeded random ``val_fraction`` of the scenes (at least one, and at least one left to train).
    An id of ``val_scenes`` matches the patches whose scene equals it, type included (``4`` is
    not ``'4'``): :class:`~xlstsr.errors.XlstsrError` when no id matches a patch (the validation
    set would be empty) or when they name every scene (none left to train), a ``UserWarning``
    naming the ids that match none when others do.

    Examples
    --------
    >>> lst = 300 + np.random.default_rng(0).normal(0, 2, (5, 16, 16)).astype("float32")
    >>> ps = make_patches(**degraded_pairs(lst, 4), factor=4, patch=8, stride=8,
    ...                   scene_ids=list("abcde"))
    >>> tr, va = split_by_scene(ps, 0.4, seed=1)
    >>> len(set(va.scene.tolist())), set(tr.scene.tolist()) & set(va.scene.tolist())
    (2, set())
    """
    if not isinstance(patches, PatchSet):
        raise InputTypeError(f"patches must be a PatchSet (make_patches), got {type(patches).__name__}")
    if val_scenes is None:
        # 2 and -1 were used silently (one validation scene), "x" and seed -1 raised raw
        check_number("val_fraction", val_fraction, 0, 1, lo_open=True, hi_open=True,
                     hint="the share of scenes kept for validation: e.g. 0.2")
        from .loop import check_seed

        seed = check_seed(seed)
        scenes = np.unique(patches.scene)
        if len(scenes) < 2:
            raise XlstsrError("splitting by scene needs at least 2 scenes: give make_patches "
                              "scene_ids (one per image), or cut one field with cut_scenes")
        if getattr(patches, "scenes_by_position", False):
            # a cube's images are dates of one ground: "by scene" was by date, and validation
            # scored the landscape the network had learnt
            warn(
                "the patches' scenes are the images' positions in the stack (make_patches got "
                "no scene_ids): if the images are dates of one place, this split is by date and "
                "validation sees the training ground. Give make_patches scene_ids naming the "
                "places, cut the ground into scenes (cut_scenes), or train a cube with "
                "CubeDataModule / fit_cube, which split by window position.",
                UserWarning,
            )
        rng = np.random.default_rng(seed)
        n_val = min(len(scenes) - 1, max(1, round(val_fraction * len(scenes))))
        # kept as an array: .tolist() turned date ids into ints of nanoseconds, which matched
        # no patch and left validation empty
        is_val = np.isin(patches.scene, rng.permutation(scenes)[:n_val])
    else:
        is_val = _known_scenes(patches.scene, val_scenes)
        if is_val.size and is_val.all():
            # the random split keeps a scene for training; a list naming every scene left
            # none, and the fit stopped later at 'no training patches'
            named = sorted({_shown(v) for v in np.unique(patches.scene)}, key=str)
            raise XlstsrError(
                f"val_scenes names every scene of the patches ({named[:6]}"
                f"{' ...' if len(named) > 6 else ''}): none is left for training. Leave at "
                "least one out of val_scenes, or make patches of more scenes.")
    return patches.subset(~is_val), patches.subset(is_val)


def _shown(v: Any) -> Any:
    """A scene id as a message shows it: numpy scalars as Python ones, dates as text (their
    ``.item()`` is an int of nanoseconds, or a ``datetime.date``)."""
    if isinstance(v, (np.datetime64, np.timedelta64)):
        return str(v)
    return v.item() if isinstance(v, np.generic) else v


def _known_scenes(scene: np.ndarray, val_scenes: Any) -> np.ndarray:
    """The patches whose scene is one of ``val_scenes`` (a boolean mask); an error naming them
    when none matches a patch (a typo, 'P4' for 'p4', or 4 for '4', gave an empty validation
    set and a fit without validation or early stopping, without a word), a warning naming those
    that match none when others do (a scene whose patches were all too cloudy for make_patches
    is one).

    Each id is matched as given, an array of its own dtype (a date in any unit matches the same
    date): a list of mixed ids made one array of text, where 4 matched '4'."""
    if isinstance(val_scenes, (str, bytes)) or not isinstance(val_scenes, Iterable):
        raise InputTypeError(
            f"val_scenes must be a sequence of scene ids, got {val_scenes!r}: a single scene "
            f"is a list of one, e.g. val_scenes=[{val_scenes!r}]"
        )
    vals = list(val_scenes)
    hits = [np.isin(scene, np.asarray([v])) for v in vals]
    is_val = np.logical_or.reduce(hits) if hits else np.zeros(len(scene), bool)
    unknown = [_shown(v) for v, hit in zip(vals, hits) if not hit.any()]
    if not unknown:
        return is_val
    known = [_shown(k) for k in np.unique(scene)]
    kind = f"numpy.{scene.dtype.type.__name__}" if scene.dtype.kind in "mM" else (
        type(known[0]).__name__)
    # an id that matches once written as text: the ids' type differs (4 for '4')
    typed = [v for v in unknown if str(v) in {str(k) for k in known}]
    said = (
        f"val_scenes {unknown!r} match no patch (the patches' scenes: {known[:8]!r}"
        + (f", ... {len(known)} in all" if len(known) > 8 else "") + ")"
        + (f"; {typed!r} differ only in type from a scene id: give them as "
           f"{kind}" if typed else "")
    )
    if len(unknown) == len(vals):
        raise XlstsrError(
            f"{said}: the validation set would be empty. Give ids as make_patches got them in "
            "`scene_ids` (positions 0..n-1 without scene_ids), or val_fraction= for a random "
            "split"
        )
    warn(f"{said}: validation holds the other scenes only. Check the ids, or whether "
         "make_patches dropped those scenes' patches (max_nan_fraction).", UserWarning)
    return is_val


#: Weakest LST-detail / guide-detail correlation whose fitted gain :func:`fit_guide_gain` uses.
#: The slope of a weak relation is set by noise and by which positions were drawn, not by the
#: ground: on one MODIS cube two splits fitted -0.06 and +0.02 K/NDVI (|r| ~0.01), the first
#: trained as is, the second became the default, a 150x jump between seeds. At |r| < 0.1 the
#: guide's detail explains under 1 % of the LST's (r^2 < 0.01), so there is no law to transfer:
#: the default is used, with a warning. A real vegetation signal is far above it (the bundled SIF
#: model's 1 km fit: r = -0.47, -12.3 K/NDVI).
GAIN_MIN_CORRELATION = 0.1


def _guide_gain_fit(
    lst_coarse: np.ndarray, guide: np.ndarray, factor: int, *, default: float = -10.0
) -> dict[str, Any]:
    """The fit behind :func:`fit_guide_gain`: ``gain`` (K per guide unit, what the loss uses),
    ``fitted`` (True when the fitted slope is used, False when ``default`` replaced it),
    ``slope`` and ``correlation`` of the fit (NaN without 16 valid pixels of a step) and
    ``reason`` (why the default was used, else None). No warning (:func:`fit_guide_gain` warns).

    Examples
    --------
    >>> g = np.random.default_rng(0).uniform(0, 1, (1, 32, 32))
    >>> lst = 300 - 12 * g.reshape(1, 8, 4, 8, 4).mean(axis=(2, 4))
    >>> fit = _guide_gain_fit(lst, g, 4)
    >>> round(fit["gain"], 3), fit["fitted"], round(fit["correlation"], 3)
    (-12.0, True, -1.0)
    """
    from scipy import ndimage

    factor = check_factor(factor)
    lc = _numbers(lst_coarse, "lst_coarse").astype(np.float64)
    g = _numbers(guide, "guide").astype(np.float64)
    if lc.ndim == 2:
        lc = lc[None]
    need = (lc.shape[-2] * factor, lc.shape[-1] * factor)
    if lc.ndim != 3 or g.ndim not in (3, 4) or g.shape[-2:] != need or g.shape[0] not in (
            1, lc.shape[0]):  # numpy's broadcast error before
        raise _shape_error("guide", f"(n or 1, c, {need[0]}, {need[1]}) for lst_coarse "
                           f"{lc.shape}", g.shape, f"the guide is {factor} x finer than lst_coarse")
    from ..guide import _require_valid_guide  # a fill taken as NDVI gave a gain of -0.0005 K

    _require_valid_guide(g if g.ndim == 4 else g[:, None])
    gc = _guide_block_mean(g[..., 0, :, :] if g.ndim == 4 else g, factor).astype(np.float64)
    xs, ys = [], []
    for k in range(lc.shape[0]):
        a, b = lc[k], gc[min(k, gc.shape[0] - 1)]
        ok = np.isfinite(a) & np.isfinite(b)
        if ok.sum() < 16:
            continue
        af = np.where(ok, a, np.nanmean(a[ok]))
        bf = np.where(ok, b, np.nanmean(b[ok]))
        ha = af - ndimage.gaussian_filter(af, 1.0, mode="nearest")
        hb = bf - ndimage.gaussian_filter(bf, 1.0, mode="nearest")
        ys.append(ha[ok])
        xs.append(hb[ok])
    default = float(default)
    if not xs:
        return {"gain": default, "fitted": False, "slope": math.nan, "correlation": math.nan,
                "reason": "no step has 16 valid pixels of both fields"}
    x, y = np.concatenate(xs), np.concatenate(ys)
    sxx, syy, sxy = float((x * x).sum()), float((y * y).sum()), float((x * y).sum())
    slope = sxy / max(sxx, 1e-12)
    # the high-passed details have ~zero mean: the correlation of the regression through 0
    r = sxy / math.sqrt(sxx * syy) if sxx > 0 and syy > 0 else math.nan
    reason = None
    if not (math.isfinite(slope) and math.isfinite(r)):
        reason = "one of the fields has no detail"
    elif slope >= 0:
        reason = "the LST detail does not fall where the guide's rises (slope not negative)"
    elif abs(r) < GAIN_MIN_CORRELATION:
        reason = (f"the relation is too weak to fit (|r| < {GAIN_MIN_CORRELATION:g}: the guide "
                  "explains under 1 % of the LST detail)")
    return {"gain": default if reason else slope, "fitted": reason is None, "slope": slope,
            "correlation": r, "reason": reason}


def fit_guide_gain(
    lst_coarse: np.ndarray, guide: np.ndarray, factor: int, *, default: float = -10.0
) -> float:
    """Regression slope (K per guide unit) of coarse LST detail on guide detail, for ``sif_loss``.

    Both fields are compared at the coarse scale (the guide block-averaged by ``factor``), after a
    Gaussian high-pass of 1 coarse pixel: the detail law the scale-invariance-free loss
    (:func:`xlstsr.nn.losses.sif_loss`) transfers to the fine scale. Returns ``default``, with a
    warning naming the fit, when there is no usable anti-correlation: a slope that is not
    negative, or a correlation weaker than :data:`GAIN_MIN_CORRELATION` in absolute value (the
    slope of such a fit is noise: a fit just below 0 was used, one just above replaced by
    ``default``, 150x apart). :class:`~xlstsr.train.CubeDataModule` records the fit and whether
    it was used (its ``gain_fit``).
    """
    fit = _guide_gain_fit(lst_coarse, guide, factor, default=default)
    if not fit["fitted"] and math.isfinite(fit["gain"]):
        warn(_gain_default_message(fit), UserWarning)
    return float(fit["gain"])


def _gain_default_message(fit: dict[str, Any]) -> str:
    """The warning of a guide gain that fell back to the default."""
    said = (f"fitted slope {fit['slope']:.3g} K per guide unit, correlation "
            f"{fit['correlation']:.3f}" if math.isfinite(fit["slope"]) else "no fit")
    return (f"the SIF guide gain falls back to the default {fit['gain']:g} K per guide unit "
            f"({said}): {fit['reason']}. Training transfers the default detail law; give "
            "loss_options={'gain': ...} to set it (e.g. a gain fitted on a larger or greener "
            "area), or train on more window positions.")

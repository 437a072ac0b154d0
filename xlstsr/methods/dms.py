"""DMS: the Data Mining Sharpener (Gao, Kustas and Anderson 2012), regression trees on the guide."""

from __future__ import annotations

from typing import Any

import numpy as np

from ..errors import XlstsrError
from ..kernels.aggregate import _radiometric_mean
from ..kernels.interp import cubic_upsample, fill_gaps
from ..kernels.sharpen import (
    LinearLeafForest,
    bicubic_fallback,
    block_stats,
    homogeneity_weights,
    window_std,
)
from .base import option_bool, option_whole, register_method
from .guided import (
    GuidedSharpener,
    fine_scale,
    flat_at_lst_scale,
    one_value_under,
)

__all__ = ["DMS"]

_REGRESSORS = ("extratrees", "bagging")
_T0 = 300.0  # T^4 targets are fitted as (T / T0)^4 (numerically ~1)


@register_method("dms")
class DMS(GuidedSharpener):
    """Data Mining Sharpener: bagged regression trees from guide statistics to LST.

    Per image (after Gao et al. 2012; pyDMS was read as the reference implementation):

    1. **Training set at the coarse scale.** Features of each coarse pixel: the block mean of
       every guide band (and with ``features="mean_std"`` also its within-block std). Samples:
       the observed coarse pixels (``valid``) whose guide block is complete.
    2. **Sample weights from homogeneity**: ``1 / (h + median h)`` with ``h`` the mean over bands
       of the within-block std divided by the band's scene std; the 20 % most heterogeneous
       pixels get half weight (:func:`~xlstsr.kernels.sharpen.homogeneity_weights`).
    3. **Models**: an ensemble of ``n_estimators`` regression trees, either scikit-learn's
       ``ExtraTreesRegressor`` (``regressor="extratrees"``, the default: randomised splits,
       constant leaves) or trees on bootstrap samples with a ridge regression inside each leaf
       (``regressor="bagging"``: Cubist-like, as in the paper and pyDMS). Measured on the
       MODIS/ASTER pairs, extra-trees were both more accurate (the linear leaves extrapolate
       the guide's fine-scale range into spurious detail) and faster: on every third of the
       55 pairs (19), RMSE against ASTER on the aligned 250 m grid 3.15 K against 3.28 K,
       lower on all 19, 1.3x faster (measured again after the leaf ridge was standardised per
       leaf); "bagging" wins on smooth exact laws of one band. A global model
       (``max_leaf_nodes`` leaves) and, when the image spans more than one ``window`` of coarse
       pixels, local models on windows of ``window`` coarse pixels extended by 25 % on each side
       (``local_max_leaf_nodes`` leaves).
    4. **Fine-scale prediction** uses the fine guide with the same feature definitions: the
       "block mean" of a fine pixel is its own value and its "within-block std" is the std in a
       ``factor`` x ``factor`` window centred on it (the same support as a coarse pixel).
    5. **Blending**: local and global predictions are mixed per coarse pixel with weights
       ``1 / residual^2`` (residual = coarse LST minus the radiometric aggregate of the
       prediction), interpolated to the fine grid (Gao et al. 2012, section 2.3).
    6. **Residual correction**: the coarse residual is added back (cubic-interpolated or per
       block) and, with ``conserve=True``, each block is scaled in T^4 so that its radiometric
       aggregate equals the input exactly.

    Fine pixels with a NaN guide get the bicubic value. Images with fewer than ``min_samples``
    training pixels, or (extra-trees) than ``2 * min_samples_leaf`` (no tree could split), or
    (bagging) than 2 (a leaf's ridge needs two pixels for a slope; local windows with fewer are
    left to the global model), or
    (``features="mean"``) whose guide's block means are equal up to float32 round-off (no
    variation at the LST scale), fall back to bicubic with a warning.
    Deterministic for a given ``random_state``. The fit holds ~90-250 bytes per fine pixel
    (:meth:`work_bytes_per_pixel`): a call that cannot fit in the memory available is refused
    as TsHARP's is.

    Parameters
    ----------
    n_estimators : int
        Trees per model.
    window : int
        Local-window size in coarse pixels; 0 disables local models.
    features : {"mean", "mean_std"}
        Guide statistics used as regressors.
    regressor : {"extratrees", "bagging"}
        Tree ensemble (see above).
    t4 : bool
        Fit and blend in T^4 (radiance) space instead of T.
    residual : {"bicubic", "nearest", "none"}
        How the coarse residual is spread onto the fine grid.
    conserve : bool
        Enforce the radiometric aggregate of the output equal to the input.
    gain : float in [0, 1]
        Detail gain (see :class:`~xlstsr.methods.guided.GuidedSharpener`); 1 is DMS as
        published.
    max_leaf_nodes, local_max_leaf_nodes : int
        Leaves of the global and of the local trees (pyDMS: 30 and 10).
    min_samples_leaf : int
        Fewest training pixels per leaf.
    min_samples : int
        Fewest training pixels to fit a model (global or local); with the extra-trees at
        least ``2 * min_samples_leaf`` are needed whatever it is, with "bagging" at least 2.
    random_state : int
        Seed of the bootstrap and of the trees.
    n_jobs : int
        Threads for ``regressor="extratrees"``.

    Examples
    --------
    >>> import xlstsr
    >>> s = xlstsr.datasets.sample_scene(n_times=1, size=64)
    >>> sr = xlstsr.upscale(s["lst_1km"], 4, method="dms", guide=s["ndvi_250m"])
    >>> sr.shape
    (1, 64, 64)
    """

    def __init__(
        self,
        n_estimators: int = 10,
        window: int = 16,
        features: str = "mean",
        regressor: str = "extratrees",
        t4: bool = False,
        residual: str = "bicubic",
        conserve: bool = True,
        gain: float = 1.0,
        max_leaf_nodes: int = 30,
        local_max_leaf_nodes: int = 10,
        min_samples_leaf: int = 10,
        min_samples: int = 30,
        random_state: int = 0,
        n_jobs: int = 1,
    ) -> None:
        if features not in ("mean", "mean_std"):
            raise XlstsrError(f"features must be 'mean' or 'mean_std', got {features!r}")
        if regressor not in _REGRESSORS:
            raise XlstsrError(f"regressor must be one of {_REGRESSORS}, got {regressor!r}")
        self.gain = self._check_common(residual, gain)
        n = self.name
        self.n_estimators = option_whole(n, "n_estimators", n_estimators, 1, example=10)
        self.window = option_whole(n, "window", window, 0, example="16, or 0 for no local models")
        self.features = features
        self.regressor = regressor
        self.t4 = option_bool(n, "t4", t4)
        self.residual = residual
        self.conserve = option_bool(n, "conserve", conserve)
        # sklearn's trees need two leaves and one sample per leaf
        self.max_leaf_nodes = option_whole(n, "max_leaf_nodes", max_leaf_nodes, 2, example=30)
        self.local_max_leaf_nodes = option_whole(n, "local_max_leaf_nodes", local_max_leaf_nodes,
                                                 2, example=10)
        self.min_samples_leaf = option_whole(n, "min_samples_leaf", min_samples_leaf, 1, example=10)
        self.min_samples = option_whole(n, "min_samples", min_samples, 1, example=30)
        self.random_state = option_whole(n, "random_state", random_state, 0, example=0)
        self.n_jobs = option_whole(n, "n_jobs", n_jobs, None, nonzero=True,
                                   example="1, or -1 for every core")

    def describe(self) -> dict[str, Any]:
        keys = (
            "n_estimators window features regressor t4 residual conserve gain max_leaf_nodes "
            "local_max_leaf_nodes min_samples_leaf min_samples random_state"
        ).split()
        return {k: getattr(self, k) for k in keys}

    def terms_floor(self, n_bands: int) -> int:
        """``2 * min_samples_leaf`` for the extra-trees: with fewer training pixels no tree can
        split (each leaf needs ``min_samples_leaf``), and the model is one constant leaf that
        ignores the guide while its output is labelled 'dms' (a lower ``min_samples`` alone, as
        once advised, gave that). 2 for ``"bagging"``: its leaves fit a ridge on the guide,
        which needs two pixels to carry a slope. A one-pixel model is a constant that, fitting
        its pixel exactly, won the local/global blend: with ``min_samples=1`` the guide was
        dropped wherever a local window held one clear pixel (the result was bicubic's)."""
        if self.regressor != "extratrees":
            return 2
        return 2 * self.min_samples_leaf

    def _terms_text(self, n_bands: int) -> str:
        if self.regressor != "extratrees":
            return ("DMS's linear-leaf trees need at least 2 usable pixels (one gives a constant "
                    "model, no use of the guide)")
        return (f"DMS's trees need at least 2 x min_samples_leaf = {self.terms_floor(n_bands)} "
                "usable pixels to split (fewer give one constant leaf, no use of the guide)")

    def _fewer_terms_advice(self, usable: int, n_bands: int) -> str | None:
        if self.regressor != "extratrees" or usable < 2:  # no leaf size splits one pixel
            return super()._fewer_terms_advice(usable, n_bands)
        lower = f", min_samples={usable}" if self.min_samples > usable else ""
        # a quarter, not half: at exactly 2 leaves a random split point rarely lands on the one
        # split allowed (0 of 10 trees split 16 pixels with leaves of 8; 5 of 10 with 4)
        return (f"pass a lower `min_samples_leaf` in method_options (e.g. min_samples_leaf="
                f"{max(1, usable // 4)}{lower}; smaller leaves give a noisier fit)")

    def work_bytes_per_pixel(self, n_bands: int) -> int:
        """Peak bytes per fine pixel of one image's fit, prediction and blend on ``n_bands``
        guide bands (float64 fine features, global and local predictions, blend weights,
        residual): measured with tracemalloc, 87 (one band) to 234 (three, ``mean_std``)."""
        k = n_bands * (2 if self.features == "mean_std" else 1)
        return 8 * max(11, 5 + 4 * k)

    # -- model -------------------------------------------------------------------------------
    def _model(self, max_leaf_nodes: int):
        if self.regressor == "extratrees":
            from sklearn.ensemble import ExtraTreesRegressor

            return ExtraTreesRegressor(
                n_estimators=self.n_estimators,
                max_leaf_nodes=max_leaf_nodes,
                min_samples_leaf=self.min_samples_leaf,
                random_state=self.random_state,
                n_jobs=self.n_jobs,
            )
        return LinearLeafForest(
            n_estimators=self.n_estimators,
            max_leaf_nodes=max_leaf_nodes,
            min_samples_leaf=self.min_samples_leaf,
            random_state=self.random_state,
        )

    def _fit(self, x, y, w, max_leaf_nodes):
        model = self._model(max_leaf_nodes)
        if isinstance(model, LinearLeafForest):
            return model.fit(x, y, w)
        return model.fit(x, y, sample_weight=w)

    def _to_t(self, y: np.ndarray) -> np.ndarray:
        return _T0 * np.clip(y, 1e-6, None) ** 0.25 if self.t4 else y

    def _to_y(self, t: np.ndarray) -> np.ndarray:
        return (t / _T0) ** 4 if self.t4 else t

    # -- per image ---------------------------------------------------------------------------
    def predict(self, lst, valid, guide, factor):
        """Blended global/local tree prediction (Y, X) of one image, or None (too few samples)."""
        lst = np.asarray(lst, dtype=np.float64)
        g = np.asarray(guide, dtype=np.float64)
        ny, nx = lst.shape
        mean, std, full = block_stats(g, factor)
        train = np.asarray(valid, bool) & full & np.isfinite(lst)
        if train.sum() < self.min_fit_samples(g.shape[0]):  # min_samples, or too few to split
            return None
        one_value_under(g, train, factor)  # no law with either features
        if self.features == "mean":  # trees split on round-off otherwise (std features vary)
            flat_at_lst_scale(fine_scale(g), mean[:, train].T, factor)

        # features: coarse (ny, nx, k) and fine (Y, X, k), same definitions
        if self.features == "mean_std":
            cfeat = np.concatenate([mean, std]).transpose(1, 2, 0)
            ffeat = np.concatenate([g, window_std(g, factor)]).transpose(1, 2, 0)
        else:
            cfeat = mean.transpose(1, 2, 0)
            ffeat = g.transpose(1, 2, 0)
        fok = np.isfinite(ffeat).all(axis=-1)
        # finite values only: +-inf made the band's scale NaN, with numpy's raw RuntimeWarning
        flat = g.reshape(g.shape[0], -1)
        scale = np.nanstd(np.where(np.isfinite(flat), flat, np.nan), axis=1)
        weight_map = np.zeros((ny, nx))
        weight_map[train] = homogeneity_weights(std[:, train].T, scale)
        target = self._to_y(lst)

        def apply_model(model, rows: slice, cols: slice) -> np.ndarray:
            f = ffeat[rows, cols]
            ok = fok[rows, cols]
            out = np.full(ok.shape, np.nan)
            if ok.any():
                out[ok] = model.predict(f[ok])
            return out

        full_rows = slice(0, ny * factor)
        full_cols = slice(0, nx * factor)
        model = self._fit(cfeat[train], target[train], weight_map[train], self.max_leaf_nodes)
        pred_g = bicubic_fallback(self._to_t(apply_model(model, full_rows, full_cols)), lst, factor)

        pred = pred_g
        win = self.window
        if win > 0 and (ny > win or nx > win):
            pred_l = np.full_like(pred_g, np.nan)
            ext = max(1, win // 4)
            for y0 in range(0, ny, win):
                for x0 in range(0, nx, win):
                    ey = slice(max(y0 - ext, 0), min(y0 + win + ext, ny))
                    ex = slice(max(x0 - ext, 0), min(x0 + win + ext, nx))
                    sel = train[ey, ex]
                    if sel.sum() < self.min_fit_samples(g.shape[0]):
                        continue  # not enough data (or a one-leaf tree): the global model here
                    m = self._fit(
                        cfeat[ey, ex][sel],
                        target[ey, ex][sel],
                        weight_map[ey, ex][sel],
                        self.local_max_leaf_nodes,
                    )
                    rows = slice(y0 * factor, min(y0 + win, ny) * factor)
                    cols = slice(x0 * factor, min(x0 + win, nx) * factor)
                    pred_l[rows, cols] = self._to_t(apply_model(m, rows, cols))
            have_local = np.isfinite(pred_l)
            if have_local.any():
                pred_l = np.where(have_local, pred_l, pred_g)
                pred_l = bicubic_fallback(pred_l, lst, factor)
                pred = self._blend(pred_g, pred_l, have_local, lst, factor, valid)
        # no guide there: NaN, so that the sharpener keeps those pixels bicubic (the fallback
        # above only serves the blending's residuals)
        return np.where(fok, pred, np.nan)

    def _blend(self, pred_g, pred_l, have_local, lst, factor, valid=None):
        """Mix local and global predictions with inverse squared coarse residuals as weights
        (taken where the LST was observed, ``valid``, and filled over the gaps from there: the
        residuals of a gap's invented LST were interpolated into the clear pixels beside it)."""
        eps = 1e-3  # K: a perfect fit does not get an infinite weight
        # unchecked: a tree's prediction at or below 0 K is left to the output check
        rg = np.abs(lst - _radiometric_mean(pred_g, factor, 1.0, None)) + eps
        rl = np.abs(lst - _radiometric_mean(pred_l, factor, 1.0, None)) + eps
        wl = rg**2 / (rg**2 + rl**2)
        seen = None if valid is None else np.asarray(valid, dtype=bool)
        if seen is not None and seen.any() and not seen.all():
            wl = fill_gaps(np.where(seen, wl, np.nan), 2)
        wl = np.clip(cubic_upsample(wl, factor), 0.0, 1.0)
        wl = np.where(have_local, wl, 0.0)
        if self.t4:
            return (wl * pred_l**4 + (1 - wl) * pred_g**4) ** 0.25
        return wl * pred_l + (1 - wl) * pred_g

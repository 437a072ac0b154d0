"""Co-registration: known sub-pixel shifts and PSF widths recovered, unreliable cases refused."""

from __future__ import annotations

import numpy as np
import pytest
import xarray as xr
from affine import Affine
from pyproj import Transformer

import xlstsr
from xlstsr.coregister import coregister, estimate_offset
from xlstsr.errors import CoregistrationError
from xlstsr.grid import MODIS_1KM, MODIS_250M, MODIS_SINUSOIDAL

# a MODIS 1 km grid near 45 N (h18v04), and a fine UTM 31N grid over it
UL_SIN = (200_000.0, 5_000_000.0)
N_COARSE = 40


class Waves:
    """T(x, y) = 300 + sum a cos(2 pi k.p + phi) in sinusoidal metres: its box + Gaussian
    average over a pixel is analytic (sinc x Gaussian per wave), independent of the code."""

    def __init__(self, seed: int, amplitude: float = 2.0) -> None:
        rng = np.random.default_rng(seed)
        n = 24
        wavelength = rng.uniform(1500.0, 9000.0, n)
        theta = rng.uniform(0, np.pi, n)
        self.k = np.stack([np.cos(theta), np.sin(theta)], 1) / wavelength[:, None]
        self.a = amplitude * rng.uniform(0.5, 1.0, n)
        self.phi = rng.uniform(0, 2 * np.pi, n)

    def point(self, x: np.ndarray, y: np.ndarray) -> np.ndarray:
        ph = 2 * np.pi * (x[..., None] * self.k[:, 0] + y[..., None] * self.k[:, 1]) + self.phi
        return 300.0 + (self.a * np.cos(ph)).sum(-1)

    def pixel(self, x: np.ndarray, y: np.ndarray, size: float, sigma: float) -> np.ndarray:
        g = (np.sinc(self.k[:, 0] * size) * np.sinc(self.k[:, 1] * size)
             * np.exp(-2 * np.pi**2 * sigma**2 * (self.k**2).sum(1)))
        ph = 2 * np.pi * (x[..., None] * self.k[:, 0] + y[..., None] * self.k[:, 1]) + self.phi
        return 300.0 + (self.a * g * np.cos(ph)).sum(-1)


def _coarse_lst(waves: Waves, sigma: float) -> xr.DataArray:
    x = UL_SIN[0] + (np.arange(N_COARSE) + 0.5) * MODIS_1KM
    y = UL_SIN[1] - (np.arange(N_COARSE) + 0.5) * MODIS_1KM
    xx, yy = np.meshgrid(x, y)
    da = xr.DataArray(waves.pixel(xx, yy, MODIS_1KM, sigma), dims=("y", "x"),
                      coords={"y": y, "x": x}, attrs={"units": "K"})
    return da.rio.write_crs(MODIS_SINUSOIDAL).rio.write_transform(
        Affine(MODIS_1KM, 0, UL_SIN[0], 0, -MODIS_1KM, UL_SIN[1]))


def _fine_same_crs(waves: Waves, shift: tuple[float, float], guide: bool = False) -> xr.DataArray:
    """A 250 m field whose content at labelled (x, y) belongs at (x + sx, y + sy)."""
    n = N_COARSE * 4 + 16
    x0, y0 = UL_SIN[0] - 8 * MODIS_250M, UL_SIN[1] + 8 * MODIS_250M
    x = x0 + (np.arange(n) + 0.5) * MODIS_250M
    y = y0 - (np.arange(n) + 0.5) * MODIS_250M
    xx, yy = np.meshgrid(x, y)
    v = waves.point(xx + shift[0], yy + shift[1])
    if guide:  # NDVI-like: anti-correlated with LST
        v = 0.5 - 0.02 * (v - 300.0)
    da = xr.DataArray(v, dims=("y", "x"), coords={"y": y, "x": x})
    return da.rio.write_crs(MODIS_SINUSOIDAL).rio.write_transform(
        Affine(MODIS_250M, 0, x0, 0, -MODIS_250M, y0))


def _fine_utm(waves: Waves, shift: tuple[float, float]) -> xr.DataArray:
    """The same on a UTM 31N grid: content shifted by (sx, sy) *sinusoidal* metres."""
    to_sin = Transformer.from_crs("EPSG:32631", MODIS_SINUSOIDAL, always_xy=True)
    cx, cy = Transformer.from_crs(MODIS_SINUSOIDAL, "EPSG:32631", always_xy=True).transform(
        UL_SIN[0] + N_COARSE * MODIS_1KM / 2, UL_SIN[1] - N_COARSE * MODIS_1KM / 2)
    res, n = 230.0, 200
    x0, y0 = cx - n * res / 2, cy + n * res / 2
    x = x0 + (np.arange(n) + 0.5) * res
    y = y0 - (np.arange(n) + 0.5) * res
    xx, yy = np.meshgrid(x, y)
    sx, sy = to_sin.transform(xx, yy)
    da = xr.DataArray(waves.point(sx + shift[0], sy + shift[1]), dims=("y", "x"),
                      coords={"y": y, "x": x}, attrs={"units": "K"})
    return da.rio.write_crs("EPSG:32631").rio.write_transform(Affine(res, 0, x0, 0, -res, y0))


@pytest.mark.parametrize("shift", [(-160.0, 175.0), (70.0, -40.0)])
def test_known_shift_and_psf_recovered_same_crs(shift):
    waves = Waves(1)
    lst = _coarse_lst(waves, sigma=370.0)
    fine = _fine_same_crs(waves, shift)
    est = estimate_offset(fine, lst, radiometric=False)
    tol = 0.05 * MODIS_250M
    assert abs(float(est.shift_x) - shift[0]) < tol
    assert abs(float(est.shift_y) - shift[1]) < tol
    assert abs(float(est.psf_sigma) - 370.0) < 0.1 * 370.0
    assert bool(est.reliable)
    assert float(est.mismatch_after) < 0.3 * float(est.mismatch_before)


def test_gaps_and_dask_inputs():
    waves = Waves(2)
    lst = _coarse_lst(waves, sigma=350.0)
    lst = lst.where(~((lst.x > lst.x[5]) & (lst.x < lst.x[15]) & (lst.y < lst.y[20])))  # cloud
    fine = _fine_same_crs(waves, (-120.0, 90.0))
    fine = fine.where(~((fine.y < fine.y[60]) & (fine.y > fine.y[110])))  # another gap
    est = estimate_offset(fine.chunk({"x": 64}), lst.chunk({"x": 10}), radiometric=False)
    assert abs(float(est.shift_x) + 120.0) < 0.05 * MODIS_250M
    assert abs(float(est.shift_y) - 90.0) < 0.05 * MODIS_250M
    assert int(est.n_valid) < N_COARSE**2 - 100  # the gaps were left out


def test_across_crs_utm_reference_on_sinusoidal_lst():
    waves = Waves(3)
    lst = _coarse_lst(waves, sigma=370.0)
    fine = _fine_utm(waves, (-150.0, 180.0))
    est = estimate_offset(fine, lst)
    assert abs(float(est.shift_x) + 150.0) < 0.05 * MODIS_250M
    assert abs(float(est.shift_y) - 180.0) < 0.05 * MODIS_250M
    assert abs(float(est.psf_sigma) - 370.0) < 0.1 * 370.0
    # coregister moves the UTM coordinates so that a second estimate finds no offset left
    moved = coregister(fine, lst)
    assert "xlstsr_coregistration" in moved.attrs
    again = estimate_offset(moved, lst)
    assert abs(float(again.shift_x)) < 0.05 * MODIS_250M
    assert abs(float(again.shift_y)) < 0.05 * MODIS_250M
    np.testing.assert_array_equal(moved.values, fine.values)  # no resampling


def test_anticorrelated_guide_is_aligned():
    waves = Waves(4)
    lst = _coarse_lst(waves, sigma=350.0)
    ndvi = _fine_same_crs(waves, (100.0, -60.0), guide=True)
    est = estimate_offset(ndvi, lst)
    assert float(est.correlation_after) < -0.9
    assert abs(float(est.shift_x) - 100.0) < 0.05 * MODIS_250M
    assert abs(float(est.shift_y) + 60.0) < 0.05 * MODIS_250M


def test_per_time_step_on_a_cube():
    waves = Waves(5)
    lst = xr.concat([_coarse_lst(waves, 350.0)] * 2, "time").assign_coords(time=[0, 1])
    fine = xr.concat([_fine_same_crs(waves, (50.0, 0.0)), _fine_same_crs(waves, (-50.0, 0.0))],
                     "time").assign_coords(time=[0, 1])
    est = estimate_offset(fine, lst, radiometric=False)
    assert est.shift_x.dims == ("time",)
    np.testing.assert_allclose(est.shift_x.values, [50.0, -50.0], atol=0.05 * MODIS_250M)


def test_unreliable_estimates_are_refused():
    waves = Waves(6)
    lst = _coarse_lst(waves, 350.0)
    fine = _fine_same_crs(waves, (0.0, 0.0))
    rng = np.random.default_rng(0)
    noise = fine.copy(data=rng.normal(300, 2, fine.shape))
    with pytest.raises(CoregistrationError, match=r"hardly correlate|flat"):
        estimate_offset(noise, lst)
    few = fine.where((fine.x < fine.x[30]) & (fine.y > fine.y[30]))  # a corner only
    with pytest.raises(CoregistrationError, match="valid"):
        estimate_offset(few, lst)
    far = _fine_same_crs(waves, (700.0, 0.0))  # 3 fine pixels: beyond a 1-pixel bound
    with pytest.raises(CoregistrationError, match="bound"):
        estimate_offset(far, lst, max_shift=MODIS_250M)
    flat = fine.copy(data=np.full(fine.shape, 300.0))
    with pytest.raises(CoregistrationError):
        estimate_offset(flat, lst)
    est = estimate_offset(noise, lst, errors="ignore")
    assert not bool(est.reliable)
    with pytest.warns(UserWarning, match="unreliable"):
        estimate_offset(noise, lst, errors="warn")


def test_real_pairs_consistent_and_coregistration_lowers_mismatch(shared_data):
    from xlstsr.datasets.modis_aster import open_modis_aster_pair

    rows = []
    for pid in ("001", "020", "052", "068", "075", "082"):
        lst, _, aster = open_modis_aster_pair(pid, root=shared_data, truth_mask=True)
        est = estimate_offset(aster, lst)
        assert bool(est.reliable)
        assert float(est.bias_removed_after) < float(est.bias_removed_before)
        rows.append((float(est.shift_x), float(est.shift_y), float(est.psf_sigma)))
    a = np.array(rows)
    # ASTER content ~175 m north and ~150 m west of MODIS; spread measured over 55 pairs:
    # 80 m in x, 26 m in y, 35 m in sigma (docs/results/accuracy.md)
    assert np.all(a[:, 1] > 100) and np.all(a[:, 1] < 250)
    assert np.all(a[:, 0] < 50) and np.all(a[:, 0] > -350)
    assert a[:, 0].std() < 120 and a[:, 1].std() < 50
    assert np.all((a[:, 2] > 250) & (a[:, 2] < 500))


def test_coregister_keeps_the_estimate_and_refuses_nothing_reliable():
    s = xlstsr.datasets.sample_scene(n_times=1)
    fine, lst = s["lst_250m"].isel(time=0), s["lst_1km"].isel(time=0)
    out = coregister(fine, lst)
    assert out.rio.crs == fine.rio.crs
    rng = np.random.default_rng(1)
    with pytest.raises(CoregistrationError):
        coregister(fine.copy(data=rng.normal(300, 1, fine.shape)), lst)


def test_upscale_checks_and_corrects_the_guide_offset():
    import warnings

    from helpers import raise_if_computed

    from xlstsr.errors import GuideAlignmentWarning

    waves = Waves(7)
    lst = _coarse_lst(waves, sigma=350.0)
    ndvi = _fine_same_crs(waves, (0.0, 0.0), guide=True)
    # the guide's content belongs 0.7 pixel west and 0.6 pixel north of its labels
    off = _fine_same_crs(waves, (-0.7 * MODIS_250M, 0.6 * MODIS_250M), guide=True)
    with warnings.catch_warnings():
        warnings.simplefilter("error", GuideAlignmentWarning)
        ref = xlstsr.upscale(lst, 4, "tsharp", guide=ndvi)  # aligned: no warning
    with pytest.warns(GuideAlignmentWarning, match="offset from the LST.*Pass guide_offset='auto'"):
        xlstsr.upscale(lst, 4, "tsharp", guide=off, guide_offset="check")
    with pytest.warns(GuideAlignmentWarning, match="reprojected"):  # moved back, then resampled
        fixed = xlstsr.upscale(lst, 4, "tsharp", guide=off, guide_offset="auto")
    # the default on in-memory inputs: moved back, and said so
    with pytest.warns(GuideAlignmentWarning, match="offset from the LST.*moved back by it"):
        default = xlstsr.upscale(lst, 4, "tsharp", guide=off)
    np.testing.assert_array_equal(default.values, fixed.values)
    raw = xlstsr.upscale(lst, 4, "tsharp", guide=off, guide_offset="ignore")
    xx, yy = np.meshgrid(ref.x.values, ref.y.values)
    truth = ref.copy(data=waves.pixel(xx, yy, MODIS_250M, 0.0))
    err = {k: float(np.sqrt(np.nanmean((v.values - truth.values) ** 2)))
           for k, v in {"ref": ref, "fixed": fixed, "raw": raw}.items()}
    assert err["fixed"] < err["ref"] + 0.25 * (err["raw"] - err["ref"])
    # lazy inputs: the default reads nothing ("check"); "auto" reads one window and corrects
    with raise_if_computed():
        xlstsr.upscale(lst.chunk(), 4, "tsharp", guide=off.chunk())
    with pytest.warns(GuideAlignmentWarning, match="moved back by it"):
        lazy = xlstsr.upscale(lst.chunk(), 4, "tsharp", guide=off.chunk(), guide_offset="auto")
    np.testing.assert_allclose(lazy.values, fixed.values, atol=1e-4)


def test_misfit_surface_is_lowest_at_the_known_shift():
    from xlstsr.coregister import misfit_surface

    waves = Waves(8)
    lst = _coarse_lst(waves, sigma=350.0)
    fine = _fine_same_crs(waves, (-100.0, 150.0))
    shifts = np.arange(-300.0, 301.0, 50.0)
    m = misfit_surface(fine, lst, shifts, psf_sigma=350.0, radiometric=False)
    iy, ix = np.unravel_index(int(np.argmin(m.values)), m.shape)
    assert (float(m.shift_x[ix]), float(m.shift_y[iy])) == (-100.0, 150.0)


@pytest.mark.parametrize(("factor", "pad"), [(4, 16), (4, 10), (3, 9), (2, 7), (5, 15)])
@pytest.mark.parametrize("radiometric", [False, True])
def test_row_fold_gives_the_whole_field_forward_model(factor, pad, radiometric):
    # the forward model folds the row spectrum onto the coarse rows (the inverse FFT along y on
    # f times fewer rows) when the padded rows are a multiple of the factor: the same
    # prediction and observed fraction as the whole padded field's inverse FFT, to round-off
    from scipy import ndimage

    from xlstsr.kernels import coregister as kc

    rng = np.random.default_rng(7)
    shape = (11 * factor, 8 * factor)
    fine = 300 + 20 * ndimage.gaussian_filter(rng.standard_normal(shape), 2)
    fine[rng.random(shape) < 0.1] = np.nan  # scattered gaps: the weights differ by pixel
    fine[:6, :] = np.nan  # and a band at the edge
    folded = kc._Forward(fine, factor, pad, radiometric)
    whole = kc._Forward(fine, factor, pad, radiometric)
    assert folded._row_fold is not None  # else this compares the whole field with itself
    whole._row_fold = None
    for dy, dx, sigma in ((0.0, 0.0, 0.0), (0.7, -1.2, 0.0), (-2.0, 1.5, 1.3), (0.25, 2.0, 0.4)):
        (p1, w1), (p2, w2) = folded(dy, dx, sigma), whole(dy, dx, sigma)
        assert p1.shape == p2.shape == (11, 8) and w1.shape == w2.shape
        np.testing.assert_allclose(w1, w2, rtol=0, atol=1e-12)
        # where nothing is observed (the edge band) both are round-off over round-off, which
        # every use drops (min_weight); the rest is the same prediction
        seen = w2 > 0.01
        assert seen.sum() > 60 and (dy != 0 or not seen[0].any())
        np.testing.assert_allclose(p1[seen], p2[seen], rtol=0, atol=1e-9)
    # an even factor with an odd padding: the padded rows are not a multiple of it
    assert kc._Forward(fine, 4, 9, radiometric)._row_fold is None or factor != 4


def test_a_fine_field_of_partial_blocks_is_refused_with_the_fold_too():
    # the row fold would have cut the extra rows off without a word (66 rows, factor 4, padded
    # to 96): block_view's error, as on the whole-field path (compared_in checks no shape)
    from xlstsr.kernels import coregister as kc

    fine = np.random.default_rng(1).standard_normal((66, 64))
    for shift in (1.0, 2.0):  # padded rows 96 (a multiple of 4) and 98
        with pytest.raises(ValueError, match="not a multiple of factor 4"):
            kc.compared_in(fine, np.zeros((16, 16)), 4, psf=False, max_shift=shift)


@pytest.mark.parametrize(
    ("factor", "shape", "sigma", "radiometric", "block"),
    [(4, (84, 76), 1.1, False, None), (4, (84, 76), 1.1, True, 1),
     (3, (81, 78), 0.0, True, None), (3, (81, 78), 0.6, False, 2)],
)
def test_separable_surface_equals_the_fourier_forward_model(factor, shape, sigma, radiometric,
                                                            block, monkeypatch):
    # the grid search and misfit_surface use the separable form (one matrix per axis and
    # candidate, the dx candidates in blocks); it must be the same objective as the 2-D FFT
    # forward model the refinement uses: padded sides even (84 + 18, 76 + 18) and odd (81 + 18),
    # a box (sigma 0: the Nyquist term unblurred), blocks of one and two candidates
    from scipy import ndimage

    from xlstsr.kernels import coregister as kc

    if block is not None:  # forced: blocks of `block` dx candidates
        ny, nx = shape
        per = max(nx * nx // factor, (ny // factor) * (nx // factor) * 4)
        monkeypatch.setattr(kc, "_SURFACE_BLOCK", block * per)
    rng = np.random.default_rng(4)
    fine = 300 + 20 * ndimage.gaussian_filter(rng.standard_normal(shape), 3)
    fine[10:30, 5:25] = np.nan  # a gap: the normalised convolution's weights count
    coarse = kc.forward_model(fine, factor, 0.7, -1.2, sigma, radiometric=radiometric,
                              min_weight=0.5)
    coarse[:3, :4] = np.nan
    coarse += 0.05 * rng.standard_normal(coarse.shape)
    fwd = kc._Forward(fine, factor, 9, radiometric)
    dys, dxs = np.linspace(-2, 2, 9), np.array([-1.25, -0.3, 0.0, 2.0, 0.7])
    surface = fwd.surface(dys, dxs, sigma, coarse, 0.95)
    loop = np.array([[kc._fit(np.where((pw := fwd(dy, dx, sigma))[1] >= 0.95, pw[0], np.nan),
                              coarse)[0] for dx in dxs] for dy in dys])
    np.testing.assert_allclose(surface, loop, rtol=0, atol=1e-10)
    assert np.all(np.isfinite(surface)) and surface.min() < 0.05
    pred, w = fwd(0.7, -1.2, sigma)  # one candidate
    np.testing.assert_allclose(fwd.surface(np.array([0.7]), np.array([-1.2]), sigma, coarse, 0.95),
                               [[kc._fit(np.where(w >= 0.95, pred, np.nan), coarse)[0]]],
                               atol=1e-10)

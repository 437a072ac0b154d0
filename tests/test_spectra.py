"""The one spectral estimator (xlstsr.kernels.spectra) against values computed independently."""

from __future__ import annotations

import numpy as np
import pytest
from scipy import ndimage

from xlstsr.kernels import spectra as ksp


def _clouds(shape: tuple[int, int], cover: float, seed: int, sigma: float = 5.0) -> np.ndarray:
    """Blob-shaped gaps covering ``cover`` of the image."""
    f = ndimage.gaussian_filter(np.random.default_rng(seed).standard_normal(shape), sigma)
    return f > np.quantile(f, 1.0 - cover)


def test_periodogram_parseval_and_peak():
    # a plane plus a separable cosine (3 cycles along y, 5 along x): the detrending removes the
    # plane exactly (the cosine is orthogonal to 1, y and x), all the power sits at |k| = sqrt(34)/n
    # and, without a window, the mean power per coefficient is the cosine's variance A^2 / 4
    n, amp = 64, 3.0
    yy, xx = np.mgrid[0:n, 0:n]
    a = 290 + 0.2 * yy - 0.1 * xx + amp * np.cos(2 * np.pi * 3 * yy / n) * np.cos(2 * np.pi * 5 * xx / n)
    k, p, w = ksp.periodogram(a, window=False)
    assert np.sum(p * w) / a.size == pytest.approx(amp**2 / 4, rel=1e-9)
    assert k.flat[np.argmax(p)] == pytest.approx(np.sqrt(34) / n)
    # pixel size: cycles per metre and power per cycle^2 m^-2
    k250, p250, _ = ksp.periodogram(a, window=False, pixel_size=250.0)
    np.testing.assert_allclose(k250, k / 250.0)
    np.testing.assert_allclose(p250, p * 250.0**2)
    with pytest.raises(ValueError, match="2-D"):
        ksp.periodogram(np.ones((2, 8, 8)))
    with pytest.raises(ValueError, match="no finite value"):
        ksp.periodogram(np.full((8, 8), np.nan))


@pytest.mark.parametrize("cover", [0.0, 0.3])
def test_white_noise_density_is_its_variance_whatever_the_gaps(cover):
    # normalised by the window energy over the valid pixels: gaps do not lower the level
    sigma = 2.0
    a = 300 + sigma * np.random.default_rng(1).standard_normal((128, 128))
    a[_clouds(a.shape, cover, 2)] = np.nan
    k, p, n = ksp.radial_power_spectrum(a)
    assert np.average(p, weights=n) == pytest.approx(sigma**2, rel=0.05)
    assert k.shape == p.shape == (64,)
    assert k[-1] == pytest.approx(0.5, abs=0.01)


def test_radial_spectrum_peak_units_and_log_bins():
    n, k0 = 64, 8
    x = np.mgrid[0:n, 0:n][1]
    a = 300 + np.sin(2 * np.pi * k0 * x / n)
    k, p, _ = ksp.radial_power_spectrum(a)
    assert k[np.argmax(p)] == pytest.approx(k0 / n, rel=0.02)
    k250, p250, _ = ksp.radial_power_spectrum(a, pixel_size=250.0)
    np.testing.assert_allclose(k250, k / 250.0)
    np.testing.assert_allclose(p250, p * 250.0**2)
    edges = ksp.log_wavenumber_edges(a.shape, 8)
    kl, pl, cl = ksp.radial_power_spectrum(a, edges)
    assert edges[0] == 1 / n and len(kl) == 8
    hit = np.flatnonzero((edges[:-1] <= k0 / n) & (edges[1:] > k0 / n))[0]
    assert np.nanargmax(pl) == hit
    full = np.hypot(np.fft.fftfreq(n)[:, None], np.fft.fftfreq(n)[None, :])
    assert cl.sum() == np.sum((full >= edges[0]) & (full < edges[-1]))  # every coefficient once


def test_gap_taper_is_the_cosine_ramp():
    v = np.ones((5, 12), bool)
    v[:, 0] = False
    t = ksp.gap_taper(v, 4.0)
    d = np.arange(12.0)  # distance to the gap column
    expected = np.where(d == 0, 0.0, 0.5 * (1 - np.cos(np.pi * np.clip((d - 0.5) / 4, 0, 1))))
    np.testing.assert_allclose(t, np.broadcast_to(expected, v.shape))
    np.testing.assert_array_equal(ksp.gap_taper(np.ones((3, 3), bool), 4.0), 1.0)
    np.testing.assert_array_equal(ksp.gap_taper(v, 0.0), v.astype(float))


def test_spectral_ratio_of_a_scaled_copy_is_the_square_of_the_scale():
    rng = np.random.default_rng(3)
    ref = 300 + 3 * ndimage.gaussian_filter(rng.standard_normal((2, 96, 80)), (0, 2, 2))
    ref += rng.standard_normal(ref.shape)
    ref[:, _clouds((96, 80), 0.25, 4)] = np.nan
    for c in (0.3, 1.7):
        np.testing.assert_allclose(ksp.spectral_ratio(300 + c * (ref - 300), ref, 4), [c**2, c**2],
                                   rtol=1e-9)
    # gaps of either field count for both
    sr = ref.copy()
    sr[0, 40:60, 10:30] = np.nan
    assert ksp.spectral_ratio(sr[0], ref[0] * 1.0, 4) == pytest.approx(1.0)


def test_spectral_ratio_counts_only_wavenumbers_above_half_the_coarse_nyquist():
    rng = np.random.default_rng(5)
    n = 128
    ref = 300 + rng.standard_normal((n, n))  # white, variance 1
    x = np.mgrid[0:n, 0:n][1]
    # a sinusoid far above the cut-off 1/16 (0.25 cycles/px) of variance A^2 / 2 adds
    # A^2 / 2 / (1 - pi / 16^2) of the band's power (white noise spreads its variance evenly over
    # the wavenumber square, of which the disc |k| <= 1/16 is left out)
    amp = 1.0
    expected = 1 + amp**2 / 2 / (1 - np.pi / 16**2)
    assert ksp.spectral_ratio(ref + amp * np.sin(2 * np.pi * 0.25 * x), ref, 4) == pytest.approx(
        expected, rel=0.05)
    # one cycle per image, far below the cut-off: almost nothing
    low = 5 * np.sin(2 * np.pi * x / n)
    assert ksp.spectral_ratio(ref + low, ref, 4) == pytest.approx(1.0, abs=0.03)
    # independent white noises: the ratio of their variances, with gaps too (mean of 5 draws:
    # one draw scatters by about 4 %)
    ratios = []
    for seed in range(5):
        g = np.random.default_rng(10 + seed)
        one, two = 300 + g.standard_normal((n, n)), 300 + 2 * g.standard_normal((n, n))
        two[_clouds((n, n), 0.3, 20 + seed)] = np.nan
        ratios.append(ksp.spectral_ratio(two, one, 4))
    assert np.mean(ratios) == pytest.approx(4.0, rel=0.05)


def _fill_ratio(a: np.ndarray, b: np.ndarray, factor: int) -> float:
    """The same ratio with gaps merely set to the plane (no taper): the rejected alternative."""
    def band(x):
        k, p, w = ksp.periodogram(x)
        return np.sum((p * w)[k > 1 / (4 * factor)])

    return band(a) / band(b)


def _power_law_field(rng: np.random.Generator, n: int, slope: float) -> np.ndarray:
    """A Gaussian field whose power spectrum is ``|k|^slope`` (spectral synthesis), std 3 K."""
    k = np.hypot(np.fft.fftfreq(n)[:, None], np.fft.rfftfreq(n)[None, :])
    k[0, 0] = 1.0
    amp = k ** (slope / 2)
    amp[0, 0] = 0.0
    z = rng.standard_normal(k.shape) + 1j * rng.standard_normal(k.shape)
    a = np.fft.irfft2(amp * z, s=(n, n))
    return 300 + 3 * a / a.std()


def test_apodised_gaps_bias_the_ratio_less_than_filled_gaps():
    # LST-like fields (spectral slope -3), a bicubic "super-resolution" of their factor-4 block
    # means (too smooth) and one with 1.5 times the right detail (too sharp), 30 % cloud blobs:
    # gap edges add the same spurious power to both fields, pulling the ratio towards 1. Against
    # the gap-free ratio, the apodised mask errs less than gaps merely set to the plane.
    from xlstsr.kernels.aggregate import block_mean
    from xlstsr.kernels.interp import cubic_upsample

    err_taper, err_fill = [], []
    for seed in range(8):
        rng = np.random.default_rng(seed)
        ref = _power_law_field(rng, 128, -3.0)
        bicubic = cubic_upsample(block_mean(ref, 4), 4)
        cloud = _clouds(ref.shape, 0.3, 100 + seed)
        for sr in (bicubic, bicubic + 1.5 * (ref - bicubic)):
            clear = ksp.spectral_ratio(sr, ref, 4)
            a, b = np.where(cloud, np.nan, sr), np.where(cloud, np.nan, ref)
            err_taper.append(abs(np.log(ksp.spectral_ratio(a, b, 4) / clear)))
            err_fill.append(abs(np.log(_fill_ratio(a, b, 4) / clear)))
    assert np.mean(err_taper) < np.mean(err_fill)


def test_spectral_ratio_undefined_cases():
    a = np.full((3, 40, 40), 300.0) + np.random.default_rng(0).standard_normal((3, 40, 40))
    b = a.copy()
    b[0] = np.nan  # nothing valid
    b[1, :, :] = np.nan
    b[1, :3, :5] = 300.0  # 15 valid pixels: too few
    b[2, :, 8:] = np.nan  # valid box 40 x 8: side <= 2 factor
    out = ksp.spectral_ratio(a, b, 4)
    assert np.isnan(out).all()
    assert np.isfinite(ksp.spectral_ratio(a[2], a[2, ::-1], 4))

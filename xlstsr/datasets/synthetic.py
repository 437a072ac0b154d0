"""Synthetic fields and the embedded sample scene, made by package code (no data files).

Two kinds of random fractal fields, for two uses:

- :func:`fbm_surface`: an *exact* isotropic fractional Brownian surface (circulant embedding):
  its structure function is ``S_2(l) ~ l^(2H)`` at every lag, so it validates estimators of the
  Hurst exponent and of scaling laws. Its cost grows with the embedding (about 8 times the pixels
  for ``H <= 0.75``, 32 times above).
- the texture of :func:`sample_scene`: power-law noise by spectral synthesis (power
  ``~ k^-(2H+2)`` on a periodic grid), as cheap as one FFT of the scene. It is not an exact fBm
  (measured: ``H = 0.3`` reads as ``H ~ 0.39`` from its structure function), which a demo scene
  does not need, and it keeps ``sample_scene(size=2048)`` fast.
"""

from __future__ import annotations

import numpy as np
import pandas as pd
import rioxarray  # noqa: F401  (registers .rio)
import xarray as xr
from affine import Affine
from scipy import ndimage
from scipy.spatial import cKDTree

from ..errors import XlstsrError
from ..grid import MODIS_250M, MODIS_SINUSOIDAL, grid_coords
from ..kernels.aggregate import radiometric_mean

__all__ = ["fbm_surface", "sample_scene"]

# upper-left corner of the sample scene: inside MODIS tile h18v04 (western Europe)
_UL_X = 200 * 4 * MODIS_250M
_UL_Y = 5 * 1200 * 4 * MODIS_250M - 300 * 4 * MODIS_250M


def fbm_surface(
    shape: int | tuple[int, int], hurst: float, rng: np.random.Generator
) -> np.ndarray:
    """An exact isotropic fractional Brownian surface, zero mean and unit standard deviation.

    Circulant embedding of Stein's (2002) intrinsic covariance ``c0 - r^(2H) + c2 r^2`` (with a
    cubic taper to ``R = 2`` for ``H > 0.75``), plus the random linear term that restores the fBm
    variogram. Exact for point pairs up to distance 1, which the grid (its diagonal scaled to 1)
    satisfies: ``S_2(l) ~ l^(2H)`` at every lag, unlike spectral synthesis on a periodic grid
    (biased at small lags for small H and at large lags for large H). The field is then shifted
    and scaled to zero mean and unit standard deviation (which leaves the scaling law unchanged).

    Parameters
    ----------
    shape : int or (int, int)
        Grid size ``(ny, nx)`` (an int for a square), at least 2 pixels along one side.
    hurst : float
        Hurst exponent, in (0, 1).
    rng : numpy.random.Generator
        Source of the random draws (the field is reproducible from its seed).

    Returns
    -------
    ndarray, float64, ``shape``

    Examples
    --------
    >>> f = fbm_surface(64, 0.5, np.random.default_rng(0))
    >>> f.shape, round(float(f.mean()), 12), round(float(f.std()), 12)
    ((64, 64), 0.0, 1.0)
    """
    ny, nx = (shape, shape) if np.ndim(shape) == 0 else tuple(shape)
    if not 0.0 < hurst < 1.0:
        raise ValueError(f"hurst must be in (0, 1), got {hurst}")
    if min(ny, nx) < 1 or max(ny, nx) < 2:
        raise ValueError(f"shape must have at least 2 pixels along one side, got {(ny, nx)}")
    alpha = 2.0 * hurst
    if alpha <= 1.5:
        big_r, beta, c2 = 1.0, 0.0, alpha / 2.0
        c0 = 1.0 - alpha / 2.0
    else:
        big_r = 2.0
        beta = alpha * (2.0 - alpha) / (3.0 * big_r * (big_r**2 - 1.0))
        c2 = (alpha - beta * (big_r - 1.0) ** 2 * (big_r + 2.0)) / 2.0
        c0 = beta * (big_r - 1.0) ** 3 + 1.0 - c2
    s = 1.0 / np.hypot(ny - 1, nx - 1)  # grid step: the diagonal has length 1
    m = int(np.ceil(big_r / s)) + 1
    t = np.arange(m) * s
    r = np.hypot(t[:, None], t[None, :])
    with np.errstate(divide="ignore", invalid="ignore"):
        taper = beta * (big_r - r) ** 3 / np.where(r > 0, r, 1.0)
        rho = np.where(r <= 1.0, c0 - r**alpha + c2 * r**2, np.where(r <= big_r, taper, 0.0))
    row = np.concatenate([rho, rho[:, -2:0:-1]], axis=1)
    circ = np.concatenate([row, row[-2:0:-1, :]], axis=0)
    lam = np.sqrt(np.maximum(np.fft.fft2(circ).real / circ.size, 0.0))
    z = rng.standard_normal(circ.shape) + 1j * rng.standard_normal(circ.shape)
    f = np.fft.fft2(lam * z)[:ny, :nx].real
    lin = rng.standard_normal() * (np.arange(ny) * s)[:, None] + rng.standard_normal() * (
        np.arange(nx) * s
    )[None, :]
    f = f - f[0, 0] + np.sqrt(2.0 * c2) * lin
    return (f - f.mean()) / f.std()


def _power_law_noise(shape: tuple[int, int], hurst: float, rng: np.random.Generator) -> np.ndarray:
    """Texture of the sample scene: power ``~ k^-(2H + 2)`` by spectral synthesis, unit std.

    Periodic and only fBm-like (see the module docstring); one FFT of the grid, any size.
    """
    ny, nx = shape
    ky = np.fft.fftfreq(ny)[:, None]
    kx = np.fft.rfftfreq(nx)[None, :]
    k = np.hypot(ky, kx)
    k[0, 0] = 1.0
    amp = k ** (-(hurst + 1.0))
    amp[0, 0] = 0.0
    phase = rng.standard_normal((ny, nx // 2 + 1)) + 1j * rng.standard_normal((ny, nx // 2 + 1))
    field = np.fft.irfft2(amp * phase, s=shape)
    return (field - field.mean()) / field.std()


def _georef(da: xr.DataArray, res: float) -> xr.DataArray:
    t = Affine(res, 0.0, _UL_X, 0.0, -res, _UL_Y)
    y, x = grid_coords(t, (da.sizes["y"], da.sizes["x"]))
    da = da.assign_coords(y=("y", y, {"units": "m"}), x=("x", x, {"units": "m"}))
    return da.rio.write_crs(MODIS_SINUSOIDAL).rio.write_transform(t)


def sample_scene(
    n_times: int = 3,
    size: int = 256,
    factor: int = 4,
    *,
    cloud_fraction: float = 0.12,
    seed: int = 0,
) -> dict[str, xr.DataArray]:
    """A synthetic, physically plausible LST/NDVI scene, made by package code (no data files).

    **Synthetic**: for demos, tests and docs, not for science. At 250 m: an NDVI field of crop
    parcels (Voronoi cells), a town, a river and forest texture; LST anti-correlated with NDVI
    (about -15 K per NDVI unit), an urban heat island, cooler water, and multiscale (fBm)
    variability (power-law noise); cloud gaps per time step. The 1 km LST is its radiometric aggregate
    (``(mean T^4)^(1/4)``); a 1 km pixel touched by cloud is a gap. MODIS sinusoidal CRS.

    Parameters
    ----------
    n_times : int
        Number of daily time steps.
    size : int
        Fine grid size (pixels); must be a multiple of ``factor``.
    factor : int
        Ratio between the fine (250 m) and coarse grid.
    cloud_fraction : float
        Approximate cloud-covered fraction per time step (0 for none).
    seed : int
        Random seed: the scene is reproducible.

    Returns
    -------
    dict of DataArray
        ``lst_250m`` (time, y, x; the truth), ``ndvi_250m`` (y, x), ``lst_1km`` (time, y, x; the
        input to super-resolve).

    Examples
    --------
    >>> scene = sample_scene()
    >>> sorted(scene)
    ['lst_1km', 'lst_250m', 'ndvi_250m']
    """
    from ..validate import check_number, check_whole

    # numpy's OverflowError, a ZeroDivisionError or an empty scene were the answers before
    n_times = check_whole("n_times", n_times, 1, hint="daily time steps, e.g. 3")
    factor = check_whole("factor", factor, 1, hint="fine pixels per coarse pixel, e.g. 4")
    size = check_whole("size", size, factor, hint=f"fine pixels per side, a multiple of {factor}")
    cloud_fraction = check_number("cloud_fraction", cloud_fraction, 0, 0.95,
                                  hint="the cloudy share of each step, e.g. 0.12")
    if isinstance(seed, bool) or not isinstance(seed, (int, np.integer)):
        raise XlstsrError(f"seed must be a whole number, got {seed!r}")
    if size % factor:
        raise XlstsrError(f"size {size} must be a multiple of factor {factor}")
    rng = np.random.default_rng(seed)
    shape = (size, size)
    yy, xx = np.mgrid[0:size, 0:size] / size

    # crop parcels: Voronoi cells with per-crop NDVI
    pts = rng.uniform(0, 1, (max(20, size * size // 600), 2))
    _, cell = cKDTree(pts).query(np.stack([yy.ravel(), xx.ravel()], -1))
    crop_ndvi = rng.choice([0.18, 0.35, 0.55, 0.72, 0.85], size=len(pts), p=[0.2, 0.2, 0.2, 0.2, 0.2])
    ndvi = crop_ndvi[cell].reshape(shape)
    forest = ndimage.gaussian_filter(_power_law_noise(shape, 0.7, rng), 2) > 1.0
    ndvi = np.where(forest, 0.82, ndvi) + 0.04 * _power_law_noise(shape, 0.3, rng)
    town = np.hypot(yy - 0.35, (xx - 0.6) * 1.2) + 0.04 * _power_law_noise(shape, 0.5, rng) < 0.13
    ndvi = np.where(town, 0.12 + 0.05 * rng.random(shape), ndvi)
    river_y = 0.75 + 0.06 * np.sin(6 * np.pi * xx[0]) + 0.02 * np.sin(17 * np.pi * xx[0])
    river = np.abs(yy - river_y[None, :]) < 0.012
    ndvi = np.clip(np.where(river, -0.15, ndvi), -0.3, 0.95)

    relief = _power_law_noise(shape, 0.8, rng)  # large-scale (elevation/moisture) structure
    times = pd.date_range("2020-07-01", periods=n_times, freq="D")
    lst = np.empty((n_times, *shape), np.float32)
    clouds = np.zeros((n_times, *shape), bool)
    for t in range(n_times):
        t0 = 302.0 + 3.0 * np.sin(t)
        slope = -15.0 - 3.0 * np.cos(t)
        field = (t0 + slope * (ndvi - 0.5) + 2.0 * relief + 1.2 * _power_law_noise(shape, 0.35, rng)
                 + np.where(town, 4.0, 0.0))
        lst[t] = np.where(river, 293.0 + 0.3 * _power_law_noise(shape, 0.5, rng), field)
        if cloud_fraction > 0:
            c = ndimage.gaussian_filter(_power_law_noise(shape, 0.9, rng), 3)
            clouds[t] = c > np.quantile(c, 1 - cloud_fraction)
    lst_fine = np.where(clouds, np.nan, lst).astype(np.float32)
    lst_coarse = radiometric_mean(lst_fine, factor, min_valid=1.0)

    attrs = {"standard_name": "surface_temperature", "units": "K",
             "comment": "SYNTHETIC sample scene generated by xlstsr.datasets.sample_scene"}
    fine = _georef(xr.DataArray(lst_fine, dims=("time", "y", "x"), coords={"time": times},
                                name="lst_250m", attrs={**attrs, "long_name": "LST at 250 m (truth)"}), MODIS_250M)
    coarse = _georef(xr.DataArray(lst_coarse, dims=("time", "y", "x"), coords={"time": times},
                                  name="lst_1km", attrs={**attrs, "long_name": "LST at 1 km"}),
                     MODIS_250M * factor)
    nd = _georef(xr.DataArray(ndvi.astype(np.float32), dims=("y", "x"), name="ndvi_250m",
                              attrs={"long_name": "NDVI at 250 m", "units": "1",
                                     "comment": attrs["comment"]}), MODIS_250M)
    return {"lst_1km": coarse, "lst_250m": fine, "ndvi_250m": nd}

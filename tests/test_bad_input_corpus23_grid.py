"""Twenty-third round of bad inputs (grid labels, scalar steps, a CF Dataset to coarsen):
round trips that gave labels 1e-9 m off the input's (xarray's arithmetic then dropped most
pixels), a scalar coordinate never matching its own label, and ``xlstsr.coarsen`` of a Dataset
losing its CRS.
"""

from __future__ import annotations

import warnings

import numpy as np
import pytest
import rioxarray
import xarray as xr
from affine import Affine

import xlstsr
from xlstsr import errors
from xlstsr.grid import MODIS_1KM, MODIS_250M, MODIS_SINUSOIDAL
from xlstsr.steps import check_scalar_steps
from xlstsr.validate import _written_transform

_TILE = 1200 * MODIS_1KM
_MODIS_X0, _MODIS_Y0 = -20015109.354, 10007554.677
#: name: (pixel, left or bottom edge x, top edge y (bottom for south-up), CRS, south-up)
_GRIDS = {
    "modis_1km": (MODIS_1KM, _MODIS_X0 + 9 * _TILE + 37 * MODIS_1KM,
                  _MODIS_Y0 - 5 * _TILE - 11 * MODIS_1KM, MODIS_SINUSOIDAL, False),
    "modis_500m": (463.3127165, _MODIS_X0 + 8 * _TILE + 101 * 463.3127165,
                   _MODIS_Y0 - 4 * _TILE - 7 * 463.3127165, MODIS_SINUSOIDAL, False),
    "modis_250m": (MODIS_250M, _MODIS_X0 + 17 * _TILE + 333 * MODIS_250M,
                   _MODIS_Y0 - 12 * _TILE - 3 * MODIS_250M, MODIS_SINUSOIDAL, False),
    "utm_30m": (30.0, 399960.0 + 30 * 77, 4600020.0 - 30 * 41, "EPSG:32631", False),
    "utm_90m": (90.0, 400590.0, 4599570.0, "EPSG:32631", False),
    "utm_30m_south_up": (30.0, 500010.0, 4100040.0, "EPSG:32631", True),
    "latlon_001": (0.01, -3.55, 46.12, "EPSG:4326", False),
}


def _geotiff(tmp_path, name: str, n: int = 48) -> xr.DataArray:
    """A field as read from a GeoTIFF with rioxarray: its labels computed from the file's
    transform."""
    pixel, x0, y0, crs, south = _GRIDS[name]
    t = Affine(pixel, 0.0, x0, 0.0, pixel, y0) if south else Affine(pixel, 0.0, x0, 0.0, -pixel, y0)
    rng = np.random.default_rng(0)
    da = xr.DataArray((290 + rng.standard_normal((n, n))).astype(np.float32), dims=("y", "x"))
    path = tmp_path / f"{name}.tif"
    da.rio.write_crs(crs).rio.write_transform(t).rio.to_raster(path)
    return rioxarray.open_rasterio(path).squeeze("band", drop=True).load().rename("lst")


def _same_labels(a: xr.DataArray, b: xr.DataArray) -> bool:
    # upscale returns a north-up field: a south-up input's labels in the other order
    return all(np.array_equal(np.sort(a[d].values), np.sort(b[d].values)) for d in ("x", "y"))


def _consistent(da: xr.DataArray) -> bool:
    """The transform written with the result agrees with its labels."""
    w = _written_transform(da)
    return np.allclose(tuple(w)[:6], tuple(da.rio.transform(recalc=True))[:6], rtol=1e-9,
                       atol=1e-9 * abs(w.a))


@pytest.mark.parametrize("factor", [2, 3, 4, 8])
@pytest.mark.parametrize("name", list(_GRIDS))
def test_round_trips_keep_the_input_labels_of_a_geotiff(tmp_path, name, factor):
    """``coarsen(upscale(lst))`` and ``upscale(coarsen(t))`` gave x/y labels 1e-10..1e-9 m off
    the input's (MODIS sinusoidal, lat/lon): ``back - lst`` inner-joined away most pixels."""
    field = _geotiff(tmp_path, name)
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        back = xlstsr.coarsen(xlstsr.upscale(field, factor), factor)
        assert _same_labels(back, field) and _consistent(back)
        assert (back - field).shape == field.shape
        sr = xlstsr.upscale(xlstsr.coarsen(field, factor), factor)
        assert _same_labels(sr, field) and _consistent(sr)
        assert (sr - field).shape == field.shape


@pytest.mark.parametrize("factor", [2, 3, 4, 8])
@pytest.mark.parametrize("labels", ["arange", "decimals"])
def test_coarsen_of_upscale_keeps_labels_made_by_hand(factor, labels):
    """Labels without a transform (a NetCDF's lat/lon, ``np.arange``): the field an upscale
    is coarsened back to has them exactly, whatever they are."""
    n = 24
    lat = 46.115 - 0.01 * np.arange(n)
    lon = -3.545 + 0.01 * np.arange(n)
    if labels == "decimals":
        lat, lon = np.round(lat, 3), np.round(lon, 3)
    lst = xr.DataArray(290 + np.random.default_rng(1).standard_normal((n, n)),
                       dims=("lat", "lon"), coords={"lat": lat, "lon": lon}).rio.write_crs("EPSG:4326")
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        back = xlstsr.coarsen(xlstsr.upscale(lst, factor), factor)
    assert np.array_equal(back.lat.values, lat) and np.array_equal(back.lon.values, lon)
    assert (back - lst).shape == lst.shape


@pytest.mark.parametrize("factor", [2, 3, 4, 8])
def test_round_trips_of_the_embedded_samples(factor):
    """The README's check (``sr.lstsr.coarsen(4)`` close to the input) and the 4 km -> 1 km
    experiment on the real MODIS sample: 43 x 41 of 64 x 64 pixels were left."""
    lst, _, _ = xlstsr.datasets.modis_aster_sample()
    scene = xlstsr.datasets.sample_scene(n_times=1, size=96)["lst_1km"]
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        for coarse in (lst, scene):
            back = xlstsr.coarsen(xlstsr.upscale(coarse, factor), factor)
            assert _same_labels(back, coarse) and (back - coarse).shape == coarse.shape
            t = coarse.isel(y=slice(0, coarse.sizes["y"] // factor * factor),
                            x=slice(0, coarse.sizes["x"] // factor * factor))
            sr = xlstsr.upscale(xlstsr.coarsen(t, factor), factor)
            assert _same_labels(sr, t) and (sr - t).shape == t.shape


def test_upscale_of_the_sample_lst_is_on_the_truth_grid():
    """sample_scene's 250 m truth and the upscale of its 1 km LST: the same labels."""
    s = xlstsr.datasets.sample_scene(n_times=1, size=64)
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        sr = xlstsr.upscale(s["lst_1km"], 4)
    assert _same_labels(sr, s["lst_250m"])
    assert (sr - s["lst_250m"]).shape == s["lst_250m"].shape


def _band_pair():
    s = xlstsr.datasets.sample_scene(n_times=1, size=64)
    lst = s["lst_1km"].isel(time=0, drop=True).expand_dims(band=[1])  # as open_rasterio gives it
    truth = s["lst_250m"].isel(time=0, drop=True).expand_dims(band=[1]).squeeze()  # band=1
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        sr = xlstsr.upscale(lst, 4)
    return lst, sr, truth


def test_a_scalar_band_matches_the_same_one_band_label():
    """band=1 (after .squeeze()) against band=[1] was "none of them that one": pd.Index of a
    0-d ndarray raised TypeError, read as not found."""
    lst, sr, truth = _band_pair()
    check_scalar_steps(sr, truth)  # the same label: fine
    with pytest.raises(errors.GridError, match="none of them that one"):
        check_scalar_steps(sr, truth.assign_coords(band=2))
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        assert "rmse" in xlstsr.evaluate(sr, truth, coarse=lst)


def test_plot_comparison_takes_a_scalar_band_of_the_same_label():
    """plot.comparison raised a raw TypeError ("unhashable type: 'numpy.ndarray'")."""
    pytest.importorskip("matplotlib")
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    lst, sr, truth = _band_pair()
    fig = xlstsr.plot.comparison(lst, sr, truth=truth)
    plt.close(fig)
    with pytest.raises(errors.GridError, match="band=2"):
        xlstsr.plot.comparison(lst, sr, truth=truth.assign_coords(band=2))


def test_coarsen_of_a_cf_dataset_finds_its_crs_and_takes_variable(tmp_path):
    """xlstsr.coarsen(ds) of a plain ``xr.open_dataset`` (the grid mapping a data variable)
    raised MissingCRSError while ds.lstsr.coarsen() worked; it had no ``variable=``."""
    fine = xlstsr.datasets.sample_scene(n_times=1, size=32)["lst_250m"]
    path = tmp_path / "lst.nc"
    fine.to_dataset(name="LST").assign(other=fine.copy(data=fine.values + 1)).to_netcdf(path)
    with xr.open_dataset(path) as ds:
        out = xlstsr.coarsen(ds, 4, variable="LST")
        assert out.rio.crs is not None
        xr.testing.assert_identical(out, ds.lstsr.coarsen(4, variable="LST"))
        other = xlstsr.coarsen(ds, 4, variable="other")
        np.testing.assert_allclose(other.values, out.values + 1, atol=1e-3)
        with pytest.raises(errors.VariableNotFoundError):
            xlstsr.coarsen(ds["LST"], 4, variable="other")

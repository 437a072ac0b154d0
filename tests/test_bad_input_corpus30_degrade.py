"""coarsen with an emissivity: a static one kept at its own size in the lazy graph, non-DataArray
emissivities refused with advice that works (a Dataset variable name accepted by the accessor),
emissivity weighting recorded in the provenance; the docs' PSF units."""

import re
import warnings
from pathlib import Path

import dask
import dask.array as da
import numpy as np
import pytest
import rioxarray  # noqa: F401
import xarray as xr

import xlstsr
from xlstsr.errors import InputTypeError, VariableNotFoundError, XlstsrError

N = 16
_X = 5e5 + 250 * (np.arange(N) + 0.5)
_Y = 4e6 - 250 * (np.arange(N) + 0.5)


def _lst(nt=None, seed=0):
    rng = np.random.default_rng(seed)
    if nt is None:
        v, dims, c = 300 + 5 * rng.standard_normal((N, N)), ("y", "x"), {}
    else:
        v, dims, c = (300 + 5 * rng.standard_normal((nt, N, N)), ("time", "y", "x"),
                      {"time": np.arange(nt)})
    return xr.DataArray(v, dims=dims, coords={"y": _Y, "x": _X} | c,
                        attrs={"units": "K"}).rio.write_crs("EPSG:32633")


def _eps(seed=1, name=None):
    v = 0.8 + 0.2 * np.random.default_rng(seed).random((N, N))
    return xr.DataArray(v, dims=("y", "x"), coords={"y": _Y, "x": _X},
                        name=name).rio.write_crs("EPSG:32633")


def _graph_arrays(arr):
    """Every numpy array held in a dask array's graph."""
    out = []

    def walk(v):
        if isinstance(v, np.ndarray):
            out.append(v)
        elif isinstance(v, (tuple, list)):
            for w in v:
                walk(w)
        elif isinstance(v, dict):
            for w in v.values():
                walk(w)
        else:  # dask >= 2024.12 task objects
            for attr in ("value", "args"):
                w = getattr(v, attr, None)
                if w is not None and w is not v:
                    walk(w)
            kw = getattr(v, "kwargs", None)
            if isinstance(kw, dict):
                walk(kw)

    for v in dict(arr.__dask_graph__()).values():
        walk(v)
    return out


def test_lazy_static_emissivity_is_not_broadcast_over_the_steps_in_the_graph():
    nt = 12
    lst = _lst(nt).chunk({"time": 1, "y": 8, "x": 8})
    eps = _eps()
    out = xlstsr.coarsen(lst, 4, emissivity=eps)
    plain = xlstsr.coarsen(lst, 4)
    assert isinstance(out.data, da.Array)
    held = (sum(a.nbytes for a in _graph_arrays(out.data))
            - sum(a.nbytes for a in _graph_arrays(plain.data)))
    # the emissivity itself (and small things), not its (time, y, x) broadcast
    assert held < 0.5 * nt * eps.values.nbytes, held


@pytest.mark.parametrize("psf", [None, 300.0])
@pytest.mark.parametrize("varying", [False, True])
def test_lazy_equals_eager_with_emissivity(psf, varying):
    lst = _lst(3)
    lst[1, :3, :2] = np.nan
    eps = _eps()
    if varying:
        eps = xr.concat([eps * f for f in (1.0, 0.95, 0.9)], "time").assign_coords(
            time=[2, 0, 1])  # paired by label, in another order
    eager = xlstsr.coarsen(lst, 4, emissivity=eps, psf=psf, min_valid=0.5)
    for e in (eps, eps.chunk({"y": 8, "x": 8})):
        with dask.config.set(scheduler="synchronous"):
            lazy = xlstsr.coarsen(lst.chunk({"time": 1, "y": 8, "x": 8}), 4, emissivity=e,
                                  psf=psf, min_valid=0.5).compute()
        np.testing.assert_array_equal(lazy.values, eager.values)
    # eager LST with a lazy emissivity: the same values
    e2 = xlstsr.coarsen(lst, 4, emissivity=eps.chunk({"y": 8, "x": 8}), psf=psf, min_valid=0.5)
    np.testing.assert_array_equal(e2.values, eager.values)
    # the weighting does something: not the unweighted values
    plain = xlstsr.coarsen(lst, 4, psf=psf, min_valid=0.5)
    assert np.nanmax(np.abs(plain.values - eager.values)) > 1e-3


def test_lazy_emissivity_out_of_range_still_refused_per_block():
    bad = _eps().copy()
    bad[:4, :4] = 0.0
    out = xlstsr.coarsen(_lst(2).chunk({"time": 1}), 4, emissivity=bad.chunk({"y": 8, "x": 8}))
    with pytest.raises(XlstsrError, match=r"\(0, 1\]"):
        out.compute()
    with pytest.raises(XlstsrError, match=r"\(0, 1\]"):  # in memory: at once
        xlstsr.coarsen(_lst(2).chunk({"time": 1}), 4, emissivity=bad)


def test_ndarray_emissivity_on_a_lat_lon_lst_is_an_input_type_error():
    ll = _lst().rename(y="lat", x="lon")
    with pytest.raises(InputTypeError, match="must be a DataArray"):
        xlstsr.coarsen(ll, 4, emissivity=np.full((N, N), 0.97))


@pytest.mark.parametrize("nt", [None, 2])
@pytest.mark.parametrize("latlon", [False, True])
def test_the_advice_for_an_ndarray_emissivity_works(nt, latlon):
    lst = _lst(nt)
    if latlon:
        lst = lst.rename(y="lat", x="lon")
    arr = np.full((N, N), 0.97)
    with pytest.raises(InputTypeError) as err:
        xlstsr.coarsen(lst, 4, emissivity=arr)
    advice = re.search(r"`(lst[^`]*)`", str(err.value)).group(1)
    fixed = eval(advice, {"lst": lst, "eps": arr})  # as the message says
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        out = xlstsr.coarsen(lst, 4, emissivity=fixed)
    assert np.isfinite(out.values).all()


def test_dataset_accessor_takes_an_emissivity_variable_name():
    lst, eps = _lst(), _eps()
    ds = xr.Dataset({"LST": lst, "emis": eps}).rio.write_crs("EPSG:32633")
    by_name = ds.lstsr.coarsen(4, emissivity="emis", variable="LST")
    direct = xlstsr.coarsen(lst, 4, emissivity=eps)
    np.testing.assert_array_equal(by_name.values, direct.values)
    with pytest.raises(VariableNotFoundError, match=r"'emiss' is not a variable.*'emis'"):
        ds.lstsr.coarsen(4, emissivity="emiss", variable="LST")
    # the plain function takes the name too (session 31; it named ds['emis'] as the way out)
    np.testing.assert_array_equal(
        xlstsr.coarsen(ds, 4, emissivity="emis", variable="LST").values, direct.values)


@pytest.mark.parametrize("psf", [None, "modis"])
def test_emissivity_weighting_is_recorded(psf):
    lst = _lst()
    plain = xlstsr.coarsen(lst, 4, psf=psf)
    weighted = xlstsr.coarsen(lst, 4, emissivity=_eps(), psf=psf)
    named = xlstsr.coarsen(lst, 4, emissivity=_eps(name="emis_31_32"), psf=psf)
    assert "emissivity" not in plain.attrs["xlstsr_degradation"]
    for out in (weighted, named):
        assert out.attrs["xlstsr_degradation"] != plain.attrs["xlstsr_degradation"]
        assert "emissivity_weighted" in out.attrs["xlstsr_degradation"]
        assert out.attrs["xlstsr_degradation"] in out.attrs["history"]
    assert "emis_31_32" in named.attrs["xlstsr_degradation"]
    if psf:
        assert "psf_sigma_m=" in weighted.attrs["xlstsr_degradation"]


def test_docs_say_the_psf_number_is_in_the_crs_units():
    page = Path(__file__).resolve().parents[1] / "docs" / "index.md"
    if not page.exists():
        pytest.skip("docs/index.md not in this checkout")
    text = " ".join(page.read_text().split())
    i = text.find("coarsen(..., psf=")
    assert i >= 0
    para = text[i:i + 400]
    assert "(metres)" not in para
    assert "CRS's units" in para and "degrees" in para


def test_an_emissivity_named_after_the_lst_is_not_recorded_as_the_lst(tmp_path):
    # review30c: the advice lst.isel(...).copy(data=eps) gave an emissivity named like the LST,
    # recorded as "emissivity_weighted=<the LST's name>"
    lst = _lst(nt=2).rename("lst_250m")
    eps = lst.isel(time=0, drop=True).copy(data=_eps().values)
    out = xlstsr.coarsen(lst, 4, emissivity=eps)
    rec = out.attrs["xlstsr_degradation"]
    assert "emissivity_weighted" in rec and "=lst_250m" not in rec, rec
    named = xlstsr.coarsen(lst, 4, emissivity=eps.rename("emissivity"))
    assert "emissivity_weighted=emissivity" in named.attrs["xlstsr_degradation"]


def test_accessor_emissivity_by_name_is_not_taken_for_a_second_lst():
    # an emissivity carrying the LST's attributes looked like a second LST: "cannot tell which"
    lst = _lst(nt=2).rename("lst").assign_attrs(standard_name="surface_temperature")
    eps = lst.isel(time=0, drop=True).copy(data=_eps().values)
    ds = xr.Dataset({"lst": lst, "emis": eps})
    out = ds.lstsr.coarsen(4, emissivity="emis")
    ref = xlstsr.coarsen(lst, 4, emissivity=eps)
    np.testing.assert_array_equal(out.values, ref.values)

"""What a result says about itself and what xlstsr says while working: provenance attributes as
JSON, the input's attributes kept, dask task names, logging (no prints), lazy scaling figures,
and the hint for Zarr/NetCDF inputs read without their CRS."""

from __future__ import annotations

import ast
import json
from pathlib import Path

import numpy as np
import pytest
import xarray as xr
from helpers import raise_if_computed

import xlstsr
from xlstsr.errors import MissingCRSError

PACKAGE = Path(xlstsr.__file__).resolve().parent


def test_provenance_is_json_and_survives_a_zarr_round_trip(tmp_path, scene):
    lst = scene["lst_1km"].isel(time=slice(0, 1)).assign_attrs(source="MOD11A1.A2020183", platform="terra",
                                        scale_factor=1.0, AREA_OR_POINT="Point")
    sr = xlstsr.upscale(lst, 4, "dms", guide=scene["ndvi_250m"], gain=0.5)
    options = json.loads(sr.attrs["xlstsr_options"])
    assert options["gain"] == 0.5 and sr.attrs["xlstsr_method"] == "dms"
    assert sr.attrs["source"] == "MOD11A1.A2020183" and sr.attrs["platform"] == "terra"
    for stored in ("scale_factor", "AREA_OR_POINT"):  # described the input's storage, not sr
        assert stored not in sr.attrs
    assert sr.attrs["units"] == "K" and sr.attrs["standard_name"] == "surface_temperature"
    out = xlstsr.upscale_to_zarr(lst, tmp_path / "sr.zarr", 2, progress=False)
    back = xr.open_zarr(tmp_path / "sr.zarr", consolidated=False, decode_coords="all")["lst_1km"]
    assert json.loads(back.attrs["xlstsr_options"]) == json.loads(out.attrs["xlstsr_options"])
    assert back.attrs["source"] == "MOD11A1.A2020183"
    bare = xlstsr.upscale(lst, 4, keep_attrs=False)
    assert "source" not in bare.attrs and "xlstsr_method" in bare.attrs


def test_dask_tasks_are_named_after_the_method(scene):
    lazy = scene["lst_1km"].chunk({"time": 1, "y": 32, "x": 32})
    with raise_if_computed():
        for method, kw in (("bicubic", {}), ("tsharp", {"guide": scene["ndvi_250m"]})):
            sr = xlstsr.upscale(lazy, 4, method, **kw)
            layers = list(sr.data.dask.layers)
            assert any(name.startswith(f"xlstsr-{method}-") for name in layers), layers


def test_the_library_logs_and_never_prints():
    """print() belongs to the command line; the library uses logging (and warnings)."""
    offenders = []
    for path in PACKAGE.rglob("*.py"):
        if path.name == "cli.py":
            continue
        for node in ast.walk(ast.parse(path.read_text(), str(path))):
            if isinstance(node, ast.Call) and getattr(node.func, "id", None) == "print":
                offenders.append(f"{path.relative_to(PACKAGE)}:{node.lineno}")
    assert not offenders, f"print() in the library: {offenders}; use logging.getLogger(__name__)"


def test_scaling_figure_of_a_lazy_result_draws_the_fitted_break(scene):
    pytest.importorskip("matplotlib")
    from xlstsr.plot import compare, scaling

    with raise_if_computed():
        lazy = xlstsr.scaling_stats(scene["lst_1km"].chunk({"time": 1}))
    st = lazy.compute()
    # a significant two-segment fit, as a rougher field gives: both laws and the break are drawn
    st["spectral_break_wavenumber"][:] = 0.1
    st["spectral_slope_low"][:] = -1.0
    st["spectral_slope_high"][:] = -3.0
    st["spectral_break_delta_bic"][:] = 25.0
    fig = scaling(st.chunk())
    labels = [line.get_label() for line in fig.axes[2].get_lines()]
    assert any(lab.startswith("break (25 dBIC") for lab in labels)
    assert any(lab == "fit -1.00 | -3.00" for lab in labels)
    fig2 = compare({"lazy": lazy, "with break": st})
    assert len(fig2.axes[2].get_lines()) == 3  # two spectra and one significant break
    import matplotlib.pyplot as plt

    plt.close("all")


def test_missing_crs_error_points_zarr_users_to_decode_coords(tmp_path, scene):
    scene["lst_1km"].to_dataset().to_zarr(tmp_path / "lst.zarr", zarr_format=3, consolidated=False)
    plain = xr.open_zarr(tmp_path / "lst.zarr", consolidated=False)["lst_1km"]  # no decode_coords
    with pytest.raises(MissingCRSError, match=r"decode_coords=['\"]all['\"]"):
        xlstsr.upscale(plain, 4)
    ok = xr.open_zarr(tmp_path / "lst.zarr", consolidated=False, decode_coords="all")["lst_1km"]
    assert np.isfinite(xlstsr.upscale(ok, 4).values).any()


def test_dataset_accessor_names_the_variable(scene):
    sr = xlstsr.upscale(scene["lst_1km"], 4)
    fine = xr.Dataset({"sr": sr, "sr_plus_1": sr + 1})
    scores = fine.lstsr.evaluate(scene["lst_250m"], variable="sr")
    assert float(scores.rmse.max()) < 5
    coarse = xr.Dataset({"lst": scene["lst_1km"], "other": scene["lst_1km"] + 1})
    st = coarse.lstsr.scaling_stats(variable="lst")
    np.testing.assert_allclose(st.hurst, xlstsr.scaling_stats(scene["lst_1km"]).hurst)

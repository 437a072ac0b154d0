"""Own findings of session 29, each pinned by a test that fails on the code before it."""
from __future__ import annotations

import h5py
import numpy as np
import xarray as xr

from xlstsr.cli import main


def test_cli_netcdf_output_is_compressed_losslessly(tmp_path, small_scene):
    """A .nc output was written raw: a year at 250 m is 16x its input's pixels on disk."""
    import xlstsr

    cube = small_scene["lst_1km"].copy()
    cube[0, :3, :5] = np.nan  # a cloud
    cube.to_dataset(name="LST").to_netcdf(tmp_path / "in.nc")
    assert main(["upscale", str(tmp_path / "in.nc"), str(tmp_path / "out.nc"),
                 "--method", "bicubic", "--quiet"]) == 0
    with h5py.File(tmp_path / "out.nc") as f:
        var = f["LST"]
        assert var.compression == "gzip" and var.shuffle
        assert var.chunks == (1, *var.shape[1:])  # one chunk per time step
    got = xr.open_dataset(tmp_path / "out.nc")["LST"]
    want = xlstsr.upscale(cube, 4, "bicubic")
    np.testing.assert_array_equal(got.values, want.values)  # lossless, NaN kept
    # the CRS kept (the encoding given replaced rioxarray's grid_mapping link: CRS lost)
    back = xr.open_dataset(tmp_path / "out.nc", decode_coords="all")["LST"]
    assert back.rio.crs == cube.rio.crs


def test_run_all_answers_help_without_running_the_suite(capsys, monkeypatch):
    """``run_all.py --help`` started the whole suite (hours, rewriting docs/results)."""
    import subprocess

    from tests.test_benchmarks import load_benchmark

    run_all = load_benchmark("run_all")
    calls = []
    monkeypatch.setattr(subprocess, "call", lambda *a, **k: calls.append(a) or 0)
    try:
        run_all.main(["--help"])
    except SystemExit as stop:
        assert stop.code == 0
    assert "--only" in capsys.readouterr().out and not calls
    assert run_all.main(["--only", "coregistration.py"]) == 0
    assert len(calls) == 1 and calls[0][0][-1].endswith("coregistration.py")


def test_sisr_ceiling_reproduce_line_names_the_report_from_the_root():
    """The page's reproduce line named the report by its bare name: not found from the root."""
    from tests.test_benchmarks import load_benchmark

    mod = load_benchmark("sisr_ceiling")
    path = mod.ROOT / "docs" / "results" / "sisr_ceiling_results.json"
    assert mod._from_root(str(path)) == "docs/results/sisr_ceiling_results.json"


def test_sif_gain_given_by_the_user_is_not_told_to_be_given(one_torch_thread):
    """fit_cube(mode='sif', loss_options={'gain': ...}) on a weak LST-guide relation warned
    that the gain fell back to the default and to give one: the given one was used."""
    import warnings

    from xlstsr.kernels.aggregate import block_mean
    from xlstsr.train import fit_cube

    quiet = {"enable_progress_bar": False, "enable_model_summary": False, "logger": False,
             "limit_train_batches": 1, "limit_val_batches": 1}
    rng = np.random.default_rng(0)
    h = 16
    ndvi = np.clip(0.4 + 0.2 * rng.standard_normal((2, 4 * h, 4 * h)), 0, 1).astype("float32")
    lst = (300 - 0.3 * block_mean(ndvi, 4) + rng.normal(0, 2.0, (2, h, h))).astype("float32")
    dims = ("time", "y", "x")

    def run(**options):
        with warnings.catch_warnings(record=True) as w:
            warnings.simplefilter("always")
            _, rec = fit_cube(xr.DataArray(lst, dims=dims, attrs={"units": "K"}),
                              guide=xr.DataArray(ndvi, dims=dims, name="ndvi"), mode="sif",
                              patch=16, window=32, epochs=1, trainer_options=quiet, **options)
        return rec, [str(x.message) for x in w if "falls back" in str(x.message)]

    rec, said = run(loss_options={"gain": -12.0})
    assert rec["guide_gain"]["source"] == "given" and rec["loss_options"]["gain"] == -12.0
    assert not said
    rec, said = run()  # the same weak relation without a given gain: said
    assert rec["guide_gain"]["source"] == "default" and said


def test_red_nir_guide_for_an_ndvi_model_is_told_to_compute_ndvi(small_scene):
    """A 2-band red/NIR raster given to disr was told `guide.sel(band=1)`: band 1 is red, which
    disr then ran as NDVI (2 K off on average, 7 K at most, without a word)."""
    import pytest

    import xlstsr
    from xlstsr import errors

    lst = small_scene["lst_1km"]
    ndvi = small_scene["ndvi_250m"]
    red = (0.2 * (1 - ndvi)).astype("float32")  # (nir - red) / (nir + red) == ndvi
    nir = (0.2 * (1 + ndvi)).astype("float32")
    guide = xr.concat([red, nir], dim="band").assign_coords(band=[1, 2])
    with pytest.raises(errors.XlstsrError) as err:
        xlstsr.upscale(lst, 4, "disr", guide=guide)
    said = str(err.value)
    assert "NDVI, not reflectances" in said and "sel(band=1)" not in said
    # the advice, followed (NIR is band 2, red band 1), gives the NDVI-guided result
    g = guide.astype("float32")
    computed = (g.sel(band=2) - g.sel(band=1)) / (g.sel(band=2) + g.sel(band=1))
    np.testing.assert_allclose(xlstsr.upscale(lst, 4, "disr", guide=computed).values,
                               xlstsr.upscale(lst, 4, "disr", guide=ndvi).values, atol=1e-3)

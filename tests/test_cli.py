"""The command line: demo, upscale (Zarr/NetCDF/COG in and out), evaluate, scaling; user errors."""

from __future__ import annotations

import numpy as np
import pytest
import rioxarray
import xarray as xr

from xlstsr.cli import main


def test_demo_writes_outputs_and_refuses_overwrite(tmp_path, capsys):
    out = tmp_path / "demo"
    assert main(["demo", "--output", str(out), "--method", "tsharp", "--quiet"]) == 0
    assert (out / "demo.png").stat().st_size > 10_000
    text = (out / "metrics.txt").read_text()
    assert "bicubic" in text and "tsharp" in text and "Recommended" in text
    ds = xr.open_zarr(out / "lst_250m.zarr", consolidated=False, decode_coords="all")
    assert ds["lst"].shape == (8, 256, 256) and ds["lst"].rio.crs is not None
    assert 270 < float(ds["lst"].mean()) < 320  # real MOD11A1 Kelvin, upscaled
    printed = capsys.readouterr().out
    assert "wrote" in printed and "co-registered ASTER" in printed
    before = (out / "metrics.txt").stat().st_mtime_ns
    assert main(["demo", "--output", str(out), "--method", "bicubic"]) == 2  # no --overwrite
    assert (out / "metrics.txt").stat().st_mtime_ns == before


def test_demo_scores_every_method_on_real_data(tmp_path):
    """The full comparison on a smaller setting: the real pair, every method, one date."""
    from xlstsr.demo import DEMO_CANDIDATES, run_demo

    res = run_demo(tmp_path / "d", progress=False, n_times=1)
    assert set(res.scores) == set(DEMO_CANDIDATES)
    # against co-registered ASTER without cloud edges, the guided methods beat bicubic here
    assert res.scores["dms"]["rmse"] < res.scores["bicubic"]["rmse"]
    assert res.best in DEMO_CANDIDATES and res.best in res.recommendation
    assert not xlstsr_needs_guide(res.series_method)
    assert xr.open_zarr(res.store, consolidated=False)["lst"].sizes["time"] == 1


def xlstsr_needs_guide(name: str) -> bool:
    from xlstsr.methods import get_method

    return get_method(name).needs_guide


def test_upscale_geotiff_to_cog(tmp_path, scene):
    src = tmp_path / "lst.tif"
    scene["lst_1km"].isel(time=0).rio.to_raster(src)
    dst = tmp_path / "sr.tif"
    assert main(["upscale", str(src), str(dst), "--factor", "4"]) == 0
    sr = rioxarray.open_rasterio(dst).squeeze(drop=True)
    assert sr.shape == (256, 256)
    assert sr.rio.crs == scene["lst_1km"].rio.crs
    np.testing.assert_allclose(sr.rio.transform().a * 4, scene["lst_1km"].rio.transform().a)
    assert main(["upscale", str(src), str(dst)]) == 2  # exists, no --overwrite


def test_upscale_with_guide_and_scale_correction(tmp_path, scene):
    import xlstsr

    src, gsrc = tmp_path / "lst.tif", tmp_path / "ndvi.tif"
    lst = scene["lst_1km"].isel(time=0)
    lst.rio.to_raster(src)
    scene["ndvi_250m"].rio.to_raster(gsrc)
    dst = tmp_path / "sr.tif"
    argv = ["upscale", str(src), str(dst), "--method", "tsharp", "--guide", str(gsrc)]
    assert main([*argv, "--scale-correction", "law"]) == 0
    got = rioxarray.open_rasterio(dst).squeeze(drop=True).values
    want = xlstsr.upscale(lst, 4, "tsharp", guide=scene["ndvi_250m"], scale_correction="law")
    np.testing.assert_allclose(got, want.values, rtol=0, atol=1e-3)
    plain = xlstsr.upscale(lst, 4, "tsharp", guide=scene["ndvi_250m"]).values
    assert np.nanmax(np.abs(plain - want.values)) > 1e-3  # the correction did something here


# -- users' workflows on real data (issue 15) -----------------------------------------------------


def run(capsys, *argv):
    """``xlstsr argv...``: (exit status, stdout, stderr)."""
    code = main([str(a) for a in argv])
    out = capsys.readouterr()
    return code, out.out, out.err


@pytest.fixture(scope="module")
def pair(shared_data):
    """A real MODIS/ASTER pair: 1 km LST, 250 m NDVI (not exactly nested), ASTER K x 10."""
    root = shared_data / "modis_aster"
    return {k: root / f"001_{k}.tif" for k in ("modis_lst_1km", "modis_ndvi_250m", "aster_lst_250m")}


def test_version_and_help_show_defaults_and_choices(capsys):
    import xlstsr

    with pytest.raises(SystemExit) as exc:
        main(["--version"])
    assert exc.value.code == 0 and capsys.readouterr().out.strip() == f"xlstsr {xlstsr.__version__}"
    with pytest.raises(SystemExit):
        main(["upscale", "--help"])
    text = " ".join(capsys.readouterr().out.split())
    assert "(default: 4)" in text and "(default: bicubic)" in text and "(default: threads)" in text
    assert "{" + ",".join(xlstsr.available_methods()) + "}" in text
    for option in ("--checkpoint", "--conserve", "--chunks", "--scheduler", "--units", "--nodata"):
        assert option in text
    for command in ("evaluate", "scaling"):
        with pytest.raises(SystemExit):
            main([command, "--help"])
        assert ".csv" in capsys.readouterr().out


def test_upscale_zarr_round_trip_with_crs_and_zarr_guide(shared_data, pair, tmp_path, capsys):
    """Zarr in, Zarr out (xlstsr's own output read back with its CRS), a Zarr guide, .nc/.tif out."""
    import xlstsr

    lst = rioxarray.open_rasterio(pair["modis_lst_1km"], masked=True).squeeze(drop=True)
    ndvi = rioxarray.open_rasterio(pair["modis_ndvi_250m"], masked=True).squeeze(drop=True)
    lst.to_dataset(name="LST").to_zarr(tmp_path / "in.zarr", zarr_format=3, consolidated=False)
    ndvi.to_dataset(name="ndvi").to_zarr(tmp_path / "ndvi.zarr", zarr_format=3, consolidated=False)
    argv = ["upscale", tmp_path / "in.zarr", tmp_path / "out.zarr", "--method", "tsharp",
            "--guide", tmp_path / "ndvi.zarr", "--chunks", "32", "--scheduler", "sync", "--quiet"]
    code, out, err = run(capsys, *argv)
    assert code == 0, err
    assert "wrote" in out
    sr = xr.open_zarr(tmp_path / "out.zarr", consolidated=False, decode_coords="all")["LST"]
    want = xlstsr.upscale(lst, 4, "tsharp", guide=ndvi)
    np.testing.assert_allclose(sr.values, want.values, rtol=0, atol=1e-4)
    assert sr.rio.crs == lst.rio.crs and sr.attrs["xlstsr_method"] == "tsharp"
    # xlstsr's own output as input: CRS read back, provenance history continued
    assert run(capsys, "upscale", tmp_path / "out.zarr", tmp_path / "x2.nc", "--factor", "2")[0] == 0
    nc = xr.open_dataset(tmp_path / "x2.nc", decode_coords="all")["LST"]
    assert nc.shape == (512, 512) and nc.rio.crs == lst.rio.crs
    assert nc.attrs["history"].count("xlstsr") == 2
    assert run(capsys, "upscale", tmp_path / "x2.nc", tmp_path / "x2.tif", "--factor", "2")[0] == 0
    with rioxarray.open_rasterio(tmp_path / "x2.tif") as tif:
        assert tif.shape[-2:] == (1024, 1024) and tif.rio.crs == lst.rio.crs
    # the same arguments again: refused, nothing changed; --overwrite replaces
    code, _, err = run(capsys, *argv)
    assert code == 2 and "exists" in err and len(err.strip().splitlines()) == 1


def test_upscale_declares_units_and_nodata_of_a_real_seviri_series(shared_data, tmp_path, capsys):
    """SEVIRI LST in degrees Celsius with an undeclared -80 fill: declared on the command line."""
    import xlstsr

    src = next((shared_data / "seviri_athens").glob("*.tif"))
    dst = tmp_path / "athens.nc"
    code, _, err = run(capsys, "upscale", src, dst, "--factor", "2", "--units", "degC",
                       "--nodata", "-80")
    assert code == 0, err
    got = xr.open_dataset(dst, decode_coords="all")
    got = got[next(iter(got.data_vars))]
    raw = rioxarray.open_rasterio(src)
    want = xlstsr.upscale(raw.where(raw != -80).assign_attrs(units="degC"), 2)
    np.testing.assert_allclose(got.values, want.values, rtol=0, atol=1e-4)
    assert np.isnan(got.values).mean() > 0.3  # the fill is a gap, not 193 K
    assert 280 < float(got.mean()) < 330 and got.attrs["units"] == "K"


def test_evaluate_and_scaling_subcommands_on_a_real_pair(pair, tmp_path, capsys):
    import pandas as pd

    import xlstsr

    sr_path = tmp_path / "sr.tif"
    assert run(capsys, "upscale", pair["modis_lst_1km"], sr_path)[0] == 0
    opts = ["--reference-scale", "0.1", "--reference-nodata", "0", "--erode", "3",
            "--valid-min", "230"]
    code, out, err = run(capsys, "evaluate", sr_path, pair["aster_lst_250m"], tmp_path / "s.csv",
                         "--coarse", pair["modis_lst_1km"], *opts)
    assert code == 0, err
    table = pd.read_csv(tmp_path / "s.csv")
    sr = rioxarray.open_rasterio(sr_path).squeeze(drop=True)
    aster = rioxarray.open_rasterio(pair["aster_lst_250m"]).squeeze(drop=True)
    lst = rioxarray.open_rasterio(pair["modis_lst_1km"], masked=True).squeeze(drop=True)
    want = xlstsr.evaluate(sr, aster, coarse=lst, reference_scale=0.1, reference_nodata=0,
                           erode=3, valid_min=230)
    assert len(table) == 1 and 1 < table["rmse"][0] < 6 and "RMSE" in out
    np.testing.assert_allclose(table["rmse"][0], float(want["rmse"]), rtol=1e-6)
    # scaling: per-step fits as CSV, everything as NetCDF, the figure
    code, out, err = run(capsys, "scaling", pair["modis_lst_1km"], tmp_path / "st.csv",
                         "--figure", tmp_path / "st.png")
    assert code == 0, err
    fits = pd.read_csv(tmp_path / "st.csv")
    assert float(fits["hurst"][0]) == pytest.approx(float(xlstsr.scaling_stats(lst).hurst))
    assert (tmp_path / "st.png").stat().st_size > 10_000
    assert run(capsys, "scaling", pair["modis_lst_1km"], tmp_path / "st.nc")[0] == 0
    assert "structure_function" in xr.open_dataset(tmp_path / "st.nc")


@pytest.mark.parametrize(
    ("argv", "needle"),
    [
        (["upscale", "{missing}", "{out}.zarr"], "no such file"),
        (["upscale", "{lst}", "{out}.csv"], "cannot tell the format"),
        (["upscale", "{lst}", "{out}.hdf"], "cannot write hdf4"),
        (["upscale", "{lst}", "{out}.tif", "--method", "dms"], "needs a fine guide"),
        (["upscale", "{lst}", "{out}.tif", "--model", "rescnn"], "deep methods"),
        (["upscale", "{lst}", "{out}.tif", "--chunks", "t=1"], "not dims of the input"),
        (["upscale", "{lst}", "{out}.tif", "--chunks", "y=big"], "--chunks"),
        (["upscale", "{zarr}", "{out}.tif", "--variable", "nope"], "'nope' is not in"),
        (["evaluate", "{lst}", "{lst}", "{out}.txt"], "use .csv or .nc"),
        # the front door's Python hint (upscale(..., factor=4)) comes with the flag to use
        (["upscale", "{lst}", "{out}.tif", "--method", "sisr", "--factor", "3"],
         "On the command line: `--factor 4`"),
        (["upscale", "{lst}", "{out}.tif", "--units", "degC"], "`--units K`"),
    ],
)
def test_user_errors_print_one_line_and_exit_2(argv, needle, tmp_path, capsys, scene):
    lst = tmp_path / "lst.tif"
    scene["lst_1km"].isel(time=0).rio.to_raster(lst)
    scene["lst_1km"].to_dataset().to_zarr(tmp_path / "in.zarr", zarr_format=3, consolidated=False)
    names = {"missing": tmp_path / "missing.tif", "out": tmp_path / "out", "lst": lst,
             "zarr": tmp_path / "in.zarr"}
    code, _, err = run(capsys, *(a.format(**names) for a in argv))
    assert code == 2
    assert err.startswith("xlstsr: error: ") and len(err.strip().splitlines()) == 1
    assert needle.lower() in err.lower() and "Traceback" not in err


@pytest.mark.parametrize(
    "argv", [["upscale", "a.tif", "b.tif", "--method", "foo"], ["upscale"], ["evaluate", "a.tif"],
             ["upscale", "a.tif", "b.tif", "--factor", "0"]],
)
def test_usage_errors_are_one_line_too(argv, capsys):
    with pytest.raises(SystemExit) as exc:
        main(argv)
    err = capsys.readouterr().err
    assert exc.value.code == 2 and len(err.strip().splitlines()) == 1 and "--help" in err


def test_deep_model_options_and_a_distributed_scheduler(tmp_path, capsys, scene):
    """--checkpoint (bundled name or file) and --conserve reach the model; --scheduler ADDRESS."""
    pytest.importorskip("torch")
    distributed = pytest.importorskip("distributed")
    import xlstsr

    lst = scene["lst_1km"].isel(time=0, y=slice(0, 32), x=slice(0, 32))
    src = tmp_path / "lst.tif"
    lst.rio.to_raster(src)
    with distributed.LocalCluster(n_workers=1, threads_per_worker=1, processes=False,
                                  dashboard_address=None) as cluster:
        code, _, err = run(capsys, "upscale", src, tmp_path / "sr.zarr", "--method", "sisr",
                           "--checkpoint", "mrunet", "--conserve", "--quiet",
                           "--scheduler", cluster.scheduler_address)
    assert code == 0, err
    got = xr.open_zarr(tmp_path / "sr.zarr", consolidated=False, decode_coords="all")
    want = xlstsr.upscale(lst, 4, "sisr", model="mrunet", conserve=True)
    np.testing.assert_allclose(got[next(iter(got.data_vars))].values, want.values, atol=1e-4)
    assert '"conserve": true' in got[next(iter(got.data_vars))].attrs["xlstsr_options"]


def test_modis_hdf_granule_from_the_command_line(shared_data, tmp_path, capsys):
    """A MOD11A1 HDF4 granule as input (pyhdf): dated output, QC-masked night LST."""
    import pandas as pd

    pytest.importorskip("pyhdf", reason="pyhdf is not installed (pip install 'xlstsr[hdf]')")
    granule = next((shared_data / "mod11a1_hdf").glob("MOD11A1*.hdf"))
    code, _, err = run(capsys, "upscale", granule, tmp_path / "night.zarr", "--variable",
                       "LST_Night_1km", "--factor", "2", "--chunks", "600", "--quiet")
    assert code == 0, err
    out = xr.open_zarr(tmp_path / "night.zarr", consolidated=False, decode_coords="all")
    sr = out["LST_Night_1km"]
    assert sr.shape == (2400, 2400) and str(sr.time.values)[:10] == "2019-11-01"
    assert sr.rio.crs is not None and sr.attrs["source"].startswith("MOD11A1.A2019305")
    code, _, err = run(capsys, "scaling", granule, tmp_path / "fits.csv")
    assert code == 0, err
    fits = pd.read_csv(tmp_path / "fits.csv")
    assert fits["time"][0].startswith("2019-11-01") and 0 < fits["hurst"][0] < 1
    code, _, err = run(capsys, "upscale", granule, tmp_path / "x.tif", "--variable", "LST_Day")
    assert code == 2 and "LST_Day_1km" in err  # the granule's variables are listed


def test_calibration_and_adapt_options(tmp_path, capsys, scene):
    """--calibration applies exactly the saved mapping; --adapt only for deep methods; both
    refuse what they cannot do in one line."""
    from xlstsr.calibration import Calibration, apply_calibration

    src = tmp_path / "lst.tif"
    scene["lst_1km"].isel(time=0).rio.to_raster(src)
    cal = Calibration(slope=1.01, offset=-0.8)
    (tmp_path / "cal.json").write_text(cal.to_json())
    assert main(["upscale", str(src), str(tmp_path / "plain.nc")]) == 0
    assert main(["upscale", str(src), str(tmp_path / "cal.nc"),
                 "--calibration", str(tmp_path / "cal.json")]) == 0
    def opened(name):
        ds = xr.open_dataset(tmp_path / name, decode_coords="all")
        return ds[next(iter(ds.data_vars))]

    plain, got = opened("plain.nc"), opened("cal.nc")
    np.testing.assert_allclose(got.values, apply_calibration(plain, cal).values, atol=1e-4)
    assert got.attrs["xlstsr_product"] == "calibrated to ASTER"
    capsys.readouterr()
    (tmp_path / "bad.json").write_text('{"slope": 40}')
    for argv, needle in (
        (["--calibration", str(tmp_path / "none.json")], "no such file"),
        (["--calibration", str(tmp_path / "bad.json")], "slope"),
        (["--adapt"], "deep methods"),
    ):
        assert main(["upscale", str(src), str(tmp_path / "x.nc"), *argv]) == 2
        err = capsys.readouterr().err.strip()
        assert needle in err and "\n" not in err, err
    assert not (tmp_path / "x.nc").exists()


def test_scale_correction_takes_a_law_or_a_fixed_gain(tmp_path, capsys, scene):
    src = tmp_path / "lst.tif"
    scene["lst_1km"].isel(time=0).rio.to_raster(src)
    assert main(["upscale", str(src), str(tmp_path / "b.nc"), "--method", "sisr"]) == 0
    assert main(["upscale", str(src), str(tmp_path / "g0.nc"), "--method", "sisr",
                 "--scale-correction", "0"]) == 0
    base = xr.open_dataset(tmp_path / "b.nc", decode_coords="all")
    flat = xr.open_dataset(tmp_path / "g0.nc", decode_coords="all")
    b, g0 = (d[next(iter(d.data_vars))] for d in (base, flat))
    assert g0.attrs["xlstsr_scale_correction"] == "0.0"
    lst = scene["lst_1km"].isel(time=0)
    expected = lst.lstsr.upscale(4, method="sisr", scale_correction=0.0)
    np.testing.assert_allclose(g0.values, expected.values, atol=1e-3)  # the gain reached upscale
    assert np.nanmax(np.abs(g0.values - b.values)) > 0.05
    capsys.readouterr()
    with pytest.raises(SystemExit) as err:
        main(["upscale", str(src), str(tmp_path / "x.nc"), "--scale-correction", "-1"])
    assert err.value.code == 2 and ">= 0" in capsys.readouterr().err


@pytest.mark.parametrize("suffix", [".tif", ".nc", ".zarr"])
def test_an_input_refused_while_computing_leaves_no_output(tmp_path, capsys, scene, suffix):
    # degrees Celsius labelled K in a GeoTIFF: the value check runs as the lazily read file is
    # computed; the COG used to be half-written (zeros) before the error
    src = tmp_path / "lst_c.tif"
    (scene["lst_1km"].isel(time=0) - 273.15).rio.to_raster(src)
    dst = tmp_path / f"sr{suffix}"
    code, _, err = run(capsys, "upscale", str(src), str(dst), "--quiet")
    assert code == 2 and "degrees Celsius" in err and "--units degC" in err
    assert not dst.exists()


@pytest.mark.parametrize("suffix", [".tif", ".zarr"])
def test_an_input_without_valid_pixels_is_refused_and_leaves_no_output(tmp_path, capsys, scene,
                                                                        suffix):
    src = tmp_path / "lst_nan.tif"
    (scene["lst_1km"].isel(time=0) * np.nan).rio.to_raster(src)
    dst = tmp_path / f"sr{suffix}"
    code, _, err = run(capsys, "upscale", str(src), str(dst), "--quiet")
    assert code == 2 and "no valid pixel" in err
    assert not dst.exists()


def test_scaling_refuses_an_input_without_valid_pixels(tmp_path, capsys, scene):
    src = tmp_path / "lst_nan.tif"
    (scene["lst_1km"].isel(time=0) * np.nan).rio.to_raster(src)
    code, _, err = run(capsys, "scaling", str(src), str(tmp_path / "s.csv"))
    assert code == 2 and "no valid pixel" in err
    assert not (tmp_path / "s.csv").exists()


def test_demo_recommendation_quotes_the_guide_free_figures() -> None:
    """A guide-free method level with bicubic is shown with both figures, not only as 'best'."""
    from xlstsr.demo import _recommend

    scores = {"bicubic": {"rmse": 1.93}, "sisr": {"rmse": 1.929, "spectral_ratio": 0.3},
              "disr": {"rmse": 1.44, "spectral_ratio": 0.9}}
    text = _recommend(scores, "disr", "sisr")
    assert "`sisr` scored best of the methods that need none (1.93 K, bicubic 1.93 K)" in text
    assert "0.49 K below bicubic" in text

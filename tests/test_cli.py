"""The command line: demo and upscale."""

from __future__ import annotations

import numpy as np
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

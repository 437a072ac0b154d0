"""Round 32 of bad inputs: the command line, the Landsat-8 L1 reader, the streamed upscale and
test-time adaptation.

Found: ``open_landsat8_l1`` ignored a Collection 1 BQA's cloud-shadow confidence (bits 7-8), so
high-confidence shadow came back as valid brightness temperature; ``xlstsr evaluate`` could not
decode a Landsat ST reference of digital numbers (no --reference-offset) and its refusal spoke
Python; ``upscale_to_zarr`` refused upscale's ``conserve=True`` shorthand and ``calibration=``
with a bare TypeError; ``xlstsr upscale --calibration`` with an NDVI term told the command-line
user to call Python only; a diverged adaptation's advice dropped the user's anchor / alpha and
called the loss consistency only.
"""

from __future__ import annotations

import shutil
import warnings
from pathlib import Path

import numpy as np
import pandas as pd
import pytest
import xarray as xr
from helpers import run_cli

import xlstsr
from xlstsr.calibration import Calibration
from xlstsr.errors import MethodOptionError, XlstsrError

L8 = Path("/work/shared/data/landsat8_gulf_l1")
ST_SCALE, ST_OFFSET = 0.00341802, 149.0


# -- 1. Collection 1 BQA: high-confidence cloud shadow is cloud -----------------------------------

def _c1_scene(tmp_path: Path, shadow_code: int) -> tuple[Path, np.ndarray]:
    """A 200 x 200 window of the shared Landsat-8 L1 scene as a Collection 1 scene: BQA clear
    (2720: every confidence low) but a block whose cloud-shadow confidence (bits 7-8) is
    ``shadow_code``; the block's mask."""
    rasterio = pytest.importorskip("rasterio")
    from rasterio.windows import Window

    if not L8.is_dir():
        pytest.skip(f"{L8} (the shared Landsat-8 L1 scene) is absent")
    with rasterio.open(L8 / "l8_B10.tif") as s:
        b10 = s.read(1)
        rows, cols = np.nonzero(b10)  # a window inside the scene's data
    r0, c0 = int(np.median(rows)) - 100, int(np.median(cols)) - 100
    win = Window(c0, r0, 200, 200)
    for name in ("l8_B4.tif", "l8_B5.tif", "l8_B10.tif", "l8_BQA.tif"):
        with rasterio.open(L8 / name) as s:
            prof = {**s.profile, "height": 200, "width": 200,
                    "transform": s.window_transform(win)}
            prof.pop("blockxsize", None), prof.pop("blockysize", None), prof.pop("tiled", None)
            data = s.read(1, window=win)
        if name == "l8_B10.tif":
            valid = data > 0
        if name == "l8_BQA.tif":
            qa = np.full(data.shape, 2720, np.uint16)
            qa[~valid] = 1
            block = np.zeros(data.shape, bool)
            block[50:120, 60:140] = True
            block &= valid
            qa[block] = 2720 & ~(0b11 << 7) | (shadow_code << 7)
            data = qa
        with rasterio.open(tmp_path / name, "w", **prof) as d:
            d.write(data, 1)
    mtl = (L8 / "l8_MTL.txt").read_text().replace(
        "GROUP = METADATA_FILE_INFO", "GROUP = METADATA_FILE_INFO\n    COLLECTION_NUMBER = 01", 1)
    (tmp_path / "l8_MTL.txt").write_text(mtl)
    return tmp_path, block


def test_landsat8_l1_collection1_masks_high_confidence_cloud_shadow(tmp_path):
    folder, shadow = _c1_scene(tmp_path, 0b11)
    assert shadow.sum() > 1000
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        ds = xlstsr.io.open_landsat8_l1(folder, mask_water=False).compute()
    assert bool(ds["cloud"].values[shadow].all())
    assert not np.isfinite(ds["bt"].values[shadow]).any()
    assert not np.isfinite(ds["ndvi"].values[shadow]).any()
    # outside the block: clear, kept
    assert np.isfinite(ds["bt"].values[~shadow & ~ds["cloud"].values]).all()
    assert not bool(ds["cloud"].values[~shadow].any())
    # the cloud test off: shadow (part of it) is off too
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        off = xlstsr.io.open_landsat8_l1(folder, mask_water=False, cloud_confidence=None)
    assert not bool(off["cloud"].values[shadow].any())


def test_landsat8_l1_collection1_low_confidence_shadow_is_clear(tmp_path):
    """USGS flags every clear pixel's shadow confidence low (1): not a cloud."""
    folder, block = _c1_scene(tmp_path, 0b01)
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        ds = xlstsr.io.open_landsat8_l1(folder, mask_water=False)
    assert not bool(ds["cloud"].values[block].any())
    assert np.isfinite(ds["bt"].values[block]).all()


# -- 2. evaluate --reference-offset, and the refusal in flags -------------------------------------

@pytest.fixture()
def landsat_dn_reference(tmp_path):
    """A Landsat ST digital-number GeoTIFF (not named as a USGS scene) and an sr of it."""
    pytest.importorskip("rioxarray")
    rasterio = pytest.importorskip("rasterio")
    from affine import Affine

    yy, xx = np.mgrid[:96, :96]
    lst = 300 + 5 * np.sin(xx / 7) + 3 * np.cos(yy / 9)
    dn = np.round((lst - ST_OFFSET) / ST_SCALE).astype("uint16")
    dn[:3, :3] = 0  # the product's fill
    ref = tmp_path / "landsat_st_clip.tif"
    with rasterio.open(ref, "w", driver="GTiff", height=96, width=96, count=1, dtype="uint16",
                       crs="EPSG:32611", transform=Affine(30, 0, 500000, 0, -30, 4200000)) as d:
        d.write(dn, 1)
    sr = lst.reshape(12, 8, 12, 8).mean((1, 3)).astype("float32")
    da = xr.DataArray(sr, dims=("y", "x"), attrs={"units": "K"},
                      coords={"y": 4200000 - 120 - 240 * np.arange(12),
                              "x": 500000 + 120 + 240 * np.arange(12)}).rio.write_crs("EPSG:32611")
    da.rio.to_raster(tmp_path / "sr.tif")
    return tmp_path, ref, lst


def test_evaluate_reference_offset_decodes_landsat_st(capsys, landsat_dn_reference):
    d, ref, lst = landsat_dn_reference
    out = d / "o.csv"
    code, err = run_cli(capsys, "evaluate", d / "sr.tif", ref, out, "--reference-scale",
                        ST_SCALE, "--reference-offset", ST_OFFSET, "--reference-nodata", 0)
    assert code == 0, err
    table = pd.read_csv(out)
    rmse = float(table["rmse"].iloc[0])
    # the same scores as the reference decoded by hand
    sr = xr.open_dataarray(d / "sr.tif").squeeze(drop=True)
    truth = xr.open_dataarray(ref).squeeze(drop=True)
    truth = (truth.where(truth != 0) * ST_SCALE + ST_OFFSET).assign_attrs(units="K")
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        expected = float(xlstsr.evaluate(sr, truth)["rmse"])
    assert rmse == pytest.approx(expected, rel=1e-4)
    # Kelvin of the scene, not 149 K off (the sr is the truth's block mean)
    assert abs(float(table["bias"].iloc[0])) < 0.1 * float(np.std(lst))


def test_evaluate_landsat_scale_without_offset_refused_in_flags(capsys, landsat_dn_reference):
    d, ref, _ = landsat_dn_reference
    code, err = run_cli(capsys, "evaluate", d / "sr.tif", ref, d / "o.csv",
                        "--reference-scale", ST_SCALE)
    assert code == 2
    assert f"--reference-offset {ST_OFFSET:g}" in err and "--reference-nodata 0" in err
    assert "*_ST_B10.TIF" in err
    assert "reference_scale" not in err and "dn.where" not in err
    assert "--reference-offset" in build_help("evaluate")


def test_evaluate_reference_offset_refused_where_file_declares_one(capsys, landsat_dn_reference):
    d, ref, _ = landsat_dn_reference
    import rasterio

    declared = d / "declared.tif"
    shutil.copy(ref, declared)
    with rasterio.open(declared, "r+") as f:  # the GDAL scale/offset tags of the band
        f.scales, f.offsets = (ST_SCALE,), (ST_OFFSET,)
    code, err = run_cli(capsys, "evaluate", d / "sr.tif", declared, d / "o.csv",
                        "--reference-offset", ST_OFFSET)
    assert code == 2 and "add_offset" in err and "drop --reference-offset" in err


def build_help(command: str) -> str:
    from xlstsr.cli import build_parser

    parser = build_parser()
    sub = next(a for a in parser._actions if a.__class__.__name__ == "_SubParsersAction")
    return sub.choices[command].format_help()


# -- 3. upscale_to_zarr: upscale's keyword shorthand, calibration= refused in words ---------------

@pytest.fixture(scope="module")
def small_lst():
    return xlstsr.datasets.sample_scene(n_times=1, size=32, seed=3)["lst_1km"]


def test_upscale_to_zarr_takes_method_option_keywords(tmp_path, small_lst):
    pytest.importorskip("zarr")
    kw = xlstsr.upscale_to_zarr(small_lst, tmp_path / "kw.zarr", 4, "sisr", progress=False,
                                conserve=True)
    mo = xlstsr.upscale_to_zarr(small_lst, tmp_path / "mo.zarr", 4, "sisr", progress=False,
                                method_options={"conserve": True})
    xr.testing.assert_identical(kw.compute(), mo.compute())
    ref = xlstsr.upscale(small_lst, 4, "sisr", conserve=True)
    np.testing.assert_allclose(kw.values, ref.values, rtol=0, atol=1e-3)


def test_upscale_to_zarr_option_given_twice_refused(tmp_path, small_lst):
    with pytest.raises(MethodOptionError, match=r"given twice.*method_options"):
        xlstsr.upscale_to_zarr(small_lst, tmp_path / "x.zarr", 4, "sisr", progress=False,
                               method_options={"conserve": False}, conserve=True)
    assert not (tmp_path / "x.zarr").exists()


def test_upscale_to_zarr_calibration_refused_with_the_way(tmp_path, small_lst):
    with pytest.raises(XlstsrError, match=r"apply_calibration\(upscale_to_zarr") as info:
        xlstsr.upscale_to_zarr(small_lst, tmp_path / "c.zarr", 4, "bicubic", progress=False,
                               calibration=Calibration(slope=1.02, offset=-5.0))
    assert not isinstance(info.value, TypeError)
    assert not (tmp_path / "c.zarr").exists()


# -- 4. upscale --calibration with an NDVI term: refused in the command's words -------------------

def test_cli_upscale_ndvi_calibration_refused_in_command_words(capsys, tmp_path):
    sc = xlstsr.datasets.sample_scene(n_times=1, size=32, seed=3)
    sc["lst_1km"].to_dataset(name="LST").to_netcdf(tmp_path / "lst.nc")
    sc["ndvi_250m"].rio.to_raster(tmp_path / "ndvi.tif")
    cal = tmp_path / "cal.json"
    cal.write_text(Calibration(slope=1.0, offset=0.5, ndvi=-1.0).to_json())
    code, err = run_cli(capsys, "upscale", tmp_path / "lst.nc", tmp_path / "out.nc", "--method",
                        "disr", "--guide", tmp_path / "ndvi.tif", "--calibration", cal,
                        "--quiet")
    assert code == 2
    assert "--calibration" in err and "without --calibration" in err
    assert "apply_calibration(" in err and "ndvi=" in err
    assert not (tmp_path / "out.nc").exists()
    # without the NDVI term it is applied
    cal.write_text(Calibration(slope=1.0, offset=0.5).to_json())
    code, err = run_cli(capsys, "upscale", tmp_path / "lst.nc", tmp_path / "out.nc", "--method",
                        "disr", "--guide", tmp_path / "ndvi.tif", "--calibration", cal,
                        "--quiet")
    assert code == 0, err
    shutil.rmtree(tmp_path, ignore_errors=True)


# -- 5. a diverged adaptation's advice keeps the user's settings ----------------------------------

def test_adapt_divergence_advice_keeps_settings_and_names_terms():
    torch = pytest.importorskip("torch")
    import ast
    import re

    from xlstsr.nn.adapt import adapt_model

    class Tiny(torch.nn.Module):
        """A guided model of the protocol: upsampled LST plus a learned multiple of the guide."""

        def __init__(self):
            super().__init__()
            self.w = torch.nn.Parameter(torch.tensor(0.0))

        def forward(self, lst, guide):
            up = torch.nn.functional.interpolate(lst, scale_factor=4, mode="nearest")
            return up + self.w * guide[:, :1] * 1e3

    rng = np.random.default_rng(0)
    lst = (300 + rng.normal(0, 2, (16, 16))).astype(np.float32)
    guide = rng.uniform(0, 1, (1, 64, 64)).astype(np.float32)
    given = {"steps": 5, "lr": 10.0, "anchor": 1.0, "alpha": 0.5, "window": 16, "gain": -5.0}
    cfg = xlstsr.nn.adapt.Adaptation.parse(given)
    with pytest.raises(XlstsrError, match="diverged") as info:
        adapt_model(Tiny(), lst, guide, factor=4, config=cfg)
    msg = str(info.value)
    suggested = ast.literal_eval(re.search(r"adapt=(\{[^}]*\})", msg).group(1))
    assert suggested["lr"] < given["lr"]
    assert {k: v for k, v in suggested.items() if k != "lr"} == {
        k: v for k, v in given.items() if k != "lr"}
    assert "consistency with the coarse input" not in msg
    assert "0.5 x the guide-detail term" in msg and "1 x the anchor" in msg


def test_adapt_divergence_suggestion_unit():
    from xlstsr.nn.adapt import Adaptation, _diverged

    cfg = Adaptation(steps=3, lr=0.5, psf=None, gain=-8.0, alpha=0.3, seed=4)
    with pytest.raises(XlstsrError) as info:
        _diverged(cfg, "made 3 output pixel(s) NaN or infinite", detail=True)
    msg = str(info.value)
    assert ("{'steps': 3, 'lr': 0.0001, 'psf': None, 'alpha': 0.3, 'gain': -8.0, 'seed': 4}"
            in msg)
    assert "0.7 x the guide-detail term (gain -8 K per guide unit)" in msg
    with pytest.raises(XlstsrError, match="consistency with the coarse input"):
        _diverged(Adaptation(lr=0.1), "did X")

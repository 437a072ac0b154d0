"""Landsat Collection 2 Level-2 scenes (``xlstsr.io.open_landsat_c2l2``): decoding, masks, errors.

The scenes are written here as USGS delivers them (uint16 GeoTIFFs named
``{product}_ST_B10.TIF``..., ``QA_PIXEL`` bit flags, an MTL with the Level-2 scalings), from
known surface temperatures and reflectances, so that every decoded value can be checked.
"""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pytest
import xarray as xr
from affine import Affine

import xlstsr
from xlstsr.errors import InputNotFoundError, XlstsrError
from xlstsr.io import open_landsat_c2l2

PRODUCT = "LC08_L2SP_044034_20230815_20230822_02_T1_"
SHAPE = (40, 50)
ST_MULT, ST_ADD = 0.00341802, 149.0


def _truth(shape=SHAPE):
    yy, xx = np.mgrid[: shape[0], : shape[1]]
    lst = 300.0 + 8 * np.sin(xx / 7.0) + 0.2 * yy
    red = 0.05 + 0.002 * xx
    nir = 0.30 + 0.003 * yy
    return lst, red, nir


def _write(path: Path, values: np.ndarray, dtype="uint16") -> None:
    import rasterio

    t = Affine(30.0, 0, 500_000.0, 0, -30.0, 4_200_000.0)
    with rasterio.open(path, "w", driver="GTiff", height=values.shape[0], width=values.shape[1],
                       count=1, dtype=dtype, crs="EPSG:32611", transform=t) as dst:
        dst.write(values.astype(dtype), 1)


def _scene(folder: Path, *, product: str = PRODUCT, landsat7: bool = False, mtl_add: float | None
           = ST_ADD, st_qa: bool = True) -> dict[str, np.ndarray]:
    """A Level-2 scene in ``folder``: cloud in rows 5-9, a cloud shadow, cirrus, water in rows
    30-34, fill in the first column; returns the truth and the masks."""
    folder.mkdir(parents=True, exist_ok=True)
    lst, red, nir = _truth()
    add = ST_ADD if mtl_add is None else mtl_add
    st = np.round((lst - add) / ST_MULT)
    qa = np.full(SHAPE, 1 << 6, np.uint16)  # bit 6: clear
    qa[5:10, :] = 1 << 3  # cloud
    qa[12, :] = 1 << 4  # cloud shadow
    qa[14, :10] = 1 << 2  # cirrus
    qa[16, 20:] = 1 << 1  # dilated cloud
    qa[30:35, :] = 1 << 7  # water
    qa[:, 0] = 1  # fill
    st[:, 0] = 0
    thermal, r_band, n_band = ("ST_B6", "SR_B3", "SR_B4") if landsat7 else ("ST_B10", "SR_B4",
                                                                            "SR_B5")
    _write(folder / f"{product}{thermal}.TIF", st)
    _write(folder / f"{product}{r_band}.TIF", np.round((red + 0.2) / 2.75e-5))
    _write(folder / f"{product}{n_band}.TIF", np.round((nir + 0.2) / 2.75e-5))
    _write(folder / f"{product}QA_PIXEL.TIF", qa)
    if st_qa:
        unc = np.full(SHAPE, 150)  # 1.5 K
        unc[20:25, :] = 600  # 6 K near clouds
        _write(folder / f"{product}ST_QA.TIF", unc, "int16")
    if mtl_add is not None:
        tag = thermal
        (folder / f"{product}MTL.txt").write_text(
            "GROUP = LANDSAT_METADATA_FILE\n"
            f'  LANDSAT_PRODUCT_ID = "{product.rstrip("_")}"\n'
            f'  SPACECRAFT_ID = "{"LANDSAT_7" if landsat7 else "LANDSAT_8"}"\n'
            "  DATE_ACQUIRED = 2023-08-15\n"
            "  GROUP = LEVEL2_SURFACE_TEMPERATURE_PARAMETERS\n"
            f"    TEMPERATURE_MULT_BAND_{tag} = {ST_MULT:.8f}\n"
            f"    TEMPERATURE_ADD_BAND_{tag} = {mtl_add}\n"
            "  END_GROUP = LEVEL2_SURFACE_TEMPERATURE_PARAMETERS\n"
            "END_GROUP = LANDSAT_METADATA_FILE\nEND\n")
    cloud = np.zeros(SHAPE, bool)
    cloud[5:10], cloud[12], cloud[14, :10], cloud[16, 20:] = True, True, True, True
    water = np.zeros(SHAPE, bool)
    water[30:35] = True
    cloud[:, 0] = water[:, 0] = False  # fill: no other flag
    fill = np.zeros(SHAPE, bool)
    fill[:, 0] = True
    return {"lst": lst, "ndvi": (nir - red) / (nir + red), "cloud": cloud, "water": water,
            "fill": fill}


def test_decodes_temperature_ndvi_and_masks_as_the_product_guide_says(tmp_path: Path) -> None:
    """Surface temperature within half a digital number (0.0017 K), NDVI within the reflectance
    quantisation, NaN on fill, cloud (bits 1-4) and water; lazy, on the scene's CRS and grid."""
    truth = _scene(tmp_path / "scene")
    ds = open_landsat_c2l2(tmp_path / "scene")
    assert ds["lst"].chunks is not None  # lazy
    assert ds.rio.crs.to_epsg() == 32611 and ds["lst"].rio.transform().a == 30.0
    assert ds["lst"].attrs["units"] == "K" and ds.attrs["date"] == "2023-08-15"
    lst, ndvi = ds["lst"].values, ds["ndvi"].values
    bad = truth["cloud"] | truth["water"] | truth["fill"]
    assert np.array_equal(np.isnan(lst), bad) and np.array_equal(np.isnan(ndvi), bad)
    assert np.nanmax(np.abs(lst - truth["lst"])) <= ST_MULT / 2 + 1e-4
    assert np.nanmax(np.abs(ndvi - truth["ndvi"])) < 2e-4
    assert np.array_equal(ds["cloud"].values, truth["cloud"])
    assert np.array_equal(ds["water"].values, truth["water"])
    # water kept on request; the uncertainty screen removes the 6 K rows only
    kept = open_landsat_c2l2(tmp_path / "scene", mask_water=False)["lst"].values
    assert np.isfinite(kept[30:35, 1:]).all()
    screened = open_landsat_c2l2(tmp_path / "scene", max_uncertainty=2.0)["lst"].values
    assert np.isnan(screened[20:25]).all() and np.isfinite(screened[25:30, 1:]).all()


def test_reads_the_scaling_from_the_mtl_and_landsat_4_7_band_names(tmp_path: Path) -> None:
    """The MTL's TEMPERATURE_ADD (here 150.0, not USGS's 149.0) decodes the DNs; without an MTL
    the published constants do; a Landsat 7 scene (ST_B6, NDVI from SR_B4/SR_B3) reads alike."""
    truth = _scene(tmp_path / "l8", mtl_add=150.0)
    lst = open_landsat_c2l2(tmp_path / "l8")["lst"].values
    assert np.nanmax(np.abs(lst - truth["lst"])) <= ST_MULT / 2 + 1e-4
    truth = _scene(tmp_path / "nomtl", mtl_add=None)
    ds = open_landsat_c2l2(tmp_path / "nomtl")
    assert np.nanmax(np.abs(ds["lst"].values - truth["lst"])) <= ST_MULT / 2 + 1e-4
    truth = _scene(tmp_path / "l7", landsat7=True, product="LE07_L2SP_044034_20030815_02_T1_")
    ds = open_landsat_c2l2(tmp_path / "l7")
    assert "ST_B6" in ds["lst"].attrs["long_name"] and ds.attrs["spacecraft"] == "LANDSAT_7"
    assert np.nanmax(np.abs(ds["ndvi"].values - truth["ndvi"])) < 2e-4


def test_a_decoded_scene_is_fine_truth_for_evaluate(tmp_path: Path) -> None:
    """The decoded ``lst`` goes into ``evaluate`` as the reference of a 60 m field on its grid."""
    truth = _scene(tmp_path / "scene")
    ref = open_landsat_c2l2(tmp_path / "scene")["lst"]
    sr = xr.DataArray(truth["lst"].astype(np.float32) + 0.5, dims=("y", "x"),
                      coords={"y": ref.y, "x": ref.x}, attrs={"units": "K"})
    sr = sr.rio.write_crs("EPSG:32611").rio.write_transform(ref.rio.transform())
    scores = xlstsr.evaluate(sr, ref)
    assert abs(float(scores.bias) - 0.5) < 0.01 and float(scores.rmse) < 0.51


def test_errors_name_the_problem_and_the_fix(tmp_path: Path) -> None:
    with pytest.raises(InputNotFoundError, match="no such folder"):
        open_landsat_c2l2(tmp_path / "nowhere")
    (tmp_path / "l1").mkdir()
    (tmp_path / "l1" / "LC08_B10.TIF").write_bytes(b"")
    with pytest.raises(InputNotFoundError, match=r"no \*_ST_B10.TIF .* open_landsat8_l1"):
        open_landsat_c2l2(tmp_path / "l1")
    _scene(tmp_path / "two")
    _scene(tmp_path / "two", product="LC09_L2SP_044034_20230823_20230824_02_T1_")
    with pytest.raises(XlstsrError, match=r"2 Level-2 scenes .* pass prefix="):
        open_landsat_c2l2(tmp_path / "two")
    assert open_landsat_c2l2(tmp_path / "two", prefix=PRODUCT).sizes["x"] == SHAPE[1]
    _scene(tmp_path / "noqa", st_qa=False)
    (tmp_path / "noqa" / f"{PRODUCT}QA_PIXEL.TIF").unlink()
    with pytest.raises(InputNotFoundError, match=f"lacks {PRODUCT}QA_PIXEL.TIF"):
        open_landsat_c2l2(tmp_path / "noqa")
    _scene(tmp_path / "nostqa", st_qa=False)
    with pytest.raises(InputNotFoundError, match=r"max_uncertainty needs .*ST_QA"):
        open_landsat_c2l2(tmp_path / "nostqa", max_uncertainty=2.0)
    _write(tmp_path / "nostqa" / f"{PRODUCT}ST_B10.TIF", _truth()[0], "float32")
    with pytest.raises(XlstsrError, match="float32 values, not the product's uint16"):
        open_landsat_c2l2(tmp_path / "nostqa")


def test_undecoded_surface_temperature_is_recognised_at_the_front_door(tmp_path: Path) -> None:
    """The ST band opened as a plain raster (digital numbers around 44 000) is refused by
    ``upscale`` with the Level-2 scaling and the reader named."""
    import rioxarray

    _scene(tmp_path / "scene")
    raw = rioxarray.open_rasterio(tmp_path / "scene" / f"{PRODUCT}ST_B10.TIF").squeeze(drop=True)
    with pytest.raises(XlstsrError, match=r"Landsat Collection 2 Level-2 .*open_landsat_c2l2"):
        xlstsr.upscale(raw.isel(x=slice(1, None)).astype(np.float32), 2)

"""Landsat Collection 2 Level-2 scenes as users have them (corpus 22): the acquisition date on
the data, the product ID as ``prefix=``, lower-case names, a scene file for its folder, and the
surface-temperature product without its reflectance bands.

The scenes are small uint16 GeoTIFFs written here in USGS's layout (``{product}ST_B10.TIF``,
``QA_PIXEL`` bit flags, an MTL with the Level-2 scalings and the acquisition time).
"""

from __future__ import annotations

import warnings
from pathlib import Path

import numpy as np
import pandas as pd
import pytest
import xarray as xr
from affine import Affine

import xlstsr
from xlstsr.errors import GridError, InputNotFoundError
from xlstsr.io import open_landsat8_l1, open_landsat_c2l2
from xlstsr.io.landsat import read_mtl

PRODUCT = "LC08_L2SP_044034_20230815_20230822_02_T1"
DATE, CLOCK = "2023-08-15", "18:42:07.5130120Z"
SHAPE = (24, 30)
ST_MULT, ST_ADD, SR_MULT, SR_ADD = 0.00341802, 149.0, 2.75e-5, -0.2
TRANSFORM = Affine(30.0, 0, 500_000.0, 0, -30.0, 4_200_000.0)


def _write(path: Path, values: np.ndarray) -> None:
    import rasterio

    with rasterio.open(path, "w", driver="GTiff", height=values.shape[0], width=values.shape[1],
                       count=1, dtype="uint16", crs="EPSG:32611", transform=TRANSFORM) as dst:
        dst.write(values.astype("uint16"), 1)


def _scene(folder: Path, *, lower: bool = False, sr: bool = True, mtl: bool = True,
           sr_fill: tuple[int, int] | None = None) -> dict[str, np.ndarray]:
    """A Landsat 8 Level-2 scene in ``folder`` (cloud in rows 3-5, fill in column 0); returns
    the surface temperature it encodes. ``sr_fill``: a pixel where only SR_B4 is fill (DN 0)."""
    folder.mkdir(parents=True, exist_ok=True)
    yy, xx = np.mgrid[: SHAPE[0], : SHAPE[1]]
    lst = 295.0 + 6 * np.sin(xx / 5.0) + 0.3 * yy
    st = np.round((lst - ST_ADD) / ST_MULT)
    qa = np.full(SHAPE, 1 << 6, np.uint16)  # clear
    qa[3:6] = 1 << 3  # cloud
    qa[:, 0], st[:, 0] = 1, 0  # fill
    bands = {"ST_B10": st, "QA_PIXEL": qa}
    if sr:
        red = np.round((0.06 + 0.002 * xx - SR_ADD) / SR_MULT)
        if sr_fill is not None:
            red[sr_fill] = 0
        bands |= {"SR_B4": red, "SR_B5": np.round((0.3 + 0.004 * yy - SR_ADD) / SR_MULT)}
    for band, values in bands.items():
        name = f"{PRODUCT}_{band}.TIF"
        _write(folder / (name.lower() if lower else name), values)
    if mtl:
        name = f"{PRODUCT}_MTL.txt"
        (folder / (name.lower() if lower else name)).write_text(
            "GROUP = LANDSAT_METADATA_FILE\n"
            f'  LANDSAT_PRODUCT_ID = "{PRODUCT}"\n'
            '  SPACECRAFT_ID = "LANDSAT_8"\n'
            f"  DATE_ACQUIRED = {DATE}\n"
            f'  SCENE_CENTER_TIME = "{CLOCK}"\n'
            "  GROUP = LEVEL2_SURFACE_TEMPERATURE_PARAMETERS\n"
            f"    TEMPERATURE_MULT_BAND_ST_B10 = {ST_MULT}\n"
            f"    TEMPERATURE_ADD_BAND_ST_B10 = {ST_ADD}\n"
            "  END_GROUP = LEVEL2_SURFACE_TEMPERATURE_PARAMETERS\n"
            "END_GROUP = LANDSAT_METADATA_FILE\nEND\n")
    return {"lst": lst}


def _sr_of(ref: xr.DataArray, when: str) -> xr.DataArray:
    """A field on the reference's grid, 0.5 K warmer, as one step of date ``when``."""
    sr = (ref.fillna(300.0) + 0.5).drop_vars("time").expand_dims(time=pd.DatetimeIndex([when]))
    sr.attrs = {"units": "K"}
    return sr.rio.write_crs(ref.rio.crs).rio.write_transform(ref.rio.transform())


def test_c2l2_lst_carries_its_acquisition_time_and_evaluate_pairs_it(tmp_path: Path) -> None:
    """``time`` (DATE_ACQUIRED + SCENE_CENTER_TIME, naive UTC datetime64[ns]) is on ``lst``
    itself: an sr of another date is refused, one of the same date scored; without an MTL the
    product ID's date is used."""
    _scene(tmp_path / "scene")
    ds = open_landsat_c2l2(tmp_path / "scene")
    ref = ds["lst"]
    expected = pd.Timestamp(f"{DATE}T{CLOCK}").tz_convert("UTC").tz_localize(None)
    assert ref["time"].ndim == 0 and ref["time"].dtype == np.dtype("datetime64[ns]")
    assert pd.Timestamp(ref["time"].values) == expected
    assert "time" in ds["cloud"].coords
    with pytest.raises(GridError, match="time"):
        xlstsr.evaluate(_sr_of(ref, "2023-08-31"), ref, erode=0)
    with warnings.catch_warnings():
        warnings.simplefilter("error")  # the same overpass: no complaint
        scores = xlstsr.evaluate(_sr_of(ref, DATE), ref, erode=0)
    assert float(scores.bias.squeeze()) == pytest.approx(0.5, abs=0.01)

    _scene(tmp_path / "nomtl", mtl=False)
    t = open_landsat_c2l2(tmp_path / "nomtl")["lst"]["time"].values
    assert pd.Timestamp(t) == pd.Timestamp(DATE)


def test_landsat8_l1_carries_its_acquisition_time(shared_data: Path) -> None:
    """The Level-1 reader puts the MTL's acquisition time on its variables too."""
    folder = shared_data / "landsat8_gulf_l1"
    mtl = read_mtl(folder / "l8_MTL.txt")
    ds = open_landsat8_l1(folder)
    expected = pd.Timestamp(f"{mtl['DATE_ACQUIRED']}T{mtl['SCENE_CENTER_TIME']}")
    assert ds["bt"]["time"].dtype == np.dtype("datetime64[ns]")
    assert pd.Timestamp(ds["bt"]["time"].values) == expected.tz_convert("UTC").tz_localize(None)


def test_the_product_id_is_a_prefix_and_messages_name_the_missions_bands(tmp_path: Path) -> None:
    """``prefix=ds.attrs['scene']`` (no trailing '_') opens the scene; a prefix of no file of a
    Landsat 8 scene lists ST_B10 (not Landsat 4-7's ST_B6/SR_B3) and the scene the folder holds."""
    _scene(tmp_path / "scene")
    ds = open_landsat_c2l2(tmp_path / "scene")
    again = open_landsat_c2l2(tmp_path / "scene", prefix=ds.attrs["scene"])
    np.testing.assert_array_equal(again["lst"].values, ds["lst"].values)
    with pytest.raises(InputNotFoundError) as e:
        open_landsat_c2l2(tmp_path / "scene", prefix=PRODUCT.replace("_T1", "_T2"))
    msg = str(e.value)
    assert "ST_B10" in msg and "ST_B6" not in msg and "SR_B3" not in msg
    assert f"{PRODUCT}_" in msg  # the prefix to pass


def test_lower_case_names_and_a_scene_file_for_its_folder(tmp_path: Path) -> None:
    """``*_st_b10.tif`` names are read as the USGS ones; the path of the scene's ST_B10.TIF or
    MTL stands for its folder and prefix; another file is refused as such, not 'no such folder'."""
    truth = _scene(tmp_path / "upper")
    _scene(tmp_path / "lower", lower=True)
    upper = open_landsat_c2l2(tmp_path / "upper")
    lower = open_landsat_c2l2(tmp_path / "lower")
    np.testing.assert_array_equal(lower["lst"].values, upper["lst"].values)
    np.testing.assert_array_equal(lower["ndvi"].values, upper["ndvi"].values)
    assert lower.attrs["scene"] == PRODUCT and lower["time"].values == upper["time"].values
    assert np.nanmax(np.abs(lower["lst"].values - truth["lst"])) <= ST_MULT / 2 + 1e-4
    for name in (f"{PRODUCT}_ST_B10.TIF", f"{PRODUCT}_MTL.txt"):
        ds = open_landsat_c2l2(tmp_path / "upper" / name)
        np.testing.assert_array_equal(ds["lst"].values, upper["lst"].values)
    (tmp_path / "upper" / "notes.txt").write_text("x")
    with pytest.raises(InputNotFoundError, match="is a file") as e:
        open_landsat_c2l2(tmp_path / "upper" / "notes.txt")
    assert "no such folder" not in str(e.value)


def test_a_surface_temperature_only_scene_gives_its_lst(tmp_path: Path) -> None:
    """Without SR_B4/SR_B5 (the ST product alone) the scene is read, without ``ndvi``, with the
    same ``lst`` as the whole scene; a reflectance fill pixel masks ``ndvi``, not ``lst``; one
    SR band alone is warned about."""
    truth = _scene(tmp_path / "st", sr=False)
    st_only = open_landsat_c2l2(tmp_path / "st")
    assert "ndvi" not in st_only and {"lst", "cloud", "water"} <= set(st_only.data_vars)
    assert np.nanmax(np.abs(st_only["lst"].values - truth["lst"])) <= ST_MULT / 2 + 1e-4
    _scene(tmp_path / "full", sr_fill=(10, 12))
    full = open_landsat_c2l2(tmp_path / "full")
    np.testing.assert_array_equal(full["lst"].values, st_only["lst"].values)
    assert np.isfinite(full["lst"].values[10, 12]) and np.isnan(full["ndvi"].values[10, 12])
    (tmp_path / "full" / f"{PRODUCT}_SR_B5.TIF").unlink()
    with pytest.warns(UserWarning, match="SR_B5"):
        half = open_landsat_c2l2(tmp_path / "full")
    assert "ndvi" not in half


def test_cli_evaluate_takes_a_c2l2_scene_as_its_reference(tmp_path: Path, capsys) -> None:
    """The scene folder was refused as of unknown format, its ST_B10.TIF pointed at a Python
    function, and no flag gave the 149 K offset."""
    from helpers import run_cli

    _scene(tmp_path / "scene")
    ref = open_landsat_c2l2(tmp_path / "scene")["lst"]
    sr = (ref.fillna(300.0) + 0.5).drop_vars("time")
    sr.attrs = {"units": "K"}
    sr.rio.write_crs(ref.rio.crs).rio.to_raster(tmp_path / "sr.tif")
    for given in (tmp_path / "scene", tmp_path / "scene" / f"{PRODUCT}_ST_B10.TIF"):
        code, err = run_cli(capsys, "evaluate", tmp_path / "sr.tif", given, tmp_path / "s.csv",
                            "--overwrite")
        assert code == 0, err
        table = pd.read_csv(tmp_path / "s.csv")
        assert float(table["bias"].iloc[0]) == pytest.approx(0.5, abs=0.01)

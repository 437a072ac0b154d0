"""Round 29 of bad inputs: files the command line read wrongly or could not reach.

Found: a Landsat Collection 2 Level-2 ``*_ST_B10.TIF`` given to ``xlstsr upscale`` / ``scaling`` /
``train`` was not read through the Landsat reader (``evaluate`` did so for its reference) and
no flag carried the 149 K offset: ``--scale 0.00341802`` alone gave 166 K for a 315 K scene,
exit 0 (now the reader, or ``--scale`` with ``--offset``); a multi-band GeoTIFF's band
descriptions (an Earth Engine stack's ``LST_2020-07-01``...) were overwritten (now its dates, or
a ``band_description`` coordinate, written back); a NetCDF-4 file whose LST lies in a group
(ECOSTRESS ``SDS/LST``) could not be reached (now ``--variable group/var``, groups named); and
``xlstsr evaluate`` had no flag to declare the super-resolved field's units or fill.
"""

from __future__ import annotations

import numpy as np
import pytest
import rasterio
import rioxarray
import xarray as xr
from helpers import run_cli
from rasterio.transform import from_origin

from xlstsr.io import open_cog, open_path

SCENE = "LC08_L2SP_196030_20200701_20200708_02_T1_"


def _landsat(folder, qa: bool):
    """A warm (315 K) C2 L2 surface temperature band as USGS stores it (uint16 DN, fill 0),
    with or without its QA_PIXEL beside it."""
    folder.mkdir(parents=True, exist_ok=True)
    rng = np.random.default_rng(1)
    kelvin = 315 + 2 * rng.normal(size=(32, 32))
    dn = np.round((kelvin - 149.0) / 0.00341802)
    dn[:2] = 0
    prof = dict(driver="GTiff", width=32, height=32, count=1, dtype="uint16", nodata=0,
                crs="EPSG:32631", transform=from_origin(500000, 5000000, 30, 30))
    path = folder / f"{SCENE}ST_B10.TIF"
    with rasterio.open(path, "w", **prof) as f:
        f.write(dn.astype("uint16")[None])
    if qa:
        qa_dn = np.full((32, 32), 21824, dtype="uint16")  # clear land
        qa_dn[:2] = 1  # fill
        with rasterio.open(folder / f"{SCENE}QA_PIXEL.TIF", "w", **{**prof, "nodata": None}) as f:
            f.write(qa_dn[None])
    return path, float(kelvin[2:].mean())


def _mean(path) -> float:
    return float(rioxarray.open_rasterio(path, masked=True).mean())


def test_landsat_band_scale_without_offset_refused(tmp_path, capsys):
    st, _ = _landsat(tmp_path / "alone", qa=False)
    code, err = run_cli(capsys, "upscale", st, tmp_path / "sr.tif", "--scale", "0.00341802")
    assert code == 2 and "--offset 149" in err
    assert not (tmp_path / "sr.tif").exists()
    code, err = run_cli(capsys, "scaling", st, tmp_path / "fits.csv", "--scale", "0.00341802")
    assert code == 2 and "--offset 149" in err
    # without flags nor QA_PIXEL: the way to either decoding
    code, err = run_cli(capsys, "upscale", st, tmp_path / "sr.tif")
    assert code == 2 and "QA_PIXEL" in err and "--offset 149" in err


def test_landsat_band_scale_and_offset_decode(tmp_path, capsys):
    st, truth = _landsat(tmp_path / "alone", qa=False)
    out = tmp_path / "sr.tif"
    code, err = run_cli(capsys, "upscale", st, out, "--scale", "0.00341802", "--offset", "149",
                        "--nodata", "0")
    assert code == 0, err
    assert abs(_mean(out) - truth) < 0.5


def test_landsat_scene_read_by_its_reader(tmp_path, capsys):
    st, truth = _landsat(tmp_path / "scene", qa=True)
    out = tmp_path / "sr.tif"
    code, err = run_cli(capsys, "upscale", st, out)
    assert code == 0, err
    assert abs(_mean(out) - truth) < 0.5
    # its reader decodes it: a scale on top is refused, not applied twice
    code, err = run_cli(capsys, "upscale", st, out, "--overwrite", "--scale", "0.00341802")
    assert code == 2 and "drop --scale" in err


def test_train_landsat_band_scale_without_offset_refused(tmp_path, capsys):
    st, _ = _landsat(tmp_path / "alone", qa=False)
    code, err = run_cli(capsys, "train", "--lst", st, "--scale", "0.00341802",
                        "--out", tmp_path / "m.pt")
    assert code == 2 and "--offset 149" in err
    assert not (tmp_path / "m.pt").exists()


@pytest.mark.parametrize("command", ["upscale", "scaling", "train", "evaluate"])
def test_offset_flag_beside_scale(command, capsys):
    from xlstsr.cli import build_parser

    sub = build_parser()._subparsers._group_actions[0].choices[command]
    flags = {o for a in sub._actions for o in a.option_strings}
    for scale in [f for f in flags if f.endswith("scale") and f not in ("--guide-scale",
                                                                         "--reference-scale")]:
        assert scale.replace("scale", "offset") in flags
    assert "CF add_offset" in " ".join(sub.format_help().split())


def _stack(path, names):
    k = (300 + 3 * np.random.default_rng(0).normal(size=(len(names), 8, 8))).astype("float32")
    with rasterio.open(path, "w", driver="GTiff", width=8, height=8, count=len(names),
                       dtype="float32", crs="EPSG:32631",
                       transform=from_origin(500000, 5000000, 1000, 1000)) as f:
        f.write(k)
        f.descriptions = names
    return path


@pytest.mark.parametrize("names", [("LST_2020-07-01", "LST_2020-07-09"),
                                   ("LST_Day_1km_2020_07_01", "LST_Day_1km_2020_07_09"),
                                   ("20200701", "20200709"),
                                   ("MOD11A2.A2020183", "MOD11A2.A2020191")])
def test_band_description_dates_are_time(tmp_path, names):
    da = open_cog(_stack(tmp_path / "s.tif", names))
    assert da.dims[0] == "time"
    assert [str(t)[:10] for t in da["time"].values] == ["2020-07-01", "2020-07-09"]


def test_band_description_dates_kept_in_outputs(tmp_path, capsys):
    names = ("LST_2020-07-01", "LST_2020-07-09", "LST_2020-07-17")
    src = _stack(tmp_path / "s.tif", names)
    code, err = run_cli(capsys, "upscale", src, tmp_path / "sr.tif")
    assert code == 0, err
    with rasterio.open(tmp_path / "sr.tif") as f:
        assert f.descriptions == names
    back = open_cog(tmp_path / "sr.tif")  # its own tags: the dates again, with the names
    assert [str(t)[:10] for t in back["time"].values] == ["2020-07-01", "2020-07-09",
                                                          "2020-07-17"]
    assert tuple(back["band_description"].values) == names
    code, err = run_cli(capsys, "upscale", src, tmp_path / "sr.zarr", "--quiet")
    assert code == 0, err
    ds = xr.open_zarr(tmp_path / "sr.zarr", consolidated=False)
    assert ds["time"].dtype.kind == "M" and ds.sizes["time"] == 3


def test_band_descriptions_without_dates_kept(tmp_path, capsys):
    names = ("LST_Day", "LST_Night")  # no dates: names of the bands, kept as they are
    src = _stack(tmp_path / "s.tif", names)
    da = open_cog(src)
    assert da.dims[0] == "band" and tuple(da["band_description"].values) == names
    code, err = run_cli(capsys, "upscale", src, tmp_path / "sr.nc")
    assert code == 0, err
    with xr.open_dataset(tmp_path / "sr.nc") as ds:
        assert tuple(map(str, ds["band_description"].values)) == names
    code, err = run_cli(capsys, "upscale", src, tmp_path / "sr.tif")
    assert code == 0, err
    with rasterio.open(tmp_path / "sr.tif") as f:
        assert f.descriptions == names
    # one repeated or ambiguous description: no dates made up
    same = open_cog(_stack(tmp_path / "t.tif", ("2020-07-01 to 2020-07-09", "2020-07-09")))
    assert "time" not in same.dims


@pytest.fixture
def grouped(tmp_path):
    pytest.importorskip("h5netcdf")
    k = (300 + 3 * np.random.default_rng(0).normal(size=(16, 16))).astype("float32")
    p = tmp_path / "granule.nc"
    xr.Dataset({"LST": (("y", "x"), k, {"units": "K"})},
               coords={"y": 4999500.0 - 1000 * np.arange(16),
                       "x": 500500.0 + 1000 * np.arange(16)}
               ).rio.write_crs("EPSG:32631").to_netcdf(p, group="science", engine="h5netcdf")
    return p


def test_netcdf_group_variable(grouped, tmp_path, capsys):
    code, err = run_cli(capsys, "upscale", grouped, tmp_path / "sr.tif")
    assert code == 2 and "--variable science/LST" in err and "(science)" in err
    code, err = run_cli(capsys, "upscale", grouped, tmp_path / "sr.tif", "--variable", "LST")
    assert code == 2 and "science/LST" in err
    code, err = run_cli(capsys, "upscale", grouped, tmp_path / "sr.tif",
                        "--variable", "science/LST")
    assert code == 0, err
    assert abs(_mean(tmp_path / "sr.tif") - 300) < 1
    da = open_path(grouped, variable="science/LST")
    assert da.dims == ("y", "x") and da.rio.crs is not None
    from xlstsr.errors import VariableNotFoundError

    with pytest.raises(VariableNotFoundError, match="science/LST"):
        open_path(grouped, variable="nope/LST")


def test_evaluate_declares_the_sr(tmp_path, capsys):
    k = (300 + 3 * np.random.default_rng(0).normal(size=(32, 32))).astype("float32")

    def tif(name, a):
        p = tmp_path / f"{name}.tif"
        with rasterio.open(p, "w", driver="GTiff", width=32, height=32, count=1,
                           dtype="float32", crs="EPSG:32631",
                           transform=from_origin(500000, 5000000, 250, 250)) as f:
            f.write(a[None])
        return p

    ref, sr = tif("truth", k), tif("sr_degC", k - 273.15)
    code, err = run_cli(capsys, "evaluate", sr, ref, tmp_path / "s.csv")
    assert code == 2 and "--units degC" in err
    code, err = run_cli(capsys, "evaluate", sr, ref, tmp_path / "s.csv", "--units", "degC")
    assert code == 0, err
    filled = tif("sr_fill", np.where(np.arange(32)[:, None] < 4, -9999, k).astype("float32"))
    code, err = run_cli(capsys, "evaluate", filled, ref, tmp_path / "s.csv", "--overwrite")
    assert code == 2 and "--nodata -9999" in err
    code, err = run_cli(capsys, "evaluate", filled, ref, tmp_path / "s.csv", "--overwrite",
                        "--nodata", "-9999")
    assert code == 0, err

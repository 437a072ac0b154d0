"""CLI fixes of probe 39: evaluate's CRS flags, scaling's --figure given the output's path, a
multi-band GeoTIFF's band named by --variable."""

import numpy as np
import pytest
import rasterio
import rioxarray  # noqa: F401
import xarray as xr
from helpers import MALFORMED_WKT

from xlstsr.cli import main


def run(capsys, *argv):
    """``xlstsr argv...``: (exit status, stdout, stderr)."""
    code = main([str(a) for a in argv])
    out = capsys.readouterr()
    return code, out.out, out.err


@pytest.fixture
def utm_and_latlon(tmp_path):
    """An sr on a UTM grid (its CRS written) and the same field reprojected to lon/lat degrees,
    written as a CF NetCDF without a grid_mapping (ERA5-Land, Copernicus GLS)."""
    rng = np.random.default_rng(0)
    x = 1e6 + 500 * (np.arange(32) + 0.5)
    y = 5.5e6 - 500 * (np.arange(32) + 0.5)
    sr = xr.DataArray(300 + rng.normal(0, 2, (1, 32, 32)), dims=("time", "y", "x"),
                      coords={"time": np.array(["2020-07-01"], "datetime64[ns]"), "y": y, "x": x},
                      attrs={"units": "K"}).rio.write_crs("EPSG:32633")
    utm = tmp_path / "sr.nc"
    sr.to_dataset(name="LST").to_netcdf(utm)
    ref = sr.rio.reproject("EPSG:4326").rename(x="lon", y="lat").drop_vars("spatial_ref")
    ref.attrs, ref.encoding = {"units": "K"}, {}
    latlon = tmp_path / "ref_latlon.nc"
    ref.to_dataset(name="LST").to_netcdf(latlon)
    return utm, latlon


def test_evaluate_reference_crs_declares_a_latlon_reference(tmp_path, capsys, utm_and_latlon):
    sr, ref = utm_and_latlon
    code, _, err = run(capsys, "evaluate", sr, ref, tmp_path / "m.csv")
    # the refusal named only Python's write_crs: the command line had no way at all
    assert code == 2 and "no CRS" in err and "`--reference-crs EPSG:4326`" in err
    code, out, err = run(capsys, "evaluate", sr, ref, tmp_path / "m.csv",
                         "--reference-crs", "EPSG:4326")
    assert code == 0, err
    assert (tmp_path / "m.csv").exists() and "RMSE" in out


def test_evaluate_crs_declares_the_sr_and_refuses_another_than_the_files(tmp_path, capsys,
                                                                         utm_and_latlon):
    utm, latlon = utm_and_latlon
    # the lat/lon file as the sr, scored against the UTM one
    code, _, err = run(capsys, "evaluate", latlon, utm, tmp_path / "m.csv")
    assert code == 2 and "`--crs EPSG:4326`" in err
    code, _, err = run(capsys, "evaluate", latlon, utm, tmp_path / "m.csv", "--crs", "EPSG:4326")
    assert code == 0, err
    # declares, does not reproject: a CRS other than the file's own is refused, naming the flag
    code, _, err = run(capsys, "evaluate", latlon, utm, tmp_path / "m2.csv",
                       "--crs", "EPSG:4326", "--reference-crs", "EPSG:32631")
    assert code == 2 and "--reference-crs EPSG:32631" in err and "declares its own CRS" in err
    assert not (tmp_path / "m2.csv").exists()


def test_evaluate_coarse_crs_is_advised_and_needs_coarse(tmp_path, capsys, utm_and_latlon):
    sr, ref = utm_and_latlon
    code, _, err = run(capsys, "evaluate", sr, ref, tmp_path / "m.csv",
                       "--reference-crs", "EPSG:4326", "--coarse-crs", "EPSG:4326")
    assert code == 2 and "--coarse-crs" in err and "--coarse" in err
    assert "unrecognized" not in err
    # a --coarse file without a CRS: the refusal names its own flag
    code, _, err = run(capsys, "evaluate", ref, sr, tmp_path / "m.csv", "--crs", "EPSG:4326",
                       "--coarse", ref)
    assert code == 2 and "the coarse LST has" in err and "`--coarse-crs EPSG:4326`" in err


def test_scaling_figure_given_the_output_path_says_it_is_the_output(tmp_path, capsys,
                                                                    utm_and_latlon):
    lst = utm_and_latlon[0]
    out = tmp_path / "stats.csv"
    code, _, err = run(capsys, "scaling", lst, out, "--figure", out)
    # it said "the output stats.csv is also an input": the table is no input
    assert code == 2 and "is also an input" not in err
    assert "--figure" in err and "output table" in err and "stats.png" in err
    assert not out.exists()


def test_variable_naming_a_band_of_a_multiband_geotiff_selects_it(tmp_path, capsys):
    x = 1e6 + 500 * (np.arange(32) + 0.5)
    y = 5.5e6 - 500 * (np.arange(32) + 0.5)
    rng = np.random.default_rng(1)
    bands = np.stack([300 + rng.normal(0, 2, (32, 32)), np.ones((32, 32))]).astype("float32")
    da = xr.DataArray(bands, dims=("band", "y", "x"),
                      coords={"band": [1, 2], "y": y, "x": x}).rio.write_crs("EPSG:32633")
    path = tmp_path / "lst_qc.tif"
    da.rio.to_raster(path)
    with rasterio.open(path, "r+") as f:  # an LST band beside its QC layer, described
        f.set_band_description(1, "LST")
        f.set_band_description(2, "QC")
    code, _, err = run(capsys, "scaling", path, tmp_path / "s.csv", "--variable", "LST",
                       "--units", "K")
    # "--variable LST ignored: holds a single field", then the QC band refused as a time step
    assert code == 0, err
    assert "ignored" not in err


def test_evaluate_reference_crs_replaces_a_malformed_reference_crs(tmp_path, capsys):
    from helpers import make_lst

    rng = np.random.default_rng(0)
    lst = tmp_path / "lst.tif"
    make_lst((300 + rng.normal(0, 2, (20, 20))).astype("f4"), res=100.0,
             crs="EPSG:32630").rio.to_raster(lst)
    sr = tmp_path / "sr.tif"
    assert run(capsys, "upscale", lst, sr, "--factor", "2", "--quiet")[0] == 0
    ref = tmp_path / "ref.tif"  # the same ground, its header malformed
    make_lst((300 + rng.normal(0, 2, (40, 40))).astype("f4"), res=50.0,
             crs=MALFORMED_WKT).rio.to_raster(ref)
    code, _, err = run(capsys, "evaluate", sr, ref, tmp_path / "m.csv")
    # the flag for this run, beside the file's fix for good
    assert code == 2 and "`--reference-crs EPSG:32630`" in err and "rio edit-info" in err
    code, _, err = run(capsys, "evaluate", sr, ref, tmp_path / "m.csv",
                       "--reference-crs", "EPSG:32630")
    assert code == 0, err

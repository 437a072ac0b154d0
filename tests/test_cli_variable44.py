"""Probe 44: a --variable (or --guide-variable...) that names none of a GeoTIFF's band
descriptions is refused with the exact name to use; it was "ignored" with a warning that
called the bands time steps, and every band (day and night alike) was processed as one."""

import warnings

import numpy as np
import pytest
import rasterio
import xarray as xr

from xlstsr.cli import main


def run(capsys, *argv):
    """``xlstsr argv...``: (exit status, stdout, stderr)."""
    code = main([str(a) for a in argv])
    out = capsys.readouterr()
    return code, out.out, out.err


def _tif(path, descriptions, base=(15000, 14000)):
    """A 2-band uint16 MODIS-like GeoTIFF (scale 0.02), its bands described as given (or not)."""
    prof = dict(driver="GTiff", width=32, height=32, count=2, dtype="uint16", nodata=0,
                crs="EPSG:32631",
                transform=rasterio.Affine(1000, 0, 500000, 0, -1000, 4500000))
    rng = np.random.default_rng(0)
    with rasterio.open(path, "w", **prof) as o:
        for i, b in enumerate(base, 1):
            o.write((b + rng.integers(0, 300, (32, 32))).astype("uint16"), i)
            if descriptions:
                o.set_band_description(i, descriptions[i - 1])
        o.scales = (0.02, 0.02)
    return path


DAY_NIGHT = ("LST_Day_1km", "LST_Night_1km")


def test_variable_of_another_case_is_refused_with_the_exact_name(tmp_path, capsys):
    tif, out = _tif(tmp_path / "dn2.tif", DAY_NIGHT), tmp_path / "out.nc"
    code, _, err = run(capsys, "upscale", tif, out, "--variable", "lst_night_1km", "--quiet")
    # before: exit 0, day and night upscaled as two steps of one output
    assert code == 2, err
    assert "--variable LST_Night_1km" in err and "case-sensitive" in err
    assert "LST_Day_1km" in err and "ignored" not in err
    assert not out.exists()


def test_variable_matching_no_description_lists_them(tmp_path, capsys):
    tif = _tif(tmp_path / "dn2.tif", DAY_NIGHT)
    code, _, err = run(capsys, "scaling", tif, tmp_path / "s.csv", "--variable", "LST",
                       "--units", "K")
    assert code == 2, err
    assert "'LST_Day_1km', 'LST_Night_1km'" in err and "--variable LST_Day_1km" in err


def test_exact_variable_still_selects_its_band(tmp_path, capsys):
    tif, out = _tif(tmp_path / "dn2.tif", DAY_NIGHT), tmp_path / "out.nc"
    code, _, err = run(capsys, "upscale", tif, out, "--variable", "LST_Night_1km", "--quiet")
    assert code == 0, err
    with xr.open_dataset(out) as ds:
        lst = ds["lst"]
        assert lst.ndim == 2
        assert float(lst.mean()) == pytest.approx(283, abs=1)  # the night band, 280-286 K


def test_guide_variable_matching_no_description_is_refused(tmp_path, capsys):
    lst = _tif(tmp_path / "lst.tif", None)
    guide = _tif(tmp_path / "guide.tif", ("NDVI", "EVI"))
    code, _, err = run(capsys, "upscale", lst, tmp_path / "out.nc", "--guide", guide,
                       "--guide-variable", "ndvi", "--method", "tsharp", "--quiet")
    assert code == 2, err
    assert "--guide-variable NDVI" in err and "ignored" not in err


def test_dated_bands_are_time_steps_of_the_named_field(tmp_path, capsys):
    """Bands described by their dates (an Earth Engine stack) are one field's steps: a
    --variable naming the field is warned as ignored, and every band read as a step."""
    import xarray as xr

    tif, out = _tif(tmp_path / "ee.tif", ("LST_2020-07-01", "LST_2020-07-02")), tmp_path / "o.nc"
    with warnings.catch_warnings(record=True) as caught:
        warnings.simplefilter("always")
        code, _, err = run(capsys, "upscale", tif, out, "--variable", "LST", "--quiet")
    assert code == 0, err
    assert "--variable LST ignored" in err + " ".join(str(w.message) for w in caught)
    with xr.open_dataset(out) as ds:
        assert ds.sizes["time"] == 2


def test_undescribed_bands_keep_the_warning(tmp_path, capsys):
    tif, out = _tif(tmp_path / "steps.tif", None), tmp_path / "out.nc"
    with warnings.catch_warnings(record=True) as caught:
        warnings.simplefilter("always")
        code, _, err = run(capsys, "upscale", tif, out, "--variable", "LST", "--quiet")
    said = err + " ".join(str(w.message) for w in caught)
    assert code == 0, err
    assert "--variable LST ignored" in said

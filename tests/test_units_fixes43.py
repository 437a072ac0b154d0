"""Fixes of probes 43x (X02, X04) and 43d (D2): scaling's CRS-vs-coordinate-units check,
Celsius scales advised alongside Kelvin ones for values without units, and the registered
name of a method on a distributed worker."""
import re
import warnings

import numpy as np
import pytest
import rasterio
import xarray as xr
from rasterio.transform import from_origin

import xlstsr
from xlstsr import cli
from xlstsr.errors import XlstsrError
from xlstsr.methods.base import UpscaleMethod, register_method, unregister_method

TRUTH = 300 + np.random.default_rng(0).normal(0, 2, (32, 32))


def _grid(crs, x0, y0, res, values=TRUTH, attrs=None, dtype="float32"):
    n = values.shape[-1]
    y = y0 - res / 2 - res * np.arange(n)
    x = x0 + res / 2 + res * np.arange(n)
    return xr.DataArray(values.astype(dtype)[None], dims=("time", "y", "x"),
                        coords={"time": [np.datetime64("2020-07-01")], "y": y, "x": x},
                        attrs={"units": "K"} if attrs is None else attrs).rio.write_crs(crs)


def _cli(argv, capsys):
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        try:
            rc = cli.main(argv)
        except SystemExit as e:
            rc = e.code
    return rc, capsys.readouterr().err


# X02: scaling_stats read metres under EPSG:4326 as 1000-degree pixels, degrees under UTM as m

def test_scaling_stats_refuses_geographic_crs_on_metres():
    lst = _grid("EPSG:4326", 1_000_000, 5_500_000, 1000)
    with pytest.raises(XlstsrError, match=r"are not degrees, but its CRS .* is geographic"):
        xlstsr.scaling_stats(lst)


def test_scaling_stats_refuses_projected_crs_on_degrees():
    lst = _grid("EPSG:32633", 14.0, 49.6, 0.01)
    with pytest.raises(XlstsrError, match="look like longitude/latitude degrees"):
        xlstsr.scaling_stats(lst)


def test_radial_power_spectrum_refuses_geographic_crs_on_metres():
    from xlstsr.metrics import radial_power_spectrum

    with pytest.raises(XlstsrError, match=r"the field's coordinates .* is geographic"):
        radial_power_spectrum(_grid("EPSG:4326", 1_000_000, 5_500_000, 1000))


def test_scaling_cli_refuses_geographic_crs_on_metres_as_upscale(tmp_path, capsys):
    p = tmp_path / "geo_on_metres.tif"
    with rasterio.open(p, "w", driver="GTiff", height=32, width=32, count=1, dtype="float32",
                       crs="EPSG:4326", transform=from_origin(1e6, 5.5e6, 1000, 1000)) as dst:
        dst.write(TRUTH.astype("float32")[None])
        dst.update_tags(units="K")
    rc_up, err_up = _cli(["upscale", str(p), str(tmp_path / "o.nc"), "--factor", "2",
                          "--quiet"], capsys)
    rc, err = _cli(["scaling", str(p), str(tmp_path / "s.nc")], capsys)
    assert rc_up != 0 and rc != 0
    assert "the CRS written on it is wrong" in err
    assert err.strip().splitlines()[-1] == err_up.strip().splitlines()[-1]
    assert not (tmp_path / "s.nc").exists()


def test_scaling_stats_still_accepts_consistent_grids():
    st = xlstsr.scaling_stats(_grid("EPSG:32633", 400_000, 5_500_000, 1000))
    assert st.attrs["pixel_unit"] == "m" and st.attrs["pixel_size"] == 1000
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")  # degrees not square on the ground: warned, not refused
        st = xlstsr.scaling_stats(_grid("EPSG:4326", 14.0, 49.6, 0.01))
    assert st.attrs["pixel_unit"] == "degree"


# X04: degC x 100 without units was advised only Kelvin x 10 (268 K for a 300 K scene)

DEGC100 = np.round((TRUTH - 273.15) * 100)


def _refusal(values, attrs=None, dtype="int16") -> str:
    """The message upscale refuses integers ``values`` of a 1 km UTM grid with."""
    lst = _grid("EPSG:32633", 1e6, 5.5e6, 1000, values, attrs=attrs or {}, dtype=dtype)
    with pytest.raises(XlstsrError) as e, warnings.catch_warnings():
        warnings.simplefilter("ignore")
        lst.lstsr.upscale(2).compute()
    return str(e.value)


def test_untagged_degc_x100_offers_both_readings_as_ambiguous():
    msg = _refusal(DEGC100)
    assert "scale_factor=0.1" in msg and "scale_factor=0.01, units='degC'" in msg
    assert "ambiguous: x 0.1 (K) and x 0.01 (degC)" in msg
    # the truth's median, 300 K (Kelvin x 10 gives 267 K)
    assert re.search(r"degrees Celsius x 100 \(median (299|300)\.\d K\)", msg)


def test_uniform_untagged_degc_x100_keeps_the_celsius_reading():
    """A lake or a night chip stored degC x 100 spans under 3 K: its Celsius reading was
    dropped for being as uniform as ASTER's K x 10 read as degC x 100."""
    lake = np.round((300 + np.random.default_rng(2).normal(0, 0.4, (32, 32)) - 273.15) * 100)
    msg = _refusal(lake)
    assert "scale_factor=0.01, units='degC'" in msg and "ambiguous" in msg
    # the reading leaving a real scene's spread first: here Kelvin x 10 (27 K wide)
    assert msg.index("scale_factor=0.1") < msg.index("scale_factor=0.01, units='degC'")


def test_untagged_degc_x100_geotiff_cli_offers_both(tmp_path, capsys):
    p = tmp_path / "degc100.tif"
    with rasterio.open(p, "w", driver="GTiff", height=32, width=32, count=1, dtype="int16",
                       crs="EPSG:32633", transform=from_origin(1e6, 5.5e6, 1000, 1000)) as dst:
        dst.write(DEGC100.astype("int16")[None])
    rc, err = _cli(["upscale", str(p), str(tmp_path / "o.nc"), "--factor", "2", "--quiet"],
                   capsys)
    assert rc != 0
    assert "--scale 0.1" in err and "--scale 0.01 --units degC" in err
    assert "ambiguous" in err


@pytest.mark.parametrize("values, attrs, scale", [
    (TRUTH * 10, {"units": "K"}, "scale_factor=0.1"),   # declared Kelvin: Kelvin x 10 only
    (TRUTH / 0.02, {}, "scale_factor=0.02"),            # MODIS digital numbers: no Celsius fits
    (DEGC100, {"units": "degC"}, "scale_factor=0.01"),  # declared Celsius: Celsius only
])
def test_unambiguous_scales_keep_one_reading(values, attrs, scale):
    msg = _refusal(np.round(values), attrs, "uint16" if values.max() > 32000 else "int16")
    assert scale in msg and msg.count("scale_factor=") == 1 and "ambiguous" not in msg


# D2: a worker's registered class and the instance's (a cloudpickled copy) are two objects

def _shape_class():
    class Shape43(UpscaleMethod):
        def upscale_block(self, lst, valid, guide, factor):
            return np.repeat(np.repeat(lst, factor, -2), factor, -1)
    return Shape43


@pytest.fixture
def registered_shape():
    cls = register_method("shape43_d2")(_shape_class())
    yield cls
    unregister_method("shape43_d2")


def test_recorded_name_of_a_copy_of_the_registered_class(registered_shape):
    copy = _shape_class()  # same module and qualname, another class object, as unpickled
    copy.name = registered_shape.name  # a pickled copy carries its class dict, name included
    assert copy is not registered_shape
    assert copy().recorded_name() == "shape43_d2"
    assert registered_shape().recorded_name() == "shape43_d2"


def test_recorded_name_of_a_subclass_or_other_class_unchanged(registered_shape):
    class Variant(registered_shape):  # inherits the name: not that method
        pass

    assert Variant().recorded_name().endswith(".Variant")
    other = _shape_class()  # same qualname but not naming itself so: not a copy of it
    assert other().recorded_name().endswith("Shape43")
    assert other().recorded_name() != "shape43_d2"


def _script_class(module):
    def upscale_block(self, lst, valid, guide, factor):
        return np.repeat(np.repeat(lst, factor, -2), factor, -1)
    return type("Shape43w", (UpscaleMethod,), {"upscale_block": upscale_block,
                                                "__module__": module,
                                                "__qualname__": "Shape43w"})


def test_recorded_name_on_a_spawned_worker():
    # a spawned worker re-runs the user's script as '__mp_main__' and registers its own class;
    # the instance arrives as a copy of the client's '__main__' class
    worker_cls = register_method("shape43_worker")(_script_class("__mp_main__"))
    try:
        copy = _script_class("__main__")
        copy.name = "shape43_worker"
        assert copy().recorded_name() == "shape43_worker"
        # the script run again in one process: the same method, registered again without error
        assert register_method("shape43_worker")(copy) is copy
        assert worker_cls is not copy
    finally:
        unregister_method("shape43_worker")

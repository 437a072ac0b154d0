"""Training regressions a review of session 24's changes found: cube windows by dim name, date
scene ids, and the SIF gain of a module set up on several data modules."""

from __future__ import annotations

import warnings

import numpy as np
import pytest
import rioxarray  # noqa: F401  (the .rio accessor)
import xarray as xr

import xlstsr.train.loop as loop
from xlstsr import errors
from xlstsr.kernels.aggregate import block_mean
from xlstsr.train import (
    CubeDataModule,
    SuperResolutionModule,
    degraded_pairs,
    make_patches,
    split_by_scene,
    window_samples,
)

_A = (300 + np.random.default_rng(0).normal(0, 2, (2, 8, 12))).astype("float32")
_WANT = _A[:, 2:6, 4:8]  # the window at row 2, column 4


def _cube(yd: str, xd: str) -> xr.DataArray:
    return xr.DataArray(_A, dims=("time", yd, xd), name="lst",
                        coords={"time": [0, 1], yd: np.arange(8)[::-1] * 1.0,
                                xd: np.arange(12) * 1.0})


def _cut(cube) -> np.ndarray:
    return window_samples(cube, {"p": (2, 4)}, 4)["lst"].values


def test_window_samples_read_declared_dims_on_the_cube_given():
    """A (time, northing, easting) cube declared with rio.set_spatial_dims was refused as having
    no spatial dims (read after to_dataset, where rioxarray forgets the declaration). Read on the
    cube the user passed, the declaration is kept, and orders it (time, easting, northing)."""
    declared = _cube("northing", "easting").rio.set_spatial_dims(x_dim="easting",
                                                                 y_dim="northing")
    np.testing.assert_array_equal(_cut(declared), _WANT)
    ds = _cube("northing", "easting").to_dataset().rio.set_spatial_dims(
        x_dim="easting", y_dim="northing")
    np.testing.assert_array_equal(_cut(ds), _WANT)
    # declared while transposed: the declaration, not the position, says which dim is rows
    swapped = _cube("northing", "easting").transpose("time", "easting", "northing")
    swapped = swapped.rio.set_spatial_dims(x_dim="easting", y_dim="northing")
    np.testing.assert_array_equal(_cut(swapped), _WANT)
    # this session's fix stays: a (time, x, y) cube named so is cut on its rows
    np.testing.assert_array_equal(_cut(_cube("y", "x").transpose("time", "x", "y")), _WANT)


def test_window_samples_take_unnamed_dims_by_position():
    """(time, row, col) cubes were cut by position before this session and refused after it;
    unnamed dims are (time, rows, columns) again, refused only where a name says otherwise."""
    np.testing.assert_array_equal(_cut(_cube("row", "col")), _WANT)
    np.testing.assert_array_equal(_cut(_cube("a", "b")), _WANT)
    np.testing.assert_array_equal(_cut(_cube("row", "col").to_dataset()), _WANT)
    with pytest.raises(errors.NoSpatialDimsError, match=r"rename\(\{'col': 'y', 'row': 'x'\}\)"):
        _cut(_cube("col", "row"))
    with pytest.raises(errors.NoSpatialDimsError, match="rows from its columns"):
        _cut(_cube("x", "band"))


def _date_patches():
    lst = (300 + np.random.default_rng(0).normal(0, 2, (4, 32, 32))).astype("float32")
    times = np.array(["2020-01-01", "2020-01-02", "2020-01-03", "2020-01-04"],
                     dtype="datetime64[ns]")
    return make_patches(**degraded_pairs(lst, 4), factor=4, patch=16, scene_ids=times), times


@pytest.mark.parametrize("val", [
    lambda t: t[-1:], lambda t: [t[-1]], lambda t: t[-1:].astype("datetime64[D]"),
])
def test_split_by_scene_date_ids(val):
    """val_scenes=times[-1:] with scene_ids=times was refused as 'match no patch': the ids were
    turned into Python scalars (.item()), a datetime64[ns] into an int of nanoseconds."""
    ps, times = _date_patches()
    with warnings.catch_warnings():
        warnings.simplefilter("error")
        tr, va = split_by_scene(ps, val_scenes=val(times))
    assert (len(tr), len(va)) == (12, 4)
    assert set(va.scene.tolist()) == {times[-1].astype("datetime64[ns]").astype(int)}
    assert times[-1] not in tr.scene


def test_split_by_scene_date_ids_messages_and_random_split():
    """A date that matches no patch is named as a date (not nanoseconds); the random split of
    date scenes validated on none (its ids went through .tolist(), ints of nanoseconds)."""
    ps, _ = _date_patches()
    with pytest.raises(errors.XlstsrError, match=r"\['2021-01-01T00:00:00\.000000000'\] match no"
                                                 r" patch.*'2020-01-01T00:00:00"):
        split_by_scene(ps, val_scenes=np.array(["2021-01-01"], "datetime64[ns]"))
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        tr, va = split_by_scene(ps, 0.25)
    assert (len(tr), len(va)) == (12, 4)
    assert not set(tr.scene.tolist()) & set(va.scene.tolist())


def test_split_by_scene_mixed_ids_match_as_given():
    """[4, '3'] became one array of text for the final match, so the validation set the warning
    described (scene 4) was not the one used (no scene: ints never equal text)."""
    lst = (300 + np.random.default_rng(0).normal(0, 2, (4, 32, 32))).astype("float32")
    ps = make_patches(**degraded_pairs(lst, 4), factor=4, patch=16, scene_ids=[1, 2, 3, 4])
    with pytest.warns(UserWarning, match=r"\['3'\] match no patch"):
        tr, va = split_by_scene(ps, val_scenes=[4, "3"])
    assert set(va.scene.tolist()) == {4} and len(tr) == 12


def _sif_data(gain: float, seed: int) -> CubeDataModule:
    rng = np.random.default_rng(seed)
    n, h, f = 2, 32, 4
    ndvi = np.clip(0.4 + 0.2 * rng.standard_normal((n, h * f, h * f)), 0, 1).astype("float32")
    lst = 300 + gain * block_mean(ndvi, f) + rng.normal(0, 0.3, (n, h, h))
    data = CubeDataModule(xr.DataArray(lst, dims=("time", "y", "x"), attrs={"units": "K"}),
                          guide=xr.DataArray(ndvi, dims=("time", "y", "x")), mode="sif",
                          patch=16, window=32)
    data.setup("fit")
    return data


def _setup(module: SuperResolutionModule, data: CubeDataModule) -> None:
    class _Trainer:
        datamodule = data

    module._trainer = _Trainer()  # what a Trainer's fit sets before setup
    module.setup("fit")


def _loss_gain(module: SuperResolutionModule, data: CubeDataModule, monkeypatch) -> float:
    """The gain sif_loss gets when the module's loss runs on a batch of ``data``."""
    used: dict = {}
    orig = loop.sif_loss

    def spy(*a, **k):
        used.update(k)
        return orig(*a, **k)

    monkeypatch.setattr(loop, "sif_loss", spy)
    ts = data.train_set
    module.loss_fn(module.model, {"lst": ts.lst[:2], "lst_valid": ts.lst_valid[:2],
                                  "guide": ts.guide[:2], "target": None})
    monkeypatch.setattr(loop, "sif_loss", orig)
    return used["gain"]


def test_module_takes_each_data_modules_fitted_gain(monkeypatch):
    """setup wrote the merged options back as the user's: set up on a second SIF data module,
    the module trained with the first one's gain (-20) instead of the second's (-5)."""
    first, second = _sif_data(-20, 0), _sif_data(-5, 1)
    g1, g2 = first.loss_options["gain"], second.loss_options["gain"]
    assert abs(g1 - g2) > 5  # the two cubes' laws differ
    module = SuperResolutionModule("guided_rescnn", config={"factor": 4, "n_guide": 1},
                                   mode="sif", loss_options={"alpha": 0.7})
    assert module.hparams["loss_options"] == {"alpha": 0.7}
    for data, gain in ((first, g1), (second, g2), (first, g1)):
        _setup(module, data)
        assert module.loss_options == {"gain": gain, "alpha": 0.7}
        assert module.hparams["loss_options"] == {"gain": gain, "alpha": 0.7}
        assert _loss_gain(module, data, monkeypatch) == gain
    # a gain the user gives wins on every data module
    own = SuperResolutionModule("guided_rescnn", config={"factor": 4, "n_guide": 1},
                                mode="sif", loss_options={"gain": -3.0})
    for data in (first, second):
        _setup(own, data)
        assert own.loss_options == {"gain": -3.0}
        assert _loss_gain(own, data, monkeypatch) == -3.0

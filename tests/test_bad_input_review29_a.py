"""Review 29 (a): a user model's private caches and a framework's private state kept out of
weights_hash (its private constants kept in); open_stac's lon/lat check across the
antimeridian; save_model over a read-only checkpoint and in a folder where no new file can
be made."""

from __future__ import annotations

import builtins
import datetime
import os

import numpy as np
import pytest
import torch

from xlstsr.io import stac
from xlstsr.nn import ResCNN, checkpoint, load_model, save_model
from xlstsr.nn.fingerprint import weights_hash

# -- weights_hash: which private attributes of a user's module count ----------------------------


class _LazyGrid(torch.nn.Module):
    """A coordinate grid built on the first forward (``self._grid = None``, then a tensor)."""

    factor, n_guide, receptive_field = 4, 0, 1

    def __init__(self, offset: float = 0.0, pads: tuple = (1, 2)) -> None:
        super().__init__()
        self.conv = torch.nn.Conv2d(1, 1, 1)
        self._grid = None
        self._calls = []
        self._offset = float(offset)
        self._pads = pads

    def forward(self, lst, guide=None):
        up = torch.nn.functional.interpolate(lst, scale_factor=4, mode="nearest")
        if self._grid is None or self._grid.shape[-2:] != up.shape[-2:]:
            self._grid = torch.zeros(up.shape[-2:])
        self._calls.append(1)
        return self.conv(up) + self._grid + self._offset + 0 * sum(self._pads)


def test_lazy_private_cache_leaves_the_hash_alone():
    """A model that ran a forward (its private grid cache built, a private list appended to)
    hashed differently from the same weights loaded into a fresh instance:
    upscale_to_zarr(mode='resume') refused its own store."""
    torch.manual_seed(0)
    trained = _LazyGrid()
    before = weights_hash(trained)
    trained(torch.full((1, 1, 4, 4), 300.0))
    assert trained._grid is not None
    fresh = _LazyGrid()
    fresh.load_state_dict(trained.state_dict())
    assert weights_hash(trained) == before == weights_hash(fresh)


def test_private_constants_named_by_the_users_code_still_count():
    torch.manual_seed(0)
    base = _LazyGrid()
    state = base.state_dict()
    others = [_LazyGrid(offset=3.0), _LazyGrid(pads=(1, 3)), _LazyGrid(pads=(1.5, 2))]
    for m in others:
        m.load_state_dict(state)
    hashes = {weights_hash(base), *(weights_hash(m) for m in others)}
    assert len(hashes) == 4


def test_private_state_the_users_code_does_not_name_is_left_out():
    """Private attributes set from outside the user's class (a framework's bookkeeping: a plain
    string that changes with each Trainer call) are not part of the model."""
    torch.manual_seed(0)
    m = _LazyGrid()
    h = weights_hash(m)
    m._current_fx_name = "training_step"
    m._bookkeeping_count = 7
    assert weights_hash(m) == h


def test_lightning_private_state_is_left_out():
    """Lightning's private state (set by Trainer.fit, read by Lightning's code only) changed
    the hash of a user's LightningModule after training."""
    L = pytest.importorskip("lightning")

    class Lit(L.LightningModule):
        factor, n_guide, receptive_field = 4, 0, 1

        def __init__(self) -> None:
            super().__init__()
            self.conv = torch.nn.Conv2d(1, 1, 3, padding=1)

        def forward(self, lst, guide=None):
            return torch.nn.functional.interpolate(self.conv(lst), scale_factor=4)

    torch.manual_seed(0)
    m = Lit()
    fresh = Lit()
    fresh.load_state_dict(m.state_dict())
    m._current_fx_name = "validation_step"  # as Trainer.fit leaves them
    m._device = torch.device("cpu")
    m._metric_attributes = {}
    assert weights_hash(m) == weights_hash(fresh)


# -- open_stac: lon/lat across the antimeridian ------------------------------------------------


class _Item:
    def __init__(self, bbox):
        self.bbox = list(bbox)


@pytest.mark.parametrize("lon", [(179.9, 180.5), (-180.1, -179.5)])
def test_lonlat_check_compares_longitudes_modulo_360(lon):
    """lon=(179.9, 180.5) (0..360) over items just east of the antimeridian (bbox in
    -180..180): odc-stac loads it, the overlap check refused it."""
    east = _Item((-179.7, 10.0, -179.6, 10.1))
    west = _Item((179.6, 10.0, 179.95, 10.1))
    across = _Item((179.8, 10.0, -179.8, 10.1))  # STAC: west > east
    for it in (east, west, across):
        stac._check_lonlat_overlap([it], {"lon": lon, "lat": (10.0, 10.1)})
    from xlstsr.errors import NoOverlapError

    with pytest.raises(NoOverlapError, match="meets none"):  # still refused far away
        stac._check_lonlat_overlap([_Item((170.0, 10.0, 171.0, 10.1))],
                                   {"lon": lon, "lat": (10.0, 10.1)})


def test_lonlat_check_whole_globe_judges_latitude_only():
    from xlstsr.errors import NoOverlapError

    item = _Item((-179.7, 10.0, -179.6, 10.1))
    stac._check_lonlat_overlap([item], {"lon": (0.0, 360.0), "lat": (9.0, 11.0)})
    with pytest.raises(NoOverlapError):
        stac._check_lonlat_overlap([item], {"lon": (0.0, 360.0), "lat": (40.0, 41.0)})


def test_open_stac_loads_an_area_across_the_antimeridian(tmp_path):
    pystac = pytest.importorskip("pystac")
    rasterio = pytest.importorskip("rasterio")
    pytest.importorskip("odc.stac")
    from pyproj import Transformer
    from rasterio.transform import from_origin

    x0, y0 = Transformer.from_crs(4326, 32601, always_xy=True).transform(-179.7, 10.1)
    t = from_origin(round(x0, -2), round(y0, -2), 100, 100)
    path = tmp_path / "lst.tif"
    with rasterio.open(path, "w", driver="GTiff", width=100, height=100, count=1,
                       dtype="float32", crs="EPSG:32601", transform=t, nodata=np.nan) as f:
        f.write(np.full((1, 100, 100), 300.0, "float32"))
    bb = Transformer.from_crs(32601, 4326, always_xy=True).transform_bounds(
        t.c, t.f - 10000, t.c + 10000, t.f)
    item = pystac.Item("a", geometry=None, bbox=list(bb),
                       datetime=datetime.datetime(2020, 1, 1), properties={},
                       stac_extensions=["https://stac-extensions.github.io/projection/v1.1.0/"
                                        "schema.json"])
    item.properties.update({"proj:code": "EPSG:32601", "proj:shape": [100, 100],
                            "proj:transform": list(t)[:6]})
    item.add_asset("LST", pystac.Asset(href=str(path),
                                       media_type="image/tiff; application=geotiff"))
    da = stac.open_stac([item], "LST", lon=(179.9, 180.5), lat=(10.0, 10.1))
    assert np.isfinite(da.values).any()


# -- save_model: permissions ------------------------------------------------------------------


def _model(channels: int = 4) -> ResCNN:
    return ResCNN(4, channels=channels, n_blocks=1)


def test_save_model_falls_back_in_place_when_no_temp_file_can_be_made(tmp_path, monkeypatch):
    """A writable checkpoint in a folder the user cannot write to (a shared folder): the
    atomic save failed with a raw PermissionError on its hidden temporary file."""
    p = tmp_path / "m.pt"
    save_model(_model(4), p)
    real_open = builtins.open

    def no_new_files(file, mode="r", *args, **kwargs):
        if "x" in mode or ("w" in mode and not os.path.exists(file)):
            raise PermissionError(13, "Permission denied", str(file))
        return real_open(file, mode, *args, **kwargs)

    monkeypatch.setattr(checkpoint, "open", no_new_files, raising=False)
    save_model(_model(8), p)
    assert load_model(p).config["channels"] == 8
    assert sorted(os.listdir(tmp_path)) == ["m.pt"]


def test_save_model_refuses_a_read_only_checkpoint(tmp_path, monkeypatch):
    """A read-only (0444) checkpoint was silently replaced by the rename (the plain write
    refused it). As root permissions are not enforced: os.access is made to say so."""
    p = tmp_path / "m.pt"
    save_model(_model(4), p)
    os.chmod(p, 0o444)
    if hasattr(os, "geteuid") and os.geteuid() == 0:
        real_access = os.access
        monkeypatch.setattr(os, "access", lambda f, m, *a, **k: False if os.fspath(f) == str(p)
                            and m & os.W_OK else real_access(f, m, *a, **k))
    with pytest.raises(PermissionError, match="read-only"):
        save_model(_model(8), p)
    os.chmod(p, 0o644)
    assert load_model(p).config["channels"] == 4


@pytest.mark.skipif(not hasattr(os, "geteuid") or os.geteuid() == 0,
                    reason="as root file permissions are not enforced")
def test_save_model_permissions_for_real(tmp_path):
    folder = tmp_path / "shared"
    folder.mkdir()
    p = folder / "m.pt"
    save_model(_model(4), p)
    os.chmod(folder, 0o555)  # the folder read-only, the file writable
    try:
        save_model(_model(8), p)
        assert load_model(p).config["channels"] == 8
        os.chmod(p, 0o444)
        with pytest.raises(PermissionError, match="read-only"):
            save_model(_model(4), p)
    finally:
        os.chmod(folder, 0o755)
        os.chmod(p, 0o644)

"""Review 28b: adapt's divergence check with an anchor, check_output's Celsius diagnosis, and
CRSs equal in meaning but spelled differently."""

from __future__ import annotations

import numpy as np
import pytest
import xarray as xr

from xlstsr.errors import ImplausibleOutputError
from xlstsr.validate import check_output, crs_mismatch

# -- 1. adapt=: the anchor term (0 at step 0) is not a growth of the loss ----------------------


def test_an_anchored_adaptation_that_improves_consistency_is_not_refused():
    """With anchor > 0 the final total loss (consistency + anchor) was compared with the step-0
    loss, whose anchor term is 0 by construction: an adaptation that improved the consistency
    was refused as diverged (docs/calibration.md's adapt={'steps': 10, 'lr': 3e-4,
    'anchor': 1.0} on pair 077)."""
    torch = pytest.importorskip("torch")
    from xlstsr.nn.adapt import Adaptation, adapt_model, adaptation_loss

    class Offset(torch.nn.Module):  # nearest upsampling 2 K too warm: one weight to adapt
        factor, n_guide, receptive_field = 4, 0, 1

        def __init__(self):
            super().__init__()
            self.bias = torch.nn.Parameter(torch.tensor(2.0))

        def forward(self, lst, guide=None):
            return torch.nn.functional.interpolate(lst, scale_factor=4, mode="nearest") + self.bias

    lst = 300 + np.random.default_rng(0).normal(0, 2, (16, 16)).astype(np.float32)
    # one Adam step moves the bias by ~lr: consistency improves, the anchor term (x 50) grows
    cfg = Adaptation(steps=1, lr=0.5, anchor=50.0)
    model = Offset()
    tuned = adapt_model(model, lst, factor=4, config=cfg)  # refused as diverged before
    x = torch.from_numpy(lst)[None, None]
    with torch.no_grad():
        before = float(adaptation_loss(model(x), x, 4, cfg))
        after = float(adaptation_loss(tuned(x), x, 4, cfg))
        total = float(adaptation_loss(tuned(x), x, 4, cfg, reference=model(x)))
    assert after < before < total  # the case: the total grew, the consistency did not


# -- 2. check_output: degrees Celsius only when the values + 273.15 are near the input ---------


def _src(rng_seed: int = 0) -> np.ndarray:
    return 313 + np.random.default_rng(rng_seed).normal(0, 3, (1, 8, 8))


def test_z_score_output_is_not_diagnosed_as_celsius():
    """A model returning z-scores (median 0, input median 313 K) was told its output is in
    degrees Celsius: adding 273.15 gives a flat ~273 K field that passes the check."""
    src = _src()
    up = np.repeat(np.repeat(src, 4, -2), 4, -1)
    z = (up - up.mean()) / up.std()
    with pytest.raises(ImplausibleOutputError) as err:
        check_output(z, src, "custom")
    assert "Celsius" not in str(err.value)


def test_celsius_output_is_still_diagnosed_as_celsius():
    src = _src()
    up = np.repeat(np.repeat(src, 4, -2), 4, -1)
    with pytest.raises(ImplausibleOutputError, match="degrees Celsius"):
        check_output(up - 273.15, src, "custom")


# -- 3. crs_mismatch: the same CRS spelled two ways is the same ------------------------------


def _field(crs: str) -> xr.DataArray:
    pytest.importorskip("rioxarray")
    da = xr.DataArray(np.zeros((4, 4)), dims=("y", "x"),
                      coords={"y": np.linspace(34.3, 34.0, 4), "x": np.linspace(-118.5, -118.2, 4)})
    return da.rio.write_crs(crs)


@pytest.mark.parametrize("other", ["+proj=longlat +datum=WGS84 +no_defs", "OGC:CRS84"])
def test_equivalent_crs_spellings_are_not_a_mismatch(other):
    assert crs_mismatch(_field("EPSG:4326"), _field(other)) is None


def test_different_crs_stay_different():
    from xlstsr.grid import MODIS_SINUSOIDAL

    assert crs_mismatch(_field(MODIS_SINUSOIDAL), _field("EPSG:32611")) is not None
    assert crs_mismatch(_field("EPSG:4326"), _field("EPSG:32611")) is not None

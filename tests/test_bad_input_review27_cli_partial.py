"""Review 27: the command line's partial output files ended in the output's suffix
(``.o.partial.tif``): a run killed hard (no clean-up) left a hidden file that
``open_cog(sorted(Path(d).glob('*.tif')))`` read as a step, as to_cogs' did."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pytest
import rioxarray
import xarray as xr
from helpers import make_lst

from xlstsr.cli import _to_raster, _written_whole


@pytest.mark.parametrize("suffix", [".tif", ".nc", ".csv"])
def test_a_partial_output_does_not_match_its_suffix_and_is_written_whole(tmp_path, suffix):
    out = tmp_path / f"o{suffix}"
    da = make_lst(np.full((8, 8), 300.0, dtype="float32")).rename("lst")
    with _written_whole(str(out)) as part:
        assert not Path(part).match(f"*{suffix}") and Path(part).name.startswith(".")
        assert Path(part).parent == tmp_path
        if suffix == ".tif":
            _to_raster(da, part)
        elif suffix == ".nc":
            da.to_netcdf(part)
        else:
            da.to_dataframe().to_csv(part)
        assert not list(tmp_path.glob(f"*{suffix}"))  # nothing a glob reads, mid-write
    assert sorted(p.name for p in tmp_path.iterdir()) == [out.name]
    if suffix == ".tif":
        back = rioxarray.open_rasterio(out, masked=True).squeeze(drop=True)
        np.testing.assert_array_equal(back.values, da.values)
    elif suffix == ".nc":
        with xr.open_dataset(out) as back:
            np.testing.assert_array_equal(back["lst"].values, da.values)

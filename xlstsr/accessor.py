"""The ``.lstsr`` accessor: thin delegation to the xarray-layer functions of the same name."""

from __future__ import annotations

from collections.abc import Hashable
from typing import Any

import xarray as xr

from .degrade import coarsen
from .errors import VariableNotFoundError
from .evaluate import evaluate
from .scaling import scaling_stats
from .upscale import upscale
from .validate import select_lst

__all__ = ["LstsrDataArrayAccessor", "LstsrDatasetAccessor"]


@xr.register_dataarray_accessor("lstsr")
class LstsrDataArrayAccessor:
    """``da.lstsr``: LST super-resolution methods on a DataArray.

    Examples
    --------
    >>> import xlstsr
    >>> lst = xlstsr.datasets.sample_scene()["lst_1km"]
    >>> lst.lstsr.upscale(factor=4).shape[-1] == 4 * lst.shape[-1]
    True
    """

    def __init__(self, obj: xr.DataArray) -> None:
        self._obj = obj

    def upscale(self, factor: int = 4, method: str = "bicubic", guide: Any = None, **kwargs: Any) -> xr.DataArray:
        """Super-resolve by ``factor``; see :func:`xlstsr.upscale`."""
        return upscale(self._obj, factor, method, guide, **kwargs)

    def coarsen(self, factor: int = 4, *, mask_out_of_range: bool = False,
                **kwargs: Any) -> xr.DataArray:
        """Radiometric degradation by ``factor`` (``mask_out_of_range=True`` masks LST values
        outside 150-400 K instead of refusing them); see :func:`xlstsr.coarsen`."""
        return coarsen(self._obj, factor, mask_out_of_range=mask_out_of_range, **kwargs)

    def evaluate(self, reference: xr.DataArray, **kwargs: Any) -> xr.Dataset:
        """Accuracy metrics against a fine reference; see :func:`xlstsr.evaluate`."""
        return evaluate(self._obj, reference, **kwargs)

    def scaling_stats(self, guide: Any = None, *, mask_out_of_range: bool = False,
                      **kwargs: Any) -> xr.Dataset:
        """Statistics across scales (``mask_out_of_range=True`` masks LST values outside
        150-400 K instead of refusing them); see :func:`xlstsr.scaling_stats`."""
        return scaling_stats(self._obj, guide, mask_out_of_range=mask_out_of_range, **kwargs)


@xr.register_dataset_accessor("lstsr")
class LstsrDatasetAccessor:
    """``ds.lstsr``: the same methods on a Dataset; name the LST variable with ``variable=``."""

    def __init__(self, obj: xr.Dataset) -> None:
        self._obj = obj

    def _lst(self, variable: Hashable | None, operation: str) -> xr.DataArray:
        # as upscale takes it: the Dataset's CRS written on it, merged grids of different
        # resolutions named (coarsen said only "coordinates not regularly spaced"); the
        # operation names itself in the advice for a Dataset of several LST variables
        return select_lst(self._obj, variable, operation=operation)[0]

    def upscale(
        self,
        factor: int = 4,
        method: str = "bicubic",
        guide: Any = None,
        *,
        variable: Hashable | None = None,
        **kwargs: Any,
    ) -> xr.DataArray:
        """Super-resolve the LST variable; ``guide`` may name another variable."""
        return upscale(self._obj, factor, method, guide, variable=variable, **kwargs)

    def _other(self, role: str, name: Hashable) -> xr.Dataset:
        """The Dataset without variable ``name`` (which ``role`` names), where the LST is looked
        for (an emissivity or reference made from the LST's attributes looked like a second
        LST: "cannot tell which")."""
        if name not in self._obj.data_vars:
            raise VariableNotFoundError(
                f"{role} {name!r} is not a variable of the Dataset; it has "
                f"{[str(v) for v in self._obj.data_vars]}: pass one of them or a DataArray")
        return self._obj.drop_vars([name])

    def coarsen(self, factor: int = 4, *, variable: Hashable | None = None,
                emissivity: xr.DataArray | str | None = None, mask_out_of_range: bool = False,
                **kwargs: Any) -> xr.DataArray:
        """Radiometric degradation of the LST variable (``emissivity`` may name another
        variable of the Dataset, as ``guide`` of :meth:`upscale`; ``mask_out_of_range=True``
        masks LST values outside 150-400 K instead of refusing them); see
        :func:`xlstsr.coarsen`."""
        kwargs["mask_out_of_range"] = mask_out_of_range
        if isinstance(emissivity, str):  # "must be a DataArray: wrap it with the LST's coordinates"
            rest = self._other("emissivity", emissivity)
            emissivity = self._obj[emissivity]
            if variable is None:
                return coarsen(select_lst(rest, None, operation="coarsen")[0], factor,
                               emissivity=emissivity, **kwargs)
        return coarsen(self._lst(variable, "coarsen"), factor, emissivity=emissivity, **kwargs)

    def evaluate(
        self, reference: xr.DataArray | str, *, variable: Hashable | None = None, **kwargs: Any
    ) -> xr.Dataset:
        """Accuracy metrics of the LST variable against a fine reference (a DataArray, or the
        name of another variable of the Dataset, as ``guide`` of :meth:`upscale`); see
        :func:`xlstsr.evaluate`."""
        if isinstance(reference, str):  # "expected a DataArray, got str: LST needs its grid"
            rest = self._other("reference", reference)
            reference = select_lst(self._obj, reference)[0]
            if variable is None:
                return evaluate(select_lst(rest, None, operation="evaluate")[0], reference,
                                **kwargs)
        return evaluate(self._lst(variable, "evaluate"), reference, **kwargs)

    def scaling_stats(
        self, guide: Any = None, *, variable: Hashable | None = None,
        mask_out_of_range: bool = False, **kwargs: Any
    ) -> xr.Dataset:
        """Statistics across scales of the LST variable (``guide`` may name another variable;
        ``mask_out_of_range=True`` masks LST values outside 150-400 K instead of refusing
        them); see :func:`xlstsr.scaling_stats`."""
        return scaling_stats(self._obj, guide, variable=variable,
                             mask_out_of_range=mask_out_of_range, **kwargs)

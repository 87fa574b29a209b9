"""The KV cache of a pruned prefill: transformers' `DynamicCache` plus the one operation
token pruning needs, keeping some sequence positions of some layers.

transformers' Cache API selects along the batch dim only (`reorder_cache`,
`batch_select_indices`) and shortens along the sequence dim only from the end (`crop`), so
the sequence-dim selection is written here, on the cache's own layers: it replaces a
`DynamicLayer`'s `keys` / `values` (the tensors its `update` concatenates onto) by their
kept rows. A layer of another kind (sliding window, quantised, static) does not hold plain
tensors of the expected length and is a `SeamError`, never pruned silently.
"""

from __future__ import annotations

import copy
from collections.abc import Callable, Iterable

import torch
from transformers import DynamicCache

from ..errors import SeamError


class PrunableCache(DynamicCache):
    """A DynamicCache whose layers can keep a subset of their positions (`keep_positions`) and
    that can be forked (`fork`: prefix sharing, runtime/prefix.py)."""

    def fork(self, length: int | None = None, layers: int | None = None) -> PrunableCache:
        """A cache holding the same keys and values (the first `length` positions of each layer:
        transformers' `crop`), without copying them: `DynamicLayer.update` concatenates into
        new tensors and `keep_positions` selects into new ones, so neither cache ever writes
        into a tensor the other holds. `layers`: only the first `layers` layers are shared, the
        rest start empty (a prefix shared up to a drop step: the layers after it run on the
        question's kept tokens)."""
        twin = copy.copy(self)
        kept = [copy.copy(lay) for lay in (self.layers if layers is None else self.layers[:layers])]
        twin.layers = kept + [_empty_like(lay) for lay in self.layers[len(kept):]]
        if length is not None:
            extra = twin.get_seq_length() - length
            if extra < 0:
                raise SeamError(f"cannot keep {length} positions of a cache holding {twin.get_seq_length()}")
            if extra:  # crop(-0) would be crop(0): an empty cache
                for lay in kept:  # transformers 5.23-5.25: a negative count removes that many from the end
                    lay.crop(-extra)
        return twin

    def keep_positions(self, layers: Iterable[int], length: int,
                       rows_on: Callable[[torch.device], torch.Tensor]) -> None:
        """Keep, in each of `layers`, the rows `rows_on(device)` (ascending indices into the
        `length` positions the layer holds now; asked once per device, so each layer of a
        model split over devices is indexed where it lives)."""
        for j in layers:
            lay = self.layers[j] if j < len(self.layers) else None
            keys, values = getattr(lay, "keys", None), getattr(lay, "values", None)
            if not (isinstance(keys, torch.Tensor) and isinstance(values, torch.Tensor)
                    and keys.shape[-2] == length and values.shape[-2] == length):
                raise SeamError(f"cache layer {j} ({type(lay).__name__}) does not hold keys and values of the "
                                f"current {length} positions ({_describe(keys)}, {_describe(values)})")
            lay.keys = keys.index_select(-2, rows_on(keys.device))
            lay.values = values.index_select(-2, rows_on(values.device))


def _empty_like(layer: object) -> object:
    """A new, empty layer of `layer`'s kind (transformers' cache layers initialise lazily, on
    their first `update`)."""
    try:
        return type(layer)()
    except TypeError as exc:  # a layer kind built with arguments (sliding window, quantised): not ours to prune
        raise SeamError(f"cannot start an empty cache layer like {type(layer).__name__}: {exc}") from exc


def _describe(value: object) -> str:
    if isinstance(value, torch.Tensor):
        return f"tensor {tuple(value.shape)} {value.dtype}"
    return type(value).__name__

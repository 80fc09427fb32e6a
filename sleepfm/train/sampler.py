"""A sampler whose order is a pure function of (seed, epoch, rank) and that can start mid-epoch.

That is what makes ``--resume`` exact: the resumed run rebuilds the interrupted epoch's order
and skips the items already consumed, without reading them.
"""

from __future__ import annotations

from collections.abc import Iterator

import numpy as np
from torch.utils.data import Sampler


class ResumableSampler(Sampler[int]):
    """Shuffled (or sequential) indices for one rank of ``world`` ranks.

    Each rank gets ``ceil(n / world)`` indices: the epoch's permutation, padded by wrapping
    around so every rank takes the same number of steps (as ``DistributedSampler``), then
    dealt out round-robin. :meth:`set_epoch` picks the permutation; :meth:`skip` drops the
    first ``k`` indices of this rank's share (the part of the epoch already trained on).
    """

    def __init__(self, n: int, *, shuffle: bool, seed: int, rank: int = 0, world: int = 1) -> None:
        self.n, self.shuffle, self.seed, self.rank, self.world = n, shuffle, seed, rank, world
        self.epoch = 0
        self._skip = 0

    def set_epoch(self, epoch: int) -> None:
        self.epoch = epoch
        self._skip = 0

    def skip(self, k: int) -> None:
        self._skip = k

    def share(self) -> np.ndarray:
        """This rank's indices for the current epoch, before skipping."""
        if self.n == 0:
            return np.zeros(0, dtype=np.int64)
        if self.shuffle:
            order = np.random.default_rng([self.seed, self.epoch]).permutation(self.n)
        else:
            order = np.arange(self.n)
        per_rank = -(-self.n // self.world)
        order = np.resize(order, per_rank * self.world)
        return order[self.rank :: self.world]

    def __iter__(self) -> Iterator[int]:
        return iter(self.share()[self._skip :].tolist())

    def __len__(self) -> int:
        per_rank = -(-self.n // self.world) if self.n else 0
        return max(0, per_rank - self._skip)

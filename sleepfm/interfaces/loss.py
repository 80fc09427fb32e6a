"""Loss: model outputs and targets → a scalar to minimise.

The :attr:`task` fixes the ``forward`` signature:

* ``"contrastive"``: ``forward(embeddings)`` with a list of M float32 (B, E) pooled
  embeddings, one per modality, row i of each from the same item;
* ``"staging"``: ``forward(logits (B, S, K), targets (B, S) int64, mask (B, S) bool True = ignore)``;
* ``"diagnosis"``: ``forward(hazards (B, K), times (B, K) float, events (B, K) bool/int)``.

Returns a 0-dim float tensor. A loss may hold learnable parameters (e.g. a temperature);
trainers add them to the optimiser.
"""

from __future__ import annotations

from typing import ClassVar

from sleepfm.interfaces.component import TorchComponent


class Loss(TorchComponent):
    """A training objective."""

    task: ClassVar[str]

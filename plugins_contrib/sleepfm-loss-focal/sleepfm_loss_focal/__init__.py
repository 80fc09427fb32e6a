"""sleepfm plugin: the ``focal`` staging loss."""

from __future__ import annotations

from sleepfm.plugin import hookimpl

__version__ = "0.1.0"


@hookimpl
def sleepfm_register_losses(register):  # type: ignore[no-untyped-def]
    # Registered lazily: listing plugins must not import torch.
    register(
        "focal",
        "sleepfm_loss_focal.loss:FocalLoss",
        description="Focal loss for staging: cross-entropy down-weighted by (1 - p)^gamma on easy tokens.",
    )

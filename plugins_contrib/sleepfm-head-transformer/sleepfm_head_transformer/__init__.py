"""sleepfm plugin: the ``transformer-staging`` head."""

from __future__ import annotations

from sleepfm.plugin import hookimpl

__version__ = "0.1.0"


@hookimpl
def sleepfm_register_heads(register):  # type: ignore[no-untyped-def]
    # Lazy: listing plugins must not import torch.
    register(
        "transformer-staging",
        "sleepfm_head_transformer.head:TransformerStagingHead",
        description="Staging head: modality fusion, self-attention over 30-s epochs of the whole night, 5-s logits.",
    )

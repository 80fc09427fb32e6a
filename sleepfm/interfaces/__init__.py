"""The interfaces every sleepfm component implements, one module per interface.

Non-torch interfaces (signal readers, label readers, channel mappers, cohorts) import no
torch; the torch ones (tokenizer, pooler, model, head, loss) live in their own modules so
that reading and mapping signals never pays for importing torch.
"""

from sleepfm.interfaces.modality import MODALITIES, Modality

__all__ = ["MODALITIES", "Modality"]

"""Head: per-modality patch embeddings → task outputs.

``forward(x, mask, covariates=None)``:

* ``x`` float32 (B, M, S, E): M modalities in :data:`sleepfm.interfaces.MODALITIES` order,
  S patch embeddings (5 s each) of size E;
* ``mask`` bool (B, M, S), ``True`` = padding (a missing modality is masked on all S);
* ``covariates`` float32 (B, K) or ``None``: e.g. normalised age and sex.

What it returns depends on :attr:`task`:

* ``"staging"``: ``(logits (B, S, n_classes), temporal_mask (B, S) bool)``;
* ``"diagnosis"``: log-hazards (B, n_outcomes);
* other tasks document their own outputs.
"""

from __future__ import annotations

from typing import Any, ClassVar

from sleepfm.interfaces.component import TorchComponent


class Head(TorchComponent):
    """A task head over embeddings."""

    task: ClassVar[str]
    #: Whether ``forward`` needs ``covariates`` (demographics).
    uses_covariates: ClassVar[bool] = False
    #: Set by fine-tuning from the data: the embeddings' size and the task's number of classes
    #: (5 stages, or one per outcome column); ``num_covariates`` too for a head that uses them.
    data_given: ClassVar[tuple[str, ...]] = ("embed_dim", "num_classes")

    def __init_subclass__(cls, **kwargs: Any) -> None:
        super().__init_subclass__(**kwargs)
        if cls.uses_covariates and "data_given" not in vars(cls) and "num_covariates" not in cls.data_given:
            cls.data_given = (*cls.data_given, "num_covariates")

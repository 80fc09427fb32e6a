"""Training: datasets over sleepfm stores, splits, label alignment, losses, the trainer.

``sleepfm pretrain`` (contrastive pretraining of a base model on 128 Hz signal stores),
``sleepfm finetune staging`` and ``sleepfm finetune diagnosis`` (heads on embedding stores)
all run :class:`sleepfm.train.trainer.Trainer`; single process or under ``torchrun``.
"""

"""Training objectives registered by the ``training`` plugin: ``contrastive`` (pretraining),
``cross-entropy`` (staging) and ``coxph`` (diagnosis).

Losses may expose ``last_metrics`` (detached floats the trainer logs) and
``after_optimizer_step()`` (called after each optimiser step, e.g. to clamp a temperature).
"""

"""Embedding → task stage: the published staging and disease-risk heads.

``lstm-staging`` (:mod:`.staging`), ``coxph-demo`` and ``coxph`` (:mod:`.coxph`), registered
by :mod:`sleepfm.plugins.models`. Shared parts live in :mod:`.common`.
"""

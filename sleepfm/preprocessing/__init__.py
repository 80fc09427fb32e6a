"""Preprocessing: PSG files → one 128 Hz float16 HDF5 signal store per study.

``batch`` runs a batch (inputs, resume, executors, manifest), ``convert`` one study,
``api`` is ``sleepfm.preprocess(paths, out, ...)``.
"""

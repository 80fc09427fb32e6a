"""Clinical pipelines: ``sleepfm run`` (a cohort end to end), ``sleepfm stage`` (hypnograms and
sleep statistics per recording) and ``sleepfm risk`` (log-hazards per phecode per recording).

Each recording goes discover → preprocess → embed → stage / risk → evaluate → report; the
steps use the public APIs of ingestion (``sleepfm.preprocess``), embedding
(``sleepfm.embed``) and the checkpoint loader, and the report writers of
:mod:`sleepfm.report`.
"""

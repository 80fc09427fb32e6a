"""Signal quality: artifact detectors (the ``quality_checks`` registry kind), the per-patch flags
kept in signal stores, study verdicts, ``sleepfm qc`` and the foreign-data warning.

See docs/quality.md for every flag, its thresholds and their sources.
"""

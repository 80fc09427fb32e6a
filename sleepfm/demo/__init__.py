"""The built-in demo: a synthetic PSG cohort and the whole pipeline run end to end on it."""

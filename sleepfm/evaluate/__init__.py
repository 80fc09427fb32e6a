"""Evaluation: staging metrics (F1, kappa, confusion at 5 s and 30 s) and disease-risk C-indices."""

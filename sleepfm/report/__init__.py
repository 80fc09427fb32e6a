"""Reports on one night: sleep statistics, agreement and hypnogram plots."""

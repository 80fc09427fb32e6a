"""Channel mapping: which modality each channel label belongs to."""

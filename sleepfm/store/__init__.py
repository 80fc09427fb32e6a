"""On-disk stores: HDF5 signal files (per channel, 128 Hz) and embedding files (per modality)."""

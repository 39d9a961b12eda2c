"""Dataset loaders: files from the read-only data directory (``settings.data_dir()``), decoded to
uint8 tensors held in memory; anything extracted, downloaded or decoded goes to ``cache_dir()``."""

"""segprep: prepare segmentation datasets from their official downloads."""

__version__ = "0.1.0"

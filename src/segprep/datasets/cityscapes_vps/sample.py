"""The miniature Cityscapes-VPS download. Its generator is shared with Cityscapes-DVPS (which adds the depth
archive): ``datasets/_shared/cityscapes_vps_sample.py``."""

from segprep.datasets._shared.cityscapes_vps_sample import write_sample

__all__ = ["write_sample"]

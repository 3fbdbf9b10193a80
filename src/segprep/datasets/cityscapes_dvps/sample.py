"""The miniature Cityscapes-DVPS download: the Cityscapes-VPS sample with the depth archive (``depth=True``). Its
generator is shared with Cityscapes-VPS: ``datasets/_shared/cityscapes_vps_sample.py``."""

from segprep.datasets._shared.cityscapes_vps_sample import write_sample

__all__ = ["write_sample"]

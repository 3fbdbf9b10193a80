"""What several recipes share, so that no dataset imports another. Defines no ``RECIPE``.

- ``actions.py``: actions any recipe may run (place a checked PNG, report a missing input);
- ``cityscapes.py``: Cityscapes' gtFine download (Cityscapes, Cityscapes-VPS, Cityscapes-DVPS);
- ``cityscapes_vps_sources.py``, ``cityscapes_vps_labels.py``, ``cityscapes_vps_sample.py``: the
  Cityscapes-VPS download as Cityscapes-VPS and -DVPS find it, label it and sample it;
- ``dvps.py``: the depth and PNG checks of the DVPS datasets;
- ``video_frames.py``, ``video_frames_sample.py``: what VIPSeg and VSPW share (split lists, the
  resize rule; the sample scenes).
- ``vis_holdout.py``: ``--holdout``, the local validation split of train that the YouTube-VIS and
  OVIS recipes write (the split itself is ``encodings/holdout.py``).
"""

"""What several recipes share, so that no dataset imports another: Cityscapes' gtFine download
(``cityscapes.py``), actions every recipe may run (``actions.py``). Defines no ``RECIPE``."""

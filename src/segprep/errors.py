"""Errors whose message is meant for the user: what went wrong, with which file, and what to do.

The CLI prints these without a traceback; anything else is a bug and keeps its traceback.
"""


class SegprepError(Exception):
    """Base class: the message is complete and addressed to the user."""


class MissingInput(SegprepError):
    """A file or folder of the raw download was expected and not found."""


class BadInput(SegprepError):
    """An input exists but is damaged or not what it should be (truncated image, wrong archive)."""


class UnsafeArchive(BadInput):
    """An archive holds a member that would escape the target (absolute path, '..', outward link)."""


class NotEnoughSpace(SegprepError):
    """The output filesystem cannot hold what the plan needs."""

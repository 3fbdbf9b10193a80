"""Progress bars (tqdm: rate and ETA) and the user-facing messages of a run; ``quiet`` silences both."""

from __future__ import annotations

import sys

from tqdm import tqdm


class Progress:
    def __init__(self, quiet: bool = False):
        self.quiet = quiet

    def bar(self, total: int, label: str, unit: str = "task") -> "Bar":
        return Bar(None if self.quiet else tqdm(total=total, desc=label, unit=unit, dynamic_ncols=True, file=sys.stderr))

    def say(self, message: str) -> None:
        if not self.quiet:
            print(message, file=sys.stderr, flush=True)


class Bar:
    def __init__(self, bar: tqdm | None):
        self._bar = bar
        self._info: dict[str, str | int] = {}

    def advance(self, n: int = 1, failed: int | None = None, **info: str) -> None:
        """``info``: facts shown after the rate, e.g. ``fetched="1.2 GB"`` while reading remotely."""
        if self._bar is not None:
            if failed or info:
                self._info.update(info)
                if failed:
                    self._info["failed"] = failed
                self._bar.set_postfix(self._info, refresh=False)
            self._bar.update(n)

    def close(self) -> None:
        if self._bar is not None:
            self._bar.close()

    def __enter__(self) -> "Bar":
        return self

    def __exit__(self, *exc) -> None:
        self.close()

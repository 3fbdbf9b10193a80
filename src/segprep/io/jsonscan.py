"""Reading JSON files too large to load whole (annotation files of hundreds of MB).

``json.load`` of such a file holds several times its size in Python objects. ``JsonScanner``
walks the members of the top-level object instead, and an array member element by element,
giving each element's byte span in the file. A caller keeps only what it needs (ids, counts,
spans) and reads an element again later with ``load(start, end)``. Memory stays at one window
of the file (a few MB) plus one element, whatever the file size.

The file is decoded in windows as Latin-1 (one character per byte, so positions are byte
offsets) and parsed with the standard library's C decoder; an element whose window holds only
ASCII is exact as decoded, any other is decoded again from its bytes as UTF-8.

Bulky members of array elements can be left undecoded (``elements(raw={key: pattern})``): an
object element's member named ``key`` whose JSON text matches ``pattern`` comes back as a
``Raw`` span with its text, so a caller that only copies it never pays for decoding and
re-encoding it (a regular expression match is several times faster).
"""

from __future__ import annotations

import json
import re
from collections.abc import Iterator, Mapping
from dataclasses import dataclass
from typing import Any, BinaryIO

from segprep.errors import BadInput

DEFAULT_WINDOW = 8 << 20
_WHITESPACE = re.compile(r"[ \t\n\r]*")


@dataclass(frozen=True)
class Raw:
    """A value left undecoded: its span (byte offsets in the file, or indices in the text given to
    ``decode_shallow``) and its JSON text."""

    start: int
    end: int
    text: str


def decode_shallow(decoder: json.JSONDecoder, text: str, pos: int,
                   raw: Mapping[str, re.Pattern]) -> tuple[Any, int]:
    """``decoder.raw_decode(text, pos)``, except that in an object the members named in ``raw`` whose
    value matches their pattern are ``Raw`` (only the object's own members; nested ones are decoded).

    Raises ``json.JSONDecodeError`` like ``raw_decode`` (at ``len(text)`` when the text ends early).
    """
    if text[pos : pos + 1] != "{":
        return decoder.raw_decode(text, pos)
    out: dict[str, Any] = {}
    i = _WHITESPACE.match(text, pos + 1).end()
    if text[i : i + 1] == "}":
        return out, i + 1
    while True:
        key, i = decoder.raw_decode(text, i)
        if not isinstance(key, str):
            raise json.JSONDecodeError("Expecting property name enclosed in double quotes", text, i)
        i = _WHITESPACE.match(text, i).end()
        if text[i : i + 1] != ":":
            raise json.JSONDecodeError("Expecting ':' delimiter", text, min(i, len(text)))
        i = _WHITESPACE.match(text, i + 1).end()
        pattern = raw.get(key)
        match = pattern.match(text, i) if pattern is not None else None
        if match is not None:
            out[key] = Raw(i, match.end(), match.group())
            i = match.end()
        else:
            out[key], i = decoder.raw_decode(text, i)
        i = _WHITESPACE.match(text, i).end()
        char = text[i : i + 1]
        if char == "}":
            return out, i + 1
        if char != ",":
            raise json.JSONDecodeError("Expecting ',' delimiter", text, min(i, len(text)))
        i = _WHITESPACE.match(text, i + 1).end()


class JsonScanner:
    """Members of a JSON file's top-level object, read in windows from a seekable binary file."""

    def __init__(self, fileobj: BinaryIO, name: str, window: int | None = None):
        self.name = name
        self._f = fileobj
        self._f.seek(0, 2)
        self.size = self._f.tell()
        self._window_size = window or DEFAULT_WINDOW
        self._decoder = json.JSONDecoder()
        self._base = 0  # file offset of self._text[0]
        self._text = ""  # the window: bytes [base, base + len) decoded as Latin-1
        self._pos = 0  # cursor, an index into self._text
        self._active: Member | None = None

    # ------------------------------------------------------------------ public

    def members(self) -> Iterator["Member"]:
        """The top-level object's members in file order.

        Each one must be used (``value``, ``elements``) before the next is asked for; one left
        unused is skipped. Raises BadInput when the file is not a JSON object.
        """
        self._load(0)
        self._skip_ws()
        if self._peek() != "{":
            raise self._error("the file is not a JSON object", self._offset())
        self._pos += 1
        first = True
        while True:
            self._skip_ws()
            if self._peek() == "}":
                self._pos += 1
                break
            if not first:
                self._expect(",")
                self._skip_ws()
            first = False
            start = self._offset()
            key, _, _ = self._decode()
            if not isinstance(key, str):
                raise self._error("expected a member name", start)
            self._skip_ws()
            self._expect(":")
            self._skip_ws()
            member = Member(self, key, self._offset())
            self._active = member
            yield member
            member.finish()
            self._active = None
        self._skip_ws()
        if self._peek() != "":
            raise self._error("unexpected data after the top-level object", self._offset())

    def read(self, start: int, end: int) -> bytes:
        """The bytes [start, end) of the file."""
        self._f.seek(start)
        data = self._f.read(end - start)
        if len(data) != end - start:
            raise BadInput(f"{self.name}: the file ends at byte {start + len(data)}, before byte {end}; "
                           "it changed while being read or is truncated")
        return data

    def load(self, start: int, end: int) -> Any:
        """The JSON value in bytes [start, end), decoded exactly (UTF-8)."""
        data = self.read(start, end)
        try:
            return json.loads(data)
        except (ValueError, UnicodeDecodeError) as exc:
            raise self._error(f"cannot decode the value ({exc})", start) from None

    # ------------------------------------------------------------------ cursor

    def _offset(self) -> int:
        return self._base + self._pos

    def _at_eof(self) -> bool:
        return self._base + len(self._text) >= self.size

    def _load(self, offset: int, size: int | None = None) -> None:
        self._f.seek(offset)
        self._text = self._f.read(size or self._window_size).decode("latin-1")
        self._base, self._pos = offset, 0

    def _refill(self) -> None:
        """Moves the window to start at the cursor; doubles it when the cursor already was its start."""
        if self._pos == 0:
            self._window_size *= 2
        self._load(self._offset())

    def _skip_ws(self) -> None:
        while True:
            self._pos = _WHITESPACE.match(self._text, self._pos).end()
            if self._pos < len(self._text) or self._at_eof():
                return
            self._refill()

    def _peek(self) -> str:
        if self._pos >= len(self._text) and not self._at_eof():
            self._refill()
        return self._text[self._pos : self._pos + 1]

    def _expect(self, char: str) -> None:
        found = self._peek()
        if found != char:
            what = f"'{found}'" if found else "the end of the file"
            raise self._error(f"expected '{char}', found {what}", self._offset())
        self._pos += 1

    def _decode(self, raw: Mapping[str, re.Pattern] | None = None) -> tuple[Any, int, int]:
        """The value at the cursor, exact, and its span; the cursor moves past it."""
        while True:
            try:
                if raw:
                    value, end = decode_shallow(self._decoder, self._text, self._pos, raw)
                else:
                    value, end = self._decoder.raw_decode(self._text, self._pos)
            except json.JSONDecodeError as exc:
                # Cut by the window's end, or really invalid?
                cut = exc.pos >= len(self._text) - 16 or exc.msg.startswith("Unterminated string")
                if cut and not self._at_eof():
                    self._refill()
                    continue
                raise self._error(exc.msg, self._base + exc.pos) from None
            if end == len(self._text) and not self._at_eof():  # a number may go on in the next window
                self._refill()
                continue
            break
        start = self._offset()
        if not self._text.isascii():
            chunk = self._text[self._pos : end]
            if not chunk.isascii():
                try:
                    value = json.loads(chunk.encode("latin-1"))
                except (ValueError, UnicodeDecodeError) as exc:
                    raise self._error(str(exc), start) from None
        if raw and isinstance(value, dict):
            value = {k: Raw(v.start + self._base, v.end + self._base, v.text) if isinstance(v, Raw) else v
                     for k, v in value.items()}
        self._pos = end
        return value, start, self._offset()

    def _error(self, message: str, offset: int) -> BadInput:
        return BadInput(f"{self.name}: not valid JSON at byte {offset:,} ({message}); the file is damaged or "
                        "not the expected annotation file: download it again")


class Member:
    """One member of the top-level object; its value is read once, whole or element by element."""

    def __init__(self, scanner: JsonScanner, key: str, start: int):
        self._scanner = scanner
        self.key = key
        self.start = start  # byte offset of the value
        self.used = False
        self._rest: Iterator | None = None  # elements not yet taken by the caller

    def _use(self) -> None:
        if self.used:
            raise RuntimeError(f"member '{self.key}' was already read")
        if self._scanner._active is not self:
            raise RuntimeError(f"member '{self.key}' is no longer current")
        self.used = True

    def value(self) -> Any:
        """The whole value (for small members)."""
        self._use()
        value, _, _ = self._scanner._decode()
        return value

    def is_array(self) -> bool:
        return self._scanner._peek() == "["

    def elements(self, raw: Mapping[str, re.Pattern] | None = None) -> Iterator[tuple[int, int, Any]]:
        """(start, end, value) of each element of an array value, in order; BadInput if not an array.

        ``raw``: members of object elements to leave undecoded when their text matches (see ``Raw``).
        """
        self._use()
        self._rest = self._walk(raw)
        return self._rest

    def finish(self) -> None:
        """Moves past whatever of the value was not read (called by ``members`` before the next one)."""
        if not self.used:
            self.skip()
        elif self._rest is not None:
            for _ in self._rest:
                pass

    def _walk(self, raw: Mapping[str, re.Pattern] | None) -> Iterator[tuple[int, int, Any]]:
        s = self._scanner
        if s._peek() != "[":
            raise s._error(f"'{self.key}' is not an array", s._offset())
        s._pos += 1
        s._skip_ws()
        if s._peek() == "]":
            s._pos += 1
            return
        while True:
            value, start, end = s._decode(raw)
            yield start, end, value
            s._skip_ws()
            if s._peek() == "]":
                s._pos += 1
                return
            s._expect(",")
            s._skip_ws()

    def skip(self) -> None:
        """Moves past the value without holding it (an array is walked element by element)."""
        if self.is_array():
            for _ in self.elements():
                pass
        else:
            self.value()


def read_through(fileobj: BinaryIO, name: str) -> None:
    """Raises BadInput unless ``fileobj`` holds one complete JSON object. Arrays are walked element by
    element, so a file of hundreds of MB is checked in flat memory (a truncated download is caught
    before it is placed as an "official, unchanged" file)."""
    for member in JsonScanner(fileobj, name).members():
        member.skip()

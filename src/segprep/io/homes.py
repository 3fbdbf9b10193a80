"""Where a download is when it is not in a local folder: ``--raw URL`` and ``--remote NAME``.

* ``--raw s3://bucket/raw/vipseg/`` (any fsspec URL; ``https://`` too): the objects under the URL
  are listed once and mirrored as an *index* of placeholders under ``data/.segprep/remote/``:
  sparse files of the remote sizes and modification times, in the remote folder layout. Recipes
  find downloads in the index as in a local folder (archives and extracted files alike); their
  bytes are read remotely (``segprep.io.remote``). A web server cannot be listed: for
  ``https://`` the recipe's download names are looked up one by one. ``file://`` is a local path.
* ``--remote cityscapes|kitti|coco``: a download missing from ``--raw`` is read where it is
  published (the recipes declare which, with ``Download.home``): the Cityscapes server with the user's account (the login and package ids of
  cityscapesScripts' ``csDownload``: credentials from ``CITYSCAPES_USERNAME`` /
  ``CITYSCAPES_PASSWORD``, else the file ``csDownload`` stores, else a prompt), the public KITTI
  and COCO archives at the URLs the recipes declare. A local copy (whole, split, under another
  accepted name, or extracted) always wins.

Placeholders have the remote size and date, so task fingerprints are the same from run to run
and the resume journal works across runs.
"""

from __future__ import annotations

import getpass
import hashlib
import json
import os
import shutil
import sys
import threading
import urllib.parse
from collections.abc import Iterator, Sequence
from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import Path

from segprep.errors import MissingInput, SegprepError
from segprep.io import remote
from segprep.io.remote import FsspecRanges, LoginRequired, RemoteError
from segprep.io.remote_http import HttpRanges

INDEX_FOLDER = "remote"  # under data/.segprep/
MARKER = ".segprep-remote-index"  # in an index folder: the URL it mirrors
CITYSCAPES_URL_ENV = "SEGPREP_CITYSCAPES_URL"  # the Cityscapes server (tests point it at a local one)
CITYSCAPES_URL = "https://www.cityscapes-dataset.com"
HOST_ENV = "SEGPREP_REMOTE_HOST_{}"  # e.g. SEGPREP_REMOTE_HOST_KITTI=http://127.0.0.1:8000 (tests, mirrors)
# Other names under which recipes accept a Cityscapes package: a local copy under one of them wins.
ALIASES = {
    "leftImg8bit_sequence_trainvaltest.zip": ("leftImg8bit_sequence.zip",),
    "gtFine_trainvaltest.zip": ("gtFine.zip",),
    "leftImg8bit_trainvaltest.zip": ("leftImg8bit.zip",),
}


def is_url(raw: str | os.PathLike) -> bool:
    return "://" in str(raw)


# --------------------------------------------------------------------------- --raw URL


def open_raw(raw: str, state_root: Path, filenames: Sequence[str] = ()) -> Path:
    """The local folder to look for downloads in: ``raw`` itself, the path of a ``file://`` URL, or the index
    of the objects under any other URL (``filenames``: the names to look up on a web server)."""
    if not is_url(raw):
        path = Path(raw).absolute()
        for folder in (path, *path.parents):
            if (folder / MARKER).is_file():  # its files are empty placeholders: reading them would give zeros
                url = (folder / MARKER).read_text().strip()
                raise SegprepError(f"--raw {raw} is segprep's index of a remote --raw ({url}), not a download: "
                                   "pass that URL as --raw instead")
        return path
    scheme = raw.split("://", 1)[0].lower()
    if scheme == "file":
        return Path(urllib.parse.unquote(urllib.parse.urlparse(raw).path)).absolute()
    root = raw.rstrip("/")
    index = state_root / INDEX_FOLDER / ("raw-" + hashlib.sha256(root.encode()).hexdigest()[:16])
    if scheme in ("http", "https"):
        entries = _probe_http(root, filenames)
    else:
        entries = _list_fsspec(root)
    if not entries:
        raise MissingInput(f"--raw {raw}: nothing found there" + (
            f" (looked for {', '.join(filenames)}; a web server cannot be listed, so only these names are tried)"
            if scheme in ("http", "https") else ""))
    _materialize(index, entries)
    (index / MARKER).write_text(raw + "\n")
    return index


@dataclass
class _Entry:
    rel: str
    url: str
    size: int
    mtime_ns: int
    make: object  # () -> RangeReader
    reader: remote.RangeReader | None = None


def _list_fsspec(root: str) -> list[_Entry]:
    fs, path = remote.url_to_fs(root)
    try:
        found = fs.find(path, detail=True)
    except (FileNotFoundError, PermissionError, OSError) as exc:
        raise MissingInput(f"--raw {root}: cannot list it ({type(exc).__name__}: {exc})") from None
    prefix = path.rstrip("/") + "/"
    entries = []
    for name, info in sorted(found.items()):
        if info.get("type") == "directory" or not name.startswith(prefix):
            continue
        rel = name[len(prefix):]
        url = fs.unstrip_protocol(name)
        entries.append(_Entry(rel, url, int(info.get("size") or 0), remote.info_mtime_ns(info),
                              lambda url=url, name=name, info=info: FsspecRanges(url, fs=fs, path=name, info=info)))
    return entries


def _probe_http(root: str, filenames: Sequence[str]) -> list[_Entry]:
    entries = []
    for filename in filenames:
        url = f"{root}/{urllib.parse.quote(filename)}"
        try:
            reader = HttpRanges(url)
        except RemoteError as exc:
            if "HTTP 404" in str(exc):
                continue
            raise
        entries.append(_Entry(filename, url, reader.size, reader.mtime_ns, lambda r=reader: r, reader))
    return entries


def _materialize(index: Path, entries: list[_Entry]) -> None:
    """The placeholders of ``entries`` under ``index`` (rebuilt from scratch: same listing, same files)."""
    if index.exists():
        shutil.rmtree(index)
    index.mkdir(parents=True)
    for e in entries:
        parts = e.rel.split("/")
        if not e.rel or e.rel.startswith("/") or any(p in ("", ".", "..") for p in parts):
            raise SegprepError(f"{e.url}: refusing an object name that would leave the --raw folder: {e.rel!r}")
        path = index.joinpath(*parts)
        placeholder(path, e.size, e.mtime_ns)
        remote.register(path, remote.Remote(e.url, e.make, e.size, e.mtime_ns), e.reader)


def placeholder(path: Path, size: int, mtime_ns: int) -> None:
    """A sparse file of ``size`` bytes dated ``mtime_ns``: listed and fingerprinted like the remote file."""
    path.parent.mkdir(parents=True, exist_ok=True)
    with open(path, "wb") as f:
        f.truncate(size)
    os.utime(path, ns=(mtime_ns, mtime_ns))


# --------------------------------------------------------------------------- --remote homes


@dataclass(frozen=True)
class Known:
    """A download a home can serve: its URL (or package name), other accepted names, extracted folders."""

    url: str
    aliases: tuple[str, ...] = ()
    extracted: tuple[str, ...] = ()


class Home:
    name: str = ""
    label: str = ""

    def files(self) -> dict[str, Known]:
        raise NotImplementedError

    def reader(self, filename: str) -> remote.RangeReader:
        raise NotImplementedError


def declared(home: str) -> dict[str, Known]:
    """The downloads the recipes declare with ``home=HOME`` (``Download.home``), by file name."""
    from segprep import datasets

    out: dict[str, Known] = {}
    for recipe in datasets.registry().values():
        for d in recipe.DOWNLOADS:
            if d.home == home and d.filename not in out:
                out[d.filename] = Known(d.url, ALIASES.get(d.filename, ()), d.extracted)
    return out


class PublicHome(Home):
    """Public archives at the URLs the recipes declare (``SEGPREP_REMOTE_HOST_<NAME>`` replaces the host)."""

    def __init__(self, name: str, label: str) -> None:
        self.name, self.label = name, label

    def files(self) -> dict[str, Known]:
        return {name: known for name, known in declared(self.name).items() if known.url}

    def reader(self, filename: str) -> remote.RangeReader:
        from segprep.downloads import MIRROR_ENV, mirrored

        url = self.files()[filename].url
        host = os.environ.get(HOST_ENV.format(self.name.upper()))
        if host:
            url = host.rstrip("/") + urllib.parse.urlparse(url).path
        elif os.environ.get(MIRROR_ENV):  # the mirror `segprep download` uses serves ranges too
            url = mirrored(url, os.environ[MIRROR_ENV])
        return HttpRanges(url, name=filename, what_to_do="Download it with `segprep download` instead.")


class CityscapesHome(Home):
    """The Cityscapes server: packages by name, read with a logged-in session (cookies), as csDownload does."""

    name = "cityscapes"
    label = "Cityscapes server (your account)"

    def __init__(self) -> None:
        self.base = os.environ.get(CITYSCAPES_URL_ENV, CITYSCAPES_URL).rstrip("/")
        self._session = None
        self._packages: list[dict] | None = None
        self._lock = threading.Lock()

    def files(self) -> dict[str, Known]:
        return declared(self.name)

    def reader(self, filename: str) -> remote.RangeReader:
        with self._lock:
            if self._session is None:
                self._session = self.login()
            package = self._package_id(filename)
        url = f"{self.base}/file-handling/?packageID={package}"
        return HttpRanges(url, session=self._session, login=self.login, name=filename,
                          what_to_do=f"Or download {filename} with csDownload and put it in --raw.")

    def _package_id(self, filename: str) -> str:
        if self._packages is None:
            r = _checked(self._session.get(f"{self.base}/downloads/?list", allow_redirects=False, timeout=60),
                         f"{self.base}/downloads/?list", "the list of packages")
            try:
                self._packages = list(r.json())
            except ValueError:
                raise LoginRequired(f"{self.base}/downloads/?list: expected the list of packages (json), got "
                                    f"{r.headers.get('Content-Type', 'something else')}: is the login valid?") from None
        names = (filename, *ALIASES.get(filename, ()))
        for package in self._packages:
            if package.get("name") in names:
                return str(package.get("packageID"))
        available = ", ".join(sorted(str(p.get("name")) for p in self._packages)[:20])
        raise RemoteError(f"{self.base}: your account may not download {filename} (not among its packages: "
                          f"{available}). Request access on {self.base}/downloads/ or download it yourself.")

    def login(self):
        """A requests session logged in to the Cityscapes server (the form csDownload posts); raises a clear
        LoginRequired when the server refuses the credentials."""
        import requests

        username, password, where = cityscapes_credentials()
        session = requests.Session()
        url = f"{self.base}/login"
        try:
            _checked(session.get(url, allow_redirects=False, timeout=60), url, "the login page")
            r = session.post(url, data={"username": username, "password": password, "submit": "Login"},
                             allow_redirects=False, timeout=60)
        except (requests.ConnectionError, requests.Timeout) as exc:
            raise RemoteError(f"{url}: cannot reach the Cityscapes server ({type(exc).__name__}); rerun later") from None
        if r.status_code != 302:  # the server redirects after a successful login
            raise LoginRequired(
                f"{url}: the Cityscapes server refused the login of '{username}' (HTTP {r.status_code}, credentials "
                f"from {where}). Check them by logging in on {self.base}/login in a browser; set "
                "CITYSCAPES_USERNAME and CITYSCAPES_PASSWORD, or store them again with `csDownload -l`."
            )
        return session


def _checked(response, url: str, what: str):
    status = response.status_code
    if status in (301, 302, 303, 307, 308, 401, 403):
        raise LoginRequired(f"{url}: the server answered HTTP {status} for {what} instead of serving it: the login "
                            "was not accepted or has expired; check the account and rerun")
    if status >= 400:
        raise RemoteError(f"{url}: the server answered HTTP {status} for {what}; rerun later")
    return response


def cityscapes_credentials() -> tuple[str, str, str]:
    """(username, password, where they came from): the environment, csDownload's stored file, or a prompt."""
    user, password = os.environ.get("CITYSCAPES_USERNAME"), os.environ.get("CITYSCAPES_PASSWORD")
    if user and password:
        return user, password, "CITYSCAPES_USERNAME/CITYSCAPES_PASSWORD"
    stored = _stored_credentials_path()
    if stored.is_file():
        try:
            data = json.loads(stored.read_text())
            return data["username"], data["password"], str(stored)
        except (ValueError, KeyError, OSError) as exc:
            raise LoginRequired(f"{stored}: cannot read the stored Cityscapes credentials ({exc}); store them again "
                                "with `csDownload -l` or set CITYSCAPES_USERNAME and CITYSCAPES_PASSWORD") from None
    if sys.stdin is not None and sys.stdin.isatty():
        user = input("Cityscapes username or email address: ")
        return user, getpass.getpass("Cityscapes password: "), "the prompt"
    raise LoginRequired("reading Cityscapes packages on the server needs your account: set CITYSCAPES_USERNAME and "
                        f"CITYSCAPES_PASSWORD, or store them once with `csDownload -l` (kept in {stored})")


def _stored_credentials_path() -> Path:
    try:
        import appdirs

        return Path(appdirs.user_data_dir("cityscapesscripts", "cityscapes")) / "credentials.json"
    except ImportError:
        return Path.home() / ".local" / "share" / "cityscapesscripts" / "credentials.json"


def homes() -> dict[str, type[Home] | object]:
    return {
        "cityscapes": CityscapesHome,
        "kitti": lambda: PublicHome("kitti", "KITTI public archives"),
        "coco": lambda: PublicHome("coco", "COCO public archives"),
    }


@dataclass
class _Active:
    raw: Path
    homes: list[Home]
    index: Path
    found: dict[str, Path]


_active: list[_Active] = []


@contextmanager
def activate(raw: Path, names: Sequence[str], state_root: Path) -> Iterator[None]:
    """While active, ``find_archive(raw, name)`` falls back to the homes ``names`` for downloads not in ``raw``."""
    known = homes()
    unknown = [n for n in names if n not in known]
    if unknown:
        raise SegprepError(f"--remote: unknown home(s) {unknown}; known: {', '.join(known)}")
    entry = _Active(raw.absolute(), [known[n]() for n in dict.fromkeys(names)], state_root / INDEX_FOLDER, {})
    _active.append(entry)
    try:
        yield
    finally:
        _active.remove(entry)


def home_archive(directory: Path, filename: str):
    """The remote archive for ``filename`` when ``directory`` is an active --raw folder with no local copy."""
    from segprep.io.archives import Archive, archive_kind

    for active in _active:
        if Path(directory).absolute() != active.raw:
            continue
        for home in active.homes:
            known = home.files().get(filename)
            if known is None:
                continue
            if _local_copy(active.raw, (filename, *known.aliases), known.extracted):
                return None
            path = active.found.get(filename)
            if path is None:
                reader = home.reader(filename)
                path = active.index / home.name / filename
                placeholder(path, reader.size, reader.mtime_ns)
                remote.register(path, remote.Remote(reader.url, lambda r=reader: r, reader.size, reader.mtime_ns,
                                                    home.label), reader)
                active.found[filename] = path
            return Archive((str(path),), archive_kind(filename))
    return None


def _local_copy(raw: Path, names: tuple[str, ...], extracted: tuple[str, ...]) -> bool:
    try:
        folders = [raw] + sorted(p for p in raw.iterdir() if p.is_dir() and not p.name.startswith("."))
    except OSError:
        return False
    for folder in folders:
        for name in names:
            if (folder / name).is_file() or (folder / f"{name}_aa").is_file() or (folder / f"{name}.aa").is_file():
                return True
        for rel in extracted:
            if (folder / rel).exists():
                return True
    return False

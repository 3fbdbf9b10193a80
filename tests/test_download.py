"""Resumable, verified downloads against local HTTP servers that misbehave in the usual ways."""

import hashlib
import os
import threading
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer

import pytest

from segprep.cli import main
from segprep.datasets.base import Download, Recipe
from segprep.downloads import download
from segprep.errors import BadInput, SegprepError
from segprep.io.fetch import LoginRequired, fetch

PAYLOAD = os.urandom(3_000_000)


class Handler(BaseHTTPRequestHandler):
    def log_message(self, *args):  # quiet
        pass

    def do_GET(self):
        server = self.server
        server.requests.append((self.path, self.headers.get("Range")))
        mode = server.modes.get(self.path, "normal")
        if mode == "login":
            return self._send(200, b"<!DOCTYPE html><html><body>Please sign in</body></html>", "text/html")
        if mode == "redirect":
            self.send_response(302)
            self.send_header("Location", "/login")
            self.end_headers()
            return None
        if self.path == "/login":
            return self._send(200, b"<html>login form</html>", "text/html; charset=utf-8")
        if mode == "forbidden":
            return self._send(403, b"no", "text/plain")
        data = server.files.get(self.path)
        if data is None:
            return self._send(404, b"missing", "text/plain")
        start = 0
        range_header = self.headers.get("Range")
        if range_header and mode != "norange":
            start = int(range_header.split("=")[1].split("-")[0])
            self.send_response(206)
            self.send_header("Content-Range", f"bytes {start}-{len(data) - 1}/{len(data)}")
        else:
            self.send_response(200)
        body = data[start:]
        self.send_header("Content-Type", "application/zip")
        self.send_header("Content-Length", str(len(body)))
        self.end_headers()
        if mode == "drop" and server.drops.get(self.path, 0) > 0:
            server.drops[self.path] -= 1
            self.wfile.write(body[: len(body) // 3])
            self.wfile.flush()
            self.connection.shutdown(2)  # the connection dies mid-transfer
            return None
        self.wfile.write(body)
        return None

    def _send(self, code, body, content_type):
        self.send_response(code)
        self.send_header("Content-Type", content_type)
        self.send_header("Content-Length", str(len(body)))
        self.end_headers()
        self.wfile.write(body)


@pytest.fixture
def server():
    httpd = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
    httpd.files, httpd.modes, httpd.requests, httpd.drops = {"/a.zip": PAYLOAD}, {}, [], {}
    thread = threading.Thread(target=httpd.serve_forever, daemon=True)
    thread.start()
    httpd.url = f"http://127.0.0.1:{httpd.server_address[1]}"
    yield httpd
    httpd.shutdown()
    httpd.server_close()


def md5(data):
    return hashlib.md5(data).hexdigest()


def test_a_plain_download_is_verified_and_lands_under_its_name(server, tmp_path):
    result = fetch(f"{server.url}/a.zip", tmp_path / "a.zip", expected_bytes=len(PAYLOAD), md5=md5(PAYLOAD))
    assert (tmp_path / "a.zip").read_bytes() == PAYLOAD
    assert result.sha256 == hashlib.sha256(PAYLOAD).hexdigest()
    assert os.listdir(tmp_path) == ["a.zip"]
    again = fetch(f"{server.url}/a.zip", tmp_path / "a.zip", expected_bytes=len(PAYLOAD), md5=md5(PAYLOAD))
    assert again.skipped and len(server.requests) == 1


def test_a_dropped_connection_is_resumed_with_a_range_request(server, tmp_path):
    server.modes["/a.zip"], server.drops["/a.zip"] = "drop", 1
    result = fetch(f"{server.url}/a.zip", tmp_path / "a.zip", md5=md5(PAYLOAD), backoff=0)
    assert (tmp_path / "a.zip").read_bytes() == PAYLOAD
    assert server.requests[0] == ("/a.zip", None)
    assert server.requests[1] == ("/a.zip", f"bytes={len(PAYLOAD) // 3}-")
    assert result.restarts == 0


def test_a_partial_file_never_has_the_final_name_and_a_rerun_continues(server, tmp_path):
    server.modes["/a.zip"], server.drops["/a.zip"] = "drop", 5
    with pytest.raises(SegprepError, match="keeps failing.*Run the same command again"):
        fetch(f"{server.url}/a.zip", tmp_path / "a.zip", retries=1, backoff=0)
    assert not (tmp_path / "a.zip").exists()
    kept = (tmp_path / "a.zip.part").stat().st_size
    assert 0 < kept < len(PAYLOAD)
    server.drops["/a.zip"] = 0
    result = fetch(f"{server.url}/a.zip", tmp_path / "a.zip", md5=md5(PAYLOAD), backoff=0)
    assert result.resumed_from == kept and server.requests[-1][1] == f"bytes={kept}-"
    assert (tmp_path / "a.zip").read_bytes() == PAYLOAD and not (tmp_path / "a.zip.part").exists()


def test_a_server_that_ignores_range_restarts_from_zero(server, tmp_path):
    (tmp_path / "a.zip.part").write_bytes(PAYLOAD[:1000])
    server.modes["/a.zip"] = "norange"
    result = fetch(f"{server.url}/a.zip", tmp_path / "a.zip", md5=md5(PAYLOAD))
    assert result.restarts == 1 and (tmp_path / "a.zip").read_bytes() == PAYLOAD


def test_a_wrong_checksum_quarantines_the_file(server, tmp_path):
    with pytest.raises(BadInput, match="md5 is .* the published one is 0{32}"):
        fetch(f"{server.url}/a.zip", tmp_path / "a.zip", md5="0" * 32)
    assert sorted(os.listdir(tmp_path)) == ["a.zip.corrupt"]


@pytest.mark.parametrize("mode", ["login", "redirect", "forbidden"])
def test_a_login_page_is_recognised_and_explained(server, tmp_path, mode):
    server.modes["/a.zip"] = mode
    with pytest.raises(LoginRequired) as err:
        fetch(f"{server.url}/a.zip", tmp_path / "a.zip", page="https://example.org/downloads")
    message = str(err.value)
    assert "login" in message and "https://example.org/downloads" in message
    if mode == "redirect":
        assert "redirected to" in message and "/login" in message
    assert not (tmp_path / "a.zip").exists()


class TwoFiles(Recipe):
    NAME, FOLDER, TITLE, VERSION = "two", "two", "two files", "1"


def test_download_command_fetches_in_parallel_and_explains_login_files(server, tmp_path):
    server.files["/b.tar.gz"] = PAYLOAD[::-1]
    TwoFiles.DOWNLOADS = (
        Download("a.zip", "3 MB", "https://example.org", "a", url=f"{server.url}/a.zip", md5=md5(PAYLOAD), bytes=len(PAYLOAD)),
        Download("b.tar.gz", "", "https://example.org", "b", url=f"{server.url}/b.tar.gz"),
        Download("c.zip", "11 GB", "https://example.org/login", "c", login=True),
    )
    outcomes = download(TwoFiles(), tmp_path, quiet=True)
    assert [o.status for o in outcomes] == ["downloaded", "downloaded", "manual"]
    assert "checked size, md5" in outcomes[0].detail
    assert hashlib.sha256(PAYLOAD[::-1]).hexdigest() in outcomes[1].detail and "no published checksum" in outcomes[1].detail
    assert "https://example.org/login" in outcomes[2].detail and str(tmp_path) in outcomes[2].detail


def test_cli_download_kitti_step_reports_what_it_could_not_fetch(tmp_path, capsys, monkeypatch):
    from segprep import downloads

    def unreachable(url, target, **kw):
        raise SegprepError(f"{url}: unreachable here")

    monkeypatch.setattr(downloads, "fetch", unreachable)
    assert main(["download", "kitti-step", "--raw", str(tmp_path), "--quiet"]) == 1
    out = capsys.readouterr().out
    assert "data_tracking_image_2.zip" in out and "kitti-step.tar.gz" in out and "failed" in out


def test_use_tool_runs_the_official_downloader_for_login_files(tmp_path, monkeypatch):
    """`--use-tool` runs e.g. csDownload with the raw folder and file name; without it, instructions."""
    bin_dir = tmp_path / "bin"
    bin_dir.mkdir()
    fake = bin_dir / "csDownload"
    fake.write_text('#!/bin/sh\n# args: --resume -d DIR NAME\necho "$@" > "$3/args.txt"; echo zip > "$3/$4"\n')
    fake.chmod(0o755)
    monkeypatch.setenv("PATH", f"{bin_dir}{os.pathsep}{os.environ['PATH']}")
    from segprep import datasets

    recipe = datasets.get("cityscapes")
    raw = tmp_path / "raw"
    manual = download(recipe, raw, quiet=True)
    assert {o.status for o in manual} == {"manual"} and all("--use-tool" in o.detail for o in manual)
    outcomes = download(recipe, raw, use_tool=True, quiet=True)
    assert {o.status for o in outcomes} == {"tool"}, [o.detail for o in outcomes]
    assert (raw / "gtFine_trainvaltest.zip").exists() and "--resume -d" in (raw / "args.txt").read_text()


def test_a_mirror_replaces_the_public_servers_and_the_checksums_still_apply(server, tmp_path, monkeypatch, capsys):
    from segprep.downloads import MIRROR_ENV, mirrored

    assert mirrored("http://images.example.org/zips/a.zip", "https://m.lab/d/") == "https://m.lab/d/images.example.org/zips/a.zip"
    assert mirrored("http://images.example.org/zips/a.zip", "https://m.lab/{filename}") == "https://m.lab/a.zip"
    server.files["/public.invalid/zips/a.zip"] = PAYLOAD
    server.files["/flat/a.zip"] = PAYLOAD[::-1]
    TwoFiles.DOWNLOADS = (  # .invalid never resolves: only the mirror can serve these
        Download("a.zip", "3 MB", "https://example.org", "a", url="http://public.invalid/zips/a.zip", md5=md5(PAYLOAD),
                 bytes=len(PAYLOAD)),
    )
    outcomes = download(TwoFiles(), tmp_path / "opt", quiet=True, mirror=server.url)
    assert [o.status for o in outcomes] == ["downloaded"] and f"from {server.url}/public.invalid/zips/a.zip" in outcomes[0].detail
    assert (tmp_path / "opt/a.zip").read_bytes() == PAYLOAD
    monkeypatch.setenv(MIRROR_ENV, f"{server.url}/flat/{{filename}}")  # another file there: refused by its md5
    outcomes = download(TwoFiles(), tmp_path / "env", quiet=True, backoff=0)
    assert [o.status for o in outcomes] == ["failed"] and "md5" in outcomes[0].detail
    assert all(path.startswith(("/public.invalid/", "/flat/")) for path, _ in server.requests)

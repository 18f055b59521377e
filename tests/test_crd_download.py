"""Outside a checkout the pinned CRDs come from a mirror folder or are downloaded from their pinned URLs into the
per-user cache, checked against their sha256. End to end through `synth`, with a local HTTP server standing in for
raw.githubusercontent.com (INFERENCE_FLEET_CRD_BASE_URL): a good file, a wrong hash, a 404, no server."""

from __future__ import annotations

import http.server
import json
import os
import socket
import threading
from pathlib import Path

import pytest

from tests.conftest import REPO
from tests.test_cli import cli

MIRROR = REPO.parent / "shared" / "crds"
RAW = "https://raw.githubusercontent.com/"


def _served_tree(root: Path, corrupt: bool = False) -> None:
    """The pinned files laid out as their URLs are, from the local mirror."""
    for s in json.loads((REPO / "schemas" / "crds.json").read_text())["sources"]:
        if "url" not in s:
            continue
        target = root / s["url"][len(RAW):]
        target.parent.mkdir(parents=True, exist_ok=True)
        data = (MIRROR / s["mirror"]).read_bytes()
        target.write_bytes(data + (b"\n# tampered\n" if corrupt else b""))


class _Server:
    def __init__(self, root: Path) -> None:
        handler = lambda *a, **k: http.server.SimpleHTTPRequestHandler(*a, directory=str(root), **k)  # noqa: E731
        http.server.SimpleHTTPRequestHandler.log_message = lambda *a, **k: None
        self.httpd = http.server.ThreadingHTTPServer(("127.0.0.1", 0), handler)
        self.url = f"http://127.0.0.1:{self.httpd.server_address[1]}/"
        threading.Thread(target=self.httpd.serve_forever, daemon=True).start()

    def close(self) -> None:
        self.httpd.shutdown()
        self.httpd.server_close()


def _synth(tmp_path: Path, base_url: str):
    empty = tmp_path / "no-mirror"
    empty.mkdir(exist_ok=True)
    env = {"INFERENCE_FLEET_CRD_MIRROR": str(empty), "INFERENCE_FLEET_CACHE": str(tmp_path / "cache"),
           "INFERENCE_FLEET_CRD_BASE_URL": base_url}
    old = {k: os.environ.get(k) for k in env}
    os.environ.update(env)
    try:
        return cli("synth", "--out", str(tmp_path / "out"))
    finally:
        for k, v in old.items():
            if v is None:
                os.environ.pop(k, None)
            else:
                os.environ[k] = v


def test_download_fills_the_cache(tmp_path):
    _served_tree(tmp_path / "www")
    server = _Server(tmp_path / "www")
    try:
        r = _synth(tmp_path, server.url)
    finally:
        server.close()
    assert r.returncode == 0, r.stderr
    cached = {p.name for p in (tmp_path / "cache" / "crds").iterdir()}
    sources = json.loads((REPO / "schemas" / "crds.json").read_text())["sources"]
    from synth.pipeline import written

    # Ahead of a synth: the kinds it writes; the others (Argo Rollouts, Kargo, RepoSync) on first use.
    assert {f"{s['sha256']}.yaml" for s in sources if "sha256" in s and written(s["group"], s["kind"])} == cached


@pytest.mark.parametrize("failure", ["wrong-hash", "404", "no-server"])
def test_download_failures_are_one_clear_line(tmp_path, failure):
    if failure == "wrong-hash":
        _served_tree(tmp_path / "www", corrupt=True)
    else:
        (tmp_path / "www").mkdir()
    server = None
    if failure == "no-server":
        with socket.socket() as s:
            s.bind(("127.0.0.1", 0))
            url = f"http://127.0.0.1:{s.getsockname()[1]}/"  # nothing listens once the socket closes
    else:
        server = _Server(tmp_path / "www")
        url = server.url
    try:
        r = _synth(tmp_path, url)
    finally:
        if server:
            server.close()
    assert r.returncode == 2 and r.stderr.count("\n") == 1 and "Traceback" not in r.stderr, r.stderr
    expected = {"wrong-hash": "sha256 differs from the pin", "404": "answered HTTP 404",
                "no-server": "could not be fetched"}[failure]
    assert expected in r.stderr
    assert not (tmp_path / "out").exists() or not any((tmp_path / "out").iterdir())

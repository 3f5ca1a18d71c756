"""deploy/nginx.conf's request limits, run for real: nginx in front of a stand-in upstream that
answers 200 to everything. Sign-in posts from one address: 1 + a burst of 20 pass, then 429; page
reads from the same address in the same second are not held by the sign-in limit. Skipped where
nginx is not installed (CI needs none; `apt-get install nginx-light`)."""
from __future__ import annotations

import shutil
import socket
import subprocess
import threading
import time
import urllib.error
import urllib.request
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[2]


class _Upstream(BaseHTTPRequestHandler):
    def _answer(self) -> None:
        length = int(self.headers.get("Content-Length") or 0)
        self.rfile.read(length)
        self.send_response(200)
        self.send_header("Content-Length", "2")
        self.end_headers()
        self.wfile.write(b"ok")

    do_GET = do_POST = _answer

    def log_message(self, *args) -> None:
        pass


def _free_port() -> int:
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        return probe.getsockname()[1]


def _status(url: str, method: str = "GET") -> int:
    request = urllib.request.Request(url, method=method, data=b"x=1" if method == "POST" else None)
    try:
        with urllib.request.urlopen(request, timeout=10) as answer:
            return answer.status
    except urllib.error.HTTPError as refused:
        return refused.code


@pytest.fixture
def nginx_site(tmp_path):
    nginx = shutil.which("nginx") or ("/usr/sbin/nginx" if Path("/usr/sbin/nginx").exists() else None)
    if nginx is None:
        pytest.skip("nginx is not installed")
    upstream = ThreadingHTTPServer(("127.0.0.1", 0), _Upstream)
    threading.Thread(target=upstream.serve_forever, daemon=True).start()
    listen = _free_port()
    site = (ROOT / "deploy" / "nginx.conf").read_text()
    site = site.replace("127.0.0.1:8001", f"127.0.0.1:{upstream.server_port}")
    site = site.replace("server 127.0.0.1:8002", f"server 127.0.0.1:{upstream.server_port}")
    site = site.replace("listen 127.0.0.1:8080", f"listen 127.0.0.1:{listen}")
    (tmp_path / "site.conf").write_text(site)
    main = tmp_path / "nginx.conf"
    main.write_text(
        f"daemon off;\npid {tmp_path}/nginx.pid;\nerror_log {tmp_path}/error.log;\nevents {{}}\n"
        f"http {{ access_log off; client_body_temp_path {tmp_path}/body; proxy_temp_path {tmp_path}/proxy;\n"
        f"include {tmp_path / 'site.conf'}; }}\n")
    server = subprocess.Popen([nginx, "-p", str(tmp_path), "-c", str(main)], stderr=subprocess.DEVNULL)
    base = f"http://127.0.0.1:{listen}"
    try:
        for _ in range(100):
            try:
                socket.create_connection(("127.0.0.1", listen), timeout=1).close()
                break
            except OSError:
                time.sleep(0.05)
        yield base
    finally:
        server.terminate()
        server.wait(timeout=10)
        upstream.shutdown()
        upstream.server_close()


def test_sign_in_posts_are_limited_per_address_and_pages_are_not_held_by_it(nginx_site):
    posts = [_status(nginx_site + "/login", "POST") for _ in range(25)]
    # 10 a minute with a burst of 20: the first 21 pass at once; then one more every 6 s, so of
    # the next four (sent within a second or two) at least three are refused.
    assert posts[:21] == [200] * 21
    assert posts[21:].count(429) >= 3 and set(posts[21:]) <= {200, 429}
    assert [_status(nginx_site + "/login") for _ in range(5)] == [200] * 5  # reading the form is a page
    assert [_status(nginx_site + "/") for _ in range(50)] == [200] * 50

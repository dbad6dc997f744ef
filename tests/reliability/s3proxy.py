"""A tiny HTTP proxy in front of an S3 API (moto's server) that injects S3 faults.

Point boto3 at it (``AWS_ENDPOINT_URL_S3=proxy.url``) and add rules: every request is
classified into an S3 operation (``GetObject``, ``PutObject``, ``HeadObject``,
``ListObjectsV2``, ``DeleteObjects``, ...) and its key; the first rule that matches and
still has shots left answers with its error instead of forwarding. Everything else is
forwarded unchanged. Every request is logged (operation, key, status, SHA-256 of a PUT
body), so tests can see exactly what reached the store.
"""

from __future__ import annotations

import hashlib
import http.client
import re
import threading
import time
from dataclasses import dataclass, field
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Any
from urllib.parse import parse_qs, unquote, urlsplit

_HOP_BY_HOP = {
    "connection",
    "keep-alive",
    "proxy-connection",
    "transfer-encoding",
    "te",
    "trailer",
    "upgrade",
    "expect",
}
ERROR_CODES = {503: "SlowDown", 500: "InternalError", 404: "NoSuchKey", 403: "AccessDenied"}


@dataclass
class Rule:
    """Answer ``status`` to requests of ``op`` whose key matches ``key`` (a regex).

    ``times``: only the first ``times`` matching requests (None: all); ``every``: only every
    ``every``-th matching request (1st, (every+1)-th, ...). ``op="*"`` matches any operation.
    """

    op: str
    status: int
    key: str = ""
    times: int | None = None
    every: int | None = None
    code: str | None = None
    seen: int = 0
    fired: int = 0

    def fire(self, op: str, key: str) -> bool:
        if self.op not in ("*", op) or not re.search(self.key, key):
            return False
        self.seen += 1
        if self.times is not None and self.fired >= self.times:
            return False
        if self.every is not None and (self.seen - 1) % self.every:
            return False
        self.fired += 1
        return True


@dataclass
class Logged:
    op: str
    key: str
    status: int
    injected: bool
    sha256: str | None = None
    size: int = 0
    at: float = field(default_factory=time.time)
    body: bytes | None = field(default=None, repr=False)  # a PUT's body, up to 64 KiB


def classify(method: str, path: str, query: str) -> tuple[str, str]:
    """(S3 operation, key) of a path-style request ``/bucket/key?query``."""
    _, _, rest = unquote(path).lstrip("/").partition("/")
    key = rest
    params = parse_qs(query, keep_blank_values=True)
    if not key:
        if method == "GET":
            return ("ListObjectsV2" if params.get("list-type") == ["2"] else "ListObjects"), ""
        if method == "POST" and "delete" in params:
            return "DeleteObjects", ""
        return {"PUT": "CreateBucket", "HEAD": "HeadBucket", "DELETE": "DeleteBucket"}.get(
            method, f"{method}Bucket"
        ), ""
    if "uploads" in params or "uploadId" in params:
        return "Multipart", key
    return {
        "GET": "GetObject",
        "PUT": "PutObject",
        "HEAD": "HeadObject",
        "DELETE": "DeleteObject",
    }.get(method, f"{method}Object"), key


class S3FaultProxy:
    """Serves on 127.0.0.1 and forwards to ``upstream`` (``http://host:port``)."""

    def __init__(self, upstream: str) -> None:
        parts = urlsplit(upstream)
        self.upstream = (parts.hostname or "127.0.0.1", parts.port or 80)
        self.rules: list[Rule] = []
        self.log: list[Logged] = []
        self.lock = threading.Lock()
        self._server: ThreadingHTTPServer | None = None

    @property
    def url(self) -> str:
        assert self._server is not None, "proxy not started"
        return f"http://127.0.0.1:{self._server.server_address[1]}"

    def start(self) -> S3FaultProxy:
        proxy = self

        class Handler(_Handler):
            owner = proxy

        self._server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
        self._server.daemon_threads = True
        threading.Thread(target=self._server.serve_forever, args=(0.05,), daemon=True).start()
        return self

    def stop(self) -> None:
        if self._server is not None:
            self._server.shutdown()
            self._server.server_close()
            self._server = None

    def add(self, op: str, status: int, **kwargs: Any) -> Rule:
        rule = Rule(op, status, **kwargs)
        with self.lock:
            self.rules.append(rule)
        return rule

    def reset(self) -> None:
        """Drop every rule and the log."""
        with self.lock:
            self.rules.clear()
            self.log.clear()

    def entries(self, op: str | None = None, key: str = "") -> list[Logged]:
        with self.lock:
            return [e for e in self.log if (op is None or e.op == op) and re.search(key, e.key)]

    def _decide(self, op: str, key: str) -> Rule | None:
        with self.lock:
            for rule in self.rules:
                if rule.fire(op, key):
                    return rule
        return None

    def _record(self, entry: Logged) -> None:
        with self.lock:
            self.log.append(entry)


class _Handler(BaseHTTPRequestHandler):
    protocol_version = "HTTP/1.1"
    owner: S3FaultProxy

    def _body(self) -> bytes:
        if "chunked" in self.headers.get("Transfer-Encoding", "").lower():
            chunks = []
            while True:
                size = int(self.rfile.readline().split(b";")[0].strip() or b"0", 16)
                if size == 0:
                    while self.rfile.readline() not in (b"\r\n", b"\n", b""):
                        pass
                    break
                chunks.append(self.rfile.read(size))
                self.rfile.readline()
            return b"".join(chunks)
        return self.rfile.read(int(self.headers.get("Content-Length") or 0))

    def _handle(self) -> None:
        url = urlsplit(self.path)
        body = self._body()
        op, key = classify(self.command, url.path, url.query)
        digest = hashlib.sha256(body).hexdigest() if op == "PutObject" else None
        kept = body if op == "PutObject" and len(body) <= 1 << 16 else None
        rule = self.owner._decide(op, key)
        if rule is not None:
            code = rule.code or ERROR_CODES.get(rule.status, "InternalError")
            payload = (
                b'<?xml version="1.0" encoding="UTF-8"?>\n<Error><Code>'
                + code.encode()
                + b"</Code><Message>injected by the test proxy</Message>"
                + b"<RequestId>proxy</RequestId></Error>"
            )
            self.owner._record(Logged(op, key, rule.status, True, digest, len(body), body=kept))
            self.send_response(rule.status)
            self.send_header("Content-Type", "application/xml")
            self.send_header("x-amz-request-id", "proxy")
            self.send_header("Content-Length", "0" if self.command == "HEAD" else str(len(payload)))
            self.end_headers()
            if self.command != "HEAD":
                self.wfile.write(payload)
            return
        headers = {k: v for k, v in self.headers.items() if k.lower() not in _HOP_BY_HOP}
        headers["Content-Length"] = str(len(body))
        connection = http.client.HTTPConnection(*self.owner.upstream, timeout=60)
        try:
            connection.request(self.command, self.path, body=body, headers=headers)
            response = connection.getresponse()
            data = response.read()
            entry = Logged(op, key, response.status, False, digest, len(body), body=kept)
            self.owner._record(entry)
            self.send_response(response.status)
            for name, value in response.getheaders():
                if name.lower() in _HOP_BY_HOP or name.lower() == "content-length":
                    continue
                self.send_header(name, value)
            length = response.getheader("Content-Length")
            if self.command == "HEAD":
                self.send_header("Content-Length", length or "0")
            else:
                self.send_header("Content-Length", str(len(data)))
            self.end_headers()
            if self.command != "HEAD":
                self.wfile.write(data)
        finally:
            connection.close()

    do_GET = do_PUT = do_POST = do_HEAD = do_DELETE = _handle

    def log_message(self, format: str, *args: Any) -> None:
        pass

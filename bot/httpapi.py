"""The operator's HTTP endpoint: `/healthz` and `/metrics` on `[http] listen`, off unless set.

A tiny asyncio server: h11 (the HTTP/1.1 state machine httpx already depends on) parses the
request, prometheus-client renders `/metrics`. One request per connection, GET and HEAD only,
bounded header size and read time, so a stuck or hostile client cannot hold the daemon.
"""

from __future__ import annotations

import asyncio
import contextlib
import json
import logging
from collections.abc import Callable
from http import HTTPStatus
from types import TracebackType
from typing import Any

import h11

from bot.metrics import Metrics

log = logging.getLogger(__name__)

HealthCheck = Callable[[], tuple[bool, dict[str, Any]]]
READ_TIMEOUT_SECONDS = 10.0
MAX_HEADER_BYTES = 16 * 1024


def parse_listen(text: str) -> tuple[str, int]:
    """ "127.0.0.1:9464" or "[::1]:9464" -> (host, port); ValueError says the accepted form."""
    host, sep, port_text = text.strip().rpartition(":")
    host = host.removeprefix("[").removesuffix("]")
    if not sep or not host or not port_text.isdigit() or not 0 <= int(port_text) <= 65535:
        raise ValueError(
            f'listen address {text!r}: expected "HOST:PORT" such as "127.0.0.1:9464" '
            '(IPv6 as "[::1]:9464"), port 0-65535'
        )
    return host, int(port_text)


class HttpApi:
    """`async with HttpApi(host, port, metrics=..., health=...) as api:` serves until the block
    ends; `api.port` is the bound port (useful with port 0). `health` is called per request and
    returns (ok, reason) as `bot.health.health` does."""

    def __init__(self, host: str, port: int, *, metrics: Metrics, health: HealthCheck) -> None:
        self.host = host
        self.port = port
        self._metrics = metrics
        self._health = health
        self._server: asyncio.Server | None = None

    async def __aenter__(self) -> HttpApi:
        self._server = await asyncio.start_server(self._serve, self.host, self.port)
        self.port = self._server.sockets[0].getsockname()[1]
        log.info("http: serving /healthz and /metrics on %s:%d", self.host, self.port)
        return self

    async def __aexit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        tb: TracebackType | None,
    ) -> None:
        if self._server is not None:
            self._server.close()
            with contextlib.suppress(TimeoutError):
                await asyncio.wait_for(self._server.wait_closed(), 5)
            self._server = None

    async def _serve(self, reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        conn = h11.Connection(h11.SERVER, max_incomplete_event_size=MAX_HEADER_BYTES)
        try:
            request = await asyncio.wait_for(_read_request(conn, reader), READ_TIMEOUT_SECONDS)
            if request is not None:
                status, content_type, body = self._answer(request)
                headers = [
                    ("content-type", content_type),
                    ("content-length", str(len(body))),
                    ("cache-control", "no-store"),
                    ("connection", "close"),
                ]
                reason = HTTPStatus(status).phrase.encode()
                response = h11.Response(status_code=status, headers=headers, reason=reason)
                writer.write(conn.send(response))
                if request.method != b"HEAD":
                    writer.write(conn.send(h11.Data(data=body)))
                writer.write(conn.send(h11.EndOfMessage()))
                await writer.drain()
        except (TimeoutError, h11.RemoteProtocolError, ConnectionError) as exc:
            log.debug("http: dropped a client connection (%s)", type(exc).__name__)
        finally:
            writer.close()
            with contextlib.suppress(ConnectionError):
                await writer.wait_closed()

    def _answer(self, request: h11.Request) -> tuple[int, str, bytes]:
        path = request.target.split(b"?", 1)[0]
        if request.method not in (b"GET", b"HEAD"):
            return 405, "text/plain; charset=utf-8", b"only GET and HEAD\n"
        if path == b"/healthz":
            ok, reason = self._health()
            body = json.dumps(reason, sort_keys=True).encode() + b"\n"
            return (200 if ok else 503), "application/json", body
        if path == b"/metrics":
            accept = dict(request.headers).get(b"accept", b"").decode("latin-1")
            body, content_type = self._metrics.exposition(accept)
            return 200, content_type, body
        return 404, "text/plain; charset=utf-8", b"not found: try /healthz or /metrics\n"


async def _read_request(conn: h11.Connection, reader: asyncio.StreamReader) -> h11.Request | None:
    """The request head, or None when the client closed before sending one."""
    while True:
        event = conn.next_event()
        if isinstance(event, h11.Request):
            return event
        if isinstance(event, h11.ConnectionClosed):
            return None
        if event is h11.NEED_DATA:
            conn.receive_data(await reader.read(4096))

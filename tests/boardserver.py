"""A tiny HTTP/1.1 server on 127.0.0.1 for the fetch and source tests and the benchmarks.

Each route answers with a status, headers and a body; it can also delay, hang (accept and never
answer), stream a huge body, honour ETags, or compute the answer from the request. Every
response closes its connection, which keeps the server simple and the accounting exact.
"""

from __future__ import annotations

import asyncio
import contextlib
from collections.abc import AsyncIterator, Awaitable, Callable
from dataclasses import dataclass, field
from typing import ClassVar
from urllib.parse import urlsplit

REASONS = {
    200: "OK",
    301: "Moved Permanently",
    302: "Found",
    304: "Not Modified",
    404: "Not Found",
    429: "Too Many Requests",
    500: "Internal Server Error",
    503: "Service Unavailable",
}


@dataclass
class Request:
    method: str
    target: str  # path and query, as sent
    headers: dict[str, str]  # lower-cased names
    body: bytes
    port: int

    @property
    def path(self) -> str:
        return urlsplit(self.target).path


@dataclass
class Reply:
    status: int = 200
    body: bytes = b""
    headers: dict[str, str] = field(default_factory=dict)


@dataclass
class Route:
    status: int = 200
    body: bytes = b""
    headers: dict[str, str] = field(default_factory=dict)
    delay: float = 0.0  # seconds before answering
    hang: bool = False  # read the request, then never answer
    etag: str | None = None  # answer 304 to a matching If-None-Match
    stream_chunks: int = 0  # send `body` this many times, chunked, without a Content-Length
    handler: Callable[[Request], Reply | Awaitable[Reply]] | None = None


class BoardServer:
    """Routes by exact target (path + query) first, then by path; 404 otherwise."""

    # The origin of every port any BoardServer listened on: the test fetcher treats them as
    # configured sources (tests.fetchkit.fetcher), as the daemon does the origins in its config.
    started: ClassVar[set[str]] = set()

    def __init__(self, ports: int = 1) -> None:
        self.routes: dict[str, Route] = {}
        self.requests: list[Request] = []
        self.in_flight: dict[int, int] = {}
        self.max_in_flight: dict[int, int] = {}
        self.max_total_in_flight = 0
        self._total = 0
        self._servers: list[asyncio.Server] = []
        self._ports_wanted = ports
        self.ports: list[int] = []
        self.bytes_sent = 0
        self._writers: set[asyncio.StreamWriter] = set()

    async def __aenter__(self) -> BoardServer:
        for _ in range(self._ports_wanted):
            server = await asyncio.start_server(self._serve, "127.0.0.1", 0)
            self._servers.append(server)
            self.ports.append(server.sockets[0].getsockname()[1])
            BoardServer.started.add(self.url("", len(self.ports) - 1))
        return self

    async def __aexit__(self, *exc: object) -> None:
        for writer in list(self._writers):
            writer.close()
        for server in self._servers:
            server.close()
        for server in self._servers:
            with contextlib.suppress(Exception):
                await asyncio.wait_for(server.wait_closed(), 2)

    def url(self, target: str = "/", port_index: int = 0) -> str:
        return f"http://127.0.0.1:{self.ports[port_index]}{target}"

    def add(self, target: str, route: Route | None = None, **kwargs: object) -> Route:
        route = route or Route(**kwargs)  # type: ignore[arg-type]
        self.routes[target] = route
        return route

    def hits(self, path: str) -> int:
        return sum(1 for r in self.requests if r.target == path or r.path == path)

    async def _serve(self, reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        self._writers.add(writer)
        port = writer.get_extra_info("sockname")[1]
        try:
            request = await self._read(reader, port)
            if request is None:
                return
            self.requests.append(request)
            self.in_flight[port] = self.in_flight.get(port, 0) + 1
            self._total += 1
            self.max_in_flight[port] = max(self.max_in_flight.get(port, 0), self.in_flight[port])
            self.max_total_in_flight = max(self.max_total_in_flight, self._total)
            try:
                await self._answer(request, writer)
            finally:
                self.in_flight[port] -= 1
                self._total -= 1
        except (ConnectionError, asyncio.IncompleteReadError):
            pass
        finally:
            self._writers.discard(writer)
            writer.close()
            with contextlib.suppress(Exception):
                await writer.wait_closed()

    async def _read(self, reader: asyncio.StreamReader, port: int) -> Request | None:
        head = await reader.readuntil(b"\r\n\r\n")
        lines = head.decode("latin-1").split("\r\n")
        method, target, _ = lines[0].split(" ", 2)
        headers = {}
        for line in lines[1:]:
            if ":" in line:
                name, _, value = line.partition(":")
                headers[name.strip().lower()] = value.strip()
        length = int(headers.get("content-length", "0") or 0)
        body = await reader.readexactly(length) if length else b""
        return Request(method, target, headers, body, port)

    async def _answer(self, request: Request, writer: asyncio.StreamWriter) -> None:
        route = self.routes.get(request.target) or self.routes.get(request.path)
        if route is None:
            await self._send(writer, Reply(404, b"not found", {"Content-Type": "text/plain"}))
            return
        if route.hang:
            await asyncio.sleep(3600)
            return
        if route.delay:
            await asyncio.sleep(route.delay)
        if route.handler is not None:
            reply = route.handler(request)
            if not isinstance(reply, Reply):
                reply = await reply
            await self._send(writer, reply)
            return
        headers = dict(route.headers)
        if route.etag is not None:
            headers["ETag"] = route.etag
            if request.headers.get("if-none-match") == route.etag:
                await self._send(writer, Reply(304, b"", headers))
                return
        if route.stream_chunks:
            await self._stream(writer, route, headers)
            return
        await self._send(writer, Reply(route.status, route.body, headers))

    async def _send(self, writer: asyncio.StreamWriter, reply: Reply) -> None:
        headers = {"Content-Length": str(len(reply.body)), "Connection": "close"}
        headers.update(reply.headers)
        head = f"HTTP/1.1 {reply.status} {REASONS.get(reply.status, 'Status')}\r\n"
        head += "".join(f"{k}: {v}\r\n" for k, v in headers.items()) + "\r\n"
        writer.write(head.encode("latin-1") + reply.body)
        self.bytes_sent += len(reply.body)
        await writer.drain()

    async def _stream(
        self, writer: asyncio.StreamWriter, route: Route, headers: dict[str, str]
    ) -> None:
        head = f"HTTP/1.1 {route.status} OK\r\nTransfer-Encoding: chunked\r\nConnection: close\r\n"
        head += "".join(f"{k}: {v}\r\n" for k, v in headers.items()) + "\r\n"
        writer.write(head.encode("latin-1"))
        for _ in range(route.stream_chunks):
            writer.write(f"{len(route.body):x}\r\n".encode() + route.body + b"\r\n")
            self.bytes_sent += len(route.body)
            await writer.drain()
        writer.write(b"0\r\n\r\n")
        await writer.drain()


@contextlib.asynccontextmanager
async def serve(ports: int = 1) -> AsyncIterator[BoardServer]:
    async with BoardServer(ports) as server:
        yield server

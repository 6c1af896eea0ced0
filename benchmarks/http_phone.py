"""A phone's HTTP/1.1 connection for the ballot route: keep-alive, JSON, no dependency.

A browser that has loaded the page holds a keep-alive connection to the server, so the
ballot's POST reuses it; this does the same (one connection per phone, opened before the
burst, reopened if the server or proxy closed it).
"""

from __future__ import annotations

import asyncio
import contextlib
import json
import time
from dataclasses import dataclass
from typing import Any
from urllib.parse import urlsplit


@dataclass
class Reply:
    status: int  # 0: no HTTP answer at all (connection refused / reset)
    body: dict[str, Any]
    seconds: float
    cookies: dict[str, str]


class HttpPhone:
    def __init__(self, base_url: str, origin: str | None = None) -> None:
        parts = urlsplit(base_url)
        self.host = parts.hostname or "127.0.0.1"
        self.port = parts.port or 80
        self.netloc = parts.netloc
        self.origin = origin or f"{parts.scheme}://{parts.netloc}"
        self.cookies: dict[str, str] = {}
        self._reader: asyncio.StreamReader | None = None
        self._writer: asyncio.StreamWriter | None = None

    async def open(self) -> None:
        self._reader, self._writer = await asyncio.open_connection(self.host, self.port)

    async def close(self) -> None:
        if self._writer is not None:
            self._writer.close()
            with contextlib.suppress(Exception):
                await self._writer.wait_closed()
        self._reader = self._writer = None

    async def post_json(self, path: str, body: dict[str, Any], timeout: float = 60.0) -> Reply:
        start = time.perf_counter()
        try:
            return await asyncio.wait_for(self._post(path, body, start), timeout)
        except (OSError, asyncio.IncompleteReadError, TimeoutError, ValueError) as exc:
            await self.close()
            return Reply(0, {"error": type(exc).__name__}, time.perf_counter() - start, {})

    async def _post(self, path: str, body: dict[str, Any], start: float) -> Reply:
        for attempt in (0, 1):  # a keep-alive connection the server closed: reopen once
            if self._writer is None:
                await self.open()
            assert self._reader is not None and self._writer is not None
            payload = json.dumps(body).encode()
            cookie = "; ".join(f"{k}={v}" for k, v in self.cookies.items())
            head = (
                f"POST {path} HTTP/1.1\r\nHost: {self.netloc}\r\nOrigin: {self.origin}\r\n"
                f"Content-Type: application/json\r\nContent-Length: {len(payload)}\r\n"
                + (f"Cookie: {cookie}\r\n" if cookie else "")
                + "\r\n"
            )
            try:
                self._writer.write(head.encode() + payload)
                await self._writer.drain()
                status_line = await self._reader.readline()
                if not status_line:
                    raise ConnectionResetError("closed before answering")
            except (ConnectionResetError, BrokenPipeError):
                await self.close()
                if attempt:
                    raise
                continue
            return await self._read_rest(status_line, start)
        raise ConnectionResetError("unreachable")

    async def _read_rest(self, status_line: bytes, start: float) -> Reply:
        assert self._reader is not None
        status = int(status_line.split()[1])
        headers: dict[str, str] = {}
        got: dict[str, str] = {}
        while (line := await self._reader.readline()) not in (b"\r\n", b"\n", b""):
            name, _, value = line.decode("latin-1").partition(":")
            name, value = name.strip().lower(), value.strip()
            headers[name] = value
            if name == "set-cookie":
                k, _, v = value.split(";")[0].partition("=")
                got[k.strip()] = v.strip()
        if headers.get("transfer-encoding", "").lower() == "chunked":
            raw = b""
            while (size := int((await self._reader.readline()).strip() or b"0", 16)) > 0:
                raw += await self._reader.readexactly(size)
                await self._reader.readline()
            await self._reader.readline()
        else:
            raw = await self._reader.readexactly(int(headers.get("content-length", "0")))
        if headers.get("connection", "").lower() == "close":
            await self.close()
        seconds = time.perf_counter() - start
        try:
            parsed = json.loads(raw) if raw else {}
        except ValueError:
            parsed = {"error": f"not JSON ({status})"}
        return Reply(status, parsed if isinstance(parsed, dict) else {}, seconds, got)

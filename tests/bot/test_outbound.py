"""The api's outbound client: httpx's API on aiohttp, with "never sent" kept apart from "sent,
no answer" (WeChatAPI repeats only the first)."""

from __future__ import annotations

import asyncio
import json
from collections.abc import Awaitable, Callable

import httpx
import pytest

from bot import outbound


async def _with_server(
    handle: Callable[[asyncio.StreamReader, asyncio.StreamWriter], Awaitable[None]],
    request: Callable[[str], Awaitable[httpx.Response]],
) -> httpx.Response:
    server = await asyncio.start_server(handle, "127.0.0.1", 0)
    port = server.sockets[0].getsockname()[1]
    async with server:
        return await request(f"http://127.0.0.1:{port}/cgi-bin/message/custom/send")


async def _read_request(reader: asyncio.StreamReader) -> bytes:
    head = await reader.readuntil(b"\r\n\r\n")
    length = next(
        int(line.split(b":")[1])
        for line in head.split(b"\r\n")
        if line.lower().startswith(b"content-length")
    )
    return head + await reader.readexactly(length)


def test_requests_and_answers_pass_through() -> None:
    seen: list[bytes] = []

    async def handle(reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        seen.append(await _read_request(reader))
        body = b'{"errcode":0,"msgid":7}'
        writer.write(b"HTTP/1.1 200 OK\r\nContent-Length: %d\r\n\r\n%s" % (len(body), body))
        await writer.drain()

    async def go() -> httpx.Response:
        async with outbound.client() as http:
            return await _with_server(
                handle, lambda url: http.post(url, params={"access_token": "T"}, json={"a": 1})
            )

    response = asyncio.run(go())
    assert response.json() == {"errcode": 0, "msgid": 7}
    assert seen[0].startswith(b"POST /cgi-bin/message/custom/send?access_token=T HTTP/1.1")
    assert json.loads(seen[0].split(b"\r\n\r\n", 1)[1]) == {"a": 1}


def test_a_server_that_hangs_up_after_the_request_is_not_never_sent() -> None:
    async def handle(reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        await _read_request(reader)  # the request arrived; no answer comes back
        writer.close()

    async def go() -> None:
        async with outbound.client() as http:
            await _with_server(handle, lambda url: http.post(url, json={"a": 1}, timeout=5))

    with pytest.raises(httpx.HTTPError) as err:
        asyncio.run(go())
    # httpx-aiohttp alone says ConnectTimeout here, which callers take for "never sent".
    assert not isinstance(err.value, (httpx.ConnectError, httpx.ConnectTimeout))
    assert isinstance(err.value, httpx.ReadError)


def test_no_server_is_a_connect_error_never_sent() -> None:
    async def go() -> None:
        async with outbound.client() as http:
            await http.post("http://127.0.0.1:9/cgi-bin/message/custom/send", json={}, timeout=5)

    with pytest.raises((httpx.ConnectError, httpx.ConnectTimeout)):
        asyncio.run(go())

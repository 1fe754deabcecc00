"""The api's one HTTP client for its outbound calls (Rasa's webhook, the WeChat API).

httpx's API on aiohttp's connection pool (httpx-aiohttp): httpcore's pool scans every pooled
connection for each request and costs 2-4 ms of CPU per request with 16-64 requests at once,
aiohttp's about 0.6 ms whatever the concurrency (measured on the bench machine).
"""

from __future__ import annotations

import aiohttp
import httpx
from httpx_aiohttp import AiohttpTransport

# Every connection is kept open: Rasa gets TURNS_AT_ONCE per server, the rest goes to WeChat.
CONNECTIONS = 64
# An idle connection is dropped before a server with uvicorn's default (5 s) drops it: a request
# sent on a connection the server is closing fails as "may have arrived", and is not repeated.
IDLE_SECONDS = 4.0


class Transport(AiohttpTransport):
    """httpx-aiohttp reports every aiohttp connection error as httpx.ConnectTimeout, a server
    that hung up after the request went out included. Callers read ConnectTimeout as "never
    sent" and repeat the request; here only a failure to connect (or to get a connection in
    time) stays one, and the rest becomes httpx.ReadError: the request may have arrived."""

    async def handle_async_request(self, request: httpx.Request) -> httpx.Response:
        try:
            return await super().handle_async_request(request)
        except httpx.ConnectTimeout as exc:
            never_sent = (aiohttp.ClientConnectorError, aiohttp.ConnectionTimeoutError)
            if exc.__cause__ is None or isinstance(exc.__cause__, never_sent):
                raise
            raise httpx.ReadError(str(exc), request=request) from exc.__cause__


def client() -> httpx.AsyncClient:
    """A client for the calls of one event loop (open it inside the loop that uses it)."""
    limits = httpx.Limits(
        max_connections=CONNECTIONS,
        max_keepalive_connections=CONNECTIONS,
        keepalive_expiry=IDLE_SECONDS,
    )
    return httpx.AsyncClient(transport=Transport(limits=limits))

"""The baseline: a bare FastAPI route that reads the body and answers `success`."""

from fastapi import FastAPI, Request
from fastapi.responses import PlainTextResponse

app = FastAPI()


@app.post("/wechat/oa")
async def bare(request: Request) -> PlainTextResponse:
    """Read the body, answer like the callback's cheapest path."""
    await request.body()
    return PlainTextResponse("success")

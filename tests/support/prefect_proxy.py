"""An HTTP proxy in front of the test Prefect server that can fail or hold run creation.

Every request is forwarded unchanged, except ``POST .../create_flow_run``: while
``create_answers`` holds statuses, each such request is answered with the next one and
not forwarded (``None`` forwards it); while ``hold_creates`` is set, the request is
forwarded (so the run exists) and its answer withheld until the connection is dropped,
with ``create_held`` set.
"""

from __future__ import annotations

import asyncio
import contextlib
from collections.abc import AsyncIterator
from dataclasses import dataclass, field

import httpx
import uvicorn
from starlette.requests import Request
from starlette.responses import Response

from tests.support.processes import free_port

HOP_HEADERS = {"host", "content-length", "connection", "transfer-encoding", "keep-alive"}


@dataclass
class PrefectProxy:
    target: str
    """The Prefect API URL requests go to (``.../api``)."""
    port: int = field(default_factory=free_port)
    create_answers: list[int | None] = field(default_factory=list)
    """Answers for the next create requests; ``None`` forwards that one to Prefect."""
    hold_creates: bool = False
    create_held: asyncio.Event = field(default_factory=asyncio.Event)
    creates_answered: list[int] = field(default_factory=list)
    """The status each create request was answered with, in order."""

    @property
    def api_url(self) -> str:
        return f"http://127.0.0.1:{self.port}/api"

    async def __call__(self, scope: dict, receive, send) -> None:  # type: ignore[no-untyped-def,type-arg]
        if scope["type"] != "http":
            return
        request = Request(scope, receive)
        response = await self._answer(request)
        await response(scope, receive, send)

    async def _answer(self, request: Request) -> Response:
        path = request.url.path.removeprefix("/api")
        creating = request.method == "POST" and path.endswith("/create_flow_run")
        status = self.create_answers.pop(0) if creating and self.create_answers else None
        if status is not None:
            self.creates_answered.append(status)
            return Response(b'{"detail": "injected"}', status, media_type="application/json")
        headers = {k: v for k, v in request.headers.items() if k.lower() not in HOP_HEADERS}
        async with httpx.AsyncClient(trust_env=False, timeout=60) as client:
            upstream = await client.request(
                request.method,
                self.target + path,
                params=request.query_params,
                headers=headers,
                content=await request.body(),
            )
        if creating:
            self.creates_answered.append(upstream.status_code)
            if self.hold_creates:
                self.create_held.set()
                await asyncio.Event().wait()  # until the caller goes away
        kept = {k: v for k, v in upstream.headers.items() if k.lower() not in HOP_HEADERS}
        kept.pop("content-encoding", None)
        return Response(upstream.content, upstream.status_code, headers=kept)


@contextlib.asynccontextmanager
async def running_proxy(target: str) -> AsyncIterator[PrefectProxy]:
    proxy = PrefectProxy(target.rstrip("/"))
    config = uvicorn.Config(
        proxy, host="127.0.0.1", port=proxy.port, log_level="warning", lifespan="off"
    )
    server = uvicorn.Server(config)
    task = asyncio.create_task(server.serve())
    while not server.started:
        if task.done():
            task.result()
        await asyncio.sleep(0.01)
    try:
        yield proxy
    finally:
        server.should_exit = True
        server.force_exit = True
        with contextlib.suppress(asyncio.CancelledError, TimeoutError):
            await asyncio.wait_for(task, 10)

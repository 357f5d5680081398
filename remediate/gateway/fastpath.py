"""Intake requests go straight to their handler, past routing and dependency resolution.

The handlers run the very intake path the FastAPI routes declare (so the OpenAPI document
still describes them); only the layers between the server and the handler are skipped for
``POST`` to an intake path. Everything else goes through the application unchanged.
"""

from __future__ import annotations

from collections.abc import Awaitable, Callable
from typing import Any

from starlette.requests import Request
from starlette.responses import Response
from starlette.types import ASGIApp, Receive, Scope, Send

Handler = Callable[[Request], Awaitable[Response]]
Refusal = Callable[[Request, Any], Awaitable[Response]]


class IntakeFastPath:
    def __init__(
        self,
        app: ASGIApp,
        handlers: dict[str, Handler],
        dispatch: Handler,
        refused: type[Exception],
        on_refused: Refusal,
    ) -> None:
        self.app = app
        self.handlers = handlers
        self.dispatch = dispatch
        self.refused = refused
        self.on_refused = on_refused

    def _handler(self, path: str) -> Handler | None:
        handler = self.handlers.get(path)
        if handler is not None:
            return handler
        parts = path.split("/")
        if len(parts) == 5 and parts[1] == "repos" and parts[4] == "dispatches":
            owner, repo = parts[2], parts[3]
            if owner and repo:
                return self.dispatch
        return None

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] == "http" and scope["method"] == "POST":
            handler = self._handler(scope["path"])
            if handler is not None:
                request = Request(scope, receive)
                try:
                    response = await handler(request)
                except self.refused as exc:
                    response = await self.on_refused(request, exc)
                await response(scope, receive, send)
                return
        await self.app(scope, receive, send)

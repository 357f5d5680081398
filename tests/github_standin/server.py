"""The stand-in served by uvicorn on 127.0.0.1, with its state and recorded violations."""

from __future__ import annotations

import asyncio
import hashlib
import json
import socket
import threading
import time
from collections.abc import Callable
from datetime import datetime
from typing import Any

import uvicorn
from starlette.requests import Request
from starlette.responses import Response
from starlette.types import Receive, Scope, Send

from tests.github_standin import resources
from tests.github_standin.api import Call, GitHubApi, Refused, Reply, parse_json
from tests.github_standin.faults import Faults
from tests.github_standin.resources import Urls
from tests.github_standin.state import (
    Comment,
    Deployment,
    DeploymentStatus,
    Issue,
    Repo,
    State,
    now,
)
from tests.github_standin.validation import Validator, Violation

API_PREFIX = "/api/v3"


class StandInApp:
    """ASGI app: authenticate, dispatch, then validate the request and the response."""

    def __init__(self, api: GitHubApi, token: str, validator: Validator) -> None:
        self.api = api
        self.token = token
        self.validator = validator
        self.requests: list[tuple[str, str, str]] = []
        self.hooks: list[tuple[str, str, Callable[[], None]]] = []
        self.after_hooks: list[tuple[str, str, Callable[[], None]]] = []
        self.faults = Faults()

    def _run_hooks(
        self, hooks: list[tuple[str, str, Callable[[], None]]], method: str, raw_path: str
    ) -> None:
        for hook in list(hooks):
            hook_method, hook_path, action = hook
            if (hook_method, API_PREFIX + hook_path) == (method, raw_path):
                hooks.remove(hook)
                action()

    def _authorised(self, header: str | None) -> Reply | None:
        if not header:
            return Reply(401, resources.error(401, "Requires authentication"))
        scheme, _, value = header.partition(" ")
        if scheme.lower() not in ("token", "bearer") or value.strip() != self.token:
            return Reply(401, resources.error(401, "Bad credentials"))
        return None

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http":
            return
        request = Request(scope, receive)
        raw = await request.body()
        method = request.method.upper()
        raw_path = scope.get("raw_path", scope["path"].encode()).decode("latin-1")
        raw_path = raw_path.split("?", 1)[0]
        query = list(request.query_params.multi_items())
        self.requests.append((method, raw_path, scope["query_string"].decode("latin-1")))
        self._run_hooks(self.hooks, method, raw_path)

        authorised = self._authorised(request.headers.get("authorization")) is None
        fault = self.faults.take(method, raw_path.removeprefix(API_PREFIX), authorised)
        if fault is None or fault.applied:
            try:
                reply = self._dispatch(method, scope["path"], raw_path, query, raw, request)
            except Exception as exc:
                self.validator.record(method, raw_path, f"stand-in failed: {exc!r}")
                reply = Reply(500, resources.error(500, "Server Error"))
        if fault is not None:
            reply = fault.reply
        self._run_hooks(self.after_hooks, method, raw_path)
        payload = b"" if reply.body is None else json.dumps(reply.body).encode()
        headers = {"content-type": "application/json; charset=utf-8", **reply.headers}
        if raw_path.startswith(API_PREFIX + "/"):
            self.validator.check(
                method=method,
                path=raw_path[len(API_PREFIX) :],
                query=query,
                headers={k.lower(): v for k, v in request.headers.items()},
                body=raw,
                status=reply.status,
                response_headers=headers,
                response_body=payload,
            )
        else:
            self.validator.record(method, raw_path, f"outside the API prefix {API_PREFIX}")
        response = Response(payload, status_code=reply.status, headers=headers)
        await response(scope, receive, send)

    def _dispatch(
        self,
        method: str,
        path: str,
        raw_path: str,
        query: list[tuple[str, str]],
        raw: bytes,
        request: Request,
    ) -> Reply:
        refused = self._authorised(request.headers.get("authorization"))
        if refused is not None:
            return refused
        if not path.startswith(API_PREFIX + "/"):
            return Reply(404, resources.error(404, "Not Found"))
        try:
            body = parse_json(raw)
        except Refused as exc:
            return exc.reply
        url = f"{self.api.urls.api}{raw_path[len(API_PREFIX) :]}"
        call = Call(params={}, query=query, body=body, url=url)
        return self.api.handle(method, raw_path[len(API_PREFIX) :], call)


class GitHubStandIn:
    """A running stand-in. ``base_url`` ends in ``/api/v3`` like GitHub Enterprise."""

    def __init__(self, token: str = "ghs_standin_token", user: str = "remediate-bot") -> None:
        self.token = token
        self.state = State(token_owner=user)
        self.validator = Validator()
        self._socket = socket.socket(socket.AF_INET, socket.SOCK_STREAM)
        self._socket.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
        self._socket.setsockopt(socket.IPPROTO_TCP, socket.TCP_NODELAY, 1)
        self._socket.bind(("127.0.0.1", 0))
        port = self._socket.getsockname()[1]
        self.html_url = f"http://127.0.0.1:{port}"
        self.base_url = f"{self.html_url}{API_PREFIX}"
        self.app = StandInApp(
            GitHubApi(self.state, Urls(api=self.base_url, html=self.html_url)),
            token,
            self.validator,
        )
        config = uvicorn.Config(
            self.app, log_level="warning", lifespan="off", access_log=False, loop="asyncio"
        )
        self._server = uvicorn.Server(config)
        self._thread = threading.Thread(target=self._serve, name="github-standin", daemon=True)

    def _serve(self) -> None:
        asyncio.run(self._server.serve(sockets=[self._socket]))

    def start(self) -> GitHubStandIn:
        self._thread.start()
        deadline = time.monotonic() + 10
        while not self._server.started:
            if not self._thread.is_alive() or time.monotonic() > deadline:
                raise RuntimeError("GitHub stand-in did not start")
            time.sleep(0.01)
        return self

    def stop(self) -> None:
        self._server.should_exit = True
        self._thread.join(timeout=10)
        self._socket.close()

    @property
    def violations(self) -> list[Violation]:
        return list(self.validator.violations)

    @property
    def requests(self) -> list[tuple[str, str, str]]:
        """Every request received: method, raw path, query string."""
        return list(self.app.requests)

    def add_repo(self, full_name: str, default_branch: str = "main", sha: str = "0" * 40) -> Repo:
        owner, _, name = full_name.partition("/")
        return self.state.add_repo(owner, name, default_branch, sha)

    def add_branch(self, full_name: str, name: str, sha: str) -> None:
        with self.state.lock:
            self.repo(full_name).branches[name] = sha

    def repo(self, full_name: str) -> Repo:
        owner, _, name = full_name.partition("/")
        found = self.state.repo(owner, name)
        if found is None:
            raise KeyError(f"no repository {full_name} in the stand-in")
        return found

    def issues(self, full_name: str) -> list[Issue]:
        """Issues proper, without pull requests, in number order."""
        with self.state.lock:
            repo = self.repo(full_name)
            return [repo.issues[n] for n in sorted(repo.issues) if repo.issues[n].pull is None]

    def pulls(self, full_name: str) -> list[Issue]:
        with self.state.lock:
            repo = self.repo(full_name)
            return [repo.issues[n] for n in sorted(repo.issues) if repo.issues[n].pull]

    def set_role(self, full_name: str, login: str, role: str) -> None:
        """``login``'s role on the repository (admin, maintain, write, triage, read)."""
        with self.state.lock:
            self.repo(full_name).roles[login] = role

    def add_comment(self, full_name: str, number: int, body: str, author: str = "octocat") -> None:
        """Comment on an issue as a person would have."""
        with self.state.lock:
            issue = self.repo(full_name).issues[number]
            stamp = now()
            issue.comments.append(Comment(self.state.new_id(), body, author, stamp, stamp))

    def before_next(self, method: str, path: str, action: Callable[[], None]) -> None:
        """Run ``action`` once, just before the next ``method path`` request is handled
        (``path`` without the ``/api/v3`` prefix); for changes made by another client."""
        self.app.hooks.append((method.upper(), path, action))

    def after_next(self, method: str, path: str, action: Callable[[], None]) -> None:
        """Run ``action`` once, after the next ``method path`` request was handled and before
        its answer is sent (the change is made; the client has not heard of it yet)."""
        self.app.after_hooks.append((method.upper(), path, action))

    @property
    def faults(self) -> Faults:
        """Answers to inject instead of handling requests (``tests/github_standin/faults.py``)."""
        return self.app.faults

    def create_issue(
        self, full_name: str, title: str, body: str, labels: list[str], author: str | None = None
    ) -> Issue:
        """Open an issue as another client would have (as the token's owner by default)."""
        with self.state.lock:
            repo = self.repo(full_name)
            stamp = now()
            issue = Issue(
                id=self.state.new_id(),
                number=repo.next_number(),
                title=title,
                body=body,
                author=author or self.state.token_owner,
                created_at=stamp,
                updated_at=stamp,
                labels=[self.state.ensure_label(repo, name).name for name in labels],
            )
            repo.issues[issue.number] = issue
            return issue

    def close_issue(self, full_name: str, number: int, at: datetime) -> None:
        """Close an issue as a person would have, at a chosen time."""
        with self.state.lock:
            issue = self.repo(full_name).issues[number]
            issue.state, issue.state_reason = "closed", "completed"
            issue.closed_at, issue.updated_at = at, at
            issue.closed_by = self.state.token_owner

    def add_deployment(
        self,
        full_name: str,
        ref: str,
        environment: str = "production",
        sha: str | None = None,
        at: datetime | None = None,
    ) -> Deployment:
        """A deployment created by a CI system at ``at``, without statuses yet."""
        with self.state.lock:
            repo = self.repo(full_name)
            item = Deployment(
                id=self.state.new_id(),
                ref=ref,
                sha=sha or hashlib.sha1(ref.encode()).hexdigest(),
                environment=environment,
                created_at=at or now(),
                creator="deploy-bot",
            )
            repo.deployments[item.id] = item
            return item

    def add_deployment_status(
        self, full_name: str, deployment_id: int, state: str, at: datetime | None = None
    ) -> None:
        """A status the CI system reported for a deployment at ``at``."""
        with self.state.lock:
            item = self.repo(full_name).deployments[deployment_id]
            item.statuses.append(DeploymentStatus(self.state.new_id(), state, at or now()))

    def __enter__(self) -> GitHubStandIn:
        return self.start()

    def __exit__(self, *exc: Any) -> None:
        self.stop()

"""A real SCIM 2.0 server for the platform tests: scim2-server's own WSGI application on a loopback port.

In front of it sits a small WSGI layer that checks credentials (scim2-server leaves that to its host) and can be told
to answer the next matching requests with a fault: an HTTP status (with Retry-After), or a delay longer than the
client's timeout. Everything else reaches the real server.
"""

from __future__ import annotations

import base64
import json
import re
import threading
import time
from collections.abc import Callable, Iterable, Iterator, Mapping
from contextlib import contextmanager
from dataclasses import dataclass, field
from socketserver import ThreadingMixIn
from typing import Any
from urllib.parse import unquote_plus
from wsgiref.simple_server import WSGIRequestHandler, WSGIServer, make_server

import httpx
from scim2_models import Schema, ScimProvider
from scim2_server.applications.wsgi import WSGIApplication
from scim2_server.memory import InMemoryStorage
from scim2_server.service import ScimService
from scim2_server.utils import (
    load_default_resource_types,
    load_default_schemas,
    load_default_service_provider_config,
)

HEAP_EXTENSION = "urn:ietf:params:scim:schemas:extension:heap:2.0:User"


@dataclass
class Fault:
    method: str
    path: str  # a regular expression matched against the path
    status: int | None = 500  # None: the real server answers (after `delay`)
    headers: dict[str, str] = field(default_factory=dict)
    delay: float = 0.0
    times: int = 1
    # Delay after the real server has done the work: the change is made but the answer comes too late.
    late: bool = False
    query: str | None = None  # a regular expression matched against the decoded query string, if given
    scim_type: str | None = None  # the SCIM error type in the answer
    body: bytes | None = None  # answer this instead of a SCIM error (with `content_type`)
    content_type: str = "text/html"
    trickle: float = 0.0  # send `body` one byte at a time, this many seconds apart
    endless: bool = False  # trickle `body` over and over, until the server stops


class _ThreadingServer(ThreadingMixIn, WSGIServer):
    daemon_threads = True


class _Quiet(WSGIRequestHandler):
    def log_request(self, code: int | str = "-", size: int | str = "-") -> None:
        pass


def provider(*, heap_extension: bool = False) -> ScimProvider:
    schemas = list(load_default_schemas().values())
    resource_types = list(load_default_resource_types().values())
    if heap_extension:
        schemas.append(
            Schema.model_validate(
                {
                    "id": HEAP_EXTENSION,
                    "name": "HeapUser",
                    "description": "Heap account role",
                    "attributes": [
                        {
                            "name": "role",
                            "type": "string",
                            "multiValued": False,
                            "required": False,
                            "caseExact": False,
                            "mutability": "readWrite",
                            "returned": "default",
                            "uniqueness": "none",
                        }
                    ],
                }
            )
        )
        user_type = next(rt for rt in resource_types if rt.id == "User")
        user_type.schema_extensions = [
            *(user_type.schema_extensions or []),
            {"schema": HEAP_EXTENSION, "required": False},
        ]
    return ScimProvider.from_discovery(schemas, resource_types, load_default_service_provider_config())


class ScimServer:
    def __init__(
        self,
        *,
        token: str | None = "scim-test-token",
        basic: tuple[str, str] | None = None,
        heap_extension: bool = False,
    ) -> None:
        scim = provider(heap_extension=heap_extension)
        self.app = WSGIApplication(InMemoryStorage(), scim, ScimService(scim))
        self.token = token
        self.basic = basic
        self.faults: list[Fault] = []
        self.requests: list[tuple[str, str]] = []
        self.if_match: list[tuple[str, str, str | None]] = []  # (method, path, If-Match) of every write
        self._lock = threading.Lock()
        self._stopped = threading.Event()
        self._server: WSGIServer | None = None

    # -- running -----------------------------------------------------------------------------------------------

    def start(self) -> ScimServer:
        self._server = make_server("127.0.0.1", 0, self._wsgi, server_class=_ThreadingServer, handler_class=_Quiet)
        threading.Thread(target=self._server.serve_forever, daemon=True).start()
        return self

    def stop(self) -> None:
        self._stopped.set()
        if self._server is not None:
            self._server.shutdown()
            self._server.server_close()

    @property
    def url(self) -> str:
        assert self._server is not None
        return f"http://127.0.0.1:{self._server.server_port}/v2/"

    def fail(
        self,
        method: str,
        path: str,
        status: int | None = 500,
        *,
        times: int = 1,
        delay: float = 0.0,
        headers: dict[str, str] | None = None,
        late: bool = False,
        query: str | None = None,
        scim_type: str | None = None,
        body: bytes | None = None,
        content_type: str = "text/html",
        trickle: float = 0.0,
        endless: bool = False,
    ) -> None:
        with self._lock:
            self.faults.append(
                Fault(
                    method,
                    path,
                    status,
                    headers or {},
                    delay,
                    times,
                    late,
                    query,
                    scim_type,
                    body,
                    content_type,
                    trickle,
                    endless,
                )
            )

    def count(self, method: str, path: str = ".*") -> int:
        with self._lock:
            return sum(1 for m, p in self.requests if m == method and re.search(path, p))

    # -- direct access, for setting scenes -----------------------------------------------------------------------

    def admin(self) -> httpx.Client:
        headers = {"Authorization": f"Bearer {self.token}"} if self.token else {}
        auth = httpx.BasicAuth(*self.basic) if self.basic else None
        return httpx.Client(base_url=self.url, headers=headers, auth=auth)

    def create_group(self, name: str) -> str:
        with self.admin() as client:
            response = client.post(
                "Groups", json={"schemas": ["urn:ietf:params:scim:schemas:core:2.0:Group"], "displayName": name}
            )
            response.raise_for_status()
            return str(response.json()["id"])

    def create_user(self, email: str, **attributes: Any) -> str:
        body = {
            "schemas": ["urn:ietf:params:scim:schemas:core:2.0:User"],
            "userName": email,
            "active": True,
            **attributes,
        }
        if HEAP_EXTENSION in attributes:
            body["schemas"].append(HEAP_EXTENSION)
        with self.admin() as client:
            response = client.post("Users", json=body)
            response.raise_for_status()
            return str(response.json()["id"])

    def patch_user(self, user_id: str, path: str, value: Any) -> None:
        with self.admin() as client:
            client.patch(
                f"Users/{user_id}",
                json={
                    "schemas": ["urn:ietf:params:scim:api:messages:2.0:PatchOp"],
                    "Operations": [{"op": "replace", "path": path, "value": value}],
                },
            ).raise_for_status()

    # -- the WSGI layer ----------------------------------------------------------------------------------------

    def _wsgi(self, environ: dict[str, Any], start_response: Callable[..., Any]) -> Iterable[bytes]:
        method, path = environ["REQUEST_METHOD"], environ.get("PATH_INFO", "")
        query = unquote_plus(environ.get("QUERY_STRING", ""))
        with self._lock:
            self.requests.append((method, f"{path}?{query}" if query else path))
            if method in ("PUT", "PATCH", "DELETE"):
                self.if_match.append((method, path, environ.get("HTTP_IF_MATCH")))
            fault = next(
                (
                    f
                    for f in self.faults
                    if f.method == method
                    and re.search(f.path, path)
                    and (f.query is None or re.search(f.query, query))
                    and f.times > 0
                ),
                None,
            )
            if fault is not None:
                fault.times -= 1
        if fault is not None and fault.late:
            answer = list(self._serve(environ, start_response))
            time.sleep(fault.delay)
            return answer
        if fault is not None:
            if fault.delay:
                time.sleep(fault.delay)
            if fault.status and fault.body is not None:
                start_response(f"{fault.status} Answer", [("Content-Type", fault.content_type)])
                if fault.trickle:
                    return _trickled(fault.body, fault.trickle, self._stopped if fault.endless else None)
                return [fault.body]
            if fault.status:
                error = {
                    "schemas": ["urn:ietf:params:scim:api:messages:2.0:Error"],
                    "status": str(fault.status),
                    "detail": "injected fault",
                }
                if fault.scim_type:
                    error["scimType"] = fault.scim_type
                body = json.dumps(error).encode()
                start_response(
                    f"{fault.status} Fault", [("Content-Type", "application/scim+json"), *fault.headers.items()]
                )
                return [body]
        return self._serve(environ, start_response)

    def _serve(self, environ: dict[str, Any], start_response: Callable[..., Any]) -> Iterable[bytes]:
        if not self._authorized(environ.get("HTTP_AUTHORIZATION", "")):
            start_response("401 Unauthorized", [("Content-Type", "application/scim+json")])
            return [
                json.dumps(
                    {
                        "schemas": ["urn:ietf:params:scim:api:messages:2.0:Error"],
                        "status": "401",
                        "detail": "Authentication required",
                    }
                ).encode()
            ]
        return self.app(environ, start_response)

    def _authorized(self, header: str) -> bool:
        if self.token is not None and header == f"Bearer {self.token}":
            return True
        if self.basic is not None and header.startswith("Basic "):
            return base64.b64decode(header[6:]).decode() == ":".join(self.basic)
        return False


def _trickled(body: bytes, pause: float, until: threading.Event | None = None) -> Iterator[bytes]:
    """`body` a byte at a time; with `until`, over and over until it is set (then the answer just ends)."""
    while True:
        for byte in body:
            if until is not None and until.is_set():
                return
            yield bytes([byte])
            time.sleep(pause)  # the fault itself: a server that answers a byte at a time
        if until is None:
            return


@contextmanager
def running(groups: Mapping[str, Mapping[str, str]] | None = None, **options: Any) -> Iterator[ScimServer]:
    """A server on a loopback port, with the groups of a `groups` config (scope -> role -> group) created."""
    server = ScimServer(**options).start()
    try:
        for roles in (groups or {}).values():
            for group in roles.values():
                server.create_group(group)
        yield server
    finally:
        server.stop()

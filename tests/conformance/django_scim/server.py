"""A minimal Django project serving django-scim2 on a loopback port, for the platform clients' conformance tests.

    python server.py <database file> <bearer token>

prints `listening <port>` once it answers. Requests must carry `Authorization: Bearer <token>`.
"""

from __future__ import annotations

import sys
from pathlib import Path
from socketserver import ThreadingMixIn
from typing import Any
from wsgiref.simple_server import WSGIRequestHandler, WSGIServer, make_server

sys.path.insert(0, str(Path(__file__).resolve().parent))

import django
from django.conf import settings

TOKEN = ""


class BearerToken:
    """Authenticates a request that carries the token as the one admin user (django-scim2 checks only that the
    request's user is authenticated)."""

    def __init__(self, get_response: Any) -> None:
        self.get_response = get_response

    def __call__(self, request: Any) -> Any:
        from django.contrib.auth import get_user_model
        from django.contrib.auth.models import AnonymousUser

        if request.META.get("HTTP_AUTHORIZATION") == f"Bearer {TOKEN}":
            request.user = get_user_model().objects.get(username="scim-admin")
        else:
            request.user = AnonymousUser()
        return self.get_response(request)


urlpatterns: list[Any] = []  # filled in once Django is set up (ROOT_URLCONF is this module)


class _Threading(ThreadingMixIn, WSGIServer):
    daemon_threads = True


class _Quiet(WSGIRequestHandler):
    def log_request(self, code: Any = "-", size: Any = "-") -> None:
        pass


def main(database: str, token: str) -> None:
    global TOKEN
    TOKEN = token
    settings.configure(
        DEBUG=False,
        SECRET_KEY="conformance-tests-only",
        ALLOWED_HOSTS=["127.0.0.1", "localhost"],
        INSTALLED_APPS=["django.contrib.auth", "django.contrib.contenttypes", "django_scim", "scimapp"],
        MIDDLEWARE=["server.BearerToken", "django_scim.middleware.SCIMAuthCheckMiddleware"],
        ROOT_URLCONF="server",
        DATABASES={"default": {"ENGINE": "django.db.backends.sqlite3", "NAME": database}},
        AUTH_USER_MODEL="scimapp.User",
        USE_TZ=True,
        SCIM_SERVICE_PROVIDER={
            "NETLOC": "127.0.0.1",
            "GROUP_MODEL": "scimapp.models.Group",
            "AUTHENTICATION_SCHEMES": [
                {"type": "oauthbearertoken", "name": "OAuth Bearer Token", "description": "a bearer token"}
            ],
        },
    )
    sys.modules["server"] = sys.modules[__name__]
    django.setup()
    from django.urls import include, path

    urlpatterns.append(path("scim/v2/", include("django_scim.urls", namespace="scim")))
    from django.contrib.auth import get_user_model
    from django.core.management import call_command
    from django.core.wsgi import get_wsgi_application

    call_command("migrate", run_syncdb=True, verbosity=0)
    get_user_model().objects.get_or_create(username="scim-admin", defaults={"is_staff": True})
    server = make_server("127.0.0.1", 0, get_wsgi_application(), server_class=_Threading, handler_class=_Quiet)
    print(f"listening {server.server_port}", flush=True)
    server.serve_forever()


if __name__ == "__main__":
    main(sys.argv[1], sys.argv[2])

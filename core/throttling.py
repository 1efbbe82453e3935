"""Throttles: API calls per caller, and failed sign-ins per client address and user name.

The API (DRF throttles, rates from the environment): each caller, a person
by their account or an ingest token by itself, may make FARM_API_THROTTLE_CALLER
calls, and each address without credentials FARM_API_THROTTLE_ANON; past that
the answer is 429 with `Retry-After`. The counts live in the default cache,
shared by the farm's processes (FARM_CACHE_URL).

Sign-ins: django-axes counts failed sign-ins to the console by (client address,
user name) in the database. At FARM_LOGIN_FAILURE_LIMIT failures that pair is
answered 429 (`lockout_response`) for FARM_LOGIN_COOLOFF_MINUTES; a successful
sign-in clears its count. The sandbox's own login keeps its counts in the same
place through `login_allowed`, `login_failed` and `login_succeeded`, its user
names kept apart from the console's by a prefix.
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

from django.conf import settings
from django.http import HttpRequest, HttpResponse
from rest_framework.throttling import AnonRateThrottle, SimpleRateThrottle

if TYPE_CHECKING:  # DRF's views module loads the throttles named in its settings
    from axes.handlers.proxy import AxesProxyHandler
    from rest_framework.request import Request
    from rest_framework.views import APIView


def client_ip(request: HttpRequest) -> str:
    """The client's address: REMOTE_ADDR, or the one FARM_TRUSTED_PROXIES proxies saw."""
    proxies = settings.FARM_TRUSTED_PROXIES
    if proxies:
        forwarded = request.META.get("HTTP_X_FORWARDED_FOR", "").split(",")
        hops = [address.strip() for address in forwarded if address.strip()]
        if hops:
            return hops[-min(proxies, len(hops))]
    return str(request.META.get("REMOTE_ADDR", ""))


class _RateFromSettings:
    """The rate is read from the farm's setting on each call, so it can be changed."""

    rate_setting = ""

    def get_rate(self) -> str:
        return str(getattr(settings, self.rate_setting))


class CallerRateThrottle(_RateFromSettings, SimpleRateThrottle):
    """Calls per signed-in caller: a person by their account, an ingest token by itself."""

    scope = "caller"
    rate_setting = "FARM_API_THROTTLE_CALLER"

    def get_cache_key(self, request: Request, view: APIView) -> str | None:
        user = request.user
        if not (user and user.is_authenticated):
            return None  # AnonymousRateThrottle's
        ident = getattr(user, "pk", None)
        if ident is not None:
            ident = f"user-{ident}"
        elif getattr(request.auth, "pk", None) is not None:
            ident = f"{type(request.auth).__name__}-{request.auth.pk}"
        else:
            ident = self.get_ident(request)
        return self.cache_format % {"scope": self.scope, "ident": ident}


class AnonymousRateThrottle(_RateFromSettings, AnonRateThrottle):
    """Calls per address without credentials."""

    rate_setting = "FARM_API_THROTTLE_ANON"


# --- Failed sign-ins ------------------------------------------------------------


def lockout_response(
    request: HttpRequest,
    original_response: HttpResponse | None = None,
    credentials: dict[str, Any] | None = None,
) -> HttpResponse:
    """429: too many failed sign-ins for this user name from this address."""
    minutes = settings.FARM_LOGIN_COOLOFF_MINUTES
    response = HttpResponse(
        f"Too many failed sign-ins for this user name from your address. "
        f"Try again in {minutes} minutes.",
        status=429,
        content_type="text/plain; charset=utf-8",
    )
    response["Retry-After"] = str(minutes * 60)
    return response


def _axes() -> type[AxesProxyHandler]:
    # Imported on use: its models need the app registry ready.
    from axes.handlers.proxy import AxesProxyHandler

    return AxesProxyHandler


def login_allowed(request: HttpRequest, *, username: str) -> bool:
    return bool(_axes().is_allowed(request, {"username": username}))


def login_failed(request: HttpRequest, *, username: str, sender: object) -> bool:
    """Count a failed sign-in; whether this one used up the allowance."""
    _axes().user_login_failed(sender, {"username": username}, request)
    return bool(getattr(request, "axes_locked_out", False))


def login_succeeded(request: HttpRequest, *, username: str) -> None:
    _axes().reset_attempts(ip_address=client_ip(request), username=username)

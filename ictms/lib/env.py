"""Typed readers for environment variables that fail loudly at start-up on a bad value."""
from __future__ import annotations

import os

from django.core.exceptions import ImproperlyConfigured

_TRUE = {"1", "true", "yes", "on"}
_FALSE = {"0", "false", "no", "off", ""}


def env_str(name: str, default: str = "") -> str:
    return os.environ.get(name, default)


def env_bool(name: str, default: bool) -> bool:
    raw = os.environ.get(name)
    if raw is None:
        return default
    value = raw.strip().lower()
    if value in _TRUE:
        return True
    if value in _FALSE:
        return False
    raise ImproperlyConfigured(f"{name} must be a boolean (1/0, true/false), not {raw!r}")


def env_int(name: str, default: int) -> int:
    raw = os.environ.get(name)
    if raw is None or raw.strip() == "":
        return default
    try:
        return int(raw)
    except ValueError as exc:
        raise ImproperlyConfigured(f"{name} must be an integer, not {raw!r}") from exc


def env_list(name: str, default: list[str]) -> list[str]:
    raw = os.environ.get(name)
    if raw is None:
        return list(default)
    return [item.strip() for item in raw.split(",") if item.strip()]


_ALL_INTERFACES = {"0.0.0.0", "::", "[::]"}  # noqa: S104  (names of "every interface", compared, not bound)


def public_url(configured: str, host: str, port: str, *, hostname: str) -> str:
    """The address people reach this installation at, for links in e-mails (no trailing slash).

    `configured` (SITE_URL) wins. Otherwise the address the embedded server listens on (`make run`'s
    HOST and PORT): a server listening on every interface is reached under the machine's `hostname`.
    """
    if configured.strip():
        return configured.strip().rstrip("/")
    host = host.strip() or "127.0.0.1"
    if host in _ALL_INTERFACES:
        host = hostname
    elif ":" in host and not host.startswith("["):
        host = f"[{host}]"  # an IPv6 address
    return f"http://{host}:{port.strip() or '8000'}"


def url_host(url: str) -> str:
    """The host name of `url`, as ALLOWED_HOSTS spells it ("" when there is none)."""
    from urllib.parse import urlsplit

    netloc = urlsplit(url).netloc.rsplit("@", 1)[-1]
    if netloc.startswith("["):
        return netloc[: netloc.index("]") + 1]
    return netloc.split(":", 1)[0]

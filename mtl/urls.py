"""URLs that may carry a secret (a webhook's token sits in its path or query, a password in its user part):
checked for a scheme and a host before use, and never shown whole. Logs, errors and reports get
`scheme://host:port/…`, which says which service without saying how to post to it.
"""

from __future__ import annotations

import re
from urllib.parse import urlsplit

REDACTED = "…"
# scheme://[user[:password]@]host[:port] then, optionally, a path, query or fragment up to a space or quote
_URL = re.compile(r"\b(?P<scheme>[a-zA-Z][a-zA-Z0-9+.-]*://)(?:[^\s/?#@'\"]*@)?(?P<host>[^\s/?#'\"]*)(?P<rest>[/?#][^\s'\"]*)?")


def redact(text: str) -> str:
    """`text` with every URL in it cut to its scheme and host (user part, path, query and fragment removed)."""
    return _URL.sub(lambda url: f"{url['scheme']}{url['host']}" + (f"/{REDACTED}" if url["rest"] else ""), text)


def check_http_url(url: str) -> None:
    """Raise ValueError (with the URL redacted) unless `url` is http(s)://host[:port][/...]."""
    try:
        parts = urlsplit(url)
        parts.port  # noqa: B018 (raises on a port that is not a number in range)
    except ValueError:
        parts = None
    if parts is None or parts.scheme not in ("http", "https") or not parts.hostname:
        raise ValueError(f"expected an http:// or https:// URL with a host, got {_shown(url)!r}")


def _shown(url: str) -> str:
    """A bad URL as far as it can be shown: redacted if it has a scheme, else up to its first / or ?."""
    if "://" in url:
        return redact(url)
    head = re.split(r"[/?#]", url, maxsplit=1)[0]
    return head + (f"/{REDACTED}" if head != url else "")

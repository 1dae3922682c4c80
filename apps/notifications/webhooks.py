"""Webhook wire format: the signature and the HTTP POST. No database here.

A receiver verifies a delivery by recomputing
`HMAC-SHA256(secret, "<X-Signature-Timestamp>." + raw body)` and comparing it, in constant time,
with the hex digest in `X-Signature: sha256=<hex>`; it rejects timestamps too far from its clock
(replays) and may drop a repeated `X-Delivery-Id` (a retry of an attempt it already accepted).
"""

from __future__ import annotations

import hashlib
import hmac
import http.client
import json
import time
import urllib.error
import urllib.request
from dataclasses import dataclass

SIGNATURE_HEADER = "X-Signature"
TIMESTAMP_HEADER = "X-Signature-Timestamp"
DELIVERY_HEADER = "X-Delivery-Id"
KIND_HEADER = "X-Notification-Kind"
USER_AGENT = "emergency-platform-webhooks/1"


def canonical_body(payload: dict) -> bytes:
    """The bytes that are signed and sent: UTF-8 JSON, sorted keys, no whitespace."""
    return json.dumps(payload, ensure_ascii=False, sort_keys=True, separators=(",", ":")).encode()


def sign(*, secret: str, timestamp: str, body: bytes) -> str:
    """The `X-Signature` value for `body` sent at `timestamp` (unix seconds, as sent)."""
    digest = hmac.new(secret.encode(), timestamp.encode() + b"." + body, hashlib.sha256).hexdigest()
    return f"sha256={digest}"


def verify(
    *, secret: str, timestamp: str, body: bytes, signature: str, tolerance: int = 300, now: float | None = None
) -> bool:
    """What a receiver does: the signature matches and the timestamp is within `tolerance` seconds."""
    try:
        sent = int(timestamp)
    except (TypeError, ValueError):
        return False
    if abs((time.time() if now is None else now) - sent) > tolerance:
        return False
    return hmac.compare_digest(sign(secret=secret, timestamp=timestamp, body=body), signature or "")


@dataclass(frozen=True)
class Response:
    status_code: int | None  # None: no HTTP answer (refused, timed out, bad URL)
    error: str
    duration_ms: int

    @property
    def ok(self) -> bool:
        return self.status_code is not None and 200 <= self.status_code < 300

    @property
    def retryable(self) -> bool:
        """Worth trying again later: no answer, a server error, or an explicit "later" (408, 429)."""
        return not self.ok and (self.status_code is None or self.status_code >= 500 or self.status_code in (408, 429))


class _NoRedirects(urllib.request.HTTPRedirectHandler):
    """A redirect is an answer, not an instruction: following it would send the signed payload to
    a host nobody configured."""

    def redirect_request(self, req, fp, code, msg, headers, newurl):
        return None


_opener = urllib.request.build_opener(_NoRedirects)


def post(*, url: str, body: bytes, headers: dict[str, str], timeout: float) -> Response:
    """POST `body` to `url`; never raises for network or HTTP errors (they are the outcome)."""
    request = urllib.request.Request(url, data=body, method="POST")  # noqa: S310 - http(s) only, validated on save
    for name, value in ({"Content-Type": "application/json", "User-Agent": USER_AGENT} | headers).items():
        request.add_header(name, value)
    started = time.monotonic()

    def elapsed() -> int:
        return int((time.monotonic() - started) * 1000)

    try:
        with _opener.open(request, timeout=timeout) as answer:
            answer.read(4096)
            return Response(answer.status, "", elapsed())
    except urllib.error.HTTPError as exc:
        return Response(exc.code, f"HTTP {exc.code} {exc.reason}"[:500], elapsed())
    except (urllib.error.URLError, http.client.HTTPException, OSError, ValueError) as exc:
        reason = getattr(exc, "reason", exc)
        return Response(None, f"{type(exc).__name__}: {reason}"[:500], elapsed())

"""Streaming a multipart upload straight into PackageStorage, with CSRF checked before any byte is kept.

Litestar's own form parsing would buffer the whole body (and its CSRF middleware reads the form when no
header token is sent), so the upload route opts out of both and uses the `multipart` package's push
parser, which Litestar itself depends on.
"""

from __future__ import annotations

import secrets
from collections.abc import AsyncIterator
from dataclasses import dataclass, field
from typing import Any

from litestar import Request
from litestar.middleware.csrf import generate_csrf_hash
from multipart import MultipartError, MultipartSegment, ParserLimitReached, PushMultipartParser

CSRF_FIELD = "_csrf_token"
FILE_FIELD = "package"
_SMALL_FIELD_LIMIT = 4096
_CSRF_RAW_LENGTH = 64  # Litestar's tokens: 32 random bytes as hex, then an HMAC


class UploadRefused(Exception):
    """The request is not an acceptable upload; `status` and the message say why."""

    def __init__(self, status: int, message: str) -> None:
        super().__init__(message)
        self.status = status


def csrf_valid(token: str | None, cookie: str | None, secret: str) -> bool:
    """The same check Litestar's CSRF middleware makes: the token matches the cookie and is ours."""
    if not token or not cookie or not secrets.compare_digest(token, cookie):
        return False
    raw, signature = token[:_CSRF_RAW_LENGTH], token[_CSRF_RAW_LENGTH:]
    return secrets.compare_digest(generate_csrf_hash(token=raw, secret=secret), signature)


@dataclass
class StreamedUpload:
    """Drives the parser over the request body; `chunks()` yields the file's bytes as they arrive."""

    request: Request[Any, Any, Any]
    secret: str
    fields: dict[str, str] = field(default_factory=dict)
    file_name: str | None = None

    def boundary(self) -> bytes:
        media_type, options = self.request.content_type
        boundary = options.get("boundary")
        if media_type != "multipart/form-data" or not boundary:
            raise UploadRefused(415, "Upload the course as a .zip file using the form on this page.")
        return boundary.encode()

    async def chunks(self) -> AsyncIterator[bytes]:
        parser = PushMultipartParser(self.boundary(), max_segment_count=10, max_header_size=8192)
        segment: MultipartSegment | None = None
        small = bytearray()
        try:
            async for body_chunk in self.request.stream():
                for event in parser.parse(body_chunk):
                    if isinstance(event, MultipartSegment):
                        segment, small = event, bytearray()
                        if segment.name == FILE_FIELD and segment.filename is not None:
                            self._start_file(segment)
                    elif event is None:
                        if segment is not None and segment.name == FILE_FIELD and self.file_name is not None:
                            return  # the file is complete; anything after it is of no interest
                        if segment is not None:
                            self.fields[segment.name] = small.decode("utf-8", "replace")
                        segment = None
                    elif segment is not None and segment.name == FILE_FIELD and self.file_name is not None:
                        yield bytes(event)
                    else:
                        small += event
                        if len(small) > _SMALL_FIELD_LIMIT:
                            raise UploadRefused(
                                400, "The upload form was not sent as expected. Reload the page."
                            )
        except ParserLimitReached:
            raise UploadRefused(
                400, "The upload form sent more fields than it has. Reload the page and upload again."
            ) from None
        except MultipartError:
            raise UploadRefused(400, "The upload was interrupted or malformed. Try again.") from None
        if self.file_name is None:
            raise UploadRefused(400, "Choose a .zip file to upload.")

    def _start_file(self, segment: MultipartSegment) -> None:
        # CSRF before the first byte is stored: the header (XHR) or the form field, which the form puts
        # before the file input so it arrives first.
        token = self.request.headers.get("x-csrftoken") or self.fields.get(CSRF_FIELD)
        # A session carried in the header cannot be forged cross-site (see SessionAwareCSRFMiddleware).
        header_session = getattr(getattr(self.request.state, "admin", None), "via_header", False)
        if not header_session and not csrf_valid(token, self.request.cookies.get("csrftoken"), self.secret):
            raise UploadRefused(403, "This form has expired. Reload the page and upload again.")
        name = (segment.filename or "").replace("\\", "/").rsplit("/", 1)[-1].strip()
        if not name:
            raise UploadRefused(400, "Choose a .zip file to upload.")
        self.file_name = name

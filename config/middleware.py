"""The API's answer to a request body that is too large: 413, with a JSON error.

Two limits, both from the environment (config/settings.py):

- a multipart body (a post with its media file) may be up to
  FARM_MAX_REQUEST_BYTES, which leaves room above FARM_MAX_MEDIA_BYTES for
  the other fields, so a file over the media limit but within the request
  cap reaches the post's validation and comes back as a 400 naming `media`;
- any other body (JSON), and the non-file fields of a form, up to Django's
  DATA_UPLOAD_MAX_MEMORY_SIZE.

Django enforces only the second limit, while the body is read (DRF reads
`request.body` for JSON), by raising RequestDataTooBig, which it answers
with an HTML 400; files it takes at any size, spooled to disk. So the
declared length is checked here before anything is read, and
RequestDataTooBig raised later, by a form's fields, becomes the same 413.
"""

from __future__ import annotations

from collections.abc import Callable

from django.conf import settings
from django.core.exceptions import RequestDataTooBig
from django.http import HttpRequest, HttpResponse, JsonResponse

from uploads.validation import human_bytes

API_PREFIX = "/api/"


def _is_multipart(request: HttpRequest) -> bool:
    return request.META.get("CONTENT_TYPE", "").lower().startswith("multipart/form-data")


def _declared_length(request: HttpRequest) -> int:
    try:
        return int(request.META.get("CONTENT_LENGTH") or 0)
    except ValueError:
        return 0


def too_large(detail: str) -> JsonResponse:
    return JsonResponse({"detail": detail}, status=413)


class ApiRequestSizeMiddleware:
    def __init__(self, get_response: Callable[[HttpRequest], HttpResponse]) -> None:
        self.get_response = get_response

    def __call__(self, request: HttpRequest) -> HttpResponse:
        if request.path_info.startswith(API_PREFIX):
            size = _declared_length(request)
            if _is_multipart(request):
                limit = settings.FARM_MAX_REQUEST_BYTES
                if size > limit:
                    return too_large(
                        f"The request body is {human_bytes(size)}; an upload may be at most "
                        f"{human_bytes(limit)} in all, and its media file at most "
                        f"{human_bytes(settings.FARM_MAX_MEDIA_BYTES)}."
                    )
            elif settings.DATA_UPLOAD_MAX_MEMORY_SIZE is not None:
                limit = settings.DATA_UPLOAD_MAX_MEMORY_SIZE
                if size > limit:
                    return too_large(
                        f"The request body is {human_bytes(size)}; "
                        f"the limit is {human_bytes(limit)}."
                    )
        return self.get_response(request)

    def process_exception(self, request: HttpRequest, exception: Exception) -> HttpResponse | None:
        # Raised while reading a form whose fields other than files are over the limit.
        if isinstance(exception, RequestDataTooBig) and request.path_info.startswith(API_PREFIX):
            limit = settings.DATA_UPLOAD_MAX_MEMORY_SIZE or 0
            return too_large(
                f"The fields of the request other than files are over the limit of "
                f"{human_bytes(limit)}."
            )
        return None

"""HTTP binding of the native API: ``/client/api`` (GET and POST) and the integration listener."""

from __future__ import annotations

from urllib.parse import parse_qsl

from anyio import CapacityLimiter, to_thread
from fastapi import APIRouter, Request
from fastapi.responses import Response

from management.api.native import dispatch
from management.api.native.render import error_body, render, response_format
from management.errors import CloudError, InvalidParameter
from management.settings import get_settings

router = APIRouter()
# Requests run in worker threads; more threads than this only add GIL contention on few cores.
_limiter: CapacityLimiter | None = None


def limiter() -> CapacityLimiter:
    global _limiter
    if _limiter is None:
        _limiter = CapacityLimiter(get_settings().api_threads)
    return _limiter


class RequestTooLarge(InvalidParameter):
    pass


def decode_params(query: bytes, body: bytes | None) -> dict[str, str]:
    """Query string and form body merged (the first value of a duplicated key wins)."""
    params: dict[str, str] = {}
    for chunk in (query, body or b""):
        if not chunk:
            continue
        try:
            text = chunk.decode("utf-8")
            pairs = parse_qsl(text, keep_blank_values=True, encoding="utf-8", errors="strict")
        except UnicodeDecodeError:
            raise InvalidParameter("Malformed request: parameters are not valid UTF-8 (check the URL encoding)") \
                from None
        for key, value in pairs:
            params.setdefault(key, value)
    return params


def _requested_format(query: bytes, body: bytes | None) -> str:
    """The response format, found leniently so that even a malformed request gets the envelope it asked for."""
    for chunk in (query, body or b""):
        for key, value in parse_qsl(chunk.decode("utf-8", "replace"), keep_blank_values=True):
            if key == "response":
                return response_format(value)
    return "xml"


async def read_body(request: Request, limit: int) -> bytes:
    declared = request.headers.get("content-length")
    if declared and declared.isdigit() and int(declared) > limit:
        raise RequestTooLarge(f"Request too large: {declared} bytes exceeds the limit of {limit} bytes")
    chunks, size = [], 0
    async for chunk in request.stream():
        size += len(chunk)
        if size > limit:
            raise RequestTooLarge(f"Request too large: more than the limit of {limit} bytes")
        chunks.append(chunk)
    return b"".join(chunks)


async def serve(request: Request, integration: bool = False) -> Response:
    limit = get_settings().max_request_bytes
    query = request.scope.get("query_string", b"")
    fmt = "xml"
    try:
        if len(query) > limit:
            raise RequestTooLarge(f"Request too large: the query string exceeds the limit of {limit} bytes")
        body = None
        if request.method == "POST" and not integration:
            content_type = request.headers.get("content-type", "")
            raw = await read_body(request, limit)
            if raw and (not content_type or "form-urlencoded" in content_type or "text/plain" in content_type):
                body = raw
        fmt = _requested_format(query, body)
        params = decode_params(query, body)
    except CloudError as error:
        payload, content_type = render(None, error_body(error), fmt)
        return Response(payload, status_code=error.code, media_type=content_type)
    api_request = dispatch.ApiRequest(params=params, method=request.method, cookies=dict(request.cookies),
                                      integration=integration, remote=request.client.host if request.client else "")
    reply = await to_thread.run_sync(dispatch.handle, api_request, limiter=limiter())
    response = Response(reply.body, status_code=reply.status, headers=reply.headers)
    response.headers["content-type"] = reply.content_type
    for name, value, options in reply.cookies:
        response.set_cookie(name, value, **{k: v for k, v in options.items() if v is not None})
    return response


@router.api_route("/client/api", methods=["GET", "POST"])
@router.api_route("/client/api/", methods=["GET", "POST"], include_in_schema=False)
async def native_api(request: Request) -> Response:
    return await serve(request)

"""The one place where errors become the JSON of DESIGN.md §5:
`{"error": {"code": "...", "message": "...", "fields": {...}}}`."""

from __future__ import annotations

import logging

from django.core.exceptions import PermissionDenied as DjangoPermissionDenied
from django.core.exceptions import ValidationError as DjangoValidationError
from django.http import Http404, JsonResponse
from django.utils.translation import gettext as _
from rest_framework import exceptions
from rest_framework.response import Response

from submeter.engine import EngineError
from submeter.errors import ServiceError
from submeter.tenancy.services import validation_error

logger = logging.getLogger(__name__)

_CODES = {
    exceptions.ParseError: "malformed_request",
    exceptions.AuthenticationFailed: "authentication_failed",
    exceptions.NotAuthenticated: "not_authenticated",
    exceptions.PermissionDenied: "permission_denied",
    exceptions.NotFound: "not_found",
    exceptions.MethodNotAllowed: "method_not_allowed",
    exceptions.NotAcceptable: "not_acceptable",
    exceptions.UnsupportedMediaType: "unsupported_media_type",
    exceptions.Throttled: "throttled",
}


def _flatten(detail) -> dict[str, list[str]]:
    if isinstance(detail, dict):
        fields: dict[str, list[str]] = {}
        for name, value in detail.items():
            key = "__all__" if name in ("non_field_errors",) else str(name)
            if isinstance(value, dict):
                for sub, messages in _flatten(value).items():
                    fields[f"{key}.{sub}"] = messages
            elif isinstance(value, list):
                fields[key] = [str(item) for item in value if not isinstance(item, dict | list)]
                for index, item in enumerate(value):
                    if isinstance(item, dict | list):
                        for sub, messages in _flatten(
                            item if isinstance(item, dict) else {"": item}
                        ).items():
                            fields[f"{key}.{index}.{sub}".rstrip(".")] = messages
            else:
                fields[key] = [str(value)]
        return fields
    if isinstance(detail, list):
        return {"__all__": [str(item) for item in detail]}
    return {"__all__": [str(detail)]}


def error_body(code: str, message: str, fields: dict | None = None) -> dict:
    return {"error": {"code": code, "message": message, "fields": fields or {}}}


def exception_handler(exc, context):
    headers = {}
    if isinstance(exc, Http404):
        exc = exceptions.NotFound(_("Not found."))
    elif isinstance(exc, DjangoPermissionDenied):
        exc = exceptions.PermissionDenied()
    elif isinstance(exc, DjangoValidationError):
        exc = validation_error(exc)

    if isinstance(exc, EngineError):
        field = exc.field or "__all__"
        return Response(error_body(exc.code, exc.message, {field: [exc.message]}), status=400)
    if isinstance(exc, ServiceError):
        return Response(error_body(exc.code, exc.message, exc.fields), status=exc.status)
    if isinstance(exc, exceptions.ValidationError):
        fields = _flatten(exc.detail)
        first = next((m for messages in fields.values() for m in messages), _("Invalid input."))
        return Response(error_body("invalid", first, fields), status=exc.status_code)
    if isinstance(exc, exceptions.APIException):
        if getattr(exc, "auth_header", None):
            headers["WWW-Authenticate"] = exc.auth_header
        if getattr(exc, "wait", None):
            headers["Retry-After"] = str(int(exc.wait))
        code = _CODES.get(type(exc), str(getattr(exc.detail, "code", "error")))
        return Response(error_body(code, str(exc.detail)), status=exc.status_code, headers=headers)
    logger.exception("Unhandled API error", exc_info=exc)
    return Response(error_body("server_error", _("Internal error.")), status=500)


def not_found(request, exception=None):
    """404 for URLs that match nothing: JSON under /api/, the normal page elsewhere."""
    if request.path.startswith("/api/"):
        return JsonResponse(error_body("not_found", _("Not found.")), status=404)
    from django.views.defaults import page_not_found

    return page_not_found(request, exception)

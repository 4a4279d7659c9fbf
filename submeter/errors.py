"""The one error type of the Django side: a machine code, a translatable message, field errors.

Services raise it; the API turns it into `{"error": {"code", "message", "fields"}}` in one place
(submeter.api.errors) and the console shows the message.
"""

from __future__ import annotations

from collections.abc import Mapping


class ServiceError(Exception):
    status = 400

    def __init__(
        self,
        code: str,
        message: str,
        fields: Mapping[str, list[str]] | None = None,
        status: int | None = None,
    ) -> None:
        super().__init__(message)
        self.code = code
        self.message = message
        self.fields = dict(fields or {})
        if status is not None:
            self.status = status


class Conflict(ServiceError):
    status = 409

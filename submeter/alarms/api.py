"""REST: the notifications sent to tenants, read-only, scoped to the caller's organisations."""

from __future__ import annotations

from submeter.alarms.models import Notification
from submeter.api.viewsets import ScopedSerializer, ScopedViewSet
from submeter.tenancy.roles import CUSTOMERS_CHANGE


class NotificationSerializer(ScopedSerializer):
    class Meta:
        model = Notification
        fields = [
            "id",
            "organisation",
            "customer",
            "kind",
            "channel",
            "recipient",
            "language",
            "subject",
            "body",
            "context",
            "dedupe_key",
            "state",
            "attempts",
            "error",
            "provider_message_id",
            "resend_of",
            "created_at",
            "sent_at",
        ]
        read_only_fields = fields


class NotificationViewSet(ScopedViewSet):
    """`GET /api/v1/notifications/?customer=&kind=&channel=&state=` and `…/{id}/`."""

    queryset = Notification.objects.all()
    serializer_class = NotificationSerializer
    http_method_names = ["get", "head", "options"]
    change_permission = CUSTOMERS_CHANGE  # no write method: writers get 405, others 403
    filterset_fields = ["organisation", "customer", "kind", "channel", "state"]
    search_fields = ["recipient", "subject"]
    ordering_fields = ["created_at", "id"]

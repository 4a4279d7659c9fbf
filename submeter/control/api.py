"""Commands in the API: list and read them, send non-cutting commands, resend or cancel one, and
the two-step manual cut-off (arm on a meter, then confirm with the token)."""

from __future__ import annotations

from django.utils.dateparse import parse_datetime
from django.utils.translation import gettext as _
from drf_spectacular.utils import extend_schema, inline_serializer
from rest_framework import mixins, serializers, status, viewsets
from rest_framework.decorators import action
from rest_framework.exceptions import PermissionDenied
from rest_framework.permissions import IsAuthenticated
from rest_framework.response import Response
from rest_framework.views import APIView

from submeter.api.permissions import RolePermission
from submeter.control import services
from submeter.control.models import Command, CommandAction
from submeter.errors import ServiceError
from submeter.metering.models import Meter
from submeter.tenancy.roles import CONTROL_OPERATE
from submeter.tenancy.scoping import scope_for_request

API_ACTIONS = [
    action
    for action in CommandAction
    if action not in (CommandAction.TRIP, CommandAction.VALVE_CLOSE)
]
"""A cut-off goes through arm + confirm (R4), never through a plain create."""


class CommandSerializer(serializers.ModelSerializer):
    requested_by = serializers.CharField(source="requested_by.username", default=None)

    class Meta:
        model = Command
        fields = [
            "id",
            "organisation",
            "meter",
            "command_id",
            "action",
            "params",
            "state",
            "reason",
            "cause",
            "requested_by",
            "batch",
            "attempts",
            "created_at",
            "sent_at",
            "finished_at",
            "expires_at",
            "answer",
            "error_code",
            "error",
            "mismatch",
            "resend_of",
            "read_back_for",
        ]
        read_only_fields = fields


class CommandInput(serializers.Serializer):
    meter = serializers.IntegerField()
    action = serializers.ChoiceField(choices=[(a.value, a.label) for a in API_ACTIONS])
    params = serializers.DictField(required=False, default=dict)
    reason = serializers.CharField(max_length=200)


class ReasonInput(serializers.Serializer):
    reason = serializers.CharField(max_length=200, required=False, allow_blank=True, default="")


def _scoped_meter(request, meter_id: int) -> Meter:
    scope = scope_for_request(request)
    meter = scope.get(Meter.objects.select_related("gateway", "organisation"), pk=meter_id)
    if not scope.can(CONTROL_OPERATE, meter.organisation_id):
        raise PermissionDenied
    return meter


class CommandViewSet(mixins.ListModelMixin, mixins.RetrieveModelMixin, viewsets.GenericViewSet):
    """`?state=failed,unknown,expired`, `?action=`, `?meter=`, `?mismatch=true`,
    `?created_after=` / `?created_before=` (ISO 8601) narrow the list."""

    queryset = Command.objects.select_related("requested_by")
    serializer_class = CommandSerializer
    permission_classes = [RolePermission]
    change_permission = CONTROL_OPERATE
    ordering_fields = ["created_at", "id"]

    def object_organisation_id(self, obj) -> int | None:
        return obj.organisation_id

    def get_queryset(self):
        queryset = scope_for_request(self.request).filter(super().get_queryset())
        params = self.request.query_params
        if params.get("state"):
            queryset = queryset.filter(state__in=params["state"].split(","))
        if params.get("action"):
            queryset = queryset.filter(action__in=params["action"].split(","))
        if params.get("meter", "").isdigit():
            queryset = queryset.filter(meter_id=int(params["meter"]))
        if params.get("mismatch") in ("true", "1"):
            queryset = queryset.filter(mismatch=True)
        for name, lookup in (("created_after", "gte"), ("created_before", "lt")):
            if params.get(name):
                moment = parse_datetime(params[name])
                if moment is None:
                    raise ServiceError(
                        "invalid", _("Not a date and time."), {name: [_("Use ISO 8601.")]}
                    )
                queryset = queryset.filter(**{f"created_at__{lookup}": moment})
        return queryset

    @extend_schema(request=CommandInput, responses={201: CommandSerializer})
    def create(self, request):
        data = CommandInput(data=request.data)
        data.is_valid(raise_exception=True)
        meter = _scoped_meter(request, data.validated_data["meter"])
        command = services.send(
            request.user,
            meter,
            data.validated_data["action"],
            params=data.validated_data["params"],
            reason=data.validated_data["reason"],
            cause={"rule": "api"},
        )
        return Response(CommandSerializer(command).data, status=status.HTTP_201_CREATED)

    @extend_schema(request=ReasonInput, responses={201: CommandSerializer})
    @action(detail=True, methods=["post"])
    def resend(self, request, pk=None):
        command = self.get_object()
        data = ReasonInput(data=request.data)
        data.is_valid(raise_exception=True)
        again = services.resend(request.user, command, reason=data.validated_data["reason"])
        return Response(CommandSerializer(again).data, status=status.HTTP_201_CREATED)

    @extend_schema(request=None, responses={200: CommandSerializer})
    @action(detail=True, methods=["post"])
    def cancel(self, request, pk=None):
        command = services.cancel(request.user, self.get_object())
        return Response(CommandSerializer(command).data)


class ArmCutoffView(APIView):
    """Step one of a manual cut-off: a token valid 5 minutes, for this operator and meter."""

    permission_classes = [IsAuthenticated]

    @extend_schema(
        request=None,
        responses={
            201: inline_serializer(
                "CutoffArmed",
                {"token": serializers.CharField(), "expires_in": serializers.IntegerField()},
            )
        },
    )
    def post(self, request, meter_id: int):
        meter = _scoped_meter(request, meter_id)
        token = services.arm_cutoff(request.user, meter)
        return Response(
            {"token": token, "expires_in": services.CUTOFF_TOKEN_MAX_AGE_S},
            status=status.HTTP_201_CREATED,
        )


class ConfirmInput(serializers.Serializer):
    token = serializers.CharField(max_length=1000)
    reason = serializers.CharField(max_length=200)


class ConfirmCutoffView(APIView):
    """Step two: send the armed cut-off, once."""

    permission_classes = [IsAuthenticated]

    @extend_schema(request=ConfirmInput, responses={201: CommandSerializer})
    def post(self, request):
        data = ConfirmInput(data=request.data)
        data.is_valid(raise_exception=True)
        command = services.confirm_cutoff(
            request.user, data.validated_data["token"], reason=data.validated_data["reason"]
        )
        return Response(CommandSerializer(command).data, status=status.HTTP_201_CREATED)

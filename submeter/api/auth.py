"""Token login and logout: POST /api/v1/auth/token answers {"token": "..."}; DELETE revokes it."""

from __future__ import annotations

from django.contrib.auth import authenticate
from django.utils.translation import gettext as _
from drf_spectacular.utils import extend_schema, inline_serializer
from rest_framework import serializers, status
from rest_framework.authtoken.models import Token
from rest_framework.permissions import AllowAny, IsAuthenticated
from rest_framework.response import Response
from rest_framework.throttling import ScopedRateThrottle
from rest_framework.views import APIView

from submeter.api.errors import error_body
from submeter.tenancy.audit import record


class Credentials(serializers.Serializer):
    username = serializers.CharField(max_length=150)
    password = serializers.CharField(max_length=256, trim_whitespace=False)


class TokenView(APIView):
    throttle_scope = "login"

    def get_permissions(self):
        return [AllowAny()] if self.request.method == "POST" else [IsAuthenticated()]

    def get_throttles(self):
        return [ScopedRateThrottle()] if self.request.method == "POST" else []

    @extend_schema(
        request=Credentials,
        responses={200: inline_serializer("TokenAnswer", {"token": serializers.CharField()})},
        auth=[],
    )
    def post(self, request):
        credentials = Credentials(data=request.data)
        credentials.is_valid(raise_exception=True)
        user = authenticate(
            request,
            username=credentials.validated_data["username"],
            password=credentials.validated_data["password"],
        )
        if user is None or not user.is_active:
            return Response(
                error_body("invalid_credentials", _("Wrong user name or password.")),
                status=status.HTTP_401_UNAUTHORIZED,
                headers={"WWW-Authenticate": "Bearer"},
            )
        token, _created = Token.objects.get_or_create(user=user)
        return Response({"token": token.key})

    @extend_schema(request=None, responses={204: None})
    def delete(self, request):
        Token.objects.filter(user=request.user).delete()
        record(
            request.user,
            "logout",
            None,
            object_type="auth.token",
            object_repr=request.user.get_username(),
        )
        return Response(status=status.HTTP_204_NO_CONTENT)

"""The operator console: Django admin themed by Unfold, open to members of organisations."""

from __future__ import annotations

from django.contrib.auth.forms import AuthenticationForm as PlainAuthenticationForm
from django.http import Http404, HttpResponseRedirect
from django.urls import path, reverse
from django.utils.http import url_has_allowed_host_and_scheme
from django.utils.translation import gettext_lazy as _
from unfold.forms import AuthenticationForm
from unfold.sites import UnfoldAdminSite

from submeter.tenancy.scoping import (
    CURRENT_ORGANISATION_SESSION_KEY,
    scope_for_request,
)


class ConsoleAuthenticationForm(AuthenticationForm):
    """Any active user may log in; what they see comes from their memberships, not `is_staff`."""

    error_messages = {
        **PlainAuthenticationForm.error_messages,
        "invalid_login": _("Wrong user name or password."),
    }

    def confirm_login_allowed(self, user):
        PlainAuthenticationForm.confirm_login_allowed(self, user)


def monitoring_app() -> dict:
    """The console pages that are not a model's list, shown as an application of their own."""
    board_url = reverse("admin:console_board")
    return {
        "name": _("Monitoring"),
        "app_label": "monitoring",
        "app_url": board_url,
        "has_module_perms": True,
        "models": [
            {
                "name": _("Room monitoring"),
                "object_name": "RoomBoard",
                "admin_url": board_url,
                "view_only": True,
                "perms": {"view": True},
            }
        ],
    }


class ConsoleSite(UnfoldAdminSite):
    site_title = _("Submeter")
    site_header = _("Submeter console")
    index_title = _("Dashboard")
    login_form = ConsoleAuthenticationForm

    def __init__(self, name: str = "admin") -> None:
        super().__init__(name)
        self.login_form = ConsoleAuthenticationForm

    def has_permission(self, request) -> bool:
        user = request.user
        return bool(user.is_active and user.is_authenticated and scope_for_request(request).roles)

    def extra_urls(self):
        from submeter.console.board.views import RoomBoard

        return [
            path(
                "switch-organisation/<int:organisation_id>/",
                self.admin_view(self.switch_organisation),
                name="switch_organisation",
            ),
            *RoomBoard(self).urls(),
        ]

    def get_app_list(self, request, app_label=None):
        """The applications, with the monitoring pages first (sidebar and dashboard)."""
        app_list = super().get_app_list(request, app_label)
        if app_label is None and app_list:
            app_list.insert(0, monitoring_app())
        return app_list

    def switch_organisation(self, request, organisation_id: int):
        if organisation_id not in scope_for_request(request).roles:
            raise Http404
        request.session[CURRENT_ORGANISATION_SESSION_KEY] = organisation_id
        target = request.GET.get("next", "")
        if not url_has_allowed_host_and_scheme(target, allowed_hosts={request.get_host()}):
            target = ""
        return HttpResponseRedirect(target or "../../")

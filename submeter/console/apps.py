from django.apps import AppConfig
from django.contrib.admin.apps import AdminConfig
from django.utils.translation import gettext_lazy as _


class ConsoleConfig(AppConfig):
    name = "submeter.console"
    label = "console"
    verbose_name = _("Console")

    def ready(self) -> None:
        # Lists that Django and DRF register on their own are not scoped to organisations (and
        # show API token keys): roles come from memberships, tokens from POST /api/v1/auth/token.
        from django.contrib import admin
        from django.contrib.auth.models import Group
        from rest_framework.authtoken.models import TokenProxy

        for model in (Group, TokenProxy):
            if admin.site.is_registered(model):
                admin.site.unregister(model)


class ConsoleAdminConfig(AdminConfig):
    """django.contrib.admin with the console as its default site."""

    default_site = "submeter.console.sites.ConsoleSite"

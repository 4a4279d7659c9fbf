from django.apps import AppConfig
from django.contrib.admin.apps import AdminConfig
from django.utils.translation import gettext_lazy as _


class ConsoleConfig(AppConfig):
    name = "submeter.console"
    label = "console"
    verbose_name = _("Console")


class ConsoleAdminConfig(AdminConfig):
    """django.contrib.admin with the console as its default site."""

    default_site = "submeter.console.sites.ConsoleSite"

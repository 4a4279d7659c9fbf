from django.apps import AppConfig
from django.utils.translation import gettext_lazy as _


class ControlConfig(AppConfig):
    name = "submeter.control"
    label = "control"
    verbose_name = _("Control")

    def ready(self) -> None:
        from submeter.control.policy import on_balance_changed
        from submeter.ledger.signals import balance_changed

        balance_changed.connect(on_balance_changed, dispatch_uid="control.policy")

from django.utils.translation import gettext_lazy as _
from rest_framework import serializers


class AmountField(serializers.Field):
    """A money amount in JSON: always a string such as "100.00", never a JSON number.

    The value is checked (decimal places, sign, size) by the ledger service that uses it.
    """

    default_error_messages = {"not_string": _('Amounts are strings, e.g. "100.00".')}

    def to_internal_value(self, data):
        if not isinstance(data, str) or len(data) > 32:
            self.fail("not_string")
        return data.strip()

    def to_representation(self, value):
        return str(value)

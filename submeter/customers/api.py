from rest_framework import serializers

from submeter.api.viewsets import ScopedSerializer, ScopedViewSet
from submeter.customers import services
from submeter.customers.models import Customer
from submeter.sites.models import Room
from submeter.tenancy.roles import CUSTOMERS_CHANGE
from submeter.tenancy.scoping import scope_for_request


class CustomerSerializer(ScopedSerializer):
    rooms = serializers.PrimaryKeyRelatedField(
        many=True, queryset=Room.objects.none(), required=False
    )

    class Meta:
        model = Customer
        fields = [
            "id",
            "organisation",
            "name",
            "contact_name",
            "phone",
            "email",
            "wechat_openid",
            "rooms",
            "notify_sms",
            "notify_wechat",
            "notify_email",
            "notify_voice",
            "settlement",
            "free_kwh_per_month",
            "free_m3_per_month",
            "state",
            "created_at",
        ]
        read_only_fields = ["created_at"]

    def get_fields(self):
        fields = super().get_fields()
        request = self.context.get("request")
        if request is not None:
            fields["rooms"].child_relation.queryset = scope_for_request(request).filter(
                Room.objects.all()
            )
        return fields

    def create(self, validated_data):
        rooms = validated_data.pop("rooms", None)
        return services.save_customer(
            self.context["request"].user, Customer(**validated_data), rooms
        )

    def update(self, instance, validated_data):
        rooms = validated_data.pop("rooms", None)
        for name, value in validated_data.items():
            setattr(instance, name, value)
        return services.save_customer(self.context["request"].user, instance, rooms)


class CustomerViewSet(ScopedViewSet):
    queryset = Customer.objects.prefetch_related("rooms")
    serializer_class = CustomerSerializer
    change_permission = CUSTOMERS_CHANGE
    filterset_fields = ["organisation", "state", "settlement"]
    search_fields = ["name", "contact_name", "phone", "email"]
    ordering_fields = ["name", "id", "created_at"]

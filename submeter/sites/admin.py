from django.contrib import admin
from django.db.models import Count
from django.utils.translation import gettext_lazy as _
from unfold.contrib.filters.admin import RelatedDropdownFilter

from submeter.console.admin_base import ScopedAdmin
from submeter.sites.models import Building, Floor, Room
from submeter.tenancy.roles import SITES_CHANGE


@admin.register(Building)
class BuildingAdmin(ScopedAdmin):
    change_permission = SITES_CHANGE
    list_display = ["name", "address", "floor_count", "organisation"]
    search_fields = ["name", "address"]
    list_filter = [("organisation", RelatedDropdownFilter)]
    fields = ["organisation", "name", "address"]

    def get_queryset(self, request):
        return (
            super()
            .get_queryset(request)
            .select_related("organisation")
            .annotate(floor_count=Count("floors"))
        )

    @admin.display(description=_("floors"), ordering="floor_count")
    def floor_count(self, obj):
        return obj.floor_count


@admin.register(Floor)
class FloorAdmin(ScopedAdmin):
    change_permission = SITES_CHANGE
    list_display = ["__str__", "building", "level", "name", "room_count"]
    list_filter = [("building", RelatedDropdownFilter)]
    search_fields = ["name", "building__name"]
    fields = ["organisation", "building", "level", "name"]

    def get_queryset(self, request):
        return (
            super()
            .get_queryset(request)
            .select_related("building")
            .annotate(room_count=Count("rooms"))
        )

    @admin.display(description=_("rooms"), ordering="room_count")
    def room_count(self, obj):
        return obj.room_count


@admin.register(Room)
class RoomAdmin(ScopedAdmin):
    change_permission = SITES_CHANGE
    list_display = ["number", "building_name", "floor_level", "area_m2", "customer"]
    list_filter = [
        ("floor__building", RelatedDropdownFilter),
        ("floor", RelatedDropdownFilter),
        ("customer", RelatedDropdownFilter),
    ]
    search_fields = ["number", "customer__name", "floor__building__name"]
    fields = ["organisation", "floor", "number", "area_m2", "customer"]
    list_select_related = ["floor__building", "customer"]
    autocomplete_fields = ["customer"]

    @admin.display(description=_("building"), ordering="floor__building__name")
    def building_name(self, obj):
        return obj.floor.building.name

    @admin.display(description=_("level"), ordering="floor__level")
    def floor_level(self, obj):
        return obj.floor.level

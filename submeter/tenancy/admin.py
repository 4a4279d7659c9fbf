from django import forms
from django.contrib import admin, messages
from django.urls import reverse
from django.utils.html import format_html
from django.utils.translation import gettext_lazy as _
from unfold.contrib.filters.admin import RangeDateTimeFilter

from submeter.console.admin_base import ScopedAdmin, ScopedReadOnlyAdmin
from submeter.tenancy import services
from submeter.tenancy.models import AccessGrant, AuditEntry, Invite, Membership, Organisation
from submeter.tenancy.roles import AUDIT_VIEW, MEMBERS_MANAGE


@admin.register(Organisation)
class OrganisationAdmin(ScopedAdmin):
    change_permission = MEMBERS_MANAGE
    organisation_field = "pk"
    list_display = ["name", "code", "parent", "time_zone", "is_active"]
    search_fields = ["name", "code"]
    list_filter = ["is_active"]
    fields = ["parent", "name", "code", "time_zone", "topup_fee_percent", "is_active"]

    def get_queryset(self, request):
        return self.model._default_manager.filter(pk__in=self.scope(request).organisation_ids)

    def _object_organisation_id(self, obj):
        return obj.pk

    def has_add_permission(self, request):
        # A new organisation is always a sub-organisation of one the user administers.
        return self.scope(request).can(MEMBERS_MANAGE)

    def has_delete_permission(self, request, obj=None):
        return False

    def formfield_for_foreignkey(self, db_field, request, **kwargs):
        if db_field.name == "parent":
            kwargs["queryset"] = Organisation.objects.filter(
                pk__in=self.scope(request).organisations_allowing(MEMBERS_MANAGE)
            )
            kwargs["required"] = True
        return super().formfield_for_foreignkey(db_field, request, **kwargs)

    def get_readonly_fields(self, request, obj=None):
        # Only an administrator of the parent may move an organisation: the administrator of a
        # park under a group keeps it where it is (and a top-level organisation stays on top).
        if obj is not None and (
            obj.parent_id is None or not self.scope(request).can(MEMBERS_MANAGE, obj.parent_id)
        ):
            return ["parent"]
        return []

    def get_changeform_initial_data(self, request):
        from submeter.tenancy.scoping import current_organisation_id

        return {"parent": current_organisation_id(request)}


@admin.register(Membership)
class MembershipAdmin(ScopedAdmin):
    change_permission = MEMBERS_MANAGE
    list_display = ["user", "organisation", "role", "is_active", "created_at"]
    list_filter = ["role", "is_active"]
    search_fields = ["user__username", "user__first_name", "user__last_name"]
    fields = ["organisation", "user", "role", "is_active"]
    list_select_related = ["user", "organisation"]
    raw_id_fields = []

    def get_readonly_fields(self, request, obj=None):
        return ["organisation", "user"] if obj is not None else []

    def has_add_permission(self, request):
        # New people join through invites.
        return False


class AccessGrantForm(forms.ModelForm):
    grantee_code = forms.CharField(
        label=_("grantee organisation code"),
        help_text=_("The code of the maintenance company's organisation."),
    )

    class Meta:
        model = AccessGrant
        fields = ["organisation", "role"]

    def clean(self):
        cleaned = super().clean()
        code = (cleaned.get("grantee_code") or "").strip()
        organisation = cleaned.get("organisation")
        grantee = Organisation.objects.filter(code=code).first()
        if grantee is None or grantee == organisation:
            self.add_error("grantee_code", _("No other organisation has this code."))
        elif AccessGrant.objects.filter(
            organisation=organisation, grantee=grantee, revoked_at__isnull=True
        ).exists():
            self.add_error("grantee_code", _("This organisation already has access."))
        return cleaned


@admin.register(AccessGrant)
class AccessGrantAdmin(ScopedAdmin):
    change_permission = MEMBERS_MANAGE
    list_display = ["grantee", "organisation", "role", "granted_by", "created_at", "revoked_at"]
    list_filter = ["role", ("revoked_at", admin.EmptyFieldListFilter)]
    search_fields = ["grantee__name", "grantee__code"]
    list_select_related = ["grantee", "organisation", "granted_by"]
    actions = ["export_selected", "revoke"]

    def get_form(self, request, obj=None, change=False, **kwargs):
        if obj is None:
            kwargs["form"] = AccessGrantForm
        return super().get_form(request, obj, change, **kwargs)

    def get_fields(self, request, obj=None):
        if obj is None:
            return ["organisation", "grantee_code", "role"]
        return [
            "organisation",
            "grantee",
            "role",
            "granted_by",
            "created_at",
            "revoked_at",
            "revoked_by",
        ]

    def get_readonly_fields(self, request, obj=None):
        return self.get_fields(request, obj) if obj is not None else []

    def has_change_permission(self, request, obj=None):
        return obj is None and super().has_change_permission(request, obj)

    def has_delete_permission(self, request, obj=None):
        return False

    def save_model(self, request, obj, form, change):
        grant = services.grant_access(
            request.user, obj.organisation, form.cleaned_data["grantee_code"], obj.role
        )
        obj.pk, obj.grantee, obj.granted_by = grant.pk, grant.grantee, grant.granted_by

    @admin.action(description=_("Revoke selected grants"))
    def revoke(self, request, queryset):
        count = 0
        for grant in queryset.filter(revoked_at__isnull=True):
            if self.has_delete_permission(request) or self.scope(request).can(
                MEMBERS_MANAGE, grant.organisation_id
            ):
                services.revoke_access(request.user, grant)
                count += 1
        self.message_user(
            request, _("%(count)d grants revoked.") % {"count": count}, messages.SUCCESS
        )


@admin.register(Invite)
class InviteAdmin(ScopedAdmin):
    change_permission = MEMBERS_MANAGE
    list_display = [
        "organisation",
        "role",
        "created_by",
        "created_at",
        "expires_at",
        "accepted_by",
        "link",
    ]
    list_filter = ["role"]
    search_fields = ["organisation__name", "created_by__username", "accepted_by__username"]
    list_select_related = ["organisation", "created_by", "accepted_by"]

    def get_fields(self, request, obj=None):
        if obj is None:
            return ["organisation", "role"]
        return [
            "organisation",
            "role",
            "link",
            "created_by",
            "created_at",
            "expires_at",
            "accepted_by",
            "accepted_at",
        ]

    def get_readonly_fields(self, request, obj=None):
        return self.get_fields(request, obj) if obj is not None else []

    def has_change_permission(self, request, obj=None):
        return obj is None and super().has_change_permission(request, obj)

    @admin.display(description=_("invite link"))
    def link(self, obj):
        if obj.accepted_at is not None or obj.is_expired():
            return "—"
        return format_html("<code data-invite-link>{}</code>", reverse("invite", args=[obj.token]))

    def save_model(self, request, obj, form, change):
        invite = services.create_invite(request.user, obj.organisation, obj.role)
        obj.pk, obj.token = invite.pk, invite.token

    def response_add(self, request, obj, post_url_continue=None):
        self.message_user(
            request,
            _("Invite created. Send this link (valid 24 hours): %(url)s")
            % {"url": request.build_absolute_uri(reverse("invite", args=[obj.token]))},
            messages.SUCCESS,
        )
        return super().response_add(request, obj, post_url_continue)


@admin.register(AuditEntry)
class AuditEntryAdmin(ScopedReadOnlyAdmin):
    list_display = [
        "at",
        "actor",
        "action",
        "object_type",
        "object_repr",
        "organisation",
        "changes",
    ]
    list_filter = ["action", "object_type", ("at", RangeDateTimeFilter)]
    search_fields = ["object_repr", "actor__username", "object_id"]
    list_select_related = ["actor", "organisation"]
    fields = [
        "at",
        "actor",
        "organisation",
        "action",
        "object_type",
        "object_id",
        "object_repr",
        "before",
        "after",
    ]
    export_columns = (
        "at",
        "actor",
        "action",
        "object_type",
        "object_id",
        "object_repr",
        "organisation",
        "before",
        "after",
    )
    date_hierarchy = "at"

    def has_module_permission(self, request):
        return self.scope(request).can(AUDIT_VIEW)

    def has_view_permission(self, request, obj=None):
        if obj is None:
            return self.scope(request).can(AUDIT_VIEW)
        return self.scope(request).can(AUDIT_VIEW, obj.organisation_id)

    def get_queryset(self, request):
        scope = self.scope(request)
        return self.model._default_manager.filter(
            organisation_id__in=scope.organisations_allowing(AUDIT_VIEW)
        )

    @admin.display(description=_("before → after"))
    def changes(self, obj):
        keys = sorted(set(obj.before or {}) | set(obj.after or {}))
        parts = [
            f"{k}: {(obj.before or {}).get(k, '')} → {(obj.after or {}).get(k, '')}"
            for k in keys[:6]
        ]
        return "; ".join(parts)

"""The public page behind an invite link: join an organisation as a new or logged-in user."""

from __future__ import annotations

from django import forms
from django.contrib import admin
from django.contrib.auth import login
from django.shortcuts import redirect
from django.template.response import TemplateResponse
from django.utils.translation import gettext_lazy as _
from unfold.widgets import UnfoldAdminPasswordWidget, UnfoldAdminTextInputWidget

from submeter.errors import ServiceError
from submeter.tenancy import services


class JoinForm(forms.Form):
    username = forms.CharField(
        label=_("user name"), max_length=150, widget=UnfoldAdminTextInputWidget
    )
    password = forms.CharField(label=_("password"), widget=UnfoldAdminPasswordWidget)
    password_again = forms.CharField(label=_("password again"), widget=UnfoldAdminPasswordWidget)

    def clean(self):
        cleaned = super().clean()
        if cleaned.get("password") != cleaned.get("password_again"):
            self.add_error("password_again", _("The two passwords differ."))
        return cleaned


def accept_invite(request, token: str):
    context = {**admin.site.each_context(request), "title": _("Join an organisation")}
    try:
        invite = services.check_invite(token)
    except ServiceError as exc:
        context["problem"] = exc.message
        return TemplateResponse(request, "tenancy/invite.html", context, status=exc.status)
    logged_in = request.user.is_authenticated
    form = None if logged_in else JoinForm(request.POST or None)
    if request.method == "POST" and (logged_in or form.is_valid()):
        try:
            membership = services.accept_invite(
                token,
                user=request.user if logged_in else None,
                username="" if logged_in else form.cleaned_data["username"],
                password="" if logged_in else form.cleaned_data["password"],
            )
        except ServiceError as exc:
            if form is not None and exc.fields:
                for name, messages in exc.fields.items():
                    for message in messages:
                        form.add_error(name if name in form.fields else None, message)
            else:
                context["problem"] = exc.message
                return TemplateResponse(request, "tenancy/invite.html", context, status=exc.status)
        else:
            if not logged_in:
                login(request, membership.user, backend="django.contrib.auth.backends.ModelBackend")
            return redirect("admin:index")
    context.update({"invite": invite, "form": form})
    return TemplateResponse(request, "tenancy/invite.html", context)

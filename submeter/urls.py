from django.contrib import admin
from django.urls import include, path
from django.views.generic import RedirectView

from submeter.tenancy.views import accept_invite

urlpatterns = [
    path("", RedirectView.as_view(pattern_name="admin:index", permanent=False)),
    path("console/", admin.site.urls),
    path("i18n/", include("django.conf.urls.i18n")),
    path("invite/<str:token>/", accept_invite, name="invite"),
    path("api/", include("submeter.api.urls")),
]

handler404 = "submeter.api.errors.not_found"

"""URL configuration: the dashboard, auth pages, the admin site and a health check."""

from django.contrib import admin
from django.contrib.auth import views as auth_views
from django.urls import include, path

urlpatterns = [
    path("", include("reviews.urls")),
    path("login/", auth_views.LoginView.as_view(redirect_authenticated_user=True), name="login"),
    path("logout/", auth_views.LogoutView.as_view(), name="logout"),
    path("admin/", admin.site.urls),
    path("api/", include("reviews.api.urls")),
]

admin.site.site_header = "GRM workbench administration"
admin.site.site_title = "GRM workbench"

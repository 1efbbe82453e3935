from django.conf import settings
from django.contrib import admin
from django.contrib.auth.decorators import login_required
from django.urls import include, path
from django.views.generic import RedirectView
from drf_spectacular.views import SpectacularAPIView, SpectacularSwaggerView

from config.media import MediaFileView

# Under /api/ a URL no view takes, and a crash, are answered in JSON too.
handler404 = "config.errors.not_found"
handler500 = "config.errors.crashed"

urlpatterns = [
    path("", RedirectView.as_view(url="/admin/", permanent=False)),
    path("admin/", admin.site.urls),
    path("api/v1/", include("config.api")),
    path("api/schema/", SpectacularAPIView.as_view(), name="api-schema"),
    # For signed-in people only: a browser that is not is sent to the console's login.
    path(
        "api/docs/",
        login_required(
            SpectacularSwaggerView.as_view(url_name="api-schema"), login_url="admin:login"
        ),
        name="api-docs",
    ),
    # Stored files, for members of their workspace only (config/media.py).
    path(f"{settings.MEDIA_URL.strip('/')}/<path:name>", MediaFileView.as_view(), name="media"),
]
if settings.FARM_SANDBOX_ENABLED:  # the demo's and the tests' practice platform
    urlpatterns.append(path("sandbox/", include("sandbox.urls")))

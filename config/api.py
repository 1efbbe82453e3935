"""The API's router: every app registers its viewsets here under /api/v1/."""

from django.urls import include, path
from rest_framework.routers import DefaultRouter

from accounts.api.views import AccountViewSet
from capture.api.views import CapturedSessionViewSet
from training.api.views import ExportViewSet
from uploads.api.views import PostViewSet, QueueStatusView

router = DefaultRouter()
router.register("accounts", AccountViewSet, basename="account")
router.register("posts", PostViewSet, basename="post")
router.register("capture/sessions", CapturedSessionViewSet, basename="captured-session")
router.register("training/exports", ExportViewSet, basename="training-export")

urlpatterns = [
    path("queue/", QueueStatusView.as_view(), name="queue-status"),
    path("", include(router.urls)),
]

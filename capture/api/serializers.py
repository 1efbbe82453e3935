from __future__ import annotations

from rest_framework import serializers

from capture.models import CapturedSession, Screenshot
from capture.services import MAX_EVENTS_PER_BATCH
from core.fields import StrictCharField


class ViewportSerializer(serializers.Serializer):
    width = serializers.IntegerField(min_value=1, max_value=100_000)
    height = serializers.IntegerField(min_value=1, max_value=100_000)


class SessionOpenInputSerializer(serializers.Serializer):
    workspace = serializers.IntegerField(
        required=False, help_text="Needed only by a member of several workspaces."
    )
    kind = serializers.ChoiceField(
        choices=CapturedSession.Kind.choices, default=CapturedSession.Kind.HUMAN
    )
    start_url = StrictCharField(max_length=2000, required=False, allow_blank=True)
    viewport = ViewportSerializer(required=False, allow_null=True)
    user_agent = StrictCharField(max_length=500, required=False, allow_blank=True)
    task = StrictCharField(max_length=10_000, required=False, allow_blank=True)
    account = serializers.IntegerField(required=False, allow_null=True)


class SessionOutputSerializer(serializers.ModelSerializer):
    viewport = serializers.SerializerMethodField()
    # As recorded (and masked): not always a URL.
    start_url = serializers.CharField(read_only=True)

    class Meta:
        model = CapturedSession
        fields = [
            "id",
            "workspace",
            "kind",
            "state",
            "account",
            "attempt",
            "started_at",
            "ended_at",
            "start_url",
            "viewport",
            "user_agent",
            "task",
            "events_count",
            "masked_kinds",
            "completeness",
            "selector_reliability",
            "training_value",
            "quality",
            "quality_details",
            "rejection_reason",
            "archived_at",
        ]
        read_only_fields = fields

    def get_viewport(self, session: CapturedSession) -> dict[str, int | None] | None:
        if session.viewport_width is None and session.viewport_height is None:
            return None
        return {"width": session.viewport_width, "height": session.viewport_height}


class EventsInputSerializer(serializers.Serializer):
    """For the schema only: events are checked one by one by the service."""

    events = serializers.ListField(
        # Any JSON: an event that is not a well-formed object comes back in `errors`.
        child=serializers.JSONField(),
        max_length=MAX_EVENTS_PER_BATCH,
        help_text="Up to 1,000 events in the recorder's format (see docs/design.md).",
    )


class EventErrorSerializer(serializers.Serializer):
    index = serializers.IntegerField()
    sequence = serializers.IntegerField(allow_null=True)
    # `errors` is the JSON key. The stubs see it clash with Serializer.errors, which
    # DRF's metaclass leaves alone by taking declared fields off the class.
    errors = serializers.DictField(  # type: ignore[assignment]
        child=serializers.ListField(child=serializers.CharField())
    )


class AppendOutputSerializer(serializers.Serializer):
    added = serializers.IntegerField()
    duplicates = serializers.IntegerField()
    errors = EventErrorSerializer(many=True)  # type: ignore[assignment]  # the JSON key, as above


class ScreenshotInputSerializer(serializers.Serializer):
    image = serializers.FileField(help_text="PNG or JPEG; stored as WebP.")
    sequence = serializers.IntegerField(required=False, allow_null=True, min_value=0)


class ScreenshotOutputSerializer(serializers.ModelSerializer):
    class Meta:
        model = Screenshot
        fields = [
            "id",
            "session",
            "sequence",
            "width",
            "height",
            "size_bytes",
            "sha256",
            "taken_at",
        ]
        read_only_fields = fields

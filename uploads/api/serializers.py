"""Shapes of the posts API: input serializers check types, the services check the rules."""

from __future__ import annotations

from datetime import datetime
from typing import Any

from drf_spectacular.utils import extend_schema_field
from rest_framework import serializers

from core.fields import QueryIntegerField, StrictCharField
from uploads.models import Post, PostAttempt, PostStatus
from uploads.publishers.base import Publisher
from uploads.services import BULK_MAX_ROWS
from uploads.validation import known_time_zones


class ScheduleField(serializers.DateTimeField):
    """An ISO 8601 time that stays naive when it has no offset.

    DRF would read a naive time in the server's zone; the service reads it in
    the post's `timezone` instead, and refuses it when none is given.
    """

    def enforce_timezone(self, value: datetime) -> datetime:
        return value


# What the service checks, stated in the schema too; the fields themselves let values
# through so the service's own messages explain what a post needs, all in one answer.
@extend_schema_field({"type": "string", "minLength": 1, "maxLength": 200, "pattern": r"\S"})
class TitleField(StrictCharField):
    """A title: up to 200 characters, not only spaces."""

    schema_allows_blank = False
    max_characters = 200

    def to_internal_value(self, data: Any) -> str:
        # Counted as sent, as the schema counts it, in the service's words.
        if isinstance(data, str) and len(data) > self.max_characters:
            raise serializers.ValidationError(
                f"The title has {len(data)} characters; the maximum is {self.max_characters}."
            )
        return super().to_internal_value(data)


@extend_schema_field({"type": "string", "maxLength": Publisher.caption_max_length})
class CaptionField(StrictCharField):
    """A caption: at most what the account's platform allows."""


@extend_schema_field({"type": "integer", "minimum": 1, "maximum": 10})
class PriorityField(serializers.IntegerField):
    """1 (lowest) to 10 (highest)."""


@extend_schema_field(
    {"type": "string", "nullable": True, "enum": [*sorted(known_time_zones()), "", None]}
)
class TimeZoneField(StrictCharField):
    """An IANA time zone name from the tz database's list."""


@extend_schema_field({"type": "string", "enum": [Post.Kind.TEXT]})
class BulkKindField(serializers.ChoiceField):
    """Bulk creation takes text posts only."""


class PostCreateInputSerializer(serializers.Serializer):
    workspace = serializers.IntegerField(
        required=False,
        allow_null=True,
        help_text="Needed only when you belong to more than one workspace.",
    )
    account = serializers.IntegerField()
    kind = serializers.ChoiceField(choices=Post.Kind.choices, default=Post.Kind.TEXT)
    # Blank is let through so the service's own message explains what a title needs.
    title = TitleField(allow_blank=True)
    caption = CaptionField(allow_blank=True, default="", trim_whitespace=False)
    media = serializers.FileField(
        required=False, allow_null=True, help_text="Required for image and video posts."
    )
    priority = PriorityField(default=5, help_text="1 (lowest) to 10 (highest).")
    scheduled_for = ScheduleField(
        required=False,
        allow_null=True,
        help_text="ISO 8601; a time without offset is read in `timezone`. Default: now.",
    )
    timezone = TimeZoneField(
        required=False,
        allow_null=True,
        allow_blank=True,
        help_text="IANA time zone name, e.g. Europe/Paris.",
    )
    campaign = serializers.IntegerField(required=False, allow_null=True)


class BulkPostRowInputSerializer(serializers.Serializer):
    account = serializers.IntegerField()
    kind = BulkKindField(choices=Post.Kind.choices, default=Post.Kind.TEXT)
    title = TitleField(allow_blank=True)
    caption = CaptionField(allow_blank=True, default="", trim_whitespace=False)
    priority = PriorityField(default=5, help_text="1 (lowest) to 10 (highest).")
    scheduled_for = ScheduleField(required=False, allow_null=True)
    timezone = TimeZoneField(required=False, allow_null=True, allow_blank=True)
    campaign = serializers.IntegerField(required=False, allow_null=True)

    def validate_kind(self, value: str) -> str:
        if value != Post.Kind.TEXT:
            raise serializers.ValidationError(
                f"Bulk creation takes text posts only; create {value} posts one at a time "
                "with their media file at /api/v1/posts/."
            )
        return value


class BulkPostsInputSerializer(serializers.Serializer):
    workspace = serializers.IntegerField(
        required=False,
        allow_null=True,
        help_text="Needed only when you belong to more than one workspace.",
    )
    # With many=True, DRF hands min_length/max_length to the ListSerializer it
    # builds; the stubs' Serializer.__init__ does not list them.
    posts = BulkPostRowInputSerializer(  # type: ignore[call-arg]
        many=True, min_length=1, max_length=BULK_MAX_ROWS
    )


class BulkRowErrorSerializer(serializers.Serializer):
    row = serializers.IntegerField(
        allow_null=True, help_text="Index of the bad row; null for a problem with the request."
    )
    # `errors` is the JSON key. The stubs see it clash with Serializer.errors, which
    # DRF's metaclass leaves alone by taking declared fields off the class.
    errors = serializers.DictField(  # type: ignore[assignment]
        child=serializers.ListField(child=serializers.CharField()),
        help_text="Messages by field name.",
    )


class BulkErrorsSerializer(serializers.Serializer):
    errors = BulkRowErrorSerializer(many=True)  # type: ignore[assignment]  # the JSON key, as above


class PostOutputSerializer(serializers.ModelSerializer):
    class Meta:
        model = Post
        fields = [
            "id",
            "workspace",
            "account",
            "campaign",
            "kind",
            "title",
            "caption",
            "media",
            "priority",
            "scheduled_for",
            "status",
            "publish_token",
            "attempts_count",
            "max_attempts",
            "next_attempt_at",
            "platform_post_id",
            "platform_url",
            "last_error",
            "posted_at",
            "created_at",
        ]
        read_only_fields = fields


class PostAttemptOutputSerializer(serializers.ModelSerializer):
    class Meta:
        model = PostAttempt
        fields = [
            "number",
            "dispatched_at",
            "started_at",
            "finished_at",
            "worker",
            "outcome",
            "error_kind",
            "message",
            "browser_reused",
            "screenshot",
        ]
        read_only_fields = fields


class PostDetailOutputSerializer(PostOutputSerializer):
    attempts = PostAttemptOutputSerializer(many=True, read_only=True)

    class Meta(PostOutputSerializer.Meta):
        fields = [*PostOutputSerializer.Meta.fields, "attempts"]
        read_only_fields = fields


class BulkCreatedSerializer(serializers.Serializer):
    posts = PostOutputSerializer(many=True)


class RequeueDeadInputSerializer(serializers.Serializer):
    ids = serializers.ListField(
        child=serializers.IntegerField(min_value=1, max_value=2**63 - 1),
        min_length=1,
        max_length=BULK_MAX_ROWS,
        help_text="Ids of dead posts, e.g. from /api/v1/posts/dead/.",
    )


class RequeueSkippedSerializer(serializers.Serializer):
    id = serializers.IntegerField()
    reason = serializers.CharField()


class RequeueDeadOutputSerializer(serializers.Serializer):
    requeued = serializers.ListField(
        child=serializers.IntegerField(), help_text="Back in `scheduled` with fresh attempts."
    )
    skipped = RequeueSkippedSerializer(many=True, help_text="Left alone, each with the reason.")


# One count per status, built from the model so a new status cannot be left out.
QueueByStatusSerializer = type(
    "QueueByStatusSerializer",
    (serializers.Serializer,),
    {status: serializers.IntegerField() for status in PostStatus.values},
)


class QueueStatusOutputSerializer(serializers.Serializer):
    by_status = QueueByStatusSerializer()
    posted_last_hour = serializers.IntegerField()
    posted_last_day = serializers.IntegerField()
    accounts_needing_attention = serializers.IntegerField(
        help_text="Accounts that need a login, are paused, or failed 3 times or more in a row."
    )


class QueueStatusQuerySerializer(serializers.Serializer):
    workspace = QueryIntegerField(
        required=False, help_text="Only this workspace (default: all of yours)."
    )

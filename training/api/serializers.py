"""Shapes of the training-data export API."""

from __future__ import annotations

from rest_framework import serializers

from capture.models import CapturedSession
from core.fields import StrictFloatField
from training.formats import MESSAGES
from training.models import Export, ExportFormat
from training.split import MAX_VALIDATION_SHARE


class ExportCreateInputSerializer(serializers.Serializer):
    workspace = serializers.IntegerField(
        required=False,
        min_value=1,
        max_value=2**63 - 1,
        help_text="Needed when you belong to several workspaces.",
    )
    format = serializers.ChoiceField(choices=ExportFormat.choices, default=MESSAGES)
    kinds = serializers.ListField(
        child=serializers.ChoiceField(choices=CapturedSession.Kind.choices),
        default=list,
        help_text="Session kinds to take; empty takes all.",
    )
    min_quality = StrictFloatField(required=False, allow_null=True, min_value=0, max_value=1)
    started_from = serializers.DateTimeField(required=False, allow_null=True)
    started_until = serializers.DateTimeField(required=False, allow_null=True)
    validation_share = StrictFloatField(default=0.1, min_value=0, max_value=MAX_VALIDATION_SHARE)


class ExportOutputSerializer(serializers.ModelSerializer):
    progress_percent = serializers.IntegerField(read_only=True)

    class Meta:
        model = Export
        fields = [
            "id",
            "workspace",
            "format",
            "kinds",
            "min_quality",
            "started_from",
            "started_until",
            "validation_share",
            "schedule",
            "state",
            "progress_percent",
            *Export.COUNT_FIELDS,
            "warnings",
            "errors",
            "train_file",
            "validation_file",
            "created_at",
            "started_at",
            "finished_at",
        ]
        read_only_fields = fields

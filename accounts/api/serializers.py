from __future__ import annotations

from rest_framework import serializers

from accounts.models import Account
from core.fields import StrictCharField


class AccountOutputSerializer(serializers.ModelSerializer):
    # An explicit list: credentials and cookies must never leave the server.
    class Meta:
        model = Account
        fields = [
            "id",
            "workspace",
            "platform",
            "handle",
            "state",
            "state_reason",
            "daily_quota",
            "quota_used",
            "last_posted_at",
            "last_error_kind",
            "consecutive_failures",
            "created_at",
        ]
        read_only_fields = fields


class AccountPauseInputSerializer(serializers.Serializer):
    reason = StrictCharField(max_length=500, required=False, allow_blank=True)

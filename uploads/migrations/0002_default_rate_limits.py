from django.db import migrations

# The platforms' posted limits for "post" (per hour, per day); the sandbox is generous.
DEFAULTS = {
    "tiktok": (3, 10),
    "instagram": (5, 15),
    "youtube": (5, 20),
    "x": (10, 50),
    "reddit": (2, 10),
    "sandbox": (1000, 10000),
}


def add_defaults(apps, schema_editor):
    RateLimitRule = apps.get_model("uploads", "RateLimitRule")
    for platform, (per_hour, per_day) in DEFAULTS.items():
        RateLimitRule.objects.get_or_create(
            platform=platform,
            action="post",
            defaults={"per_hour": per_hour, "per_day": per_day, "min_interval_seconds": 0},
        )


def remove_defaults(apps, schema_editor):
    apps.get_model("uploads", "RateLimitRule").objects.filter(action="post").delete()


class Migration(migrations.Migration):
    dependencies = [("uploads", "0001_initial")]
    operations = [migrations.RunPython(add_defaults, remove_defaults)]

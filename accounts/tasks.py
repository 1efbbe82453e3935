from celery import shared_task

from accounts.services import accounts_reset_daily_quotas


@shared_task(ignore_result=True)
def reset_daily_quotas() -> int:
    return accounts_reset_daily_quotas()

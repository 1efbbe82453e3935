from celery import shared_task

from capture.services import sessions_archive_expired


@shared_task(ignore_result=True)
def archive_expired_sessions() -> int:
    """Archive sessions past their workspace's retention; safe to run twice."""
    return sessions_archive_expired()

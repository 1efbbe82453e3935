"""The one message the farm sends about a post: "publish post N now".

Services below the tasks module (the dispatcher, the worker's hand-off)
find the task by its registered name (`core.tasks.registered_task`), so they
do not import the tasks that import them.
"""

from __future__ import annotations

import logging
from collections.abc import Iterable

# kombu has it; kombu-stubs does not declare it.
from kombu.exceptions import BatchPublishError  # type: ignore[attr-defined]

from core.tasks import registered_task

logger = logging.getLogger(__name__)

PUBLISH_TASK = "uploads.tasks.publish_post"


def publish_messages_send(post_ids: Iterable[int]) -> None:
    """One "publish post N now" message per post, over one broker connection.

    Celery's own `apply_async` builds each message; kombu's publish batch
    pipelines them (on Redis; other transports publish them one by one).
    """
    post_ids = list(post_ids)
    if not post_ids:
        return
    publish_post = registered_task(PUBLISH_TASK)
    try:
        with publish_post.app.producer_or_acquire() as producer, producer.batch():
            for post_id in post_ids:
                publish_post.apply_async((post_id,), producer=producer)
    except BatchPublishError:
        # Some may have reached the broker, some not: send them all again,
        # one by one with Celery's retries. A second message is harmless
        # (the worker's claim is a conditional UPDATE).
        logger.warning("publish batch failed, sending %d one by one", len(post_ids), exc_info=True)
        for post_id in post_ids:
            publish_post.apply_async((post_id,))

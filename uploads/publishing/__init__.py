"""Publishing posts through a browser, and what each outcome does to them.

- `leases`: claiming a queued post, leaving `publishing` only while holding
  its lease, the heartbeat that renews leases, and reaping expired ones;
- `outcomes`: the table from a publisher's error to the post's next state,
  and recording an attempt's end;
- `run`: the run loop (one warm browser serves an account's queued posts);
- `reconcile`: asking the platform about posts whose outcome is unknown.
"""

from uploads.publishing.leases import (
    post_leases_expire,
    post_leases_renew,
    posts_reap_expired_leases,
)
from uploads.publishing.outcomes import OUTCOME_RULES, Outcome, OutcomeRule, backoff_seconds
from uploads.publishing.reconcile import posts_reconcile_unknown
from uploads.publishing.run import post_publish, post_publish_with_driver

__all__ = [
    "OUTCOME_RULES",
    "Outcome",
    "OutcomeRule",
    "backoff_seconds",
    "post_leases_expire",
    "post_leases_renew",
    "post_publish",
    "post_publish_with_driver",
    "posts_reap_expired_leases",
    "posts_reconcile_unknown",
]

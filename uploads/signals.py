"""What happens to posts and platforms, announced to the apps above uploads.

monitoring turns these into alerts (monitoring/receivers.py). Each is sent
inside the transaction of the change it announces.
"""

from django.dispatch import Signal

# A platform refused a post's content; kwargs: post, message.
post_rejected = Signal()
# A post used up its attempts; kwargs: post, attempts, message.
post_dead = Signal()
# A platform's circuit opened (or opened again after a failed probe);
# kwargs: platform, message (already worded for people).
circuit_opened = Signal()
# A platform's circuit closed (a probe went through, or an operator closed it); kwargs: platform.
circuit_closed = Signal()

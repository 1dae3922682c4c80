"""The base class of every Celery task of the platform (`task_cls` of the app in config/celery.py).

Tasks acknowledge late and are rejected back to the queue when their worker dies, so a message
that kills its worker (a segfault, the OOM killer, `os._exit`) would come back, kill the next
worker, and block its queue forever. This class bounds that: from a message's first redelivery on,
each start is counted in the database (committed before the task body runs, so the death cannot
undo it), and once a message has started `TASK_MAX_DELIVERIES` times without returning, its next
delivery is recorded as a `DeadLetter` and acknowledged without running. First deliveries, and
tasks run eagerly, cost nothing. The same mechanism works on Redis and RabbitMQ: both mark a message
they hand out again as redelivered (docs/decisions/0013-dead-letters.md).
"""

from __future__ import annotations

import logging
import os

from celery import Task
from celery.exceptions import Ignore

logger = logging.getLogger(__name__)


class DeliveryLimitedTask(Task):
    def _counts(self) -> bool:
        request = self.request
        return bool(
            self.acks_late
            and not request.is_eager
            and not request.called_directly
            and (request.delivery_info or {}).get("redelivered")
        )

    def before_start(self, task_id, args, kwargs):
        if not self._counts():
            return
        from . import services

        request = self.request
        try:
            delivery = services.task_delivery_count(
                task_id=task_id,
                retries=request.retries or 0,
                task_name=self.name,
                worker=f"{request.hostname or '?'} pid {os.getpid()}",
            )
            if delivery.deliveries <= services.task_max_deliveries():
                return
            services.dead_letter_record(
                delivery=delivery,
                args=args,
                kwargs=kwargs,
                queue=(request.delivery_info or {}).get("routing_key") or "",
            )
        except Exception:
            # The count is a safety net, not a gate: a database error here must not fail (and so
            # acknowledge and lose) a message that may be fine. The task runs; its next
            # redelivery, if any, is counted again.
            logger.exception("could not count the delivery of %s[%s]; running it", self.name, task_id)
            return
        raise Ignore("dead-lettered")  # acknowledged without running

    def after_return(self, status, retval, task_id, args, kwargs, einfo):
        if not self._counts():
            return
        from . import services

        try:
            services.task_delivery_done(task_id=task_id, retries=self.request.retries or 0)
        except Exception:  # the row only matters if the message comes back; never fail a finished task
            logger.exception("could not clear the delivery count of %s[%s]", self.name, task_id)

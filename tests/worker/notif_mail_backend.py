"""An e-mail backend for the worker kill test: a receiver whose intake is transactional.

Each message first goes into the send log (a file: what an SMTP server would have received,
including sends whose transaction a SIGKILL then rolled back), then, after a pause like an SMTP
round trip, becomes one row of `notif_sent_mail` written through the worker's database connection,
inside the delivery's transaction: it commits together with the delivery's `sent_at`, or not at all.
"""

from __future__ import annotations

import os
import time

from django.conf import settings
from django.core.mail.backends.base import BaseEmailBackend
from django.db import connection

TABLE = "notif_sent_mail"
CREATE = f"""
CREATE TABLE IF NOT EXISTS {TABLE} (
    id bigserial PRIMARY KEY,
    delivery_key text NOT NULL,
    recipient text NOT NULL,
    pid integer NOT NULL,
    sent_at timestamptz NOT NULL DEFAULT now()
)
"""  # no unique constraint on purpose: a duplicate must show, not fail
DROP = f"DROP TABLE IF EXISTS {TABLE}"


class RecordingBackend(BaseEmailBackend):
    def send_messages(self, email_messages):
        for message in email_messages:
            key = message.extra_headers["X-Delivery-Key"]
            with open(settings.NOTIF_SEND_LOG, "a", encoding="utf-8") as log:  # one write(2) per line
                log.write(f"{key}\t{os.getpid()}\n")
            time.sleep(settings.NOTIF_SEND_DELAY)
            with connection.cursor() as cursor:
                cursor.execute(
                    f"INSERT INTO {TABLE} (delivery_key, recipient, pid) VALUES (%s, %s, %s)",  # noqa: S608
                    [key, message.to[0], os.getpid()],
                )
        return len(email_messages)

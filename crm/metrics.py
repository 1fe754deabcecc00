"""Prometheus metrics of the bot, defined in one place; the api serves them at /metrics.

Counters and histograms are updated where things happen (callback, Rasa client, delivery
worker). The outbox backlog and the handoff queue are read from the database at each scrape,
so every api worker reports the same, current figures. With several api workers, set
PROMETHEUS_MULTIPROC_DIR (an empty directory, the same for all workers) before they start:
prometheus-client then keeps counters in files there and /metrics adds up all workers.
"""

from __future__ import annotations

from collections.abc import Iterable

from prometheus_client import Counter, Histogram
from prometheus_client.core import GaugeMetricFamily
from prometheus_client.registry import Collector
from sqlalchemy import func, select

from crm.db import session_scope
from crm.handoff.models import Handoff
from crm.outbox.models import OutboxItem

# The callback must answer within WeChat's 5 s; the buckets resolve the budget (4 s) around it.
LATENCY_BUCKETS = (0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2, 3, 3.5, 4, 4.5, 5, 7.5, 10)

MESSAGES_IN = Counter(
    "jiangxin_messages_in",
    "Pushes received from WeChat, by channel (oa, mp) and message type",
    ["channel", "msg_type"],
)
MESSAGES_OUT = Counter(
    "jiangxin_messages_out",
    "Messages to customers: passive replies and items sent through the WeChat API",
    ["channel", "via"],
)
CALLBACK_SECONDS = Histogram(
    "jiangxin_callback_seconds",
    "Time from a push's arrival to the callback's answer",
    ["channel"],
    buckets=LATENCY_BUCKETS,
)
RASA_SECONDS = Histogram(
    "jiangxin_rasa_seconds",
    "Time of one REST webhook call to Rasa, by outcome (ok, error)",
    ["outcome"],
    buckets=(*LATENCY_BUCKETS, 20, 30, 60),
)
REPLIES_DEFERRED = Counter(
    "jiangxin_replies_deferred",
    "Messages the bot did not answer within the reply budget: answered later through the API "
    "(why: late, Rasa took too long; busy, Rasa's queue said at once that it would)",
    ["channel", "why"],
)
UNFINISHED_OUTBOX = ("pending", "sending")


class DomainGauges(Collector):
    """Figures read from the database at scrape time: outbox backlog, handoff queue length."""

    def collect(self) -> Iterable[GaugeMetricFamily]:
        with session_scope() as session:
            backlog = session.scalar(
                select(func.count())
                .select_from(OutboxItem)
                .where(OutboxItem.status.in_(UNFINISHED_OUTBOX))
            )
            queued = session.scalar(
                select(func.count()).select_from(Handoff).where(Handoff.state == "queued")
            )
        yield GaugeMetricFamily(
            "jiangxin_outbox_backlog",
            "Outbox items not yet sent (pending or sending)",
            backlog or 0,
        )
        yield GaugeMetricFamily(
            "jiangxin_handoff_queue_length", "Handoffs waiting for an agent", queued or 0
        )

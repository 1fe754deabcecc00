"""GET /metrics: the bot's Prometheus metrics (definitions in crm.metrics)."""

from __future__ import annotations

import asyncio
import os

from fastapi import APIRouter
from fastapi.responses import Response
from prometheus_client import CONTENT_TYPE_LATEST, REGISTRY, CollectorRegistry, generate_latest
from prometheus_client.multiprocess import MultiProcessCollector

from crm.metrics import DomainGauges

router = APIRouter(tags=["health"])


def _render() -> bytes:
    """This process's metrics, or every worker's with PROMETHEUS_MULTIPROC_DIR; then the
    figures read from the database."""
    if os.environ.get("PROMETHEUS_MULTIPROC_DIR"):  # read by prometheus-client itself
        registry = CollectorRegistry()
        MultiProcessCollector(registry)  # type: ignore[no-untyped-call]
    else:
        registry = REGISTRY
    domain = CollectorRegistry()
    domain.register(DomainGauges())
    return generate_latest(registry) + generate_latest(domain)


@router.get("/metrics", include_in_schema=False)
async def metrics() -> Response:
    """Prometheus text exposition format."""
    return Response(await asyncio.to_thread(_render), media_type=CONTENT_TYPE_LATEST)

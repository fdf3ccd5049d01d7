"""/healthz and /metrics while the bot runs on the real Synapse.

The operator endpoint runs beside the Matrix bot: an agent's first message
and answer move the inbound, answer, latency and send metrics for the
`matrix` transport, and /healthz turns unhealthy while the homeserver
cannot be reached, then healthy again once it can.
"""
from __future__ import annotations

import asyncio

import pytest

from tnlbot.ops.http import Endpoint
from tnlbot.ops.monitor import Bounds, Monitor

from ..telegram.test_telegram_health import Operator
from .conftest import direct_room

pytestmark = pytest.mark.synapse


async def until_status(operator: Operator, code: int) -> dict:
    for _ in range(1500):
        status, report = await operator.health()
        if status == code:
            return report
        await asyncio.sleep(0.02)
    raise AssertionError(f"/healthz never answered {code}: {report}")


async def test_matrix_metrics_and_health(bot, agents):
    monitor = Monitor(bot.app, Bounds(receive=120.0, tick=180.0))
    endpoint = Endpoint(monitor)
    operator = Operator(await endpoint.start("127.0.0.1", 0))
    try:
        await bot.start()
        await bot.app.scheduler.tick_once()
        await until_status(operator, 200)
        before = await operator.metrics()
        room, _ = await direct_room(await agents("alice"), bot)
        await room.answer("Mairie de Saint-Libre")
        assert await operator.moved(before, "tnlbot_inbound_events_total", transport="matrix",
                                    kind="text") >= 1
        assert await operator.moved(before, "tnlbot_answers_stored_total") == 1
        assert await operator.moved(before, "tnlbot_dispatch_seconds_count", transport="matrix") >= 2
        assert await operator.moved(before, "tnlbot_sends_total", transport="matrix", result="sent") >= 2
        metrics = await operator.metrics()
        assert metrics[("tnlbot_transport_connected", (("transport", "matrix"),))] == 1
        assert ("tnlbot_last_receive_age_seconds", (("transport", "matrix"),)) in metrics

        client = bot.matrix.client
        homeserver, client.homeserver = client.homeserver, "http://127.0.0.1:9"   # cut
        report = await until_status(operator, 503)
        assert not report["checks"]["transport:matrix"]["ok"] and report["checks"]["store"]["ok"]
        client.homeserver = homeserver
        await until_status(operator, 200)
    finally:
        await operator.http.aclose()
        await endpoint.stop()

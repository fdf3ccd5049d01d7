"""The operator's HTTP endpoint: GET /healthz and GET /metrics.

Off unless `health_listen` is set (e.g. `127.0.0.1:9464`). /healthz answers
200 with a JSON report when every check passes and 503 otherwise; /metrics
answers Prometheus' text format (or OpenMetrics when the scraper asks for
it). Checks and scrapes that read the database run in a worker thread on
PostgreSQL, in the event loop on SQLite (as the dispatcher does).
"""
from __future__ import annotations

from aiohttp import web
from prometheus_client.exposition import choose_encoder

from .monitor import Monitor


def parse_listen(value: str) -> tuple[str, int]:
    """`host:port` or `port`; the host defaults to 127.0.0.1."""
    host, _, port = value.strip().rpartition(":")
    if not port.isdigit() or not 0 <= int(port) < 65536:
        raise ValueError(f"health_listen must be HOST:PORT, got {value!r}")
    return host.strip("[]") or "127.0.0.1", int(port)


class Endpoint:
    def __init__(self, monitor: Monitor):
        self.monitor = monitor
        self.runner: web.AppRunner | None = None
        self.port = 0

    async def healthz(self, request: web.Request) -> web.Response:
        report = await self.monitor.store.off_loop(self.monitor.health)
        return web.json_response(report.to_json(), status=200 if report.ok else 503)

    async def metrics(self, request: web.Request) -> web.Response:
        encoder, content_type = choose_encoder(request.headers.get("Accept", ""))
        body = await self.monitor.store.off_loop(encoder, self.monitor.registry)
        return web.Response(body=body, headers={"Content-Type": content_type})

    async def start(self, host: str, port: int) -> int:
        """Listen; returns the port (useful with port 0)."""
        app = web.Application()
        app.router.add_get("/healthz", self.healthz)
        app.router.add_get("/metrics", self.metrics)
        self.runner = web.AppRunner(app, access_log=None)
        await self.runner.setup()
        site = web.TCPSite(self.runner, host, port)
        await site.start()
        server = site._server
        sockets = getattr(server, "sockets", None) or []
        self.port = sockets[0].getsockname()[1] if sockets else port
        return self.port

    async def stop(self) -> None:
        if self.runner is not None:
            await self.runner.cleanup()
            self.runner = None

"""End to end: whole bot processes over HTTP against a local Bot API server."""

"""The runtime: dispatcher, outbox relay, clock and rate limits."""

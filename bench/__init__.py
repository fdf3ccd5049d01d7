"""Benchmarks of tnlbot against python-telegram-bot and raw SQL (see README.md)."""

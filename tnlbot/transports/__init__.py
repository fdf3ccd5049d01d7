"""Transports: terminal, Telegram, Matrix. They know nothing of questionnaires."""

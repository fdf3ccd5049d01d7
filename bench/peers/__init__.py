"""The python-telegram-bot peers: the usual ConversationHandler way, with and without persistence."""

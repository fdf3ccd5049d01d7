"""Token buckets per chat and per transport, on the runtime's clock."""
from __future__ import annotations

from dataclasses import dataclass, field

from .clock import Clock


@dataclass
class Bucket:
    rate: float        # tokens per second
    burst: float
    tokens: float = -1.0
    stamp: float = 0.0

    def wait_time(self, now: float) -> float:
        if self.tokens < 0:
            self.tokens, self.stamp = self.burst, now
        self.tokens = min(self.burst, self.tokens + (now - self.stamp) * self.rate)
        self.stamp = now
        return 0.0 if self.tokens >= 1 else (1 - self.tokens) / self.rate

    def take(self) -> None:
        self.tokens -= 1


@dataclass
class RateLimiter:
    """`per_chat` and `overall` are messages per second (0 = unlimited)."""
    clock: Clock
    per_chat: float = 0.0
    overall: float = 0.0
    chat_burst: float = 3.0
    _chats: dict[str, Bucket] = field(default_factory=dict)
    _all: Bucket | None = None
    waiting: int = 0       # sends waiting for a token

    @property
    def limited(self) -> bool:
        """Whether there is any limit at all (0 and 0: every send goes at once)."""
        return bool(self.per_chat or self.overall)

    def _buckets(self, chat: str) -> list[Bucket]:
        buckets = []
        if self.per_chat:
            buckets.append(self._chats.setdefault(chat, Bucket(self.per_chat, self.chat_burst)))
        if self.overall:
            if self._all is None:
                self._all = Bucket(self.overall, self.overall)
            buckets.append(self._all)
        return buckets

    async def acquire(self, chat: str) -> None:
        buckets = self._buckets(chat)
        self.waiting += 1
        try:
            while True:
                now = self.clock.now().timestamp()
                wait = max((b.wait_time(now) for b in buckets), default=0.0)
                if wait <= 0:
                    for bucket in buckets:
                        bucket.take()
                    return
                await self.clock.sleep(wait)
        finally:
            self.waiting -= 1

    def take_if_free(self, chat: str) -> bool:
        """Take a token now if this chat (and the transport) has one; never wait."""
        buckets = self._buckets(chat)
        now = self.clock.now().timestamp()
        if max((b.wait_time(now) for b in buckets), default=0.0) > 0:
            return False
        for bucket in buckets:
            bucket.take()
        return True

    def try_acquire(self, chat: str) -> bool:
        """For what nobody waits for: take a token now only if no send waits for one, one
        more is left in the chat's bucket after it (the next question of a person answering
        at once) and half the transport's burst is free."""
        if self.waiting:
            return False
        buckets = self._buckets(chat)
        now = self.clock.now().timestamp()
        for bucket in buckets:
            bucket.wait_time(now)            # refill to now
        if any(bucket.tokens < max(2.0, bucket.burst / 2) for bucket in buckets):
            return False                     # half the transport's burst stays for questions
        for bucket in buckets:
            bucket.take()
        return True

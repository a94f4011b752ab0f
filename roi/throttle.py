"""Progressive delays against guessing, shared by staff sign-in and two-factor codes (roi/sign_in.py,
roi/two_factor.py), the portal's status lookups (portal/lookup.py) and requestor account sign-in
(portal/accounts.py).

Failures are counted against *subjects*: an account, a client address, a remembered browser, a tracking number.
Each subject has a few free failures; past them, every further attempt for it waits a growing interval after the
previous one (`first_wait` seconds, doubling with each failure, never more than `max_wait`). An attempt that comes
too early is refused before anything is checked, and it neither counts nor moves the wait: however hard a stranger
hammers, the longest anyone waits is `max_wait`, never a lockout. Failures are forgotten one at a time, one every
twice `max_wait` (a leaky bucket), so the odd typo never adds up while a steady guesser stays slowed: no subject
gets more than about one guess per `max_wait` over time.

An attempt is *admitted* before the secret is checked, and counted as a failure from that moment: parallel
attempts cannot all slip in before the first failure is recorded. A success takes its count back
(`attempt_succeed`); the caller says which subjects forget everything on a success (the account whose password was
right) and which do not (an address: a sprayer's own valid account must not clear it).

The counters live in Redis, the cache, one hash per subject, and are read and changed by one Lua script per attempt:
atomic across web processes and hosts, expiring by themselves, and costing no database write (nor a tenant, which a
sign-in does not have yet). Keys hold a digest of the subject, not the user name, address or number itself. Times
come from `roi.clock`, so tests step past a wait with `clock.frozen`.
"""

from __future__ import annotations

import hashlib
import math
from collections.abc import Sequence
from dataclasses import dataclass
from typing import Any

from django.core.cache import cache

from roi import clock
from roi.errors import ServiceError

# KEYS: per subject, its hash and its "counts once" marker (the hash again when it has none).
# ARGV: now, then per subject free, first_wait, max_wait, forget_seconds, once_seconds (0: every attempt counts).
# Refuses (nothing changes) when any subject's next turn is still ahead; else counts the attempt against each subject
# and books each one's next turn.
_ADMIT = """
local now = tonumber(ARGV[1])
local subjects = #KEYS / 2
local refused, latest = 0, 0
local rows = {}
for i = 1, subjects do
  local a = 1 + (i - 1) * 5
  local state = redis.call('HMGET', KEYS[2 * i - 1], 'failures', 'since', 'next')
  local failures = tonumber(state[1]) or 0
  local since = tonumber(state[2]) or now
  local next_at = tonumber(state[3]) or 0
  if next_at > now and next_at > latest then
    refused, latest = i, next_at
  end
  local forget = tonumber(ARGV[a + 4])
  local steps = math.floor((now - since) / forget)
  if steps > 0 then
    failures = math.max(0, failures - steps)
    since = since + steps * forget
  end
  if failures == 0 then
    since = now
  end
  rows[i] = {failures, since}
end
if refused > 0 then
  return {0, refused, string.format('%.3f', latest)}
end
local reply = {1, 0, '0'}
for i = 1, subjects do
  local a = 1 + (i - 1) * 5
  local free, first, cap = tonumber(ARGV[a + 1]), tonumber(ARGV[a + 2]), tonumber(ARGV[a + 3])
  local forget, once = tonumber(ARGV[a + 4]), tonumber(ARGV[a + 5])
  local failures, since = rows[i][1], rows[i][2]
  local counted = 1
  if once > 0 and not redis.call('SET', KEYS[2 * i], '1', 'NX', 'EX', once) then
    counted = 0
  end
  failures = failures + counted
  local wait = 0
  if failures >= free then
    wait = math.min(first * 2 ^ (failures - free), cap)
  end
  -- No wait books no turn: a parallel attempt whose clock read a moment earlier must not be refused.
  local next_turn = '0'
  if wait > 0 then
    next_turn = string.format('%.3f', now + wait)
  end
  redis.call('HSET', KEYS[2 * i - 1], 'failures', string.format('%d', failures),
    'since', string.format('%.3f', since), 'next', next_turn)
  redis.call('EXPIRE', KEYS[2 * i - 1], math.ceil(failures * forget + wait) + 1)
  reply[#reply + 1] = failures
  reply[#reply + 1] = counted
  reply[#reply + 1] = string.format('%.3f', now + wait)
end
return reply
"""

# KEYS: subject hashes. ARGV[i]: "forget" drops the subject, else the count to take back (a success was no failure).
_SUCCEED = """
for i = 1, #KEYS do
  if ARGV[i] == 'forget' then
    redis.call('DEL', KEYS[i])
  elseif tonumber(ARGV[i]) > 0 and redis.call('EXISTS', KEYS[i]) == 1 then
    if redis.call('HINCRBY', KEYS[i], 'failures', -tonumber(ARGV[i])) < 0 then
      redis.call('HSET', KEYS[i], 'failures', '0')
    end
  end
end
return 0
"""


@dataclass(frozen=True)
class Policy:
    """How a kind of subject is slowed: `free` failures, then `first_wait` seconds before the next attempt, doubling
    with each further failure up to `max_wait`."""

    name: str
    free: int
    max_wait: int
    first_wait: int = 10

    @property
    def kind(self) -> str:
        """The last part of the name ("account" of "sign-in:account"): what the callers' messages tell apart."""
        return self.name.rsplit(":", 1)[-1]

    @property
    def forget_seconds(self) -> int:
        """One failure is forgotten this often: slower than a capped guesser fails, so one never cools down."""
        return 2 * self.max_wait

    def wait_after(self, failures: int) -> int:
        """Seconds the attempt after `failures` failures must wait after the last one."""
        if failures < self.free:
            return 0
        return min(self.first_wait * 2 ** (failures - self.free), self.max_wait)


@dataclass(frozen=True)
class Subject:
    """What an attempt is counted against. With `once_per` set, the attempt counts only the first time for that
    pair within `once_seconds` (the portal counts each address once against a tracking number), but it waits for
    its turn like every other."""

    policy: Policy
    identity: str
    once_per: str = ""
    once_seconds: int = 3600

    @property
    def key(self) -> str:
        return _key(self.policy.name, self.identity)

    @property
    def once_key(self) -> str:
        return _key(f"{self.policy.name}:once", f"{self.identity}\n{self.once_per}") if self.once_per else self.key


def _key(namespace: str, identity: str) -> str:
    digest = hashlib.sha256(identity.encode()).hexdigest()[:32]
    return cache.make_and_validate_key(f"throttle:{namespace}:{digest}")


@dataclass(frozen=True)
class Attempt:
    """An admitted attempt: what it counted against each subject, for `attempt_succeed` and for the caller's audit."""

    subjects: tuple[Subject, ...]
    failures: tuple[int, ...]
    counted: tuple[int, ...]
    next_at: tuple[float, ...]
    at: float

    def failures_of(self, subject: Subject) -> int:
        """The subject's failures, this attempt included (it counts as one until it succeeds)."""
        return self.failures[self.subjects.index(subject)]

    def past_free(self, subject: Subject) -> bool:
        return self.failures_of(subject) >= subject.policy.free

    @property
    def wait_if_failed(self) -> int:
        """Seconds the next attempt waits if this one fails (0 while every subject is within its free failures)."""
        return max(0, math.ceil(max(self.next_at) - self.at))


class Throttled(ServiceError):
    """An attempt that came before its subject's next turn: refused unchecked. `subject` is the one that makes it
    wait longest, `wait_seconds` how long from now."""

    status_code = 429

    def __init__(self, *, subject: Subject, wait_seconds: int) -> None:
        self.subject = subject
        self.wait_seconds = wait_seconds
        super().__init__(f"Too many failed attempts. Try again in {wait_text(wait_seconds)}.")


def wait_text(seconds: int) -> str:
    """'40 seconds', '1 minute', '5 minutes' (rounded up to the minute past one)."""
    if seconds < 60:
        return f"{seconds} second{'s' if seconds != 1 else ''}"
    minutes = math.ceil(seconds / 60)
    return f"{minutes} minute{'s' if minutes != 1 else ''}"


def _redis() -> Any:
    """The cache's own Redis connection (Django's RedisCache sends every write to its first server): no second
    connection pool to configure, and the keys carry the cache's prefix like everything else in it."""
    return cache._cache.get_client(write=True)  # type: ignore[attr-defined]  # django-redis's client, absent from the stubs


def attempt_admit(subjects: Sequence[Subject]) -> Attempt:
    """Admit one attempt against every subject, or raise Throttled (nothing counted) when any must still wait."""
    now = round(clock.now().timestamp(), 3)  # as the script reads it
    keys: list[str] = []
    args: list[Any] = [f"{now:.3f}"]
    for subject in subjects:
        policy = subject.policy
        keys += [subject.key, subject.once_key]
        once = subject.once_seconds if subject.once_per else 0
        args += [policy.free, policy.first_wait, policy.max_wait, policy.forget_seconds, once]
    client = _redis()
    reply = client.register_script(_ADMIT)(keys=keys, args=args, client=client)
    if not int(reply[0]):
        wait = max(1, math.ceil(float(reply[2]) - now))
        raise Throttled(subject=subjects[int(reply[1]) - 1], wait_seconds=wait)
    rows = [reply[index : index + 3] for index in range(3, len(reply), 3)]
    return Attempt(
        subjects=tuple(subjects),
        failures=tuple(int(row[0]) for row in rows),
        counted=tuple(int(row[1]) for row in rows),
        next_at=tuple(float(row[2]) for row in rows),
        at=now,
    )


def attempt_succeed(attempt: Attempt, *, forget: Sequence[Subject] = ()) -> None:
    """The attempt succeeded: it was no failure. Subjects in `forget` drop every failure and wait (an account whose
    password was right); the others only take this attempt's count back and keep their next turn."""
    args = [
        "forget" if subject in forget else str(counted)
        for subject, counted in zip(attempt.subjects, attempt.counted, strict=True)
    ]
    _succeed(attempt.subjects, args)


def subjects_forget(subjects: Sequence[Subject]) -> None:
    """Drop every failure and wait of these subjects, outside any attempt: a requestor who chose a new password
    through the emailed link (portal/accounts.py) is not kept waiting by the guesses at the old one."""
    _succeed(subjects, ["forget"] * len(subjects))


def _succeed(subjects: Sequence[Subject], args: list[str]) -> None:
    client = _redis()
    client.register_script(_SUCCEED)(keys=[subject.key for subject in subjects], args=args, client=client)

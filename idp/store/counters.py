"""Failure counters for the lockout, in Redis, checked and reserved in one atomic script.

An attempt is counted *before* its credential is verified (a reservation): of 50 guesses
fired at once, only those that find the counter below the lock get evaluated, whatever the
number of processes. A success then gives its reservation back.
"""

from __future__ import annotations

from dataclasses import dataclass

from . import reachable

PREFIX = "idp:lock:"

# KEYS: counter keys. ARGV: now, n (#schedule), schedule…, then four values per key:
# threshold, reset, ttl (s), hard; times in milliseconds. Each counter is a hash
# {f: failures, t: time of the last one}. A key whose quiet period (reset) passed counts as
# empty. A counter at its threshold is locked for a step of the doubling schedule, or, when
# `hard`, until its quiet period ends. If any key is locked, nothing is counted and the
# longest wait is returned (with 1 if a hard counter is among the locked ones); otherwise
# every key is incremented.
_RESERVE = """
local now = tonumber(ARGV[1])
local n = tonumber(ARGV[2])
local wait, hard = 0, 0
local counts = {}
for i, key in ipairs(KEYS) do
  local at = 2 + n + 4 * (i - 1)
  local threshold, reset = tonumber(ARGV[at + 1]), tonumber(ARGV[at + 2])
  local f = tonumber(redis.call('HGET', key, 'f') or '0')
  local t = tonumber(redis.call('HGET', key, 't') or '0')
  if now - t >= reset then f = 0 end
  counts[i] = f
  if f >= threshold then
    local until_
    if ARGV[at + 4] == '1' then
      until_ = t + reset
    else
      until_ = t + tonumber(ARGV[3 + math.min(f - threshold, n - 1)])
    end
    if until_ - now > 0 and ARGV[at + 4] == '1' then hard = 1 end
    if until_ - now > wait then wait = until_ - now end
  end
end
if wait > 0 then return {0, wait, hard} end
local result = {1, 0, 0}
for i, key in ipairs(KEYS) do
  local at = 2 + n + 4 * (i - 1)
  if counts[i] == 0 then redis.call('HDEL', key, 'm') end
  redis.call('HSET', key, 'f', counts[i] + 1, 't', now)
  redis.call('EXPIRE', key, tonumber(ARGV[at + 3]))
  result[#result + 1] = counts[i] + 1
end
return result
"""

_GIVE_BACK = """
local f = tonumber(redis.call('HGET', KEYS[1], 'f') or '0')
if f > 0 then redis.call('HSET', KEYS[1], 'f', f - 1) end
return f
"""


_scripts: dict[tuple[int, str], object] = {}


def _script(redis_client, source: str):  # noqa: ANN001, ANN202
    key = (id(redis_client), source)
    if key not in _scripts:
        _scripts[key] = redis_client.register_script(source)  # EVALSHA, loaded once
    return _scripts[key]


@dataclass(frozen=True)
class Rule:
    """One counter an attempt is charged to, and how it locks."""

    key: str
    threshold: int
    reset_ms: int  # failures are forgotten after this much quiet
    ttl: int  # seconds the key lives after its last failure (at least the quiet period)
    hard: bool = False  # at the threshold: locked for the rest of the quiet period, no doubling


@dataclass(frozen=True)
class Counter:
    failures: int
    last_failure: int


@dataclass(frozen=True)
class Refusal:
    wait_ms: int
    hard: bool


def reserve(rules: list[Rule], *, now_ms: int, schedule_ms: list[int]) -> Refusal | list[int]:
    """A Refusal if a counter is locked; else the new failure counts (the attempt may go on)."""
    args: list[int] = [now_ms, len(schedule_ms), *schedule_ms]
    for rule in rules:
        args += [rule.threshold, rule.reset_ms, rule.ttl, int(rule.hard)]
    with reachable() as r:
        result = _script(r, _RESERVE)(keys=[PREFIX + rule.key for rule in rules], args=args)
    if int(result[0]) == 0:
        return Refusal(int(result[1]), bool(int(result[2])))
    return [int(x) for x in result[3:]]


def settle(*, forget: list[str], give_back: list[str]) -> None:
    """After a success, in one round trip: forget some counters, and on others undo this
    attempt's reservation without forgetting earlier failures."""
    with reachable() as r:
        pipe = r.pipeline(transaction=False)
        if forget:
            pipe.delete(*(PREFIX + k for k in forget))
        for key in give_back:
            _script(r, _GIVE_BACK)(keys=[PREFIX + key], client=pipe)
        pipe.execute()


def mark_once(key: str, mark: str) -> bool:
    """Set a mark on a counter; True only for the caller that set it (mail sent once). A
    counter that starts again from zero loses its marks."""
    with reachable() as r:
        return bool(r.hsetnx(PREFIX + key, mark, 1))


def clear(*keys: str) -> None:
    with reachable() as r:
        if keys:
            r.delete(*(PREFIX + k for k in keys))


def clear_prefix(prefix: str) -> int:
    with reachable() as r:
        found = list(r.scan_iter(match=PREFIX + prefix + "*", count=500))
        if found:
            r.delete(*found)
        return len(found)


def read(key: str) -> Counter | None:
    with reachable() as r:
        raw = r.hgetall(PREFIX + key)
    if not raw:
        return None
    return Counter(failures=int(raw.get(b"f", 0)), last_failure=int(raw.get(b"t", 0)))


def incr_once(key: str, ttl: int) -> int:
    """A plain atomic counter (the tries of one pending sign-in)."""
    with reachable() as r:
        pipe = r.pipeline()
        pipe.incr(PREFIX + key)
        pipe.expire(PREFIX + key, ttl)
        return int(pipe.execute()[0])

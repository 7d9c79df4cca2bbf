"""Failure counters for the lockout, in Redis, checked and reserved in one atomic script.

An attempt is counted *before* its credential is verified (a reservation): of 50 guesses
fired at once, only those that find the counter below the lock get evaluated, whatever the
number of processes. A success then gives its reservation back.
"""

from __future__ import annotations

from dataclasses import dataclass

from . import reachable

PREFIX = "idp:lock:"

# KEYS: counter keys. ARGV: now, ttl (s), reset, n (#schedule), schedule…, then one threshold
# per key; times in milliseconds. Each counter is a hash {f: failures, t: time of the last one}. A key whose quiet period
# passed counts as empty. If any key is locked, nothing is counted and the longest wait is
# returned; otherwise every key is incremented.
_RESERVE = """
local now = tonumber(ARGV[1])
local ttl = tonumber(ARGV[2])
local reset = tonumber(ARGV[3])
local n = tonumber(ARGV[4])
local wait = 0
local counts = {}
for i, key in ipairs(KEYS) do
  local threshold = tonumber(ARGV[4 + n + i])
  local f = tonumber(redis.call('HGET', key, 'f') or '0')
  local t = tonumber(redis.call('HGET', key, 't') or '0')
  if now - t >= reset then f = 0 end
  counts[i] = f
  if f >= threshold then
    local idx = math.min(f - threshold, n - 1)
    local lock = tonumber(ARGV[5 + idx])
    if t + lock - now > wait then wait = t + lock - now end
  end
end
if wait > 0 then return {0, wait} end
local result = {1, 0}
for i, key in ipairs(KEYS) do
  redis.call('HSET', key, 'f', counts[i] + 1, 't', now)
  redis.call('EXPIRE', key, ttl)
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
class Counter:
    failures: int
    last_failure: int


def reserve(
    keys: list[tuple[str, int]], *, now_ms: int, ttl: int, reset_ms: int, schedule_ms: list[int]
) -> tuple[int, list[int]]:
    """(milliseconds to wait, []) if locked; (0, new failure counts) if the attempt may go on."""
    with reachable() as r:
        script = _script(r, _RESERVE)
        args = [now_ms, ttl, reset_ms, len(schedule_ms), *schedule_ms, *(threshold for _, threshold in keys)]
        result = script(keys=[PREFIX + k for k, _ in keys], args=args)
    if int(result[0]) == 0:
        return int(result[1]), []
    return 0, [int(x) for x in result[2:]]


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

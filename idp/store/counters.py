"""Failure counters for the lockout, in Redis, checked and reserved in one atomic script.

An attempt is reserved on its counters *before* its credential is verified: of 50 guesses
fired at once, only those that find room below the lock get evaluated, whatever the number
of processes. Reservations in flight are kept apart from settled failures: a failure turns
its reservation into one, a success gives it back. So a counter never has more failures
plus reservations than its threshold (proof in README, "The lockout"), and a correct
password is never refused because others are being evaluated, only made to wait for them.
"""

from __future__ import annotations

import hashlib
import secrets
from dataclasses import dataclass

import redis.exceptions as rx

from . import StoreUnavailable, is_cluster, reachable, replication

PREFIX = "idp:lock:"
#: A reservation that never settles (its process died, or its answer was lost in a Redis
#: failover) counts as a failure once this has passed: nothing escapes being counted.
PENDING_MS = 30_000

# Each counter is a hash: f (settled failures), t (time of the last one, ms), m (the owner
# was mailed), and one field "p:<id>" per reservation in flight, holding its deadline.
# A counter whose quiet period (reset) passed counts as empty.
_LOAD = """
local function load(key, now, reset)
  local raw = redis.call('HGETALL', key)
  local c = {f = 0, t = 0, p = 0}
  local expired = {}
  for j = 1, #raw, 2 do
    local name, value = raw[j], raw[j + 1]
    if name == 'f' then c.f = tonumber(value)
    elseif name == 't' then c.t = tonumber(value)
    elseif string.sub(name, 1, 2) == 'p:' then
      if tonumber(value) <= now then expired[#expired + 1] = {name, tonumber(value)}
      else c.p = c.p + 1 end
    end
  end
  for _, e in ipairs(expired) do  -- never settled: a failure at its deadline
    if e[2] - c.t >= reset then c.f = 0 end
    c.f = c.f + 1
    if e[2] > c.t then c.t = e[2] end
    redis.call('HDEL', key, e[1])
  end
  if #expired > 0 then redis.call('HSET', key, 'f', c.f, 't', c.t) end
  if now - c.t >= reset then c.f = 0 end
  return c
end
"""

# KEYS: counters. ARGV: now, reservation id ('' = charge a failure at once, no reservation),
# pending ms, n, the doubling schedule (n lock durations, ms), then per key: threshold,
# reset (ms), ttl (s), hard. At its threshold a counter is locked for a step of the schedule,
# or, when hard, until its quiet period ends; once that lock is over, one attempt at a time
# is let through. Answers {0, wait, hard} if a counter is locked (nothing is written),
# {2} if only attempts in flight fill it (nothing is written), else {1, failures…}.
_RESERVE = _LOAD + """
local now, rid, deadline, n = tonumber(ARGV[1]), ARGV[2], tonumber(ARGV[1]) + tonumber(ARGV[3]), tonumber(ARGV[4])
local wait, hard, busy = 0, 0, false
local counters = {}
for i, key in ipairs(KEYS) do
  local at = 4 + n + 4 * (i - 1)
  local threshold, reset, is_hard = tonumber(ARGV[at + 1]), tonumber(ARGV[at + 2]), ARGV[at + 4] == '1'
  local c = load(key, now, reset)
  counters[i] = c
  local room = threshold - c.f
  if c.f >= threshold then
    local until_ = c.t + reset
    if not is_hard then until_ = c.t + tonumber(ARGV[5 + math.min(c.f - threshold, n - 1)]) end
    if until_ > now then
      if until_ - now > wait then wait = until_ - now end
      if is_hard then hard = 1 end
    end
    room = 1
  end
  if c.p >= room then busy = true end
end
if wait > 0 then return {0, wait, hard} end
if busy and rid ~= '' then return {2} end
local result = {1}
for i, key in ipairs(KEYS) do
  local at = 4 + n + 4 * (i - 1)
  if rid == '' then
    if counters[i].f == 0 then redis.call('HDEL', key, 'm') end
    counters[i].f = counters[i].f + 1
    redis.call('HSET', key, 'f', counters[i].f, 't', now)
  else
    redis.call('HSET', key, 'p:' .. rid, deadline)
  end
  redis.call('EXPIRE', key, tonumber(ARGV[at + 3]))
  result[#result + 1] = counters[i].f
end
return result
"""

# KEYS: counters. ARGV: now, reservation id, then per key: op, reset (ms), ttl (s), notify.
# op f: the attempt failed (its reservation becomes a failure; counted even when the
# reservation is gone, lost in a failover or expired: a failure is never dropped); r: give
# the reservation back; x: forget the settled failures (the reservations of others stay).
# Answers {failures, mailed} per key: mailed is 1 for the one failure that first reaches
# `notify` (0: never) since the counter started.
_SETTLE = _LOAD + """
local now, rid = tonumber(ARGV[1]), ARGV[2]
local result = {}
for i, key in ipairs(KEYS) do
  local at = 2 + 4 * (i - 1)
  local op, reset, notify = ARGV[at + 1], tonumber(ARGV[at + 2]), tonumber(ARGV[at + 4])
  redis.call('HDEL', key, 'p:' .. rid)
  local failures, mailed = 0, 0
  if op == 'f' then
    local c = load(key, now, reset)
    if c.f == 0 then redis.call('HDEL', key, 'm') end
    c.f = c.f + 1
    redis.call('HSET', key, 'f', c.f, 't', now)
    redis.call('EXPIRE', key, tonumber(ARGV[at + 3]))
    failures = c.f
    if notify > 0 and c.f >= notify then mailed = redis.call('HSETNX', key, 'm', 1) end
  elseif op == 'x' then
    redis.call('HDEL', key, 'f', 't', 'm')
  end
  result[#result + 1] = failures
  result[#result + 1] = mailed
end
return result
"""


_INCR = """
local n = redis.call('INCR', KEYS[1])
if n == 1 then redis.call('EXPIRE', KEYS[1], tonumber(ARGV[1])) end
return n
"""

_SHAS = {source: hashlib.sha1(source.encode()).hexdigest() for source in (_RESERVE, _SETTLE, _INCR)}


def redis_key(key: str) -> str:
    """The Redis key of a counter. Its hash tag ({…}) is the account for an account's
    counters (so its own, its trusted browsers' and its second-factor counter share a
    Cluster slot and one script call), otherwise the whole id."""
    kind, _, rest = key.partition(":")
    if kind in ("acct", "mfa"):
        account, _, tail = rest.partition(":")
        return f"{PREFIX}{kind}:{{{account}}}" + (f":{tail}" if tail else "")
    return f"{PREFIX}{kind}:{{{rest}}}"


def _tag(key: str) -> str:
    return key[key.index("{"):key.index("}") + 1]


def _eval(r, source: str, keys: list[str], args: list, *, replicas: int = 0, wait_ms: int = 0):  # noqa: ANN001, ANN202
    """EVALSHA (the script is loaded on the first NOSCRIPT). With `replicas`, WAIT in the
    same round trip: the answer comes once that many replicas have the write."""
    for _ in range(2):
        try:
            if not replicas:
                return r.evalsha(_SHAS[source], len(keys), *keys, *args)
            pipe = r.pipeline(transaction=False)
            pipe.evalsha(_SHAS[source], len(keys), *keys, *args)
            pipe.execute_command("WAIT", replicas, wait_ms)
            result, acked = pipe.execute()
            if int(acked) < replicas:
                raise NotReplicated(f"{acked} of {replicas} replicas acknowledged within {wait_ms} ms")
            return result
        except rx.NoScriptError:
            r.script_load(source)
    raise StoreUnavailable("the lockout script could not be loaded")


class NotReplicated(StoreUnavailable):
    """A reservation that a failover could lose: the attempt is not evaluated (503)."""


def _groups(r, keys: list[str]) -> list[list[int]]:  # noqa: ANN001
    """Indexes of `keys` that one script call may touch: all of them on one server; one
    hash slot's worth (one tag) on a Cluster, where a script must not cross slots."""
    if not is_cluster(r):
        return [list(range(len(keys)))]
    groups: dict[str, list[int]] = {}
    for i, key in enumerate(keys):
        groups.setdefault(_tag(key), []).append(i)
    return list(groups.values())


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
    """A counter is locked (wait_ms > 0), or, with wait_ms == 0, only full of attempts in flight."""

    wait_ms: int
    hard: bool = False


def _rule_args(rules: list[Rule]) -> list[int]:
    args: list[int] = []
    for rule in rules:
        args += [rule.threshold, rule.reset_ms, rule.ttl, int(rule.hard)]
    return args


def reserve(rules: list[Rule], *, now_ms: int, schedule_ms: list[int]) -> Refusal | str:
    """A Refusal, or the id of the reservation now held on every counter."""
    rid = secrets.token_hex(8)
    result = _reserve(rules, rid, now_ms=now_ms, schedule_ms=schedule_ms)
    return result if isinstance(result, Refusal) else rid


def charge(rules: list[Rule], *, now_ms: int, schedule_ms: list[int]) -> Refusal | list[int]:
    """Count a failure at once (no reservation), or a Refusal if a counter is locked."""
    return _reserve(rules, "", now_ms=now_ms, schedule_ms=schedule_ms)


def _reserve(rules: list[Rule], rid: str, *, now_ms: int, schedule_ms: list[int]) -> Refusal | list[int]:
    """On a Cluster, one call per slot in turn; a later counter that refuses gives the
    reservations already taken back. Each counter's own check-and-reserve is atomic, so
    failures plus reservations stay within its threshold whatever the interleaving; a
    reservation held for a moment by an attempt that then gives it back can only make
    another attempt wait, never let one more through."""
    head = [now_ms, rid, PENDING_MS, len(schedule_ms), *schedule_ms]
    keys = [redis_key(rule.key) for rule in rules]
    counts = [0] * len(rules)
    with reachable() as r:
        replicas, wait_ms = (0, 0) if is_cluster(r) else replication()
        taken: list[int] = []
        for group in _groups(r, keys):
            args = head + _rule_args([rules[i] for i in group])
            try:
                result = _eval(r, _RESERVE, [keys[i] for i in group], args, replicas=replicas, wait_ms=wait_ms)
            except NotReplicated:
                _give_back(r, rid, [rules[i] for i in taken + group], now_ms)
                raise
            if int(result[0]) != 1:
                if rid and taken:
                    _give_back(r, rid, [rules[i] for i in taken], now_ms)
                return Refusal(int(result[1]), bool(int(result[2]))) if int(result[0]) == 0 else Refusal(0)
            for i, n in zip(group, result[1:]):
                counts[i] = int(n)
            taken += group
    return counts


def _give_back(r, rid: str, rules: list[Rule], now_ms: int) -> None:  # noqa: ANN001
    if rid:
        _settle(r, rid, [Settle(rule, "r") for rule in rules], now_ms)


@dataclass(frozen=True)
class Settle:
    """What becomes of one counter of a reservation."""

    rule: Rule
    op: str  # "f" failed, "r" given back, "x" forgotten
    notify: int = 0


def settle(rid: str, steps: list[Settle], *, now_ms: int) -> list[tuple[int, bool]]:
    """One round trip (one per slot on a Cluster): (failures, first to reach `notify`) per step."""
    with reachable() as r:
        return _settle(r, rid, steps, now_ms)


def _settle(r, rid: str, steps: list[Settle], now_ms: int) -> list[tuple[int, bool]]:  # noqa: ANN001
    keys = [redis_key(step.rule.key) for step in steps]
    results: list[tuple[int, bool]] = [(0, False)] * len(steps)
    for group in _groups(r, keys):
        args: list[object] = [now_ms, rid]
        for i in group:
            args += [steps[i].op, steps[i].rule.reset_ms, steps[i].rule.ttl, steps[i].notify]
        answer = _eval(r, _SETTLE, [keys[i] for i in group], args)
        for j, i in enumerate(group):
            results[i] = (int(answer[2 * j]), bool(int(answer[2 * j + 1])))
    return results


def clear_prefix(prefix: str) -> int:
    """Delete the counters whose key starts with `prefix` ("acct:<account>": its own and its
    trusted browsers')."""
    with reachable() as r:
        found = list(r.scan_iter(match=redis_key(prefix) + "*", count=500))
        if found:
            r.delete(*found)
        return len(found)


def read(key: str) -> Counter | None:
    with reachable() as r:
        raw = r.hmget(redis_key(key), "f", "t")
    if raw[0] is None:
        return None
    return Counter(failures=int(raw[0]), last_failure=int(raw[1] or 0))


def incr_once(key: str, ttl: int) -> int:
    """A plain atomic counter that lives `ttl` seconds from its first increment (the tries
    of one pending sign-in, password resets per hour)."""
    with reachable() as r:
        return int(_eval(r, _INCR, [redis_key(key)], [ttl]))

"""Limits against guessing and flooding, kept in PostgreSQL: every process counts in the same
rows and a restart forgets nothing.

Each key has a leaky counter. An attempt is taken *before* the work (the password check, the
lookup) in one atomic upsert committed at once, so concurrent requests cannot all slip through
between a check and a count; a success gives its attempt back. Once the level reaches the rule's
limit the key must wait, first `first_delay`, doubling with each further attempt up to
`max_delay`; the level leaks one attempt per `forgive_seconds`. A blocked attempt counts
nothing. Clocks are PostgreSQL's (`now()`), so several machines agree.
"""

from __future__ import annotations

import hashlib
import ipaddress
import math
from dataclasses import dataclass

from sqlalchemy import Connection, Engine, text
from sqlalchemy.orm import Session

from coreviz_studio.config import Settings
from coreviz_studio.errors import TooManyRequests

PURGE_BATCH = 100  # expired rows removed per attempt: the table stays small, no request pays much


@dataclass(frozen=True)
class Rule:
    name: str
    limit: int  # attempts before the first wait
    first_delay: float  # seconds
    max_delay: float
    forgive_seconds: float  # one attempt leaks away per this many seconds
    reset_on_success: bool = False  # a success forgets the key (else it gives back one attempt)

    @classmethod
    def per_window(cls, name: str, limit: int, window_seconds: float) -> Rule:
        """`limit` at once, then one per window/limit seconds (a token bucket)."""
        step = window_seconds / limit
        return cls(name, limit, step, step, step)

    def key(self, *parts: str) -> Key:
        # Hashed: bounded length, and no email address of a failed sign-in is kept in clear.
        digest = hashlib.sha256("\0".join(parts).encode()).hexdigest()[:40]
        return Key(self, f"{self.name}:{digest}")


@dataclass(frozen=True)
class Key:
    rule: Rule
    value: str


# --- the rules (one place for each) ----------------------------------------------------------


def sign_in_by_account(s: Settings) -> Rule:
    """One address guessing one account's password; other addresses are not slowed."""
    return Rule("sign-in:account", s.sign_in_free_failures, s.sign_in_first_delay_seconds,
                s.sign_in_max_delay_seconds, s.sign_in_forgive_seconds, reset_on_success=True)


def sign_in_by_source(s: Settings) -> Rule:
    """One address trying many accounts (password spraying)."""
    return Rule("sign-in:source", s.sign_in_source_free_failures, s.sign_in_first_delay_seconds,
                s.sign_in_max_delay_seconds, s.sign_in_source_forgive_seconds)


def device_codes_by_source(s: Settings) -> Rule:
    return Rule.per_window("device:codes", s.device_codes_per_source,
                           s.device_limit_window_seconds)


def user_codes_by_source(s: Settings) -> Rule:
    return Rule.per_window("device:user-codes", s.device_user_code_guesses,
                           s.device_limit_window_seconds)


def source(client: str) -> str:
    """Who is counted: the address, or its /64 for IPv6 (one host is handed a whole /64)."""
    try:
        ip = ipaddress.ip_address(client)
    except ValueError:
        return client
    if isinstance(ip, ipaddress.IPv6Address):
        if ip.ipv4_mapped is not None:
            return str(ip.ipv4_mapped)
        return str(ipaddress.ip_network(f"{ip}/64", strict=False))
    return str(ip)


# --- counting --------------------------------------------------------------------------------

_PURGE = text(
    "DELETE FROM rate_limits WHERE key IN (SELECT key FROM rate_limits WHERE expires_at < now() "
    "ORDER BY expires_at LIMIT :n FOR UPDATE SKIP LOCKED)")


# The level leaks continuously, so `limit` quick attempts reach just under `limit`: the wait
# starts once one more attempt would pass it, and doubles per whole attempt beyond. The clock is
# clock_timestamp(), read after the row lock: a transaction's now() may predate the update it
# waited for, and a negative leak would count an attempt as more than one.
_FULL = "{level} > :limit - 1"


def _wait(level: str) -> str:
    exponent = f"LEAST(GREATEST(ceil({level} - :limit), 0), 40)"  # 2^40 s: past any cap
    return f"LEAST(:max_delay, :first_delay * power(2, {exponent}))"


def _columns(level: str) -> tuple[str, str]:
    """blocked_until and expires_at for a key at `level` after this attempt."""
    full = _FULL.format(level=level)
    blocked = f"CASE WHEN {full} THEN clock_timestamp() + make_interval(secs => {_wait(level)}) END"
    keep = f"{level} * :forgive + CASE WHEN {full} THEN {_wait(level)} ELSE 0 END"
    return blocked, f"clock_timestamp() + make_interval(secs => {keep})"


_ELAPSED = "GREATEST(EXTRACT(EPOCH FROM clock_timestamp() - r.updated_at), 0)"
_LEAKED = f"GREATEST(r.level - {_ELAPSED} / :forgive, 0) + 1"
_NEW_BLOCKED, _NEW_EXPIRES = _columns("1.0")
_BLOCKED, _EXPIRES = _columns(_LEAKED)
# No row comes back when the key is blocked: the upsert's WHERE leaves it untouched. Composed
# from the constants above only; every value is a bound parameter.
_TAKE = text(
    "INSERT INTO rate_limits AS r (key, level, updated_at, blocked_until, expires_at) "  # noqa: S608
    f"VALUES (:key, 1.0, clock_timestamp(), {_NEW_BLOCKED}, {_NEW_EXPIRES}) "
    f"ON CONFLICT (key) DO UPDATE SET level = {_LEAKED}, updated_at = clock_timestamp(), "
    f"blocked_until = {_BLOCKED}, expires_at = {_EXPIRES} "
    "WHERE r.blocked_until IS NULL OR r.blocked_until <= clock_timestamp() RETURNING r.level")
_WAIT_LEFT = text("SELECT EXTRACT(EPOCH FROM max(blocked_until) - now()) FROM rate_limits "
                  "WHERE key = ANY(:keys)")
_GIVE_BACK = text(
    "UPDATE rate_limits SET level = GREATEST(level - 1, 0), blocked_until = CASE "  # noqa: S608
    f"WHEN NOT ({_FULL.format(level='level - 1')}) THEN NULL ELSE blocked_until END "
    "WHERE key = :key")
_FORGET = text("DELETE FROM rate_limits WHERE key = :key")


def _engine(session: Session) -> Engine:
    """Limits commit on their own, whatever becomes of the request's transaction."""
    bind = session.get_bind()
    return bind.engine if isinstance(bind, Connection) else bind


def _params(key: Key) -> dict[str, object]:
    r = key.rule
    return {"key": key.value, "limit": r.limit, "first_delay": float(r.first_delay),
            "max_delay": float(r.max_delay), "forgive": float(r.forgive_seconds)}


def take(session: Session, *keys: Key) -> None:
    """Count one attempt on every key, or none and 429 (with Retry-After) if any must wait."""
    with _engine(session).begin() as conn:
        conn.execute(_PURGE, {"n": PURGE_BATCH})
        for key in sorted(keys, key=lambda k: k.value):  # one lock order: no deadlocks
            if conn.execute(_TAKE, _params(key)).first() is None:
                left = conn.execute(_WAIT_LEFT, {"keys": [k.value for k in keys]}).scalar()
                wait = max(1, math.ceil(float(left or 1)))
                # Raised inside the transaction: the attempts taken on other keys roll back.
                raise TooManyRequests(f"Too many attempts; try again in {wait} seconds",
                                      headers={"Retry-After": str(wait)})


def give_back(session: Session, *keys: Key) -> None:
    """The attempt succeeded: forget the key, or return its one attempt."""
    with _engine(session).begin() as conn:
        for key in sorted(keys, key=lambda k: k.value):
            conn.execute(_FORGET if key.rule.reset_on_success else _GIVE_BACK, _params(key))

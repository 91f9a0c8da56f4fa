"""Checks of the ``notify`` config section that need to know the channel kinds.

Called from ``spinewise.config._check``: a problem is one ConfigError naming the key,
before anything starts.
"""
from __future__ import annotations

from urllib.parse import urlsplit

from spinewise.config import Config, ConfigError

KINDS = ("ntfy", "gotify", "webhook", "desktop", "homeassistant", "haptic")
_NEEDS_URL = ("ntfy", "gotify", "webhook")


def check_notify(cfg: Config) -> None:
    from spinewise.topics import valid_id

    n = cfg.notify

    def need(ok: bool, key: str, why: str, value) -> None:
        if not ok:
            raise ConfigError(f"{key}: {why}, got {value!r}")

    need(1 <= n.attempts <= 20, "notify.attempts", "expected 1-20", n.attempts)
    need(n.backoff_s >= 0, "notify.backoff_s", "expected >= 0", n.backoff_s)
    need(n.backoff_max_s >= n.backoff_s, "notify.backoff_max_s", "expected >= notify.backoff_s",
         n.backoff_max_s)
    need(n.queue_max >= 1, "notify.queue_max", "expected >= 1", n.queue_max)
    need(n.log_interval_s >= 0, "notify.log_interval_s", "expected >= 0", n.log_interval_s)
    devices = {d.id: d.user for d in cfg.devices}
    seen = set()
    for i, c in enumerate(n.channels):
        key = f"notify.channels[{i}]"
        need(valid_id(c.user), f"{key}.user", "expected a user id (A-Z a-z 0-9 _ -)", c.user)
        need(c.kind in KINDS, f"{key}.kind", f"expected one of {', '.join(KINDS)}", c.kind)
        need(1 <= c.priority <= 5, f"{key}.priority", "expected 1 (min) to 5 (urgent)", c.priority)
        need(0 < c.timeout_s <= 120, f"{key}.timeout_s", "expected 0-120 s", c.timeout_s)
        if c.kind in _NEEDS_URL:
            parts = urlsplit(c.url)
            need(parts.scheme in ("http", "https") and bool(parts.netloc), f"{key}.url",
                 f"{c.kind} needs an http:// or https:// URL", c.url)
            need(not parts.query or c.kind == "webhook", f"{key}.url",
                 "put the token in token (or token_file), not in the URL", c.url)
        elif c.url:
            need(False, f"{key}.url", f"not used by kind {c.kind}", c.url)
        if c.kind == "gotify":
            need(bool(c.token), f"{key}.token", "gotify needs the application token "
                 "(token or token_file)", "")
        if c.kind == "ntfy":
            need(all(t and "," not in t for t in c.tags), f"{key}.tags",
                 "expected tags without commas", c.tags)
        if c.kind == "homeassistant":
            need(bool(cfg.coaching.ha_discovery_prefix), f"{key}.kind",
                 "homeassistant needs coaching.ha_discovery_prefix (discovery is off)", c.kind)
        if c.kind == "haptic":
            _check_haptic(cfg, c, key, devices, need)
        if c.bus_address and c.kind != "desktop":
            need(False, f"{key}.bus_address", f"not used by kind {c.kind}", c.bus_address)
        ident = (c.user, c.kind, c.url, c.device, c.bus_address)
        need(ident not in seen, key, "the same channel twice (each nudge would arrive twice)",
             f"{c.kind} for {c.user}")
        seen.add(ident)


def _check_haptic(cfg: Config, c, key: str, devices: dict, need) -> None:
    if c.device:
        need(devices.get(c.device) == c.user, f"{key}.device",
             f"expected one of {c.user!r}'s [[devices]]", c.device)
    try:
        from spinewise.ingest.profiles import get_profile
    except ImportError:          # the stdlib-only access tools load configs too: skip this check
        return
    mine, motors = [], []
    for i, d in enumerate(cfg.devices):
        if d.user == c.user and (not c.device or d.id == c.device):
            try:
                profile = get_profile(d.profile)
            except ValueError as exc:
                raise ConfigError(f"devices[{i}].profile: {exc}") from None
            mine.append(d)
            if profile.haptic_uuid:
                motors.append(d.id)
    need(bool(motors), f"{key}.kind", f"haptic needs a sensor of {c.user!r} whose profile has a "
         "vibration motor (profile spinewise)", [f"{d.id} ({d.profile})" for d in mine])

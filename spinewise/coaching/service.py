"""CoachService: the one class the pipeline calls. Pure and transport-free.

    svc = CoachService(cfg, CoachStore(cfg.coaching.state_db))
    for out in svc.on_events(user, events):         # after each Analyzer.update
        if out.topic: mqtt.publish(out.topic, out.payload_bytes(), qos=out.qos, retain=out.retain)
        if out.event: storage.write_events([out.event])
        if out.action: ...                           # "calibrate", "announce" (see docs/coaching.md)
    svc.on_command(user, payload_bytes, t_s=now)  # <prefix>/user/<user>/cmd; now = the adapter clock
    svc.discovery(user, device_ids)                  # on (re)connect, retained
    svc.status(user, t_s)                            # dict for the CLI / a status reply
    CoachService(cfg, store, notifier=open_notifier(cfg))   # nudges also to [[notify.channels]]

Event times: live events carry epoch seconds (t0_epoch_s = 0); replays of recordings pass the
recording's start as t0_epoch_s. Commands use the ``t_s`` argument, else the command's own
``t_s``, else the last event time seen for the user.
"""
from __future__ import annotations

import logging
from collections.abc import Iterable

from spinewise.config import Config, ConfigError, CoachingConfig
from spinewise.events import Event
from spinewise.coaching import settings as user_settings
from spinewise.coaching.commands import Command, CommandError, parse
from spinewise.coaching.discovery import discovery_messages
from spinewise.coaching.localtime import TimeSettingError, iso_local, local_date
from spinewise.coaching.log import PainReport, entry_from_event
from spinewise.coaching.nudges import NudgePolicy
from spinewise.coaching.outgoing import Outgoing
from spinewise.coaching.progression import Flags, build_plan, planned_sets
from spinewise.topics import Topics

log = logging.getLogger(__name__)

_DAY_KEYS = ("sedentary_s", "sitting_s", "standing_s", "walking_s", "lying_s", "exercise_s", "steps")


class CoachService:
    def __init__(self, cfg: Config, store, t0_epoch_s: float = 0.0, notifier=None):
        self.cfg = cfg
        self.notifier = notifier          # spinewise.notify.Notifier: nudges to people's channels
        self.store = store
        self.t0_epoch_s = float(t0_epoch_s)
        self.prefix = cfg.mqtt.prefix
        self.topics = Topics(cfg.mqtt.prefix, cfg.coaching.ha_discovery_prefix)
        self._users: dict[str, _UserState] = {}
        self.rejected_commands = 0
        self.rejected_events = 0

    # -- per-user state ---------------------------------------------------------------------
    def settings_for(self, user: str) -> CoachingConfig:
        try:
            return user_settings.effective(self.cfg.coaching, self.store.settings(user))
        except (TypeError, ConfigError) as exc:   # a stored override no longer valid
            log.warning("user %s: ignoring stored settings: %s", user, exc)
            return self.cfg.coaching

    def _user(self, user: str) -> "_UserState":
        st = self._users.get(user)
        if st is None:
            policy = NudgePolicy(self.settings_for(user), user, self.t0_epoch_s)
            saved = self.store.get(user, "policy_state")
            if saved:
                policy.set_state(saved)
            policy.set_flags(**self.store.flags(user))
            st = self._users[user] = _UserState(policy, self.store.get(user, "day", None),
                                                self.store.get(user, "last_t_s", None))
        return st

    def forget(self, user: str) -> None:
        """Drop what is cached of ``user`` (read again from the store on next use): the user
        is coached elsewhere now, or the store's rows were replaced."""
        self._users.pop(user, None)

    def _topic(self, user: str, suffix: str) -> str:
        return self.topics.user(user, suffix)

    # -- events -------------------------------------------------------------------------------
    def on_events(self, user: str, events: Iterable[Event]) -> list[Outgoing]:
        events = list(events)
        if not events:
            return []
        st, out, changed = self._user(user), [], False
        cfg = st.policy.settings
        for ev in events:
            try:
                epoch = float(ev.t_s) + self.t0_epoch_s
                if ev.kind == "minute":
                    out.extend(self._count_minute(user, st, ev, cfg))
                    changed = True
                elif ev.kind in ("set_finished", "hold_finished"):
                    out.extend(self._log_exercise(user, st, ev))
                    changed = True
                elif ev.kind == "break":
                    changed = True
            except (KeyError, TypeError, ValueError, ArithmeticError) as exc:
                self.rejected_events += 1
                log.warning("user %s: rejected %s event: %s", user, ev.kind, exc)
                continue
            if epoch == epoch and abs(epoch) < 1e12:   # finite, plausible: the user's clock
                st.last_t_s = max(st.last_t_s or epoch, epoch)
            # event by event, so a day summary sees every nudge sent before it
            for pev in st.policy.update([ev]):
                changed = True
                out.extend(self._policy_event(user, st, pev))
        if changed:
            self._persist(user, st)
            out.append(self._state_message(user, st))
        return out

    def _count_minute(self, user: str, st: "_UserState", ev: Event, cfg: CoachingConfig) -> list[Outgoing]:
        epoch = float(ev.data.get("start_s", ev.t_s)) + self.t0_epoch_s
        if not abs(epoch) < 1e12:
            raise ValueError(f"start_s {ev.data.get('start_s')!r} is not a usable time")
        day = local_date(epoch, cfg.timezone).isoformat()
        out = []
        if st.day and st.day["date"] != day:
            # a new local day: yesterday's summary and today's plan
            out.append(self._summary(user, st, epoch))
            out.extend(self._plan_messages(user, epoch))
        if not st.day or st.day["date"] != day:
            st.day = {"date": day, **{k: 0.0 for k in _DAY_KEYS}}
        for k in _DAY_KEYS:
            value = ev.data.get(k, 0.0) or 0.0
            limit = 10000.0 if k == "steps" else 61.0     # a minute holds <= 60 s (+ rounding)
            if isinstance(value, bool) or not isinstance(value, (int, float)) or not 0.0 <= value <= limit:
                log.warning("user %s: minute event with bad %s=%r (ignored)", user, k, value)
                continue
            st.day[k] += float(value)
        return out

    def _summary(self, user: str, st: "_UserState", epoch: float) -> Outgoing:
        d = st.day
        counts = self._nudge_counts_for(user, d["date"])
        payload = {"type": "summary", "user": user, "date": d["date"],
                   "sedentary_min": round(d["sedentary_s"] / 60, 1),
                   "walking_min": round(d["walking_s"] / 60, 1),
                   "exercise_min": round(d["exercise_s"] / 60, 1), "steps": int(d["steps"]),
                   "reps": self._reps_on(user, d["date"]), "nudges": counts}
        return Outgoing(self._topic(user, "nudge"), payload, suffix="nudge",
                        event=Event("summary", epoch, payload))

    def _log_exercise(self, user: str, st: "_UserState", ev: Event) -> list[Outgoing]:
        # an announced variant / resistance belongs to sets of the announced exercise only
        ann = st.announced if st.announced and st.announced["exercise"] == ev.data.get("exercise") else {}
        try:
            entry = entry_from_event(ev.kind, ev.data, self.t0_epoch_s, variant=ann.get("variant", ""),
                                     resistance=ann.get("resistance", 1.0))
        except (KeyError, TypeError, ValueError, ArithmeticError) as exc:
            self.rejected_events += 1
            log.warning("user %s: cannot log %s event: %s", user, ev.kind, exc)
            return []
        self.store.add_entry(user, entry)      # a replayed duplicate is ignored by the store
        return []

    def _reps_on(self, user: str, day: str | None) -> int:
        """Reps logged on a local date (from the store, so late or replayed sets count)."""
        if not day:
            return 0
        tz = self.settings_for(user).timezone
        recent = self.store.entries(user, since_t_s=(self._user(user).last_t_s or 0.0) - 3 * 86400.0)
        return sum(e.reps for e in recent if local_date(e.t_s, tz).isoformat() == day)

    def _policy_event(self, user: str, st: "_UserState", ev: Event) -> list[Outgoing]:
        epoch = ev.t_s + self.t0_epoch_s
        data = {**ev.data, "t_s": epoch}
        if "nudge_t_s" in data:                     # outcomes refer to the nudge's time
            data["nudge_t_s"] = data["nudge_t_s"] + self.t0_epoch_s
        if ev.kind == "nudge":
            self.store.add_nudge(user, data["id"], epoch, data["suggestion"]["kind"], data)
            st.last_nudge = {"t_s": epoch, "text": data["suggestion"]["text"],
                             "kind": data["suggestion"]["kind"]}
            payload = {"type": "nudge", **data}
            self._notify(user, payload, ev.device_id)
            return [Outgoing(self._topic(user, "nudge"), payload, suffix="nudge",
                             event=Event("nudge", epoch, data, ev.device_id))]
        if ev.kind == "nudge_outcome":
            self.store.set_nudge_outcome(user, data["id"], data["outcome"], data.get("response_s"))
            return [Outgoing("", data, event=Event("nudge_outcome", epoch, data, ev.device_id))]
        return []

    def _notify(self, user: str, payload: dict, device_id: str) -> None:
        """Hand a nudge to the person's notification channels (queued, never blocks)."""
        if self.notifier is None:
            return
        from spinewise.notify import Notice
        try:
            self.notifier.submit(Notice.from_nudge(user, payload, device_id))
        except Exception:          # a notification problem must never stop the coach
            log.exception("user %s: could not queue nudge %s for notification", user, payload.get("id"))

    def close(self) -> None:
        if self.notifier is not None:
            self.notifier.close()

    def _persist(self, user: str, st: "_UserState") -> None:
        self.store.put(user, "policy_state", st.policy.get_state())
        self.store.put(user, "day", st.day)
        if st.day:
            self.store.put_day(user, st.day)      # history of day totals (weekly report)
        self.store.put(user, "last_t_s", st.last_t_s)
        self.store.put(user, "last_nudge", st.last_nudge)

    def _state_message(self, user: str, st: "_UserState") -> Outgoing:
        return Outgoing(self._topic(user, "coach"), self._state_payload(user, st), retain=True,
                        suffix="coach")

    def _state_payload(self, user: str, st: "_UserState") -> dict:
        day = st.day or {}
        last = st.last_nudge or self.store.get(user, "last_nudge") or {}
        snooze = st.policy.snooze_until_s
        snooze_epoch = None if snooze is None else snooze + self.t0_epoch_s
        tz = st.policy.settings.timezone
        counts = self._nudge_counts_for(user, day.get("date"))
        return {"user": user, "date": day.get("date"), "t_s": st.last_t_s,
                "sedentary_min_today": round(day.get("sedentary_s", 0.0) / 60, 1),
                "sedentary_min_window": round(st.policy.sedentary_in_window_s() / 60, 1),
                "walking_min_today": round(day.get("walking_s", 0.0) / 60, 1),
                "exercise_min_today": round(day.get("exercise_s", 0.0) / 60, 1),
                "steps_today": int(day.get("steps", 0)), "reps_today": self._reps_on(user, day.get("date")),
                "nudges_today": counts["sent"], "nudges_answered_today": counts["answered"],
                "nudges_ignored_today": counts["ignored"],
                "last_nudge_iso": iso_local(last["t_s"], tz) if last.get("t_s") else None,
                "last_nudge_text": last.get("text"),
                "snoozed_until_iso": (iso_local(snooze_epoch, tz) if snooze_epoch and st.last_t_s
                                      and snooze_epoch > st.last_t_s else None),
                "flags": self.store.flags(user)}

    def _nudge_counts_for(self, user: str, day: str | None) -> dict:
        if not day:
            return {"sent": 0, "answered": 0, "ignored": 0}
        tz = self.settings_for(user).timezone
        recent = self.store.nudges(user, since_t_s=(self._user(user).last_t_s or 0.0) - 3 * 86400.0)
        rows = [n for n in recent if local_date(n["t_s"], tz).isoformat() == day]
        counts = {"sent": len(rows), "answered": 0, "ignored": 0}
        for n in rows:
            if n["outcome"] in counts and n["outcome"] != "sent":
                counts[n["outcome"]] += 1
        return counts

    # -- commands -----------------------------------------------------------------------------
    def on_command(self, user: str, payload: bytes | str, t_s: float | None = None) -> list[Outgoing]:
        try:
            cmd = parse(payload)
        except CommandError as exc:
            self.rejected_commands += 1
            log.debug("user %s: rejected command: %s", user, exc)   # counted and summarised by the pipeline (rejected.bad_command)
            return [self._reply(user, None, None, ok=False, error=exc.message, field=exc.field,
                                **({"id": exc.id} if exc.id is not None else {}))]
        st = self._user(user)
        t = t_s if t_s is not None else cmd.t_s if cmd.t_s is not None else st.last_t_s
        if t is None:
            return [self._reply(user, cmd, None, ok=False, field="t_s",
                                error="no event time known yet for this user: send t_s (epoch seconds)")]
        try:
            return getattr(self, f"_cmd_{cmd.cmd}")(user, st, cmd, float(t))
        except (ConfigError, TimeSettingError) as exc:
            field = str(exc).split(":")[0].split(".")[-1]
            return [self._reply(user, cmd, t, ok=False, error=str(exc), field=field)]

    def _reply(self, user: str, cmd: Command | None, t: float | None, ok: bool = True,
               error: str | None = None, field: str | None = None, **data) -> Outgoing:
        payload = {"v": 1, "ok": ok, "cmd": cmd.cmd if cmd else None}
        if cmd is not None and cmd.id is not None:
            payload["id"] = cmd.id
        if t is not None:
            payload["t_s"] = t
        if not ok:
            payload["error"] = {"field": field, "message": error}
        payload.update(data)
        return Outgoing(self._topic(user, "cmd/reply"), payload, suffix="cmd/reply")

    def _cmd_snooze(self, user, st, cmd, t):
        minutes = cmd.args.get("minutes", st.policy.settings.snooze_min)
        until = st.policy.snooze(t - self.t0_epoch_s, minutes) + self.t0_epoch_s
        self._persist(user, st)
        return [self._reply(user, cmd, t, snoozed_until_s=until,
                            snoozed_until_iso=iso_local(until, st.policy.settings.timezone)),
                self._state_message(user, st)]

    def _cmd_done(self, user, st, cmd, t):
        events = st.policy.done(t - self.t0_epoch_s, cmd.args.get("nudge"))
        out = [o for ev in events for o in self._policy_event(user, st, ev)]
        self._persist(user, st)
        return [self._reply(user, cmd, t, answered=events[0].data["id"] if events else None),
                *out, self._state_message(user, st)]

    def _cmd_pain(self, user, st, cmd, t):
        a = cmd.args
        report = PainReport(t, a["score"], a.get("leg", False), a.get("numbness", False),
                            a.get("weakness", False), a.get("note", ""))
        self.store.add_pain(user, report)
        out = [Outgoing("", report.to_dict(), event=Event("pain", t, {"user": user, **report.to_dict()}))]
        advice = None
        if report.red_flag:
            self._set_flags(user, st, red_flag=True)
            advice = ("Pain spreading down the leg, numbness or weakness needs a clinician's "
                      "evaluation before you continue exercising. spinewise has stopped suggesting "
                      "exercises; it does not diagnose.")
            out.append(Outgoing(self._topic(user, "nudge"),
                                {"type": "advice", "user": user, "t_s": t, "text": advice,
                                 "guide": ["guide: Frequently Asked Questions About Exercise for Back Pain"]},
                                suffix="nudge"))
        out.insert(0, self._reply(user, cmd, t, recorded=report.to_dict(), advice=advice))
        out.extend(self._plan_messages(user, t))
        return out

    def _cmd_set_start(self, user, st, cmd, t):
        st.announced = dict(cmd.args)
        st.policy.announce_exercise(True, t - self.t0_epoch_s)
        self._persist(user, st)
        return [self._reply(user, cmd, t, announced=cmd.args),
                Outgoing("", {"exercise": cmd.args["exercise"]}, action="announce")]

    def _cmd_set_stop(self, user, st, cmd, t):
        st.announced = None
        st.policy.announce_exercise(False)
        self._persist(user, st)
        return [self._reply(user, cmd, t), Outgoing("", {"exercise": None}, action="announce")]

    def _cmd_calibrate(self, user, st, cmd, t):
        return [self._reply(user, cmd, t, note="calibration requested: stand upright and still "
                            "for 5 s, then walk a few steps"),
                Outgoing("", {"user": user, "t_s": t}, action="calibrate")]

    def _cmd_acute(self, user, st, cmd, t):
        self._set_flags(user, st, acute=cmd.args["on"])
        return [self._reply(user, cmd, t, flags=self.store.flags(user)), *self._plan_messages(user, t)]

    def _cmd_extension_eases(self, user, st, cmd, t):
        self._set_flags(user, st, extension_eases=cmd.args["on"])
        return [self._reply(user, cmd, t, flags=self.store.flags(user)), *self._plan_messages(user, t)]

    def _cmd_clinician_cleared(self, user, st, cmd, t):
        self._set_flags(user, st, red_flag=False)
        return [self._reply(user, cmd, t, flags=self.store.flags(user)), *self._plan_messages(user, t)]

    def _cmd_settings(self, user, st, cmd, t):
        values = user_settings.validate_overrides(cmd.args["values"], "values")
        merged = self.store.update_settings(user, values)
        st.policy.settings = self.settings_for(user)
        return [self._reply(user, cmd, t, settings=merged)]

    def _cmd_status(self, user, st, cmd, t):
        return [self._reply(user, cmd, t, status=self.status(user, t))]

    def _cmd_plan(self, user, st, cmd, t):
        return [self._reply(user, cmd, t), *self._plan_messages(user, t)]

    def _set_flags(self, user: str, st: "_UserState", **flags: bool) -> None:
        st.policy.set_flags(**self.store.set_flags(user, **flags))
        self._persist(user, st)

    # -- plan, status, discovery --------------------------------------------------------------
    def plan(self, user: str, t_s: float) -> dict:
        cfg = self.settings_for(user)
        return build_plan(self.store.entries(user), self.store.pain(user), Flags(**self.store.flags(user)),
                          cfg, t_s)

    def _plan_messages(self, user: str, t: float) -> list[Outgoing]:
        plan = {"type": "plan", "user": user, **self.plan(user, t)}
        return [Outgoing(self._topic(user, "nudge"), plan, suffix="nudge",
                         event=Event("plan", t, {"user": user, "status": plan["status"],
                                                 "phase": plan["phase"], "week": plan["programme_week"],
                                                 "deload": plan["deload"],
                                                 "planned_sets": planned_sets(plan),
                                                 "red_flag": plan["status"] == "stop"})),
                Outgoing(self._topic(user, "plan"), plan, retain=True, suffix="plan")]

    def status(self, user: str, t_s: float) -> dict:
        st = self._user(user)
        cfg = st.policy.settings
        state = self._state_payload(user, st)
        today = local_date(t_s, cfg.timezone).isoformat()
        if state["date"] != today:          # no minute seen yet today: nothing counted yet
            state.update({k: 0 for k in ("sedentary_min_today", "walking_min_today",
                                         "exercise_min_today", "steps_today", "nudges_today",
                                         "nudges_answered_today", "nudges_ignored_today")})
            state.update(date=today, reps_today=self._reps_on(user, today))
        plan = self.plan(user, t_s)
        return {**state, "t_s": t_s, "nudges_total": self.store.nudge_counts(user),
                "plan": {"status": plan["status"], "phase": plan["phase"],
                         "programme_week": plan["programme_week"], "deload": plan["deload"],
                         "next_session": plan["next_session"]}}

    def discovery(self, user: str, devices: list | None = None) -> list[Outgoing]:
        """Home Assistant discovery configs (retained); ``devices``: DeviceConfigs or ids."""
        if not self.cfg.coaching.ha_discovery_prefix:
            return []
        if devices is None:
            devices = [d for d in self.cfg.devices if d.user == user]
        return discovery_messages(user, self.topics, [str(getattr(d, "id", d)) for d in devices])


class _UserState:
    def __init__(self, policy: NudgePolicy, day: dict | None, last_t_s: float | None):
        self.policy = policy
        self.day = day
        self.last_t_s = last_t_s
        self.announced: dict | None = None
        self.last_nudge: dict | None = None

#!/usr/bin/env python3
"""acct.py: the accounting of the fault suite (tests/faults/run.sh).

  acct.py watch --logs L1,L2,.. --events EV --out POLLS [--lag-ms 5000] [--interval 1]
      Runs until killed. Every interval: reads the generator line logs incrementally (valid
      ticks per docs/design.md section 3, deduplicated by Nats-Msg-Id: the independent oracle of
      tests/integration/oracle.py), reads every row of aggregated_prices (psql) and the
      recent 1 s buckets of Redis, and appends one JSON line to POLLS:
        {"t": ms, "ok": bool, "pg_ok", "rd_ok", "why": first difference,
         "faults": {"<i>": {"lost": n, "dup": n}}}
      "ok" means: for every (exchange, symbol) there is a cutoff c, a second boundary no more
      than lag-ms behind the newest tick in the logs, such that PostgreSQL holds exactly the
      oracle's rows over the ticks with ts < c (every field: count, exact price_sum, min/max
      with their ts, open/close with ts and id, volume, notional, average = sum/count), and
      Redis holds exactly the oracle's 1 s buckets from 20 s before the last fault up to c.
      Minutes (seconds in Redis) that overlap the damage window of a fault expected to lose
      or duplicate ticks (collector or aggregator kill -9) are compared by count only: their
      difference is that fault's "lost"/"dup"; they must still show the newest ticks
      (caught up).
  acct.py report --logs .. --events EV --polls POLLS [--table OUT.md] [--json OUT.json]
      The final accounting after the generators stopped and the pipeline drained: exact
      comparison of every row (L = 0), per-fault lost / duplicated / seconds to recover, the
      table. Exit 1 when a fault lost or duplicated ticks it must not, did not recover, or
      any row outside a damage window differs from the oracle.

Events (one JSON object per line, written by run.sh): {"i": n, "name": "...",
"expect": "none"|"loss"|"dup", "t_fault": ms, "t_back": ms, "t_extra_ok": ms (optional)}.
Environment: MF_PSQL (psql binary), MF_PG_PORT, MF_REDIS_PORT.
"""
import argparse
import json
import os
import subprocess
import sys
import time
from decimal import Decimal
from fractions import Fraction

HERE = os.path.dirname(os.path.abspath(__file__))
sys.path.insert(0, os.path.join(HERE, "..", "integration"))
import oracle  # noqa: E402
from persister_check import Resp, parts_sum  # noqa: E402

MIN = 60000
DAMAGE_BEFORE_MS = 3000  # a kill -9 can lose/duplicate ticks stamped this long before it
DAMAGE_AFTER_MS = 1500
REDIS_BACK_MS = 20000
REDELIVERY_FROM_MS = 25000  # aggregator kill: AckWait redelivery, see damage_windows
REDELIVERY_TO_MS = 65000


def now_ms():
    return int(time.time() * 1000)


class Ledger:
    """The generator logs, read incrementally: valid ticks per (exchange, symbol) and second."""

    def __init__(self, paths):
        self.files = {p: [0, b""] for p in paths}
        self.seen = set()
        self.ticks = {}  # (ex, sym) -> {second_start: [tick]}
        self.version = {}  # (ex, sym, minute) -> n ticks added
        self.lmax = {}  # ex -> newest ts
        self.lines = 0
        self.valid = 0
        self.dups = 0
        self.rejected = 0
        self._full = {}

    def update(self):
        for p, st in self.files.items():
            try:
                with open(p, "rb") as f:
                    f.seek(st[0])
                    data = f.read()
            except FileNotFoundError:
                continue
            st[0] += len(data)
            data = st[1] + data
            lines = data.split(b"\n")
            st[1] = lines.pop()
            for raw in lines:
                self._line(raw.decode("utf-8", "replace"))

    def _line(self, raw):
        if not raw:
            return
        self.lines += 1
        ex, _, line = raw.partition(" ")
        t, _why = oracle.parse_feed_line(line.rstrip("\r"), ex)
        if t is None:
            self.rejected += 1
            return
        mid = oracle.msg_id(t)
        if mid in self.seen:
            self.dups += 1
            return
        self.seen.add(mid)
        self.valid += 1
        key = (ex, t["symbol"])
        sec = t["ts"] // 1000 * 1000
        self.ticks.setdefault(key, {}).setdefault(sec, []).append(t)
        mk = (ex, t["symbol"], t["ts"] // MIN * MIN)
        self.version[mk] = self.version.get(mk, 0) + 1
        if t["ts"] > self.lmax.get(ex, 0):
            self.lmax[ex] = t["ts"]

    def minutes(self, key):
        return {s // MIN * MIN for s in self.ticks.get(key, {})}

    def stats(self, key, lo, hi):
        """Oracle statistics of the ticks of key with lo <= ts < hi (None when none)."""
        secs = self.ticks.get(key, {})
        sel = []
        for s in range(lo // 1000 * 1000, hi, 1000):
            for t in secs.get(s, ()):
                if lo <= t["ts"] < hi:
                    sel.append(t)
        if not sel:
            return None
        return next(iter(oracle.compute(sel, windows=("1m",)).values()))

    def minute(self, key, m):
        v = self.version.get((key[0], key[1], m), 0)
        c = self._full.get((key, m))
        if c is None or c[0] != v:
            c = (v, self.stats(key, m, m + MIN))
            self._full[(key, m)] = c
        return c[1]

    def second(self, key, s):
        lst = self.ticks.get(key, {}).get(s)
        if not lst:
            return None
        return next(iter(oracle.compute(lst, windows=("1s",)).values()))


def read_events(path):
    out = []
    try:
        with open(path) as f:
            for line in f:
                line = line.strip()
                if line:
                    out.append(json.loads(line))
    except FileNotFoundError:
        pass
    return out


def damage_windows(events):
    out = []
    for e in events:
        if e.get("expect") in ("loss", "dup"):
            out.append((e["i"], e["t_fault"] - DAMAGE_BEFORE_MS, e["t_fault"] + DAMAGE_AFTER_MS))
        if e.get("expect") == "dup":
            # The killed aggregator's unacked ticks come back after AckWait (30 s, sometimes
            # twice that); during that redelivery nats-server 2.9 was seen to hand a *fresh*
            # tick to both instances (counted twice). Compared by count, reported as "dup".
            out.append((e["i"], e["t_fault"] + REDELIVERY_FROM_MS,
                        e["t_fault"] + REDELIVERY_TO_MS))
    return out


def damaged(wins, lo, hi):
    """The fault whose damage window overlaps [lo, hi), or None."""
    for i, a, b in wins:
        if lo < b and hi > a:
            return i
    return None


def exact(s):
    return float(Fraction(Decimal(s)))


def pg_rows():
    q = ("SELECT exchange, pair_name, (extract(epoch FROM \"timestamp\") * 1000)::bigint, "
         "average_price, min_price, max_price, tick_count, price_sum, open_price, open_ts, "
         "open_id, close_price, close_ts, close_id, min_ts, max_ts, volume, notional "
         "FROM aggregated_prices")
    out = subprocess.run(
        [os.environ.get("MF_PSQL", "psql"), "-XAtq", "-v", "ON_ERROR_STOP=1", "-h", "127.0.0.1",
         "-p", os.environ["MF_PG_PORT"], "-U", "postgres", "-d", "marketflow", "-F", "|",
         "-c", q], capture_output=True, text=True, timeout=10)
    if out.returncode != 0:
        raise RuntimeError("psql: " + out.stderr.strip()[:200])
    rows = {}
    for line in out.stdout.splitlines():
        f = line.split("|")
        if len(f) < 18:
            continue
        st = {
            "count": int(f[6]), "sum": exact(f[7]), "min": float(f[4]), "max": float(f[5]),
            "open": float(f[8]), "open_ts": int(f[9]), "open_id": int(f[10]),
            "close": float(f[11]), "close_ts": int(f[12]), "close_id": int(f[13]),
            "min_ts": int(f[14]), "max_ts": int(f[15]), "volume": exact(f[16]),
            "notional": exact(f[17]), "avg": float(f[3]),
        }
        rows[((f[0], f[1]), int(f[2]))] = st
    return rows


def diff(want, got):
    """First differing field of two stats (None when equal, including both None)."""
    if want is None or got is None:
        if want is None and got is None:
            return None
        return "missing row" if got is None else "row without ticks (count=%d)" % got["count"]
    for f in oracle.FIELDS:
        if want[f] != got[f]:
            return "%s want %r got %r" % (f, want[f], got[f])
    if "avg" in got and got["avg"] != got["sum"] / got["count"]:
        return "average_price %r != sum/count" % got["avg"]
    return None


def cutoffs(led, ex, lag_ms):
    top = led.lmax.get(ex, 0) // 1000 * 1000 + 1000
    if lag_ms <= 0:
        return [top]  # everything
    lo = min(top - 1000, (led.lmax.get(ex, 0) - lag_ms) // 1000 * 1000)
    return list(range(top, lo - 1, -1000))


def check_pg(led, rows, wins, lag_ms):
    """Returns (ok, why, {fault: [lost, dup]})."""
    keys = set(led.ticks) | {k for k, _m in rows}
    pgm = {}
    for (k, m), st in rows.items():
        pgm.setdefault(k, {})[m] = st
    faults = {}
    for key in sorted(keys):
        mins = led.minutes(key) | set(pgm.get(key, {}))
        best = None
        for c in cutoffs(led, key[0], lag_ms):
            why, dmg = None, {}
            for m in sorted(mins):
                got = pgm.get(key, {}).get(m)
                if m >= c:
                    want = None
                elif m + MIN <= c:
                    want = led.minute(key, m)
                else:
                    want = led.stats(key, m, c)
                fi = damaged(wins, m, m + MIN)
                if fi is not None:
                    d = (got["count"] if got else 0) - (want["count"] if want else 0)
                    dmg[fi] = dmg.get(fi, 0) + d
                    if m < c < m + MIN and want is not None and (
                            got is None or (got["close_ts"], got["close_id"]) !=
                            (want["close_ts"], want["close_id"])):
                        why = "%s:%s minute %d (damaged): not caught up to %d" % (
                            key[0], key[1], m, c)
                        break
                    continue
                w = diff(want, got)
                if w:
                    why = "%s:%s minute %d (cutoff %d): %s" % (key[0], key[1], m, c, w)
                    break
            if why is None:
                best = (None, dmg)
                break
            if best is None:
                best = (why, dmg)
        if best[0] is not None:
            # Where PostgreSQL stands: its count in the minute of the newest cutoff, against
            # the oracle's counts at each cutoff (between two = a second half stored).
            cs = cutoffs(led, key[0], lag_ms)
            m = (cs[0] - 1) // MIN * MIN
            got = pgm.get(key, {}).get(m)
            counts = ",".join("%d" % ((led.stats(key, m, c) or {"count": 0})["count"])
                              for c in cs)
            return False, "pg %s (pg count %s; oracle at cutoffs %s)" % (
                best[0], got["count"] if got else 0, counts), {}
        for fi, d in best[1].items():
            f = faults.setdefault(fi, [0, 0])
            if d < 0:
                f[0] -= d
            else:
                f[1] += d
    return True, None, faults


def redis_fetch(port, wanted):
    r = Resp(port)
    out = []
    batch = 500
    for i in range(0, len(wanted), batch):
        part = wanted[i:i + batch]
        buf = b""
        for key, s in part:
            k = ("mf:1s:%s:%s:%d" % (key[0], key[1], s)).encode()
            buf += b"*2\r\n$7\r\nHGETALL\r\n$%d\r\n%s\r\n" % (len(k), k)
        r.s.sendall(buf)
        for _ in part:
            out.append(r.read())
    r.s.close()
    res = {}
    for (key, s), h in zip(wanted, out):
        if not h:
            res[(key, s)] = None
            continue
        h = dict(zip(h[0::2], h[1::2]))
        res[(key, s)] = {
            "count": int(h["count"]), "sum": parts_sum(h["sum_x"]),
            "min": float(h["min"]), "min_ts": int(h["min_ts"]), "max": float(h["max"]),
            "max_ts": int(h["max_ts"]), "open": float(h["open"]), "open_ts": int(h["open_ts"]),
            "open_id": int(h["open_id"]), "close": float(h["close"]),
            "close_ts": int(h["close_ts"]), "close_id": int(h["close_id"]),
            "volume": parts_sum(h["volume_x"]), "notional": parts_sum(h["notional_x"]),
        }
    return res


def check_redis(led, wins, lag_ms, from_ms):
    port = os.environ["MF_REDIS_PORT"]
    plan = {}
    wanted = []
    for key in sorted(led.ticks):
        cs = cutoffs(led, key[0], lag_ms)
        lo = max(from_ms // 1000 * 1000, min(led.ticks[key]))
        secs = [s for s in range(lo, cs[0], 1000)]
        plan[key] = (cs, secs)
        wanted += [(key, s) for s in secs]
    got = redis_fetch(port, wanted)
    for key, (cs, secs) in plan.items():
        why = None
        for c in cs:
            why = None
            for s in secs:
                if damaged(wins, s, s + 1000) is not None:
                    continue
                want = led.second(key, s) if s < c else None
                g = got.get((key, s)) if s < c else None
                w = diff(want, g)
                if w:
                    why = "redis %s:%s second %d (cutoff %d): %s" % (key[0], key[1], s, c, w)
                    break
            if why is None:
                break
        if why is not None:
            return False, why
    return True, None


def poll(led, events, lag_ms, run_start):
    led.update()
    wins = damage_windows(events)
    rec = {"t": now_ms(), "ok": False, "pg_ok": False, "rd_ok": False, "why": None,
           "faults": {}, "ticks": led.valid}
    try:
        ok, why, faults = check_pg(led, pg_rows(), wins, lag_ms)
        rec["pg_ok"] = ok
        rec["why"] = why
        rec["faults"] = {str(k): {"lost": v[0], "dup": v[1]} for k, v in faults.items()}
    except Exception as e:  # noqa: BLE001 - PostgreSQL down is a normal state here
        rec["why"] = "pg error: %s" % e
    try:
        last = max([e["t_fault"] for e in events] + [run_start])
        ok, why = check_redis(led, wins, lag_ms, max(run_start, last - REDIS_BACK_MS))
        rec["rd_ok"] = ok
        if not ok and rec["why"] is None:
            rec["why"] = why
    except Exception as e:  # noqa: BLE001 - Redis down is a normal state here
        if rec["why"] is None:
            rec["why"] = "redis error: %s" % e
    rec["ok"] = rec["pg_ok"] and rec["rd_ok"]
    return rec


def watch(a):
    led = Ledger(a.logs.split(","))
    run_start = now_ms()
    with open(a.out, "a") as out:
        while True:
            t0 = time.time()
            rec = poll(led, read_events(a.events), a.lag_ms, run_start)
            out.write(json.dumps(rec) + "\n")
            out.flush()
            time.sleep(max(0.05, a.interval - (time.time() - t0)))


def load_polls(path):
    out = []
    with open(path) as f:
        for line in f:
            try:
                out.append(json.loads(line))
            except ValueError:
                pass
    return out


def settled(rec, ev):
    """A poll where fault ev counts as recovered: everything exact (outside damage), and a
    fault that may only duplicate has no tick missing any more."""
    if not rec["ok"]:
        return False
    f = rec["faults"].get(str(ev["i"]), {"lost": 0, "dup": 0})
    return ev.get("expect") == "loss" or f["lost"] == 0


def recovery(ev, polls, end_ms, streak=3):
    """Seconds from the fault to the first of `streak` settled polls in a row in its window
    (what run.sh waits for before the next fault); None when there is no such run."""
    win = [p for p in polls if ev["t_back"] <= p["t"] < end_ms]
    run = 0
    for j, p in enumerate(win):
        run = run + 1 if settled(p, ev) else 0
        if run == streak:
            t = max(win[j - streak + 1]["t"], ev.get("t_extra_ok", 0))
            return (t - ev["t_fault"]) / 1000.0
    return None


EXPECT_TEXT = {"none": "0 lost, 0 duplicated", "loss": "lost = lines in flight (reported)",
               "dup": "dup <= ticks between PubAck and ack (reported)"}


def report(a):
    events = read_events(a.events)
    polls = load_polls(a.polls)
    led = Ledger(a.logs.split(","))
    led.update()
    wins = damage_windows(events)
    ok, why, faults = check_pg(led, pg_rows(), wins, 0)
    first = min((min(s) for s in led.ticks.values()), default=0)
    rd_ok, rd_why = check_redis(led, wins, 0, max(first, now_ms() - 500000))
    failures = []
    if not ok:
        failures.append("final PostgreSQL rows differ from the oracle: %s" % why)
    if not rd_ok:
        failures.append("final Redis buckets differ from the oracle: %s" % rd_why)
    rows = []
    for n, ev in enumerate(events):
        end = events[n + 1]["t_fault"] if n + 1 < len(events) else now_ms()
        lost, dup = faults.get(ev["i"], [0, 0])
        rec = recovery(ev, polls, end)
        exp = ev.get("expect", "none")
        if rec is None:
            failures.append("%s: not recovered before the next step" % ev["name"])
        if lost and exp != "loss":
            failures.append("%s: %d ticks lost" % (ev["name"], lost))
        if dup and exp != "dup":
            failures.append("%s: %d ticks counted twice" % (ev["name"], dup))
        rows.append((ev["name"], lost, dup, rec, EXPECT_TEXT[exp]))
    lines = ["| fault | lost | duplicated | recovered in s | expected |",
             "|---|---:|---:|---:|---|"]
    for name, lost, dup, rec, exp in rows:
        lines.append("| %s | %d | %d | %s | %s |" % (
            name, lost, dup, "%.1f" % rec if rec is not None else "NOT RECOVERED", exp))
    nrows = sum(len(led.minutes(k)) for k in led.ticks)
    lines.append("")
    lines.append("Feed lines logged: %d; valid ticks (deduplicated): %d; rejected lines: %d; "
                 "repeated lines: %d; keys: %d; minute rows: %d. Final PostgreSQL rows: %s; "
                 "final Redis 1 s buckets: %s." % (
                     led.lines, led.valid, led.rejected, led.dups, len(led.ticks), nrows,
                     "equal to the oracle outside the damage windows" if ok else "DIFFER",
                     "equal to the oracle outside the damage windows" if rd_ok else "DIFFER"))
    table = "\n".join(lines)
    print(table)
    for f in failures:
        print("FAILURE:", f)
    if a.table:
        with open(a.table, "w") as f:
            f.write(table + "\n")
    if a.json:
        with open(a.json, "w") as f:
            json.dump({"rows": rows, "failures": failures, "ticks": led.valid}, f)
    return 1 if failures else 0


def final_exact(a):
    """Exit 0 when PostgreSQL and Redis hold every tick logged so far (no lag allowed), as the
    report will check; else print why and exit 1. Polled after the feeds stop, so the report
    does not race the last seconds still on their way through the pipeline."""
    events = read_events(a.events)
    led = Ledger(a.logs.split(","))
    led.update()
    wins = damage_windows(events)
    ok, why, _f = check_pg(led, pg_rows(), wins, 0)
    if ok:
        first = min((min(s) for s in led.ticks.values()), default=0)
        ok, why = check_redis(led, wins, 0, max(first, now_ms() - 500000))
    if not ok:
        print(why)
    return 0 if ok else 1


def last_settled(a):
    """Exit 0 when the last N polls after t_back of the last event are settled for it."""
    events = read_events(a.events)
    polls = load_polls(a.polls)
    ev = events[-1] if events else {"i": -1, "t_back": 0, "t_fault": 0, "expect": "none"}
    win = [p for p in polls if p["t"] >= max(ev["t_back"], a.after)]
    if len(win) < a.n:
        return 1
    if all(settled(p, ev) for p in win[-a.n:]):
        return 0
    print(win[-1].get("why"), win[-1].get("faults"))
    return 1


def main():
    ap = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    sub = ap.add_subparsers(dest="cmd", required=True)
    w = sub.add_parser("watch")
    w.add_argument("--logs", required=True)
    w.add_argument("--events", required=True)
    w.add_argument("--out", required=True)
    w.add_argument("--lag-ms", type=int, default=5000)
    w.add_argument("--interval", type=float, default=1.0)
    r = sub.add_parser("report")
    r.add_argument("--logs", required=True)
    r.add_argument("--events", required=True)
    r.add_argument("--polls", required=True)
    r.add_argument("--table")
    r.add_argument("--json")
    s = sub.add_parser("settled")
    s.add_argument("--events", required=True)
    s.add_argument("--polls", required=True)
    s.add_argument("--n", type=int, default=3)
    s.add_argument("--after", type=int, default=0)
    x = sub.add_parser("exact")
    x.add_argument("--logs", required=True)
    x.add_argument("--events", required=True)
    a = ap.parse_args()
    if a.cmd == "watch":
        watch(a)
        return 0
    if a.cmd == "settled":
        return last_settled(a)
    if a.cmd == "exact":
        return final_exact(a)
    return report(a)


if __name__ == "__main__":
    sys.exit(main())

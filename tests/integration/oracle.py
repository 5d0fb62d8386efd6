#!/usr/bin/env python3
"""oracle.py: an independent reference for marketflow's windows (docs/design.md sections 3-5).

Reusable by every service's tests (import it, or run it as a command):

    import oracle
    ticks = oracle.load_bus_ticks("ticks.jsonl")            # bus tick JSON, one per line
    ticks, rejected = oracle.load_generator_log("gen.log")   # "<exchange> <feed line>" per line
    ticks = oracle.dedupe(ticks)                             # same Nats-Msg-Id -> stored once
    want = oracle.compute(ticks)                             # {(ex, sym, "1s"|"1m", start): stats}
    got, dups = oracle.merge_rollups(oracle.load_rollups("rollups.jsonl"))
    problems = oracle.compare(want, got)                     # [] when identical

    oracle.py check --ticks ticks.jsonl --rollups rollups.jsonl [--windows 1s,1m] [--dedupe]
    oracle.py check --gen-log gen.log --rollups ... [--now-ms N]   (exit 0 ok, 1 mismatch)

Statistics per bucket: count, sum (math.fsum of prices), min/min_ts (ties to the earlier ts),
max/max_ts (likewise), open/close (first/last in (ts, id or -1, price) order) with their ts and
id, volume (fsum of qty), notional (fsum of price*qty, each product rounded once). Partials are
merged exactly: the *_x expansions are added as Fractions and rounded once (float(Fraction) is
correctly rounded, like math.fsum), so equality is asserted bit for bit, never "close enough".
A partial repeated under the same (producer, seq) is merged once, as the sinks do.
"""
import argparse
import json
import math
import re
import sys
from fractions import Fraction

WINDOWS = {"1s": 1000, "1m": 60000}
SYMBOL_RE = re.compile(r"^[A-Z0-9]{2,20}$")
TOKEN_RE = re.compile(r"^[A-Za-z0-9_-]{1,32}$")
MAX_LINE = 4096


def fmt_double(x):
    """mf_fmt_double: the shortest of %.15g, %.16g, %.17g that reads back exactly."""
    for prec in (15, 16, 17):
        s = "%.*g" % (prec, x)
        if prec == 17 or float(s) == x:
            return s
    return s


def msg_id(t):
    """mf_tick_msg_id: exchange:symbol:ts:id, or exchange:symbol:ts:price without an id."""
    tail = str(t["id"]) if "id" in t else fmt_double(t["price"])
    return "%s:%s:%d:%s" % (t["exchange"], t["symbol"], t["ts"], tail)


def _is_int(v):
    return isinstance(v, int) and not isinstance(v, bool)


def _is_num(v):
    return isinstance(v, (int, float)) and not isinstance(v, bool)


def parse_feed_line(line, exchange, now_ms=None, max_past_ms=0, max_future_ms=0):
    """Validates one feed line with the rules of docs/design.md section 3.

    Returns (tick, None) or (None, reason). With now_ms, the timestamp must lie within
    [now - max_past_ms, now + max_future_ms] (a bound of 0 disables that side)."""
    if len(line.encode()) > MAX_LINE:
        return None, "too_long"
    try:
        o = json.loads(line)
    except ValueError:
        return None, "json"
    if not isinstance(o, dict):
        return None, "json"
    sym, price, ts = o.get("symbol"), o.get("price"), o.get("timestamp")
    if not isinstance(sym, str) or not _is_num(price) or ts is None:
        return None, "missing"
    if not math.isfinite(price) or price <= 0:
        return None, "price"
    if not SYMBOL_RE.match(sym):
        return None, "symbol"
    if not _is_int(ts):
        return None, "timestamp"
    if now_ms is not None:
        if max_past_ms and ts < now_ms - max_past_ms:
            return None, "timestamp"
        if max_future_ms and ts > now_ms + max_future_ms:
            return None, "timestamp"
    t = {"exchange": exchange, "symbol": sym, "price": float(price), "ts": ts}
    if "qty" in o:
        q = o["qty"]
        if not _is_num(q) or not math.isfinite(q) or q < 0:
            return None, "optional"
        t["qty"] = float(q)
    if "id" in o:
        if not _is_int(o["id"]):
            return None, "optional"
        t["id"] = o["id"]
    if "side" in o:
        if o["side"] not in ("buy", "sell"):
            return None, "optional"
        t["side"] = o["side"]
    return t, None


def load_generator_log(path, now_ms=None, max_past_ms=0, max_future_ms=0):
    """Reads a generator log ("<exchange> <line>" per line). Returns (ticks, {reason: n})."""
    ticks, rejected = [], {}
    with open(path, encoding="utf-8", errors="replace") as f:
        for raw in f:
            raw = raw.rstrip("\n")
            if not raw:
                continue
            exchange, _, line = raw.partition(" ")
            t, why = parse_feed_line(line.rstrip("\r"), exchange, now_ms, max_past_ms,
                                     max_future_ms)
            if t is None:
                rejected[why] = rejected.get(why, 0) + 1
            else:
                ticks.append(t)
    return ticks, rejected


def load_bus_ticks(path):
    """Reads bus tick JSON lines ({"exchange","symbol","price","ts",...})."""
    out = []
    with open(path, encoding="utf-8") as f:
        for line in f:
            line = line.strip()
            if line:
                t = json.loads(line)
                t["price"] = float(t["price"])
                if "qty" in t:
                    t["qty"] = float(t["qty"])
                out.append(t)
    return out


def dedupe(ticks):
    """Keeps the first tick of each Nats-Msg-Id (what JetStream stores)."""
    seen, out = set(), []
    for t in ticks:
        k = msg_id(t)
        if k not in seen:
            seen.add(k)
            out.append(t)
    return out


def _order(t):
    return (t["ts"], t.get("id", -1), t["price"])


def compute(ticks, windows=("1s", "1m")):
    """Per (exchange, symbol, window, start): the statistics of docs/design.md section 4."""
    groups = {}
    for t in ticks:
        for w in windows:
            start = t["ts"] // WINDOWS[w] * WINDOWS[w]
            groups.setdefault((t["exchange"], t["symbol"], w, start), []).append(t)
    out = {}
    for key, ts in groups.items():
        lo = min(ts, key=lambda t: (t["price"], t["ts"]))
        hi = min(ts, key=lambda t: (-t["price"], t["ts"]))
        first = min(ts, key=_order)
        last = max(ts, key=_order)
        q = [t for t in ts if "qty" in t]
        out[key] = {
            "count": len(ts),
            "sum": math.fsum(t["price"] for t in ts),
            "min": lo["price"], "min_ts": lo["ts"],
            "max": hi["price"], "max_ts": hi["ts"],
            "open": first["price"], "open_ts": first["ts"], "open_id": first.get("id", -1),
            "close": last["price"], "close_ts": last["ts"], "close_id": last.get("id", -1),
            "volume": math.fsum(t["qty"] for t in q),
            "notional": math.fsum(t["price"] * t["qty"] for t in q),
        }
    return out


def load_rollups(path):
    out = []
    with open(path, encoding="utf-8") as f:
        for line in f:
            line = line.strip()
            if line:
                out.append(json.loads(line))
    return out


def _exact(r, name):
    parts = r.get(name + "_x")
    if parts is None:
        parts = [r.get(name, 0.0)]
    if not isinstance(parts, list):
        parts = [parts]
    return sum((Fraction(p) for p in parts), Fraction(0))


def merge_rollups(rollups, windows=("1s", "1m")):
    """Merges partials exactly. Returns ({key: stats}, number of repeated (producer, seq))."""
    acc, seen, dups = {}, set(), 0
    for r in rollups:
        if r["window"] not in windows:
            continue
        ident = (r.get("producer"), r.get("seq"))
        if ident[0] is not None and ident in seen:
            dups += 1
            continue
        seen.add(ident)
        if r["count"] == 0:
            continue
        key = (r["exchange"], r["symbol"], r["window"], r["start"])
        a = acc.get(key)
        cur = {
            "count": r["count"], "sum": _exact(r, "sum"), "volume": _exact(r, "volume"),
            "notional": _exact(r, "notional"),
            "min": r["min"], "min_ts": r["min_ts"], "max": r["max"], "max_ts": r["max_ts"],
            "open": r["open"], "open_ts": r["open_ts"], "open_id": r.get("open_id", -1),
            "close": r["close"], "close_ts": r["close_ts"], "close_id": r.get("close_id", -1),
        }
        if a is None:
            acc[key] = cur
            continue
        a["count"] += cur["count"]
        for k in ("sum", "volume", "notional"):
            a[k] += cur[k]
        if (cur["min"], cur["min_ts"]) < (a["min"], a["min_ts"]):
            a["min"], a["min_ts"] = cur["min"], cur["min_ts"]
        if (-cur["max"], cur["max_ts"]) < (-a["max"], a["max_ts"]):
            a["max"], a["max_ts"] = cur["max"], cur["max_ts"]
        if (cur["open_ts"], cur["open_id"], cur["open"]) < (a["open_ts"], a["open_id"], a["open"]):
            a["open"], a["open_ts"], a["open_id"] = cur["open"], cur["open_ts"], cur["open_id"]
        if (cur["close_ts"], cur["close_id"], cur["close"]) > \
                (a["close_ts"], a["close_id"], a["close"]):
            a["close"], a["close_ts"], a["close_id"] = cur["close"], cur["close_ts"], cur["close_id"]
    for a in acc.values():
        for k in ("sum", "volume", "notional"):
            a[k] = float(a[k])  # int/int division: correctly rounded, equal to math.fsum
    return acc, dups


FIELDS = ("count", "sum", "min", "min_ts", "max", "max_ts", "open", "open_ts", "open_id",
          "close", "close_ts", "close_id", "volume", "notional")


def compare(want, got):
    """Exact comparison. Returns a list of human-readable differences ([] when equal)."""
    problems = []
    for key in sorted(set(want) | set(got), key=str):
        w, g = want.get(key), got.get(key)
        if w is None:
            problems.append("%s: in rollups, no such ticks (count=%d)" % (key, g["count"]))
        elif g is None:
            problems.append("%s: missing from rollups (count=%d)" % (key, w["count"]))
        else:
            for f in FIELDS:
                if w[f] != g[f]:
                    problems.append("%s: %s want %r got %r" % (key, f, w[f], g[f]))
    return problems


def gen_ticks(seed, count, start_ms, end_ms, exchanges, symbols, order="inorder"):
    """Random bus ticks with ts in [start_ms, end_ms], with deliberate ties (repeated prices,
    equal ts, equal ids), qty and id on about half of them. order: inorder or shuffled."""
    import random
    rnd = random.Random(seed)
    pool = [100.25, 99.75, 0.1, 3050.123456789012, 1e-9]
    out = []
    for _ in range(count):
        ts = rnd.randint(start_ms, end_ms)
        ts -= ts % 3  # a coarse grid gives equal timestamps
        if rnd.random() < 0.3:
            price = rnd.choice(pool)
        else:
            price = rnd.uniform(0.5, 2.0) * rnd.choice([1.0, 100.0, 100000.0])
        t = {"exchange": rnd.choice(exchanges), "symbol": rnd.choice(symbols), "price": price,
             "ts": ts, "recv_ts": ts + rnd.randint(0, 5)}
        if rnd.random() < 0.5:
            t["qty"] = rnd.randint(1, 10000) / 7.0
        if rnd.random() < 0.5:
            t["id"] = rnd.randint(0, 1 << 40)
        out.append(t)
    if order == "inorder":
        out.sort(key=lambda t: t["ts"])
    else:
        rnd.shuffle(out)
    return out


def tick_json(t):
    """The bus JSON of a tick, numbers printed to round-trip exactly."""
    parts = ['"exchange":%s' % json.dumps(t["exchange"]), '"symbol":%s' % json.dumps(t["symbol"]),
             '"price":%s' % fmt_double(t["price"]), '"ts":%d' % t["ts"],
             '"recv_ts":%d' % t.get("recv_ts", t["ts"])]
    if "qty" in t:
        parts.append('"qty":%s' % fmt_double(t["qty"]))
    if "id" in t:
        parts.append('"id":%d' % t["id"])
    return "{" + ",".join(parts) + "}"


def main(argv=None):
    ap = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    sub = ap.add_subparsers(dest="cmd", required=True)
    c = sub.add_parser("check", help="compare merged rollups with the ticks' oracle")
    c.add_argument("--ticks", action="append", default=[], help="bus tick JSONL (repeatable)")
    c.add_argument("--gen-log", action="append", default=[], help="generator log (repeatable)")
    c.add_argument("--rollups", required=True, help="rollup JSONL (e.g. mf-cat stream output)")
    c.add_argument("--windows", default="1s,1m")
    c.add_argument("--dedupe", action="store_true", help="drop ticks with a repeated msg id")
    c.add_argument("--now-ms", type=int, default=None)
    c.add_argument("--max-past-ms", type=int, default=0)
    c.add_argument("--max-future-ms", type=int, default=0)
    g = sub.add_parser("gen-ticks", help="print random bus ticks (JSONL) for tests")
    g.add_argument("--seed", type=int, default=1)
    g.add_argument("--count", type=int, default=1000)
    g.add_argument("--from-ms", type=int, required=True)
    g.add_argument("--to-ms", type=int, required=True)
    g.add_argument("--exchanges", default="exchange1,exchange2,exchange3")
    g.add_argument("--symbols", default="BTCUSDT,ETHUSDT,DOGEUSDT,SOLUSDT,TONUSDT")
    g.add_argument("--order", choices=("inorder", "shuffled"), default="inorder")
    a = ap.parse_args(argv)
    if a.cmd == "gen-ticks":
        for t in gen_ticks(a.seed, a.count, a.from_ms, a.to_ms, a.exchanges.split(","),
                           a.symbols.split(","), a.order):
            print(tick_json(t))
        return 0
    windows = tuple(a.windows.split(","))
    ticks = []
    for p in a.ticks:
        ticks += load_bus_ticks(p)
    for p in a.gen_log:
        ticks += load_generator_log(p, a.now_ms, a.max_past_ms, a.max_future_ms)[0]
    if a.dedupe:
        ticks = dedupe(ticks)
    want = compute(ticks, windows)
    rollups = load_rollups(a.rollups)
    got, dups = merge_rollups(rollups, windows)
    problems = compare(want, got)
    for p in problems[:30]:
        print("MISMATCH", p)
    print("%s ticks=%d buckets=%d partials=%d repeated_partials=%d mismatches=%d" % (
        "ok" if not problems else "FAIL", len(ticks), len(want), len(rollups), dups,
        len(problems)))
    return 0 if not problems else 1


if __name__ == "__main__":
    sys.exit(main())

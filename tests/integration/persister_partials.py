#!/usr/bin/env python3
"""Hand-made 1 s rollup partials for the persister tests, and their independent oracle.

  persister_partials.py gen SEED NOW_MS OUT_DIR [--prefix P] [--exchanges A,B]
      writes OUT_DIR/partials.txt ("SUBJECT PAYLOAD" lines for mf-cat pub-lines, with
      duplicates, an empty partial and malformed messages mixed in) and OUT_DIR/ticks.json.
  persister_partials.py check-pg OUT_DIR < rows     (psql -F'|' rows of aggregated_prices)
  persister_partials.py check-redis OUT_DIR PORT    (reads the cache with redis-cli)

The oracle works from the raw ticks only: sums with fractions.Fraction (exact) and
math.fsum (correctly rounded), extremes and open/close with the DESIGN tie rules. It shares
no code with the C side. Exit 0 when everything matches exactly, 1 with a diff otherwise.
"""
import json
import math
import random
import subprocess
import sys
from decimal import Decimal
from fractions import Fraction


def order_key(t):
    # mf_tick_order: ts, then id (ticks without id sort first: -1), then price
    return (t["ts"], t.get("id", -1), t["price"])


def summarize(ticks):
    """Statistics of a list of ticks (non-empty), as exact values."""
    mn = min(ticks, key=lambda t: (t["price"], t["ts"]))
    mx = min(ticks, key=lambda t: (-t["price"], t["ts"]))
    op = min(ticks, key=order_key)
    cl = max(ticks, key=order_key)
    prices = [t["price"] for t in ticks]
    qty = [t for t in ticks if "qty" in t]
    return {
        "count": len(ticks),
        "sum": sum(Fraction(p) for p in prices),
        "fsum": math.fsum(prices),
        "min": mn["price"], "min_ts": mn["ts"],
        "max": mx["price"], "max_ts": mx["ts"],
        "open": op["price"], "open_ts": op["ts"], "open_id": op.get("id", -1),
        "close": cl["price"], "close_ts": cl["ts"], "close_id": cl.get("id", -1),
        "volume": sum((Fraction(t["qty"]) for t in qty), Fraction(0)),
        "notional": sum((Fraction(t["price"] * t["qty"]) for t in qty), Fraction(0)),
    }


def partial_json(ex, sym, start, ticks, producer, seq):
    s = summarize(ticks)
    o = {"exchange": ex, "symbol": sym, "window": "1s", "start": start,
         "count": s["count"], "sum": s["fsum"],
         "sum_x": [t["price"] for t in ticks],
         "min": s["min"], "min_ts": s["min_ts"], "max": s["max"], "max_ts": s["max_ts"],
         "open": s["open"], "open_ts": s["open_ts"], "close": s["close"],
         "close_ts": s["close_ts"],
         "volume_x": [t["qty"] for t in ticks if "qty" in t],
         "notional_x": [t["price"] * t["qty"] for t in ticks if "qty" in t],
         "producer": producer, "seq": seq}
    if s["open_id"] >= 0:
        o["open_id"] = s["open_id"]
    if s["close_id"] >= 0:
        o["close_id"] = s["close_id"]
    return json.dumps(o, separators=(",", ":"))


def gen(seed, now_ms, out, prefix, exchanges=("exchange1", "exchange2")):
    rnd = random.Random(seed)
    first_minute = (now_ms // 60000 - 3) * 60000
    ticks = []
    lines = []
    seqs = {"agg-a": 0, "agg-b": 0, "agg-c": 0}
    if exchanges[0] != "exchange1":  # another run of the same aggregators: later seqs
        seqs = {k: 100000 * seed for k in seqs}
    tid = 1000
    for ex in exchanges:
        for sym, base in (("BTCUSDT", 100000.0), ("DOGEUSDT", 0.3)):
            for minute in range(3):
                m0 = first_minute + minute * 60000
                for sec in sorted(rnd.sample(range(60), 25)):
                    start = m0 + sec * 1000
                    n = rnd.randint(1, 30)
                    bucket = []
                    for _ in range(n):
                        price = base * (1 + rnd.uniform(-0.01, 0.01))
                        if bucket and rnd.random() < 0.15:
                            price = rnd.choice(bucket)["price"]  # exercise tie rules
                        t = {"ex": ex, "sym": sym, "ts": start + rnd.randint(0, 999),
                             "price": price}
                        if rnd.random() < 0.6:
                            tid += 1
                            t["id"] = tid
                            t["qty"] = round(rnd.uniform(0.001, 3.0), 6)
                        bucket.append(t)
                    ticks.extend(bucket)
                    # split among two aggregators, sometimes a late correction partial
                    parts = {"agg-a": [], "agg-b": [], "agg-c": []}
                    for t in bucket:
                        r = rnd.random()
                        parts["agg-c" if r < 0.1 else ("agg-a" if r < 0.55 else "agg-b")].append(t)
                    for prod, pt in parts.items():
                        if not pt:
                            continue
                        seqs[prod] += 1
                        subj = f"{prefix}.rollups.1s.{ex}.{sym}"
                        line = f"{subj} {partial_json(ex, sym, start, pt, prod, seqs[prod])}"
                        lines.append(line)
                        if rnd.random() < 0.1:
                            lines.append(line)  # a redelivered / republished partial
    rnd.shuffle(lines)
    lines.insert(5, f"{prefix}.rollups.1s.exchange1.BTCUSDT {{not json")
    lines.insert(9, f"{prefix}.rollups.1s.exchange1.BTCUSDT " + json.dumps(
        {"exchange": "exchange1", "symbol": "BTCUSDT", "window": "1s", "start": first_minute,
         "count": 0, "sum": 0, "volume": 0, "notional": 0, "producer": "agg-a", "seq": 999999}))
    lines.insert(12, f"{prefix}.rollups.1s.exchange1.BTCUSDT " + json.dumps(
        {"exchange": "exchange1", "symbol": "BTCUSDT", "window": "1m", "start": first_minute,
         "count": 1, "sum": 1.0, "min": 1.0, "min_ts": first_minute, "max": 1.0,
         "max_ts": first_minute, "open": 1.0, "open_ts": first_minute, "close": 1.0,
         "close_ts": first_minute, "producer": "agg-a", "seq": 999998}))
    with open(f"{out}/partials.txt", "w") as f:
        f.write("\n".join(lines) + "\n")
    with open(f"{out}/ticks.json", "w") as f:
        json.dump(ticks, f)
    print(len(lines))


def groups(out, width):
    with open(f"{out}/ticks.json") as f:
        ticks = json.load(f)
    g = {}
    for t in ticks:
        g.setdefault((t["ex"], t["sym"], t["ts"] // width * width), []).append(t)
    return g


def frac_text(s):
    return Fraction(Decimal(s))


def check_pg(out):
    expected = {k: summarize(v) for k, v in groups(out, 60000).items()}
    got = {}
    for line in sys.stdin:
        line = line.strip()
        if not line:
            continue
        f = line.split("|")
        got[(f[0], f[1], int(f[2]))] = f[3:]
    bad = 0
    if set(got) != set(expected):
        print(f"row keys differ: missing={sorted(set(expected) - set(got))[:5]} "
              f"extra={sorted(set(got) - set(expected))[:5]}")
        bad += 1
    for k, e in expected.items():
        g = got.get(k)
        if g is None:
            continue
        (avg, mn, mx, cnt, psum, op, op_ts, op_id, cl, cl_ts, cl_id, mn_ts, mx_ts, vol,
         notional) = g
        want = [e["fsum"] / e["count"], e["min"], e["max"], e["count"], e["sum"], e["open"],
                e["open_ts"], e["open_id"], e["close"], e["close_ts"], e["close_id"],
                e["min_ts"], e["max_ts"], e["volume"], e["notional"]]
        have = [float(avg), float(mn), float(mx), int(cnt), frac_text(psum), float(op),
                int(op_ts), int(op_id), float(cl), int(cl_ts), int(cl_id), int(mn_ts),
                int(mx_ts), frac_text(vol), frac_text(notional)]
        if want != have:
            bad += 1
            if bad < 5:
                print(f"row {k} differs:\n  want {want}\n  have {have}")
    if bad:
        return 1
    print(f"postgres: {len(expected)} minute rows match the oracle exactly")
    return 0


def check_redis(out, port):
    def cli(*args):
        return subprocess.run(["redis-cli", "-p", str(port), "--raw", *args],
                              capture_output=True, text=True, check=True).stdout
    bad = 0
    exp = groups(out, 1000)
    for (ex, sym, start), ticks in exp.items():
        e = summarize(ticks)
        raw = cli("HGETALL", f"mf:1s:{ex}:{sym}:{start}").split("\n")
        h = dict(zip(raw[0::2], raw[1::2]))
        if not h:
            bad += 1
            if bad < 5:
                print(f"bucket {ex}:{sym}:{start} missing")
            continue
        parts = [float(p) for p in h["sum_x"].split(",") if p]
        vparts = [float(p) for p in h["volume_x"].split(",") if p]
        nparts = [float(p) for p in h["notional_x"].split(",") if p]
        want = [e["count"], e["sum"], e["fsum"], e["min"], e["min_ts"], e["max"], e["max_ts"],
                e["open"], e["open_ts"], e["open_id"], e["close"], e["close_ts"],
                e["close_id"], e["volume"], e["notional"]]
        have = [int(h["count"]), sum((Fraction(p) for p in parts), Fraction(0)),
                math.fsum(parts), float(h["min"]), int(h["min_ts"]), float(h["max"]),
                int(h["max_ts"]), float(h["open"]), int(h["open_ts"]), int(h["open_id"]),
                float(h["close"]), int(h["close_ts"]), int(h["close_id"]),
                sum((Fraction(p) for p in vparts), Fraction(0)),
                sum((Fraction(p) for p in nparts), Fraction(0))]
        if want != have:
            bad += 1
            if bad < 5:
                print(f"bucket {ex}:{sym}:{start} differs:\n  want {want}\n  have {have}")
    # latest: the newest tick per key, from the rollups' closes
    keys = {(ex, sym) for (ex, sym, _s) in exp}
    for ex, sym in keys:
        newest = max((t for t in json.load(open(f"{out}/ticks.json"))
                      if t["ex"] == ex and t["sym"] == sym), key=order_key)
        raw = cli("HGET", f"mf:latest:{ex}:{sym}", "ts").strip()
        if raw != str(newest["ts"]):
            bad += 1
            print(f"latest {ex}:{sym}: ts {raw!r}, want {newest['ts']}")
    members = set(cli("SMEMBERS", "mf:symbols").split())
    if not {f"{ex}:{sym}" for ex, sym in keys} <= members:
        bad += 1
        print(f"mf:symbols incomplete: {members}")
    if bad:
        return 1
    print(f"redis: {len(exp)} 1 s buckets match the oracle exactly")
    return 0


def main(argv):
    if argv[1] == "gen":
        prefix = argv[argv.index("--prefix") + 1] if "--prefix" in argv else "marketflow"
        exchanges = ("exchange1", "exchange2")
        if "--exchanges" in argv:
            exchanges = tuple(argv[argv.index("--exchanges") + 1].split(","))
        gen(int(argv[2]), int(argv[3]), argv[4], prefix, exchanges)
        return 0
    if argv[1] == "check-pg":
        return check_pg(argv[2])
    if argv[1] == "check-redis":
        return check_redis(argv[2], argv[3])
    print(__doc__)
    return 2


if __name__ == "__main__":
    sys.exit(main(sys.argv))

#!/usr/bin/env python3
"""collector_check.py: independent oracles for the collector integration tests.

  robust EXPECT DUMP EXCHANGE      the valid ticks a scripted feed sent (EXPECT, JSON lines)
                                   are on the bus exactly once, bit for bit, and nothing
                                   else in their time window
  fixtures DUMP NAME=FILE...       the bus holds exactly one tick per fixture line: exchange
                                   named by endpoint, symbol, price (bit-exact), ts
  sent DUMP NAME=LOG...            every line a feed logged as sent is on the bus once
  genlog DUMP LOG                  every line of a marketflow-generator --log file
                                   ("<exchange> <line>") is on the bus once, with qty/id/side
  status STATUS PATH=VALUE...      checks fields of a status heartbeat (PATH like
                                   feeds.0.rejected.json, or feeds.exchange1.connected)
"""
import collections
import json
import sys


def fail(msg):
    print("collector_check: FAIL: " + msg, file=sys.stderr)
    sys.exit(1)


def ticks(path):
    out = []
    with open(path) as f:
        for line in f:
            line = line.strip()
            if line:
                out.append(json.loads(line))
    return out


def key(ex, sym, price, ts):
    return (ex, sym, float(price).hex(), int(ts))


def bus_keys(dump):
    return collections.Counter(key(t["exchange"], t["symbol"], t["price"], t["ts"])
                               for t in ticks(dump))


def cmd_robust(expect, dump, exchange):
    exp = ticks(expect)
    if not exp:
        fail("no expected ticks in " + expect)
    want = collections.Counter(key(exchange, t["symbol"], t["price"], t["ts"]) for t in exp)
    lo = min(t["ts"] for t in exp)
    hi = max(t["ts"] for t in exp) + 1  # the partial line's ts: must not appear
    got = collections.Counter(
        k for k, n in bus_keys(dump).items() for _ in range(n)
        if k[0] == exchange and lo <= k[3] <= hi)
    if got != want:
        fail("bus %s != expected %s" % (sorted(got.items()), sorted(want.items())))
    print("robust: %d expected ticks found exactly once" % len(exp))


def lines_of(path):
    with open(path) as f:
        return [json.loads(l) for l in f if l.strip()]


def cmd_lines(dump, specs, what):
    want = collections.Counter()
    for spec in specs:
        name, path = spec.split("=", 1)
        for t in lines_of(path):
            want[key(name, t["symbol"], t["price"], t["timestamp"])] += 1
    if not want:
        fail("%s: no lines in %s" % (what, " ".join(specs)))
    got = bus_keys(dump)
    if got != want:
        missing = want - got
        extra = got - want
        fail("%s: %d lines, %d on the bus; missing %s; extra %s" % (
            what, sum(want.values()), sum(got.values()), list(missing.items())[:5],
            list(extra.items())[:5]))
    print("%s: %d lines == %d ticks on the bus, bit-exact" % (what, sum(want.values()),
                                                               sum(got.values())))


def full_key(ex, t, ts_field):
    return key(ex, t["symbol"], t["price"], t[ts_field]) + (
        float(t["qty"]).hex() if "qty" in t else None, t.get("id"), t.get("side"))


def cmd_genlog(dump, log):
    want = collections.Counter()
    with open(log) as f:
        for line in f:
            if not line.strip():
                continue
            ex, js = line.rstrip("\n").split(" ", 1)
            want[full_key(ex, json.loads(js), "timestamp")] += 1
    got = collections.Counter(full_key(t["exchange"], t, "ts") for t in ticks(dump))
    if got != want:
        fail("generator: %d lines, %d ticks; missing %s; extra %s" % (
            sum(want.values()), sum(got.values()), list((want - got).items())[:5],
            list((got - want).items())[:5]))
    print("generator: %d lines == %d ticks on the bus (price, qty, id, side exact)" % (
        sum(want.values()), sum(got.values())))


def get_path(obj, path):
    for part in path.split("."):
        if isinstance(obj, list):
            if part.isdigit():
                obj = obj[int(part)]
            else:
                obj = next(x for x in obj if x.get("name") == part)
        else:
            obj = obj[part]
    return obj


def cmd_status(path, checks):
    with open(path) as f:
        st = json.loads(f.readline())
    for c in checks:
        p, v = c.split("=", 1)
        op = "=="
        if p.endswith(">"):
            p, op = p[:-1], ">="
        got = get_path(st, p)
        want = json.loads(v)
        ok = got == want if op == "==" else got >= want
        if not ok:
            fail("status %s is %r, want %s %r" % (p, got, op, want))
    print("status ok: " + " ".join(checks))


def main():
    if len(sys.argv) < 2:
        fail(__doc__)
    cmd, args = sys.argv[1], sys.argv[2:]
    if cmd == "robust":
        cmd_robust(*args)
    elif cmd == "fixtures":
        cmd_lines(args[0], args[1:], "fixtures")
    elif cmd == "sent":
        cmd_lines(args[0], args[1:], "sent")
    elif cmd == "genlog":
        cmd_genlog(*args)
    elif cmd == "status":
        cmd_status(args[0], args[1:])
    else:
        fail("unknown command " + cmd)


if __name__ == "__main__":
    main()

#!/usr/bin/env python3
"""api_oracle.py: seed data, independent oracle and small NATS helpers for the api tests.

  seed OUTDIR T0_MS RETENTION_S   ticks.jsonl + redis.resp (redis-cli --pipe) + pg.sql
  check TICKS ANSWER_JSON KIND EXCHANGE SYMBOL [KNOWN]
                                  recomputes the answer from raw ticks with from <= ts < to
  latest TICKS ANSWER_JSON EXCHANGE SYMBOL MAX_TS
  ticks GENLOG...                 the ticks of marketflow-generator line logs as JSON lines
                                  (oracle.py's parser; one per Nats-Msg-Id, as JetStream keeps)
  pub URL SUBJECT PAYLOAD [ROLE]  one core NATS publish (as the NATS user ROLE)
  status-loop URL PREFIX          fake collector/aggregator/persister heartbeats every 1 s

The oracle knows nothing of the service code: sums are math.fsum over the raw prices,
average = fsum / count (a double division), extremes take the highest (lowest) price, ties
to the earlier ts, then to the smaller exchange name. Comparisons are exact (==).
"""
import json
import math
import os
import random
import socket
import sys
import time
from decimal import Decimal, getcontext

getcontext().prec = 4000  # exact decimal sums of doubles
EXCHANGES = ["exchange1", "exchange2", "exchange3"]
SYMBOLS = {"BTCUSDT": 100000.0, "ETHUSDT": 3050.0, "DOGEUSDT": 0.3}


def partials(xs):
    """Shewchuk's non-overlapping expansion (the partials behind math.fsum)."""
    ps = []
    for x in xs:
        i = 0
        for y in ps:
            if abs(x) < abs(y):
                x, y = y, x
            hi = x + y
            lo = y - (hi - x)
            if lo:
                ps[i] = lo
                i += 1
            x = hi
        ps[i:] = [x]
    return [p for p in ps if p != 0.0]


def gen_ticks(t0, rng):
    ticks = []
    start, end = t0 - 25 * 60 * 1000, t0 + 170 * 1000
    for ex in EXCHANGES:
        for sym, p0 in SYMBOLS.items():
            price, ts = p0, start + rng.randrange(200)
            while ts < end:
                price = price * (1 + rng.gauss(0, 1e-4))
                ticks.append({"exchange": ex, "symbol": sym, "price": price, "ts": ts})
                if rng.random() < 0.02:  # a repeated price: exercises the tie rules
                    ticks.append({"exchange": ex, "symbol": sym, "price": price,
                                  "ts": ts + 1})
                    ts += 1
                ts += 150 + rng.randrange(100)
    return ticks


def bucket_stats(group):
    mn = min(group, key=lambda t: (t["price"], t["ts"]))
    mx = min(group, key=lambda t: (-t["price"], t["ts"]))
    op = min(group, key=lambda t: (t["ts"], t["price"]))
    cl = max(group, key=lambda t: (t["ts"], t["price"]))
    return mn, mx, op, cl


def resp(*args):
    out = "*%d\r\n" % len(args)
    for a in args:
        a = str(a)
        out += "$%d\r\n%s\r\n" % (len(a.encode()), a)
    return out


def g17(x):
    return "%.17g" % x


def seed(outdir, t0, retention_s):
    rng = random.Random(42)
    ticks = gen_ticks(t0, rng)
    with open(outdir + "/ticks.jsonl", "w") as f:
        for t in ticks:
            f.write(json.dumps(t) + "\n")
    secs, mins = {}, {}
    for t in ticks:
        secs.setdefault((t["exchange"], t["symbol"], t["ts"] // 1000 * 1000), []).append(t)
        mins.setdefault((t["exchange"], t["symbol"], t["ts"] // 60000 * 60000), []).append(t)
    floor = t0 - retention_s * 1000
    with open(outdir + "/redis.resp", "w") as f:
        for (ex, sym, start), g in sorted(secs.items()):
            if start < floor:
                continue
            mn, mx, op, cl = bucket_stats(g)
            key = "mf:1s:%s:%s:%d" % (ex, sym, start)
            f.write(resp("HSET", key, "count", len(g), "min", g17(mn["price"]), "min_ts",
                         mn["ts"], "max", g17(mx["price"]), "max_ts", mx["ts"], "open",
                         g17(op["price"]), "open_ts", op["ts"], "open_id", -1, "close",
                         g17(cl["price"]), "close_ts", cl["ts"], "close_id", -1, "sum_x",
                         ",".join(g17(p) for p in partials([t["price"] for t in g])),
                         "volume_x", "", "notional_x", ""))
            f.write(resp("ZADD", "mf:1s:idx:%s:%s" % (ex, sym), start, start))
            f.write(resp("SADD", "mf:symbols", "%s:%s" % (ex, sym)))
        for ex in EXCHANGES:
            f.write(resp("SADD", "mf:exchanges", ex))
            for sym in SYMBOLS:
                last = max((t for t in ticks if t["exchange"] == ex and t["symbol"] == sym
                            and t["ts"] <= t0), key=lambda t: t["ts"])
                f.write(resp("HSET", "mf:latest:%s:%s" % (ex, sym), "price",
                             g17(last["price"]), "ts", last["ts"], "recv_ts", last["ts"]))
    with open(outdir + "/pg.sql", "w") as f:
        f.write("BEGIN;\n")
        for (ex, sym, start), g in sorted(mins.items()):
            mn, mx, op, cl = bucket_stats(g)
            s = sum((Decimal(t["price"]) for t in g), Decimal(0))
            f.write("INSERT INTO aggregated_prices (exchange, pair_name, \"timestamp\", "
                    "average_price, min_price, max_price, tick_count, price_sum, open_price, "
                    "open_ts, close_price, close_ts, min_ts, max_ts) VALUES ('%s', '%s', "
                    "to_timestamp(%d), %s, %s, %s, %d, %s, %s, %d, %s, %d, %d, %d);\n" % (
                        ex, sym, start // 1000, g17(math.fsum(t["price"] for t in g) / len(g)),
                        g17(mn["price"]), g17(mx["price"]), len(g), s, g17(op["price"]),
                        op["ts"], g17(cl["price"]), cl["ts"], mn["ts"], mx["ts"]))
        f.write("COMMIT;\n")


def load(path):
    with open(path) as f:
        return [json.loads(line) for line in f if line.strip()]


def fail(msg):
    print("ORACLE MISMATCH: " + msg, file=sys.stderr)
    sys.exit(1)


def check(ticks_path, answer, kind, exchange, symbol, known=""):
    a = json.loads(answer)
    exs = set(known.split(",")) if exchange in ("", "all") and known else None
    ticks = [t for t in load(ticks_path) if t["symbol"] == symbol.upper()
             and (exs is None and exchange in ("", "all") or
                  (exs is not None and t["exchange"] in exs) or
                  t["exchange"].lower() == exchange.lower())
             and a["from"] <= t["ts"] < a["to"]]
    if not ticks:
        fail("oracle has no ticks in [%d, %d)" % (a["from"], a["to"]))
    prices = [t["price"] for t in ticks]
    if kind == "average":
        want = math.fsum(prices) / len(prices)
        if a["count"] != len(ticks):
            fail("count %d != oracle %d (%s)" % (a["count"], len(ticks), answer))
        if a["price"] != want:
            fail("average %r != oracle %r (%s)" % (a["price"], want, answer))
        return
    sign = -1 if kind == "highest" else 1
    best = min(ticks, key=lambda t: (sign * t["price"], t["ts"], t["exchange"]))
    if (a["price"], a["timestamp"], a["exchange"]) != (best["price"], best["ts"],
                                                       best["exchange"]):
        fail("%s %r@%d on %s != oracle %r@%d on %s" % (kind, a["price"], a["timestamp"],
                                                      a["exchange"], best["price"],
                                                      best["ts"], best["exchange"]))


def latest(ticks_path, answer, exchange, symbol, max_ts):
    a = json.loads(answer)
    ticks = [t for t in load(ticks_path) if t["symbol"] == symbol.upper() and
             t["ts"] <= int(max_ts) and
             (exchange in ("", "all") or t["exchange"].lower() == exchange.lower())]
    best = max(ticks, key=lambda t: (t["ts"], [-ord(c) for c in t["exchange"]]))
    if (a["price"], a["timestamp"], a["exchange"]) != (best["price"], best["ts"],
                                                       best["exchange"]):
        fail("latest %s != oracle %r" % (answer, best))


def genlog_ticks(paths):
    sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
    import oracle  # the line-log parser of the other services' tests; only this command needs it

    ticks = []
    for path in paths:
        ticks.extend(oracle.load_generator_log(path)[0])
    for t in oracle.dedupe(ticks):
        print(json.dumps(t))


def nats_conn(url, role=None):
    """A plain-protocol NATS connection. With credentials in the environment (the test
    fixture's), as the NATS user ROLE (password in $MF_SECRETS/nats-password-ROLE), else as
    MARKETFLOW_NATS_USER."""
    host, port = url.replace("nats://", "").split(":")
    s = socket.create_connection((host, int(port)), timeout=5)
    s.recv(4096)  # INFO
    hello = {"verbose": False, "pedantic": False}
    secrets = os.environ.get("MF_SECRETS")
    if role and secrets and os.environ.get("MARKETFLOW_NATS_USER"):
        with open(os.path.join(secrets, "nats-password-" + role)) as f:
            hello.update(user=role, **{"pass": f.read().strip()})
    elif os.environ.get("MARKETFLOW_NATS_USER"):
        hello.update(user=os.environ["MARKETFLOW_NATS_USER"],
                     **{"pass": os.environ.get("MARKETFLOW_NATS_PASSWORD", "")})
    s.sendall(b"CONNECT " + json.dumps(hello).encode() + b"\r\n")
    return s


def nats_pub(s, subject, payload):
    data = payload.encode()
    s.sendall(b"PUB %s %d\r\n%s\r\n" % (subject.encode(), len(data), data))


def pub(url, subject, payload, role=None):
    s = nats_conn(url, role)
    nats_pub(s, subject, payload)
    s.sendall(b"PING\r\n")
    s.recv(4096)
    s.close()


def status_loop(url, prefix):
    # Each fake heartbeat comes from its own service's NATS user, as the real ones do.
    conns = {svc: nats_conn(url, svc) for svc in ("collector", "aggregator", "persister")}
    while True:
        for svc, s in conns.items():
            st = {"service": svc, "instance": "fake-" + svc, "state": "running",
                  "ts": int(time.time() * 1000), "interval_ms": 2000, "mode": "test"}
            nats_pub(s, "%s.status.%s.fake-%s" % (prefix, svc, svc), json.dumps(st))
            s.sendall(b"PING\r\n")
            s.recv(4096)
        time.sleep(1)


def main():
    cmd, args = sys.argv[1], sys.argv[2:]
    if cmd == "seed":
        seed(args[0], int(args[1]), int(args[2]))
    elif cmd == "check":
        check(*args)
    elif cmd == "latest":
        latest(*args)
    elif cmd == "ticks":
        genlog_ticks(args)
    elif cmd == "pub":
        pub(*args)
    elif cmd == "status-loop":
        status_loop(*args)
    else:
        sys.exit("unknown command " + cmd)


if __name__ == "__main__":
    main()

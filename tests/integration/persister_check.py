#!/usr/bin/env python3
"""persister_check.py: compares what the persister stored with tests/integration/oracle.py.

  persister_check.py pg GENLOG... < rows
      rows: psql -F'|' output of exchange, pair_name, minute ms, average_price, min_price,
      max_price, tick_count, price_sum, open_price, open_ts, open_id, close_price, close_ts,
      close_id, min_ts, max_ts, volume, notional (every row of aggregated_prices).
  persister_check.py redis PORT FROM_MS GENLOG...
      every 1 s bucket starting at FROM_MS or later, read from Redis (RESP over a socket).

Exact comparison (oracle.compare): sums read from NUMERIC text or the cached expansion are
Fractions rounded once, so equality with math.fsum is asserted bit for bit. In PostgreSQL
average_price must also equal fsum/count. Exit 0 when identical, 1 otherwise.
"""
import os
import socket
import sys
from decimal import Decimal
from fractions import Fraction

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
import oracle  # noqa: E402


def want_for(logs, window):
    ticks = []
    for path in logs:
        t, _rej = oracle.load_generator_log(path)
        ticks.extend(t)
    return oracle.compute(oracle.dedupe(ticks), windows=(window,))


def exact_text(s):
    return float(Fraction(Decimal(s)))


def check_pg(logs):
    want = want_for(logs, "1m")
    got, bad_avg = {}, 0
    for line in sys.stdin:
        f = line.rstrip("\n").split("|")
        if len(f) < 18:
            continue
        key = (f[0], f[1], "1m", int(f[2]))
        st = {
            "count": int(f[6]), "sum": exact_text(f[7]), "min": float(f[4]),
            "max": float(f[5]), "open": float(f[8]), "open_ts": int(f[9]),
            "open_id": int(f[10]), "close": float(f[11]), "close_ts": int(f[12]),
            "close_id": int(f[13]), "min_ts": int(f[14]), "max_ts": int(f[15]),
            "volume": exact_text(f[16]), "notional": exact_text(f[17]),
        }
        got[key] = st
        if float(f[3]) != st["sum"] / st["count"]:
            bad_avg += 1
    problems = oracle.compare(want, got)
    for p in problems[:10]:
        print(p)
    if bad_avg:
        print(f"{bad_avg} rows with average_price != fsum/count")
    if problems or bad_avg:
        print(f"postgres: {len(problems)} differences over {len(want)} minutes")
        return 1
    print(f"postgres: {len(want)} minute rows equal the oracle exactly")
    return 0


class Resp:
    def __init__(self, port):
        self.s = socket.create_connection(("127.0.0.1", int(port)))
        self.f = self.s.makefile("rb")
        # The password redis-cli uses too (the test fixture exports it).
        if os.environ.get("REDISCLI_AUTH"):
            self.cmd("AUTH", os.environ["REDISCLI_AUTH"])

    def cmd(self, *args):
        out = b"*%d\r\n" % len(args)
        for a in args:
            a = a.encode() if isinstance(a, str) else a
            out += b"$%d\r\n%s\r\n" % (len(a), a)
        self.s.sendall(out)
        return self.read()

    def read(self):
        line = self.f.readline()[:-2]
        t, rest = line[:1], line[1:]
        if t in (b"+", b":"):
            return rest.decode()
        if t == b"-":
            raise RuntimeError(rest.decode())
        if t == b"$":
            n = int(rest)
            if n < 0:
                return None
            data = self.f.read(n + 2)[:-2]
            return data.decode()
        if t == b"*":
            n = int(rest)
            return None if n < 0 else [self.read() for _ in range(n)]
        raise RuntimeError("bad reply %r" % line)


def parts_sum(s):
    return float(sum((Fraction(float(p)) for p in s.split(",") if p), Fraction(0)))


def check_redis(port, from_ms, logs):
    want = {k: v for k, v in want_for(logs, "1s").items() if k[3] >= from_ms}
    r = Resp(port)
    got = {}
    for ex, sym, _w, start in want:
        h = r.cmd("HGETALL", f"mf:1s:{ex}:{sym}:{start}")
        if not h:
            continue
        h = dict(zip(h[0::2], h[1::2]))
        got[(ex, sym, "1s", start)] = {
            "count": int(h["count"]), "sum": parts_sum(h["sum_x"]),
            "min": float(h["min"]), "min_ts": int(h["min_ts"]), "max": float(h["max"]),
            "max_ts": int(h["max_ts"]), "open": float(h["open"]), "open_ts": int(h["open_ts"]),
            "open_id": int(h["open_id"]), "close": float(h["close"]),
            "close_ts": int(h["close_ts"]), "close_id": int(h["close_id"]),
            "volume": parts_sum(h["volume_x"]), "notional": parts_sum(h["notional_x"]),
        }
    problems = oracle.compare(want, got)
    # latest: never behind the newest tick the cache has seen in its buckets
    for ex, sym in {(k[0], k[1]) for k in want}:
        newest = max(v["close_ts"] for k, v in want.items() if k[0] == ex and k[1] == sym)
        ts = r.cmd("HGET", f"mf:latest:{ex}:{sym}", "ts")
        if ts is None or int(ts) < newest:
            problems.append(f"latest {ex}:{sym}: ts {ts}, newest tick {newest}")
    for p in problems[:10]:
        print(p)
    if problems:
        print(f"redis: {len(problems)} differences over {len(want)} buckets")
        return 1
    print(f"redis: {len(want)} 1 s buckets equal the oracle exactly")
    return 0


def main(argv):
    if len(argv) >= 3 and argv[1] == "pg":
        return check_pg(argv[2:])
    if len(argv) >= 5 and argv[1] == "redis":
        return check_redis(argv[2], int(argv[3]), argv[4:])
    print(__doc__)
    return 2


if __name__ == "__main__":
    sys.exit(main(sys.argv))

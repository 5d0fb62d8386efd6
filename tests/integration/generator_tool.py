#!/usr/bin/env python3
"""generator_tool.py: clients and oracles for the generator integration tests.

  read PORT OUT [--seconds S] [--max-seconds M] [--rcvbuf B]
      connect to 127.0.0.1:PORT, write every byte received to OUT; stop after S seconds
      (default: at EOF), or M seconds at most. Prints "connected" to stderr once connected.
  stall PORT SECONDS
      connect with a tiny receive buffer and never read; close after SECONDS.
  check-lines FILE [--symbols A,B,...] [--extended]
      every line is a valid feed line (docs/design.md section 3), in round-robin symbol order
      starting with the first symbol, prices printed in their shortest round-trip form.
  slice A B        B's lines are a contiguous run of A's lines (B connected later).
  log-equals LOG EXCHANGE FILE
      the lines the log holds for EXCHANGE are exactly the lines of FILE.
  faults FILE      summary of a faulty stream: valid/invalid/duplicate/reordered counts.
"""
import json
import math
import re
import socket
import sys
import time

SYM_RE = re.compile(r"^[A-Z0-9]{2,20}$")
LINE_RE = re.compile(r'^\{"symbol":"([A-Z0-9]+)","price":([0-9.eE+-]+),"timestamp":([0-9]+)'
                     r'(?:,"qty":([0-9.]+),"id":([0-9]+),"side":"(buy|sell)")?\}$')
DEFAULT_SYMBOLS = ["BTCUSDT", "DOGEUSDT", "TONUSDT", "SOLUSDT", "ETHUSDT"]


def fail(msg):
    print("generator_tool: " + msg, file=sys.stderr)
    sys.exit(1)


def opt(args, name, default=None, conv=str):
    if name in args:
        i = args.index(name)
        v = conv(args[i + 1])
        del args[i:i + 2]
        return v
    return default


def cmd_read(args):
    seconds = opt(args, "--seconds", None, float)
    max_seconds = opt(args, "--max-seconds", 60.0, float)
    rcvbuf = opt(args, "--rcvbuf", None, int)
    port, out = int(args[0]), args[1]
    s = socket.socket()
    if rcvbuf:
        s.setsockopt(socket.SOL_SOCKET, socket.SO_RCVBUF, rcvbuf)
    s.connect(("127.0.0.1", port))
    print("connected", file=sys.stderr, flush=True)
    start = time.monotonic()
    end = start + (seconds if seconds is not None else max_seconds)
    with open(out, "wb") as f:
        while True:
            left = end - time.monotonic()
            if left <= 0:
                break
            s.settimeout(min(left, 0.5))
            try:
                b = s.recv(1 << 20)
            except socket.timeout:
                continue
            except ConnectionResetError:
                break
            if not b:
                break
            f.write(b)
    s.close()


def cmd_stall(args):
    port, seconds = int(args[0]), float(args[1])
    s = socket.socket()
    s.setsockopt(socket.SOL_SOCKET, socket.SO_RCVBUF, 4096)
    s.connect(("127.0.0.1", port))
    print("connected", file=sys.stderr, flush=True)
    time.sleep(seconds)
    s.close()


def no_constants(name):
    raise ValueError("non-standard constant " + name)


def valid_feed_line(line, now_ms=None):
    """The collector's rules (docs/design.md section 3); returns the parsed object or None."""
    if len(line.encode()) > 4096:
        return None
    try:
        o = json.loads(line, parse_constant=no_constants)
    except ValueError:
        return None
    if not isinstance(o, dict):
        return None
    sym, price, ts = o.get("symbol"), o.get("price"), o.get("timestamp")
    if not isinstance(sym, str) or not SYM_RE.match(sym):
        return None
    if isinstance(price, bool) or not isinstance(price, (int, float)):
        return None
    if not math.isfinite(price) or price <= 0:
        return None
    if isinstance(ts, bool) or not isinstance(ts, int):
        return None
    if now_ms is not None and abs(ts - now_ms) > 3600 * 1000:
        return None
    if "qty" in o and (isinstance(o["qty"], bool) or not isinstance(o["qty"], (int, float))
                       or not math.isfinite(o["qty"]) or o["qty"] < 0):
        return None
    if "id" in o and (isinstance(o["id"], bool) or not isinstance(o["id"], int)):
        return None
    if "side" in o and o["side"] not in ("buy", "sell"):
        return None
    return o


def read_lines(path):
    data = open(path, "rb").read()
    if data and not data.endswith(b"\n"):
        fail("%s: last line has no newline" % path)
    return data.decode().split("\n")[:-1] if data else []


def cmd_check_lines(args):
    symbols = opt(args, "--symbols", ",".join(DEFAULT_SYMBOLS)).split(",")
    interval = opt(args, "--interval-ms", None, float)
    rate = opt(args, "--rate", None, float)
    extended = "--extended" in args
    lines = read_lines(args[0])
    now = int(time.time() * 1000)
    if not lines:
        fail("%s: no lines" % args[0])
    last_id = 0
    for i, line in enumerate(lines):
        m = LINE_RE.match(line)
        if not m or valid_feed_line(line, now) is None:
            fail("%s:%d: not a valid feed line: %r" % (args[0], i + 1, line[:200]))
        sym, price_s, ts_s, qty_s, id_s, side = m.groups()
        if sym != symbols[i % len(symbols)]:
            fail("%s:%d: symbol %s, expected %s" % (args[0], i + 1, sym, symbols[i % len(symbols)]))
        if repr(float(price_s)) != price_s:
            fail("%s:%d: price %s is not the shortest round-trip form (%r)"
                 % (args[0], i + 1, price_s, float(price_s)))
        if extended:
            if qty_s is None or float(qty_s) <= 0 or int(id_s) <= last_id:
                fail("%s:%d: bad extended fields: %r" % (args[0], i + 1, line))
            last_id = int(id_s)
        elif qty_s is not None:
            fail("%s:%d: unexpected extended fields" % (args[0], i + 1))
    ts = [int(LINE_RE.match(l).group(3)) for l in lines]
    if interval is not None:
        # one round per interval: every line of a round has the round's timestamp (+-2 ms
        # when the clock ticks during the round) and rounds are `interval` apart on average
        firsts = ts[::len(symbols)]
        if len(firsts) < 5:
            fail("too few rounds: %d" % len(firsts))
        mean = (firsts[-1] - firsts[0]) / (len(firsts) - 1)
        if not 0.9 * interval <= mean <= 1.1 * interval:
            fail("mean round interval %.1f ms, expected %s" % (mean, interval))
        for r in range(0, len(ts) - len(symbols) + 1, len(symbols)):
            if ts[r + len(symbols) - 1] - ts[r] > 2:
                fail("round at line %d spans %d ms" % (r + 1, ts[r + len(symbols) - 1] - ts[r]))
        print("lines=%d rounds=%d mean_interval_ms=%.1f" % (len(lines), len(firsts), mean))
    elif rate is not None:
        span = (ts[-1] - ts[0]) / 1000.0
        got = (len(lines) - 1) / span if span > 0 else 0
        if not 0.9 * rate <= got <= 1.1 * rate:
            fail("rate %.0f lines/s, expected %s" % (got, rate))
        print("lines=%d rate=%.0f" % (len(lines), got))
    else:
        print("lines=%d" % len(lines))


def cmd_slice(args):
    a, b = read_lines(args[0]), read_lines(args[1])
    if not b:
        fail("%s is empty" % args[1])
    try:
        i = a.index(b[0])
    except ValueError:
        fail("first line of %s not in %s" % (args[1], args[0]))
    if a[i:i + len(b)] != b:
        fail("%s is not a contiguous run of %s" % (args[1], args[0]))
    print("offset=%d lines=%d" % (i, len(b)))


def cmd_log_equals(args):
    log, exchange, path = args
    prefix = exchange + " "
    mine = [l[len(prefix):] for l in open(log).read().split("\n") if l.startswith(prefix)]
    got = read_lines(path)
    if mine != got:
        n = next((i for i, (x, y) in enumerate(zip(mine, got)) if x != y), min(len(mine), len(got)))
        fail("log(%s) has %d lines, %s has %d; first difference at line %d: %r vs %r"
             % (exchange, len(mine), path, len(got), n + 1,
                mine[n] if n < len(mine) else None, got[n] if n < len(got) else None))
    print(len(got))


def cmd_faults(args):
    lines = read_lines(args[0])
    now = int(time.time() * 1000)
    valid = invalid = dup = reorder = 0
    last_ts = None
    prev = None
    last_id = 0
    for line in lines:
        o = valid_feed_line(line, now)
        if o is None:
            invalid += 1
        elif line == prev:
            dup += 1
        else:
            valid += 1
            if "id" in o:
                if o["id"] <= last_id:
                    fail("id not increasing: %r" % line)
                last_id = o["id"]
            if last_ts is not None and o["timestamp"] < last_ts:
                back = last_ts - o["timestamp"]
                if not 100 <= back <= 500:
                    fail("reordered by %d ms: %r" % (back, line))
                reorder += 1
            else:
                last_ts = o["timestamp"]
        prev = line
    print("lines=%d valid=%d invalid=%d duplicate=%d reorder=%d"
          % (len(lines), valid, invalid, dup, reorder))


def main():
    if len(sys.argv) < 2:
        fail(__doc__)
    cmd, args = sys.argv[1], sys.argv[2:]
    fn = {"read": cmd_read, "stall": cmd_stall, "check-lines": cmd_check_lines,
          "slice": cmd_slice, "log-equals": cmd_log_equals, "faults": cmd_faults}.get(cmd)
    if fn is None:
        fail("unknown command " + cmd)
    fn(args)


if __name__ == "__main__":
    main()

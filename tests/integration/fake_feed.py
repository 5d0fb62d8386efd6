#!/usr/bin/env python3
"""fake_feed.py: a scripted exchange feed for collector tests (docs/design.md section 3 protocol).

Listens on 127.0.0.1:PORT and, for every client that connects, sends one of:
  --file F        the lines of F exactly as they are (fixture replay), then stays open
  --script robust split lines, CRLF, garbage, a 1 MiB line, NaN / negative / zero prices,
                  bad symbols, missing fields, then valid ticks; then disconnects. The valid
                  ticks it sent are appended to --expect FILE as JSON lines.
  --then-stream   with --script: later connections get --stream
  --stream        every --interval-ms, one line per --symbols symbol with timestamp = now and
                  a price unique per line (like the exchange programs); forever.
Every line sent is also appended to --log FILE (when given), and every connection and
disconnection is appended to --events FILE ("connect N" / "disconnect N").
"""
import argparse
import json
import os
import socket
import sys
import threading
import time

ARGS = None
LOCK = threading.Lock()
CONN_NO = [0]


def now_ms():
    return int(time.time() * 1000)


def append(path, text):
    if not path:
        return
    with LOCK:
        with open(path, "a") as f:
            f.write(text)


def event(what):
    append(ARGS.events, what + "\n")


def tick_line(sym, price, ts):
    # repr() prints the shortest string that reads back to the same double.
    return '{"symbol":"%s","price":%s,"timestamp":%d}' % (sym, repr(price), ts)


def send_lines(conn, lines, eol=b"\n"):
    data = b"".join(l.encode() + eol for l in lines)
    conn.sendall(data)
    append(ARGS.log, "".join(l + "\n" for l in lines))


def serve_file(conn):
    with open(ARGS.file, "rb") as f:
        data = f.read()
    conn.sendall(data)
    append(ARGS.log, data.decode())
    while True:  # stay open like a real feed; the collector closes when it switches
        time.sleep(0.5)
        conn.sendall(b"")


def serve_robust(conn):
    ts = now_ms()
    valid = []

    def good(sym, price, t):
        valid.append({"symbol": sym, "price": price, "ts": t})
        return tick_line(sym, price, t)

    # 1. a valid line split across three writes
    line = good("BTCUSDT", 100143.27730216153, ts).encode() + b"\n"
    for part in (line[:10], line[10:40], line[40:]):
        conn.sendall(part)
        time.sleep(0.05)
    # 2. CRLF line
    conn.sendall(good("ETHUSDT", 3050.1234567890123, ts + 1).encode() + b"\r\n")
    # 3. garbage and broken JSON
    conn.sendall(b"garbage that is not json\n{\"symbol\":\"BTCUSDT\",\"price\":\n\x00\xff\xfe\n")
    # 4. a 1 MiB line (in several writes), then a valid line right after its newline
    big = b'{"symbol":"BTCUSDT","price":1,"timestamp":' + b"9" * (1 << 20) + b"}\n"
    for i in range(0, len(big), 65536):
        conn.sendall(big[i:i + 65536])
    conn.sendall(good("SOLUSDT", 200.00000000000003, ts + 2).encode() + b"\n")
    # 5. NaN, negative, zero prices; bad symbols; missing fields; far timestamps
    bad = [
        '{"symbol":"BTCUSDT","price":NaN,"timestamp":%d}' % ts,
        '{"symbol":"BTCUSDT","price":-100.5,"timestamp":%d}' % ts,
        '{"symbol":"BTCUSDT","price":0,"timestamp":%d}' % ts,
        '{"symbol":"BTCUSDT","price":0.0,"timestamp":%d}' % ts,
        '{"symbol":"btc-usdt","price":1,"timestamp":%d}' % ts,
        '{"symbol":"B","price":1,"timestamp":%d}' % ts,
        '{"symbol":"ABCDEFGHIJKLMNOPQRSTU","price":1,"timestamp":%d}' % ts,
        '{"symbol":"BTC.USDT","price":1,"timestamp":%d}' % ts,
        '{"symbol":"BTCUSDT","timestamp":%d}' % ts,
        '{"symbol":"BTCUSDT","price":"1.5","timestamp":%d}' % ts,
        '{"symbol":"BTCUSDT","price":1.5,"timestamp":1000}',
        '{"symbol":"BTCUSDT","price":1.5,"timestamp":%d}' % (ts + 3600 * 1000),
    ]
    conn.sendall("".join(l + "\n" for l in bad).encode())
    # 6. a few valid lines, one byte at a time for the first
    lines = [good("DOGEUSDT", 0.30254118944878244, ts + 3), good("TONUSDT", 3.9, ts + 4),
             good("BTCUSDT", 5e-324, ts + 5), good("BTCUSDT", 1.7976931348623157e308, ts + 6)]
    for b in lines[0].encode() + b"\n":
        conn.sendall(bytes([b]))
    conn.sendall("".join(l + "\n" for l in lines[1:]).encode())
    # 7. a valid line without its newline, then disconnect: it must not be published
    conn.sendall(tick_line("ETHUSDT", 1.25, ts + 7).encode())
    append(ARGS.expect, "".join(json.dumps(v) + "\n" for v in valid))
    time.sleep(0.3)


def serve_stream(conn):
    syms = ARGS.symbols.split(",")
    n = 0
    while True:
        ts = now_ms()
        lines = []
        for i, s in enumerate(syms):
            n += 1
            lines.append(tick_line(s, ARGS.base + n * 0.001 + i, ts))
        send_lines(conn, lines)
        time.sleep(ARGS.interval_ms / 1000.0)


def handle(conn):
    with LOCK:
        CONN_NO[0] += 1
        no = CONN_NO[0]
    event("connect %d" % no)
    try:
        if ARGS.file:
            serve_file(conn)
        elif ARGS.script == "robust" and not (ARGS.then_stream and no > 1):
            serve_robust(conn)
        else:
            serve_stream(conn)
    except (BrokenPipeError, ConnectionResetError, OSError):
        pass
    finally:
        try:
            conn.close()
        except OSError:
            pass
        event("disconnect %d" % no)


def main():
    global ARGS
    p = argparse.ArgumentParser()
    p.add_argument("--port", type=int, required=True)
    p.add_argument("--file")
    p.add_argument("--script")
    p.add_argument("--stream", action="store_true")
    p.add_argument("--then-stream", action="store_true",
                   help="with --script: connections after the first get --stream")
    p.add_argument("--symbols", default="BTCUSDT,DOGEUSDT,TONUSDT,SOLUSDT,ETHUSDT")
    p.add_argument("--interval-ms", type=int, default=100)
    p.add_argument("--base", type=float, default=100.0)
    p.add_argument("--expect")
    p.add_argument("--log")
    p.add_argument("--events")
    ARGS = p.parse_args()
    srv = socket.socket(socket.AF_INET, socket.SOCK_STREAM)
    srv.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
    srv.bind(("127.0.0.1", ARGS.port))
    srv.listen(16)
    print("listening on %d at %d" % (ARGS.port, now_ms()), flush=True)
    while True:
        conn, _ = srv.accept()
        threading.Thread(target=handle, args=(conn,), daemon=True).start()


if __name__ == "__main__":
    try:
        main()
    except KeyboardInterrupt:
        sys.exit(0)

"""Walls against unauthenticated floods, measured on a real server:
- an unauthenticated 300 MiB sign-in body, sent with its Content-Length and then chunked: the
  server's RSS (sampled every 20 ms, its Python process only) and the time to the 413;
- 1,000 device-code requests from one address: how many get a code.

Prints figures and a last line `RESULT {json}`. Run from the repository root:
`.venv/bin/python -m bench.limits [--body-mib 300] [--device-codes 1000]`.
"""

from __future__ import annotations

import argparse
import json
import socket
import threading
import time

import httpx
import psutil

from bench._server import MB, running

_BLOCK = b" " * MB


def _flood(port: int, chunked: bool, body: int) -> tuple[float, bytes, int]:
    """Send the sign-in body; (seconds to the first answer byte, the answer's first line,
    bytes sent before the server hung up)."""
    sock = socket.create_connection(("127.0.0.1", port))
    sock.settimeout(120)
    framing = "Transfer-Encoding: chunked" if chunked else f"Content-Length: {body}"
    sock.sendall((f"POST /api/auth/sign-in/email HTTP/1.1\r\nHost: x\r\n"
                  f"Content-Type: application/json\r\n{framing}\r\n\r\n").encode())
    sent = [0]
    block = b"%x\r\n%s\r\n" % (len(_BLOCK), _BLOCK) if chunked else _BLOCK

    def write() -> None:
        try:
            while sent[0] < body:
                sock.sendall(block)
                sent[0] += len(_BLOCK)
        except OSError:
            pass

    start = time.perf_counter()
    writer = threading.Thread(target=write, daemon=True)
    writer.start()
    try:
        first = sock.recv(4096)
    except ConnectionResetError:
        first = b"(reset)"
    took = time.perf_counter() - start
    writer.join(120)
    sock.close()
    return took, first.split(b"\r\n", 1)[0], sent[0]


def _sample(proc: psutil.Process, peak: list[int], done: threading.Event) -> None:
    while not done.is_set():
        peak[0] = max(peak[0], proc.memory_info().rss)
        time.sleep(0.02)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--body-mib", type=int, default=300, help="size of the flood body")
    parser.add_argument("--device-codes", type=int, default=1000, help="device-code requests")
    args = parser.parse_args()
    figures: dict[str, float] = {"body_mib": args.body_mib, "device_codes": args.device_codes}
    with running("cvs-bench-limits-") as bench:
        proc = psutil.Process(bench.pid)
        for chunked in (False, True):
            base = proc.memory_info().rss
            peak = [base]
            done = threading.Event()
            sampler = threading.Thread(target=_sample, args=(proc, peak, done), daemon=True)
            sampler.start()
            took, line, sent = _flood(bench.server.port, chunked, args.body_mib * MB)
            done.set()
            sampler.join()
            kind = "chunked" if chunked else "Content-Length"
            print(f"300 MiB sign-in body ({kind}): {line.decode(errors='replace')} after "
                  f"{took * 1000:.0f} ms; {sent / MB:.0f} MiB written before the hang-up; "
                  f"peak RSS +{(peak[0] - base) / MB:.1f} MiB")
            key = "chunked" if chunked else "content_length"
            figures[f"{key}_answer_ms"] = round(took * 1000, 1)
            figures[f"{key}_status"] = int(line.split()[1]) if len(line.split()) > 1 else 0
            figures[f"{key}_rss_growth_mib"] = round((peak[0] - base) / MB, 1)
            figures[f"{key}_sent_mib"] = round(sent / MB, 1)

        with httpx.Client(base_url=bench.server.url, timeout=30) as anonymous:
            start = time.perf_counter()
            codes = [anonymous.post("/api/auth/device/code", json={"client_id": "bench"})
                     .status_code for _ in range(args.device_codes)]
            took = time.perf_counter() - start
        print(f"{args.device_codes:,} device-code requests from one address in {took:.1f} s: "
              f"{codes.count(200)} got a code, {codes.count(429)} got 429")
        figures.update(device_codes_granted=codes.count(200), device_codes_429=codes.count(429))
    print("RESULT " + json.dumps(figures))


if __name__ == "__main__":
    main()

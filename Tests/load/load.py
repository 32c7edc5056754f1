#!/usr/bin/env python3
"""Fairway's load test: acquisitions of small images posted at a steady rate (50/s for 5 minutes by
default) through the whole pipeline (ingest, converter, metadata, QC, and retention's copy to the
vault), on the real PostgreSQL and RabbitMQ of deploy/local/infra. It prints:

  - latency from POST /v1/acquisitions to qc.scored (the QC result's time minus the
    acquisition's), p50/p95/p99/max, overall and per minute of posting (a rising trend means the
    pipeline does not keep up);
  - the POST's own latency;
  - messages per second taken by each service's queue, and the deepest each queue got;
  - the resident memory (RSS) of every service, sampled every 5 s, with its trend over the
    second half of the posting (MiB per minute, least squares);
  - how long the pipeline took to drain after the last acquisition.

Run it through Tests/load/run (release build). Exit 0 when every acquisition was scored and copied.
"""
import argparse
import concurrent.futures
import json
import os
import struct
import sys
import threading
import time
import uuid

sys.path.insert(0, os.path.join(os.path.dirname(os.path.dirname(os.path.abspath(__file__))), "Support"))
from fairway_stack import Poster, Stack, log  # noqa: E402


def small_tiff(width, height):
    """An 8-bit, one-strip TIFF of random pixels."""
    pixels = os.urandom(width * height)
    out = bytearray(b"II*\x00") + struct.pack("<I", 8 + len(pixels) + (len(pixels) % 2))
    out += pixels + (b"\x00" if len(pixels) % 2 else b"")
    entries = [(256, 4, width), (257, 4, height), (258, 3, 8), (259, 3, 1), (262, 3, 1),
               (273, 4, 8), (277, 3, 1), (278, 4, height), (279, 4, len(pixels))]
    out += struct.pack("<H", len(entries))
    for tag, kind, value in entries:
        out += struct.pack("<HHI", tag, kind, 1) + (struct.pack("<HH", value, 0) if kind == 3 else struct.pack("<I", value))
    out += struct.pack("<I", 0)
    return bytes(out)


def percentile(values, p):
    if not values:
        return float("nan")
    ordered = sorted(values)
    index = min(len(ordered) - 1, max(0, int(round(p / 100 * (len(ordered) - 1)))))
    return ordered[index]


def slope(points):
    """Least-squares slope of (x, y) points."""
    if len(points) < 2:
        return 0.0
    n = len(points)
    mean_x = sum(x for x, _ in points) / n
    mean_y = sum(y for _, y in points) / n
    var = sum((x - mean_x) ** 2 for x, _ in points)
    return sum((x - mean_x) * (y - mean_y) for x, y in points) / var if var else 0.0


def rss_mib(pid):
    try:
        with open(f"/proc/{pid}/status") as status:
            for line in status:
                if line.startswith("VmRSS:"):
                    return int(line.split()[1]) / 1024
    except OSError:
        pass
    return None


CLOCK_TICKS = os.sysconf("SC_CLK_TCK")


def cpu_seconds(pid, children=False):
    """User and system CPU time of a process (with its reaped children's, if asked)."""
    try:
        with open(f"/proc/{pid}/stat") as stat:
            fields = stat.read().rsplit(")", 1)[1].split()
    except OSError:
        return 0.0
    ticks = int(fields[11]) + int(fields[12]) + ((int(fields[13]) + int(fields[14])) if children else 0)
    return ticks / CLOCK_TICKS


def pids_named(name):
    found = []
    for entry in os.listdir("/proc"):
        if entry.isdigit():
            try:
                with open(f"/proc/{entry}/comm") as comm:
                    if comm.read().strip() == name:
                        found.append(int(entry))
            except OSError:
                pass
    return found


def machine_busy_seconds():
    """CPU time all cores spent busy (not idle or waiting), and the number of cores."""
    with open("/proc/stat") as stat:
        values = [int(v) for v in stat.readline().split()[1:]]
    return (sum(values) - values[3] - values[4]) / CLOCK_TICKS, os.cpu_count() or 1


def cpu_snapshot(stack):
    """CPU seconds so far: each service, PostgreSQL (live backends and reaped ones), RabbitMQ, and the machine."""
    snapshot = {name: cpu_seconds(service.process.pid) for name, service in stack.services.items()}
    snapshot["postgresql"] = sum(cpu_seconds(pid, children=True) for pid in pids_named("postgres"))
    snapshot["rabbitmq"] = sum(cpu_seconds(pid) for pid in pids_named("beam.smp"))
    snapshot["load driver"] = cpu_seconds(os.getpid())
    snapshot["machine"], _ = machine_busy_seconds()
    return snapshot


def main():
    parser = argparse.ArgumentParser(description="Fairway load test")
    parser.add_argument("--rate", type=float, default=50.0, help="acquisitions per second")
    parser.add_argument("--seconds", type=int, default=300, help="how long to post")
    parser.add_argument("--bin", required=True)
    parser.add_argument("--port-base", type=int, default=18380)
    parser.add_argument("--threads", type=int, default=16, help="concurrent posters")
    parser.add_argument("--drain-timeout", type=int, default=3600)
    parser.add_argument("--keep", action="store_true")
    args = parser.parse_args()

    total = int(args.rate * args.seconds)
    run_id = uuid.uuid4().hex[:8]
    log(f"load run {run_id}: {args.rate}/s for {args.seconds} s = {total} acquisitions, binaries in {args.bin}")
    stack = Stack(run_id, args.bin, args.port_base)
    token = stack.prepare()
    log(f"writing {total} images of 64 x 48 pixels")
    paths = []
    for index in range(total):
        relative = f"minute-{index // int(args.rate * 60):02d}/img-{index:06d}.tif"
        path = os.path.join(stack.landing, relative)
        os.makedirs(os.path.dirname(path), exist_ok=True)
        with open(path, "wb") as handle:
            handle.write(small_tiff(64, 48))
        paths.append(relative)
    stack.start()
    log("six services ready")

    # ---- sampling: memory every 5 s, queue depths every 10 s
    samples = []             # (seconds since start, {service: MiB})
    depths = {}              # queue -> max ready
    stop = threading.Event()
    started = time.monotonic()

    def sample():
        tick = 0
        while not stop.is_set():
            now = time.monotonic() - started
            samples.append((now, {name: rss_mib(service.process.pid) for name, service in stack.services.items()}))
            if tick % 2 == 0:
                status = json.loads(stack.cli("status", "--json", check=False).stdout or "{}")
                for queue in status.get("queues", []):
                    depths[queue["service"]] = max(depths.get(queue["service"], 0), queue.get("ready", 0))
            tick += 1
            stop.wait(5)

    sampler = threading.Thread(target=sample, daemon=True)
    sampler.start()
    cpu_before = cpu_snapshot(stack)

    # ---- posting on a fixed schedule
    poster = Poster(args.port_base, token, "chaos")
    post_latency = []
    lag = []
    lock = threading.Lock()

    def post(index):
        slot = started + index / args.rate
        delay = slot - time.monotonic()
        if delay > 0:
            time.sleep(delay)
        sent = time.monotonic()
        poster.post(paths[index], f"s{index % 8}", "a0")
        with lock:
            post_latency.append(time.monotonic() - sent)
            lag.append(max(0.0, sent - slot))

    with concurrent.futures.ThreadPoolExecutor(max_workers=args.threads) as pool:
        list(pool.map(post, range(total)))
    posted = time.monotonic()
    log(f"posted {len(poster.accepted)} of {total} in {posted - started:.1f} s (worst lag behind schedule {max(lag):.2f} s)")

    # ---- drain
    catalog = stack.catalog
    while True:
        scored = catalog.count("""
            SELECT count(*) FROM objects o WHERE o.parent_id IS NULL AND (EXISTS (SELECT 1 FROM qc_results q WHERE q.object_id = o.id)
                OR EXISTS (SELECT 1 FROM objects d JOIN qc_results q ON q.object_id = d.id WHERE d.parent_id = o.id))""")
        copied = catalog.count("""
            SELECT count(*) FROM replicas r JOIN resources v ON v.id = r.resource_id AND v.role = 'vault' WHERE r.status = 'good'""")
        if scored >= total and copied >= total:
            break
        if time.monotonic() - posted > args.drain_timeout:
            log(f"not drained after {args.drain_timeout} s: {scored} scored, {copied} copied")
            break
        time.sleep(2)
    drained = time.monotonic()
    cpu_after = cpu_snapshot(stack)
    stop.set()
    sampler.join()

    # ---- figures
    rows = catalog.rows("""
        SELECT extract(epoch FROM a.created_at - min(a.created_at) OVER ()),
               extract(epoch FROM coalesce(q.scored_at, qd.scored_at) - a.created_at)
        FROM acquisitions a JOIN objects o ON o.acquisition_id = a.id
        LEFT JOIN qc_results q ON q.object_id = o.id
        LEFT JOIN objects d ON d.parent_id = o.id LEFT JOIN qc_results qd ON qd.object_id = d.id
        WHERE coalesce(q.scored_at, qd.scored_at) IS NOT NULL""")
    latencies = [(float(at), float(seconds)) for at, seconds in rows]
    values = [seconds for _, seconds in latencies]
    print()
    print(f"==== load: {args.rate:g} acquisitions/s for {args.seconds} s ({total} images of 64 x 48 px), {len(values)} scored")
    print(f"  POST /v1/acquisitions -> qc.scored   p50 {percentile(values, 50):7.3f} s   p95 {percentile(values, 95):7.3f} s"
          f"   p99 {percentile(values, 99):7.3f} s   max {max(values, default=float('nan')):7.3f} s")
    print(f"  POST /v1/acquisitions alone          p50 {percentile(post_latency, 50) * 1000:7.1f} ms  p95 {percentile(post_latency, 95) * 1000:7.1f} ms"
          f"  p99 {percentile(post_latency, 99) * 1000:7.1f} ms")
    print("  per minute of posting (p50 / p99 of POST -> qc.scored):")
    for minute in range(int(args.seconds / 60 + 0.999)):
        window = [s for at, s in latencies if minute * 60 <= at < (minute + 1) * 60]
        if window:
            print(f"    minute {minute + 1}: {percentile(window, 50):7.3f} s / {percentile(window, 99):7.3f} s  ({len(window)} acquisitions)")
    print(f"  drained {drained - posted:.1f} s after the last acquisition; posting fell behind its schedule by at most {max(lag):.2f} s")

    print("  messages taken per second, by queue (inbox rows over the time the queue was busy), and its deepest backlog:")
    for consumer, key, count, span in catalog.rows("""
        SELECT consumer, routing_key, count(*), extract(epoch FROM max(received_at) - min(received_at)) FROM inbox GROUP BY 1, 2 ORDER BY 1, 2"""):
        rate = int(count) / float(span) if float(span) > 0 else float("nan")
        print(f"    {consumer:10s} {key:20s} {int(count):6d} messages  {rate:7.1f}/s   deepest {depths.get(consumer, 0)}")

    print("  resident memory (MiB) per service, sampled every 5 s (trend: second half of the posting):")
    names = list(stack.services)
    marks = [m for m in range(0, int(drained - started), 60)] + [int(drained - started)]
    print("    " + f"{'':10s}" + "".join(f"{f'{m // 60}m{m % 60:02d}':>9s}" for m in marks) + f"{'max':>9s}{'trend MiB/min':>16s}")
    for name in names:
        series = [(t, values_[name]) for t, values_ in samples if values_.get(name) is not None]
        def at(mark):
            near = min(series, key=lambda point: abs(point[0] - mark), default=None)
            return f"{near[1]:9.1f}" if near else f"{'-':>9s}"
        # The second half of the posting: past the warm-up (pools, caches, allocator arenas filling).
        after_warmup = [(t / 60, mib) for t, mib in series if (posted - started) / 2 <= t <= posted - started]
        print(f"    {name:10s}" + "".join(at(m) for m in marks) + f"{max((m for _, m in series), default=0):9.1f}{slope(after_warmup):16.2f}")

    _, cores = machine_busy_seconds()
    wall = drained - started
    print(f"  CPU from the first post until drained ({wall:.0f} s on {cores} cores, {cores * wall:.0f} core-seconds):")
    print(f"    {'':12s}{'seconds':>9s}{'ms per acquisition':>20s}{'share of the cores':>20s}")
    for name in list(stack.services) + ["postgresql", "rabbitmq", "load driver", "machine"]:
        used = cpu_after[name] - cpu_before[name]
        print(f"    {name:12s}{used:9.1f}{used * 1000 / max(total, 1):20.2f}{used / (cores * wall) * 100:19.1f}%")

    lost = total - catalog.count("SELECT count(*) FROM objects WHERE parent_id IS NULL")
    print(f"  objects lost: {lost}; refused posts: {len(poster.refused)}; retried posts: {poster.retries}")
    stack.stop()
    complete = lost == 0 and not poster.refused and len(values) >= total
    if not args.keep and complete:
        stack.remove()
    else:
        print(f"kept: {stack.work} and database {stack.database}")
    return 0 if complete else 1


if __name__ == "__main__":
    sys.exit(main())

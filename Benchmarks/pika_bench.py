#!/usr/bin/env python3
"""Baseline AMQP throughput with pika, to compare Fairway's own client against.

Usage: pika_bench.py AMQP_URL --queue Q --count N [--mode publish|consume|both]
                     [--body-size 256] [--prefetch 500] [--timeout 120]

publish: BlockingConnection with publisher confirms; N persistent messages to
         the default exchange with routing key Q (pika's blocking channel waits
         for each confirm before the next publish).
consume: N messages from Q with manual acks (one ack per message) and the given
         prefetch; stops after N.
The queue must exist (checked with a passive declare). Prints one JSON line per
mode: {"client":"pika","mode":...,"count":N,"seconds":S,"rate":R} (msg/s).
Exits non-zero if fewer than N messages could be consumed within --timeout.
"""

import argparse
import json
import sys
import time

import pika


def report(mode: str, count: int, seconds: float) -> None:
    rate = count / seconds if seconds > 0 else 0.0
    print(json.dumps({"client": "pika", "mode": mode, "count": count,
                      "seconds": round(seconds, 3), "rate": round(rate, 1)},
                     separators=(",", ":")), flush=True)


def publish(channel, queue: str, count: int, body_size: int) -> float:
    channel.confirm_delivery()
    body = b"x" * body_size
    properties = pika.BasicProperties(delivery_mode=2,  # persistent
                                      content_type="application/octet-stream")
    start = time.perf_counter()
    for _ in range(count):
        channel.basic_publish("", queue, body, properties)
    return time.perf_counter() - start


def consume(connection, channel, queue: str, count: int, prefetch: int, timeout: float) -> tuple[int, float]:
    channel.basic_qos(prefetch_count=prefetch)
    received = 0

    def on_message(ch, method, _properties, _body):
        nonlocal received
        if received >= count:   # already done: leave it unacked, the broker requeues it
            return
        ch.basic_ack(method.delivery_tag)
        received += 1
        if received >= count:
            ch.stop_consuming()

    # bounded in time: stop even if the queue holds fewer than N messages
    connection.call_later(timeout, channel.stop_consuming)
    channel.basic_consume(queue, on_message, auto_ack=False)
    start = time.perf_counter()
    channel.start_consuming()   # returns after N messages or on timeout; cancels the consumer
    return received, time.perf_counter() - start


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("url")
    parser.add_argument("--queue", required=True)
    parser.add_argument("--count", type=int, required=True)
    parser.add_argument("--mode", choices=["publish", "consume", "both"], default="both")
    parser.add_argument("--body-size", type=int, default=256)
    parser.add_argument("--prefetch", type=int, default=500)
    parser.add_argument("--timeout", type=float, default=120.0, help="seconds to wait for N messages when consuming")
    args = parser.parse_args()

    connection = pika.BlockingConnection(pika.URLParameters(args.url))
    try:
        channel = connection.channel()
        channel.queue_declare(args.queue, passive=True)   # fails if the queue does not exist
        if args.mode in ("publish", "both"):
            report("publish", args.count, publish(channel, args.queue, args.count, args.body_size))
        if args.mode in ("consume", "both"):
            received, seconds = consume(connection, channel, args.queue, args.count, args.prefetch, args.timeout)
            report("consume", received, seconds)
            if received < args.count:
                print(f"only {received} of {args.count} messages within {args.timeout} s", file=sys.stderr)
                return 1
    finally:
        if connection.is_open:
            connection.close()
    return 0


if __name__ == "__main__":
    sys.exit(main())

#!/usr/bin/env python3
"""Publish one Fairway message with pika, as any third-party AMQP client would.

Usage: pika_publish.py AMQP_URL EXCHANGE ROUTING_KEY BODY_FILE|- [--message-id ID]
                       [--correlation-id ID] [--type TYPE]

The body is sent as is (normally UTF-8 JSON). The message is persistent, carries
the properties of the Fairway contract (message_id, correlation_id, type =
routing key, content_type application/json, header traceparent) and is published
with publisher confirms and mandatory=True. Prints the message_id on stdout.
Exit codes: 0 confirmed, 2 unroutable (no queue bound), 3 nacked by the broker,
1 any other error.
"""

import argparse
import os
import sys
import time
import uuid

import pika
import pika.exceptions


def new_traceparent() -> str:
    """A W3C trace-context traceparent: version 00, random trace and span ids, sampled."""
    trace_id = span_id = ""
    while trace_id.strip("0") == "":  # all-zero ids are invalid
        trace_id = os.urandom(16).hex()
    while span_id.strip("0") == "":
        span_id = os.urandom(8).hex()
    return f"00-{trace_id}-{span_id}-01"


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("url", help="amqp://user:pass@host:port/vhost")
    parser.add_argument("exchange")
    parser.add_argument("routing_key")
    parser.add_argument("body", help="file holding the body, or - for stdin")
    parser.add_argument("--message-id", default=None, help="default: a new UUID")
    parser.add_argument("--no-message-id", action="store_true", help="send no message_id, as a bare client would")
    parser.add_argument("--correlation-id", default=None)
    parser.add_argument("--type", default=None, help="AMQP type property; default: the routing key")
    parser.add_argument("--traceparent", default=None, help="W3C traceparent header; default: a new trace")
    args = parser.parse_args()

    if args.body == "-":
        body = sys.stdin.buffer.read()
    else:
        with open(args.body, "rb") as f:
            body = f.read()

    message_id = None if args.no_message_id else (args.message_id or str(uuid.uuid4()))
    properties = pika.BasicProperties(
        message_id=message_id,
        correlation_id=args.correlation_id,
        type=args.type or args.routing_key,
        content_type="application/json",
        delivery_mode=2,  # persistent
        timestamp=int(time.time()),
        headers={"traceparent": args.traceparent or new_traceparent()},
    )

    connection = pika.BlockingConnection(pika.URLParameters(args.url))
    try:
        channel = connection.channel()
        channel.confirm_delivery()
        # With confirms on, basic_publish blocks until the broker's ack and
        # raises if the message came back unroutable or was nacked.
        channel.basic_publish(args.exchange, args.routing_key, body, properties, mandatory=True)
    except pika.exceptions.UnroutableError:
        print(f"unroutable: no queue bound to {args.routing_key!r} on exchange {args.exchange!r}", file=sys.stderr)
        return 2
    except pika.exceptions.NackError:
        print("the broker nacked the message", file=sys.stderr)
        return 3
    finally:
        if connection.is_open:
            connection.close()

    print(message_id or "")
    return 0


if __name__ == "__main__":
    sys.exit(main())

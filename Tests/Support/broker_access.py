#!/usr/bin/env python3
"""Tries operations on the real broker as given users (with pika, a client Fairway does not use)
and reports for each whether the broker allowed it or refused it (403 ACCESS_REFUSED).

usage: broker_access.py CHECKS.json     prints a JSON list, one result per check, in order

A check is {"url": amqp URL, "op": ..., ...}:
  publish  exchange, key       inside a transaction that is rolled back: the broker checks the
                               permission at publish time, and nothing is ever delivered
  bind     queue, exchange, key, arguments (to declare the queue first, if missing)
                               a binding wrongly allowed is removed again at once, and a
                               queue declared for the check is deleted after it
  consume  queue, arguments    basic.consume then cancel (with arguments: the user's own queue,
                               declared first if missing and deleted again after)
  declare  queue               queue.declare (a queue wrongly created is deleted again)
A result is {"outcome": "allowed" | "refused" | "error", "detail": text}."""
import json
import sys

import pika
from pika.exceptions import ChannelClosedByBroker


def own_queue(connection, channel, check):
    """Declares the check's queue with its arguments when it does not exist yet (a fresh broker):
    returns the channel to go on with and whether the queue was created here."""
    try:
        channel.queue_declare(check["queue"], passive=True)
        return channel, False
    except ChannelClosedByBroker as closed:
        if closed.reply_code != 404:
            raise
    channel = connection.channel()
    channel.queue_declare(check["queue"], durable=True, arguments=check.get("arguments") or {})
    return channel, True


def attempt(connection, check):
    channel = connection.channel()
    op = check["op"]
    try:
        if op == "publish":
            channel.tx_select()
            channel.basic_publish(check["exchange"], check["key"], b"{}",
                                  pika.BasicProperties(message_id="00000000-0000-4000-8000-000000000000"))
            channel.tx_rollback()  # the refusal, if any, arrives before this returns
        elif op == "bind":
            channel, created = own_queue(connection, channel, check)
            try:
                channel.queue_bind(check["queue"], check["exchange"], routing_key=check["key"])
                if check.get("cleanup"):
                    channel.queue_unbind(check["queue"], check["exchange"], routing_key=check["key"])
            finally:
                if created:  # leave the broker as it was
                    connection.channel().queue_delete(check["queue"])
        elif op == "consume":
            created = False
            if check.get("arguments"):  # the user's own queue: declared first on a fresh broker
                channel, created = own_queue(connection, channel, check)
            try:
                tag = channel.basic_consume(check["queue"], lambda *args: None, auto_ack=False)
                channel.basic_cancel(tag)
            finally:
                if created:
                    connection.channel().queue_delete(check["queue"])
        elif op == "declare":
            channel.queue_declare(check["queue"], durable=True, arguments={"x-queue-type": "quorum"})
            channel.queue_delete(check["queue"])
        else:
            return {"outcome": "error", "detail": f"unknown op {op}"}
    except ChannelClosedByBroker as closed:
        outcome = "refused" if closed.reply_code == 403 else "error"
        return {"outcome": outcome, "detail": f"{closed.reply_code} {closed.reply_text}"}
    if channel.is_open:
        channel.close()
    return {"outcome": "allowed", "detail": ""}


def main():
    checks = json.load(open(sys.argv[1], encoding="utf-8"))
    connections = {}
    results = []
    try:
        for check in checks:
            url = check["url"]
            if url not in connections:
                connections[url] = pika.BlockingConnection(pika.URLParameters(url))
            try:
                results.append(attempt(connections[url], check))
            except Exception as error:  # reported, not fatal: the test names the check
                results.append({"outcome": "error", "detail": f"{type(error).__name__}: {error}"})
    finally:
        for connection in connections.values():
            if connection.is_open:
                connection.close()
    json.dump(results, sys.stdout)
    return 0


if __name__ == "__main__":
    sys.exit(main())

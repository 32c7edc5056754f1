#!/usr/bin/env python3
"""A test OTLP/HTTP trace receiver: decodes each export with the OpenTelemetry project's own
protobuf definitions (opentelemetry-proto), so what Fairway sends is read by an independent
implementation of the protocol, and appends one JSON line per span to OUT.

usage: otlp_receiver.py OUT      (prints "port N" once listening on 127.0.0.1)

Accepts POST /v1/traces as application/x-protobuf or application/json, like a collector.
Anything else is answered as a collector would (404, 415, 400) and counted in OUT as a
{"refused": ...} line, so a test sees malformed exports too."""
import json
import sys
import threading
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer

from google.protobuf import json_format
from opentelemetry.proto.collector.trace.v1 import trace_service_pb2

OUT = sys.argv[1]
LOCK = threading.Lock()

KINDS = {0: "unspecified", 1: "internal", 2: "server", 3: "client", 4: "producer", 5: "consumer"}


def value(any_value):
    kind = any_value.WhichOneof("value")
    return getattr(any_value, kind) if kind else None


def spans(request):
    for resource_spans in request.resource_spans:
        resource = {a.key: value(a.value) for a in resource_spans.resource.attributes}
        for scope_spans in resource_spans.scope_spans:
            for span in scope_spans.spans:
                yield {
                    "service": resource.get("service.name"),
                    "name": span.name,
                    "kind": KINDS.get(span.kind, str(span.kind)),
                    "trace_id": span.trace_id.hex(),
                    "span_id": span.span_id.hex(),
                    "parent_span_id": span.parent_span_id.hex(),
                    "start_ns": span.start_time_unix_nano,
                    "end_ns": span.end_time_unix_nano,
                    "status": span.status.code,
                    "attributes": {a.key: value(a.value) for a in span.attributes},
                }


def record(lines):
    with LOCK, open(OUT, "a", encoding="utf-8") as out:
        for line in lines:
            out.write(json.dumps(line) + "\n")


class Receiver(BaseHTTPRequestHandler):
    def do_POST(self):
        length = int(self.headers.get("Content-Length") or 0)
        body = self.rfile.read(length)
        if self.path != "/v1/traces":
            return self.refuse(404, f"no such path {self.path}")
        content_type = (self.headers.get("Content-Type") or "").split(";")[0].strip()
        request = trace_service_pb2.ExportTraceServiceRequest()
        try:
            if content_type == "application/x-protobuf":
                request.ParseFromString(body)
            elif content_type == "application/json":
                json_format.Parse(body, request)
            else:
                return self.refuse(415, f"content type {content_type!r}")
        except Exception as error:  # a malformed export is the sender's bug: report it
            return self.refuse(400, f"undecodable export: {error}")
        record(list(spans(request)))
        answer = trace_service_pb2.ExportTraceServiceResponse().SerializeToString()
        self.send_response(200)
        self.send_header("Content-Type", content_type)
        self.send_header("Content-Length", str(len(answer)))
        self.end_headers()
        self.wfile.write(answer)

    def refuse(self, status, reason):
        record([{"refused": reason, "status": status}])
        self.send_response(status)
        self.send_header("Content-Length", "0")
        self.end_headers()

    def log_message(self, *args):
        pass


server = ThreadingHTTPServer(("127.0.0.1", 0), Receiver)
print(f"port {server.server_address[1]}", flush=True)
server.serve_forever()

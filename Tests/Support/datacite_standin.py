"""A stand-in for the DataCite REST API (https://support.datacite.org/docs/api), for tests and local
demos on machines that cannot reach DataCite. It keeps DOIs in memory and follows the documented
behaviour:

- `PUT /dois/{doi}` (JSON:API, HTTP Basic) creates (201) or updates (200) a DOI; `event` moves it
  draft -> registered (`register`) or findable (`publish`), findable -> registered (`hide`),
  registered -> findable (`publish`); nothing goes back to draft. A DOI leaving draft needs a `url`
  and metadata valid against the DataCite 4.5 JSON schema, else 422 with
  `{"errors": [{"source": field, "title": message}]}`.
- `GET /dois/{doi}` returns it (404 when unknown); `DELETE /dois/{doi}` removes a draft (204) and
  refuses any other state with 405.
- Wrong or missing credentials: 401. A DOI outside the account's prefix: 403.
- Faults for tests, queued with `POST /_faults` `{"faults": [...]}` and applied to the next
  requests in order: `{"status": 503}`, `{"status": 429, "retryAfter": 2}` or
  `{"status": 422, "errors": [{"source": ..., "title": ...}]}` (answered without acting), `{"delay": 3}` (slow, then acted on), `{"acceptThenHang": 30}` (acted on, then the
  answer is held back so the client times out). `GET /_requests` lists the requests seen;
  `GET /_dois` the stored DOIs.

    python3 datacite_standin.py USER PASSWORD PREFIX   prints "port N" once listening on 127.0.0.1
"""
import base64
import json
import socket
import sys
import threading
import time
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from importlib import resources

import jsonschema

USER, PASSWORD, PREFIX = sys.argv[1], sys.argv[2], sys.argv[3]
SCHEMA = json.loads(resources.files("datacite").joinpath("schemas/datacite-v4.5.json").read_text())
VALIDATOR = jsonschema.Draft201909Validator(SCHEMA)
TRANSITIONS = {
    ("draft", "register"): "registered", ("draft", "publish"): "findable",
    ("registered", "publish"): "findable", ("registered", "register"): "registered",
    ("findable", "hide"): "registered", ("findable", "publish"): "findable",
}
lock = threading.Lock()
dois = {}
faults = []
requests_seen = []


def document(doi, record):
    attributes = dict(record["attributes"])
    attributes.update({"doi": doi, "state": record["state"], "created": record["created"], "updated": record["updated"]})
    return {"data": {"id": doi, "type": "dois", "attributes": attributes}}


class Handler(BaseHTTPRequestHandler):
    protocol_version = "HTTP/1.1"

    def log_message(self, *args):
        pass

    def reply(self, status, body=None, headers=None):
        payload = b"" if body is None else json.dumps(body).encode()
        self.send_response(status)
        content_type = "application/json" if self.path.startswith("/_") else "application/vnd.api+json"
        self.send_header("Content-Type", content_type)
        self.send_header("Content-Length", str(len(payload)))
        for name, value in (headers or {}).items():
            self.send_header(name, value)
        self.end_headers()
        self.wfile.write(payload)

    def error(self, status, title, source=None):
        error = {"status": str(status), "title": title}
        if source:
            error["source"] = source
        self.reply(status, {"errors": [error]})

    def body(self):
        length = int(self.headers.get("Content-Length") or 0)
        return self.rfile.read(length) if length else b""

    def authorised(self):
        expected = "Basic " + base64.b64encode(f"{USER}:{PASSWORD}".encode()).decode()
        return self.headers.get("Authorization") == expected

    def doi_of_path(self):
        return self.path[len("/dois/"):].split("?")[0].upper() if self.path.startswith("/dois/") else None

    def handle_one(self, method):
        raw = self.body()
        if self.path == "/_faults" and method == "POST":
            with lock:
                faults.extend(json.loads(raw)["faults"])
            return self.reply(204)
        if self.path == "/_requests" and method == "GET":
            with lock:
                return self.reply(200, list(requests_seen))
        if self.path == "/_dois" and method == "GET":
            with lock:
                return self.reply(200, {doi: document(doi, record) for doi, record in dois.items()})
        with lock:
            requests_seen.append({"method": method, "path": self.path, "at": time.time()})
            fault = faults.pop(0) if faults else {}
        if "status" in fault:
            headers = {"Retry-After": str(fault["retryAfter"])} if "retryAfter" in fault else {}
            errors = fault.get("errors") or [{"status": str(fault["status"]), "title": "injected fault"}]
            return self.reply(fault["status"], {"errors": errors}, headers)
        if "delay" in fault:
            time.sleep(fault["delay"])
        if not self.authorised():
            return self.error(401, "Bad credentials.")
        doi = self.doi_of_path()
        if not doi:
            return self.error(404, "The resource you are looking for doesn't exist.")
        if not doi.startswith(PREFIX.upper() + "/"):
            return self.error(403, "You are not authorized to access this resource.")
        if method == "GET":
            with lock:
                record = dois.get(doi)
            return self.reply(200, document(doi, record)) if record else self.error(404, "The resource you are looking for doesn't exist.")
        if method == "DELETE":
            with lock:
                record = dois.get(doi)
                if not record:
                    return self.error(404, "The resource you are looking for doesn't exist.")
                if record["state"] != "draft":
                    return self.error(405, "Method not allowed")
                del dois[doi]
            return self.reply(204)
        if method == "PUT":
            try:
                incoming = json.loads(raw)["data"]["attributes"]
            except (ValueError, KeyError, TypeError):
                return self.error(400, "Bad request: the body is not a JSON:API document")
            with lock:
                existing = dois.get(doi)
                state = existing["state"] if existing else "draft"
                event = incoming.pop("event", None)
                target = TRANSITIONS.get((state, event)) if event else state
                if event and target is None:
                    return self.error(422, f"Cannot {event} a {state} DOI", "event")
                merged = dict(existing["attributes"]) if existing else {}
                merged.update({k: v for k, v in incoming.items() if k not in ("state", "doi", "prefix", "suffix")})
                merged.update({"doi": doi, "prefix": doi.split("/")[0], "suffix": doi.split("/", 1)[1]})
                if target != "draft":
                    problems = []
                    if not merged.get("url"):
                        problems.append(("url", "can't be blank"))
                    for error in VALIDATOR.iter_errors({k: v for k, v in merged.items() if k in SCHEMA["properties"]}):
                        problems.append(("/".join(map(str, error.absolute_path)) or "metadata", error.message))
                    if problems:
                        self.reply(422, {"errors": [{"source": s, "title": t, "uid": doi} for s, t in problems]})
                        return
                now = time.strftime("%Y-%m-%dT%H:%M:%S.000Z", time.gmtime())
                dois[doi] = {"attributes": merged, "state": target, "created": existing["created"] if existing else now, "updated": now}
                answer = document(doi, dois[doi])
            if "acceptThenHang" in fault:
                time.sleep(fault["acceptThenHang"])
            return self.reply(200 if existing else 201, answer)
        return self.error(405, "Method not allowed")

    def do_GET(self):
        self.handle_one("GET")

    def do_PUT(self):
        self.handle_one("PUT")

    def do_DELETE(self):
        self.handle_one("DELETE")

    def do_POST(self):
        self.handle_one("POST")


def main():
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        port = probe.getsockname()[1]
    server = ThreadingHTTPServer(("127.0.0.1", port), Handler)
    server.daemon_threads = True
    print(f"port {port}", flush=True)
    server.serve_forever()


if __name__ == "__main__":
    main()

"""The whole Fairway stack on the private servers of deploy/local/infra, for the suites that drive
it from outside (Tests/chaos, Tests/load): a database of its own, a broker namespace of its own,
zones and a retention policy, a watcher token, the DataCite stand-in and the six services as
processes that can be killed and restarted. Also little TIFFs and a poster that behaves like a
watcher."""
import atexit
import base64
import hashlib
import json
import os
import random
import signal
import struct
import subprocess
import sys
import threading
import time
import urllib.error
import urllib.parse
import urllib.request
import uuid

ROOT = os.path.dirname(os.path.dirname(os.path.dirname(os.path.abspath(__file__))))
INFRA = os.path.join(ROOT, "deploy", "local", "infra")
SERVICES = ["ingest", "converter", "metadata", "qc", "retention", "doi"]


def log(message):
    print(f"[{os.path.basename(sys.argv[0]).removesuffix('.py')} {time.strftime('%H:%M:%S')}] {message}", flush=True)


# ------------------------------------------------------------------ the catalog, read with psql

class Catalog:
    def __init__(self, url):
        self.url = url

    def rows(self, sql, timeout=60):
        """Rows as lists of strings; retried while PostgreSQL is restarting."""
        deadline = time.monotonic() + timeout
        while True:
            done = subprocess.run(["psql", "-X", "-A", "-t", "-F", "\t", "-v", "ON_ERROR_STOP=1", "-c", sql, self.url],
                                  capture_output=True, text=True)
            if done.returncode == 0:
                return [line.split("\t") for line in done.stdout.splitlines() if line != ""]
            if time.monotonic() > deadline:
                raise RuntimeError(f"psql failed: {done.stderr.strip()}")
            time.sleep(0.5)

    def value(self, sql):
        rows = self.rows(sql)
        return rows[0][0] if rows else None

    def count(self, sql):
        return int(self.value(sql) or 0)


def database_url(url, name):
    parts = urllib.parse.urlsplit(url)
    return urllib.parse.urlunsplit((parts.scheme, parts.netloc, "/" + name, parts.query, parts.fragment))


# ------------------------------------------------------------------ images: good ones and bad ones

def tiff(width, height, planes, bits, seed):
    """A little-endian baseline TIFF with `planes` pages of random pixels (uncompressed)."""
    rng = random.Random(seed)
    sample_bytes = bits // 8
    pages = []
    for _ in range(planes):
        pixels = bytes(rng.getrandbits(8) for _ in range(width * height * sample_bytes))
        pages.append(pixels)
    out = bytearray(b"II*\x00" + struct.pack("<I", 0))
    ifd_offsets = []
    entries_per_ifd = 9
    for index, pixels in enumerate(pages):
        data_offset = len(out)
        out += pixels
        if len(out) % 2:
            out += b"\x00"
        ifd_offset = len(out)
        ifd_offsets.append(ifd_offset)
        entries = [
            (256, 4, 1, width), (257, 4, 1, height), (258, 3, 1, bits), (259, 3, 1, 1), (262, 3, 1, 1),
            (273, 4, 1, data_offset), (277, 3, 1, 1), (278, 4, 1, height), (279, 4, 1, len(pixels)),
        ]
        out += struct.pack("<H", entries_per_ifd)
        for tag, kind, count, value in entries:
            out += struct.pack("<HHI", tag, kind, count)
            out += struct.pack("<HH", value, 0) if kind == 3 else struct.pack("<I", value)
        out += struct.pack("<I", 0)
    struct.pack_into("<I", out, 4, ifd_offsets[0])
    for previous, following in zip(ifd_offsets, ifd_offsets[1:]):
        struct.pack_into("<I", out, previous + 2 + entries_per_ifd * 12, following)
    return bytes(out)


# ------------------------------------------------------------------ the services, supervised

class Service:
    def __init__(self, name, binary, environment, port, logs):
        self.name, self.binary, self.environment, self.port = name, binary, environment, port
        self.log_path = os.path.join(logs, f"{name}.log")
        self.process = None
        self.lock = threading.Lock()
        self.exits = 0           # times it exited without being killed by the suite

    def start(self):
        with self.lock:
            out = open(self.log_path, "ab")
            self.process = subprocess.Popen([self.binary, "serve"], env=self.environment, stdout=out, stderr=subprocess.STDOUT,
                                            start_new_session=True)
            out.close()

    def kill(self):
        with self.lock:
            if self.process and self.process.poll() is None:
                self.process.send_signal(signal.SIGKILL)
                self.process.wait()

    def stop(self):
        with self.lock:
            if self.process and self.process.poll() is None:
                self.process.send_signal(signal.SIGTERM)
                try:
                    self.process.wait(timeout=30)
                except subprocess.TimeoutExpired:
                    self.process.kill()
                    self.process.wait()

    def ready(self):
        try:
            with urllib.request.urlopen(f"http://127.0.0.1:{self.port}/readyz", timeout=2) as answer:
                return answer.status == 200
        except Exception:
            return False

    def alive(self):
        return self.process is not None and self.process.poll() is None

    def wait_ready(self, timeout=180):
        """Seconds until /readyz answers 200 (restarting the process should it have exited)."""
        started = time.monotonic()
        while time.monotonic() - started < timeout:
            if self.ready():
                return time.monotonic() - started
            if not self.alive():
                self.exits += 1
                log(f"{self.name} exited ({self.process.returncode if self.process else '?'}); restarting it in 1 s")
                time.sleep(1)
                self.start()
            time.sleep(0.05)
        raise RuntimeError(f"{self.name} not ready after {timeout} s; see {self.log_path}")


# ------------------------------------------------------------------ posting acquisitions

class Poster:
    """Posts acquisitions as a watcher does: again and again until the server has taken it."""

    def __init__(self, port, token, zone):
        self.url = f"http://127.0.0.1:{port}/v1/acquisitions"
        self.token, self.zone = token, zone
        self.accepted = {}       # path -> acquisition id
        self.refused = {}        # path -> (status, body)
        self.retries = 0
        self.lock = threading.Lock()

    def post(self, relative, study, assay):
        body = json.dumps({"zone": self.zone, "path": relative, "investigation": "CHAOS", "study": study, "assay": assay}).encode()
        while True:
            request = urllib.request.Request(self.url, data=body, method="POST", headers={
                "Authorization": f"Bearer {self.token}", "Content-Type": "application/json"})
            try:
                with urllib.request.urlopen(request, timeout=30) as answer:
                    reply = json.loads(answer.read())
                    with self.lock:
                        self.accepted[relative] = reply["id"]
                    return
            except urllib.error.HTTPError as error:
                text = error.read().decode(errors="replace")
                if error.code >= 500 or error.code == 429:
                    with self.lock:
                        self.retries += 1
                    time.sleep(0.3)
                    continue
                with self.lock:
                    self.refused[relative] = (error.code, text)
                return
            except Exception:
                with self.lock:
                    self.retries += 1
                time.sleep(0.3)


class Stack:
    """Sets everything up in `work` (removed by `remove`, with the database)."""

    def __init__(self, run_id, bin_dir, port_base):
        self.run_id, self.bin, self.port_base = run_id, bin_dir, port_base
        self.admin_db = os.environ["FAIRWAY_DATABASE_URL"]
        self.admin_amqp = os.environ["FAIRWAY_AMQP_URL"]
        self.database = f"fw_run_{run_id}"
        self.namespace = f"run-{run_id}"
        self.work = os.path.join(ROOT, ".fairway", f"run-{run_id}")
        self.landing, self.derived, self.vault, self.cold, self.logs = (
            os.path.join(self.work, d) for d in ("landing", "derived", "vault", "cold", "logs"))
        for folder in (self.landing, self.derived, self.vault, self.cold, self.logs):
            os.makedirs(folder)
        Catalog(self.admin_db).rows(f"CREATE DATABASE {self.database}")
        self.catalog = Catalog(database_url(self.admin_db, self.database))
        self.publishing = dict(FAIRWAY_DOI_PREFIX="10.5072", FAIRWAY_LANDING_BASE_URL=f"http://127.0.0.1:{port_base + 5}/datasets",
                               FAIRWAY_PUBLISHER_NAME="Fairway test facility")
        self.cli_env = dict(os.environ, FAIRWAY_DATABASE_URL=self.catalog.url, FAIRWAY_AMQP_URL=self.admin_amqp,
                            FAIRWAY_BROKER_NAMESPACE=self.namespace, FAIRWAY_LOG_FORMAT="text", **self.publishing)
        for index, name in enumerate(SERVICES):
            self.cli_env[f"FAIRWAY_{name.upper()}_HTTP_PORT"] = str(port_base + index)
        self.services = {}
        self.standin = None
        # Whatever happens, no service is left running (a leftover would hold the next run's ports).
        atexit.register(self.kill_all)

    def cli(self, *arguments, check=True):
        done = subprocess.run([os.path.join(self.bin, "fairway"), *arguments], env=self.cli_env, capture_output=True, text=True)
        if check and done.returncode != 0:
            raise RuntimeError(f"fairway {' '.join(arguments)}: {done.returncode}\n{done.stdout}\n{done.stderr}")
        return done

    def prepare(self):
        """Schema, zones (landing `chaos`, derived, vault, cold), the facility policy (every object
        copied to the vault and verified), a watcher token; returns the token."""
        self.cli("migrate")
        self.cli("zone", "add", "chaos", "--path", self.landing)
        self.cli("zone", "add", "derived", "--path", self.derived, "--role", "derived")
        self.cli("zone", "add", "vault", "--path", self.vault, "--role", "vault")
        self.cli("zone", "add", "cold", "--path", self.cold, "--role", "cold")
        policy = os.path.join(self.work, "policy.yaml")
        with open(policy, "w") as handle:
            handle.write("replicateTo: vault\ncleanBufferAfter: 60d\ntierToColdAfterNoAccess: 2y\nverification: checksum\n"
                         "expireAfter: 5y\nextension: 1y\nnoticeBefore: [90d, 30d, 7d]\n")
        self.cli("retention", "policy", "set", "--facility", "--file", policy)
        return self.cli("token", "create", "--zone", "chaos", "--label", "suite-watcher").stdout.strip()

    def start(self, extra=None):
        standin_log = open(os.path.join(self.logs, "datacite-standin.log"), "w")
        self.standin = subprocess.Popen([sys.executable, "-u", os.path.join(ROOT, "Tests", "Support", "datacite_standin.py"),
                                         "suite", "suite-secret", "10.5072"], stdout=subprocess.PIPE, stderr=standin_log, text=True)
        self.datacite_port = self.standin.stdout.readline().split()[1]
        for index, name in enumerate(SERVICES):
            own = os.environ[f"FAIRWAY_{name.upper()}_DATABASE_URL"]
            environment = dict(os.environ,
                               FAIRWAY_DATABASE_URL=database_url(own, self.database), FAIRWAY_AMQP_URL=self.admin_amqp,
                               FAIRWAY_BROKER_NAMESPACE=self.namespace, FAIRWAY_HTTP_PORT=str(self.port_base + index),
                               FAIRWAY_LOG_FORMAT="json", FAIRWAY_LOG_LEVEL="info", FAIRWAY_QUIET_PERIOD="0",
                               FAIRWAY_NOTICE_MAILBOX=os.path.join(self.work, "notices.mbox"),
                               FAIRWAY_DATACITE_URL=f"http://127.0.0.1:{self.datacite_port}",
                               FAIRWAY_DATACITE_USER="suite", FAIRWAY_DATACITE_PASSWORD="suite-secret", **self.publishing, **(extra or {}))
            self.services[name] = Service(name, os.path.join(self.bin, f"fairway-{name}"), environment, self.port_base + index, self.logs)
        for service in self.services.values():
            service.start()
        for service in self.services.values():
            service.wait_ready()

    def dois(self):
        with urllib.request.urlopen(f"http://127.0.0.1:{self.datacite_port}/_dois") as answer:
            held = json.loads(answer.read())
        return held if isinstance(held, list) else list(held.values()) if isinstance(held, dict) else []

    def kill_all(self):
        for service in self.services.values():
            service.kill()
        if self.standin and self.standin.poll() is None:
            self.standin.kill()

    def stop(self):
        for service in self.services.values():
            service.stop()
        if self.standin:
            self.standin.terminate()

    def remove(self):
        import shutil
        shutil.rmtree(self.work, ignore_errors=True)
        Catalog(self.admin_db).rows(f"DROP DATABASE IF EXISTS {self.database} WITH (FORCE)")

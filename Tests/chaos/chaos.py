#!/usr/bin/env python3
"""Fairway's chaos suite: the six services on the real PostgreSQL and RabbitMQ of deploy/local/infra,
acquisitions posted (over HTTP, and some over AMQP with pika) while services are SIGKILLed and
restarted, RabbitMQ and PostgreSQL are restarted and every broker connection is closed, at random
moments. Then it waits for the pipeline to come to rest and checks, printing each figure:

  - every accepted acquisition has its object (none lost), and nothing is there twice: objects,
    derived files, metadata rows, QC results, DOIs;
  - every object reached its final stage, or failed with a reason; the dead-letter queues hold the
    deliberately bad messages only, each with its error;
  - catalog and disk agree: every good replica exists with its recorded size and SHA-256;
  - how long each service took to be ready again after each fault.

Run it through Tests/chaos/run (which starts the servers and builds); exit 0 when every check holds.
"""
import argparse
import base64
import hashlib
import json
import os
import random
import subprocess
import sys
import threading
import time
import urllib.request
import uuid

sys.path.insert(0, os.path.join(os.path.dirname(os.path.dirname(os.path.abspath(__file__))), "Support"))
from fairway_stack import INFRA, ROOT, SERVICES, Poster, Stack, log, tiff  # noqa: E402


# ------------------------------------------------------------------ inputs: good images and bad files

def make_inputs(landing, count, bad_every, rng):
    """`count` acquisitions (one file each) under `landing`: mostly good images of a few kinds,
    every `bad_every`-th one deliberately bad. Returns [(relative path, kind, study, assay)]."""
    inputs = []
    for index in range(count):
        study, assay = f"s{index % 8}", f"a{index % 3}"
        if bad_every and index % bad_every == bad_every - 1:
            kind = ["truncated", "garbage", "empty"][(index // bad_every) % 3]
        else:
            kind = ["plane16", "stack8", "plane8"][index % 3]
        relative = f"run-{index // 100:03d}/img-{index:05d}-{kind}.tif"
        path = os.path.join(landing, relative)
        os.makedirs(os.path.dirname(path), exist_ok=True)
        seed = rng.getrandbits(32)
        if kind == "plane16":
            data = tiff(48, 40, 1, 16, seed)
        elif kind == "stack8":
            data = tiff(32, 32, 4, 8, seed)
        elif kind == "plane8":
            data = tiff(64, 48, 1, 8, seed)
        elif kind == "truncated":
            data = tiff(64, 64, 1, 16, seed)[:300]  # the header and a few pixels: the image data is cut
        elif kind == "garbage":
            data = os.urandom(2048)
        else:
            data = b""
        with open(path, "wb") as handle:
            handle.write(data)
        inputs.append((relative, kind, study, assay))
    return inputs


# ------------------------------------------------------------------ acquisitions over AMQP

class AMQPPoster:
    """acquisition.completed over AMQP with pika (a client Fairway does not use), with publisher
    confirms, again after any connection loss: at least once, as a third-party producer would."""

    def __init__(self, url, exchange):
        self.url, self.exchange = url, exchange
        self.accepted = []       # paths
        self.poison = []         # (message id, why)
        self.retries = 0

    def publish(self, body, message_id):
        import pika
        while True:
            try:
                connection = pika.BlockingConnection(pika.URLParameters(self.url))
                try:
                    channel = connection.channel()
                    channel.confirm_delivery()
                    channel.basic_publish(self.exchange, "acquisition.completed", body, pika.BasicProperties(
                        message_id=message_id, type="acquisition.completed", content_type="application/json", delivery_mode=2),
                        mandatory=True)
                    return
                finally:
                    if connection.is_open:
                        connection.close()
            except Exception:
                self.retries += 1
                time.sleep(0.5)

    def acquisition(self, zone, relative, study, assay):
        body = json.dumps({"zone": zone, "path": relative, "investigation": "CHAOS", "study": study, "assay": assay}).encode()
        self.publish(body, str(uuid.uuid4()))
        self.accepted.append(relative)

    def poisoned(self, why, body):
        message_id = str(uuid.uuid4())
        self.publish(body, message_id)
        self.poison.append((message_id, why))


# ------------------------------------------------------------------ the run

def main():
    parser = argparse.ArgumentParser(description="Fairway chaos suite")
    parser.add_argument("--acquisitions", type=int, default=2000)
    parser.add_argument("--rounds", type=int, default=2, help="each fault kind this many times (each service killed each round)")
    parser.add_argument("--rate", type=float, default=20.0, help="acquisitions posted per second")
    parser.add_argument("--bad-every", type=int, default=25, help="every N-th acquisition is a deliberately bad file")
    parser.add_argument("--amqp-share", type=float, default=0.1, help="share of good acquisitions sent over AMQP")
    parser.add_argument("--seed", type=int, default=None)
    parser.add_argument("--bin", default=os.path.join(ROOT, ".build", "debug"))
    parser.add_argument("--port-base", type=int, default=18280)
    parser.add_argument("--settle-timeout", type=int, default=1200, help="seconds to wait for the pipeline to come to rest")
    parser.add_argument("--keep", action="store_true", help="keep the database and files afterwards")
    args = parser.parse_args()

    seed = args.seed if args.seed is not None else random.randrange(1 << 30)
    rng = random.Random(seed)
    run_id = uuid.uuid4().hex[:8]
    log(f"seed {seed}, run {run_id}: {args.acquisitions} acquisitions, {args.rounds} round(s) of faults, {args.rate}/s")

    stack = Stack(run_id, args.bin, args.port_base)
    catalog, cli, services = stack.catalog, stack.cli, stack.services
    token = stack.prepare()
    log(f"generating {args.acquisitions} input files")
    inputs = make_inputs(stack.landing, args.acquisitions, args.bad_every, rng)
    stack.start()
    log("six services ready")

    # ---- faults, at random moments while the acquisitions arrive
    kinds = [("kill", name) for name in SERVICES] + [("restart", "rabbitmq"), ("restart", "postgres"), ("close", "connections")]
    faults = [kind for _ in range(args.rounds) for kind in kinds]
    rng.shuffle(faults)
    posting_seconds = args.acquisitions / args.rate
    recoveries = []          # (fault, service, seconds)
    fault_errors = []
    stop_faults = threading.Event()

    def wait_all_ready(fault, since):
        for name, service in services.items():
            service.wait_ready()
            recoveries.append((fault, name, time.monotonic() - since))

    def inject():
        spacing = posting_seconds / (len(faults) + 1)
        for index, (what, target) in enumerate(faults):
            if stop_faults.wait(spacing * rng.uniform(0.5, 1.5)):
                return
            fault = f"{index + 1:02d} {what} {target}"
            try:
                if what == "kill":
                    service = services[target]
                    service.kill()
                    log(f"fault {fault}: SIGKILL")
                    time.sleep(rng.uniform(0, 1.5))   # a supervisor's restart delay
                    service.start()
                    recoveries.append((fault, target, service.wait_ready()))
                elif what == "restart":
                    log(f"fault {fault}")
                    since = time.monotonic()
                    subprocess.run([INFRA, "restart", target], check=True, capture_output=True)
                    wait_all_ready(fault, since)
                else:
                    log(f"fault {fault}: rabbitmqctl close_all_connections")
                    since = time.monotonic()
                    subprocess.run([INFRA, "rabbitmqctl", "close_all_connections", "-p", "fairway", "chaos"], check=True, capture_output=True)
                    wait_all_ready(fault, since)
            except Exception as error:
                fault_errors.append(f"{fault}: {error}")
                log(f"fault {fault} failed: {error}")

    faulter = threading.Thread(target=inject, daemon=True)
    started = time.monotonic()
    faulter.start()

    poster = Poster(args.port_base, token, "chaos")
    amqp = AMQPPoster(stack.admin_amqp, stack.namespace)
    good = [item for item in inputs if item[1] in ("plane16", "stack8", "plane8")]
    over_amqp = set(rng.sample(range(len(good)), int(len(good) * args.amqp_share)))
    amqp_paths = {good[i][0] for i in over_amqp}

    def post_all(batch):
        for relative, kind, study, assay in batch:
            if relative in amqp_paths:
                amqp.acquisition("chaos", relative, study, assay)
            else:
                poster.post(relative, study, assay)

    threads = []
    per_thread = 4
    pace_start = time.monotonic()
    for begin in range(0, len(inputs), per_thread * 4):
        chunk = inputs[begin:begin + per_thread * 4]
        # Keep to the rate: the chunk's slot in time.
        slot = pace_start + begin / args.rate
        delay = slot - time.monotonic()
        if delay > 0:
            time.sleep(delay)
        parts = [chunk[i::per_thread] for i in range(per_thread)]
        batch_threads = [threading.Thread(target=post_all, args=(part,)) for part in parts]
        for thread in batch_threads:
            thread.start()
        threads += batch_threads
        threads = [t for t in threads if t.is_alive()]
    # Deliberately bad messages, which must end in fairway-ingest's dead-letter queue with their error.
    amqp.poisoned("not JSON", b"{this is not json")
    amqp.poisoned("unknown zone", json.dumps({"zone": "nowhere", "path": "x.tif"}).encode())
    amqp.poisoned("path leaves the zone", json.dumps({"zone": "chaos", "path": "../../etc/passwd"}).encode())
    for thread in threads:
        thread.join()
    posted_at = time.monotonic()
    log(f"all {len(inputs)} acquisitions sent in {posted_at - started:.0f} s "
        f"({len(poster.accepted)} over HTTP, {len(amqp.accepted)} over AMQP; {poster.retries + amqp.retries} retries while things were down)")

    # Publications, requested while the last faults happen; a request that fails is asked again.
    publication = os.path.join(stack.work, "publication.yaml")
    with open(publication, "w") as handle:
        handle.write("title: Chaos study\ndescription: Images posted while the services were killed and restarted.\n"
                     "creators:\n  - name: Martin, Alice\n    orcid: 0000-0002-1825-0097\nlicense: CC-BY-4.0\n")
    published = []
    for study in ("s0", "s1", "s2"):
        for _ in range(60):
            done = cli("publish", "--investigation", "CHAOS", "--study", study, "--metadata", publication, check=False)
            if done.returncode == 0:
                published.append(study)
                break
            last_refusal = (done.stdout + done.stderr).strip()[-300:]
            time.sleep(1)
        else:
            log(f"publishing {study} kept failing: {last_refusal}")
    faulter.join()
    stop_faults.set()
    log(f"faults done: {len(faults)} injected")

    # ---- rest: nothing pending anywhere
    def at_rest():
        status = json.loads(cli("status", "--json", check=False).stdout or "{}")
        queues_busy = sum(q.get("ready", 0) for q in status.get("queues", []))
        pending = catalog.count("SELECT count(*) FROM acquisitions WHERE state = 'pending'")
        moving = catalog.count("""
            SELECT count(*) FROM objects o WHERE o.parent_id IS NULL AND o.state IN ('registered', 'converted', 'described')
            AND NOT EXISTS (SELECT 1 FROM qc_results q WHERE q.object_id = o.id)
            AND NOT EXISTS (SELECT 1 FROM objects d JOIN qc_results q ON q.object_id = d.id WHERE d.parent_id = o.id)
            AND NOT EXISTS (SELECT 1 FROM objects d WHERE d.parent_id = o.id AND d.state IN ('failed', 'unsupported-format'))""")
        unreplicated = catalog.count("""
            SELECT count(*) FROM objects o WHERE o.state <> 'expired' AND o.parent_id IS NULL
            AND NOT EXISTS (SELECT 1 FROM replicas r JOIN resources v ON v.id = r.resource_id AND v.role = 'vault' WHERE r.object_id = o.id AND r.status = 'good')""")
        unpublished = catalog.count("SELECT count(*) FROM publications WHERE state NOT IN ('findable', 'failed')")
        return status, (queues_busy, pending, moving, unreplicated, unpublished, status.get("outboxUnsent", 1))

    deadline = time.monotonic() + args.settle_timeout
    while True:
        status, figures = at_rest()
        if sum(figures) == 0 and len(poster.accepted) + len(amqp.accepted) == catalog.count("SELECT count(*) FROM acquisitions WHERE zone_id = (SELECT id FROM resources WHERE name = 'chaos')"):
            break
        if time.monotonic() > deadline:
            log(f"not at rest after {args.settle_timeout} s: queued {figures[0]}, pending {figures[1]}, moving {figures[2]}, "
                f"unreplicated {figures[3]}, unpublished {figures[4]}, outbox {figures[5]}")
            break
        time.sleep(2)
    rest_at = time.monotonic()
    log(f"at rest {rest_at - posted_at:.0f} s after the last acquisition")

    # ---- checks
    failures = []
    print()
    print("==== figures")

    def figure(name, value, ok=True):
        print(f"  {'ok  ' if ok else 'FAIL'} {name}: {value}")
        if not ok:
            failures.append(f"{name}: {value}")

    accepted_paths = set(poster.accepted) | set(amqp.accepted)
    figure("acquisitions sent", len(inputs))
    figure("acquisitions accepted", len(accepted_paths), len(accepted_paths) == len(inputs))
    figure("acquisitions refused", len(poster.refused), not poster.refused)
    registered = {row[0]: row[1] for row in catalog.rows("""
        SELECT a.path, count(o.id) FROM acquisitions a LEFT JOIN objects o ON o.acquisition_id = a.id
        WHERE a.zone_id = (SELECT id FROM resources WHERE name = 'chaos') GROUP BY a.path""")}
    lost = sorted(path for path in accepted_paths if registered.get(path, "0") == "0")
    figure("objects registered", sum(int(n) for n in registered.values()))
    figure("lost (accepted, no object)", len(lost) if not lost else f"{len(lost)}, e.g. {lost[:5]}", not lost)
    duplicates = {
        "objects per acquisition": "SELECT count(*) FROM (SELECT acquisition_id FROM objects WHERE acquisition_id IS NOT NULL GROUP BY 1 HAVING count(*) > 1) d",
        "objects per path": "SELECT count(*) FROM (SELECT assay_id, logical_path FROM objects GROUP BY 1, 2 HAVING count(*) > 1) d",
        "derived files per object": "SELECT count(*) FROM (SELECT parent_id FROM objects WHERE parent_id IS NOT NULL GROUP BY 1 HAVING count(*) > 1) d",
        "metadata rows per object": "SELECT count(*) FROM (SELECT object_id FROM image_metadata GROUP BY 1 HAVING count(*) > 1) d",
        "QC results per object": "SELECT count(*) FROM (SELECT object_id FROM qc_results GROUP BY 1 HAVING count(*) > 1) d",
        "vault copies per object": """SELECT count(*) FROM (SELECT r.object_id FROM replicas r JOIN resources v ON v.id = r.resource_id AND v.role = 'vault'
                                      GROUP BY 1 HAVING count(*) > 1) d""",
        "DOIs per study": "SELECT count(*) FROM (SELECT study_id FROM publications GROUP BY 1 HAVING count(*) > 1) d",
    }
    for name, sql in duplicates.items():
        n = catalog.count(sql)
        figure(f"duplicated {name}", n, n == 0)

    # Final stages: a good image is scored (itself or its derived OME-TIFF); a bad file failed with its reason.
    outcomes = {}
    for path, state, reason, scored in catalog.rows("""
        SELECT a.path, o.state, coalesce(o.failure_reason, d.failure_reason, ''),
               (EXISTS (SELECT 1 FROM qc_results q WHERE q.object_id = o.id)
                OR EXISTS (SELECT 1 FROM objects x JOIN qc_results q ON q.object_id = x.id WHERE x.parent_id = o.id))::text
        FROM acquisitions a JOIN objects o ON o.acquisition_id = a.id
        LEFT JOIN objects d ON d.parent_id = o.id AND d.state IN ('failed', 'unsupported-format')
        WHERE a.zone_id = (SELECT id FROM resources WHERE name = 'chaos')"""):
        outcomes[path] = (state, reason, scored == "true")
    kinds_of = {relative: kind for relative, kind, _, _ in inputs}
    good_scored = sum(1 for p, (s, r, q) in outcomes.items() if kinds_of.get(p) in ("plane16", "stack8", "plane8") and q)
    good_total = sum(1 for p in outcomes if kinds_of.get(p) in ("plane16", "stack8", "plane8"))
    figure("good images scored", f"{good_scored} of {good_total}", good_scored == good_total)
    bad = [(p, o) for p, o in outcomes.items() if kinds_of.get(p) not in ("plane16", "stack8", "plane8")]
    bad_with_reason = [p for p, (s, r, q) in bad if s in ("failed", "unsupported-format") and r]
    figure("bad files failed with a reason", f"{len(bad_with_reason)} of {len(bad)}", len(bad_with_reason) == len(bad))
    stuck = sorted(p for p, (s, r, q) in outcomes.items() if not q and s not in ("failed", "unsupported-format"))
    figure("objects neither final nor failed", len(stuck) if not stuck else f"{len(stuck)}, e.g. {stuck[:5]}", not stuck)
    reasons = {}
    for p, (s, r, q) in bad:
        reasons.setdefault(kinds_of[p], set()).add(r[:90])
    for kind, texts in sorted(reasons.items()):
        print(f"       {kind}: {' | '.join(sorted(texts))[:300]}")

    # Dead letters: the three poisoned messages in fairway-ingest's queue, each with its error; nothing else anywhere.
    dead = json.loads(cli("dlq", "list", "--json", "--limit", "1000").stdout or "{}")
    letters = dead.get("messages", [])
    poison_ids = {message_id for message_id, _ in amqp.poison}
    by_id = {m.get("messageID"): m for m in letters}
    figure("dead letters", len(letters), set(by_id) == poison_ids)
    for message_id, why in amqp.poison:
        letter = by_id.get(message_id)
        error = (letter or {}).get("error", "")
        figure(f"dead letter '{why}'", (error or "missing")[:100], bool(letter and error and letter.get("consumer") == "ingest"))

    # Catalog and disk agree.
    replicas = catalog.rows("SELECT r.physical_path, r.size_bytes, r.checksum FROM replicas r WHERE r.status = 'good'")
    disagree = []
    for path, size, checksum in replicas:
        try:
            with open(path, "rb") as handle:
                data = handle.read()
        except OSError as error:
            disagree.append(f"{path}: {error.strerror}")
            continue
        digest = "sha2:" + base64.b64encode(hashlib.sha256(data).digest()).decode()
        if len(data) != int(size) or digest != checksum:
            disagree.append(f"{path}: {len(data)} B {digest} on disk, {size} B {checksum} in the catalog")
    figure("good replicas checked on disk", len(replicas))
    figure("replicas disagreeing with the disk", len(disagree) if not disagree else f"{len(disagree)}, e.g. {disagree[:3]}", not disagree)

    # Publications: one DOI per study, findable at the stand-in, registered once.
    held = stack.dois()
    dois = catalog.rows("SELECT doi, state FROM publications")
    figure("publications requested", f"{len(published)} ({', '.join(published)})", len(published) == 3)
    figure("publications findable", sum(1 for _, state in dois if state == "findable"), len(dois) == len(published) and all(s == "findable" for _, s in dois))
    figure("DOIs held by DataCite", len(held), len(held) == len(published))
    announced = catalog.count("SELECT count(DISTINCT message_id) FROM inbox WHERE routing_key = 'doi.registered'")
    figure("doi.registered received by retention", announced, announced == len(published))
    figure("fault injections that failed", len(fault_errors) if not fault_errors else fault_errors, not fault_errors)
    exits = {name: service.exits for name, service in services.items() if service.exits}
    figure("services that exited on their own", exits or 0, not exits)

    print()
    print("==== time to ready after each fault (seconds: from the restart of a killed service; from the start of a server restart or connection close)")
    by_fault = {}
    for fault, name, seconds in recoveries:
        by_fault.setdefault(fault, []).append((name, seconds))
    for fault in sorted(by_fault):
        print(f"  {fault:28s} " + "  ".join(f"{name} {seconds:5.2f}" for name, seconds in by_fault[fault]))
    worst = max((s for _, _, s in recoveries), default=0)
    figure("slowest recovery (s)", f"{worst:.2f}")
    print()
    print(f"==== {len(inputs)} acquisitions, {len(faults)} faults, seed {seed}: "
          f"posted in {posted_at - started:.0f} s, at rest after {rest_at - started:.0f} s")

    stack.stop()
    if not args.keep and not failures:
        stack.remove()
    else:
        print(f"kept: {stack.work} and database {stack.database}")
    if failures:
        print(f"==== FAILED: {len(failures)} check(s)")
        for failure in failures:
            print(f"  {failure}")
        return 1
    print("==== every check holds")
    return 0


if __name__ == "__main__":
    sys.exit(main())

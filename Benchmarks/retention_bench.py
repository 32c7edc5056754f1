"""Driver of Benchmarks/retention: fills a scratch catalog, times the planner and fixity.

    retention_bench.py FAIRWAY_BIN WORK_DIR DATABASE OBJECTS FIXITY_MIB   (FAIRWAY_DATABASE_URL set)
"""
import base64
import hashlib
import json
import os
import subprocess
import sys
import time

fairway, work, database, objects, fixity_mib = sys.argv[1], sys.argv[2], sys.argv[3], int(sys.argv[4]), int(sys.argv[5])
root = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
infra = os.path.join(root, "deploy/local/infra")


def psql(sql):
    result = subprocess.run([infra, "psql", "-d", database, "-v", "ON_ERROR_STOP=1", "-qAt"], input=sql, text=True,
                            capture_output=True)
    if result.returncode != 0:
        sys.exit("psql failed: " + result.stderr)
    return result.stdout.strip()


def timed_psql(sql):
    started = time.perf_counter()
    output = psql(sql)
    return time.perf_counter() - started, output


def run(*arguments, env=None):
    started = time.perf_counter()
    result = subprocess.run([fairway, *arguments], capture_output=True, text=True, env={**os.environ, **(env or {})})
    return time.perf_counter() - started, result


def figure(record):
    print(json.dumps(record), flush=True)


# ---------------------------------------------------------------- 1. planning
print(f"== filling the catalog with {objects:,} objects", file=sys.stderr, flush=True)
per_assay = max(1, objects // 10_000)
fill_seconds, _ = timed_psql(f"""
SET synchronous_commit = off;
INSERT INTO resources (name, role, root_path) VALUES ('landing', 'landing', '{work}/landing'), ('vault', 'vault', '{work}/vault'),
    ('cold', 'cold', '{work}/cold');
INSERT INTO investigations (name) SELECT 'inv-' || i FROM generate_series(1, 100) i;
INSERT INTO studies (investigation_id, name) SELECT v.id, 'study-' || s FROM investigations v, generate_series(1, 10) s;
INSERT INTO assays (study_id, name) SELECT st.id, 'assay-' || a FROM studies st, generate_series(1, 10) a;
INSERT INTO acquisitions (zone_id, path, owner, assay_id, state, kind)
    SELECT (SELECT id FROM resources WHERE name = 'landing'), 'acq/' || a.id, 'user-' || (abs(hashtext(a.id::text)) % 50), a.id, 'registered', 'folder'
    FROM assays a;
INSERT INTO objects (acquisition_id, assay_id, logical_path, owner, size_bytes, checksum, format, state, created_at)
    SELECT q.id, q.assay_id, 'landing/acq/' || q.assay_id || '/f' || n || '.tif', q.owner, 1000000 + n,
           'sha2:' || encode(sha256((q.id::text || n)::bytea), 'base64'), 'tiff', 'scored',
           now() - (n % 365) * interval '1 day'
    FROM acquisitions q, generate_series(1, {per_assay}) n;
INSERT INTO replicas (object_id, resource_id, physical_path, status, size_bytes, checksum, last_verified_at)
    SELECT o.id, x.id, x.root_path || '/' || o.id, 'good', o.size_bytes, o.checksum, now()
    FROM objects o, resources x WHERE x.name IN ('landing', 'vault');
INSERT INTO retention_policies (investigation_id, policy, source, updated_by) VALUES
    (NULL, '{{"replicateTo": "vault", "cleanBufferAfter": "60d", "tierToColdAfterNoAccess": "2y", "verification": "checksum",
             "expireAfter": "5y", "extension": "1y", "noticeBefore": ["90d", "30d", "7d"]}}', 'bench', 'bench');
INSERT INTO retention_policies (investigation_id, policy, source, updated_by)
    SELECT id, '{{"expireAfter": "3y", "noticeBefore": ["30d"], "gracePeriod": "2d"}}', 'bench', 'bench'
    FROM investigations WHERE name IN ('inv-1', 'inv-2', 'inv-3', 'inv-4', 'inv-5', 'inv-6', 'inv-7', 'inv-8', 'inv-9', 'inv-10');
INSERT INTO retention_holds (study_id, source, reason, created_by)
    SELECT id, 'publication', 'bench', 'bench' FROM studies WHERE name = 'study-1' LIMIT 5;
VACUUM ANALYZE;
""")
count = int(psql("SELECT count(*) FROM objects"))
figure({"measurement": "fill", "objects": count, "replicas": int(psql("SELECT count(*) FROM replicas")), "seconds": round(fill_seconds, 1)})

reference, _ = timed_psql("""
SELECT count(*), sum(r.size_bytes) FROM objects o JOIN assays a ON a.id = o.assay_id JOIN studies s ON s.id = a.study_id
JOIN investigations i ON i.id = s.investigation_id JOIN replicas r ON r.object_id = o.id JOIN resources x ON x.id = r.resource_id
WHERE o.state <> 'expired';
""")
figure({"measurement": "reference: one scan joining objects, ISA tree and replicas", "seconds": round(reference, 2)})

env = {"FAIRWAY_DATABASE_URL": os.environ["FAIRWAY_DATABASE_URL"], "FAIRWAY_LOG_LEVEL": "error"}
now = time.time()
for label, days in [("now", 0), ("+61 d (buffer clean)", 61), ("+2 y (tier)", 731), ("+5 y - 30 d (notices)", 5 * 365 - 30), ("+6 y (expiry)", 6 * 365 + 2)]:
    at = time.strftime("%Y-%m-%dT%H:%M:%SZ", time.gmtime(now + days * 86400))
    seconds, result = run("retention", "plan", "--summary", "--json", "--at", at, env=env)
    if result.returncode != 0:
        sys.exit("plan failed: " + result.stderr + result.stdout)
    summary = json.loads(result.stdout)
    figure({"measurement": f"plan --summary at {label}", "objects": count, "seconds": round(seconds, 2),
            "planner_seconds": round(summary["seconds"], 2), "vs_reference": round(summary["seconds"] / reference, 1),
            "new": {k: v for k, v in summary["new"].items() if v}})

# apply before the buffer cleans are due: every clean is scheduled in one INSERT ... SELECT, none runs yet.
at = time.strftime("%Y-%m-%dT%H:%M:%SZ", time.gmtime(now + 55 * 86400))
seconds, result = run("retention", "apply", "--json", "--at", at, env={**env, "FAIRWAY_NOTICE_MAILBOX": os.path.join(work, "mbox")})
if result.returncode != 0:
    sys.exit("apply failed: " + result.stderr + result.stdout)
report = json.loads(result.stdout[result.stdout.index("{"):])
figure({"measurement": "apply at +55 d (schedules buffer cleans)", "seconds": round(seconds, 2), "scheduled": report["scheduled"],
        "ran": len(report["ran"])})

# ---------------------------------------------------------------- 2. fixity
print(f"== fixity over {fixity_mib} MiB", file=sys.stderr, flush=True)
psql("TRUNCATE retention_actions, fixity_checks; DELETE FROM replicas; DELETE FROM retention_notices;")
vault = os.path.join(work, "vault")
os.makedirs(vault, exist_ok=True)
files = max(1, fixity_mib // 128)
size = fixity_mib * (1 << 20) // files
block = os.urandom(1 << 20)
rows = []
object_ids = psql(f"SELECT id FROM objects ORDER BY id LIMIT {files}").split()
for index, object_id in enumerate(object_ids):
    path = os.path.join(vault, f"file-{index}.bin")
    digest = hashlib.sha256()
    with open(path, "wb") as out:
        for part in range(size // len(block)):
            chunk = block[:-1] + bytes([(index * 7 + part) % 256])
            out.write(chunk)
            digest.update(chunk)
    checksum = "sha2:" + base64.b64encode(digest.digest()).decode()
    rows.append(f"UPDATE objects SET checksum = '{checksum}', size_bytes = {size} WHERE id = '{object_id}';"
                f"INSERT INTO replicas (object_id, resource_id, physical_path, status, size_bytes, checksum) "
                f"SELECT '{object_id}', id, '{path}', 'good', {size}, '{checksum}' FROM resources WHERE name = 'vault';")
psql("\n".join(rows))
total = files * size
started = time.perf_counter()
subprocess.run(["sha256sum"] + [os.path.join(vault, f"file-{i}.bin") for i in range(files)], capture_output=True, check=True)
sha = total / (time.perf_counter() - started) / 1e6
figure({"measurement": "reference: sha256sum over the same files", "megabytes_per_second": round(sha, 1)})
for budget in [100_000_000, 300_000_000, None]:
    arguments = ["fixity", "check", "--all", "--json"] + (["--budget", str(budget)] if budget else [])
    seconds, result = run(*arguments, env=env)
    if result.returncode != 0:
        sys.exit("fixity failed: " + result.stderr + result.stdout)
    checked = json.loads(result.stdout)
    rate = checked["bytesPerSecond"] / 1e6
    record = {"measurement": f"fixity check, budget {budget / 1e6:.0f} MB/s" if budget else "fixity check, no budget",
              "bytes": checked["bytes"], "megabytes_per_second": round(rate, 1)}
    if budget:
        record["of_budget"] = f"{rate * 1e6 / budget:.1%}"
    else:
        record["of_sha256sum"] = f"{rate / sha:.1%}"
    figure(record)

#!/usr/bin/env python3
"""Check that DIR/ro-crate-metadata.json is a valid RO-Crate 1.1.

Usage:
    check_rocrate.py DIR [--recommended] [--metadata-only] [--online]

Two independent tools look at the crate:

  (a) ro-crate-py (`rocrate`): the crate must load, and its root dataset and
      data entities (File / Dataset) must be visible through its API.
  (b) roc-validator (`rocrate_validator`): the "ro-crate-1.1" profile is run
      at REQUIRED severity (this decides "ok") and then at RECOMMENDED
      severity (reported under "recommended", never fails the run unless
      --recommended is given).

Network: the validator expands the JSON-LD "@context" URL
(https://w3id.org/ro/crate/1.1/context) and fails with a URLError when it
cannot fetch it. By default this script therefore runs the validator in its
offline mode with a private, throw-away HTTP cache that is pre-filled with the
RO-Crate context document bundled in ro-crate-py (rocrate/data/ro-crate.jsonld,
the 1.3 context, whose term set contains the 1.1 terms). No request then
leaves the machine; web data entities are reported as "not available" at
RECOMMENDED level. --online uses the validator's normal cache and network.

Data entities whose files are not inside DIR: a relative @id such as
"scope-1/hela/a.tif" is a REQUIRED failure (check ro-crate-1.1_12.1, "not part
of its payload"). Absolute "file:///..." or "https://..." @ids pass REQUIRED;
at RECOMMENDED they give "not available" (25.1 / 28.1) when the target cannot
be read. --metadata-only makes the validator skip payload checks altogether.

Output (stdout, one JSON object):
    {"ok": bool,                      # true only when every REQUIRED check passed
     "issues": [issue, ...],          # REQUIRED-level problems (and tool errors)
     "recommended": {"passed": bool, "issues": [issue, ...]},
     "files": [@id, ...],             # File data entities seen by ro-crate-py
     "datasets": [@id, ...],          # nested Dataset data entities
     "root": {"@id":..., "name":..., ...}}   # root dataset properties
    issue = {"tool", "severity", "check", "entity", "property", "message"}
Exit status: 0 when ok, 1 when not ok, 2 on usage errors.
"""

import argparse
import io
import json
import os
import pathlib
import sys
import tempfile
import warnings

# The context URLs we know how to serve offline.
CONTEXT_URLS = [
    "https://w3id.org/ro/crate/1.1/context",
    "https://w3id.org/ro/crate/1.2/context",
    "https://w3id.org/ro/crate/1.3/context",
]
# The validator's JSON-LD loader asks with this Accept header; the cache key
# does not depend on it, but we send the same one to be faithful.
ACCEPT = "application/ld+json, application/json, */*;q=0.1"


def issue(tool, message, severity="REQUIRED", check=None, entity=None, prop=None):
    """One problem in the uniform shape used in the JSON report."""
    return {"tool": tool, "severity": severity, "check": check,
            "entity": entity, "property": prop, "message": message}


# ---------------------------------------------------------------------------
# (a) ro-crate-py
# ---------------------------------------------------------------------------
def load_with_rocrate_py(crate_dir, report):
    """Load the crate with ro-crate-py and fill root/files/datasets."""
    try:
        from rocrate.rocrate import ROCrate
    except ImportError as exc:
        report["issues"].append(issue("ro-crate-py", "cannot import rocrate: %s" % exc))
        return
    try:
        crate = ROCrate(crate_dir)
    except Exception as exc:  # any parse failure makes the crate invalid
        report["issues"].append(issue("ro-crate-py", "failed to load: %r" % exc))
        return

    root = crate.root_dataset
    if root is None:
        report["issues"].append(issue("ro-crate-py", "no root dataset"))
        return
    # Keep the plain JSON of the root entity (references stay {"@id": ...}).
    report["root"] = dict(root.as_jsonld())

    # ro-crate-py normalises some ids (it appends "/" to Dataset ids such as
    # "#assay-1"); report the @id exactly as written in the metadata file.
    with open(os.path.join(crate_dir, "ro-crate-metadata.json"), encoding="utf-8") as fh:
        written = {e.get("@id") for e in json.load(fh).get("@graph", [])}

    def as_written(eid):
        if eid not in written and eid.rstrip("/") in written:
            return eid.rstrip("/")
        return eid

    for entity in crate.data_entities:
        types = entity.type if isinstance(entity.type, list) else [entity.type]
        if "File" in types or "MediaObject" in types:
            report["files"].append(as_written(entity.id))
        elif "Dataset" in types:
            report["datasets"].append(as_written(entity.id))
    if not report["files"]:
        report["issues"].append(issue("ro-crate-py", "no File data entities found"))


# ---------------------------------------------------------------------------
# (b) roc-validator
# ---------------------------------------------------------------------------
def seed_context_cache(cache_name):
    """Create a requests-cache SQLite file holding the RO-Crate context.

    The response is built by hand from ro-crate-py's bundled context, so the
    validator's offline mode finds the context without any network access.
    """
    import requests
    import requests_cache
    import rocrate
    import urllib3

    body = (pathlib.Path(rocrate.__file__).parent / "data" / "ro-crate.jsonld").read_bytes()
    session = requests_cache.CachedSession(cache_name, backend="sqlite",
                                           allowable_methods=("GET",))
    for url in CONTEXT_URLS:
        response = requests.Response()
        response.status_code = 200
        response.reason = "OK"
        response.url = url
        response.encoding = "utf-8"
        response._content = body
        response.headers["Content-Type"] = "application/ld+json"
        response.request = requests.Request("GET", url, headers={"Accept": ACCEPT}).prepare()
        # requests-cache copies details from the raw urllib3 response.
        response.raw = urllib3.HTTPResponse(
            body=io.BytesIO(body), headers={"Content-Type": "application/ld+json"},
            status=200, preload_content=False, request_url=url)
        session.cache.save_response(response)
    session.close()


def run_validator(crate_dir, severity, args, cache_name):
    """Run the ro-crate-1.1 profile at `severity`; return (passed, issues)."""
    from rocrate_validator import services

    settings = {
        "rocrate_uri": os.path.abspath(crate_dir),
        "profile_identifier": "ro-crate-1.1",
        "requirement_severity": severity,
        "metadata_only": args.metadata_only,
    }
    if not args.online:
        settings.update({"offline": True, "cache_path": cache_name,
                         "disable_remote_crate_download": False})
    result = services.validate(settings)
    found = []
    for item in result.issues:
        found.append(issue("roc-validator", item.message, severity=item.severity.name,
                           check=item.check.identifier, entity=item.violatingEntity,
                           prop=item.violatingProperty))
    return bool(result.passed()), found


def validate_with_roc_validator(crate_dir, args, report):
    try:
        import rocrate_validator  # noqa: F401
    except ImportError as exc:
        report["issues"].append(issue("roc-validator", "cannot import rocrate_validator: %s" % exc))
        return
    with tempfile.TemporaryDirectory(prefix="rocval-") as tmp:
        cache_name = os.path.join(tmp, "http_cache")
        if not args.online:
            seed_context_cache(cache_name)
        try:
            passed, found = run_validator(crate_dir, "REQUIRED", args, cache_name)
            if not passed:
                report["issues"].extend(found or [issue("roc-validator", "validation failed")])
            passed_rec, found_rec = run_validator(crate_dir, "RECOMMENDED", args, cache_name)
            report["recommended"] = {"passed": passed_rec, "issues": found_rec}
            if args.recommended and not passed_rec:
                report["issues"].extend(found_rec)
        except Exception as exc:  # e.g. network needed with --online, bad JSON
            report["issues"].append(issue("roc-validator", "validator error: %r" % exc))


def main():
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("dir", help="crate directory holding ro-crate-metadata.json")
    parser.add_argument("--recommended", action="store_true",
                        help="also fail on RECOMMENDED-level issues")
    parser.add_argument("--metadata-only", action="store_true",
                        help="validator: skip payload (file presence) checks")
    parser.add_argument("--online", action="store_true",
                        help="validator: use its own cache and the network")
    args = parser.parse_args()

    report = {"ok": False, "issues": [], "recommended": None,
              "files": [], "datasets": [], "root": None}
    metadata = os.path.join(args.dir, "ro-crate-metadata.json")
    if not os.path.isfile(metadata):
        report["issues"].append(issue("check_rocrate", "missing %s" % metadata))
    else:
        # Both libraries log and warn freely; keep stdout for our JSON only.
        warnings.simplefilter("ignore")
        real_stdout = sys.stdout
        sys.stdout = sys.stderr
        try:
            load_with_rocrate_py(args.dir, report)
            validate_with_roc_validator(args.dir, args, report)
        finally:
            sys.stdout = real_stdout
    report["ok"] = not report["issues"]
    json.dump(report, sys.stdout, default=str)
    sys.stdout.write("\n")
    return 0 if report["ok"] else 1


if __name__ == "__main__":
    sys.exit(main())

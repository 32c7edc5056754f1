#!/usr/bin/env python3
"""Keeps Fairway's OpenAPI descriptions (openapi.yaml, openapi-doi.yaml) true.

    check_openapi.py validate SPEC...        the specs are valid OpenAPI (openapi-spec-validator)
    check_openapi.py routes SPEC             every (method, path) the spec describes
    check_openapi.py fuzz SPEC BASE_URL [--token T] [--max-examples N] [--seed S] [--endpoint REGEX]
                                             schemathesis against a running service

Whatever a caller parses is ONE JSON line on stdout, the last line; everything else goes to stderr.
Exit 0 when valid / when the fuzz run found nothing; 1 otherwise; 2 for a usage error.

Needs (installed beforehand, nothing is installed here): PyYAML, openapi-spec-validator, and for
`fuzz` schemathesis (its CLI is run as `python -m schemathesis.cli run`; the reports it writes,
JUnit XML and the JSON run report, are read back).
"""
from __future__ import annotations

import argparse
import json
import os
import re
import shlex
import subprocess
import sys
import tempfile
import xml.etree.ElementTree as ET
from pathlib import Path

HTTP_METHODS = ("get", "put", "post", "delete", "options", "head", "patch", "trace")
DEFAULT_CHECKS = ("not_a_server_error,status_code_conformance,content_type_conformance,"
                  "response_schema_conformance,response_headers_conformance")
# Schemathesis failure codes → the check that reports them.
CHECK_OF_CODE = {
    "ST101": "not_a_server_error", "ST102": "not_a_server_error",
    "ST103": "status_code_conformance",
    "ST104": "content_type_conformance", "ST105": "content_type_conformance", "ST106": "content_type_conformance",
    "ST107": "response_headers_conformance",
    "ST108": "response_schema_conformance", "ST109": "response_schema_conformance",
    "ST110": "response_schema_conformance", "ST111": "response_schema_conformance",
    "ST112": "max_response_time",
    "ST201": "negative_data_rejection", "ST202": "positive_data_acceptance", "ST203": "missing_required_header",
    "ST204": "unsupported_method", "ST205": "allow_header_conformance",
    "ST301": "use_after_free", "ST302": "ensure_resource_availability",
    "ST401": "ignored_auth", "ST402": "object_level_authorization",
}


def log(*parts: object) -> None:
    print(*parts, file=sys.stderr, flush=True)


def answer(payload: dict, code: int) -> int:
    sys.stderr.flush()
    print(json.dumps(payload, sort_keys=True, ensure_ascii=False), flush=True)
    return code


def load_spec(path: str) -> dict:
    import yaml  # PyYAML

    text = Path(path).read_text(encoding="utf-8")
    document = json.loads(text) if path.endswith(".json") else yaml.safe_load(text)
    if not isinstance(document, dict):
        raise ValueError("the top level is not a mapping")
    return document


def spec_routes(spec: dict) -> list[dict]:
    routes = []
    for path, item in (spec.get("paths") or {}).items():
        if not isinstance(item, dict):
            continue
        for method, operation in item.items():
            if method not in HTTP_METHODS or not isinstance(operation, dict):
                continue
            routes.append({
                "method": method.upper(),
                "path": path,
                # The same route as Hummingbird's router spells it: `/v1/objects/:id`.
                "router": re.sub(r"\{([^}/]+)\}", r":\1", path),
                "operationId": operation.get("operationId"),
                "tags": operation.get("tags", []),
            })
    return sorted(routes, key=lambda r: (r["path"], r["method"]))


# MARK: - validate

def extra_problems(spec: dict) -> list[str]:
    """What openapi-spec-validator lets through but this project wants: unique operationIds,
    tags declared, a response for every operation, an error body for every 4xx/5xx JSON answer."""
    problems = []
    seen: dict[str, str] = {}
    declared_tags = {tag.get("name") for tag in spec.get("tags", []) if isinstance(tag, dict)}
    for route in spec_routes(spec):
        where = f"{route['method']} {route['path']}"
        operation_id = route["operationId"]
        if not operation_id:
            problems.append(f"{where}: no operationId")
        elif operation_id in seen:
            problems.append(f"{where}: operationId {operation_id} is also {seen[operation_id]}")
        else:
            seen[operation_id] = where
        for tag in route["tags"]:
            if tag not in declared_tags:
                problems.append(f"{where}: tag {tag} is not declared under tags")
        operation = spec["paths"][route["path"]][route["method"].lower()]
        if not operation.get("responses"):
            problems.append(f"{where}: no responses")
    return problems


def spec_errors(spec: dict, base_uri: str) -> list[str]:
    """Every error openapi-spec-validator finds (its iterator), or the first (its `validate`)."""
    from openapi_spec_validator import validate

    def describe(error: Exception) -> str:
        text = getattr(error, "message", None) or str(error)
        where = "/".join(str(part) for part in (getattr(error, "path", None) or []))
        return text[:500] + (f" (at {where})" if where else "")

    try:
        from jsonschema_path import SchemaPath
        from openapi_spec_validator.shortcuts import get_validator_cls

        validator = get_validator_cls(spec)(SchemaPath.from_dict(spec, base_uri=base_uri))
        return [describe(error) for error in validator.iter_errors()]
    except (ImportError, AttributeError, TypeError):
        pass
    try:
        validate(spec, base_uri=base_uri)
        return []
    except Exception as error:
        return [describe(error)]


def cmd_validate(specs: list[str]) -> int:
    problems: list[str] = []
    for path in specs:
        try:
            spec = load_spec(path)
        except Exception as error:  # unreadable or not YAML
            problems.append(f"{path}: cannot be read: {error}")
            continue
        try:
            errors = spec_errors(spec, Path(path).resolve().as_uri())
        except Exception as error:  # e.g. no or unknown `openapi` version
            errors = [f"{type(error).__name__}: {str(error)[:500]}"]
        problems.extend(f"{path}: {error}" for error in errors)
        if not errors:
            problems.extend(f"{path}: {problem}" for problem in extra_problems(spec))
    for problem in problems:
        log("problem:", problem)
    return answer({"ok": not problems, "specs": specs, "problems": problems}, 0 if not problems else 1)


# MARK: - routes

def cmd_routes(path: str) -> int:
    try:
        spec = load_spec(path)
    except Exception as error:
        return answer({"ok": False, "problems": [f"{path}: cannot be read: {error}"], "routes": []}, 1)
    routes = spec_routes(spec)
    return answer({"ok": True, "spec": path, "count": len(routes), "routes": routes}, 0)


# MARK: - fuzz

def template_matcher(spec: dict):
    """Maps a concrete method and URL path back to the spec's `METHOD /template`."""
    patterns = []
    for route in spec_routes(spec):
        regex = "^" + re.sub(r"\\\{[^}/]+\\\}", "[^/]+", re.escape(route["path"])) + "$"
        patterns.append((route["method"], re.compile(regex), f"{route['method']} {route['path']}"))

    def match(method: str, url_path: str) -> str | None:
        for candidate_method, regex, label in patterns:
            if candidate_method == method and regex.match(url_path):
                return label
        return None

    return match


def parse_case(text: str) -> tuple[list[tuple[str, str]], str, list[str]]:
    """One test case of a JUnit failure text: [(code, message)], the response line, curl commands."""
    body, _, reproduce = text.partition("Reproduce with:")
    curls = []
    for line in reproduce.splitlines():
        line = line.strip()
        if line.startswith("curl "):
            curls.append(line)
    response = ""
    response_match = re.search(r"^\[(\d{3})\][^\n]*:\s*\n(?:\s*\n)?((?:    [^\n]*\n?){0,8})", body, re.M)
    if response_match:
        response = f"[{response_match.group(1)}] " + " ".join(l.strip() for l in response_match.group(2).splitlines())[:600]
        body = body[:response_match.start()]
    checks = []
    blocks = re.split(r"^- (ST\d{3}) ", body, flags=re.M)
    # blocks: [preamble, code1, text1, code2, text2, ...]
    for index in range(1, len(blocks) - 1, 2):
        code = blocks[index]
        block = blocks[index + 1]
        title, _, details = block.partition("\n")
        details = re.sub(r"\n\s*\n+", "\n", details).strip()
        checks.append((code, (title.strip() + (": " + details if details else ""))[:2000]))
    return checks, response, curls


def parse_junit(path: Path, match, redact) -> list[dict]:
    failures = []
    tree = ET.parse(path)
    for testcase in tree.iter("testcase"):
        name = testcase.get("name", "?")
        for child in testcase:
            if child.tag not in ("failure", "error"):
                continue
            text = redact(child.text or child.get("message") or "")
            if child.tag == "error":
                failures.append({"operation": name, "check": "error", "code": None,
                                 "message": text.strip()[:2000], "reproduce": ""})
                continue
            cases = re.split(r"^\d+\. Test Case ID: \S+\s*$", text, flags=re.M)
            for case in cases:
                if not case.strip():
                    continue
                checks, response, curls = parse_case(case)
                operation = name
                if curls and (name.lower().startswith("stateful") or not match_label(name)):
                    last = curls[-1]
                    method = re.search(r"-X (\w+)", last)
                    url = re.search(r"'?(https?://[^\s']+)'?\s*$", last)
                    if method and url:
                        from urllib.parse import urlsplit

                        label = match(method.group(1).upper(), urlsplit(url.group(1)).path)
                        operation = f"{label} (stateful)" if label and name.lower().startswith("stateful") else (label or name)
                reproduce = curls[-1] if curls else ""
                for code, message in checks or [("", case.strip()[:2000])]:
                    entry = {"operation": operation, "check": CHECK_OF_CODE.get(code, code or "unknown"),
                             "code": code or None, "message": message + (f" — response {response}" if response else ""),
                             "reproduce": reproduce}
                    if len(curls) > 1:
                        entry["steps"] = curls[:-1]
                    failures.append(entry)
    return failures


def match_label(name: str) -> bool:
    return bool(re.match(r"^(GET|PUT|POST|DELETE|OPTIONS|HEAD|PATCH|TRACE) /", name))


def cmd_fuzz(args: argparse.Namespace) -> int:
    try:
        spec = load_spec(args.spec)
    except Exception as error:
        return answer({"ok": False, "operations": 0, "failures": [
            {"operation": "-", "check": "spec", "message": f"{args.spec}: cannot be read: {error}", "reproduce": ""}]}, 1)
    match = template_matcher(spec)
    token = args.token or ""

    def redact(text: str) -> str:
        if not token:
            return text
        text = text.replace(f"Bearer {token}", "Bearer $FAIRWAY_TOKEN")
        # A bare token only when it is long enough not to match ordinary words.
        return text.replace(token, "$FAIRWAY_TOKEN") if len(token) >= 8 else text

    with tempfile.TemporaryDirectory(prefix="check_openapi.") as work:
        junit = Path(work) / "junit.xml"
        report = Path(work) / "run.json"
        command = [
            sys.executable, "-m", "schemathesis.cli", "run", str(Path(args.spec).resolve()),
            "--url", args.base_url,
            "--checks", args.checks,
            "--max-examples", str(args.max_examples),
            "--seed", str(args.seed),
            "--phases", args.phases,
            "--workers", str(args.workers),
            "--generation-database", "none",
            "--request-timeout", str(args.request_timeout),
            # Our own redaction replaces the token; schemathesis' would also mangle bodies
            # (any field named like "key…") in the reproduce lines.
            "--output-sanitize", "false",
            "--no-color",
            "--report", "junit,json",
            "--report-junit-path", str(junit),
            "--report-json-path", str(report),
        ]
        if token:
            command += ["--header", f"Authorization: Bearer {token}"]
        if args.endpoint:
            command += ["--include-path-regex", args.endpoint]
        if args.max_time:
            command += ["--max-time", str(args.max_time)]
        log("$", redact(shlex.join(command)))
        environment = dict(os.environ, NO_COLOR="1", SCHEMATHESIS_HOOKS="")
        try:
            process = subprocess.Popen(command, cwd=work, env=environment, stdin=subprocess.DEVNULL,
                                       stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True, errors="replace")
        except OSError as error:
            return answer({"ok": False, "operations": 0, "failures": [
                {"operation": "-", "check": "error", "message": f"cannot run schemathesis: {error}", "reproduce": ""}]}, 1)
        assert process.stdout is not None
        for line in process.stdout:
            sys.stderr.write(redact(line))
        returncode = process.wait()

        failures: list[dict] = []
        operations = 0
        summary: dict = {}
        if report.exists():
            try:
                summary = json.loads(report.read_text(encoding="utf-8"))
                operations = int(summary.get("operations", {}).get("tested", 0))
            except (ValueError, TypeError) as error:
                failures.append({"operation": "-", "check": "error", "message": f"unreadable JSON report: {error}", "reproduce": ""})
        if junit.exists():
            try:
                failures.extend(parse_junit(junit, match, redact))
            except ET.ParseError as error:
                failures.append({"operation": "-", "check": "error", "message": f"unreadable JUnit report: {error}", "reproduce": ""})
        reported_errors = any(failure["check"] == "error" for failure in failures)
        for error in ([] if reported_errors else summary.get("errors", []) or []):
            failures.append({"operation": str(error.get("label") or error.get("operation") or "-"), "check": "error",
                             "message": redact(json.dumps(error, sort_keys=True))[:2000], "reproduce": ""})
        if returncode != 0 and not failures:
            failures.append({"operation": "-", "check": "error", "reproduce": "",
                             "message": f"schemathesis exited {returncode} without a failure in its reports (see stderr)"})
        # The same failure can come from several phases: keep one of each.
        unique, seen = [], set()
        for failure in failures:
            key = (failure["operation"], failure["check"], failure["message"][:300])
            if key not in seen:
                seen.add(key)
                unique.append(failure)
        result = {"ok": not unique and returncode == 0, "operations": operations, "failures": unique,
                  "seed": args.seed, "max_examples": args.max_examples, "phases": args.phases,
                  "schemathesis_exit": returncode,
                  "warnings": {k: v for k, v in (summary.get("warnings") or {}).items() if v}}
        return answer(result, 0 if result["ok"] else 1)


def main(argv: list[str]) -> int:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    commands = parser.add_subparsers(dest="command", required=True)
    validate = commands.add_parser("validate", help="validate OpenAPI files")
    validate.add_argument("specs", nargs="+")
    routes = commands.add_parser("routes", help="list (method, path) of a spec")
    routes.add_argument("spec")
    fuzz = commands.add_parser("fuzz", help="run schemathesis against a running service")
    fuzz.add_argument("spec")
    fuzz.add_argument("base_url")
    fuzz.add_argument("--token", help="watcher token, sent as Authorization: Bearer")
    fuzz.add_argument("--max-examples", type=int, default=50, help="test cases per operation and phase (50)")
    fuzz.add_argument("--seed", type=int, default=0)
    fuzz.add_argument("--endpoint", help="only paths matching this regular expression")
    fuzz.add_argument("--checks", default=DEFAULT_CHECKS)
    fuzz.add_argument("--phases", default="examples,coverage,fuzzing,stateful")
    fuzz.add_argument("--workers", type=int, default=1)
    fuzz.add_argument("--request-timeout", type=float, default=10.0)
    fuzz.add_argument("--max-time", type=int, help="overall time budget in seconds")
    try:
        args = parser.parse_args(argv)
    except SystemExit as exit:
        if exit.code in (0, None):
            raise
        return answer({"ok": False, "problems": ["usage: see --help"]}, 2)
    if args.command == "validate":
        return cmd_validate(args.specs)
    if args.command == "routes":
        return cmd_routes(args.spec)
    return cmd_fuzz(args)


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))

#!/usr/bin/env python3
"""Harvest an OAI-PMH 2.0 endpoint with sickle and print a JSON report.

Usage:
    oai_harvest.py BASE_URL [--from DATE] [--until DATE] [--set SPEC]
                   [--prefix oai_dc --prefix oai_datacite] [--no-getrecord]
    oai_harvest.py BASE_URL --errors

Normal mode issues Identify, ListMetadataFormats, ListSets, then for every
prefix ListIdentifiers and ListRecords (sickle follows resumptionTokens while
iterating) and GetRecord for each identifier. Every HTTP response (each page)
is checked for the OAI-PMH envelope with lxml: root <OAI-PMH> in
http://www.openarchives.org/OAI/2.0/, <responseDate>, <request> with a verb
attribute, then either <error> elements or one element named after the verb.
No OAI-PMH XSD ships with any installed package, so no schema validation is
done (nothing is downloaded).

oai_datacite records are expected in DataCite's OAI wrapper (schema
http://schema.datacite.org/oai/oai-1.1/oai.xsd): <oai_datacite> in namespace
http://schema.datacite.org/oai/oai-1.1/ holding, in any order,
<schemaVersion>, <datacentreSymbol> and <payload>, the payload holding one
<resource> in http://datacite.org/schema/kernel-4. A bare kernel-4 <resource>
directly under <metadata> is accepted too and reported as wrapper "none".

Report (stdout, one JSON object):
  {"ok": bool, "base_url": str, "problems": [str, ...],
   "identify": {"repositoryName", "baseURL", "protocolVersion", "adminEmail": [...],
                "earliestDatestamp", "deletedRecord", "granularity"},
   "formats": [{"metadataPrefix", "schema", "metadataNamespace"}],
   "sets": [{"setSpec", "setName"}],
   "requests": int,                       # HTTP responses checked
   "prefixes": {PREFIX: {
       "identifiers": [{"identifier", "datestamp", "setSpecs", "deleted"}],
       "records": [{"identifier", "datestamp", "setSpecs", "deleted",
                    # oai_dc:
                    "titles": [...], "identifiers": [...], "creators": [...],
                    # oai_datacite:
                    "wrapper": "oai-1.1" | "none", "schemaVersion", "datacentreSymbol",
                    "doi", "titles", "creators", "publisher", "publicationYear",
                    "resourceType": {"general", "text"}}],
       "getrecord": [same record shape, one per identifier]}}}
--errors mode prints {"ok": bool, "cases": [{"name", "query", "http_status",
  "codes": [...], "expected": [...], "envelope_ok", "pass"}]}.
Exit status: 0 when ok, 1 otherwise.
"""

import argparse
import json
import sys
import urllib.error
import urllib.parse
import urllib.request

from lxml import etree

OAI_NS = "http://www.openarchives.org/OAI/2.0/"
DC_NS = "http://purl.org/dc/elements/1.1/"
OAI_DC_NS = "http://www.openarchives.org/OAI/2.0/oai_dc/"
DATACITE_OAI_NS = "http://schema.datacite.org/oai/oai-1.1/"
KERNEL4_NS = "http://datacite.org/schema/kernel-4"
VERBS = {"Identify", "ListMetadataFormats", "ListSets", "ListIdentifiers",
         "ListRecords", "GetRecord"}


def q(ns, name):
    """Clark notation for lxml: {namespace}name."""
    return "{%s}%s" % (ns, name)


def texts(elements):
    return [(e.text or "").strip() for e in elements if (e.text or "").strip()]


# ---------------------------------------------------------------------------
# Envelope check (used for every response in both modes)
# ---------------------------------------------------------------------------
def check_envelope(raw):
    """Return (problems, root, error_codes) for one raw OAI-PMH response."""
    problems = []
    try:
        root = etree.fromstring(raw if isinstance(raw, bytes) else raw.encode("utf-8"))
    except etree.XMLSyntaxError as exc:
        return ["not well-formed XML: %s" % exc], None, []
    if root.tag != q(OAI_NS, "OAI-PMH"):
        return ["root element is %s, not OAI-PMH in %s" % (root.tag, OAI_NS)], root, []
    children = [c for c in root if isinstance(c.tag, str)]
    names = [etree.QName(c).localname for c in children]
    if len(children) < 3 or names[0] != "responseDate" or names[1] != "request":
        problems.append("expected responseDate, request, then content; got %s" % names)
    request = root.find(q(OAI_NS, "request"))
    errors = root.findall(q(OAI_NS, "error"))
    codes = [e.get("code") for e in errors]
    if errors:
        # For badVerb/badArgument the spec wants a bare <request> (no attributes).
        if set(codes) & {"badVerb", "badArgument"} and request is not None and request.attrib:
            problems.append("request element should carry no attributes for %s" % codes)
    else:
        verb = request.get("verb") if request is not None else None
        if verb not in VERBS:
            problems.append("request element lacks a valid verb attribute")
        elif root.find(q(OAI_NS, verb)) is None:
            problems.append("no <%s> element in a %s response" % (verb, verb))
    return problems, root, codes


# ---------------------------------------------------------------------------
# Record parsing
# ---------------------------------------------------------------------------
def header_info(header):
    return {"identifier": header.findtext(q(OAI_NS, "identifier")),
            "datestamp": header.findtext(q(OAI_NS, "datestamp")),
            "setSpecs": texts(header.findall(q(OAI_NS, "setSpec"))),
            "deleted": header.get("status") == "deleted"}


def parse_oai_dc(metadata, info, problems):
    dc = metadata.find(q(OAI_DC_NS, "dc")) if metadata is not None else None
    if dc is None:
        if not info["deleted"]:
            problems.append("%s: no oai_dc:dc element" % info["identifier"])
        return
    info["titles"] = texts(dc.findall(q(DC_NS, "title")))
    info["identifiers"] = texts(dc.findall(q(DC_NS, "identifier")))
    info["creators"] = texts(dc.findall(q(DC_NS, "creator")))


def parse_oai_datacite(metadata, info, problems):
    if metadata is None:
        if not info["deleted"]:
            problems.append("%s: no metadata element" % info["identifier"])
        return
    wrapper = metadata.find(q(DATACITE_OAI_NS, "oai_datacite"))
    if wrapper is not None:
        info["wrapper"] = "oai-1.1"
        info["schemaVersion"] = wrapper.findtext(q(DATACITE_OAI_NS, "schemaVersion"))
        info["datacentreSymbol"] = wrapper.findtext(q(DATACITE_OAI_NS, "datacentreSymbol"))
        for field in ("schemaVersion", "datacentreSymbol"):
            if not info[field]:
                problems.append("%s: oai_datacite lacks %s" % (info["identifier"], field))
        payload = wrapper.find(q(DATACITE_OAI_NS, "payload"))
        if payload is None:
            problems.append("%s: oai_datacite lacks payload" % info["identifier"])
            return
        resource = payload.find(q(KERNEL4_NS, "resource"))
    else:
        info["wrapper"] = "none"
        resource = metadata.find(q(KERNEL4_NS, "resource"))
    if resource is None:
        problems.append("%s: no kernel-4 resource element" % info["identifier"])
        return
    k = lambda name: q(KERNEL4_NS, name)  # noqa: E731
    doi = [e for e in resource.findall(k("identifier")) if e.get("identifierType") == "DOI"]
    info["doi"] = (doi[0].text or "").strip() if doi else None
    info["titles"] = texts(resource.findall("%s/%s" % (k("titles"), k("title"))))
    info["creators"] = texts(resource.findall("%s/%s/%s" % (k("creators"), k("creator"), k("creatorName"))))
    info["publisher"] = (resource.findtext(k("publisher")) or "").strip() or None
    info["publicationYear"] = (resource.findtext(k("publicationYear")) or "").strip() or None
    rtype = resource.find(k("resourceType"))
    info["resourceType"] = None if rtype is None else {
        "general": rtype.get("resourceTypeGeneral"), "text": (rtype.text or "").strip()}
    for field in ("doi", "publisher", "publicationYear"):
        if not info[field]:
            problems.append("%s: DataCite resource lacks %s" % (info["identifier"], field))


def record_info(record_xml, prefix, problems):
    """Parse one <record> element into the report shape."""
    info = header_info(record_xml.find(q(OAI_NS, "header")))
    metadata = record_xml.find(q(OAI_NS, "metadata"))
    if prefix == "oai_datacite":
        parse_oai_datacite(metadata, info, problems)
    elif prefix == "oai_dc":
        parse_oai_dc(metadata, info, problems)
    return info


# ---------------------------------------------------------------------------
# Harvest mode (sickle)
# ---------------------------------------------------------------------------
def harvest(args):
    from sickle import Sickle
    from sickle import oaiexceptions

    problems = []
    counter = {"n": 0}

    class CheckingSickle(Sickle):
        """Sickle that checks the envelope of every page it receives."""

        def harvest(self, **kwargs):
            response = super().harvest(**kwargs)
            counter["n"] += 1
            found, _, _ = check_envelope(response.raw.encode("utf-8"))
            problems.extend("%s: %s" % (kwargs.get("verb"), p) for p in found)
            return response

    sickle = CheckingSickle(args.base_url, max_retries=0, timeout=30)
    report = {"ok": False, "base_url": args.base_url, "problems": problems,
              "identify": None, "formats": [], "sets": [], "prefixes": {}}

    ident = sickle.Identify()
    x = ident.xml
    report["identify"] = {
        "repositoryName": x.findtext(".//" + q(OAI_NS, "repositoryName")),
        "baseURL": x.findtext(".//" + q(OAI_NS, "baseURL")),
        "protocolVersion": x.findtext(".//" + q(OAI_NS, "protocolVersion")),
        "adminEmail": texts(x.findall(".//" + q(OAI_NS, "adminEmail"))),
        "earliestDatestamp": x.findtext(".//" + q(OAI_NS, "earliestDatestamp")),
        "deletedRecord": x.findtext(".//" + q(OAI_NS, "deletedRecord")),
        "granularity": x.findtext(".//" + q(OAI_NS, "granularity")),
    }
    if report["identify"]["protocolVersion"] != "2.0":
        problems.append("Identify: protocolVersion is not 2.0")

    for fmt in sickle.ListMetadataFormats():
        report["formats"].append({"metadataPrefix": fmt.metadataPrefix, "schema": fmt.schema,
                                  "metadataNamespace": fmt.metadataNamespace})
    try:
        for s in sickle.ListSets():
            report["sets"].append({"setSpec": s.setSpec, "setName": s.setName})
    except oaiexceptions.NoSetHierarchy:
        pass

    selection = {}
    if args.from_:
        selection["from"] = args.from_
    if args.until:
        selection["until"] = args.until
    if args.set:
        selection["set"] = args.set
    offered = {f["metadataPrefix"] for f in report["formats"]}
    for prefix in args.prefix or ["oai_dc", "oai_datacite"]:
        entry = {"identifiers": [], "records": [], "getrecord": []}
        report["prefixes"][prefix] = entry
        if prefix not in offered:
            problems.append("%s: not listed by ListMetadataFormats" % prefix)
            continue
        try:
            for header in sickle.ListIdentifiers(metadataPrefix=prefix, **selection):
                entry["identifiers"].append(header_info(header.xml))
        except oaiexceptions.NoRecordsMatch:
            pass
        try:
            for record in sickle.ListRecords(metadataPrefix=prefix, **selection):
                entry["records"].append(record_info(record.xml, prefix, problems))
        except oaiexceptions.NoRecordsMatch:
            pass
        listed = [h["identifier"] for h in entry["identifiers"]]
        if listed != [r["identifier"] for r in entry["records"]]:
            problems.append("%s: ListIdentifiers and ListRecords disagree" % prefix)
        if len(set(listed)) != len(listed):
            problems.append("%s: duplicate identifiers across pages" % prefix)
        if not args.no_getrecord:
            for identifier in listed:
                record = sickle.GetRecord(identifier=identifier, metadataPrefix=prefix)
                entry["getrecord"].append(record_info(record.xml, prefix, problems))
    report["requests"] = counter["n"]
    report["ok"] = not problems
    return report


# ---------------------------------------------------------------------------
# --errors mode (plain urllib, so that malformed requests reach the server)
# ---------------------------------------------------------------------------
def error_cases():
    """(name, query pairs, acceptable error codes)."""
    return [
        ("badVerb", [("verb", "NoSuchVerb")], ["badVerb"]),
        ("missingVerb", [], ["badVerb"]),
        ("missing metadataPrefix", [("verb", "ListRecords")], ["badArgument"]),
        ("cannotDisseminateFormat", [("verb", "ListRecords"), ("metadataPrefix", "no_such_format")],
         ["cannotDisseminateFormat"]),
        ("idDoesNotExist", [("verb", "GetRecord"), ("identifier", "oai:invalid:does-not-exist"),
                            ("metadataPrefix", "oai_dc")], ["idDoesNotExist"]),
        ("badResumptionToken", [("verb", "ListRecords"), ("resumptionToken", "not-a-token")],
         ["badResumptionToken"]),
        ("repeated argument", [("verb", "ListRecords"), ("metadataPrefix", "oai_dc"),
                               ("metadataPrefix", "oai_dc")], ["badArgument"]),
        ("unknown argument", [("verb", "Identify"), ("colour", "blue")], ["badArgument"]),
        ("bad date", [("verb", "ListIdentifiers"), ("metadataPrefix", "oai_dc"),
                      ("from", "yesterday")], ["badArgument"]),
        # The spec has no dedicated code for from > until; both are seen in practice.
        ("from after until", [("verb", "ListIdentifiers"), ("metadataPrefix", "oai_dc"),
                              ("from", "2020-02-01"), ("until", "2020-01-01")],
         ["badArgument", "noRecordsMatch"]),
        ("noRecordsMatch", [("verb", "ListIdentifiers"), ("metadataPrefix", "oai_dc"),
                            ("from", "2999-01-01")], ["noRecordsMatch"]),
    ]


def probe_errors(base_url):
    cases = []
    for name, pairs, expected in error_cases():
        query = urllib.parse.urlencode(pairs)
        url = base_url + ("&" if "?" in base_url else "?") + query if query else base_url
        status, body = None, b""
        try:
            with urllib.request.urlopen(url, timeout=30) as resp:
                status, body = resp.status, resp.read()
        except urllib.error.HTTPError as exc:  # OAI errors should be HTTP 200
            status, body = exc.code, exc.read()
        except OSError as exc:
            cases.append({"name": name, "query": query, "http_status": None, "codes": [],
                          "expected": expected, "envelope_ok": False, "pass": False,
                          "problems": [repr(exc)]})
            continue
        problems, _, codes = check_envelope(body)
        passed = status == 200 and not problems and bool(codes) and set(codes) <= set(expected)
        cases.append({"name": name, "query": query, "http_status": status, "codes": codes,
                      "expected": expected, "envelope_ok": not problems, "pass": passed,
                      "problems": problems})
    return {"ok": all(c["pass"] for c in cases), "base_url": base_url, "cases": cases}


def main():
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("base_url")
    parser.add_argument("--from", dest="from_", help="selective harvest lower bound")
    parser.add_argument("--until", help="selective harvest upper bound")
    parser.add_argument("--set", help="setSpec for selective harvesting")
    parser.add_argument("--prefix", action="append",
                        help="metadataPrefix to harvest (default: oai_dc and oai_datacite)")
    parser.add_argument("--no-getrecord", action="store_true", help="skip GetRecord calls")
    parser.add_argument("--errors", action="store_true", help="probe the error handling instead")
    args = parser.parse_args()

    if args.errors:
        report = probe_errors(args.base_url)
    else:
        try:
            report = harvest(args)
        except Exception as exc:  # network failure, unexpected OAI error, bad XML
            report = {"ok": False, "base_url": args.base_url,
                      "problems": ["harvest failed: %r" % exc]}
    json.dump(report, sys.stdout)
    sys.stdout.write("\n")
    return 0 if report["ok"] else 1


if __name__ == "__main__":
    sys.exit(main())

"""Validates DataCite REST documents against the DataCite Metadata Schema 4.5 JSON schema that the
`datacite` package (PyPI) ships, with an independent JSON Schema implementation (jsonschema).

    python3 check_datacite.py DOCUMENT.json...   prints {"results": [{"file", "valid", "errors"}]} on one line
"""
import json
import sys
from importlib import resources

import jsonschema

schema = json.loads(resources.files("datacite").joinpath("schemas/datacite-v4.5.json").read_text())
validator = jsonschema.Draft201909Validator(schema, format_checker=jsonschema.Draft201909Validator.FORMAT_CHECKER)
results = []
for path in sys.argv[1:]:
    with open(path, encoding="utf-8") as handle:
        document = json.load(handle)
    attributes = document["data"]["attributes"]
    errors = sorted(f"{'/'.join(map(str, error.absolute_path))}: {error.message}" for error in validator.iter_errors(attributes))
    results.append({"file": path, "valid": not errors, "type": document["data"].get("type"), "id": document["data"].get("id"),
                    "errors": errors})
print(json.dumps({"results": results}))

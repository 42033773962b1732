#!/usr/bin/env python3
"""Cross-checks the JSON Schema files against the example fixtures with an
independent validator (python3-jsonschema >= 4.18):

  * every schemas/examples/<type>/valid.json must validate;
  * every invalid.jsonl line must be rejected by the schema, unless its
    expected error belongs to a rule JSON Schema cannot express (listed in
    DECODER_ONLY and in docs/events.md).

Usage: schemas/tools/check_json_schemas.py [repo root]. Exit status 1 on a
mismatch. The C++ decoder stays the reference; this guards the files
integrators read.
"""
import json
import pathlib
import sys

import jsonschema
from referencing import Registry, Resource

# Expected-error prefixes of rules only the decoder enforces.
DECODER_ONLY = (
    "event: ",                     # byte-size limit (before parsing)
    "json: ",                      # not JSON at all
    "subject: must equal data.",   # reference subject == entity id
    "time: must be a valid calendar date",  # Feb 30 etc. (needs format assertion)
    "data.kind: duplicate field",  # duplicate names: Python's json keeps the last
    "id: duplicate attribute",
)

def main():
    root = pathlib.Path(sys.argv[1] if len(sys.argv) > 1 else pathlib.Path(__file__).parents[2])
    schemas_dir = root / "schemas"
    resources = []
    for path in sorted(schemas_dir.glob("*.schema.json")):
        doc = json.loads(path.read_text())
        resources.append((doc["$id"], Resource.from_contents(doc)))
    registry = Registry().with_resources(resources)
    def validator_for(event):
        # The schema of the event's own type when it names one, else the envelope.
        name = event.get("type") if isinstance(event, dict) else None
        path = schemas_dir / f"{name}.schema.json" if isinstance(name, str) else None
        if path is None or not path.exists() or "/" in name:
            path = schemas_dir / "envelope.schema.json"
        schema = json.loads(path.read_text())
        return jsonschema.Draft202012Validator(schema, registry=registry)

    failures = 0
    checked = 0
    for type_dir in sorted((schemas_dir / "examples").iterdir()):
        if not type_dir.is_dir():
            continue
        valid = type_dir / "valid.json"
        if valid.exists():
            errors = list(validator_for(valid_event := json.loads(valid.read_text())).iter_errors(valid_event))
            checked += 1
            if errors:
                failures += 1
                print(f"FAIL {valid}: {errors[0].message}")
        for number, line in enumerate((type_dir / "invalid.jsonl").read_text().splitlines(), 1):
            if not line.strip():
                continue
            case = json.loads(line)
            expected = case["error"]
            event = case["event"]
            if isinstance(event, str):
                try:
                    event = json.loads(event)
                except ValueError:
                    continue  # malformed JSON: nothing to validate
            checked += 1
            rejected = not validator_for(event).is_valid(event)
            if not rejected and not expected.startswith(DECODER_ONLY):
                failures += 1
                print(f"FAIL {type_dir.name}/invalid.jsonl:{number}: schema accepts it, "
                      f"decoder says {expected!r}")
    print(f"{checked} fixtures checked, {failures} mismatches")
    return 1 if failures else 0

if __name__ == "__main__":
    sys.exit(main())

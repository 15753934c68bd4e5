#!/usr/bin/env python3
"""Check s3audit's OCSF output (`--format ocsf`) against py-ocsf-models' Compliance Finding.

    ocsf_check.py FILE        (FILE may be - for stdin)

FILE is a JSON array of events. Each is parsed with py_ocsf_models' ComplianceFinding in
pydantic's strict mode (wrong types, missing required fields and values outside an enum
fail). pydantic ignores unknown fields, so every key is also compared with the model's
fields, object by object: a misspelt field fails instead of vanishing. Two OCSF 1.5.0
attributes the library does not model are checked here instead: the event's `cloud` (the
cloud profile, with the library's Cloud model; the profile must be listed in
`metadata.profiles`) and `compliance.status` (the caption of `compliance.status_id`).
Then what OCSF defines beyond types: class 2003 in category 2, type_uid = class_uid * 100
+ activity_id, the captions of the ids, and `metadata.version` the library's OCSF version.

Exit 0 with "N events valid ..." on stdout; 1 with one line per problem on stderr, naming
the event by index, rule and resource; 2 when FILE is not a JSON array or the library is
missing.
"""

import copy
import json
import sys
import types
import typing

try:
    import py_ocsf_models
    from py_ocsf_models.events.findings.compliance_finding import ComplianceFinding
    from py_ocsf_models.objects.cloud import Cloud
    from pydantic import BaseModel, ValidationError
except ImportError as e:  # pragma: no cover - environment problem
    print(f"ocsf_check: {e} (run scripts/venv)", file=sys.stderr)
    sys.exit(2)

CLASS_UID = 2003
CATEGORY_UID = 2
ACTIVITY = {0: "Unknown", 1: "Create", 2: "Update", 3: "Close"}
SEVERITY = {0: "Unknown", 1: "Informational", 2: "Low", 3: "Medium", 4: "High", 5: "Critical", 6: "Fatal"}
FINDING_STATUS = {0: "Unknown", 1: "New", 2: "In Progress", 3: "Suppressed", 4: "Resolved", 5: "Archived"}
COMPLIANCE_STATUS = {0: "Unknown", 1: "Pass", 2: "Warning", 3: "Fail"}
OTHER = 99  # every OCSF enum's "Other": the caption is the source's own

# Attributes OCSF 1.5.0 defines that py-ocsf-models' ComplianceFinding lacks, by path;
# checked by hand below, then removed before the model sees the event.
NOT_MODELLED = {("cloud",), ("compliance", "status")}
OCSF_REQUIRED = ["activity_id", "category_uid", "class_uid", "type_uid", "severity_id", "time",
                 "metadata", "finding_info", "compliance"]


def model_of(annotation):
    """The BaseModel inside an annotation (Optional[X], list[X], List[Optional[X]]), if any."""
    if isinstance(annotation, type) and issubclass(annotation, BaseModel):
        return annotation
    origin = typing.get_origin(annotation)
    if origin in (typing.Union, types.UnionType, list, typing.List):
        for arg in typing.get_args(annotation):
            found = model_of(arg)
            if found is not None:
                return found
    return None


def unknown_fields(value, model, path):
    """Every key of `value` (and of its nested objects) the model has no field for."""
    problems = []
    if isinstance(value, list):
        for i, item in enumerate(value):
            problems += unknown_fields(item, model, f"{path}[{i}]")
        return problems
    if not isinstance(value, dict):
        return problems  # a wrong type: the strict parse says so
    for key, item in value.items():
        field = model.model_fields.get(key)
        where = f"{path}.{key}" if path else key
        if field is None:
            problems.append(f"unknown field {where} (not in py-ocsf-models' {model.__name__})")
            continue
        nested = model_of(field.annotation)
        if nested is not None:
            problems += unknown_fields(item, nested, where)
    return problems


def caption(table, id_, actual, what):
    if id_ == OTHER:
        ok = isinstance(actual, str) and actual != ""
        return [] if ok else [f"{what} is {actual!r}: status_id 99 (Other) needs the source's caption"]
    want = table.get(id_)
    if want is None:
        return [f"{what}_id {id_!r} is not an OCSF value"]
    return [] if actual == want else [f"{what} is {actual!r}, OCSF's caption of {id_} is {want!r}"]


def check(event):
    if not isinstance(event, dict):
        return [f"not an object but {type(event).__name__}"]
    problems = [f"missing required attribute {k}" for k in OCSF_REQUIRED if k not in event]

    # What the library does not model, by hand.
    cloud = event.get("cloud")
    profiles = (event.get("metadata") or {}).get("profiles") or []
    if cloud is not None:
        if "cloud" not in profiles:
            problems.append("cloud is set but metadata.profiles does not list the cloud profile")
        try:
            Cloud.model_validate_json(json.dumps(cloud), strict=True)
        except ValidationError as e:
            problems += [f"cloud.{'.'.join(map(str, err['loc']))}: {err['msg']}" for err in e.errors()]
        problems += unknown_fields(cloud, Cloud, "cloud")
    elif "cloud" in profiles:
        problems.append("metadata.profiles lists cloud but the event has no cloud")
    compliance = event.get("compliance")
    if isinstance(compliance, dict) and "status_id" in compliance:
        problems += caption(COMPLIANCE_STATUS, compliance["status_id"], compliance.get("status"),
                            "compliance.status")

    rest = copy.deepcopy(event)
    for path in NOT_MODELLED:
        parent = rest
        for key in path[:-1]:
            parent = parent.get(key) if isinstance(parent, dict) else None
        if isinstance(parent, dict):
            parent.pop(path[-1], None)
    try:
        ComplianceFinding.model_validate_json(json.dumps(rest), strict=True)
    except ValidationError as e:
        problems += [f"{'.'.join(map(str, err['loc']))}: {err['msg']}" for err in e.errors()]
    problems += unknown_fields(rest, ComplianceFinding, "")

    # What OCSF defines beyond the types.
    if event.get("class_uid") != CLASS_UID:
        problems.append(f"class_uid is {event.get('class_uid')!r}, not {CLASS_UID} (Compliance Finding)")
    if event.get("category_uid") != CATEGORY_UID:
        problems.append(f"category_uid is {event.get('category_uid')!r}, not {CATEGORY_UID} (Findings)")
    activity = event.get("activity_id")
    if isinstance(activity, int) and isinstance(event.get("class_uid"), int):
        want = event["class_uid"] * 100 + activity
        if event.get("type_uid") != want:
            problems.append(f"type_uid is {event.get('type_uid')!r}, not class_uid * 100 + activity_id = {want}")
    if "activity_name" in event:
        problems += caption(ACTIVITY, activity, event["activity_name"], "activity")
    if "category_name" in event and event["category_name"] != "Findings":
        problems.append(f"category_name is {event['category_name']!r}, not 'Findings'")
    if "class_name" in event and event["class_name"] != "Compliance Finding":
        problems.append(f"class_name is {event['class_name']!r}, not 'Compliance Finding'")
    if "type_name" in event and event["type_name"] != f"Compliance Finding: {ACTIVITY.get(activity)}":
        problems.append(f"type_name {event['type_name']!r} does not name activity {activity!r}")
    if "severity" in event:
        problems += caption(SEVERITY, event.get("severity_id"), event["severity"], "severity")
    if "status_id" in event:
        problems += caption(FINDING_STATUS, event["status_id"], event.get("status"), "status")
    version = (event.get("metadata") or {}).get("version")
    if version != py_ocsf_models.OCSF_VERSION:
        problems.append(f"metadata.version is {version!r}, the library models OCSF {py_ocsf_models.OCSF_VERSION}")
    return problems


def name(event):
    if not isinstance(event, dict):
        return ""
    rule = (event.get("compliance") or {}).get("control") if isinstance(event.get("compliance"), dict) else None
    resources = event.get("resources") or [{}]
    resource = resources[0].get("uid") if isinstance(resources[0], dict) else None
    return f" ({rule} on {resource})"


def main(argv):
    if len(argv) != 2:
        print(__doc__, file=sys.stderr)
        return 2
    try:
        text = sys.stdin.read() if argv[1] == "-" else open(argv[1], encoding="utf-8").read()
        events = json.loads(text)
    except (OSError, ValueError) as e:
        print(f"ocsf_check: cannot read {argv[1]}: {e}", file=sys.stderr)
        return 2
    if not isinstance(events, list):
        print(f"ocsf_check: {argv[1]} is not a JSON array of events", file=sys.stderr)
        return 2
    bad = 0
    for i, event in enumerate(events):
        problems = check(event)
        bad += bool(problems)
        for problem in problems:
            print(f"event {i}{name(event)}: {problem}", file=sys.stderr)
    if bad:
        print(f"ocsf_check: {bad} of {len(events)} events invalid", file=sys.stderr)
        return 1
    print(f"{len(events)} events valid (OCSF {py_ocsf_models.OCSF_VERSION}, "
          f"py-ocsf-models ComplianceFinding)")
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv))

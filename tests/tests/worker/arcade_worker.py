"""FACT's Arcade worker endpoints judged by Arcade's own code: arcade-core 4.23.0's models and an
arcade-serve 3.6.0 worker serving the same tools (docs/ARCHITECTURE.md, "Arcade worker").

Run by tests/tests/worker/python.rs, which starts `fact-fixtures serve` and passes, in the
environment: FACT_WORKER_URL (http://127.0.0.1:PORT), FACT_WORKER_SECRET (its
ARCADE_WORKER_SECRET) and FACT_WORKER_TOOLS (every tool it serves, comma-separated).

1. Every ToolDefinition of FACT's /worker/tools and every ToolCallResponse of its
   /worker/tools/invoke (success, bad input, each tool error, timeouts, a panic, tools that
   require authorization) is read by arcade-core's pydantic models in strict mode, with no key
   those models do not define.
2. An arcade-serve worker (python_worker.py) serves Fixture.Echo, Fixture.Sum, Fixture.KindOf
   and Fixture.Choose as a Python author writes them. The same requests go to both, with JWTs
   signed here by PyJWT, and the answers are compared: health, the four ToolDefinitions,
   invocations (value, or error kind and retry advice), malformed bodies, refused tokens.

Prints `ok`, `note` (a known, legitimate difference) and `FAIL` lines, then exits 1 if any
check failed, else prints "arcade worker: all checks passed". Every request has a timeout;
the arcade-serve worker runs in a thread of this process, stopped on every path.
"""

import logging
import os
import sys
import time
from typing import Any

sys.dont_write_bytecode = True  # no __pycache__ beside the sources

import jwt  # noqa: E402
from arcade_core.errors import ErrorKind  # noqa: E402
from arcade_core.schema import ToolAuthorizationContext, ToolContext, ToolDefinition  # noqa: E402

from python_worker import MIRRORED, PythonWorker  # noqa: E402
from wire_checks import (  # noqa: E402
    CLIENT,
    FAILURES,
    Answer,
    bearer,
    check,
    check_response,
    differences,
    fail,
    get,
    invocation,
    note,
    ok,
    post,
    response_mismatches,
    token,
    validated,
    without_nulls,
)

FACT_URL = os.environ["FACT_WORKER_URL"].rstrip("/")
SECRET = os.environ["FACT_WORKER_SECRET"]
FACT_TOOLS = sorted(os.environ["FACT_WORKER_TOOLS"].split(","))

Definitions = dict[str, dict[str, Any]]


def engine() -> dict[str, str]:
    """The Authorization header of a valid Engine token."""
    return bearer(token(SECRET))


# ---------------------------------------------------------------------------------------------
# Part 1: FACT's JSON through arcade-core's models
# ---------------------------------------------------------------------------------------------


def fact_definitions() -> Definitions:
    """FACT's /worker/tools, each entry validated, by fully qualified name."""
    answer = get(FACT_URL + "/worker/tools", engine())
    listed = answer.status == 200 and isinstance(answer.json, list)
    if not check("FACT /worker/tools: HTTP 200, a JSON array", listed, answer.shown()):
        return {}
    by_name: Definitions = {}
    for entry in answer.json:
        name = entry.get("fully_qualified_name", "?") if isinstance(entry, dict) else "?"
        definition = validated(ToolDefinition, entry, f"FACT ToolDefinition {name}")
        if definition is None:
            continue
        check(
            f"FACT ToolDefinition {name}: fully_qualified_name is toolkit.name",
            str(definition.get_fully_qualified_name()) == definition.fully_qualified_name,
            entry,
        )
        by_name[definition.fully_qualified_name] = entry
    check(
        f"FACT /worker/tools: the {len(FACT_TOOLS)} tools, each once",
        sorted(by_name) == FACT_TOOLS and len(answer.json) == len(FACT_TOOLS),
        sorted(by_name),
        FACT_TOOLS,
    )
    ok(f"FACT /worker/tools: {len(by_name)} ToolDefinitions accepted by arcade-core")
    return by_name


SUCCESS = object()
BAD_INPUT = ErrorKind.TOOL_RUNTIME_BAD_INPUT_VALUE
TIMEOUT = ErrorKind.NETWORK_TRANSPORT_RUNTIME_TIMEOUT
ADA = ToolContext(user_id="ada")
ADA_WITH_TOKEN = ToolContext(
    authorization=ToolAuthorizationContext(token="engine-token", user_info={}), user_id="ada"
)

# (what, tool, inputs, context, expected): SUCCESS, the value, the ErrorKind the documentation
# names, or None: any answer, its kind one of arcade-core's.
FACT_CASES = [
    ("sum", "Fixture.Sum", {"values": [1, 2, 3]}, None, 6),
    ("echo", "Fixture.Echo", {"text": "ab", "times": 2}, None, "abab"),
    ("who am I", "Fixture.WhoAmI", {}, ADA, SUCCESS),
    ("a slow tool within its timeout", "Fixture.Slow", {"millis": 10}, None, 10),
    ("bad input: a string for a list", "Fixture.Sum", {"values": "x"}, None, BAD_INPUT),
    ("bad input: out of range", "Fixture.Constrained", {"limit": 0}, None, BAD_INPUT),
    ("bad input: missing", "Fixture.Echo", {}, None, BAD_INPUT),
    ("timeout", "Fixture.Slow", {"millis": 5000}, None, TIMEOUT),
    ("timeout of a sync tool", "Fixture.SlowSync", {"millis": 5000}, None, TIMEOUT),
    ("a tool's Display error", "Fixture.DisplayError", {}, None, None),
    ("a panic", "Fixture.Panics", {"secret": "not-for-the-answer"}, None, None),
    ("authorization required, no token", "Fixture.Private", {}, ADA, None),
    ("authorization required, a token", "Fixture.SecureMultiply", {"a": 2, "b": 3}, ADA_WITH_TOKEN,
     None),
] + [
    (f"tool error {kind}", "Fixture.KindOf", {"kind": kind}, None, None)
    for kind in
    ["invalid", "retryable", "security", "rate", "arcade", "upstream", "unavailable", "fatal"]
]


def fact_invocations(definitions: Definitions) -> None:
    for number, (what, tool, inputs, context, expected) in enumerate(FACT_CASES):
        what = f"FACT invoke {tool} ({what})"
        if tool not in definitions:
            fail(f"{what}: {tool} is not listed")
            continue
        execution_id = f"fact-{number}"
        body = invocation(definitions[tool], inputs, execution_id, context)
        answer = post(FACT_URL + "/worker/tools/invoke", body, engine())
        response = check_response(what, answer, execution_id)
        if response is None:
            continue
        error = response.output.error if response.output else None
        if expected is SUCCESS:
            check(f"{what}: succeeds", response.success, answer.json)
        elif isinstance(expected, ErrorKind):
            kind = error.kind if error else None
            check(f"{what}: kind {expected.value}", kind == expected, answer.json)
        elif expected is not None:
            value = response.output.value if response.success else None
            check(f"{what}: value {expected!r}", value == expected, answer.json)
        elif error is None:
            ok(f"{what}: success")
        else:
            ok(f"{what}: {error.kind.value}, can_retry={error.can_retry}")
        if tool == "Fixture.Panics":
            kept = "not-for-the-answer" not in answer.text
            check(f"{what}: the panic's text is not in the answer", kept, answer.text)


# ---------------------------------------------------------------------------------------------
# Part 2: an arcade-serve worker beside FACT
# ---------------------------------------------------------------------------------------------

# Paths of a ToolDefinition where the two legitimately differ, and why.
DEFINITION_NOTES = {
    "output.available_modes": "arcade-core lists the modes of the return annotation alone "
    "(['null'] for a function without one, though it can fail); FACT always adds 'error'",
    "output.description": "arcade-core writes 'No description provided.' when there is none",
    "nullable": "arcade-core's catalog does not track the nullability of parameters (null)",
}


def definition_note(path: str, fact: Any, arcade: Any) -> Any:
    """Why FACT's and arcade-serve's definitions may differ at `path`, or None if they may not."""
    for suffix, why in DEFINITION_NOTES.items():
        if path.endswith(suffix):
            return why
    if path.startswith("input.") and path.endswith(".description") and fact is None:
        return "arcade-core's catalog requires a parameter description; the Rust tool has none"
    if path.endswith("value_schema.description") and arcade is None:
        return "arcade-core leaves a parameter's value_schema undescribed; FACT repeats there " \
            "the parameter's description (or its type's)"
    return None


def compare_definitions(fact: dict[str, Any], arcade: dict[str, Any], name: str) -> None:
    def keyed(definition: dict[str, Any]) -> dict[str, Any]:
        shaped = without_nulls(definition)
        parameters = shaped.get("input", {}).get("parameters", [])
        shaped.setdefault("input", {})["parameters"] = {p["name"]: p for p in parameters}
        return shaped

    fact_order = [p["name"] for p in fact["input"]["parameters"]]
    arcade_order = [p["name"] for p in arcade["input"]["parameters"]]
    same_order = fact_order == arcade_order
    check(f"{name} definitions: parameters in the same order", same_order, fact_order, arcade_order)
    mismatches = []
    for path, fact_value, arcade_value in differences(keyed(fact), keyed(arcade)):
        found = f"{path}: FACT {fact_value!r}, arcade-serve {arcade_value!r}"
        why = definition_note(path, fact_value, arcade_value)
        if why is None:
            mismatches.append(found)
        else:
            note(f"{name} definitions differ at {found} ({why})")
    same = "same names, toolkit, parameters, value schemas, requirements"
    check(f"{name} definitions: {same}", not mismatches, *mismatches, fact, arcade)


def compare_health(python: PythonWorker) -> None:
    answers = {
        "FACT": get(FACT_URL + "/worker/health"),
        "arcade-serve": get(python.base + "/worker/health"),
    }
    for side, answer in answers.items():
        body = answer.json if isinstance(answer.json, dict) else {}
        count = body.get("tool_count")
        answered = answer.status == 200
        check(f"{side} /worker/health without a token: HTTP 200", answered, answer.shown())
        check(f"{side} /worker/health: status 'ok'", body.get("status") == "ok", answer.shown())
        check(
            f"{side} /worker/health: tool_count a string of digits",
            isinstance(count, str) and count.isdigit(),
            answer.shown(),
        )
    fact, arcade = answers["FACT"].json or {}, answers["arcade-serve"].json or {}
    check("health: the same keys", set(fact) == set(arcade), fact, arcade)
    fact_count, arcade_count = fact.get("tool_count"), arcade.get("tool_count")
    check("FACT health: tool_count counts /worker/tools", fact_count == str(len(FACT_TOOLS)), fact)
    counted = arcade_count == str(len(MIRRORED))
    check("arcade-serve health: tool_count counts its tools", counted, arcade)


POINT = {"x": 1, "y": 2}
SAME_CASES = [
    ("success", "Fixture.Sum", {"values": [1, 2, 3]}),
    ("success, optional parameter", "Fixture.Echo", {"text": "ab", "times": 3}),
    ("success, optional parameter left out", "Fixture.Echo", {"text": "ab"}),
    ("success, optional parameter null", "Fixture.Echo", {"text": "ab", "times": None}),
    ("success, enum and object", "Fixture.Choose", {"colour": "red", "at": POINT, "tags": ["a"]}),
    ("bad input: a string for a list", "Fixture.Sum", {"values": "not numbers"}),
    ("bad input: a required parameter missing", "Fixture.Echo", {}),
    ("bad input: no inputs at all", "Fixture.Sum", None),
    ("bad input: not in the enum", "Fixture.Choose", {"colour": "blue", "at": POINT, "tags": []}),
    ("bad input: a key missing", "Fixture.Choose", {"colour": "red", "at": {"x": 1}, "tags": []}),
] + [
    (f"tool error {kind}", "Fixture.KindOf", {"kind": kind})
    for kind in ["invalid", "retryable", "rate", "unavailable", "upstream", "arcade", "fatal"]
]


def compare_invocations(
    python: PythonWorker, fact_defs: Definitions, arcade_defs: Definitions
) -> None:
    for number, (what, tool, inputs) in enumerate(SAME_CASES):
        what = f"{tool} ({what})"
        execution_id = f"same-{number}"
        fact_body = invocation(fact_defs[tool], inputs, execution_id)
        arcade_body = invocation(arcade_defs[tool], inputs, execution_id)
        fact = post(FACT_URL + "/worker/tools/invoke", fact_body, engine())
        arcade = post(python.base + "/worker/tools/invoke", arcade_body, engine())
        if check_response(f"FACT invoke {what}", fact, execution_id) is None:
            continue
        if not check(f"arcade-serve invoke {what}: HTTP 200", arcade.status == 200, arcade.shown()):
            continue
        mismatches = response_mismatches(what, fact.json, arcade.json)
        same = "the same answer shape (kind, retry, value)"
        check(f"{what}: {same}", not mismatches, *mismatches, fact.json, arcade.json)

    # An unknown tool: arcade-serve's handler raises ValueError, which FastAPI answers with an
    # unhandled 500 (text, not JSON); FACT answers 404 {"code", "message"}. Recorded, not
    # compared; the traceback arcade-serve logs for it is silenced.
    nope = {"name": "Nope", "toolkit": {"name": "Fixture", "version": "1.0.0"}}
    unknown = invocation(nope, {}, "unknown")
    logging.getLogger("uvicorn.error").setLevel(logging.CRITICAL)
    arcade = post(python.base + "/worker/tools/invoke", unknown, engine())
    logging.getLogger("uvicorn.error").setLevel(logging.WARNING)
    fact = post(FACT_URL + "/worker/tools/invoke", unknown, engine())
    note(f"unknown tool: arcade-serve HTTP {arcade.status} {arcade.text[:40]!r}; "
         f"FACT {fact.shown()}")
    not_found = fact.status == 404 and isinstance(fact.json, dict)
    not_found = not_found and set(fact.json) == {"code", "message"}
    check("FACT unknown tool: HTTP 404 {code, message}", not_found, fact.shown())

    # A body that is no ToolCallRequest: both answer 400 {"code": -32602, "message"}.
    for what, body in (("not JSON", "{not json"), ("no tool", {"inputs": {}})):
        fact = post(FACT_URL + "/worker/tools/invoke", body, engine())
        arcade = post(python.base + "/worker/tools/invoke", body, engine())
        same = (
            fact.status == arcade.status == 400
            and isinstance(fact.json, dict)
            and isinstance(arcade.json, dict)
            and set(fact.json) == set(arcade.json)
            and fact.json.get("code") == arcade.json.get("code")
        )
        answer = "the same 400 {code, message}"
        check(f"a body with {what}: {answer}", same, fact.shown(), arcade.shown())


def refusal_cases() -> list[tuple[str, dict[str, str]]]:
    expired = int(time.time()) - 600
    unsigned = jwt.encode({"aud": "worker", "ver": "1"}, None, algorithm="none")
    return [
        ("no Authorization header", {}),
        ("another scheme", {"Authorization": f"Basic {token(SECRET)}"}),
        ("not a JWT", bearer("not-a-jwt")),
        ("the wrong secret", bearer(token("another-secret-of-32-bytes-at-least!!"))),
        ("the wrong audience", bearer(token(SECRET, aud="engine"))),
        ("no audience", bearer(token(SECRET, aud=None))),
        ("the wrong ver", bearer(token(SECRET, ver="2"))),
        ("no ver", bearer(token(SECRET, ver=None))),
        ("expired", bearer(token(SECRET, exp=expired, iat=expired - 60))),
        ("alg none", bearer(unsigned)),
    ]


def is_refusal(answer: Answer) -> bool:
    """401, `WWW-Authenticate: Bearer`, and a body `{"detail": "..."}`."""
    return (
        answer.status == 401
        and answer.headers.get("www-authenticate", "").startswith("Bearer")
        and isinstance(answer.json, dict)
        and list(answer.json) == ["detail"]
        and isinstance(answer.json["detail"], str)
    )


def compare_refusals(
    python: PythonWorker, fact_defs: Definitions, arcade_defs: Definitions
) -> None:
    for what, headers in refusal_cases():
        for path in ("/worker/tools", "/worker/tools/invoke"):
            if path == "/worker/tools":
                fact = get(FACT_URL + path, headers)
                arcade = get(python.base + path, headers)
            else:
                body = invocation(fact_defs["Fixture.Sum"], {"values": [1]}, "refused")
                fact = post(FACT_URL + path, body, headers)
                body = invocation(arcade_defs["Fixture.Sum"], {"values": [1]}, "refused")
                arcade = post(python.base + path, body, headers)
            refusal = "401, WWW-Authenticate: Bearer, {detail}"
            check(f"FACT {path} with {what}: {refusal}", is_refusal(fact), fact.shown())
            if what == "no Authorization header" and arcade.status == 403:
                # FastAPI's HTTPBearer answered 403 here before FastAPI 0.117 or so.
                note(f"arcade-serve {path} with {what}: 403 (this FastAPI's HTTPBearer)")
                continue
            check(
                f"{path} with {what}: FACT and arcade-serve both refuse alike "
                f"(arcade-serve: HTTP {arcade.status})",
                is_refusal(arcade) and is_refusal(fact),
                fact.shown(),
                arcade.shown(),
            )


def main() -> None:
    # arcade-serve logs each failed tool as a warning: expected here, noise in the output.
    logging.getLogger("arcade_serve").setLevel(logging.ERROR)

    definitions = fact_definitions()
    fact_invocations(definitions)
    missing = [name for name in MIRRORED if name not in definitions]
    if missing:
        fail(f"FACT lists none of {missing}: nothing to compare arcade-serve with")
        return

    toolkits = {name: definitions[name]["toolkit"] for name in MIRRORED}
    with PythonWorker(SECRET, toolkits) as python:
        ok(f"arcade-serve worker on {python.base}")
        compare_health(python)
        listed = get(python.base + "/worker/tools", engine())
        if not check("arcade-serve /worker/tools: HTTP 200", listed.status == 200, listed.shown()):
            return
        arcade_definitions = {entry["fully_qualified_name"]: entry for entry in listed.json}
        for name in MIRRORED:
            compare_definitions(definitions[name], arcade_definitions[name], name)
        compare_invocations(python, definitions, arcade_definitions)
        compare_refusals(python, definitions, arcade_definitions)


if __name__ == "__main__":
    try:
        main()
    finally:
        CLIENT.close()
    if FAILURES:
        print(f"arcade worker: {len(FAILURES)} check(s) failed:", flush=True)
        for failure in FAILURES:
            print(f"  - {failure}", flush=True)
        sys.exit(1)
    print("arcade worker: all checks passed", flush=True)

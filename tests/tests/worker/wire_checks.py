"""How arcade_worker.py talks to a worker and judges its answers: the report (ok, note, FAIL),
HTTP with the Engine's JWTs, arcade-core's models in strict mode, and the comparison of two
answers' shapes."""

import datetime
import json
import time
from typing import Any, Optional

import httpx
import jwt
from arcade_core.schema import ToolCallRequest, ToolCallResponse, ToolContext, ToolReference

# Every request's bound; the slowest call (into a tool's 1 s timeout) takes about 1 s.
REQUEST_TIMEOUT = 30.0

FAILURES: list[str] = []


def ok(message: str) -> None:
    print(f"ok {message}", flush=True)


def note(message: str) -> None:
    """A difference between FACT and arcade-serve that is known and legitimate."""
    print(f"note {message}", flush=True)


def fail(message: str, *shown: Any) -> None:
    FAILURES.append(message)
    print(f"FAIL {message}", flush=True)
    for item in shown:
        text = item if isinstance(item, str) else json.dumps(item, indent=1, sort_keys=True)
        print("    " + text.replace("\n", "\n    "), flush=True)


def check(message: str, condition: bool, *shown: Any) -> bool:
    """`ok` when `condition` holds, else `fail`, showing `shown`."""
    if condition:
        ok(message)
    else:
        fail(message, *shown)
    return condition


# ---------------------------------------------------------------------------------------------
# HTTP and tokens
# ---------------------------------------------------------------------------------------------

CLIENT = httpx.Client(trust_env=False, timeout=REQUEST_TIMEOUT)


def token(secret: str, **claims: Any) -> str:
    """An Engine's token: HS256, audience worker, ver "1", five minutes. `claims` override
    these; a claim given as None is left out."""
    now = int(time.time())
    payload = {"aud": "worker", "ver": "1", "iat": now, "exp": now + 300}
    payload.update(claims)
    payload = {key: value for key, value in payload.items() if value is not None}
    return jwt.encode(payload, secret, algorithm="HS256")


def bearer(value: str) -> dict[str, str]:
    return {"Authorization": f"Bearer {value}"}


class Answer:
    """An HTTP answer: status, headers, text, and the body as JSON (None when it is not)."""

    def __init__(self, response: httpx.Response) -> None:
        self.status = response.status_code
        self.headers = response.headers
        self.text = response.text
        try:
            self.json = response.json()
        except ValueError:
            self.json = None

    def shown(self) -> str:
        return f"HTTP {self.status} {self.text[:2000]}"


def get(url: str, headers: Optional[dict[str, str]] = None) -> Answer:
    return Answer(CLIENT.get(url, headers=headers or {}))


def post(url: str, body: Any, headers: Optional[dict[str, str]] = None) -> Answer:
    """POSTs `body`: JSON text as given when a string, else serialized."""
    data = body if isinstance(body, str) else json.dumps(body)
    merged = {"Content-Type": "application/json", **(headers or {})}
    return Answer(CLIENT.post(url, content=data, headers=merged))


# ---------------------------------------------------------------------------------------------
# arcade-core's models
# ---------------------------------------------------------------------------------------------


def unknown_keys(sent: Any, kept: Any, path: str = "") -> list[str]:
    """Keys of `sent` (the JSON) that the validated model dropped from `kept` (its dump)."""
    found = []
    if isinstance(sent, dict) and isinstance(kept, dict):
        for key, value in sent.items():
            if key not in kept:
                found.append(f"{path}.{key}".lstrip("."))
            else:
                found.extend(unknown_keys(value, kept[key], f"{path}.{key}"))
    elif isinstance(sent, list) and isinstance(kept, list):
        for index, (a, b) in enumerate(zip(sent, kept)):
            found.extend(unknown_keys(a, b, f"{path}[{index}]"))
    return found


def validated(model: Any, value: Any, what: str) -> Any:
    """`value` read by arcade-core's `model` in strict mode (no coercion: a number is no
    string, a kind must be an ErrorKind), or None after a failure. A key the model does not
    define fails too: pydantic drops it silently, so a misspelt optional field would pass."""
    try:
        parsed = model.model_validate_json(json.dumps(value), strict=True)
    except Exception as error:  # pydantic.ValidationError, naming every field that failed
        fail(f"{what}: arcade-core's {model.__name__} refuses FACT's JSON", str(error), value)
        return None
    dumped = parsed.model_dump(mode="json", by_alias=True, exclude_unset=True)
    extra = unknown_keys(value, dumped)
    if extra:
        fail(f"{what}: keys {model.__name__} does not define (arcade-core drops them)", extra)
        return None
    return parsed


def invocation(
    definition: dict[str, Any],
    inputs: Optional[dict[str, Any]],
    execution_id: str,
    context: Optional[ToolContext] = None,
) -> dict[str, Any]:
    """The Engine's request for `definition`'s tool, built with arcade-core's own model."""
    request = ToolCallRequest(
        execution_id=execution_id,
        tool=ToolReference(
            name=definition["name"],
            toolkit=definition["toolkit"]["name"],
            version=definition["toolkit"].get("version"),
        ),
        inputs=inputs,
        context=context or ToolContext(),
    )
    return request.model_dump(mode="json", exclude_none=True)


def is_iso_timestamp(value: Any) -> bool:
    try:
        datetime.datetime.fromisoformat(value)
    except (TypeError, ValueError):
        return False
    return True


def check_response(what: str, answer: Answer, execution_id: str) -> Optional[ToolCallResponse]:
    """FACT's answer to an invocation: HTTP 200, a ToolCallResponse, consistent with itself."""
    if not check(f"{what}: HTTP 200", answer.status == 200, answer.shown()):
        return None
    response = validated(ToolCallResponse, answer.json, what)
    if response is None:
        return None
    ok(f"{what}: a ToolCallResponse")
    output = response.output
    consistent = output is not None and (
        (response.success and output.error is None)
        or (not response.success and output.error is not None and output.value is None)
    )
    check(f"{what}: success agrees with output", consistent, answer.json)
    check(f"{what}: execution_id echoed", response.execution_id == execution_id, answer.json)
    check(f"{what}: finished_at is ISO 8601", is_iso_timestamp(response.finished_at), answer.json)
    check(f"{what}: duration >= 0 ms", response.duration >= 0, answer.json)
    return response


# ---------------------------------------------------------------------------------------------
# Shapes
# ---------------------------------------------------------------------------------------------


def without_nulls(value: Any) -> Any:
    """`value` without null, empty-list and empty-object members: arcade-serve writes every
    unset field as null where FACT leaves it out, and both mean the same to pydantic and Go."""
    if isinstance(value, dict):
        kept = {key: without_nulls(item) for key, item in value.items()}
        return {key: item for key, item in kept.items() if item not in (None, [], {})}
    if isinstance(value, list):
        return [without_nulls(item) for item in value]
    return value


def json_type(value: Any) -> str:
    if isinstance(value, bool):
        return "boolean"
    if isinstance(value, (int, float)):
        return "number"
    return {str: "string", list: "array", dict: "object", type(None): "null"}[type(value)]


def differences(fact: Any, arcade: Any, path: str = "") -> list[tuple[str, Any, Any]]:
    """Where two JSON values differ: (path, FACT's, arcade-serve's), None where absent."""
    if isinstance(fact, dict) and isinstance(arcade, dict):
        found = []
        for key in sorted(set(fact) | set(arcade)):
            path_of_key = f"{path}.{key}".lstrip(".")
            found.extend(differences(fact.get(key), arcade.get(key), path_of_key))
        return found
    if isinstance(fact, list) and isinstance(arcade, list) and len(fact) == len(arcade):
        found = []
        for index, (a, b) in enumerate(zip(fact, arcade)):
            found.extend(differences(a, b, f"{path}[{index}]"))
        return found
    if fact == arcade and json_type(fact) == json_type(arcade):
        return []
    return [(path, fact, arcade)]


def both(label: str, fact: Any, arcade: Any) -> str:
    return f"{label}: FACT {fact!r}, arcade-serve {arcade!r}"


def response_mismatches(what: str, fact: Any, arcade: Any) -> list[str]:
    """How two ToolCallResponses to the same request differ where they must agree: the same
    keys and types, the same success, the same value, or the same error kind and retry advice.
    Optional error fields one side fills and the other not are noted, not counted."""
    fact_shape, arcade_shape = without_nulls(fact), without_nulls(arcade)
    found = []
    for key in ["execution_id", "finished_at", "duration", "success", "output"]:
        types = json_type(fact_shape.get(key)), json_type(arcade_shape.get(key))
        if types[0] != types[1]:
            found.append(both(f"type of {key}", *types))
    if set(fact_shape) != set(arcade_shape):
        found.append(both("top-level keys", sorted(fact_shape), sorted(arcade_shape)))
    if fact_shape.get("success") != arcade_shape.get("success"):
        found.append(both("success", fact_shape.get("success"), arcade_shape.get("success")))
    fact_output, arcade_output = fact_shape.get("output", {}), arcade_shape.get("output", {})
    if set(fact_output) != set(arcade_output):
        found.append(both("output's keys", sorted(fact_output), sorted(arcade_output)))
    if "value" in fact_output and "value" in arcade_output:
        if differences(fact_output["value"], arcade_output["value"]):
            found.append(both("output.value", fact_output["value"], arcade_output["value"]))
    fact_error, arcade_error = fact_output.get("error"), arcade_output.get("error")
    if not (isinstance(fact_error, dict) and isinstance(arcade_error, dict)):
        return found
    compared = ["kind", "can_retry", "retry_after_ms", "message"]
    for key in compared[:3]:
        if fact_error.get(key) != arcade_error.get(key):
            found.append(both(f"output.error.{key}", fact_error.get(key), arcade_error.get(key)))
    for error in (fact_error, arcade_error):
        if not (isinstance(error.get("message"), str) and error["message"]):
            found.append(f"output.error.message: not a non-empty string in {error}")
    for key in sorted((set(fact_error) | set(arcade_error)) - set(compared)):
        fact_value, arcade_value = fact_error.get(key), arcade_error.get(key)
        differ = json_type(fact_value) != json_type(arcade_value)
        if differ or (key == "status_code" and fact_value != arcade_value):
            label = f"{what}: output.error.{key}"
            note(both(label, fact_value, arcade_value) + " (optional; the Engine needs neither)")
    return found

"""Arcade's own Python client (arcadepy 1.10.0) against FACT's Engine API.

Run by tests/tests/server/engine_arcadepy.rs, which starts the server and passes, in the
environment: FACT_ENGINE_BASE_URL (http://127.0.0.1:PORT/arcade), FACT_ENGINE_KEY (a key of
user "ada"), FACT_ENGINE_PROJECT_KEY (a key of any user, KEY:*), FACT_ENGINE_TOOLS (every
tool's name, sorted, comma-separated) and FACT_ENGINE_FIXTURE_TOOLS (the Fixture toolkit's).
Prints one line per check and exits non-zero at the first that fails.
"""

import os
import sys

import arcadepy
from arcadepy import Arcade

BASE_URL = os.environ["FACT_ENGINE_BASE_URL"]
TOOLS = os.environ["FACT_ENGINE_TOOLS"].split(",")
FIXTURE_TOOLS = os.environ["FACT_ENGINE_FIXTURE_TOOLS"].split(",")

# No retries: every answer this test expects comes the first time.
client = Arcade(api_key=os.environ["FACT_ENGINE_KEY"], base_url=BASE_URL, max_retries=0, timeout=30)
project = Arcade(
    api_key=os.environ["FACT_ENGINE_PROJECT_KEY"], base_url=BASE_URL, max_retries=0, timeout=30
)


def check(name, condition, detail=""):
    if not condition:
        print(f"FAILED {name}: {detail}", flush=True)
        sys.exit(1)
    print(f"ok {name}", flush=True)


def raises(call, error_type):
    try:
        call()
    except error_type as error:
        return error
    return None


check("health", client.health.check().healthy is True)

# Paging: the client follows offset/total_count to the end, two tools a page.
first = client.tools.list(limit=2)
check("first page holds two", len(first.items) == 2, first)
check("first page has a next", first.has_next_page(), first)
seen = [tool.qualified_name for tool in client.tools.list(limit=2)]
check("every tool listed once, in order", seen == TOOLS, f"{seen} != {TOOLS}")

fixtures = client.tools.list(limit=2, toolkit="FIXTURE", include_format=["arcade", "openai"])
check("toolkit filter counts", fixtures.total_count == len(FIXTURE_TOOLS), fixtures.total_count)
listed = [tool.qualified_name for tool in fixtures]
check("toolkit filter pages", listed == FIXTURE_TOOLS, listed)
formatted = fixtures.items[0].formatted_schema or {}
check(
    "include_format",
    set(formatted) == {"arcade", "openai"} and formatted["openai"]["type"] == "function",
    formatted,
)

tool = client.tools.get("Fixture.Echo@1.0.0")
check("get by name@version", tool.fully_qualified_name == "Fixture.Echo@1.0.0", tool)
check("get: toolkit", tool.toolkit.name == "Fixture" and tool.name == "Echo", tool)
parameters = {p.name: p for p in tool.input.parameters}
check(
    "get: parameters",
    parameters["text"].required is True and parameters["text"].value_schema.val_type == "string",
    parameters,
)
missing = raises(lambda: client.tools.get("Fixture.Nope"), arcadepy.NotFoundError)
check("get unknown: NotFoundError", missing is not None and missing.body["name"] == "not_found", missing)

done = client.tools.execute(tool_name="Fixture.Echo", input={"text": "hi", "times": 2})
check("execute: success", done.success is True and done.status == "success", done)
check("execute: value", done.output.value == "hihi", done.output)
check("execute: ids", bool(done.execution_id) and done.execution_type == "immediate", done)

failed = client.tools.execute(tool_name="Fixture.KindOf", input={"kind": "invalid"})
check("failure: success False", failed.success is False and failed.status == "failed", failed)
error = failed.output.error
check(
    "failure: error kind",
    error.kind == "TOOL_RUNTIME_BAD_INPUT_VALUE" and error.status_code == 400 and not error.can_retry,
    error,
)
check("failure: message", "judged bad" in error.message, error.message)

unknown = raises(lambda: client.tools.execute(tool_name="Fixture.Nope"), arcadepy.NotFoundError)
check("execute unknown: NotFoundError", unknown is not None and unknown.status_code == 404, unknown)

who = project.tools.execute(tool_name="Fixture.WhoAmI", user_id="carol@example.com")
check("project key acts for the user named", who.output.value["user"] == "carol@example.com", who)
mine = client.tools.execute(tool_name="Fixture.WhoAmI")
check("a user's key runs as its user", mine.output.value["user"] == "ada", mine)
refused = raises(
    lambda: client.tools.execute(tool_name="Fixture.WhoAmI", user_id="carol@example.com"),
    arcadepy.PermissionDeniedError,
)
check("a user's key may name no other user", refused is not None and refused.status_code == 403, refused)

granted = client.tools.authorize(tool_name="Fixture.Echo")
check("authorize a tool that needs no grant: completed", granted.status == "completed", granted)
no_provider = raises(
    lambda: project.tools.authorize(tool_name="Fixture.Private", user_id="carol@example.com"),
    arcadepy.APIStatusError,
)
check(
    "authorize without a provider: 501, not retried",
    no_provider is not None and no_provider.status_code == 501,
    no_provider,
)

print("arcadepy: all checks passed", flush=True)

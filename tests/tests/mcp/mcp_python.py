"""The official Python SDK's MCP client against FACT's /mcp (run by mcp/python.rs).

Usage: mcp_python.py MODE, where MODE is "auto" (the SDK's default: server/discover, the
current revision) or "legacy" (the initialize handshake). FACT_MCP_URL and FACT_MCP_KEY say
where and as whom. Every check raises on failure; the last line says all passed.
"""

import asyncio
import os
import sys

import httpx2
from mcp import Client
from mcp.client.streamable_http import streamable_http_client


def check(condition, what):
    if not condition:
        raise AssertionError(what)


async def main(mode):
    url = os.environ["FACT_MCP_URL"]
    key = os.environ["FACT_MCP_KEY"]
    async with httpx2.AsyncClient(headers={"Authorization": f"Bearer {key}"}, timeout=30) as http:
        async with Client(streamable_http_client(url, http_client=http), mode=mode) as client:
            print(f"mode={mode} protocol={client.protocol_version}")
            if mode == "legacy":
                check(client.protocol_version != "2026-07-28", f"legacy negotiated {client.protocol_version}")
            else:
                check(client.protocol_version == "2026-07-28", f"auto negotiated {client.protocol_version}")

            listed = await client.list_tools()
            names = sorted(tool.name for tool in listed.tools)
            check("Mcp.Add" in names and "Mcp.Count" in names, f"tools: {names}")
            add = next(tool for tool in listed.tools if tool.name == "Mcp.Add")
            check(add.title == "Add numbers", f"title: {add.title}")
            hints = add.annotations
            check(
                (hints.read_only_hint, hints.destructive_hint, hints.idempotent_hint, hints.open_world_hint)
                == (True, False, True, False),
                f"annotations: {hints}",
            )
            shout = next(tool for tool in listed.tools if tool.name == "Mcp.Shout")
            check(shout.output_schema["properties"]["result"] == {"type": "string"}, f"{shout.output_schema}")

            # The SDK validates structured content against the listed output schema.
            added = await client.call_tool("Mcp.Add", {"a": 2, "b": 3})
            check(not added.is_error, f"add failed: {added}")
            check(added.structured_content == {"sum": 5.0}, f"add: {added.structured_content}")
            check(added.content[0].text == '{"sum":5.0}', f"add text: {added.content}")

            shouted = await client.call_tool("Mcp.Shout", {"text": "hi"})
            check(shouted.structured_content == {"result": "HI"}, f"shout: {shouted.structured_content}")

            heard = []

            async def on_progress(progress, total, message):
                heard.append((progress, total, message))

            counted = await client.call_tool("Mcp.Count", {}, progress_callback=on_progress)
            check(counted.structured_content == {"counted": 3}, f"count: {counted}")
            check(
                heard == [(1.0, 3.0, "step 1"), (2.0, 3.0, "step 2"), (3.0, 3.0, "step 3")],
                f"progress heard: {heard}",
            )

            failed = await client.call_tool("Mcp.Fail", {})
            check(failed.is_error, f"fail: {failed}")
            check(failed.structured_content["error_type"] == "ToolExecutionError", f"{failed.structured_content}")
            check(failed.structured_content["status_code"] == 500, f"{failed.structured_content}")
            check("the disk is full" in failed.content[0].text, f"{failed.content}")

            invalid = await client.call_tool("Mcp.Add", {"a": "two", "b": 3})
            check(invalid.is_error and invalid.structured_content["status_code"] == 400, f"{invalid}")

            private = await client.call_tool("Mcp.Private", {})
            check(private.is_error and private.structured_content["status_code"] == 401, f"{private}")
            check(private.structured_content["authorization_url"].startswith("http://127.0.0.1:"), f"{private}")

            try:
                await client.call_tool("Mcp.Nothing", {})
            except Exception as error:  # the SDK raises the protocol error
                check("Mcp.Nothing" in str(error), f"unknown tool error: {error!r}")
            else:
                raise AssertionError("an unknown tool was answered as a result")
    print("mcp: all checks passed")


if __name__ == "__main__":
    asyncio.run(main(sys.argv[1]))

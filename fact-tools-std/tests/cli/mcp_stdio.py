"""The official Python SDK's MCP client starting `fact mcp` (run by cli/mcp.rs).

FACT_BIN is the binary, FACT_DATABASE_URL its audit database, FACT_FS_ROOTS its file root
(holding notes.txt). Every check raises on failure; the last line says all passed.
"""

import asyncio
import os

from mcp import Client, StdioServerParameters


def check(condition, what):
    if not condition:
        raise AssertionError(what)


async def main():
    server = StdioServerParameters(
        command=os.environ["FACT_BIN"],
        args=["mcp"],
        env={
            "DATABASE_URL": os.environ["FACT_DATABASE_URL"],
            "FACT_FS_ROOTS": os.environ["FACT_FS_ROOTS"],
            "FACT_MCP_USER": "grace",
        },
    )
    async with Client(server) as client:
        listed = await client.list_tools()
        names = {tool.name for tool in listed.tools}
        check("FileSystem.ListDirectory" in names and "SQL.Query" in names, f"tools: {names}")
        result = await client.call_tool("FileSystem.ListDirectory", {})
        check(not result.is_error, f"list failed: {result}")
        check("notes.txt" in result.content[0].text, f"listing: {result.content}")
        bad = await client.call_tool("FileSystem.ReadFile", {"file_path": "../../etc/passwd"})
        check(bad.is_error, f"an escape was answered: {bad}")
        check(bad.structured_content["status_code"] in (400, 403), f"{bad.structured_content}")
    print("mcp stdio: all checks passed")


if __name__ == "__main__":
    asyncio.run(main())

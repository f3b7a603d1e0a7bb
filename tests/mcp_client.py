"""A real MCP client (the official Python SDK, PyPI `mcp`) for tests/mcp.rs.

Usage: python mcp_client.py SERVER [ARGS...] < steps.json

Starts SERVER over stdio in the current directory with this process's
environment, initializes, then runs the steps in order and prints one JSON
object: {"server": ..., "steps": [...]}. A step is {"list_tools": true} or
{"call": NAME, "arguments": {...}}. A protocol error (such as invalid
arguments) is recorded in the step's result and the session goes on, so a
later step shows whether the server kept running.
"""

import asyncio
import json
import os
import sys

from mcp import ClientSession, StdioServerParameters
from mcp.client.stdio import stdio_client

try:  # mcp >= 2
    from mcp import MCPError
except ImportError:  # mcp 1.x spelled it McpError
    from mcp.shared.exceptions import McpError as MCPError


def dump(model):
    return model.model_dump(mode="json", by_alias=True, exclude_none=True)


async def main():
    steps = json.load(sys.stdin)
    params = StdioServerParameters(
        command=sys.argv[1],
        args=sys.argv[2:],
        env=dict(os.environ),
        cwd=os.getcwd(),
    )
    out = {"steps": []}
    async with stdio_client(params) as (read, write):
        async with ClientSession(read, write) as session:
            init = await session.initialize()
            out["server"] = dump(init)
            for step in steps:
                try:
                    if step.get("list_tools"):
                        result = await session.list_tools()
                    else:
                        result = await session.call_tool(
                            step["call"], step.get("arguments") or {}
                        )
                    out["steps"].append({"ok": dump(result)})
                except MCPError as e:
                    out["steps"].append(
                        {"protocol_error": {"code": e.error.code, "message": e.error.message}}
                    )
    print(json.dumps(out))


if __name__ == "__main__":
    asyncio.run(main())

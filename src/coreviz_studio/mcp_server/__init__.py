"""The MCP server (docs/mcp.md): the official CoreViz MCP tools, and ours, on the official `mcp`
SDK, speaking to the library through the typed client only (never the database)."""

from coreviz_studio.mcp_server.tools import OFFICIAL_TOOLS, OUR_TOOLS, build_server

__all__ = ["OFFICIAL_TOOLS", "OUR_TOOLS", "build_server"]

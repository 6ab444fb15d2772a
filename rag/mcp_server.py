"""``rag mcp``: the assistant as an MCP server, for Claude Desktop, VS Code, Cursor and other MCP clients.

Built on the official ``mcp`` SDK. Tools: ``ask`` (a cited answer: readable text plus the ``Answer`` as
structured content), ``search_papers`` (ranked papers with relevance and their best evidence),
``list_papers`` and ``get_paper``. A ``RagError`` comes back as a tool error with its one-line message.
Transports: stdio (what desktop clients spawn), or streamable HTTP bound to 127.0.0.1 only.
"""

from __future__ import annotations

from typing import Any, Literal

from mcp.server.mcpserver import MCPServer
from mcp.server.mcpserver.exceptions import ToolError
from mcp_types import CallToolResult, TextContent

from rag.assistant import AskOptions, Assistant
from rag.errors import RagError

INSTRUCTIONS = (
    "Answers questions about a collection of research-paper abstracts. Every claim in an answer cites the "
    "papers it came from ([n]); when the abstracts don't answer a question, the answer says so."
)


def build_server(assistant: Assistant) -> MCPServer:
    server = MCPServer("rag", instructions=INSTRUCTIONS, log_level="WARNING")

    @server.tool()
    def ask(question: str, k: int = 10, answerer: Literal["auto", "llm", "extractive"] = "auto") -> CallToolResult:
        """Answer a question from the indexed abstracts; every claim cites its papers as [n]."""
        try:
            answer = assistant.ask(question, AskOptions(k=k, answerer=answerer))
        except RagError as error:
            raise ToolError(str(error)) from None
        return CallToolResult(content=[TextContent(type="text", text=answer.text)], structured_content=answer.to_dict())

    @server.tool()
    def search_papers(query: str, k: int = 10) -> list[dict[str, Any]]:
        """The papers that best match a query, best first, with relevance, support and their best evidence."""
        try:
            found = assistant.search(query, k)
        except RagError as error:
            raise ToolError(str(error)) from None
        return [
            {
                "id": f.paper.paper_id,
                "title": f.paper.title,
                "relevance": f.relevance,
                "support": f.support,
                "evidence": f.evidence,
                "url": f.paper.url,
                "authors": f.paper.authors,
                "year": f.paper.year,
            }
            for f in found
        ]

    @server.tool()
    def list_papers() -> list[dict[str, Any]]:
        """Every indexed paper: id, title, authors, year, link."""
        try:
            records = assistant.papers()
        except RagError as error:
            raise ToolError(str(error)) from None
        return [{"id": r.id, "title": r.title, "authors": r.authors, "year": r.year, "url": r.url} for r in records]

    @server.tool()
    def get_paper(paper_id: str) -> dict[str, Any]:
        """One paper by id: title, abstract, authors, year, DOI, link, source file."""
        try:
            record = assistant.paper(paper_id)
        except RagError as error:
            raise ToolError(str(error)) from None
        return {
            "id": record.id,
            "title": record.title,
            "abstract": record.abstract,
            "authors": record.authors,
            "year": record.year,
            "doi": record.doi,
            "url": record.url,
            "source": record.source,
        }

    return server


def serve(assistant: Assistant, http_port: int | None = None) -> None:
    """Serve over stdio, or over streamable HTTP on 127.0.0.1:``http_port`` (never another address)."""
    server = build_server(assistant)
    if http_port is None:
        server.run("stdio")
    else:
        server.run("streamable-http", host="127.0.0.1", port=http_port)

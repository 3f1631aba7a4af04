"""`GET /docs`: the API as one self-contained HTML page, readable on an offline workstation.

FastAPI's own /docs and /redoc pages load Swagger UI / ReDoc scripts from a CDN
(cdn.jsdelivr.net), so they are blank without internet; the bridge turns them off and serves
this page instead, built from the same OpenAPI document (/openapi.json, which any OpenAPI viewer
opens): each endpoint with its summary, request body and responses. No script, style sheet or
link leaves the bridge.
"""

from __future__ import annotations

from html import escape
from typing import Any


def docs_page(openapi: dict[str, Any]) -> str:
    """The HTML page of an OpenAPI document (FastAPI's app.openapi())."""
    info = openapi.get("info", {})
    rows = []
    for path, methods in openapi.get("paths", {}).items():
        for method, operation in methods.items():
            body = operation.get("requestBody", {}).get("content", {}).get("application/json", {}).get("schema", {})
            responses = ", ".join(f"{code} {escape(r.get('description', ''))}"
                                  for code, r in operation.get("responses", {}).items())
            rows.append(f"<tr><td><code>{escape(method.upper())} {escape(path)}</code></td>"
                        f"<td>{escape(operation.get('summary', ''))}</td>"
                        f"<td>{escape(_schema_name(body))}</td><td>{responses}</td></tr>")
    schemas = []
    for name, schema in openapi.get("components", {}).get("schemas", {}).items():
        fields = "".join(f"<li><code>{escape(field)}</code>: {escape(_schema_name(spec))}"
                         f"{' (required)' if field in schema.get('required', ()) else ''}"
                         f"{' — ' + escape(spec['description']) if spec.get('description') else ''}</li>"
                         for field, spec in schema.get("properties", {}).items())
        schemas.append(f"<h3 id=\"{escape(name)}\">{escape(name)}</h3><p>{escape(schema.get('description', ''))}</p>"
                       f"<ul>{fields}</ul>")
    return (f"<!DOCTYPE html><html><head><meta charset=\"utf-8\"><title>{escape(info.get('title', ''))}</title></head>"
            f"<body><h1>{escape(info.get('title', ''))} {escape(info.get('version', ''))}</h1>"
            f"<p>{escape(info.get('description', ''))}</p><p>The OpenAPI document: <a href=\"openapi.json\">"
            f"openapi.json</a>.</p><table border=\"1\"><tr><th>endpoint</th><th>what it does</th>"
            f"<th>request body</th><th>responses</th></tr>{''.join(rows)}</table><h2>Schemas</h2>"
            f"{''.join(schemas)}</body></html>")


def _schema_name(schema: dict[str, Any]) -> str:
    """A short name of a JSON schema: its $ref's name, a type, or the alternatives of anyOf."""
    if "$ref" in schema:
        return schema["$ref"].rsplit("/", 1)[-1]
    if "anyOf" in schema:
        return " | ".join(_schema_name(s) for s in schema["anyOf"])
    if schema.get("type") == "array":
        return f"list of {_schema_name(schema.get('items', {}))}"
    if "enum" in schema:
        return " | ".join(map(str, schema["enum"]))
    return str(schema.get("type", ""))

"""GraphQL over HTTP as the specification says (graphql.github.io/graphql-over-http).

Strawberry's view executes; this layer decides what goes on the wire:

- the answer's media type, negotiated from ``Accept`` (``negotiate``):
  ``application/graphql-response+json`` or ``application/json``; none of them: 406;
- its status (``status_for``): with ``application/json`` 200 for every well-formed request,
  whatever GraphQL said; with ``application/graphql-response+json`` 400 when the request
  failed before execution (parse, validation, variable coercion, unknown operation);
- a request error has no ``data`` entry (GraphQL spec), under either media type;
- every error answer, malformed requests included, is a GraphQL JSON response
  (``{"errors": [{"message": ...}]}``), never text;
- mutations over GET: 405 with ``Allow: POST``;
- a document of several operations without ``operationName`` is a request error (GraphQL
  spec, GetOperation), where Strawberry would run the first one;
- trusted documents: ``documentId`` instead of ``query`` (``server/trusted_documents.py``).
"""

from __future__ import annotations

from dataclasses import dataclass
from functools import lru_cache
from typing import Any

from cross_web import AsyncHTTPRequestAdapter, HTTPException
from graphql import GraphQLError, OperationDefinitionNode, parse
from starlette.requests import Request
from starlette.responses import Response
from starlette.types import Receive, Scope, Send
from strawberry.asgi import GraphQL
from strawberry.exceptions import MissingQueryError
from strawberry.http import GraphQLHTTPResponse, GraphQLRequestData
from strawberry.http.base import BaseRequestProtocol
from strawberry.http.parse_content_type import parse_content_type
from strawberry.schema.exceptions import CannotGetOperationTypeError, InvalidOperationTypeError
from strawberry.types import ExecutionResult
from strawberry.types.execution import PreExecutionError
from strawberry.types.graphql import OperationType

from models.faults import answering_within
from schema.context import Context
from schema.graphql import MAX_TOKENS
from server.graphiql import GraphiQLPage
from server.trusted_documents import DocumentRefused, TrustedDocuments

GRAPHQL_RESPONSE_JSON = "application/graphql-response+json"
APPLICATION_JSON = "application/json"
UTF8 = ("utf-8", "utf8")


def negotiate(accept: str | None) -> str | None:
    """The media type to answer in, from the request's ``Accept``; None: nothing we speak
    (406). No header, ``*/*`` or ``application/*``: application/json, as the spec says
    for clients that predate graphql-response+json. The highest ``q`` wins; on a tie,
    graphql-response+json."""
    if accept is None or not accept.strip():
        return APPLICATION_JSON
    best: tuple[float, int, str] | None = None
    for item in accept.split(","):
        media_range, *params = (part.strip() for part in item.split(";"))
        quality, charset_ok = 1.0, True
        for param in params:
            name, _, value = param.partition("=")
            name, value = name.strip().lower(), value.strip().strip('"').lower()
            if name == "q":
                try:
                    quality = float(value)
                except ValueError:
                    quality = 0.0
            elif name == "charset":
                charset_ok = value in UTF8
        media_range = media_range.lower()
        if media_range == GRAPHQL_RESPONSE_JSON:
            candidate = (quality, 1, GRAPHQL_RESPONSE_JSON)
        elif media_range in (APPLICATION_JSON, "application/*", "*/*"):
            candidate = (quality, 0, APPLICATION_JSON)
        else:
            continue
        if charset_ok and quality > 0 and (best is None or candidate[:2] > best[:2]):
            best = candidate
    return best[2] if best else None


def status_for(media_type: str, body: GraphQLHTTPResponse | list[GraphQLHTTPResponse]) -> int:
    """The status of a GraphQL response (one that executed or failed as a request error).
    application/json: 200 whatever GraphQL said. graphql-response+json: 400 when the request
    failed before execution (no ``data`` entry), else 200 (a ``data`` of null from a field
    error is still 200, as the spec recommends)."""
    if media_type == GRAPHQL_RESPONSE_JSON and isinstance(body, dict) and "data" not in body:
        return 400
    return 200


def is_request_error(result: ExecutionResult) -> bool:
    """Failed before any resolver ran: parse, validation, variable coercion, unknown
    operation. Field errors always carry a path."""
    if isinstance(result, PreExecutionError):
        return True
    return result.data is None and all(
        getattr(error, "path", None) is None for error in result.errors or ()
    )


def error_body(message: str, code: str | None = None) -> dict[str, Any]:
    error: dict[str, Any] = {"message": message}
    if code:
        error["extensions"] = {"code": code}
    return {"errors": [error]}


@dataclass
class RequestData(GraphQLRequestData):
    """A request, and why its document is refused (trusted documents), if it is."""

    refusal: DocumentRefused | None = None


class GraphQLOverHTTP(GraphQL[Context, None]):
    """Strawberry's ASGI view with the wire rules of the module docstring."""

    documents: TrustedDocuments
    graphiql: GraphiQLPage | None = None
    # Every request answers within this many seconds when a dependency hangs (None: each
    # wait bounded on its own): its waits on the database get only what is left.
    answer_within_seconds: float | None = None

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http":
            await super().__call__(scope, receive, send)
            return
        request = Request(scope=scope, receive=receive)
        try:
            with answering_within(self.answer_within_seconds):
                response = await self.run(request)
        except HTTPException as e:
            media_type = negotiate(request.headers.get("accept")) or APPLICATION_JSON
            response = Response(
                self.encode_json(error_body(e.reason)),
                status_code=e.status_code,
                media_type=f"{media_type}; charset=utf-8",
                headers={"Allow": "POST"} if e.status_code == 405 else None,
            )
        await response(scope, receive, send)

    async def render_graphql_ide(self, request: Request) -> Response:
        if self.graphiql is None:
            return await super().render_graphql_ide(request)
        return self.graphiql.render(request)

    def should_render_graphql_ide(self, request: BaseRequestProtocol) -> bool:
        params = request.query_params
        return params.get("documentId") is None and super().should_render_graphql_ide(request)

    async def get_sub_response(self, request: Request | Any) -> Response:
        sub_response = await super().get_sub_response(request)
        accepted = negotiate(request.headers.get("accept"))
        sub_response.media_type = accepted or APPLICATION_JSON
        return sub_response

    def create_response(
        self,
        response_data: GraphQLHTTPResponse | list[GraphQLHTTPResponse],
        sub_response: Response,
    ) -> Response:
        media_type = sub_response.media_type or APPLICATION_JSON
        response = Response(
            self.encode_json(response_data),
            status_code=sub_response.status_code or status_for(media_type, response_data),
            media_type=f"{media_type}; charset=utf-8",
        )
        response.headers.raw.extend(
            (name, value) for name, value in sub_response.headers.raw if name != b"content-type"
        )
        if sub_response.background:
            response.background = sub_response.background
        return response

    async def process_result(self, request: Request, result: ExecutionResult) -> Any:
        body = await super().process_result(request, result)
        if is_request_error(result):
            body.pop("data", None)  # a request error has no data entry (not even null)
        return body

    async def parse_http_body(self, request: AsyncHTTPRequestAdapter) -> RequestData:
        if negotiate(request.headers.get("accept")) is None:
            raise HTTPException(
                406, f"Accept {GRAPHQL_RESPONSE_JSON} or {APPLICATION_JSON} (utf-8)"
            )
        content_type, _ = parse_content_type(request.content_type or "")
        if request.method == "GET":
            data = self.parse_query_params(request.query_params)
        elif content_type == APPLICATION_JSON:
            data = self.parse_json(await request.get_body())
        else:
            raise HTTPException(400, "Unsupported content type: send application/json")
        if not isinstance(data, dict):
            raise HTTPException(400, "Batching is not enabled: send one request object")
        query = _param(data, "query", str)
        document_id = _param(data, "documentId", str)
        operation_name = _param(data, "operationName", str)
        variables = _param(data, "variables", dict)
        extensions = _param(data, "extensions", dict)
        refusal = None
        try:
            query = self.documents.resolve(query, document_id)
        except DocumentRefused as refused:
            refusal = refused
        return RequestData(
            query=query,
            variables=variables,
            operation_name=operation_name,
            extensions=extensions,
            refusal=refusal,
        )

    async def execute_single(
        self,
        request: Request,
        request_adapter: AsyncHTTPRequestAdapter,
        sub_response: Response,
        context: Context,
        root_value: None,
        request_data: GraphQLRequestData,
    ) -> ExecutionResult:
        if isinstance(request_data, RequestData) and request_data.refusal:
            refusal = request_data.refusal
            return PreExecutionError(
                data=None, errors=[GraphQLError(str(refusal), extensions={"code": refusal.code})]
            )
        if request_data.operation_name is None and _operations(request_data.query) > 1:
            return PreExecutionError(
                data=None,
                errors=[
                    GraphQLError(
                        "Must provide operation name if query contains multiple operations."
                    )
                ],
            )
        allowed = OperationType.from_http(request_adapter.method)
        if not self.allow_queries_via_get and request_adapter.method == "GET":
            allowed = allowed - {OperationType.QUERY}
        try:
            return await self.schema.execute(
                request_data.query,
                variable_values=request_data.variables,
                context_value=context,
                root_value=root_value,
                operation_name=request_data.operation_name,
                allowed_operation_types=allowed,
                operation_extensions=request_data.extensions,
            )
        except CannotGetOperationTypeError as e:  # a stale operationName: a request error
            return PreExecutionError(data=None, errors=[GraphQLError(e.as_http_error_reason())])
        except InvalidOperationTypeError as e:
            raise HTTPException(405, e.as_http_error_reason(request_adapter.method)) from e
        except MissingQueryError as e:
            raise HTTPException(400, "No GraphQL query found in the request") from e


@lru_cache(maxsize=256)
def _operations(query: str | None) -> int:
    """How many operations a document holds (0 when it does not parse: Strawberry then
    reports the syntax error). Parsed under the same token limit as the schema's parse, and
    only for requests without operationName (GraphiQL and the clients always send one)."""
    if not query:
        return 0
    try:
        document = parse(query, no_location=True, max_tokens=MAX_TOKENS)
    except GraphQLError:
        return 0
    return sum(isinstance(d, OperationDefinitionNode) for d in document.definitions)


def _param(data: dict[str, Any], name: str, kind: type) -> Any:
    """A request parameter of the expected JSON type, or null; anything else is a 400."""
    value = data.get(name)
    if value is None or isinstance(value, kind):
        return value
    what = "a string" if kind is str else "an object"
    raise HTTPException(400, f"The request's `{name}` must be {what} or null, if provided.")


__all__ = ["GraphQLOverHTTP", "negotiate", "status_for"]

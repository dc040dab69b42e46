"""The search API (`newsflow api`): /search, /articles/{id}, /stories/{id}, /health, /metrics, the page at /, its docs at /docs.

Routes are thin: they turn parameters into a `SearchRequest`, ask Elasticsearch, and shape the
answer. What they answer besides results, always with a message and never a trace:

1. Bad parameters, a refused query (`search.query.BadSearch`) or a search Elasticsearch refuses
   (its 400s) answer 422.
2. A search that runs past NEWSFLOW_SEARCH_TIMEOUT is stopped by Elasticsearch and answers 504;
   partial results are never served.
3. An unavailable or overloaded Elasticsearch answers 503 with a generic message: the endpoint
   and the error go to the log, not to anonymous readers.
4. A hit's `url` is null unless it is an http(s) URL: nothing else is handed out as a link.
5. Every answer carries security headers (`SecurityHeaders`): scripts, styles and connections
   from this origin only, no framing, no MIME sniffing, no referrer. The page and /docs have no
   inline script; Swagger UI's files come from the fastapi-offline package, not from a CDN.
"""

import gc
import logging
import time
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from datetime import date
from importlib.resources import files
from typing import Annotated, Any, Literal

from elastic_transport import ConnectionError as TransportConnectionError
from elastic_transport import ConnectionTimeout
from elasticsearch import ApiError, NotFoundError
from elasticsearch.serializer import OrjsonSerializer
from fastapi import FastAPI, HTTPException, Query, Request
from fastapi.responses import HTMLResponse, JSONResponse, Response
from fastapi.staticfiles import StaticFiles
from prometheus_client import CONTENT_TYPE_LATEST, CollectorRegistry, Histogram, generate_latest
from pydantic import AfterValidator, AliasChoices, BaseModel, Field, TypeAdapter, ValidationError
from starlette.types import ASGIApp, Message, Receive, Scope, Send
from typing_extensions import TypedDict  # pydantic reads typing's only from Python 3.12

from newsflow.clients import elasticsearch_client
from newsflow.settings import Settings
from search.names import EntityNames
from search.query import (
    ENTITY_FACETS,
    BadSearch,
    SearchRequest,
    encode_cursor,
    entity_names_body,
    language_highlights,
    search_body,
    story_body,
    story_sizes_body,
)
from transform.contract import WebUrl

MAX_SIZE = 100
MAX_QUERY_LENGTH = 500
WEB = files("search") / "web"
SWAGGER_UI = files("fastapi_offline") / "static"  # swagger-ui-bundle.js and swagger-ui.css, Swagger UI 5
UNAVAILABLE = "Elasticsearch is unavailable; try again shortly"
TIMED_OUT = "the search took too long and was stopped; try fewer or more specific words"
SECURITY_HEADERS = [
    # No inline script or style anywhere; data: images are Swagger UI's icons.
    (
        b"content-security-policy",
        b"default-src 'none'; script-src 'self'; style-src 'self'; img-src 'self' data:; connect-src 'self'; "
        b"font-src 'self'; base-uri 'none'; form-action 'self'; frame-ancestors 'none'",
    ),
    (b"x-frame-options", b"DENY"),  # frame-ancestors for browsers that predate it
    (b"x-content-type-options", b"nosniff"),
    (b"referrer-policy", b"no-referrer"),  # a news site learns nothing of the reader's search host
]

WEB_URL = TypeAdapter(WebUrl)
log = logging.getLogger(__name__)


def web_link(url: str | None) -> str | None:
    """`url` if news.articles' contract takes it (an absolute http(s) URL), else None.

    Documents indexed before the contract checked may hold `javascript:` and the like, which run
    in the page's origin when clicked."""
    try:
        return WEB_URL.validate_python(url)
    except ValidationError:
        return None


class HitEntity(BaseModel):
    type: str
    key: str
    name: str


class Hit(BaseModel):
    article_id: str
    title: str
    url: Annotated[str | None, AfterValidator(web_link)] = Field(description="The article's address; null unless it is http(s).")
    source_id: str
    site_name: str | None = None
    language: str | None = None
    authors: list[str] = []
    lead: str = ""
    published_at: str | None = None
    first_seen_at: str
    duplicate_of: str | None = None
    entities: list[HitEntity] = []
    story_id: str | None = Field(
        None, description="The id of the first article of the article's story; null on an index from before stories."
    )
    story_size: int = Field(1, description="How many articles the story has.")
    story_publishers: int = Field(1, description="How many sources published the story's articles.")
    highlight: dict[str, list[str]] = {}


# A facet's buckets are dicts, not models, read from Elasticsearch's buckets as they come: pydantic's core
# reads the day facet's hundreds into dicts in 0.09 ms, and made a model of each in 0.7 ms.
class Bucket(TypedDict):
    """A facet's value and how many articles have it."""

    value: Annotated[str, Field(validation_alias=AliasChoices("key_as_string", "key"))]  # a day's is formatted
    count: Annotated[int, Field(validation_alias="doc_count")]


class EntityBucket(TypedDict):
    value: Annotated[str, Field(description="The entity's key: the value of its filter (person=, place=, organization=).")]
    name: str
    count: int


class Facets(BaseModel):
    sources: list[Bucket]
    languages: list[Bucket]
    published_per_day: list[Bucket]
    people: list[EntityBucket]
    places: list[EntityBucket]
    organizations: list[EntityBucket]


BUCKET_FACETS = ["sources", "languages", "published_per_day"]  # Elasticsearch's buckets as they come; entities are named


class SearchResponse(BaseModel):
    total: int
    stories: int | None = Field(None, description="With collapse=true: how many stories the articles found belong to.")
    took_ms: int
    results: list[Hit]
    next: str | None = None  # search_after token of the next page, if there is one
    facets: Facets


class StoryArticle(BaseModel):
    article_id: str
    title: str
    url: Annotated[str | None, AfterValidator(web_link)] = Field(description="The article's address; null unless it is http(s).")
    site_name: str | None = None
    language: str | None = None
    authors: list[str] = []
    published_at: str | None = None
    first_seen_at: str
    duplicate_of: str | None = None


class StoryPublisher(BaseModel):
    source_id: str
    site_name: str | None = Field(description="The name the publisher's pages give, of its first article in the story.")
    articles: list[StoryArticle]


class StoryResponse(BaseModel):
    story_id: str = Field(description="The id of the story's first article.")
    size: int = Field(description="How many articles the story has.")
    publishers: list[StoryPublisher] = Field(
        description="Its articles by publisher, the first article's publisher first; "
        "each publisher's articles by publication, then first sight."
    )


@asynccontextmanager
async def frozen_heap(app: FastAPI) -> AsyncIterator[None]:
    """Once the server runs, what the imports and the app made is moved out of the garbage collector's
    sight (`gc.freeze`): its full collections walked all of it, one search in a hundred waiting 90 ms."""
    gc.freeze()
    yield


def create_app(settings: Settings) -> FastAPI:
    # FastAPI's own /docs and /redoc load their scripts from a CDN, with an inline script.
    app = FastAPI(
        title="newsflow search",
        description="Search the news newsflow ingested.",
        version="1",
        docs_url=None,
        redoc_url=None,
        lifespan=frozen_heap,
    )
    # A search tries each node once: on a cluster a node that died is passed over at once; on one node an
    # outage is a 503 at once, not a reader waiting through retries. Answers are read by orjson: a search's
    # 72 KB (a page of ten and the facets) took the standard library's json 0.5 ms, orjson 0.16.
    es = elasticsearch_client(settings, max_retries=len(settings.elasticsearch_urls) - 1, serializer=OrjsonSerializer())
    search_timeout = f"{round(settings.search_timeout * 1000)}ms"

    def search_index(**request: Any) -> dict:
        """A search of the index alias within NEWSFLOW_SEARCH_TIMEOUT: one past it fails (504) instead of
        answering in part, which would show some results without their story sizes, or name a facet's
        keys by themselves for as long as `EntityNames` keeps them."""
        return _ask(
            lambda: (
                es.search(index=settings.index_alias, timeout=search_timeout, allow_partial_search_results=False, **request).body
            )
        )

    entity_names = EntityNames(lambda keys: search_index(**entity_names_body(keys)))
    registry = CollectorRegistry()
    latency = Histogram("newsflow_api_request_seconds", "API request latency.", ["route", "status"], registry=registry)

    app.add_middleware(LatencyMetrics, histogram=latency)
    app.add_middleware(SecurityHeaders)

    @app.exception_handler(TransportConnectionError)
    @app.exception_handler(ConnectionTimeout)
    async def unreachable(request: Request, exc: Exception) -> JSONResponse:
        log.warning("Elasticsearch at %s is unavailable: %s", settings.elasticsearch_url, exc)
        return JSONResponse({"detail": UNAVAILABLE}, 503)

    @app.get("/search", response_model=SearchResponse)
    def search(
        q: Annotated[str | None, Query(max_length=MAX_QUERY_LENGTH, description='Words; "phrases", -exclusions, a | b.')] = None,
        # B006: FastAPI deep-copies these list defaults for each request, so none is ever shared.
        source: Annotated[list[str], Query(description="Only these source ids.")] = [],  # noqa: B006
        language: Annotated[list[str], Query(description="Only these ISO 639-1 languages.")] = [],  # noqa: B006
        author: Annotated[list[str], Query(description="Only these authors (exact names).")] = [],  # noqa: B006
        person: Annotated[list[str], Query(description="Only articles naming each of these people (keys of the facet).")] = [],  # noqa: B006
        place: Annotated[list[str], Query(description="Only articles naming each of these places (keys).")] = [],  # noqa: B006
        organization: Annotated[list[str], Query(description="Only articles naming each of these organisations (keys).")] = [],  # noqa: B006
        published_from: Annotated[date | None, Query(alias="from", description="Published on or after (YYYY-MM-DD).")] = None,
        published_to: Annotated[date | None, Query(alias="to", description="Published on or before (YYYY-MM-DD).")] = None,
        duplicates: Annotated[bool, Query(description="Also show near-duplicates of earlier articles.")] = False,
        collapse: Annotated[
            bool, Query(description="One hit per story: its best match among all its articles, duplicates included.")
        ] = False,
        sort: Annotated[Literal["relevance", "date"], Query()] = "relevance",
        size: Annotated[int, Query(ge=1, le=MAX_SIZE)] = 10,
        search_after: Annotated[str | None, Query(description="The `next` token of the previous page.")] = None,
    ) -> Response:
        request = SearchRequest(
            q=q,
            sources=source,
            languages=language,
            authors=author,
            people=person,
            places=place,
            organizations=organization,
            published_from=published_from,
            published_to=published_to,
            duplicates=duplicates,
            collapse=collapse,
            sort=sort,
            size=size,
            search_after=search_after,
        )
        try:
            body = search_body(request)
        except BadSearch as exc:
            raise HTTPException(422, str(exc)) from None
        answer = search_index(ignore_unavailable=True, allow_no_indices=True, **body)
        hits = answer["hits"]["hits"]
        aggregations = answer.get("aggregations", {})
        results = [Hit(**hit["_source"], highlight=language_highlights(hit.get("highlight", {}))) for hit in hits]
        add_story_sizes(results)
        token = None
        if len(hits) == size:  # a collapsed search pages by offset (search.query, step 4)
            token = encode_cursor([body.get("from", 0) + size] if collapse else hits[-1]["sort"])
        found = SearchResponse(
            total=answer["hits"]["total"]["value"],
            stories=aggregations["stories"]["value"] if collapse else None,
            took_ms=answer["took"],
            results=results,
            next=token,
            facets=Facets.model_validate(
                {name: aggregations.get(name, {}).get("buckets", []) for name in BUCKET_FACETS} | entity_facets(aggregations)
            ),
        )
        # Built and checked above: returned as JSON directly, FastAPI would validate it all again.
        return Response(found.model_dump_json(), media_type="application/json")

    @app.get("/articles/{article_id}")
    def article(article_id: str) -> dict:
        try:
            found = _ask(lambda: es.get(index=settings.index_alias, id=article_id))
        except NotFoundError:
            raise HTTPException(404, f"no article {article_id}") from None
        return found["_source"]

    def entity_facets(aggregations: dict) -> dict[str, list[EntityBucket]]:
        buckets = {facet: aggregations.get(facet, {}).get("buckets", []) for facet in ENTITY_FACETS}
        names = entity_names.name(
            {entity_type: [bucket["key"] for bucket in buckets[facet]] for facet, entity_type in ENTITY_FACETS.items()}
        )
        return {
            facet: [
                EntityBucket(value=bucket["key"], name=names[(entity_type, bucket["key"])], count=bucket["doc_count"])
                for bucket in buckets[facet]
            ]
            for facet, entity_type in ENTITY_FACETS.items()
        }

    def add_story_sizes(results: list[Hit]) -> None:
        story_ids = sorted({hit.story_id for hit in results if hit.story_id})
        if not story_ids:
            return
        answer = search_index(**story_sizes_body(story_ids))
        sizes = {bucket["key"]: bucket for bucket in answer["aggregations"]["stories"]["buckets"]}
        for hit in results:
            if hit.story_id in sizes:
                hit.story_size = sizes[hit.story_id]["doc_count"]
                hit.story_publishers = sizes[hit.story_id]["publishers"]["value"]

    @app.get("/stories/{story_id}", response_model=StoryResponse)
    def story(story_id: str, size: Annotated[int, Query(ge=1, le=MAX_SIZE)] = MAX_SIZE) -> Response:
        """The articles of a story, by publisher; `story_id` may also be any article of it (a link
        made before an earlier original re-pointed the story)."""

        def articles_of(story: str) -> dict:
            return search_index(**story_body(story, size))

        answer = articles_of(story_id)
        if not answer["hits"]["hits"]:
            try:
                member = _ask(lambda: es.get(index=settings.index_alias, id=story_id, source_includes=["story_id"]))
            except NotFoundError:
                raise HTTPException(404, f"no story {story_id}") from None
            story_id = member["_source"]["story_id"]
            answer = articles_of(story_id)
        publishers: dict[str, StoryPublisher] = {}
        for hit in answer["hits"]["hits"]:
            source = hit["_source"]
            publisher = publishers.setdefault(
                source["source_id"], StoryPublisher(source_id=source["source_id"], site_name=source.get("site_name"), articles=[])
            )
            publisher.articles.append(StoryArticle(**source))
        found = StoryResponse(story_id=story_id, size=answer["hits"]["total"]["value"], publishers=list(publishers.values()))
        return Response(found.model_dump_json(), media_type="application/json")

    @app.get("/health")
    def health() -> JSONResponse:
        try:
            status = es.cluster.health(timeout="2s")["status"]
        except (TransportConnectionError, ConnectionTimeout, ApiError) as exc:
            return JSONResponse({"status": "unavailable", "elasticsearch": type(exc).__name__}, 503)
        healthy = status in ("green", "yellow")
        return JSONResponse({"status": "ok" if healthy else "degraded", "elasticsearch": status}, 200 if healthy else 503)

    @app.get("/metrics", include_in_schema=False)
    def metrics() -> Response:
        return Response(generate_latest(registry), media_type=CONTENT_TYPE_LATEST)

    @app.get("/", response_class=HTMLResponse, include_in_schema=False)
    def page() -> str:
        return (WEB / "index.html").read_text()

    @app.get("/docs", response_class=HTMLResponse, include_in_schema=False)
    def docs() -> str:
        return (WEB / "docs.html").read_text()

    app.mount("/static", StaticFiles(directory=str(WEB)), name="static")
    app.mount("/swagger-ui", StaticFiles(directory=str(SWAGGER_UI)), name="swagger-ui")
    return app


class SecurityHeaders:
    """`SECURITY_HEADERS` on every answer, as a plain ASGI middleware like `LatencyMetrics`."""

    def __init__(self, app: ASGIApp) -> None:
        self.app = app

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http":
            return await self.app(scope, receive, send)

        async def sending(message: Message) -> None:
            if message["type"] == "http.response.start":
                message["headers"] = [*message.get("headers", []), *SECURITY_HEADERS]
            await send(message)

        await self.app(scope, receive, sending)


class LatencyMetrics:
    """Request latency by route and status, as a plain ASGI middleware (FastAPI's decorator
    middleware costs more per request than the rest of the API's own work)."""

    def __init__(self, app: ASGIApp, histogram: Histogram) -> None:
        self.app, self.histogram = app, histogram

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http":
            return await self.app(scope, receive, send)
        started, status = time.perf_counter(), 500

        async def sending(message: Message) -> None:
            nonlocal status
            if message["type"] == "http.response.start":
                status = message["status"]
            await send(message)

        try:
            await self.app(scope, receive, sending)
        finally:
            route = getattr(scope.get("route"), "path", "other")
            self.histogram.labels(route, str(status)).observe(time.perf_counter() - started)


def _ask(call):
    """`call()`, with Elasticsearch's time-outs (504), refusals (422), overload and outages (503) turned into answers."""
    try:
        return call()
    except ApiError as exc:
        causes = _root_causes(exc)
        if any(cause.get("type") == "search_timeout_exception" for cause in causes):  # answered 429
            raise HTTPException(504, TIMED_OUT) from None
        if exc.meta.status == 400:
            reason = " ".join(str(causes[0].get("reason") if causes else exc.message).split())
            raise HTTPException(422, f"Elasticsearch refused this search: {reason}"[:300]) from None
        if exc.meta.status in (429, 502, 503, 504):
            log.warning("Elasticsearch answered %s: %s", exc.meta.status, exc)
            raise HTTPException(503, UNAVAILABLE) from None
        raise


def _root_causes(exc: ApiError) -> list[dict]:
    """The root causes in an Elasticsearch error body; none when the body is not one."""
    error = exc.body.get("error") if isinstance(exc.body, dict) else None
    causes = error.get("root_cause") if isinstance(error, dict) else None
    return [cause for cause in causes if isinstance(cause, dict)] if isinstance(causes, list) else []

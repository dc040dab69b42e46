"""Kibana assets for the `news` alias and the `news-quality` index: a data view of each, three Lens
charts, two saved searches, a dashboard.

They live in `kibana/news.ndjson`, in the format of Kibana's saved objects export. `setup()`
imports them with overwrite, so running it again replaces the copies in Kibana with the current
ones. Their ids are fixed (`newsflow-...`): links to the dashboard survive a re-import.

`setup()` takes these steps:

1. Refuse to send a password over plain http to a Kibana that is not on loopback, unless
   NEWSFLOW_KIBANA_ALLOW_HTTP_CREDENTIALS says the network to it is trusted (as docker compose's
   is): the password is Elasticsearch's, often the superuser's.
2. Post the saved objects to Kibana's import API (into a space, if one is named).
3. Turn what can go wrong (no answer, an HTTP error, not JSON, objects not imported) into one line.
"""

import ipaddress
import json
from importlib.resources import files
from urllib.parse import urlsplit

import httpx

from newsflow.errors import ConfigError, Failure, ServiceUnreachable

NDJSON = files("search").joinpath("kibana", "news.ndjson")
TIMEOUT = 30.0  # seconds; Kibana migrates each object on import, which is slow while it starts


def saved_objects() -> list[dict]:
    """The saved objects of `news.ndjson`, one dict per line."""
    return [json.loads(line) for line in NDJSON.read_text(encoding="utf-8").splitlines() if line.strip()]


DATA_VIEWS = ("newsflow-news", "newsflow-news-quality")  # the ids of the data views of the alias and of the quality index


def for_alias(alias: str, quality_index: str = "news-quality") -> bytes:
    """The saved objects as NDJSON, their data views pointed at `alias` and `quality_index` (the
    file says `news` and `news-quality`)."""
    objects = saved_objects()
    titles = dict(zip(DATA_VIEWS, (alias, quality_index), strict=True))
    for item in objects:
        if item["type"] == "index-pattern":
            item["attributes"]["title"] = item["attributes"]["name"] = titles[item["id"]]
    return "".join(json.dumps(item, ensure_ascii=False) + "\n" for item in objects).encode()


def setup(
    kibana_url: str,
    username: str | None,
    password: str | None,
    alias: str = "news",
    quality_index: str = "news-quality",
    space: str | None = None,
    allow_http_credentials: bool = False,
) -> dict:
    """Import the saved objects into Kibana (into `space`, else the default space); its answer.

    A password goes over plain http only to loopback, unless `allow_http_credentials`
    (NEWSFLOW_KIBANA_ALLOW_HTTP_CREDENTIALS) says the network to Kibana is trusted.
    """
    if username and not _safe_for_credentials(kibana_url) and not allow_http_credentials:
        raise ConfigError(
            f"refusing to send the password of {username} to Kibana at {kibana_url} over plain http: use an https "
            "URL, or set NEWSFLOW_KIBANA_ALLOW_HTTP_CREDENTIALS=true if the network to it is trusted"
        )
    url = kibana_url.rstrip("/") + (f"/s/{space}" if space else "") + "/api/saved_objects/_import"
    try:
        response = httpx.post(
            url,
            params={"overwrite": "true"},
            headers={"kbn-xsrf": "true"},  # Kibana refuses writes to its API without this header
            # Kibana accepts only a file whose name ends in .ndjson.
            files={"file": ("news.ndjson", for_alias(alias, quality_index), "application/ndjson")},
            auth=(username, password or "") if username else None,
            timeout=TIMEOUT,
        )
    except httpx.TransportError as exc:  # refused, unresolvable host, TLS failure, timeouts
        raise ServiceUnreachable(
            f"Kibana at {kibana_url} is not reachable ({_one_line(exc)}): start it or correct its URL"
        ) from None
    if response.is_error:
        raise Failure(f"Kibana at {kibana_url} refused the import: HTTP {response.status_code} {_one_line(response.text)[:300]}")
    try:
        result = response.json()
    except ValueError:
        raise Failure(f"{kibana_url} answered the import with something other than JSON: is it Kibana?") from None
    if not result.get("success"):
        failures = "; ".join(
            f"{error.get('type')} {error.get('id')}: "
            + _one_line(error.get("error", {}).get("message") or error.get("error", {}).get("type"))
            for error in result.get("errors", [])
        )
        raise Failure(f"Kibana at {kibana_url} did not import every saved object: {failures}")
    return result


def _safe_for_credentials(kibana_url: str) -> bool:
    """Whether credentials sent to `kibana_url` stay private: over https, or over http to loopback."""
    parts = urlsplit(kibana_url)
    if parts.scheme == "https":
        return True
    host = parts.hostname or ""
    if host == "localhost" or host.endswith(".localhost"):  # loopback by RFC 6761
        return True
    try:
        return ipaddress.ip_address(host).is_loopback
    except ValueError:  # a name: it may resolve anywhere
        return False


def _one_line(text: object) -> str:
    # Messages of newsflow's errors are one line; those of httpx and Kibana may not be.
    return " ".join(str(text).split())

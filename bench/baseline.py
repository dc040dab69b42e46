"""The standard-analyzer baseline of the search benches: an index of the version-1 mapping.

Version 1 of the index template (search/index.py) analyzed title, lead and body with the standard
analyzer only and searched name variants in `text_folded`, which transform folds. The benches put
it beside the current template, on the same documents:

1. `standard_mapping`: the current mapping with those fields as version 1 had them (no stems, no
   folded sub-fields, no fields by language, `text_folded` indexed).
2. `standard_index`: a fresh index of that mapping behind the settings' alias, with no analysis
   settings of its own (version 1 had none).
3. `delete_alias`: the alias's indices and its template, when a bench is done.
"""

import copy
from contextlib import suppress
from typing import Any

from elasticsearch import Elasticsearch, NotFoundError

from newsflow.settings import Settings
from search.index import MAPPING, template_name

STANDARD_TEXT = {"type": "text", "analyzer": "standard"}


def standard_mapping() -> dict[str, Any]:
    mapping = copy.deepcopy(MAPPING)
    del mapping["_meta"]  # version 1 recorded no version
    properties = mapping["properties"]
    properties["title"] = {**STANDARD_TEXT, "fields": {"keyword": properties["title"]["fields"]["keyword"]}}
    properties["lead"] = properties["body"] = STANDARD_TEXT
    properties["text_folded"] = {"type": "text", "analyzer": "whitespace"}
    properties["by_language"] = {"type": "object", "enabled": False}  # kept in the documents, not indexed
    return mapping


def standard_index(es: Elasticsearch, settings: Settings) -> str:
    name = f"{settings.index_alias}-000001"
    es.indices.create(
        index=name,
        settings={"number_of_shards": settings.index_shards, "number_of_replicas": settings.index_replicas},
        mappings=standard_mapping(),
        aliases={settings.index_alias: {"is_write_index": True}},
    )
    return name


def delete_alias(es: Elasticsearch, settings: Settings) -> None:
    """Delete the alias's indices and template; each on its own, so one missing does not keep the other."""
    indices = list(es.indices.get(index=f"{settings.index_alias}-*"))
    if indices:
        es.indices.delete(index=indices)
    with suppress(NotFoundError):
        es.indices.delete_index_template(name=template_name(settings))

"""The README's Python example works against the local services, as written."""

import contextlib
import io
import re
from pathlib import Path

import pytest
from elasticsearch import NotFoundError

from newsflow.clients import elasticsearch_client, kafka_admin

pytestmark = pytest.mark.integration

README = (Path(__file__).parents[2] / "README.md").read_text()


def test_the_readme_python_example_runs(local_services):
    (example,) = re.findall(r"```python\n(.*?)```", README, re.DOTALL)
    # The README shows the default addresses; the services under test may listen elsewhere.
    example = example.replace('"127.0.0.1:9092"', repr(local_services.kafka_bootstrap_servers))
    example = example.replace('"http://127.0.0.1:9200"', repr(local_services.elasticsearch_url))
    printed = io.StringIO()
    try:
        with contextlib.redirect_stdout(printed):
            exec(compile(example, "README.md", "exec"), {})
    finally:
        admin = kafka_admin(local_services)
        admin.delete_topics(["readme.demo"])
        admin.close()
        with contextlib.suppress(NotFoundError):
            elasticsearch_client(local_services).indices.delete(index="readme-demo")
    assert printed.getvalue().splitlines() == [
        "b'article-1' [('source', b'orda-kz')]",
        "{'value': 1, 'relation': 'eq'}",
    ]

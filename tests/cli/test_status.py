"""`newsflow status` against the running services: what it prints of its endpoints."""

import os
from urllib.parse import urlsplit

import pytest

from newsflow.settings import Settings
from tests.helpers import run_newsflow

pytestmark = pytest.mark.integration


def test_status_prints_the_elasticsearch_url_without_its_credentials(local_services: Settings):
    # The local node has security off: it takes the credentials and ignores them.
    endpoint = urlsplit(local_services.elasticsearch_url)
    with_credentials = f"{endpoint.scheme}://reader:s3cret@{endpoint.netloc}"
    result = run_newsflow("status", env={**os.environ, "NEWSFLOW_ELASTICSEARCH_URL": with_credentials})
    assert result.returncode == 0, result.stderr
    assert f"elasticsearch {local_services.elasticsearch_url}: cluster " in result.stdout
    assert "s3cret" not in result.stdout + result.stderr and "reader" not in result.stdout + result.stderr

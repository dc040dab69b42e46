"""Errors that newsflow reports to people.

Every error's message is one line that says what went wrong and what to do about it; the CLI
prints it as is, without a traceback.
"""


class NewsflowError(Exception):
    """Base of every error newsflow reports to its user."""


class ConfigError(NewsflowError):
    """A setting (environment variable or file) has a value newsflow cannot use."""


class ServiceUnreachable(NewsflowError):
    """Kafka or Elasticsearch does not answer at the configured address."""


class PublishFailed(NewsflowError):
    """Kafka did not acknowledge a record: the run fails (and is retried), never reports success."""


class ServiceError(NewsflowError):
    """A local service (Kafka, Elasticsearch) could not be installed, started or stopped."""


class PrerequisiteMissing(ServiceError):
    """A program the local services need (Java, a JDK of some version, Maven) is not installed."""


class PortInUse(ServiceError):
    """A port a local service must listen on is taken by another process."""


class ArtifactResolutionFailed(ServiceError):
    """Maven could not bring a service's artifacts from Maven Central (or the local cache)."""


class ServiceUnhealthy(ServiceError):
    """A service was started but did not become healthy in time, or exited during start-up."""


class AirflowFailed(NewsflowError):
    """Airflow's database could not be set up, or a DAG run did not succeed."""


class PipelineStalled(NewsflowError):
    """A worker of the demo exited, or the pipeline did not catch up with its input in time."""

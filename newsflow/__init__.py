"""newsflow: event-driven news ingestion (Airflow → Kafka → workers → Elasticsearch).

This package holds what every stage shares: the settings, the error hierarchy, the client
factories, the local services and the `newsflow` command line.
"""

# The newsflow image for docker compose: Airflow 3 with newsflow installed; the workers and the
# API run from the same image with another command.
FROM apache/airflow:3.3.2-python3.11
COPY --chown=airflow:root . /opt/newsflow
RUN pip install --no-cache-dir /opt/newsflow
WORKDIR /opt/newsflow

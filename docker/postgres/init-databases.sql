-- One PostgreSQL server, three databases: Airflow metadata (+ Celery results), MLflow
-- tracking + registry, and the serving prediction log. Runs once, on an empty volume.
CREATE DATABASE airflow;
CREATE DATABASE mlflow;
CREATE DATABASE predictions;

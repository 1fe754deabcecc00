# The app environment (api, action server, migrations): the same lock file as `make install`.
FROM python:3.11-slim
WORKDIR /app
ENV PYTHONPATH=/app PYTHONUNBUFFERED=1
COPY requirements/app.lock requirements/app.lock
RUN pip install --no-cache-dir -r requirements/app.lock
COPY alembic.ini ./
COPY migrations migrations
COPY crm crm
COPY bot bot
COPY api api
COPY actions actions
COPY knowledge_base knowledge_base
# The normaliser reads dicts/; the FAQ retriever reads the training phrasings in nlu_data/.
COPY dicts dicts
COPY nlu_data nlu_data

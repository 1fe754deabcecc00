# The Rasa server: the official image plus jieba for the Chinese tokenizer.
FROM rasa/rasa:3.6.21
USER root
RUN pip install --no-cache-dir jieba==0.42.1
USER 1001
COPY --chown=1001 config.yml endpoints.production.yml credentials.yml /app/
COPY --chown=1001 rasa_server /app/rasa_server

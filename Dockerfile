# One image for the server and the gateway; the compose file picks the command.
FROM python:3.11-slim
WORKDIR /app
COPY pyproject.toml README.md ./
COPY toolhut ./toolhut
COPY toolhut_cli ./toolhut_cli
COPY firmware_bridge ./firmware_bridge
COPY hut_gateway ./hut_gateway
COPY server ./server
COPY labels ./labels
RUN pip install --no-cache-dir '.[gateway,server]'
RUN useradd --create-home --groups dialout toolhut && mkdir -p /data && chown toolhut /data
USER toolhut
ENV PYTHONUNBUFFERED=1
EXPOSE 8000
CMD ["toolhut", "--help"]

"""The workflow app's staff pages, one module per part: the request base view every app builds on (`base`), the
restricted-request check (`restricted`), the request page and its actions (`requests`), the queue (`queue`), the
team queues' settings (`work_queues`), patient pages (`patients`) and request downloads (`downloads`)."""

"""The workflow app's forms, one module per part of the app (queue, requests, work_queues)."""

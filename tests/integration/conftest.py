from collections.abc import AsyncIterator

import pytest
from asgiref.sync import sync_to_async
from django.db import connections


@pytest.fixture(autouse=True)
async def _close_worker_thread_connections() -> AsyncIterator[None]:
    """Consumers query from asgiref's worker thread; close its connections after each test
    so that the test database can be dropped at the end of the run."""
    yield
    await sync_to_async(connections.close_all, thread_sensitive=True)()

"""Lazy paging over offset/limit lists: one request per page, fetched as the caller goes."""

from __future__ import annotations

from collections.abc import AsyncIterator, Awaitable, Callable, Iterator

from coreviz_studio.client.models import Media, MediaPage

DEFAULT_PAGE_SIZE = 100

Fetch = Callable[[int, int], MediaPage]  # (limit, offset) -> a page
AsyncFetch = Callable[[int, int], Awaitable[MediaPage]]


def pages(fetch: Fetch, page_size: int = DEFAULT_PAGE_SIZE, offset: int = 0,
          limit: int | None = None) -> Iterator[MediaPage]:
    """Pages until the server says there are no more (or `limit` items were given)."""
    given = 0
    while limit is None or given < limit:
        size = page_size if limit is None else min(page_size, limit - given)
        page = fetch(size, offset)
        yield page
        given += len(page.media)
        offset += len(page.media)
        if not page.pagination.has_more or not page.media:
            return


def items(fetch: Fetch, page_size: int = DEFAULT_PAGE_SIZE, offset: int = 0,
          limit: int | None = None) -> Iterator[Media]:
    for page in pages(fetch, page_size, offset, limit):
        yield from page.media


async def apages(fetch: AsyncFetch, page_size: int = DEFAULT_PAGE_SIZE, offset: int = 0,
                 limit: int | None = None) -> AsyncIterator[MediaPage]:
    given = 0
    while limit is None or given < limit:
        size = page_size if limit is None else min(page_size, limit - given)
        page = await fetch(size, offset)
        yield page
        given += len(page.media)
        offset += len(page.media)
        if not page.pagination.has_more or not page.media:
            return


async def aitems(fetch: AsyncFetch, page_size: int = DEFAULT_PAGE_SIZE, offset: int = 0,
                 limit: int | None = None) -> AsyncIterator[Media]:
    async for page in apages(fetch, page_size, offset, limit):
        for media in page.media:
            yield media

"""Pagination of list answers: ``page``/``per_page`` with absolute ``links.pages`` URLs, and ``page_token``.

The model returns whole lists; the HTTP layer slices them here, so paging rules live in one place.
"""

import base64
import math

from .errors import ApiError, as_int


class Page:
    """page/per_page (and page_token) pagination with absolute ``links.pages`` URLs."""

    def __init__(self, query, default_per_page=20, max_per_page=200):
        try:
            self.per_page = as_int(query.get("per_page", default_per_page), "per_page", 1)
            self.page = as_int(query.get("page", 1), "page", 1)
        except ValueError as err:
            raise ApiError(400, str(err)) from None
        if self.per_page > max_per_page:
            raise ApiError(400, "per_page must be <= %d" % max_per_page)

    @staticmethod
    def _url(base, path, **params):
        return base + path + "?" + "&".join("%s=%s" % (key, value) for key, value in sorted(params.items()))

    def numbered(self, items, base, path):
        """Slice ``items`` for ``page``; return ``(slice, links, meta)``."""
        total = len(items)
        last = max(1, int(math.ceil(total / float(self.per_page))))
        start = (self.page - 1) * self.per_page
        chunk = items[start:start + self.per_page]
        pages = {}
        if self.page > 1:
            pages["first"] = self._url(base, path, page=1, per_page=self.per_page)
            pages["prev"] = self._url(base, path, page=min(self.page - 1, last), per_page=self.per_page)
        if self.page < last:
            pages["next"] = self._url(base, path, page=self.page + 1, per_page=self.per_page)
            pages["last"] = self._url(base, path, page=last, per_page=self.per_page)
        return chunk, {"pages": pages}, {"total": total}

    def tokenised(self, items, key, token, base, path):
        """Cursor pagination: ``page_token`` is an opaque cursor (the last key of the previous page)."""
        total = len(items)
        if token:
            try:
                after = base64.urlsafe_b64decode(token.encode("ascii") + b"==").decode("utf-8")
            except (ValueError, UnicodeError):
                raise ApiError(400, "invalid page_token") from None
            rest = [item for item in items if key(item) > after]
        else:
            rest = items[(self.page - 1) * self.per_page:]
        chunk = rest[:self.per_page]
        pages = {}
        if len(rest) > self.per_page:
            cursor = base64.urlsafe_b64encode(key(chunk[-1]).encode("utf-8")).decode("ascii").rstrip("=")
            pages["next"] = self._url(base, path, page_token=cursor, per_page=self.per_page)
        return chunk, {"pages": pages}, {"total": total}


def numbered(collection, items, query, base, path):
    """``(200, {collection: page, "links", "meta"})`` for a page/per_page list."""
    chunk, links, meta = Page(query).numbered(items, base, path)
    return 200, {collection: chunk, "links": links, "meta": meta}


def tokenised(collection, items, key, query, base, path):
    """``(200, {collection: page, "links", "meta"})`` for a ``page_token`` list."""
    chunk, links, meta = Page(query).tokenised(items, key, query.get("page_token"), base, path)
    return 200, {collection: chunk, "links": links, "meta": meta}

from __future__ import annotations

import pytest

from cais.aws.errors import AwsError
from cais.aws.pagination import TokenCodec, page_size, paginate


def test_pages_walk_every_item_once() -> None:
    items = [f"item{i:03d}" for i in range(25)]
    seen: list[str] = []
    token = None
    pages = 0
    while True:
        page = paginate(items, key=lambda s: s, limit=10, next_token=token)
        seen += page.items
        pages += 1
        token = page.next_token
        if token is None:
            break
    assert seen == items
    assert pages == 3


def test_keyset_survives_deletions() -> None:
    items = ["a", "b", "c", "d"]
    first = paginate(items, key=lambda s: s, limit=2, next_token=None)
    assert first.items == ["a", "b"]
    second = paginate(["a", "c", "d"], key=lambda s: s, limit=2, next_token=first.next_token)
    assert second.items == ["c", "d"]
    assert second.next_token is None


def test_descending_pages() -> None:
    items = [5, 4, 3, 2, 1]
    first = paginate(items, key=lambda i: i, limit=3, next_token=None, descending=True)
    rest = paginate(items, key=lambda i: i, limit=3, next_token=first.next_token, descending=True)
    assert (first.items, rest.items) == ([5, 4, 3], [2, 1])


@pytest.mark.parametrize("token", ["***", "bm90IGpzb24", "WzEsMl0"])
def test_invalid_token(token: str) -> None:
    codec = TokenCodec(error_type="InvalidParameterException")
    with pytest.raises(AwsError) as info:
        paginate([1, 2], key=lambda i: i, limit=1, next_token=token, codec=codec)
    assert info.value.type == "InvalidParameterException"


def test_codec_round_trip_and_page_size() -> None:
    codec = TokenCodec()
    assert codec.decode(codec.encode({"after": ["x", 3]})) == {"after": ["x", 3]}
    assert page_size(None, default=50, maximum=100) == 50
    with pytest.raises(AwsError):
        page_size(101, default=50, maximum=100)

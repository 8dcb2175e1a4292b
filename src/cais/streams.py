"""The two stream shapes cais code passes around (narrower than ``typing.BinaryIO``)."""

from __future__ import annotations

from typing import TYPE_CHECKING, Any, Protocol, cast

if TYPE_CHECKING:
    import tarfile


class Reader(Protocol):
    def read(self, size: int = -1, /) -> bytes: ...


class Writer(Protocol):
    def write(self, data: bytes, /) -> object: ...


def open_tar_stream(fileobj: Reader | Writer, mode: str, **options: Any) -> tarfile.TarFile:
    """``tarfile.open`` in stream mode (``r|`` or ``w|``) over one of our streams."""
    import tarfile

    if mode not in ("r|", "w|"):
        raise ValueError(f"not a stream mode: {mode}")
    return tarfile.open(fileobj=cast(Any, fileobj), mode=mode, **options)  # type: ignore[call-overload,no-any-return]

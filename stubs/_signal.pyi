# The builtin behind ``signal``: the cais client uses it directly (``signal`` imports enum).
from collections.abc import Callable
from types import FrameType

_Handler = Callable[[int, FrameType | None], object] | int | None

SIG_DFL: int
SIG_IGN: int

def signal(signalnum: int, handler: _Handler, /) -> _Handler: ...
def getsignal(signalnum: int, /) -> _Handler: ...

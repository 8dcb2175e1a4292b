# The builtin behind ``signal``: the cais client uses it directly (``signal`` imports enum).
from collections.abc import Callable, Iterable
from types import FrameType

_Handler = Callable[[int, FrameType | None], object] | int | None

SIG_DFL: int
SIG_IGN: int
SIG_BLOCK: int
SIG_UNBLOCK: int
SIG_SETMASK: int
NSIG: int

def signal(signalnum: int, handler: _Handler, /) -> _Handler: ...
def getsignal(signalnum: int, /) -> _Handler: ...
def pthread_sigmask(how: int, mask: Iterable[int], /) -> set[int]: ...

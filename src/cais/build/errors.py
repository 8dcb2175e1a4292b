"""Build errors: every one that comes from a Dockerfile names its file and line."""

from __future__ import annotations

from cais.errors import CaisError, InvalidArgumentError


class DockerfileError(InvalidArgumentError):
    """A problem in the Dockerfile itself (syntax, unknown instruction, no FROM …).

    Shown as ``Dockerfile:7: unknown instruction: RUNN``.
    """

    exit_code = 1

    def __init__(self, line: int, message: str, filename: str = "Dockerfile") -> None:
        super().__init__(f"{filename}:{line}: {message}")
        self.line = line
        self.message = message
        self.filename = filename


class BuildStepError(CaisError):
    """A step that failed while building (a RUN that exited non-zero, a missing COPY source)."""

    def __init__(
        self, line: int, message: str, *, filename: str = "Dockerfile", output: str = ""
    ) -> None:
        text = f"{filename}:{line}: {message}"
        if output:
            text += "\n" + output
        super().__init__(text)
        self.line = line
        self.message = message
        self.filename = filename
        self.output = output


class RunFailedError(BuildStepError):
    """``Dockerfile:5: RUN exited with code 3``, followed by the last lines of its output."""

    def __init__(
        self, line: int, code: int, *, filename: str = "Dockerfile", output: str = ""
    ) -> None:
        super().__init__(line, f"RUN exited with code {code}", filename=filename, output=output)
        self.code = code

"""Where COPY and ADD sources come from: the build context, or another stage's files.

A :class:`SourceTree` is a directory on this machine seen the way Docker sees a build
context: paths are relative to its root (``/x`` is ``x``), a path may not climb out of
it (``../x`` is refused), symlinks on the way to a source are followed inside the tree,
wildcards (``*``, ``?``, ``[…]``) match within one path component, and what
``.dockerignore`` names does not exist. Its :meth:`~SourceTree.digest` says what a
source holds (names, types, modes, content) for the build cache.
"""

from __future__ import annotations

import hashlib
import os
import posixpath
import re
import stat
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path

from cais.build.fsops import resolve_in_root
from cais.build.ignore import IgnoreRules
from cais.errors import CaisError

_WILDCARD = re.compile(r"(?<!\\)[*?\[]")


class SourceError(CaisError):
    """A COPY/ADD source that is missing, outside the context or otherwise unusable."""


@dataclass(frozen=True)
class SourceMatch:
    """One source path as found: ``rel`` is where it really is (links followed) and
    ``name`` what it is called in the instruction (the name a file gets in a directory)."""

    rel: str
    name: str
    is_dir: bool


class SourceTree:
    """A directory that COPY/ADD read from; ``keep_owner`` for another stage's files."""

    def __init__(
        self,
        root: Path | None,
        *,
        ignore: IgnoreRules | None = None,
        keep_owner: bool = False,
        description: str = "build context",
    ) -> None:
        self.root = root
        self.ignore = ignore or IgnoreRules()
        self.keep_owner = keep_owner
        self.description = description

    # the SourceFilter protocol (fsops), relative to the tree's root

    def ignored(self, rel: str) -> bool:
        return self.ignore.ignored(rel)

    def may_hold_exceptions(self, rel: str) -> bool:
        return self.ignore.may_hold_exceptions(rel)

    def host_path(self, rel: str) -> Path:
        assert self.root is not None
        return self.root / rel if rel else self.root

    def find(self, pattern: str, *, instruction: str = "COPY") -> list[SourceMatch]:
        """The sources ``pattern`` names; raises :class:`SourceError` when there are none."""
        cleaned = posixpath.normpath(pattern) if pattern else "."
        if cleaned == ".." or cleaned.startswith("../"):
            raise SourceError(
                f"{instruction} failed: forbidden path outside the {self.description}: {pattern}"
            )
        if self.root is None:
            raise SourceError(
                f'{instruction} failed: "{pattern}" not found: the build has no context'
            )
        rel = cleaned.lstrip("/")
        rel = "" if rel == "." else rel
        if _WILDCARD.search(rel):
            matches = self._glob(rel)
        else:
            found = self._lookup(_unescape(rel))
            matches = [found] if found is not None else []
        if not matches:
            raise SourceError(
                f'{instruction} failed: "{pattern}" not found in the {self.description}'
                + (" (or excluded by .dockerignore)" if self.ignore else "")
            )
        return matches

    def _lookup(self, rel: str) -> SourceMatch | None:
        assert self.root is not None
        try:
            real = resolve_in_root(self.root, rel)
        except CaisError:
            return None
        if real and self.ignored(real):
            return None
        try:
            st = os.stat(self.host_path(real), follow_symlinks=False)
        except (FileNotFoundError, NotADirectoryError):
            return None
        name = posixpath.basename(rel) or posixpath.basename(real)
        return SourceMatch(real, name, stat.S_ISDIR(st.st_mode))

    def _glob(self, rel: str) -> list[SourceMatch]:
        parts = rel.split("/")
        first = next(i for i, part in enumerate(parts) if _WILDCARD.search(part))
        base = "/".join(parts[:first])
        assert self.root is not None
        real_base = resolve_in_root(self.root, base) if base else ""
        pattern = "/".join(parts[first:])
        regex = _component_regex(pattern)
        out: list[SourceMatch] = []
        start = self.host_path(real_base)
        if not start.is_dir():
            return []
        for found in self._walk_for_glob(start, "", regex):
            whole = posixpath.join(real_base, found) if real_base else found
            if self.ignored(whole):
                continue
            match = self._lookup(whole)
            if match is not None:
                out.append(SourceMatch(match.rel, posixpath.basename(found), match.is_dir))
        return out

    def _walk_for_glob(self, directory: Path, prefix: str, regex: re.Pattern[str]) -> Iterator[str]:
        try:
            entries = sorted(os.scandir(directory), key=lambda e: e.name)
        except (FileNotFoundError, NotADirectoryError):
            return
        for entry in entries:
            rel = f"{prefix}{entry.name}"
            if regex.match(rel):
                yield rel
                continue
            if entry.is_dir(follow_symlinks=False):
                yield from self._walk_for_glob(Path(entry.path), rel + "/", regex)

    # what a source holds, for the cache

    def walk(self, match: SourceMatch) -> Iterator[tuple[str, Path, os.stat_result]]:
        """(path relative to the match, host path, lstat) for the match and what it holds."""
        top = self.host_path(match.rel)
        yield "", top, os.stat(top)
        if match.is_dir:
            yield from self._walk_dir(top, match.rel, "")

    def _walk_dir(
        self, directory: Path, tree_rel: str, rel: str
    ) -> Iterator[tuple[str, Path, os.stat_result]]:
        with os.scandir(directory) as it:
            entries = sorted(it, key=lambda e: e.name)
        for entry in entries:
            child_tree = f"{tree_rel}/{entry.name}" if tree_rel else entry.name
            child = f"{rel}/{entry.name}" if rel else entry.name
            st = entry.stat(follow_symlinks=False)
            if self.ignored(child_tree):
                if not (stat.S_ISDIR(st.st_mode) and self.may_hold_exceptions(child_tree)):
                    continue
            else:
                yield child, Path(entry.path), st
            if stat.S_ISDIR(st.st_mode):
                yield from self._walk_dir(Path(entry.path), child_tree, child)

    def digest(self, matches: list[SourceMatch]) -> str:
        """A digest of names, types, modes, owners (when kept), link targets and content."""
        hasher = hashlib.sha256()
        for match in matches:
            hasher.update(f"source {match.name} dir={int(match.is_dir)}\n".encode())
            for rel, path, st in self.walk(match):
                hasher.update(_entry_line(rel, path, st, keep_owner=self.keep_owner))
        return hasher.hexdigest()


class ExcludeFilter:
    """``COPY --exclude`` patterns (relative to each source) on top of a tree's own rules."""

    def __init__(self, tree: SourceTree, base: str, excludes: IgnoreRules) -> None:
        self.tree = tree
        self.base = base
        self.excludes = excludes

    def _whole(self, rel: str) -> str:
        return f"{self.base}/{rel}" if self.base else rel

    def ignored(self, rel: str) -> bool:
        return self.tree.ignored(self._whole(rel)) or self.excludes.ignored(rel)

    def may_hold_exceptions(self, rel: str) -> bool:
        return self.tree.may_hold_exceptions(self._whole(rel)) or (
            self.excludes.may_hold_exceptions(rel)
        )


def _entry_line(rel: str, path: Path, st: os.stat_result, *, keep_owner: bool) -> bytes:
    kind = stat.S_IFMT(st.st_mode)
    fields = [f"{rel}", f"{kind:o}", f"{stat.S_IMODE(st.st_mode):o}"]
    if keep_owner:
        fields.append(f"{st.st_uid}:{st.st_gid}")
    if stat.S_ISREG(kind):
        with open(path, "rb", buffering=0) as fh:
            fields.append(hashlib.file_digest(fh, "sha256").hexdigest())
    elif stat.S_ISLNK(kind):
        fields.append("-> " + os.readlink(path))
    elif stat.S_ISCHR(kind) or stat.S_ISBLK(kind):
        fields.append(f"{os.major(st.st_rdev)},{os.minor(st.st_rdev)}")
    return ("\0".join(fields) + "\n").encode("utf-8", "surrogateescape")


def _component_regex(pattern: str) -> re.Pattern[str]:
    """Go's ``filepath.Match`` syntax over ``/``-separated paths: ``*`` and ``?`` never
    cross a ``/``, ``[…]`` (``[^…]`` negated) is a class, ``\\`` escapes."""
    out = ["^"]
    i = 0
    while i < len(pattern):
        ch = pattern[i]
        i += 1
        if ch == "*":
            out.append("[^/]*")
        elif ch == "?":
            out.append("[^/]")
        elif ch == "\\" and i < len(pattern):
            out.append(re.escape(pattern[i]))
            i += 1
        elif ch == "[":
            end = pattern.find("]", i + 1)
            if end < 0:
                raise SourceError(f"syntax error in pattern {pattern!r}")
            body = pattern[i:end]
            negate = body[:1] in ("^", "!")
            body = body[1:] if negate else body
            escaped = "".join("\\" + c if c in "\\[]^" else c for c in body)
            out.append("[" + ("^" if negate else "") + escaped + "]")
            i = end + 1
        else:
            out.append(re.escape(ch))
    out.append("$")
    return re.compile("".join(out), re.DOTALL)


def _unescape(rel: str) -> str:
    return re.sub(r"\\(.)", r"\1", rel)

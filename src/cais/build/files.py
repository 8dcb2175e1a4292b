"""COPY and ADD: where the sources are, what the cache key says about them, the copy.

Sources from the build context are digested (names, types, modes, content) before the
cache is asked, so a changed file or mode makes the step miss. Sources from another
stage or image are named by that image's ID, which already says everything about
their content. ADD fetches URLs first for the same reason, and unpacks local archives.
"""

from __future__ import annotations

import hashlib
import json
import posixpath
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path

from cais.build import instructions as ins
from cais.build.cache import StepInputs
from cais.build.context import ExcludeFilter, SourceError, SourceMatch, SourceTree
from cais.build.execute import MountedSnapshot
from cais.build.fetch import Download, archive_kind, fetch, is_git, is_url, opened_archive
from cais.build.fsops import CopyPolicy, Destination, SourceFilter
from cais.build.ignore import IgnoreRules
from cais.build.layers import ImageWriter, StepImage
from cais.build.owners import chown_ids
from cais.build.state import StageState
from cais.build.words import Lexer
from cais.errors import CaisError

SourceImage = Callable[[str], tuple[StepImage, str]]  # --from value → (image, description)


class FileStepError(CaisError):
    pass


@dataclass(frozen=True)
class FilePlan:
    """A COPY/ADD with its values substituted and its sources found."""

    keyword: str
    dest: str
    chown: str
    mode: int | None
    paths: tuple[str, ...]
    matches: tuple[SourceMatch, ...]
    inline: tuple[tuple[str, bytes], ...]
    downloads: tuple[Download, ...]
    source_image: StepImage | None
    source_name: str
    unpack: bool
    excludes: tuple[str, ...]
    inputs: StepInputs
    history: str


def destination_path(dest: str, working_dir: str) -> str:
    """The destination inside the image: relative to WORKDIR, a trailing ``/`` kept."""
    if dest in ("", "."):
        dest = "./"
    keep_slash = dest.endswith(("/", "/."))
    if not dest.startswith("/"):
        dest = posixpath.join(working_dir or "/", dest)
    cleaned = posixpath.normpath(dest)
    if cleaned.startswith("//"):
        cleaned = "/" + cleaned.lstrip("/")
    if keep_slash and not cleaned.endswith("/"):
        cleaned += "/"
    return cleaned


def parse_chmod(text: str) -> int | None:
    if not text:
        return None
    try:
        mode = int(text, 8)
    except ValueError:
        raise FileStepError(
            f"invalid chmod parameter: '{text}'. it should be octal string and between 0 and 07777"
        ) from None
    if not 0 <= mode <= 0o7777:
        raise FileStepError(
            f"invalid chmod parameter: '{text}'. it should be octal string and between 0 and 07777"
        )
    return mode


class FileSteps:
    """Plans and performs COPY/ADD for one build."""

    def __init__(
        self,
        *,
        context: SourceTree,
        writer: ImageWriter,
        mounted: MountedSnapshot,
        downloads: Path,
        source_image: SourceImage,
    ) -> None:
        self.context = context
        self.writer = writer
        self.mounted = mounted
        self.downloads = downloads
        self.source_image = source_image

    def plan(self, instruction: ins.Copy | ins.Add, state: StageState, *, lexer: Lexer) -> FilePlan:
        env = state.environment()
        keyword = "ADD" if isinstance(instruction, ins.Add) else "COPY"
        sources = instruction.sources
        paths = tuple(lexer.word(p, env) for p in sources.paths)
        dest = destination_path(lexer.word(sources.dest, env), state.config.working_dir)
        chown = lexer.word(instruction.chown, env)
        mode = parse_chmod(lexer.word(instruction.chmod, env))
        inline = tuple(
            (
                doc.name,
                (Lexer(skip_quotes=True).word(doc.data, env) if doc.expand else doc.data).encode(),
            )
            for doc in sources.inline
        )
        from_ = instruction.from_ if isinstance(instruction, ins.Copy) else ""
        unpack = True
        checksum = ""
        if isinstance(instruction, ins.Add):
            unpack = instruction.unpack is not False
            checksum = lexer.word(instruction.checksum, env)
        downloads: list[Download] = []
        matches: list[SourceMatch] = []
        source_image: StepImage | None = None
        source_name = ""
        digests: list[str] = []
        if from_:
            if lexer.word(from_, {}) != from_:
                raise FileStepError(
                    "variable expansion is not supported for --from, define a new stage with "
                    "FROM using ARG from global scope as a workaround"
                )
            source_image, source_name = self.source_image(from_)
            digests.append(f"image {source_image.id} {json.dumps(paths)}")
        else:
            for path in paths:
                if is_git(path):
                    raise FileStepError(f"{keyword} failed: git sources are not supported: {path}")
                if is_url(path):
                    if keyword == "COPY":
                        raise FileStepError(f"source can't be a URL for COPY: {path}")
                    download = fetch(path, self.downloads, checksum=checksum)
                    downloads.append(download)
                    digests.append(f"url {path} {download.name} {download.digest}")
                    continue
                found = self.context.find(path, instruction=keyword)
                matches.extend(found)
                digests.append(f"path {path} {self.context.digest(found)}")
        for name, data in inline:
            digests.append(f"inline {name} sha256:{hashlib.sha256(data).hexdigest()}")
        count = len(matches) + len(downloads) + len(inline) + (len(paths) if from_ else 0)
        if count > 1 and not dest.endswith("/"):
            raise FileStepError(
                f"When using {keyword} with more than one source file, the destination must "
                "be a directory and end with a /"
            )
        flags = [f"--chown={chown}"] if chown else []
        if mode is not None:
            flags.append(f"--chmod={mode:o}")
        if instruction.excludes:
            flags += [f"--exclude={e}" for e in instruction.excludes]
        text = " ".join([*flags, f"--from={from_}" if from_ else "", *paths, sources.dest])
        inputs = StepInputs(
            keyword,
            text.strip(),
            sources=tuple(digests),
            extra=(("dest", dest), ("unpack", str(unpack))),
        )
        history = _history(
            keyword, flags, from_=from_, paths=paths, digests=digests, dest=dest, matches=matches
        )
        return FilePlan(
            keyword=keyword,
            dest=dest,
            chown=chown,
            mode=mode,
            paths=paths,
            matches=tuple(matches),
            inline=inline,
            downloads=tuple(downloads),
            source_image=source_image,
            source_name=source_name,
            unpack=unpack and keyword == "ADD",
            excludes=instruction.excludes,
            inputs=inputs,
            history=history,
        )

    def execute(self, plan: FilePlan, parent: StepImage, state: StageState) -> StepImage:
        """Copy into a new snapshot on ``parent``; the step's image."""
        with self.mounted.active(parent.top) as (key, root), Destination(root) as dest:
            owner = chown_ids(root, plan.chown) if plan.chown else None
            if plan.source_image is not None:
                with self.mounted.view(plan.source_image.top) as source_root:
                    tree = SourceTree(source_root, keep_owner=True, description=plan.source_name)
                    for path in plan.paths:
                        for match in tree.find(path, instruction=plan.keyword):
                            self._copy(dest, tree, match, plan, owner)
            for match in plan.matches:
                if plan.unpack and not match.is_dir:
                    host = self.context.host_path(match.rel)
                    kind = archive_kind(host)
                    if kind is not None:
                        with opened_archive(host, kind) as stream:
                            dest.extract(stream, plan.dest, owner=owner)
                        continue
                self._copy(dest, self.context, match, plan, owner)
            for download in plan.downloads:
                dest.write_file(
                    plan.dest,
                    download.path.read_bytes(),
                    name=download.name,
                    mode=0o600 if plan.mode is None else plan.mode,
                    owner=owner or (0, 0),
                    dir_owner=owner,
                    mtime_ns=int(download.mtime * 1e9) if download.mtime else None,
                )
            for name, data in plan.inline:
                dest.write_file(
                    plan.dest,
                    data,
                    name=name,
                    mode=0o644 if plan.mode is None else plan.mode,
                    owner=owner or (0, 0),
                    dir_owner=owner,
                )
        return self.writer.commit_snapshot(parent, key, state, plan.history)

    def _copy(
        self,
        dest: Destination,
        tree: SourceTree,
        match: SourceMatch,
        plan: FilePlan,
        owner: tuple[int, int] | None,
    ) -> None:
        only: SourceFilter | None = None
        if plan.excludes:
            only = ExcludeFilter(tree, match.rel, IgnoreRules(plan.excludes))
        elif tree.ignore:
            only = ExcludeFilter(tree, match.rel, IgnoreRules())
        policy = CopyPolicy(owner=owner, keep_owner=tree.keep_owner, mode=plan.mode)
        try:
            dest.copy(tree.host_path(match.rel), plan.dest, policy, only=only, name=match.name)
        except FileNotFoundError as exc:
            raise SourceError(f"{plan.keyword} failed: {exc.strerror}: {match.name}") from None


def _history(
    keyword: str,
    flags: list[str],
    *,
    from_: str,
    paths: tuple[str, ...],
    digests: list[str],
    dest: str,
    matches: list[SourceMatch],
) -> str:
    prefix = " ".join([keyword, *flags])
    if from_:
        return f"{prefix} --from={from_} {' '.join(paths)} {dest}"
    whole = hashlib.sha256("\n".join(digests).encode()).hexdigest()
    if len(digests) == 1 and len(matches) == 1:
        kind = "dir" if matches[0].is_dir else "file"
    else:
        kind = "multi"
    return f"{prefix} {kind}:{whole} in {dest}"

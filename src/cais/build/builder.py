"""The builder: a parsed Dockerfile and a context in, an image out.

Stages are built on demand, starting from the target: a stage is built only when the
target needs it (as its base, or through ``COPY --from``), and at most once. Each
instruction is a step whose cache key chains from the previous step's (see
:mod:`cais.build.cache`); a hit reuses the intermediate image the step made before.
Nothing is tagged until every step has succeeded, and a failed step leaves no
container, mount or snapshot behind.
"""

from __future__ import annotations

import contextlib
import os
import secrets
import shutil
from collections.abc import Callable, Iterator, Mapping
from dataclasses import dataclass, field, replace
from pathlib import Path
from typing import Protocol

from cais.build import instructions as ins
from cais.build.cache import BuildCache, StepInputs, base_key, step_key
from cais.build.context import SourceTree
from cais.build.errors import BuildStepError, DockerfileError, RunFailedError
from cais.build.execute import MountedSnapshot, RunRequest, RunStep, layer_dirs
from cais.build.files import FileStepError, FileSteps
from cais.build.fsops import Destination
from cais.build.layers import ImageWriter, StepImage
from cais.build.owners import user_ids
from cais.build.parse import parse_trigger
from cais.build.progress import Progress
from cais.build.state import (
    PROXY_ARGS,
    StageState,
    apply_arg,
    apply_metadata,
    apply_workdir,
    command_args,
    global_scope,
    platform_args,
    start_stage,
)
from cais.build.syntax import heredoc_marker
from cais.build.words import Lexer, WordError
from cais.errors import CaisError, NotFoundError
from cais.images.service import ImageService
from cais.images.store import Image
from cais.oci.config import ContainerConfig
from cais.oci.platform import host_platform
from cais.oci.reference import Reference
from cais.runtime.lifecycle import ContainerService, snapshot_key
from cais.settings import Settings
from cais.snapshots.overlay import OverlaySnapshotter
from cais.state.sqlite import Database

METADATA = (
    ins.Env,
    ins.Label,
    ins.Expose,
    ins.Volume,
    ins.User,
    ins.StopSignal,
    ins.Cmd,
    ins.Entrypoint,
    ins.Shell,
    ins.Healthcheck,
    ins.Maintainer,
    ins.Onbuild,
)


class BuildEngine(Protocol):
    """The parts of the engine a build uses."""

    @property
    def settings(self) -> Settings: ...

    @property
    def db(self) -> Database: ...

    @property
    def images(self) -> ImageService: ...

    @property
    def snapshotter(self) -> OverlaySnapshotter: ...

    @property
    def containers(self) -> ContainerService: ...


# a base image that is not here: ``pull(name)`` fetches it (the CLI's is the distribution
# client); a build without one uses local images only
ImagePuller = Callable[[str], Image]


@dataclass(frozen=True)
class BuildOptions:
    tags: tuple[Reference, ...] = ()
    build_args: Mapping[str, str] = field(default_factory=dict)
    target: str = ""
    no_cache: bool = False
    labels: Mapping[str, str] = field(default_factory=dict)
    network: str = "bridge"  # RUN's network unless it asks: bridge (as Docker), none, host, a name
    pull: str = "missing"  # base images: missing (pull when absent), always, never


@dataclass(frozen=True)
class BuildResult:
    image: Image
    steps: int
    cached: int
    warnings: tuple[str, ...] = ()


@dataclass(frozen=True)
class StageResult:
    image: StepImage
    state: StageState


class Builder:
    """Builds images with one engine; progress goes to ``progress``."""

    def __init__(
        self, engine: BuildEngine, *, progress: Progress, pull: ImagePuller | None = None
    ) -> None:
        self.engine = engine
        self.progress = progress
        self.pull = pull
        self.cache = BuildCache(engine.db)

    def build(
        self, dockerfile: ins.Dockerfile, context: SourceTree, options: BuildOptions
    ) -> BuildResult:
        target = _target(dockerfile, options.target)
        lexer = Lexer(escape=dockerfile.escape)
        used: set[str] = set()
        defaults = platform_args(host_platform(), target.name)
        scope = global_scope(
            dockerfile.global_args, options.build_args, defaults=defaults, lexer=lexer, used=used
        )
        with (
            self.engine.images.ingest_session() as lease,
            self._workdir() as workdir,
        ):
            writer = ImageWriter(self.engine.images, self.engine.snapshotter, lease)
            run = _Build(
                self,
                dockerfile,
                context=context,
                options=options,
                writer=writer,
                workdir=workdir,
                scope=scope,
                used=used,
            )
            result = run.stage(target)
            final = writer.finish(result.image, labels=dict(options.labels))
        for ref in options.tags:
            self.engine.images.store.tag(final.id, ref)
        image = self.engine.images.store.get(final.id)
        unused = sorted(k for k in options.build_args if k not in used and k not in PROXY_ARGS)
        warnings: tuple[str, ...] = ()
        if unused:
            warnings = (f"One or more build-args {unused} were not consumed",)
        return BuildResult(image, run.steps, run.cached, warnings)

    @contextlib.contextmanager
    def _workdir(self) -> Iterator[Path]:
        path = self.engine.settings.runroot / "build" / secrets.token_hex(8)
        path.mkdir(parents=True, mode=0o700)
        try:
            yield path
        finally:
            shutil.rmtree(path, ignore_errors=True)


def _target(dockerfile: ins.Dockerfile, name: str) -> ins.Stage:
    if not name:
        return dockerfile.stages[-1]
    for stage in dockerfile.stages:
        if stage.name == name.lower():
            return stage
    names = [s.name for s in dockerfile.stages if s.name]
    raise CaisError(
        f"target stage {name!r} could not be found"
        + (f" (stages: {', '.join(names)})" if names else " (no stage has a name)")
    )


class _Build:
    """One build in progress: the stages made so far and how steps are run."""

    def __init__(
        self,
        builder: Builder,
        dockerfile: ins.Dockerfile,
        *,
        context: SourceTree,
        options: BuildOptions,
        writer: ImageWriter,
        workdir: Path,
        scope: dict[str, str],
        used: set[str],
    ) -> None:
        self.builder = builder
        self.engine = builder.engine
        self.progress = builder.progress
        self.dockerfile = dockerfile
        self.options = options
        self.writer = writer
        self.workdir = workdir
        self.scope = scope
        self.used = used
        self.lexer = Lexer(escape=dockerfile.escape)
        self.mounted = MountedSnapshot(self.engine.snapshotter, workdir / "mnt")
        self.runner = RunStep(self.engine.containers, self.engine.snapshotter)
        self.files = FileSteps(
            context=context,
            writer=writer,
            mounted=self.mounted,
            downloads=workdir / "downloads",
            source_image=self._source_image,
        )
        self.built: dict[int, StageResult] = {}
        self.building: list[int] = []
        self.current: ins.Stage | None = None
        self.steps = 0
        self.cached = 0
        self.proxies = {k: v for k, v in options.build_args.items() if k in PROXY_ARGS}

    def fail(self, line: int, message: str) -> DockerfileError:
        return DockerfileError(line, message, self.dockerfile.filename)

    # stages

    def stage(self, stage: ins.Stage) -> StageResult:
        if stage.index in self.built:
            return self.built[stage.index]
        if stage.index in self.building:
            raise self.fail(stage.from_.location.line, "circular dependency between stages")
        self.building.append(stage.index)
        outer = self.current
        self.current = stage
        try:
            result = self._build_stage(stage)
        finally:
            self.current = outer
            self.building.pop()
        self.built[stage.index] = result
        return result

    def _base(self, stage: ins.Stage) -> tuple[StepImage, StageState, tuple[str, ...]]:
        """The image a stage starts from, its state, and the ONBUILD triggers to run."""
        line = stage.from_.location.line
        try:
            name = self.lexer.word(stage.from_.base, self.scope)
            platform = self.lexer.word(stage.from_.platform, self.scope)
        except WordError as exc:
            raise self.fail(line, str(exc)) from None
        if not name:
            raise self.fail(line, f"base name ({stage.from_.base}) should not be blank")
        host = host_platform()
        if platform and platform.split("/")[:2] != [host.os, host.architecture]:
            self.progress.note(
                f"WARNING: FROM --platform={platform} ignored: this builder makes "
                f"{host.os}/{host.architecture} images"
            )
        for earlier in self.dockerfile.stages[: stage.index]:
            if earlier.name and earlier.name == name.lower():
                parent = self.stage(earlier)
                triggers = parent.state.config.on_build
                state = replace(
                    parent.state,
                    config=replace(parent.state.config, on_build=()),
                    cmd_set=False,
                )
                return parent.image, state, triggers
        if name == "scratch":
            return self.writer.scratch(), start_stage(ContainerConfig()), ()
        try:
            image = self._image(name)
        except CaisError as exc:
            raise self.fail(line, f'base image "{name}": {exc}') from None
        step_image = self.writer.load(image)
        config = image.config.config
        return step_image, start_stage(config, author=image.config.author), config.on_build

    def _earlier(self, stage: ins.Stage, name: str) -> ins.Stage | None:
        for earlier in self.dockerfile.stages[: stage.index]:
            if (earlier.name and earlier.name == name.lower()) or (
                name.isdigit() and int(name) == earlier.index
            ):
                return earlier
        return None

    def _build_stage(self, stage: ins.Stage) -> StageResult:
        for instruction in stage.instructions:  # what COPY --from needs, built first
            if isinstance(instruction, ins.Copy) and instruction.from_:
                needed = self._earlier(stage, instruction.from_)
                if needed is not None:
                    self.stage(needed)
        image, state, triggers = self._base(stage)
        instructions: list[ins.Instruction] = [
            parse_trigger(t, line=stage.from_.location.line, filename=self.dockerfile.filename)
            for t in triggers
        ]
        instructions += stage.instructions
        total = len(instructions) + 1
        number = self.progress.start(f"[{stage.label} 1/{total}] {stage.from_.location.text}")
        self.progress.done(number)
        key = base_key(image.id, platform=str(host_platform()))
        for index, instruction in enumerate(instructions, start=2):
            label = f"[{stage.label} {index}/{total}] {instruction.location.text}"
            image, state, key = self._step(instruction, label, image, state, key)
        return StageResult(image, state)

    def _image(self, name: str) -> Image:
        """A base or ``COPY --from`` image: local, or pulled as ``--pull`` says."""
        pull = self.builder.pull
        if self.options.pull != "always" or pull is None:
            try:
                return self.engine.images.store.resolve(name)
            except NotFoundError:
                if pull is None or self.options.pull == "never":
                    raise NotFoundError("not found locally") from None
        assert pull is not None
        self.progress.note(f"pulling {name}")
        return pull(name)

    def _source_image(self, name: str) -> tuple[StepImage, str]:
        """``COPY --from=name``: an earlier stage (by name or index) or a local image."""
        current = self.current
        for stage in self.dockerfile.stages:
            if (stage.name and stage.name == name.lower()) or (
                name.isdigit() and int(name) == stage.index
            ):
                if current is not None and stage.index >= current.index:
                    raise FileStepError(
                        f"cannot copy from stage {name!r}, it needs to be defined before "
                        f"current stage {current.label!r}"
                    )
                return self.stage(stage).image, f"stage {stage.label}"
        if name.isdigit():
            raise FileStepError(f"invalid stage index {name}")
        try:
            image = self._image(name)
        except CaisError as exc:
            raise FileStepError(
                f'COPY --from: "{name}" is not a stage, and as an image: {exc}'
            ) from None
        return self.writer.load(image), f"image {name}"

    # steps

    def _step(
        self,
        instruction: ins.Instruction,
        label: str,
        image: StepImage,
        state: StageState,
        key: str,
    ) -> tuple[StepImage, StageState, str]:
        line = instruction.location.line
        number = self.progress.start(label)
        self.steps += 1
        try:
            result = self._dispatch(instruction, number, image, state, key)
        except (BuildStepError, DockerfileError) as exc:
            self.progress.failed(number, exc.message)  # already names its line
            raise
        except (CaisError, OSError) as exc:
            self.progress.failed(number, str(exc))
            raise BuildStepError(line, str(exc), filename=self.dockerfile.filename) from None
        return result

    def _lookup(self, key: str) -> StepImage | None:
        if self.options.no_cache:
            return None
        image_id = self.builder.cache.lookup(key)
        if image_id is None:
            return None
        try:
            image = self.engine.images.store.get(image_id)
        except NotFoundError:
            self.builder.cache.forget(key)
            return None
        return self.writer.load(image)

    def _dispatch(
        self,
        instruction: ins.Instruction,
        number: int,
        image: StepImage,
        state: StageState,
        key: str,
    ) -> tuple[StepImage, StageState, str]:
        if isinstance(instruction, ins.Arg):
            applied = apply_arg(
                state,
                instruction,
                build_args=self.options.build_args,
                global_args=self.scope,
                lexer=self.lexer,
            )
            self.used.update(applied.used_args)
            # keyed on the definition: a value counts where used (RUN's args, expanded text)
            inputs = StepInputs("ARG", applied.history)
            return self._config_step(
                number, image, applied.state, history=applied.history, key=key, inputs=inputs
            )
        if isinstance(instruction, METADATA):
            applied = apply_metadata(state, instruction, lexer=self.lexer)
            inputs = StepInputs(type(instruction).__name__.upper(), applied.history)
            return self._config_step(
                number, image, applied.state, history=applied.history, key=key, inputs=inputs
            )
        if isinstance(instruction, ins.Workdir):
            applied = apply_workdir(state, instruction, lexer=self.lexer)
            user = applied.state.config.user
            inputs = StepInputs("WORKDIR", applied.history, extra=(("user", user),))
            key = step_key(key, inputs)
            hit = self._lookup(key)
            if hit is not None:
                return self._hit(number, hit, applied.state, key)
            made = self._workdir(image, applied.state, applied.history)
            return self._made(number, made, applied.state, key)
        if isinstance(instruction, ins.Run):
            return self._run(instruction, number, image, state, key)
        plan = self.files.plan(instruction, state, lexer=self.lexer)
        key = step_key(key, plan.inputs)
        hit = self._lookup(key)
        if hit is not None:
            return self._hit(number, hit, state, key)
        return self._made(number, self.files.execute(plan, image, state), state, key)

    def _hit(
        self, number: int, image: StepImage, state: StageState, key: str
    ) -> tuple[StepImage, StageState, str]:
        self.cached += 1
        self.progress.cached(number)
        return image, state, key

    def _made(
        self, number: int, image: StepImage, state: StageState, key: str
    ) -> tuple[StepImage, StageState, str]:
        self.builder.cache.store(key, image.id)
        self.progress.done(number)
        return image, state, key

    def _config_step(
        self,
        number: int,
        image: StepImage,
        state: StageState,
        *,
        history: str,
        key: str,
        inputs: StepInputs,
    ) -> tuple[StepImage, StageState, str]:
        key = step_key(key, inputs)
        hit = self._lookup(key)
        if hit is not None:
            return self._hit(number, hit, state, key)
        return self._made(number, self.writer.commit_config(image, state, history), state, key)

    def _workdir(self, image: StepImage, state: StageState, history: str) -> StepImage:
        path = state.config.working_dir
        if path == "/":
            return self.writer.commit_config(image, state, history)
        with self.mounted.active(image.top) as (key, root), Destination(root) as dest:
            owner = user_ids(root, state.config.user) if state.config.user else None
            dest.make_dirs(path, owner=owner)
        return self.writer.commit_snapshot(image, key, state, history)

    def _run(
        self, run: ins.Run, number: int, image: StepImage, state: StageState, key: str
    ) -> tuple[StepImage, StageState, str]:
        args, scripts = self._run_args(run, state)
        visible = state.visible_args()
        prefix = f"|{len(visible)} " + " ".join(f"{k}={v}" for k, v in visible) + " "
        history = "RUN " + (prefix if visible else "") + " ".join(args)
        network = self.options.network if run.network in ("", "default") else run.network
        inputs = StepInputs(
            "RUN",
            " ".join(args),
            args=visible,
            extra=(
                ("argv", "\0".join(args)),
                ("network", network),
                *((f"script:{name}", data) for name, data in scripts),
            ),
        )
        key = step_key(key, inputs)
        hit = self._lookup(key)
        if hit is not None:
            return self._hit(number, hit, state, key)
        files = []
        for name, data in scripts:
            path = self.workdir / "scripts" / f"{secrets.token_hex(6)}-{name}"
            path.parent.mkdir(parents=True, exist_ok=True)
            path.write_text(data)
            os.chmod(path, 0o755)
            files.append((name, str(path)))
        request = RunRequest(
            image_id=str(image.id),
            args=args,
            env=state.run_env(self.proxies),
            working_dir=state.config.working_dir,
            user=state.config.user,
            network=network,
            runtime=self.engine.settings.runtime,
            scripts=tuple(files),
        )
        lowers = layer_dirs(self.engine.snapshotter, image.top)
        line = run.location.line
        filename = self.dockerfile.filename

        def output(data: bytes) -> None:
            self.progress.output(number, data)

        with self.runner.run(request, on_output=output) as outcome:
            if outcome.error:
                raise BuildStepError(
                    line, f"RUN could not start: {outcome.error}", filename=filename
                )
            if outcome.exit_code != 0:
                raise RunFailedError(
                    line, outcome.exit_code, filename=filename, output="\n".join(outcome.tail)
                )
            self.runner.remove_stubs(outcome.container_id, lowers)
            made = self.writer.commit_snapshot(
                image, snapshot_key(outcome.container_id), state, history
            )
        return self._made(number, made, state, key)

    def _run_args(
        self, run: ins.Run, state: StageState
    ) -> tuple[tuple[str, ...], tuple[tuple[str, str], ...]]:
        """RUN's argv, and heredoc scripts to mount at ``/dev/pipes`` (BuildKit's rules)."""
        command = run.command
        if not run.heredocs:
            return command_args(state, command), ()
        first = command.args[0]
        if heredoc_marker(first) is not None:
            doc = run.heredocs[0]
            data = doc.text
            if data.startswith("#!"):
                return (*state.shell(), f"/dev/pipes/{doc.name}"), ((doc.name, data),)
            return (*state.shell(), data), ()
        script = first + "".join("\n" + doc.content + doc.name for doc in run.heredocs)
        return (*state.shell(), script), ()

"""What `translate`, `summarize` and `pipeline` share: one option group (a typed object built from
Typer's annotated options) and one runner that sends the inputs down the corpus path (JSONL
records → shards) or the plain path (files → one output per document)."""

from __future__ import annotations

import dataclasses
import functools
import inspect
import typing
from collections.abc import Callable
from contextlib import nullcontext
from typing import Any

from toolkit.cli.common import (
    BackendOption,
    DeviceOption,
    DtypeOption,
    EncodingOption,
    JsonOption,
    OutOption,
    OverwriteOption,
    QuantizationOption,
    QuietOption,
    ThreadsOption,
    engine_choices,
    out_target,
    partial_exit,
    read_documents,
)
from toolkit.cli.corpus import (
    ActorsOption,
    EngineOption,
    RayAddressOption,
    ResumeOption,
    ShardSizeOption,
    check_plain_flags,
    corpus_options,
    corpus_paths,
    run_corpus_command,
)
from toolkit.errors import ToolkitError
from toolkit.limits import Backend, Device, Dtype, Task

DEFAULT_SHARD_SIZE = 1000


@dataclasses.dataclass(frozen=True)
class RunOptions:
    """The options of every generating command: where outputs go, how the engines run, how inputs
    are read, how a record corpus is sharded and where it runs."""

    out: OutOption = None
    device: DeviceOption = "auto"
    backend: BackendOption = None
    quantization: QuantizationOption = None
    dtype: DtypeOption = None
    threads: ThreadsOption = 0
    encoding: EncodingOption = "utf-8"
    overwrite: OverwriteOption = False
    as_json: JsonOption = False
    quiet: QuietOption = False
    shard_size: ShardSizeOption = DEFAULT_SHARD_SIZE
    resume: ResumeOption = False
    engine_name: EngineOption = "local"
    ray_address: RayAddressOption = None
    actors: ActorsOption = None

    def engine(self, task: Task, batch_size: int | None = None, revision: str | None = None) -> Any:
        """The EngineOptions of a stage: these flags over the configured defaults of ``task``."""
        from toolkit.config import resolve_engine

        device: Device = self.device
        backend: Backend | None = self.backend
        dtype: Dtype | None = self.dtype
        return resolve_engine(task, engine_choices(device, backend, self.quantization, self.threads, batch_size,
                                                   revision, dtype))


def with_options(command: Callable[..., None]) -> Callable[..., None]:
    """Let ``command`` take a ``RunOptions`` parameter: Typer sees its fields as options (with their
    help, in their order, where the parameter stands) and the command receives one object."""
    signature = inspect.signature(command, eval_str=True)
    groups = {name: p.annotation for name, p in signature.parameters.items() if p.annotation is RunOptions}
    hints = typing.get_type_hints(RunOptions, include_extras=True)
    fields = dataclasses.fields(RunOptions)
    parameters: list[inspect.Parameter] = []
    for name, parameter in signature.parameters.items():
        if name in groups:
            parameters += [inspect.Parameter(f.name, inspect.Parameter.POSITIONAL_OR_KEYWORD, default=f.default,
                                             annotation=hints[f.name]) for f in fields]
        else:
            parameters.append(parameter)

    @functools.wraps(command)
    def run(**values: Any) -> None:
        for name in groups:
            values[name] = RunOptions(**{f.name: values.pop(f.name) for f in fields})
        command(**values)

    run.__signature__ = signature.replace(parameters=parameters)  # type: ignore[attr-defined]
    return run


# plain(docs, warnings, skipped, run): ``skipped`` holds the blank documents; the command adds
# those it cannot route and lists them all in its manifest.
Plain = Callable[[list[Any], list[str], list[dict[str, str]], Any], None]


def run_inputs(command: str, inputs: list[str], options: RunOptions, corpus_job: Callable[[], Any], plain: Plain,
               fmt: str, verb: str, stdout: bool = True) -> None:
    """Run a command over its inputs. JSONL record corpora: ``corpus_job()`` into a sharded run
    folder (resumable, local or Ray). Text files and stdin: ``plain(docs, warnings, skipped, run)``
    with the documents read, writing into ``run`` (None: stdout); skipped documents make the exit
    code 3 (README, exit codes)."""
    paths = corpus_paths(inputs)
    corpus = corpus_options(options.shard_size, options.engine_name, options.ray_address, options.actors,
                            options.encoding if paths else "utf-8")
    if paths is not None:
        run_corpus_command(command, corpus_job(), paths, options.out, fmt, corpus, options.overwrite, options.resume,
                           options.as_json, options.quiet, verb)
        return
    check_plain_flags(options.resume, options.engine_name, options.shard_size, DEFAULT_SHARD_SIZE)
    if not stdout and options.out == "-":
        raise ToolkitError(f"{command} writes two outputs per document: --out must be a folder")
    docs, warnings, skipped = read_documents(inputs, options.encoding)
    run = out_target(options.out, command, options.as_json, options.overwrite, inputs)
    with run if run is not None else nullcontext():
        plain(docs, warnings, skipped, run)
    partial_exit(skipped)

"""An arcade-serve 3.6.0 worker serving fixture tools of tests/src/fixtures.rs as an
arcade-serve author writes them: the same toolkit and tool names, descriptions and parameters,
the same answers and failures.

arcade-core's catalog requires a description on every parameter, so those undocumented in
Rust get one here. arcade-tdk's `@tool` would set the two attributes set by hand below, which
is all arcade-core's catalog reads; the worker needs no more than arcade-core and arcade-serve.
"""

import enum
import socket
import threading
import time
from typing import Annotated, Any, Optional

import uvicorn
from arcade_core.errors import (
    ErrorKind,
    FatalToolError,
    NetworkTransportError,
    RetryableToolError,
    ToolInputError,
    UpstreamError,
)
from arcade_serve.fastapi.worker import FastAPIWorker
from fastapi import FastAPI
from pydantic import BaseModel

WORKER_START = 20.0  # seconds for uvicorn to listen
WORKER_STOP = 10.0  # seconds for uvicorn to stop


async def echo(
    text: Annotated[str, "The text to echo"],
    times: Annotated[Optional[int], "How many times; once when absent"] = None,
) -> str:
    return text * (1 if times is None else times)


echo.__tool_name__ = "Echo"
echo.__tool_description__ = "Echoes a text, optionally repeated."


def sum_(values: Annotated[list[int], "The numbers to add"]) -> int:
    return sum(values)


sum_.__tool_name__ = "Sum"
sum_.__tool_description__ = "Sums numbers on the blocking pool (a sync tool)."


async def kind_of(kind: Annotated[str, "The kind of failure"]):
    # Each failure of Fixture.KindOf as the arcade-core error an author raises for it.
    if kind == "invalid":
        raise ToolInputError("the input was judged bad")
    if kind == "retryable":
        raise RetryableToolError("try again soon", retry_after_ms=1500)
    if kind == "rate":
        raise RetryableToolError("slow down", retry_after_ms=2000)
    if kind == "unavailable":
        raise RetryableToolError("the database is busy", retry_after_ms=1000)
    if kind == "upstream":
        raise UpstreamError("the remote site refused the connection", status_code=502)
    if kind == "arcade":
        raise NetworkTransportError(
            "upstream failed", kind=ErrorKind.NETWORK_TRANSPORT_RUNTIME_UNREACHABLE
        )
    raise FatalToolError("fatal failure")


kind_of.__tool_name__ = "KindOf"
kind_of.__tool_description__ = "Fails with the error kind it is asked for."


class Colour(str, enum.Enum):
    """A colour."""

    RED = "red"
    GREEN = "green"


class Point(BaseModel):
    """A point on the plane."""

    x: int
    y: int


async def choose(
    colour: Annotated[Colour, "A colour."],
    at: Annotated[Point, "A point on the plane."],
    tags: Annotated[list[str], "Tags"],
) -> str:
    # arcade-core hands a tool its input model's dump: the enum member, the point as a dict.
    name = Colour(colour).name.capitalize()
    return f"{name} at ({at['x']}, {at['y']}) tagged {','.join(tags)}"


choose.__tool_name__ = "Choose"
choose.__tool_description__ = "Takes user-defined types."

MIRRORED = {
    "Fixture.Echo": echo,
    "Fixture.Sum": sum_,
    "Fixture.KindOf": kind_of,
    "Fixture.Choose": choose,
}


class PythonWorker:
    """arcade-serve's FastAPIWorker serving MIRRORED, under uvicorn in a daemon thread of this
    process on a free loopback port: stopped on leaving the `with` block, and dies with the
    process whatever happens. `toolkits` gives each tool's toolkit (name, version,
    description), copied from FACT's listing so that requests name the same versions."""

    def __init__(self, secret: str, toolkits: dict[str, dict[str, Any]]) -> None:
        app = FastAPI()
        self.worker = FastAPIWorker(app, secret=secret)
        for name, function in MIRRORED.items():
            toolkit = toolkits[name]
            self.worker.catalog.add_tool(
                function,
                toolkit["name"],
                toolkit_version=toolkit.get("version"),
                toolkit_description=toolkit.get("description"),
            )
        self.socket = socket.socket(socket.AF_INET, socket.SOCK_STREAM)
        self.socket.bind(("127.0.0.1", 0))
        self.base = f"http://127.0.0.1:{self.socket.getsockname()[1]}"
        self.server = uvicorn.Server(uvicorn.Config(app, log_level="warning", lifespan="off"))
        self.thread = threading.Thread(
            target=self.server.run, kwargs={"sockets": [self.socket]}, daemon=True
        )

    def __enter__(self) -> "PythonWorker":
        self.thread.start()
        deadline = time.monotonic() + WORKER_START
        while not self.server.started:
            if not self.thread.is_alive() or time.monotonic() > deadline:
                self.__exit__()
                raise RuntimeError(f"arcade-serve did not start within {WORKER_START} s")
            time.sleep(0.02)
        return self

    def __exit__(self, *_: Any) -> None:
        self.server.should_exit = True
        if self.thread.is_alive():
            self.thread.join(WORKER_STOP)
        self.socket.close()
        if self.thread.is_alive():
            print(f"note arcade-serve did not stop within {WORKER_STOP} s", flush=True)

"""MyApp.Calculator (examples/src/calculator.rs) as a Python author writes it for an Arcade worker,
served as arcade-serve 3.6.0's README deploys one: a FastAPIWorker in a FastAPI app, run by
uvicorn, one process, the Engine's secret from ARCADE_WORKER_SECRET, logging at `warning`.

The peer of FACT's worker in the server bench (tests/benches/server.rs, target `arcade-serve`),
which starts this script with the Python of `.ci/python-venv.sh` and kills it when done. The
same parameters, result and failures as the Rust tool: `operation` (add, subtract, multiply,
divide), `a`, `b`; the answer `{operation, a, b, result}`; division by zero and a result that is
not a finite number refused as bad input (arcade-core's ToolInputError, the kind FACT's worker
gives its own invalid input).

uvicorn binds a socket given here, on a free loopback port, rather than a port of its own
choosing, which is the one difference from `uvicorn.run(app, host=..., port=...)` (that
function builds the same Config and Server). Once bound, the script says
`serving addr=127.0.0.1:PORT` on standard error, as `fact serve` does.
"""

import enum
import math
import os
import socket
import sys
from decimal import Decimal
from typing import Annotated, TypedDict

sys.dont_write_bytecode = True  # no __pycache__ beside the sources

import uvicorn  # noqa: E402
from arcade_core.errors import ToolInputError  # noqa: E402
from arcade_serve.fastapi import FastAPIWorker  # noqa: E402
from fastapi import FastAPI  # noqa: E402


class Operation(str, enum.Enum):
    """An arithmetic operation."""

    ADD = "add"
    SUBTRACT = "subtract"
    MULTIPLY = "multiply"
    DIVIDE = "divide"


class Calculation(TypedDict):
    """The result of a calculation, with its inputs."""

    operation: Operation
    """The operation performed."""
    a: float
    """The first operand."""
    b: float
    """The second operand."""
    result: float
    """`a <operation> b`."""


def shown(number: float) -> str:
    """`number` as Rust's `Display` writes an f64 (6, 0.5, 1 followed by 308 zeros), so that
    the messages are the Rust tool's."""
    text = format(Decimal(repr(number)), "f")
    return text.rstrip("0").rstrip(".") if "." in text else text


async def calculator(
    operation: Annotated[Operation, "The operation to perform"],
    a: Annotated[float, "The first operand"],
    b: Annotated[float, "The second operand"],
) -> Annotated[Calculation, "The result of a calculation, with its inputs."]:
    operation = Operation(operation)
    if operation is Operation.ADD:
        result = a + b
    elif operation is Operation.SUBTRACT:
        result = a - b
    elif operation is Operation.MULTIPLY:
        result = a * b
    elif b == 0.0:
        raise ToolInputError("Division by zero: 'b' must not be 0 when dividing")
    else:
        result = a / b
    if not math.isfinite(result):
        name = operation.name.capitalize()
        raise ToolInputError(
            f"the result of {shown(a)} {name} {shown(b)} is not a finite number"
        )
    return {"operation": operation, "a": a, "b": b, "result": result}


# What arcade-tdk's `@tool` sets, which is all arcade-core's catalog reads.
calculator.__tool_name__ = "Calculator"
calculator.__tool_description__ = "Performs basic arithmetic on two numbers."


def main() -> None:
    app = FastAPI()
    worker = FastAPIWorker(app, secret=os.environ["ARCADE_WORKER_SECRET"])
    worker.register_tool(calculator, "MyApp")
    listener = socket.socket(socket.AF_INET, socket.SOCK_STREAM)
    listener.bind(("127.0.0.1", 0))
    port = listener.getsockname()[1]
    print(f"arcade-serve calculator serving addr=127.0.0.1:{port}", file=sys.stderr, flush=True)
    server = uvicorn.Server(uvicorn.Config(app, log_level="warning"))
    server.run(sockets=[listener])


if __name__ == "__main__":
    main()

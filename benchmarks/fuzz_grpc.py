"""Structure-aware fuzzing of `plinth serve` over gRPC with mutated real RunFunctionRequests.

Run: `make fuzz` (or `.venv/bin/python benchmarks/fuzz_grpc.py [--mutations 100000]
[--seed N] [--save DIR]`).

Each case starts from a request the example lifecycles send (benchmarks/load_grpc.py's
corpus: every example claim, both flavors, every phase) and applies one to three mutations
where the function reads: the composite (spec, metadata, status), observed resources, required
resources (the platform EnvironmentConfig, required claims), the function input and context.
Mutations: a value of another type, huge strings and lists, deep nesting (past protobuf's
nesting limit too), missing and unknown fields, unknown kinds and API versions, hostile names,
one claim's spec under another kind, sections dropped or multiplied; and on the wire: invalid
UTF-8 inside a string, corrupt or truncated bytes, messages over the 4 MiB limit.

What must hold: the server never dies and every answer is a RunFunctionResponse (a Fatal
result with a message is fine); the only other answer allowed is gRPC's RESOURCE_EXHAUSTED for
a message over the server's receive limit, which the transport refuses before the function
sees it. Prints mutations/s, outcomes per mutation, internal errors (bugs: a Fatal result the
function did not mean) with examples, and the server's RSS; exits non-zero on a violation.
"""

from __future__ import annotations

import argparse
import asyncio
import collections
import contextlib
import dataclasses
import functools
import random
import sys
import time
from collections.abc import Callable
from pathlib import Path
from typing import Any

import grpc
from crossplane.function.proto.v1 import run_function_pb2 as fnv1
from google.protobuf import message as pb_message
from google.protobuf import struct_pb2

sys.path.insert(0, str(Path(__file__).resolve().parent))

from load_grpc import METHOD, Sample, channel_options, corpus, serve

MAX_RECEIVE = 4 * 1024 * 1024  # plinth serve's default --max-recv-message-size
UTF8_MARKER = "ZQUTF8QZ"
INVALID_UTF8 = b"\xc3\x28\xa0\xa1\xe2\x28\xa1\xff"
KINDS = [
    ("platform.plinth.dev/v1alpha1", "AccountClaim"),
    ("platform.plinth.dev/v1alpha1", "TenantClaim"),
    ("platform.plinth.dev/v1alpha1", "AppClaim"),
    ("claims.plinth.dev/v1alpha1", "XAccount"),
    ("claims.plinth.dev/v1alpha1", "XTenant"),
    ("claims.plinth.dev/v1alpha1", "XApp"),
    ("claims.plinth.dev/v1alpha1", "TenantClaim"),
    ("platform.plinth.dev/v1alpha1", "XApp"),
    ("platform.plinth.dev/v2", "AppClaim"),
    ("v1", "ConfigMap"),
    ("", ""),
    ("apiextensions.crossplane.io/v1beta1", "EnvironmentConfig"),
]
NAMES = [
    "",
    "a" * 300,
    "UPPER",
    "../../etc",
    "name with spaces",
    "ünïcødé-名前",
    "-leading",
    "trailing-",
    "a" * 63 + "b",
    "x.y.z",
    "\u202ereversed",
    "nul\x00byte",
    "kube-system",
    "default",
    "crossplane-system",
]


@dataclasses.dataclass
class Case:
    data: bytes
    mutations: list[str]
    source: str
    index: int = 0  # its place in the seed's sequence: `--start` reproduces the window


def _roots(req: fnv1.RunFunctionRequest, rng: random.Random) -> struct_pb2.Struct:
    """A Struct the function reads, the composite most often."""
    r = rng.random()
    if r < 0.5 or not (req.observed.resources or req.required_resources):
        return req.observed.composite.resource
    if r < 0.7 and req.observed.resources:
        key = rng.choice(list(req.observed.resources))
        return req.observed.resources[key].resource
    if r < 0.9 and req.required_resources:
        res = req.required_resources[rng.choice(list(req.required_resources))]
        if res.items:
            return rng.choice(res.items).resource
        return res.items.add().resource
    return req.input if rng.random() < 0.5 else req.context


def _descend(s: struct_pb2.Struct, rng: random.Random) -> tuple[Any, Any]:
    """A random (container, key) pair below `s`: a Struct and one of its keys (new or not),
    or a ListValue and an index; the deeper levels less often."""
    container: Any = s
    key: Any = rng.choice(list(s.fields)) if s.fields else "fuzz"
    for _ in range(rng.randint(0, 8)):
        v = (
            container.fields[key]
            if isinstance(container, struct_pb2.Struct)
            else container.values[key]
        )
        kind = v.WhichOneof("kind")
        if kind == "struct_value" and v.struct_value.fields:
            container = v.struct_value
            key = rng.choice(list(container.fields))
        elif kind == "list_value" and v.list_value.values:
            container = v.list_value
            key = rng.randrange(len(container.values))
        else:
            break
    if isinstance(container, struct_pb2.Struct) and rng.random() < 0.1:
        key = rng.choice(["fuzz", "spec", "metadata", "status", "kind", "apiVersion", "name"])
    return container, key


def _value(container: Any, key: Any) -> struct_pb2.Value:
    if isinstance(container, struct_pb2.Struct):
        return container.fields[key]
    return container.values[key]  # type: ignore[no-any-return]


def _text(rng: random.Random, n: int) -> str:
    alphabet = "abcdefghijklmnopqrstuvwxyz0123456789-./:_ ÄéΩ名\u202e\U0001f600\x00\t\n\"'\\{}$"
    chunk = "".join(rng.choice(alphabet) for _ in range(64))
    return (chunk * (n // 64 + 1))[:n]


def _deep(depth: int, rng: random.Random) -> struct_pb2.Value:
    v = struct_pb2.Value(string_value="bottom")
    for _ in range(depth):
        outer = struct_pb2.Value()
        if rng.random() < 0.5:
            outer.struct_value.fields["d"].CopyFrom(v)
        else:
            outer.list_value.values.add().CopyFrom(v)
        v = outer
    return v


def _scalar(rng: random.Random) -> struct_pb2.Value:
    v = struct_pb2.Value()
    choice = rng.randrange(9)
    if choice == 0:
        v.null_value = struct_pb2.NULL_VALUE
    elif choice == 1:
        v.number_value = rng.choice(
            [0, -1, 1.5, 2**53 + 1, 1e308, -1e308, float("nan"), float("inf")]
        )
    elif choice == 2:
        v.bool_value = rng.random() < 0.5
    elif choice == 3:
        v.string_value = rng.choice(NAMES)
    elif choice == 4:
        v.struct_value.SetInParent()
    elif choice == 5:
        v.list_value.SetInParent()
    elif choice == 6:
        v.string_value = _text(rng, rng.randint(1, 200))
    elif choice == 7:
        v.list_value.values.add().string_value = rng.choice(NAMES)
    else:
        v.struct_value.fields[rng.choice(NAMES) or "k"].number_value = rng.randint(-5, 5)
    return v


def m_retype(req: fnv1.RunFunctionRequest, rng: random.Random, pool: list[Sample]) -> str:
    container, key = _descend(_roots(req, rng), rng)
    _value(container, key).CopyFrom(_scalar(rng))
    return "retype"


@functools.cache
def _huge_string(n: int, seed: int) -> str:
    return _text(random.Random(seed), n)


@functools.cache
def _huge_list(n: int, seed: int) -> struct_pb2.Value:
    # Built once per size and item, then copied in C: the fuzzer's time goes to the server.
    v = struct_pb2.Value()
    item = _scalar(random.Random(seed))
    v.list_value.values.extend([item] * n)
    return v


def m_huge_string(req: fnv1.RunFunctionRequest, rng: random.Random, pool: list[Sample]) -> str:
    container, key = _descend(_roots(req, rng), rng)
    n = rng.choice([4096, 65536, 1 << 20, 3 << 20])
    _value(container, key).string_value = _huge_string(n, rng.randrange(4))
    return "huge-string"


def m_huge_list(req: fnv1.RunFunctionRequest, rng: random.Random, pool: list[Sample]) -> str:
    container, key = _descend(_roots(req, rng), rng)
    n = rng.choice([1000, 10000, 100000])
    _value(container, key).CopyFrom(_huge_list(n, rng.randrange(16)))
    return "huge-list"


def m_deep(req: fnv1.RunFunctionRequest, rng: random.Random, pool: list[Sample]) -> str:
    container, key = _descend(_roots(req, rng), rng)
    _value(container, key).CopyFrom(_deep(rng.choice([10, 30, 45, 120, 300]), rng))
    return "deep-nesting"


def m_delete(req: fnv1.RunFunctionRequest, rng: random.Random, pool: list[Sample]) -> str:
    container, key = _descend(_roots(req, rng), rng)
    if isinstance(container, struct_pb2.Struct):
        if key in container.fields:
            del container.fields[key]
    else:
        del container.values[key]
    return "missing-field"


def m_unknown_field(req: fnv1.RunFunctionRequest, rng: random.Random, pool: list[Sample]) -> str:
    container, _ = _descend(_roots(req, rng), rng)
    if isinstance(container, struct_pb2.Struct):
        container.fields[rng.choice(NAMES) or "unknownField"].CopyFrom(_scalar(rng))
    else:
        container.values.add().CopyFrom(_scalar(rng))
    return "unknown-field"


def m_kind(req: fnv1.RunFunctionRequest, rng: random.Random, pool: list[Sample]) -> str:
    root = _roots(req, rng)
    api_version, kind = rng.choice(KINDS)
    if rng.random() < 0.5:
        root.fields["kind"].string_value = kind
    else:
        root.fields["apiVersion"].string_value = api_version
        root.fields["kind"].string_value = kind
    return "unknown-kind"


def m_name(req: fnv1.RunFunctionRequest, rng: random.Random, pool: list[Sample]) -> str:
    root = _roots(req, rng)
    meta = root.fields["metadata"].struct_value
    field = rng.choice(["name", "namespace", "uid", "generateName"])
    meta.fields[field].string_value = rng.choice(NAMES)
    if rng.random() < 0.3:
        meta.fields["labels"].struct_value.fields[
            rng.choice(NAMES) or "l"
        ].string_value = rng.choice(NAMES)
    return "hostile-name"


def m_swap_spec(req: fnv1.RunFunctionRequest, rng: random.Random, pool: list[Sample]) -> str:
    other = fnv1.RunFunctionRequest.FromString(rng.choice(pool).data)
    src = other.observed.composite.resource.fields
    dst = req.observed.composite.resource.fields
    part = rng.choice(["spec", "metadata", "status"])
    if part in src:
        dst[part].CopyFrom(src[part])
    return "foreign-" + part


def m_drop(req: fnv1.RunFunctionRequest, rng: random.Random, pool: list[Sample]) -> str:
    part = rng.choice(["composite", "observed", "required", "input", "context", "meta", "desired"])
    if part == "composite":
        req.observed.ClearField("composite")
    elif part == "observed":
        req.observed.ClearField("resources")
    elif part == "required":
        req.ClearField("required_resources")
    elif part == "input":
        req.ClearField("input")
    elif part == "context":
        req.context.fields["apiextensions.crossplane.io/environment"].CopyFrom(_scalar(rng))
    elif part == "meta":
        req.ClearField("meta")
    else:
        req.desired.resources["fuzz"].resource.fields["kind"].string_value = "Fuzz"
    return "drop-" + part


def m_multiply(req: fnv1.RunFunctionRequest, rng: random.Random, pool: list[Sample]) -> str:
    n = rng.choice([10, 200, 2000])
    if req.observed.resources and rng.random() < 0.5:
        base = req.observed.resources[rng.choice(list(req.observed.resources))]
        for i in range(n):
            req.observed.resources[f"fuzz-{i}"].CopyFrom(base)
        return "many-observed"
    res = req.required_resources[rng.choice([*list(req.required_resources), "fuzz"])]
    base_item = res.items[0] if res.items else fnv1.Resource()
    for _ in range(min(n, 200)):
        res.items.add().CopyFrom(base_item)
    return "many-required"


def m_utf8_marker(req: fnv1.RunFunctionRequest, rng: random.Random, pool: list[Sample]) -> str:
    container, key = _descend(_roots(req, rng), rng)
    v = _value(container, key)
    v.string_value = (
        v.string_value if v.WhichOneof("kind") == "string_value" else ""
    ) + UTF8_MARKER
    return "invalid-utf8"


def m_oversized(req: fnv1.RunFunctionRequest, rng: random.Random, pool: list[Sample]) -> str:
    req.observed.composite.resource.fields["fuzz"].string_value = "x" * (MAX_RECEIVE + 1024)
    return "oversized"


Mutator = Callable[[fnv1.RunFunctionRequest, random.Random, list[Sample]], str]
MUTATORS: list[tuple[Mutator, float]] = [
    (m_retype, 20),
    (m_huge_string, 3),
    (m_huge_list, 2),
    (m_deep, 4),
    (m_delete, 15),
    (m_unknown_field, 10),
    (m_kind, 6),
    (m_name, 8),
    (m_swap_spec, 8),
    (m_drop, 6),
    (m_multiply, 2),
    (m_utf8_marker, 3),
    (m_oversized, 0.5),
]


def wire_mutation(data: bytes, rng: random.Random) -> tuple[bytes, str]:
    r = rng.random()
    if r < 0.4:
        b = bytearray(data)
        for _ in range(rng.randint(1, 8)):
            if b:
                b[rng.randrange(len(b))] = rng.randrange(256)
        return bytes(b), "wire-flip"
    if r < 0.7:
        return data[: rng.randrange(max(1, len(data)))], "wire-truncate"
    if r < 0.85:
        return data + bytes(rng.randrange(256) for _ in range(rng.randint(1, 32))), "wire-append"
    return bytes(rng.randrange(256) for _ in range(rng.randint(0, 512))), "wire-garbage"


def make_case(pool: list[Sample], rng: random.Random) -> Case:
    mutators, weights = zip(*MUTATORS, strict=True)
    while True:
        sample = rng.choice(pool)
        req = fnv1.RunFunctionRequest.FromString(sample.data)
        names = [m(req, rng, pool) for m in rng.choices(mutators, weights, k=rng.randint(1, 3))]
        # Tags keep every case a cache miss: the function composes each one.
        req.meta.tag = f"fuzz-{rng.getrandbits(48):x}"
        try:
            data = req.SerializeToString(deterministic=True)
            break
        except pb_message.EncodeError:
            # protobuf 7 refuses to encode some mutants (no client could send them either),
            # now and then; draw another.
            continue
    if UTF8_MARKER.encode() in data:
        data = data.replace(UTF8_MARKER.encode(), INVALID_UTF8)
    if rng.random() < 0.05:
        data, name = wire_mutation(data, rng)
        names.append(name)
    return Case(data, names, sample.where)


@dataclasses.dataclass
class Results:
    cases: int = 0
    outcomes: collections.Counter[str] = dataclasses.field(default_factory=collections.Counter)
    by_mutation: dict[str, collections.Counter[str]] = dataclasses.field(
        default_factory=lambda: collections.defaultdict(collections.Counter)
    )
    violations: list[str] = dataclasses.field(default_factory=list)
    internal: list[str] = dataclasses.field(default_factory=list)
    saved: list[Case] = dataclasses.field(default_factory=list)
    max_request: int = 0


def judge(case: Case, raw: bytes | None, error: grpc.aio.AioRpcError | None, r: Results) -> None:
    r.cases += 1
    r.max_request = max(r.max_request, len(case.data))
    if error is not None:
        if error.code() == grpc.StatusCode.RESOURCE_EXHAUSTED and len(case.data) > MAX_RECEIVE:
            outcome = "refused-oversized"
        else:
            outcome = "rpc-error"
            r.violations.append(
                f"#{case.index} {case.source} {case.mutations} ({len(case.data):,} bytes): "
                f"{error.code()} {error.details()}"
            )
            r.saved.append(case)
    else:
        try:
            rsp = fnv1.RunFunctionResponse.FromString(raw or b"")
        except Exception as e:
            r.violations.append(f"{case.source} {case.mutations}: not a RunFunctionResponse: {e}")
            r.saved.append(case)
            outcome = "not-a-response"
        else:
            fatal = next((x for x in rsp.results if x.severity == fnv1.SEVERITY_FATAL), None)
            if fatal is None:
                outcome = "ok"
            elif fatal.message.startswith("function-plinth cannot read"):
                outcome = "fatal-unreadable"
            elif fatal.message.startswith("internal error"):
                outcome = "internal-error"
                if len(r.internal) < 20:
                    r.internal.append(f"{case.source} {case.mutations}: {fatal.message[:400]}")
                r.saved.append(case)
            elif not fatal.message.strip():
                outcome = "fatal-without-message"
                r.violations.append(f"{case.source} {case.mutations}: Fatal result with no message")
            else:
                outcome = "fatal"
    r.outcomes[outcome] += 1
    for m in case.mutations:
        r.by_mutation[m][outcome] += 1


async def fuzz(
    endpoint: str,
    pool: list[Sample],
    *,
    mutations: int,
    seed: int,
    concurrency: int,
    results: Results,
    alive: Callable[[], bool],
    on_progress: Callable[[int], None] | None = None,
    start: int = 0,
) -> None:
    rng = random.Random(seed)
    opts = [*channel_options(), ("grpc.max_send_message_length", 64 * 1024 * 1024)]
    queue: asyncio.Queue[Case | None] = asyncio.Queue(maxsize=concurrency * 2)

    async def produce() -> None:
        for i in range(mutations):
            case = make_case(pool, rng)
            if i < start:
                continue  # drawn, so the cases after it are the seed's
            await queue.put(dataclasses.replace(case, index=i))
            if on_progress and i and i % 10000 == 0:
                on_progress(i)
        for _ in range(concurrency):
            await queue.put(None)

    async with grpc.aio.insecure_channel(endpoint, options=opts) as channel:
        call = channel.unary_unary(METHOD)

        async def consume() -> None:
            while (case := await queue.get()) is not None:
                try:
                    raw = await call(case.data, timeout=120)
                    judge(case, raw, None, results)
                except grpc.aio.AioRpcError as e:
                    judge(case, None, e, results)
                    if not alive():
                        results.violations.append(f"the server died after {case.mutations}")
                        raise

        await asyncio.gather(produce(), *(consume() for _ in range(concurrency)))


@dataclasses.dataclass
class Run:
    results: Results
    seconds: float
    alive: bool
    peak_rss: int
    rss: list[int]
    health: bool


def run_fuzz(
    mutations: int,
    *,
    seed: int = 0,
    concurrency: int = 8,
    progress: bool = False,
    start: int = 0,
) -> Run:
    pool = list(corpus())
    results = Results()
    rss: list[int] = []
    with serve() as server:
        began = time.monotonic()

        def report(i: int) -> None:
            rss.append(server.rss())
            if progress:
                print(
                    f"  {i} mutations, {i / (time.monotonic() - began):.0f}/s, "
                    f"RSS {rss[-1] / 2**20:.0f} MiB, {dict(results.outcomes)}",
                    flush=True,
                )

        with contextlib.suppress(grpc.aio.AioRpcError):
            asyncio.run(
                fuzz(
                    server.endpoint,
                    pool,
                    mutations=mutations,
                    seed=seed,
                    concurrency=concurrency,
                    results=results,
                    alive=server.alive,
                    on_progress=report,
                    start=start,
                )
            )
        seconds = time.monotonic() - began
        alive = server.alive()
        peak = server.peak_rss() if alive else 0
        rss.append(server.rss() if alive else 0)
        health = alive and _still_answers(server.endpoint, pool[0])
    return Run(results, seconds, alive, peak, rss, health)


def _still_answers(endpoint: str, sample: Sample) -> bool:
    """After the storm, an unmutated request gets its normal answer."""
    with grpc.insecure_channel(endpoint) as channel:
        raw = channel.unary_unary(METHOD)(sample.data, timeout=30)
    rsp = fnv1.RunFunctionResponse.FromString(raw)
    return not any(r.severity == fnv1.SEVERITY_FATAL for r in rsp.results)


def print_run(run: Run, seed: int) -> None:
    r = run.results
    print(
        f"{r.cases} mutations (seed {seed}) in {run.seconds:.0f} s: "
        f"{r.cases / run.seconds:.0f} mutations/s; largest request {r.max_request / 2**20:.1f} MiB"
    )
    print("outcomes: " + ", ".join(f"{k} {v}" for k, v in r.outcomes.most_common()))
    print("per mutation:")
    for m, counts in sorted(r.by_mutation.items()):
        print(f"  {m}: " + ", ".join(f"{k} {v}" for k, v in counts.most_common()))
    print(
        f"server alive: {run.alive}, answers an unmutated request: {run.health}; "
        f"RSS MiB over the run: {[round(x / 2**20) for x in run.rss]}, "
        f"peak {run.peak_rss / 2**20:.0f}"
    )
    for line in r.internal:
        print(f"internal error: {line}")
    for line in r.violations[:20]:
        print(f"VIOLATION: {line}")


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawTextHelpFormatter)
    ap.add_argument("--mutations", type=int, default=100_000)
    ap.add_argument("--seed", type=int, default=19)
    ap.add_argument("--concurrency", type=int, default=8)
    ap.add_argument("--save", type=Path, help="write requests that broke a rule here")
    ap.add_argument(
        "--start", type=int, default=0, help="send only cases START.. of the seed's sequence"
    )
    args = ap.parse_args()
    run = run_fuzz(
        args.mutations,
        seed=args.seed,
        concurrency=args.concurrency,
        progress=True,
        start=args.start,
    )
    print_run(run, args.seed)
    if args.save:
        args.save.mkdir(parents=True, exist_ok=True)
        for case in run.results.saved[:200]:
            (args.save / f"case-{case.index}.binpb").write_bytes(case.data)
    ok = run.alive and run.health and not run.results.violations
    sys.exit(0 if ok else 1)


if __name__ == "__main__":
    main()

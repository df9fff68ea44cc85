"""Load generator (asyncio + aiohttp), run as its own process: N concurrent clients for S seconds against one server.

    python benchmarks/loadgen.py --base URL --plan plan.json --mode verify|enrol|baseline-score|baseline-train
        --clients N --seconds S

plan.json holds the accounts' bearer headers and the features to send; with ``"pick": "random"``
every operation uses a uniformly random account of the plan (default: each client walks the
accounts in turn). A verification answers each prompted digit with a real take drawn from
``plan["answers"][digit]`` (base64 float32 arrays) when the plan has them (synthetic frames are refused as
not speech), in the binary form or, with ``"form": "json"``, as JSON (base64 float32 fields).
Prints one JSON object: latencies in ms of every completed operation, errors,
wall time.
"""

from __future__ import annotations

import argparse
import asyncio
import base64
import json
import time
from typing import Any

import aiohttp
import numpy as np

from speakerverify.features import DEFAULT_CONFIG, wire


def synthetic_frames(rng: np.random.Generator, frames: int = 60) -> tuple[np.ndarray, np.ndarray]:
    """Random Meyda-like frames: (mfcc (T, 13), energy (T,)), loud enough to count as speech."""
    mfcc = rng.normal(0, 8, (frames, 13)).astype("<f4")
    mfcc[:, 0] += 250
    return mfcc, np.full(frames, 1e9, dtype="<f4")


def synthetic_answer(rng: np.random.Generator, challenge_id: str, digits: list[int]) -> bytes:
    """A binary answer body (features/wire.py) of fresh random frames per prompted digit."""
    return wire.encode_answer(challenge_id, [(d, *synthetic_frames(rng)) for d in digits], DEFAULT_CONFIG.config_id)


def synthetic_segments(rng: np.random.Generator, digits: list[int], frames: int = 60) -> list[dict[str, Any]]:
    """Fresh random frames per request (never a replay); scoring costs the same as for real speech."""
    segs = []
    for d in digits:
        mfcc, energy = synthetic_frames(rng, frames)
        segs.append(
            {
                "digit": d,
                "mfcc_b64": base64.b64encode(mfcc.tobytes()).decode(),
                "energy_b64": base64.b64encode(energy.tobytes()).decode(),
            }
        )
    return segs


def _pool(plan: dict[str, Any]) -> dict[int, list[tuple[np.ndarray, np.ndarray]]] | None:
    """The plan's real takes per digit, decoded once: {digit: [(mfcc (T, 13), energy (T,)), ...]}."""
    if "answers" not in plan:
        return None
    pool: dict[int, list[tuple[np.ndarray, np.ndarray]]] = {}
    for digit, takes in plan["answers"].items():
        pool[int(digit)] = []
        for t in takes:
            energy = np.frombuffer(base64.b64decode(t["energy_b64"]), "<f4")
            pool[int(digit)].append((np.frombuffer(base64.b64decode(t["mfcc_b64"]), "<f4").reshape(-1, 13), energy))
    return pool


def answer_request(
    rng: np.random.Generator, pool: dict[int, list[tuple[np.ndarray, np.ndarray]]] | None, form: str, ch: dict[str, Any]
) -> dict[str, Any]:
    """aiohttp keyword arguments of one answer to challenge ``ch``: real takes of the prompted digits if
    there is a pool (else synthetic frames), in the binary form or as JSON."""
    digits = [int(d) for d in ch["digits"]]
    if pool is None:
        segs = [(d, *synthetic_frames(rng)) for d in digits]
    else:
        segs = [(d, *pool[d][int(rng.integers(len(pool[d])))]) for d in digits]
    if form == "json":
        fields = [
            {
                "digit": d,
                "mfcc_b64": base64.b64encode(np.asarray(m, "<f4").tobytes()).decode(),
                "energy_b64": base64.b64encode(np.asarray(e, "<f4").tobytes()).decode(),
            }
            for d, m, e in segs
        ]
        return {"json": {"challenge_id": ch["challenge_id"], "segments": fields}}
    body = wire.encode_answer(ch["challenge_id"], segs, DEFAULT_CONFIG.config_id)
    return {"data": body, "headers": {"Content-Type": wire.CONTENT_TYPE}}


async def _post(http: aiohttp.ClientSession, path: str, ok: tuple[int, ...], **kwargs: Any) -> Any:
    async with http.post(path, **kwargs) as r:
        body = await r.read()
        if r.status not in ok:
            raise RuntimeError(f"POST {path}: {r.status} {body[:200]!r}")
        return json.loads(body) if body else None


async def client_loop(
    http: aiohttp.ClientSession,
    plan: dict[str, Any],
    mode: str,
    index: int,
    stop: float,
    out: list[float],
    errors: list[str],
) -> None:
    rng = np.random.default_rng(index)
    accounts = plan["accounts"]
    pick_random = plan.get("pick") == "random"
    pool, form = _pool(plan), plan.get("form", "binary")
    n = 0
    while time.perf_counter() < stop:
        account = accounts[int(rng.integers(len(accounts))) if pick_random else (index + n) % len(accounts)]
        n += 1
        t0 = time.perf_counter()
        try:
            if mode == "verify":
                ch = await _post(http, "/api/v1/challenges", (201,), headers=account["auth"])
                req = answer_request(rng, pool, form, ch)
                req["headers"] = {**account["auth"], **req.get("headers", {})}
                await _post(http, "/api/v1/verifications", (200,), **req)
            elif mode == "enrol":
                take = plan["takes"][(index * 7919 + n) % len(plan["takes"])]
                headers = {**account["auth"], "Content-Type": wire.CONTENT_TYPE}
                body = base64.b64decode(take["binary_b64"])
                await _post(http, "/api/v1/enrolment/utterances", (201, 422), data=body, headers=headers)
            elif mode == "baseline-train":
                take = plan["takes"][(index * 7919 + n) % len(plan["takes"])]
                await _post(http, f"/train/{account['user']}", (200,), json=take)
            elif mode == "baseline-score":
                segs = synthetic_segments(rng, [int(d) for d in rng.choice(10, 5, replace=False)])
                await _post(http, f"/score/{account['user']}", (200,), json={"segments": segs})
            out.append((time.perf_counter() - t0) * 1000)
        except (TimeoutError, aiohttp.ClientError, RuntimeError, KeyError) as exc:
            errors.append(repr(exc)[:200])


async def main_async(args: argparse.Namespace) -> dict[str, Any]:
    plan = json.loads(open(args.plan).read())
    latencies: list[float] = []
    errors: list[str] = []
    # aiohttp rather than httpx: the generator shares the 2 cores with the server, and aiohttp spends
    # about a third of httpx's CPU per request (measured: ~8 ms vs ~2.5 ms per challenge + answer).
    connector = aiohttp.TCPConnector(limit=args.clients)
    timeout = aiohttp.ClientTimeout(total=60)
    async with aiohttp.ClientSession(args.base, connector=connector, timeout=timeout) as http:
        start = time.perf_counter()
        stop = start + args.seconds
        await asyncio.gather(
            *(client_loop(http, plan, args.mode, i, stop, latencies, errors) for i in range(args.clients))
        )
        wall = time.perf_counter() - start
    return {"latencies_ms": latencies, "errors": errors[:20], "n_errors": len(errors), "wall_s": wall}


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--base", required=True)
    parser.add_argument("--plan", required=True)
    parser.add_argument("--mode", required=True, choices=["verify", "enrol", "baseline-train", "baseline-score"])
    parser.add_argument("--clients", type=int, default=1)
    parser.add_argument("--seconds", type=float, default=10)
    print(json.dumps(asyncio.run(main_async(parser.parse_args()))))


if __name__ == "__main__":
    main()

"""Load generator, run as its own process: N concurrent clients for S seconds against one server.

    python benchmarks/loadgen.py --base URL --plan plan.json --mode verify|enrol|baseline-score|baseline-train
        --clients N --seconds S

plan.json holds the accounts' bearer headers and the features to send. Prints one JSON
object: latencies in ms of every completed operation, errors, wall time.
"""

from __future__ import annotations

import argparse
import asyncio
import json
import time
from typing import Any

import httpx
import numpy as np


def synthetic_segments(rng: np.random.Generator, digits: list[int], frames: int = 60) -> list[dict[str, Any]]:
    """Fresh random frames per request (never a replay); scoring costs the same as for real speech."""
    import base64

    segs = []
    for d in digits:
        mfcc = rng.normal(0, 8, (frames, 13)).astype("<f4")
        mfcc[:, 0] += 250
        energy = np.full(frames, 1e9, dtype="<f4")
        segs.append(
            {
                "digit": d,
                "mfcc_b64": base64.b64encode(mfcc.tobytes()).decode(),
                "energy_b64": base64.b64encode(energy.tobytes()).decode(),
            }
        )
    return segs


async def client_loop(
    http: httpx.AsyncClient,
    plan: dict[str, Any],
    mode: str,
    index: int,
    stop: float,
    out: list[float],
    errors: list[str],
) -> None:
    rng = np.random.default_rng(index)
    accounts = plan["accounts"]
    n = 0
    while time.perf_counter() < stop:
        account = accounts[(index + n) % len(accounts)]
        n += 1
        t0 = time.perf_counter()
        try:
            if mode == "verify":
                r = await http.post("/api/v1/challenges", headers=account["auth"])
                r.raise_for_status()
                ch = r.json()
                body = {"challenge_id": ch["challenge_id"], "segments": synthetic_segments(rng, ch["digits"])}
                r = await http.post("/api/v1/verifications", json=body, headers=account["auth"])
                r.raise_for_status()
            elif mode == "enrol":
                take = plan["takes"][(index * 7919 + n) % len(plan["takes"])]
                body = {"config_id": "mfcc-8k-v1", **take}
                r = await http.post("/api/v1/enrolment/utterances", json=body, headers=account["auth"])
                if r.status_code not in (201, 422):
                    r.raise_for_status()
            elif mode == "baseline-train":
                take = plan["takes"][(index * 7919 + n) % len(plan["takes"])]
                r = await http.post(f"/train/{account['user']}", json=take)
                r.raise_for_status()
            elif mode == "baseline-score":
                segs = synthetic_segments(rng, [int(d) for d in rng.choice(10, 5, replace=False)])
                r = await http.post(f"/score/{account['user']}", json={"segments": segs})
                r.raise_for_status()
            out.append((time.perf_counter() - t0) * 1000)
        except (httpx.HTTPError, KeyError) as exc:
            errors.append(repr(exc)[:200])


async def main_async(args: argparse.Namespace) -> dict[str, Any]:
    plan = json.loads(open(args.plan).read())
    latencies: list[float] = []
    errors: list[str] = []
    limits = httpx.Limits(max_connections=args.clients, max_keepalive_connections=args.clients)
    async with httpx.AsyncClient(base_url=args.base, timeout=60, limits=limits) as http:
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

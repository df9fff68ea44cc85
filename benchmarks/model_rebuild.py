"""What rebuilding a ready user's speaker model (and its take replay templates) from its stored takes costs.

    python benchmarks/model_rebuild.py [--fsdd /work/shared/data/fsdd] [--takes 60 600] [--repeat 3]
        [--database-url URL --users 30]

The takes are FSDD jackson's and george's (takes 0-49, cycling speakers and take numbers until every digit
has ``takes / 10``), rounded as a take is stored (``utterances.as_stored``). Rows:

* ``per take``: ``voice.takes.rebuild_model`` as it was (``take_stats`` per take: the take and its 4 noisy
  copies, 5 ``posteriors`` calls a take, float64);
* ``stacked``: ``voice.takes.stacked_model``: every take's and copy's frames post-processed, stacked and put
  through the UBM posteriors in blocks, float32 matrix products, then summed per take;
* ``both models``: ``voice.takes.stacked_user_model``, what ``derive`` builds: the voice and the content
  check's models together (the copies they share drawn and put through the posteriors once);
* ``copies + post-processing``: making the noisy copies and post-processing them (part of ``stacked``),
  the part that stacking the posteriors does not reduce;
* ``templates``: ``voice.runtime.take_template`` of every take (the take replay fingerprints);
* ``density terms``: the digit models' scoring terms from the statistics (``voice.runtime.cached_model``);
* ``cache miss``: what ``VoiceRuntime.derive`` costs beyond reading the takes (both models + templates +
  terms).

Single-threaded BLAS, as the server runs. With ``--database-url`` it also reads ``--users`` ready users'
models through ``VoiceRuntime.speaker`` twice each (the first read derives the entry, the second hits).

It also checks the stacked model against the per-take one (largest relative difference of the digit means
scoring uses): a rebuild must give the model enrolment would have built.
"""

from __future__ import annotations

import argparse
import time
from pathlib import Path

import numpy as np
from threadpoolctl import threadpool_limits

from speakerverify.features import DEFAULT_POST, extract, postprocess, read_audio
from speakerverify.models.noisy_copies import DEFAULT_RECIPE, noisy_copies, take_stats
from speakerverify.models.speaker import DEFAULT_ADAPTATION, SpeakerModel, digit_means
from speakerverify.models.ubm import load_default_ubm
from speakerverify.storage import utterances
from speakerverify.voice.runtime import cached_model, take_template
from speakerverify.voice.takes import stacked_model, stacked_user_model


def load_takes(root: Path, per_digit: int) -> list[tuple[int, np.ndarray, np.ndarray]]:
    """(digit, mfcc, energy) of ``per_digit`` takes of every digit, as stored."""
    out = []
    for digit in range(10):
        for i in range(per_digit):
            speaker = ("jackson", "george")[(i // 50) % 2]
            path = root / "recordings" / f"{digit}_{speaker}_{i % 50}.wav"
            mfcc, energy = extract(read_audio(path))
            out.append((digit, *utterances.as_stored(mfcc.astype(np.float32), energy.astype(np.float32))))
    return out


def per_take(gmm, takes) -> SpeakerModel:  # type: ignore[no-untyped-def]
    model = SpeakerModel.empty(gmm.n_components, gmm.dim)
    for digit, mfcc, energy in takes:
        model = model.add(digit, take_stats(gmm, mfcc, energy, DEFAULT_POST, DEFAULT_RECIPE))
    return model


def best_of(repeat: int, fn):  # type: ignore[no-untyped-def]
    times, out = [], None
    for _ in range(repeat):
        start = time.perf_counter()
        out = fn()
        times.append(time.perf_counter() - start)
    return min(times) * 1000, out


def row(gmm, takes, repeat: int) -> str:  # type: ignore[no-untyped-def]
    """One table row for ``takes``."""
    ubm = load_default_ubm()
    t_old, old = best_of(repeat, lambda: per_take(gmm, takes))
    t_new, new = best_of(repeat, lambda: stacked_model(gmm, takes, DEFAULT_POST, DEFAULT_RECIPE))
    t_both, both = best_of(repeat, lambda: stacked_user_model(gmm, takes))
    t_fp, _ = best_of(repeat, lambda: [take_template(m, e) for _, m, e in takes])
    t_terms, _ = best_of(repeat, lambda: cached_model(ubm, 1, both, DEFAULT_ADAPTATION))

    def copies() -> int:
        frames = 0
        for _, m, e in takes:
            frames += len(postprocess(m, e, DEFAULT_POST))
            for cm, ce in noisy_copies(m, e, DEFAULT_RECIPE):
                frames += len(postprocess(cm, ce, DEFAULT_POST))
        return frames

    t_copies, frames = best_of(repeat, copies)
    a = digit_means(gmm, old)
    diff = max(float(np.max(np.abs(a - digit_means(gmm, m))) / np.max(np.abs(a))) for m in (new, both.voice))
    miss = t_both + t_fp + t_terms
    return (
        f"| {len(takes)} | {frames:,} | {t_old:.0f} | {t_new:.0f} | {t_copies:.0f} | {t_both:.0f} | {t_fp:.0f} "
        f"| {t_terms:.0f} | **{miss:.0f}** | {diff:.1e} |"
    )


def cache_rows(url: str, users: int) -> list[str]:
    """``VoiceRuntime.speaker`` on a service database: the first read of each of ``users`` ready users (a
    cache miss: the takes read and the entry derived, as a worker's first verification of the user after a
    restart) and the second (a hit: the version read only)."""
    from sqlalchemy import select

    from speakerverify.storage.db import Database
    from speakerverify.storage.tables import SpeakerModelRow
    from speakerverify.voice.runtime import VoiceRuntime, resolve_ubm

    db = Database(url)
    rt = VoiceRuntime(resolve_ubm(db, None))
    with db.read_session() as s:
        ids = list(s.scalars(select(SpeakerModelRow.user_id).where(SpeakerModelRow.ready).limit(users)))
    miss, hit, takes = [], [], []
    for user_id in ids:
        for times in (miss, hit):
            with db.read_session() as s:
                start = time.perf_counter()
                entry = rt.speaker(s, user_id)
                times.append(1000 * (time.perf_counter() - start))
        assert entry is not None
        takes.append(int(entry.takes.sum()))
    db.dispose()
    return [
        "| users read | takes each (median) | first read (miss) p50 ms | max ms | second read (hit) p50 ms |",
        "|---:|---:|---:|---:|---:|",
        f"| {len(ids)} | {int(np.median(takes))} | {np.median(miss):.0f} | {max(miss):.0f} | {np.median(hit):.2f} |",
    ]


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--fsdd", type=Path, default=Path("/work/shared/data/fsdd"))
    ap.add_argument("--takes", type=int, nargs="+", default=[60, 600])
    ap.add_argument("--repeat", type=int, default=3)
    ap.add_argument("--database-url", help="also time cache misses and hits on this service database")
    ap.add_argument("--users", type=int, default=30, help="ready users read from --database-url")
    args = ap.parse_args()
    threadpool_limits(1, user_api="blas")  # as the server runs (http/app.py)
    gmm = load_default_ubm().gmm
    print(
        "| takes | frames (takes + copies) | per take ms | stacked ms | of which copies + post-processing ms "
        "| both models ms | templates ms | density terms ms | cache miss ms (both models + templates + terms) "
        "| max rel. diff of digit means |"
    )
    print("|---:|---:|---:|---:|---:|---:|---:|---:|---:|---:|")
    for n in args.takes:
        print(row(gmm, load_takes(args.fsdd, max(1, n // 10)), args.repeat), flush=True)
    if args.database_url:
        print()
        print("\n".join(cache_rows(args.database_url, args.users)))


if __name__ == "__main__":
    main()

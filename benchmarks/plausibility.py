"""Plausible features (issue 13): false refusals of real audio, and crafted attacks refused.

    python benchmarks/plausibility.py [--fsdd ../shared/data/fsdd] [--speechocean ../shared/data/speechocean762-8k]
                                      [--subset 1] [--no-write]

Development part: speechocean762 (the empirical thresholds of ``features.plausibility.Thresholds``
are proposed from it and printed). Held-out part: all 3,000 FSDD takes, never used for tuning.
Conditions: clean, white noise at 20 and 10 dB SNR, pink noise at 15 dB SNR, mixed into the audio,
and a DC offset of 2% of the peak, before extraction, then scaled to a peak of -40, -30, -20, -10
and 0 dBFS. Attacks are built from
FSDD test takes (25-49). Prints everything and writes the section "## Plausible features" of
SECURITY.md (creating the file if needed, replacing only that section) unless ``--no-write``.
"""

from __future__ import annotations

import argparse
import csv
import datetime as dt
import sys
import time
import zlib
from collections import Counter
from pathlib import Path

import numpy as np
from threadpoolctl import threadpool_limits
from tqdm import tqdm

sys.path.insert(0, str(Path(__file__).resolve().parent))
import _paths  # noqa: F401  (tests/ on sys.path, for support)
from report import machine

from speakerverify.evaluation.corpus import read_fsdd
from speakerverify.evaluation.protocol import add_white_noise
from speakerverify.features import DEFAULT_CONFIG, extract, read_audio
from speakerverify.features import plausibility as pl
from speakerverify.features.postprocess import postprocess, speech_mask
from speakerverify.models import frame_bounds as fb
from speakerverify.models import speech
from speakerverify.models.gmm import frame_log_likelihood
from speakerverify.models.scoring import frame_llr
from speakerverify.models.speaker import SpeakerModel, digit_means, utterance_stats
from speakerverify.models.ubm import load_default_ubm
from support import crafted

SECURITY_MD = Path(__file__).resolve().parents[1] / "SECURITY.md"
SECTION = "## Plausible features"
CONDITIONS = (("clean", None, None), ("white 20 dB", "white", 20.0), ("white 10 dB", "white", 10.0),
              ("pink 15 dB", "pink", 15.0), ("DC offset 2%", "dc", 0.02))  # fmt: skip
GAINS_DB = (-40.0, -30.0, -20.0, -10.0, 0.0)


def pink_noise(n: int, rng: np.random.Generator) -> np.ndarray:
    """Unit-power noise with a 1/f power spectrum (white noise shaped in the frequency domain). (n,)"""
    spectrum = np.fft.rfft(rng.standard_normal(n))
    f = np.arange(len(spectrum), dtype=np.float64)
    f[0] = 1.0  # DC kept at the first bin's level rather than infinite
    noise = np.fft.irfft(spectrum / np.sqrt(f), n)
    return noise / np.sqrt(np.mean(noise**2))


def condition_audio(samples: np.ndarray, kind: str | None, snr_db: float | None, key: str) -> np.ndarray:
    """``samples`` with the condition's noise mixed in (seeded by ``key``), not yet scaled."""
    if kind == "white":
        return add_white_noise(samples, snr_db, key)
    if kind == "dc":  # a cheap microphone's offset, here snr_db is the offset as a fraction of the peak
        return samples + snr_db * np.max(np.abs(samples))
    if kind == "pink":
        rng = np.random.default_rng(zlib.crc32(("pink" + key).encode()))
        power = float(np.mean(samples**2))
        return samples + pink_noise(len(samples), rng) * np.sqrt(power / 10 ** (snr_db / 10))
    return samples


def at_peak(samples: np.ndarray, gain_db: float) -> np.ndarray:
    """Scaled so that the peak |sample| is ``gain_db`` dBFS (float, not re-quantised)."""
    return samples * (10 ** (gain_db / 20) / np.max(np.abs(samples)))


def read_corpora(fsdd: Path, speechocean: Path, subset: int) -> tuple[dict[str, np.ndarray], dict[str, np.ndarray]]:
    """(dev, held-out) audio by name: speechocean762 utterances, FSDD takes; every ``subset``-th only."""
    with (speechocean / "utterances.tsv").open() as fh:
        rows = list(csv.DictReader(fh, delimiter="\t"))[::subset]
    dev = {r["file"]: read_audio(speechocean / "wav" / r["file"]) for r in rows}
    held = {r.path.name: read_audio(r.path) for r in read_fsdd(fsdd)[::subset]}
    return dev, held


def run_part(name: str, audio: dict[str, np.ndarray], ubm) -> dict:
    """check() on every item x condition x gain: refusals with reasons, and the statistics behind
    each threshold (per-utterance values from the verdict's details, per-frame UBM log-likelihoods
    and energy gaps)."""
    refused: list[str] = []
    details: list[dict] = []
    frame_ll: list[np.ndarray] = []
    frame_gap: list[np.ndarray] = []
    todo = [(k, c, g) for k in audio for c in CONDITIONS for g in GAINS_DB]
    for key, (cname, kind, snr), gain in tqdm(todo, desc=name, unit="utt", file=sys.stderr, mininterval=5):
        mfcc, energy = extract(at_peak(condition_audio(audio[key], kind, snr, key), gain))
        verdict = speech.check(mfcc, energy, DEFAULT_CONFIG, ubm)
        if not verdict.ok:
            refused.append(f"{key} [{cname}, {gain:+.0f} dBFS]: {verdict.reason}")
        details.append(verdict.details)
        feats = postprocess(mfcc, energy)
        if len(feats):
            frame_ll.append(frame_log_likelihood(ubm.gmm, feats).astype(np.float32))
        frame_gap.append(pl.energy_gap(mfcc, energy, DEFAULT_CONFIG)[speech_mask(energy, 30.0)].astype(np.float32))
    ll = np.concatenate(frame_ll)
    return {"n": len(todo), "refused": refused, "details": details, "ll": ll, "gap": np.concatenate(frame_gap)}


# (statistic, "max" or "min" is the dangerous side, the Thresholds field it informs)
STATISTICS = (
    (
        "residual_ratio_max",
        "max",
        None,
        "consistency residual / tolerance, fast-pass upper bound (frames above 1 re-solved exactly)",
    ),
    ("energy_gap_min", "min", None, "c0-energy gap (refused below -0.05, exact)"),
    (
        "budget_slack_min",
        "min",
        None,
        "band-power budget slack, fast pass (nats; -inf: a frame without a fast witness, re-solved exactly)",
    ),
    ("distinct_fraction", "min", "min_distinct_fraction", "fraction of distinct speech frames"),
    ("linear_fraction", "max", "linear_fraction", "fraction of speech frames on an exact ramp"),
    ("smoothness", "max", "smoothness_max", "von Neumann ratio of c1-c12"),
    ("energy_smoothness", "max", "energy_smoothness_max", "von Neumann ratio of ln(1 + E)"),
    ("roughness", "min", "roughness_min", "roughness of c1-c12 in time (second difference / spread)"),
    ("below_floor", "max", "floor_fraction", "fraction of speech frames below the UBM floor"),
    ("above_ceiling", "max", None, "fraction of speech frames above the UBM ceiling (reported only)"),
    ("spread_max", "max", "spread_max", "largest spread ratio of a static coefficient to the UBM's"),
)


def extreme(details: list[dict], key: str, side: str) -> float:
    values = [d[key] for d in details if key in d]
    if not values:
        return float("nan")
    return float(max(values) if side == "max" else min(values))


def threshold_table(dev: dict, held: dict) -> str:
    """Markdown: each statistic's worst value on dev and held-out, and the threshold in use."""
    th = pl.DEFAULT_THRESHOLDS
    rows = ["| statistic | worst on speechocean762 (dev) | threshold | worst on FSDD (held out) |", "|---|---|---|---|"]
    for key, side, field, label in STATISTICS:
        limit = f"{getattr(th, field):g}" if field else ("none" if "reported" in label else "exact")
        rows.append(
            f"| {label} | {extreme(dev['details'], key, side):.3f} | {limit} "
            f"| {extreme(held['details'], key, side):.3f} |"
        )
    for name, part in (("dev", dev), ("held-out", held)):
        q = np.quantile(part["ll"], [0.0001, 0.001, 0.5, 0.999, 0.9999])
        g = np.quantile(part["gap"], [0.0, 0.999, 1.0])
        rows.append(
            f"\nPer-frame UBM log-likelihood on {name} ({len(part['ll']):,} speech frames): 0.01% {q[0]:.1f}, "
            f"0.1% {q[1]:.1f}, median {q[2]:.1f}, 99.9% {q[3]:.1f}, 99.99% {q[4]:.1f} nats. "
            f"c0-energy gap of speech frames: min {g[0]:.2f}, 99.9% {g[1]:.2f}, max {g[2]:.2f}."
        )
    return "\n".join(rows)


def attack_trials(held: dict[str, np.ndarray], ubm, per_class: int, seed: int = 0) -> dict[str, dict]:
    """Every crafted class built from FSDD test takes (25-49): tried, refused, by which test, and
    the reasons of any that passed."""
    names = sorted(k for k in held if int(k.rsplit("_", 1)[1].split(".")[0]) >= 25)
    rng = np.random.default_rng(seed)
    bases = [extract(held[k]) for k in rng.choice(names, size=min(per_class, len(names)), replace=False)]
    builders = crafted.attack_builders(ubm.gmm.means, ubm.gmm.weights)
    out = {}
    for cls, build in tqdm(builders.items(), desc="attacks", unit="class", file=sys.stderr):
        tests: Counter = Counter()
        passed: list[str] = []
        jobs = [(i, None) for i in range(len(bases))]
        if cls == "ramp":  # every slope on a share of the takes
            jobs = [(i, s) for s in crafted.RAMP_SLOPES for i in range(len(bases) // len(crafted.RAMP_SLOPES))]
        for i, slope in jobs:
            real, other = bases[i], bases[(i + 1) % len(bases)]
            mfcc, energy = crafted.ramp(real, rng, slope) if slope else build(real, rng, other)
            verdict = speech.check(mfcc, energy, DEFAULT_CONFIG, ubm)
            tests[verdict.test or "accepted"] += 1
            if verdict.ok:
                passed.append(f"{cls} on base {i}: {verdict.details}")
        out[cls] = {"tried": len(jobs), "refused": len(jobs) - tests["accepted"], "tests": tests, "passed": passed}
    return out


def timings(held: dict[str, np.ndarray], ubm, repeats: int = 200) -> dict[str, float]:
    """Median ms: check() on a 100-frame real segment; the consistency pass per 1,000 real frames;
    check() on 100-frame crafted segments (Gaussian, shuffled: the slowest refusals)."""
    audio = np.concatenate([held[k] for k in sorted(held)[:20]])
    mfcc, energy = extract(audio)
    seg = (mfcc[:100], energy[:100])
    b = pl.bounds(DEFAULT_CONFIG)
    rng = np.random.default_rng(0)

    def median_ms(fn, n: int = repeats) -> float:
        fn()
        times = []
        for _ in range(n):
            t0 = time.perf_counter()
            fn()
            times.append(time.perf_counter() - t0)
        return float(np.median(times) * 1000)

    ceiling = pl.logmel_ceiling(energy[:1000], DEFAULT_CONFIG, b)
    gauss, shuffled = crafted.gaussian(seg, rng), crafted.shuffled(seg, rng)
    return {
        "check, 100-frame real segment": median_ms(lambda: speech.check(*seg, DEFAULT_CONFIG, ubm)),
        "consistency, 1,000 real frames": median_ms(lambda: pl.consistency_fault(mfcc[:1000], b, ceiling), 50),
        "check, 100-frame Gaussian segment": median_ms(lambda: speech.check(*gauss, DEFAULT_CONFIG, ubm)),
        "check, 100-frame shuffled segment": median_ms(lambda: speech.check(*shuffled, DEFAULT_CONFIG, ubm)),
    }


def frame_llr_bound(held: dict[str, np.ndarray], ubm) -> dict[str, float]:
    """Per-frame LLRs of genuine FSDD frames (dev takes 6-24 against their speaker's own digit
    model, enrolled on takes 0-5) and of impostor frames (the same takes against other speakers'
    models of that digit), and what ``frame_bounds.FRAME_LLR_BOUND`` does to them."""
    feats: dict[tuple[str, int, int], np.ndarray] = {}
    for name, audio in held.items():
        digit, speaker, take = name.rsplit(".", 1)[0].split("_")
        if int(take) <= 24:
            feats[(speaker, int(digit), int(take))] = postprocess(*extract(audio))
    speakers = sorted({s for s, _, _ in feats})
    models = {}
    for spk in speakers:
        model = SpeakerModel.empty(ubm.gmm.n_components, ubm.gmm.dim)
        for (s, d, t), f in feats.items():
            if s == spk and t < 6 and len(f):
                model = model.add(d, utterance_stats(ubm.gmm, f))
        models[spk] = digit_means(ubm.gmm, model)
    genuine, impostor, shift, means = [], [], [], []
    for (s, d, t), f in tqdm(sorted(feats.items()), desc="frame LLRs", unit="take", file=sys.stderr):
        if t < 6 or not len(f):
            continue
        for spk in speakers:
            llr = frame_llr(ubm.gmm, models[spk][d], f)
            (genuine if spk == s else impostor).append(llr)
            if spk == s:
                shift.append(abs(fb.bounded_mean_llr(llr) - float(llr.mean())))
                means.append(float(llr.mean()))
    g, i = np.abs(np.concatenate(genuine)), np.abs(np.concatenate(impostor))
    bound = fb.FRAME_LLR_BOUND
    return {
        "genuine frames": len(g),
        "impostor frames": len(i),
        "genuine |LLR| 99%": float(np.quantile(g, 0.99)),
        "genuine |LLR| 99.9%": float(np.quantile(g, 0.999)),
        "genuine |LLR| max": float(g.max()),
        "impostor |LLR| 99.9%": float(np.quantile(i, 0.999)),
        "impostor |LLR| max": float(i.max()),
        "genuine frames clipped": float(np.mean(g > bound)),
        "impostor frames clipped": float(np.mean(i > bound)),
        "largest change of a genuine segment mean": float(max(shift)),
        "genuine segments": len(shift),
        "median genuine segment mean LLR": float(np.median(means)),
    }


def write_security(body: str) -> None:
    """Replace the section ``## Plausible features`` of SECURITY.md (up to the next ``## ``), or append it."""
    text = SECURITY_MD.read_text() if SECURITY_MD.exists() else "# Security\n"
    lines = text.splitlines()
    start = next((i for i, line in enumerate(lines) if line.strip() == SECTION), None)
    block = body.strip().splitlines()
    if start is None:
        lines += ["", *block]
    else:
        end = next((j for j in range(start + 1, len(lines)) if lines[j].startswith("## ")), len(lines))
        lines[start:end] = [*block, ""] if end < len(lines) else block
    SECURITY_MD.write_text("\n".join(lines).rstrip() + "\n")


def part_lines(name: str, part: dict) -> list[str]:
    by_test = Counter(r.split("]: ", 1)[1].split(":", 1)[0] for r in part["refused"])
    tests = f" ({', '.join(f'{k} {v}' for k, v in sorted(by_test.items()))})" if by_test else ""
    lines = [f"- {name}: {part['n']:,} utterance x condition x gain, **{len(part['refused'])} refused**{tests}"]
    lines += [f"  - {r}" for r in part["refused"][:30]]
    return lines


def render(dev: dict, held: dict, attacks: dict, times: dict, llr: dict, args) -> str:
    b = pl.bounds(DEFAULT_CONFIG)
    out = [
        SECTION, "",
        f"_Written by `benchmarks/plausibility.py` on {dt.date.today().isoformat()}; machine: {machine()}._", "",
        "`speakerverify.models.speech.check(mfcc, energy, config, ubm)` (physics in `features.plausibility`, "
        "the UBM test in `models.speech`) refuses raw frames that no "
        "int16-scale audio through Meyda could produce, or that do not look like speech (422 `not_speech`). "
        "Derivations in the module docstring.", "",
        f"Bounds at `{DEFAULT_CONFIG.config_id}` with 6 dB of headroom over full scale: energy <= {b.energy_max:.4g}, "
        f"log-mel in [0, {b.logmel_max:.3f}], c0 in [0, {b.coef_hi[0]:.1f}], "
        f"|c_k| <= {b.coef_hi[1:].max():.1f} (k >= 1).", "",
        "### False refusals (must be 0)", "",
        f"Conditions: {', '.join(c[0] for c in CONDITIONS)}; peaks {', '.join(f'{g:+.0f}' for g in GAINS_DB)} dBFS"
        + (f"; every {args.subset}-th file only" if args.subset > 1 else "") + ".", "",
        *part_lines("speechocean762 (dev: thresholds tuned here)", dev),
        *part_lines("FSDD, all takes (held out)", held), "",
        "### Thresholds: dev extremes, margin, held-out extremes", "",
        threshold_table(dev, held), "",
        "### Crafted attacks (FSDD test takes as material)", "",
        "| class | tried | refused | by test |", "|---|---|---|---|",
    ]  # fmt: skip
    for cls, r in attacks.items():
        tests = ", ".join(f"{k} {v}" for k, v in sorted(r["tests"].items()) if k != "accepted")
        out.append(f"| {cls} | {r['tried']} | {r['refused']} | {tests} |")
    passed = [p for r in attacks.values() for p in r["passed"]]
    out += ["", f"{len(passed)} crafted segments accepted" + (":" if passed else "."), *[f"- {p}" for p in passed[:15]]]
    out += ["", "### Timings (median, one BLAS thread)", ""] + [f"- {k}: {v:.2f} ms" for k, v in times.items()]
    out += ["", f"### Per-frame LLR bound (`models.frame_bounds.FRAME_LLR_BOUND` = {fb.FRAME_LLR_BOUND:g})", ""]
    out += [f"- {k}: {v:.4g}" if isinstance(v, float) else f"- {k}: {v:,}" for k, v in llr.items()]
    return "\n".join(out)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--fsdd", type=Path, default=Path("../shared/data/fsdd"))
    parser.add_argument("--speechocean", type=Path, default=Path("../shared/data/speechocean762-8k"))
    parser.add_argument("--subset", type=int, default=1, help="every n-th file only (quick runs)")
    parser.add_argument("--attacks", type=int, default=200, help="crafted segments per class")
    parser.add_argument("--no-write", action="store_true", help="print only; leave SECURITY.md alone")
    args = parser.parse_args()
    # One BLAS thread: the machine is shared, and these small matrix products only lose from threading.
    threadpool_limits(1)
    ubm = load_default_ubm()
    dev_audio, held_audio = read_corpora(args.fsdd, args.speechocean, args.subset)
    dev = run_part("speechocean762 (dev)", dev_audio, ubm)
    held = run_part("FSDD (held out)", held_audio, ubm)
    attacks = attack_trials(held_audio, ubm, args.attacks)
    times = timings(held_audio, ubm)
    llr = frame_llr_bound(held_audio, ubm)
    body = render(dev, held, attacks, times, llr, args)
    print(body)
    if not args.no_write:
        write_security(body)


if __name__ == "__main__":
    main()

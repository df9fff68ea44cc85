"""Rebuild the UBM shipped in the package from the speechocean762 8 kHz subset.

    python scripts/build_default_ubm.py --corpus ../shared/data/speechocean762-8k

Only the fitted parameters are written to the package; the audio never is.
"""

from __future__ import annotations

import argparse
import datetime as dt
from pathlib import Path

from tqdm import tqdm

from speakerverify.features import DEFAULT_CONFIG, DEFAULT_POST, extract, postprocess, read_audio
from speakerverify.models.io import save_gmm
from speakerverify.models.ubm import DEFAULT_UBM_FILE, train_ubm

PACKAGE_DATA = Path(__file__).resolve().parents[1] / "src" / "speakerverify" / "data"


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--corpus", type=Path, default=Path("../shared/data/speechocean762-8k"))
    parser.add_argument("--components", type=int, default=256)
    parser.add_argument("--seed", type=int, default=0)
    parser.add_argument("--out", type=Path, default=PACKAGE_DATA / DEFAULT_UBM_FILE)
    args = parser.parse_args()

    wavs = sorted((args.corpus / "wav").glob("*.wav"))
    if not wavs:
        raise SystemExit(f"no WAV files under {args.corpus / 'wav'}")
    feats = []
    for path in tqdm(wavs, desc="features", unit="file"):
        mfcc, energy = extract(read_audio(path))
        feats.append(postprocess(mfcc, energy))
    speakers = {p.name.split("_")[0] for p in wavs}
    n_frames = sum(len(f) for f in feats)
    bar = tqdm(desc="EM", unit="iter")

    def progress(components: int, iteration: int, ll: float) -> None:
        bar.set_postfix(components=components, loglik=f"{ll:.3f}")
        bar.update()

    gmm = train_ubm(feats, args.components, seed=args.seed, on_iteration=progress)
    bar.close()
    meta = {
        "ubm_id": f"speechocean762-8k-{args.components}-{DEFAULT_CONFIG.config_id}-{DEFAULT_POST.post_id}",
        "config_id": DEFAULT_CONFIG.config_id,
        "post_id": DEFAULT_POST.post_id,
        "n_components": args.components,
        "seed": args.seed,
        "corpus": "speechocean762 (Apache-2.0), 8 kHz subset, train-split speakers",
        "n_speakers": len(speakers),
        "n_utterances": len(wavs),
        "n_frames": n_frames,
        "created": dt.date.today().isoformat(),
    }
    save_gmm(args.out, gmm, meta)
    print(f"wrote {args.out} ({args.components} components, {n_frames} frames from {len(speakers)} speakers)")


if __name__ == "__main__":
    main()

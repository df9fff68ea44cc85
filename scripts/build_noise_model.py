"""Rebuild the noise model shipped in the package (``models/noise_signature.py``) from speechocean762.

    python scripts/build_noise_model.py --corpus ../shared/data/speechocean762-8k

The default UBM MAP-adapted to every utterance of the corpus together with its noisy copies (the
stationary copies of the speaker models' recipe, ``noisy_copies.STATIONARY_RECIPE``: the signature
measures stationary noise, so babble answers are not held to the stationary levels), the takes as a
browser's wire form stores them. Only the adapted means are written to the package; the audio never is.
"""

from __future__ import annotations

import argparse
import datetime as dt
from pathlib import Path

import numpy as np

from speakerverify.features import DEFAULT_CONFIG, DEFAULT_POST, extract, read_audio
from speakerverify.models.io import save_arrays
from speakerverify.models.noise_signature import NOISE_MODEL_FILE, noise_model_means, ubm_fingerprint
from speakerverify.models.noisy_copies import STATIONARY_RECIPE, take_stats
from speakerverify.models.speaker import DEFAULT_ADAPTATION
from speakerverify.models.ubm import load_default_ubm
from speakerverify.storage.utterances import as_stored

PACKAGE_DATA = Path(__file__).resolve().parents[1] / "src" / "speakerverify" / "data"


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--corpus", type=Path, default=Path("../shared/data/speechocean762-8k"))
    parser.add_argument("--out", type=Path, default=PACKAGE_DATA / NOISE_MODEL_FILE)
    args = parser.parse_args()
    wavs = sorted((args.corpus / "wav").glob("*.wav"))
    if not wavs:
        raise SystemExit(f"no WAV files under {args.corpus / 'wav'}")
    ubm = load_default_ubm()
    stats = [take_stats(ubm.gmm, *as_stored(*extract(read_audio(p))), DEFAULT_POST, STATIONARY_RECIPE) for p in wavs]
    means = noise_model_means(ubm.gmm, stats, DEFAULT_ADAPTATION.relevance)
    meta = {
        "ubm_id": ubm.ubm_id,
        "ubm_fingerprint": ubm_fingerprint(ubm.gmm),
        "config_id": DEFAULT_CONFIG.config_id,
        "post_id": DEFAULT_POST.post_id,
        "copies_id": STATIONARY_RECIPE.copies_id,
        "relevance": DEFAULT_ADAPTATION.relevance,
        "corpus": "speechocean762 (Apache-2.0), 8 kHz subset, train-split speakers",
        "n_speakers": len({p.name.split("_")[0] for p in wavs}),
        "n_utterances": len(wavs),
        "created": dt.date.today().isoformat(),
    }
    save_arrays(args.out, {"means": means.astype(np.float32)}, meta)
    print(f"wrote {args.out} ({meta['n_utterances']} utterances)")


if __name__ == "__main__":
    main()

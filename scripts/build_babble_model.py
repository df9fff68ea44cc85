"""Rebuild the babble model shipped in the package (``models/babble.py``) from speechocean762.

    python scripts/build_babble_model.py --corpus ../shared/data/speechocean762-8k

Babble as ``evaluation.noise`` mixes it (6 talkers summed, each from a random offset), from every other
speaker of the corpus in sorted order (the even ones): the evaluation's babble draws from all of them,
so half its talkers were never in the model. 20 mixes of 30 s at a speech level (RMS 0.1 of full scale),
Meyda features as the server receives them, the log-mel bands rebuilt from the 13 MFCCs as the copies
rebuild them. Only the estimated parameters are written; the audio never is.
"""

from __future__ import annotations

import argparse
import datetime as dt
from pathlib import Path

import numpy as np
from tqdm import tqdm

from speakerverify.evaluation.noise import RATE, babble, talker_signals
from speakerverify.features import DEFAULT_CONFIG, extract
from speakerverify.features.cepstra import log_mel
from speakerverify.models.babble import BABBLE_MODEL_FILE, as_arrays, estimate
from speakerverify.models.io import save_arrays

PACKAGE_DATA = Path(__file__).resolve().parents[1] / "src" / "speakerverify" / "data"
MIXES, SECONDS, LEVEL = 20, 30, 0.1


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--corpus", type=Path, default=Path("../shared/data/speechocean762-8k"))
    parser.add_argument("--out", type=Path, default=PACKAGE_DATA / BABBLE_MODEL_FILE)
    args = parser.parse_args()
    pool = talker_signals(str(args.corpus))[0::2]
    rng = np.random.default_rng(0)
    mels, energies = [], []
    for _ in tqdm(range(MIXES), desc="babble mixes"):
        mfcc, energy = extract(babble(RATE * SECONDS, rng, pool=pool) * LEVEL, DEFAULT_CONFIG)
        mels.append(log_mel(mfcc, DEFAULT_CONFIG))
        energies.append(energy)
    model = estimate(np.concatenate(mels), np.concatenate(energies))
    meta = {
        "corpus": "speechocean762-8k (Apache-2.0), every other speaker in sorted order",
        "talkers": len(pool),
        "mixes": MIXES,
        "seconds_per_mix": SECONDS,
        "config_id": DEFAULT_CONFIG.config_id,
        "built": dt.date.today().isoformat(),
    }
    save_arrays(args.out, as_arrays(model), meta)
    print(f"wrote {args.out}: 10 ms correlation per band {np.round(model.rho, 2)}")


if __name__ == "__main__":
    main()

from __future__ import annotations

import numpy as np

from speakerverify.evaluation.metrics import fit_logistic_calibration, znorm_params
from speakerverify.models.calibration import threshold_at_far


def test_threshold_never_exceeds_target_far():
    rng = np.random.default_rng(0)
    imp = rng.normal(size=1000)
    for far in (0.0, 0.001, 0.01, 0.05):
        t = threshold_at_far(imp, far)
        assert np.mean(imp >= t) <= far
        assert np.mean(imp >= t) >= far - 0.0011


def test_logistic_calibration_recovers_gaussian_llr():
    # target ~ N(1, 1), impostor ~ N(-1, 1): true LLR(x) = 2x.
    rng = np.random.default_rng(1)
    cal = fit_logistic_calibration(rng.normal(1, 1, 20000), rng.normal(-1, 1, 50000))
    assert abs(cal.scale - 2) < 0.1
    assert abs(cal.offset) < 0.1


def test_znorm_standardises_cohort():
    cohort = np.array([1.0, 2.0, 3.0, 4.0])
    z = znorm_params(cohort)
    assert np.isclose(np.mean(z.apply(cohort)), 0)
    assert np.isclose(np.std(z.apply(cohort), ddof=1), 1)


def test_shrunk_location_moves_from_grand_mean_to_own_mean_with_cohort_size():
    from speakerverify.models.calibration import shrunk_location

    assert shrunk_location(2.0, 0.0, 0) == 0.0
    assert shrunk_location(2.0, 0.0, 5) == 1.0
    assert 1.9 < shrunk_location(2.0, 0.0, 200) < 2.0

"""Speaker models and scoring: GMM maths, the UBM, MAP speaker models, calibration, the baseline."""

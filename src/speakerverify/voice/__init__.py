"""The per-process voice runtime: the active UBM, the model cache, take features, scoring and the decision."""

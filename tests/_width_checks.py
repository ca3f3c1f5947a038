"""scikit-learn common checks that feed matrices whose width is not 3·P.

Estimators that read the constituent matrix (pT, η, φ per constituent) reject such input
by design. tests/test_common.py marks these checks as expected failures, and the
estimators' own test files rerun exactly the same checks on test-only subclasses that pad
the width, so one list keeps both sides in step.
"""

IMAGE_WIDTH_CHECKS = (
    "check_estimators_dtypes",
    "check_dtype_object",
    "check_fit2d_1sample",
    "check_estimators_fit_returns_self",
    "check_estimators_overwrite_params",
    "check_readonly_memmap_input",
    "check_n_features_in_after_fitting",
    "check_positive_only_tag_during_fit",
    "check_fit_idempotent",
    "check_fit_check_is_fitted",
    "check_n_features_in",
)

# UCluster also rejects a row whose only pT is 0 (a jet without particles), and negative pT
# (its tags are not positive_only: η and φ are signed), which the last two checks draw.
UCLUSTER_WIDTH_CHECKS = (
    *IMAGE_WIDTH_CHECKS,
    "check_fit2d_1feature",
    "check_transformer_general",
    "check_transformer_preserve_dtypes",
    "check_transformer_data_not_an_array",
    "check_pipeline_consistency",
    "check_estimators_pickle",
)

# JetImageTransformer's input tags say positive_only=False (η and φ are signed; only the pT
# columns must be ≥ 0, which no tag can say). These checks draw negative values in every
# column, or (the tag check) expect negative input to be accepted, so fit raises its clear
# "Negative values in data" error by design. tests/test_images.py reruns them on a
# test-only subclass that takes |pT|, and tests the error on negative pT itself.
SIGNED_PT_CHECKS = (
    "check_positive_only_tag_during_fit",
    "check_pipeline_consistency",
    "check_estimators_pickle",
    "check_transformer_data_not_an_array",
    "check_transformer_general",
    "check_transformer_preserve_dtypes",
)

// The API's response bodies, written down once from the pydantic models in
// src/speakerverify/service/schemas.py (same names, minus the "Out" suffix). The views read
// exactly these fields: when a schema changes, change it here and follow the type errors.
// Timestamps are ISO 8601 strings; `T | null` is a field that is always present but may be null.
// Nothing is exported at run time; views import the types with `@typedef {import("../types.js").X}`.

/**
 * @typedef {object} Token  POST /sessions (TokenResponse)
 * @property {string} access_token
 * @property {"bearer"} token_type
 * @property {number} expires_in  seconds until the token expires
 */

/**
 * @typedef {object} EnrolmentProgress  (EnrolmentProgressOut)
 * @property {number[]} takes_per_digit  stored takes of digits 0..9
 * @property {number} required_takes_per_digit
 * @property {number} percent  0-100: share of the required takes present
 * @property {boolean} ready
 */

/**
 * @typedef {object} Demographic
 * @property {string | null} [gender]
 * @property {string | null} [age_group]
 */

/**
 * @typedef {object} Profile  GET /me
 * @property {string} id
 * @property {string} email
 * @property {string} alias
 * @property {Demographic | null} demographic
 * @property {string} data_statement_version
 * @property {string} consented_at
 * @property {string} created_at
 * @property {EnrolmentProgress} enrolment
 */

/**
 * @typedef {object} StatementSection
 * @property {string} id
 * @property {string} title
 * @property {string} text
 */

/**
 * @typedef {object} DataStatement  GET /data-statement
 * @property {string} version
 * @property {StatementSection[]} sections
 */

/**
 * @typedef {object} FeatureConfig  GET /feature-config (FeatureConfigOut)
 * @property {string} config_id
 * @property {number} sample_rate
 * @property {number} frame_size
 * @property {number} hop_size
 * @property {number} mel_bands
 * @property {number} n_mfcc
 * @property {string} window
 * @property {number} input_scale
 * @property {number} min_frames
 * @property {number} max_frames
 */

/**
 * @typedef {object} Utterance  one stored take (UtteranceOut)
 * @property {number} utterance_id
 * @property {number} digit
 * @property {number} n_frames
 * @property {number} speech_frames
 * @property {string} created_at
 * @property {"accepted"} verdict
 */

/** @typedef {Utterance & {progress: EnrolmentProgress}} EnrolmentResult  POST /enrolment/utterances */

/**
 * @typedef {object} UtteranceList  GET /enrolment/utterances
 * @property {Utterance[]} utterances
 * @property {EnrolmentProgress} progress
 */

/**
 * @typedef {object} Challenge  POST /challenges (ChallengeOut)
 * @property {string} challenge_id
 * @property {number[]} digits  the digits to say, in order (their count is the challenge length)
 * @property {string} expires_at
 */

/**
 * @typedef {object} DigitResult
 * @property {number} digit
 * @property {number} n_frames  speech frames scored
 * @property {number | null} score
 * @property {boolean} content_ok  the segment sounds like the prompted digit
 * @property {number | null} content_margin
 */

/**
 * @typedef {object} Verification  POST /verifications (VerificationOut)
 * @property {number} attempt_id
 * @property {"accept" | "reject"} decision
 * @property {number} score
 * @property {number} threshold
 * @property {number} target_far
 * @property {boolean} digits_match
 * @property {"provisional" | "deployment"} calibration
 * @property {DigitResult[]} per_digit
 * @property {boolean} replay_detected
 */

/**
 * @typedef {object} Attempt  (AttemptOut)
 * @property {number} attempt_id
 * @property {string} created_at
 * @property {string} decision
 * @property {number | null} score
 * @property {number | null} threshold
 * @property {number[]} digits
 * @property {boolean | null} digits_match
 * @property {string | null} calibration
 */

/**
 * @typedef {object} AttemptList  GET /verifications
 * @property {Attempt[]} attempts
 */

/**
 * @typedef {object} ScoreSummary  my own held-out takes against my model
 * @property {number} trials
 * @property {number} accepts
 * @property {number | null} mean_score
 */

/**
 * @typedef {object} ImpostorRow  one other user's trials
 * @property {string} alias
 * @property {number} trials
 * @property {number} false_accepts
 * @property {number | null} mean_score
 */

/**
 * @typedef {object} IntrusionReport  GET /me/intrusion-test: other users' takes against my model
 * @property {number} threshold  my model's threshold
 * @property {"provisional" | "deployment"} calibration
 * @property {number} k  digits per trial
 * @property {ScoreSummary} reference
 * @property {ImpostorRow[]} impostors
 */

/**
 * @typedef {object} BenchmarkReport  GET /me/benchmark: my takes against each other user's model
 * @property {number} k  digits per trial
 * @property {ScoreSummary} reference
 * @property {ImpostorRow[]} others  each decided with that user's own threshold, so there is no single one
 */

/**
 * @typedef {object} FieldError  one entry of a validation problem's `errors`
 * @property {string} detail
 * @property {string} [pointer]  JSON pointer into the request body, e.g. "#/alias"
 */

/**
 * @typedef {object} Problem  any error body (RFC 9457 application/problem+json)
 * @property {string} type
 * @property {string} title
 * @property {number} status
 * @property {string} detail
 * @property {FieldError[]} [errors]  on 422 validation errors
 * @property {string} [reason]  on a rejected take: too_quiet, too_short or wrong_digit
 */

export {};

// The API's response bodies, written down once from the pydantic models in
// src/speakerverify/http/schemas.py (same names, minus the "Out" suffix). The views read
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
 * @property {Suspect | null} [suspect]  the server's doubt about this take (missing on older servers: none)
 */

/**
 * @typedef {object} Suspect  why a stored take should be recorded again
 * @property {string} code  e.g. "wrong_digit": the take is not closer to its own digit's other takes
 * @property {string} [detail]  a sentence for the person
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
 * @typedef {"accepted" | "too_short" | "replay_suspected" | "digits_not_matched" | "voice_not_matched" | "not_speech" | "too_noisy"} Reason
 * Why a verification was decided so, first that applies: too_short, replay_suspected, digits_not_matched,
 * voice_not_matched (accepted otherwise). A locked account (429) and input that is not speech (422) come
 * as problems, not decisions; a refused not-speech answer is listed among the attempts as not_speech. Nothing numeric: no score, threshold or margin is ever sent.
 */

/**
 * @typedef {object} Verification  POST /verifications (VerificationOut)
 * @property {number} attempt_id
 * @property {"accept" | "reject"} decision
 * @property {Reason} reason
 * @property {number | null} [snr_db]  with too_noisy (noise-aware servers): the answer's measured speech-to-noise ratio
 */

/**
 * @typedef {object} Attempt  (AttemptOut)
 * @property {number} attempt_id
 * @property {string} created_at
 * @property {"accept" | "reject"} decision
 * @property {Reason} reason
 * @property {number | null} [snr_db]  with too_noisy (noise-aware servers): the answer's measured speech-to-noise ratio
 */

/**
 * @typedef {object} AttemptList  GET /verifications
 * @property {Attempt[]} attempts
 */

/**
 * @typedef {object} TrialCounts
 * @property {number} trials
 * @property {number} would_pass  trials the decision rule would accept
 */

/**
 * @typedef {object} AnalysisSummary  GET /me/intrusion-test and GET /me/benchmark (aggregate, anonymous)
 * @property {number} k  digits per trial
 * @property {number} other_voices  other enrolled voices that took part
 * @property {TrialCounts} others  all trials against the other voices, together
 * @property {TrialCounts} own  my own held-out takes against my model
 */

/**
 * @typedef {object} StoredTable
 * @property {string} table  e.g. "utterances" (enrolment takes), "verification_attempts"
 * @property {number} rows
 * @property {string | null} first  oldest row's creation time, where the table records one
 * @property {string | null} last
 */

/**
 * @typedef {object} StoredSummary  GET /me/stored: what is stored, without the values
 * @property {StoredTable[]} tables
 * @property {number} export_needs_verification_within_seconds  GET /me/export needs a voice accept this recent
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
 * @property {number} [retry_after]  on 429: seconds until the action is allowed again
 */

export {};

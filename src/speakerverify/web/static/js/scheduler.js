// Which digit the enrolment view prompts next. Pure: no DOM, no fetch, randomness injected, so
// Node can test it (tests/node/scheduler.test.mjs).
//
// Digits come in shuffled rounds over the digits still needed. A digit the server turned down (or
// one the user chose to re-record) is asked again soon, but a retry is never followed by another
// retry while some other digit is still needed: a user who keeps failing two digits would
// otherwise be prompted for only those two, forever, and never finish the rest.
// A digit the user skips leaves the current round and its retry; it comes back at the end of the
// next round (or at once, when it is the only digit still needed), so skipping never loses a digit.

/** A random integer in [0, n), from the platform's CSPRNG (browsers and Node alike). */
export function cryptoIndex(n) {
  const value = new Uint32Array(1);
  crypto.getRandomValues(value);
  return value[0] % n;
}

/**
 * @typedef {object} Counts
 * @property {number[]} takes    stored takes per digit 0..9 (the API's takes_per_digit)
 * @property {number[]} pending  takes heard and sent but not yet answered, per digit
 * @property {number} required   takes every digit needs (the API's required_takes_per_digit)
 */

/** Whether `digit` still needs a take, counting the ones on their way to the server. */
export function needed(counts, digit) {
  return counts.takes[digit] + counts.pending[digit] < counts.required;
}

export class EnrolmentScheduler {
  /** @param {{randomIndex?: (n: number) => number}} [options] */
  constructor({ randomIndex = cryptoIndex } = {}) {
    this.randomIndex = randomIndex;
    this.reset();
  }

  reset() {
    this.round = []; // the rest of the current shuffled round
    this.retries = []; // digits to ask again soon, oldest first
    this.lastWasRetry = false;
    this.skipped = new Set(); // digits the user skipped: last of the next round
  }

  /** The user would rather say `digit` later: not now, but at the end of the next round. */
  skip(digit) {
    this.retries = this.retries.filter((d) => d !== digit);
    this.round = this.round.filter((d) => d !== digit);
    this.skipped.add(digit);
  }

  /**
   * Ask for `digit` again soon because the server rejected its take; with `now` (the user asked to
   * re-record it) it is the very next prompt.
   */
  retry(digit, { now = false } = {}) {
    this.retries = this.retries.filter((d) => d !== digit);
    this.skipped.delete(digit);
    if (now) {
      this.retries.unshift(digit);
      this.lastWasRetry = false;
    } else {
      this.retries.push(digit);
    }
  }

  /**
   * The digit to prompt now, or null when every digit has its takes (stored or pending).
   * @param {Counts} counts
   * @returns {number | null}
   */
  next(counts) {
    const isNeeded = (d) => needed(counts, d);
    this.retries = this.retries.filter(isNeeded);
    this.round = this.round.filter(isNeeded);
    const fresh = this.freshDigit(counts);
    const useRetry = this.retries.length > 0 && !(this.lastWasRetry && fresh !== null);
    if (useRetry) {
      this.lastWasRetry = true;
      return this.retries.shift();
    }
    this.lastWasRetry = false;
    if (fresh === null) return null;
    this.round.splice(this.round.indexOf(fresh), 1);
    return fresh;
  }

  /** The next digit of the round that is not also waiting as a retry; starts a new round when needed. */
  freshDigit(counts) {
    const candidate = () => this.round.find((d) => !this.retries.includes(d) && !this.skipped.has(d)) ?? null;
    let digit = candidate();
    if (digit === null) {
      const all = [...Array(counts.takes.length).keys()].filter((d) => needed(counts, d) && !this.round.includes(d));
      const later = all.filter((d) => this.skipped.has(d));
      this.skipped.clear();
      const fresh = this.shuffle(all.filter((d) => !later.includes(d)));
      this.round = fresh.concat(this.shuffle(later), this.round);
      digit = candidate();
    }
    return digit;
  }

  shuffle(items) {
    const a = items.slice();
    for (let i = a.length - 1; i > 0; i -= 1) {
      const j = this.randomIndex(i + 1);
      [a[i], a[j]] = [a[j], a[i]];
    }
    return a;
  }
}

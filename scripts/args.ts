// Command-line numbers for the benchmark scripts: a bad value ends the script with a message and exit code 2.

export interface NumberRule {
  /** Whole numbers only. */
  integer?: boolean;
  /** 0 is accepted too. */
  allowZero?: boolean;
}

export function numberArg(name: string, value: string | undefined, rule: NumberRule = {}): number {
  const n = Number(value);
  const ok = Number.isFinite(n) && (rule.allowZero ? n >= 0 : n > 0) && (!rule.integer || Number.isInteger(n));
  if (!ok || value === undefined || value.trim() === '') {
    const what = `${rule.integer ? 'an integer' : 'a number'} ${rule.allowZero ? '≥ 0' : '> 0'}`;
    console.error(`--${name} must be ${what}; got ${JSON.stringify(value)}`);
    process.exit(2);
  }
  return n;
}

/** A comma-separated list of numbers, each held to `rule`. */
export function numberListArg(name: string, list: string, rule: NumberRule = {}): number[] {
  return list.split(',').map((s) => numberArg(name, s.trim(), rule));
}

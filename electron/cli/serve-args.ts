/** Options of `dm serve` that take a value (apart from serve.ts, so other commands need not load the server). */
export const SERVE_VALUED = ['socket'];

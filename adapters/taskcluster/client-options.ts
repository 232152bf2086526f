// Options for every taskcluster-client object dw-host makes. dw-host retries through
// functions/retry.ts, with numbers chosen per call (claimWork, reclaim, report, artifact steps);
// the client's own five retries would multiply them and hide the failures from those policies.
export const CLIENT_OPTIONS = { retries: 0 } as const;

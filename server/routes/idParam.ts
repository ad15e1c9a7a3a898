// Numeric ids in request paths (events, negative examples). In cluster mode they are up to 16 digits
// (server/cluster/eventIds.ts, the shared negatives from 2^40).

/** The id `raw` names, or undefined when it names none (the routes answer 404). */
export function idParam(raw: string): number | undefined {
  if (!/^\d{1,16}$/.test(raw)) return undefined;
  const id = Number(raw);
  return Number.isSafeInteger(id) ? id : undefined;
}

// Event ids in request paths. In cluster mode they are 16-digit numbers (server/cluster/eventIds.ts).

/** The event id `raw` names, or undefined when it names none (the routes answer 404). */
export function eventIdParam(raw: string): number | undefined {
  if (!/^\d{1,16}$/.test(raw)) return undefined;
  const id = Number(raw);
  return Number.isSafeInteger(id) ? id : undefined;
}

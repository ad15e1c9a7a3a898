// "Not this person" over HTTP: reject an event's name, list and undo a person's negative examples.
import { api } from './api.ts';
import { personPath } from './people.ts';
import type { NegativeExample } from './wire.ts';

export function rejectEvent(eventId: number): Promise<NegativeExample> {
  return api<NegativeExample>(`/api/events/${eventId}/reject`, { method: 'POST' });
}

export function negativesOf(person: string): Promise<NegativeExample[]> {
  return api<NegativeExample[]>(`${personPath(person)}/negatives`);
}

export function undoNegative(n: Pick<NegativeExample, 'person' | 'id'>): Promise<void> {
  return api<void>(`${personPath(n.person)}/negatives/${n.id}`, { method: 'DELETE' });
}

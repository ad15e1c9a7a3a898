// The facebank: people with their photos and each photo's status. Add a person, then drop photos on them (or
// pick files); remove photos and people.
import { useEffect, useState } from 'preact/hooks';
import { api, errorMessage } from '../api.ts';
import { PersonCard } from '../components/PersonCard.tsx';
import { usePeople } from '../people.ts';
import { useLatest } from '../useLatest.ts';
import type { OperatingPoint, Person } from '../wire.ts';

/** A filter box is worth its space only for a longer list. */
const FILTER_FROM = 8;

function AddPerson({ onAdded }: { onAdded: (name: string) => Promise<void> }) {
  const [name, setName] = useState('');
  const [error, setError] = useState<string>();
  const [busy, setBusy] = useState(false);
  return (
    <form
      class="person-add"
      onSubmit={async (e) => {
        e.preventDefault();
        const wanted = name.trim();
        if (!wanted) return;
        setBusy(true);
        try {
          const person = await api<Person>('/api/people', { method: 'POST', body: { name: wanted } });
          setName('');
          setError(undefined);
          await onAdded(person.name);
        } catch (err) {
          setError(errorMessage(err));
        } finally {
          setBusy(false);
        }
      }}
    >
      <input
        name="person"
        placeholder="New person's name"
        aria-label="New person's name"
        autoComplete="off"
        value={name}
        onInput={(e) => setName(e.currentTarget.value)}
      />
      <button type="submit" class="primary" disabled={busy || name.trim() === ''}>
        Add person
      </button>
      {error && (
        <p class="error person-add-error" role="alert">
          {error}
        </p>
      )}
    </form>
  );
}

export function FacebankPage() {
  const { people, error, reload } = usePeople();
  const [actionError, setActionError] = useState<string>();
  const [added, setAdded] = useState<string>();
  const [filter, setFilter] = useState('');
  // The threshold follows the facebank's size, so it is asked for again whenever the people change.
  const health = useLatest<{ operatingPoint: OperatingPoint }>('/api/health');
  const reloadHealth = health.reload;
  useEffect(() => {
    if (people) void reloadHealth();
  }, [people, reloadHealth]);
  const op = health.data?.operatingPoint;

  // A file dropped beside a person would otherwise make the browser leave the app to show it.
  useEffect(() => {
    const keep = (e: DragEvent) => {
      if (e.dataTransfer?.types.includes('Files')) e.preventDefault();
    };
    window.addEventListener('dragover', keep);
    window.addEventListener('drop', keep);
    return () => {
      window.removeEventListener('dragover', keep);
      window.removeEventListener('drop', keep);
    };
  }, []);

  const images = people?.reduce((n, p) => n + p.images.length, 0) ?? 0;
  const embedded = people?.reduce((n, p) => n + p.images.filter((i) => i.status === 'embedded').length, 0) ?? 0;
  const needle = filter.trim().toLowerCase();
  const shown = people?.filter((p) => p.name.toLowerCase().includes(needle));

  return (
    <section class="page facebank">
      <div class="page-head">
        <h1>Facebank</h1>
        {people && (
          <span class="muted">
            {people.length} {people.length === 1 ? 'person' : 'people'}, {images} images, {embedded} embedded
          </span>
        )}
      </div>
      {op && (
        <p class="muted operating-point" title={op.reason}>
          A face is named when its similarity to a person reaches {op.threshold.toFixed(3)}:{' '}
          {op.source === 'override'
            ? 'a fixed threshold (MATCH_THRESHOLD).'
            : op.fpir !== undefined
              ? `at most ${(op.fpir * 100).toFixed(op.fpir < 0.01 ? 2 : 0)}% of strangers given a name with ${op.people} ${op.people === 1 ? 'person' : 'people'} enrolled (from ${op.reason.slice(op.reason.indexOf(': ') + 2)}).`
              : `${op.reason}.`}
        </p>
      )}
      <div class="facebank-toolbar">
        <AddPerson
          onAdded={async (name) => {
            setFilter('');
            await reload();
            setAdded(name);
          }}
        />
        {people && people.length >= FILTER_FROM && (
          <input
            class="facebank-filter"
            type="search"
            placeholder="Filter people"
            aria-label="Filter people"
            value={filter}
            onInput={(e) => setFilter(e.currentTarget.value)}
          />
        )}
      </div>
      {error && (
        <p class="error" role="alert">
          Could not load the facebank: {error}
        </p>
      )}
      {actionError && (
        <p class="error banner" role="alert">
          {actionError}
          <button type="button" class="icon" aria-label="Dismiss" onClick={() => setActionError(undefined)}>
            ×
          </button>
        </p>
      )}
      {people === undefined && !error && <p class="muted">Loading…</p>}
      {people?.length === 0 && (
        <p class="panel muted">
          The facebank is empty. Add a person, then drop photos of them on their card. Photos where their face is the
          largest work best; close-up face crops work too.
        </p>
      )}
      <div class="person-list">
        {shown?.map((person) => (
          <PersonCard
            key={person.name}
            person={person}
            onChanged={reload}
            onError={setActionError}
            highlight={person.name === added}
          />
        ))}
      </div>
    </section>
  );
}

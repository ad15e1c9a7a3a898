// One person of the facebank: a thumbnail, their images with each one's status, uploads by drag and drop or the
// file picker (one image per request, each shown as analysing until the server answers), and removal.
import { useEffect, useRef, useState } from 'preact/hooks';
import { api, errorMessage } from '../api.ts';
import { addImage, IMAGE_TYPES, imagePath, personPath } from '../people.ts';
import type { FacebankImage, Person } from '../wire.ts';
import { ApiImage } from './ApiImage.tsx';
import { PersonNegatives } from './PersonNegatives.tsx';
import { rejectedStatus, type ShownStatus, StatusBadge, statusHint } from './PersonStatus.tsx';

interface Upload {
  id: number;
  file: File;
  status: ShownStatus;
  message?: string;
}

let nextUploadId = 1;

function isImageFile(file: File): boolean {
  // Some systems give no type for a file; the server then decides from its bytes.
  return file.type === '' || file.type.startsWith('image/');
}

/** Shows a local file (an upload before or instead of its answer) through a blob URL revoked on unmount. */
function LocalImage({ file, alt }: { file: Blob; alt: string }) {
  const [url, setUrl] = useState<string>();
  useEffect(() => {
    const objectUrl = URL.createObjectURL(file);
    setUrl(objectUrl);
    return () => URL.revokeObjectURL(objectUrl);
  }, [file]);
  return <img class="api-image person-thumb" src={url} alt={alt} />;
}

function ImageTile({ image, onRemove }: { image: FacebankImage; onRemove: () => void }) {
  const hint = statusHint(image.status, image.message);
  return (
    <li class="person-image" data-file={image.file} data-status={image.status} title={hint}>
      <ApiImage class="person-thumb" path={imagePath(image.person, image.file)} alt={image.file} />
      <button
        type="button"
        class="person-image-remove"
        aria-label={`Remove ${image.file}`}
        title="Remove"
        onClick={onRemove}
      >
        ×
      </button>
      <StatusBadge status={image.status} />
      <span class="person-image-name">{image.file}</span>
      {hint && image.status !== 'embedded' && <span class="person-image-hint">{hint}</span>}
    </li>
  );
}

function UploadTile({ upload, onDismiss }: { upload: Upload; onDismiss: () => void }) {
  const hint = upload.status === 'pending' ? undefined : statusHint(upload.status, upload.message);
  return (
    <li class="person-image upload" data-file={upload.file.name} data-status={upload.status} title={hint}>
      <LocalImage file={upload.file} alt={upload.file.name} />
      {upload.status !== 'pending' && (
        <button
          type="button"
          class="person-image-remove"
          aria-label={`Dismiss ${upload.file.name}`}
          title="Dismiss"
          onClick={onDismiss}
        >
          ×
        </button>
      )}
      <StatusBadge status={upload.status} />
      <span class="person-image-name">{upload.file.name}</span>
      {hint && <span class="person-image-hint">Not added: {hint}</span>}
    </li>
  );
}

function Avatar({ person }: { person: Person }) {
  const image = person.images.find((i) => i.status === 'embedded') ?? person.images[0];
  if (!image) return <span class="person-avatar empty">{person.name.slice(0, 1).toUpperCase()}</span>;
  return <ApiImage class="person-avatar" path={imagePath(image.person, image.file)} alt={`${person.name}`} />;
}

interface Props {
  person: Person;
  /** Fetches the people list again; awaited so an upload's tile turns into the stored image without a gap. */
  onChanged: () => Promise<void>;
  onError: (message: string) => void;
  highlight?: boolean;
}

export function PersonCard({ person, onChanged, onError, highlight = false }: Props) {
  const [uploads, setUploads] = useState<Upload[]>([]);
  const [dragDepth, setDragDepth] = useState(0);
  const ref = useRef<HTMLElement>(null);
  const name = person.name;

  useEffect(() => {
    if (highlight) ref.current?.scrollIntoView({ block: 'nearest', behavior: 'smooth' });
  }, [highlight]);

  const update = (id: number, change: Partial<Upload> | undefined) =>
    setUploads((list) =>
      change === undefined ? list.filter((u) => u.id !== id) : list.map((u) => (u.id === id ? { ...u, ...change } : u)),
    );

  const upload = async (files: File[]) => {
    const items: Upload[] = files.map((file) =>
      isImageFile(file)
        ? { id: nextUploadId++, file, status: 'pending' }
        : { id: nextUploadId++, file, status: 'invalid_image', message: 'not an image file' },
    );
    setUploads((list) => [...list, ...items]);
    // One at a time: the server analyses them one at a time anyway, and each tile settles in order.
    for (const item of items) {
      if (item.status !== 'pending') continue;
      try {
        await addImage(name, item.file, item.file.name);
        await onChanged();
        update(item.id, undefined);
      } catch (err) {
        update(item.id, { status: rejectedStatus(err), message: errorMessage(err) });
      }
    }
  };

  const removeImage = async (file: string) => {
    if (!confirm(`Remove ${file} from ${name}?`)) return;
    try {
      await api(imagePath(name, file), { method: 'DELETE' });
    } catch (err) {
      onError(`Could not remove ${file}: ${errorMessage(err)}`);
    }
    await onChanged();
  };

  const removePerson = async () => {
    const n = person.images.length;
    const what = n === 0 ? name : `${name} and ${n} ${n === 1 ? 'image' : 'images'}`;
    if (!confirm(`Delete ${what} from the facebank?`)) return;
    try {
      await api(personPath(name), { method: 'DELETE' });
    } catch (err) {
      onError(`Could not delete ${name}: ${errorMessage(err)}`);
    }
    await onChanged();
  };

  const hasFiles = (e: DragEvent) => e.dataTransfer?.types.includes('Files') ?? false;
  const embedded = person.images.filter((i) => i.status === 'embedded').length;
  const pending = uploads.filter((u) => u.status === 'pending').length;

  return (
    <article
      ref={ref}
      class={`panel person-card${dragDepth > 0 ? ' dragging' : ''}${highlight ? ' highlight' : ''}`}
      data-person={name}
      onDragEnter={(e) => {
        if (!hasFiles(e)) return;
        e.preventDefault();
        setDragDepth((d) => d + 1);
      }}
      onDragOver={(e) => {
        if (!hasFiles(e)) return;
        e.preventDefault();
        if (e.dataTransfer) e.dataTransfer.dropEffect = 'copy';
      }}
      onDragLeave={(e) => {
        if (hasFiles(e)) setDragDepth((d) => Math.max(0, d - 1));
      }}
      onDrop={(e) => {
        if (!hasFiles(e)) return;
        e.preventDefault();
        setDragDepth(0);
        void upload([...(e.dataTransfer?.files ?? [])]);
      }}
    >
      <header class="person-head">
        <Avatar person={person} />
        <div class="person-title">
          <h2>{name}</h2>
          <span class="muted">
            {person.images.length} {person.images.length === 1 ? 'image' : 'images'}, {embedded} embedded
            {pending > 0 && `, ${pending} analysing`}
          </span>
        </div>
        <div class="person-actions">
          <label class="button">
            Add photos
            <input
              class="visually-hidden"
              type="file"
              multiple
              accept={IMAGE_TYPES.join(',')}
              aria-label={`Add photos of ${name}`}
              onChange={(e) => {
                const input = e.currentTarget;
                const files = [...(input.files ?? [])];
                input.value = ''; // choosing the same file again still fires change
                void upload(files);
              }}
            />
          </label>
          <button type="button" class="danger" onClick={removePerson}>
            Delete
          </button>
        </div>
      </header>
      {person.images.length + uploads.length > 0 ? (
        <ul class="person-images">
          {person.images.map((image) => (
            <ImageTile key={`${image.file}:${image.sha256}`} image={image} onRemove={() => removeImage(image.file)} />
          ))}
          {uploads.map((u) => (
            <UploadTile key={u.id} upload={u} onDismiss={() => update(u.id, undefined)} />
          ))}
        </ul>
      ) : (
        <p class="drop-hint muted">No photos yet: drop photos of {name} here, or use Add photos.</p>
      )}
      <PersonNegatives name={name} />
      {dragDepth > 0 && <div class="drop-overlay">Drop to add to {name}</div>}
    </article>
  );
}

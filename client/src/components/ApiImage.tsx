// An image from the API (face crops, facebank photos): fetched with the API key, which an <img src> cannot carry,
// shown through a blob URL that is revoked when the image goes. Fetched only once it is near the viewport, so a
// long list costs only what is looked at.
import { useEffect, useRef, useState } from 'preact/hooks';
import { apiBlob } from '../api.ts';

interface Props {
  path: string;
  alt: string;
  class?: string;
}

export function ApiImage({ path, alt, class: className }: Props) {
  const ref = useRef<HTMLImageElement>(null);
  const [url, setUrl] = useState<string>();
  const [failed, setFailed] = useState(false);

  useEffect(() => {
    const img = ref.current;
    if (!img) return;
    let objectUrl: string | undefined;
    let cancelled = false;
    setUrl(undefined);
    setFailed(false);
    const load = async () => {
      try {
        const blob = await apiBlob(path);
        if (cancelled) return;
        objectUrl = URL.createObjectURL(blob);
        setUrl(objectUrl);
      } catch {
        if (!cancelled) setFailed(true);
      }
    };
    const observer = new IntersectionObserver(
      (entries) => {
        if (!entries.some((e) => e.isIntersecting)) return;
        observer.disconnect();
        void load();
      },
      { rootMargin: '300px' },
    );
    observer.observe(img);
    return () => {
      cancelled = true;
      observer.disconnect();
      if (objectUrl) URL.revokeObjectURL(objectUrl);
    };
  }, [path]);

  return (
    <img
      ref={ref}
      class={`api-image ${className ?? ''}`}
      src={url}
      alt={failed ? `${alt} (not available)` : alt}
      data-state={failed ? 'failed' : url ? 'loaded' : 'loading'}
    />
  );
}

// The dashboard shell: navigation, the API-key prompt, and one page per hash route.
import { render } from 'preact';
import { useEffect, useState } from 'preact/hooks';
import { KeyPrompt } from './components/KeyPrompt.tsx';
import { keyNeeded, onKeyChange } from './key.ts';
import { CameraPage } from './pages/Camera.tsx';
import { CamerasPage } from './pages/Cameras.tsx';
import { EventsPage } from './pages/Events.tsx';
import { FacebankPage } from './pages/Facebank.tsx';
import { LivePage } from './pages/Live.tsx';
import { UnknownPage } from './pages/Unknown.tsx';
import { WebcamPage } from './pages/Webcam.tsx';
import { href, type Route, useRoute } from './router.ts';
import './style.css';

const PAGES = [
  { page: 'live', label: 'Live' },
  { page: 'events', label: 'Events' },
  { page: 'unknown', label: 'Unknown faces' },
  { page: 'facebank', label: 'Facebank' },
  { page: 'cameras', label: 'Cameras' },
  { page: 'webcam', label: 'Webcam' },
] as const;

function Page({ route }: { route: Route }) {
  switch (route.page) {
    case 'events':
      return <EventsPage />;
    case 'unknown':
      return <UnknownPage />;
    case 'facebank':
      return <FacebankPage />;
    case 'cameras':
      return route.params[0] === undefined ? <CamerasPage /> : <CameraPage cameraId={route.params[0]} />;
    case 'webcam':
      return <WebcamPage />;
    default:
      return <LivePage cameraId={route.params[0]} />;
  }
}

function App() {
  const route = useRoute();
  const [needKey, setNeedKey] = useState(keyNeeded());
  useEffect(() => onKeyChange(() => setNeedKey(keyNeeded())), []);
  return (
    <>
      <header class="topbar">
        <a class="brand" href={href('live')}>
          facerec
        </a>
        <nav>
          {PAGES.map(({ page, label }) => (
            <a key={page} href={href(page)} class={route.page === page ? 'active' : undefined}>
              {label}
            </a>
          ))}
        </nav>
      </header>
      <main>
        <Page key={`${route.page}/${route.params.join('/')}`} route={route} />
      </main>
      {needKey && <KeyPrompt />}
    </>
  );
}

const root = document.getElementById('app');
if (root) render(<App />, root);

// Asks for the API key when the server wants one; the key is kept for the session (key.ts).
import { useState } from 'preact/hooks';
import { apiKey, markKeyNeeded, setApiKey } from '../key.ts';

export function KeyPrompt() {
  const [value, setValue] = useState('');
  const hadKey = apiKey() !== undefined;
  return (
    <div class="modal-backdrop">
      <form
        class="modal"
        onSubmit={(e) => {
          e.preventDefault();
          if (!value.trim()) return;
          setApiKey(value.trim());
          markKeyNeeded(false);
        }}
      >
        <h2>API key</h2>
        <p>{hadKey ? 'The server refused that key. Enter the right one.' : 'This server needs an API key.'}</p>
        <input
          type="password"
          name="apiKey"
          autoComplete="current-password"
          placeholder="API key"
          value={value}
          onInput={(e) => setValue(e.currentTarget.value)}
        />
        <button type="submit" class="primary">
          Continue
        </button>
      </form>
    </div>
  );
}

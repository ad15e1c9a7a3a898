import { test } from 'vitest';

test('r', () => {
  console.log(typeof import.meta.resolve, import.meta.resolve?.('tsx/esm/api'));
});

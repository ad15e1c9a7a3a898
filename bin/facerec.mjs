#!/usr/bin/env node
// The `facerec` command. Node 20 cannot run TypeScript itself, so tsx's loader is registered first.
import { register } from 'tsx/esm/api';

register();
await import('../server/cli.ts');

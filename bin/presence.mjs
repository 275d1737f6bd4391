#!/usr/bin/env node
// The operator CLI. Registers tsx so the TypeScript sources run as they are.
import { register } from 'tsx/esm/api';

register();
await import('../src/server/cli/presence.ts');

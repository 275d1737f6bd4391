#!/usr/bin/env node
// The desktop daemon. Registers tsx so the TypeScript sources run as they are.
import { register } from 'tsx/esm/api';

register();
await import('../src/daemon/main.ts');

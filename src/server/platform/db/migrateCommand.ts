/** `npm run db:migrate`: applies pending migrations to the configured database and exits. */
import { loadConfig } from '../config.ts';
import { openDatabase } from './open.ts';

const opened = await openDatabase(loadConfig(), { attach: true, log: (line) => console.log(line) });
await opened.close();
console.log('database is up to date');

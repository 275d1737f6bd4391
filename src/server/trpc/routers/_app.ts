/** The whole API, composed; its type is what the daemon's typed client imports. */
import { router } from '../init.ts';
import { adminRouter } from './admin.ts';
import { daemonRouter } from './daemon.ts';

export const appRouter = router({
  daemon: daemonRouter,
  admin: adminRouter,
});

export type AppRouter = typeof appRouter;

/** Runs the operator CLI (`node bin/presence.mjs …`, what `npx presence` runs) as a child process. */
import { execFile } from 'node:child_process';
import { projectRoot } from './serverProcess.ts';

export interface CliResult {
  code: number | null;
  stdout: string;
  stderr: string;
}

/**
 * Runs `presence <args>` with the test process's environment plus `env`
 * (`undefined` removes a variable) and resolves with its exit code and
 * output, whatever the code.
 */
export function runCli(args: string[], env: Record<string, string | undefined> = {}, timeoutMs = 60_000): Promise<CliResult> {
  const childEnv: NodeJS.ProcessEnv = { ...process.env };
  for (const [name, value] of Object.entries(env)) {
    if (value === undefined) delete childEnv[name];
    else childEnv[name] = value;
  }
  return new Promise((resolve, reject) => {
    execFile(
      process.execPath,
      ['bin/presence.mjs', ...args],
      { cwd: projectRoot, env: childEnv, timeout: timeoutMs, killSignal: 'SIGKILL', maxBuffer: 16 * 1024 * 1024 },
      (error, stdout, stderr) => {
        if (error && typeof error.code !== 'number') {
          // Not a plain non-zero exit: spawn failure or timeout.
          reject(new Error(`presence ${args.join(' ')}: ${error.message}\n--- stdout ---\n${stdout}\n--- stderr ---\n${stderr}`));
          return;
        }
        resolve({ code: error ? (error.code as number) : 0, stdout, stderr });
      },
    );
  });
}

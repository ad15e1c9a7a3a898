// npm install denies onnxruntime-node's own postinstall (package.json allowScripts), because its CUDA
// download must not be able to break `npm install` on a machine that cannot reach the download host.
// This runs that same script unchanged; where it fails, facerec says so loudly and runs on the CPU.
import { spawnSync } from 'node:child_process';
import { createRequire } from 'node:module';
import { dirname, join } from 'node:path';

function main(): void {
  const flag = process.env.ONNXRUNTIME_NODE_INSTALL ?? process.env.ONNXRUNTIME_NODE_INSTALL_CUDA;
  if (flag === 'skip') return;
  const ortDir = dirname(createRequire(import.meta.url).resolve('onnxruntime-node/package.json'));
  // Without these, the script believes it is a development checkout of onnxruntime and exits early.
  const env = { ...process.env };
  delete env.npm_package_json;
  delete env.npm_config_local_prefix;
  const run = spawnSync(process.execPath, [join(ortDir, 'script', 'install.js')], {
    cwd: ortDir,
    env,
    encoding: 'utf8',
    timeout: 10 * 60_000,
  });
  if (run.status === 0) return;
  const reason = `${run.stderr ?? ''}${run.error?.message ?? ''}`
    .split('\n')
    .map((l) => l.trim())
    .filter((l) => /error/i.test(l))
    .slice(0, 1)
    .join('');
  console.warn(
    [
      '',
      '!! facerec: onnxruntime-node could not install its CUDA execution provider libraries',
      `!!   (${reason || `exit ${run.status}`}).`,
      '!! facerec will run inference on the CPU. To retry on a machine with CUDA 12 and network access:',
      `!!   node ${join(ortDir, 'script', 'install.js')}`,
      '',
    ].join('\n'),
  );
}

main();

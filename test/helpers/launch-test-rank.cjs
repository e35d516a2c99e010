// A stand-in rank for the launcher's tests (test/cli/launch-cli.test.ts), so they depend on nothing
// but the launcher: `node launch-test-rank.cjs MODE PIDDIR [args]`.
//   env          prints the launch variables it sees as one JSON line on stdout, and a line on stderr
//   fail R CODE  rank R exits with CODE (or kills itself when CODE is a signal name) after 300 ms;
//                the other ranks wait for ever, and the last rank ignores SIGTERM (needs SIGKILL)
//   wait         every rank waits for ever (until a signal)
// Every rank first writes PIDDIR/<rank>.pid (its pid), so the test can check none is left behind.
const fs = require('node:fs');
const path = require('node:path');

const [mode, pidDir, ...rest] = process.argv.slice(2);
const rank = Number(process.env.RANK);
const world = Number(process.env.WORLD_SIZE);
// Its own pid and its parent's (the rank shim): neither may outlive the job.
fs.writeFileSync(path.join(pidDir, `${rank}.pid`), `${process.pid} ${process.ppid}`);

const KEYS = ['RANK', 'WORLD_SIZE', 'LOCAL_RANK', 'LOCAL_WORLD_SIZE', 'GROUP_RANK', 'MASTER_ADDR', 'MASTER_PORT', 'NCCL_COMM_ID', 'OMPI_COMM_WORLD_RANK', 'OMPI_COMM_WORLD_SIZE', 'OMPI_MCA_btl_vader_single_copy_mechanism'];
const forever = () => setInterval(() => {}, 1 << 30);

if (mode === 'env') {
  const seen = {};
  for (const k of KEYS) if (process.env[k] !== undefined) seen[k] = process.env[k];
  // Two writes for one line: the launcher must not cut a line in the middle.
  process.stdout.write(JSON.stringify(seen).slice(0, 5));
  setTimeout(() => {
    process.stdout.write(JSON.stringify(seen).slice(5) + '\n');
    process.stderr.write(`stderr of ${rank}\nno newline at the end`);
  }, 50);
} else if (mode === 'fail') {
  const [failRank, code] = [Number(rest[0]), rest[1]];
  if (rank === failRank) {
    setTimeout(() => (/^\d+$/.test(code) ? process.exit(Number(code)) : process.kill(process.pid, code)), 300);
  } else {
    if (rank === world - 1) process.on('SIGTERM', () => process.stderr.write(`rank ${rank} ignores SIGTERM\n`));
    forever();
  }
} else if (mode === 'wait') {
  forever();
} else {
  process.stderr.write(`unknown mode ${mode}\n`);
  process.exit(2);
}

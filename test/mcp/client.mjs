#!/usr/bin/env node
// A real MCP client, on the official TypeScript SDK, that drives
// `kubectl sandbox mcp` for test/e2e/mcp_test.go. It prints ONE JSON object
// on stdout with what the Go test asserts, and exits 0 when the flow ran to
// its end (the Go test judges the values) or 1 when a step failed outright
// (the JSON then has "error" and "step").
//
// Usage:
//   node client.mjs stdio [--flow FLOW] [-- extra server args...]
//       spawns `kubectl sandbox mcp [extra args]` (kubectl from PATH, the
//       environment passed through: KUBECONFIG, PATH with bin/)
//   node client.mjs http URL [--flow FLOW] [--keep-session]
//       connects to a running `kubectl sandbox mcp --http` at URL (…/mcp);
//       --keep-session closes the client without terminating the session,
//       leaving it (and its sandboxes) to the server's shutdown
//
// Flows:
//   full (default)  list tools; create on pool $MCP_POOL (default python);
//                   exec with split streams and an exit code; write 1 MiB of
//                   random bytes (base64) and read them back; list (mine);
//                   list_files; exec with an output budget; delete; a one-shot
//                   sandbox_run (a file in, a command, the file read back),
//                   whose sandbox must be gone after it; a second create left
//                   for the server's end-of-session cleanup.
//   restricted      sandbox_create (expected to be a tool error), then
//                   sandbox_list: the server keeps serving.
//   create          list tools and create one sandbox on $MCP_POOL, left
//                   for the cleanup.
//   progress        create on $MCP_POOL, then exec `echo a; sleep 1; echo b`
//                   with a progress token (onprogress): the notifications
//                   and when they came relative to the result.
//   security        (http) connects without a token, with a wrong one, with
//                   the right one ($MCP_TOKEN) and a foreign Origin: each
//                   refusal's HTTP status; then with the right one lists the
//                   tools and sends a sandbox_write_file of $MCP_BIG_BYTES
//                   (a body over the server's bound): its status.
//   repl            one tool call per line of stdin ({"tool","args"}), one
//                   answer per line of stdout ({"isError","text",
//                   "structuredContent","ms"}); ends at end of input. The
//                   final report follows the answers.
//   bench           $MCP_CALLS (default 30) timed sandbox_exec of `true` on
//                   sandbox $MCP_SANDBOX after $MCP_WARMUP (default 3)
//                   untimed ones: "durationsMs"; then as many timed MCP
//                   pings (the protocol's floor): "pingMs".
//   soak            (http) $SOAK_SESSIONS sessions at once (default 20), each
//                   creating a sandbox on $MCP_POOL, starting a job in it
//                   and making $SOAK_CALLS calls in all (default 100) of
//                   mixed tools; every
//                   $SOAK_DROP_EVERY-th session (default 4) goes without
//                   ending its session (no DELETE), the others delete their
//                   sandbox and end theirs: "soak" counts calls and errors.
// $MCP_TOKEN, when set, is sent as a bearer token over http; a server with a
// certificate of a private CA needs NODE_EXTRA_CA_CERTS.
// Then the client closes: over stdio, the server's stdin is closed and its
// exit awaited (up to 30s, before the SDK's own SIGTERM); over HTTP, the
// session is terminated (DELETE, unless --keep-session) and the client closed.
import { createHash, randomBytes } from 'node:crypto';
import { performance } from 'node:perf_hooks';
import { createInterface } from 'node:readline';

import { Client } from '@modelcontextprotocol/sdk/client/index.js';
import { StdioClientTransport } from '@modelcontextprotocol/sdk/client/stdio.js';
import { StreamableHTTPClientTransport } from '@modelcontextprotocol/sdk/client/streamableHttp.js';

const EXPECTED_TOOLS = [
  'sandbox_create', 'sandbox_list', 'sandbox_exec', 'sandbox_write_file',
  'sandbox_read_file', 'sandbox_list_files', 'sandbox_delete', 'sandbox_run',
  'sandbox_job_start', 'sandbox_job_list', 'sandbox_job_output', 'sandbox_job_kill',
];
const CALL_TIMEOUT_MS = 180_000; // a cold pool may take a while to be Ready
const EXIT_WAIT_MS = 30_000;

function usage(msg) {
  process.stderr.write(`client.mjs: ${msg}\nusage: node client.mjs stdio [--flow FLOW] [-- server args...]\n       node client.mjs http URL [--flow FLOW] [--keep-session]\nFLOW: full (default), restricted, create, progress, security, repl, bench, soak\n`);
  process.exit(2);
}

function parseArgs(argv) {
  const opts = { transport: argv[0], flow: 'full', url: undefined, serverArgs: [], keepSession: false };
  if (opts.transport !== 'stdio' && opts.transport !== 'http') usage(`unknown transport ${JSON.stringify(opts.transport)}`);
  for (let i = 1; i < argv.length; i++) {
    const a = argv[i];
    if (a === '--') {
      if (opts.transport !== 'stdio') usage('server args are for stdio only');
      opts.serverArgs = argv.slice(i + 1);
      break;
    } else if (a === '--flow') {
      opts.flow = argv[++i];
    } else if (a === '--keep-session' && opts.transport === 'http') {
      opts.keepSession = true;
    } else if (a.startsWith('--flow=')) {
      opts.flow = a.slice('--flow='.length);
    } else if (opts.transport === 'http' && opts.url === undefined) {
      opts.url = a;
    } else {
      usage(`unexpected argument ${JSON.stringify(a)}`);
    }
  }
  if (!['full', 'restricted', 'create', 'progress', 'security', 'repl', 'bench', 'soak'].includes(opts.flow)) usage(`unknown flow ${JSON.stringify(opts.flow)}`);
  if (opts.transport === 'http' && !opts.url) usage('http needs the server URL');
  if ((opts.flow === 'security' || opts.flow === 'soak') && opts.transport !== 'http') usage(`flow ${opts.flow} is for http only`);
  return opts;
}

const opts = parseArgs(process.argv.slice(2));
const pool = process.env.MCP_POOL || 'python';
const out = { transport: opts.transport, flow: opts.flow, pool };
let step = 'connect';
const t0 = Date.now();

function textOf(result) {
  return (result.content ?? []).filter((c) => c.type === 'text').map((c) => c.text).join('\n');
}

function sha256(buf) {
  return createHash('sha256').update(buf).digest('hex');
}

// call runs a tool; a tool error (isError) fails the step unless allowError.
async function call(client, name, args, { allowError = false, ...options } = {}) {
  const result = await client.callTool({ name, arguments: args }, undefined, { timeout: CALL_TIMEOUT_MS, ...options });
  if (result.isError && !allowError) {
    throw new Error(`${name} returned a tool error: ${textOf(result)}`);
  }
  return result;
}

async function listTools(client) {
  step = 'tools/list';
  const { tools } = await client.listTools();
  out.tools = tools.map((t) => ({
    name: t.name,
    hasInputSchema: t.inputSchema?.type === 'object',
    hasOutputSchema: t.outputSchema?.type === 'object',
  }));
  out.missingTools = EXPECTED_TOOLS.filter((n) => !tools.some((t) => t.name === n));
}

async function create(client) {
  const r = await call(client, 'sandbox_create', { pool, ttl: '30m', labels: { 'e2e-mcp': 'yes' } });
  return r.structuredContent;
}

async function fullFlow(client) {
  await listTools(client);

  step = 'sandbox_create';
  const created = await create(client);
  out.created = created;
  const name = created.name;

  step = 'sandbox_exec (streams, exit code)';
  let r = await call(client, 'sandbox_exec', { name, command: ['sh', '-c', 'echo out; echo err >&2; exit 3'] });
  out.exec = { ...r.structuredContent, isError: !!r.isError };

  step = 'sandbox_write_file (1 MiB base64)';
  const data = randomBytes(1 << 20);
  const path = 'mcp-e2e/data.bin';
  r = await call(client, 'sandbox_write_file', { name, path, content: data.toString('base64'), encoding: 'base64' });
  const written = r.structuredContent;

  step = 'sandbox_read_file';
  r = await call(client, 'sandbox_read_file', { name, path });
  const read = r.structuredContent;
  const back = read.encoding === 'base64' ? Buffer.from(read.content, 'base64') : Buffer.from(read.content, 'utf-8');
  out.file = {
    path,
    sentBytes: data.length,
    writtenBytes: written.bytes,
    readBytes: read.bytes,
    readEncoding: read.encoding,
    readTruncated: read.truncated,
    sha256Sent: sha256(data),
    sha256Read: sha256(back),
  };
  out.file.equal = out.file.sha256Sent === out.file.sha256Read && data.equals(back);

  step = 'sandbox_list (mine)';
  r = await call(client, 'sandbox_list', { mine: true });
  const listed = r.structuredContent.sandboxes.find((s) => s.name === name);
  r = await call(client, 'sandbox_list', { selector: 'e2e-mcp=yes' });
  const bySelector = r.structuredContent.sandboxes.find((s) => s.name === name);
  out.list = { found: !!listed, mine: listed?.mine ?? false, ready: listed?.ready ?? false, foundBySelector: !!bySelector };

  step = 'sandbox_list_files';
  r = await call(client, 'sandbox_list_files', { name, path: 'mcp-e2e' });
  out.listFiles = { entries: r.structuredContent.entries };

  step = 'sandbox_exec (output budget)';
  r = await call(client, 'sandbox_exec', { name, command: ['sh', '-c', "printf '%010000d' 0"], maxOutputBytes: 100 });
  out.budget = {
    exitCode: r.structuredContent.exitCode,
    truncated: r.structuredContent.truncated,
    stdoutLength: r.structuredContent.stdout.length,
    stdoutHead: r.structuredContent.stdout.slice(0, 20),
  };

  step = 'sandbox_delete';
  r = await call(client, 'sandbox_delete', { name });
  out.deleted = r.structuredContent.deleted;
  r = await call(client, 'sandbox_list', { mine: true });
  out.listedAfterDelete = r.structuredContent.sandboxes.some((s) => s.name === name);

  step = 'sandbox_run';
  r = await call(client, 'sandbox_run', {
    pool,
    files: { 'run-in.txt': 'hello from run\n' },
    command: ['sh', '-c', 'cat run-in.txt; echo oops >&2; exit 4'],
    read: ['run-in.txt'],
  });
  const run = r.structuredContent;
  out.run = {
    exitCode: run.exitCode, stdout: run.stdout, stderr: run.stderr, truncated: run.truncated,
    sandbox: run.sandbox, readBack: run.files?.['run-in.txt']?.content ?? null, isError: !!r.isError,
  };
  // sandbox_run deletes its sandbox before it answers; the claim may take a
  // moment to disappear from the list.
  step = 'sandbox_list (after sandbox_run)';
  const runDeadline = Date.now() + 30_000;
  for (;;) {
    r = await call(client, 'sandbox_list', {});
    out.run.left = r.structuredContent.sandboxes.some((s) => s.name === run.sandbox);
    if (!out.run.left || Date.now() > runDeadline) break;
    await new Promise((resolve) => setTimeout(resolve, 500));
  }

  step = 'sandbox_create (left for the cleanup)';
  out.leftForCleanup = (await create(client)).name;
}

async function restrictedFlow(client) {
  await listTools(client);
  step = 'sandbox_create (expected tool error)';
  let r = await call(client, 'sandbox_create', { pool }, { allowError: true });
  out.create = { isError: !!r.isError, text: textOf(r), structuredContent: r.structuredContent ?? null };
  step = 'sandbox_list (after the error)';
  r = await call(client, 'sandbox_list', {}, { allowError: true });
  out.list = { isError: !!r.isError, text: r.isError ? textOf(r) : '', names: (r.structuredContent?.sandboxes ?? []).map((s) => s.name) };
}

async function createFlow(client) {
  await listTools(client);
  step = 'sandbox_create';
  out.created = await create(client);
  out.leftForCleanup = out.created.name;
}

async function progressFlow(client) {
  await listTools(client);
  step = 'sandbox_create';
  const created = await create(client);
  out.created = created;
  step = 'sandbox_exec (progress)';
  const events = [];
  const start = Date.now();
  const r = await call(client, 'sandbox_exec', { name: created.name, command: ['sh', '-c', 'echo a; sleep 1; echo b'] }, {
    onprogress: (p) => events.push({ atMs: Date.now() - start, progress: p.progress, message: p.message ?? '' }),
  });
  out.progress = events;
  out.resultAtMs = Date.now() - start;
  out.exec = { ...r.structuredContent, isError: !!r.isError };
}

// authHeaders are the headers of an http request: the bearer token of
// $MCP_TOKEN, when set.
function authHeaders(token = process.env.MCP_TOKEN) {
  return token ? { Authorization: `Bearer ${token}` } : {};
}

function httpTransport(headers) {
  return new StreamableHTTPClientTransport(new URL(opts.url), { requestInit: { headers } });
}

// refusal is the HTTP status (and the start of the message) of an error of
// the SDK's http transport, or of a call that did not fail (200).
function refusal(err) {
  if (!err) return { status: 200 };
  return { status: typeof err.code === 'number' ? err.code : null, message: String(err.message ?? err).slice(0, 300) };
}

// tryConnect connects with headers and lists the tools: 200, or the
// refusal's status.
async function tryConnect(headers) {
  const client = new Client({ name: 'kubectl-sandbox-e2e-probe', version: '0.0.0' });
  const transport = httpTransport(headers);
  try {
    await client.connect(transport);
    await client.listTools();
    await transport.terminateSession();
    return refusal(null);
  } catch (err) {
    return refusal(err);
  } finally {
    await client.close().catch(() => {});
  }
}

async function securityFlow() {
  const token = process.env.MCP_TOKEN ?? '';
  // A wrong token differs from the right one in its last character only.
  const wrong = token.slice(0, -1) + (token.endsWith('0') ? '1' : '0');
  step = 'connect without a token';
  out.noToken = await tryConnect({});
  step = 'connect with a wrong token';
  out.wrongToken = await tryConnect(authHeaders(wrong));
  step = 'connect with a foreign Origin';
  out.foreignOrigin = await tryConnect({ ...authHeaders(token), Origin: 'http://evil.example' });
  step = 'connect with the token';
  const client = new Client({ name: 'kubectl-sandbox-e2e', version: '0.0.0' });
  const transport = httpTransport(authHeaders(token));
  await client.connect(transport);
  out.server = client.getServerVersion();
  try {
    await listTools(client);
    step = 'a body over the bound';
    const big = Number(process.env.MCP_BIG_BYTES || 0);
    try {
      await client.callTool({ name: 'sandbox_write_file', arguments: { name: 'none', path: 'big.txt', content: 'x'.repeat(big) } });
      out.bigBody = refusal(null);
    } catch (err) {
      out.bigBody = refusal(err);
    }
    step = 'sandbox_list after the refused body';
    const r = await call(client, 'sandbox_list', {}, { allowError: true });
    out.listAfterBigBody = { isError: !!r.isError };
    await transport.terminateSession();
    out.sessionTerminated = true;
  } finally {
    await client.close();
  }
}

// replFlow answers one tool call per line of stdin.
async function replFlow(client) {
  out.answers = 0;
  const lines = createInterface({ input: process.stdin, crlfDelay: Infinity });
  for await (const line of lines) {
    if (!line.trim()) continue;
    const req = JSON.parse(line);
    step = `repl: ${req.tool}`;
    const start = performance.now();
    let answer;
    try {
      const r = await call(client, req.tool, req.args ?? {}, { allowError: true });
      answer = { isError: !!r.isError, text: textOf(r), structuredContent: r.structuredContent ?? null };
    } catch (err) {
      answer = { isError: true, protocolError: String(err) };
    }
    answer.ms = performance.now() - start;
    process.stdout.write(JSON.stringify(answer) + '\n');
    out.answers++;
  }
}

async function benchFlow(client) {
  const name = process.env.MCP_SANDBOX;
  if (!name) throw new Error('the bench flow needs $MCP_SANDBOX');
  const calls = Number(process.env.MCP_CALLS || 30);
  const warmup = Number(process.env.MCP_WARMUP || 3);
  const exec = async () => {
    const r = await call(client, 'sandbox_exec', { name, command: ['true'] });
    if (r.structuredContent.exitCode !== 0) throw new Error(`true exited ${r.structuredContent.exitCode}`);
  };
  step = 'bench: warm-up';
  for (let i = 0; i < warmup; i++) await exec();
  step = 'bench: timed calls';
  out.durationsMs = [];
  for (let i = 0; i < calls; i++) {
    const start = performance.now();
    await exec();
    out.durationsMs.push(performance.now() - start);
  }
  // The floor of any call: MCP's ping through the same client, transport
  // and server SDK, with no tool behind it.
  step = 'bench: pings';
  out.pingMs = [];
  for (let i = 0; i < calls; i++) {
    const start = performance.now();
    await client.ping();
    out.pingMs.push(performance.now() - start);
  }
}

// soakSession is one session of the soak: a sandbox, calls of mixed tools
// (each answer checked), then the session ends, or goes without a word.
async function soakSession(i, calls, drop) {
  const res = { calls: 0, errors: 0, firstErrors: [], dropped: drop };
  const fail = (what) => {
    res.errors++;
    if (res.firstErrors.length < 3) res.firstErrors.push(`session ${i}: ${what}`.slice(0, 300));
  };
  const client = new Client({ name: `kubectl-sandbox-soak-${i}`, version: '0.0.0' });
  const transport = httpTransport(authHeaders());
  await client.connect(transport);
  const tool = async (name, args) => {
    res.calls++;
    try {
      const r = await call(client, name, args, { allowError: true });
      if (r.isError) {
        fail(`${name}: ${textOf(r)}`);
        return null;
      }
      return r.structuredContent;
    } catch (err) {
      fail(`${name}: ${err}`);
      return null;
    }
  };
  const created = await tool('sandbox_create', { pool, ttl: '30m', labels: { 'e2e-soak': 'yes' } });
  if (!created) {
    await client.close();
    return res;
  }
  const name = created.name;
  await tool('sandbox_job_start', { name, job: 'soak', command: ['sh', '-c', `echo soak ${i}`] });
  for (let k = 2; k < calls; k++) {
    const word = `s${i}-c${k}`;
    switch (k % 7) {
      case 0: {
        const r = await tool('sandbox_exec', { name, command: ['true'] });
        if (r && r.exitCode !== 0) fail(`true exited ${r.exitCode}`);
        break;
      }
      case 1: {
        const r = await tool('sandbox_exec', { name, command: ['echo', word] });
        if (r && r.stdout !== `${word}\n`) fail(`echo ${word}: ${JSON.stringify(r.stdout)}`);
        break;
      }
      case 2:
        await tool('sandbox_write_file', { name, path: 'soak/word.txt', content: word });
        break;
      case 3: {
        const r = await tool('sandbox_read_file', { name, path: 'soak/word.txt' });
        if (r && r.content !== `s${i}-c${k - 1}`) fail(`read back ${JSON.stringify(r.content)}`);
        break;
      }
      case 4:
        await tool('sandbox_list_files', { name, path: 'soak' });
        break;
      case 5: {
        const r = await tool('sandbox_job_output', { name, id: 'soak', waitSeconds: 10 });
        if (r && r.output !== `soak ${i}\n`.slice(0, r.output.length)) fail(`job output ${JSON.stringify(r.output)}`);
        break;
      }
      default:
        await tool('sandbox_list', { mine: true });
    }
  }
  if (drop) {
    // Gone without a DELETE: the server ends the session when it has been
    // idle for its --http-session-timeout.
    await client.close();
    return res;
  }
  if (i % 2 === 0) await tool('sandbox_delete', { name });
  await transport.terminateSession().catch((err) => fail(`ending the session: ${err}`));
  await client.close();
  return res;
}

async function soakFlow() {
  const sessions = Number(process.env.SOAK_SESSIONS || 20);
  const calls = Number(process.env.SOAK_CALLS || 100);
  const dropEvery = Number(process.env.SOAK_DROP_EVERY || 4);
  step = 'soak';
  const all = await Promise.all(Array.from({ length: sessions }, (_, i) => soakSession(i, calls, i % dropEvery === dropEvery - 1)));
  out.soak = {
    sessions,
    calls: all.reduce((n, r) => n + r.calls, 0),
    errors: all.reduce((n, r) => n + r.errors, 0),
    dropped: all.filter((r) => r.dropped).length,
    firstErrors: all.flatMap((r) => r.firstErrors).slice(0, 10),
  };
}

async function main() {
  if (opts.flow === 'security') return securityFlow();
  if (opts.flow === 'soak') return soakFlow();
  const client = new Client({ name: 'kubectl-sandbox-e2e', version: '0.0.0' });
  let transport;
  let child; // the server process, over stdio
  if (opts.transport === 'stdio') {
    const env = Object.fromEntries(Object.entries(process.env).filter(([, v]) => v !== undefined));
    transport = new StdioClientTransport({ command: 'kubectl', args: ['sandbox', 'mcp', ...opts.serverArgs], env, stderr: 'inherit' });
  } else {
    transport = httpTransport(authHeaders());
  }
  await client.connect(transport);
  out.server = client.getServerVersion();
  if (opts.transport === 'http') out.sessionId = transport.sessionId ?? null;

  try {
    if (opts.flow === 'full') await fullFlow(client);
    else if (opts.flow === 'restricted') await restrictedFlow(client);
    else if (opts.flow === 'create') await createFlow(client);
    else if (opts.flow === 'repl') await replFlow(client);
    else if (opts.flow === 'bench') await benchFlow(client);
    else await progressFlow(client);
  } catch (err) {
    out.step = step; // the step that failed, before the close below
    throw err;
  } finally {
    step = 'close';
    if (opts.transport === 'stdio') {
      // Close the server's stdin ourselves and wait for it to exit on its
      // own: StdioClientTransport.close() would SIGTERM it after 2s, which
      // would hide whether end of input alone ends it (and cleans up).
      // _process is the SDK's child; there is no public handle on it.
      child = transport._process;
      if (child && child.exitCode === null && child.signalCode === null) {
        const exited = new Promise((resolve) => child.once('close', (code, signal) => resolve({ code, signal })));
        const closedAt = Date.now();
        child.stdin.end();
        const res = await Promise.race([exited, new Promise((resolve) => setTimeout(() => resolve(null), EXIT_WAIT_MS).unref())]);
        out.serverExit = res ? { exitCode: res.code, signal: res.signal, afterMs: Date.now() - closedAt } : { exitCode: null, signal: null, timedOut: true };
      } else if (child) {
        out.serverExit = { exitCode: child.exitCode, signal: child.signalCode, beforeClose: true };
      }
    } else if (!opts.keepSession) {
      await transport.terminateSession();
      out.sessionTerminated = true;
    }
    await client.close();
  }
}

try {
  await main();
  out.ok = true;
} catch (err) {
  out.ok = false;
  out.step ??= step;
  out.error = err instanceof Error ? `${err.name}: ${err.message}` : String(err);
}
out.elapsedMs = Date.now() - t0;
process.stdout.write(JSON.stringify(out) + '\n');
process.exitCode = out.ok ? 0 : 1;

// dw-host's own shell page (`dw-host run --interactive`): xterm.js, served from node_modules (no
// CDN), speaking the same v2 protocol as the Taskcluster UI's page (reference §1.8), and reading the
// same query (`socketUrl`, `taskId`, `runId`, `v=2`).
import { readFile } from 'node:fs/promises';
import { createRequire } from 'node:module';
import { dirname, join } from 'node:path';

const xtermRoot = dirname(createRequire(import.meta.url).resolve('@xterm/xterm/package.json'));

export const PAGE_ASSETS: Readonly<Record<string, { file: string; contentType: string }>> = {
  '/shell/xterm.mjs': { file: join(xtermRoot, 'lib', 'xterm.mjs'), contentType: 'text/javascript; charset=utf-8' },
  '/shell/xterm.css': { file: join(xtermRoot, 'css', 'xterm.css'), contentType: 'text/css; charset=utf-8' },
};

export function readAsset(path: string): Promise<Buffer> | null {
  const asset = PAGE_ASSETS[path];
  return asset ? readFile(asset.file) : null;
}

export const SHELL_PAGE = `<!doctype html>
<html>
<head>
<meta charset="utf-8">
<title>dw-host shell</title>
<link rel="stylesheet" href="/shell/xterm.css">
<style>html, body { margin: 0; height: 100%; background: #000; } #terminal { height: 100%; }</style>
</head>
<body>
<div id="terminal"></div>
<script type="module">
import { Terminal } from '/shell/xterm.mjs';
const query = new URLSearchParams(location.search);
document.title = 'Shell: ' + (query.get('taskId') || '');
const term = new Terminal({ cursorBlink: true, cols: 100, rows: 30 });
term.open(document.getElementById('terminal'));
term.focus();
const socket = new WebSocket(query.get('socketUrl'));
socket.binaryType = 'arraybuffer';
const encoder = new TextEncoder();
function send(code, bytes) {
  if (socket.readyState !== WebSocket.OPEN) return;
  const message = new Uint8Array(bytes.length + 1);
  message[0] = code;
  message.set(bytes, 1);
  socket.send(message);
}
function sendSize() {
  const size = new Uint8Array(4);
  const view = new DataView(size.buffer);
  view.setUint16(0, term.rows, true);
  view.setUint16(2, term.cols, true);
  send(2, size);
}
socket.onopen = sendSize;
term.onResize(sendSize);
term.onData((data) => send(1, encoder.encode(data)));
socket.onmessage = (event) => term.write(typeof event.data === 'string' ? event.data : new Uint8Array(event.data));
socket.onclose = () => term.write('\\r\\nRemote shell closed\\r\\n');
</script>
</body>
</html>
`;

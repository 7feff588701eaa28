import { WebSocketServer } from 'ws';

/** The WebSocket baseline: a bare `ws` server that parses each JSON frame and echoes an answer. */
const wss = new WebSocketServer({ host: '127.0.0.1', port: 0 }, () => {
  const address = wss.address() as { port: number };
  process.stdout.write(`${JSON.stringify({ port: address.port })}\n`);
});
wss.on('connection', (ws) => {
  ws.on('message', (data) => {
    const frame = JSON.parse(data.toString()) as { id: number };
    ws.send(JSON.stringify({ jsonrpc: '2.0', id: frame.id, result: { status: 200, data: new Date().toISOString() } }));
  });
});
process.on('SIGTERM', () => wss.close(() => process.exit(0)));

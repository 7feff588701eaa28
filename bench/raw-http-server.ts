import { createServer } from 'node:http';

/** The baseline: a bare node:http server that reads a JSON body and answers JSON, as small as it gets. */
const server = createServer((req, res) => {
  const chunks: Buffer[] = [];
  req.on('data', (chunk: Buffer) => chunks.push(chunk));
  req.on('end', () => {
    const args = chunks.length > 0 ? (JSON.parse(Buffer.concat(chunks).toString()) as unknown) : [];
    const body = JSON.stringify({ jsonrpc: '2.0', result: { status: 200, data: new Date().toISOString(), args } });
    res.writeHead(200, { 'content-type': 'application/json', 'content-length': Buffer.byteLength(body) });
    res.end(body);
  });
});
server.listen(0, '127.0.0.1', () => {
  const address = server.address() as { port: number };
  process.stdout.write(`${JSON.stringify({ port: address.port })}\n`);
});
process.on('SIGTERM', () => server.close(() => process.exit(0)));

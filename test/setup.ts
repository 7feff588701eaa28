import path from 'node:path';

// The published v1 client (7.x) loads "external resources" at import time; these local stand-ins
// keep it from reaching for the network.
process.env.XDG_DATA_HOME = path.resolve('test/fixtures/client-resources');

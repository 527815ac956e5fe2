// @grpc/grpc-js against a real coordinator: the protos are loaded from the
// source tree with @grpc/proto-loader and called like any Node application
// would. Usage: node test_grpcjs.js HOST:PORT PROTO_DIR
'use strict';
const path = require('path');
const grpc = require('@grpc/grpc-js');
const loader = require('@grpc/proto-loader');

const [target, protoDir] = process.argv.slice(2);
const opts = { keepCase: true, longs: String, enums: String, defaults: true, oneofs: true,
               includeDirs: [protoDir, '/usr/include'] };
const pkg = grpc.loadPackageDefinition(loader.loadSync(
  ['atoll/v1/confidential.proto', 'atoll/v1/jobs.proto', 'grpc/health/v1/health.proto'], opts));

const auth = new grpc.Metadata();
auth.set('authorization', 'Bearer ak_demo');

function call(client, method, req, md) {
  return new Promise((resolve, reject) => {
    client[method](req, md || new grpc.Metadata(), { deadline: Date.now() + 5000 },
                   (err, resp) => (err ? reject(err) : resolve(resp)));
  });
}

function assert(cond, what) {
  if (!cond) {
    console.error('FAIL: ' + what);
    process.exit(1);
  }
}

(async () => {
  const creds = grpc.credentials.createInsecure();
  const health = new pkg.grpc.health.v1.Health(target, creds);
  const conf = new pkg.atoll.v1.Confidential(target, creds);

  const h = await call(health, 'Check', { service: '' });
  assert(h.status === 'SERVING', 'Health/Check status ' + h.status);

  try {
    await call(health, 'Check', { service: 'no.such.Service' });
    assert(false, 'unknown service answered');
  } catch (e) {
    assert(e.code === grpc.status.NOT_FOUND, 'unknown service code ' + e.code);
    assert(e.details === "unknown service 'no.such.Service'", 'details: ' + e.details);
  }

  try {
    await call(conf, 'GetStats', {});
    assert(false, 'GetStats without a key answered');
  } catch (e) {
    assert(e.code === grpc.status.UNAUTHENTICATED, 'no key: code ' + e.code);
  }
  const stats = await call(conf, 'GetStats', {}, auth);
  assert(stats.attested_hosts === 0, 'attested_hosts ' + stats.attested_hosts);
  assert(Object.keys(stats.tee_types).length === 0, 'tee_types not empty');

  // The seed's Encrypt and Decrypt bodies reach the coordinator whole
  // (input, output): without custody it answers FAILED_PRECONDITION and
  // names the proxy, instead of dropping the fields.
  for (const [m, body] of [
    ['Encrypt', { input: { prompt: 'Hello' }, key_id: 'ck_x', workload_id: 42 }],
    ['Decrypt', { output: { encrypted: true, key_id: 'ck_x', ciphertext: Buffer.from('x') }, key_id: 'ck_x' }],
  ]) {
    try {
      await call(conf, m, body, auth);
      assert(false, m + ' answered');
    } catch (e) {
      assert(e.code === grpc.status.FAILED_PRECONDITION, m + ' code ' + e.code + ' ' + e.details);
      assert(e.details.includes('atoll-proxy'), m + ' details: ' + e.details);
    }
  }

  // Server streaming: Watch delivers the current status, then we cancel.
  await new Promise((resolve, reject) => {
    const stream = health.Watch({ service: '' });
    stream.on('data', (m) => {
      assert(m.status === 'SERVING', 'Watch status ' + m.status);
      stream.cancel();
    });
    stream.on('error', (e) => (e.code === grpc.status.CANCELLED ? resolve() : reject(e)));
    stream.on('end', resolve);
  });
  console.log('grpc-js: ok');
  process.exit(0);
})().catch((e) => {
  console.error('FAIL: ' + e.message);
  process.exit(1);
});

// The seed's quick start from Node with its built-in fetch only: a key,
// encrypt, submit, decrypt through atoll-proxy. Prints the decrypted
// text. ATOLL_PROXY is the proxy's URL, PROMPT the input.
const proxy = process.env.ATOLL_PROXY;
const headers = { authorization: `Bearer ${process.env.ATOLL_API_KEY ?? 'ak_demo'}` };

async function call(method, path, body) {
  const r = await fetch(proxy + path, {
    method, headers, body: body === undefined ? undefined : JSON.stringify(body),
  });
  const text = await r.text();
  if (!r.ok) throw new Error(`${method} ${path}: ${r.status} ${text}`);
  return JSON.parse(text);
}

const key = await call('POST', '/api/v1/confidential/keys');
const enc = await call('POST', '/api/v1/confidential/encrypt',
  { input: { prompt: process.env.PROMPT ?? 'Hello' }, key_id: key.key_id });
let job = await call('POST', '/api/v1/jobs', {
  workload_id: 42, confidential: true, encryption_key_id: key.key_id,
  input: { encrypted: true, key_id: key.key_id, ciphertext: enc.ciphertext },
});
for (let i = 0; i < 200; i++) {
  job = await call('GET', `/api/v1/jobs/${job.id}`);
  if (['JOB_STATE_COMPLETED', 'JOB_STATE_FAILED', 'JOB_STATE_CANCELLED'].includes(job.state)) break;
  await new Promise((r) => setTimeout(r, 100));
}
if (job.state !== 'JOB_STATE_COMPLETED') throw new Error(`job did not complete: ${JSON.stringify(job)}`);
const out = await call('POST', '/api/v1/confidential/decrypt', { output: job.output, key_id: key.key_id });
console.log(out.text);

// One 64-dimensional encrypted dot product, three ways, in one run:
//   atoll           lib/he Paillier (atoll-he-bench dot FILE, a child process)
//   paillier-bigint Paillier in JavaScript BigInt
//   node-seal       Microsoft SEAL's CKKS compiled to WebAssembly
// Each encrypts the same 64 features, computes sum x_i * w_i against
// plaintext weights, and decrypts the result. Figures are wall-clock
// milliseconds on this machine: medians of REPS runs, key generation once.
//
// usage: node compare.mjs [path/to/atoll-he-bench]   (after npm install)
import { execFileSync } from 'node:child_process'
import { existsSync, mkdtempSync, readdirSync, rmSync, writeFileSync } from 'node:fs'
import { tmpdir } from 'node:os'
import { dirname, join } from 'node:path'
import { fileURLToPath } from 'node:url'
import { performance } from 'node:perf_hooks'
import * as paillier from 'paillier-bigint'
import SEAL from 'node-seal'

const REPS = 3
const DIM = 64
const SCALE_BITS = 40 // features
const WEIGHT_BITS = 32 // weights

// Deterministic inputs: pixel-like features 0..16, weights in [-2, 2).
let seed = 12345
const rnd = () => ((seed = (seed * 1103515245 + 12345) % 2147483648) / 2147483648)
const x = Array.from({ length: DIM }, () => Math.floor(rnd() * 17))
const w = Array.from({ length: DIM }, () => Math.round((rnd() * 4 - 2) * 1e6) / 1e6)
const plain = x.reduce((s, xi, i) => s + xi * w[i], 0)

const median = (v) => [...v].sort((a, b) => a - b)[Math.floor(v.length / 2)]
const time = (f) => {
  const t0 = performance.now()
  const r = f()
  return [performance.now() - t0, r]
}
const timeAsync = async (f) => {
  const t0 = performance.now()
  const r = await f()
  return [performance.now() - t0, r]
}

function findBench () {
  if (process.argv[2]) return process.argv[2]
  if (process.env.ATOLL_HE_BENCH) return process.env.ATOLL_HE_BENCH
  const root = join(dirname(fileURLToPath(import.meta.url)), '..', '..')
  for (const d of readdirSync(root)) {
    const p = join(root, d, 'bench', 'he', 'atoll-he-bench')
    if (d.startsWith('build') && existsSync(p)) return p
  }
  throw new Error('atoll-he-bench not found: pass its path')
}

function runAtoll (bits) {
  const dir = mkdtempSync(join(tmpdir(), 'atoll-he-cmp-'))
  const file = join(dir, 'dot.json')
  writeFileSync(file, JSON.stringify({ x, w, scale_bits: SCALE_BITS, weight_bits: WEIGHT_BITS }))
  const runs = []
  for (let i = 0; i < REPS; i++) {
    runs.push(JSON.parse(execFileSync(findBench(), ['dot', file, '--bits', String(bits)]).toString()))
  }
  rmSync(dir, { recursive: true })
  return {
    impl: 'atoll (lib/he, C/OpenSSL)',
    params: `Paillier n=${bits}`,
    keygen: runs[0].keygen_ms + runs[0].setup_ms,
    encrypt: median(runs.map((r) => r.encrypt_ms)),
    dot: median(runs.map((r) => r.dot_ms)),
    decrypt: median(runs.map((r) => r.decrypt_ms)),
    result: runs[0].result,
    bytes: runs[0].ciphertext_bytes * DIM
  }
}

const toFixed = (v, bits) => BigInt(Math.round(v * 2 ** bits))

async function runPaillierBigint (bits) {
  const [keygen, keys] = await timeAsync(() => paillier.generateRandomKeys(bits, true))
  const { publicKey: pk, privateKey: sk } = keys
  const W = w.map((v) => toFixed(v, WEIGHT_BITS))
  const enc = []; const dot = []; const dec = []
  let result
  for (let rep = 0; rep < REPS; rep++) {
    const [te, cs] = time(() => x.map((v) => pk.encrypt(toFixed(v, SCALE_BITS))))
    // Same work as the island: the products, their sum, a fresh
    // encryption of zero to re-randomize.
    const [td, c] = time(() => pk.addition(...cs.map((ci, i) => pk.multiply(ci, W[i])), pk.encrypt(0n)))
    const [tc, m] = time(() => sk.decrypt(c))
    const signed = m > pk.n / 2n ? m - pk.n : m
    result = Number(signed) / 2 ** (SCALE_BITS + WEIGHT_BITS)
    enc.push(te); dot.push(td); dec.push(tc)
  }
  return {
    impl: 'paillier-bigint 3.4.3 (JS BigInt)',
    params: `Paillier n=${bits}, g=n+1`,
    keygen,
    encrypt: median(enc),
    dot: median(dot),
    decrypt: median(dec),
    result,
    bytes: Math.ceil((2 * bits) / 8) * DIM
  }
}

async function runSeal () {
  const seal = await SEAL()
  const degree = 8192
  const scale = 2 ** 40
  const [keygen, ctx] = time(() => {
    const parms = seal.EncryptionParameters(seal.SchemeType.ckks)
    parms.setPolyModulusDegree(degree)
    parms.setCoeffModulus(seal.CoeffModulus.Create(degree, Int32Array.from([60, 40, 40, 60])))
    const context = seal.Context(parms, true, seal.SecurityLevel.tc128)
    const kg = seal.KeyGenerator(context)
    return {
      context,
      publicKey: kg.createPublicKey(),
      secretKey: kg.secretKey(),
      // Rotations by 32, 16, ..., 1 fold the 64 products into slot 0.
      galois: kg.createGaloisKeys(Int32Array.from([1, 2, 4, 8, 16, 32]))
    }
  })
  const encoder = seal.CKKSEncoder(ctx.context)
  const encryptor = seal.Encryptor(ctx.context, ctx.publicKey)
  const decryptor = seal.Decryptor(ctx.context, ctx.secretKey)
  const evaluator = seal.Evaluator(ctx.context)
  const enc = []; const dot = []; const dec = []
  let result; let bytes
  for (let rep = 0; rep < REPS; rep++) {
    const [te, cx] = time(() => encryptor.encrypt(encoder.encode(Float64Array.from(x), scale)))
    bytes = cx.saveArray(seal.ComprModeType.none).length
    const [td, acc] = time(() => {
      const pw = encoder.encode(Float64Array.from(w), scale)
      const prod = evaluator.multiplyPlain(cx, pw)
      evaluator.rescaleToNext(prod, prod)
      for (const step of [32, 16, 8, 4, 2, 1]) {
        const rot = evaluator.rotateVector(prod, step, ctx.galois)
        evaluator.add(prod, rot, prod)
        rot.delete()
      }
      pw.delete()
      return prod
    })
    const [tc, v] = time(() => encoder.decode(decryptor.decrypt(acc)))
    result = v[0]
    enc.push(te); dot.push(td); dec.push(tc)
    cx.delete(); acc.delete()
  }
  return {
    impl: 'node-seal 6.0.3 (SEAL CKKS, wasm)',
    params: `CKKS N=${degree}, q=60+40+40+60`,
    keygen,
    encrypt: median(enc),
    dot: median(dot),
    decrypt: median(dec),
    result,
    bytes
  }
}

const rows = []
for (const bits of [2048, 3072]) {
  rows.push(runAtoll(bits))
  rows.push(await runPaillierBigint(bits))
}
rows.push(await runSeal())

const pad = (s, n) => String(s).padEnd(n)
const num = (v) => v.toFixed(2).padStart(10)
console.log(`64-dimensional dot product, plain result ${plain}`)
console.log(`features at 2^${SCALE_BITS}, weights at 2^${WEIGHT_BITS} (Paillier); CKKS scale 2^40; medians of ${REPS}`)
console.log(pad('implementation', 36) + pad('parameters', 30) +
  'keygen ms'.padStart(10) + 'enc64 ms'.padStart(10) + 'dot ms'.padStart(10) +
  'dec ms'.padStart(10) + '   |error|   input bytes')
for (const r of rows) {
  console.log(pad(r.impl, 36) + pad(r.params, 30) + num(r.keygen) + num(r.encrypt) +
    num(r.dot) + num(r.decrypt) + '   ' + Math.abs(r.result - plain).toExponential(1).padEnd(10) +
    String(r.bytes).padStart(10))
}

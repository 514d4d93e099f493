/**
 * The compression cases: Autobahn testsuite sections 12 and 13 (permessage-deflate, RFC 7692),
 * re-written from crossbario/autobahn-testsuite's `case12*`/`case13*` definitions, and a section
 * 14 of our own for broken compressed input, which Autobahn does not have. Each case negotiates
 * permessage-deflate (`deflate`: what the fuzzing client offers, what the fuzzing server accepts
 * with) and fails at once when the peer did not agree it.
 *
 * - **12.1–12.5** (default offer): messages of a corpus each, 16 B to 128 KiB (Autobahn's
 *   12.x.1–12.x.18, the last eight sent in fragments of the compressed payload) plus 12.x.19 of
 *   256 KiB (ours); every message is compressed, sent, and its echo must come back byte for
 *   byte before the next goes. Autobahn's corpora are files (a JSON document, a bitmap, Goethe's
 *   Faust, an HTML page, a PDF); ours are generated in their likeness — JSON, a run-length
 *   bitmap, German prose (UTF-8), HTML, random bytes — and sliced at pseudo-random offsets.
 * - **13.1–13.7**: the 12.1 corpus under each negotiation: the tested side's
 *   `no_context_takeover` and `max_window_bits` as Autobahn's 13.1–13.6 set them (window 9
 *   where Autobahn says 8, which zlib's raw deflate cannot honour — see
 *   `src/Codec/PerMessageDeflate.ts`), and 13.7 with every parameter on both sides (the fuzzing
 *   client makes three offers in one header, the first of them with all four parameters).
 * - **14** (ours): bad deflate data and deflated text that is not UTF-8 (1007), RSV1 on a
 *   control frame and on a continuation frame (1002), RSV1 on a connection that agreed no
 *   compression (1002), and a bomb — 80 MiB of zeros in 80 KiB on the wire — that must be
 *   refused at the peer's message limit (1009; the conformance programs allow 64 MiB).
 *
 * Scaled like section 9: Autobahn sends 1000 messages per case, we send up to 20 (fewer as they
 * grow: about 64 KiB per case, at least 2 messages). The fuzzer inflates what the peer sends with
 * the peer's agreed window and context, so a peer that keeps its context after agreeing
 * `no_context_takeover` sends a back reference the fuzzer cannot follow — a violation.
 *
 * @since 0.1.0
 */
import { Buffer } from "node:buffer"
import * as zlib from "node:zlib"
import type * as PerMessageDeflate from "../../src/Codec/PerMessageDeflate.ts"
import { cleanClose, expect, peerFails } from "./Cases.ts"
import type { CaseDef, DeflateCase, Fuzz } from "./Fuzzer.ts"

const NORMAL = 1000
const PROTOCOL_ERROR = 1002
const INVALID_PAYLOAD = 1007
const MESSAGE_TOO_BIG = 1009
const KiB = 1024

const cases: Array<CaseDef> = []
const add = (def: CaseDef) => cases.push(def)

// ---------------------------------------------------------------------------------------------
// Corpora
// ---------------------------------------------------------------------------------------------

/** A deterministic xorshift32 stream: `next()` returns 0 ≤ n < 2^32. */
const xorshift = (seed: number) => {
  let x = seed | 1
  return () => {
    x ^= x << 13
    x ^= x >>> 17
    x ^= x << 5
    return x >>> 0
  }
}

const CORPUS_SIZE = 512 * KiB

/** Fills a corpus by appending `chunk(i)` until it holds `CORPUS_SIZE` bytes. */
const grow = (chunk: (i: number) => string): Buffer => {
  const parts: Array<string> = []
  let length = 0
  for (let i = 0; length < CORPUS_SIZE; i++) {
    const c = chunk(i)
    parts.push(c)
    length += Buffer.byteLength(c)
  }
  return Buffer.from(parts.join(""))
}

const FAUST = ("Habe nun, ach! Philosophie, Juristerei und Medizin, und leider auch Theologie durchaus " +
  "studiert, mit heißem Bemühn. Da steh ich nun, ich armer Tor! Und bin so klug als wie zuvor; heiße " +
  "Magister, heiße Doktor gar und ziehe schon an die zehen Jahr herauf, herab und quer und krumm meine " +
  "Schüler an der Nase herum — und sehe, daß wir nichts wissen können!").split(" ")

interface Corpus {
  readonly name: string
  readonly binary: boolean
  readonly bytes: Buffer
}

/** Autobahn 12.1–12.5's corpora, generated in their likeness (see the module doc). */
const corpora = (): ReadonlyArray<Corpus> => {
  const json = (() => {
    const r = xorshift(12_1)
    return grow((i) => `{"id":${i},"symbol":"BTCUSDT","px":"${(64000 + (r() % 2000) / 10).toFixed(1)}","qty":${r() % 97},"side":"${r() % 2 ? "buy" : "sell"}"},\n`)
  })()
  const bitmap = (() => {
    // a black-and-white scan: long runs of 0x00 and 0xff with some grey edges
    const r = xorshift(12_2)
    const out = Buffer.allocUnsafe(CORPUS_SIZE)
    for (let i = 0; i < out.length;) {
      const run = 1 + (r() % 200)
      const value = r() % 8 === 0 ? r() & 0xff : (r() & 1 ? 0xff : 0x00)
      out.fill(value, i, Math.min(out.length, i + run))
      i += run
    }
    return out
  })()
  const prose = (() => {
    const r = xorshift(12_3)
    return grow((i) => (i % 12 === 11 ? "\n" : "") + FAUST[r() % FAUST.length]! + " ")
  })()
  const html = (() => {
    const r = xorshift(12_4)
    return grow((i) => `<tr class="row${i % 2}"><td><a href="/item/${r() % 10000}">Item ${i}</a></td><td>${r() % 1000}.${r() % 100}</td></tr>\n`)
  })()
  const random = (() => {
    const r = xorshift(12_5)
    const out = Buffer.allocUnsafe(CORPUS_SIZE)
    for (let i = 0; i < out.length; i += 4) out.writeUInt32LE(r(), i)
    return out
  })()
  return [
    { name: "JSON data (text)", binary: false, bytes: json },
    { name: "a black-and-white bitmap (binary)", binary: true, bytes: bitmap },
    { name: "German prose, UTF-8 (text)", binary: false, bytes: prose },
    { name: "HTML (text)", binary: false, bytes: html },
    { name: "random bytes, like a PDF's compressed streams (binary)", binary: true, bytes: random }
  ]
}

/** `size` bytes of `corpus` from a pseudo-random offset; a text slice cut inside a character is padded with spaces. */
const slice = (corpus: Corpus, size: number, n: number): Buffer => {
  const at = (n * 2654435761 + size * 40503) % (corpus.bytes.length - size)
  const out = Buffer.from(corpus.bytes.subarray(at, at + size))
  if (corpus.binary) return out
  // UTF-8 continuation bytes (10xxxxxx) at the start, an unfinished character at the end
  for (let i = 0; i < out.length && (out[i]! & 0xc0) === 0x80; i++) out[i] = 0x20
  let lead = out.length - 1
  while (lead >= 0 && (out[lead]! & 0xc0) === 0x80) lead--
  if (lead >= 0 && out[lead]! >= 0xc0) {
    const need = out[lead]! >= 0xf0 ? 4 : out[lead]! >= 0xe0 ? 3 : 2
    if (out.length - lead < need) out.fill(0x20, lead)
  }
  return out
}

// ---------------------------------------------------------------------------------------------
// 12 / 13: echoes of compressed messages
// ---------------------------------------------------------------------------------------------

/** Autobahn's 12.x.1–12.x.18 (size, compressed bytes per frame; 0 = one frame), then our 256 KiB. */
const SIZES: ReadonlyArray<readonly [size: number, fragment: number]> = [
  [16, 0], [64, 0], [256, 0], [1024, 0], [4096, 0], [8192, 0], [16384, 0], [32768, 0], [65536, 0], [131072, 0],
  [256, 256], [1024, 256], [4096, 256], [8192, 256], [16384, 1024], [32768, 1024], [65536, 4096], [131072, 4096],
  [262144, 0]
]

/** Messages per case: about 64 KiB of payload, 2 to 20 messages (Autobahn: 1000). */
const countFor = (size: number) => Math.min(20, Math.max(2, Math.ceil(64 * KiB / size)))

const DEFAULT: DeflateCase = { offers: [{}], accept: {} }

/** One echo case: `count` compressed messages out, one at a time, each echo compared. */
const echoCase = (id: string, corpus: Corpus, size: number, fragment: number, deflate: DeflateCase, how: string) => {
  const count = countFor(size)
  const frags = fragment === 0 ? "" : `, auto-fragment to ${fragment} octets`
  add({
    id,
    description: `Send ${count} compressed messages (Autobahn: 1000) each of payload size ${size}${frags}: ${corpus.name}. ${how}`,
    expectation: "Receive echo'ed messages (with payload as sent). Timeout case after 60 secs.",
    deflate,
    onOpen: (f) => {
      f.behavior = "FAILED"
      f.result = "Case did not finish within 60 seconds."
      cleanClose(f)
      f.closeAfter(60)
      sendNext(f, corpus, size, fragment)
    },
    onMessage: (f, binary, got) => {
      const n = f.scratch["sent"]! - 1
      const want = slice(corpus, size, n)
      if (binary !== corpus.binary || !got.equals(want)) {
        f.behavior = "FAILED"
        f.result = `Echo of message ${n + 1} differs from what was sent (binary = ${binary}, length = ${got.length} of ${want.length}).`
        return f.sendClose(closeNormal)
      }
      if (n + 1 < count) return sendNext(f, corpus, size, fragment)
      f.behavior = "OK"
      f.result = `Ok, received all ${count} echo'ed messages.`
      f.sendClose(closeNormal)
    }
  })
}

const closeNormal = Buffer.from([NORMAL >> 8, NORMAL & 0xff])

const sendNext = (f: Fuzz, corpus: Corpus, size: number, fragment: number) => {
  const n = f.scratch["sent"] ?? 0
  f.scratch["sent"] = n + 1
  f.sendCompressed(slice(corpus, size, n), corpus.binary, fragment === 0 ? undefined : fragment)
}

const all5 = corpora()
all5.forEach((corpus, c) => {
  SIZES.forEach(([size, fragment], i) => echoCase(`12.${c + 1}.${i + 1}`, corpus, size, fragment, DEFAULT, "Default offer and answer."))
})

/**
 * Autobahn 13.x: the tested side's compressor limited as `[no_context_takeover, max_window_bits]`
 * says (window 0: not limited). As a fuzzing client we request it of the server
 * (`server_*` in the offer); as a fuzzing server we impose it on the client (`client_*` in the answer).
 */
const testee = (noContextTakeover: boolean, windowBits: number): DeflateCase => {
  const bits = windowBits === 0 ? undefined : windowBits
  return {
    offers: [{ serverNoContextTakeover: noContextTakeover, serverMaxWindowBits: bits }],
    accept: { clientNoContextTakeover: noContextTakeover, clientMaxWindowBits: bits }
  }
}

const ALL_FOUR: PerMessageDeflate.Config = {
  serverNoContextTakeover: true,
  serverMaxWindowBits: 9,
  clientNoContextTakeover: true,
  clientMaxWindowBits: 9
}

const VARIANTS: ReadonlyArray<readonly [deflate: DeflateCase, how: string]> = [
  [testee(false, 0), "Offer and accept permessage-deflate with defaults: [(False, 0)]."],
  [testee(true, 0), "The tested side resets its context after every message: [(True, 0)]."],
  [testee(false, 9), "The tested side's window limited to 9 bits: [(False, 9)] (Autobahn: 8)."],
  [testee(false, 15), "The tested side's window limited to 15 bits: [(False, 15)]."],
  [testee(true, 9), "No context takeover and a 9-bit window for the tested side: [(True, 9)] (Autobahn: 8)."],
  [testee(true, 15), "No context takeover and a 15-bit window for the tested side: [(True, 15)]."],
  [
    { offers: [ALL_FOUR, { serverNoContextTakeover: true }, {}], accept: ALL_FOUR },
    "Every parameter on both sides (no context takeover, 9-bit windows); as a client the fuzzer makes three offers in one header, the first of them that one."
  ]
]

VARIANTS.forEach(([deflate, how], v) => {
  SIZES.forEach(([size, fragment], i) => echoCase(`13.${v + 1}.${i + 1}`, all5[0]!, size, fragment, deflate, how))
})

// ---------------------------------------------------------------------------------------------
// 14 (ours): broken compressed input
// ---------------------------------------------------------------------------------------------

const deflated = (text: string | Buffer): Buffer => {
  const out = zlib.deflateRawSync(typeof text === "string" ? Buffer.from(text) : text, { finishFlush: zlib.constants.Z_SYNC_FLUSH })
  return out.subarray(0, out.length - 4)
}

/** 80 MiB of zeros, deflated once (about 80 KiB) and only when a bomb case runs. */
let bomb: Buffer | undefined
const BOMB_SIZE = 80 * 1024 * KiB

const broken = (id: string, description: string, code: number, deflate: DeflateCase | undefined, send: (f: Fuzz) => void) =>
  add({
    id,
    description,
    expectation: `The connection is failed immediately (${code}).`,
    deflate,
    onOpen: (f) => {
      expect(f, [])
      peerFails(f, code)
      send(f)
      f.killAfter(2)
    }
  })

broken("14.1", "Send a compressed text message whose payload is not deflate data (a block of the reserved type 3).", INVALID_PAYLOAD, DEFAULT, (f) => f.sendFrame({ opcode: 1, rsv: 4, payload: Buffer.from([0xff, 0xff, 0xff, 0xff]) }))
broken("14.2", "Send a compressed text message that inflates to invalid UTF-8.", INVALID_PAYLOAD, DEFAULT, (f) =>
  f.sendFrame({ opcode: 1, rsv: 4, payload: deflated(Buffer.from("cebae1bdb9cf83cebcceb5eda080656469746564", "hex")) }))
broken("14.3", "Send a ping with RSV1 set on a connection that agreed permessage-deflate.", PROTOCOL_ERROR, DEFAULT, (f) => f.sendFrame({ opcode: 9, rsv: 4, payload: "Hello, world!" }))
broken("14.4", "Send a compressed text message in two frames, RSV1 set on both (only the first may carry it).", PROTOCOL_ERROR, DEFAULT, (f) => {
  const payload = deflated("Hello, world! Hello, world!")
  f.sendFrame({ opcode: 1, rsv: 4, fin: false, payload: payload.subarray(0, 4) })
  f.sendFrame({ opcode: 0, rsv: 4, payload: payload.subarray(4) })
})
broken("14.5", "Send a compressed text message (RSV1) on a connection that agreed no extension, although the tested side has compression configured.", PROTOCOL_ERROR, undefined, (f) => f.sendFrame({ opcode: 1, rsv: 4, payload: deflated("Hello, world!") }))
broken("14.6", `Send a compressed binary message that inflates to ${BOMB_SIZE / 1024 / KiB} MiB of zeros (a deflate bomb, about ${BOMB_SIZE / 1024 / KiB} KiB on the wire).`, MESSAGE_TOO_BIG, DEFAULT, (f) =>
  f.sendFrame({ opcode: 2, rsv: 4, payload: bomb ??= deflated(Buffer.alloc(BOMB_SIZE)) }))

/** Every compression case in order; a fuzzing server given these runs `/runCase?case=N` as `all[N - 1]`. */
export const all: ReadonlyArray<CaseDef> = cases

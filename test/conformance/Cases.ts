/**
 * The case list: Autobahn testsuite sections 1–7, 9 and 10 (compression, 12/13: `DeflateCases.ts`),
 * re-written from the public case descriptions of crossbario/autobahn-testsuite
 * (`autobahntestsuite/case/case*.py`) and RFC 6455. Ids, payloads, order and expectations
 * follow Autobahn; section 9 is scaled down (see {@link LIMITS_SCALE}).
 *
 * @since 0.1.0
 */
import { Buffer } from "node:buffer"
import { type CaseDef, type Event, type Fuzz, message, pong, timeout } from "./Fuzzer.ts"
import * as Wire from "./Wire.ts"

/**
 * Section 9's sizes and message counts are Autobahn's divided by 4 (64 KiB..16 MiB messages
 * become 16 KiB..4 MiB; 1000 round trips become 250), so the whole suite stays a few seconds.
 */
export const LIMITS_SCALE = 1 / 4

const hex = (s: string): Buffer => Buffer.from(s.replace(/\s+/g, ""), "hex")
const repeat = (payload: string | Buffer, len: number): Buffer => Wire.payloadOf({ payload, payloadLen: len })
const NORMAL = 1000
const PROTOCOL_ERROR = 1002
const INVALID_PAYLOAD = 1007

/** The peer must fail the connection with `code` (closing frame from the peer, may be unclean). */
export const peerFails = (f: Fuzz, code = PROTOCOL_ERROR) => {
  f.expectedClose = { closedByMe: false, closeCode: [code], requireClean: false }
}
/** The fuzzer closes (1000) once the events match; the close must be clean. */
export const cleanClose = (f: Fuzz) => {
  f.expectedClose = { closedByMe: true, closeCode: [NORMAL], requireClean: true }
}
/** Sets the event lists that grade OK and (optionally) NON-STRICT. */
export const expect = (f: Fuzz, ok: ReadonlyArray<Event>, nonStrict?: ReadonlyArray<Event>) => {
  f.expected.OK = ok
  if (nonStrict !== undefined) f.expected["NON-STRICT"] = nonStrict
}

const cases: Array<CaseDef> = []
const add = (id: string, description: string, expectation: string, onOpen: (f: Fuzz) => void, extra: Partial<CaseDef> = {}) =>
  cases.push({ id, description, expectation, onOpen, ...extra })

// ---------------------------------------------------------------------------------------------
// 1 Framing
// ---------------------------------------------------------------------------------------------

const framingSizes = [0, 125, 126, 127, 128, 65535, 65536]
for (const [sub, binary] of [[1, false], [2, true]] as const) {
  const kind = binary ? "binary" : "text"
  const unit = binary ? Buffer.from([0xfe]) : "*"
  const sizes: Array<[number, number | undefined]> = [...framingSizes.map((n) => [n, undefined] as [number, undefined]), [65536, 997]]
  sizes.forEach(([len, chop], i) => {
    add(
      `1.${sub}.${i + 1}`,
      `Send ${kind} message with payload of length ${len}${chop ? `. Sent out data in chops of ${chop} octets` : ""}.`,
      `Receive echo'ed ${kind} message (with payload as sent). Clean close with normal code.`,
      (f) => {
        const payload = repeat(unit, len)
        expect(f, [message(payload, binary)])
        cleanClose(f)
        f.sendFrame({ opcode: binary ? 2 : 1, payload, chopsize: chop })
        f.killAfter(len > 128 ? 10 : 1)
      }
    )
  })
}

// ---------------------------------------------------------------------------------------------
// 2 Pings/Pongs
// ---------------------------------------------------------------------------------------------

const pingEcho = (id: string, description: string, payload: Buffer | string, chopsize?: number) =>
  add(id, description, "Pong (with payload as sent) is received. Clean close with normal code.", (f) => {
    expect(f, [pong(payload)])
    cleanClose(f)
    f.sendFrame({ opcode: 9, payload, chopsize })
    f.killAfter(1)
  })
pingEcho("2.1", "Send ping without payload.", "")
pingEcho("2.2", "Send ping with small text payload.", "Hello, world!")
pingEcho("2.3", "Send ping with small binary (non UTF-8) payload.", hex("00ff fefd fcfb 00ff"))
pingEcho("2.4", "Send ping with binary payload of 125 octets.", repeat(Buffer.from([0xfe]), 125))
add("2.5", "Send ping with binary payload of 126 octets.", "Connection is failed immediately (1002/Protocol Error), since control frames are only allowed to have payload up to and including 125 octets.", (f) => {
  expect(f, [])
  peerFails(f)
  f.sendFrame({ opcode: 9, payload: repeat(Buffer.from([0xfe]), 126) })
  f.killAfter(1)
})
pingEcho("2.6", "Send ping with binary payload of 125 octets, send in octet-wise chops.", repeat(Buffer.from([0xfe]), 125), 1)
const unsolicited = (id: string, description: string, payload: string) =>
  add(id, description, "Nothing. Clean close with normal code.", (f) => {
    expect(f, [])
    cleanClose(f)
    f.sendFrame({ opcode: 10, payload })
    f.closeAfter(1)
  })
unsolicited("2.7", "Send unsolicited pong without payload. Verify nothing is received. Clean close with normal code.", "")
unsolicited("2.8", "Send unsolicited pong with payload. Verify nothing is received. Clean close with normal code.", "unsolicited pong payload")
add("2.9", "Send unsolicited pong with payload. Send ping with payload. Verify pong for ping is received.", "Nothing in reply to own Pong, but Pong with payload echo'ed in reply to Ping. Clean close with normal code.", (f) => {
  expect(f, [pong("ping payload")])
  cleanClose(f)
  f.sendFrame({ opcode: 10, payload: "unsolicited pong payload" })
  f.sendFrame({ opcode: 9, payload: "ping payload" })
  f.killAfter(1)
})
for (const [id, chop] of [["2.10", undefined], ["2.11", 1]] as const) {
  add(id, `Send 10 Pings with payload${chop ? ". Send out octets in octet-wise chops" : ""}.`, "Pongs for our Pings with all the payloads. Note: This is not required by the Spec .. but we check for this behaviour anyway. Clean close with normal code.", (f) => {
    const pongs = Array.from({ length: 10 }, (_, i) => pong(`payload-${i}`))
    expect(f, pongs)
    cleanClose(f)
    for (let i = 0; i < 10; i++) f.sendFrame({ opcode: 9, payload: `payload-${i}`, chopsize: chop })
    f.closeAfter(3)
  })
}

// ---------------------------------------------------------------------------------------------
// 3 Reserved bits
// ---------------------------------------------------------------------------------------------

const HELLO = "Hello, world!"
add("3.1", "Send small text message with RSV = 1.", "The connection is failed immediately (1002/protocol error), since RSV must be 0, when no extension defining RSV meaning has been negotiated.", (f) => {
  expect(f, [])
  peerFails(f)
  f.sendFrame({ opcode: 1, payload: HELLO, rsv: 1 })
  f.killAfter(1)
})
for (const [id, rsv, chop, how] of [["3.2", 2, undefined, ""], ["3.3", 3, undefined, " Octets are sent in frame-wise chops."], ["3.4", 4, 1, " Octets are sent in octet-wise chops."]] as const) {
  add(id, `Send small text message, then send again with RSV = ${rsv}, then send Ping.${how}`, "Echo for first message is received, but then connection is failed immediately, since RSV must be 0, when no extension defining RSV meaning has been negotiated. The Pong is not received.", (f) => {
    expect(f, [message(HELLO)], [])
    peerFails(f)
    f.sendFrame({ opcode: 1, payload: HELLO, chopsize: chop })
    f.sendFrame({ opcode: 1, payload: HELLO, rsv, chopsize: chop })
    f.sendFrame({ opcode: 9, chopsize: chop })
    f.killAfter(1)
  })
}
// Autobahn's case3_6.py sends opcode 2 although its description says Ping; we send the Ping the
// description names (a peer must fail either)
for (const [id, what, opcode, payload] of [["3.5", "binary message", 2, hex("00ff fefd fcfb 00ff")], ["3.6", "Ping", 9, "Hello, world!"], ["3.7", "Close", 8, ""]] as const) {
  const rsv = Number(id.slice(2))
  add(id, `Send small ${what} with RSV = ${rsv}.`, "The connection is failed immediately, since RSV must be 0.", (f) => {
    expect(f, [])
    peerFails(f)
    f.sendFrame({ opcode, payload, rsv })
    f.killAfter(1)
  })
}

// ---------------------------------------------------------------------------------------------
// 4 Opcodes
// ---------------------------------------------------------------------------------------------

for (const [sub, base] of [[1, 3], [2, 11]] as const) {
  const kind = sub === 1 ? "non-control" : "control"
  for (let i = 0; i < 5; i++) {
    const opcode = base + i
    const withPayload = i === 1 || i >= 3
    const pre = i >= 2
    add(
      `4.${sub}.${i + 1}`,
      `${pre ? "Send small text message, then send frame" : "Send frame"} with reserved ${kind} Opcode = ${opcode}${withPayload ? " and non-empty payload" : ""}${pre ? ", then send Ping" : ""}.`,
      `${pre ? "Echo for first message is received, but then connection" : "The connection"} is failed immediately, since reserved opcode frame is used.${pre ? " A Pong is not received." : ""}`,
      (f) => {
        if (pre) expect(f, [message(HELLO)], [])
        else expect(f, [])
        peerFails(f)
        if (pre) f.sendFrame({ opcode: 1, payload: HELLO })
        f.sendFrame({ opcode, payload: withPayload ? "reserved opcode payload" : "" })
        if (pre) f.sendFrame({ opcode: 9 })
        f.killAfter(1)
      }
    )
  }
}

// ---------------------------------------------------------------------------------------------
// 5 Fragmentation
// ---------------------------------------------------------------------------------------------

for (const [id, opcode, name] of [["5.1", 9, "Ping"], ["5.2", 10, "Pong"]] as const) {
  add(id, `Send ${name} fragmented into 2 fragments.`, "Connection is failed immediately, since control message MUST NOT be fragmented.", (f) => {
    expect(f, [])
    peerFails(f)
    f.sendFrame({ opcode, fin: false, payload: "fragment1" })
    f.sendFrame({ opcode: 0, fin: true, payload: "fragment2" })
    f.killAfter(1)
  })
}
const chopModes = [[undefined, ", sent in one chop"], [undefined, ", octets are sent in frame-wise chops"], [1, ", octets are sent in octet-wise chops"]] as const
chopModes.forEach(([chop, how], k) => {
  add(`5.${3 + k}`, `Send text Message fragmented into 2 fragments${how}.`, "Message is processed and echo'ed back to us.", (f) => {
    expect(f, [message("fragment1fragment2")])
    cleanClose(f)
    f.sendFrame({ opcode: 1, fin: false, payload: "fragment1", chopsize: chop })
    f.sendFrame({ opcode: 0, fin: true, payload: "fragment2", chopsize: chop })
    f.killAfter(1)
  })
})
chopModes.forEach(([chop, how], k) => {
  add(`5.${6 + k}`, `Send text Message fragmented into 2 fragments, one ping with payload in-between${how}.`, "A pong is received, then the message is echo'ed back to us.", (f) => {
    expect(f, [pong("ping payload"), message("fragment1fragment2")])
    cleanClose(f)
    f.sendFrame({ opcode: 1, fin: false, payload: "fragment1", chopsize: chop })
    f.sendFrame({ opcode: 9, payload: "ping payload", chopsize: chop })
    f.sendFrame({ opcode: 0, fin: true, payload: "fragment2", chopsize: chop })
    f.killAfter(1)
  })
})
for (const [start, fin] of [[9, true], [12, false]] as const) {
  chopModes.forEach(([chop, how], k) => {
    add(`5.${start + k}`, `Send unfragmented Text Message after Continuation Frame with FIN = ${fin}, where there is no Text Message to continue${how}.`, "The connection is failed immediately, since there is no message to continue.", (f) => {
      expect(f, [])
      peerFails(f)
      f.sendFrame({ opcode: 0, fin, payload: "non-continuation payload", chopsize: chop })
      f.sendFrame({ opcode: 1, payload: "Hello, world!", chopsize: chop })
      f.killAfter(1)
    })
  })
}
add("5.15", "Send text Message fragmented into 2 fragments, then Continuation Frame with FIN = false where there is nothing to continue, then unfragmented Text Message, all sent in one chop.", "The connection is failed immediately, since there is no message to continue.", (f) => {
  expect(f, [message("fragment1fragment2")], [])
  peerFails(f)
  f.sendBytes(Buffer.concat([
    f.encode({ opcode: 1, fin: false, payload: "fragment1" }),
    f.encode({ opcode: 0, fin: true, payload: "fragment2" }),
    f.encode({ opcode: 0, fin: false, payload: "fragment3" }),
    f.encode({ opcode: 1, fin: true, payload: "fragment4" })
  ]))
  f.killAfter(1)
})
for (const [id, fin] of [["5.16", false], ["5.17", true]] as const) {
  add(id, `Repeated 2x: Continuation Frame with FIN = ${fin} (where there is nothing to continue), then text Message fragmented into 2 fragments.`, "The connection is failed immediately, since there is no message to continue.", (f) => {
    expect(f, [])
    peerFails(f)
    for (let i = 0; i < 2; i++) {
      f.sendFrame({ opcode: 0, fin, payload: "fragment1" })
      f.sendFrame({ opcode: 1, fin: false, payload: "fragment2" })
      f.sendFrame({ opcode: 0, fin: true, payload: "fragment3" })
    }
    f.killAfter(1)
  })
}
add("5.18", "Send text Message fragmented into 2 fragments, with both frame opcodes set to text, sent in one chop.", "The connection is failed immediately, since all data frames after the initial data frame must have opcode 0.", (f) => {
  expect(f, [])
  peerFails(f)
  f.sendBytes(Buffer.concat([f.encode({ opcode: 1, fin: false, payload: "fragment1" }), f.encode({ opcode: 1, fin: true, payload: "fragment2" })]))
  f.killAfter(1)
})
for (const [id, sync] of [["5.19", false], ["5.20", true]] as const) {
  add(id, `A fragmented text message is sent in multiple frames. After sending the first 2 frames of the text message, a Ping is sent. Then we wait 1s, then we send 2 more text fragments, another Ping and then the final text fragment. Everything is legal.${sync ? " Every frame is sent in octet-wise chops." : ""}`, "The peer immediately answers the first Ping before it has received the last text message fragment. The peer pong's back the Ping's payload exactly, and echo's the payload of the fragmented message back to us.", (f) => {
    const chopsize = sync ? 1 : undefined
    const frags = ["fragment1", "fragment2", "fragment3", "fragment4", "fragment5"]
    expect(f, [pong("pongme 1!"), pong("pongme 2!"), message(frags.join(""))])
    cleanClose(f)
    f.sendFrame({ opcode: 1, fin: false, payload: frags[0], chopsize })
    f.sendFrame({ opcode: 0, fin: false, payload: frags[1], chopsize })
    f.sendFrame({ opcode: 9, payload: "pongme 1!", chopsize })
    f.continueLater(1, () => {
      f.sendFrame({ opcode: 0, fin: false, payload: frags[2], chopsize })
      f.sendFrame({ opcode: 0, fin: false, payload: frags[3], chopsize })
      f.sendFrame({ opcode: 9, payload: "pongme 2!", chopsize })
      f.sendFrame({ opcode: 0, fin: true, payload: frags[4], chopsize })
      f.closeAfter(1)
    })
  })
}

// ---------------------------------------------------------------------------------------------
// 6 UTF-8 handling
// ---------------------------------------------------------------------------------------------

/** Sends `payload` as one text message split into frames of `fragment` bytes (undefined: one frame). */
const sendText = (f: Fuzz, payload: Buffer, fragment?: number) => {
  if (fragment === undefined) f.sendFrame({ opcode: 1, payload })
  else f.sendMessage(payload, false, fragment)
}
const echoText = (id: string, description: string, payload: Buffer, send: (f: Fuzz) => void) =>
  add(id, description, "The message is echo'ed back to us.", (f) => {
    expect(f, [message(payload)])
    cleanClose(f)
    send(f)
    f.killAfter(1)
  })
echoText("6.1.1", "Send text message of length 0.", Buffer.alloc(0), (f) => f.sendFrame({ opcode: 1 }))
echoText("6.1.2", "Send fragmented text message, 3 fragments each of length 0.", Buffer.alloc(0), (f) => {
  f.sendFrame({ opcode: 1, fin: false })
  f.sendFrame({ opcode: 0, fin: false })
  f.sendFrame({ opcode: 0, fin: true })
})
echoText("6.1.3", "Send fragmented text message, 3 fragments, first and last of length 0, middle non-empty.", Buffer.from("middle frame payload"), (f) => {
  f.sendFrame({ opcode: 1, fin: false })
  f.sendFrame({ opcode: 0, fin: false, payload: "middle frame payload" })
  f.sendFrame({ opcode: 0, fin: true })
})
const HELLO_UTF8 = Buffer.from("Hello-µ@ßöäüàá-UTF-8!!", "utf8")
const KOSME = hex("cebae1bdb9cf83cebcceb5")
echoText("6.2.1", "Send a valid UTF-8 text message in one fragment.", HELLO_UTF8, (f) => sendText(f, HELLO_UTF8))
echoText("6.2.2", "Send a valid UTF-8 text message in two fragments, fragmented on UTF-8 code point boundary.", HELLO_UTF8, (f) => {
  const cut = Buffer.from("Hello-µ@ßöä", "utf8").length // Autobahn: "Hello-µ@ßöä" + "üàá-UTF-8!!"
  f.sendFrame({ opcode: 1, fin: false, payload: HELLO_UTF8.subarray(0, cut) })
  f.sendFrame({ opcode: 0, fin: true, payload: HELLO_UTF8.subarray(cut) })
})
echoText("6.2.3", "Send a valid UTF-8 text message in fragments of 1 octet, resulting in frames ending on positions which are not code point ends.", HELLO_UTF8, (f) => sendText(f, HELLO_UTF8, 1))
echoText("6.2.4", "Send a valid UTF-8 text message in fragments of 1 octet, resulting in frames ending on positions which are not code point ends.", KOSME, (f) => sendText(f, KOSME, 1))
const INVALID = hex("cebae1bdb9cf83cebcceb5 eda080 656469746564")
for (const [id, fragment, how] of [["6.3.1", undefined, "unfragmented"], ["6.3.2", 1, "in fragments of 1 octet, resulting in frames ending on positions which are not code point ends"]] as const) {
  add(id, `Send invalid UTF-8 text message ${how}.`, "The connection is failed immediately, since the payload is not valid UTF-8.", (f) => {
    expect(f, [])
    peerFails(f, INVALID_PAYLOAD)
    sendText(f, INVALID, fragment)
    f.killAfter(1)
  })
}
// 6.4: fail-fast. The peer should fail at the part that makes the text invalid; failing only
// after the whole message arrived is NON-STRICT.
const FF1 = hex("cebae1bdb9cf83cebcceb5")
const FF2 = hex("f4908080")
const FF3 = hex("656469746564")
const FF = Buffer.concat([FF1, FF2, FF3])
const failFast = (id: string, description: string, parts: [Buffer, Buffer, Buffer], asFrames: boolean) =>
  add(id, description, "The first part is accepted, we expect to timeout on the first wait. The 2nd part should be rejected immediately (fail fast on UTF-8). If we timeout, we expect the connection is failed at least then, since the complete message payload is not valid UTF-8.", (f) => {
    expect(f, [timeout("A")], [timeout("A"), timeout("B")])
    peerFails(f, INVALID_PAYLOAD)
    // one frame sent in three chops: header + part 1, part 2, part 3
    const whole = asFrames ? undefined : f.encode({ opcode: 1, payload: FF })
    const head = whole === undefined ? 0 : whole.length - FF.length
    const cut1 = head + parts[0].length
    const cut2 = cut1 + parts[1].length
    if (whole) f.sendBytes(whole.subarray(0, cut1))
    else f.sendFrame({ opcode: 1, fin: false, payload: parts[0] })
    f.continueLater(1, () => {
      f.record(timeout("A"))
      if (whole) f.sendBytes(whole.subarray(cut1, cut2))
      else f.sendFrame({ opcode: 0, fin: false, payload: parts[1] })
      f.continueLater(1, () => {
        f.record(timeout("B"))
        if (whole) f.sendBytes(whole.subarray(cut2))
        else f.sendFrame({ opcode: 0, fin: true, payload: parts[2] })
        f.killAfter(1)
      })
    })
  })
const byOctet: [Buffer, Buffer, Buffer] = [FF.subarray(0, 12), FF.subarray(12, 13), FF.subarray(13)]
failFast("6.4.1", "Send invalid UTF-8 text message in 3 fragments (frames). First frame payload is valid, then wait, then 2nd frame which contains the payload making the sequence invalid, then wait, then 3rd frame with rest. PART2 is 0x110000 in the UTF-8 integer encoding scheme, an invalid code point.", [FF1, FF2, FF3], true)
failFast("6.4.2", "Same as Case 6.4.1, but in 2nd frame, we send only up to and including the octet making the complete payload invalid.", byOctet, true)
failFast("6.4.3", "Same as Case 6.4.1, but we send message not in 3 frames, but in 3 chops of the same message frame.", [FF1, FF2, FF3], false)
failFast("6.4.4", "Same as Case 6.4.2, but we send message not in 3 frames, but in 3 chops of the same message frame.", byOctet, false)

/** Markus Kuhn's UTF-8 decoder test sequences as Autobahn groups them (6.5 .. 6.23): [valid, bytes]. */
const utf8Groups = (): Array<Array<[boolean, Buffer]>> => {
  const g: Array<Array<[boolean, Buffer]>> = []
  const ok = (s: string): [boolean, Buffer] => [true, hex(s)]
  const bad = (s: string): [boolean, Buffer] => [false, hex(s)]
  const ascii = (s: string) => Buffer.from(s, "latin1").toString("hex")
  g.push([ok(ascii("hello") + "24" + ascii("world")), ok(ascii("hello") + "c2a2" + ascii("world")), ok(ascii("hello") + "e282ac" + ascii("world")), ok(ascii("hello") + "f0a4ada2" + ascii("world")), [true, KOSME]])
  // every prefix of KOSME; valid exactly when it ends on a code point boundary
  g.push(Array.from({ length: KOSME.length }, (_, i) => [[2, 5, 7, 9, 11].includes(i + 1), KOSME.subarray(0, i + 1)] as [boolean, Buffer]))
  g.push([ok("00"), ok("c280"), ok("e0a080"), ok("f0908080")])
  g.push([bad("f888808080"), bad("fc8480808080")])
  g.push([ok("7f"), ok("dfbf"), ok("efbfbf"), ok("f48fbfbf")])
  g.push([bad("f7bfbfbf"), bad("fbbfbfbfbf"), bad("fdbfbfbfbfbf")])
  g.push([ok("ed9fbf"), ok("ee8080"), ok("efbfbd"), ok("f48fbfbf"), bad("f4908080")])
  const range = (from: number, to: number, sep?: number) => {
    const bytes: Array<number> = []
    for (let b = from; b < to; b++) sep === undefined ? bytes.push(b) : bytes.push(b, sep)
    return Buffer.from(bytes)
  }
  g.push([bad("80"), bad("bf"), bad("80bf"), bad("80bf80"), bad("80bf80bf"), bad("80bf80bf80"), bad("80bf80bf80bf"), [false, range(0x80, 0xbf)]])
  g.push([[0xc0, 0xdf], [0xe0, 0xef], [0xf0, 0xf7], [0xf8, 0xfb], [0xfc, 0xfd]].map(([a, b]) => [false, range(a, b, 0x20)] as [boolean, Buffer]))
  const missing = ["c0", "e080", "f08080", "f8808080", "fc80808080", "df", "efbf", "f7bfbf", "fbbfbfbf", "fdbfbfbfbf"]
  g.push(missing.map(bad))
  g.push([bad(missing.join(""))])
  g.push([bad("fe"), bad("ff"), bad("fefeffff")])
  g.push([bad("c0af"), bad("e080af"), bad("f08080af"), bad("f8808080af"), bad("fc80808080af")])
  g.push([bad("c1bf"), bad("e09fbf"), bad("f08fbfbf"), bad("f887bfbfbf"), bad("fc83bfbfbfbf")])
  g.push([bad("c080"), bad("e08080"), bad("f0808080"), bad("f880808080"), bad("fc8080808080")])
  g.push(["eda080", "edadbf", "edae80", "edafbf", "edb080", "edbe80", "edbfbf"].map(bad))
  g.push(["eda080edb080", "eda080edbfbf", "edadbfedb080", "edadbfedbfbf", "edae80edb080", "edae80edbfbf", "edafbfedb080", "edafbfedbfbf"].map(bad))
  const nonChars: Array<[boolean, Buffer]> = [ok("efbfbe"), ok("efbfbf")]
  for (const z1 of ["f0", "f1", "f2", "f3", "f4"]) {
    for (const z2 of ["8f", "9f", "af", "bf"]) {
      if (z1 === "f4" && z2 !== "8f") continue // beyond U+10FFFF
      for (const z3 of ["be", "bf"]) {
        const zz = z1 + z2 + "bf" + z3
        if (zz !== "f08fbfbe" && zz !== "f08fbfbf") nonChars.push(ok(zz)) // those two are overlong
      }
    }
  }
  g.push(nonChars)
  g.push(["efbfb9", "efbfba", "efbfbb", "efbfbc", "efbfbd", "efbfbe", "efbfbf"].map(ok))
  return g
}
utf8Groups().forEach((group, gi) => {
  group.forEach(([valid, payload], j) => {
    add(
      `6.${5 + gi}.${j + 1}`,
      `Send a text message with payload which is ${valid ? "" : "not "}valid UTF-8 in one fragment. Payload: 0x${payload.toString("hex")}`,
      valid ? "The message is echo'ed back to us." : "The connection is failed immediately, since the payload is not valid UTF-8.",
      (f) => {
        if (valid) {
          expect(f, [message(payload)])
          cleanClose(f)
        } else {
          expect(f, [])
          peerFails(f, INVALID_PAYLOAD)
        }
        f.sendFrame({ opcode: 1, payload })
        f.killAfter(0.5)
      }
    )
  })
})

// ---------------------------------------------------------------------------------------------
// 7 Close handling
// ---------------------------------------------------------------------------------------------

const close7 = { wrongCodeIsFatal: true }
add("7.1.1", "Send a message followed by a close frame", "Echoed message followed by clean close with normal code.", (f) => {
  expect(f, [message("Hello World!")])
  cleanClose(f)
  f.sendFrame({ opcode: 1, payload: "Hello World!" })
  f.killAfter(1)
}, close7)
add("7.1.2", "Send two close frames", "Clean close with normal code. Second close frame ignored.", (f) => {
  f.suppressClose = true
  expect(f, [])
  cleanClose(f)
  f.sendClose(Wire.closePayload(NORMAL))
  f.sendFrame({ opcode: 8 })
  f.killAfter(1)
}, close7)
add("7.1.3", "Send a ping after close message", "Clean close with normal code, no pong.", (f) => {
  f.suppressClose = true
  expect(f, [])
  cleanClose(f)
  f.sendClose(Wire.closePayload(NORMAL))
  f.sendFrame({ opcode: 9 })
  f.killAfter(1)
}, close7)
add("7.1.4", "Send text message after sending a close frame", "Clean close with normal code. Text message ignored.", (f) => {
  f.suppressClose = true
  expect(f, [])
  cleanClose(f)
  f.sendClose(Wire.closePayload(NORMAL))
  f.sendFrame({ opcode: 1, payload: "Hello World!" })
  f.killAfter(1)
}, close7)
add("7.1.5", "Send message fragment1 followed by close then fragment", "Clean close with normal code.", (f) => {
  f.suppressClose = true
  expect(f, [])
  cleanClose(f)
  f.sendFrame({ opcode: 1, fin: false, payload: "fragment1" })
  f.sendClose(Wire.closePayload(NORMAL))
  f.sendFrame({ opcode: 0, fin: true, payload: "fragment2" })
  f.killAfter(1)
}, close7)
add("7.1.6", "Send 256K message followed by close then a ping", "Case outcome depends on implementation defined close behavior. Message and close frame are sent back to back. If the close frame is processed before the text message write is complete (as can happen in asynchronous processing models) the close frame is processed first and the text message may not be received or may only be partially received.", (f) => {
  f.suppressClose = true
  const big = repeat("BAsd7&jh23", 256 * 1024)
  expect(f, [message(big), message("Hello World!")], [])
  cleanClose(f)
  f.sendFrame({ opcode: 1, payload: big })
  f.sendFrame({ opcode: 1, payload: "Hello World!" })
  f.sendClose(Wire.closePayload(NORMAL))
  f.sendFrame({ opcode: 9 })
  f.killAfter(1)
}, { informational: true })
const closeWith = (id: string, description: string, expectation: string, payload: Buffer, ok: boolean, codes: ReadonlyArray<number> = [PROTOCOL_ERROR]) =>
  add(id, description, expectation, (f) => {
    f.suppressClose = true
    expect(f, [])
    f.expectedClose = ok
      ? { closedByMe: true, closeCode: [NORMAL], requireClean: true }
      : { closedByMe: true, closeCode: codes, requireClean: false }
    f.sendClose(payload)
    f.killAfter(1)
  }, close7)
closeWith("7.3.1", "Send a close frame with payload length 0 (no close code, no close reason)", "Clean close with normal code.", Buffer.alloc(0), true)
closeWith("7.3.2", "Send a close frame with payload length 1", "Clean close with protocol error or drop TCP.", Buffer.from("a"), false)
closeWith("7.3.3", "Send a close frame with payload length 2 (regular close with a code)", "Clean close with normal code.", Wire.closePayload(NORMAL), true)
closeWith("7.3.4", "Send a close frame with close code and close reason", "Clean close with normal code.", Wire.closePayload(NORMAL, "Hello World!"), true)
closeWith("7.3.5", "Send a close frame with close code and close reason of maximum length (123)", "Clean close with normal code.", Wire.closePayload(NORMAL, "*".repeat(123)), true)
// 124 bytes of reason make a 126-byte control payload: the frame itself is invalid
add("7.3.6", "Send a close frame with close code and close reason which is too long (124) - total frame payload 126 octets", "Clean close with protocol error code or dropped TCP connection.", (f) => {
  f.suppressClose = true
  expect(f, [])
  f.expectedClose = { closedByMe: true, closeCode: [PROTOCOL_ERROR], requireClean: false }
  f.sendClose(Wire.closePayload(NORMAL, "*".repeat(124)))
  f.killAfter(1)
}, close7)
closeWith("7.5.1", "Send a close frame with invalid UTF8 payload", "Clean close with protocol error or invalid utf8 code or dropped TCP.", Wire.closePayload(NORMAL, INVALID.subarray(0, 20)), false, [PROTOCOL_ERROR, INVALID_PAYLOAD])
;[1000, 1001, 1002, 1003, 1007, 1008, 1009, 1010, 1011, 3000, 3999, 4000, 4999].forEach((code, i) =>
  add(`7.7.${i + 1}`, `Send close with valid close code ${code}`, "Clean close with normal or echoed code", (f) => {
    f.suppressClose = true
    expect(f, [])
    f.expectedClose = { closedByMe: true, closeCode: [NORMAL, code], requireClean: true }
    f.sendClose(Wire.closePayload(code))
    f.killAfter(1)
  }, close7)
)
;[0, 999, 1004, 1005, 1006, 1016, 1100, 2000, 2999].forEach((code, i) =>
  add(`7.9.${i + 1}`, `Send close with invalid close code ${code}`, "Clean close with protocol error code or drop TCP", (f) => {
    f.suppressClose = true
    expect(f, [])
    f.expectedClose = { closedByMe: true, closeCode: [PROTOCOL_ERROR], requireClean: false }
    f.sendClose(Wire.closePayload(code))
    f.killAfter(1)
  }, close7)
)
;[5000, 65535].forEach((code, i) =>
  add(`7.13.${i + 1}`, `Send close with close code ${code}`, "Actual events are undefined by the spec.", (f) => {
    f.suppressClose = true
    expect(f, [])
    f.expectedClose = { closedByMe: true, closeCode: [NORMAL, code, PROTOCOL_ERROR], requireClean: false }
    f.sendClose(Wire.closePayload(code))
    f.killAfter(1)
  }, { informational: true })
)

// ---------------------------------------------------------------------------------------------
// 9 Limits/performance (scaled by LIMITS_SCALE)
// ---------------------------------------------------------------------------------------------

const KiB = 1024
const MiB = 1024 * KiB
const scaled = (n: number) => Math.max(1, Math.round(n * LIMITS_SCALE))
const size = (n: number) => n >= MiB ? `${n / MiB}M` : `${n / KiB}k`

/** A 9.x case: one big message out, its exact echo back; judged on the bytes, not a list. */
const bigEcho = (id: string, description: string, binary: boolean, payload: Buffer, send: (f: Fuzz) => void, waitSecs: number) =>
  add(id, description, `Receive echo'ed ${binary ? "binary" : "text"} message (with payload as sent).`, (f) => {
    f.behavior = "FAILED"
    f.result = `Did not receive message within ${waitSecs} seconds.`
    cleanClose(f)
    send(f)
    f.closeAfter(waitSecs)
  }, {
    onMessage: (f, gotBinary, got) => {
      if (gotBinary !== binary) f.result = `Expected ${binary ? "binary" : "text"} message, got the other kind.`
      else if (!got.equals(payload)) f.result = `Echo differs from what was sent (${got.length} of ${payload.length} bytes).`
      else {
        f.behavior = "OK"
        f.result = `Received ${binary ? "binary" : "text"} message of length ${got.length}.`
      }
      if (f.isOpen()) f.sendClose(Wire.closePayload(NORMAL))
    }
  })

for (const [sub, binary] of [[1, false], [2, true]] as const) {
  ;[64 * KiB, 256 * KiB, MiB, 4 * MiB, 8 * MiB, 16 * MiB].forEach((full, i) => {
    const len = scaled(full)
    const payload = binary ? repeat(Buffer.from([0xfe]), len) : repeat("BAsd7&jh23", len)
    bigEcho(`9.${sub}.${i + 1}`, `Send ${binary ? "binary" : "text"} message message with payload of length ${size(len)} (Autobahn: ${size(full)}).`, binary, payload, (f) => f.sendFrame({ opcode: binary ? 2 : 1, payload }), 10 * (i + 1))
  })
}
for (const [sub, binary] of [[3, false], [4, true]] as const) {
  const len = scaled(4 * MiB)
  const payload = binary ? repeat(Buffer.from([0xfe]), len) : repeat("*", len)
  ;[64, 256, KiB, 4 * KiB, 16 * KiB, 64 * KiB, 256 * KiB, MiB, 4 * MiB].forEach((fullFrag, i) => {
    const frag = scaled(fullFrag)
    bigEcho(`9.${sub}.${i + 1}`, `Send fragmented ${binary ? "binary" : "text"} message message with message payload of length ${size(len)} (Autobahn: 4M). Sent out in fragments of ${frag} (Autobahn: ${fullFrag}).`, binary, payload, (f) => f.sendMessage(payload, binary, frag), 100)
  })
}
for (const [sub, binary] of [[5, false], [6, true]] as const) {
  const len = scaled(MiB)
  const payload = binary ? repeat(Buffer.from([0xfe]), len) : repeat("BAsd7&jh23", len)
  ;[64, 128, 256, 512, 1024, 2048].forEach((chop, i) => {
    bigEcho(`9.${sub}.${i + 1}`, `Send ${binary ? "binary" : "text"} message message with payload of length ${size(len)} (Autobahn: 1M). Sent out data in chops of ${chop} octets.`, binary, payload, (f) => f.sendFrame({ opcode: binary ? 2 : 1, payload, chopsize: chop }), 100)
  })
}
for (const [sub, binary] of [[7, false], [8, true]] as const) {
  const count = scaled(1000)
  ;[0, 16, 64, 256, 1024, 4096].forEach((len, i) => {
    const payload = binary ? repeat(Buffer.from([0xfe]), len) : repeat("*", len)
    const sendOne = (f: Fuzz) => {
      f.scratch["sent"] = (f.scratch["sent"] ?? 0) + 1
      f.sendFrame({ opcode: binary ? 2 : 1, payload })
    }
    add(`9.${sub}.${i + 1}`, `Send ${count} ${binary ? "binary" : "text"} messages of payload size ${len} to measure implementation/network RTT (round trip time) / latency (Autobahn: 1000).`, `Receive echo'ed ${binary ? "binary" : "text"} messages (with payload as sent). Timeout case after 60 secs.`, (f) => {
      f.behavior = "FAILED"
      f.result = "Case did not finish within 60 seconds."
      cleanClose(f)
      f.closeAfter(60)
      sendOne(f)
    }, {
      onMessage: (f, gotBinary, got) => {
        if (gotBinary !== binary || !got.equals(payload)) {
          f.behavior = "FAILED"
          f.result = `Echo'ed message type or payload differs from what I sent (binary = ${gotBinary}, length = ${got.length}).`
          f.sendClose(Wire.closePayload(NORMAL))
        } else if ((f.scratch["sent"] ?? 0) < count) sendOne(f)
        else {
          f.behavior = "OK"
          f.result = "Ok, received all echo'ed messages in time."
          f.sendClose(Wire.closePayload(NORMAL))
        }
      }
    })
  })
}

// ---------------------------------------------------------------------------------------------
// 10 Misc
// ---------------------------------------------------------------------------------------------

add("10.1.1", "Send text message with payload of length 65536 auto-fragmented with autoFragmentSize = 1300.", "Receive echo'ed text message (with payload as sent). Clean close with normal code.", (f) => {
  const payload = repeat("*", 65536)
  expect(f, [message(payload)])
  cleanClose(f)
  f.sendMessage(payload, false, 1300)
  f.killAfter(10)
})

/** Every case in Autobahn's order; `/runCase?case=N` runs `all[N - 1]`. */
export const all: ReadonlyArray<CaseDef> = cases

/** The number of cases per section ("1", "2", ...) of `cases` (default: {@link all}). */
export const countBySection = (cases: ReadonlyArray<CaseDef> = all): Record<string, number> => {
  const out: Record<string, number> = {}
  for (const c of cases) {
    const s = c.id.split(".")[0]
    out[s] = (out[s] ?? 0) + 1
  }
  return out
}

/**
 * One fuzzing session: a case run over one open WebSocket connection, in either role, and its
 * grade. The fuzzing server and the fuzzing client both drive cases through {@link runCase};
 * a case sees only the {@link Fuzz} API, so one definition serves both roles (as a client the
 * fuzzer masks every frame, as a server it never does).
 *
 * Timing: case definitions write delays in Autobahn's seconds. Waits a correct peer always sits
 * through (`continueLater`, `closeAfter`) are multiplied by `waitScale` (default 0.5); limits
 * that only a misbehaving peer reaches (`killAfter`, the closing-handshake and TCP-drop
 * timeouts) by `killScale` (default 2), so a loaded machine cannot turn a slow peer into a
 * failed one.
 *
 * @since 0.1.0
 */
import { Buffer } from "node:buffer"
import type * as net from "node:net"
import type * as PerMessageDeflate from "../../src/Codec/PerMessageDeflate.ts"
import * as Wire from "./Wire.ts"

// ---------------------------------------------------------------------------------------------
// Events, expectations, grades
// ---------------------------------------------------------------------------------------------

/** What the fuzzer observed, in order (Autobahn's `received` list). */
export type Event =
  | { readonly kind: "message"; readonly binary: boolean; readonly payload: Buffer }
  | { readonly kind: "ping"; readonly payload: Buffer }
  | { readonly kind: "pong"; readonly payload: Buffer }
  | { readonly kind: "timeout"; readonly tag: string }
  | { readonly kind: "violation"; readonly rule: string }

/** Event constructors for expectations. */
export const message = (payload: string | Uint8Array, binary = false): Event => ({
  kind: "message",
  binary,
  payload: Wire.payloadOf({ payload })
})
/** A pong with `payload`. */
export const pong = (payload: string | Uint8Array = ""): Event => ({ kind: "pong", payload: Wire.payloadOf({ payload }) })
/** A passed wait (fail-fast cases). */
export const timeout = (tag: string): Event => ({ kind: "timeout", tag })

/** Autobahn's per-case event verdict. */
export type Behavior = "OK" | "NON-STRICT" | "FAILED" | "INFORMATIONAL"

/** Autobahn's closing verdict, plus `NO CLOSE FRAME` (see the suite doc). */
export type BehaviorClose =
  | "OK"
  | "WRONG CODE"
  | "UNCLEAN"
  | "FAILED BY CLIENT"
  | "NO CLOSE FRAME"
  | "FAILED"
  | "INFORMATIONAL"

/** The headline grade of a case. */
export type Grade = "OK" | "NON-STRICT" | "FAILED" | "INFORMATIONAL"

/** How the case expects the connection to end (Autobahn's `expectedClose`). */
export interface ExpectedClose {
  /** Whether the fuzzer starts the closing handshake (true) or the peer must fail/close (false). */
  readonly closedByMe: boolean
  /** Close codes the peer may send. */
  readonly closeCode: ReadonlyArray<number>
  /** Whether a full closing handshake is required. */
  readonly requireClean: boolean
}

/** The API a case definition drives. */
export interface Fuzz {
  readonly role: Wire.Role
  /** What permessage-deflate agreed for this connection, if the case negotiated it. */
  readonly deflate: PerMessageDeflate.Agreed | undefined
  /** Expected event lists by behaviour (`OK`, `NON-STRICT`). */
  readonly expected: { OK?: ReadonlyArray<Event>; "NON-STRICT"?: ReadonlyArray<Event> }
  expectedClose: ExpectedClose
  /** Do not start the closing handshake automatically when the events match. */
  suppressClose: boolean
  /** Set by cases that judge events themselves (9.x); skips matching against `expected`. */
  behavior: Behavior | undefined
  /** Why `behavior` was set (shown in the report). */
  result: string
  /** Sends one frame; `chopsize` writes it in pieces, each flushed before the next. */
  sendFrame(spec: Wire.FrameSpec & { readonly chopsize?: number | undefined }): void
  /** Encodes a frame for this role without sending it (to send it in chops of one's choosing). */
  encode(spec: Wire.FrameSpec): Buffer
  /** Writes raw bytes. */
  sendBytes(bytes: Buffer, chopsize?: number): void
  /** Sends a message split into `fragmentSize` frames. */
  sendMessage(payload: Buffer, binary: boolean, fragmentSize: number): void
  /**
   * Sends a message compressed with the agreed context (RSV1 on its first frame), split into
   * frames of `fragmentSize` compressed bytes when given. Throws when nothing was agreed.
   */
  sendCompressed(payload: Buffer, binary: boolean, fragmentSize?: number | undefined): void
  /** Sends a close frame with `payload` (code and reason, possibly invalid) and enters CLOSING. */
  sendClose(payload?: Buffer): void
  /** Runs `fn` after `seconds` (scaled) if the connection is still open. */
  continueLater(seconds: number, fn: () => void): void
  /** Drops the TCP connection after `seconds` (scaled) if it is not closed by then. */
  killAfter(seconds: number): void
  /** Starts the closing handshake (1000) after `seconds` (scaled) if still open. */
  closeAfter(seconds: number): void
  /** Whether the connection is OPEN (no close frame sent or received). */
  isOpen(): boolean
  /** Appends an event. */
  record(event: Event): void
  /** Per-run counters for cases that keep state (9.7/9.8); fresh for every run. */
  readonly scratch: Record<string, number>
}

/** One case of the suite. */
export interface CaseDef {
  /** Autobahn's id, e.g. `"6.4.1"`. */
  readonly id: string
  readonly description: string
  readonly expectation: string
  /** Starts the case once the connection is open. */
  readonly onOpen: (f: Fuzz) => void
  /** Replaces the default recording of data messages (9.x judge sizes themselves). */
  readonly onMessage?: ((f: Fuzz, binary: boolean, payload: Buffer) => void) | undefined
  /** A WRONG CODE closing verdict fails the case (Autobahn's 7.x cases). */
  readonly wrongCodeIsFatal?: boolean | undefined
  /** The case is informational: events and closing are reported, never graded. */
  readonly informational?: boolean | undefined
  /** The case runs compressed: permessage-deflate must be agreed, else it fails at once. */
  readonly deflate?: DeflateCase | undefined
}

/** How a compression case negotiates permessage-deflate (Autobahn 12/13). */
export interface DeflateCase {
  /**
   * What the fuzzing client offers, one permessage-deflate element each, in order (several:
   * Autobahn 13.7); the server's answer must satisfy one of them.
   */
  readonly offers: ReadonlyArray<PerMessageDeflate.Config>
  /** What the fuzzing server accepts a client's offer with (`PerMessageDeflate.acceptOffer`). */
  readonly accept: PerMessageDeflate.Config
}

/** The record of one case run. */
export interface CaseResult {
  readonly id: string
  readonly grade: Grade
  readonly behavior: Behavior
  readonly behaviorClose: BehaviorClose
  /** Why, in words. */
  readonly result: string
  readonly resultClose: string
  readonly received: ReadonlyArray<string>
  readonly remoteCloseCode: number | null
  readonly durationMs: number
  /** Compressed messages received from the peer (cases that negotiated permessage-deflate). */
  readonly compressedIn?: number | undefined
}

/** Session options. */
export interface SessionOptions {
  /** Multiplies the waits a correct peer sits through (`continueLater`, `closeAfter`). Default 0.5. */
  readonly waitScale?: number | undefined
  /** Multiplies the limits only a misbehaving peer reaches (kill, close and drop timeouts). Default 2. */
  readonly killScale?: number | undefined
  /** Hard limit for one case in milliseconds; the connection is dropped after it. Default 30 000. */
  readonly caseTimeoutMs?: number | undefined
}

// ---------------------------------------------------------------------------------------------
// Comparison
// ---------------------------------------------------------------------------------------------

const sameEvent = (a: Event, b: Event): boolean => {
  if (a.kind !== b.kind) return false
  switch (a.kind) {
    case "message":
      return b.kind === "message" && a.binary === b.binary && a.payload.equals(b.payload)
    case "ping":
    case "pong":
      return (b.kind === "ping" || b.kind === "pong") && a.payload.equals(b.payload)
    case "timeout":
      return b.kind === "timeout" && a.tag === b.tag
    case "violation":
      return b.kind === "violation" && a.rule === b.rule
  }
}

const isPrefix = (got: ReadonlyArray<Event>, of: ReadonlyArray<Event>): boolean =>
  got.length <= of.length && got.every((e, i) => sameEvent(e, of[i]))

const sameList = (a: ReadonlyArray<Event>, b: ReadonlyArray<Event>): boolean =>
  a.length === b.length && isPrefix(a, b)

/** A short printable form of an event for reports. */
export const showEvent = (e: Event): string => {
  const show = (p: Buffer) => p.length > 32 ? `${p.length} bytes` : JSON.stringify(p.toString("latin1"))
  switch (e.kind) {
    case "message":
      return `${e.binary ? "binary" : "text"} ${show(e.payload)}`
    case "ping":
    case "pong":
      return `${e.kind} ${show(e.payload)}`
    case "timeout":
      return `timeout ${e.tag}`
    case "violation":
      return `peer broke a rule: ${e.rule}`
  }
}

/** The headline grade from the two verdicts: a broken close fails the case, a lax one is NON-STRICT. */
export const gradeOf = (behavior: Behavior, close: BehaviorClose): Grade => {
  if (behavior === "INFORMATIONAL") return "INFORMATIONAL"
  if (behavior === "FAILED" || close === "FAILED" || close === "UNCLEAN") return "FAILED"
  if (behavior === "NON-STRICT" || close !== "OK") return "NON-STRICT"
  return "OK"
}

// ---------------------------------------------------------------------------------------------
// Session
// ---------------------------------------------------------------------------------------------

/** The largest message the fuzzer reads, inflated or not (a peer's bomb stops here). */
const MAX_MESSAGE = 64 * 1024 * 1024

/**
 * Runs `def` over `socket`, whose opening handshake is complete; `leftover` holds bytes read
 * after the handshake. Resolves when the TCP connection is closed, never rejects.
 */
export const runCase = (
  def: CaseDef,
  socket: net.Socket,
  role: Wire.Role,
  leftover: Buffer,
  options: SessionOptions = {},
  agreed?: PerMessageDeflate.Agreed | undefined
): Promise<CaseResult> =>
  new Promise((resolve) => {
    const scale = options.waitScale ?? 0.5
    const killScale = options.killScale ?? 2
    const started = Date.now()
    const zlib = agreed === undefined ? undefined : Wire.contexts(agreed, role, MAX_MESSAGE)
    const reader = new Wire.FrameReader(role, {}, MAX_MESSAGE, zlib?.inflate)
    let compressedIn = 0
    const mask = role === "client"
    const received: Array<Event> = []
    const timers = new Set<NodeJS.Timeout>()
    let state: "open" | "closing" | "closed" = "open"
    let sentClose = false
    let receivedClose = false
    let closedByMe = false
    let droppedByMe = false
    let killed = false
    let remoteCloseCode: number | null = null
    let earlyFailure: string | undefined
    // writes are chained so chops go out in order, each flushed before the next one
    let tail: Promise<void> = Promise.resolve()

    const later = (ms: number, fn: () => void) => {
      const t = setTimeout(() => {
        timers.delete(t)
        fn()
      }, ms)
      timers.add(t)
    }

    const write = (bytes: Buffer) =>
      new Promise<void>((done) => {
        if (socket.destroyed || !socket.writable) return done()
        socket.write(bytes, () => done())
      })

    const sendBytes = (bytes: Buffer, chopsize?: number) => {
      if (chopsize === undefined || chopsize >= bytes.length) {
        tail = tail.then(() => write(bytes))
        return
      }
      for (let i = 0; i < bytes.length; i += chopsize) {
        const part = bytes.subarray(i, i + chopsize)
        tail = tail.then(() => write(part))
      }
    }

    const drop = () => {
      if (state === "closed" && socket.destroyed) return
      droppedByMe = true
      socket.destroy()
    }

    /** After both close frames: the server closes TCP; a client waits for it (Autobahn's rule). */
    const afterHandshake = () => {
      if (role === "server") {
        tail.then(() => {
          socket.end()
          later(1000 * killScale, () => socket.destroy())
        })
      } else later(1000 * killScale, drop) // Autobahn's serverConnectionDropTimeout
    }

    const sendClose = (payload: Buffer = Buffer.alloc(0)) => {
      if (sentClose || socket.destroyed) return
      sentClose = true
      if (!receivedClose) closedByMe = true
      state = "closing"
      sendBytes(encode({ opcode: 8, payload }))
      if (receivedClose) afterHandshake()
      else {
        // close handshake timeout: a peer that neither answers our close nor closes TCP has not
        // reacted at all, which must not pass as "dropped TCP" (allowed by 7.3.2, 7.9.x ...)
        later(1000 * killScale, () => {
          if (receivedClose || state === "closed") return
          killed = true
          drop()
        })
      }
    }

    const encode = (spec: Wire.FrameSpec) => Wire.encodeFrame(spec, mask)

    const finishWhenDone = () => {
      const lists = Object.values(f.expected)
      if (lists.length === 0 || f.behavior !== undefined) return
      // a list of events that can no longer become any expected list: the case has failed,
      // so end it now instead of waiting for its timers
      if (!lists.some((l) => isPrefix(received, l))) {
        earlyFailure = "Actual events differ from any expected."
        drop()
        return
      }
      if (lists.every((l) => sameList(received, l)) && f.expectedClose.closedByMe && !f.suppressClose && state === "open") {
        sendClose(Wire.closePayload(f.expectedClose.closeCode[0]))
      }
    }

    const f: Fuzz = {
      role,
      deflate: agreed,
      expected: {},
      expectedClose: { closedByMe: true, closeCode: [1000], requireClean: true },
      suppressClose: false,
      behavior: undefined,
      result: "",
      sendFrame: (spec) => sendBytes(encode(spec), spec.chopsize),
      encode,
      sendBytes,
      sendMessage: (payload, binary, fragmentSize) => {
        // all frames in one write, as a sender with auto-fragmentation would put them out
        const frames: Array<Buffer> = []
        for (let i = 0; i < payload.length || i === 0; i += fragmentSize) {
          const last = i + fragmentSize >= payload.length
          frames.push(encode({
            opcode: i === 0 ? (binary ? 2 : 1) : 0,
            fin: last,
            payload: payload.subarray(i, i + fragmentSize)
          }))
          if (last) break
        }
        sendBytes(Buffer.concat(frames))
      },
      sendCompressed: (payload, binary, fragmentSize) => {
        if (zlib === undefined) throw new Error("sendCompressed: permessage-deflate was not agreed")
        const deflated = zlib.deflate.compress(payload)
        const step = fragmentSize ?? Math.max(deflated.length, 1)
        const frames: Array<Buffer> = []
        for (let i = 0; i < deflated.length || i === 0; i += step) {
          const last = i + step >= deflated.length
          frames.push(encode({ opcode: i === 0 ? (binary ? 2 : 1) : 0, rsv: i === 0 ? 4 : 0, fin: last, payload: deflated.subarray(i, i + step) }))
          if (last) break
        }
        sendBytes(Buffer.concat(frames))
      },
      sendClose,
      continueLater: (seconds, fn) => later(seconds * 1000 * scale, () => state === "open" && fn()),
      killAfter: (seconds) =>
        later(seconds * 1000 * killScale, () => {
          if (state === "closed") return
          // once both close frames are through, what is left is TCP teardown, judged by the
          // drop rules (server: our job; client: FAILED BY CLIENT), not a peer that never reacted
          if (!(sentClose && receivedClose)) killed = true
          drop()
        }),
      closeAfter: (seconds) => later(seconds * 1000 * scale, () => state === "open" && sendClose(Wire.closePayload(1000))),
      isOpen: () => state === "open",
      record: (event) => {
        received.push(event)
        finishWhenDone()
      },
      scratch: {}
    }

    socket.setNoDelay(true)
    socket.on("error", () => {})
    socket.on("data", (chunk: Buffer) => onBytes(chunk))
    socket.on("close", () => finish())
    later(options.caseTimeoutMs ?? 30_000, () => {
      killed = true
      drop()
    })

    const onBytes = (chunk: Buffer) => {
      for (const item of reader.push(chunk)) {
        if (receivedClose) {
          f.record({ kind: "violation", rule: `${item._tag} after the peer's close frame` })
          return drop()
        }
        switch (item._tag) {
          case "Message":
            if (item.compressed) compressedIn++
            if (def.onMessage) def.onMessage(f, item.binary, item.payload)
            else f.record({ kind: "message", binary: item.binary, payload: item.payload })
            break
          case "Ping":
            if (state === "open") sendBytes(encode({ opcode: 10, payload: item.payload }))
            f.record({ kind: "ping", payload: item.payload })
            break
          case "Pong":
            f.record({ kind: "pong", payload: item.payload })
            break
          case "Close":
            receivedClose = true
            remoteCloseCode = item.code
            if (!sentClose) {
              // reply with the peer's code, as Autobahn does
              sendClose(item.code === null ? Buffer.alloc(0) : Wire.closePayload(item.code))
            } else afterHandshake()
            break
          case "Violation":
            f.record({ kind: "violation", rule: item.rule })
            return drop()
        }
        if (socket.destroyed) return
      }
    }

    let finished = false
    const finish = () => {
      if (finished) return
      finished = true
      state = "closed"
      for (const t of timers) clearTimeout(t)
      timers.clear()
      resolve(grade())
    }

    const grade = (): CaseResult => {
      let behavior: Behavior = "FAILED"
      let result = earlyFailure ?? "Actual events differ from any expected."
      if (earlyFailure === undefined) {
        if (f.behavior !== undefined) {
          behavior = f.behavior
          result = f.result
        } else {
          for (const key of ["OK", "NON-STRICT"] as const) {
            const list = f.expected[key]
            if (list !== undefined && sameList(received, list)) {
              behavior = key
              result = "Actual events match at least one expected."
              break
            }
          }
        }
      }
      const ec = f.expectedClose
      const wasClean = sentClose && receivedClose && !killed && !(role === "client" && droppedByMe)
      let close: BehaviorClose
      let resultClose: string
      if (killed) {
        close = "FAILED"
        resultClose = ec.closedByMe
          ? "The peer did not complete the closing handshake or close in time; the fuzzer dropped the connection"
          : "The peer did not fail the connection in time; the fuzzer dropped it"
      } else if (ec.closedByMe !== closedByMe) {
        close = "FAILED"
        resultClose = "The connection was failed by the wrong endpoint"
      } else if (ec.requireClean && !wasClean) {
        close = "UNCLEAN"
        resultClose = "The spec requires the connection to be failed cleanly here"
      } else if (remoteCloseCode !== null && !ec.closeCode.includes(remoteCloseCode)) {
        close = "WRONG CODE"
        resultClose = `The close code should have been ${ec.closeCode.join(",")} or empty, got ${remoteCloseCode}`
      } else if (role === "client" && droppedByMe) {
        close = "FAILED BY CLIENT"
        resultClose = "It is preferred that the server close the TCP connection"
      } else if (!ec.closedByMe && !receivedClose) {
        close = "NO CLOSE FRAME"
        resultClose = "The peer dropped TCP without a close frame (RFC 6455 §7.1.7: SHOULD send one)"
      } else {
        close = "OK"
        resultClose = "Connection was properly closed"
      }
      if (def.wrongCodeIsFatal && close === "WRONG CODE") {
        behavior = "FAILED"
        result = resultClose
      }
      if (def.informational) {
        behavior = "INFORMATIONAL"
        close = "INFORMATIONAL"
      }
      return {
        id: def.id,
        grade: gradeOf(behavior, close),
        behavior,
        behaviorClose: close,
        result,
        resultClose,
        received: received.map(showEvent),
        remoteCloseCode,
        durationMs: Date.now() - started,
        ...(agreed !== undefined && { compressedIn })
      }
    }

    try {
      if (def.deflate !== undefined && agreed === undefined) {
        // Autobahn's UNIMPLEMENTED: nothing to compress with, so nothing this case can check
        earlyFailure = "permessage-deflate was not agreed"
        sendClose(Wire.closePayload(1000))
      } else def.onOpen(f)
    } catch (e) {
      earlyFailure = `the case threw: ${String(e)}`
      drop()
    }
    if (leftover.length > 0) onBytes(leftover)
  })

/**
 * WebSocket frame opcodes (RFC 6455 §5.2) shared by the frame reader and writer.
 *
 * @internal
 */
export const Opcode = {
  Continuation: 0x0,
  Text: 0x1,
  Binary: 0x2,
  Close: 0x8,
  Ping: 0x9,
  Pong: 0xa
} as const

/** Largest payload of a control frame (RFC 6455 §5.5). */
export const MAX_CONTROL_PAYLOAD = 125

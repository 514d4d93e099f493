/**
 * Byte values and byte classes shared by the HTTP/1.1 codecs (RFC 9110 §5.6.2 tokens, §5.5
 * field values), case-insensitive comparison in a buffer, and the injection check the writers
 * apply to caller-supplied strings. Every byte constant of the HTTP codecs is defined here once.
 *
 * @internal
 */

/** Carriage return. */
export const CR = 0x0d
/** Line feed. */
export const LF = 0x0a
/** Space. */
export const SP = 0x20
/** Horizontal tab. */
export const HT = 0x09
/** `:` ending a field name. */
export const COLON = 0x3a
/** `,` separating list elements. */
export const COMMA = 0x2c
/** `;` starting a chunk extension. */
export const SEMI = 0x3b
/** `=` between a chunk extension's name and value. */
export const EQUALS = 0x3d
/** `"` delimiting a quoted string. */
export const DQUOTE = 0x22
/** Backslash, starting a quoted pair. */
export const BACKSLASH = 0x5c

/** `TOKEN[b] === 1` when byte `b` is a `tchar` (RFC 9110 §5.6.2). */
export const TOKEN: Uint8Array = (() => {
  const table = new Uint8Array(256)
  const extra = "!#$%&'*+-.^_`|~"
  for (let c = 0x30; c <= 0x39; c++) table[c] = 1
  for (let c = 0x41; c <= 0x5a; c++) table[c] = 1
  for (let c = 0x61; c <= 0x7a; c++) table[c] = 1
  for (let i = 0; i < extra.length; i++) table[extra.charCodeAt(i)] = 1
  return table
})()

/** `FIELD_VALUE[b] === 1` for HTAB, SP, VCHAR and obs-text (RFC 9110 §5.5). */
export const FIELD_VALUE: Uint8Array = (() => {
  const table = new Uint8Array(256)
  table[HT] = 1
  for (let c = 0x20; c < 0x7f; c++) table[c] = 1
  for (let c = 0x80; c <= 0xff; c++) table[c] = 1
  return table
})()

/** Whether `buf[start, start + lower.length)` equals the lower-case ASCII `lower`, ignoring case. */
export const equalsIgnoreCase = (buf: Uint8Array, start: number, lower: string): boolean => {
  for (let i = 0; i < lower.length; i++) {
    const b = buf[start + i]!
    const c = lower.charCodeAt(i)
    if (b !== c && ((b | 0x20) !== c || c < 0x61 || c > 0x7a)) return false
  }
  return true
}

/** Case-insensitive comparison of a field name in the buffer against any-case `name`. */
export const nameEquals = (buf: Uint8Array, start: number, name: string): boolean => {
  for (let i = 0; i < name.length; i++) {
    const b = buf[start + i]!
    const c = name.charCodeAt(i)
    if (b !== c) {
      const lb = b | 0x20
      if (lb !== (c | 0x20) || lb < 0x61 || lb > 0x7a) return false
    }
  }
  return true
}

/** Whether `s` is a non-empty token (method, header name). */
export const isToken = (s: string): boolean => {
  if (s.length === 0) return false
  for (let i = 0; i < s.length; i++) {
    const c = s.charCodeAt(i)
    if (c > 0xff || TOKEN[c] !== 1) return false
  }
  return true
}

/**
 * Index of the first CR, LF or NUL in `s`, or -1. These three characters are what request
 * smuggling and header injection need, so every writer refuses them in caller input.
 */
export const findInjection = (s: string): number => {
  for (let i = 0; i < s.length; i++) {
    const c = s.charCodeAt(i)
    if (c === 0x0d || c === 0x0a || c === 0x00) return i
  }
  return -1
}

/** CR LF as bytes. */
export const CRLF = 0x0d0a

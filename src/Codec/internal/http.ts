/**
 * Byte classes shared by the HTTP/1.1 codecs (RFC 9110 §5.6.2 tokens, field values) and the
 * injection check the writers apply to caller-supplied strings.
 *
 * @internal
 */

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

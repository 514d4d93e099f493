/**
 * The sans-IO codecs: RFC 6455 WebSocket frames and handshake, HTTP/1.1 requests and responses,
 * the read/write buffers they work in, and the endpoint URL parser. Bytes in, messages out —
 * no sockets, no Effect, no clock; mask randomness is injected. Each module is re-exported as a
 * namespace.
 *
 * @since 0.1.0
 */

/** @since 0.1.0 */
export * as ChunkedDecoder from "./ChunkedDecoder.ts"
/** @since 0.1.0 */
export * as CloseCode from "./CloseCode.ts"
/** @since 0.1.0 */
export * as FrameReader from "./FrameReader.ts"
/** @since 0.1.0 */
export * as FrameWriter from "./FrameWriter.ts"
/** @since 0.1.0 */
export * as Handshake from "./Handshake.ts"
/** @since 0.1.0 */
export * as HttpWrite from "./HttpWrite.ts"
/** @since 0.1.0 */
export * as MaskSource from "./MaskSource.ts"
/** @since 0.1.0 */
export * as NeedMore from "./NeedMore.ts"
/** @since 0.1.0 */
export * as PerMessageDeflate from "./PerMessageDeflate.ts"
/** @since 0.1.0 */
export * as ReadBuf from "./ReadBuf.ts"
/** @since 0.1.0 */
export * as RequestReader from "./RequestReader.ts"
/** @since 0.1.0 */
export * as RequestWriter from "./RequestWriter.ts"
/** @since 0.1.0 */
export * as ResponseReader from "./ResponseReader.ts"
/** @since 0.1.0 */
export * as SessionFile from "./SessionFile.ts"
/** @since 0.1.0 */
export * as Url from "./Url.ts"
/** @since 0.1.0 */
export * as WriteBuf from "./WriteBuf.ts"

/**
 * The shared "need more bytes" result of every sans-IO reader. One frozen value, so asking for
 * more input never allocates; compare with `result === NeedMore` or by `_tag`.
 *
 * @since 0.1.0
 */

/** The type of {@link NeedMore}. */
export interface NeedMore {
  readonly _tag: "NeedMore"
}

/**
 * Returned by a reader when the buffered bytes hold no complete item yet: feed more and call
 * again.
 *
 * @since 0.1.0
 */
export const NeedMore: NeedMore = Object.freeze({ _tag: "NeedMore" as const })

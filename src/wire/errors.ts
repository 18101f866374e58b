/** The four packed buffers of a message, in frame order. */
export type BufferName = 'u32' | 'u16' | 'u8' | 'str';

/**
 * A message's bytes do not follow the wire rules. `offset` is a byte offset inside the
 * message; `buffer` names the buffer that ran short or held the bad value, when one did.
 */
export class WireError extends Error {
  override readonly name: string = 'WireError';
  constructor(
    message: string,
    readonly offset: number,
    readonly buffer?: BufferName,
  ) {
    super(message);
  }
}

/** The header's three offsets do not describe a valid frame (wire §2.1). */
export class InvalidHeaderError extends WireError {
  override readonly name: string = 'InvalidHeaderError';
}

/** A read went past the end of one buffer. */
export class BufferUnderrunError extends WireError {
  override readonly name: string = 'BufferUnderrunError';
  constructor(
    readonly what: string,
    buffer: BufferName,
    /** index, in elements of that buffer, where the read started */
    readonly index: number,
    /** elements that were needed */
    readonly needed: number,
    /** elements that were left */
    readonly available: number,
    offset: number,
  ) {
    super(
      `${buffer} buffer ran short reading ${what}: needed ${needed} at ${buffer}[${index}], ${available} left (byte ${offset})`,
      offset,
      buffer,
    );
  }
}

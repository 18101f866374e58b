/** The trace container layer: reading and writing `@btrace` lines and `.btrace` files. Message bytes stay opaque here. */

export type { BadRecord, Direction, MessageRecord, MetaRecord, RecordLocation, Side, TraceRecord } from './record.js';
export { formatLocation } from './record.js';

export {
  openTrace,
  openTraceBatches,
  TraceInputError,
  type ContainerInfo,
  type OpenTraceOptions,
  type TraceFormat,
} from './source.js';
export {
  BinaryTraceWriter,
  createTraceWriter,
  formatForPath,
  LinesTraceWriter,
  TraceOutputError,
  type CreateWriterOptions,
  type TraceHeaderInfo,
  type TraceWriter,
  type WriterStreamOptions,
} from './writer.js';
export { convertTrace, deriveHeader, type ConvertOptions, type ConvertResult } from './convert.js';

// Lower-level pieces: the two container readers on raw (decompressed) byte streams, and the encoders.
export {
  formatTraceLine,
  LineRecordParser,
  MARKER,
  MAX_LINE_BYTES,
  parseRecordBytes,
  parseRecordText,
  parseTraceLine,
  readLineRecords,
  type LineReaderOptions,
} from './lines.js';
export { gunzip, isGzipDamage, type GunzipItem, type GzipDamage } from './gunzip.js';
export {
  BINARY_FORMAT_VERSION,
  BINARY_MAGIC,
  encodeFrame,
  encodeHeader,
  FRAME_SYNC,
  MAX_FRAME_PAYLOAD,
  MAX_HEADER_REV_BYTES,
  readBinaryBatches,
  readBinaryRecords,
  type BinaryReaderOptions,
  type BinaryTraceHeader,
  type RecordingSide,
} from './binary.js';
export { FN_META_KEYS, MAX_CTX_BYTES, MAX_MESSAGE_BYTES, MAX_META_BYTES, MAX_META_FIELDS } from './fields.js';
export { decodeStrictBase64, decodeStrictBase64Bytes, encodeBase64 } from './base64.js';
export { crc32, crc32Update } from './crc32.js';

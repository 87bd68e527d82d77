import { createRequire } from "node:module";

/**
 * Messages that travel already framed. grpc-js sends each message as a 5-byte frame header
 * (compressed flag, big-endian length) followed by the message, and builds that frame by
 * copying the message into a new buffer, once per call it is written to. A coordinator
 * writes every 256 KiB of an upload to three volumes: three fresh buffers and three copies
 * of each message, about a tenth of its CPU in a large PUT.
 *
 * framedBuffer() allocates a message with room for its frame header in front, and
 * useSharedFrames() makes grpc-js's uncompressed sender return that frame as it is instead
 * of copying: every call a message is written to then sends the same memory. Only messages
 * made by framedBuffer() take this path; any other message is framed by grpc-js as before.
 * The caller must not change a framed message once it has been written to a call.
 */

/** The gRPC length-prefixed message header: 1 byte compressed flag, 4 bytes length. */
export const FRAME_HEADER_BYTES = 5;

/** Messages made by framedBuffer(), each with its whole frame (weakly held). */
const frames = new WeakMap<Uint8Array, Buffer>();

/**
 * A buffer of `messageBytes` for a message to be sent uncompressed, inside a frame whose
 * header is already written. Fill it, then pass it (or return it from a serializer) to grpc-js.
 */
export function framedBuffer(messageBytes: number): Buffer {
  if (!Number.isSafeInteger(messageBytes) || messageBytes < 0 || messageBytes > 0xffffffff) {
    throw new RangeError(`a gRPC message is 0 to 2^32-1 bytes, got ${messageBytes}`);
  }
  const frame = Buffer.allocUnsafe(FRAME_HEADER_BYTES + messageBytes);
  frame[0] = 0;
  frame.writeUInt32BE(messageBytes, 1);
  const message = frame.subarray(FRAME_HEADER_BYTES);
  frames.set(message, frame);
  return message;
}

/** The frame around `message` if framedBuffer() made it and its header still fits it. */
export function frameOf(message: Uint8Array): Buffer | undefined {
  const frame = frames.get(message);
  if (frame === undefined) return undefined;
  const fits =
    frame.length === message.length + FRAME_HEADER_BYTES &&
    frame[0] === 0 &&
    frame.readUInt32BE(1) === message.length;
  return fits ? frame : undefined;
}

/** The part of grpc-js's uncompressed send path that useSharedFrames() takes over. */
interface FrameWriter {
  writeMessage: (this: FrameWriter, message: Buffer, compress: boolean) => Promise<Buffer>;
}

let installed: boolean | undefined;

/**
 * Makes grpc-js send the frames of framedBuffer() messages as they are (see above). Idempotent.
 * Returns false, changing nothing, if this grpc-js does not have the internals it relies on:
 * a CompressionFilter whose uncompressed sender frames messages in `writeMessage(message,
 * compress)`. Those internals are checked at run time, never assumed.
 */
export function useSharedFrames(): boolean {
  if (installed !== undefined) return installed;
  installed = false;
  const writer = identityWriter();
  if (writer === undefined) return false;
  const original = writer.writeMessage;
  writer.writeMessage = function writeMessage(this: FrameWriter, message: Buffer, compress: boolean) {
    const frame = compress ? undefined : frameOf(message);
    return frame !== undefined ? Promise.resolve(frame) : original.call(this, message, compress);
  };
  installed = true;
  return true;
}

/** The prototype of grpc-js's IdentityHandler (not exported), found through a filter. */
function identityWriter(): FrameWriter | undefined {
  try {
    const require = createRequire(import.meta.url);
    const filters = require("@grpc/grpc-js/build/src/compression-filter.js") as {
      CompressionFilter?: new (options: object, shared: object) => { sendCompression?: unknown };
    };
    if (typeof filters.CompressionFilter !== "function") return undefined;
    const sender = new filters.CompressionFilter({}, {}).sendCompression;
    if (typeof sender !== "object" || sender === null) return undefined;
    const prototype = Object.getPrototypeOf(sender) as Partial<FrameWriter> | null;
    if (prototype?.constructor?.name !== "IdentityHandler") return undefined;
    if (typeof prototype.writeMessage !== "function" || prototype.writeMessage.length !== 2) return undefined;
    return prototype as FrameWriter;
  } catch {
    return undefined;
  }
}

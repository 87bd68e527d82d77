import { createRequire } from "node:module";
import { LENGTH_DELIMITED, ProtoWriter, varintSize } from "./proto-wire.js";

/**
 * Messages that travel already framed. grpc-js sends each message as a 5-byte frame header
 * (compressed flag, big-endian length) followed by the message, and builds that frame by
 * copying the message into a new buffer, once per call it is written to. A coordinator
 * writes every 256 KiB of an upload to three volumes: three fresh buffers and three copies
 * of each message, about a tenth of its CPU in a large PUT.
 *
 * A volume serving a read copies each 256 KiB twice the same way: protobufjs copies the
 * chunk into the ReadReply encoding, and grpc-js's server copies that into a frame.
 *
 * framedBuffer() allocates a message with room for its frame header in front, and
 * framedBytesMessage() builds a message of one bytes field in one, copying the bytes once.
 * useSharedFrames() makes grpc-js send those frames as they are instead of copying: on the
 * client side for a message (a serializer's output) made by framedBuffer(), on the server
 * side for a value marked with withFrame(). Every call a message is written to then sends
 * the same memory. Any other message is framed by grpc-js as before. The caller must not
 * change a framed message once it has been written to a call.
 */

/** The gRPC length-prefixed message header: 1 byte compressed flag, 4 bytes length. */
export const FRAME_HEADER_BYTES = 5;

/** Messages made by framedBuffer(), each with its whole frame (weakly held). */
const frames = new WeakMap<Uint8Array, Buffer>();
/** Server reply values marked by withFrame(), each with the frame of its encoding. */
const valueFrames = new WeakMap<object, Buffer>();

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

/** The frame around `message` if framedBuffer() made it. */
export function frameOf(message: Uint8Array): Buffer | undefined {
  return frames.get(message);
}

/**
 * A message whose only field is `fieldNumber`, of type bytes, holding `pieces` joined
 * (`size` bytes in all), built inside its frame (framedBuffer): the bytes are copied once.
 * Returns the message and the field's bytes, a view of it.
 */
export function framedBytesMessage(
  fieldNumber: number,
  pieces: readonly Uint8Array[],
  size: number,
): { message: Buffer; field: Buffer } {
  if (!Number.isInteger(fieldNumber) || fieldNumber < 1 || fieldNumber > 15) {
    throw new RangeError(`a one-byte tag holds field numbers 1 to 15, got ${fieldNumber}`);
  }
  const head = 1 + varintSize(size);
  const message = framedBuffer(head + size);
  const writer = new ProtoWriter(message);
  writer.tag(fieldNumber, LENGTH_DELIMITED);
  writer.varint(size);
  for (const piece of pieces) {
    message.set(piece, writer.at);
    writer.at += piece.length;
  }
  if (writer.at !== message.length) throw new RangeError(`pieces of ${writer.at - head} bytes, not ${size}`);
  return { message, field: message.subarray(head) };
}

/**
 * Marks a server's reply `value` as encoded by `message` (made by framedBuffer): once
 * useSharedFrames() is in effect, writing the value sends the message's frame as it is,
 * without serializing the value. Returns the value.
 */
export function withFrame<T extends object>(value: T, message: Uint8Array): T {
  const frame = frameOf(message);
  if (frame === undefined) throw new RangeError("withFrame takes a message made by framedBuffer");
  valueFrames.set(value, frame);
  return value;
}

/** The part of grpc-js's uncompressed send path that useSharedFrames() takes over. */
interface FrameWriter {
  writeMessage: (this: FrameWriter, message: Buffer, compress: boolean) => Promise<Buffer>;
}

let installed: boolean | undefined;

/** Loads grpc-js's internal modules, the same instances its public entry point uses. */
const require = createRequire(import.meta.url);

/**
 * Makes grpc-js send the frames of framedBuffer() messages and withFrame() values as they are
 * (see above). Idempotent. Returns false, changing nothing, if this grpc-js does not have the
 * internals it relies on: a CompressionFilter whose uncompressed sender frames messages in
 * `writeMessage(message, compress)`, and a BaseServerInterceptingCall that serializes and
 * frames replies in `serializeMessage(value)`. Those internals are checked at run time,
 * never assumed.
 */
export function useSharedFrames(): boolean {
  if (installed !== undefined) return installed;
  installed = false;
  const writer = identityWriter();
  const server = serverCallPrototype();
  if (writer === undefined || server === undefined) return false;
  const write = writer.writeMessage;
  writer.writeMessage = function writeMessage(this: FrameWriter, message: Buffer, compress: boolean) {
    const frame = compress ? undefined : frameOf(message);
    return frame !== undefined ? Promise.resolve(frame) : write.call(this, message, compress);
  };
  const serialize = server.serializeMessage;
  server.serializeMessage = function serializeMessage(this: ServerFrameWriter, value: unknown) {
    const frame = typeof value === "object" && value !== null ? valueFrames.get(value) : undefined;
    return frame ?? serialize.call(this, value);
  };
  installed = true;
  return true;
}

/** The part of grpc-js's server send path that useSharedFrames() takes over. */
interface ServerFrameWriter {
  serializeMessage: (this: ServerFrameWriter, value: unknown) => Buffer;
}

/** grpc-js's BaseServerInterceptingCall prototype, if it frames replies in serializeMessage(value). */
function serverCallPrototype(): ServerFrameWriter | undefined {
  try {
    const calls = require("@grpc/grpc-js/build/src/server-interceptors.js") as {
      BaseServerInterceptingCall?: { prototype?: Partial<ServerFrameWriter> };
    };
    const prototype = calls.BaseServerInterceptingCall?.prototype;
    if (typeof prototype?.serializeMessage !== "function" || prototype.serializeMessage.length !== 1)
      return undefined;
    return prototype as ServerFrameWriter;
  } catch {
    return undefined;
  }
}

/** The prototype of grpc-js's IdentityHandler (not exported), found through a filter. */
function identityWriter(): FrameWriter | undefined {
  try {
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

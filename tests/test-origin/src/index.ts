/**
 * The fake image origin of imgcache's server and reliability tests: {@link FakeOrigin}, a
 * Glance API or plain store on node:http, and {@link RawOrigin}, the same routes on raw
 * sockets for bodies that lie about their framing.
 */
export { FakeOrigin, type FakeOriginOptions, type RecordedUpload } from './fake-origin.js';
export { originGate, type FakeImage, type OriginGate } from './fake-image.js';
export { RawOrigin, LIE_BYTES, type Lie, type RawImage } from './raw-origin.js';
export { byteRange, glanceDocument, glanceRoute, hex, type ByteRange, type GlanceRoute } from './glance.js';

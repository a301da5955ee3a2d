// Zip files for Lambda's Code.ZipFile (stored, no compression: inline code is small) and reading a function's
// zip back (stored or deflated, inflated by the browser's DecompressionStream).
const CRC = new Uint32Array(256).map((_, n) => {
  let c = n;
  for (let k = 0; k < 8; k++) c = c & 1 ? 0xedb88320 ^ (c >>> 1) : c >>> 1;
  return c >>> 0;
});
const crc32 = (data) => {
  let c = 0xffffffff;
  for (const b of data) c = CRC[(c ^ b) & 0xff] ^ (c >>> 8);
  return (c ^ 0xffffffff) >>> 0;
};

export function makeZip(files) {
  const enc = new TextEncoder();
  const locals = [], centrals = [];
  let offset = 0;
  for (const [name, text] of Object.entries(files)) {
    const nameBytes = enc.encode(name), data = enc.encode(text), crc = crc32(data);
    const local = new DataView(new ArrayBuffer(30));
    local.setUint32(0, 0x04034b50, true); local.setUint16(4, 20, true); local.setUint16(8, 0, true);
    local.setUint32(14, crc, true); local.setUint32(18, data.length, true); local.setUint32(22, data.length, true);
    local.setUint16(26, nameBytes.length, true);
    const central = new DataView(new ArrayBuffer(46));
    central.setUint32(0, 0x02014b50, true); central.setUint16(4, 0x0314, true); central.setUint16(6, 20, true);
    central.setUint32(16, crc, true); central.setUint32(20, data.length, true); central.setUint32(24, data.length, true);
    central.setUint16(28, nameBytes.length, true); central.setUint32(38, 0o100644 << 16, true);
    central.setUint32(42, offset, true);
    locals.push(new Uint8Array(local.buffer), nameBytes, data);
    centrals.push(new Uint8Array(central.buffer), nameBytes);
    offset += 30 + nameBytes.length + data.length;
  }
  const size = centrals.reduce((n, part) => n + part.length, 0);
  const end = new DataView(new ArrayBuffer(22));
  end.setUint32(0, 0x06054b50, true); end.setUint16(8, centrals.length / 2, true);
  end.setUint16(10, centrals.length / 2, true); end.setUint32(12, size, true); end.setUint32(16, offset, true);
  return new Blob([...locals, ...centrals, end.buffer]);
}

export async function zipBase64(files) {
  const data = new Uint8Array(await makeZip(files).arrayBuffer());
  let binary = "";
  for (let i = 0; i < data.length; i += 0x8000) binary += String.fromCharCode(...data.subarray(i, i + 0x8000));
  return btoa(binary);
}

// {name: text} of a zip's files (at most `limit` bytes each are decoded; larger ones are listed as null).
export async function readZip(buffer, limit = 256 * 1024) {
  const view = new DataView(buffer), data = new Uint8Array(buffer), dec = new TextDecoder();
  let end = data.length - 22;
  while (end >= 0 && view.getUint32(end, true) !== 0x06054b50) end--;
  if (end < 0) throw new Error("not a zip file");
  const count = view.getUint16(end + 10, true);
  let at = view.getUint32(end + 16, true);
  const files = {};
  for (let i = 0; i < count; i++) {
    const method = view.getUint16(at + 10, true), packed = view.getUint32(at + 20, true);
    const size = view.getUint32(at + 24, true), nameLength = view.getUint16(at + 28, true);
    const extra = view.getUint16(at + 30, true), comment = view.getUint16(at + 32, true);
    const local = view.getUint32(at + 42, true);
    const name = dec.decode(data.subarray(at + 46, at + 46 + nameLength));
    at += 46 + nameLength + extra + comment;
    if (name.endsWith("/")) continue;
    if (size > limit) { files[name] = null; continue; }
    const start = local + 30 + view.getUint16(local + 26, true) + view.getUint16(local + 28, true);
    let body = data.subarray(start, start + packed);
    if (method === 8) {
      const stream = new Blob([body]).stream().pipeThrough(new DecompressionStream("deflate-raw"));
      body = new Uint8Array(await new Response(stream).arrayBuffer());
    }
    files[name] = dec.decode(body);
  }
  return files;
}

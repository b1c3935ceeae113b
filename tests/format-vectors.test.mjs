// An independent check of the format's vectors with Node's own crypto
// (OpenSSL), not the Rust code that wrote them: the sealed segment opens
// with ChaCha20-Poly1305 under the listed segment key, zero nonce and the
// specified associated data (docs/FORMAT.md).
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { readFileSync } from 'node:fs';
import { createDecipheriv } from 'node:crypto';

const vectors = JSON.parse(readFileSync(new URL('../crate/tests/vectors/format_v1.json', import.meta.url)));

test('the sealed-segment vector opens with OpenSSL ChaCha20-Poly1305', () => {
  const v = vectors.sealedSegment;
  const sealed = Buffer.from(v.sealed, 'hex');
  const plainLen = v.plaintext.length / 2;
  const ciphertext = sealed.subarray(0, plainLen);
  const tag = sealed.subarray(plainLen, plainLen + 16);
  const aad = Buffer.alloc(10);
  aad[0] = vectors.formatVersion;
  aad.writeBigUInt64LE(BigInt(v.index), 1);
  aad[9] = v.last ? 1 : 0;
  const decipher = createDecipheriv('chacha20-poly1305', Buffer.from(vectors.keys.segment0, 'hex'), Buffer.alloc(12), { authTagLength: 16 });
  decipher.setAAD(aad, { plaintextLength: plainLen });
  decipher.setAuthTag(tag);
  const plain = Buffer.concat([decipher.update(ciphertext), decipher.final()]);
  assert.equal(plain.toString('hex'), v.plaintext);
  // The shard is padded to an even length with zeros.
  assert.ok(sealed.subarray(plainLen + 16).every((b) => b === 0));
});

test('the manifest vector is a sealed MGNT blob of version 1 whose tag checks', () => {
  const blob = Buffer.from(vectors.file.manifestBlob, 'hex');
  assert.equal(blob.subarray(0, 4).toString(), 'MGNT');
  assert.equal(blob[4], 1);
  const body = blob.subarray(5, blob.length - 16);
  const decipher = createDecipheriv('chacha20-poly1305', Buffer.from(vectors.keys.manifest, 'hex'), Buffer.alloc(12), { authTagLength: 16 });
  decipher.setAAD(blob.subarray(0, 5), { plaintextLength: body.length });
  decipher.setAuthTag(blob.subarray(blob.length - 16));
  const plain = Buffer.concat([decipher.update(body), decipher.final()]);
  assert.equal(plain.readBigUInt64LE(0), 150n, 'file size');
  assert.equal(plain.readUInt32LE(8), 64, 'segment size');
  assert.deepEqual([plain[12], plain[13]], [2, 4], 'k and n');
  const nameLen = plain.readUInt16LE(14);
  assert.equal(plain.subarray(16, 16 + nameLen).toString(), 'hello.txt');
});

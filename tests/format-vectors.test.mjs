// An independent check of the format's vectors with Node's own crypto
// (OpenSSL), not the Rust code that wrote them: the sealed segment opens
// with ChaCha20-Poly1305 under the listed segment key, zero nonce and the
// specified associated data, and the manifest under its layout key (and,
// from version 2, the name and type inside it under the metadata key), as
// docs/FORMAT.md says.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { readFileSync } from 'node:fs';
import { createDecipheriv } from 'node:crypto';

const load = (v) => JSON.parse(readFileSync(new URL(`../crate/tests/vectors/format_v${v}.json`, import.meta.url)));

/** ChaCha20-Poly1305 with a zero nonce: `sealed` is ciphertext then the 16-byte tag. */
function open(keyHex, aad, sealed) {
  const body = sealed.subarray(0, sealed.length - 16);
  const decipher = createDecipheriv('chacha20-poly1305', Buffer.from(keyHex, 'hex'), Buffer.alloc(12), { authTagLength: 16 });
  decipher.setAAD(aad, { plaintextLength: body.length });
  decipher.setAuthTag(sealed.subarray(sealed.length - 16));
  return Buffer.concat([decipher.update(body), decipher.final()]);
}

for (const version of [1, 2]) {
  const vectors = load(version);

  test(`version ${version}: the sealed-segment vector opens with OpenSSL ChaCha20-Poly1305`, () => {
    assert.equal(vectors.formatVersion, version);
    const v = vectors.sealedSegment;
    const sealed = Buffer.from(v.sealed, 'hex');
    const plainLen = v.plaintext.length / 2;
    const aad = Buffer.alloc(10);
    aad[0] = version;
    aad.writeBigUInt64LE(BigInt(v.index), 1);
    aad[9] = v.last ? 1 : 0;
    const plain = open(vectors.keys.segment0, aad, sealed.subarray(0, plainLen + 16));
    assert.equal(plain.toString('hex'), v.plaintext);
    // The shard is padded to an even length with zeros.
    assert.ok(sealed.subarray(plainLen + 16).every((b) => b === 0));
  });

  test(`version ${version}: the manifest vector is a sealed MGNT blob whose layout opens`, () => {
    const blob = Buffer.from(vectors.file.manifestBlob, 'hex');
    assert.equal(blob.subarray(0, 4).toString(), 'MGNT');
    assert.equal(blob[4], version);
    const header = blob.subarray(0, 5);
    const plain = open(vectors.keys.manifest ?? vectors.keys.layout, header, blob.subarray(5));
    assert.equal(plain.readBigUInt64LE(0), 150n, 'file size');
    assert.equal(plain.readUInt32LE(8), 64, 'segment size');
    assert.deepEqual([plain[12], plain[13]], [2, 4], 'k and n');
    let texts = plain.subarray(14);
    if (version >= 2) {
      // The layout holds the name and type sealed: the layout key alone
      // (the repair capability) does not show them.
      const len = plain.readUInt16LE(14);
      const sealed = plain.subarray(16, 16 + len);
      assert.ok(!sealed.includes(Buffer.from('hello.txt')));
      texts = open(vectors.keys.metadata, header, sealed);
    }
    const nameLen = texts.readUInt16LE(0);
    assert.equal(texts.subarray(2, 2 + nameLen).toString(), 'hello.txt');
  });
}

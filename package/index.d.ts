// Types of the `meganet` package: the browser peer's public API, written by
// hand from crate/src/wasm/peer.rs and the Rust types it serializes (names
// in brackets). tests/package.test.mjs checks that every member declared on
// `Peer` exists on a running peer, that every error code matches
// crate/src/code.rs, and that this file has no `any`.

/** Why something failed, in a word a program can act on ([`ErrorCode`], crate/src/code.rs). */
export type ErrorCode =
  | 'link-malformed'
  | 'link-version'
  | 'manifest-tampered'
  | 'wrong-key'
  | 'manifest-malformed'
  | 'segment-auth'
  | 'not-found'
  | 'unavailable'
  | 'not-connected'
  | 'storage-full'
  | 'over-budget'
  | 'refused'
  | 'timeout'
  | 'too-large'
  | 'invalid-argument'
  | 'input-failed'
  | 'stopped'
  | 'protocol'
  | 'internal'
  | 'stream-lost'
  | 'no-streaming';

/** Every error code, in crate order. */
export declare const ERROR_CODES: readonly ErrorCode[];

/**
 * What every promise of the API rejects with, and every stream errors
 * with: an `Error` whose `code` says why. Choose what to do by `code`,
 * never by `message` (which is for people and may change).
 */
export interface MeganetError extends Error {
  readonly code: ErrorCode;
}

/** True when `e` is an `Error` carrying one of {@link ERROR_CODES}. */
export declare function isMeganetError(e: unknown): e is MeganetError;

/**
 * Loads the wasm module (once; `Peer.start` calls it). `wasm` overrides
 * where the module comes from (default: `meganet_bg.wasm` beside the
 * package's `index.js`).
 */
export declare function load(wasm?: string | URL | Request | Response | BufferSource | WebAssembly.Module): Promise<void>;

/** A file's link: `<page origin>/#2.<hash>.<key>` (the fragment alone works too). */
export type Link = string;

/** `Peer.start`'s options ([`peer::Options`]). */
export interface StartOptions {
  /** Where the node publishes its addresses; default `/bootstrap.json` on the page's origin. A page on another origin names its node: `http://node.example:8080/bootstrap.json`. */
  bootstrapUrl?: string;
  /** IndexedDB database holding this browser's identity; default `meganet-identity`. */
  identityDb?: string;
  /** Reach other browsers only through nodes' relays, so none learns this browser's address. */
  private?: boolean;
}

/** Where a transfer is ([`transfer::Stage`]). */
export type Stage = 'connecting' | 'encoding' | 'storing' | 'fetching' | 'done';

/** One progress report of a put or get ([`transfer::Progress`]). */
export interface Progress {
  readonly stage: Stage;
  /** Plaintext bytes done. */
  readonly done: number;
  /** Plaintext bytes in all (0 while reading a stream of unknown length). */
  readonly total: number;
  /** Shard bytes sent to (put) or received from (get) each holder, by peer id. */
  readonly peers: Readonly<Record<string, number>>;
  /** With `linkFirst`: the link, once the file is encoded (it already works). */
  readonly link?: Link;
}

/** Called with each progress report. */
export type OnProgress = (progress: Progress) => void;

/** What `put` stores: a `File` (named and typed by itself), a `Blob`, or a stream of bytes. */
export type PutInput = Blob | ReadableStream<Uint8Array>;

/** `put`'s options. */
export interface PutOptions {
  onProgress?: OnProgress;
  /** A stream's file name (a `File` has its own). */
  name?: string;
  /** A stream's media type (a `Blob` has its own). */
  type?: string;
  /** Encode into this browser first and report the link early (`progress.link`, stage `encoding`). */
  linkFirst?: boolean;
}

/** `get`'s options: progress, and a byte range to fetch only part of the file. */
export interface GetOptions {
  onProgress?: OnProgress;
  /** First byte (default 0). */
  start?: number;
  /** One past the last byte (default: the file's size). */
  end?: number;
}

/** An opened file: its metadata, and its bytes `start..end` as they arrive, verified and decrypted. */
export interface OpenedFile {
  readonly name: string;
  readonly size: number;
  /** Media type ('' when unknown). */
  readonly type: string;
  readonly start: number;
  readonly end: number;
  /** Cancelling it stops the fetching; it errors with a {@link MeganetError}. */
  readonly stream: ReadableStream<Uint8Array>;
}

/** `healthy` (survives losing any one holder), `at-risk` (rebuildable now, one loss away from not) or `unavailable`. */
export type HealthState = 'healthy' | 'at-risk' | 'unavailable';

/** One holder audited by `health` ([`HolderReport`]). */
export interface HolderReport {
  /** `node`, or a peer id. */
  readonly id: string;
  readonly kind: 'node' | 'browser';
  /** `evictable`: a browser whose storage was not made persistent, which the browser may clear (it takes half the copies). */
  readonly storage: 'durable' | 'evictable';
  /** It answered (one that did not may only be away). */
  readonly reached: boolean;
  readonly claimed: number;
  readonly audited: number;
  readonly proven: number;
  readonly counted: number;
  /** Reputation from these audits, 0 to 1. */
  readonly score: number;
  /** Why audits failed (a few). */
  readonly failures: readonly string[];
}

/** How many of a stored file's shards can be reached now ([`Health`]). */
export interface Health {
  readonly name: string;
  /** Any `k` shards of a segment rebuild it. */
  readonly k: number;
  /** Shards per segment. */
  readonly n: number;
  readonly segments: number;
  /** The fewest live shards of any segment. */
  readonly weakest: number;
  /** The same after losing the holder whose loss hurts most. */
  readonly weakestAfterOneLoss: number;
  /** Nodes rebuild a segment with fewer live shards than this. */
  readonly repairThreshold: number;
  readonly state: HealthState;
  /** Live shards counted on each holder: `node` or a peer id. */
  readonly holders: Readonly<Record<string, number>>;
  readonly holderList: readonly HolderReport[];
  /** The peers the manifest names as holders. */
  readonly hinted: readonly string[];
  readonly audits: number;
  readonly failedAudits: number;
  /** Holders asked that did not answer. */
  readonly unreached: number;
  /** One string per segment (the first 256), one character per shard: `n` on a node, `b` on browsers only, `e` only on browsers that may clear it, `-` nowhere proven. */
  readonly pieces: readonly string[];
}

/** What one `renew` did ([`transfer::Renewal`]). */
export interface Renewal {
  /** Blocks of the file: its manifest and every shard. */
  readonly blocks: number;
  /** Blocks some holder renewed. */
  readonly renewed: number;
  /** Holders asked. */
  readonly holders: number;
  /** Holders that could not be asked. */
  readonly failed: number;
}

/** What one `repair` pass found and did ([`transfer::Repaired`]). */
export interface Repaired {
  readonly weakestBefore: number;
  readonly weakestAfter: number;
  /** Shards that counted only because their holder was away. */
  readonly away: number;
  readonly segments: number;
  readonly shards: number;
  readonly bytes: number;
  /** Segments with fewer than `k` live shards. */
  readonly unrepairable: readonly number[];
  readonly holders: number;
  readonly failedAudits: number;
  /** Repair waited for a holder never reached before. */
  readonly deferred: boolean;
}

/** `contribute`'s options. */
export interface ContributeOptions {
  /** Store shards for others (true), or stop (what is stored stays until `leave`). */
  enabled: boolean;
  /** Bytes offered for others' data (default 1 GiB). */
  quotaBytes?: number;
}

/** What leaving, or a lowered quota, did with the shards held for others ([`HandedOff`]). */
export interface HandedOff {
  /** Shards, and their bytes, a node took before they were deleted. */
  readonly handedOff: number;
  readonly handedOffBytes: number;
  /** Shards deleted without a new holder. */
  readonly dropped: number;
}

/** What `contribute` resolves to ([`contribute::State`]). */
export interface ContributionState {
  readonly enabled: boolean;
  readonly quotaBytes: number;
  /** The browser promised not to evict the data (`navigator.storage.persist()`). */
  readonly persisted: boolean;
  readonly storedBytes: number;
  readonly storedShards: number;
  /** What a lowered quota evicted, handed off first. */
  readonly evicted: HandedOff;
}

/** Bytes held for others now ([`Usage`]); zeros while not contributing. */
export interface Usage {
  readonly contributed: number;
  readonly entries: number;
  readonly quota: number;
  readonly effectiveQuota: number;
}

/** A name link resolved to its newest version. */
export interface ResolvedName {
  /** The site link's bare fragment `2.<hash>.<key>`. */
  readonly link: string;
  readonly version: number;
  /** Unix milliseconds. */
  readonly signedAt: number;
  /** The signed record (at most 1 KiB; opens only with the link's read key): keep it and hand it to `republishName` so the name outlives nodes that lose it. */
  readonly record: Uint8Array;
}

/** What `republishName` resolves to: the newest record, ours or the nodes'. */
export interface RepublishedName {
  readonly record: Uint8Array;
  readonly version: number;
  /** Unix milliseconds. */
  readonly signedAt: number;
  /** True when the nodes held none or an older record and took this one. */
  readonly put: boolean;
}

/** What `publishName` resolves to. */
export interface PublishedName {
  /** The name link's bare fragment `n1.<publisher>.<read key>`: always opens the newest version. */
  readonly nameLink: string;
  /** The name's key, as `meganet publish --name` keeps it in a file: whoever holds it publishes versions. */
  readonly key: string;
  readonly version: number;
  /** Unix milliseconds. */
  readonly signedAt: number;
  /** The signed record, as in [`ResolvedName`]. */
  readonly record: Uint8Array;
}

/** The link to the bootstrap node ([`NodeLink`]). */
export interface NodeStatus {
  readonly state: 'connecting' | 'connected' | 'unreachable';
  readonly peerId?: string;
  readonly transport?: string;
  readonly addr?: string;
  /** Why the last attempt failed, in plain words. */
  readonly error?: string;
  /** When unreachable: milliseconds until the next attempt. */
  readonly retryInMs?: number;
  /** How many other nodes of the network the node named. */
  readonly otherNodes: number;
  readonly repairThreshold?: number;
  /** How long the node keeps a block after its last renewal, in seconds. */
  readonly leaseSecs?: number;
}

/** One open connection. */
export interface ConnectionStatus {
  readonly peerId: string;
  readonly transport: string;
  readonly addr: string;
  readonly path: 'direct' | 'relayed';
}

/** A snapshot of the peer ([`PeerStatus`]). */
export interface Status {
  readonly peerId: string;
  readonly node: NodeStatus;
  readonly connections: readonly ConnectionStatus[];
  readonly listenAddrs: readonly string[];
  /** How this peer reaches other browsers. */
  readonly paths: 'direct' | 'no-webrtc' | 'private';
}

/**
 * A running browser peer. Every promise rejects with a {@link MeganetError}.
 *
 * ```ts
 * const peer = await Peer.start({ bootstrapUrl: 'https://node.example/bootstrap.json' });
 * const link = await peer.put(file, { onProgress: (p) => console.log(p.stage, p.done, p.total) });
 * const { stream } = await peer.get(link);
 * ```
 */
export declare class Peer {
  private constructor();
  /** Loads the wasm module (once), loads or creates this browser's identity, and connects to the node (reconnecting as needed). */
  static start(options?: StartOptions): Promise<Peer>;
  /** This peer's id. */
  readonly id: string;
  /** A snapshot: the node link and every open connection. */
  status(): Status;
  /** Calls `callback` whenever the status changes (at most 64 listeners). */
  onStatus(callback: (status: Status) => void): void;
  /** Stores a file on the network; resolves to its link once every piece is placed (safe to close the page). */
  put(input: PutInput, options?: PutOptions): Promise<Link>;
  /** Opens the file a link names, once its manifest is fetched and checked. */
  get(link: Link, options?: GetOptions): Promise<OpenedFile>;
  /** Audits how many of a stored file's shards can be reached now. */
  health(link: Link): Promise<Health>;
  /** Renews an upload's lease on the nodes (`status().node.leaseSecs`). */
  renew(link: Link): Promise<Renewal>;
  /** Repairs one of this browser's uploads; refused (`refused`) unless the contribution policy allows background work. */
  repair(link: Link): Promise<Repaired>;
  /** Stores shards for others, or stops; asks for persistent storage when switched on. */
  contribute(options: ContributeOptions): Promise<ContributionState>;
  /** What this peer stores for others now. */
  usage(): Usage;
  /** Stops contributing, hands what is stored for others to the node, and deletes it all. */
  leave(): Promise<HandedOff>;
  /** The `/webrtc` addresses of peers that store for others (excluding this one). */
  contributors(): Promise<string[]>;
  /** The `/webrtc` addresses of the peers the DHT lists as holders of the file `link` names. */
  providers(link: Link): Promise<string[]>;
  /** Connects directly to another browser at its `/webrtc` address. */
  dial(addr: string): Promise<void>;
  /** Resolves a name link (`#n1.…`) to its newest version. */
  resolveName(link: string): Promise<ResolvedName>;
  /** Publishes a site link (`2.…`) under a name: a new name without `key`, the next version of the name with the `key` text a first call returned (keep it secret). */
  publishName(siteLink: string, key?: string): Promise<PublishedName>;
  /** Puts a kept name record back on the nodes unless they hold a newer one; keep the record it resolves to. */
  republishName(record: Uint8Array): Promise<RepublishedName>;
  /** Frees the peer's wasm memory; the object is unusable afterwards. */
  free(): void;
}

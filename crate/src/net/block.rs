//! The block protocol `/meganet/block/1.0.0`: PUT, GET and HAS of
//! content-addressed blocks (shards and manifests) over libp2p
//! request-response, with a size-capped codec.
//!
//! Every message is one frame: `u32 length` then the body. Request bodies:
//! `1 || block` (PUT), `2 || hash` (GET), `3 || u16 count || hashes` (HAS),
//! `4 || key` (PROVIDE: announce yourself in the DHT as a holder of the
//! file whose provider key this is; answered `stored` with the key),
//! `5 || hash || u32 first chunk || u8 chunks` (AUDIT: prove you hold that
//! range of the shard, [`crate::audit`]), `6 || manifest hash || layout
//! key` (KEEP: a node keeps the file's repair capability and repairs it,
//! [`crate::format::RepairCap`]; anyone else refuses), `7 || u16 count ||
//! hashes` (RENEW), `8 || u16 n || ticket(n) || block` (PUT with a
//! placement ticket, [`super::ticket`]), `9 || hash || u32 size` (TICKET:
//! a node signs a placement ticket for that shard).
//! Response bodies: `1 || hash` (stored), `2 || block`, `3 || u16 count ||
//! bitmap || [1]` (have; the trailing `1` when the holder's storage may be
//! evicted, [`Storage::Evictable`], absent when it is durable), `4 || hash` (not found), `5 || u16 code || message`
//! (error), `6 || proof` (at most [`MAX_PROOF`] bytes), `7 || ticket`. A frame over the limit, or one that does not parse, is not
//! read further: it becomes [`BlockRequest::Invalid`] and is answered with
//! an error, never a panic.
//!
//! The bodies' codec ([`BlockRequest`] and [`BlockResponse`], `encode` and
//! `decode`) is plain bytes in, value out, and is compiled without the
//! `net` feature too, for the `block` fuzz target (`fuzz/`); the framing,
//! the libp2p codec (`BlockCodec`) and its `behaviour` need `net`.

use std::io;

#[cfg(feature = "net")]
use futures::{AsyncRead, AsyncReadExt, AsyncWrite, AsyncWriteExt};
#[cfg(feature = "net")]
use libp2p::StreamProtocol;

use super::ticket::{Ticket, MAX_TICKET};
use crate::audit::{ChunkRange, MAX_PROOF};
use crate::format::{LayoutKey, RepairCap};
use crate::hash::Hash;
use crate::store::{Class, Shard, Storage, Store, StoreError};

/// The protocol name.
#[cfg(feature = "net")]
pub const BLOCK_PROTOCOL: StreamProtocol = StreamProtocol::new("/meganet/block/1.0.0");
/// Largest block carried (the store's shard limit).
pub const MAX_BLOCK: usize = 4 << 20;
/// Largest frame: a block plus its tag and a placement ticket.
pub const MAX_FRAME: usize = MAX_BLOCK + 3 + MAX_TICKET;
/// Most hashes in one HAS.
pub const MAX_HAS: usize = 1024;
/// Longest error message.
pub const MAX_ERROR_LEN: usize = 1024;

/// A request.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum BlockRequest {
    /// Store this block (its address is its BLAKE3 hash). A contributing
    /// browser wants a node's ticket for it; nodes need none.
    Put {
        block: Vec<u8>,
        ticket: Option<Ticket>,
    },
    /// Send the block with this hash.
    Get(Hash),
    /// Which of these blocks do you hold?
    Has(Vec<Hash>),
    /// You hold shards of the file with this provider key: announce it.
    Provide(Hash),
    /// Prove you hold this range of the shard with this hash.
    Audit { hash: Hash, range: ChunkRange },
    /// Keep this file's repair capability and repair the file (nodes
    /// only; answered with `Stored(manifest hash)`).
    Keep(RepairCap),
    /// Renew the leases of these blocks (nodes keep a block a set time
    /// after its last renewal); answered with `Have`, one flag per hash:
    /// held (and renewed) or not. Peers that lease nothing just answer.
    Renew(Vec<Hash>),
    /// Sign a placement ticket for this shard (nodes only; answered with
    /// `Ticket`, charged to the asker's budget).
    Ticket { shard: Hash, size: u32 },
    /// A request that could not be read; answered with an error.
    Invalid(String),
}

/// Why a request failed.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
#[repr(u16)]
pub enum ErrorCode {
    /// Malformed or over a limit.
    BadRequest = 1,
    /// No room (quota or disk).
    Full = 2,
    /// The peer refuses (rate or concurrency limit, not contributing).
    Refused = 3,
    /// The holder failed.
    Internal = 4,
    /// The uploader, or its network address, has used its storage budget
    /// on this holder.
    OverBudget = 5,
    /// Over a rate limit: the same request may be sent again shortly.
    Busy = 6,
}

impl ErrorCode {
    fn from_u16(v: u16) -> Self {
        match v {
            1 => Self::BadRequest,
            2 => Self::Full,
            3 => Self::Refused,
            5 => Self::OverBudget,
            6 => Self::Busy,
            _ => Self::Internal,
        }
    }
}

/// A response.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum BlockResponse {
    /// The block is stored under this hash.
    Stored(Hash),
    /// The requested block.
    Block(Vec<u8>),
    /// One flag per asked hash, in order, and how the holder keeps them.
    Have { flags: Vec<bool>, storage: Storage },
    /// Not held here.
    NotFound(Hash),
    /// An audit's proof.
    Proof(Vec<u8>),
    /// A placement ticket.
    Ticket(Ticket),
    /// The request failed.
    Error { code: ErrorCode, message: String },
}

impl BlockResponse {
    /// What this answer is, in words, for error messages.
    pub fn kind(&self) -> &'static str {
        match self {
            Self::Stored(_) => "a PUT answer",
            Self::Block(_) => "a block",
            Self::Have { .. } => "a HAS answer",
            Self::NotFound(_) => "not found",
            Self::Proof(_) => "an audit proof",
            Self::Ticket(_) => "a placement ticket",
            Self::Error { .. } => "an error",
        }
    }

    /// A HAS (or RENEW) answer from a holder whose storage is durable.
    pub fn have(flags: Vec<bool>) -> Self {
        Self::Have {
            flags,
            storage: Storage::Durable,
        }
    }

    /// An error response.
    pub fn error(code: ErrorCode, message: impl Into<String>) -> Self {
        let mut message: String = message.into();
        if message.len() > MAX_ERROR_LEN {
            let mut cut = MAX_ERROR_LEN;
            while !message.is_char_boundary(cut) {
                cut -= 1;
            }
            message.truncate(cut);
        }
        Self::Error { code, message }
    }
}

fn hash_at(body: &[u8]) -> Option<Hash> {
    Some(Hash(body.get(..32)?.try_into().ok()?))
}

fn hashes(body: &[u8]) -> Result<Vec<Hash>, String> {
    let count = usize::from(u16::from_le_bytes(
        body.get(..2)
            .ok_or("missing count")?
            .try_into()
            .map_err(|_| "count")?,
    ));
    if count > MAX_HAS {
        return Err(format!("{count} hashes in one HAS (limit {MAX_HAS})"));
    }
    let rest = &body[2..];
    if rest.len() != count * 32 {
        return Err(format!(
            "{count} hashes announced, {} bytes follow",
            rest.len()
        ));
    }
    Ok(rest
        .chunks_exact(32)
        .map(|c| Hash(c.try_into().expect("32")))
        .collect())
}

/// A ticketed PUT's body after its tag: `u16 n || ticket(n) || block`.
fn ticketed_put(body: &[u8]) -> Result<BlockRequest, String> {
    let (len, rest) = body
        .split_at_checked(2)
        .ok_or("a ticketed PUT without its ticket")?;
    let len = usize::from(u16::from_le_bytes(len.try_into().expect("2 bytes")));
    let (ticket, block) = rest
        .split_at_checked(len)
        .ok_or("a ticketed PUT shorter than its ticket")?;
    if block.len() > MAX_BLOCK {
        return Err("block too large".into());
    }
    Ok(BlockRequest::Put {
        block: block.to_vec(),
        ticket: Some(Ticket::decode(ticket).map_err(|e| e.to_string())?),
    })
}

/// A tag, a `u16` count and the hashes (HAS and RENEW).
fn encode_hashes(tag: u8, list: &[Hash]) -> Vec<u8> {
    let mut out = vec![tag];
    out.extend_from_slice(&(list.len() as u16).to_le_bytes());
    list.iter().for_each(|h| out.extend_from_slice(&h.0));
    out
}

impl BlockRequest {
    /// A PUT without a ticket (to a node).
    pub fn put(block: Vec<u8>) -> Self {
        Self::Put {
            block,
            ticket: None,
        }
    }

    /// Serializes the body.
    pub fn encode(&self) -> Vec<u8> {
        match self {
            Self::Put {
                block,
                ticket: None,
            } => [&[1u8][..], block].concat(),
            Self::Put {
                block,
                ticket: Some(ticket),
            } => {
                let ticket = ticket.encode();
                let len = (ticket.len() as u16).to_le_bytes();
                [&[8u8][..], &len, &ticket, block].concat()
            }
            Self::Get(hash) => [&[2u8][..], &hash.0].concat(),
            Self::Has(list) => encode_hashes(3, list),
            Self::Provide(key) => [&[4u8][..], &key.0].concat(),
            Self::Audit { hash, range } => {
                let mut out = vec![5u8];
                out.extend_from_slice(&hash.0);
                out.extend_from_slice(&range.first.to_le_bytes());
                out.push(range.count);
                out
            }
            Self::Keep(cap) => [&[6u8][..], &cap.manifest.0, &cap.key.0].concat(),
            Self::Renew(list) => encode_hashes(7, list),
            Self::Ticket { shard, size } => [&[9u8][..], &shard.0, &size.to_le_bytes()].concat(),
            Self::Invalid(_) => vec![0],
        }
    }

    /// Parses a body; anything malformed becomes `Invalid` with the reason.
    pub fn decode(body: &[u8]) -> Self {
        let invalid = |r: &str| Self::Invalid(r.to_owned());
        match body.split_first() {
            Some((1, block)) if block.len() <= MAX_BLOCK => Self::Put {
                block: block.to_vec(),
                ticket: None,
            },
            Some((1, _)) => invalid("block too large"),
            Some((8, rest)) => ticketed_put(rest).unwrap_or_else(Self::Invalid),
            Some((2, rest)) if rest.len() == 32 => Self::Get(hash_at(rest).expect("32 bytes")),
            Some((2, _)) => invalid("GET carries exactly one 32-byte hash"),
            Some((3, rest)) => hashes(rest).map_or_else(Self::Invalid, Self::Has),
            Some((4, rest)) if rest.len() == 32 => Self::Provide(hash_at(rest).expect("32 bytes")),
            Some((4, _)) => invalid("PROVIDE carries exactly one 32-byte key"),
            Some((5, rest)) if rest.len() == 37 => Self::Audit {
                hash: hash_at(rest).expect("32 bytes"),
                range: ChunkRange {
                    first: u32::from_le_bytes(rest[32..36].try_into().expect("4 bytes")),
                    count: rest[36],
                },
            },
            Some((5, _)) => invalid("AUDIT carries a hash, a first chunk and a count (37 bytes)"),
            Some((6, rest)) if rest.len() == 64 => Self::Keep(RepairCap {
                manifest: hash_at(rest).expect("32 bytes"),
                key: LayoutKey(rest[32..].try_into().expect("32 bytes")),
            }),
            Some((6, _)) => invalid("KEEP carries a manifest hash and a layout key (64 bytes)"),
            Some((7, rest)) => hashes(rest).map_or_else(Self::Invalid, Self::Renew),
            Some((9, rest)) if rest.len() == 36 => {
                let size = u32::from_le_bytes(rest[32..].try_into().expect("4 bytes"));
                match size as usize <= MAX_BLOCK {
                    true => Self::Ticket {
                        shard: hash_at(rest).expect("32 bytes"),
                        size,
                    },
                    false => invalid("TICKET for a shard over the block limit"),
                }
            }
            Some((9, _)) => invalid("TICKET carries a hash and a size (36 bytes)"),
            Some((tag, _)) => Self::Invalid(format!("unknown request type {tag}")),
            None => invalid("empty request"),
        }
    }
}

impl BlockResponse {
    /// Serializes the body.
    pub fn encode(&self) -> Vec<u8> {
        match self {
            Self::Stored(hash) => [&[1u8][..], &hash.0].concat(),
            Self::Block(block) => [&[2u8][..], block].concat(),
            Self::Have { flags, storage } => {
                let mut out = vec![3u8];
                out.extend_from_slice(&(flags.len() as u16).to_le_bytes());
                let mut bits = vec![0u8; flags.len().div_ceil(8)];
                for (i, _) in flags.iter().enumerate().filter(|(_, f)| **f) {
                    bits[i / 8] |= 1 << (i % 8);
                }
                out.extend(bits);
                if *storage == Storage::Evictable {
                    out.push(1);
                }
                out
            }
            Self::NotFound(hash) => [&[4u8][..], &hash.0].concat(),
            Self::Proof(proof) => [&[6u8][..], proof].concat(),
            Self::Ticket(ticket) => [&[7u8][..], &ticket.encode()].concat(),
            Self::Error { code, message } => {
                let mut out = vec![5u8];
                out.extend_from_slice(&(*code as u16).to_le_bytes());
                out.extend_from_slice(message.as_bytes());
                out
            }
        }
    }

    /// Parses a body.
    pub fn decode(body: &[u8]) -> io::Result<Self> {
        let bad = |r: &str| {
            io::Error::new(
                io::ErrorKind::InvalidData,
                format!("malformed block response: {r}"),
            )
        };
        match body.split_first() {
            Some((1, rest)) if rest.len() == 32 => Ok(Self::Stored(hash_at(rest).expect("32"))),
            Some((2, block)) if block.len() <= MAX_BLOCK => Ok(Self::Block(block.to_vec())),
            Some((3, rest)) if rest.len() >= 2 => {
                let count = usize::from(u16::from_le_bytes([rest[0], rest[1]]));
                let bits = &rest[2..];
                let storage = match bits.get(count.div_ceil(8)..) {
                    Some([]) => Storage::Durable,
                    Some([1]) => Storage::Evictable,
                    _ => return Err(bad("bitmap length")),
                };
                if count > MAX_HAS {
                    return Err(bad("bitmap length"));
                }
                let flags = (0..count)
                    .map(|i| bits[i / 8] & (1 << (i % 8)) != 0)
                    .collect();
                Ok(Self::Have { flags, storage })
            }
            Some((4, rest)) if rest.len() == 32 => Ok(Self::NotFound(hash_at(rest).expect("32"))),
            // Invalid UTF-8 becomes U+FFFD, three bytes for one: `error`
            // cuts the message back to its limit, so that what decodes
            // also re-encodes to a body that decodes.
            Some((5, rest)) if rest.len() >= 2 && rest.len() - 2 <= MAX_ERROR_LEN => {
                Ok(Self::error(
                    ErrorCode::from_u16(u16::from_le_bytes([rest[0], rest[1]])),
                    String::from_utf8_lossy(&rest[2..]),
                ))
            }
            Some((6, proof)) if proof.len() <= MAX_PROOF => Ok(Self::Proof(proof.to_vec())),
            Some((7, ticket)) => Ticket::decode(ticket)
                .map(Self::Ticket)
                .map_err(|e| bad(&e.to_string())),
            _ => Err(bad("unknown type or wrong length")),
        }
    }
}

/// Reads one frame; `Err(reason)` when its declared length is over `limit`
/// (the body is then not read).
#[cfg(feature = "net")]
async fn read_frame<T: AsyncRead + Unpin>(
    io: &mut T,
    limit: usize,
) -> io::Result<Result<Vec<u8>, String>> {
    let mut len = [0u8; 4];
    io.read_exact(&mut len).await?;
    let len = u32::from_le_bytes(len) as usize;
    if len > limit {
        return Ok(Err(format!(
            "a {len}-byte message exceeds the limit of {limit}"
        )));
    }
    let mut body = vec![0u8; len];
    io.read_exact(&mut body).await?;
    Ok(Ok(body))
}

#[cfg(feature = "net")]
async fn write_frame<T: AsyncWrite + Unpin>(io: &mut T, body: &[u8]) -> io::Result<()> {
    io.write_all(&(body.len() as u32).to_le_bytes()).await?;
    io.write_all(body).await?;
    io.close().await
}

/// The request-response codec.
#[cfg(feature = "net")]
#[derive(Debug, Clone, Copy, Default)]
pub struct BlockCodec;

#[cfg(feature = "net")]
impl libp2p::request_response::Codec for BlockCodec {
    type Protocol = StreamProtocol;
    type Request = BlockRequest;
    type Response = BlockResponse;

    async fn read_request<T>(&mut self, _: &StreamProtocol, io: &mut T) -> io::Result<BlockRequest>
    where
        T: AsyncRead + Unpin + Send,
    {
        Ok(match read_frame(io, MAX_FRAME).await? {
            Ok(body) => BlockRequest::decode(&body),
            Err(reason) => BlockRequest::Invalid(reason),
        })
    }

    async fn read_response<T>(
        &mut self,
        _: &StreamProtocol,
        io: &mut T,
    ) -> io::Result<BlockResponse>
    where
        T: AsyncRead + Unpin + Send,
    {
        match read_frame(io, MAX_FRAME).await? {
            Ok(body) => BlockResponse::decode(&body),
            Err(reason) => Err(io::Error::new(io::ErrorKind::InvalidData, reason)),
        }
    }

    async fn write_request<T>(
        &mut self,
        _: &StreamProtocol,
        io: &mut T,
        req: BlockRequest,
    ) -> io::Result<()>
    where
        T: AsyncWrite + Unpin + Send,
    {
        write_frame(io, &req.encode()).await
    }

    async fn write_response<T>(
        &mut self,
        _: &StreamProtocol,
        io: &mut T,
        res: BlockResponse,
    ) -> io::Result<()>
    where
        T: AsyncWrite + Unpin + Send,
    {
        write_frame(io, &res.encode()).await
    }
}

/// Most block requests one connection may have open at once.
pub const MAX_CONCURRENT_STREAMS: usize = 32;
/// How long a request may take before it fails.
pub const REQUEST_TIMEOUT: std::time::Duration = std::time::Duration::from_secs(60);

/// The request-response behaviour for this protocol.
#[cfg(feature = "net")]
pub fn behaviour(
    support: libp2p::request_response::ProtocolSupport,
) -> libp2p::request_response::Behaviour<BlockCodec> {
    libp2p::request_response::Behaviour::with_codec(
        BlockCodec,
        [(BLOCK_PROTOCOL, support)],
        libp2p::request_response::Config::default()
            .with_request_timeout(REQUEST_TIMEOUT)
            .with_max_concurrent_streams(MAX_CONCURRENT_STREAMS),
    )
}

/// The answer to a request the store could not carry out.
pub fn fail(e: StoreError) -> BlockResponse {
    let code = match e {
        StoreError::QuotaExceeded { .. } => ErrorCode::Full,
        StoreError::TooLarge { .. } | StoreError::TooMany { .. } => ErrorCode::BadRequest,
        _ => ErrorCode::Internal,
    };
    BlockResponse::error(code, e.to_string())
}

/// Answers one request from `store`; blocks that others PUT are kept as `class`.
pub async fn serve(store: &Store, class: Class, request: BlockRequest) -> BlockResponse {
    match request {
        BlockRequest::Put { block, .. } => {
            let shard = Shard::new(block);
            let hash = shard.hash();
            match store.put(shard, class).await {
                Ok(()) => BlockResponse::Stored(hash),
                Err(e) => fail(e),
            }
        }
        BlockRequest::Get(hash) => match store.get(hash).await {
            Ok(bytes) => BlockResponse::Block(bytes),
            Err(StoreError::NotFound(_) | StoreError::Corrupt { .. }) => {
                BlockResponse::NotFound(hash)
            }
            Err(e) => fail(e),
        },
        BlockRequest::Has(list) | BlockRequest::Renew(list) => match store.has(&list) {
            Ok(flags) => BlockResponse::Have {
                flags,
                storage: store.storage(),
            },
            Err(e) => fail(e),
        },
        BlockRequest::Audit { hash, range } => match store.get(hash).await {
            Ok(bytes) => match crate::audit::prove(&bytes, range) {
                Ok(proof) => BlockResponse::Proof(proof),
                Err(e) => BlockResponse::error(ErrorCode::BadRequest, e.to_string()),
            },
            Err(StoreError::NotFound(_) | StoreError::Corrupt { .. }) => {
                BlockResponse::NotFound(hash)
            }
            Err(e) => fail(e),
        },
        // Only browsers announce what they hold: a node is always asked.
        BlockRequest::Provide(key) => BlockResponse::Stored(key),
        // Nodes answer KEEP themselves (node::repair); anyone else refuses.
        BlockRequest::Keep(_) => {
            BlockResponse::error(ErrorCode::Refused, "only nodes keep repair capabilities")
        }
        // Nodes sign tickets themselves (node::swarm); anyone else refuses.
        BlockRequest::Ticket { .. } => {
            BlockResponse::error(ErrorCode::Refused, "only nodes sign placement tickets")
        }
        BlockRequest::Invalid(reason) => BlockResponse::error(ErrorCode::BadRequest, reason),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn requests_round_trip() {
        for req in [
            BlockRequest::put(vec![1, 2, 3]),
            BlockRequest::put(vec![]),
            BlockRequest::Put {
                block: vec![4; 100],
                ticket: Some(sample_ticket()),
            },
            BlockRequest::Ticket {
                shard: Hash([2; 32]),
                size: 0x0003_0201,
            },
            BlockRequest::Provide(Hash([7; 32])),
            BlockRequest::Keep(RepairCap {
                manifest: Hash([8; 32]),
                key: LayoutKey([9; 32]),
            }),
            BlockRequest::Get(Hash([5; 32])),
            BlockRequest::Has(vec![Hash([1; 32]), Hash([2; 32])]),
            BlockRequest::Renew(vec![Hash([3; 32])]),
            BlockRequest::Renew(vec![]),
            BlockRequest::Audit {
                hash: Hash([6; 32]),
                range: ChunkRange {
                    first: 0x0102_0304,
                    count: 2,
                },
            },
        ] {
            assert_eq!(BlockRequest::decode(&req.encode()), req);
        }
    }

    #[test]
    fn responses_round_trip() {
        for res in [
            BlockResponse::Stored(Hash([3; 32])),
            BlockResponse::Block(vec![9; 100]),
            BlockResponse::have(vec![
                true, false, true, true, false, false, false, false, true,
            ]),
            BlockResponse::Have {
                flags: vec![false; 8],
                storage: Storage::Evictable,
            },
            BlockResponse::Have {
                flags: vec![],
                storage: Storage::Evictable,
            },
            BlockResponse::NotFound(Hash([4; 32])),
            BlockResponse::Proof(vec![8; MAX_PROOF]),
            BlockResponse::Ticket(sample_ticket()),
            BlockResponse::error(ErrorCode::Full, "quota"),
        ] {
            assert_eq!(BlockResponse::decode(&res.encode()).unwrap(), res);
        }
    }

    fn sample_ticket() -> Ticket {
        Ticket {
            shard: Hash([1; 32]),
            size: 100,
            expires_s: 1_000_000,
            signer: vec![3; 38],
            signature: vec![4; 64],
        }
    }

    #[test]
    fn malformed_requests_become_invalid() {
        let ticket = sample_ticket().encode();
        let len = (ticket.len() as u16).to_le_bytes();
        let short_ticket = [&[8u8][..], &len, &ticket[..10]].concat();
        let bad_ticket = [&[8u8][..], &[3, 0], &[1, 2, 3]].concat();
        let huge = [&[8u8][..], &len, &ticket, &vec![0; MAX_BLOCK + 1]].concat();
        for body in [
            &[][..],
            &[9],
            &[2, 1, 2],
            &[3, 5, 0, 1],
            &[4, 1],
            &[5; 37],
            &[8, 1],
            &[[9u8].as_slice(), &[0; 32], &u32::MAX.to_le_bytes()].concat(),
            &short_ticket,
            &bad_ticket,
            &huge,
        ] {
            assert!(
                matches!(BlockRequest::decode(body), BlockRequest::Invalid(_)),
                "{body:?}"
            );
        }
        let mut many = vec![3u8];
        many.extend_from_slice(&2000u16.to_le_bytes());
        many.extend(vec![0u8; 2000 * 32]);
        assert!(
            matches!(BlockRequest::decode(&many), BlockRequest::Invalid(r) if r.contains("limit"))
        );
    }

    #[test]
    fn a_holder_answers_audits_from_its_store() {
        use crate::store::Config;
        futures::executor::block_on(async {
            let store = Store::memory(Config { quota: 1 << 30 }, None);
            let bytes: Vec<u8> = (0..9000u32).map(|i| i as u8).collect();
            let hash = Hash::of(&bytes);
            let put = serve(&store, Class::Contributed, BlockRequest::put(bytes)).await;
            assert_eq!(put, BlockResponse::Stored(hash));
            let range = ChunkRange { first: 7, count: 2 };
            let audit = |hash, range| BlockRequest::Audit { hash, range };
            match serve(&store, Class::Contributed, audit(hash, range)).await {
                BlockResponse::Proof(proof) => {
                    crate::audit::verify(&hash, 9000, range, &proof).unwrap()
                }
                other => panic!("{other:?}"),
            }
            let missing = Hash([9; 32]);
            assert_eq!(
                serve(&store, Class::Contributed, audit(missing, range)).await,
                BlockResponse::NotFound(missing)
            );
            let past = ChunkRange { first: 9, count: 1 };
            assert!(matches!(
                serve(&store, Class::Contributed, audit(hash, past)).await,
                BlockResponse::Error { code: ErrorCode::BadRequest, message } if message.contains("does not fit")
            ));
        });
    }

    /// Found by the `block` fuzz target: an error message with more than
    /// a third of its limit in invalid UTF-8 grew past the limit when
    /// decoded (each bad byte becomes U+FFFD, three bytes), so its
    /// re-encoding was refused by the decoder.
    #[test]
    fn a_decoded_error_message_stays_within_its_limit() {
        let mut body = vec![5u8];
        body.extend_from_slice(&(ErrorCode::Full as u16).to_le_bytes());
        body.extend(vec![0xff; MAX_ERROR_LEN]);
        let res = BlockResponse::decode(&body).unwrap();
        match &res {
            BlockResponse::Error { code, message } => {
                assert_eq!(*code, ErrorCode::Full);
                assert!(message.len() <= MAX_ERROR_LEN, "{}", message.len());
                assert!(message.chars().all(|c| c == char::REPLACEMENT_CHARACTER));
            }
            other => panic!("{other:?}"),
        }
        assert_eq!(BlockResponse::decode(&res.encode()).unwrap(), res);
    }

    #[test]
    fn a_have_answer_says_its_storage_in_one_canonical_way() {
        let decode = |body: &[u8]| BlockResponse::decode(body).ok();
        let have = |storage| BlockResponse::Have {
            flags: vec![true, false, true],
            storage,
        };
        assert_eq!(decode(&[3, 3, 0, 0b101]), Some(have(Storage::Durable)));
        assert_eq!(decode(&[3, 3, 0, 0b101, 1]), Some(have(Storage::Evictable)));
        // Anything else after the bitmap, or a short bitmap, is refused.
        for bad in [
            &[3, 3, 0, 0b101, 0][..],
            &[3, 3, 0, 0b101, 2],
            &[3, 3, 0, 0b101, 1, 1],
            &[3, 9, 0, 1],
        ] {
            assert_eq!(decode(bad), None, "{bad:?}");
        }
    }

    #[test]
    fn an_oversized_proof_is_refused() {
        let body = [&[6u8][..], &vec![0; MAX_PROOF + 1]].concat();
        assert!(BlockResponse::decode(&body).is_err());
    }

    #[cfg(feature = "net")]
    #[test]
    fn oversized_frames_are_not_read() {
        let mut frame = (u32::MAX).to_le_bytes().to_vec();
        frame.extend_from_slice(&[1, 2, 3]);
        let mut io = futures::io::Cursor::new(frame);
        let req = futures::executor::block_on(libp2p::request_response::Codec::read_request(
            &mut BlockCodec,
            &BLOCK_PROTOCOL,
            &mut io,
        ))
        .unwrap();
        assert!(matches!(req, BlockRequest::Invalid(r) if r.contains("exceeds the limit")));
    }
}

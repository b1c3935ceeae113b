//! The stream over an in-memory channel ([`pipe`]): against another stream,
//! and against a scripted remote that sends and inspects raw messages.

use std::future::Future;
use std::io::ErrorKind;
use std::time::Duration;

use futures::{AsyncReadExt, AsyncWriteExt, FutureExt};

use super::message::{encode, Flag, Frame, Prefix};
use super::*;

mod pipe;
use pipe::{pair, End};

/// Longer than any test may take: a close that completes did not time out.
const LONG: Duration = Duration::from_secs(600);

async fn within<F: Future>(future: F) -> F::Output {
    tokio::time::timeout(Duration::from_secs(5), future)
        .await
        .expect("test timed out")
}

/// The messages that reached `end`, each checked to be one whole message.
fn received(end: &End) -> Vec<(Option<Flag>, Vec<u8>)> {
    let mut out = Vec::new();
    for m in end.take_messages() {
        assert!(m.len() <= MAX_MSG_LEN);
        let mut prefix = Prefix::default();
        let mut i = 0;
        let len = loop {
            if let Some(len) = prefix.push(m[i]).unwrap() {
                break len;
            }
            i += 1;
        };
        assert_eq!(
            m.len(),
            i + 1 + len,
            "one channel message, one stream message"
        );
        let frame = Frame::decode(m[i + 1..].to_vec()).unwrap();
        out.push((frame.flag, frame.data().to_vec()));
    }
    out
}

fn flag(flag: Flag) -> (Option<Flag>, Vec<u8>) {
    (Some(flag), Vec::new())
}

fn data(data: &[u8]) -> (Option<Flag>, Vec<u8>) {
    (None, data.to_vec())
}

fn send(end: &End, flag: Option<Flag>, data: &[u8]) {
    let mut m = Vec::new();
    encode(&mut m, flag, data);
    end.send_raw(&m);
}

/// A stream on one end of a fresh pipe, and the pipe's other end.
fn scripted() -> (Stream<End>, DropListener<End>, End) {
    let (ours, remote) = pair();
    let (stream, listener) = Stream::new(ours);
    (stream.with_close_timeout(LONG), listener, remote)
}

async fn close_read(stream: &mut Stream<End>) -> std::io::Result<()> {
    futures::future::poll_fn(|cx| Pin::new(&mut *stream).poll_close_read(cx)).await
}

fn pattern(len: usize) -> Vec<u8> {
    (0..len).map(|i| (i * 7 % 251) as u8).collect()
}

#[tokio::test]
async fn data_flows_both_ways() {
    let (a, b) = pair();
    let (mut x, _) = Stream::new(a);
    let (mut y, _) = Stream::new(b);
    let mut buf = [0; 5];
    x.write_all(b"hello").await.unwrap();
    y.read_exact(&mut buf).await.unwrap();
    assert_eq!(&buf, b"hello");
    y.write_all(b"world").await.unwrap();
    x.read_exact(&mut buf).await.unwrap();
    assert_eq!(&buf, b"world");
}

#[tokio::test]
async fn half_closes_exchange_fin_and_fin_ack() {
    let (a, b) = pair();
    let (x, x_listener) = Stream::new(a.clone());
    let (y, y_listener) = Stream::new(b.clone());
    let (mut x, mut y) = (x.with_close_timeout(LONG), y.with_close_timeout(LONG));

    x.write_all(b"request").await.unwrap();
    let mut request = Vec::new();
    let (closed, read) =
        within(async { futures::join!(x.close(), y.read_to_end(&mut request)) }).await;
    closed.unwrap();
    read.unwrap();
    assert_eq!(request, b"request");
    assert!(!x.is_closed() && !y.is_closed());

    y.write_all(b"response").await.unwrap();
    let mut response = Vec::new();
    let (closed, read) =
        within(async { futures::join!(y.close(), x.read_to_end(&mut response)) }).await;
    closed.unwrap();
    read.unwrap();
    assert_eq!(response, b"response");
    assert!(x.is_closed() && y.is_closed());

    drop((x, y));
    within(x_listener).await.unwrap();
    within(y_listener).await.unwrap();
    assert!(received(&a).is_empty() && received(&b).is_empty());
}

#[tokio::test]
async fn simultaneous_closes_ack_each_other() {
    let (a, b) = pair();
    let (x, _) = Stream::new(a);
    let (y, _) = Stream::new(b);
    let (mut x, mut y) = (x.with_close_timeout(LONG), y.with_close_timeout(LONG));
    x.write_all(b"x").await.unwrap();
    y.write_all(b"y").await.unwrap();
    let (x_closed, y_closed) = within(async { futures::join!(x.close(), y.close()) }).await;
    x_closed.unwrap();
    y_closed.unwrap();
    let (mut from_y, mut from_x) = (Vec::new(), Vec::new());
    x.read_to_end(&mut from_y).await.unwrap();
    y.read_to_end(&mut from_x).await.unwrap();
    assert_eq!((&from_x[..], &from_y[..]), (&b"x"[..], &b"y"[..]));
    assert!(x.is_closed() && y.is_closed());
}

#[tokio::test]
async fn split_halves_in_separate_tasks_wake_each_other() {
    let (x, _, remote) = scripted();
    let (mut reader, mut writer) = x.split();
    tokio::task::LocalSet::new()
        .run_until(async move {
            let closing = tokio::task::spawn_local(async move { writer.close().await });
            let reading = tokio::task::spawn_local(async move {
                let mut got = Vec::new();
                reader.read_to_end(&mut got).await.map(|_| got)
            });
            // Both halves wait on the channel before anything arrives.
            for _ in 0..10 {
                tokio::task::yield_now().await;
            }
            assert_eq!(received(&remote), [flag(Flag::Fin)]);
            // The FIN_ACK comes behind data only the reader takes.
            for i in 0..3 {
                send(&remote, None, &[i; 100]);
            }
            send(&remote, Some(Flag::FinAck), &[]);
            send(&remote, Some(Flag::Fin), &[]);
            within(closing).await.unwrap().unwrap();
            let got = within(reading).await.unwrap().unwrap();
            assert_eq!(got.len(), 300);
            assert_eq!(received(&remote), [flag(Flag::FinAck)]);
        })
        .await;
}

#[tokio::test]
async fn close_completes_when_the_remote_acks() {
    let (mut x, _, remote) = scripted();
    x.write_all(b"data").await.unwrap();
    assert!(x.close().now_or_never().is_none(), "waits for FIN_ACK");
    assert_eq!(received(&remote), [data(b"data"), flag(Flag::Fin)]);
    assert_eq!(
        x.write(b"more").await.unwrap_err().kind(),
        ErrorKind::BrokenPipe
    );

    send(&remote, Some(Flag::FinAck), &[]);
    within(x.close()).await.unwrap();
    assert!(!x.is_closed(), "the remote may still send");

    send(&remote, Some(Flag::Fin), &[]);
    assert_eq!(x.read(&mut [0; 8]).await.unwrap(), 0);
    assert_eq!(received(&remote), [flag(Flag::FinAck)]);
    assert!(x.is_closed());
}

#[tokio::test]
async fn close_gives_up_after_the_timeout() {
    let (ours, remote) = pair();
    let (x, listener) = Stream::new(ours);
    let mut x = x.with_close_timeout(Duration::from_millis(50));
    let start = tokio::time::Instant::now();
    within(x.close()).await.unwrap();
    assert!(start.elapsed() >= Duration::from_millis(50));
    assert_eq!(received(&remote), [flag(Flag::Fin)]);

    drop(x);
    within(listener).await.unwrap();
    assert!(received(&remote).is_empty(), "a closed stream is not reset");
}

#[tokio::test]
async fn close_completes_when_the_channel_ends() {
    let (mut x, listener, remote) = scripted();
    assert!(x.close().now_or_never().is_none());
    remote.close();
    within(x.close()).await.unwrap();
    assert!(x.is_closed());
    // No FIN came: the end is not a clean one.
    let err = x.read(&mut [0; 8]).await.unwrap_err();
    assert_eq!(err.kind(), ErrorKind::UnexpectedEof);
    drop(x);
    within(listener).await.unwrap();
}

#[tokio::test]
async fn close_reads_ahead_for_fin_ack_within_a_bound() {
    let (mut x, _, remote) = scripted();
    assert!(x.close().now_or_never().is_none());
    send(&remote, None, b"late");
    send(&remote, Some(Flag::FinAck), &[]);
    within(x.close()).await.unwrap();
    let mut buf = [0; 8];
    assert_eq!(x.read(&mut buf).await.unwrap(), 4);
    assert_eq!(&buf[..4], b"late");

    // Behind more unread data than that, the close waits for the reader.
    let (mut x, _, remote) = scripted();
    assert!(x.close().now_or_never().is_none());
    let chunk = pattern(MAX_DATA_LEN);
    for _ in 0..CLOSE_READ_AHEAD / MAX_DATA_LEN + 2 {
        send(&remote, None, &chunk);
    }
    send(&remote, Some(Flag::FinAck), &[]);
    assert!(x.close().now_or_never().is_none());
    assert!(x.unread.len() < CLOSE_READ_AHEAD + MAX_DATA_LEN);
    let mut two = vec![0; 2 * MAX_DATA_LEN];
    x.read_exact(&mut two).await.unwrap();
    within(x.close()).await.unwrap();
}

#[tokio::test]
async fn remote_fin_ends_reads_after_its_data_and_is_acked_once() {
    let (mut x, _, remote) = scripted();
    send(&remote, None, b"one");
    send(&remote, Some(Flag::Fin), b"two");
    send(&remote, Some(Flag::Fin), &[]);
    let mut got = Vec::new();
    within(x.read_to_end(&mut got)).await.unwrap();
    assert_eq!(got, b"onetwo");
    assert_eq!(x.read(&mut [0; 8]).await.unwrap(), 0, "EOF stays EOF");
    assert_eq!(received(&remote), [flag(Flag::FinAck)]);

    // Writing still works; the repeated FIN is read but not acked again.
    x.write_all(b"reply").await.unwrap();
    assert_eq!(received(&remote), [data(b"reply")]);
}

#[tokio::test]
async fn stop_sending_fails_writes_but_not_reads() {
    let (mut x, listener, remote) = scripted();
    x.write_all(b"a").await.unwrap();
    send(&remote, Some(Flag::StopSending), &[]);
    let err = x.write_all(b"b").await.unwrap_err();
    assert_eq!(err.kind(), ErrorKind::BrokenPipe);
    within(x.close()).await.unwrap();
    assert_eq!(
        received(&remote),
        [data(b"a")],
        "no FIN to a remote that stopped reading"
    );

    send(&remote, Some(Flag::Fin), b"bye");
    let mut got = Vec::new();
    x.read_to_end(&mut got).await.unwrap();
    assert_eq!(got, b"bye");
    assert_eq!(received(&remote), [flag(Flag::FinAck)]);
    assert!(x.is_closed());

    drop(x);
    within(listener).await.unwrap();
    assert!(received(&remote).is_empty());
}

#[tokio::test]
async fn reset_fails_reads_writes_and_close() {
    let (mut x, listener, remote) = scripted();
    send(&remote, None, b"before");
    send(&remote, Some(Flag::Reset), &[]);
    let mut buf = [0; 16];
    assert_eq!(
        x.read(&mut buf).await.unwrap(),
        6,
        "data read before the RESET"
    );
    assert_eq!(
        x.read(&mut buf).await.unwrap_err().kind(),
        ErrorKind::ConnectionReset
    );
    assert_eq!(
        x.write(b"x").await.unwrap_err().kind(),
        ErrorKind::ConnectionReset
    );
    assert_eq!(
        x.close().await.unwrap_err().kind(),
        ErrorKind::ConnectionReset
    );
    assert!(x.is_closed());
    drop(x);
    within(listener).await.unwrap();
    assert!(received(&remote).is_empty(), "no RESET back");

    // Data in the RESET message itself is dropped.
    let (mut x, _, remote) = scripted();
    send(&remote, Some(Flag::Reset), b"dropped");
    assert_eq!(
        x.read(&mut buf).await.unwrap_err().kind(),
        ErrorKind::ConnectionReset
    );
}

#[tokio::test]
async fn reset_ends_a_close_in_progress() {
    let (mut x, _, remote) = scripted();
    assert!(x.close().now_or_never().is_none());
    send(&remote, Some(Flag::Reset), &[]);
    within(x.close()).await.unwrap();
}

#[tokio::test]
async fn unknown_flags_and_fields_are_ignored() {
    let (mut x, _, remote) = scripted();
    // flag = 7, an unknown field 5, data "x".
    remote.send_raw(&[0x07, 0x08, 0x07, 0x28, 0x01, 0x12, 0x01, b'x']);
    send(&remote, Some(Flag::Fin), &[]);
    let mut got = Vec::new();
    within(x.read_to_end(&mut got)).await.unwrap();
    assert_eq!(got, b"x");
}

#[tokio::test]
async fn largest_message_is_accepted_and_larger_refused() {
    let (mut x, _, remote) = scripted();
    let payload = pattern(MAX_DATA_LEN);
    send(&remote, Some(Flag::Fin), &payload);
    let mut got = Vec::new();
    within(x.read_to_end(&mut got)).await.unwrap();
    assert_eq!(got, payload);

    let (mut x, _, remote) = scripted();
    // A length prefix saying 16383 bytes follow: 16385 in all.
    remote.send_raw(&[0xff, 0x7f]);
    let err = x.read(&mut [0; 8]).await.unwrap_err();
    assert_eq!(err.kind(), ErrorKind::InvalidData);
    let err = x.read(&mut [0; 8]).await.unwrap_err();
    assert_eq!(err.kind(), ErrorKind::InvalidData, "the framing stays lost");
}

#[tokio::test]
async fn malformed_messages_are_refused() {
    let (mut x, _, remote) = scripted();
    remote.send_raw(&[0x01, 0x0b]); // wire type 3
    let err = x.read(&mut [0; 8]).await.unwrap_err();
    assert_eq!(err.kind(), ErrorKind::InvalidData);

    let (mut x, _, remote) = scripted();
    remote.send_raw(&[0x05, 0x12]); // cut short by the channel's end
    remote.close();
    let err = x.read(&mut [0; 8]).await.unwrap_err();
    assert_eq!(err.kind(), ErrorKind::UnexpectedEof);
}

#[tokio::test]
async fn a_mebibyte_goes_as_whole_messages_of_at_most_16_kib() {
    let payload = pattern(1 << 20);
    let (mut x, _, remote) = scripted();
    x.write_all(&payload).await.unwrap();
    x.flush().await.unwrap();
    let messages = received(&remote);
    assert_eq!(messages.len(), payload.len().div_ceil(MAX_DATA_LEN));
    assert!(messages.iter().all(|(flag, _)| flag.is_none()));
    let sent: Vec<u8> = messages.into_iter().flat_map(|(_, d)| d).collect();
    assert_eq!(sent, payload);

    let (a, b) = pair();
    let (mut x, _) = Stream::new(a);
    let (mut y, _) = Stream::new(b);
    let mut got = Vec::new();
    let (sent, read) = within(async {
        futures::join!(
            async {
                x.write_all(&payload).await?;
                x.close().await
            },
            y.read_to_end(&mut got)
        )
    })
    .await;
    sent.unwrap();
    assert_eq!(read.unwrap(), payload.len());
    assert_eq!(got, payload);
}

#[tokio::test]
async fn partial_channel_writes_keep_the_byte_stream_intact() {
    let payload = pattern(100 * 1024);
    let (a, b) = pair();
    a.cap_writes(1000);
    let (mut x, _) = Stream::new(a);
    let (mut y, _) = Stream::new(b);
    let mut got = Vec::new();
    let (sent, read) = within(async {
        futures::join!(
            async {
                x.write_all(&payload).await?;
                x.close().await
            },
            y.read_to_end(&mut got)
        )
    })
    .await;
    sent.unwrap();
    read.unwrap();
    assert_eq!(got, payload);
}

#[tokio::test]
async fn drop_without_close_sends_reset() {
    let (mut x, mut listener, remote) = scripted();
    x.write_all(b"x").await.unwrap();
    assert!(
        (&mut listener).now_or_never().is_none(),
        "waits while the stream lives"
    );
    drop(x);
    within(listener).await.unwrap();
    assert_eq!(received(&remote), [data(b"x"), flag(Flag::Reset)]);
}

#[tokio::test]
async fn close_read_sends_stop_sending_and_still_acks_fin() {
    let (mut x, _, remote) = scripted();
    send(&remote, None, b"ignored");
    within(close_read(&mut x)).await.unwrap();
    assert_eq!(received(&remote), [flag(Flag::StopSending)]);
    assert_eq!(
        x.read(&mut [0; 8]).await.unwrap_err().kind(),
        ErrorKind::BrokenPipe
    );

    // The remote finishes anyway: its data is dropped, its FIN acked.
    send(&remote, None, b"more");
    send(&remote, Some(Flag::Fin), &[]);
    x.write_all(b"w").await.unwrap();
    assert_eq!(received(&remote), [flag(Flag::FinAck), data(b"w")]);
}

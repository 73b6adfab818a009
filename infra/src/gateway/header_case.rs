//! Header names as the client sent them, for the WebSocket API's events: API Gateway keeps a
//! handshake's `Sec-WebSocket-Key` or `X-Client-Id` as written, where hyper hands the gateway
//! lower-cased names (its own record of the case is private to it). So the WebSocket port's
//! listener keeps the names of each connection's first request head, read from the bytes as they
//! arrive; a handshake is always a connection's first request. (The HTTP API needs none of this:
//! payload 2.0 lower-cases every name, as hyper does.)

use std::net::SocketAddr;
use std::pin::Pin;
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::{Arc, Mutex};
use std::task::{Context, Poll};

use axum::extract::connect_info::Connected;
use axum::serve::{IncomingStream, Listener};
use tokio::io::{AsyncRead, AsyncWrite, ReadBuf};
use tokio::net::{TcpListener, TcpStream};

/// A request head bigger than this is not recorded (its names stay lower-cased).
const MAX_HEAD_BYTES: usize = 16 * 1024;

/// The WebSocket port's listener: TCP connections whose first request head is recorded.
pub(crate) struct CaseKeepingListener(pub TcpListener);

impl Listener for CaseKeepingListener {
    type Io = RecordingStream;
    type Addr = SocketAddr;

    async fn accept(&mut self) -> (Self::Io, Self::Addr) {
        let (inner, addr) = Listener::accept(&mut self.0).await;
        (RecordingStream { inner, head: Arc::default() }, addr)
    }

    fn local_addr(&self) -> std::io::Result<Self::Addr> {
        self.0.local_addr()
    }
}

#[derive(Default)]
struct Head {
    done: AtomicBool,
    bytes: Mutex<Vec<u8>>,
    names: Mutex<Vec<String>>,
}

impl Head {
    /// Adds bytes read; once the head is complete, keeps its header names and stops.
    fn record(&self, read: &[u8]) {
        let mut bytes = self.bytes.lock().expect("head lock");
        bytes.extend_from_slice(read);
        let Some(end) = bytes.windows(4).position(|w| w == b"\r\n\r\n") else {
            if bytes.len() > MAX_HEAD_BYTES {
                self.finish(&mut bytes);
            }
            return;
        };
        let head = String::from_utf8_lossy(&bytes[..end]);
        let names = head.split("\r\n").skip(1).filter_map(|line| line.split_once(':')).map(|(n, _)| n.trim());
        *self.names.lock().expect("names lock") = names.map(str::to_string).collect();
        self.finish(&mut bytes);
    }

    fn finish(&self, bytes: &mut Vec<u8>) {
        *bytes = Vec::new();
        self.done.store(true, Ordering::Release);
    }
}

pub(crate) struct RecordingStream {
    inner: TcpStream,
    head: Arc<Head>,
}

impl AsyncRead for RecordingStream {
    fn poll_read(mut self: Pin<&mut Self>, cx: &mut Context<'_>, buf: &mut ReadBuf<'_>) -> Poll<std::io::Result<()>> {
        let before = buf.filled().len();
        let polled = Pin::new(&mut self.inner).poll_read(cx, buf);
        if matches!(polled, Poll::Ready(Ok(()))) && !self.head.done.load(Ordering::Acquire) {
            self.head.record(&buf.filled()[before..]);
        }
        polled
    }
}

impl AsyncWrite for RecordingStream {
    fn poll_write(mut self: Pin<&mut Self>, cx: &mut Context<'_>, buf: &[u8]) -> Poll<std::io::Result<usize>> {
        Pin::new(&mut self.inner).poll_write(cx, buf)
    }
    fn poll_flush(mut self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<std::io::Result<()>> {
        Pin::new(&mut self.inner).poll_flush(cx)
    }
    fn poll_shutdown(mut self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<std::io::Result<()>> {
        Pin::new(&mut self.inner).poll_shutdown(cx)
    }
    fn poll_write_vectored(
        mut self: Pin<&mut Self>,
        cx: &mut Context<'_>,
        bufs: &[std::io::IoSlice<'_>],
    ) -> Poll<std::io::Result<usize>> {
        Pin::new(&mut self.inner).poll_write_vectored(cx, bufs)
    }
    fn is_write_vectored(&self) -> bool {
        self.inner.is_write_vectored()
    }
}

/// The peer's address and the header names of its connection's first request.
#[derive(Clone)]
pub(crate) struct Peer {
    pub addr: SocketAddr,
    head: Arc<Head>,
}

impl Connected<IncomingStream<'_, CaseKeepingListener>> for Peer {
    fn connect_info(stream: IncomingStream<'_, CaseKeepingListener>) -> Self {
        Peer { addr: *stream.remote_addr(), head: stream.io().head.clone() }
    }
}

impl Peer {
    /// `name` (lower-case, as hyper gives it) as the client wrote it, if it did.
    pub fn as_sent(&self, name: &str) -> Option<String> {
        self.head.names.lock().expect("names lock").iter().find(|n| n.eq_ignore_ascii_case(name)).cloned()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_names_of_the_first_head_are_kept_as_sent() {
        let head = Head::default();
        head.record(b"GET /?token=t HTTP/1.1\r\nHost: x\r\nSec-WebSocket-Key: k\r\n");
        assert!(!head.done.load(Ordering::Acquire), "not complete yet");
        head.record(b"X-Client-ID: 7\r\n\r\nrest");
        assert!(head.done.load(Ordering::Acquire));
        let peer = Peer { addr: "127.0.0.1:1".parse().unwrap(), head: Arc::new(head) };
        assert_eq!(peer.as_sent("sec-websocket-key").as_deref(), Some("Sec-WebSocket-Key"));
        assert_eq!(peer.as_sent("x-client-id").as_deref(), Some("X-Client-ID"));
        assert_eq!(peer.as_sent("accept"), None);
    }
}

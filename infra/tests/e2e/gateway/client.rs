//! A bare tokio-tungstenite client for the gateway's own rules: it sees close codes, handshake
//! headers and raw frames, which the chat-level `support::Ws` hides.

use std::time::Duration;

use futures::{SinkExt, StreamExt};
use tokio_tungstenite::tungstenite::client::IntoClientRequest;
use tokio_tungstenite::tungstenite::http::Response;
use tokio_tungstenite::tungstenite::protocol::CloseFrame;
use tokio_tungstenite::tungstenite::protocol::frame::Frame;
use tokio_tungstenite::tungstenite::protocol::frame::coding::{Data, OpCode};
use tokio_tungstenite::tungstenite::{Error, Message};

pub type Stream = tokio_tungstenite::WebSocketStream<tokio_tungstenite::MaybeTlsStream<tokio::net::TcpStream>>;

/// Generous: these waits end on a condition, the bound only catches a hang.
pub const CLOSE_WAIT: Duration = Duration::from_secs(15);

pub struct RawWs {
    pub stream: Stream,
    pub response: Response<Option<Vec<u8>>>,
}

/// Opens `url`, offering `subprotocols` (none: no `Sec-WebSocket-Protocol` header).
pub async fn open(url: &str, subprotocols: &[&str]) -> Result<RawWs, Error> {
    let mut request = url.into_client_request()?;
    if !subprotocols.is_empty() {
        request.headers_mut().insert("sec-websocket-protocol", subprotocols.join(", ").parse().unwrap());
    }
    let (stream, response) = tokio_tungstenite::connect_async(request).await?;
    Ok(RawWs { stream, response })
}

/// The HTTP status of a refused handshake.
pub fn refused_status(result: Result<RawWs, Error>) -> u16 {
    match result {
        Err(Error::Http(response)) => response.status().as_u16(),
        Err(e) => panic!("expected an HTTP refusal, got {e}"),
        Ok(_) => panic!("expected the handshake to be refused"),
    }
}

impl RawWs {
    pub async fn send_text(&mut self, text: &str) {
        self.stream.send(Message::Text(text.into())).await.expect("send");
    }

    /// One message split into frames of at most `frame_bytes` (RFC 6455 fragmentation).
    pub async fn send_fragmented(&mut self, text: &str, frame_bytes: usize) {
        let chunks: Vec<&[u8]> = text.as_bytes().chunks(frame_bytes).collect();
        for (i, chunk) in chunks.iter().enumerate() {
            let opcode = if i == 0 { OpCode::Data(Data::Text) } else { OpCode::Data(Data::Continue) };
            let frame = Frame::message(chunk.to_vec(), opcode, i + 1 == chunks.len());
            self.stream.send(Message::Frame(frame)).await.expect("send frame");
        }
    }

    /// The next text message, skipping control frames; None when the connection ends.
    pub async fn next_text(&mut self, wait: Duration) -> Option<String> {
        loop {
            match tokio::time::timeout(wait, self.stream.next()).await.ok()?? {
                Ok(Message::Text(text)) => return Some(text.to_string()),
                Ok(Message::Close(_)) | Err(_) => return None,
                Ok(_) => continue,
            }
        }
    }

    /// Reads until the server's close frame and returns it (None: the connection ended without one,
    /// as a client sees 1006). Text messages before it are skipped.
    pub async fn close_frame(&mut self) -> Option<CloseFrame> {
        let deadline = tokio::time::Instant::now() + CLOSE_WAIT;
        loop {
            let next = tokio::time::timeout_at(deadline, self.stream.next()).await.expect("the server should close");
            match next {
                Some(Ok(Message::Close(frame))) => return frame,
                Some(Ok(_)) => continue,
                Some(Err(_)) | None => return None,
            }
        }
    }
}

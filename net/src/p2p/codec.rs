//! Raw bytes over a libp2p request-response stream, bounded in size both ways, each message
//! framed by its length (a little-endian u32) so that one cut short — the connection closed
//! while it was under way, which a stream reports as its end — is an error and never passes
//! for a shorter message. A response starts with a status byte, so an answer the peer never
//! gave (it dropped the request, or closed the stream) is told from an empty one.

use std::io;

use futures::prelude::*;
use libp2p::StreamProtocol;
use libp2p::request_response as rr;

/// Requests and responses as bytes, at most `max_request` and `max_response` of them.
#[derive(Clone, Copy, Debug)]
pub struct BytesCodec {
    /// Largest request read, in bytes.
    pub max_request: u64,
    /// Largest response read, in bytes.
    pub max_response: u64,
}

/// Reads one framed message of at most `max` bytes: `InvalidData` when it says it is longer,
/// `UnexpectedEof` when the stream ends before it does.
async fn read_framed<T: AsyncRead + Unpin>(io: &mut T, max: u64) -> io::Result<Vec<u8>> {
    let mut len = [0u8; 4];
    io.read_exact(&mut len).await?;
    let len = u64::from(u32::from_le_bytes(len));
    if len > max {
        return Err(io::Error::new(
            io::ErrorKind::InvalidData,
            format!("a message of {len} bytes, more than {max}"),
        ));
    }
    let mut bytes = Vec::new();
    io.take(len).read_to_end(&mut bytes).await?;
    if (bytes.len() as u64) < len {
        return Err(io::Error::new(
            io::ErrorKind::UnexpectedEof,
            format!(
                "the stream ended {} bytes into a message of {len}",
                bytes.len()
            ),
        ));
    }
    Ok(bytes)
}

/// Writes `bytes` framed by their length.
async fn write_framed<T: AsyncWrite + Unpin>(io: &mut T, bytes: &[u8]) -> io::Result<()> {
    let len = u32::try_from(bytes.len())
        .map_err(|_| io::Error::new(io::ErrorKind::InvalidInput, "a message over 4 GiB"))?;
    io.write_all(&len.to_le_bytes()).await?;
    io.write_all(bytes).await
}

/// The status byte of an answer.
const ANSWERED: u8 = 0;

impl rr::Codec for BytesCodec {
    type Protocol = StreamProtocol;
    type Request = Vec<u8>;
    type Response = Vec<u8>;

    async fn read_request<T>(&mut self, _: &StreamProtocol, io: &mut T) -> io::Result<Vec<u8>>
    where
        T: AsyncRead + Unpin + Send,
    {
        read_framed(io, self.max_request).await
    }

    async fn read_response<T>(&mut self, _: &StreamProtocol, io: &mut T) -> io::Result<Vec<u8>>
    where
        T: AsyncRead + Unpin + Send,
    {
        let mut status = [0u8; 1];
        match io.read_exact(&mut status).await {
            Ok(()) if status[0] == ANSWERED => read_framed(io, self.max_response).await,
            Ok(()) => Err(io::Error::new(
                io::ErrorKind::InvalidData,
                format!("an unknown answer status {}", status[0]),
            )),
            Err(e) if e.kind() == io::ErrorKind::UnexpectedEof => Err(io::Error::new(
                io::ErrorKind::UnexpectedEof,
                "the peer gave no answer",
            )),
            Err(e) => Err(e),
        }
    }

    async fn write_request<T>(
        &mut self,
        _: &StreamProtocol,
        io: &mut T,
        request: Vec<u8>,
    ) -> io::Result<()>
    where
        T: AsyncWrite + Unpin + Send,
    {
        write_framed(io, &request).await?;
        io.close().await
    }

    async fn write_response<T>(
        &mut self,
        _: &StreamProtocol,
        io: &mut T,
        response: Vec<u8>,
    ) -> io::Result<()>
    where
        T: AsyncWrite + Unpin + Send,
    {
        io.write_all(&[ANSWERED]).await?;
        write_framed(io, &response).await?;
        io.close().await
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use futures::executor::block_on;
    use futures::io::Cursor;

    fn framed(bytes: &[u8]) -> Vec<u8> {
        let mut out = Vec::new();
        block_on(write_framed(&mut out, bytes)).unwrap();
        out
    }

    #[test]
    fn a_framed_message_reads_back_whole() {
        let wire = framed(b"a vote");
        assert_eq!(
            block_on(read_framed(&mut Cursor::new(wire), 64)).unwrap(),
            b"a vote"
        );
        assert_eq!(
            block_on(read_framed(&mut Cursor::new(framed(b"")), 64)).unwrap(),
            b""
        );
    }

    #[test]
    fn a_message_cut_short_is_an_error_not_a_shorter_message() {
        let wire = framed(b"a proposal of some length");
        for cut in 0..wire.len() {
            let e = block_on(read_framed(&mut Cursor::new(&wire[..cut]), 64)).unwrap_err();
            assert_eq!(e.kind(), io::ErrorKind::UnexpectedEof, "cut at {cut}");
        }
    }

    #[test]
    fn a_length_over_the_limit_is_refused_before_reading() {
        let wire = framed(&[7u8; 65]);
        let e = block_on(read_framed(&mut Cursor::new(wire), 64)).unwrap_err();
        assert_eq!(e.kind(), io::ErrorKind::InvalidData);
    }
}

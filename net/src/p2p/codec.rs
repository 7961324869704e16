//! Raw bytes over a libp2p request-response stream, bounded in size both ways. A response
//! starts with a status byte, so an answer the peer never gave (it dropped the request, or
//! closed the stream) is told from an empty one.

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

/// Reads everything the writer sends (it closes its side when done), refusing more than `max`.
async fn read_capped<T: AsyncRead + Unpin>(io: &mut T, max: u64) -> io::Result<Vec<u8>> {
    let mut bytes = Vec::new();
    io.take(max.saturating_add(1))
        .read_to_end(&mut bytes)
        .await?;
    if bytes.len() as u64 > max {
        return Err(io::Error::new(
            io::ErrorKind::InvalidData,
            format!("more than {max} bytes"),
        ));
    }
    Ok(bytes)
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
        read_capped(io, self.max_request).await
    }

    async fn read_response<T>(&mut self, _: &StreamProtocol, io: &mut T) -> io::Result<Vec<u8>>
    where
        T: AsyncRead + Unpin + Send,
    {
        let mut bytes = read_capped(io, self.max_response.saturating_add(1)).await?;
        if bytes.first() != Some(&ANSWERED) {
            return Err(io::Error::new(
                io::ErrorKind::UnexpectedEof,
                "the peer gave no answer",
            ));
        }
        bytes.remove(0);
        Ok(bytes)
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
        io.write_all(&request).await?;
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
        io.write_all(&response).await?;
        io.close().await
    }
}

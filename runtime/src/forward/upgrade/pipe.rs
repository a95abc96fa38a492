//! One direction of a tunnel, copied without a buffer of its own while the bytes flow: each read
//! lands in a buffer on the stack and is written on at once. Only when the writer cannot take all
//! of it (the far side reads slowly) is the rest kept, on the heap, and nothing more is read until
//! it has gone: at most [`PIPE_CHUNK`] bytes per direction wait in meshd, and an idle tunnel holds
//! no buffer at all (most WebSockets are idle most of the time).

use std::io;
use std::mem::MaybeUninit;
use std::pin::Pin;
use std::task::{ready, Context, Poll};

use bytes::{Buf, BytesMut};
use tokio::io::{AsyncRead, AsyncWrite, ReadBuf};

/// The most bytes read at once, and so the most kept per direction when the writer is slow.
pub const PIPE_CHUNK: usize = 16 * 1024;

/// The state of one direction.
#[derive(Debug, Default)]
pub struct Pipe {
    /// Bytes read and not yet written (only while the writer is slow).
    pending: Option<BytesMut>,
    /// Bytes were written and not flushed yet.
    need_flush: bool,
    /// The reader reached its end; the writer is being shut down.
    read_done: bool,
}

impl Pipe {
    /// Copies from `reader` to `writer` until the reader ends (then shuts the writer down:
    /// a half-close) or either side fails.
    pub fn poll_copy<R, W>(
        &mut self,
        cx: &mut Context<'_>,
        mut reader: Pin<&mut R>,
        mut writer: Pin<&mut W>,
    ) -> Poll<io::Result<()>>
    where
        R: AsyncRead + ?Sized,
        W: AsyncWrite + ?Sized,
    {
        loop {
            if let Some(pending) = &mut self.pending {
                while !pending.is_empty() {
                    let written = ready!(writer.as_mut().poll_write(cx, pending))?;
                    if written == 0 {
                        return Poll::Ready(Err(io::ErrorKind::WriteZero.into()));
                    }
                    pending.advance(written);
                    self.need_flush = true;
                }
                self.pending = None;
            }
            if self.read_done {
                ready!(writer.as_mut().poll_flush(cx))?;
                return writer.as_mut().poll_shutdown(cx);
            }
            let mut stack = [MaybeUninit::<u8>::uninit(); PIPE_CHUNK];
            let mut read = ReadBuf::uninit(&mut stack);
            match reader.as_mut().poll_read(cx, &mut read) {
                Poll::Pending => {
                    // Nothing more to read now: push out what the writer may still hold (TLS).
                    if self.need_flush && writer.as_mut().poll_flush(cx)?.is_ready() {
                        self.need_flush = false;
                    }
                    return Poll::Pending;
                }
                Poll::Ready(result) => result?,
            }
            let data = read.filled();
            if data.is_empty() {
                self.read_done = true;
                continue;
            }
            let mut at = 0;
            while at < data.len() {
                match writer.as_mut().poll_write(cx, &data[at..]) {
                    Poll::Ready(Ok(0)) => return Poll::Ready(Err(io::ErrorKind::WriteZero.into())),
                    Poll::Ready(Ok(written)) => {
                        at += written;
                        self.need_flush = true;
                    }
                    Poll::Ready(Err(error)) => return Poll::Ready(Err(error)),
                    Poll::Pending => {
                        self.pending = Some(BytesMut::from(&data[at..]));
                        return Poll::Pending;
                    }
                }
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use std::task::Waker;

    use super::*;

    #[test]
    fn a_writer_that_does_not_take_stops_the_reading_with_one_chunk_kept() {
        let source = vec![7u8; 100 * 1024];
        let mut reader: &[u8] = &source;
        let (mut writer, _far) = tokio::io::duplex(64);
        let mut pipe = Pipe::default();
        let mut cx = Context::from_waker(Waker::noop());
        for _ in 0..3 {
            let polled = pipe.poll_copy(&mut cx, Pin::new(&mut reader), Pin::new(&mut writer));
            assert!(polled.is_pending());
        }
        let kept = pipe.pending.as_ref().map_or(0, BytesMut::len);
        assert_eq!(
            kept,
            PIPE_CHUNK - 64,
            "one read, of which the writer took 64 bytes"
        );
        assert_eq!(
            reader.len(),
            source.len() - PIPE_CHUNK,
            "nothing more was read"
        );
    }

    #[test]
    fn an_idle_pipe_keeps_no_buffer_and_an_ended_reader_shuts_the_writer() {
        let (mut reader, mut feed) = tokio::io::duplex(1024);
        let (mut writer, mut out) = tokio::io::duplex(1024);
        let mut pipe = Pipe::default();
        let mut cx = Context::from_waker(Waker::noop());
        let polled = pipe.poll_copy(&mut cx, Pin::new(&mut reader), Pin::new(&mut writer));
        assert!(polled.is_pending() && pipe.pending.is_none());
        let rt = tokio::runtime::Builder::new_current_thread()
            .build()
            .unwrap();
        rt.block_on(async {
            use tokio::io::{AsyncReadExt, AsyncWriteExt};
            feed.write_all(b"hello").await.unwrap();
            drop(feed);
            std::future::poll_fn(|cx| {
                pipe.poll_copy(cx, Pin::new(&mut reader), Pin::new(&mut writer))
            })
            .await
            .unwrap();
            let mut got = Vec::new();
            out.read_to_end(&mut got).await.unwrap();
            assert_eq!(got, b"hello");
        });
    }
}

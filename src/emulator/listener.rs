//! The accept loop, with connections a handler can cut.
//!
//! The drop and stall faults must leave a request *unanswered*, which an axum handler
//! cannot do by itself: whatever it returns is written. So every connection is wrapped in a
//! [`KillableStream`] whose [`ConnHandle`] reaches the handlers as connect info; once a
//! handler kills it, every read and write fails and hyper closes the socket without having
//! sent a byte of the answer.

use std::io;
use std::pin::Pin;
use std::sync::Arc;
use std::sync::atomic::{AtomicBool, Ordering};
use std::task::{Context, Poll};
use std::time::Duration;

use axum::extract::connect_info::Connected;
use axum::serve::{IncomingStream, Listener};
use tokio::io::{AsyncRead, AsyncWrite, ReadBuf};
use tokio::net::{TcpListener, TcpStream};
use tokio_util::sync::CancellationToken;

use super::routes::{self, AppState};

/// Cuts one connection: after [`ConnHandle::kill`] it is closed without an answer.
#[derive(Clone, Debug, Default)]
pub struct ConnHandle(Arc<AtomicBool>);

impl ConnHandle {
    /// Marks the connection dead; hyper closes it at its next read or write.
    pub fn kill(&self) {
        self.0.store(true, Ordering::Release);
    }

    fn killed(&self) -> bool {
        self.0.load(Ordering::Acquire)
    }
}

/// A TCP stream that fails every operation once its [`ConnHandle`] is killed.
pub struct KillableStream {
    inner: TcpStream,
    handle: ConnHandle,
}

fn aborted() -> io::Error {
    io::Error::new(io::ErrorKind::ConnectionAborted, "dropped by the emulator")
}

impl AsyncRead for KillableStream {
    fn poll_read(
        mut self: Pin<&mut Self>,
        cx: &mut Context<'_>,
        buf: &mut ReadBuf<'_>,
    ) -> Poll<io::Result<()>> {
        if self.handle.killed() {
            return Poll::Ready(Err(aborted()));
        }
        Pin::new(&mut self.inner).poll_read(cx, buf)
    }
}

impl AsyncWrite for KillableStream {
    fn poll_write(
        mut self: Pin<&mut Self>,
        cx: &mut Context<'_>,
        buf: &[u8],
    ) -> Poll<io::Result<usize>> {
        if self.handle.killed() {
            return Poll::Ready(Err(aborted()));
        }
        Pin::new(&mut self.inner).poll_write(cx, buf)
    }

    fn poll_flush(mut self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<io::Result<()>> {
        if self.handle.killed() {
            return Poll::Ready(Err(aborted()));
        }
        Pin::new(&mut self.inner).poll_flush(cx)
    }

    fn poll_shutdown(mut self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<io::Result<()>> {
        Pin::new(&mut self.inner).poll_shutdown(cx)
    }
}

/// A TCP listener handing out [`KillableStream`]s.
pub struct KillableListener(TcpListener);

impl Listener for KillableListener {
    type Io = KillableStream;
    type Addr = std::net::SocketAddr;

    async fn accept(&mut self) -> (Self::Io, Self::Addr) {
        loop {
            match self.0.accept().await {
                Ok((inner, addr)) => {
                    // Small request/answer exchanges: Nagle's delay would dominate latency.
                    let _ = inner.set_nodelay(true);
                    let handle = ConnHandle::default();
                    return (KillableStream { inner, handle }, addr);
                }
                // Running out of file descriptors under a benchmark must not end the
                // server; back off briefly as axum's own listener does.
                Err(error) => {
                    tracing::debug!(%error, "accept failed");
                    tokio::time::sleep(Duration::from_millis(50)).await;
                }
            }
        }
    }

    fn local_addr(&self) -> io::Result<Self::Addr> {
        self.0.local_addr()
    }
}

impl Connected<IncomingStream<'_, KillableListener>> for ConnHandle {
    fn connect_info(stream: IncomingStream<'_, KillableListener>) -> Self {
        stream.io().handle.clone()
    }
}

/// Serves `state` on `listener` until `cancel` fires, then finishes gracefully.
pub async fn serve(listener: TcpListener, state: Arc<AppState>, cancel: CancellationToken) {
    let app = routes::router(state).into_make_service_with_connect_info::<ConnHandle>();
    let server = axum::serve(KillableListener(listener), app)
        .with_graceful_shutdown(cancel.cancelled_owned());
    if let Err(error) = server.await {
        tracing::error!(%error, "emulator server stopped");
    }
}

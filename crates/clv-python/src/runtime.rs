//! The Tokio runtime clv owns inside the loaded library.
//!
//! The extension is a separate shared object with its own copy of Tokio: the host's
//! (datafusion-python's) runtime is invisible to it, so code that spawns tasks or blocks on
//! I/O (DataFusion's repartitioning, file listing, `block_in_place`) would find no runtime.
//! clv builds one multi-threaded runtime on first use, hands its handle to every
//! `FFI_TableFunction` (datafusion-ffi enters it while executing plans and polling streams)
//! and enters it itself where datafusion-ffi does not (calling a table function, planning a
//! scan): see [`Entered`].

use std::future::Future;
use std::pin::Pin;
use std::sync::OnceLock;
use std::task::{Context, Poll};

use datafusion::common::{DataFusionError, Result};
use tokio::runtime::{Builder, Handle, Runtime};

static RUNTIME: OnceLock<Runtime> = OnceLock::new();

/// The handle of clv's runtime, built on first use (worker threads = available cores).
pub fn handle() -> Result<Handle> {
    if let Some(rt) = RUNTIME.get() {
        return Ok(rt.handle().clone());
    }
    let rt = Builder::new_multi_thread()
        .thread_name("clv-worker")
        .enable_all()
        .build()
        .map_err(|e| DataFusionError::Execution(format!("clv: cannot start its Tokio runtime: {e}")))?;
    // A concurrent first call may have won the race: its runtime is kept, this one dropped.
    Ok(RUNTIME.get_or_init(|| rt).handle().clone())
}

/// A future polled inside clv's runtime context (each poll enters it).
pub struct Entered<F> {
    handle: Handle,
    future: Pin<Box<F>>,
}

impl<F> Entered<F> {
    /// Wraps `future`.
    pub fn new(handle: Handle, future: F) -> Self {
        Self {
            handle,
            future: Box::pin(future),
        }
    }
}

impl<F: Future> Future for Entered<F> {
    type Output = F::Output;

    fn poll(mut self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<F::Output> {
        let this = &mut *self;
        let _guard = this.handle.enter();
        this.future.as_mut().poll(cx)
    }
}

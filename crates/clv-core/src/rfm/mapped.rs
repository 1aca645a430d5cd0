//! [`MappedVec`]: the fused operator's large per-customer tables, each in a memory mapping of
//! its own.
//!
//! The tables of [`super::customers`] (totals, key indexes, the string arena) reach tens to
//! hundreds of MiB and live for one query. Taken from malloc, such a buffer comes from the
//! arena of whichever thread grew it and, once freed, usually stays in that arena; a process
//! that runs the query again (on other threads, as a runtime schedules them) keeps several
//! queries' worth of tables resident although it uses none of them. A [`MappedVec`] of
//! [`MAP_BYTES`] or more is an anonymous mapping of its own instead: it grows in place or is
//! moved by the kernel (`mremap`, which copies no data), asks for huge pages (the tables are
//! read at random, and on 4 KiB pages nearly every access to a table of a million customers
//! also misses the TLB), and goes back to the operating system when it is dropped. Smaller
//! buffers are ordinary heap buffers. Mappings are used on Linux; elsewhere every buffer is on
//! the heap.

use std::mem::{ManuallyDrop, size_of};
use std::ops::{Deref, DerefMut};
use std::ptr::NonNull;

/// Buffers of at least this many bytes are mappings (on Linux).
pub const MAP_BYTES: usize = 4 << 20;

/// Mappings are sized in multiples of this (the x86-64 huge page).
const HUGE: usize = 2 << 20;

/// A growable array of `Copy` values, on the heap while small and in an anonymous memory
/// mapping from [`MAP_BYTES`] on. It dereferences to a slice, so reading and writing elements
/// is as for a `Vec`; it grows by doubling (amortised O(1) `push`).
pub struct MappedVec<T: Copy> {
    ptr: NonNull<T>,
    len: usize,
    /// Elements the buffer holds.
    cap: usize,
    /// The mapping's length in bytes, or 0 when the buffer is a `Vec`'s.
    mapped: usize,
}

// SAFETY: a `MappedVec` owns its buffer exclusively, as a `Vec` does, so it can be sent or
// shared between threads whenever its elements can.
unsafe impl<T: Copy + Send> Send for MappedVec<T> {}
// SAFETY: as above; `&MappedVec` only gives `&[T]`.
unsafe impl<T: Copy + Sync> Sync for MappedVec<T> {}

impl<T: Copy> Default for MappedVec<T> {
    fn default() -> Self {
        Self::new()
    }
}

impl<T: Copy> std::fmt::Debug for MappedVec<T> {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("MappedVec")
            .field("len", &self.len)
            .field("capacity", &self.cap)
            .field("mapped", &(self.mapped > 0))
            .finish()
    }
}

impl<T: Copy> MappedVec<T> {
    /// An empty array (no allocation).
    pub const fn new() -> Self {
        Self {
            ptr: NonNull::dangling(),
            len: 0,
            cap: if size_of::<T>() == 0 { usize::MAX } else { 0 },
            mapped: 0,
        }
    }

    /// `len` copies of `value`, written (not left to the kernel's zero pages: a table that is
    /// read before it is written would take two page faults per page instead of one).
    pub fn filled(len: usize, value: T) -> Self {
        let mut v = Self::new();
        v.resize(len, value);
        v
    }

    /// Elements the buffer holds without growing.
    pub fn capacity(&self) -> usize {
        self.cap
    }

    /// Whether the buffer is a mapping of its own.
    pub fn is_mapped(&self) -> bool {
        self.mapped > 0
    }

    /// Appends `value`.
    #[inline(always)]
    pub fn push(&mut self, value: T) {
        if self.len == self.cap {
            self.grow(1);
        }
        // SAFETY: `len < cap` now, so the element is inside the buffer, and not yet initialised
        // (writing does not read or drop what was there).
        unsafe { self.ptr.as_ptr().add(self.len).write(value) };
        self.len += 1;
    }

    /// Appends the elements of `values`.
    pub fn extend_from_slice(&mut self, values: &[T]) {
        self.reserve(values.len());
        // SAFETY: there is room for `values.len()` more elements after `len`; `values` is a
        // live slice, which cannot overlap the unused part of this buffer.
        unsafe {
            std::ptr::copy_nonoverlapping(values.as_ptr(), self.ptr.as_ptr().add(self.len), values.len());
        }
        self.len += values.len();
    }

    /// Shortens the array to `len` elements or appends copies of `value` up to it.
    pub fn resize(&mut self, len: usize, value: T) {
        if len <= self.len {
            self.len = len;
            return;
        }
        self.reserve(len - self.len);
        for i in self.len..len {
            // SAFETY: `i < len <= cap`, inside the buffer.
            unsafe { self.ptr.as_ptr().add(i).write(value) };
        }
        self.len = len;
    }

    /// Makes room for at least `more` elements after the current ones.
    pub fn reserve(&mut self, more: usize) {
        if self.cap - self.len < more {
            self.grow(more);
        }
    }

    /// Grows the buffer to hold `more` elements after the current ones: to twice its capacity
    /// or to what is needed, whichever is more.
    #[cold]
    fn grow(&mut self, more: usize) {
        let Some(needed) = self.len.checked_add(more) else {
            panic!("MappedVec capacity overflow")
        };
        let cap = needed.max(self.cap.saturating_mul(2)).max(4);
        let bytes = cap.saturating_mul(size_of::<T>());
        if self.mapped > 0 {
            if mapping::resize(self, bytes) {
                return;
            }
        } else if bytes >= MAP_BYTES && mapping::create(self, bytes) {
            return;
        }
        // On the heap (small, not Linux, or the kernel refused a mapping): as a `Vec` grows.
        let mut v = Vec::with_capacity(cap);
        v.extend_from_slice(self);
        self.release();
        let mut v = ManuallyDrop::new(v);
        self.ptr = NonNull::new(v.as_mut_ptr()).unwrap_or(NonNull::dangling());
        self.cap = v.capacity();
        self.mapped = 0;
    }

    /// Frees the buffer (keeping `len`: callers set the new buffer right after).
    fn release(&mut self) {
        if self.mapped > 0 {
            mapping::unmap(self.ptr, self.mapped);
        } else if self.cap > 0 && size_of::<T>() > 0 {
            // SAFETY: a heap buffer came from a `Vec<T>` with this pointer and capacity; its
            // elements are `Copy`, so the length given does not matter for dropping.
            drop(unsafe { Vec::from_raw_parts(self.ptr.as_ptr(), 0, self.cap) });
        }
        self.ptr = NonNull::dangling();
        self.cap = 0;
        self.mapped = 0;
    }
}

impl<T: Copy> Drop for MappedVec<T> {
    fn drop(&mut self) {
        self.release();
    }
}

impl<T: Copy> Deref for MappedVec<T> {
    type Target = [T];

    #[inline(always)]
    fn deref(&self) -> &[T] {
        // SAFETY: the first `len` elements of the buffer are initialised; `ptr` is non-null and
        // aligned (dangling only when nothing is allocated, with `len` 0).
        unsafe { std::slice::from_raw_parts(self.ptr.as_ptr(), self.len) }
    }
}

impl<T: Copy> DerefMut for MappedVec<T> {
    #[inline(always)]
    fn deref_mut(&mut self) -> &mut [T] {
        // SAFETY: as in `deref`, and `&mut self` makes the access exclusive.
        unsafe { std::slice::from_raw_parts_mut(self.ptr.as_ptr(), self.len) }
    }
}

impl<'a, T: Copy> IntoIterator for &'a MappedVec<T> {
    type Item = &'a T;
    type IntoIter = std::slice::Iter<'a, T>;

    fn into_iter(self) -> Self::IntoIter {
        self.iter()
    }
}

impl<T: Copy> From<&[T]> for MappedVec<T> {
    /// A copy of `values` (one copy of the whole slice).
    fn from(values: &[T]) -> Self {
        let mut v = Self::new();
        v.extend_from_slice(values);
        v
    }
}

impl<T: Copy> FromIterator<T> for MappedVec<T> {
    fn from_iter<I: IntoIterator<Item = T>>(iter: I) -> Self {
        let iter = iter.into_iter();
        let mut v = Self::new();
        v.reserve(iter.size_hint().0);
        for x in iter {
            v.push(x);
        }
        v
    }
}

#[cfg(target_os = "linux")]
mod mapping {
    //! The anonymous mappings behind large [`MappedVec`]s.

    use std::mem::size_of;
    use std::ptr::NonNull;

    use super::{HUGE, MappedVec};

    /// Moves `v`'s elements into a new mapping of at least `bytes` bytes; false (and `v`
    /// unchanged) when the kernel refuses one.
    pub fn create<T: Copy>(v: &mut MappedVec<T>, bytes: usize) -> bool {
        // A mapping is page-aligned: a type aligned beyond a page stays on the heap.
        if std::mem::align_of::<T>() > 4096 {
            return false;
        }
        let Some(bytes) = bytes.checked_next_multiple_of(HUGE) else {
            return false;
        };
        // SAFETY: a fresh private anonymous mapping touches no existing memory.
        let at = unsafe {
            libc::mmap(
                std::ptr::null_mut(),
                bytes,
                libc::PROT_READ | libc::PROT_WRITE,
                libc::MAP_PRIVATE | libc::MAP_ANONYMOUS,
                -1,
                0,
            )
        };
        if at == libc::MAP_FAILED {
            return false;
        }
        let Some(ptr) = NonNull::new(at.cast::<T>()) else {
            return false;
        };
        advise_huge_pages(at, bytes);
        let len = v.len;
        // SAFETY: the mapping is page-aligned (aligned for `T`), `bytes` long, which holds at
        // least `len` elements, and new, so it does not overlap `v`'s buffer.
        unsafe { std::ptr::copy_nonoverlapping(v.ptr.as_ptr(), ptr.as_ptr(), len) };
        v.release();
        v.ptr = ptr;
        v.len = len;
        v.cap = bytes / size_of::<T>();
        v.mapped = bytes;
        true
    }

    /// Grows `v`'s mapping to at least `bytes` bytes, in place or moved by the kernel (which
    /// keeps the contents); false (and `v` unchanged) when it cannot.
    pub fn resize<T: Copy>(v: &mut MappedVec<T>, bytes: usize) -> bool {
        let Some(bytes) = bytes.checked_next_multiple_of(HUGE) else {
            return false;
        };
        // SAFETY: `v.ptr` and `v.mapped` describe exactly the mapping `create` made (or the last
        // `mremap` returned), which `v` owns; MREMAP_MAYMOVE invalidates the old address, and no
        // reference into the buffer outlives `&mut v`.
        let at = unsafe { libc::mremap(v.ptr.as_ptr().cast(), v.mapped, bytes, libc::MREMAP_MAYMOVE) };
        if at == libc::MAP_FAILED {
            return false;
        }
        let Some(ptr) = NonNull::new(at.cast::<T>()) else {
            return false;
        };
        advise_huge_pages(at, bytes);
        v.ptr = ptr;
        v.cap = bytes / size_of::<T>();
        v.mapped = bytes;
        true
    }

    /// Returns the mapping at `ptr`, `bytes` long, to the kernel.
    pub fn unmap<T>(ptr: NonNull<T>, bytes: usize) {
        // SAFETY: called once per mapping, by its owner, with the length it was mapped with.
        // Failure (impossible for a valid mapping) would only leak address space.
        unsafe { libc::munmap(ptr.as_ptr().cast(), bytes) };
    }

    /// Asks for huge pages on the mapping (a hint for Linux transparent huge pages in `madvise`
    /// or `always` mode; ignored where unsupported, no effect on contents).
    fn advise_huge_pages(at: *mut libc::c_void, bytes: usize) {
        // SAFETY: the range is exactly a mapping this module owns; advice changes no contents.
        unsafe { libc::madvise(at, bytes, libc::MADV_HUGEPAGE) };
    }
}

#[cfg(not(target_os = "linux"))]
mod mapping {
    //! Without mappings every buffer stays on the heap.

    use std::ptr::NonNull;

    use super::MappedVec;

    pub fn create<T: Copy>(_: &mut MappedVec<T>, _: usize) -> bool {
        false
    }

    pub fn resize<T: Copy>(_: &mut MappedVec<T>, _: usize) -> bool {
        false
    }

    pub fn unmap<T>(_: NonNull<T>, _: usize) {}
}

#[cfg(test)]
mod tests {
    use super::*;

    /// Every operation agrees with a `Vec` doing the same, across the move from the heap to a
    /// mapping and the mapping's growth.
    #[test]
    fn agrees_with_a_vec_across_heap_and_mapping() {
        let mut v: MappedVec<u64> = MappedVec::new();
        let mut reference: Vec<u64> = vec![];
        let mut x = 0x9e37_79b9_7f4a_7c15_u64;
        // 3M u64 = 24 MiB: several mapping growths.
        while reference.len() < 3_000_000 {
            x ^= x << 13;
            x ^= x >> 7;
            x ^= x << 17;
            match x % 4 {
                0 => {
                    v.push(x);
                    reference.push(x);
                }
                1 => {
                    let run = [x, x.rotate_left(7), x.rotate_left(21)];
                    v.extend_from_slice(&run);
                    reference.extend_from_slice(&run);
                }
                _ => {
                    let len = reference.len() + (x % 4_096) as usize;
                    v.resize(len, x);
                    reference.resize(len, x);
                }
            }
            if let Some(last) = v.last_mut() {
                *last ^= 1;
                *reference.last_mut().unwrap() ^= 1;
            }
        }
        assert_eq!(&v[..], &reference[..]);
        assert!(v.capacity() >= v.len());
        if cfg!(target_os = "linux") {
            assert!(v.is_mapped(), "a 24 MiB table is a mapping");
        }
        v.resize(10, 0);
        assert_eq!(&v[..], &reference[..10]);
    }

    #[test]
    fn small_tables_stay_on_the_heap_and_large_ones_are_mapped() {
        let small = MappedVec::filled(1_000, 7u32);
        assert!(!small.is_mapped());
        assert!(small.iter().all(|x| *x == 7));
        let large = MappedVec::filled(MAP_BYTES / 4 + 1, 3u32);
        assert_eq!(large.is_mapped(), cfg!(target_os = "linux"));
        assert_eq!(large.len(), MAP_BYTES / 4 + 1);
        assert!(large.iter().all(|x| *x == 3));
        let empty: MappedVec<u32> = MappedVec::new();
        assert!(empty.is_empty());
        assert_eq!(empty.capacity(), 0);
    }

    #[test]
    fn aligned_elements_and_collecting() {
        #[derive(Clone, Copy, PartialEq, Debug)]
        #[repr(align(32))]
        struct Wide(u64);
        let v: MappedVec<Wide> = (0..200_000).map(Wide).collect();
        assert_eq!(v.as_ptr() as usize % 32, 0);
        assert!(v.iter().enumerate().all(|(i, w)| w.0 == i as u64));
        let copy = MappedVec::from(&v[..]);
        assert_eq!(&copy[..], &v[..]);
        let moved = std::thread::spawn(move || v.len()).join().unwrap();
        assert_eq!(moved, 200_000);
    }
}

//! Giving memory back after a load. Checking a bundle builds large temporary trees (the JSON
//! document for schema validation, the compiler's syntax trees for sources); glibc keeps freed
//! heap pages mapped, so without a trim the process would keep the load's peak as its size.

/// Returns freed heap memory to the operating system (glibc only; elsewhere a no-op).
pub fn trim_heap() {
    #[cfg(all(target_os = "linux", target_env = "gnu"))]
    // SAFETY: malloc_trim only walks the allocator's own free lists; any pad value is valid.
    unsafe {
        libc::malloc_trim(0);
    }
}

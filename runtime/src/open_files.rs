//! The open-file limit. Every client connection is a file descriptor, and a forwarded request
//! holds a second one to its upstream. Shells and systemd often start services with a soft limit
//! of 1024, which a proxy reaches at a few hundred clients; `accept` then fails with EMFILE and
//! clients wait. The hard limit is usually far higher (524 288 under systemd, 1 048 576 in most
//! containers). meshd raises its soft limit to the hard limit at start, as Go programs do since Go
//! 1.19 and as nginx's `worker_rlimit_nofile` is usually set to. It never goes above the hard limit
//! the operator set, so that limit still holds.

/// The soft limit before and after [`raise_open_file_limit`].
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct OpenFileLimit {
    pub before: u64,
    pub now: u64,
}

/// Raises the soft open-file limit to the hard limit (Unix; elsewhere a no-op).
#[allow(clippy::unnecessary_cast)] // `rlim_t` is `u64` on Linux, not on every Unix
pub fn raise_open_file_limit() -> std::io::Result<OpenFileLimit> {
    #[cfg(unix)]
    {
        let mut limit = libc::rlimit {
            rlim_cur: 0,
            rlim_max: 0,
        };
        // SAFETY: getrlimit writes the limit into the struct we own and reads nothing else.
        if unsafe { libc::getrlimit(libc::RLIMIT_NOFILE, &mut limit) } != 0 {
            return Err(std::io::Error::last_os_error());
        }
        let before = limit.rlim_cur as u64;
        if limit.rlim_cur == limit.rlim_max {
            return Ok(OpenFileLimit {
                before,
                now: before,
            });
        }
        limit.rlim_cur = limit.rlim_max;
        // SAFETY: setrlimit reads the struct we own; raising the soft limit up to the hard limit
        // needs no privilege.
        if unsafe { libc::setrlimit(libc::RLIMIT_NOFILE, &limit) } != 0 {
            return Err(std::io::Error::last_os_error());
        }
        Ok(OpenFileLimit {
            before,
            now: limit.rlim_max as u64,
        })
    }
    #[cfg(not(unix))]
    Ok(OpenFileLimit { before: 0, now: 0 })
}

//! AF_PACKET sockets with a TPACKET_V3 receive ring: the only module of tapir with `unsafe`.
//!
//! Why our own code and not a crate: `af_packet` is GPL-3.0 (tapir is Apache-2.0) and has not
//! moved since 2020; `netring` is young, breaks its API every few weeks and needs a newer
//! compiler than the workspace's `rust-version`. What AF_PACKET needs is a handful of syscalls
//! and one shared-memory protocol, small enough to check by reading:
//!
//! - Syscalls (`socket`, `setsockopt`, `getsockopt`, `bind`, `mmap`, `poll`) get pointers to
//!   local, fully initialised structures of the size they are told, for the duration of the call.
//! - The ring is memory shared with the kernel, cut into blocks. A block whose status word has
//!   `TP_STATUS_USER` belongs to us until we store `TP_STATUS_KERNEL` into it; in between, the
//!   kernel does not write it. [`Block`] borrows the [`Ring`] mutably while it lives and hands
//!   the block back when dropped, so safe code can neither keep a view of a block the kernel
//!   owns nor hold two blocks at once.
//!
//! What the kernel wrote inside a block (packet headers, lengths, offsets) is never trusted
//! here: it is handed out as a byte slice and parsed by safe, bounds-checked code
//! (`super::ring::BlockPackets`).

#![allow(unsafe_code)]

use std::ffi::CString;
use std::io;
use std::mem::size_of;
use std::os::fd::{AsFd, AsRawFd, BorrowedFd, FromRawFd, OwnedFd};
use std::ptr::NonNull;
use std::sync::atomic::{AtomicU32, Ordering};

/// Bytes of `struct tpacket_block_desc` (version, offset_to_priv, `tpacket_hdr_v1`): the first
/// packet of a block can never start before this.
const BLOCK_HEADER_LEN: usize = 48;
/// Offset of `hdr.bh1.block_status` in a block.
const STATUS_OFFSET: usize = 8;

/// Ring geometry, as `struct tpacket_req3` wants it (checked by the kernel; the caller checks
/// it first to name the configuration key).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct RingSpec {
    /// Bytes per block: a multiple of the page size.
    pub block_size: u32,
    pub block_count: u32,
    /// `tp_frame_size`: only used by the kernel to check the geometry with TPACKET_V3, where
    /// packets are packed back to back in a block.
    pub frame_size: u32,
    /// A block that is not full is handed over after this many milliseconds.
    pub block_timeout_ms: u32,
}

/// One classic BPF instruction (`struct sock_filter`).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct BpfInsn {
    pub code: u16,
    pub jt: u8,
    pub jf: u8,
    pub k: u32,
}

/// Kernel counters of a socket since the previous read (`PACKET_STATISTICS` resets them).
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct SocketCounters {
    /// Packets that reached the socket, dropped ones included.
    pub packets: u32,
    /// Packets dropped because the ring was full.
    pub drops: u32,
}

fn cvt(r: libc::c_int) -> io::Result<libc::c_int> {
    if r < 0 {
        Err(io::Error::last_os_error())
    } else {
        Ok(r)
    }
}

fn socklen<T>() -> libc::socklen_t {
    // Every structure passed here is a few dozen bytes.
    libc::socklen_t::try_from(size_of::<T>()).unwrap_or(libc::socklen_t::MAX)
}

fn setsockopt<T: Copy>(
    fd: BorrowedFd<'_>,
    level: libc::c_int,
    name: libc::c_int,
    val: &T,
) -> io::Result<()> {
    // SAFETY: `val` is a live, initialised `T` and the length passed is exactly its size; the
    // kernel only reads it during the call.
    let r = unsafe {
        libc::setsockopt(
            fd.as_raw_fd(),
            level,
            name,
            (val as *const T).cast(),
            socklen::<T>(),
        )
    };
    cvt(r).map(drop)
}

/// The index of network interface `name`.
///
/// # Errors
/// No such interface (`ENODEV`), or a name with a NUL byte.
pub fn interface_index(name: &str) -> io::Result<u32> {
    let c = CString::new(name).map_err(|_| io::Error::from(io::ErrorKind::InvalidInput))?;
    // SAFETY: `c` is a NUL-terminated string that outlives the call.
    let i = unsafe { libc::if_nametoindex(c.as_ptr()) };
    if i == 0 {
        Err(io::Error::last_os_error())
    } else {
        Ok(i)
    }
}

/// Attaches a classic BPF program to any socket (`SO_ATTACH_FILTER`), replacing the one it had.
/// Packets it rejects are neither queued nor counted by the socket.
///
/// # Errors
/// The kernel refused the program (invalid, or longer than it allows).
pub fn attach_filter(fd: BorrowedFd<'_>, prog: &[BpfInsn]) -> io::Result<()> {
    let mut insns: Vec<libc::sock_filter> = prog
        .iter()
        .map(|i| libc::sock_filter {
            code: i.code,
            jt: i.jt,
            jf: i.jf,
            k: i.k,
        })
        .collect();
    let len = u16::try_from(insns.len())
        .map_err(|_| io::Error::new(io::ErrorKind::InvalidInput, "BPF program too long"))?;
    let fprog = libc::sock_fprog {
        len,
        filter: insns.as_mut_ptr(),
    };
    // The kernel copies the program during the call; `insns` outlives it.
    setsockopt(fd, libc::SOL_SOCKET, libc::SO_ATTACH_FILTER, &fprog)
}

/// Waits until one of `fds` is readable or `timeout_ms` passes. `Ok(true)`: something is
/// ready (or failed: the index of the socket and its error are pushed to `errors`, and the
/// error is cleared so the next wait does not return at once again). A signal ends the wait
/// early with `Ok(false)`.
///
/// # Errors
/// `poll` itself failed.
pub fn wait_readable(
    fds: &[BorrowedFd<'_>],
    timeout_ms: i32,
    errors: &mut Vec<(usize, io::Error)>,
) -> io::Result<bool> {
    let mut pfds: Vec<libc::pollfd> = fds
        .iter()
        .map(|f| libc::pollfd {
            fd: f.as_raw_fd(),
            events: libc::POLLIN,
            revents: 0,
        })
        .collect();
    let n = libc::nfds_t::try_from(pfds.len()).unwrap_or(libc::nfds_t::MAX);
    // SAFETY: `pfds` is an array of `n` initialised pollfd structures; the kernel writes only
    // their `revents` fields, during the call.
    let r = unsafe { libc::poll(pfds.as_mut_ptr(), n, timeout_ms) };
    if r < 0 {
        let e = io::Error::last_os_error();
        return if e.kind() == io::ErrorKind::Interrupted {
            Ok(false)
        } else {
            Err(e)
        };
    }
    for (i, (p, fd)) in pfds.iter().zip(fds).enumerate() {
        if p.revents & (libc::POLLERR | libc::POLLNVAL) != 0 {
            let e = take_error(*fd)
                .unwrap_or_else(|| io::Error::other("socket reported an error condition"));
            errors.push((i, e));
        }
    }
    Ok(r > 0)
}

/// Reads and clears a socket's pending error (`SO_ERROR`).
fn take_error(fd: BorrowedFd<'_>) -> Option<io::Error> {
    let mut v: libc::c_int = 0;
    let mut len = socklen::<libc::c_int>();
    // SAFETY: `v` is a writable c_int and `len` holds its size.
    let r = unsafe {
        libc::getsockopt(
            fd.as_raw_fd(),
            libc::SOL_SOCKET,
            libc::SO_ERROR,
            (&mut v as *mut libc::c_int).cast(),
            &mut len,
        )
    };
    (r == 0 && v != 0).then(|| io::Error::from_raw_os_error(v))
}

/// Which step of opening failed, for the caller's message.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Step {
    Socket,
    Version,
    Filter,
    Ring,
    Mmap,
    Bind,
    Promisc,
    Fanout,
}

/// An AF_PACKET socket bound to one interface, with its receive ring mapped.
pub struct Ring {
    fd: OwnedFd,
    map: NonNull<u8>,
    map_len: usize,
    block_size: usize,
    block_count: usize,
    next: usize,
    hatype: u16,
}

// SAFETY: the mapping is owned by this value alone and nothing in it is tied to the thread that
// created it; moving the value moves the only handle on it.
unsafe impl Send for Ring {}

impl Ring {
    /// Opens a socket on interface `ifindex`: TPACKET_V3 ring of `spec`, the filter `filter`
    /// attached before any packet can arrive, promiscuous mode (dropped by the kernel when the
    /// socket closes), and membership of fanout group `fanout` (`id | flags << 16`).
    ///
    /// # Errors
    /// The failing step and the kernel's error.
    pub fn open(
        ifindex: u32,
        spec: RingSpec,
        filter: Option<&[BpfInsn]>,
        promisc: bool,
        fanout: Option<u32>,
    ) -> Result<Ring, (Step, io::Error)> {
        // Protocol 0: the socket receives nothing until it is bound, after the ring and the
        // filter are in place.
        // SAFETY: a plain syscall with constant arguments.
        let raw = unsafe { libc::socket(libc::AF_PACKET, libc::SOCK_RAW | libc::SOCK_CLOEXEC, 0) };
        let raw = cvt(raw).map_err(|e| (Step::Socket, e))?;
        // SAFETY: `raw` is a descriptor the kernel just created, owned by nothing else.
        let fd = unsafe { OwnedFd::from_raw_fd(raw) };
        let version = libc::tpacket_versions::TPACKET_V3 as libc::c_int;
        setsockopt(fd.as_fd(), libc::SOL_PACKET, libc::PACKET_VERSION, &version)
            .map_err(|e| (Step::Version, e))?;
        if let Some(f) = filter {
            attach_filter(fd.as_fd(), f).map_err(|e| (Step::Filter, e))?;
        }
        let frames_per_block = spec.block_size / spec.frame_size.max(1);
        let req = libc::tpacket_req3 {
            tp_block_size: spec.block_size,
            tp_block_nr: spec.block_count,
            tp_frame_size: spec.frame_size,
            tp_frame_nr: frames_per_block.saturating_mul(spec.block_count),
            tp_retire_blk_tov: spec.block_timeout_ms,
            tp_sizeof_priv: 0,
            tp_feature_req_word: 0,
        };
        setsockopt(fd.as_fd(), libc::SOL_PACKET, libc::PACKET_RX_RING, &req)
            .map_err(|e| (Step::Ring, e))?;
        let block_size = spec.block_size as usize;
        let block_count = spec.block_count as usize;
        let map_len = block_size.saturating_mul(block_count);
        // SAFETY: maps the ring the kernel allocated for this socket just above: offset 0 and
        // exactly the length requested; the result is checked against MAP_FAILED.
        let p = unsafe {
            libc::mmap(
                std::ptr::null_mut(),
                map_len,
                libc::PROT_READ | libc::PROT_WRITE,
                libc::MAP_SHARED | libc::MAP_POPULATE,
                fd.as_raw_fd(),
                0,
            )
        };
        if p == libc::MAP_FAILED {
            return Err((Step::Mmap, io::Error::last_os_error()));
        }
        let map = NonNull::new(p.cast::<u8>())
            .ok_or_else(|| (Step::Mmap, io::Error::other("mmap returned null")))?;
        // From here on, dropping `ring` unmaps.
        let mut ring = Ring {
            fd,
            map,
            map_len,
            block_size,
            block_count,
            next: 0,
            hatype: 0,
        };
        let mut sll = sockaddr_ll_zeroed();
        sll.sll_family = libc::AF_PACKET as u16;
        sll.sll_protocol = (libc::ETH_P_ALL as u16).to_be();
        sll.sll_ifindex = libc::c_int::try_from(ifindex).unwrap_or(0);
        // SAFETY: `sll` is an initialised sockaddr_ll and the length given is its size.
        let r = unsafe {
            libc::bind(
                ring.fd.as_raw_fd(),
                (&sll as *const libc::sockaddr_ll).cast(),
                socklen::<libc::sockaddr_ll>(),
            )
        };
        cvt(r).map_err(|e| (Step::Bind, e))?;
        let mut bound = sockaddr_ll_zeroed();
        let mut len = socklen::<libc::sockaddr_ll>();
        // SAFETY: `bound` is writable and `len` holds its size; the kernel writes at most that.
        let r = unsafe {
            libc::getsockname(
                ring.fd.as_raw_fd(),
                (&mut bound as *mut libc::sockaddr_ll).cast(),
                &mut len,
            )
        };
        cvt(r).map_err(|e| (Step::Bind, e))?;
        ring.hatype = bound.sll_hatype;
        if promisc {
            let mreq = libc::packet_mreq {
                mr_ifindex: sll.sll_ifindex,
                mr_type: libc::PACKET_MR_PROMISC as u16,
                mr_alen: 0,
                mr_address: [0; 8],
            };
            setsockopt(
                ring.fd.as_fd(),
                libc::SOL_PACKET,
                libc::PACKET_ADD_MEMBERSHIP,
                &mreq,
            )
            .map_err(|e| (Step::Promisc, e))?;
        }
        if let Some(arg) = fanout {
            let v = arg as libc::c_int;
            setsockopt(ring.fd.as_fd(), libc::SOL_PACKET, libc::PACKET_FANOUT, &v)
                .map_err(|e| (Step::Fanout, e))?;
        }
        Ok(ring)
    }

    /// The interface's hardware type (`ARPHRD_*`), which says what the frames start with.
    pub fn hatype(&self) -> u16 {
        self.hatype
    }

    /// The socket, to wait on or to attach a filter to.
    pub fn fd(&self) -> BorrowedFd<'_> {
        self.fd.as_fd()
    }

    /// Reads (and thereby resets) the kernel's counters for this socket.
    ///
    /// # Errors
    /// The kernel's error.
    pub fn take_counters(&self) -> io::Result<SocketCounters> {
        let mut st = libc::tpacket_stats_v3 {
            tp_packets: 0,
            tp_drops: 0,
            tp_freeze_q_cnt: 0,
        };
        let mut len = socklen::<libc::tpacket_stats_v3>();
        // SAFETY: `st` is writable and `len` holds its size; the kernel writes at most that.
        let r = unsafe {
            libc::getsockopt(
                self.fd.as_raw_fd(),
                libc::SOL_PACKET,
                libc::PACKET_STATISTICS,
                (&mut st as *mut libc::tpacket_stats_v3).cast(),
                &mut len,
            )
        };
        cvt(r)?;
        Ok(SocketCounters {
            packets: st.tp_packets,
            drops: st.tp_drops,
        })
    }

    fn status(&self, i: usize) -> &AtomicU32 {
        // SAFETY: `i < block_count`, so the word lies inside the mapping, which lives as long as
        // `&self`. Blocks start at multiples of the block size (a multiple of the page size) in a
        // page-aligned mapping, so the word at offset 8 is 4-byte aligned. Both sides only ever
        // access this word atomically.
        unsafe {
            AtomicU32::from_ptr(
                self.map
                    .as_ptr()
                    .add(i * self.block_size + STATUS_OFFSET)
                    .cast::<u32>(),
            )
        }
    }

    fn header_word(&self, i: usize, offset: usize) -> u32 {
        // SAFETY: called only for a block we own (status USER, loaded with Acquire, which orders
        // this read after the kernel's writes); `offset + 4 <= BLOCK_HEADER_LEN`, inside the
        // block. Unaligned read: no alignment is assumed.
        unsafe {
            self.map
                .as_ptr()
                .add(i * self.block_size + offset)
                .cast::<u32>()
                .read_unaligned()
        }
    }

    /// The next block, if the kernel has handed it over; `None` if it is still filling it.
    pub fn next_block(&mut self) -> Option<Block<'_>> {
        let i = self.next;
        if i >= self.block_count
            || self.status(i).load(Ordering::Acquire) & libc::TP_STATUS_USER == 0
        {
            return None;
        }
        let num_pkts = self.header_word(i, 12);
        let first = self.header_word(i, 16) as usize;
        let used = self.header_word(i, 20) as usize;
        let end = used.min(self.block_size);
        let data: &[u8] = if first >= BLOCK_HEADER_LEN && first <= end {
            // SAFETY: `[first, end)` lies inside block `i`, after its status word, and the
            // block is ours until `Block::drop` hands it back; the slice cannot outlive the
            // `Block`, which borrows `self` mutably, so no view of it remains afterwards.
            unsafe {
                std::slice::from_raw_parts(
                    self.map.as_ptr().add(i * self.block_size + first),
                    end - first,
                )
            }
        } else {
            // A header we do not understand: the block is handed back unread.
            &[]
        };
        Some(Block {
            data,
            num_pkts,
            index: i,
            ring: self,
        })
    }
}

fn sockaddr_ll_zeroed() -> libc::sockaddr_ll {
    libc::sockaddr_ll {
        sll_family: 0,
        sll_protocol: 0,
        sll_ifindex: 0,
        sll_hatype: 0,
        sll_pkttype: 0,
        sll_halen: 0,
        sll_addr: [0; 8],
    }
}

impl Drop for Ring {
    fn drop(&mut self) {
        // SAFETY: `map` and `map_len` are what mmap returned. No `Block` is alive (one would
        // borrow `self`), so nothing refers into the mapping any more.
        unsafe {
            libc::munmap(self.map.as_ptr().cast(), self.map_len);
        }
    }
}

/// A block of packets owned by us until dropped.
pub struct Block<'a> {
    data: &'a [u8],
    num_pkts: u32,
    index: usize,
    ring: &'a mut Ring,
}

impl Block<'_> {
    /// The packet area: `num_pkts` packets, each a `tpacket3_hdr` followed by its frame.
    pub fn bytes(&self) -> &[u8] {
        self.data
    }

    /// Packets in the block, as the kernel says.
    pub fn num_pkts(&self) -> u32 {
        self.num_pkts
    }
}

impl Drop for Block<'_> {
    fn drop(&mut self) {
        // Release: our reads of the block happen before the kernel may fill it again.
        self.ring
            .status(self.index)
            .store(libc::TP_STATUS_KERNEL, Ordering::Release);
        self.ring.next = (self.index + 1) % self.ring.block_count.max(1);
    }
}

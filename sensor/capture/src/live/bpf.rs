//! BPF filter expressions (tcpdump syntax) compiled by libpcap's `pcap_compile`, for sockets
//! libpcap does not manage (AF_PACKET).

use super::afpacket::BpfInsn;
use super::LiveError;

/// `ret #0`: accepts nothing. Attached at shutdown so the kernel stops queueing packets.
pub const REJECT_ALL: [BpfInsn; 1] = [BpfInsn {
    code: 0x06,
    jt: 0,
    jf: 0,
    k: 0,
}];

/// `BPF_RET | BPF_K`.
const RET_K: u16 = 0x06;

/// What a program compiled on a dead handle returns for an accepted packet: its snap length,
/// 65535, which would cut the super-frames of offloaded NICs. An AF_PACKET socket keeps up to
/// what the ring can hold anyway.
const KEEP_ALL: u32 = 0x0004_0000;

/// Compiles `expr` for frames of pcap link type `link`.
///
/// # Errors
/// libpcap's message for an expression it cannot compile, naming `capture.bpf`.
pub fn compile(expr: &str, link: i32) -> Result<Vec<BpfInsn>, LiveError> {
    let err = |reason: String| LiveError::Filter {
        expr: expr.to_string(),
        reason,
    };
    let dead = pcap::Capture::dead(pcap::Linktype(link)).map_err(|e| err(e.to_string()))?;
    let prog = dead.compile(expr, true).map_err(|e| err(e.to_string()))?;
    // The pcap crate keeps the instruction fields private but prints them, in the order of
    // `struct bpf_insn`: "code jt jf k".
    prog.get_instructions()
        .iter()
        .map(|i| {
            let text = i.to_string();
            let mut it = text.split_whitespace();
            let mut field = || it.next().and_then(|s| s.parse::<u64>().ok());
            let insn = (|| {
                Some(BpfInsn {
                    code: u16::try_from(field()?).ok()?,
                    jt: u8::try_from(field()?).ok()?,
                    jf: u8::try_from(field()?).ok()?,
                    k: u32::try_from(field()?).ok()?,
                })
            })()
            .ok_or_else(|| err(format!("unexpected instruction text {text:?}")))?;
            Ok(if insn.code == RET_K && insn.k != 0 {
                BpfInsn {
                    k: KEEP_ALL,
                    ..insn
                }
            } else {
                insn
            })
        })
        .collect()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn compiles_expressions_and_refuses_bad_ones_by_name() {
        let p = compile("tcp port 443", 1).expect("compiles");
        assert!(p.len() > 4, "{p:?}");
        let last = p.last().expect("instructions");
        assert_eq!(last.code, RET_K);
        // Accepting returns keep everything; rejecting ones stay 0.
        assert!(p
            .iter()
            .filter(|i| i.code == RET_K)
            .all(|i| i.k == 0 || i.k == KEEP_ALL));
        let e = compile("tcp port banana", 1).expect_err("must fail");
        assert!(e.to_string().contains("capture.bpf"), "{e}");
        assert!(e.to_string().contains("banana"), "{e}");
    }
}

//! Placing the imported module in the board's memory, which the XML leaves open: memory
//! requirements without an address, each partition's port window and the shared memory of the
//! channels.

use apex_api::ports::{QUEUING_ACK_SIZE, queuing_data_size, sampling_region_size};
use bsp::Board;

use super::emit::{addr, hex};
use super::ir::{Module, RegionKind};
use super::xml::Cx;

const PAGE: u64 = 0x1000;
const MIB: u64 = 0x10_0000;
const TWO_MIB: u64 = 0x20_0000;

/// `v` rounded up to a multiple of `align` (a power of two).
fn align_up(v: u64, align: u64) -> Option<u64> {
    v.checked_add(align - 1).map(|x| x & !(align - 1))
}

/// The first address at or above `addr` where `size` bytes fit below `limit` without touching
/// any of the `avoid` ranges (`[base, end)`).
fn fit(mut addr: u64, size: u64, avoid: &[(u64, u64)], limit: u64) -> Option<u64> {
    loop {
        let end = addr.checked_add(size)?;
        if end > limit {
            return None;
        }
        match avoid.iter().find(|(b, e)| addr < *e && *b < end) {
            Some(&(_, e)) => addr = align_up(e, PAGE)?,
            None => return Some(addr),
        }
    }
}

/// Places unaddressed RAM, port windows and shared memory; `root` is the byte offset of the
/// module element, where a module that does not fit is reported.
pub(super) fn place(cx: &mut Cx<'_>, module: &mut Module, board: &Board, root: usize) {
    let reserved = (board.kernel_reserved.base, board.kernel_reserved.end());
    let mut avoid: Vec<(u64, u64)> = module
        .partitions
        .iter()
        .flat_map(|p| &p.memory)
        .filter(|r| r.kind == RegionKind::Ram)
        .filter_map(|r| r.phys.map(|b| (b, b.saturating_add(r.size))))
        .collect();
    avoid.push(reserved);
    let Some(start) = align_up(reserved.1.max(board.ram.base), TWO_MIB) else {
        return;
    };
    let mut cursor = start;
    let mut placed = false;
    for p in &mut module.partitions {
        if !p.memory.iter().any(|r| r.phys.is_none()) {
            continue;
        }
        let Some(aligned) = align_up(cursor, TWO_MIB) else {
            return;
        };
        cursor = aligned;
        let label = p.xml_label();
        for r in p.memory.iter_mut().filter(|r| r.phys.is_none()) {
            let Some(addr) = fit(cursor, r.size, &avoid, board.ram.end()) else {
                let at = cx.pos_of(root);
                cx.unmappable(
                    at,
                    format!(
                        "memory {:?} of partition {} ({} bytes) does not fit in the RAM of board {:?} after the kernel's reservation and the partitions before it",
                        r.name,
                        label,
                        hex(r.size),
                        board.name
                    ),
                    "make the memory requirements smaller, or give them a PhysicalAddress",
                );
                return;
            };
            r.phys = Some(addr);
            cursor = addr.saturating_add(r.size);
            placed = true;
        }
    }
    if placed {
        cx.note(format!(
            "memory without PhysicalAddress is placed one partition after another in the RAM of board {:?} from {} (each partition from a 2 MiB boundary, guest-physical = physical): review the addresses",
            board.name,
            addr(start)
        ));
    }

    let mut windows = false;
    for p in &mut module.partitions {
        if !p.ports.iter().any(|q| q.connected) {
            continue;
        }
        let top = p
            .memory
            .iter()
            .filter_map(|r| r.phys.and_then(|b| b.checked_add(r.size)))
            .max()
            .unwrap_or_else(|| board.ram.end());
        p.ports_ipa = align_up(top, TWO_MIB);
        windows = true;
    }
    if windows {
        cx.note("ports_ipa (where a partition sees its port buffers) is the first 2 MiB boundary above the partition's memory".to_owned());
    }

    if module.channels.is_empty() {
        return;
    }
    let mut need: Option<u64> = Some(0);
    for c in &module.channels {
        let ends: Vec<_> = std::iter::once(c.source)
            .chain(c.destinations.iter().copied())
            .filter_map(|r| {
                module
                    .partitions
                    .get(r.partition)
                    .and_then(|p| p.ports.get(r.port))
            })
            .collect();
        let message = ends.iter().map(|q| q.max_message_size).max().unwrap_or(0);
        let queuing = ends.first().is_some_and(|q| q.queuing);
        let bytes = if queuing {
            let depth = ends.iter().map(|q| q.max_messages).max().unwrap_or(0);
            let acks = u64::try_from(c.destinations.len())
                .ok()
                .and_then(|n| n.checked_mul(QUEUING_ACK_SIZE));
            acks.and_then(|a| queuing_data_size(message, depth).checked_add(a))
        } else {
            Some(sampling_region_size(message))
        };
        need = need.zip(bytes).and_then(|(n, b)| n.checked_add(b));
    }
    let top = module
        .partitions
        .iter()
        .flat_map(|p| &p.memory)
        .filter(|r| r.kind == RegionKind::Ram)
        .filter_map(|r| r.phys.map(|b| (b, b.saturating_add(r.size))))
        .filter(|&(b, e)| b < board.ram.end() && board.ram.base < e)
        .map(|(_, e)| e)
        .fold(reserved.1, u64::max);
    let base = align_up(top, TWO_MIB);
    let size = need.and_then(|n| align_up(n.max(1), MIB));
    match (base, size) {
        (Some(base), Some(size))
            if base
                .checked_add(size)
                .is_some_and(|end| end <= board.ram.end()) =>
        {
            module.shared_memory = Some((base, size));
            cx.note(format!(
                "shared_memory for the channel buffers ({} bytes needed) is placed after all partition memory",
                need.map_or_else(String::new, hex)
            ));
        }
        _ => {
            let at = cx.pos_of(root);
            cx.unmappable(
                at,
                format!(
                    "the channel buffers ({} bytes) do not fit in the RAM of board {:?} after the partitions' memory",
                    need.map_or_else(|| "too many".to_owned(), hex),
                    board.name
                ),
                "make messages or queues smaller, or the partitions' memory",
            );
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn fitting_skips_taken_ranges() {
        let avoid = [(0x1000, 0x3000), (0x5000, 0x6000)];
        assert_eq!(fit(0, 0x1000, &avoid, 0x10000), Some(0));
        assert_eq!(fit(0, 0x2000, &avoid, 0x10000), Some(0x3000));
        assert_eq!(fit(0x2000, 0x3000, &avoid, 0x10000), Some(0x6000));
        assert_eq!(fit(0x2000, 0x3000, &avoid, 0x8000), None);
        assert_eq!(fit(u64::MAX - 5, 0x1000, &[], u64::MAX), None);
        assert_eq!(align_up(0x20_0001, TWO_MIB), Some(0x40_0000));
        assert_eq!(align_up(u64::MAX, PAGE), None);
    }
}

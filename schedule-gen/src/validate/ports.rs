//! Inter-partition communication: channels joining ports, the channel buffers placed in the
//! module's shared memory, and each partition's port window (where it sees those buffers).

use std::collections::BTreeMap;
use std::ops::Range;

use apex_api::ports::{QUEUING_ACK_SIZE, queuing_data_size, sampling_region_size};
use toml::Spanned;

use super::partition::CheckedPartition;
use super::{
    Checker, IPA_LIMIT, MAX_CHANNELS, MAX_DESTINATIONS, MAX_NAME_LEN, PAGE_SIZE, hex,
    is_valid_name, name_help,
};
use crate::config::{RawChannel, RawPartition, RawPhysRange};
use crate::diag::Rule;
use crate::model::{Channel, ChannelBuffer, Direction, PhysRange, PortKind, PortMapping, PortRef};

/// Checks every channel and port, places the channel buffers in shared memory and maps them
/// into each partition's port window. Returns the channels and the shared memory range.
pub(crate) fn check_ports(
    cx: &mut Checker<'_>,
    shared: Option<&Spanned<RawPhysRange>>,
    raw: &[Spanned<RawChannel>],
    raw_parts: &[Spanned<RawPartition>],
    parts: &mut [CheckedPartition],
    module_span: Range<usize>,
) -> (Vec<Channel>, Option<PhysRange>) {
    let mut names: BTreeMap<String, usize> = BTreeMap::new();
    // Port → (channel name, line) of the channel that already uses it.
    let mut used: BTreeMap<PortRef, (String, usize)> = BTreeMap::new();
    let mut channels = Vec::new();
    let mut all_ok = true;
    if raw.len() > MAX_CHANNELS {
        cx.error(
            Rule::TooManyChannels,
            raw[MAX_CHANNELS].get_ref().name.span(),
            format!(
                "the module has {} channels; at most {MAX_CHANNELS} are supported",
                raw.len()
            ),
            "merge messages into fewer channels".to_owned(),
        );
    }
    for c in raw {
        match cx.channel(c.get_ref(), parts, &mut names, &mut used) {
            Some(channel) => {
                let id = channels.len();
                for r in std::iter::once(&channel.source).chain(&channel.destinations) {
                    parts[r.partition].config.ports[r.port].channel = id;
                }
                channels.push(channel);
            }
            None => all_ok = false,
        }
    }
    for (pi, p) in parts.iter().enumerate() {
        for (qi, (port, span)) in p.config.ports.iter().zip(&p.port_spans).enumerate() {
            if !used.contains_key(&PortRef {
                partition: pi,
                port: qi,
            }) {
                all_ok = false;
                cx.error(
                    Rule::PortWithoutChannel,
                    span.clone(),
                    format!(
                        "{} port {:?} of partition {:?} is not connected by any channel",
                        port.kind.name(),
                        port.name,
                        p.config.name
                    ),
                    format!(
                        "add a [[channel]] with {} = \"{}.{}\", or remove the port",
                        if port.direction == Direction::Source {
                            "source"
                        } else {
                            "destinations"
                        },
                        p.config.name,
                        port.name
                    ),
                );
            }
        }
    }
    if !all_ok {
        return (Vec::new(), None);
    }

    let shared_range = cx.shared_memory(shared, &mut channels, parts, module_span);
    if shared_range.is_some() {
        for (p, rp) in parts.iter_mut().zip(raw_parts) {
            cx.port_window(p, rp.get_ref(), &channels);
        }
    }
    (channels, shared_range)
}

impl Checker<'_> {
    fn channel(
        &mut self,
        c: &RawChannel,
        parts: &[CheckedPartition],
        names: &mut BTreeMap<String, usize>,
        used: &mut BTreeMap<PortRef, (String, usize)>,
    ) -> Option<Channel> {
        let name = c.name.get_ref();
        if !is_valid_name(name, MAX_NAME_LEN) {
            self.error(
                Rule::InvalidChannelName,
                c.name.span(),
                format!("channel name {name:?} is not valid"),
                name_help(MAX_NAME_LEN),
            );
        } else if let Some(line) = names.get(name) {
            self.error(
                Rule::InvalidChannelName,
                c.name.span(),
                format!("channel name {name:?} is already used on line {line}"),
                "give every channel a different name".to_owned(),
            );
        } else {
            names.insert(name.clone(), self.line(&c.name));
        }
        let line = self.line(&c.name);
        let mut ok = true;

        let source = self.port_ref(&c.source, parts, Direction::Source);
        let src = source.map(|r| &parts[r.partition].config.ports[r.port]);
        let dests = c.destinations.get_ref();
        if dests.is_empty() {
            self.error(
                Rule::ChannelDestinations,
                c.destinations.span(),
                format!("channel {name:?} has no destination"),
                "list at least one \"partition.port\" in `destinations`".to_owned(),
            );
            ok = false;
        }
        if let Some(src) = src {
            let queuing = matches!(src.kind, PortKind::Queuing { .. });
            if queuing && dests.len() > 1 {
                self.error(
                    Rule::ChannelDestinations,
                    c.destinations.span(),
                    format!("queuing channel {name:?} has {} destinations; a queuing channel has exactly one", dests.len()),
                    "use a sampling channel to reach several partitions, or one queuing channel per destination".to_owned(),
                );
                ok = false;
            } else if dests.len() > MAX_DESTINATIONS {
                self.error(
                    Rule::ChannelDestinations,
                    c.destinations.span(),
                    format!("channel {name:?} has {} destinations; at most {MAX_DESTINATIONS} are supported", dests.len()),
                    "split the destinations over several channels".to_owned(),
                );
                ok = false;
            }
        }
        let mut destinations: Vec<PortRef> = Vec::new();
        for d in dests {
            let Some(r) = self.port_ref(d, parts, Direction::Destination) else {
                ok = false;
                continue;
            };
            if destinations.contains(&r) {
                self.error(
                    Rule::ChannelDestinations,
                    d.span(),
                    format!("channel {name:?} lists destination {:?} twice", d.get_ref()),
                    "list each destination port once".to_owned(),
                );
                ok = false;
                continue;
            }
            let dst = &parts[r.partition].config.ports[r.port];
            if let Some(src) = src {
                if src.kind.name() != dst.kind.name() {
                    self.error(
                        Rule::ChannelKindMismatch,
                        d.span(),
                        format!(
                            "channel {name:?} joins {} port {:?} to {} port {:?}",
                            src.kind.name(),
                            c.source.get_ref(),
                            dst.kind.name(),
                            d.get_ref()
                        ),
                        "connect sampling ports to sampling ports and queuing ports to queuing ports".to_owned(),
                    );
                    ok = false;
                } else if dst.max_message_size < src.max_message_size {
                    self.error(
                        Rule::ChannelSizeMismatch,
                        d.span(),
                        format!(
                            "destination {:?} takes messages of at most {}, but source {:?} sends up to {}",
                            d.get_ref(),
                            crate::diag::count(dst.max_message_size, "byte", "bytes"),
                            c.source.get_ref(),
                            src.max_message_size
                        ),
                        format!("raise the destination's max_message_size to at least {}", src.max_message_size),
                    );
                    ok = false;
                } else if let (
                    PortKind::Queuing {
                        max_messages: dst_depth,
                        ..
                    },
                    PortKind::Queuing {
                        max_messages: src_depth,
                        ..
                    },
                ) = (dst.kind, src.kind)
                    && dst_depth != src_depth
                {
                    self.error(
                        Rule::ChannelSizeMismatch,
                        d.span(),
                        format!(
                            "destination {:?} holds {dst_depth} messages, but source {:?} holds {src_depth}",
                            d.get_ref(),
                            c.source.get_ref(),
                        ),
                        "give both ends of a queuing channel the same max_messages: the channel has one queue".to_owned(),
                    );
                    ok = false;
                }
            }
            destinations.push(r);
        }

        for (r, text) in source
            .iter()
            .map(|r| (*r, &c.source))
            .chain(destinations.iter().zip(dests.iter()).map(|(r, d)| (*r, d)))
        {
            if let Some((other, other_line)) = used.get(&r) {
                self.error(
                    Rule::PortInTwoChannels,
                    text.span(),
                    format!("port {:?} is already connected by channel {other:?} (line {other_line})", text.get_ref()),
                    "connect each port to one channel; a sampling channel may have several destinations".to_owned(),
                );
                ok = false;
            } else {
                used.insert(r, (name.clone(), line));
            }
        }

        let (Some(source), Some(src), true) = (source, src, ok) else {
            return None;
        };
        Some(Channel {
            name: name.clone(),
            kind: src.kind.name(),
            source,
            destinations,
            max_message_size: src.max_message_size,
            // Placed in shared memory once every channel is known.
            data: PhysRange::new(0, 0),
            ack: None,
        })
    }

    /// Resolves `"partition.port"` and checks the port's direction.
    fn port_ref(
        &mut self,
        text: &Spanned<String>,
        parts: &[CheckedPartition],
        want: Direction,
    ) -> Option<PortRef> {
        let t = text.get_ref();
        let role = want.as_str();
        let Some((pname, port)) = t.split_once('.') else {
            self.error(
                Rule::ChannelUnknownPort,
                text.span(),
                format!("channel {role} {t:?} is not of the form \"partition.port\""),
                "name the port with its partition, e.g. \"ctrl.speed_out\"".to_owned(),
            );
            return None;
        };
        let Some(pid) = parts.iter().position(|p| p.config.name == pname) else {
            let known: Vec<_> = parts.iter().map(|p| p.config.name.as_str()).collect();
            self.error(
                Rule::ChannelUnknownPort,
                text.span(),
                format!("channel {role} {t:?} names partition {pname:?}, which the configuration does not have"),
                format!("use one of the partitions: {}", known.join(", ")),
            );
            return None;
        };
        let ports = &parts[pid].config.ports;
        let Some(index) = ports.iter().position(|p| p.name == port) else {
            let known: std::collections::BTreeSet<_> =
                ports.iter().map(|p| p.name.as_str()).collect();
            let known: Vec<_> = known.into_iter().collect();
            self.error(
                Rule::ChannelUnknownPort,
                text.span(),
                format!("partition {pname:?} has no port {port:?}"),
                if known.is_empty() {
                    format!("declare it in partition {pname:?} with [[partition.sampling_port]] or [[partition.queuing_port]]")
                } else {
                    format!("use one of its ports: {}, or declare {port:?}", known.join(", "))
                },
            );
            return None;
        };
        let direction = ports[index].direction;
        if direction != want {
            self.error(
                Rule::ChannelDirection,
                text.span(),
                format!(
                    "port {t:?} is a {} port, so it cannot be a channel's {role}",
                    direction.as_str()
                ),
                format!("use a port declared with direction = \"{role}\" here"),
            );
            return None;
        }
        Some(PortRef {
            partition: pid,
            port: index,
        })
    }

    /// Checks `[module] shared_memory` and places every channel's buffers in it, in file order.
    fn shared_memory(
        &mut self,
        shared: Option<&Spanned<RawPhysRange>>,
        channels: &mut [Channel],
        parts: &[CheckedPartition],
        module_span: Range<usize>,
    ) -> Option<PhysRange> {
        let Some(shared) = shared else {
            if !channels.is_empty() {
                self.error(
                    Rule::InvalidSharedMemory,
                    module_span,
                    format!("the module has {} but no shared memory for their buffers", crate::diag::count(channels.len(), "channel", "channels")),
                    "add `shared_memory = { phys = ..., size = ... }` to [module]: physical RAM outside every partition".to_owned(),
                );
            }
            return None;
        };
        let board = self.board?;
        let (phys, size) = (
            *shared.get_ref().phys.get_ref(),
            *shared.get_ref().size.get_ref(),
        );
        let span = shared.span();
        let bad = |cx: &mut Self, why: String, help: String| {
            cx.error(
                Rule::InvalidSharedMemory,
                span.clone(),
                format!(
                    "shared memory {}+{}: {why}",
                    hex(phys, true),
                    hex(size, false)
                ),
                help,
            );
        };
        if size == 0 || (phys | size) % PAGE_SIZE != 0 {
            bad(
                self,
                "it is empty or not 4 KiB aligned".to_owned(),
                "use a page-aligned `phys` and a non-zero multiple of 0x1000 as `size`".to_owned(),
            );
            return None;
        }
        if !board.ram.contains_range(phys, size) {
            bad(
                self,
                format!("it is not inside the RAM of board {:?}", board.name),
                format!(
                    "place it inside {}..{}",
                    hex(board.ram.base, true),
                    hex(board.ram.end(), true)
                ),
            );
            return None;
        }
        let range = PhysRange::new(phys, size);
        if range.overlaps(&board.kernel_reserved) {
            bad(
                self,
                "it overlaps the RAM reserved for the kernel".to_owned(),
                format!(
                    "place it outside {}..{}",
                    hex(board.kernel_reserved.base, true),
                    hex(board.kernel_reserved.end(), true)
                ),
            );
            return None;
        }
        for p in parts {
            if let Some(r) = p
                .config
                .memory
                .iter()
                .find(|r| PhysRange::new(r.phys, r.size).overlaps(&range))
            {
                bad(
                    self,
                    format!(
                        "it overlaps region {:?} of partition {:?}",
                        r.name, p.config.name
                    ),
                    "give shared memory its own physical RAM".to_owned(),
                );
                return None;
            }
        }
        let mut offset = 0u64;
        for c in channels.iter_mut() {
            let src = &parts[c.source.partition].config.ports[c.source.port];
            let (data, ack) = match src.kind {
                PortKind::Sampling { .. } => (sampling_region_size(c.max_message_size), 0),
                PortKind::Queuing { max_messages, .. } => (
                    queuing_data_size(c.max_message_size, max_messages),
                    QUEUING_ACK_SIZE,
                ),
            };
            c.data = PhysRange::new(phys.saturating_add(offset), data);
            offset = offset.saturating_add(data);
            if ack > 0 {
                c.ack = Some(PhysRange::new(phys.saturating_add(offset), ack));
                offset = offset.saturating_add(ack);
            }
        }
        if offset > size {
            bad(
                self,
                format!("the channels' buffers need {} bytes", hex(offset, false)),
                format!("raise `size` to at least {}", hex(offset, false)),
            );
            return None;
        }
        Some(range)
    }

    /// Maps every port's buffers one after another from `ports_ipa` and checks the window.
    fn port_window(&mut self, p: &mut CheckedPartition, raw: &RawPartition, channels: &[Channel]) {
        if p.config.ports.is_empty() {
            return;
        }
        let name = p.config.name.clone();
        let Some(base) = &raw.ports_ipa else {
            self.error(
                Rule::InvalidPortsIpa,
                raw.name.span(),
                format!("partition {name:?} has ports but no `ports_ipa`"),
                "add `ports_ipa = <address>`: the guest-physical address its port buffers are mapped from, clear of its regions and devices".to_owned(),
            );
            return;
        };
        let start = *base.get_ref();
        if start % PAGE_SIZE != 0 {
            self.error(
                Rule::InvalidPortsIpa,
                base.span(),
                format!(
                    "ports_ipa {} of partition {name:?} is not a multiple of 4 KiB",
                    hex(start, true)
                ),
                format!(
                    "use a multiple of 0x1000, e.g. {}",
                    hex(start & !(PAGE_SIZE - 1), true)
                ),
            );
            return;
        }
        let mut ipa = start;
        for port in &mut p.config.ports {
            let c = &channels[port.channel];
            let source = port.direction == Direction::Source;
            let mut buffers = vec![(ChannelBuffer::Data, c.data, source)];
            if let Some(ack) = c.ack {
                buffers.push((ChannelBuffer::Ack, ack, !source));
            }
            for (buffer, range, writable) in buffers {
                port.mappings.push(PortMapping {
                    buffer,
                    ipa,
                    phys: range.base,
                    size: range.size,
                    writable,
                });
                ipa = ipa.saturating_add(range.size);
            }
        }
        let window = PhysRange::new(start, ipa - start);
        if window.end() > IPA_LIMIT {
            self.error(
                Rule::InvalidPortsIpa,
                base.span(),
                format!("the port window of partition {name:?} ({}..{}) ends beyond the 39-bit stage-2 input range", hex(start, true), hex(window.end(), true)),
                format!("keep ports_ipa + {} at or below {}", hex(window.size, false), hex(IPA_LIMIT, true)),
            );
            return;
        }
        if !self.clear_of_info_page(
            base.span(),
            &format!("the port window of partition {name:?}"),
            (start, window.end()),
            &format!("ports_ipa + {}", hex(window.size, false)),
        ) {
            return;
        }
        let clash = p
            .config
            .memory
            .iter()
            .map(|r| {
                (
                    format!("region {:?}", r.name),
                    PhysRange::new(r.ipa, r.size),
                )
            })
            .chain(
                p.config
                    .devices
                    .iter()
                    .map(|d| (format!("device {:?}", d.name), d.mmio)),
            )
            .find(|(_, r)| r.overlaps(&window));
        if let Some((what, r)) = clash {
            self.error(
                Rule::InvalidPortsIpa,
                base.span(),
                format!(
                    "the port window of partition {name:?} ({}..{}) overlaps its {what} ({}..{})",
                    hex(start, true),
                    hex(window.end(), true),
                    hex(r.base, true),
                    hex(r.end(), true)
                ),
                "move ports_ipa to guest-physical addresses the partition does not use".to_owned(),
            );
        }
    }
}

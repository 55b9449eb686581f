//! An a653rs partition for pkernel. The partition logic is a653rs only; pkernel appears as
//! the hypervisor type given to `#[partition]` and in the `entry!` line that links the
//! runtime (docs/writing-partitions.md).
#![no_std]
#![no_main]

use a653rs::prelude::PartitionExt;

// The runtime calls `main` in COLD_START (or WARM_START) mode.
a653rs_pkernel::entry!(main);

fn main() -> ! {
    // Runs the cold or warm start function, then SET_PARTITION_MODE(NORMAL), which hands the
    // partition over to the process started during the start function. Never returns.
    my_partition::Partition.run()
}

#[a653rs::partition(a653rs_pkernel::PkernelHypervisor)]
mod my_partition {
    use log::info;

    // A port is declared here and in the system configuration, under the same local name,
    // size (and depth, discipline, refresh period): e.g.
    //
    //     #[sampling_out(name = "status", msg_size = "16B")]
    //     struct Status;
    //
    // created in the start function with `ctx.create_status().unwrap();`, used by the
    // process as `ctx.status.unwrap().send(b"ok")`. See examples/a653rs-pair.

    #[start(cold)]
    fn cold_start(mut ctx: start::Context) {
        let status = ctx.get_partition_status();
        info!(
            "{:?}: partition {}, period {:?}",
            status.operating_mode, status.identifier, status.period
        );
        // ARINC 653 Part 4: the initialisation process (this function) and one more.
        ctx.create_worker().unwrap().start().unwrap();
    }

    #[start(warm)]
    fn warm_start(ctx: start::Context) {
        cold_start(ctx);
    }

    // Periodic: a multiple of the partition's period on a time-partitioned core (any period
    // on dedicated cores). The stack must fit the partition's 64 KiB.
    #[periodic(
        period = "500ms",
        time_capacity = "Infinite",
        stack_size = "16KB",
        base_priority = 1,
        deadline = "Soft"
    )]
    fn worker(ctx: worker::Context) {
        ctx.report_application_message(b"worker started").unwrap();
        let mut n: u64 = 0;
        loop {
            n += 1;
            info!("tick {n} at {:?}", ctx.get_time());
            ctx.periodic_wait().unwrap();
        }
    }
}

//! `ports`: the command (see the library, `pkernel_ports`, and `ports help`). Parses the
//! command line, runs it on the Linux platform, prints the error if any and exits with its
//! status. Only a Linux partition of pkernel on AArch64 has the platform; elsewhere the
//! command says so.
#![deny(unsafe_op_in_unsafe_fn)]

#[cfg(all(target_os = "linux", target_arch = "aarch64"))]
mod doorbell_line;
#[cfg(all(target_os = "linux", target_arch = "aarch64"))]
mod linux;

use pkernel_ports::{Command, EXIT_OK, Error};

fn main() {
    let args: Vec<Vec<u8>> = std::env::args_os()
        .skip(1)
        .map(|arg| arg.into_encoded_bytes())
        .collect();
    let code = match pkernel_ports::parse(&args).and_then(|command| execute(&command)) {
        Ok(()) => EXIT_OK,
        Err(error) => {
            eprintln!("ports: {error}");
            error.exit_code()
        }
    };
    std::process::exit(code);
}

#[cfg(all(target_os = "linux", target_arch = "aarch64"))]
fn execute(command: &Command) -> Result<(), Error> {
    let mut platform = linux::Linux::default();
    pkernel_ports::run(
        command,
        &mut platform,
        &mut std::io::stdout().lock(),
        &mut std::io::stderr().lock(),
    )
}

#[cfg(not(all(target_os = "linux", target_arch = "aarch64")))]
fn execute(command: &Command) -> Result<(), Error> {
    if *command == Command::Help {
        println!("{}", pkernel_ports::cli::USAGE.trim_end());
        return Ok(());
    }
    Err(Error::NoInfoPage(format!(
        "this build is for {}-{}, the tool maps memory only on aarch64 Linux",
        std::env::consts::ARCH,
        std::env::consts::OS
    )))
}

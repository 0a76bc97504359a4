//! The man page and the shell completion scripts, generated from the argument definitions so that
//! they never drift from `--help`.

use clap::ValueEnum;
use clap_complete::Shell;

/// What `--generate` prints.
#[derive(Clone, Copy, Debug, ValueEnum)]
pub(crate) enum Generate {
    /// The man page, in roff: `etagsum --generate man | man -l -`.
    Man,
    /// Completions for bash.
    CompleteBash,
    /// Completions for zsh.
    CompleteZsh,
    /// Completions for fish.
    CompleteFish,
    /// Completions for PowerShell.
    CompletePowershell,
    /// Completions for elvish.
    CompleteElvish,
}

/// The text `--generate` prints for `cmd`.
pub(crate) fn generate(what: Generate, mut cmd: clap::Command) -> std::io::Result<Vec<u8>> {
    let mut out = Vec::new();
    let shell = match what {
        Generate::Man => {
            clap_mangen::Man::new(cmd).render(&mut out)?;
            return Ok(out);
        }
        Generate::CompleteBash => Shell::Bash,
        Generate::CompleteZsh => Shell::Zsh,
        Generate::CompleteFish => Shell::Fish,
        Generate::CompletePowershell => Shell::PowerShell,
        Generate::CompleteElvish => Shell::Elvish,
    };
    let name = cmd.get_name().to_string();
    clap_complete::generate(shell, &mut cmd, name, &mut out);
    Ok(out)
}

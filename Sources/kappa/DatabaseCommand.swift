import ArgumentParser

/// `kappa db …`: the PostgreSQL side.
struct DatabaseCommand: AsyncParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "db",
        abstract: "Check and manage the PostgreSQL database.",
        subcommands: []
    )
}
